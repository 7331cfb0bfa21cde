//! The upload engine: photos grouped into sequences, each sent as an image
//! bundle (every photo uploaded on its own, then a manifest of their file
//! handles, finished as `mly_bundle_manifest`), resumable, several uploads
//! at a time, with a history so that nothing is sent or finished twice.
//! docs/upload.md says why the bundle is the default.
//!
//! One entry point, [`run`]: it checks each sequence again against the
//! sequence rules (`crate::sequence::rules`: Mapillary's limits,
//! duplicates, null island, speed; a sequence over a limit is uploaded in
//! parts), signs in, opens the history, uploads the sequences, tells an
//! [`Observer`] what happens as it happens (what the rules found, progress,
//! retries, each sequence's end), and returns a [`Report`] that says where
//! every photo stands ([`Report::fates`]), so that a tool only has to put
//! it into words and move the files it wants to move.
//!
//! The tools that form sequences themselves do it with [`form_sequences`],
//! the same rules with cuts at time and distance gaps.

pub mod history;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;

use crate::api::ApiError;
use crate::api::graph::{GraphClient, User, authenticate};
use crate::api::package::{LoadedImage, PrepareError, PreparedImage, manifest, sequence_digest};
use crate::api::upload::{Upload, UploadService};
use crate::auth::{Credentials, Secret, UserToken};
use crate::batch::for_each_in_order;
use crate::description::{Description, DescriptionError};
use crate::sequence::frame::PhotoFacts;
use crate::sequence::rules::{self, Finding, Forming, LeftOut, Photo, Rules};
use history::{FinishedSequence, History, HistoryError};

/// A photo to upload, with its description.
#[derive(Debug, Clone)]
pub struct PlannedImage {
    /// The photo on disk (never changed by the upload).
    pub path: PathBuf,
    /// Its Mapillary description.
    pub description: Description,
    /// What the sequence rules know of it.
    photo: Photo,
}

impl PlannedImage {
    /// A photo whose description has what an upload needs (position and
    /// capture time: [`Description::check_required`]), with its facts
    /// (file size, image size) for the sequence rules.
    pub fn new(
        path: &Path,
        description: Description,
        facts: PhotoFacts,
    ) -> Result<PlannedImage, DescriptionError> {
        description.check_required()?;
        Ok(PlannedImage {
            photo: Photo::from_description(path, &description, facts)?,
            path: path.to_path_buf(),
            description,
        })
    }
}

/// Photos formed into sequences by the rules.
#[derive(Debug, Clone, Default)]
pub struct FormedImages {
    /// The sequences, each in capture order, in order of their first photo.
    pub sequences: Vec<Vec<PlannedImage>>,
    /// The photos left out (each is named in a finding).
    pub left_out: Vec<PlannedImage>,
    /// What the rules found: cuts, and photos left out with the reason.
    pub findings: Vec<Finding>,
}

impl FormedImages {
    /// Gives the photos of each sequence their MAPSequenceUUID: `name(k)`
    /// for the k-th sequence; returns them all, sequence by sequence.
    pub fn named(self, mut name: impl FnMut(usize) -> String) -> Vec<PlannedImage> {
        let mut out = Vec::new();
        for (k, sequence) in self.sequences.into_iter().enumerate() {
            let id = serde_json::Value::String(name(k));
            out.extend(sequence.into_iter().map(|mut image| {
                image
                    .description
                    .set(crate::description::SEQUENCE_UUID, id.clone());
                image
            }));
        }
        out
    }
}

/// Forms `images` into sequences by the sequence rules: [`Forming::Cut`]
/// groups them by folder and camera and cuts at time and distance gaps and
/// at the limits; [`Forming::One`] keeps them one sequence, split only at
/// the limits. The caller gives each sequence its MAPSequenceUUID.
pub fn form_sequences(images: Vec<PlannedImage>, rules: &Rules, forming: Forming) -> FormedImages {
    let photos: Vec<Photo> = images.iter().map(|i| i.photo.clone()).collect();
    let formed = rules::form(&photos, rules, forming);
    let mut slots: Vec<Option<PlannedImage>> = images.into_iter().map(Some).collect();
    let mut take = |indices: &[usize]| -> Vec<PlannedImage> {
        indices.iter().filter_map(|&i| slots[i].take()).collect()
    };
    FormedImages {
        sequences: formed.sequences.iter().map(|s| take(s)).collect(),
        left_out: take(&formed.left_out),
        findings: formed.findings,
    }
}

