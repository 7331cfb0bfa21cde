//! What the three upload tools share: the core's upload engine told what
//! to say (progress, retries, one line per sequence, the summary), and the
//! run's status from its report.

use std::path::Path;

use mapillary_core::api::graph::User;
use mapillary_core::auth::UserToken;
use mapillary_core::upload::{
    Observer, Outcome, PlannedImage, Progress, Report, SequencePlan, SequenceReport, UploadOptions,
    group_by_sequence,
};

use crate::network::Connection;
use crate::report::{Reporter, Unit, plural};
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
    fn signed_in(&self, token: &UserToken, user: &User) {
        self.reporter.explain(format_args!(
            "signed in as {} (user {}) with the token from {}",
            user.username, user.id, token.source
        ));
    }

    fn history(&self, path: &Path) {
        self.reporter
            .explain(format_args!("upload history {}", path.display()));
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

    /// Its refused photos, then one line.
    fn sequence_done(&self, sequence: &SequenceReport) {
        for (path, why) in &sequence.rejected {
            self.reporter.problem(path, why);
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
        graph: &connection.graph,
        credentials: &connection.credentials,
        jobs: settings.jobs,
        dry_run: settings.dry_run,
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

/// Moves `file` into `folder` (created when missing), never over an
/// existing file; reports a file that could not be moved.
pub fn move_into(reporter: &Reporter, file: &Path, folder: &Path) -> bool {
    let Some(name) = file.file_name() else {
        return false;
    };
    match mapillary_core::files::move_no_clobber(file, &folder.join(name)) {
        Ok(()) => true,
        Err(e) => {
            reporter.problem(file, format_args!("not moved to {}: {e}", folder.display()));
            false
        }
    }
}
