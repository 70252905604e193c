//! `fleet-figures`: the fleet's figures on this machine, each against its
//! own redis-server on a free loopback port (run `benches/fleet/run.sh`):
//!
//! 1. processor capacity: batches/s applied exactly once (and keys held),
//!    from a stream filled beforehand;
//! 2. propagation delay from the processor's verdict write to every one of
//!    8 monitor processes, p50/p99 over many verdict changes;
//! 3. failover time: kill -9 (and SIGSTOP) of the leading processor until
//!    the standby leads.
//!
//! `TRIPBIT_BENCH_QUICK=1` runs fewer rounds. Prints a Markdown table.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tripbit_fleet::model::wall_ms;
use tripbit_fleet::{Batch, BatchId, Counts, Forced, RedisStore, Store, set_force};
use tripbit_fleet_bench::{Kid, Redis, percentile, wait_for};

const WAIT: Duration = Duration::from_secs(60);

fn fleet_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("TRIPBIT_FLEET_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("current exe");
    exe.with_file_name("tripbit-fleet")
}

fn processor(url: &str, id: &str, extra: &[&str]) -> Kid {
    Kid(Command::new(fleet_bin())
        .args(["processor", "--redis", url, "--id", id])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tripbit-fleet next to this binary (or TRIPBIT_FLEET_BIN)"))
}

fn leader(rt: &tokio::runtime::Runtime, s: &RedisStore) -> Option<(String, u64)> {
    rt.block_on(s.leader())
        .ok()
        .flatten()
        .map(|l| (l.id, l.epoch))
}

fn capacity(quick: bool, rows: &mut Vec<(String, String)>) {
    let redis = Redis::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(RedisStore::open(&redis.url(), "tb").unwrap());
    let (n, monitors, keys, per_batch) = if quick {
        (5_000u64, 50u64, 500u64, 10u64)
    } else {
        (40_000, 100, 1_000, 10)
    };
    let t_fill = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..16u64 {
            let store = Arc::clone(&store);
            tasks.push(tokio::spawn(async move {
                let mut b = w;
                while b < n {
                    let mut counts = BTreeMap::new();
                    for j in 0..per_batch {
                        let k = (b * per_batch + j) % keys;
                        counts.insert(
                            format!("bench.cap.k{k}"),
                            Counts {
                                success: 10,
                                failure: 1,
                                ..Counts::default()
                            },
                        );
                    }
                    let batch = Batch {
                        id: BatchId {
                            monitor: format!("m{}", b % monitors),
                            epoch: 1,
                            seq: b / monitors + 1,
                        },
                        host: "bench".into(),
                        pid: 1,
                        app: "bench".into(),
                        sent_ms: wall_ms(),
                        counts,
                    };
                    store.send_batch(&batch).await.expect("XADD");
                    b += 16;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let fill = t_fill.elapsed();
    let _p = processor(&redis.url(), "cap", &[]);
    wait_for("the processor to lead", WAIT, || {
        leader(&rt, &store).is_some()
    });
    let t0 = Instant::now();
    wait_for("the stream to drain", Duration::from_secs(600), || {
        rt.block_on(store.backlog()).is_ok_and(|b| b == 0)
    });
    let took = t0.elapsed();
    let stats = rt.block_on(store.stats()).unwrap();
    assert_eq!(
        stats.get("applied").copied(),
        Some(n),
        "every batch applied once"
    );
    let k0 = rt.block_on(store.key_totals("bench.cap.k0")).unwrap();
    assert_eq!(k0.success, 10 * n * per_batch / keys, "totals exact");
    rows.push((
        "monitors' XADD throughput (16 concurrent senders)".into(),
        format!("{:.0} batches/s", n as f64 / fill.as_secs_f64()),
    ));
    rows.push((
        format!(
            "processor capacity ({n} batches × {per_batch} keys, {keys} keys, {monitors} monitors)"
        ),
        format!(
            "{:.0} batches/s = {:.0} key-counts/s",
            n as f64 / took.as_secs_f64(),
            (n * per_batch) as f64 / took.as_secs_f64()
        ),
    ));
}

type Lines = Arc<Mutex<Vec<String>>>;

fn propagation(quick: bool, rows: &mut Vec<(String, String)>) {
    let redis = Redis::start();
    let url = redis.url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = RedisStore::open(&url, "tb").unwrap();
    let key = "bench.prop.key";
    let _p = processor(&url, "prop", &[]);
    let mut sims = Vec::new();
    for i in 0..8 {
        let mut child = Command::new(fleet_bin())
            .args([
                "sim-monitor",
                "--redis",
                &url,
                "--id",
                &format!("s{i}"),
                "--key",
                key,
            ])
            .args(["--every-ms", "5"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let lines: Lines = Arc::default();
        let l2 = Arc::clone(&lines);
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(l);
            }
        });
        sims.push((Kid(child), lines));
    }
    // (version, wall ms) of each monitor's state lines.
    let seen = |lines: &Lines, version: u64| -> Option<u64> {
        lines.lock().unwrap().iter().find_map(|l| {
            let p: Vec<&str> = l.split(' ').collect();
            (p.len() == 5 && p[0] == "state" && p[3].parse::<u64>().ok()? == version)
                .then(|| p[4].parse().ok())
                .flatten()
        })
    };
    let version = || {
        rt.block_on(store.verdict_index())
            .ok()?
            .get(key)
            .map(|v| v.version)
    };
    wait_for("a first verdict everywhere", WAIT, || {
        version().is_some_and(|v| sims.iter().all(|(_, l)| seen(l, v).is_some()))
    });
    let rounds = if quick { 10 } else { 40 };
    let mut delays = Vec::new();
    for r in 0..rounds {
        let before = version().unwrap_or(0);
        let f = (r % 2 == 0).then_some(Forced::Unhealthy);
        rt.block_on(set_force(&store as &dyn Store, key, f, "bench"))
            .unwrap();
        wait_for("the processor's verdict", WAIT, || {
            version().is_some_and(|v| v > before)
        });
        let v = version().unwrap();
        wait_for("every monitor", WAIT, || {
            sims.iter().all(|(_, l)| seen(l, v).is_some())
        });
        let decided: u64 = rt
            .block_on(store.hget(&format!("tb:verdict:{key}"), "updated_ms"))
            .unwrap()
            .and_then(|v| v.parse().ok())
            .expect("updated_ms");
        for (_, l) in &sims {
            delays.push(seen(l, v).unwrap().saturating_sub(decided) as f64);
        }
    }
    delays.sort_by(f64::total_cmp);
    rows.push((
        format!("propagation, processor verdict → each of 8 monitor processes ({} samples; pub/sub notice, poll every 250 ms as fallback)", delays.len()),
        format!(
            "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            percentile(&delays, 50.0),
            percentile(&delays, 99.0),
            delays.last().copied().unwrap_or(f64::NAN)
        ),
    ));
    for (mut k, _) in sims {
        let _ = k.0.kill();
    }
}

fn failover(quick: bool, rows: &mut Vec<(String, String)>) {
    let redis = Redis::start();
    let url = redis.url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = RedisStore::open(&url, "tb").unwrap();
    let mut procs: BTreeMap<String, Kid> = BTreeMap::new();
    procs.insert("f0".into(), processor(&url, "f0", &[]));
    wait_for("f0 to lead", WAIT, || leader(&rt, &store).is_some());
    procs.insert("f1".into(), processor(&url, "f1", &[]));
    std::thread::sleep(Duration::from_millis(500));
    let rounds = if quick { 3 } else { 6 };
    let mut kills = Vec::new();
    for r in 0..rounds {
        let (id, _) = leader(&rt, &store).unwrap();
        let kid = procs.remove(&id).unwrap();
        let t0 = Instant::now();
        drop(kid); // kill -9 and reap
        let took = wait_for("the standby to lead", WAIT, || {
            leader(&rt, &store).is_some_and(|(l, _)| l != id)
        });
        kills.push(took.as_secs_f64() * 1000.0);
        let _ = t0;
        let new = format!("f{}", r + 2);
        procs.insert(new.clone(), processor(&url, &new, &[]));
        std::thread::sleep(Duration::from_millis(500));
    }
    kills.sort_by(f64::total_cmp);
    rows.push((
        format!("failover after kill -9 of the leader ({rounds} kills; lease 2000 ms, standby tries every 250 ms)"),
        format!(
            "median {:.0} ms, max {:.0} ms",
            percentile(&kills, 50.0),
            kills.last().copied().unwrap_or(f64::NAN)
        ),
    ));
    // SIGSTOP: the paused leader's lease runs out; it stands down on SIGCONT.
    let (id, _) = leader(&rt, &store).unwrap();
    let pid = procs[&id].0.id().to_string();
    let sig = |s: &str| {
        let _ = Command::new("kill").args([s, &pid]).status();
    };
    sig("-STOP");
    let took = wait_for("the standby to lead", WAIT, || {
        leader(&rt, &store).is_some_and(|(l, _)| l != id)
    });
    sig("-CONT");
    rows.push((
        "failover after SIGSTOP of the leader".into(),
        format!("{:.0} ms", took.as_secs_f64() * 1000.0),
    ));
}

/// Calls that reached a dead upstream during an outage of `outage`, over 8
/// service processes (two groups of four, "two hosts"), with the fleet
/// (a processor running) or with private breakers only (no processor: each
/// process's own breaker alone, the same config).
fn wasted(fleet: bool, outage: Duration) -> (u64, u64) {
    let redis = Redis::start();
    let url = redis.url();
    let key = "bench.wasted.key";
    let _p = fleet.then(|| processor(&url, "waste", &["--min-calls", "20"]));
    let mut sims = Vec::new();
    for i in 0..8 {
        let mut child = Command::new(fleet_bin())
            .args([
                "sim-monitor",
                "--redis",
                &url,
                "--id",
                &format!("h{}-s{i}", i / 4),
                "--key",
                key,
            ])
            .args(["--every-ms", "50"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines: Lines = Arc::default();
        let l2 = Arc::clone(&lines);
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(l);
            }
        });
        sims.push((Kid(child), stdin, lines));
    }
    std::thread::sleep(Duration::from_secs(2));
    for (_, stdin, _) in &mut sims {
        writeln!(stdin, "fail 100").unwrap();
    }
    std::thread::sleep(outage);
    for (_, stdin, _) in &mut sims {
        writeln!(stdin, "quit").unwrap();
    }
    let (mut failed, mut calls) = (0, 0);
    for (_, _, lines) in &sims {
        wait_for("a service to close", WAIT, || {
            lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l == "closed" || l.starts_with("close-error"))
        });
        for l in lines.lock().unwrap().iter() {
            let p: Vec<&str> = l.split(' ').collect();
            if p.len() == 7 && p[0] == "acked" {
                let n = |i: usize| p[i].parse::<u64>().unwrap_or(0);
                failed += n(3);
                calls += n(2) + n(3) + n(4) + n(5);
            }
        }
    }
    (failed, calls)
}

fn main() {
    let quick = std::env::var_os("TRIPBIT_BENCH_QUICK").is_some();
    let started = Instant::now();
    let mut rows = Vec::new();
    capacity(quick, &mut rows);
    propagation(quick, &mut rows);
    failover(quick, &mut rows);
    let outage = Duration::from_secs(if quick { 8 } else { 20 });
    let (private, pc) = wasted(false, outage);
    let (fleet, fc) = wasted(true, outage);
    rows.push((
        format!(
            "calls wasted on a dead upstream, {} s outage, 8 processes × 20 calls/s (2 groups of 4): private breakers (consecutive 5, open 5 s) / fleet (the same locally, plus the processor's defaults)",
            outage.as_secs()
        ),
        format!("{private} of {pc} calls / {fleet} of {fc} calls"),
    ));
    println!("| figure | measured |");
    println!("|---|---|");
    for (k, v) in &rows {
        println!("| {k} | {v} |");
    }
    println!(
        "\n(load average {}; {:.0} s)",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split(' ')
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        started.elapsed().as_secs_f64()
    );
}
