//! Picks the state word's width: `tripbit_word32` wherever the target has
//! no native 64-bit atomics (Cortex-M0/M3/M4/M7, RV32), so that the word
//! is one 32-bit atomic there (`src/state.rs`). A host build gets it with
//! `RUSTFLAGS="--cfg tripbit_word32"` (the tests, loom and miri of the
//! 32-bit layout).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tripbit_word32)");
    println!("cargo::rerun-if-changed=build.rs");
    let atomics = std::env::var("CARGO_CFG_TARGET_HAS_ATOMIC").unwrap_or_default();
    if !atomics.split(',').any(|w| w == "64") {
        println!("cargo::rustc-cfg=tripbit_word32");
    }
}
