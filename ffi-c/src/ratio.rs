//! The ratio policy in C: `tripbit::Breaker<Window<N, 1>>` (a failure rate
//! over a count window of the last `N × bucket_calls` calls, with an
//! optional slow-call rule) in caller-owned storage, one storage type per
//! supported `N` (4, 8, 16, 32 buckets): `tripbit_window4_t` ..
//! `tripbit_window32_t`.
//!
//! One stripe (`S = 1`): a C firmware or program records from one core at a
//! time, so striping (which keeps `S` copies of the buckets for threads on
//! different cores) would only cost RAM. Each `N` has its own functions,
//! `tripbit_window<N>_*`, rather than one set that takes `N` at run time:
//! a firmware links only the sizes it uses, and a storage can never be
//! used with another `N` than it was built for (that would index past it).

use tripbit::{Breaker, Config, Window};

use crate::panic::{boundary, opt_out_ptr, out_ptr, read_in, ref_in, try_ffi, write_out};
use crate::tripbit_result_t::{self, *};
use crate::types::{
    acquire_on, record_on, tripbit_snapshot_t, tripbit_state_t, tripbit_ticket_t,
    tripbit_transition_t, write_transition,
};

/// The breaker type behind every `tripbit_window<N>_t`.
type W<const N: usize> = Breaker<Window<N, 1>>;

/// A ratio breaker's settings, filled in by C. Start from
/// `tripbit_window_config_default()`. Durations are in ticks, the unit of
/// your `now` values. Plain data: copy it freely; tripbit keeps no pointer
/// to it.
///
/// The window is the last `buckets × bucket_calls` calls (`buckets` is the
/// `N` of the storage type). It trips when at least `failure_percent` % of
/// them failed, once it holds `min_calls` calls; with a slow-call rule
/// also when at least `slow_percent` % were slow (took `slow_ticks` or
/// more). The ratios are checked on every failure and every slow call (a
/// fast success never trips it).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tripbit_window_config_t {
    /// How long the breaker stays open after tripping (≥ 1, default 30000).
    pub open_ticks: u64,
    /// Failure ratio that trips, in percent (1..=100, default 50).
    pub failure_percent: u32,
    /// Calls the window must hold before the ratios count (0, the default,
    /// means the whole window: `buckets × bucket_calls`; at most that).
    pub min_calls: u32,
    /// Calls per bucket (1..=8191, default 1: the window is the last
    /// `buckets` calls).
    pub bucket_calls: u32,
    /// Slow-call rule: percent of slow calls that trips (1..=100; 0, the
    /// default, with `slow_ticks` 0: no slow-call rule).
    pub slow_percent: u32,
    /// Slow-call rule: a call that took at least this many ticks is slow
    /// (≥ 1 when `slow_percent` is set; 0 with `slow_percent` 0: no rule).
    pub slow_ticks: u64,
    /// Concurrent half-open probes, as in `tripbit_config_t` (default 1).
    pub probes: u32,
    /// Half-open successes needed to close (1..=1023, default 1).
    pub close_after: u32,
    /// Half-open failure percent that still closes: below `failure_percent`
    /// (the close bar is stricter than the trip bar), and the ranges of
    /// `tripbit_config_t` (default 0).
    pub close_max_failure_percent: u32,
    /// Backoff factor per failed probe in a row (1..=255, default 1).
    pub backoff_factor: u32,
    /// Cap on the backoff exponent (0..=31, default 0).
    pub backoff_max_level: u32,
    /// The probe deadline in ticks (0, the default: `open_ticks`).
    pub probe_ticks: u64,
    /// Must be zero: room for settings a later version adds.
    pub reserved: [u64; 4],
}

impl tripbit_window_config_t {
    const DEFAULT: tripbit_window_config_t = tripbit_window_config_t {
        open_ticks: 30_000,
        failure_percent: 50,
        min_calls: 0,
        bucket_calls: 1,
        slow_percent: 0,
        slow_ticks: 0,
        probes: 1,
        close_after: 1,
        close_max_failure_percent: 0,
        backoff_factor: 1,
        backoff_max_level: 0,
        probe_ticks: 0,
        reserved: [0; 4],
    };

