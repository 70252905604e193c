#!/usr/bin/env bash
# The C side of tripbit-ffi, end to end: builds the static library, checks
# the generated header for drift, compiles the header as C99/C11/C17 and
# C++11/17/20 with every warning an error, then builds and runs the C tests
# (tests/*.c) under AddressSanitizer + UBSan, a C++ client, and the same C
# tests under valgrind. Exits non-zero if any step fails.
#
#   ffi-c/test.sh                      everything
#   SKIP_VALGRIND=1 ffi-c/test.sh      without the (slower) valgrind pass
#   CC=clang CXX=clang++ ffi-c/test.sh another compiler
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$(cd .. && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CC=${CC:-gcc}
CXX=${CXX:-g++}
OUT="$CARGO_TARGET_DIR/ffi-c-tests"
# The panic test prints its (expected) panic message; keep it one line.
export RUST_BACKTRACE=0
mkdir -p "$OUT"

passed=0
failed=0
step() { # step NAME CMD...: runs CMD, counts it, keeps going on failure
    local name=$1
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "!! FAILED: $name" >&2
    fi
}

# The library, with the test-only panic hook (`tripbit_test_panic`).
if ! cargo build -q --manifest-path "$PWD/Cargo.toml" --release --features panic-test; then
    echo "ffi-c: cargo build failed" >&2
    echo "ffi-c: 0 passed, 1 failed"
    exit 1
fi
LIB="$CARGO_TARGET_DIR/release/libtripbit.a"
# NB: sync with `cargo rustc -p tripbit-ffi -- --print native-static-libs`.
SYSLIBS="-lpthread -ldl -lm -lrt -lutil"

step "header is up to date (cbindgen)" ./check-header.sh

WARN="-Wall -Wextra -pedantic -Werror"
for std in c99 c11 c17; do
    step "header compiles as $std (-Wc++-compat)" "$CC" -std=$std $WARN -Wc++-compat -Iinclude -c tests/header.c -o "$OUT/header-$std.o"
done
# Out-of-range compile-time initializers must fail the build, in C and C++.
static_init_refused() {
    local lang=$1 std=$2 args=$3 src
    src="$OUT/bad-init-$std.$lang"
    printf '#include "tripbit.h"\nstatic tripbit_breaker_t b = TRIPBIT_BREAKER_INIT_FULL(%s);\nint main(void) { return (int)b._probes; }\n' "$args" >"$src"
    local cc=$CC
    [ "$lang" = cpp ] && cc=$CXX
    if "$cc" -std="$std" -Iinclude -c "$src" -o "$OUT/bad-init.o" 2>"$OUT/bad-init.log"; then
        echo "TRIPBIT_BREAKER_INIT_FULL($args) compiled as $std" >&2
        return 1
    fi
    grep -q "TRIPBIT_BREAKER_INIT\|size of array\|static assertion\|static_assert" "$OUT/bad-init.log" ||
        { cat "$OUT/bad-init.log" >&2; return 1; }
}
bad_inits() {
    local std lang args
    for std in c99 c11 c++11 c++17; do
        lang=c
        case $std in c++*) lang=cpp ;; esac
        # one bad argument at a time: open, failures, probes (2: over the
        # bar), close_after, percent, the bar (42 @ 99 %), factor, level,
        # the backoff product
        for args in "0u,1u,1u,1u,0u,1u,0u,0u" "1u,0u,1u,1u,0u,1u,0u,0u" "1u,1u,2u,1u,0u,1u,0u,0u" \
                    "1u,1u,1u,1024u,0u,1u,0u,0u" "1u,1u,1u,1u,100u,1u,0u,0u" "1u,1u,1u,42u,99u,1u,0u,0u" \
                    "1u,1u,1u,1u,0u,256u,0u,0u" "1u,1u,1u,1u,0u,2u,32u,0u" "9223372036854775809u,1u,1u,1u,0u,2u,1u,0u"; do
            static_init_refused "$lang" "$std" "$args" || return 1
        done
    done
}
step "TRIPBIT_BREAKER_INIT_FULL refuses each out-of-range argument at compile time (C99, C11, C++11, C++17)" bad_inits
for std in c++11 c++17 c++20; do
    step "header compiles as $std" "$CXX" -std=$std $WARN -Iinclude -c tests/header.cpp -o "$OUT/header-$std.o"