/// A sequence to upload.
#[derive(Debug, Clone)]
pub struct SequencePlan {
    /// Its name for messages: the MAPSequenceUUID.
    pub name: String,
    /// Its photos, in capture order.
    pub images: Vec<PlannedImage>,
    /// The organization it joins.
    pub organization: Option<String>,
}

/// A sequence to upload, or the photos of one that cannot be, with why.
pub type Grouped = Result<SequencePlan, (Vec<PathBuf>, String)>;

/// Groups photos into sequences by MAPSequenceUUID, each ordered by
/// capture time (then path), sequences in order of their first photo.
/// The organization is the MAPOrganizationKey the photos share; photos
/// of one sequence that name different organizations are an error for
/// that sequence.
pub fn group_by_sequence(images: Vec<PlannedImage>) -> Vec<Grouped> {
    let mut groups: BTreeMap<String, Vec<PlannedImage>> = BTreeMap::new();
    for image in images {
        let key = image
            .description
            .sequence_uuid()
            .unwrap_or_default()
            .to_string();
        groups.entry(key).or_default().push(image);
    }
    let mut plans: Vec<(Option<Timestamp>, Grouped)> = groups
        .into_iter()
        .map(|(name, mut images)| {
            images.sort_by(|a, b| {
                a.description
                    .capture_time()
                    .cmp(&b.description.capture_time())
                    .then_with(|| a.path.cmp(&b.path))
            });
            let first = images.first().and_then(|i| i.description.capture_time());
            let organizations: std::collections::BTreeSet<Option<String>> =
                images.iter().map(|i| i.description.organization()).collect();
            let plan = if organizations.len() > 1 {
                Err((
                    images.iter().map(|i| i.path.clone()).collect(),
                    format!("sequence {name}: its photos name different organizations (MAPOrganizationKey)"),
                ))
            } else {
                Ok(SequencePlan {
                    organization: organizations.into_iter().next().flatten(),
                    name,
                    images,
                })
            };
            (first, plan)
        })
        .collect();
    plans.sort_by_key(|p| p.0);
    plans.into_iter().map(|(_, p)| p).collect()
}

/// What happened to a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Uploaded and finished now.
    Finished {
        /// The cluster id.
        cluster_id: String,
    },
    /// Finished by an earlier run: nothing was sent.
    AlreadyFinished {
        /// The cluster id then given.
        cluster_id: String,
    },
    /// Dry run: this many bytes would be sent.
    WouldUpload {
        /// Bytes.
        bytes: u64,
    },
    /// Uploaded, but the user declined to finish it.
    NotFinalized,
    /// Not finished; a later run resumes.
    Failed {
        /// Why.
        reason: String,
    },
}

/// What happened to one sequence, and to its photos.
#[derive(Debug, Clone)]
pub struct SequenceReport {
    /// Its name (MAPSequenceUUID or folder).
    pub name: String,
    /// Its photos, in capture order.
    pub photos: Vec<PathBuf>,
    /// What happened.
    pub outcome: Outcome,
    /// Photos refused for good, with the reason: by the server (a final
    /// 4xx for the photo or its sequence), or a photo that cannot be sent as
    /// it is. A later run will not do better with them as they are.
    pub rejected: Vec<(PathBuf, String)>,
    /// Photos not uploaded for a reason of their own that may pass (the
    /// file could not be read, a nonsensical answer from the server): left
    /// where they are, to be retried.
    pub retry: Vec<(PathBuf, String)>,
}

/// The photos of a sequence that had trouble of their own.
#[derive(Debug, Clone, Default)]
struct Troubles {
    /// Refused for good.
    rejected: Vec<(PathBuf, String)>,
    /// To be retried.
    retry: Vec<(PathBuf, String)>,
}

