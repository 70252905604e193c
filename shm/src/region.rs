//! [`Region`]: create or attach a region file, claim names in it, list its
//! slots; [`SharedBreaker`]: a handle on one slot's core breaker.

use std::fs::{File, OpenOptions};
use std::io;
use std::ops::Deref;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tripbit::{Breaker, CallError, Config, Snapshot};

use crate::error::Error;
use crate::layout::{
    Control, HEADER_SIZE, Header, HeaderFields, LAYOUT_VERSION, MAGIC, MAX_CAPACITY, NAME_MAX,
    SLOT_SIZE, Slot, SlotState, file_size, fingerprint, fnv1a,
};
use crate::sys::{self, Mapping};

/// How to open a region. Start from [`Region::options`]; every setting
/// documents its default.
///
/// ```
/// use std::time::Duration;
/// let dir = std::env::temp_dir().join(format!("tripbit-doc-opts-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("region");
/// let region = tripbit_shm::Region::options()
///     .capacity(8)
///     .mode(0o640)
///     .claim_timeout(Duration::from_millis(200))
///     .open(&path)
///     .unwrap();
/// assert_eq!(region.capacity(), 8);
/// tripbit_shm::Region::remove(&path).unwrap();
/// # std::fs::remove_dir(&dir).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct RegionOptions {
    capacity: Option<u32>,
    create: bool,
    mode: u32,
    allow_foreign_owner: bool,
    claim_timeout: Duration,
    init_timeout: Duration,
    read_only: bool,
    claim_pause: Duration,
}

impl Default for RegionOptions {
    fn default() -> Self {
        RegionOptions {
            capacity: None,
            create: true,
            mode: 0o600,
            allow_foreign_owner: false,
            claim_timeout: Duration::from_secs(1),
            init_timeout: Duration::from_secs(1),
            read_only: false,
            claim_pause: Duration::ZERO,
        }
    }
}

impl RegionOptions {
    /// The number of slots (default [`DEFAULT_CAPACITY`]). A new region is
    /// created with it; an existing region must have exactly this capacity
    /// ([`Error::CapacityMismatch`] otherwise). Unset, an existing region of
    /// any capacity is accepted.
    pub fn capacity(mut self, capacity: u32) -> Self {
        self.capacity = Some(capacity);
        self
    }

    /// Create the file when it does not exist (default `true`); `false`
    /// attaches to an existing region only.
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Permission bits of a new file (default `0o600`: this user only). Set
    /// exactly, whatever the umask. An existing file keeps its mode.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o7777;
        self
    }

    /// Accept a region owned by another user (default `false`: refused with
    /// [`Error::ForeignOwner`], since any process that can write the file
    /// can change every verdict in it).
    pub fn allow_foreign_owner(mut self, allow: bool) -> Self {
        self.allow_foreign_owner = allow;
        self
    }

    /// How long a claim may stay half-written before another process may
    /// take it over, if its claimer is dead (default 1 s; a claim takes
    /// microseconds). A claimer that is alive but stalled (stopped,
    /// swapped out, in another pid namespace) is taken over after ten
    /// times this. Between 1 ms and [`MAX_CLAIM_TIMEOUT`] (values outside are
    /// clamped).
    pub fn claim_timeout(mut self, timeout: Duration) -> Self {
        self.claim_timeout = timeout.clamp(Duration::from_millis(1), MAX_CLAIM_TIMEOUT);
        self
    }

    /// How long to wait for a region whose version word is still 0 (being
    /// initialised) before [`Error::Initialising`] (default 1 s).
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// Open the file read-only, for inspection (default `false`). Never
    /// creates; the mapping is a private copy-on-write snapshot (see the
    /// crate docs), so [`Region::breaker`] and [`Region::get`] fail with
    /// [`Error::ReadOnly`] and [`Region::slots`] works. Another user's
    /// region may be inspected.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Test hook: sleep this long inside every claim, between taking the
    /// slot and publishing it, so that kill tests land mid-claim.
    #[doc(hidden)]
    pub fn claim_pause(mut self, pause: Duration) -> Self {
        self.claim_pause = pause;
        self
    }

    /// Opens (creating if allowed) the region at `path`.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Region, Error> {
        Region::open_with(path.as_ref(), self)
    }
}

/// The largest claim timeout: a claim deadline further ahead than this is
/// treated as corrupt (or left from before a reboot) and taken over.
pub const MAX_CLAIM_TIMEOUT: Duration = Duration::from_secs(60);

/// Slots of a region created by [`Region::open`] when no capacity is given.
pub const DEFAULT_CAPACITY: u32 = 256;

/// A memory-mapped region file holding named, shared breakers. Cheap to
/// clone (a reference count); the mapping lives until the last clone and
/// the last [`SharedBreaker`] are dropped. Dropping it never removes the
/// file: use [`Region::remove`].
///
/// ```
/// use tripbit::{Config, Outcome, State};
/// let path = std::env::temp_dir().join(format!("tripbit-doc-region-{}", std::process::id()));
/// let region = tripbit_shm::Region::open(&path, 16).unwrap();
/// let b = region.breaker("acme.search.hotels", Config::new(1_000_000_000).consecutive_failures(2)).unwrap();
/// for _ in 0..2 {
///     let now = tripbit_shm::now();
///     b.try_acquire(now).unwrap().record(Outcome::Failure, now);
/// }
/// // Any process mapping the file sees the same verdict.
/// let again = tripbit_shm::Region::open(&path, 16).unwrap();
/// let same = again.breaker("acme.search.hotels", Config::new(1_000_000_000).consecutive_failures(2)).unwrap();
/// assert_eq!(same.state(tripbit_shm::now()), State::Open);
/// tripbit_shm::Region::remove(&path).unwrap();
/// ```
#[derive(Clone)]
pub struct Region {
    inner: Arc<Inner>,
}

