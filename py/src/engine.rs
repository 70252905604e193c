//! The core breaker behind a Python `CircuitBreaker`: the consecutive policy
//! inline (the drop-in's hot path), or a sliding-window breaker chosen at
//! run time behind a trait object.

use tripbit::{
    Breaker, Config, ConfigError, Outcome, Policy, Rejected, Snapshot, Stale, TickBounds, Ticket,
    Transition, Window,
};

/// Most buckets of a Python window breaker: a window of up to 10 calls gets
/// one bucket per call (exact); larger ones get 10 buckets of `⌈calls/10⌉`.
pub(crate) const MAX_BUCKETS: u32 = 10;

/// The core's operations, object-safe, for the window breakers whose bucket
/// count is a const generic picked at run time.
pub(crate) trait Engine: Send + Sync {
    fn acquire_coarse(
        &self,
        coarse: &mut dyn FnMut() -> TickBounds,
        clock: &mut dyn FnMut() -> u64,
    ) -> Result<(Ticket, Option<Transition>), Rejected>;
    fn record(&self, t: Ticket, o: Outcome, now: u64) -> Result<Option<Transition>, Stale>;
    fn release(&self, t: Ticket, now: u64) -> Result<(), Stale>;
    fn snapshot(&self, now: u64) -> Snapshot;
    fn advance(&self, now: u64) -> Option<Transition>;
    fn force_open(&self) -> Option<Transition>;
    fn force_closed(&self) -> Option<Transition>;
    fn disable(&self) -> Option<Transition>;
    fn reset(&self) -> Option<Transition>;
}

impl<P: Policy + Send + Sync> Engine for Breaker<P> {
    fn acquire_coarse(
        &self,
        coarse: &mut dyn FnMut() -> TickBounds,
        clock: &mut dyn FnMut() -> u64,
    ) -> Result<(Ticket, Option<Transition>), Rejected> {
        self.acquire_ticket_coarse(coarse, clock)
    }
    fn record(&self, t: Ticket, o: Outcome, now: u64) -> Result<Option<Transition>, Stale> {
        self.record_ticket(t, o, now)
    }
    fn release(&self, t: Ticket, now: u64) -> Result<(), Stale> {
        Breaker::release(self, t, now)
    }
    fn snapshot(&self, now: u64) -> Snapshot {
        Breaker::snapshot(self, now)
    }
    fn advance(&self, now: u64) -> Option<Transition> {
        Breaker::advance(self, now)
    }
    fn force_open(&self) -> Option<Transition> {
        Breaker::force_open(self)
    }
    fn force_closed(&self) -> Option<Transition> {
        Breaker::force_closed(self)
    }
    fn disable(&self) -> Option<Transition> {
        Breaker::disable(self)
    }
    fn reset(&self) -> Option<Transition> {
        Breaker::reset(self)
    }
}

/// One breaker of either policy.
pub(crate) enum Core {
    /// `failure_threshold` consecutive failures (the drop-in): called
    /// directly, so the hot path inlines the core's two loads.
    Consecutive(Breaker),
    /// Failure-rate / slow-call window.
    Window(Box<dyn Engine>),
    /// `failure_threshold` consecutive failures, in a region file shared by
    /// every process of the host (`shared=`): the same core breaker, in
    /// shared memory.
    #[cfg(target_os = "linux")]
    Shared(tripbit_shm::SharedBreaker),
    /// `failure_threshold` consecutive failures, as the local breaker of a
    /// key in a fleet monitor (`tripbit.fleet`): every call counted for the
    /// fleet, the fleet's verdict mirrored into it by the monitor's thread.
    #[cfg(target_os = "linux")]
    Fleet(crate::fleet::FleetCore),
}

macro_rules! dispatch {
    ($self:ident, $b:ident => $e:expr) => {
        match $self {
            Core::Consecutive($b) => $e,
            Core::Window($b) => $e,
            #[cfg(target_os = "linux")]
            Core::Shared($b) => $e,
            #[cfg(target_os = "linux")]
            Core::Fleet($b) => $e,
        }
    };
}

impl Core {
    /// A consecutive-failures breaker.
    pub(crate) fn consecutive(config: Config) -> Result<Core, ConfigError> {
        Breaker::try_new(config).map(Core::Consecutive)
    }

    /// A window breaker with `buckets` buckets (1..=[`MAX_BUCKETS`]).
    pub(crate) fn window(config: Config, buckets: u32) -> Result<Core, ConfigError> {
        macro_rules! build {
            ($($n:literal)*) => {
                match buckets {
                    $($n => Box::new(Breaker::<Window<$n, 1>>::try_new_window(config)?) as Box<dyn Engine>,)*
                    _ => return Err(ConfigError::WindowLen),
                }
            };
        }
        Ok(Core::Window(build!(1 2 3 4 5 6 7 8 9 10)))
    }