impl Troubles {
    fn add(&mut self, more: Troubles) {
        self.rejected.extend(more.rejected);
        self.retry.extend(more.retry);
    }
}

/// Where a photo stands after a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fate<'a> {
    /// Left out by the sequence rules: not sent.
    LeftOut(&'a LeftOut),
    /// Its sequence is on Mapillary (finished now or by an earlier run).
    Uploaded,
    /// Refused for good, with the reason.
    Rejected(&'a str),
    /// Not on Mapillary yet; a later run goes on with it (why not now).
    Retry(&'a str),
    /// A dry run would upload it.
    WouldUpload,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Each sequence, in the order they were uploaded.
    pub sequences: Vec<SequenceReport>,
    /// What the sequence rules found when they checked the sequences
    /// again: limit cuts (a sequence uploaded in parts) and photos left
    /// out.
    pub findings: Vec<Finding>,
    /// Bytes sent in this run.
    pub sent_bytes: u64,
    /// Whether the user stopped the run.
    pub interrupted: bool,
    /// Whether it was a dry run.
    pub dry_run: bool,
}

const NOT_FINALIZED: &str = "uploaded but not finalized";

impl Report {
    /// Where each photo stands: those the rules left out, then sequence by
    /// sequence.
    pub fn fates<'a>(&'a self) -> impl Iterator<Item = (&'a Path, Fate<'a>)> + 'a {
        let left_out = self.findings.iter().flat_map(|f| match f {
            Finding::LeftOut { photos, reason } => photos
                .iter()
                .map(|p| (p.as_path(), Fate::LeftOut(reason)))
                .collect(),
            Finding::Cut { .. } => Vec::new(),
        });
        left_out.chain(self.sequences.iter().flat_map(|s| {
            s.photos.iter().map(move |photo| {
                let own = |list: &'a [(PathBuf, String)]| {
                    list.iter()
                        .find(|(p, _)| p == photo)
                        .map(|(_, why)| why.as_str())
                };
                if let Some(why) = own(&s.rejected) {
                    return (photo.as_path(), Fate::Rejected(why));
                }
                let fate = match (&s.outcome, own(&s.retry)) {
                    (_, Some(why)) => Fate::Retry(why),
                    (Outcome::Finished { .. } | Outcome::AlreadyFinished { .. }, None) => {
                        Fate::Uploaded
                    }
                    (Outcome::WouldUpload { .. }, None) => Fate::WouldUpload,
                    (Outcome::NotFinalized, None) => Fate::Retry(NOT_FINALIZED),
                    (Outcome::Failed { reason }, None) => Fate::Retry(reason),
                };
                (photo.as_path(), fate)
            })
        }))
    }

    /// How many photos the rules left out.
    pub fn left_out(&self) -> usize {
        self.fates()
            .filter(|(_, f)| matches!(f, Fate::LeftOut(_)))
            .count()
    }

    /// How many sequences ended with an outcome `f` accepts.
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.sequences.iter().filter(|s| f(&s.outcome)).count()
    }
}

/// What the progress counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Sequences prepared (a dry run).
    Sequences,
    /// Bytes of photos sent now or found already uploaded.
    Bytes,
}

/// Hears what a run does while it does it. Every method has a default that
/// does nothing, except [`Observer::confirm`], which says yes.
pub trait Observer: Sync {
    /// What the sequence rules found when they checked the sequences again,
    /// before anything is sent.
    fn checked(&self, _findings: &[Finding]) {}
    /// Signed in as `user` with `token`.
    fn signed_in(&self, _token: &UserToken, _user: &User) {}
    /// The upload history is at `path`.
    fn history(&self, _path: &Path) {}
    /// News worth a line: a retry, a history that could not be written.
    fn notice(&self, _message: &str) {}
    /// Progress starts: `total` units of `unit`.
    fn progress_start(&self, _total: u64, _unit: Progress) {}
    /// Progress so far, in the units it started with.
    fn progress(&self, _done: u64) {}
    /// Progress ends.
    fn progress_end(&self) {}
    /// Whether to finish sequence `name` of `photos` photos, all uploaded.
    fn confirm(&self, _name: &str, _photos: usize) -> bool {
        true
    }
    /// A sequence is done with, in whatever way.
    fn sequence_done(&self, _sequence: &SequenceReport) {}
}

