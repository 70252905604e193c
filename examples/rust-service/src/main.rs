//! `tripbit-rust-service`: runs the example service on 127.0.0.1.
//!
//! ```text
//! tripbit-rust-service [--port N] [--upstream demo|127.0.0.1:PORT]
//!                      [--failures N] [--open-ms N] [--timeout-ms N]
//! ```
//!
//! The port also comes from `TRIPBIT_PORT` (default 3000; 0 picks a free
//! one) and the upstream from `TRIPBIT_UPSTREAM` (default `demo`: start the
//! demo upstream on a free loopback port). Everything stays on loopback: a
//! non-loopback upstream is refused. Ctrl-C (or SIGTERM) stops it gracefully:
//! requests in flight finish first.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use tokio::net::TcpListener;
use tripbit_rust_service::Settings;
use tripbit_rust_service::upstream::Upstream;

const USAGE: &str = "\
usage: tripbit-rust-service [--port N] [--upstream demo|127.0.0.1:PORT]
                            [--failures N] [--open-ms N] [--timeout-ms N]

  --port N         listen on 127.0.0.1:N (env TRIPBIT_PORT; default 3000, 0 = any free port)
  --upstream U     `demo` starts the demo upstream (the default), or a loopback
                   address whose GET /quote answers JSON (env TRIPBIT_UPSTREAM)
  --failures N     consecutive failures that open the breaker (default 5)
  --open-ms N      how long it stays open, in ms (default 5000)
  --timeout-ms N   upstream timeout, in ms; a timeout is a failure (default 1000)";

/// Where the upstream is.
#[derive(Debug, PartialEq, Eq)]
enum UpstreamArg {
    /// Start the demo upstream.
    Demo,
    /// An existing upstream on loopback.
    At(SocketAddr),
}

#[derive(Debug)]
struct Args {
    port: u16,
    upstream: UpstreamArg,
    settings: Settings,
}

/// Parses the command line (without the program name), falling back to
/// `env` for the port and the upstream. `Ok(None)`: help was asked for.
fn parse_args(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Args>, String> {
    let mut port = env("TRIPBIT_PORT");
    let mut upstream = env("TRIPBIT_UPSTREAM");
    let mut settings = Settings::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (flag, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--port" => port = Some(value()?),
            "--upstream" => upstream = Some(value()?),
            "--failures" => settings.failures = number(&name, &value()?)?,
            "--open-ms" => settings.open = Duration::from_millis(number(&name, &value()?)?),
            "--timeout-ms" => settings.timeout = Duration::from_millis(number(&name, &value()?)?),
            _ => return Err(format!("unknown argument {name:?}")),
        }
    }
    settings.validate()?;
    let port = match port {
        Some(p) => number("the port", &p)?,
        None => 3000,
    };
    let upstream = match upstream.as_deref() {
        None | Some("demo") => UpstreamArg::Demo,
        Some(addr) => UpstreamArg::At(loopback(addr)?),
    };
    Ok(Some(Args {
        port,
        upstream,
        settings,
    }))
}

fn number<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{what}: {s:?} is not a valid number"))
}

/// A loopback socket address (`localhost:PORT` is read as `127.0.0.1:PORT`).
fn loopback(s: &str) -> Result<SocketAddr, String> {
    let addr = match s.strip_prefix("localhost:") {
        Some(port) => SocketAddr::from((Ipv4Addr::LOCALHOST, number("the upstream port", port)?)),
        None => s
            .parse::<SocketAddr>()
            .map_err(|_| format!("upstream {s:?} is not `demo` nor an IP:PORT address"))?,
    };
    if !addr.ip().is_loopback() {
        return Err(format!(
            "upstream {addr} is not on loopback; this example only talks to 127.0.0.1 / ::1"
        ));
    }
    Ok(addr)
}

/// Resolves on Ctrl-C, or on SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("cannot listen for Ctrl-C ({e}); stop the process by its id");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("shutting down: finishing the requests in flight");
}

async fn run(args: Args) -> std::io::Result<()> {
    // Kept alive until the end of `run`: its server task runs on this runtime.
    let (upstream_addr, demo) = match args.upstream {
        UpstreamArg::Demo => {
            let demo = Upstream::spawn().await?;
            (demo.addr(), Some(demo))
        }
        UpstreamArg::At(addr) => (addr, None),
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, args.port)).await?;
    let addr = listener.local_addr()?;
    let (router, _state) = tripbit_rust_service::app(&args.settings, upstream_addr);
    let s = &args.settings;
    println!("listening on http://{addr}");
    println!(
        "breaker: opens after {} failures in a row for {:?}; upstream timeout {:?}",
        s.failures, s.open, s.timeout
    );
    if demo.is_some() {
        println!(
            "demo upstream on http://{upstream_addr}; switch it with \
             curl -X PUT http://{upstream_addr}/mode/{{ok|fail|hang|missing}}"
        );
    } else {
        println!("upstream: http://{upstream_addr}/quote");
    }
    println!("try: curl http://{addr}/api/quote ; curl http://{addr}/metrics");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    println!("stopped");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("tripbit-rust-service: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tripbit-rust-service: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Option<Args>, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse_args(args.iter().map(|s| (*s).to_owned()), move |k| {
            env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults() {
        let a = parse(&[], &[]).unwrap().unwrap();
        assert_eq!(a.port, 3000);
        assert_eq!(a.upstream, UpstreamArg::Demo);
        assert_eq!(a.settings.failures, Settings::default().failures);
    }

    #[test]
    fn flags_override_env() {
        let a = parse(
            &[
                "--port",
                "8081",
                "--upstream=localhost:9000",
                "--failures",
                "2",
                "--open-ms=250",
                "--timeout-ms",
                "100",
            ],
            &[("TRIPBIT_PORT", "7000"), ("TRIPBIT_UPSTREAM", "demo")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.port, 8081);
        assert_eq!(
            a.upstream,
            UpstreamArg::At("127.0.0.1:9000".parse().unwrap())
        );
        assert_eq!(a.settings.failures, 2);
        assert_eq!(a.settings.open, Duration::from_millis(250));
        assert_eq!(a.settings.timeout, Duration::from_millis(100));
        let a = parse(&[], &[("TRIPBIT_PORT", "7000")]).unwrap().unwrap();
        assert_eq!(a.port, 7000);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(parse(&["--help"], &[]).unwrap().is_none());
        let err = |args: &[&str]| parse(args, &[]).unwrap_err();
        assert!(err(&["--upstream", "10.0.0.1:80"]).contains("not on loopback"));
        assert!(err(&["--upstream", "example.com:80"]).contains("not `demo`"));
        assert!(err(&["--port", "http"]).contains("not a valid number"));
        assert!(err(&["--port"]).contains("needs a value"));
        assert!(err(&["--failures", "0"]).contains("at least 1"));
        assert!(err(&["--open-ms", "0"]).contains("open_ticks"));
        assert!(err(&["--timeout-ms", "0"]).contains("timeout"));
        assert!(err(&["--verbose"]).contains("unknown argument"));
        assert!(parse(&["--upstream", "[::1]:80"], &[]).is_ok());
    }
}
