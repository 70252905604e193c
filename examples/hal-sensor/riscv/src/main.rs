//! tripbit on RV32, bare metal, under QEMU's `virt` board (`run-qemu.sh`).
//!
//! Built twice: for `riscv32imac-unknown-none-elf`, where the breaker's
//! state is 32-bit words updated with `lr.w`/`sc.w` (lock-free, no
//! interrupt masking), and for `riscv32imc-unknown-none-elf` (run on a CPU
//! with the A extension switched off), where each operation off the closed
//! path is one critical section. The same checks run on both:
//!
//! 1. the state machine: a trip, fail-fast rejections with their retry
//!    tick, the probe at the end of the period, a close, a stale ticket;
//! 2. critical sections per operation (this binary's `critical-section`
//!    implementation counts them): none for a closed success on either
//!    core, none for a rejection with the A extension and exactly one
//!    without it;
//! 3. the window policy (`Window<4, 1>`): a ratio trip;
//! 4. interrupt safety: the machine timer interrupt calls tripbit on the same
//!    breaker while the main loop is inside tripbit, until that has happened
//!    at least `MIN_NESTED` times; every transition is reported exactly once
//!    (the reports, from both contexts, add up to the breaker's generation).
//!
//! Output goes to the board's UART; the exit code to its `sifive_test`
//! device (0 only when every check passed).

#![no_std]
#![no_main]

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use tripbit::{Breaker, Config, Outcome, State, Window};

// Start-up: the stack, the trap vector, .bss, then `main`. The trap entry
// saves the caller-saved registers, calls `trap_handler` and returns with
// `mret`.
core::arch::global_asm!(
    r#"
    .section .text.start, "ax"
    .globl _start
_start:
    la sp, _stack_top
    la t0, trap_entry
    csrw mtvec, t0
    la t0, _bss_start
    la t1, _bss_end
1:  bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:  call main
3:  j 3b

    .section .text.trap, "ax"
    .balign 16
trap_entry:
    addi sp, sp, -64
    sw ra, 0(sp)
    sw t0, 4(sp)
    sw t1, 8(sp)
    sw t2, 12(sp)
    sw a0, 16(sp)
    sw a1, 20(sp)
    sw a2, 24(sp)
    sw a3, 28(sp)
    sw a4, 32(sp)
    sw a5, 36(sp)
    sw a6, 40(sp)
    sw a7, 44(sp)
    sw t3, 48(sp)
    sw t4, 52(sp)
    sw t5, 56(sp)
    sw t6, 60(sp)
    call trap_handler
    lw ra, 0(sp)
    lw t0, 4(sp)
    lw t1, 8(sp)
    lw t2, 12(sp)
    lw a0, 16(sp)
    lw a1, 20(sp)
    lw a2, 24(sp)
    lw a3, 28(sp)
    lw a4, 32(sp)
    lw a5, 36(sp)
    lw a6, 40(sp)
    lw a7, 44(sp)
    lw t3, 48(sp)
    lw t4, 52(sp)
    lw t5, 56(sp)
    lw t6, 60(sp)
    addi sp, sp, 64
    mret
"#
);

// ---- the board: UART, exit device, CLINT timer ----

const UART: *mut u8 = 0x1000_0000 as *mut u8;
const TEST_DEVICE: *mut u32 = 0x0010_0000 as *mut u32;
const MTIMECMP: *mut u32 = 0x0200_4000 as *mut u32;
const MTIME: *const u32 = 0x0200_bff8 as *const u32;

struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            // SAFETY: the virt board's 16550 transmit register; QEMU takes
            // every byte at once.
            unsafe { core::ptr::write_volatile(UART, b) };
        }
        Ok(())
    }
}

macro_rules! say {
    ($($arg:tt)*) => { let _ = writeln!(Uart, $($arg)*); };
}

