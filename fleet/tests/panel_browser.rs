//! End to end in headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over the W3C WebDriver protocol by a small
//! client written here (plain HTTP/JSON to chromedriver on loopback): the
//! page sees a key trip live, "Force healthy" is clicked and confirmed, the
//! page and every monitor show the force. Screenshots go to `target/`.

mod common;
mod panel_common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use panel_common::*;
use serde_json::{Value, json};

const KEY: &str = "acme.search.hotels";
const OTHER: &str = "acme.maps.geocode";
const WAIT: Duration = Duration::from_secs(30);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session on a chromedriver child; deleted, and chromedriver
/// killed by PID, on drop.
struct Browser {
    driver: Proc,
    port: u16,
    session: String,
    /// This browser's own profile directory: it names our chromium
    /// processes, so they can be found by PID if chromedriver dies first.
    profile: std::path::PathBuf,
}

impl Browser {
    fn start() -> Browser {
        for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: scripts/setup.sh installs chromium and chromium-driver"
            );
        }
        let port = free_port();
        let child = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let driver = Proc {
            child,
            name: "chromedriver".into(),
        };
        wait_for("chromedriver to answer", WAIT, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            let r = http(port, "GET", "/status", &[], None);
            (r.status == 200 && r.json()["value"]["ready"] == true).then_some(())
        });
        let profile = tmp_dir(&format!("chromium-profile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--no-first-run",
                    "--disable-dev-shm-usage", "--window-size=1400,1100",
                    format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            profile: profile.clone(),
        };
        let r = b.call("POST", "/session", Some(caps));
        b.session = r["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let r = http(
            self.port,
            method,
            path,
            &["Content-Type: application/json"],
            body.as_deref(),
        );
        let v = r.json();
        assert!(
            r.status == 200,
            "WebDriver {method} {path}: {} {v}",
            r.status
        );
        v["value"].clone()
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page and returns its value.
    fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            &self.s("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/click")),
            Some(json!({})),
        );
    }

    fn text_of(&self, css: &str) -> Option<String> {
        self.eval(&format!(
            "const e = document.querySelector({}); return e ? e.textContent : null;",
            json!(css)
        ))
        .as_str()
        .map(str::to_string)
    }

    fn screenshot(&self, path: &std::path::Path) {
        let v = self.call("GET", &self.s("/screenshot"), None);
        let png = base64(v.as_str().unwrap());
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Quits chromium; chromedriver itself is then killed by PID.
            let _ = http(self.port, "DELETE", &self.s(""), &[], None);
        }
        self.driver.kill9();
        // A session that never started (or a chromedriver that died) can
        // leave its chromium behind: stop the processes started with our
        // profile directory, by PID.
        let mark = format!("--user-data-dir={}", self.profile.display());
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                    continue;
                };
                let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                if cmd.split(|&b| b == 0).any(|a| a == mark.as_bytes()) {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .stderr(Stdio::null())
                        .status();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn step(t0: std::time::Instant, what: &str) {
    eprintln!("[browser test +{:.1}s] {what}", t0.elapsed().as_secs_f64());
}

fn card(key: &str, sel: &str) -> String {
    format!("article[data-key=\"{key}\"] {sel}")
}

#[test]
fn the_page_shows_a_trip_live_and_force_healthy_reaches_every_monitor() {
    let redis = Redis::start();
    let _p1 = processor(redis.port, "p1", FAST_LONG_OPEN);
    let _p2 = processor(redis.port, "p2", FAST_LONG_OPEN);
    let mut mons: Vec<SimProc> = (0..3)
        .map(|i| {
            sim(
                redis.port,
                &format!("m{i}"),
                &[KEY, OTHER],
                &["--flush-ms", "100"],
            )
        })
        .collect();
    let file = tmp_dir("panel").join("tokens-browser");
    std::fs::write(&file, format!("alice {TOKEN}\n")).unwrap();
    let pan = try_panel(redis.port, None, &["--token-file", file.to_str().unwrap()])
        .expect("panel starts");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&target).unwrap();

    // A batch from a hostile process: its host name is markup. The page
    // must show it as text, never run it.
    let evil = r#"<img src=x onerror="window.__xss=1">"#;
    let rt = rt();
    let store = redis.store();
    let batch = tripbit_fleet::Batch {
        id: tripbit_fleet::BatchId {
            monitor: "evil".into(),
            epoch: 1,
            seq: 1,
        },
        host: evil.into(),
        pid: 666,
        app: "<script>window.__xss=2</script>".into(),
        sent_ms: tripbit_fleet::model::wall_ms(),
        counts: [(
            KEY.to_string(),
            tripbit_fleet::Counts {
                success: 1,
                ..Default::default()
            },
        )]
        .into(),
    };
    rt.block_on(tripbit_fleet::Store::send_batch(&store, &batch))
        .unwrap();
    let t0 = std::time::Instant::now();
    let b = Browser::start();
    step(t0, "browser started");
    b.goto(&format!("http://127.0.0.1:{}/#token={TOKEN}", pan.port));
    wait_for("the page to show the key healthy", WAIT, || {
        (b.text_of(&card(KEY, ".state"))? == "healthy").then_some(())
    });
    step(t0, "key shown");
    wait_for("the live feed", WAIT, || {
        b.text_of("#live")?
            .contains("server-sent events")
            .then_some(())
    });
    assert_eq!(
        b.eval("return location.hash"),
        json!(""),
        "the token is taken out of the address bar"
    );
    // A trip shows up live, without a reload.
    let marker = b.eval("window.__noReload = 1; return 1");
    assert_eq!(marker, json!(1));
    for m in &mut mons {
        m.send(&format!("fail 100 {KEY}"));
    }
    wait_for("the page to show the trip", WAIT, || {
        (b.text_of(&card(KEY, ".state"))? == "unhealthy").then_some(())
    });
    assert_eq!(
        b.eval("return window.__noReload"),
        json!(1),
        "same page, updated live"
    );
    wait_for("the transition and its reason on the page", WAIT, || {
        let t = b.text_of(&card(KEY, "ul.transitions"))?;
        (t.contains("healthy → unhealthy") && t.contains("failure ratio")).then_some(())
    });
    wait_for("failing monitors marked", WAIT, || {
        let t = b.text_of(&card(KEY, "table.monitors"))?;
        (t.matches("last failure seen").count() == 3).then_some(())
    });
    assert!(b.text_of("#leader").unwrap().contains("leader p"));
    assert!(b.text_of("#processors").unwrap().contains("standby: p"));

    step(t0, "trip shown");
    // Force healthy: the button asks first; cancel changes nothing.
    b.click(&card(KEY, "button.force-healthy"));
    assert_eq!(
        b.eval("return document.getElementById('confirm').hidden"),
        json!(false)
    );
    assert!(b.text_of("#confirm-text").unwrap().contains(KEY));
    b.click("#confirm-no");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        hget(&rt, &redis.store(), "tb:forces", KEY),
        None,
        "cancelled: no force"
    );
    b.click(&card(KEY, "button.force-healthy"));
    b.click("#confirm-yes");
    wait_for("the page to show the force", WAIT, || {
        let forced = b.text_of(&card(KEY, ".forced"))?;
        let eff = b.eval(&format!(
            "return document.querySelector({}).dataset.effective",
            json!(format!("article[data-key=\"{KEY}\"]"))
        ));
        (forced.contains("forced healthy by panel:alice")
            && !forced.contains("reaching")
            && eff == "healthy")
            .then_some(())
    });
    step(t0, "force shown");
    for m in &mons {
        m.wait_state(KEY, "forced-healthy", WAIT);
    }
    // The computed state is still shown beside the force.
    assert_eq!(b.text_of(&card(KEY, ".state")).unwrap(), "unhealthy");
    std::thread::sleep(Duration::from_millis(1500)); // a few chart points more
    b.screenshot(&target.join("panel-screenshot.png"));

    // Escaping: nothing the server sends becomes markup.
    assert_eq!(
        b.eval("return document.querySelectorAll('#breakers script, #breakers img').length"),
        json!(0)
    );
    assert_eq!(b.eval("return window.__xss === undefined"), json!(true));
    let row = b
        .text_of(&card(KEY, "tr[data-monitor=\"evil\"]"))
        .expect("the hostile monitor is listed");
    assert!(row.contains(evil), "shown as text: {row}");

    // The polling fallback shows the same state.
    b.goto(&format!(
        "http://127.0.0.1:{}/?poll=1#token={TOKEN}",
        pan.port
    ));
    wait_for("the polling page to show the force", WAIT, || {
        let forced = b.text_of(&card(KEY, ".forced"));
        let live = b.text_of("#live");
        let (forced, live) = (forced?, live?);
        (forced.contains("forced healthy by panel:alice") && live.contains("polling")).then_some(())
    });
    step(t0, "polling page shown");

    // Redis goes away: the page says so plainly.
    let port = redis.port;
    drop(redis);
    wait_for("the page to say Redis is down", WAIT, || {
        let t = b.text_of("#banner")?;
        let shown = b.eval("return !document.getElementById('banner').hidden");
        (shown == true && t.contains("Redis is unreachable") && t.contains("NOT live"))
            .then_some(())
    });
    b.screenshot(&target.join("panel-screenshot-redis-down.png"));
    step(t0, "redis down shown");
    drop(b);
    step(t0, "browser closed");
    let _ = port;
    for m in &mut mons {
        m.proc.kill9();
    }
}
