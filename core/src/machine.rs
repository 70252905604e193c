//! The shared core of every breaker, whatever its policy: the state word,
//! the stamp (its protocol is in `breaker.rs`'s module docs), the settings,
//! and the operations on them that the policies and the breaker share
//! (publishing a stamp, timing a period, tripping, operator swaps).

#![cfg_attr(tripbit_word32, allow(clippy::unnecessary_cast))] // the 32-bit word casts u32 to Raw = u32

use crate::config::{Config, Trip, open_ticks_at};
use crate::state::{GEN_MASK, Probes, Raw, State, Word};
use crate::sync::{Ordering, const_fn};
use crate::types::Transition;

/// Immutable settings, packed into 32 bytes.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Params {
    pub(crate) open_ticks: u64,
    pub(crate) probe_ticks: u64,
    pub(crate) threshold: u32,
    pub(crate) close_after: u16,
    pub(crate) probes: u8,
    pub(crate) backoff_factor: u8,
    pub(crate) backoff_max_level: u8,
    pub(crate) close_max_failure_percent: u8,
}

impl Params {
    pub(crate) const fn from_config(c: &Config) -> Params {
        Params {
            open_ticks: c.open_ticks,
            probe_ticks: c.probe_ticks,
            threshold: match c.trip {
                Trip::ConsecutiveFailures(n) => n,
                Trip::FailureRate { .. } => 0,
            },
            close_after: c.close_after,
            probes: c.probes,
            backoff_factor: c.backoff_factor,
            backoff_max_level: c.backoff_max_level,
            close_max_failure_percent: c.close_max_failure_percent,
        }
    }

    pub(crate) fn open_ticks_at(&self, level: u8) -> u64 {
        open_ticks_at(
            self.open_ticks,
            self.backoff_factor,
            self.backoff_max_level,
            level,
        )
    }
}

/// The stamp word: `(full 64-bit generation << 64) | tick` (128 bits), or
/// on `tripbit_word32` targets `(8-bit generation << 24) | 24 bits of the
/// tick` (32 bits, see [`stamp_tick`]).
#[cfg(not(tripbit_word32))]
pub(crate) type StampRaw = u128;
/// The stamp word: `(full 64-bit generation << 64) | tick` (128 bits), or
/// on `tripbit_word32` targets `(8-bit generation << 24) | 24 bits of the
/// tick` (32 bits, see [`stamp_tick`]).
#[cfg(tripbit_word32)]
pub(crate) type StampRaw = u32;

#[cfg(not(tripbit_word32))]
type AtomicStamp = crate::sync::AtomicU128;
#[cfg(tripbit_word32)]
type AtomicStamp = crate::sync::AtomicU32;
#[cfg(not(tripbit_word32))]
type AtomicWord = crate::sync::AtomicU64;
#[cfg(tripbit_word32)]
type AtomicWord = crate::sync::AtomicU32;

/// A stamp: the full generation it belongs to, and its tick.
#[cfg(not(tripbit_word32))]
#[inline(always)]
pub(crate) const fn stamp_pack(generation: u64, tick: u64) -> StampRaw {
    ((generation as u128) << 64) | tick as u128
}

/// The full generation of a stamp.
#[cfg(not(tripbit_word32))]
#[inline(always)]
pub(crate) const fn stamp_generation(s: StampRaw) -> u64 {
    (s >> 64) as u64
}

/// The tick of a stamp (the high word and the caller's tick `near` only
/// matter to the 32-bit stamps).
#[cfg(not(tripbit_word32))]
#[inline(always)]
pub(crate) const fn stamp_tick(s: StampRaw, _hi: u32, _near: u64) -> u64 {
    s as u64
}

