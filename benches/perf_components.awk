# Groups `perf report --no-children --sort sym --stdio` lines by component (the crate or
# module of the sampled function) and prints a Markdown table with a row per component: its
# share of the samples and, with `-v u=<µs per transfer>`, its µs per transfer. Used by
# stage_cpu.sh and soak.sh.
BEGIN {
    print "| component (functions sampled) | share of node CPU | µs per transfer |"
    print "|---|---:|---:|"
}
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
}
