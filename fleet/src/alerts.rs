//! Alerts from the processor: a key trips, a key recovers, a key or the
//! leading processor goes silent. Channels: a webhook (HTTP POST of JSON)
//! and e-mail over SMTP (with `lettre`), each optional.
//!
//! - **Never blocks the processor**: [`Alerter::transition`] and [`Alerter::watchdog`] put the alert on
//!   a bounded queue (`try_send`; a full queue drops the alert and counts it)
//!   and returns. A task of its own claims and delivers each alert; every
//!   channel retries with exponential backoff in a task of its own.
//! - **At most one alert per key per state change, across failover**: before
//!   delivering, the task claims the alert's identity in Redis with
//!   `SET tb:alerted:<id> 1 NX EX 604800`. The identity of a transition is
//!   `(key, verdict version)`: a standby that takes over and writes the same
//!   verdict again does not resend, because the version is the one the old
//!   leader already claimed. A silent key is identified by the time of its
//!   last batch, a silent leader by its id and the time of its last renewal,
//!   so every processor that notices the same silence claims the same id.
//! - The first claim of a transition also counts it in the hash
//!   `tb:transition-counts` (the panel's `tripbit_breaker_transitions_total`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::RedisStore;
use crate::model::{Health, wall_ms};

/// Alerts waiting for delivery at most; more are dropped (and counted).
pub const QUEUE: usize = 1024;
/// Deliveries tried per channel and alert.
pub const ATTEMPTS: u32 = 6;

/// Where alerts go.
#[derive(Clone, Debug, Default)]
pub struct AlertConfig {
    /// `http://host:port/path`: each alert is POSTed there as JSON.
    pub webhook: Option<String>,
    /// SMTP delivery, if any.
    pub smtp: Option<SmtpConfig>,
    /// First retry delay (doubled each time). Default 250 ms when zero.
    pub backoff: Duration,
}

/// SMTP settings (plain SMTP, for a relay on the local network or loopback).
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// Relay host.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// Sender address.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

/// Why an alert configuration was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct AlertConfigError(pub String);

impl std::fmt::Display for AlertConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "alert configuration: {}", self.0)
    }
}

impl std::error::Error for AlertConfigError {}

/// A webhook URL split up: host, port, path.
///
/// ```
/// use tripbit_fleet::alerts::parse_webhook;
/// assert_eq!(parse_webhook("http://127.0.0.1:9000/hook").unwrap(),
///            ("127.0.0.1".to_string(), 9000, "/hook".to_string()));
/// assert!(parse_webhook("https://example.com/").is_err()); // plain http only
/// assert!(parse_webhook("http://h:notaport/").is_err());
/// ```
pub fn parse_webhook(url: &str) -> Result<(String, u16, String), AlertConfigError> {
    let bad = |m: &str| AlertConfigError(format!("webhook {url:?}: {m}"));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// URLs are supported"))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("bad port"))?),
        None => (hostport, 80),
    };
    if host.is_empty() || path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("bad host or path"));
    }
    Ok((host.to_string(), port, path.to_string()))
}

impl AlertConfig {
    /// From the processor's options: `--alert-webhook URL`, `--alert-smtp
    /// HOST:PORT` with `--alert-from ADDR` and `--alert-to ADDR`…
    ///
    /// ```
    /// use tripbit_fleet::alerts::AlertConfig;
    /// let c = AlertConfig::from_options(None, Some("127.0.0.1:2525"), Some("tb@example.com"),
    ///     vec!["ops@example.com".into()]).unwrap();
    /// assert_eq!(c.smtp.unwrap().port, 2525);
    /// assert!(AlertConfig::from_options(None, Some("127.0.0.1:2525"), None, vec![]).is_err());
    /// assert!(AlertConfig::from_options(Some("ftp://x/"), None, None, vec![]).is_err());
    /// ```
    pub fn from_options(
        webhook: Option<&str>,
        smtp: Option<&str>,
        from: Option<&str>,
        to: Vec<String>,
    ) -> Result<AlertConfig, AlertConfigError> {
        let smtp = match smtp {
            None if from.is_some() || !to.is_empty() => {
                return Err(AlertConfigError(
                    "--alert-from and --alert-to need --alert-smtp".into(),
                ));
            }
            None => None,
            Some(hp) => {
                let (host, port) = hp
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                    .filter(|(h, _)| !h.is_empty())
                    .ok_or_else(|| {
                        AlertConfigError(format!("--alert-smtp {hp:?}: expected HOST:PORT"))
                    })?;
                Some(SmtpConfig {
                    host: host.to_string(),
                    port,
                    from: from
                        .ok_or_else(|| AlertConfigError("--alert-smtp needs --alert-from".into()))?
                        .to_string(),
                    to,
                })
            }
        };
        let c = AlertConfig {
            webhook: webhook.map(str::to_string),
            smtp,
            backoff: Duration::ZERO,
        };
        c.validate()?;
        Ok(c)
    }

