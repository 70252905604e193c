//! Trip policies: the sealed [`Policy`] trait, and [`Window<N>`], the
//! sliding-window policy (failure ratio and slow-call ratio over `N` buckets,
//! count-based or time-based).
//!
//! Each bucket is two atomic words, each tagged with the 24-bit epoch it
//! counts (`epoch` = bucket number since the window started):
//!
//! | word       | bits 0..24 | bits 24..44 | bits 44..64 |
//! |------------|------------|-------------|-------------|
//! | `outcomes` | epoch tag  | calls       | failures    |
//! | `slow`     | epoch tag  | slow calls (bits 24..64)  ||
//!
//! A record CASes its bucket: a tag from an older epoch is replaced (the
//! bucket rotates) in the same CAS that counts the call, so a rotation can
//! never lose a concurrent count. A bucket whose tag is `N` or more epochs
//! behind the current one is outside the window and ignored. Clearing the
//! window (on close and reset) moves the epoch base `N` epochs forward, which
//! makes every bucket stale at once without touching them.
//! Counts saturate at 2²⁰ − 1 calls per bucket.

use crate::breaker::{Breaker, Stale, Ticket, Transition, record_consecutive};
use crate::config::{Config, ConfigError, Trip, WindowKind};
use crate::state::{State, Word};
use crate::sync::{AtomicU64, Ordering, const_fn};
use crate::{Consecutive, Outcome};

mod sealed {
    pub trait Sealed {}
}

/// A trip policy: [`Consecutive`] (the default) or [`Window<N>`]. Sealed;
/// its methods are tripbit's internals.
pub trait Policy: sealed::Sealed + Sized {
    /// Whether closed-state counts live in the state word only (so a success
    /// on a clean closed word changes nothing and can return after a load).
    #[doc(hidden)]
    const COUNTS_IN_WORD: bool;
    #[doc(hidden)]
    fn record_closed(
        b: &Breaker<Self>,
        cur: u64,
        ticket: Ticket,
        outcome: Outcome,
        elapsed: u64,
        now: u64,
    ) -> Result<Option<Transition>, Stale>;
    #[doc(hidden)]
    fn clear(&self);
    #[doc(hidden)]
    fn counts(&self, now: u64) -> WindowCounts;
    #[doc(hidden)]
    fn build(config: Config) -> Result<Breaker<Self>, ConfigError>;
}

impl sealed::Sealed for Consecutive {}

impl Policy for Consecutive {
    const COUNTS_IN_WORD: bool = true;

    fn record_closed(
        b: &Breaker<Self>,
        cur: u64,
        ticket: Ticket,
        outcome: Outcome,
        _elapsed: u64,
        now: u64,
    ) -> Result<Option<Transition>, Stale> {
        record_consecutive(b, cur, ticket, outcome, now)
    }

    fn clear(&self) {}

    fn counts(&self, _now: u64) -> WindowCounts {
        WindowCounts::ZERO
    }

    fn build(config: Config) -> Result<Breaker<Self>, ConfigError> {
        Breaker::<Consecutive>::try_new(config)
    }
}

/// Totals over a sliding window.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, Window};
/// let b: Breaker<Window<4>> = Breaker::new_window(Config::new(10).failure_rate(50, 100));
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

const TAG_BITS: u32 = 24;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const SLOW_MAX: u64 = (1 << (64 - TAG_BITS)) - 1;
/// Most buckets a window may have.
pub(crate) const MAX_BUCKETS: usize = 1024;

#[repr(C)]
struct Bucket {
    /// epoch tag | calls | failures, see the module docs.
    outcomes: AtomicU64,
    /// epoch tag | slow calls.
    slow: AtomicU64,
}

impl Bucket {
    const_fn! {
        fn new() -> Bucket {
            Bucket {
                outcomes: AtomicU64::new(0),
                slow: AtomicU64::new(0),
            }
        }
    }
}

