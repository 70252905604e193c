//! `tripbit._tripbit`: the native half of the `tripbit` Python package.
//!
//! Thin `#[pyclass]` wrappers over the core's [`tripbit::Breaker`]: every
//! decision (admit, count, trip, probe, close) is the core's; this crate only
//! reads the clock, turns Python exceptions into outcomes, and announces the
//! transitions the core returns (stdout line, `logging`, listeners). The
//! Pythonic conveniences (argument parsing, decorators, asyncio) live in
//! `python/tripbit/_breaker.py`, in a subclass of `breaker::CoreBreaker`.
//!
//! This file only registers things.

#![forbid(unsafe_code)]

use pyo3::prelude::*;

mod awaitable;
mod breaker;
mod decorated;
mod emit;
mod engine;
mod errors;
#[cfg(target_os = "linux")]
mod fleet;
mod guard;
mod limits;
#[cfg(target_os = "linux")]
mod shared;
mod state;
mod time;

/// The native module. `__version__` comes from `CARGO_PKG_VERSION`, so the
/// version is set once, in the workspace `Cargo.toml`.
#[pymodule]
fn _tripbit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    time::init();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let l = limits::limits();
    let d = pyo3::types::PyDict::new(py);
    d.set_item("failure_threshold", l.failure_threshold)?;
    d.set_item("success_threshold", l.success_threshold)?;
    d.set_item("probes", l.probes)?;
    d.set_item("backoff_factor", l.backoff_factor)?;
    d.set_item("backoff_level", l.backoff_level)?;
    d.set_item("bucket_calls", l.bucket_calls)?;
    m.add("LIMITS", d)?;
    m.add("TripbitError", py.get_type::<errors::TripbitError>())?;
    errors::add_open_error(m)?;
    m.add("CircuitState", state::circuit_state_type(py)?)?;
    m.add_class::<breaker::CoreBreaker>()?;
    m.add_class::<guard::Guard>()?;
    m.add_class::<decorated::SyncGuarded>()?;
    m.add_class::<emit::Transition>()?;
    #[cfg(target_os = "linux")]
    m.add_class::<fleet::FleetMonitor>()?;
    Ok(())
}
