//! The bytes of a region file: the header, the slot table, the slot control
//! word, and the checksum and fingerprint hashes.
//!
//! ```text
//! offset 0                 HEADER_SIZE (128)            + capacity × SLOT_SIZE
//! | Header                 | Slot 0 | Slot 1 | ... | Slot capacity-1 |
//! ```
//!
//! Layout ideas from Aeron's CnC file and Agrona's counters: a fixed header
//! that says how to read the rest (sizes, alignments, capacity) and a
//! version word written last, then fixed-size, cache-line-aligned records
//! whose state word says whether they are free, being written, or live.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, AtomicU64};

use tripbit::{Breaker, Config};

/// `b"tripbit\x01"` read as a native-endian `u64`: the first 8 bytes of
/// every region file.
pub(crate) const MAGIC: u64 = u64::from_ne_bytes(*b"tripbit\x01");
/// The layout version: bump on any change to [`Header`] or [`Slot`]. A
/// version word of 0 means "still initialising".
pub(crate) const LAYOUT_VERSION: u32 = 1;
/// Bytes of the header (a multiple of the slot alignment).
pub(crate) const HEADER_SIZE: usize = 128;
/// Longest slot name, in bytes.
pub const NAME_MAX: usize = 128;
/// Largest capacity a region may have (slots).
pub const MAX_CAPACITY: u32 = 1 << 20;

/// The region header, at offset 0. Written once by the creator, before the
/// file becomes visible under its name; `version` is stored last.
#[repr(C)]
pub(crate) struct Header {
    /// [`MAGIC`].
    pub(crate) magic: u64,
    /// [`LAYOUT_VERSION`], stored last (Release); 0 = still initialising.
    pub(crate) version: AtomicU32,
    pub(crate) header_size: u32,
    pub(crate) capacity: u32,
    pub(crate) slot_size: u32,
    pub(crate) slot_align: u32,
    pub(crate) breaker_size: u32,
    pub(crate) breaker_align: u32,
    pub(crate) name_max: u32,
    /// Total file size: `header_size + capacity × slot_size`.
    pub(crate) file_size: u64,
    pub(crate) creator_pid: u32,
    pub(crate) _pad: u32,
    /// `CLOCK_MONOTONIC` nanoseconds at creation (informational).
    pub(crate) created_at: u64,
    /// FNV-1a 64 of bytes 0..64 with `version` read as [`LAYOUT_VERSION`].
    pub(crate) checksum: u64,
    pub(crate) _reserved: [u64; 7],
}

const _: () = assert!(size_of::<Header>() == HEADER_SIZE);
const _: () = assert!(HEADER_SIZE % align_of::<Slot>() == 0);
/// Offset of the checksum: it covers every byte before it.
pub(crate) const CHECKSUM_OFFSET: usize = 64;
const _: () = assert!(core::mem::offset_of!(Header, checksum) == CHECKSUM_OFFSET);
const _: () = assert!(core::mem::offset_of!(Header, version) == 8);

/// One named breaker. Cache-line aligned so that two slots never share a
/// line (a busy breaker does not slow its neighbours down).
#[repr(C, align(64))]
pub(crate) struct Slot {
    /// The slot control word, see [`Control`]. Moves only by CAS:
    /// unused → claiming → live, or claiming → claiming (takeover of a dead
    /// claim). Never back to unused: a name, once live, keeps its slot for
    /// the region's life (so linear probing needs no tombstones).
    pub(crate) control: AtomicU64,
    /// [`fingerprint`] of the config the slot was claimed with.
    pub(crate) fingerprint: AtomicU64,
    /// Bytes of `name` in use (1..=NAME_MAX).
    pub(crate) name_len: AtomicU64,
    /// How many times this slot was claimed (1, or more after takeovers of
    /// dead claims). Informational, for `tripbit-shm ls`.
    pub(crate) claims: AtomicU64,
    /// The name's bytes, 8 per word, zero-padded. Written (Relaxed) while
    /// claiming, before the Release CAS that makes the slot live.
    pub(crate) name: [AtomicU64; NAME_MAX / 8],
    /// The core breaker, written whole while claiming (before the slot is
    /// live), then touched only through its own atomic methods.
    pub(crate) breaker: UnsafeCell<Breaker>,
}

/// Bytes per slot (a multiple of its alignment).
pub(crate) const SLOT_SIZE: usize = size_of::<Slot>();
/// The slot alignment (a cache line).
pub(crate) const SLOT_ALIGN: usize = align_of::<Slot>();

