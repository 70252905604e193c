#!/usr/bin/env bash
# The fleet's figures on a real redis-server (release build):
#   benches/fleet/run.sh                        # ~2 minutes
#   TRIPBIT_BENCH_QUICK=1 benches/fleet/run.sh  # shorter
#   TRIPBIT_PYTHON=/path/to/python               # the Python part's interpreter
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/bench}"
cargo build -q --release -p tripbit-fleet -p tripbit-fleet-bench
echo "== guarded-call cost (criterion)"
cargo bench -q -p tripbit-fleet-bench --bench guarded_call 2>&1 | grep -E 'time:|guarded_call|live monitor' || true
echo "== guarded-call cost, min of many runs in turns (robust to load)"
"$CARGO_TARGET_DIR/release/hot-path"
echo "== capacity, propagation, failover"
"$CARGO_TARGET_DIR/release/fleet-figures"
echo "== Python: cb.call(f) on a fleet breaker against a plain CircuitBreaker"
# The installed wheel (py/test.sh or pip install ./py); TRIPBIT_PYTHON picks the interpreter.
py="${TRIPBIT_PYTHON:-$ROOT/.venv/bin/python}"
if "$py" -c "import tripbit.fleet" 2>/dev/null; then
    "$py" "$ROOT/benches/fleet/python_call.py"
else
    echo "(skipped: $py cannot import tripbit.fleet; install the wheel first)"
fi
