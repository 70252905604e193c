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
//! A stripe that a thread owns in a count window (see [`Window`]) is
//! counted by call number instead: its call number is the count of its
//! calls, so a success stores only that number, and its buckets keep
//! 0..13 = the *offset* within the epoch of the bucket's first call of its
//! generation (in place of `calls`) and 64..128 = the number of the last
//! call that wrote the bucket, plus one (0: never written; the bucket's
//! epoch is `(last − 1) / bucket_calls`). The calls of such a bucket are
//! the call numbers from `epoch × bucket_calls + offset` up to the end of
//! its epoch or the stripe's call number (`Window::call_number_totals`
//! says why a reader never sees a failure without its call).
//!
//! A record CASes its bucket `epoch % N`: a bucket of an older epoch (or an
//! older generation in the same epoch) is replaced in the same CAS that
//! counts the call, so a rotation can never lose a concurrent count. On a
//! stripe the recording thread owns (see [`Window`]) nobody else writes,
//! so the same new word is stored with a plain store instead. The
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
/// the recording thread, so threads that share a breaker write to
/// different cache lines and scale, while a failure sums the buckets of
/// every stripe (`S × N` loads, on failures and slow calls only). Nothing
/// is sampled or lost: every call is counted once, in one bucket of one
/// stripe, and the ratio is over exactly the calls counted.
/// - **Owned stripes** (with `std`, `S ≥ 2`): each thread has a number no
///   other live thread has (reused after it exits), and thread `t` owns
///   stripe `t % (S − 1)` of a breaker from its first record there, unless
///   another live thread does. Only the owner writes an owned stripe, so a
///   success is counted with plain loads and stores: no locked
///   instruction, no contention. In a count window an owned stripe counts
///   its calls by their number: a success stores the stripe's next call
///   number and nothing else (its bucket is written only at the bucket's
///   first call of a generation), and the buckets keep the failures, the
///   slow calls and where each bucket's generation began (module docs). A thread whose stripe is owned by another records into
///   the last stripe, which is never owned and counts with one CAS per
///   call, as every stripe does without `std` (threads spread by stack
///   address). So up to `S − 1` threads per breaker record without any
///   read-modify-write: size `S` for the threads that call it (a runtime's
///   workers, say). Thread numbers are per process: a window with `S ≥ 2`
///   belongs to the threads of one process. In memory shared between
///   processes, use `Window<N, 1>` (as the C and Python bindings do), whose
///   one stripe is always shared.
/// - A *time* window is the same window whatever `S`: every stripe's buckets
///   are keyed by the same epoch (`now / bucket_ticks`).
/// - A *count* window keeps the last `N × bucket_calls` calls **of each
///   stripe** (each stripe numbers its own calls): one thread sees exactly
///   the configured window; `k` threads on different stripes see up to `k`
///   times as many calls, the most recent of each thread.
/// - Memory: each stripe is its own 64-byte-aligned block of
///   `32 + 16 × N` bytes rounded up to 64; `Breaker<Window<N, S>>` is
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
    /// The thread that owns this stripe (its [`thread_id`] + 1), or 0.
    /// Only the owner writes an owned stripe; the last stripe is never
    /// owned.
    owner: AtomicU64,
    /// An owned stripe of a count window: the bucket its next calls go to,
    /// as `(generation << 40) | end` (`end` = the call number at which
    /// that bucket's epoch ends, mod 2⁴⁰), written by the owner with the
    /// bucket (see [`Window::add_counted`]); a success whose call number is
    /// below `end` in that generation is counted by the call number alone.
    span: AtomicU64,
    buckets: [AtomicU128; N],
}

/// Bits of a [`Stripe::span`]'s `end`.
const SPAN_END_BITS: u32 = 40;
const SPAN_END_MASK: u64 = (1 << SPAN_END_BITS) - 1;

const fn span_pack(generation: u32, end: u64) -> u64 {
    ((generation as u64) << SPAN_END_BITS) | (end & SPAN_END_MASK)
}