/// The 64-bit generation of a word whose 24-bit generation is `g24`, given
/// the stamp `s`: the stamp's plus the signed distance between their low 24
/// bits. The stamp lags the current word by at most the transitions whose
/// winners have not published yet, and a word a caller loaded earlier lags
/// the stamp by at most the transitions since: both far below 2²³.
#[cfg(not(tripbit_word32))]
#[inline(always)]
pub(crate) const fn full_generation(s: StampRaw, g24: u32) -> u64 {
    let gs = stamp_generation(s);
    let d = g24.wrapping_sub(gs as u32) & GEN_MASK;
    if d < 1 << 23 {
        gs.wrapping_add(d as u64)
    } else {
        gs.wrapping_sub(((1 << 24) - d) as u64)
    }
}

/// Bits of the tick a 32-bit stamp keeps.
#[cfg(tripbit_word32)]
const STAMP_TICK_BITS: u32 = 24;
#[cfg(tripbit_word32)]
const STAMP_TICK_MASK: u32 = (1 << STAMP_TICK_BITS) - 1;
/// The longest period the 32-bit stamps can time: the tick they keep is
/// 48 bits (`stamp` and `stamp_hi`), told apart from a caller's tick
/// exactly within 2⁴⁷ (config validation keeps every period below 2⁴⁶ on
/// `tripbit_word32` targets).
#[cfg(tripbit_word32)]
pub(crate) const STAMP_MAX_PERIOD: u64 = (1 << 46) - 1;

/// A 32-bit stamp: the word's 8-bit generation, and the low 24 bits of the
/// tick (`stamp_hi` keeps the next 24, tagged the same way).
#[cfg(tripbit_word32)]
#[inline(always)]
pub(crate) const fn stamp_pack(generation: u64, tick: u64) -> StampRaw {
    ((generation as u32 & GEN_MASK) << STAMP_TICK_BITS) | (tick as u32 & STAMP_TICK_MASK)
}

/// The generation of a 32-bit stamp: the word's own 8 bits, so "full"
/// generations are 8 bits wide on `tripbit_word32` targets.
#[cfg(tripbit_word32)]
#[inline(always)]
pub(crate) const fn stamp_generation(s: StampRaw) -> u64 {
    (s >> STAMP_TICK_BITS) as u64
}

/// The high stamp word of `tick`: the generation, and tick bits 24..48.
#[cfg(tripbit_word32)]
#[inline(always)]
const fn stamp_hi_pack(generation: u64, tick: u64) -> u32 {
    ((generation as u32 & GEN_MASK) << STAMP_TICK_BITS) | ((tick >> 24) as u32 & STAMP_TICK_MASK)
}

/// The tick nearest `near` whose low `bits` bits are `low` (serial-number
/// arithmetic, as for a wrapping MCU tick counter): exact while the two
/// are less than 2^(bits − 1) apart. Before tick 0 it reads as 0.
#[cfg(tripbit_word32)]
#[inline(always)]
const fn nearest(low: u64, bits: u32, near: u64) -> u64 {
    let mask = (1u64 << bits) - 1;
    let d = near.wrapping_sub(low) & mask;
    if d < 1 << (bits - 1) {
        near.saturating_sub(d)
    } else {
        near.saturating_add((1 << bits) - d)
    }
}

/// The tick of a 32-bit stamp `s` whose high word is `hi`: all 48 bits
/// when `hi` is of the same generation (the publisher has stored it),
/// else the 24 low bits alone, read as the tick nearest `near` (exact
/// while the publisher's two stores are less than 2²³ ticks apart).
#[cfg(tripbit_word32)]
#[inline(always)]
pub(crate) const fn stamp_tick(s: StampRaw, hi: u32, near: u64) -> u64 {
    let lo = (s & STAMP_TICK_MASK) as u64;
    if hi >> STAMP_TICK_BITS == s >> STAMP_TICK_BITS {
        nearest(((hi & STAMP_TICK_MASK) as u64) << 24 | lo, 48, near)
    } else {
        nearest(lo, STAMP_TICK_BITS, near)
    }
}

/// The generation of a word whose generation is `g8`: on `tripbit_word32`
/// targets the stamp keeps the same 8 bits, so it is `g8` itself.
#[cfg(tripbit_word32)]
#[inline(always)]
pub(crate) const fn full_generation(_s: StampRaw, g8: u32) -> u64 {
    (g8 & GEN_MASK) as u64
}

