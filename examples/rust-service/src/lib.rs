//! An axum service that guards an upstream HTTP dependency with tripbit's
//! tower layer, answers from a cache while the breaker is open, and exports
//! the breaker on `/metrics` in Prometheus text format.
//!
//! The upstream client is hyper-util's pooled client (a `tower::Service`)
//! behind `tower::timeout::Timeout` (a hang counts as a failure) behind
//! [`CircuitBreakerLayer`]: `breaker(timeout(client))`.

#![warn(missing_docs)]

pub mod upstream;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderValue, Request, Response as HttpResponse, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::timeout::Timeout;
use tower::{Layer, ServiceExt};
use tripbit::{Breaker, Config, Consecutive, Outcome, State, Transition, clock};
use tripbit_tower::{CircuitBreakerLayer, CircuitBreakerService, Classify, Error, OnTransition};

/// How the service guards its upstream.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long the breaker stays open after tripping.
    pub open: Duration,
    /// Consecutive failures that trip it.
    pub failures: u16,
    /// Per-call upstream timeout; a timeout counts as a failure.
    pub timeout: Duration,
}

impl Default for Settings {
    /// Open 5 s after 5 failures in a row; 1 s upstream timeout.
    fn default() -> Settings {
        Settings {
            open: Duration::from_secs(5),
            failures: 5,
            timeout: Duration::from_secs(1),
        }
    }
}

impl Settings {
    /// The breaker's configuration: trip after `failures` in a row, stay
    /// open for `open`.
    pub fn config(&self) -> Config {
        Config::new(clock::ticks(self.open)).consecutive_failures(u32::from(self.failures))
    }

    /// Checks the settings; [`app`] panics on settings this refuses.
    ///
    /// ```
    /// use tripbit_rust_service::Settings;
    /// assert!(Settings::default().validate().is_ok());
    /// let zero = Settings { failures: 0, ..Settings::default() };
    /// assert_eq!(zero.validate().unwrap_err(), "consecutive_failures must be at least 1");
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout.is_zero() {
            return Err("the upstream timeout must be above zero".to_owned());
        }
        self.config().validate().map_err(|e| e.message().to_owned())
    }
}

/// Counters the breaker does not keep itself (it keeps only its state).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests to `/api/quote`.
    pub requests: AtomicU64,
    /// Upstream calls admitted and finished, by outcome: success, failure,
    /// ignored (indexed by `Outcome as usize`).
    pub calls: [AtomicU64; 3],
    /// Calls the breaker rejected (answered from the fallback at once).
    pub rejections: AtomicU64,
    /// Transitions caused by calls, by target state (indexed by `State as usize`).
    pub transitions: [AtomicU64; 6],
}

/// How upstream results count: 5xx and transport errors (including
/// timeouts) are failures, 4xx are the caller's fault and ignored.
#[derive(Clone, Copy, Debug)]
pub struct ServerErrorsFail;

impl ServerErrorsFail {
    fn status(status: StatusCode) -> Outcome {
        if status.is_server_error() {
            Outcome::Failure
        } else if status.is_client_error() {
            Outcome::Ignored
        } else {
            Outcome::Success
        }
    }
}

impl<B, E> Classify<HttpResponse<B>, E> for ServerErrorsFail {
    fn classify(&self, result: &Result<HttpResponse<B>, E>) -> Outcome {
        match result {
            Ok(response) => ServerErrorsFail::status(response.status()),
            Err(_) => Outcome::Failure,
        }
    }
}

/// The transition hook: counts transitions and logs them. Runs after the
/// state changed, outside any lock.
#[derive(Clone, Debug)]
pub struct LogTransitions(Arc<Metrics>);

impl OnTransition for LogTransitions {
    fn on_transition(&self, t: Transition) {
        self.0.transitions[t.to as usize].fetch_add(1, Ordering::Relaxed);
        eprintln!(
            "upstream breaker: {} -> {} (generation {})",
            t.from, t.to, t.generation
        );
    }
}

