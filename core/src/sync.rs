//! The atomic shim: every atomic in tripbit comes from here.
//!
//! - `cfg(loom)`: loom's model-checked atomics (tests only); the 128-bit
//!   word is a loom `Mutex<u128>` (loom has no 128-bit atomic), so every
//!   operation on it is still an interleaving point of the model;
//! - targets with native 64-bit atomics: `core::sync::atomic`, and
//!   `portable_atomic::AtomicU128` for the 128-bit stamp and window buckets
//!   (native `cmpxchg16b` / `vmovdqa` on x86_64 via run-time detection,
//!   `casp`/`ldxp` on aarch64; portable-atomic's lock-based fallback only
//!   where the CPU has no 128-bit CAS at all);
//! - the rest (thumbv6m, thumbv7m, thumbv7em, riscv32imc, riscv32imac, ...):
//!   the breaker's own words are 32-bit there (`tripbit_word32`, see
//!   `state.rs`): `core::sync::atomic::AtomicU32` where the core has a
//!   32-bit CAS (Cortex-M3/M4/M7, RV32 with A: lock-free, no interrupt
//!   masking), [`CsAtomicU32`] where it has none (Cortex-M0, RV32 without
//!   A); the window policy's wider words are [`CsAtomicU64`] and
//!   [`CsAtomicU128`]. The `Cs` words are behind the `critical-section`
//!   crate, whose implementation the final binary provides.
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

#[cfg(all(tripbit_word32, not(loom), target_has_atomic = "32"))]
pub(crate) use core::sync::atomic::AtomicU32;
#[cfg(all(tripbit_word32, loom))]
pub(crate) use loom::sync::atomic::AtomicU32;
#[cfg(all(tripbit_word32, not(loom), not(target_has_atomic = "32")))]
pub(crate) use portable_atomic::AtomicU32;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom_u128::AtomicU128;

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering};
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use portable_atomic::AtomicU128;

#[cfg(all(not(loom), not(target_has_atomic = "64")))]
pub(crate) use core::sync::atomic::Ordering;
#[cfg(all(not(loom), not(target_has_atomic = "64")))]
pub(crate) use cs::{CsAtomicU64 as AtomicU64, CsAtomicU128 as AtomicU128};

/// loom has no 128-bit atomic: a mutex-protected `u128` with the same API.
/// Each operation is one lock acquisition, which loom treats as a
/// synchronisation point and explores like an atomic access (acquire on
/// lock, release on unlock, so at least as strong as the orderings asked).
#[cfg(loom)]
mod loom_u128 {
    use super::Ordering;

    pub(crate) struct AtomicU128(loom::sync::Mutex<u128>);

    impl AtomicU128 {
        pub(crate) fn new(v: u128) -> Self {
            AtomicU128(loom::sync::Mutex::new(v))
        }

        pub(crate) fn load(&self, _: Ordering) -> u128 {
            *self.0.lock().unwrap()
        }

        pub(crate) fn compare_exchange(
            &self,
            current: u128,
            new: u128,
            _: Ordering,
            _: Ordering,
        ) -> Result<u128, u128> {
            let mut g = self.0.lock().unwrap();
            if *g == current {
                *g = new;
                Ok(current)
            } else {
                Err(*g)
            }
        }

        pub(crate) fn compare_exchange_weak(
            &self,
            current: u128,
            new: u128,
            success: Ordering,
            failure: Ordering,
        ) -> Result<u128, u128> {
            self.compare_exchange(current, new, success, failure)
        }
    }
}

#[cfg(all(not(loom), not(target_has_atomic = "64")))]
mod cs {
    use core::cell::Cell;

    use super::Ordering;

    /// Defines a word type for targets without native atomics of its width:
    /// every operation runs inside `critical_section::with`, which is atomic
    /// with respect to interrupts (and, with a multi-core implementation, to
    /// the other cores) and orders memory like a `SeqCst` operation; the
    /// `Ordering` arguments are therefore accepted and ignored (every one of
    /// them is at most as strong as what the critical section gives).
    macro_rules! cs_atomic {
        ($(#[$meta:meta])* $name:ident, $int:ty) => {
            $(#[$meta])*
            pub(crate) struct $name(critical_section::Mutex<Cell<$int>>);

            #[allow(dead_code)]
            impl $name {
                pub(crate) const fn new(v: $int) -> Self {
                    $name(critical_section::Mutex::new(Cell::new(v)))
                }

                #[inline]
                fn with<R>(&self, f: impl FnOnce(&Cell<$int>) -> R) -> R {
                    critical_section::with(|cs| f(self.0.borrow(cs)))
                }

                #[inline]
                pub(crate) fn load(&self, _: Ordering) -> $int {
                    self.with(Cell::get)
                }

                #[inline]
                pub(crate) fn store(&self, v: $int, _: Ordering) {
                    self.with(|c| c.set(v));
                }

                #[inline]
                pub(crate) fn compare_exchange(
                    &self,
                    current: $int,
                    new: $int,
                    _: Ordering,
                    _: Ordering,
                ) -> Result<$int, $int> {
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
                    current: $int,
                    new: $int,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$int, $int> {
                    self.compare_exchange(current, new, success, failure)
                }

                /// Replaces the value by `f(old)` in one critical section; returns `old`.
                #[inline]
                pub(crate) fn fetch_update(&self, f: impl FnOnce($int) -> $int) -> $int {
                    self.with(|c| c.replace(f(c.get())))
                }

                /// Wrapping, as the native `fetch_add`.
                #[inline]
                pub(crate) fn fetch_add(&self, v: $int, _: Ordering) -> $int {
                    self.fetch_update(|old| old.wrapping_add(v))
                }
            }
        };
    }

    cs_atomic!(
        /// A 64-bit atomic. Same size as a `u64` and its alignment (8 on Arm
        /// EABI and RV32), so `Breaker`'s `#[repr(C)]` layout is identical on
        /// every target.
        CsAtomicU64,
        u64
    );
    cs_atomic!(
        /// A 128-bit atomic, 16-aligned like `portable_atomic::AtomicU128`
        /// on the other targets.
        #[repr(align(16))]
        CsAtomicU128,
        u128
    );

    // The layout `Breaker`'s `#[repr(C)]` (and the C header) relies on.
    const _: () = assert!(core::mem::size_of::<CsAtomicU64>() == 8);
    const _: () = assert!(core::mem::align_of::<CsAtomicU64>() == core::mem::align_of::<u64>());
    const _: () = assert!(core::mem::size_of::<CsAtomicU128>() == 16);
    const _: () = assert!(core::mem::align_of::<CsAtomicU128>() == 16);
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
