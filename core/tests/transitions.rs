//! Behaviour tests, one per transition. Time moves by passing a later `now`.

use tripbit::{
    Breaker, Config, ConfigError, Outcome, Registry, RegistryError, Stale, State, Window,
};

fn fail(b: &Breaker, now: u64) -> Option<tripbit::Transition> {
    b.try_acquire(now).unwrap().record(Outcome::Failure, now)
}

fn succeed(b: &Breaker, now: u64) -> Option<tripbit::Transition> {
    b.try_acquire(now).unwrap().record(Outcome::Success, now)
}

#[test]
fn consecutive_breaker_is_one_cache_line_and_ticket_16() {
    assert_eq!(core::mem::size_of::<Breaker>(), 64);
    assert_eq!(core::mem::align_of::<Breaker>(), 16);
    assert_eq!(core::mem::size_of::<tripbit::Ticket>(), 16);
    assert_eq!(core::mem::size_of::<Breaker<Window<8, 1>>>(), 128 + 192);
    assert_eq!(core::mem::size_of::<Breaker<Window<8>>>(), 128 + 4 * 192);
}

#[test]
fn closed_to_open_after_consecutive_failures_and_success_resets_the_count() {
    let b = Breaker::new(Config::new(100).consecutive_failures(3));
    assert_eq!(fail(&b, 1), None);
    assert_eq!(fail(&b, 2), None);
    assert_eq!(b.snapshot(2).consecutive_failures, 2);
    assert_eq!(succeed(&b, 3), None);
    assert_eq!(b.snapshot(3).consecutive_failures, 0);
    assert_eq!(fail(&b, 4), None);
    assert_eq!(fail(&b, 5), None);
    let t = fail(&b, 6).expect("third failure in a row trips");
    assert_eq!(
        (t.from, t.to, t.generation),
        (State::Closed, State::Open, 1)
    );
    assert_eq!(b.state(6), State::Open);
    let s = b.snapshot(6);
    assert_eq!((s.opened_at, s.open_until), (Some(6), Some(106)));
}

#[test]
fn open_rejects_until_the_open_period_ends_and_says_when() {
    let b = Breaker::new(Config::new(100).consecutive_failures(1));
    fail(&b, 10);
    let r = b.try_acquire(50).unwrap_err();
    assert_eq!((r.state, r.retry_at), (State::Open, Some(110)));
    assert_eq!(b.state(109), State::Open);
    // state() is pure: it reports HalfOpen past the deadline without moving.
    assert_eq!(b.state(110), State::HalfOpen);
    assert_eq!(b.snapshot(110).stored_state, State::Open);
}

#[test]
fn open_to_half_open_on_first_acquire_after_the_period() {
    let b = Breaker::new(Config::new(100).consecutive_failures(1));
    fail(&b, 0);
    let probe = b.try_acquire(100).unwrap();
    assert!(probe.is_probe());
    let t = probe.transition().unwrap();
    assert_eq!((t.from, t.to), (State::Open, State::HalfOpen));
    assert_eq!(b.snapshot(100).probes_in_flight, 1);
}

#[test]
fn half_open_admits_exactly_probes_at_once() {
    let b = Breaker::new(
        Config::new(10)
            .consecutive_failures(1)
            .probes(3)
            .close_after(3),
    );
    fail(&b, 0);
    let p: Vec<_> = (0..3).map(|_| b.try_acquire(10).unwrap()).collect();
    let r = b.try_acquire(10).unwrap_err();
    assert_eq!((r.state, r.retry_at), (State::HalfOpen, None));
    drop(p); // dropped unrecorded: slots come back, nothing is counted
    let s = b.snapshot(10);
    assert_eq!(
        (s.probes_in_flight, s.probe_successes, s.probe_failures),
        (0, 0, 0)
    );
    assert!(b.try_acquire(10).is_ok());
}

#[test]
fn half_open_to_closed_after_close_after_successes() {
    let b = Breaker::new(
        Config::new(10)
            .consecutive_failures(1)
            .probes(1)
            .close_after(2),
    );
    fail(&b, 0);
    assert_eq!(succeed(&b, 10), None);
    assert_eq!(b.snapshot(10).probe_successes, 1);
    let t = succeed(&b, 11).unwrap();
    assert_eq!((t.from, t.to, t.level), (State::HalfOpen, State::Closed, 0));
    assert_eq!(b.state(11), State::Closed);
}

