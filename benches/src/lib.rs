//! The benchmark cases of tripbit and of the other circuit breakers on
//! crates.io, shared by the criterion benchmark (`benches/breakers.rs`), the
//! instruction counter (`src/bin/count.rs`, run under callgrind), the size
//! report (`src/bin/sizes.rs`) and the smoke test (`tests/smoke.rs`).
//!
//! A *case* is a [`Scenario`] (what the call does and which state the breaker
//! is in) run through a [`Guard`] (one library, through its documented,
//! idiomatic API). Every guarded call runs the same operation, [`op_ok`] or
//! [`op_err`], which are never inlined, so [`Raw`] (the operation called
//! unguarded) is the baseline every library's added cost is measured from.
//!
//! Everything is monomorphised: no `dyn` in a timed loop.

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use circuitbreaker_rs::{BreakerError, DefaultPolicy};
use failsafe::CircuitBreaker as _;
use failsafe::backoff::Constant;
use failsafe::failure_policy::{ConsecutiveFailures, SuccessRateOverTimeWindow};
use tripbit::{Breaker, CallError, Config, Consecutive, Outcome, Window};

/// What a guarded call returned, in one shape for every library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum R {
    /// Admitted, and the operation returned this value.
    Ok(u64),
    /// Admitted, and the operation failed.
    Failed,
    /// Not admitted: the breaker rejected the call.
    Rejected,
}

/// The guarded operation's error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpError;

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("upstream failed")
    }
}

impl std::error::Error for OpError {}

/// The operation that succeeds: returns `x + 1`. Never inlined, and its
/// result is opaque to the optimiser, so no library's call to it can be
/// folded away.
#[inline(never)]
pub fn op_ok(x: u64) -> Result<u64, OpError> {
    if black_box(true) {
        Ok(black_box(x).wrapping_add(1))
    } else {
        Err(OpError)
    }
}

/// The operation that fails.
#[inline(never)]
pub fn op_err(x: u64) -> Result<u64, OpError> {
    if black_box(false) {
        Ok(black_box(x))
    } else {
        Err(OpError)
    }
}

fn from_op(r: Result<u64, OpError>) -> R {
    match r {
        Ok(v) => R::Ok(v),
        Err(OpError) => R::Failed,
    }
}

/// Which trip policy a case uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Trip after 3 consecutive failures (or the library's closest
    /// equivalent, see each guard).
    Consecutive,
    /// Trip at a 50 % failure rate over a sliding window of about 100 calls,
    /// once at least 20 calls are in it (or the library's closest equivalent).
    Window,
}

/// The breaker's state when the timed loop starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// Closed, open period 30 s.
    Closed,
    /// Tripped by 3 failures, open period 30 s: every call is rejected.
    Open,
    /// Tripped by 3 failures with the shortest open period (1 tick / 1 ns):
    /// every call is a half-open probe.
    Probing,
}

/// Failures in a row that trip the consecutive policies.
pub const THRESHOLD: u16 = 3;
/// The open period of [`Setup::Closed`] and [`Setup::Open`].
pub const OPEN: Duration = Duration::from_secs(30);
/// [`TripbitTick`]'s tick unit is the millisecond: [`OPEN`] in ticks.
pub const OPEN_TICKS: u64 = 30_000;

/// One library guarding one call.
pub trait Guard: Sync + Sized {
    /// Failures in a row that trip a *fresh* breaker built for
    /// [`Policy::Consecutive`]: [`THRESHOLD`], unless the library needs more
    /// (see [`Recloser`]).
    const TRIP_FAILURES: u16 = THRESHOLD;
    /// Builds the breaker for `policy` in `setup` (tripping it if needed).
    fn build(policy: Policy, setup: Setup) -> Self;
    /// Runs `f` through the breaker.
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R;
}

/// Trips `g` with [`Guard::TRIP_FAILURES`] failures (the smoke test checks
/// that the next call is rejected).
fn trip<G: Guard>(g: &G) {
    for _ in 0..G::TRIP_FAILURES {
        let r = g.guard(|| op_err(0));
        assert_eq!(r, R::Failed, "tripping {}", std::any::type_name::<G>());
    }
}

