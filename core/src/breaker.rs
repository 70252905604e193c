//! `Breaker`: try_acquire / record / state / force / reset, as CAS loops on
//! the state word (layout in `state.rs`).
//!
//! Two atomic words carry the shared state:
//! - `word` (64 bits) decides: state, backoff level, 24-bit generation and
//!   counters. Every transition is one CAS on it, and every call reads it.
//! - `stamp` (128 bits) is `(full 64-bit generation, tick)`: the tick at
//!   which the state of that generation began, where one is needed (the trip
//!   tick of an `Open` period, the start of a `HalfOpen` round). It is
//!   written *after* the transition CAS by the thread that won it, with a
//!   CAS that only ever replaces the stamp of an older generation, never a
//!   newer one (`publish`). A reader that finds `Open` or `HalfOpen` with
//!   the stamp of an older generation (the winner has not published yet, or
//!   died before it could: a process of a shared-memory region) publishes
//!   its own `now` instead: a later tick than the real one, so the open
//!   period or probe deadline can only grow, never end early. Nobody
//!   ever waits for the winner.
//!
//! Why the tick is not in a plain `u64` raised by `fetch_max` (as in
//! earlier versions): a monotonic maximum survives clock restarts and
//! 32-bit wraps, so a later trip would inherit an older, larger tick and
//! stay open for weeks; and a would-be tripper that lost its CAS could
//! still move a later period's timer. A stamp keyed by generation has
//! neither problem: each period has exactly one, and a stale writer's CAS
//! fails.
//!
//! # The state machine, in one table
//!
//! Every row is one CAS on `word` (all `Relaxed`: the word publishes no
//! other memory; ticks travel in `stamp`, published after the CAS with an
//! `AcqRel` CAS in `publish` and read with `Acquire`). "gen+1" means a new
//! generation: every ticket of the old one is stale. `tests/machine.rs`
//! drives each row and checks it happens as written.
//!
//! | from | event | to | done by | stamp |
//! |---|---|---|---|---|
//! | Closed | failure reaching the threshold / the window's bar | Open, level 0, gen+1 | `trip_from` (via `record_consecutive`, `Window::record_closed`) | the trip's own tick |
//! | Closed / Disabled | failure below the bar, or success | same state, counters updated | `record_consecutive` / the window's bucket CAS | — |
//! | Open | acquire before `stamp + open × factorᵏ` | Open (rejected, `retry_at`) | `reject_fast` / `acquire_slow` | restamped to `now` if the clock went back by more than the period |
//! | Open | acquire after it, while the failed trial's probes (ghosts) run and before their deadline | Open (rejected) | `acquire_slow` | — |
//! | Open | acquire after it, no ghosts (or past their deadline) | HalfOpen, same level, gen+1, slot 0 of a new round | `acquire_slow` | `now` (round start) |
//! | Open | `advance(now)` after it, no ghosts (or past their deadline) | HalfOpen, same level, gen+1, an empty round | `advance` | `now` |
//! | Open | a ghost reports | Open, its slot done (counts nothing, `Stale`) | `record_slow` / `probe_next` | — |
//! | HalfOpen | acquire, a slot of the round free | HalfOpen, next slot claimed | `acquire_slow` | — |
//! | HalfOpen | acquire, round over (every probe reported) | HalfOpen, gen+1, new round, totals kept | `acquire_slow` | `now` |
//! | HalfOpen | acquire, round full, a probe still out, before the deadline | HalfOpen (rejected, no `retry_at`) | `acquire_slow` | — |
//! | HalfOpen | acquire, round full, past `stamp + probe_timeout` | HalfOpen, gen+1, new round (the stuck probes count as ignored and go stale) | `acquire_slow` | `now` |
//! | HalfOpen | probe success reaching `close_after` | Closed, level 0, gen+1 | `record_slow` / `probe_next` | `now` |
//! | HalfOpen | probe failure past the close bar | Open, level+1 (capped), gen+1, the round's slots kept as ghosts, `opened_by` = failed trial | `record_slow` / `probe_next` | `max(now, round start)` |
//! | HalfOpen | other probe outcome (or release) | HalfOpen, slot done, totals updated | `record_slow` / `probe_next` | — |
//! | any | `reset()` | Closed, level 0, gen+1 | `swap_word` | tick 0 |
//! | any but the target | `force_open()` / `force_closed()` / `disable()` | ForcedOpen / ForcedClosed / Disabled, level 0, gen+1 | `swap_word` via `set_state` | tick 0 |
//! | ForcedOpen | acquire | ForcedOpen (rejected, no `retry_at`) | `acquire_slow` | — |
//! | ForcedClosed | acquire / record | ForcedClosed (admitted, counts nothing) | `admit` / `record_slow` | — |
//!
//! A report whose ticket names another generation (or a slot already
//! reported) changes nothing and returns `Stale`.
//!
//! The stamp also extends the word's 24-bit generation to 64 bits
//! (`full_generation`): probe tickets carry 32 bits of it, so a probe
//! ticket from an earlier period is told apart from the current one after
//! any number of transitions below 2³².

#![cfg_attr(tripbit_word32, allow(clippy::unnecessary_cast))] // the 32-bit word casts u32 to Raw = u32

use crate::config::{Config, ConfigError, Stored, check_stored, close_bar_exceeded};
use crate::machine::{At, AtNow, Clock, Core, TickSource, When, stamp_generation, transition};
use crate::policy::{Consecutive, Policy};
use crate::state::{GEN_MASK, MAX_HALF_OPEN_COUNT, Probes, REOPENED, Raw, State, Word};
use crate::sync::{Ordering, const_fn};
use crate::types::{OpenedBy, Outcome, Rejected, Snapshot, Stale, TickBounds, Ticket, Transition};

/// An admitted call. Report its outcome with [`Permit::record`]; dropping it
/// unrecorded releases its half-open slot (if any) and counts nothing.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome};
/// let b = Breaker::new(Config::new(10));
/// let permit = b.try_acquire(0).unwrap();
/// assert_eq!(permit.record(Outcome::Success, 1), None);
/// ```
#[must_use = "record the outcome, or drop the permit to release it"]
pub struct Permit<'a, P: Policy = Consecutive> {
    breaker: &'a Breaker<P>,
    /// The raw state word this call was admitted on: the word loaded by the
    /// closed fast path, or the word a probe's CAS stored. Its generation is
    /// the call's; it is a probe iff the word is `HalfOpen`. Kept whole (one
    /// `u64`, not a `Ticket`'s fields) so the record fast path compares it
    /// with the current word in one instruction.
    admitted: Raw,
    /// A probe's 32-bit generation (0 for other calls).
    probe_gen: u32,
    acquired_at: u64,
    transition: Option<Transition>,
}

