//! `tripbit.fleet`: the fleet monitor (`tripbit_fleet::Monitor`, written
//! once in Rust) for Python, and the core of a fleet `CircuitBreaker`.
//!
//! A `FleetMonitor` owns the monitor: its flush thread (a Rust thread with
//! its own single-threaded tokio runtime) sends the counts in batches and
//! mirrors the fleet's verdict into each key's local breaker. A breaker made
//! by `Monitor.breaker(key)` is a plain `CoreBreaker` whose core is
//! [`FleetCore`]: the local breaker of that key in the monitor, so every
//! `CircuitBreaker` feature (decorator, async, fallback, listeners, stats)
//! works unchanged, and no guarded call does any I/O.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;
use tripbit::{Config, Outcome, Rejected, Snapshot, Stale, State, Ticket, Transition};
use tripbit_fleet::{Counts, FleetBreaker, Monitor, MonitorConfig, MonitorError};

/// One key's local breaker in a monitor, as a `CoreBreaker`'s core. The
/// monitor is kept alive by every breaker made from it, so a breaker whose
/// monitor object was dropped keeps counting to the fleet.
pub(crate) struct FleetCore {
    breaker: FleetBreaker,
    _monitor: Arc<Monitor>,
    /// `generation << 8 | state tag` of the local breaker as this Python
    /// breaker announced it last: the monitor's thread (mirroring a
    /// verdict) and other breakers of the same key move the local breaker
    /// without telling this one, which announces such a change, once, when
    /// a call or `get_state()` finds it (see [`poll`](Self::poll)). Every
    /// access is `Relaxed`: a marker read and CASed only here; it orders no
    /// other memory.
    seen: AtomicU64,
}

fn seen_word(generation: u32, state: State) -> u64 {
    u64::from(generation) << 8 | state as u64
}

impl FleetCore {
    #[inline(always)]
    pub(crate) fn acquire_ticket_with(
        &self,
        clock: impl FnOnce() -> u64,
    ) -> Result<(Ticket, Option<Transition>), Rejected> {
        self.breaker.acquire_ticket_with(clock)
    }

    #[inline(always)]
    pub(crate) fn record_ticket(
        &self,
        t: Ticket,
        o: Outcome,
        now: u64,
    ) -> Result<Option<Transition>, Stale> {
        self.breaker.record_ticket(t, o, now)
    }

    pub(crate) fn release(&self, t: Ticket, now: u64) -> Result<(), Stale> {
        self.breaker.release(t, now)
    }

    pub(crate) fn snapshot(&self, now: u64) -> Snapshot {
        self.breaker.local().snapshot(now)
    }

    pub(crate) fn advance(&self, now: u64) -> Option<Transition> {
        self.breaker.local().advance(now)
    }

    pub(crate) fn force_open(&self) -> Option<Transition> {
        self.breaker.local().force_open()
    }

    pub(crate) fn force_closed(&self) -> Option<Transition> {
        self.breaker.local().force_closed()
    }

    pub(crate) fn disable(&self) -> Option<Transition> {
        self.breaker.local().disable()
    }

    pub(crate) fn reset(&self) -> Option<Transition> {
        self.breaker.local().reset()
    }

