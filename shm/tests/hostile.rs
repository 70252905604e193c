//! Hostile files and bad input: every one is a typed error naming the path
//! (or the name), never a crash or a SIGBUS, and a failed open or claim
//! never changes the file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use tripbit::{Config, Outcome, State};
use tripbit_shm::{Error, NAME_MAX, Region, SlotState};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh path under /dev/shm (falls back to the temp dir), removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        TempPath(base.join(format!("tripbit-test-{tag}-{}-{n}", std::process::id())))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A small deterministic generator (xorshift64*), so a failing fuzz case
/// can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn config() -> Config {
    Config::new(1_000_000_000).consecutive_failures(3)
}

/// The bytes of a valid region of `capacity` slots with one live breaker.
fn valid_region_bytes(capacity: u32) -> Vec<u8> {
    let p = TempPath::new("template");
    let r = Region::open(&p.0, capacity).unwrap();
    r.breaker("template.name", config()).unwrap();
    drop(r);
    std::fs::read(&p.0).unwrap()
}

/// FNV-1a 64, as the header checksum (replicated so tests can forge
/// headers with a correct checksum and reach the later checks).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn set_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn reseal(b: &mut [u8]) {
    let mut h = b[..64].to_vec();
    h[8..12].copy_from_slice(&1u32.to_ne_bytes());
    let sum = fnv1a(&h);
    b[64..72].copy_from_slice(&sum.to_ne_bytes());
}

fn attach_bytes(tag: &str, bytes: &[u8]) -> (TempPath, Result<Region, Error>) {
    let p = TempPath::new(tag);
    std::fs::write(&p.0, bytes).unwrap();
    let r = Region::attach(&p.0);
    (p, r)
}

fn assert_names_path(e: &Error, p: &Path) {
    let text = e.to_string();
    assert!(
        text.contains(&*p.to_string_lossy()),
        "error {text:?} does not name {}",
        p.display()
    );
}

#[test]
fn truncated_files_are_errors() {
    let good = valid_region_bytes(8);
    for len in [1, 64, 127, 128, 129, 200, good.len() / 2, good.len() - 1] {
        let (p, r) = attach_bytes("trunc", &good[..len]);
        let e = r.unwrap_err();
        assert!(
            matches!(e, Error::Truncated { found, .. } if found == len as u64),
            "len {len}: {e:?}"
        );
        assert_names_path(&e, &p.0);
    }
    let (p, r) = attach_bytes("empty", &[]);
    let e = r.unwrap_err();
    assert!(matches!(e, Error::NotARegion { .. }), "{e:?}");
    assert_names_path(&e, &p.0);
}

#[test]
fn foreign_zero_filled_and_directory_are_not_regions() {
    let foreign: Vec<u8> = b"#!/bin/sh\necho this is not a region\n"
        .iter()
        .copied()
        .cycle()
        .take(8192)
        .collect();
    let (p, r) = attach_bytes("foreign", &foreign);
    let e = r.unwrap_err();
    assert!(
        matches!(e, Error::NotARegion { reason, .. } if reason.contains("foreign")),
        "{e:?}"
    );
    assert_names_path(&e, &p.0);

    let (p, r) = attach_bytes("zero", &vec![0u8; 128 + 4 * 256]);
    let e = r.unwrap_err();
    assert!(
        matches!(e, Error::NotARegion { reason, .. } if reason.contains("zero")),
        "{e:?}"
    );
    assert_names_path(&e, &p.0);

    let dir = TempPath::new("dir");
    std::fs::create_dir(&dir.0).unwrap();
    let e = Region::attach(&dir.0).unwrap_err();
    std::fs::remove_dir(&dir.0).unwrap();
    assert!(
        matches!(e, Error::NotARegion { .. } | Error::Io { .. }),
        "{e:?}"
    );
    assert_names_path(&e, &dir.0);
}

