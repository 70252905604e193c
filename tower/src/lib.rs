//! tripbit's [`tower`](https://docs.rs/tower) middleware: [`CircuitBreakerLayer`]
//! wraps any `tower_service::Service` in a [`CircuitBreakerService`] that
//! asks the breaker before each call and reports each result to it.
//!
//! - `poll_ready` is the inner service's.
//! - `call` asks the breaker at [`clock::now`](tripbit::clock::now). Rejected: the returned future
//!   resolves at once to [`Error::Rejected`] and the inner service is never
//!   called. Admitted: the inner future runs, a [`Classify`] turns its result
//!   into an [`Outcome`](tripbit::Outcome) (default [`ErrIsFailure`]: `Ok` succeeds, `Err`
//!   fails), and the outcome is recorded at [`clock::now`](tripbit::clock::now).
//! - A future dropped before it finishes (cancelled, timed out by an outer
//!   layer) counts nothing and frees its half-open probe slot, as dropping a
//!   [`Permit`](tripbit::Permit) does.
//! - Transitions are handed to an [`OnTransition`] hook after the state
//!   changed, on the task that caused them; tripbit holds no lock then.
//!
//! The breaker is shared through any handle that derefs to it and clones:
//! `Arc<Breaker<P>>`, or `&'static Breaker<P>` for a `static` (no reference
//! count touched per call). Configure durations in [`clock`](tripbit::clock) ticks
//! (nanoseconds) with [`clock::ticks`](tripbit::clock::ticks).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tower_layer::Layer;
//! use tower_service::Service;
//! use tripbit_tower::{CircuitBreakerLayer, Error};
//! use tripbit::{Breaker, Config, State, clock};
//!
//! # fn block_on<F: core::future::Future>(f: F) -> F::Output {
//! #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
//! #     let mut f = core::pin::pin!(f);
//! #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! # #[derive(Clone)]
//! # struct Upstream;
//! # impl Service<u32> for Upstream {
//! #     type Response = u32;
//! #     type Error = &'static str;
//! #     type Future = core::future::Ready<Result<u32, &'static str>>;
//! #     fn poll_ready(&mut self, _: &mut core::task::Context<'_>) -> core::task::Poll<Result<(), Self::Error>> {
//! #         core::task::Poll::Ready(Ok(()))
//! #     }
//! #     fn call(&mut self, n: u32) -> Self::Future {
//! #         core::future::ready(if n == 0 { Err("upstream down") } else { Ok(n) })
//! #     }
//! # }
//! let breaker = Arc::new(Breaker::new(
//!     Config::new(clock::ticks(Duration::from_secs(30))).consecutive_failures(2),
//! ));
//! // `Upstream` is any `Service<u32>`; here request 0 fails.
//! let mut svc = CircuitBreakerLayer::new(breaker.clone()).layer(Upstream);
//!
//! assert_eq!(block_on(svc.call(7)), Ok(7));
//! for _ in 0..2 {
//!     assert_eq!(block_on(svc.call(0)), Err(Error::Inner("upstream down")));
//! }
//! assert_eq!(breaker.state(clock::now()), State::Open);
//! // Open: fails fast without calling `Upstream`.
//! assert!(matches!(block_on(svc.call(7)), Err(Error::Rejected(_))));
//! ```

//!
//! Laid out like tower's own middleware crates: `layer.rs`
//! ([`CircuitBreakerLayer`]), `service.rs` ([`CircuitBreakerService`]),
//! `future.rs` ([`ResponseFuture`], which owns its call's
//! [`OwnedPermit`](tripbit::OwnedPermit)) and `classify.rs` ([`Classify`],
//! [`ErrIsFailure`], [`OnTransition`]).
//!
//! Dependencies, and why: `tripbit` (the breaker, with `std` for its clock),
//! `tower-service` and `tower-layer` (the two trait crates, not all of
//! tower), `pin-project-lite` (pin projection for the hand-written response
//! future, so it needs neither `unsafe` nor a `Box` per call).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod classify;
mod future;
mod layer;
mod service;
#[cfg(test)]
mod tests;

pub use classify::{Classify, ErrIsFailure, OnTransition};
pub use future::ResponseFuture;
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreakerService;

use tripbit::Rejected;

/// The error of a guarded service: the breaker rejected the call, or the
/// inner service returned an error.
///
/// ```
/// use tripbit_tower::Error;
/// use tripbit::{Rejected, State};
/// let e: Error<std::io::Error> = Error::Rejected(Rejected { state: State::Open, retry_at: None });
/// assert_eq!(e.to_string(), "circuit breaker open");
/// assert!(e.is_rejected());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<E> {
    /// Not called: the breaker is open (or forced open, or every half-open
    /// probe slot is taken).
    Rejected(Rejected),
    /// Called, and the inner service failed with this error.
    Inner(E),
}

impl<E> Error<E> {
    /// Whether the breaker rejected the call.
    ///
    /// ```
    /// assert!(!tripbit_tower::Error::Inner("boom").is_rejected());
    /// ```
    pub fn is_rejected(&self) -> bool {
        matches!(self, Error::Rejected(_))
    }

    /// The inner service's error, if that is what this is.
    ///
    /// ```
    /// assert_eq!(tripbit_tower::Error::Inner("boom").into_inner(), Some("boom"));
    /// ```
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Inner(e) => Some(e),
            Error::Rejected(_) => None,
        }
    }
}

impl<E> From<Rejected> for Error<E> {
    fn from(r: Rejected) -> Error<E> {
        Error::Rejected(r)
    }
}

impl<E: core::fmt::Display> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Rejected(r) => r.fmt(f),
            Error::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Rejected(r) => Some(r),
            Error::Inner(e) => Some(e),
        }
    }
}
