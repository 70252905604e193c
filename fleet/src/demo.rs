//! `tripbit-fleet demo`: a local redis-server, three simulated service
//! processes sharing a key, two processors; then an upstream outage, a kill
//! of the leading processor and a Redis outage, narrated as they happen.
//! Every child is stopped by PID when the demo ends (or fails).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tripbit_fleet::{Counts, RedisStore, Store};

const KEY: &str = "acme.search.hotels";
const OTHER: &str = "acme.maps.geocode";
const PROCESSOR_FLAGS: &[&str] = &[
    "--min-calls",
    "40",
    "--window-ms",
    "2000",
    "--open-ms",
    "2000",
    "--close-after",
    "3",
    "--tick-ms",
    "100",
    "--lease-ms",
    "1000",
    "--silent-after-ms",
    "3000",
];

/// A child killed (by PID) and reaped on drop.
struct Kid {
    child: Child,
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Lines = Arc<Mutex<Vec<String>>>;

fn follow(r: impl std::io::Read + Send + 'static, tag: String, show: fn(&str) -> bool) -> Lines {
    let lines: Lines = Arc::default();
    let l2 = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if show(&line) {
                let msg = match line.strip_prefix("[tripbit-fleet processor ") {
                    Some(rest) => rest.split_once("] ").map_or(rest, |(_, m)| m),
                    None => line.as_str(),
                };
                println!("    {tag:<8} {msg}");
            }
            l2.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    });
    lines
}

struct Sim {
    _kid: Kid,
    stdin: ChildStdin,
    out: Lines,
}

impl Sim {
    fn send(&mut self, line: &str) -> Result<(), String> {
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("sim-monitor stdin: {e}"))
    }

    fn state(&self, key: &str) -> Option<String> {
        let prefix = format!("state {key} ");
        let out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.iter()
            .rev()
            .find(|l| l.starts_with(&prefix))
            .and_then(|l| l[prefix.len()..].split(' ').next().map(str::to_string))
    }
}

