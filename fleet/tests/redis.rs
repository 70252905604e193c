//! The fleet against a real `redis-server` (Debian's 7.0): monitors and
//! processors as separate processes, crashes, pauses, outages and bad input.
//! Every wait polls with a deadline; every child is stopped by PID on drop.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use tripbit_fleet::model::{Batch, BatchId, VerdictWrite};
use tripbit_fleet::store::{ApplyOutcome, WriteOutcome};
use tripbit_fleet::{Counts, Effective, Health, Monitor, MonitorConfig, Store};

const KEY: &str = "acme.search.hotels";
const WAIT: Duration = Duration::from_secs(20);

fn sum(acks: &[Vec<(String, [u64; 5])>], key: &str) -> Counts {
    let mut c = Counts::default();
    for a in acks {
        for (k, n) in a {
            if k == key {
                c.add(&Counts {
                    success: n[0],
                    failure: n[1],
                    slow: n[2],
                    rejected: n[3],
                    local: n[4],
                });
            }
        }
    }
    c
}

/// Waits until the processor has applied everything and the key's totals
/// equal `expected`.
fn wait_totals(
    rt: &tokio::runtime::Runtime,
    s: &tripbit_fleet::RedisStore,
    key: &str,
    expected: Counts,
) {
    wait_for("the stream to drain and the totals to match", WAIT, || {
        let backlog = rt.block_on(s.backlog()).ok()?;
        let t = rt.block_on(s.key_totals(key)).ok()?;
        (backlog == 0 && t == expected).then_some(())
    });
    assert_eq!(rt.block_on(s.key_totals(key)).unwrap(), expected);
}

fn leader_id(rt: &tokio::runtime::Runtime, s: &tripbit_fleet::RedisStore) -> Option<String> {
    rt.block_on(s.leader()).ok().flatten().map(|l| l.id)
}

#[test]
fn trip_recovery_and_force_across_four_monitor_processes() {
    let redis = Redis::start();
    let rt = rt();
    let s = redis.store();
    let _p = processor(redis.port, "p1", FAST);
    wait_for("p1 to lead", WAIT, || {
        (leader_id(&rt, &s)? == "p1").then_some(())
    });
    let mut mons: Vec<SimProc> = (0..4)
        .map(|i| {
            sim(
                redis.port,
                &format!("m{i}"),
                &[KEY, "acme.maps.geocode"],
                &["--flush-ms", "100"],
            )
        })
        .collect();

    // Upstream outage seen by every process: the fleet trips, every monitor mirrors it.
    for m in &mut mons {
        m.send(&format!("fail 100 {KEY}"));
    }
    for m in &mons {
        m.wait_state(KEY, "unhealthy", WAIT);
    }
    // The other key stayed healthy: verdicts are per key.
    let idx = rt.block_on(s.verdict_index()).unwrap();
    assert_eq!(idx[KEY].state, Health::Unhealthy);
    assert!(
        idx.get("acme.maps.geocode")
            .is_none_or(|v| v.state == Health::Healthy)
    );

    // Upstream back: after the open period the fleet probes and closes.
    for m in &mut mons {
        m.send("fail 0");
    }
    for m in &mons {
        let tripped_at = m
            .out
            .find(|l| l.starts_with(&format!("state {KEY} unhealthy ")))
            .and_then(|l| l.split(' ').nth(3)?.parse::<u64>().ok())
            .unwrap();
        m.out.wait("recovered", WAIT, |l| {
            l.starts_with(&format!("state {KEY} healthy "))
                && l.split(' ').nth(3).and_then(|v| v.parse::<u64>().ok()) > Some(tripped_at)
        });
    }
    let text = lrange(&rt, &s, &format!("tb:transitions:{KEY}")).join("\n");
    for t in [
        r#""to":"unhealthy""#,
        r#""to":"recovering""#,
        r#""to":"healthy""#,
    ] {
        assert!(text.contains(t), "transition {t} logged: {text}");
    }

    // An operator force reaches every monitor, and so does its reset.
    let force = |state: &str| {
        let st = std::process::Command::new(BIN)
            .args([
                "force",
                "--redis",
                &redis.url(),
                "--key",
                KEY,
                "--state",
                state,
                "--by",
                "test",
            ])
            .status()
            .unwrap();
        assert!(st.success());
    };
    force("unhealthy");
    for m in &mons {
        m.wait_state(KEY, "forced-unhealthy", WAIT);
    }
    assert_eq!(
        hget(&rt, &s, &format!("tb:verdict:{KEY}"), "forced_by").as_deref(),
        Some("test")
    );
    force("reset");
    for m in &mons {
        wait_for("force cleared", WAIT, || {
            (m.last_state(KEY).as_deref() == Some("healthy")).then_some(())
        });
    }

    // Exactly once: the fleet totals equal what the monitors sent.
    let acks: Vec<_> = mons.iter_mut().map(SimProc::quit).collect();
    let sent = sum(&acks, KEY);
    assert!(
        sent.failure > 0 && sent.success > 0 && sent.rejected > 0,
        "{sent:?}"
    );
    wait_totals(&rt, &s, KEY, sent);
    for (m, a) in mons.iter().zip(&acks) {
        let mine = sum(std::slice::from_ref(a), KEY);
        let other = sum(std::slice::from_ref(a), "acme.maps.geocode");
        let mut both = mine;
        both.add(&other);
        assert_eq!(
            rt.block_on(s.monitor_totals(&m.id)).unwrap(),
            both,
            "per-monitor totals of {}",
            m.id
        );
    }
}