    /// The core `Config` for a window of `buckets` buckets, not yet
    /// validated. Values too wide for the core's types become values the
    /// core refuses for the same field (never truncated).
    fn unchecked_core_config(&self, buckets: u32) -> Config {
        let percent = u8::try_from(self.failure_percent).unwrap_or(0);
        let min_calls = if self.min_calls == 0 {
            buckets.saturating_mul(self.bucket_calls).max(1)
        } else {
            self.min_calls
        };
        let slow_percent = u8::try_from(self.slow_percent).unwrap_or(u8::MAX);
        let probe_ticks = if self.probe_ticks == 0 {
            self.open_ticks
        } else {
            self.probe_ticks
        };
        let mut c = Config::new(self.open_ticks)
            .failure_rate(percent, min_calls)
            .count_window(self.bucket_calls)
            .probe_timeout(probe_ticks)
            .probes(u8::try_from(self.probes).unwrap_or(0))
            .close_after(u16::try_from(self.close_after).unwrap_or(0))
            .close_max_failure_percent(u8::try_from(self.close_max_failure_percent).unwrap_or(100))
            .backoff(
                u8::try_from(self.backoff_factor).unwrap_or(0),
                u8::try_from(self.backoff_max_level).unwrap_or(u8::MAX),
            );
        if self.slow_ticks != 0 || slow_percent != 0 {
            c = c.slow_calls(self.slow_ticks, slow_percent);
        }
        c
    }

    fn check_reserved(&self) -> Result<(), tripbit_result_t> {
        let [a, b, c, d] = self.reserved;
        if a | b | c | d == 0 {
            Ok(())
        } else {
            Err(TRIPBIT_E_CONFIG)
        }
    }
}

/// The defaults: `open_ticks` 30000, `failure_percent` 50, `min_calls` 0
/// (the whole window), `bucket_calls` 1, no slow-call rule, `probes` 1,
/// `close_after` 1, `close_max_failure_percent` 0, `backoff_factor` 1,
/// `backoff_max_level` 0, `probe_ticks` 0 (= `open_ticks`). With
/// `tripbit_window8_t`: trip at 50 % failures over the last 8 calls.
/// Cannot fail. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_window_config_default() -> tripbit_window_config_t {
    boundary(tripbit_window_config_t::DEFAULT, || {
        tripbit_window_config_t::DEFAULT
    })
}

/// Checks `config` for a window of `buckets` buckets (4, 8, 16 or 32)
/// without initializing anything: `TRIPBIT_OK`, the `TRIPBIT_E_CONFIG_*`
/// code of the first field at fault, `TRIPBIT_E_CONFIG` for a `buckets`
/// with no storage type (or nonzero `reserved` words), `TRIPBIT_E_NULL` or
/// `TRIPBIT_E_MISALIGNED`. Does not mutate. Thread-safe.
///
/// The order: `failure_percent`, `close_max_failure_percent` against it,
/// then the fields `tripbit_config_check()` orders (`open_ticks`, backoff,
/// `close_after`, `close_max_failure_percent`, `probes`), then
/// `slow_ticks`, `slow_percent`, `bucket_calls`, `min_calls` (above the
/// window), `reserved`.
///
/// # Safety
/// `config` is NULL or points to a readable `tripbit_window_config_t`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window_config_check(
    config: *const tripbit_window_config_t,
    buckets: u32,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract; plain integers.
        let c = try_ffi!(unsafe { ref_in(config) });
        let r = match buckets {
            4 => validate::<4>(c),
            8 => validate::<8>(c),
            16 => validate::<16>(c),
            32 => validate::<32>(c),
            _ => Err(TRIPBIT_E_CONFIG),
        };
        match r {
            Ok(()) => TRIPBIT_OK,
            Err(e) => e,
        }
    })
}

/// `sizeof` the storage for a window of `buckets` buckets
/// (`TRIPBIT_WINDOW<N>_SIZE`), or 0 for a `buckets` with no storage type
/// (only 4, 8, 16 and 32 have one). Cannot fail. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_window_storage_size(buckets: u32) -> usize {
    boundary(0, || match buckets {
        4 => TRIPBIT_WINDOW4_SIZE,
        8 => TRIPBIT_WINDOW8_SIZE,
        16 => TRIPBIT_WINDOW16_SIZE,
        32 => TRIPBIT_WINDOW32_SIZE,
        _ => 0,
    })
}

