#!/usr/bin/env bash
# Regenerate testdata/genesis.json: the L2 (chain id 42069) genesis whose
# alloc funds the first 10 accounts of the standard test mnemonic (the ones
# anvil funds), each derived here with the pinned `cast`, never hand-typed,
# and holds the L2 predeploys (contracts/README.md, "L2 predeploys"):
#
#   0x4200…0016  L2ToL1MessagePasser   deployedBytecode of contracts/out/L2ToL1MessagePasser.json
#   0x4200…0010  L2StandardBridge      deployedBytecode, slot 0 (otherBridge) = the devnet L1StandardBridge
#   0x4200…0015  L1Info                deployedBytecode (slots written by each block's L1-info deposit)
#
# The devnet L1 contracts are deployed by the devnet deployer, dev account #9 of
# the mnemonic, from its first nonces in the order of contracts/README.md
# ("Deployment order": OutputRegistry 0, Inbox 1, Portal 2, L1StandardBridge 3;
# `bridge deploy` / `bridge::deploy`), so the L1StandardBridge address is
# `cast compute-address <account #9> --nonce 3` on any fresh anvil.
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
# Devnet deployer (dev account #9) and the nonce of its L1StandardBridge creation.
DEPLOYER_INDEX=9
L1_STANDARD_BRIDGE_NONCE=3

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

deployer="$("$CAST" wallet address --mnemonic "$MNEMONIC" --mnemonic-index "$DEPLOYER_INDEX")"
l1_bridge="$("$CAST" compute-address "$deployer" --nonce "$L1_STANDARD_BRIDGE_NONCE" | awk '{print $NF}')"
bridge_slot0="$("$CAST" abi-encode "f(address)" "$l1_bridge")"

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
BALANCE="$balance" OUT="$ROOT/contracts/out" BRIDGE_SLOT0="$bridge_slot0" \
    node - "${addresses[@]}" >"$tmp" <<'JS'
const fs = require('fs');
const alloc = {};
for (const a of process.argv.slice(2)) alloc[a] = { balance: process.env.BALANCE };
const code = (name) =>
  JSON.parse(fs.readFileSync(`${process.env.OUT}/${name}.json`, 'utf8')).deployedBytecode;
const slot = (n) => '0x' + n.toString(16).padStart(64, '0');
alloc['0x4200000000000000000000000000000000000010'] = {
  balance: '0x0',
  code: code('L2StandardBridge'),
  storage: { [slot(0)]: process.env.BRIDGE_SLOT0 },
};
alloc['0x4200000000000000000000000000000000000015'] = { balance: '0x0', code: code('L1Info') };
alloc['0x4200000000000000000000000000000000000016'] = {
  balance: '0x0',
  code: code('L2ToL1MessagePasser'),
};
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
    echo "gen-genesis: wrote $GENESIS (${#addresses[@]} funded accounts, $BALANCE_ETH ETH = $balance wei each; predeploys with otherBridge = $l1_bridge)"
fi
