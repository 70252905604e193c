//! [`CircuitBreakerLayer`]: wraps services in a [`CircuitBreakerService`].

use core::marker::PhantomData;
use core::ops::Deref;
use std::sync::Arc;

use tower_layer::Layer;
use tripbit::{Breaker, Consecutive, Policy};

use crate::classify::ErrIsFailure;
use crate::service::CircuitBreakerService;

/// A [`Layer`] that wraps services in a [`CircuitBreakerService`] sharing
/// one breaker.
///
/// - `P`: the breaker's policy ([`Consecutive`] or [`Window<N>`](tripbit::Window)).
/// - `H`: the handle the services share it through: `Arc<Breaker<P>>` (the
///   default) or `&'static Breaker<P>`, or any `Deref<Target = Breaker<P>> + Clone`.
/// - `C`: the [`Classify`](crate::Classify)er; `O`: the [`OnTransition`](crate::OnTransition) hook. Both are
///   cloned into each call's future, so prefer closures that capture nothing
///   or only cheap handles.
///
/// ```
/// use tower_layer::Layer;
/// use tripbit_tower::CircuitBreakerLayer;
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
    /// use tripbit_tower::CircuitBreakerLayer;
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
    /// Replaces the classifier (see [`Classify`](crate::Classify)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit_tower::CircuitBreakerLayer;
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

    /// Replaces the transition hook (see [`OnTransition`](crate::OnTransition)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use tripbit_tower::CircuitBreakerLayer;
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
    /// let layer = tripbit_tower::CircuitBreakerLayer::new(Arc::new(Breaker::new(Config::new(1_000))));
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
