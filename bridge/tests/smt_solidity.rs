//! Differential test of `contracts/src/lib/SparseMerkleTree.sol` against `fraud_vm::smt`: the
//! Solidity verifier (through `SparseMerkleTreeHarness`, in revm) must accept exactly the proofs
//! Rust accepts, show the same (present, value), and compute the same `root_with` for inserts,
//! overwrites and deletes.

mod common;

use alloy_primitives::{keccak256, Address, Bytes, B256};
use alloy_sol_types::{sol, SolCall};
use common::Chain;
use fraud_vm::smt::{self, MemoryNodes, Proof};
use proptest::prelude::*;

sol! {
    function verify(bytes32 root, bytes32 key, bytes proof) external pure returns (bool, bytes32);
    function rootWith(bytes32 key, bytes proof, bool present, bytes32 newValue) external pure returns (bytes32);
    function verifyAndUpdate(bytes32 root, bytes32 key, bytes proof, bool present, bytes32 newValue)
        external pure returns (bool, bytes32, bytes32);
    function verifyGas(bytes32 root, bytes32 key, bytes proof) external view returns (bool, bytes32, uint256);
    error InvalidProof();
}

struct Harness {
    chain: Chain,
    addr: Address,
}

impl Harness {
    fn new() -> Self {
        let mut chain = Chain::new();
        let addr = chain.deploy(Address::with_last_byte(1), "SparseMerkleTreeHarness", &[]);
        Self { chain, addr }
    }

    /// `None` = reverted with `InvalidProof()`.
    fn verify(&mut self, root: B256, key: B256, proof: &[u8]) -> Option<(bool, B256)> {
        let data = verifyCall {
            root,
            key,
            proof: Bytes::copy_from_slice(proof),
        }
        .abi_encode();
        let out = self.chain.view(self.addr, data);
        if !out.success {
            out.expect_revert::<InvalidProof>();
            return None;
        }
        let r = verifyCall::abi_decode_returns(&out.output).unwrap();
        Some((r._0, r._1))
    }

    fn root_with(&mut self, key: B256, proof: &[u8], value: Option<B256>) -> Option<B256> {
        let data = rootWithCall {
            key,
            proof: Bytes::copy_from_slice(proof),
            present: value.is_some(),
            newValue: value.unwrap_or_default(),
        }
        .abi_encode();
        let out = self.chain.view(self.addr, data);
        if !out.success {
            out.expect_revert::<InvalidProof>();
            return None;
        }
        Some(rootWithCall::abi_decode_returns(&out.output).unwrap())
    }

    fn verify_and_update(
        &mut self,
        root: B256,
        key: B256,
        proof: &[u8],
        value: Option<B256>,
    ) -> Option<(Option<B256>, B256)> {
        let data = verifyAndUpdateCall {
            root,
            key,
            proof: Bytes::copy_from_slice(proof),
            present: value.is_some(),
            newValue: value.unwrap_or_default(),
        }
        .abi_encode();
        let out = self.chain.view(self.addr, data);
        if !out.success {
            out.expect_revert::<InvalidProof>();
            return None;
        }
        let r = verifyAndUpdateCall::abi_decode_returns(&out.output).unwrap();
        Some((r._0.then_some(r._1), r._2))
    }

    fn verify_gas(&mut self, root: B256, key: B256, proof: &[u8]) -> u64 {
        let data = verifyGasCall {
            root,
            key,
            proof: Bytes::copy_from_slice(proof),
        }
        .abi_encode();
        let out = self.chain.view(self.addr, data).ok();
        verifyGasCall::abi_decode_returns(&out.output)
            .unwrap()
            ._2
            .to::<u64>()
    }
}

fn build(entries: &[(B256, B256)]) -> (MemoryNodes, B256) {
    let mut nodes = MemoryNodes::new();
    let changes = entries.iter().map(|(k, v)| (*k, Some(*v))).collect();
    let result = smt::update(&nodes, B256::ZERO, changes).unwrap();
    nodes.insert_all(result.new_nodes);
    (nodes, result.root)
}

