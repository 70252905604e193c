//! Shared (tripbit-shm) against private breakers, in one run:
//!
//! 1. per-call cost on the closed path: the same core calls on a `static`
//!    breaker and on one that lives in a region file mapped by this process
//!    (`try_acquire_with` + `record`, and the `call` helpers), one process,
//!    then one process per CPU at once on the shared one;
//! 2. calls wasted on a dead upstream by 8 processes: each process calls an
//!    upstream that fails after 1 ms, for 1.5 s, with a private breaker each
//!    or one shared breaker; counts the calls that reached the upstream
//!    (before the trip, and probes afterwards).
//!
//! Prints a Markdown report. Re-executes itself (`shared --child ...`) for
//! the worker processes. `TRIPBIT_BENCH_QUICK=1` shortens the loops.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tripbit::{Breaker, Config, Outcome};
use tripbit_shm::{Region, now};

const PROCS: usize = 8;
const THRESHOLD: u32 = 5;
const MS: u64 = 1_000_000;

fn quick() -> bool {
    std::env::var_os("TRIPBIT_BENCH_QUICK").is_some()
}

const fn closed_config() -> Config {
    Config::new(30_000 * MS).consecutive_failures(THRESHOLD)
}

/// Dead-upstream config: open 250 ms, one probe.
fn dead_config() -> Config {
    Config::new(250 * MS).consecutive_failures(THRESHOLD)
}

static PRIVATE: Breaker = Breaker::new(closed_config());

/// The closed path as a caller writes it: admit without a tick, run, record
/// a success. Identical code for both breakers: only the memory differs.
#[inline(never)]
fn closed_calls(b: &Breaker, n: u64) {
    for _ in 0..n {
        match b.try_acquire_with(now) {
            Ok(permit) => {
                black_box(());
                permit.record(Outcome::Success, 0);
            }
            Err(_) => unreachable!("closed"),
        }
    }
}

/// The same through plain tickets (what C and Python hold).
#[inline(never)]
fn ticket_calls(b: &Breaker, n: u64) {
    for _ in 0..n {
        match b.acquire_ticket_with(now) {
            Ok((t, _)) => {
                black_box(());
                let _ = b.record_ticket(t, Outcome::Success, t.acquired_at);
            }
            Err(_) => unreachable!("closed"),
        }
    }
}

#[inline(never)]
fn bare_calls(n: u64) {
    for _ in 0..n {
        black_box(());
    }
}

#[inline(never)]
fn private_call_helper(n: u64) {
    for _ in 0..n {
        let _ = black_box(PRIVATE.call(|| Ok::<_, ()>(black_box(1u32))));
    }
}

#[inline(never)]
fn shared_call_helper(b: &tripbit_shm::SharedBreaker, n: u64) {
    for _ in 0..n {
        let _ = black_box(b.call(|| Ok::<_, ()>(black_box(1u32))));
    }
}

/// Best of `runs` timings, in ns per iteration.
fn ns_per(runs: u32, n: u64, mut f: impl FnMut(u64)) -> f64 {
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f(n);
            t0.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn region_path(tag: &str) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("tripbit-bench-{tag}-{}", std::process::id()))
}

