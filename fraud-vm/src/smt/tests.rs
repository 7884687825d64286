//! Tests of the sparse Merkle tree against an independent reference.

use std::collections::BTreeMap;

use alloy_primitives::{keccak256, B256};
use proptest::prelude::*;

use super::*;

// ---------------------------------------------------------------------------
// Independent reference: recursive root over the full sorted leaf map.

fn ref_bit(key: &B256, i: usize) -> u8 {
    let byte = key.0[i / 8];
    (byte >> (7 - (i % 8))) & 1
}

fn ref_root_at(leaves: &[(B256, B256)], depth: usize) -> B256 {
    match leaves.len() {
        0 => B256::ZERO,
        1 => {
            let mut pre = vec![0u8];
            pre.extend_from_slice(&leaves[0].0 .0);
            pre.extend_from_slice(&leaves[0].1 .0);
            keccak256(&pre)
        }
        _ => {
            let left: Vec<_> = leaves
                .iter()
                .filter(|(k, _)| ref_bit(k, depth) == 0)
                .copied()
                .collect();
            let right: Vec<_> = leaves
                .iter()
                .filter(|(k, _)| ref_bit(k, depth) == 1)
                .copied()
                .collect();
            let mut pre = Vec::new();
            pre.extend_from_slice(&ref_root_at(&left, depth + 1).0);
            pre.extend_from_slice(&ref_root_at(&right, depth + 1).0);
            keccak256(&pre)
        }
    }
}

fn ref_root(model: &BTreeMap<B256, B256>) -> B256 {
    let leaves: Vec<_> = model.iter().map(|(k, v)| (*k, *v)).collect();
    ref_root_at(&leaves, 0)
}

// ---------------------------------------------------------------------------
// Helpers.

fn h(n: u64) -> B256 {
    keccak256(n.to_be_bytes())
}

/// Key with the given first byte(s) and last byte, zero elsewhere.
fn key(bytes: &[(usize, u8)]) -> B256 {
    let mut k = B256::ZERO;
    for (i, b) in bytes {
        k.0[*i] = *b;
    }
    k
}

fn apply(store: &mut MemoryNodes, root: B256, changes: Vec<Change>) -> B256 {
    let res = update(store, root, changes).expect("update");
    store.insert_all(res.new_nodes);
    res.root
}

fn assert_proof(store: &MemoryNodes, root: B256, k: &B256, expected: Option<B256>) -> Proof {
    let proof = prove(store, root, k).expect("prove");
    assert_eq!(proof.verify(root, k).expect("verify"), expected);
    let decoded = Proof::decode(&proof.encode()).expect("decode");
    assert_eq!(decoded, proof);
    assert_eq!(Proof::from_nodes(&proof.to_nodes()).expect("nodes"), proof);
    let json = serde_json::to_string(&proof).expect("json");
    let back: Proof = serde_json::from_str(&json).expect("json back");
    assert_eq!(back, proof);
    assert_eq!(get(store, root, k).expect("get"), expected);
    proof
}

/// `root_with` on a proof of the tree at `root` equals the batched update.
fn assert_root_with(store: &MemoryNodes, root: B256, k: B256, value: Option<B256>) {
    let proof = prove(store, root, &k).expect("prove");
    let expected = update(store, root, vec![(k, value)]).expect("update").root;
    assert_eq!(
        proof.root_with(&k, value).expect("root_with"),
        expected,
        "key {k} -> {value:?}"
    );
}

// ---------------------------------------------------------------------------
// Unit tests.

#[test]
fn empty_tree() {
    let store = MemoryNodes::new();
    assert_eq!(ref_root(&BTreeMap::new()), EMPTY_ROOT);
    let res = update(&store, EMPTY_ROOT, vec![]).unwrap();
    assert_eq!(res.root, EMPTY_ROOT);
    assert!(res.new_nodes.is_empty());
    // Deleting from the empty tree keeps it empty.
    let res = update(&store, EMPTY_ROOT, vec![(h(1), None)]).unwrap();
    assert_eq!(res.root, EMPTY_ROOT);
    let proof = assert_proof(&store, EMPTY_ROOT, &h(1), None);
    assert!(proof.siblings.is_empty() && proof.leaf.is_none());
    assert_eq!(proof.encode(), vec![0, 0, 0]);
}

