//! Read-only views of the fleet's Redis data model for the panel: every
//! command here is a read (`HGETALL`, `HGET`, `SMEMBERS`, `HKEYS`, `LRANGE`,
//! `PTTL`, `GET`, `XLEN`); nothing changes any breaker state.

use std::collections::BTreeMap;

use redis::Value;
use serde_json::{Value as Json, json};

use crate::model::{Force, Health};
use crate::{RedisStore, StoreError};

/// Transitions returned per key.
pub const TRANSITIONS_SHOWN: usize = 20;

/// A processor heartbeat older than this is shown as stale.
pub const PROCESSOR_STALE_MS: u64 = 10_000;

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

fn protocol(what: &str) -> StoreError {
    StoreError::Protocol(format!("panel read: {what}"))
}

fn list(v: Value) -> Result<Vec<String>, StoreError> {
    match v {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) | Value::Set(items) => Ok(items.iter().filter_map(text).collect()),
        _ => Err(protocol("expected a list")),
    }
}

fn pairs(v: Value) -> Result<BTreeMap<String, String>, StoreError> {
    match v {
        Value::Nil => Ok(BTreeMap::new()),
        Value::Array(items) => Ok(items
            .chunks(2)
            .filter_map(|c| match c {
                [k, v] => Some((text(k)?, text(v)?)),
                _ => None,
            })
            .collect()),
        Value::Map(m) => Ok(m
            .iter()
            .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
            .collect()),
        _ => Err(protocol("expected a hash")),
    }
}

fn num(h: &BTreeMap<String, String>, f: &str) -> u64 {
    h.get(f).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Reads the data model through a [`RedisStore`].
pub struct Reader<'a> {
    store: &'a RedisStore,
}

impl<'a> Reader<'a> {
    /// A reader on `store`.
    pub fn new(store: &'a RedisStore) -> Self {
        Reader { store }
    }

    async fn hgetall(&self, name: &str) -> Result<BTreeMap<String, String>, StoreError> {
        pairs(self.store.raw(&["HGETALL", &self.store.key(name)]).await?)
    }

    async fn hget(&self, name: &str, field: &str) -> Result<Option<String>, StoreError> {
        self.store.hget(&self.store.key(name), field).await
    }

