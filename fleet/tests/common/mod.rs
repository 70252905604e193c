//! Test harness: a real `redis-server` on a free loopback port, child
//! processes stopped by PID on drop (also when a test panics), line readers,
//! and polling with deadlines.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tripbit_fleet::RedisStore;

pub const BIN: &str = env!("CARGO_BIN_EXE_tripbit-fleet");

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Polls `f` every 10 ms until it returns `Some`, or panics with `what` at the deadline.
pub fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A child process killed (SIGKILL, by PID) and reaped on drop.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "kill -{sig} {}", self.name);
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Resume a stopped child first so the kill is delivered at once.
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        self.kill9();
    }
}

/// A `redis-server` of our own.
pub struct Redis {
    pub port: u16,
    pub proc: Proc,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/setup.sh installs it)");
        let r = Redis {
            port,
            proc: Proc {
                child,
                name: format!("redis-server:{port}"),
            },
        };
        wait_for(
            "redis-server to answer PING",
            Duration::from_secs(10),
            || ping(port).then_some(()),
        );
        r
    }

    pub fn url(&self) -> String {
        url(self.port)
    }

    pub fn store(&self) -> RedisStore {
        RedisStore::open(&self.url(), "tb").unwrap()
    }
}

pub fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/0")
}

pub fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// Lines a child printed, collected by a thread.
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    pub fn follow(r: impl Read + Send + 'static, echo: Option<String>) -> Lines {
        let l = Lines::default();
        let l2 = l.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                if let Some(p) = &echo {
                    eprintln!("{p}: {line}");
                }
                l2.0.lock().unwrap().push(line);
            }
        });
        l
    }

    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn find(&self, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.0.lock().unwrap().iter().find(|l| pred(l)).cloned()
    }

    pub fn wait(&self, what: &str, within: Duration, pred: impl Fn(&str) -> bool) -> String {
        wait_for(what, within, || self.find(&pred))
    }
}

/// Processor settings so a test takes seconds: 2 s window, 1.5 s open,
/// 1 s lease, no backoff.
pub const FAST: &[&str] = &[
    "--min-calls",
    "40",
    "--window-ms",
    "2000",
    "--open-ms",
    "1500",
    "--close-after",
    "3",
    "--tick-ms",
    "100",
    "--lease-ms",
    "1000",
    "--backoff-factor",
    "1",
    "--backoff-max",
    "0",
];

/// Fast settings whose open period is long, so a tripped key stays
/// unhealthy for the whole test (the panel's tests).
pub const FAST_LONG_OPEN: &[&str] = &[
    "--min-calls",
    "40",
    "--window-ms",
    "2000",
    "--open-ms",
    "60000",
    "--tick-ms",
    "100",
    "--lease-ms",
    "1000",
];

/// A `tripbit-fleet processor` child; its log goes to `log` (and is collected).
pub struct ProcessorProc {
    pub proc: Proc,
    pub log: Lines,
    pub id: String,
}

pub fn processor(port: u16, id: &str, extra: &[&str]) -> ProcessorProc {
    processor_at(&url(port), id, extra)
}

/// A `tripbit-fleet sim-monitor` child driven over stdin.
pub struct SimProc {
    pub proc: Proc,
    pub out: Lines,
    stdin: Option<ChildStdin>,
    pub id: String,
}

pub fn sim(port: u16, id: &str, keys: &[&str], extra: &[&str]) -> SimProc {
    let mut cmd = Command::new(BIN);
    cmd.args(["sim-monitor", "--redis", &url(port), "--id", id]);
    for k in keys {
        cmd.args(["--key", k]);
    }
    let mut child = cmd
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn sim-monitor");
    let out = Lines::follow(child.stdout.take().unwrap(), None);
    let stdin = child.stdin.take();
    let s = SimProc {
        proc: Proc {
            child,
            name: id.to_string(),
        },
        out,
        stdin,
        id: id.to_string(),
    };
    s.out
        .wait("sim-monitor ready", Duration::from_secs(10), |l| {
            l.starts_with("ready")
        });
    s
}

