//! Panel test helpers: a `tripbit-fleet panel` child on a free port, and a
//! tiny HTTP/1.1 client (one request per connection, loopback only).
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{BIN, Lines, Proc, url};

pub const TOKEN: &str = "alice-0123456789abcdef";

/// A response: status, headers (lower-cased names), body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request; `extra` are raw header lines.
pub fn http(port: u16, method: &str, path: &str, extra: &[&str], body: Option<&str>) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the panel");
    // Long: creating a browser session on a loaded 2-core machine is slow.
    s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for h in extra {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    if let Some(b) = body {
        req.push_str(b);
    }
    s.write_all(req.as_bytes()).unwrap();
    // Read until the response is complete (by Content-Length or the last
    // chunk), not until the server closes: some servers keep it open.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if complete(&raw) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn complete(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let head = head.to_ascii_lowercase();
    if let Some(n) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
    {
        return body.len() >= n;
    }
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with("0\r\n\r\n");
    }
    false
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

pub fn auth() -> String {
    format!("Authorization: Bearer {TOKEN}")
}

pub fn get(port: u16, path: &str) -> Resp {
    http(port, "GET", path, &[&auth()], None)
}

pub fn post_json(port: u16, path: &str, body: &str) -> Resp {
    http(
        port,
        "POST",
        path,
        &[&auth(), "Content-Type: application/json"],
        Some(body),
    )
}

/// A `tripbit-fleet panel` child.
pub struct PanelProc {
    pub proc: Proc,
    pub port: u16,
    pub log: Lines,
}

/// Starts a panel on a free port (`--listen 127.0.0.1:0`); `token` goes into
/// TRIPBIT_PANEL_TOKEN. Returns the exit code instead when it does not start.
pub fn try_panel(redis_port: u16, token: Option<&str>, extra: &[&str]) -> Result<PanelProc, i32> {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "panel",
        "--redis",
        &url(redis_port),
        "--listen",
        "127.0.0.1:0",
        "--sample-ms",
        "200",
    ])
    .args(extra)
    .env_remove("TRIPBIT_PANEL_TOKEN")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(t) = token {
        cmd.env("TRIPBIT_PANEL_TOKEN", t);
    }
    let mut child = cmd.spawn().expect("spawn panel");
    let out = Lines::follow(child.stdout.take().unwrap(), None);
    let log = Lines::follow(child.stderr.take().unwrap(), Some("[panel]".into()));
    let mut proc = Proc {
        child,
        name: "panel".into(),
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(l) = out.find(|l| l.starts_with("listening http://")) {
            let port = l
                .trim_end_matches('/')
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port in the listening line");
            return Ok(PanelProc { proc, port, log });
        }
        if let Ok(Some(st)) = proc.child.try_wait() {
            return Err(st.code().unwrap_or(-1));
        }
        assert!(std::time::Instant::now() < deadline, "panel did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn panel(redis_port: u16) -> PanelProc {
    try_panel(redis_port, Some(TOKEN), &[]).expect("panel starts")
}
