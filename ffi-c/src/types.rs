//! The plain C structs and enums: config, ticket, transition, snapshot, state
//! and outcome. Everything here is `#[repr(C)]` data with no pointers.

use core::ffi::c_char;

use tripbit::{Config, Snapshot, State, Ticket, Transition};

use crate::panic::{boundary, read_in, try_ffi};
use crate::tripbit_result_t::{self, *};

/// A breaker's settings, filled in by C. Start from
/// `tripbit_config_default()` and change the fields you need. Every duration
/// is in ticks, the unit of the `now` values you pass (ms, µs, timer counts).
/// Plain data: copy it freely; tripbit never keeps a pointer to it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tripbit_config_t {
    /// How long the breaker stays open after tripping, in ticks (≥ 1).
    /// Default 30000 (30 s if your ticks are milliseconds).
    pub open_ticks: u64,
    /// Trip after this many failures in a row; a success resets the count
    /// (1..=4294967295, default 5).
    pub consecutive_failures: u32,
    /// Concurrent trial calls admitted while half-open (1..=8, default 1;
    /// at most `close_after` plus the failures the close bar allows).
    pub probes: u32,
    /// Half-open successes needed to close (1..=1023, default 1).
    pub close_after: u32,
    /// Failures the half-open trial may contain and still close, as a percent
    /// of its calls (default 0: any half-open failure reopens). Range: 0..=99
    /// and, with `close_after`, at most 1022 failures allowed
    /// (`close_after × p / (100 − p)` rounded down), that is
    /// `close_after × p < 1023 × (100 − p)` (the trial's failure counter
    /// has 10 bits, and the failure past the bar must fit it to reopen the
    /// breaker). So 99 % works up to `close_after` 10, 96 % up to 42, 50 %
    /// up to 1022; every percent up to 49 works with any `close_after`.
    pub close_max_failure_percent: u32,
    /// Exponential backoff: each failed probe in a row multiplies the open
    /// period by this factor (1..=255, default 1: no backoff).
    pub backoff_factor: u32,
    /// Cap on the backoff exponent (0..=31, default 0). The longest open
    /// period, `open_ticks × backoff_factor ^ backoff_max_level`, must fit in
    /// 64 bits.
    pub backoff_max_level: u32,
    /// The probe deadline in ticks: a half-open round whose probes have not
    /// all been reported this long after it began is abandoned by the next
    /// acquire, so a lost ticket or a hung probe never wedges the breaker
    /// (0, the default, means the same as `open_ticks`).
    pub probe_ticks: u64,
    /// Must be zero (`tripbit_config_default()` zeroes it): room for
    /// settings a later 0.x version adds, read only when nonzero there.
    pub reserved: [u64; 4],
}

impl tripbit_config_t {
    /// The documented defaults.
    pub(crate) const DEFAULT: tripbit_config_t = tripbit_config_t {
        open_ticks: 30_000,
        consecutive_failures: 5,
        probes: 1,
        close_after: 1,
        close_max_failure_percent: 0,
        backoff_factor: 1,
        backoff_max_level: 0,
        probe_ticks: 0,
        reserved: [0; 4],
    };

    /// The core `Config` these fields describe, not yet validated. A C
    /// field wider than the core's is never truncated: a value out of the
    /// core's type becomes one the core refuses for that same field (0
    /// probes, 0 `close_after`, 100 %, factor 0, level 32), so the core's
    /// single validation reports every field in its one order (see
    /// `tripbit_config_check`).
    pub(crate) fn unchecked_core_config(&self) -> Config {
        let probes = u8::try_from(self.probes).unwrap_or(0);
        let close_after = u16::try_from(self.close_after).unwrap_or(0);
        let close_pct = u8::try_from(self.close_max_failure_percent).unwrap_or(100);
        let factor = u8::try_from(self.backoff_factor).unwrap_or(0);
        let level = u8::try_from(self.backoff_max_level).unwrap_or(u8::MAX);
        let probe_ticks = if self.probe_ticks == 0 {
            self.open_ticks
        } else {
            self.probe_ticks
        };
        Config::new(self.open_ticks)
            .probe_timeout(probe_ticks)
            .consecutive_failures(self.consecutive_failures)
            .probes(probes)
            .close_after(close_after)
            .close_max_failure_percent(close_pct)
            .backoff(factor, level)
    }

    /// After the core's checks: the reserved words must be zero.
    pub(crate) fn check_reserved(&self) -> Result<(), tripbit_result_t> {
        let [a, b, c, d] = self.reserved;
        if a | b | c | d == 0 {
            Ok(())
        } else {
            Err(TRIPBIT_E_CONFIG)
        }
    }

