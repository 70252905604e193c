//! `Config`: what trips a breaker and how it recovers, built with `const fn`s.
//!
//! Every duration is in *ticks*, the unit of the `now` values the caller
//! passes (milliseconds, microseconds, timer counts: tripbit never reads a
//! clock, so it never assumes one).

#![cfg_attr(tripbit_word32, allow(clippy::unnecessary_cast))] // the 32-bit word casts u32 to Raw = u32

use crate::state::{MAX_HALF_OPEN_COUNT, MAX_LEVEL, MAX_PROBES};

/// Most concurrent half-open probes ([`Config::probes`]): the half-open
/// word keeps one "done" bit per probe slot of a round.
pub const MAX_PROBES_LIMIT: u8 = MAX_PROBES as u8;
/// Most half-open successes needed to close ([`Config::close_after`]); the
/// close bar's allowed failures must also stay below it.
pub const MAX_CLOSE_AFTER: u16 = MAX_HALF_OPEN_COUNT as u16;
/// Most consecutive failures a [`Config::consecutive_failures`] threshold
/// may ask for (the closed-state counter is 32 bits; 18 in the 32-bit
/// word, see [`WORD_BITS`]).
pub const MAX_FAILURE_THRESHOLD: u32 = crate::state::COUNT_MAX;
/// Width of the state word on this target: 64 where 64-bit atomics are
/// native, 32 elsewhere (Cortex-M0/M3/M4/M7, RV32), where the limits
/// above are narrower (4 probes, `close_after` ≤ 31, 262,143 failures,
/// backoff level ≤ 7, periods below [`MAX_PERIOD_TICKS`]).
///
/// ```
/// assert!(tripbit::WORD_BITS == 64 || tripbit::MAX_PROBES_LIMIT == 4);
/// ```
pub const WORD_BITS: u32 = if cfg!(tripbit_word32) { 32 } else { 64 };
/// The longest period (open period at the top backoff level, probe
/// timeout) a breaker can time: any `u64`, or 2⁴⁶ − 1 ticks with the
/// 32-bit word's 48-bit stamps.
pub const MAX_PERIOD_TICKS: u64 = if cfg!(tripbit_word32) {
    (1 << 46) - 1
} else {
    u64::MAX
};
/// Largest backoff factor ([`Config::backoff`]'s `factor`, a `u8`).
pub const MAX_BACKOFF_FACTOR: u8 = u8::MAX;
/// Most backoff levels ([`Config::backoff`]'s `max_level`).
pub const MAX_BACKOFF_LEVEL: u8 = MAX_LEVEL;
/// The largest generation a closed-state [`Ticket`](crate::Ticket) can
/// carry (the state word's 24-bit generation, 8-bit in the 32-bit word;
/// probe tickets carry 32 bits of the 64-bit one). A binding that receives tickets as plain data can
/// refuse a forged one with it.
pub const MAX_CLOSED_TICKET_GENERATION: u32 = crate::state::GEN_MASK;
/// Most calls one window bucket counts ([`Config::count_window`]'s limit;
/// a time-window bucket stops counting at this many calls, see
/// [`Window`](crate::Window)).
pub const MAX_BUCKET_CALLS: u32 = BUCKET_MAX as u32;
/// Capacity of each count of a window bucket (13 bits; see `window.rs`).
pub(crate) const BUCKET_MAX: u64 = (1 << 13) - 1;

/// What makes a breaker trip from `Closed` to `Open`.
///
/// ```
/// use tripbit::{Config, Trip};
/// let c = Config::new(1_000).failure_rate(50, 20);
/// assert_eq!(c.trip(), Trip::FailureRate { percent: 50, min_calls: 20 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Trip {
    /// Trip after this many failures in a row; a success resets the count.
    /// Used by [`Breaker`](crate::Breaker) (the default policy).
    ConsecutiveFailures(u32),
    /// Trip when `failures × 100 ≥ percent × calls` over the sliding window,
    /// once the window holds at least `min_calls` calls. Used by
    /// [`Breaker<Window<N>>`](crate::Window).
    FailureRate {
        /// Failure ratio that trips, in percent (1..=100).
        percent: u8,
        /// Calls the window must hold before the ratio counts (≥ 1).
        min_calls: u32,
    },
}

/// How a [`Window`](crate::Window) policy cuts its history into buckets.
///
/// ```
/// use tripbit::{Config, WindowKind};
/// let c = Config::new(1_000).failure_rate(50, 10).time_window(100);
/// assert_eq!(c.window(), WindowKind::Ticks(100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WindowKind {
    /// Count-based: each bucket holds this many consecutive calls; the window
    /// is the last `N × calls` calls.
    Calls(u32),
    /// Time-based: each bucket covers this many ticks; the window is the last
    /// `N × ticks` ticks.
    Ticks(u64),
}