/// The guarded upstream client: `breaker(timeout(hyper client))`.
pub type UpstreamClient = CircuitBreakerService<
    Timeout<Client<HttpConnector, Empty<Bytes>>>,
    Consecutive,
    Arc<Breaker>,
    ServerErrorsFail,
    LogTransitions,
>;

/// Shared by the handlers.
pub struct AppState {
    upstream: UpstreamClient,
    quote_uri: Uri,
    /// The breaker guarding the upstream.
    pub breaker: Arc<Breaker>,
    /// The service's counters.
    pub metrics: Arc<Metrics>,
    /// The last good upstream answer: the fallback.
    cache: Mutex<Option<Value>>,
}

/// Builds the service's router for an upstream at `upstream`.
///
/// Routes: `GET /api/quote` (the guarded call), `GET /metrics`, `GET /healthz`.
///
/// # Panics
///
/// On settings [`Settings::validate`] refuses.
pub fn app(settings: &Settings, upstream: SocketAddr) -> (Router, Arc<AppState>) {
    if let Err(e) = settings.validate() {
        panic!("invalid settings: {e}");
    }
    let breaker = Arc::new(Breaker::new(settings.config()));
    let metrics = Arc::new(Metrics::default());
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let upstream_client = CircuitBreakerLayer::new(breaker.clone())
        .classify(ServerErrorsFail)
        .on_transition(LogTransitions(metrics.clone()))
        .layer(Timeout::new(client, settings.timeout));
    let state = Arc::new(AppState {
        upstream: upstream_client,
        quote_uri: format!("http://{upstream}/quote")
            .parse()
            .expect("a socket address makes a valid URI"),
        breaker,
        metrics,
        cache: Mutex::new(None),
    });
    let router = Router::new()
        .route("/api/quote", get(quote))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .with_state(state.clone());
    (router, state)
}

/// A service running on a loopback port (its task runs until the runtime
/// stops).
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state: the breaker and the counters.
    pub state: Arc<AppState>,
}

/// Starts the service on a free loopback port, guarding `upstream`.
///
/// # Panics
///
/// On settings [`Settings::validate`] refuses.
pub async fn spawn(settings: &Settings, upstream: SocketAddr) -> std::io::Result<Running> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (router, state) = app(settings, upstream);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("service stopped: {e}");
        }
    });
    Ok(Running { addr, state })
}

async fn quote(AxumState(app): AxumState<Arc<AppState>>) -> Response {
    let m = &app.metrics;
    m.requests.fetch_add(1, Ordering::Relaxed);
    let request = Request::get(app.quote_uri.clone())
        .body(Empty::new())
        .expect("a GET with a valid URI builds");
    match app.upstream.clone().oneshot(request).await {
        Ok(response) => {
            let status = response.status();
            m.calls[ServerErrorsFail::status(status) as usize].fetch_add(1, Ordering::Relaxed);
            if !status.is_success() {
                return fallback(&app, &format!("upstream answered {status}"), None);
            }
            // The breaker counted this call on its status line; a body that
            // then fails to arrive is answered from the fallback too.
            let body = match response.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(e) => return fallback(&app, &format!("upstream body: {e}"), None),
            };
            match serde_json::from_slice::<Value>(&body) {
                Ok(data) => {
                    *app.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(data.clone());
                    Json(json!({ "degraded": false, "source": "upstream", "data": data }))
                        .into_response()
                }
                Err(e) => fallback(&app, &format!("upstream sent bad JSON: {e}"), None),
            }
        }
        Err(Error::Rejected(rejected)) => {
            m.rejections.fetch_add(1, Ordering::Relaxed);
            let retry_after = rejected
                .retry_at
                .map(|at| Duration::from_nanos(at.saturating_sub(clock::now())));
            fallback(&app, "circuit open", retry_after)
        }
        Err(Error::Inner(e)) => {
            m.calls[Outcome::Failure as usize].fetch_add(1, Ordering::Relaxed);
            let reason = if e.is::<tower::timeout::error::Elapsed>() {
                "upstream timed out".to_owned()
            } else {
                format!("upstream unreachable: {e}")
            };
            fallback(&app, &reason, None)
        }
    }
}

