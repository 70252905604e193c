//! [`RedisStore`]: the [`Store`] on a Redis server (7.0 or later).
//!
//! Every connect and every command runs under a timeout
//! (`ConnectionManager::new` can hang on a blackholed network, and a command
//! on a server that accepted the connection but never answers would hang
//! forever). After a timeout or a broken connection the connection is
//! dropped and the next operation connects anew, so the store reconnects by
//! itself.
//!
//! # URLs
//!
//! - `redis://host:port/db` (also `redis+unix://`, `unix://`): one server,
//!   parsed by the `redis` crate.
//! - `redis+sentinel://host:port[,host:port...]/<master-name>[/db]`: the
//!   primary that Redis Sentinel names `<master-name>` (see [`SentinelUrl`]).
//!   The store asks the sentinels, in the order given, for the current
//!   primary (`SENTINEL get-master-addr-by-name`), connects to it, and checks
//!   with `ROLE` that it really is a primary. On a timeout, a broken
//!   connection or a `READONLY` reply it drops the connection, and the next
//!   operation asks the sentinels again, so after a failover every process
//!   follows the promoted replica by itself. Each sentinel gets the connect
//!   and command timeouts of its own, so a dead or blackholed sentinel costs
//!   one timeout before the next one is asked. The crate's own `sentinel`
//!   module is not used: it asks every sentinel under one future, so a
//!   timeout around it would never reach the second sentinel behind a
//!   blackholed first one, and it would add two dependencies (`rand`, `log`).
//!
//! # Data model
//!
//! With the default prefix `tb` (each `{key}` is a fleet key):
//!
//! | Redis key | type | what |
//! |---|---|---|
//! | `tb:batches` | stream, group `processors` | batches from monitors; an entry is deleted once applied |
//! | `tb:fence` | integer | fencing epoch, `INCR`'d by each new leader (and raised to the wall clock in ms, so it keeps growing if Redis lost its data) |
//! | `tb:leader` | string, PX | the lease: the leader's random token |
//! | `tb:leader:info` | hash | leader `id host pid epoch since_ms renewed_ms` |
//! | `tb:processors` | hash | processor id → `role host pid epoch at_ms` (leaders and standbys) |
//! | `tb:verdicts` | hash | key → `version state forced` (what monitors poll) |
//! | `tb:verdict:{key}` | hash | `state forced forced_by forced_at_ms version epoch updated_ms changed_at_ms reason level open_until_ms` |
//! | `tb:transitions:{key}` | list (newest first, 100) | JSON `{at_ms, from, to, version, epoch, reason}` |
//! | `tb:window:{key}` | hash | `calls failures slow at_ms`: the processor's sliding window |
//! | `tb:probes:{key}` | integer, PX | fleet-wide probe tokens of a recovering key for the current tick |
//! | `tb:forces` | hash | key → `state|at_ms|by`: persisted operator forces |
//! | `tb:totals:{key}` | hash | `success failure slow rejected local first_seen_ms last_seen_ms` since first seen |
//! | `tb:keymon:{key}` | hash | `<monitor>:success` … `<monitor>:last_seen_ms`, `:host`, `:pid`: who reports what |
//! | `tb:monitor:{id}` | hash | `host pid app epoch last_seen_ms batches success failure slow rejected local` |
//! | `tb:monitors`, `tb:keys` | sets | every monitor id and key seen |
//! | `tb:dedupe:{monitor}:{epoch}` | hash, 7 days | `w` = every seq ≤ w applied, `s<seq>` = applied above w |
//! | `tb:events` | stream, ~10 000 | `kind key detail at_ms`: watchdog and lifecycle events |
//! | `tb:watchdog` | hash | key (or `processor`) → `kind at_ms detail`: the latest watchdog status |
//! | `tb:stats` | hash | `applied duplicates malformed fenced` |
//! | channel `tb:verdict-changes` | pub/sub | `key version` on every verdict write (a hint only) |

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, Script, Value};

use crate::model::{
    Batch, Counts, Event, Force, Health, StoredVerdict, VerdictLine, VerdictWrite, WindowStats,
};
use crate::store::{
    ApplyOutcome, ChangeFeed, ProcessorInfo, RawEntry, Stats, Store, StoreError, StoreFuture,
    WriteOutcome,
};

/// The pub/sub messages as bare notices.
struct Notices(redis::aio::PubSubStream);

impl futures_core::Stream for Notices {
    type Item = ();

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<()>> {
        std::pin::Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|m| m.map(|_| ()))
    }
}

/// The consumer group every processor reads through.
pub const GROUP: &str = "processors";

/// Why a Redis URL was refused.
#[derive(Debug)]
pub struct UrlError(pub String);

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid Redis URL: {}", self.0)
    }
}

impl std::error::Error for UrlError {}

/// Timeouts of a [`RedisStore`].
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Connecting (TCP + handshake). Default 500 ms.
    pub connect: Duration,
    /// Any one command or script. Default 500 ms.
    pub command: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_millis(500),
            command: Duration::from_millis(500),
        }
    }
}

/// The default port of a sentinel in a [`SentinelUrl`].
pub const SENTINEL_PORT: u16 = 26379;

