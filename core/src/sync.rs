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
//!   masking); where it has none (Cortex-M0, RV32 without A:
//!   `tripbit_cs_ops`), `OpAtomicU32`, written only inside [`op`], which
//!   runs each writing operation as one critical section. The window
//!   policy's wider words are `CsAtomicU64` and `CsAtomicU128`. The
//!   critical sections are the `critical-section` crate's, whose
//!   implementation the final binary provides.
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

#[cfg(all(tripbit_word32, not(loom), not(tripbit_cs_ops)))]
pub(crate) use core::sync::atomic::AtomicU32;
#[cfg(all(tripbit_word32, loom))]
pub(crate) use loom::sync::atomic::AtomicU32;
#[cfg(all(tripbit_cs_ops, not(loom)))]
pub(crate) use op_word::OpAtomicU32 as AtomicU32;

#[cfg(all(tripbit_cs_ops, not(tripbit_word32)))]
compile_error!("tripbit_cs_ops needs tripbit_word32: pass both --cfg flags");

/// Runs `f` as one operation of the state machine: on cores without a CAS
/// instruction (`tripbit_cs_ops`: Cortex-M0, RV32 without A) inside one
/// critical section, so that the load-compare-store of every word it writes
/// is atomic and the operation takes one critical section instead of one
/// per access; elsewhere `f()` as it is (the words are lock-free atomics).
///
/// Every path that writes the state word or the stamp goes through it
/// (`acquire_slow`, `record_slow`, `advance`, `swap_word`), and every path
/// that touches the window policy's buckets (`record_slow`, `Window::counts`).
/// Paths that only read the 32-bit words need none: an aligned 32-bit load
/// is atomic on every core, with or without a CAS, so the closed fast paths
/// stay free of interrupt masking.
/// Any closure the operation calls (a clock passed to `record_with`) runs
/// inside the critical section.
#[inline(always)]
pub(crate) fn op<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(all(tripbit_cs_ops, not(loom)))]
    {
        critical_section::with(|_| {
            let _inside = op_word::Inside::enter();
            f()
        })
    }
    #[cfg(not(all(tripbit_cs_ops, not(loom))))]
    {
        f()
    }
}

/// The 32-bit words of cores without a CAS instruction. Why not
/// `portable-atomic`'s critical-section `AtomicU32` (used here before):
/// with that feature it takes a critical section for every access, loads
/// included, and a transition is a CAS loop in which each load and each CAS
/// is a critical section of its own: 2 critical sections per closed success
/// and 5 per rejection on a Cortex-M0 (`count-insns.sh`). Here the whole
/// operation is one critical section ([`op`]) and the accesses inside it
/// are plain 32-bit loads and stores; a closed success takes none.
#[cfg(all(tripbit_cs_ops, not(loom)))]
mod op_word {
    use super::Ordering;

