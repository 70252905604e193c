//! `tripbit_breaker_t`: caller-allocated storage for one `tripbit::Breaker`
//! (the consecutive-failures policy), and every function that uses it.
//!
//! C owns the storage (a `static`, a stack variable, a struct member, shared
//! memory); tripbit never allocates and never keeps a pointer. The storage is
//! exactly a `Breaker`: same size, same alignment (asserted at compile time
//! here and in the header).

use tripbit::{Breaker, Ticket};

use crate::panic::{boundary, opt_out_ptr, out_ptr, read_in, ref_in, try_ffi, write_out};
use crate::tripbit_result_t::{self, *};
use crate::types::{
    acquire_on, record_on, tripbit_config_t, tripbit_outcome_t, tripbit_snapshot_t,
    tripbit_state_t, tripbit_ticket_t, tripbit_transition_t, write_transition,
};

/// `sizeof(tripbit_breaker_t)`: RAM per breaker, in bytes.
pub const TRIPBIT_BREAKER_SIZE: usize = 64;
/// `alignof(tripbit_breaker_t)`: the alignment the storage needs (16: the
/// breaker's stamp is a 128-bit atomic word).
pub const TRIPBIT_BREAKER_ALIGN: usize = 16;

/// Storage for one circuit breaker, declared by C: `static tripbit_breaker_t b;`.
/// Opaque: never read or write its fields (their names start with `_`);
/// set it up either at compile time with `TRIPBIT_BREAKER_INIT(...)` /
/// `TRIPBIT_BREAKER_INIT_FULL(...)` (no code runs, no `init()` in the
/// image) or at run time with `tripbit_breaker_init()`, before any other
/// call (zeroed storage, as a `static` starts, is reported as
/// `TRIPBIT_E_UNINIT`, never used).
///
/// Thread-safety: every `tripbit_breaker_*` function except `_init` is
/// safe to call on the same breaker from any number of threads or
/// interrupt handlers at once: lock-free where the target has 64- and
/// 128-bit atomics, and on Cortex-M3/M4/M7 and RV32 with the A extension
/// (a 32-bit state word updated by CAS); on Cortex-M0 and RV32IMC each call
/// that changes the state is one short critical section, see ffi-c/README.md. `_init` must complete before any
/// other call on that storage starts (initialize before starting threads or
/// enabling interrupts). No `_free` exists: a breaker owns nothing, so the
/// storage can simply go out of scope.
///
/// The fields mirror the breaker's layout so that `TRIPBIT_BREAKER_INIT`
/// can fill them in; they are private, and may change in any release (the
/// header's macros change with them).
#[repr(C, align(16))]
pub struct tripbit_breaker_t {
    /// Private: the stamp and the state word (all zero in a new breaker).
    pub _state: [u64; 3],
    /// Private: the open period.
    pub _open_ticks: u64,
    /// Private: the probe deadline.
    pub _probe_ticks: u64,
    /// Private: the consecutive-failures threshold.
    pub _consecutive_failures: u32,
    /// Private: half-open successes needed to close.
    pub _close_after: u16,
    /// Private: concurrent half-open probes.
    pub _probes: u8,
    /// Private: the backoff factor.
    pub _backoff_factor: u8,
    /// Private: the backoff level cap.
    pub _backoff_max_level: u8,
    /// Private: the close bar's failure percent.
    pub _close_max_failure_percent: u8,
    /// Private: padding (zero).
    pub _pad: [u8; 6],
    /// Private: the init mark (`mark_of` the settings), in bytes the
    /// breaker leaves unused (its tail padding): lets every call skip the
    /// full range check of the settings.
    pub _mark: u64,
}

/// The init mark of a breaker's settings: `_init` and
/// `TRIPBIT_BREAKER_INIT` store it in `_mark`, and a call whose storage
/// holds the mark of its own settings skips the core's range check (those
/// settings passed it, or the compiler's, when the mark was made). Any
/// other storage (zeroed, garbage, a region's breaker) gets the full check,
/// so nothing is detected less than before; a random storage matches by
/// chance with probability 2⁻⁶⁴. The header's `TRIPBIT_MARK_` computes
/// the same function (`tests/api.c` compares them).
// One argument per stored setting, as the header's `TRIPBIT_MARK_` takes them.
#[allow(clippy::too_many_arguments)]
pub(crate) const fn mark_of(
    open_ticks: u64,
    probe_ticks: u64,
    failures: u32,
    close_after: u16,
    probes: u8,
    factor: u8,
    level: u8,
    percent: u8,
) -> u64 {
    // The low half is a constant (`MARK_MAGIC`: the guarded calls' whole
    // check), the high half a 32-bit checksum of the settings, plain XORs
    // and two constant multiplies (a few instructions on a 32-bit core;
    // `probe_ticks`' halves swapped and the groups weighted so that equal
    // settings do not cancel, as open == probe does by default).
    let small = close_after as u32 | (probes as u32) << 16 | (factor as u32) << 24;
    let a = open_ticks as u32 ^ (probe_ticks >> 32) as u32;
    let b = (open_ticks >> 32) as u32 ^ probe_ticks as u32 ^ small;
    let c = failures ^ (level as u32 | (percent as u32) << 8);
    let sum = MARK_SEED ^ a ^ b.wrapping_mul(3) ^ c.wrapping_mul(5);
    (sum as u64) << 32 | MARK_MAGIC as u64
}

/// The mark's constant half: never the low half of zeroed or byte-filled
/// storage, and of the `0x00XY00XY` form a Thumb-2 `cmp` takes as an
/// immediate (one instruction on the guarded path, no literal load).
pub(crate) const MARK_MAGIC: u32 = 0x00B1_00B1;
/// The seed of the checksum half: "trip" in ASCII.
const MARK_SEED: u32 = 0x7472_6970;

