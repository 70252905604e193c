//! `/metrics` in the Prometheus text exposition format (version 0.0.4).
//!
//! Every key gets one `tripbit_breaker_state` series per state, 0 or 1, so
//! a healthy (closed) breaker is a series with value 1, never "No data".

use std::fmt::Write;

use serde_json::Value as Json;

/// Escapes a label value: backslash, double quote and newline.
///
/// ```
/// assert_eq!(tripbit_fleet::panel::metrics::label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
/// ```
pub fn label(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

fn u(v: &Json, path: &[&str]) -> u64 {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_u64().unwrap_or(0)
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// Renders the exposition for `breakers` (the documents of
/// [`Reader::breaker`](super::data::Reader::breaker)) and `processor`
/// ([`Reader::processor`](super::data::Reader::processor)); `None` for both
/// when Redis is down (only `tripbit_panel_redis_up 0` is written).
pub fn render(data: Option<(&[Json], &Json)>, now_ms: u64) -> String {
    let mut o = String::new();
    head(
        &mut o,
        "tripbit_panel_redis_up",
        "gauge",
        "1 when the panel could read Redis for this scrape.",
    );
    let _ = writeln!(o, "tripbit_panel_redis_up {}", u8::from(data.is_some()));
    let Some((breakers, processor)) = data else {
        return o;
    };

    head(
        &mut o,
        "tripbit_breaker_state",
        "gauge",
        "1 for the key's effective state (forced when forced), 0 for the others; label forced says whether an operator force decides it.",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        let eff = b["effective"].as_str().unwrap_or("healthy");
        let forced = !b["forced"].is_null();
        for s in ["healthy", "unhealthy", "recovering"] {
            let _ = writeln!(
                o,
                "tripbit_breaker_state{{key=\"{key}\",state=\"{s}\",forced=\"{forced}\"}} {}",
                u8::from(eff == s)
            );
        }
    }
    head(
        &mut o,
        "tripbit_breaker_computed_state",
        "gauge",
        "1 for the state the processor computed (forces ignored), 0 for the others.",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        let st = b["state"].as_str().unwrap_or("healthy");
        for s in ["healthy", "unhealthy", "recovering"] {
            let _ = writeln!(
                o,
                "tripbit_breaker_computed_state{{key=\"{key}\",state=\"{s}\"}} {}",
                u8::from(st == s)
            );
        }
    }
    head(
        &mut o,
        "tripbit_breaker_forced",
        "gauge",
        "1 while an operator force is set (label state: the forced state), else 0 with state=\"none\".",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        match b["forced"].as_str() {
            Some(s) => {
                let _ = writeln!(o, "tripbit_breaker_forced{{key=\"{key}\",state=\"{s}\"}} 1");
            }
            None => {
                let _ = writeln!(
                    o,
                    "tripbit_breaker_forced{{key=\"{key}\",state=\"none\"}} 0"
                );
            }
        }
    }
    head(
        &mut o,
        "tripbit_breaker_calls_total",
        "counter",
        "Calls counted for the key since it was first seen, by outcome.",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        for outcome in ["success", "failure", "slow", "rejected", "local"] {
            let _ = writeln!(
                o,
                "tripbit_breaker_calls_total{{key=\"{key}\",outcome=\"{outcome}\"}} {}",
                u(b, &["totals", outcome])
            );
        }
    }
    for (name, field, help) in [
        (
            "tripbit_breaker_window_calls",
            "calls",
            "Calls in the processor's sliding window.",
        ),
        (
            "tripbit_breaker_window_failures",
            "failures",
            "Failures in the processor's sliding window.",
        ),
        (
            "tripbit_breaker_window_slow",
            "slow",
            "Slow calls in the processor's sliding window.",
        ),
    ] {
        head(&mut o, name, "gauge", help);
        for b in breakers {
            let key = label(b["key"].as_str().unwrap_or(""));
            let _ = writeln!(o, "{name}{{key=\"{key}\"}} {}", u(b, &["window", field]));
        }
    }
    head(
        &mut o,
        "tripbit_breaker_failure_ratio",
        "gauge",
        "Failures over calls in the window (0 with no calls).",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        let r = b["window"]["failure_ratio"].as_f64().unwrap_or(0.0);
        let _ = writeln!(o, "tripbit_breaker_failure_ratio{{key=\"{key}\"}} {r}");
    }
    head(
        &mut o,
        "tripbit_breaker_transitions_total",
        "counter",
        "State transitions of the key.",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        let _ = writeln!(
            o,
            "tripbit_breaker_transitions_total{{key=\"{key}\"}} {}",
            u(b, &["transitions_total"])
        );
    }
    head(
        &mut o,
        "tripbit_breaker_last_batch_age_seconds",
        "gauge",
        "Seconds since a batch last counted calls for the key.",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        if let Some(ms) = b["last_batch_age_ms"].as_u64() {
            let _ = writeln!(
                o,
                "tripbit_breaker_last_batch_age_seconds{{key=\"{key}\"}} {}",
                ms as f64 / 1000.0
            );
        }
    }
    head(
        &mut o,
        "tripbit_breaker_time_in_state_seconds",
        "gauge",
        "Seconds since the key's last transition.",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        let _ = writeln!(
            o,
            "tripbit_breaker_time_in_state_seconds{{key=\"{key}\"}} {}",
            u(b, &["time_in_state_ms"]) as f64 / 1000.0
        );
    }
    head(
        &mut o,
        "tripbit_breaker_monitors",
        "gauge",
        "Monitors that have reported counts for the key.",
    );
    for b in breakers {
        let key = label(b["key"].as_str().unwrap_or(""));
        let n = b["monitors"].as_array().map_or(0, Vec::len);
        let _ = writeln!(o, "tripbit_breaker_monitors{{key=\"{key}\"}} {n}");
    }

    let p = processor;
    head(
        &mut o,
        "tripbit_processor_leader",
        "gauge",
        "1 for the processor holding the lease, 0 for the standbys.",
    );
    if let Some(ps) = p["processors"].as_array() {
        for q in ps {
            let id = label(q["id"].as_str().unwrap_or(""));
            let _ = writeln!(
                o,
                "tripbit_processor_leader{{id=\"{id}\"}} {}",
                u8::from(q["role"] == "leader")
            );
        }
    }
    head(
        &mut o,
        "tripbit_processor_heartbeat_age_seconds",
        "gauge",
        "Seconds since each processor's last heartbeat.",
    );
    if let Some(ps) = p["processors"].as_array() {
        for q in ps {
            let id = label(q["id"].as_str().unwrap_or(""));
            let _ = writeln!(
                o,
                "tripbit_processor_heartbeat_age_seconds{{id=\"{id}\"}} {}",
                u(q, &["age_ms"]) as f64 / 1000.0
            );
        }
    }
    head(
        &mut o,
        "tripbit_processor_lease_held",
        "gauge",
        "1 while some processor holds the leader lease.",
    );
    let _ = writeln!(
        o,
        "tripbit_processor_lease_held {}",
        u8::from(p["lease_held"].as_bool().unwrap_or(false))
    );
    head(
        &mut o,
        "tripbit_processor_lease_remaining_seconds",
        "gauge",
        "Time left on the leader lease.",
    );
    let _ = writeln!(
        o,
        "tripbit_processor_lease_remaining_seconds {}",
        u(p, &["lease_remaining_ms"]) as f64 / 1000.0
    );
    head(
        &mut o,
        "tripbit_processor_lease_renewed_age_seconds",
        "gauge",
        "Seconds since the leader last renewed its lease.",
    );
    if !p["leader"].is_null() {
        let _ = writeln!(
            o,
            "tripbit_processor_lease_renewed_age_seconds {}",
            u(p, &["leader", "renewed_age_ms"]) as f64 / 1000.0
        );
    }
    head(
        &mut o,
        "tripbit_processor_fence_epoch",
        "gauge",
        "The fencing epoch (bumped by every new leader).",
    );
    let _ = writeln!(o, "tripbit_processor_fence_epoch {}", u(p, &["fence"]));
    head(
        &mut o,
        "tripbit_stream_backlog",
        "gauge",
        "Batches in the stream not yet applied.",
    );
    let _ = writeln!(o, "tripbit_stream_backlog {}", u(p, &["backlog"]));
    head(
        &mut o,
        "tripbit_store_batches_total",
        "counter",
        "Stream entries by what the processor did with them.",
    );
    for r in ["applied", "duplicates", "malformed", "fenced"] {
        let _ = writeln!(
            o,
            "tripbit_store_batches_total{{result=\"{r}\"}} {}",
            u(p, &["stats", r])
        );
    }
    head(
        &mut o,
        "tripbit_panel_scrape_timestamp_seconds",
        "gauge",
        "Wall clock of this scrape.",
    );
    let _ = writeln!(
        o,
        "tripbit_panel_scrape_timestamp_seconds {}",
        now_ms as f64 / 1000.0
    );
    o
}