/// A breaker's configuration. Build it with [`Config::new`] and the
/// chained `const fn` setters; every setting documents its default.
///
/// ```
/// use tripbit::{Breaker, Config};
/// // Trip after 3 failures in a row; stay open 30 000 ticks (30 s in ms),
/// // then let 1 probe through; double the open period on each failed probe,
/// // at most 2⁴ = 16 times.
/// const CONFIG: Config = Config::new(30_000).consecutive_failures(3).backoff(2, 4);
/// static BREAKER: Breaker = Breaker::new(CONFIG);
/// assert!(BREAKER.try_acquire(0).is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    pub(crate) trip: Trip,
    pub(crate) open_ticks: u64,
    pub(crate) probes: u8,
    pub(crate) close_after: u16,
    pub(crate) probe_ticks: u64,
    pub(crate) close_max_failure_percent: u8,
    pub(crate) backoff_factor: u8,
    pub(crate) backoff_max_level: u8,
    pub(crate) window: WindowKind,
    pub(crate) slow_ticks: u64,
    pub(crate) slow_percent: u8,
}

/// A setting that [`Config::validate`] refused; [`field`](ConfigError::field)
/// names it.
///
/// ```
/// use tripbit::{Config, ConfigError};
/// let err = Config::new(0).validate().unwrap_err();
/// assert_eq!(err, ConfigError::OpenTicks);
/// assert_eq!(err.field(), "open_ticks");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// `consecutive_failures` is 0.
    FailureThreshold,
    /// `open_ticks` is 0.
    OpenTicks,
    /// `backoff` factor is 0.
    BackoffFactor,
    /// `backoff` max level is above 31.
    BackoffLevel,
    /// `open_ticks × factor^max_level` overflows `u64`.
    BackoffOverflow,
    /// `probes` is 0, above [`MAX_PROBES_LIMIT`], or more than the close bar can use
    /// (`close_after` + the failures the close bar allows).
    Probes,
    /// `close_after` is 0 or above [`MAX_CLOSE_AFTER`].
    CloseAfter,
    /// The close bar (`close_after` with `close_max_failure_percent`) allows
    /// more half-open failures than the half-open counters hold, so a
    /// failing trial could never reopen the breaker.
    CloseBar,
    /// `probe_timeout` is 0.
    ProbeTimeout,
    /// `close_max_failure_percent` is above 99, or not stricter (lower) than
    /// the trip ratio of a failure-rate policy.
    CloseMaxFailurePercent,
    /// `failure_rate` percent is outside 1..=100.
    FailurePercent,
    /// `failure_rate` min_calls is 0, or more calls than the window can
    /// ever hold (`N × calls per bucket`), so the breaker could never trip.
    MinCalls,
    /// `slow_calls` percent is outside 1..=100.
    SlowPercent,
    /// `slow_calls` duration is 0.
    SlowTicks,
    /// A window bucket of 0 ticks, or of 0 or more than
    /// [`MAX_BUCKET_CALLS`] calls.
    WindowBucket,
    /// The window has no buckets (`Window<0>`) or more than 1024.
    WindowLen,
    /// The policy does not fit the breaker type: a failure-rate or slow-call
    /// config given to the consecutive `Breaker`, or a consecutive config
    /// given to `Breaker<Window<N>>`.
    Policy,
}

/// The messages whose ranges depend on the state word's width.
#[cfg(not(tripbit_word32))]
mod msg {
    pub(super) const FAILURE_THRESHOLD: &str = "consecutive_failures must be at least 1";
    pub(super) const OPEN_TICKS: &str = "open_ticks must be at least 1";
    pub(super) const BACKOFF_LEVEL: &str = "backoff max_level must be at most 31";
    pub(super) const BACKOFF_OVERFLOW: &str =
        "backoff: open_ticks x factor^max_level overflows u64 ticks";
    pub(super) const PROBES: &str =
        "probes must be 1..=8 and at most close_after plus the failures the close bar allows";
    pub(super) const CLOSE_AFTER: &str = "close_after must be 1..=1023";
    pub(super) const CLOSE_BAR: &str = "close_max_failure_percent: close_after x percent / (100 - percent) must allow at most 1022 half-open failures";
    pub(super) const PROBE_TIMEOUT: &str = "probe_timeout must be at least 1 tick";
}

/// The messages of the 32-bit word's ranges (`state.rs`).
#[cfg(tripbit_word32)]
mod msg {
    pub(super) const FAILURE_THRESHOLD: &str = "consecutive_failures must be 1..=262143";
    pub(super) const OPEN_TICKS: &str = "open_ticks must be 1..=2^46-1";
    pub(super) const BACKOFF_LEVEL: &str = "backoff max_level must be at most 7";
    pub(super) const BACKOFF_OVERFLOW: &str =
        "backoff: open_ticks x factor^max_level must be below 2^46 ticks";
    pub(super) const PROBES: &str =
        "probes must be 1..=4 and at most close_after plus the failures the close bar allows";
    pub(super) const CLOSE_AFTER: &str = "close_after must be 1..=31";
    pub(super) const CLOSE_BAR: &str = "close_max_failure_percent: close_after x percent / (100 - percent) must allow at most 30 half-open failures";
    pub(super) const PROBE_TIMEOUT: &str = "probe_timeout must be 1..=2^46-1 ticks";
}

