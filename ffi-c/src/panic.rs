//! The panic boundary every `extern "C"` body runs in, and the checked
//! pointer conversions (NULL and alignment first, always).
//!
//! References: rustls-ffi's `ffi_panic_boundary!` (`librustls/src/panic.rs`)
//! and `try_ref_from_ptr!` (`librustls/src/ffi.rs`).

/// Runs `f`; if it panics, returns `on_panic` instead of letting the panic
/// cross into C (which would abort the process from an `extern "C"` fn).
///
/// Without `std` there is no unwinding to catch: the firmware profile builds
/// with `panic = "abort"` and the `#[panic_handler]` in `lib.rs` traps.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn boundary<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    // `AssertUnwindSafe`: after a panic nothing of the closure's state is
    // used again; the breaker itself is a set of atomics whose every store
    // leaves a valid word, so a half-done operation cannot corrupt it.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// `no_std`: panics abort (`panic = "abort"`), so there is nothing to catch.
#[cfg(not(feature = "std"))]
#[inline(always)]
pub(crate) fn boundary<T>(_on_panic: T, f: impl FnOnce() -> T) -> T {
    f()
}

/// Returns early with the error when a check fails, like `?` but for
/// functions returning `tripbit_result_t` directly.
macro_rules! try_ffi {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => return err,
        }
    };
}
pub(crate) use try_ffi;

/// Writes `value` through an out-parameter already checked non-NULL and
/// aligned by [`out_ptr`] (or [`opt_out_ptr`]).
///
/// # Safety
/// `out` must come from `out_ptr`/`opt_out_ptr` (non-NULL, aligned for `T`)
/// and point to memory writable for one `T`, as the caller of the
/// `extern "C"` function promised. The old bytes are neither read nor
/// dropped, so they may be anything.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: the function's contract, above.
    unsafe { out.write(value) }
}

/// Checks a required out-parameter: NULL → `TRIPBIT_E_NULL`, misaligned →
/// `TRIPBIT_E_MISALIGNED`.
pub(crate) fn out_ptr<T>(p: *mut T) -> Result<*mut T, crate::tripbit_result_t> {
    if p.is_null() {
        Err(crate::tripbit_result_t::TRIPBIT_E_NULL)
    } else if !p.is_aligned() {
        Err(crate::tripbit_result_t::TRIPBIT_E_MISALIGNED)
    } else {
        Ok(p)
    }
}

/// Checks an optional out-parameter: NULL → `None`, misaligned →
/// `TRIPBIT_E_MISALIGNED`.
pub(crate) fn opt_out_ptr<T>(p: *mut T) -> Result<Option<*mut T>, crate::tripbit_result_t> {
    if p.is_null() {
        Ok(None)
    } else if !p.is_aligned() {
        Err(crate::tripbit_result_t::TRIPBIT_E_MISALIGNED)
    } else {
        Ok(Some(p))
    }
}

/// Reads a required input struct by value: NULL → `TRIPBIT_E_NULL`,
/// misaligned → `TRIPBIT_E_MISALIGNED`.
///
/// # Safety
/// A non-NULL `p` must point to a readable, initialized `T`, and `T` must be
/// valid for every bit pattern (plain integers only).
pub(crate) unsafe fn read_in<T: Copy>(p: *const T) -> Result<T, crate::tripbit_result_t> {
    if p.is_null() {
        Err(crate::tripbit_result_t::TRIPBIT_E_NULL)
    } else if !p.is_aligned() {
        Err(crate::tripbit_result_t::TRIPBIT_E_MISALIGNED)
    } else {
        // SAFETY: non-NULL and aligned (checked above); readable and
        // initialized per this function's contract; `T` has no invalid bit
        // patterns, so any bytes C left there are a valid `T`.
        Ok(unsafe { p.read() })
    }
}

/// Borrows a required input struct in place (no copy): NULL →
/// `TRIPBIT_E_NULL`, misaligned → `TRIPBIT_E_MISALIGNED`.
///
/// # Safety
/// A non-NULL `p` must point to a readable, initialized `T` that nothing
/// writes during `'a`, and `T` must be valid for every bit pattern (plain
/// integers only).
pub(crate) unsafe fn ref_in<'a, T>(p: *const T) -> Result<&'a T, crate::tripbit_result_t> {
    if p.is_null() {
        Err(crate::tripbit_result_t::TRIPBIT_E_NULL)
    } else if !p.is_aligned() {
        Err(crate::tripbit_result_t::TRIPBIT_E_MISALIGNED)
    } else {
        // SAFETY: non-NULL and aligned (checked above); readable,
        // initialized and not written during `'a` per this function's
        // contract; `T` has no invalid bit patterns.
        Ok(unsafe { &*p })
    }
}
