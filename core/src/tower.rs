//! A [`tower`](https://docs.rs/tower) middleware: [`CircuitBreakerLayer`]
//! wraps any `tower_service::Service` in a [`CircuitBreakerService`] that
//! asks the breaker before each call and reports each result to it.
//!
//! - `poll_ready` is the inner service's.
//! - `call` asks the breaker at [`clock::now`]. Rejected: the returned future
//!   resolves at once to [`Error::Rejected`] and the inner service is never
//!   called. Admitted: the inner future runs, a [`Classify`] turns its result
//!   into an [`Outcome`] (default [`ErrIsFailure`]: `Ok` succeeds, `Err`
//!   fails), and the outcome is recorded at [`clock::now`].
//! - A future dropped before it finishes (cancelled, timed out by an outer
//!   layer) counts nothing and frees its half-open probe slot, as dropping a
//!   [`Permit`](crate::Permit) does.
//! - Transitions are handed to an [`OnTransition`] hook after the state
//!   changed, on the task that caused them; tripbit holds no lock then.
//!
//! The breaker is shared through any handle that derefs to it and clones:
//! `Arc<Breaker<P>>`, or `&'static Breaker<P>` for a `static` (no reference
//! count touched per call). Configure durations in [`clock`] ticks
//! (nanoseconds) with [`clock::ticks`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tower_layer::Layer;
//! use tower_service::Service;
//! use tripbit::tower::{CircuitBreakerLayer, Error};
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

use core::future::Future;
use core::marker::PhantomData;
use core::ops::Deref;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::window::Policy;
use crate::{Breaker, Consecutive, Outcome, OwnedPermit, Rejected, Transition, clock};

/// The error of a guarded service: the breaker rejected the call, or the
/// inner service returned an error.
///
/// ```
/// use tripbit::tower::Error;
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
    /// assert!(!tripbit::tower::Error::Inner("boom").is_rejected());
    /// ```
    pub fn is_rejected(&self) -> bool {
        matches!(self, Error::Rejected(_))
    }

    /// The inner service's error, if that is what this is.
    ///
    /// ```
    /// assert_eq!(tripbit::tower::Error::Inner("boom").into_inner(), Some("boom"));
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

/// Decides how a result counts: [`Outcome::Success`], [`Outcome::Failure`]
/// or [`Outcome::Ignored`] (neither, e.g. a client error).
///
/// Implemented by [`ErrIsFailure`] (the default) and by every
/// `Fn(&Result<T, E>) -> Outcome`; annotate the closure's argument so its
/// type is known:
///
/// ```
/// use tripbit::Outcome;
/// use tripbit::tower::Classify;
/// // An HTTP-ish status: 5xx fails, 4xx is the caller's fault, not the upstream's.
/// let by_status = |r: &Result<u16, std::io::Error>| match r {
///     Ok(500..) | Err(_) => Outcome::Failure,
///     Ok(400..) => Outcome::Ignored,
///     Ok(_) => Outcome::Success,
/// };
/// assert_eq!(by_status.classify(&Ok(503)), Outcome::Failure);
/// assert_eq!(by_status.classify(&Ok(404)), Outcome::Ignored);
/// assert_eq!(by_status.classify(&Ok(200)), Outcome::Success);
/// ```
pub trait Classify<T, E> {
    /// How `result` counts.
    fn classify(&self, result: &Result<T, E>) -> Outcome;
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}

/// The default classifier: `Ok` is a success, `Err` a failure.
///
/// ```
/// use tripbit::Outcome;
/// use tripbit::tower::{Classify, ErrIsFailure};
/// assert_eq!(ErrIsFailure.classify(&Ok::<_, ()>(1)), Outcome::Success);
/// assert_eq!(ErrIsFailure.classify(&Err::<u8, _>(())), Outcome::Failure);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ErrIsFailure;

impl<T, E> Classify<T, E> for ErrIsFailure {
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        Outcome::from_success(result.is_ok())
    }
}