impl ConfigError {
    /// The name of the setting at fault, as the builder method spells it.
    ///
    /// ```
    /// assert_eq!(tripbit::ConfigError::Probes.field(), "probes");
    /// ```
    pub const fn field(self) -> &'static str {
        match self {
            ConfigError::FailureThreshold => "consecutive_failures",
            ConfigError::OpenTicks => "open_ticks",
            ConfigError::BackoffFactor | ConfigError::BackoffLevel => "backoff",
            ConfigError::BackoffOverflow => "backoff",
            ConfigError::Probes => "probes",
            ConfigError::CloseAfter => "close_after",
            ConfigError::CloseBar => "close_max_failure_percent",
            ConfigError::ProbeTimeout => "probe_timeout",
            ConfigError::CloseMaxFailurePercent => "close_max_failure_percent",
            ConfigError::FailurePercent | ConfigError::MinCalls => "failure_rate",
            ConfigError::SlowPercent | ConfigError::SlowTicks => "slow_calls",
            ConfigError::WindowBucket => "window",
            ConfigError::WindowLen => "Window<N>",
            ConfigError::Policy => "trip",
        }
    }

    /// A one-line explanation, naming the setting.
    ///
    /// ```
    /// assert!(tripbit::ConfigError::OpenTicks.message().contains("open_ticks"));
    /// ```
    pub const fn message(self) -> &'static str {
        match self {
            ConfigError::FailureThreshold => msg::FAILURE_THRESHOLD,
            ConfigError::OpenTicks => msg::OPEN_TICKS,
            ConfigError::BackoffFactor => "backoff factor must be at least 1",
            ConfigError::BackoffLevel => msg::BACKOFF_LEVEL,
            ConfigError::BackoffOverflow => msg::BACKOFF_OVERFLOW,
            ConfigError::Probes => msg::PROBES,
            ConfigError::CloseAfter => msg::CLOSE_AFTER,
            ConfigError::CloseBar => msg::CLOSE_BAR,
            ConfigError::ProbeTimeout => msg::PROBE_TIMEOUT,
            ConfigError::CloseMaxFailurePercent => {
                "close_max_failure_percent must be at most 99 and below the trip percent"
            }
            ConfigError::FailurePercent => "failure_rate percent must be 1..=100",
            ConfigError::MinCalls => {
                "failure_rate min_calls must be at least 1 and at most the calls the window holds (N x calls per bucket)"
            }
            ConfigError::SlowPercent => "slow_calls percent must be 1..=100",
            ConfigError::SlowTicks => "slow_calls duration must be at least 1 tick",
            ConfigError::WindowBucket => {
                "window buckets must hold 1..=8191 calls (count_window) or at least 1 tick (time_window)"
            }
            ConfigError::WindowLen => "Window<N> needs 1..=1024 buckets",
            ConfigError::Policy => {
                "trip policy does not fit the breaker: failure_rate and slow_calls need Breaker<Window<N>>, consecutive_failures needs Breaker"
            }
        }
    }
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}

impl Config {
    /// A configuration that stays open for `open_ticks` after tripping, with
    /// the defaults: trip after 5 consecutive failures, 1 probe, close after
    /// 1 success, any half-open failure reopens, no backoff (factor 1), a
    /// count window of 10 calls per bucket, no slow-call policy, and a probe
    /// deadline ([`probe_timeout`](Self::probe_timeout)) equal to the open
    /// period.
    ///
    /// ```
    /// let c = tripbit::Config::new(5_000);
    /// assert_eq!(c.open_ticks(), 5_000);
    /// assert_eq!(c.trip(), tripbit::Trip::ConsecutiveFailures(5));
    /// ```
    pub const fn new(open_ticks: u64) -> Config {
        Config {
            trip: Trip::ConsecutiveFailures(5),
            open_ticks,
            probes: 1,
            close_after: 1,
            probe_ticks: open_ticks,
            close_max_failure_percent: 0,
            backoff_factor: 1,
            backoff_max_level: 0,
            window: WindowKind::Calls(10),
            slow_ticks: 0,
            slow_percent: 0,
        }
    }

    /// Trip after `n` failures in a row (default 5; must be ≥ 1, any `u32`).
    ///
    /// ```
    /// let c = tripbit::Config::new(100).consecutive_failures(100_000);
    /// assert_eq!(c.trip(), tripbit::Trip::ConsecutiveFailures(100_000));
    /// ```
    pub const fn consecutive_failures(self, n: u32) -> Config {
        Config {
            trip: Trip::ConsecutiveFailures(n),
            ..self
        }
    }