impl<P: Policy> core::fmt::Debug for Permit<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Permit")
            .field("ticket", &self.ticket())
            .field("transition", &self.transition)
            .finish()
    }
}

impl<'a, P: Policy> Permit<'a, P> {
    /// Reports the outcome at tick `now`; the call's duration is
    /// `now − acquired_at` (slow-call policies compare it). Returns the
    /// transition this outcome caused, if any. A result from an older
    /// generation is discarded.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome, State};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(2));
    /// assert_eq!(b.try_acquire(0).unwrap().record(Outcome::Failure, 1), None);
    /// let t = b.try_acquire(2).unwrap().record(Outcome::Failure, 3).unwrap();
    /// assert_eq!(t.to, State::Open);
    /// ```
    #[inline]
    pub fn record(self, outcome: Outcome, now: u64) -> Option<Transition> {
        self.finish(outcome, AtNow(now))
    }

    /// Reports the outcome with an explicitly measured duration in ticks.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome, Window};
    /// let b: Breaker<Window<4>> =
    ///     Breaker::new_window(Config::new(10).failure_rate(100, 1).slow_calls(50, 100));
    /// let t = b.try_acquire(0).unwrap().record_elapsed(Outcome::Success, 60, 1);
    /// assert!(t.is_some()); // one call, 100 % slow
    /// ```
    #[inline]
    pub fn record_elapsed(self, outcome: Outcome, elapsed: u64, now: u64) -> Option<Transition> {
        self.finish(outcome, At(elapsed, now))
    }

    /// [`record`](Self::record) with the tick read from `clock` only when
    /// the outcome needs one: a clean closed success of the consecutive
    /// policy never reads it (the `std` helpers pass `clock::now`).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// let b = Breaker::new(Config::new(10));
    /// let p = b.try_acquire(0).unwrap();
    /// assert_eq!(p.record_with(Outcome::Success, || unreachable!("no tick needed")), None);
    /// ```
    #[inline]
    pub fn record_with(self, outcome: Outcome, clock: impl FnOnce() -> u64) -> Option<Transition> {
        self.finish(outcome, Clock(clock))
    }

    /// Records `outcome`; `when` gives the tick, read only where the record
    /// needs one (never on the fast path).
    // Always inline, with the rest out of line in `finish_slow`: rustc
    // kept the whole of it out of line for the window policy, and its
    // frame (six saved registers) was about 1 ns of a window success.
    #[inline(always)]
    fn finish(self, outcome: Outcome, tick: impl TickSource) -> Option<Transition> {
        let this = core::mem::ManuallyDrop::new(self);
        let b = this.breaker;
        // Ordering: Relaxed: the word publishes no other memory to a record
        // (ticks live in the stamp, read with its own Acquire load).
        let cur = b.core.word.load(Ordering::Relaxed);
        // The hot path: the consecutive policy's success on the very word it
        // was admitted on, a clean closed word (no failures counted), changes
        // nothing: two loads and a compare, no read-modify-write, so cores
        // sharing a breaker never contend on its cache line. That is where
        // tripbit's speed comes from; keep it.
        if P::COUNTS_IN_WORD
            && matches!(outcome, Outcome::Success)
            && cur == this.admitted
            && Word::raw_is_closed_clean(cur)
        {
            return None;
        }
        // The window policy's hot path: a success on the word it was
        // admitted on (so closed, same generation), counted without a tick
        // on a stripe this thread owns.
        if !P::COUNTS_IN_WORD
            && matches!(outcome, Outcome::Success)
            && cur == this.admitted
            && b.policy.record_success_fast(cur)
        {
            return None;
        }
        b.finish_slow(cur, this.ticket(), outcome, tick)
    }

    /// The ticket of this permit (what `into_ticket` hands out).
    #[inline(always)]
    fn ticket(&self) -> Ticket {
        Ticket::admitted_on(self.admitted, self.acquired_at, self.probe_gen)
    }

    /// The transition that admitting this call caused (`Open → HalfOpen` for
    /// the first probe after the open period).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome, State};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(1));
    /// b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
    /// let probe = b.try_acquire(10).unwrap();
    /// assert_eq!(probe.transition().unwrap().to, State::HalfOpen);
    /// ```
    pub fn transition(&self) -> Option<Transition> {
        self.transition
    }

    /// Whether this call is a half-open probe.
    ///
    /// ```
    /// let b = tripbit::Breaker::new(tripbit::Config::new(10));
    /// assert!(!b.try_acquire(0).unwrap().is_probe());
    /// ```
    pub fn is_probe(&self) -> bool {
        Word::raw_is_half_open(self.admitted)
    }

    /// Turns the permit into a plain [`Ticket`] without releasing anything;
    /// report it later with [`Breaker::record_ticket`].
    ///
    /// ```
    /// let b = tripbit::Breaker::new(tripbit::Config::new(10));
    /// let t = b.try_acquire(3).unwrap().into_ticket();
    /// assert_eq!(t.acquired_at, 3);
    /// ```
    pub fn into_ticket(self) -> Ticket {
        core::mem::ManuallyDrop::new(self).ticket()
    }
}

impl<P: Policy> Drop for Permit<'_, P> {
    fn drop(&mut self) {
        if self.is_probe() {
            // Counts nothing; only frees the slot. Stale is fine: the
            // generation that owned the slot is gone.
            let _ = self.breaker.release(self.ticket(), self.acquired_at);
        }
    }
}

/// A circuit breaker: a `#[repr(C)]` struct of atomics and immutable
/// settings, no pointers, no allocation. It can live in a `static`, on the
/// stack, in C storage or in shared memory.
///
/// The default policy, [`Consecutive`], is 64 bytes (one cache line),
/// 16-aligned, on every target. [`Breaker<Window<N>>`](crate::Window) adds a
/// sliding window.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, State};
///
/// static B: Breaker = Breaker::new(Config::new(1_000).consecutive_failures(2));
///
/// for now in [0, 1] {
///     let permit = B.try_acquire(now).unwrap();
///     permit.record(Outcome::Failure, now);
/// }
/// assert_eq!(B.state(2), State::Open);
/// assert!(B.try_acquire(2).is_err());
/// // After the open period one probe is admitted; its success closes.
/// let probe = B.try_acquire(1_001).unwrap();
/// probe.record(Outcome::Success, 1_002);
/// assert_eq!(B.state(1_002), State::Closed);
/// ```
#[repr(C)]
pub struct Breaker<P: Policy = Consecutive> {
    /// The stamp, the state word and the settings (`machine.rs`).
    pub(crate) core: Core,
    pub(crate) policy: P,
}

