//! What the three upload tools share: the core's upload engine told what
//! to say (progress, retries, one line per sequence, the summary), and the
//! run's status from its report.

use std::path::{Path, PathBuf};

use mapillary_core::api::graph::User;
use mapillary_core::api::upload::max_retries;
use mapillary_core::auth::UserToken;
use mapillary_core::sequence::rules::{Finding, Rules};
use mapillary_core::upload::{
    Observer, Outcome, PlannedImage, Progress, Report, SequencePlan, SequenceReport, UploadOptions,
    group_by_sequence,
};

use crate::network::Connection;
use crate::report::{Reporter, Unit, plural, shown};
use crate::sequences::report_findings;
use crate::{Failure, Status, interrupt_flag};

/// Asked before a sequence is finished: its name and number of photos.
pub type Confirm<'a> = &'a (dyn Fn(&str, usize) -> bool + Sync);

/// How to run an upload.
pub struct UploadSettings<'a> {
    /// Everything but the network.
    pub dry_run: bool,
    /// Uploads at a time.
    pub jobs: usize,
    /// Asked before each sequence is finished.
    pub confirm: Confirm<'a>,
    /// The sequence rules the engine checks every sequence against again.
    pub rules: Rules,
}

impl std::fmt::Debug for UploadSettings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSettings")
            .field("dry_run", &self.dry_run)
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The engine's news as lines and a progress bar.
struct Lines<'a> {
    reporter: &'a Reporter,
    confirm: Confirm<'a>,
}

impl Observer for Lines<'_> {
    fn checked(&self, findings: &[Finding]) {
        report_findings(
            self.reporter,
            findings,
            "not uploaded, left where they are",
            "sequence uploaded in parts; the next part starts at",
        );
    }

    fn signed_in(&self, token: &UserToken, user: &User) {
        self.reporter.explain(format_args!(
            "signed in as {} (user {}) with the token from {}",
            user.username, user.id, token.source
        ));
    }

    fn history(&self, path: &Path) {
        self.reporter
            .explain(format_args!("upload history {}", shown(path)));
    }

    fn notice(&self, message: &str) {
        self.reporter.warn(message);
    }

    fn progress_start(&self, total: u64, unit: Progress) {
        let unit = match unit {
            Progress::Sequences => Unit::Items,
            Progress::Bytes => Unit::Bytes,
        };
        self.reporter.start_progress(total, unit);
    }

    fn progress(&self, done: u64) {
        self.reporter.set_progress(done);
    }

    fn progress_end(&self) {
        self.reporter.finish_progress();
    }

    fn confirm(&self, name: &str, photos: usize) -> bool {
        (self.confirm)(name, photos)
    }

    /// Its photos with trouble of their own, then one line.
    fn sequence_done(&self, sequence: &SequenceReport) {
        for (path, why) in &sequence.rejected {
            self.reporter.problem(path, why);
        }
        for (path, why) in &sequence.retry {
            self.reporter
                .problem(path, format_args!("{why}; run again to retry"));
        }
        let name = &sequence.name;
        let photos = plural(sequence.photos.len(), "photo", "photos");
        let line = match &sequence.outcome {
            Outcome::Finished { cluster_id } => {
                format!("sequence {name}: {photos} uploaded, cluster {cluster_id}")
            }
            Outcome::AlreadyFinished { cluster_id } => {
                format!("sequence {name}: already uploaded (cluster {cluster_id}); nothing sent")
            }
            Outcome::WouldUpload { bytes } => {
                format!(
                    "sequence {name}: would upload {photos}, {}",
                    megabytes(*bytes)
                )
            }
            Outcome::NotFinalized => format!(
                "sequence {name}: {photos} uploaded but not finalized; run again to finalize (nothing will be sent twice)"
            ),
            Outcome::Failed { reason } => {
                self.reporter.error(format_args!(
                    "sequence {name}: not finished: {reason}; run again to resume"
                ));
                return;
            }
        };
        self.reporter.line(line);
    }
}

/// Uploads `plans` with the core's engine, one line per sequence as it
/// ends, then the summary. Returns the engine's report (the caller moves
/// files if it wants to) and the run's status.
pub fn upload_sequences(
    reporter: &Reporter,
    connection: &Connection,
    plans: Vec<SequencePlan>,
    settings: &UploadSettings<'_>,
) -> Result<(Report, Status), Failure> {
    if settings.dry_run {
        let photos: usize = plans.iter().map(|p| p.images.len()).sum();
        reporter.explain(format_args!(
            "preparing {}",
            plural(photos, "photo", "photos")
        ));
    }
    let options = UploadOptions {
        max_retries: max_retries(connection.credentials.env()).map_err(Failure::Usage)?,
        graph: &connection.graph,
        credentials: &connection.credentials,
        jobs: settings.jobs,
        dry_run: settings.dry_run,
        rules: settings.rules,
        stop: interrupt_flag(),
    };
    let observer = Lines {
        reporter,
        confirm: settings.confirm,
    };
    let report = mapillary_core::upload::run(plans, &options, &observer).map_err(Failure::fatal)?;
    let uploaded =
        report.count(|o| matches!(o, Outcome::Finished { .. } | Outcome::WouldUpload { .. }));
    let skipped = report.count(|o| matches!(o, Outcome::AlreadyFinished { .. }));
    let unfinished = report.count(|o| matches!(o, Outcome::NotFinalized));
    let failed = report.count(|o| matches!(o, Outcome::Failed { .. }));
    let verb = if report.dry_run {
        "would be uploaded"
    } else {
        "uploaded"
    };
    let mut summary = format!(
        "{} {verb}, {skipped} skipped (already uploaded), {failed} failed",
        plural(uploaded, "sequence", "sequences")
    );
    if unfinished > 0 {
        summary.push_str(&format!(", {unfinished} not finalized"));
    }
    if !report.dry_run {
        summary.push_str(&format!("; {} sent", megabytes(report.sent_bytes)));
    }
    reporter.summary(summary);
    let status = if report.interrupted {
        Status::Interrupted
    } else if failed > 0
        || unfinished > 0
        || report.left_out() > 0
        || report.sequences.iter().any(|s| !s.rejected.is_empty())
    {
        Status::Incomplete
    } else {
        Status::Done
    };
    Ok((report, status))
}