    /// Trip when at least `percent`% of the window's calls failed, once it
    /// holds `min_calls` calls. Needs [`Breaker<Window<N>>`](crate::Window).
    /// The ratios are checked when a call fails or is slow (a fast success
    /// cannot raise them), so a breaker never trips on a fast success.
    ///
    /// ```
    /// let c = tripbit::Config::new(100).failure_rate(50, 10);
    /// assert!(c.validate().is_ok());
    /// ```
    pub const fn failure_rate(self, percent: u8, min_calls: u32) -> Config {
        Config {
            trip: Trip::FailureRate { percent, min_calls },
            ..self
        }
    }

    /// A call that took at least `slow_ticks` counts as slow; trip when at
    /// least `percent`% of the window's calls were slow (default: off).
    /// Needs [`Breaker<Window<N>>`](crate::Window).
    ///
    /// ```
    /// let c = tripbit::Config::new(100).failure_rate(50, 10).slow_calls(250, 80);
    /// assert_eq!(c.slow(), Some((250, 80)));
    /// ```
    pub const fn slow_calls(self, slow_ticks: u64, percent: u8) -> Config {
        Config {
            slow_ticks,
            slow_percent: percent,
            ..self
        }
    }

    /// Count-based window: each of the `N` buckets holds `calls` calls
    /// (default 10).
    ///
    /// ```
    /// let c = tripbit::Config::new(100).failure_rate(50, 10).count_window(25);
    /// assert_eq!(c.window(), tripbit::WindowKind::Calls(25));
    /// ```
    pub const fn count_window(self, calls: u32) -> Config {
        Config {
            window: WindowKind::Calls(calls),
            ..self
        }
    }

    /// Time-based window: each of the `N` buckets covers `bucket_ticks` ticks.
    ///
    /// ```
    /// let c = tripbit::Config::new(100).failure_rate(50, 10).time_window(1_000);
    /// assert_eq!(c.window(), tripbit::WindowKind::Ticks(1_000));
    /// ```
    pub const fn time_window(self, bucket_ticks: u64) -> Config {
        Config {
            window: WindowKind::Ticks(bucket_ticks),
            ..self
        }
    }

    /// Concurrent trial calls admitted while half-open (default 1, max
    /// [`MAX_PROBES_LIMIT`] = 8). Probes run in *rounds*: a round admits up
    /// to `probes` calls, each in its own slot; the next round starts once
    /// every probe of the round has reported (or at the probe deadline).
    /// A slot is never reused within a round, which is what makes each probe
    /// count at most once.
    ///
    /// ```
    /// let c = tripbit::Config::new(100).probes(3).close_after(3);
    /// assert!(c.validate().is_ok());
    /// ```
    pub const fn probes(self, probes: u8) -> Config {
        Config { probes, ..self }
    }

    /// Half-open successes needed to close (default 1, max
    /// [`MAX_CLOSE_AFTER`] = 1023).
    ///
    /// ```
    /// let c = tripbit::Config::new(100).close_after(5);
    /// assert_eq!(c.close_bar(), (5, 0));
    /// ```
    pub const fn close_after(self, successes: u16) -> Config {
        Config {
            close_after: successes,
            ..self
        }
    }

    /// Failures the half-open trial may contain and still close, as a percent
    /// of its calls (default 0: any half-open failure reopens). Must be below
    /// the failure-rate trip percent: the close bar is stricter than the trip
    /// bar, so a breaker hovering at the trip ratio does not flap.
    ///
    /// Range: 0..=99, and the bar may allow at most 1022 failures
    /// (`close_after × percent / (100 − percent)`, rounded down; the
    /// trial's failure counter has 10 bits and the failure past the bar
    /// must fit it), that is `close_after × percent < 1023 × (100 − percent)`:
    /// 99 % works up to `close_after(10)`, 96 % up to 42, any percent up to
    /// 49 with every `close_after`. Beyond it, [`ConfigError::CloseBar`].
    ///
    /// ```
    /// // close after 8 successes while allowing 2 failures (20 %).
    /// let c = tripbit::Config::new(100).close_after(8).close_max_failure_percent(20);
    /// assert_eq!(c.close_bar(), (8, 2));
    /// ```
    pub const fn close_max_failure_percent(self, percent: u8) -> Config {
        Config {
            close_max_failure_percent: percent,
            ..self
        }
    }