#[test]
fn failed_probe_reopens_with_capped_exponential_backoff_reset_on_close() {
    let b = Breaker::new(Config::new(10).consecutive_failures(1).backoff(2, 2));
    fail(&b, 0); // open for 10
    let t = fail(&b, 10).unwrap(); // probe fails: level 1, open for 20
    assert_eq!((t.from, t.to, t.level), (State::HalfOpen, State::Open, 1));
    assert_eq!(b.try_acquire(29).unwrap_err().retry_at, Some(30));
    fail(&b, 30); // level 2: open for 40
    assert_eq!(b.try_acquire(69).unwrap_err().retry_at, Some(70));
    fail(&b, 70); // capped at level 2: still 40
    assert_eq!(b.snapshot(70).backoff_level, 2);
    assert_eq!(b.try_acquire(109).unwrap_err().retry_at, Some(110));
    let t = succeed(&b, 110).unwrap();
    assert_eq!((t.to, t.level), (State::Closed, 0));
    fail(&b, 200); // level back to 0: open for 10
    assert_eq!(b.try_acquire(205).unwrap_err().retry_at, Some(210));
}

#[test]
fn stricter_close_bar_tolerates_its_share_of_failures() {
    // Close after 4 successes, tolerating 1 failure (20 %).
    let b = Breaker::new(
        Config::new(10)
            .consecutive_failures(1)
            .probes(2)
            .close_after(4)
            .close_max_failure_percent(20),
    );
    fail(&b, 0);
    assert_eq!(fail(&b, 10), None); // first failure tolerated
    assert_eq!(succeed(&b, 11), None);
    let t = fail(&b, 12).unwrap(); // second one exceeds the bar
    assert_eq!(t.to, State::Open);
}

#[test]
fn ignored_outcomes_count_nothing_and_release_probe_slots() {
    let b = Breaker::new(Config::new(10).consecutive_failures(2));
    fail(&b, 0);
    assert_eq!(b.try_acquire(1).unwrap().record(Outcome::Ignored, 1), None);
    assert_eq!(b.snapshot(1).consecutive_failures, 1);
    fail(&b, 2);
    let p = b.try_acquire(12).unwrap();
    assert_eq!(p.record(Outcome::Ignored, 12), None);
    let s = b.snapshot(12);
    assert_eq!(
        (s.state, s.probes_in_flight, s.probe_successes),
        (State::HalfOpen, 0, 0)
    );
}

#[test]
fn results_from_a_stale_generation_are_discarded() {
    let b = Breaker::new(Config::new(10).consecutive_failures(1));
    let old = b.try_acquire(0).unwrap().into_ticket();
    fail(&b, 1); // trips: generation 1
    assert_eq!(b.record_ticket(old, Outcome::Failure, 2), Err(Stale));
    // A probe from an earlier half-open generation does not count either.
    let probe = b.try_acquire(11).unwrap().into_ticket();
    b.force_open();
    b.reset();
    assert_eq!(b.record_ticket(probe, Outcome::Success, 12), Err(Stale));
    assert_eq!(b.snapshot(12).consecutive_failures, 0);
}

#[test]
fn a_recorded_ticket_cannot_be_counted_twice_after_a_transition() {
    let b = Breaker::new(Config::new(10).consecutive_failures(1));
    let t = b.try_acquire(0).unwrap().into_ticket();
    assert!(b.record_ticket(t, Outcome::Failure, 0).unwrap().is_some());
    assert_eq!(b.record_ticket(t, Outcome::Failure, 0), Err(Stale));
}

#[test]
fn forced_open_rejects_forced_closed_admits_and_counts_nothing() {
    let b = Breaker::new(Config::new(10).consecutive_failures(1));
    let t = b.force_open().unwrap();
    assert_eq!((t.from, t.to), (State::Closed, State::ForcedOpen));
    let r = b.try_acquire(1_000).unwrap_err();
    assert_eq!((r.state, r.retry_at), (State::ForcedOpen, None));
    b.force_closed();
    for now in 0..10 {
        assert_eq!(fail(&b, now), None);
    }
    assert_eq!(b.state(10), State::ForcedClosed);
    assert_eq!(b.snapshot(10).consecutive_failures, 0);
}

#[test]
fn disabled_counts_but_never_trips() {
    let b = Breaker::new(Config::new(10).consecutive_failures(2));
    b.disable();
    for now in 0..5 {
        assert_eq!(fail(&b, now), None);
    }
    assert_eq!(b.snapshot(5).consecutive_failures, 5);
    assert_eq!(b.state(5), State::Disabled);
}

