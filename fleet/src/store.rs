//! The `Store` trait: every operation the monitors and the processor need
//! from the shared store, each one atomic on its own. [`RedisStore`](crate::RedisStore)
//! implements it on Redis; [`MemStore`] in memory, for unit tests.
//!
//! The trait returns boxed futures so it can be used as `dyn Store`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use crate::model::{
    Batch, Counts, Event, Force, StoredVerdict, VerdictLine, VerdictWrite, WindowStats,
};

/// A subscription to verdict changes: yields once per published change
/// (a hint to poll now); ends when the connection does.
pub type ChangeFeed = Pin<Box<dyn futures_core::Stream<Item = ()> + Send>>;

/// A store operation's future.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store operation failed. Every one of them is survivable: callers
/// log it, count it and retry later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The operation (named) did not finish in time: a slow or blackholed server.
    Timeout(&'static str),
    /// No connection could be made (refused, unreachable, timed out).
    Connect(String),
    /// The server answered with an error reply: `WRONGTYPE`, `READONLY`, `NOSCRIPT`, …
    Server {
        /// The error code (`"WRONGTYPE"`, `"READONLY"`, …).
        code: String,
        /// The rest of the message.
        detail: String,
    },
    /// The connection broke.
    Io(String),
    /// A reply of an unexpected shape.
    Protocol(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Timeout(op) => write!(f, "store timeout during {op}"),
            StoreError::Connect(e) => write!(f, "cannot connect to the store: {e}"),
            StoreError::Server { code, detail } => write!(f, "store error reply {code}: {detail}"),
            StoreError::Io(e) => write!(f, "store connection error: {e}"),
            StoreError::Protocol(e) => write!(f, "unexpected store reply: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// One raw stream entry, before parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// The stream id (`"1700000000000-0"`).
    pub id: String,
    /// Its fields in order (non-UTF-8 bytes replaced).
    pub fields: Vec<(String, String)>,
}

/// What applying a batch did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Counted, and the entry acknowledged.
    Applied,
    /// Already counted before (a redelivery or a resend): acknowledged, nothing changed.
    Duplicate,
    /// Refused: the caller's fencing epoch is not the current one (it is no
    /// longer the leader). Nothing changed, the entry stays pending.
    Fenced,
}

/// What a fenced write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written; the key's verdict version after the write (0 for window figures).
    Written(u64),
    /// Refused: the caller's fencing epoch is stale.
    Fenced,
}

/// A processor's self-description, for the lease and the heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorInfo {
    /// Its id.
    pub id: String,
    /// `"leader"` or `"standby"`.
    pub role: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// Its fencing epoch while leader, else 0.
    pub epoch: u64,
    /// Wall ms of this report.
    pub at_ms: u64,
}

/// Store counters (`stats` hash): `malformed`, `duplicates`, `fenced`, `applied`.
pub type Stats = BTreeMap<String, u64>;