/// Observes the transitions the service's calls cause (`Open → HalfOpen`
/// when a call becomes the first probe; `Closed → Open`, `HalfOpen → Closed`,
/// `HalfOpen → Open` when an outcome is recorded). Called after the state
/// changed, on the task that caused it, outside any lock: it may call back
/// into the breaker. Operator actions (`force_open`, `reset`, …) return their
/// transitions to their caller instead.
///
/// Implemented by `()` (ignore them, the default) and every
/// `Fn(Transition)`.
///
/// ```
/// use tripbit::tower::OnTransition;
/// use tripbit::{State, Transition};
/// let log = |t: Transition| println!("breaker {:?} -> {:?}", t.from, t.to);
/// log.on_transition(Transition { from: State::Closed, to: State::Open, generation: 1, level: 0 });
/// ().on_transition(Transition { from: State::Open, to: State::HalfOpen, generation: 2, level: 0 });
/// ```
pub trait OnTransition {
    /// Called once per transition, after it happened.
    fn on_transition(&self, transition: Transition);
}

impl OnTransition for () {
    fn on_transition(&self, _: Transition) {}
}

impl<F: Fn(Transition)> OnTransition for F {
    fn on_transition(&self, transition: Transition) {
        self(transition);
    }
}

/// A [`Layer`] that wraps services in a [`CircuitBreakerService`] sharing
/// one breaker.
///
/// - `P`: the breaker's policy ([`Consecutive`] or [`Window<N>`](crate::Window)).
/// - `H`: the handle the services share it through: `Arc<Breaker<P>>` (the
///   default) or `&'static Breaker<P>`, or any `Deref<Target = Breaker<P>> + Clone`.
/// - `C`: the [`Classify`]er; `O`: the [`OnTransition`] hook. Both are
///   cloned into each call's future, so prefer closures that capture nothing
///   or only cheap handles.
///
/// ```
/// use tower_layer::Layer;
/// use tripbit::tower::CircuitBreakerLayer;
/// use tripbit::{Breaker, Config, Outcome, Transition};
///
/// static UPSTREAM: Breaker = Breaker::new(Config::new(1_000_000_000).consecutive_failures(3));
///
/// let layer = CircuitBreakerLayer::new(&UPSTREAM)
///     .classify(|r: &Result<u16, std::io::Error>| match r {
///         Ok(500..) | Err(_) => Outcome::Failure,
///         Ok(400..) => Outcome::Ignored,
///         Ok(_) => Outcome::Success,
///     })
///     .on_transition(|t: Transition| eprintln!("upstream breaker: {:?} -> {:?}", t.from, t.to));
/// # #[derive(Clone)] struct Inner;
/// let svc = layer.layer(Inner);
/// assert!(core::ptr::eq(svc.breaker(), &UPSTREAM));
/// ```
pub struct CircuitBreakerLayer<P = Consecutive, H = Arc<Breaker<P>>, C = ErrIsFailure, O = ()> {
    breaker: H,
    classify: C,
    hook: O,
    _policy: PhantomData<fn() -> P>,
}

impl<P: Policy, H: Deref<Target = Breaker<P>>> CircuitBreakerLayer<P, H> {
    /// A layer guarding services with `breaker`, with the default classifier
    /// ([`ErrIsFailure`]) and no transition hook.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::tower::CircuitBreakerLayer;
    /// use tripbit::{Breaker, Config, Window};
    /// let consecutive = CircuitBreakerLayer::new(Arc::new(Breaker::new(Config::new(1_000_000))));
    /// let window: Arc<Breaker<Window<8>>> =
    ///     Arc::new(Breaker::new_window(Config::new(1_000_000).failure_rate(50, 20)));
    /// let windowed = CircuitBreakerLayer::new(window);
    /// # let _ = (consecutive, windowed);
    /// ```
    pub fn new(breaker: H) -> Self {
        CircuitBreakerLayer {
            breaker,
            classify: ErrIsFailure,
            hook: (),
            _policy: PhantomData,
        }
    }
}

