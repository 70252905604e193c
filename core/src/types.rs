//! The plain values of the API: outcomes, transitions, rejections, the
//! stale marker, tickets, snapshots and window totals. No atomics here.

#![cfg_attr(tripbit_word32, allow(clippy::unnecessary_cast))] // the 32-bit word casts u32 to Raw = u32

use crate::state::{Probes, Raw, State, Word};

/// The outcome of a guarded call.
///
/// ```
/// use tripbit::Outcome;
/// assert_eq!(Outcome::from_success(true), Outcome::Success);
/// assert_eq!(Outcome::from_success(false), Outcome::Failure);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Outcome {
    /// The call worked.
    Success = 0,
    /// The call failed: counts towards tripping.
    Failure = 1,
    /// Neither: cancelled, or an error the caller excludes (a client error).
    /// Counts nothing; releases a half-open slot.
    Ignored = 2,
}

impl Outcome {
    /// `Success` for `true`, `Failure` for `false`.
    ///
    /// ```
    /// assert_eq!(tripbit::Outcome::from_success(false), tripbit::Outcome::Failure);
    /// ```
    pub const fn from_success(ok: bool) -> Outcome {
        if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

/// A state change, returned to the caller of the operation that caused it;
/// never delivered by callback, so a listener can never re-enter the breaker.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, State};
/// let b = Breaker::new(Config::new(10).consecutive_failures(1));
/// let t = b.try_acquire(0).unwrap().record(Outcome::Failure, 1).unwrap();
/// assert_eq!((t.from, t.to), (State::Closed, State::Open));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transition {
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Generation after the change (24 bits, wrapping).
    pub generation: u32,
    /// Backoff level after the change.
    pub level: u8,
}

/// Why a call was not admitted, and when to try again.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, State};
/// let b = Breaker::new(Config::new(100).consecutive_failures(1));
/// b.try_acquire(0).unwrap().record(Outcome::Failure, 5);
/// let r = b.try_acquire(6).unwrap_err();
/// assert_eq!(r.state, State::Open);
/// assert_eq!(r.retry_at, Some(105));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rejected {
    /// The state that rejected the call.
    pub state: State,
    /// The tick from which a call may be admitted again: the end of the open
    /// period. `None` when no time bound is known (forced open, or every
    /// half-open probe slot busy: retry when a probe finishes).
    pub retry_at: Option<u64>,
}

impl core::fmt::Display for Rejected {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.retry_at {
            Some(t) => write!(f, "circuit breaker {} until tick {t}", self.state),
            None => write!(f, "circuit breaker {}", self.state),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Rejected {}

/// Where a clock is, known only within bounds: at the moment of the reading,
/// `lo ≤ now ≤ hi`. A coarse clock gives them cheaply (its tick, and its
/// tick plus its resolution); [`Breaker::try_acquire_coarse`](crate::Breaker::try_acquire_coarse)
/// rejects with them alone while they prove the open period is not over.
///
/// ```
/// let t = tripbit::TickBounds { lo: 10, hi: 14 };
/// assert!(t.lo <= t.hi);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TickBounds {
    /// Not later than the clock: a coarse clock's tick.
    pub lo: u64,
    /// Not earlier than the clock: the coarse tick plus the most the coarse
    /// clock lags (twice its resolution for `tripbit::clock::coarse`).
    pub hi: u64,
}

/// A result that was not counted because the breaker changed state (or was
/// reset) since the call was admitted: the result belongs to an older
/// generation.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, Stale};
/// let b = Breaker::new(Config::new(10));
/// let ticket = b.try_acquire(0).unwrap().into_ticket();
/// b.reset();
/// assert_eq!(b.record_ticket(ticket, Outcome::Failure, 1), Err(Stale));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stale;

impl core::fmt::Display for Stale {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("result discarded: the breaker changed state since the call was admitted")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Stale {}

/// A permit in plain data: what C and Python hold between admitting a call
/// and reporting its outcome, where a borrow cannot be kept. Hand it back with
/// [`Breaker::record_ticket`](crate::Breaker::record_ticket) exactly once; a probe ticket never recorded
/// keeps its half-open slot until the probe deadline
/// ([`Config::probe_timeout`](crate::Config::probe_timeout)) lets the next caller start a new round.
///
/// A probe ticket counts at most once: reporting it (a record or a release)
/// marks its slot done in the same CAS that counts it, and slots are never
/// reused within a round, so a second report is [`Stale`]. A ticket of an
/// earlier period is stale too. A closed-state ticket is plain data for the
/// one load that admitted it; replaying one counts it again (the Rust
/// [`Permit`](crate::Permit) cannot be replayed: recording consumes it).
///
/// ```
/// use tripbit::{Breaker, Config, Outcome};
/// let b = Breaker::new(Config::new(10));
/// let t = b.try_acquire(0).unwrap().into_ticket();
/// assert!(!t.is_probe());
/// assert_eq!(b.record_ticket(t, Outcome::Success, 1), Ok(None));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(C)]
pub struct Ticket {
    /// Tick at which the call was admitted (for slow-call timing).
    pub acquired_at: u64,
    /// Generation when admitted: the word's 24-bit generation for a closed
    /// call, the low 32 bits of the 64-bit generation for a probe.
    pub generation: u32,
    /// Whether this call holds a half-open probe slot.
    pub probe: bool,
    /// The probe's slot in its round (0 for other calls).
    pub slot: u8,
}

impl Ticket {
    /// The ticket of a call admitted at `now` on the raw state word
    /// `admitted`: a probe iff the word is `HalfOpen`, its slot the last one
    /// the word hands out; `probe_gen` is the probe's 32-bit generation.
    #[inline(always)]
    pub(crate) const fn admitted_on(admitted: Raw, now: u64, probe_gen: u32) -> Ticket {
        let probe = Word::raw_is_half_open(admitted);
        Ticket {
            acquired_at: now,
            generation: if probe {
                probe_gen
            } else {
                Word::raw_generation(admitted)
            },
            probe,
            slot: if probe {
                (Probes::unpack(Word::raw_counters(admitted)).claimed as u8).wrapping_sub(1)
            } else {
                0
            },
        }
    }

