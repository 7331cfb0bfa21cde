//! What the three upload tools share: one flow (find the photos, sign in
//! and resolve the organization when one is named, read the photos, form
//! or group their sequences, upload them with the core's engine, move the
//! photos when the tool does, sum up), told by each tool only what differs
//! ([`Upload`]), and the engine's news put into words through the
//! [`Printer`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use mapillary_core::api::graph::{Organization, User, resolve_organization};
use mapillary_core::api::upload::max_retries;
use mapillary_core::auth::UserToken;
use mapillary_core::exif::{PhotoExif, Skipped};
use mapillary_core::files::MoveError;
use mapillary_core::reason::{Plain, Reason};
use mapillary_core::sequence::frame::PhotoFacts;
use mapillary_core::sequence::new_sequence_uuid;
use mapillary_core::sequence::rules::{Finding, Forming, Rules};
use mapillary_core::shown::{escaped, shown};
use mapillary_core::upload::{
    Fate, Observer, Outcome, PlannedImage, Progress as Counted, Report, SequencePlan,
    SequenceReport, UploadOptions, form_sequences, group_by_sequence,
};
use serde_json::{Value, json};

use crate::connection::{Connection, connect, sign_in};
use crate::failure::Failure;
use crate::flags::Shared;
use crate::printer::{Printer, Progress, Unit, plural};
use crate::sequences::{FormingArgs, report_findings, rules};
use crate::work::{Tally, find_photos, read_photos_and_facts};
use crate::{Status, interrupt_flag};

/// Where a tool's sequences come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequences {
    /// From the photos' descriptions: their MAPSequenceUUID.
    Described,
    /// Formed here by the sequence rules (folder and camera, gaps,
    /// limits), each with a new UUID.
    Formed,
}

/// Whether each sequence is finalized without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finalize {
    /// Finalize every sequence once its photos are uploaded.
    Always,
    /// Ask on the terminal first (`N photos of sequence X uploaded.
    /// Finalize upload? [y/n]`, three tries; no answer is no).
    Ask,
}

/// How a photo becomes an image to upload, or why it is skipped.
pub type PlanImage<'a> =
    &'a (dyn Fn(&Path, PhotoExif, PhotoFacts) -> Result<PlannedImage, Skipped> + Sync);

/// What an upload tool asks of the shared flow.
pub struct Upload<'a> {
    /// The path given: a photo, or a folder searched for them.
    pub path: &'a Path,
    /// Photos read, and uploads, at a time.
    pub jobs: usize,
    /// Everything but the network.
    pub dry_run: bool,
    /// The sequence rules (forming, and the engine's check).
    pub rules: Rules,
    /// How the photos are grouped into sequences.
    pub sequences: Sequences,
    /// An organization (2015: project) every sequence joins: its id, or
    /// the name or slug of one of the user's; resolved before the photos
    /// are read.
    pub organization: Option<&'a str>,
    /// Whether to ask before each sequence is finalized.
    pub finalize: Finalize,
    /// Where uploaded and refused photos are moved (`upload`); `None`:
    /// the photos stay where they are.
    pub outboxes: Option<Outboxes>,
    /// How a photo becomes an image to upload.
    pub plan: PlanImage<'a>,
}

impl fmt::Debug for Upload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("path", &self.path)
            .field("jobs", &self.jobs)
            .field("dry_run", &self.dry_run)
            .field("sequences", &self.sequences)
            .field("finalize", &self.finalize)
            .finish_non_exhaustive()
    }
}

