//! `CircuitState`: a real `enum.Enum` (the drop-in compares `.value`),
//! built once with the functional API.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};
use tripbit::State;

static CIRCUIT_STATE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// CLOSED, OPEN, HALF_OPEN members, in that order.
static MEMBERS: PyOnceLock<[Py<PyAny>; 3]> = PyOnceLock::new();

const DOC: &str = "The three states of the drop-in API; compare `.value` with \
\"closed\", \"open\" or \"half_open\". The operator states map onto them: \
forced_open reads OPEN, forced_closed and disabled read CLOSED \
(`CircuitBreaker.snapshot()['state']` has the exact one).";

/// The `CircuitState` class.
pub(crate) fn circuit_state_type(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    CIRCUIT_STATE
        .get_or_try_init(py, || {
            // The values are the core's state names.
            let members = PyList::new(
                py,
                [
                    ("CLOSED", State::Closed.as_str()),
                    ("OPEN", State::Open.as_str()),
                    ("HALF_OPEN", State::HalfOpen.as_str()),
                ],
            )?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("module", "tripbit._tripbit")?;
            kwargs.set_item("qualname", "CircuitState")?;
            let cls = py
                .import("enum")?
                .getattr("Enum")?
                .call(("CircuitState", members), Some(&kwargs))?;
            cls.setattr("__doc__", DOC)?;
            Ok(cls.unbind())
        })
        .map(|c| c.bind(py))
}

/// The member for a core state: the operator states read as the drop-in
/// state that behaves like them.
pub(crate) fn member(py: Python<'_>, s: State) -> PyResult<Bound<'_, PyAny>> {
    let members = MEMBERS.get_or_try_init(py, || -> PyResult<_> {
        let cls = circuit_state_type(py)?;
        Ok([
            cls.getattr("CLOSED")?.unbind(),
            cls.getattr("OPEN")?.unbind(),
            cls.getattr("HALF_OPEN")?.unbind(),
        ])
    })?;
    Ok(members[index(s)].bind(py).clone())
}

/// The drop-in value string (`CircuitState(...).value`) for a core state.
pub(crate) fn value(s: State) -> &'static str {
    [State::Closed, State::Open, State::HalfOpen][index(s)].as_str()
}

static NAMES: PyOnceLock<[Py<PyString>; 6]> = PyOnceLock::new();

/// The core's name of `s` as an interned Python string, built once (a
/// rejection sets it on its exception without allocating).
pub(crate) fn name(py: Python<'_>, s: State) -> Bound<'_, PyString> {
    let names = NAMES.get_or_init(py, || {
        State::ALL.map(|st| PyString::intern(py, st.as_str()).unbind())
    });
    names[s as usize].bind(py).clone()
}

fn index(s: State) -> usize {
    match s {
        State::Open | State::ForcedOpen => 1,
        State::HalfOpen => 2,
        _ => 0,
    }
}