/// The sliding-window policy with `N` buckets: trips on a failure ratio (and
/// optionally a slow-call ratio) once the window holds `min_calls` calls,
/// checked on every failure and every slow call.
/// Use it as `Breaker<Window<N>>`; the size is `72 + 16 × N` bytes on every
/// target (the 32-byte core, 40 bytes of settings and cursors, and two
/// atomic words per bucket).
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, State, Window};
/// // Last 4 × 5 = 20 calls; trip at ≥ 50 % failures once 10 calls are in.
/// let b: Breaker<Window<4>> =
///     Breaker::new_window(Config::new(100).failure_rate(50, 10).count_window(5));
/// for i in 0..10 {
///     let outcome = if i % 2 == 1 { Outcome::Failure } else { Outcome::Success };
///     b.try_acquire(i).unwrap().record(outcome, i);
/// }
/// // The 10th call, a failure, finds 5/10 failed: open. (Ratios are checked
/// // on failures and slow calls; a fast success never trips it.)
/// assert_eq!(b.state(10), State::Open);
/// assert_eq!(core::mem::size_of_val(&b), 72 + 16 * 4);
/// ```
#[repr(C)]
pub struct Window<const N: usize> {
    /// Calls (count window) or ticks (time window) per bucket.
    bucket: u64,
    /// A call at least this long is slow; 0 = no slow-call policy.
    slow_ticks: u64,
    min_calls: u32,
    failure_percent: u8,
    slow_percent: u8,
    by_time: bool,
    _pad: u8,
    /// Count window: calls seen so far, plus `N × bucket` per clear.
    /// Time window: the epoch base, plus `N` per clear.
    cursor: AtomicU64,
    /// Time window: the newest `now / bucket` seen, so ticks going backwards
    /// count as no time passed.
    head: AtomicU64,
    buckets: [Bucket; N],
}

impl<const N: usize> sealed::Sealed for Window<N> {}

impl<const N: usize> Breaker<Window<N>> {
    const_fn! {
        /// A sliding-window breaker. In a `const` or `static`, an invalid
        /// config is a compile error; at run time it panics, so use
        /// [`Breaker::try_new_window`] for configs read from input.
        ///
        /// ```
        /// use tripbit::{Breaker, Config, Window};
        /// static B: Breaker<Window<8>> =
        ///     Breaker::new_window(Config::new(1_000).failure_rate(50, 20).time_window(250));
        /// assert!(B.try_acquire(0).is_ok());
        /// ```
        pub fn new_window(config: Config) -> Breaker<Window<N>> {
            match Self::try_new_window(config) {
                Ok(b) => b,
                Err(e) => panic!("{}", e.message()),
            }
        }
    }

    const_fn! {
        /// A sliding-window breaker, or the setting at fault.
        ///
        /// ```
        /// use tripbit::{Breaker, Config, ConfigError, Window};
        /// let err = Breaker::<Window<4>>::try_new_window(Config::new(10)).unwrap_err();
        /// assert_eq!(err, ConfigError::Policy); // consecutive config
        /// let err = Breaker::<Window<0>>::try_new_window(Config::new(10).failure_rate(50, 1)).unwrap_err();
        /// assert_eq!(err, ConfigError::WindowLen);
        /// ```
        pub fn try_new_window(config: Config) -> Result<Breaker<Window<N>>, ConfigError> {
            if let Err(e) = config.validate() {
                return Err(e);
            }
            if N == 0 || N > MAX_BUCKETS {
                return Err(ConfigError::WindowLen);
            }
            let (failure_percent, min_calls) = match config.trip {
                Trip::FailureRate { percent, min_calls } => (percent, min_calls),
                Trip::ConsecutiveFailures(_) => return Err(ConfigError::Policy),
            };
            let (bucket, by_time) = match config.window {
                WindowKind::Calls(c) => (c as u64, false),
                WindowKind::Ticks(t) => (t, true),
            };
            let (slow_ticks, slow_percent) = match config.slow() {
                Some(s) => s,
                None => (0, 0),
            };
            let window = Window {
                bucket,
                slow_ticks,
                min_calls,
                failure_percent,
                slow_percent,
                by_time,
                _pad: 0,
                cursor: AtomicU64::new(0),
                head: AtomicU64::new(0),
                buckets: new_buckets(),
            };
            Ok(Breaker::from_parts(&config, window))
        }
    }
}

