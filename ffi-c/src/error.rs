//! `tripbit_result_t`: the stable table of result codes, and their text.
//!
//! The numbers are part of the ABI: they never change and are never reused.
//! A retired code stays here as a comment ("Reserved from previous use").
//! Ranges: 0 success; 1..=99 misuse and run-time outcomes; 100..=199 a
//! rejected `tripbit_config_t`, one code per field.

use core::ffi::{CStr, c_char};

use tripbit::ConfigError;

use crate::panic::boundary;

/// The result of every fallible tripbit function. Fixed numbers, never
/// reused; `tripbit_strerror()` gives the text. Config errors are
/// `TRIPBIT_E_CONFIG ..= 199`, one code per field, and
/// `tripbit_config_field()` names the field.
///
/// When several things are wrong, a call reports the first in this order:
/// the breaker pointer (`TRIPBIT_E_NULL`, `TRIPBIT_E_MISALIGNED`, then
/// `TRIPBIT_E_UNINIT`), the other pointers in argument order (NULL, then
/// misaligned), then the values (in `_record`: the outcome, then the
/// ticket). A config reports its first field at fault in the order
/// `tripbit_config_check()` documents.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum tripbit_result_t {
    /// Success; out-parameters were written.
    TRIPBIT_OK = 0,
    /// A required pointer argument was NULL.
    TRIPBIT_E_NULL = 1,
    /// A pointer argument is not aligned for its type: the breaker to
    /// `TRIPBIT_BREAKER_ALIGN`, every other pointer (config, ticket,
    /// out-parameters) to its type's `alignof`.
    TRIPBIT_E_MISALIGNED = 2,
    /// The storage holds no initialized breaker (zeroed storage, as a
    /// `static` starts, is always detected). A `tripbit_breaker_t` set up by
    /// `tripbit_breaker_init()` or `TRIPBIT_BREAKER_INIT` carries a 64-bit
    /// mark of its settings; host builds (`std`) also accept unmarked
    /// storage whose settings pass the full range check (a region's
    /// breakers), bare-metal builds do not. A `tripbit_window<N>_t` is
    /// checked by its settings.
    TRIPBIT_E_UNINIT = 3,
    /// The breaker rejected the call (open, forced open, or every half-open
    /// probe slot is busy). Not a misuse: fail fast, or use a fallback.
    TRIPBIT_E_REJECTED = 4,
    /// The result was discarded: the breaker changed state (or was reset)
    /// since the ticket was acquired. Not a misuse; nothing was counted.
    TRIPBIT_E_STALE = 5,
    /// The outcome is not a `tripbit_outcome_t` value.
    TRIPBIT_E_OUTCOME = 6,
    /// The ticket was not produced by `tripbit_breaker_acquire()` (its
    /// `probe` field is neither 0 nor 1, its slot is out of range, or a
    /// closed call's generation exceeds 24 bits).
    TRIPBIT_E_TICKET = 7,
    /// A Rust panic was caught at the boundary (a tripbit bug: please report).
    TRIPBIT_E_PANIC = 8,
    // 9..=99: reserved for future misuse codes.
    /// The config was rejected for a reason without a code of its own.
    TRIPBIT_E_CONFIG = 100,
    /// `open_ticks` is 0.
    TRIPBIT_E_CONFIG_OPEN_TICKS = 101,
    /// `consecutive_failures` is 0.
    TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES = 102,
    /// `probes` is 0, above 8, or more than `close_after` plus the
    /// failures the close bar allows.
    TRIPBIT_E_CONFIG_PROBES = 103,
    /// `close_after` is 0 or above 1023.
    TRIPBIT_E_CONFIG_CLOSE_AFTER = 104,
    /// `close_max_failure_percent` is above 99, or with `close_after` allows
    /// more than 1022 half-open failures (`close_after × p / (100 − p)`,
    /// rounded down: the trial's failure counter has 10 bits), i.e.
    /// `close_after × p ≥ 1023 × (100 − p)`.
    TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT = 105,
    /// `backoff_factor` is 0 or above 255.
    TRIPBIT_E_CONFIG_BACKOFF_FACTOR = 106,
    /// `backoff_max_level` is above 31.
    TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL = 107,
    /// `open_ticks × backoff_factor ^ backoff_max_level` overflows 64 bits.
    TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW = 108,
    /// `tripbit_window_config_t`: `failure_percent` is 0 or above 100.
    TRIPBIT_E_CONFIG_FAILURE_PERCENT = 109,
    /// `tripbit_window_config_t`: `min_calls` is more than the window holds
    /// (`buckets × bucket_calls`).
    TRIPBIT_E_CONFIG_MIN_CALLS = 110,
    /// `tripbit_window_config_t`: `bucket_calls` is 0 or above 8191.
    TRIPBIT_E_CONFIG_BUCKET_CALLS = 111,
    /// `tripbit_window_config_t`: `slow_percent` is set but `slow_ticks` is 0.
    TRIPBIT_E_CONFIG_SLOW_TICKS = 112,
    /// `tripbit_window_config_t`: `slow_percent` is above 100, or 0 while
    /// `slow_ticks` is set.
    TRIPBIT_E_CONFIG_SLOW_PERCENT = 113,
    // 114..=199: reserved for future config fields.
}

