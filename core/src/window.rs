//! Trip policies: the sealed [`Policy`] trait, and [`Window<N>`], the
//! sliding-window policy (failure ratio and slow-call ratio over `N` buckets,
//! count-based or time-based).
//!
//! Each bucket is one 128-bit atomic word:
//!
//! | bits     | field      | meaning                                               |
//! |----------|------------|-------------------------------------------------------|
//! | 0..13    | `calls`    | calls counted (0..=8191)                              |
//! | 13..26   | `failures` | failed calls among them                               |
//! | 26..39   | `slow`     | slow calls among them                                 |
//! | 40..64   | `gen`      | the breaker's 24-bit generation the counts belong to  |
//! | 64..128  | `epoch`    | the bucket's epoch, in full: `now / bucket_ticks` (time window) or `call number / bucket_calls` (count window) |
//!
//! A record CASes its bucket `epoch % N`: a bucket of an older epoch (or an
//! older generation in the same epoch) is replaced in the same CAS that
//! counts the call, so a rotation can never lose a concurrent count. The
//! window at epoch `e` is the buckets of the current generation whose epoch
//! is in `e − N + 1 ..= e`.
//!
//! Why this cannot go blind or resurrect counts:
//! - the epoch is kept in full (64 bits), never truncated: no tick value,
//!   idle gap or first-use time makes an old bucket look new or a new one
//!   look old (the earlier 24-bit tags wrapped after 2²³ epochs);
//! - there is no "newest epoch" marker: a stray far-future tick fills one
//!   bucket with a far-future epoch, which no window counts, and a record
//!   two or more windows older than a bucket treats it as such a stray and
//!   replaces it (a record up to two windows older is itself outside the
//!   window and is dropped), so a clock that jumps or restarts is followed
//!   at once;
//! - the generation tag replaces clearing: a reset or a close starts a new
//!   generation and the old buckets stop counting, atomically with the
//!   transition; a result of the old generation that lands after it carries
//!   the old tag and is invisible (the earlier `clear()` before the CAS let
//!   such a result into the new window). Generations are 24 bits: an old
//!   bucket could only count again after exactly 2²⁴·k transitions within
//!   one window length;
//! - the three counts share one capacity: a bucket that holds 8191 calls
//!   stops counting *every* field (the record is not counted at all), so a
//!   full bucket keeps the ratio of the calls it counted instead of letting
//!   failures run ahead of calls (the earlier separate saturation tripped a
//!   90 % bar at 46 %). A count window's bucket is at most 8191 calls
//!   ([`ConfigError::WindowBucket`] above); a time window's bucket counts
//!   its first 8191 calls: give it more, shorter buckets if a bucket sees
//!   more calls than that.

use crate::breaker::Breaker;
use crate::config::{BUCKET_MAX, Config, ConfigError, Trip, WindowKind};
use crate::machine::Core;
use crate::policy::{Policy, sealed};
use crate::state::{GEN_MASK, State, Word};
use crate::sync::{AtomicU64, AtomicU128, Ordering, const_fn};
use crate::types::{Outcome, Stale, Ticket, Transition, WindowCounts};

const FAILURES_SHIFT: u32 = 13;
const SLOW_SHIFT: u32 = 26;
const GEN_SHIFT: u32 = 40;
/// Most buckets a window may have.
pub(crate) const MAX_BUCKETS: usize = 1024;

/// A decoded bucket word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    epoch: u64,
    generation: u32,
    calls: u64,
    failures: u64,
    slow: u64,
}

impl Counts {
    const fn unpack(raw: u128) -> Counts {
        let lo = raw as u64;
        Counts {
            epoch: (raw >> 64) as u64,
            generation: (lo >> GEN_SHIFT) as u32 & GEN_MASK,
            calls: lo & BUCKET_MAX,
            failures: (lo >> FAILURES_SHIFT) & BUCKET_MAX,
            slow: (lo >> SLOW_SHIFT) & BUCKET_MAX,
        }
    }

    const fn pack(self) -> u128 {
        let lo = (self.calls & BUCKET_MAX)
            | ((self.failures & BUCKET_MAX) << FAILURES_SHIFT)
            | ((self.slow & BUCKET_MAX) << SLOW_SHIFT)
            | (((self.generation & GEN_MASK) as u64) << GEN_SHIFT);
        ((self.epoch as u128) << 64) | lo as u128
    }
}

