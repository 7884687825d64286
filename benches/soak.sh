#!/usr/bin/env bash
# Sustained load on one release node: `loadgen --target url --fund` in a loop for SOAK_SECS,
# then after each run the node's CPU time per transfer, its resident memory (VmRSS, peak VmHWM)
# and its datadir size.
#
#   benches/soak.sh                       # 600 s, the node's defaults
#   SOAK_SECS=1800 benches/soak.sh        # 30 minutes
#   ARCHIVE=1 benches/soak.sh             # the node runs with --archive
#   STATE_HISTORY=128 benches/soak.sh     # the node runs with --state-history 128
#   DB_CACHE_MB=64 benches/soak.sh        # the node runs with --db.cache-mb 64
#   PROFILE_AT="150 1650" benches/soak.sh # perf samples the node for 20 s from these seconds
#
# Environment: SOAK_SECS (600), TXS per run (100000), ACCOUNTS (10000), PORT (9645),
# ARCHIVE (unset), STATE_HISTORY (unset: the node's default), DB_CACHE_MB (unset: the node's
# default). The genesis is the dev genesis with dev account 0 holding 10^12 ETH, so funding
# the senders never runs dry. Output: one Markdown row per run, then one per minute (the mean
# included TPS of the runs that ended in that minute: each run's TPS counts from its first
# send to its last inclusion, not the untimed signing between runs), then the first and last
# five minutes' means and the datadir's bytes per included transfer; with PROFILE_AT (needs
# perf), the node's CPU by component in each sample (`perf_components.awk`, µs per transfer at
# the CPU per transfer of the run the sample ended in).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${SOAK_SECS:-600}"
txs="${TXS:-100000}"
accounts="${ACCOUNTS:-10000}"
port="${PORT:-9645}"

node_extra=()
if [[ -n "${ARCHIVE:-}" ]]; then node_extra+=(--archive); fi
if [[ -n "${STATE_HISTORY:-}" ]]; then node_extra+=(--state-history "$STATE_HISTORY"); fi
if [[ -n "${DB_CACHE_MB:-}" ]]; then node_extra+=(--db.cache-mb "$DB_CACHE_MB"); fi
# shellcheck source=benches/loaded_node.sh
source "$root/benches/loaded_node.sh"

status() { awk -v k="$1:" '$1 == k { printf "%.2f GB", $2 / 1048576 }' "/proc/$node_pid/status"; }

echo "node: ${node_args[*]}"
echo "| run | at s | included TPS | inclusion s | node CPU µs/transfer | VmRSS | VmHWM | datadir |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
start=$SECONDS
profilers=()
for at in ${PROFILE_AT:-}; do
    (sleep "$at" && perf record -q -F 499 -p "$node_pid" -o "$work/perf-$at.data" -- sleep 20 \
        >/dev/null 2>&1) &
    profilers+=($!)
done
declare -A run_end=() run_cpu=()
run=0
total=0
declare -A tps_sum=() runs_in=()
while ((SECONDS - start < secs)); do
    run=$((run + 1))
    # The node's CPU over the whole run (its funding and signing too, when the node seals
    # near-empty blocks) per transfer included.
    ticks="$(cpu_ticks)"
    out="$("$loadgen_bin" --target url --url "http://127.0.0.1:$port" --fund --txs "$txs" \
        --accounts "$accounts" --ceilings false --quiet 2>"$work/loadgen.err")" ||
        { cat "$work/loadgen.err" >&2; exit 1; }
    # The report's data row: | sent | accepted | errors | included | failed | send s | inclusion s | TPS | ...
    row="$(grep -E '^\| [0-9]' <<<"$out" | head -1)"
    tps="$(awk -F'|' '{ gsub(/ /, "", $9); print $9 }' <<<"$row")"
    incl="$(awk -F'|' '{ gsub(/ /, "", $8); print $8 }' <<<"$row")"
    size="$(du -sb "$work/data" | awk '{ printf "%.2f GB", $1 / 1e9 }')"
    included="$(awk -F'|' '{ gsub(/ /, "", $5); print $5 }' <<<"$row")"
    cpu="$(awk -v t=$(($(cpu_ticks) - ticks)) -v hz="$hz" -v n="$included" 'BEGIN { printf "%.0f", (n > 0 ? t / hz * 1e6 / n : 0) }')"
    minute=$(((SECONDS - start) / 60))
    tps_sum[$minute]=$((${tps_sum[$minute]:-0} + ${tps//\*/}))
    runs_in[$minute]=$((${runs_in[$minute]:-0} + 1))
    total=$((total + included))
    run_end[$run]=$((SECONDS - start))
    run_cpu[$run]=$cpu
    echo "| $run | $((SECONDS - start)) | ${tps//\*/} | $incl | $cpu | $(status VmRSS) | $(status VmHWM) | $size |"
done
echo
echo "| minute | runs | mean included TPS |"
echo "|---:|---:|---:|"
elapsed=$((SECONDS - start))
minutes=$(((elapsed + 59) / 60))
mean() { # mean TPS of the runs that ended in minutes [$1, $2)
    local sum=0 n=0 m
    for ((m = $1; m < $2; m++)); do
        sum=$((sum + ${tps_sum[$m]:-0}))
        n=$((n + ${runs_in[$m]:-0}))
    done
    echo $((n > 0 ? sum / n : 0))
}
for ((m = 0; m < minutes; m++)); do
    echo "| $((m + 1)) | ${runs_in[$m]:-0} | $(mean "$m" $((m + 1))) |"
done
bytes="$(du -sb "$work/data" | awk '{ print $1 }')"
echo
first="$(mean 0 5)"
last="$(mean $((minutes > 5 ? minutes - 5 : 0)) "$minutes")"
echo "first five minutes: $first tx/s; last five: $last tx/s ($((first > 0 ? 100 * last / first : 0)) %)"
echo "transfers included: $total; datadir: $bytes bytes, $((bytes / (total > 0 ? total : 1))) bytes per transfer"
for pid in ${profilers[@]+"${profilers[@]}"}; do wait "$pid" || true; done
for at in ${PROFILE_AT:-}; do
    [[ -s "$work/perf-$at.data" ]] || { echo "no perf sample at $at s" >&2; continue; }
    us=0
    for ((r = 1; r <= run; r++)); do
        if ((run_end[$r] >= at + 20)); then us=${run_cpu[$r]}; break; fi
    done
    echo
    echo "Node CPU by component, sampled for 20 s from second $at (run CPU $us µs per transfer):"
    echo
    perf report -i "$work/perf-$at.data" --no-children --sort sym --stdio 2>/dev/null |
        awk -v u="$us" -f "$root/benches/perf_components.awk"
done