/// Offset of `_mark`: the breaker's tail padding (its settings end at 50,
/// its size is 64; `storage_fields_mirror_the_breaker_layout` checks the
/// fields before it, and `the_mark_survives_every_operation` that the
/// breaker never writes it).
const MARK_OFFSET: usize = 56;
const _: () = assert!(core::mem::offset_of!(tripbit_breaker_t, _mark) == MARK_OFFSET);

// The storage and the Rust type must agree exactly (checked again in the
// header, on the C side; the field offsets in the tests below).
const _: () = {
    assert!(size_of::<tripbit_breaker_t>() == size_of::<Breaker>());
    assert!(align_of::<tripbit_breaker_t>() == align_of::<Breaker>());
    assert!(TRIPBIT_BREAKER_SIZE == size_of::<Breaker>());
    assert!(TRIPBIT_BREAKER_ALIGN == align_of::<Breaker>());
};

/// The guarded path of both acquires: a closed breaker admits on its state
/// word alone (no setting is read, so only the mark's constant half is
/// checked), and `*ticket_out` gets the ticket. `false`: nothing was
/// written; the caller's full path decides (and reports any error in its
/// documented order).
///
/// # Safety
/// As `tripbit_breaker_acquire` (`breaker`, `ticket_out`).
#[inline(always)]
unsafe fn admit_closed(
    breaker: *mut tripbit_breaker_t,
    now: u64,
    ticket_out: *mut tripbit_ticket_t,
) -> bool {
    // SAFETY: forwarded contract.
    let Some(b) = (unsafe { breaker_marked(breaker) }) else {
        return false;
    };
    if ticket_out.is_null() || !ticket_out.is_aligned() {
        return false;
    }
    match b.acquire_closed(now) {
        Some(ticket) => {
            // SAFETY: checked just above; writable per the contract.
            unsafe { write_out(ticket_out, tripbit_ticket_t::from_core(ticket)) };
            true
        }
        None => false,
    }
}

/// The guarded path of both records: whether `outcome` is a success of a
/// closed call on a clean closed breaker, which changes nothing and reads
/// only the state word (see [`admit_closed`]). `false`: the full path
/// decides.
///
/// # Safety
/// As `tripbit_breaker_record` (`breaker`, `ticket`).
#[inline(always)]
unsafe fn success_is_clean(
    breaker: *mut tripbit_breaker_t,
    ticket: *const tripbit_ticket_t,
    outcome: u32,
) -> bool {
    if outcome != tripbit_outcome_t::TRIPBIT_OUTCOME_SUCCESS as u32 {
        return false;
    }
    // SAFETY: forwarded contract.
    let Some(b) = (unsafe { breaker_marked(breaker) }) else {
        return false;
    };
    if ticket.is_null() || !ticket.is_aligned() {
        return false;
    }
    // SAFETY: non-NULL and aligned (checked); readable per the contract;
    // plain integers.
    let t = unsafe { ticket.read() };
    // A closed call's ticket (a probe's, or a forged one, takes the full
    // path); `success_changes_nothing` refuses a generation out of range.
    let closed = Ticket {
        acquired_at: t.acquired_at,
        generation: t.generation,
        probe: false,
        slot: 0,
    };
    t.probe == 0 && t.slot == 0 && b.success_changes_nothing(closed)
}

/// The tick for a `_with` call off its guarded path, read after the
/// breaker passed its checks (so that errors keep their documented order:
/// the breaker first, then the clock) and before the core's decision,
/// never inside it (on Cortex-M0 that decision is a critical section).
///
/// # Safety
/// `clock` is NULL or a function safe to call here (the `_with` calls'
/// contract).
#[inline(always)]
unsafe fn read_clock(clock: tripbit_clock_t) -> Result<u64, tripbit_result_t> {
    match clock {
        // SAFETY: the caller's clock, a C function without arguments
        // (contract); it cannot unwind into Rust (`extern "C"`).
        Some(f) => Ok(unsafe { f() }),
        None => Err(TRIPBIT_E_NULL),
    }
}

/// A clock for `tripbit_breaker_acquire_with()` and
/// `tripbit_breaker_record_with()`: returns the current tick, in the unit
/// of the breaker's durations (for example a HAL's millisecond counter,
/// widened by `tripbit_tick_extend32()`). Called only when the breaker
/// needs a tick (a rejection, a probe, a failure), never on the closed
/// path; from the calling context, outside any critical section.
pub type tripbit_clock_t = Option<unsafe extern "C" fn() -> u64>;

impl tripbit_breaker_t {
    /// All-zero storage (never initialized).
    #[cfg(test)]
    pub(crate) const ZEROED: tripbit_breaker_t = tripbit_breaker_t {
        _state: [0; 3],
        _open_ticks: 0,
        _probe_ticks: 0,
        _consecutive_failures: 0,
        _close_after: 0,
        _probes: 0,
        _backoff_factor: 0,
        _backoff_max_level: 0,
        _close_max_failure_percent: 0,
        _pad: [0; 6],
        _mark: 0,
    };
}

/// Checks a breaker pointer, NULL and alignment first, then that the storage
/// holds an initialized breaker.
///
/// # Safety
/// A non-NULL, aligned `p` must point to `TRIPBIT_BREAKER_SIZE` readable
/// bytes that stay valid for `'a` (the header's contract for every
/// `tripbit_breaker_t *`).
#[inline(always)]
unsafe fn breaker_ref<'a>(p: *const tripbit_breaker_t) -> Result<&'a Breaker, tripbit_result_t> {
    if p.is_null() {
        return Err(TRIPBIT_E_NULL);
    }
    if !p.is_aligned() {
        return Err(TRIPBIT_E_MISALIGNED);
    }
    // SAFETY: non-NULL, aligned and valid for reads (contract); plain
    // reads of the settings and the mark, which only `_init` (or the
    // compiler, for `TRIPBIT_BREAKER_INIT`) writes, before any concurrent
    // use. No reference to the storage struct is made, so these reads
    // never overlap a `&Breaker` of another thread's call in a way that
    // matters: they are reads of bytes nobody writes.
    let marked = unsafe { settings_marked(p) };
    // SAFETY: non-NULL and aligned for `Breaker` (same alignment as the
    // storage, asserted above); 64 bytes, valid for `'a` per the contract.
    // Every bit pattern is a valid `Breaker`: atomic words and integer
    // settings (no bools, enums or pointers). Shared access only: the
    // atomics carry all mutation, and the settings are written only by
    // `tripbit_breaker_init`, which the header requires to complete before
    // any concurrent use.
    let b = unsafe { &*p.cast::<Breaker>() };
    // Marked storage was checked when it was marked. With `std`, any other
    // storage (never initialized: zeroed, as a `static` starts; overwritten;
    // a region's breaker, which tripbit-shm sets up) gets the core's range
    // check of the settings; without `std` (bare metal: no regions) only
    // marked storage is a breaker, which keeps the range check's code out
    // of the firmware. Either way the state machine only ever runs with
    // in-range parameters.
    if marked || fully_checked(b) {
        Ok(b)
    } else {
        Err(TRIPBIT_E_UNINIT)
    }
}