#[test]
fn reset_clears_everything_and_starts_a_generation() {
    let b = Breaker::new(Config::new(10).consecutive_failures(1).backoff(2, 3));
    fail(&b, 0);
    fail(&b, 10);
    let before = b.snapshot(10).generation;
    let t = b.reset().unwrap();
    assert_eq!((t.from, t.to, t.level), (State::Open, State::Closed, 0));
    let s = b.snapshot(10);
    assert_eq!(s.generation, before + 1);
    assert_eq!((s.backoff_level, s.consecutive_failures), (0, 0));
    // reset of a closed breaker still invalidates outstanding tickets.
    let t = b.try_acquire(11).unwrap().into_ticket();
    assert_eq!(b.reset(), None);
    assert_eq!(b.record_ticket(t, Outcome::Failure, 12), Err(Stale));
}

#[test]
fn ticks_going_backwards_never_panic_wrap_or_trip() {
    let b = Breaker::new(Config::new(100).consecutive_failures(2));
    fail(&b, 1_000);
    assert_eq!(b.try_acquire(5).unwrap().record(Outcome::Success, 0), None);
    assert_eq!(b.state(0), State::Closed);
    fail(&b, 2_000);
    fail(&b, 2_001);
    // Going back by less than the open period: no time passed, still open.
    assert_eq!(b.try_acquire(1_950).unwrap_err().retry_at, Some(2_101));
    // Going back by more (a clock restart): the period restarts at the new
    // tick instead of waiting for the old clock's value.
    assert_eq!(b.try_acquire(0).unwrap_err().retry_at, Some(100));
    if cfg!(tripbit_word32) {
        // The 32-bit stamps keep 48 bits of the tick: 2^64 ticks later is
        // past their range, 2^45 is not.
        assert_eq!(b.state(1 << 45), State::HalfOpen);
        return;
    }
    assert_eq!(b.state(u64::MAX), State::HalfOpen);
    // Extreme ticks saturate instead of wrapping.
    let c = Breaker::new(Config::new(u64::MAX).consecutive_failures(1));
    fail(&c, u64::MAX - 1);
    assert_eq!(
        c.try_acquire(u64::MAX - 1).unwrap_err().retry_at,
        Some(u64::MAX)
    );
}

#[test]
fn invalid_configs_are_errors_naming_the_field() {
    assert_eq!(
        Breaker::try_new(Config::new(10).consecutive_failures(0)).unwrap_err(),
        ConfigError::FailureThreshold
    );
    assert_eq!(
        Breaker::try_new(Config::new(0)).unwrap_err().field(),
        "open_ticks"
    );
    assert_eq!(
        Breaker::try_new(Config::new(10).probes(5).close_after(2)).unwrap_err(),
        ConfigError::Probes
    );
    assert_eq!(
        Breaker::try_new(Config::new(10).slow_calls(5, 50)).unwrap_err(),
        ConfigError::Policy
    );
}

#[test]
fn count_window_trips_on_ratio_only_after_min_calls() {
    let b: Breaker<Window<4>> =
        Breaker::new_window(Config::new(100).failure_rate(50, 6).count_window(2));
    let rec = |o| b.try_acquire(0).unwrap().record(o, 0);
    for _ in 0..5 {
        assert_eq!(rec(Outcome::Failure), None, "below min_calls");
    }
    // 6th call: 5/6 failures ≥ 50 %, but a fast success never trips it (it
    // cannot raise a ratio; checking only on failures keeps successes O(1)).
    assert_eq!(rec(Outcome::Success), None);
    assert_eq!(b.state(0), State::Closed);
    // The next failure finds 6/7 ≥ 50 % and trips it.
    let t = rec(Outcome::Failure).unwrap();
    assert_eq!((t.from, t.to), (State::Closed, State::Open));
}