/// How to run an upload.
#[derive(Debug, Clone, Copy)]
pub struct UploadOptions<'a> {
    /// The graph API (sign-in, finish_upload); its endpoints name the
    /// upload service too.
    pub graph: &'a GraphClient,
    /// Who uploads.
    pub credentials: &'a Credentials,
    /// Uploads at a time.
    pub jobs: usize,
    /// Attempts per photo (`MAPILLARY_TOOLS_MAX_UPLOAD_RETRIES`, see
    /// `crate::api::upload::max_retries`).
    pub max_retries: u32,
    /// Prepare everything, send nothing.
    pub dry_run: bool,
    /// The sequence rules every sequence is checked against again.
    pub rules: Rules,
    /// Stops the run between requests (Ctrl-C).
    pub stop: &'static AtomicBool,
}

/// Why a run could not start.
#[derive(Debug)]
pub enum RunError {
    /// Signing in failed.
    SignIn(ApiError),
    /// The upload history cannot be used.
    History(HistoryError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::SignIn(e) => write!(f, "{e}"),
            RunError::History(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// Checks each sequence again against the rules ([`Forming::One`]: it
/// stays one sequence, split only at the limits, its photos put in the
/// rules' capture order; duplicates, null island and too fast sequences
/// left out). A sequence cut at a limit is uploaded in parts, named
/// `<name> (part k of n)`.
pub fn check_again(plans: Vec<SequencePlan>, rules: &Rules) -> (Vec<SequencePlan>, Vec<Finding>) {
    let mut checked = Vec::with_capacity(plans.len());
    let mut findings = Vec::new();
    for plan in plans {
        let formed = form_sequences(plan.images, rules, Forming::One);
        rules::merge_findings(&mut findings, formed.findings);
        let parts = formed.sequences.len();
        for (k, images) in formed.sequences.into_iter().enumerate() {
            checked.push(SequencePlan {
                name: if parts > 1 {
                    format!("{} (part {} of {parts})", plan.name, k + 1)
                } else {
                    plan.name.clone()
                },
                images,
                organization: plan.organization.clone(),
            });
        }
    }
    (checked, findings)
}

/// Uploads `plans` (see the module documentation), after
/// [`check_again`]. A dry run does not sign in: it hashes every photo with
/// its upload description and says what would be sent, from what the
/// history knows of the stored token's user.
pub fn run(
    plans: Vec<SequencePlan>,
    options: &UploadOptions<'_>,
    observer: &dyn Observer,
) -> Result<Report, RunError> {
    let (plans, findings) = check_again(plans, &options.rules);
    observer.checked(&findings);
    // Sign in and open the history before the long pass over the photos,
    // so that a wrong password is reported at once.
    let (token, user_id) = if options.dry_run {
        let stored = options.credentials.stored_token().ok().flatten();
        let id = stored.as_ref().and_then(|t| t.user_id.clone());
        (
            stored.map_or_else(|| Secret::new(""), |t| t.token),
            id.unwrap_or_default(),
        )
    } else {
        let (token, user) =
            authenticate(options.graph, options.credentials).map_err(RunError::SignIn)?;
        observer.signed_in(&token, &user);
        (token.token, user.id)
    };
    let history_path = History::default_path(options.credentials.env());
    let history = History::open(&history_path).map_err(RunError::History)?;
    observer.history(&history_path);
    let endpoints = options.graph.endpoints();
    let service = UploadService::new(&endpoints.upload, token.clone())
        .with_max_retries(options.max_retries)
        .with_stop(options.stop);
    let engine = Engine {
        graph: options.graph,
        service: &service,
        token: &token,
        history: &history,
        account: format!("{} {user_id}", endpoints.upload),
        jobs: options.jobs,
        stop: options.stop,
        observer,
        sent: AtomicU64::new(0),
        cached: AtomicU64::new(0),
    };
    let sequences = if options.dry_run {
        engine.dry_run(&plans)
    } else {
        engine.upload(&plans)
    };
    Ok(Report {
        sequences,
        findings,
        sent_bytes: engine.sent.load(Ordering::Relaxed),
        interrupted: options.stop.load(Ordering::SeqCst),
        dry_run: options.dry_run,
    })
}

/// A sequence whose photos are hashed.
#[derive(Debug)]
struct PreparedSequence {
    /// The photos that could be prepared, in order.
    images: Vec<PreparedImage>,
    /// The sequence digest (of its images' digests).
    digest: String,
    /// The organization it joins.
    organization: Option<String>,
}

/// Whether an upload error is about the run (credentials, network, stop)
/// rather than about one photo.
fn is_run_level(e: &ApiError) -> bool {
    !matches!(e, ApiError::Refused { .. } | ApiError::BadAnswer(_))
}

/// A photo that could not be prepared: refused for good when it cannot be
/// sent as it is, to be retried when it could not be read.
fn unprepared(path: &Path, e: &PrepareError) -> Troubles {
    let photo = vec![(path.to_path_buf(), e.to_string())];
    match e {
        PrepareError::Photo(_) => Troubles {
            rejected: photo,
            retry: Vec::new(),
        },
        PrepareError::Io(_) => Troubles {
            rejected: Vec::new(),
            retry: photo,
        },
    }
}

/// A photo ready to send: its bytes in memory, or on disk (read again and
/// checked unchanged).
enum Ready {
    Loaded(LoadedImage),
    OnDisk(PreparedImage),
}

impl Ready {
    fn upload(&self) -> &dyn Upload {
        match self {
            Ready::Loaded(l) => l,
            Ready::OnDisk(p) => p,
        }
    }

    fn into_prepared(self) -> PreparedImage {
        match self {
            Ready::Loaded(l) => l.into_prepared(),
            Ready::OnDisk(p) => p,
        }
    }
}

/// What one pass over a sequence's photos gave.
#[derive(Debug, Default)]
struct Pass {
    /// The photos prepared, in order (sent or not).
    images: Vec<PreparedImage>,
    /// The file handles, in order, of the photos uploaded (all of them
    /// only when the pass succeeded).
    handles: Vec<String>,
    /// Photos that could not be prepared, with why: refused for good (the
    /// photo cannot take its description) or to be retried (it could not be
    /// read).
    unprepared: Troubles,
    /// Photos the server refused for good, or answered nonsense for (to be
    /// retried), with why.
    not_uploaded: Troubles,
    /// An error that stopped the pass (network, credentials).
    run_error: Option<String>,
    /// How many photos the pass had to send.
    total: usize,
}

impl Pass {
    /// Why the sequence cannot be finished after this pass, if it cannot.
    fn failure(&self, stopped: bool) -> Option<String> {
        let unprepared = self.unprepared.rejected.len() + self.unprepared.retry.len();
        if unprepared > 0 {
            Some(format!("{unprepared} of its photos cannot be uploaded"))
        } else if let Some(e) = &self.run_error {
            Some(e.clone())
        } else if self.total == 0 {
            Some("no photos".to_string())
        } else if self.handles.len() < self.total {
            let missing = self.total - self.handles.len();
            Some(if stopped {
                ApiError::Interrupted.to_string()
            } else if self.not_uploaded.rejected.len() == missing {
                format!("{missing} of its photos were refused")
            } else {
                format!("{missing} of its photos were not uploaded")
            })
        } else {
            None
        }
    }

    /// The photos with trouble of their own in this pass.
    fn troubles(&self) -> Troubles {
        let mut all = self.unprepared.clone();
        all.add(self.not_uploaded.clone());
        all
    }
}

/// The engine for one user on one service, for one run.
struct Engine<'a> {
    graph: &'a GraphClient,
    service: &'a UploadService,
    token: &'a Secret,
    history: &'a History,
    /// The account in the history: service and user.
    account: String,
    jobs: usize,
    stop: &'static AtomicBool,
    observer: &'a dyn Observer,
    /// Bytes sent so far in this run.
    sent: AtomicU64,
    /// Bytes of photos an earlier run had already uploaded, found in the
    /// history in this run (with `sent`, the progress of the run).
    cached: AtomicU64,
}

impl Engine<'_> {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn notice(&self, message: &str) {
        self.observer.notice(message);
    }

