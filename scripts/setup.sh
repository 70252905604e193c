#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh machine:
# rustup targets and components, Debian packages, a pinned cbindgen, and a
# Python venv in .venv. Idempotent: each step is skipped when already done.
# Sourced by demo.sh and test.sh; run it alone to prepare a machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# NB: sync with README.md "Targets".
EMBEDDED_TARGETS=(thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf)
CBINDGEN_VERSION=0.29.2
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

setup_rust() {
    local installed
    installed="$(rustup target list --installed)"
    for t in "${EMBEDDED_TARGETS[@]}"; do
        grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
    rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
    if ! cargo +nightly miri --version >/dev/null 2>&1; then
        rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
        rustup +nightly component add miri rust-src
    fi
}

setup_apt() {
    local need=()
    command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
    # The RV32 firmware (examples/hal-sensor/riscv): QEMU's virt board, and
    # objdump for its image check.
    command -v qemu-system-riscv32 >/dev/null || need+=(qemu-system-misc)
    command -v riscv64-unknown-elf-objdump >/dev/null || need+=(binutils-riscv64-unknown-elf)
    command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi)
    [ -e /usr/lib/arm-none-eabi/newlib/libc.a ] || need+=(libnewlib-arm-none-eabi)
    command -v valgrind >/dev/null || need+=(valgrind)
    command -v pkg-config >/dev/null || need+=(pkg-config)
    command -v redis-server >/dev/null || need+=(redis-server)
    # The fleet panel's browser test (fleet/tests/panel_browser.rs).
    [ -x /usr/bin/chromium ] || need+=(chromium)
    [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
    if [ ${#need[@]} -gt 0 ]; then
        log "apt-get install ${need[*]}"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; then
            # Some images carry a backported qemu-utils that Breaks the
            # distribution's qemu-system-common; one package at a time lets
            # apt replace it (qemu-system-* bring their own qemu-img).
            local p
            for p in "${need[@]}"; do
                DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$p" >/dev/null
            done
        fi
    fi
}

setup_cbindgen() {
    if [ "$(cbindgen --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
        log "cargo install cbindgen $CBINDGEN_VERSION"
        cargo install --locked --quiet cbindgen --version "$CBINDGEN_VERSION"
    fi
}

setup_venv() {
    local venv="$ROOT/.venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    if ! "$venv/bin/python" -c 'import maturin, pytest, grpc, grpc_tools, mypy' 2>/dev/null; then
        log "pip install (venv .venv)"
        "$venv/bin/pip" install -q --upgrade pip
        "$venv/bin/pip" install -q maturin pytest mypy -r "$ROOT/examples/grpc-tree/requirements.txt"
    fi
}

setup_all() {
    setup_rust
    setup_apt
    setup_cbindgen
    setup_venv
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    setup_all
fi