/// The baseline: the operation called directly, unguarded.
#[derive(Debug)]
pub struct Raw;

/// The baseline of [`RejectedCall`]: the timed loop alone, the operation not
/// called (what a rejected call would cost if rejecting were free).
#[derive(Debug)]
pub struct NotCalled;

impl Guard for NotCalled {
    fn build(_: Policy, _: Setup) -> NotCalled {
        NotCalled
    }

    #[inline(always)]
    fn guard(&self, _: impl FnOnce() -> Result<u64, OpError>) -> R {
        R::Rejected
    }
}

/// The floor of [`RejectedCall`] for any breaker that reads a clock to
/// reject: `tripbit::clock::coarse()` alone (`CLOCK_MONOTONIC_COARSE`, the
/// read a rejected `Breaker::call` makes), then the rejection, in the same
/// loop as the cases. Not a breaker: it rejects every call.
#[derive(Debug)]
pub struct CoarseClockOnly;

impl Guard for CoarseClockOnly {
    fn build(_: Policy, _: Setup) -> CoarseClockOnly {
        CoarseClockOnly
    }

    #[inline(always)]
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R {
        // Never 0 (a monotonic reading since boot): the result depends on
        // the read, so it is neither skipped nor hoisted.
        if tripbit::clock::coarse().lo == 0 {
            from_op(f())
        } else {
            R::Rejected
        }
    }
}

impl Guard for Raw {
    fn build(_: Policy, _: Setup) -> Raw {
        Raw
    }

    #[inline(always)]
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R {
        from_op(f())
    }
}

/// tripbit with a cached tick: `try_acquire(now)` and `permit.record(outcome,
/// now)`, `now` read with one relaxed load from a coarse clock that
/// something else (a timer interrupt, a ticker thread, the event loop) keeps
/// up to date, in milliseconds. In [`Setup::Probing`] (`ADVANCE`) the guard
/// itself moves that clock on by one open period before each call, with a
/// plain store that is charged to tripbit.
#[derive(Debug)]
pub struct TripbitTick<P: tripbit::Policy, const ADVANCE: bool = false> {
    breaker: Breaker<P>,
    coarse_clock: AtomicU64,
}

/// The consecutive-failures breaker with a cached tick.
pub type TripbitTickConsecutive = TripbitTick<Consecutive>;
/// The sliding-window breaker (10 buckets × 10 calls) with a cached tick.
pub type TripbitTickWindow = TripbitTick<Window<10>>;
/// The consecutive breaker with a cached tick that advances (probes).
pub type TripbitTickProbing = TripbitTick<Consecutive, true>;

fn tripbit_config(policy: Policy, open_ticks: u64) -> Config {
    match policy {
        Policy::Consecutive => Config::new(open_ticks).consecutive_failures(u32::from(THRESHOLD)),
        Policy::Window => Config::new(open_ticks)
            .failure_rate(50, 20)
            .count_window(10),
    }
}

/// Builds a tripbit breaker of policy `P` from the policy's config.
pub trait BuildTripbit: tripbit::Policy {
    /// The breaker for `config`.
    fn breaker(config: Config) -> Breaker<Self>;
}

impl BuildTripbit for Consecutive {
    fn breaker(config: Config) -> Breaker<Consecutive> {
        Breaker::new(config)
    }
}

impl BuildTripbit for Window<10> {
    fn breaker(config: Config) -> Breaker<Window<10>> {
        Breaker::new_window(config)
    }
}

impl<P: BuildTripbit + Sync, const ADVANCE: bool> Guard for TripbitTick<P, ADVANCE> {
    fn build(policy: Policy, setup: Setup) -> Self {
        let open = if setup == Setup::Probing {
            1
        } else {
            OPEN_TICKS
        };
        let g = TripbitTick {
            breaker: P::breaker(tripbit_config(policy, open)),
            coarse_clock: AtomicU64::new(1_000),
        };
        if setup != Setup::Closed {
            trip(&g);
        }
        g
    }

    #[inline(always)]
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R {
        let mut now = self.coarse_clock.load(Ordering::Relaxed);
        if ADVANCE {
            now += 1;
            self.coarse_clock.store(now, Ordering::Relaxed);
        }
        match self.breaker.try_acquire(now) {
            Err(_) => R::Rejected,
            Ok(permit) => {
                let r = f();
                permit.record(Outcome::from_success(r.is_ok()), now);
                from_op(r)
            }
        }
    }
}

