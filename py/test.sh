#!/usr/bin/env bash
# Builds the tripbit wheel, installs it into the repo venv and checks it:
# pytest (py/tests), mypy --strict (pyproject's [tool.mypy]) and stubtest
# (the native module against its .pyi). Exits non-zero on any failure.
#
#   py/test.sh              # build + all checks
#   py/test.sh -k threads   # extra arguments go to pytest
#
# Environment:
#   TRIPBIT_VENV          venv to use (default: <repo>/.venv; created if missing)
#   CARGO_TARGET_DIR      default <repo>/target/py (keeps clear of other builds' locks)
#   TRIPBIT_SKIP_BUILD=1  test the wheel already installed in the venv
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${TRIPBIT_VENV:-$repo/.venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/py}"
# Keep mypy's cache out of the source tree.
export MYPY_CACHE_DIR="${MYPY_CACHE_DIR:-$CARGO_TARGET_DIR/mypy-cache}"

say() { printf '\n== py/test.sh: %s\n' "$*"; }

# --- the venv -------------------------------------------------------------
if [[ ! -x "$venv/bin/python" ]]; then
    say "creating $venv"
    python3 -m venv "$venv"
fi
py="$venv/bin/python"

missing=()
for tool in maturin pytest mypy; do
    "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$tool') is None)" \
        || missing+=("$tool")
done
if ((${#missing[@]})); then
    # Another setup script may be filling this venv right now: give it a
    # few minutes before installing the tools ourselves.
    for _ in $(seq 1 36); do
        [[ -e "$venv/bin/maturin" && -e "$venv/bin/pytest" && -e "$venv/bin/mypy" ]] && break
        [[ -n "${TRIPBIT_NO_WAIT:-}" ]] && break
        sleep 5
    done
    missing=()
    for tool in maturin pytest mypy; do
        "$py" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$tool') is None)" \
            || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        "$py" -m pip install --quiet "${missing[@]}"
    fi
fi
# The stubs import typing_extensions (Self); mypy brings it, check anyway.
"$py" -c "import typing_extensions" 2>/dev/null || "$py" -m pip install --quiet typing_extensions

# --- build and install the wheel ---------------------------------------------
if [[ -z "${TRIPBIT_SKIP_BUILD:-}" ]]; then
    say "building the wheel (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    wheels="$CARGO_TARGET_DIR/wheels-test"
    rm -rf "$wheels"
    mkdir -p "$wheels"
    "$venv/bin/maturin" build --release --quiet -m "$here/Cargo.toml" \
        --interpreter "$py" --out "$wheels"
    wheel=("$wheels"/tripbit-*.whl)
    say "installing ${wheel[0]##*/}"
    "$py" -m pip install --quiet --force-reinstall --no-deps "${wheel[0]}"
fi

# Run from py/ so that pyproject.toml's [tool.pytest] and [tool.mypy] apply,
# but import the installed package, never the source tree: the native
# module only exists in the installed wheel.
cd "$here"
status=0

say "pytest"
"$py" -m pytest -p no:cacheprovider "$@" || status=1

say "mypy (strict, files from pyproject.toml)"
# Check the package as installed (python/tripbit has no _tripbit.so) with
# the same sources: mypy reads python/tripbit and tests/test_typing.py.
"$py" -m mypy || status=1

say "stubtest tripbit._tripbit"
# No allowlist: the stubs match the native module exactly.
"$py" -m mypy.stubtest tripbit._tripbit || status=1

if ((status)); then
    say "FAILED"
else
    say "all green"
fi
exit "$status"