/// The calls left, counting `call`, in the bucket `span` was written for:
/// `end − call` (mod 2⁴⁰), if the span is of `generation`. An owned
/// stripe's calls are numbered one by one by its owner, so after the span
/// was written at a call of that bucket this only shrinks: `1 ..= bucket`
/// while `call` is in it ([`span_covers`]), 0 at the next bucket's first
/// call.
#[inline(always)]
const fn span_left(span: u64, generation: u32, call: u64) -> Option<u64> {
    if (span >> SPAN_END_BITS) as u32 == generation {
        Some(span.wrapping_sub(call) & SPAN_END_MASK)
    } else {
        None
    }
}

/// Whether `span` says call number `call` of `generation` goes to the
/// bucket it was written for.
#[inline(always)]
const fn span_covers(span: u64, generation: u32, call: u64, bucket: u64) -> bool {
    match span_left(span, generation, call) {
        Some(left) => left.wrapping_sub(1) < bucket,
        None => false,
    }
}

impl<const N: usize> Stripe<N> {
    const_fn! {
        fn new() -> Stripe<N> {
            Stripe {
                calls: AtomicU64::new(0),
                owner: AtomicU64::new(0),
                span: AtomicU64::new(0),
                buckets: new_buckets(),
            }
        }
    }
}

/// Whether threads can own stripes here: they need a number that no other
/// live thread has ([`thread_id`]), which `std` (and loom) give.
/// (Not with `tripbit_cs_ops`: single-core chips, where every record is
/// one critical section anyway.)
const OWNED_STRIPES: bool = cfg!(all(any(feature = "std", loom), not(tripbit_cs_ops)));

/// A number per thread: with `std` (and under loom), unique among the live
/// threads, consecutive in order of their first record, and reused after a
/// thread exits (so they stay below the most threads ever alive at once);
/// [`NO_ID`] for a thread whose thread-locals are being destroyed. Without
/// `std`: the stack's address, not unique (threads' stacks are at least
/// 64 KiB apart on the systems that have threads), used only to spread
/// threads over the stripes.
#[cfg(all(feature = "std", not(loom)))]
#[inline]
fn thread_id() -> usize {
    ids::ID.with(|id| match id.get() {
        UNSET => ids::assign(id),
        v => v,
    })
}

/// No number: the thread is exiting (its number went back to the pool), so
/// it records into the shared stripe.
const NO_ID: usize = usize::MAX - 1;
#[cfg(all(feature = "std", not(loom)))]
const UNSET: usize = usize::MAX;

/// Thread numbers with `std`: taken from a pool at a thread's first record,
/// given back by a thread-local's destructor when it exits.
#[cfg(all(feature = "std", not(loom)))]
mod ids {
    use core::cell::Cell;
    use std::sync::Mutex;
    use std::vec::Vec;

    use super::NO_ID;

    /// Numbers of threads that exited, for the next new threads. A lock,
    /// taken twice per thread's life (first record, exit), never per call.
    static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    static NEXT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

    std::thread_local! {
        /// This thread's number. No destructor, so it can be read at any
        /// time, also from other thread-locals' destructors.
        pub(super) static ID: Cell<usize> = const { Cell::new(super::UNSET) };
        static RELEASE: Release = const { Release(Cell::new(None)) };
        /// The last `(bucket, epoch)` of [`super::epoch_of`] on this
        /// thread; `(0, 0)` before the first. No destructor, like `ID`.
        pub(super) static LAST_EPOCH: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }

    /// Gives the number back when the thread exits, after which the thread
    /// has none ([`NO_ID`]): it never writes an owned stripe again, so the
    /// next thread given the number is the only writer of its stripes.
    struct Release(Cell<Option<usize>>);

    impl Drop for Release {
        fn drop(&mut self) {
            if let Some(v) = self.0.take() {
                let _ = ID.try_with(|id| id.set(NO_ID));
                FREE.lock().unwrap_or_else(|e| e.into_inner()).push(v);
            }
        }
    }

