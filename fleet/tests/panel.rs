//! The admin panel's JSON API and /metrics against a real `redis-server`,
//! real processors and real monitor processes: auth, bad input, forces
//! reaching every monitor and surviving restarts, the audit, Redis down.

mod common;
mod panel_common;

use std::time::Duration;

use common::*;
use panel_common::*;
use serde_json::Value;

const KEY: &str = "acme.search.hotels";
const OTHER: &str = "acme.maps.geocode";
const WAIT: Duration = Duration::from_secs(25);

fn token_file(name: &str) -> String {
    let p = tmp_dir("panel").join(name);
    std::fs::write(&p, format!("# test tokens\nalice {TOKEN}\n")).unwrap();
    p.to_string_lossy().into_owned()
}

fn start_panel(redis_port: u16, file: &str) -> PanelProc {
    try_panel(redis_port, None, &["--token-file", file]).expect("panel starts")
}

fn breaker(port: u16, key: &str) -> Option<Value> {
    let r = get(port, &format!("/api/breakers/{key}"));
    (r.status == 200).then(|| r.json())
}

fn forces_hash(rt: &tokio::runtime::Runtime, s: &tripbit_fleet::RedisStore) -> Option<String> {
    hget(rt, s, "tb:forces", KEY)
}

#[test]
fn api_auth_bad_input_forces_reach_every_monitor_and_survive_restarts() {
    let redis = Redis::start();
    let rt = rt();
    let s = redis.store();
    let mut p1 = processor(redis.port, "p1", FAST_LONG_OPEN);
    let mut mons: Vec<SimProc> = (0..2)
        .map(|i| {
            sim(
                redis.port,
                &format!("m{i}"),
                &[KEY, OTHER],
                &["--flush-ms", "100"],
            )
        })
        .collect();
    let file = token_file("tokens-a");
    let mut pan = start_panel(redis.port, &file);
    let port = pan.port;

    // Health needs no token; reads do.
    let h = http(port, "GET", "/api/health", &[], None);
    assert_eq!((h.status, h.json()["redis"].as_str()), (200, Some("up")));
    for bad in [
        vec![],
        vec!["Authorization: Bearer wrong-token-0000000000"],
        vec!["Authorization: Basic YWxpY2U6c2VjcmV0"],
        vec![&format!("Authorization: Bearer {TOKEN}x") as &str],
    ] {
        for path in [
            "/api/breakers",
            "/api/breakers/acme.search.hotels",
            "/metrics",
            "/api/overview",
            "/api/stream",
        ] {
            let r = http(port, "GET", path, &bad, None);
            assert_eq!(r.status, 401, "{path} with {bad:?}: {}", r.body);
            assert!(r.json()["error"].is_string());
        }
    }

    // The keys appear once the monitors' batches are applied.
    let list = wait_for("both keys listed", WAIT, || {
        let r = get(port, "/api/breakers");
        let v = r.json();
        let keys: Vec<String> = v["breakers"]
            .as_array()?
            .iter()
            .filter_map(|b| b["key"].as_str().map(str::to_string))
            .collect();
        (keys.contains(&KEY.to_string()) && keys.contains(&OTHER.to_string())).then_some(v)
    });
    let b = &list["breakers"][0];
    for field in [
        "key",
        "state",
        "forced",
        "window",
        "totals",
        "monitors",
        "transitions",
    ] {
        assert!(b.get(field).is_some(), "field {field} in {b}");
    }
    let b = wait_for("both monitors under the key", WAIT, || {
        let b = breaker(port, KEY)?;
        (b["monitors"].as_array()?.len() == 2).then_some(b)
    });
    assert_eq!(b["state"], "healthy");
    assert!(b["forced"].is_null());
    for m in b["monitors"].as_array().unwrap() {
        for f in ["id", "host", "pid", "last_seen", "totals"] {
            assert!(m.get(f).is_some(), "monitor field {f}: {m}");
        }
        assert!(m["pid"].as_u64().unwrap() > 0);
        for t in ["success", "failure", "slow", "rejected"] {
            assert!(m["totals"][t].is_u64());
        }
    }
    for t in ["success", "failure", "slow", "rejected"] {
        assert!(b["totals"][t].is_u64(), "totals.{t}");
    }

    // Bad keys and bad routes.
    for (path, status) in [
        ("/api/breakers/acme.no.such", 404),
        ("/api/breakers/nodots", 400),
        ("/api/breakers/acme..hotels", 400),
        ("/api/breakers/acme%20search.x", 400),
        ("/api/breakers/acme.%3Cscript%3E.x", 400),
        ("/api/nothing", 404),
    ] {
        let r = get(port, path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.json()["error"].is_string(), "{path}: JSON error");
    }
    let long = format!("/api/breakers/a.{}", "b".repeat(300));
    assert_eq!(get(port, &long).status, 400);

    // Mutations refused: no token, wrong token, bad bodies, cross-site, GET.
    let fp = format!("/api/breakers/{KEY}/force");
    let before = forces_hash(&rt, &s);
    assert_eq!(before, None);
    let body = r#"{"state":"healthy"}"#;
    for hdrs in [
        vec!["Content-Type: application/json"],
        vec![
            "Content-Type: application/json",
            "Authorization: Bearer nope-nope-nope-nope",
        ],
    ] {
        let r = http(port, "POST", &fp, &hdrs, Some(body));
        assert_eq!(r.status, 401, "{}", r.body);
        let r = http(
            port,
            "POST",
            &format!("/api/breakers/{KEY}/reset"),
            &hdrs,
            Some(""),
        );
        assert_eq!(r.status, 401);
    }
    let a = auth();
    let cases: Vec<(Vec<&str>, String, u16)> = vec![
        (
            vec![&a, "Content-Type: application/json"],
            r#"{"state":"recovering"}"#.into(),
            400,
        ),
        (
            vec![&a, "Content-Type: application/json"],
            r#"{"state":"reset"}"#.into(),
            400,
        ),
        (
            vec![&a, "Content-Type: application/json"],
            r#"{"state":1}"#.into(),
            400,
        ),
        (
            vec![&a, "Content-Type: application/json"],
            r#"{}"#.into(),
            400,
        ),
        (
            vec![&a, "Content-Type: application/json"],
            r#"{"state":"healthy","x":1}"#.into(),
            400,
        ),
        (
            vec![&a, "Content-Type: application/json"],
            "not json".into(),
            400,
        ),
        (
            vec![&a, "Content-Type: application/json"],
            r#"["healthy"]"#.into(),
            400,
        ),
        (vec![&a, "Content-Type: text/plain"], body.into(), 415),
        (
            vec![&a, "Content-Type: application/json"],
            format!(r#"{{"state":"{}"}}"#, "h".repeat(10_000)),
            413,
        ),
        (
            vec![
                &a,
                "Content-Type: application/json",
                "Origin: http://evil.example",
            ],
            body.into(),
            403,
        ),
        (
            vec![
                &a,
                "Content-Type: application/json",
                "Sec-Fetch-Site: cross-site",
            ],
            body.into(),
            403,
        ),
    ];
    for (hdrs, b, status) in &cases {
        let r = http(port, "POST", &fp, hdrs, Some(b));
        assert_eq!(r.status, *status, "{hdrs:?} {:.60}: {}", b, r.body);
        assert!(r.json()["error"].is_string());
    }
    let r = post_json(port, "/api/breakers/acme.no.such/force", body);
    assert_eq!(r.status, 404);
    let r = post_json(port, "/api/breakers/bad key/force", body);
    assert_eq!(r.status, 400);
    let r = get(port, &fp);
    assert_eq!(r.status, 405);
    assert_eq!(forces_hash(&rt, &s), None, "nothing changed");
    assert_eq!(
        get(port, "/api/audit").json()["audit"],
        serde_json::json!([])
    );

    // The upstream fails everywhere: the key trips, with a reason.
    for m in &mut mons {
        m.send(&format!("fail 100 {KEY}"));
    }
    let b = wait_for("the key to trip", WAIT, || {
        let b = breaker(port, KEY)?;
        (b["state"] == "unhealthy").then_some(b)
    });
    let t = &b["transitions"][0];
    assert_eq!(
        (t["from"].as_str(), t["to"].as_str()),
        (Some("healthy"), Some("unhealthy"))
    );
    assert!(t["reason"].as_str().unwrap().contains("failure"), "{t}");
    for f in ["calls", "failures", "slow", "failure_ratio"] {
        assert!(b["window"][f].is_number(), "window.{f}: {b}");
    }
    assert!(b["transitions_total"].as_u64().unwrap() >= 1);
    for m in &mons {
        m.wait_state(KEY, "unhealthy", WAIT);
    }

    // Reads never change a breaker: a burst of reads, the version stays.
    let v0 = hget(&rt, &s, &format!("tb:verdict:{OTHER}"), "version");
    for _ in 0..20 {
        assert_eq!(get(port, &format!("/api/breakers/{OTHER}")).status, 200);
        assert_eq!(get(port, "/metrics").status, 200);
    }
    assert!(v0.is_some());
    assert_eq!(
        hget(&rt, &s, &format!("tb:verdict:{OTHER}"), "version"),
        v0,
        "reads changed no verdict"
    );

    // Force healthy through the API: every monitor lets calls through.
    let r = post_json(port, &fp, body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["breaker"]["forced"], "healthy");
    for m in &mons {
        m.wait_state(KEY, "forced-healthy", WAIT);
    }
    let b = breaker(port, KEY).unwrap();
    assert_eq!(b["state"], "unhealthy", "the computed state is still shown");
    assert_eq!(b["forced"], "healthy");
    assert_eq!(b["forced_by"], "panel:alice");
    assert!(b["forced_at"].as_u64().unwrap() > 0);
    let audit = get(port, "/api/audit").json();
    let line = &audit["audit"][0];
    assert_eq!(
        (
            line["token"].as_str(),
            line["action"].as_str(),
            line["key"].as_str(),
            line["state"].as_str()
        ),
        (Some("alice"), Some("force"), Some(KEY), Some("healthy"))
    );
    assert!(line["at_ms"].as_u64().unwrap() > 0);
    assert!(
        !audit.to_string().contains(TOKEN),
        "the secret never reaches the audit"
    );
    let stored = lrange(&rt, &s, "tb:audit");
    assert_eq!(stored.len(), 1, "the audit is kept in Redis: {stored:?}");

    // The processor restarts (killed; a new one takes over): the force holds.
    p1.proc.kill9();
    let _p2 = processor(redis.port, "p2", FAST_LONG_OPEN);
    wait_for("p2 to lead", WAIT, || {
        let v = get(port, "/api/overview").json();
        (v["processor"]["leader"]["id"] == "p2").then_some(())
    });
    std::thread::sleep(Duration::from_millis(600));
    for m in &mons {
        assert_eq!(
            m.last_state(KEY).as_deref(),
            Some("forced-healthy"),
            "{}",
            m.id
        );
    }
    assert_eq!(breaker(port, KEY).unwrap()["forced_applied"], "healthy");

    // The panel restarts: the force is still there (it lives in Redis).
    pan.proc.kill9();
    let pan2 = start_panel(redis.port, &file);
    let port = pan2.port;
    assert_eq!(breaker(port, KEY).unwrap()["forced"], "healthy");

    // Force unhealthy on the other key, then reset both.
    let r = post_json(
        port,
        &format!("/api/breakers/{OTHER}/force"),
        r#"{"state":"unhealthy"}"#,
    );
    assert_eq!(r.status, 200);
    for m in &mons {
        m.wait_state(OTHER, "forced-unhealthy", WAIT);
    }
    let metrics = get(port, "/metrics").body;
    for line in [
        format!(r#"tripbit_breaker_state{{key="{KEY}",state="healthy",forced="true"}} 1"#),
        format!(r#"tripbit_breaker_state{{key="{KEY}",state="unhealthy",forced="true"}} 0"#),
        format!(r#"tripbit_breaker_computed_state{{key="{KEY}",state="unhealthy"}} 1"#),
        format!(r#"tripbit_breaker_state{{key="{OTHER}",state="unhealthy",forced="true"}} 1"#),
        format!(r#"tripbit_breaker_forced{{key="{OTHER}",state="unhealthy"}} 1"#),
        r#"tripbit_processor_leader{id="p2"} 1"#.to_string(),
        "tripbit_processor_lease_held 1".to_string(),
        "tripbit_panel_redis_up 1".to_string(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    assert!(metrics.contains(&format!(
        "tripbit_breaker_last_batch_age_seconds{{key=\"{KEY}\"}}"
    )));
    assert!(metrics.contains(&format!(
        "tripbit_breaker_transitions_total{{key=\"{KEY}\"}}"
    )));
    // Every series the shipped Grafana dashboard queries exists.
    let dash = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/grafana-dashboard.json"
    ))
    .unwrap();
    let dash: Value = serde_json::from_str(&dash).unwrap();
    let mut names = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let e = t["expr"].as_str().unwrap();
            let mut rest = e;
            while let Some(i) = rest.find("tripbit_") {
                let n: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[i + n.len()..];
                names.push(n);
            }
        }
    }
    assert!(names.len() >= 10, "{names:?}");
    for n in &names {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(&format!("{n}{{")) || l.starts_with(&format!("{n} "))),
            "the dashboard's {n} is exported"
        );
    }
    for k in [KEY, OTHER] {
        let r = post_json(port, &format!("/api/breakers/{k}/reset"), "");
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for m in &mons {
        m.wait_state(KEY, "unhealthy", WAIT);
        m.wait_state(OTHER, "healthy", WAIT);
    }
    let b = breaker(port, OTHER).unwrap();
    assert!(b["forced"].is_null());
    // A healthy key has its series too, value 1 (never "No data").
    let metrics = get(port, "/metrics").body;
    let healthy =
        format!(r#"tripbit_breaker_state{{key="{OTHER}",state="healthy",forced="false"}} 1"#);
    assert!(
        metrics.lines().any(|l| l == healthy),
        "{healthy}\n{metrics}"
    );
    let audit = get(port, "/api/audit").json();
    let actions: Vec<&str> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["reset", "reset", "force", "force"]);

    // The OpenAPI document names the routes.
    let doc = http(port, "GET", "/api/openapi.json", &[], None).json();
    for p in [
        "/api/breakers",
        "/api/breakers/{key}",
        "/api/breakers/{key}/force",
        "/api/breakers/{key}/reset",
        "/api/health",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} in the OpenAPI document");
    }
    for m in &mut mons {
        m.quit();
    }
}

#[test]
fn no_token_refuses_to_start_unless_public_read_and_read_only() {
    let redis = Redis::start();
    assert_eq!(try_panel(redis.port, None, &[]).err(), Some(2));
    assert_eq!(
        try_panel(redis.port, None, &["--public-read"]).err(),
        Some(2)
    );
    assert_eq!(try_panel(redis.port, None, &["--read-only"]).err(), Some(2));
    assert_eq!(
        try_panel(redis.port, Some("short"), &[]).err(),
        Some(2),
        "a short token is refused"
    );
    let bad = tmp_dir("panel").join("bad-tokens");
    std::fs::write(&bad, "too many words here\n").unwrap();
    assert_eq!(
        try_panel(redis.port, None, &["--token-file", bad.to_str().unwrap()]).err(),
        Some(2)
    );
    assert_eq!(
        try_panel(redis.port, Some(TOKEN), &["--listen", "nowhere"]).err(),
        Some(2)
    );

    // Public and read-only: reads need no token, mutations are refused.
    let _p = processor(redis.port, "p1", FAST_LONG_OPEN);
    let mut m = sim(redis.port, "m0", &[KEY], &["--flush-ms", "100"]);
    let pan = try_panel(redis.port, None, &["--public-read", "--read-only"]).expect("starts");
    wait_for("the key listed", WAIT, || {
        let r = http(pan.port, "GET", &format!("/api/breakers/{KEY}"), &[], None);
        (r.status == 200).then_some(())
    });
    let r = http(
        pan.port,
        "POST",
        &format!("/api/breakers/{KEY}/force"),
        &["Content-Type: application/json"],
        Some(r#"{"state":"unhealthy"}"#),
    );
    assert_eq!(r.status, 401, "no token, no mutation");
    let rt = rt();
    assert_eq!(hget(&rt, &redis.store(), "tb:forces", KEY), None);
    m.quit();

    // A token and read-only: authenticated mutations are still refused.
    let pan = try_panel(redis.port, Some(TOKEN), &["--read-only"]).expect("starts");
    let r = post_json(
        pan.port,
        &format!("/api/breakers/{KEY}/force"),
        r#"{"state":"unhealthy"}"#,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(hget(&rt, &redis.store(), "tb:forces", KEY), None);
    // The page and its assets come from the binary, with a strict CSP.
    let page = http(pan.port, "GET", "/", &[], None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/static/panel.js"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("default-src 'self'")
    );
    let js = http(pan.port, "GET", "/static/panel.js", &[], None);
    assert!(js.body.contains("textContent") && !js.body.contains("innerHTML ="));
}

#[test]
fn redis_down_answers_503_and_says_so() {
    let redis = Redis::start();
    let pan = panel(redis.port);
    assert_eq!(get(pan.port, "/api/breakers").status, 200);
    let port = redis.port;
    drop(redis); // killed by PID
    wait_for("the panel to see Redis down", WAIT, || {
        let r = get(pan.port, "/api/overview");
        (r.status == 503 && r.json()["redis"] == "down").then_some(())
    });
    for path in [
        "/api/breakers",
        "/api/breakers/acme.search.hotels",
        "/api/audit",
    ] {
        let r = get(pan.port, path);
        assert_eq!(r.status, 503, "{path}: {}", r.body);
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .contains("Redis is unreachable")
        );
    }
    let r = post_json(
        pan.port,
        "/api/breakers/acme.search.hotels/force",
        r#"{"state":"healthy"}"#,
    );
    assert_eq!(r.status, 503);
    let h = http(pan.port, "GET", "/api/health", &[], None);
    assert_eq!((h.status, h.json()["redis"].as_str()), (503, Some("down")));
    let m = get(pan.port, "/metrics");
    assert!(
        m.body.lines().any(|l| l == "tripbit_panel_redis_up 0"),
        "{}",
        m.body
    );
    // Redis back on the same port: live again.
    let _redis = Redis::start_on(port);
    wait_for("the panel to see Redis back", WAIT, || {
        (get(pan.port, "/api/breakers").status == 200).then_some(())
    });
}

#[test]
fn slow_clients_are_cut_off() {
    let redis = Redis::start();
    let pan = panel(redis.port);
    // Headers never finished: the panel closes the connection.
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", pan.port)).unwrap();
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let t0 = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let waited = t0.elapsed();
    assert!(
        waited < Duration::from_secs(15),
        "closed after the header timeout, not left open ({waited:?})"
    );
}