    /// Whether this ticket holds a half-open probe slot.
    ///
    /// ```
    /// let b = tripbit::Breaker::new(tripbit::Config::new(10));
    /// assert!(!b.try_acquire(0).unwrap().into_ticket().is_probe());
    /// ```
    pub const fn is_probe(&self) -> bool {
        self.probe
    }
}

/// What moved a breaker to `Open` ([`Snapshot::opened_by`]).
///
/// ```
/// use tripbit::{Breaker, Config, OpenedBy, Outcome};
/// let b = Breaker::new(Config::new(10).consecutive_failures(1));
/// b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
/// assert_eq!(b.snapshot(0).opened_by, Some(OpenedBy::Trip));
/// b.try_acquire(10).unwrap().record(Outcome::Failure, 10);
/// assert_eq!(b.snapshot(10).opened_by, Some(OpenedBy::FailedTrial));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OpenedBy {
    /// A trip from `Closed` (the policy's bar was reached).
    Trip,
    /// A failed half-open trial: a probe failed past the close bar.
    FailedTrial,
}

/// Counters and timestamps of a breaker at one instant.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, State};
/// let b = Breaker::new(Config::new(10).consecutive_failures(3));
/// b.try_acquire(0).unwrap().record(Outcome::Failure, 1);
/// let s = b.snapshot(2);
/// assert_eq!(s.state, State::Closed);
/// assert_eq!(s.consecutive_failures, 1);
/// assert_eq!(s.opened_at, None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Snapshot {
    /// The state as [`Breaker::state`](crate::Breaker::state) reports it at `now`.
    pub state: State,
    /// The state stored in the word (`Open` while [`state`](Self::state)
    /// already says `HalfOpen` because the open period is over).
    pub stored_state: State,
    /// Generation (24 bits, wrapping).
    pub generation: u32,
    /// Backoff level: failed probes in a row, capped.
    pub backoff_level: u8,
    /// Consecutive failures (Closed and Disabled).
    pub consecutive_failures: u32,
    /// Half-open probes in flight (while open: probes of the failed trial
    /// still running, which the next half-open period waits for).
    pub probes_in_flight: u32,
    /// Half-open successes so far.
    pub probe_successes: u32,
    /// Half-open failures so far.
    pub probe_failures: u32,
    /// Tick of the last trip, while open.
    pub opened_at: Option<u64>,
    /// End of the open period, while open.
    pub open_until: Option<u64>,
    /// While half-open with every slot of the round busy: the tick from
    /// which the next caller abandons the round (the probe deadline).
    pub probe_deadline: Option<u64>,
    /// While the stored state is `Open`: what opened it.
    pub opened_by: Option<OpenedBy>,
    /// Sliding-window totals (all zero for the consecutive policy).
    pub window: WindowCounts,
}

/// Totals over a sliding window.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, Window};
/// let b: Breaker<Window<4>> = Breaker::new_window(Config::new(10).failure_rate(50, 40));
/// b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
/// b.try_acquire(0).unwrap().record(Outcome::Success, 0);
/// let w = b.snapshot(0).window;
/// assert_eq!((w.calls, w.failures, w.slow), (2, 1, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WindowCounts {
    /// Calls counted (successes and failures; ignored outcomes are not calls).
    pub calls: u32,
    /// Failed calls.
    pub failures: u32,
    /// Slow calls (successful or not).
    pub slow: u32,
}

impl WindowCounts {
    /// All zero.
    pub const ZERO: WindowCounts = WindowCounts {
        calls: 0,
        failures: 0,
        slow: 0,
    };
}
