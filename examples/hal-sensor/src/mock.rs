//! A simulated TMP102 on a simulated I2C bus.
//!
//! It answers the temperature read (`write [0x00]`, `read 2 bytes`) at
//! address 0x48 with 25.0 °C plus one sixteenth per transaction it has seen,
//! except that the transactions numbered `fail_from..fail_until` (0-based,
//! counting only transactions that reach the bus) fail with
//! `ErrorKind::Bus`: the sensor browns out for a stretch, then recovers.
//!
//! What it saw is kept in a [`BusLog`] the firmware can inspect while the
//! mock itself is owned by the driver.

use core::ops::Range;
use core::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use embedded_hal::i2c::{
    ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation, SevenBitAddress,
};
use tripbit::{Breaker, State};

use crate::tmp102::{Celsius, DEFAULT_ADDRESS, TEMPERATURE_REGISTER};

/// The temperature of the first reading: 25.0 °C.
pub const BASE_SIXTEENTHS: i16 = 25 * 16;

/// What the mock bus saw; shared (read-only) with the firmware.
pub struct BusLog {
    /// Transactions that reached the bus.
    seen: AtomicU32,
    /// The breaker's stored state while the last transaction ran, as the
    /// `State` tag (`u8::MAX` before any).
    state_during_last: AtomicU8,
    /// Half-open probes in flight while the last transaction ran.
    probes_during_last: AtomicU32,
}

impl BusLog {
    /// An empty log.
    pub const fn new() -> BusLog {
        BusLog {
            seen: AtomicU32::new(0),
            state_during_last: AtomicU8::new(u8::MAX),
            probes_during_last: AtomicU32::new(0),
        }
    }

    /// Transactions that reached the bus so far.
    pub fn seen(&self) -> u32 {
        self.seen.load(Ordering::Relaxed)
    }

    /// The breaker's stored state while the last transaction ran.
    pub fn state_during_last(&self) -> Option<State> {
        State::from_tag(self.state_during_last.load(Ordering::Relaxed))
    }

    /// Half-open probes in flight while the last transaction ran.
    pub fn probes_during_last(&self) -> u32 {
        self.probes_during_last.load(Ordering::Relaxed)
    }

    /// The reading the mock returns for transaction number `n`.
    pub fn reading(n: u32) -> Celsius {
        Celsius {
            sixteenths: BASE_SIXTEENTHS + n as i16,
        }
    }
}

/// The simulated sensor.
pub struct MockTmp102 {
    log: &'static BusLog,
    fail: Range<u32>,
    /// Watched (never used to decide anything) so the log can say which
    /// state the breaker was in while a transaction ran: a probe runs in
    /// `HalfOpen`, with one probe in flight.
    breaker: &'static Breaker,
    /// Reads the time without advancing it.
    clock: fn() -> u64,
}

impl MockTmp102 {
    /// A sensor that fails the transactions numbered `fail` (0-based).
    pub fn new(
        log: &'static BusLog,
        fail: Range<u32>,
        breaker: &'static Breaker,
        clock: fn() -> u64,
    ) -> Self {
        MockTmp102 {
            log,
            fail,
            breaker,
            clock,
        }
    }
}

impl ErrorType for MockTmp102 {
    type Error = ErrorKind;
}

impl I2c<SevenBitAddress> for MockTmp102 {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        let n = self.log.seen.fetch_add(1, Ordering::Relaxed);
        let snap = self.breaker.snapshot((self.clock)());
        let log = self.log;
        log.state_during_last
            .store(snap.stored_state as u8, Ordering::Relaxed);
        log.probes_during_last
            .store(snap.probes_in_flight, Ordering::Relaxed);

        if address != DEFAULT_ADDRESS {
            return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
        }
        if self.fail.contains(&n) {
            return Err(ErrorKind::Bus);
        }
        match operations {
            [Operation::Write(pointer), Operation::Read(buf)]
                if *pointer == [TEMPERATURE_REGISTER] && buf.len() == 2 =>
            {
                buf.copy_from_slice(&BusLog::reading(n).to_register());
                Ok(())
            }
            // Anything else is a protocol error in the driver.
            _ => Err(ErrorKind::Other),
        }
    }
}