    /// The probe deadline: a half-open round whose probes have not all
    /// reported `ticks` after it started is abandoned by the next call that
    /// finds every slot busy. That call starts a new round and becomes its
    /// probe; results that arrive later for the abandoned probes are stale.
    /// This is what un-wedges a breaker whose probe was leaked
    /// (`mem::forget`, a ticket never recorded), hung, or held by a process
    /// that died; it needs no background thread. An abandoned probe counts
    /// as *ignored*, not failed: a lost ticket or a dead process says
    /// nothing about the upstream, and a hung upstream is still probed at
    /// most once per slot per deadline. Default: the open period given to
    /// [`Config::new`]. Must be ≥ 1 (`u64::MAX` in effect disables it).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome, State};
    /// let b = Breaker::new(Config::new(10).consecutive_failures(1).probe_timeout(50));
    /// b.try_acquire(0).unwrap().record(Outcome::Failure, 0);
    /// let lost = b.acquire_ticket(10).unwrap().0; // a probe never reported
    /// assert!(b.try_acquire(59).is_err()); // its slot is still busy
    /// let probe = b.try_acquire(60).unwrap(); // deadline: a new round
    /// assert!(probe.is_probe());
    /// probe.record(Outcome::Success, 61);
    /// assert_eq!(b.state(61), State::Closed);
    /// assert!(b.record_ticket(lost, Outcome::Failure, 62).is_err()); // stale
    /// ```
    pub const fn probe_timeout(self, ticks: u64) -> Config {
        Config {
            probe_ticks: ticks,
            ..self
        }
    }

    /// Exponential backoff: after the `k`-th failed probe in a row the open
    /// period is `open_ticks × factorᵏ`, with `k` capped at `max_level`
    /// (default factor 1: no backoff). Reset when the breaker closes.
    ///
    /// ```
    /// let c = tripbit::Config::new(100).backoff(2, 3);
    /// assert_eq!(c.open_ticks_at_level(0), 100);
    /// assert_eq!(c.open_ticks_at_level(2), 400);
    /// assert_eq!(c.open_ticks_at_level(9), 800); // capped at level 3
    /// ```
    pub const fn backoff(self, factor: u8, max_level: u8) -> Config {
        Config {
            backoff_factor: factor,
            backoff_max_level: max_level,
            ..self
        }
    }

    /// The trip policy.
    ///
    /// ```
    /// assert_eq!(tripbit::Config::new(1).trip(), tripbit::Trip::ConsecutiveFailures(5));
    /// ```
    pub const fn trip(&self) -> Trip {
        self.trip
    }

    /// The base open period in ticks.
    ///
    /// ```
    /// assert_eq!(tripbit::Config::new(7).open_ticks(), 7);
    /// ```
    pub const fn open_ticks(&self) -> u64 {
        self.open_ticks
    }

    /// The probe deadline in ticks (see [`probe_timeout`](Self::probe_timeout)).
    ///
    /// ```
    /// assert_eq!(tripbit::Config::new(7).probe_ticks(), 7);
    /// assert_eq!(tripbit::Config::new(7).probe_timeout(3).probe_ticks(), 3);
    /// ```
    pub const fn probe_ticks(&self) -> u64 {
        self.probe_ticks
    }

    /// Concurrent half-open probes.
    ///
    /// ```
    /// assert_eq!(tripbit::Config::new(7).probes(2).probe_limit(), 2);
    /// ```
    pub const fn probe_limit(&self) -> u8 {
        self.probes
    }

    /// The window's bucket kind.
    ///
    /// ```
    /// assert_eq!(tripbit::Config::new(7).window(), tripbit::WindowKind::Calls(10));
    /// ```
    pub const fn window(&self) -> WindowKind {
        self.window
    }

    /// The slow-call policy as `(slow_ticks, percent)`, if set.
    ///
    /// ```
    /// assert_eq!(tripbit::Config::new(7).slow(), None);
    /// ```
    pub const fn slow(&self) -> Option<(u64, u8)> {
        if self.slow_ticks == 0 && self.slow_percent == 0 {
            None
        } else {
            Some((self.slow_ticks, self.slow_percent))
        }
    }

    /// The close bar as `(successes needed, failures allowed)`.
    ///
    /// ```
    /// assert_eq!(tripbit::Config::new(7).close_after(3).close_bar(), (3, 0));
    /// ```
    pub const fn close_bar(&self) -> (u32, u32) {
        let s = self.close_after as u32;
        (s, allowed_failures(s, self.close_max_failure_percent))
    }

    /// The open period at backoff level `level` (capped at the max level),
    /// saturating at `u64::MAX`.
    ///
    /// ```
    /// assert_eq!(tripbit::Config::new(10).backoff(3, 2).open_ticks_at_level(2), 90);
    /// ```
    pub const fn open_ticks_at_level(&self, level: u8) -> u64 {
        open_ticks_at(
            self.open_ticks,
            self.backoff_factor,
            self.backoff_max_level,
            level,
        )
    }

