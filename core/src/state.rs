//! The state word: one `u64` that holds the whole decision of a breaker
//! (one `u32` on targets with only 32-bit atomics, second table below).
//!
//! | bits    | field        | meaning                                              | written by                  |
//! |---------|--------------|------------------------------------------------------|-----------------------------|
//! | 0..3    | `tag`        | [`State`] (3 bits)                                   | every transition CAS        |
//! | 3..8    | `level`      | backoff level `k`: the open period is `open × factorᵏ` | HalfOpen → Open (k + 1), close (0) |
//! | 8..32   | `generation` | bumped on every transition; stale permits compare it | every transition CAS        |
//! | 32..64  | `counters`   | meaning depends on the state, see below              | record / acquire CAS        |
//!
//! Counters by state:
//! - `Closed` / `Disabled`: consecutive failures (32 bits, saturating).
//! - `HalfOpen`: the current probe *round* and the trial's totals:
//!
//!   | bits   | field       | meaning                                                  |
//!   |--------|-------------|----------------------------------------------------------|
//!   | 32..36 | `claimed`   | slots handed out in this round (0..=8); slot `i` is the `i`-th probe admitted |
//!   | 36..44 | `done`      | one bit per slot: that probe has reported (or was released) |
//!   | 44..54 | `successes` | successes of the whole half-open trial (all rounds)       |
//!   | 54..64 | `failures`  | failures of the whole half-open trial                     |
//!
//! - `Open` after a failed trial: `claimed` and `done` of the round that
//!   failed (its probes still running: the *ghosts*), and bit 63 set
//!   (`REOPENED`: opened by a failed trial, not by a trip from `Closed`).
//!   A ghost's late report sets its `done` bit (counting nothing), and the
//!   next half-open period waits for every ghost, or for the probe
//!   deadline, so that calls in flight to the upstream never exceed
//!   `probes` across periods (except probes that outlived the deadline).
//! - every other state: zero.
//!
//! Why rounds make a probe count at most once: a probe ticket names its
//! generation and its slot. Within one generation a slot is handed out
//! once (a new round is a new generation), and reporting sets the slot's
//! `done` bit in the same CAS that counts the outcome, so a second report of
//! the same ticket (a double release, a release after a record, a replayed
//! record) finds the bit set and is stale. A ticket of an earlier period
//! has an earlier generation. Generations are 24 bits in this word; the
//! breaker's stamp (see `breaker.rs`) extends them to 64 bits, and probe
//! tickets carry 32 of those bits, so an old probe ticket is recognised
//! after any number of transitions below 2³² (not just 2²⁴).
//!
//! # The 32-bit word (`cfg(tripbit_word32)`)
//!
//! Cortex-M3/M4/M7 and RV32 with the A extension have a 32-bit CAS and no
//! 64-bit atomics; Cortex-M0 and RV32 without A have no CAS at all. On all
//! of them (the build script sets `tripbit_word32` wherever the target has
//! no 64-bit atomics; `RUSTFLAGS="--cfg tripbit_word32"` builds it on a
//! host, for the tests, loom and miri) the word is a `u32`, so that every
//! decision is one 32-bit atomic, lock-free where the core has a CAS:
//!
//! | bits    | field        | meaning                                      |
//! |---------|--------------|----------------------------------------------|
//! | 0..3    | `tag`        | [`State`]                                    |
//! | 3..6    | `level`      | backoff level, 0..=7                         |
//! | 6..14   | `generation` | 8 bits, wrapping                             |
//! | 14..32  | `counters`   | 18 bits                                      |
//!
//! | state    | counters (bits of the 18)                                    |
//! |----------|--------------------------------------------------------------|
//! | Closed / Disabled | consecutive failures, 0..=262,143, saturating       |
//! | HalfOpen | 0..3 `claimed` (0..=4), 3..7 `done`, 7..12 `successes` (0..=31), 12..17 `failures` (0..=31) |
//! | Open     | `claimed` and `done` of the failed round (ghosts), bit 17 `REOPENED` |
//!
//! What the narrower word limits, checked by [`Config::validate`](crate::Config::validate)
//! on these targets: `consecutive_failures` ≤ 262,143; `probes` ≤ 4;
//! `close_after` ≤ 31 (and the close bar must allow at most 30 failures);
//! backoff max level ≤ 7; and, because the stamps there keep 48 bits of
//! the tick (`machine.rs`), every period they time (the open period at the
//! top backoff level, the probe timeout) below 2⁴⁶ ticks. Tickets carry
//! the 8-bit generation: a ticket kept across a multiple of 256
//! transitions is not recognised as stale.
//!
//! All functions here are pure `const fn`s, tested exhaustively at the bottom.