    /// The first record of this thread: a number, or [`NO_ID`] while its
    /// thread-locals are destroyed (a number taken then could never be
    /// given back). The pool's lock orders the exited owner's last stores
    /// to its stripes before the new owner's first loads.
    #[cold]
    pub(super) fn assign(id: &Cell<usize>) -> usize {
        let registered = RELEASE.try_with(|r| {
            let v = FREE
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                // Ordering: Relaxed: a ticket counter, nothing is published with it.
                .unwrap_or_else(|| NEXT.fetch_add(1, core::sync::atomic::Ordering::Relaxed));
            r.0.set(Some(v));
            v
        });
        let v = registered.unwrap_or(NO_ID);
        id.set(v);
        v
    }
}

/// `call / bucket`: the epoch of a count window's call number `call`.
///
/// With `std`, through a one-entry cache per thread of its last such
/// division: a 64-bit division was about 4 ns of the 9 ns a closed window
/// success took through `call()` (measured by swapping it for a shift),
/// and a thread's calls
/// of one window fall in the same epoch `bucket` times in a row. The cache
/// needs no key and cannot be stale: it holds a `(bucket, epoch)` that a
/// real division gave, so `epoch × bucket` does not overflow, and whenever
/// `epoch × bucket ≤ call < (epoch + 1) × bucket` the quotient is `epoch`
/// whatever window the pair came from, and `epoch + 1` one bucket further
/// (the next call after a bucket's last); anything else divides.
#[cfg(all(feature = "std", not(loom)))]
#[inline(always)]
fn epoch_of(call: u64, bucket: u64) -> u64 {
    ids::LAST_EPOCH.with(|last| {
        let (b, e) = last.get();
        // `b` is 0 only before the first division, and `bucket` never is.
        if b == bucket
            && let Some(d) = call.checked_sub(e * b)
        {
            if d < b {
                return e;
            }
            if d - b < b {
                // The next epoch: (e + 1) × b ≤ call < (e + 2) × b.
                last.set((b, e + 1));
                return e + 1;
            }
        }
        let e = call / bucket;
        last.set((bucket, e));
        e
    })
}

/// `call / bucket` (see the `std` version).
#[cfg(not(all(feature = "std", not(loom))))]
#[inline(always)]
fn epoch_of(call: u64, bucket: u64) -> u64 {
    call / bucket
}

#[cfg(all(not(feature = "std"), not(loom)))]
#[inline]
fn thread_id() -> usize {
    let probe = 0u8;
    (core::ptr::from_ref(&probe) as usize) >> 16
}

