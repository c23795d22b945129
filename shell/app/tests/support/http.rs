//! A small HTTP/1.1 client for the web dashboard's tests: one request per connection (its
//! status, headers and body as text), and an event stream read one event at a time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use super::{Demo, Running};

/// What a serving `brain` says on stderr before the dashboard's address.
pub(crate) const DASHBOARD: &str = "brain dashboard at http://";

/// The `host:port` a serving `brain` said it listens on, after `said` on its stderr.
pub(crate) fn listening(running: &mut Running, said: &str) -> String {
    let line = running.wait_for_line(said, Duration::from_secs(60));
    let rest = line.split(said).nth(1).unwrap_or_default();
    rest.split('/').next().unwrap_or_default().to_owned()
}

/// `brain web --http 127.0.0.1:0 extra…` in the background, and where it listens.
pub(crate) fn serve_web(demo: &Demo, extra: &[&str]) -> (Running, String) {
    let mut args = vec!["web", "--http", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut running = Running::spawn(demo.command(&args));
    let addr = listening(&mut running, DASHBOARD);
    (running, addr)
}

/// An answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:#?}"))
    }
}

fn send(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

/// The status line and headers of `reader`'s response.
fn read_head(reader: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    (status, headers)
}

/// `method path` with `headers` and `body`, read to the end.
pub(crate) fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut reader = BufReader::new(send(addr, method, path, headers, body));
    let (status, headers) = read_head(&mut reader);
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let mut raw = Vec::new();
    reader.read_to_end(&mut raw).unwrap();
    let body = if chunked { unchunk(&raw) } else { raw };
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn unchunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&raw[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&raw[start..(start + size).min(raw.len())]);
        raw = raw.get(start + size + 2..).unwrap_or_default();
    }
    out
}

pub(crate) fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(addr, "GET", path, headers, "")
}

/// An open event stream.
pub(crate) struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    /// Opens `path`; panics unless it answers 200.
    pub(crate) fn open(addr: &str, path: &str, headers: &[(&str, &str)]) -> Events {
        let mut reader = BufReader::new(send(addr, "GET", path, headers, ""));
        let (status, headers) = read_head(&mut reader);
        assert_eq!(status, 200, "{path}: {headers:?}");
        Events { reader }
    }

    /// The next event's name and data (JSON); `None` when the stream ends.
    pub(crate) fn next(&mut self) -> Option<(String, Value)> {
        let (mut name, mut data) = (String::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let text = line.trim_end_matches(['\r', '\n']);
            if let Some(value) = text.strip_prefix("event:") {
                name = value.trim().to_owned();
            } else if let Some(value) = text.strip_prefix("data:") {
                data.push_str(value.trim_start());
            } else if text.is_empty() && !data.is_empty() {
                let value = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return Some((name, value));
            }
            // Anything else is a chunk's size or a keep-alive comment.
        }
    }
}
