//! Size baseline: the TMP102 driver reading a bus directly, without tripbit.
//!
//! Together with `size-guarded` (the same reads through
//! `tripbit::hal::Guarded`) it measures what the breaker adds to a firmware;
//! `run-qemu.sh` prints the difference. Both share the runtime, the defmt
//! logger, the driver and `probe.rs`, and log one line, so the difference is
//! tripbit's code: the guard, the breaker's paths, its 64-bit atomic words
//! and the transition logging.

#![no_std]
#![no_main]

// The firmware's own modules, of which these binaries use a part.
#[allow(dead_code)]
#[path = "../clock.rs"]
mod clock;
#[allow(dead_code)]
#[path = "../defmt_log.rs"]
mod defmt_log;
#[path = "../probe.rs"]
mod probe;
#[allow(dead_code)]
#[path = "../tmp102.rs"]
mod tmp102;

use cortex_m_rt::entry;

#[entry]
fn main() -> ! {
    defmt::info!("size-plain: start");
    probe::read_and_exit(tmp102::Tmp102::new(
        probe::OpaqueBus(0),
        tmp102::DEFAULT_ADDRESS,
    ))
}
