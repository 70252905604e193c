//! `embedded-hal` 1.0 adapters: an I2C bus or SPI device guarded by a breaker.
//!
//! [`Guarded`] wraps a device and implements the same trait it does
//! ([`I2c`](embedded_hal::i2c::I2c) or [`SpiDevice`](embedded_hal::spi::SpiDevice)),
//! so a driver written against the trait needs no change. Every transaction
//! asks the breaker first: while it is open the transaction fails at once
//! with [`GuardedError::Open`] and the bus is not touched; otherwise the
//! transaction runs and its result is recorded (`Ok` as a success, `Err` as
//! a failure, timed on the clock you pass so slow-call policies work).
//!
//! The clock is any `FnMut() -> u64` returning monotonic ticks (a SysTick
//! counter, `embassy_time::Instant::now().as_ticks()`, a DWT cycle count...),
//! in the same unit as the breaker's `Config`.
//!
//! ```
//! use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, Operation, SevenBitAddress};
//! use tripbit::hal::{Guarded, GuardedError};
//! use tripbit::{Breaker, Config, State};
//!
//! // A sensor that stopped answering.
//! struct DeadBus;
//! impl ErrorType for DeadBus { type Error = ErrorKind; }
//! impl I2c<SevenBitAddress> for DeadBus {
//!     fn transaction(&mut self, _: u8, _: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
//!         Err(ErrorKind::Bus)
//!     }
//! }
//!
//! static BREAKER: Breaker = Breaker::new(Config::new(1_000).consecutive_failures(2));
//! let mut tick = 0;
//! let mut sensor = Guarded::new(DeadBus, &BREAKER, || { tick += 1; tick });
//! let mut buf = [0u8; 2];
//! assert!(matches!(sensor.read(0x48, &mut buf), Err(GuardedError::Device(ErrorKind::Bus))));
//! assert!(matches!(sensor.read(0x48, &mut buf), Err(GuardedError::Device(ErrorKind::Bus))));
//! // Tripped: the third read fails fast without touching the bus.
//! assert!(matches!(sensor.read(0x48, &mut buf), Err(GuardedError::Open(_))));
//! assert_eq!(BREAKER.state(10), State::Open);
//! ```

use embedded_hal::{i2c, spi};

use crate::breaker::Breaker;
use crate::policy::{Consecutive, Policy};
use crate::types::{Outcome, Rejected, Transition};

/// The error of a guarded device: the breaker rejected the transaction, or
/// the device itself failed.
///
/// As an `embedded-hal` error, [`Open`](GuardedError::Open) reports
/// `ErrorKind::Other` (the HAL has no "circuit open" kind); match on the
/// variant to tell it apart.
///
/// ```
/// use embedded_hal::i2c::{Error, ErrorKind};
/// use tripbit::hal::GuardedError;
/// use tripbit::{Rejected, State};
/// let open: GuardedError<ErrorKind> = GuardedError::Open(Rejected { state: State::Open, retry_at: Some(9) });
/// assert_eq!(open.kind(), ErrorKind::Other);
/// assert_eq!(GuardedError::Device(ErrorKind::Bus).kind(), ErrorKind::Bus);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GuardedError<E> {
    /// The breaker is open (or its probe slots are taken): fail fast.
    Open(Rejected),
    /// The device's own error; it was counted as a failure.
    Device(E),
}

impl<E: core::fmt::Debug> core::fmt::Display for GuardedError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GuardedError::Open(r) => r.fmt(f),
            GuardedError::Device(e) => write!(f, "device error: {e:?}"),
        }
    }
}

#[cfg(feature = "std")]
impl<E: core::fmt::Debug> std::error::Error for GuardedError<E> {}

impl<E: i2c::Error> i2c::Error for GuardedError<E> {
    fn kind(&self) -> i2c::ErrorKind {
        match self {
            GuardedError::Open(_) => i2c::ErrorKind::Other,
            GuardedError::Device(e) => e.kind(),
        }
    }
}

impl<E: spi::Error> spi::Error for GuardedError<E> {
    fn kind(&self) -> spi::ErrorKind {
        match self {
            GuardedError::Open(_) => spi::ErrorKind::Other,
            GuardedError::Device(e) => e.kind(),
        }
    }
}

/// A device guarded by a breaker; implements the device's own trait.
///
/// The breaker is borrowed, so it can be a `static` shared by several
/// devices on one peer, or by a device and the rest of the firmware.
///
/// ```
/// use tripbit::hal::Guarded;
/// use tripbit::{Breaker, Config};
/// static B: Breaker = Breaker::new(Config::new(100));
/// let g = Guarded::new((), &B, || 0);
/// assert!(g.last_transition().is_none());
/// let ((), _) = g.release();
/// ```
pub struct Guarded<'b, D, C, P: Policy = Consecutive> {
    device: D,
    breaker: &'b Breaker<P>,
    clock: C,
    last: Option<Transition>,
}

impl<D, C, P: Policy> core::fmt::Debug for Guarded<'_, D, C, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Guarded")
            .field("breaker", self.breaker)
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

