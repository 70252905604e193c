//! Smoke test: every guard behaves as its benchmark case claims, so the
//! numbers measure what the tables say. For each library: a closed breaker
//! passes a success through and reports a failure as a failure, the
//! documented number of failures in a row trips it (and one fewer does
//! not), an open breaker rejects without calling the operation, a breaker
//! past its open period lets a probe through, and the rate-window policies
//! trip on a failure rate but not below it. Then every benchmark case runs a
//! short loop (one thread, and two threads sharing the breaker for the
//! threaded scenarios) and must return the expected result every time.
//!
//! Quick by design (well under a second): it runs in the main test command.

use std::cell::Cell;
use std::time::Duration;

use tripbit_benches::{
    CircuitbreakerRs, Failsafe, FailsafeWindow, Guard, OpError, Policy, R, Recloser, Scenario,
    Setup, THRESHOLD, TripbitClockConsecutive, TripbitClockWindow, TripbitTickConsecutive,
    TripbitTickProbing, TripbitTickWindow, Visitor, op_err, op_ok, run_loop, run_threads,
    visit_all,
};

/// `guard` with an operation that notes whether it ran.
fn guard_noting<G: Guard>(g: &G, ok: bool) -> (R, bool) {
    let called = Cell::new(false);
    let r = g.guard(|| {
        called.set(true);
        if ok { op_ok(41) } else { op_err(41) }
    });
    (r, called.get())
}

fn name<G>() -> &'static str {
    std::any::type_name::<G>()
}

/// Closed: a success passes through, a failure is reported as one, and
/// one failure fewer than the threshold in a row trips nothing.
fn closed_passes<G: Guard>() {
    let g = G::build(Policy::Consecutive, Setup::Closed);
    assert_eq!(g.guard(|| op_ok(41)), R::Ok(42), "{}", name::<G>());
    assert_eq!(g.guard(|| op_err(41)), R::Failed, "{}", name::<G>());
    assert_eq!(g.guard(|| op_ok(1)), R::Ok(2), "{}", name::<G>());
    for _ in 1..THRESHOLD {
        assert_eq!(g.guard(|| op_err(0)), R::Failed, "{}", name::<G>());
    }
    assert_eq!(guard_noting(&g, true), (R::Ok(42), true), "{}", name::<G>());
}

/// `TRIP_FAILURES` failures in a row trip a fresh breaker: the next call is
/// rejected without running.
fn failures_trip<G: Guard>() {
    let g = G::build(Policy::Consecutive, Setup::Closed);
    for i in 0..G::TRIP_FAILURES {
        assert_eq!(
            g.guard(|| op_err(0)),
            R::Failed,
            "{} failure {i}",
            name::<G>()
        );
    }
    assert_eq!(
        guard_noting(&g, true),
        (R::Rejected, false),
        "{}",
        name::<G>()
    );
}

/// `Setup::Open` rejects every call without running it.
fn open_rejects<G: Guard>() {
    let g = G::build(Policy::Consecutive, Setup::Open);
    for _ in 0..100 {
        assert_eq!(
            guard_noting(&g, true),
            (R::Rejected, false),
            "{}",
            name::<G>()
        );
    }
}

/// `Setup::Probing`: the open period is over at once, so the next call runs
/// (a probe); its success closes the breaker (recloser: see its docs, the
/// second half-open call decides) and calls keep running.
fn probing_admits<G: Guard>() {
    let g = G::build(Policy::Consecutive, Setup::Probing);
    std::thread::sleep(Duration::from_millis(1));
    for _ in 0..3 {
        assert_eq!(guard_noting(&g, true), (R::Ok(42), true), "{}", name::<G>());
    }
}

/// The rate-window policy: all failures trip it after exactly `trip_after`
/// calls (the next one is rejected); if its bar is a ratio of calls
/// (`call_ratio`), one failure in three (33 %, under the 50 % bar) never
/// does.
fn window_trips<G: Guard>(trip_after: u32) {
    window_trips_of(|| G::build(Policy::Window, Setup::Closed), trip_after, true);
}