    /// What the history says of a prepared sequence.
    fn already_finished(&self, sequence: &PreparedSequence) -> Option<FinishedSequence> {
        self.history.finished(&self.account, &sequence.digest)
    }

    /// A report of `plan` with `outcome`, told to the observer.
    fn report(&self, plan: &SequencePlan, outcome: Outcome, troubles: Troubles) -> SequenceReport {
        let report = SequenceReport {
            name: plan.name.clone(),
            photos: plan.images.iter().map(|i| i.path.clone()).collect(),
            outcome,
            rejected: troubles.rejected,
            retry: troubles.retry,
        };
        self.observer.sequence_done(&report);
        report
    }

    /// Hashes every photo with its upload description (reading each once,
    /// `jobs` at a time) and says what would be sent: no network.
    fn dry_run(&self, plans: &[SequencePlan]) -> Vec<SequenceReport> {
        self.observer
            .progress_start(plans.len() as u64, Progress::Sequences);
        let mut reports = Vec::with_capacity(plans.len());
        for (done, plan) in plans.iter().enumerate() {
            if self.stopped() {
                break;
            }
            let mut images = Vec::with_capacity(plan.images.len());
            let mut troubles = Troubles::default();
            for_each_in_order(
                &plan.images,
                self.jobs,
                self.stop,
                |_, image| PreparedImage::prepare(&image.path, &image.description.for_upload()),
                |_, image, result| match result {
                    Ok(p) => images.push(p),
                    Err(e) => troubles.add(unprepared(&image.path, &e)),
                },
            );
            let digest = sequence_digest(images.iter().map(PreparedImage::digest));
            let sequence = PreparedSequence {
                images,
                digest,
                organization: plan.organization.clone(),
            };
            let outcome = match self.already_finished(&sequence) {
                Some(done) => Outcome::AlreadyFinished {
                    cluster_id: done.cluster_id,
                },
                None if !(troubles.rejected.is_empty() && troubles.retry.is_empty()) => {
                    Outcome::Failed {
                        reason: format!(
                            "{} of its photos cannot be uploaded",
                            troubles.rejected.len() + troubles.retry.len()
                        ),
                    }
                }
                None => Outcome::WouldUpload {
                    bytes: sequence
                        .images
                        .iter()
                        .filter(|i| {
                            self.history
                                .handle(&self.account, i.session_key())
                                .is_none()
                        })
                        .map(Upload::len)
                        .sum(),
                },
            };
            self.observer.progress(done as u64 + 1);
            reports.push(self.report(plan, outcome, troubles));
        }
        self.observer.progress_end();
        reports
    }