/// Sliding-window totals, from `tripbit_window<N>_snapshot()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct tripbit_window_counts_t {
    /// Calls in the window (successes and failures; ignored outcomes are
    /// not calls).
    pub calls: u32,
    /// Failed calls among them.
    pub failures: u32,
    /// Slow calls among them (successful or not).
    pub slow: u32,
    /// Zero: room for later counts.
    pub reserved: u32,
}

/// `alignof` every `tripbit_window<N>_t` (64: one cache line).
pub const TRIPBIT_WINDOW_ALIGN: usize = 64;
/// `sizeof(tripbit_window4_t)`.
pub const TRIPBIT_WINDOW4_SIZE: usize = 256;
/// `sizeof(tripbit_window8_t)`.
pub const TRIPBIT_WINDOW8_SIZE: usize = 320;
/// `sizeof(tripbit_window16_t)`.
pub const TRIPBIT_WINDOW16_SIZE: usize = 448;
/// `sizeof(tripbit_window32_t)`.
pub const TRIPBIT_WINDOW32_SIZE: usize = 704;

/// Storage for one ratio breaker over 4 buckets (`TRIPBIT_WINDOW4_SIZE`
/// bytes, 64-aligned): `static tripbit_window4_t w;`. Opaque; initialize it
/// with `tripbit_window4_init()` before any other call (zeroed storage is
/// `TRIPBIT_E_UNINIT`). Thread- and interrupt-safe like `tripbit_breaker_t`
/// (every call but `_init`). No `_free`: it owns nothing.
#[repr(C, align(64))]
pub struct tripbit_window4_t {
    _opaque: [u64; 32],
}

/// Storage for one ratio breaker over 8 buckets (`TRIPBIT_WINDOW8_SIZE`
/// bytes, 64-aligned); as `tripbit_window4_t`.
#[repr(C, align(64))]
pub struct tripbit_window8_t {
    _opaque: [u64; 40],
}

/// Storage for one ratio breaker over 16 buckets (`TRIPBIT_WINDOW16_SIZE`
/// bytes, 64-aligned); as `tripbit_window4_t`.
#[repr(C, align(64))]
pub struct tripbit_window16_t {
    _opaque: [u64; 56],
}

/// Storage for one ratio breaker over 32 buckets (`TRIPBIT_WINDOW32_SIZE`
/// bytes, 64-aligned); as `tripbit_window4_t`.
#[repr(C, align(64))]
pub struct tripbit_window32_t {
    _opaque: [u64; 88],
}

// Each storage is exactly its breaker (checked again in the header).
const _: () = {
    assert!(size_of::<tripbit_window4_t>() == size_of::<W<4>>());
    assert!(size_of::<tripbit_window8_t>() == size_of::<W<8>>());
    assert!(size_of::<tripbit_window16_t>() == size_of::<W<16>>());
    assert!(size_of::<tripbit_window32_t>() == size_of::<W<32>>());
    assert!(align_of::<tripbit_window4_t>() == align_of::<W<4>>());
    assert!(align_of::<tripbit_window8_t>() == align_of::<W<8>>());
    assert!(align_of::<tripbit_window16_t>() == align_of::<W<16>>());
    assert!(align_of::<tripbit_window32_t>() == align_of::<W<32>>());
    assert!(TRIPBIT_WINDOW_ALIGN == align_of::<W<4>>());
    assert!(TRIPBIT_WINDOW4_SIZE == size_of::<tripbit_window4_t>());
    assert!(TRIPBIT_WINDOW8_SIZE == size_of::<tripbit_window8_t>());
    assert!(TRIPBIT_WINDOW16_SIZE == size_of::<tripbit_window16_t>());
    assert!(TRIPBIT_WINDOW32_SIZE == size_of::<tripbit_window32_t>());
};

/// The validated core config for `W<N>`, or the first field at fault.
fn validate<const N: usize>(c: &tripbit_window_config_t) -> Result<(), tripbit_result_t> {
    // `try_new_window` runs every check the breaker needs (the config's and
    // the window's); the breaker it builds is dropped (plain data).
    W::<N>::try_new_window(c.unchecked_core_config(N as u32))
        .map_err(tripbit_result_t::from_config_error)?;
    c.check_reserved()
}

