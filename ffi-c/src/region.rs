//! `tripbit_region_t`: a region file shared by every process on the host
//! (Linux, `std` builds), and the named breakers in it, handed out as the
//! same `tripbit_breaker_t *` every other function takes. The region itself
//! is the `tripbit-shm` crate; this file only converts arguments and errors.
//!
//! Ownership: `tripbit_region_open` allocates a handle that C owns and
//! frees with `tripbit_region_close`. A breaker pointer from
//! `tripbit_region_breaker` points into the mapping and stays valid until
//! that region handle is closed; it needs no free of its own.

use core::ffi::{CStr, c_char};
use std::path::Path;

use tripbit_shm::{Error, Region};

use crate::breaker::tripbit_breaker_t;
use crate::panic::{boundary, out_ptr, try_ffi, write_out};
use crate::types::tripbit_config_t;

/// The result of every `tripbit_region_*` function. Fixed numbers, never
/// reused. 0, 1 and 8 mean what they mean in `tripbit_result_t`; 100 is a
/// rejected config (`tripbit_config_check()` names the field); 200..=299
/// are region errors. `tripbit_region_strerror()` gives the text.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum tripbit_region_result_t {
    /// Success; out-parameters were written.
    TRIPBIT_REGION_OK = 0,
    /// A required pointer argument was NULL.
    TRIPBIT_REGION_E_NULL = 1,
    /// A pointer argument is not aligned for its type.
    TRIPBIT_REGION_E_MISALIGNED = 2,
    /// A Rust panic was caught at the boundary (a tripbit bug: please report).
    TRIPBIT_REGION_E_PANIC = 8,
    /// The config was rejected: `tripbit_config_check()` gives the field.
    TRIPBIT_REGION_E_CONFIG = 100,
    /// A system call failed (open, create, mmap, ...); `errno` is not kept.
    TRIPBIT_REGION_E_IO = 200,
    /// The path's directory (or, for an attach, the file) does not exist.
    TRIPBIT_REGION_E_NOT_FOUND = 201,
    /// Permission denied by the file system.
    TRIPBIT_REGION_E_PERMISSION = 202,
    /// The file is not a tripbit region (foreign, empty, zero-filled, not a
    /// regular file).
    TRIPBIT_REGION_E_NOT_A_REGION = 203,
    /// The file is shorter than its header says.
    TRIPBIT_REGION_E_TRUNCATED = 204,
    /// The region has another layout version.
    TRIPBIT_REGION_E_VERSION = 205,
    /// The header checksum does not match (corrupt header).
    TRIPBIT_REGION_E_CHECKSUM = 206,
    /// A header field (breaker or slot size, alignment, file size) differs
    /// from this build.
    TRIPBIT_REGION_E_LAYOUT = 207,
    /// The region is still initialising after the wait.
    TRIPBIT_REGION_E_INITIALISING = 208,
    /// The file belongs to another user.
    TRIPBIT_REGION_E_FOREIGN_OWNER = 209,
    /// The capacity is 0, too large, or differs from the existing region's.
    TRIPBIT_REGION_E_CAPACITY = 210,
    /// The name is empty, longer than `TRIPBIT_REGION_NAME_MAX` bytes, has
    /// a NUL byte inside, or is not UTF-8; or the path is not UTF-8.
    TRIPBIT_REGION_E_NAME = 211,
    /// Every slot is taken by another name.
    TRIPBIT_REGION_E_TABLE_FULL = 212,
    /// The name is already bound to a breaker with another config.
    TRIPBIT_REGION_E_CONFIG_MISMATCH = 213,
    /// A slot on the name's probe chain is corrupt.
    TRIPBIT_REGION_E_CORRUPT_SLOT = 214,
    /// The CPU has no lock-free 128-bit atomics: breakers cannot be shared.
    TRIPBIT_REGION_E_NOT_LOCK_FREE = 215,
    // 216..=299: reserved for future region errors.
}

use tripbit_region_result_t::*;

