//! tripbit guarding an I2C temperature sensor, as Cortex-M3 firmware.
//!
//! A TMP102 driver written against `embedded_hal::i2c::I2c` reads a
//! simulated sensor through `tripbit::hal::Guarded`. The sensor fails for a
//! stretch of transactions, then recovers; the firmware checks every step of
//! the breaker's life (closed, tripped, failing fast, probing, closed again),
//! prints each check over semihosting, and exits through semihosting with
//! success only if all of them passed. Run it with `./run-qemu.sh`.

#![no_std]
#![no_main]

mod clock;
mod defmt_log;
mod mock;
mod tmp102;

use core::fmt;
use core::ops::Range;

use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use embedded_hal::i2c::{Error as _, ErrorKind};
use tripbit::hal::{Guarded, GuardedError};
use tripbit::{Breaker, Config, Rejected, State, Transition};

use crate::mock::{BusLog, MockTmp102};
use crate::tmp102::{Celsius, DEFAULT_ADDRESS, Tmp102};

/// Ticks the breaker stays open after tripping.
const OPEN_TICKS: u64 = 100;
/// Failures in a row that trip it.
const FAILURES_TO_TRIP: u32 = 3;

/// The breaker guarding the sensor's bus: a `static`, so the rest of the
/// firmware (a status LED, a telemetry task) could watch it too.
static BREAKER: Breaker =
    Breaker::new(Config::new(OPEN_TICKS).consecutive_failures(FAILURES_TO_TRIP));

/// What reached the mock bus.
static BUS_LOG: BusLog = BusLog::new();

/// The transactions (0-based, counting those that reach the bus) the sensor
/// fails: three trip the breaker, the fourth fails the first probe.
const FAILING: Range<u32> = 3..7;

/// The driver as the firmware holds it: a TMP102 on a guarded bus.
type Sensor = Tmp102<Guarded<'static, MockTmp102, fn() -> u64>>;
/// What the driver returns.
type Reading = Result<Celsius, GuardedError<ErrorKind>>;

/// Counts checks and prints each one.
struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    /// Records one check; returns whether it held.
    fn check(&mut self, ok: bool, line: u32, what: fmt::Arguments<'_>) -> bool {
        if ok {
            self.passed += 1;
            hprintln!("  ok   {}", what);
        } else {
            self.failed += 1;
            hprintln!("  FAIL {} (src/main.rs:{})", what, line);
        }
        ok
    }
}

/// `check!(c, condition, "what, formatted")`.
macro_rules! check {
    ($c:expr, $cond:expr, $($what:tt)+) => {
        $c.check($cond, line!(), format_args!($($what)+))
    };
}

/// `check_eq!(c, got, expected, "what")`: on failure also prints both.
macro_rules! check_eq {
    ($c:expr, $got:expr, $expected:expr, $($what:tt)+) => {{
        let (got, expected) = (&$got, &$expected);
        if !check!($c, got == expected, $($what)+) {
            hprintln!("       got {:?}, expected {:?}", got, expected);
        }
    }};
}

/// One read, with what it changed: the transition it caused (taken from the
/// wrapper), the transactions that reached the bus, and the defmt frames
/// tripbit logged meanwhile.
struct Step {
    reading: Reading,
    transition: Option<Transition>,
    bus_transactions: u32,
    defmt_frames: u32,
}

fn read(sensor: &mut Sensor) -> Step {
    let (seen, frames) = (BUS_LOG.seen(), defmt_log::frames());
    let reading = sensor.read_celsius();
    Step {
        reading,
        transition: sensor.bus_mut().take_transition(),
        bus_transactions: BUS_LOG.seen() - seen,
        defmt_frames: defmt_log::frames() - frames,
    }
}

fn from_to(t: Option<Transition>) -> Option<(State, State)> {
    t.map(|t| (t.from, t.to))
}

/// The error of a read rejected by the open breaker until `retry_at`.
fn open_until(retry_at: u64) -> Reading {
    Err(GuardedError::Open(Rejected {
        state: State::Open,
        retry_at: Some(retry_at),
    }))
}

/// A device failure, as the driver sees it through the guard.
const BUS_ERROR: Reading = Err(GuardedError::Device(ErrorKind::Bus));