/// Checks a window pointer (NULL, alignment, initialized), as
/// `breaker_ref` does for `tripbit_breaker_t`.
///
/// # Safety
/// A non-NULL, aligned `p` points to the storage of a `W<N>` (the caller's
/// `tripbit_window<N>_t`) that stays valid for `'a`.
unsafe fn window_ref<'a, const N: usize, T>(p: *const T) -> Result<&'a W<N>, tripbit_result_t> {
    if p.is_null() {
        return Err(TRIPBIT_E_NULL);
    }
    let p = p.cast::<W<N>>();
    if !p.is_aligned() {
        return Err(TRIPBIT_E_MISALIGNED);
    }
    // SAFETY: non-NULL and aligned for `W<N>` (checked; the storage type
    // has the same size and alignment, asserted above) and valid for `'a`
    // (contract). Every field is an atomic word or an integer (the window
    // kind is a byte, not a `bool`), so any bytes are a value of the type;
    // `is_valid` (the core's, the window's own settings included: no bucket
    // of 0 to divide by, a kind of 0 or 1) then refuses garbage. Shared
    // access only: the atomics carry all mutation; `init` must complete
    // before any concurrent use.
    let b = unsafe { &*p };
    if b.is_valid() {
        Ok(b)
    } else {
        Err(TRIPBIT_E_UNINIT)
    }
}

/// `tripbit_window<N>_init`.
///
/// # Safety
/// `storage` is NULL or points to the `W<N>` storage, writable and not in
/// use by any other call; `config` is NULL or readable.
unsafe fn init<const N: usize, T>(
    storage: *mut T,
    config: *const tripbit_window_config_t,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        let out = try_ffi!(out_ptr(storage.cast::<W<N>>()));
        // SAFETY: forwarded contract; plain integers.
        let c = try_ffi!(unsafe { ref_in(config) });
        let b = try_ffi!(
            W::<N>::try_new_window(c.unchecked_core_config(N as u32))
                .map_err(tripbit_result_t::from_config_error)
        );
        try_ffi!(c.check_reserved());
        // SAFETY: non-NULL and aligned for `W<N>` (checked), the storage's
        // size (contract and the asserts above); nothing else uses it while
        // `_init` runs (contract). `write` does not read the old bytes.
        unsafe { out.write(b) };
        TRIPBIT_OK
    })
}

/// `tripbit_window<N>_acquire`.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
unsafe fn acquire<const N: usize, T>(
    w: *mut T,
    now: u64,
    ticket_out: *mut tripbit_ticket_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { window_ref::<N, T>(w) });
        // SAFETY: forwarded contract.
        unsafe { acquire_on(b, now, ticket_out, transition_out) }
    })
}

/// `tripbit_window<N>_record`.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
unsafe fn record<const N: usize, T>(
    w: *mut T,
    ticket: *const tripbit_ticket_t,
    outcome: u32,
    now: u64,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { window_ref::<N, T>(w) });
        // SAFETY: forwarded contract.
        unsafe { record_on(b, ticket, outcome, now, transition_out) }
    })
}

/// `tripbit_window<N>_release`.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
unsafe fn release<const N: usize, T>(
    w: *mut T,
    ticket: *const tripbit_ticket_t,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { window_ref::<N, T>(w) });
        // SAFETY: forwarded contract; plain integers.
        let ticket = try_ffi!(unsafe { read_in(ticket) });
        let ticket = try_ffi!(ticket.to_core());
        // `Stale`: the slot is already gone; nothing to free.
        let _ = b.release(ticket, ticket.acquired_at);
        TRIPBIT_OK
    })
}

/// `tripbit_window<N>_state`.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
unsafe fn state<const N: usize, T>(
    w: *const T,
    now: u64,
    state_out: *mut tripbit_state_t,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { window_ref::<N, T>(w) });
        let state_out = try_ffi!(out_ptr(state_out));
        // SAFETY: a checked out-parameter, writable per the contract.
        unsafe { write_out(state_out, b.state(now).into()) };
        TRIPBIT_OK
    })
}