#![cfg_attr(tripbit_word32, allow(clippy::unnecessary_cast))] // the 32-bit word casts u32 to Raw = u32

/// The state of a breaker.
///
/// ```
/// use tripbit::State;
/// assert!(State::Closed.admits_all());
/// assert!(!State::Open.admits_all());
/// assert_eq!(State::HalfOpen.as_str(), "half_open");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum State {
    /// Healthy: every call is admitted and its outcome counted.
    Closed = 0,
    /// Unhealthy: every call is rejected until the open period has passed.
    Open = 1,
    /// Recovering: at most `probes` calls run at once; their results decide.
    HalfOpen = 2,
    /// Operator override: rejects every call until reset.
    ForcedOpen = 3,
    /// Operator override: admits every call and counts nothing until reset.
    ForcedClosed = 4,
    /// Metrics only: admits every call, counts outcomes, never trips.
    Disabled = 5,
}

impl State {
    /// Every state, in tag order.
    pub const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::ForcedClosed,
        State::Disabled,
    ];

    /// The state for a 3-bit tag; `None` for the unused tags 6 and 7.
    ///
    /// ```
    /// assert_eq!(tripbit::State::from_tag(2), Some(tripbit::State::HalfOpen));
    /// assert_eq!(tripbit::State::from_tag(7), None);
    /// ```
    pub const fn from_tag(tag: u8) -> Option<State> {
        match tag {
            0 => Some(State::Closed),
            1 => Some(State::Open),
            2 => Some(State::HalfOpen),
            3 => Some(State::ForcedOpen),
            4 => Some(State::ForcedClosed),
            5 => Some(State::Disabled),
            _ => None,
        }
    }

    /// Lower-case name, as operators and the Python layer spell it.
    ///
    /// ```
    /// assert_eq!(tripbit::State::ForcedOpen.as_str(), "forced_open");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::ForcedClosed => "forced_closed",
            State::Disabled => "disabled",
        }
    }

    /// [`as_str`](Self::as_str) as a NUL-terminated C string, for the C API
    /// and other bindings (one table of names, here).
    ///
    /// ```
    /// assert_eq!(tripbit::State::HalfOpen.as_cstr(), c"half_open");
    /// ```
    pub const fn as_cstr(self) -> &'static core::ffi::CStr {
        match self {
            State::Closed => c"closed",
            State::Open => c"open",
            State::HalfOpen => c"half_open",
            State::ForcedOpen => c"forced_open",
            State::ForcedClosed => c"forced_closed",
            State::Disabled => c"disabled",
        }
    }

    /// Whether every call is admitted in this state (Closed, ForcedClosed, Disabled).
    ///
    /// ```
    /// assert!(tripbit::State::Disabled.admits_all());
    /// ```
    pub const fn admits_all(self) -> bool {
        matches!(self, State::Closed | State::ForcedClosed | State::Disabled)
    }
}

impl core::fmt::Display for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The raw state word: 64 bits where 64-bit atomics are native, 32 bits on
/// targets with only 32-bit atomics (`tripbit_word32`, see the 32-bit
/// table in the module docs).
#[cfg(not(tripbit_word32))]
pub(crate) type Raw = u64;
/// The raw state word: 64 bits where 64-bit atomics are native, 32 bits on
/// targets with only 32-bit atomics (`tripbit_word32`, see the 32-bit
/// table in the module docs).
#[cfg(tripbit_word32)]
pub(crate) type Raw = u32;

