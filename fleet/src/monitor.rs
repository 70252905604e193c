//! The monitor: one per process. A local tripbit breaker per key decides
//! every call (atomics only: no I/O, no lock, no syscall); a background
//! thread flushes the counts in batches and mirrors the fleet's verdict into
//! the local breakers.
//!
//! Nothing on the call path, and nothing at start-up, waits on the store: if
//! it is down, slow or blackholed the local breakers keep deciding alone
//! (fail open), the counts wait in a bounded backlog, and they are sent when
//! the store answers again.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tripbit::{Breaker, Config, Outcome, Rejected, Stale, State, Ticket, Transition, clock};

use crate::counters::{Counters, KINDS};
use crate::model::{
    Batch, BatchId, Counts, Effective, KeyError, MAX_KEYS_PER_BATCH, VerdictLine, host_name,
    random_u64, valid_id, validate_fleet_key, wall_ms,
};
use crate::redis_store::{RedisStore, Timeouts, UrlError};
use crate::store::Store;

/// A monitor's settings. Every field has a default (see [`Default`]).
#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// Application name reported with every batch. Default `"app"`.
    pub app: String,
    /// Monitor id; default: `<host>-<pid>-<random>`.
    pub id: Option<String>,
    /// How often counts are flushed and verdicts polled. Default 250 ms.
    pub flush_interval: Duration,
    /// Local breaker settings, in [`tripbit::clock`] ticks (nanoseconds).
    /// Default: 5 consecutive failures, open for 5 s. Must be a consecutive policy.
    pub local: Config,
    /// A successful call at least this long counts as slow. Default: off.
    pub slow_after: Option<Duration>,
    /// Most probe calls this monitor takes per flush interval while the
    /// fleet is recovering; it takes them from the key's fleet-wide probe
    /// tokens, which the processor refills every tick, so the whole fleet
    /// probes a bounded number of times however many monitors it has. Default 2.
    pub recovery_probes: u32,
    /// Most batches kept unsent (each holds up to 1000 keys); beyond, counts
    /// are dropped and counted in [`MonitorStats::dropped_calls`]. Default 1024.
    pub max_backlog: usize,
    /// How long [`Monitor::close`] waits for the store to acknowledge. Default 3 s.
    pub close_timeout: Duration,
    /// A fleet verdict not refreshed for this long is dropped: the local
    /// policy decides again (infrastructure trouble never keeps a service
    /// disabled). Default 5 s.
    pub verdict_ttl: Duration,
    /// Store timeouts. Default 500 ms each.
    pub timeouts: Timeouts,
    /// Redis key prefix. Default `"tb"`.
    pub prefix: String,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            app: "app".into(),
            id: None,
            flush_interval: Duration::from_millis(250),
            local: Config::new(clock::ticks(Duration::from_secs(5))).consecutive_failures(5),
            slow_after: None,
            recovery_probes: 2,
            max_backlog: 1024,
            close_timeout: Duration::from_secs(3),
            verdict_ttl: Duration::from_secs(5),
            timeouts: Timeouts::default(),
            prefix: "tb".into(),
        }
    }
}

/// Why a monitor or one of its breakers could not be made, or a close failed.
#[derive(Debug)]
pub enum MonitorError {
    /// The Redis URL does not parse.
    Url(UrlError),
    /// The key is malformed.
    Key(KeyError),
    /// The local breaker config was refused (it must be a consecutive policy).
    Config(tripbit::ConfigError),
    /// A setting is out of range (named).
    Setting(&'static str),
    /// The monitor is closed.
    Closed,
    /// [`Monitor::breaker_with`] asked for a key that already has a breaker
    /// in this monitor with other local settings (named).
    KeyConfig(String),
    /// `close` gave up: this many counted calls were not acknowledged by the store.
    NotAcknowledged {
        /// Calls counted but not acknowledged.
        calls: u64,
        /// The last store error.
        last_error: String,
    },
}

impl std::fmt::Display for MonitorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MonitorError::Url(e) => e.fmt(f),
            MonitorError::Key(e) => write!(f, "invalid key: {e}"),
            MonitorError::Config(e) => write!(f, "invalid local breaker config: {e}"),
            MonitorError::Setting(s) => write!(f, "invalid setting: {s}"),
            MonitorError::Closed => f.write_str("monitor is closed"),
            MonitorError::KeyConfig(key) => write!(
                f,
                "key {key:?} already has a breaker in this monitor with other local settings \
                 (one local breaker per key and process: give the same settings, or another key)"
            ),
            MonitorError::NotAcknowledged { calls, last_error } => write!(
                f,
                "close timed out: {calls} counted calls not acknowledged by the store ({last_error})"
            ),
        }
    }
}

impl std::error::Error for MonitorError {}

const HEALTHY: u8 = 0;
const UNHEALTHY: u8 = 1;
const RECOVERING: u8 = 2;
const FORCED_HEALTHY: u8 = 3;
const FORCED_UNHEALTHY: u8 = 4;

fn mode_code(e: Effective) -> u8 {
    match e {
        Effective::Healthy => HEALTHY,
        Effective::Unhealthy => UNHEALTHY,
        Effective::Recovering => RECOVERING,
        Effective::ForcedHealthy => FORCED_HEALTHY,
        Effective::ForcedUnhealthy => FORCED_UNHEALTHY,
    }
}

fn mode_of(code: u8) -> Effective {
    match code {
        UNHEALTHY => Effective::Unhealthy,
        RECOVERING => Effective::Recovering,
        FORCED_HEALTHY => Effective::ForcedHealthy,
        FORCED_UNHEALTHY => Effective::ForcedUnhealthy,
        _ => Effective::Healthy,
    }
}

const SUCCESS: usize = 0;
const FAILURE: usize = 1;
const SLOW: usize = 2;
const REJECTED: usize = 3;
const LOCAL: usize = 4;