#[test]
fn single_insert() {
    let mut store = MemoryNodes::new();
    let (k, v) = (h(1), h(2));
    let root = apply(&mut store, EMPTY_ROOT, vec![(k, Some(v))]);
    assert_eq!(root, leaf_hash(&k, &v));
    let mut pre = vec![0u8];
    pre.extend_from_slice(k.as_slice());
    pre.extend_from_slice(v.as_slice());
    assert_eq!(root, keccak256(&pre));
    let proof = assert_proof(&store, root, &k, Some(v));
    assert!(proof.siblings.is_empty());
    assert_eq!(proof.sibling_node, None);
    // Absence via a different leaf at depth 0.
    let proof = assert_proof(&store, root, &h(3), None);
    assert_eq!(proof.leaf, Some((k, v)));
}

#[test]
fn two_keys_long_common_prefix() {
    let mut store = MemoryNodes::new();
    // Differ only at the last bit.
    let a = key(&[(0, 0xab), (31, 0x10)]);
    let b = key(&[(0, 0xab), (31, 0x11)]);
    let (va, vb) = (h(10), h(11));
    let root = apply(&mut store, EMPTY_ROOT, vec![(a, Some(va)), (b, Some(vb))]);
    let mut expected = internal_hash(&leaf_hash(&a, &va), &leaf_hash(&b, &vb));
    for depth in (0..255).rev() {
        expected = if key_bit(&a, depth) {
            internal_hash(&B256::ZERO, &expected)
        } else {
            internal_hash(&expected, &B256::ZERO)
        };
    }
    assert_eq!(root, expected);
    let model = BTreeMap::from([(a, va), (b, vb)]);
    assert_eq!(root, ref_root(&model));
    let proof = assert_proof(&store, root, &a, Some(va));
    assert_eq!(proof.siblings.len(), 256);
    assert_eq!(proof.sibling_node, Some(Node::Leaf { key: b, value: vb }));
    // 255 ZERO siblings are elided: 3 + 32 + 32 + 64 + 65 bytes.
    assert_eq!(proof.encode().len(), 3 + 32 + 32 + 64 + 65);
    assert_proof(&store, root, &b, Some(vb));
    // Delete one: the other moves all the way up to the root.
    assert_root_with(&store, root, a, None);
    let root2 = apply(&mut store, root, vec![(a, None)]);
    assert_eq!(root2, leaf_hash(&b, &vb));
}

#[test]
fn update_overwrite_and_order_independence() {
    let mut store = MemoryNodes::new();
    let changes: Vec<Change> = (0..50).map(|i| (h(i), Some(h(1000 + i)))).collect();
    let root = apply(&mut store, EMPTY_ROOT, changes.clone());
    let mut rev = changes.clone();
    rev.reverse();
    assert_eq!(update(&store, EMPTY_ROOT, rev).unwrap().root, root);
    // One by one.
    let mut r = EMPTY_ROOT;
    for c in &changes {
        r = apply(&mut store, r, vec![*c]);
    }
    assert_eq!(r, root);
    // Overwrite.
    let root2 = apply(&mut store, root, vec![(h(7), Some(h(7777)))]);
    let mut model: BTreeMap<_, _> = changes.iter().map(|(k, v)| (*k, v.unwrap())).collect();
    model.insert(h(7), h(7777));
    assert_eq!(root2, ref_root(&model));
    assert_proof(&store, root2, &h(7), Some(h(7777)));
    // Old root stays readable.
    assert_proof(&store, root, &h(7), Some(h(1007)));
    // Duplicates: last wins.
    let dup = vec![(h(7), Some(h(1))), (h(7), None), (h(7), Some(h(2)))];
    model.insert(h(7), h(2));
    assert_eq!(update(&store, root, dup).unwrap().root, ref_root(&model));
    // Rewriting the same value keeps the root.
    assert_eq!(
        update(&store, root, vec![(h(3), Some(h(1003)))])
            .unwrap()
            .root,
        root
    );
    // Deleting absent keys is a no-op that creates no node.
    let noop = update(&store, root, (5000..5100).map(|i| (h(i), None)).collect()).unwrap();
    assert_eq!(noop.root, root);
    assert!(noop.new_nodes.is_empty());
}