/// The state of a slot, as stored in its control word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotState {
    /// Never claimed.
    Unused,
    /// A process is writing the name and breaker; it holds the slot until
    /// the deadline, after which another process may take the claim over if
    /// the claimer is dead.
    Claiming,
    /// Named and in use.
    Live,
}

impl SlotState {
    /// Lower-case name, as `tripbit-shm ls` prints it.
    ///
    /// ```
    /// assert_eq!(tripbit_shm::SlotState::Live.as_str(), "live");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            SlotState::Unused => "unused",
            SlotState::Claiming => "claiming",
            SlotState::Live => "live",
        }
    }
}

/// The decoded control word of a slot.
///
/// | bits   | field      | meaning                                                |
/// |--------|------------|--------------------------------------------------------|
/// | 0..2   | `tag`      | 0 unused, 1 claiming, 2 live (3: corrupt)              |
/// | 2..24  | `pid`      | the claimer's pid (Linux pids are < 2²², `PID_MAX_LIMIT`) |
/// | 24..64 | `ms`       | claiming: the claim deadline; live: when it went live, in `CLOCK_MONOTONIC` milliseconds (40 bits: 34 years of uptime) |
///
/// Deadline and pid sit in the same word as the tag, so whoever sees a
/// claim sees its deadline with it (no second word that might be stale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Control {
    pub(crate) state: SlotState,
    pub(crate) pid: u32,
    pub(crate) ms: u64,
}

const TAG_MASK: u64 = 0b11;
const PID_SHIFT: u32 = 2;
const PID_MASK: u64 = (1 << 22) - 1;
const MS_SHIFT: u32 = 24;
const MS_MASK: u64 = (1 << 40) - 1;

impl Control {
    /// Decodes a control word; `None` for the unused tag 3 (a corrupt slot).
    pub(crate) const fn unpack(w: u64) -> Option<Control> {
        let state = match w & TAG_MASK {
            0 => SlotState::Unused,
            1 => SlotState::Claiming,
            2 => SlotState::Live,
            _ => return None,
        };
        if matches!(state, SlotState::Unused) && w != 0 {
            // An unused slot is all zero; anything else is not ours.
            return None;
        }
        Some(Control {
            state,
            pid: ((w >> PID_SHIFT) & PID_MASK) as u32,
            ms: (w >> MS_SHIFT) & MS_MASK,
        })
    }

    /// Encodes a claiming or live word (pid and time truncated to their
    /// fields).
    pub(crate) const fn pack(self) -> u64 {
        let tag = match self.state {
            SlotState::Unused => return 0,
            SlotState::Claiming => 1,
            SlotState::Live => 2,
        };
        tag | ((self.pid as u64 & PID_MASK) << PID_SHIFT) | ((self.ms & MS_MASK) << MS_SHIFT)
    }
}

/// FNV-1a, 64 bits: the header checksum, the name hash and the config
/// fingerprint. Not cryptographic: it detects accidents (torn writes, stray
/// bytes, a different build), not an adversary with write access, who could
/// change the breaker words directly anyway.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The fingerprint of a breaker's config: FNV-1a of its policy name and of
/// the `Debug` text of the [`Config`], which prints every setting (so a
/// setting added to the core, such as the probe deadline, is covered without
/// a change here). Two processes bind a name only with equal fingerprints.
///
/// ```
/// use tripbit::Config;
/// let a = tripbit_shm::fingerprint(&Config::new(100).consecutive_failures(3));
/// let b = tripbit_shm::fingerprint(&Config::new(100).consecutive_failures(4));
/// assert_ne!(a, b);
/// assert_eq!(a, tripbit_shm::fingerprint(&Config::new(100).consecutive_failures(3)));
/// ```
pub fn fingerprint(config: &Config) -> u64 {
    let text = format!("Breaker<Consecutive>:{config:?}");
    // 0 is reserved for "no fingerprint" (an unused slot reads 0).
    fnv1a(text.as_bytes()).max(1)
}

/// The header fields as plain values, parsed from bytes read with `pread`
/// (never through the mapping, so a short file cannot fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeaderFields {
    pub(crate) magic: u64,
    pub(crate) version: u32,
    pub(crate) header_size: u32,
    pub(crate) capacity: u32,
    pub(crate) slot_size: u32,
    pub(crate) slot_align: u32,
    pub(crate) breaker_size: u32,
    pub(crate) breaker_align: u32,
    pub(crate) name_max: u32,
    pub(crate) file_size: u64,
    pub(crate) creator_pid: u32,
    pub(crate) created_at: u64,
    pub(crate) checksum: u64,
}

fn u32_at(b: &[u8; HEADER_SIZE], off: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(a)
}