impl<P: Policy> core::fmt::Debug for Breaker<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let w = Word::unpack(self.core.word.load(Ordering::Relaxed));
        f.debug_struct("Breaker")
            .field("state", &w.state)
            .field("generation", &w.generation)
            .field("params", &self.core.params)
            .finish()
    }
}

impl Breaker<Consecutive> {
    const_fn! {
        /// A breaker with the consecutive-failures policy. In a `const` or
        /// `static`, an invalid config is a compile error; at run time it
        /// panics, so use [`Breaker::try_new`] for configs read from input.
        ///
        /// ```
        /// use tripbit::{Breaker, Config};
        /// static B: Breaker = Breaker::new(Config::new(100).consecutive_failures(3));
        /// assert_eq!(core::mem::size_of_val(&B), 64);
        /// ```
        ///
        /// ```compile_fail
        /// use tripbit::{Breaker, Config};
        /// static B: Breaker = Breaker::new(Config::new(0)); // open_ticks = 0
        /// ```
        pub fn new(config: Config) -> Breaker<Consecutive> {
            match Self::try_new(config) {
                Ok(b) => b,
                Err(e) => panic!("{}", e.message()),
            }
        }
    }

    const_fn! {
        /// A breaker with the consecutive-failures policy, or the setting at fault.
        ///
        /// ```
        /// use tripbit::{Breaker, Config, ConfigError};
        /// assert!(Breaker::try_new(Config::new(10)).is_ok());
        /// assert_eq!(
        ///     Breaker::try_new(Config::new(10).failure_rate(50, 10)).unwrap_err(),
        ///     ConfigError::Policy,
        /// );
        /// ```
        pub fn try_new(config: Config) -> Result<Breaker<Consecutive>, ConfigError> {
            if let Err(e) = config.validate() {
                return Err(e);
            }
            match Consecutive::for_config(&config) {
                Ok(policy) => Ok(Breaker::from_parts(&config, policy)),
                Err(e) => Err(e),
            }
        }
    }
}

/// [`Rejected`] as two words, for the out-of-line coarse check to return in
/// registers: `(0, _)` no rejection proven, `(1, until)` open until
/// `until`, `(2, _)` forced open (the only rejections
/// `Breaker::reject_coarse` returns).
#[derive(Clone, Copy)]
struct CoarseVerdict(u64, u64);

impl CoarseVerdict {
    #[inline(always)]
    fn pack(r: Option<Rejected>) -> CoarseVerdict {
        match r {
            None => CoarseVerdict(0, 0),
            Some(Rejected {
                state: State::Open,
                retry_at: Some(until),
            }) => CoarseVerdict(1, until),
            Some(r) => {
                debug_assert_eq!((r.state, r.retry_at), (State::ForcedOpen, None));
                CoarseVerdict(2, 0)
            }
        }
    }

    #[inline(always)]
    fn unpack(self) -> Option<Rejected> {
        match self.0 {
            0 => None,
            1 => Some(Rejected {
                state: State::Open,
                retry_at: Some(self.1),
            }),
            _ => Some(Rejected {
                state: State::ForcedOpen,
                retry_at: None,
            }),
        }
    }
}

/// What an admission hands to the permit or ticket.
struct Admitted {
    /// The raw word the call was admitted on.
    word: Raw,
    /// A probe's 32-bit generation (0 otherwise).
    probe_gen: u32,
    transition: Option<Transition>,
}

impl<P: Policy> Breaker<P> {
    /// A breaker of policy `P` for `config`, or the setting at fault (what
    /// [`Registry`](crate::Registry) builds its entries with).
    pub(crate) fn try_from_config(config: Config) -> Result<Breaker<P>, ConfigError> {
        config.validate()?;
        Ok(Breaker::from_parts(&config, P::make(&config)?))
    }

    const_fn! {
        pub(crate) fn from_parts(config: &Config, policy: P) -> Breaker<P> {
            Breaker {
                core: Core::new(config),
                policy,
            }
        }
    }