done

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
build_c() { # build_c NAME FLAGS...: tests/NAME.c -> $OUT/NAME-<suffix>
    local name=$1 suffix=$2
    shift 2
    "$CC" -std=c11 $WARN -g -O1 "$@" -Iinclude "tests/$name.c" "$LIB" $SYSLIBS -o "$OUT/$name-$suffix"
}
for t in api threads region; do
    step "build $t.c (C11, ASan+UBSan)" build_c "$t" san $SAN
    step "run $t (ASan+UBSan+LSan)" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1 "$OUT/$t-san"
done

# Installed like a C library (ffi-c/install.sh): a program built through
# pkg-config alone, against the shared library (its SONAME, libtripbit.so.0.2
# while the ABI is 0.2, recorded) and
# against the static one.
install_and_link() {
    local prefix="$OUT/prefix"
    rm -rf "$prefix"
    ./install.sh "$prefix" >/dev/null || return 1
    [ -L "$prefix/lib/libtripbit.so.0.2" ] || { echo "no libtripbit.so.0.2 link" >&2; return 1; }
    local soname
    soname=$(readelf -d "$prefix/lib/libtripbit.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
    [ "$soname" = "libtripbit.so.0.2" ] || { echo "SONAME is '$soname'" >&2; return 1; }
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    # shellcheck disable=SC2046
    "$CC" -std=c11 $WARN tests/installed.c $(pkg-config --cflags --libs tripbit) -o "$OUT/installed-shared" || return 1
    readelf -d "$OUT/installed-shared" | grep -q 'NEEDED.*libtripbit.so.0.2\]' || { echo "not linked to libtripbit.so.0.2" >&2; return 1; }
    LD_LIBRARY_PATH="$prefix/lib" "$OUT/installed-shared" || return 1
    # shellcheck disable=SC2046
    "$CC" -std=c11 $WARN tests/installed.c -Wl,--gc-sections $(pkg-config --static --cflags tripbit) \
        "$prefix/lib/libtripbit.a" $(pkg-config --static --libs-only-other --libs-only-l tripbit | sed 's/-ltripbit//') \
        -o "$OUT/installed-static" || return 1
    ! readelf -d "$OUT/installed-static" | grep -q 'NEEDED.*libtripbit' || { echo "static build needs libtripbit.so" >&2; return 1; }
    "$OUT/installed-static"
}
step "build header.cpp (C++17 client)" "$CXX" -std=c++17 $WARN -Iinclude tests/header.cpp "$LIB" $SYSLIBS -o "$OUT/header-cpp"
step "run header.cpp" "$OUT/header-cpp"

if [ -z "${SKIP_VALGRIND:-}" ] && command -v valgrind >/dev/null 2>&1; then
    VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
    for t in api threads region; do
        step "build $t.c (plain, for valgrind)" build_c "$t" plain
    done
    step "run api under valgrind" $VG "$OUT/api-plain"
    step "run region under valgrind" $VG "$OUT/region-plain"
    # valgrind serializes threads; a shorter hammer keeps this step quick.
    step "run threads under valgrind" env TRIPBIT_HAMMER_ITERS=20000 $VG "$OUT/threads-plain"
else
    echo "== valgrind skipped (not installed, or SKIP_VALGRIND set)"
fi

# Last: the install builds the library without the test hook, in place.
if command -v pkg-config >/dev/null 2>&1; then
    step "install (ffi-c/install.sh), then build through pkg-config: shared (SONAME) and static" install_and_link
else
    echo "!! pkg-config not installed: skipping the installed-tree test" >&2
    failed=$((failed + 1))
fi

echo "ffi-c: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