impl<'a> Upload<'a> {
    /// The photos at `path` made into images by `plan`, with the shared
    /// flags' `--jobs` and `--dry-run`, grouped as `sequences` says; no
    /// organization, every sequence finalized, the photos left where they
    /// are (change those fields for more).
    pub fn new(
        shared: &Shared,
        path: &'a Path,
        sequences: Sequences,
        rules: Rules,
        plan: PlanImage<'a>,
    ) -> Upload<'a> {
        Upload {
            path,
            jobs: shared.jobs,
            dry_run: shared.dry_run,
            rules,
            sequences,
            organization: None,
            finalize: Finalize::Always,
            outboxes: None,
            plan,
        }
    }

    /// An upload of the sequences formed from the photos at `args.path`
    /// by the sequence rules with the tool's `--cutoff-*` flags (as
    /// [`Upload::new`] with [`Sequences::Formed`]).
    pub fn formed<T>(args: &'a FormingArgs<T>, plan: PlanImage<'a>) -> Result<Upload<'a>, Failure> {
        Ok(Upload::new(
            &args.shared,
            &args.path,
            Sequences::Formed,
            rules(args.cutoffs)?,
            plan,
        ))
    }
}

/// The question asked before a sequence is finalized, when there is no
/// terminal to ask it on.
const NO_TERMINAL: &str = "there is no terminal to ask 'Finalize upload? [y/n]' on: pass --yes (or set MAPILLARY_TOOLS_PROMPT_DISABLED=YES) to finalize without asking";

