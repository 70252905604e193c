#!/usr/bin/env bash
# count-insns.sh: instructions executed per guarded call through tripbit's C
# API on Cortex-M3 (thumbv7m, QEMU -M lm3s6965evb) and Cortex-M0 (thumbv6m,
# QEMU -M microbit), with count.c:
#   baseline  the trivial operation alone, in a loop (count_plain)
#   success   closed breaker: acquire -> operation -> record(SUCCESS)
#   rejected  open breaker: acquire returns TRIPBIT_E_REJECTED
#   success_with, rejected_with
#             the same through acquire_with/record_with (a clock function
#             instead of a tick, called only when tripbit needs the time)
# and added = guarded - baseline.
#
# Method (exact): QEMU translates one guest instruction per translation block
# (-singlestep, or -accel tcg,one-insn-per-tb=on on QEMU >= 8.1) and logs
# every block it executes (-d exec,nochain: no block chaining, so none is
# skipped). Each executed instruction is then one "Trace" line with its PC;
# the script counts the lines between count_begin() and count_end() for
# n = 10, 40 and 70 calls and takes the per-call difference. Checks: every
# counted block holds one instruction (its cflags), the counts are exactly
# linear in n, the hand-written calib loop (subs; bne) gives exactly 2 per
# iteration, and the baseline equals the count read off its disassembly.
# Cross-check (independent): the same firmware under -icount shift=0 (the
# virtual clock advances 1 ns per instruction) times 10 000 and 110 000 calls
# with SysTick on the processor clock; the calib loop gives SysTick ticks per
# instruction (12.5 MHz on lm3s6965evb, 16 MHz on microbit), and the two
# methods must agree within the timer's resolution.
#
# The last line is machine-readable:
#   count-insns: PASS | v7m baseline=8 success=... rejected=... added_success=...
#   added_rejected=... cs_success=... cs_rejected=... added_success_with=...
#   added_rejected_with=... cs_success_with=... cs_rejected_with=...
#   | v6m ... | method=...
#
# Needs what run-qemu.sh needs (cargo + thumbv6m/thumbv7m targets,
# arm-none-eabi-gcc + newlib, qemu-system-arm).
# Env: CARGO_TARGET_DIR (default <repo>/target/firmware-c, shared with
#      run-qemu.sh), QEMU_TIMEOUT (seconds per QEMU run, default 60),
#      KEEP_TRACE=1 keeps the instruction traces (a few MB each).
set -uo pipefail

case "${1:-}" in
    "") ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=common.sh
source "$HERE/common.sh"
OUT="$CARGO_TARGET_DIR/count"

need_tools count-insns cargo arm-none-eabi-gcc arm-none-eabi-objdump arm-none-eabi-nm \
    arm-none-eabi-c++filt qemu-system-arm timeout awk

# One guest instruction per translation block.
if qemu-system-arm -help 2>/dev/null | grep -q '^-singlestep'; then
    ONE_INSN=(-singlestep)
else
    ONE_INSN=(-accel tcg,one-insn-per-tb=on)
fi

hexaddr() { # SYMBOL ELF: the symbol's address, Thumb bit cleared, as 0x...
    local v
    v=$(arm-none-eabi-nm "$2" | awk -v s="$1" '$3 == s { print $1; exit }')
    [ -n "$v" ] || return 1
    printf '0x%x\n' $((0x$v & ~1))
}

