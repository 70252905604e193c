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

#![cfg_attr(tripbit_word32, allow(clippy::unnecessary_cast))] // the 32-bit word casts u32 to Raw = u32

use crate::breaker::Breaker;
use crate::config::{BUCKET_MAX, Config, ConfigError, Trip, WindowKind};
use crate::machine::{Core, When};
use crate::policy::{Policy, sealed};
use crate::state::{GEN_MASK, Raw, State, Word};
use crate::sync::{AtomicU64, AtomicU128, Ordering, const_fn};
use crate::types::{Outcome, Stale, Ticket, Transition, WindowCounts};

const FAILURES_SHIFT: u32 = 13;
const SLOW_SHIFT: u32 = 26;
const GEN_SHIFT: u32 = 40;
/// Most buckets a window may have.
pub(crate) const MAX_BUCKETS: usize = 1024;
/// Most stripes a window may have.
pub(crate) const MAX_STRIPES: usize = 64;

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

/// The sliding-window policy with `N` buckets in each of `S` stripes:
/// trips on a failure ratio (and optionally a slow-call ratio) once the
/// window holds `min_calls` calls, checked on every failure and every slow
/// call.
///
/// **Stripes**, and the trade-off they make: a record goes to the stripe of
/// the recording thread (threads are spread round-robin over the stripes
/// with `std`; by stack address without), so threads that share a breaker
/// write to different cache lines and scale, while a failure sums the
/// buckets of every stripe (`S × N` loads, on failures and slow calls only).
/// Nothing is sampled or lost: every call is counted once, in one bucket of
/// one stripe, and the ratio is over exactly the calls counted.
/// - A *time* window is the same window whatever `S`: every stripe's buckets
///   are keyed by the same epoch (`now / bucket_ticks`).
/// - A *count* window keeps the last `N × bucket_calls` calls **of each
///   stripe** (each stripe numbers its own calls): one thread sees exactly
///   the configured window; `k` threads on different stripes see up to `k`
///   times as many calls, the most recent of each thread.
/// - Memory: each stripe is its own 64-byte-aligned block of
///   `16 + 16 × N` bytes rounded up to 64; `Breaker<Window<N, S>>` is
///   `128 + S × that` bytes, aligned to 64. The default `S = 4` is for
///   servers; use `Window<N, 1>` where one thread (or one core) records, as
///   on a microcontroller, from C or from Python (under the GIL).
///
/// See the module docs (`window.rs`) for why the window never goes blind.
///
/// ```
/// use tripbit::{Breaker, Config, Outcome, State, Window};
/// // Last 4 × 5 = 20 calls; trip at ≥ 50 % failures once 10 calls are in.
/// let b: Breaker<Window<4, 1>> =
///     Breaker::new_window(Config::new(100).failure_rate(50, 10).count_window(5));
/// for i in 0..10 {
///     let outcome = if i % 2 == 1 { Outcome::Failure } else { Outcome::Success };
///     b.try_acquire(i).unwrap().record(outcome, i);
/// }
/// // The 10th call, a failure, finds 5/10 failed: open. (Ratios are checked
/// // on failures and slow calls; a fast success never trips it.)
/// assert_eq!(b.state(10), State::Open);
/// assert_eq!(core::mem::size_of_val(&b), 128 + 128);
/// assert_eq!(core::mem::size_of::<Breaker<Window<10>>>(), 128 + 4 * 192);
/// ```
#[repr(C)]
pub struct Window<const N: usize, const S: usize = 4> {
    /// Calls (count window) or ticks (time window) per bucket.
    bucket: u64,
    /// A call at least this long is slow; 0 = no slow-call policy.
    slow_ticks: u64,
    min_calls: u32,
    failure_percent: u8,
    slow_percent: u8,
    /// 1: a time window, 0: a count window (a byte, not a `bool`, so that
    /// [`Breaker::is_valid`] can check storage it did not write).
    by_time: u8,
    _pad: u8,
    stripes: [Stripe<N>; S],
}

/// One stripe: the buckets one group of threads records into, on cache
/// lines of its own.
#[repr(C, align(64))]
struct Stripe<const N: usize> {
    /// Count window: calls this stripe has seen (the call number of its
    /// next call).
    calls: AtomicU64,
    buckets: [AtomicU128; N],
}

