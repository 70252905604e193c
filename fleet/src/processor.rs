//! The processor: reads the monitors' batches from the stream, applies each
//! exactly once to the cumulative totals, feeds the counts to one core
//! breaker per key (`tripbit::Breaker<Window<10, 1>>`, a time window), and
//! writes each key's verdict with a version. One processor leads (it holds
//! the lease); the others stand by and take over when the lease expires.
//!
//! Ticks of the per-key breakers are wall-clock milliseconds, so a new
//! leader can rebuild each breaker from the stored verdict (state, backoff
//! level, end of the open period).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tripbit::{Breaker, Config, Outcome, State, Window};

use crate::model::{
    Batch, Counts, Event, Force, Forced, Health, StoredVerdict, VerdictWrite, WindowStats,
    host_name, random_u64, valid_id, wall_ms,
};
use crate::store::{ApplyOutcome, ProcessorInfo, RawEntry, Store, StoreError, WriteOutcome};

/// Buckets of each key's sliding window.
pub const WINDOW_BUCKETS: usize = 10;

/// The per-key breaker: the core's sliding-window state machine.
type KeyBreaker = Breaker<Window<WINDOW_BUCKETS, 1>>;

/// Batches applied at once (pipelined scripts).
const APPLY_CONCURRENCY: usize = 64;

/// Polls every future to completion, concurrently on this task; outputs in order.
async fn join_all<T>(
    mut futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + '_>>>,
) -> Vec<T> {
    let mut out: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Most calls fed to a key's breaker per read round; above, the counts are
/// scaled down keeping their ratios (the totals are always exact).
pub const FEED_CAP: u64 = 20_000;

/// Processor settings. Every field has a default (see [`Default`]).
#[derive(Clone, Debug)]
pub struct ProcessorConfig {
    /// Processor id; default `<host>-<pid>-<random>`.
    pub id: Option<String>,
    /// Failure ratio that trips a key, in percent. Default 50.
    pub failure_percent: u8,
    /// Calls the window must hold before the ratio counts. Default 20.
    pub min_calls: u32,
    /// Length of the sliding window (10 time buckets). Default 10 s.
    pub window: Duration,
    /// How long a tripped key stays unhealthy before recovering. Default 5 s.
    pub open_for: Duration,
    /// Probe successes (fleet-wide) that close a recovering key. Default 5.
    pub close_after: u16,
    /// Failures the recovery may contain and still close, in percent of
    /// its calls (stricter than the trip ratio). Default 0.
    pub close_max_failure_percent: u8,
    /// Backoff factor and most levels on failed recoveries. Default (2, 4).
    pub backoff: (u8, u8),
    /// Slow-call bar and the slow ratio (percent) that trips. Default off.
    pub slow: Option<(Duration, u8)>,
    /// Recover early after this many skipped (rejected) calls while
    /// unhealthy, as the seed does; 0 = only after `open_for`. Default 0.
    pub recover_after_skipped: u64,
    /// Lease time. Default 2 s.
    pub lease: Duration,
    /// How often the stream is read while idle. Default 20 ms.
    pub poll: Duration,
    /// Housekeeping period: forces, time-driven transitions, window figures,
    /// heartbeats, standby lease attempts. Default 250 ms.
    pub tick: Duration,
    /// Watchdog: a key (or the leader) silent this long raises an event. Default 30 s.
    pub silent_after: Duration,
    /// Entries read per round. Default 512.
    pub read_count: usize,
    /// Probe calls the whole fleet may make per tick while a key recovers
    /// (monitors take them as tokens). Default 5.
    pub fleet_probes: u32,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            id: None,
            failure_percent: 50,
            min_calls: 20,
            window: Duration::from_secs(10),
            open_for: Duration::from_secs(5),
            close_after: 5,
            close_max_failure_percent: 0,
            backoff: (2, 4),
            slow: None,
            recover_after_skipped: 0,
            lease: Duration::from_secs(2),
            poll: Duration::from_millis(20),
            tick: Duration::from_millis(250),
            silent_after: Duration::from_secs(30),
            read_count: 512,
            fleet_probes: 5,
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl ProcessorConfig {
    /// The core config of every key's breaker (ticks are milliseconds).
    pub fn core_config(&self) -> Config {
        let mut c = Config::new(ms(self.open_for))
            .failure_rate(self.failure_percent, self.min_calls)
            .time_window((ms(self.window) / WINDOW_BUCKETS as u64).max(1))
            .close_after(self.close_after)
            .close_max_failure_percent(self.close_max_failure_percent)
            .backoff(self.backoff.0, self.backoff.1);
        if let Some((d, p)) = self.slow {
            c = c.slow_calls(ms(d), p);
        }
        c
    }

    fn new_breaker(&self) -> Box<KeyBreaker> {
        // Checked by `Processor::new`.
        Box::new(
            KeyBreaker::try_new_window(self.core_config())
                .unwrap_or_else(|_| KeyBreaker::new_window(Config::new(1).failure_rate(50, 1))),
        )
    }
}

/// Why a processor could not be made.
#[derive(Debug)]
pub enum ProcessorError {
    /// The breaker settings were refused (the core names the setting).
    Config(tripbit::ConfigError),
    /// Another setting is out of range.
    Setting(&'static str),
}

impl std::fmt::Display for ProcessorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessorError::Config(e) => write!(f, "invalid breaker setting {}: {e}", e.field()),
            ProcessorError::Setting(s) => write!(f, "invalid setting: {s}"),
        }
    }
}

