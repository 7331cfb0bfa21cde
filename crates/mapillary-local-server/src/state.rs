//! What the server holds: accounts and tokens, the images to search,
//! uploads on disk, finished sequences, and the counters tests read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Config;
use crate::faults::Fault;
use crate::limits::{Limits, SequenceLimits};
use crate::seed::{Seed, SeedImage, SeedOrganization, SeedUser};
use crate::validate::DescriptionSchema;

/// Locks a mutex, going on with the data if a thread panicked holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// An image of a finished sequence, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredImage {
    /// Its id (searchable).
    pub id: String,
    /// Its file in the sequence folder (`0.jpg`, ...).
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its Mapillary description.
    pub description: Value,
    /// Its width and height in pixels (from its frame header).
    #[serde(default)]
    pub width: u32,
    /// Its height in pixels.
    #[serde(default)]
    pub height: u32,
    /// The session key it was uploaded under, for an image of a bundle (a
    /// zip's images have none of their own).
    #[serde(default)]
    pub upload_key: Option<String>,
}

/// The video of a finished video sequence, as stored (the bytes as
/// received).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredVideo {
    /// Its file in the sequence folder (`video.mp4`).
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A finished sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceRecord {
    /// The cluster id given.
    pub cluster_id: String,
    /// The user who finished it.
    pub user_id: String,
    /// The organization it joined.
    pub organization_id: Option<String>,
    /// `zip`, `mly_bundle_manifest`, `mly_camm_video` or
    /// `mly_blackvue_video`.
    pub file_type: String,
    /// The handle it was finished with.
    pub file_handle: String,
    /// When (RFC 3339).
    pub received_at: String,
    /// Its images, in order (none for a video).
    pub images: Vec<StoredImage>,
    /// Its video, for a video upload.
    #[serde(default)]
    pub video: Option<StoredVideo>,
}

/// The server's counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Upload body bytes received, in all.
    pub upload_bytes_received: u64,
    /// Upload body bytes received per session key.
    pub upload_bytes_by_key: BTreeMap<String, u64>,
    /// Upload POSTs (including cut ones).
    pub upload_posts: u64,
    /// Requests per endpoint group (`login`, `me`, `images`, `thumbnails`,
    /// `upload_offset`, `upload_post`, `finish_upload`, `object`, `local`).
    pub requests: BTreeMap<String, u64>,
    /// Thumbnail requests that carried a token (header or query): should
    /// stay 0.
    pub thumbnail_requests_with_token: u64,
    /// How often each fault fired, by its position on the command line.
    pub faults_fired: Vec<u64>,
    /// finish_upload calls that created a sequence.
    pub sequences_created: u64,
    /// Events the official client logged (`POST /logging`), by action type.
    #[serde(default)]
    pub logged_events: BTreeMap<String, u64>,
    /// Connections accepted and then closed to make room for others (idle
    /// ones, when the server was full).
    #[serde(default)]
    pub connections_shed: u64,
    /// Failed accepts (e.g. no file descriptor left).
    #[serde(default)]
    pub accept_errors: u64,
}

struct TokenInfo {
    user: String,
    issued: Instant,
    expired: bool,
}