/// One key's local state, shared by its [`FleetBreaker`] handles and the flusher.
struct Entry {
    key: String,
    /// The local breaker's settings (a later `breaker_with` must match).
    config: Config,
    local: Breaker,
    /// The fleet verdict being mirrored (`HEALTHY`…). Written by the flusher only.
    mode: AtomicU8,
    /// Probe calls left in this flush interval while recovering.
    budget: AtomicU32,
    /// Version of the verdict mirrored (0 = none).
    version: AtomicU64,
    /// Counts by outcome (`SUCCESS`…; `REJECTED` and `LOCAL` disjoint),
    /// only growing.
    counts: Counters,
    /// What the flusher already took from `counts` (only it locks this).
    flushed: Mutex<[u64; KINDS]>,
    slow_after: Option<Duration>,
}

fn to_counts(t: [u64; KINDS]) -> Counts {
    Counts {
        success: t[SUCCESS],
        failure: t[FAILURE],
        slow: t[SLOW],
        rejected: t[REJECTED] + t[LOCAL],
        local: t[LOCAL],
    }
}

impl Entry {
    #[inline]
    fn count(&self, what: usize) {
        self.counts.add(what);
    }

    /// The counts since the last `take` (flusher only).
    fn take(&self) -> Counts {
        let now = self.counts.totals();
        let mut flushed = lock(&self.flushed);
        let mut d = [0u64; KINDS];
        for ((d, n), f) in d.iter_mut().zip(now).zip(flushed.iter()) {
            *d = n - f;
        }
        *flushed = now;
        to_counts(d)
    }

    /// Counted but not yet taken.
    fn peek(&self) -> Counts {
        let now = self.counts.totals();
        let flushed = lock(&self.flushed);
        let mut d = [0u64; KINDS];
        for ((d, n), f) in d.iter_mut().zip(now).zip(flushed.iter()) {
            *d = n.saturating_sub(*f);
        }
        to_counts(d)
    }

    /// Mirrors a fleet verdict into the local breaker (core public API only).
    fn mirror(&self, eff: Effective, probes: u32) {
        // Ordering: Relaxed. `mode` is a hint for the call path (whether to
        // take a probe slot); the local breaker's own word, changed below
        // through the core's API, is what admits or rejects.
        let prev = mode_of(self.mode.swap(mode_code(eff), Ordering::Relaxed));
        match eff {
            Effective::Healthy => {
                if prev != Effective::Healthy {
                    self.local.reset();
                }
            }
            Effective::Unhealthy | Effective::ForcedUnhealthy => {
                self.local.force_open();
            }
            Effective::Recovering => {
                if prev != Effective::Recovering {
                    self.local.reset();
                    // Ordering: Relaxed: a budget counter, nothing else published.
                    self.budget.store(0, Ordering::Relaxed);
                }
                // Ordering: Relaxed, as above.
                self.budget.fetch_add(probes, Ordering::Relaxed);
            }
            Effective::ForcedHealthy => {
                self.local.force_closed();
            }
        }
    }
}

/// A monitor's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonitorStats {
    /// Batches acknowledged by the store.
    pub batches_sent: u64,
    /// Store operations that failed (each logged once per outage).
    pub store_errors: u64,
    /// Batches dropped because the backlog was full.
    pub dropped_batches: u64,
    /// Calls in those batches.
    pub dropped_calls: u64,
    /// Whether the last store operation worked.
    pub connected: bool,
    /// Per key: counted so far (acknowledged or not).
    pub counted: BTreeMap<String, Counts>,
    /// Per key: acknowledged by the store.
    pub acked: BTreeMap<String, Counts>,
    /// Batches waiting to be sent.
    pub backlog: usize,
}

struct Shared {
    id: String,
    epoch: u64,
    host: String,
    pid: u32,
    cfg: MonitorConfig,
    store: Arc<dyn Store>,
    keys: RwLock<HashMap<String, Arc<Entry>>>,
    stop: AtomicBool,
    wake: tokio::sync::Notify,
    stats: Mutex<MonitorStats>,
    /// How long the closing flush may take, in ns (`close_timeout`, or
    /// what [`Monitor::close_within`] asked for).
    close_ns: AtomicU64,
}

/// The result of a successful [`Monitor::close`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReport {
    /// Per key: everything this monitor counted, all acknowledged by the store.
    pub acked: BTreeMap<String, Counts>,
    /// Batches acknowledged over the monitor's life.
    pub batches_sent: u64,
}

/// A process's connection to the fleet. Create one per process with
/// [`Monitor::connect`], then one [`FleetBreaker`] per key.
///
/// ```no_run
/// use tripbit_fleet::{Monitor, MonitorConfig};
/// let monitor = Monitor::connect("redis://127.0.0.1:6379/0", MonitorConfig::default()).unwrap();
/// let hotels = monitor.breaker("acme.search.hotels").unwrap();
/// match hotels.try_acquire() {
///     Ok(call) => call.record(tripbit::Outcome::Success),
///     Err(_) => { /* fallback */ }
/// }
/// monitor.close().unwrap();
/// ```
pub struct Monitor {
    shared: Arc<Shared>,
    done: Mutex<Option<std::sync::mpsc::Receiver<Result<CloseReport, MonitorError>>>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("id", &self.shared.id)
            .finish()
    }
}

impl Monitor {
    /// A monitor flushing to the Redis at `url`. Returns at once: the URL
    /// must parse, but the server is not contacted here.
    pub fn connect(url: &str, cfg: MonitorConfig) -> Result<Monitor, MonitorError> {
        let store =
            RedisStore::with_timeouts(url, &cfg.prefix, cfg.timeouts).map_err(MonitorError::Url)?;
        Monitor::with_store(Arc::new(store), cfg)
    }