struct Inner {
    map: Mapping,
    path: PathBuf,
    capacity: u32,
    writable: bool,
    claim_timeout: Duration,
    claim_pause: Duration,
}

impl core::fmt::Debug for Region {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Region")
            .field("path", &self.inner.path)
            .field("capacity", &self.inner.capacity)
            .field("writable", &self.inner.writable)
            .finish()
    }
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl Region {
    /// Default options: create if missing, mode 0600, same owner only.
    pub fn options() -> RegionOptions {
        RegionOptions::default()
    }

    /// Opens the region at `path`, creating it with `capacity` slots if it
    /// does not exist. An existing region must have that capacity. Never
    /// truncates, never unlinks, and a failed open changes nothing.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-open-{}", std::process::id()));
    /// let r = tripbit_shm::Region::open(&path, 4).unwrap();
    /// assert_eq!(r.capacity(), 4);
    /// assert!(matches!(
    ///     tripbit_shm::Region::open(&path, 8),
    ///     Err(tripbit_shm::Error::CapacityMismatch { found: 4, .. })
    /// ));
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn open(path: impl AsRef<Path>, capacity: u32) -> Result<Region, Error> {
        Region::options().capacity(capacity).open(path)
    }

    /// Attaches to an existing region of any capacity (never creates).
    ///
    /// ```
    /// let err = tripbit_shm::Region::attach("/nonexistent-dir/r").unwrap_err();
    /// assert!(err.to_string().contains("/nonexistent-dir/r"));
    /// ```
    pub fn attach(path: impl AsRef<Path>) -> Result<Region, Error> {
        Region::options().create(false).open(path)
    }

    /// Maps an existing region read-only, for listing ([`Region::slots`]).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-inspect-{}", std::process::id()));
    /// drop(tripbit_shm::Region::open(&path, 4).unwrap());
    /// let r = tripbit_shm::Region::inspect(&path).unwrap();
    /// assert_eq!(r.slots().len(), 4);
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn inspect(path: impl AsRef<Path>) -> Result<Region, Error> {
        Region::options()
            .create(false)
            .read_only(true)
            .allow_foreign_owner(true)
            .open(path)
    }

    /// Removes the region file at `path`, after checking that it is a
    /// tripbit region (a foreign file is never removed). Processes that
    /// still map it keep their mapping; the next open creates a new region.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-rm-{}", std::process::id()));
    /// drop(tripbit_shm::Region::open(&path, 4).unwrap());
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// assert!(!path.exists());
    /// ```
    pub fn remove(path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        drop(Region::inspect(path)?);
        std::fs::remove_file(path).map_err(io_err(path, "remove"))
    }

    fn open_with(path: &Path, opts: RegionOptions) -> Result<Region, Error> {
        if !portable_atomic::AtomicU128::is_lock_free() && !opts.read_only {
            return Err(Error::NotLockFree {
                path: path.to_path_buf(),
            });
        }
        let capacity = opts.capacity.unwrap_or(DEFAULT_CAPACITY);
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(Error::BadCapacity {
                path: path.to_path_buf(),
                capacity,
            });
        }
        // Two creators may race: the loser's link fails with EEXIST and it
        // attaches to the winner's region. An attacher that finds no file
        // creates one. Bounded: each round either succeeds or sees a file.
        for _ in 0..8 {
            match Region::attach_file(path, &opts) {
                Ok(map) => return Ok(Region::from_mapping(map, path, &opts)),
                Err(Error::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound
                        && opts.create
                        && !opts.read_only => {}
                Err(e) => return Err(e),
            }
            if let Some(map) = Region::create_file(path, capacity, &opts)? {
                return Ok(Region::from_mapping(
                    (map, capacity),
                    path,
                    &RegionOptions {
                        read_only: false,
                        ..opts
                    },
                ));
            }
        }
        Err(Error::Io {
            path: path.to_path_buf(),
            op: "open",
            source: io::Error::other("the file kept appearing and disappearing"),
        })
    }

    fn from_mapping((map, capacity): (Mapping, u32), path: &Path, opts: &RegionOptions) -> Region {
        Region {
            inner: Arc::new(Inner {
                map,
                path: path.to_path_buf(),
                capacity,
                writable: !opts.read_only,
                claim_timeout: opts.claim_timeout,
                claim_pause: opts.claim_pause,
            }),
        }
    }

    /// Creates and fully initialises a new region, then gives it its name
    /// atomically, so no process ever sees a half-written header under
    /// `path`. `None` if another process created `path` first.
    fn create_file(
        path: &Path,
        capacity: u32,
        opts: &RegionOptions,
    ) -> Result<Option<Mapping>, Error> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // Preferred: an anonymous file in the directory (`O_TMPFILE`), linked
        // under its name once complete. A creator killed midway leaves
        // nothing behind.
        let tmp = OpenOptions::new()
            .read(true)
            .write(true)
            .mode(opts.mode)
            .custom_flags(libc::O_TMPFILE)
            .open(dir);
        match tmp {
            Ok(file) => {
                let map = Region::init_file(&file, path, capacity, opts)?;
                match sys::link_anonymous(&file, path) {
                    Ok(()) => Ok(Some(map)),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
                    Err(e) => Err(io_err(path, "link")(e)),
                }
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
                ) =>
            {
                Region::create_named(dir, path, capacity, opts)
            }
            Err(e) => Err(io_err(path, "create")(e)),
        }
    }

    /// Fallback for file systems without `O_TMPFILE`: a uniquely named
    /// temporary file in the same directory, hard-linked under the name and
    /// then unlinked. A creator killed between the two leaves the temporary
    /// file (named `.<name>.<pid>.<ns>.tmp`) behind.
    fn create_named(
        dir: &Path,
        path: &Path,
        capacity: u32,
        opts: &RegionOptions,
    ) -> Result<Option<Mapping>, Error> {
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{base}.{}.{}.tmp", sys::pid(), sys::now()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(opts.mode)
            .open(&tmp)
            .map_err(io_err(path, "create"))?;
        let result =
            Region::init_file(&file, path, capacity, opts).and_then(
                |map| match std::fs::hard_link(&tmp, path) {
                    Ok(()) => Ok(Some(map)),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
                    Err(e) => Err(io_err(path, "link")(e)),
                },
            );
        let _ = std::fs::remove_file(&tmp);
        result
    }

    /// Sizes the new (not yet named) file, maps it and writes the header,
    /// the version word last. The slots are the zeros `set_len` gave.
    fn init_file(
        file: &File,
        path: &Path,
        capacity: u32,
        opts: &RegionOptions,
    ) -> Result<Mapping, Error> {
        // Exactly the requested mode, whatever the umask.
        file.set_permissions(std::fs::Permissions::from_mode(opts.mode))
            .map_err(io_err(path, "chmod"))?;
        let size = file_size(capacity);
        file.set_len(size).map_err(io_err(path, "resize"))?;
        let len = usize::try_from(size).map_err(|_| Error::BadCapacity {
            path: path.to_path_buf(),
            capacity,
        })?;
        let map = Mapping::new(file, len, true).map_err(io_err(path, "mmap"))?;
        let fields = HeaderFields {
            version: 0,
            ..HeaderFields::new(capacity, sys::pid(), sys::now())
        };
        let bytes = fields.to_bytes();
        // SAFETY: the mapping is `len ≥ HEADER_SIZE` writable bytes of a file
        // no other process can open yet (it has no name), so these plain
        // writes race with nothing.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), map.ptr(), HEADER_SIZE) };
        // SAFETY: offset 8 of a page-aligned mapping is aligned for u32 and
        // inside the header; an AtomicU32 has the layout of a u32.
        let version = unsafe { &*map.ptr().add(8).cast::<AtomicU32>() };
        // Ordering: Release, pairs with the header read of any process that
        // maps the file later (through `pread`, which sees the page cache):
        // the version is written after every other header field.
        version.store(LAYOUT_VERSION, Ordering::Release);
        Ok(map)
    }

    /// Opens an existing file and checks it, reading with `pread` only,
    /// before mapping exactly the size the header declares. Nothing is
    /// written.
    fn attach_file(path: &Path, opts: &RegionOptions) -> Result<(Mapping, u32), Error> {
        let file = OpenOptions::new()
            .read(true)
            .write(!opts.read_only)
            // A FIFO or device must not block the open.
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(io_err(path, "open"))?;
        let meta = file.metadata().map_err(io_err(path, "fstat"))?;
        let not_region = |reason| Error::NotARegion {
            path: path.to_path_buf(),
            reason,
        };
        if !meta.file_type().is_file() {
            return Err(not_region("not a regular file"));
        }
        let me = sys::euid();
        if meta.uid() != me && !opts.allow_foreign_owner {
            return Err(Error::ForeignOwner {
                path: path.to_path_buf(),
                owner: meta.uid(),
                me,
            });
        }
        let started = std::time::Instant::now();
        let (h, size) = loop {
            let size = file.metadata().map_err(io_err(path, "fstat"))?.len();
            if size == 0 {
                return Err(not_region("empty file"));
            }
            if size < HEADER_SIZE as u64 {
                return Err(Error::Truncated {
                    path: path.to_path_buf(),
                    expected: HEADER_SIZE as u64,
                    found: size,
                });
            }
            let mut buf = [0u8; HEADER_SIZE];
            file.read_exact_at(&mut buf, 0)
                .map_err(io_err(path, "read"))?;
            let h = HeaderFields::parse(&buf);
            if h.magic != MAGIC {
                return Err(if buf.iter().all(|&b| b == 0) {
                    not_region("zero-filled (no tripbit magic)")
                } else {
                    not_region("no tripbit magic (a foreign file)")
                });
            }
            if h.version != 0 || started.elapsed() >= opts.init_timeout {
                break (h, size);
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if h.version == 0 {
            return Err(Error::Initialising {
                path: path.to_path_buf(),
            });
        }
        if h.version != LAYOUT_VERSION {
            return Err(Error::Version {
                path: path.to_path_buf(),
                found: h.version,
                expected: LAYOUT_VERSION,
            });
        }
        if h.compute_checksum() != h.checksum {
            return Err(Error::Checksum {
                path: path.to_path_buf(),
            });
        }
        let mine = HeaderFields::new(h.capacity, 0, 0);
        let layout = |field, found: u64, expected: u64| {
            if found == expected {
                Ok(())
            } else {
                Err(Error::Layout {
                    path: path.to_path_buf(),
                    field,
                    found,
                    expected,
                })
            }
        };
        layout("header_size", h.header_size.into(), mine.header_size.into())?;
        layout("slot_size", h.slot_size.into(), mine.slot_size.into())?;
        layout("slot_align", h.slot_align.into(), mine.slot_align.into())?;
        layout(
            "breaker_size",
            h.breaker_size.into(),
            mine.breaker_size.into(),
        )?;
        layout(
            "breaker_align",
            h.breaker_align.into(),
            mine.breaker_align.into(),
        )?;
        layout("name_max", h.name_max.into(), mine.name_max.into())?;
        if h.capacity == 0 || h.capacity > MAX_CAPACITY {
            return Err(Error::Layout {
                path: path.to_path_buf(),
                field: "capacity",
                found: h.capacity.into(),
                expected: MAX_CAPACITY.into(),
            });
        }
        layout("file_size", h.file_size, file_size(h.capacity))?;
        if size < h.file_size {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                expected: h.file_size,
                found: size,
            });
        }
        layout("file length", size, h.file_size)?;
        if let Some(c) = opts.capacity {
            if c != h.capacity {
                return Err(Error::CapacityMismatch {
                    path: path.to_path_buf(),
                    requested: c,
                    found: h.capacity,
                });
            }
        }
        let len = usize::try_from(h.file_size).map_err(|_| not_region("too large to map"))?;
        let map = Mapping::new(&file, len, !opts.read_only).map_err(io_err(path, "mmap"))?;
        // The file may have been cut short between the check and the map;
        // check again now that the mapping exists (this crate never
        // truncates; see the crate docs on other writers).
        let after = file.metadata().map_err(io_err(path, "fstat"))?.len();
        if after < h.file_size {
            return Err(Error::Truncated {
                path: path.to_path_buf(),
                expected: h.file_size,
                found: after,
            });
        }
        Ok((map, h.capacity))
    }

    /// The region file's path.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-path-{}", std::process::id()));
    /// assert_eq!(tripbit_shm::Region::open(&path, 2).unwrap().path(), path);
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The number of slots.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-cap-{}", std::process::id()));
    /// assert_eq!(tripbit_shm::Region::open(&path, 3).unwrap().capacity(), 3);
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn capacity(&self) -> u32 {
        self.inner.capacity
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping starts with HEADER_SIZE validated bytes, page
        // aligned; `Header` is integers and atomics (every bit pattern
        // valid), and after publication it is only read.
        unsafe { &*self.inner.map.ptr().cast::<Header>() }
    }

    fn slot(&self, index: u32) -> &Slot {
        debug_assert!(index < self.inner.capacity);
        let off = HEADER_SIZE + index as usize * SLOT_SIZE;
        // SAFETY: `index < capacity`, and the mapping is exactly
        // `file_size(capacity)` bytes (checked before mapping), so the slot
        // lies inside it; HEADER_SIZE and SLOT_SIZE are multiples of
        // SLOT_ALIGN and the mapping is page aligned, so it is aligned.
        // `Slot` is atomics plus a `Breaker` behind `UnsafeCell` (every bit
        // pattern valid: atomic words and integers), so any bytes are a
        // valid `Slot`; all shared mutation goes through atomics.
        unsafe { &*self.inner.map.ptr().add(off).cast::<Slot>() }
    }

    /// The breaker named `name`, claiming a slot for it with `config` if no
    /// process has yet. Lock-free: two processes that claim the same new
    /// name at once end up with the same slot. Waits only for a slot another
    /// process is claiming at this moment (microseconds), or, if that
    /// process died mid-claim, until the claim deadline, then takes it over.
    ///
    /// Errors: [`Error::BadName`], [`Error::Config`], [`Error::TableFull`],
    /// [`Error::ConfigMismatch`] (the name is bound to another config),
    /// [`Error::CorruptSlot`], [`Error::ReadOnly`]. A failed call writes
    /// nothing.
    ///
    /// ```
    /// use tripbit::Config;
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-claim-{}", std::process::id()));
    /// let r = tripbit_shm::Region::open(&path, 4).unwrap();
    /// let a = r.breaker("a.b", Config::new(1_000).consecutive_failures(3)).unwrap();
    /// let again = r.breaker("a.b", Config::new(1_000).consecutive_failures(3)).unwrap();
    /// assert_eq!(a.index(), again.index());
    /// let err = r.breaker("a.b", Config::new(1_000).consecutive_failures(4)).unwrap_err();
    /// assert!(matches!(err, tripbit_shm::Error::ConfigMismatch { .. }));
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn breaker(&self, name: &str, config: Config) -> Result<SharedBreaker, Error> {
        self.check_name(name)?;
        // Checked before anything is written; built again in `claim_at`.
        Breaker::try_new(config).map_err(|source| Error::Config {
            name: name.to_owned(),
            source,
        })?;
        if !self.inner.writable {
            return Err(Error::ReadOnly {
                path: self.path().to_path_buf(),
            });
        }
        let fp = fingerprint(&config);
        let cap = self.inner.capacity;
        let start = (fnv1a(name.as_bytes()) % u64::from(cap)) as u32;
        for k in 0..cap {
            let index = (start + k) % cap;
            if let Some(found) = self.claim_at(index, name, fp, config)? {
                return Ok(found);
            }
        }
        Err(Error::TableFull {
            path: self.path().to_path_buf(),
            name: name.to_owned(),
            capacity: cap,
        })
    }

    /// The breaker named `name` if some process has bound it, without
    /// claiming anything (`Ok(None)` if it is unbound). Waits, like
    /// [`breaker`](Self::breaker), for a claim in progress on the name's
    /// probe chain. [`Error::ReadOnly`] on a region opened for inspection
    /// (whose mapping is a private snapshot: use [`slots`](Self::slots)).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-get-{}", std::process::id()));
    /// let r = tripbit_shm::Region::open(&path, 4).unwrap();
    /// assert!(r.get("x").unwrap().is_none());
    /// r.breaker("x", tripbit::Config::new(10)).unwrap();
    /// assert!(r.get("x").unwrap().is_some());
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn get(&self, name: &str) -> Result<Option<SharedBreaker>, Error> {
        self.check_name(name)?;
        if !self.inner.writable {
            return Err(Error::ReadOnly {
                path: self.path().to_path_buf(),
            });
        }
        let cap = self.inner.capacity;
        let start = (fnv1a(name.as_bytes()) % u64::from(cap)) as u32;
        for k in 0..cap {
            let index = (start + k) % cap;
            let mut seen = None;
            loop {
                let c = self.control(index)?;
                match c.state {
                    SlotState::Unused => return Ok(None),
                    SlotState::Claiming => {
                        if self.claim_expired(c, &mut seen) {
                            break;
                        }
                        backoff();
                    }
                    SlotState::Live => {
                        if self.name_is(index, name) {
                            self.check_live(index)?;
                            return Ok(Some(self.handle(index, name)));
                        }
                        break;
                    }
                }
            }
        }
        Ok(None)
    }

    fn check_name(&self, name: &str) -> Result<(), Error> {
        let bad = |reason| Error::BadName {
            path: self.path().to_path_buf(),
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("is empty"));
        }
        if name.len() > NAME_MAX {
            return Err(bad("is longer than the 128 bytes a slot holds"));
        }
        if name.as_bytes().contains(&0) {
            return Err(bad("contains a NUL byte"));
        }
        Ok(())
    }

    fn control(&self, index: u32) -> Result<Control, Error> {
        // Ordering: Acquire, pairs with the Release CAS that made the slot
        // live (name, fingerprint and breaker were written before it).
        let w = self.slot(index).control.load(Ordering::Acquire);
        Control::unpack(w).ok_or_else(|| Error::CorruptSlot {
            path: self.path().to_path_buf(),
            index,
            reason: "control word holds no slot state",
        })
    }

    fn now_ms() -> u64 {
        sys::now() / 1_000_000
    }

    /// Whether a claim may be taken over: past its deadline and its claimer
    /// is dead; or ten timeouts past its deadline, or seen unchanged by this
    /// waiter for ten timeouts (a claimer alive but stuck, one whose pid
    /// means nothing here, or a corrupt word whose deadline lies ahead);
    /// or a deadline further ahead than any claimer sets.
    fn claim_expired(&self, c: Control, seen: &mut Option<(u64, Instant)>) -> bool {
        let now = Region::now_ms();
        if c.ms > now.saturating_add(MAX_CLAIM_TIMEOUT.as_millis() as u64) {
            // No claimer sets a deadline that far ahead: the word is from
            // before a reboot (the clock restarted) or corrupt.
            return true;
        }
        let timeout = self.inner.claim_timeout;
        let word = c.pack();
        let since = match *seen {
            Some((w, t)) if w == word => t,
            _ => {
                let t = Instant::now();
                *seen = Some((word, t));
                t
            }
        };
        if since.elapsed() >= timeout.saturating_mul(10) {
            return true;
        }
        if now < c.ms {
            return false;
        }
        let timeout = timeout.as_millis() as u64;
        !sys::alive(c.pid) || now >= c.ms.saturating_add(timeout.saturating_mul(9))
    }

    /// One slot of `name`'s probe chain: `Some` if the name is (or now is)
    /// here, `None` to go on to the next slot.
    fn claim_at(
        &self,
        index: u32,
        name: &str,
        fp: u64,
        config: Config,
    ) -> Result<Option<SharedBreaker>, Error> {
        let slot = self.slot(index);
        let mut seen = None;
        loop {
            let c = self.control(index)?;
            let w = c.pack();
            match c.state {
                SlotState::Live => {
                    if !self.name_is(index, name) {
                        return Ok(None);
                    }
                    // Ordering: Relaxed: ordered by the Acquire load of the
                    // live control word in `control`.
                    if slot.fingerprint.load(Ordering::Relaxed) != fp {
                        return Err(Error::ConfigMismatch {
                            path: self.path().to_path_buf(),
                            name: name.to_owned(),
                        });
                    }
                    self.check_live(index)?;
                    return Ok(Some(self.handle(index, name)));
                }
                SlotState::Claiming if !self.claim_expired(c, &mut seen) => {
                    // Someone is writing this slot, maybe for this very name:
                    // wait for it rather than skip it (skipping could bind the
                    // name twice).
                    backoff();
                }
                SlotState::Unused | SlotState::Claiming => {
                    let mine = Control {
                        state: SlotState::Claiming,
                        pid: sys::pid(),
                        ms: Region::now_ms() + self.inner.claim_timeout.as_millis() as u64,
                    }
                    .pack();
                    if mine == w {
                        // Our own claim word (this process, this very ms):
                        // another thread of ours is filling the slot.
                        backoff();
                        continue;
                    }
                    // Ordering: Acquire on success: the writes below must not
                    // move before the claim (another process's fill of a
                    // dead claim happened before its claim word we replace).
                    // Failure Relaxed: re-read in `control`.
                    if slot
                        .control
                        .compare_exchange(w, mine, Ordering::Acquire, Ordering::Relaxed)
                        .is_err()
                    {
                        continue;
                    }
                    // Validated by `breaker` already: this cannot fail.
                    let b = Breaker::try_new(config).map_err(|source| Error::Config {
                        name: name.to_owned(),
                        source,
                    })?;
                    self.fill(index, name, fp, b);
                    if !self.inner.claim_pause.is_zero() {
                        std::thread::sleep(self.inner.claim_pause);
                    }
                    let live = Control {
                        state: SlotState::Live,
                        pid: sys::pid(),
                        ms: Region::now_ms(),
                    }
                    .pack();
                    // Ordering: Release on success, pairs with the Acquire
                    // load in `control`: whoever sees the slot live sees its
                    // name, fingerprint and breaker. Failure Relaxed: our
                    // claim was taken over (we stalled past ten timeouts);
                    // look at the slot again.
                    match slot.control.compare_exchange(
                        mine,
                        live,
                        Ordering::Release,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return Ok(Some(self.handle(index, name))),
                        Err(_) => continue,
                    }
                }
            }
        }
    }

    /// Writes name, fingerprint and breaker into a slot this process holds
    /// the claim of.
    fn fill(&self, index: u32, name: &str, fp: u64, breaker: Breaker) {
        let slot = self.slot(index);
        let mut words = [0u64; NAME_MAX / 8];
        for (i, chunk) in name.as_bytes().chunks(8).enumerate() {
            let mut a = [0u8; 8];
            a[..chunk.len()].copy_from_slice(chunk);
            words[i] = u64::from_ne_bytes(a);
        }
        // Ordering (every store here): Relaxed, published by the Release CAS
        // that makes the slot live.
        for (dst, w) in slot.name.iter().zip(words) {
            dst.store(w, Ordering::Relaxed);
        }
        slot.name_len.store(name.len() as u64, Ordering::Relaxed);
        slot.fingerprint.store(fp, Ordering::Relaxed);
        slot.claims.fetch_add(1, Ordering::Relaxed);
        // SAFETY: inside the mapping and aligned (see `slot`). This process
        // holds the slot's claim, so no process reads the breaker until the
        // Release CAS that publishes it (a stalled former claimer could
        // still write here; its bytes would be a valid breaker too, and it
        // cannot publish: its CAS from its own claim word fails).
        unsafe { slot.breaker.get().write(breaker) };
    }

    /// Whether live slot `index` holds `name`.
    fn name_is(&self, index: u32, name: &str) -> bool {
        let slot = self.slot(index);
        // Ordering (loads here): Relaxed, ordered after the Acquire load of
        // the live control word.
        if slot.name_len.load(Ordering::Relaxed) != name.len() as u64 {
            return false;
        }
        name.as_bytes()
            .chunks(8)
            .zip(slot.name.iter())
            .all(|(chunk, w)| {
                let stored = w.load(Ordering::Relaxed).to_ne_bytes();
                stored[..chunk.len()] == *chunk
            })
    }

    fn stored_name(&self, index: u32) -> Option<String> {
        let slot = self.slot(index);
        // Ordering: Relaxed, as in `name_is`.
        let len = slot.name_len.load(Ordering::Relaxed);
        if len == 0 || len > NAME_MAX as u64 {
            return None;
        }
        let mut bytes = Vec::with_capacity(NAME_MAX);
        for w in &slot.name {
            bytes.extend_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
        }
        bytes.truncate(len as usize);
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A live slot's breaker must hold in-range settings.
    fn check_live(&self, index: u32) -> Result<(), Error> {
        // SAFETY: see `slot`; the slot is live, so its breaker was written
        // before the Release CAS we observed and is only used atomically.
        let b = unsafe { &*self.slot(index).breaker.get() };
        if b.is_valid() {
            Ok(())
        } else {
            Err(Error::CorruptSlot {
                path: self.path().to_path_buf(),
                index,
                reason: "live breaker holds out-of-range settings",
            })
        }
    }

    fn handle(&self, index: u32, name: &str) -> SharedBreaker {
        SharedBreaker {
            region: self.clone(),
            index,
            name: name.into(),
        }
    }

    /// Every slot, in index order, as it is at this instant.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-slots-{}", std::process::id()));
    /// let r = tripbit_shm::Region::open(&path, 4).unwrap();
    /// r.breaker("x", tripbit::Config::new(10)).unwrap();
    /// let live: Vec<_> = r.slots().into_iter().filter(|s| s.name.is_some()).collect();
    /// assert_eq!(live[0].name.as_deref(), Some("x"));
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn slots(&self) -> Vec<SlotInfo> {
        let now = sys::now();
        (0..self.inner.capacity)
            .map(|index| {
                let slot = self.slot(index);
                // Ordering: Acquire, as in `control`.
                let w = slot.control.load(Ordering::Acquire);
                let c = Control::unpack(w);
                let live = matches!(
                    c,
                    Some(Control {
                        state: SlotState::Live,
                        ..
                    })
                );
                // SAFETY: see `check_live`.
                let b = unsafe { &*slot.breaker.get() };
                let valid = live && b.is_valid();
                SlotInfo {
                    index,
                    state: c.map(|c| c.state),
                    pid: c.map_or(0, |c| c.pid),
                    since_ms: c.map_or(0, |c| c.ms),
                    name: if live { self.stored_name(index) } else { None },
                    // Ordering: Relaxed, as in `name_is`.
                    fingerprint: slot.fingerprint.load(Ordering::Relaxed),
                    claims: slot.claims.load(Ordering::Relaxed),
                    snapshot: valid.then(|| b.snapshot(now)),
                    settings: valid.then(|| format!("{b:?}")),
                }
            })
            .collect()
    }

    /// Region facts for listings: layout version, creator pid and creation
    /// tick.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("tripbit-doc-info-{}", std::process::id()));
    /// let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// assert_eq!(r.info().creator_pid, std::process::id());
    /// tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn info(&self) -> RegionInfo {
        let h = self.header();
        RegionInfo {
            // Ordering: Acquire, pairs with the creator's Release store.
            version: h.version.load(Ordering::Acquire),
            capacity: h.capacity,
            slot_size: h.slot_size,
            breaker_size: h.breaker_size,
            file_size: h.file_size,
            creator_pid: h.creator_pid,
            created_at: h.created_at,
        }
    }
}