/// The time of a record: given by the caller, or read from its clock the
/// first time the record needs it (a closed success of a count window, or a
/// failure that does not trip, needs no tick at all). `pub` only because the
/// sealed `Policy` trait's hidden methods name it.
#[doc(hidden)]
#[allow(unreachable_pub, missing_debug_implementations)]
pub struct When<'a> {
    acquired_at: u64,
    now: Option<u64>,
    elapsed: Option<u64>,
    clock: Option<&'a mut dyn FnMut() -> u64>,
}

impl<'a> When<'a> {
    /// A record at `now`, `elapsed` after its call started.
    pub(crate) fn at(elapsed: u64, now: u64) -> When<'a> {
        When {
            acquired_at: 0,
            now: Some(now),
            elapsed: Some(elapsed),
            clock: None,
        }
    }

    /// A record whose tick `clock` gives, for a call admitted at `acquired_at`.
    pub(crate) fn clock(acquired_at: u64, clock: &'a mut dyn FnMut() -> u64) -> When<'a> {
        When {
            acquired_at,
            now: None,
            elapsed: None,
            clock: Some(clock),
        }
    }

    /// The tick of the record (the clock is read at most once).
    pub(crate) fn now(&mut self) -> u64 {
        if let Some(n) = self.now {
            return n;
        }
        let n = self.clock.take().map_or(0, |c| c());
        self.now = Some(n);
        n
    }

    /// How long the call took.
    pub(crate) fn elapsed(&mut self) -> u64 {
        if let Some(e) = self.elapsed {
            return e;
        }
        let e = self.now().saturating_sub(self.acquired_at);
        self.elapsed = Some(e);
        e
    }
}

