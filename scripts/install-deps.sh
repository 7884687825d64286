#!/usr/bin/env bash
# Install the pinned non-Rust test dependencies (anvil, cast, solc, Solidity
# libraries, the viem and ethers client libraries) from
# testdata/package-lock.json into testdata/node_modules.
#
# Idempotent: `npm ci` runs only when node_modules does not match the lockfile
# (tracked by a stamp holding the hash of package.json + package-lock.json).
# Works from any cwd.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTDATA="$ROOT/testdata"
NM="$TESTDATA/node_modules"
BIN="$NM/.bin"
STAMP="$NM/.rollup-install-stamp"

for tool in node npm sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "install-deps: '$tool' not found on PATH" >&2
        exit 1
    }
done

[[ -f "$TESTDATA/package-lock.json" ]] || {
    echo "install-deps: $TESTDATA/package-lock.json missing" >&2
    exit 1
}

# What the installed tree must correspond to: the manifest, the lockfile and
# the node major version (npm ci output can differ between node majors).
want="$(cat "$TESTDATA/package.json" "$TESTDATA/package-lock.json" | sha256sum | cut -d' ' -f1) node-$(node -p 'process.versions.node.split(".")[0]')"
have="$(cat "$STAMP" 2>/dev/null || true)"

if [[ "$have" == "$want" && -x "$BIN/anvil" && -x "$BIN/cast" && -f "$NM/solc/soljson.js" &&
    -f "$NM/viem/package.json" && -f "$NM/ethers/package.json" ]]; then
    echo "install-deps: testdata/node_modules is up to date with package-lock.json"
else
    echo "install-deps: running npm ci in testdata/"
    (cd "$TESTDATA" && npm ci --no-audit --no-fund)
    echo "$want" >"$STAMP"
fi

for tool in anvil cast; do
    if ! out="$("$BIN/$tool" --version 2>&1)"; then
        echo "install-deps: '$BIN/$tool --version' failed:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "install-deps: $tool $(head -n1 <<<"$out" | sed 's/^.*Version: //') at $BIN/$tool"
done
solc_version="$(cd "$TESTDATA" && node -e 'process.stdout.write(require("solc").version())')"
echo "install-deps: solc $solc_version at $NM/solc"
for lib in viem ethers; do
    echo "install-deps: $lib $(node -p "require('$NM/$lib/package.json').version") at $NM/$lib"
done
