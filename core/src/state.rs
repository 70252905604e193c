//! The state word: one `u64` that holds the whole decision of a breaker.
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
//! - `HalfOpen`: probes in flight (bits 32..40), successes (40..52), failures (52..64).
//! - every other state: zero.
//!
//! All functions here are pure `const fn`s, tested exhaustively at the bottom.

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

const TAG_MASK: u64 = 0b111;
const LEVEL_SHIFT: u32 = 3;
const LEVEL_MASK: u64 = 0b1_1111;
const GEN_SHIFT: u32 = 8;
/// Generations are 24 bits wide and wrap.
pub(crate) const GEN_MASK: u32 = 0x00FF_FFFF;
const COUNT_SHIFT: u32 = 32;

/// Largest backoff level the word can hold.
pub(crate) const MAX_LEVEL: u8 = 31;
/// Largest number of concurrent half-open probes.
pub(crate) const MAX_PROBES: u32 = 0xFF;
/// Largest half-open success or failure count.
pub(crate) const MAX_HALF_OPEN_COUNT: u32 = 0xFFF;

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

    pub(crate) const fn pack(self) -> u64 {
        (self.state as u64)
            | (((self.level as u64) & LEVEL_MASK) << LEVEL_SHIFT)
            | (((self.generation & GEN_MASK) as u64) << GEN_SHIFT)
            | ((self.counters as u64) << COUNT_SHIFT)
    }

    pub(crate) const fn unpack(raw: u64) -> Word {
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
            counters: (raw >> COUNT_SHIFT) as u32,
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
    pub(crate) const fn raw_is_closed(raw: u64) -> bool {
        raw & TAG_MASK == State::Closed as u64
    }

    /// The generation of a raw word.
    #[inline(always)]
    pub(crate) const fn raw_generation(raw: u64) -> u32 {
        ((raw >> GEN_SHIFT) as u32) & GEN_MASK
    }

    /// Whether a raw word is `Closed`, level 0, with no failures counted
    /// (only generation bits set): the word on which a success changes
    /// nothing.
    #[inline(always)]
    pub(crate) const fn raw_is_closed_clean(raw: u64) -> bool {
        raw & !((GEN_MASK as u64) << GEN_SHIFT) == 0
    }

    /// Whether a raw word is `Open` at backoff level 0 (the open period is
    /// the configured one, no multiplication needed).
    #[inline(always)]
    pub(crate) const fn raw_is_open_level0(raw: u64) -> bool {
        raw & (TAG_MASK | (LEVEL_MASK << LEVEL_SHIFT)) == State::Open as u64
    }

    /// Whether a raw word is `HalfOpen`.
    #[inline(always)]
    pub(crate) const fn raw_is_half_open(raw: u64) -> bool {
        raw & TAG_MASK == State::HalfOpen as u64
    }

    /// The raw word of `Closed`, `generation`, level 0, no failures: the
    /// word on which a success changes nothing.
    #[inline(always)]
    pub(crate) const fn raw_closed_clean(generation: u32) -> u64 {
        ((generation & GEN_MASK) as u64) << GEN_SHIFT
    }
}

/// Half-open counters, packed into the word's upper 32 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Probes {
    pub(crate) in_flight: u32,
    pub(crate) successes: u32,
    pub(crate) failures: u32,
}

impl Probes {
    pub(crate) const fn pack(self) -> u32 {
        (self.in_flight & MAX_PROBES)
            | ((self.successes & MAX_HALF_OPEN_COUNT) << 8)
            | ((self.failures & MAX_HALF_OPEN_COUNT) << 20)
    }

    pub(crate) const fn unpack(c: u32) -> Probes {
        Probes {
            in_flight: c & MAX_PROBES,
            successes: (c >> 8) & MAX_HALF_OPEN_COUNT,
            failures: (c >> 20) & MAX_HALF_OPEN_COUNT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let gens = [0, 1, 2, 0x7F_FFFF, GEN_MASK - 1, GEN_MASK];
        let counters = [0, 1, 0xFFFF, 0x8000_0000, u32::MAX];
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
        for in_flight in [0, 1, 2, 254, MAX_PROBES] {
            for successes in [0, 1, 100, MAX_HALF_OPEN_COUNT] {
                for failures in [0, 1, 7, MAX_HALF_OPEN_COUNT] {
                    let p = Probes {
                        in_flight,
                        successes,
                        failures,
                    };
                    assert_eq!(Probes::unpack(p.pack()), p);
                }
            }
        }
    }
}
