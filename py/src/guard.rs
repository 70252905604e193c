//! `Guard`: one admitted call whose outcome the caller reports (the
//! ask-then-report shape), explicitly or as a context manager. It holds the
//! core's plain `Ticket`; a guard dropped unreported releases its half-open
//! probe slot and counts nothing.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::PyTraverseError;
use pyo3::exceptions::PyException;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::PyAny;
use tripbit::{Outcome, Ticket};

use crate::breaker::{CoreBreaker, already_recorded};

/// An admitted call, from `CircuitBreaker.guard()`.
#[pyclass(frozen, module = "tripbit._tripbit")]
pub(crate) struct Guard {
    breaker: Py<CoreBreaker>,
    ticket: Ticket,
    /// Set by the first report; a ticket is recorded exactly once.
    done: AtomicBool,
}

impl Guard {
    pub(crate) fn new(breaker: Py<CoreBreaker>, ticket: Ticket) -> Guard {
        Guard {
            breaker,
            ticket,
            done: AtomicBool::new(false),
        }
    }

    fn record(&self, py: Python<'_>, outcome: Outcome) -> PyResult<()> {
        // Ordering: Relaxed; the flag only arbitrates who records, the core
        // word orders the rest.
        if self.done.swap(true, Ordering::Relaxed) {
            return Err(already_recorded());
        }
        let b = self.breaker.bind(py);
        b.get().record_outcome(b, self.ticket, outcome);
        Ok(())
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

    /// Whether this call holds a half-open probe slot.
    #[getter]
    fn is_probe(&self) -> bool {
        self.ticket.is_probe()
    }

    /// Whether an outcome was reported already.
    #[getter]
    fn recorded(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
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
        visit.call(&self.breaker)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Guard probe={} recorded={}>",
            self.ticket.is_probe(),
            self.done.load(Ordering::Relaxed)
        )
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !*self.done.get_mut() {
            // Counts nothing, releases a probe slot; never a transition, so
            // nothing to announce (and no Python needed).
            let _ = self.breaker.get().core.record(
                self.ticket,
                Outcome::Ignored,
                self.ticket.acquired_at,
            );
        }
    }
}
