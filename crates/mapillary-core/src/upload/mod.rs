//! The upload engine: photos grouped into sequences, each sent as an image
//! bundle (every photo uploaded on its own, then a manifest of their file
//! handles, finished as `mly_bundle_manifest`), resumable, several uploads
//! at a time, with a history so that nothing is sent or finished twice.
//! docs/upload.md says why the bundle is the default.

pub mod history;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use jiff::Timestamp;

use crate::api::ApiError;
use crate::api::graph::GraphClient;
use crate::api::package::{PreparedImage, manifest, sequence_digest};
use crate::api::upload::{Upload, UploadService};
use crate::auth::Secret;
use crate::batch::for_each_in_order;
use crate::description::Description;
use history::{FinishedSequence, History};

/// A photo to upload, with its description.
#[derive(Debug, Clone)]
pub struct PlannedImage {
    /// The photo on disk (never changed by the upload).
    pub path: PathBuf,
    /// Its Mapillary description.
    pub description: Description,
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

/// A sequence ready to upload: its photos hashed.
#[derive(Debug)]
pub struct PreparedSequence {
    /// Its name.
    pub name: String,
    /// The photos that could be prepared, in order.
    pub images: Vec<PreparedImage>,
    /// Photos that cannot be uploaded, with the reason.
    pub rejected: Vec<(PathBuf, String)>,
    /// The sequence digest (of its images' digests).
    pub digest: String,
    /// The organization it joins.
    pub organization: Option<String>,
}

impl PreparedSequence {
    /// The bytes of all its photos.
    pub fn bytes(&self) -> u64 {
        self.images.iter().map(Upload::len).sum()
    }
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

/// The upload engine for one user on one service.
pub struct Uploader<'a> {
    /// The graph API (for finish_upload).
    pub graph: &'a GraphClient,
    /// The upload service.
    pub service: &'a UploadService,
    /// The user's token (for finish_upload).
    pub token: &'a Secret,
    /// The upload history.
    pub history: &'a History,
    /// The account in the history: service and user.
    pub account: String,
    /// Uploads at a time.
    pub jobs: usize,
    /// Bytes sent so far in this run (for progress).
    pub sent: AtomicU64,
    /// Bytes of photos an earlier run had already uploaded, found in the
    /// history in this run (with `sent`, the progress of the run).
    pub cached: AtomicU64,
    /// Stops the run between requests (Ctrl-C).
    pub stop: &'a AtomicBool,
    /// Hears about retries and other news, one line each.
    pub notify: &'a (dyn Fn(&str) + Sync),
}

impl std::fmt::Debug for Uploader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// Hashes a sequence's photos (reading each once, `jobs` at a time) with
/// their upload descriptions: no network.
pub fn prepare(plan: &SequencePlan, jobs: usize, stop: &AtomicBool) -> PreparedSequence {
    let mut images = Vec::with_capacity(plan.images.len());
    let mut rejected = Vec::new();
    for_each_in_order(
        &plan.images,
        jobs,
        stop,
        |_, image| PreparedImage::prepare(&image.path, &image.description.for_upload()),
        |_, image, result| match result {
            Ok(p) => images.push(p),
            Err(e) => rejected.push((image.path.clone(), e.to_string())),
        },
    );
    let digest = sequence_digest(images.iter().map(PreparedImage::digest));
    PreparedSequence {
        name: plan.name.clone(),
        images,
        rejected,
        digest,
        organization: plan.organization.clone(),
    }
}

/// Whether an upload error is about the run (credentials, network, stop)
/// rather than about one photo.
fn is_run_level(e: &ApiError) -> bool {
    !matches!(e, ApiError::Refused { .. } | ApiError::BadAnswer(_))
}

impl Uploader<'_> {
    /// What the history says of a prepared sequence.
    pub fn already_finished(&self, sequence: &PreparedSequence) -> Option<FinishedSequence> {
        self.history.finished(&self.account, &sequence.digest)
    }

