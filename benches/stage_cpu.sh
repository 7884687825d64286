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
awk -v u="$us_per_tx" -f "$root/benches/perf_components.awk" "$work/report.txt"