#[test]
fn wrong_version_and_corrupt_header_are_errors() {
    let good = valid_region_bytes(4);

    let mut v2 = good.clone();
    set_u32(&mut v2, 8, 2);
    let (p, r) = attach_bytes("version", &v2);
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Version {
                found: 2,
                expected: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert_names_path(&e, &p.0);

    // A flipped capacity byte: the checksum catches it.
    let mut flipped = good.clone();
    flipped[16] ^= 0x01;
    let (p, r) = attach_bytes("checksum", &flipped);
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Checksum { .. }), "{e:?}");
    assert_names_path(&e, &p.0);

    // Another build's breaker size, with a correct checksum: a layout error.
    let mut other = good.clone();
    set_u32(&mut other, 28, 48);
    reseal(&mut other);
    let (p, r) = attach_bytes("layout", &other);
    let e = r.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Layout {
                field: "breaker_size",
                found: 48,
                ..
            }
        ),
        "{e:?}"
    );
    assert_names_path(&e, &p.0);

    // A header that declares more slots than the file holds.
    let mut big = good.clone();
    set_u32(&mut big, 16, 5);
    let fs = 128u64 + 5 * ((good.len() as u64 - 128) / 4);
    big[40..48].copy_from_slice(&fs.to_ne_bytes());
    reseal(&mut big);
    let (p, r) = attach_bytes("short", &big);
    let e = r.unwrap_err();
    assert!(
        matches!(e, Error::Truncated { expected, .. } if expected == fs),
        "{e:?}"
    );
    assert_names_path(&e, &p.0);

    // Version 0 means "initialising": waited for, then an error.
    let mut init = good.clone();
    set_u32(&mut init, 8, 0);
    let p = TempPath::new("init");
    std::fs::write(&p.0, &init).unwrap();
    let e = Region::options()
        .create(false)
        .init_timeout(std::time::Duration::from_millis(30))
        .open(&p.0)
        .unwrap_err();
    assert!(matches!(e, Error::Initialising { .. }), "{e:?}");
    assert_names_path(&e, &p.0);
}

#[test]
fn corrupt_slots_are_typed_errors() {
    let good = valid_region_bytes(4);
    let r0 = {
        let p = TempPath::new("probe");
        std::fs::write(&p.0, &good).unwrap();
        let r = Region::attach(&p.0).unwrap();
        r.get("template.name").unwrap().unwrap().index()
    };
    let slot_size = (good.len() - 128) / 4;
    let slot_off = 128 + r0 as usize * slot_size;

    // A control word with the unused tag 3.
    let mut bad = good.clone();
    bad[slot_off] = 3;
    let (p, r) = attach_bytes("ctl", &bad);
    let r = r.unwrap();
    let e = r.breaker("template.name", config()).unwrap_err();
    assert!(matches!(e, Error::CorruptSlot { .. }), "{e:?}");
    assert_names_path(&e, &p.0);

    // A live breaker whose settings were zeroed: never handed out.
    let mut bad = good.clone();
    // The breaker follows the 32 bytes of words and the name.
    let breaker_off = slot_off + 32 + NAME_MAX;
    for b in &mut bad[breaker_off..slot_off + slot_size] {
        *b = 0;
    }
    let (p, r) = attach_bytes("settings", &bad);
    let e = r.unwrap().breaker("template.name", config()).unwrap_err();
    assert!(matches!(e, Error::CorruptSlot { .. }), "{e:?}");
    assert_names_path(&e, &p.0);
}

