#!/usr/bin/env bash
# Builds the one abi3 tripbit wheel (maturin's manylinux audit included),
# installs it into the repo venv and checks it: pytest (py/tests), mypy
# --strict (pyproject's [tool.mypy]) and stubtest (the native module against
# its .pyi). Then runs pytest again with the same wheel on every other
# CPython 3.9-3.13 found under ~/.pyenv/versions (each in its own venv under
# $CARGO_TARGET_DIR/pyvenvs; none found is fine: the venv's Python is then
# the only one). Prints the test count per version. Exits non-zero on any
# failure.
#
#   py/test.sh              # build + all checks
#   py/test.sh -k threads   # extra arguments go to pytest
#
# Environment:
#   TRIPBIT_VENV          venv to use (default: <repo>/.venv; created if missing)
#   CARGO_TARGET_DIR      default <repo>/target/py (keeps clear of other builds' locks)
#   TRIPBIT_SKIP_BUILD=1  test the wheel already installed in the venv (no other versions)
#   TRIPBIT_FLEET_BIN     the tripbit-fleet binary for tests/test_fleet.py (default:
#                         built here, in $CARGO_TARGET_DIR/debug)
#   TRIPBIT_PYTHONS       the other interpreters to test (default: the pyenv ones;
#                         "" for none)
#   TRIPBIT_MANYLINUX     the manylinux policy the wheel must pass (default
#                         manylinux_2_34: the oldest this machine's glibc allows;
#                         manylinux2014 needs a build in a manylinux container)
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
    # An explicit --compatibility makes maturin's auditwheel check a hard
    # error (symbol versions, linked libraries), as an index would check.
    "$venv/bin/maturin" build --release --quiet -m "$here/Cargo.toml" \
        --interpreter "$py" --out "$wheels" \
        --compatibility "${TRIPBIT_MANYLINUX:-manylinux_2_34}"
    wheel=("$wheels"/tripbit-*.whl)
    case "${wheel[0]##*/}" in
        *-cp39-abi3-manylinux*) ;;
        *) echo "py/test.sh: expected one cp39-abi3 manylinux wheel, got ${wheel[*]}" >&2; exit 1 ;;
    esac
    say "installing ${wheel[0]##*/}"
    "$py" -m pip install --quiet --force-reinstall --no-deps "${wheel[0]}"
fi

# --- the fleet processor tests/test_fleet.py starts ---------------------------
# (with a redis-server of its own, which scripts/setup.sh installs). The same
# target dir as the wheel; the tests find the binary through TRIPBIT_FLEET_BIN.
if [[ "$(uname -s)" == Linux && -z "${TRIPBIT_FLEET_BIN:-}" ]]; then
    say "building tripbit-fleet (the processor tests/test_fleet.py starts)"
    cargo build -q --manifest-path "$repo/Cargo.toml" -p tripbit-fleet --bin tripbit-fleet
    export TRIPBIT_FLEET_BIN="$CARGO_TARGET_DIR/debug/tripbit-fleet"
fi

# Run from py/ so that pyproject.toml's [tool.pytest] and [tool.mypy] apply,
# but import the installed package, never the source tree: the native
# module only exists in the installed wheel.
cd "$here"
status=0

declare -A counts=()
summary() { # the pytest summary line of a log
    grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$1" | tail -1 | sed -E 's/^=+ //; s/ =+$//'
}
run_pytest() { # <python> <label> [pytest args]: runs the suite, records the count
    local python="$1" label="$2" log
    shift 2
    log="$CARGO_TARGET_DIR/pytest-$label.log"
    set +e
    "$python" -m pytest -p no:cacheprovider "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    counts[$label]="$(summary "$log")"
    return "$rc"
}

main_version="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
say "pytest (Python $main_version, $venv)"
run_pytest "$py" "$main_version" "$@" || status=1

say "mypy (strict, files from pyproject.toml)"
# Check the package as installed (python/tripbit has no _tripbit.so) with
# the same sources: mypy reads python/tripbit and tests/test_typing.py.
"$py" -m mypy || status=1

say "stubtest tripbit._tripbit"
# No allowlist: the stubs match the native module exactly.
"$py" -m mypy.stubtest tripbit._tripbit || status=1

# --- the same wheel on the other CPython versions ------------------------------
others=()
if [[ -n "${TRIPBIT_PYTHONS+set}" ]]; then
    read -r -a others <<<"$TRIPBIT_PYTHONS"
elif [[ -z "${TRIPBIT_SKIP_BUILD:-}" ]]; then
    for minor in 9 10 11 12 13; do
        # The newest patch release of each minor version pyenv holds.
        cand="$(ls -d "$HOME"/.pyenv/versions/3."$minor".* 2>/dev/null | sort -V | tail -1 || true)"
        [[ -n "$cand" && -x "$cand/bin/python3" ]] && others+=("$cand/bin/python3")
    done
fi
if ((${#others[@]})) && [[ -z "${wheel+set}" ]]; then
    say "TRIPBIT_PYTHONS needs the wheel this script builds (not with TRIPBIT_SKIP_BUILD)"
    others=()
    status=1
fi
for other in "${others[@]}"; do
    ver="$("$other" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || {
        say "skipping $other: it does not run"
        continue
    }
    [[ "$ver" == "$main_version" ]] && continue
    ovenv="$CARGO_TARGET_DIR/pyvenvs/$ver"
    if [[ ! -x "$ovenv/bin/python" ]] || ! "$ovenv/bin/python" -c 'import pytest, typing_extensions' 2>/dev/null; then
        say "venv for Python $ver ($ovenv)"
        rm -rf "$ovenv"
        if ! { "$other" -m venv "$ovenv" && "$ovenv/bin/python" -m pip install --quiet pytest typing_extensions; }; then
            say "FAILED to set up a venv with pytest for Python $ver"
            counts[$ver]="no venv (pip install pytest failed)"
            status=1
            continue
        fi
    fi
    "$ovenv/bin/python" -m pip install --quiet --force-reinstall --no-deps "${wheel[0]}"
    say "pytest (Python $ver, the same wheel ${wheel[0]##*/})"
    run_pytest "$ovenv/bin/python" "$ver" "$@" || status=1
done

say "pytest per Python version"
for ver in $(printf '%s\n' "${!counts[@]}" | sort -V); do
    printf '  Python %-5s %s\n' "$ver" "${counts[$ver]}"
done

if ((status)); then
    say "FAILED"
else
    say "all green"
fi
exit "$status"