    /// Asks to make a call at tick `now`. In `Closed` this is one atomic load.
    /// In `Open` it rejects until the open period is over, then the first
    /// caller moves the breaker to `HalfOpen` and becomes a probe; at most
    /// `probes` probes run at once.
    ///
    /// ```
    /// use tripbit::{Breaker, Config};
    /// let b = Breaker::new(Config::new(10));
    /// let permit = b.try_acquire(0).expect("closed breakers admit");
    /// drop(permit);
    /// ```
    #[inline]
    pub fn try_acquire(&self, now: u64) -> Result<Permit<'_, P>, Rejected> {
        let a = self.admit(now)?;
        Ok(Permit {
            breaker: self,
            admitted: a.word,
            probe_gen: a.probe_gen,
            acquired_at: now,
            transition: a.transition,
        })
    }

    /// [`try_acquire`](Self::try_acquire) that reads the tick from `clock`
    /// only when it needs one: the consecutive policy admits a call to a
    /// closed breaker without it (its closed path times nothing, so the
    /// permit's `acquired_at` is then 0). Pass a clock that costs something
    /// to read, such as [`clock::now`](crate::clock::now).
    ///
    /// ```
    /// use tripbit::{Breaker, Config};
    /// let b = Breaker::new(Config::new(10));
    /// let permit = b.try_acquire_with(|| unreachable!("closed: no tick needed")).unwrap();
    /// assert_eq!(permit.into_ticket().acquired_at, 0);
    /// ```
    #[inline]
    pub fn try_acquire_with(&self, clock: impl FnOnce() -> u64) -> Result<Permit<'_, P>, Rejected> {
        match self.closed_untimed() {
            Some(cur) => Ok(Permit {
                breaker: self,
                admitted: cur,
                probe_gen: 0,
                acquired_at: 0,
                transition: None,
            }),
            None => self.try_acquire(clock()),
        }
    }

    /// [`acquire_ticket`](Self::acquire_ticket) that reads the tick from
    /// `clock` only when it needs one (see [`try_acquire_with`](Self::try_acquire_with)).
    ///
    /// ```
    /// use tripbit::{Breaker, Config};
    /// let b = Breaker::new(Config::new(10));
    /// let (ticket, _) = b.acquire_ticket_with(|| unreachable!()).unwrap();
    /// assert_eq!(ticket.acquired_at, 0);
    /// ```
    #[inline]
    pub fn acquire_ticket_with(
        &self,
        clock: impl FnOnce() -> u64,
    ) -> Result<(Ticket, Option<Transition>), Rejected> {
        match self.acquire_closed(0) {
            Some(ticket) => Ok((ticket, None)),
            None => self.acquire_ticket(clock()),
        }
    }

    /// [`try_acquire_with`](Self::try_acquire_with) for a clock that also
    /// has a cheap coarse reading (such as
    /// [`clock::coarse`](crate::clock::coarse) next to
    /// [`clock::now`](crate::clock::now)). A call that the breaker rejects
    /// is rejected on the coarse reading alone while it proves the open
    /// period is not over (`lo` at or after the period's start, `hi` before
    /// its end), and a forced-open breaker rejects with no reading at all;
    /// everything else (the end of the period, half-open, a clock that went
    /// back) reads `clock`, so the decision is the same as with the precise
    /// tick. The closed path is `try_acquire_with`'s.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, State, TickBounds};
    /// let b = Breaker::new(Config::new(100).consecutive_failures(1));
    /// b.try_acquire(0).unwrap().record(tripbit::Outcome::Failure, 0);
    /// // Coarsely at 40..=44: certainly inside the open period 0..100.
    /// let r = b.try_acquire_coarse(|| TickBounds { lo: 40, hi: 44 }, || unreachable!());
    /// assert_eq!(r.unwrap_err().retry_at, Some(100));
    /// // Coarsely at 98..=102: maybe over, so the precise clock decides.
    /// let p = b.try_acquire_coarse(|| TickBounds { lo: 98, hi: 102 }, || 101);
    /// assert!(p.unwrap().is_probe());
    /// ```
    #[inline]
    pub fn try_acquire_coarse(
        &self,
        coarse: impl FnOnce() -> TickBounds,
        clock: impl FnOnce() -> u64,
    ) -> Result<Permit<'_, P>, Rejected> {
        // Ordering: Relaxed, as in `admit`.
        let cur = self.core.word.load(Ordering::Relaxed);
        if self.untimed_closed(cur) {
            return Ok(Permit {
                breaker: self,
                admitted: cur,
                probe_gen: 0,
                acquired_at: 0,
                transition: None,
            });
        }
        let (a, now) = self.admit_coarse(cur, coarse, clock)?;
        Ok(Permit {
            breaker: self,
            admitted: a.word,
            probe_gen: a.probe_gen,
            acquired_at: now,
            transition: a.transition,
        })
    }

    /// [`acquire_ticket_with`](Self::acquire_ticket_with) with a coarse
    /// reading, as [`try_acquire_coarse`](Self::try_acquire_coarse).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, TickBounds};
    /// let b = Breaker::new(Config::new(100));
    /// b.force_open();
    /// let r = b.acquire_ticket_coarse(|| unreachable!(), || unreachable!());
    /// assert_eq!(r.unwrap_err().state, tripbit::State::ForcedOpen);
    /// ```
    #[inline]
    pub fn acquire_ticket_coarse(
        &self,
        coarse: impl FnOnce() -> TickBounds,
        clock: impl FnOnce() -> u64,
    ) -> Result<(Ticket, Option<Transition>), Rejected> {
        // Ordering: Relaxed, as in `admit`.
        let cur = self.core.word.load(Ordering::Relaxed);
        if self.untimed_closed(cur) {
            return Ok((Ticket::admitted_on(cur, 0, 0), None));
        }
        let (a, now) = self.admit_coarse(cur, coarse, clock)?;
        Ok((Ticket::admitted_on(a.word, now, a.probe_gen), a.transition))
    }

    /// The admission of the coarse entry points off the closed path: the
    /// rejection the coarse reading proves, else the precise admission and
    /// its tick (both out of line).
    #[inline(always)]
    fn admit_coarse(
        &self,
        cur: Raw,
        coarse: impl FnOnce() -> TickBounds,
        clock: impl FnOnce() -> u64,
    ) -> Result<(Admitted, u64), Rejected> {
        if let Some(r) = CoarseVerdict::unpack(self.reject_coarse_out(cur, coarse)) {
            return Err(r);
        }
        self.admit_precise(clock)
    }

    /// The coarse rejection off the closed path, out of line (inlined, the
    /// coarse check cost a closed `call()` 2 ns), returned in two
    /// registers. Returned through memory (a `Result` of several words, as the
    /// earlier `admit_coarse_slow` did), the caller's first load of it
    /// stalled on store forwarding: `perf annotate` put 72 % of the
    /// caller's samples on that load.
    #[inline(never)]
    fn reject_coarse_out(&self, cur: Raw, coarse: impl FnOnce() -> TickBounds) -> CoarseVerdict {
        CoarseVerdict::pack(self.reject_coarse(cur, coarse))
    }

    /// The admission on the precise clock, when the coarse reading proved
    /// no rejection: the tick read and the admission on it, out of line.
    #[inline(never)]
    fn admit_precise(&self, clock: impl FnOnce() -> u64) -> Result<(Admitted, u64), Rejected> {
        let now = clock();
        self.admit(now).map(|a| (a, now))
    }

    /// The rejections that need no precise tick: forced open (none at all),
    /// and open while `coarse` proves the period is running. `None`: ask
    /// the precise clock (`acquire_slow` decides as usual).
    #[inline(always)]
    fn reject_coarse(&self, cur: Raw, coarse: impl FnOnce() -> TickBounds) -> Option<Rejected> {
        if Word::raw_is_open_level0(cur) {
            // The common case inline, as in `reject_fast`.
            // Ordering: Acquire, pairs with the AcqRel CAS in `publish`.
            let s = self.core.stamp.load(Ordering::Acquire);
            if (stamp_generation(s) as u32) & GEN_MASK != Word::raw_generation(cur) {
                return None; // not published yet: the precise path publishes
            }
            let t = coarse();
            let since = self.core.tick_of(s, t.lo)?;
            return Self::coarse_rejection(t, since, self.core.params.open_ticks);
        }
        let w = Word::unpack(cur);
        match w.state {
            State::ForcedOpen => Some(Rejected {
                state: State::ForcedOpen,
                retry_at: None,
            }),
            State::Open => {
                let t = coarse();
                let since = self.core.stamp_of(w, t.lo).0?;
                Self::coarse_rejection(t, since, self.core.params.open_ticks_at(w.level))
            }
            _ => None,
        }
    }

    /// The rejection the coarse bounds `t` prove for a period of `len`
    /// ticks stamped at `since`, if they prove one.
    #[inline(always)]
    fn coarse_rejection(t: TickBounds, since: u64, len: u64) -> Option<Rejected> {
        let until = since.saturating_add(len);
        // lo ≤ now ≤ hi, so since ≤ now < until: `acquire_slow` would
        // reject with this `until` (no restamp, no probe).
        (t.lo >= since && t.hi < until).then_some(Rejected {
            state: State::Open,
            retry_at: Some(until),
        })
    }

    /// Whether `cur` is a closed word this policy admits on without a tick.
    #[inline(always)]
    fn untimed_closed(&self, cur: Raw) -> bool {
        (P::COUNTS_IN_WORD || self.policy.untimed_admission()) && Word::raw_is_closed(cur)
    }

    /// The closed word, when this policy admits a closed call without a
    /// tick: the consecutive policy, and a window without a slow-call rule
    /// (neither times a closed call).
    #[inline(always)]
    fn closed_untimed(&self) -> Option<Raw> {
        if !P::COUNTS_IN_WORD && !self.policy.untimed_admission() {
            return None;
        }
        // Ordering: Relaxed, as in `admit`.
        let cur = self.core.word.load(Ordering::Relaxed);
        Word::raw_is_closed(cur).then_some(cur)
    }

    /// [`try_acquire`](Self::try_acquire) for callers that cannot hold a
    /// borrow (C, Python, shared memory across an `await`): returns a plain
    /// [`Ticket`] and the transition admitting it caused.
    ///
    /// ```
    /// let b = tripbit::Breaker::new(tripbit::Config::new(10));
    /// let (ticket, transition) = b.acquire_ticket(0).unwrap();
    /// assert_eq!(transition, None);
    /// b.record_ticket(ticket, tripbit::Outcome::Success, 1).unwrap();
    /// ```
    #[inline]
    pub fn acquire_ticket(&self, now: u64) -> Result<(Ticket, Option<Transition>), Rejected> {
        let a = self.admit(now)?;
        Ok((Ticket::admitted_on(a.word, now, a.probe_gen), a.transition))
    }

    /// The closed fast path of [`acquire_ticket`](Self::acquire_ticket)
    /// alone: the ticket (admitted at `now`) when the breaker admits this
    /// call with no decision to make (closed, and a policy that times no
    /// closed call), else `None`, and then `acquire_ticket` decides. It
    /// reads the state word and nothing else (no setting): bindings that
    /// check their storage's settings lazily (the C API) call it first.
    ///
    /// ```
    /// let b = tripbit::Breaker::new(tripbit::Config::new(10).consecutive_failures(1));
    /// assert_eq!(b.acquire_closed(5).unwrap().acquired_at, 5);
    /// b.force_open();
    /// assert!(b.acquire_closed(6).is_none());
    /// ```
    #[inline(always)]
    pub fn acquire_closed(&self, now: u64) -> Option<Ticket> {
        self.closed_untimed()
            .map(|cur| Ticket::admitted_on(cur, now, 0))
    }

    /// Whether recording [`Outcome::Success`] for `ticket` changes nothing
    /// at all (a closed call of the breaker's current generation, on a
    /// clean closed breaker of the consecutive policy): then
    /// [`record_ticket`](Self::record_ticket) would return `Ok(None)`, and
    /// the record is complete without calling it. Reads the state word and
    /// nothing else, as [`acquire_closed`](Self::acquire_closed).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(2));
    /// let t = b.acquire_closed(0).unwrap();
    /// assert!(b.success_changes_nothing(t));
    /// b.record_ticket(t, Outcome::Failure, 1).unwrap(); // one failure counted
    /// assert!(!b.success_changes_nothing(b.acquire_closed(2).unwrap()));
    /// ```
    #[inline(always)]
    pub fn success_changes_nothing(&self, ticket: Ticket) -> bool {
        // Ordering: Relaxed, as in `record_inner`.
        let cur = self.core.word.load(Ordering::Relaxed);
        ticket.generation <= GEN_MASK && Self::clean_success(cur, &ticket)
    }

    /// Whether a success of the closed call `ticket` on the word `cur`
    /// changes nothing: the consecutive policy, a closed ticket, and `cur`
    /// the clean closed word of its generation. The record fast path.
    #[inline(always)]
    fn clean_success(cur: Raw, ticket: &Ticket) -> bool {
        P::COUNTS_IN_WORD && !ticket.probe && cur == Word::raw_closed_clean(ticket.generation)
    }

    /// Admission, shared by `try_acquire` and `acquire_ticket`. The hot
    /// path: closed admits with this one load.
    #[inline(always)]
    fn admit(&self, now: u64) -> Result<Admitted, Rejected> {
        // Ordering: Relaxed. In the admitting states nothing but the word
        // itself is read; the Open paths read the stamp with Acquire.
        let cur = self.core.word.load(Ordering::Relaxed);
        if Word::raw_is_closed(cur) {
            return Ok(Admitted {
                word: cur,
                probe_gen: 0,
                transition: None,
            });
        }
        if let Some(r) = self.reject_fast(cur, now) {
            return Err(r);
        }
        self.acquire_slow(cur, now)
    }

    /// The fail-fast path, inline: an `Open` word at backoff level 0 whose
    /// stamp is published and whose open period is not over rejects with
    /// one more load and a compare. Everything else (backoff levels, an
    /// unpublished stamp, a clock that went back, the move to `HalfOpen`,
    /// the other states) is `acquire_slow`'s. Compiled in only where 64-bit
    /// atomics are native (servers); on microcontrollers the inlined check
    /// (three stamp loads with the 32-bit stamp) would cost flash at every
    /// call site, and a rejection there is `acquire_slow`'s (one critical
    /// section on cores without CAS).
    #[inline(always)]
    fn reject_fast(&self, cur: Raw, now: u64) -> Option<Rejected> {
        if cfg!(not(target_has_atomic = "64")) || !Word::raw_is_open_level0(cur) {
            return None;
        }
        // Ordering: Acquire, pairs with the AcqRel CAS in `publish`.
        let s = self.core.stamp.load(Ordering::Acquire);
        if (stamp_generation(s) as u32) & GEN_MASK != Word::raw_generation(cur) {
            return None;
        }
        let since = self.core.tick_of(s, now)?;
        let until = since.saturating_add(self.core.params.open_ticks);
        (now >= since && now < until).then_some(Rejected {
            state: State::Open,
            retry_at: Some(until),
        })
    }

    /// Every state but `Closed`: kept out of line so the closed path inlines
    /// into the caller as a load, a test and a branch.
    #[inline(never)]
    fn acquire_slow(&self, mut cur: Raw, now: u64) -> Result<Admitted, Rejected> {
        crate::sync::op(|| {
            loop {
                let w = Word::unpack(cur);
                let (next, transition) = match w.state {
                    State::Closed | State::ForcedClosed | State::Disabled => {
                        return Ok(Admitted {
                            word: cur,
                            probe_gen: 0,
                            transition: None,
                        });
                    }
                    State::ForcedOpen => {
                        return Err(Rejected {
                            state: State::ForcedOpen,
                            retry_at: None,
                        });
                    }
                    State::Open => {
                        let Some((since, g)) = self.core.stamp_or_publish(w, now) else {
                            // Ordering: Relaxed, as in `admit`.
                            cur = self.core.word.load(Ordering::Relaxed);
                            continue;
                        };
                        let period = self.core.params.open_ticks_at(w.level);
                        if let Err(until) = self.core.period_running(g, since, period, now) {
                            return Err(Rejected {
                                state: State::Open,
                                retry_at: Some(until),
                            });
                        }
                        // Probes of the failed trial still running (ghosts): the
                        // new period waits for them, or for their deadline, so
                        // that calls in flight never exceed `probes`.
                        if Probes::unpack(w.counters).in_flight() > 0 {
                            if let Err(deadline) = self.core.period_running(
                                g,
                                since,
                                self.core.params.probe_ticks,
                                now,
                            ) {
                                return Err(Rejected {
                                    state: State::Open,
                                    retry_at: Some(deadline.max(since.saturating_add(period))),
                                });
                            }
                        }
                        let next = w.next(State::HalfOpen, w.level).with_counters(
                            Probes {
                                claimed: 1,
                                ..Probes::ZERO
                            }
                            .pack(),
                        );
                        (next, Some(transition(w, next)))
                    }
                    State::HalfOpen => {
                        let mut p = Probes::unpack(w.counters);
                        if p.claimed < u32::from(self.core.params.probes) {
                            p.claimed += 1;
                            (w.with_counters(p.pack()), None)
                        } else {
                            if p.in_flight() > 0 {
                                // Every slot busy: wait, unless the round is past
                                // its deadline (its probes leaked, hung or died).
                                let Some((since, g)) = self.core.stamp_or_publish(w, now) else {
                                    // Ordering: Relaxed, as in `admit`.
                                    cur = self.core.word.load(Ordering::Relaxed);
                                    continue;
                                };
                                if self
                                    .core
                                    .period_running(g, since, self.core.params.probe_ticks, now)
                                    .is_err()
                                {
                                    return Err(Rejected {
                                        state: State::HalfOpen,
                                        retry_at: None,
                                    });
                                }
                            }
                            // A new round: a new generation (earlier tickets are
                            // stale), slot 0 for this caller, the trial's
                            // totals carried over.
                            let round = Probes {
                                claimed: 1,
                                done: 0,
                                ..p
                            };
                            (
                                w.next(State::HalfOpen, w.level).with_counters(round.pack()),
                                None,
                            )
                        }
                    }
                };
                // Ordering: Relaxed both ways: claiming a probe slot or moving to
                // HalfOpen publishes no other memory (the round's tick goes to
                // the stamp, below, with its own Release). Failure: re-decode.
                match self.core.word.compare_exchange_weak(
                    cur,
                    next.pack(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let g = if next.generation != w.generation {
                            // A new period or round starts at `now`.
                            self.core.publish(next.generation, now).map(|(_, g)| g)
                        } else {
                            Some(self.core.stamp_of(next, now).1)
                        };
                        return Ok(Admitted {
                            word: next.pack(),
                            // `None`: the word already moved on; the probe's
                            // generation is then stale anyway.
                            probe_gen: g.unwrap_or(u64::MAX) as u32,
                            transition,
                        });
                    }
                    Err(actual) => cur = actual,
                }
            }
        })
    }

    /// Reports the outcome of a call admitted as `ticket`. `Err(Stale)` when
    /// the breaker changed generation since (the result is discarded, never
    /// counted twice), or when the probe slot was already reported.
    /// `Outcome::Ignored` releases a probe slot and counts nothing.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(1));
    /// let (t, _) = b.acquire_ticket(0).unwrap();
    /// let tr = b.record_ticket(t, Outcome::Failure, 1).unwrap().unwrap();
    /// assert_eq!(tr.to, tripbit::State::Open);
    /// ```
    pub fn record_ticket(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        now: u64,
    ) -> Result<Option<Transition>, Stale> {
        self.record_inner(ticket, outcome, AtNow(now))
    }

    /// [`record_ticket`](Self::record_ticket) with the tick read from
    /// `clock` only when the outcome needs one: a clean closed success of the
    /// consecutive policy never reads it.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// let b = Breaker::new(Config::new(10));
    /// let (t, _) = b.acquire_ticket(0).unwrap();
    /// assert_eq!(b.record_ticket_with(t, Outcome::Success, || unreachable!()), Ok(None));
    /// ```
    #[inline]
    pub fn record_ticket_with(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        clock: impl FnOnce() -> u64,
    ) -> Result<Option<Transition>, Stale> {
        self.record_inner(ticket, outcome, Clock(clock))
    }

    /// Releases an admitted call without counting it: frees its half-open
    /// slot (if it holds one). The same as recording `Outcome::Ignored`.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(1));
    /// b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
    /// let (probe, _) = b.acquire_ticket(10).unwrap();
    /// assert!(b.acquire_ticket(10).is_err()); // the one slot is busy
    /// assert_eq!(b.release(probe, 10), Ok(()));
    /// assert_eq!(b.release(probe, 10), Err(tripbit::Stale)); // only once
    /// ```
    pub fn release(&self, ticket: Ticket, now: u64) -> Result<(), Stale> {
        self.record_inner(ticket, Outcome::Ignored, At(0, now))
            .map(|_| ())
    }

    /// Records `outcome` for `ticket`; `time(acquired_at)` gives
    /// `(elapsed, now)` and is called only off the fast path.
    #[inline]
    fn record_inner(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        tick: impl TickSource,
    ) -> Result<Option<Transition>, Stale> {
        // Ordering: Relaxed: the word publishes no other memory to a record.
        let cur = self.core.word.load(Ordering::Relaxed);
        // The hot path: the consecutive policy's success on a closed word of
        // this generation with no failures counted changes nothing: one load,
        // no read-modify-write, so cores sharing a breaker never contend on
        // its cache line. That is where tripbit's speed comes from; keep it.
        if matches!(outcome, Outcome::Success) && Self::clean_success(cur, &ticket) {
            return Ok(None);
        }
        // The window policy's (see `Permit::finish`): a closed ticket of
        // the current generation, whose word is then closed and clean.
        if !P::COUNTS_IN_WORD
            && matches!(outcome, Outcome::Success)
            && !ticket.probe
            && ticket.generation <= GEN_MASK
            && cur == Word::raw_closed_clean(ticket.generation)
            && self.policy.record_success_fast(cur)
        {
            return Ok(None);
        }
        // Set up only here, off the fast path (see `Permit::finish`).
        tick.with(ticket.acquired_at, |when| {
            self.record_slow(cur, ticket, outcome, when)
        })
    }

    /// The record off the fast path of `Permit::finish`, out of line. The
    /// tick source is set up only here (built before the fast path, its
    /// stores cost a closed success a dozen instructions on a Cortex-M3
    /// and 3 ns in a loop on x86).
    #[inline(never)]
    fn finish_slow(
        &self,
        cur: Raw,
        ticket: Ticket,
        outcome: Outcome,
        tick: impl TickSource,
    ) -> Option<Transition> {
        tick.with(ticket.acquired_at, |when| {
            self.record_slow(cur, ticket, outcome, when).unwrap_or(None)
        })
    }

    /// Everything but the clean closed success: out of line, see
    /// `acquire_slow`.
    #[inline(never)]
    fn record_slow(
        &self,
        mut cur: Raw,
        ticket: Ticket,
        outcome: Outcome,
        when: &mut When<'_>,
    ) -> Result<Option<Transition>, Stale> {
        crate::sync::op(|| {
            loop {
                let w = Word::unpack(cur);
                let (next, tr, counted) = if ticket.probe {
                    let now = when.now();
                    match self.probe_next(w, ticket, outcome, now) {
                        Some(n) => n,
                        None => return Err(Stale),
                    }
                } else {
                    if w.generation != ticket.generation & GEN_MASK {
                        return Err(Stale);
                    }
                    match w.state {
                        State::Closed | State::Disabled => {
                            return self
                                .policy
                                .record_closed(&self.core, cur, ticket, outcome, when);
                        }
                        State::ForcedClosed => return Ok(None),
                        // A closed ticket of this generation cannot come from
                        // these states.
                        _ => return Err(Stale),
                    }
                };
                // Ordering: Relaxed both ways: the counters publish no other
                // memory; a new period's tick goes to the stamp (below), which
                // has its own Release. Failure: re-decode.
                match self.core.word.compare_exchange_weak(
                    cur,
                    next.pack(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if next.generation != w.generation {
                            let now = when.now();
                            let tick = if next.state == State::Open {
                                // A failed trial reopens from its own tick, but
                                // never from before the round began (a
                                // backwards `now` must not end the new open
                                // period at once).
                                self.core.stamp_of(w, now).0.map_or(now, |t| t.max(now))
                            } else {
                                now
                            };
                            let _ = self.core.publish(next.generation, tick);
                        }
                        if !counted {
                            return Err(Stale);
                        }
                        return Ok(if tr { Some(transition(w, next)) } else { None });
                    }
                    Err(actual) => cur = actual,
                }
            }
        })
    }

    /// A probe's report on word `w`: the next word, whether it is a
    /// transition, and whether the outcome counted (`false` for a ghost of a
    /// failed trial, whose report only frees its slot). `None`: stale (an
    /// earlier period, or this slot already reported).
    fn probe_next(
        &self,
        w: Word,
        ticket: Ticket,
        outcome: Outcome,
        now: u64,
    ) -> Option<(Word, bool, bool)> {
        let (_, g) = self.core.stamp_of(w, now);
        let mut p = Probes::unpack(w.counters);
        let bit = 1u32.checked_shl(u32::from(ticket.slot)).unwrap_or(0);
        match w.state {
            State::HalfOpen if g as u32 == ticket.generation && p.holds(ticket.slot) => {
                p.done |= bit;
            }
            State::Open
                if g.wrapping_sub(1) as u32 == ticket.generation && p.holds(ticket.slot) =>
            {
                p.done |= bit;
                return Some((w.with_counters(p.pack()), false, false));
            }
            _ => return None,
        }
        let _ = now;
        match outcome {
            Outcome::Ignored => {}
            Outcome::Success => {
                p.successes = (p.successes + 1).min(MAX_HALF_OPEN_COUNT);
                if p.successes >= u32::from(self.core.params.close_after) {
                    return Some((w.next(State::Closed, 0), true, true));
                }
            }
            Outcome::Failure => {
                p.failures = (p.failures + 1).min(MAX_HALF_OPEN_COUNT);
                // Division-free: failures·(100 − p) > close_after·p.
                let params = &self.core.params;
                let over = close_bar_exceeded(
                    p.failures,
                    u32::from(params.close_after),
                    params.close_max_failure_percent,
                );
                if over {
                    let level = if w.level < self.core.params.backoff_max_level {
                        w.level + 1
                    } else {
                        w.level
                    };
                    // The reopened word keeps the round's slots: the other
                    // probes still running are its ghosts.
                    let next = w
                        .next(State::Open, level)
                        .with_counters(p.round_only().pack() | REOPENED);
                    return Some((next, true, true));
                }
            }
        }
        Some((w.with_counters(p.pack()), false, true))
    }

    /// Whether this breaker's settings, the policy's included, are in the
    /// ranges [`Config::validate`] and the policy's constructor accept:
    /// `false` for storage that was never initialized (all zero) or was
    /// overwritten, for example a breaker in C storage or shared memory that
    /// nobody set up yet. Every breaker built by `new` / `try_new` /
    /// `new_window` is valid. A few compares, no atomics.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Window};
    /// assert!(Breaker::new(Config::new(10)).is_valid());
    /// let w: Breaker<Window<4>> = Breaker::new_window(Config::new(10).failure_rate(50, 8));
    /// assert!(w.is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        let p = &self.core.params;
        // Only the consecutive policy stores a threshold (a window
        // breaker's is 0: its trip bar lives in the policy).
        (p.threshold != 0 || !P::COUNTS_IN_WORD)
            && self.policy.is_valid()
            && check_stored(&Stored {
                open_ticks: p.open_ticks,
                probe_ticks: p.probe_ticks,
                close_after: p.close_after,
                probes: p.probes,
                backoff_factor: p.backoff_factor,
                backoff_max_level: p.backoff_max_level,
                close_max_failure_percent: p.close_max_failure_percent,
            })
            .is_ok()
    }

    /// The state at tick `now`. Pure: an `Open` breaker whose open period is
    /// over reports `HalfOpen` (the next `try_acquire` makes it so).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome, State};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(1));
    /// b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
    /// assert_eq!(b.state(9), State::Open);
    /// assert_eq!(b.state(10), State::HalfOpen);
    /// ```
    pub fn state(&self, now: u64) -> State {
        // Ordering: Relaxed; the stamp is read with Acquire in `open_view`.
        let w = Word::unpack(self.core.word.load(Ordering::Relaxed));
        match self.core.open_view(w, now) {
            Some((_, _, true)) => State::HalfOpen,
            _ => w.state,
        }
    }

    /// Counters and timestamps at tick `now`.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(1));
    /// b.try_acquire(0).unwrap().record(Outcome::Failure, 4);
    /// let s = b.snapshot(5);
    /// assert_eq!((s.opened_at, s.open_until), (Some(4), Some(14)));
    /// ```
    pub fn snapshot(&self, now: u64) -> Snapshot {
        // Ordering: Relaxed; the stamp is read with Acquire.
        let w = Word::unpack(self.core.word.load(Ordering::Relaxed));
        let probes = match w.state {
            State::HalfOpen => Probes::unpack(w.counters),
            // The ghosts' round only (no trial totals while open).
            State::Open => Probes::unpack(w.counters).round_only(),
            _ => Probes::ZERO,
        };
        let open = self.core.open_view(w, now);
        let probe_deadline = if w.state == State::HalfOpen
            && probes.claimed >= u32::from(self.core.params.probes)
            && probes.in_flight() > 0
        {
            let since = self.core.stamp_of(w, now).0.unwrap_or(now);
            Some(since.saturating_add(self.core.params.probe_ticks))
        } else {
            None
        };
        Snapshot {
            state: match open {
                Some((_, _, true)) => State::HalfOpen,
                _ => w.state,
            },
            stored_state: w.state,
            generation: w.generation,
            backoff_level: w.level,
            consecutive_failures: match w.state {
                State::Closed | State::Disabled => w.counters,
                _ => 0,
            },
            probes_in_flight: probes.in_flight(),
            probe_successes: probes.successes,
            probe_failures: probes.failures,
            opened_at: open.map(|o| o.0),
            open_until: open.map(|o| o.1),
            probe_deadline,
            opened_by: (w.state == State::Open).then_some(if w.counters & REOPENED != 0 {
                OpenedBy::FailedTrial
            } else {
                OpenedBy::Trip
            }),
            window: self.policy.counts(now, w.generation),
        }
    }

    /// Makes the lazy `Open → HalfOpen` move at `now` without admitting a
    /// call: when the open period is over (and the failed trial's probes
    /// have returned or passed their deadline), the breaker becomes
    /// `HalfOpen` with an empty round, and the transition is returned. For
    /// callers that report the state without calling (the Python drop-in's
    /// `get_state()`); `try_acquire` makes the same move by itself.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome, State};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(1));
    /// b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
    /// assert_eq!(b.advance(9), None);
    /// assert_eq!(b.advance(10).unwrap().to, State::HalfOpen);
    /// assert_eq!(b.snapshot(10).probes_in_flight, 0);
    /// assert!(b.try_acquire(11).unwrap().is_probe()); // the first probe
    /// ```
    pub fn advance(&self, now: u64) -> Option<Transition> {
        crate::sync::op(|| {
            // Ordering: Relaxed, as in `admit`.
            let mut cur = self.core.word.load(Ordering::Relaxed);
            loop {
                let w = Word::unpack(cur);
                if w.state != State::Open {
                    return None;
                }
                let (since, _) = match self.core.stamp_or_publish(w, now) {
                    Some(s) => s,
                    None => {
                        // Ordering: Relaxed, as above.
                        cur = self.core.word.load(Ordering::Relaxed);
                        continue;
                    }
                };
                match self.core.open_view(w, now) {
                    Some((s, _, true)) if s == since => {}
                    _ => return None,
                }
                let next = w.next(State::HalfOpen, w.level);
                // Ordering: Relaxed both ways, as in `acquire_slow`.
                match self.core.word.compare_exchange_weak(
                    cur,
                    next.pack(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let _ = self.core.publish(next.generation, now);
                        return Some(transition(w, next));
                    }
                    Err(actual) => cur = actual,
                }
            }
        })
    }

    /// Operator override: reject every call until [`reset`](Self::reset).
    ///
    /// ```
    /// let b = tripbit::Breaker::new(tripbit::Config::new(10));
    /// assert!(b.force_open().is_some());
    /// assert!(b.try_acquire(0).is_err());
    /// assert!(b.force_open().is_none()); // already forced open
    /// ```
    pub fn force_open(&self) -> Option<Transition> {
        self.set_state(State::ForcedOpen)
    }

    /// Operator override: admit every call and count nothing until
    /// [`reset`](Self::reset).
    ///
    /// ```
    /// let b = tripbit::Breaker::new(tripbit::Config::new(10));
    /// b.force_closed();
    /// assert_eq!(b.state(0), tripbit::State::ForcedClosed);
    /// ```
    pub fn force_closed(&self) -> Option<Transition> {
        self.set_state(State::ForcedClosed)
    }

    /// Metrics only: admit every call and keep counting, never trip.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(1));
    /// b.disable();
    /// b.try_acquire(0).unwrap().record(Outcome::Failure, 1);
    /// assert_eq!(b.snapshot(1).consecutive_failures, 1);
    /// assert!(b.try_acquire(2).is_ok());
    /// ```
    pub fn disable(&self) -> Option<Transition> {
        self.set_state(State::Disabled)
    }

    /// Back to `Closed` with every count, the backoff level and the window
    /// cleared. Always starts a new generation: results of calls admitted
    /// before the reset are discarded, and the window only counts results
    /// of the new generation (its buckets are tagged with it).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, State};
    /// let b = Breaker::new(Config::new(10));
    /// b.force_open();
    /// assert_eq!(b.reset().unwrap().to, State::Closed);
    /// assert_eq!(b.state(0), State::Closed);
    /// ```
    pub fn reset(&self) -> Option<Transition> {
        let (from, to) = self.core.swap_word(|w| w.next(State::Closed, 0));
        (from.state != State::Closed).then(|| transition(from, to))
    }

    fn set_state(&self, state: State) -> Option<Transition> {
        let (from, to) = self.core.swap_word(|w| {
            if w.state == state {
                w
            } else {
                w.next(state, 0)
            }
        });
        (from != to).then(|| transition(from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every rejection the coarse check returns crosses the two-register
    /// verdict unchanged, and "not proven" stays "not proven".
    #[test]
    fn coarse_verdicts_round_trip() {
        let cases = [
            None,
            Some(Rejected {
                state: State::ForcedOpen,
                retry_at: None,
            }),
            Some(Rejected {
                state: State::Open,
                retry_at: Some(0),
            }),
            Some(Rejected {
                state: State::Open,
                retry_at: Some(u64::MAX),
            }),
        ];
        for r in cases {
            assert_eq!(CoarseVerdict::pack(r).unpack(), r);
        }
    }
}
