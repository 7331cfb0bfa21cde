//! The upload history: which sequences were finished (so that a second
//! run sends nothing) and the file handles of uploaded images (so that an
//! interrupted sequence resumes without sending its images again).
//!
//! One small JSON file in the user's data folder, per service and user,
//! written through [`crate::files::replace`] (locked, merged with what
//! another run may have written meanwhile, replaced atomically).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::auth::Environment;
use crate::files::replace::{self, Permissions, ReplaceError, ReplaceOptions, UpdateError};

/// A sequence that was finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedSequence {
    /// The cluster id the server gave.
    pub cluster_id: String,
    /// When (RFC 3339, UTC).
    pub finished_at: String,
    /// How many images it had.
    pub images: usize,
    /// The organization it joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Account {
    /// Session key → file handle.
    #[serde(default)]
    handles: BTreeMap<String, String>,
    /// Sequence digest → what finishing it gave.
    #[serde(default)]
    sequences: BTreeMap<String, FinishedSequence>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Data {
    version: u32,
    /// "<upload endpoint> <user id>" → that account's history.
    #[serde(default)]
    accounts: BTreeMap<String, Account>,
}

impl Data {
    fn merge(&mut self, other: Data) {
        for (name, account) in other.accounts {
            let mine = self.accounts.entry(name).or_default();
            for (k, v) in account.handles {
                mine.handles.entry(k).or_insert(v);
            }
            for (k, v) in account.sequences {
                mine.sequences.entry(k).or_insert(v);
            }
        }
    }
}

/// Why the history could not be used.
#[derive(Debug)]
pub enum HistoryError {
    /// Reading or writing failed.
    Io(PathBuf, io::Error),
    /// The file is not an upload history.
    Corrupt(PathBuf, String),
    /// The file could not be written.
    Write(PathBuf, ReplaceError),
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Io(p, e) => {
                write!(f, "upload history {}: {}", p.display(), crate::io_reason(e))
            }
            HistoryError::Write(p, e) => write!(f, "upload history {}: {e}", p.display()),
            HistoryError::Corrupt(p, why) => write!(
                f,
                "upload history {} is damaged ({why}); move it away to start a new one (sequences it recorded may then be uploaded again)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for HistoryError {}

/// The upload history file.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    data: Data,
    /// Handles forgotten since the last save, which a merge with the file
    /// must not bring back.
    forgotten: Vec<(String, String)>,
    dirty: bool,
    saved_at: Instant,
}

/// How often new handles are written out: often enough that a killed run
/// loses little (and a lost handle only costs one offset request), rarely
/// enough that a large run does not spend its time rewriting the file.
const SAVE_EVERY: Duration = Duration::from_secs(2);

impl History {
    /// Where the history lives: `$MAPILLARY_UPLOAD_HISTORY_PATH/history.json`
    /// (the official client's variable names the folder), else
    /// `$XDG_DATA_HOME/mapillary-tools-rs/upload-history.json`, else
    /// `~/.local/share/mapillary-tools-rs/upload-history.json`.
    pub fn default_path(env: &Environment) -> PathBuf {
        if let Some(dir) = env.get("MAPILLARY_UPLOAD_HISTORY_PATH") {
            return Path::new(dir).join("history.json");
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| env.home().map(|h| h.join(".local/share")))
            .unwrap_or_else(std::env::temp_dir);
        data.join("mapillary-tools-rs/upload-history.json")
    }

    /// Opens the history at `path` (empty when there is none yet).
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        Ok(History {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                data: read(path)?,
                forgotten: Vec::new(),
                dirty: false,
                saved_at: Instant::now(),
            }),
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// The handle of an upload already made, if any.
    pub fn handle(&self, account: &str, key: &str) -> Option<String> {
        self.with(|s| s.data.accounts.get(account)?.handles.get(key).cloned())
    }

    /// Records the handle of a finished upload (written out within seconds).
    pub fn record_handle(
        &self,
        account: &str,
        key: &str,
        handle: &str,
    ) -> Result<(), HistoryError> {
        let due = self.with(|s| {
            s.data
                .accounts
                .entry(account.to_string())
                .or_default()
                .handles
                .insert(key.to_string(), handle.to_string());
            s.dirty = true;
            s.saved_at.elapsed() >= SAVE_EVERY
        });
        if due { self.save() } else { Ok(()) }
    }