/// The scheme of a [`SentinelUrl`].
pub const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// A parsed `redis+sentinel://host:port[,host:port...]/<master-name>[/db]`.
///
/// - Sentinels: one or more `host:port`, comma-separated; the port defaults
///   to 26379; an IPv6 address goes in brackets (`[::1]:26379`).
/// - `<master-name>`: the name given to `sentinel monitor`; letters, digits,
///   `.`, `-` and `_`.
/// - `db`: the database on the primary (default 0).
///
/// No user, password, TLS or query options: a URL with `@`, `?` or `#` is
/// refused rather than half understood.
///
/// ```
/// use tripbit_fleet::redis_store::SentinelUrl;
/// let u = SentinelUrl::parse("redis+sentinel://127.0.0.1:26379,10.0.0.2/tb/2")?;
/// assert_eq!(u.sentinels, [("127.0.0.1".to_string(), 26379), ("10.0.0.2".to_string(), 26379)]);
/// assert_eq!((u.master.as_str(), u.db), ("tb", 2));
/// assert!(SentinelUrl::parse("redis+sentinel://127.0.0.1:26379").is_err()); // no master name
/// assert!(SentinelUrl::parse("redis+sentinel://:pw@127.0.0.1/tb").is_err()); // no credentials
/// # Ok::<(), tripbit_fleet::UrlError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentinelUrl {
    /// The sentinels, asked in this order.
    pub sentinels: Vec<(String, u16)>,
    /// The monitored master's name.
    pub master: String,
    /// The database on the primary.
    pub db: u32,
}

impl SentinelUrl {
    /// Parses a `redis+sentinel://` URL; every refusal names what is wrong.
    pub fn parse(url: &str) -> Result<SentinelUrl, UrlError> {
        let bad = |why: &str| UrlError(format!("{url:?}: {why}"));
        let rest = url
            .strip_prefix(SENTINEL_SCHEME)
            .ok_or_else(|| bad("expected redis+sentinel://host:port/<master-name>"))?;
        if rest.contains('@') {
            return Err(bad("credentials are not supported in a sentinel URL"));
        }
        if rest.contains(['?', '#']) {
            return Err(bad("query options are not supported in a sentinel URL"));
        }
        let (hosts, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("expected /<master-name> after the sentinel addresses"))?;
        let sentinels = hosts
            .split(',')
            .map(|h| parse_host_port(h).map_err(|why| bad(&why)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut parts = path.split('/');
        let master = parts.next().unwrap_or("");
        if master.is_empty() {
            return Err(bad("the master name is empty"));
        }
        if !master
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(bad(&format!(
                "master name {master:?}: only letters, digits, '.', '-' and '_'"
            )));
        }
        let db = match parts.next() {
            None | Some("") => 0,
            Some(d) => d
                .parse::<u32>()
                .map_err(|_| bad(&format!("database {d:?} is not a number")))?,
        };
        if parts.next().is_some() {
            return Err(bad("expected /<master-name>[/db] and nothing after it"));
        }
        Ok(SentinelUrl {
            sentinels,
            master: master.to_string(),
            db,
        })
    }
}

/// `host[:port]` or `[v6][:port]`, the port defaulting to [`SENTINEL_PORT`].
fn parse_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("sentinel {s:?}: unclosed '['"))?;
        match after {
            "" => (h, None),
            p => (
                h,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("sentinel {s:?}: expected ':' after ']'"))?,
                ),
            ),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(format!("sentinel {s:?}: empty host"));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    if !host.chars().all(ok) {
        return Err(format!("sentinel {s:?}: bad host {host:?}"));
    }
    let port = match port {
        None => SENTINEL_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("sentinel {s:?}: port {p:?} is not 1..=65535")),
        },
    };
    Ok((host.to_string(), port))
}

/// `redis://host:port/db`, brackets around an IPv6 host.
fn tcp_url(host: &str, port: u16, db: u32) -> String {
    if host.contains(':') {
        format!("redis://[{host}]:{port}/{db}")
    } else {
        format!("redis://{host}:{port}/{db}")
    }
}

/// Where a store's connections go.
enum Target {
    /// One server.
    Direct(redis::Client),
    /// The primary the sentinels name.
    Sentinel(SentinelUrl),
}

/// The [`Store`] on Redis. Cheap to share (`Arc`); connects lazily.
pub struct RedisStore {
    target: Target,
    prefix: String,
    timeouts: Timeouts,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    apply: Script,
    verdict: Script,
    window: Script,
    acquire: Script,
    renew: Script,
    release: Script,
    take: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

const APPLY_LUA: &str = r#"
if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[6], 'fenced', 1)
  return 'FENCED'
end
redis.call('XACK', KEYS[7], ARGV[8], ARGV[9])
redis.call('XDEL', KEYS[7], ARGV[9])
local seq = tonumber(ARGV[2])
local w = tonumber(redis.call('HGET', KEYS[2], 'w') or '0')
if seq <= w or redis.call('HEXISTS', KEYS[2], 's' .. ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[6], 'duplicates', 1)
  return 'DUPLICATE'
end
if seq == w + 1 then
  w = seq
  while redis.call('HDEL', KEYS[2], 's' .. (w + 1)) == 1 do w = w + 1 end
  redis.call('HSET', KEYS[2], 'w', w)
else
  redis.call('HSET', KEYS[2], 's' .. ARGV[2], 1)
