//! The data that travels between monitors, the processor and Redis: keys,
//! counts, batches (and their stream encoding), verdicts and forces.

use std::collections::BTreeMap;
use std::fmt;

/// Longest fleet key, in bytes.
pub const MAX_FLEET_KEY_LEN: usize = 200;

/// Why a key was refused.
///
/// ```
/// use tripbit_fleet::{validate_fleet_key, KeyError};
/// assert_eq!(validate_fleet_key("acme.search.hotels"), Ok(()));
/// assert_eq!(validate_fleet_key(""), Err(KeyError::Empty));
/// assert_eq!(validate_fleet_key("acme search"), Err(KeyError::BadChar(' ')));
/// assert_eq!(validate_fleet_key("hotels"), Err(KeyError::NotDotted));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The key is empty.
    Empty,
    /// The key is longer than [`MAX_FLEET_KEY_LEN`] bytes (the length is given).
    TooLong(usize),
    /// The key has no dot: it must be `company.product.service` (two dots or more
    /// are fine; at least one is required).
    NotDotted,
    /// A segment between dots is empty (`acme..hotels`, `.acme`, `acme.`).
    EmptySegment,
    /// A character other than ASCII letters, digits, `_`, `-` and `.`.
    BadChar(char),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Empty => f.write_str("key is empty"),
            KeyError::TooLong(n) => {
                write!(f, "key is {n} bytes, longer than {MAX_FLEET_KEY_LEN}")
            }
            KeyError::NotDotted => f.write_str("key must be dotted: company.product.service"),
            KeyError::EmptySegment => f.write_str("key has an empty segment between dots"),
            KeyError::BadChar(c) => write!(
                f,
                "key contains {c:?}: only ASCII letters, digits, '_', '-' and '.' are allowed"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// Checks a fleet key: 1..=200 bytes, dot-separated non-empty segments of
/// ASCII letters, digits, `_` and `-`, with at least one dot.
///
/// ```
/// use tripbit_fleet::{validate_fleet_key, KeyError};
/// assert_eq!(validate_fleet_key("acme..hotels"), Err(KeyError::EmptySegment));
/// assert_eq!(validate_fleet_key(&format!("a.{}", "b".repeat(199))), Err(KeyError::TooLong(201)));
/// ```
pub fn validate_fleet_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_FLEET_KEY_LEN {
        return Err(KeyError::TooLong(key.len()));
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(KeyError::BadChar(c));
    }
    if key.split('.').any(str::is_empty) {
        return Err(KeyError::EmptySegment);
    }
    if !key.contains('.') {
        return Err(KeyError::NotDotted);
    }
    Ok(())
}

/// Whether `id` is a valid monitor or processor id: 1..=64 bytes of ASCII
/// letters, digits, `_` and `-`.
///
/// ```
/// assert!(tripbit_fleet::model::valid_id("mon-1f2e"));
/// assert!(!tripbit_fleet::model::valid_id("a:b"));
/// ```
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Outcome counts of one key: calls that succeeded, failed, were slow (a
/// success that took longer than the slow bar), and were rejected or skipped
/// (not run because a breaker said no).
///
/// ```
/// use tripbit_fleet::Counts;
/// let mut c = Counts { success: 1, ..Counts::default() };
/// c.add(&Counts { failure: 2, ..Counts::default() });
/// assert_eq!((c.success, c.failure, c.calls()), (1, 2, 3));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// Calls that worked (and were fast enough).
    pub success: u64,
    /// Calls that failed.
    pub failure: u64,
    /// Successful calls slower than the slow bar.
    pub slow: u64,
    /// Calls not run: rejected by the local breaker or skipped by the fleet verdict.
    pub rejected: u64,
    /// Of `rejected`, those refused by the process's own breaker while the
    /// fleet was healthy (that process saw the upstream fail). The processor
    /// counts them as failures of a healthy key, so a fleet whose every
    /// local breaker tripped still trips, while one such node of many does not.
    pub local: u64,
}

impl Counts {
    /// Adds `other` into `self` (saturating).
    pub fn add(&mut self, other: &Counts) {
        self.success = self.success.saturating_add(other.success);
        self.failure = self.failure.saturating_add(other.failure);
        self.slow = self.slow.saturating_add(other.slow);
        self.rejected = self.rejected.saturating_add(other.rejected);
        self.local = self.local.saturating_add(other.local);
    }

    /// Calls that ran: success + failure + slow.
    pub fn calls(&self) -> u64 {
        self.success
            .saturating_add(self.failure)
            .saturating_add(self.slow)
    }

    /// Everything counted, rejected included.
    pub fn total(&self) -> u64 {
        self.calls().saturating_add(self.rejected)
    }

    /// Whether every count is zero.
    pub fn is_zero(&self) -> bool {
        self.total() == 0
    }

