//! The admin panel (`tripbit-fleet panel`): a web page, a JSON API and
//! `/metrics` over the fleet's Redis data model.
//!
//! - Reads go straight to Redis with read commands only (see [`data`]);
//!   they never change a breaker. The page's live feed (server-sent events
//!   at `/api/stream`, polling of `/api/overview` as a fallback) comes from
//!   one sampler task per panel, so the number of open pages does not change
//!   the load on Redis.
//! - Forces go through [`set_force`], the same persisted
//!   `tb:forces` entry the `tripbit-fleet force` command writes: the
//!   processor folds it into the versioned verdict every monitor polls, and
//!   it survives restarts of the panel and of the processors. Every mutation
//!   appends an audit line (token id, what, when) to the Redis list `tb:audit`.
//! - Security: bearer tokens compared in constant time ([`ct_eq`]), reads
//!   protected unless `public_read`, mutations POST only, refused when the
//!   request's `Origin` (or `Sec-Fetch-Site`) says it comes from another
//!   site, JSON-only bodies of at most [`BODY_LIMIT`] bytes, a timeout on
//!   every request and on reading request headers.

pub mod cli;
pub mod data;
pub mod metrics;
mod openapi;

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};

use crate::model::wall_ms;
use crate::{Forced, RedisStore, Store, StoreError, set_force, validate_fleet_key};
use data::Reader;

/// Largest request body accepted, in bytes.
pub const BODY_LIMIT: usize = 4096;
/// Longest a request may take (reading its body included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a client may take to send its request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Points of history kept per key for the page's charts (one per sample).
pub const HISTORY: usize = 120;

const INDEX_HTML: &str = include_str!("../../static/index.html");
const PANEL_JS: &str = include_str!("../../static/panel.js");
const PANEL_CSS: &str = include_str!("../../static/panel.css");

/// One accepted bearer token.
#[derive(Clone)]
pub struct Token {
    /// The name written into audit lines (never the secret).
    pub id: String,
    /// The secret.
    pub secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Why a token file was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenFileError(pub String);

impl std::fmt::Display for TokenFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "token file: {}", self.0)
    }
}

impl std::error::Error for TokenFileError {}

/// Parses a token file: one token per line, either `SECRET` (named
/// `file-<line>`) or `ID SECRET`; blank lines and `#` comments are skipped.
/// Secrets must be at least 16 bytes, without spaces.
///
/// ```
/// use tripbit_fleet::panel::parse_tokens;
/// let t = parse_tokens("# ops\nalice 0123456789abcdef0123\n").unwrap();
/// assert_eq!((t[0].id.as_str(), t[0].secret.len()), ("alice", 20));
/// assert!(parse_tokens("bob short").is_err());
/// assert!(parse_tokens("\n").is_err());
/// ```
pub fn parse_tokens(text: &str) -> Result<Vec<Token>, TokenFileError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (id, secret) = match parts.as_slice() {
            [s] => (format!("file-{}", n + 1), *s),
            [id, s] => ((*id).to_string(), *s),
            _ => {
                return Err(TokenFileError(format!(
                    "line {}: expected `SECRET` or `ID SECRET`",
                    n + 1
                )));
            }
        };
        out.push(
            Token::new(&id, secret)
                .map_err(|e| TokenFileError(format!("line {}: {}", n + 1, e.0)))?,
        );
    }
    if out.is_empty() {
        return Err(TokenFileError("no token in the file".into()));
    }
    Ok(out)
}

impl Token {
    /// A token named `id`; the secret must be 16..=256 printable ASCII bytes.
    pub fn new(id: &str, secret: &str) -> Result<Token, TokenFileError> {
        if secret.len() < 16 || secret.len() > 256 {
            return Err(TokenFileError("a token must be 16 to 256 bytes".into()));
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenFileError(
                "a token must be printable ASCII without spaces".into(),
            ));
        }
        if !crate::model::valid_id(id) {
            return Err(TokenFileError(format!(
                "token id {id:?}: use letters, digits, '_' and '-'"
            )));
        }
        Ok(Token {
            id: id.to_string(),
            secret: secret.to_string(),
        })
    }
}

/// Compares two byte strings in time that depends only on their lengths,
/// never on where they differ.
///
/// ```
/// use tripbit_fleet::panel::ct_eq;
/// assert!(ct_eq(b"secret-token", b"secret-token"));
/// assert!(!ct_eq(b"secret-token", b"secret-tokeN"));
/// assert!(!ct_eq(b"secret", b"secret-token"));
/// ```
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    std::hint::black_box(diff) == 0
}