/// Under loom: consecutive per model thread, reset for every execution.
#[cfg(loom)]
fn thread_id() -> usize {
    loom::lazy_static! {
        static ref NEXT: loom::sync::atomic::AtomicUsize = loom::sync::atomic::AtomicUsize::new(0);
    }
    loom::thread_local! {
        // Ordering: Relaxed, a ticket counter.
        static ID: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ID.with(|h| *h)
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
    /// The epoch a call of stripe `st` recorded at `now` falls in (a count
    /// window numbers the call: with a load and a store on a stripe this
    /// thread owns, with a read-modify-write on a shared one).
    #[inline(always)]
    fn epoch(&self, st: &Stripe<N>, owned: bool, when: &mut When<'_>) -> u64 {
        if self.by_time != 0 {
            return when.now() / self.bucket;
        }
        self.count_epoch(st, owned)
    }

    /// A count window's epoch for the next call of stripe `st` (numbering
    /// it, as [`next_call`](Self::next_call)).
    #[inline(always)]
    fn count_epoch(&self, st: &Stripe<N>, owned: bool) -> u64 {
        epoch_of(Self::next_call(st, owned), self.bucket)
    }

    /// A count window's number for the next call of stripe `st`.
    #[inline(always)]
    fn next_call(st: &Stripe<N>, owned: bool) -> u64 {
        if owned {
            // Ordering: Relaxed: only this thread writes it; readers
            // (`current_epoch`) only locate the window with it.
            let n = st.calls.load(Ordering::Relaxed);
            st.calls.store(n + 1, Ordering::Relaxed);
            n
        } else {
            // Ordering: Relaxed, a ticket counter; nothing else is published.
            st.calls.fetch_add(1, Ordering::Relaxed)
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

    /// The bucket word after counting one call of `generation` in the
    /// bucket of `epoch` that holds `cur`, or `None` when the call is not
    /// counted there.
    #[inline(always)]
    fn counted(cur: u128, epoch: u64, generation: u32, failure: bool, slow: bool) -> Option<u128> {
        let c = Counts::unpack(cur);
        let base = if c.epoch == epoch {
            if c.generation == generation {
                c
            } else if newer_generation(c.generation, generation) {
                return None; // this result is stale: the breaker moved on
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
            return None; // this record is older than the bucket's window
        };
        if base.calls >= BUCKET_MAX {
            return None; // full: every count stops together
        }
        let next = Counts {
            calls: base.calls + 1,
            failures: base.failures + u64::from(failure),
            slow: base.slow + u64::from(slow),
            ..base
        };
        Some(next.pack())
    }

    /// Counts one call of `generation` in the bucket of `epoch` of the
    /// shared stripe `st` (any thread may write it): one CAS.
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
            let Some(next) = Self::counted(cur, epoch, generation, failure, slow) else {
                return;
            };
            match bucket.compare_exchange_weak(cur, next, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// [`add`](Self::add) for the stripe this thread owns: nobody else
    /// writes it, so a load and a store count the call (no locked
    /// instruction on a success).
    fn add_owned(st: &Stripe<N>, epoch: u64, generation: u32, failure: bool, slow: bool) {
        let bucket = &st.buckets[(epoch % N as u64) as usize];
        // Ordering: Relaxed: this thread is the stripe's only writer, so the
        // load sees its own last store (and the previous owner's, ordered
        // by the pool's lock in `ids::assign`).
        let cur = bucket.load(Ordering::Relaxed);
        if let Some(next) = Self::counted(cur, epoch, generation, failure, slow) {
            // Ordering: a failure or a slow call stores SeqCst, the store of
            // the store-buffer pattern in `add` (it pairs with the SeqCst
            // loads in `totals`). A fast success stores Relaxed: no trip
            // decision waits for it (a failure that does not see it yet
            // decides as if it came after; the next SeqCst store of this
            // thread, or its next failure's loads, orders it).
            let order = if failure || slow {
                Ordering::SeqCst
            } else {
                Ordering::Relaxed
            };
            bucket.store(next, order);
        }
    }

    /// Whether stripe `i` is counted by call number: the stripes threads
    /// can own ([`OWNED_STRIPES`], all but the last) of a count window.
    /// Such a stripe's call number (`calls`) is the count of its calls:
    /// its buckets keep the epoch, the generation, the failures and slow
    /// calls, and in place of `calls` the *offset* of the bucket's first
    /// call of that generation within its epoch, so that a bucket of epoch
    /// `e` holds the calls numbered `e × bucket + offset ..` up to the end
    /// of its epoch or the stripe's call number, whichever is first
    /// (`totals`). A success then writes only the call number.
    #[inline(always)]
    fn by_call_number(&self, i: usize) -> bool {
        OWNED_STRIPES && S >= 2 && i < S - 1 && self.by_time == 0
    }

    /// Counts call number `call` (of `epoch`, `generation`) in the stripe
    /// this thread owns, for a count window ([`by_call_number`](Self::by_call_number)),
    /// and then stores the stripe's next call number: a success in a
    /// bucket that already holds this epoch and generation writes no
    /// bucket; a failure or slow call adds to it; the first call of an
    /// epoch or generation starts the bucket at its offset. Then the
    /// stripe's span names this bucket, for the successes that follow
    /// (`record_success_fast`).
    fn add_counted(
        &self,
        st: &Stripe<N>,
        call: u64,
        epoch: u64,
        generation: u32,
        failure: bool,
        slow: bool,
    ) {
        let bucket = &st.buckets[(epoch % N as u64) as usize];
        // The first call after the span's bucket, in its generation: the
        // bucket of this epoch holds an older one (the owner's call numbers
        // only grow), so it is replaced without being read.
        // Ordering: Relaxed: only the owner reads or writes the span.
        let span = st.span.load(Ordering::Relaxed);
        let next_of_span = matches!(span_left(span, generation, call), Some(0));
        let c = if next_of_span {
            Counts::fresh(0, 0)
        } else {
            // Ordering: Relaxed, as in `add_owned`: the owner's own last store.
            Counts::unpack(bucket.load(Ordering::Relaxed))
        };
        // Its last call (`c.epoch − 1`) is in this epoch: no division.
        let held = !next_of_span
            && c.epoch
                .checked_sub(1 + epoch * self.bucket)
                .is_some_and(|d| d < self.bucket);
        let base = if held && c.generation == generation {
            Some(c)
        } else if held && newer_generation(c.generation, generation) {
            // Not reached: the owner's records load the word after its
            // earlier ones, so their generations never go back. Were it
            // reached, the record would count nothing, not even its call.
            None
        } else {
            // The epoch's first call in this generation (an owner's call
            // numbers only grow, so an older bucket is the one to replace).
            Some(Counts {
                calls: call - epoch * self.bucket,
                ..Counts::fresh(0, generation)
            })
        };
        let Some(base) = base else {
            return;
        };
        // A success in the bucket its epoch and generation already hold
        // writes no bucket. (`held` alone does not say so: a new
        // generation in the same epoch is held, and replaced.)
        if !held || base != c || failure || slow {
            let next = Counts {
                epoch: call + 1,
                failures: base.failures + u64::from(failure),
                slow: base.slow + u64::from(slow),
                ..base
            };
            // Ordering: as in `add_owned` (SeqCst for a failure or a slow
            // call: the store-buffer pattern of `add`).
            let order = if failure || slow {
                Ordering::SeqCst
            } else {
                Ordering::Relaxed
            };
            bucket.store(next.pack(), order);
        }
        // Ordering: Release, pairs with the Acquire load in
        // `call_number_totals`: a reader that sees this number sees the
        // bucket stored above.
        st.calls.store(call + 1, Ordering::Release);
        // Ordering: Relaxed: only the owner reads or writes it.
        st.span.store(
            span_pack(generation, epoch.wrapping_add(1).wrapping_mul(self.bucket)),
            Ordering::Relaxed,
        );
    }

    /// The stripe this thread records into, and whether it owns it: with
    /// `S ≥ 2` and thread numbers ([`OWNED_STRIPES`]), thread `t` owns stripe
    /// `t % (S − 1)` if no other live thread does (claimed at its first
    /// record there), and records into the shared last stripe otherwise;
    /// without, threads are spread over all `S` shared stripes.
    #[inline(always)]
    fn stripe_for(&self) -> (usize, bool) {
        if S == 1 {
            return (0, false);
        }
        let t = thread_id();
        if !OWNED_STRIPES {
            return (t % S, false);
        }
        if t == NO_ID {
            return (S - 1, false);
        }
        let i = t % (S - 1);
        let me = t as u64 + 1;
        let owner = &self.stripes[i].owner;
        // Ordering: Relaxed load: the owner field only ever changes from 0
        // to a thread's number here, and a thread's own claim is visible to
        // it. The claim is Acquire, so that a stripe claimed from a
        // previous owner (the same number, reused) reads that owner's last
        // stores; the pool's lock orders them too.
        let o = owner.load(Ordering::Relaxed);
        if o == me
            || (o == 0
                && owner
                    .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok())
        {
            (i, true)
        } else {
            (S - 1, false)
        }
    }

    /// Totals of every stripe's window for `generation`: stripe `own`'s
    /// ending at `own_epoch` (the epoch its record just used), the others'
    /// at their current epoch for `now`.
    fn totals(&self, own: Option<(usize, u64)>, now: u64, generation: u32) -> WindowCounts {
        let mut t = WindowCounts::ZERO;
        for (i, st) in self.stripes.iter().enumerate() {
            if self.by_call_number(i) {
                let c =
                    self.call_number_totals(st, own.filter(|o| o.0 == i).map(|o| o.1), generation);
                t.calls += c.calls;
                t.failures += c.failures;
                t.slow += c.slow;
                continue;
            }
            let epoch = match own {
                Some((j, e)) if j == i => e,
                _ => self.current_epoch(st, now),
            };
            for b in &st.buckets {
                // Ordering: SeqCst, pairs with the SeqCst CAS in `add` and
                // the SeqCst stores of `add_owned` (see `add`); counts
                // publish no other memory.
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

    /// [`totals`](Self::totals) of one stripe counted by call number
    /// ([`by_call_number`](Self::by_call_number)): its window ends at
    /// `own_epoch` (the recording thread's own stripe) or at its call
    /// number's epoch.
    ///
    /// Why a snapshot is always a prefix of the owner's records (never a
    /// failure without its call, nor a call whose failure is missing): the
    /// owner stores a bucket *before* the call number (Release), and this
    /// loads the call number first (Acquire), so every bucket the owner
    /// wrote before the number loaded is seen; a bucket written after it
    /// (a later failure, a new epoch) carries its own call number
    /// (`last`), which is counted with it (`max(calls, last)`).
    fn call_number_totals(
        &self,
        st: &Stripe<N>,
        own_epoch: Option<u64>,
        generation: u32,
    ) -> WindowCounts {
        // Ordering: Acquire, pairs with the Release stores of the call
        // number in `record_closed` and `record_success_fast`.
        let n = st.calls.load(Ordering::Acquire);
        let epoch = own_epoch.unwrap_or(n.saturating_sub(1) / self.bucket);
        let mut t = WindowCounts::ZERO;
        for b in &st.buckets {
            // Ordering: SeqCst, as in `totals` (pairs with the SeqCst
            // stores of `add_counted`).
            let c = Counts::unpack(b.load(Ordering::SeqCst));
            if c.epoch == 0 {
                continue; // never written (`last` is a call number + 1)
            }
            let e = (c.epoch - 1) / self.bucket;
            if c.generation == generation && e <= epoch && epoch - e < N as u64 {
                let start = e * self.bucket + c.calls;
                let end = e.saturating_add(1).saturating_mul(self.bucket);
                // At most `bucket` ≤ 8191 calls per bucket: no overflow.
                t.calls += n.max(c.epoch).min(end).saturating_sub(start) as u32;
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
        let (i, owned) = win.stripe_for();
        let st = &win.stripes[i];
        let epoch = if owned && win.by_call_number(i) {
            // Ordering: Relaxed: only this thread writes it (`add_counted`
            // stores the next number).
            let call = st.calls.load(Ordering::Relaxed);
            let epoch = epoch_of(call, win.bucket);
            win.add_counted(st, call, epoch, w.generation, failure, slow);
            epoch
        } else {
            let epoch = win.epoch(st, owned, when);
            if owned {
                Self::add_owned(st, epoch, w.generation, failure, slow);
            } else {
                Self::add(st, epoch, w.generation, failure, slow);
            }
            epoch
        };
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

    /// A fast success of a count window without a slow-call rule, on the
    /// stripe this thread owns: a load and a store of its call number and
    /// of one bucket, no clock, no locked instruction. (A time window needs
    /// the tick, a slow-call rule the call's duration, a shared stripe a
    /// CAS: `record_closed` does those.)
    #[inline(always)]
    fn record_success_fast(&self, cur: Raw) -> bool {
        if self.by_time != 0 || self.slow_ticks != 0 || !Word::raw_is_closed(cur) {
            return false;
        }
        let (i, owned) = self.stripe_for();
        if !owned || !self.by_call_number(i) {
            return false;
        }
        let st = &self.stripes[i];
        let generation = Word::raw_generation(cur);
        // Ordering: Relaxed: only the owner writes the stripe's call
        // number and span (`add_counted`).
        let span = st.span.load(Ordering::Relaxed);
        let call = st.calls.load(Ordering::Relaxed);
        if span_covers(span, generation, call, self.bucket) {
            // Ordering: Release, as in `add_counted` (free on x86).
            st.calls.store(call + 1, Ordering::Release);
        } else {
            // The first call of a bucket or of a generation.
            self.add_counted(
                st,
                call,
                epoch_of(call, self.bucket),
                generation,
                false,
                false,
            );
        }
        true
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

    /// The cached division is the division, for runs of calls in one
    /// window, windows interleaved on one thread, and the ends of `u64`.
    #[test]
    fn epoch_cache_is_exact() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let buckets = [1u64, 2, 3, 7, 10, 100, BUCKET_MAX];
        let mut calls = [0u64; 7];
        let mut checked = 0;
        for round in 0..20_000 {
            let k = (next() % 7) as usize;
            // Mostly the next call of one window, sometimes a jump.
            calls[k] = if round % 97 == 0 {
                next()
            } else {
                calls[k].wrapping_add(1)
            };
            assert_eq!(epoch_of(calls[k], buckets[k]), calls[k] / buckets[k]);
            checked += 1;
        }
        for b in buckets {
            for c in [u64::MAX - 1, u64::MAX, 0, b - 1, b, u64::MAX - b, u64::MAX] {
                assert_eq!(epoch_of(c, b), c / b, "call {c}, bucket {b}");
                checked += 1;
            }
        }
        assert_eq!(checked, 20_000 + 7 * 7);
    }

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

    #[cfg(all(feature = "std", not(loom), not(tripbit_cs_ops)))] // OWNED_STRIPES
    #[test]
    fn a_thread_owns_one_stripe_and_the_last_stays_shared() {
        use core::sync::atomic::Ordering::Relaxed;
        let b = match Breaker::<Window<4, 2>>::try_new_window(
            Config::new(10).failure_rate(50, 1).count_window(8),
        ) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        let w = &b.policy;
        // A new breaker's ownable stripe goes to the first thread, for good.
        let (first, again) =
            std::thread::scope(|s| s.spawn(|| (w.stripe_for(), w.stripe_for())).join().unwrap());
        assert_eq!((first, again), ((0, true), (0, true)));
        assert_ne!(w.stripes[0].owner.load(Relaxed), 0);
        assert_eq!(
            w.stripes[1].owner.load(Relaxed),
            0,
            "the last stripe is never owned"
        );
        // Two live threads: at most one of them is stripe 0's owner (the
        // exited owner's number, reused, if the pool gave it to one of
        // them), and the other records into the shared stripe.
        let barrier = std::sync::Barrier::new(2);
        let got: std::vec::Vec<(usize, bool)> = std::thread::scope(|s| {
            let hs: std::vec::Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let r = w.stripe_for();
                        barrier.wait(); // both alive while they decide
                        r
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(got.iter().filter(|g| g.1).count() <= 1, "{got:?}");
        for g in &got {
            assert!(*g == (0, true) || *g == (1, false), "{got:?}");
        }
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
        // 32 + 16 × 3 = 80 bytes, rounded up to 64.
        assert_eq!(core::mem::size_of::<Breaker<Window<3, 1>>>(), 128 + 128);
        assert_eq!(core::mem::size_of::<Breaker<Window<10, 1>>>(), 128 + 192);
        assert_eq!(core::mem::size_of::<Breaker<Window<10>>>(), 128 + 4 * 192);
        assert_eq!(core::mem::align_of::<Breaker<Window<10>>>(), 64);
    }
}
