//! [`CircuitBreakerService`]: asks the breaker before each call.

use core::marker::PhantomData;
use core::ops::Deref;
use core::task::{Context, Poll};
use std::sync::Arc;

use tower_service::Service;
use tripbit::{Breaker, Consecutive, Policy, clock};

use crate::Error;
use crate::classify::{Classify, ErrIsFailure, OnTransition};
use crate::future::ResponseFuture;

/// A service guarded by a breaker; built by [`CircuitBreakerLayer`](crate::CircuitBreakerLayer) or
/// [`CircuitBreakerService::new`]. Its type parameters are the layer's.
///
/// ```
/// use std::sync::Arc;
/// use tower_service::Service;
/// use tripbit_tower::CircuitBreakerService;
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
    pub(crate) inner: S,
    pub(crate) breaker: H,
    pub(crate) classify: C,
    pub(crate) hook: O,
    pub(crate) _policy: PhantomData<fn() -> P>,
}

impl<S, P: Policy, H: Deref<Target = Breaker<P>>> CircuitBreakerService<S, P, H> {
    /// Guards `inner` with `breaker`, the default classifier and no hook;
    /// the same as `CircuitBreakerLayer::new(breaker).layer(inner)`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit_tower::CircuitBreakerService;
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
    /// use tripbit_tower::CircuitBreakerService;
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
    /// let svc = tripbit_tower::CircuitBreakerService::new(5, Arc::new(Breaker::new(Config::new(1))));
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
    /// let mut svc = tripbit_tower::CircuitBreakerService::new(5, Arc::new(Breaker::new(Config::new(1))));
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
    /// let svc = tripbit_tower::CircuitBreakerService::new(5, Arc::new(Breaker::new(Config::new(1))));
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
            Err(rejected) => ResponseFuture::rejected(rejected),
            Ok(permit) => {
                if let Some(t) = permit.transition() {
                    self.hook.on_transition(t);
                }
                let future = self.inner.call(req);
                ResponseFuture::running(future, permit, self.classify.clone(), self.hook.clone())
            }
        }
    }
}
