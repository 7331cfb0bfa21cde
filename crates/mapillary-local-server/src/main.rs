//! mapillary-local-server: the Mapillary-compatible local server, for the
//! demo, tests, and rehearsing uploads without an account.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;

use mapillary_local_server::seed::{DEMO_CLIENT_TOKEN, DEMO_EMAIL, DEMO_PASSWORD, DEMO_TOKEN};
use mapillary_local_server::{Config, LocalServer, Seed, faults};

fn help() -> String {
    format!(
        "mapillary-local-server {version}
A local server that speaks the Mapillary API v4 (graph API, upload service,
thumbnails) for tests, the demo, and rehearsing uploads without an account.

Usage: mapillary-local-server --data DIR [options]

Options:
  --data DIR          Keep uploads and received sequences here (required).
  --host ADDR         Listen on this address (default 127.0.0.1: this machine only).
  --port N            Listen on this port (default 0: any free one).
  --seed FILE         Users, organizations and images from a JSON file
                      (default: one demo account, one organization, 60 images in Berlin).
  --fault SPEC        Inject a fault; repeatable. SPEC is WHAT[:OPTIONS][@SCOPE]:
                      WHAT = an HTTP status (503), drop-after=SIZE (3MiB) or slow=DURATION (50ms);
                      OPTIONS = first=N, every=N, retry-after=S; SCOPE = graph, upload, thumbnails, all.
                      E.g. 503:first=1@graph, drop-after=3MiB@upload, 429:every=3@upload.
  --token-ttl DUR     Login tokens expire after DUR (e.g. 2s).
  -q, --quiet         Do not log requests.
  -h, --help          Print this help.
  -V, --version       Print the version.

On start it prints one line, `listening on http://HOST:PORT`, then logs one
line per request on stderr (never a token). It stops on Ctrl-C or SIGTERM.

Default account: email {DEMO_EMAIL}, password {DEMO_PASSWORD},
access token {DEMO_TOKEN}; client token {DEMO_CLIENT_TOKEN}.

Point the tools at it:
  export MAPILLARY_GRAPH_API_ENDPOINT=http://127.0.0.1:PORT
  export MAPILLARY_UPLOAD_ENDPOINT=http://127.0.0.1:PORT/mapillary_public_uploads
  export MAPILLARY_ACCESS_TOKEN={DEMO_TOKEN}
Received sequences: http://127.0.0.1:PORT/ (page), /local/sequences (JSON), /local/stats.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

fn parse() -> Result<Option<Config>, String> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut data: Option<PathBuf> = None;
    let mut config = Config::new(PathBuf::new());
    config.log = true;
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("data") => data = Some(parser.value().map_err(|e| e.to_string())?.into()),
            Long("host") => {
                let v = parser.value().map_err(|e| e.to_string())?;
                config.host = v.to_string_lossy().parse::<IpAddr>().map_err(|_| {
                    format!("--host: '{}' is not an IP address", v.to_string_lossy())
                })?;
            }
            Long("port") => {
                let v = parser.value().map_err(|e| e.to_string())?;
                config.port = v
                    .to_string_lossy()
                    .parse()
                    .map_err(|_| "--port must be a number from 0 to 65535".to_string())?;
            }
            Long("seed") => {
                let v: PathBuf = parser.value().map_err(|e| e.to_string())?.into();
                config.seed = Seed::from_file(&v)?;
            }
            Long("fault") => {
                let v = parser.value().map_err(|e| e.to_string())?;
                config
                    .faults
                    .push(faults::parse(&v.to_string_lossy()).map_err(|e| e.to_string())?);
            }
            Long("token-ttl") => {
                let v = parser.value().map_err(|e| e.to_string())?;
                config.token_ttl = Some(
                    faults::duration(&v.to_string_lossy())
                        .ok_or("--token-ttl: use a duration such as 2s or 500ms")?,
                );
            }
            Short('q') | Long("quiet") => config.log = false,
            Short('h') | Long("help") => {
                print!("{}", help());
                return Ok(None);
            }
            Short('V') | Long("version") => {
                println!("mapillary-local-server {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    config.data_dir = data.ok_or("--data DIR is required (where received uploads are kept)")?;
    Ok(Some(config))
}

fn main() -> ExitCode {
    let config = match parse() {
        Ok(Some(c)) => c,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "mapillary-local-server: {e}\nUsage: mapillary-local-server --data DIR [options] (see --help)"
            );
            return ExitCode::from(2);
        }
    };
    let data_dir = config.data_dir.clone();
    let server = match LocalServer::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "mapillary-local-server: cannot start ({}): {e}",
                data_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", server.url());
    let _ = std::io::stdout().flush();
    let (tx, rx) = mpsc::channel();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = tx.send(());
    }) {
        eprintln!("mapillary-local-server: cannot handle signals: {e}");
        return ExitCode::FAILURE;
    }
    let _ = rx.recv();
    server.stop();
    eprintln!("mapillary-local-server: stopped");
    ExitCode::SUCCESS
}
