//! [`Error`]: every way opening a region or claiming a name can fail. Each
//! variant names the path, and the name where there is one.

use std::fmt;
use std::io;
use std::path::PathBuf;

use tripbit::ConfigError;

/// Why a region could not be opened, or a name could not be bound.
///
/// ```
/// use tripbit_shm::{Error, Region};
/// let err = Region::open("/nonexistent-dir/region", 16).unwrap_err();
/// assert!(matches!(err, Error::Io { .. }));
/// assert!(err.to_string().contains("/nonexistent-dir/region"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed: `op` says which step ("open", "create",
    /// "mmap", ...). A missing directory is an `Io` error of kind
    /// `NotFound` on "create".
    Io {
        /// The region file.
        path: PathBuf,
        /// The step that failed.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The file exists but is not a tripbit region (no magic, a directory,
    /// a zero-filled file, ...).
    NotARegion {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: &'static str,
    },
    /// The file is shorter than its header says it must be.
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes a region needs (the header's `file_size`, or the header
        /// itself when not even that fits).
        expected: u64,
        /// Bytes the file has.
        found: u64,
    },
    /// The region was written by a build with another layout version.
    Version {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The region's header checksum does not match its fields.
    Checksum {
        /// The file.
        path: PathBuf,
    },
    /// A header field disagrees with this build (breaker or slot size,
    /// alignment, capacity, file size): the region belongs to another build
    /// or is corrupt, and its state is not shared.
    Layout {
        /// The file.
        path: PathBuf,
        /// The header field.
        field: &'static str,
        /// Its value in the file.
        found: u64,
        /// The value this build expects.
        expected: u64,
    },
    /// The region's version word stayed 0 ("initialising") past the wait.
    Initialising {
        /// The file.
        path: PathBuf,
    },
    /// The file belongs to another user; pass
    /// [`RegionOptions::allow_foreign_owner`](crate::RegionOptions::allow_foreign_owner)
    /// to use it anyway.
    ForeignOwner {
        /// The file.
        path: PathBuf,
        /// The file's owner uid.
        owner: u32,
        /// This process's effective uid.
        me: u32,
    },
    /// A capacity of 0 or above [`MAX_CAPACITY`](crate::MAX_CAPACITY).
    BadCapacity {
        /// The region file.
        path: PathBuf,
        /// The capacity asked for.
        capacity: u32,
    },
    /// The region exists with a different capacity than the one asked for.
    CapacityMismatch {
        /// The file.
        path: PathBuf,
        /// The capacity asked for.
        requested: u32,
        /// The capacity of the region.
        found: u32,
    },
    /// A name is empty, longer than [`NAME_MAX`](crate::NAME_MAX) bytes, or
    /// contains a NUL byte.
    BadName {
        /// The region file.
        path: PathBuf,
        /// The name (lossy, for the message).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Every slot is live with another name.
    TableFull {
        /// The region file.
        path: PathBuf,
        /// The name that found no slot.
        name: String,
        /// The region's capacity.
        capacity: u32,
    },
    /// The name is already bound to a breaker with another config.
    ConfigMismatch {
        /// The region file.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// The config is refused by the core (or is not a consecutive-failures
    /// config).
    Config {
        /// The name it was given for.
        name: String,
        /// The core's reason, naming the setting.
        source: ConfigError,
    },
    /// A slot on the name's probe chain holds bytes no tripbit build writes
    /// (a corrupt control word, or a live breaker whose settings are out of
    /// range).
    CorruptSlot {
        /// The region file.
        path: PathBuf,
        /// The slot index.
        index: u32,
        /// What is wrong.
        reason: &'static str,
    },
    /// The core's 128-bit atomic words are not lock-free on this CPU (no
    /// 128-bit compare-and-swap): their fallback locks live in each process,
    /// so a breaker shared between processes would race. Never on x86_64
    /// CPUs with `cmpxchg16b` (every x86_64 CPU since about 2008) or aarch64.
    NotLockFree {
        /// The region file.
        path: PathBuf,
    },
    /// The region was opened read-only (for inspection): it cannot bind names.
    ReadOnly {
        /// The region file.
        path: PathBuf,
    },
}

impl Error {
    /// The region file this error is about, when there is one.
    ///
    /// ```
    /// let err = tripbit_shm::Region::open("/nonexistent-dir/r", 4).unwrap_err();
    /// assert_eq!(err.path().unwrap(), std::path::Path::new("/nonexistent-dir/r"));
    /// ```
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::Io { path, .. }
            | Error::NotARegion { path, .. }
            | Error::Truncated { path, .. }
            | Error::Version { path, .. }
            | Error::Checksum { path }
            | Error::Layout { path, .. }
            | Error::Initialising { path }
            | Error::ForeignOwner { path, .. }
            | Error::BadCapacity { path, .. }
            | Error::CapacityMismatch { path, .. }
            | Error::BadName { path, .. }
            | Error::TableFull { path, .. }
            | Error::ConfigMismatch { path, .. }
            | Error::CorruptSlot { path, .. }
            | Error::NotLockFree { path }
            | Error::ReadOnly { path } => Some(path),
            Error::Config { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, op, source } => {
                write!(
                    f,
                    "tripbit region {}: {op} failed: {source}",
                    path.display()
                )?;
                if *op == "create" && source.kind() == io::ErrorKind::NotFound {
                    if let Some(dir) = path.parent() {
                        write!(f, " (does the directory {} exist?)", dir.display())?;
                    }
                }
                Ok(())
            }
            Error::NotARegion { path, reason } => {
                write!(f, "{} is not a tripbit region: {reason}", path.display())
            }
            Error::Truncated {
                path,
                expected,
                found,
            } => write!(
                f,
                "tripbit region {} is truncated: {found} bytes, a region needs {expected}",
                path.display()
            ),
            Error::Version {
                path,
                found,
                expected,
            } => write!(
                f,
                "tripbit region {} has layout version {found}, this build reads version {expected}",
                path.display()
            ),
            Error::Checksum { path } => write!(
                f,
                "tripbit region {}: header checksum mismatch (corrupt header)",
                path.display()
            ),
            Error::Layout {
                path,
                field,
                found,
                expected,
            } => write!(
                f,
                "tripbit region {}: header field {field} is {found}, this build needs {expected} (another build or a corrupt file; its state is not shared)",
                path.display()
            ),
            Error::Initialising { path } => write!(
                f,
                "tripbit region {} is still initialising (version word 0) after waiting; if its creator died, remove the file",
                path.display()
            ),
            Error::ForeignOwner { path, owner, me } => write!(
                f,
                "tripbit region {} is owned by uid {owner}, not by this process (uid {me}); refused unless allow_foreign_owner is set",
                path.display()
            ),
            Error::BadCapacity { path, capacity } => write!(
                f,
                "tripbit region {}: capacity {capacity} is not in 1..={}",
                path.display(),
                crate::MAX_CAPACITY
            ),
            Error::CapacityMismatch {
                path,
                requested,
                found,
            } => write!(
                f,
                "tripbit region {} has capacity {found}, not the {requested} asked for",
                path.display()
            ),
            Error::BadName { path, name, reason } => write!(
                f,
                "tripbit region {}: name {name:?} {reason}",
                path.display()
            ),
            Error::TableFull {
                path,
                name,
                capacity,
            } => write!(
                f,
                "tripbit region {} is full: all {capacity} slots are taken, no slot for {name:?}",
                path.display()
            ),
            Error::ConfigMismatch { path, name } => write!(
                f,
                "tripbit region {}: {name:?} is already bound to a breaker with another config",
                path.display()
            ),
            Error::Config { name, source } => {
                write!(f, "breaker {name:?}: {source} (setting {})", source.field())
            }
            Error::CorruptSlot {
                path,
                index,
                reason,
            } => write!(
                f,
                "tripbit region {}: slot {index} is corrupt: {reason}",
                path.display()
            ),
            Error::NotLockFree { path } => write!(
                f,
                "tripbit region {}: this CPU has no lock-free 128-bit atomics, so breakers cannot be shared between processes",
                path.display()
            ),
            Error::ReadOnly { path } => write!(
                f,
                "tripbit region {} was opened read-only: it cannot bind names",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Config { source, .. } => Some(source),
            _ => None,
        }
    }
}
