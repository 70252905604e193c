#!/usr/bin/env bash
# run-qemu.sh: build libtripbit.a for bare metal, link the C firmware in this
# directory against it, and run it under QEMU with semihosting, for
#   - thumbv7m-none-eabi, -mcpu=cortex-m3, QEMU -M lm3s6965evb (TI LM3S6965)
#   - thumbv6m-none-eabi, -mcpu=cortex-m0, QEMU -M microbit    (nRF51822)
# Both must pass. Each also runs three negative controls (a deliberate
# HardFault, a Rust panic inside libtripbit.a, and a deliberately failing
# CHECK) that must FAIL with the expected exit code, so a green run cannot
# come from a firmware whose failures get lost.
#
# Exit status: 0 only if everything passed. The last line printed is the
# verdict with the .text size tripbit adds on each core and the RAM per
# breaker.
#
# Each core also runs isr-race.c: a SysTick handler calls tripbit on the same
# breaker while thread code is inside a tripbit call (must not deadlock).
# `run-qemu.sh --isr-race` runs only that.
#
# Needs: cargo + rustup targets thumbv6m-none-eabi thumbv7m-none-eabi,
#        arm-none-eabi-gcc + newlib (gcc-arm-none-eabi libnewlib-arm-none-eabi),
#        qemu-system-arm.
# Env:   CARGO_TARGET_DIR (default <repo>/target/firmware-c, kept apart from
#        other builds so they do not wait on each other's lock),
#        QEMU_TIMEOUT (seconds per QEMU run, default 60).
set -uo pipefail

MODE=test
case "${1:-}" in
    "") ;;
    --isr-race) MODE=isr-race ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--isr-race]" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"
OUT="$CARGO_TARGET_DIR/fw"

need_tools firmware-c cargo arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm timeout
if command -v rustup >/dev/null 2>&1; then
    for t in thumbv7m-none-eabi thumbv6m-none-eabi; do
        if ! rustup target list --installed 2>/dev/null | grep -qx "$t"; then
            echo "run-qemu.sh: rust target $t not installed: rustup target add $t" >&2
            echo "firmware-c: FAIL (missing rust target $t)"
            exit 2
        fi
    done
fi

