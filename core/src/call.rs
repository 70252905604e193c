//! `std` conveniences: a monotonic clock and `call` helpers that read it.

use core::future::Future;
#[cfg(any(not(target_os = "linux"), miri))]
use std::sync::OnceLock;
use std::time::Duration;
#[cfg(any(not(target_os = "linux"), miri))]
use std::time::Instant;

use crate::breaker::Breaker;
use crate::policy::Policy;
use crate::types::{Outcome, Rejected};

/// A monotonic clock in nanosecond ticks, and a coarse reading of it.
///
/// On Linux the ticks are `CLOCK_MONOTONIC` (time since boot, the clock
/// every process of the host shares, so a tick written to a region file by
/// one process means the same to all) and [`coarse`](clock::coarse) reads
/// `CLOCK_MONOTONIC_COARSE`, the same clock as of the kernel's last timer
/// tick: about 5 ns against 26 ns for the precise one on the benchmark
/// machine, with a resolution of a few milliseconds. Elsewhere (and under
/// miri) the ticks are nanoseconds since the first call in this process
/// (`Instant`), and the coarse reading is the precise one.
pub mod clock {
    use super::Duration;
    #[cfg(any(not(target_os = "linux"), miri))]
    use super::{Instant, OnceLock};
    pub use crate::types::TickBounds;

    /// The `clock_gettime` this module calls: the kernel's vDSO entry
    /// itself where glibc can name it, else glibc's `clock_gettime`.
    #[cfg(all(target_os = "linux", not(miri)))]
    type ClockGettime = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> libc::c_int;

    /// The vDSO's own `clock_gettime`, looked up once. Calling it directly
    /// skips glibc's wrapper (an indirect call and its checks): a coarse
    /// read took 3.1 ns against 3.5–3.8 ns through glibc, alternating in
    /// one process on the benchmark machine; it is most of a rejected
    /// `call()`. vdso(7) documents the entry
    /// points and their versions (`__vdso_clock_gettime` on x86_64,
    /// `__kernel_clock_gettime` on aarch64); glibc registers the vDSO as
    /// the loaded object `linux-vdso.so.1`, so `dlopen(RTLD_NOLOAD)` and
    /// `dlsym` find it without parsing ELF here. Where that fails (no vDSO,
    /// as under valgrind; musl; other architectures) the reads go through
    /// `libc::clock_gettime`, which is what they were before.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[allow(unsafe_code)]
    pub(crate) mod vdso {
        use core::ffi::c_void;
        use core::sync::atomic::{AtomicPtr, Ordering};

        use super::ClockGettime;

        /// The function to call, or null before the first read.
        static ENTRY: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());

        #[inline(always)]
        pub(super) fn clock_gettime() -> ClockGettime {
            // Ordering: Relaxed: the pointer is to code mapped before the
            // process started (the vDSO or libc), so no memory is published
            // with it; a thread that sees null looks it up itself.
            let p = ENTRY.load(Ordering::Relaxed);
            if p.is_null() {
                return resolve();
            }
            // SAFETY: `ENTRY` only ever holds a non-null value of type
            // `ClockGettime` (stored by `resolve`).
            unsafe { core::mem::transmute::<*mut c_void, ClockGettime>(p) }
        }

        #[cold]
        #[inline(never)]
        fn resolve() -> ClockGettime {
            let f = lookup().unwrap_or(libc::clock_gettime as ClockGettime);
            // Ordering: Relaxed, as in `clock_gettime`.
            ENTRY.store(f as *mut c_void, Ordering::Relaxed);
            f
        }

