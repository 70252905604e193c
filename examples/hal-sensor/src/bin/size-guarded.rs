//! Size probe: the same reads as `size-plain`, through
//! `tripbit::hal::Guarded` and a `static Breaker`. The difference between
//! the two binaries is what tripbit adds to a firmware (see `size-plain`).

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
use tripbit::hal::Guarded;
use tripbit::{Breaker, Config};

static BREAKER: Breaker = Breaker::new(Config::new(10).consecutive_failures(3));

#[entry]
fn main() -> ! {
    defmt::info!("size-guarded: start");
    probe::read_and_exit(tmp102::Tmp102::new(
        Guarded::new(probe::OpaqueBus(0), &BREAKER, clock::tick),
        tmp102::DEFAULT_ADDRESS,
    ))
}