    /// Checks the settings (URL, addresses).
    pub fn validate(&self) -> Result<(), AlertConfigError> {
        if let Some(w) = &self.webhook {
            parse_webhook(w)?;
        }
        if let Some(s) = &self.smtp {
            s.from
                .parse::<lettre::message::Mailbox>()
                .map_err(|e| AlertConfigError(format!("--alert-from {:?}: {e}", s.from)))?;
            if s.to.is_empty() {
                return Err(AlertConfigError("--alert-to is required with SMTP".into()));
            }
            for t in &s.to {
                t.parse::<lettre::message::Mailbox>()
                    .map_err(|e| AlertConfigError(format!("--alert-to {t:?}: {e}")))?;
            }
        }
        Ok(())
    }
}

/// One alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// `"trip"`, `"recover"`, `"key-silent"` or `"processor-silent"`.
    pub kind: String,
    /// The key (`""` for the processor).
    pub key: String,
    /// Human-readable detail (the transition's reason, the silence).
    pub detail: String,
    /// The verdict version of a transition (0 otherwise).
    pub version: u64,
    /// The processor that raised it.
    pub processor: String,
    /// Wall ms.
    pub at_ms: u64,
}

impl Alert {
    /// The alert as JSON (the webhook's body).
    pub fn to_json(&self) -> Json {
        json!({
            "kind": self.kind,
            "key": self.key,
            "detail": self.detail,
            "version": self.version,
            "processor": self.processor,
            "at_ms": self.at_ms,
        })
    }

    fn subject(&self) -> String {
        match self.kind.as_str() {
            "trip" => format!("[tripbit] {} tripped: unhealthy", self.key),
            "recover" => format!("[tripbit] {} recovered: healthy", self.key),
            "key-silent" => format!("[tripbit] {}: no batches", self.key),
            "processor-silent" => "[tripbit] the leading processor is silent".to_string(),
            k => format!("[tripbit] {k} {}", self.key),
        }
    }
}

/// Delivery counters.
#[derive(Debug, Default)]
pub struct AlertStats {
    /// Alerts claimed and handed to the channels.
    pub claimed: AtomicU64,
    /// Alerts another processor had already claimed (not resent).
    pub duplicates: AtomicU64,
    /// Deliveries that succeeded (per channel).
    pub delivered: AtomicU64,
    /// Deliveries that failed after every attempt (per channel).
    pub failed: AtomicU64,
    /// Alerts dropped: the queue was full, or the claim could not be made.
    pub dropped: AtomicU64,
}

/// The processor's alert hook. Cheap to clone.
#[derive(Clone)]
pub struct Alerter {
    tx: tokio::sync::mpsc::Sender<(String, Alert)>,
    stats: Arc<AlertStats>,
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerter").finish_non_exhaustive()
    }
}

impl Alerter {
    /// Starts the delivery task on the current tokio runtime. `store` is used
    /// for the dedupe claims only.
    pub fn start(store: Arc<RedisStore>, cfg: AlertConfig) -> Result<Alerter, AlertConfigError> {
        cfg.validate()?;
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        let stats = Arc::new(AlertStats::default());
        tokio::spawn(deliver_loop(store, cfg, rx, Arc::clone(&stats)));
        Ok(Alerter { tx, stats })
    }

    /// Delivery counters.
    pub fn stats(&self) -> Arc<AlertStats> {
        Arc::clone(&self.stats)
    }

    /// A verdict transition was written (version `version`). Only trips
    /// (to unhealthy) and recoveries (to healthy) alert; every transition is
    /// counted once.
    pub fn transition(
        &self,
        processor: &str,
        key: &str,
        from: Health,
        to: Health,
        version: u64,
        reason: &str,
    ) {
        let kind = match to {
            Health::Unhealthy => "trip",
            Health::Healthy => "recover",
            Health::Recovering => "recovering",
        };
        self.notify(
            format!("transition:{key}:{version}"),
            Alert {
                kind: kind.into(),
                key: key.into(),
                detail: format!("{from} -> {to}: {reason}"),
                version,
                processor: processor.into(),
                at_ms: wall_ms(),
            },
        );
    }

    /// A watchdog event (`key-silent`, `processor-silent`, …). Only the
    /// silent ones alert.
    pub fn watchdog(&self, processor: &str, kind: &str, key: &str, detail: &str) {
        if kind != "key-silent" && kind != "processor-silent" {
            return;
        }
        // The identity is completed by the delivery task from Redis (time of
        // the last batch, or of the leader's last renewal).
        self.notify(
            String::new(),
            Alert {
                kind: kind.into(),
                key: key.into(),
                detail: detail.into(),
                version: 0,
                processor: processor.into(),
                at_ms: wall_ms(),
            },
        );
    }

