#!/usr/bin/env bash
# Builds the C library and installs it like one:
#   ffi-c/install.sh PREFIX        (e.g. /usr/local, or a staging directory)
# lays out
#   PREFIX/include/tripbit.h
#   PREFIX/lib/libtripbit.a
#   PREFIX/lib/libtripbit.so.<version>, libtripbit.so.<abi> -> it, libtripbit.so -> it
#   (<abi>: the SONAME, 0.<minor> before 1.0, <major> after)
#   PREFIX/lib/pkgconfig/tripbit.pc
# and then `cc app.c $(pkg-config --cflags --libs tripbit)` links the shared
# library, `pkg-config --static --cflags --libs tripbit` the static one with
# the system libraries it needs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prefix="${1:?usage: ffi-c/install.sh PREFIX}"
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../target}"
cargo build -q --manifest-path "$here/Cargo.toml" --release
version="$(cargo pkgid --manifest-path "$here/Cargo.toml" | sed 's/.*[#@]//')"
major="${version%%.*}"
# The ABI the SONAME names (build.rs): the major from 1.0 on, 0.<minor> before.
abi=$major
if [ "$major" = 0 ]; then
    abi="0.$(echo "$version" | cut -d. -f2)"
fi
# The system libraries the static library needs, as rustc reports them.
static_libs="$(cargo rustc -q --manifest-path "$here/Cargo.toml" --release --lib --crate-type staticlib -- --print native-static-libs 2>&1 \
    | sed -n 's/.*native-static-libs: //p' | tail -1)"
lib="$CARGO_TARGET_DIR/release"
install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 "$here/include/tripbit.h" "$prefix/include/tripbit.h"
install -m 644 "$lib/libtripbit.a" "$prefix/lib/libtripbit.a"
install -m 755 "$lib/libtripbit.so" "$prefix/lib/libtripbit.so.$version"
ln -sf "libtripbit.so.$version" "$prefix/lib/libtripbit.so.$abi"
ln -sf "libtripbit.so.$abi" "$prefix/lib/libtripbit.so"
cat >"$prefix/lib/pkgconfig/tripbit.pc" <<PC
prefix=$prefix
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: tripbit
Description: Lock-free circuit breakers in caller-owned storage (C API of the tripbit crate)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -ltripbit
Libs.private: $static_libs
PC
echo "installed tripbit $version into $prefix"