const TAG_MASK: Raw = 0b111;
const LEVEL_SHIFT: u32 = 3;

#[cfg(not(tripbit_word32))]
mod layout {
    use super::Raw;
    pub(super) const LEVEL_MASK: Raw = 0b1_1111;
    pub(super) const GEN_SHIFT: u32 = 8;
    pub(crate) const GEN_MASK: u32 = 0x00FF_FFFF;
    pub(super) const COUNT_SHIFT: u32 = 32;
    pub(crate) const COUNT_MAX: u32 = u32::MAX;
    pub(crate) const MAX_LEVEL: u8 = 31;
    pub(crate) const MAX_PROBES: u32 = 8;
    pub(crate) const MAX_HALF_OPEN_COUNT: u32 = 0x3FF;
    pub(super) const CLAIMED_MASK: u32 = 0xF;
    pub(super) const DONE_SHIFT: u32 = 4;
    pub(super) const DONE_MASK: u32 = 0xFF;
    pub(super) const SUCCESS_SHIFT: u32 = 12;
    pub(super) const FAILURE_SHIFT: u32 = 22;
    pub(crate) const REOPENED: u32 = 1 << 31;
}

#[cfg(tripbit_word32)]
mod layout {
    use super::Raw;
    pub(super) const LEVEL_MASK: Raw = 0b111;
    pub(super) const GEN_SHIFT: u32 = 6;
    pub(crate) const GEN_MASK: u32 = 0xFF;
    pub(super) const COUNT_SHIFT: u32 = 14;
    pub(crate) const COUNT_MAX: u32 = (1 << 18) - 1;
    pub(crate) const MAX_LEVEL: u8 = 7;
    pub(crate) const MAX_PROBES: u32 = 4;
    pub(crate) const MAX_HALF_OPEN_COUNT: u32 = 0x1F;
    pub(super) const CLAIMED_MASK: u32 = 0x7;
    pub(super) const DONE_SHIFT: u32 = 3;
    pub(super) const DONE_MASK: u32 = 0xF;
    pub(super) const SUCCESS_SHIFT: u32 = 7;
    pub(super) const FAILURE_SHIFT: u32 = 12;
    pub(crate) const REOPENED: u32 = 1 << 17;
}

use layout::{
    CLAIMED_MASK, COUNT_SHIFT, DONE_MASK, DONE_SHIFT, FAILURE_SHIFT, GEN_SHIFT, LEVEL_MASK,
    SUCCESS_SHIFT,
};
// Exported: generations wrap inside GEN_MASK; COUNT_MAX is the largest
// closed failure count (saturating); MAX_LEVEL the largest backoff level;
// MAX_PROBES the slots of a round; MAX_HALF_OPEN_COUNT the largest
// half-open success or failure count; REOPENED the `Open` flag (above).
pub(crate) use layout::{
    COUNT_MAX, GEN_MASK, MAX_HALF_OPEN_COUNT, MAX_LEVEL, MAX_PROBES, REOPENED,
};

/// A decoded state word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    pub(crate) state: State,
    pub(crate) level: u8,
    pub(crate) generation: u32,
    pub(crate) counters: u32,
}

impl Word {
    /// The word of a fresh breaker: Closed, level 0, generation 0, no counts.
    pub(crate) const INIT: Word = Word {
        state: State::Closed,
        level: 0,
        generation: 0,
        counters: 0,
    };

    pub(crate) const fn pack(self) -> Raw {
        (self.state as Raw)
            | (((self.level as Raw) & LEVEL_MASK) << LEVEL_SHIFT)
            | (((self.generation & GEN_MASK) as Raw) << GEN_SHIFT)
            | (((self.counters & COUNT_MAX) as Raw) << COUNT_SHIFT)
    }

