//! Alerts from the processors, against a local HTTP receiver and a local
//! SMTP sink started here (loopback only): one alert per key and state
//! change, across a failover, retried when the receiver fails at first.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::Value;

const KEY: &str = "acme.search.hotels";
const WAIT: Duration = Duration::from_secs(30);

/// An HTTP receiver: answers 500 to the first `fail_first` requests, 200
/// after, and keeps the bodies it accepted.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Value>>>,
    requests: Arc<AtomicUsize>,
}

fn receiver(fail_first: usize) -> Receiver {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(AtomicUsize::new(0));
    let (g, n) = (Arc::clone(&got), Arc::clone(&requests));
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            // Ordering: SeqCst: a test counter read by the test thread.
            let k = n.fetch_add(1, Ordering::SeqCst);
            if k < fail_first {
                let _ = s.write_all(b"HTTP/1.1 500 Nope\r\nContent-Length: 0\r\n\r\n");
                continue;
            }
            if first.starts_with("POST ") {
                if let Ok(v) = serde_json::from_slice(&body) {
                    g.lock().unwrap().push(v);
                }
            }
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    Receiver {
        port,
        got,
        requests,
    }
}

/// A tiny SMTP sink: enough of RFC 5321 for one client at a time; keeps
/// each message's DATA.
struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<String>>>,
}

fn smtp_sink() -> Sink {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let m = Arc::clone(&mails);
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let mut r = BufReader::new(s.try_clone().unwrap());
                let _ = s.write_all(b"220 sink.test ESMTP\r\n");
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink.test\r\n250 8BITMIME\r\n",
                        "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" => {
                            let _ = s.write_all(b"354 end with <CRLF>.<CRLF>\r\n");
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                if r.read_line(&mut l).unwrap_or(0) == 0 {
                                    return;
                                }
                                if l == ".\r\n" {
                                    break;
                                }
                                data.push_str(&l);
                            }
                            m.lock().unwrap().push(data);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = s.write_all(b"221 bye\r\n");
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    let _ = s.write_all(reply);
                }
            });
        }
    });
    Sink { port, mails }
}

fn alerts_for(r: &Receiver, kind: &str) -> Vec<Value> {
    r.got
        .lock()
        .unwrap()
        .iter()
        .filter(|v| v["kind"] == kind && v["key"] == KEY)
        .cloned()
        .collect()
}

fn mails_with(s: &Sink, needle: &str) -> usize {
    s.mails
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.contains(needle))
        .count()
}