#[cfg(not(loom))]
const fn new_buckets<const N: usize>() -> [Bucket; N] {
    [const { Bucket::new() }; N]
}

#[cfg(loom)]
fn new_buckets<const N: usize>() -> [Bucket; N] {
    core::array::from_fn(|_| Bucket::new())
}

impl<const N: usize> Window<N> {
    /// The epoch a call recorded at `now` falls in.
    fn epoch(&self, now: u64) -> u64 {
        if self.by_time {
            let raw = now / self.bucket;
            // Ordering: Relaxed. `head` and `cursor` only pick a bucket; a
            // stale value at worst files a call one bucket early.
            let mut head = self.head.load(Ordering::Relaxed);
            if raw > head {
                head = self.head.fetch_max(raw, Ordering::Relaxed).max(raw);
            }
            head.wrapping_add(self.cursor.load(Ordering::Relaxed))
        } else {
            // Ordering: Relaxed, a ticket counter; nothing else is published.
            self.cursor.fetch_add(1, Ordering::Relaxed) / self.bucket
        }
    }

    /// The epoch a snapshot at `now` reads, without counting a call.
    fn current_epoch(&self, now: u64) -> u64 {
        // Ordering: Relaxed, as in `epoch`.
        if self.by_time {
            let head = self.head.load(Ordering::Relaxed).max(now / self.bucket);
            head.wrapping_add(self.cursor.load(Ordering::Relaxed))
        } else {
            self.cursor.load(Ordering::Relaxed).saturating_sub(1) / self.bucket
        }
    }

    fn add(&self, epoch: u64, failure: bool, slow: bool) {
        let bucket = &self.buckets[(epoch % N as u64) as usize];
        let tag = epoch & TAG_MASK;
        update(&bucket.outcomes, tag, |calls_failures| {
            let calls = (calls_failures & COUNT_MAX)
                .saturating_add(1)
                .min(COUNT_MAX);
            let failures = ((calls_failures >> COUNT_BITS) + u64::from(failure)).min(COUNT_MAX);
            calls | (failures << COUNT_BITS)
        });
        if slow {
            update(&bucket.slow, tag, |s| s.saturating_add(1).min(SLOW_MAX));
        }
    }

    fn totals(&self, epoch: u64) -> WindowCounts {
        let tag = epoch & TAG_MASK;
        let mut c = WindowCounts::ZERO;
        for b in &self.buckets {
            // Ordering: Relaxed; counts publish no other memory.
            let o = b.outcomes.load(Ordering::Relaxed);
            if in_window::<N>(tag, o & TAG_MASK) {
                let v = o >> TAG_BITS;
                c.calls = c.calls.saturating_add((v & COUNT_MAX) as u32);
                c.failures = c.failures.saturating_add((v >> COUNT_BITS) as u32);
            }
            let s = b.slow.load(Ordering::Relaxed);
            if in_window::<N>(tag, s & TAG_MASK) {
                c.slow = c
                    .slow
                    .saturating_add((s >> TAG_BITS).min(u64::from(u32::MAX)) as u32);
            }
        }
        c
    }

    fn trips(&self, c: WindowCounts) -> bool {
        if c.calls == 0 || c.calls < self.min_calls {
            return false;
        }
        let calls = u64::from(c.calls);
        let failing = u64::from(c.failures) * 100 >= u64::from(self.failure_percent) * calls;
        let slow = self.slow_percent != 0
            && u64::from(c.slow) * 100 >= u64::from(self.slow_percent) * calls;
        failing || slow
    }
}

/// Whether a bucket tagged `t` counts for the epoch tagged `now`: at most
/// `N − 1` epochs behind it, or (a concurrent caller's newer epoch) ahead.
fn in_window<const N: usize>(now: u64, t: u64) -> bool {
    let behind = now.wrapping_sub(t) & TAG_MASK;
    let ahead = t.wrapping_sub(now) & TAG_MASK;
    (behind as usize) < N || (ahead as usize) < N
}