    /// The fleet verdict this process mirrors for the key (`healthy`,
    /// `unhealthy`, `recovering`, `forced_healthy`, `forced_unhealthy`).
    pub(crate) fn fleet_state(&self) -> &'static str {
        effective_name(self.breaker.fleet_state())
    }

    /// The version of the mirrored verdict (0: none yet).
    pub(crate) fn verdict_version(&self) -> u64 {
        self.breaker.verdict_version()
    }

    /// `Some((before, now))` if the local breaker changed generation since
    /// this breaker last announced or polled it; the change goes to one
    /// caller (the CAS winner).
    pub(crate) fn poll(&self, now: u64) -> Option<(State, State)> {
        let s = self.snapshot(now);
        let next = seen_word(s.generation, s.stored_state);
        // Ordering: Relaxed, see `seen`.
        let mut old = self.seen.load(Ordering::Relaxed);
        loop {
            if old >> 8 == u64::from(s.generation) {
                return None;
            }
            // Ordering: Relaxed both ways, see `seen`.
            match self
                .seen
                .compare_exchange_weak(old, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => old = actual,
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        let before = State::from_tag(old as u8).unwrap_or(State::Closed);
        Some((before, s.stored_state))
    }

    /// The generation announced last: one compare with an admitted
    /// ticket's before paying for a [`poll`](Self::poll).
    #[inline(always)]
    pub(crate) fn seen_generation(&self) -> u32 {
        // Ordering: Relaxed, see `seen`.
        #[allow(clippy::cast_possible_truncation)]
        let g = (self.seen.load(Ordering::Relaxed) >> 8) as u32;
        g
    }

    /// This breaker announced a transition itself: no poll repeats it.
    pub(crate) fn saw(&self, generation: u32, state: State) {
        // Ordering: Relaxed, see `seen`.
        self.seen
            .store(seen_word(generation, state), Ordering::Relaxed);
    }
}

fn effective_name(e: tripbit_fleet::Effective) -> &'static str {
    use tripbit_fleet::Effective;
    match e {
        Effective::Healthy => "healthy",
        Effective::Unhealthy => "unhealthy",
        Effective::Recovering => "recovering",
        Effective::ForcedHealthy => "forced_healthy",
        Effective::ForcedUnhealthy => "forced_unhealthy",
    }
}

/// The core of a fleet breaker for `key` in `monitor` (a `FleetMonitor`),
/// with `config` as its local settings: ValueError naming the key when it
/// is malformed, or when the key already has a breaker with other settings
/// in this monitor.
pub(crate) fn core(monitor: &Bound<'_, PyAny>, key: &str, config: Config) -> PyResult<FleetCore> {
    let m = monitor.cast::<FleetMonitor>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "fleet must be a tripbit.fleet.Monitor, got {}",
            crate::breaker::type_name(monitor)
        ))
    })?;
    let py = monitor.py();
    let monitor = Arc::clone(&m.get().monitor);
    let breaker = monitor.breaker_with(key, config).map_err(|e| match e {
        MonitorError::Key(e) => PyValueError::new_err(format!("key {key:?} is invalid: {e}")),
        MonitorError::Closed => fleet_error(
            py,
            format!(
                "monitor {} is closed: no new breaker ({key:?}) can be made from it",
                monitor.id()
            ),
        ),
        e => PyValueError::new_err(e.to_string()),
    })?;
    let s = breaker.local().snapshot(tripbit::clock::now());
    Ok(FleetCore {
        breaker,
        _monitor: monitor,
        seen: AtomicU64::new(seen_word(s.generation, s.stored_state)),
    })
}

/// `tripbit.fleet.FleetError(message)`.
fn fleet_error(py: Python<'_>, message: String) -> PyErr {
    py_error(py, "FleetError", message)
}

/// `tripbit.fleet.<class>(message)`: the exception classes are defined in
/// Python (`CloseTimeoutError` is a `TimeoutError` too), and imported here
/// once.
fn py_error(py: Python<'_>, class: &'static str, message: String) -> PyErr {
    static FLEET_ERROR: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();
    static CLOSE_TIMEOUT: PyOnceLock<Py<pyo3::types::PyType>> = PyOnceLock::new();
    let cell = if class == "FleetError" {
        &FLEET_ERROR
    } else {
        &CLOSE_TIMEOUT
    };
    match cell.import(py, "tripbit.fleet", class) {
        Ok(t) => PyErr::from_type(t.clone(), message),
        Err(e) => e,
    }
}

/// The native monitor: `tripbit.fleet.Monitor` subclasses it (the
/// breakers, the context manager); `tripbit.fleet.connect()` checks the
/// arguments and makes one.
#[pyclass(frozen, subclass, module = "tripbit._tripbit")]
pub(crate) struct FleetMonitor {
    monitor: Arc<Monitor>,
    /// `close()`'s default timeout.
    close_ns: u64,
}

