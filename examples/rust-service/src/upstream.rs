//! The demo upstream: a second axum server on 127.0.0.1 whose `/quote`
//! answers, fails (HTTP 500), hangs or answers 404 (a client error), as
//! switched by [`Upstream::set_mode`] or `PUT /mode/{ok|fail|hang|missing}`.
//! It counts every request that reaches it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::json;
use tokio::net::TcpListener;

/// How the upstream answers `/quote`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// 200 with a JSON quote.
    Healthy = 0,
    /// 500 at once.
    Failing = 1,
    /// Never answers (the client's timeout has to give up).
    Hanging = 2,
    /// 404 at once: a client error, which is not the upstream's fault.
    Missing = 3,
}

impl Mode {
    fn from_u8(v: u8) -> Mode {
        match v {
            1 => Mode::Failing,
            2 => Mode::Hanging,
            3 => Mode::Missing,
            _ => Mode::Healthy,
        }
    }

    /// The mode for `ok`, `fail`, `hang` or `missing`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "ok" => Some(Mode::Healthy),
            "fail" => Some(Mode::Failing),
            "hang" => Some(Mode::Hanging),
            "missing" => Some(Mode::Missing),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Shared {
    mode: AtomicU8,
    hits: AtomicU64,
}

/// A running upstream server (its task runs until the runtime stops).
#[derive(Clone)]
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Upstream {
    /// Starts the upstream, healthy, on a free loopback port.
    pub async fn spawn() -> std::io::Result<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/quote", get(quote))
            .route("/mode/{mode}", put(set_mode))
            .with_state(shared.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("upstream server stopped: {e}");
            }
        });
        Ok(Upstream { addr, shared })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches how `/quote` answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::Relaxed);
    }

    /// Requests to `/quote` that reached the upstream so far.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::Relaxed)
    }
}

async fn quote(State(shared): State<Arc<Shared>>) -> Response {
    let n = shared.hits.fetch_add(1, Ordering::Relaxed) + 1;
    match Mode::from_u8(shared.mode.load(Ordering::Relaxed)) {
        Mode::Healthy => {
            Json(json!({ "symbol": "TRIP", "price": 42.0, "served": n })).into_response()
        }
        Mode::Failing => (StatusCode::INTERNAL_SERVER_ERROR, "upstream failure").into_response(),
        Mode::Hanging => std::future::pending().await,
        Mode::Missing => (StatusCode::NOT_FOUND, "no such quote").into_response(),
    }
}

async fn set_mode(State(shared): State<Arc<Shared>>, Path(mode): Path<String>) -> StatusCode {
    match Mode::parse(&mode) {
        Some(m) => {
            shared.mode.store(m as u8, Ordering::Relaxed);
            StatusCode::NO_CONTENT
        }
        None => StatusCode::BAD_REQUEST,
    }
}
