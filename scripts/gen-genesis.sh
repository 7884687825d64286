#!/usr/bin/env bash
# Regenerate testdata/genesis.json: the L2 (chain id 42069) genesis whose
# alloc funds the first 10 accounts of the standard test mnemonic (the ones
# anvil funds), each derived here with the pinned `cast`, never hand-typed.
#
#   scripts/gen-genesis.sh           rewrite testdata/genesis.json
#   scripts/gen-genesis.sh --check   fail if the committed file differs
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GENESIS="$ROOT/testdata/genesis.json"
CAST="$ROOT/testdata/node_modules/.bin/cast"
MNEMONIC="test test test test test test test test test test test junk"
ACCOUNTS=10
BALANCE_ETH=10000

check=0
case "${1:-}" in
    "") ;;
    --check) check=1 ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac

"$ROOT/scripts/install-deps.sh" >/dev/null

balance="$("$CAST" to-hex "$("$CAST" to-wei "$BALANCE_ETH" ether)")"
addresses=()
for ((i = 0; i < ACCOUNTS; i++)); do
    # m/44'/60'/0'/0/i is cast's default derivation path for --mnemonic-index.
    addresses+=("$("$CAST" wallet address --mnemonic "$MNEMONIC" --mnemonic-index "$i")")
done

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
BALANCE="$balance" node - "${addresses[@]}" >"$tmp" <<'JS'
const alloc = {};
for (const a of process.argv.slice(2)) alloc[a] = { balance: process.env.BALANCE };
const genesis = {
  config: {
    chainId: 42069,
    homesteadBlock: 0,
    eip150Block: 0,
    eip155Block: 0,
    eip158Block: 0,
    byzantiumBlock: 0,
    constantinopleBlock: 0,
    petersburgBlock: 0,
    istanbulBlock: 0,
    berlinBlock: 0,
    londonBlock: 0,
    mergeNetsplitBlock: 0,
    shanghaiTime: 0,
    cancunTime: 0,
    terminalTotalDifficulty: 0,
    terminalTotalDifficultyPassed: true,
  },
  nonce: '0x0',
  timestamp: '0x0',
  extraData: '0x',
  gasLimit: '0x' + (60000000).toString(16),
  difficulty: '0x0',
  mixHash: '0x' + '0'.repeat(64),
  coinbase: '0x4200000000000000000000000000000000000011',
  baseFeePerGas: '0x' + (1e9).toString(16),
  excessBlobGas: '0x0',
  blobGasUsed: '0x0',
  alloc,
};
process.stdout.write(JSON.stringify(genesis, null, 2) + '\n');
JS

if [[ $check -eq 1 ]]; then
    if ! diff -u "$GENESIS" "$tmp"; then
        echo "gen-genesis --check: testdata/genesis.json is out of date; run scripts/gen-genesis.sh" >&2
        exit 1
    fi
    echo "gen-genesis --check: testdata/genesis.json is up to date"
else
    cp "$tmp" "$GENESIS"
    echo "gen-genesis: wrote $GENESIS (${#addresses[@]} funded accounts, $BALANCE_ETH ETH = $balance wei each)"
fi
