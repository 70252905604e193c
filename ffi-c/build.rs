//! Gives the Linux shared library its SONAME, `libtripbit.so.<major>`, so
//! that programs linked against it record the ABI they need and a later
//! incompatible `libtripbit.so.1` can be installed beside it.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libtripbit.so.{major}");
    }
}