#[test]
fn delete_back_to_empty() {
    let mut store = MemoryNodes::new();
    let keys: Vec<_> = (0..20).map(h).collect();
    let root = apply(
        &mut store,
        EMPTY_ROOT,
        keys.iter().map(|k| (*k, Some(*k))).collect(),
    );
    assert_ne!(root, EMPTY_ROOT);
    // All at once.
    let all = update(&store, root, keys.iter().map(|k| (*k, None)).collect()).unwrap();
    assert_eq!(all.root, EMPTY_ROOT);
    assert!(all.new_nodes.is_empty());
    // One at a time, checking root_with each step.
    let mut r = root;
    for k in &keys {
        assert_root_with(&store, r, *k, None);
        r = apply(&mut store, r, vec![(*k, None)]);
    }
    assert_eq!(r, EMPTY_ROOT);
}

#[test]
fn delete_recollapses_leaf_upward() {
    let mut store = MemoryNodes::new();
    // a = 000..., b = 001..., c = 1.... Tree: root(left: n(a-side: n(a, b)), right: c)
    let a = key(&[(0, 0b0000_0000), (31, 1)]);
    let b = key(&[(0, 0b0010_0000), (31, 2)]);
    let c = key(&[(0, 0b1000_0000), (31, 3)]);
    let (va, vb, vc) = (h(1), h(2), h(3));
    let root = apply(
        &mut store,
        EMPTY_ROOT,
        vec![(a, Some(va)), (b, Some(vb)), (c, Some(vc))],
    );
    let la = leaf_hash(&a, &va);
    let lb = leaf_hash(&b, &vb);
    let lc = leaf_hash(&c, &vc);
    let expected = internal_hash(&internal_hash(&internal_hash(&la, &lb), &B256::ZERO), &lc);
    assert_eq!(root, expected);
    let proof = assert_proof(&store, root, &a, Some(va));
    assert_eq!(proof.siblings, vec![lc, B256::ZERO, lb]);
    assert_eq!(proof.sibling_node, Some(Node::Leaf { key: b, value: vb }));
    // Delete a: b moves up past the ZERO sibling to depth 1.
    assert_root_with(&store, root, a, None);
    let root2 = apply(&mut store, root, vec![(a, None)]);
    assert_eq!(root2, internal_hash(&lb, &lc));
    assert_proof(&store, root2, &b, Some(vb));
    // Delete c from the original: the (a, b) internal node stays below ZERO siblings.
    assert_root_with(&store, root, c, None);
    let root3 = apply(&mut store, root, vec![(c, None)]);
    assert_eq!(
        root3,
        internal_hash(
            &internal_hash(&internal_hash(&la, &lb), &B256::ZERO),
            &B256::ZERO
        )
    );
    let p = assert_proof(&store, root, &c, Some(vc));
    assert!(matches!(p.sibling_node, Some(Node::Internal { .. })));
}

#[test]
fn proofs_membership_and_both_absences() {
    let mut store = MemoryNodes::new();
    let keys: Vec<_> = (0..64).map(h).collect();
    let root = apply(
        &mut store,
        EMPTY_ROOT,
        keys.iter().map(|k| (*k, Some(h(500)))).collect(),
    );
    for k in &keys {
        let p = assert_proof(&store, root, k, Some(h(500)));
        assert_eq!(p.leaf, Some((*k, h(500))));
        assert!(p.sibling_node.is_some());
    }
    let (mut saw_empty, mut saw_other_leaf) = (false, false);
    for i in 1000..1400 {
        let k = h(i);
        let p = assert_proof(&store, root, &k, None);
        match p.leaf {
            None => saw_empty = true,
            Some((other, _)) => {
                assert_ne!(other, k);
                saw_other_leaf = true;
            }
        }
        assert!(p.sibling_node.is_none());
        // Insert next to / into: root_with agrees with update.
        assert_root_with(&store, root, k, Some(h(i)));
        assert_root_with(&store, root, k, None);
    }
    assert!(saw_empty && saw_other_leaf);
}