/// Header facts of a region ([`Region::info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    /// Layout version.
    pub version: u32,
    /// Slots.
    pub capacity: u32,
    /// Bytes per slot.
    pub slot_size: u32,
    /// Bytes per core breaker.
    pub breaker_size: u32,
    /// Bytes of the file.
    pub file_size: u64,
    /// The pid that created the region.
    pub creator_pid: u32,
    /// `CLOCK_MONOTONIC` ns at creation.
    pub created_at: u64,
}

/// One slot as [`Region::slots`] saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    /// Slot index.
    pub index: u32,
    /// Its state; `None` if the control word is corrupt.
    pub state: Option<SlotState>,
    /// Claimer's pid (claiming or live).
    pub pid: u32,
    /// Claiming: the claim deadline; live: when it went live
    /// (`CLOCK_MONOTONIC` ms).
    pub since_ms: u64,
    /// The name, for a live slot.
    pub name: Option<String>,
    /// The config fingerprint.
    pub fingerprint: u64,
    /// Times the slot was claimed (more than 1 after takeovers).
    pub claims: u64,
    /// The breaker's counters now, for a live slot with a valid breaker.
    pub snapshot: Option<Snapshot>,
    /// The breaker's settings (its `Debug` text), for the same slots.
    pub settings: Option<String>,
}