    /// Forgets handles (the server no longer knows them).
    pub fn forget_handles<'a>(
        &self,
        account: &str,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), HistoryError> {
        self.with(|s| {
            for k in keys {
                s.forgotten.push((account.to_string(), k.to_string()));
            }
            s.dirty = true;
        });
        self.save()
    }

    /// The record of a finished sequence, if it was finished.
    pub fn finished(&self, account: &str, sequence_digest: &str) -> Option<FinishedSequence> {
        self.with(|s| {
            s.data
                .accounts
                .get(account)?
                .sequences
                .get(sequence_digest)
                .cloned()
        })
    }

    /// Records a finished sequence, and writes the history out at once.
    pub fn record_finished(
        &self,
        account: &str,
        sequence_digest: &str,
        record: FinishedSequence,
    ) -> Result<(), HistoryError> {
        self.with(|s| {
            s.data
                .accounts
                .entry(account.to_string())
                .or_default()
                .sequences
                .insert(sequence_digest.to_string(), record);
            s.dirty = true;
        });
        self.save()
    }

    /// Writes what is new, merged with what another run may have written
    /// (the file is locked while it is read, merged and replaced, so two
    /// runs saving at once both keep what the other recorded).
    pub fn save(&self) -> Result<(), HistoryError> {
        self.with(|s| {
            if !s.dirty {
                return Ok(());
            }
            let options = ReplaceOptions::default();
            let result = replace::update(
                &self.path,
                Permissions::Keep { new: 0o600 },
                &options,
                |old| {
                    if let Some(bytes) = old {
                        s.data.merge(parse(&self.path, bytes)?);
                    }
                    for (account, key) in &s.forgotten {
                        if let Some(a) = s.data.accounts.get_mut(account) {
                            a.handles.remove(key);
                        }
                    }
                    s.data.version = 1;
                    serde_json::to_vec_pretty(&s.data)
                        .map_err(|e| HistoryError::Corrupt(self.path.clone(), e.to_string()))
                },
            );
            match result {
                Ok(()) => {}
                Err(UpdateError::Change(e)) => return Err(e),
                Err(UpdateError::Write(e)) => {
                    return Err(HistoryError::Write(self.path.clone(), e));
                }
            }
            s.forgotten.clear();
            s.dirty = false;
            s.saved_at = Instant::now();
            Ok(())
        })
    }
}

impl Drop for History {
    fn drop(&mut self) {
        let _ = self.save();
    }
}

fn read(path: &Path) -> Result<Data, HistoryError> {
    match fs::read(path) {
        Ok(bytes) => parse(path, &bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Data::default()),
        Err(e) => Err(HistoryError::Io(path.to_path_buf(), e)),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Data, HistoryError> {
    serde_json::from_slice(bytes)
        .map_err(|e| HistoryError::Corrupt(path.to_path_buf(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> FinishedSequence {
        FinishedSequence {
            cluster_id: id.to_string(),
            finished_at: "2026-01-01T00:00:00Z".to_string(),
            images: 3,
            organization: None,
        }
    }

    #[test]
    fn remembers_across_runs_and_merges_concurrent_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h/history.json");
        let a = History::open(&path).unwrap();
        let b = History::open(&path).unwrap();
        a.record_handle("srv 1", "mly_tools_x.jpg", "H1").unwrap();
        a.record_finished("srv 1", "md5a", record("c1")).unwrap();
        // Another run writing at the same time keeps the first run's work.
        b.record_finished("srv 1", "md5b", record("c2")).unwrap();
        drop(a);
        drop(b);
        let c = History::open(&path).unwrap();
        assert_eq!(c.handle("srv 1", "mly_tools_x.jpg").as_deref(), Some("H1"));
        assert_eq!(c.finished("srv 1", "md5a").unwrap().cluster_id, "c1");
        assert_eq!(c.finished("srv 1", "md5b").unwrap().cluster_id, "c2");
        assert_eq!(c.finished("srv 2", "md5a"), None);
        c.forget_handles("srv 1", ["mly_tools_x.jpg"]).unwrap();
        assert_eq!(
            History::open(&path)
                .unwrap()
                .handle("srv 1", "mly_tools_x.jpg"),
            None
        );
    }

    #[test]
    fn a_damaged_history_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        fs::write(&path, b"{ not json").unwrap();
        let err = History::open(&path).unwrap_err().to_string();
        assert!(err.contains("is damaged"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"{ not json");
    }
}