end
redis.call('PEXPIRE', KEYS[2], 604800000)
local names = {'success', 'failure', 'slow', 'rejected', 'local'}
local mon = ARGV[3]
for i = 1, (#KEYS - 7) / 2 do
  local t = KEYS[6 + 2 * i]
  local km = KEYS[7 + 2 * i]
  local base = 10 + 6 * (i - 1)
  redis.call('SADD', KEYS[5], ARGV[base + 1])
  redis.call('HSETNX', t, 'first_seen_ms', ARGV[7])
  redis.call('HSET', t, 'last_seen_ms', ARGV[7])
  redis.call('HSET', km, mon .. ':last_seen_ms', ARGV[7], mon .. ':host', ARGV[4], mon .. ':pid', ARGV[5])
  for j = 1, 5 do
    local n = ARGV[base + 1 + j]
    if n ~= '0' then
      redis.call('HINCRBY', t, names[j], n)
      redis.call('HINCRBY', km, mon .. ':' .. names[j], n)
      redis.call('HINCRBY', KEYS[3], names[j], n)
    end
  end
end
redis.call('HSET', KEYS[3], 'host', ARGV[4], 'pid', ARGV[5], 'app', ARGV[6], 'last_seen_ms', ARGV[7], 'epoch', ARGV[10])
redis.call('HINCRBY', KEYS[3], 'batches', 1)
redis.call('SADD', KEYS[4], mon)
redis.call('HINCRBY', KEYS[6], 'applied', 1)
return 'APPLIED'
"#;

const VERDICT_LUA: &str = r#"
if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[5], 'fenced', 1)
  return -1
end
local v = redis.call('HINCRBY', KEYS[2], 'version', 1)
redis.call('HSET', KEYS[2], 'key', ARGV[2], 'state', ARGV[3], 'forced', ARGV[4], 'forced_by', ARGV[5],
  'forced_at_ms', ARGV[6], 'updated_ms', ARGV[7], 'reason', ARGV[8], 'level', ARGV[9],
  'open_until_ms', ARGV[10], 'epoch', ARGV[1])
if ARGV[11] ~= '' then
  redis.call('HSET', KEYS[2], 'changed_at_ms', ARGV[7])
  redis.call('LPUSH', KEYS[4], cjson.encode({at_ms = tonumber(ARGV[7]), from = ARGV[11], to = ARGV[3],
    version = v, epoch = tonumber(ARGV[1]), reason = ARGV[8]}))
  redis.call('LTRIM', KEYS[4], 0, 99)
end
redis.call('HSET', KEYS[3], ARGV[2], v .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
redis.call('PUBLISH', ARGV[12], ARGV[2] .. ' ' .. v)
return v
"#;

const WINDOW_LUA: &str = r#"
if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[2], 'calls', ARGV[2], 'failures', ARGV[3], 'slow', ARGV[4], 'at_ms', ARGV[5])
return 0
"#;

const ACQUIRE_LUA: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local e = redis.call('INCR', KEYS[2])
  -- Never below the wall clock in ms: epochs keep growing even if the
  -- store lost its data (a restart without persistence).
  if e < tonumber(ARGV[6]) then
    redis.call('SET', KEYS[2], ARGV[6])
    e = tonumber(ARGV[6])
  end
  redis.call('DEL', KEYS[3])
  redis.call('HSET', KEYS[3], 'id', ARGV[3], 'host', ARGV[4], 'pid', ARGV[5], 'epoch', e,
    'since_ms', ARGV[6], 'renewed_ms', ARGV[6])
  return e
end
return 0
"#;

const RENEW_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('HSET', KEYS[3], 'renewed_ms', ARGV[4])
  return 1
end
return 0
"#;

const TAKE_LUA: &str = r#"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local take = math.min(n, tonumber(ARGV[1]))
if take > 0 then redis.call('DECRBY', KEYS[1], take) end
return take
"#;

const RELEASE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

fn map_err(op: &'static str, e: redis::RedisError) -> StoreError {
    if e.is_timeout() {
        StoreError::Timeout(op)
    } else if e.is_connection_refusal() {
        StoreError::Connect(e.to_string())
    } else if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() {
        StoreError::Io(e.to_string())
    } else if let Some(code) = e.code() {
        StoreError::Server {
            code: code.to_string(),
            detail: e.detail().unwrap_or("").to_string(),
        }
    } else {
        StoreError::Protocol(format!("{op}: {e}"))
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Okay => Some("OK".into()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other)?.parse().ok(),
    }
}

fn proto(what: &str) -> StoreError {
    StoreError::Protocol(what.to_string())
}

/// A flat `[k, v, k, v]` array or a map as pairs of strings.
fn pairs(v: &Value) -> Result<Vec<(String, String)>, StoreError> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) => items
            .chunks(2)
            .map(|c| match c {
                [k, v] => Ok((
                    text(k).ok_or_else(|| proto("field name"))?,
                    text(v).ok_or_else(|| proto("field value"))?,
                )),
                _ => Err(proto("odd field list")),
            })
            .collect(),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| {
                Ok((
                    text(k).ok_or_else(|| proto("field name"))?,
                    text(v).ok_or_else(|| proto("field value"))?,
                ))
            })
            .collect(),
        _ => Err(proto("expected a field list")),
    }
}

/// Stream entries `[[id, [f, v, …]], …]`; nil entries (deleted) are skipped.
fn entries(v: &Value) -> Result<Vec<RawEntry>, StoreError> {
    let Value::Array(items) = v else {
        return match v {
            Value::Nil => Ok(Vec::new()),
            _ => Err(proto("expected stream entries")),
        };
    };
    let mut out = Vec::new();
    for e in items {
        let Value::Array(parts) = e else { continue };
        let [id, fields] = parts.as_slice() else {
            continue;
        };
        let Some(id) = text(id) else { continue };
        if matches!(fields, Value::Nil) {
            continue;
        }
        out.push(RawEntry {
            id,
            fields: pairs(fields)?,
        });
    }
    Ok(out)
}