#[test]
fn root_with_agrees_with_update() {
    let mut store = MemoryNodes::new();
    let keys: Vec<_> = (0..40).map(h).collect();
    let root = apply(
        &mut store,
        EMPTY_ROOT,
        keys.iter().map(|k| (*k, Some(*k))).collect(),
    );
    for k in &keys {
        assert_root_with(&store, root, *k, Some(h(9))); // overwrite
        assert_root_with(&store, root, *k, Some(*k)); // same value
        assert_root_with(&store, root, *k, None); // delete
    }
    for i in 100..140 {
        assert_root_with(&store, root, h(i), Some(h(i))); // insert
    }
    // Empty tree and single-leaf tree.
    let empty = MemoryNodes::new();
    assert_root_with(&empty, EMPTY_ROOT, h(1), Some(h(2)));
    let single = apply(&mut store, EMPTY_ROOT, vec![(h(1), Some(h(2)))]);
    assert_root_with(&store, single, h(1), None);
    assert_root_with(&store, single, h(1), Some(h(3)));
    assert_root_with(&store, single, h(5), Some(h(3)));
}

#[test]
fn tampered_proofs_fail() {
    let mut store = MemoryNodes::new();
    let keys: Vec<_> = (0..100).map(h).collect();
    let root = apply(
        &mut store,
        EMPTY_ROOT,
        keys.iter().map(|k| (*k, Some(*k))).collect(),
    );
    let k = keys[17];
    let proof = prove(&store, root, &k).unwrap();
    assert_eq!(proof.verify(root, &k).unwrap(), Some(k));
    assert!(proof.siblings.len() >= 2);

    // Changed sibling (each position).
    for i in 0..proof.siblings.len() {
        let mut p = proof.clone();
        p.siblings[i].0[5] ^= 1;
        assert!(p.verify(root, &k).is_err(), "sibling {i}");
    }
    // Changed leaf value.
    let mut p = proof.clone();
    p.leaf = Some((k, h(12345)));
    assert!(matches!(
        p.verify(root, &k),
        Err(SmtError::RootMismatch { .. })
    ));
    // Truncated siblings.
    let mut p = proof.clone();
    p.siblings.pop();
    assert!(p.verify(root, &k).is_err());
    let mut p = proof.clone();
    p.siblings.remove(0);
    assert!(p.verify(root, &k).is_err());
    // Claiming absence by dropping the leaf.
    let mut p = proof.clone();
    p.leaf = None;
    p.sibling_node = None;
    assert!(p.verify(root, &k).is_err());
    // Missing / wrong sibling witness.
    let mut p = proof.clone();
    p.sibling_node = None;
    assert!(matches!(p.verify(root, &k), Err(SmtError::InvalidProof(_))));
    assert!(p.root_with(&k, None).is_err());
    let mut p = proof.clone();
    p.sibling_node = Some(Node::Leaf {
        key: h(1),
        value: h(2),
    });
    assert!(p.verify(root, &k).is_err());
    // Wrong key.
    assert!(proof.verify(root, &keys[18]).is_err());
    // Wrong root.
    assert!(proof.verify(h(1), &k).is_err());
    // An absence proof with a tampered other-leaf.
    let absent = h(5000);
    let ap = prove(&store, root, &absent).unwrap();
    assert_eq!(ap.verify(root, &absent).unwrap(), None);
    if let Some((ok, ov)) = ap.leaf {
        let mut p = ap.clone();
        p.leaf = Some((ok, h(1)));
        assert!(p.verify(root, &absent).is_err());
        let mut p = ap.clone();
        p.leaf = Some((absent, ov));
        assert!(p.verify(root, &absent).is_err());
    }
}

