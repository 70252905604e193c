//! Time: the core runs on monotonic nanoseconds (`CLOCK_MONOTONIC` on
//! Linux, the clock every process of the host shares, so a `shared=`
//! breaker gets the same ticks from every process; `tripbit::clock`
//! elsewhere); Python sees epoch seconds. A monotonic tick becomes epoch seconds when it is
//! shown, against the wall clock of that moment (`time.time()`, looked up
//! each time): `time.time() - (now - tick)`. So the epoch times follow the
//! wall clock when it is stepped (NTP, an operator, a test patching
//! `time.time`), as the original breaker's `time.time()` stamps did, while
//! every duration the breaker decides on stays monotonic.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// The `time` module, imported once (its `time` attribute is read on each
/// conversion, so a patched `time.time` is honoured).
static TIME_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Starts the monotonic clock.
pub(crate) fn init() {
    let _ = now();
}

/// Monotonic nanoseconds (never 0 after the first call, so 0 can mean
/// "never" in the atomics that store times).
#[inline]
pub(crate) fn now() -> u64 {
    #[cfg(target_os = "linux")]
    {
        tripbit_shm::now()
    }
    #[cfg(not(target_os = "linux"))]
    {
        tripbit::clock::now()
    }
}

/// A coarse reading of [`now`]'s clock (`CLOCK_MONOTONIC_COARSE` on
/// Linux, the same timebase): bounds on `now()`, at a fifth of its cost.
#[inline]
pub(crate) fn coarse() -> tripbit::TickBounds {
    tripbit::clock::coarse()
}

/// The wall clock now, in epoch seconds, as `time.time()` says.
fn wall(py: Python<'_>) -> f64 {
    let read = || -> PyResult<f64> {
        let module =
            TIME_MODULE.get_or_try_init(py, || Ok::<_, PyErr>(py.import("time")?.unbind()))?;
        module
            .bind(py)
            .getattr(intern!(py, "time"))?
            .call0()?
            .extract()
    };
    read().unwrap_or_else(|e| {
        e.write_unraisable(py, None);
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })
}

/// Epoch seconds for a monotonic tick, against the wall clock now.
pub(crate) fn epoch(py: Python<'_>, mono: u64) -> f64 {
    epoch_at(wall(py), now(), mono)
}

/// Epoch seconds for `mono`, given that the wall clock read `wall` at the
/// monotonic tick `at`.
pub(crate) fn epoch_at(wall: f64, at: u64, mono: u64) -> f64 {
    // Signed: a tick read after `at` is a time after `wall`.
    #[allow(clippy::cast_precision_loss)]
    let delta = (mono as f64 - at as f64) / 1e9;
    wall + delta
}

/// The wall clock and the monotonic clock read together, for converting
/// several ticks consistently (`get_stats`).
pub(crate) fn anchor(py: Python<'_>) -> (f64, u64) {
    let mono = now();
    (wall(py), mono)
}

/// Seconds between two monotonic ticks (0 when `later` is earlier).
pub(crate) fn seconds(earlier: u64, later: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let s = later.saturating_sub(earlier) as f64 / 1e9;
    s
}