fn counts_of(fields: &[(String, String)], prefix: &str) -> Counts {
    let get = |name: &str| {
        let f = format!("{prefix}{name}");
        fields
            .iter()
            .find(|(k, _)| *k == f)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    };
    Counts {
        success: get("success"),
        failure: get("failure"),
        slow: get("slow"),
        rejected: get("rejected"),
        local: get("local"),
    }
}

impl RedisStore {
    /// A store for `url` (`redis://host:port/db`, or
    /// `redis+sentinel://host:port[,host:port...]/<master-name>[/db]`, see
    /// [the URLs](self#urls)) with key prefix `prefix` (default `"tb"` in the
    /// binary). Does not connect: an unparsable URL is an error here, an
    /// unreachable server or sentinel only later, per operation.
    ///
    /// ```
    /// use tripbit_fleet::RedisStore;
    /// assert!(RedisStore::open("redis://127.0.0.1:6399/0", "tb").is_ok());
    /// assert!(RedisStore::open("redis+sentinel://127.0.0.1:26379/tb", "tb").is_ok());
    /// assert!(RedisStore::open("http//nope", "tb").is_err());
    /// assert!(RedisStore::open("redis+sentinel://127.0.0.1:26379", "tb").is_err());
    /// ```
    pub fn open(url: &str, prefix: &str) -> Result<RedisStore, UrlError> {
        Self::with_timeouts(url, prefix, Timeouts::default())
    }

    /// [`open`](Self::open) with explicit timeouts.
    pub fn with_timeouts(
        url: &str,
        prefix: &str,
        timeouts: Timeouts,
    ) -> Result<RedisStore, UrlError> {
        let target = if url.starts_with(SENTINEL_SCHEME) {
            Target::Sentinel(SentinelUrl::parse(url)?)
        } else {
            if !(url.starts_with("redis://")
                || url.starts_with("redis+unix://")
                || url.starts_with("unix://"))
            {
                return Err(UrlError(format!(
                    "{url:?}: expected redis://host:port/db or redis+sentinel://host:port/<master-name>"
                )));
            }
            Target::Direct(redis::Client::open(url).map_err(|e| UrlError(format!("{url:?}: {e}")))?)
        };
        if prefix.is_empty() || prefix.contains(char::is_whitespace) {
            return Err(UrlError(format!("prefix {prefix:?}")));
        }
        Ok(RedisStore {
            target,
            prefix: prefix.to_string(),
            timeouts,
            conn: tokio::sync::Mutex::new(None),
            apply: Script::new(APPLY_LUA),
            verdict: Script::new(VERDICT_LUA),
            window: Script::new(WINDOW_LUA),
            acquire: Script::new(ACQUIRE_LUA),
            renew: Script::new(RENEW_LUA),
            release: Script::new(RELEASE_LUA),
            take: Script::new(TAKE_LUA),
        })
    }