/// Where a record's tick comes from: set up (`with`) only off the record's
/// fast path, so that a closed success builds nothing.
pub(crate) trait TickSource {
    /// Runs `f` with the record's [`When`].
    fn with<R>(self, acquired_at: u64, f: impl FnOnce(&mut When<'_>) -> R) -> R;
}

/// A tick the caller gave: `(elapsed, now)`.
pub(crate) struct At(pub(crate) u64, pub(crate) u64);

impl TickSource for At {
    #[inline(always)]
    fn with<R>(self, _acquired_at: u64, f: impl FnOnce(&mut When<'_>) -> R) -> R {
        f(&mut When::at(self.0, self.1))
    }
}

/// A tick the caller gave, `now`: the call's duration (`now` minus its
/// admission tick) is computed only off the fast path.
pub(crate) struct AtNow(pub(crate) u64);

impl TickSource for AtNow {
    #[inline(always)]
    fn with<R>(self, acquired_at: u64, f: impl FnOnce(&mut When<'_>) -> R) -> R {
        f(&mut When::at(self.0.saturating_sub(acquired_at), self.0))
    }
}

/// A clock, read at most once, and only if the record needs a tick.
pub(crate) struct Clock<F>(pub(crate) F);

impl<F: FnOnce() -> u64> TickSource for Clock<F> {
    #[inline(always)]
    fn with<R>(self, acquired_at: u64, f: impl FnOnce(&mut When<'_>) -> R) -> R {
        let mut clock = Some(self.0);
        let mut read = || clock.take().map_or(0, |c| c());
        f(&mut When::clock(acquired_at, &mut read))
    }
}

/// The part of a breaker every policy shares: `#[repr(C)]`, so a
/// `Breaker` has the same layout whatever its policy (the policy's fields
/// follow). `pub` only because the sealed `Policy` trait's hidden methods
/// name it; it is not reachable from outside the crate.
#[cfg_attr(not(tripbit_word32), repr(C))]
// The 32-bit words sit where the 64-bit layout has its wider ones, padded,
// so that a breaker is 64 bytes, 16-aligned, with its settings at offset 24
// on every target: one C header (`TRIPBIT_BREAKER_INIT`, the storage
// type) serves them all, and zeroed storage is a fresh breaker on both.
#[cfg_attr(tripbit_word32, repr(C, align(16)))]
#[doc(hidden)]
#[allow(unreachable_pub)]
pub struct Core {
    /// `(full generation << 64) | tick` (32 bits on `tripbit_word32`
    /// targets, see [`StampRaw`]); see `breaker.rs` for its protocol.
    pub(crate) stamp: AtomicStamp,
    /// On `tripbit_word32` targets: the generation and tick bits 24..48 of
    /// the stamp, stored by whoever published `stamp` (`publish`).
    #[cfg(tripbit_word32)]
    pub(crate) stamp_hi: crate::sync::AtomicU32,
    #[cfg(tripbit_word32)]
    _pad_stamp: [u32; 2],
    /// The state word; bit layout in `state.rs`. Written only by CAS.
    pub(crate) word: AtomicWord,
    #[cfg(tripbit_word32)]
    _pad_word: u32,
    pub(crate) params: Params,
}

// (Not under loom, whose atomics are larger model objects.)
#[cfg(all(tripbit_word32, not(loom)))]
const _: () = {
    assert!(core::mem::offset_of!(Core, word) == 16);
    assert!(core::mem::offset_of!(Core, params) == 24);
};

impl Core {
    const_fn! {
        pub(crate) fn new(config: &Config) -> Core {
            Core {
                stamp: AtomicStamp::new(stamp_pack(0, 0)),
                #[cfg(tripbit_word32)]
                stamp_hi: crate::sync::AtomicU32::new(0),
                #[cfg(tripbit_word32)]
                _pad_stamp: [0; 2],
                word: AtomicWord::new(Word::INIT.pack()),
                #[cfg(tripbit_word32)]
                _pad_word: 0,
                params: Params::from_config(config),
            }
        }
    }

    /// The stamp of word `w`: its tick if published (`None` while the
    /// winner of the transition has not published it), and `w`'s 64-bit
    /// generation. `near` is a tick of the caller (the 32-bit stamp
    /// rebuilds its tick around it, see [`stamp_tick`]).
    #[inline]
    pub(crate) fn stamp_of(&self, w: Word, near: u64) -> (Option<u64>, u64) {
        // Ordering: Acquire, pairs with the AcqRel CAS in `publish`.
        let s = self.stamp.load(Ordering::Acquire);
        let g = full_generation(s, w.generation);
        let tick = if stamp_generation(s) == g {
            self.tick_of(s, near)
        } else {
            None
        };
        (tick, g)
    }

    /// The tick of the stamp `s` just loaded: always, with the 128-bit
    /// stamp. On `tripbit_word32` targets the high word is read next, and
    /// the stamp again: the low word is stored before the high one (CAS,
    /// then a Release CAS), so a high word newer than `s` shows as a changed
    /// stamp, and is never combined with `s`'s older low bits (a re-stamp
    /// after the clock went back would read earlier than both ticks). A
    /// changed stamp of the same generation is read again; of another one,
    /// `None`: the caller treats it as not published for its word. (A low
    /// word that changes and changes back to the same 32 bits between the
    /// two loads, two re-stamps to ticks 2²⁴·k apart, is not told apart.)
    #[inline(always)]
    pub(crate) fn tick_of(&self, s: StampRaw, near: u64) -> Option<u64> {
        #[cfg(tripbit_word32)]
        {
            let mut s = s;
            loop {
                // Ordering: Acquire, pairs with the Release CAS in
                // `publish_hi`: the stamp load below then sees the low word
                // stored before that high word, or a later one.
                let hi = self.stamp_hi.load(Ordering::Acquire);
                // Ordering: Acquire, as every stamp load (pairs with the
                // AcqRel CAS in `publish` and `restamp`).
                let again = self.stamp.load(Ordering::Acquire);
                if again == s {
                    return Some(stamp_tick(s, hi, near));
                }
                if stamp_generation(again) != stamp_generation(s) {
                    return None;
                }
                s = again;
            }
        }
        #[cfg(not(tripbit_word32))]
        Some(stamp_tick(s, 0, near))
    }

    /// On `tripbit_word32` targets: stores the high word of the stamp of
    /// generation `g` after its publisher's CAS on `stamp`, only over the
    /// high word of an older generation (a late publisher never overwrites
    /// a newer one); `replace` also replaces generation `g`'s own (restamp).
    #[cfg(tripbit_word32)]
    fn publish_hi(&self, g: u64, tick: u64, replace: Option<u64>) {
        // Ordering: Relaxed load; the CAS below re-checks.
        let mut cur = self.stamp_hi.load(Ordering::Relaxed);
        loop {
            let ours = (cur >> STAMP_TICK_BITS) as u64 == g & GEN_MASK as u64;
            match replace {
                Some(old) if ours && cur != stamp_hi_pack(g, old) => return,
                None if ours => return,
                _ => {}
            }
            // Serial order over 8 bits: a newer generation's word stays.
            let d = (cur >> STAMP_TICK_BITS).wrapping_sub(g as u32) & GEN_MASK;
            if d != 0 && d <= GEN_MASK / 2 {
                return;
            }
            // Ordering: Release, pairs with the Acquire load in `tick_of`;
            // failure Relaxed: re-decide on the value found.
            match self.stamp_hi.compare_exchange(
                cur,
                stamp_hi_pack(g, tick),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The stamp of `w`, publishing `now` for it if nobody has yet: the
    /// tick in effect for `w`'s state and its 64-bit generation; `None` if
    /// the word has moved past `w` (reload and decide again).
    pub(crate) fn stamp_or_publish(&self, w: Word, now: u64) -> Option<(u64, u64)> {
        match self.stamp_of(w, now) {
            (Some(t), g) => Some((t, g)),
            (None, _) => self.publish(w.generation, now),
        }
    }

    /// Publishes `tick` as the stamp of the word generation `g24`: only over
    /// the stamp of an older generation, and only while the word is still at
    /// `g24`. Returns the tick in effect for `g24` (ours, or the one another
    /// thread published first) and the full generation, or `None` once the
    /// word has moved on (a late publisher never overwrites a newer stamp).
    pub(crate) fn publish(&self, g24: u32, tick: u64) -> Option<(u64, u64)> {
        // Ordering: Acquire, pairs with the AcqRel CAS below (of another
        // publisher): if we see a newer generation's stamp, the word load
        // that follows sees that generation's word or a later one.
        let mut cur = self.stamp.load(Ordering::Acquire);
        loop {
            let g = full_generation(cur, g24);
            if stamp_generation(cur) == g {
                match self.tick_of(cur, tick) {
                    Some(t) => return Some((t, g)),
                    None => {
                        // Moved on while we read it: decide on the new one.
                        // Ordering: Acquire, as above.
                        cur = self.stamp.load(Ordering::Acquire);
                        continue;
                    }
                }
            }
            // Ordering: Acquire, see above: read-read coherence with the
            // word load of whoever published the stamp we just read.
            if Word::raw_generation(self.word.load(Ordering::Acquire)) != g24 {
                return None;
            }
            // Ordering: AcqRel: Release publishes this stamp to the Acquire
            // loads above and in `stamp_of`/`reject_fast`; Acquire on
            // success and failure orders our next word load after the stamp
            // we displaced or found.
            match self.stamp.compare_exchange(
                cur,
                stamp_pack(g, tick),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    #[cfg(tripbit_word32)]
                    self.publish_hi(g, tick, None);
                    return Some((tick, g));
                }
                Err(actual) => cur = actual,
            }
        }
    }

    /// Re-stamps generation `g` from `old` to `now` (a clock that went back
    /// by more than the period it times): best effort, a failed CAS means
    /// another thread changed the stamp first.
    pub(crate) fn restamp(&self, g: u64, old: u64, now: u64) {
        // Ordering: AcqRel / Acquire, as in `publish`.
        let done = self.stamp.compare_exchange(
            stamp_pack(g, old),
            stamp_pack(g, now),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        // Between the two stores a reader combines the old high bits with
        // the new low ones: a later tick than `now` (the clock went back, so
        // `old` > `now`), which only makes the period longer.
        #[cfg(tripbit_word32)]
        if done.is_ok() {
            self.publish_hi(g, now, Some(old));
        }
        #[cfg(not(tripbit_word32))]
        let _ = done;
    }

    /// `Err` while a period of `len` ticks stamped at `since` runs at `now`:
    /// the tick it ends. A clock that went back by more than `len` (a clock
    /// restart, a wrapped counter) re-stamps the period to start at `now`,
    /// so it never blocks for the age of the old clock.
    pub(crate) fn period_running(&self, g: u64, since: u64, len: u64, now: u64) -> Result<(), u64> {
        if now < since {
            if since - now > len {
                self.restamp(g, since, now);
                return Err(now.saturating_add(len));
            }
            return Err(since.saturating_add(len));
        }
        let until = since.saturating_add(len);
        if now < until { Err(until) } else { Ok(()) }
    }

    /// Moves `Closed` to `Open` if the word still is `expected`; the policy
    /// calls it when its bar is reached. The open period starts at `now`,
    /// the trip's own tick (never an older period's).
    #[inline(never)]
    pub(crate) fn trip_from(&self, expected: Raw, now: u64) -> Option<Transition> {
        let w = Word::unpack(expected);
        if w.state != State::Closed {
            return None;
        }
        let next = w.next(State::Open, 0);
        // Ordering: Relaxed both ways: the trip tick goes to the stamp
        // (published below with Release); a reader that sees Open before it
        // is published stamps its own, later, tick. Failure: someone else
        // moved the word first, and exactly one caller reports the
        // transition.
        self.word
            .compare_exchange(expected, next.pack(), Ordering::Relaxed, Ordering::Relaxed)
            .ok()
            .map(|_| {
                let _ = self.publish(next.generation, now);
                transition(w, next)
            })
    }

    /// For an `Open` word: (opened at, open until, whether a call at `now`
    /// would start the half-open period). An unpublished stamp reads as
    /// opened at `now`.
    pub(crate) fn open_view(&self, w: Word, now: u64) -> Option<(u64, u64, bool)> {
        if w.state != State::Open {
            return None;
        }
        let since = self.stamp_of(w, now).0.unwrap_or(now);
        let until = since.saturating_add(self.params.open_ticks_at(w.level));
        let ghosts_done = Probes::unpack(w.counters).in_flight() == 0
            || now >= since.saturating_add(self.params.probe_ticks);
        Some((since, until, now >= since && now >= until && ghosts_done))
    }

    pub(crate) fn swap_word(&self, f: impl Fn(Word) -> Word) -> (Word, Word) {
        crate::sync::op(|| {
            // Ordering: Relaxed load; the CAS below re-checks.
            let mut cur = self.word.load(Ordering::Relaxed);
            loop {
                let from = Word::unpack(cur);
                let to = f(from);
                if to == from {
                    return (from, to);
                }
                // Ordering: Relaxed both ways: an operator action publishes no
                // other memory (the window needs no clearing: its buckets are
                // tagged with the generation). Failure: re-decode.
                match self.word.compare_exchange_weak(
                    cur,
                    to.pack(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // Keeps the stamp's full generation current (no tick is
                        // needed by the states an operator sets).
                        let _ = self.publish(to.generation, 0);
                        return (from, to);
                    }
                    Err(actual) => cur = actual,
                }
            }
        })
    }
}

pub(crate) fn transition(from: Word, to: Word) -> Transition {
    let t = Transition {
        from: from.state,
        to: to.state,
        generation: to.generation,
        level: to.level,
    };
    crate::fmt::transition(&t);
    t
}