/// Everything the fleet needs from the shared store.
pub trait Store: Send + Sync + 'static {
    /// Appends a batch to the stream (monitors).
    fn send_batch<'a>(&'a self, batch: &'a Batch) -> StoreFuture<'a, ()>;
    /// The verdict index: key → version, state, force (monitors poll it).
    fn verdict_index(&self) -> StoreFuture<'_, HashMap<String, VerdictLine>>;
    /// Creates the stream and the consumer group if missing.
    fn ensure_group(&self) -> StoreFuture<'_, ()>;
    /// Takes the lease if free; on success bumps and returns the fencing epoch.
    fn acquire_lease<'a>(
        &'a self,
        me: &'a ProcessorInfo,
        token: u64,
        ttl_ms: u64,
    ) -> StoreFuture<'a, Option<u64>>;
    /// Extends the lease if `token` still holds it and `epoch` is current.
    fn renew_lease(&self, token: u64, epoch: u64, ttl_ms: u64) -> StoreFuture<'_, bool>;
    /// Gives the lease up if `token` holds it.
    fn release_lease(&self, token: u64) -> StoreFuture<'_, ()>;
    /// Reads up to `count` new entries for `consumer` of the group.
    fn read_new<'a>(&'a self, consumer: &'a str, count: usize) -> StoreFuture<'a, Vec<RawEntry>>;
    /// Claims pending entries idle at least `min_idle_ms` (XAUTOCLAIM) from
    /// `cursor` ("0-0" to start); returns the next cursor ("0-0" when done).
    fn claim_pending<'a>(
        &'a self,
        consumer: &'a str,
        min_idle_ms: u64,
        cursor: &'a str,
        count: usize,
    ) -> StoreFuture<'a, (String, Vec<RawEntry>)>;
    /// Applies a batch exactly once (dedupe by batch id), acknowledging and
    /// deleting its entry in the same atomic step, if `epoch` is current.
    fn apply_batch<'a>(
        &'a self,
        epoch: u64,
        entry_id: &'a str,
        batch: &'a Batch,
        now_ms: u64,
    ) -> StoreFuture<'a, ApplyOutcome>;
    /// Acknowledges and deletes a malformed entry, counting it.
    fn discard_entry<'a>(&'a self, entry_id: &'a str) -> StoreFuture<'a, ()>;
    /// Writes a verdict (bumping its version, logging a transition, publishing), if `epoch` is current.
    fn write_verdict<'a>(
        &'a self,
        epoch: u64,
        v: &'a VerdictWrite,
    ) -> StoreFuture<'a, WriteOutcome>;
    /// Writes a key's window figures, if `epoch` is current.
    fn write_window<'a>(
        &'a self,
        epoch: u64,
        key: &'a str,
        w: WindowStats,
    ) -> StoreFuture<'a, WriteOutcome>;
    /// Every persisted force.
    fn forces(&self) -> StoreFuture<'_, HashMap<String, Force>>;
    /// Sets (or with `None` clears) a key's force.
    fn set_force<'a>(&'a self, key: &'a str, force: Option<Force>) -> StoreFuture<'a, ()>;
    /// Every stored verdict.
    fn load_verdicts(&self) -> StoreFuture<'_, Vec<StoredVerdict>>;
    /// Records a processor's heartbeat (and, for the leader, the leader info).
    fn heartbeat<'a>(&'a self, me: &'a ProcessorInfo) -> StoreFuture<'a, ()>;
    /// The current leader's last heartbeat, if any.
    fn leader(&self) -> StoreFuture<'_, Option<ProcessorInfo>>;
    /// Records an event (watchdog, lifecycle) and the watchdog status.
    fn event<'a>(&'a self, e: &'a Event) -> StoreFuture<'a, ()>;
    /// Cumulative totals of a key since it was first seen.
    fn key_totals<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Counts>;
    /// Cumulative totals of a monitor.
    fn monitor_totals<'a>(&'a self, monitor: &'a str) -> StoreFuture<'a, Counts>;
    /// The store counters.
    fn stats(&self) -> StoreFuture<'_, Stats>;
    /// Entries in the stream not yet applied (stream length).
    fn backlog(&self) -> StoreFuture<'_, u64>;
    /// Sets a recovering key's fleet-wide probe tokens for the next tick
    /// (processor; they expire after `ttl_ms`).
    fn set_probe_tokens<'a>(
        &'a self,
        key: &'a str,
        tokens: u32,
        ttl_ms: u64,
    ) -> StoreFuture<'a, ()>;
    /// Takes up to `want` of a key's probe tokens (monitors); returns how many.
    fn take_probe_tokens<'a>(&'a self, key: &'a str, want: u32) -> StoreFuture<'a, u32>;
    /// Subscribes to the processor's verdict-change notices, if the store
    /// publishes them (the default: it does not, monitors only poll).
    fn subscribe_changes(&self) -> StoreFuture<'_, Option<ChangeFeed>> {
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// An in-memory [`Store`] with the same semantics as the Redis one (dedupe,
/// fencing, a stream with one consumer group), for unit tests.
///
/// ```
/// use tripbit_fleet::{MemStore, Store};
/// let s = MemStore::default();
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert!(rt.block_on(s.verdict_index()).unwrap().is_empty());
/// ```
#[derive(Default)]
pub struct MemStore {
    s: Mutex<Mem>,
}

#[derive(Default)]
struct Mem {
    next_id: u64,
    /// Stream: id → fields.
    stream: BTreeMap<u64, Vec<(String, String)>>,
    /// Last id delivered to the group.
    delivered: u64,
    /// Pending entries: id → consumer.
    pending: BTreeMap<u64, String>,
    fence: u64,
    lease: Option<u64>,
    /// (monitor, epoch) → applied seqs.
    seen: HashMap<(String, u64), std::collections::HashSet<u64>>,
    totals: HashMap<String, Counts>,
    monitor_totals: HashMap<String, Counts>,
    verdicts: HashMap<String, (VerdictLine, StoredVerdict)>,
    forces: HashMap<String, Force>,
    windows: HashMap<String, WindowStats>,
    tokens: HashMap<String, u32>,
    leader: Option<ProcessorInfo>,
    events: Vec<Event>,
    stats: Stats,
    /// Test hook: fail every operation with this error while set.
    fail: Option<StoreError>,
}

impl MemStore {
    /// Makes every operation fail with `err` (or work again with `None`).
    pub fn fail_with(&self, err: Option<StoreError>) {
        self.lock().fail = err;
    }

