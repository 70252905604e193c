//! Property test: random sequences of acquire / record / drop / time moves /
//! operator actions, run against the real breaker and against a plain,
//! sequential reference model written from the spec. Every observable result
//! must be identical.

use proptest::prelude::*;
use tripbit::{Breaker, Config, Outcome, Permit, Policy, State, Window};

/// The reference: one struct of plain fields, no atomics, no packing. The
/// window keeps the full call history and filters it, instead of buckets.
#[derive(Debug)]
struct Model {
    threshold: u32,
    open_ticks: u64,
    probes: u32,
    close_after: u32,
    allowed_failures: u32,
    factor: u64,
    max_level: u32,
    window: Option<ModelWindow>,

    state: State,
    generation: u32,
    level: u32,
    failures: u32,
    in_flight: u32,
    successes: u32,
    probe_failures: u32,
    opened_at: u64,
}

#[derive(Debug)]
struct ModelWindow {
    by_time: bool,
    bucket: u64,
    buckets: u64,
    percent: u64,
    min_calls: u64,
    slow_ticks: u64,
    slow_percent: u64,
    /// (epoch, failure, slow) of every counted call.
    history: Vec<(u64, bool, bool)>,
    cursor: u64,
    head: u64,
}

impl ModelWindow {
    fn epoch(&mut self, now: u64) -> u64 {
        if self.by_time {
            self.head = self.head.max(now / self.bucket);
            self.head + self.cursor
        } else {
            self.cursor += 1;
            (self.cursor - 1) / self.bucket
        }
    }

    fn current(&self, now: u64) -> u64 {
        if self.by_time {
            self.head.max(now / self.bucket) + self.cursor
        } else {
            self.cursor.saturating_sub(1) / self.bucket
        }
    }

    fn totals(&self, epoch: u64) -> (u64, u64, u64) {
        let inside = self
            .history
            .iter()
            .filter(|(e, _, _)| *e + self.buckets > epoch);
        let (mut calls, mut failures, mut slow) = (0, 0, 0);
        for &(_, f, s) in inside {
            calls += 1;
            failures += u64::from(f);
            slow += u64::from(s);
        }
        (calls, failures, slow)
    }