fn exit(code: u32) -> ! {
    let v = if code == 0 {
        0x5555
    } else {
        (code << 16) | 0x3333
    };
    // SAFETY: the virt board's sifive_test device: the write ends QEMU.
    unsafe { core::ptr::write_volatile(TEST_DEVICE, v) };
    loop {
        // SAFETY: waits for an interrupt (none comes: QEMU has exited).
        unsafe { core::arch::asm!("wfi") };
    }
}

fn mtime() -> u64 {
    loop {
        // SAFETY: the CLINT's mtime register, read as two halves (RV32).
        let (hi, lo, hi2) = unsafe {
            (
                core::ptr::read_volatile(MTIME.add(1)),
                core::ptr::read_volatile(MTIME),
                core::ptr::read_volatile(MTIME.add(1)),
            )
        };
        if hi == hi2 {
            return (u64::from(hi) << 32) | u64::from(lo);
        }
    }
}

fn set_timer(at: u64) {
    // SAFETY: hart 0's mtimecmp, written high half first (all ones) so that
    // no intermediate value fires early.
    unsafe {
        core::ptr::write_volatile(MTIMECMP.add(1), u32::MAX);
        core::ptr::write_volatile(MTIMECMP, at as u32);
        core::ptr::write_volatile(MTIMECMP.add(1), (at >> 32) as u32);
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    say!("tripbit-rv32: PANIC {info}");
    exit(2)
}

// ---- the critical section: mstatus.MIE on this one hart, counted ----

/// Critical sections taken (written only inside one, so a load and a store).
static CS_TAKEN: AtomicU32 = AtomicU32::new(0);
static CS_DEPTH: AtomicU32 = AtomicU32::new(0);
static CS_MAX_DEPTH: AtomicU32 = AtomicU32::new(0);

struct SingleHart;
critical_section::set_impl!(SingleHart);

// SAFETY: one hart; clearing mstatus.MIE masks every interrupt, and the
// previous MIE is restored on release (so nested sections are fine).
unsafe impl critical_section::Impl for SingleHart {
    unsafe fn acquire() -> bool {
        let prev: usize;
        // SAFETY: machine mode; clears MIE and returns the old mstatus.
        unsafe { core::arch::asm!("csrrci {0}, mstatus, 8", out(reg) prev) };
        CS_TAKEN.store(CS_TAKEN.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let d = CS_DEPTH.load(Ordering::Relaxed) + 1;
        CS_DEPTH.store(d, Ordering::Relaxed);
        if d > CS_MAX_DEPTH.load(Ordering::Relaxed) {
            CS_MAX_DEPTH.store(d, Ordering::Relaxed);
        }
        prev & 8 != 0
    }

    unsafe fn release(was_enabled: bool) {
        CS_DEPTH.store(CS_DEPTH.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
        if was_enabled {
            // SAFETY: machine mode; sets MIE back.
            unsafe { core::arch::asm!("csrsi mstatus, 8") };
        }
    }
}

fn cs_taken() -> u32 {
    CS_TAKEN.load(Ordering::Relaxed)
}

// ---- checks ----

static CHECKS: AtomicU32 = AtomicU32::new(0);
static FAILED: AtomicU32 = AtomicU32::new(0);

macro_rules! check {
    ($cond:expr) => {{
        CHECKS.store(CHECKS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if !$cond {
            FAILED.store(FAILED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            say!("  FAIL line {}: {}", line!(), stringify!($cond));
        }
    }};
}

const HAS_A: bool = cfg!(target_feature = "a");

fn state_machine() {
    say!("1. the state machine");
    check!(tripbit::WORD_BITS == 32);
    let b = Breaker::new(Config::new(100).consecutive_failures(3));
    for t in 10..13 {
        b.try_acquire(t).unwrap().record(Outcome::Failure, t);
    }
    check!(b.state(13) == State::Open);
    let r = b.try_acquire(50).unwrap_err();
    check!(r.state == State::Open && r.retry_at == Some(112));
    let probe = b.try_acquire(112).unwrap();
    check!(probe.is_probe());
    check!(b.try_acquire(112).is_err()); // one probe at a time
    let tr = probe.record(Outcome::Success, 113);
    check!(tr.map(|t| t.to) == Some(State::Closed));
    let (old, _) = b.acquire_ticket(120).unwrap();
    check!(b.reset().is_none()); // closed to closed: no transition, a new generation
    check!(b.record_ticket(old, Outcome::Failure, 121) == Err(tripbit::Stale));
    check!(b.snapshot(121).consecutive_failures == 0);
}

fn critical_sections() {
    say!("2. critical sections per operation (A extension: {HAS_A})");
    let b = Breaker::new(Config::new(1_000_000).consecutive_failures(1));
    let before = cs_taken();
    for t in 0..100 {
        b.try_acquire(t).unwrap().record(Outcome::Success, t);
    }
    let success = cs_taken() - before;
    b.try_acquire(100).unwrap().record(Outcome::Failure, 100);
    let before = cs_taken();
    for t in 101..201 {
        check!(b.try_acquire(t).is_err());
    }
    let rejected = cs_taken() - before;
    say!("   100 closed successes: {success} critical sections; 100 rejections: {rejected}");
    check!(success == 0);
    check!(rejected == if HAS_A { 0 } else { 100 });
}

fn window() {
    say!("3. the window policy");
    let b: Breaker<Window<4, 1>> =
        Breaker::new_window(Config::new(100).failure_rate(50, 4).count_window(2));
    for (t, outcome) in [Outcome::Success, Outcome::Failure, Outcome::Success]
        .into_iter()
        .enumerate()
    {
        b.try_acquire(t as u64).unwrap().record(outcome, t as u64);
    }
    check!(b.state(3) == State::Closed); // 3 calls: below min_calls
    let w = b.snapshot(3).window;
    check!(w.calls == 3 && w.failures == 1);
    let tr = b.try_acquire(3).unwrap().record(Outcome::Failure, 3);
    check!(tr.map(|t| t.to) == Some(State::Open)); // 2 of 4 failed
    check!(b.try_acquire(50).is_err());
}

// ---- 4. interrupt safety ----

static RACE: Breaker = Breaker::new(Config::new(40).consecutive_failures(2));
/// The tick both contexts pass (main advances it).
static NOW: AtomicU32 = AtomicU32::new(0);
/// Set while the main loop is inside a tripbit call on `RACE`.
static IN_TRIPBIT: AtomicBool = AtomicBool::new(false);
/// Interrupt handler counters (written only by it).
static ISR_CALLS: AtomicU32 = AtomicU32::new(0);
static ISR_NESTED: AtomicU32 = AtomicU32::new(0);
static ISR_TRANSITIONS: AtomicU32 = AtomicU32::new(0);
static ISR_ERRORS: AtomicU32 = AtomicU32::new(0);

const TIMER_PERIOD: u64 = 300; // mtime ticks (10 MHz on virt)
const MIN_NESTED: u32 = 200;

#[unsafe(no_mangle)]
extern "C" fn trap_handler() {
    let cause: usize;
    // SAFETY: machine mode.
    unsafe { core::arch::asm!("csrr {0}, mcause", out(reg) cause) };
    if cause != (1 << 31) | 7 {
        let epc: usize;
        // SAFETY: machine mode.
        unsafe { core::arch::asm!("csrr {0}, mepc", out(reg) epc) };
        say!("tripbit-rv32: unexpected trap, mcause {cause:#x} mepc {epc:#x}");
        exit(3);
    }
    set_timer(mtime() + TIMER_PERIOD);
    let n = ISR_CALLS.load(Ordering::Relaxed);
    ISR_CALLS.store(n + 1, Ordering::Relaxed);
    if IN_TRIPBIT.load(Ordering::Relaxed) {
        ISR_NESTED.store(ISR_NESTED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
    let now = u64::from(NOW.load(Ordering::Relaxed));
    let mut transitions = 0;
    match RACE.try_acquire(now) {
        Ok(p) => {
            transitions += u32::from(p.transition().is_some());
            let outcome = if n % 3 == 0 {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            transitions += u32::from(p.record(outcome, now).is_some());
        }
        Err(r) => {
            if !matches!(r.state, State::Open | State::HalfOpen) {
                ISR_ERRORS.store(ISR_ERRORS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
        }
    }
    ISR_TRANSITIONS.store(
        ISR_TRANSITIONS.load(Ordering::Relaxed) + transitions,
        Ordering::Relaxed,
    );
}

fn interrupts() {
    say!("4. the machine timer interrupt calls tripbit while main is inside it");
    set_timer(mtime() + TIMER_PERIOD);
    // SAFETY: machine mode: enable the machine timer interrupt, then MIE.
    unsafe {
        core::arch::asm!("csrs mie, {0}", in(reg) 1usize << 7);
        core::arch::asm!("csrsi mstatus, 8");
    }
    let mut main_transitions = 0u32;
    let mut errors = 0u32;
    let mut iterations = 0u32;
    while ISR_NESTED.load(Ordering::Relaxed) < MIN_NESTED && iterations < 2_000_000 {
        NOW.store(iterations / 4, Ordering::Relaxed);
        let now = u64::from(iterations / 4);
        IN_TRIPBIT.store(true, Ordering::Relaxed);
        match RACE.try_acquire(now) {
            Ok(p) => {
                main_transitions += u32::from(p.transition().is_some());
                let outcome = if iterations % 5 == 0 {
                    Outcome::Failure
                } else {
                    Outcome::Success
                };
                main_transitions += u32::from(p.record(outcome, now).is_some());
            }
            Err(r) => errors += u32::from(!matches!(r.state, State::Open | State::HalfOpen)),
        }
        IN_TRIPBIT.store(false, Ordering::Relaxed);
        iterations += 1;
    }
    // SAFETY: machine mode: interrupts off again.
    unsafe { core::arch::asm!("csrci mstatus, 8") };
    let isr_transitions = ISR_TRANSITIONS.load(Ordering::Relaxed);
    let nested = ISR_NESTED.load(Ordering::Relaxed);
    let generation = RACE
        .snapshot(u64::from(NOW.load(Ordering::Relaxed)))
        .generation;
    let reported = main_transitions + isr_transitions;
    say!(
        "   {iterations} iterations, {} handlers ({nested} while main was inside tripbit), \
         {reported} transitions reported ({main_transitions} main + {isr_transitions} handler), \
         generation {generation}",
        ISR_CALLS.load(Ordering::Relaxed)
    );
    check!(nested >= MIN_NESTED);
    check!(errors == 0 && ISR_ERRORS.load(Ordering::Relaxed) == 0);
    check!(reported > 0);
    // Every transition starts a generation and is reported once: the
    // reports add up to the generation (8 bits in the 32-bit word).
    check!(reported & 0xff == generation & 0xff);
    check!(CS_DEPTH.load(Ordering::Relaxed) == 0);
    check!(CS_MAX_DEPTH.load(Ordering::Relaxed) <= 1); // sections never nest
}

#[unsafe(no_mangle)]
extern "C" fn main() -> ! {
    say!(
        "tripbit-rv32: {} (A extension: {HAS_A})",
        if HAS_A { "riscv32imac" } else { "riscv32imc" }
    );
    state_machine();
    critical_sections();
    window();
    interrupts();
    let (checks, failed) = (
        CHECKS.load(Ordering::Relaxed),
        FAILED.load(Ordering::Relaxed),
    );
    say!(
        "critical sections taken: {} (max nesting {})",
        cs_taken(),
        CS_MAX_DEPTH.load(Ordering::Relaxed)
    );
    say!("{checks} checks, {failed} failed");
    say!("RESULT: {}", if failed == 0 { "PASS" } else { "FAIL" });
    exit(if failed == 0 { 0 } else { 1 })
}