/// `tripbit_window<N>_snapshot`.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
unsafe fn snapshot<const N: usize, T>(
    w: *const T,
    now: u64,
    snapshot_out: *mut tripbit_snapshot_t,
    counts_out: *mut tripbit_window_counts_t,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { window_ref::<N, T>(w) });
        let snapshot_out = try_ffi!(out_ptr(snapshot_out));
        let counts_out = try_ffi!(opt_out_ptr(counts_out));
        let s = b.snapshot(now);
        // SAFETY: checked out-parameters, writable per the contract.
        unsafe { write_out(snapshot_out, tripbit_snapshot_t::from_core(&s)) };
        if let Some(out) = counts_out {
            let counts = tripbit_window_counts_t {
                calls: s.window.calls,
                failures: s.window.failures,
                slow: s.window.slow,
                reserved: 0,
            };
            // SAFETY: as above.
            unsafe { write_out(out, counts) };
        }
        TRIPBIT_OK
    })
}

/// `tripbit_window<N>_reset`.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
unsafe fn reset<const N: usize, T>(
    w: *mut T,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { window_ref::<N, T>(w) });
        let transition_out = try_ffi!(opt_out_ptr(transition_out));
        let t = b.reset();
        write_transition(transition_out, t);
        TRIPBIT_OK
    })
}

// ---- the C functions, per storage type ----
//
// Written out (cbindgen reads the sources, not macro expansions); each
// forwards to the generic function above with its `N`.

/// Initializes `w` with `config` (see `tripbit_window_config_t`): closed,
/// an empty window. On error the storage is untouched. Returns
/// `TRIPBIT_OK`, `TRIPBIT_E_NULL`, `TRIPBIT_E_MISALIGNED`, or the
/// `TRIPBIT_E_CONFIG_*` code of the first field at fault (the order of
/// `tripbit_window_config_check()`). Not thread-safe: nothing else may use
/// this storage while it runs.
///
/// # Safety
/// `w` is NULL or points to a writable `tripbit_window4_t`; `config` is
/// NULL or points to a readable `tripbit_window_config_t`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window4_init(
    w: *mut tripbit_window4_t,
    config: *const tripbit_window_config_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { init::<4, _>(w, config) }
}

/// Asks to make a call at tick `now`, as `tripbit_breaker_acquire()`:
/// `TRIPBIT_OK` (run the call, then record or release `*ticket_out`),
/// `TRIPBIT_E_REJECTED`, `TRIPBIT_E_NULL`, `TRIPBIT_E_MISALIGNED`,
/// `TRIPBIT_E_UNINIT`. `transition_out` may be NULL. Thread-safe.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window4_acquire(
    w: *mut tripbit_window4_t,
    now: u64,
    ticket_out: *mut tripbit_ticket_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { acquire::<4, _>(w, now, ticket_out, transition_out) }
}

/// Reports the outcome of the call admitted as `*ticket` at tick `now`
/// (slow if `now − acquired_at ≥ slow_ticks`), as
/// `tripbit_breaker_record()`: `TRIPBIT_OK`, `TRIPBIT_E_STALE` (not
/// counted), `TRIPBIT_E_OUTCOME`, `TRIPBIT_E_TICKET`, `TRIPBIT_E_NULL`,
/// `TRIPBIT_E_MISALIGNED`, `TRIPBIT_E_UNINIT`. A probe ticket counts at
/// most once, however often it is recorded or released. Thread-safe.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window4_record(
    w: *mut tripbit_window4_t,
    ticket: *const tripbit_ticket_t,
    outcome: u32,
    now: u64,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { record::<4, _>(w, ticket, outcome, now, transition_out) }
}

/// Gives up an admitted call without counting it, as
/// `tripbit_breaker_release()`: `TRIPBIT_OK` (also for a stale ticket),
/// `TRIPBIT_E_TICKET`, `TRIPBIT_E_NULL`, `TRIPBIT_E_MISALIGNED`,
/// `TRIPBIT_E_UNINIT`. Thread-safe.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window4_release(
    w: *mut tripbit_window4_t,
    ticket: *const tripbit_ticket_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { release::<4, _>(w, ticket) }
}

/// The state at tick `now`, as `tripbit_breaker_state()`. Does not mutate;
/// thread-safe.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window4_state(
    w: *const tripbit_window4_t,
    now: u64,
    state_out: *mut tripbit_state_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { state::<4, _>(w, now, state_out) }
}