/// The sliding-window policy with `N` buckets: trips on a failure ratio (and
/// optionally a slow-call ratio) once the window holds `min_calls` calls,
/// checked on every failure and every slow call.
/// Use it as `Breaker<Window<N>>`; the size is `96 + 16 × N` bytes on every
/// target (the 64-byte core, 32 bytes of settings and the call counter, and
/// one 128-bit word per bucket). See the module docs (`window.rs`) for why
/// the window never goes blind.
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
/// assert_eq!(core::mem::size_of_val(&b), 96 + 16 * 4);
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
    /// Count window: calls seen so far (the call number of the next call).
    calls: AtomicU64,
    buckets: [AtomicU128; N],
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
            match Window::for_config(&config) {
                Ok(window) => Ok(Breaker::from_parts(&config, window)),
                Err(e) => Err(e),
            }
        }
    }
}

impl<const N: usize> Window<N> {
    const_fn! {
        /// The window for `config` (already validated), or why it does not fit.
        pub(crate) fn for_config(config: &Config) -> Result<Window<N>, ConfigError> {
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
                // The most calls the window can ever hold: a min_calls above it
                // could never be reached, so the breaker would never trip.
                let per_bucket = if by_time { BUCKET_MAX } else { bucket };
                if min_calls as u64 > per_bucket * N as u64 {
                    return Err(ConfigError::MinCalls);
                }
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
                    calls: AtomicU64::new(0),
                    buckets: new_buckets(),
                };
                Ok(window)
            }
    }
}

#[cfg(not(loom))]
const fn new_buckets<const N: usize>() -> [AtomicU128; N] {
    [const { AtomicU128::new(0) }; N]
}

#[cfg(loom)]
fn new_buckets<const N: usize>() -> [AtomicU128; N] {
    core::array::from_fn(|_| AtomicU128::new(0))
}

impl<const N: usize> Window<N> {
    /// The epoch a call recorded at `now` falls in.
    fn epoch(&self, now: u64) -> u64 {
        if self.by_time {
            now / self.bucket
        } else {
            // Ordering: Relaxed, a ticket counter; nothing else is published.
            self.calls.fetch_add(1, Ordering::Relaxed) / self.bucket
        }
    }

    /// The epoch a snapshot at `now` reads, without counting a call.
    fn current_epoch(&self, now: u64) -> u64 {
        if self.by_time {
            now / self.bucket
        } else {
            // Ordering: Relaxed, as in `epoch`.
            self.calls.load(Ordering::Relaxed).saturating_sub(1) / self.bucket
        }
    }

