#!/usr/bin/env bash
# Runs every test of the project, installing what it needs first.
# Each step prints its own output; a summary closes the run and the exit
# status is non-zero if any step failed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# shellcheck source=setup.sh
source scripts/setup.sh
set +e
setup_all || { echo "setup failed"; exit 1; }

passed=0
failed=0
failures=()
step() {
    local name="$1"
    shift
    log "$name"
    local t0=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "-- ok: $name ($((SECONDS - t0)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "-- FAILED: $name ($((SECONDS - t0)) s)"
    fi
}

embedded_builds() {
    local t
    for t in "${EMBEDDED_TARGETS[@]}"; do
        echo "tripbit for $t"
        cargo build -q -p tripbit --no-default-features --target "$t" || return 1
        cargo build -q -p tripbit --no-default-features --features defmt --target "$t" || return 1
    done
}

word32_host() {
    # The layout Cortex-M and RV32 run (state.rs, "The 32-bit word"), built
    # on the host so that the model tests and loom check it too. Doctests
    # are left out: they configure nanosecond periods of the host clock.
    RUSTFLAGS="--cfg tripbit_word32" CARGO_TARGET_DIR=target/word32 \
        cargo test -q -p tripbit --lib --tests || return 1
    # The same tests as cores without CAS run it (Cortex-M0, RV32IMC): each
    # writing operation one critical section (sync::op), on critical-section's
    # std lock; debug builds panic if a word is written outside one.
    RUSTFLAGS="--cfg tripbit_word32 --cfg tripbit_cs_ops" CARGO_TARGET_DIR=target/csops \
        cargo test -q -p tripbit --lib --tests || return 1
    RUSTFLAGS="--cfg loom --cfg tripbit_word32" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom32 \
        cargo test -q -p tripbit --release --test loom -- --nocapture --test-threads=1
}

loom_models() {
    # Bounded: 3 preemptions; every model prints the executions it explored
    # and fails below the floor it claims (core/tests/loom.rs). About 10 s
    # of models in release.
    RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 CARGO_TARGET_DIR=target/loom \
        cargo test -q -p tripbit --release --test loom -- --nocapture --test-threads=1
}

step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy (all targets, all features, -D warnings)" \
    cargo clippy -q --workspace --all-targets --all-features -- -D warnings
step "cargo doc (warnings denied)" env RUSTDOCFLAGS=-Dwarnings cargo doc -q --workspace --no-deps --all-features
step "cargo test --workspace (with tripbit-benches: benches/tests/smoke.rs checks every benchmarked guard does what its case claims)" cargo test -q --workspace --exclude tripbit-fleet --exclude tripbit-shm
# Starts its own redis-server processes on free loopback ports (a few at once).
step "fleet: monitors and processors on a real redis-server" cargo test -q -p tripbit-fleet
step "shm: shared breakers across real processes (hammer, SIGKILL mid-claim/mid-probe, hostile files, fuzz)" \
    cargo test -q -p tripbit-shm --release
step "demo: 4 worker processes share one verdict (tripbit-shm)" \
    cargo run -q --release -p tripbit-shm --example workers
step "loom models (LOOM_MAX_PREEMPTIONS=3, execution counts)" loom_models
step "32-bit state word (--cfg tripbit_word32, and with tripbit_cs_ops) on the host: unit, model and integration tests, loom models" word32_host
step "tripbit feature powerset (check all 8, test 4)" bash scripts/features.sh
step "miri (cargo +nightly miri test -p tripbit)" cargo +nightly miri test -q -p tripbit
step "no_std builds for ${EMBEDDED_TARGETS[*]}" embedded_builds
step "cargo publish --dry-run (tripbit, tripbit-shm, tripbit-ffi, tripbit-tower, tripbit-fleet)" \
    cargo publish -q --dry-run --allow-dirty -p tripbit -p tripbit-shm -p tripbit-ffi -p tripbit-tower -p tripbit-fleet
step "demo: simulated outage" cargo run -q -p tripbit --example outage
step "demo: fleet on Redis (outage, processor kill, Redis outage)" cargo run -q -p tripbit-fleet -- demo
step "C FFI: header drift, C99/C11/C++ header, ASan+UBSan and valgrind C tests" bash ffi-c/test.sh
step "C firmware on Cortex-M3 and Cortex-M0 under QEMU" bash examples/firmware-c/run-qemu.sh
# A report (flash/RAM tripbit adds on M0, M3, M4F): fails only if a build or
# a QEMU run of the measured program fails, never on a figure.
step "C firmware size report (M0, M3, M4F)" bash examples/firmware-c/run-qemu.sh --size-report
step "C firmware: instructions per guarded call (M3, M0) and objdump: no interrupt masking on the M3" \
    bash examples/firmware-c/count-insns.sh
step "hal-sensor: no_std Rust firmware (embedded-hal + defmt) under QEMU" bash examples/hal-sensor/run-qemu.sh
step "RV32 firmware under QEMU: riscv32imac (lock-free) and riscv32imc (one critical section per operation), timer interrupt inside tripbit" bash examples/hal-sensor/riscv/run-qemu.sh
step "Python wheel: build, pytest, mypy --strict, stubtest" bash py/test.sh
step "gRPC tree with tripbit swapped in: the five scenarios" \
    env -C examples/grpc-tree "$ROOT/.venv/bin/python" scenarios.py --quiet-servers
step "gRPC tree, same servers and checks on the original pure-Python breaker" \
    env -C examples/grpc-tree "$ROOT/.venv/bin/python" scenarios.py --quiet-servers --breaker original

echo
echo "test steps: $passed passed, $failed failed"
for f in "${failures[@]}"; do echo "  failed: $f"; done
[ "$failed" -eq 0 ]