    /// The events recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// Adds a raw entry to the stream, as a foreign writer would.
    pub fn push_raw(&self, fields: Vec<(String, String)>) {
        let mut m = self.lock();
        m.next_id += 1;
        let id = m.next_id;
        m.stream.insert(id, fields);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mem> {
        // A panic while holding the lock cannot leave `Mem` half-updated in a
        // way that matters to tests; keep going.
        self.s.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Mem) -> Result<T, StoreError>,
    ) -> StoreFuture<'_, T> {
        let mut m = self.lock();
        let r = match m.fail.clone() {
            Some(e) => Err(e),
            None => f(&mut m),
        };
        Box::pin(std::future::ready(r))
    }
}

fn entry(id: u64, fields: &[(String, String)]) -> RawEntry {
    RawEntry {
        id: format!("{id}-0"),
        fields: fields.to_vec(),
    }
}

fn parse_id(id: &str) -> Result<u64, StoreError> {
    id.split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StoreError::Protocol(format!("stream id {id:?}")))
}

impl Store for MemStore {
    fn send_batch<'a>(&'a self, batch: &'a Batch) -> StoreFuture<'a, ()> {
        self.with(|m| {
            m.next_id += 1;
            let id = m.next_id;
            m.stream.insert(id, batch.to_fields());
            Ok(())
        })
    }

