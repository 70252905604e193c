//! The fleet on a Redis primary with a replica and Redis Sentinel, all real
//! processes of Debian's `redis-server` on free loopback ports, stopped by
//! PID: the primary is killed with SIGKILL mid-traffic, the sentinel promotes
//! the replica, and the processor, the monitors (separate processes) and the
//! test's own store follow it through `redis+sentinel://` by themselves.
//! Every wait polls with a deadline.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use redis::Value;
use tripbit_fleet::model::wall_ms;
use tripbit_fleet::{Counts, Health, RedisStore, Store, StoreError};

const KEY: &str = "acme.search.hotels";
const WAIT: Duration = Duration::from_secs(15);
/// The sentinel's name for the primary.
const MASTER: &str = "tb";

/// A `redis-server` replicating `primary`; `dir` takes the RDB it loads
/// the initial sync from.
fn start_replica(port: u16, primary: u16, dir: &Path) -> Proc {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(["--replicaof", "127.0.0.1", &primary.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server must be installed (scripts/setup.sh installs it)");
    Proc {
        child,
        name: format!("replica:{port}"),
    }
}

/// `redis-server <conf> --sentinel` watching `primary` as [`MASTER`]: quorum
/// 1, down after 500 ms, failover timeout 2 s. The conf is written into
/// `dir`, which must stay writable (the sentinel rewrites it).
fn start_sentinel(port: u16, primary: u16, dir: &Path) -> (Proc, Lines) {
    let conf = dir.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {}\n\
             sentinel monitor {MASTER} 127.0.0.1 {primary} 1\n\
             sentinel down-after-milliseconds {MASTER} 500\n\
             sentinel failover-timeout {MASTER} 2000\n\
             sentinel parallel-syncs {MASTER} 1\n",
            dir.display()
        ),
    )
    .expect("write the sentinel conf");
    let mut child = Command::new("redis-server")
        .arg(&conf)
        .arg("--sentinel")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-server --sentinel");
    let log = Lines::follow(child.stdout.take().unwrap(), Some("[sentinel]".into()));
    let _err = Lines::follow(child.stderr.take().unwrap(), Some("[sentinel!]".into()));
    let p = Proc {
        child,
        name: format!("sentinel:{port}"),
    };
    wait_for("the sentinel to answer PING", WAIT, || {
        ping(port).then_some(())
    });
    (p, log)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| match x {
                Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
                Value::SimpleString(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        Value::BulkString(b) => String::from_utf8_lossy(b)
            .split("\r\n")
            .map(str::to_string)
            .collect(),
        Value::VerbatimString { text, .. } => text.split("\r\n").map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// The port the sentinel names as the primary.
fn named_primary(rt: &tokio::runtime::Runtime, sentinel: &RedisStore) -> Option<u16> {
    let v = rt
        .block_on(sentinel.raw(&["SENTINEL", "get-master-addr-by-name", MASTER]))
        .ok()?;
    strings(&v).get(1)?.parse().ok()
}

/// `INFO replication` of a server, as lines.
fn replication(rt: &tokio::runtime::Runtime, s: &RedisStore) -> Vec<String> {
    rt.block_on(s.raw(&["INFO", "replication"]))
        .map(|v| strings(&v))
        .unwrap_or_default()
}

fn acked(acks: &[(String, [u64; 5])], key: &str) -> Counts {
    let mut c = Counts::default();
    for (_, n) in acks.iter().filter(|(k, _)| k == key) {
        c.add(&Counts {
            success: n[0],
            failure: n[1],
            slow: n[2],
            rejected: n[3],
            local: n[4],
        });
    }
    c
}

fn le(a: &Counts, b: &Counts) -> bool {
    a.success <= b.success
        && a.failure <= b.failure
        && a.slow <= b.slow
        && a.rejected <= b.rejected
        && a.local <= b.local
}

/// The batch sequence numbers of `monitor` that never reached the store:
/// holes in its dedupe records (`w` = every seq up to w applied, `s<n>` =
/// n applied above w), up to the highest applied.
fn lost_batches(rt: &tokio::runtime::Runtime, s: &RedisStore, monitor: &str) -> Vec<u64> {
    let keys = strings(
        &rt.block_on(s.raw(&["KEYS", &format!("tb:dedupe:{monitor}:*")]))
            .unwrap(),
    );
    assert_eq!(keys.len(), 1, "one monitor run, one epoch: {keys:?}");
    let f = strings(&rt.block_on(s.raw(&["HGETALL", &keys[0]])).unwrap());
    let mut w = 0;
    let mut above = BTreeSet::new();
    for kv in f.chunks(2) {
        if let [k, v] = kv {
            if k == "w" {
                w = v.parse().unwrap();
            } else if let Some(n) = k.strip_prefix('s') {
                above.insert(n.parse::<u64>().unwrap());
            }
        }
    }
    let top = above.last().copied().unwrap_or(w);
    (w + 1..top).filter(|n| !above.contains(n)).collect()
}

#[test]
fn sentinel_failover_after_kill9_the_fleet_follows_the_promoted_replica() {
    let rt = rt();
    let primary = Redis::start();
    let replica_port = free_port();
    let dir = tmp_dir(&format!("sentinel-{replica_port}"));
    let _replica = start_replica(replica_port, primary.port, &dir);
    let replica_direct = RedisStore::open(&url(replica_port), "tb").unwrap();
    // Attached before the sentinel starts, so its first INFO finds the replica.
    wait_for("the replica to sync", WAIT, || {
        replication(&rt, &replica_direct)
            .iter()
            .any(|l| l == "master_link_status:up")
            .then_some(())
    });
    let sentinel_port = free_port();
    let (_sentinel, sentinel_log) = start_sentinel(sentinel_port, primary.port, &dir);
    let sentinel = RedisStore::open(&url(sentinel_port), "tb").unwrap();
    wait_for("the sentinel to know the replica", WAIT, || {
        let v = rt
            .block_on(sentinel.raw(&["SENTINEL", "replicas", MASTER]))
            .ok()?;
        let Value::Array(rs) = v else { return None };
        rs.iter()
            .any(|r| {
                let f = strings(r);
                f.iter().any(|x| x == &replica_port.to_string())
                    && f.windows(2).any(|p| p[0] == "flags" && p[1] == "slave")
            })
            .then_some(())
    });
    assert_eq!(named_primary(&rt, &sentinel), Some(primary.port));

    // Everything goes through the sentinel URL: processor, monitors, the test's store.
    let store_url = format!("redis+sentinel://127.0.0.1:{sentinel_port}/{MASTER}/0");
    let s = RedisStore::open(&store_url, "tb").unwrap();
    let _p = processor_at(&store_url, "sp", FAST);
    wait_for("sp to lead", WAIT, || {
        (rt.block_on(s.leader()).ok()??.id == "sp").then_some(())
    });
    let mut mons: Vec<(SimProc, Lines)> = (0..3)
        .map(|i| {
            sim_at(
                &store_url,
                &format!("s{i}"),
                &[KEY],
                &["--flush-ms", "100", "--every-ms", "2"],
            )
        })
        .collect();
    for (m, _) in &mut mons {
        m.send("fail 10");
    }
    wait_for("batches applied from every monitor", WAIT, || {
        mons.iter()
            .all(|(m, _)| {
                hget(&rt, &s, &format!("tb:monitor:{}", m.id), "batches")
                    .and_then(|b| b.parse::<u64>().ok())
                    > Some(3)
            })
            .then_some(())
    });
    let before_kill = rt.block_on(s.key_totals(KEY)).unwrap();

    // kill -9 the primary mid-traffic; the sentinel promotes the replica.
    let mut primary = primary;
    let killed_wall = wall_ms();
    let t0 = Instant::now();
    primary.proc.kill9();
    wait_for("the sentinel to promote the replica", WAIT, || {
        (named_primary(&rt, &sentinel)? == replica_port).then_some(())
    });
    let promoted = t0.elapsed();
    // (The sentinel kills the promoted replica's client connections: poll.)
    wait_for("the replica to report itself a primary", WAIT, || {
        replication(&rt, &replica_direct)
            .iter()
            .any(|l| l == "role:master")
            .then_some(())
    });
    sentinel_log.wait("the sentinel to log the switch", WAIT, |l| {
        l.contains("+switch-master")
    });

    // Everyone reconnects by itself: each monitor's batches reach the new
    // primary and are applied there by the processor.
    wait_for(
        "every monitor's batches applied on the new primary",
        WAIT,
        || {
            mons.iter()
                .all(|(m, _)| {
                    hget(&rt, &s, &format!("tb:monitor:{}", m.id), "last_seen_ms")
                        .and_then(|v| v.parse::<u64>().ok())
                        > Some(killed_wall + 100)
                })
                .then_some(())
        },
    );
    let resumed = t0.elapsed();
    let via_test_store: String = strings(&rt.block_on(s.raw(&["INFO", "server"])).unwrap())
        .into_iter()
        .find(|l| l.starts_with("tcp_port:"))
        .unwrap();
    assert_eq!(via_test_store, format!("tcp_port:{replica_port}"));
    wait_for("a leader heartbeat on the new primary", WAIT, || {
        let l = rt.block_on(s.leader()).ok()??;
        (l.id == "sp" && l.at_ms > killed_wall).then_some(())
    });
    eprintln!(
        "sentinel failover: replica promoted {promoted:?} after kill -9 \
         (down-after 500 ms); batches of every monitor applied again {resumed:?} after"
    );

    // A trip still propagates after the failover...
    let t1 = Instant::now();
    for (m, _) in &mut mons {
        m.send(&format!("fail 100 {KEY}"));
    }
    for (m, _) in &mons {
        m.wait_state(KEY, "unhealthy", WAIT);
    }
    let tripped = t1.elapsed();
    assert_eq!(
        rt.block_on(s.verdict_index()).unwrap()[KEY].state,
        Health::Unhealthy
    );
    // ...and so does a forced state, set with the CLI through the sentinel.
    for (m, _) in &mut mons {
        m.send("fail 0");
    }
    let force = |state: &str| {
        let st = Command::new(BIN)
            .args(["force", "--redis", &store_url, "--key", KEY])
            .args(["--state", state, "--by", "sentinel-test"])
            .status()
            .unwrap();
        assert!(st.success(), "force {state}");
    };
    let t2 = Instant::now();
    force("healthy");
    for (m, _) in &mons {
        m.wait_state(KEY, "forced-healthy", WAIT);
    }
    let forced = t2.elapsed();
    assert_eq!(
        hget(&rt, &s, &format!("tb:verdict:{KEY}"), "forced_by").as_deref(),
        Some("sentinel-test")
    );
    force("reset");
    for (m, _) in &mons {
        wait_for("force cleared", WAIT, || {
            (m.last_state(KEY).as_deref() == Some("healthy")).then_some(())
        });
    }
    eprintln!("after the failover: trip seen by all in {tripped:?}, force in {forced:?}");

    // Totals: what the monitors sent, minus only the batches the old primary
    // acknowledged but had not replicated when it died.
    let acks: Vec<Vec<(String, [u64; 5])>> = mons.iter_mut().map(|(m, _)| m.quit()).collect();
    wait_for("the stream to drain", WAIT, || {
        let backlog = rt.block_on(s.backlog()).ok()?;
        let pending = rt
            .block_on(s.raw(&["XPENDING", "tb:batches", "processors"]))
            .ok()?;
        let none_pending =
            matches!(&pending, Value::Array(a) if matches!(a.first(), Some(Value::Int(0))));
        (backlog == 0 && none_pending).then_some(())
    });
    let mut sent = Counts::default();
    let mut lost = Counts::default();
    let mut lost_batches_total = 0;
    for ((m, _), a) in mons.iter().zip(&acks) {
        let mine = acked(a, KEY);
        sent.add(&mine);
        let got = rt.block_on(s.monitor_totals(&m.id)).unwrap();
        assert!(
            le(&got, &mine),
            "{}: nothing counted twice: {got:?} <= {mine:?}",
            m.id
        );
        let holes = lost_batches(&rt, &s, &m.id);
        let gone = Counts {
            success: mine.success - got.success,
            failure: mine.failure - got.failure,
            slow: mine.slow - got.slow,
            rejected: mine.rejected - got.rejected,
            local: mine.local - got.local,
        };
        assert_eq!(
            holes.is_empty(),
            gone.total() == 0,
            "{}: counts are missing exactly when batches are ({holes:?}, {gone:?})",
            m.id
        );
        // One batch in flight per monitor at the kill; replication on
        // loopback is far faster than the 100 ms between batches.
        assert!(holes.len() <= 1, "{}: lost batches {holes:?}", m.id);
        lost_batches_total += holes.len();
        lost.add(&gone);
    }
    let totals = rt.block_on(s.key_totals(KEY)).unwrap();
    let mut check = totals;
    check.add(&lost);
    assert_eq!(check, sent, "fleet totals + lost = what the monitors sent");
    assert!(totals.total() > before_kill.total());
    assert!(
        sent.failure > 0 && sent.success > 0 && sent.rejected > 0,
        "{sent:?}"
    );
    eprintln!(
        "totals after the failover: sent {} calls, fleet counted {}, lost at the failover {} \
         calls in {lost_batches_total} batches (acknowledged by the old primary, not replicated)",
        sent.total(),
        totals.total(),
        lost.total()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A stand-in sentinel that answers `SENTINEL get-master-addr-by-name`
/// with the port in `names` (nil for 0) and an error to anything else:
/// a sentinel whose answer the test controls, to replay a stale one.
struct FakeSentinel {
    port: u16,
    names: Arc<AtomicU16>,
    asked: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl FakeSentinel {
    fn start() -> FakeSentinel {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let names = Arc::new(AtomicU16::new(0));
        let asked = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, a, st) = (names.clone(), asked.clone(), stop.clone());
        std::thread::spawn(move || {
            // Ordering: Relaxed for the flag and the two values: test
            // plumbing, publishing no other memory.
            while !st.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((sock, _)) => {
                        let (n, a) = (n.clone(), a.clone());
                        std::thread::spawn(move || serve(sock, &n, &a));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        FakeSentinel {
            port,
            names,
            asked,
            stop,
        }
    }

    fn name(&self, port: u16) {
        // Ordering: Relaxed: see `start`.
        self.names.store(port, Ordering::Relaxed);
    }

    fn asked(&self) -> u64 {
        // Ordering: Relaxed: see `start`.
        self.asked.load(Ordering::Relaxed)
    }
}

impl Drop for FakeSentinel {
    fn drop(&mut self) {
        // Ordering: Relaxed: see `start`.
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads RESP commands (`*n` arrays of `$len` strings) and answers them.
fn serve(sock: TcpStream, names: &AtomicU16, asked: &AtomicU64) {
    let _ = sock.set_nonblocking(false);
    let mut w = sock.try_clone().unwrap();
    let mut r = BufReader::new(sock);
    let mut line = String::new();
    let mut read_line = |r: &mut BufReader<TcpStream>| -> Option<String> {
        line.clear();
        (r.read_line(&mut line).ok()? > 0).then(|| line.trim_end().to_string())
    };
    while let Some(head) = read_line(&mut r) {
        let Some(n) = head.strip_prefix('*').and_then(|n| n.parse::<usize>().ok()) else {
            return;
        };
        let mut args = Vec::new();
        for _ in 0..n {
            let Some(len) = read_line(&mut r)
                .and_then(|l| l.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()))
            else {
                return;
            };
            let mut buf = vec![0u8; len + 2];
            if r.read_exact(&mut buf).is_err() {
                return;
            }
            buf.truncate(len);
            args.push(String::from_utf8_lossy(&buf).to_ascii_lowercase());
        }
        let reply =
            if args.len() == 3 && args[0] == "sentinel" && args[1] == "get-master-addr-by-name" {
                // Ordering: Relaxed: see `FakeSentinel::start`.
                asked.fetch_add(1, Ordering::Relaxed);
                match names.load(Ordering::Relaxed) {
                    0 => "*-1\r\n".to_string(),
                    p => {
                        let p = p.to_string();
                        format!("*2\r\n$9\r\n127.0.0.1\r\n${}\r\n{p}\r\n", p.len())
                    }
                }
            } else {
                "-ERR unknown command\r\n".to_string()
            };
        if w.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn set(rt: &tokio::runtime::Runtime, s: &RedisStore, v: &str) -> Result<(), StoreError> {
    rt.block_on(s.raw(&["SET", "tb:probe", v])).map(|_| ())
}

#[test]
fn a_stale_sentinel_answer_or_a_demoted_primary_sends_the_store_back_to_the_sentinels() {
    let rt = rt();
    let a = Redis::start();
    let b = Redis::start();
    let (da, db) = (a.store(), b.store());
    rt.block_on(db.raw(&["REPLICAOF", "127.0.0.1", &a.port.to_string()]))
        .unwrap();
    let fake = FakeSentinel::start();
    let s = RedisStore::open(
        &format!("redis+sentinel://127.0.0.1:{}/{MASTER}", fake.port),
        "tb",
    )
    .unwrap();

    // A sentinel that knows no such master: a clear error, nothing else.
    let e = set(&rt, &s, "0").unwrap_err();
    assert!(
        e.to_string().contains("does not monitor a master named"),
        "{e}"
    );

    // A sentinel naming a replica: ROLE refuses it.
    fake.name(b.port);
    let e = set(&rt, &s, "1").unwrap_err();
    assert!(e.to_string().contains("not a primary (ROLE slave)"), "{e}");

    // Naming the primary: the store connects and stays connected.
    fake.name(a.port);
    set(&rt, &s, "2").unwrap();
    set(&rt, &s, "3").unwrap();
    let asked = fake.asked();

    // The primary is demoted while the store is connected to it (B promoted,
    // A made its replica) and the sentinel names B. The store's next write
    // reaches A and gets READONLY; it drops that connection and asks again.
    rt.block_on(db.raw(&["REPLICAOF", "NO", "ONE"])).unwrap();
    rt.block_on(da.raw(&["REPLICAOF", "127.0.0.1", &b.port.to_string()]))
        .unwrap();
    fake.name(b.port);
    let e = set(&rt, &s, "4").unwrap_err();
    assert!(
        matches!(&e, StoreError::Server { code, .. } if code == "READONLY"),
        "{e:?}"
    );
    assert_eq!(fake.asked(), asked, "READONLY came from the old connection");
    set(&rt, &s, "5").unwrap();
    assert_eq!(fake.asked(), asked + 1, "asked the sentinel again");
    assert_eq!(
        rt.block_on(db.raw(&["GET", "tb:probe"])).unwrap(),
        Value::BulkString(b"5".to_vec())
    );
}

#[test]
fn a_sentinel_url_that_does_not_parse_is_refused_at_start_up() {
    for (url, why) in [
        (
            "redis+sentinel://127.0.0.1:26379",
            "expected /<master-name>",
        ),
        ("redis+sentinel://127.0.0.1:0/tb", "not 1..=65535"),
        ("redis+sentinel://u:pw@127.0.0.1/tb", "credentials"),
    ] {
        for cmd in [
            &["processor", "--redis", url][..],
            &["force", "--redis", url, "--key", KEY, "--state", "reset"][..],
            &["sim-monitor", "--redis", url, "--key", KEY][..],
        ] {
            let out = Command::new(BIN)
                .args(cmd)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd:?}: {err}");
            assert!(err.contains(why), "{cmd:?}: {err}");
        }
    }
}

#[test]
fn a_blackholed_sentinel_costs_one_timeout_then_the_next_is_asked() {
    let rt = rt();
    let redis = Redis::start();
    // First in the list: accepts connections and never answers.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_port = hole.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut socks = Vec::new();
        for s in hole.incoming().take(1) {
            socks.push(s);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let fake = FakeSentinel::start();
    fake.name(redis.port);
    let s = RedisStore::open(
        &format!(
            "redis+sentinel://127.0.0.1:{hole_port},127.0.0.1:{}/{MASTER}",
            fake.port
        ),
        "tb",
    )
    .unwrap();
    let t = Instant::now();
    set(&rt, &s, "1").unwrap();
    let took = t.elapsed();
    eprintln!("past a blackholed sentinel in {took:?}");
    // One connect timeout (500 ms, plus 100 ms of grace) for the hole, not a hang.
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(fake.asked(), 1);
    assert_eq!(
        rt.block_on(redis.store().raw(&["GET", "tb:probe"]))
            .unwrap(),
        Value::BulkString(b"1".to_vec())
    );
    drop(held);
}