/// Fuzz the attach path: thousands of generated files (random bytes,
/// valid regions with flipped bytes, truncations, forged headers with good
/// checksums). Every attach is `Ok` or a typed error naming the path; every
/// region that attaches can be listed and used without crashing.
#[test]
fn fuzz_attach_never_crashes() {
    let good = valid_region_bytes(4);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
    let seed = rng.0;
    let p = TempPath::new("fuzz");
    let (mut oks, mut errs) = (0u32, 0u32);
    for case in 0..3000u32 {
        let bytes: Vec<u8> = match rng.below(5) {
            0 => (0..rng.below(3 * good.len() as u64))
                .map(|_| rng.next() as u8)
                .collect(),
            1 => {
                let mut b = good.clone();
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(b.len() as u64) as usize;
                    b[i] = rng.next() as u8;
                }
                b
            }
            2 => good[..rng.below(good.len() as u64 + 1) as usize].to_vec(),
            3 => {
                // A forged header: random field values, valid checksum.
                let mut b = good.clone();
                let off = 12 + 4 * rng.below(12) as usize;
                set_u32(&mut b, off.min(60), rng.next() as u32);
                reseal(&mut b);
                b
            }
            _ => {
                // Random slot bytes behind a valid header.
                let mut b = good.clone();
                for x in &mut b[128..] {
                    if rng.below(4) == 0 {
                        *x = rng.next() as u8;
                    }
                }
                b
            }
        };
        std::fs::write(&p.0, &bytes).unwrap();
        // A flipped tag can turn the template's live slot into a claim by
        // this (live) process, waited for up to ten claim timeouts: keep
        // them short here, this test is about crashes, not waits.
        let attached = Region::options()
            .create(false)
            .claim_timeout(std::time::Duration::from_millis(2))
            .open(&p.0);
        match attached {
            Ok(r) => {
                oks += 1;
                let slots = r.slots();
                assert_eq!(slots.len(), r.capacity() as usize);
                for name in ["template.name", "fuzz.other"] {
                    match r.breaker(name, config()) {
                        Ok(b) => {
                            let now = tripbit_shm::now();
                            if let Ok(permit) = b.try_acquire(now) {
                                permit.record(Outcome::Failure, now);
                            }
                            let _ = b.snapshot(now);
                        }
                        Err(e) => assert_names_path(&e, &p.0),
                    }
                    if let Err(e) = r.get(name) {
                        assert_names_path(&e, &p.0);
                    }
                }
            }
            Err(e) => {
                errs += 1;
                assert!(e.path().is_some(), "case {case} (seed {seed:#x}): {e:?}");
                assert_names_path(&e, &p.0);
            }
        }
    }
    assert_eq!(oks + errs, 3000);
    assert!(errs > 1000, "the generator should mostly produce bad files");
    assert!(oks > 100, "and some that still attach");
}

#[test]
fn missing_directory_is_an_error_naming_path_and_directory() {
    let path = "/dev/shm/tripbit-no-such-dir/region";
    let e = Region::open(path, 8).unwrap_err();
    match &e {
        Error::Io {
            op: "create",
            source,
            ..
        } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains(path) && text.contains("tripbit-no-such-dir"),
        "{text}"
    );
    assert!(!Path::new("/dev/shm/tripbit-no-such-dir").exists());
}

fn file_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn full_table_long_names_and_config_mismatch_change_nothing() {
    let p = TempPath::new("full");
    let r = Region::open(&p.0, 4).unwrap();
    for i in 0..4 {
        r.breaker(&format!("svc.{i}"), config()).unwrap();
    }
    let before = file_bytes(&p.0);

    let e = r.breaker("svc.extra", config()).unwrap_err();
    assert!(matches!(e, Error::TableFull { capacity: 4, .. }), "{e:?}");
    assert!(e.to_string().contains("svc.extra"));
    assert_names_path(&e, &p.0);

    let long = "x".repeat(NAME_MAX + 1);
    let e = r.breaker(&long, config()).unwrap_err();
    assert!(matches!(e, Error::BadName { .. }), "{e:?}");
    assert!(e.to_string().contains(&long));

    for bad in ["", "nul\0inside"] {
        assert!(matches!(
            r.breaker(bad, config()).unwrap_err(),
            Error::BadName { .. }
        ));
    }

    let e = r
        .breaker("svc.1", config().consecutive_failures(9))
        .unwrap_err();
    assert!(matches!(e, Error::ConfigMismatch { .. }), "{e:?}");
    assert!(e.to_string().contains("svc.1"));
    assert_names_path(&e, &p.0);

    let e = r.breaker("svc.2", Config::new(0)).unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
    assert!(e.to_string().contains("svc.2") && e.to_string().contains("open_ticks"));

    let e = Region::open(&p.0, 8).unwrap_err();
    assert!(matches!(
        e,
        Error::CapacityMismatch {
            requested: 8,
            found: 4,
            ..
        }
    ));
    assert!(matches!(
        Region::open(&p.0, 0).unwrap_err(),
        Error::BadCapacity { .. }
    ));

    assert_eq!(file_bytes(&p.0), before, "failed calls changed the region");
    // Every name bound before is still there, each in one slot.
    for i in 0..4 {
        assert!(r.get(&format!("svc.{i}")).unwrap().is_some());
    }
    // A name of exactly NAME_MAX bytes fits (in a region with room).
    let p2 = TempPath::new("maxname");
    let r2 = Region::open(&p2.0, 2).unwrap();
    let max = "y".repeat(NAME_MAX);
    assert_eq!(r2.breaker(&max, config()).unwrap().name(), max);
    assert_eq!(
        r2.slots()
            .iter()
            .filter(|s| s.name.as_deref() == Some(&max))
            .count(),
        1
    );
}