/// tripbit through its std helper `breaker.call(|| ...)`, which reads
/// `tripbit::clock` only where the breaker needs a tick: the coarse clock
/// for a rejection while the open period runs, the precise one for a trip,
/// a probe or a time window, none for a closed success without a slow-call
/// rule.
#[derive(Debug)]
pub struct TripbitClock<P: tripbit::Policy> {
    breaker: Breaker<P>,
}

/// The consecutive-failures breaker on `clock::now()`.
pub type TripbitClockConsecutive = TripbitClock<Consecutive>;
/// The sliding-window breaker on `clock::now()`.
pub type TripbitClockWindow = TripbitClock<Window<10>>;

impl<P: BuildTripbit + Sync> Guard for TripbitClock<P> {
    fn build(policy: Policy, setup: Setup) -> Self {
        let open = if setup == Setup::Probing {
            1
        } else {
            tripbit::clock::ticks(OPEN)
        };
        let g = TripbitClock {
            breaker: P::breaker(tripbit_config(policy, open)),
        };
        if setup != Setup::Closed {
            trip(&g);
        }
        g
    }

    #[inline(always)]
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R {
        match self.breaker.call(f) {
            Ok(v) => R::Ok(v),
            Err(CallError::Failed(OpError)) => R::Failed,
            Err(CallError::Rejected(_)) => R::Rejected,
        }
    }
}

/// `recloser::Recloser::call`. recloser has one policy, a failure rate over
/// a ring buffer of the last `closed_len` calls: [`Policy::Consecutive`] is
/// `error_rate(1.0).closed_len(3)` (all of the last 3 calls failed, i.e. 3
/// failures in a row), [`Policy::Window`] is `error_rate(0.5).closed_len(100)`.
///
/// recloser computes no rate until its ring has been filled once: a fresh
/// breaker decides from the `closed_len + 1`-th call on (so 4 failures trip a
/// fresh `closed_len(3)`, 3 in a row trip it afterwards; the window policy
/// needs 101 calls, where the others need 20). The same holds half-open:
/// with `half_open_len(1)`, the smallest ring it accepts, the *second*
/// half-open call decides, so [`Probe`] alternates a half-open call that
/// only fills the ring with one that reopens the breaker.
#[derive(Debug)]
pub struct Recloser(recloser::Recloser);

impl Guard for Recloser {
    const TRIP_FAILURES: u16 = THRESHOLD + 1;

    fn build(policy: Policy, setup: Setup) -> Self {
        let b = match policy {
            Policy::Consecutive => recloser::Recloser::custom()
                .error_rate(1.0)
                .closed_len(usize::from(THRESHOLD)),
            Policy::Window => recloser::Recloser::custom().error_rate(0.5).closed_len(100),
        };
        let wait = if setup == Setup::Probing {
            Duration::from_nanos(1)
        } else {
            OPEN
        };
        let g = Recloser(b.half_open_len(1).open_wait(wait).build());
        if setup != Setup::Closed {
            trip(&g);
        }
        g
    }

    #[inline(always)]
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R {
        match self.0.call(f) {
            Ok(v) => R::Ok(v),
            Err(recloser::Error::Inner(OpError)) => R::Failed,
            Err(recloser::Error::Rejected) => R::Rejected,
        }
    }
}

/// `failsafe::CircuitBreaker::call`, with `failure_policy::consecutive_failures(3,
/// backoff::constant(open))` for [`Policy::Consecutive`].
#[derive(Debug)]
pub struct Failsafe(failsafe::StateMachine<ConsecutiveFailures<Constant>, ()>);

/// `failsafe::CircuitBreaker::call`, with
/// `failure_policy::success_rate_over_time_window(0.5, 20, 30 s,
/// backoff::constant(open))` (an exponential moving average of the success
/// rate over a 30 s window, at least 20 calls) for [`Policy::Window`]. It
/// never trips during the first 30 s of a breaker's life (see
/// [`FailsafeWindow::with_window`]).
#[derive(Debug)]
pub struct FailsafeWindow(failsafe::StateMachine<SuccessRateOverTimeWindow<Constant>, ()>);