fn backoff() {
    std::thread::sleep(Duration::from_micros(200));
}

/// A handle on one named breaker of a region: derefs to the core
/// [`tripbit::Breaker`], so every core method (`try_acquire`,
/// `acquire_ticket`, `record_ticket`, `state`, `snapshot`, `force_open`,
/// `reset`, ...) runs the core's state machine on the shared slot. Pass it
/// ticks from [`now`](crate::now) (`CLOCK_MONOTONIC` ns, the same in every
/// process), never from `tripbit::clock::now` (which counts from each
/// process's start). Keeps the region mapped while it lives. `Send + Sync`.
///
/// ```
/// use tripbit::{Config, Outcome};
/// let path = std::env::temp_dir().join(format!("tripbit-doc-sb-{}", std::process::id()));
/// let r = tripbit_shm::Region::open(&path, 4).unwrap();
/// let b = r.breaker("svc", Config::new(1_000_000)).unwrap();
/// let r2: Result<u32, _> = b.call(|| Ok::<_, std::io::Error>(7));
/// assert_eq!(r2.unwrap(), 7);
/// assert_eq!(b.name(), "svc");
/// tripbit_shm::Region::remove(&path).unwrap();
/// ```
#[derive(Clone)]
pub struct SharedBreaker {
    region: Region,
    index: u32,
    name: Box<str>,
}

