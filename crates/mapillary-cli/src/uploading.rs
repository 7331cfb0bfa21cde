//! What the three upload tools share: reading the photos' descriptions,
//! preparing and uploading sequences with a progress bar, and reporting
//! each sequence with its cluster id.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mapillary_core::api::upload::{UploadService, max_retries};
use mapillary_core::upload::history::History;
use mapillary_core::upload::{
    Outcome, PlannedImage, PreparedSequence, SequencePlan, Uploader, group_by_sequence, prepare,
};

use crate::network::{Connection, sign_in};
use crate::report::{Reporter, Unit, plural, shown};
use crate::{Failure, Status, interrupt_flag};

/// How to run an upload.
pub struct UploadSettings<'a> {
    /// Everything but the network.
    pub dry_run: bool,
    /// Uploads at a time.
    pub jobs: usize,
    /// Asked before each sequence is finished.
    pub confirm: &'a dyn Fn(&PreparedSequence) -> bool,
}

impl std::fmt::Debug for UploadSettings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSettings")
            .field("dry_run", &self.dry_run)
            .field("jobs", &self.jobs)
            .finish_non_exhaustive()
    }
}

/// What happened to one sequence.
#[derive(Debug)]
pub struct SequenceResult {
    /// Its name (MAPSequenceUUID or folder).
    pub name: String,
    /// Its photos.
    pub photos: Vec<PathBuf>,
    /// What happened.
    pub outcome: Outcome,
    /// Photos refused for good, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Prepares and uploads `plans`; reports one line per sequence and the
/// summary. The caller moves files afterwards if it wants to.
pub fn upload_sequences(
    reporter: &Reporter,
    connection: &Connection,
    plans: Vec<SequencePlan>,
    settings: &UploadSettings<'_>,
) -> Result<(Vec<SequenceResult>, Status), Failure> {
    let stop = interrupt_flag();
    let max_retries = max_retries(connection.credentials.env()).map_err(Failure::Usage)?;
    // Sign in and open the history before the long hashing pass, so that
    // a wrong password is reported at once.
    let signed_in = if settings.dry_run {
        None
    } else {
        Some(sign_in(connection, reporter)?)
    };
    let history_path = History::default_path(connection.credentials.env());
    let history = History::open(&history_path).map_err(Failure::fatal)?;
    reporter.explain(format_args!("upload history {}", shown(&history_path)));

    // A dry run hashes every photo with its upload description first (no
    // network); a real run hashes each photo just before sending it.
    let mut prepared = Vec::with_capacity(plans.len());
    if settings.dry_run {
        let photos: usize = plans.iter().map(|p| p.images.len()).sum();
        reporter.explain(format_args!(
            "preparing {}",
            plural(photos, "photo", "photos")
        ));
        reporter.start_progress(plans.len() as u64, Unit::Items);
        for plan in &plans {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            prepared.push(prepare(plan, settings.jobs, stop));
            reporter.advance(1);
        }
        reporter.finish_progress();
    }

    let endpoints = connection.graph.endpoints().clone();
    let (token, user_id) = match &signed_in {
        Some((t, u)) => (t.token.clone(), u.id.clone()),
        None => {
            let stored = connection.credentials.stored_token().ok().flatten();
            let id = stored
                .as_ref()
                .and_then(|t| t.user_id.clone())
                .unwrap_or_default();
            (
                stored
                    .map(|t| t.token)
                    .unwrap_or_else(|| mapillary_core::auth::Secret::new("")),
                id,
            )
        }
    };
    let service = UploadService::new(&endpoints.upload, token.clone())
        .with_max_retries(max_retries)
        .with_stop(stop);
    let r = reporter.clone();
    let notify = move |m: &str| r.warn(m);
    let uploader = Uploader {
        graph: &connection.graph,
        service: &service,
        token: &token,
        history: &history,
        account: format!("{} {user_id}", endpoints.upload),
        jobs: settings.jobs,
        sent: Default::default(),
        cached: Default::default(),
        stop,
        notify: &notify,
    };

    let mut results = Vec::with_capacity(plans.len());
    if settings.dry_run {
        for (plan, sequence) in plans.iter().zip(&prepared) {
            let rejected = sequence.rejected.clone();
            let outcome = match uploader.already_finished(sequence) {
                Some(done) => Outcome::AlreadyFinished {
                    cluster_id: done.cluster_id,
                },
                None if !rejected.is_empty() => Outcome::Failed {
                    reason: format!("{} of its photos cannot be uploaded", rejected.len()),
                },
                None => Outcome::WouldUpload {
                    bytes: uploader.bytes_to_send(sequence),
                },
            };
            results.push(sequence_result(reporter, plan, outcome, rejected));
        }
    } else {
        // The progress counts the photos' bytes, sent now or found uploaded.
        let total: u64 = plans
            .iter()
            .flat_map(|p| &p.images)
            .filter_map(|i| std::fs::metadata(&i.path).ok())
            .map(|m| m.len())
            .sum();
        let done = AtomicBool::new(false);
        std::thread::scope(|scope| {
            if total > 0 {
                reporter.start_progress(total, Unit::Bytes);
                // Where no thread can be started the bar moves less often;
                // the upload goes on.
                let _ = std::thread::Builder::new().spawn_scoped(scope, || {
                    while !done.load(Ordering::SeqCst) {
                        reporter.set_progress(
                            uploader.sent.load(Ordering::Relaxed)
                                + uploader.cached.load(Ordering::Relaxed),
                        );
                        std::thread::sleep(Duration::from_millis(150));
                    }
                });
            }
            for plan in &plans {
                let mut rejected = Vec::new();
                let outcome = if stop.load(Ordering::SeqCst) {
                    Outcome::Failed {
                        reason: "interrupted".to_string(),
                    }
                } else {
                    uploader.upload_plan(plan, &mut rejected, settings.confirm)
                };
                results.push(sequence_result(reporter, plan, outcome, rejected));
            }
            done.store(true, Ordering::SeqCst);
        });
    }
    reporter.finish_progress();
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|r| f(&r.outcome)).count();
    let uploaded = count(|o| matches!(o, Outcome::Finished { .. } | Outcome::WouldUpload { .. }));
    let skipped = count(|o| matches!(o, Outcome::AlreadyFinished { .. }));
    let unfinished = count(|o| matches!(o, Outcome::NotFinalized));
    let failed = count(|o| matches!(o, Outcome::Failed { .. }));
    let verb = if settings.dry_run {
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
    if !settings.dry_run {
        summary.push_str(&format!(
            "; {} sent",
            megabytes(uploader.sent.load(Ordering::Relaxed))
        ));
    }
    reporter.summary(summary);
    let status = if stop.load(Ordering::SeqCst) {
        Status::Interrupted
    } else if failed > 0 || unfinished > 0 || results.iter().any(|r| !r.rejected.is_empty()) {
        Status::Incomplete
    } else {
        Status::Done
    };
    Ok((results, status))
}

/// Reports what happened to a sequence (its refused photos, then one line)
/// and returns it as a result.
fn sequence_result(
    reporter: &Reporter,
    plan: &SequencePlan,
    outcome: Outcome,
    rejected: Vec<(PathBuf, String)>,
) -> SequenceResult {
    for (path, why) in &rejected {
        reporter.problem(path, why);
    }
    let name = &plan.name;
    let photos = plural(plan.images.len(), "photo", "photos");
    let line = match &outcome {
        Outcome::Finished { cluster_id } => Some(format!(
            "sequence {name}: {photos} uploaded, cluster {cluster_id}"
        )),
        Outcome::AlreadyFinished { cluster_id } => Some(format!(
            "sequence {name}: already uploaded (cluster {cluster_id}); nothing sent"
        )),
        Outcome::WouldUpload { bytes } => Some(format!(
            "sequence {name}: would upload {photos}, {}",
            megabytes(*bytes)
        )),
        Outcome::NotFinalized => Some(format!(
            "sequence {name}: {photos} uploaded but not finalized; run again to finalize (nothing will be sent twice)"
        )),
        Outcome::Failed { reason } => {
            reporter.error(format_args!(
                "sequence {name}: not finished: {reason}; run again to resume"
            ));
            None
        }
    };
    if let Some(line) = line {
        reporter.line(line);
    }
    SequenceResult {
        name: plan.name.clone(),
        photos: plan.images.iter().map(|i| i.path.clone()).collect(),
        outcome,
        rejected,
    }
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
            reporter.problem(file, format_args!("not moved to {}: {e}", shown(folder)));
            false
        }
    }
}