fn failsafe_backoff(setup: Setup) -> Constant {
    failsafe::backoff::constant(if setup == Setup::Probing {
        Duration::from_nanos(1)
    } else {
        OPEN
    })
}

fn failsafe_result(r: Result<u64, failsafe::Error<OpError>>) -> R {
    match r {
        Ok(v) => R::Ok(v),
        Err(failsafe::Error::Inner(OpError)) => R::Failed,
        Err(failsafe::Error::Rejected) => R::Rejected,
    }
}

impl Guard for Failsafe {
    fn build(policy: Policy, setup: Setup) -> Self {
        assert_eq!(policy, Policy::Consecutive);
        let p = failsafe::failure_policy::consecutive_failures(
            u32::from(THRESHOLD),
            failsafe_backoff(setup),
        );
        let g = Failsafe(failsafe::Config::new().failure_policy(p).build());
        if setup != Setup::Closed {
            trip(&g);
        }
        g
    }

    #[inline(always)]
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R {
        failsafe_result(self.0.call(f))
    }
}

impl FailsafeWindow {
    /// The window policy over a `window` other than [`OPEN`]: failsafe's
    /// success-rate policy trips only once a whole window has passed since
    /// the breaker was built (or closed), so the smoke test uses a short one.
    pub fn with_window(window: Duration) -> FailsafeWindow {
        let p = failsafe::failure_policy::success_rate_over_time_window(
            0.5,
            20,
            window,
            failsafe_backoff(Setup::Closed),
        );
        FailsafeWindow(failsafe::Config::new().failure_policy(p).build())
    }
}

impl Guard for FailsafeWindow {
    fn build(policy: Policy, setup: Setup) -> Self {
        assert_eq!(policy, Policy::Window);
        assert_eq!(setup, Setup::Closed);
        FailsafeWindow::with_window(OPEN)
    }

    #[inline(always)]
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R {
        failsafe_result(self.0.call(f))
    }
}

/// `circuitbreaker_rs::CircuitBreaker::call` with its `DefaultPolicy` (a
/// failure-rate bar over all calls since the last reset, or consecutive
/// failures, whichever comes first): [`Policy::Consecutive`] is
/// `consecutive_failures(3)` with the rate bar at 100 %, [`Policy::Window`]
/// is `failure_threshold(0.5).min_throughput(20)` (no window: its counts are
/// cumulative) with no consecutive bar. One probe, one success closes.
pub struct CircuitbreakerRs(circuitbreaker_rs::CircuitBreaker<DefaultPolicy, OpError>);

impl std::fmt::Debug for CircuitbreakerRs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CircuitbreakerRs").finish_non_exhaustive()
    }
}

impl Guard for CircuitbreakerRs {
    fn build(policy: Policy, setup: Setup) -> Self {
        let b = circuitbreaker_rs::CircuitBreaker::<DefaultPolicy, OpError>::builder();
        let b = match policy {
            Policy::Consecutive => b
                .failure_threshold(1.0)
                .consecutive_failures(u64::from(THRESHOLD)),
            Policy::Window => b
                .failure_threshold(0.5)
                .min_throughput(20)
                .consecutive_failures(u64::MAX),
        };
        let cooldown = if setup == Setup::Probing {
            Duration::from_nanos(1)
        } else {
            OPEN
        };
        let g = CircuitbreakerRs(
            b.cooldown(cooldown)
                .probe_interval(1)
                .consecutive_successes(1)
                .build(),
        );
        if setup != Setup::Closed {
            trip(&g);
        }
        g
    }

    #[inline(always)]
    fn guard(&self, f: impl FnOnce() -> Result<u64, OpError>) -> R {
        match self.0.call(f) {
            Ok(v) => R::Ok(v),
            Err(BreakerError::Operation(OpError)) => R::Failed,
            Err(_) => R::Rejected,
        }
    }
}