impl core::fmt::Debug for SharedBreaker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedBreaker")
            .field("path", &self.region.path())
            .field("name", &self.name)
            .field("index", &self.index)
            .field("breaker", &**self)
            .finish()
    }
}

impl Deref for SharedBreaker {
    type Target = Breaker;

    #[inline]
    fn deref(&self) -> &Breaker {
        let slot = self.region.slot(self.index);
        // SAFETY: the slot is live (a handle is only made from a live slot
        // whose breaker passed `is_valid`), inside the mapping this handle
        // keeps alive through `region`; from now on the breaker is only
        // accessed through its atomic methods (shared references).
        unsafe { &*slot.breaker.get() }
    }
}

impl SharedBreaker {
    /// The name this breaker is bound to.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-name-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// assert_eq!(r.breaker("n", tripbit::Config::new(5)).unwrap().name(), "n");
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The slot index in the region.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-index-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// assert!(r.breaker("n", tripbit::Config::new(5)).unwrap().index() < 2);
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The region this breaker lives in.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-reg-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// assert_eq!(r.breaker("n", tripbit::Config::new(5)).unwrap().region().path(), path);
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// A pointer to the core breaker in the mapping (for the C API, which
    /// hands it out as `tripbit_breaker_t *`). Valid while this handle, or
    /// any clone of its region, lives.
    #[doc(hidden)]
    pub fn as_ptr(&self) -> *const Breaker {
        self.region.slot(self.index).breaker.get()
    }

