//! `Guard`: one admitted call whose outcome the caller reports (the
//! ask-then-report shape), explicitly or as a context manager. It holds the
//! core's plain `Ticket`; a guard dropped unreported releases its half-open
//! probe slot and counts nothing. A guard taken inside a half-open probe of
//! the same breaker (same thread or task) holds no ticket: it is part of
//! that probe and reports nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use pyo3::PyTraverseError;
use pyo3::exceptions::PyException;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyAny;
use tripbit::{Outcome, Ticket};

use crate::breaker::CoreBreaker;

/// `RuntimeError` for a `Guard` reported twice.
pub(crate) fn already_recorded() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("this call's outcome was already recorded")
}

/// An admitted call, from `CircuitBreaker.guard()`.
#[pyclass(frozen, module = "tripbit._tripbit")]
pub(crate) struct Guard {
    breaker: Py<CoreBreaker>,
    /// `None`: part of an enclosing probe (nothing to record).
    ticket: Option<Ticket>,
    /// Set by the first report; a ticket is recorded exactly once.
    done: AtomicBool,
    /// The `ContextVar` token while a probe guard's `with` block runs (so
    /// guarded calls inside it are part of the probe).
    token: Mutex<Option<Py<PyAny>>>,
}

impl Guard {
    pub(crate) fn new(breaker: Py<CoreBreaker>, ticket: Ticket) -> Guard {
        Guard {
            breaker,
            ticket: Some(ticket),
            done: AtomicBool::new(false),
            token: Mutex::new(None),
        }
    }

    /// A guard inside an enclosing probe of the same breaker.
    pub(crate) fn inside(breaker: Py<CoreBreaker>) -> Guard {
        Guard {
            breaker,
            ticket: None,
            done: AtomicBool::new(false),
            token: Mutex::new(None),
        }
    }

    fn record(&self, py: Python<'_>, outcome: Outcome) -> PyResult<()> {
        // Ordering: Relaxed; the flag only arbitrates who records, the core
        // word orders the rest.
        if self.done.swap(true, Ordering::Relaxed) {
            return Err(already_recorded());
        }
        if let Some(ticket) = self.ticket {
            let b = self.breaker.bind(py);
            b.get().record_outcome(b, ticket, outcome);
        }
        Ok(())
    }

    fn token_slot(&self) -> std::sync::MutexGuard<'_, Option<Py<PyAny>>> {
        self.token.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[pymethods]
impl Guard {
    /// The call worked.
    fn success(&self, py: Python<'_>) -> PyResult<()> {
        self.record(py, Outcome::Success)
    }

    /// The call failed: counts towards opening the breaker.
    fn failure(&self, py: Python<'_>) -> PyResult<()> {
        self.record(py, Outcome::Failure)
    }

    /// Neither (cancelled, a client error): counts nothing, frees a probe slot.
    fn ignore(&self, py: Python<'_>) -> PyResult<()> {
        self.record(py, Outcome::Ignored)
    }

    /// Whether this call holds a half-open probe slot (False for a guard
    /// that is part of an enclosing probe: it holds none of its own).
    #[getter]
    fn is_probe(&self) -> bool {
        self.ticket.is_some_and(|t| t.probe)
    }

    /// Whether this guard is part of an enclosing half-open probe of the
    /// same breaker (same thread or task): it reports nothing, the
    /// enclosing probe counts once.
    #[getter]
    fn nested(&self) -> bool {
        self.ticket.is_none()
    }

    /// Whether an outcome was reported already.
    #[getter]
    fn recorded(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    /// A probe's `with` block marks the thread or task as inside the probe.
    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        let this = slf.get();
        if this.ticket.is_some_and(|t| t.probe) {
            let py = slf.py();
            let token = this.breaker.get().enter_probe(py);
            let old = std::mem::replace(&mut *this.token_slot(), token);
            drop(old);
        }
        slf
    }

    /// Reports the block's outcome unless one was reported inside it: no
    /// exception is a success, an `Exception` a failure (after the
    /// breaker's filters), any other `BaseException` is ignored. Never
    /// suppresses the exception.
    #[pyo3(signature = (exc_type, exc_value, traceback))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        let _ = (exc_type, traceback);
        let token = self.token_slot().take();
        if token.is_some() {
            self.breaker.get().leave_probe(py, token);
        }
        if self.done.load(Ordering::Relaxed) {
            return false;
        }
        let outcome = match exc_value {
            None => Outcome::Success,
            Some(e) if e.is_instance_of::<PyException>() => {
                self.breaker.bind(py).get().classify_value(e)
            }
            Some(_) => Outcome::Ignored,
        };
        // A concurrent report won the race: nothing left to do.
        let _ = self.record(py, outcome);
        false
    }

    /// Garbage-collector support (a guard kept where its breaker's
    /// listeners can reach it makes a cycle).
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.breaker)?;
        if let Ok(token) = self.token.try_lock() {
            visit.call(token.as_ref())?;
        }
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "<Guard probe={} recorded={}>",
            self.is_probe(),
            self.done.load(Ordering::Relaxed)
        )
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let (false, Some(ticket)) = (*self.done.get_mut(), self.ticket) {
            // Counts nothing, releases a probe slot; never a transition, so
            // nothing to announce (and no Python needed).
            self.breaker.get().release(ticket);
        }
    }
}