    /// Checks every setting; the error names the first one at fault.
    ///
    /// ```
    /// use tripbit::{Config, ConfigError};
    /// assert_eq!(Config::new(10).consecutive_failures(0).validate(), Err(ConfigError::FailureThreshold));
    /// assert_eq!(Config::new(10).probes(2).validate(), Err(ConfigError::Probes));
    /// assert_eq!(Config::new(u64::MAX).backoff(2, 1).validate(), Err(ConfigError::BackoffOverflow));
    /// assert!(Config::new(10).validate().is_ok());
    /// ```
    pub const fn validate(&self) -> Result<(), ConfigError> {
        match self.trip {
            Trip::ConsecutiveFailures(0) => return Err(ConfigError::FailureThreshold),
            Trip::ConsecutiveFailures(n) if too_many_failures(n) => {
                return Err(ConfigError::FailureThreshold);
            }
            Trip::ConsecutiveFailures(_) => {}
            Trip::FailureRate { percent, min_calls } => {
                if percent == 0 || percent > 100 {
                    return Err(ConfigError::FailurePercent);
                }
                if min_calls == 0 {
                    return Err(ConfigError::MinCalls);
                }
                if self.close_max_failure_percent >= percent {
                    return Err(ConfigError::CloseMaxFailurePercent);
                }
            }
        }
        if let Err(e) = check_stored(&Stored {
            open_ticks: self.open_ticks,
            probe_ticks: self.probe_ticks,
            close_after: self.close_after,
            probes: self.probes,
            backoff_factor: self.backoff_factor,
            backoff_max_level: self.backoff_max_level,
            close_max_failure_percent: self.close_max_failure_percent,
        }) {
            return Err(e);
        }
        if let Some((ticks, percent)) = self.slow() {
            if ticks == 0 {
                return Err(ConfigError::SlowTicks);
            }
            if percent == 0 || percent > 100 {
                return Err(ConfigError::SlowPercent);
            }
        }
        match self.window {
            WindowKind::Calls(0) | WindowKind::Ticks(0) => Err(ConfigError::WindowBucket),
            WindowKind::Calls(c) if c > MAX_BUCKET_CALLS => Err(ConfigError::WindowBucket),
            _ => Ok(()),
        }
    }
}

/// The settings every breaker stores, whatever its policy: what
/// [`check_stored`] checks for both [`Config::validate`] and
/// `Breaker::is_valid` (one set of rules).
pub(crate) struct Stored {
    pub(crate) open_ticks: u64,
    pub(crate) probe_ticks: u64,
    pub(crate) close_after: u16,
    pub(crate) probes: u8,
    pub(crate) backoff_factor: u8,
    pub(crate) backoff_max_level: u8,
    pub(crate) close_max_failure_percent: u8,
}

/// Whether the stamp cannot time a period of `ticks`: never with the
/// 64-bit tick; from 2⁴⁶ ticks on with the 32-bit stamps (`machine.rs`).
#[cfg(not(tripbit_word32))]
const fn too_long(_ticks: u64) -> bool {
    false
}
/// Whether the stamp cannot time a period of `ticks`: never with the
/// 64-bit tick; from 2⁴⁶ ticks on with the 32-bit stamps (`machine.rs`).
#[cfg(tripbit_word32)]
const fn too_long(ticks: u64) -> bool {
    ticks > crate::machine::STAMP_MAX_PERIOD
}

/// Whether the closed counters cannot reach a threshold of `n` failures:
/// never with 32-bit counters; above 262,143 with the 32-bit word's 18.
#[cfg(not(tripbit_word32))]
const fn too_many_failures(_n: u32) -> bool {
    false
}
/// Whether the closed counters cannot reach a threshold of `n` failures:
/// never with 32-bit counters; above 262,143 with the 32-bit word's 18.
#[cfg(tripbit_word32)]
const fn too_many_failures(n: u32) -> bool {
    n > crate::state::COUNT_MAX
}

/// The rules for the stored settings, in the order `validate` reports them.
pub(crate) const fn check_stored(c: &Stored) -> Result<(), ConfigError> {
    if c.open_ticks == 0 || too_long(c.open_ticks) {
        return Err(ConfigError::OpenTicks);
    }
    if c.backoff_factor == 0 {
        return Err(ConfigError::BackoffFactor);
    }
    if c.backoff_max_level > MAX_LEVEL {
        return Err(ConfigError::BackoffLevel);
    }
    // Factor 1 never grows the period: no multiplications to check.
    if c.backoff_factor > 1 {
        match checked_open_ticks(c.open_ticks, c.backoff_factor, c.backoff_max_level) {
            Some(top) if !too_long(top) => {}
            _ => return Err(ConfigError::BackoffOverflow),
        }
    }
    if c.close_after == 0 || c.close_after as u32 > MAX_HALF_OPEN_COUNT {
        return Err(ConfigError::CloseAfter);
    }
    if c.close_max_failure_percent > 99 {
        return Err(ConfigError::CloseMaxFailurePercent);
    }
    let s = c.close_after as u32;
    let p = c.close_max_failure_percent;
    // The failure that exceeds the bar (allowed + 1) must fit the counter:
    // allowed < MAX, that is, MAX failures exceed the bar. Cross-multiplied
    // (no division; see `close_bar_exceeded`).
    if !close_bar_exceeded(MAX_HALF_OPEN_COUNT, s, p) {
        return Err(ConfigError::CloseBar);
    }
    if c.probe_ticks == 0 || too_long(c.probe_ticks) {
        return Err(ConfigError::ProbeTimeout);
    }
    // probes ≤ s + allowed  ⇔  probes ≤ s, or probes − s failures are
    // within the bar.
    let probes = c.probes as u32;
    if probes == 0 || probes > MAX_PROBES || (probes > s && close_bar_exceeded(probes - s, s, p)) {
        return Err(ConfigError::Probes);
    }
    Ok(())
}