    /// Runs `f` if the breaker admits a call, recording its outcome with
    /// the shared clock: `Ok` counts as a success, `Err` as a failure. The
    /// core's `Breaker::call`, whose clock (`tripbit::clock`, on Linux
    /// `CLOCK_MONOTONIC`) is the shared clock of every region: no clock read
    /// on the closed path, a coarse one for a rejection while open.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-call-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// let b = r.breaker("svc", tripbit::Config::new(1_000_000_000).consecutive_failures(1)).unwrap();
    /// let e: Result<(), _> = b.call(|| Err("down"));
    /// assert!(matches!(e, Err(tripbit::CallError::Failed("down"))));
    /// let e: Result<(), _> = b.call(|| Err::<(), _>("down"));
    /// assert!(matches!(e, Err(tripbit::CallError::Rejected(_))));
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    #[inline]
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        let b: &Breaker = self;
        b.call(f)
    }

    /// The generation and state now: compare the generation with the one
    /// seen last to learn, cheaply, that another process moved the breaker
    /// (every transition bumps it). See [`Watch`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-gen-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// let b = r.breaker("svc", tripbit::Config::new(10)).unwrap();
    /// let (g, _) = b.generation();
    /// b.force_open();
    /// assert_ne!(b.generation().0, g);
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn generation(&self) -> (u32, tripbit::State) {
        let s = self.snapshot(sys::now());
        (s.generation, s.stored_state)
    }

    /// A watcher of this breaker's transitions, for listeners in every
    /// process: see [`Watch::poll`].
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-watch-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// let b = r.breaker("svc", tripbit::Config::new(10)).unwrap();
    /// let w = b.watch();
    /// assert_eq!(w.poll(), None);
    /// b.force_open();
    /// assert_eq!(w.poll(), Some((tripbit::State::Closed, tripbit::State::ForcedOpen)));
    /// assert_eq!(w.poll(), None);
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn watch(&self) -> Watch {
        let (generation, state) = self.generation();
        Watch {
            breaker: self.clone(),
            seen: AtomicU64::new(seen_word(generation, state)),
        }
    }
}