    /// A monitor on any [`Store`] (tests use [`MemStore`](crate::MemStore)).
    pub fn with_store(store: Arc<dyn Store>, cfg: MonitorConfig) -> Result<Monitor, MonitorError> {
        if cfg.flush_interval.is_zero() {
            return Err(MonitorError::Setting("flush_interval must be above 0"));
        }
        if cfg.max_backlog == 0 {
            return Err(MonitorError::Setting("max_backlog must be at least 1"));
        }
        Breaker::try_new(cfg.local).map_err(MonitorError::Config)?;
        let host = host_name();
        let pid = std::process::id();
        let id = match &cfg.id {
            Some(id) if valid_id(id) => id.clone(),
            Some(_) => {
                return Err(MonitorError::Setting(
                    "id must be 1..=64 ASCII letters, digits, '_' or '-'",
                ));
            }
            None => {
                let h: String = host
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .take(24)
                    .collect();
                format!("{h}-{pid}-{:06x}", random_u64() & 0xff_ffff)
            }
        };
        let cfg_close = cfg.close_timeout;
        let shared = Arc::new(Shared {
            id,
            epoch: random_u64() >> 1,
            host,
            pid,
            cfg,
            store,
            keys: RwLock::new(HashMap::new()),
            stop: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            stats: Mutex::new(MonitorStats::default()),
            close_ns: AtomicU64::new(duration_ns(cfg_close)),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let s2 = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("tripbit-fleet-flush".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("tripbit-fleet: monitor cannot start its runtime: {e}");
                        return;
                    }
                };
                let r = rt.block_on(flush_loop(s2));
                let _ = tx.send(r);
            })
            .map_err(|_| MonitorError::Setting("cannot spawn the flush thread"))?;
        Ok(Monitor {
            shared,
            done: Mutex::new(Some(rx)),
        })
    }

    /// This monitor's id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// This run's epoch (part of every batch id).
    pub fn epoch(&self) -> u64 {
        self.shared.epoch
    }

    /// This process's host name, as reported with every batch.
    pub fn host(&self) -> &str {
        &self.shared.host
    }

    /// This process's id, as reported with every batch.
    pub fn pid(&self) -> u32 {
        self.shared.pid
    }

    /// The breaker for `key` (created on first use with the monitor's
    /// [`MonitorConfig::local`] settings; later calls return the same one,
    /// whatever settings it was made with). Malformed keys are refused here.
    pub fn breaker(&self, key: &str) -> Result<FleetBreaker, MonitorError> {
        self.entry(key, None)
    }

    /// The breaker for `key` with its own local settings `local` (a
    /// consecutive-failures policy, in [`tripbit::clock`] ticks) instead
    /// of [`MonitorConfig::local`]. A key has one local breaker per
    /// monitor: asking again with the same settings returns a breaker
    /// sharing it; with other settings it is
    /// [`MonitorError::KeyConfig`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tripbit::{Config, clock};
    /// use tripbit_fleet::{MemStore, Monitor, MonitorConfig, MonitorError};
    /// let m = Monitor::with_store(Arc::new(MemStore::default()), MonitorConfig::default())?;
    /// let strict = Config::new(clock::ticks(Duration::from_secs(30))).consecutive_failures(2);
    /// let a = m.breaker_with("acme.pay.cards", strict)?;
    /// let b = m.breaker_with("acme.pay.cards", strict)?; // the same local breaker
    /// let _ = a.call(|| Err::<(), _>("down"));
    /// let _ = b.call(|| Err::<(), _>("down"));
    /// assert!(a.try_acquire().is_err()); // 2 failures opened it
    /// let other = Config::new(clock::ticks(Duration::from_secs(1)));
    /// assert!(matches!(m.breaker_with("acme.pay.cards", other), Err(MonitorError::KeyConfig(_))));
    /// # Ok::<(), MonitorError>(())
    /// ```
    pub fn breaker_with(&self, key: &str, local: Config) -> Result<FleetBreaker, MonitorError> {
        Breaker::try_new(local).map_err(MonitorError::Config)?;
        self.entry(key, Some(local))
    }

    /// The entry for `key`, created with `local` (or the monitor's
    /// default); `local` given must match an existing entry's.
    fn entry(&self, key: &str, local: Option<Config>) -> Result<FleetBreaker, MonitorError> {
        validate_fleet_key(key).map_err(MonitorError::Key)?;
        // Ordering: Relaxed: a flag checked for a nicer error only.
        if self.shared.stop.load(Ordering::Relaxed) {
            return Err(MonitorError::Closed);
        }
        let found = |e: &Arc<Entry>| match local {
            Some(c) if c != e.config => Err(MonitorError::KeyConfig(key.to_string())),
            _ => Ok(FleetBreaker {
                entry: Arc::clone(e),
            }),
        };
        if let Some(e) = read(&self.shared.keys).get(key) {
            return found(e);
        }
        let mut keys = write(&self.shared.keys);
        if let Some(e) = keys.get(key) {
            return found(e);
        }
        let config = local.unwrap_or(self.shared.cfg.local);
        // Validated: `local` in `breaker_with`, the default in `with_store`.
        let breaker = Breaker::try_new(config).map_err(MonitorError::Config)?;
        let e = Arc::new(Entry {
            key: key.to_string(),
            config,
            local: breaker,
            mode: AtomicU8::new(HEALTHY),
            budget: AtomicU32::new(0),
            version: AtomicU64::new(0),
            counts: Counters::default(),
            flushed: Mutex::new([0; KINDS]),
            slow_after: self.shared.cfg.slow_after,
        });
        keys.insert(key.to_string(), Arc::clone(&e));
        Ok(FleetBreaker { entry: e })
    }

    /// Counters, and per key what was counted and acknowledged.
    pub fn stats(&self) -> MonitorStats {
        let mut s = lock(&self.shared.stats).clone();
        for (k, e) in read(&self.shared.keys).iter() {
            s.counted.entry(k.clone()).or_default().add(&e.peek());
        }
        s
    }

    /// Wakes the flusher now (tests, and before a planned shutdown).
    pub fn flush_now(&self) {
        self.shared.wake.notify_one();
    }

    /// Flushes everything counted so far and returns once the store has
    /// acknowledged it, or fails after `close_timeout`. The breakers keep
    /// working locally afterwards, but count nothing more to the fleet.
    pub fn close(&self) -> Result<CloseReport, MonitorError> {
        self.close_within(self.shared.cfg.close_timeout)
    }

    /// [`close`](Self::close), waiting at most `timeout` for the store
    /// (instead of [`MonitorConfig::close_timeout`]). Closing a closed
    /// monitor is [`MonitorError::Closed`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tripbit_fleet::{MemStore, Monitor, MonitorConfig, MonitorError};
    /// let m = Monitor::with_store(Arc::new(MemStore::default()), MonitorConfig::default())?;
    /// m.breaker("acme.maps.tiles")?.call(|| Ok::<_, ()>(()));
    /// let report = m.close_within(Duration::from_secs(1))?;
    /// assert_eq!(report.acked["acme.maps.tiles"].success, 1);
    /// assert!(matches!(m.close_within(Duration::from_secs(1)), Err(MonitorError::Closed)));
    /// # Ok::<(), MonitorError>(())
    /// ```
    pub fn close_within(&self, timeout: Duration) -> Result<CloseReport, MonitorError> {
        // Ordering: Relaxed: published to the flusher by the Release store
        // of `stop` below (its Acquire load happens before it reads this).
        self.shared
            .close_ns
            .store(duration_ns(timeout), Ordering::Relaxed);
        // Ordering: Release, pairs with the flusher's Acquire load: every
        // count this thread made before `close` is visible to its last drain
        // (counts of other threads need their own happens-before with this
        // call, e.g. a join, to be guaranteed in the close report).
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        let Some(rx) = lock(&self.done).take() else {
            return Err(MonitorError::Closed);
        };
        let wait = timeout.saturating_add(Duration::from_millis(500));
        match rx.recv_timeout(wait) {
            Ok(r) => r,
            Err(_) => Err(MonitorError::NotAcknowledged {
                calls: u64::MAX,
                last_error: "flush thread did not finish".into(),
            }),
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // Ordering: Release, as in `close`. The thread flushes what it can
        // within `close_timeout` and exits; nobody waits for it.
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

/// The guard for one key in one process. Cheap to clone.
#[derive(Clone)]
pub struct FleetBreaker {
    entry: Arc<Entry>,
}

impl std::fmt::Debug for FleetBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetBreaker")
            .field("key", &self.entry.key)
            .field("fleet", &self.fleet_state())
            .finish()
    }
}

