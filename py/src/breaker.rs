//! `CoreBreaker`: the native base class of `tripbit.CircuitBreaker`.
//!
//! A frozen pyclass over the core breaker's atomics: no Python-level lock,
//! no `RefCell`. The guarded path (`call`) crosses into Rust once, reads the
//! clock only when the core needs it, and lets the core decide everything.
//! Besides the core it keeps only bookkeeping the drop-in reports
//! (last failure, last state change), the exception filters and the
//! listener list.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::PyTraverseError;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use tripbit::{Config, OpenedBy, Outcome, Rejected, Snapshot, State, Ticket, Transition};

use crate::emit::{Announcement, INFO, Voice, log_line, print_line};
use crate::engine::{Core, count_buckets, time_buckets};
use crate::errors::{self, config_error};
use crate::guard::Guard;
use crate::limits::apply;
use crate::{awaitable, state, time};

/// Which exceptions an exception filter matches.
enum Matcher {
    /// `isinstance(exc, types)`.
    Types(Py<PyTuple>),
    /// `bool(predicate(exc))`.
    Predicate(Py<PyAny>),
}

impl Matcher {
    fn new(arg: &str, obj: &Bound<'_, PyAny>) -> PyResult<Matcher> {
        if let Ok(t) = obj.cast::<PyTuple>() {
            for item in t.iter() {
                if !item.is_instance_of::<pyo3::types::PyType>() {
                    return Err(PyTypeError::new_err(format!(
                        "{arg} must be an exception type, a tuple of them, or a predicate; got {} in the tuple",
                        item.get_type().name()?
                    )));
                }
            }
            Ok(Matcher::Types(t.clone().unbind()))
        } else if obj.is_callable() {
            Ok(Matcher::Predicate(obj.clone().unbind()))
        } else {
            Err(PyTypeError::new_err(format!(
                "{arg} must be an exception type, a tuple of them, or a predicate; got {}",
                obj.get_type().name()?
            )))
        }
    }

    /// Whether `exc` matches; `on_error` when the predicate raises (the
    /// predicate's error goes to `sys.unraisablehook`, the call's own
    /// exception keeps propagating).
    fn matches(&self, exc: &Bound<'_, PyAny>, on_error: bool) -> bool {
        let py = exc.py();
        let r = match self {
            Matcher::Types(t) => exc.is_instance(t.bind(py)),
            Matcher::Predicate(p) => p.bind(py).call1((exc,)).and_then(|r| r.is_truthy()),
        };
        r.unwrap_or_else(|e| {
            e.write_unraisable(py, Some(exc));
            on_error
        })
    }

    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        match self {
            Matcher::Types(t) => visit.call(t),
            Matcher::Predicate(p) => visit.call(p),
        }
    }

    fn to_object(&self, py: Python<'_>) -> Py<PyAny> {
        match self {
            Matcher::Types(t) => t.clone_ref(py).into_any(),
            Matcher::Predicate(p) => p.clone_ref(py),
        }
    }
}

/// The settings, as `CoreBreaker.settings` reports them.
struct Settings {
    open_ns: u64,
    /// The probe deadline (`u64::MAX`: never).
    probe_ns: u64,
    probes: u8,
    close_failure_rate: u8,
    backoff: (u8, u8),
    /// `(percent, min_calls)` for a window breaker.
    failure_rate: Option<(u8, u32)>,
    /// Effective count window (calls) or time window (ns).
    window_calls: Option<u32>,
    window_ns: Option<u64>,
    slow: Option<(u64, u8)>,
}

/// The exception filters: which exceptions count as failures.
struct Filters {
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl Filters {
    /// The filters' verdict on an `Exception` instance.
    fn classify(&self, exc: &Bound<'_, PyAny>) -> Outcome {
        if let Some(inc) = &self.include {
            if !inc.matches(exc, true) {
                return Outcome::Ignored;
            }
        }
        if let Some(exc_m) = &self.exclude {
            if exc_m.matches(exc, false) {
                return Outcome::Ignored;
            }
        }
        Outcome::Failure
    }

    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        for m in [&self.include, &self.exclude].into_iter().flatten() {
            m.traverse(visit)?;
        }
        Ok(())
    }
}

/// What the drop-in reports beside the core's counts: its timestamps, and
/// the window failures that tripped a window breaker. Every access is
/// `Relaxed`: timestamps for reports, ordered by nothing else (each value
/// pairs with no other access).
struct DropInTimes {
    /// Monotonic ns of the last failure; 0 = none since creation or reset.
    last_failure: AtomicU64,
    /// Monotonic ns of the last state change.
    last_change: AtomicU64,
    /// Window breakers: `generation << 32 | failures`, the window failures
    /// that tripped the breaker into that generation.
    trip_failures: AtomicU64,
}

impl DropInTimes {
    fn new(now: u64) -> DropInTimes {
        DropInTimes {
            last_failure: AtomicU64::new(0),
            last_change: AtomicU64::new(now),
            trip_failures: AtomicU64::new(0),
        }
    }

    fn last_failure(&self) -> Option<u64> {
        // Ordering: Relaxed, see the type.
        match self.last_failure.load(Ordering::Relaxed) {
            0 => None,
            t => Some(t),
        }
    }

    fn failed(&self, now: u64) {
        // Ordering: Relaxed, see the type.
        self.last_failure.fetch_max(now.max(1), Ordering::Relaxed);
    }

    /// `last_failure_time` back to None (a close, a reset).
    fn clear_failure(&self) {
        // Ordering: Relaxed, see the type.
        self.last_failure.store(0, Ordering::Relaxed);
    }

    fn last_change(&self) -> u64 {
        // Ordering: Relaxed, see the type.
        self.last_change.load(Ordering::Relaxed)
    }

    fn changed(&self, now: u64) {
        // Ordering: Relaxed, see the type.
        self.last_change.fetch_max(now, Ordering::Relaxed);
    }

    fn tripped(&self, generation: u32, failures: u32) {
        // Ordering: Relaxed, see the type; keyed by the generation.
        self.trip_failures.store(
            u64::from(generation) << 32 | u64::from(failures),
            Ordering::Relaxed,
        );
    }