#[pymethods]
impl FleetMonitor {
    /// A monitor flushing to the Redis at `url` every `flush_ns`
    /// nanoseconds. Returns at once: the URL must parse, but Redis is not
    /// contacted here (the flush thread connects, and reconnects, itself).
    #[new]
    #[pyo3(signature = (url, *, app, flush_ns, close_ns, prefix, id = None))]
    fn new(
        url: &str,
        app: String,
        flush_ns: u64,
        close_ns: u64,
        prefix: String,
        id: Option<String>,
    ) -> PyResult<FleetMonitor> {
        if flush_ns == 0 {
            return Err(PyValueError::new_err(
                "flush_interval must be above 0 seconds",
            ));
        }
        let cfg = MonitorConfig {
            app,
            id,
            flush_interval: Duration::from_nanos(flush_ns),
            close_timeout: Duration::from_nanos(close_ns),
            prefix,
            ..MonitorConfig::default()
        };
        let monitor = Monitor::connect(url, cfg).map_err(|e| match e {
            MonitorError::Url(e) => PyValueError::new_err(format!("url: {e}")),
            e => PyValueError::new_err(e.to_string()),
        })?;
        Ok(FleetMonitor {
            monitor: Arc::new(monitor),
            close_ns,
        })
    }

    /// This monitor's id (`<host>-<pid>-<random>` unless given), part of
    /// every batch id.
    #[getter]
    fn id(&self) -> String {
        self.monitor.id().to_owned()
    }

    /// This run's epoch (part of every batch id).
    #[getter]
    fn epoch(&self) -> u64 {
        self.monitor.epoch()
    }

    /// The host name reported with every batch.
    #[getter]
    fn host(&self) -> String {
        self.monitor.host().to_owned()
    }

    /// `close()`'s default timeout, in seconds.
    #[getter]
    fn close_timeout(&self) -> f64 {
        Duration::from_nanos(self.close_ns).as_secs_f64()
    }

    /// The process id reported with every batch.
    #[getter]
    fn pid(&self) -> u32 {
        self.monitor.pid()
    }

    /// Wakes the flush thread now (it flushes every interval anyway).
    fn flush(&self) {
        self.monitor.flush_now();
    }

    /// The monitor's counters: batches sent, store errors, dropped
    /// batches and calls, whether Redis answered last, the backlog, and per
    /// key what was counted and what Redis acknowledged.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = py.detach(|| self.monitor.stats());
        let d = PyDict::new(py);
        d.set_item("batches_sent", s.batches_sent)?;
        d.set_item("store_errors", s.store_errors)?;
        d.set_item("dropped_batches", s.dropped_batches)?;
        d.set_item("dropped_calls", s.dropped_calls)?;
        d.set_item("connected", s.connected)?;
        d.set_item("backlog", s.backlog)?;
        d.set_item("counted", per_key(py, &s.counted)?)?;
        d.set_item("acked", per_key(py, &s.acked)?)?;
        Ok(d)
    }

    /// Flushes everything counted so far and waits, without the GIL, at
    /// most `timeout_ns` nanoseconds (None: the monitor's close timeout)
    /// for Redis to acknowledge it. Returns
    /// the acknowledged counts per key; raises
    /// `tripbit.fleet.CloseTimeoutError` when Redis did not acknowledge
    /// them in time, `tripbit.fleet.FleetError` when already closed.
    #[pyo3(signature = (timeout_ns, /))]
    fn _close<'py>(
        &self,
        py: Python<'py>,
        timeout_ns: Option<u64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let timeout = Duration::from_nanos(timeout_ns.unwrap_or(self.close_ns));
        match py.detach(|| self.monitor.close_within(timeout)) {
            Ok(report) => per_key(py, &report.acked),
            Err(MonitorError::Closed) => Err(fleet_error(
                py,
                format!("monitor {} is already closed", self.monitor.id()),
            )),
            Err(e @ MonitorError::NotAcknowledged { .. }) => Err(py_error(
                py,
                "CloseTimeoutError",
                format!("{e}; waited {timeout:?}"),
            )),
            Err(e) => Err(fleet_error(py, e.to_string())),
        }
    }
}

/// `{key: {"success": n, "failure": n, "slow": n, "rejected": n, "local": n}}`.
fn per_key<'py>(py: Python<'py>, m: &BTreeMap<String, Counts>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, c) in m {
        let e = PyDict::new(py);
        e.set_item("success", c.success)?;
        e.set_item("failure", c.failure)?;
        e.set_item("slow", c.slow)?;
        e.set_item("rejected", c.rejected)?;
        e.set_item("local", c.local)?;
        d.set_item(k, e)?;
    }
    Ok(d)
}