/// What the timed loop does, and in which state.
pub trait Scenario {
    /// Short name, used in benchmark ids and result files.
    const ID: &'static str;
    /// One line for the report.
    const TITLE: &'static str;
    /// The policy of the breaker.
    const POLICY: Policy;
    /// The state of the breaker.
    const SETUP: Setup;
    /// Whether the 1- vs 2-thread comparison runs this scenario.
    const THREADED: bool = true;
    /// One iteration of the timed loop; `x` is the loop counter. By
    /// default: one guarded call of the succeeding operation.
    #[inline(always)]
    fn call<G: Guard>(g: &G, x: u64) -> R {
        g.guard(|| op_ok(x))
    }
    /// What [`call`](Self::call) must return. By default: the succeeding
    /// operation's result.
    fn expected(x: u64) -> R {
        R::Ok(x.wrapping_add(1))
    }
}

/// Closed-state success, consecutive-failures policy.
#[derive(Debug)]
pub struct SuccessConsecutive;
/// Closed-state success, failure-rate (sliding window) policy.
#[derive(Debug)]
pub struct SuccessWindow;
/// Closed-state failure: a failed call followed by a successful one (the
/// breaker never trips), per pair.
#[derive(Debug)]
pub struct FailurePair;
/// A call rejected while open.
#[derive(Debug)]
pub struct RejectedCall;
/// A half-open probe: admitted after the open period, it fails and reopens
/// the breaker (a down upstream being retried).
#[derive(Debug)]
pub struct Probe;

impl Scenario for SuccessConsecutive {
    const ID: &'static str = "success_consecutive";
    const TITLE: &'static str = "closed-state success, consecutive policy";
    const POLICY: Policy = Policy::Consecutive;
    const SETUP: Setup = Setup::Closed;
}

impl Scenario for SuccessWindow {
    const ID: &'static str = "success_window";
    const TITLE: &'static str = "closed-state success, rate-window policy";
    const POLICY: Policy = Policy::Window;
    const SETUP: Setup = Setup::Closed;
}

impl Scenario for FailurePair {
    const ID: &'static str = "failure_pair";
    const TITLE: &'static str = "closed-state failure + success (pair), consecutive policy";
    const POLICY: Policy = Policy::Consecutive;
    const SETUP: Setup = Setup::Closed;
    #[inline(always)]
    fn call<G: Guard>(g: &G, x: u64) -> R {
        let failed = g.guard(|| op_err(x));
        let ok = g.guard(|| op_ok(x));
        if failed == R::Failed { ok } else { failed }
    }
}

impl Scenario for RejectedCall {
    const ID: &'static str = "rejected";
    const TITLE: &'static str = "rejected call while open";
    const POLICY: Policy = Policy::Consecutive;
    const SETUP: Setup = Setup::Open;
    fn expected(_: u64) -> R {
        R::Rejected
    }
}

impl Scenario for Probe {
    const ID: &'static str = "probe";
    const TITLE: &'static str = "half-open probe (fails, reopens)";
    const POLICY: Policy = Policy::Consecutive;
    const SETUP: Setup = Setup::Probing;
    const THREADED: bool = false;
    #[inline(always)]
    fn call<G: Guard>(g: &G, x: u64) -> R {
        g.guard(|| op_err(x))
    }
    fn expected(_: u64) -> R {
        R::Failed
    }
}

/// Builds `G` for scenario `S`.
pub fn build<S: Scenario, G: Guard>() -> G {
    G::build(S::POLICY, S::SETUP)
}

