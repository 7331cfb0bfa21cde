//! A local Mapillary server started for one test, and the environment
//! that points the tools at it: a home folder of their own (for profiles),
//! an upload history of their own, and no credentials unless the test
//! gives some.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapillary_local_server::{Config, LocalServer, Seed, faults};

/// A running local server with a private home folder for the tools.
#[derive(Debug)]
pub struct Sandbox {
    /// The server.
    pub server: LocalServer,
    home: tempfile::TempDir,
    _data: tempfile::TempDir,
}

impl Sandbox {
    /// Starts a server with `seed` and `fault_specs` (see
    /// `mapillary_local_server::faults`).
    pub fn start(seed: Seed, fault_specs: &[&str]) -> Sandbox {
        Sandbox::start_with(seed, fault_specs, None)
    }

    /// As [`Sandbox::start`], with login tokens that expire after `ttl`.
    pub fn start_with(
        seed: Seed,
        fault_specs: &[&str],
        ttl: Option<std::time::Duration>,
    ) -> Sandbox {
        let data = tempfile::tempdir().expect("server folder");
        let mut config = Config::new(data.path());
        config.seed = seed;
        config.faults = fault_specs
            .iter()
            .map(|f| faults::parse(f).expect("a valid fault"))
            .collect();
        config.token_ttl = ttl;
        Sandbox {
            server: LocalServer::start(config).expect("the local server starts"),
            home: tempfile::tempdir().expect("home folder"),
            _data: data,
        }
    }

    /// The tools' home folder (profiles go under .config/mapillary).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The upload history folder.
    pub fn history(&self) -> PathBuf {
        self.home.path().join("history")
    }

    /// A command for `bin` with a clean environment pointing at the server,
    /// plus `vars`.
    pub fn command(&self, bin: &str, vars: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("HOME", self.home.path())
            .env("TZ", "UTC")
            .env("MAPILLARY_GRAPH_API_ENDPOINT", self.server.url())
            .env("MAPILLARY_UPLOAD_ENDPOINT", self.server.upload_url())
            .env("MAPILLARY_UPLOAD_HISTORY_PATH", self.history());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `bin` with `args` in `cwd`; (exit code, stdout, stderr).
    pub fn run(
        &self,
        bin: &str,
        args: &[&OsStr],
        vars: &[(&str, &str)],
        cwd: &Path,
    ) -> (i32, String, String) {
        let out = self
            .command(bin, vars)
            .args(args)
            .current_dir(cwd)
            .output()
            .expect("the tool starts");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code().unwrap_or(-1);
        assert_ne!(code, 101, "the tool panicked:\n{stderr}");
        assert!(!stderr.contains("panicked"), "the tool panicked:\n{stderr}");
        (code, stdout, stderr)
    }
}

/// The demo account's access token, as a `MAPILLARY_ACCESS_TOKEN` pair.
pub const DEMO_TOKEN: (&str, &str) = (
    "MAPILLARY_ACCESS_TOKEN",
    mapillary_local_server::seed::DEMO_TOKEN,
);

/// The seed with the default demo account.
pub fn demo_seed() -> Seed {
    Seed::default()
}
