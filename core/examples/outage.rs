//! Drives a breaker through a simulated outage and recovery, printing every
//! transition with its timestamp. Time is simulated (1 tick = 1 ms), so the
//! run is instant and always prints the same story.
//!
//! `cargo run -p tripbit --example outage`

use tripbit::{Breaker, Config, Outcome, State, Transition};

/// The upstream is healthy, down from 2 s to 9.5 s, then healthy again.
fn upstream_ok(now_ms: u64) -> bool {
    !(2_000..9_500).contains(&now_ms)
}

static UPSTREAM: Breaker = Breaker::new(
    Config::new(1_000) // open for 1 s ...
        .consecutive_failures(3)
        .backoff(2, 3) // ... doubling per failed probe, at most 8 s
        .probes(1)
        .close_after(2), // two good probes in a row to close
);

fn show(now: u64, t: Transition) {
    println!(
        "t={:>6.3}s  {:>9} -> {:<9}  (generation {}, backoff level {})",
        now as f64 / 1_000.0,
        t.from,
        t.to,
        t.generation,
        t.level
    );
}

fn main() {
    let (mut calls, mut rejected, mut failed) = (0u32, 0u32, 0u32);
    // One request every 100 ms for 14 s.
    for now in (0..14_000).step_by(100) {
        match UPSTREAM.try_acquire(now) {
            Err(_) => rejected += 1,
            Ok(permit) => {
                if let Some(t) = permit.transition() {
                    show(now, t);
                }
                calls += 1;
                let ok = upstream_ok(now);
                failed += u32::from(!ok);
                if let Some(t) = permit.record(Outcome::from_success(ok), now + 20) {
                    show(now + 20, t);
                }
            }
        }
    }
    println!(
        "\n{calls} calls reached the upstream ({failed} failed), {rejected} were rejected without touching it."
    );
    let end = UPSTREAM.snapshot(14_000);
    println!("final state: {} (generation {})", end.state, end.generation);
    assert_eq!(end.state, State::Closed);
    // The outage is 7.5 s long; at 10 req/s that is 75 requests, of which
    // the breaker let through only the 3 that tripped it and the probes.
    assert!(
        failed <= 8,
        "too many calls hit the dead upstream: {failed}"
    );
}