/// The core's full range check, for storage without the mark (kept out of
/// line: marked storage, the common case, never calls it).
#[cfg(feature = "std")]
#[cold]
#[inline(never)]
fn fully_checked(b: &Breaker) -> bool {
    b.is_valid()
}

/// Bare metal: storage without the mark was not set up by `_init` or
/// `TRIPBIT_BREAKER_INIT`, the only ways there (no regions).
#[cfg(not(feature = "std"))]
#[inline(always)]
fn fully_checked(_: &Breaker) -> bool {
    false
}

/// Whether the storage's mark is the mark of its settings (both halves).
///
/// # Safety
/// `p` is non-NULL, aligned and readable (the contract of [`breaker_ref`]).
#[inline(always)]
unsafe fn settings_marked(p: *const tripbit_breaker_t) -> bool {
    // SAFETY: the function's contract. Plain reads of the settings and the
    // mark, which only `_init` (or the compiler, for `TRIPBIT_BREAKER_INIT`)
    // writes, before any concurrent use. No reference to the storage struct
    // is made, so these reads never overlap a `&Breaker` of another
    // thread's call in a way that matters: they are reads of bytes nobody
    // writes.
    unsafe {
        use core::ptr::addr_of;
        addr_of!((*p)._mark).read()
            == mark_of(
                addr_of!((*p)._open_ticks).read(),
                addr_of!((*p)._probe_ticks).read(),
                addr_of!((*p)._consecutive_failures).read(),
                addr_of!((*p)._close_after).read(),
                addr_of!((*p)._probes).read(),
                addr_of!((*p)._backoff_factor).read(),
                addr_of!((*p)._backoff_max_level).read(),
                addr_of!((*p)._close_max_failure_percent).read(),
            )
    }
}

/// The guarded calls' check of the storage: non-NULL, aligned and carrying
/// the mark's constant half, and nothing else (no setting is read). Enough
/// for the paths that read only the state word (`Breaker::acquire_closed`,
/// `Breaker::success_changes_nothing`), on which every word is safe; any
/// other path (and any failed check, for its precise error) goes through
/// [`breaker_ref`], which checks the settings against the whole mark.
///
/// # Safety
/// As [`breaker_ref`].
#[inline(always)]
unsafe fn breaker_marked<'a>(p: *const tripbit_breaker_t) -> Option<&'a Breaker> {
    if p.is_null() || !p.is_aligned() {
        return None;
    }
    // SAFETY: non-NULL, aligned, readable (contract); the mark is written
    // only by `_init` or the compiler, before any concurrent use.
    let magic = unsafe { core::ptr::addr_of!((*p)._mark).read() } as u32;
    // SAFETY: as in `breaker_ref`: every bit pattern is a valid `Breaker`.
    (magic == MARK_MAGIC).then(|| unsafe { &*p.cast::<Breaker>() })
}

/// [`breaker_ref`] out of line, for the calls off the guarded path
/// (release, state, snapshot, operator actions): `_acquire` and `_record`
/// inline it, the others share one copy.
///
/// # Safety
/// As [`breaker_ref`].
#[inline(never)]
unsafe fn breaker_ref_outlined<'a>(
    p: *const tripbit_breaker_t,
) -> Result<&'a Breaker, tripbit_result_t> {
    // SAFETY: forwarded contract.
    unsafe { breaker_ref(p) }
}

impl tripbit_breaker_t {
    /// Initializes (or re-initializes) `breaker` with `config`: closed, no
    /// counts, generation 0. On error the storage is left untouched.
    ///
    /// Returns `TRIPBIT_OK`, `TRIPBIT_E_NULL`, `TRIPBIT_E_MISALIGNED` (either
    /// pointer), or the `TRIPBIT_E_CONFIG_*` code of the first field at fault
    /// (in the order `tripbit_config_check()` documents).
    ///
    /// Firmware that knows its settings at compile time can skip this (and
    /// its code) with `TRIPBIT_BREAKER_INIT(...)`.
    ///
    /// Not thread-safe: nothing else may use this storage while it runs.
    ///
    /// # Safety
    /// `breaker` is NULL or points to `TRIPBIT_BREAKER_SIZE` writable bytes;
    /// `config` is NULL or points to a readable `tripbit_config_t`.
    #[unsafe(no_mangle)]
    #[must_use]
    pub unsafe extern "C" fn tripbit_breaker_init(
        breaker: *mut tripbit_breaker_t,
        config: *const tripbit_config_t,
    ) -> tripbit_result_t {
        boundary(TRIPBIT_E_PANIC, || {
            let out = try_ffi!(out_ptr(breaker));
            // SAFETY: forwarded contract (the header: `config` is not
            // written during the call); `tripbit_config_t` is plain integers.
            let c = try_ffi!(unsafe { ref_in(config) });
            // One validation: `try_new`'s (the C fields are only narrowed
            // here), then the reserved words.
            let b = try_ffi!(
                Breaker::try_new(c.unchecked_core_config())
                    .map_err(tripbit_result_t::from_config_error)
            );
            try_ffi!(c.check_reserved());
            // The settings the breaker stores (validated: every narrowing
            // below is exact; probe_ticks 0 is stored as open_ticks).
            let mark = mark_of(
                c.open_ticks,
                if c.probe_ticks == 0 {
                    c.open_ticks
                } else {
                    c.probe_ticks
                },
                c.consecutive_failures,
                c.close_after as u16,
                c.probes as u8,
                c.backoff_factor as u8,
                c.backoff_max_level as u8,
                c.close_max_failure_percent as u8,
            );
            // SAFETY: `out` is non-NULL and aligned for `Breaker` (checked;
            // same alignment as the storage) and points to 64 writable bytes
            // (contract). `write` neither reads nor drops the old bytes, and
            // no other access runs concurrently (contract of `_init`). The
            // mark goes after it, into bytes the breaker does not use (its
            // tail padding, which the typed write left undefined).
            unsafe {
                out.cast::<Breaker>().write(b);
                out.cast::<u8>().add(MARK_OFFSET).cast::<u64>().write(mark);
            }
            TRIPBIT_OK
        })
    }