/// Longest breaker name in a region, in bytes (without the NUL).
pub const TRIPBIT_REGION_NAME_MAX: usize = 128;
// A literal for cbindgen; it must be the region's own limit.
const _: () = assert!(TRIPBIT_REGION_NAME_MAX == tripbit_shm::NAME_MAX);

impl tripbit_region_result_t {
    const ALL: [tripbit_region_result_t; 21] = [
        TRIPBIT_REGION_OK,
        TRIPBIT_REGION_E_NULL,
        TRIPBIT_REGION_E_MISALIGNED,
        TRIPBIT_REGION_E_PANIC,
        TRIPBIT_REGION_E_CONFIG,
        TRIPBIT_REGION_E_IO,
        TRIPBIT_REGION_E_NOT_FOUND,
        TRIPBIT_REGION_E_PERMISSION,
        TRIPBIT_REGION_E_NOT_A_REGION,
        TRIPBIT_REGION_E_TRUNCATED,
        TRIPBIT_REGION_E_VERSION,
        TRIPBIT_REGION_E_CHECKSUM,
        TRIPBIT_REGION_E_LAYOUT,
        TRIPBIT_REGION_E_INITIALISING,
        TRIPBIT_REGION_E_FOREIGN_OWNER,
        TRIPBIT_REGION_E_CAPACITY,
        TRIPBIT_REGION_E_NAME,
        TRIPBIT_REGION_E_TABLE_FULL,
        TRIPBIT_REGION_E_CONFIG_MISMATCH,
        TRIPBIT_REGION_E_CORRUPT_SLOT,
        TRIPBIT_REGION_E_NOT_LOCK_FREE,
    ];

    /// The code for a failed pointer check of `panic.rs`.
    fn from_check(r: crate::tripbit_result_t) -> tripbit_region_result_t {
        if r == crate::tripbit_result_t::TRIPBIT_E_MISALIGNED {
            TRIPBIT_REGION_E_MISALIGNED
        } else {
            TRIPBIT_REGION_E_NULL
        }
    }

