#!/usr/bin/env bash
# run-qemu.sh: build libtripbit.a for bare metal, link the C firmware in this
# directory against it, and run it under QEMU with semihosting, for
#   - thumbv7m-none-eabi, -mcpu=cortex-m3, QEMU -M lm3s6965evb (TI LM3S6965)
#   - thumbv6m-none-eabi, -mcpu=cortex-m0, QEMU -M microbit    (nRF51822)
#   - thumbv7em-none-eabihf, -mcpu=cortex-m4 -mfloat-abi=hard, QEMU -M mps2-an386
#     (Arm MPS2 with a Cortex-M4; the LM3S6965 memory map fits its RAM)
# All must pass. Each also runs three negative controls (a deliberate
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
# `run-qemu.sh --size-report` builds size.c, a minimal bare-metal program
# (no libc), with and without tripbit for Cortex-M0 (thumbv6m), M3
# (thumbv7m) and M4F (thumbv7em-eabihf), runs each image under QEMU (exit 0
# proves the measured program works), and prints the flash (text + data)
# and RAM (data + bss) tripbit adds per core, with where the flash goes. A
# report: it fails only if a build or a run fails, never on a figure.
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
    --size-report) MODE=size-report ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--isr-race | --size-report]" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"
OUT="$CARGO_TARGET_DIR/fw"

need_tools firmware-c cargo arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm timeout
if command -v rustup >/dev/null 2>&1; then
    for t in thumbv7m-none-eabi thumbv6m-none-eabi thumbv7em-none-eabihf; do
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
    echo "== $name: cargo rustc -p tripbit-ffi --lib --no-default-features --target $triple --profile firmware --crate-type staticlib"
    cargo_firmware "$OUT/$name/cargo.log" "$triple" || return 1
    [ "${2:-}" != "" ] && [ "${3:-}" = "with-panic-test" ] || return 0
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR/panic-test" \
        cargo_firmware "$OUT/$name/cargo-panic-test.log" "$triple" --features panic-test
}

