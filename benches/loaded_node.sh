# Sourced by benches/soak.sh and benches/stage_cpu.sh: builds the release node and loadgen,
# starts one node on 127.0.0.1:$port with a fresh datadir under $work (removed on exit) and a
# copy of the dev genesis whose dev account 0 holds 10^12 ETH (funding senders never runs dry),
# and waits until it answers. Before sourcing, set `root`, `port` and `node_extra` (an array of
# extra node flags); `pin` (an array, e.g. `taskset -c 0`) may prefix the node's command line.
# Afterwards: `node_pid`, `node_args`, `loadgen_bin`, `work`, and `cpu_ticks` (the node's user +
# system time so far, in clock ticks) with `hz` (ticks per second).

cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p rollup-node -p benches --bins
node_bin="$root/target/release/rollup-node"
loadgen_bin="$root/target/release/loadgen"

work="$(mktemp -d)"
node_pid=""
cleanup() {
    if [[ -n "$node_pid" ]]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# Dev account 0: 10^12 ETH instead of 10^4.
sed 's/"0x21e19e0c9bab2400000"/"0xc9f2c9cd04674edea40000000"/' "$root/testdata/genesis.json" >"$work/genesis.json"
grep -q c9f2c9cd04674edea40000000 "$work/genesis.json" || { echo "dev account 0 not found in the genesis" >&2; exit 1; }

node_args=(--datadir "$work/data" --genesis "$work/genesis.json" --http.port "$port"
    --ws.port "$((port + 1))" --block-time 1s --gas-limit 1000000000 --log.level warn
    ${node_extra[@]+"${node_extra[@]}"})
${pin[@]+"${pin[@]}"} "$node_bin" "${node_args[@]}" >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "http://127.0.0.1:$port" && break
    sleep 0.1
done

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$node_pid/stat"; }
hz="$(getconf CLK_TCK)"