/// Whether `MAPILLARY_TOOLS_PROMPT_DISABLED` says not to ask (`YES`, in
/// any case, as the official client).
pub fn prompt_disabled() -> bool {
    std::env::var("MAPILLARY_TOOLS_PROMPT_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("yes"))
}

/// The whole run of an upload tool: find the photos, connect (and
/// resolve the organization), read them into images with `job.plan`, form
/// or group the sequences, upload them, move the photos (when the tool
/// does), and sum up. Returns the run's status.
pub fn upload(printer: &Printer, job: Upload<'_>) -> Result<Status, Failure> {
    let mut files = find_photos(job.path, printer)?;
    if let Some(outboxes) = &job.outboxes {
        files.retain(|f| !outboxes.skips(f));
    }
    if job.finalize == Finalize::Ask && !job.dry_run && !std::io::stdin().is_terminal() {
        return Err(Failure::fatal(NO_TERMINAL));
    }
    let connection = connect(printer);
    let organization = match job.organization {
        Some(name) => Some(organization(&connection, printer, name)?),
        None => None,
    };
    let plan = job.plan;
    let (images, read, status) =
        read_photos_and_facts(printer, &files, job.jobs, |file, exif, facts| {
            let mut image = plan(file, exif, facts)?;
            if let Some(org) = &organization {
                image.description.set_organization(&org.id)?;
            }
            Ok(image)
        });
    if status == Status::Interrupted {
        return Ok(status);
    }
    let (images, left_out) = match job.sequences {
        Sequences::Described => (images, 0),
        Sequences::Formed => {
            let formed = form_sequences(images, &job.rules, Forming::Cut);
            let left_out = report_findings(
                printer,
                &formed.findings,
                "not uploaded",
                "new sequence from",
            );
            let images = formed.named(|_| new_sequence_uuid());
            explain_folders(printer, &images);
            (images, left_out)
        }
    };
    let (plans, unusable) = plan_sequences(printer, images);
    let asking = job.finalize == Finalize::Ask;
    let confirm = |name: &str, photos: usize| !asking || ask_to_finalize(printer, name, photos);
    let (report, upload_status) = upload_sequences(printer, &connection, plans, &job, &confirm)?;

    // Uploaded photos go to success/, photos refused for good to failed/;
    // the rest stay where they are, for the next run.
    let mut tally = Tally {
        done: 0,
        skipped: read.skipped + left_out + unusable,
        failed: read.failed,
    };
    let (mut unmoved, mut pending) = (0, 0);
    for (photo, fate) in report.fates() {
        let (status, outbox) = match fate {
            Fate::Uploaded => ("uploaded", Outbox::Success),
            Fate::WouldUpload => ("would_upload", Outbox::Success),
            Fate::Rejected(_) => {
                tally.failed += 1;
                ("", Outbox::Failed)
            }
            Fate::Retry(_) => {
                pending += 1;
                continue;
            }
            Fate::LeftOut(_) => {
                tally.skipped += 1;
                continue;
            }
        };
        let moved = match &job.outboxes {
            Some(outboxes) if !report.dry_run => {
                let to = outboxes.move_photo(printer, photo, outbox);
                if to.is_none() {
                    unmoved += 1;
                }
                to
            }
            _ => None,
        };
        if status.is_empty() {
            continue;
        }
        tally.done += 1;
        let data = match &moved {
            Some(to) => json!({"to": shown(to).to_string()}),
            None => json!({}),
        };
        printer.done(photo, status, None, data);
    }
    summarise(printer, &report, &tally, pending);
    Ok(if upload_status == Status::Interrupted {
        Status::Interrupted
    } else if upload_status == Status::Done && read.all_done() && left_out + unusable + unmoved == 0
    {
        Status::Done
    } else {
        Status::Incomplete
    })
}

/// Signs in and finds the organization `name` names.
fn organization(
    connection: &Connection,
    printer: &Printer,
    name: &str,
) -> Result<Organization, Failure> {
    let (token, _) = sign_in(connection, printer)?;
    let org = resolve_organization(&connection.graph, &token.token, name)?;
    printer.explain(format_args!("organization {} ({})", org.name, org.id));
    Ok(org)
}

/// With `-v`: each folder's sequences, with their number of photos.
fn explain_folders(printer: &Printer, images: &[PlannedImage]) {
    if !printer.is_verbose() {
        return;
    }
    let mut folders: BTreeMap<(PathBuf, String), usize> = BTreeMap::new();
    for image in images {
        let folder = image.path.parent().map(PathBuf::from).unwrap_or_default();
        let sequence = image.description.sequence_uuid().unwrap_or_default();
        *folders.entry((folder, sequence.to_string())).or_default() += 1;
    }
    for ((folder, sequence), n) in folders {
        printer.explain(format_args!(
            "{}: sequence {sequence} ({})",
            shown(&folder),
            plural(n, "photo", "photos")
        ));
    }
}

/// Asks whether to finalize sequence `name`: three tries at a y/n answer;
/// the end of the input is no.
fn ask_to_finalize(printer: &Printer, name: &str, photos: usize) -> bool {
    let question = format!(
        "{} of sequence {} uploaded. Finalize upload? [y/n]",
        plural(photos, "photo", "photos"),
        escaped(name)
    );
    for _ in 0..3 {
        let Some(answer) = printer.ask(&question) else {
            return false;
        };
        match answer.to_lowercase().as_str() {
            "y" | "yes" => return true,
            "n" | "no" => return false,
            _ => {}
        }
    }
    false
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why a photo of an uploaded sequence was refused for good, or is left
/// for the next run: the engine's words, under a code.
fn refused(why: &str) -> Plain {
    Plain {
        code: "refused",
        text: why.to_string(),
    }
}

fn to_retry(why: &str) -> Plain {
    Plain {
        code: "not_sent",
        text: format!("{why}; run again to retry"),
    }
}

/// A photo that could not be moved into success/ or failed/.
#[derive(Debug)]
struct NotMoved {
    to: PathBuf,
    error: MoveError,
}

impl fmt::Display for NotMoved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            // The error names the destination itself.
            MoveError::DestinationExists(_) => write!(f, "not moved: {}", self.error),
            MoveError::Failed(e) => write!(f, "not moved to {}: {e}", shown(&self.to)),
        }
    }
}

impl Reason for NotMoved {
    fn code(&self) -> &'static str {
        match self.error {
            MoveError::DestinationExists(_) => "not_moved",
            MoveError::Failed(_) => self.error.code(),
        }
    }
}