/// Everything the handlers share.
pub struct State {
    /// The seed.
    pub seed: Seed,
    /// Where received data is kept.
    pub data_dir: PathBuf,
    /// The faults of this run.
    pub faults: Vec<Fault>,
    /// How long a login token lives.
    pub token_ttl: Option<Duration>,
    /// Limits on requests and connections.
    pub limits: Limits,
    /// What one sequence may hold.
    pub sequence_limits: SequenceLimits,
    /// The official schema of an EXIF-embedded description.
    pub schema: DescriptionSchema,
    /// The server's own URL (for thumbnail links).
    pub base_url: Mutex<String>,
    tokens: Mutex<HashMap<String, TokenInfo>>,
    seeded_images: Vec<SeedImage>,
    sequences: Mutex<Vec<SequenceRecord>>,
    /// The session keys of uploads that belong to a finished sequence:
    /// they can no longer be changed.
    finished: Mutex<HashSet<String>>,
    /// Per session key, a lock that orders the POSTs to it.
    upload_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    stats: Mutex<Stats>,
    counter: AtomicU64,
    /// Serialises finish_upload (so that a repeated finish is recognised).
    pub finish_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Whether a session key is a safe file name.
pub fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 200
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl State {
    /// The state for a run: seed, data folder (created; sequences already
    /// there are loaded), faults, limits.
    pub fn new(config: Config) -> std::io::Result<State> {
        let Config {
            data_dir,
            seed,
            faults,
            token_ttl,
            limits,
            sequence_limits,
            ..
        } = config;
        let data_dir = data_dir.as_path();
        std::fs::create_dir_all(data_dir.join("uploads"))?;
        std::fs::create_dir_all(data_dir.join("sequences"))?;
        let mut tokens = HashMap::new();
        let now = Instant::now();
        for u in &seed.users {
            if let Some(t) = &u.access_token {
                tokens.insert(
                    t.clone(),
                    TokenInfo {
                        user: u.id.clone(),
                        issued: now,
                        expired: false,
                    },
                );
            }
            for t in &u.expired_tokens {
                tokens.insert(
                    t.clone(),
                    TokenInfo {
                        user: u.id.clone(),
                        issued: now,
                        expired: true,
                    },
                );
            }
        }
        let sequences = load_sequences(&data_dir.join("sequences"));
        let mut finished = HashSet::new();
        for s in &sequences {
            mark_finished(&mut finished, s);
        }
        let count =
            sequences.iter().map(|s| s.images.len() as u64).sum::<u64>() + sequences.len() as u64;
        let stats = Stats {
            faults_fired: vec![0; faults.len()],
            ..Stats::default()
        };
        Ok(State {
            seeded_images: seed.all_images(),
            seed,
            data_dir: data_dir.to_path_buf(),
            faults,
            token_ttl,
            limits,
            sequence_limits,
            schema: DescriptionSchema::official().map_err(std::io::Error::other)?,
            base_url: Mutex::new(String::new()),
            tokens: Mutex::new(tokens),
            sequences: Mutex::new(sequences),
            finished: Mutex::new(finished),
            upload_locks: Mutex::new(HashMap::new()),
            stats: Mutex::new(stats),
            counter: AtomicU64::new(count),
            finish_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// A fresh number for ids.
    pub fn next_number(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The user with this email and password.
    pub fn user_by_login(&self, email: &str, password: &str) -> Option<&SeedUser> {
        self.seed
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email) && u.password == password)
    }

    /// A user by id.
    pub fn user(&self, id: &str) -> Option<&SeedUser> {
        self.seed.users.iter().find(|u| u.id == id)
    }

    /// Issues a token for a user.
    pub fn issue_token(&self, user: &str) -> String {
        let token = format!(
            "MLYLOCAL{}x{}",
            self.next_number(),
            md5_hex(format!("{user}{:?}", Instant::now()).as_bytes())
        );
        lock(&self.tokens).insert(
            token.clone(),
            TokenInfo {
                user: user.to_string(),
                issued: Instant::now(),
                expired: false,
            },
        );
        token
    }

    /// Who a user token belongs to: `Ok(user id)`, `Err(true)` when it
    /// has expired, `Err(false)` when it is unknown.
    pub fn token_user(&self, token: &str) -> Result<String, bool> {
        let tokens = lock(&self.tokens);
        let info = tokens.get(token).ok_or(false)?;
        let too_old = self
            .token_ttl
            .is_some_and(|ttl| info.issued.elapsed() >= ttl);
        if info.expired || too_old {
            return Err(true);
        }
        Ok(info.user.clone())
    }

    /// The organizations a user belongs to.
    pub fn organizations_of(&self, user: &str) -> Vec<&SeedOrganization> {
        self.seed
            .organizations
            .iter()
            .filter(|o| o.members.iter().any(|m| m == user))
            .collect()
    }

    /// Every image a search can find: seeded, then received.
    pub fn searchable(&self) -> Vec<Found> {
        let mut out: Vec<Found> = self
            .seeded_images
            .iter()
            .map(|i| Found {
                id: i.id.clone(),
                lat: i.lat,
                lon: i.lon,
                captured_at: i.captured_at,
                compass_angle: i.compass_angle,
                sequence: i.sequence.clone(),
                stored: None,
                thumbnail_status: i.thumbnail_status,
            })
            .collect();
        for s in lock(&self.sequences).iter() {
            for img in &s.images {
                let d = &img.description;
                let (Some(lat), Some(lon)) =
                    (d["MAPLatitude"].as_f64(), d["MAPLongitude"].as_f64())
                else {
                    continue;
                };
                out.push(Found {
                    id: img.id.clone(),
                    lat,
                    lon,
                    captured_at: capture_millis(d["MAPCaptureTime"].as_str().unwrap_or("")),
                    compass_angle: d["MAPCompassHeading"]["TrueHeading"]
                        .as_f64()
                        .unwrap_or(0.0),
                    sequence: s.cluster_id.clone(),
                    stored: Some(
                        self.data_dir
                            .join("sequences")
                            .join(&s.cluster_id)
                            .join(&img.file),
                    ),
                    thumbnail_status: None,
                });
            }
        }
        out
    }

    /// The file of an upload session.
    pub fn upload_path(&self, key: &str) -> PathBuf {
        self.data_dir.join("uploads").join(key)
    }

    /// The lock that orders POSTs to one session key.
    pub fn upload_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.upload_locks)
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// The handle of an upload session (and back).
    pub fn handle_for(key: &str) -> String {
        format!("h.{key}")
    }

    /// Whether an upload belongs to a finished sequence (and so can no
    /// longer be changed).
    pub fn is_finished(&self, key: &str) -> bool {
        lock(&self.finished).contains(key)
    }

    /// How many bytes the server holds for a session key.
    pub fn held(&self, key: &str) -> u64 {
        std::fs::metadata(self.upload_path(key)).map_or(0, |m| m.len())
    }

    /// The session key and file a handle names, if it exists.
    pub fn upload_for_handle(&self, handle: &str) -> Option<(String, PathBuf)> {
        let key = handle.strip_prefix("h.")?;
        let path = self.upload_path(key);
        (is_safe_key(key) && path.is_file()).then(|| (key.to_string(), path))
    }

    /// Counts a request.
    pub fn count(&self, endpoint: &str) {
        *lock(&self.stats)
            .requests
            .entry(endpoint.to_string())
            .or_default() += 1;
    }

    /// Counts upload bytes.
    pub fn count_upload_bytes(&self, key: &str, n: u64) {
        let mut s = lock(&self.stats);
        s.upload_bytes_received += n;
        // Called for every piece of a body: no new key string unless new.
        match s.upload_bytes_by_key.get_mut(key) {
            Some(count) => *count += n,
            None => {
                s.upload_bytes_by_key.insert(key.to_string(), n);
            }
        }
    }

    /// Changes the counters.
    pub fn with_stats(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut lock(&self.stats));
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let mut s = lock(&self.stats).clone();
        s.faults_fired = self.faults.iter().map(Fault::fired).collect();
        s
    }

    /// The finished sequences.
    pub fn sequences(&self) -> Vec<SequenceRecord> {
        lock(&self.sequences).clone()
    }

    /// The sequence finished with this handle, if any.
    pub fn sequence_for_handle(&self, handle: &str) -> Option<SequenceRecord> {
        lock(&self.sequences)
            .iter()
            .find(|s| s.file_handle == handle)
            .cloned()
    }

    /// Adds a finished sequence (its folder is written already); its
    /// uploads are finished from now on.
    pub fn add_sequence(&self, record: SequenceRecord) -> std::io::Result<()> {
        let folder = self.data_dir.join("sequences").join(&record.cluster_id);
        let json = serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?;
        std::fs::write(folder.join("sequence.json"), json)?;
        mark_finished(&mut lock(&self.finished), &record);
        lock(&self.sequences).push(record);
        self.with_stats(|s| s.sequences_created += 1);
        Ok(())
    }
}

/// An image a search finds.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Id.
    pub id: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Milliseconds since the epoch.
    pub captured_at: i64,
    /// Compass angle.
    pub compass_angle: f64,
    /// Sequence.
    pub sequence: String,
    /// The received file, for images of finished sequences.
    pub stored: Option<PathBuf>,
    /// A forced thumbnail status.
    pub thumbnail_status: Option<u16>,
}

