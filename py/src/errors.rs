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

/// `ValueError` naming the Python argument behind a core `ConfigError`.
pub(crate) fn config_error(e: ConfigError) -> PyErr {
    let arg = match e {
        ConfigError::FailureThreshold => "failure_threshold",
        ConfigError::OpenTicks => "open_timeout",
        ConfigError::BackoffFactor | ConfigError::BackoffLevel | ConfigError::BackoffOverflow => {
            "backoff"
        }
        ConfigError::Probes => "probes",
        ConfigError::CloseAfter => "success_threshold",
        ConfigError::CloseMaxFailurePercent => "close_failure_rate",
        ConfigError::MinCalls => "min_calls",
        ConfigError::SlowPercent => "slow_rate",
        ConfigError::SlowTicks => "slow_call",
        ConfigError::WindowBucket | ConfigError::WindowLen => "window",
        _ => "failure_rate",
    };
    PyValueError::new_err(format!(
        "invalid {arg}: {} (core setting `{}`)",
        e.message(),
        e.field()
    ))
}