# tripbit's share of a linked image, from the linker map: the sum of the
# input sections that came out of libtripbit.a, by output section. Prints
# "code_tripbit code_builtins rodata_tripbit rodata_builtins data bss".
# (compiler_builtins are the Rust intrinsics shipped inside libtripbit.a,
# e.g. __aeabi_memcpy; they are part of what linking tripbit costs.)
map_sizes() {
    awk '
    function hex(s,   i, v) {
        v = 0; s = tolower(s); sub(/^0x/, "", s)
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    function add(size, file) {
        if (file !~ /libtripbit\.a\(/) return
        if (out == ".text") { if (file ~ /compiler_builtins/) cb += size; else tb += size }
        else if (out == ".rodata" || out ~ /^\.ARM\./) { if (file ~ /compiler_builtins/) rc += size; else ro += size }
        else if (out == ".data") da += size
        else if (out == ".bss") bs += size
    }
    /^Linker script and memory map/ { f = 1; next }
    !f { next }
    /^\.[^ ]/ { out = $1; pending = ""; next }
    /^ \*/ { pending = ""; next }
    /^ [.A-Za-z_]/ {
        if (NF >= 4 && $2 ~ /^0x/) { add(hex($3), $4); pending = "" }
        else if (NF == 1) pending = $1
        else pending = ""
        next
    }
    pending != "" && $1 ~ /^0x/ && NF >= 3 { add(hex($2), $3); pending = ""; next }
    { pending = "" }
    END { printf "%d %d %d %d %d %d\n", tb, cb, ro, rc, da, bs }
    ' "$1"
}

# The biggest tripbit functions in the image (from the same map), for the log.
map_top() {
    awk '
    function hex(s,   i, v) {
        v = 0; s = tolower(s); sub(/^0x/, "", s)
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    /^Linker script and memory map/ { f = 1; next }
    !f { next }
    /^\.[^ ]/ { out = $1; next }
    /^ \.text\./ && NF == 1 { name = $1; next }
    name != "" && $1 ~ /^0x/ && $3 ~ /libtripbit\.a\(tripbit\./ && out == ".text" {
        n = name; sub(/^\.text\./, "", n); print hex($2), n
    }
    { name = "" }
    ' "$1" | sort -rn | head -n "${2:-8}" |
        while read -r size sym; do
            printf '       %5d  %s\n' "$size" "$(printf '%s' "$sym" | arm-none-eabi-c++filt | sed 's/::h[0-9a-f]\{16\}$//')"
        done
}

# build_lib NAME RUST_TARGET: libtripbit.a for bare metal, as ffi-c documents.
# Then the same with `--features panic-test` (for the panic control) into a
# target dir of its own, so the two libtripbit.a files do not overwrite
# each other.
build_lib() {
    local name=$1 triple=$2
    mkdir -p "$OUT/$name"
    echo "== $name: cargo build -p tripbit-ffi --no-default-features --target $triple --profile firmware"
    cargo_firmware "$OUT/$name/cargo.log" "$triple" || return 1
    [ "${2:-}" != "" ] && [ "${3:-}" = "with-panic-test" ] || return 0
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR/panic-test" \
        cargo_firmware "$OUT/$name/cargo-panic-test.log" "$triple" --features panic-test
}

# run_variant NAME RUST_TARGET CPU LDSCRIPT QEMU_MACHINE
# Sets RESULT_<NAME>, TEXT_<NAME>, SUMMARY_<NAME>, BREAKER_<NAME>.
run_variant() {
    local name=$1 triple=$2 cpu=$3 ldscript=$4 machine=$5
    local dir="$OUT/$name"
    local lib="$CARGO_TARGET_DIR/$triple/firmware/libtripbit.a"
    mkdir -p "$dir"
    printf -v "RESULT_$name" '%s' FAIL
    printf -v "TEXT_$name" '%s' '?'
    printf -v "OWN_$name" '%s' '?'
    printf -v "RAM_$name" '%s' 0
    printf -v "BREAKER_$name" '%s' '?'
    printf -v "SUMMARY_$name" '%s' "$name: FAIL (see above)"

    if ! build_lib "$name" "$triple" with-panic-test; then
        printf -v "SUMMARY_$name" '%s' "$name: FAIL (cargo build)"
        return 1
    fi

    echo "== $name: arm-none-eabi-gcc -mcpu=$cpu -Os, -T $ldscript"
    local variant ok=1
    for variant in fw fw-selftest-fault fw-selftest-panic fw-selftest-check; do
        local defs=() vlib=$lib
        case $variant in
            fw-selftest-fault) defs=(-DFW_SELFTEST_FAULT) ;;
            fw-selftest-panic) defs=(-DFW_SELFTEST_PANIC)
                               vlib="$CARGO_TARGET_DIR/panic-test/$triple/firmware/libtripbit.a" ;;
            fw-selftest-check) defs=(-DFW_SELFTEST_CHECK) ;;
        esac
        if ! arm-none-eabi-gcc -mcpu="$cpu" "${CFLAGS[@]}" "${defs[@]}" "${LDFLAGS[@]}" \
                -T "$ldscript" -Wl,-Map="$dir/$variant.map" \
                "$HERE/startup.c" "$HERE/main.c" "$vlib" -o "$dir/$variant.elf" 2>"$dir/$variant.gcc.log"; then
            cat "$dir/$variant.gcc.log"
            ok=0
        fi
    done
    if [ "$ok" != 1 ]; then
        printf -v "SUMMARY_$name" '%s' "$name: FAIL (compile/link)"
        return 1
    fi
    arm-none-eabi-size "$dir/fw.elf" | sed 's/^/   /'

    local tb cb ro rb da bs
    read -r tb cb ro rb da bs < <(map_sizes "$dir/fw.map")
    local text=$((tb + cb + ro + rb)) own=$((tb + ro)) intr=$((cb + rb))
    printf -v "TEXT_$name" '%s' "$text"
    printf -v "OWN_$name" '%s' "$own"
    printf -v "RAM_$name" '%s' "$((da + bs))"
    echo "   tripbit's share (input sections from libtripbit.a in $dir/fw.map):"
    echo "     flash: $text B = tripbit code $tb + rodata $ro, plus Rust intrinsics $intr"
    echo "            (memcpy/memset/64-bit division from the staticlib's compiler_builtins; the"
    echo "            linker also uses them for the C code, in place of newlib/libgcc's)"
    echo "     RAM:   .data $da B + .bss $bs B static, plus sizeof(tripbit_breaker_t) per breaker"
    echo "     largest functions:"
    map_top "$dir/fw.map" 8

    local qemu=(qemu-system-arm -M "$machine" -nographic
                -semihosting-config enable=on,target=native)
    if ! qemu-system-arm -M help | grep -q "^$machine "; then
        # Older QEMU without this board: the image is built and measured but
        # cannot be run here, which is reported rather than failed.
        printf -v "RESULT_$name" '%s' "BUILT"
        printf -v "SUMMARY_$name" '%s' "$name ($cpu): built, NOT RUN (qemu-system-arm has no -M $machine) | tripbit .text $text B"
        return 0
    fi

    echo "== $name: timeout $QEMU_TIMEOUT ${qemu[*]} -kernel fw.elf"
    local rc
    timeout "$QEMU_TIMEOUT" "${qemu[@]}" -kernel "$dir/fw.elf" >"$dir/fw.log" 2>"$dir/fw.stderr"
    rc=$?
    sed 's/^/   | /' "$dir/fw.log"
    grep -v "^Timer with period zero, disabling$" "$dir/fw.stderr" | sed 's/^/   ! /'
    local breaker
    breaker=$(sed -n 's/^sizeof(tripbit_breaker_t)=\([0-9]*\).*/\1/p' "$dir/fw.log" | head -n 1)
    printf -v "BREAKER_$name" '%s' "${breaker:-?}"
    local checks
    checks=$(sed -n 's/^\([0-9]*\) checks, .*/\1/p' "$dir/fw.log" | tail -n 1)

    local verdict=PASS why=""
    if [ "$rc" = 124 ]; then
        verdict=FAIL why="timed out after ${QEMU_TIMEOUT}s"
    elif [ "$rc" != 0 ]; then
        verdict=FAIL why="exit status $rc"
    elif ! grep -q "^RESULT: PASS$" "$dir/fw.log"; then
        verdict=FAIL why="exit 0 but no 'RESULT: PASS' line"
    fi

    # Negative controls: a fault, a Rust panic and a failed check must all
    # reach the shell.
    local nc_rc nc
    for nc in fault panic; do
        timeout "$QEMU_TIMEOUT" "${qemu[@]}" -kernel "$dir/fw-selftest-$nc.elf" >"$dir/$nc.log" 2>&1
        nc_rc=$?
        if [ "$nc_rc" != 3 ] || ! grep -q "HardFault" "$dir/$nc.log"; then
            verdict=FAIL why="${why:+$why; }$nc control exited $nc_rc (want 3, HardFault)"
            sed "s/^/   $nc| /" "$dir/$nc.log"
        fi
    done
    timeout "$QEMU_TIMEOUT" "${qemu[@]}" -kernel "$dir/fw-selftest-check.elf" >"$dir/check.log" 2>&1
    nc_rc=$?
    if [ "$nc_rc" != 1 ] || ! grep -q "^RESULT: FAIL$" "$dir/check.log"; then
        verdict=FAIL why="${why:+$why; }failing-CHECK control exited $nc_rc (want 1)"
        sed 's/^/   check| /' "$dir/check.log"
    fi
    [ "$verdict" = PASS ] && echo "   negative controls: udf -> HardFault exit 3, Rust panic -> HardFault exit 3, failed CHECK -> exit 1 (as required)"

    printf -v "RESULT_$name" '%s' "$verdict"
    printf -v "SUMMARY_$name" '%s' "$name ($cpu, -M $machine): $verdict${why:+ ($why)}, ${checks:-?} checks | tripbit .text $text B ($own B tripbit + $intr B intrinsics) | RAM $((da + bs)) B static + ${breaker:-?} B per breaker"
    [ "$verdict" = PASS ]
}

# isr-race NAME RUST_TARGET CPU LDSCRIPT QEMU_MACHINE: see isr-race.c.
# Sets RACE_<NAME> to PASS, HANG or FAIL.
run_race() {
    local name=$1 triple=$2 cpu=$3 ldscript=$4 machine=$5
    local dir="$OUT/$name"
    printf -v "RACE_$name" '%s' FAIL
    build_lib "$name" "$triple" || return 1
    arm-none-eabi-gcc -mcpu="$cpu" "${CFLAGS[@]}" "${LDFLAGS[@]}" -T "$ldscript" \
        "$HERE/startup.c" "$HERE/isr-race.c" "$CARGO_TARGET_DIR/$triple/firmware/libtripbit.a" \
        -o "$dir/isr-race.elf" || return 1
    local t="${RACE_TIMEOUT:-20}" rc
    echo "== $name: timeout $t qemu-system-arm -M $machine -icount shift=0 ... -kernel isr-race.elf"
    timeout "$t" qemu-system-arm -M "$machine" -icount shift=0 -nographic \
        -semihosting-config enable=on,target=native -kernel "$dir/isr-race.elf" \
        >"$dir/isr-race.log" 2>/dev/null
    rc=$?
    sed 's/^/   | /' "$dir/isr-race.log"
    case $rc in
        0) printf -v "RACE_$name" '%s' PASS ;;
        124) printf -v "RACE_$name" '%s' HANG
             echo "   HANG: no exit within ${t}s (see README.md, \"Interrupt safety\")" ;;
        *) echo "   exit status $rc" ;;
    esac
}