impl<const N: usize> Stripe<N> {
    const_fn! {
        fn new() -> Stripe<N> {
            Stripe {
                calls: AtomicU64::new(0),
                buckets: new_buckets(),
            }
        }
    }
}

/// The stripe the current thread records into.
#[inline(always)]
fn stripe_of<const S: usize>() -> usize {
    if S == 1 { 0 } else { thread_hint() % S }
}

/// A number per thread: consecutive for threads in order of their first
/// record (so `S` threads get `S` different stripes).
#[cfg(all(feature = "std", not(loom)))]
#[inline]
fn thread_hint() -> usize {
    use core::cell::Cell;
    static NEXT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
    std::thread_local! {
        static HINT: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    HINT.with(|h| {
        let v = h.get();
        if v != usize::MAX {
            return v;
        }
        // Ordering: Relaxed: a ticket counter, nothing is published with it.
        let v = NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        h.set(v);
        v
    })
}

/// Without `std`: the stack's address (threads' stacks are at least 64 KiB
/// apart on the systems that have threads).
#[cfg(all(not(feature = "std"), not(loom)))]
#[inline]
fn thread_hint() -> usize {
    let probe = 0u8;
    (core::ptr::from_ref(&probe) as usize) >> 16
}

/// Under loom: consecutive per model thread, reset for every execution.
#[cfg(loom)]
fn thread_hint() -> usize {
    loom::lazy_static! {
        static ref NEXT: loom::sync::atomic::AtomicUsize = loom::sync::atomic::AtomicUsize::new(0);
    }
    loom::thread_local! {
        // Ordering: Relaxed, a ticket counter.
        static HINT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    HINT.with(|h| *h)
}

impl<const N: usize, const S: usize> sealed::Sealed for Window<N, S> {}

impl<const N: usize, const S: usize> Breaker<Window<N, S>> {
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
        pub fn new_window(config: Config) -> Breaker<Window<N, S>> {
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
        pub fn try_new_window(config: Config) -> Result<Breaker<Window<N, S>>, ConfigError> {
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

impl<const N: usize, const S: usize> Window<N, S> {
    const_fn! {
        /// The window for `config` (already validated), or why it does not fit.
        pub(crate) fn for_config(config: &Config) -> Result<Window<N, S>, ConfigError> {
            if N == 0 || N > MAX_BUCKETS || S == 0 || S > MAX_STRIPES {
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
                    by_time: by_time as u8,
                    _pad: 0,
                    stripes: new_stripes(),
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

#[cfg(not(loom))]
const fn new_stripes<const N: usize, const S: usize>() -> [Stripe<N>; S] {
    [const { Stripe::new() }; S]
}

#[cfg(loom)]
fn new_stripes<const N: usize, const S: usize>() -> [Stripe<N>; S] {
    core::array::from_fn(|_| Stripe::new())
}

impl<const N: usize, const S: usize> Window<N, S> {
    /// The epoch a call of stripe `st` recorded at `now` falls in.
    fn epoch(&self, st: &Stripe<N>, when: &mut When<'_>) -> u64 {
        if self.by_time != 0 {
            when.now() / self.bucket
        } else {
            // Ordering: Relaxed, a ticket counter; nothing else is published.
            st.calls.fetch_add(1, Ordering::Relaxed) / self.bucket
        }
    }

    /// The epoch stripe `st`'s window ends at, at `now`, without counting
    /// a call.
    fn current_epoch(&self, st: &Stripe<N>, now: u64) -> u64 {
        if self.by_time != 0 {
            now / self.bucket
        } else {
            // Ordering: Relaxed, as in `epoch`.
            st.calls.load(Ordering::Relaxed).saturating_sub(1) / self.bucket
        }
    }

    /// Counts one call of `generation` in stripe `st`'s bucket of `epoch`.
    fn add(st: &Stripe<N>, epoch: u64, generation: u32, failure: bool, slow: bool) {
        let bucket = &st.buckets[(epoch % N as u64) as usize];
        // Ordering: Relaxed load (the CAS re-checks it). The CAS is SeqCst,
        // pairing with the SeqCst loads in `totals` of a record on another
        // stripe: two failures recorded at once into different stripes form
        // a store-buffer pattern, and SeqCst makes at least one of them see
        // both (so a window that reached its bar trips on the record that
        // reached it). Bucket counts publish no other memory. On x86 a
        // SeqCst CAS and load cost what Relaxed ones do.
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
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Totals of every stripe's window for `generation`: stripe `own`'s
    /// ending at `own_epoch` (the epoch its record just used), the others'
    /// at their current epoch for `now`.
    fn totals(&self, own: Option<(usize, u64)>, now: u64, generation: u32) -> WindowCounts {
        let mut t = WindowCounts::ZERO;
        for (i, st) in self.stripes.iter().enumerate() {
            let epoch = match own {
                Some((j, e)) if j == i => e,
                _ => self.current_epoch(st, now),
            };
            for b in &st.buckets {
                // Ordering: SeqCst, pairs with the SeqCst CAS in `add` (see
                // there); counts publish no other memory.
                let c = Counts::unpack(b.load(Ordering::SeqCst));
                if c.generation == generation && c.epoch <= epoch && epoch - c.epoch < N as u64 {
                    // At most 64 × 1024 × 8191 < 2³² calls: no overflow.
                    t.calls += c.calls as u32;
                    t.failures += c.failures as u32;
                    t.slow += c.slow as u32;
                }
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

/// Whether generation `a` is newer than `b` (serial-number order over
/// the word's generation bits: 24, or 8 in the 32-bit word).
const fn newer_generation(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b) & GEN_MASK;
    d != 0 && d <= GEN_MASK / 2
}

impl<const N: usize, const S: usize> Policy for Window<N, S> {
    const COUNTS_IN_WORD: bool = false;

    fn is_valid(&self) -> bool {
        let per_bucket = if self.by_time != 0 {
            BUCKET_MAX
        } else {
            self.bucket
        };
        let slow_ok = match (self.slow_ticks, self.slow_percent) {
            (0, 0) => true,
            (0, _) | (_, 0) => false,
            (_, p) => p <= 100,
        };
        N != 0
            && N <= MAX_BUCKETS
            && S != 0
            && S <= MAX_STRIPES
            && self.by_time <= 1
            && self.bucket != 0
            && (self.by_time != 0 || self.bucket <= BUCKET_MAX)
            && (1..=100).contains(&self.failure_percent)
            && self.min_calls != 0
            && u64::from(self.min_calls) <= per_bucket * N as u64
            && slow_ok
    }

    fn untimed_admission(&self) -> bool {
        // Only a slow-call rule measures a call from its start.
        self.slow_ticks == 0
    }

    fn record_closed(
        &self,
        core: &Core,
        _cur: Raw,
        ticket: Ticket,
        outcome: Outcome,
        when: &mut When<'_>,
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
        // The clock is read only for a time window, a slow-call rule, or a
        // trip: a count window's success with no slow-call rule reads none.
        let slow = win.slow_ticks != 0 && when.elapsed() >= win.slow_ticks;
        let i = stripe_of::<S>();
        let st = &win.stripes[i];
        let epoch = win.epoch(st, when);
        Self::add(st, epoch, w.generation, failure, slow);
        // Only a failure or a slow call can trip it: a fast success never
        // raises a ratio, so it skips the O(S·N) sum over the buckets (the
        // closed-state success path stays one bucket CAS). A success that
        // merely brings the window up to `min_calls` trips it at the next
        // failure or slow call, not by itself.
        if w.state == State::Closed && (failure || slow) {
            let now = if win.by_time != 0 { when.now() } else { 0 };
            if win.trips(win.totals(Some((i, epoch)), now, w.generation)) {
                // Closed words of a window breaker carry no counters, so the
                // word only changes on a transition: exactly one caller trips it.
                return Ok(core.trip_from(cur, when.now()));
            }
        }
        Ok(None)
    }

    fn counts(&self, now: u64, generation: u32) -> WindowCounts {
        // One operation: on cores without CAS the buckets are read inside
        // its critical section (`sync::op`); `record_closed` already is.
        crate::sync::op(|| self.totals(None, now, generation))
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
        let b = match Breaker::<Window<4, 1>>::try_new_window(
            Config::new(10).failure_rate(50, 1).time_window(1),
        ) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        let w = &b.policy;
        let st = &w.stripes[0];
        // A time window with 1-tick buckets: the epoch is the tick.
        // (Each through `sync::op`, as the breaker's own paths: on cores
        // without CAS the buckets are only touched inside one.)
        let add = |e, g, failure| crate::sync::op(|| Window::<4, 1>::add(st, e, g, failure, false));
        let totals = |e, g| crate::sync::op(|| w.totals(None, e, g));
        add(5, 0, true);
        add(5, 0, false);
        assert_eq!(totals(5, 0).calls, 2);
        add(9, 0, false); // same bucket, newer epoch: rotates
        assert_eq!(
            totals(9, 0),
            WindowCounts {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
        add(5, 0, true); // one window older than the bucket: dropped
        assert_eq!(totals(9, 0).calls, 1);
        add(9, 1, true); // a newer generation replaces the bucket
        assert_eq!(totals(9, 0).calls, 0);
        assert_eq!(totals(9, 1).failures, 1);
        add(9, 0, true); // the old generation's late result: dropped
        assert_eq!(totals(9, 1).calls, 1);
    }

    #[test]
    fn stripes_sum_into_one_ratio() {
        // Two stripes of a time window: counts recorded into either are one
        // window (the same epochs), summed on every failure.
        let b = match Breaker::<Window<4, 2>>::try_new_window(
            Config::new(10).failure_rate(50, 4).time_window(1),
        ) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        crate::sync::op(|| {
            let w = &b.policy;
            Window::<4, 2>::add(&w.stripes[0], 7, 0, false, false);
            Window::<4, 2>::add(&w.stripes[1], 7, 0, true, false);
            Window::<4, 2>::add(&w.stripes[1], 6, 0, true, false);
            Window::<4, 2>::add(&w.stripes[0], 2, 0, true, false); // outside 4..=7
            assert_eq!(
                w.totals(None, 7, 0),
                WindowCounts {
                    calls: 3,
                    failures: 2,
                    slow: 0
                }
            );
            assert!(!w.trips(w.totals(None, 7, 0))); // 3 < min_calls 4
            Window::<4, 2>::add(&w.stripes[0], 7, 0, false, false);
            assert!(w.trips(w.totals(None, 7, 0))); // 2 of 4 = 50 %
        });
    }

    #[test]
    fn is_valid_checks_the_window_settings_too() {
        let b = match Breaker::<Window<4, 1>>::try_new_window(
            Config::new(10).failure_rate(50, 8).count_window(2),
        ) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        assert!(b.is_valid());
        let w = &b.policy;
        let bad = |f: &dyn Fn(&mut Window<4, 1>)| {
            let mut v = Window::<4, 1> {
                bucket: w.bucket,
                slow_ticks: w.slow_ticks,
                min_calls: w.min_calls,
                failure_percent: w.failure_percent,
                slow_percent: w.slow_percent,
                by_time: w.by_time,
                _pad: 0,
                stripes: new_stripes(),
            };
            assert!(v.is_valid());
            f(&mut v);
            assert!(!v.is_valid());
        };
        bad(&|v| v.bucket = 0); // would divide by zero
        bad(&|v| v.by_time = 2); // not a kind
        bad(&|v| v.bucket = BUCKET_MAX + 1); // count bucket too large
        bad(&|v| v.failure_percent = 0);
        bad(&|v| v.failure_percent = 101);
        bad(&|v| v.min_calls = 0);
        bad(&|v| v.min_calls = 9); // 4 buckets x 2 calls hold 8
        bad(&|v| v.slow_percent = 50); // a percent without a duration
        bad(&|v| v.slow_ticks = 5); // a duration without a percent
    }

    #[test]
    fn sizes_are_as_documented() {
        assert_eq!(core::mem::size_of::<Breaker<Window<1, 1>>>(), 128 + 64);
        assert_eq!(core::mem::size_of::<Breaker<Window<10, 1>>>(), 128 + 192);
        assert_eq!(core::mem::size_of::<Breaker<Window<10>>>(), 128 + 4 * 192);
        assert_eq!(core::mem::align_of::<Breaker<Window<10>>>(), 64);
    }
}
