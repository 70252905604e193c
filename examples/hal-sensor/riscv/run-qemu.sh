#!/usr/bin/env bash
# Builds tripbit-rv32 for riscv32imac (A extension: lock-free) and riscv32imc
# (no A: one critical section per operation), runs each under QEMU's virt
# board (the imc build on a CPU with the A extension switched off, so an
# atomic instruction would trap), and checks the images with objdump:
# lr.w/sc.w in the imac one, no atomic instruction in the imc one.
#
# The last line is the verdict, e.g.
#   tripbit-rv32: PASS | imac 121 checks, 0 critical sections per closed success and rejection | imc ...
#
# Needs: the Rust targets (rustup target add riscv32imac-unknown-none-elf
# riscv32imc-unknown-none-elf) and qemu-system-riscv32 (Debian:
# apt-get install qemu-system-misc); llvm-objdump from rustup's
# llvm-tools or riscv64-unknown-elf-objdump for the image check (skipped,
# and said so, when neither is there).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"

fail() {
    echo "tripbit-rv32: FAIL ($*)"
    exit 1
}

command -v qemu-system-riscv32 >/dev/null ||
    fail "qemu-system-riscv32 not found: apt-get install qemu-system-misc"

objdump=""
for c in riscv64-unknown-elf-objdump llvm-objdump rust-objdump; do
    if command -v "$c" >/dev/null; then objdump=$c; break; fi
done
if [ -z "$objdump" ]; then
    sysroot=$(rustc --print sysroot)
    for c in "$sysroot"/lib/rustlib/*/bin/llvm-objdump; do
        [ -x "$c" ] && objdump=$c && break
    done
fi

summary=""
for variant in imac imc; do
    triple="riscv32${variant}-unknown-none-elf"
    cpu="rv32"
    [ "$variant" = imc ] && cpu="rv32,a=off"
    echo "== $variant: cargo build --release --target $triple"
    cargo build --release --quiet --target "$triple" || fail "$variant: build failed"
    elf="$CARGO_TARGET_DIR/$triple/release/tripbit-rv32"
    echo "== $variant: timeout 60 qemu-system-riscv32 -M virt -cpu $cpu -bios none -nographic -kernel tripbit-rv32"
    set +e
    out=$(timeout 60 qemu-system-riscv32 -M virt -cpu "$cpu" -bios none -nographic -kernel "$elf" 2>&1)
    rc=$?
    set -e
    printf '%s\n' "$out" | sed 's/^/   | /'
    [ "$rc" = 0 ] || fail "$variant: QEMU exited $rc"
    printf '%s\n' "$out" | grep -q '^RESULT: PASS$' || fail "$variant: no PASS line"
    checks=$(printf '%s\n' "$out" | sed -n 's/^\([0-9]*\) checks, 0 failed$/\1/p')
    cs=$(printf '%s\n' "$out" | sed -n 's/.*100 closed successes: \([0-9]*\) critical sections; 100 rejections: \([0-9]*\)$/\1 \2/p')
    summary+=" | $variant $checks checks, critical sections per 100 closed successes / 100 rejections: ${cs/ / \/ }"
    if [ -n "$objdump" ]; then
        amo=$("$objdump" -d "$elf" | grep -cE '\b(lr\.w|sc\.w|amo[a-z]+\.w)\b' || true)
        echo "   objdump ($objdump): $amo atomic instructions (lr.w/sc.w/amo*.w)"
        if [ "$variant" = imac ] && [ "$amo" = 0 ]; then fail "imac: no lr.w/sc.w in the image"; fi
        if [ "$variant" = imc ] && [ "$amo" != 0 ]; then fail "imc: atomic instructions in an image for a core without A"; fi
        summary+=", $amo atomic instructions"
    else
        echo "   objdump: none found (install llvm-tools or riscv64-unknown-elf-binutils); image check skipped"
    fi
done
echo "tripbit-rv32: PASS$summary"