impl FleetBreaker {
    /// The key.
    pub fn key(&self) -> &str {
        &self.entry.key
    }

    /// Asks to make a call. Atomics only: no I/O, no lock.
    #[inline]
    pub fn try_acquire(&self) -> Result<Call<'_>, Rejected> {
        let e = &*self.entry;
        let (ticket, _) = self.acquire_ticket_with(clock::now)?;
        Ok(Call {
            entry: e,
            ticket: Some(ticket),
            started: e.slow_after.map(|_| Instant::now()),
        })
    }

    /// [`try_acquire`](Self::try_acquire) for callers that cannot hold a
    /// borrow (a language binding): admits a call as a plain [`Ticket`],
    /// reading `clock` only when the local breaker needs a tick (never
    /// while it is closed), and returns the local transition admitting it
    /// caused. Report the outcome with
    /// [`record_ticket`](Self::record_ticket), or give it back with
    /// [`release`](Self::release). A rejection is counted here.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::Outcome;
    /// use tripbit_fleet::{MemStore, Monitor, MonitorConfig};
    /// let m = Monitor::with_store(Arc::new(MemStore::default()), MonitorConfig::default()).unwrap();
    /// let b = m.breaker("acme.maps.geocode").unwrap();
    /// let (ticket, _) = b.acquire_ticket_with(tripbit::clock::now).unwrap();
    /// b.record_ticket(ticket, Outcome::Failure, tripbit::clock::now()).unwrap();
    /// assert_eq!(m.stats().counted["acme.maps.geocode"].failure, 1);
    /// ```
    #[inline]
    pub fn acquire_ticket_with(
        &self,
        clock: impl FnOnce() -> u64,
    ) -> Result<(Ticket, Option<Transition>), Rejected> {
        let e = &*self.entry;
        // Ordering: Relaxed, see `Entry::mirror`.
        if e.mode.load(Ordering::Relaxed) == RECOVERING
            && e.budget
                // Ordering: Relaxed: a budget counter.
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                .is_err()
        {
            e.count(REJECTED);
            return Err(Rejected {
                state: State::HalfOpen,
                retry_at: None,
            });
        }
        match e.local.acquire_ticket_with(clock) {
            Ok(admitted) => Ok(admitted),
            Err(r) => {
                // Ordering: Relaxed, see `Entry::mirror`.
                let healthy = e.mode.load(Ordering::Relaxed) == HEALTHY;
                e.count(if healthy { LOCAL } else { REJECTED });
                Err(r)
            }
        }
    }

    /// Reports the outcome of a call admitted by
    /// [`acquire_ticket_with`](Self::acquire_ticket_with) at tick `now`
    /// (a closed success of the local breaker never uses `now`): the local
    /// breaker records it, and it is counted for the fleet (`Success` and
    /// `Failure`; `Ignored` counts nothing). Returns the local breaker's
    /// answer: `Err(Stale)` when it changed generation since (the fleet
    /// count is kept: the call did happen). [`MonitorConfig::slow_after`]
    /// is applied by [`Call`] only: a success reported here is a success.
    #[inline]
    pub fn record_ticket(
        &self,
        ticket: Ticket,
        outcome: Outcome,
        now: u64,
    ) -> Result<Option<Transition>, Stale> {
        let e = &*self.entry;
        let r = e.local.record_ticket(ticket, outcome, now);
        match outcome {
            Outcome::Success => e.count(SUCCESS),
            Outcome::Failure => e.count(FAILURE),
            Outcome::Ignored => {}
        }
        r
    }

    /// Gives an admitted ticket back unused: frees its probe slot (if it
    /// holds one), counts nothing (the core's `release`).
    pub fn release(&self, ticket: Ticket, now: u64) -> Result<(), Stale> {
        self.entry.local.release(ticket, now)
    }

    /// The local breaker, for reports (`snapshot`, `state`) and operator
    /// actions on this process only (`force_open`, `reset`...). The mirror
    /// of the fleet verdict drives it too: the next change of verdict
    /// overrides a local operator action.
    pub fn local(&self) -> &Breaker {
        &self.entry.local
    }

    /// The local breaker's settings.
    pub fn local_config(&self) -> Config {
        self.entry.config
    }

    /// Runs `f` if admitted: `Ok` counts as success, `Err` as failure.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit_fleet::{MemStore, Monitor, MonitorConfig};
    /// let m = Monitor::with_store(Arc::new(MemStore::default()), MonitorConfig::default()).unwrap();
    /// let b = m.breaker("acme.maps.geocode").unwrap();
    /// assert_eq!(b.call(|| Ok::<_, ()>(5)), Ok(5));
    /// assert_eq!(m.stats().counted["acme.maps.geocode"].success, 1);
    /// ```
    #[inline]
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, tripbit::CallError<E>> {
        let e = &*self.entry;
        // Ordering: Relaxed, see `Entry::mirror`.
        if e.slow_after.is_some() || e.mode.load(Ordering::Relaxed) == RECOVERING {
            return self.call_through(f);
        }
        // The common case: the local breaker's borrowed permit (a closed
        // call reads no clock), plus one count.
        let permit = match e.local.try_acquire_with(clock::now) {
            Ok(p) => p,
            Err(r) => {
                // Ordering: Relaxed, see `Entry::mirror`.
                let healthy = e.mode.load(Ordering::Relaxed) == HEALTHY;
                e.count(if healthy { LOCAL } else { REJECTED });
                return Err(tripbit::CallError::Rejected(r));
            }
        };
        let r = f();
        let ok = r.is_ok();
        permit.record_with(Outcome::from_success(ok), clock::now);
        e.count(if ok { SUCCESS } else { FAILURE });
        r.map_err(tripbit::CallError::Failed)
    }

    /// [`call`](Self::call) through a [`Call`]: timed calls (`slow_after`),
    /// and the fleet's probe budget while it recovers. Out of line, so the
    /// common path stays as small as a plain breaker's.
    #[inline(never)]
    #[cold]
    fn call_through<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, tripbit::CallError<E>> {
        let call = self.try_acquire().map_err(tripbit::CallError::Rejected)?;
        let r = f();
        call.record(Outcome::from_success(r.is_ok()));
        r.map_err(tripbit::CallError::Failed)
    }

    /// The fleet verdict this process mirrors.
    pub fn fleet_state(&self) -> Effective {
        // Ordering: Relaxed: a report.
        mode_of(self.entry.mode.load(Ordering::Relaxed))
    }

    /// The version of the mirrored verdict (0: none seen yet).
    pub fn verdict_version(&self) -> u64 {
        // Ordering: Relaxed: a report.
        self.entry.version.load(Ordering::Relaxed)
    }

    /// The local breaker's state now.
    pub fn local_state(&self) -> State {
        self.entry.local.state(clock::now())
    }
}