    /// The full name of a Redis key: `prefix:name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// Asks one sentinel for the primary's address, under the timeouts.
    async fn ask_sentinel(
        &self,
        host: &str,
        port: u16,
        master: &str,
    ) -> Result<(String, u16), StoreError> {
        let t = self.timeouts;
        let client = redis::Client::open(tcp_url(host, port, 0))
            .map_err(|e| StoreError::Connect(e.to_string()))?;
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(t.connect))
            .set_response_timeout(Some(t.command));
        let mut c = match tokio::time::timeout(
            t.connect + Duration::from_millis(100),
            client.get_multiplexed_async_connection_with_config(&cfg),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(StoreError::Connect(e.to_string())),
            Err(_) => return Err(StoreError::Timeout("sentinel connect")),
        };
        let mut q = redis::cmd("SENTINEL");
        q.arg("get-master-addr-by-name").arg(master);
        let v = match tokio::time::timeout(t.command, q.query_async::<Value>(&mut c)).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(map_err("SENTINEL get-master-addr-by-name", e)),
            Err(_) => return Err(StoreError::Timeout("SENTINEL get-master-addr-by-name")),
        };
        match &v {
            Value::Array(a) => match a.as_slice() {
                [h, p] => {
                    let h = text(h).ok_or_else(|| proto("sentinel: primary host"))?;
                    let p = int(p)
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or_else(|| proto("sentinel: primary port"))?;
                    Ok((h, p))
                }
                _ => Err(proto("sentinel: expected [host, port]")),
            },
            Value::Nil => Err(StoreError::Protocol(format!(
                "the sentinel does not monitor a master named {master:?}"
            ))),
            _ => Err(proto("sentinel: expected [host, port]")),
        }
    }

    /// The client to connect with: the one server, or the primary the first
    /// answering sentinel names.
    async fn client(&self) -> Result<redis::Client, StoreError> {
        let s = match &self.target {
            Target::Direct(c) => return Ok(c.clone()),
            Target::Sentinel(s) => s,
        };
        let mut why = Vec::new();
        for (host, port) in &s.sentinels {
            match self.ask_sentinel(host, *port, &s.master).await {
                Ok((h, p)) => {
                    return redis::Client::open(tcp_url(&h, p, s.db))
                        .map_err(|e| StoreError::Connect(format!("primary {h}:{p}: {e}")));
                }
                Err(e) => why.push(format!("sentinel {}: {e}", tcp_url(host, *port, 0))),
            }
        }
        Err(StoreError::Connect(format!(
            "no sentinel named the primary of {:?}: {}",
            s.master,
            why.join("; ")
        )))
    }

    /// Through a sentinel: checks with `ROLE` that a new connection reached
    /// a primary (a sentinel may still name a demoted one).
    async fn check_primary(&self, c: &mut ConnectionManager) -> Result<(), StoreError> {
        if let Target::Direct(_) = self.target {
            return Ok(());
        }
        let v = match tokio::time::timeout(
            self.timeouts.command,
            redis::cmd("ROLE").query_async::<Value>(c),
        )
        .await
        {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(map_err("ROLE", e)),
            Err(_) => return Err(StoreError::Timeout("ROLE")),
        };
        let role = match &v {
            Value::Array(a) => a.first().and_then(text),
            _ => None,
        };
        match role.as_deref() {
            Some("master") => Ok(()),
            other => Err(StoreError::Connect(format!(
                "the node the sentinel named is not a primary (ROLE {})",
                other.unwrap_or("?")
            ))),
        }
    }

    async fn conn(&self) -> Result<ConnectionManager, StoreError> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let client = self.client().await?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeouts.connect))
            .set_response_timeout(Some(self.timeouts.command))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let c = match tokio::time::timeout(
            self.timeouts.connect + Duration::from_millis(100),
            ConnectionManager::new_with_config(client, cfg),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(StoreError::Connect(e.to_string())),
            Err(_) => return Err(StoreError::Timeout("connect")),
        };
        let mut c = c;
        self.check_primary(&mut c).await?;
        *guard = Some(c.clone());
        Ok(c)
    }

    async fn drop_conn(&self) {
        *self.conn.lock().await = None;
    }

    /// Runs one command (or script invocation) under the command timeout.
    async fn exec<F, Fut>(&self, op: &'static str, f: F) -> Result<Value, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<Value>>,
    {
        let c = self.conn().await?;
        let r = match tokio::time::timeout(self.timeouts.command, f(c)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(map_err(op, e)),
            Err(_) => Err(StoreError::Timeout(op)),
        };
        if let Err(StoreError::Timeout(_) | StoreError::Io(_) | StoreError::Connect(_)) = &r {
            self.drop_conn().await;
        } else if let (Target::Sentinel(_), Err(StoreError::Server { code, detail })) =
            (&self.target, &r)
        {
            // A demoted primary (the connection manager reconnected to its
            // old address): ask the sentinels again on the next operation.
            if code == "READONLY" || detail.contains("READONLY") {
                self.drop_conn().await;
            }
        }
        r
    }

    async fn cmd(&self, op: &'static str, cmd: redis::Cmd) -> Result<Value, StoreError> {
        self.exec(
            op,
            |mut c| async move { cmd.query_async::<Value>(&mut c).await },
        )
        .await
    }

    async fn hgetall(
        &self,
        op: &'static str,
        key: String,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut c = redis::cmd("HGETALL");
        c.arg(key);
        pairs(&self.cmd(op, c).await?)
    }

    /// `HGET key field` on a full Redis key name (tools, the panel).
    pub async fn hget(&self, key: &str, field: &str) -> Result<Option<String>, StoreError> {
        let mut c = redis::cmd("HGET");
        c.arg(key).arg(field);
        Ok(text(&self.cmd("HGET", c).await?))
    }

    /// Runs an arbitrary command (tests and tools: inspect the data model).
    pub async fn raw(&self, args: &[&str]) -> Result<Value, StoreError> {
        let Some((name, rest)) = args.split_first() else {
            return Err(proto("empty command"));
        };
        let mut c = redis::cmd(name);
        for a in rest {
            c.arg(*a);
        }
        self.cmd("raw", c).await
    }
}

