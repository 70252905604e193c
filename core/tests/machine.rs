//! Each row of the state-machine table at the top of `src/breaker.rs`,
//! driven and checked as written: the state reached, the generation step,
//! the backoff level, the stamp (`opened_at` / `probe_deadline`) and
//! whether the call was admitted.

use tripbit::{Breaker, Config, Outcome, Stale, State};

fn tripped(c: Config) -> Breaker {
    let b = Breaker::new(c);
    b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
    b
}

const BASE: Config = Config::new(100)
    .consecutive_failures(2)
    .backoff(2, 3)
    .probe_timeout(50);

#[test]
fn closed_rows() {
    let b = Breaker::new(BASE);
    let g = b.snapshot(0).generation;
    // failure below the bar: same state, counter updated
    assert!(
        b.try_acquire(5)
            .unwrap()
            .record(Outcome::Failure, 5)
            .is_none()
    );
    let s = b.snapshot(5);
    assert_eq!(
        (s.state, s.consecutive_failures, s.generation),
        (State::Closed, 1, g)
    );
    // success: counter reset, same generation
    assert!(
        b.try_acquire(6)
            .unwrap()
            .record(Outcome::Success, 6)
            .is_none()
    );
    assert_eq!(b.snapshot(6).consecutive_failures, 0);
    // failure reaching the threshold: Open, level 0, gen+1, stamped at its own tick
    b.try_acquire(7).unwrap().record(Outcome::Failure, 7);
    let t = b
        .try_acquire(8)
        .unwrap()
        .record(Outcome::Failure, 8)
        .unwrap();
    assert_eq!(
        (t.from, t.to, t.level, t.generation),
        (State::Closed, State::Open, 0, g + 1)
    );
    assert_eq!(b.snapshot(8).opened_at, Some(8));
}

#[test]
fn open_rows() {
    let b = tripped(BASE.consecutive_failures(1));
    let g = b.snapshot(0).generation;
    // before the period: rejected with retry_at
    let r = b.try_acquire(99).unwrap_err();
    assert_eq!((r.state, r.retry_at), (State::Open, Some(100)));
    // the clock went back by more than the period: restamped to now
    assert_eq!(b.try_acquire(0).unwrap_err().retry_at, Some(100));
    // after it, no ghosts: HalfOpen, same level, gen+1, slot 0, stamped now
    let p = b.try_acquire(100).unwrap();
    let t = p.transition().unwrap();
    assert_eq!(
        (t.from, t.to, t.level, t.generation),
        (State::Open, State::HalfOpen, 0, g + 1)
    );
    assert_eq!(p.into_ticket().slot, 0);
    assert_eq!(b.snapshot(100).probe_deadline, Some(150));
}

#[test]
fn advance_row() {
    let b = tripped(BASE.consecutive_failures(1));
    let g = b.snapshot(0).generation;
    assert_eq!(b.snapshot(0).opened_by, Some(tripbit::OpenedBy::Trip));
    assert_eq!(b.advance(99), None); // period not over: nothing
    let t = b.advance(100).unwrap();
    assert_eq!(
        (t.from, t.to, t.level, t.generation),
        (State::Open, State::HalfOpen, 0, g + 1)
    );
    let s = b.snapshot(100);
    assert_eq!((s.probes_in_flight, s.probe_deadline), (0, None));
    assert_eq!(b.advance(101), None); // already half-open
    let p = b.try_acquire(101).unwrap(); // slot 0 of the empty round
    assert!(p.is_probe() && p.transition().is_none());
    assert_eq!(
        p.record(Outcome::Failure, 102).map(|t| t.to),
        Some(State::Open)
    );
    assert_eq!(
        b.snapshot(102).opened_by,
        Some(tripbit::OpenedBy::FailedTrial)
    );
}