/// `generation << 8 | state tag`: what a [`Watch`] last saw.
fn seen_word(generation: u32, state: tripbit::State) -> u64 {
    u64::from(generation) << 8 | state as u64
}

/// Observes another process's transitions of a shared breaker: each
/// [`poll`](Watch::poll) compares the breaker's generation with the last one
/// seen. Call it from your own calls or a timer: a transition is seen at
/// most one poll interval late, once per watcher, however many threads poll
/// it (the change goes to the one whose CAS wins). Several transitions
/// between two polls are reported as one change from the state seen last to
/// the state now. A process that makes a transition itself tells the watch
/// with [`saw`](Watch::saw), so a poll does not report it again.
#[derive(Debug)]
pub struct Watch {
    breaker: SharedBreaker,
    /// `generation << 8 | state tag` of what this watcher reported last.
    /// Every access is `Relaxed`: a marker read and CASed only here; it
    /// orders no other memory.
    seen: AtomicU64,
}

impl Watch {
    /// `Some((before, now))` if the breaker changed since the last poll.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-poll-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// let b = r.breaker("svc", tripbit::Config::new(10)).unwrap();
    /// let w = b.watch();
    /// b.force_open();
    /// b.reset();
    /// assert_eq!(w.poll(), Some((tripbit::State::Closed, tripbit::State::Closed)));
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn poll(&self) -> Option<(tripbit::State, tripbit::State)> {
        let (generation, state) = self.breaker.generation();
        let next = seen_word(generation, state);
        // Ordering: Relaxed, see `seen`.
        let mut old = self.seen.load(Ordering::Relaxed);
        loop {
            if old >> 8 == u64::from(generation) {
                return None;
            }
            // Ordering: Relaxed both ways, see `seen`.
            match self
                .seen
                .compare_exchange_weak(old, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => old = actual,
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        let before = tripbit::State::from_tag(old as u8).unwrap_or(tripbit::State::Closed);
        Some((before, state))
    }

    /// The 24-bit generation this watcher saw last: a caller holding the
    /// generation of its own admission (`Ticket::generation`) compares it
    /// with this before paying for a [`poll`](Self::poll).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-seen-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// let b = r.breaker("svc", tripbit::Config::new(10)).unwrap();
    /// let w = b.watch();
    /// assert_eq!(w.seen_generation(), b.snapshot(0).generation);
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn seen_generation(&self) -> u32 {
        // Ordering: Relaxed, see `seen`.
        #[allow(clippy::cast_possible_truncation)]
        let g = (self.seen.load(Ordering::Relaxed) >> 8) as u32;
        g
    }

    /// Records a transition this process made (and reports itself), so a
    /// later poll does not report it again.
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("tripbit-doc-saw-{}", std::process::id()));
    /// # let r = tripbit_shm::Region::open(&path, 2).unwrap();
    /// let b = r.breaker("svc", tripbit::Config::new(10)).unwrap();
    /// let w = b.watch();
    /// let t = b.force_open().unwrap();
    /// w.saw(t.generation, t.to);
    /// assert_eq!(w.poll(), None);
    /// # tripbit_shm::Region::remove(&path).unwrap();
    /// ```
    pub fn saw(&self, generation: u32, state: tripbit::State) {
        // Ordering: Relaxed, see `seen`.
        self.seen
            .store(seen_word(generation, state), Ordering::Relaxed);
    }
}