    /// The window failures that tripped the breaker into `generation`.
    fn tripped_with(&self, generation: u32) -> Option<u32> {
        // Ordering: Relaxed, see the type.
        let r = self.trip_failures.load(Ordering::Relaxed);
        #[allow(clippy::cast_possible_truncation)]
        ((r >> 32) as u32 == generation).then_some(r as u32)
    }
}

/// The transition listeners: a tuple replaced whole (copy-on-write, never
/// mutated), so announcing a transition iterates a snapshot taken with the
/// mutex held only for a reference-count bump.
struct Listeners(Mutex<Option<Py<PyTuple>>>);

impl Listeners {
    fn new() -> Listeners {
        Listeners(Mutex::new(None))
    }

    fn tuple<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyTuple>> {
        // Held only to bump a reference count: no Python code runs under it.
        let guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.as_ref().map(|t| t.bind(py).clone())
    }

    /// Replaces the listener tuple with `f(current)`, computed outside the
    /// mutex (it may run Python code: `==`, allocation, GC); retried if
    /// another thread replaced it meanwhile.
    fn update<'py>(
        &self,
        py: Python<'py>,
        f: impl Fn(&Bound<'py, PyTuple>) -> PyResult<Option<Vec<Bound<'py, PyAny>>>>,
    ) -> PyResult<()> {
        loop {
            let current = self.tuple(py);
            let empty = PyTuple::empty(py);
            let next = match f(current.as_ref().unwrap_or(&empty))? {
                Some(v) if !v.is_empty() => Some(PyTuple::new(py, v)?.unbind()),
                _ => None,
            };
            let old = {
                let mut guard = self
                    .0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let same = match (&*guard, &current) {
                    (None, None) => true,
                    (Some(a), Some(b)) => a.as_ptr() == b.as_ptr(),
                    _ => false,
                };
                if !same {
                    continue;
                }
                std::mem::replace(&mut *guard, next)
            };
            // Dropped outside the mutex: a decref may run arbitrary code.
            drop(old);
            return Ok(());
        }
    }

    /// Visits the tuple for the collector, without ever blocking: the mutex
    /// is only held for a pointer swap (no Python code runs under it), and a
    /// tuple not visited this time only keeps a cycle alive until the next.
    fn traverse(&self, visit: &PyVisit<'_>) -> Result<(), PyTraverseError> {
        let guard = match self.0.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Ok(()),
        };
        visit.call(guard.as_ref())
    }

    /// Drops every listener (the collector's `__clear__`).
    fn clear(&self) {
        let old = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        // Dropped outside the mutex: a decref may run arbitrary code.
        drop(old);
    }
}

/// The native breaker. `tripbit.CircuitBreaker` subclasses it in Python for
/// argument parsing and decorators; `call()` and everything on the guarded
/// path is here.
#[pyclass(frozen, subclass, weakref, module = "tripbit._tripbit")]
pub(crate) struct CoreBreaker {
    pub(crate) core: Core,
    /// Window policies need the real tick on every record (time buckets,
    /// slow calls, and a success can complete `min_calls` and trip); the
    /// consecutive policy only on failures and while open.
    timed: bool,
    name: Py<PyString>,
    /// `Circuit breaker OPEN for <name>`, built once: a rejected call only
    /// creates the exception object.
    /// `("Circuit breaker OPEN for <name>",)`: the open error's `args`, one
    /// tuple for every rejection (no tuple to build per raise).
    open_args: Py<PyTuple>,
    /// The Python value given, shown as is (`timeout=30s` for 30).
    open_timeout: Py<PyAny>,
    failure_threshold: u32,
    success_threshold: u32,
    filters: Filters,
    stdout: bool,
    /// Seconds an async guarded call may take (`asyncio.wait_for` inside
    /// the guard), or None.
    timeout: Option<f64>,
    settings: Settings,
    times: DropInTimes,
    /// A `contextvars.ContextVar` set (to True) while a half-open probe of
    /// this breaker runs in the current thread or task: a guarded call made
    /// inside it is part of that probe (no slot of its own, not counted).
    /// Read only on the half-open path.
    in_probe: Py<PyAny>,
    /// The original's `lock` attribute: a `threading.Lock` code may take;
    /// tripbit itself never needs it (no lock inside).
    lock: Py<PyAny>,
    /// The transition listeners (see `Listeners`).
    listeners: Listeners,
    /// `shared=` breakers: what this process has announced of the
    /// transitions every process makes (`tripbit_shm::Watch`); see
    /// `catch_up`.
    #[cfg(target_os = "linux")]
    watch: Option<tripbit_shm::Watch>,
}

/// A `shared=` breaker: the config checked as for a private one (same
/// messages), then bound in the region file.
#[cfg(target_os = "linux")]
fn shared_core(path: &str, name: &str, config: Config) -> PyResult<Core> {
    tripbit::Breaker::try_new(config).map_err(config_error)?;
    Ok(Core::Shared(crate::shared::breaker(path, name, config)?))
}

/// A fleet breaker: the config checked as for a private one (same
/// messages), then the key's local breaker in the monitor.
#[cfg(target_os = "linux")]
fn fleet_core(monitor: &Bound<'_, PyAny>, key: &str, config: Config) -> PyResult<Core> {
    tripbit::Breaker::try_new(config).map_err(config_error)?;
    Ok(Core::Fleet(crate::fleet::core(monitor, key, config)?))
}

#[cfg(not(target_os = "linux"))]
fn fleet_core(_monitor: &Bound<'_, PyAny>, _key: &str, _config: Config) -> PyResult<Core> {
    Err(PyValueError::new_err("tripbit.fleet needs Linux"))
}

#[cfg(not(target_os = "linux"))]
fn shared_core(_path: &str, _name: &str, _config: Config) -> PyResult<Core> {
    Err(PyValueError::new_err("shared= needs Linux"))
}

