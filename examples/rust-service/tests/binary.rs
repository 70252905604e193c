//! The `tripbit-rust-service` binary: starts with the demo upstream on a free
//! loopback port, guards it, and stops gracefully on SIGINT (Ctrl-C).
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(30);

/// Kills the child (ours, by its handle) if the test fails before it exits.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection: (status, body).
fn request(method: &str, addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head:?}"));
    (status, body.to_owned())
}

/// The address after `prefix` in `line` (up to `;` or the end).
fn addr_after(line: &str, prefix: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    rest.split([';', ' ']).next()?.parse().ok()
}

#[test]
fn binary_guards_the_demo_upstream_and_stops_on_sigint() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripbit-rust-service"))
        .args(["--port", "0", "--failures", "1", "--open-ms", "600000"])
        .env_remove("TRIPBIT_PORT")
        .env_remove("TRIPBIT_UPSTREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let mut svc = Service(child);
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        lines
            .recv_timeout(DEADLINE)
            .expect("the service prints its lines")
    };

    let (mut addr, mut upstream) = (None, None);
    while addr.is_none() || upstream.is_none() {
        let line = next_line();
        addr = addr.or(addr_after(&line, "listening on http://"));
        upstream = upstream.or(addr_after(&line, "demo upstream on http://"));
    }
    let (addr, upstream) = (addr.unwrap(), upstream.unwrap());
    assert!(addr.ip().is_loopback() && upstream.ip().is_loopback());

    let (status, body) = request("GET", addr, "/api/quote");
    assert_eq!(status, 200);
    assert!(body.contains(r#""source":"upstream""#), "{body}");

    assert_eq!(request("PUT", upstream, "/mode/fail").0, 204);
    let (status, body) = request("GET", addr, "/api/quote");
    assert_eq!(status, 200);
    assert!(
        body.contains(r#""reason":"upstream answered 500"#),
        "{body}"
    );
    let (_, body) = request("GET", addr, "/api/quote");
    assert!(body.contains(r#""reason":"circuit open""#), "{body}");
    let (_, metrics) = request("GET", addr, "/metrics");
    assert!(
        metrics.contains("tripbit_breaker_state{breaker=\"upstream\",state=\"open\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("tripbit_breaker_rejections_total{breaker=\"upstream\"} 1"));

    // Ctrl-C, sent to our own child by its id.
    let pid = svc.0.id().to_string();
    let kill = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(kill.success());
    while next_line() != "stopped" {}
    let start = Instant::now();
    let status = loop {
        if let Some(status) = svc.0.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < DEADLINE, "still running after SIGINT");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
}