#[test]
fn trip_recovery_and_silence_alert_once_each_across_failover() {
    let hook = receiver(2); // the first two deliveries fail: retried
    let sink = smtp_sink();
    let redis = Redis::start();
    let rt = rt();
    let s = redis.store();
    let webhook = format!("http://127.0.0.1:{}/alerts", hook.port);
    let smtp = format!("127.0.0.1:{}", sink.port);
    let alerting = [
        "--silent-after-ms",
        "1500",
        "--alert-webhook",
        &webhook,
        "--alert-smtp",
        &smtp,
        "--alert-from",
        "tripbit@fleet.test",
        "--alert-to",
        "ops@fleet.test",
    ];
    let flags: Vec<&str> = FAST.iter().copied().chain(alerting).collect();
    let mut p1 = processor(redis.port, "p1", &flags);
    wait_for("p1 to lead", WAIT, || {
        (rt.block_on(tripbit_fleet::Store::leader(&s)).ok()??.id == "p1").then_some(())
    });
    let _p2 = processor(redis.port, "p2", &flags);
    let mut mons: Vec<SimProc> = (0..2)
        .map(|i| sim(redis.port, &format!("m{i}"), &[KEY], &["--flush-ms", "100"]))
        .collect();

    for m in &mut mons {
        m.send("fail 100");
    }
    let trip = wait_for("the trip alert on the webhook", WAIT, || {
        alerts_for(&hook, "trip").pop()
    });
    assert!(
        trip["detail"]
            .as_str()
            .unwrap()
            .contains("healthy -> unhealthy"),
        "{trip}"
    );
    assert!(trip["version"].as_u64().unwrap() > 0);
    // Ordering: SeqCst: pairs with the receiver's counter.
    assert!(
        hook.requests.load(Ordering::SeqCst) >= 3,
        "the first two failed and were retried"
    );
    wait_for("the trip e-mail", WAIT, || {
        (mails_with(&sink, "tripped: unhealthy") == 1).then_some(())
    });
    let mail = sink.mails.lock().unwrap()[0].clone();
    assert!(
        mail.contains("From: tripbit@fleet.test") && mail.contains("To: ops@fleet.test"),
        "{mail}"
    );

    // The leader dies; the standby takes over and must not resend the trip.
    let leader = rt
        .block_on(tripbit_fleet::Store::leader(&s))
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(leader, "p1");
    p1.proc.kill9();
    wait_for("p2 to lead", WAIT, || {
        (rt.block_on(tripbit_fleet::Store::leader(&s)).ok()??.id == "p2").then_some(())
    });
    for m in &mut mons {
        m.send("fail 0");
    }
    let rec = wait_for("the recovery alert", WAIT, || {
        alerts_for(&hook, "recover").pop()
    });
    assert_eq!(rec["processor"], "p2");
    assert!(rec["version"].as_u64() > trip["version"].as_u64());
    wait_for("the recovery e-mail", WAIT, || {
        (mails_with(&sink, "recovered: healthy") == 1).then_some(())
    });

    // The monitors stop: no batches for the key, one silence alert.
    for m in &mut mons {
        m.quit();
    }
    wait_for("the key-silent alert", WAIT, || {
        alerts_for(&hook, "key-silent").pop()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        alerts_for(&hook, "trip").len(),
        1,
        "one trip alert: {:?}",
        hook.got.lock().unwrap()
    );
    assert_eq!(alerts_for(&hook, "recover").len(), 1, "one recovery alert");
    assert_eq!(
        alerts_for(&hook, "key-silent").len(),
        1,
        "one silence alert"
    );
    assert_eq!(mails_with(&sink, "tripped: unhealthy"), 1);
    assert_eq!(mails_with(&sink, "recovered: healthy"), 1);
    assert_eq!(mails_with(&sink, "no batches"), 1);
    // Every transition counted once (trip, recovering, healthy at least).
    let n: u64 = hget(&rt, &s, "tb:transition-counts", KEY)
        .unwrap()
        .parse()
        .unwrap();
    let logged = lrange(&rt, &s, &format!("tb:transitions:{KEY}")).len() as u64;
    assert_eq!(n, logged, "the counter matches the transition log");
    assert!(n >= 3);
}

#[test]
fn bad_alert_options_are_refused() {
    let redis = Redis::start();
    for bad in [
        vec!["--alert-webhook", "https://example.invalid/"],
        vec!["--alert-smtp", "nohost"],
        vec!["--alert-smtp", "127.0.0.1:25"],
        vec![
            "--alert-smtp",
            "127.0.0.1:25",
            "--alert-from",
            "not an address",
            "--alert-to",
            "a@b.c",
        ],
        vec!["--alert-to", "ops@fleet.test"],
    ] {
        let st = std::process::Command::new(BIN)
            .args(["processor", "--redis", &redis.url()])
            .args(&bad)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn a_silent_leader_alerts_once_though_two_standbys_notice() {
    let hook = receiver(0);
    let redis = Redis::start();
    let rt = rt();
    let s = redis.store();
    let webhook = format!("http://127.0.0.1:{}/alerts", hook.port);
    // Renewals every lease/4 = 1 s; silent after 2.5 s; the lease ends at 4 s.
    let flags = [
        "--tick-ms",
        "100",
        "--lease-ms",
        "4000",
        "--silent-after-ms",
        "2500",
        "--alert-webhook",
        &webhook,
    ];
    let p1 = processor(redis.port, "p1", &flags);
    wait_for("p1 to lead", WAIT, || {
        (rt.block_on(tripbit_fleet::Store::leader(&s)).ok()??.id == "p1").then_some(())
    });
    let _p2 = processor(redis.port, "p2", &flags);
    let _p3 = processor(redis.port, "p3", &flags);
    let mut m = sim(redis.port, "m0", &[KEY], &["--flush-ms", "100"]);
    std::thread::sleep(Duration::from_millis(500));
    p1.proc.signal("STOP");
    let silent = |h: &Receiver| -> Vec<Value> {
        h.got
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["kind"] == "processor-silent")
            .cloned()
            .collect()
    };
    let a = wait_for("the silent-leader alert", WAIT, || silent(&hook).pop());
    assert!(a["detail"].as_str().unwrap().contains("leader p1"), "{a}");
    wait_for("a standby to take over", WAIT, || {
        let id = rt.block_on(tripbit_fleet::Store::leader(&s)).ok()??.id;
        (id != "p1").then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        silent(&hook).len(),
        1,
        "one alert: {:?}",
        hook.got.lock().unwrap()
    );
    m.quit();
}