    /// Counts one call of `generation` in the bucket of `epoch`.
    fn add(&self, epoch: u64, generation: u32, failure: bool, slow: bool) {
        let bucket = &self.buckets[(epoch % N as u64) as usize];
        // Ordering: Relaxed throughout: bucket counts publish no other
        // memory; the CAS itself orders rotations and counts of one bucket.
        let mut cur = bucket.load(Ordering::Relaxed);
        loop {
            let c = Counts::unpack(cur);
            let base = if c.epoch == epoch {
                if c.generation == generation {
                    c
                } else if newer_generation(c.generation, generation) {
                    return; // this result is stale: the breaker moved on
                } else {
                    Counts::fresh(epoch, generation)
                }
            } else if c.epoch < epoch {
                Counts::fresh(epoch, generation) // rotate an older bucket
            } else if c.epoch - epoch >= 2 * N as u64 {
                // Two or more windows ahead of this record: a stray tick from
                // the future (or a clock that restarted); nobody counts it.
                Counts::fresh(epoch, generation)
            } else {
                return; // this record is older than the bucket's window
            };
            if base.calls >= BUCKET_MAX {
                return; // full: every count stops together
            }
            let next = Counts {
                calls: base.calls + 1,
                failures: base.failures + u64::from(failure),
                slow: base.slow + u64::from(slow),
                ..base
            };
            match bucket.compare_exchange_weak(
                cur,
                next.pack(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Totals of the window ending at `epoch`, for `generation`.
    fn totals(&self, epoch: u64, generation: u32) -> WindowCounts {
        let mut t = WindowCounts::ZERO;
        for b in &self.buckets {
            // Ordering: Relaxed; counts publish no other memory.
            let c = Counts::unpack(b.load(Ordering::Relaxed));
            if c.generation == generation && c.epoch <= epoch && epoch - c.epoch < N as u64 {
                // At most 1024 × 8191 < 2³² calls: no overflow.
                t.calls += c.calls as u32;
                t.failures += c.failures as u32;
                t.slow += c.slow as u32;
            }
        }
        t
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

impl Counts {
    const fn fresh(epoch: u64, generation: u32) -> Counts {
        Counts {
            epoch,
            generation,
            calls: 0,
            failures: 0,
            slow: 0,
        }
    }
}

/// Whether 24-bit generation `a` is newer than `b` (serial-number order).
const fn newer_generation(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b) & GEN_MASK;
    d != 0 && d < (1 << 23)
}

impl<const N: usize> Policy for Window<N> {
    const COUNTS_IN_WORD: bool = false;

    fn record_closed(
        &self,
        core: &Core,
        _cur: u64,
        ticket: Ticket,
        outcome: Outcome,
        elapsed: u64,
        now: u64,
    ) -> Result<Option<Transition>, Stale> {
        // Ordering: Relaxed (a fresh load, so a trip below CASes from the
        // newest word): the bucket is tagged with the generation checked
        // here, so a reset or close racing with this record cannot let it
        // into the new generation's window, whatever the order.
        let cur = core.word.load(Ordering::Relaxed);
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
        let win = self;
        let slow = win.slow_ticks != 0 && elapsed >= win.slow_ticks;
        let epoch = win.epoch(now);
        win.add(epoch, w.generation, failure, slow);
        // Only a failure or a slow call can trip it: a fast success never
        // raises a ratio, so it skips the O(N) sum over the buckets (the
        // closed-state success path stays one bucket CAS). A success that
        // merely brings the window up to `min_calls` trips it at the next
        // failure or slow call, not by itself.
        if w.state == State::Closed
            && (failure || slow)
            && win.trips(win.totals(epoch, w.generation))
        {
            // Closed words of a window breaker carry no counters, so the word
            // only changes on a transition: exactly one caller trips it.
            return Ok(core.trip_from(cur, now));
        }
        Ok(None)
    }

    fn counts(&self, now: u64, generation: u32) -> WindowCounts {
        self.totals(self.current_epoch(now), generation)
    }

    fn make(config: &Config) -> Result<Self, ConfigError> {
        Window::for_config(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_words_round_trip() {
        for epoch in [0, 1, u64::MAX - 1, u64::MAX] {
            for generation in [0, 1, GEN_MASK] {
                for calls in [0, 1, BUCKET_MAX] {
                    let c = Counts {
                        epoch,
                        generation,
                        calls,
                        failures: calls / 2,
                        slow: calls,
                    };
                    assert_eq!(Counts::unpack(c.pack()), c);
                }
            }
        }
    }

    #[test]
    fn generations_compare_in_serial_order() {
        assert!(newer_generation(1, 0));
        assert!(!newer_generation(0, 1));
        assert!(newer_generation(0, GEN_MASK)); // wrapped
        assert!(!newer_generation(5, 5));
    }

    #[test]
    fn add_rotates_older_and_skips_newer() {
        let w: Window<4> = match Breaker::<Window<4>>::try_new_window(
            Config::new(10).failure_rate(50, 1).time_window(1),
        ) {
            Ok(b) => b.policy,
            Err(e) => panic!("{e}"),
        };
        w.add(5, 0, true, false);
        w.add(5, 0, false, false);
        assert_eq!(w.totals(5, 0).calls, 2);
        w.add(9, 0, false, false); // same bucket, newer epoch: rotates
        assert_eq!(
            w.totals(9, 0),
            WindowCounts {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
        w.add(5, 0, true, false); // one window older than the bucket: dropped
        assert_eq!(w.totals(9, 0).calls, 1);
        w.add(9, 1, true, false); // a newer generation replaces the bucket
        assert_eq!(w.totals(9, 0).calls, 0);
        assert_eq!(w.totals(9, 1).failures, 1);
        w.add(9, 0, true, false); // the old generation's late result: dropped
        assert_eq!(w.totals(9, 1).calls, 1);
    }

    #[test]
    fn sizes_are_as_documented() {
        assert_eq!(core::mem::size_of::<Breaker<Window<1>>>(), 96 + 16);
        assert_eq!(core::mem::size_of::<Breaker<Window<10>>>(), 96 + 160);
    }
}
