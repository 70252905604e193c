#!/usr/bin/env bash
# Regenerates include/tripbit.h into a temp file with the pinned cbindgen
# (plus one step on its output: no enum tag equal to its typedef name, see
# below) and fails when the checked-in header differs (the CI gate for the
# C contract). Regenerate with --write, not with cbindgen alone.
#   ./check-header.sh           check (exit 1 on drift, with the diff)
#   ./check-header.sh --write   regenerate include/tripbit.h in place
set -euo pipefail
cd "$(dirname "$0")"

# NB: sync with the version named in cbindgen.toml.
CBINDGEN_VERSION=0.29.2
CBINDGEN=${CBINDGEN:-cbindgen}
if ! command -v "$CBINDGEN" >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cbindgen" ]; then
    CBINDGEN="$HOME/.cargo/bin/cbindgen"
fi
if ! command -v "$CBINDGEN" >/dev/null 2>&1; then
    echo "check-header: cbindgen not found; install it with" >&2
    echo "  cargo install cbindgen --version $CBINDGEN_VERSION --locked" >&2
    exit 2
fi
found=$("$CBINDGEN" --version | awk '{print $2}')
if [ "$found" != "$CBINDGEN_VERSION" ]; then
    echo "check-header: cbindgen $found found, $CBINDGEN_VERSION required (output differs between versions)" >&2
    exit 2
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/tripbit.h.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# cbindgen reads the sources only (no build); -q drops its "not pub" notes.
"$CBINDGEN" --quiet --config cbindgen.toml --crate tripbit-ffi --output "$tmp" "$PWD"
# C has no enum with a fixed underlying type, so cbindgen writes
# `enum tripbit_x_t { ... }; typedef uint32_t tripbit_x_t;`: a tag equal to
# its typedef name, which C++ forbids (-Wc++-compat; cbindgen#1127). The tag
# is kept for C++ only (`enum tripbit_x_t : uint32_t`); C gets an anonymous
# enum for the constants and the uint32_t typedef.
perl -0pi -e 's/^enum (\w+)\n#ifdef __cplusplus\n  : (\w+)\n#endif \/\/ __cplusplus\n/enum\n#ifdef __cplusplus\n  $1 : $2\n#endif \/\/ __cplusplus\n/mg' "$tmp"
if grep -q '^enum [a-z]' "$tmp"; then
    echo "check-header: an enum tag is left in the C part of the header (cbindgen output changed?)" >&2
    exit 1
fi

if [ "${1:-}" = "--write" ]; then
    cp "$tmp" include/tripbit.h
    echo "check-header: include/tripbit.h regenerated"
    exit 0
fi
if ! diff -u include/tripbit.h "$tmp"; then
    echo "check-header: include/tripbit.h is stale; run ffi-c/check-header.sh --write and commit it" >&2
    exit 1
fi
echo "check-header: include/tripbit.h is up to date (cbindgen $CBINDGEN_VERSION)"