    /// Every key the fleet knows (seen in a batch, or with a verdict), sorted.
    pub async fn keys(&self) -> Result<Vec<String>, StoreError> {
        let mut keys = list(
            self.store
                .raw(&["SMEMBERS", &self.store.key("keys")])
                .await?,
        )?;
        keys.extend(list(
            self.store
                .raw(&["HKEYS", &self.store.key("verdicts")])
                .await?,
        )?);
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Whether the fleet knows `key`.
    pub async fn known(&self, key: &str) -> Result<bool, StoreError> {
        let member = self
            .store
            .raw(&["SISMEMBER", &self.store.key("keys"), key])
            .await?;
        if matches!(member, Value::Int(1)) {
            return Ok(true);
        }
        let v = self
            .store
            .raw(&["HEXISTS", &self.store.key("verdicts"), key])
            .await?;
        Ok(matches!(v, Value::Int(1)))
    }

    /// The full view of one key (the `GET /api/breakers/{key}` document).
    pub async fn breaker(&self, key: &str, now_ms: u64) -> Result<Json, StoreError> {
        let verdict = self.hgetall(&format!("verdict:{key}")).await?;
        let window = self.hgetall(&format!("window:{key}")).await?;
        let totals = self.hgetall(&format!("totals:{key}")).await?;
        let keymon = self.hgetall(&format!("keymon:{key}")).await?;
        let transitions = list(
            self.store
                .raw(&[
                    "LRANGE",
                    &self.store.key(&format!("transitions:{key}")),
                    "0",
                    &(TRANSITIONS_SHOWN - 1).to_string(),
                ])
                .await?,
        )?;
        let force = self
            .hget("forces", key)
            .await?
            .as_deref()
            .and_then(Force::decode);
        let watchdog = self.hget("watchdog", key).await?;

        let state = verdict
            .get("state")
            .and_then(|s| Health::parse(s))
            .unwrap_or(Health::Healthy);
        let applied = verdict
            .get("forced")
            .filter(|f| f.as_str() != "-" && !f.is_empty())
            .cloned();
        let calls = num(&window, "calls");
        let failures = num(&window, "failures");
        let slow = num(&window, "slow");
        let ratio = if calls == 0 {
            0.0
        } else {
            failures as f64 / calls as f64
        };
        let first_seen = num(&totals, "first_seen_ms");
        let last_seen = num(&totals, "last_seen_ms");
        let changed = match num(&verdict, "changed_at_ms") {
            0 => first_seen,
            c => c,
        };

        let mut monitors: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (f, v) in keymon {
            if let Some((mon, field)) = f.split_once(':') {
                monitors
                    .entry(mon.to_string())
                    .or_default()
                    .insert(field.to_string(), v);
            }
        }
        let monitors: Vec<Json> = monitors
            .into_iter()
            .map(|(id, h)| {
                let seen = num(&h, "last_seen_ms");
                json!({
                    "id": id,
                    "host": h.get("host").cloned().unwrap_or_default(),
                    "pid": num(&h, "pid"),
                    "last_seen": seen,
                    "last_seen_age_ms": now_ms.saturating_sub(seen),
                    "totals": {
                        "success": num(&h, "success"),
                        "failure": num(&h, "failure"),
                        "slow": num(&h, "slow"),
                        "rejected": num(&h, "rejected"),
                        "local": num(&h, "local"),
                    },
                    "reports_failures": num(&h, "failure") + num(&h, "local") > 0,
                })
            })
            .collect();
        let transitions: Vec<Json> = transitions
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .collect();
        let watchdog = watchdog.map(|w| {
            let mut it = w.splitn(3, ' ');
            json!({
                "kind": it.next().unwrap_or(""),
                "at_ms": it.next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
                "detail": it.next().unwrap_or(""),
            })
        });
        Ok(json!({
            "key": key,
            "state": state.as_str(),
            "forced": force.as_ref().map(|f| f.state.as_str()),
            "forced_by": force.as_ref().map(|f| f.by.clone()),
            "forced_at": force.as_ref().map(|f| f.at_ms),
            "forced_applied": applied,
            "effective": force.as_ref().map_or(state.as_str(), |f| f.state.as_str()),
            "version": num(&verdict, "version"),
            "epoch": num(&verdict, "epoch"),
            "reason": verdict.get("reason").cloned().unwrap_or_default(),
            "updated_ms": num(&verdict, "updated_ms"),
            "changed_at_ms": changed,
            "time_in_state_ms": now_ms.saturating_sub(changed),
            "backoff_level": num(&verdict, "level"),
            "open_until_ms": num(&verdict, "open_until_ms"),
            "window": {
                "calls": calls,
                "failures": failures,
                "slow": slow,
                "failure_ratio": ratio,
                "at_ms": num(&window, "at_ms"),
            },
            "failure_ratio": ratio,
            "totals": {
                "success": num(&totals, "success"),
                "failure": num(&totals, "failure"),
                "slow": num(&totals, "slow"),
                "rejected": num(&totals, "rejected"),
                "local": num(&totals, "local"),
            },
            "first_seen_ms": first_seen,
            "last_batch_ms": last_seen,
            "last_batch_age_ms": if last_seen == 0 { Json::Null } else { json!(now_ms.saturating_sub(last_seen)) },
            "transitions_total": self.transitions_total(key).await?,
            "monitors": monitors,
            "transitions": transitions,
            "watchdog": watchdog,
        }))
    }

    /// Transitions of `key` ever (the alert hook's counter when present,
    /// else the length of the kept log, at most 100).
    async fn transitions_total(&self, key: &str) -> Result<u64, StoreError> {
        if let Some(n) = self.hget("transition-counts", key).await? {
            return Ok(n.parse().unwrap_or(0));
        }
        let v = self
            .store
            .raw(&["LLEN", &self.store.key(&format!("transitions:{key}"))])
            .await?;
        Ok(text(&v).and_then(|s| s.parse().ok()).unwrap_or(0))
    }

    /// The processors: leader, lease, standbys, watchdog and store counters.
    pub async fn processor(&self, now_ms: u64) -> Result<Json, StoreError> {
        let info = self.hgetall("leader:info").await?;
        let pttl = self.store.raw(&["PTTL", &self.store.key("leader")]).await?;
        let pttl = text(&pttl)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(-2);
        let procs = self.hgetall("processors").await?;
        let fence = self.store.raw(&["GET", &self.store.key("fence")]).await?;
        let fence: u64 = text(&fence).and_then(|s| s.parse().ok()).unwrap_or(0);
        let stats = self.hgetall("stats").await?;
        let backlog = self
            .store
            .raw(&["XLEN", &self.store.key("batches")])
            .await?;
        let backlog: u64 = text(&backlog).and_then(|s| s.parse().ok()).unwrap_or(0);
        let watchdog = self.hgetall("watchdog").await?;

        let leader_id = info.get("id").cloned();
        let renewed = num(&info, "renewed_ms");
        let processors: Vec<Json> = procs
            .iter()
            .map(|(id, line)| {
                let p: Vec<&str> = line.splitn(5, ' ').collect();
                let at: u64 = p.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
                let role = if leader_id.as_deref() == Some(id.as_str()) && pttl > 0 {
                    "leader"
                } else {
                    "standby"
                };
                json!({
                    "id": id,
                    "role": role,
                    "reported_role": p.first().copied().unwrap_or(""),
                    "host": p.get(1).copied().unwrap_or(""),
                    "pid": p.get(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
                    "epoch": p.get(3).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
                    "last_seen": at,
                    "age_ms": now_ms.saturating_sub(at),
                    "alive": now_ms.saturating_sub(at) <= PROCESSOR_STALE_MS,
                })
            })
            .collect();
        let watchdog: Vec<Json> = watchdog
            .iter()
            .map(|(k, w)| {
                let mut it = w.splitn(3, ' ');
                json!({
                    "subject": k,
                    "kind": it.next().unwrap_or(""),
                    "at_ms": it.next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
                    "detail": it.next().unwrap_or(""),
                })
            })
            .collect();
        Ok(json!({
            "leader": leader_id.as_ref().filter(|_| pttl > 0).map(|id| json!({
                "id": id,
                "host": info.get("host").cloned().unwrap_or_default(),
                "pid": num(&info, "pid"),
                "epoch": num(&info, "epoch"),
                "since_ms": num(&info, "since_ms"),
                "renewed_ms": renewed,
                "renewed_age_ms": now_ms.saturating_sub(renewed),
            })),
            "lease_remaining_ms": pttl.max(0),
            "lease_held": pttl > 0,
            "fence": fence,
            "processors": processors,
            "watchdog": watchdog,
            "stats": {
                "applied": num(&stats, "applied"),
                "duplicates": num(&stats, "duplicates"),
                "malformed": num(&stats, "malformed"),
                "fenced": num(&stats, "fenced"),
            },
            "backlog": backlog,
        }))
    }

    /// The last `n` audit lines, newest first.
    pub async fn audit(&self, n: usize) -> Result<Vec<Json>, StoreError> {
        let lines = list(
            self.store
                .raw(&[
                    "LRANGE",
                    &self.store.key("audit"),
                    "0",
                    &n.saturating_sub(1).to_string(),
                ])
                .await?,
        )?;
        Ok(lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// Appends an audit line (kept: the newest 10 000).
    pub async fn write_audit(&self, line: &Json) -> Result<(), StoreError> {
        let key = self.store.key("audit");
        self.store.raw(&["LPUSH", &key, &line.to_string()]).await?;
        self.store.raw(&["LTRIM", &key, "0", "9999"]).await?;
        Ok(())
    }
}