    /// Uploads the sequences one after the other, while a thread tells the
    /// observer the bytes done every 150 ms.
    fn upload(&self, plans: &[SequencePlan]) -> Vec<SequenceReport> {
        // The progress counts the photos' bytes, sent now or found uploaded.
        // (The sizes were read with the EXIF; no second look at the files.)
        let total: u64 = plans
            .iter()
            .flat_map(|p| &p.images)
            .map(|i| i.photo.bytes)
            .sum();
        let done = AtomicBool::new(false);
        let mut reports = Vec::with_capacity(plans.len());
        std::thread::scope(|scope| {
            if total > 0 {
                self.observer.progress_start(total, Progress::Bytes);
                // Where no thread can be started the progress is not told;
                // the upload goes on.
                let _ = std::thread::Builder::new().spawn_scoped(scope, || {
                    while !done.load(Ordering::SeqCst) {
                        self.observer.progress(
                            self.sent.load(Ordering::Relaxed) + self.cached.load(Ordering::Relaxed),
                        );
                        std::thread::sleep(Duration::from_millis(150));
                    }
                });
            }
            for plan in plans {
                let report = if self.stopped() {
                    let interrupted = Outcome::Failed {
                        reason: ApiError::Interrupted.to_string(),
                    };
                    self.report(plan, interrupted, Troubles::default())
                } else {
                    self.upload_sequence(plan)
                };
                reports.push(report);
            }
            done.store(true, Ordering::SeqCst);
        });
        self.observer.progress_end();
        reports
    }

