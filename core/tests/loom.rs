//! loom models of the races that matter. Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p tripbit --release --test loom`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tripbit::{Breaker, Config, Outcome, State};

/// (a) In half-open, exactly `probes` of three racing callers are admitted.
#[test]
fn half_open_admits_exactly_probes_among_three_threads() {
    loom::model(|| {
        let b = Arc::new(Breaker::new(
            Config::new(10)
                .consecutive_failures(1)
                .probes(2)
                .close_after(2),
        ));
        b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let b = b.clone();
                // Keep the ticket (not a Permit, whose drop would free the
                // slot) so every admission is still held when we count.
                thread::spawn(move || b.try_acquire(10).ok().map(|p| p.into_ticket()))
            })
            .collect();
        let admitted: Vec<_> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(admitted.len(), 2);
        assert!(admitted.iter().all(|t| t.probe));
        let s = b.snapshot(10);
        assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 2));
    });
}

/// (b) Concurrent failures trip exactly once, and exactly one caller gets
/// the transition.
#[test]
fn concurrent_failures_trip_exactly_once() {
    loom::model(|| {
        let b = Arc::new(Breaker::new(Config::new(10).consecutive_failures(2)));
        let tickets: Vec<_> = (0..3).map(|_| b.acquire_ticket(0).unwrap().0).collect();
        let handles: Vec<_> = tickets
            .into_iter()
            .map(|t| {
                let b = b.clone();
                thread::spawn(move || b.record_ticket(t, Outcome::Failure, 1))
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let trips: Vec<_> = results.iter().filter_map(|r| r.ok().flatten()).collect();
        assert_eq!(trips.len(), 1, "{results:?}");
        assert_eq!((trips[0].from, trips[0].to), (State::Closed, State::Open));
        // The third failure either counted before the trip or was stale after.
        assert_eq!(b.state(1), State::Open);
        assert_eq!(b.snapshot(1).opened_at, Some(1));
    });
}

/// (c) A permit admitted before a transition never counts after it: an old
/// closed-state success racing with a trip and the next half-open probe must
/// not close the breaker or touch the probe's counters.
#[test]
fn permit_from_before_a_transition_never_counts_after_it() {
    loom::model(|| {
        let b = Arc::new(Breaker::new(Config::new(10).consecutive_failures(1)));
        let old = b.acquire_ticket(0).unwrap().0;
        let trigger = b.acquire_ticket(0).unwrap().0;
        let b1 = b.clone();
        let tripper = thread::spawn(move || {
            let tripped = b1.record_ticket(trigger, Outcome::Failure, 0).unwrap();
            assert!(tripped.is_some());
            // Open period over: become the single probe and keep it.
            b1.acquire_ticket(10).unwrap().0
        });
        let b2 = b.clone();
        let late = thread::spawn(move || b2.record_ticket(old, Outcome::Success, 10));
        let probe = tripper.join().unwrap();
        let late = late.join().unwrap();
        // Either it landed while closed (no effect: count already zero) or it
        // was stale; never a transition.
        assert!(matches!(late, Ok(None) | Err(tripbit::Stale)));
        let s = b.snapshot(10);
        assert_eq!(s.state, State::HalfOpen);
        assert_eq!((s.probes_in_flight, s.probe_successes), (1, 0));
        assert!(probe.probe);
    });
}

/// The Release CAS to Open and the Acquire fence in `try_acquire`: a reader
/// that sees Open always sees the tick it opened at, never a stale one that
/// would end the open period early.
#[test]
fn a_reader_that_sees_open_sees_its_opening_tick() {
    loom::model(|| {
        let b = Arc::new(Breaker::new(Config::new(100).consecutive_failures(1)));
        let t = b.acquire_ticket(500).unwrap().0;
        let b1 = b.clone();
        let w = thread::spawn(move || b1.record_ticket(t, Outcome::Failure, 500));
        match b.try_acquire(550) {
            Ok(p) => assert!(!p.is_probe(), "admitted as a probe before the period ended"),
            Err(r) => assert_eq!(r.retry_at, Some(600)),
        }
        w.join().unwrap().unwrap();
    });
}
