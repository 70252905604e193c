//! Trip policies: the sealed [`Policy`] trait, the default
//! [`Consecutive`] policy and its closed-state record. The sliding-window
//! policy, `Window<N>`, is in `window.rs`.

#![cfg_attr(tripbit_word32, allow(clippy::unnecessary_cast))] // the 32-bit word casts u32 to Raw = u32

use crate::config::{Config, ConfigError, Trip};
use crate::machine::{Core, When};
use crate::state::{GEN_MASK, Raw, State, Word};
use crate::sync::Ordering;
use crate::types::{Outcome, Stale, Ticket, Transition, WindowCounts};

/// The default policy: trip after `n` consecutive failures. Zero-sized: its
/// failure count lives in the state word, its threshold in the breaker.
///
/// ```
/// assert_eq!(core::mem::size_of::<tripbit::Consecutive>(), 0);
/// ```
#[derive(Debug)]
#[repr(C)]
pub struct Consecutive {
    _private: [u8; 0],
}

impl Consecutive {
    pub(crate) const INIT: Consecutive = Consecutive { _private: [] };

    /// The policy for `config`: a consecutive-failures trip and no
    /// slow-call rule, or `ConfigError::Policy`.
    pub(crate) const fn for_config(config: &Config) -> Result<Consecutive, ConfigError> {
        if !matches!(config.trip, Trip::ConsecutiveFailures(_)) || config.slow().is_some() {
            return Err(ConfigError::Policy);
        }
        Ok(Consecutive::INIT)
    }
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// A trip policy: [`Consecutive`] (the default) or [`Window<N>`](crate::Window). Sealed;
/// its methods are tripbit's internals.
pub trait Policy: sealed::Sealed + Sized {
    /// Whether closed-state counts live in the state word only (so a success
    /// on a clean closed word changes nothing and can return after a load).
    #[doc(hidden)]
    const COUNTS_IN_WORD: bool;
    /// Whether the policy's own settings are in the ranges its constructor
    /// accepts (for storage a breaker did not write, see `Breaker::is_valid`).
    #[doc(hidden)]
    fn is_valid(&self) -> bool;
    /// Whether a closed breaker admits a call without its start tick (the
    /// policy never measures how long a closed call took).
    #[doc(hidden)]
    fn untimed_admission(&self) -> bool;
    #[doc(hidden)]
    fn record_closed(
        &self,
        core: &Core,
        cur: Raw,
        ticket: Ticket,
        outcome: Outcome,
        when: &mut When<'_>,
    ) -> Result<Option<Transition>, Stale>;
    /// Counts a success recorded on the closed word `cur` (the word it was
    /// admitted on, loaded again just now) when the policy can do it
    /// without a tick and without a decision, and says whether it did; on
    /// `false` nothing was counted and `record_closed` records it.
    #[doc(hidden)]
    fn record_success_fast(&self, cur: Raw) -> bool;
    #[doc(hidden)]
    fn counts(&self, now: u64, generation: u32) -> WindowCounts;
    /// The policy for `config` (already validated), or why it does not fit.
    #[doc(hidden)]
    fn make(config: &Config) -> Result<Self, ConfigError>;
}

impl sealed::Sealed for Consecutive {}

impl Policy for Consecutive {
    const COUNTS_IN_WORD: bool = true;

    fn is_valid(&self) -> bool {
        true // zero-sized: its threshold is in the breaker's settings
    }

    fn untimed_admission(&self) -> bool {
        true
    }

    fn record_closed(
        &self,
        core: &Core,
        cur: Raw,
        ticket: Ticket,
        outcome: Outcome,
        when: &mut When<'_>,
    ) -> Result<Option<Transition>, Stale> {
        record_consecutive(core, cur, ticket, outcome, when)
    }

    fn record_success_fast(&self, _cur: Raw) -> bool {
        false // its clean success is `Breaker::clean_success`, one compare
    }

    fn counts(&self, _now: u64, _generation: u32) -> WindowCounts {
        WindowCounts::ZERO
    }

    fn make(config: &Config) -> Result<Self, ConfigError> {
        Consecutive::for_config(config)
    }
}

/// The consecutive policy's closed-state record.
///
/// `cur` is the word `record_inner` already loaded (no second load on the
/// hot path).
pub(crate) fn record_consecutive(
    core: &Core,
    mut cur: Raw,
    ticket: Ticket,
    outcome: Outcome,
    when: &mut When<'_>,
) -> Result<Option<Transition>, Stale> {
    let threshold = core.params.threshold;
    loop {
        let w = Word::unpack(cur);
        if w.generation != ticket.generation & GEN_MASK
            || !matches!(w.state, State::Closed | State::Disabled)
        {
            return Err(Stale);
        }
        let next = match outcome {
            Outcome::Ignored => return Ok(None),
            // The hot path: a success while the count is already zero writes
            // nothing. Loads only, no read-modify-write.
            Outcome::Success if w.counters == 0 => return Ok(None),
            Outcome::Success => w.with_counters(0),
            Outcome::Failure => {
                let failures = w.counters.saturating_add(1);
                if w.state == State::Closed && failures >= threshold {
                    // The only tick a closed record needs: the trip's.
                    return match core.trip_from(cur, when.now()) {
                        Some(t) => Ok(Some(t)),
                        None => {
                            // Lost the race: re-read and decide again.
                            // Ordering: Relaxed, as above.
                            cur = core.word.load(Ordering::Relaxed);
                            continue;
                        }
                    };
                }
                w.with_counters(failures)
            }
        };
        // Ordering: Relaxed both ways: the failure count publishes no other
        // memory; on failure the loop re-decodes the word.
        match core.word.compare_exchange_weak(
            cur,
            next.pack(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Ok(None),
            Err(actual) => cur = actual,
        }
    }
}
