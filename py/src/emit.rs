//! Announcing transitions: the original's stdout line, the `tripbit`
//! logger, and the listeners. Runs after the core's CAS published the new
//! state, with no lock held (the core has none, and the listener list is
//! copied out of its mutex first), so a listener may call back into the
//! breaker freely.

use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};
use tripbit::State;

static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `logging.WARNING` and `logging.INFO`.
const WARNING: u8 = 30;
const INFO: u8 = 20;

/// A state change, as listeners receive it.
#[pyclass(frozen, module = "tripbit._tripbit")]
pub(crate) struct Transition {
    breaker: Py<PyAny>,
    name: Py<PyString>,
    old_state: State,
    new_state: State,
    failure_count: u32,
    generation: u32,
    backoff_level: u8,
    time: f64,
}

#[pymethods]
impl Transition {
    /// The breaker that changed state.
    #[getter]
    fn breaker(&self, py: Python<'_>) -> Py<PyAny> {
        self.breaker.clone_ref(py)
    }

    /// Its name (or dotted key).
    #[getter]
    fn name(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    /// The state before: "closed", "open", "half_open", "forced_open",
    /// "forced_closed" or "disabled".
    #[getter]
    fn old_state(&self) -> &'static str {
        self.old_state.as_str()
    }

    /// The state after.
    #[getter]
    fn new_state(&self) -> &'static str {
        self.new_state.as_str()
    }

    /// The failure count the transition line shows.
    #[getter]
    fn failure_count(&self) -> u32 {
        self.failure_count
    }

    /// The core's generation after the change (24 bits, wrapping).
    #[getter]
    fn generation(&self) -> u32 {
        self.generation
    }

    /// Failed probes in a row (the backoff exponent) after the change.
    #[getter]
    fn backoff_level(&self) -> u8 {
        self.backoff_level
    }

    /// When it happened, in epoch seconds.
    #[getter]
    fn time(&self) -> f64 {
        self.time
    }

    /// Garbage-collector support: a listener that keeps its transitions
    /// (`add_listener(events.append)`) makes a cycle through the breaker.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.breaker)?;
        visit.call(&self.name)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Transition(name={:?}, old_state={:?}, new_state={:?}, failure_count={})",
            self.name.bind(py).to_string(),
            self.old_state.as_str(),
            self.new_state.as_str(),
            self.failure_count
        )
    }
}

/// The emoji the transition line carries for the state entered.
fn emoji(s: State) -> &'static str {
    match s {
        State::Closed => "🟢",
        State::Open => "🔴",
        State::HalfOpen => "🟡",
        State::ForcedOpen => "⛔",
        State::ForcedClosed => "🔵",
        State::Disabled => "⚪",
    }
}

fn logger(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    LOGGER
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("logging")?
                    .call_method1("getLogger", ("tripbit",))?
                    .unbind(),
            )
        })
        .map(|l| l.bind(py))
}

/// Writes `line` as `print(line)` would, on the current `sys.stdout`, now.
pub(crate) fn print_line(py: Python<'_>, line: &str) {
    let r = py
        .import("builtins")
        .and_then(|b| b.getattr("print"))
        .and_then(|p| p.call1((line,)));
    if let Err(e) = r {
        e.write_unraisable(py, None);
    }
}

/// Logs `line` on the `tripbit` logger.
pub(crate) fn log_line(py: Python<'_>, level: u8, line: &str) {
    if let Err(e) = logger(py).and_then(|l| l.call_method1("log", (level, line))) {
        e.write_unraisable(py, None);
    }
}

/// Everything one transition produces, in order: the stdout line (when
/// `print`), the log record, then each listener.
pub(crate) struct Announcement<'a, 'py> {
    pub(crate) breaker: &'a Bound<'py, PyAny>,
    pub(crate) name: &'a Py<PyString>,
    pub(crate) transition: tripbit::Transition,
    pub(crate) failure_count: u32,
    pub(crate) time: f64,
    pub(crate) print: bool,
    pub(crate) listeners: Option<Bound<'py, PyTuple>>,
}

impl Announcement<'_, '_> {
    pub(crate) fn emit(self) {
        let py = self.breaker.py();
        let t = self.transition;
        let line = format!(
            "[CircuitBreaker-{}] {} State transition: {} -> {} (failure_count={})",
            self.name.bind(py),
            emoji(t.to),
            t.from.as_str(),
            t.to.as_str(),
            self.failure_count
        );
        if self.print {
            print_line(py, &line);
        }
        let level = if matches!(t.to, State::Open | State::ForcedOpen) {
            WARNING
        } else {
            INFO
        };
        log_line(py, level, &line);
        let Some(listeners) = self.listeners else {
            return;
        };
        let event = Transition {
            breaker: self.breaker.clone().unbind(),
            name: self.name.clone_ref(py),
            old_state: t.from,
            new_state: t.to,
            failure_count: self.failure_count,
            generation: t.generation,
            backoff_level: t.level,
            time: self.time,
        };
        let event = match Bound::new(py, event) {
            Ok(e) => e,
            Err(e) => return e.write_unraisable(py, None),
        };
        for listener in listeners.iter() {
            if let Err(e) = listener.call1((&event,)) {
                e.write_unraisable(py, Some(&listener));
            }
        }
    }
}