/// Groups photos into sequences (see [`group_by_sequence`]); sequences that
/// cannot be uploaded are reported. Returns the plans and how many photos
/// were left out.
pub fn plan_sequences(
    reporter: &Reporter,
    images: Vec<PlannedImage>,
) -> (Vec<SequencePlan>, usize) {
    let mut plans = Vec::new();
    let mut left_out = 0;
    for grouped in group_by_sequence(images) {
        match grouped {
            Ok(plan) => plans.push(plan),
            Err((photos, why)) => {
                left_out += photos.len();
                reporter.error(why);
            }
        }
    }
    (plans, left_out)
}

/// Where upload moves photos: `success/` and `failed/` in the current
/// folder, each photo under its folder relative to the path the user gave,
/// so that photos of equal names in different folders never meet.
#[derive(Debug, Clone)]
pub struct Outboxes {
    given: PathBuf,
    given_is_file: bool,
    success: PathBuf,
    failed: PathBuf,
    /// The path given, and the two folders, resolved (when they exist).
    resolved: [Option<PathBuf>; 3],
    /// Whether the path given lies in one of the two folders (so that a
    /// photo may already be where it would be moved).
    given_in_outbox: bool,
}

/// One of the two folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    /// `success/`: the photo's sequence is on Mapillary.
    Success,
    /// `failed/`: the server refused the photo for good.
    Failed,
}

impl Outboxes {
    /// The folders under `cwd` for photos found at `given`.
    pub fn new(cwd: &Path, given: &Path) -> Outboxes {
        let (success, failed) = (cwd.join("success"), cwd.join("failed"));
        let resolve = |p: &Path| std::fs::canonicalize(p).ok();
        let resolved = [resolve(given), resolve(&success), resolve(&failed)];
        let given_in_outbox = match &resolved {
            [Some(g), success, failed] => [success, failed]
                .into_iter()
                .flatten()
                .any(|outbox| g.starts_with(outbox)),
            _ => false,
        };
        Outboxes {
            given_is_file: std::fs::metadata(given).is_ok_and(|m| m.is_file()),
            resolved,
            given_in_outbox,
            given: given.to_path_buf(),
            success,
            failed,
        }
    }

    /// Whether `photo` lies in `success/` or `failed/` found inside the path
    /// given: such photos are not uploaded again. A folder the user names
    /// (`upload failed`, or a folder inside it) is uploaded.
    pub fn skips(&self, photo: &Path) -> bool {
        let [given, success, failed] = &self.resolved;
        if success.is_none() && failed.is_none() {
            return false;
        }
        let Ok(photo) = std::fs::canonicalize(photo) else {
            return false;
        };
        [success, failed].into_iter().flatten().any(|outbox| {
            photo.starts_with(outbox) && !given.as_ref().is_some_and(|g| g.starts_with(outbox))
        })
    }

    /// Where `photo` goes in `outbox`.
    pub fn destination(&self, photo: &Path, outbox: Outbox) -> PathBuf {
        let relative = if self.given_is_file {
            None
        } else {
            photo.strip_prefix(&self.given).ok()
        };
        let relative = relative
            .filter(|r| !r.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .or_else(|| photo.file_name().map(PathBuf::from))
            .unwrap_or_default();
        match outbox {
            Outbox::Success => self.success.join(relative),
            Outbox::Failed => self.failed.join(relative),
        }
    }

    /// Moves `photo` into `outbox` (folders created when missing), never
    /// over an existing file; a photo already there stays. Reports a photo
    /// that could not be moved and returns false.
    pub fn move_photo(&self, reporter: &Reporter, photo: &Path, outbox: Outbox) -> bool {
        let to = self.destination(photo, outbox);
        let same = |a: &Path, b: &Path| {
            std::fs::canonicalize(a).is_ok_and(|a| std::fs::canonicalize(b).is_ok_and(|b| a == b))
        };
        if self.given_in_outbox && same(photo, &to) {
            return true;
        }
        match mapillary_core::files::move_no_clobber(photo, &to) {
            Ok(()) => true,
            Err(e) => {
                reporter.problem(photo, format_args!("not moved to {}: {e}", shown(&to)));
                false
            }
        }
    }
}