/// Rust's answer for an encoded proof: decode, then verify against `root`.
fn rust_verify(root: B256, key: &B256, bytes: &[u8]) -> Option<(bool, B256)> {
    let proof = Proof::decode(bytes).ok()?;
    let value = proof.verify(root, key).ok()?;
    Some((value.is_some(), value.unwrap_or_default()))
}

fn rust_root_with(key: &B256, bytes: &[u8], value: Option<B256>) -> Option<B256> {
    Proof::decode(bytes).ok()?.root_with(key, value).ok()
}

/// Checks one (tree, key) pair: honest proof, updates, and tampered encodings.
fn check_key(
    h: &mut Harness,
    nodes: &MemoryNodes,
    root: B256,
    key: B256,
    new_value: B256,
    tamper_seed: u64,
) {
    let proof = smt::prove(nodes, root, &key).unwrap();
    let enc = proof.encode();
    let expected = proof.verify(root, &key).unwrap();
    assert_eq!(
        h.verify(root, key, &enc),
        Some((expected.is_some(), expected.unwrap_or_default())),
        "verify mismatch for key {key}"
    );
    // Insert / overwrite and delete.
    for value in [Some(new_value), None] {
        let rust = proof.root_with(&key, value).unwrap();
        // The single-path root equals a real tree update.
        let real = smt::update(nodes, root, vec![(key, value)]).unwrap().root;
        assert_eq!(rust, real);
        assert_eq!(
            h.root_with(key, &enc, value),
            Some(rust),
            "rootWith {value:?}"
        );
        assert_eq!(
            h.verify_and_update(root, key, &enc, value),
            Some((expected, rust))
        );
    }
    // Wrong root.
    let wrong = keccak256(root);
    assert_eq!(h.verify(wrong, key, &enc), None);
    // Tampered encodings: Solidity agrees with Rust on every one.
    for t in tampered(&enc, tamper_seed) {
        assert_eq!(
            h.verify(root, key, &t),
            rust_verify(root, &key, &t),
            "verify of tampered {}",
            hex::encode(&t)
        );
        assert_eq!(
            h.root_with(key, &t, Some(new_value)),
            rust_root_with(&key, &t, Some(new_value)),
            "rootWith of tampered {}",
            hex::encode(&t)
        );
    }
}

/// Simple deterministic generator for tamper positions.
fn mix(seed: u64, i: u64) -> u64 {
    let x = keccak256([seed.to_be_bytes(), i.to_be_bytes()].concat());
    u64::from_be_bytes(x[..8].try_into().unwrap())
}