#[test]
fn proof_decode_rejects_garbage() {
    let mut store = MemoryNodes::new();
    let root = apply(
        &mut store,
        EMPTY_ROOT,
        (0..10).map(|i| (h(i), Some(h(i)))).collect(),
    );
    let bytes = prove(&store, root, &h(3)).unwrap().encode();
    assert!(Proof::decode(&bytes).is_ok());
    for len in 0..bytes.len() {
        assert!(Proof::decode(&bytes[..len]).is_err(), "truncated to {len}");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(Proof::decode(&long).is_err());
    let mut bad_flags = bytes.clone();
    bad_flags[2] |= 0x80;
    assert!(Proof::decode(&bad_flags).is_err());
    assert!(Proof::decode(&[0x01, 0x01, 0]).is_err()); // depth 257
                                                       // Padding bit set in the bitmap (depth 1, bitmap 0b0100_0000).
    assert!(Proof::decode(&[0, 1, 0, 0b0100_0000]).is_err());
    // Explicit ZERO sibling.
    let mut z = vec![0, 1, 0, 0b1000_0000];
    z.extend_from_slice(&[0u8; 32]);
    assert!(Proof::decode(&z).is_err());
    // Node decode.
    assert!(Node::decode(&[0u8; 64]).is_err());
    let mut n = [0u8; 65];
    n[0] = 2;
    assert!(Node::decode(&n).is_err());
    let node = Node::Internal {
        left: h(1),
        right: h(2),
    };
    assert_eq!(Node::decode(&node.encode()).unwrap(), node);
    let node = Node::Leaf {
        key: h(1),
        value: h(2),
    };
    assert_eq!(Node::decode(&node.encode()).unwrap(), node);
    assert_eq!(node.encode()[1..], [h(1).0, h(2).0].concat()[..]);
}

#[test]
fn missing_node_is_an_error() {
    let mut store = MemoryNodes::new();
    let root = apply(
        &mut store,
        EMPTY_ROOT,
        (0..10).map(|i| (h(i), Some(h(i)))).collect(),
    );
    let empty = MemoryNodes::new();
    assert_eq!(get(&empty, root, &h(1)), Err(SmtError::MissingNode(root)));
    assert!(matches!(
        prove(&empty, root, &h(1)),
        Err(SmtError::MissingNode(_))
    ));
    assert!(matches!(
        update(&empty, root, vec![(h(1), None)]),
        Err(SmtError::MissingNode(_))
    ));
}

#[test]
fn overlay_reads_new_then_base() {
    let mut base = MemoryNodes::new();
    let r1 = apply(
        &mut base,
        EMPTY_ROOT,
        (0..10).map(|i| (h(i), Some(h(i)))).collect(),
    );
    let mut overlay = Overlay::new(&base);
    let res = update(&overlay, r1, vec![(h(100), Some(h(1)))]).unwrap();
    overlay.insert_all(res.new_nodes);
    let res2 = update(&overlay, res.root, vec![(h(3), None)]).unwrap();
    overlay.insert_all(res2.new_nodes);
    assert_eq!(get(&overlay, res2.root, &h(100)).unwrap(), Some(h(1)));
    assert_eq!(get(&overlay, res2.root, &h(3)).unwrap(), None);
    assert_eq!(get(&overlay, res2.root, &h(4)).unwrap(), Some(h(4)));
    assert!(get(&base, res2.root, &h(4)).is_err());
    let nodes = overlay.into_nodes();
    base.insert_all(nodes);
    assert_eq!(get(&base, res2.root, &h(4)).unwrap(), Some(h(4)));
}

#[test]
fn new_nodes_are_exactly_the_reachable_new_ones() {
    let mut store = MemoryNodes::new();
    let r = apply(
        &mut store,
        EMPTY_ROOT,
        (0..300).map(|i| (h(i), Some(h(i)))).collect(),
    );
    // Every node of a fresh tree is new: 300 leaves + 299 internal nodes
    // (a binary tree with n leaves where every internal node has 2+ leaves
    // may have extra unary internal nodes on shared prefixes).
    assert!(store.len() >= 599);
    for (hash, node) in update(&store, r, vec![(h(1), Some(h(2)))])
        .unwrap()
        .new_nodes
    {
        assert_eq!(node.hash(), hash);
    }
}

#[test]
fn parallel_equals_sequential_large_batches() {
    let mut store = MemoryNodes::new();
    let initial: Vec<Change> = (0..20_000).map(|i| (h(i), Some(h(i + 1)))).collect();
    let par = update(&store, EMPTY_ROOT, initial.clone()).unwrap();
    let seq = update_sequential(&store, EMPTY_ROOT, initial.clone()).unwrap();
    assert_eq!(par, seq);
    let mut model: BTreeMap<_, _> = initial.iter().map(|(k, v)| (*k, v.unwrap())).collect();
    assert_eq!(par.root, ref_root(&model));
    store.insert_all(par.new_nodes);
    // 8k mixed changes: overwrites, deletes, inserts, deletes of absent keys.
    let changes: Vec<Change> = (0..8_000u64)
        .map(|i| match i % 4 {
            0 => (h(i * 2), Some(h(i + 77))),
            1 => (h(i * 2), None),
            2 => (h(100_000 + i), Some(h(i))),
            _ => (h(200_000 + i), None),
        })
        .collect();
    let par = update(&store, par.root, changes.clone()).unwrap();
    let seq = update_sequential(&store, seq.root, changes.clone()).unwrap();
    assert_eq!(par, seq);
    for (k, v) in &changes {
        match v {
            Some(v) => model.insert(*k, *v),
            None => model.remove(k),
        };
    }
    assert_eq!(par.root, ref_root(&model));
}

/// Hashes of every node reachable from `root`.
fn reachable(store: &MemoryNodes, root: B256) -> std::collections::BTreeSet<B256> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![root];
    while let Some(hash) = todo.pop() {
        if hash.is_zero() || !seen.insert(hash) {
            continue;
        }
        if let Some(Node::Internal { left, right }) = store.get(&hash) {
            todo.extend([*left, *right]);
        }
    }
    seen
}

