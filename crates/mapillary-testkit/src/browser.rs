//! Pages checked in a real browser: headless Chromium (Debian's package,
//! found by [`crate::chromium`]) driven over the DevTools protocol, so that
//! a test loads a page as a reader would and asks the browser itself where
//! things are drawn, and what went wrong.
//!
//! [`open`] starts a browser of its own (a new empty profile in a
//! temporary folder), loads a URL (`file://` or a server on this machine)
//! and waits for the load event. Then [`Page::eval`] runs JavaScript in the
//! page and returns its value as JSON, and [`Page::log`] has everything the
//! page reported: console messages, uncaught exceptions, every request and
//! every failed one.
//!
//! Tests never touch the internet: every `http`/`https` request the page
//! makes to anything but this machine is held by the browser before it is
//! sent (the protocol's `Fetch` domain) and answered by the test
//! ([`open_with`]) or refused; host names other than `localhost` do not
//! resolve at all.

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::io::{self, Read as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tungstenite::{Message, WebSocket};

/// What [`Page::eval`] returns: the JSON value of the expression.
pub use serde_json::Value;

/// How long to wait for the browser before calling it stuck. Not a speed
/// target: only a guard against a hang, generous for a busy machine.
const PATIENCE: Duration = Duration::from_secs(90);

/// One message the page wrote to its console, or the browser logged for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// `error`, `warning`, `info`, `log`, `debug`, `verbose`, ….
    pub level: String,
    /// The text.
    pub text: String,
}

/// A request the page made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its URL.
    pub url: String,
    /// `GET`, `POST`, ….
    pub method: String,
}

/// Everything a page reported while the test watched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageLog {
    /// Console messages and browser log entries, in order.
    pub console: Vec<ConsoleEntry>,
    /// Uncaught exceptions, as the browser describes them.
    pub exceptions: Vec<String>,
    /// Every request, in the order they were sent (the page's own
    /// document first).
    pub requests: Vec<Request>,
    /// The URLs of the requests that finished loading.
    pub loaded: Vec<String>,
    /// Requests that failed (`url: reason`) or got an HTTP error status.
    pub failures: Vec<String>,
    /// Requests to other machines that the harness refused (their URLs).
    pub refused: Vec<String>,
}

impl PageLog {
    /// Everything that went wrong: console errors and warnings, uncaught
    /// exceptions, failed and refused requests; empty for a page that
    /// loaded cleanly.
    pub fn problems(&self) -> Vec<String> {
        let console = self
            .console
            .iter()
            .filter(|c| c.level == "error" || c.level == "warning")
            .map(|c| format!("console {}: {}", c.level, c.text));
        let exceptions = self.exceptions.iter().map(|e| format!("exception: {e}"));
        let failures = self.failures.iter().map(|f| format!("request failed: {f}"));
        let refused = self.refused.iter().map(|u| format!("request refused: {u}"));
        console
            .chain(exceptions)
            .chain(failures)
            .chain(refused)
            .collect()
    }

    /// The URLs of every request other than to `own` (the page itself).
    pub fn requests_other_than(&self, own: &str) -> Vec<String> {
        self.requests
            .iter()
            .filter(|r| r.url != own)
            .map(|r| r.url.clone())
            .collect()
    }
}

/// A test's answer to a request for another machine (see [`open_with`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: String,
    /// Its body.
    pub body: Vec<u8>,
}

type Answer = Box<dyn FnMut(&str) -> Option<Response>>;