    /// Sends each of `items` not already uploaded, `jobs` at a time, each
    /// made ready by `ready` just before it is sent (so that hashing
    /// overlaps other photos' uploads). A photo that cannot be made ready,
    /// or an error about the run, stops the pass: no more photos are sent.
    fn send<T: Sync>(
        &self,
        items: &[T],
        path: impl Fn(&T) -> &Path + Sync,
        ready: impl Fn(&T) -> Result<Ready, PrepareError> + Sync,
    ) -> Pass {
        enum Trouble {
            /// The photo cannot be made ready.
            Unprepared(PrepareError),
            /// The upload of a ready photo failed.
            Upload(Box<PreparedImage>, ApiError),
        }
        let halt = AtomicBool::new(false);
        let mut pass = Pass {
            total: items.len(),
            ..Pass::default()
        };
        for_each_in_order(
            items,
            self.jobs,
            &halt,
            |_, item| {
                let ready = match ready(item) {
                    Ok(r) => r,
                    Err(e) => {
                        // The sequence cannot be finished: send no more.
                        halt.store(true, Ordering::SeqCst);
                        return Err(Trouble::Unprepared(e));
                    }
                };
                let upload = ready.upload();
                if let Some(h) = self.history.handle(&self.account, upload.session_key()) {
                    self.cached.fetch_add(upload.len(), Ordering::Relaxed);
                    return Ok((ready.into_prepared(), h));
                }
                // The service names what it sends by its upload name;
                // the user knows the photo by its path.
                let key = upload.session_key().to_string();
                let photo = crate::shown::shown(path(item)).to_string();
                let notify = |m: &str| {
                    let about = m
                        .strip_prefix(key.as_str())
                        .and_then(|rest| rest.strip_prefix(": "))
                        .unwrap_or(m);
                    self.notice(&format!("{photo}: {about}"));
                };
                let result = self.service.upload(upload, &self.sent, &notify);
                // Only the photo's description and place stay in memory.
                let prepared = ready.into_prepared();
                match result {
                    Ok(h) => {
                        if let Err(e) =
                            self.history
                                .record_handle(&self.account, prepared.session_key(), &h)
                        {
                            self.notice(&e.to_string());
                        }
                        Ok((prepared, h))
                    }
                    Err(e) => {
                        if is_run_level(&e) || self.stopped() {
                            halt.store(true, Ordering::SeqCst);
                        }
                        Err(Trouble::Upload(Box::new(prepared), e))
                    }
                }
            },
            |_, item, result| match result {
                Ok((p, h)) => {
                    pass.images.push(p);
                    pass.handles.push(h);
                }
                Err(Trouble::Unprepared(e)) => pass.unprepared.add(unprepared(path(item), &e)),
                Err(Trouble::Upload(p, e)) => {
                    pass.images.push(*p);
                    let photo = (path(item).to_path_buf(), e.to_string());
                    match e {
                        // A final 4xx for this photo: the server will not
                        // take it as it is.
                        ApiError::Refused { .. } => pass.not_uploaded.rejected.push(photo),
                        // Nonsense (an impossible offset, no file handle):
                        // nothing is known about the photo; try again.
                        ApiError::BadAnswer(_) => pass.not_uploaded.retry.push(photo),
                        _ => {
                            pass.run_error.get_or_insert(photo.1);
                        }
                    }
                }
            },
        );
        pass
    }