/// An admitted call: report its outcome with [`record`](Call::record).
/// Dropping it unreported counts nothing and frees a probe slot.
pub struct Call<'a> {
    entry: &'a Entry,
    ticket: Option<Ticket>,
    started: Option<Instant>,
}

impl Call<'_> {
    /// Reports the outcome.
    pub fn record(mut self, outcome: Outcome) {
        let Some(ticket) = self.ticket.take() else {
            return;
        };
        let e = self.entry;
        // A closed success admitted without a tick (acquired_at 0) needs no
        // clock read: the consecutive policy's closed path times nothing.
        let now = if outcome == Outcome::Success && ticket.acquired_at == 0 {
            0
        } else {
            clock::now()
        };
        let _ = e.local.record_ticket(ticket, outcome, now);
        match outcome {
            Outcome::Success => {
                let slow = match (self.started, e.slow_after) {
                    (Some(t), Some(d)) => t.elapsed() >= d,
                    _ => false,
                };
                e.count(if slow { SLOW } else { SUCCESS });
            }
            Outcome::Failure => e.count(FAILURE),
            Outcome::Ignored => {}
        }
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            let _ = self
                .entry
                .local
                .record_ticket(t, Outcome::Ignored, clock::now());
        }
    }
}

/// `d` in ns, saturating.
fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// One line to stderr in one write, so lines of several processes do not interleave.
fn log_line(s: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{s}\n").as_bytes());
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}

struct Pending {
    batch: Batch,
    /// Sent at least once (its seq is fixed; it is never merged into or dropped).
    attempted: bool,
}

struct Flusher {
    s: Arc<Shared>,
    backlog: VecDeque<Pending>,
    next_seq: u64,
    acked: BTreeMap<String, Counts>,
    counted: BTreeMap<String, Counts>,
    last_error: String,
    logged_outage: bool,
    /// Last successful verdict poll.
    last_poll: Instant,
    /// Whether the verdicts were dropped for being stale (until the next poll).
    expired: bool,
}

impl Flusher {
    /// Moves every pending count into the backlog's unsent tail batch.
    fn drain(&mut self) {
        let entries: Vec<Arc<Entry>> = read(&self.s.keys).values().cloned().collect();
        for e in entries {
            let c = e.take();
            if c.is_zero() {
                continue;
            }
            self.counted.entry(e.key.clone()).or_default().add(&c);
            let fits = self.backlog.back().is_some_and(|p| {
                !p.attempted
                    && (p.batch.counts.len() < MAX_KEYS_PER_BATCH
                        || p.batch.counts.contains_key(&e.key))
            });
            if !fits {
                if self.backlog.len() >= self.s.cfg.max_backlog {
                    let mut st = lock(&self.s.stats);
                    st.dropped_calls += c.total();
                    st.dropped_batches += 1;
                    continue;
                }
                self.backlog.push_back(Pending {
                    batch: Batch {
                        id: BatchId {
                            monitor: self.s.id.clone(),
                            epoch: self.s.epoch,
                            seq: 0,
                        },
                        host: self.s.host.clone(),
                        pid: self.s.pid,
                        app: self.s.cfg.app.clone(),
                        sent_ms: 0,
                        counts: BTreeMap::new(),
                    },
                    attempted: false,
                });
            }
            if let Some(p) = self.backlog.back_mut() {
                p.batch.counts.entry(e.key.clone()).or_default().add(&c);
            }
        }
    }