impl<P: Policy, H: Deref<Target = Breaker<P>>, C, O> CircuitBreakerLayer<P, H, C, O> {
    /// Replaces the classifier (see [`Classify`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::tower::CircuitBreakerLayer;
    /// use tripbit::{Breaker, Config, Outcome};
    /// let layer = CircuitBreakerLayer::new(Arc::new(Breaker::new(Config::new(1_000))))
    ///     .classify(|r: &Result<String, std::io::Error>| match r {
    ///         Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Ignored,
    ///         r => Outcome::from_success(r.is_ok()),
    ///     });
    /// # let _ = layer;
    /// ```
    pub fn classify<C2>(self, classify: C2) -> CircuitBreakerLayer<P, H, C2, O> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classify,
            hook: self.hook,
            _policy: PhantomData,
        }
    }

    /// Replaces the transition hook (see [`OnTransition`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use tripbit::tower::CircuitBreakerLayer;
    /// use tripbit::{Breaker, Config, Transition};
    /// let trips = Arc::new(AtomicU64::new(0));
    /// let counter = trips.clone();
    /// let layer = CircuitBreakerLayer::new(Arc::new(Breaker::new(Config::new(1_000))))
    ///     .on_transition(move |t: Transition| {
    ///         if t.to == tripbit::State::Open {
    ///             counter.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     });
    /// # let _ = layer;
    /// ```
    pub fn on_transition<O2>(self, hook: O2) -> CircuitBreakerLayer<P, H, C, O2> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classify: self.classify,
            hook,
            _policy: PhantomData,
        }
    }

    /// The shared breaker.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::{Breaker, Config, State};
    /// let layer = tripbit::tower::CircuitBreakerLayer::new(Arc::new(Breaker::new(Config::new(1_000))));
    /// assert_eq!(layer.breaker().state(0), State::Closed);
    /// ```
    pub fn breaker(&self) -> &Breaker<P> {
        &self.breaker
    }
}

impl<P, H: Clone, C: Clone, O: Clone> Clone for CircuitBreakerLayer<P, H, C, O> {
    fn clone(&self) -> Self {
        CircuitBreakerLayer {
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
            hook: self.hook.clone(),
            _policy: PhantomData,
        }
    }
}

impl<P, H: core::fmt::Debug, C: core::fmt::Debug, O> core::fmt::Debug
    for CircuitBreakerLayer<P, H, C, O>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("breaker", &self.breaker)
            .field("classify", &self.classify)
            .finish_non_exhaustive()
    }
}

impl<S, P, H: Clone, C: Clone, O: Clone> Layer<S> for CircuitBreakerLayer<P, H, C, O> {
    type Service = CircuitBreakerService<S, P, H, C, O>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
            hook: self.hook.clone(),
            _policy: PhantomData,
        }
    }
}

/// A service guarded by a breaker; built by [`CircuitBreakerLayer`] or
/// [`CircuitBreakerService::new`]. Its type parameters are the layer's.
///
/// ```
/// use std::sync::Arc;
/// use tower_service::Service;
/// use tripbit::tower::CircuitBreakerService;
/// use tripbit::{Breaker, Config};
/// # fn block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
/// #     let mut f = core::pin::pin!(f);
/// #     loop { if let core::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// # struct Echo;
/// # impl Service<&'static str> for Echo {
/// #     type Response = &'static str;
/// #     type Error = std::convert::Infallible;
/// #     type Future = core::future::Ready<Result<&'static str, Self::Error>>;
/// #     fn poll_ready(&mut self, _: &mut core::task::Context<'_>) -> core::task::Poll<Result<(), Self::Error>> {
/// #         core::task::Poll::Ready(Ok(()))
/// #     }
/// #     fn call(&mut self, s: &'static str) -> Self::Future { core::future::ready(Ok(s)) }
/// # }
/// let mut svc = CircuitBreakerService::new(Echo, Arc::new(Breaker::new(Config::new(1_000))));
/// assert_eq!(block_on(svc.call("hi")), Ok("hi"));
/// svc.breaker().force_open();
/// assert!(block_on(svc.call("hi")).unwrap_err().is_rejected());
/// ```
pub struct CircuitBreakerService<S, P = Consecutive, H = Arc<Breaker<P>>, C = ErrIsFailure, O = ()>
{
    inner: S,
    breaker: H,
    classify: C,
    hook: O,
    _policy: PhantomData<fn() -> P>,
}

impl<S, P: Policy, H: Deref<Target = Breaker<P>>> CircuitBreakerService<S, P, H> {
    /// Guards `inner` with `breaker`, the default classifier and no hook;
    /// the same as `CircuitBreakerLayer::new(breaker).layer(inner)`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::tower::CircuitBreakerService;
    /// use tripbit::{Breaker, Config};
    /// # struct Inner;
    /// let svc = CircuitBreakerService::new(Inner, Arc::new(Breaker::new(Config::new(1_000))));
    /// # let _ = svc;
    /// ```
    pub fn new(inner: S, breaker: H) -> Self {
        CircuitBreakerService {
            inner,
            breaker,
            classify: ErrIsFailure,
            hook: (),
            _policy: PhantomData,
        }
    }
}

