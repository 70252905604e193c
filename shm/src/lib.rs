#![doc = include_str!("../README.md")]
#![cfg(target_os = "linux")]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod error;
mod layout;
mod region;
mod sys;

pub use error::Error;
pub use layout::{MAX_CAPACITY, NAME_MAX, SlotState, fingerprint};
pub use region::{
    DEFAULT_CAPACITY, MAX_CLAIM_TIMEOUT, Region, RegionInfo, RegionOptions, SharedBreaker,
    SlotInfo, Watch,
};
pub use sys::now;
