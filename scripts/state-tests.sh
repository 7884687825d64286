#!/usr/bin/env bash
# Writes the pinned selection of Ethereum's state tests into a directory the step machine's
# runner (fraud-vm/tests/state_tests.rs) reads: every file listed in
# testdata/state-tests/selection.txt, taken at the commit named there from a git copy of
# ethereum/tests (a clone or a bare mirror).
#
#   scripts/state-tests.sh <ethereum/tests git dir> [out dir]
#
# The out dir defaults to testdata/state-tests/fixtures (ignored by git). Then:
#   cargo test -p fraud-vm --test state_tests -- --nocapture
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIST="$ROOT/testdata/state-tests/selection.txt"

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 <ethereum/tests git dir> [out dir]" >&2
    exit 2
fi
SRC="$1"
OUT="${2:-$ROOT/testdata/state-tests/fixtures}"
if [[ -d "$SRC/.git" ]]; then
    SRC="$SRC/.git"
fi

COMMIT="$(sed -n 's/^# commit \([0-9a-f]\{40\}\)$/\1/p' "$LIST")"
if [[ -z "$COMMIT" ]]; then
    echo "$LIST names no '# commit <40 hex digits>' line" >&2
    exit 1
fi
if ! git --git-dir "$SRC" cat-file -e "$COMMIT^{commit}" 2>/dev/null; then
    echo "$SRC does not hold commit $COMMIT of ethereum/tests" >&2
    exit 1
fi

rm -rf "$OUT"
count=0
while IFS= read -r path; do
    [[ -z "$path" || "$path" == \#* ]] && continue
    mkdir -p "$OUT/$(dirname "$path")"
    git --git-dir "$SRC" show "$COMMIT:$path" >"$OUT/$path"
    count=$((count + 1))
done <"$LIST"
echo "wrote $count files ($(du -sh "$OUT" | cut -f1)) of ethereum/tests $COMMIT to $OUT"
