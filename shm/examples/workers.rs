//! Four worker processes share one verdict: `cargo run -p tripbit-shm
//! --example workers`.
//!
//! The parent creates a region under /dev/shm and starts 4 workers (this
//! program again, `workers --worker N PATH START`). Each worker calls the
//! same upstream through the shared breaker `acme.search.hotels`
//! (`failure_threshold` 3, open 300 ms). The upstream is down for the first
//! 700 ms, then back. The workers print what they see; a `Watch` tells each
//! one about transitions another process made. The parent counts the calls
//! that reached the dead upstream (private breakers would have made 4 × 3
//! before everyone stopped) and prints the region's slot.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use tripbit::{CallError, Config, State};
use tripbit_shm::{Region, now};

const MS: u64 = 1_000_000;
const WORKERS: u32 = 4;

fn config() -> Config {
    Config::new(300 * MS).consecutive_failures(3)
}

fn worker(id: u32, path: &str, start: u64) {
    let region = Region::attach(path).expect("attach the region");
    let b = region.breaker("acme.search.hotels", config()).unwrap();
    let watch = b.watch();
    while now() < start {
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut out = std::io::stdout().lock();
    let (mut reached_dead, mut rejected, mut oks) = (0u32, 0u32, 0u32);
    // Staggered: the workers' calls interleave.
    std::thread::sleep(Duration::from_millis(u64::from(id) * 9));
    while now() < start + 1_300 * MS {
        let down = now() < start + 700 * MS;
        let before = b.generation().0;
        let r: Result<(), CallError<&str>> = b.call(|| {
            std::thread::sleep(Duration::from_millis(5));
            if down { Err("upstream down") } else { Ok(()) }
        });
        let mine = b.generation().0 != before;
        match r {
            Ok(()) => {
                oks += 1;
                if oks == 1 {
                    writeln!(out, "[worker {id}] call ok (further successes not shown)").unwrap();
                }
            }
            Err(CallError::Failed(e)) => {
                reached_dead += 1;
                writeln!(out, "[worker {id}] call failed: {e}").unwrap();
            }
            Err(CallError::Rejected(_)) => {
                rejected += 1;
                if rejected == 1 {
                    writeln!(out, "[worker {id}] rejected: the shared breaker is open").unwrap();
                }
            }
        }
        if let Some((_, to)) = watch.poll() {
            let who = if mine {
                "this worker"
            } else {
                "another process"
            };
            writeln!(
                out,
                "[worker {id}] the breaker is now {to} (moved by {who})"
            )
            .unwrap();
            if to == State::Closed {
                rejected = 0;
            }
        }
        out.flush().unwrap();
        std::thread::sleep(Duration::from_millis(40));
    }
    writeln!(out, "reached_dead={reached_dead}").unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--worker") {
        worker(args[1].parse().unwrap(), &args[2], args[3].parse().unwrap());
        return;
    }
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("tripbit-demo-workers-{}", std::process::id()));
    let region = Region::open(&path, 16).expect("create the region");
    region.breaker("acme.search.hotels", config()).unwrap();
    println!(
        "{WORKERS} worker processes share {} (failure_threshold 3, open 300 ms); the upstream is down for 700 ms",
        path.display()
    );
    let start = now() + 300 * MS;
    let kids: Vec<_> = (0..WORKERS)
        .map(|id| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--worker",
                    &id.to_string(),
                    &path.to_string_lossy(),
                    &start.to_string(),
                ])
                .stdout(Stdio::piped())
                .spawn()
                .expect("start a worker")
        })
        .collect();
    // Forward the workers' lines as they come.
    let (tx, rx) = std::sync::mpsc::channel();
    let readers: Vec<_> = kids
        .into_iter()
        .map(|mut k| {
            let tx = tx.clone();
            let stdout = k.stdout.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    tx.send(line.unwrap()).unwrap();
                }
                assert!(k.wait().unwrap().success());
            })
        })
        .collect();
    drop(tx);
    let mut reached_dead = 0;
    for line in rx {
        match line.strip_prefix("reached_dead=") {
            Some(n) => reached_dead += n.parse::<u32>().unwrap(),
            None => println!("  {line}"),
        }
    }
    for r in readers {
        r.join().unwrap();
    }
    println!(
        "calls that reached the dead upstream: {reached_dead} from {WORKERS} processes (private breakers: at least {})",
        WORKERS * 3
    );
    for s in region.slots().into_iter().filter(|s| s.name.is_some()) {
        let snap = s.snapshot.unwrap();
        println!(
            "slot {}: {} state={} generation={} (every transition of all {WORKERS} workers)",
            s.index,
            s.name.unwrap(),
            snap.state,
            snap.generation
        );
    }
    drop(region);
    Region::remove(&path).unwrap();
}