impl<S, P: Policy, H: Deref<Target = Breaker<P>>, C, O> CircuitBreakerService<S, P, H, C, O> {
    /// The shared breaker: read its [`snapshot`](Breaker::snapshot) for
    /// metrics, or act on it as an operator.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::tower::CircuitBreakerService;
    /// use tripbit::{Breaker, Config, State};
    /// let svc = CircuitBreakerService::new((), Arc::new(Breaker::new(Config::new(1_000))));
    /// assert_eq!(svc.breaker().state(tripbit::clock::now()), State::Closed);
    /// ```
    pub fn breaker(&self) -> &Breaker<P> {
        &self.breaker
    }

    /// The inner service.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::{Breaker, Config};
    /// let svc = tripbit::tower::CircuitBreakerService::new(5, Arc::new(Breaker::new(Config::new(1))));
    /// assert_eq!(*svc.get_ref(), 5);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::{Breaker, Config};
    /// let mut svc = tripbit::tower::CircuitBreakerService::new(5, Arc::new(Breaker::new(Config::new(1))));
    /// *svc.get_mut() += 1;
    /// assert_eq!(*svc.get_ref(), 6);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::{Breaker, Config};
    /// let svc = tripbit::tower::CircuitBreakerService::new(5, Arc::new(Breaker::new(Config::new(1))));
    /// assert_eq!(svc.into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, P, H: Clone, C: Clone, O: Clone> Clone for CircuitBreakerService<S, P, H, C, O> {
    fn clone(&self) -> Self {
        CircuitBreakerService {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
            hook: self.hook.clone(),
            _policy: PhantomData,
        }
    }
}

impl<S: core::fmt::Debug, P, H: core::fmt::Debug, C: core::fmt::Debug, O> core::fmt::Debug
    for CircuitBreakerService<S, P, H, C, O>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CircuitBreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .field("classify", &self.classify)
            .finish_non_exhaustive()
    }
}

impl<S, Req, P, H, C, O> Service<Req> for CircuitBreakerService<S, P, H, C, O>
where
    S: Service<Req>,
    P: Policy,
    H: Deref<Target = Breaker<P>> + Clone,
    C: Classify<S::Response, S::Error> + Clone,
    O: OnTransition + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, P, H, C, O>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // An `OwnedPermit`: the future owns its handle to the breaker, and
        // the permit's drop frees a probe slot if the future is dropped
        // unfinished (or `call` panics while unwinding).
        match Breaker::try_acquire_owned_with(self.breaker.clone(), clock::now) {
            Err(rejected) => ResponseFuture {
                kind: Kind::Rejected { rejected },
            },
            Ok(permit) => {
                if let Some(t) = permit.transition() {
                    self.hook.on_transition(t);
                }
                ResponseFuture {
                    kind: Kind::Running {
                        future: self.inner.call(req),
                        call: Call {
                            permit: Some(permit),
                            classify: self.classify.clone(),
                            hook: self.hook.clone(),
                        },
                    },
                }
            }
        }
    }
}

pin_project! {
    /// The future of [`CircuitBreakerService::call`]: the inner service's
    /// future plus the admitted call's [`OwnedPermit`](crate::OwnedPermit),
    /// or an immediate rejection. No allocation. Dropping it before it finishes counts nothing and frees
    /// the call's half-open slot.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_service::Service;
    /// use tripbit::{Breaker, Config, State, clock};
    /// use tripbit::tower::CircuitBreakerService;
    /// # struct Never;
    /// # impl Service<()> for Never {
    /// #     type Response = ();
    /// #     type Error = ();
    /// #     type Future = core::future::Pending<Result<(), ()>>;
    /// #     fn poll_ready(&mut self, _: &mut core::task::Context<'_>) -> core::task::Poll<Result<(), ()>> {
    /// #         core::task::Poll::Ready(Ok(()))
    /// #     }
    /// #     fn call(&mut self, _: ()) -> Self::Future { core::future::pending() }
    /// # }
    /// // A 1 ns open period, and no probe deadline.
    /// let b = Arc::new(Breaker::new(
    ///     Config::new(1).consecutive_failures(1).probe_timeout(u64::MAX),
    /// ));
    /// b.try_acquire(clock::now()).unwrap().record(tripbit::Outcome::Failure, clock::now());
    /// while b.state(clock::now()) != State::HalfOpen {}
    /// let mut svc = CircuitBreakerService::new(Never, b.clone());
    /// let probe = svc.call(()); // the only half-open slot
    /// assert!(svc.breaker().try_acquire(clock::now()).is_err());
    /// drop(probe); // cancelled: counts nothing, frees the slot
    /// assert!(svc.breaker().try_acquire(clock::now()).is_ok());
    /// ```
    pub struct ResponseFuture<F, P, H, C, O>
    where
        P: Policy,
        H: Deref<Target = Breaker<P>>,
    {
        #[pin]
        kind: Kind<F, P, H, C, O>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, P, H, C, O>
    where
        P: Policy,
        H: Deref<Target = Breaker<P>>,
    {
        Running {
            #[pin]
            future: F,
            call: Call<P, H, C, O>,
        },
        Rejected {
            rejected: Rejected,
        },
    }
}

impl<F, P, H, C, O> core::fmt::Debug for ResponseFuture<F, P, H, C, O>
where
    P: Policy,
    H: Deref<Target = Breaker<P>>,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.kind {
            Kind::Running { call, .. } => f
                .debug_struct("ResponseFuture")
                .field("permit", &call.permit)
                .finish_non_exhaustive(),
            Kind::Rejected { rejected } => f
                .debug_struct("ResponseFuture")
                .field("rejected", rejected)
                .finish(),
        }
    }
}