    pub(crate) const fn unpack(raw: Raw) -> Word {
        let state = match State::from_tag((raw & TAG_MASK) as u8) {
            Some(s) => s,
            // Only `pack` writes the word, so tags 6 and 7 never occur. A word
            // corrupted in shared memory reads as ForcedOpen: rejecting is the
            // safe reading, and `reset()` repairs it.
            None => State::ForcedOpen,
        };
        Word {
            state,
            level: ((raw >> LEVEL_SHIFT) & LEVEL_MASK) as u8,
            generation: ((raw >> GEN_SHIFT) as u32) & GEN_MASK,
            counters: ((raw >> COUNT_SHIFT) as u32) & COUNT_MAX,
        }
    }

    /// This word moved to `state` with the next generation and cleared counters.
    pub(crate) const fn next(self, state: State, level: u8) -> Word {
        Word {
            state,
            level,
            generation: self.generation.wrapping_add(1) & GEN_MASK,
            counters: 0,
        }
    }

    pub(crate) const fn with_counters(self, counters: u32) -> Word {
        Word { counters, ..self }
    }

    /// Whether a raw word is `Closed` (any generation, any counters).
    #[inline(always)]
    pub(crate) const fn raw_is_closed(raw: Raw) -> bool {
        raw & TAG_MASK == State::Closed as Raw
    }

    /// The generation of a raw word.
    #[inline(always)]
    pub(crate) const fn raw_generation(raw: Raw) -> u32 {
        ((raw >> GEN_SHIFT) as u32) & GEN_MASK
    }

    /// Whether a raw word is `Closed`, level 0, with no failures counted
    /// (only generation bits set): the word on which a success changes
    /// nothing.
    #[inline(always)]
    pub(crate) const fn raw_is_closed_clean(raw: Raw) -> bool {
        raw & !((GEN_MASK as Raw) << GEN_SHIFT) == 0
    }

    /// Whether a raw word is `Open` at backoff level 0 (the open period is
    /// the configured one, no multiplication needed).
    #[inline(always)]
    pub(crate) const fn raw_is_open_level0(raw: Raw) -> bool {
        raw & (TAG_MASK | (LEVEL_MASK << LEVEL_SHIFT)) == State::Open as Raw
    }

    /// The counters of a raw word.
    #[inline(always)]
    pub(crate) const fn raw_counters(raw: Raw) -> u32 {
        ((raw >> COUNT_SHIFT) as u32) & COUNT_MAX
    }

    /// Whether a raw word is `HalfOpen`.
    #[inline(always)]
    pub(crate) const fn raw_is_half_open(raw: Raw) -> bool {
        raw & TAG_MASK == State::HalfOpen as Raw
    }

    /// The raw word of `Closed`, `generation`, level 0, no failures: the
    /// word on which a success changes nothing.
    #[inline(always)]
    pub(crate) const fn raw_closed_clean(generation: u32) -> Raw {
        ((generation & GEN_MASK) as Raw) << GEN_SHIFT
    }
}

/// Half-open counters, packed into the word's upper 32 bits (table above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Probes {
    /// Slots handed out in the current round.
    pub(crate) claimed: u32,
    /// One bit per slot: reported.
    pub(crate) done: u32,
    pub(crate) successes: u32,
    pub(crate) failures: u32,
}

impl Probes {
    pub(crate) const ZERO: Probes = Probes {
        claimed: 0,
        done: 0,
        successes: 0,
        failures: 0,
    };

    pub(crate) const fn pack(self) -> u32 {
        (self.claimed & CLAIMED_MASK)
            | ((self.done & DONE_MASK) << DONE_SHIFT)
            | ((self.successes & MAX_HALF_OPEN_COUNT) << SUCCESS_SHIFT)
            | ((self.failures & MAX_HALF_OPEN_COUNT) << FAILURE_SHIFT)
    }

    pub(crate) const fn unpack(c: u32) -> Probes {
        Probes {
            claimed: c & CLAIMED_MASK,
            done: (c >> DONE_SHIFT) & DONE_MASK,
            successes: (c >> SUCCESS_SHIFT) & MAX_HALF_OPEN_COUNT,
            failures: (c >> FAILURE_SHIFT) & MAX_HALF_OPEN_COUNT,
        }
    }