/// Non-canonical / tampered variants of an encoded proof.
fn tampered(enc: &[u8], seed: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let len = enc.len() as u64;
    // Byte flips at a few random positions, and in the header.
    for i in 0..4 {
        let mut t = enc.to_vec();
        let pos = (mix(seed, i) % len) as usize;
        t[pos] ^= 1 << (mix(seed, 100 + i) % 8);
        out.push(t);
    }
    for pos in 0..3.min(enc.len()) {
        let mut t = enc.to_vec();
        t[pos] ^= 0x01;
        out.push(t);
    }
    // Truncations and extra bytes.
    out.push(enc[..enc.len() - 1].to_vec());
    out.push(enc[..(mix(seed, 7) % len) as usize].to_vec());
    out.push([enc, &[0u8]].concat());
    out.push([enc, &[0u8; 32]].concat());
    out.push(Vec::new());
    // Unknown / toggled flags.
    for flags in [0u8, 1, 2, 3, 4, 0x80] {
        let mut t = enc.to_vec();
        t[2] = flags;
        out.push(t);
    }
    let depth = usize::from(u16::from_be_bytes([enc[0], enc[1]]));
    let bitmap_len = depth.div_ceil(8);
    // An explicit ZERO sibling: set an unset bitmap bit and insert 32 zero bytes in its place.
    let set: Vec<usize> = (0..depth)
        .filter(|d| enc[3 + d / 8] & (0x80 >> (d % 8)) != 0)
        .collect();
    if let Some(d) = (0..depth).find(|d| !set.contains(d)) {
        let mut t = enc.to_vec();
        t[3 + d / 8] |= 0x80 >> (d % 8);
        let before = set.iter().filter(|&&x| x < d).count();
        let at = 3 + bitmap_len + 32 * before;
        t.splice(at..at, [0u8; 32]);
        out.push(t);
    }
    // Replace an included sibling by ZERO (bitmap unchanged).
    if !set.is_empty() {
        let mut t = enc.to_vec();
        let i = (mix(seed, 9) as usize) % set.len();
        let at = 3 + bitmap_len + 32 * i;
        t[at..at + 32].fill(0);
        out.push(t);
    }
    // Drop the deepest sibling from the bitmap (and its bytes): deepest sibling ZERO.
    if let Some(&d) = set.last() {
        if d + 1 == depth {
            let mut t = enc.to_vec();
            t[3 + d / 8] &= !(0x80 >> (d % 8));
            let at = 3 + bitmap_len + 32 * (set.len() - 1);
            t.drain(at..at + 32);
            out.push(t);
        }
    }
    // Padding bit set.
    if depth % 8 != 0 {
        let mut t = enc.to_vec();
        t[3 + bitmap_len - 1] |= 1;
        out.push(t);
    }
    // Depth changed by one (with and without a matching bitmap byte).
    for new_depth in [depth.wrapping_sub(1), depth + 1, 257, 0xffff] {
        if new_depth > 0xffff {
            continue;
        }
        let mut t = enc.to_vec();
        t[..2].copy_from_slice(&(new_depth as u16).to_be_bytes());
        out.push(t);
    }
    // A sibling node with a bad tag.
    if enc[2] & 2 != 0 {
        let mut t = enc.to_vec();
        let tag = t.len() - 65;
        t[tag] = 2;
        out.push(t);
        let mut t = enc.to_vec();
        t[tag] ^= 1;
        out.push(t);
    }
    out
}

/// Keys with shared prefixes: each key copies the first `bits` bits of an earlier key.
fn keys_strategy(max: usize) -> impl Strategy<Value = Vec<(B256, B256)>> {
    prop::collection::vec(
        (
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<usize>(),
            0usize..=255,
        ),
        0..max,
    )
    .prop_map(|raw| {
        let mut keys: Vec<B256> = Vec::new();
        let mut entries = Vec::new();
        for (k, v, src, bits) in raw {
            let mut key = B256::from(k);
            if !keys.is_empty() && src % 2 == 0 {
                let base = keys[src % keys.len()];
                key = with_prefix(&key, &base, bits);
            }
            if keys.contains(&key) {
                continue;
            }
            keys.push(key);
            entries.push((key, B256::from(v)));
        }
        entries
    })
}

