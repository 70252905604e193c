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
#[allow(dead_code)]
#[path = "../tmp102.rs"]
mod tmp102;

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation};
use tripbit::hal::Guarded;
use tripbit::{Breaker, Config};

static BREAKER: Breaker = Breaker::new(Config::new(10).consecutive_failures(3));

/// A bus whose answers the optimizer cannot predict; it counts its
/// transactions and fails every fifth.
struct OpaqueBus(u32);

impl ErrorType for OpaqueBus {
    type Error = ErrorKind;
}

impl I2c for OpaqueBus {
    fn transaction(
        &mut self,
        _address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        self.0 += 1;
        if black_box(self.0) % 5 == 4 {
            return Err(ErrorKind::Bus);
        }
        for op in operations {
            if let Operation::Read(buf) = op {
                buf.fill(black_box(0x19));
            }
        }
        Ok(())
    }
}

#[entry]
fn main() -> ! {
    defmt::info!("size-guarded: start");
    let mut sensor = tmp102::Tmp102::new(
        Guarded::new(OpaqueBus(0), &BREAKER, clock::tick),
        tmp102::DEFAULT_ADDRESS,
    );
    let mut ok = 0u32;
    for _ in 0..black_box(16) {
        ok += u32::from(black_box(sensor.read_celsius()).is_ok());
    }
    debug::exit(if ok > 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
