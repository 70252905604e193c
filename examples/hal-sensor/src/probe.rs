//! What the two size probes (`size-plain`, `size-guarded`) share, so that
//! the only difference between the binaries is tripbit: a bus the optimizer
//! cannot predict, the read loop, the exit, and the panic handler.

use core::hint::black_box;

use cortex_m_semihosting::debug;
use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation};

use crate::tmp102::Tmp102;

/// A bus whose answers the optimizer cannot predict; it counts its
/// transactions and fails every fifth.
pub struct OpaqueBus(pub u32);

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

/// Reads the sensor 16 times and exits QEMU: success if any read worked.
pub fn read_and_exit<I: I2c>(mut sensor: Tmp102<I>) -> ! {
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