/// The stale list of an update is exactly the old tree's nodes that the new tree lost, with
/// no duplicates (what a pruning store may delete), and its new nodes exactly the ones it
/// gained.
fn assert_stale_exact(store: &MemoryNodes, old: B256, res: &UpdateResult) {
    let mut after = store.clone();
    after.insert_all(res.new_nodes.iter().copied());
    let lost: Vec<B256> = reachable(&after, old)
        .difference(&reachable(&after, res.root))
        .copied()
        .collect();
    let mut stale = res.stale_nodes.clone();
    stale.sort();
    let listed = stale.len();
    stale.dedup();
    assert_eq!(listed, stale.len(), "a stale node is listed twice");
    assert_eq!(stale, lost);
    // And the new nodes are exactly the nodes the old tree lacks.
    let gained: Vec<B256> = reachable(&after, res.root)
        .difference(&reachable(&after, old))
        .copied()
        .collect();
    let mut created: Vec<B256> = res.new_nodes.iter().map(|(hash, _)| *hash).collect();
    created.sort();
    let listed = created.len();
    created.dedup();
    assert_eq!(listed, created.len(), "a new node is listed twice");
    assert_eq!(created, gained);
}

#[test]
fn stale_nodes_are_exactly_the_lost_ones_in_large_batches() {
    let mut store = MemoryNodes::new();
    let initial: Vec<Change> = (0..5_000).map(|i| (h(i), Some(h(i + 1)))).collect();
    let res = update(&store, EMPTY_ROOT, initial).unwrap();
    assert!(res.stale_nodes.is_empty());
    store.insert_all(res.new_nodes);
    // Overwrites (some with the same value), deletes that re-collapse, inserts under
    // existing leaves (which move deeper), deletes of absent keys.
    let changes: Vec<Change> = (0..3_000u64)
        .map(|i| match i % 5 {
            0 => (h(i * 3), Some(h(i + 9))),
            1 => (h(i * 3), Some(h(i * 3 + 1))),
            2 => (h(i * 3), None),
            3 => (h(100_000 + i), Some(h(i))),
            _ => (h(200_000 + i), None),
        })
        .collect();
    let par = update(&store, res.root, changes.clone()).unwrap();
    assert_eq!(par, update_sequential(&store, res.root, changes).unwrap());
    assert!(par.stale_nodes.len() > 3_000);
    assert_stale_exact(&store, res.root, &par);
}