#[entry]
fn main() -> ! {
    hprintln!(
        "hal-sensor: TMP102 at {:#04x} behind tripbit (trip after {} failures, open {} ticks); sensor fails transactions {}..{}",
        DEFAULT_ADDRESS,
        FAILURES_TO_TRIP,
        OPEN_TICKS,
        FAILING.start,
        FAILING.end
    );
    defmt::info!("hal-sensor: start");
    let c = &mut Checks {
        passed: 0,
        failed: 0,
    };
    let bus = MockTmp102::new(&BUS_LOG, FAILING, &BREAKER, clock::now);
    let mut sensor: Sensor = Tmp102::new(Guarded::new(bus, &BREAKER, clock::tick), DEFAULT_ADDRESS);
    let mut transitions: [Option<Transition>; 3] = [None; 3];

    hprintln!("[1] closed, sensor healthy: reads go through");
    for n in 0..FAILING.start {
        let s = read(&mut sensor);
        check_eq!(
            c,
            s.reading,
            Ok(BusLog::reading(n)),
            "read {}: {}",
            n,
            BusLog::reading(n)
        );
        check!(
            c,
            s.bus_transactions == 1 && s.transition.is_none() && s.defmt_frames == 0,
            "read {}: one bus transaction, no transition, nothing logged",
            n
        );
    }
    check_eq!(
        c,
        BREAKER.state(clock::now()),
        State::Closed,
        "breaker closed"
    );

    hprintln!(
        "[2] sensor fails: {} failures in a row trip the breaker",
        FAILURES_TO_TRIP
    );
    for i in 1..FAILURES_TO_TRIP {
        let s = read(&mut sensor);
        check_eq!(
            c,
            s.reading,
            BUS_ERROR,
            "failure {}: the device error comes through",
            i
        );
        check!(
            c,
            s.bus_transactions == 1 && s.transition.is_none() && s.defmt_frames == 0,
            "failure {}: reached the bus, still closed, nothing logged",
            i
        );
    }
    check_eq!(
        c,
        BREAKER.snapshot(clock::now()).consecutive_failures,
        2,
        "two failures counted"
    );
    let s = read(&mut sensor);
    let tripped_at = clock::now();
    check_eq!(
        c,
        s.reading,
        BUS_ERROR,
        "failure {}: the device error comes through",
        FAILURES_TO_TRIP
    );
    check_eq!(
        c,
        from_to(s.transition),
        Some((State::Closed, State::Open)),
        "take_transition(): Closed -> Open"
    );
    check_eq!(
        c,
        s.defmt_frames,
        1,
        "tripbit logged the trip (one defmt frame)"
    );
    check_eq!(c, BREAKER.state(clock::now()), State::Open, "breaker open");
    check_eq!(
        c,
        sensor.bus().last_transition(),
        None,
        "the transition was taken once"
    );
    transitions[0] = s.transition;

    let retry_at = tripped_at + OPEN_TICKS;
    hprintln!(
        "[3] open: reads fail fast until tick {}, the bus untouched",
        retry_at
    );
    for i in 0..5 {
        let s = read(&mut sensor);
        check_eq!(
            c,
            s.reading,
            open_until(retry_at),
            "read {} while open: rejected, retry at {}",
            i,
            retry_at
        );
        check!(
            c,
            s.bus_transactions == 0 && s.transition.is_none(),
            "read {} while open: no bus transaction",
            i
        );
    }
    check_eq!(
        c,
        sensor.read_celsius().map_err(|e| e.kind()),
        Err(ErrorKind::Other),
        "as an embedded-hal error, a rejection is ErrorKind::Other"
    );
    clock::advance_to(retry_at - 2); // the next read happens at retry_at - 1
    let s = read(&mut sensor);
    check_eq!(
        c,
        s.reading,
        open_until(retry_at),
        "read at tick {}: still rejected",
        retry_at - 1
    );
    check_eq!(c, s.bus_transactions, 0, "...and the bus untouched");

    hprintln!("[4] open period over: one probe, the sensor still fails, the breaker reopens");
    let s = read(&mut sensor); // at retry_at
    let reopened_at = clock::now();
    check_eq!(
        c,
        s.reading,
        BUS_ERROR,
        "probe at tick {} reaches the sensor and fails",
        retry_at
    );
    check_eq!(
        c,
        s.bus_transactions,
        1,
        "the probe was one bus transaction"
    );
    check_eq!(
        c,
        BUS_LOG.state_during_last(),
        Some(State::HalfOpen),
        "the probe ran half-open"
    );
    check_eq!(c, BUS_LOG.probes_during_last(), 1, "one probe in flight");
    check_eq!(
        c,
        from_to(s.transition),
        Some((State::HalfOpen, State::Open)),
        "take_transition(): HalfOpen -> Open"
    );
    check_eq!(
        c,
        s.defmt_frames,
        2,
        "tripbit logged Open -> HalfOpen and HalfOpen -> Open"
    );
    check_eq!(
        c,
        BREAKER.state(clock::now()),
        State::Open,
        "breaker open again"
    );
    transitions[1] = s.transition;
    let retry_at = reopened_at + OPEN_TICKS;
    let s = read(&mut sensor);
    check_eq!(
        c,
        s.reading,
        open_until(retry_at),
        "fails fast again, until tick {}",
        retry_at
    );
    check_eq!(c, s.bus_transactions, 0, "...and the bus untouched");

    hprintln!("[5] sensor recovered: the next probe succeeds and closes the breaker");
    clock::advance_to(retry_at - 1);
    let n = BUS_LOG.seen();
    let s = read(&mut sensor);
    check_eq!(
        c,
        s.reading,
        Ok(BusLog::reading(n)),
        "probe at tick {}: {}",
        retry_at,
        BusLog::reading(n)
    );
    check_eq!(
        c,
        BUS_LOG.state_during_last(),
        Some(State::HalfOpen),
        "the probe ran half-open"
    );
    check_eq!(
        c,
        from_to(s.transition),
        Some((State::HalfOpen, State::Closed)),
        "take_transition(): HalfOpen -> Closed"
    );
    check_eq!(
        c,
        s.defmt_frames,
        2,
        "tripbit logged Open -> HalfOpen and HalfOpen -> Closed"
    );
    check_eq!(
        c,
        BREAKER.state(clock::now()),
        State::Closed,
        "breaker closed"
    );
    transitions[2] = s.transition;

    hprintln!("[6] closed again: reads go through");
    for _ in 0..3 {
        let n = BUS_LOG.seen();
        let s = read(&mut sensor);
        check_eq!(
            c,
            s.reading,
            Ok(BusLog::reading(n)),
            "read {}: {}",
            n,
            BusLog::reading(n)
        );
        check!(
            c,
            s.bus_transactions == 1 && s.transition.is_none(),
            "read {}: no transition",
            n
        );
    }

    hprintln!("[7] totals");
    let generations = transitions.map(|t| t.map_or(0, |t| t.generation));
    check!(
        c,
        generations[0] < generations[1] && generations[1] < generations[2],
        "generations grow with every transition: {:?}",
        generations
    );
    check!(
        c,
        transitions.iter().all(|t| t.is_some_and(|t| t.level == 0)),
        "no backoff configured: level 0 throughout"
    );
    check_eq!(
        c,
        BUS_LOG.seen(),
        11,
        "the sensor saw 11 transactions (3 ok, 3 failed, 2 probes, 3 ok)"
    );
    check_eq!(
        c,
        defmt_log::frames(),
        1 + 5,
        "defmt frames: the start line and 5 transitions"
    );

    let (passed, failed) = (c.passed, c.failed);
    defmt::info!(
        "hal-sensor: {=u32} checks passed, {=u32} failed",
        passed,
        failed
    );
    hprintln!(
        "defmt: {} frames, {} bytes{}",
        defmt_log::frames(),
        defmt_log::bytes(),
        if defmt_log::to_file() {
            " written to target/hal-sensor.defmt"
        } else {
            " (host file unavailable: dropped)"
        }
    );
    hprintln!("checks: {} passed, {} failed", passed, failed);
    if failed == 0 {
        hprintln!("PASS");
        exit(true)
    } else {
        hprintln!("FAIL: {} of {} checks failed", failed, passed + failed);
        exit(false)
    }
}

/// Ends the QEMU run with the given verdict as its exit code.
fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a semihosting host (real hardware): park.
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("FAIL: panic: {}", info);
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("FAIL: hard fault at pc {:#010x}", frame.pc());
    exit(false)
}
