# common.sh: what run-qemu.sh and count-insns.sh share: paths, the C flags
# the figures are for, tool checks and the bare-metal libtripbit.a build.
# Sourced (not run); expects HERE to be this directory.

ROOT=$(cd "$HERE/../.." && pwd)
# Kept apart from other cargo builds so they do not wait on each other's lock.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/firmware-c}"
QEMU_TIMEOUT="${QEMU_TIMEOUT:-60}"

CFLAGS=(-mthumb -std=c11 -Os -g -Wall -Wextra -Werror
        -ffunction-sections -fdata-sections -I "$ROOT/ffi-c/include")
# nano: newlib-nano's smaller stdio; rdimon: crt0 + syscalls over semihosting.
# --no-warn-execstack: newlib's crtn.o has no .note.GNU-stack (harmless here).
LDFLAGS=(--specs=nano.specs --specs=rdimon.specs -L "$HERE"
         -Wl,--gc-sections -Wl,--no-warn-execstack)

# need_tools VERDICT_PREFIX TOOL...: exits 2 with a FAIL line naming the
# first missing tool.
need_tools() {
    local prefix=$1 tool
    shift
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$prefix: '$tool' not found." >&2
            echo "  apt-get install -y qemu-system-arm gcc-arm-none-eabi libnewlib-arm-none-eabi" >&2
            echo "  rustup target add thumbv6m-none-eabi thumbv7m-none-eabi" >&2
            echo "$prefix: FAIL (missing tool: $tool)"
            exit 2
        fi
    done
}

# cargo_firmware LOG RUST_TARGET [CARGO ARGS...]: libtripbit.a for bare
# metal, as ffi-c documents (`cargo rustc --crate-type staticlib`: only the
# static library, so no "dropping unsupported crate type cdylib" warning);
# on failure prints the log's tail.
cargo_firmware() {
    local log=$1 triple=$2
    shift 2
    if ! (cd "$ROOT" && cargo rustc -q -p tripbit-ffi --lib --no-default-features --target "$triple" \
            --profile firmware --crate-type staticlib "$@") >"$log" 2>&1; then
        tail -n 30 "$log"
        return 1
    fi
    # Warnings are shown; the cdylib one must not come back.
    grep -q "^warning" "$log" && cat "$log"
    if grep -q "crate type .cdylib." "$log"; then
        echo "cargo_firmware: the bare-metal build warns about the cdylib crate type" >&2
        return 1
    fi
    return 0
}
