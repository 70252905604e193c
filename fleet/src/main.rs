//! `tripbit-fleet`: the processor, operator commands and the demo.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tripbit_fleet::{
    Forced, MonitorConfig, Processor, ProcessorConfig, RedisStore, Store, set_force, sim,
};

mod demo;

const USAGE: &str = "\
usage: tripbit-fleet <command> [options]

commands:
  processor --redis URL [--prefix tb] [--id ID] [--failure-percent 50] [--min-calls 20]
            [--window-ms 10000] [--open-ms 5000] [--close-after 5]
            [--close-max-failure-percent 0] [--backoff-factor 2] [--backoff-max 4]
            [--slow-ms MS --slow-percent P] [--recover-after-skipped N]
            [--lease-ms 2000] [--tick-ms 250] [--poll-ms 20] [--silent-after-ms 30000]
            [--fleet-probes 5]
            [--alert-webhook http://HOST:PORT/PATH] [--alert-smtp HOST:PORT
             --alert-from ADDR --alert-to ADDR [--alert-to ADDR2]]
      Runs a processor; a second one started the same way stands by.
  force --redis URL --key KEY --state healthy|unhealthy|reset [--by WHO] [--prefix tb]
      Sets or clears an operator force (persisted in Redis).
  demo [--redis-port PORT]
      Starts redis-server, monitors and two processors, and narrates an upstream
      outage, a processor kill and a Redis outage.
  panel --redis URL [--listen 127.0.0.1:8080] [--token-file PATH] [--public-read] [--read-only]
      The admin panel (web page, JSON API, /metrics); `tripbit-fleet panel --help`.
  sim-monitor --redis URL --key KEY [--key KEY2] [--every-ms 2] [--flush-ms 250] [--id ID]
      A simulated service process (used by the demo and the tests).

URL: redis://HOST:PORT/DB (one server), or
     redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER-NAME[/DB] (the primary
     Redis Sentinel names; followed across failovers). A URL that does not
     parse is refused at start-up.
";

/// `--name value` options.
struct Args {
    opts: HashMap<String, Vec<String>>,
}

impl Args {
    fn parse(raw: &[String]) -> Result<Args, String> {
        let mut opts: HashMap<String, Vec<String>> = HashMap::new();
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                return Err(format!("unexpected argument {a:?}"));
            };
            let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            opts.entry(name.to_string()).or_default().push(v.clone());
        }
        Ok(Args { opts })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.opts
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.opts.get(name).cloned().unwrap_or_default()
    }

    fn need(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("--{name} is required"))
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: {v:?} is not a valid number")),
        }
    }

    fn check_known(&self, known: &[&str]) -> Result<(), String> {
        for k in self.opts.keys() {
            if !known.contains(&k.as_str()) {
                return Err(format!("unknown option --{k}"));
            }
        }
        Ok(())
    }
}

