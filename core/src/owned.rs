//! [`OwnedPermit`]: an admitted call that owns its handle to the breaker
//! (an `Arc`, a `&'static`, a `Box`), for futures and tasks that cannot
//! borrow it. Release-on-drop is defined here once; the tower layer's
//! response future holds one.

use core::marker::PhantomData;
use core::ops::Deref;

use crate::breaker::Breaker;
use crate::policy::{Consecutive, Policy};
use crate::types::{Outcome, Rejected, Ticket, Transition};

/// An admitted call holding its breaker handle `H` (the shape of tokio's
/// `OwnedSemaphorePermit`). Report the outcome with
/// [`record`](Self::record); dropped unrecorded, it releases its half-open
/// slot (if any) and counts nothing, like a [`Permit`](crate::Permit).
///
/// ```
/// use std::sync::Arc;
/// use tripbit::{Breaker, Config, Outcome, State};
/// let b = Arc::new(Breaker::new(Config::new(10).consecutive_failures(1)));
/// let permit = Breaker::try_acquire_owned(b.clone(), 0).unwrap();
/// let handle = std::thread::spawn(move || permit.record(Outcome::Failure, 1));
/// assert_eq!(handle.join().unwrap().unwrap().to, State::Open);
/// ```
#[must_use = "record the outcome, or drop the permit to release it"]
pub struct OwnedPermit<H, P = Consecutive>
where
    P: Policy,
    H: Deref<Target = Breaker<P>>,
{
    breaker: H,
    /// `None` once recorded or turned into a plain ticket.
    ticket: Option<Ticket>,
    transition: Option<Transition>,
    _policy: PhantomData<fn() -> P>,
}

impl<P: Policy> Breaker<P> {
    /// [`try_acquire`](Self::try_acquire) through an owning handle: the
    /// permit keeps `this` (an `Arc<Breaker>`, a `&'static Breaker`, ...)
    /// instead of borrowing the breaker.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tripbit::{Breaker, Config};
    /// let b = Arc::new(Breaker::new(Config::new(10)));
    /// let p = Breaker::try_acquire_owned(b, 0).unwrap();
    /// assert!(!p.is_probe());
    /// ```
    pub fn try_acquire_owned<H>(this: H, now: u64) -> Result<OwnedPermit<H, P>, Rejected>
    where
        H: Deref<Target = Breaker<P>>,
    {
        let (ticket, transition) = this.acquire_ticket(now)?;
        Ok(OwnedPermit::new(this, ticket, transition))
    }

    /// [`try_acquire_owned`](Self::try_acquire_owned) that reads the tick
    /// from `clock` only when it needs one (see
    /// [`try_acquire_with`](Self::try_acquire_with)).
    ///
    /// ```
    /// use tripbit::{Breaker, Config};
    /// static B: Breaker = Breaker::new(Config::new(10));
    /// let p = Breaker::try_acquire_owned_with(&B, || unreachable!("closed")).unwrap();
    /// assert_eq!(p.ticket().acquired_at, 0);
    /// ```
    pub fn try_acquire_owned_with<H>(
        this: H,
        clock: impl FnOnce() -> u64,
    ) -> Result<OwnedPermit<H, P>, Rejected>
    where
        H: Deref<Target = Breaker<P>>,
    {
        let (ticket, transition) = this.acquire_ticket_with(clock)?;
        Ok(OwnedPermit::new(this, ticket, transition))
    }
}