    /// The validated core `Config`, or the code of the first field at
    /// fault in the documented order (`tripbit_config_check`). Validates
    /// once.
    pub fn to_config(&self) -> Result<Config, tripbit_result_t> {
        let config = self.unchecked_core_config();
        config
            .validate()
            .map_err(tripbit_result_t::from_config_error)?;
        self.check_reserved()?;
        Ok(config)
    }
}

/// The defaults: `open_ticks` 30000, `consecutive_failures` 5, `probes` 1,
/// `close_after` 1, `close_max_failure_percent` 0, `backoff_factor` 1,
/// `backoff_max_level` 0, `probe_ticks` 0 (= `open_ticks`). Cannot fail.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_config_default() -> tripbit_config_t {
    boundary(tripbit_config_t::DEFAULT, || tripbit_config_t::DEFAULT)
}

/// Checks `config` without initializing anything: `TRIPBIT_OK`, the
/// `TRIPBIT_E_CONFIG_*` code of the first field at fault, `TRIPBIT_E_NULL`,
/// or `TRIPBIT_E_MISALIGNED`. Does not mutate. Thread-safe.
///
/// "First field at fault" is in this one order (the same for
/// `tripbit_breaker_init()`): `consecutive_failures`, `open_ticks`,
/// `backoff_factor`, `backoff_max_level`, the backoff product
/// (`TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW`), `close_after`,
/// `close_max_failure_percent` (its range, then the close bar), `probes`,
/// and last `reserved` (`TRIPBIT_E_CONFIG`).
///
/// # Safety
/// `config` is NULL or points to a readable `tripbit_config_t`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_config_check(config: *const tripbit_config_t) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract; `tripbit_config_t` is plain integers.
        let c = try_ffi!(unsafe { read_in(config) });
        try_ffi!(c.to_config());
        TRIPBIT_OK
    })
}

/// A breaker state. The numbers are stable.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum tripbit_state_t {
    /// Healthy: every call is admitted and its outcome counted.
    TRIPBIT_STATE_CLOSED = 0,
    /// Unhealthy: every call is rejected until the open period has passed.
    TRIPBIT_STATE_OPEN = 1,
    /// Recovering: at most `probes` calls run at once; their results decide.
    TRIPBIT_STATE_HALF_OPEN = 2,
    /// Operator override: rejects every call until reset.
    TRIPBIT_STATE_FORCED_OPEN = 3,
    /// Operator override: admits every call and counts nothing until reset.
    TRIPBIT_STATE_FORCED_CLOSED = 4,
    /// Metrics only: admits every call, counts outcomes, never trips.
    TRIPBIT_STATE_DISABLED = 5,
}

impl From<State> for tripbit_state_t {
    fn from(s: State) -> Self {
        match s {
            State::Closed => tripbit_state_t::TRIPBIT_STATE_CLOSED,
            State::Open => tripbit_state_t::TRIPBIT_STATE_OPEN,
            State::HalfOpen => tripbit_state_t::TRIPBIT_STATE_HALF_OPEN,
            State::ForcedOpen => tripbit_state_t::TRIPBIT_STATE_FORCED_OPEN,
            State::ForcedClosed => tripbit_state_t::TRIPBIT_STATE_FORCED_CLOSED,
            State::Disabled => tripbit_state_t::TRIPBIT_STATE_DISABLED,
        }
    }
}

/// The lower-case name of a state ("closed", "open", "half_open",
/// "forced_open", "forced_closed", "disabled"); "unknown" for any other
/// number. Never NULL; static, never free it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_state_name(state: u32) -> *const c_char {
    boundary(c"unknown".as_ptr(), || {
        let name = match u8::try_from(state).ok().and_then(State::from_tag) {
            Some(s) => s.as_cstr(),
            None => c"unknown",
        };
        name.as_ptr()
    })
}

/// The outcome of a guarded call, passed to `tripbit_breaker_record()` as a
/// `uint32_t` (any other number is `TRIPBIT_E_OUTCOME`). Stable numbers.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum tripbit_outcome_t {
    /// The call worked.
    TRIPBIT_OUTCOME_SUCCESS = 0,
    /// The call failed: counts towards tripping.
    TRIPBIT_OUTCOME_FAILURE = 1,
    /// Neither (cancelled, or an error you exclude): counts nothing and frees
    /// a half-open probe slot.
    TRIPBIT_OUTCOME_IGNORED = 2,
}

