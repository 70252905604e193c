#!/usr/bin/env bash
# Every feature combination of the core crate `tripbit` that matters:
# - `cargo check` (lib, tests, examples) for the whole powerset of its
#   features, so no combination fails to build;
# - `cargo test` for the combinations whose code differs at run time: no
#   features (the bare no_std core on the host), `embedded-hal` alone and
#   with `std` (hal.rs and its doctests), and every feature at once
#   (defmt). The default (`std`) is run by `cargo test --workspace`.
# NB: sync with the [features] of core/Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
FEATURES=(std defmt embedded-hal)
n=${#FEATURES[@]}
for ((mask = 0; mask < (1 << n); mask++)); do
    set_=()
    for ((i = 0; i < n; i++)); do
        ((mask & (1 << i))) && set_+=("${FEATURES[i]}")
    done
    list=$(IFS=,; echo "${set_[*]}")
    echo "check tripbit --features '${list}'"
    cargo check -q -p tripbit --no-default-features --features "$list" --all-targets
done
for list in "" "embedded-hal" "std,embedded-hal" "std,defmt,embedded-hal"; do
    echo "test tripbit --features '${list}'"
    cargo test -q -p tripbit --no-default-features --features "$list"
done