    /// The bytes of a sequence not uploaded by an earlier run.
    pub fn bytes_to_send(&self, sequence: &PreparedSequence) -> u64 {
        if self.already_finished(sequence).is_some() {
            return 0;
        }
        sequence
            .images
            .iter()
            .filter(|i| {
                self.history
                    .handle(&self.account, i.session_key())
                    .is_none()
            })
            .map(Upload::len)
            .sum()
    }

    /// Hashes and uploads a sequence's photos in one pass, `jobs` at a
    /// time (each photo is hashed just before it is sent, so hashing
    /// overlaps other photos' uploads), then finishes the sequence (after
    /// `confirm` says yes). Photos already uploaded by an earlier run are
    /// found in the history by their hash and not sent again, so a sequence
    /// that an earlier run finished sends nothing and is reported as
    /// finished. Returns what happened.
    pub fn upload_plan(
        &self,
        plan: &SequencePlan,
        rejected: &mut Vec<(PathBuf, String)>,
        confirm: &dyn Fn(&PreparedSequence) -> bool,
    ) -> Outcome {
        enum Trouble {
            /// The photo cannot take its upload description.
            Unprepared(String),
            /// The upload of a prepared photo failed.
            Upload(Box<PreparedImage>, ApiError),
        }
        let halt = AtomicBool::new(false);
        let notify = |m: &str| (self.notify)(m);
        let mut images = Vec::with_capacity(plan.images.len());
        let mut handles = Vec::with_capacity(plan.images.len());
        let mut unprepared = Vec::new();
        let mut run_error: Option<String> = None;
        for_each_in_order(
            &plan.images,
            self.jobs,
            &halt,
            |_, image| {
                let loaded = match PreparedImage::load(&image.path, &image.description.for_upload())
                {
                    Ok(p) => p,
                    Err(e) => {
                        // The sequence cannot be finished: send no more.
                        halt.store(true, Ordering::SeqCst);
                        return Err(Trouble::Unprepared(e.to_string()));
                    }
                };
                if let Some(h) = self.history.handle(&self.account, loaded.session_key()) {
                    self.cached.fetch_add(loaded.len(), Ordering::Relaxed);
                    return Ok((loaded.into_prepared(), h));
                }
                let result = self.service.upload(&loaded, &self.sent, &notify);
                // Only the photo's description and place stay in memory.
                let prepared = loaded.into_prepared();
                match result {
                    Ok(h) => {
                        if let Err(e) =
                            self.history
                                .record_handle(&self.account, prepared.session_key(), &h)
                        {
                            (self.notify)(&e.to_string());
                        }
                        Ok((prepared, h))
                    }
                    Err(e) => {
                        if is_run_level(&e) || self.stop.load(Ordering::SeqCst) {
                            halt.store(true, Ordering::SeqCst);
                        }
                        Err(Trouble::Upload(Box::new(prepared), e))
                    }
                }
            },
            |_, image, result| match result {
                Ok((p, h)) => {
                    images.push(p);
                    handles.push(h);
                }
                Err(Trouble::Unprepared(why)) => unprepared.push((image.path.clone(), why)),
                Err(Trouble::Upload(p, e)) => {
                    images.push(*p);
                    if is_run_level(&e) {
                        run_error.get_or_insert_with(|| e.to_string());
                    } else {
                        rejected.push((image.path.clone(), e.to_string()));
                    }
                }
            },
        );
        let digest = sequence_digest(images.iter().map(PreparedImage::digest));
        let sequence = PreparedSequence {
            name: plan.name.clone(),
            images,
            rejected: unprepared,
            digest,
            organization: plan.organization.clone(),
        };
        let complete = sequence.rejected.is_empty()
            && run_error.is_none()
            && handles.len() == plan.images.len();
        if complete && let Some(done) = self.already_finished(&sequence) {
            return Outcome::AlreadyFinished {
                cluster_id: done.cluster_id,
            };
        }
        let failed = |reason: String| Outcome::Failed { reason };
        if !sequence.rejected.is_empty() {
            rejected.extend(sequence.rejected.iter().cloned());
            failed(format!(
                "{} of its photos cannot be uploaded",
                sequence.rejected.len()
            ))
        } else if let Some(e) = run_error {
            failed(e)
        } else if plan.images.is_empty() {
            failed("no photos".to_string())
        } else if handles.len() < plan.images.len() {
            failed(if self.stop.load(Ordering::SeqCst) {
                ApiError::Interrupted.to_string()
            } else {
                format!(
                    "{} of its photos were refused",
                    plan.images.len() - handles.len()
                )
            })
        } else if !confirm(&sequence) {
            Outcome::NotFinalized
        } else {
            self.finish_or_resend(&sequence, handles, rejected)
        }
    }