/// What the core said when asked to admit a call.
pub(crate) enum Admission {
    Admitted(Ticket),
    Rejected(Rejected, u64),
}

#[pymethods]
impl CoreBreaker {
    /// Builds the core breaker from already-parsed settings; the Python
    /// subclass's `__new__` parses and checks the user's arguments.
    #[new]
    #[pyo3(signature = (
        *, name, open_timeout, open_ns, failure_threshold, success_threshold, probes,
        close_failure_rate = 0, backoff_factor = 1, backoff_max_level = 0,
        failure_rate = None, min_calls = 1, window_calls = None, window_ns = None,
        slow_ns = None, slow_rate = 100, include = None, exclude = None, timeout = None,
        probe_ns = None, stdout = true, shared = None, fleet = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: Bound<'_, PyString>,
        open_timeout: Bound<'_, PyAny>,
        open_ns: u64,
        failure_threshold: u32,
        success_threshold: u32,
        probes: u8,
        close_failure_rate: u8,
        backoff_factor: u8,
        backoff_max_level: u8,
        failure_rate: Option<u8>,
        min_calls: u32,
        window_calls: Option<u32>,
        window_ns: Option<u64>,
        slow_ns: Option<u64>,
        slow_rate: u8,
        include: Option<Bound<'_, PyAny>>,
        exclude: Option<Bound<'_, PyAny>>,
        timeout: Option<f64>,
        probe_ns: Option<u64>,
        stdout: bool,
        shared: Option<String>,
        fleet: Option<Bound<'_, PyAny>>,
    ) -> PyResult<CoreBreaker> {
        // "No backoff" is factor 1 (the open period never grows), whatever
        // the max level; the drop-in's failure_count tells a trip from a
        // failed trial by the snapshot's `opened_by`.
        let backoff = if backoff_factor <= 1 || backoff_max_level == 0 {
            (1, 0)
        } else {
            (backoff_factor, backoff_max_level)
        };
        let mut config = Config::new(open_ns);
        if let Some(ns) = probe_ns {
            config = config.probe_timeout(ns);
        }
        let mut config = config
            .probes(probes)
            .close_max_failure_percent(close_failure_rate)
            .backoff(backoff.0, backoff.1);
        config = apply(
            Config::close_after,
            config,
            "success_threshold",
            u64::from(success_threshold),
        )?;
        let mut settings = Settings {
            open_ns,
            probe_ns: config.probe_ticks(),
            probes,
            close_failure_rate,
            backoff: if backoff == (1, 1) { (1, 0) } else { backoff },
            failure_rate: None,
            window_calls: None,
            window_ns: None,
            slow: None,
        };
        let core = match failure_rate {
            None => {
                if window_calls.is_some() || window_ns.is_some() || slow_ns.is_some() {
                    return Err(PyValueError::new_err(
                        "window, window_seconds and slow_call need the failure_rate policy",
                    ));
                }
                let config = apply(
                    Config::consecutive_failures,
                    config,
                    "failure_threshold",
                    u64::from(failure_threshold),
                )?;
                match (shared, fleet) {
                    (None, None) => Core::consecutive(config).map_err(config_error)?,
                    (Some(path), None) => shared_core(&path, &name.to_cow()?, config)?,
                    (None, Some(monitor)) => fleet_core(&monitor, &name.to_cow()?, config)?,
                    (Some(_), Some(_)) => {
                        return Err(PyValueError::new_err(
                            "shared= and a fleet monitor do not go together: a fleet breaker \
                             already shares its verdict with every process of the fleet",
                        ));
                    }
                }
            }
            Some(_) if fleet.is_some() => {
                return Err(PyValueError::new_err(
                    "a fleet breaker's local breaker uses the failure_threshold policy \
                     (consecutive failures); failure_rate, window, window_seconds, min_calls, \
                     slow_call and slow_rate are not its options (the fleet-wide failure rate \
                     is the processor's)",
                ));
            }
            Some(_) if shared.is_some() => {
                return Err(PyValueError::new_err(
                    "shared= shares the failure_threshold policy only, not failure_rate windows",
                ));
            }
            Some(percent) => {
                config = config.failure_rate(percent, min_calls);
                settings.failure_rate = Some((percent, min_calls));
                if let Some(slow) = slow_ns {
                    config = config.slow_calls(slow, slow_rate);
                    settings.slow = Some((slow, slow_rate));
                }
                let buckets = if let Some(ns) = window_ns {
                    let (n, per) = time_buckets(ns);
                    config = config.time_window(per);
                    settings.window_ns = Some(per * u64::from(n));
                    n
                } else {
                    let (n, per) = count_buckets(window_calls.unwrap_or(100));
                    config = config.count_window(per);
                    settings.window_calls = Some(per * n);
                    n
                };
                Core::window(config, buckets).map_err(config_error)?
            }
        };
        let include = include.map(|o| Matcher::new("include", &o)).transpose()?;
        let exclude = exclude.map(|o| Matcher::new("exclude", &o)).transpose()?;
        let now = time::now();
        let in_probe = py
            .import("contextvars")?
            .getattr("ContextVar")?
            .call1((format!("tripbit probe of {name}"),))?
            .unbind();
        let lock = py.import("threading")?.getattr("Lock")?.call0()?.unbind();
        #[cfg(target_os = "linux")]
        let core_watch = core.watch();
        let b = CoreBreaker {
            timed: core.is_window(),
            core,
            open_args: PyTuple::new(
                py,
                [PyString::new(
                    py,
                    &format!("Circuit breaker OPEN for {name}"),
                )],
            )?
            .unbind(),
            name: name.unbind(),
            open_timeout: open_timeout.unbind(),
            failure_threshold,
            success_threshold,
            filters: Filters { include, exclude },
            stdout,
            timeout,
            settings,
            times: DropInTimes::new(now),
            in_probe,
            lock,
            listeners: Listeners::new(),
            #[cfg(target_os = "linux")]
            watch: core_watch,
        };
        let line = b.init_line(py)?;
        if stdout {
            print_line(py, &line);
        }
        log_line(py, INFO, &line);
        Ok(b)
    }

    /// Calls `func(*args, **kwargs)` through the breaker.
    #[pyo3(signature = (func, /, *args, **kwargs))]
    fn call<'py>(
        slf: &Bound<'py, Self>,
        func: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if !func.is_callable() {
            return Err(not_callable("call", func));
        }
        Self::guarded_call(slf, func, || None, args, kwargs)
    }

    /// Admits one call and returns a `Guard` to report its outcome with.
    /// Inside a half-open probe of this breaker (same thread or task), the
    /// guard is part of that probe: it takes no slot and reports nothing.
    fn guard(slf: &Bound<'_, Self>) -> PyResult<Guard> {
        let this = slf.get();
        let py = slf.py();
        match this.admit(slf) {
            Admission::Admitted(t) if t.probe && this.inside_probe(py) => {
                this.release(t);
                Ok(Guard::inside(slf.clone().unbind()))
            }
            Admission::Admitted(t) => Ok(Guard::new(slf.clone().unbind(), t)),
            Admission::Rejected(r, _) if r.state == State::HalfOpen && this.inside_probe(py) => {
                Ok(Guard::inside(slf.clone().unbind()))
            }
            Admission::Rejected(r, now) => Err(this.open_error(py, r, now)),
        }
    }

    /// A fleet breaker (`tripbit.fleet`): the fleet verdict this process
    /// mirrors into its local breaker and its version (0: none seen yet),
    /// e.g. `("unhealthy", 4)`; None for any other breaker.
    fn fleet_verdict(&self) -> Option<(&'static str, u64)> {
        #[cfg(target_os = "linux")]
        if let Some(f) = self.core.fleet() {
            return Some((f.fleet_state(), f.verdict_version()));
        }
        None
    }

    /// The original's `lock` attribute (a `threading.Lock`). tripbit needs
    /// no lock: holding this one blocks nothing in the breaker.
    #[getter]
    fn lock(&self, py: Python<'_>) -> Py<PyAny> {
        self.lock.clone_ref(py)
    }

    /// Current state; performs the lazy OPEN -> HALF_OPEN move.
    fn get_state<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let now = time::now();
        // The lazy move, silently as the original's, without admitting a
        // call: the next call() is the probe, with the whole round free.
        // Another process's transitions first, so the lazy move below is
        // announced from the state it really moved from.
        this.catch_up(slf);
        if let Some(tr) = this.core.advance(now) {
            this.announce(slf, tr, now, Voice::Silent);
        }
        state::member(slf.py(), this.core.snapshot(now).state)
    }

    /// The state as stored, without the lazy move (the original's attribute).
    #[getter(state)]
    fn stored_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        state::member(py, self.core.snapshot(time::now()).stored_state)
    }

    /// The name (or dotted key) given at construction.
    #[getter]
    fn name(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    /// Consecutive failures that open the breaker.
    #[getter]
    fn failure_threshold(&self) -> u32 {
        self.failure_threshold
    }

    /// Seconds the breaker stays open, as given.
    #[getter]
    fn open_timeout(&self, py: Python<'_>) -> Py<PyAny> {
        self.open_timeout.clone_ref(py)
    }

    /// Seconds an async guarded call may take before it fails with
    /// `TimeoutError` (counted), or None.
    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.timeout
    }

    /// Half-open successes that close it (also the number of probes).
    #[getter]
    fn success_threshold(&self) -> u32 {
        self.success_threshold
    }

    /// The drop-in's failure count (see the stubs for its exact meaning).
    #[getter]
    fn failure_count(&self) -> u32 {
        self.failure_count_of(&self.core.snapshot(time::now()))
    }

    /// Half-open successes so far.
    #[getter]
    fn success_count(&self) -> u32 {
        self.success_count_of(&self.core.snapshot(time::now()))
    }

    /// Epoch seconds of the last failure, or None.
    #[getter]
    fn last_failure_time(&self, py: Python<'_>) -> Option<f64> {
        self.times.last_failure().map(|t| time::epoch(py, t))
    }

    /// Epoch seconds of the last state change (or of creation / reset).
    #[getter]
    fn last_state_change_time(&self, py: Python<'_>) -> f64 {
        time::epoch(py, self.times.last_change())
    }

    /// The original's stats dict: exactly its six keys, in its order.
    fn get_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (wall, now) = time::anchor(py);
        let s = self.core.snapshot(now);
        let last_failure = self.times.last_failure();
        let d = PyDict::new(py);
        d.set_item("state", state::value(s.stored_state))?;
        d.set_item("failure_count", self.failure_count_of(&s))?;
        d.set_item("success_count", self.success_count_of(&s))?;
        d.set_item(
            "last_state_change_time",
            time::epoch_at(wall, now, self.times.last_change()),
        )?;
        if let Some(last_failure) = last_failure {
            d.set_item("last_failure_time", time::epoch_at(wall, now, last_failure))?;
            d.set_item("time_since_last_failure", time::seconds(last_failure, now))?;
        } else {
            d.set_item("last_failure_time", py.None())?;
            d.set_item("time_since_last_failure", py.None())?;
        }
        Ok(d)
    }

    /// Everything the core knows, with the exact state name.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (wall, now) = time::anchor(py);
        let s = self.core.snapshot(now);
        let d = PyDict::new(py);
        d.set_item("state", s.state.as_str())?;
        d.set_item("stored_state", s.stored_state.as_str())?;
        d.set_item("generation", s.generation)?;
        d.set_item("backoff_level", s.backoff_level)?;
        d.set_item("consecutive_failures", s.consecutive_failures)?;
        d.set_item("probes_in_flight", s.probes_in_flight)?;
        d.set_item("probe_successes", s.probe_successes)?;
        d.set_item("probe_failures", s.probe_failures)?;
        d.set_item(
            "opened_at",
            s.opened_at.map(|t| time::epoch_at(wall, now, t)),
        )?;
        d.set_item(
            "open_until",
            s.open_until.map(|t| time::epoch_at(wall, now, t)),
        )?;
        d.set_item("window_calls", s.window.calls)?;
        d.set_item("window_failures", s.window.failures)?;
        d.set_item("window_slow", s.window.slow)?;
        Ok(d)
    }

    /// The effective settings (after rounding the window to its buckets).
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let st = &self.settings;
        let d = PyDict::new(py);
        let secs = |ns: u64| time::seconds(0, ns);
        d.set_item(
            "policy",
            if st.failure_rate.is_some() {
                "failure_rate"
            } else {
                "consecutive"
            },
        )?;
        d.set_item("failure_threshold", self.failure_threshold)?;
        d.set_item("open_timeout", secs(st.open_ns))?;
        d.set_item("success_threshold", self.success_threshold)?;
        d.set_item("probes", st.probes)?;
        d.set_item("close_failure_rate", st.close_failure_rate)?;
        d.set_item("backoff", st.backoff)?;
        d.set_item("failure_rate", st.failure_rate.map(|f| f.0))?;
        d.set_item("min_calls", st.failure_rate.map(|f| f.1))?;
        d.set_item("window", st.window_calls)?;
        d.set_item("window_seconds", st.window_ns.map(secs))?;
        d.set_item("slow_call", st.slow.map(|s| secs(s.0)))?;
        d.set_item("slow_rate", st.slow.map(|s| s.1))?;
        d.set_item(
            "include",
            self.filters.include.as_ref().map(|m| m.to_object(py)),
        )?;
        d.set_item(
            "exclude",
            self.filters.exclude.as_ref().map(|m| m.to_object(py)),
        )?;
        d.set_item("timeout", self.timeout)?;
        d.set_item(
            "probe_timeout",
            if st.probe_ns == u64::MAX {
                f64::INFINITY
            } else {
                secs(st.probe_ns)
            },
        )?;
        d.set_item("stdout", self.stdout)?;
        Ok(d)
    }

    /// Back to CLOSED, every count cleared, `last_failure_time` None;
    /// results of calls admitted before are discarded. From any state but
    /// closed it prints `Manually reset: <old> -> CLOSED`, as the original.
    fn reset(slf: &Bound<'_, Self>) {
        let this = slf.get();
        let tr = this.core.reset();
        let now = time::now();
        this.times.clear_failure();
        this.times.changed(now);
        if let Some(tr) = tr {
            this.announce(slf, tr, now, Voice::Reset);
        }
    }

    /// Operator override: reject every call until `reset()`.
    fn force_open(slf: &Bound<'_, Self>) {
        let this = slf.get();
        if let Some(tr) = this.core.force_open() {
            this.announce(slf, tr, time::now(), Voice::Operator);
        }
    }

    /// Operator override: admit every call, count nothing, until `reset()`.
    fn force_closed(slf: &Bound<'_, Self>) {
        let this = slf.get();
        if let Some(tr) = this.core.force_closed() {
            this.announce(slf, tr, time::now(), Voice::Operator);
        }
    }

    /// Metrics only: admit every call and keep counting, never trip, until
    /// `reset()`.
    fn disable(slf: &Bound<'_, Self>) {
        let this = slf.get();
        if let Some(tr) = this.core.disable() {
            this.announce(slf, tr, time::now(), Voice::Operator);
        }
    }

    /// Calls `listener(transition)` after every state change.
    #[pyo3(signature = (listener, /))]
    fn add_listener(&self, listener: &Bound<'_, PyAny>) -> PyResult<()> {
        if !listener.is_callable() {
            return Err(not_callable("add_listener", listener));
        }
        self.listeners.update(listener.py(), |current| {
            let mut v: Vec<Bound<'_, PyAny>> = current.iter().collect();
            v.push(listener.clone());
            Ok(Some(v))
        })
    }

    /// Removes a listener added before (compared with `==`).
    #[pyo3(signature = (listener, /))]
    fn remove_listener(&self, listener: &Bound<'_, PyAny>) -> PyResult<()> {
        self.listeners.update(listener.py(), |current| {
            let mut v: Vec<Bound<'_, PyAny>> = current.iter().collect();
            let mut found = None;
            for (i, l) in v.iter().enumerate() {
                if l.is(listener) || l.eq(listener)? {
                    found = Some(i);
                    break;
                }
            }
            match found {
                Some(i) => {
                    v.remove(i);
                    Ok(Some(v))
                }
                None => Err(PyValueError::new_err("listener is not registered")),
            }
        })
    }

    /// The registered listeners, in call order.
    #[getter]
    fn listeners<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        self.listeners
            .tuple(py)
            .unwrap_or_else(|| PyTuple::empty(py))
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let this = slf.get();
        let s = this.core.snapshot(time::now());
        Ok(format!(
            "<{} {} state={} failure_count={}>",
            slf.get_type().name()?,
            this.name.bind(slf.py()).repr()?,
            s.stored_state.as_str(),
            this.failure_count_of(&s)
        ))
    }

    /// Garbage-collector support: a listener or a predicate that refers to
    /// its breaker (a closure over it, a list collecting its transitions)
    /// makes a reference cycle, which the collector can only see and break
    /// through these two.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.name)?;
        visit.call(&self.open_timeout)?;
        visit.call(&self.in_probe)?;
        visit.call(&self.lock)?;
        self.filters.traverse(&visit)?;
        self.listeners.traverse(&visit)
    }

    /// Drops the listeners: the breaker's one mutable reference (the
    /// others are fixed at construction, and every cycle through them also
    /// runs through a mutable object the collector clears).
    fn __clear__(&self) {
        self.listeners.clear();
    }

    fn __reduce__(&self) -> PyResult<()> {
        Err(not_copyable("pickled"))
    }

    fn __copy__(&self) -> PyResult<()> {
        Err(not_copyable("copied"))
    }

    #[pyo3(signature = (_memo, /))]
    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(not_copyable("copied"))
    }
}

