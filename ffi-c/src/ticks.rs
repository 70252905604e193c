//! `tripbit_tick32_t`: extends the wrapping 32-bit tick most MCU HALs give
//! (a millisecond counter wraps every 49.7 days) into the monotonic 64-bit
//! ticks tripbit takes.
//!
//! Raw wrapping ticks also work: the core restarts a running open period
//! when the clock goes back by more than the period, so at a wrap an open
//! period lasts at most twice its length (once per wrap), and a trip after a
//! wrap opens for exactly its period from its own tick. Extend the ticks
//! when the periods must be exact across a wrap.

use crate::panic::boundary;

/// The state of a 32-bit tick extender: zero it once (`= {0}` or static
/// storage), then pass it to every `tripbit_tick_extend32()` call. Plain
/// data, caller-owned.
///
/// Thread-safety: not atomic. Keep one extender per execution context
/// (thread code, each interrupt level), or call it from one context and
/// share the 64-bit result.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct tripbit_tick32_t {
    /// The last 32-bit tick seen.
    pub last: u32,
    /// Wraps seen so far (the upper 32 bits of the extended tick).
    pub wraps: u32,
}

/// Extends the wrapping 32-bit tick `now32` (e.g. `HAL_GetTick()`) to 64
/// bits: the number of wraps seen by `state` in the upper half. A value
/// below the last one seen counts as a wrap, so call it at least once per
/// wrap period (every 49.7 days for a 1 kHz tick) and never with a tick
/// older than the last one. Returns 0 for a NULL `state` (which
/// `tripbit_breaker_*` then treat as tick 0). Thread-safe only per `state`
/// (see `tripbit_tick32_t`).
///
/// # Safety
/// `state` is NULL or points to a `tripbit_tick32_t` no other call uses at
/// the same time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_tick_extend32(state: *mut tripbit_tick32_t, now32: u32) -> u64 {
    boundary(0, || {
        if state.is_null() || !state.is_aligned() {
            return 0;
        }
        // SAFETY: non-NULL, aligned, and exclusively ours for this call per
        // the contract above.
        let s = unsafe { &mut *state };
        if now32 < s.last {
            s.wraps = s.wraps.wrapping_add(1);
        }
        s.last = now32;
        (u64::from(s.wraps) << 32) | u64::from(now32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_across_wraps() {
        let mut s = tripbit_tick32_t::default();
        // SAFETY: a valid, exclusive pointer.
        unsafe {
            assert_eq!(tripbit_tick_extend32(&mut s, 5), 5);
            assert_eq!(tripbit_tick_extend32(&mut s, u32::MAX), u64::from(u32::MAX));
            assert_eq!(tripbit_tick_extend32(&mut s, 3), (1 << 32) | 3);
            assert_eq!(tripbit_tick_extend32(&mut s, 3), (1 << 32) | 3);
            assert_eq!(tripbit_tick_extend32(core::ptr::null_mut(), 9), 0);
        }
    }
}
