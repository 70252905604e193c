//! The service against a controllable upstream, over real HTTP on loopback:
//! healthy answers pass through; the upstream hangs and fails, the breaker
//! opens, the service answers from its fallback without calling the
//! upstream, `/metrics` tells; after the open period one probe closes it.
//!
//! Timing: nothing sleeps for a fixed time where timing matters; waits poll
//! with a deadline. The only timing-dependent claims (the breaker is still
//! open while the fallback is checked) are asserted strictly when the checks
//! ran inside the open period, which they do unless the machine stalled for
//! longer than it; then the weaker invariants that hold regardless are.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tripbit_rust_service::upstream::{Mode, Upstream};
use tripbit_rust_service::{Running, Settings, spawn};

const FAILURES: u16 = 3;
/// The open period of the recovery test: short, so the test is.
const OPEN: Duration = Duration::from_millis(200);
/// An open period the tests that end open never see elapse.
const OPEN_LONG: Duration = Duration::from_secs(600);
/// The upstream timeout: long enough that a healthy loopback answer on a
/// loaded machine is never cut off, short enough to wait out once.
const TIMEOUT: Duration = Duration::from_millis(500);
/// No single HTTP exchange or wait in these tests may take longer.
const DEADLINE: Duration = Duration::from_secs(15);

/// One HTTP answer.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// The test's own HTTP client (separate from the service's).
struct Http {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl Http {
    fn new() -> Http {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    async fn get(&self, addr: SocketAddr, path: &str) -> Reply {
        let uri = format!("http://{addr}{path}").parse().expect("a valid URI");
        let exchange = async {
            let response = self.client.get(uri).await.expect("the service answers");
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("a whole body")
                .to_bytes();
            Reply {
                status,
                headers,
                body,
            }
        };
        tokio::time::timeout(DEADLINE, exchange)
            .await
            .unwrap_or_else(|_| panic!("GET {path}: no answer within {DEADLINE:?}"))
    }

    /// `GET /api/quote`, checked to be a JSON object with `degraded`.
    async fn quote(&self, svc: &Running) -> (Reply, Value) {
        let reply = self.get(svc.addr, "/api/quote").await;
        let body = reply.json();
        assert!(body["degraded"].is_boolean(), "{body}");
        (reply, body)
    }

    async fn metrics(&self, svc: &Running) -> Metrics {
        let reply = self.get(svc.addr, "/metrics").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(
            reply.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        Metrics::parse(std::str::from_utf8(&reply.body).expect("UTF-8 metrics"))
    }
}

/// A parsed Prometheus text exposition: series (name and labels) to value.
#[derive(Debug)]
struct Metrics(HashMap<String, u64>);

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let mut series = HashMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (name, value) = line.rsplit_once(' ').expect("`series value` lines");
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("not an integer value: {line:?}"));
            assert!(
                series.insert(name.to_owned(), value).is_none(),
                "duplicate series {name}"
            );
        }
        Metrics(series)
    }

    /// The value of `name{breaker="upstream"<,label>}`.
    fn get(&self, name: &str, label: Option<&str>) -> u64 {
        let key = match label {
            Some(l) => format!("{name}{{breaker=\"upstream\",{l}}}"),
            None => format!("{name}{{breaker=\"upstream\"}}"),
        };
        *self
            .0
            .get(&key)
            .unwrap_or_else(|| panic!("no series {key} in {:?}", self.0.keys()))
    }

    /// The one state whose gauge is 1 (and checks that it is only one).
    fn state(&self) -> &'static str {
        let on: Vec<_> = tripbit::State::ALL
            .iter()
            .filter(|s| self.get("tripbit_breaker_state", Some(&format!("state=\"{s}\""))) == 1)
            .collect();
        assert_eq!(on.len(), 1, "exactly one state gauge is 1: {on:?}");
        on[0].as_str()
    }

    fn calls(&self, outcome: &str) -> u64 {
        self.get(
            "tripbit_breaker_calls_total",
            Some(&format!("outcome=\"{outcome}\"")),
        )
    }

    fn transitions_to(&self, state: &str) -> u64 {
        self.get(
            "tripbit_breaker_transitions_total",
            Some(&format!("to=\"{state}\"")),
        )
    }

    fn rejections(&self) -> u64 {
        self.get("tripbit_breaker_rejections_total", None)
    }

    fn consecutive_failures(&self) -> u64 {
        self.get("tripbit_breaker_consecutive_failures", None)
    }

    fn requests(&self) -> u64 {
        *self
            .0
            .get("service_quote_requests_total")
            .expect("service_quote_requests_total")
    }
}