    fn verdict_index(&self) -> StoreFuture<'_, HashMap<String, VerdictLine>> {
        self.with(|m| Ok(m.verdicts.iter().map(|(k, v)| (k.clone(), v.0)).collect()))
    }

    fn ensure_group(&self) -> StoreFuture<'_, ()> {
        self.with(|_| Ok(()))
    }

    fn acquire_lease<'a>(
        &'a self,
        me: &'a ProcessorInfo,
        token: u64,
        _ttl_ms: u64,
    ) -> StoreFuture<'a, Option<u64>> {
        self.with(|m| {
            if m.lease.is_some() {
                return Ok(None);
            }
            m.lease = Some(token);
            m.fence += 1;
            m.leader = Some(ProcessorInfo {
                epoch: m.fence,
                ..me.clone()
            });
            Ok(Some(m.fence))
        })
    }

    fn renew_lease(&self, token: u64, epoch: u64, _ttl_ms: u64) -> StoreFuture<'_, bool> {
        self.with(|m| Ok(m.lease == Some(token) && m.fence == epoch))
    }

    fn release_lease(&self, token: u64) -> StoreFuture<'_, ()> {
        self.with(|m| {
            if m.lease == Some(token) {
                m.lease = None;
            }
            Ok(())
        })
    }

    fn read_new<'a>(&'a self, consumer: &'a str, count: usize) -> StoreFuture<'a, Vec<RawEntry>> {
        self.with(|m| {
            let ids: Vec<u64> = m
                .stream
                .range(m.delivered + 1..)
                .take(count)
                .map(|(id, _)| *id)
                .collect();
            let mut out = Vec::new();
            for id in ids {
                m.delivered = id;
                m.pending.insert(id, consumer.to_string());
                out.push(entry(id, &m.stream[&id]));
            }
            Ok(out)
        })
    }

    fn claim_pending<'a>(
        &'a self,
        consumer: &'a str,
        _min_idle_ms: u64,
        cursor: &'a str,
        count: usize,
    ) -> StoreFuture<'a, (String, Vec<RawEntry>)> {
        self.with(|m| {
            let from = parse_id(cursor)?;
            let ids: Vec<u64> = m.pending.range(from..).map(|(id, _)| *id).collect();
            let mut out = Vec::new();
            for id in ids.iter().take(count) {
                m.pending.insert(*id, consumer.to_string());
                if let Some(f) = m.stream.get(id) {
                    out.push(entry(*id, f));
                }
            }
            let next = ids
                .get(count)
                .map_or("0-0".to_string(), |id| format!("{id}-0"));
            Ok((next, out))
        })
    }

    fn apply_batch<'a>(
        &'a self,
        epoch: u64,
        entry_id: &'a str,
        batch: &'a Batch,
        _now_ms: u64,
    ) -> StoreFuture<'a, ApplyOutcome> {
        self.with(|m| {
            if m.fence != epoch {
                *m.stats.entry("fenced".into()).or_default() += 1;
                return Ok(ApplyOutcome::Fenced);
            }
            let id = parse_id(entry_id)?;
            m.pending.remove(&id);
            m.stream.remove(&id);
            let seen = m
                .seen
                .entry((batch.id.monitor.clone(), batch.id.epoch))
                .or_default();
            if !seen.insert(batch.id.seq) {
                *m.stats.entry("duplicates".into()).or_default() += 1;
                return Ok(ApplyOutcome::Duplicate);
            }
            for (k, c) in &batch.counts {
                m.totals.entry(k.clone()).or_default().add(c);
                m.monitor_totals
                    .entry(batch.id.monitor.clone())
                    .or_default()
                    .add(c);
            }
            *m.stats.entry("applied".into()).or_default() += 1;
            Ok(ApplyOutcome::Applied)
        })
    }

    fn discard_entry<'a>(&'a self, entry_id: &'a str) -> StoreFuture<'a, ()> {
        self.with(|m| {
            let id = parse_id(entry_id)?;
            m.pending.remove(&id);
            m.stream.remove(&id);
            *m.stats.entry("malformed".into()).or_default() += 1;
            Ok(())
        })
    }

    fn write_verdict<'a>(
        &'a self,
        epoch: u64,
        v: &'a VerdictWrite,
    ) -> StoreFuture<'a, WriteOutcome> {
        self.with(|m| {
            if m.fence != epoch {
                *m.stats.entry("fenced".into()).or_default() += 1;
                return Ok(WriteOutcome::Fenced);
            }
            let version = m.verdicts.get(&v.key).map_or(0, |x| x.0.version) + 1;
            let line = VerdictLine {
                version,
                state: v.state,
                forced: v.force.as_ref().map(|f| f.state),
            };
            let stored = StoredVerdict {
                key: v.key.clone(),
                state: v.state,
                forced: v.force.as_ref().map(|f| f.state),
                version,
                level: v.level,
                open_until_ms: v.open_until_ms,
            };
            m.verdicts.insert(v.key.clone(), (line, stored));
            Ok(WriteOutcome::Written(version))
        })
    }

    fn write_window<'a>(
        &'a self,
        epoch: u64,
        key: &'a str,
        w: WindowStats,
    ) -> StoreFuture<'a, WriteOutcome> {
        self.with(|m| {
            if m.fence != epoch {
                return Ok(WriteOutcome::Fenced);
            }
            m.windows.insert(key.to_string(), w);
            Ok(WriteOutcome::Written(0))
        })
    }

    fn forces(&self) -> StoreFuture<'_, HashMap<String, Force>> {
        self.with(|m| Ok(m.forces.clone()))
    }

    fn set_force<'a>(&'a self, key: &'a str, force: Option<Force>) -> StoreFuture<'a, ()> {
        self.with(|m| {
            match force {
                Some(f) => m.forces.insert(key.to_string(), f),
                None => m.forces.remove(key),
            };
            Ok(())
        })
    }

    fn load_verdicts(&self) -> StoreFuture<'_, Vec<StoredVerdict>> {
        self.with(|m| Ok(m.verdicts.values().map(|v| v.1.clone()).collect()))
    }

    fn heartbeat<'a>(&'a self, me: &'a ProcessorInfo) -> StoreFuture<'a, ()> {
        self.with(|m| {
            if me.role == "leader" {
                m.leader = Some(me.clone());
            }
            Ok(())
        })
    }

    fn leader(&self) -> StoreFuture<'_, Option<ProcessorInfo>> {
        self.with(|m| Ok(m.leader.clone()))
    }

    fn event<'a>(&'a self, e: &'a Event) -> StoreFuture<'a, ()> {
        self.with(|m| {
            m.events.push(e.clone());
            Ok(())
        })
    }

    fn key_totals<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Counts> {
        self.with(|m| Ok(m.totals.get(key).copied().unwrap_or_default()))
    }

    fn monitor_totals<'a>(&'a self, monitor: &'a str) -> StoreFuture<'a, Counts> {
        self.with(|m| Ok(m.monitor_totals.get(monitor).copied().unwrap_or_default()))
    }

    fn stats(&self) -> StoreFuture<'_, Stats> {
        self.with(|m| Ok(m.stats.clone()))
    }

    fn backlog(&self) -> StoreFuture<'_, u64> {
        self.with(|m| Ok(m.stream.len() as u64))
    }

    fn set_probe_tokens<'a>(
        &'a self,
        key: &'a str,
        tokens: u32,
        _ttl_ms: u64,
    ) -> StoreFuture<'a, ()> {
        self.with(|m| {
            m.tokens.insert(key.to_string(), tokens);
            Ok(())
        })
    }

    fn take_probe_tokens<'a>(&'a self, key: &'a str, want: u32) -> StoreFuture<'a, u32> {
        self.with(|m| {
            let have = m.tokens.entry(key.to_string()).or_default();
            let take = want.min(*have);
            *have -= take;
            Ok(take)
        })
    }
}
