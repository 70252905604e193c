#!/usr/bin/env bash
# Builds the hal-sensor firmware (thumbv7m-none-eabi, release), runs it under
# QEMU's lm3s6965evb (Cortex-M3) with semihosting, and exits 0 only if the
# firmware reported that every check passed. Also builds the two size probes
# (src/bin/size-*.rs) and prints what tripbit adds to a firmware.
#
# The last line is the verdict and the sizes, e.g.
#   hal-sensor: PASS (54 checks); .text 18460 B, flash 22400 B; tripbit adds 1596 B .text, ...
#
# Needs: the Rust target (`rustup target add thumbv7m-none-eabi`) and
# qemu-system-arm (Debian: `apt-get install qemu-system-arm`). Optional:
# arm-none-eabi-size or llvm-size (else readelf, else python3 measure the
# ELF), defmt-print (`cargo install defmt-print`) to decode the defmt log.
# SIZE_TOOL=readelf|python forces a measuring method (for testing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
# The example's own target dir unless the caller chose one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
# The firmware writes its defmt frames to <this dir>/target/hal-sensor.defmt.
mkdir -p "$here/target"
frames="$here/target/hal-sensor.defmt"
elf_dir="$CARGO_TARGET_DIR/thumbv7m-none-eabi/release"
elf="$elf_dir/hal-sensor"

fail() {
    echo "hal-sensor: FAIL ($*)"
    exit 1
}

command -v qemu-system-arm >/dev/null ||
    fail "qemu-system-arm not found: apt-get install qemu-system-arm"
if command -v rustup >/dev/null &&
    ! rustup target list --installed | grep -qx thumbv7m-none-eabi; then
    fail "Rust target missing: rustup target add thumbv7m-none-eabi"
fi

echo "== build (release, thumbv7m-none-eabi)"
cargo build --release --bins --quiet || fail "build failed"

qemu() {
    # Exit status: the firmware's semihosting exit (0 = success); 124 = hung.
    timeout 60 qemu-system-arm -M lm3s6965evb -cpu cortex-m3 -nographic \
        -semihosting-config enable=on,target=native -kernel "$1"
}

echo "== run under QEMU (lm3s6965evb)"
log="$here/target/qemu.log"
qemu_err="$here/target/qemu.stderr"
rm -f "$frames"
set +e
qemu "$elf" 2>"$qemu_err" | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# QEMU's own chatter ("Timer with period zero, disabling") only on failure.
if [[ $rc -ne 0 ]] && [[ -s "$qemu_err" ]]; then
    echo "-- qemu stderr:"
    cat "$qemu_err"
fi

if [[ -s "$frames" ]]; then
    if command -v defmt-print >/dev/null; then
        echo "== defmt log ($(wc -c <"$frames") bytes of frames, decoded by defmt-print)"
        defmt-print -e "$elf" <"$frames" || echo "(defmt-print could not decode the frames)"
    else
        echo "== defmt log: $(wc -c <"$frames") bytes of frames in target/hal-sensor.defmt" \
            "(decode: cargo install defmt-print; defmt-print -e $elf < $frames)"
    fi
fi

# The size probes must run too: the numbers are for working firmware.
for probe in size-plain size-guarded; do
    qemu "$elf_dir/$probe" >/dev/null 2>&1 || fail "size probe $probe did not exit 0"
done

# Size of one section of an ELF, in bytes (0 if absent).
section_size() {
    local elf=$1 sec=$2 tool
    case "${SIZE_TOOL:-}" in
    "" | *size)
        for tool in ${SIZE_TOOL:-arm-none-eabi-size llvm-size rust-size}; do
            if command -v "$tool" >/dev/null; then
                "$tool" -A "$elf" | awk -v s="$sec" '$1 == s { n = $2 } END { print n + 0 }'
                return
            fi
        done
        ;;
    esac
    if [[ "${SIZE_TOOL:-readelf}" == readelf ]] && command -v readelf >/dev/null; then
        # "  [ 2] .text  PROGBITS  00000400 000514 004fb4 ..." (size in hex)
        local hex
        hex=$(readelf -SW "$elf" | sed -E 's/^ *\[ *[0-9]+\] *//' |
            awk -v s="$sec" '$1 == s { print $5 }')
        echo $((16#${hex:-0}))
        return
    fi
    python3 - "$elf" "$sec" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:4] == b"\x7fELF" and data[4] == 1, "not an ELF32 file"
e = "<" if data[5] == 1 else ">"
shoff, = struct.unpack_from(e + "I", data, 0x20)
shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x2E)
def header(i):
    # name, type, flags, addr, offset, size
    return struct.unpack_from(e + "IIIIII", data, shoff + i * shentsize)
strtab = header(shstrndx)[4]
size = 0
for i in range(shnum):
    h = header(i)
    name = data[strtab + h[0]:data.index(b"\0", strtab + h[0])].decode()
    if name == sys.argv[2]:
        size = h[5]
print(size)
EOF
}

sizes() { # <elf> -> "text flash ram"
    local t v r d b
    t=$(section_size "$1" .text)
    v=$(section_size "$1" .vector_table)
    r=$(section_size "$1" .rodata)
    d=$(section_size "$1" .data)
    b=$(section_size "$1" .bss)
    echo "$t $((v + t + r + d)) $((d + b))"
}

read -r text flash ram < <(sizes "$elf")
read -r p_text p_flash p_ram < <(sizes "$elf_dir/size-plain")
read -r g_text g_flash g_ram < <(sizes "$elf_dir/size-guarded")
echo "== sizes (bytes; flash = vector table + .text + .rodata + .data, RAM = .data + .bss)"
printf '   %-13s %7s %7s %7s\n' "" .text flash RAM \
    hal-sensor "$text" "$flash" "$ram" \
    size-plain "$p_text" "$p_flash" "$p_ram" \
    size-guarded "$g_text" "$g_flash" "$g_ram"
# The same two probes for Cortex-M0 (thumbv6m: no CAS, every atomic word goes
# through the critical section): built and measured, not run (the lm3s6965
# board is an M3).
cargo build -q --release --target thumbv6m-none-eabi --bin size-plain --bin size-guarded ||
    fail "thumbv6m size probes did not build"
v6m_dir="$CARGO_TARGET_DIR/thumbv6m-none-eabi/release"
read -r p6_text p6_flash p6_ram < <(sizes "$v6m_dir/size-plain")
read -r g6_text g6_flash g6_ram < <(sizes "$v6m_dir/size-guarded")
printf '   %-13s %7s %7s %7s\n' \
    "v6m plain" "$p6_text" "$p6_flash" "$p6_ram" \
    "v6m guarded" "$g6_text" "$g6_flash" "$g6_ram"
tripbit="tripbit adds $((g_text - p_text)) B .text, $((g_flash - p_flash)) B flash, $((g_ram - p_ram)) B RAM on v7m; $((g6_text - p6_text)) B .text, $((g6_ram - p6_ram)) B RAM on v6m (size-guarded vs size-plain)"

checks=$(sed -n 's/^checks: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' "$log" | tail -n 1)
if [[ $rc -eq 0 ]] && grep -qx PASS "$log" && [[ -n "$checks" ]] && [[ "${checks#* }" == 0 ]]; then
    echo "hal-sensor: PASS (${checks% *} checks); .text $text B, flash $flash B; $tripbit"
    exit 0
fi
case $rc in
124) why="timed out after 60 s" ;;
0) why="exit 0 but no PASS line" ;;
*) why="firmware exit status $rc" ;;
esac
echo "hal-sensor: FAIL ($why; checks passed/failed: ${checks:-none}); .text $text B, flash $flash B"
exit 1
