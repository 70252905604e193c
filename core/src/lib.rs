#![doc = include_str!("../README.md")]
#![no_std]
// `deny`, not `forbid`: the one exception is `clock`'s `clock_gettime`
// calls (std, Linux), allowed there and nowhere else.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "std")]
extern crate std;

// The logging shim: `defmt` when that feature is on, nothing otherwise.
mod fmt;

mod breaker;
#[cfg(feature = "std")]
mod call;
mod config;
#[cfg(feature = "embedded-hal")]
#[cfg_attr(docsrs, doc(cfg(feature = "embedded-hal")))]
pub mod hal;
mod machine;
mod owned;
mod policy;
mod registry;
mod state;
mod sync;
mod types;
mod window;

pub use breaker::{Breaker, Permit};
#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
pub use call::{CallError, clock};
pub use config::{
    Config, ConfigError, MAX_BACKOFF_FACTOR, MAX_BACKOFF_LEVEL, MAX_BUCKET_CALLS, MAX_CLOSE_AFTER,
    MAX_CLOSED_TICKET_GENERATION, MAX_FAILURE_THRESHOLD, MAX_PERIOD_TICKS, MAX_PROBES_LIMIT, Trip,
    WORD_BITS, WindowKind,
};
pub use owned::OwnedPermit;
pub use policy::{Consecutive, Policy};
pub use registry::{MAX_KEY_LEN, Registry, RegistryError, validate_key};
pub use state::State;
pub use types::{
    OpenedBy, Outcome, Rejected, Snapshot, Stale, TickBounds, Ticket, Transition, WindowCounts,
};
pub use window::Window;

/// The repository README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct RootReadme;
