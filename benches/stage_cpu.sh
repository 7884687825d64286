#!/usr/bin/env bash
# CPU per transaction, by stage, of a release node under load through its JSON-RPC.
#
#   benches/stage_cpu.sh                    # the node's defaults (state history)
#   NODE_ARGS=--archive benches/stage_cpu.sh
#   CPUS=0 benches/stage_cpu.sh             # the node pinned to one core (taskset -c 0)
#
# One node, a warm-up run of `loadgen --target url --fund` (funds the senders, fills the state),
# then a measured run of TXS more transfers while `perf record` samples the node. CPU time per
# transfer = the node's user + system time during the measured run / transfers included;
# each component's share is the share of perf's samples whose function belongs to it (self
# time: the crate or module of the sampled function).
# Environment: TXS (100000), ACCOUNTS (10000), PORT (9945), NODE_ARGS, CPUS (unset: all),
# FREQ (perf's sampling rate, 999). Needs perf (Debian's linux-perf).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
txs="${TXS:-100000}"
accounts="${ACCOUNTS:-10000}"
port="${PORT:-9945}"
freq="${FREQ:-999}"

read -r -a node_extra <<<"${NODE_ARGS:-}"
pin=()
if [[ -n "${CPUS:-}" ]]; then pin=(taskset -c "$CPUS"); fi
# shellcheck source=benches/loaded_node.sh
source "$root/benches/loaded_node.sh"

load() {
    "$loadgen_bin" --target url --url "http://127.0.0.1:$port" --txs "$txs" --accounts "$accounts" \
        --ceilings false --quiet "$@"
}
load --fund >/dev/null
before="$(cpu_ticks)"
perf record -q -F "$freq" -p "$node_pid" -o "$work/perf.data" 2>/dev/null &
perf_pid=$!
sleep 1
out="$(load)"
after="$(cpu_ticks)"
kill -INT "$perf_pid"
wait "$perf_pid" || true
row="$(grep -E '^\| [0-9]' <<<"$out" | head -1)"
tps="$(awk -F'|' '{ gsub(/ /, "", $9); print $9 }' <<<"$row")"
included="$(awk -F'|' '{ gsub(/ /, "", $5); print $5 }' <<<"$row")"
us_per_tx="$(awk -v t=$((after - before)) -v hz="$hz" -v n="$included" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')"

perf report -i "$work/perf.data" --no-children --sort sym --stdio 2>/dev/null >"$work/report.txt"
echo "node: ${NODE_ARGS:-defaults}${CPUS:+, taskset -c $CPUS}; $included transfers included at ${tps//\*/} tx/s; node CPU $us_per_tx µs per transfer"
echo
echo "| component (functions sampled) | share of node CPU | µs per transfer |"
echo "|---|---:|---:|"
awk -v u="$us_per_tx" '
    /^ *[0-9.]+%/ {
        pct = $1; sub(/%/, "", pct); sym = $0
        if (sym ~ /\[k\]/) c = "kernel (syscalls, network, page faults)"
        else if (sym ~ /secp256k1|recover_signer|ecdsa/) c = "sender recovery (secp256k1)"
        else if (sym ~ /sled::|crossbeam_epoch|crossbeam_skiplist/) c = "sled (reads, inserts, batches, flush)"
        else if (sym ~ /revm|BlockBuilder::execute/) c = "EVM execution (revm)"
        else if (sym ~ /keccak|Keccak|sha3/) c = "keccak (state tree, transaction and block hashes)"
        else if (sym ~ /fraud_vm::smt|history::|KeptStates/) c = "state tree (update, nodes in memory)"
        else if (sym ~ /serde_json|jsonrpsee|hyper|http|tower|RawValue|requests::/) c = "JSON-RPC (HTTP, JSON)"
        else if (sym ~ /alloy_rlp|Decodable|Encodable|decode_2718|encode_2718|alloy_consensus|op_alloy/) c = "RLP / EIP-2718 encode and decode"
        else if (sym ~ /mempool|Mempool/) c = "pool"
        else if (sym ~ /_rjem|je_|malloc|free|rallocx|memcpy|memmove|memset|memcmp|as core::clone::Clone/) c = "allocator, memory copies and compares"
        else if (sym ~ /hashbrown|HashMap|BTree|B256Map|Hasher|hash_one|cache::Generations|TipState/) c = "hash maps, node caches, tip overlay"
        else if (sym ~ /tokio|parking_lot|futex|std::sync/) c = "tokio, locks"
        else { c = "other"; s = sym; sub(/^ *[0-9.]+% +\[.\] +/, "", s); if (pct + 0 >= 0.3) others = others sprintf("%s %.1f %%; ", s, pct) }
        share[c] += pct
    }
    END {
        n = 0
        for (c in share) order[++n] = c
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (share[order[j]] > share[order[i]]) { t = order[i]; order[i] = order[j]; order[j] = t }
        for (i = 1; i <= n; i++) printf "| %s | %.1f %% | %.1f |\n", order[i], share[order[i]], share[order[i]] / 100 * u
        printf "\nother, functions of at least 0.3 %%: %s\n", others
    }' "$work/report.txt"