    /// Admits a call, reading `clock` only when the core needs the precise
    /// tick, and `coarse` when a coarse reading can decide (a rejection
    /// while the open period runs; see `Breaker::acquire_ticket_coarse`).
    /// A fleet breaker decides on its mirrored verdict first and reads the
    /// precise clock where its local breaker needs one.
    #[inline(always)]
    pub(crate) fn acquire_coarse(
        &self,
        mut coarse: impl FnMut() -> TickBounds,
        mut clock: impl FnMut() -> u64,
    ) -> Result<(Ticket, Option<Transition>), Rejected> {
        match self {
            Core::Consecutive(b) => b.acquire_ticket_coarse(coarse, clock),
            Core::Window(w) => w.acquire_coarse(&mut coarse, &mut clock),
            #[cfg(target_os = "linux")]
            Core::Shared(b) => b.acquire_ticket_coarse(coarse, clock),
            #[cfg(target_os = "linux")]
            Core::Fleet(b) => b.acquire_ticket_with(clock),
        }
    }

    #[inline(always)]
    pub(crate) fn record(
        &self,
        t: Ticket,
        o: Outcome,
        now: u64,
    ) -> Result<Option<Transition>, Stale> {
        match self {
            Core::Consecutive(b) => b.record_ticket(t, o, now),
            Core::Window(w) => w.record(t, o, now),
            #[cfg(target_os = "linux")]
            Core::Shared(b) => b.record_ticket(t, o, now),
            #[cfg(target_os = "linux")]
            Core::Fleet(b) => b.record_ticket(t, o, now),
        }
    }

    /// Gives an admitted call back unused: frees its probe slot (if any),
    /// counts nothing; at most once per ticket (the core's `release`).
    pub(crate) fn release(&self, t: Ticket, now: u64) -> Result<(), Stale> {
        dispatch!(self, b => b.release(t, now))
    }

    pub(crate) fn snapshot(&self, now: u64) -> Snapshot {
        dispatch!(self, b => b.snapshot(now))
    }

    /// The lazy `Open -> HalfOpen` move at `now`, admitting no call.
    pub(crate) fn advance(&self, now: u64) -> Option<Transition> {
        dispatch!(self, b => b.advance(now))
    }

    pub(crate) fn force_open(&self) -> Option<Transition> {
        dispatch!(self, b => b.force_open())
    }

    pub(crate) fn force_closed(&self) -> Option<Transition> {
        dispatch!(self, b => b.force_closed())
    }

    pub(crate) fn disable(&self) -> Option<Transition> {
        dispatch!(self, b => b.disable())
    }

    pub(crate) fn reset(&self) -> Option<Transition> {
        dispatch!(self, b => b.reset())
    }

    pub(crate) fn is_window(&self) -> bool {
        matches!(self, Core::Window(_))
    }

    /// The fleet part of a fleet breaker (`None` for any other).
    #[cfg(target_os = "linux")]
    pub(crate) fn fleet(&self) -> Option<&crate::fleet::FleetCore> {
        match self {
            Core::Fleet(f) => Some(f),
            _ => None,
        }
    }

    /// A watcher of the transitions other processes make, for a
    /// `shared=` breaker (`None` for a private one).
    #[cfg(target_os = "linux")]
    pub(crate) fn watch(&self) -> Option<tripbit_shm::Watch> {
        match self {
            Core::Shared(b) => Some(b.watch()),
            _ => None,
        }
    }
}

/// How a count window of `calls` calls is cut: `(buckets, calls per bucket)`.
/// Up to [`MAX_BUCKETS`] calls: one bucket per call; beyond, 10 buckets of
/// `⌈calls / 10⌉` (the window holds `10 × ⌈calls / 10⌉` calls).
pub(crate) fn count_buckets(calls: u32) -> (u32, u32) {
    if calls <= MAX_BUCKETS {
        (calls.max(1), 1)
    } else {
        (MAX_BUCKETS, calls.div_ceil(MAX_BUCKETS))
    }
}

/// How a time window of `ns` nanoseconds is cut: 10 buckets of `⌈ns / 10⌉`.
pub(crate) fn time_buckets(ns: u64) -> (u32, u64) {
    (MAX_BUCKETS, ns.div_ceil(u64::from(MAX_BUCKETS)).max(1))
}