    /// Sends the backlog in order; stops at the first failure. Returns whether all went.
    async fn send(&mut self) -> bool {
        while let Some(p) = self.backlog.front_mut() {
            if !p.attempted {
                p.attempted = true;
                p.batch.id.seq = self.next_seq;
                p.batch.sent_ms = wall_ms();
                self.next_seq += 1;
            }
            match self.s.store.send_batch(&p.batch).await {
                Ok(()) => {
                    let mut st = lock(&self.s.stats);
                    for (k, c) in &p.batch.counts {
                        self.acked.entry(k.clone()).or_default().add(c);
                        st.acked.entry(k.clone()).or_default().add(c);
                    }
                    self.backlog.pop_front();
                    st.batches_sent += 1;
                    st.connected = true;
                    if self.logged_outage {
                        log_line(&format!(
                            "tripbit-fleet monitor {}: store reachable again, flushing",
                            self.s.id
                        ));
                        self.logged_outage = false;
                    }
                }
                Err(e) => {
                    self.fail(&e.to_string());
                    return false;
                }
            }
        }
        true
    }

    fn fail(&mut self, e: &str) {
        let mut st = lock(&self.s.stats);
        st.store_errors += 1;
        st.connected = false;
        drop(st);
        if !self.logged_outage {
            log_line(&format!(
                "tripbit-fleet monitor {}: store unavailable ({e}); failing open to the local breakers",
                self.s.id
            ));
            self.logged_outage = true;
        }
        self.last_error = e.to_string();
    }

    /// Polls the verdict index and mirrors changed verdicts.
    async fn poll(&mut self) {
        let index = match self.s.store.verdict_index().await {
            Ok(i) => i,
            Err(e) => {
                self.fail(&e.to_string());
                return;
            }
        };
        self.last_poll = Instant::now();
        self.expired = false;
        self.mirror(&index);
        // Probe tokens for the recovering keys, from the fleet-wide pool.
        let entries: Vec<Arc<Entry>> = read(&self.s.keys).values().cloned().collect();
        for e in entries {
            // Ordering: Relaxed: only the flusher writes `mode`.
            if e.mode.load(Ordering::Relaxed) != RECOVERING {
                continue;
            }
            // Ordering: Relaxed: a budget counter.
            let left = e.budget.load(Ordering::Relaxed);
            let want = self.s.cfg.recovery_probes.saturating_sub(left);
            if want == 0 {
                continue;
            }
            match self.s.store.take_probe_tokens(&e.key, want).await {
                Ok(n) if n > 0 => e.mirror(Effective::Recovering, n),
                Ok(_) => {}
                Err(err) => {
                    self.fail(&err.to_string());
                    return;
                }
            }
        }
    }

    /// Drops verdicts not refreshed within `verdict_ttl`: fail open.
    fn expire(&mut self) {
        if self.expired || self.last_poll.elapsed() < self.s.cfg.verdict_ttl {
            return;
        }
        self.expired = true;
        let entries: Vec<Arc<Entry>> = read(&self.s.keys).values().cloned().collect();
        let mut dropped = 0;
        for e in entries {
            // Ordering: Relaxed: only the flusher writes `mode` and `version`.
            if e.mode.load(Ordering::Relaxed) != HEALTHY {
                e.mirror(Effective::Healthy, 0);
                // Ordering: Relaxed, as above.
                e.version.store(0, Ordering::Relaxed);
                dropped += 1;
            }
        }
        if dropped > 0 {
            log_line(&format!(
                "tripbit-fleet monitor {}: no fresh verdict for {:?}; {dropped} keys back on their local breakers",
                self.s.id, self.s.cfg.verdict_ttl
            ));
        }
    }

    fn mirror(&self, index: &HashMap<String, VerdictLine>) {
        let entries: Vec<Arc<Entry>> = read(&self.s.keys).values().cloned().collect();
        let probes = self.s.cfg.recovery_probes;
        for e in entries {
            // Ordering: Relaxed: only the flusher writes `version`.
            let have = e.version.load(Ordering::Relaxed);
            match index.get(&e.key) {
                Some(line) if line.version != have => {
                    // Probes come from the fleet's tokens (see `poll`).
                    e.mirror(line.effective(), 0);
                    e.version.store(line.version, Ordering::Relaxed);
                }
                Some(_) => {}
                None if have != 0 => {
                    // The verdict is gone (a store that lost its data): fail
                    // open to the local policy.
                    e.mirror(Effective::Healthy, probes);
                    e.version.store(0, Ordering::Relaxed);
                }
                None => {}
            }
        }
    }

    fn publish_stats(&self) {
        let mut st = lock(&self.s.stats);
        st.acked = self.acked.clone();
        st.counted = self.counted.clone();
        st.backlog = self.backlog.len();
    }
}