fn window_trips_of<G: Guard>(make: impl Fn() -> G, trip_after: u32, call_ratio: bool) {
    let g = make();
    let mut failed = 0;
    loop {
        match guard_noting(&g, false) {
            (R::Failed, true) => failed += 1,
            (R::Rejected, false) => break,
            other => panic!("{}: {other:?}", name::<G>()),
        }
        assert!(failed <= 1_000, "{} never trips", name::<G>());
    }
    assert_eq!(
        failed,
        trip_after,
        "{}: failures before tripping",
        name::<G>()
    );

    if !call_ratio {
        return;
    }
    let g = make();
    for i in 0..300 {
        let (r, called) = guard_noting(&g, i % 3 != 0);
        assert!(
            called,
            "{}: rejected at 33 % failures (call {i})",
            name::<G>()
        );
        assert_ne!(r, R::Rejected);
    }
}

#[test]
fn closed_breakers_pass_calls_through() {
    closed_passes::<TripbitTickConsecutive>();
    closed_passes::<TripbitClockConsecutive>();
    closed_passes::<Recloser>();
    closed_passes::<Failsafe>();
    closed_passes::<CircuitbreakerRs>();
}

#[test]
fn failures_in_a_row_trip() {
    failures_trip::<TripbitTickConsecutive>();
    failures_trip::<TripbitClockConsecutive>();
    failures_trip::<Recloser>();
    failures_trip::<Failsafe>();
    failures_trip::<CircuitbreakerRs>();
}

#[test]
fn open_breakers_reject_without_calling() {
    open_rejects::<TripbitTickConsecutive>();
    open_rejects::<TripbitClockConsecutive>();
    open_rejects::<Recloser>();
    open_rejects::<Failsafe>();
    open_rejects::<CircuitbreakerRs>();
}

#[test]
fn probing_breakers_admit_after_the_open_period() {
    probing_admits::<TripbitTickProbing>();
    probing_admits::<TripbitClockConsecutive>();
    probing_admits::<Recloser>();
    probing_admits::<Failsafe>();
    probing_admits::<CircuitbreakerRs>();
}

#[test]
fn rate_windows_trip_at_half_failures_only() {
    // tripbit: ≥ 50 % of the last 100 calls, once 20 are in.
    window_trips::<TripbitTickWindow>(20);
    window_trips::<TripbitClockWindow>(20);
    // recloser: its ring of 100 must fill first (see `Recloser`).
    window_trips::<Recloser>(101);
    // failsafe: success rate under 50 % (EMA over the window), at least 20
    // calls, and only once a whole window has passed since it was built: the
    // benchmark's (30 s) never trips here; a 20 ms one does after 20 ms. Its
    // average weighs each outcome by the time since the previous one (in
    // ms), not by calls, so a ratio of calls does not map onto it.
    let g = FailsafeWindow::build(Policy::Window, Setup::Closed);
    for _ in 0..300 {
        assert_eq!(guard_noting(&g, false), (R::Failed, true));
    }
    window_trips_of(
        || {
            let g = FailsafeWindow::with_window(Duration::from_millis(20));
            std::thread::sleep(Duration::from_millis(25));
            g
        },
        20,
        false,
    );
    // circuitbreaker-rs: ≥ 50 % of all calls, at least 20.
    window_trips::<CircuitbreakerRs>(20);
}

#[test]
fn the_operation_is_opaque_and_fails_as_told() {
    assert_eq!(op_ok(u64::MAX), Ok(0));
    assert_eq!(op_err(7), Err(OpError));
}

/// Every benchmark case returns what it claims on every iteration.
struct Cases {
    checked: usize,
}

impl Visitor for Cases {
    fn visit<S: Scenario, G: Guard>(&mut self, lib: &'static str) {
        let g: G = tripbit_benches::build::<S, G>();
        let wrong = run_loop::<S, G>(&g, 2_000);
        assert_eq!(wrong, 0, "{}/{lib}: unexpected results", S::ID);
        if S::THREADED {
            let g: G = tripbit_benches::build::<S, G>();
            let (_, wrong) = run_threads::<S, G>(&g, 2, 2_000);
            assert_eq!(wrong, 0, "{}/{lib} on 2 threads: unexpected results", S::ID);
        }
        self.checked += 1;
    }
}

#[test]
fn every_case_returns_what_it_claims() {
    let mut cases = Cases { checked: 0 };
    visit_all(&mut cases);
    assert_eq!(cases.checked, tripbit_benches::CASES);
}