/// The panel's settings.
#[derive(Clone, Debug)]
pub struct PanelConfig {
    /// Where to listen (loopback by default).
    pub listen: SocketAddr,
    /// Accepted tokens (none: only allowed with `public_read` and `read_only`).
    pub tokens: Vec<Token>,
    /// Reads need no token.
    pub public_read: bool,
    /// Mutations are refused (403).
    pub read_only: bool,
    /// How often the live feed samples Redis.
    pub sample_every: Duration,
}

impl Default for PanelConfig {
    fn default() -> Self {
        PanelConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            tokens: Vec::new(),
            public_read: false,
            read_only: false,
            sample_every: Duration::from_secs(1),
        }
    }
}

/// Why the panel could not start.
#[derive(Debug)]
pub enum PanelError {
    /// No token configured, and not both public-read and read-only.
    NoToken,
    /// The listener could not be bound.
    Bind(std::io::Error),
}

impl std::fmt::Display for PanelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PanelError::NoToken => f.write_str(
                "no token configured: set TRIPBIT_PANEL_TOKEN or --token-file, \
                 or give both --public-read and --read-only",
            ),
            PanelError::Bind(e) => write!(f, "cannot listen: {e}"),
        }
    }
}

impl std::error::Error for PanelError {}

/// One sample: whether Redis answered, and the overview JSON.
#[derive(Clone)]
struct Snapshot {
    redis_up: bool,
    json: Arc<String>,
}

struct App {
    store: Arc<RedisStore>,
    cfg: PanelConfig,
    live: tokio::sync::watch::Receiver<Snapshot>,
}

type Shared = Arc<App>;

fn err(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": msg.into(), "status": status.as_u16()}).to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tripbit\""),
        );
    }
    r
}

/// A refused request: status and message, answered as a JSON error.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        err(self.0, self.1)
    }
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError(status, msg.into())
}

fn store_down(e: &StoreError) -> Response {
    err(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("Redis is unreachable: {e}"),
    )
}

fn ok_json(v: &Json) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// The token presented, if any and valid: its id.
fn token_id(cfg: &PanelConfig, headers: &HeaderMap) -> Option<String> {
    let presented = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    // Check every token (no early exit), so timing says nothing about which.
    let mut found = None;
    for t in &cfg.tokens {
        if ct_eq(presented.as_bytes(), t.secret.as_bytes()) && found.is_none() {
            found = Some(t.id.clone());
        }
    }
    found
}

fn require_read(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    if app.cfg.public_read || token_id(&app.cfg, headers).is_some() {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required",
        ))
    }
}

/// Refuses requests another site made a browser send.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| s == "cross-site" || s == "same-site")
    {
        return Err(refuse(StatusCode::FORBIDDEN, "cross-site request refused"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(()); // not a browser request (curl, scripts): the token decides
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin = origin.to_str().unwrap_or("");
    if !host.is_empty()
        && (origin == format!("http://{host}") || origin == format!("https://{host}"))
    {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::FORBIDDEN,
            format!("cross-site request refused (Origin {origin:?})"),
        ))
    }
}

fn check_key(key: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(key) = key.map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("bad path: {e}")))?;
    validate_fleet_key(&key)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("malformed key: {e}")))?;
    Ok(key)
}

async fn health(State(app): State<Shared>) -> Response {
    let redis = app.store.raw(&["PING"]).await;
    let up = redis.is_ok();
    let body = json!({
        "status": if up { "ok" } else { "degraded" },
        "redis": if up { "up" } else { "down" },
        "read_only": app.cfg.read_only,
        "public_read": app.cfg.public_read,
    });
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn openapi_doc() -> Response {
    ok_json(&openapi::document())
}

async fn all_breakers(store: &RedisStore, now: u64) -> Result<Vec<Json>, StoreError> {
    let r = Reader::new(store);
    let mut out = Vec::new();
    for k in r.keys().await? {
        out.push(r.breaker(&k, now).await?);
    }
    Ok(out)
}

async fn list_breakers(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = require_read(&app, &headers) {
        return r.into_response();
    }
    match all_breakers(&app.store, wall_ms()).await {
        Ok(b) => ok_json(&json!({ "breakers": b })),
        Err(e) => store_down(&e),
    }
}

async fn one_breaker(
    State(app): State<Shared>,
    headers: HeaderMap,
    key: Result<Path<String>, PathRejection>,
) -> Response {
    if let Err(r) = require_read(&app, &headers) {
        return r.into_response();
    }
    let key = match check_key(key) {
        Ok(k) => k,
        Err(r) => return r.into_response(),
    };
    let r = Reader::new(&app.store);
    match r.known(&key).await {
        Ok(true) => {}
        Ok(false) => return err(StatusCode::NOT_FOUND, format!("unknown key {key:?}")),
        Err(e) => return store_down(&e),
    }
    match r.breaker(&key, wall_ms()).await {
        Ok(b) => ok_json(&b),
        Err(e) => store_down(&e),
    }
}

async fn overview_json(store: &RedisStore) -> Result<Json, StoreError> {
    let now = wall_ms();
    let breakers = all_breakers(store, now).await?;
    let processor = Reader::new(store).processor(now).await?;
    Ok(json!({"redis": "up", "at_ms": now, "breakers": breakers, "processor": processor}))
}

async fn overview(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = require_read(&app, &headers) {
        return r.into_response();
    }
    let snap = app.live.borrow().clone();
    let status = if snap.redis_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        snap.json.as_str().to_string(),
    )
        .into_response()
}

