#!/usr/bin/env bash
# Runs every benchmark of tripbit against its peers and rewrites
# benches/README.md and benches/chart.png from this one run.
#
#   benches/run.sh                        # about 10 minutes on 2 cores
#   TRIPBIT_BENCH_QUICK=1 benches/run.sh  # short measurements (development)
#
# Steps: the Python venv (.venv-bench: pybreaker, circuitbreaker,
# matplotlib, maturin, and tripbit's wheel built from py/); size_of each
# breaker; instructions and atomic RMWs per call under callgrind; criterion
# (1 thread, then 1 vs 2 threads on one breaker); the Python benchmarks;
# the embedded examples' QEMU scripts when they exist (sizes, and
# instructions per guarded call on thumbv7m/thumbv6m from
# examples/firmware-c/count-insns.sh); the report.
#
# Environment: CARGO_TARGET_DIR (default target/bench), TRIPBIT_BENCH_OUT
# (raw results, default $CARGO_TARGET_DIR/bench-results), TRIPBIT_BENCH_VENV
# (default .venv-bench), TRIPBIT_BENCH_QUICK.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/bench}"
OUT="${TRIPBIT_BENCH_OUT:-$CARGO_TARGET_DIR/bench-results}"
export TRIPBIT_BENCH_OUT="$OUT"
VENV="${TRIPBIT_BENCH_VENV:-$ROOT/.venv-bench}"
PY_TARGET="$ROOT/target/bench-py"
QUICK="${TRIPBIT_BENCH_QUICK:-}"

step() { printf '\n== %s (%s)\n' "$*" "$(date +%H:%M:%S)" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

rm -rf "$OUT"
mkdir -p "$OUT/embedded"
LOAD_BEFORE=$(loadavg)
STARTED=$(date -u +%s)

step "Python environment: $VENV"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check pybreaker circuitbreaker matplotlib maturin
rm -rf "$PY_TARGET/wheels"
CARGO_TARGET_DIR="$PY_TARGET" "$VENV/bin/maturin" build --release -m py/Cargo.toml \
    --out "$PY_TARGET/wheels" >"$OUT/maturin.log" 2>&1 || {
    tail -30 "$OUT/maturin.log" >&2
    exit 1
}
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps \
    "$PY_TARGET"/wheels/tripbit-*.whl

step "Rust: build (release, fat LTO)"
cargo build --release -p tripbit-benches --bins --benches 2>&1 | tail -3 >&2

step "size_of each breaker"
"$CARGO_TARGET_DIR/release/sizes" >"$OUT/sizes.json"

if command -v valgrind >/dev/null; then
    step "instructions per call (callgrind)"
    "$CARGO_TARGET_DIR/release/count" >"$OUT/counts.json"
    "$VENV/bin/python" benches/rmw.py "$OUT/callgrind" "$OUT/counts.json" >"$OUT/rmw.json"
else
    step "valgrind not installed: no instruction counts (apt-get install valgrind)"
fi

step "criterion: 1 thread, then 1 vs 2 threads on one breaker"
CRITERION_HOME="$OUT/criterion" cargo bench -p tripbit-benches --bench breakers \
    2>&1 | tee "$OUT/criterion.log" | grep -E '^[a-z_]+/|time:' >&2 || true
[ -d "$OUT/criterion" ] || { echo "criterion wrote nothing" >&2; exit 1; }

step "shared breakers (tripbit-shm): cost per call, calls wasted by 8 processes"
"$CARGO_TARGET_DIR/release/shared" | tee "$OUT/shared.md" >&2

step "Python"
"$VENV/bin/python" benches/python/bench.py "$OUT/python.json"

step "embedded (QEMU scripts of the examples, when they exist)"
for ex in firmware-c hal-sensor; do
    script="examples/$ex/run-qemu.sh"
    if [ -f "$script" ]; then
        if timeout 900 bash "$script" >"$OUT/embedded/$ex.txt" 2>&1; then
            echo ok >"$OUT/embedded/$ex.status"
        else
            echo "exit $?" >"$OUT/embedded/$ex.status"
        fi
    else
        echo missing >"$OUT/embedded/$ex.status"
    fi
    echo "$ex: $(cat "$OUT/embedded/$ex.status")" >&2
done
# Instructions per guarded call on thumbv7m/thumbv6m (exact, from a QEMU
# instruction trace; about 10 s once libtripbit.a is built).
script=examples/firmware-c/count-insns.sh
if [ -f "$script" ]; then
    if timeout 600 bash "$script" >"$OUT/embedded/count-insns.txt" 2>&1; then
        echo ok >"$OUT/embedded/count-insns.status"
    else
        echo "exit $?" >"$OUT/embedded/count-insns.status"
    fi
else
    echo missing >"$OUT/embedded/count-insns.status"
fi
echo "count-insns: $(cat "$OUT/embedded/count-insns.status")" >&2

step "report"
if [ -n "$QUICK" ]; then
    CRIT_SETTINGS="10 samples, 0.1 s warm-up and 0.3 s of measurement per case (QUICK)"
else
    CRIT_SETTINGS="40 samples, 0.5 s warm-up and 2 s of measurement per case"
fi
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1) \
CORES=$(nproc) \
RUSTC=$(rustc -V) \
PYV=$("$VENV/bin/python" -c 'import platform; print(platform.python_implementation(), platform.python_version())') \
KERNEL="$(uname -sr)" \
LOAD_BEFORE="$LOAD_BEFORE" LOAD_AFTER="$(loadavg)" \
ELAPSED=$(($(date -u +%s) - STARTED)) \
CRIT_SETTINGS="$CRIT_SETTINGS" \
    "$VENV/bin/python" - "$OUT/machine.json" <<'PY'
import datetime, json, os, sys
e = os.environ
json.dump({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "cpu": e["CPU"], "cores": e["CORES"], "rustc": e["RUSTC"], "python": e["PYV"],
    "kernel": e["KERNEL"], "load_before": e["LOAD_BEFORE"], "load_after": e["LOAD_AFTER"],
    "elapsed_s": int(e["ELAPSED"]), "quick": bool(e.get("TRIPBIT_BENCH_QUICK")),
    "criterion_settings": e["CRIT_SETTINGS"],
}, open(sys.argv[1], "w"), indent=1)
PY
"$VENV/bin/python" benches/report.py "$OUT" benches
step "issue 18's goals, from this run"
cat "$OUT/goals.txt" >&2
step "done in $(($(date -u +%s) - STARTED)) s: benches/README.md, benches/chart.png (raw results in $OUT)"
