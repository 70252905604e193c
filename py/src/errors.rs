//! Python exceptions, and the core's `ConfigError` named after the Python
//! argument at fault.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use tripbit::ConfigError;

create_exception!(
    tripbit._tripbit,
    TripbitError,
    PyException,
    "Base class of the exceptions tripbit defines."
);

/// `CircuitBreakerOpenError`'s docstring.
const OPEN_ERROR_DOC: &str = "Raised instead of calling the guarded function: the breaker is open \
     (or forced open, or every half-open probe slot is busy). The message is \
     `Circuit breaker OPEN for <name>`; the attributes `name`, `state` and \
     `retry_after` (seconds, or None) say which breaker and until when.";

/// `CircuitBreakerOpenError`, a subclass of [`TripbitError`] whose three
/// attributes are read-only properties over one slot, `_rejection`, that
/// holds `(name, state, retry_after)`: a rejection sets that slot once (a
/// tuple and a slot store) instead of creating an instance dict with three
/// entries (about 150 ns of a 450 ns rejection before). Built once with
/// `type()`, as a Python class would be (the limited API cannot subclass an
/// exception from a `#[pyclass]`); pickled and copied through `copyreg`
/// ([`open_error_reduce`], [`open_error_from`]), so the attributes survive.
static OPEN_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The slot that holds a rejection's `(name, state, retry_after)`.
pub(crate) const REJECTION_SLOT: &str = "_rejection";

/// The `CircuitBreakerOpenError` class (made by [`add_open_error`] when
/// the module is initialised).
pub(crate) fn open_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    OPEN_ERROR.get(py).map(|c| c.bind(py)).ok_or_else(|| {
        pyo3::exceptions::PyRuntimeError::new_err("tripbit._tripbit is not initialised")
    })
}

/// Makes the class (its module is `m`).
fn make_open_error<'py>(m: &Bound<'py, PyModule>) -> PyResult<Bound<'py, PyType>> {
    let py = m.py();
    let ns = PyDict::new(py);
    ns.set_item("__slots__", (REJECTION_SLOT,))?;
    ns.set_item("__module__", "tripbit._tripbit")?;
    ns.set_item("__qualname__", "CircuitBreakerOpenError")?;
    ns.set_item("__doc__", OPEN_ERROR_DOC)?;
    let property = py.import("builtins")?.getattr("property")?;
    for (attr, getter, doc) in [
        (
            "name",
            wrap_pyfunction!(open_error_name, py)?,
            "The breaker's name.",
        ),
        (
            "state",
            wrap_pyfunction!(open_error_state, py)?,
            "The core state that rejected the call.",
        ),
        (
            "retry_after",
            wrap_pyfunction!(open_error_retry_after, py)?,
            "Seconds until the open period ends, or None when unknown.",
        ),
    ] {
        let kw = PyDict::new(py);
        kw.set_item("doc", doc)?;
        ns.set_item(attr, property.call((getter,), Some(&kw))?)?;
    }
    let bases = (py.get_type::<TripbitError>(),);
    Ok(py
        .get_type::<PyType>()
        .call1(("CircuitBreakerOpenError", bases, ns))?
        .cast_into::<PyType>()?)
}

/// Field `i` of a rejection's `(name, state, retry_after)`, or the
/// AttributeError a plain exception would raise for `attr` (an error a
/// caller built with only a message has none).
fn rejection_field<'py>(
    err: &Bound<'py, PyAny>,
    i: usize,
    attr: &str,
) -> PyResult<Bound<'py, PyAny>> {
    match err.getattr(REJECTION_SLOT) {
        Ok(t) => t.get_item(i),
        Err(_) => Err(pyo3::exceptions::PyAttributeError::new_err(format!(
            "'CircuitBreakerOpenError' object has no attribute '{attr}'"
        ))),
    }
}

/// `CircuitBreakerOpenError.name`.
#[pyfunction]
#[pyo3(name = "_open_error_name")]
pub(crate) fn open_error_name<'py>(err: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    rejection_field(err, 0, "name")
}

/// `CircuitBreakerOpenError.state`.
#[pyfunction]
#[pyo3(name = "_open_error_state")]
pub(crate) fn open_error_state<'py>(err: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    rejection_field(err, 1, "state")
}

/// `CircuitBreakerOpenError.retry_after`.
#[pyfunction]
#[pyo3(name = "_open_error_retry_after")]
pub(crate) fn open_error_retry_after<'py>(err: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    rejection_field(err, 2, "retry_after")
}

/// Adds the class, its helpers and its pickle/copy reducer to the module
/// (the default reducer, `BaseException.__reduce__`, keeps `args` and the
/// instance dict, not slots).
pub(crate) fn add_open_error(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(open_error_reduce, m)?)?;
    m.add_function(wrap_pyfunction!(open_error_from, m)?)?;
    let cls = OPEN_ERROR.get_or_try_init(py, || make_open_error(m).map(Bound::unbind))?;
    let cls = cls.bind(py);
    m.add("CircuitBreakerOpenError", cls)?;
    py.import("copyreg")?
        .call_method1("pickle", (cls, m.getattr("_open_error_reduce")?))?;
    Ok(())
}

/// `copyreg` reducer: `(rebuild, (args, rejection))`.
#[pyfunction]
#[pyo3(name = "_open_error_reduce")]
pub(crate) fn open_error_reduce<'py>(err: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
    let py = err.py();
    let rebuild = py.import("tripbit._tripbit")?.getattr("_open_error_from")?;
    let rejection = err
        .getattr(REJECTION_SLOT)
        .unwrap_or_else(|_| py.None().into_bound(py));
    let fields = (err.getattr("args")?, rejection).into_pyobject(py)?;
    PyTuple::new(py, [rebuild, fields.into_any()])
}

/// Rebuilds a pickled `CircuitBreakerOpenError`.
#[pyfunction]
#[pyo3(name = "_open_error_from")]
pub(crate) fn open_error_from<'py>(
    args: &Bound<'py, PyTuple>,
    rejection: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let err = open_error_type(args.py())?.call1(args)?;
    if !rejection.is_none() {
        err.setattr(REJECTION_SLOT, rejection)?;
    }
    Ok(err)
}

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