impl<H, P> OwnedPermit<H, P>
where
    P: Policy,
    H: Deref<Target = Breaker<P>>,
{
    fn new(breaker: H, ticket: Ticket, transition: Option<Transition>) -> Self {
        OwnedPermit {
            breaker,
            ticket: Some(ticket),
            transition,
            _policy: PhantomData,
        }
    }

    /// Reports the outcome at tick `now`; the transition it caused, if any.
    /// A result of an older generation is discarded.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// static B: Breaker = Breaker::new(Config::new(10));
    /// let p = Breaker::try_acquire_owned(&B, 0).unwrap();
    /// assert_eq!(p.record(Outcome::Success, 1), None);
    /// ```
    pub fn record(mut self, outcome: Outcome, now: u64) -> Option<Transition> {
        let ticket = self.ticket.take()?;
        self.breaker
            .record_ticket(ticket, outcome, now)
            .ok()
            .flatten()
    }

    /// [`record`](Self::record) with the tick read from `clock` only when
    /// the outcome needs one (never for a clean closed success of the
    /// consecutive policy).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// static B: Breaker = Breaker::new(Config::new(10));
    /// let p = Breaker::try_acquire_owned(&B, 0).unwrap();
    /// assert_eq!(p.record_with(Outcome::Success, || unreachable!("no tick needed")), None);
    /// ```
    pub fn record_with(
        mut self,
        outcome: Outcome,
        clock: impl FnOnce() -> u64,
    ) -> Option<Transition> {
        let ticket = self.ticket.take()?;
        self.breaker
            .record_ticket_with(ticket, outcome, clock)
            .ok()
            .flatten()
    }

    /// The transition that admitting this call caused.
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome, State};
    /// static B: Breaker = Breaker::new(Config::new(10).consecutive_failures(1));
    /// B.try_acquire(0).unwrap().record(Outcome::Failure, 0);
    /// let p = Breaker::try_acquire_owned(&B, 10).unwrap();
    /// assert_eq!(p.transition().unwrap().to, State::HalfOpen);
    /// ```
    pub fn transition(&self) -> Option<Transition> {
        self.transition
    }

    /// Whether this call is a half-open probe.
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(10));
    /// assert!(!tripbit::Breaker::try_acquire_owned(&B, 0).unwrap().is_probe());
    /// ```
    pub fn is_probe(&self) -> bool {
        self.ticket.is_some_and(|t| t.probe)
    }

    /// The call's ticket (a copy; the permit still owns the call).
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(10));
    /// assert_eq!(tripbit::Breaker::try_acquire_owned(&B, 7).unwrap().ticket().acquired_at, 7);
    /// ```
    pub fn ticket(&self) -> Ticket {
        // Only `record*` / `into_ticket` take it, and they consume `self`.
        self.ticket.unwrap_or(Ticket {
            acquired_at: 0,
            generation: 0,
            probe: false,
            slot: 0,
        })
    }

    /// The breaker handle.
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(10));
    /// let p = tripbit::Breaker::try_acquire_owned(&B, 0).unwrap();
    /// assert!(core::ptr::eq(*p.breaker(), &B));
    /// ```
    pub fn breaker(&self) -> &H {
        &self.breaker
    }

    /// Gives the call up as a plain [`Ticket`] without releasing anything;
    /// report it later with [`Breaker::record_ticket`].
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(10));
    /// let t = tripbit::Breaker::try_acquire_owned(&B, 3).unwrap().into_ticket();
    /// assert_eq!(t.acquired_at, 3);
    /// ```
    pub fn into_ticket(mut self) -> Ticket {
        let t = self.ticket();
        self.ticket = None;
        t
    }
}

impl<H, P> core::fmt::Debug for OwnedPermit<H, P>
where
    P: Policy,
    H: Deref<Target = Breaker<P>>,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("ticket", &self.ticket)
            .field("transition", &self.transition)
            .finish()
    }
}

impl<H, P> Drop for OwnedPermit<H, P>
where
    P: Policy,
    H: Deref<Target = Breaker<P>>,
{
    fn drop(&mut self) {
        // As a dropped `Permit`: a probe frees its slot and counts nothing
        // (stale is fine: the generation that owned it is gone); a closed
        // call has nothing to release.
        if let Some(ticket) = self.ticket.take().filter(Ticket::is_probe) {
            let _ = self.breaker.release(ticket, ticket.acquired_at);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Breaker, Config, Outcome, State};

    #[test]
    fn a_dropped_owned_probe_frees_its_slot_once() {
        static B: Breaker =
            Breaker::new(Config::new(10).consecutive_failures(1).probe_timeout(1_000));
        B.try_acquire(0).unwrap().record(Outcome::Failure, 0);
        let p = Breaker::try_acquire_owned(&B, 10).unwrap();
        assert!(p.is_probe());
        assert!(Breaker::try_acquire_owned(&B, 10).is_err());
        drop(p);
        let s = B.snapshot(10);
        assert_eq!(
            (s.state, s.probes_in_flight, s.probe_successes),
            (State::HalfOpen, 0, 0)
        );
        // The round is over: the next caller starts a new one and closes it.
        let p = Breaker::try_acquire_owned(&B, 11).unwrap();
        assert_eq!(p.record(Outcome::Success, 11).unwrap().to, State::Closed);
    }
}
