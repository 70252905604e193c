//! The atomic shim: every atomic in tripbit comes from here.
//!
//! - `cfg(loom)`: loom's model-checked atomics (tests only);
//! - targets with native 64-bit atomics: `core::sync::atomic`;
//! - the rest (thumbv6m, thumbv7m, riscv32imc, ...): `portable-atomic` with its
//!   `critical-section` backend, whose implementation the final binary provides.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering, fence};

#[cfg(all(not(loom), target_has_atomic = "64"))]
pub(crate) use core::sync::atomic::{AtomicU64, Ordering, fence};

#[cfg(all(not(loom), not(target_has_atomic = "64")))]
pub(crate) use portable_atomic::{AtomicU64, Ordering, fence};

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
