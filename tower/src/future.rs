//! [`ResponseFuture`]: the inner future and the call's owned permit.

use core::future::Future;
use core::ops::Deref;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;
use tripbit::{Breaker, OwnedPermit, Policy, Rejected, clock};

use crate::Error;
use crate::classify::{Classify, OnTransition};

pin_project! {
    /// The future of [`CircuitBreakerService::call`]: the inner service's
    /// future plus the admitted call's [`OwnedPermit`](tripbit::OwnedPermit),
    /// or an immediate rejection. No allocation. Dropping it before it finishes counts nothing and frees
    /// the call's half-open slot.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tower_service::Service;
    /// use tripbit::{Breaker, Config, State, clock};
    /// use tripbit_tower::CircuitBreakerService;
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

impl<F, P, H, C, O> ResponseFuture<F, P, H, C, O>
where
    P: Policy,
    H: Deref<Target = Breaker<P>>,
{
    /// The future of a call the breaker refused.
    pub(crate) fn rejected(rejected: Rejected) -> Self {
        ResponseFuture {
            kind: Kind::Rejected { rejected },
        }
    }

    /// The future of an admitted call: `future`, reported through `permit`.
    pub(crate) fn running(future: F, permit: OwnedPermit<H, P>, classify: C, hook: O) -> Self {
        ResponseFuture {
            kind: Kind::Running {
                future,
                call: Call {
                    permit: Some(permit),
                    classify,
                    hook,
                },
            },
        }
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
