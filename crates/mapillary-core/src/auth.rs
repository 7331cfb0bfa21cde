//! Credentials: where the user's access token comes from, and the profiles
//! file the official client shares.
//!
//! The same environment variables as the official client (mapillary_tools)
//! are honoured, so that a user who set them up once gets the same result:
//!
//! 1. `MAPILLARY_ACCESS_TOKEN`, else `MAPILLARY_UPLOAD_TOKEN`: a user access
//!    token, used as it is;
//! 2. a profile of the profiles file (`MAPILLARY_USERNAME` chooses it; with
//!    one profile only, that one);
//! 3. a login with `MAPILLARY_EMAIL` (or a `MAPILLARY_USERNAME` that is an
//!    email address) and `MAPILLARY_PASSWORD`, which needs the app's client
//!    token in `MAPILLARY_CLIENT_TOKEN`; the token it gives is cached in the
//!    profiles file, written with mode 0600.
//!
//! Tokens and passwords are [`Secret`]s: they print as `***` and never
//! appear in a message.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::files::replace::{self, Permissions, ReplaceError, ReplaceOptions, UpdateError};

/// A token or password. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of this secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_string();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The environment the credentials come from: a snapshot of the process
/// environment, or, in tests, any set of variables.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
    home: Option<PathBuf>,
}

impl Environment {
    /// The process environment.
    pub fn from_process() -> Environment {
        Environment {
            vars: std::env::vars()
                .filter(|(k, _)| k.starts_with("MAPILLARY_"))
                .collect(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    /// An environment with just these variables and home folder.
    pub fn with(vars: &[(&str, &str)], home: Option<&Path>) -> Environment {
        Environment {
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            home: home.map(Path::to_path_buf),
        }
    }

    /// A variable's value, when set and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// The user's home folder.
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }
}

/// One profile of the profiles file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The section name (the username).
    pub name: String,
    /// `user_upload_token`: the user access token.
    pub token: Secret,
    /// `MAPSettingsUserKey`: the user id.
    pub user_id: Option<String>,
    /// `MAPSettingsUsername`.
    pub username: Option<String>,
    /// `MAPOrganizationKey`, optional.
    pub organization: Option<String>,
}

/// Why credentials could not be found or stored.
#[derive(Debug)]
pub enum AuthError {
    /// No way to get a user token: says which variables to set.
    NoCredentials(String),
    /// The profiles file could not be read or written.
    ProfilesFile(PathBuf, io::Error),
    /// The profiles file is not in the expected format.
    BadProfilesFile(PathBuf, String),
    /// The profiles file could not be written.
    ProfilesWrite(PathBuf, ReplaceError),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::NoCredentials(what) => f.write_str(what),
            AuthError::ProfilesFile(path, e) => {
                write!(
                    f,
                    "profiles file {}: {}",
                    path.display(),
                    crate::io_reason(e)
                )
            }
            AuthError::BadProfilesFile(path, why) => {
                write!(f, "profiles file {}: {why}", path.display())
            }
            AuthError::ProfilesWrite(path, e) => {
                write!(f, "profiles file {}: {e}", path.display())
            }
        }
    }
}

impl std::error::Error for AuthError {}

/// The folder where the official client keeps its profiles files.
fn configs_folder(env: &Environment) -> Option<PathBuf> {
    env.home().map(|h| h.join(".config/mapillary/configs"))
}

/// The profiles file to write a login into: `MAPILLARY_CONFIG_PATH`, else
/// the official client's path for `MAPILLARY_CLIENT_TOKEN`
/// (`~/.config/mapillary/configs/<token with | replaced by _>`).
pub fn profiles_path(env: &Environment) -> Option<PathBuf> {
    if let Some(p) = env.get("MAPILLARY_CONFIG_PATH") {
        return Some(PathBuf::from(p));
    }
    let token = env.get("MAPILLARY_CLIENT_TOKEN")?;
    Some(configs_folder(env)?.join(token.replace('|', "_")))
}