/// A page loaded in a headless Chromium of its own, until dropped.
pub struct Page {
    url: String,
    child: Child,
    socket: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    log: PageLog,
    loaded: bool,
    answer: Answer,
    request_urls: BTreeMap<String, String>,
    stderr_path: PathBuf,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("url", &self.url)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

/// The `file://` URL of a file (its path made absolute, and every byte
/// other than letters, digits and `/-._~` percent-encoded).
pub fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut url = String::from("file://");
    for &b in absolute.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// Loads `url` in a new headless Chromium and waits for its load event;
/// `None` (with a message saying the test is skipped) when Chromium is not
/// installed. Requests to other machines are refused.
pub fn open(url: &str) -> Option<Page> {
    open_with(url, |_| None)
}

/// As [`open`], with `answer` answering the requests for other machines
/// (by URL) in place of the internet; those it answers `None` are refused.
pub fn open_with(
    url: &str,
    answer: impl FnMut(&str) -> Option<Response> + 'static,
) -> Option<Page> {
    let program = crate::chromium()?;
    let mut page = Page::launch(&program, Box::new(answer));
    page.navigate(url);
    Some(page)
}

/// Whether `url` is for this machine (http or https to localhost or a
/// loopback address).
fn is_loopback(url: &str) -> bool {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Page {
    fn launch(program: &Path, answer: Answer) -> Page {
        let profile = tempfile::tempdir().expect("a profile folder for chromium");
        let stderr_path = profile.path().join("chromium.stderr");
        let stderr = fs::File::create(&stderr_path).expect("chromium's log file");
        let mut child = Command::new(program)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-features=MediaRouter,OptimizationHints,Translate",
                "--window-size=1280,1024",
                "--force-device-scale-factor=1",
                // Only this machine resolves: nothing can leave it.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("chromium starts");
        let socket = match Page::connect_when_ready(profile.path()) {
            Ok(socket) => socket,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{e}\n{}", tail(&stderr_path));
            }
        };
        let mut page = Page {
            url: String::new(),
            child,
            socket,
            session: String::new(),
            next_id: 0,
            log: PageLog::default(),
            loaded: false,
            answer,
            request_urls: BTreeMap::new(),
            stderr_path,
            _profile: profile,
        };
        let target = page.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = page.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        page.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        for domain in ["Runtime", "Log", "Network", "Page"] {
            page.command(&format!("{domain}.enable"), json!({}));
        }
        page.command(
            "Fetch.enable",
            json!({"patterns": [{"urlPattern": "http://*"}, {"urlPattern": "https://*"}]}),
        );
        page
    }

    /// Waits for chromium to write its DevTools port, then connects.
    fn connect_when_ready(profile: &Path) -> Result<WebSocket<TcpStream>, String> {
        let started = Instant::now();
        let port_file = profile.join("DevToolsActivePort");
        let (port, path) = loop {
            if let Ok(text) = fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break (port.trim().to_string(), path.trim().to_string());
                }
            }
            if started.elapsed() > PATIENCE {
                return Err(format!(
                    "chromium did not open its DevTools port within {} s",
                    PATIENCE.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let address = format!("127.0.0.1:{port}");
        let stream = TcpStream::connect(&address)
            .map_err(|e| format!("chromium's DevTools port {address}: {e}"))?;
        let (socket, _) = tungstenite::client(format!("ws://{address}{path}"), stream)
            .map_err(|e| format!("DevTools WebSocket handshake: {e}"))?;
        // Reads wake up now and then, so that a silent browser ends in a
        // message instead of a hang.
        socket
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| format!("a read timeout: {e}"))?;
        Ok(socket)
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let mut message = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .unwrap_or_else(|e| panic!("sending {method} to chromium: {e}"));
        self.next_id
    }

    /// Sends a command (to the page, or with `session` `None` to the
    /// browser) and waits for its result, handling events meanwhile.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        let id = self.send(session, method, params);
        let started = Instant::now();
        loop {
            if let Some(message) = self.receive(started, method) {
                if message["id"].as_u64() == Some(id) {
                    if let Some(error) = message.get("error") {
                        panic!("chromium refused {method}: {error}");
                    }
                    return message["result"].clone();
                }
                self.handle(&message);
            }
        }
    }

    fn command(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params)
    }