        #[cfg(all(
            target_env = "gnu",
            any(target_arch = "x86_64", target_arch = "aarch64")
        ))]
        pub(crate) fn lookup() -> Option<ClockGettime> {
            #[cfg(target_arch = "x86_64")]
            const NAME: &core::ffi::CStr = c"__vdso_clock_gettime";
            #[cfg(target_arch = "aarch64")]
            const NAME: &core::ffi::CStr = c"__kernel_clock_gettime";
            // SAFETY: both strings are NUL-terminated; RTLD_NOLOAD never
            // loads anything, it only names an object already mapped. The
            // handle is never closed: the vDSO stays mapped for the life of
            // the process, and so does the symbol.
            let sym = unsafe {
                let h = libc::dlopen(
                    c"linux-vdso.so.1".as_ptr(),
                    libc::RTLD_LAZY | libc::RTLD_NOLOAD,
                );
                if h.is_null() {
                    return None;
                }
                libc::dlsym(h, NAME.as_ptr())
            };
            // SAFETY: vdso(7): the symbol is the vDSO's `clock_gettime`,
            // with the C prototype of `clock_gettime(2)`.
            (!sym.is_null())
                .then(|| unsafe { core::mem::transmute::<*mut c_void, ClockGettime>(sym) })
        }

        #[cfg(not(all(
            target_env = "gnu",
            any(target_arch = "x86_64", target_arch = "aarch64")
        )))]
        pub(crate) fn lookup() -> Option<ClockGettime> {
            None
        }
    }

    #[cfg(all(target_os = "linux", not(miri)))]
    #[inline(always)]
    #[allow(unsafe_code)]
    fn read(id: libc::clockid_t) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the call's
        // duration, and the function has `clock_gettime`'s contract; both
        // clock ids exist on every Linux since 2.6.32 (the result is
        // checked anyway: 0 on failure).
        if unsafe { vdso::clock_gettime()(id, &mut ts) } != 0 {
            return 0;
        }
        // Both fields are non-negative for the monotonic clocks.
        (ts.tv_sec as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ts.tv_nsec as u64)
    }

    /// Twice the coarse clock's resolution: the coarse clock is updated on
    /// every timer tick of a running CPU, so it lags the precise one by at
    /// most one resolution; the factor 2 covers a tick that is late.
    #[cfg(all(target_os = "linux", not(miri)))]
    #[allow(unsafe_code)]
    fn coarse_margin() -> u64 {
        use core::sync::atomic::{AtomicU64, Ordering};
        static MARGIN: AtomicU64 = AtomicU64::new(0);
        // Ordering: Relaxed: a value computed the same way by every thread
        // that finds it unset; no other memory is published with it.
        let m = MARGIN.load(Ordering::Relaxed);
        if m != 0 {
            return m;
        }
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: as in `read`.
        let res = if unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } == 0 {
            (ts.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec as u64)
        } else {
            10_000_000
        };
        let m = res.clamp(1, 1_000_000_000) * 2;
        // Ordering: Relaxed, as above.
        MARGIN.store(m, Ordering::Relaxed);
        m
    }

    #[cfg(any(not(target_os = "linux"), miri))]
    static EPOCH: OnceLock<Instant> = OnceLock::new();

    /// The precise monotonic tick, in nanoseconds (never 0, never going
    /// back).
    ///
    /// ```
    /// let a = tripbit::clock::now();
    /// let b = tripbit::clock::now();
    /// assert!(b >= a && a > 0);
    /// ```
    #[inline]
    pub fn now() -> u64 {
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            read(libc::CLOCK_MONOTONIC).max(1)
        }
        #[cfg(any(not(target_os = "linux"), miri))]
        {
            let epoch = *EPOCH.get_or_init(Instant::now);
            ticks(epoch.elapsed()).saturating_add(1)
        }
    }

    /// A coarse reading of [`now`]: where the precise clock is, within a
    /// few milliseconds, at a fifth of its cost on Linux. Used where a
    /// decision only needs to know that a time is *certainly* not reached
    /// (a rejection before the end of the open period); anything that
    /// needs the tick itself reads [`now`].
    ///
    /// ```
    /// let c = tripbit::clock::coarse();
    /// assert!(tripbit::clock::now() >= c.lo);
    /// ```
    #[inline]
    pub fn coarse() -> TickBounds {
        #[cfg(all(target_os = "linux", not(miri)))]
        {
            let lo = read(libc::CLOCK_MONOTONIC_COARSE);
            TickBounds {
                lo,
                hi: lo.saturating_add(coarse_margin()),
            }
        }
        #[cfg(any(not(target_os = "linux"), miri))]
        {
            let t = now();
            TickBounds { lo: t, hi: t }
        }
    }

    /// A duration in this clock's ticks (nanoseconds), saturating.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(tripbit::clock::ticks(Duration::from_millis(30)), 30_000_000);
    /// ```
    pub fn ticks(d: Duration) -> u64 {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The error of a guarded call: the breaker rejected it, or it failed.
///
/// ```
/// use tripbit::{Breaker, CallError, Config};
/// let b = Breaker::new(Config::new(tripbit::clock::ticks(std::time::Duration::from_secs(30))));
/// b.force_open();
/// let r: Result<(), _> = b.call(|| Ok::<(), std::io::Error>(()));
/// assert!(matches!(r, Err(CallError::Rejected(_))));
/// ```
#[derive(Debug, PartialEq, Eq)]
pub enum CallError<E> {
    /// Not called: the breaker is open.
    Rejected(Rejected),
    /// Called, and it returned this error (counted as a failure, unless the
    /// classifier said otherwise).
    Failed(E),
}

impl<E: core::fmt::Display> core::fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CallError::Rejected(r) => r.fmt(f),
            CallError::Failed(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CallError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Rejected(r) => Some(r),
            CallError::Failed(e) => Some(e),
        }
    }
}