    fn clear(&mut self) {
        self.cursor += if self.by_time {
            self.buckets
        } else {
            self.buckets * self.bucket
        };
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MTicket {
    generation: u32,
    probe: bool,
    acquired_at: u64,
}

type Tr = (State, State);

impl Model {
    fn open_period(&self) -> u64 {
        let mut t = self.open_ticks;
        for _ in 0..self.level.min(self.max_level) {
            t = t.saturating_mul(self.factor);
        }
        t
    }

    fn until(&self) -> u64 {
        self.opened_at.saturating_add(self.open_period())
    }

    fn go(&mut self, to: State) -> Tr {
        let from = self.state;
        self.state = to;
        self.generation = (self.generation + 1) & 0xFF_FFFF;
        self.failures = 0;
        self.in_flight = 0;
        self.successes = 0;
        self.probe_failures = 0;
        (from, to)
    }

    fn acquire(&mut self, now: u64) -> Result<(MTicket, Option<Tr>), (State, Option<u64>)> {
        let ticket = |m: &Model, probe| MTicket {
            generation: m.generation,
            probe,
            acquired_at: now,
        };
        match self.state {
            State::Closed | State::ForcedClosed | State::Disabled => {
                Ok((ticket(self, false), None))
            }
            State::ForcedOpen => Err((State::ForcedOpen, None)),
            State::Open if now < self.until() => Err((State::Open, Some(self.until()))),
            State::Open => {
                let tr = self.go(State::HalfOpen);
                self.in_flight = 1;
                Ok((ticket(self, true), Some(tr)))
            }
            State::HalfOpen if self.in_flight >= self.probes => Err((State::HalfOpen, None)),
            State::HalfOpen => {
                self.in_flight += 1;
                Ok((ticket(self, true), None))
            }
        }
    }

    fn trip(&mut self, now: u64) -> Tr {
        self.opened_at = self.opened_at.max(now);
        self.go(State::Open)
    }

    fn record(&mut self, t: MTicket, outcome: Outcome, now: u64) -> Option<Tr> {
        if t.generation != self.generation {
            return None;
        }
        let elapsed = now.saturating_sub(t.acquired_at);
        match self.state {
            State::HalfOpen if t.probe => {
                self.in_flight -= 1;
                match outcome {
                    Outcome::Ignored => None,
                    Outcome::Success => {
                        self.successes += 1;
                        if self.successes >= self.close_after {
                            self.level = 0;
                            if let Some(w) = &mut self.window {
                                w.clear();
                            }
                            Some(self.go(State::Closed))
                        } else {
                            None
                        }
                    }
                    Outcome::Failure => {
                        self.probe_failures += 1;
                        if self.probe_failures > self.allowed_failures {
                            self.level = (self.level + 1).min(self.max_level);
                            Some(self.trip(now))
                        } else {
                            None
                        }
                    }
                }
            }
            State::Closed | State::Disabled if !t.probe => {
                let closed = self.state == State::Closed;
                if let Some(w) = &mut self.window {
                    if outcome == Outcome::Ignored {
                        return None;
                    }
                    let failure = outcome == Outcome::Failure;
                    let slow = w.slow_ticks != 0 && elapsed >= w.slow_ticks;
                    let e = w.epoch(now);
                    w.history.push((e, failure, slow));
                    let (calls, failures, slows) = w.totals(e);
                    // Only a failure or a slow call trips it (never a fast success).
                    let trips = (failure || slow)
                        && calls >= w.min_calls
                        && (failures * 100 >= w.percent * calls
                            || (w.slow_percent != 0 && slows * 100 >= w.slow_percent * calls));
                    return (closed && trips).then(|| self.trip(now));
                }
                match outcome {
                    Outcome::Ignored => None,
                    Outcome::Success => {
                        self.failures = 0;
                        None
                    }
                    Outcome::Failure => {
                        self.failures += 1;
                        if closed && self.failures >= self.threshold {
                            Some(self.trip(now))
                        } else {
                            None
                        }
                    }
                }
            }
            _ => None,
        }
    }

    fn state_at(&self, now: u64) -> State {
        if self.state == State::Open && now >= self.until() {
            State::HalfOpen
        } else {
            self.state
        }
    }

    fn operator(&mut self, to: State) -> Option<Tr> {
        if to == State::Closed {
            // reset
            self.level = 0;
            self.opened_at = 0;
            if let Some(w) = &mut self.window {
                w.clear();
            }
            let tr = self.go(State::Closed);
            return (tr.0 != State::Closed).then_some(tr);
        }
        if self.state == to {
            return None;
        }
        self.level = 0;
        Some(self.go(to))
    }
}

#[derive(Clone, Debug)]
enum Op {
    Acquire,
    Record(usize, Outcome, u64),
    Drop(usize),
    Advance(u64),
    Back(u64),
    ForceOpen,
    ForceClosed,
    Disable,
    Reset,
    Check,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Failure),
        3 => Just(Outcome::Success),
        1 => Just(Outcome::Ignored),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => Just(Op::Acquire),
        20 => (0..8usize, outcome(), 0..40u64).prop_map(|(i, o, d)| Op::Record(i, o, d)),
        3 => (0..8usize).prop_map(Op::Drop),
        8 => (0..60u64).prop_map(Op::Advance),
        1 => (0..30u64).prop_map(Op::Back),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::ForceClosed),
        1 => Just(Op::Disable),
        2 => Just(Op::Reset),
        3 => Just(Op::Check),
    ]
}