/// `func(*args, **kwargs)`, with the no-argument call (the drop-in's
/// `call(lambda: ...)`) going through vectorcall without a tuple.
#[inline(always)]
fn invoke<'py>(
    func: &Bound<'py, PyAny>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    match kwargs {
        None if args.is_empty() => func.call0(),
        _ => func.call(args, kwargs),
    }
}

fn not_callable(method: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    let ty = type_name(obj);
    PyTypeError::new_err(format!("{method}() argument must be callable, got {ty}"))
}

/// The name of `obj`'s type, for error messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

fn not_copyable(what: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "a CircuitBreaker cannot be {what}: it is live shared state; build \
         another one with the same settings instead (CircuitBreaker(**...) or \
         CircuitBreaker.from_config)"
    ))
}

impl CoreBreaker {
    /// One guarded call: admit, call `func(*args, **kwargs)`, record; when
    /// rejected, `fallback()` (if it gives one) is called instead of raising.
    /// Shared by `call` and the native decorator (`SyncGuarded`).
    ///
    /// The closed path is: admit, call, one type-pointer compare (is the
    /// result awaitable?), record. Everything else (probes, rejections,
    /// awaitables) is out of line.
    #[inline(always)]
    pub(crate) fn guarded_call<'py>(
        slf: &Bound<'py, Self>,
        func: &Bound<'py, PyAny>,
        fallback: impl FnOnce() -> Option<Bound<'py, PyAny>>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let ticket = match this.admit(slf) {
            Admission::Admitted(t) if t.probe => {
                return Self::probe_call(slf, t, func, args, kwargs);
            }
            Admission::Admitted(t) => t,
            Admission::Rejected(r, now) => {
                return Self::rejected_call(slf, r, now, func, fallback, args, kwargs);
            }
        };
        let result = invoke(func, args, kwargs);
        match result {
            Ok(v) if awaitable::is_awaitable(&v) => Self::guard_await(slf, ticket, v),
            result => this.finish(slf, ticket, result),
        }
    }

    /// A call admitted as a half-open probe: part of an enclosing probe of
    /// this breaker in the same thread or task (then its slot goes straight
    /// back and nothing is counted for it: the enclosing probe counts once),
    /// or a probe of its own, during which nested calls see the context.
    #[inline(never)]
    fn probe_call<'py>(
        slf: &Bound<'py, Self>,
        ticket: Ticket,
        func: &Bound<'py, PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let py = slf.py();
        if this.inside_probe(py) {
            this.release(ticket);
            return invoke(func, args, kwargs);
        }
        let token = this.enter_probe(py);
        let result = invoke(func, args, kwargs);
        this.leave_probe(py, token);
        match result {
            Ok(v) if awaitable::is_awaitable(&v) => Self::guard_await(slf, ticket, v),
            result => this.finish(slf, ticket, result),
        }
    }

    /// A rejected call: inside a probe of this breaker it runs as part of
    /// that probe; otherwise the fallback, or `CircuitBreakerOpenError`.
    #[inline(never)]
    fn rejected_call<'py>(
        slf: &Bound<'py, Self>,
        r: Rejected,
        now: u64,
        func: &Bound<'py, PyAny>,
        fallback: impl FnOnce() -> Option<Bound<'py, PyAny>>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let py = slf.py();
        if r.state == State::HalfOpen && this.inside_probe(py) {
            return invoke(func, args, kwargs);
        }
        match fallback() {
            Some(fb) => invoke(&fb, args, kwargs),
            None => Err(this.open_error(py, r, now)),
        }
    }

    /// The sync call returned an awaitable (`await cb.call(async_fn)`, a
    /// sync function returning a coroutine): the call is not over until it
    /// is awaited, so the ticket goes into a `Guard` and the caller gets a
    /// coroutine that awaits it inside that guard
    /// (`tripbit._breaker._guarded_await`). Never awaited, the guard is
    /// dropped and its slot freed, counting nothing.
    #[inline(never)]
    fn guard_await<'py>(
        slf: &Bound<'py, Self>,
        ticket: Ticket,
        awaitable: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        static GUARDED_AWAIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = slf.py();
        let guard = Bound::new(py, Guard::new(slf.clone().unbind(), ticket))?;
        GUARDED_AWAIT
            .import(py, "tripbit._breaker", "_guarded_await")?
            .call1((guard, awaitable))
    }

    /// Whether the current thread or task is inside a half-open probe of
    /// this breaker that is still running. The context variable holds a
    /// one-item list, `[True]` while the probe runs and `[False]` once it
    /// ended: a task spawned inside the probe copies the context, and must
    /// not be taken for part of it after the probe is over.
    pub(crate) fn inside_probe(&self, py: Python<'_>) -> bool {
        let marker = match self
            .in_probe
            .bind(py)
            .call_method1(intern!(py, "get"), (py.None(),))
        {
            Ok(m) => m,
            Err(_) => return false,
        };
        marker
            .cast::<PyList>()
            .ok()
            .and_then(|l| l.get_item(0).ok())
            .is_some_and(|v| v.is_truthy().unwrap_or(false))
    }

    /// Marks the current thread or task as inside a probe of this breaker;
    /// the token (`(contextvars token, marker)`) undoes it.
    pub(crate) fn enter_probe(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        let set = || -> PyResult<Py<PyAny>> {
            let marker = PyList::new(py, [true])?;
            let token = self
                .in_probe
                .bind(py)
                .call_method1(intern!(py, "set"), (&marker,))?;
            Ok(PyTuple::new(py, [token, marker.into_any()])?
                .into_any()
                .unbind())
        };
        set().map_err(|e| e.write_unraisable(py, None)).ok()
    }

    /// Undoes [`enter_probe`](Self::enter_probe): the probe is over for
    /// every context that copied the marker, and this one is restored.
    pub(crate) fn leave_probe(&self, py: Python<'_>, token: Option<Py<PyAny>>) {
        let Some(token) = token else { return };
        let undo = || -> PyResult<()> {
            let pair = token.bind(py).cast::<PyTuple>()?.clone();
            pair.get_item(1)?.set_item(0, false)?;
            self.in_probe
                .bind(py)
                .call_method1(intern!(py, "reset"), (pair.get_item(0)?,))?;
            Ok(())
        };
        if let Err(e) = undo() {
            e.write_unraisable(py, None);
        }
    }

    /// Gives an admitted ticket back unused: counts nothing, frees a probe
    /// slot, never a transition.
    pub(crate) fn release(&self, ticket: Ticket) {
        // Stale: the generation that owned the slot is gone; nothing to free.
        let _ = self.core.release(ticket, ticket.acquired_at);
    }

    pub(crate) fn admit(&self, slf: &Bound<'_, Self>) -> Admission {
        // The clock is read only when the core needs a tick: never to admit
        // a call to a closed consecutive breaker (`now` then stays 0, and
        // nothing below uses it: no transition, no rejection), and only
        // coarsely to reject one while the open period runs (`now` is then
        // the coarse tick, at most a few ms behind: it only turns
        // `retry_at` into `retry_after` seconds).
        let now_cell = core::cell::Cell::new(0);
        let admitted = self.core.acquire_coarse(
            || {
                let c = time::coarse();
                now_cell.set(c.lo);
                c
            },
            || {
                let t = time::now();
                now_cell.set(t);
                t
            },
        );
        let now = now_cell.get();
        match admitted {
            Ok((ticket, tr)) => {
                if let Some(tr) = tr {
                    self.announce(slf, tr, now, Voice::Silent);
                } else if self.moved_elsewhere(ticket) {
                    self.catch_up(slf);
                }
                Admission::Admitted(ticket)
            }
            Err(r) => {
                self.catch_up(slf);
                Admission::Rejected(r, now)
            }
        }
    }

    /// Whether a call admitted as `ticket` found a generation this process
    /// has not announced: one compare, for `shared=` breakers only.
    #[inline(always)]
    fn moved_elsewhere(&self, ticket: Ticket) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(w) = &self.watch {
            return ticket.generation & tripbit::MAX_CLOSED_TICKET_GENERATION
                != w.seen_generation();
        }
        #[cfg(target_os = "linux")]
        if let Core::Fleet(f) = &self.core {
            return ticket.generation & tripbit::MAX_CLOSED_TICKET_GENERATION
                != f.seen_generation();
        }
        let _ = ticket;
        false
    }

    /// A `shared=` breaker that another process moved, or a fleet breaker
    /// whose local breaker the monitor (mirroring the fleet's verdict) or
    /// another breaker of the key moved: announces, once (the watch hands
    /// each change to one caller), the change from the state last seen to
    /// the state now: to the listeners and the `tripbit` logger, never on
    /// stdout (the lines are not this breaker's own). Several moves between
    /// two calls here read as one; a new probe round (same state)
    /// announces nothing.
    fn catch_up(&self, slf: &Bound<'_, Self>) {
        #[cfg(target_os = "linux")]
        let moved = match &self.core {
            // A fleet breaker: the monitor's thread mirrored a verdict, or
            // another breaker of the same key moved the local breaker.
            Core::Fleet(f) => f.poll(time::now()),
            _ => self.watch.as_ref().and_then(tripbit_shm::Watch::poll),
        };
        #[cfg(target_os = "linux")]
        if let Some((from, to)) = moved {
            if from != to {
                let now = time::now();
                let s = self.core.snapshot(now);
                let tr = Transition {
                    from,
                    to,
                    generation: s.generation,
                    level: s.backoff_level,
                };
                self.announce(slf, tr, now, Voice::Silent);
            }
        }
        let _ = slf;
    }

    /// Records the outcome of `result`, announces any transition, and
    /// returns `result` unchanged: the same exception object, traceback
    /// included, after it was counted.
    #[inline(always)]
    fn finish<'py>(
        &self,
        slf: &Bound<'py, Self>,
        ticket: Ticket,
        result: PyResult<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        match result {
            Ok(v) => {
                // Consecutive: a success never uses the tick (it cannot trip
                // and closing needs no time), so no clock read here.
                let now = if self.timed {
                    time::now()
                } else {
                    ticket.acquired_at
                };
                let recorded = if self.timed {
                    self.record_window(ticket, Outcome::Success, now)
                } else {
                    self.core.record(ticket, Outcome::Success, now)
                };
                if let Ok(Some(tr)) = recorded {
                    self.announce(slf, tr, time::now(), Voice::Outcome);
                }
                Ok(v)
            }
            Err(e) => {
                let outcome = self.classify(slf.py(), &e);
                self.record_outcome(slf, ticket, outcome);
                Err(e)
            }
        }
    }

    /// Records `outcome` for `ticket` at the current tick.
    pub(crate) fn record_outcome(&self, slf: &Bound<'_, Self>, ticket: Ticket, outcome: Outcome) {
        let now = time::now();
        if outcome == Outcome::Failure {
            self.times.failed(now);
        }
        let recorded = if self.timed {
            self.record_window(ticket, outcome, now)
        } else {
            self.core.record(ticket, outcome, now)
        };
        if let Ok(Some(tr)) = recorded {
            self.announce(slf, tr, now, Voice::Outcome);
        }
    }

    /// Records an outcome on a window breaker. A trip starts a fresh window
    /// (the core tags it with the new generation), so the failures that
    /// tripped it are read just before a call that may trip (a failure, or
    /// a slow success) and kept for the OPENED line and `failure_count`.
    fn record_window(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        now: u64,
    ) -> Result<Option<Transition>, tripbit::Stale> {
        let slow = self
            .settings
            .slow
            .is_some_and(|(ns, _)| now.saturating_sub(ticket.acquired_at) >= ns);
        let before = match outcome {
            Outcome::Failure => Some(self.core.snapshot(now).window.failures + 1),
            Outcome::Success if slow => Some(self.core.snapshot(now).window.failures),
            _ => None,
        };
        let recorded = self.core.record(ticket, outcome, now);
        if let (Ok(Some(tr)), Some(failures)) = (recorded, before) {
            if tr.from == State::Closed && tr.to == State::Open {
                self.times.tripped(tr.generation, failures);
            }
        }
        recorded
    }

    /// The window failures that tripped the breaker into generation `generation`.
    fn tripped_with(&self, generation: u32) -> u32 {
        self.times.tripped_with(generation).unwrap_or(0)
    }

    /// The drop-in's `success_count`: half-open successes while half-open,
    /// 0 otherwise (the original cleared it on every move to open, to
    /// half-open and to closed).
    fn success_count_of(&self, s: &Snapshot) -> u32 {
        match s.stored_state {
            State::HalfOpen => s.probe_successes,
            _ => 0,
        }
    }

    /// Failure, or Ignored: a `BaseException` that is not an `Exception`
    /// (KeyboardInterrupt, SystemExit, asyncio.CancelledError), or an
    /// exception the filters exclude.
    pub(crate) fn classify(&self, py: Python<'_>, err: &PyErr) -> Outcome {
        if !err.is_instance_of::<pyo3::exceptions::PyException>(py) {
            return Outcome::Ignored;
        }
        self.classify_value(err.value(py).as_any())
    }

    /// The filters' verdict on an `Exception` instance.
    pub(crate) fn classify_value(&self, exc: &Bound<'_, PyAny>) -> Outcome {
        self.filters.classify(exc)
    }

    /// The drop-in's `failure_count`: consecutive failures while closed
    /// (window failures for a window breaker); the threshold while open
    /// after a trip, 0 while open after a failed probe (the original counted
    /// nothing in half-open); half-open failures while half-open; 0 in the
    /// operator states.
    fn failure_count_of(&self, s: &Snapshot) -> u32 {
        let window = self.core.is_window();
        match s.stored_state {
            State::Closed | State::Disabled if window => s.window.failures,
            State::Closed | State::Disabled => s.consecutive_failures,
            State::Open if s.opened_by == Some(OpenedBy::Trip) && window => {
                self.tripped_with(s.generation)
            }
            State::Open if s.opened_by == Some(OpenedBy::Trip) => self.failure_threshold,
            State::HalfOpen => s.probe_failures,
            _ => 0,
        }
    }

    /// The failure count a transition line shows.
    fn line_count(&self, tr: Transition) -> u32 {
        match (tr.from, tr.to) {
            (State::Closed, State::Open) if self.core.is_window() => {
                self.tripped_with(tr.generation)
            }
            (State::Closed, State::Open) => self.failure_threshold,
            _ => 0,
        }
    }

    /// Announces a transition the core returned: the stdout lines unless
    /// `voice` is silent (the original printed the outcome-driven moves and
    /// resets, never OPEN -> HALF_OPEN; tripbit adds the operator actions),
    /// then logging and listeners. A close from half-open clears
    /// `last_failure_time`, as the original's did.
    pub(crate) fn announce(&self, slf: &Bound<'_, Self>, tr: Transition, now: u64, voice: Voice) {
        self.times.changed(now);
        #[cfg(target_os = "linux")]
        if let Some(w) = &self.watch {
            // This process announces this one: no later poll repeats it.
            w.saw(tr.generation, tr.to);
        }
        #[cfg(target_os = "linux")]
        if let Some(f) = self.core.fleet() {
            // Announced here: no later poll repeats it.
            f.saw(tr.generation, tr.to);
        }
        if tr.from == State::HalfOpen && tr.to == State::Closed {
            self.times.clear_failure();
        }
        let py = slf.py();
        let silent = voice == Voice::Silent || tr.to == State::HalfOpen;
        Announcement {
            breaker: slf.as_any(),
            name: &self.name,
            open_timeout: &self.open_timeout,
            transition: tr,
            failure_count: self.line_count(tr),
            time: time::epoch(py, now),
            voice,
            print: self.stdout && !silent,
            listeners: self.listeners.tuple(py),
        }
        .emit();
    }

    /// `CircuitBreakerOpenError("Circuit breaker OPEN for <name>")`, with
    /// `name`, `state` and `retry_after` attributes.
    fn open_error(&self, py: Python<'_>, r: Rejected, now: u64) -> PyErr {
        // The exception object is built directly (not a lazy `PyErr` forced
        // afterwards), from the cached message, and its attributes are
        // slots (`errors::open_error_type`): a rejection costs about what
        // raising any exception costs.
        let made = errors::open_error_type(py).and_then(|cls| {
            let v = cls.call1(self.open_args.bind(py))?;
            let cls = cls.clone();
            let retry_after = match r.retry_at {
                Some(t) => time::seconds(now, t).into_pyobject(py)?.into_any(),
                None => py.None().into_bound(py),
            };
            let rejection = (self.name.bind(py), state::name(py, r.state), retry_after);
            v.setattr(intern!(py, errors::REJECTION_SLOT), rejection)?;
            Ok((cls, v))
        });
        match made {
            // Raised lazily: pyo3 raises a lazy error with PyErr_SetObject,
            // which, like a Python `raise`, sets the exception being
            // handled (if any) as its __context__. (`PyErr::from_value`
            // would restore it as is, without one.)
            Ok((cls, v)) => PyErr::from_type(cls, v.unbind()),
            Err(e) => e,
        }
    }

    fn init_line(&self, py: Python<'_>) -> PyResult<String> {
        let name = self.name.bind(py);
        let timeout = self.open_timeout.bind(py).str()?;
        let st = &self.settings;
        Ok(match st.failure_rate {
            None => format!(
                "[CircuitBreaker-{name}] Initialized: threshold={}, timeout={timeout}s",
                self.failure_threshold
            ),
            Some((percent, min_calls)) => {
                let window = match (st.window_calls, st.window_ns) {
                    (_, Some(ns)) => format!("{}s", time::seconds(0, ns)),
                    (Some(c), None) => format!("{c} calls"),
                    (None, None) => String::new(),
                };
                let slow = st.slow.map_or_else(String::new, |(ns, p)| {
                    format!(", slow_call={}s at {p}%", time::seconds(0, ns))
                });
                format!(
                    "[CircuitBreaker-{name}] Initialized: failure_rate={percent}%, \
                     min_calls={min_calls}, window={window}{slow}, timeout={timeout}s"
                )
            }
        })
    }
}