impl std::error::Error for ProcessorError {}

/// Live counters of a processor (shared with whoever holds the handle).
#[derive(Debug, Default)]
pub struct ProcessorStats {
    /// The fencing epoch while leader, 0 while standby.
    pub epoch: AtomicU64,
    /// Times this processor became leader.
    pub terms: AtomicU64,
    /// Batches applied.
    pub applied: AtomicU64,
    /// Duplicate batches seen (acknowledged, not counted).
    pub duplicates: AtomicU64,
    /// Malformed entries skipped.
    pub malformed: AtomicU64,
    /// Writes refused by the fence.
    pub fenced: AtomicU64,
    /// Store errors survived.
    pub store_errors: AtomicU64,
    /// Verdicts written.
    pub verdicts: AtomicU64,
}

struct KeyState {
    breaker: Box<KeyBreaker>,
    /// Added to the wall clock for this key: the skipped-calls recovery moves
    /// a key's clock to the end of its open period.
    offset: u64,
    skipped: u64,
    last_seen: Instant,
    silent: bool,
    /// What the store holds: computed state, forced state.
    written: Option<(Health, Option<Forced>)>,
    force: Option<Force>,
    /// Why the state last changed.
    reason: String,
    /// The window when the key last tripped.
    trip_window: Option<tripbit::WindowCounts>,
    /// Counts applied since the last tick, not yet fed to the breaker.
    unfed: Counts,
}

/// A processor. Build with [`Processor::new`], run with [`Processor::run`].
pub struct Processor {
    store: Arc<dyn Store>,
    cfg: ProcessorConfig,
    id: String,
    host: String,
    pid: u32,
    token: u64,
    stats: Arc<ProcessorStats>,
    keys: HashMap<String, KeyState>,
    epoch: u64,
    last_renew: Instant,
    last_tick: Option<Instant>,
    last_batch: Instant,
    last_claim: Instant,
    leader_silent: bool,
    idle_logged: bool,
    last_error: Option<String>,
    /// Alert hook (issue 16): never blocks, see [`crate::alerts`].
    alerts: Option<crate::alerts::Alerter>,
}