#[test]
fn failover_on_kill_and_on_pause_loses_and_doubles_nothing() {
    let redis = Redis::start();
    let rt = rt();
    let s = redis.store();
    let mut a = processor(redis.port, "pa", FAST);
    wait_for("pa to lead", WAIT, || {
        (leader_id(&rt, &s)? == "pa").then_some(())
    });
    let b = processor(redis.port, "pb", FAST);
    let mut mons: Vec<SimProc> = (0..3)
        .map(|i| {
            sim(
                redis.port,
                &format!("f{i}"),
                &[KEY],
                &["--flush-ms", "50", "--every-ms", "1"],
            )
        })
        .collect();
    for m in &mut mons {
        m.send("fail 20");
    }
    wait_for("batches flowing", WAIT, || {
        (rt.block_on(s.key_totals(KEY)).ok()?.total() > 500).then_some(())
    });

    // kill -9 the leader mid-stream: the standby takes over within the lease plus a tick.
    let t0 = Instant::now();
    a.proc.kill9();
    wait_for("pb to take over", WAIT, || {
        (leader_id(&rt, &s)? == "pb").then_some(())
    });
    let failover = t0.elapsed();
    eprintln!("failover after kill -9: {failover:?}");
    assert!(
        failover < Duration::from_millis(1000 + 100 + 2000),
        "{failover:?}"
    );
    b.log.wait("pb claims the pending entries", WAIT, |l| {
        l.contains("leader now")
    });

    // A fresh processor joins as standby, then the leader is paused (SIGSTOP).
    let c = processor(redis.port, "pc", FAST);
    c.log
        .wait("pc standing by", WAIT, |l| l.contains("started as standby"));
    let old_epoch: u64 = hget(&rt, &s, "tb:leader:info", "epoch")
        .unwrap()
        .parse()
        .unwrap();
    b.proc.signal("STOP");
    let t1 = Instant::now();
    wait_for("pc to take over from the paused pb", WAIT, || {
        (leader_id(&rt, &s)? == "pc").then_some(())
    });
    eprintln!("failover after SIGSTOP: {:?}", t1.elapsed());
    let new_epoch: u64 = hget(&rt, &s, "tb:leader:info", "epoch")
        .unwrap()
        .parse()
        .unwrap();
    assert!(new_epoch > old_epoch);
    // The paused leader's late writes are refused by the fence...
    let late = VerdictWrite {
        key: KEY.into(),
        state: Health::Unhealthy,
        from: Some(Health::Healthy),
        force: None,
        reason: "late write of a paused leader".into(),
        level: 0,
        open_until_ms: 0,
        at_ms: 0,
    };
    assert_eq!(
        rt.block_on(s.write_verdict(old_epoch, &late)).unwrap(),
        WriteOutcome::Fenced
    );
    let batch = Batch {
        id: BatchId {
            monitor: "late".into(),
            epoch: 1,
            seq: 1,
        },
        host: "h".into(),
        pid: 1,
        app: "t".into(),
        sent_ms: 0,
        counts: BTreeMap::from([(
            KEY.to_string(),
            Counts {
                failure: 1000,
                ..Counts::default()
            },
        )]),
    };
    assert_eq!(
        rt.block_on(s.apply_batch(old_epoch, "0-1", &batch, 0))
            .unwrap(),
        ApplyOutcome::Fenced
    );
    // ...and once resumed it stands down instead of overwriting anything.
    b.proc.signal("CONT");
    b.log.wait("pb stands down after waking", WAIT, |l| {
        l.contains("standing down")
    });
    assert_eq!(leader_id(&rt, &s).as_deref(), Some("pc"));
    assert!(
        hget(&rt, &s, &format!("tb:verdict:{KEY}"), "reason")
            .is_none_or(|r| !r.contains("late write"))
    );

    // No batch lost or counted twice across both failovers.
    let acks: Vec<_> = mons.iter_mut().map(SimProc::quit).collect();
    let sent = sum(&acks, KEY);
    wait_totals(&rt, &s, KEY, sent);
    let stats = rt.block_on(s.stats()).unwrap();
    eprintln!("store stats: {stats:?}");
    assert!(stats.get("fenced").copied().unwrap_or(0) >= 2);
    drop(c);
}