/// Failures a half-open trial of `successes` may hold at `percent`% failures
/// (what [`Config::close_bar`] reports; the breaker itself decides with
/// [`close_bar_exceeded`], which needs no division).
pub(crate) const fn allowed_failures(successes: u32, percent: u8) -> u32 {
    if percent >= 100 {
        return MAX_HALF_OPEN_COUNT + 1;
    }
    // f / (s + f) ≤ p / 100  ⇔  f ≤ s·p / (100 − p)
    successes * percent as u32 / (100 - percent as u32)
}

/// Whether `failures` half-open failures exceed the close bar of
/// `successes` successes at `percent`% failures, that is
/// `failures > allowed_failures(successes, percent)`, without a division:
/// `f > ⌊s·p / (100 − p)⌋  ⇔  f·(100 − p) > s·p` for integers. Exactly the
/// same answer for every input (tested exhaustively over the ranges the
/// breaker uses: `failures`, `successes` ≤ 1024, any percent).
///
/// Bounds: `u32` products, exact while `failures`, `successes` ≤ 2²⁴ (the
/// breaker passes values ≤ 1024: its 10-bit counters and `close_after`);
/// larger inputs saturate, which only makes the bar harder to exceed.
/// A percent of 100 or more is never exceeded, as `allowed_failures` says.
#[inline]
pub(crate) const fn close_bar_exceeded(failures: u32, successes: u32, percent: u8) -> bool {
    if percent >= 100 {
        return false;
    }
    let p = percent as u32;
    failures.saturating_mul(100 - p) > successes.saturating_mul(p)
}

const fn checked_open_ticks(open: u64, factor: u8, level: u8) -> Option<u64> {
    let mut t = open;
    let mut i = 0;
    while i < level {
        t = match t.checked_mul(factor as u64) {
            Some(t) => t,
            None => return None,
        };
        i += 1;
    }
    Some(t)
}