fn capture_millis(text: &str) -> i64 {
    let p: Vec<i64> = text.split('_').filter_map(|x| x.parse().ok()).collect();
    if p.len() != 7 {
        return 0;
    }
    let date = jiff::civil::date(p[0] as i16, p[1] as i8, p[2] as i8);
    let Ok(dt) = date
        .at(p[3] as i8, p[4] as i8, p[5] as i8, 0)
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
    else {
        return 0;
    };
    dt.timestamp().as_millisecond() + p[6]
}

/// md5 in hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Records a sequence's uploads as finished: the zip, manifest or video
/// it was finished with, and the images of a bundle.
fn mark_finished(finished: &mut HashSet<String>, s: &SequenceRecord) {
    if let Some(key) = s.file_handle.strip_prefix("h.") {
        finished.insert(key.to_string());
    }
    for img in &s.images {
        if let Some(key) = &img.upload_key {
            finished.insert(key.clone());
        }
    }
}

fn load_sequences(dir: &Path) -> Vec<SequenceRecord> {
    let mut out: Vec<SequenceRecord> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| std::fs::read(e.path().join("sequence.json")).ok())
                .filter_map(|b| serde_json::from_slice(&b).ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a: &SequenceRecord, b| a.received_at.cmp(&b.received_at));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_safe_file_names() {
        assert!(is_safe_key("mly_tools_0123abcd.jpg"));
        assert!(is_safe_key("uuid_abc.json"));
        for bad in ["", "../x", "a/b", ".hidden", "a b", "..", &"x".repeat(201)] {
            assert!(!is_safe_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn capture_times_become_milliseconds() {
        assert_eq!(capture_millis("2021_06_01_10_00_05_250"), 1_622_541_605_250);
        assert_eq!(capture_millis("nonsense"), 0);
    }
}