/// The core's outcome for a `TRIPBIT_OUTCOME_*` number, or
/// `TRIPBIT_E_OUTCOME` (the record calls of every breaker type).
pub(crate) const fn outcome_of(outcome: u32) -> Result<tripbit::Outcome, crate::tripbit_result_t> {
    match outcome {
        o if o == tripbit_outcome_t::TRIPBIT_OUTCOME_SUCCESS as u32 => {
            Ok(tripbit::Outcome::Success)
        }
        o if o == tripbit_outcome_t::TRIPBIT_OUTCOME_FAILURE as u32 => {
            Ok(tripbit::Outcome::Failure)
        }
        o if o == tripbit_outcome_t::TRIPBIT_OUTCOME_IGNORED as u32 => {
            Ok(tripbit::Outcome::Ignored)
        }
        _ => Err(crate::tripbit_result_t::TRIPBIT_E_OUTCOME),
    }
}

/// Writes an optional transition out-parameter (already checked with
/// `opt_out_ptr`).
pub(crate) fn write_transition(
    out: Option<*mut tripbit_transition_t>,
    t: Option<tripbit::Transition>,
) {
    if let Some(out) = out {
        // SAFETY: the out-parameter passed `opt_out_ptr`, and the caller
        // promised it is writable (the header's contract).
        unsafe { crate::panic::write_out(out, tripbit_transition_t::from_core(t)) };
    }
}

/// Every acquire's checks after its storage's, in their documented order
/// (`ticket_out`, `transition_out`), then the decision at `now` and the
/// out-parameters: `tripbit_breaker_acquire` and `tripbit_window<N>_acquire`.
///
/// # Safety
/// Each pointer is NULL or valid for its type.
#[inline(always)]
pub(crate) unsafe fn acquire_on<P: tripbit::Policy>(
    b: &tripbit::Breaker<P>,
    now: u64,
    ticket_out: *mut tripbit_ticket_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    let ticket_out = try_ffi!(crate::panic::out_ptr(ticket_out));
    let transition_out = try_ffi!(crate::panic::opt_out_ptr(transition_out));
    match b.acquire_ticket(now) {
        Ok((ticket, transition)) => {
            // SAFETY: the out-parameter passed `out_ptr`, and the caller
            // promised it is writable (the header's contract).
            unsafe { crate::panic::write_out(ticket_out, tripbit_ticket_t::from_core(ticket)) };
            write_transition(transition_out, transition);
            TRIPBIT_OK
        }
        Err(tripbit::Rejected { .. }) => TRIPBIT_E_REJECTED,
    }
}

/// Every record's checks after its storage's, in their documented order
/// (`ticket`, `transition_out`, `outcome`, the ticket's fields), then the
/// record at `now`: `tripbit_breaker_record` and `tripbit_window<N>_record`.
///
/// # Safety
/// Each pointer is NULL or valid for its type.
#[inline(always)]
pub(crate) unsafe fn record_on<P: tripbit::Policy>(
    b: &tripbit::Breaker<P>,
    ticket: *const tripbit_ticket_t,
    outcome: u32,
    now: u64,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract; `tripbit_ticket_t` is plain integers.
    let ticket = try_ffi!(unsafe { read_in(ticket) });
    let transition_out = try_ffi!(crate::panic::opt_out_ptr(transition_out));
    let outcome = try_ffi!(outcome_of(outcome));
    let ticket = try_ffi!(ticket.to_core());
    match b.record_ticket(ticket, outcome, now) {
        Ok(transition) => {
            write_transition(transition_out, transition);
            TRIPBIT_OK
        }
        Err(tripbit::Stale) => TRIPBIT_E_STALE,
    }
}

/// An admitted call, in plain data: keep it from `tripbit_breaker_acquire()`
/// until you report the call with `tripbit_breaker_record()` or give it up
/// with `tripbit_breaker_release()`, exactly once. Do not build or edit
/// tickets yourself. A ticket never reported keeps its half-open probe slot
/// (if it holds one) until the breaker changes state.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tripbit_ticket_t {
    /// Tick at which the call was admitted.
    pub acquired_at: u64,
    /// Breaker generation when admitted.
    pub generation: u32,
    /// 1 if the call holds a half-open probe slot, else 0.
    pub probe: u8,
    /// The probe's slot in its round (0 for other calls).
    pub slot: u8,
}