/// The profiles files to read: the one [`profiles_path`] names, or, without
/// it, every file in the official client's configs folder (the user may have
/// logged in with the official client, whose client token this project
/// does not use).
fn profiles_files(env: &Environment) -> Vec<PathBuf> {
    if let Some(p) = profiles_path(env) {
        return vec![p];
    }
    let Some(dir) = configs_folder(env) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// An INI section: its name and its `key = value` entries, in order.
type Section = (String, Vec<(String, String)>);

/// Sections of an INI file as Python's configparser writes it: `[name]`
/// headers and `key = value` lines (option names keep their case).
fn parse_ini(text: &str) -> Result<Vec<Section>, String> {
    let mut sections: Vec<Section> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((name.trim().to_string(), Vec::new()));
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .or_else(|| line.split_once(':'))
            .ok_or_else(|| format!("line {} is neither a [section] nor key = value", n + 1))?;
        let section = sections
            .last_mut()
            .ok_or_else(|| format!("line {} comes before any [section]", n + 1))?;
        section
            .1
            .push((key.trim().to_string(), value.trim().to_string()));
    }
    Ok(sections)
}

fn write_ini(sections: &[Section]) -> String {
    let mut out = String::new();
    for (name, entries) in sections {
        out.push_str(&format!("[{name}]\n"));
        for (k, v) in entries {
            out.push_str(&format!("{k} = {v}\n"));
        }
        out.push('\n');
    }
    out
}

fn profile_from(name: &str, entries: &[(String, String)]) -> Option<Profile> {
    let get = |k: &str| {
        entries
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    Some(Profile {
        name: name.to_string(),
        token: Secret::new(get("user_upload_token")?),
        user_id: get("MAPSettingsUserKey"),
        username: get("MAPSettingsUsername"),
        organization: get("MAPOrganizationKey"),
    })
}

/// Every profile in the profiles files, in file order.
pub fn read_profiles(env: &Environment) -> Result<Vec<Profile>, AuthError> {
    let mut profiles = Vec::new();
    for path in profiles_files(env) {
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(AuthError::ProfilesFile(path, e)),
        };
        let sections =
            parse_ini(&text).map_err(|why| AuthError::BadProfilesFile(path.clone(), why))?;
        profiles.extend(
            sections
                .iter()
                .filter_map(|(name, entries)| profile_from(name, entries)),
        );
    }
    Ok(profiles)
}

/// Writes (or replaces) one profile in the profiles file at `path`, keeping
/// the others, atomically and with mode 0600 (the official client leaves the
/// file readable by everyone; a token is a password). The file is locked
/// while it is read and rewritten, so two logins at once both end up in it.
pub fn save_profile(path: &Path, profile: &Profile) -> Result<(), AuthError> {
    let mut entries = vec![(
        "user_upload_token".to_string(),
        profile.token.expose().to_string(),
    )];
    if let Some(id) = &profile.user_id {
        entries.push(("MAPSettingsUserKey".to_string(), id.clone()));
    }
    if let Some(u) = &profile.username {
        entries.push(("MAPSettingsUsername".to_string(), u.clone()));
    }
    if let Some(o) = &profile.organization {
        entries.push(("MAPOrganizationKey".to_string(), o.clone()));
    }
    let options = ReplaceOptions {
        sync: true,
        ..ReplaceOptions::default()
    };
    replace::update(path, Permissions::Exactly(0o600), &options, |old| {
        let mut sections = match old {
            Some(bytes) => {
                let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
                parse_ini(text)?
            }
            None => Vec::new(),
        };
        match sections.iter_mut().find(|(name, _)| *name == profile.name) {
            Some(section) => section.1 = entries.clone(),
            None => sections.push((profile.name.clone(), entries.clone())),
        }
        Ok(write_ini(&sections).into_bytes())
    })
    .map_err(|e| match e {
        UpdateError::Change(why) => AuthError::BadProfilesFile(path.to_path_buf(), why),
        UpdateError::Write(e) => AuthError::ProfilesWrite(path.to_path_buf(), e),
    })
}

/// Where a user token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `MAPILLARY_ACCESS_TOKEN` or `MAPILLARY_UPLOAD_TOKEN`.
    Variable(&'static str),
    /// A profile of the profiles file.
    Profile(String),
    /// A fresh login.
    Login,
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Variable(v) => write!(f, "{v}"),
            TokenSource::Profile(p) => write!(f, "profile '{p}'"),
            TokenSource::Login => f.write_str("a login"),
        }
    }
}