/// The engine's news as lines and progress bars.
struct Lines<'a> {
    printer: &'a Printer,
    confirm: &'a (dyn Fn(&str, usize) -> bool + Sync),
    bar: Mutex<Option<Progress>>,
    /// The sequence of each photo, to name the one cut into parts.
    sequence_of: HashMap<PathBuf, String>,
}

impl Observer for Lines<'_> {
    fn checked(&self, findings: &[Finding]) {
        const LEFT_OUT: &str = "not uploaded, left where they are";
        let mut others = Vec::new();
        for finding in findings {
            match finding {
                Finding::Cut { before, reason } if reason.is_limit() => {
                    let name = self.sequence_of.get(before).map_or("", String::as_str);
                    report_findings(
                        self.printer,
                        std::slice::from_ref(finding),
                        LEFT_OUT,
                        &format!("sequence {name} uploaded in parts; the next part starts at"),
                    );
                }
                _ => others.push(finding.clone()),
            }
        }
        report_findings(self.printer, &others, LEFT_OUT, "");
    }

    fn signed_in(&self, token: &UserToken, user: &User) {
        self.printer.explain(format_args!(
            "signed in as {} (user {}) with the token from {}",
            user.username, user.id, token.source
        ));
    }

    fn history(&self, path: &Path) {
        self.printer
            .explain(format_args!("upload history {}", shown(path)));
    }

    fn notice(&self, message: &str) {
        self.printer.warn(message);
    }

    fn progress_start(&self, total: u64, unit: Counted) {
        let bar = match unit {
            Counted::Sequences => {
                self.printer
                    .progress("preparing", total, Unit::Items("sequences"))
            }
            Counted::Bytes => self.printer.progress("uploading", total, Unit::Bytes),
        };
        *lock(&self.bar) = Some(bar);
    }

    fn progress(&self, done: u64) {
        if let Some(bar) = &*lock(&self.bar) {
            bar.set(done);
        }
    }

    fn progress_end(&self) {
        lock(&self.bar).take();
    }

    fn confirm(&self, name: &str, photos: usize) -> bool {
        (self.confirm)(name, photos)
    }

    /// Its photos with trouble of their own, then one line.
    fn sequence_done(&self, sequence: &SequenceReport) {
        for (path, why) in &sequence.rejected {
            self.printer.failed(path, &refused(why));
        }
        for (path, why) in &sequence.retry {
            self.printer.failed(path, &to_retry(why));
        }
        let name = &sequence.name;
        let count = sequence.photos.len();
        let photos = plural(count, "photo", "photos");
        let mut data = json!({"name": escaped(name).to_string(), "photos": count});
        let (status, line) = match &sequence.outcome {
            Outcome::Finished { cluster_id } => {
                data["cluster_id"] = json!(cluster_id);
                (
                    "uploaded",
                    format!("sequence {name}: {photos} uploaded, cluster {cluster_id}"),
                )
            }
            Outcome::AlreadyFinished { cluster_id } => {
                data["cluster_id"] = json!(cluster_id);
                (
                    "already_uploaded",
                    format!(
                        "sequence {name}: already uploaded (cluster {cluster_id}); nothing sent"
                    ),
                )
            }
            Outcome::WouldUpload { bytes } => {
                data["bytes"] = json!(bytes);
                (
                    "would_upload",
                    format!(
                        "sequence {name}: would upload {photos}, {}",
                        megabytes(*bytes)
                    ),
                )
            }
            Outcome::NotFinalized => (
                "not_finalized",
                format!(
                    "sequence {name}: {photos} uploaded but not finalized; run again to finalize (nothing will be sent twice)"
                ),
            ),
            Outcome::Failed { reason } => {
                self.printer.error(format_args!(
                    "sequence {name}: not finished: {reason}; run again to resume"
                ));
                if self.printer.is_json() {
                    data["status"] = json!("failed");
                    data["reason"] = json!(reason);
                    self.printer.item("sequence", "", data);
                }
                return;
            }
        };
        data["status"] = json!(status);
        self.printer.item("sequence", line, data);
    }
}