/// The degraded answer: the cached quote with 200, or 503 when there is none.
fn fallback(app: &AppState, reason: &str, retry_after: Option<Duration>) -> Response {
    let cached = app.cache.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let state = app.breaker.state(clock::now());
    let (status, body) = match cached {
        Some(data) => (
            StatusCode::OK,
            json!({ "degraded": true, "source": "cache", "reason": reason, "breaker": state.as_str(), "data": data }),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "degraded": true, "source": "none", "reason": reason, "breaker": state.as_str() }),
        ),
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(after) = retry_after {
        // Whole seconds, rounded up, as `Retry-After` wants.
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

async fn healthz(AxumState(app): AxumState<Arc<AppState>>) -> Json<Value> {
    // Liveness of this process; the upstream's health is on /metrics.
    Json(json!({ "status": "ok", "upstream_breaker": app.breaker.state(clock::now()).as_str() }))
}

async fn metrics_text(AxumState(app): AxumState<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render_metrics(&app.breaker, &app.metrics),
    )
}

/// The Prometheus text exposition of `breaker` and `metrics`, labelled
/// `breaker="upstream"`.
pub fn render_metrics(breaker: &Breaker, metrics: &Metrics) -> String {
    const L: &str = "breaker=\"upstream\"";
    let s = breaker.snapshot(clock::now());
    let mut out = String::with_capacity(2048);
    let _ = writeln!(
        out,
        "# HELP tripbit_breaker_state 1 for the breaker's current state, 0 for the others.\n# TYPE tripbit_breaker_state gauge"
    );
    for st in State::ALL {
        let _ = writeln!(
            out,
            "tripbit_breaker_state{{{L},state=\"{}\"}} {}",
            st.as_str(),
            u8::from(st == s.state)
        );
    }
    let gauges: [(&str, &str, u64); 4] = [
        (
            "tripbit_breaker_generation",
            "Generation: bumped on every transition.",
            u64::from(s.generation),
        ),
        (
            "tripbit_breaker_consecutive_failures",
            "Failures in a row while closed.",
            u64::from(s.consecutive_failures),
        ),
        (
            "tripbit_breaker_backoff_level",
            "Failed probes in a row (open-period backoff level).",
            u64::from(s.backoff_level),
        ),
        (
            "tripbit_breaker_probes_in_flight",
            "Half-open probes running.",
            u64::from(s.probes_in_flight),
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{{L}}} {value}"
        );
    }
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "# HELP tripbit_breaker_calls_total Upstream calls admitted and finished, by outcome.\n\
         # TYPE tripbit_breaker_calls_total counter"
    );
    for outcome in [Outcome::Success, Outcome::Failure, Outcome::Ignored] {
        let label = match outcome {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Ignored => "ignored",
        };
        let _ = writeln!(
            out,
            "tripbit_breaker_calls_total{{{L},outcome=\"{label}\"}} {}",
            load(&metrics.calls[outcome as usize])
        );
    }
    let _ = writeln!(
        out,
        "# HELP tripbit_breaker_rejections_total Calls rejected by the breaker (served by the fallback).\n\
         # TYPE tripbit_breaker_rejections_total counter\n\
         tripbit_breaker_rejections_total{{{L}}} {}",
        load(&metrics.rejections)
    );
    let _ = writeln!(
        out,
        "# HELP tripbit_breaker_transitions_total Transitions caused by calls, by target state.\n\
         # TYPE tripbit_breaker_transitions_total counter"
    );
    for st in [State::Open, State::HalfOpen, State::Closed] {
        let _ = writeln!(
            out,
            "tripbit_breaker_transitions_total{{{L},to=\"{}\"}} {}",
            st.as_str(),
            load(&metrics.transitions[st as usize])
        );
    }
    let _ = writeln!(
        out,
        "# HELP service_quote_requests_total Requests to /api/quote.\n\
         # TYPE service_quote_requests_total counter\n\
         service_quote_requests_total {}",
        load(&metrics.requests)
    );
    out
}