# Instructions per iteration of count_plain, read off the disassembly: the
# straight-line loop body (backward-branch target .. the backward branch)
# plus count_op up to its `bx lr`. Prints the count, or "n/a" with a reason
# if the code is not that shape.
static_baseline() {
    local elf=$1
    {
        arm-none-eabi-objdump -d --no-show-raw-insn --disassemble=count_plain "$elf"
        echo "@@op"
        arm-none-eabi-objdump -d --no-show-raw-insn --disassemble=count_op "$elf"
    } | awk -F'\t' '
    function hex(s,   i, v) { v = 0; s = tolower(s); sub(/^0x/, "", s)
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v }
    /^@@op/ { part = "op"; next }
    $1 ~ /^ *[0-9a-f]+:$/ && NF >= 2 && $2 !~ /^\./ {
        a = $1; gsub(/[ :]/, "", a)
        if (part == "op") { if (!opdone) { nop++; if ($2 == "bx" && $3 ~ /lr/) opdone = 1
                                            else if ($2 ~ /^(b|bl|blx|cbz|cbnz|pop)/) bad = "count_op branches" } }
        else { n++; addr[n] = hex(a); mn[n] = $2; op[n] = $3 }
    }
    END {
        for (i = 1; i <= n; i++)
            if (mn[i] ~ /^b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)?(\.[nw])?$/) {
                split(op[i], t, " "); if (hex(t[1]) < addr[i]) { back = i; target = hex(t[1]) } }
        if (!back) { print "n/a (no backward branch in count_plain)"; exit }
        if (!opdone) bad = "no bx lr in count_op"
        body = 0; calls = 0
        for (i = 1; i <= n; i++) {
            if (addr[i] < target || addr[i] > addr[back]) continue
            body++
            if (i == back) continue
            if (mn[i] == "bl" && op[i] ~ /<count_op>/) calls++
            else if (mn[i] ~ /^(b|bl|blx|bx|cbz|cbnz)(\.[nw])?$/ || mn[i] ~ /^b(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)(\.[nw])?$/) bad = "branch inside the loop body"
        }
        if (calls != 1) bad = "count_op not called once per iteration"
        if (bad != "") { print "n/a (" bad ")"; exit }
        print body + nop
    }'
}

# analyse_trace LABELS TRACE BEGIN END CS_ACQUIRE: per-call counts from the
# exec trace. Prints
#   kind <name> <per-call> <exact 0|1> <critical sections per call>
#   fn <name> <per-call> <symbol>        (success and rejected only)
#   cflags_bad <n>                       (counted blocks with more than 1 insn)
analyse_trace() {
    awk -v B="$3" -v E="$4" -v CS="$5" '
    function hex(s,   i, v) { v = 0; s = tolower(s); sub(/^0x/, "", s)
        for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v }
    BEGIN { b = hex(B); e = hex(E); cs = hex(CS) }
    FNR == NR { if ($1 == "segment") { nl++; lk[nl] = $2; ln[nl] = $3 } next }
    /^Trace / {
        if (!match($0, /\[[0-9a-fA-F\/]+\]/)) next
        split(substr($0, RSTART + 1, RLENGTH - 2), f, "/")
        pc = hex(f[2])
        if (pc == b) { on = 1; seg++; cnt[seg] = 0; csn[seg] = 0; next }
        if (pc == e) { on = 0; next }
        if (!on) next
        cnt[seg]++
        if (pc == cs) csn[seg]++
        if (hex(f[4]) % 512 != 1) badfl++
        sym = substr($0, RSTART + RLENGTH + 1); if (sym == "") sym = "?"
        fn[seg, sym]++; syms[sym] = 1
    }
    END {
        if (seg != nl) { print "error segments", seg, nl; exit }
        for (i = 1; i <= nl; i++) {
            k = lk[i]
            if (!(k in first)) first[k] = i
            last[k] = i; mid[k] = (k in mid) ? mid[k] : 0
            if (i != first[k] && !mid[k]) mid[k] = i
        }
        for (k in first) {
            i1 = first[k]; i2 = mid[k]; i3 = last[k]
            n1 = ln[i1]; n2 = ln[i2]; n3 = ln[i3]
            d1 = cnt[i2] - cnt[i1]; d2 = cnt[i3] - cnt[i2]
            exact = (d1 * (n3 - n2) == d2 * (n2 - n1) && d1 % (n2 - n1) == 0) ? 1 : 0
            printf "kind %s %.4f %d %.4f\n", k, (cnt[i3] - cnt[i1]) / (n3 - n1), exact, (csn[i3] - csn[i1]) / (n3 - n1)
            if (k != "plain" && k != "calib")
                for (s in syms) {
                    d = fn[i3, s] - fn[i1, s]
                    if (d != 0) printf "fn %s %.2f %s\n", k, d / (n3 - n1), s
                }
        }
        printf "cflags_bad %d\n", badfl + 0
    }' "$1" "$2"
}