// ---------------------------------------------------------------------------
// Property tests.

/// Keys from a small pool with heavy prefix sharing.
fn arb_key() -> impl Strategy<Value = B256> {
    prop_oneof![
        // First byte in a small range, last byte in a small range: long common prefixes.
        (0u8..4, 0u8..8).prop_map(|(a, b)| key(&[(0, a), (31, b)])),
        // Same, but the difference in the middle.
        (0u8..3, 0u8..4).prop_map(|(a, b)| key(&[(0, 0x80 | a), (15, b), (31, 1)])),
        // Fully random-looking keys from a small pool.
        (0u64..16).prop_map(h),
    ]
}

fn arb_change() -> impl Strategy<Value = Change> {
    (
        arb_key(),
        proptest::option::weighted(0.7, (0u64..4).prop_map(h)),
    )
}

fn arb_batches() -> impl Strategy<Value = Vec<Vec<Change>>> {
    proptest::collection::vec(proptest::collection::vec(arb_change(), 0..24), 1..6)
}

fn pool() -> Vec<B256> {
    let mut keys = Vec::new();
    for a in 0u8..4 {
        for b in 0u8..8 {
            keys.push(key(&[(0, a), (31, b)]));
        }
    }
    for a in 0u8..3 {
        for b in 0u8..4 {
            keys.push(key(&[(0, 0x80 | a), (15, b), (31, 1)]));
        }
    }
    keys.extend((0u64..16).map(h));
    keys
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn prop_batched_matches_sequential_and_reference(batches in arb_batches()) {
        let mut store = MemoryNodes::new();
        let mut model = BTreeMap::new();
        let mut root_batched = EMPTY_ROOT;
        let mut root_single = EMPTY_ROOT;
        for batch in batches {
            // Proofs on the current tree for each single change.
            for (k, v) in &batch {
                let proof = prove(&store, root_batched, k).unwrap();
                prop_assert_eq!(proof.verify(root_batched, k).unwrap(), model.get(k).copied());
                let single = update(&store, root_batched, vec![(*k, *v)]).unwrap().root;
                prop_assert_eq!(proof.root_with(k, *v).unwrap(), single);
                prop_assert_eq!(Proof::decode(&proof.encode()).unwrap(), proof);
            }
            let res = update(&store, root_batched, batch.clone()).unwrap();
            let seq = update_sequential(&store, root_batched, batch.clone()).unwrap();
            prop_assert_eq!(&res, &seq);
            assert_stale_exact(&store, root_batched, &res);
            store.insert_all(res.new_nodes);
            root_batched = res.root;
            for (k, v) in &batch {
                let r = update(&store, root_single, vec![(*k, *v)]).unwrap();
                store.insert_all(r.new_nodes);
                root_single = r.root;
                match v {
                    Some(v) => { model.insert(*k, *v); }
                    None => { model.remove(k); }
                }
            }
            prop_assert_eq!(root_batched, root_single);
            prop_assert_eq!(root_batched, ref_root(&model));
            for k in pool() {
                let proof = prove(&store, root_batched, &k).unwrap();
                prop_assert_eq!(proof.verify(root_batched, &k).unwrap(), model.get(&k).copied());
                prop_assert_eq!(get(&store, root_batched, &k).unwrap(), model.get(&k).copied());
            }
        }
    }

    #[test]
    fn prop_root_with_matches_update(
        initial in proptest::collection::vec((arb_key(), (0u64..4).prop_map(h)), 0..40),
        k in arb_key(),
        v in proptest::option::of((0u64..6).prop_map(h)),
    ) {
        let mut store = MemoryNodes::new();
        let root = apply(&mut store, EMPTY_ROOT, initial.iter().map(|(k, v)| (*k, Some(*v))).collect());
        let proof = prove(&store, root, &k).unwrap();
        let expected = update(&store, root, vec![(k, v)]).unwrap().root;
        prop_assert_eq!(proof.root_with(&k, v).unwrap(), expected);
        let mut model: BTreeMap<_, _> = initial.into_iter().collect();
        match v {
            Some(v) => { model.insert(k, v); }
            None => { model.remove(&k); }
        }
        prop_assert_eq!(expected, ref_root(&model));
    }

    #[test]
    fn prop_tampered_proofs_fail(
        initial in proptest::collection::vec((arb_key(), (0u64..4).prop_map(h)), 1..40),
        k in arb_key(),
        pos in any::<prop::sample::Index>(),
        byte in 0usize..32,
    ) {
        let mut store = MemoryNodes::new();
        let root = apply(&mut store, EMPTY_ROOT, initial.iter().map(|(k, v)| (*k, Some(*v))).collect());
        let proof = prove(&store, root, &k).unwrap();
        prop_assert!(proof.verify(root, &k).is_ok());
        if !proof.siblings.is_empty() {
            let mut p = proof.clone();
            let i = pos.index(p.siblings.len());
            p.siblings[i].0[byte] ^= 0x01;
            prop_assert!(p.verify(root, &k).is_err());
            let mut p = proof.clone();
            p.siblings.truncate(i);
            prop_assert!(p.verify(root, &k).is_err());
        }
        if let Some((lk, lv)) = proof.leaf {
            let mut p = proof.clone();
            let mut lv2 = lv;
            lv2.0[byte] ^= 0x01;
            p.leaf = Some((lk, lv2));
            prop_assert!(p.verify(root, &k).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// Large random batches (6k changes on a 6k-leaf tree, keys clustered so
    /// subtrees are unbalanced): parallel == sequential == reference.
    #[test]
    fn prop_parallel_equals_sequential_large(seed in any::<u64>()) {
        let k = |i: u64| {
            let mut key = h(seed ^ i.wrapping_mul(0x9e37_79b9));
            key.0[0] &= 0x0f; // most keys share a 4-bit prefix
            key
        };
        let initial: Vec<Change> = (0..6_000).map(|i| (k(i), Some(h(i)))).collect();
        let store0 = MemoryNodes::new();
        let par = update(&store0, EMPTY_ROOT, initial.clone()).unwrap();
        prop_assert_eq!(&par, &update_sequential(&store0, EMPTY_ROOT, initial.clone()).unwrap());
        let mut model: BTreeMap<_, _> = initial.iter().map(|(k, v)| (*k, v.unwrap())).collect();
        prop_assert_eq!(par.root, ref_root(&model));
        let mut store = MemoryNodes::new();
        store.insert_all(par.new_nodes);
        let changes: Vec<Change> = (0..6_000u64)
            .map(|i| {
                let r = u64::from_be_bytes(h(seed.wrapping_add(i))[..8].try_into().unwrap());
                match r % 3 {
                    0 => (k(r % 6_000), None),
                    1 => (k(r % 6_000), Some(h(r))),
                    _ => (k(6_000 + r % 6_000), Some(h(r))),
                }
            })
            .collect();
        let p = update(&store, par.root, changes.clone()).unwrap();
        let s = update_sequential(&store, par.root, changes.clone()).unwrap();
        prop_assert_eq!(&p, &s);
        for (key, v) in &changes {
            match v {
                Some(v) => { model.insert(*key, *v); }
                None => { model.remove(key); }
            }
        }
        prop_assert_eq!(p.root, ref_root(&model));
    }
}