impl Store for RedisStore {
    fn send_batch<'a>(&'a self, batch: &'a Batch) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = redis::cmd("XADD");
            c.arg(self.key("batches")).arg("*");
            for (k, v) in batch.to_fields() {
                c.arg(k).arg(v);
            }
            self.cmd("XADD batch", c).await.map(|_| ())
        })
    }

    fn verdict_index(&self) -> StoreFuture<'_, HashMap<String, VerdictLine>> {
        Box::pin(async move {
            let fields = self
                .hgetall("HGETALL verdicts", self.key("verdicts"))
                .await?;
            Ok(fields
                .into_iter()
                .filter_map(|(k, v)| Some((k, VerdictLine::decode(&v)?)))
                .collect())
        })
    }

    fn ensure_group(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut c = redis::cmd("XGROUP");
            c.arg("CREATE")
                .arg(self.key("batches"))
                .arg(GROUP)
                .arg("0")
                .arg("MKSTREAM");
            match self.cmd("XGROUP CREATE", c).await {
                Ok(_) => Ok(()),
                Err(StoreError::Server { code, .. }) if code == "BUSYGROUP" => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn acquire_lease<'a>(
        &'a self,
        me: &'a ProcessorInfo,
        token: u64,
        ttl_ms: u64,
    ) -> StoreFuture<'a, Option<u64>> {
        Box::pin(async move {
            let mut inv = self.acquire.prepare_invoke();
            inv.key(self.key("leader"))
                .key(self.key("fence"))
                .key(self.key("leader:info"))
                .arg(token.to_string())
                .arg(ttl_ms)
                .arg(&me.id)
                .arg(&me.host)
                .arg(me.pid)
                .arg(me.at_ms);
            let v = self
                .exec("lease acquire", |mut c| async move {
                    inv.invoke_async(&mut c).await
                })
                .await?;
            let e = int(&v).ok_or_else(|| proto("lease epoch"))?;
            Ok(u64::try_from(e).ok().filter(|&e| e > 0))
        })
    }

    fn renew_lease(&self, token: u64, epoch: u64, ttl_ms: u64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let mut inv = self.renew.prepare_invoke();
            inv.key(self.key("leader"))
                .key(self.key("fence"))
                .key(self.key("leader:info"))
                .arg(token.to_string())
                .arg(epoch.to_string())
                .arg(ttl_ms)
                .arg(crate::model::wall_ms());
            let v = self
                .exec("lease renew", |mut c| async move {
                    inv.invoke_async(&mut c).await
                })
                .await?;
            Ok(int(&v) == Some(1))
        })
    }

    fn release_lease(&self, token: u64) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut inv = self.release.prepare_invoke();
            inv.key(self.key("leader")).arg(token.to_string());
            self.exec("lease release", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await
            .map(|_| ())
        })
    }

    fn read_new<'a>(&'a self, consumer: &'a str, count: usize) -> StoreFuture<'a, Vec<RawEntry>> {
        Box::pin(async move {
            let mut c = redis::cmd("XREADGROUP");
            c.arg("GROUP")
                .arg(GROUP)
                .arg(consumer)
                .arg("COUNT")
                .arg(count)
                .arg("STREAMS")
                .arg(self.key("batches"))
                .arg(">");
            let v = self.cmd("XREADGROUP", c).await?;
            match v {
                Value::Nil => Ok(Vec::new()),
                Value::Array(streams) => {
                    let mut out = Vec::new();
                    for s in &streams {
                        if let Value::Array(p) = s {
                            if let [_, e] = p.as_slice() {
                                out.extend(entries(e)?);
                            }
                        }
                    }
                    Ok(out)
                }
                Value::Map(m) => {
                    let mut out = Vec::new();
                    for (_, e) in &m {
                        out.extend(entries(e)?);
                    }
                    Ok(out)
                }
                _ => Err(proto("XREADGROUP reply")),
            }
        })
    }

    fn claim_pending<'a>(
        &'a self,
        consumer: &'a str,
        min_idle_ms: u64,
        cursor: &'a str,
        count: usize,
    ) -> StoreFuture<'a, (String, Vec<RawEntry>)> {
        Box::pin(async move {
            let mut c = redis::cmd("XAUTOCLAIM");
            c.arg(self.key("batches"))
                .arg(GROUP)
                .arg(consumer)
                .arg(min_idle_ms)
                .arg(cursor)
                .arg("COUNT")
                .arg(count);
            let v = self.cmd("XAUTOCLAIM", c).await?;
            let Value::Array(parts) = v else {
                return Err(proto("XAUTOCLAIM reply"));
            };
            let next = parts
                .first()
                .and_then(text)
                .ok_or_else(|| proto("XAUTOCLAIM cursor"))?;
            let got = match parts.get(1) {
                Some(e) => entries(e)?,
                None => Vec::new(),
            };
            Ok((next, got))
        })
    }

    fn apply_batch<'a>(
        &'a self,
        epoch: u64,
        entry_id: &'a str,
        batch: &'a Batch,
        now_ms: u64,
    ) -> StoreFuture<'a, ApplyOutcome> {
        Box::pin(async move {
            let mut inv = self.apply.prepare_invoke();
            inv.key(self.key("fence"))
                .key(self.key(&format!("dedupe:{}:{}", batch.id.monitor, batch.id.epoch)))
                .key(self.key(&format!("monitor:{}", batch.id.monitor)))
                .key(self.key("monitors"))
                .key(self.key("keys"))
                .key(self.key("stats"))
                .key(self.key("batches"));
            for k in batch.counts.keys() {
                inv.key(self.key(&format!("totals:{k}")))
                    .key(self.key(&format!("keymon:{k}")));
            }
            inv.arg(epoch.to_string())
                .arg(batch.id.seq.to_string())
                .arg(&batch.id.monitor)
                .arg(&batch.host)
                .arg(batch.pid)
                .arg(&batch.app)
                .arg(now_ms)
                .arg(GROUP)
                .arg(entry_id)
                .arg(batch.id.epoch.to_string());
            for (k, c) in &batch.counts {
                inv.arg(k)
                    .arg(c.success)
                    .arg(c.failure)
                    .arg(c.slow)
                    .arg(c.rejected)
                    .arg(c.local);
            }
            let v = self
                .exec("apply batch", |mut c| async move {
                    inv.invoke_async(&mut c).await
                })
                .await?;
            match text(&v).as_deref() {
                Some("APPLIED") => Ok(ApplyOutcome::Applied),
                Some("DUPLICATE") => Ok(ApplyOutcome::Duplicate),
                Some("FENCED") => Ok(ApplyOutcome::Fenced),
                _ => Err(proto("apply reply")),
            }
        })
    }

    fn discard_entry<'a>(&'a self, entry_id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut p = redis::pipe();
            p.atomic()
                .cmd("XACK")
                .arg(self.key("batches"))
                .arg(GROUP)
                .arg(entry_id)
                .cmd("XDEL")
                .arg(self.key("batches"))
                .arg(entry_id)
                .cmd("HINCRBY")
                .arg(self.key("stats"))
                .arg("malformed")
                .arg(1);
            self.exec("discard entry", |mut c| async move {
                p.query_async::<Value>(&mut c).await
            })
            .await
            .map(|_| ())
        })
    }

    fn write_verdict<'a>(
        &'a self,
        epoch: u64,
        v: &'a VerdictWrite,
    ) -> StoreFuture<'a, WriteOutcome> {
        Box::pin(async move {
            let mut inv = self.verdict.prepare_invoke();
            inv.key(self.key("fence"))
                .key(self.key(&format!("verdict:{}", v.key)))
                .key(self.key("verdicts"))
                .key(self.key(&format!("transitions:{}", v.key)))
                .key(self.key("stats"))
                .arg(epoch.to_string())
                .arg(&v.key)
                .arg(v.state.as_str())
                .arg(v.force.as_ref().map_or("-", |f| f.state.as_str()))
                .arg(v.force.as_ref().map_or("", |f| f.by.as_str()))
                .arg(v.force.as_ref().map_or(0, |f| f.at_ms))
                .arg(v.at_ms)
                .arg(&v.reason)
                .arg(v.level)
                .arg(v.open_until_ms)
                .arg(v.from.map_or("", Health::as_str))
                .arg(self.key("verdict-changes"));
            let r = self
                .exec("write verdict", |mut c| async move {
                    inv.invoke_async(&mut c).await
                })
                .await?;
            match int(&r) {
                Some(-1) => Ok(WriteOutcome::Fenced),
                Some(n) if n > 0 => Ok(WriteOutcome::Written(n as u64)),
                _ => Err(proto("verdict reply")),
            }
        })
    }

    fn write_window<'a>(
        &'a self,
        epoch: u64,
        key: &'a str,
        w: WindowStats,
    ) -> StoreFuture<'a, WriteOutcome> {
        Box::pin(async move {
            let mut inv = self.window.prepare_invoke();
            inv.key(self.key("fence"))
                .key(self.key(&format!("window:{key}")))
                .arg(epoch.to_string())
                .arg(w.calls)
                .arg(w.failures)
                .arg(w.slow)
                .arg(w.at_ms);
            let r = self
                .exec("write window", |mut c| async move {
                    inv.invoke_async(&mut c).await
                })
                .await?;
            Ok(if int(&r) == Some(-1) {
                WriteOutcome::Fenced
            } else {
                WriteOutcome::Written(0)
            })
        })
    }

    fn forces(&self) -> StoreFuture<'_, HashMap<String, Force>> {
        Box::pin(async move {
            let fields = self.hgetall("HGETALL forces", self.key("forces")).await?;
            Ok(fields
                .into_iter()
                .filter_map(|(k, v)| Some((k, Force::decode(&v)?)))
                .collect())
        })
    }

    fn set_force<'a>(&'a self, key: &'a str, force: Option<Force>) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = match &force {
                Some(f) => {
                    let mut c = redis::cmd("HSET");
                    c.arg(self.key("forces")).arg(key).arg(f.encode());
                    c
                }
                None => {
                    let mut c = redis::cmd("HDEL");
                    c.arg(self.key("forces")).arg(key);
                    c
                }
            };
            let _ = &mut c;
            self.cmd("set force", c).await.map(|_| ())
        })
    }

    fn load_verdicts(&self) -> StoreFuture<'_, Vec<StoredVerdict>> {
        Box::pin(async move {
            let index = self.verdict_index().await?;
            let mut out = Vec::new();
            for (key, line) in index {
                let f = self
                    .hgetall("HGETALL verdict", self.key(&format!("verdict:{key}")))
                    .await?;
                let get = |n: &str| {
                    f.iter()
                        .find(|(k, _)| k == n)
                        .and_then(|(_, v)| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                out.push(StoredVerdict {
                    key,
                    state: line.state,
                    forced: line.forced,
                    version: line.version,
                    level: u8::try_from(get("level")).unwrap_or(0),
                    open_until_ms: get("open_until_ms"),
                });
            }
            Ok(out)
        })
    }

    fn heartbeat<'a>(&'a self, me: &'a ProcessorInfo) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = redis::cmd("HSET");
            c.arg(self.key("processors")).arg(&me.id).arg(format!(
                "{} {} {} {} {}",
                me.role, me.host, me.pid, me.epoch, me.at_ms
            ));
            self.cmd("heartbeat", c).await.map(|_| ())
        })
    }

    fn leader(&self) -> StoreFuture<'_, Option<ProcessorInfo>> {
        Box::pin(async move {
            let f = self
                .hgetall("HGETALL leader:info", self.key("leader:info"))
                .await?;
            if f.is_empty() {
                return Ok(None);
            }
            let get = |n: &str| {
                f.iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            Ok(Some(ProcessorInfo {
                id: get("id"),
                role: "leader".into(),
                host: get("host"),
                pid: get("pid").parse().unwrap_or(0),
                epoch: get("epoch").parse().unwrap_or(0),
                at_ms: get("renewed_ms").parse().unwrap_or(0),
            }))
        })
    }

    fn event<'a>(&'a self, e: &'a Event) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut p = redis::pipe();
            p.cmd("XADD")
                .arg(self.key("events"))
                .arg("MAXLEN")
                .arg("~")
                .arg(10_000)
                .arg("*")
                .arg("kind")
                .arg(&e.kind)
                .arg("key")
                .arg(&e.key)
                .arg("detail")
                .arg(&e.detail)
                .arg("at_ms")
                .arg(e.at_ms)
                .cmd("HSET")
                .arg(self.key("watchdog"))
                .arg(if e.key.is_empty() {
                    "processor"
                } else {
                    &e.key
                })
                .arg(format!("{} {} {}", e.kind, e.at_ms, e.detail));
            self.exec("event", |mut c| async move {
                p.query_async::<Value>(&mut c).await
            })
            .await
            .map(|_| ())
        })
    }

    fn key_totals<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Counts> {
        Box::pin(async move {
            let f = self
                .hgetall("HGETALL totals", self.key(&format!("totals:{key}")))
                .await?;
            Ok(counts_of(&f, ""))
        })
    }

    fn monitor_totals<'a>(&'a self, monitor: &'a str) -> StoreFuture<'a, Counts> {
        Box::pin(async move {
            let f = self
                .hgetall("HGETALL monitor", self.key(&format!("monitor:{monitor}")))
                .await?;
            Ok(counts_of(&f, ""))
        })
    }

    fn stats(&self) -> StoreFuture<'_, Stats> {
        Box::pin(async move {
            let f = self.hgetall("HGETALL stats", self.key("stats")).await?;
            Ok(f.into_iter()
                .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
                .collect())
        })
    }

    fn set_probe_tokens<'a>(
        &'a self,
        key: &'a str,
        tokens: u32,
        ttl_ms: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = redis::cmd("SET");
            c.arg(self.key(&format!("probes:{key}")))
                .arg(tokens)
                .arg("PX")
                .arg(ttl_ms.max(1));
            self.cmd("set probe tokens", c).await.map(|_| ())
        })
    }

    fn take_probe_tokens<'a>(&'a self, key: &'a str, want: u32) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            let mut inv = self.take.prepare_invoke();
            inv.key(self.key(&format!("probes:{key}"))).arg(want);
            let v = self
                .exec("take probe tokens", |mut c| async move {
                    inv.invoke_async(&mut c).await
                })
                .await?;
            Ok(int(&v).and_then(|n| u32::try_from(n).ok()).unwrap_or(0))
        })
    }

    fn subscribe_changes(&self) -> StoreFuture<'_, Option<ChangeFeed>> {
        Box::pin(async move {
            let t = self.timeouts;
            let client = self.client().await?;
            let mut ps = match tokio::time::timeout(t.connect, client.get_async_pubsub()).await {
                Ok(Ok(ps)) => ps,
                Ok(Err(e)) => return Err(map_err("subscribe", e)),
                Err(_) => return Err(StoreError::Timeout("subscribe")),
            };
            match tokio::time::timeout(t.command, ps.subscribe(self.key("verdict-changes"))).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(map_err("subscribe", e)),
                Err(_) => return Err(StoreError::Timeout("subscribe")),
            }
            let feed: ChangeFeed = Box::pin(Notices(ps.into_on_message()));
            Ok(Some(feed))
        })
    }

    fn backlog(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let mut c = redis::cmd("XLEN");
            c.arg(self.key("batches"));
            let v = self.cmd("XLEN", c).await?;
            Ok(int(&v).unwrap_or(0).max(0) as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_parse() {
        let u = SentinelUrl::parse("redis+sentinel://127.0.0.1:26380/tb").unwrap();
        assert_eq!(u.sentinels, [("127.0.0.1".to_string(), 26380)]);
        assert_eq!((u.master.as_str(), u.db), ("tb", 0));
        let u = SentinelUrl::parse("redis+sentinel://a.example,[::1]:7,[fe80::2]/my-primary_1/15")
            .unwrap();
        assert_eq!(
            u.sentinels,
            [
                ("a.example".to_string(), SENTINEL_PORT),
                ("::1".to_string(), 7),
                ("fe80::2".to_string(), SENTINEL_PORT)
            ]
        );
        assert_eq!((u.master.as_str(), u.db), ("my-primary_1", 15));
        assert_eq!(SentinelUrl::parse("redis+sentinel://h/tb/").unwrap().db, 0);
        assert_eq!(tcp_url("::1", 7, 3), "redis://[::1]:7/3");
        assert_eq!(tcp_url("h", 7, 0), "redis://h:7/0");
    }

    #[test]
    fn bad_sentinel_urls_are_refused_with_the_reason() {
        for (url, why) in [
            (
                "redis+sentinel://127.0.0.1:26379",
                "expected /<master-name>",
            ),
            ("redis+sentinel://127.0.0.1:26379/", "master name is empty"),
            ("redis+sentinel:///tb", "empty host"),
            ("redis+sentinel://a,,b/tb", "empty host"),
            ("redis+sentinel://h:0/tb", "not 1..=65535"),
            ("redis+sentinel://h:70000/tb", "not 1..=65535"),
            ("redis+sentinel://h:x/tb", "not 1..=65535"),
            ("redis+sentinel://[::1/tb", "unclosed"),
            ("redis+sentinel://[::1]7/tb", "expected ':'"),
            ("redis+sentinel://h st/tb", "bad host"),
            ("redis+sentinel://h/t b", "master name"),
            ("redis+sentinel://h/tb/x", "database \"x\""),
            ("redis+sentinel://h/tb/-1", "database"),
            ("redis+sentinel://h/tb/0/more", "nothing after"),
            ("redis+sentinel://u:pw@h/tb", "credentials"),
            ("redis+sentinel://h/tb?timeout=1", "query options"),
        ] {
            let e = SentinelUrl::parse(url).unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
            assert!(RedisStore::open(url, "tb").is_err(), "{url}");
        }
    }

    #[test]
    fn unreachable_sentinels_are_a_connect_error_naming_each() {
        // Two ports nothing listens on: each sentinel is asked, both named.
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap()
        };
        let (a, b) = (free(), free());
        let s = RedisStore::open(
            &format!("redis+sentinel://127.0.0.1:{a},127.0.0.1:{b}/tb"),
            "tb",
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt.block_on(s.backlog()).unwrap_err();
        let StoreError::Connect(msg) = &e else {
            panic!("{e:?}")
        };
        assert!(
            msg.contains(&a.to_string()) && msg.contains(&b.to_string()),
            "{msg}"
        );
    }
}
