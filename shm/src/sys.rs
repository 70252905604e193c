//! The system calls std does not wrap: the monotonic clock, the mapping,
//! process liveness, the effective uid and `linkat` of an anonymous file.
//! Every `unsafe` block of the crate that is not about slot memory is here.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::NonNull;

/// `CLOCK_MONOTONIC` in nanoseconds: the tick of every shared breaker.
/// Every process on the host reads the same clock (time since boot, not
/// counting suspend), so ticks written by one process are meaningful to all.
///
/// ```
/// let a = tripbit_shm::now();
/// let b = tripbit_shm::now();
/// assert!(b >= a && a > 0);
/// ```
pub fn now() -> u64 {
    // The core's clock is `CLOCK_MONOTONIC` on Linux (this crate's only
    // platform): one clock for the core's `call()` and for the regions.
    tripbit::clock::now()
}

/// A shared, read-write (or read-only) mapping of a whole file, unmapped on
/// drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory shared with other processes anyway;
// this crate touches it only through atomics (after the slot is published)
// or before publication through a claim that only this thread holds.
unsafe impl Send for Mapping {}
// SAFETY: as above: every shared access is atomic.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `file` from offset 0. The caller has checked that
    /// the file is at least `len` bytes long.
    ///
    /// `writable`: `MAP_SHARED`, read-write: the region itself. Otherwise
    /// (inspection through a read-only descriptor) `MAP_PRIVATE`, read-write:
    /// copy on write, never written back. Not `PROT_READ` alone: a 128-bit
    /// atomic load (the core's stamp) is a `cmpxchg16b` on x86_64 CPUs
    /// without AVX, which faults on read-only pages. A page this process
    /// writes so becomes its private copy, taken at that instant, so an
    /// inspection is a snapshot, never a live view.
    pub(crate) fn new(file: &File, len: usize, writable: bool) -> io::Result<Mapping> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = if writable {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        // SAFETY: a fresh mapping at an address the kernel picks (NULL hint)
        // aliases no Rust object; `file` is an open descriptor; on failure
        // MAP_FAILED is returned and nothing is mapped.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, file.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        match NonNull::new(p.cast::<u8>()) {
            Some(ptr) => Ok(Mapping { ptr, len }),
            None => Err(io::Error::other("mmap returned NULL")),
        }
    }

    /// The first byte (page aligned).
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly the range `mmap` returned, unmapped once; no
        // reference into it outlives the `Region` that owns this mapping.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// This process's id.
pub(crate) fn pid() -> u32 {
    std::process::id()
}

/// The effective uid.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether process `pid` still runs: `kill(pid, 0)` succeeds or says EPERM
/// (it exists, under another user), and it is not a zombie (killed, not yet
/// reaped: it will never finish a claim).
pub(crate) fn alive(pid: u32) -> bool {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if p <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only checks for existence.
    let rc = unsafe { libc::kill(p, 0) };
    if rc != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return false;
    }
    // /proc/<pid>/stat: "pid (comm) S ...": the state follows the last ')'.
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(stat) => match stat.iter().rposition(|&b| b == b')') {
            Some(i) => !matches!(stat.get(i + 2), Some(b'Z' | b'X')),
            None => true,
        },
        // No /proc (or gone meanwhile): trust kill.
        Err(e) => e.kind() != io::ErrorKind::NotFound,
    }
}

/// Gives the anonymous `O_TMPFILE` file `file` the name `path`, failing with
/// `AlreadyExists` if the name is taken (never replaces a file). Uses
/// `/proc/self/fd/N` with `AT_SYMLINK_FOLLOW`, which needs no privilege
/// (unlike `AT_EMPTY_PATH`).
pub(crate) fn link_anonymous(file: &File, path: &Path) -> io::Result<()> {
    let src = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let dst = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both strings are NUL-terminated and live across the call.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            src.as_ptr(),
            libc::AT_FDCWD,
            dst.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
