//! Picks the state word's width and how it is written:
//! - `tripbit_word32` wherever the target has no native 64-bit atomics
//!   (Cortex-M0/M3/M4/M7, RV32), so that the word is one 32-bit atomic
//!   there (`src/state.rs`);
//! - `tripbit_cs_ops` as well where it has no 32-bit CAS either
//!   (Cortex-M0, RV32 without A): each writing operation is one critical
//!   section (`src/sync.rs`, `op`).
//!
//! A host build gets them with `RUSTFLAGS="--cfg tripbit_word32"` (the
//! tests, loom and miri of the 32-bit layout) and
//! `RUSTFLAGS="--cfg tripbit_word32 --cfg tripbit_cs_ops"` (the tests of
//! the critical-section operations, on `critical-section`'s `std` lock).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tripbit_word32)");
    println!("cargo::rustc-check-cfg=cfg(tripbit_cs_ops)");
    println!("cargo::rerun-if-changed=build.rs");
    let atomics = std::env::var("CARGO_CFG_TARGET_HAS_ATOMIC").unwrap_or_default();
    let has = |w: &str| atomics.split(',').any(|a| a == w);
    if !has("64") {
        println!("cargo::rustc-cfg=tripbit_word32");
    }
    if !has("32") {
        println!("cargo::rustc-cfg=tripbit_cs_ops");
    }
}