# measure NAME RUST_TARGET CPU LDSCRIPT QEMU_MACHINE: sets R_<NAME>_<field>.
measure() {
    local name=$1 triple=$2 cpu=$3 ldscript=$4 machine=$5
    local dir="$OUT/$name" lib="$CARGO_TARGET_DIR/$triple/firmware/libtripbit.a"
    mkdir -p "$dir"
    printf -v "OK_$name" '%s' 0
    printf -v "WHY_$name" '%s' ""

    echo "== $name: cargo rustc -p tripbit-ffi --lib --no-default-features --target $triple --profile firmware --crate-type staticlib"
    if ! cargo_firmware "$dir/cargo.log" "$triple"; then
        printf -v "WHY_$name" '%s' "cargo build"; return 1
    fi
    echo "== $name: arm-none-eabi-gcc -mcpu=$cpu -Os count.c, -T $ldscript"
    if ! arm-none-eabi-gcc -mcpu="$cpu" "${CFLAGS[@]}" "${LDFLAGS[@]}" -T "$ldscript" \
            "$HERE/startup.c" "$HERE/count.c" "$lib" -o "$dir/count.elf" 2>"$dir/gcc.log"; then
        cat "$dir/gcc.log"
        printf -v "WHY_$name" '%s' "compile/link"; return 1
    fi
    if ! qemu-system-arm -M help | grep -q "^$machine "; then
        printf -v "WHY_$name" '%s' "qemu-system-arm has no -M $machine"; return 1
    fi

    local elf="$dir/count.elf" b e cs
    b=$(hexaddr count_begin "$elf") && e=$(hexaddr count_end "$elf") ||
        { printf -v "WHY_$name" '%s' "symbols missing"; return 1; }
    # No critical-section hook linked at all (the lock-free 32-bit word on
    # cores with a CAS, and no window breaker in count.c): 0 taken. An
    # address no instruction has keeps analyse_trace's count at 0.
    cs=$(hexaddr _critical_section_1_0_acquire "$elf") || cs=0xfffffffe
    echo "   critical-section hook: $([ "$cs" = 0xfffffffe ] && echo 'not linked (no interrupt masking)' || echo "at 0x$cs")"
    local static
    static=$(static_baseline "$elf")
    echo "   baseline loop from the disassembly: $static instructions per iteration"
    arm-none-eabi-objdump -d --no-show-raw-insn --disassemble=count_plain "$elf" | sed -n '/^[0-9a-f]* <count_plain>:/,$p' | sed 's/^/   | /'
    arm-none-eabi-objdump -d --no-show-raw-insn --disassemble=count_op "$elf" | sed -n '/^[0-9a-f]* <count_op>:/,$p' | sed 's/^/   | /'

    local qemu=(qemu-system-arm -M "$machine" -nographic)
    local rc
    echo "== $name: timeout $QEMU_TIMEOUT ${qemu[*]} ${ONE_INSN[*]} -d exec,nochain -D trace.log ... trace"
    timeout "$QEMU_TIMEOUT" "${qemu[@]}" "${ONE_INSN[@]}" -d exec,nochain -D "$dir/trace.log" \
        -semihosting-config enable=on,target=native,arg=count.elf,arg=trace \
        -kernel "$elf" >"$dir/trace.out" 2>"$dir/trace.stderr"
    rc=$?
    grep -v "^segment " "$dir/trace.out" | sed 's/^/   | /'
    if [ "$rc" != 0 ] || ! grep -q "^count: PASS (trace mode)$" "$dir/trace.out"; then
        grep -v "^Timer with period zero, disabling$" "$dir/trace.stderr" | sed 's/^/   ! /'
        printf -v "WHY_$name" '%s' "trace run exited $rc"; return 1
    fi
    analyse_trace "$dir/trace.out" "$dir/trace.log" "$b" "$e" "$cs" >"$dir/trace.txt"
    [ "${KEEP_TRACE:-}" = 1 ] || rm -f "$dir/trace.log"
    if grep -q "^error" "$dir/trace.txt"; then
        cat "$dir/trace.txt"; printf -v "WHY_$name" '%s' "trace segments"; return 1
    fi

    echo "== $name: timeout $QEMU_TIMEOUT ${qemu[*]} -icount shift=0 ... timer"
    timeout "$QEMU_TIMEOUT" "${qemu[@]}" -icount shift=0 \
        -semihosting-config enable=on,target=native,arg=count.elf,arg=timer \
        -kernel "$elf" >"$dir/timer.out" 2>"$dir/timer.stderr"
    rc=$?
    sed 's/^/   | /' "$dir/timer.out"
    if [ "$rc" != 0 ] || ! grep -q "^count: PASS (timer mode)$" "$dir/timer.out"; then
        grep -v "^Timer with period zero, disabling$" "$dir/timer.stderr" | sed 's/^/   ! /'
        printf -v "WHY_$name" '%s' "timer run exited $rc"; return 1
    fi

    # Per-call figures, checks and cross-check.
    local res
    res=$(awk -v static="$static" '
        FNR == NR {
            if ($1 == "kind") { per[$2] = $3; exact[$2] = $4; csc[$2] = $5 }
            if ($1 == "cflags_bad") cfbad = $2
            next }
        $1 == "timer" { if (!($2 in t1)) { n1[$2] = $3; t1[$2] = $4 } else { n2[$2] = $3; t2[$2] = $4 } }
        END {
            why = ""
            for (k in per) if (!exact[k]) why = why " " k "-not-linear"
            if (cfbad) why = why " blocks-with-more-than-1-insn"
            if (per["calib"] != 2) why = why " calib-not-2"
            if (static !~ /^n\/a/ && per["plain"] != static) why = why " baseline-not-objdump"
            rate = (t2["calib"] - t1["calib"]) / (2 * (n2["calib"] - n1["calib"]))
            maxdiff = 0
            nk = split("plain success rejected success_with rejected_with", ks, " ")
            for (j = 1; j <= nk; j++) {
                k = ks[j]
                tm[k] = (t2[k] - t1[k]) / (n2[k] - n1[k]) / rate
                # timer resolution: 2 ticks per difference, plus the ratio error
                tol = 2 / (n2[k] - n1[k]) / rate + tm[k] * 2 / (t2["calib"] - t1["calib"]) + 0.005
                d = tm[k] - per[k]; if (d < 0) d = -d
                if (d > tol) why = why " timer-disagrees-" k
                if (d > maxdiff) maxdiff = d
            }
            printf "plain=%d success=%d rejected=%d cs_success=%g cs_rejected=%g ", per["plain"], per["success"], per["rejected"], csc["success"], csc["rejected"]
            printf "success_with=%d rejected_with=%d cs_success_with=%g cs_rejected_with=%g ", per["success_with"], per["rejected_with"], csc["success_with"], csc["rejected_with"]
            printf "t_plain=%.3f t_success=%.3f t_rejected=%.3f t_success_with=%.3f t_rejected_with=%.3f mhz=%.4f maxdiff=%.3f ", tm["plain"], tm["success"], tm["rejected"], tm["success_with"], tm["rejected_with"], rate * 1000, maxdiff
            gsub(/^ /, "", why); gsub(/ /, ",", why)
            printf "why=%s\n", why
        }' "$dir/trace.txt" "$dir/timer.out")
    echo "   $res"
    local kv
    for kv in $res; do printf -v "R_${name}_${kv%%=*}" '%s' "${kv#*=}"; done
    local why_var="R_${name}_why"
    if [ -n "${!why_var}" ]; then
        printf -v "WHY_$name" '%s' "check failed: ${!why_var}"; return 1
    fi
    printf -v "STATIC_$name" '%s' "$static"

    echo "   where the instructions go, per call (trace, n=70 minus n=10, / 60):"
    local kind
    for kind in success rejected success_with rejected_with; do
        echo "     $kind:"
        awk -v k="$kind" '$1 == "fn" && $2 == k { print $3, $4 }' "$dir/trace.txt" | sort -rn |
            while read -r per sym; do
                printf '       %7s  %s\n' "$per" "$(printf '%s' "$sym" | arm-none-eabi-c++filt | sed 's/::h[0-9a-f]\{16\}$//')"
            done
    done
    printf -v "OK_$name" '%s' 1
}

measure v7m thumbv7m-none-eabi cortex-m3 lm3s6965.ld lm3s6965evb
measure v6m thumbv6m-none-eabi cortex-m0 microbit.ld microbit

verdict=PASS
echo "== instructions per guarded call (tripbit C API, count.c built -Os; exact count from a QEMU exec trace)"
printf '%-28s  %8s  %7s  %8s  %13s  %14s  %14s  %s\n' core baseline success rejected "added success" "added rejected" "crit. sections" "-icount + SysTick (b / s / r)"
line="count-insns:"
parts=""
for name in v7m v6m; do
    case $name in
        v7m) label="v7m (Cortex-M3, lm3s6965evb)" ;;
        v6m) label="v6m (Cortex-M0, microbit)" ;;
    esac
    ok_var="OK_$name" why_var="WHY_$name"
    if [ "${!ok_var}" != 1 ]; then
        verdict=FAIL
        printf '%-28s FAIL (%s)\n' "$label" "${!why_var}"
        parts+=" | $name FAIL"
        continue
    fi
    p="R_${name}_plain" s="R_${name}_success" r="R_${name}_rejected"
    cs1="R_${name}_cs_success" cs2="R_${name}_cs_rejected"
    tp="R_${name}_t_plain" ts="R_${name}_t_success" tr="R_${name}_t_rejected" mhz="R_${name}_mhz"
    printf '%-28s  %8d  %7d  %8d  %13d  %14d  %14s  %s\n' "$label" "${!p}" "${!s}" "${!r}" \
        $(( ${!s} - ${!p} )) $(( ${!r} - ${!p} )) "${!cs1} / ${!cs2}" \
        "${!tp} / ${!ts} / ${!tr} (SysTick $(printf '%.3f' "${!mhz}") MHz)"
    parts+=" | $name baseline=${!p} success=${!s} rejected=${!r} added_success=$(( ${!s} - ${!p} ))"
    parts+=" added_rejected=$(( ${!r} - ${!p} )) cs_success=${!cs1} cs_rejected=${!cs2}"
    sw="R_${name}_success_with" rw="R_${name}_rejected_with"
    cs3="R_${name}_cs_success_with" cs4="R_${name}_cs_rejected_with"
    tsw="R_${name}_t_success_with" trw="R_${name}_t_rejected_with"
    printf '%-28s  %8s  %7d  %8d  %13d  %14d  %14s  %s\n' "  ..._with(clock) calls" "" "${!sw}" "${!rw}" \
        $(( ${!sw} - ${!p} )) $(( ${!rw} - ${!p} )) "${!cs3} / ${!cs4}" "- / ${!tsw} / ${!trw}"
    parts+=" added_success_with=$(( ${!sw} - ${!p} )) added_rejected_with=$(( ${!rw} - ${!p} ))"
    parts+=" cs_success_with=${!cs3} cs_rejected_with=${!cs4}"
