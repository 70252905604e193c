//! C API for [tripbit](../tripbit/index.html): statically allocatable,
//! lock-free circuit breakers behind a generated header, `include/tripbit.h`.
//!
//! The contract (results, out-params, ownership, threads, NULL, panics) is in
//! `README.md`, the header repeats it per function. Layout:
//! - `error.rs`: the stable `tripbit_result_t` table and its text;
//! - `panic.rs`: the panic boundary and the pointer checks;
//! - `types.rs`: config, ticket, transition, snapshot, state and outcome;
//! - `breaker.rs`: `tripbit_breaker_t` and its functions;
//! - `ratio.rs`: `tripbit_window<N>_t`, the ratio policy (`Breaker<Window<N, 1>>`)
//!   for N = 4, 8, 16, 32, and its functions;
//! - `ticks.rs`: `tripbit_tick32_t`, wrapping 32-bit HAL ticks extended to 64 bits;
//! - `region.rs` (Linux, `std`): `tripbit_region_t`, breakers shared by
//!   every process on the host through a region file (`tripbit-shm`).
#![cfg_attr(not(feature = "std"), no_std)]
#![allow(non_camel_case_types)]
#![warn(missing_docs)]

mod breaker;
mod error;
mod panic;
mod ratio;
#[cfg(all(feature = "std", target_os = "linux"))]
mod region;
mod ticks;
mod types;

pub use breaker::{
    TRIPBIT_BREAKER_ALIGN, TRIPBIT_BREAKER_SIZE, tripbit_breaker_t, tripbit_clock_t,
};
pub use error::{tripbit_config_field, tripbit_result_t, tripbit_strerror};
#[cfg(all(feature = "std", target_os = "linux"))]
pub use region::{
    TRIPBIT_REGION_NAME_MAX, tripbit_region_breaker, tripbit_region_close, tripbit_region_now,
    tripbit_region_open, tripbit_region_remove, tripbit_region_result_t, tripbit_region_strerror,
    tripbit_region_t,
};
// Every `tripbit_window<N>_*` function and type (28 functions: one set
// per storage size).
pub use ratio::*;
pub use ticks::{tripbit_tick_extend32, tripbit_tick32_t};
pub use types::{
    tripbit_config_check, tripbit_config_default, tripbit_config_t, tripbit_outcome_t,
    tripbit_snapshot_t, tripbit_state_name, tripbit_state_t, tripbit_ticket_t,
    tripbit_transition_t,
};

/// Major version of the header and library (`TRIPBIT_VERSION_MAJOR`). From
/// 1.0 on, an incompatible ABI change bumps it.
pub const TRIPBIT_VERSION_MAJOR: u32 = 0;
/// Minor version. While the major is 0 a minor may change the ABI (0.2
/// passes tickets by pointer; see the CHANGELOG); from 1.0 on, additions
/// only.
pub const TRIPBIT_VERSION_MINOR: u32 = 2;
/// Patch version: never changes the ABI.
pub const TRIPBIT_VERSION_PATCH: u32 = 0;

/// Whether the library linked at run time can serve a caller compiled
/// against header version `major.minor`: the same major and, while the
/// major is 0, the same minor (each 0.x is its own ABI); from 1.0 on, a
/// minor at least the caller's. Call it once at start-up:
/// `tripbit_version_check(TRIPBIT_VERSION_MAJOR, TRIPBIT_VERSION_MINOR)`.
/// Cannot fail. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_version_check(major: u32, minor: u32) -> bool {
    panic::boundary(false, || {
        major == TRIPBIT_VERSION_MAJOR
            && if major == 0 {
                minor == TRIPBIT_VERSION_MINOR
            } else {
                minor <= TRIPBIT_VERSION_MINOR
            }
    })
}

/// Width of the library's state word: 64, or 32 on cores without 64-bit
/// atomics (Cortex-M0/M3/M4/M7, RV32), where the config ranges are
/// narrower (`TRIPBIT_MAX_PROBES` and the other `TRIPBIT_MAX_` macros).
/// The header picks its own `TRIPBIT_WORD32` from the compiler's target
/// macros; check once that the two agree:
/// `tripbit_word_bits() == (TRIPBIT_WORD32 ? 32 : 64)`. Cannot fail.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_word_bits() -> u32 {
    tripbit::WORD_BITS
}

/// The library version ("0.2.0"), NUL-terminated, static. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_version() -> *const core::ffi::c_char {
    const VERSION: &core::ffi::CStr = match core::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(s) => s,
        Err(_) => panic!("version contains NUL"),
    };
    panic::boundary(VERSION.as_ptr(), || VERSION.as_ptr())
}

/// Test only (feature `panic-test`, left out of the header): panics inside
/// the boundary, so the C tests can check it returns `TRIPBIT_E_PANIC`.
#[cfg(feature = "panic-test")]
#[unsafe(no_mangle)]
pub extern "C" fn tripbit_test_panic() -> tripbit_result_t {
    panic::boundary(tripbit_result_t::TRIPBIT_E_PANIC, || {
        panic!("tripbit_test_panic: deliberate panic to test the boundary")
    })
}

/// Bare metal without `std`: there is no unwinding to catch (the firmware
/// profile aborts), so a panic traps: `udf` on Arm raises a HardFault the
/// firmware can report; elsewhere it spins. tripbit's core never panics on
/// caller input, so this is reached only through a tripbit bug.
#[cfg(all(not(feature = "std"), target_os = "none", not(test)))]
#[panic_handler]
fn panic_handler(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        #[cfg(target_arch = "arm")]
        // SAFETY: `udf` takes no operands and touches no memory; it raises an
        // undefined-instruction fault (HardFault on Cortex-M).
        unsafe {
            core::arch::asm!("udf #0xfe", options(nomem, nostack));
        }
        core::hint::spin_loop();
    }
}

#[cfg(test)]
mod version_tests {
    use super::*;

    #[test]
    fn the_version_macros_are_the_crate_version() {
        let v = format!("{TRIPBIT_VERSION_MAJOR}.{TRIPBIT_VERSION_MINOR}.{TRIPBIT_VERSION_PATCH}");
        assert_eq!(v, env!("CARGO_PKG_VERSION"));
        // 0.x: only the same minor (another 0.x is another ABI).
        assert!(tripbit_version_check(0, TRIPBIT_VERSION_MINOR));
        assert!(!tripbit_version_check(0, TRIPBIT_VERSION_MINOR - 1));
        assert!(!tripbit_version_check(0, TRIPBIT_VERSION_MINOR + 1));
        assert!(!tripbit_version_check(1, 0) && !tripbit_version_check(1, TRIPBIT_VERSION_MINOR));
    }
}