async fn flush_loop(s: Arc<Shared>) -> Result<CloseReport, MonitorError> {
    let mut f = Flusher {
        s: Arc::clone(&s),
        backlog: VecDeque::new(),
        next_seq: 1,
        acked: BTreeMap::new(),
        counted: BTreeMap::new(),
        last_error: String::new(),
        logged_outage: false,
        last_poll: Instant::now(),
        expired: false,
    };
    // Verdict-change notices (pub/sub): a hint to poll at once; the poll
    // every interval stays, so a lost notice only costs latency.
    let mut changes: Option<crate::store::ChangeFeed> = None;
    let mut next_subscribe = Instant::now();
    let mut next_tick = Instant::now() + s.cfg.flush_interval;
    loop {
        // Ordering: Acquire, pairs with the Release store in `Monitor::close`.
        if s.stop.load(Ordering::Acquire) {
            break;
        }
        let tick = tokio::time::timeout_at(next_tick.into(), s.wake.notified());
        let notice = async {
            match changes.as_mut() {
                Some(c) => std::future::poll_fn(|cx| c.as_mut().poll_next(cx)).await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            _ = tick => None,
            n = notice => Some(n.is_some()),
        };
        match event {
            Some(true) => {
                f.poll().await;
                f.publish_stats();
                continue;
            }
            Some(false) => {
                changes = None;
                continue;
            }
            None => {}
        }
        next_tick = Instant::now() + s.cfg.flush_interval;
        f.drain();
        let sent = f.send().await;
        if sent {
            f.poll().await;
            if changes.is_none() && Instant::now() >= next_subscribe {
                match s.store.subscribe_changes().await {
                    Ok(c) => changes = c,
                    Err(_) => next_subscribe = Instant::now() + Duration::from_secs(1),
                }
                if changes.is_none() {
                    next_subscribe = next_subscribe.max(Instant::now() + Duration::from_secs(1));
                }
            }
        }
        f.expire();
        f.publish_stats();
    }
    // Closing: flush what is left until acknowledged or out of time.
    // Ordering: Relaxed: written before the Release store of `stop`,
    // which the Acquire load above saw.
    let close_for = Duration::from_nanos(s.close_ns.load(Ordering::Relaxed));
    let deadline = Instant::now()
        .checked_add(close_for)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
    loop {
        f.drain();
        if f.send().await {
            f.publish_stats();
            return Ok(CloseReport {
                acked: f.acked.clone(),
                batches_sent: lock(&s.stats).batches_sent,
            });
        }
        f.publish_stats();
        if Instant::now() >= deadline {
            let calls = f
                .backlog
                .iter()
                .map(|p| p.batch.counts.values().map(Counts::total).sum::<u64>());
            return Err(MonitorError::NotAcknowledged {
                calls: calls.sum(),
                last_error: f.last_error.clone(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Forced, Health};
    use crate::store::MemStore;

    fn cfg() -> MonitorConfig {
        MonitorConfig {
            flush_interval: Duration::from_millis(10),
            ..MonitorConfig::default()
        }
    }

    #[test]
    fn bad_keys_are_refused_at_creation() {
        let m = Monitor::with_store(Arc::new(MemStore::default()), cfg()).unwrap();
        for k in [
            "",
            "a b.c",
            "nodots",
            "a..b",
            &format!("a.{}", "x".repeat(200)),
        ] {
            assert!(matches!(m.breaker(k), Err(MonitorError::Key(_))), "{k:?}");
        }
        assert!(m.breaker("acme.search.hotels").is_ok());
    }

    #[test]
    fn bad_url_is_a_startup_error() {
        let e = Monitor::connect("not a url", cfg()).unwrap_err();
        assert!(matches!(e, MonitorError::Url(_)), "{e}");
    }

    #[test]
    fn counts_flush_and_close_acks_everything() {
        let store = Arc::new(MemStore::default());
        let m = Monitor::with_store(store.clone(), cfg()).unwrap();
        let b = m.breaker("acme.a.b").unwrap();
        for i in 0..100 {
            let _ = b.call(|| if i % 10 == 0 { Err(()) } else { Ok(()) });
        }
        let r = m.close().unwrap();
        assert_eq!(r.acked["acme.a.b"].success, 90);
        assert_eq!(r.acked["acme.a.b"].failure, 10);
    }

    #[test]
    fn store_down_fails_open_and_keeps_counts() {
        let store = Arc::new(MemStore::default());
        store.fail_with(Some(crate::StoreError::Timeout("test")));
        let m = Monitor::with_store(store.clone(), cfg()).unwrap();
        let b = m.breaker("acme.a.b").unwrap();
        for _ in 0..50 {
            assert!(b.call(|| Ok::<_, ()>(())).is_ok());
        }
        m.flush_now();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!m.stats().connected);
        store.fail_with(None);
        let r = m.close().unwrap();
        assert_eq!(r.acked["acme.a.b"].success, 50);
    }

    #[test]
    fn close_fails_after_its_timeout_when_the_store_never_answers() {
        let store = Arc::new(MemStore::default());
        store.fail_with(Some(crate::StoreError::Timeout("test")));
        let m = Monitor::with_store(
            store,
            MonitorConfig {
                close_timeout: Duration::from_millis(100),
                ..cfg()
            },
        )
        .unwrap();
        let b = m.breaker("acme.a.b").unwrap();
        b.call(|| Ok::<_, ()>(())).unwrap();
        let t0 = Instant::now();
        match m.close() {
            Err(MonitorError::NotAcknowledged { calls, .. }) => assert_eq!(calls, 1),
            other => panic!("{other:?}"),
        }
        assert!(t0.elapsed() < Duration::from_secs(2));
    }

    /// An in-memory store whose leader wrote `state` for `acme.a.b`, and the
    /// runtime that drove it.
    fn store_with_verdict(state: Health) -> (Arc<MemStore>, tokio::runtime::Runtime) {
        use crate::model::VerdictWrite;
        use crate::store::ProcessorInfo;
        let store = Arc::new(MemStore::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let me = ProcessorInfo {
            id: "p".into(),
            role: "leader".into(),
            host: "h".into(),
            pid: 1,
            epoch: 0,
            at_ms: 0,
        };
        let epoch = rt
            .block_on(store.acquire_lease(&me, 1, 1000))
            .unwrap()
            .unwrap();
        let v = VerdictWrite {
            key: "acme.a.b".into(),
            state,
            from: None,
            force: None,
            reason: "test".into(),
            level: 0,
            open_until_ms: 0,
            at_ms: 0,
        };
        rt.block_on(store.write_verdict(epoch, &v)).unwrap();
        (store, rt)
    }

    #[test]
    fn a_stale_verdict_is_dropped_and_the_local_policy_decides() {
        let (store, _rt) = store_with_verdict(Health::Unhealthy);
        let m = Monitor::with_store(
            store.clone(),
            MonitorConfig {
                verdict_ttl: Duration::from_millis(200),
                ..cfg()
            },
        )
        .unwrap();
        let b = m.breaker("acme.a.b").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while b.fleet_state() != Effective::Unhealthy {
            assert!(Instant::now() < deadline, "verdict mirrored");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(b.try_acquire().is_err());
        // The store goes silent: after the TTL the local breaker decides again.
        store.fail_with(Some(crate::StoreError::Timeout("test")));
        while b.fleet_state() != Effective::Healthy {
            assert!(Instant::now() < deadline, "verdict dropped");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(b.try_acquire().is_ok());
        // Back: the verdict applies again.
        store.fail_with(None);
        while b.fleet_state() != Effective::Unhealthy {
            assert!(Instant::now() < deadline, "verdict mirrored again");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn recovering_monitors_share_the_fleet_probe_tokens() {
        let (store, rt) = store_with_verdict(Health::Recovering);
        rt.block_on(store.set_probe_tokens("acme.a.b", 3, 1000))
            .unwrap();
        let monitors: Vec<Monitor> = (0..4)
            .map(|_| Monitor::with_store(store.clone(), cfg()).unwrap())
            .collect();
        let breakers: Vec<FleetBreaker> = monitors
            .iter()
            .map(|m| m.breaker("acme.a.b").unwrap())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while breakers
            .iter()
            .any(|b| b.fleet_state() != Effective::Recovering)
        {
            assert!(Instant::now() < deadline, "verdict mirrored");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Several intervals pass: still 3 probes in all, not 2 per monitor per interval.
        std::thread::sleep(Duration::from_millis(100));
        let admitted = breakers
            .iter()
            .map(|b| {
                let mut n = 0;
                while let Ok(call) = b.try_acquire() {
                    call.record(Outcome::Success);
                    n += 1;
                }
                n
            })
            .sum::<u32>();
        assert_eq!(admitted, 3);
    }

    #[test]
    fn verdicts_are_mirrored_into_the_local_breaker() {
        let e = Entry {
            key: "a.b".into(),
            config: Config::new(1_000_000_000),
            local: Breaker::new(Config::new(1_000_000_000)),
            mode: AtomicU8::new(HEALTHY),
            budget: AtomicU32::new(0),
            version: AtomicU64::new(0),
            counts: Counters::default(),
            flushed: Mutex::new([0; KINDS]),
            slow_after: None,
        };
        let fb = FleetBreaker { entry: Arc::new(e) };
        fb.entry.mirror(
            VerdictLine {
                version: 1,
                state: Health::Unhealthy,
                forced: None,
            }
            .effective(),
            2,
        );
        assert!(fb.try_acquire().is_err());
        fb.entry.mirror(Effective::Recovering, 2);
        let a = fb.try_acquire().unwrap();
        let b = fb.try_acquire().unwrap();
        assert!(fb.try_acquire().is_err(), "budget of 2 per interval");
        a.record(Outcome::Success);
        b.record(Outcome::Success);
        fb.entry.mirror(
            VerdictLine {
                version: 3,
                state: Health::Unhealthy,
                forced: Some(Forced::Healthy),
            }
            .effective(),
            2,
        );
        for _ in 0..10 {
            fb.try_acquire().unwrap().record(Outcome::Failure);
        }
        assert_eq!(fb.local_state(), State::ForcedClosed);
        fb.entry.mirror(Effective::Healthy, 2);
        assert_eq!(fb.local_state(), State::Closed);
        assert_eq!(fb.entry.peek().rejected, 2);
    }

    #[test]
    fn per_key_local_settings_and_one_entry_per_key() {
        let m = Monitor::with_store(Arc::new(MemStore::default()), cfg()).unwrap();
        let two = Config::new(clock::ticks(Duration::from_secs(60))).consecutive_failures(2);
        let a = m.breaker_with("acme.a.strict", two).unwrap();
        let b = m.breaker_with("acme.a.strict", two).unwrap();
        assert_eq!(a.local_config(), two);
        // The monitor's default (5 failures) for another key.
        let lax = m.breaker("acme.a.lax").unwrap();
        assert_eq!(lax.local_config(), cfg().local);
        // `breaker` returns the existing entry whatever its settings.
        assert_eq!(m.breaker("acme.a.strict").unwrap().local_config(), two);
        for fb in [&a, &b] {
            assert!(fb.call(|| Err::<(), _>(())).is_err());
        }
        assert_eq!(
            a.local_state(),
            State::Open,
            "a and b share one local breaker"
        );
        assert_eq!(b.local_state(), State::Open);
        for _ in 0..2 {
            let _ = lax.call(|| Err::<(), _>(()));
        }
        assert_eq!(lax.local_state(), State::Closed);
        assert_eq!(m.stats().counted["acme.a.strict"].failure, 2);
        match m.breaker_with("acme.a.strict", Config::new(5)) {
            Err(MonitorError::KeyConfig(k)) => assert_eq!(k, "acme.a.strict"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            m.breaker_with("not dotted", two),
            Err(MonitorError::Key(_))
        ));
        assert!(matches!(
            m.breaker_with("acme.a.window", Config::new(5).failure_rate(50, 10)),
            Err(MonitorError::Config(_))
        ));
    }

    #[test]
    fn ticket_calls_count_like_calls() {
        let m = Monitor::with_store(Arc::new(MemStore::default()), cfg()).unwrap();
        let one = Config::new(clock::ticks(Duration::from_secs(60))).consecutive_failures(1);
        let b = m.breaker_with("acme.a.t", one).unwrap();
        let (t, tr) = b
            .acquire_ticket_with(|| unreachable!("closed: no tick"))
            .unwrap();
        assert_eq!(tr, None);
        assert_eq!(b.record_ticket(t, Outcome::Success, 0), Ok(None));
        let (t, _) = b.acquire_ticket_with(clock::now).unwrap();
        assert_eq!(b.release(t, clock::now()), Ok(()));
        let (t, _) = b.acquire_ticket_with(clock::now).unwrap();
        let tr = b.record_ticket(t, Outcome::Failure, clock::now()).unwrap();
        assert_eq!(tr.map(|t| t.to), Some(State::Open));
        assert!(b.acquire_ticket_with(clock::now).is_err());
        assert_eq!(b.local().state(clock::now()), State::Open);
        let r = m.close_within(Duration::from_secs(2)).unwrap();
        let c = &r.acked["acme.a.t"];
        assert_eq!((c.success, c.failure, c.local), (1, 1, 1));
    }
}