#[test]
fn open_waits_for_ghosts_and_a_ghost_report_only_frees_its_slot() {
    // A probe timeout longer than the open period, so the wait is visible.
    let b2 = tripped(
        BASE.consecutive_failures(1)
            .probes(2)
            .close_after(2)
            .probe_timeout(1_000),
    );
    let (a2, _) = b2.acquire_ticket(100).unwrap();
    let (c2, _) = b2.acquire_ticket(100).unwrap();
    b2.record_ticket(a2, Outcome::Failure, 101).unwrap();
    // The reopened period (level 1: 200 ticks) is over at 301, but the
    // ghost `c2` may run until its deadline, 101 + 1000.
    let r = b2.try_acquire(301).unwrap_err();
    assert_eq!((r.state, r.retry_at), (State::Open, Some(1_101)));
    // the ghost reports: stale, counts nothing, frees its slot
    assert_eq!(b2.record_ticket(c2, Outcome::Success, 302), Err(Stale));
    let s = b2.snapshot(302);
    assert_eq!((s.probes_in_flight, s.probe_successes), (0, 0));
    assert!(b2.try_acquire(302).unwrap().is_probe());
}

#[test]
fn half_open_rows() {
    let b = tripped(BASE.consecutive_failures(1).probes(2).close_after(3));
    let (p0, _) = b.acquire_ticket(100).unwrap();
    let g = b.snapshot(100).generation;
    // a slot of the round free: next slot claimed, same generation
    let (p1, _) = b.acquire_ticket(100).unwrap();
    assert_eq!((p0.slot, p1.slot), (0, 1));
    assert_eq!(b.snapshot(100).generation, g);
    // round full, a probe out, before the deadline: rejected, no retry_at
    let r = b.try_acquire(149).unwrap_err();
    assert_eq!((r.state, r.retry_at), (State::HalfOpen, None));
    // other outcome: slot done, totals updated
    assert_eq!(b.record_ticket(p0, Outcome::Success, 101), Ok(None));
    assert_eq!(b.record_ticket(p1, Outcome::Success, 101), Ok(None));
    // round over: gen+1, new round, totals kept
    let (p2, _) = b.acquire_ticket(102).unwrap();
    let s = b.snapshot(102);
    assert_eq!((s.generation, s.probe_successes, p2.slot), (g + 1, 2, 0));
    // success reaching close_after: Closed, level 0, gen+1
    let t = b.record_ticket(p2, Outcome::Success, 103).unwrap().unwrap();
    assert_eq!(
        (t.from, t.to, t.level, t.generation),
        (State::HalfOpen, State::Closed, 0, g + 2)
    );
}

#[test]
fn half_open_deadline_and_failure_rows() {
    let b = tripped(BASE.consecutive_failures(1));
    let (stuck, _) = b.acquire_ticket(100).unwrap();
    let g = b.snapshot(100).generation;
    // round full past the deadline: gen+1, new round, the stuck probe stale
    let (p, tr) = b.acquire_ticket(150).unwrap();
    assert!(tr.is_none() && p.probe);
    assert_eq!(b.snapshot(150).generation, g + 1);
    assert_eq!(b.record_ticket(stuck, Outcome::Failure, 151), Err(Stale));
    // failure past the close bar: Open, level+1, gen+1, from max(now, round start)
    let t = b.record_ticket(p, Outcome::Failure, 140).unwrap().unwrap();
    assert_eq!(
        (t.from, t.to, t.level, t.generation),
        (State::HalfOpen, State::Open, 1, g + 2)
    );
    let s = b.snapshot(151);
    assert_eq!((s.opened_at, s.open_until), (Some(150), Some(350)));
}

#[test]
fn operator_rows() {
    let b = Breaker::new(BASE);
    let g = b.snapshot(0).generation;
    let t = b.force_open().unwrap();
    assert_eq!((t.to, t.generation), (State::ForcedOpen, g + 1));
    assert_eq!(
        b.try_acquire(0).unwrap_err(),
        tripbit::Rejected {
            state: State::ForcedOpen,
            retry_at: None
        }
    );
    assert!(b.force_open().is_none()); // already the target: no change
    let t = b.force_closed().unwrap();
    assert_eq!((t.to, t.generation), (State::ForcedClosed, g + 2));
    let p = b.try_acquire(0).unwrap();
    assert!(p.record(Outcome::Failure, 0).is_none()); // counts nothing
    assert_eq!(b.snapshot(0).consecutive_failures, 0);
    let t = b.disable().unwrap();
    assert_eq!((t.to, t.generation), (State::Disabled, g + 3));
    let t = b.reset().unwrap();
    assert_eq!(
        (t.from, t.to, t.level, t.generation),
        (State::Disabled, State::Closed, 0, g + 4)
    );
    // reset of a closed breaker: gen+1, no transition reported
    assert!(b.reset().is_none());
    assert_eq!(b.snapshot(0).generation, g + 5);
}