impl<F, T, E, P, H, C, O> Future for ResponseFuture<F, P, H, C, O>
where
    F: Future<Output = Result<T, E>>,
    P: Policy,
    H: Deref<Target = Breaker<P>>,
    C: Classify<T, E>,
    O: OnTransition,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Rejected { rejected } => Poll::Ready(Err(Error::Rejected(*rejected))),
            KindProj::Running { future, call } => {
                let result = match future.poll(cx) {
                    Poll::Ready(result) => result,
                    Poll::Pending => return Poll::Pending,
                };
                call.finish(&result);
                Poll::Ready(result.map_err(Error::Inner))
            }
        }
    }
}

/// An admitted call: its permit, recorded once when the inner future
/// finishes (dropped unrecorded, the permit releases a probe slot), and how
/// to classify and report the result.
struct Call<P, H, C, O>
where
    P: Policy,
    H: Deref<Target = Breaker<P>>,
{
    /// `None` once recorded.
    permit: Option<OwnedPermit<H, P>>,
    classify: C,
    hook: O,
}

impl<P, H, C, O> Call<P, H, C, O>
where
    P: Policy,
    H: Deref<Target = Breaker<P>>,
{
    fn finish<T, E>(&mut self, result: &Result<T, E>)
    where
        C: Classify<T, E>,
        O: OnTransition,
    {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let outcome = self.classify.classify(result);
        // A stale result (the breaker changed generation since: reset,
        // forced, or tripped by others) is discarded by design.
        if let Some(t) = permit.record_with(outcome, clock::now) {
            self.hook.on_transition(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, State, Window};
    use core::cell::Cell;
    use core::future::{Pending, Ready};
    use std::rc::Rc;
    use std::vec::Vec;

    /// A mock upstream: request `Ok(v)` / `Err(e)` answers at once, `None`
    /// never answers; counts its calls.
    #[derive(Clone, Default)]
    struct Mock {
        calls: Rc<Cell<u32>>,
    }

    enum Reply {
        Ready(Ready<Result<u16, &'static str>>),
        Pending(Pending<Result<u16, &'static str>>),
    }

    impl Future for Reply {
        type Output = Result<u16, &'static str>;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            match self.get_mut() {
                Reply::Ready(f) => Pin::new(f).poll(cx),
                Reply::Pending(f) => Pin::new(f).poll(cx),
            }
        }
    }

    impl Service<Option<Result<u16, &'static str>>> for Mock {
        type Response = u16;
        type Error = &'static str;
        type Future = Reply;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: Option<Result<u16, &'static str>>) -> Reply {
            self.calls.set(self.calls.get() + 1);
            match req {
                Some(r) => Reply::Ready(core::future::ready(r)),
                None => Reply::Pending(core::future::pending()),
            }
        }
    }

    fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(core::task::Waker::noop()))
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = core::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = poll_once(f.as_mut()) {
                return v;
            }
        }
    }

    /// An open period long enough never to elapse during a test (1 hour).
    const LONG: u64 = 3_600_000_000_000;

    /// Trips `b`'s (consecutive, threshold-1) breaker and waits out a 1 ns
    /// open period, so the next call is the half-open probe.
    fn trip_and_expire<P: Policy>(b: &Breaker<P>) {
        b.try_acquire(clock::now())
            .unwrap()
            .record(Outcome::Failure, clock::now());
        while b.state(clock::now()) != State::HalfOpen {
            std::thread::yield_now();
        }
    }

    #[test]
    fn default_classifier_trips_and_rejects_without_calling_inner() {
        let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(2)));
        let mock = Mock::default();
        let mut svc = CircuitBreakerLayer::new(b.clone()).layer(mock.clone());
        assert_eq!(block_on(svc.call(Some(Ok(1)))), Ok(1));
        assert_eq!(block_on(svc.call(Some(Err("e")))), Err(Error::Inner("e")));
        assert_eq!(b.snapshot(clock::now()).consecutive_failures, 1);
        assert_eq!(block_on(svc.call(Some(Err("e")))), Err(Error::Inner("e")));
        assert_eq!(b.state(clock::now()), State::Open);
        assert_eq!(mock.calls.get(), 3);
        let r = block_on(svc.call(Some(Ok(1))));
        match r {
            Err(Error::Rejected(r)) => {
                assert_eq!(r.state, State::Open);
                assert!(r.retry_at.is_some());
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert_eq!(mock.calls.get(), 3, "a rejected call never reaches inner");
    }

    #[test]
    fn poll_ready_delegates() {
        struct NotReady;
        impl Service<()> for NotReady {
            type Response = ();
            type Error = &'static str;
            type Future = Ready<Result<(), &'static str>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
                Poll::Ready(Err("down"))
            }
            fn call(&mut self, _: ()) -> Self::Future {
                core::future::ready(Ok(()))
            }
        }
        let mut svc =
            CircuitBreakerService::new(NotReady, Arc::new(Breaker::new(Config::new(LONG))));
        let mut cx = Context::from_waker(core::task::Waker::noop());
        assert_eq!(
            svc.poll_ready(&mut cx),
            Poll::Ready(Err(Error::Inner("down")))
        );
    }

    #[test]
    fn custom_classifier_ignores_client_errors() {
        let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(2)));
        let mut svc = CircuitBreakerLayer::new(b.clone())
            .classify(|r: &Result<u16, &'static str>| match r {
                Ok(500..) | Err(_) => Outcome::Failure,
                Ok(400..) => Outcome::Ignored,
                Ok(_) => Outcome::Success,
            })
            .layer(Mock::default());
        block_on(svc.call(Some(Ok(503)))).unwrap();
        // 404 is ignored: the failure streak neither grows nor resets.
        for _ in 0..5 {
            assert_eq!(block_on(svc.call(Some(Ok(404)))), Ok(404));
        }
        assert_eq!(b.snapshot(clock::now()).consecutive_failures, 1);
        block_on(svc.call(Some(Ok(200)))).unwrap();
        assert_eq!(b.snapshot(clock::now()).consecutive_failures, 0);
        block_on(svc.call(Some(Ok(500)))).unwrap();
        block_on(svc.call(Some(Ok(502)))).unwrap();
        assert_eq!(b.state(clock::now()), State::Open);
    }

    #[test]
    fn dropped_probe_frees_its_slot_and_counts_nothing() {
        // A 1 ns open period; no probe deadline, so the held probe keeps its slot.
        let b = Arc::new(Breaker::new(
            Config::new(1)
                .consecutive_failures(1)
                .probe_timeout(u64::MAX),
        ));
        trip_and_expire(&*b);
        let mock = Mock::default();
        let mut svc = CircuitBreakerService::new(mock.clone(), b.clone());
        {
            let mut probe = core::pin::pin!(svc.call(None));
            assert!(poll_once(probe.as_mut()).is_pending());
            let s = b.snapshot(clock::now());
            assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 1));
            // The only slot is taken: the next call is rejected, inner not called.
            assert!(block_on(svc.call(Some(Ok(1)))).unwrap_err().is_rejected());
            assert_eq!(mock.calls.get(), 1);
        } // the probe's future is dropped here, unfinished
        let s = b.snapshot(clock::now());
        assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 0));
        assert_eq!((s.probe_successes, s.probe_failures), (0, 0));
        // A real probe now closes it.
        assert_eq!(block_on(svc.call(Some(Ok(1)))), Ok(1));
        assert_eq!(b.state(clock::now()), State::Closed);
    }

    #[test]
    fn dropped_closed_call_counts_nothing() {
        let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(1)));
        let mut svc = CircuitBreakerService::new(Mock::default(), b.clone());
        drop(svc.call(None));
        drop(svc.call(Some(Err("never polled"))));
        assert_eq!(b.snapshot(clock::now()).consecutive_failures, 0);
        assert_eq!(b.state(clock::now()), State::Closed);
    }

    #[test]
    fn hook_sees_every_transition_the_service_causes() {
        let b = Arc::new(Breaker::new(Config::new(1).consecutive_failures(1)));
        let seen = Rc::new(core::cell::RefCell::new(Vec::new()));
        let log = seen.clone();
        let breaker = b.clone();
        let mut svc = CircuitBreakerLayer::new(b.clone())
            .on_transition(move |t: Transition| {
                // Outside any lock: reading the breaker from the hook is fine.
                assert_eq!(breaker.snapshot(clock::now()).generation, t.generation);
                log.borrow_mut().push((t.from, t.to));
            })
            .layer(Mock::default());
        block_on(svc.call(Some(Err("e")))).unwrap_err();
        while b.state(clock::now()) != State::HalfOpen {
            std::thread::yield_now();
        }
        block_on(svc.call(Some(Err("e")))).unwrap_err(); // probe fails: reopen
        while b.state(clock::now()) != State::HalfOpen {
            std::thread::yield_now();
        }
        block_on(svc.call(Some(Ok(1)))).unwrap(); // probe succeeds: close
        assert_eq!(
            *seen.borrow(),
            [
                (State::Closed, State::Open),
                (State::Open, State::HalfOpen),
                (State::HalfOpen, State::Open),
                (State::Open, State::HalfOpen),
                (State::HalfOpen, State::Closed),
            ]
        );
    }

    #[test]
    fn stale_results_are_discarded() {
        let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(1)));
        let mut svc = CircuitBreakerService::new(Mock::default(), b.clone());
        let fut = svc.call(Some(Err("late")));
        b.reset(); // new generation before the call finishes
        assert_eq!(block_on(fut), Err(Error::Inner("late")));
        assert_eq!(b.state(clock::now()), State::Closed);
    }

    #[test]
    fn forced_open_rejects_with_no_retry_time() {
        static B: Breaker = Breaker::new(Config::new(LONG));
        let mock = Mock::default();
        let mut svc = CircuitBreakerLayer::new(&B).layer(mock.clone());
        B.force_open();
        assert_eq!(
            block_on(svc.call(Some(Ok(1)))),
            Err(Error::Rejected(Rejected {
                state: State::ForcedOpen,
                retry_at: None
            }))
        );
        assert_eq!(mock.calls.get(), 0);
        B.reset();
        assert_eq!(block_on(svc.call(Some(Ok(1)))), Ok(1));
    }

    #[test]
    fn window_policy_through_the_layer() {
        let b: Arc<Breaker<Window<4>>> =
            Arc::new(Breaker::new_window(Config::new(LONG).failure_rate(50, 4)));
        let mut svc = CircuitBreakerLayer::new(b.clone()).layer(Mock::default());
        for r in [Ok(1), Err("e"), Ok(1), Err("e")] {
            let _ = block_on(svc.call(Some(r)));
        }
        assert_eq!(b.state(clock::now()), State::Open);
    }

    #[test]
    fn error_display_and_source() {
        use std::error::Error as _;
        use std::string::ToString;
        let e: Error<std::io::Error> = Error::Inner(std::io::Error::other("boom"));
        assert_eq!(e.to_string(), "boom");
        assert!(e.source().is_some());
        let r: Error<std::io::Error> = Rejected {
            state: State::Open,
            retry_at: Some(9),
        }
        .into();
        assert_eq!(r.to_string(), "circuit breaker open until tick 9");
        assert!(r.into_inner().is_none());
    }

    /// `Mock` for the threaded tests: `Send`, its calls in an atomic.
    #[derive(Clone, Default)]
    struct SendMock {
        calls: Arc<std::sync::atomic::AtomicU32>,
    }

    impl SendMock {
        fn calls(&self) -> u32 {
            self.calls.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    impl Service<Option<Result<u16, &'static str>>> for SendMock {
        type Response = u16;
        type Error = &'static str;
        type Future = Reply;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: Option<Result<u16, &'static str>>) -> Reply {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match req {
                Some(r) => Reply::Ready(core::future::ready(r)),
                None => Reply::Pending(core::future::pending()),
            }
        }
    }

    #[test]
    fn concurrent_calls_admit_exactly_the_probe_limit() {
        const PROBES: u8 = 3;
        const THREADS: usize = 8;
        let b = Arc::new(Breaker::new(
            Config::new(1)
                .consecutive_failures(1)
                .probes(PROBES)
                .close_after(u16::from(PROBES))
                .probe_timeout(u64::MAX),
        ));
        trip_and_expire(&*b);
        let mock = SendMock::default();
        let svc = CircuitBreakerService::new(mock.clone(), b.clone());
        let start = Arc::new(std::sync::Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (mut svc, start) = (svc.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    svc.call(None) // a call that never answers
                })
            })
            .collect();
        let mut futures: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let (mut admitted, mut rejected) = (0, 0);
        for f in &mut futures {
            match poll_once(Pin::new(f)) {
                Poll::Pending => admitted += 1,
                Poll::Ready(Err(Error::Rejected(r))) => {
                    assert_eq!((r.state, r.retry_at), (State::HalfOpen, None));
                    rejected += 1;
                }
                Poll::Ready(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            (admitted, rejected),
            (PROBES.into(), THREADS - usize::from(PROBES))
        );
        assert_eq!(
            mock.calls(),
            u32::from(PROBES),
            "rejected calls never reach inner"
        );
        let s = b.snapshot(clock::now());
        assert_eq!(
            (s.state, s.probes_in_flight),
            (State::HalfOpen, u32::from(PROBES))
        );
        // Cancelling every probe frees every slot and counts nothing.
        drop(futures);
        let s = b.snapshot(clock::now());
        assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 0));
        assert_eq!((s.probe_successes, s.probe_failures), (0, 0));
    }

    #[test]
    fn concurrent_failures_trip_once_and_then_reject() {
        const THREADS: usize = 4;
        const CALLS: usize = 100;
        let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(4)));
        let mock = SendMock::default();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let svc = CircuitBreakerLayer::new(b.clone())
            .on_transition(move |t: Transition| log.lock().unwrap().push((t.from, t.to)))
            .layer(mock.clone());
        let start = Arc::new(std::sync::Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (mut svc, start) = (svc.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let mut failed = 0;
                    for _ in 0..CALLS {
                        match block_on(svc.call(Some(Err("down")))) {
                            Err(Error::Inner("down")) => failed += 1,
                            Err(Error::Rejected(r)) => assert_eq!(r.state, State::Open),
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    failed
                })
            })
            .collect();
        let failed: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(failed, mock.calls(), "every admitted call reached inner");
        assert!(failed >= 4, "the threshold was reached");
        assert_eq!(b.state(clock::now()), State::Open);
        assert_eq!(*seen.lock().unwrap(), [(State::Closed, State::Open)]);
        assert_eq!(b.snapshot(clock::now()).generation, 1);
    }

    #[test]
    fn poll_ready_is_the_inner_services_even_while_open() {
        let b = Arc::new(Breaker::new(Config::new(LONG)));
        b.force_open();
        let mock = Mock::default();
        let mut svc = CircuitBreakerService::new(mock.clone(), b);
        let mut cx = Context::from_waker(core::task::Waker::noop());
        // Open does not make the service unready (that would stall callers
        // that wait for readiness); the call itself fails fast.
        assert_eq!(svc.poll_ready(&mut cx), Poll::Ready(Ok(())));
        assert!(block_on(svc.call(Some(Ok(1)))).unwrap_err().is_rejected());
        assert_eq!(mock.calls.get(), 0);
    }

    #[test]
    fn futures_are_send_when_their_parts_are() {
        fn assert_send<T: Send>(_: &T) {}
        #[derive(Clone)]
        struct SendMock;
        impl Service<()> for SendMock {
            type Response = ();
            type Error = ();
            type Future = Ready<Result<(), ()>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, _: ()) -> Self::Future {
                core::future::ready(Ok(()))
            }
        }
        let mut svc = CircuitBreakerService::new(SendMock, Arc::new(Breaker::new(Config::new(1))));
        let fut = svc.call(());
        assert_send(&svc);
        assert_send(&fut);
    }
}