/// Receives every case, fully typed.
pub trait Visitor {
    /// One case: scenario `S` through library `lib` (a short id, see
    /// [`LIBS`]) with guard type `G`.
    fn visit<S: Scenario, G: Guard>(&mut self, lib: &'static str);
}

/// Library ids and their names in the report, in report order.
pub const LIBS: &[(&str, &str)] = &[
    ("raw", "direct call (no breaker)"),
    ("tripbit_tick", "tripbit, cached tick"),
    ("tripbit_clock", "tripbit, clock::now() via call()"),
    ("recloser", "recloser 1.4"),
    ("failsafe", "failsafe 1.3"),
    ("circuitbreaker_rs", "circuitbreaker-rs 0.1"),
    (
        "coarse_clock",
        "floor: clock::coarse() alone (rejected case only)",
    ),
];

/// Scenario ids and titles, in report order.
pub const SCENARIOS: &[(&str, &str)] = &[
    (SuccessConsecutive::ID, SuccessConsecutive::TITLE),
    (SuccessWindow::ID, SuccessWindow::TITLE),
    (FailurePair::ID, FailurePair::TITLE),
    (RejectedCall::ID, RejectedCall::TITLE),
    (Probe::ID, Probe::TITLE),
];

/// How many cases [`visit_all`] visits: 6 libraries × 5 scenarios, and
/// the rejected case's floor ([`CoarseClockOnly`]).
pub const CASES: usize = 31;

/// Every case, in report order.
pub fn visit_all(v: &mut impl Visitor) {
    v.visit::<SuccessConsecutive, Raw>("raw");
    v.visit::<SuccessConsecutive, TripbitTickConsecutive>("tripbit_tick");
    v.visit::<SuccessConsecutive, TripbitClockConsecutive>("tripbit_clock");
    v.visit::<SuccessConsecutive, Recloser>("recloser");
    v.visit::<SuccessConsecutive, Failsafe>("failsafe");
    v.visit::<SuccessConsecutive, CircuitbreakerRs>("circuitbreaker_rs");

    v.visit::<SuccessWindow, Raw>("raw");
    v.visit::<SuccessWindow, TripbitTickWindow>("tripbit_tick");
    v.visit::<SuccessWindow, TripbitClockWindow>("tripbit_clock");
    v.visit::<SuccessWindow, Recloser>("recloser");
    v.visit::<SuccessWindow, FailsafeWindow>("failsafe");
    v.visit::<SuccessWindow, CircuitbreakerRs>("circuitbreaker_rs");

    v.visit::<FailurePair, Raw>("raw");
    v.visit::<FailurePair, TripbitTickConsecutive>("tripbit_tick");
    v.visit::<FailurePair, TripbitClockConsecutive>("tripbit_clock");
    v.visit::<FailurePair, Recloser>("recloser");
    v.visit::<FailurePair, Failsafe>("failsafe");
    v.visit::<FailurePair, CircuitbreakerRs>("circuitbreaker_rs");

    v.visit::<RejectedCall, NotCalled>("raw");
    v.visit::<RejectedCall, TripbitTickConsecutive>("tripbit_tick");
    v.visit::<RejectedCall, TripbitClockConsecutive>("tripbit_clock");
    v.visit::<RejectedCall, Recloser>("recloser");
    v.visit::<RejectedCall, Failsafe>("failsafe");
    v.visit::<RejectedCall, CircuitbreakerRs>("circuitbreaker_rs");
    v.visit::<RejectedCall, CoarseClockOnly>("coarse_clock");

    v.visit::<Probe, Raw>("raw");
    v.visit::<Probe, TripbitTickProbing>("tripbit_tick");
    v.visit::<Probe, TripbitClockConsecutive>("tripbit_clock");
    v.visit::<Probe, Recloser>("recloser");
    v.visit::<Probe, Failsafe>("failsafe");
    v.visit::<Probe, CircuitbreakerRs>("circuitbreaker_rs");
}

/// The timed loop of one thread: `iters` iterations of `S` on `g`, counter
/// values `0..iters`. Returns how many results differed from
/// [`Scenario::expected`] (compared outside the timing's hot path only in
/// the sense that the comparison is the same for every library).
#[inline(never)]
pub fn run_loop<S: Scenario, G: Guard>(g: &G, iters: u64) -> u64 {
    let mut wrong = 0;
    for i in 0..iters {
        let r = S::call(g, black_box(i));
        wrong += u64::from(black_box(r) != S::expected(i));
    }
    wrong
}

/// `threads` threads share `g`, each running [`run_loop`] for `iters`
/// iterations after a barrier. Returns the wall time from the first thread
/// starting to the last finishing, and the number of unexpected results.
pub fn run_threads<S: Scenario, G: Guard>(g: &G, threads: usize, iters: u64) -> (Duration, u64) {
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    let wrong = run_loop::<S, G>(g, iters);
                    (start, Instant::now(), wrong)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .collect()
    });
    let start = spans.iter().map(|s| s.0).min().expect("a thread");
    let end = spans.iter().map(|s| s.1).max().expect("a thread");
    (end - start, spans.iter().map(|s| s.2).sum())
}
