//! The largest settings the core holds, as the core exports them (never
//! restated here), and the conversion of a Python integer to the argument
//! type of a `Config` setter (inferred from the setter, so a setter the
//! core widens needs no edit here). Exported to Python as
//! `tripbit._tripbit.LIMITS`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tripbit::Config;

/// An unsigned integer type a `Config` setter takes.
pub(crate) trait Arg: Copy + TryFrom<u64> {
    /// Its largest value.
    const MAX: u64;
}

impl Arg for u8 {
    const MAX: u64 = u8::MAX as u64;
}
impl Arg for u16 {
    const MAX: u64 = u16::MAX as u64;
}
impl Arg for u32 {
    const MAX: u64 = u32::MAX as u64;
}

/// `set(config, value)` when `value` fits the setter's argument type.
pub(crate) fn apply<T: Arg>(
    set: fn(Config, T) -> Config,
    config: Config,
    arg: &str,
    value: u64,
) -> PyResult<Config> {
    T::try_from(value).map(|v| set(config, v)).map_err(|_| {
        PyValueError::new_err(format!(
            "{arg} must be an integer in 1..={}, got {value}",
            T::MAX
        ))
    })
}

/// The limits, as the core exports them.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// `failure_threshold`: [`tripbit::MAX_FAILURE_THRESHOLD`].
    pub(crate) failure_threshold: u64,
    /// `success_threshold`: [`tripbit::MAX_CLOSE_AFTER`].
    pub(crate) success_threshold: u64,
    /// `probes`: [`tripbit::MAX_PROBES_LIMIT`].
    pub(crate) probes: u64,
    /// `backoff`'s factor: [`tripbit::MAX_BACKOFF_FACTOR`].
    pub(crate) backoff_factor: u64,
    /// `backoff`'s max level: [`tripbit::MAX_BACKOFF_LEVEL`].
    pub(crate) backoff_level: u64,
    /// Calls one window bucket counts: [`tripbit::MAX_BUCKET_CALLS`].
    pub(crate) bucket_calls: u64,
}

pub(crate) fn limits() -> Limits {
    Limits {
        failure_threshold: u64::from(tripbit::MAX_FAILURE_THRESHOLD),
        success_threshold: u64::from(tripbit::MAX_CLOSE_AFTER),
        probes: u64::from(tripbit::MAX_PROBES_LIMIT),
        backoff_factor: u64::from(tripbit::MAX_BACKOFF_FACTOR),
        backoff_level: u64::from(tripbit::MAX_BACKOFF_LEVEL),
        bucket_calls: u64::from(tripbit::MAX_BUCKET_CALLS),
    }
}