    /// The stream encoding: `"success,failure,slow,rejected,local"`.
    ///
    /// ```
    /// use tripbit_fleet::Counts;
    /// let c = Counts { success: 5, failure: 1, slow: 0, rejected: 2, local: 1 };
    /// assert_eq!(Counts::decode(&c.encode()), Some(c));
    /// assert_eq!(Counts::decode("1,2,x,4,0"), None);
    /// assert_eq!(Counts::decode("1,2,3,4,5"), None); // local > rejected
    /// ```
    pub fn encode(&self) -> String {
        format!(
            "{},{},{},{},{}",
            self.success, self.failure, self.slow, self.rejected, self.local
        )
    }

    /// Parses [`encode`](Self::encode)'s format; `None` when malformed or when
    /// a count is above [`MAX_COUNT`] (a foreign or corrupt entry).
    pub fn decode(s: &str) -> Option<Counts> {
        let mut it = s
            .split(',')
            .map(|p| p.parse::<u64>().ok().filter(|&n| n <= MAX_COUNT));
        let c = Counts {
            success: it.next()??,
            failure: it.next()??,
            slow: it.next()??,
            rejected: it.next()??,
            local: it.next()??,
        };
        if it.next().is_some() || c.local > c.rejected {
            return None;
        }
        Some(c)
    }
}

/// Largest count one batch may carry for one key and outcome: far above what
/// a process can do in a flush interval, small enough that no sum overflows.
pub const MAX_COUNT: u64 = 1 << 40;

/// The id of a batch: unique per monitor run and sequence number. A monitor
/// draws a fresh random `epoch` when it starts, and numbers its batches 1, 2, …
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BatchId {
    /// The monitor's id.
    pub monitor: String,
    /// The monitor's run (random at start).
    pub epoch: u64,
    /// The batch's number within the run, from 1.
    pub seq: u64,
}

impl fmt::Display for BatchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:x}/{}", self.monitor, self.epoch, self.seq)
    }
}

/// One flush of a monitor: counts per key since the previous batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Its id, for exactly-once application.
    pub id: BatchId,
    /// The monitor's host name.
    pub host: String,
    /// The monitor's process id.
    pub pid: u32,
    /// The application name the monitor was started with.
    pub app: String,
    /// Wall-clock milliseconds when the batch was first sent.
    pub sent_ms: u64,
    /// Counts per key (keys are valid fleet keys).
    pub counts: BTreeMap<String, Counts>,
}

/// Version of the stream entry format.
pub const ENTRY_VERSION: &str = "1";

/// Why a stream entry was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedEntry(pub String);

impl fmt::Display for MalformedEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed stream entry: {}", self.0)
    }
}

impl std::error::Error for MalformedEntry {}

impl Batch {
    /// The stream entry's fields: `v`, `mon`, `ep`, `seq`, `host`, `pid`,
    /// `app`, `at`, then `c:<key>` = [`Counts::encode`] per key.
    pub fn to_fields(&self) -> Vec<(String, String)> {
        let mut f = vec![
            ("v".into(), ENTRY_VERSION.into()),
            ("mon".into(), self.id.monitor.clone()),
            ("ep".into(), self.id.epoch.to_string()),
            ("seq".into(), self.id.seq.to_string()),
            ("host".into(), self.host.clone()),
            ("pid".into(), self.pid.to_string()),
            ("app".into(), self.app.clone()),
            ("at".into(), self.sent_ms.to_string()),
        ];
        for (k, c) in &self.counts {
            f.push((format!("c:{k}"), c.encode()));
        }
        f
    }