/// CAS `f` into a tagged word; a word from an older epoch restarts at
/// `f(0)`, a word from a newer epoch (the call is older than the bucket,
/// hence already outside the window) is left alone.
fn update(word: &AtomicU64, tag: u64, f: impl Fn(u64) -> u64) {
    // Ordering: Relaxed throughout: bucket counts publish no other memory.
    let mut cur = word.load(Ordering::Relaxed);
    loop {
        let t = cur & TAG_MASK;
        let counts = if t == tag {
            cur >> TAG_BITS
        } else if (t.wrapping_sub(tag) & TAG_MASK) < (1 << (TAG_BITS - 1)) {
            return; // the bucket already belongs to a newer epoch
        } else {
            0
        };
        let next = tag | (f(counts) << TAG_BITS);
        match word.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
}

impl<const N: usize> Policy for Window<N> {
    const COUNTS_IN_WORD: bool = false;

    fn record_closed(
        b: &Breaker<Self>,
        _cur: u64,
        ticket: Ticket,
        outcome: Outcome,
        elapsed: u64,
        now: u64,
    ) -> Result<Option<Transition>, Stale> {
        // Ordering: Acquire (a fresh load, not the caller's Relaxed one),
        // pairs with the Release/AcqRel CAS that closed or reset the breaker
        // after `clear()` moved the cursor: this call's epoch is computed from
        // the cleared window.
        let cur = b.word().load(Ordering::Acquire);
        let w = Word::unpack(cur);
        if w.generation != ticket.generation || !matches!(w.state, State::Closed | State::Disabled)
        {
            return Err(Stale);
        }
        let failure = match outcome {
            Outcome::Ignored => return Ok(None),
            Outcome::Success => false,
            Outcome::Failure => true,
        };
        let win = &b.policy;
        let slow = win.slow_ticks != 0 && elapsed >= win.slow_ticks;
        let epoch = win.epoch(now);
        win.add(epoch, failure, slow);
        // Only a failure or a slow call can trip it: a fast success never
        // raises a ratio, so it skips the O(N) sum over the buckets (the
        // closed-state success path stays one bucket CAS). A success that
        // merely brings the window up to `min_calls` trips it at the next
        // failure or slow call, not by itself.
        if w.state == State::Closed && (failure || slow) && win.trips(win.totals(epoch)) {
            // Closed words of a window breaker carry no counters, so the word
            // only changes on a transition: exactly one caller trips it.
            return Ok(b.trip_from(cur, now));
        }
        Ok(None)
    }

    fn clear(&self) {
        // Ordering: Relaxed; the CAS that publishes the close or reset is
        // Release/AcqRel and follows in program order.
        let step = if self.by_time {
            N as u64
        } else {
            N as u64 * self.bucket
        };
        self.cursor.fetch_add(step, Ordering::Relaxed);
    }

    fn counts(&self, now: u64) -> WindowCounts {
        self.totals(self.current_epoch(now))
    }

    fn build(config: Config) -> Result<Breaker<Self>, ConfigError> {
        Breaker::<Window<N>>::try_new_window(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_membership_handles_wrap() {
        assert!(in_window::<4>(10, 10));
        assert!(in_window::<4>(10, 7));
        assert!(!in_window::<4>(10, 6));
        assert!(in_window::<4>(10, 12)); // a concurrent newer epoch
        assert!(in_window::<4>(1, TAG_MASK)); // wrapped: TAG_MASK is 2 behind 1
        assert!(!in_window::<4>(100, 0));
    }

    #[test]
    fn update_rotates_old_and_skips_newer() {
        let w = AtomicU64::new(0);
        update(&w, 5, |c| c + 1);
        update(&w, 5, |c| c + 1);
        assert_eq!(w.load(Ordering::Relaxed), 5 | (2 << TAG_BITS));
        update(&w, 9, |c| c + 1); // newer epoch rotates
        assert_eq!(w.load(Ordering::Relaxed), 9 | (1 << TAG_BITS));
        update(&w, 5, |c| c + 1); // older epoch is outside the window already
        assert_eq!(w.load(Ordering::Relaxed), 9 | (1 << TAG_BITS));
    }

    #[test]
    fn sizes_are_as_documented() {
        assert_eq!(core::mem::size_of::<Breaker<Window<1>>>(), 32 + 40 + 16);
        assert_eq!(core::mem::size_of::<Breaker<Window<10>>>(), 32 + 40 + 160);
    }
}
