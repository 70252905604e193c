//! Python exceptions, and the core's `ConfigError` named after the Python
//! argument at fault.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use tripbit::ConfigError;

create_exception!(
    tripbit._tripbit,
    TripbitError,
    PyException,
    "Base class of the exceptions tripbit defines."
);

create_exception!(
    tripbit._tripbit,
    CircuitBreakerOpenError,
    TripbitError,
    "Raised instead of calling the guarded function: the breaker is open \
     (or forced open, or every half-open probe slot is busy). The message is \
     `Circuit breaker OPEN for <name>`; the attributes `name`, `state` and \
     `retry_after` (seconds, or None) say which breaker and until when."
);

/// `ValueError` naming the Python argument behind a core `ConfigError`, in
/// Python's terms (`success_threshold`, never the core's `close_after`).
/// The Python layer checks every range first; this is the backstop.
pub(crate) fn config_error(e: ConfigError) -> PyErr {
    let msg = match e {
        ConfigError::FailureThreshold => "failure_threshold must be at least 1",
        ConfigError::OpenTicks => "open_timeout must be more than 0 seconds",
        ConfigError::BackoffFactor => "backoff factor must be at least 1",
        ConfigError::BackoffLevel => "backoff max_level must be at most 31",
        ConfigError::BackoffOverflow => {
            "backoff: open_timeout x factor**max_level is more than 2**64 - 1 nanoseconds"
        }
        ConfigError::Probes => {
            "probes must be at least 1 and at most what the half-open trial can use \
             (success_threshold plus the failures close_failure_rate allows)"
        }
        ConfigError::CloseAfter => "success_threshold is out of range (see tripbit.LIMITS)",
        ConfigError::CloseMaxFailurePercent => {
            "close_failure_rate must be at most 99 and below failure_rate"
        }
        ConfigError::FailurePercent => "failure_rate must be a percent in 1..100",
        ConfigError::MinCalls => "min_calls must be at least 1",
        ConfigError::SlowPercent => "slow_rate must be a percent in 1..100",
        ConfigError::SlowTicks => "slow_call must be more than 0 seconds",
        ConfigError::ProbeTimeout => "probe_timeout must be more than 0 seconds",
        ConfigError::CloseBar => {
            "success_threshold with close_failure_rate allows more half-open failures than the core counts"
        }
        ConfigError::WindowBucket | ConfigError::WindowLen => {
            "window must hold at least 1 call (or window_seconds at least 1 ns)"
        }
        _ => "failure_rate/window settings do not fit the failure_threshold policy",
    };
    PyValueError::new_err(msg)
}