    /// Parses a stream entry's fields, checking every one of them: an entry
    /// that does not parse is refused whole, so nothing of it is counted.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use tripbit_fleet::{Batch, BatchId, Counts};
    /// let b = Batch {
    ///     id: BatchId { monitor: "m1".into(), epoch: 7, seq: 1 },
    ///     host: "h".into(), pid: 9, app: "a".into(), sent_ms: 5,
    ///     counts: BTreeMap::from([("acme.x.y".to_string(), Counts { success: 3, ..Default::default() })]),
    /// };
    /// assert_eq!(Batch::from_fields(&b.to_fields()), Ok(b));
    /// assert!(Batch::from_fields(&[("foo".into(), "bar".into())]).is_err());
    /// ```
    pub fn from_fields(fields: &[(String, String)]) -> Result<Batch, MalformedEntry> {
        let bad = |m: &str| MalformedEntry(m.to_string());
        let mut get = BTreeMap::new();
        let mut counts = BTreeMap::new();
        for (k, v) in fields {
            if let Some(key) = k.strip_prefix("c:") {
                validate_fleet_key(key).map_err(|e| bad(&format!("key {key:?}: {e}")))?;
                let c = Counts::decode(v).ok_or_else(|| bad(&format!("counts {v:?}")))?;
                if counts.insert(key.to_string(), c).is_some() {
                    return Err(bad(&format!("key {key:?} twice")));
                }
            } else if get.insert(k.as_str(), v.as_str()).is_some() {
                return Err(bad(&format!("field {k:?} twice")));
            }
        }
        match get.get("v") {
            Some(&ENTRY_VERSION) => {}
            Some(v) => return Err(bad(&format!("version {v:?}"))),
            None => return Err(bad("no version field (a foreign entry)")),
        }
        let field = |name: &str| {
            get.get(name)
                .copied()
                .ok_or_else(|| bad(&format!("no {name}")))
        };
        let num = |name: &str| -> Result<u64, MalformedEntry> {
            field(name)?
                .parse::<u64>()
                .map_err(|_| bad(&format!("{name} is not a number")))
        };
        let monitor = field("mon")?.to_string();
        if !valid_id(&monitor) {
            return Err(bad("monitor id"));
        }
        let seq = num("seq")?;
        if seq == 0 {
            return Err(bad("seq 0"));
        }
        let host = field("host")?.to_string();
        let app = field("app")?.to_string();
        if host.len() > 255 || host.chars().any(char::is_control) {
            return Err(bad("host"));
        }
        if app.len() > 255 || app.chars().any(char::is_control) {
            return Err(bad("app"));
        }
        if counts.is_empty() {
            return Err(bad("no counts"));
        }
        if counts.len() > MAX_KEYS_PER_BATCH {
            return Err(bad("too many keys"));
        }
        Ok(Batch {
            id: BatchId {
                monitor,
                epoch: num("ep")?,
                seq,
            },
            host,
            pid: u32::try_from(num("pid")?).map_err(|_| bad("pid"))?,
            app,
            sent_ms: num("at")?,
            counts,
        })
    }
}

/// Most keys one batch may carry.
pub const MAX_KEYS_PER_BATCH: usize = 1000;

/// A key's computed fleet state, in the seed's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    /// Closed: every call goes through.
    Healthy,
    /// Open: calls fail fast everywhere.
    Unhealthy,
    /// Half-open: a bounded number of probe calls per monitor.
    Recovering,
}

impl Health {
    /// `"healthy"`, `"unhealthy"` or `"recovering"`.
    ///
    /// ```
    /// use tripbit_fleet::Health;
    /// assert_eq!(Health::parse(Health::Recovering.as_str()), Some(Health::Recovering));
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Recovering => "recovering",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Health> {
        match s {
            "healthy" => Some(Health::Healthy),
            "unhealthy" => Some(Health::Unhealthy),
            "recovering" => Some(Health::Recovering),
            _ => None,
        }
    }

    /// The fleet state for a core breaker state (forced and disabled states
    /// are not computed states; they map to what they admit).
    pub fn from_core(s: tripbit::State) -> Health {
        match s {
            tripbit::State::Open | tripbit::State::ForcedOpen => Health::Unhealthy,
            tripbit::State::HalfOpen => Health::Recovering,
            _ => Health::Healthy,
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator's forced state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forced {
    /// Every call goes through, whatever the computed state.
    Healthy,
    /// Every call fails fast, whatever the computed state.
    Unhealthy,
}

impl Forced {
    /// `"healthy"` or `"unhealthy"`.
    ///
    /// ```
    /// use tripbit_fleet::Forced;
    /// assert_eq!(Forced::parse("unhealthy"), Some(Forced::Unhealthy));
    /// assert_eq!(Forced::parse("recovering"), None);
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Forced::Healthy => "healthy",
            Forced::Unhealthy => "unhealthy",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Forced> {
        match s {
            "healthy" => Some(Forced::Healthy),
            "unhealthy" => Some(Forced::Unhealthy),
            _ => None,
        }
    }
}

/// A persisted force: what, who set it, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Force {
    /// The forced state.
    pub state: Forced,
    /// Who set it (free text, e.g. a user or token name).
    pub by: String,
    /// Wall-clock milliseconds when it was set.
    pub at_ms: u64,
}

impl Force {
    /// Stored as `"state|at_ms|by"`.
    ///
    /// ```
    /// use tripbit_fleet::{Force, Forced};
    /// let f = Force { state: Forced::Healthy, by: "ops|alice".into(), at_ms: 12 };
    /// assert_eq!(Force::decode(&f.encode()), Some(f));
    /// ```
    pub fn encode(&self) -> String {
        format!("{}|{}|{}", self.state.as_str(), self.at_ms, self.by)
    }

