//! The atomic shim: every atomic in tripbit comes from here.
//!
//! - `cfg(loom)`: loom's model-checked atomics (tests only);
//! - targets with native 64-bit atomics: `core::sync::atomic`;
//! - the rest (thumbv6m, thumbv7m, thumbv7em, riscv32imc, ...): [`CsAtomicU64`],
//!   a `u64` behind the `critical-section` crate, whose implementation the
//!   final binary provides.
//!
//! Why not `portable-atomic` on those targets: on cores that have 32-bit CAS
//! but no 64-bit atomics (Cortex-M3/M4), its 64-bit fallback is a table of
//! global spinlocks unless the *final binary* opts into
//! `unsafe-assume-single-core`. A spinlock is not interrupt-safe: an
//! interrupt handler that calls a breaker while the code it interrupted holds
//! that breaker's lock spins forever (reproduced under QEMU by
//! `examples/firmware-c/run-qemu.sh --isr-race`). A critical section masks
//! interrupts (or takes a hardware spinlock on multi-core chips) around each
//! operation, so a breaker can be used from thread code and interrupt
//! handlers at once, on every target, with one contract for the firmware:
//! provide a `critical-section` implementation.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering, fence};

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering, fence};

#[cfg(all(not(loom), not(target_has_atomic = "64")))]
pub(crate) use core::sync::atomic::{Ordering, fence};
#[cfg(all(not(loom), not(target_has_atomic = "64")))]
pub(crate) use cs::CsAtomicU64 as AtomicU64;

#[cfg(all(not(loom), not(target_has_atomic = "64")))]
mod cs {
    use core::cell::Cell;

    use super::Ordering;

    /// A 64-bit atomic for targets without native 64-bit atomics: every
    /// operation runs inside `critical_section::with`, which is atomic with
    /// respect to interrupts (and, with a multi-core implementation, to the
    /// other cores) and orders memory like a `SeqCst` operation; the
    /// `Ordering` arguments are therefore accepted and ignored (every one of
    /// them is at most as strong as what the critical section gives).
    ///
    /// Same size as a `u64` and its alignment (8 on Arm EABI and RV32), so
    /// `Breaker`'s `#[repr(C)]` layout is identical on every target.
    pub(crate) struct CsAtomicU64(critical_section::Mutex<Cell<u64>>);

    impl CsAtomicU64 {
        pub(crate) const fn new(v: u64) -> Self {
            CsAtomicU64(critical_section::Mutex::new(Cell::new(v)))
        }

        #[inline]
        fn with<R>(&self, f: impl FnOnce(&Cell<u64>) -> R) -> R {
            critical_section::with(|cs| f(self.0.borrow(cs)))
        }

        #[inline]
        pub(crate) fn load(&self, _: Ordering) -> u64 {
            self.with(Cell::get)
        }

        #[inline]
        pub(crate) fn store(&self, v: u64, _: Ordering) {
            self.with(|c| c.set(v));
        }

        #[inline]
        pub(crate) fn compare_exchange(
            &self,
            current: u64,
            new: u64,
            _: Ordering,
            _: Ordering,
        ) -> Result<u64, u64> {
            self.with(|c| {
                let v = c.get();
                if v == current {
                    c.set(new);
                    Ok(v)
                } else {
                    Err(v)
                }
            })
        }

        /// Never fails spuriously (a critical section has no LL/SC retry).
        #[inline]
        pub(crate) fn compare_exchange_weak(
            &self,
            current: u64,
            new: u64,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u64, u64> {
            self.compare_exchange(current, new, success, failure)
        }

        /// Replaces the value by `f(old)` in one critical section; returns `old`.
        #[inline]
        fn fetch_update(&self, f: impl FnOnce(u64) -> u64) -> u64 {
            self.with(|c| c.replace(f(c.get())))
        }

        /// Wrapping, as the native `fetch_add`.
        #[inline]
        pub(crate) fn fetch_add(&self, v: u64, _: Ordering) -> u64 {
            self.fetch_update(|old| old.wrapping_add(v))
        }

        #[inline]
        pub(crate) fn fetch_max(&self, v: u64, _: Ordering) -> u64 {
            self.fetch_update(|old| old.max(v))
        }
    }

    // The layout `Breaker`'s `#[repr(C)]` (and the C header) relies on.
    const _: () = assert!(core::mem::size_of::<CsAtomicU64>() == 8);
    const _: () = assert!(core::mem::align_of::<CsAtomicU64>() == core::mem::align_of::<u64>());
}

/// Defines a `const fn`, or a plain `fn` under loom (whose atomics have no
/// `const` constructor).
macro_rules! const_fn {
    ($(#[$meta:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(loom))]
        $(#[$meta])*
        $vis const fn $($rest)*
        #[cfg(loom)]
        $(#[$meta])*
        $vis fn $($rest)*
    };
}
pub(crate) use const_fn;