if [ "$MODE" = isr-race ]; then
    run_race v7m thumbv7m-none-eabi cortex-m3 lm3s6965.ld lm3s6965evb
    run_race v6m thumbv6m-none-eabi cortex-m0 microbit.ld microbit
    verdict=PASS
    [ "$RACE_v7m" = PASS ] && [ "$RACE_v6m" = PASS ] || verdict=FAIL
    echo "isr-race: $verdict | v7m=$RACE_v7m v6m=$RACE_v6m (tripbit called from SysTick while thread code is inside tripbit)"
    [ "$verdict" = PASS ]
    exit
fi

# Cortex-M3: TI LM3S6965 (FLASH 256K @0, RAM 64K @0x20000000).
run_variant v7m thumbv7m-none-eabi cortex-m3 lm3s6965.ld lm3s6965evb
# Cortex-M0: nRF51822 of the BBC micro:bit (FLASH 256K @0, RAM 16K @0x20000000).
run_variant v6m thumbv6m-none-eabi cortex-m0 microbit.ld microbit

# Interrupt safety: tripbit called from SysTick while the interrupted thread
# code is inside tripbit on the same breaker.
run_race v7m thumbv7m-none-eabi cortex-m3 lm3s6965.ld lm3s6965evb
run_race v6m thumbv6m-none-eabi cortex-m0 microbit.ld microbit

