#!/usr/bin/env bash
# The main demo: a breaker through a simulated outage, then the gRPC tree
# with tripbit swapped in for its hand-written breaker.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh
setup_rust
setup_venv

log "1. one breaker, a simulated outage (Rust, simulated ms ticks)"
cargo run -q --release -p tripbit --example outage