    /// Asks to make a call at tick `now`. On `TRIPBIT_OK` the call is
    /// admitted and `*ticket_out` holds its ticket: run the call, then report
    /// it with `tripbit_breaker_record()` (or give it up with
    /// `tripbit_breaker_release()`). The first call after the open period
    /// moves the breaker to half-open (reported in `*transition_out`).
    ///
    /// Returns `TRIPBIT_OK`, `TRIPBIT_E_REJECTED` (fail fast: see
    /// `tripbit_breaker_snapshot()` for when it reopens), `TRIPBIT_E_NULL`
    /// (`breaker` or `ticket_out`), `TRIPBIT_E_MISALIGNED`,
    /// `TRIPBIT_E_UNINIT`. `transition_out` may be NULL. Out-params are
    /// written only on `TRIPBIT_OK`.
    ///
    /// Thread-safe. While closed, one atomic load of the state word (no
    /// critical section on any target: a 32-bit word is loaded atomically
    /// even where there is no CAS).
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage).
    #[unsafe(no_mangle)]
    #[must_use]
    pub unsafe extern "C" fn tripbit_breaker_acquire(
        breaker: *mut tripbit_breaker_t,
        now: u64,
        ticket_out: *mut tripbit_ticket_t,
        transition_out: *mut tripbit_transition_t,
    ) -> tripbit_result_t {
        boundary(TRIPBIT_E_PANIC, || {
            // The guarded path: a closed breaker admits on its state word
            // alone (no setting read, so only the mark's constant half is
            // checked); every error, and every other state, takes the full
            // path below, with its checks in their documented order.
            // SAFETY: forwarded contract.
            if transition_out.is_aligned() && unsafe { admit_closed(breaker, now, ticket_out) } {
                let out = (!transition_out.is_null()).then_some(transition_out);
                write_transition(out, None);
                return TRIPBIT_OK;
            }
            // SAFETY: forwarded contract.
            unsafe { Self::acquire_checked(breaker, now, ticket_out, transition_out) }
        })
    }

    /// `tripbit_breaker_acquire` off its guarded path: every check, then
    /// the core's decision.
    ///
    /// # Safety
    /// As `tripbit_breaker_acquire`.
    #[inline(never)]
    unsafe fn acquire_checked(
        breaker: *mut tripbit_breaker_t,
        now: u64,
        ticket_out: *mut tripbit_ticket_t,
        transition_out: *mut tripbit_transition_t,
    ) -> tripbit_result_t {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { breaker_ref(breaker) });
        // SAFETY: forwarded contract.
        unsafe { acquire_on(b, now, ticket_out, transition_out) }
    }

    /// Reports the outcome (`TRIPBIT_OUTCOME_*`) of the call admitted as
    /// `*ticket`, at tick `now` (ticks that went backwards count as no time).
    /// The ticket is passed by pointer (read, never written or kept): no
    /// 16-byte copy at every call site.
    /// `*transition_out` tells whether this outcome tripped, reopened or
    /// closed the breaker.
    ///
    /// Returns `TRIPBIT_OK`, `TRIPBIT_E_STALE` (the breaker changed state or
    /// was reset since the ticket was acquired: the result was discarded,
    /// never counted twice; not a misuse), `TRIPBIT_E_OUTCOME`,
    /// `TRIPBIT_E_TICKET`, `TRIPBIT_E_NULL` (`breaker` or `ticket`),
    /// `TRIPBIT_E_MISALIGNED`, `TRIPBIT_E_UNINIT`. `transition_out` may be
    /// NULL; it is written only on `TRIPBIT_OK`.
    ///
    /// Report each ticket once: a ticket reported twice in the same
    /// generation is counted twice. Lock-free, thread-safe.
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage).
    #[unsafe(no_mangle)]
    #[must_use]
    pub unsafe extern "C" fn tripbit_breaker_record(
        breaker: *mut tripbit_breaker_t,
        ticket: *const tripbit_ticket_t,
        outcome: u32,
        now: u64,
        transition_out: *mut tripbit_transition_t,
    ) -> tripbit_result_t {
        boundary(TRIPBIT_E_PANIC, || {
            // The guarded path: a success on a clean closed breaker changes
            // nothing and reads only the state word (see `_acquire`).
            // SAFETY: forwarded contract.
            if transition_out.is_aligned() && unsafe { success_is_clean(breaker, ticket, outcome) }
            {
                let out = (!transition_out.is_null()).then_some(transition_out);
                write_transition(out, None);
                return TRIPBIT_OK;
            }
            // SAFETY: forwarded contract.
            unsafe { Self::record_checked(breaker, ticket, outcome, now, transition_out) }
        })
    }

    /// `tripbit_breaker_record` off its guarded path: every check, then
    /// the core's record.
    ///
    /// # Safety
    /// As `tripbit_breaker_record`.
    #[inline(never)]
    unsafe fn record_checked(
        breaker: *mut tripbit_breaker_t,
        ticket: *const tripbit_ticket_t,
        outcome: u32,
        now: u64,
        transition_out: *mut tripbit_transition_t,
    ) -> tripbit_result_t {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { breaker_ref(breaker) });
        // SAFETY: forwarded contract.
        unsafe { record_on(b, ticket, outcome, now, transition_out) }
    }

    /// `tripbit_breaker_acquire()` with a clock instead of a tick: `clock` is
    /// called only when the breaker needs the time (a rejection, the move to
    /// half-open, a probe), so a closed breaker admits without any clock
    /// read, and with all arguments in registers. The cheapest guarded path
    /// for firmware with a tick function; the ticket's `acquired_at` is then
    /// 0 (the consecutive policy times no closed call). No `transition_out`:
    /// a half-open move shows in `tripbit_breaker_state()`, or use
    /// `tripbit_breaker_acquire()`.
    ///
    /// Returns `TRIPBIT_OK`, `TRIPBIT_E_REJECTED`, `TRIPBIT_E_NULL`
    /// (`breaker`, then `clock`, then `ticket_out`), `TRIPBIT_E_MISALIGNED`,
    /// `TRIPBIT_E_UNINIT`. `*ticket_out` is written only on `TRIPBIT_OK`.
    /// Thread-safe, as `tripbit_breaker_acquire()`.
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage);
    /// `clock` is NULL or a function safe to call from every context that
    /// calls this.
    #[unsafe(no_mangle)]
    #[must_use]
    pub unsafe extern "C" fn tripbit_breaker_acquire_with(
        breaker: *mut tripbit_breaker_t,
        clock: tripbit_clock_t,
        ticket_out: *mut tripbit_ticket_t,
    ) -> tripbit_result_t {
        boundary(TRIPBIT_E_PANIC, || {
            // SAFETY: forwarded contract.
            if clock.is_some() && unsafe { admit_closed(breaker, 0, ticket_out) } {
                return TRIPBIT_OK;
            }
            // SAFETY: forwarded contract.
            unsafe { Self::acquire_with_checked(breaker, clock, ticket_out) }
        })
    }

    /// `tripbit_breaker_acquire_with` off its guarded path (one out-of-line
    /// call, so that the guarded path is a leaf that tail-calls it).
    ///
    /// # Safety
    /// As `tripbit_breaker_acquire_with`.
    #[inline(never)]
    unsafe fn acquire_with_checked(
        breaker: *mut tripbit_breaker_t,
        clock: tripbit_clock_t,
        ticket_out: *mut tripbit_ticket_t,
    ) -> tripbit_result_t {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { breaker_ref(breaker) });
        // SAFETY: forwarded contract.
        let now = try_ffi!(unsafe { read_clock(clock) });
        // SAFETY: forwarded contract.
        unsafe { acquire_on(b, now, ticket_out, core::ptr::null_mut()) }
    }

    /// `tripbit_breaker_record()` with a clock instead of a tick (see
    /// `tripbit_breaker_acquire_with()`): a success on a clean closed breaker
    /// reads no clock; every other record calls `clock` once, before the
    /// breaker decides. No `transition_out`: a trip or a close shows in
    /// `tripbit_breaker_state()`, or use `tripbit_breaker_record()`.
    ///
    /// Returns what `tripbit_breaker_record()` returns, with
    /// `TRIPBIT_E_NULL` also for a NULL `clock` (after `breaker`'s checks,
    /// before `ticket`'s). Thread-safe.
    ///
    /// # Safety
    /// As `tripbit_breaker_acquire_with()`; `ticket` is NULL or points to a
    /// readable `tripbit_ticket_t`.
    #[unsafe(no_mangle)]
    #[must_use]
    pub unsafe extern "C" fn tripbit_breaker_record_with(
        breaker: *mut tripbit_breaker_t,
        ticket: *const tripbit_ticket_t,
        outcome: u32,
        clock: tripbit_clock_t,
    ) -> tripbit_result_t {
        boundary(TRIPBIT_E_PANIC, || {
            // SAFETY: forwarded contract.
            if clock.is_some() && unsafe { success_is_clean(breaker, ticket, outcome) } {
                return TRIPBIT_OK;
            }
            // SAFETY: forwarded contract.
            unsafe { Self::record_with_checked(breaker, ticket, outcome, clock) }
        })
    }

    /// `tripbit_breaker_record_with` off its guarded path (see
    /// `acquire_with_checked`).
    ///
    /// # Safety
    /// As `tripbit_breaker_record_with`.
    #[inline(never)]
    unsafe fn record_with_checked(
        breaker: *mut tripbit_breaker_t,
        ticket: *const tripbit_ticket_t,
        outcome: u32,
        clock: tripbit_clock_t,
    ) -> tripbit_result_t {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { breaker_ref(breaker) });
        // SAFETY: forwarded contract.
        let now = try_ffi!(unsafe { read_clock(clock) });
        // SAFETY: forwarded contract.
        unsafe { record_on(b, ticket, outcome, now, core::ptr::null_mut()) }
    }

    /// Gives up an admitted call without counting anything (the call was not
    /// made, or its result should not count): frees its half-open probe slot,
    /// if it holds one. Same as recording `TRIPBIT_OUTCOME_IGNORED`, except
    /// that a stale ticket is not an error here (the state change already
    /// freed the slot): returns `TRIPBIT_OK`, `TRIPBIT_E_TICKET`,
    /// `TRIPBIT_E_NULL` (`breaker` or `ticket`), `TRIPBIT_E_MISALIGNED` or
    /// `TRIPBIT_E_UNINIT`. Thread-safe.
    ///
    /// # Safety
    /// `breaker` is NULL or points to the storage; `ticket` is NULL or
    /// points to a readable `tripbit_ticket_t`.
    #[unsafe(no_mangle)]
    #[must_use]
    pub unsafe extern "C" fn tripbit_breaker_release(
        breaker: *mut tripbit_breaker_t,
        ticket: *const tripbit_ticket_t,
    ) -> tripbit_result_t {
        boundary(TRIPBIT_E_PANIC, || {
            // SAFETY: forwarded contract.
            let b = try_ffi!(unsafe { breaker_ref_outlined(breaker) });
            // SAFETY: forwarded contract; `tripbit_ticket_t` is plain integers.
            let ticket = try_ffi!(unsafe { read_in(ticket) });
            let ticket = try_ffi!(ticket.to_core());
            // An ignored outcome changes no state, so there is no transition;
            // `Stale` means the slot is already gone.
            let _ = b.release(ticket, ticket.acquired_at);
            TRIPBIT_OK
        })
    }

    /// The state at tick `now`, into `*state_out`. Pure: an open breaker
    /// whose open period is over reports `TRIPBIT_STATE_HALF_OPEN` (the next
    /// acquire makes it so). Returns `TRIPBIT_OK`, `TRIPBIT_E_NULL`,
    /// `TRIPBIT_E_MISALIGNED` or `TRIPBIT_E_UNINIT`. Does not mutate;
    /// thread-safe.
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage).
    #[unsafe(no_mangle)]
    #[must_use]
    pub unsafe extern "C" fn tripbit_breaker_state(
        breaker: *const tripbit_breaker_t,
        now: u64,
        state_out: *mut tripbit_state_t,
    ) -> tripbit_result_t {
        boundary(TRIPBIT_E_PANIC, || {
            // SAFETY: forwarded contract.
            let b = try_ffi!(unsafe { breaker_ref_outlined(breaker) });
            let state_out = try_ffi!(out_ptr(state_out));
            // SAFETY: the out-parameter passed `out_ptr`/`opt_out_ptr`, and the
            // caller promised it is writable (the header's contract).
            unsafe { write_out(state_out, b.state(now).into()) };
            TRIPBIT_OK
        })
    }

    /// Counters and timestamps at tick `now`, into `*snapshot_out`. Returns
    /// `TRIPBIT_OK`, `TRIPBIT_E_NULL`, `TRIPBIT_E_MISALIGNED` or
    /// `TRIPBIT_E_UNINIT`. Does not mutate; thread-safe.
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage).
    #[unsafe(no_mangle)]
    #[must_use]
    pub unsafe extern "C" fn tripbit_breaker_snapshot(
        breaker: *const tripbit_breaker_t,
        now: u64,
        snapshot_out: *mut tripbit_snapshot_t,
    ) -> tripbit_result_t {
        boundary(TRIPBIT_E_PANIC, || {
            // SAFETY: forwarded contract.
            let b = try_ffi!(unsafe { breaker_ref_outlined(breaker) });
            let snapshot_out = try_ffi!(out_ptr(snapshot_out));
            // SAFETY: the out-parameter passed `out_ptr`/`opt_out_ptr`, and the
            // caller promised it is writable (the header's contract).
            unsafe {
                write_out(
                    snapshot_out,
                    tripbit_snapshot_t::from_core(&b.snapshot(now)),
                )
            };
            TRIPBIT_OK
        })
    }

    /// Operator override: reject every call until `tripbit_breaker_reset()`.
    /// `*transition_out` (may be NULL) says whether the state changed.
    /// Returns `TRIPBIT_OK`, `TRIPBIT_E_NULL`, `TRIPBIT_E_MISALIGNED` or
    /// `TRIPBIT_E_UNINIT`. Thread-safe.
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn tripbit_breaker_force_open(
        breaker: *mut tripbit_breaker_t,
        transition_out: *mut tripbit_transition_t,
    ) -> tripbit_result_t {
        // SAFETY: forwarded contract.
        unsafe { operator(breaker, transition_out, Breaker::force_open) }
    }

    /// Operator override: admit every call and count nothing until
    /// `tripbit_breaker_reset()`. Same results as `_force_open`.
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn tripbit_breaker_force_closed(
        breaker: *mut tripbit_breaker_t,
        transition_out: *mut tripbit_transition_t,
    ) -> tripbit_result_t {
        // SAFETY: forwarded contract.
        unsafe { operator(breaker, transition_out, Breaker::force_closed) }
    }

    /// Metrics only: admit every call and keep counting, never trip, until
    /// `tripbit_breaker_reset()`. Same results as `_force_open`.
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn tripbit_breaker_disable(
        breaker: *mut tripbit_breaker_t,
        transition_out: *mut tripbit_transition_t,
    ) -> tripbit_result_t {
        // SAFETY: forwarded contract.
        unsafe { operator(breaker, transition_out, Breaker::disable) }
    }

    /// Back to closed with every count and the backoff level cleared. Always
    /// starts a new generation: tickets acquired before are stale
    /// (`TRIPBIT_E_STALE` when recorded). `*transition_out` reports a change
    /// unless it was already closed. Same results as `_force_open`.
    ///
    /// # Safety
    /// Each pointer is NULL or valid for its type (`breaker`: the storage).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn tripbit_breaker_reset(
        breaker: *mut tripbit_breaker_t,
        transition_out: *mut tripbit_transition_t,
    ) -> tripbit_result_t {
        // SAFETY: forwarded contract.
        unsafe { operator(breaker, transition_out, Breaker::reset) }
    }
}