/// `key` with its first `bits` bits taken from `base`.
fn with_prefix(key: &B256, base: &B256, bits: usize) -> B256 {
    let mut out = *key;
    for i in 0..bits {
        let mask = 0x80u8 >> (i % 8);
        out[i / 8] = (out[i / 8] & !mask) | (base[i / 8] & mask);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn solidity_matches_rust(
        entries in keys_strategy(40),
        queries in prop::collection::vec((any::<[u8; 32]>(), 0usize..=255, any::<usize>()), 1..6),
        new_value in any::<[u8; 32]>(),
        seed in any::<u64>(),
    ) {
        let mut h = Harness::new();
        let (nodes, root) = build(&entries);
        let new_value = B256::from(new_value);
        let new_value = if new_value.is_zero() { B256::with_last_byte(1) } else { new_value };
        // Membership for a sample of present keys.
        for (i, (key, _)) in entries.iter().enumerate().take(8) {
            check_key(&mut h, &nodes, root, *key, new_value, seed ^ i as u64);
        }
        // Absence: random keys, and keys sharing a prefix with a present key.
        for (i, (raw, bits, pick)) in queries.iter().enumerate() {
            let mut key = B256::from(*raw);
            if !entries.is_empty() {
                key = with_prefix(&key, &entries[pick % entries.len()].0, *bits);
            }
            check_key(&mut h, &nodes, root, key, new_value, seed.wrapping_add(1000 + i as u64));
        }
    }
}

fn key_with_bits(prefix_bits: &[(usize, bool)], tail: u8) -> B256 {
    let mut k = B256::ZERO;
    for &(i, bit) in prefix_bits {
        if bit {
            k[i / 8] |= 0x80 >> (i % 8);
        }
    }
    k[31] = tail;
    k
}

/// Hand-built delete re-collapse cases: deleting a key whose deepest sibling is a single leaf
/// moves that leaf up past ZERO siblings; an internal sibling does not move.
#[test]
fn delete_recollapse_cases() {
    let mut h = Harness::new();
    // a and b share 200 bits (both 0), c differs at bit 0, d shares 1 bit with a.
    let a = key_with_bits(&[], 0x00);
    let b = key_with_bits(&[(200, true)], 0x00);
    let c = key_with_bits(&[(0, true)], 0x01);
    let d = key_with_bits(&[(1, true)], 0x02);
    let e = key_with_bits(&[(200, true)], 0x01); // makes b's subtree internal
    let v = B256::with_last_byte(7);
    let cases: Vec<Vec<B256>> = vec![
        vec![a, b],
        vec![a, b, c],
        vec![a, b, c, d],
        vec![a, b, e],
        vec![a, b, e, c, d],
        vec![a],
    ];
    let mut recollapsed = 0;
    for keys in cases {
        let entries: Vec<_> = keys.iter().map(|k| (*k, v)).collect();
        let (nodes, root) = build(&entries);
        for key in &keys {
            let proof = smt::prove(&nodes, root, key).unwrap();
            if matches!(proof.sibling_node, Some(smt::Node::Leaf { .. })) {
                recollapsed += 1;
            }
            check_key(&mut h, &nodes, root, *key, B256::with_last_byte(9), 5);
        }
        // Absent key next to a (split 255 levels deep).
        let near = key_with_bits(&[], 0x80);
        check_key(&mut h, &nodes, root, near, B256::with_last_byte(9), 6);
    }
    assert!(
        recollapsed >= 4,
        "expected re-collapse cases, got {recollapsed}"
    );
}

/// Gas of `verify` by proof depth; prints the per-level cost.
#[test]
fn verify_gas_per_level() {
    let mut h = Harness::new();
    let entries: Vec<(B256, B256)> = (0u32..4096)
        .map(|i| (keccak256(i.to_be_bytes()), keccak256((i + 1).to_be_bytes())))
        .collect();
    let (nodes, root) = build(&entries);
    let mut samples: Vec<(usize, u64)> = Vec::new();
    for (key, _) in entries.iter().take(200) {
        let proof = smt::prove(&nodes, root, key).unwrap();
        let depth = proof.siblings.len();
        let gas = h.verify_gas(root, *key, &proof.encode());
        samples.push((depth, gas));
    }
    // Linear fit gas = a + b * depth.
    let n = samples.len() as f64;
    let mx = samples.iter().map(|s| s.0 as f64).sum::<f64>() / n;
    let my = samples.iter().map(|s| s.1 as f64).sum::<f64>() / n;
    let sxy: f64 = samples
        .iter()
        .map(|s| (s.0 as f64 - mx) * (s.1 as f64 - my))
        .sum();
    let sxx: f64 = samples.iter().map(|s| (s.0 as f64 - mx).powi(2)).sum();
    let per_level = sxy / sxx;
    let base = my - per_level * mx;
    let max = samples.iter().max_by_key(|s| s.1).unwrap();
    println!(
        "SMT verify gas (4096 leaves, proof in memory): {base:.0} + {per_level:.0} per level; \
         mean depth {mx:.1} -> {my:.0} gas; max {} gas at depth {}",
        max.1, max.0
    );
    assert!(per_level < 1000.0, "verify costs {per_level} gas per level");
    // A 255-level-deep membership proof (two keys differing only in the last bit).
    let a = B256::ZERO;
    let b = B256::with_last_byte(1);
    let (nodes, root) = build(&[(a, B256::with_last_byte(1)), (b, B256::with_last_byte(2))]);
    let proof = smt::prove(&nodes, root, &a).unwrap();
    assert_eq!(proof.siblings.len(), 256);
    let gas = h.verify_gas(root, a, &proof.encode());
    println!("SMT verify gas at depth 256 (255 ZERO siblings): {gas}");
}
