//! Is a result awaitable? Asked after every sync guarded call (an awaitable
//! result means the real work happens at the `await`, which must be
//! guarded too), so the common answer, "no, it is a plain value", must cost
//! about nothing: the types already found not awaitable are remembered in a
//! few slots and recognised by their address.
//!
//! Each slot keeps a strong reference to its type, so a remembered address
//! cannot be reused by another type while it is remembered. The slots are
//! only read and written with the GIL held (an abi3 module runs on
//! GIL-enabled builds), so the atomics need no ordering of their own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyType;

const SLOTS: usize = 8;

/// Addresses of types known not to be awaitable (0: empty).
static KNOWN: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
/// The types themselves, keeping those addresses alive.
static KEEP: Mutex<[Option<Py<PyType>>; SLOTS]> = Mutex::new([const { None }; SLOTS]);
/// The next slot to replace (round robin).
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether `v` is awaitable (its type has `__await__`).
#[inline(always)]
pub(crate) fn is_awaitable(v: &Bound<'_, PyAny>) -> bool {
    let tp = v.get_type_ptr() as usize;
    // Ordering: Relaxed; every access holds the GIL (see the module docs).
    if KNOWN.iter().any(|slot| slot.load(Ordering::Relaxed) == tp) {
        return false;
    }
    slow(v, tp)
}

#[inline(never)]
fn slow(v: &Bound<'_, PyAny>, tp: usize) -> bool {
    let py = v.py();
    let ty = v.get_type();
    if ty.hasattr(intern!(py, "__await__")).unwrap_or(false) {
        return true;
    }
    // Ordering: Relaxed; the GIL orders every access.
    let i = NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS;
    let old = {
        let mut keep = KEEP.lock().unwrap_or_else(PoisonError::into_inner);
        // The new address is published before the old type can be freed
        // (it is dropped below, after the mutex is released).
        KNOWN[i].store(tp, Ordering::Relaxed);
        keep[i].replace(ty.unbind())
    };
    drop(old);
    false
}
