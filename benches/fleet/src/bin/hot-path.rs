//! Guarded-call cost, robust to a loaded machine: a plain
//! `tripbit::Breaker::call` and `FleetBreaker::call` (monitor flushing to a
//! live redis-server every 250 ms, and one whose Redis is unreachable),
//! measured in turns (plain, live, down, plain, ...) over many short runs of
//! `CALLS` calls each; the minimum per call of each is what the machine does
//! when nothing else runs (other load only ever adds time), the median shows
//! the spread. One thread, closed breakers, every call a success.
//!
//! `cargo run --release -p tripbit-fleet-bench --bin hot-path`
//! (`TRIPBIT_BENCH_QUICK=1`: fewer runs).

use std::hint::black_box;
use std::time::Instant;

use tripbit::Breaker;
use tripbit_fleet::{Monitor, MonitorConfig};
use tripbit_fleet_bench::{Redis, free_port, percentile};

const CALLS: u32 = 200_000;

/// ns per call of `f`, over `CALLS` calls (monomorphized: `f` inlines into
/// the loop, as in a real caller).
#[inline(never)]
fn per_call_ns(f: impl Fn()) -> f64 {
    let t0 = Instant::now();
    for _ in 0..CALLS {
        f();
    }
    t0.elapsed().as_nanos() as f64 / f64::from(CALLS)
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile(&s, 50.0)
}

fn main() {
    let runs = if std::env::var_os("TRIPBIT_BENCH_QUICK").is_some() {
        40
    } else {
        300
    };
    let redis = Redis::start();
    let cfg = MonitorConfig::default();
    let plain = Breaker::new(cfg.local);
    let live = Monitor::connect(&redis.url(), cfg.clone()).expect("monitor");
    let down =
        Monitor::connect(&format!("redis://127.0.0.1:{}/0", free_port()), cfg).expect("monitor");
    let fleet_live = live.breaker("bench.hot.live").expect("breaker");
    let fleet_down = down.breaker("bench.hot.down").expect("breaker");
    let p = || {
        let _ = black_box(plain.call(|| Ok::<_, ()>(black_box(1u64))));
    };
    let l = || {
        let _ = black_box(fleet_live.call(|| Ok::<_, ()>(black_box(1u64))));
    };
    let d = || {
        let _ = black_box(fleet_down.call(|| Ok::<_, ()>(black_box(1u64))));
    };
    let (mut vp, mut vl, mut vd) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=runs {
        let (a, b, c) = (per_call_ns(p), per_call_ns(l), per_call_ns(d));
        if i > 0 {
            // Run 0 warms up.
            vp.push(a);
            vl.push(b);
            vd.push(c);
        }
    }
    println!("{runs} runs x {CALLS} calls each, in turns; ns per call");
    println!(
        "{:<40} {:>8} {:>7} {:>8} {:>7}",
        "", "min", "ratio", "median", "ratio"
    );
    for (name, v) in [
        ("plain tripbit::Breaker::call", &vp),
        ("FleetBreaker::call (Redis live)", &vl),
        ("FleetBreaker::call (Redis unreachable)", &vd),
    ] {
        println!(
            "{name:<40} {:>8.2} {:>7.2} {:>8.2} {:>7.2}",
            min(v),
            min(v) / min(&vp),
            median(v),
            median(v) / median(&vp)
        );
    }
    let s = live.stats();
    let counted: u64 = s.counted.values().map(|c| c.success).sum();
    println!(
        "live monitor: {} batches acknowledged, {} store errors, {counted} calls counted",
        s.batches_sent, s.store_errors
    );
    let _ = live.close();
}