#[test]
fn failed_attach_never_modifies_the_file() {
    let good = valid_region_bytes(4);
    let mut bad = good.clone();
    set_u32(&mut bad, 8, 7);
    for (tag, bytes) in [
        ("nomod-version", bad),
        ("nomod-trunc", good[..300].to_vec()),
    ] {
        let p = TempPath::new(tag);
        std::fs::write(&p.0, &bytes).unwrap();
        let meta_before = std::fs::metadata(&p.0).unwrap();
        assert!(Region::open(&p.0, 4).is_err());
        assert!(Region::attach(&p.0).is_err());
        assert!(
            Region::remove(&p.0).is_err(),
            "a non-region is never removed"
        );
        assert_eq!(std::fs::read(&p.0).unwrap(), bytes);
        assert_eq!(std::fs::metadata(&p.0).unwrap().len(), meta_before.len());
    }
}

#[test]
fn created_0600_by_default_with_a_mode_option() {
    let p = TempPath::new("mode");
    Region::open(&p.0, 2).unwrap();
    let mode = std::fs::metadata(&p.0).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);
    let p2 = TempPath::new("mode640");
    Region::options()
        .capacity(2)
        .mode(0o640)
        .open(&p2.0)
        .unwrap();
    let mode = std::fs::metadata(&p2.0).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);
    // Opening an existing region never changes its mode.
    Region::options()
        .capacity(2)
        .mode(0o600)
        .open(&p2.0)
        .unwrap();
    let mode = std::fs::metadata(&p2.0).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);
}

#[test]
fn a_region_of_another_user_is_refused_unless_asked() {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if me == 0 {
        // As root: hand a real region to "nobody".
        let p = TempPath::new("owner");
        Region::open(&p.0, 2).unwrap();
        std::os::unix::fs::chown(&p.0, Some(65_534), None).unwrap();
        let e = Region::open(&p.0, 2).unwrap_err();
        assert!(
            matches!(
                e,
                Error::ForeignOwner {
                    owner: 65_534,
                    me: 0,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_names_path(&e, &p.0);
        let r = Region::options()
            .capacity(2)
            .allow_foreign_owner(true)
            .open(&p.0)
            .unwrap();
        assert!(r.breaker("x", config()).is_ok());
    } else {
        // Not root: a root-owned file is refused before it is even read.
        let e = Region::attach("/etc/passwd").unwrap_err();
        assert!(matches!(e, Error::ForeignOwner { owner: 0, .. }), "{e:?}");
        assert_names_path(&e, Path::new("/etc/passwd"));
    }
}

#[test]
fn create_race_ends_with_one_region() {
    let p = TempPath::new("race");
    let path = p.0.clone();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let r = Region::open(&path, 16).unwrap();
                r.breaker("shared.name", config()).unwrap().index()
            })
        })
        .collect();
    let idx: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(idx.windows(2).all(|w| w[0] == w[1]), "{idx:?}");
    let r = Region::attach(&path).unwrap();
    let named = r
        .slots()
        .into_iter()
        .filter(|s| s.state == Some(SlotState::Live))
        .count();
    assert_eq!(named, 1);
}