fn u64_at(b: &[u8; HEADER_SIZE], off: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

impl HeaderFields {
    /// The header this build writes for `capacity` slots.
    pub(crate) fn new(capacity: u32, creator_pid: u32, created_at: u64) -> HeaderFields {
        let mut h = HeaderFields {
            magic: MAGIC,
            version: LAYOUT_VERSION,
            header_size: HEADER_SIZE as u32,
            capacity,
            slot_size: SLOT_SIZE as u32,
            slot_align: SLOT_ALIGN as u32,
            breaker_size: size_of::<Breaker>() as u32,
            breaker_align: align_of::<Breaker>() as u32,
            name_max: NAME_MAX as u32,
            file_size: file_size(capacity),
            creator_pid,
            created_at,
            checksum: 0,
        };
        h.checksum = h.compute_checksum();
        h
    }

    /// Parses the first [`HEADER_SIZE`] bytes of a file.
    pub(crate) fn parse(b: &[u8; HEADER_SIZE]) -> HeaderFields {
        HeaderFields {
            magic: u64_at(b, 0),
            version: u32_at(b, 8),
            header_size: u32_at(b, 12),
            capacity: u32_at(b, 16),
            slot_size: u32_at(b, 20),
            slot_align: u32_at(b, 24),
            breaker_size: u32_at(b, 28),
            breaker_align: u32_at(b, 32),
            name_max: u32_at(b, 36),
            file_size: u64_at(b, 40),
            creator_pid: u32_at(b, 48),
            created_at: u64_at(b, 56),
            checksum: u64_at(b, CHECKSUM_OFFSET),
        }
    }

    /// The bytes of the header (`version` as given).
    pub(crate) fn to_bytes(self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
        put(0, &self.magic.to_ne_bytes());
        put(8, &self.version.to_ne_bytes());
        put(12, &self.header_size.to_ne_bytes());
        put(16, &self.capacity.to_ne_bytes());
        put(20, &self.slot_size.to_ne_bytes());
        put(24, &self.slot_align.to_ne_bytes());
        put(28, &self.breaker_size.to_ne_bytes());
        put(32, &self.breaker_align.to_ne_bytes());
        put(36, &self.name_max.to_ne_bytes());
        put(40, &self.file_size.to_ne_bytes());
        put(48, &self.creator_pid.to_ne_bytes());
        put(56, &self.created_at.to_ne_bytes());
        put(CHECKSUM_OFFSET, &self.checksum.to_ne_bytes());
        b
    }

    /// FNV-1a of bytes 0..64 as they read once initialised (the version
    /// field taken as [`LAYOUT_VERSION`], so the checksum can be written
    /// before the version word).
    pub(crate) fn compute_checksum(self) -> u64 {
        let b = HeaderFields {
            version: LAYOUT_VERSION,
            checksum: 0,
            ..self
        }
        .to_bytes();
        fnv1a(&b[..CHECKSUM_OFFSET])
    }
}

/// The file size of a region of `capacity` slots.
pub(crate) const fn file_size(capacity: u32) -> u64 {
    HEADER_SIZE as u64 + capacity as u64 * SLOT_SIZE as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_round_trips_and_rejects_garbage() {
        for state in [SlotState::Claiming, SlotState::Live] {
            let c = Control {
                state,
                pid: 4_194_303,
                ms: (1 << 40) - 1,
            };
            assert_eq!(Control::unpack(c.pack()), Some(c));
        }
        assert_eq!(Control::unpack(0).unwrap().state, SlotState::Unused);
        assert_eq!(Control::unpack(3), None);
        assert_eq!(Control::unpack(1 << 10), None, "unused tag with bits set");
    }

    #[test]
    fn header_round_trips_and_checksum_covers_every_field() {
        let h = HeaderFields::new(64, 42, 7);
        assert_eq!(HeaderFields::parse(&h.to_bytes()), h);
        assert_eq!(h.compute_checksum(), h.checksum);
        let bytes = h.to_bytes();
        // Every field but the version word (8..12) and the padding (52..56).
        for i in (0..CHECKSUM_OFFSET).filter(|i| !(8..12).contains(i) && !(52..56).contains(i)) {
            let mut b = bytes;
            b[i] ^= 0x10;
            let p = HeaderFields::parse(&b);
            assert_ne!(p.compute_checksum(), p.checksum, "byte {i}");
        }
    }

    #[test]
    fn slot_layout_is_cache_line_sized() {
        assert_eq!(SLOT_ALIGN, 64);
        assert_eq!(SLOT_SIZE % 64, 0);
        assert_eq!(file_size(2), 128 + 2 * SLOT_SIZE as u64);
    }
}
