//! A small HTTP/1.1 server for tests of misbehaving services (one that
//! drops uploads, one that trickles): it reads each request's head, hands
//! the connection to the test's handler, and closes it afterwards. Every
//! connection has a thread of its own; the server stops when dropped.

#![allow(clippy::unwrap_used, dead_code)] // test code; not every test reads every field

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// A request as the handler sees it: its head read, its body not.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    reader: BufReader<TcpStream>,
    /// The connection, for the answer.
    pub stream: TcpStream,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads up to `n` bytes of the body (fewer if it ends first).
    pub fn read_body(&mut self, n: usize) -> Vec<u8> {
        let mut body = Vec::new();
        let _ = (&mut self.reader).take(n as u64).read_to_end(&mut body);
        body
    }

    /// Reads the whole body, as its Content-Length says.
    pub fn read_whole_body(&mut self) -> Vec<u8> {
        let n = self
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        self.read_body(n)
    }

    /// Answers with `status` and `body` (JSON), and closes.
    pub fn answer(&mut self, status: u16, body: &str) {
        let _ = write!(
            self.stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = self.stream.flush();
    }
}

/// A running test server.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 (a free port) that hands every request
    /// to `handle`.
    pub fn start(handle: impl Fn(&mut Request) + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::new(handle);
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let handle = handle.clone();
                std::thread::spawn(move || {
                    if let Some(mut request) = read_head(stream) {
                        handle(&mut request);
                    }
                });
            }
        });
        TestServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(stream: TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    Some(Request {
        method,
        path,
        headers,
        reader,
        stream,
    })
}