    /// Defines a word of `$n` 32-bit words for these cores, written only
    /// inside [`super::op`]: `store` and the read-modify-writes are plain
    /// loads and stores (no `unsafe` in this crate), atomic because the
    /// operation's critical section excludes every other writer (interrupt
    /// handlers, and the other cores with a multi-core `critical-section`
    /// implementation). Debug builds check that they run inside one, and,
    /// for the wider words, that loads do too (a load of several words is
    /// several instructions, which an interrupt could split). `Ordering`
    /// arguments are accepted and ignored: a critical section orders memory
    /// at least as strongly as any of them (its acquire and release are
    /// compiler barriers at the least, and the hardware fences of a
    /// multi-core implementation). The layouts are those of the words they
    /// stand for (`AtomicU32`, and `CsAtomicU64`/`CsAtomicU128` on the cores
    /// with CAS), so `Breaker`'s `#[repr(C)]` layout is the same.
    macro_rules! op_word {
        (
            $(#[$meta:meta])* $name:ident, $int:ty, $n:literal,
            checked_load: $checked:literal, #[$access:meta]
        ) => {
            $(#[$meta])*
            pub(crate) struct $name([core::sync::atomic::AtomicU32; $n]);

            #[allow(dead_code)]
            impl $name {
                pub(crate) const fn new(v: $int) -> Self {
                    let mut words = [const { core::sync::atomic::AtomicU32::new(0) }; $n];
                    let mut i = 0;
                    while i < $n {
                        words[i] = core::sync::atomic::AtomicU32::new((v >> (32 * i)) as u32);
                        i += 1;
                    }
                    $name(words)
                }

                #[$access]
                pub(crate) fn load(&self, _: Ordering) -> $int {
                    if $checked {
                        Inside::check();
                    }
                    let mut v: $int = 0;
                    for (i, w) in self.0.iter().enumerate() {
                        // Ordering: Relaxed: a single word is atomic anywhere;
                        // several are read inside the operation's critical
                        // section, where no other context writes any of them.
                        v |= (w.load(Ordering::Relaxed) as $int) << (32 * i);
                    }
                    v
                }

                #[$access]
                pub(crate) fn store(&self, v: $int, _: Ordering) {
                    Inside::check();
                    for (i, w) in self.0.iter().enumerate() {
                        // Ordering: Relaxed, inside the operation's critical section.
                        w.store((v >> (32 * i)) as u32, Ordering::Relaxed);
                    }
                }

                #[inline(always)]
                pub(crate) fn compare_exchange(
                    &self,
                    current: $int,
                    new: $int,
                    _: Ordering,
                    _: Ordering,
                ) -> Result<$int, $int> {
                    Inside::check();
                    // Inside the critical section: nothing else writes
                    // between this load and the store.
                    let v = self.load(Ordering::Relaxed);
                    if v == current {
                        self.store(new, Ordering::Relaxed);
                        Ok(v)
                    } else {
                        Err(v)
                    }
                }

                /// Never fails spuriously.
                #[inline(always)]
                pub(crate) fn compare_exchange_weak(
                    &self,
                    current: $int,
                    new: $int,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$int, $int> {
                    self.compare_exchange(current, new, success, failure)
                }

                /// Wrapping, as the native `fetch_add`.
                #[inline(always)]
                pub(crate) fn fetch_add(&self, v: $int, _: Ordering) -> $int {
                    let old = self.load(Ordering::Relaxed);
                    self.store(old.wrapping_add(v), Ordering::Relaxed);
                    old
                }
            }
        };
    }

    op_word!(
        /// The 32-bit state word and stamp words: loaded anywhere, inline
        /// (the closed fast paths read it outside any critical section).
        #[repr(transparent)]
        OpAtomicU32,
        u32,
        1,
        checked_load: false,
        #[inline(always)]
    );
    op_word!(
        /// A 64-bit word, written and read only inside an operation.
        #[repr(C, align(8))]
        OpCell64,
        u64,
        2,
        checked_load: true,
        // Out of line, as `store`: inlined at every bucket access, the
        // word-by-word copies cost the C API 224 B on a Cortex-M0.
        #[inline(never)]
    );
    op_word!(
        /// A 128-bit word, written and read only inside an operation;
        /// 16-aligned like `portable_atomic::AtomicU128`.
        #[repr(C, align(16))]
        OpCell128,
        u128,
        4,
        checked_load: true,
        #[inline(never)]
    );

    const _: () = assert!(core::mem::size_of::<OpAtomicU32>() == 4);
    const _: () = assert!(core::mem::size_of::<OpCell64>() == 8);
    const _: () = assert!(core::mem::size_of::<OpCell128>() == 16);
    const _: () = assert!(core::mem::align_of::<OpCell128>() == 16);

    /// Debug builds: how deep the current context is in [`super::op`]
    /// (per thread with `std`, where the host tests run this layout; one
    /// counter without, where the critical section excludes every other
    /// context while it is non-zero). Release builds: nothing.
    pub(crate) struct Inside(());

    #[cfg(all(debug_assertions, feature = "std"))]
    std::thread_local! {
        static DEPTH: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
    }

    #[cfg(all(debug_assertions, not(feature = "std")))]
    static DEPTH: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

    impl Inside {
        #[inline(always)]
        pub(crate) fn enter() -> Inside {
            #[cfg(all(debug_assertions, feature = "std"))]
            DEPTH.with(|d| d.set(d.get() + 1));
            // Ordering: Relaxed, inside the critical section.
            #[cfg(all(debug_assertions, not(feature = "std")))]
            DEPTH.store(DEPTH.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            Inside(())
        }

        #[inline(always)]
        pub(crate) fn check() {
            #[cfg(all(debug_assertions, feature = "std"))]
            debug_assert!(
                DEPTH.with(core::cell::Cell::get) > 0,
                "tripbit: a state word written outside sync::op"
            );
            // Ordering: Relaxed: non-zero only while a critical section is held.
            #[cfg(all(debug_assertions, not(feature = "std")))]
            debug_assert!(
                DEPTH.load(Ordering::Relaxed) > 0,
                "tripbit: a state word written outside sync::op"
            );
        }
    }

    impl Drop for Inside {
        #[inline(always)]
        fn drop(&mut self) {
            #[cfg(all(debug_assertions, feature = "std"))]
            DEPTH.with(|d| d.set(d.get() - 1));
            // Ordering: Relaxed, still inside the critical section.
            #[cfg(all(debug_assertions, not(feature = "std")))]
            DEPTH.store(DEPTH.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        }
    }
}

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom_u128::AtomicU128;

#[cfg(all(not(loom), target_has_atomic = "64", not(tripbit_cs_ops)))]
pub(crate) use core::sync::atomic::AtomicU64;
#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::Ordering;
#[cfg(all(not(loom), target_has_atomic = "64", not(tripbit_cs_ops)))]
pub(crate) use portable_atomic::AtomicU128;

#[cfg(all(not(loom), not(target_has_atomic = "64")))]
pub(crate) use core::sync::atomic::Ordering;
#[cfg(all(not(loom), not(target_has_atomic = "64"), not(tripbit_cs_ops)))]
pub(crate) use cs::{CsAtomicU64 as AtomicU64, CsAtomicU128 as AtomicU128};
#[cfg(all(not(loom), tripbit_cs_ops))]
pub(crate) use op_word::{OpCell64 as AtomicU64, OpCell128 as AtomicU128};

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

        pub(crate) fn store(&self, v: u128, _: Ordering) {
            *self.0.lock().unwrap() = v;
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

#[cfg(all(not(loom), not(target_has_atomic = "64"), not(tripbit_cs_ops)))]
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