    fn notify(&self, id: String, a: Alert) {
        if self.tx.try_send((id, a)).is_err() {
            // Ordering: Relaxed: a statistic.
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn text(v: &redis::Value) -> Option<String> {
    match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        redis::Value::Okay => Some("OK".into()),
        redis::Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// The identity of a silence: the same for every processor that notices it.
async fn silence_id(store: &RedisStore, a: &Alert) -> Option<String> {
    if a.kind == "key-silent" {
        let seen = store
            .hget(&store.key(&format!("totals:{}", a.key)), "last_seen_ms")
            .await
            .ok()?
            .unwrap_or_default();
        Some(format!("key-silent:{}:{seen}", a.key))
    } else {
        let info = store.key("leader:info");
        let id = store.hget(&info, "id").await.ok()?.unwrap_or_default();
        let renewed = store
            .hget(&info, "renewed_ms")
            .await
            .ok()?
            .unwrap_or_default();
        Some(format!("processor-silent:{id}:{renewed}"))
    }
}

async fn claim(store: &RedisStore, id: &str) -> Option<bool> {
    let k = store.key(&format!("alerted:{id}"));
    for attempt in 0..5u32 {
        match store.raw(&["SET", &k, "1", "NX", "EX", "604800"]).await {
            Ok(v) => return Some(text(&v).as_deref() == Some("OK")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100 << attempt)).await,
        }
    }
    None
}

async fn deliver_loop(
    store: Arc<RedisStore>,
    cfg: AlertConfig,
    mut rx: tokio::sync::mpsc::Receiver<(String, Alert)>,
    stats: Arc<AlertStats>,
) {
    let cfg = Arc::new(cfg);
    while let Some((id, a)) = rx.recv().await {
        let id = if id.is_empty() {
            match silence_id(&store, &a).await {
                Some(id) => id,
                None => {
                    // Ordering: Relaxed: statistics (all the counters below too).
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            }
        } else {
            id
        };
        match claim(&store, &id).await {
            Some(true) => {}
            Some(false) => {
                stats.duplicates.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            None => {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        stats.claimed.fetch_add(1, Ordering::Relaxed);
        if id.starts_with("transition:") {
            let _ = store
                .raw(&["HINCRBY", &store.key("transition-counts"), &a.key, "1"])
                .await;
            if a.kind == "recovering" {
                continue; // counted, not alerted
            }
        }
        if let Some(url) = cfg.webhook.clone() {
            let (a, stats, cfg) = (a.clone(), Arc::clone(&stats), Arc::clone(&cfg));
            tokio::spawn(async move {
                let body = a.to_json().to_string();
                retry(&cfg, &stats, "webhook", || post_webhook(&url, &body)).await;
            });
        }
        if let Some(smtp) = cfg.smtp.clone() {
            let (a, stats, cfg) = (a.clone(), Arc::clone(&stats), Arc::clone(&cfg));
            tokio::spawn(async move {
                retry(&cfg, &stats, "smtp", || send_mail(&smtp, &a)).await;
            });
        }
    }
}

async fn retry<F, Fut>(cfg: &AlertConfig, stats: &AlertStats, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut delay = if cfg.backoff.is_zero() {
        Duration::from_millis(250)
    } else {
        cfg.backoff
    };
    for attempt in 1..=ATTEMPTS {
        match tokio::time::timeout(Duration::from_secs(10), f()).await {
            Ok(Ok(())) => {
                // Ordering: Relaxed: a statistic.
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(Err(e)) => eprintln!("[tripbit-fleet alerts] {what} attempt {attempt}: {e}"),
            Err(_) => eprintln!("[tripbit-fleet alerts] {what} attempt {attempt}: timed out"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
    // Ordering: Relaxed: a statistic.
    stats.failed.fetch_add(1, Ordering::Relaxed);
}

async fn post_webhook(url: &str, body: &str) -> Result<(), String> {
    let (host, port, path) = parse_webhook(url).map_err(|e| e.to_string())?;
    let mut s = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connect {host}:{port}: {e}"))?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n\
         User-Agent: tripbit-fleet\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut head = vec![0u8; 64];
    let n = s.read(&mut head).await.map_err(|e| format!("read: {e}"))?;
    let line = String::from_utf8_lossy(&head[..n]);
    let code: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {line:?}"))?;
    if (200..300).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP {code}"))
    }
}

async fn send_mail(smtp: &SmtpConfig, a: &Alert) -> Result<(), String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let mut b = Message::builder()
        .from(smtp.from.parse().map_err(|e| format!("from: {e}"))?)
        .subject(a.subject());
    for t in &smtp.to {
        b = b.to(t.parse().map_err(|e| format!("to: {e}"))?);
    }
    let body = format!(
        "{}\n\nkey: {}\nkind: {}\nverdict version: {}\nprocessor: {}\nat (unix ms): {}\n",
        a.detail, a.key, a.kind, a.version, a.processor, a.at_ms
    );
    let msg = b.body(body).map_err(|e| format!("message: {e}"))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(5)))
        .build();
    transport
        .send(msg)
        .await
        .map(|_| ())
        .map_err(|e| format!("smtp: {e}"))
}