use tripbit_result_t::*;

impl tripbit_result_t {
    /// Every code, in numeric order (for tests and tables).
    pub(crate) const ALL: [tripbit_result_t; 23] = [
        TRIPBIT_OK,
        TRIPBIT_E_NULL,
        TRIPBIT_E_MISALIGNED,
        TRIPBIT_E_UNINIT,
        TRIPBIT_E_REJECTED,
        TRIPBIT_E_STALE,
        TRIPBIT_E_OUTCOME,
        TRIPBIT_E_TICKET,
        TRIPBIT_E_PANIC,
        TRIPBIT_E_CONFIG,
        TRIPBIT_E_CONFIG_OPEN_TICKS,
        TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES,
        TRIPBIT_E_CONFIG_PROBES,
        TRIPBIT_E_CONFIG_CLOSE_AFTER,
        TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT,
        TRIPBIT_E_CONFIG_BACKOFF_FACTOR,
        TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL,
        TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW,
        TRIPBIT_E_CONFIG_FAILURE_PERCENT,
        TRIPBIT_E_CONFIG_MIN_CALLS,
        TRIPBIT_E_CONFIG_BUCKET_CALLS,
        TRIPBIT_E_CONFIG_SLOW_TICKS,
        TRIPBIT_E_CONFIG_SLOW_PERCENT,
    ];

    /// The code for a raw number, if it is one.
    pub const fn from_u32(n: u32) -> Option<tripbit_result_t> {
        let mut i = 0;
        while i < Self::ALL.len() {
            if Self::ALL[i] as u32 == n {
                return Some(Self::ALL[i]);
            }
            i += 1;
        }
        None
    }

    /// The code for a config the core refused.
    pub const fn from_config_error(e: ConfigError) -> tripbit_result_t {
        match e {
            ConfigError::OpenTicks => TRIPBIT_E_CONFIG_OPEN_TICKS,
            ConfigError::FailureThreshold => TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES,
            ConfigError::Probes => TRIPBIT_E_CONFIG_PROBES,
            ConfigError::CloseAfter => TRIPBIT_E_CONFIG_CLOSE_AFTER,
            ConfigError::CloseMaxFailurePercent | ConfigError::CloseBar => {
                TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT
            }
            ConfigError::BackoffFactor => TRIPBIT_E_CONFIG_BACKOFF_FACTOR,
            ConfigError::BackoffLevel => TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL,
            ConfigError::BackoffOverflow => TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW,
            ConfigError::FailurePercent => TRIPBIT_E_CONFIG_FAILURE_PERCENT,
            ConfigError::MinCalls => TRIPBIT_E_CONFIG_MIN_CALLS,
            ConfigError::WindowBucket => TRIPBIT_E_CONFIG_BUCKET_CALLS,
            ConfigError::SlowTicks => TRIPBIT_E_CONFIG_SLOW_TICKS,
            ConfigError::SlowPercent => TRIPBIT_E_CONFIG_SLOW_PERCENT,
            // `probe_ticks` 0 is mapped to `open_ticks`, the policy and the
            // window length are fixed by the function called; and
            // `ConfigError` is non-exhaustive.
            _ => TRIPBIT_E_CONFIG,
        }
    }

