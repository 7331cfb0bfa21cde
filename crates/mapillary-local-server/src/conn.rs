//! Accepting connections within bounds: at most `max_connections` at once,
//! idle ones closed to make room when the server is full, and a pause
//! instead of a busy loop when no file descriptor is left.
//!
//! Each connection is served by hyper with a header read timeout (which
//! also closes connections that send nothing); body timeouts are applied
//! by the handlers that read bodies.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::http;
use crate::limits::{ACCEPT_BACKOFF, SHED_AFTER_IDLE};
use crate::state::{State, lock};

/// What the accept loop knows of one open connection.
#[derive(Debug)]
struct Connection {
    /// Requests being answered now.
    in_flight: AtomicUsize,
    /// When it last did something (accepted, read a byte, answered), in
    /// milliseconds since the server started.
    last_active: AtomicU64,
    /// Told to close (to make room).
    close: Notify,
}

/// The open connections.
#[derive(Debug)]
struct Registry {
    epoch: Instant,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    /// A connection ended.
    ended: Notify,
    next_id: AtomicU64,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn len(&self) -> usize {
        lock(&self.open).len()
    }

    /// Asks the connection idle longest (none of its requests in progress,
    /// nothing done for [`SHED_AFTER_IDLE`]) to close; whether there was one.
    fn shed_one(&self) -> bool {
        let now = self.now_ms();
        let grace = SHED_AFTER_IDLE.as_millis() as u64;
        let open = lock(&self.open);
        let victim = open
            .values()
            .filter(|c| c.in_flight.load(Ordering::SeqCst) == 0)
            .map(|c| (c.last_active.load(Ordering::SeqCst), c))
            .filter(|(t, _)| now.saturating_sub(*t) >= grace)
            .min_by_key(|(t, _)| *t);
        match victim {
            Some((_, c)) => {
                // Once asked, it must not be picked again while it goes.
                c.last_active.store(u64::MAX, Ordering::SeqCst);
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Removes a connection from the registry when its task ends, however it
/// ends.
struct Registered {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.registry.open).remove(&self.id);
        self.registry.ended.notify_one();
    }
}

/// The stream, noting each read as activity.
struct Tracked {
    stream: TcpStream,
    conn: Arc<Connection>,
    registry: Arc<Registry>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            let now = self.registry.now_ms();
            self.conn.last_active.store(now, Ordering::SeqCst);
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Counts a request as in progress on its connection until dropped.
struct InFlight {
    conn: Arc<Connection>,
    registry: Arc<Registry>,
}

impl InFlight {
    fn new(conn: &Arc<Connection>, registry: &Arc<Registry>) -> InFlight {
        conn.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight {
            conn: conn.clone(),
            registry: registry.clone(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.registry.now_ms();
        self.conn.last_active.store(now, Ordering::SeqCst);
        self.conn.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether an accept error means the process (or system) has no file
/// descriptor or memory left: waiting, or closing a connection, helps.
fn out_of_resources(e: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 (Linux numbering).
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12)) || e.kind() == io::ErrorKind::OutOfMemory
}

/// Accepts and serves connections until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
    log: bool,
) {
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        open: Mutex::new(HashMap::new()),
        ended: Notify::new(),
        next_id: AtomicU64::new(0),
    });
    let max = state.limits.max_connections.max(1);
    loop {
        // Make room before accepting: close an idle connection, else wait
        // for one to end (never spin).
        while registry.len() >= max {
            if !registry.shed_one() {
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = registry.ended.notified() => {}
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
                continue;
            }
            state.with_stats(|s| s.connections_shed += 1);
            tokio::select! {
                _ = &mut shutdown => return,
                _ = registry.ended.notified() => {}
                _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
            }
        }
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                state.with_stats(|s| s.accept_errors += 1);
                if out_of_resources(&e) && registry.shed_one() {
                    state.with_stats(|s| s.connections_shed += 1);
                }
                // Out of descriptors, the same error comes back until one
                // is freed: pause rather than spin. Other errors (a client
                // that gave up before it was accepted) are per connection.
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = registry.ended.notified() => {}
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = registry.next_id.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Connection {
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(registry.now_ms()),
            close: Notify::new(),
        });
        lock(&registry.open).insert(id, conn.clone());
        let registered = Registered {
            registry: registry.clone(),
            id,
        };
        let state = state.clone();
        let registry = registry.clone();
        let header_timeout = state.limits.header_timeout;
        tokio::spawn(async move {
            let _registered = registered;
            let io = Tracked {
                stream,
                conn: conn.clone(),
                registry: registry.clone(),
            };
            let service_conn = conn.clone();
            let service_registry = registry.clone();
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let state = state.clone();
                let in_flight = InFlight::new(&service_conn, &service_registry);
                async move {
                    let _in_flight = in_flight;
                    let method = req.method().clone();
                    let path = req.uri().path().to_string();
                    let result = http::handle(state, req).await;
                    if log {
                        match &result {
                            Ok(r) => eprintln!("{method} {path} {}", r.status().as_u16()),
                            Err(cut) => eprintln!("{method} {path} cut: {cut}"),
                        }
                    }
                    result
                }
            });
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let serving = builder.serve_connection(TokioIo::new(io), service);
            tokio::select! {
                _ = serving => {}
                _ = conn.close.notified() => {}
            }
        });
    }
}