fn processor_config(a: &Args) -> Result<ProcessorConfig, String> {
    let d = ProcessorConfig::default();
    let ms = |name: &str, def: Duration| -> Result<Duration, String> {
        Ok(Duration::from_millis(a.num(name, def.as_millis() as u64)?))
    };
    let slow = match (a.get("slow-ms"), a.get("slow-percent")) {
        (None, None) => None,
        (Some(_), Some(_)) => Some((
            Duration::from_millis(a.num("slow-ms", 0)?),
            a.num("slow-percent", 0)?,
        )),
        _ => return Err("--slow-ms and --slow-percent go together".into()),
    };
    Ok(ProcessorConfig {
        id: a.get("id").map(str::to_string),
        failure_percent: a.num("failure-percent", d.failure_percent)?,
        min_calls: a.num("min-calls", d.min_calls)?,
        window: ms("window-ms", d.window)?,
        open_for: ms("open-ms", d.open_for)?,
        close_after: a.num("close-after", d.close_after)?,
        close_max_failure_percent: a
            .num("close-max-failure-percent", d.close_max_failure_percent)?,
        backoff: (
            a.num("backoff-factor", d.backoff.0)?,
            a.num("backoff-max", d.backoff.1)?,
        ),
        slow,
        recover_after_skipped: a.num("recover-after-skipped", d.recover_after_skipped)?,
        lease: ms("lease-ms", d.lease)?,
        poll: ms("poll-ms", d.poll)?,
        tick: ms("tick-ms", d.tick)?,
        silent_after: ms("silent-after-ms", d.silent_after)?,
        read_count: d.read_count,
        fleet_probes: a.num("fleet-probes", d.fleet_probes)?,
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn cmd_processor(a: &Args) -> Result<(), String> {
    a.check_known(&[
        "redis",
        "prefix",
        "id",
        "failure-percent",
        "min-calls",
        "window-ms",
        "open-ms",
        "close-after",
        "close-max-failure-percent",
        "backoff-factor",
        "backoff-max",
        "slow-ms",
        "slow-percent",
        "recover-after-skipped",
        "lease-ms",
        "tick-ms",
        "poll-ms",
        "silent-after-ms",
        "fleet-probes",
        "alert-webhook",
        "alert-smtp",
        "alert-from",
        "alert-to",
    ])?;
    let store = Arc::new(
        RedisStore::open(a.need("redis")?, a.get("prefix").unwrap_or("tb"))
            .map_err(|e| e.to_string())?,
    );
    let alerts = tripbit_fleet::alerts::AlertConfig::from_options(
        a.get("alert-webhook"),
        a.get("alert-smtp"),
        a.get("alert-from"),
        a.all("alert-to"),
    )
    .map_err(|e| e.to_string())?;
    let p = Processor::new(Arc::clone(&store) as Arc<dyn Store>, processor_config(a)?)
        .map_err(|e| e.to_string())?;
    runtime()?.block_on(async move {
        // Always attached: without channels it still counts transitions.
        let alerter = tripbit_fleet::alerts::Alerter::start(store, alerts);
        match alerter {
            Ok(al) => p.with_alerts(al).run(shutdown_signal()).await,
            Err(e) => eprintln!("tripbit-fleet processor: {e}"),
        }
    });
    Ok(())
}

fn cmd_force(a: &Args) -> Result<(), String> {
    a.check_known(&["redis", "prefix", "key", "state", "by"])?;
    let store = RedisStore::open(a.need("redis")?, a.get("prefix").unwrap_or("tb"))
        .map_err(|e| e.to_string())?;
    let state = match a.need("state")? {
        "reset" => None,
        s => Some(
            Forced::parse(s)
                .ok_or_else(|| format!("--state: {s:?} is not healthy, unhealthy or reset"))?,
        ),
    };
    let key = a.need("key")?;
    let by = a.get("by").unwrap_or("cli");
    runtime()?
        .block_on(set_force(&store as &dyn Store, key, state, by))
        .map_err(|e| e.to_string())?;
    println!(
        "{key}: {}",
        state.map_or("force cleared".to_string(), |s| format!(
            "forced {}",
            s.as_str()
        ))
    );
    Ok(())
}

fn cmd_sim(a: &Args) -> Result<i32, String> {
    a.check_known(&[
        "redis", "prefix", "key", "every-ms", "flush-ms", "id", "app",
    ])?;
    let keys = a.all("key");
    if keys.is_empty() {
        return Err("--key is required".into());
    }
    let monitor = MonitorConfig {
        id: a.get("id").map(str::to_string),
        app: a.get("app").unwrap_or("sim").to_string(),
        flush_interval: Duration::from_millis(a.num("flush-ms", 250)?),
        prefix: a.get("prefix").unwrap_or("tb").to_string(),
        ..MonitorConfig::default()
    };
    Ok(sim::run(sim::SimConfig {
        redis: a.need("redis")?.to_string(),
        keys,
        every: Duration::from_millis(a.num("every-ms", 2)?),
        monitor,
    }))
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = raw.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    if cmd == "panel" {
        // Own parser: --public-read and --read-only take no value.
        if rest.iter().any(|a| a == "--help" || a == "-h") {
            println!("{}", tripbit_fleet::panel::cli::USAGE);
            return ExitCode::SUCCESS;
        }
        return match tripbit_fleet::panel::cli::run(rest) {
            Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            Err(e) => {
                eprintln!(
                    "tripbit-fleet panel: {e}\n\n{}",
                    tripbit_fleet::panel::cli::USAGE
                );
                ExitCode::from(2)
            }
        };
    }
    let args = match Args::parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tripbit-fleet {cmd}: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let r = match cmd.as_str() {
        "processor" => cmd_processor(&args).map(|()| 0),
        "force" => cmd_force(&args).map(|()| 0),
        "sim-monitor" => cmd_sim(&args),
        "demo" => demo::run(&args.get("redis-port").map(str::to_string)),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(0)
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match r {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("tripbit-fleet {cmd}: {e}");
            ExitCode::from(2)
        }
    }
}
