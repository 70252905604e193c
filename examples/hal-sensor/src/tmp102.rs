//! A minimal TMP102 driver, generic over any `embedded_hal::i2c::I2c` bus.
//!
//! It knows nothing about breakers: handed a `tripbit::hal::Guarded` bus, its
//! errors are simply `GuardedError`s.

use core::fmt;

use embedded_hal::i2c::I2c;

/// The TMP102's default address (ADD0 tied to ground).
pub const DEFAULT_ADDRESS: u8 = 0x48;
/// Pointer register value selecting the temperature register.
pub const TEMPERATURE_REGISTER: u8 = 0x00;

/// A temperature in the TMP102's resolution: sixteenths of a degree Celsius.
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct Celsius {
    /// The 12-bit two's-complement reading, in units of 0.0625 °C.
    pub sixteenths: i16,
}

impl Celsius {
    /// Decodes the temperature register (big-endian, 12 bits left-aligned).
    pub fn from_register(bytes: [u8; 2]) -> Celsius {
        Celsius {
            sixteenths: i16::from_be_bytes(bytes) >> 4,
        }
    }

    /// Encodes a reading as the sensor sends it (what the mock uses).
    pub fn to_register(self) -> [u8; 2] {
        (self.sixteenths << 4).to_be_bytes()
    }
}

impl fmt::Display for Celsius {
    /// `25.0625 °C`, with integer arithmetic only (no float formatting code).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.sixteenths < 0 { "-" } else { "" };
        let abs = self.sixteenths.unsigned_abs();
        write!(f, "{sign}{}.{:04} °C", abs / 16, u32::from(abs % 16) * 625)
    }
}

/// A TMP102 on an I2C bus.
pub struct Tmp102<I> {
    i2c: I,
    address: u8,
}

impl<I: I2c> Tmp102<I> {
    /// A driver for the sensor at `address` on `i2c`.
    pub fn new(i2c: I, address: u8) -> Self {
        Tmp102 { i2c, address }
    }

    /// Reads the temperature: a write of the pointer register, then a
    /// two-byte read, in one transaction (repeated start).
    pub fn read_celsius(&mut self) -> Result<Celsius, I::Error> {
        let mut buf = [0u8; 2];
        self.i2c
            .write_read(self.address, &[TEMPERATURE_REGISTER], &mut buf)?;
        Ok(Celsius::from_register(buf))
    }

    /// The bus, for what the driver does not cover.
    pub fn bus(&self) -> &I {
        &self.i2c
    }

    /// The bus, mutably.
    pub fn bus_mut(&mut self) -> &mut I {
        &mut self.i2c
    }
}
