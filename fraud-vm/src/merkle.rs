//! Binary keccak Merkle trees over 32-byte leaves, with zero-filled padding.
//!
//! Used for every byte-array commitment of the chain and the step machine: contract code (chunks,
//! see [`crate::code`]), EVM memory, call data and return data (32-byte words, see
//! [`crate::vm`]). A tree of depth `d` has `2^d` leaf positions; a leaf is the 32-byte value itself
//! (not hashed: the depth is fixed per tree, so a leaf position is never confused with a node);
//! an internal node is `keccak256(left ‖ right)`; absent leaves are zero, so the root of an
//! all-zero subtree of height `h` is [`zero_hash`]`(h)` with `zero_hash(0) = 0` and
//! `zero_hash(h + 1) = keccak256(zero_hash(h) ‖ zero_hash(h))`.
//!
//! A path for leaf `i` lists the sibling hashes from the leaf level up (`path[0]` is the sibling
//! leaf, `path[d - 1]` the root's other child); bit `h` of `i` says whether the node at height `h`
//! is a right child.
//!
//! A range proof for `count` consecutive leaves from `first` lists, level by level from the
//! leaves up, the left neighbour of the range's first node if that node is a right child and
//! the right neighbour of its last node if that node is a left child: at most two hashes per
//! level, however long the range ([`range_siblings`], [`root_from_range`]).

use std::sync::OnceLock;

use alloy_primitives::{keccak256, B256};

/// Depth of the memory, call data and return data word trees (`2^24` words = 512 MiB).
pub const DATA_DEPTH: usize = 24;

/// Words of a byte string, zero-padded.
pub fn words(bytes: &[u8]) -> Vec<B256> {
    bytes
        .chunks(32)
        .map(|c| {
            let mut w = [0u8; 32];
            w[..c.len()].copy_from_slice(c);
            B256::from(w)
        })
        .collect()
}

/// Root of the word tree (depth [`DATA_DEPTH`]) of `bytes`: memory, call data, return data.
pub fn data_root(bytes: &[u8]) -> B256 {
    root(&words(bytes), DATA_DEPTH)
}

/// Deepest tree any commitment uses (memory and data trees).
pub const MAX_DEPTH: usize = 32;

/// `keccak256(left ‖ right)`.
pub fn hash_pair(left: &B256, right: &B256) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(left.as_slice());
    preimage[32..].copy_from_slice(right.as_slice());
    keccak256(preimage)
}

/// Root of an all-zero subtree of the given height (`0..=MAX_DEPTH`).
pub fn zero_hash(height: usize) -> B256 {
    static ZEROS: OnceLock<Vec<B256>> = OnceLock::new();
    let zeros = ZEROS.get_or_init(|| {
        let mut zeros = vec![B256::ZERO];
        for h in 0..MAX_DEPTH {
            zeros.push(hash_pair(&zeros[h], &zeros[h]));
        }
        zeros
    });
    zeros[height]
}

/// All levels of a tree of `depth` over `leaves` (positions past the end are zero): `levels[0]`
/// are the leaves, `levels[depth]` holds the root. Levels keep only the non-padding prefix, so
/// building costs about `2 × leaves.len() + depth` hashes.
pub fn levels(leaves: &[B256], depth: usize) -> Vec<Vec<B256>> {
    assert!(depth <= MAX_DEPTH, "merkle depth {depth} above {MAX_DEPTH}");
    let mut levels = vec![leaves.to_vec()];
    for h in 0..depth {
        let below = &levels[h];
        let next: Vec<B256> = below
            .chunks(2)
            .map(|pair| hash_pair(&pair[0], pair.get(1).unwrap_or(&zero_hash(h))))
            .collect();
        levels.push(next);
    }
    levels
}

/// The root of a tree of `depth` over `leaves`.
pub fn root(leaves: &[B256], depth: usize) -> B256 {
    levels(leaves, depth)[depth]
        .first()
        .copied()
        .unwrap_or_else(|| zero_hash(depth))
}

/// The sibling path of leaf `index` in a tree built by [`levels`].
pub fn path(levels: &[Vec<B256>], index: u64) -> Vec<B256> {
    let depth = levels.len() - 1;
    (0..depth)
        .map(|h| {
            let sibling = ((index >> h) ^ 1) as usize;
            levels[h].get(sibling).copied().unwrap_or(zero_hash(h))
        })
        .collect()
}

/// The root implied by `leaf` sitting at `index` with sibling `path` (leaf level first).
pub fn root_from_path(leaf: &B256, index: u64, path: &[B256]) -> B256 {
    let mut node = *leaf;
    for (h, sibling) in path.iter().enumerate() {
        node = if (index >> h) & 1 == 1 {
            hash_pair(sibling, &node)
        } else {
            hash_pair(&node, sibling)
        };
    }
    node
}

/// Sets leaf `index` of a tree built by [`levels`] to `value` and rehashes its path.
pub fn set_leaf(levels: &mut [Vec<B256>], index: u64, value: B256) {
    let depth = levels.len() - 1;
    let mut node = value;
    for (h, level) in levels.iter_mut().enumerate() {
        let i = (index >> h) as usize;
        if level.len() <= i {
            level.resize(i + 1, zero_hash(h));
        }
        level[i] = node;
        if h < depth {
            let sibling = level.get(i ^ 1).copied().unwrap_or_else(|| zero_hash(h));
            node = if i & 1 == 1 {
                hash_pair(&sibling, &node)
            } else {
                hash_pair(&node, &sibling)
            };
        }
    }
}