done
echo "(per call: the n=70 minus n=10 difference / 60; 'crit. sections' = _critical_section_1_0_acquire calls per success / rejection;"
echo " checks: 1 instruction per block, exactly linear in n, calib loop = 2/iteration, baseline = its disassembly, cross-check within resolution;"
# The last commit of the library's sources (core/, ffi-c/), for the record.
src=$(git -C "$ROOT" log -1 --format=%h -- core ffi-c 2>/dev/null || true)
[ -n "$src" ] && ! git -C "$ROOT" diff --quiet HEAD -- core ffi-c 2>/dev/null && src+="+local changes"
echo " core/ + ffi-c/ at ${src:-?}, $(qemu-system-arm --version | head -n 1), $(arm-none-eabi-gcc --version | head -n 1))"

# Lock-free evidence (objdump): on the Cortex-M3 (32-bit CAS) the guarded
# path must not mask interrupts. count.c links only the consecutive
# breaker's acquire and record, so the whole image may hold no cpsid/cpsie
# and no msr/mrs of PRIMASK/BASEPRI, and the state word's updates must be
# ldrex/strex. On the M0 (no CAS) the critical section is expected.
masking='cpsi[de]|msr[[:space:]]+(primask|basepri)|mrs[[:space:]]+[a-z0-9]+, (primask|basepri)'
for name in v7m v6m; do
    elf="$OUT/$name/count.elf"
    [ -f "$elf" ] || continue
    n_mask=$(arm-none-eabi-objdump -d "$elf" | grep -ciE "$masking" || true)
    n_excl=$(arm-none-eabi-objdump -d "$elf" | grep -ciE 'ldrex|strex' || true)
    echo "objdump $name: $n_mask interrupt-masking instructions, $n_excl ldrex/strex in count.elf"
    if [ "$name" = v7m ]; then
        arm-none-eabi-objdump -d "$elf" | awk '/<tripbit_breaker_acquire>:/,/^$/' | sed -n '1,24p' | sed 's/^/   | /'
        if [ "$n_mask" != 0 ] || [ "$n_excl" = 0 ]; then
            echo "objdump v7m: FAIL: the M3 guarded path masks interrupts (or has no exclusive access)"
            verdict=FAIL
        fi
        parts+=" | v7m_masking_insns=$n_mask"
    fi
done
echo "$line $verdict$parts | method=qemu-exec-trace-one-insn-per-tb crosscheck=icount-shift0-systick"
[ "$verdict" = PASS ]