/// Counters and timestamps at tick `now` into `*snapshot_out`, as
/// `tripbit_breaker_snapshot()`, and the window's totals into
/// `*counts_out` (may be NULL). Does not mutate; thread-safe.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window4_snapshot(
    w: *const tripbit_window4_t,
    now: u64,
    snapshot_out: *mut tripbit_snapshot_t,
    counts_out: *mut tripbit_window_counts_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { snapshot::<4, _>(w, now, snapshot_out, counts_out) }
}

/// Back to closed with an empty window, as `tripbit_breaker_reset()`
/// (tickets acquired before are stale). Thread-safe.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`w`: the storage).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_window4_reset(
    w: *mut tripbit_window4_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { reset::<4, _>(w, transition_out) }
}

/// As `tripbit_window4_init()`, for `tripbit_window8_t` (8 buckets).
///
/// # Safety
/// As `tripbit_window4_init()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window8_init(
    w: *mut tripbit_window8_t,
    config: *const tripbit_window_config_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { init::<8, _>(w, config) }
}

/// As `tripbit_window4_acquire()`, for `tripbit_window8_t` (8 buckets).
///
/// # Safety
/// As `tripbit_window4_acquire()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window8_acquire(
    w: *mut tripbit_window8_t,
    now: u64,
    ticket_out: *mut tripbit_ticket_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { acquire::<8, _>(w, now, ticket_out, transition_out) }
}

/// As `tripbit_window4_record()`, for `tripbit_window8_t` (8 buckets).
///
/// # Safety
/// As `tripbit_window4_record()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window8_record(
    w: *mut tripbit_window8_t,
    ticket: *const tripbit_ticket_t,
    outcome: u32,
    now: u64,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { record::<8, _>(w, ticket, outcome, now, transition_out) }
}

/// As `tripbit_window4_release()`, for `tripbit_window8_t` (8 buckets).
///
/// # Safety
/// As `tripbit_window4_release()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window8_release(
    w: *mut tripbit_window8_t,
    ticket: *const tripbit_ticket_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { release::<8, _>(w, ticket) }
}

/// As `tripbit_window4_state()`, for `tripbit_window8_t` (8 buckets).
///
/// # Safety
/// As `tripbit_window4_state()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window8_state(
    w: *const tripbit_window8_t,
    now: u64,
    state_out: *mut tripbit_state_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { state::<8, _>(w, now, state_out) }
}

/// As `tripbit_window4_snapshot()`, for `tripbit_window8_t` (8 buckets).
///
/// # Safety
/// As `tripbit_window4_snapshot()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window8_snapshot(
    w: *const tripbit_window8_t,
    now: u64,
    snapshot_out: *mut tripbit_snapshot_t,
    counts_out: *mut tripbit_window_counts_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { snapshot::<8, _>(w, now, snapshot_out, counts_out) }
}

/// As `tripbit_window4_reset()`, for `tripbit_window8_t` (8 buckets).
///
/// # Safety
/// As `tripbit_window4_reset()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_window8_reset(
    w: *mut tripbit_window8_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { reset::<8, _>(w, transition_out) }
}

/// As `tripbit_window4_init()`, for `tripbit_window16_t` (16 buckets).
///
/// # Safety
/// As `tripbit_window4_init()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window16_init(
    w: *mut tripbit_window16_t,
    config: *const tripbit_window_config_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { init::<16, _>(w, config) }
}

/// As `tripbit_window4_acquire()`, for `tripbit_window16_t` (16 buckets).
///
/// # Safety
/// As `tripbit_window4_acquire()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window16_acquire(
    w: *mut tripbit_window16_t,
    now: u64,
    ticket_out: *mut tripbit_ticket_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { acquire::<16, _>(w, now, ticket_out, transition_out) }
}

/// As `tripbit_window4_record()`, for `tripbit_window16_t` (16 buckets).
///
/// # Safety
/// As `tripbit_window4_record()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window16_record(
    w: *mut tripbit_window16_t,
    ticket: *const tripbit_ticket_t,
    outcome: u32,
    now: u64,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { record::<16, _>(w, ticket, outcome, now, transition_out) }
}

