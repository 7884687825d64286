#!/usr/bin/env bash
# Regenerate contracts/out/*.json from contracts/src with the pinned solc.
#
#   scripts/compile-contracts.sh           rewrite the committed artifacts
#   scripts/compile-contracts.sh --check   compile into a temp dir and fail if
#                                          the committed artifacts differ
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/contracts/out"

check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    -h | --help)
        sed -n '2,6p' "$0"
        exit 0
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

"$ROOT/scripts/install-deps.sh" >/dev/null

if [[ $check -eq 0 ]]; then
    node "$ROOT/contracts/compile.js" --out "$OUT"
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node "$ROOT/contracts/compile.js" --out "$tmp/out"
mkdir -p "$OUT"
if ! diff -ru "$OUT" "$tmp/out" >"$tmp/diff"; then
    echo "compile-contracts --check: contracts/out is out of date with contracts/src:" >&2
    head -n 40 "$tmp/diff" >&2
    echo "compile-contracts --check: FAILED; run scripts/compile-contracts.sh and commit contracts/out" >&2
    exit 1
fi
echo "compile-contracts --check: contracts/out matches contracts/src"