    /// Finishes a sequence whose photos are uploaded; if the server has
    /// forgotten some of the uploads, sends them again, once.
    fn finish_or_resend(
        &self,
        sequence: &PreparedSequence,
        handles: Vec<String>,
        rejected: &mut Vec<(PathBuf, String)>,
    ) -> Outcome {
        let mut handles = handles;
        for attempt in 0..2 {
            match self.finish(sequence, &handles) {
                Ok(cluster_id) => return Outcome::Finished { cluster_id },
                Err(ApiError::Refused { message, .. })
                    if attempt == 0 && message.to_lowercase().contains("handle") =>
                {
                    (self.notify)(&format!(
                        "sequence {}: the server no longer knows some uploads ({message}); sending them again",
                        sequence.name
                    ));
                    if let Err(e) = self.history.forget_handles(
                        &self.account,
                        sequence.images.iter().map(|i| i.session_key()),
                    ) {
                        return Outcome::Failed {
                            reason: e.to_string(),
                        };
                    }
                    handles = match self.upload_images(sequence, rejected) {
                        Ok(h) => h,
                        Err(reason) => return Outcome::Failed { reason },
                    };
                }
                Err(e) => {
                    return Outcome::Failed {
                        reason: e.to_string(),
                    };
                }
            }
        }
        Outcome::Failed {
            reason: "the server kept refusing the uploaded photos".to_string(),
        }
    }

    /// Uploads the photos (those not cached), `jobs` at a time; their
    /// handles in order, or why not.
    fn upload_images(
        &self,
        sequence: &PreparedSequence,
        rejected: &mut Vec<(PathBuf, String)>,
    ) -> Result<Vec<String>, String> {
        let mut handles = Vec::with_capacity(sequence.images.len());
        let mut run_error: Option<String> = None;
        let halt = AtomicBool::new(false);
        let notify = |m: &str| (self.notify)(m);
        for_each_in_order(
            &sequence.images,
            self.jobs,
            &halt,
            |_, image| {
                if let Some(h) = self.history.handle(&self.account, image.session_key()) {
                    return Ok(h);
                }
                let result = self.service.upload(image, &self.sent, &notify);
                if let Err(e) = &result
                    && (is_run_level(e) || self.stop.load(Ordering::SeqCst))
                {
                    halt.store(true, Ordering::SeqCst);
                }
                if let Ok(h) = &result
                    && let Err(e) =
                        self.history
                            .record_handle(&self.account, image.session_key(), h)
                {
                    (self.notify)(&e.to_string());
                }
                result
            },
            |_, image, result| match result {
                Ok(h) => handles.push(h),
                Err(e) if is_run_level(&e) => {
                    run_error.get_or_insert_with(|| e.to_string());
                }
                Err(e) => rejected.push((image.path.clone(), e.to_string())),
            },
        );
        if let Some(e) = run_error {
            return Err(e);
        }
        if handles.len() < sequence.images.len() {
            return Err(if self.stop.load(Ordering::SeqCst) {
                ApiError::Interrupted.to_string()
            } else {
                format!(
                    "{} of its photos were refused",
                    sequence.images.len() - handles.len()
                )
            });
        }
        Ok(handles)
    }

    /// Uploads the manifest and finishes the sequence.
    fn finish(&self, sequence: &PreparedSequence, handles: &[String]) -> Result<String, ApiError> {
        let manifest = manifest(handles);
        let ignore = AtomicU64::new(0);
        let manifest_handle = self
            .service
            .upload(&manifest, &ignore, &|m: &str| (self.notify)(m))?;
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
            (self.notify)(&format!(
                "{e}; the sequence is finished but a rerun may not know it"
            ));
        }
        Ok(cluster_id)
    }
}