/// As `tripbit_window4_release()`, for `tripbit_window16_t` (16 buckets).
///
/// # Safety
/// As `tripbit_window4_release()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window16_release(
    w: *mut tripbit_window16_t,
    ticket: *const tripbit_ticket_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { release::<16, _>(w, ticket) }
}

/// As `tripbit_window4_state()`, for `tripbit_window16_t` (16 buckets).
///
/// # Safety
/// As `tripbit_window4_state()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window16_state(
    w: *const tripbit_window16_t,
    now: u64,
    state_out: *mut tripbit_state_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { state::<16, _>(w, now, state_out) }
}

/// As `tripbit_window4_snapshot()`, for `tripbit_window16_t` (16 buckets).
///
/// # Safety
/// As `tripbit_window4_snapshot()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window16_snapshot(
    w: *const tripbit_window16_t,
    now: u64,
    snapshot_out: *mut tripbit_snapshot_t,
    counts_out: *mut tripbit_window_counts_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { snapshot::<16, _>(w, now, snapshot_out, counts_out) }
}

/// As `tripbit_window4_reset()`, for `tripbit_window16_t` (16 buckets).
///
/// # Safety
/// As `tripbit_window4_reset()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_window16_reset(
    w: *mut tripbit_window16_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { reset::<16, _>(w, transition_out) }
}

/// As `tripbit_window4_init()`, for `tripbit_window32_t` (32 buckets).
///
/// # Safety
/// As `tripbit_window4_init()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window32_init(
    w: *mut tripbit_window32_t,
    config: *const tripbit_window_config_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { init::<32, _>(w, config) }
}

/// As `tripbit_window4_acquire()`, for `tripbit_window32_t` (32 buckets).
///
/// # Safety
/// As `tripbit_window4_acquire()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window32_acquire(
    w: *mut tripbit_window32_t,
    now: u64,
    ticket_out: *mut tripbit_ticket_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { acquire::<32, _>(w, now, ticket_out, transition_out) }
}

/// As `tripbit_window4_record()`, for `tripbit_window32_t` (32 buckets).
///
/// # Safety
/// As `tripbit_window4_record()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window32_record(
    w: *mut tripbit_window32_t,
    ticket: *const tripbit_ticket_t,
    outcome: u32,
    now: u64,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { record::<32, _>(w, ticket, outcome, now, transition_out) }
}

/// As `tripbit_window4_release()`, for `tripbit_window32_t` (32 buckets).
///
/// # Safety
/// As `tripbit_window4_release()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window32_release(
    w: *mut tripbit_window32_t,
    ticket: *const tripbit_ticket_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { release::<32, _>(w, ticket) }
}

/// As `tripbit_window4_state()`, for `tripbit_window32_t` (32 buckets).
///
/// # Safety
/// As `tripbit_window4_state()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window32_state(
    w: *const tripbit_window32_t,
    now: u64,
    state_out: *mut tripbit_state_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { state::<32, _>(w, now, state_out) }
}

/// As `tripbit_window4_snapshot()`, for `tripbit_window32_t` (32 buckets).
///
/// # Safety
/// As `tripbit_window4_snapshot()`.
#[unsafe(no_mangle)]
#[must_use]
pub unsafe extern "C" fn tripbit_window32_snapshot(
    w: *const tripbit_window32_t,
    now: u64,
    snapshot_out: *mut tripbit_snapshot_t,
    counts_out: *mut tripbit_window_counts_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { snapshot::<32, _>(w, now, snapshot_out, counts_out) }
}

/// As `tripbit_window4_reset()`, for `tripbit_window32_t` (32 buckets).
///
/// # Safety
/// As `tripbit_window4_reset()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_window32_reset(
    w: *mut tripbit_window32_t,
    transition_out: *mut tripbit_transition_t,
) -> tripbit_result_t {
    // SAFETY: forwarded contract.
    unsafe { reset::<32, _>(w, transition_out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_storage_is_uninit() {
        let s = tripbit_window8_t { _opaque: [0; 40] };
        let mut st = tripbit_state_t::TRIPBIT_STATE_CLOSED;
        // SAFETY: valid pointers.
        let r = unsafe { tripbit_window8_state(&s, 0, &mut st) };
        assert_eq!(r, TRIPBIT_E_UNINIT);
    }
}