#[test]
fn redis_killed_then_blackholed_never_blocks_a_call_and_flushes_after() {
    let port = free_port();
    let redis = Redis::start_on(port);
    let rt = rt();
    let _p = processor(port, "px", FAST);
    let monitor = Monitor::connect(
        &url(port),
        MonitorConfig {
            id: Some("inproc".into()),
            flush_interval: Duration::from_millis(50),
            ..MonitorConfig::default()
        },
    )
    .unwrap();
    let b = monitor.breaker(KEY).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (worst_ns, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let caller = {
        let (b, stop, worst_ns, bad) = (b.clone(), stop.clone(), worst_ns.clone(), bad.clone());
        std::thread::spawn(move || {
            let mut calls = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match b.call(|| Ok::<_, ()>(())) {
                    Ok(()) => {}
                    Err(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
                worst_ns.fetch_max(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
                calls += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
            calls
        })
    };
    wait_for("batches acknowledged", WAIT, || {
        (monitor.stats().batches_sent > 3).then_some(())
    });

    // Redis killed mid-traffic.
    let mut redis = redis;
    redis.proc.kill9();
    wait_for("the monitor to notice", WAIT, || {
        (!monitor.stats().connected).then_some(())
    });
    let before = monitor.stats().acked.get(KEY).copied().unwrap_or_default();
    std::thread::sleep(Duration::from_millis(500));

    // Then unreachable: a listener on the same port that accepts and never answers.
    let hole = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    hole.set_nonblocking(true).unwrap();
    let held = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hole_stop = Arc::new(AtomicBool::new(false));
    let hole_thread = {
        let (held, hole_stop) = (held.clone(), hole_stop.clone());
        std::thread::spawn(move || {
            while !hole_stop.load(Ordering::Relaxed) {
                if let Ok((sock, _)) = hole.accept() {
                    held.lock().unwrap().push(sock);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    wait_for("connections into the blackhole", WAIT, || {
        (held.lock().unwrap().len() >= 2).then_some(())
    });
    let errors_in_hole = monitor.stats().store_errors;
    wait_for("timeouts against the blackhole", WAIT, || {
        (monitor.stats().store_errors > errors_in_hole + 2).then_some(())
    });
    assert!(!monitor.stats().connected);
    hole_stop.store(true, Ordering::Relaxed);
    hole_thread.join().unwrap();
    held.lock().unwrap().clear();

    // Redis back (empty: no persistence): the monitor reconnects by itself and flushes.
    let _redis2 = Redis::start_on(port);
    let s = tripbit_fleet::RedisStore::open(&url(port), "tb").unwrap();
    wait_for("the monitor to reconnect", WAIT, || {
        monitor.stats().connected.then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    let calls = caller.join().unwrap();
    let report = monitor.close().unwrap();
    let acked = report.acked[KEY];
    assert_eq!(acked.total(), calls, "every call counted and acknowledged");
    assert_eq!(
        bad.load(Ordering::Relaxed),
        0,
        "no guarded call failed or was rejected"
    );
    let worst = Duration::from_nanos(worst_ns.load(Ordering::Relaxed));
    eprintln!("{calls} calls, slowest guarded call {worst:?}");
    // Far below any store timeout (500 ms): no call ever waited on Redis.
    assert!(worst < Duration::from_millis(100), "{worst:?}");
    // What the old server had acknowledged died with it; everything after it
    // reached the new one, exactly once.
    let mut expected = acked;
    expected.success -= before.success;
    assert_eq!(before.total(), before.success);
    wait_totals(&rt, &s, KEY, expected);
}

#[test]
fn processor_restart_keeps_verdicts_and_forces() {
    let redis = Redis::start();
    let rt = rt();
    let s = redis.store();
    let slow_recovery: Vec<&str> = FAST.iter().copied().chain(["--open-ms", "60000"]).collect();
    let mut p = processor(redis.port, "r1", &slow_recovery);
    wait_for("r1 to lead", WAIT, || {
        (leader_id(&rt, &s)? == "r1").then_some(())
    });
    let mut m = sim(
        redis.port,
        "rm",
        &[KEY, "acme.maps.tiles"],
        &["--flush-ms", "50"],
    );
    m.send("fail 100");
    m.wait_state(KEY, "unhealthy", WAIT);
    let force = std::process::Command::new(BIN)
        .args([
            "force",
            "--redis",
            &redis.url(),
            "--key",
            "acme.maps.tiles",
            "--state",
            "healthy",
            "--by",
            "ops",
        ])
        .status()
        .unwrap();
    assert!(force.success());
    m.wait_state("acme.maps.tiles", "forced-healthy", WAIT);
    let before = rt.block_on(s.verdict_index()).unwrap();

    p.proc.signal("TERM");
    wait_for("r1 to exit", WAIT, || (!p.proc.alive()).then_some(()));
    let p2 = processor(redis.port, "r2", &slow_recovery);
    wait_for("r2 to lead", WAIT, || {
        (leader_id(&rt, &s)? == "r2").then_some(())
    });
    p2.log.wait("r2 restored", WAIT, |l| {
        l.contains("restored 2 verdicts, 1 forces")
    });
    // A few ticks later nothing changed: no verdict, version or force lost.
    std::thread::sleep(Duration::from_millis(600));
    let after = rt.block_on(s.verdict_index()).unwrap();
    assert_eq!(before, after);
    assert_eq!(m.last_state(KEY).as_deref(), Some("unhealthy"));
    assert_eq!(
        m.last_state("acme.maps.tiles").as_deref(),
        Some("forced-healthy")
    );
    m.quit();
}

#[test]
fn malformed_entries_and_error_replies_are_survived() {
    let redis = Redis::start();
    let rt = rt();
    let s = redis.store();
    let mut p = processor(redis.port, "pm", FAST);
    wait_for("pm to lead", WAIT, || {
        (leader_id(&rt, &s)? == "pm").then_some(())
    });
    let xadd = |fields: &[&str]| {
        let mut args = vec!["XADD", "tb:batches", "*"];
        args.extend_from_slice(fields);
        rt.block_on(s.raw(&args)).unwrap();
    };
    xadd(&["foreign", "entry"]);
    xadd(&[
        "v",
        "1",
        "mon",
        "m",
        "ep",
        "1",
        "seq",
        "1",
        "host",
        "h",
        "pid",
        "1",
        "app",
        "a",
        "at",
        "0",
        "c:bad key",
        "1,0,0,0,0",
    ]);
    xadd(&[
        "v",
        "1",
        "mon",
        "m",
        "ep",
        "1",
        "seq",
        "1",
        "host",
        "h",
        "pid",
        "1",
        "app",
        "a",
        "at",
        "0",
        "c:acme.a.b",
        "1,2,x,4,0",
    ]);
    xadd(&["v", "9", "mon", "m"]);
    // A valid batch among them is counted.
    xadd(&[
        "v",
        "1",
        "mon",
        "m",
        "ep",
        "1",
        "seq",
        "1",
        "host",
        "h",
        "pid",
        "1",
        "app",
        "a",
        "at",
        "0",
        "c:acme.a.b",
        "7,1,0,2,0",
    ]);
    wait_for("4 malformed entries skipped", WAIT, || {
        (rt.block_on(s.stats()).ok()?.get("malformed").copied() == Some(4)).then_some(())
    });
    wait_totals(
        &rt,
        &s,
        "acme.a.b",
        Counts {
            success: 7,
            failure: 1,
            slow: 0,
            rejected: 2,
            local: 0,
        },
    );
    assert!(p.log.find(|l| l.contains("skipping entry")).is_some());

    // WRONGTYPE at the forces key: reported, survived, and forces work again once fixed.
    rt.block_on(s.raw(&["SET", "tb:forces", "not a hash"]))
        .unwrap();
    p.log
        .wait("WRONGTYPE reported", WAIT, |l| l.contains("WRONGTYPE"));
    rt.block_on(s.raw(&["DEL", "tb:forces"])).unwrap();
    // NOSCRIPT: the scripts are reloaded by themselves.
    rt.block_on(s.raw(&["SCRIPT", "FLUSH"])).unwrap();
    // READONLY: the server turns replica of nothing for a while.
    let dead = free_port().to_string();
    rt.block_on(s.raw(&["REPLICAOF", "127.0.0.1", &dead]))
        .unwrap();
    p.log
        .wait("READONLY reported", WAIT, |l| l.contains("READONLY"));
    rt.block_on(s.raw(&["REPLICAOF", "NO", "ONE"])).unwrap();
    // The processor may have stood down on the lost lease; it leads again.
    wait_for("pm to lead again", WAIT, || {
        let l = rt.block_on(s.leader()).ok()??;
        (l.id == "pm" && tripbit_fleet::model::wall_ms().saturating_sub(l.at_ms) < 500)
            .then_some(())
    });
    let mut m = sim(redis.port, "mm", &["acme.a.b"], &["--flush-ms", "50"]);
    let force = std::process::Command::new(BIN)
        .args([
            "force",
            "--redis",
            &redis.url(),
            "--key",
            "acme.a.b",
            "--state",
            "unhealthy",
        ])
        .status()
        .unwrap();
    assert!(force.success());
    m.wait_state("acme.a.b", "forced-unhealthy", WAIT);
    let acks = m.quit();
    let mut expected = sum(&[acks], "acme.a.b");
    expected.add(&Counts {
        success: 7,
        failure: 1,
        slow: 0,
        rejected: 2,
        local: 0,
    });
    wait_totals(&rt, &s, "acme.a.b", expected);
    assert!(p.proc.alive(), "the processor survived all of it");

    // Bad input at start-up: a URL that does not parse, a malformed key.
    let out = std::process::Command::new(BIN)
        .args(["processor", "--redis", "redis//nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid Redis URL"));
    let out = std::process::Command::new(BIN)
        .args([
            "force",
            "--redis",
            &redis.url(),
            "--key",
            "no dots here",
            "--state",
            "healthy",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid key"));
}

#[test]
fn one_failing_node_of_twenty_does_not_trip_the_fleet_but_twenty_do() {
    let redis = Redis::start();
    let rt = rt();
    let s = redis.store();
    let _p = processor(
        redis.port,
        "p20",
        &[
            // Above what one monitor reports per flush (~50 calls).
            "--min-calls",
            "400",
            "--window-ms",
            "1000",
            "--open-ms",
            "60000",
            "--tick-ms",
            "100",
        ],
    );
    wait_for("p20 to lead", WAIT, || {
        (leader_id(&rt, &s)? == "p20").then_some(())
    });
    let monitors: Vec<Monitor> = (0..20)
        .map(|i| {
            Monitor::connect(
                &redis.url(),
                MonitorConfig {
                    id: Some(format!("n{i}")),
                    flush_interval: Duration::from_millis(100),
                    ..MonitorConfig::default()
                },
            )
            .unwrap()
        })
        .collect();
    let breakers: Vec<_> = monitors.iter().map(|m| m.breaker(KEY).unwrap()).collect();
    let failing = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let (bs, failing, stop) = (breakers.clone(), failing.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let n = failing.load(Ordering::Relaxed) as usize;
                for (i, b) in bs.iter().enumerate() {
                    let _ = b.call(|| if i < n { Err(()) } else { Ok(()) });
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    // Node 0 fails every call for three windows: its own breaker protects it,
    // the fleet stays healthy.
    wait_for("traffic counted", WAIT, || {
        (rt.block_on(s.key_totals(KEY)).ok()?.total() > 3000).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let idx = rt.block_on(s.verdict_index()).unwrap();
    assert!(
        idx.get(KEY).is_none_or(|v| v.state == Health::Healthy),
        "{idx:?}"
    );
    assert_ne!(
        breakers[0].local_state(),
        tripbit::State::Closed,
        "node 0's local breaker tripped"
    );
    assert_eq!(breakers[1].local_state(), tripbit::State::Closed);
    assert!(monitors[0].stats().counted[KEY].rejected > 0);
    // All twenty fail: the fleet trips within one window.
    let t0 = Instant::now();
    failing.store(20, Ordering::Relaxed);
    wait_for("every monitor to see the trip", WAIT, || {
        breakers
            .iter()
            .all(|b| b.fleet_state() == Effective::Unhealthy)
            .then_some(())
    });
    eprintln!(
        "20 of 20 failing: fleet tripped everywhere after {:?}",
        t0.elapsed()
    );
    assert!(
        t0.elapsed() < Duration::from_millis(1000 + 100 + 100 + 1500),
        "{:?}",
        t0.elapsed()
    );
    stop.store(true, Ordering::Relaxed);
    caller.join().unwrap();
    let mut sent = Counts::default();
    for m in &monitors {
        sent.add(&m.close().unwrap().acked[KEY]);
    }
    wait_totals(&rt, &s, KEY, sent);
}