#[test]
fn count_window_forgets_calls_older_than_n_buckets() {
    let b: Breaker<Window<2>> =
        Breaker::new_window(Config::new(100).failure_rate(50, 4).count_window(2));
    let rec = |o| b.try_acquire(0).unwrap().record(o, 0);
    rec(Outcome::Failure);
    rec(Outcome::Success);
    rec(Outcome::Success);
    // window: [F S] [S] = 3 calls, below min_calls
    assert_eq!(b.snapshot(0).window.calls, 3);
    assert_eq!(b.state(0), State::Closed);
    rec(Outcome::Failure);
    // [F S] [S F]: 4 calls, 2 failures = 50 %: trips.
    assert_eq!(b.state(0), State::Open);
    b.reset();
    assert_eq!(b.snapshot(0).window, tripbit::WindowCounts::ZERO);
    for _ in 0..10 {
        rec(Outcome::Success);
    }
    rec(Outcome::Failure);
    // Only the last 3..4 calls are in the window: 1 failure < 50 %.
    assert_eq!(b.state(0), State::Closed);
    let w = b.snapshot(0).window;
    assert!(w.calls <= 4 && w.failures == 1, "{w:?}");
}

#[test]
fn time_window_buckets_expire() {
    let b: Breaker<Window<3>> =
        Breaker::new_window(Config::new(1_000).failure_rate(60, 3).time_window(10));
    let rec = |o, now| b.try_acquire(now).unwrap().record(o, now);
    rec(Outcome::Failure, 0);
    rec(Outcome::Failure, 5);
    // 40 ticks later those buckets are outside the 30-tick window.
    rec(Outcome::Failure, 40);
    assert_eq!(b.snapshot(40).window.calls, 1);
    assert_eq!(b.state(40), State::Closed);
    rec(Outcome::Success, 41);
    let t = rec(Outcome::Failure, 52).unwrap(); // 2/3 = 66 % ≥ 60 %
    assert_eq!(t.to, State::Open);
}

#[test]
fn slow_calls_trip_on_slow_ratio() {
    let b: Breaker<Window<4>> = Breaker::new_window(
        Config::new(1_000)
            .failure_rate(100, 4)
            .slow_calls(50, 75)
            .count_window(4),
    );
    let fast = b.try_acquire(0).unwrap();
    assert_eq!(fast.record(Outcome::Success, 1), None);
    for i in 1..3 {
        let p = b.try_acquire(i * 100).unwrap();
        assert_eq!(p.record(Outcome::Success, i * 100 + 60), None); // slow
    }
    // A slow success is checked: 3/4 slow = 75 % trips it.
    let p = b.try_acquire(1_000).unwrap();
    let t = p.record(Outcome::Success, 1_050).unwrap();
    assert_eq!(t.to, State::Open);
}

#[test]
fn window_is_cleared_when_half_open_closes() {
    let b: Breaker<Window<4>> =
        Breaker::new_window(Config::new(10).failure_rate(50, 2).count_window(5));
    let rec = |o, now| b.try_acquire(now).unwrap().record(o, now);
    rec(Outcome::Failure, 0);
    rec(Outcome::Failure, 0);
    assert_eq!(b.state(0), State::Open);
    let t = rec(Outcome::Success, 10).unwrap();
    assert_eq!(t.to, State::Closed);
    assert_eq!(b.snapshot(10).window.calls, 0);
    // One failure and one success: 50 % of 2 calls trips again, but only on
    // fresh data.
    rec(Outcome::Success, 11);
    assert_eq!(b.state(11), State::Closed);
    assert_eq!(b.snapshot(11).window.calls, 1);
}

#[test]
fn registry_reports_every_misuse_as_an_error() {
    let mut r: Registry<2> = Registry::new();
    assert_eq!(
        r.insert("", Config::new(1)).unwrap_err(),
        RegistryError::InvalidKey
    );
    assert_eq!(
        r.insert("a b", Config::new(1)).unwrap_err(),
        RegistryError::InvalidKey
    );
    assert_eq!(
        r.insert(".a", Config::new(1)).unwrap_err(),
        RegistryError::InvalidKey
    );
    assert_eq!(
        r.insert(&"x".repeat(65), Config::new(1)).unwrap_err(),
        RegistryError::KeyTooLong
    );
    assert_eq!(
        r.insert("acme.a", Config::new(0)).unwrap_err(),
        RegistryError::Config(ConfigError::OpenTicks)
    );
    r.insert("acme.a", Config::new(1)).unwrap();
    assert_eq!(
        r.insert("acme.a", Config::new(1)).unwrap_err(),
        RegistryError::Duplicate
    );
    r.insert("acme.b", Config::new(1)).unwrap();
    assert_eq!(
        r.insert("acme.c", Config::new(1)).unwrap_err(),
        RegistryError::Full
    );
    assert_eq!(r.len(), 2);
    let keys: Vec<_> = r.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["acme.a", "acme.b"]);
}