# run_variant NAME RUST_TARGET CPU LDSCRIPT QEMU_MACHINE [GCC FLAGS...]
# Sets RESULT_<NAME>, TEXT_<NAME>, SUMMARY_<NAME>, BREAKER_<NAME>.
run_variant() {
    local name=$1 triple=$2 cpu=$3 ldscript=$4 machine=$5
    local cpuflags=(-mcpu="$cpu" "${@:6}")
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
        if ! arm-none-eabi-gcc "${cpuflags[@]}" "${CFLAGS[@]}" "${defs[@]}" "${LDFLAGS[@]}" \
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

# isr-race NAME RUST_TARGET CPU LDSCRIPT QEMU_MACHINE [GCC FLAGS...]: see
# isr-race.c. Sets RACE_<NAME> to PASS, HANG or FAIL.
run_race() {
    local name=$1 triple=$2 cpu=$3 ldscript=$4 machine=$5
    local cpuflags=(-mcpu="$cpu" "${@:6}")
    local dir="$OUT/$name"
    printf -v "RACE_$name" '%s' FAIL
    build_lib "$name" "$triple" || return 1
    arm-none-eabi-gcc "${cpuflags[@]}" "${CFLAGS[@]}" "${LDFLAGS[@]}" -T "$ldscript" \
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

# ---- size report (--size-report) ----

# size_sum ELF: "flash ram" = text + data, data + bss (arm-none-eabi-size).
size_sum() {
    arm-none-eabi-size "$1" | awk 'NR == 2 { print $1 + $2, $2 + $3 }'
}

# size_parts BASE_ELF TRIPBIT_ELF: where the added flash goes, by symbol
# (nm -S, demangled). Prints "core_sm core_cfg ffi_api ffi_int intrinsics app".
#   core_sm    tripbit's state machine (crate tripbit: breaker, machine, policy, state, window)
#   core_cfg   the core's config checks (tripbit::config::*)
#   ffi_api    the exported tripbit_* C functions (ffi-c's extern "C" wrappers)
#   ffi_int    ffi-c's internal helpers (pointer checks, config conversion)
#   intrinsics compiler_builtins inside libtripbit.a (memcpy, memclr, division, 64-bit multiply)
#   app        the firmware's own growth: the critical-section hooks and main's calls
# The rest of the difference (rodata, literal pools, alignment) is total minus these.
size_parts() {
    { arm-none-eabi-nm -S -C "$1" | sed 's/^/base /'; arm-none-eabi-nm -S -C "$2" | sed 's/^/tb /'; } |
    awk '
    function hex(s,   i, v) { v = 0; s = tolower(s)
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v }
    NF >= 5 && $4 ~ /^[tTwW]$/ {
        name = $5; for (i = 6; i <= NF; i++) name = name " " $i
        if ($1 == "base") { base[name] = hex($3); next }
        sz = hex($3)
        if (name ~ /^tripbit_/) api += sz
        else if (name ~ /^tripbit::(types|error|panic|ticks|ratio)::/ || name ~ /^tripbit::breaker::(breaker_ref|operator|write_transition)/ || name ~ /tripbit_[a-z0-9_]*_t/) ffi += sz
        else if (name ~ /^tripbit::config::/) cfg += sz
        else if (name ~ /^tripbit::/ || name ~ /^<tripbit::/) sm += sz
        else if (name ~ /^(__aeabi|__udiv|__div|__mul|__ashl|__lshr|mem|compiler_builtins::)/) intr += sz
        else app += sz - ((name in base) ? base[name] : 0)
    }
    END { printf "%d %d %d %d %d %d\n", sm, cfg, api, ffi, intr, app }'
}

# size_core NAME RUST_TARGET LDSCRIPT QEMU_MACHINE GCC_FLAGS...: builds size.c
# three ways (without tripbit; with tripbit_breaker_init(); with the
# compile-time TRIPBIT_BREAKER_INIT() and no init call), runs each under QEMU
# and sets SZ_<NAME>_<variant> = "flash ram" and SZP_<NAME>_<variant> = parts.
size_core() {
    local name=$1 triple=$2 ldscript=$3 machine=$4
    shift 4
    local dir="$OUT/size/$name" lib="$CARGO_TARGET_DIR/$triple/firmware/libtripbit.a"
    mkdir -p "$dir"
    echo "== size $name ($triple): cargo rustc -p tripbit-ffi --lib --no-default-features --target $triple --profile firmware --crate-type staticlib"
    cargo_firmware "$dir/cargo.log" "$triple" || return 1
    # -nostdlib: nothing but size.c and libtripbit.a (its compiler_builtins
    # supply memcpy & co.); no loop-to-memcpy rewriting in the startup code.
    local cc=(arm-none-eabi-gcc -mthumb "$@" -std=c11 -Os -Wall -Wextra -Werror
              -ffunction-sections -fdata-sections -fno-tree-loop-distribute-patterns
              -I "$ROOT/ffi-c/include" -nostdlib -nostartfiles -L "$HERE"
              -Wl,--gc-sections -Wl,--no-warn-execstack -T "$ldscript")
    local v defs
    for v in base init static window; do
        case $v in
            base) defs=() ;;
            init) defs=(-DSIZE_WITH_TRIPBIT) ;;
            static) defs=(-DSIZE_WITH_TRIPBIT -DSIZE_STATIC_INIT) ;;
            window) defs=(-DSIZE_WITH_TRIPBIT -DSIZE_WINDOW) ;;
        esac
        local extra=()
        [ "$v" != base ] && extra=("$lib" -lgcc)
        if ! "${cc[@]}" "${defs[@]}" -Wl,-Map="$dir/$v.map" "$HERE/size.c" "${extra[@]}" \
                -o "$dir/$v.elf" 2>"$dir/$v.gcc.log"; then
            cat "$dir/$v.gcc.log"; return 1
        fi
        if qemu-system-arm -M help | grep -q "^$machine "; then
            timeout "$QEMU_TIMEOUT" qemu-system-arm -M "$machine" -nographic \
                -semihosting-config enable=on,target=native -kernel "$dir/$v.elf" \
                >"$dir/$v.log" 2>&1
            local rc=$?
            if [ "$rc" != 0 ]; then
                echo "   size.c ($v) under QEMU -M $machine exited $rc (want 0)"; sed 's/^/   | /' "$dir/$v.log"
                return 1
            fi
        fi
        printf -v "SZ_${name}_$v" '%s' "$(size_sum "$dir/$v.elf")"
        [ "$v" != base ] && printf -v "SZP_${name}_$v" '%s' "$(size_parts "$dir/base.elf" "$dir/$v.elf")"
    done
    echo "   built and ran: base, init, static, window (QEMU -M $machine, exit 0 each)"
    echo "   largest symbols (with init()):"
    arm-none-eabi-nm -S --size-sort -C "$dir/init.elf" | awk '$3 ~ /^[tTwW]$/' | tail -n 10 |
        while read -r _ sz _ sym; do printf '     %5d  %s\n' "$((16#$sz))" "$sym"; done
}