fn run<P: Policy>(b: &Breaker<P>, mut m: Model, ops: Vec<Op>) {
    let mut now = 1_000u64;
    let mut permits: Vec<(Permit<'_, P>, MTicket)> = Vec::new();
    let tr = |t: Option<tripbit::Transition>| t.map(|t| (t.from, t.to));
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Acquire => match (b.try_acquire(now), m.acquire(now)) {
                (Ok(p), Ok((t, mtr))) => {
                    assert_eq!(tr(p.transition()), mtr, "step {step}: acquire transition");
                    assert_eq!(p.is_probe(), t.probe, "step {step}");
                    permits.push((p, t));
                }
                (Err(r), Err((state, retry))) => {
                    assert_eq!(
                        (r.state, r.retry_at),
                        (state, retry),
                        "step {step}: rejection"
                    );
                }
                (real, model) => panic!("step {step}: real {real:?} vs model {model:?}"),
            },
            Op::Record(i, outcome, d) if i < permits.len() => {
                let (p, t) = permits.swap_remove(i);
                let at = now + d;
                let real = p.record(outcome, at);
                let model = m.record(t, outcome, at);
                assert_eq!(tr(real), model, "step {step}: record {outcome:?}");
            }
            Op::Drop(i) if i < permits.len() => {
                let (p, t) = permits.swap_remove(i);
                drop(p);
                m.record(t, Outcome::Ignored, now);
            }
            Op::Record(..) | Op::Drop(_) => {}
            Op::Advance(d) => now += d,
            Op::Back(d) => now = now.saturating_sub(d),
            Op::ForceOpen => assert_eq!(tr(b.force_open()), m.operator(State::ForcedOpen)),
            Op::ForceClosed => {
                assert_eq!(tr(b.force_closed()), m.operator(State::ForcedClosed));
            }
            Op::Disable => assert_eq!(tr(b.disable()), m.operator(State::Disabled)),
            Op::Reset => assert_eq!(tr(b.reset()), m.operator(State::Closed)),
            Op::Check => {}
        }
        assert_eq!(b.state(now), m.state_at(now), "step {step}: state");
        let s = b.snapshot(now);
        assert_eq!(s.generation, m.generation, "step {step}: generation");
        assert_eq!(u32::from(s.backoff_level), m.level, "step {step}: level");
        assert_eq!(
            s.consecutive_failures,
            if m.window.is_some() { 0 } else { m.failures }
        );
        assert_eq!(
            (s.probes_in_flight, s.probe_successes, s.probe_failures),
            (m.in_flight, m.successes, m.probe_failures),
            "step {step}: probes"
        );
        if let Some(w) = &m.window {
            let (calls, failures, slow) = w.totals(w.current(now));
            let real = s.window;
            assert_eq!(
                (
                    u64::from(real.calls),
                    u64::from(real.failures),
                    u64::from(real.slow)
                ),
                (calls, failures, slow),
                "step {step}: window"
            );
        }
    }
}

fn model_for(c: &Config, backoff: (u8, u8), window: Option<ModelWindow>) -> Model {
    let (factor, max_level) = (u64::from(backoff.0), u32::from(backoff.1));
    let (s, f) = c.close_bar();
    let threshold = match c.trip() {
        tripbit::Trip::ConsecutiveFailures(n) => u32::from(n),
        tripbit::Trip::FailureRate { .. } => 0,
    };
    Model {
        threshold,
        open_ticks: c.open_ticks(),
        probes: u32::from(c.probe_limit()),
        close_after: s,
        allowed_failures: f,
        factor,
        max_level,
        window,
        state: State::Closed,
        generation: 0,
        level: 0,
        failures: 0,
        in_flight: 0,
        successes: 0,
        probe_failures: 0,
        opened_at: 0,
    }
}

/// Miri interprets every step; keep its runs short.
const MAX_OPS: usize = if cfg!(miri) { 25 } else { 120 };

proptest! {
    #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 3 } else { 400 }, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn consecutive_policy_matches_the_model(
        threshold in 1u16..5,
        open in 1u64..80,
        probes in 1u8..4,
        extra_close in 0u16..3,
        close_pct in prop_oneof![Just(0u8), 20u8..90],
        backoff in (1u8..4, 0u8..4),
        ops in prop::collection::vec(op(), 1..MAX_OPS),
    ) {
        let close_after = u16::from(probes) + extra_close;
        let c = Config::new(open)
            .consecutive_failures(threshold)
            .probes(probes)
            .close_after(close_after)
            .close_max_failure_percent(close_pct)
            .backoff(backoff.0, backoff.1);
        let b = Breaker::try_new(c).unwrap();
        run(&b, model_for(&c, backoff, None), ops);
    }

    #[test]
    fn window_policy_matches_the_model(
        percent in 1u8..=100,
        min_calls in 1u32..8,
        by_time in any::<bool>(),
        bucket in 1u64..6,
        slow in prop_oneof![Just((0u64, 0u8)), (1u64..30, 1u8..=100)],
        open in 1u64..80,
        probes in 1u8..3,
        ops in prop::collection::vec(op(), 1..MAX_OPS),
    ) {
        let mut c = Config::new(open).failure_rate(percent, min_calls).probes(probes).close_after(u16::from(probes));
        c = if by_time { c.time_window(bucket * 10) } else { c.count_window(bucket as u32) };
        if slow.0 != 0 {
            c = c.slow_calls(slow.0, slow.1);
        }
        let b: Breaker<Window<4>> = Breaker::try_new_window(c).unwrap();
        let w = ModelWindow {
            by_time,
            bucket: if by_time { bucket * 10 } else { bucket },
            buckets: 4,
            percent: u64::from(percent),
            min_calls: u64::from(min_calls),
            slow_ticks: slow.0,
            slow_percent: u64::from(slow.1),
            history: Vec::new(),
            cursor: 0,
            head: 0,
        };
        run(&b, model_for(&c, (1, 0), Some(w)), ops);
    }
}
