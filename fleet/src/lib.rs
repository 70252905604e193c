//! Fleet circuit breakers on Redis: every process keeps a local
//! [`tripbit`] breaker per key, which decides each call with no I/O, while a
//! processor aggregates every process's counts and shares one verdict per key.
//!
//! - [`Monitor`] (one per process) and its [`FleetBreaker`]s: the guarded
//!   call is a few atomic operations; a background thread flushes batched
//!   counts (success, failure, slow, rejected) every 250 ms, each batch
//!   carrying an id `(monitor id, epoch, sequence)`, and mirrors the fleet's
//!   verdict into the local breakers with the core's public API
//!   (`force_open`, `force_closed`, `reset`, a probe budget while recovering).
//!   When the store is down, slow or blackholed the monitor fails open to the
//!   local breakers and keeps a bounded backlog.
//! - [`Processor`]: reads the batches through a Redis Stream consumer group,
//!   applies each exactly once (batch ids deduplicated inside the same Lua
//!   script that applies the counts), runs the core's sliding-window state
//!   machine (`tripbit::Breaker<Window<10, 1>>`) per key and writes versioned
//!   verdicts. A standby takes over on a lease; a fencing epoch refuses a
//!   stale leader's writes; a watchdog raises events for silent keys and a
//!   silent leader.
//! - [`Store`]: the operations both need; [`RedisStore`] on Redis 7.0,
//!   [`MemStore`] in memory for unit tests. [`redis_store`] documents the
//!   Redis data model.
//!
//! ```
//! use std::sync::Arc;
//! use tripbit_fleet::{MemStore, Monitor, MonitorConfig, Effective};
//! let monitor = Monitor::with_store(Arc::new(MemStore::default()), MonitorConfig::default())?;
//! let search = monitor.breaker("acme.search.hotels")?;
//! let hotels = search.call(|| Ok::<_, std::io::Error>("3 hotels"));
//! assert_eq!(hotels.unwrap(), "3 hotels");
//! assert_eq!(search.fleet_state(), Effective::Healthy);
//! monitor.close()?;
//! # Ok::<(), tripbit_fleet::MonitorError>(())
//! ```
//!
//! # Dependencies
//!
//! - `tripbit`: the breaker itself, locally and in the processor.
//! - `tokio`: the flush task, the processor's loop, timeouts on every store call.
//! - `redis` (`tokio-comp`, `connection-manager`, `script`): the store; scripts
//!   make apply-and-dedupe and fenced writes atomic.
//! - `getrandom`: monitor epochs, ids and lease tokens.
//! - `futures-core`: the `Stream` trait of the verdict-change notices (pub/sub).
//! - `axum`, `hyper`, `hyper-util`: the admin panel's HTTP server ([`panel`]);
//!   hyper directly for the header-read timeout and the connection limit.
//! - `futures-util`: the panel's server-sent event stream.
//! - `serde_json`: the panel's JSON API and the alert webhook's body.
//! - `lettre` (SMTP, tokio): alert e-mails ([`alerts`]).

pub mod alerts;
mod counters;
pub mod model;
pub mod monitor;
pub mod panel;
pub mod processor;
pub mod redis_store;
pub mod sim;
pub mod store;

pub use model::{
    Batch, BatchId, Counts, Effective, Force, Forced, Health, KeyError, MAX_FLEET_KEY_LEN,
    validate_fleet_key,
};
pub use monitor::{
    Call, CloseReport, FleetBreaker, Monitor, MonitorConfig, MonitorError, MonitorStats,
};
pub use processor::{Processor, ProcessorConfig, ProcessorError, ProcessorStats};
pub use redis_store::{RedisStore, Timeouts, UrlError};
pub use store::{MemStore, Store, StoreError};

/// Sets (or with `None` clears) the operator force of `key`, recorded with
/// who and when. The processor picks it up on its next tick and writes it
/// into the verdict every monitor polls; it persists across restarts.
pub async fn set_force(
    store: &dyn Store,
    key: &str,
    state: Option<Forced>,
    by: &str,
) -> Result<(), ForceError> {
    validate_fleet_key(key).map_err(ForceError::Key)?;
    let force = state.map(|state| Force {
        state,
        by: by.to_string(),
        at_ms: model::wall_ms(),
    });
    store.set_force(key, force).await.map_err(ForceError::Store)
}

/// Why a force could not be set.
#[derive(Debug)]
pub enum ForceError {
    /// The key is malformed.
    Key(KeyError),
    /// The store failed.
    Store(StoreError),
}

impl std::fmt::Display for ForceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ForceError::Key(e) => write!(f, "invalid key: {e}"),
            ForceError::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ForceError {}