impl<'b, D, C: FnMut() -> u64, P: Policy> Guarded<'b, D, C, P> {
    /// Wraps `device`; `clock` returns monotonic ticks in the breaker's unit.
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(100));
    /// let _g = tripbit::hal::Guarded::new((), &B, || 0);
    /// ```
    pub fn new(device: D, breaker: &'b Breaker<P>, clock: C) -> Self {
        Guarded {
            device,
            breaker,
            clock,
            last: None,
        }
    }

    /// The breaker guarding this device.
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(100));
    /// let g = tripbit::hal::Guarded::new((), &B, || 0);
    /// assert_eq!(g.breaker().state(0), tripbit::State::Closed);
    /// ```
    pub fn breaker(&self) -> &'b Breaker<P> {
        self.breaker
    }

    /// The last transition a transaction through this wrapper caused (the
    /// breaker returns transitions as values; this keeps the latest so a
    /// driver loop can report it). Taken by [`take_transition`](Self::take_transition).
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(100));
    /// let g = tripbit::hal::Guarded::new((), &B, || 0);
    /// assert_eq!(g.last_transition(), None);
    /// ```
    pub fn last_transition(&self) -> Option<Transition> {
        self.last
    }

    /// Returns and clears the last transition.
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(100));
    /// let mut g = tripbit::hal::Guarded::new((), &B, || 0);
    /// assert_eq!(g.take_transition(), None);
    /// ```
    pub fn take_transition(&mut self) -> Option<Transition> {
        self.last.take()
    }

    /// Gives the device and the clock back.
    ///
    /// ```
    /// static B: tripbit::Breaker = tripbit::Breaker::new(tripbit::Config::new(100));
    /// let g = tripbit::hal::Guarded::new(7u8, &B, || 0);
    /// assert_eq!(g.release().0, 7);
    /// ```
    pub fn release(self) -> (D, C) {
        (self.device, self.clock)
    }

    /// Runs `op` on the device if the breaker admits it, and records the result.
    fn guard<T, E>(
        &mut self,
        op: impl FnOnce(&mut D) -> Result<T, E>,
    ) -> Result<T, GuardedError<E>> {
        let permit = self
            .breaker
            .try_acquire((self.clock)())
            .map_err(GuardedError::Open)?;
        if let Some(t) = permit.transition() {
            self.last = Some(t);
        }
        let result = op(&mut self.device);
        let outcome = Outcome::from_success(result.is_ok());
        if let Some(t) = permit.record(outcome, (self.clock)()) {
            self.last = Some(t);
        }
        result.map_err(GuardedError::Device)
    }
}

impl<D: i2c::ErrorType, C, P: Policy> i2c::ErrorType for Guarded<'_, D, C, P> {
    type Error = GuardedError<D::Error>;
}

impl<A: i2c::AddressMode, D: i2c::I2c<A>, C: FnMut() -> u64, P: Policy> i2c::I2c<A>
    for Guarded<'_, D, C, P>
{
    fn transaction(
        &mut self,
        address: A,
        operations: &mut [i2c::Operation<'_>],
    ) -> Result<(), Self::Error> {
        self.guard(|d| d.transaction(address, operations))
    }
}

impl<D: spi::ErrorType, C, P: Policy> spi::ErrorType for Guarded<'_, D, C, P> {
    type Error = GuardedError<D::Error>;
}

impl<W: Copy + 'static, D: spi::SpiDevice<W>, C: FnMut() -> u64, P: Policy> spi::SpiDevice<W>
    for Guarded<'_, D, C, P>
{
    fn transaction(&mut self, operations: &mut [spi::Operation<'_, W>]) -> Result<(), Self::Error> {
        self.guard(|d| d.transaction(operations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, State};
    use embedded_hal::spi::{ErrorKind, ErrorType, Operation, SpiDevice};

    /// An SPI device that fails while `down` and counts the transactions it saw.
    struct Flaky {
        down: bool,
        seen: u32,
    }
    impl ErrorType for Flaky {
        type Error = ErrorKind;
    }
    impl SpiDevice<u8> for Flaky {
        fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), ErrorKind> {
            self.seen += 1;
            if self.down {
                return Err(ErrorKind::ModeFault);
            }
            for op in ops {
                if let Operation::Read(buf) = op {
                    buf.fill(0xA5);
                }
            }
            Ok(())
        }
    }

    #[test]
    fn spi_trips_fails_fast_and_recovers() {
        let breaker = Breaker::new(Config::new(100).consecutive_failures(2));
        let mut now = 0u64;
        let mut dev = Guarded::new(
            Flaky {
                down: true,
                seen: 0,
            },
            &breaker,
            || {
                now += 1;
                now
            },
        );
        let mut buf = [0u8; 2];
        for _ in 0..2 {
            assert_eq!(
                dev.read(&mut buf),
                Err(GuardedError::Device(ErrorKind::ModeFault))
            );
        }
        let t = dev.take_transition().expect("tripped");
        assert_eq!((t.from, t.to), (State::Closed, State::Open));
        // Fails fast: the device sees nothing.
        assert!(matches!(dev.read(&mut buf), Err(GuardedError::Open(r)) if r.state == State::Open));
        let (mut flaky, _clock) = dev.release();
        assert_eq!(flaky.seen, 2);
        flaky.down = false;
        // Past the open period (ticks 200+): one probe closes it.
        let mut later = 200u64;
        let mut dev = Guarded::new(flaky, &breaker, || {
            later += 1;
            later
        });
        assert_eq!(dev.read(&mut buf), Ok(()));
        assert_eq!(buf, [0xA5, 0xA5]);
        let t = dev.take_transition().expect("closed");
        assert_eq!((t.from, t.to), (State::HalfOpen, State::Closed));
        assert_eq!(breaker.state(later), State::Closed);
    }
}