/// Uploads `plans` with the core's engine, one line per sequence as it
/// ends. Returns the engine's report and the status it gives the run.
fn upload_sequences(
    printer: &Printer,
    connection: &Connection,
    plans: Vec<SequencePlan>,
    job: &Upload<'_>,
    confirm: &(dyn Fn(&str, usize) -> bool + Sync),
) -> Result<(Report, Status), Failure> {
    if job.dry_run {
        let photos: usize = plans.iter().map(|p| p.images.len()).sum();
        printer.explain(format_args!(
            "preparing {}",
            plural(photos, "photo", "photos")
        ));
    }
    let options = UploadOptions {
        max_retries: max_retries(connection.credentials.env()).map_err(Failure::fatal)?,
        graph: &connection.graph,
        credentials: &connection.credentials,
        jobs: job.jobs,
        dry_run: job.dry_run,
        rules: job.rules,
        stop: interrupt_flag(),
    };
    let sequence_of = plans
        .iter()
        .flat_map(|p| p.images.iter().map(|i| (i.path.clone(), p.name.clone())))
        .collect();
    let observer = Lines {
        printer,
        confirm,
        bar: Mutex::new(None),
        sequence_of,
    };
    let report = mapillary_core::upload::run(plans, &options, &observer)?;
    drop(observer);
    let failed = report.count(|o| matches!(o, Outcome::Failed { .. }));
    let unfinished = report.count(|o| matches!(o, Outcome::NotFinalized));
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

/// The summary: sequences uploaded, skipped (already uploaded), failed,
/// not finalized, and the bytes sent; in `--json` with the photos' counts
/// (`pending`: photos not on Mapillary yet that a later run goes on with).
fn summarise(printer: &Printer, report: &Report, photos: &Tally, pending: usize) {
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
    let mut line = format!(
        "{} {verb}, {skipped} skipped (already uploaded), {failed} failed",
        plural(uploaded, "sequence", "sequences")
    );
    if unfinished > 0 {
        line.push_str(&format!(", {unfinished} not finalized"));
    }
    if !report.dry_run {
        line.push_str(&format!("; {} sent", megabytes(report.sent_bytes)));
    }
    let mut data: Value = photos.json();
    data["sequences"] = json!({
        "uploaded": uploaded,
        "already_uploaded": skipped,
        "failed": failed,
        "not_finalized": unfinished,
    });
    data["pending"] = json!(pending);
    data["sent_bytes"] = json!(report.sent_bytes);
    printer.summary(line, data);
}

/// Groups photos into sequences by MAPSequenceUUID (see
/// [`group_by_sequence`]); sequences that cannot be uploaded are reported.
/// Returns the plans and how many photos were left out.
fn plan_sequences(printer: &Printer, images: Vec<PlannedImage>) -> (Vec<SequencePlan>, usize) {
    let mut plans = Vec::new();
    let mut left_out = 0;
    for grouped in group_by_sequence(images) {
        match grouped {
            Ok(plan) => plans.push(plan),
            Err((photos, why)) => {
                left_out += photos.len();
                printer.error(why);
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
    /// over an existing file; a photo already there stays. Returns where it
    /// is now, or reports a photo that could not be moved and returns
    /// `None`.
    pub fn move_photo(&self, printer: &Printer, photo: &Path, outbox: Outbox) -> Option<PathBuf> {
        let to = self.destination(photo, outbox);
        let same = |a: &Path, b: &Path| {
            std::fs::canonicalize(a).is_ok_and(|a| std::fs::canonicalize(b).is_ok_and(|b| a == b))
        };
        if self.given_in_outbox && same(photo, &to) {
            return Some(to);
        }
        match mapillary_core::files::move_no_clobber(photo, &to) {
            Ok(()) => Some(to),
            Err(error) => {
                printer.failed(photo, &NotMoved { to, error });
                None
            }
        }
    }
}