    fn from_error(e: &Error) -> tripbit_region_result_t {
        match e {
            Error::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => TRIPBIT_REGION_E_NOT_FOUND,
                std::io::ErrorKind::PermissionDenied => TRIPBIT_REGION_E_PERMISSION,
                _ => TRIPBIT_REGION_E_IO,
            },
            Error::NotARegion { .. } => TRIPBIT_REGION_E_NOT_A_REGION,
            Error::Truncated { .. } => TRIPBIT_REGION_E_TRUNCATED,
            Error::Version { .. } => TRIPBIT_REGION_E_VERSION,
            Error::Checksum { .. } => TRIPBIT_REGION_E_CHECKSUM,
            Error::Layout { .. } => TRIPBIT_REGION_E_LAYOUT,
            Error::Initialising { .. } => TRIPBIT_REGION_E_INITIALISING,
            Error::ForeignOwner { .. } => TRIPBIT_REGION_E_FOREIGN_OWNER,
            Error::BadCapacity { .. } | Error::CapacityMismatch { .. } => TRIPBIT_REGION_E_CAPACITY,
            Error::BadName { .. } => TRIPBIT_REGION_E_NAME,
            Error::TableFull { .. } => TRIPBIT_REGION_E_TABLE_FULL,
            Error::ConfigMismatch { .. } => TRIPBIT_REGION_E_CONFIG_MISMATCH,
            Error::Config { .. } => TRIPBIT_REGION_E_CONFIG,
            Error::CorruptSlot { .. } => TRIPBIT_REGION_E_CORRUPT_SLOT,
            Error::NotLockFree { .. } => TRIPBIT_REGION_E_NOT_LOCK_FREE,
            // Never for a writable region; `Error` is non-exhaustive.
            _ => TRIPBIT_REGION_E_IO,
        }
    }

    const fn message(self) -> &'static CStr {
        match self {
            TRIPBIT_REGION_OK => c"success",
            TRIPBIT_REGION_E_NULL => c"a required pointer argument is NULL",
            TRIPBIT_REGION_E_MISALIGNED => c"a pointer argument is not aligned for its type",
            TRIPBIT_REGION_E_PANIC => c"internal error: a Rust panic was caught at the C boundary",
            TRIPBIT_REGION_E_CONFIG => c"config rejected: tripbit_config_check() names the field",
            TRIPBIT_REGION_E_IO => c"region: a system call failed (open, create or mmap)",
            TRIPBIT_REGION_E_NOT_FOUND => {
                c"region: no such file or directory (does the directory exist?)"
            }
            TRIPBIT_REGION_E_PERMISSION => c"region: permission denied",
            TRIPBIT_REGION_E_NOT_A_REGION => c"region: the file is not a tripbit region",
            TRIPBIT_REGION_E_TRUNCATED => c"region: the file is truncated",
            TRIPBIT_REGION_E_VERSION => c"region: another layout version",
            TRIPBIT_REGION_E_CHECKSUM => c"region: header checksum mismatch (corrupt header)",
            TRIPBIT_REGION_E_LAYOUT => c"region: header layout differs from this build",
            TRIPBIT_REGION_E_INITIALISING => c"region: still initialising after the wait",
            TRIPBIT_REGION_E_FOREIGN_OWNER => c"region: the file belongs to another user",
            TRIPBIT_REGION_E_CAPACITY => {
                c"region: capacity is 0, too large, or differs from the existing region's"
            }
            TRIPBIT_REGION_E_NAME => {
                c"region: name is empty, too long, has a NUL inside, or is not UTF-8"
            }
            TRIPBIT_REGION_E_TABLE_FULL => c"region: every slot is taken by another name",
            TRIPBIT_REGION_E_CONFIG_MISMATCH => {
                c"region: the name is bound to a breaker with another config"
            }
            TRIPBIT_REGION_E_CORRUPT_SLOT => c"region: a slot is corrupt",
            TRIPBIT_REGION_E_NOT_LOCK_FREE => {
                c"region: this CPU has no lock-free 128-bit atomics, breakers cannot be shared"
            }
        }
    }
}

/// An open region file (opaque; from `tripbit_region_open()`, freed by
/// `tripbit_region_close()`).
pub struct tripbit_region_t {
    _private: [u8; 0],
}

/// Reads a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
unsafe fn str_arg<'a>(p: *const c_char) -> Result<&'a str, tripbit_region_result_t> {
    if p.is_null() {
        return Err(TRIPBIT_REGION_E_NULL);
    }
    // SAFETY: non-NULL and NUL-terminated per the contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| TRIPBIT_REGION_E_NAME)
}

/// Checks a region handle: NULL gives `TRIPBIT_REGION_E_NULL`.
///
/// # Safety
/// `p` is NULL or a handle from `tripbit_region_open` not yet closed.
unsafe fn region_ref<'a>(
    p: *const tripbit_region_t,
) -> Result<&'a Region, tripbit_region_result_t> {
    if p.is_null() {
        return Err(TRIPBIT_REGION_E_NULL);
    }
    // SAFETY: a live handle is a `Box<Region>` turned into a pointer by
    // `tripbit_region_open`; shared access only (`Region` is `Sync`).
    Ok(unsafe { &*p.cast::<Region>() })
}