fn spawn(args: &[String]) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn output(c: std::process::Child) -> String {
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn spin_until(t: u64) {
    while now() < t {
        std::hint::spin_loop();
    }
}

/// The dead upstream: takes 1 ms, then fails.
fn dead_upstream() -> Result<(), ()> {
    std::thread::sleep(Duration::from_millis(1));
    Err(())
}

fn child(args: &[String]) {
    match args[0].as_str() {
        // Closed calls on the shared breaker; prints ns per call.
        "closed" => {
            let r = Region::attach(&args[1]).unwrap();
            let b = r.breaker("bench.closed", closed_config()).unwrap();
            let n: u64 = args[2].parse().unwrap();
            spin_until(args[3].parse().unwrap());
            println!("{:.3}", ns_per(3, n, |n| closed_calls(&b, n)));
        }
        // Calls a dead upstream for the given time; prints calls made.
        "dead" => {
            let shared = args[1] == "shared";
            let start: u64 = args[3].parse().unwrap();
            let until = start + args[4].parse::<u64>().unwrap() * MS;
            let private = Breaker::new(dead_config());
            let region;
            let handle;
            let b: &Breaker = if shared {
                region = Region::attach(&args[2]).unwrap();
                handle = region.breaker("bench.dead", dead_config()).unwrap();
                &handle
            } else {
                &private
            };
            spin_until(start);
            let (mut first, mut later, mut tripped) = (0u64, 0u64, false);
            while now() < until {
                match b.try_acquire(now()) {
                    Ok(permit) => {
                        let made = if tripped { &mut later } else { &mut first };
                        *made += 1;
                        let outcome = Outcome::from_success(dead_upstream().is_ok());
                        permit.record(outcome, now());
                    }
                    Err(_) => {
                        tripped = true;
                        // A worker serving other requests meanwhile.
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            }
            println!("{first} {later}");
        }
        other => panic!("unknown child role {other}"),
    }
}

fn dead_run(mode: &str, path: &str, ms: u64) -> (u64, u64) {
    let start = now() + 200 * MS;
    let kids: Vec<_> = (0..PROCS)
        .map(|_| {
            spawn(&[
                "dead".into(),
                mode.into(),
                path.into(),
                start.to_string(),
                ms.to_string(),
            ])
        })
        .collect();
    kids.into_iter()
        .map(output)
        .map(|line| {
            let mut it = line.split(' ').map(|x| x.parse::<u64>().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        })
        .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
        return;
    }
    let n: u64 = if quick() { 2_000_000 } else { 50_000_000 };
    let runs = if quick() { 3 } else { 7 };

    let path = region_path("closed");
    let region = Region::open(&path, 16).unwrap();
    let shared = region.breaker("bench.closed", closed_config()).unwrap();
    let shared_ref: &Breaker = &shared;

    let bare = ns_per(runs, n, bare_calls);
    let private = ns_per(runs, n, |n| closed_calls(&PRIVATE, n));
    let in_region = ns_per(runs, n, |n| closed_calls(shared_ref, n));
    let private_ticket = ns_per(runs, n, |n| ticket_calls(&PRIVATE, n));
    let shared_ticket = ns_per(runs, n, |n| ticket_calls(shared_ref, n));
    let private_call = ns_per(runs, n / 4, private_call_helper);
    let shared_call = ns_per(runs, n / 4, |n| shared_call_helper(&shared, n));

    // One process per CPU (more would measure time slicing, not the breaker).
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let start = now() + 300 * MS;
    let per_proc = n / 4;
    let kids: Vec<_> = (0..cpus)
        .map(|_| {
            spawn(&[
                "closed".into(),
                path.to_string_lossy().into_owned(),
                per_proc.to_string(),
                start.to_string(),
            ])
        })
        .collect();
    let multi: Vec<f64> = kids
        .into_iter()
        .map(|k| output(k).parse().unwrap())
        .collect();
    let multi_mean = multi.iter().sum::<f64>() / multi.len() as f64;
    drop(shared);
    drop(region);
    Region::remove(&path).unwrap();

    let outage_ms = 1_500;
    let dead_path = region_path("dead");
    let dead_region = Region::open(&dead_path, 16).unwrap();
    dead_region.breaker("bench.dead", dead_config()).unwrap();
    let (p_first, p_later) = dead_run("private", "", outage_ms);
    let (s_first, s_later) = dead_run("shared", &dead_path.to_string_lossy(), outage_ms);
    drop(dead_region);
    Region::remove(&dead_path).unwrap();

    println!("## Shared breakers (tripbit-shm) against private ones\n");
    println!(
        "Closed path, one process, best of {runs} runs of {n} calls (ns per call, bare loop {bare:.2} ns):\n"
    );
    println!("| call | private `static` | shared (region file) | shared / private |");
    println!("|---|---:|---:|---:|");
    println!(
        "| `try_acquire_with` + `record(Success)` | {private:.2} | {in_region:.2} | {:.2}x |",
        in_region / private
    );
    println!(
        "| added over the bare loop | {:.2} | {:.2} | {:.2}x |",
        private - bare,
        in_region - bare,
        (in_region - bare) / (private - bare).max(0.01)
    );
    println!(
        "| `acquire_ticket_with` + `record_ticket(Success)` | {private_ticket:.2} | {shared_ticket:.2} | {:.2}x |",
        shared_ticket / private_ticket
    );
    println!(
        "| `call(closure)` helper (core vs tripbit-shm) | {private_call:.2} | {shared_call:.2} | {:.2}x |",
        shared_call / private_call
    );
    println!(
        "\n{cpus} processes at once (one per CPU) on the one shared breaker, closed path: {multi_mean:.2} ns per call (per process: {}).\n",
        multi
            .iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "Dead upstream (each call fails after 1 ms), {PROCS} processes for {outage_ms} ms, failure_threshold {THRESHOLD}, open 250 ms, 1 probe:\n"
    );
    println!("| breakers | calls before every process stopped | probe calls after | total |");
    println!("|---|---:|---:|---:|");
    println!(
        "| private (one per process) | {p_first} | {p_later} | {} |",
        p_first + p_later
    );
    println!(
        "| shared (one region slot) | {s_first} | {s_later} | {} |",
        s_first + s_later
    );
    println!(
        "\nGoal: failure_threshold ({THRESHOLD}) calls in total before the trip instead of {PROCS} x {THRESHOLD} = {}.",
        PROCS as u32 * THRESHOLD
    );
}