    /// The text `tripbit_strerror()` returns, NUL-terminated.
    pub const fn message(self) -> &'static core::ffi::CStr {
        match self {
            TRIPBIT_OK => c"success",
            TRIPBIT_E_NULL => c"a required pointer argument is NULL",
            TRIPBIT_E_MISALIGNED => {
                c"a pointer argument is misaligned for its type (a breaker needs TRIPBIT_BREAKER_ALIGN)"
            }
            TRIPBIT_E_UNINIT => {
                c"the breaker is not initialized: call tripbit_breaker_init() first"
            }
            TRIPBIT_E_REJECTED => c"circuit breaker open: call rejected",
            TRIPBIT_E_STALE => {
                c"result discarded: the breaker changed state since the ticket was acquired"
            }
            TRIPBIT_E_OUTCOME => c"outcome is not a tripbit_outcome_t value",
            TRIPBIT_E_TICKET => {
                c"ticket was not produced by tripbit_breaker_acquire()"
            }
            TRIPBIT_E_PANIC => c"internal error: a Rust panic was caught at the C boundary",
            TRIPBIT_E_CONFIG => c"config rejected",
            TRIPBIT_E_CONFIG_OPEN_TICKS => w(c"open_ticks must be at least 1", c"open_ticks must be 1..=2^46-1"),
            TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES => w(
                c"consecutive_failures must be at least 1",
                c"consecutive_failures must be 1..=262143",
            ),
            TRIPBIT_E_CONFIG_PROBES => w(
                c"probes must be 1..=8 and at most close_after plus the failures the close bar allows",
                c"probes must be 1..=4 and at most close_after plus the failures the close bar allows",
            ),
            TRIPBIT_E_CONFIG_CLOSE_AFTER => {
                w(c"close_after must be 1..=1023", c"close_after must be 1..=31")
            }
            TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT => w(
                c"close_max_failure_percent must be at most 99 and allow at most 1022 half-open failures with close_after",
                c"close_max_failure_percent must be at most 99 and allow at most 30 half-open failures with close_after",
            ),
            TRIPBIT_E_CONFIG_BACKOFF_FACTOR => c"backoff_factor must be 1..=255",
            TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL => w(
                c"backoff_max_level must be at most 31",
                c"backoff_max_level must be at most 7",
            ),
            TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW => w(
                c"open_ticks x backoff_factor^backoff_max_level overflows 64-bit ticks",
                c"open_ticks x backoff_factor^backoff_max_level must be below 2^46 ticks",
            ),
            TRIPBIT_E_CONFIG_FAILURE_PERCENT => c"failure_percent must be 1..=100",
            TRIPBIT_E_CONFIG_MIN_CALLS => {
                c"min_calls must be at most the calls the window holds (buckets x bucket_calls)"
            }
            TRIPBIT_E_CONFIG_BUCKET_CALLS => c"bucket_calls must be 1..=8191",
            TRIPBIT_E_CONFIG_SLOW_TICKS => {
                c"slow_ticks must be at least 1 when slow_percent is set"
            }
            TRIPBIT_E_CONFIG_SLOW_PERCENT => {
                c"slow_percent must be 1..=100 when slow_ticks is set"
            }
        }
    }

    /// The `tripbit_config_t` field a config code names, NUL-terminated.
    pub const fn config_field(self) -> Option<&'static core::ffi::CStr> {
        match self {
            TRIPBIT_E_CONFIG_OPEN_TICKS => Some(c"open_ticks"),
            TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES => Some(c"consecutive_failures"),
            TRIPBIT_E_CONFIG_PROBES => Some(c"probes"),
            TRIPBIT_E_CONFIG_CLOSE_AFTER => Some(c"close_after"),
            TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT => Some(c"close_max_failure_percent"),
            TRIPBIT_E_CONFIG_BACKOFF_FACTOR => Some(c"backoff_factor"),
            TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL => Some(c"backoff_max_level"),
            TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW => Some(c"backoff_factor"),
            TRIPBIT_E_CONFIG_FAILURE_PERCENT => Some(c"failure_percent"),
            TRIPBIT_E_CONFIG_MIN_CALLS => Some(c"min_calls"),
            TRIPBIT_E_CONFIG_BUCKET_CALLS => Some(c"bucket_calls"),
            TRIPBIT_E_CONFIG_SLOW_TICKS => Some(c"slow_ticks"),
            TRIPBIT_E_CONFIG_SLOW_PERCENT => Some(c"slow_percent"),
            _ => None,
        }
    }
}