/// Linux host builds only (not in the bare-metal library). Opens the
/// region file at `path`, creating it (mode 0600, `capacity`
/// slots) if it does not exist; an existing region must be a tripbit region
/// of this build, of the same capacity, owned by this user. Never
/// truncates, never removes, and a failed open changes nothing. On
/// `TRIPBIT_REGION_OK`, `*region_out` is a handle to close with
/// `tripbit_region_close()`.
///
/// Returns `TRIPBIT_REGION_OK`, `TRIPBIT_REGION_E_NULL`, or a region error
/// (`_NOT_FOUND` for a missing directory, `_NOT_A_REGION`, `_TRUNCATED`,
/// `_VERSION`, `_CHECKSUM`, `_LAYOUT`, `_FOREIGN_OWNER`, `_CAPACITY`, ...).
/// Thread-safe.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `region_out` is NULL or
/// points to writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_region_open(
    path: *const c_char,
    capacity: u32,
    region_out: *mut *mut tripbit_region_t,
) -> tripbit_region_result_t {
    boundary(TRIPBIT_REGION_E_PANIC, || {
        // SAFETY: forwarded contract.
        let path = try_ffi!(unsafe { str_arg(path) });
        let out = try_ffi!(out_ptr(region_out).map_err(tripbit_region_result_t::from_check));
        match Region::open(Path::new(path), capacity) {
            Ok(region) => {
                let handle = Box::into_raw(Box::new(region)).cast::<tripbit_region_t>();
                // SAFETY: the out-parameter passed `out_ptr`/`opt_out_ptr`, and the
                // caller promised it is writable (the header's contract).
                unsafe { write_out(out, handle) };
                TRIPBIT_REGION_OK
            }
            Err(e) => tripbit_region_result_t::from_error(&e),
        }
    })
}

/// The breaker named `name` in `region`, bound with `config` by the first
/// process to ask for it; every process gets a pointer to the same breaker.
/// Use it with every `tripbit_breaker_*` function (except `_init`), passing
/// ticks from `tripbit_region_now()` (the same clock in every process). The
/// pointer is valid until `tripbit_region_close(region)`.
///
/// Returns `TRIPBIT_REGION_OK`, `TRIPBIT_REGION_E_NULL`,
/// `TRIPBIT_REGION_E_CONFIG` (see `tripbit_config_check()`),
/// `TRIPBIT_REGION_E_NAME`, `TRIPBIT_REGION_E_TABLE_FULL`,
/// `TRIPBIT_REGION_E_CONFIG_MISMATCH` (the name is bound with another
/// config), `TRIPBIT_REGION_E_CORRUPT_SLOT`. A failed call writes nothing.
/// Thread-safe, lock-free.
///
/// # Safety
/// `region` is NULL or an open handle; `name` NULL or a NUL-terminated
/// string; `config` NULL or a readable `tripbit_config_t`; `breaker_out`
/// NULL or writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_region_breaker(
    region: *mut tripbit_region_t,
    name: *const c_char,
    config: *const tripbit_config_t,
    breaker_out: *mut *mut tripbit_breaker_t,
) -> tripbit_region_result_t {
    boundary(TRIPBIT_REGION_E_PANIC, || {
        // SAFETY: forwarded contract.
        let region = try_ffi!(unsafe { region_ref(region) });
        // SAFETY: forwarded contract.
        let name = try_ffi!(unsafe { str_arg(name) });
        // SAFETY: forwarded contract; `tripbit_config_t` is plain integers.
        let c = try_ffi!(
            unsafe { crate::panic::read_in(config) }.map_err(tripbit_region_result_t::from_check)
        );
        let out = try_ffi!(out_ptr(breaker_out).map_err(tripbit_region_result_t::from_check));
        let config = try_ffi!(c.to_config().map_err(|_| TRIPBIT_REGION_E_CONFIG));
        match region.breaker(name, config) {
            Ok(b) => {
                // The breaker lives in the mapping, which `region` keeps.
                // SAFETY: the out-parameter passed `out_ptr`/`opt_out_ptr`, and the
                // caller promised it is writable (the header's contract).
                unsafe { write_out(out, b.as_ptr().cast_mut().cast::<tripbit_breaker_t>()) };
                TRIPBIT_REGION_OK
            }
            Err(e) => tripbit_region_result_t::from_error(&e),
        }
    })
}

