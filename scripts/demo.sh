#!/usr/bin/env bash
# The main demo: a breaker through a simulated outage, the gRPC tree
# with tripbit swapped in for its hand-written breaker, then a fleet on Redis,
# then 4 local worker processes sharing one breaker in a region file.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh
setup_rust
setup_venv

log "1. one breaker, a simulated outage (Rust, simulated ms ticks)"
cargo run -q --release -p tripbit --example outage

log "2. the gRPC tree (gateway, 2 leaders, 3 workers) with tripbit swapped in for its breaker"
# `pip install ./py` is the documented install: maturin builds the abi3 wheel.
CARGO_TARGET_DIR="$ROOT/target/py" "$ROOT/.venv/bin/pip" install -q --force-reinstall --no-deps ./py
cd examples/grpc-tree
"$ROOT/.venv/bin/python" scenarios.py

log "3. a fleet on Redis: 3 service processes, 2 processors; an upstream outage, a processor kill, a Redis outage"
command -v redis-server >/dev/null || setup_apt
cd "$ROOT"
cargo run -q -p tripbit-fleet -- demo

log "4. one host, no server: 4 local worker processes share one verdict through a region file in /dev/shm"
cargo run -q --release -p tripbit-shm --example workers