/// The text for the 64-bit word's ranges, or for the 32-bit word's
/// (`tripbit::WORD_BITS`).
const fn w(wide: &'static CStr, narrow: &'static CStr) -> &'static CStr {
    if tripbit::WORD_BITS == 32 {
        narrow
    } else {
        wide
    }
}

/// A one-line, NUL-terminated English description of `result` (any
/// `uint32_t`: unknown numbers get "unknown tripbit result code"). Never
/// returns NULL; the string is static, never free it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_strerror(result: u32) -> *const c_char {
    boundary(
        c"unknown tripbit result code".as_ptr(),
        || match tripbit_result_t::from_u32(result) {
            Some(r) => r.message().as_ptr(),
            None => c"unknown tripbit result code".as_ptr(),
        },
    )
}

/// For a config error code (`TRIPBIT_E_CONFIG_*`), the name of the
/// `tripbit_config_t` field at fault, e.g. "probes"; NULL for every other
/// code (including the generic `TRIPBIT_E_CONFIG`). Static string, never free
/// it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_config_field(result: u32) -> *const c_char {
    boundary(core::ptr::null(), || {
        match tripbit_result_t::from_u32(result).and_then(tripbit_result_t::config_field) {
            Some(s) => s.as_ptr(),
            None => core::ptr::null(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable() {
        // NB: sync with the table in README.md and tests/api.c.
        let expected: [(tripbit_result_t, u32); 23] = [
            (TRIPBIT_OK, 0),
            (TRIPBIT_E_NULL, 1),
            (TRIPBIT_E_MISALIGNED, 2),
            (TRIPBIT_E_UNINIT, 3),
            (TRIPBIT_E_REJECTED, 4),
            (TRIPBIT_E_STALE, 5),
            (TRIPBIT_E_OUTCOME, 6),
            (TRIPBIT_E_TICKET, 7),
            (TRIPBIT_E_PANIC, 8),
            (TRIPBIT_E_CONFIG, 100),
            (TRIPBIT_E_CONFIG_OPEN_TICKS, 101),
            (TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES, 102),
            (TRIPBIT_E_CONFIG_PROBES, 103),
            (TRIPBIT_E_CONFIG_CLOSE_AFTER, 104),
            (TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT, 105),
            (TRIPBIT_E_CONFIG_BACKOFF_FACTOR, 106),
            (TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL, 107),
            (TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW, 108),
            (TRIPBIT_E_CONFIG_FAILURE_PERCENT, 109),
            (TRIPBIT_E_CONFIG_MIN_CALLS, 110),
            (TRIPBIT_E_CONFIG_BUCKET_CALLS, 111),
            (TRIPBIT_E_CONFIG_SLOW_TICKS, 112),
            (TRIPBIT_E_CONFIG_SLOW_PERCENT, 113),
        ];
        for (i, (code, n)) in expected.into_iter().enumerate() {
            assert_eq!(code as u32, n);
            assert_eq!(tripbit_result_t::ALL[i], code);
            assert_eq!(tripbit_result_t::from_u32(n), Some(code));
            assert!(!code.message().is_empty());
            assert_eq!(code.config_field().is_some(), (101..200).contains(&n));
        }
        assert_eq!(tripbit_result_t::from_u32(9), None);
        assert_eq!(tripbit_result_t::from_u32(u32::MAX), None);
    }
}

#[cfg(test)]
mod limit_tests {
    use super::tripbit_result_t::*;

    fn text(code: super::tripbit_result_t) -> String {
        code.message().to_str().unwrap().to_owned()
    }

    /// The texts name ranges in C's words; the numbers in them are the
    /// core's limits (this test fails when the core's change).
    #[test]
    fn config_texts_state_the_cores_limits() {
        assert!(
            text(TRIPBIT_E_CONFIG_PROBES).contains(&format!("1..={}", tripbit::MAX_PROBES_LIMIT))
        );
        assert!(
            text(TRIPBIT_E_CONFIG_CLOSE_AFTER)
                .contains(&format!("1..={}", tripbit::MAX_CLOSE_AFTER))
        );
        assert!(
            text(TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT)
                .contains(&format!("{}", tripbit::MAX_CLOSE_AFTER - 1))
        );
        assert!(
            text(TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL)
                .contains(&format!("at most {}", tripbit::MAX_BACKOFF_LEVEL))
        );
    }
}