    /// Hashes and uploads a sequence's photos in one pass, then finishes
    /// the sequence (after the observer confirms). Photos already uploaded
    /// by an earlier run are found in the history by their hash and not sent
    /// again, so a sequence that an earlier run finished sends nothing and
    /// is reported as finished.
    fn upload_sequence(&self, plan: &SequencePlan) -> SequenceReport {
        let pass = self.send(
            &plan.images,
            |image| &image.path,
            |image| {
                PreparedImage::load(&image.path, &image.description.for_upload()).map(Ready::Loaded)
            },
        );
        let failure = pass.failure(self.stopped());
        let mut troubles = pass.troubles();
        let Pass {
            images, handles, ..
        } = pass;
        let digest = sequence_digest(images.iter().map(PreparedImage::digest));
        let sequence = PreparedSequence {
            images,
            digest,
            organization: plan.organization.clone(),
        };
        let outcome = if let Some(reason) = failure {
            Outcome::Failed { reason }
        } else if let Some(done) = self.already_finished(&sequence) {
            Outcome::AlreadyFinished {
                cluster_id: done.cluster_id,
            }
        } else if !self.observer.confirm(&plan.name, sequence.images.len()) {
            Outcome::NotFinalized
        } else {
            self.finish_or_resend(&plan.name, &sequence, handles, &mut troubles)
        };
        self.report(plan, outcome, troubles)
    }

    /// Finishes a sequence whose photos are uploaded; if the server has
    /// forgotten some of the uploads, sends them again, once.
    fn finish_or_resend(
        &self,
        name: &str,
        sequence: &PreparedSequence,
        mut handles: Vec<String>,
        troubles: &mut Troubles,
    ) -> Outcome {
        let failed = |reason: String| Outcome::Failed { reason };
        for attempt in 0..2 {
            match self.finish(sequence, &handles) {
                Ok(cluster_id) => return Outcome::Finished { cluster_id },
                Err(ApiError::Refused { message, .. })
                    if attempt == 0 && message.to_lowercase().contains("handle") =>
                {
                    self.notice(&format!(
                        "sequence {name}: the server no longer knows some uploads ({message}); sending them again"
                    ));
                    if let Err(e) = self.history.forget_handles(
                        &self.account,
                        sequence.images.iter().map(|i| i.session_key()),
                    ) {
                        return failed(e.to_string());
                    }
                    let pass = self.send(
                        &sequence.images,
                        |image| &image.path,
                        |image| Ok(Ready::OnDisk(image.clone())),
                    );
                    troubles.add(pass.troubles());
                    if let Some(reason) = pass.failure(self.stopped()) {
                        return failed(reason);
                    }
                    handles = pass.handles;
                }
                // A final 4xx for the sequence: the server will not take
                // these photos as they are.
                Err(e @ ApiError::Refused { .. }) => {
                    let why = format!("its sequence was refused: {e}");
                    troubles.rejected = sequence
                        .images
                        .iter()
                        .map(|i| (i.path.clone(), why.clone()))
                        .collect();
                    return failed(e.to_string());
                }
                Err(e) => return failed(e.to_string()),
            }
        }
        failed("the server kept refusing the uploaded photos".to_string())
    }

    /// Uploads the manifest and finishes the sequence.
    fn finish(&self, sequence: &PreparedSequence, handles: &[String]) -> Result<String, ApiError> {
        let manifest = manifest(handles);
        let ignore = AtomicU64::new(0);
        let manifest_handle = self
            .service
            .upload(&manifest, &ignore, &|m: &str| self.notice(m))?;
        let cluster_id = self.graph.finish_upload(
            self.token,
            &manifest_handle,
            "mly_bundle_manifest",
            sequence.organization.as_deref(),
        )?;
        let record = FinishedSequence {
            cluster_id: cluster_id.clone(),
            finished_at: Timestamp::now().to_string(),
            images: sequence.images.len(),
            organization: sequence.organization.clone(),
        };
        if let Err(e) = self
            .history
            .record_finished(&self.account, &sequence.digest, record)
        {
            self.notice(&format!(
                "{e}; the sequence is finished but a rerun may not know it"
            ));
        }
        Ok(cluster_id)
    }
}