fn wait(what: &str, within: Duration, mut f: impl FnMut() -> bool) -> Result<Duration, String> {
    let t0 = Instant::now();
    while !f() {
        if t0.elapsed() > within {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(t0.elapsed())
}

fn say(step: &str) {
    println!("\n  >> {step}");
}

fn start_redis(port: u16) -> Result<Kid, String> {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server (install it: scripts/setup.sh): {e}"))?;
    let kid = Kid { child };
    wait("redis-server", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })?;
    Ok(kid)
}

fn show_processor(l: &str) -> bool {
    [
        "verdict ",
        "leader now",
        "standing down",
        "event key-silent",
        "claimed",
        "store error",
    ]
    .iter()
    .any(|p| l.contains(p))
}

fn show_sim(l: &str) -> bool {
    // `state <key> <state> <version> <ms>`: skip the initial "no verdict yet" line.
    l.starts_with("state ") && l.split(' ').nth(3) != Some("0")
}

/// Runs the demo; returns the exit code.
pub(crate) fn run(port: &Option<String>) -> Result<i32, String> {
    let port: u16 = match port {
        Some(p) => p.parse().map_err(|_| format!("--redis-port {p:?}"))?,
        None => TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| e.to_string())?,
    };
    let url = format!("redis://127.0.0.1:{port}/0");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let store = RedisStore::open(&url, "tb").map_err(|e| e.to_string())?;
    let t_start = Instant::now();

    say(&format!(
        "redis-server on 127.0.0.1:{port}, two processors, three service processes calling {KEY} and {OTHER}"
    ));
    let mut redis = start_redis(port)?;
    let processor = |id: &str| -> Result<(Kid, Lines), String> {
        let mut child = Command::new(&exe)
            .args(["processor", "--redis", &url, "--id", id])
            .args(PROCESSOR_FLAGS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let err = child.stderr.take().ok_or("no stderr")?;
        Ok((
            Kid { child },
            follow(err, format!("[{id}]"), show_processor),
        ))
    };
    let (proc_a, _) = processor("proc-a")?;
    let leader = |want: &str| {
        rt.block_on(store.leader())
            .ok()
            .flatten()
            .is_some_and(|l| l.id == want)
    };
    wait("proc-a to lead", Duration::from_secs(10), || {
        leader("proc-a")
    })?;
    let (_proc_b, _) = processor("proc-b")?;
    // The admin panel (issue 16) on a free loopback port, with a fresh token.
    let (panel, panel_url, panel_token) = tripbit_fleet::panel::cli::spawn_child(&exe, &url)?;
    let _panel = Kid { child: panel };
    println!("    panel    {panel_url}#token={panel_token}   (bearer token {panel_token})");
    let mut sims = Vec::new();
    for i in 0..3 {
        let mut child = Command::new(&exe)
            .args(["sim-monitor", "--redis", &url, "--id", &format!("svc-{i}")])
            .args([
                "--key",
                KEY,
                "--key",
                OTHER,
                "--flush-ms",
                "100",
                "--every-ms",
                "2",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = child.stdout.take().ok_or("no stdout")?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let out = follow(out, format!("[svc-{i}]"), show_sim);
        sims.push(Sim {
            _kid: Kid { child },
            stdin,
            out,
        });
    }
    let totals = |key: &str| rt.block_on(store.key_totals(key)).unwrap_or_default();
    wait("traffic", Duration::from_secs(10), || {
        totals(KEY).total() > 1_000
    })?;
    let t = totals(KEY);
    println!(
        "    fleet totals for {KEY} so far: {} ok, {} failed",
        t.success, t.failure
    );

    say(&format!(
        "upstream outage: every call to {KEY} fails (the other key keeps working)"
    ));
    for s in &mut sims {
        s.send(&format!("fail 100 {KEY}"))?;
    }
    let took = wait(
        "every process to see the trip",
        Duration::from_secs(10),
        || {
            sims.iter()
                .all(|s| s.state(KEY).as_deref() == Some("unhealthy"))
        },
    )?;
    println!(
        "    tripped in every process {} ms after the outage began; calls now fail fast locally",
        took.as_millis()
    );

    say("upstream back: after the open period the fleet probes, then closes");
    for s in &mut sims {
        s.send("fail 0")?;
    }
    let took = wait(
        "every process to see healthy",
        Duration::from_secs(20),
        || {
            sims.iter()
                .all(|s| s.state(KEY).as_deref() == Some("healthy"))
        },
    )?;
    println!("    healthy everywhere {} ms later", took.as_millis());

    say("kill -9 the leading processor (proc-a): proc-b holds the next lease");
    let mut proc_a = proc_a;
    let _ = proc_a.child.kill();
    let _ = proc_a.child.wait();
    let took = wait("proc-b to lead", Duration::from_secs(10), || {
        leader("proc-b")
    })?;
    println!(
        "    proc-b leads {} ms after the kill (lease 1000 ms)",
        took.as_millis()
    );

    say("Redis outage: redis-server killed; the services fail open to their local breakers");
    let before = Instant::now();
    let _ = redis.child.kill();
    let _ = redis.child.wait();
    std::thread::sleep(Duration::from_secs(2));
    println!(
        "    {} ms without Redis: no call waited on it, counts are kept for later",
        before.elapsed().as_millis()
    );
    say(
        "Redis back (empty: this demo runs it without persistence); monitors and processor reconnect by themselves",
    );
    redis = start_redis(port)?;
    let took = wait(
        "counts flushed to the new Redis",
        Duration::from_secs(15),
        || totals(KEY).total() > 0,
    )?;
    println!(
        "    counts flowing again {} ms after Redis came back",
        took.as_millis()
    );
    wait("a leader", Duration::from_secs(10), || leader("proc-b"))?;

    say("services shut down: each flushes and waits for the acknowledgement");
    let mut acked = Counts::default();
    for s in &mut sims {
        s.send("quit")?;
    }
    for s in &sims {
        wait("a service to close", Duration::from_secs(10), || {
            s.out
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|l| l == "closed" || l.starts_with("close-error"))
        })?;
        for l in s.out.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let p: Vec<&str> = l.split(' ').collect();
            if p.len() == 7 && p[0] == "acked" && p[1] == KEY {
                let n = |i: usize| p[i].parse::<u64>().unwrap_or(0);
                acked.add(&Counts {
                    success: n(2),
                    failure: n(3),
                    slow: n(4),
                    rejected: n(5),
                    local: n(6),
                });
            }
        }
    }
    wait(
        "the processor to apply the last batches",
        Duration::from_secs(10),
        || rt.block_on(store.backlog()).is_ok_and(|b| b == 0),
    )?;
    let slowest = sims
        .iter()
        .flat_map(|s| {
            let out = s.out.lock().unwrap_or_else(|e| e.into_inner());
            out.iter()
                .filter_map(|l| l.strip_prefix("maxcall_us ")?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .max()
        .unwrap_or(0);
    println!(
        "    slowest guarded call in any service over the whole run, outages included: {slowest} µs"
    );
    let t = totals(KEY);
    println!(
        "    acknowledged by the services over the whole run: {} calls; in the new Redis (since it came back): {} ok, {} failed, {} rejected",
        acked.total(),
        t.success,
        t.failure,
        t.rejected
    );
    println!(
        "\n  fleet demo done in {:.1} s",
        t_start.elapsed().as_secs_f64()
    );
    drop(redis);
    Ok(0)
}