impl<P: Policy> Breaker<P> {
    /// Runs `f` if the breaker admits it, timing it on [`clock::now`];
    /// `Ok` counts as success, `Err` as failure. Configure durations with
    /// [`clock::ticks`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use tripbit::{Breaker, Config, State, clock};
    /// let b = Breaker::new(Config::new(clock::ticks(Duration::from_secs(30))).consecutive_failures(2));
    /// for _ in 0..2 {
    ///     let _ = b.call(|| Err::<(), _>("upstream down"));
    /// }
    /// assert_eq!(b.state(clock::now()), State::Open);
    /// ```
    #[inline(always)]
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        self.call_classified(f, |r| Outcome::from_success(r.is_ok()))
    }

    /// Like [`call`](Self::call), with `classify` deciding which results
    /// count (return [`Outcome::Ignored`] for client errors).
    ///
    /// ```
    /// use tripbit::{Breaker, Config, Outcome};
    /// let b = Breaker::new(Config::new(1_000_000).consecutive_failures(1));
    /// let r = b.call_classified(|| Err::<(), u16>(404), |r| match r {
    ///     Err(404) => Outcome::Ignored,
    ///     Err(_) => Outcome::Failure,
    ///     Ok(_) => Outcome::Success,
    /// });
    /// assert!(r.is_err());
    /// assert_eq!(b.snapshot(0).consecutive_failures, 0);
    /// ```
    // Always inline: a wrapper around out-of-line slow paths. Out of line
    // (rustc's choice with a plain `#[inline]` or none), its result went
    // through memory and a rejected `call()` in `benches/` took 7.5 ns
    // instead of 5.5.
    #[inline(always)]
    pub fn call_classified<T, E>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
        classify: impl FnOnce(&Result<T, E>) -> Outcome,
    ) -> Result<T, CallError<E>> {
        // The clock is read only when the breaker needs a tick: never for a
        // success of the consecutive policy on a clean closed breaker, and
        // only coarsely for a rejection while the open period runs.
        let permit = self
            .try_acquire_coarse(clock::coarse, clock::now)
            .map_err(CallError::Rejected)?;
        let result = f();
        permit.record_with(classify(&result), clock::now);
        result.map_err(CallError::Failed)
    }

    /// Awaits `fut` if the breaker admits it. Dropping the returned future
    /// before it finishes (cancellation) counts nothing and releases a
    /// half-open slot.
    ///
    /// ```
    /// use tripbit::{Breaker, Config};
    /// let b = Breaker::new(Config::new(1_000_000));
    /// let fut = b.call_async(async { Ok::<u8, ()>(7) });
    /// // any executor; here a minimal poll loop
    /// let v = std::thread::scope(|_| {
    ///     let waker = std::task::Waker::noop();
    ///     let mut cx = std::task::Context::from_waker(&waker);
    ///     let mut fut = std::pin::pin!(fut);
    ///     loop {
    ///         if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) { break v; }
    ///     }
    /// });
    /// assert_eq!(v, Ok(7));
    /// ```
    pub async fn call_async<T, E, F>(&self, fut: F) -> Result<T, CallError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let permit = self
            .try_acquire_coarse(clock::coarse, clock::now)
            .map_err(CallError::Rejected)?;
        let result = fut.await;
        permit.record_with(Outcome::from_success(result.is_ok()), clock::now);
        result.map_err(CallError::Failed)
    }
}

#[cfg(all(
    test,
    target_os = "linux",
    target_env = "gnu",
    target_arch = "x86_64",
    not(miri)
))]
#[allow(unsafe_code)]
mod tests {
    use super::clock;

    fn libc_read(id: libc::clockid_t) -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid, writable timespec.
        assert_eq!(unsafe { libc::clock_gettime(id, &mut ts) }, 0);
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// Where the kernel mapped a vDSO (not under valgrind, which hides
    /// it), the clock calls the vDSO's entry, not glibc's wrapper, and it
    /// reads the same clocks as glibc does.
    #[test]
    fn reads_through_the_vdso_when_there_is_one() {
        // SAFETY: getauxval has no preconditions.
        let mapped = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } != 0;
        let entry = clock::vdso::lookup();
        assert_eq!(entry.is_some(), mapped, "vDSO mapped: {mapped}");
        if let Some(f) = entry {
            assert_ne!(f as usize, libc::clock_gettime as *const () as usize);
        }
        for id in [libc::CLOCK_MONOTONIC, libc::CLOCK_MONOTONIC_COARSE] {
            let before = libc_read(id);
            let ours = if id == libc::CLOCK_MONOTONIC {
                clock::now()
            } else {
                clock::coarse().lo
            };
            let after = libc_read(id);
            assert!(
                before <= ours && ours <= after,
                "clock {id}: {before} {ours} {after}"
            );
        }
    }
}