    /// The inverse of [`encode`](Self::encode).
    pub fn decode(s: &str) -> Option<Force> {
        let mut it = s.splitn(3, '|');
        Some(Force {
            state: Forced::parse(it.next()?)?,
            at_ms: it.next()?.parse().ok()?,
            by: it.next()?.to_string(),
        })
    }
}

/// One line of the verdict index that monitors poll: `"version state forced"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerdictLine {
    /// Bumped by every verdict write of this key.
    pub version: u64,
    /// The computed state.
    pub state: Health,
    /// The forced state, if any.
    pub forced: Option<Forced>,
}

impl VerdictLine {
    /// What the monitors apply: the forced state when there is one.
    pub fn effective(&self) -> Effective {
        match (self.forced, self.state) {
            (Some(Forced::Healthy), _) => Effective::ForcedHealthy,
            (Some(Forced::Unhealthy), _) => Effective::ForcedUnhealthy,
            (None, Health::Healthy) => Effective::Healthy,
            (None, Health::Unhealthy) => Effective::Unhealthy,
            (None, Health::Recovering) => Effective::Recovering,
        }
    }

    /// `"7 unhealthy -"`.
    ///
    /// ```
    /// use tripbit_fleet::{Forced, Health, model::VerdictLine};
    /// let v = VerdictLine { version: 7, state: Health::Unhealthy, forced: Some(Forced::Healthy) };
    /// assert_eq!(VerdictLine::decode(&v.encode()), Some(v));
    /// ```
    pub fn encode(&self) -> String {
        format!(
            "{} {} {}",
            self.version,
            self.state.as_str(),
            self.forced.map_or("-", Forced::as_str)
        )
    }

    /// The inverse of [`encode`](Self::encode).
    pub fn decode(s: &str) -> Option<VerdictLine> {
        let mut it = s.split(' ');
        let version = it.next()?.parse().ok()?;
        let state = Health::parse(it.next()?)?;
        let forced = match it.next()? {
            "-" => None,
            f => Some(Forced::parse(f)?),
        };
        Some(VerdictLine {
            version,
            state,
            forced,
        })
    }
}

/// What a monitor does for a key: the verdict with the force applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effective {
    /// The local policy decides (no fleet verdict yet, or the fleet is healthy).
    Healthy,
    /// Every call is rejected.
    Unhealthy,
    /// A bounded probe budget per flush interval.
    Recovering,
    /// Forced healthy: every call goes through.
    ForcedHealthy,
    /// Forced unhealthy: every call is rejected.
    ForcedUnhealthy,
}

impl Effective {
    /// A short name: `healthy`, `unhealthy`, `recovering`, `forced-healthy`, `forced-unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effective::Healthy => "healthy",
            Effective::Unhealthy => "unhealthy",
            Effective::Recovering => "recovering",
            Effective::ForcedHealthy => "forced-healthy",
            Effective::ForcedUnhealthy => "forced-unhealthy",
        }
    }
}

impl fmt::Display for Effective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict write from the processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictWrite {
    /// The key.
    pub key: String,
    /// The computed state.
    pub state: Health,
    /// The state before (for the transition log), when this write is a transition.
    pub from: Option<Health>,
    /// The force in effect, if any.
    pub force: Option<Force>,
    /// Why (e.g. `"failure ratio 62% >= 50% over 140 calls"`).
    pub reason: String,
    /// Backoff level.
    pub level: u8,
    /// End of the open period (wall ms), while unhealthy.
    pub open_until_ms: u64,
    /// Wall-clock ms of the write.
    pub at_ms: u64,
}

/// A verdict as stored, read back (restore after a takeover, panel).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredVerdict {
    /// The key.
    pub key: String,
    /// The computed state.
    pub state: Health,
    /// The forced state written with it.
    pub forced: Option<Forced>,
    /// Version.
    pub version: u64,
    /// Backoff level.
    pub level: u8,
    /// End of the open period (wall ms).
    pub open_until_ms: u64,
}

/// Window figures the processor publishes per key (no version bump).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Calls in the window.
    pub calls: u32,
    /// Failures in the window.
    pub failures: u32,
    /// Slow calls in the window.
    pub slow: u32,
    /// Wall-clock ms of the figures.
    pub at_ms: u64,
}

/// A watchdog or lifecycle event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `"key-silent"`, `"key-resumed"`, `"processor-silent"`, `"leader"`, `"trip"`, `"recover"`, …
    pub kind: String,
    /// The key, or `""` for processor events.
    pub key: String,
    /// Details.
    pub detail: String,
    /// Wall-clock ms.
    pub at_ms: u64,
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A random 64-bit number from the OS (ids, epochs, lease tokens).
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No OS randomness: fall back to time and pid, still unique enough
        // for ids (never used for security).
        return wall_ms() ^ (u64::from(std::process::id()) << 40);
    }
    u64::from_le_bytes(b)
}

/// This host's name (`/proc/sys/kernel/hostname`, `$HOSTNAME`, else `"localhost"`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