/// The open period at `level` (capped at `max_level`), saturating. No
/// multiplication at all when the factor is 1 (no backoff, the default) or
/// the level is 0.
pub(crate) const fn open_ticks_at(open: u64, factor: u8, max_level: u8, level: u8) -> u64 {
    if factor <= 1 || level == 0 {
        return open;
    }
    let level = if level > max_level { max_level } else { level };
    match checked_open_ticks(open, factor, level) {
        Some(t) => t,
        None => u64::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        assert_eq!(Config::new(1).validate(), Ok(()));
    }

    #[test]
    fn every_error_names_a_field_and_explains_it() {
        let cases = [
            (
                Config::new(1).consecutive_failures(0),
                ConfigError::FailureThreshold,
            ),
            (Config::new(0), ConfigError::OpenTicks),
            (Config::new(1).backoff(0, 0), ConfigError::BackoffFactor),
            (Config::new(1).backoff(2, 32), ConfigError::BackoffLevel),
            (
                // Fits alone, overflows once multiplied (u64, or the 32-bit
                // stamp's 2^23 ticks).
                Config::new(if cfg!(tripbit_word32) {
                    1 << 45
                } else {
                    1 << 62
                })
                .backoff(4, 1),
                ConfigError::BackoffOverflow,
            ),
            (Config::new(1).probes(0), ConfigError::Probes),
            (Config::new(1).close_after(2).probes(3), ConfigError::Probes),
            (Config::new(1).close_after(0), ConfigError::CloseAfter),
            (Config::new(1).close_after(1024), ConfigError::CloseAfter),
            (
                Config::new(1)
                    .close_after(MAX_CLOSE_AFTER)
                    .close_max_failure_percent(50),
                ConfigError::CloseBar,
            ),
            (Config::new(1).probe_timeout(0), ConfigError::ProbeTimeout),
            (Config::new(1).count_window(8192), ConfigError::WindowBucket),
            (
                Config::new(1).count_window(4_000_000),
                ConfigError::WindowBucket,
            ),
            (
                Config::new(1).close_max_failure_percent(100),
                ConfigError::CloseMaxFailurePercent,
            ),
            (
                Config::new(1)
                    .failure_rate(50, 1)
                    .close_max_failure_percent(50),
                ConfigError::CloseMaxFailurePercent,
            ),
            (
                Config::new(1).failure_rate(0, 1),
                ConfigError::FailurePercent,
            ),
            (
                Config::new(1).failure_rate(101, 1),
                ConfigError::FailurePercent,
            ),
            (Config::new(1).failure_rate(50, 0), ConfigError::MinCalls),
            (Config::new(1).slow_calls(0, 10), ConfigError::SlowTicks),
            (Config::new(1).slow_calls(10, 0), ConfigError::SlowPercent),
            (Config::new(1).slow_calls(10, 101), ConfigError::SlowPercent),
            (Config::new(1).count_window(0), ConfigError::WindowBucket),
            (Config::new(1).time_window(0), ConfigError::WindowBucket),
        ];
        #[cfg(tripbit_word32)]
        let cases = {
            // The 32-bit word's own ranges (state.rs).
            let mut all = cases.to_vec();
            all.extend([
                (Config::new(1 << 46), ConfigError::OpenTicks),
                (Config::new((1 << 46) - 1), ConfigError::Probes), // fits: probes(5) is refused next
                (
                    Config::new(1).probe_timeout(1 << 46),
                    ConfigError::ProbeTimeout,
                ),
                (
                    Config::new(1).consecutive_failures(1 << 18),
                    ConfigError::FailureThreshold,
                ),
                (Config::new(1).backoff(2, 8), ConfigError::BackoffLevel),
            ]);
            let fits = all.len() - 4;
            all[fits].0 = all[fits].0.close_after(5).probes(5);
            all
        };
        for (config, expected) in cases {
            assert_eq!(config.validate(), Err(expected), "{config:?}");
            assert!(!expected.field().is_empty());
            assert!(expected.message().len() > 10);
        }
    }

    #[test]
    fn close_bar_allows_failures_in_proportion() {
        assert_eq!(allowed_failures(1, 0), 0);
        assert_eq!(allowed_failures(8, 20), 2);
        assert_eq!(allowed_failures(9, 50), 9);
        assert_eq!(allowed_failures(3, 99), 297);
    }

    /// The division-free close bar gives the same answer as the division
    /// for every input the breaker can pass: `failures` and `successes` up
    /// to 1024 (the 10-bit counters, `close_after` ≤ 1023, and the probe
    /// check's `probes − s`), every percent the settings allow and the
    /// first ones past it (about 108 M cases).
    #[test]
    #[cfg_attr(miri, ignore = "exhaustive, 108 M cases")]
    fn cross_multiplied_close_bar_equals_the_division_everywhere() {
        for percent in (0..=101).chain([u8::MAX]) {
            for s in 0..=MAX_HALF_OPEN_COUNT + 1 {
                let allowed = allowed_failures(s, percent);
                for f in 0..=MAX_HALF_OPEN_COUNT + 1 {
                    assert_eq!(
                        close_bar_exceeded(f, s, percent),
                        f > allowed,
                        "f={f} s={s} p={percent}"
                    );
                }
            }
        }
        // Saturation never claims the bar exceeded when it is not.
        assert!(!close_bar_exceeded(u32::MAX, u32::MAX, 50));
        assert!(close_bar_exceeded(u32::MAX, 1, 1));
    }

    /// The validation's cross-multiplied checks refuse exactly what the
    /// division-based rules refused, over every `close_after`, percent and
    /// probe count.
    #[test]
    #[cfg_attr(miri, ignore = "exhaustive, 0.8 M configs")]
    fn close_bar_and_probe_checks_match_the_division_rules() {
        for close_after in 1..=MAX_CLOSE_AFTER {
            for percent in 0..=99u8 {
                let s = u32::from(close_after);
                let f = allowed_failures(s, percent);
                for probes in 1..=MAX_PROBES_LIMIT {
                    let c = Config::new(10)
                        .close_after(close_after)
                        .close_max_failure_percent(percent)
                        .probes(probes);
                    let expected = if f >= MAX_HALF_OPEN_COUNT {
                        Err(ConfigError::CloseBar)
                    } else if u32::from(probes) > s + f {
                        Err(ConfigError::Probes)
                    } else {
                        Ok(())
                    };
                    assert_eq!(c.validate(), expected, "{c:?}");
                }
            }
        }
    }

    #[test]
    fn factor_one_and_level_zero_never_multiply() {
        assert_eq!(open_ticks_at(u64::MAX, 1, 31, 31), u64::MAX);
        assert_eq!(open_ticks_at(7, 255, 31, 0), 7);
        assert_eq!(open_ticks_at(7, 2, 31, 3), 56);
        for level in 0..=31 {
            assert_eq!(
                open_ticks_at(12_345, 1, 31, level),
                checked_open_ticks(12_345, 1, level).unwrap()
            );
        }
    }

    #[test]
    fn backoff_is_capped_and_saturates() {
        let c = Config::new(100).backoff(2, 3);
        assert_eq!(c.open_ticks_at_level(0), 100);
        assert_eq!(c.open_ticks_at_level(3), 800);
        assert_eq!(c.open_ticks_at_level(31), 800);
        assert_eq!(open_ticks_at(u64::MAX, 2, 1, 1), u64::MAX);
    }
}