/// A user access token with what is known of its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    /// The token.
    pub token: Secret,
    /// Where it came from.
    pub source: TokenSource,
    /// The user id, when known.
    pub user_id: Option<String>,
    /// The username, when known.
    pub username: Option<String>,
    /// The organization of the profile, when it has one.
    pub organization: Option<String>,
}

/// Email and password for a login, with the client token it needs.
#[derive(Debug, Clone)]
pub struct LoginDetails {
    /// The account's email.
    pub email: String,
    /// Its password.
    pub password: Secret,
    /// The app's client token.
    pub client_token: Secret,
}

/// The credentials the environment offers.
#[derive(Debug, Clone)]
pub struct Credentials {
    env: Environment,
}

impl Credentials {
    /// Credentials from `env`.
    pub fn new(env: Environment) -> Credentials {
        Credentials { env }
    }

    /// The environment.
    pub fn env(&self) -> &Environment {
        &self.env
    }

    /// A user token that needs no network: from a variable or a profile.
    pub fn stored_token(&self) -> Result<Option<UserToken>, AuthError> {
        for var in ["MAPILLARY_ACCESS_TOKEN", "MAPILLARY_UPLOAD_TOKEN"] {
            if let Some(t) = self.env.get(var) {
                return Ok(Some(UserToken {
                    token: Secret::new(t),
                    source: TokenSource::Variable(var),
                    user_id: None,
                    username: self.env.get("MAPILLARY_USERNAME").map(str::to_string),
                    organization: None,
                }));
            }
        }
        Ok(self.profile()?.map(|p| UserToken {
            token: p.token,
            source: TokenSource::Profile(p.name.clone()),
            user_id: p.user_id,
            username: p.username.or(Some(p.name)),
            organization: p.organization,
        }))
    }

    /// The profile to use: the one `MAPILLARY_USERNAME` names, or the only
    /// one there is.
    pub fn profile(&self) -> Result<Option<Profile>, AuthError> {
        let profiles = read_profiles(&self.env)?;
        Ok(match self.env.get("MAPILLARY_USERNAME") {
            Some(name) => profiles
                .into_iter()
                .find(|p| p.name == name || p.username.as_deref() == Some(name)),
            None if profiles.len() == 1 => profiles.into_iter().next(),
            None => None,
        })
    }

    /// The username, without the network: `MAPILLARY_USERNAME`, else the
    /// profile's.
    pub fn username(&self) -> Option<String> {
        if let Some(u) = self.env.get("MAPILLARY_USERNAME") {
            return Some(u.to_string());
        }
        self.profile()
            .ok()
            .flatten()
            .map(|p| p.username.unwrap_or(p.name))
    }

    /// Email, password and client token for a login, if all are set.
    pub fn login_details(&self) -> Result<Option<LoginDetails>, AuthError> {
        let email = self.env.get("MAPILLARY_EMAIL").or_else(|| {
            self.env
                .get("MAPILLARY_USERNAME")
                .filter(|u| u.contains('@'))
        });
        let (Some(email), Some(password)) = (email, self.env.get("MAPILLARY_PASSWORD")) else {
            return Ok(None);
        };
        let client_token = self.env.get("MAPILLARY_CLIENT_TOKEN").ok_or_else(|| {
            AuthError::NoCredentials(
                "logging in with MAPILLARY_EMAIL and MAPILLARY_PASSWORD needs the app's client token in MAPILLARY_CLIENT_TOKEN (MLY|<app id>|<secret>); or set MAPILLARY_ACCESS_TOKEN to a user access token".to_string(),
            )
        })?;
        Ok(Some(LoginDetails {
            email: email.to_string(),
            password: Secret::new(password),
            client_token: Secret::new(client_token),
        }))
    }

    /// The message for a user with no credentials at all.
    pub fn none_found(&self) -> AuthError {
        let mut what = String::from(
            "no Mapillary credentials: set MAPILLARY_ACCESS_TOKEN to a user access token, or MAPILLARY_EMAIL, MAPILLARY_PASSWORD and MAPILLARY_CLIENT_TOKEN to log in",
        );
        if let Some(u) = self.env.get("MAPILLARY_USERNAME") {
            what.push_str(&format!(" (no profile named '{u}' was found)"));
        }
        AuthError::NoCredentials(what)
    }