async fn stream(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = require_read(&app, &headers) {
        return r.into_response();
    }
    let rx = app.live.clone();
    let s = futures_util::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let data = rx.borrow_and_update().clone();
        let ev = SseEvent::default()
            .event("overview")
            .data(data.json.as_str());
        Some((Ok::<_, Infallible>(ev), (rx, false)))
    });
    Sse::new(s)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response()
}

async fn metrics_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = require_read(&app, &headers) {
        return r.into_response();
    }
    let now = wall_ms();
    let data = async {
        let b = all_breakers(&app.store, now).await?;
        let p = Reader::new(&app.store).processor(now).await?;
        Ok::<_, StoreError>((b, p))
    }
    .await;
    let body = match &data {
        Ok((b, p)) => metrics::render(Some((b, p)), now),
        Err(_) => metrics::render(None, now),
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn audit(State(app): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(r) = require_read(&app, &headers) {
        return r.into_response();
    }
    match Reader::new(&app.store).audit(100).await {
        Ok(a) => ok_json(&json!({ "audit": a })),
        Err(e) => store_down(&e),
    }
}

/// Checks shared by force and reset; returns the token id and the key.
async fn mutation_guard(
    app: &App,
    headers: &HeaderMap,
    key: Result<Path<String>, PathRejection>,
) -> Result<(String, String), Response> {
    same_origin(headers).map_err(IntoResponse::into_response)?;
    let Some(who) = token_id(&app.cfg, headers) else {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required",
        ));
    };
    if app.cfg.read_only {
        return Err(err(StatusCode::FORBIDDEN, "the panel is read-only"));
    }
    let key = check_key(key).map_err(IntoResponse::into_response)?;
    match Reader::new(&app.store).known(&key).await {
        Ok(true) => Ok((who, key)),
        Ok(false) => Err(err(StatusCode::NOT_FOUND, format!("unknown key {key:?}"))),
        Err(e) => Err(store_down(&e)),
    }
}

async fn apply_force(app: &App, who: &str, key: &str, state: Option<Forced>) -> Response {
    let by = format!("panel:{who}");
    if let Err(e) = set_force(app.store.as_ref() as &dyn Store, key, state, &by).await {
        return match e {
            crate::ForceError::Key(k) => err(StatusCode::BAD_REQUEST, k.to_string()),
            crate::ForceError::Store(s) => store_down(&s),
        };
    }
    let at = wall_ms();
    let line = json!({
        "at_ms": at,
        "token": who,
        "action": if state.is_some() { "force" } else { "reset" },
        "key": key,
        "state": state.map(Forced::as_str),
    });
    if let Err(e) = Reader::new(&app.store).write_audit(&line).await {
        return err(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the force was stored but its audit line was not: {e}"),
        );
    }
    match Reader::new(&app.store).breaker(key, at).await {
        Ok(b) => ok_json(&json!({"ok": true, "audit": line, "breaker": b})),
        Err(e) => store_down(&e),
    }
}

async fn force(
    State(app): State<Shared>,
    headers: HeaderMap,
    key: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (who, key) = match mutation_guard(&app, &headers, key).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return err(e.status(), format!("bad body: {}", e.body_text())),
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return err(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json",
        );
    }
    let v: Json = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return err(StatusCode::BAD_REQUEST, format!("body is not JSON: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return err(
            StatusCode::BAD_REQUEST,
            "body must be an object {\"state\": \"healthy\"|\"unhealthy\"}",
        );
    };
    if let Some(extra) = obj.keys().find(|k| k.as_str() != "state") {
        return err(StatusCode::BAD_REQUEST, format!("unknown field {extra:?}"));
    }
    let Some(state) = obj.get("state").and_then(Json::as_str) else {
        return err(StatusCode::BAD_REQUEST, "missing string field \"state\"");
    };
    let Some(state) = Forced::parse(state) else {
        return err(
            StatusCode::BAD_REQUEST,
            format!("state {state:?}: expected \"healthy\" or \"unhealthy\""),
        );
    };
    apply_force(&app, &who, &key, Some(state)).await
}

async fn reset(
    State(app): State<Shared>,
    headers: HeaderMap,
    key: Result<Path<String>, PathRejection>,
) -> Response {
    let (who, key) = match mutation_guard(&app, &headers, key).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    apply_force(&app, &who, &key, None).await
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, kind)], body).into_response()
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => err(StatusCode::REQUEST_TIMEOUT, "request took too long"),
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

