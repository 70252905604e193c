//! The largest settings the core holds, asked of the core itself rather
//! than restated here: the width of each `Config` setter's argument, capped
//! by what `Config::validate` accepts. When the core widens a setting (the
//! consecutive threshold going from `u16` to `u32`), these follow without
//! an edit. Exported to Python as `tripbit._tripbit.LIMITS`.

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

/// The largest `n` in `1..=T::MAX` for which `set(base, n)` validates,
/// assuming the valid values are `1..=limit` (0 when not even 1 is).
fn largest_valid<T: Arg>(set: fn(Config, T) -> Config, base: Config) -> u64 {
    let ok = |n: u64| {
        T::try_from(n)
            .ok()
            .is_some_and(|v| set(base, v).validate().is_ok())
    };
    if !ok(1) {
        return 0;
    }
    let (mut lo, mut hi) = (1u64, T::MAX);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The limits, computed once.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// `failure_threshold`: `Config::consecutive_failures`.
    pub(crate) failure_threshold: u64,
    /// `success_threshold`: `Config::close_after`.
    pub(crate) success_threshold: u64,
    /// `probes`: `Config::probes`.
    pub(crate) probes: u64,
}

pub(crate) fn limits() -> Limits {
    let base = Config::new(1);
    let success_threshold = largest_valid(Config::close_after, base.probes(1));
    let close_all = apply(
        Config::close_after,
        base,
        "success_threshold",
        success_threshold,
    )
    .unwrap_or(base);
    Limits {
        failure_threshold: largest_valid(Config::consecutive_failures, base),
        success_threshold,
        probes: largest_valid(Config::probes, close_all),
    }
}