impl tripbit_ticket_t {
    pub(crate) const fn from_core(t: Ticket) -> Self {
        tripbit_ticket_t {
            acquired_at: t.acquired_at,
            generation: t.generation,
            probe: t.probe as u8,
            slot: t.slot,
        }
    }

    pub(crate) const fn to_core(self) -> Result<Ticket, tripbit_result_t> {
        // A probe's generation has 32 bits, a closed call's 24; its slot is
        // below the most probes a round holds.
        if self.probe > 1
            || (self.probe == 0 && self.generation > tripbit::MAX_CLOSED_TICKET_GENERATION)
            || self.slot >= tripbit::MAX_PROBES_LIMIT
            || (self.probe == 0 && self.slot != 0)
        {
            return Err(TRIPBIT_E_TICKET);
        }
        Ok(Ticket {
            acquired_at: self.acquired_at,
            generation: self.generation,
            probe: self.probe == 1,
            slot: self.slot,
        })
    }
}

/// A state change, written to an optional `transition_out` by every call
/// that can cause one. On success it is always written: `occurred` tells
/// whether the call changed the state (the other fields are then
/// meaningful; when false they are all zero).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tripbit_transition_t {
    /// State before.
    pub from: tripbit_state_t,
    /// State after.
    pub to: tripbit_state_t,
    /// Generation after the change (24 bits, wrapping).
    pub generation: u32,
    /// Backoff level after the change.
    pub level: u8,
    /// Whether this call changed the state.
    pub occurred: bool,
}

impl tripbit_transition_t {
    pub(crate) fn from_core(t: Option<Transition>) -> Self {
        match t {
            Some(t) => tripbit_transition_t {
                from: t.from.into(),
                to: t.to.into(),
                generation: t.generation,
                level: t.level,
                occurred: true,
            },
            None => tripbit_transition_t {
                from: tripbit_state_t::TRIPBIT_STATE_CLOSED,
                to: tripbit_state_t::TRIPBIT_STATE_CLOSED,
                generation: 0,
                level: 0,
                occurred: false,
            },
        }
    }
}

/// Counters and timestamps of a breaker at one tick, from
/// `tripbit_breaker_snapshot()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tripbit_snapshot_t {
    /// Tick of the last trip; valid when `open` is true, else 0.
    pub opened_at: u64,
    /// End of the open period (a call is admitted from this tick on); valid
    /// when `open` is true, else 0.
    pub open_until: u64,
    /// The state as `tripbit_breaker_state()` reports it at `now`.
    pub state: tripbit_state_t,
    /// The state stored in the breaker (`TRIPBIT_STATE_OPEN` while `state`
    /// already says half-open because the open period is over).
    pub stored_state: tripbit_state_t,
    /// Generation (24 bits, wrapping): bumped by every state change.
    pub generation: u32,
    /// Consecutive failures (closed and disabled states).
    pub consecutive_failures: u32,
    /// Half-open probes in flight.
    pub probes_in_flight: u32,
    /// Half-open successes so far.
    pub probe_successes: u32,
    /// Half-open failures so far.
    pub probe_failures: u32,
    /// Backoff level: failed probes in a row, capped at `backoff_max_level`.
    pub backoff_level: u8,
    /// Whether the stored state is open (`opened_at`, `open_until` valid).
    pub open: bool,
    /// While open: 1 if a failed half-open trial reopened it, 0 if it
    /// tripped from closed.
    pub opened_by_trial: u8,
    /// While half-open with every probe slot busy: the tick from which the
    /// next acquire abandons the round (the probe deadline); else 0.
    pub probe_deadline: u64,
    /// Zero. Room for fields a later 0.x version adds, so that it never
    /// writes past the struct of a caller compiled against this header.
    pub reserved: [u64; 4],
}

impl tripbit_snapshot_t {
    pub(crate) fn from_core(s: &Snapshot) -> Self {
        tripbit_snapshot_t {
            opened_at: s.opened_at.unwrap_or(0),
            open_until: s.open_until.unwrap_or(0),
            state: s.state.into(),
            stored_state: s.stored_state.into(),
            generation: s.generation,
            consecutive_failures: s.consecutive_failures,
            probes_in_flight: s.probes_in_flight,
            probe_successes: s.probe_successes,
            probe_failures: s.probe_failures,
            backoff_level: s.backoff_level,
            open: s.opened_at.is_some(),
            opened_by_trial: u8::from(s.opened_by == Some(tripbit::OpenedBy::FailedTrial)),
            probe_deadline: s.probe_deadline.unwrap_or(0),
            reserved: [0; 4],
        }
    }
}