async fn not_found() -> Response {
    err(StatusCode::NOT_FOUND, "no such route")
}

fn router(app: Shared) -> Router {
    let method_not_allowed = || async { err(StatusCode::METHOD_NOT_ALLOWED, "method not allowed") };
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/static/panel.js",
            get(|| async { asset("text/javascript; charset=utf-8", PANEL_JS) }),
        )
        .route(
            "/static/panel.css",
            get(|| async { asset("text/css; charset=utf-8", PANEL_CSS) }),
        )
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi_doc))
        .route("/api/breakers", get(list_breakers))
        .route("/api/breakers/{key}", get(one_breaker))
        .route(
            "/api/breakers/{key}/force",
            post(force).fallback(method_not_allowed),
        )
        .route(
            "/api/breakers/{key}/reset",
            post(reset).fallback(method_not_allowed),
        )
        .route("/api/overview", get(overview))
        .route("/api/stream", get(stream))
        .route("/api/audit", get(audit))
        .route("/metrics", get(metrics_page))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

/// Chart points of one key, and its call total at the previous sample.
#[derive(Default)]
struct KeyHistory {
    points: VecDeque<Json>,
    last: Option<(u64, u64)>,
}

/// The sampler: one overview per interval for every live page, with a
/// short history per key for the charts (failure ratio, calls per second).
async fn sample(store: Arc<RedisStore>, every: Duration, tx: tokio::sync::watch::Sender<Snapshot>) {
    let mut hist: BTreeMap<String, KeyHistory> = BTreeMap::new();
    let mut last_ok: u64 = 0;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let snap = match overview_json(&store).await {
            Ok(mut v) => {
                let now = v["at_ms"].as_u64().unwrap_or(0);
                last_ok = now;
                if let Some(bs) = v["breakers"].as_array_mut() {
                    for b in bs {
                        let key = b["key"].as_str().unwrap_or("").to_string();
                        let t = &b["totals"];
                        let calls = ["success", "failure", "slow"]
                            .iter()
                            .map(|f| t[*f].as_u64().unwrap_or(0))
                            .sum::<u64>();
                        let e = hist.entry(key).or_default();
                        let rate = match e.last {
                            Some((t0, c0)) if now > t0 => {
                                calls.saturating_sub(c0) as f64 * 1000.0 / (now - t0) as f64
                            }
                            _ => 0.0,
                        };
                        e.last = Some((now, calls));
                        e.points
                            .push_back(json!([now, b["window"]["failure_ratio"], rate]));
                        while e.points.len() > HISTORY {
                            e.points.pop_front();
                        }
                        b["history"] = Json::Array(e.points.iter().cloned().collect());
                        b["call_rate"] = json!(rate);
                    }
                }
                v
            }
            Err(e) => json!({
                "redis": "down",
                "error": format!("Redis is unreachable: {e}"),
                "at_ms": wall_ms(),
                "last_ok_ms": last_ok,
            }),
        };
        let redis_up = snap["redis"] == "up";
        let snap = Snapshot {
            redis_up,
            json: Arc::new(snap.to_string()),
        };
        if tx.send(snap).is_err() {
            return;
        }
    }
}

/// Serves the panel on `listener` until `shutdown` resolves.
pub async fn serve(
    store: Arc<RedisStore>,
    cfg: PanelConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), PanelError> {
    if cfg.tokens.is_empty() && !(cfg.public_read && cfg.read_only) {
        return Err(PanelError::NoToken);
    }
    let (tx, rx) = tokio::sync::watch::channel(Snapshot {
        redis_up: false,
        json: Arc::new(
            json!({"redis": "down", "error": "no sample yet", "at_ms": wall_ms(), "last_ok_ms": 0})
                .to_string(),
        ),
    });
    let sampler = tokio::spawn(sample(Arc::clone(&store), cfg.sample_every, tx));
    let app = Arc::new(App {
        store,
        cfg,
        live: rx,
    });
    let router = router(app);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let Ok((tcp, _)) = accepted else {
            // EMFILE and friends: back off a little instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            drop(tcp); // over the connection limit
            continue;
        };
        let svc = hyper_util::service::TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc);
            let _ = conn.await;
            drop(permit);
        });
    }
    sampler.abort();
    Ok(())
}

/// Binds `cfg.listen` and serves (see [`serve`]).
pub async fn run(
    store: Arc<RedisStore>,
    cfg: PanelConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), PanelError> {
    if cfg.tokens.is_empty() && !(cfg.public_read && cfg.read_only) {
        return Err(PanelError::NoToken);
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(PanelError::Bind)?;
    serve(store, cfg, listener, shutdown).await
}