/// A breaker in one of the states a rejection can come from, built the same
/// way every time (so two copies decide from the same state).
fn rejecting(scenario: u8) -> Breaker {
    let b = Breaker::new(
        Config::new(100)
            .consecutive_failures(1)
            .backoff(2, 3)
            .probe_timeout(50),
    );
    match scenario {
        // Open at level 0 from tick 1000: period 1000..1100.
        0 => {
            fail(&b, 1000);
        }
        // Reopened by a failed probe at 1100: level 1, period 1100..1300.
        1 => {
            fail(&b, 1000);
            fail(&b, 1100);
        }
        // Forced open.
        2 => {
            b.force_open();
        }
        // Half-open with its probe out since 1100 (deadline 1150).
        3 => {
            fail(&b, 1000);
            let p = b.try_acquire(1100).unwrap();
            core::mem::forget(p);
        }
        // Closed again after an operator reset: admits, coarse or not.
        _ => {
            b.force_open();
            b.reset();
        }
    }
    b
}

#[test]
fn coarse_rejection_decides_exactly_as_the_precise_tick() {
    for scenario in 0..5 {
        // Every 3rd tick (every 37th under miri, which is ~1000× slower).
        for now in (900..1400).step_by(if cfg!(miri) { 37 } else { 3 }) {
            for (below, above) in [(0, 0), (0, 4), (3, 0), (2, 9), (20, 20)] {
                let precise = rejecting(scenario).try_acquire(now).map(|p| p.is_probe());
                let b = rejecting(scenario);
                let mut read = false;
                let coarse = b
                    .try_acquire_coarse(
                        || tripbit::TickBounds {
                            lo: now - below,
                            hi: now + above,
                        },
                        || {
                            read = true;
                            now
                        },
                    )
                    .map(|p| p.is_probe());
                assert_eq!(
                    coarse, precise,
                    "scenario {scenario}, now {now}, -{below}/+{above}"
                );
                // The precise clock is skipped only where the bounds prove a
                // running period (or the breaker is forced open).
                if scenario == 2 {
                    assert!(!read);
                }
                if scenario == 0 && now >= 1000 + below && now + above < 1100 {
                    assert!(!read, "now {now}");
                }
            }
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "threads × thousands of calls: minutes under miri; the loom model covers the interleavings"
)]
fn striped_window_counts_every_call_of_every_thread_once() {
    // 4 threads on a 4-stripe time window (one epoch): every call of every
    // thread is in the window, and nothing else.
    let b: Breaker<Window<4, 4>> =
        Breaker::new_window(Config::new(100).failure_rate(90, 30_000).time_window(1_000));
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let b = &b;
            s.spawn(move || {
                for i in 0..2_000u64 {
                    let outcome = if (i + t) % 4 == 0 {
                        Outcome::Failure
                    } else {
                        Outcome::Success
                    };
                    b.try_acquire(10).unwrap().record(outcome, 10);
                }
            });
        }
    });
    let w = b.snapshot(10).window;
    assert_eq!((w.calls, w.failures), (8_000, 2_000));
    assert_eq!(b.state(10), State::Closed);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "threads × thousands of calls: minutes under miri; the loom model covers the interleavings"
)]
fn striped_window_stays_exact_across_waves_of_threads() {
    // Waves of 6 threads, more than the 4 stripes of Window<4, 4>, so
    // stripes are shared, and new threads take new stripes in every wave.
    // Every call of every thread is counted once.
    let b: Breaker<Window<4, 4>> =
        Breaker::new_window(Config::new(100).failure_rate(90, 30_000).time_window(1_000));
    for wave in 0..3u64 {
        // One epoch (bucket) per wave: even all 6 threads on one stripe
        // fit one bucket (8 191).
        let now = 10 + 1_000 * wave;
        std::thread::scope(|s| {
            for t in 0..6u64 {
                let b = &b;
                s.spawn(move || {
                    for i in 0..1_350u64 {
                        let outcome = if (i + t + wave) % 3 == 0 {
                            Outcome::Failure
                        } else {
                            Outcome::Success
                        };
                        b.try_acquire(now).unwrap().record(outcome, now);
                    }
                });
            }
        });
        let w = b.snapshot(now).window;
        let waves = wave as u32 + 1;
        assert_eq!((w.calls, w.failures), (8_100 * waves, 2_700 * waves));
    }
    assert_eq!(b.state(2_010), State::Closed);
}
