//! How a result becomes an [`Outcome`], and the transition hook.

use tripbit::{Outcome, Transition};

/// Decides how a result counts: [`Outcome::Success`], [`Outcome::Failure`]
/// or [`Outcome::Ignored`] (neither, e.g. a client error).
///
/// Implemented by [`ErrIsFailure`] (the default) and by every
/// `Fn(&Result<T, E>) -> Outcome`; annotate the closure's argument so its
/// type is known:
///
/// ```
/// use tripbit::Outcome;
/// use tripbit_tower::Classify;
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
/// use tripbit_tower::{Classify, ErrIsFailure};
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
/// use tripbit_tower::OnTransition;
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
