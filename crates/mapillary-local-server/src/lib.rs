//! A local server that speaks the Mapillary API v4 as the official client
//! uses it: login, `me`, organizations, images by bounding box with
//! thumbnails, the resumable upload service, and `finish_upload` for zips
//! and image bundles, which checks what it receives. It keeps what it
//! receives in a folder, shows it on a page, and can inject faults.
//!
//! Tests start it in-process with [`LocalServer::start`]; the binary
//! `mapillary-local-server` runs it for the demo and for rehearsals.

pub mod cli;
mod conn;
pub mod faults;
mod http;
pub mod limits;
mod page;
pub mod seed;
pub mod state;
pub mod thumbnail;
pub mod validate;
pub mod video;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use faults::Fault;
pub use limits::{Limits, SequenceLimits};
pub use seed::Seed;
pub use state::{SequenceRecord, Stats, StoredImage};

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where received uploads and sequences are kept.
    pub data_dir: PathBuf,
    /// The address to listen on (127.0.0.1 unless told otherwise).
    pub host: IpAddr,
    /// The port (0: any free one).
    pub port: u16,
    /// Accounts, organizations and images.
    pub seed: Seed,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// How long login tokens live (forever when `None`).
    pub token_ttl: Option<Duration>,
    /// Log one line per request on stderr.
    pub log: bool,
    /// Limits on requests and connections.
    pub limits: Limits,
    /// What one sequence may hold at `finish_upload`.
    pub sequence_limits: SequenceLimits,
}

impl Config {
    /// The defaults: loopback, a free port, the built-in seed, no faults.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: Seed::default(),
            faults: Vec::new(),
            token_ttl: None,
            log: false,
            limits: Limits::default(),
            sequence_limits: SequenceLimits::default(),
        }
    }
}

/// A running server; stopped by [`LocalServer::stop`] or when dropped.
#[derive(Debug)]
pub struct LocalServer {
    addr: SocketAddr,
    state: Arc<state::State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalServer {
    /// Binds and starts serving on a thread of its own.
    pub fn start(config: Config) -> io::Result<LocalServer> {
        let log = config.log;
        let (host, port) = (config.host, config.port);
        let state = Arc::new(state::State::new(config)?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("mapillary-local-server")
            .build()?;
        let listener = runtime.block_on(listen(SocketAddr::new(host, port)))?;
        let addr = listener.local_addr()?;
        *state::lock(&state.base_url) = format!("http://{addr}");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name("mapillary-local-server".to_string())
            .spawn(move || {
                runtime.block_on(conn::serve(listener, served, rx, log));
                // Dropping the runtime ends the connections still open.
                runtime.shutdown_timeout(Duration::from_millis(200));
            })?;
        Ok(LocalServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The graph API root, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The upload service root.
    pub fn upload_url(&self) -> String {
        format!("{}/mapillary_public_uploads", self.url())
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its counters now.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// The sequences it has received.
    pub fn sequences(&self) -> Vec<SequenceRecord> {
        self.state.sequences()
    }

    /// Where it keeps what it receives.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.state.data_dir
    }

    /// Stops serving and waits for the server thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Binds with a queue long enough for bursts of connections (std's
/// listener asks the kernel for 128).
async fn listen(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(limits::LISTEN_BACKLOG)
}
