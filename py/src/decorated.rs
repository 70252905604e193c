//! `SyncGuarded`: what `@breaker` returns for a plain (sync) function, so a
//! decorated call crosses into Rust once, with no Python wrapper frame:
//! admit, call, record, or the fallback when rejected. It binds as a method
//! (`__get__`) and has a `__dict__`, so `functools.update_wrapper` gives it
//! the wrapped function's `__name__`, `__doc__`, `__wrapped__`... The Python
//! layer (`_breaker.py`) adds `.breaker`.

use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::PyTraverseError;
use pyo3::exceptions::PyTypeError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use crate::breaker::{CoreBreaker, type_name};

static METHOD_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static ISCOROUTINEFUNCTION: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A sync function guarded by a breaker (the result of `@breaker`).
#[pyclass(frozen, dict, weakref, module = "tripbit._tripbit")]
pub(crate) struct SyncGuarded {
    breaker: Py<CoreBreaker>,
    func: Py<PyAny>,
    /// Read only when the breaker rejects a call; replaced by `.fallback`.
    /// The mutex is never held while Python code runs.
    fallback: Mutex<Option<Py<PyAny>>>,
}

#[pymethods]
impl SyncGuarded {
    #[new]
    fn new(breaker: Py<CoreBreaker>, func: Py<PyAny>) -> SyncGuarded {
        SyncGuarded {
            breaker,
            func,
            fallback: Mutex::new(None),
        }
    }

    #[pyo3(signature = (*args, **kwargs))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fallback = || self.fallback_slot().as_ref().map(|f| f.bind(py).clone());
        CoreBreaker::guarded_call(
            self.breaker.bind(py),
            self.func.bind(py),
            fallback,
            args,
            kwargs,
        )
    }

    /// Binds like a function: `instance.method` is a bound method.
    fn __get__(
        slf: Bound<'_, Self>,
        instance: Option<Bound<'_, PyAny>>,
        _owner: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match instance {
            Some(obj) if !obj.is_none() => {
                let py = slf.py();
                let method_type = METHOD_TYPE.import(py, "types", "MethodType")?;
                Ok(method_type.call1((slf, obj))?.unbind())
            }
            _ => Ok(slf.into_any().unbind()),
        }
    }

    /// `@func.fallback`: registers the function called, with the same
    /// arguments, instead of raising `CircuitBreakerOpenError`; returns it
    /// unchanged. A sync function's fallback must be sync.
    fn fallback<'py>(&self, fallback: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let py = fallback.py();
        if !fallback.is_callable() {
            let ty = type_name(&fallback);
            return Err(PyTypeError::new_err(format!(
                "fallback must be callable, got {ty}"
            )));
        }
        let is_async = ISCOROUTINEFUNCTION
            .import(py, "inspect", "iscoroutinefunction")?
            .call1((&fallback,))?
            .is_truthy()?;
        if is_async {
            let name = self.qualname(py);
            return Err(PyTypeError::new_err(format!(
                "{name} is not async: its fallback cannot be async either"
            )));
        }
        *self.fallback_slot() = Some(fallback.clone().unbind());
        Ok(fallback)
    }

    /// Pickles by reference, as a function does: the module-level name
    /// (`__module__`, `__qualname__`, copied from the wrapped function), so
    /// `ProcessPoolExecutor().map(guarded, ...)` works. The other process
    /// imports the module and so uses its own breaker.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        slf.getattr(pyo3::intern!(slf.py(), "__qualname__"))
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.breaker)?;
        visit.call(&self.func)?;
        // Never blocks: the mutex is only held for a pointer copy, never
        // across Python code, so it is free whenever the collector runs.
        if let Ok(fb) = self.fallback.try_lock() {
            if let Some(f) = fb.as_ref() {
                visit.call(f)?;
            }
        }
        Ok(())
    }

    fn __clear__(&self) {
        let taken = self.fallback_slot().take();
        drop(taken);
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<tripbit guarded function {}>", self.qualname(py))
    }
}

impl SyncGuarded {
    /// The fallback slot; a poisoned lock still holds a valid `Option`.
    fn fallback_slot(&self) -> MutexGuard<'_, Option<Py<PyAny>>> {
        self.fallback.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The wrapped function's `__qualname__` (or its `str()`), for messages.
    fn qualname(&self, py: Python<'_>) -> String {
        let func = self.func.bind(py);
        func.getattr("__qualname__")
            .map_or_else(|_| func.to_string(), |n| n.to_string())
    }
}