    /// Probes of this round admitted and not yet reported.
    pub(crate) const fn in_flight(self) -> u32 {
        let claimed_bits = (1u32 << self.claimed) - 1;
        (claimed_bits & !self.done).count_ones()
    }

    /// Whether `slot` was handed out in this round and has not reported.
    pub(crate) const fn holds(self, slot: u8) -> bool {
        (slot as u32) < self.claimed && self.done & (1 << slot) == 0
    }

    /// Only the round (claimed, done): what a reopened word keeps of it.
    pub(crate) const fn round_only(self) -> Probes {
        Probes {
            successes: 0,
            failures: 0,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_names_are_the_names() {
        for s in State::ALL {
            assert_eq!(s.as_cstr().to_bytes(), s.as_str().as_bytes());
        }
    }

    #[test]
    fn tags_round_trip() {
        for s in State::ALL {
            assert_eq!(State::from_tag(s as u8), Some(s));
        }
        assert_eq!(State::from_tag(6), None);
        assert_eq!(State::from_tag(7), None);
    }

    #[test]
    fn word_round_trips_every_state_level_and_edge_values() {
        let gens = [0, 1, 2, 0x7F_FFFF & GEN_MASK, GEN_MASK - 1, GEN_MASK];
        let counters = [0, 1, 0xFFFF, 0x8000_0000, u32::MAX].map(|c| c & COUNT_MAX);
        for state in State::ALL {
            for level in 0..=MAX_LEVEL {
                for &generation in &gens {
                    for &c in &counters {
                        let w = Word {
                            state,
                            level,
                            generation,
                            counters: c,
                        };
                        assert_eq!(Word::unpack(w.pack()), w);
                    }
                }
            }
        }
    }

    #[test]
    fn generation_wraps_inside_its_field() {
        let w = Word {
            generation: GEN_MASK,
            ..Word::INIT
        };
        let n = w.next(State::Open, 3);
        assert_eq!(n.generation, 0);
        assert_eq!(n.level, 3);
        assert_eq!(n.counters, 0);
        assert_eq!(Word::unpack(n.pack()), n);
    }

    #[test]
    fn raw_helpers_agree_with_unpack() {
        for state in State::ALL {
            for generation in [0, 5, GEN_MASK] {
                let w = Word {
                    state,
                    level: 0,
                    generation,
                    counters: 0,
                };
                assert_eq!(Word::raw_is_closed(w.pack()), state == State::Closed);
                assert_eq!(Word::raw_generation(w.pack()), generation);
                assert_eq!(
                    Word::raw_closed_clean(generation) == w.pack(),
                    state == State::Closed
                );
            }
        }
    }

    #[test]
    fn corrupt_tags_read_as_forced_open() {
        assert_eq!(Word::unpack(6).state, State::ForcedOpen);
        assert_eq!(Word::unpack(7).state, State::ForcedOpen);
    }

    #[test]
    fn probes_round_trip_exhaustively_on_field_edges() {
        for claimed in 0..=MAX_PROBES {
            for done in [0, 1, 0x55, 0x80, 0xFF].map(|d| d & DONE_MASK) {
                for successes in [0, 1, 100 & MAX_HALF_OPEN_COUNT, MAX_HALF_OPEN_COUNT] {
                    for failures in [0, 1, 7, MAX_HALF_OPEN_COUNT] {
                        let p = Probes {
                            claimed,
                            done,
                            successes,
                            failures,
                        };
                        assert_eq!(Probes::unpack(p.pack()), p);
                    }
                }
            }
        }
    }

    #[test]
    fn in_flight_counts_claimed_slots_not_done() {
        let p = Probes {
            claimed: 3,
            done: 0b010,
            ..Probes::ZERO
        };
        assert_eq!(p.in_flight(), 2);
        assert!(p.holds(0) && !p.holds(1) && p.holds(2) && !p.holds(3));
        let full = Probes {
            claimed: MAX_PROBES,
            done: DONE_MASK,
            ..Probes::ZERO
        };
        assert_eq!(full.in_flight(), 0);
    }
}