size_report() {
    local ok=1
    size_core m0 thumbv6m-none-eabi microbit.ld microbit -mcpu=cortex-m0 || ok=0
    size_core m3 thumbv7m-none-eabi lm3s6965.ld lm3s6965evb -mcpu=cortex-m3 || ok=0
    size_core m4f thumbv7em-none-eabihf lm3s6965.ld mps2-an386 \
        -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16 || ok=0
    [ "$ok" = 1 ] || { echo "size-report: FAIL (a build or a QEMU run failed, see above)"; return 1; }
    echo "== size report: what tripbit adds to size.c (one consecutive breaker: acquire + record + the 2 critical-section hooks; -Os -ffunction-sections -Wl,--gc-sections, no libc; window8: the same with a tripbit_window8_t)"
    printf '%-26s %10s %10s %10s %10s %12s %14s %12s\n' core "base flash" "+flash" "+RAM" "goal" "+flash, no init()" "window8 +flash" "window8 +RAM"
    local n label goal
    for n in m0 m3 m4f; do
        case $n in
            m0) label="Cortex-M0 (thumbv6m)"; goal="<= 1536 B" ;;
            m3) label="Cortex-M3 (thumbv7m)"; goal="-" ;;
            m4f) label="Cortex-M4F (thumbv7em-hf)"; goal="-" ;;
        esac
        local b i s w bf br if ir sf sr wf wr
        b="SZ_${n}_base" i="SZ_${n}_init" s="SZ_${n}_static" w="SZ_${n}_window"
        read -r bf br <<<"${!b}"; read -r if ir <<<"${!i}"; read -r sf sr <<<"${!s}"; read -r wf wr <<<"${!w}"
        printf '%-26s %8d B %8d B %8d B %10s %10d B %12d B %10d B\n' "$label" "$bf" $((if - bf)) $((ir - br)) "$goal" \
            $((sf - bf)) $((wf - bf)) $((wr - br))
    done
    echo "where the added flash goes (by symbol, nm -S):"
    printf '%-26s %8s %8s %8s %8s %8s %8s %8s\n' core "state m." "cfg chk" "C API" "ffi int" "intrins" "fw side" "other"
    local v
    for v in init static; do
        for n in m0 m3 m4f; do
            local p="SZP_${n}_$v" i="SZ_${n}_$v" b="SZ_${n}_base"
            local sm cfg api ffi intr app bf br if ir
            read -r sm cfg api ffi intr app <<<"${!p}"
            read -r bf br <<<"${!b}"; read -r if ir <<<"${!i}"
            printf '%-26s %8d %8d %8d %8d %8d %8d %8d\n' "$n, $([ $v = init ] && echo 'init()' || echo 'no init()')" \
                "$sm" "$cfg" "$api" "$ffi" "$intr" "$app" $((if - bf - sm - cfg - api - ffi - intr - app))
        done
    done
    echo "(state m. = crate tripbit's breaker/machine/policy/state code; cfg chk = tripbit::config; C API = the exported"
    echo " tripbit_* functions; ffi int = ffi-c helpers; intrins = compiler_builtins; fw side = hooks + main's calls;"
    echo " other = rodata, literal pools, alignment. Images and maps: $OUT/size/<core>/)"
    local m0i m0b m0if m0bf
    read -r m0if _ <<<"$SZ_m0_init"; read -r m0bf _ <<<"$SZ_m0_base"
    local m0s m0sf; read -r m0sf _ <<<"$SZ_m0_static"
    echo "size-report: m0 +$((m0if - m0bf)) B flash (+$((m0sf - m0bf)) B without init()), goal <= 1536 B:" \
         "$([ $((m0sf - m0bf)) -le 1536 ] && echo met || echo not met) | m3 +$(( ${SZ_m3_init%% *} - ${SZ_m3_base%% *} )) B" \
         "| m4f +$(( ${SZ_m4f_init%% *} - ${SZ_m4f_base%% *} )) B"
}

