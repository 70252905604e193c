//! Gives the Linux shared library its SONAME, `libtripbit.so.<abi>`, so
//! that programs linked against it record the ABI they need and a later
//! incompatible one can be installed beside it. The ABI is the major
//! version from 1.0 on, and `0.<minor>` before (each 0.x minor may change
//! the ABI; cargo-c names 0.x libraries the same way).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_else(|_| "0".into());
        let abi = if major == "0" {
            format!("0.{minor}")
        } else {
            major
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtripbit.so.{abi}");
    }
}