#[test]
fn ls_inspect_and_rm_commands() {
    let p = TempPath::new("ls");
    let r = Region::open(&p.0, 8).unwrap();
    let closed = r.breaker("acme.closed", config()).unwrap();
    let open = r.breaker("acme.open", config()).unwrap();
    let now = tripbit_shm::now();
    closed
        .try_acquire(now)
        .unwrap()
        .record(Outcome::Failure, now);
    for _ in 0..3 {
        open.try_acquire(now).unwrap().record(Outcome::Failure, now);
    }
    assert_eq!(open.state(tripbit_shm::now()), State::Open);
    let bin = env!("CARGO_BIN_EXE_tripbit-shm");

    let out = Command::new(bin).arg("ls").arg(&p.0).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
            .to_owned()
    };
    assert!(text.contains("2 of 8 slots in use"), "{text}");
    let l = line("acme.closed");
    assert!(
        l.contains("live") && l.contains("closed") && l.contains("failures=1"),
        "{l}"
    );
    let l = line("acme.open");
    assert!(l.contains("open") && l.contains("reopens_in="), "{l}");

    let out = Command::new(bin)
        .args(["inspect"])
        .arg(&p.0)
        .arg("acme.open")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("state:       open") && text.contains("fingerprint:"),
        "{text}"
    );

    let out = Command::new(bin)
        .args(["inspect"])
        .arg(&p.0)
        .arg("nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let (fp, _) = attach_bytes("ls-foreign", b"not a region at all, just text");
    let out = Command::new(bin).arg("ls").arg(&fp.0).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&*fp.0.to_string_lossy()));

    let out = Command::new(bin).arg("rm").arg(&p.0).output().unwrap();
    assert!(out.status.success());
    assert!(!p.0.exists());
}

#[test]
fn the_probe_deadline_is_part_of_the_fingerprint() {
    let p = TempPath::new("probe-fp");
    let r = Region::open(&p.0, 4).unwrap();
    r.breaker("svc", config().probe_timeout(100)).unwrap();
    let e = r.breaker("svc", config().probe_timeout(200)).unwrap_err();
    assert!(matches!(e, Error::ConfigMismatch { .. }), "{e:?}");
    assert!(r.breaker("svc", config().probe_timeout(100)).is_ok());
}

#[test]
fn inspection_is_read_only_and_writes_nothing() {
    let p = TempPath::new("inspect");
    let r = Region::open(&p.0, 4).unwrap();
    let b = r.breaker("svc", config()).unwrap();
    for _ in 0..3 {
        let now = tripbit_shm::now();
        b.try_acquire(now).unwrap().record(Outcome::Failure, now);
    }
    let before = file_bytes(&p.0);
    let ro = Region::inspect(&p.0).unwrap();
    let slots = ro.slots();
    let live: Vec<_> = slots.iter().filter(|s| s.name.is_some()).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].snapshot.unwrap().state, State::Open);
    assert!(matches!(ro.get("svc"), Err(Error::ReadOnly { .. })));
    assert!(matches!(
        ro.breaker("svc", config()),
        Err(Error::ReadOnly { .. })
    ));
    assert!(matches!(
        ro.breaker("new", config()),
        Err(Error::ReadOnly { .. })
    ));
    assert_eq!(file_bytes(&p.0), before);
}

#[test]
fn a_stuck_claim_is_taken_over_after_ten_timeouts() {
    // Every slot "claimed" by this very (live) process, with a deadline
    // 30 s ahead: nobody will ever finish those claims.
    let p = TempPath::new("stuck");
    drop(Region::open(&p.0, 4).unwrap());
    let mut bytes = file_bytes(&p.0);
    let slot_size = (bytes.len() - 128) / 4;
    let ms = tripbit_shm::now() / 1_000_000 + 30_000;
    let word: u64 = 1 | (u64::from(std::process::id()) << 2) | (ms << 24);
    for i in 0..4 {
        let off = 128 + i * slot_size;
        bytes[off..off + 8].copy_from_slice(&word.to_ne_bytes());
    }
    std::fs::write(&p.0, &bytes).unwrap();
    let r = Region::options()
        .capacity(4)
        .claim_timeout(std::time::Duration::from_millis(20))
        .open(&p.0)
        .unwrap();
    let t0 = std::time::Instant::now();
    let b = r.breaker("after.stuck", config()).unwrap();
    let waited = t0.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(200),
        "{waited:?}"
    );
    assert!(waited < std::time::Duration::from_secs(5), "{waited:?}");
    let s = &r.slots()[b.index() as usize];
    assert_eq!(s.state, Some(SlotState::Live));
    assert_eq!(s.name.as_deref(), Some("after.stuck"));
}