if [ "$MODE" = size-report ]; then
    size_report
    exit
fi

M4F=(-mfloat-abi=hard -mfpu=fpv4-sp-d16)

if [ "$MODE" = isr-race ]; then
    run_race v7m thumbv7m-none-eabi cortex-m3 lm3s6965.ld lm3s6965evb
    run_race v6m thumbv6m-none-eabi cortex-m0 microbit.ld microbit
    run_race v7em thumbv7em-none-eabihf cortex-m4 lm3s6965.ld mps2-an386 "${M4F[@]}"
    verdict=PASS
    [ "$RACE_v7m" = PASS ] && [ "$RACE_v6m" = PASS ] && [ "$RACE_v7em" = PASS ] || verdict=FAIL
    echo "isr-race: $verdict | v7m=$RACE_v7m v6m=$RACE_v6m v7em=$RACE_v7em (tripbit called from SysTick while thread code is inside tripbit)"
    [ "$verdict" = PASS ]
    exit
fi

# Cortex-M3: TI LM3S6965 (FLASH 256K @0, RAM 64K @0x20000000).
run_variant v7m thumbv7m-none-eabi cortex-m3 lm3s6965.ld lm3s6965evb
# Cortex-M0: nRF51822 of the BBC micro:bit (FLASH 256K @0, RAM 16K @0x20000000).
run_variant v6m thumbv6m-none-eabi cortex-m0 microbit.ld microbit
# Cortex-M4F: Arm MPS2 AN386 (SSRAM @0 and @0x20000000: the LM3S6965 map fits).
run_variant v7em thumbv7em-none-eabihf cortex-m4 lm3s6965.ld mps2-an386 "${M4F[@]}"

# Interrupt safety: tripbit called from SysTick while the interrupted thread
# code is inside tripbit on the same breaker.
run_race v7m thumbv7m-none-eabi cortex-m3 lm3s6965.ld lm3s6965evb
run_race v6m thumbv6m-none-eabi cortex-m0 microbit.ld microbit
run_race v7em thumbv7em-none-eabihf cortex-m4 lm3s6965.ld mps2-an386 "${M4F[@]}"

echo "== summary"
echo "$SUMMARY_v7m"
echo "$SUMMARY_v6m"
echo "$SUMMARY_v7em"
echo "isr-race: v7m=$RACE_v7m v6m=$RACE_v6m v7em=$RACE_v7em (tripbit called from SysTick while thread code is inside tripbit)"
verdict=PASS
[ "$RESULT_v7m" = PASS ] || verdict=FAIL
[ "$RACE_v7m" = PASS ] || verdict=FAIL
[ "$RACE_v6m" = PASS ] || [ "$RESULT_v6m" = BUILT ] || verdict=FAIL
[ "$RACE_v7em" = PASS ] || [ "$RESULT_v7em" = BUILT ] || verdict=FAIL
# v6m and v7em must pass wherever this QEMU can run them; BUILT means this
# QEMU has no -M microbit / mps2-an386.
[ "$RESULT_v6m" = PASS ] || [ "$RESULT_v6m" = BUILT ] || verdict=FAIL
[ "$RESULT_v7em" = PASS ] || [ "$RESULT_v7em" = BUILT ] || verdict=FAIL
breaker=$BREAKER_v7m
[ "$breaker" = "?" ] && breaker=$BREAKER_v6m
static=""
[ "$RAM_v7m" != 0 ] && static+=" + ${RAM_v7m} B static on v7m"
[ "$RAM_v6m" != 0 ] && static+=" + ${RAM_v6m} B static on v6m"
echo "firmware-c: $verdict | tripbit adds .text v7m=${TEXT_v7m} B (${OWN_v7m} B excl. Rust intrinsics)," \
     "v6m=${TEXT_v6m} B (${OWN_v6m} B excl.), v7em=${TEXT_v7em} B (${OWN_v7em} B excl.) [method: libtripbit.a input sections in the linked ELF, summed from ld -Map]" \
     "| RAM: sizeof(tripbit_breaker_t)=${breaker} B per breaker${static}"
[ "$verdict" = PASS ]
