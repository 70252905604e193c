//! A simulated monotonic tick counter: deterministic under QEMU, where
//! SysTick's pace depends on the host. Every [`tick`] advances time by one
//! (so each guarded transaction takes a tick or two); [`advance_to`] jumps
//! ahead, as if the firmware had slept.

use core::sync::atomic::{AtomicU32, Ordering};

static NOW: AtomicU32 = AtomicU32::new(0);

/// The current tick, without advancing.
pub fn now() -> u64 {
    u64::from(NOW.load(Ordering::Relaxed))
}

/// Advances one tick and returns the new tick: the `Guarded` clock.
pub fn tick() -> u64 {
    // Load + store, not `fetch_add`: thumbv6m has no atomic read-modify-write
    // (the size probes build for it), and only thread code advances the clock.
    let t = NOW.load(Ordering::Relaxed) + 1;
    NOW.store(t, Ordering::Relaxed);
    u64::from(t)
}

/// Jumps to tick `t`, so that the next [`tick`] returns `t + 1`.
pub fn advance_to(t: u64) {
    assert!(t >= now(), "the clock is monotonic");
    NOW.store(
        u32::try_from(t).expect("tick fits in u32"),
        Ordering::Relaxed,
    );
}
