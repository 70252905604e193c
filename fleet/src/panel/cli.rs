//! `tripbit-fleet panel` command-line parsing and start-up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{PanelConfig, Token, parse_tokens};
use crate::RedisStore;

/// Usage of the `panel` command.
pub const USAGE: &str = "\
panel --redis URL [--listen 127.0.0.1:8080] [--prefix tb] [--token-file PATH]
      [--public-read] [--read-only] [--sample-ms 1000]
    The admin panel: web page at /, JSON API under /api, Prometheus at /metrics.
    The token comes from TRIPBIT_PANEL_TOKEN or --token-file (lines `SECRET` or
    `ID SECRET`). Without a token it starts only with --public-read --read-only.";

/// Parsed options.
#[derive(Debug)]
pub struct PanelArgs {
    /// Redis URL.
    pub redis: String,
    /// Key prefix.
    pub prefix: String,
    /// The panel's settings.
    pub cfg: PanelConfig,
}

/// Parses the `panel` arguments; `env_token` is `TRIPBIT_PANEL_TOKEN`.
///
/// ```
/// use tripbit_fleet::panel::cli::parse;
/// let a: Vec<String> = ["--redis", "redis://127.0.0.1:6379/0", "--public-read", "--read-only"]
///     .iter().map(|s| s.to_string()).collect();
/// let p = parse(&a, None).unwrap();
/// assert!(p.cfg.public_read && p.cfg.read_only && p.cfg.listen.ip().is_loopback());
/// assert!(parse(&a[..2], None).is_err()); // no token, not public and read-only
/// ```
pub fn parse(raw: &[String], env_token: Option<&str>) -> Result<PanelArgs, String> {
    let mut redis = None;
    let mut prefix = "tb".to_string();
    let mut cfg = PanelConfig::default();
    let mut token_file = None;
    let mut it = raw.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--redis" => redis = Some(val()?),
            "--prefix" => prefix = val()?,
            "--listen" => {
                let v = val()?;
                cfg.listen = v.parse::<SocketAddr>().map_err(|_| {
                    format!("--listen: {v:?} is not an address like 127.0.0.1:8080")
                })?;
            }
            "--token-file" => token_file = Some(val()?),
            "--sample-ms" => {
                let v = val()?;
                let ms: u64 = v
                    .parse()
                    .ok()
                    .filter(|&n| (50..=60_000).contains(&n))
                    .ok_or_else(|| format!("--sample-ms: {v:?} is not 50..=60000"))?;
                cfg.sample_every = Duration::from_millis(ms);
            }
            "--public-read" => cfg.public_read = true,
            "--read-only" => cfg.read_only = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let redis = redis.ok_or("--redis is required")?;
    if let Some(t) = env_token.filter(|t| !t.is_empty()) {
        cfg.tokens
            .push(Token::new("env", t).map_err(|e| format!("TRIPBIT_PANEL_TOKEN: {}", e.0))?);
    }
    if let Some(path) = token_file {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("--token-file {path}: {e}"))?;
        cfg.tokens
            .extend(parse_tokens(&text).map_err(|e| format!("--token-file {path}: {e}"))?);
    }
    if cfg.tokens.is_empty() && !(cfg.public_read && cfg.read_only) {
        return Err(super::PanelError::NoToken.to_string());
    }
    Ok(PanelArgs { redis, prefix, cfg })
}

/// Runs the panel until SIGTERM or SIGINT. Returns the exit code.
pub fn run(raw: &[String]) -> Result<i32, String> {
    let env = std::env::var("TRIPBIT_PANEL_TOKEN").ok();
    let a = parse(raw, env.as_deref())?;
    let store = RedisStore::open(&a.redis, &a.prefix).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.cfg.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", a.cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        if !addr.ip().is_loopback() {
            eprintln!("tripbit-fleet panel: WARNING: listening on {addr}, not loopback");
        }
        eprintln!(
            "tripbit-fleet panel: listening on http://{addr}/ (redis {}, {} token(s){}{})",
            a.redis,
            a.cfg.tokens.len(),
            if a.cfg.public_read {
                ", public read"
            } else {
                ""
            },
            if a.cfg.read_only { ", read-only" } else { "" },
        );
        println!("listening http://{addr}/");
        super::serve(Arc::new(store), a.cfg, listener, shutdown())
            .await
            .map_err(|e| e.to_string())
    })?;
    Ok(0)
}

async fn shutdown() {
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

/// Starts `exe panel --redis URL --listen 127.0.0.1:0 --public-read`…
/// as a child with a fresh random token (the demo uses it). Returns the
/// child, the page's URL and the token.
pub fn spawn_child(
    exe: &std::path::Path,
    redis: &str,
) -> Result<(std::process::Child, String, String), String> {
    use std::io::BufRead;
    let token = format!(
        "{:016x}{:016x}",
        crate::model::random_u64(),
        crate::model::random_u64()
    );
    let mut child = std::process::Command::new(exe)
        .args(["panel", "--redis", redis, "--listen", "127.0.0.1:0"])
        .env("TRIPBIT_PANEL_TOKEN", &token)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the panel: {e}"))?;
    let Some(out) = child.stdout.take() else {
        let _ = child.kill();
        return Err("the panel has no stdout".into());
    };
    let mut line = String::new();
    let read = std::io::BufReader::new(out).read_line(&mut line);
    match (read, line.trim().strip_prefix("listening ")) {
        (Ok(_), Some(url)) => Ok((child, url.to_string(), token)),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            Err("the panel did not start".into())
        }
    }
}