/// The boundary siblings proving leaves `first .. first + count` (`count > 0`) of a tree built
/// by [`levels`] (see the module docs for their order).
pub fn range_siblings(levels: &[Vec<B256>], first: u64, count: u64) -> Vec<B256> {
    let depth = levels.len() - 1;
    let at = |h: usize, i: u64| {
        levels[h]
            .get(i as usize)
            .copied()
            .unwrap_or_else(|| zero_hash(h))
    };
    let (mut a, mut b) = (first, first + count - 1);
    let mut out = Vec::new();
    for h in 0..depth {
        if a & 1 == 1 {
            out.push(at(h, a - 1));
        }
        if b & 1 == 0 {
            out.push(at(h, b + 1));
        }
        a >>= 1;
        b >>= 1;
    }
    out
}

/// The root of a depth-`depth` tree whose leaves `first ..` are `leaves` (not empty), given
/// the range's boundary `siblings`; `None` if the siblings are too few or too many or the
/// range does not fit the tree.
pub fn root_from_range(
    leaves: &[B256],
    first: u64,
    siblings: &[B256],
    depth: usize,
) -> Option<B256> {
    let end = first.checked_add(leaves.len() as u64)?;
    if leaves.is_empty() || depth > MAX_DEPTH || end > 1u64 << depth {
        return None;
    }
    let mut nodes = leaves.to_vec();
    let mut a = first;
    let mut next = siblings.iter();
    for _ in 0..depth {
        let mut level = Vec::with_capacity(nodes.len() + 2);
        if a & 1 == 1 {
            level.push(*next.next()?);
            a -= 1;
        }
        level.extend_from_slice(&nodes);
        if level.len() % 2 == 1 {
            level.push(*next.next()?);
        }
        nodes = level.chunks(2).map(|p| hash_pair(&p[0], &p[1])).collect();
        a >>= 1;
    }
    if next.next().is_some() {
        return None;
    }
    nodes.first().copied()
}

/// Smallest depth whose tree holds `count` leaves (`0` for one leaf or none).
pub fn depth_for(count: usize) -> usize {
    count.max(1).next_power_of_two().trailing_zeros() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lead_to_the_root() {
        let leaves: Vec<B256> = (1..=11u8).map(B256::repeat_byte).collect();
        for depth in 4..7 {
            let lv = levels(&leaves, depth);
            let r = root(&leaves, depth);
            let width = 1u64 << depth;
            for first in 0..width {
                for count in 1..=(width - first).min(14) {
                    let words: Vec<B256> = (first..first + count)
                        .map(|i| leaves.get(i as usize).copied().unwrap_or_default())
                        .collect();
                    let siblings = range_siblings(&lv, first, count);
                    assert!(siblings.len() <= 2 * depth);
                    assert_eq!(root_from_range(&words, first, &siblings, depth), Some(r));
                    // A changed word, a missing or extra sibling, a shifted range: not the root.
                    let mut bad = words.clone();
                    bad[0].0[0] ^= 1;
                    assert_ne!(root_from_range(&bad, first, &siblings, depth), Some(r));
                    if let Some((_, fewer)) = siblings.split_last() {
                        assert_eq!(root_from_range(&words, first, fewer, depth), None);
                    }
                    let mut more = siblings.clone();
                    more.push(B256::ZERO);
                    assert_eq!(root_from_range(&words, first, &more, depth), None);
                    if first + count < width && words.iter().any(|w| !w.is_zero()) {
                        assert_ne!(
                            root_from_range(&words, first + 1, &siblings, depth),
                            Some(r),
                            "range {first}+{count} shifted"
                        );
                    }
                }
            }
        }
        assert_eq!(root_from_range(&[], 0, &[], 3), None);
        assert_eq!(root_from_range(&[B256::ZERO; 2], 7, &[], 3), None);
    }

    #[test]
    fn paths_lead_to_the_root() {
        let leaves: Vec<B256> = (1..=5u8).map(B256::repeat_byte).collect();
        for depth in 3..6 {
            let lv = levels(&leaves, depth);
            let r = root(&leaves, depth);
            for i in 0..8u64 {
                let leaf = leaves.get(i as usize).copied().unwrap_or_default();
                assert_eq!(root_from_path(&leaf, i, &path(&lv, i)), r);
            }
        }
        // Explicit zero padding gives the same root as implicit padding.
        let mut padded = leaves.clone();
        padded.resize(8, B256::ZERO);
        assert_eq!(root(&padded, 3), root(&leaves, 3));
        assert_eq!(root(&[], 4), zero_hash(4));
        // Setting a leaf (inside or past the built prefix) matches a rebuild.
        let mut lv = levels(&leaves, 4);
        set_leaf(&mut lv, 11, B256::repeat_byte(9));
        set_leaf(&mut lv, 2, B256::repeat_byte(8));
        let mut rebuilt = leaves.clone();
        rebuilt.resize(12, B256::ZERO);
        rebuilt[11] = B256::repeat_byte(9);
        rebuilt[2] = B256::repeat_byte(8);
        assert_eq!(lv[4][0], root(&rebuilt, 4));
        assert_eq!(path(&lv, 11), path(&levels(&rebuilt, 4), 11));
        assert_eq!(depth_for(1), 0);
        assert_eq!(depth_for(3), 2);
        assert_eq!(depth_for(4), 2);
    }
}
