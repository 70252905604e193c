//! The shared core of every breaker, whatever its policy: the state word,
//! the stamp (its protocol is in `breaker.rs`'s module docs), the settings,
//! and the operations on them that the policies and the breaker share
//! (publishing a stamp, timing a period, tripping, operator swaps).

use crate::config::{Config, Trip, open_ticks_at};
use crate::state::{GEN_MASK, Probes, State, Word};
use crate::sync::{AtomicU64, AtomicU128, Ordering, const_fn};
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

/// A stamp: the full generation it belongs to, and its tick.
#[inline(always)]
pub(crate) const fn stamp_pack(generation: u64, tick: u64) -> u128 {
    ((generation as u128) << 64) | tick as u128
}

#[inline(always)]
pub(crate) const fn stamp_generation(s: u128) -> u64 {
    (s >> 64) as u64
}

#[inline(always)]
pub(crate) const fn stamp_tick(s: u128) -> u64 {
    s as u64
}

/// The 64-bit generation of a word whose 24-bit generation is `g24`, given
/// the stamp `s`: the stamp's plus the signed distance between their low 24
/// bits. The stamp lags the current word by at most the transitions whose
/// winners have not published yet, and a word a caller loaded earlier lags
/// the stamp by at most the transitions since: both far below 2²³.
#[inline(always)]
pub(crate) const fn full_generation(s: u128, g24: u32) -> u64 {
    let gs = stamp_generation(s);
    let d = g24.wrapping_sub(gs as u32) & GEN_MASK;
    if d < 1 << 23 {
        gs.wrapping_add(d as u64)
    } else {
        gs.wrapping_sub(((1 << 24) - d) as u64)
    }
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
#[repr(C)]
#[doc(hidden)]
#[allow(unreachable_pub)]
pub struct Core {
    /// `(full generation << 64) | tick`; see `breaker.rs` for its protocol.
    pub(crate) stamp: AtomicU128,
    /// The state word; bit layout in `state.rs`. Written only by CAS.
    pub(crate) word: AtomicU64,
    pub(crate) params: Params,
}

impl Core {
    const_fn! {
        pub(crate) fn new(config: &Config) -> Core {
            Core {
                stamp: AtomicU128::new(stamp_pack(0, 0)),
                word: AtomicU64::new(Word::INIT.pack()),
                params: Params::from_config(config),
            }
        }
    }

    /// The stamp of word `w`: its tick if published (`None` while the
    /// winner of the transition has not published it), and `w`'s 64-bit
    /// generation.
    #[inline]
    pub(crate) fn stamp_of(&self, w: Word) -> (Option<u64>, u64) {
        // Ordering: Acquire, pairs with the AcqRel CAS in `publish`.
        let s = self.stamp.load(Ordering::Acquire);
        let g = full_generation(s, w.generation);
        let tick = (stamp_generation(s) == g).then_some(stamp_tick(s));
        (tick, g)
    }

    /// The stamp of `w`, publishing `now` for it if nobody has yet: the
    /// tick in effect for `w`'s state and its 64-bit generation; `None` if
    /// the word has moved past `w` (reload and decide again).
    pub(crate) fn stamp_or_publish(&self, w: Word, now: u64) -> Option<(u64, u64)> {
        match self.stamp_of(w) {
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
                return Some((stamp_tick(cur), g));
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
                Ok(_) => return Some((tick, g)),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Re-stamps generation `g` from `old` to `now` (a clock that went back
    /// by more than the period it times): best effort, a failed CAS means
    /// another thread changed the stamp first.
    pub(crate) fn restamp(&self, g: u64, old: u64, now: u64) {
        // Ordering: AcqRel / Acquire, as in `publish`.
        let _ = self.stamp.compare_exchange(
            stamp_pack(g, old),
            stamp_pack(g, now),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
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
    pub(crate) fn trip_from(&self, expected: u64, now: u64) -> Option<Transition> {
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
        let since = self.stamp_of(w).0.unwrap_or(now);
        let until = since.saturating_add(self.params.open_ticks_at(w.level));
        let ghosts_done = Probes::unpack(w.counters).in_flight() == 0
            || now >= since.saturating_add(self.params.probe_ticks);
        Some((since, until, now >= since && now >= until && ghosts_done))
    }

    pub(crate) fn swap_word(&self, f: impl Fn(Word) -> Word) -> (Word, Word) {
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