    /// The next message, or `None` when none came for a moment.
    fn receive(&mut self, started: Instant, waiting_for: &str) -> Option<Value> {
        if started.elapsed() > PATIENCE {
            panic!(
                "chromium did not answer {waiting_for} within {} s:\n{}",
                PATIENCE.as_secs(),
                tail(&self.stderr_path)
            );
        }
        match self.socket.read() {
            Ok(Message::Text(text)) => Some(
                serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("chromium sent something that is not JSON: {e}")),
            ),
            Ok(_) => None,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!(
                "the DevTools connection broke while waiting for {waiting_for}: {e}\n{}",
                tail(&self.stderr_path)
            ),
        }
    }

    /// Records an event, and answers the requests the browser holds.
    fn handle(&mut self, message: &Value) {
        let params = &message["params"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        match message["method"].as_str().unwrap_or_default() {
            "Page.loadEventFired" => self.loaded = true,
            "Runtime.consoleAPICalled" => {
                let args: Vec<String> = params["args"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|v| match v.get("value") {
                                Some(Value::String(s)) => s.clone(),
                                Some(other) => other.to_string(),
                                None => text(&v["description"]),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.log.console.push(ConsoleEntry {
                    level: text(&params["type"]),
                    text: args.join(" "),
                });
            }
            "Log.entryAdded" => {
                let entry = &params["entry"];
                let mut line = text(&entry["text"]);
                if let Some(url) = entry["url"].as_str() {
                    line = format!("{line} ({url})");
                }
                self.log.console.push(ConsoleEntry {
                    level: text(&entry["level"]),
                    text: line,
                });
            }
            "Runtime.exceptionThrown" => {
                let details = &params["exceptionDetails"];
                let description = details["exception"]["description"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| text(&details["text"]));
                self.log.exceptions.push(description);
            }
            "Network.requestWillBeSent" => {
                let url = text(&params["request"]["url"]);
                self.request_urls
                    .insert(text(&params["requestId"]), url.clone());
                self.log.requests.push(Request {
                    url,
                    method: text(&params["request"]["method"]),
                });
            }
            "Network.responseReceived" => {
                let status = params["response"]["status"].as_u64().unwrap_or(0);
                if status >= 400 {
                    self.log.failures.push(format!(
                        "{}: HTTP status {status}",
                        text(&params["response"]["url"])
                    ));
                }
            }
            "Network.loadingFinished" => {
                let url = self
                    .request_urls
                    .get(&text(&params["requestId"]))
                    .cloned()
                    .unwrap_or_default();
                self.log.loaded.push(url);
            }
            "Network.loadingFailed" => {
                let url = self
                    .request_urls
                    .get(&text(&params["requestId"]))
                    .cloned()
                    .unwrap_or_default();
                self.log
                    .failures
                    .push(format!("{url}: {}", text(&params["errorText"])));
            }
            "Fetch.requestPaused" => self.answer_request(params),
            _ => {}
        }
    }

    fn answer_request(&mut self, params: &Value) {
        let id = params["requestId"].as_str().unwrap_or_default().to_string();
        let url = params["request"]["url"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if is_loopback(&url) {
            self.command_no_wait("Fetch.continueRequest", json!({"requestId": id}));
            return;
        }
        match (self.answer)(&url) {
            Some(response) => {
                let body = data_encoding::BASE64.encode(&response.body);
                self.command_no_wait(
                    "Fetch.fulfillRequest",
                    json!({
                        "requestId": id,
                        "responseCode": response.status,
                        "responseHeaders": [{"name": "Content-Type", "value": response.content_type}],
                        "body": body,
                    }),
                );
            }
            None => {
                self.log.refused.push(url);
                self.command_no_wait(
                    "Fetch.failRequest",
                    json!({"requestId": id, "errorReason": "BlockedByClient"}),
                );
            }
        }
    }

    /// Sends a command whose result does not matter (its reply is read
    /// and dropped like any other message).
    fn command_no_wait(&mut self, method: &str, params: Value) {
        let session = self.session.clone();
        self.send(Some(&session), method, params);
    }

    fn navigate(&mut self, url: &str) {
        self.url = url.to_string();
        self.loaded = false;
        let result = self.command("Page.navigate", json!({"url": url}));
        if let Some(error) = result["errorText"].as_str() {
            panic!("chromium could not load {url}: {error}");
        }
        let started = Instant::now();
        while !self.loaded {
            if let Some(message) = self.receive(started, "the page's load event") {
                self.handle(&message);
            }
        }
        // One round trip more, so that what the page did while loading
        // has been reported.
        self.eval("0");
    }

    /// The URL loaded.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `expression` in the page (a promise is awaited) and returns its
    /// value as JSON, or the exception it threw.
    pub fn try_eval(&mut self, expression: &str) -> Result<Value, String> {
        let reply = self.command(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(details) = reply.get("exceptionDetails") {
            let description = details["exception"]["description"]
                .as_str()
                .or(details["text"].as_str())
                .unwrap_or("an exception");
            return Err(description.to_string());
        }
        Ok(reply["result"]["value"].clone())
    }

    /// [`Page::try_eval`], failing the test on an exception.
    pub fn eval(&mut self, expression: &str) -> Value {
        self.try_eval(expression)
            .unwrap_or_else(|e| panic!("{expression}\nthrew: {e}"))
    }

    /// Waits until `expression` is true in the page (checked every 50 ms;
    /// a page that never gets there fails the test after a long while).
    pub fn wait_for(&mut self, expression: &str) {
        let started = Instant::now();
        while self.eval(expression) != Value::Bool(true) {
            if started.elapsed() > PATIENCE {
                panic!(
                    "{expression} was still not true after {} s; the page reported: {:?}",
                    PATIENCE.as_secs(),
                    self.log
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until what the page reported satisfies `done` (`what` says
    /// what is awaited, for the message if it never comes).
    pub fn wait_until(&mut self, what: &str, done: impl Fn(&PageLog) -> bool) {
        let started = Instant::now();
        loop {
            self.eval("0");
            if done(&self.log) {
                return;
            }
            if started.elapsed() > PATIENCE {
                panic!(
                    "still waiting for {what} after {} s; the page reported: {:?}",
                    PATIENCE.as_secs(),
                    self.log
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the page reported so far.
    pub fn log(&mut self) -> &PageLog {
        // A round trip: events sent before its reply are in.
        self.eval("0");
        &self.log
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.socket.send(Message::text(
            json!({"id": u64::MAX, "method": "Browser.close", "params": {}}).to_string(),
        ));
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(10) {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines chromium wrote to stderr, for a failure message.
fn tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: VecDeque<&str> = text.lines().rev().take(20).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_file(dir: &Path, html: &str) -> String {
        let path = dir.join("page.html");
        fs::write(&path, html).expect("writable");
        file_url(&path)
    }

    #[test]
    fn loopback_urls_are_told_apart_from_others() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://localhost/",
            "https://[::1]:3000/a",
            "http://user@127.0.0.2/",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://tile.openstreetmap.org/1/0/0.png",
            "http://127.0.0.1.example.com/",
            "http://10.0.0.1/",
            "file:///tmp/a.html",
            "http://[2001:db8::1]/",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
        assert_eq!(
            file_url(Path::new("/tmp/a b/<c>&é.html")),
            "file:///tmp/a%20b/%3Cc%3E%26%C3%A9.html"
        );
    }

    #[test]
    fn a_clean_page_reports_nothing_and_positions_are_read_from_the_browser() {
        let dir = tempfile::tempdir().expect("a folder");
        let url = page_file(
            dir.path(),
            "<!DOCTYPE html><html><body style=\"margin:0\">\
             <div id=\"box\" style=\"position:absolute;left:37px;top:51px;width:10px;height:20px\"></div>\
             <script>console.log('hello');</script></body></html>",
        );
        let Some(mut page) = open(&url) else { return };
        let rect = page.eval(
            "(() => { const r = document.getElementById('box').getBoundingClientRect(); \
             return [r.left, r.top, r.width, r.height]; })()",
        );
        assert_eq!(rect, json!([37, 51, 10, 20]));
        let log = page.log().clone();
        assert_eq!(log.problems(), Vec::<String>::new());
        assert_eq!(log.requests_other_than(&url), Vec::<String>::new());
        assert_eq!(
            log.requests.first().map(|r| r.url.as_str()),
            Some(url.as_str())
        );
        assert!(
            log.console
                .iter()
                .any(|c| c.level == "log" && c.text == "hello")
        );
        assert_eq!(
            page.try_eval("null.x").map_err(|e| e.contains("TypeError")),
            Err(true)
        );
    }

    #[test]
    fn errors_exceptions_and_requests_for_the_internet_are_reported() {
        let dir = tempfile::tempdir().expect("a folder");
        let url = page_file(
            dir.path(),
            "<!DOCTYPE html><html><body>\
             <img src=\"https://tile.openstreetmap.org/0/0/0.png\">\
             <img src=\"missing.png\">\
             <script>console.error('broken', 42);</script><script>throw new Error('thrown');</script>\
             </body></html>",
        );
        let Some(mut page) = open(&url) else { return };
        let log = page.log().clone();
        let problems = log.problems().join("\n");
        assert!(problems.contains("console error: broken 42"), "{problems}");
        assert!(
            log.exceptions.iter().any(|e| e.contains("Error: thrown")),
            "{problems}"
        );
        assert_eq!(log.refused, ["https://tile.openstreetmap.org/0/0/0.png"]);
        assert!(
            log.failures
                .iter()
                .any(|f| f.ends_with("missing.png: net::ERR_FILE_NOT_FOUND")),
            "{problems}"
        );
        assert_eq!(log.requests_other_than(&url).len(), 2, "{:?}", log.requests);
    }

    #[test]
    fn requests_for_other_machines_can_be_answered_by_the_test() {
        let dir = tempfile::tempdir().expect("a folder");
        let url = page_file(
            dir.path(),
            "<!DOCTYPE html><html><body><img id=\"i\" src=\"https://tiles.example/1.svg\"></body></html>",
        );
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"16\" height=\"8\"/>";
        let Some(mut page) = open_with(&url, move |u| {
            (u == "https://tiles.example/1.svg").then(|| Response {
                status: 200,
                content_type: "image/svg+xml".to_string(),
                body: svg.as_bytes().to_vec(),
            })
        }) else {
            return;
        };
        page.wait_for("document.getElementById('i').complete");
        assert_eq!(
            page.eval("document.getElementById('i').naturalWidth"),
            json!(16)
        );
        let log = page.log().clone();
        assert_eq!(log.problems(), Vec::<String>::new());
        assert_eq!(
            log.requests_other_than(&url),
            ["https://tiles.example/1.svg"]
        );
    }
}

/// Geometry for checking a drawn map (the geotag map, the local server's
/// page) against the positions it should show, independently of the
/// page's own arithmetic.
pub mod geometry {
    use serde_json::Value;

    /// Web Mercator world coordinates (x east, y south, 0 to 1), by the
    /// OpenStreetMap wiki's formula.
    pub fn mercator(lat: f64, lon: f64) -> (f64, f64) {
        let x = (lon + 180.0) / 360.0;
        let y = (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0;
        (x, y)
    }

    /// A JSON `[x, y]` as a pair. Panics (failing the test) on anything else.
    pub fn pair(v: &Value) -> (f64, f64) {
        match (v[0].as_f64(), v[1].as_f64()) {
            (Some(x), Some(y)) => (x, y),
            _ => panic!("not a point: {v}"),
        }
    }

    /// Whether two screen points are within `pixels` of each other.
    pub fn near(a: (f64, f64), b: (f64, f64), pixels: f64) -> bool {
        (a.0 - b.0).hypot(a.1 - b.1) <= pixels
    }

    /// The screen position of world coordinates, by the drawing's `scale`,
    /// `left` and `top` and the SVG's screen transform `ctm` (six numbers)
    /// as the page read them.
    pub fn on_screen(read: &Value, (x, y): (f64, f64)) -> (f64, f64) {
        let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        let m: Vec<f64> = read["ctm"]
            .as_array()
            .map(|a| a.iter().map(number).collect())
            .unwrap_or_default();
        assert_eq!(m.len(), 6, "no screen transform in {read}");
        let scale = number(&read["scale"]);
        let px = x * scale - number(&read["left"]);
        let py = y * scale - number(&read["top"]);
        (m[0] * px + m[2] * py + m[4], m[1] * px + m[3] * py + m[5])
    }

    /// Asserts that `drawn` (screen points) is `world` (Mercator points)
    /// under one positive scale for both axes and a shift, each point
    /// within `pixels` of where that fit puts it: the page's own scale is
    /// not trusted, only the shape. Returns the fitted scale (pixels per
    /// world unit).
    pub fn assert_one_scale(world: &[(f64, f64)], drawn: &[(f64, f64)], pixels: f64) -> f64 {
        assert_eq!(world.len(), drawn.len(), "one drawn point per position");
        assert!(world.len() >= 2, "too few points to fit a scale");
        let n = world.len() as f64;
        let mean = |v: &[(f64, f64)]| {
            let (sx, sy) = v.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
            (sx / n, sy / n)
        };
        let (wm, dm) = (mean(world), mean(drawn));
        let (num, den) = world
            .iter()
            .zip(drawn)
            .fold((0.0, 0.0), |(num, den), (w, d)| {
                let (wx, wy) = (w.0 - wm.0, w.1 - wm.1);
                (
                    num + wx * (d.0 - dm.0) + wy * (d.1 - dm.1),
                    den + wx * wx + wy * wy,
                )
            });
        let scale = num / den;
        assert!(scale > 0.0, "the drawing is not the positions scaled");
        for (w, d) in world.iter().zip(drawn) {
            let fitted = (dm.0 + (w.0 - wm.0) * scale, dm.1 + (w.1 - wm.1) * scale);
            assert!(
                near(*d, fitted, pixels),
                "{d:?} off the common scale ({fitted:?})"
            );
        }
        scale
    }
}