/// Polls `check` every few milliseconds until it holds; panics at the deadline.
async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "waited {DEADLINE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn start(open: Duration) -> (Upstream, Running, Http) {
    let upstream = Upstream::spawn().await.expect("the upstream starts");
    let settings = Settings {
        open,
        failures: FAILURES,
        timeout: TIMEOUT,
    };
    let svc = spawn(&settings, upstream.addr())
        .await
        .expect("the service starts");
    assert!(svc.addr.ip().is_loopback() && upstream.addr().ip().is_loopback());
    (upstream, svc, Http::new())
}

/// Asserts a passed-through answer carrying the upstream's `served` count.
fn assert_passed_through(reply: &Reply, body: &Value, served: u64) {
    assert_eq!(reply.status, StatusCode::OK, "{body}");
    assert_eq!(body["degraded"], false, "{body}");
    assert_eq!(body["source"], "upstream", "{body}");
    assert_eq!(body["data"]["symbol"], "TRIP", "{body}");
    assert_eq!(body["data"]["served"], served, "{body}");
}

/// Asserts a fallback answer from the cache (the quote `served` last).
fn assert_from_cache(reply: &Reply, body: &Value, reason: &str, breaker: &str, served: u64) {
    assert_eq!(reply.status, StatusCode::OK, "{body}");
    assert_eq!(body["degraded"], true, "{body}");
    assert_eq!(body["source"], "cache", "{body}");
    assert!(
        body["reason"].as_str().unwrap().starts_with(reason),
        "reason {:?} should start with {reason:?}",
        body["reason"]
    );
    assert_eq!(body["breaker"], breaker, "{body}");
    assert_eq!(body["data"]["served"], served, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_opens_the_breaker_serves_the_fallback_and_one_probe_recovers() {
    let (up, svc, http) = start(OPEN).await;

    // 1. Healthy: answers pass through (and fill the fallback cache).
    for served in 1..=3 {
        let (reply, body) = http.quote(&svc).await;
        assert_passed_through(&reply, &body, served);
    }
    assert_eq!(up.hits(), 3);
    let m = http.metrics(&svc).await;
    assert_eq!(m.state(), "closed");
    assert_eq!(m.calls("success"), 3);
    assert_eq!(m.consecutive_failures(), 0);
    let health = http.get(svc.addr, "/healthz").await.json();
    assert_eq!(health["upstream_breaker"], "closed");

    // 2. The upstream hangs: the timeout gives up, failure 1 of 3, and the
    //    caller gets the cached quote.
    up.set_mode(Mode::Hanging);
    let asked = Instant::now();
    let (reply, body) = http.quote(&svc).await;
    assert!(asked.elapsed() >= TIMEOUT, "answered before the timeout");
    assert_from_cache(&reply, &body, "upstream timed out", "closed", 3);
    let upstream = &up;
    wait_until("the hanging request to reach the upstream", || async move {
        upstream.hits() == 4
    })
    .await;
    assert_eq!(http.metrics(&svc).await.consecutive_failures(), 1);

    // 3. The upstream answers 500: failures 2 and 3; the third opens it.
    up.set_mode(Mode::Failing);
    let (reply, body) = http.quote(&svc).await;
    assert_from_cache(&reply, &body, "upstream answered 500", "closed", 3);
    assert_eq!(http.metrics(&svc).await.consecutive_failures(), 2);
    // The breaker opens after this instant, so it stays open at least until
    // `tripped_after + OPEN`.
    let tripped_after = Instant::now();
    let (reply, body) = http.quote(&svc).await;
    // "open", unless the machine stalled past the open period since.
    let breaker = body["breaker"].as_str().unwrap_or_default().to_owned();
    if tripped_after.elapsed() < OPEN {
        assert_eq!(breaker, "open", "{body}");
    } else {
        assert!(breaker == "open" || breaker == "half_open", "{body}");
    }
    assert_from_cache(&reply, &body, "upstream answered 500", &breaker, 3);
    let hits_at_trip = up.hits();
    assert_eq!(hits_at_trip, 6);

    // 4. Open: every answer is the fallback, at once, and the upstream is
    //    not called.
    const WHILE_OPEN: u64 = 5;
    let mut replies = Vec::new();
    for _ in 0..WHILE_OPEN {
        replies.push(http.quote(&svc).await);
    }
    let m = http.metrics(&svc).await;
    let health = http.get(svc.addr, "/healthz").await.json();
    let within_open_period = tripped_after.elapsed() < OPEN;
    // Upstream calls since the trip: half-open probes, each failing (the
    // upstream still answers 500) and reopening the breaker. None unless
    // the open period elapsed during the checks above.
    let probes = up.hits() - hits_at_trip;
    if within_open_period {
        assert_eq!(
            probes, 0,
            "the upstream was called while the breaker was open"
        );
        for (reply, body) in &replies {
            assert_from_cache(reply, body, "circuit open", "open", 3);
            let retry_after = reply.headers[header::RETRY_AFTER].to_str().unwrap();
            assert_eq!(retry_after, "1", "200 ms left at most, rounded up to 1 s");
        }
        assert_eq!(m.state(), "open");
        assert_eq!(m.rejections(), WHILE_OPEN);
        assert_eq!(health["upstream_breaker"], "open");
    } else {
        eprintln!(
            "note: the open-phase checks outlasted the {OPEN:?} open period \
             (loaded machine); checking the timing-independent invariants"
        );
        assert!(probes <= WHILE_OPEN);
        assert_eq!(m.rejections() + probes, WHILE_OPEN);
        for (reply, body) in &replies {
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(body["source"], "cache", "{body}");
        }
    }
    assert_eq!(m.transitions_to("open"), 1 + probes);
    assert_eq!(m.transitions_to("half_open"), probes);
    assert_eq!(m.transitions_to("closed"), 0);
    assert_eq!(m.calls("failure"), 3 + probes);
    assert_eq!(m.calls("success"), 3);
    assert_eq!(m.requests(), 3 + 3 + WHILE_OPEN);
    // Each failed probe is two transitions: open -> half_open -> open.
    assert_eq!(m.get("tripbit_breaker_generation", None), 1 + 2 * probes);

    // 5. Recovery: the upstream is healthy again; once the open period is
    //    over, the next call is the probe, succeeds, and closes the breaker.
    up.set_mode(Mode::Healthy);
    let (client, addr) = (&http, svc.addr);
    wait_until("the open period to end", || async move {
        client.get(addr, "/healthz").await.json()["upstream_breaker"] == "half_open"
    })
    .await;
    assert!(tripped_after.elapsed() >= OPEN);
    let before = http.metrics(&svc).await;
    assert_eq!(before.state(), "half_open", "reading state changes nothing");
    let hits = up.hits();
    assert_eq!(hits, hits_at_trip + probes, "waiting called nothing");
    let (reply, body) = http.quote(&svc).await;
    assert_passed_through(&reply, &body, hits + 1);
    assert_eq!(up.hits(), hits + 1, "exactly one probe");
    let m = http.metrics(&svc).await;
    assert_eq!(m.state(), "closed");
    assert_eq!(m.transitions_to("half_open"), probes + 1);
    assert_eq!(m.transitions_to("closed"), 1);
    assert_eq!(m.transitions_to("open"), 1 + probes);
    assert_eq!(m.consecutive_failures(), 0);
    assert_eq!(m.get("tripbit_breaker_probes_in_flight", None), 0);
    assert_eq!(m.calls("success"), 4);
    assert_eq!(m.rejections(), before.rejections());

    // 6. Closed again: answers pass through.
    for served in hits + 2..=hits + 3 {
        let (reply, body) = http.quote(&svc).await;
        assert_passed_through(&reply, &body, served);
    }
    assert_eq!(up.hits(), hits + 3);
    assert_eq!(http.metrics(&svc).await.state(), "closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_neither_trip_the_breaker_nor_reset_its_streak() {
    let (up, svc, http) = start(OPEN_LONG).await;
    let (reply, body) = http.quote(&svc).await;
    assert_passed_through(&reply, &body, 1);

    // Two server errors: one short of the threshold.
    up.set_mode(Mode::Failing);
    for _ in 1..FAILURES {
        let (reply, body) = http.quote(&svc).await;
        assert_from_cache(&reply, &body, "upstream answered 500", "closed", 1);
    }
    assert_eq!(
        http.metrics(&svc).await.consecutive_failures(),
        u64::from(FAILURES - 1)
    );

    // Any number of 404s: the upstream is called every time, nothing trips.
    up.set_mode(Mode::Missing);
    const NOT_FOUND: u64 = 10;
    for _ in 0..NOT_FOUND {
        let (reply, body) = http.quote(&svc).await;
        assert_from_cache(&reply, &body, "upstream answered 404", "closed", 1);
    }
    assert_eq!(up.hits(), u64::from(FAILURES) + NOT_FOUND);
    let m = http.metrics(&svc).await;
    assert_eq!(m.state(), "closed");
    assert_eq!(m.calls("ignored"), NOT_FOUND);
    assert_eq!(m.calls("failure"), u64::from(FAILURES - 1));
    assert_eq!(m.rejections(), 0);
    assert_eq!(m.transitions_to("open"), 0);
    // Ignored neither grows the streak nor resets it.
    assert_eq!(m.consecutive_failures(), u64::from(FAILURES - 1));

    // So one more server error completes the streak and opens it.
    up.set_mode(Mode::Failing);
    let (reply, body) = http.quote(&svc).await;
    assert_from_cache(&reply, &body, "upstream answered 500", "open", 1);
    let (reply, body) = http.quote(&svc).await;
    assert_from_cache(&reply, &body, "circuit open", "open", 1);
    let m = http.metrics(&svc).await;
    assert_eq!(m.state(), "open");
    assert_eq!(m.transitions_to("open"), 1);
    assert_eq!(m.rejections(), 1);
    assert_eq!(up.hits(), u64::from(FAILURES) + NOT_FOUND + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cached_quote_the_fallback_is_503_with_retry_after() {
    let (up, svc, http) = start(OPEN_LONG).await;
    up.set_mode(Mode::Failing);
    for n in 1..=FAILURES {
        let (reply, body) = http.quote(&svc).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["source"], "none", "{body}");
        assert_eq!(body["degraded"], true, "{body}");
        assert!(body.get("data").is_none(), "{body}");
        let expected = if n == FAILURES { "open" } else { "closed" };
        assert_eq!(body["breaker"], expected, "{body}");
        assert!(!reply.headers.contains_key(header::RETRY_AFTER));
    }
    let (reply, body) = http.quote(&svc).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["reason"], "circuit open", "{body}");
    let retry_after: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (OPEN_LONG.as_secs() - 60..=OPEN_LONG.as_secs()).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert_eq!(up.hits(), u64::from(FAILURES));
    assert_eq!(
        svc.state.breaker.state(tripbit::clock::now()),
        tripbit::State::Open
    );
}