    /// The explanation owed to users who still set the 2015 upload hashes.
    pub fn legacy_hash_note(&self) -> Option<&'static str> {
        (self.env.get("MAPILLARY_PERMISSION_HASH").is_some() || self.env.get("MAPILLARY_SIGNATURE_HASH").is_some()).then_some(
            "MAPILLARY_PERMISSION_HASH and MAPILLARY_SIGNATURE_HASH were upload policies of the retired 2015 service; they are ignored and never sent (today an access token is used)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("MLY|123|abcdef");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(
            s.redact("token MLY|123|abcdef rejected"),
            "token *** rejected"
        );
    }

    #[test]
    fn token_from_variables_first() {
        let env = Environment::with(
            &[
                ("MAPILLARY_UPLOAD_TOKEN", "u"),
                ("MAPILLARY_ACCESS_TOKEN", "a"),
            ],
            None,
        );
        let t = Credentials::new(env).stored_token().unwrap().unwrap();
        assert_eq!(t.token.expose(), "a");
        assert_eq!(t.source, TokenSource::Variable("MAPILLARY_ACCESS_TOKEN"));
    }

    #[test]
    fn profiles_file_round_trip_with_mode_0600() {
        let home = tempfile::tempdir().unwrap();
        let env = Environment::with(&[("MAPILLARY_CLIENT_TOKEN", "MLY|1|x")], Some(home.path()));
        let path = profiles_path(&env).unwrap();
        assert!(path.ends_with(".config/mapillary/configs/MLY_1_x"));
        // Another tool's profile survives.
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            "[bob]\nuser_upload_token = B\nMAPSettingsUsername = bob\n",
        )
        .unwrap();
        let alice = Profile {
            name: "alice".to_string(),
            token: Secret::new("TOKEN-A"),
            user_id: Some("7".to_string()),
            username: Some("alice".to_string()),
            organization: None,
        };
        save_profile(&path, &alice).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let profiles = read_profiles(&env).unwrap();
        assert_eq!(profiles.len(), 2);
        assert_eq!(profiles[1], alice);
        // Two profiles: MAPILLARY_USERNAME must choose.
        assert_eq!(Credentials::new(env.clone()).profile().unwrap(), None);
        let env = Environment::with(
            &[
                ("MAPILLARY_CLIENT_TOKEN", "MLY|1|x"),
                ("MAPILLARY_USERNAME", "alice"),
            ],
            Some(home.path()),
        );
        let t = Credentials::new(env).stored_token().unwrap().unwrap();
        assert_eq!(t.token.expose(), "TOKEN-A");
        assert_eq!(t.user_id.as_deref(), Some("7"));
    }

    #[test]
    fn profiles_of_the_official_client_are_found_without_a_client_token() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".config/mapillary/configs");
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("MLY_5675152195860640_x"),
            "[carol]\nuser_upload_token = C\nMAPSettingsUserKey = 9\n",
        )
        .unwrap();
        let creds = Credentials::new(Environment::with(&[], Some(home.path())));
        assert_eq!(creds.stored_token().unwrap().unwrap().token.expose(), "C");
        assert_eq!(creds.username().as_deref(), Some("carol"));
    }

    #[test]
    fn login_needs_a_client_token() {
        let env = Environment::with(
            &[("MAPILLARY_EMAIL", "a@b.c"), ("MAPILLARY_PASSWORD", "pw")],
            None,
        );
        let err = Credentials::new(env).login_details().unwrap_err();
        assert!(err.to_string().contains("MAPILLARY_CLIENT_TOKEN"));
        let env = Environment::with(
            &[
                ("MAPILLARY_USERNAME", "a@b.c"),
                ("MAPILLARY_PASSWORD", "pw"),
                ("MAPILLARY_CLIENT_TOKEN", "MLY|1|x"),
            ],
            None,
        );
        let d = Credentials::new(env).login_details().unwrap().unwrap();
        assert_eq!(d.email, "a@b.c");
        assert!(!format!("{d:?}").contains("pw\""));
    }

    #[test]
    fn bad_profiles_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profiles");
        fs::write(&path, "user_upload_token = x\n").unwrap();
        let env = Environment::with(&[("MAPILLARY_CONFIG_PATH", path.to_str().unwrap())], None);
        let err = read_profiles(&env).unwrap_err().to_string();
        assert!(err.contains("line 1 comes before any [section]"), "{err}");
    }
}
