#!/usr/bin/env bash
# The whole devnet on this machine: anvil as L1 (pinned, from testdata/node_modules), the L1
# contracts (`bridge deploy`), and the L2 node deriving deposits from L1, posting batches and
# proposing output roots. Ctrl-C stops everything.
#
# Usage: scripts/devnet.sh            (fresh chains each time; data in ./devnet-data)
#
# Environment (all optional):
#   L1_PORT=8545 L2_PORT=9545 L2_WS_PORT=9546   ports on 127.0.0.1
#   DEVNET_DIR=./devnet-data                     wiped at start (anvil starts fresh too)
#   L1_BLOCK_TIME=1  CONFIRMATIONS=2  L2_BLOCK_TIME=1s
#   FORCE_INCLUSION_WINDOW=30  CHALLENGE_WINDOW=60  PROPOSER_INTERVAL=10
#   BIN_DIR=<dir with rollup-node and bridge>    default: build them with cargo --release
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
L1_PORT="${L1_PORT:-8545}"
L2_PORT="${L2_PORT:-9545}"
L2_WS_PORT="${L2_WS_PORT:-9546}"
DEVNET_DIR="${DEVNET_DIR:-$ROOT/devnet-data}"
L1_BLOCK_TIME="${L1_BLOCK_TIME:-1}"
CONFIRMATIONS="${CONFIRMATIONS:-2}"
L2_BLOCK_TIME="${L2_BLOCK_TIME:-1s}"
FORCE_INCLUSION_WINDOW="${FORCE_INCLUSION_WINDOW:-30}"
CHALLENGE_WINDOW="${CHALLENGE_WINDOW:-60}"
PROPOSER_INTERVAL="${PROPOSER_INTERVAL:-10}"
# Dev accounts #1 (batcher) and #2 (proposer) of the test mnemonic: the devnet deployment's.
BATCHER_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
PROPOSER_KEY=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a

ANVIL="$ROOT/testdata/node_modules/.bin/anvil"
if [[ ! -x "$ANVIL" ]]; then
    "$ROOT/scripts/install-deps.sh"
fi

if [[ -z "${BIN_DIR:-}" ]]; then
    echo "building rollup-node and bridge (release)..." >&2
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p rollup-node -p bridge
    BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
fi
NODE="$BIN_DIR/rollup-node"
BRIDGE="$BIN_DIR/bridge"

rm -rf "$DEVNET_DIR"
mkdir -p "$DEVNET_DIR"
L1_RPC="http://127.0.0.1:$L1_PORT"
L2_RPC="http://127.0.0.1:$L2_PORT"

ANVIL_PID=""
NODE_PID=""
stop() {
    trap - INT TERM EXIT
    echo >&2
    echo "stopping..." >&2
    if [[ -n "$NODE_PID" ]]; then
        kill -TERM "$NODE_PID" 2>/dev/null || true
        wait "$NODE_PID" 2>/dev/null || true
    fi
    if [[ -n "$ANVIL_PID" ]]; then
        kill -TERM "$ANVIL_PID" 2>/dev/null || true
        wait "$ANVIL_PID" 2>/dev/null || true
    fi
    echo "stopped (logs in $DEVNET_DIR)" >&2
}
trap stop INT TERM EXIT

"$ANVIL" --host 127.0.0.1 --port "$L1_PORT" --block-time "$L1_BLOCK_TIME" --silent \
    >"$DEVNET_DIR/anvil.log" 2>&1 &
ANVIL_PID=$!
for _ in $(seq 1 100); do
    if curl -sf -X POST -H 'content-type: application/json' \
        --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$L1_RPC" >/dev/null; then
        break
    fi
    sleep 0.1
done

"$BRIDGE" deploy --l1-rpc "$L1_RPC" --out "$DEVNET_DIR/deployment.json" \
    --force-inclusion-window "$FORCE_INCLUSION_WINDOW" --challenge-window "$CHALLENGE_WINDOW" \
    >"$DEVNET_DIR/deploy.log"

"$NODE" --datadir "$DEVNET_DIR/l2" --http.port "$L2_PORT" --ws.port "$L2_WS_PORT" \
    --block-time "$L2_BLOCK_TIME" \
    --l1.rpc "$L1_RPC" --deployment "$DEVNET_DIR/deployment.json" \
    --l1.confirmations "$CONFIRMATIONS" \
    --batcher.key "$BATCHER_KEY" \
    --proposer.key "$PROPOSER_KEY" --proposer.interval "$PROPOSER_INTERVAL" \
    >"$DEVNET_DIR/node.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 100); do
    if curl -sf -X POST -H 'content-type: application/json' \
        --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$L2_RPC" >/dev/null; then
        break
    fi
    if ! kill -0 "$NODE_PID" 2>/dev/null; then
        echo "the L2 node exited; see $DEVNET_DIR/node.log" >&2
        tail -n 20 "$DEVNET_DIR/node.log" >&2
        exit 1
    fi
    sleep 0.1
done

field() { sed -n "s/.*\"$1\": *\"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\},\\{0,1\\}$/\\1/p" "$DEVNET_DIR/deployment.json"; }
cat <<EOF
devnet running
  L1 (anvil, chain $(field l1ChainId))   $L1_RPC
  L2 (chain $(field l2ChainId))          $L2_RPC   ws://127.0.0.1:$L2_WS_PORT
  deployment file          $DEVNET_DIR/deployment.json
  Inbox                    $(field inbox)
  Portal                   $(field portal)
  OutputRegistry           $(field outputRegistry)
  L1StandardBridge         $(field l1StandardBridge)
  batcher / proposer       $(field batcher) / $(field proposer)
  windows                  force inclusion ${FORCE_INCLUSION_WINDOW} s, challenge ${CHALLENGE_WINDOW} s
  logs                     $DEVNET_DIR/{anvil,node,deploy}.log
  bridge                   $BRIDGE --l1-rpc $L1_RPC --l2-rpc $L2_RPC --deployment $DEVNET_DIR/deployment.json ...
Ctrl-C stops everything.
EOF

wait "$NODE_PID"