echo "== summary"
echo "$SUMMARY_v7m"
echo "$SUMMARY_v6m"
echo "isr-race: v7m=$RACE_v7m v6m=$RACE_v6m (tripbit called from SysTick while thread code is inside tripbit)"
verdict=PASS
[ "$RESULT_v7m" = PASS ] || verdict=FAIL
[ "$RACE_v7m" = PASS ] || verdict=FAIL
[ "$RACE_v6m" = PASS ] || [ "$RESULT_v6m" = BUILT ] || verdict=FAIL
# v6m must pass wherever this QEMU can run it; BUILT means no -M microbit here.
[ "$RESULT_v6m" = PASS ] || [ "$RESULT_v6m" = BUILT ] || verdict=FAIL
breaker=$BREAKER_v7m
[ "$breaker" = "?" ] && breaker=$BREAKER_v6m
static=""
[ "$RAM_v7m" != 0 ] && static+=" + ${RAM_v7m} B static on v7m"
[ "$RAM_v6m" != 0 ] && static+=" + ${RAM_v6m} B static on v6m"
echo "firmware-c: $verdict | tripbit adds .text v7m=${TEXT_v7m} B (${OWN_v7m} B excl. Rust intrinsics)," \
     "v6m=${TEXT_v6m} B (${OWN_v6m} B excl.) [method: libtripbit.a input sections in the linked ELF, summed from ld -Map]" \
     "| RAM: sizeof(tripbit_breaker_t)=${breaker} B per breaker${static}"
[ "$verdict" = PASS ]