/// The four operator actions share their checks.
///
/// # Safety
/// Each pointer is NULL or valid for its type (`breaker`: the storage).
unsafe fn operator(
    breaker: *mut tripbit_breaker_t,
    transition_out: *mut tripbit_transition_t,
    action: fn(&Breaker) -> Option<tripbit::Transition>,
) -> tripbit_result_t {
    boundary(TRIPBIT_E_PANIC, || {
        // SAFETY: forwarded contract.
        let b = try_ffi!(unsafe { breaker_ref_outlined(breaker) });
        let transition_out = try_ffi!(opt_out_ptr(transition_out));
        write_transition(transition_out, action(b));
        TRIPBIT_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ptr;

    fn init(config: &tripbit_config_t) -> (tripbit_breaker_t, tripbit_result_t) {
        let mut b = tripbit_breaker_t::ZEROED;
        // SAFETY: both pointers are valid references.
        let r = unsafe { tripbit_breaker_t::tripbit_breaker_init(&mut b, config) };
        (b, r)
    }

    #[test]
    fn zeroed_storage_is_uninit_and_init_fixes_it() {
        let mut b = tripbit_breaker_t::ZEROED;
        let mut st = tripbit_state_t::TRIPBIT_STATE_OPEN;
        // SAFETY: valid pointers.
        let r = unsafe { tripbit_breaker_t::tripbit_breaker_state(&b, 0, &mut st) };
        assert_eq!(r, TRIPBIT_E_UNINIT);
        assert_eq!(
            st,
            tripbit_state_t::TRIPBIT_STATE_OPEN,
            "out-param untouched"
        );
        let c = tripbit_config_t::DEFAULT;
        // SAFETY: valid pointers.
        let r = unsafe { tripbit_breaker_t::tripbit_breaker_init(&mut b, &c) };
        assert_eq!(r, TRIPBIT_OK);
        // SAFETY: valid pointers.
        let r = unsafe { tripbit_breaker_t::tripbit_breaker_state(&b, 0, &mut st) };
        assert_eq!((r, st), (TRIPBIT_OK, tripbit_state_t::TRIPBIT_STATE_CLOSED));
    }

    /// The storage's named fields (what `TRIPBIT_BREAKER_INIT` fills in)
    /// are where the breaker keeps those settings, and a new breaker's
    /// state words are zero.
    #[test]
    fn storage_fields_mirror_the_breaker_layout() {
        let c = tripbit_config_t {
            open_ticks: 0x0102_0304_0506_0708,
            consecutive_failures: 0x1122_3344,
            probes: 3,
            close_after: 700,
            close_max_failure_percent: 30,
            backoff_factor: 2,
            backoff_max_level: 5,
            probe_ticks: 0x0A0B_0C0D,
            reserved: [0; 4],
        };
        let (b, r) = init(&c);
        assert_eq!(r, TRIPBIT_OK);
        assert_eq!(b._state, [0; 3]);
        assert_eq!(b._open_ticks, c.open_ticks);
        assert_eq!(b._probe_ticks, c.probe_ticks);
        assert_eq!(b._consecutive_failures, c.consecutive_failures);
        assert_eq!(u32::from(b._close_after), c.close_after);
        assert_eq!(u32::from(b._probes), c.probes);
        assert_eq!(u32::from(b._backoff_factor), c.backoff_factor);
        assert_eq!(u32::from(b._backoff_max_level), c.backoff_max_level);
        assert_eq!(
            u32::from(b._close_max_failure_percent),
            c.close_max_failure_percent
        );
        // probe_ticks 0 is stored as open_ticks (the macro does the same).
        let (b, _) = init(&tripbit_config_t {
            probe_ticks: 0,
            ..tripbit_config_t::DEFAULT
        });
        assert_eq!(b._probe_ticks, tripbit_config_t::DEFAULT.open_ticks);
        // Built from the fields alone, as the C macro does, it works.
        let mut s = tripbit_breaker_t::ZEROED;
        s._open_ticks = 10;
        s._probe_ticks = 10;
        s._consecutive_failures = 1;
        s._close_after = 1;
        s._probes = 1;
        s._backoff_factor = 1;
        s._mark = mark_of(10, 10, 1, 1, 1, 1, 0, 0);
        let mut t = tripbit_ticket_t {
            acquired_at: 0,
            generation: 0,
            probe: 0,
            slot: 0,
        };
        // SAFETY: valid pointers.
        unsafe {
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_acquire(&mut s, 0, &mut t, ptr::null_mut()),
                TRIPBIT_OK
            );
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_record(&mut s, &t, 1, 0, ptr::null_mut()),
                TRIPBIT_OK
            );
            let mut st = tripbit_state_t::TRIPBIT_STATE_CLOSED;
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_state(&s, 5, &mut st),
                TRIPBIT_OK
            );
            assert_eq!(st, tripbit_state_t::TRIPBIT_STATE_OPEN);
        }
    }

    /// `_init` marks the storage; no operation of the breaker writes the
    /// mark's bytes; an unmarked copy of valid settings still works (the
    /// full check), and a wrong mark with garbage settings is refused.
    #[test]
    fn the_mark_survives_every_operation() {
        let c = tripbit_config_t {
            open_ticks: 10,
            consecutive_failures: 2,
            probes: 2,
            close_after: 2,
            backoff_factor: 2,
            backoff_max_level: 3,
            ..tripbit_config_t::DEFAULT
        };
        let (mut b, r) = init(&c);
        assert_eq!(r, TRIPBIT_OK);
        let mark = b._mark;
        assert_eq!(
            mark,
            mark_of(10, 10, 2, 2, 2, 2, 3, 0),
            "the mark of the stored settings"
        );
        let mut t = tripbit_ticket_t {
            acquired_at: 0,
            generation: 0,
            probe: 0,
            slot: 0,
        };
        let mut snap =
            tripbit_snapshot_t::from_core(&Breaker::new(tripbit::Config::new(1)).snapshot(0));
        // SAFETY: valid pointers throughout.
        unsafe {
            for now in 0..200u64 {
                let outcome = u32::from(now % 7 != 0 && now % 3 == 0);
                if tripbit_breaker_t::tripbit_breaker_acquire(&mut b, now, &mut t, ptr::null_mut())
                    == TRIPBIT_OK
                {
                    let _ = tripbit_breaker_t::tripbit_breaker_record(
                        &mut b,
                        &t,
                        outcome,
                        now,
                        ptr::null_mut(),
                    );
                }
                let _ = tripbit_breaker_t::tripbit_breaker_snapshot(&b, now, &mut snap);
                if now == 100 {
                    let _ = tripbit_breaker_t::tripbit_breaker_force_open(&mut b, ptr::null_mut());
                    let _ = tripbit_breaker_t::tripbit_breaker_reset(&mut b, ptr::null_mut());
                }
            }
            assert_eq!(b._mark, mark);
            // Unmarked (as a region's breaker is): with `std` the full
            // check admits it; bare metal accepts only marked storage.
            b._mark = 0;
            let mut st = tripbit_state_t::TRIPBIT_STATE_OPEN;
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_state(&b, 0, &mut st),
                if cfg!(feature = "std") {
                    TRIPBIT_OK
                } else {
                    TRIPBIT_E_UNINIT
                }
            );
            // A marked storage whose settings changed is checked in full.
            let mut g = tripbit_breaker_t::ZEROED;
            g._mark = mark;
            g._open_ticks = 10;
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_state(&g, 0, &mut st),
                TRIPBIT_E_UNINIT
            );
        }
    }

    #[test]
    fn null_and_misaligned_come_first() {
        // SAFETY: NULL is allowed and checked.
        let r = unsafe { tripbit_breaker_t::tripbit_breaker_init(ptr::null_mut(), ptr::null()) };
        assert_eq!(r, TRIPBIT_E_NULL);
        let mut storage = [0u64; 5];
        let mis = storage
            .as_mut_ptr()
            .cast::<u8>()
            .wrapping_add(1)
            .cast::<tripbit_breaker_t>();
        let c = tripbit_config_t::DEFAULT;
        // SAFETY: checked before any access.
        let r = unsafe { tripbit_breaker_t::tripbit_breaker_init(mis, &c) };
        assert_eq!(r, TRIPBIT_E_MISALIGNED);
        assert_eq!(storage, [0; 5], "nothing written on error");
    }

    #[test]
    fn every_config_field_has_its_code() {
        let d = tripbit_config_t::DEFAULT;
        let cases = [
            (
                tripbit_config_t { open_ticks: 0, ..d },
                TRIPBIT_E_CONFIG_OPEN_TICKS,
            ),
            (
                tripbit_config_t {
                    consecutive_failures: 0,
                    ..d
                },
                TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES,
            ),
            (tripbit_config_t { probes: 0, ..d }, TRIPBIT_E_CONFIG_PROBES),
            (
                tripbit_config_t {
                    probes: 257,
                    close_after: 300,
                    ..d
                },
                TRIPBIT_E_CONFIG_PROBES,
            ),
            (
                tripbit_config_t {
                    close_after: 0,
                    ..d
                },
                TRIPBIT_E_CONFIG_CLOSE_AFTER,
            ),
            (
                tripbit_config_t {
                    close_after: 65_537,
                    ..d
                },
                TRIPBIT_E_CONFIG_CLOSE_AFTER,
            ),
            (
                tripbit_config_t {
                    close_max_failure_percent: 100,
                    ..d
                },
                TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT,
            ),
            (
                tripbit_config_t {
                    backoff_factor: 0,
                    ..d
                },
                TRIPBIT_E_CONFIG_BACKOFF_FACTOR,
            ),
            (
                tripbit_config_t {
                    backoff_factor: 256,
                    ..d
                },
                TRIPBIT_E_CONFIG_BACKOFF_FACTOR,
            ),
            (
                tripbit_config_t {
                    backoff_max_level: 32,
                    ..d
                },
                TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL,
            ),
            (
                tripbit_config_t {
                    open_ticks: u64::MAX,
                    backoff_factor: 2,
                    backoff_max_level: 1,
                    ..d
                },
                TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW,
            ),
        ];
        for (c, code) in cases {
            let (_, r) = init(&c);
            assert_eq!(r, code, "{c:?}");
        }
    }

    #[test]
    fn trip_probe_close_and_stale() {
        let c = tripbit_config_t {
            open_ticks: 10,
            consecutive_failures: 2,
            ..tripbit_config_t::DEFAULT
        };
        let (mut b, r) = init(&c);
        assert_eq!(r, TRIPBIT_OK);
        let mut t = tripbit_ticket_t {
            acquired_at: 0,
            generation: 0,
            probe: 0,
            slot: 0,
        };
        let mut tr = tripbit_transition_t::from_core(None);
        // SAFETY: valid pointers throughout.
        unsafe {
            for now in 0..2 {
                assert_eq!(
                    tripbit_breaker_t::tripbit_breaker_acquire(&mut b, now, &mut t, &mut tr),
                    TRIPBIT_OK
                );
                assert_eq!(
                    tripbit_breaker_t::tripbit_breaker_record(&mut b, &t, 1, now, &mut tr),
                    TRIPBIT_OK
                );
            }
            assert!(tr.occurred);
            assert_eq!(tr.to, tripbit_state_t::TRIPBIT_STATE_OPEN);
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_acquire(&mut b, 5, &mut t, ptr::null_mut()),
                TRIPBIT_E_REJECTED
            );
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_acquire(&mut b, 11, &mut t, &mut tr),
                TRIPBIT_OK
            );
            assert_eq!(
                (t.probe, tr.to),
                (1, tripbit_state_t::TRIPBIT_STATE_HALF_OPEN)
            );
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_record(&mut b, &t, 0, 12, &mut tr),
                TRIPBIT_OK
            );
            assert_eq!(tr.to, tripbit_state_t::TRIPBIT_STATE_CLOSED);
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_acquire(&mut b, 13, &mut t, ptr::null_mut()),
                TRIPBIT_OK
            );
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_reset(&mut b, ptr::null_mut()),
                TRIPBIT_OK
            );
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_record(&mut b, &t, 0, 14, ptr::null_mut()),
                TRIPBIT_E_STALE
            );
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_record(&mut b, &t, 3, 14, ptr::null_mut()),
                TRIPBIT_E_OUTCOME
            );
            let forged = tripbit_ticket_t { probe: 2, ..t };
            assert_eq!(
                tripbit_breaker_t::tripbit_breaker_record(&mut b, &forged, 0, 14, ptr::null_mut()),
                TRIPBIT_E_TICKET
            );
        }
    }
}
