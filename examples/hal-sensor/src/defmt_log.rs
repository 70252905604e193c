//! A `defmt` global logger that writes the encoded frames to a file on the
//! host through semihosting, and counts them.
//!
//! Why not `defmt-semihosting`: it writes the (binary) frames to the host's
//! stdout, where they would interleave with the human-readable `hprintln!`
//! lines this firmware prints. Here the frames go to
//! `<crate dir>/target/<binary name>.defmt` (QEMU's `target=native`
//! semihosting opens host files), decodable with
//! `defmt-print -e <elf> < target/hal-sensor.defmt`, and the firmware checks the
//! frame count: tripbit must log exactly one frame per transition.
//!
//! If the file cannot be opened (a build whose target dir is elsewhere), the
//! frames are dropped but still counted.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

use cortex_m_semihosting::nr;

/// Where the frames go, on the host (NUL-terminated for semihosting).
pub const FRAMES_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/",
    env!("CARGO_BIN_NAME"),
    ".defmt\0"
);

/// The file's semihosting handle: `0` not opened yet, `-1` unavailable.
static HANDLE: AtomicI32 = AtomicI32::new(0);
/// Frames completed so far.
static FRAMES: AtomicU32 = AtomicU32::new(0);
/// Encoded bytes handed to the host so far.
static BYTES: AtomicU32 = AtomicU32::new(0);
/// Set between `acquire` and `release`.
static TAKEN: AtomicBool = AtomicBool::new(false);
/// Whether interrupts were enabled before `acquire` masked them.
static RESTORE_INTERRUPTS: AtomicBool = AtomicBool::new(false);

/// The frame encoder, used only between `acquire` and `release`.
struct EncoderCell(UnsafeCell<defmt::Encoder>);
// SAFETY: the cell is only touched between `acquire` and `release`, with
// interrupts masked on this single core and `TAKEN` ruling out re-entry.
unsafe impl Sync for EncoderCell {}
static ENCODER: EncoderCell = EncoderCell(UnsafeCell::new(defmt::Encoder::new()));

/// Frames logged so far (complete ones).
pub fn frames() -> u32 {
    FRAMES.load(Ordering::Relaxed)
}

/// Encoded bytes written so far.
pub fn bytes() -> u32 {
    BYTES.load(Ordering::Relaxed)
}

/// Whether the host file could be opened.
pub fn to_file() -> bool {
    HANDLE.load(Ordering::Relaxed) > 0
}

// Timestamps on the frames: the firmware's simulated tick.
defmt::timestamp!("tick {=u64}", crate::clock::now());

/// Opens the frames file (truncating it) on first use.
fn handle() -> Option<usize> {
    let mut h = HANDLE.load(Ordering::Relaxed);
    if h == 0 {
        let path = FRAMES_PATH.as_bytes();
        // SAFETY: SYS_OPEN reads `path` (NUL-terminated, length without the
        // NUL) and returns a handle or -1; it writes no target memory.
        let r = unsafe {
            cortex_m_semihosting::syscall!(
                OPEN,
                path.as_ptr(),
                nr::open::W_TRUNC_BINARY,
                path.len() - 1
            )
        };
        h = if r as isize > 0 { r as i32 } else { -1 };
        HANDLE.store(h, Ordering::Relaxed);
    }
    (h > 0).then_some(h as usize)
}

/// Hands encoded bytes to the host.
fn emit(bytes: &[u8]) {
    // Interrupts are masked between `acquire` and `release` (single core), so
    // a load + store is atomic here, and builds for thumbv6m (no RMW).
    BYTES.store(
        BYTES.load(Ordering::Relaxed) + bytes.len() as u32,
        Ordering::Relaxed,
    );
    if let Some(fd) = handle() {
        // SAFETY: SYS_WRITE reads `bytes` and returns how many were not
        // written; it writes no target memory. A short write loses log bytes
        // only, which the frame count does not depend on.
        let _ = unsafe { cortex_m_semihosting::syscall!(WRITE, fd, bytes.as_ptr(), bytes.len()) };
    }
}

#[defmt::global_logger]
struct Logger;

// SAFETY: `acquire` masks interrupts (single core: nothing else can run) and
// refuses re-entry, so the encoder has one user between `acquire` and
// `release`, as the `Logger` contract requires.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        let enabled = cortex_m::register::primask::read().is_active();
        cortex_m::interrupt::disable();
        // Interrupts are masked: load + store cannot be interleaved.
        if TAKEN.load(Ordering::Relaxed) {
            panic!("defmt logger taken re-entrantly");
        }
        TAKEN.store(true, Ordering::Relaxed);
        RESTORE_INTERRUPTS.store(enabled, Ordering::Relaxed);
        // SAFETY: taken above, interrupts masked: the only user.
        let encoder = unsafe { &mut *ENCODER.0.get() };
        encoder.start_frame(emit);
    }

    unsafe fn flush() {
        // Semihosting writes are synchronous: nothing is buffered here.
    }

    unsafe fn release() {
        // SAFETY: the caller acquired first (the `Logger` contract).
        let encoder = unsafe { &mut *ENCODER.0.get() };
        encoder.end_frame(emit);
        FRAMES.store(FRAMES.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        TAKEN.store(false, Ordering::Relaxed);
        if RESTORE_INTERRUPTS.load(Ordering::Relaxed) {
            // SAFETY: they were enabled before `acquire`; restoring that
            // ends the critical section `acquire` began.
            unsafe { cortex_m::interrupt::enable() };
        }
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: the caller acquired first (the `Logger` contract).
        let encoder = unsafe { &mut *ENCODER.0.get() };
        encoder.write(bytes, emit);
    }
}