fn log(id: &str, msg: &str) {
    use std::io::Write;
    // One write per line, so lines of several processes do not interleave.
    let line = format!("[tripbit-fleet processor {id}] {msg}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

impl Processor {
    /// A processor on `store`; checks the settings.
    pub fn new(store: Arc<dyn Store>, cfg: ProcessorConfig) -> Result<Processor, ProcessorError> {
        KeyBreaker::try_new_window(cfg.core_config()).map_err(ProcessorError::Config)?;
        if cfg.lease < Duration::from_millis(100) {
            return Err(ProcessorError::Setting("lease must be at least 100 ms"));
        }
        if cfg.tick.is_zero() || cfg.poll.is_zero() || cfg.read_count == 0 {
            return Err(ProcessorError::Setting(
                "tick, poll and read_count must be above 0",
            ));
        }
        let host = host_name();
        let pid = std::process::id();
        let id = match &cfg.id {
            Some(id) if valid_id(id) => id.clone(),
            Some(_) => return Err(ProcessorError::Setting("id")),
            None => format!("proc-{pid}-{:06x}", random_u64() & 0xff_ffff),
        };
        Ok(Processor {
            store,
            cfg,
            id,
            host,
            pid,
            token: random_u64(),
            stats: Arc::new(ProcessorStats::default()),
            keys: HashMap::new(),
            epoch: 0,
            last_renew: Instant::now(),
            last_tick: None,
            last_batch: Instant::now(),
            last_claim: Instant::now(),
            leader_silent: false,
            alerts: None,
            idle_logged: false,
            last_error: None,
        })
    }

    /// This processor's id (also its consumer name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its live counters.
    pub fn stats(&self) -> Arc<ProcessorStats> {
        Arc::clone(&self.stats)
    }

    fn info(&self, role: &str) -> ProcessorInfo {
        ProcessorInfo {
            id: self.id.clone(),
            role: role.into(),
            host: self.host.clone(),
            pid: self.pid,
            epoch: self.epoch,
            at_ms: wall_ms(),
        }
    }

    fn store_error(&mut self, what: &str, e: &StoreError) {
        // Ordering: Relaxed: statistics.
        self.stats.store_errors.fetch_add(1, Ordering::Relaxed);
        let msg = format!("{what}: {e}");
        if self.last_error.as_deref() != Some(msg.as_str()) {
            log(
                &self.id,
                &format!("store error (survived, retrying): {msg}"),
            );
            self.last_error = Some(msg);
        }
    }

    async fn event(&mut self, kind: &str, key: &str, detail: String) {
        log(&self.id, &format!("event {kind} {key} {detail}"));
        if let Some(a) = &self.alerts {
            a.watchdog(&self.id, kind, key, &detail);
        }
        let e = Event {
            kind: kind.into(),
            key: key.into(),
            detail,
            at_ms: wall_ms(),
        };
        if let Err(err) = self.store.event(&e).await {
            self.store_error("event", &err);
        }
    }

    /// Sends alerts (trip, recovery, silence) through `alerter`.
    pub fn with_alerts(mut self, alerter: crate::alerts::Alerter) -> Processor {
        self.alerts = Some(alerter);
        self
    }

    /// Runs until `shutdown` resolves; then gives the lease up.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        log(&self.id, "started as standby");
        loop {
            let wait = if self.epoch == 0 {
                self.standby_step().await;
                self.cfg.tick
            } else if self.leader_step().await {
                Duration::ZERO
            } else {
                self.cfg.poll
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        if self.epoch != 0 {
            let _ = self.store.release_lease(self.token).await;
            log(&self.id, "shutting down: lease released");
        }
    }

    async fn standby_step(&mut self) {
        if let Err(e) = self.store.heartbeat(&self.info("standby")).await {
            self.store_error("heartbeat", &e);
            return;
        }
        match self
            .store
            .acquire_lease(&self.info("leader"), self.token, ms(self.cfg.lease))
            .await
        {
            Ok(Some(epoch)) => self.become_leader(epoch).await,
            Ok(None) => self.watch_leader().await,
            Err(e) => self.store_error("lease", &e),
        }
    }

    async fn watch_leader(&mut self) {
        match self.store.leader().await {
            Ok(Some(l)) => {
                let age = wall_ms().saturating_sub(l.at_ms);
                if age > ms(self.cfg.silent_after) && !self.leader_silent {
                    self.leader_silent = true;
                    self.event(
                        "processor-silent",
                        "",
                        format!("leader {} last renewed {age} ms ago", l.id),
                    )
                    .await;
                } else if age <= ms(self.cfg.silent_after) && self.leader_silent {
                    self.leader_silent = false;
                    self.event("processor-resumed", "", format!("leader {}", l.id))
                        .await;
                }
            }
            Ok(None) => {}
            Err(e) => self.store_error("leader info", &e),
        }
    }

    async fn become_leader(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.last_renew = Instant::now();
        self.last_batch = Instant::now();
        // Ordering: Relaxed: statistics.
        self.stats.epoch.store(epoch, Ordering::Relaxed);
        self.stats.terms.fetch_add(1, Ordering::Relaxed);
        self.keys.clear();
        log(&self.id, &format!("leader now, fencing epoch {epoch}"));
        if let Err(e) = self.store.ensure_group().await {
            self.store_error("create group", &e);
        }
        if let Err(e) = self.restore().await {
            self.store_error("restore", &e);
            self.step_down("could not restore the verdicts").await;
            return;
        }
        self.event("leader", "", format!("{} epoch {epoch}", self.id))
            .await;
        // Take over whatever the previous leader had read but not applied.
        self.claim(0).await;
    }

    async fn step_down(&mut self, why: &str) {
        log(&self.id, &format!("standing down ({why})"));
        let _ = self.store.release_lease(self.token).await;
        self.epoch = 0;
        // Ordering: Relaxed: statistics.
        self.stats.epoch.store(0, Ordering::Relaxed);
        self.keys.clear();
        self.token = random_u64();
    }

    /// Rebuilds every key's breaker from its stored verdict.
    async fn restore(&mut self) -> Result<(), StoreError> {
        let stored = self.store.load_verdicts().await?;
        let forces = self.store.forces().await?;
        let now = wall_ms();
        for v in stored {
            let breaker = self.rebuild(&v, now);
            self.keys.insert(
                v.key.clone(),
                KeyState {
                    breaker,
                    offset: 0,
                    skipped: 0,
                    last_seen: Instant::now(),
                    silent: false,
                    written: Some((v.state, v.forced)),
                    force: forces.get(&v.key).cloned(),
                    reason: "restored".into(),
                    trip_window: None,
                    unfed: Counts::default(),
                },
            );
        }
        log(
            &self.id,
            &format!(
                "restored {} verdicts, {} forces",
                self.keys.len(),
                forces.len()
            ),
        );
        Ok(())
    }

    /// A breaker in the stored state: tripped at the stored open time, with
    /// the backoff level replayed through failed probes (core API only).
    fn rebuild(&self, v: &StoredVerdict, now: u64) -> Box<KeyBreaker> {
        let b = self.cfg.new_breaker();
        if v.state == Health::Healthy {
            return b;
        }
        let c = self.cfg.core_config();
        let level = v.level.min(c_max_level(&self.cfg));
        let opened_at = if v.open_until_ms == 0 {
            now
        } else {
            v.open_until_ms.saturating_sub(c.open_ticks_at_level(level))
        };
        let replay: u64 = (0..level).map(|k| c.open_ticks_at_level(k)).sum();
        let mut t = opened_at.saturating_sub(replay).max(1);
        for _ in 0..=self.cfg.min_calls {
            if let Ok(p) = b.try_acquire(t) {
                p.record(Outcome::Failure, t);
            }
            if b.state(t) != State::Closed {
                break;
            }
        }
        for k in 0..level {
            t += c.open_ticks_at_level(k);
            if let Ok(p) = b.try_acquire(t) {
                p.record(Outcome::Failure, t);
            }
        }
        b
    }

    /// Claims pending entries idle at least `min_idle_ms` and applies them.
    async fn claim(&mut self, min_idle_ms: u64) {
        let mut cursor = "0-0".to_string();
        loop {
            let (next, got) = match self
                .store
                .claim_pending(&self.id, min_idle_ms, &cursor, self.cfg.read_count)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    self.store_error("XAUTOCLAIM", &e);
                    return;
                }
            };
            if !got.is_empty() {
                log(&self.id, &format!("claimed {} pending entries", got.len()));
                self.process(got).await;
            }
            if next == "0-0" || self.epoch == 0 {
                return;
            }
            cursor = next;
        }
    }

    /// One leader round. Returns whether entries were read (read again at once).
    async fn leader_step(&mut self) -> bool {
        let due = self.last_tick.is_none_or(|t| t.elapsed() >= self.cfg.tick);
        if self.last_renew.elapsed() >= self.cfg.lease / 4 || due {
            match self
                .store
                .renew_lease(self.token, self.epoch, ms(self.cfg.lease))
                .await
            {
                Ok(true) => self.last_renew = Instant::now(),
                Ok(false) => {
                    self.step_down("lost the lease").await;
                    return false;
                }
                Err(e) => {
                    self.store_error("lease renew", &e);
                    if self.last_renew.elapsed() >= self.cfg.lease {
                        self.step_down("could not renew the lease in time").await;
                    }
                    return false;
                }
            }
        }
        if due {
            self.last_tick = Some(Instant::now());
            self.housekeeping().await;
            if self.epoch == 0 {
                return false;
            }
        }
        let got = match self.store.read_new(&self.id, self.cfg.read_count).await {
            Ok(g) => g,
            Err(StoreError::Server { code, .. }) if code == "NOGROUP" => {
                log(
                    &self.id,
                    "stream or group missing (store restarted?): creating it",
                );
                if let Err(e) = self.store.ensure_group().await {
                    self.store_error("create group", &e);
                }
                return false;
            }
            Err(e) => {
                self.store_error("XREADGROUP", &e);
                return false;
            }
        };
        let any = !got.is_empty();
        if any {
            self.process(got).await;
        }
        any
    }

    /// Applies entries exactly once, then feeds their counts to the breakers.
    async fn process(&mut self, got: Vec<RawEntry>) {
        let mut round: HashMap<String, Counts> = HashMap::new();
        let mut valid = Vec::with_capacity(got.len());
        for e in got {
            match Batch::from_fields(&e.fields) {
                Ok(b) => valid.push((e.id, b)),
                Err(m) => {
                    log(&self.id, &format!("skipping entry {}: {m}", e.id));
                    // Ordering: Relaxed: statistics.
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    if let Err(err) = self.store.discard_entry(&e.id).await {
                        self.store_error("discard", &err);
                    }
                }
            }
        }
        // Applied concurrently (pipelined on one connection): each script is
        // atomic and deduplicates by batch id, so order does not matter.
        let now_ms = wall_ms();
        for chunk in valid.chunks(APPLY_CONCURRENCY) {
            let store = &self.store;
            let epoch = self.epoch;
            let outcomes = join_all(
                chunk
                    .iter()
                    .map(|(id, b)| store.apply_batch(epoch, id, b, now_ms))
                    .collect(),
            )
            .await;
            let mut fenced = false;
            let mut failed = None;
            for ((_, batch), r) in chunk.iter().zip(outcomes) {
                match r {
                    Ok(ApplyOutcome::Applied) => {
                        // Ordering: Relaxed: statistics.
                        self.stats.applied.fetch_add(1, Ordering::Relaxed);
                        for (k, c) in &batch.counts {
                            round.entry(k.clone()).or_default().add(c);
                        }
                    }
                    Ok(ApplyOutcome::Duplicate) => {
                        // Ordering: Relaxed: statistics.
                        self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(ApplyOutcome::Fenced) => {
                        // Ordering: Relaxed: statistics.
                        self.stats.fenced.fetch_add(1, Ordering::Relaxed);
                        fenced = true;
                    }
                    // Left pending; claimed again later.
                    Err(err) => failed = Some(err),
                }
            }
            if fenced {
                log(
                    &self.id,
                    "batch refused by the fence: a newer leader exists",
                );
                self.step_down("fenced").await;
                return;
            }
            if let Some(err) = failed {
                self.store_error("apply", &err);
                break;
            }
        }
        if !round.is_empty() {
            self.last_batch = Instant::now();
            self.idle_logged = false;
        }
        let mut resumed = Vec::new();
        for (k, c) in round {
            let cfg = &self.cfg;
            let ks = self.keys.entry(k.clone()).or_insert_with(|| KeyState {
                breaker: cfg.new_breaker(),
                offset: 0,
                skipped: 0,
                last_seen: Instant::now(),
                silent: false,
                written: None,
                force: None,
                reason: "first seen".into(),
                trip_window: None,
                unfed: Counts::default(),
            });
            ks.last_seen = Instant::now();
            if ks.silent {
                ks.silent = false;
                resumed.push(k.clone());
            }
            // Fed at the next tick with every other monitor's counts of the
            // same period, so one monitor's batch is never judged alone.
            ks.unfed.add(&c);
        }
        for k in resumed {
            self.event("key-resumed", &k, "batches again".into()).await;
        }
        self.write_changes().await;
    }

    /// Forces, time-driven transitions, window figures, watchdog, heartbeat.
    async fn housekeeping(&mut self) {
        if let Err(e) = self.store.heartbeat(&self.info("leader")).await {
            self.store_error("heartbeat", &e);
        }
        match self.store.forces().await {
            Ok(forces) => {
                for (k, f) in &forces {
                    if crate::model::validate_fleet_key(k).is_err() {
                        continue;
                    }
                    let cfg = &self.cfg;
                    let ks = self.keys.entry(k.clone()).or_insert_with(|| KeyState {
                        breaker: cfg.new_breaker(),
                        offset: 0,
                        skipped: 0,
                        last_seen: Instant::now(),
                        silent: false,
                        written: None,
                        force: None,
                        reason: "forced before any batch".into(),
                        trip_window: None,
                        unfed: Counts::default(),
                    });
                    ks.force = Some(f.clone());
                }
                for (k, ks) in &mut self.keys {
                    if !forces.contains_key(k) {
                        ks.force = None;
                    }
                }
            }
            Err(e) => self.store_error("read forces", &e),
        }
        let now = wall_ms();
        for ks in self.keys.values_mut() {
            if !ks.unfed.is_zero() {
                let c = std::mem::take(&mut ks.unfed);
                feed(ks, &c, now, &self.cfg);
            }
        }
        self.write_changes().await;
        if self.epoch == 0 {
            return;
        }
        let now = wall_ms();
        // Refill the probe tokens of every recovering key for this tick.
        let recovering: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, ks)| {
                ks.force.is_none() && ks.breaker.state(now + ks.offset) == State::HalfOpen
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in recovering {
            let ttl = ms(self.cfg.tick) * 2;
            if let Err(e) = self
                .store
                .set_probe_tokens(&k, self.cfg.fleet_probes, ttl)
                .await
            {
                self.store_error("probe tokens", &e);
                break;
            }
        }
        let keys: Vec<String> = self.keys.keys().cloned().collect();
        for k in keys {
            let Some(ks) = self.keys.get(&k) else {
                continue;
            };
            let w = ks.breaker.snapshot(now + ks.offset).window;
            let stats = WindowStats {
                calls: w.calls,
                failures: w.failures,
                slow: w.slow,
                at_ms: now,
            };
            match self.store.write_window(self.epoch, &k, stats).await {
                Ok(WriteOutcome::Fenced) => {
                    self.step_down("fenced").await;
                    return;
                }
                Ok(WriteOutcome::Written(_)) => {}
                Err(e) => {
                    self.store_error("write window", &e);
                    break;
                }
            }
        }
        let silent_after = self.cfg.silent_after;
        let silent: Vec<(String, u64)> = self
            .keys
            .iter_mut()
            .filter(|(_, ks)| !ks.silent && ks.last_seen.elapsed() > silent_after)
            .map(|(k, ks)| {
                ks.silent = true;
                (k.clone(), ms(ks.last_seen.elapsed()))
            })
            .collect();
        for (k, age) in silent {
            self.event("key-silent", &k, format!("no batch for {age} ms"))
                .await;
        }
        // Entries left pending by a failed apply are never redelivered by
        // `>` reads: claim them back once they are clearly idle.
        if self.last_claim.elapsed() >= Duration::from_secs(1) {
            self.last_claim = Instant::now();
            self.claim(1_000).await;
            if self.epoch == 0 {
                return;
            }
        }
        if self.last_batch.elapsed() > silent_after && !self.idle_logged {
            self.idle_logged = true;
            let age = ms(self.last_batch.elapsed());
            self.event(
                "no-batches",
                "",
                format!("no batch from any monitor for {age} ms"),
            )
            .await;
        }
    }

    /// Writes every key whose computed or forced state differs from the store's.
    async fn write_changes(&mut self) {
        let now = wall_ms();
        let mut writes = Vec::new();
        for (k, ks) in &mut self.keys {
            let t = now + ks.offset;
            let state = Health::from_core(ks.breaker.state(t));
            let forced = ks.force.as_ref().map(|f| f.state);
            if ks.written == Some((state, forced)) {
                continue;
            }
            // A key nobody wrote yet was implicitly healthy.
            let from = Some(ks.written.map_or(Health::Healthy, |w| w.0)).filter(|&f| f != state);
            if from.is_some() || ks.written.is_none() {
                ks.reason = reason(ks, from, state, t, &self.cfg);
            }
            let snap = ks.breaker.snapshot(t);
            writes.push(VerdictWrite {
                key: k.clone(),
                state,
                from,
                force: ks.force.clone(),
                reason: if forced != ks.written.and_then(|w| w.1) && from.is_none() {
                    match &ks.force {
                        Some(f) => format!("forced {} by {}", f.state.as_str(), f.by),
                        None => "force cleared".into(),
                    }
                } else {
                    ks.reason.clone()
                },
                level: snap.backoff_level,
                open_until_ms: snap.open_until.map_or(0, |u| u.saturating_sub(ks.offset)),
                at_ms: now,
            });
        }
        for w in writes {
            match self.store.write_verdict(self.epoch, &w).await {
                Ok(WriteOutcome::Written(v)) => {
                    // Ordering: Relaxed: statistics.
                    self.stats.verdicts.fetch_add(1, Ordering::Relaxed);
                    let forced = w.force.as_ref().map(|f| f.state);
                    if let Some(ks) = self.keys.get_mut(&w.key) {
                        ks.written = Some((w.state, forced));
                    }
                    log(
                        &self.id,
                        &format!(
                            "verdict {} v{v}: {}{} ({})",
                            w.key,
                            w.state,
                            forced.map_or(String::new(), |f| format!(", forced {}", f.as_str())),
                            w.reason
                        ),
                    );
                    if let (Some(from), Some(a)) = (w.from, &self.alerts) {
                        a.transition(&self.id, &w.key, from, w.state, v, &w.reason);
                    }
                    if let Some(from) = w.from {
                        let kind = match w.state {
                            Health::Unhealthy => "trip",
                            Health::Recovering => "recovering",
                            Health::Healthy => "recover",
                        };
                        self.event(kind, &w.key, format!("{from} -> {}: {}", w.state, w.reason))
                            .await;
                    }
                }
                Ok(WriteOutcome::Fenced) => {
                    // Ordering: Relaxed: statistics.
                    self.stats.fenced.fetch_add(1, Ordering::Relaxed);
                    log(
                        &self.id,
                        "verdict write refused by the fence: a newer leader exists",
                    );
                    self.step_down("fenced").await;
                    return;
                }
                Err(e) => {
                    self.store_error("write verdict", &e);
                    return;
                }
            }
        }
    }
}

fn c_max_level(cfg: &ProcessorConfig) -> u8 {
    cfg.backoff.1
}

fn reason(
    ks: &KeyState,
    from: Option<Health>,
    to: Health,
    t: u64,
    cfg: &ProcessorConfig,
) -> String {
    let w = ks
        .trip_window
        .unwrap_or_else(|| ks.breaker.snapshot(t).window);
    let ratio = |n: u32| {
        if w.calls == 0 {
            0
        } else {
            u64::from(n) * 100 / u64::from(w.calls)
        }
    };
    match (from, to) {
        (Some(Health::Healthy) | None, Health::Unhealthy) => format!(
            "failure ratio {}% (slow {}%) over {} calls, trip bar {}% with at least {}",
            ratio(w.failures),
            ratio(w.slow),
            w.calls,
            cfg.failure_percent,
            cfg.min_calls
        ),
        (Some(Health::Unhealthy), Health::Recovering) => {
            if ks.offset > 0 && ks.skipped == 0 {
                "enough skipped calls: probing".into()
            } else {
                "open period over: probing".into()
            }
        }
        (Some(Health::Recovering), Health::Healthy) => {
            format!("{} probe successes", cfg.close_after)
        }
        (Some(Health::Recovering), Health::Unhealthy) => format!(
            "a probe failed: unhealthy again, backoff level {}",
            ks.breaker.snapshot(t).backoff_level
        ),
        (None, s) => format!("{s}"),
        (Some(f), s) => format!("{f} -> {s}"),
    }
}

/// Feeds one round's counts of a key to its breaker, interleaved so the
/// failures are spread among the successes as they happened across monitors.
fn feed(ks: &mut KeyState, c: &Counts, wall: u64, cfg: &ProcessorConfig) {
    let mut now = wall + ks.offset;
    if c.rejected > 0 && ks.breaker.state(now) == State::Open {
        ks.skipped = ks.skipped.saturating_add(c.rejected);
        if cfg.recover_after_skipped > 0 && ks.skipped >= cfg.recover_after_skipped {
            if let Some(until) = ks.breaker.snapshot(now).open_until {
                ks.offset += until.saturating_sub(now);
                now = now.max(until);
            }
            ks.skipped = 0;
        }
    }
    let slow_ticks = cfg.slow.map_or(0, |(d, _)| ms(d));
    // Calls refused by a process's own breaker while the fleet was healthy
    // are that process's failures; under a force they mean nothing.
    let local = if ks.force.is_none() && ks.breaker.state(now) == State::Closed {
        c.local
    } else {
        0
    };
    let mut parts = [
        (c.success, Outcome::Success, 0),
        (c.slow, Outcome::Success, slow_ticks),
        (c.failure.saturating_add(local), Outcome::Failure, 0),
    ];
    let total: u64 = parts.iter().map(|p| p.0).sum();
    if total > FEED_CAP {
        for p in &mut parts {
            p.0 = p.0 * FEED_CAP / total;
        }
    }
    let n: u64 = parts.iter().map(|p| p.0).sum();
    // The window as the calls are fed, for the trip's reason.
    let mut seen = ks.breaker.snapshot(now).window;
    // Error diffusion: at each step emit the outcome furthest behind its share.
    let mut acc = [0i128; 3];
    for _ in 0..n {
        for (a, p) in acc.iter_mut().zip(parts.iter()) {
            *a += i128::from(p.0);
        }
        let (j, _) = acc
            .iter()
            .enumerate()
            .max_by_key(|(_, a)| **a)
            .unwrap_or((0, &0));
        acc[j] -= i128::from(n);
        let (_, outcome, elapsed) = parts[j];
        if let Ok(p) = ks.breaker.try_acquire(now) {
            seen.calls = seen.calls.saturating_add(1);
            seen.failures = seen
                .failures
                .saturating_add(u32::from(outcome == Outcome::Failure));
            seen.slow = seen.slow.saturating_add(u32::from(elapsed > 0));
            if let Some(t) = p.record_elapsed(outcome, elapsed, now) {
                if t.from == State::Closed && t.to == State::Open {
                    ks.trip_window = Some(seen);
                }
            }
        }
    }
    if ks.breaker.state(now) != State::Open {
        ks.skipped = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BatchId;
    use crate::store::MemStore;
    use std::collections::BTreeMap;

    fn batch(mon: &str, seq: u64, key: &str, c: Counts) -> Batch {
        Batch {
            id: BatchId {
                monitor: mon.into(),
                epoch: 1,
                seq,
            },
            host: "h".into(),
            pid: 1,
            app: "t".into(),
            sent_ms: 0,
            counts: BTreeMap::from([(key.to_string(), c)]),
        }
    }

    fn cfg() -> ProcessorConfig {
        ProcessorConfig {
            min_calls: 10,
            open_for: Duration::from_millis(200),
            close_after: 2,
            tick: Duration::from_millis(5),
            poll: Duration::from_millis(1),
            ..ProcessorConfig::default()
        }
    }

    /// One read round, then one tick (which feeds what was read).
    async fn step(p: &mut Processor) {
        p.last_tick = Some(Instant::now());
        p.leader_step().await;
        p.last_tick = None;
        p.leader_step().await;
    }

    async fn lead(store: &Arc<MemStore>) -> Processor {
        let mut p = Processor::new(store.clone(), cfg()).unwrap();
        p.standby_step().await;
        assert!(p.epoch > 0);
        p
    }

    #[tokio::test]
    async fn trips_recovers_and_dedupes() {
        let store = Arc::new(MemStore::default());
        let mut p = lead(&store).await;
        let bad = Counts {
            failure: 30,
            success: 5,
            ..Counts::default()
        };
        let b = batch("m1", 1, "acme.a.b", bad);
        store.send_batch(&b).await.unwrap();
        store.send_batch(&b).await.unwrap(); // a resend: same id
        step(&mut p).await;
        step(&mut p).await;
        let idx = store.verdict_index().await.unwrap();
        assert_eq!(idx["acme.a.b"].state, Health::Unhealthy);
        assert_eq!(store.key_totals("acme.a.b").await.unwrap(), bad);
        // Ordering: Relaxed: a statistic, read on the task that wrote it.
        assert_eq!(p.stats.duplicates.load(Ordering::Relaxed), 1);
        tokio::time::sleep(Duration::from_millis(250)).await;
        p.last_tick = None;
        step(&mut p).await;
        let idx = store.verdict_index().await.unwrap();
        assert_eq!(idx["acme.a.b"].state, Health::Recovering);
        // The fleet-wide probe tokens of this tick.
        assert_eq!(store.take_probe_tokens("acme.a.b", 100).await.unwrap(), 5);
        let good = Counts {
            success: 3,
            ..Counts::default()
        };
        store
            .send_batch(&batch("m1", 2, "acme.a.b", good))
            .await
            .unwrap();
        step(&mut p).await;
        let idx = store.verdict_index().await.unwrap();
        assert_eq!(idx["acme.a.b"].state, Health::Healthy);
    }

    #[tokio::test]
    async fn enough_skipped_calls_start_the_recovery_early() {
        let store = Arc::new(MemStore::default());
        let mut p = Processor::new(
            store.clone(),
            ProcessorConfig {
                open_for: Duration::from_secs(600),
                recover_after_skipped: 100,
                ..cfg()
            },
        )
        .unwrap();
        p.standby_step().await;
        let bad = Counts {
            failure: 20,
            ..Counts::default()
        };
        store
            .send_batch(&batch("m1", 1, "acme.a.b", bad))
            .await
            .unwrap();
        step(&mut p).await;
        let state = |store: &Arc<MemStore>| {
            let idx = futures_ready(store.verdict_index());
            idx["acme.a.b"].state
        };
        assert_eq!(state(&store), Health::Unhealthy);
        let skipped = Counts {
            rejected: 60,
            ..Counts::default()
        };
        store
            .send_batch(&batch("m1", 2, "acme.a.b", skipped))
            .await
            .unwrap();
        step(&mut p).await;
        assert_eq!(
            state(&store),
            Health::Unhealthy,
            "60 skipped calls are not enough"
        );
        store
            .send_batch(&batch("m1", 3, "acme.a.b", skipped))
            .await
            .unwrap();
        step(&mut p).await;
        assert_eq!(state(&store), Health::Recovering, "120 skipped calls are");
        let reason = &p.keys["acme.a.b"].reason;
        assert!(reason.contains("skipped"), "{reason}");
    }

    /// The output of a MemStore future (always ready).
    fn futures_ready<T>(f: crate::store::StoreFuture<'_, T>) -> T {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = f;
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => r.unwrap(),
            std::task::Poll::Pending => panic!("MemStore futures are ready"),
        }
    }

    #[tokio::test]
    async fn one_bad_node_of_twenty_does_not_trip_the_fleet() {
        let store = Arc::new(MemStore::default());
        let mut p = lead(&store).await;
        for round in 1..=5 {
            for m in 0..20 {
                let c = if m == 0 {
                    Counts {
                        failure: 20,
                        ..Counts::default()
                    }
                } else {
                    Counts {
                        success: 20,
                        ..Counts::default()
                    }
                };
                store
                    .send_batch(&batch(&format!("m{m}"), round, "acme.a.b", c))
                    .await
                    .unwrap();
            }
            step(&mut p).await;
        }
        let idx = store.verdict_index().await.unwrap();
        assert_eq!(idx["acme.a.b"].state, Health::Healthy);
    }

    #[tokio::test]
    async fn a_stale_leader_is_fenced() {
        let store = Arc::new(MemStore::default());
        let mut old = lead(&store).await;
        store.release_lease(old.token).await.unwrap();
        let mut new = lead(&store).await;
        assert!(new.epoch > old.epoch);
        store
            .send_batch(&batch(
                "m1",
                1,
                "acme.a.b",
                Counts {
                    success: 1,
                    ..Counts::default()
                },
            ))
            .await
            .unwrap();
        old.last_tick = Some(Instant::now());
        old.last_renew = Instant::now();
        old.process(store.read_new("old", 10).await.unwrap()).await;
        assert_eq!(old.epoch, 0, "the old leader stood down");
        // Ordering: Relaxed: a statistic, read on the task that wrote it.
        assert_eq!(old.stats.fenced.load(Ordering::Relaxed), 1);
        new.claim(0).await;
        assert_eq!(store.key_totals("acme.a.b").await.unwrap().success, 1);
    }

    #[tokio::test]
    async fn watchdog_raises_silent_keys_and_a_silent_leader() {
        let store = Arc::new(MemStore::default());
        let quiet = ProcessorConfig {
            silent_after: Duration::from_millis(30),
            ..cfg()
        };
        let mut p = Processor::new(store.clone(), quiet.clone()).unwrap();
        p.standby_step().await;
        let one = Counts {
            success: 1,
            ..Counts::default()
        };
        store
            .send_batch(&batch("m1", 1, "acme.a.b", one))
            .await
            .unwrap();
        step(&mut p).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        p.housekeeping().await;
        let kinds = |store: &MemStore| -> Vec<String> {
            store
                .events()
                .iter()
                .map(|e| format!("{} {}", e.kind, e.key))
                .collect()
        };
        assert!(
            kinds(&store).contains(&"key-silent acme.a.b".to_string()),
            "{:?}",
            kinds(&store)
        );
        assert!(kinds(&store).contains(&"no-batches ".to_string()));
        store
            .send_batch(&batch("m1", 2, "acme.a.b", one))
            .await
            .unwrap();
        step(&mut p).await;
        assert!(kinds(&store).contains(&"key-resumed acme.a.b".to_string()));
        // A standby sees the leader's heartbeat go silent.
        let mut standby = Processor::new(store.clone(), quiet).unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        standby.standby_step().await;
        assert_eq!(standby.epoch, 0, "the lease is still held");
        assert!(
            kinds(&store).contains(&"processor-silent ".to_string()),
            "{:?}",
            kinds(&store)
        );
    }

    #[tokio::test]
    async fn malformed_entries_are_skipped_and_counted() {
        let store = Arc::new(MemStore::default());
        let mut p = lead(&store).await;
        store.push_raw(vec![("hello".into(), "world".into())]);
        store.push_raw(vec![
            ("v".into(), "1".into()),
            ("mon".into(), "m".into()),
            ("c:bad key".into(), "1,0,0,0".into()),
        ]);
        step(&mut p).await;
        // Ordering: Relaxed: a statistic, read on the task that wrote it.
        assert_eq!(p.stats.malformed.load(Ordering::Relaxed), 2);
        assert_eq!(store.stats().await.unwrap()["malformed"], 2);
        assert_eq!(store.backlog().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn restore_keeps_state_and_backoff() {
        let store = Arc::new(MemStore::default());
        let mut p = lead(&store).await;
        store
            .send_batch(&batch(
                "m1",
                1,
                "acme.a.b",
                Counts {
                    failure: 20,
                    ..Counts::default()
                },
            ))
            .await
            .unwrap();
        step(&mut p).await;
        let before = store.load_verdicts().await.unwrap();
        store.release_lease(p.token).await.unwrap();
        let q = lead(&store).await;
        let ks = &q.keys["acme.a.b"];
        assert_eq!(
            Health::from_core(ks.breaker.state(wall_ms())),
            Health::Unhealthy
        );
        assert_eq!(ks.written, Some((Health::Unhealthy, None)));
        let after = store.load_verdicts().await.unwrap();
        assert_eq!(before, after, "a takeover writes nothing new");
        // A stored backoff level is replayed.
        let v = StoredVerdict {
            key: "acme.x.y".into(),
            state: Health::Unhealthy,
            forced: None,
            version: 3,
            level: 2,
            open_until_ms: 1_000_000,
        };
        let b = q.rebuild(&v, 900_000);
        let s = b.snapshot(900_000);
        assert_eq!(s.backoff_level, 2);
        assert_eq!(s.open_until, Some(1_000_000));
    }
}