/// Closes a region handle: unmaps the file (once no other handle of this
/// process maps it) without removing it. Every breaker pointer obtained
/// through this handle is invalid afterwards. NULL is ignored.
///
/// # Safety
/// `region` is NULL or an open handle, closed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_region_close(region: *mut tripbit_region_t) {
    boundary((), || {
        if !region.is_null() {
            // SAFETY: an open handle is a `Box<Region>` from
            // `tripbit_region_open`, freed exactly once (contract).
            drop(unsafe { Box::from_raw(region.cast::<Region>()) });
        }
    })
}

/// Removes the region file at `path` (after checking it is a tripbit
/// region: a foreign file is never removed). Processes that map it keep
/// their mapping. Returns `TRIPBIT_REGION_OK`, `TRIPBIT_REGION_E_NULL` or a
/// region error. Thread-safe.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tripbit_region_remove(path: *const c_char) -> tripbit_region_result_t {
    boundary(TRIPBIT_REGION_E_PANIC, || {
        // SAFETY: forwarded contract.
        let path = try_ffi!(unsafe { str_arg(path) });
        match Region::remove(Path::new(path)) {
            Ok(()) => TRIPBIT_REGION_OK,
            Err(e) => tripbit_region_result_t::from_error(&e),
        }
    })
}

/// `CLOCK_MONOTONIC` in nanoseconds: the ticks to pass to breakers of a
/// region (every process on the host reads the same clock). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_region_now() -> u64 {
    boundary(0, tripbit_shm::now)
}

/// A one-line, NUL-terminated English description of a
/// `tripbit_region_result_t` (any `uint32_t`: unknown numbers get "unknown
/// tripbit region result code"). Static; never free it. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_region_strerror(result: u32) -> *const c_char {
    boundary(
        c"unknown tripbit region result code".as_ptr(),
        || match tripbit_region_result_t::ALL
            .iter()
            .find(|r| **r as u32 == result)
        {
            Some(r) => r.message().as_ptr(),
            None => c"unknown tripbit region result code".as_ptr(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::ptr;

    #[test]
    fn numbers_are_stable_and_have_text() {
        // NB: sync with tests/region.c.
        let expected = [
            0, 1, 2, 8, 100, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213,
            214, 215,
        ];
        for (code, n) in tripbit_region_result_t::ALL.iter().zip(expected) {
            assert_eq!(*code as u32, n);
            assert!(!code.message().is_empty());
        }
    }

    #[test]
    fn open_breaker_close_and_errors() {
        let path = std::env::temp_dir().join(format!("tripbit-ffi-region-{}", std::process::id()));
        let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        let mut region = ptr::null_mut();
        // SAFETY: valid pointers throughout; handles closed once.
        unsafe {
            assert_eq!(
                tripbit_region_open(ptr::null(), 4, &mut region),
                TRIPBIT_REGION_E_NULL
            );
            assert_eq!(
                tripbit_region_open(cpath.as_ptr(), 4, &mut region),
                TRIPBIT_REGION_OK
            );
            let cfg = tripbit_config_t::DEFAULT;
            let mut b = ptr::null_mut();
            assert_eq!(
                tripbit_region_breaker(region, c"svc".as_ptr(), &cfg, &mut b),
                TRIPBIT_REGION_OK
            );
            assert!(!b.is_null());
            let other = tripbit_config_t {
                consecutive_failures: 9,
                ..cfg
            };
            let mut b2 = ptr::null_mut();
            assert_eq!(
                tripbit_region_breaker(region, c"svc".as_ptr(), &other, &mut b2),
                TRIPBIT_REGION_E_CONFIG_MISMATCH
            );
            assert!(b2.is_null(), "nothing written on error");
            let bad = tripbit_config_t {
                open_ticks: 0,
                ..cfg
            };
            assert_eq!(
                tripbit_region_breaker(region, c"svc2".as_ptr(), &bad, &mut b2),
                TRIPBIT_REGION_E_CONFIG
            );
            tripbit_region_close(region);
            tripbit_region_close(ptr::null_mut());
            assert_eq!(tripbit_region_remove(cpath.as_ptr()), TRIPBIT_REGION_OK);
        }
    }
}
