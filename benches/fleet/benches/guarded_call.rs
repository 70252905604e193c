//! Guarded-call cost with a fleet monitor attached against a plain local
//! tripbit breaker (same config), one thread: the monitor adds a counter
//! increment and a mode check, nothing on the network. Measured with the
//! monitor flushing to a live redis-server every 250 ms, and with Redis
//! unreachable (the fail-open path).

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use tripbit::{Breaker, Config, clock};
use tripbit_fleet::{Monitor, MonitorConfig};
use tripbit_fleet_bench::{Redis, free_port};

fn main() {
    let quick = std::env::var_os("TRIPBIT_BENCH_QUICK").is_some();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(if quick { 200 } else { 1000 }))
        .measurement_time(Duration::from_millis(if quick { 500 } else { 3000 }))
        .configure_from_args();
    let redis = Redis::start();
    let cfg = MonitorConfig::default();
    let plain = Breaker::new(cfg.local);
    let live = Monitor::connect(&redis.url(), cfg.clone()).unwrap();
    let down = Monitor::connect(&format!("redis://127.0.0.1:{}/0", free_port()), cfg).unwrap();
    let fleet_live = live.breaker("bench.fleet.live").unwrap();
    let fleet_down = down.breaker("bench.fleet.down").unwrap();
    let mut g = c.benchmark_group("guarded_call_success");
    g.bench_function("plain tripbit::Breaker::call", |b| {
        b.iter(|| plain.call(|| Ok::<_, ()>(black_box(1u64))))
    });
    g.bench_function("FleetBreaker::call (Redis live)", |b| {
        b.iter(|| fleet_live.call(|| Ok::<_, ()>(black_box(1u64))))
    });
    g.bench_function("FleetBreaker::call (Redis unreachable)", |b| {
        b.iter(|| fleet_down.call(|| Ok::<_, ()>(black_box(1u64))))
    });
    g.finish();
    // Rejections: the fleet says unhealthy (mirrored as force_open) vs a
    // plain breaker forced open.
    let plain_open = Breaker::new(Config::new(clock::ticks(Duration::from_secs(60))));
    plain_open.force_open();
    let mut g = c.benchmark_group("guarded_call_rejected");
    g.bench_function("plain tripbit::Breaker::call (forced open)", |b| {
        b.iter(|| plain_open.call(|| Ok::<_, ()>(black_box(1u64))))
    });
    g.finish();
    c.final_summary();
    let s = live.stats();
    eprintln!(
        "live monitor: {} batches acknowledged, {} store errors",
        s.batches_sent, s.store_errors
    );
    let _ = live.close();
}
