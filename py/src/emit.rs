//! Announcing transitions: the original's stdout line, the `tripbit`
//! logger, and the listeners. Runs after the core's CAS published the new
//! state, with no lock held (the core has none, and the listener list is
//! copied out of its mutex first), so a listener may call back into the
//! breaker freely.

use pyo3::PyTraverseError;
use pyo3::exceptions::{PyAttributeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};
use tripbit::State;

static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `logging.WARNING`: transitions to an open state.
pub(crate) const WARNING: u8 = 30;
/// `logging.INFO`: every other announcement line.
pub(crate) const INFO: u8 = 20;

/// A state change, as listeners receive it.
#[pyclass(frozen, module = "tripbit._tripbit")]
pub(crate) struct Transition {
    /// `None` in a copy unpickled elsewhere (a breaker is never pickled).
    breaker: Option<Py<PyAny>>,
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
    /// A transition with these values and no breaker: what unpickling
    /// builds (a breaker is live state and is never pickled), and what a
    /// test of a listener may build.
    #[new]
    #[pyo3(signature = (name, old_state, new_state, failure_count, generation, backoff_level, time))]
    fn new(
        name: Bound<'_, PyString>,
        old_state: &str,
        new_state: &str,
        failure_count: u32,
        generation: u32,
        backoff_level: u8,
        time: f64,
    ) -> PyResult<Transition> {
        Ok(Transition {
            breaker: None,
            name: name.unbind(),
            old_state: parse_state("old_state", old_state)?,
            new_state: parse_state("new_state", new_state)?,
            failure_count,
            generation,
            backoff_level,
            time,
        })
    }

    /// The breaker that changed state. `AttributeError` on a transition
    /// unpickled in another process (or built by hand): it has no breaker.
    #[getter]
    fn breaker(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.breaker
            .as_ref()
            .map(|b| b.clone_ref(py))
            .ok_or_else(|| {
                PyAttributeError::new_err(
                    "this Transition was unpickled or built by hand: a breaker is live state of \
                 the process that owns it and is never pickled with its transitions",
                )
            })
    }

    /// Pickles the values, not the breaker: `Transition(name, old_state,
    /// new_state, failure_count, generation, backoff_level, time)`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let t = slf.get();
        let args = (
            t.name.clone_ref(py),
            t.old_state.as_str(),
            t.new_state.as_str(),
            t.failure_count,
            t.generation,
            t.backoff_level,
            t.time,
        )
            .into_pyobject(py)?;
        PyTuple::new(py, [slf.get_type().into_any(), args.into_any()])
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
        visit.call(self.breaker.as_ref())?;
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

/// The state named `s` ("closed", "half_open", ...).
fn parse_state(arg: &str, s: &str) -> PyResult<State> {
    State::ALL
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| {
            let names: Vec<&str> = State::ALL.iter().map(|st| st.as_str()).collect();
            PyValueError::new_err(format!(
                "{arg} must be one of {}, got {s:?}",
                names.join(", ")
            ))
        })
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

/// How a transition is shown on stdout.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Voice {
    /// Not printed (the lazy OPEN -> HALF_OPEN move, as the original);
    /// still logged and given to the listeners.
    Silent,
    /// An outcome moved the state: the original's lines.
    Outcome,
    /// An operator action (`force_open()`, ...): tripbit's own line.
    Operator,
    /// `reset()`: the original's `Manually reset` line.
    Reset,
}

/// Everything one transition produces, in order: the stdout lines (when
/// `print`), the same lines as log records, then each listener.
pub(crate) struct Announcement<'a, 'py> {
    pub(crate) breaker: &'a Bound<'py, PyAny>,
    pub(crate) name: &'a Py<PyString>,
    /// `open_timeout` as given (the OPENED line shows it).
    pub(crate) open_timeout: &'a Py<PyAny>,
    pub(crate) transition: tripbit::Transition,
    pub(crate) failure_count: u32,
    pub(crate) time: f64,
    pub(crate) voice: Voice,
    pub(crate) print: bool,
    pub(crate) listeners: Option<Bound<'py, PyTuple>>,
}

impl Announcement<'_, '_> {
    /// The lines, exactly as the original printed them for the drop-in's
    /// transitions (two for an opening, two for a close from half-open).
    fn lines(&self) -> Vec<String> {
        let py = self.breaker.py();
        let name = self.name.bind(py);
        let t = self.transition;
        let (from, to) = (t.from.as_str(), t.to.as_str());
        match (self.voice, t.from, t.to) {
            (Voice::Reset, _, _) => vec![format!(
                "[CircuitBreaker-{name}] Manually reset: {from} -> CLOSED"
            )],
            (_, _, State::Open) => {
                let timeout = self
                    .open_timeout
                    .bind(py)
                    .str()
                    .map_or_else(|_| String::from("?"), |s| s.to_string());
                vec![
                    format!(
                        "[CircuitBreaker-{name}] 🔴 State transition: {from} -> {to} (failure_count={})",
                        self.failure_count
                    ),
                    format!(
                        "[CircuitBreaker-{name}] ⚠️ Circuit OPENED - will block calls for {timeout}s"
                    ),
                ]
            }
            (_, State::HalfOpen, State::Closed) => vec![
                format!("[CircuitBreaker-{name}] 🟢 State transition: {from} -> {to}"),
                format!("[CircuitBreaker-{name}] ✅ Circuit CLOSED - normal operation resumed"),
            ],
            _ => vec![format!(
                "[CircuitBreaker-{name}] {} State transition: {from} -> {to} (failure_count={})",
                emoji(t.to),
                self.failure_count
            )],
        }
    }

    pub(crate) fn emit(self) {
        let py = self.breaker.py();
        let t = self.transition;
        let level = if matches!(t.to, State::Open | State::ForcedOpen) {
            WARNING
        } else {
            INFO
        };
        for line in self.lines() {
            if self.print {
                print_line(py, &line);
            }
            log_line(py, level, &line);
        }
        let Some(listeners) = self.listeners else {
            return;
        };
        let event = Transition {
            breaker: Some(self.breaker.clone().unbind()),
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
