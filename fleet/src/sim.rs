//! A simulated service process for the demo and the tests
//! (`tripbit-fleet sim-monitor`): a [`Monitor`] guarding calls to a fake
//! upstream whose failure ratio is set over standard input.
//!
//! Input lines: `fail <percent> [key]` (0..=100; every key when none is
//! named), `quit` (close the monitor and
//! exit). Output lines: `ready <monitor id>`, `state <key> <fleet state>
//! <version> <wall ms>` on every change (seen within 5 ms), and on `quit` one `acked <key> <success>
//! <failure> <slow> <rejected> <local>` per key, `maxcall_us <n>` (the slowest guarded
//! call), then `closed` (or `close-error <why>`, exit 1).

use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tripbit::Outcome;

use crate::model::wall_ms;
use crate::{FleetBreaker, Monitor, MonitorConfig};

/// Settings of a simulated service.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Redis URL.
    pub redis: String,
    /// Keys called in turn.
    pub keys: Vec<String>,
    /// Pause between calls.
    pub every: Duration,
    /// The monitor's settings.
    pub monitor: MonitorConfig,
}

/// Runs the simulated service until `quit` (or the end of standard input).
/// Returns the exit code.
pub fn run(cfg: SimConfig) -> i32 {
    let monitor = match Monitor::connect(&cfg.redis, cfg.monitor.clone()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("tripbit-fleet sim-monitor: {e}");
            return 2;
        }
    };
    let mut breakers: Vec<FleetBreaker> = Vec::new();
    for k in &cfg.keys {
        match monitor.breaker(k) {
            Ok(b) => breakers.push(b),
            Err(e) => {
                eprintln!("tripbit-fleet sim-monitor: {e}");
                return 2;
            }
        }
    }
    println!("ready {}", monitor.id());
    let fail_percent: Arc<Vec<AtomicU64>> =
        Arc::new(cfg.keys.iter().map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let max_call = Arc::new(AtomicU64::new(0));
    let caller = {
        let (bs, fail, stop, max_call) = (
            breakers.clone(),
            Arc::clone(&fail_percent),
            Arc::clone(&stop),
            Arc::clone(&max_call),
        );
        let every = cfg.every;
        std::thread::spawn(move || {
            let mut n: u64 = 0;
            // Ordering: Relaxed for all three: plain flags and a statistic
            // between two threads, publishing no other memory.
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                for (b, f) in bs.iter().zip(fail.iter()) {
                    let p = f.load(Ordering::Relaxed);
                    // Spread failures evenly: call n fails when the running
                    // count of failures owed goes up.
                    let fails = (n * p) / 100 != ((n - 1) * p) / 100;
                    let t0 = Instant::now();
                    if let Ok(call) = b.try_acquire() {
                        call.record(if fails {
                            Outcome::Failure
                        } else {
                            Outcome::Success
                        });
                    }
                    let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                    // Ordering: Relaxed: a statistic, read after the join.
                    max_call.fetch_max(us, Ordering::Relaxed);
                }
                std::thread::sleep(every);
            }
        })
    };
    let watcher = {
        let (bs, stop) = (breakers.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut last: Vec<(String, u64)> = vec![(String::new(), u64::MAX); bs.len()];
            // Ordering: Relaxed: a flag.
            while !stop.load(Ordering::Relaxed) {
                for (b, l) in bs.iter().zip(last.iter_mut()) {
                    let now = (b.fleet_state().as_str().to_string(), b.verdict_version());
                    if *l != now {
                        println!("state {} {} {} {}", b.key(), now.0, now.1, wall_ms());
                        *l = now;
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let mut it = line.split_whitespace();
        match (it.next(), it.next()) {
            (Some("fail"), Some(p)) => match (p.parse::<u64>(), it.next()) {
                (Ok(p), key) if p <= 100 => {
                    for (k, f) in cfg.keys.iter().zip(fail_percent.iter()) {
                        if key.is_none_or(|want| want == k) {
                            // Ordering: Relaxed: a setting read by the caller thread.
                            f.store(p, Ordering::Relaxed);
                        }
                    }
                }
                _ => eprintln!("tripbit-fleet sim-monitor: fail takes 0..=100 [key]"),
            },
            (Some("quit"), _) => break,
            (None, _) => {}
            _ => eprintln!("tripbit-fleet sim-monitor: unknown command {line:?}"),
        }
    }
    // Ordering: Relaxed: a flag; the joins below order everything after it.
    stop.store(true, Ordering::Relaxed);
    let _ = caller.join();
    let _ = watcher.join();
    match monitor.close() {
        Ok(r) => {
            for (k, c) in &r.acked {
                println!(
                    "acked {k} {} {} {} {} {}",
                    c.success, c.failure, c.slow, c.rejected, c.local
                );
            }
            // Ordering: Relaxed: read after the join.
            println!("maxcall_us {}", max_call.load(Ordering::Relaxed));
            println!("closed");
            0
        }
        Err(e) => {
            println!("close-error {e}");
            1
        }
    }
}