impl SimProc {
    pub fn send(&mut self, line: &str) {
        let w = self.stdin.as_mut().expect("stdin open");
        writeln!(w, "{line}").unwrap();
        w.flush().unwrap();
    }

    /// Waits for a `state <key> <state> ...` line after index `from`.
    pub fn wait_state(&self, key: &str, state: &str, within: Duration) {
        let prefix = format!("state {key} {state} ");
        self.out
            .wait(&format!("{} to see {key} {state}", self.id), within, |l| {
                l.starts_with(&prefix)
            });
    }

    /// The current state the monitor reports for `key` (its last `state` line).
    pub fn last_state(&self, key: &str) -> Option<String> {
        let prefix = format!("state {key} ");
        self.out
            .all()
            .iter()
            .rev()
            .find(|l| l.starts_with(&prefix))
            .map(|l| {
                l[prefix.len()..]
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
    }

    /// Sends `quit` and returns the acknowledged counts per key.
    pub fn quit(&mut self) -> Vec<(String, [u64; 5])> {
        self.send("quit");
        self.out.wait(
            &format!("{} to close", self.id),
            Duration::from_secs(15),
            |l| l == "closed" || l.starts_with("close-error"),
        );
        assert!(
            self.out.find(|l| l.starts_with("close-error")).is_none(),
            "{} failed to close: {:?}",
            self.id,
            self.out.all()
        );
        self.out
            .all()
            .iter()
            .filter_map(|l| {
                let p: Vec<&str> = l.split(' ').collect();
                if p.len() == 7 && p[0] == "acked" {
                    let n = |i: usize| p[i].parse::<u64>().unwrap();
                    Some((p[1].to_string(), [n(2), n(3), n(4), n(5), n(6)]))
                } else {
                    None
                }
            })
            .collect()
    }
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// LRANGE key 0 -1 as strings.
pub fn lrange(rt: &tokio::runtime::Runtime, s: &RedisStore, key: &str) -> Vec<String> {
    match rt.block_on(s.raw(&["LRANGE", key, "0", "-1"])) {
        Ok(redis::Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect(),
        other => panic!("LRANGE {key}: {other:?}"),
    }
}

/// A HGET through a store (test inspection).
pub fn hget(
    rt: &tokio::runtime::Runtime,
    s: &RedisStore,
    key: &str,
    field: &str,
) -> Option<String> {
    match rt.block_on(s.raw(&["HGET", key, field])) {
        Ok(redis::Value::BulkString(b)) => Some(String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    }
}

pub fn tmp_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::create_dir_all(&d);
    d
}

/// [`processor`] on any store URL (a sentinel URL, say).
pub fn processor_at(store_url: &str, id: &str, extra: &[&str]) -> ProcessorProc {
    let mut child = Command::new(BIN)
        .args(["processor", "--redis", store_url, "--id", id])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn processor");
    let log = Lines::follow(child.stderr.take().unwrap(), Some(format!("[{id}]")));
    ProcessorProc {
        proc: Proc {
            child,
            name: id.to_string(),
        },
        log,
        id: id.to_string(),
    }
}

/// [`sim`] on any store URL; its stderr is collected in the second value.
pub fn sim_at(store_url: &str, id: &str, keys: &[&str], extra: &[&str]) -> (SimProc, Lines) {
    let mut cmd = Command::new(BIN);
    cmd.args(["sim-monitor", "--redis", store_url, "--id", id]);
    for k in keys {
        cmd.args(["--key", k]);
    }
    let mut child = cmd
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sim-monitor");
    let out = Lines::follow(child.stdout.take().unwrap(), None);
    let err = Lines::follow(child.stderr.take().unwrap(), Some(format!("[{id}]")));
    let stdin = child.stdin.take();
    let s = SimProc {
        proc: Proc {
            child,
            name: id.to_string(),
        },
        out,
        stdin,
        id: id.to_string(),
    };
    s.out
        .wait("sim-monitor ready", Duration::from_secs(10), |l| {
            l.starts_with("ready")
        });
    (s, err)
}
