//! # State commitment: keccak binary sparse Merkle tree (SMT)
//!
//! This module is consensus critical: an L1 (Solidity) verifier mirrors it. The
//! specification below is exactly what the code implements.
//!
//! ## Tree shape
//!
//! * Keys are 256-bit ([`B256`]). The tree is a binary trie over the key bits,
//!   most significant bit first: the bit used at depth `d` (`0 <= d < 256`) is
//!   `(key[d / 8] >> (7 - d % 8)) & 1` (see [`key_bit`]). Bit `0` goes left,
//!   bit `1` goes right. Depth 0 is the root.
//! * A leaf is a `(key, value)` pair; `value` is a [`B256`] chosen by the caller
//!   (typically the hash of the account/slot record).
//! * The hash of a subtree is defined by the number of leaves it holds:
//!   * **0 leaves**: `ZERO` (32 zero bytes). The root of the empty tree is `ZERO`.
//!   * **exactly 1 leaf** (the subtree is *collapsed*, whatever its depth):
//!     `leaf_hash = keccak256(0x00 || key || value)` (65-byte preimage).
//!   * **2 or more leaves**: `keccak256(left || right)` (64-byte preimage) where
//!     `left`/`right` are the hashes of the two child subtrees; one of them may be
//!     `ZERO`. Preimage lengths differ (64 vs 65), so an internal hash can never
//!     be confused with a leaf hash.
//!
//! Hence the tree is canonical: the root depends only on the set of
//! `(key, value)` pairs, never on insertion order. A leaf sits at the shallowest
//! depth at which its key is alone in its subtree, i.e. one below the longest
//! common prefix it shares with any other key.
//!
//! ## Storage
//!
//! Nodes are content addressed ([`Node`], keyed by [`Node::hash`]) in a
//! [`NodeReader`]. Only subtrees with at least one leaf are stored: an internal
//! node (2+ leaves) is `Node::Internal { left, right }`, a collapsed subtree is
//! `Node::Leaf { key, value }` (stored under its leaf hash, independent of
//! depth). `ZERO` is never looked up. [`update`] returns the nodes it created so
//! a block's writes can be persisted in one batch, and the old nodes the new
//! tree no longer holds ([`UpdateResult::stale_nodes`]). A store that never
//! deletes keeps every old root readable; one that keeps only recent roots may
//! delete a stale node once no root it serves holds it (the same node can be
//! created again later, when a subtree returns to an earlier content).
//!
//! Disk encoding of a node ([`Node::encode`]), always 65 bytes:
//! * leaf: `0x00 || key || value` (identical to the leaf hash preimage);
//! * internal: `0x01 || left || right`.
//!
//! ## Proofs
//!
//! A [`Proof`] for `key` lists the sibling hashes along the path of `key`, from
//! the root down: `siblings[d]` is the hash of the child at depth `d + 1` that
//! the path does *not* enter. The path ends (at depth `D = siblings.len()`) at
//! either a collapsed leaf (`leaf = Some((k, v))`: membership if `k == key`,
//! otherwise absence, because `k` is the only key in that subtree) or an empty
//! subtree (`leaf = None`: absence).
//!
//! Canonical-proof rules, checked by [`Proof::verify`] and [`Proof::root_with`]:
//! * `D <= 256`;
//! * if `D > 0`, `siblings[D - 1] != ZERO` (otherwise the parent would have
//!   been collapsed / empty and the path would end higher);
//! * if `leaf = Some((k, _))`, `k` agrees with `key` on its first `D` bits;
//! * `sibling_node` (the extra witness, below) is present **iff** the proof is a
//!   membership proof (`k == key`) with `D > 0`; it must then hash to
//!   `siblings[D - 1]`, and if it is a leaf its key must agree with `key` on the
//!   first `D - 1` bits and differ at bit `D - 1`.
//!
//! ### Extra witness (`sibling_node`)
//!
//! Recomputing a root after an *insert* or an *overwrite* needs only the
//! sibling hashes. A *delete* may re-collapse: if the deleted leaf's deepest
//! sibling `s = siblings[D - 1]` is itself a single leaf, that leaf moves up
//! (past all `ZERO` siblings) to the first depth with a non-`ZERO` sibling; if
//! `s` is an internal node, the parent simply becomes `keccak256(ZERO || s)` (or
//! `s || ZERO`). A hash alone does not tell which case applies, so a membership
//! proof with `D > 0` carries the **preimage of the deepest sibling**:
//! `Node::Leaf { key, value }` (65-byte preimage) or
//! `Node::Internal { left, right }` (64-byte preimage). Since the two preimage
//! lengths differ, a prover cannot pass a leaf off as an internal node or vice
//! versa. Only the deepest sibling can matter: once the bottom of the path is
//! non-empty it stays non-empty all the way up. Absence proofs never need it
//! (deleting an absent key changes nothing; inserting never collapses).
//!
//! ### Single-path root recomputation ([`Proof::root_with`])
//!
//! Let `D = siblings.len()`. Start with the bottom subtree at depth `D`:
//! * path ends empty, new value `None`: empty; new value `Some(v)`: leaf
//!   `(key, v)`;
//! * path ends at leaf `(key, _)`: new value `Some(v)`: leaf `(key, v)`;
//!   `None`: empty;
//! * path ends at leaf `(k, w)` with `k != key`: new value `None`: leaf `(k, w)`;
//!   `Some(v)`: let `b` be the first bit where `key` and `k` differ (`b >= D`);
//!   the node at depth `b` is `keccak256(leaf_hash(key, v) || leaf_hash(k, w))`
//!   ordered by `key`'s bit `b`, and for each depth from `b - 1` up to `D` it is
//!   hashed with a `ZERO` sibling on the side away from `key`.
//!
//! Then for `d = D - 1` down to `0`, with sibling `s = siblings[d]` placed on the
//! side opposite to bit `d` of `key`:
//! * bottom empty, `s == ZERO`: stays empty;
//! * bottom empty, `s != ZERO`, `d == D - 1` and `sibling_node` is a leaf: the
//!   subtree becomes that single leaf (hash `s`);
//! * bottom empty, `s != ZERO` otherwise: internal `keccak256(ZERO, s)` ordered;
//! * single leaf with `s == ZERO`: the leaf moves up unchanged;
//! * anything else: internal `keccak256(ours, s)` ordered by the bit.
//!
//! The root is the final hash (`ZERO` if empty).
//!
//! [`Proof::verify`]`(root, key)` checks the canonical-proof rules, then checks
//! that `root_with(key, shown)` equals `root`, where `shown` is `Some(v)` for a
//! membership proof and `None` otherwise; it returns `shown`. A fraud-proof or
//! L1 verifier verifies against the old root, then takes
//! `root_with(key, new_value)` as the new root.
//!
//! ### Proof byte encoding ([`Proof::encode`])
//!
//! ```text
//! depth      u16 big-endian, D = siblings.len() <= 256
//! flags      u8: bit 0 = leaf present, bit 1 = sibling_node present, others 0
//! bitmap     ceil(D / 8) bytes; bit for depth d is (bitmap[d / 8] >> (7 - d % 8)) & 1,
//!            1 = siblings[d] is non-ZERO and is included below; unused bits 0
//! siblings   32 bytes for each set bitmap bit, in depth order (never ZERO)
//! leaf       key (32) || value (32), if flagged
//! sibling    Node::encode (65 bytes), if flagged
//! ```
//! Decoding rejects any other length, unknown flags, non-zero padding bits and
//! explicit `ZERO` siblings, so every proof has exactly one encoding.
//!
//! ## Batched update
//!
//! [`update`] sorts the changes by key (stable; for duplicate keys the last
//! one wins) and then makes two passes over the part of the tree they touch,
//! so every shared upper node is read and rehashed once per batch:
//!
//! 1. *descend*, one depth at a time: each visited subtree gets the sorted
//!    slice of changes under it; an internal node splits its slice by the
//!    current key bit into its two children (a child without changes is kept
//!    as is); an empty subtree or a collapsed leaf ends the descent. All reads
//!    of a depth are independent and go through [`NodeReader::nodes`] in batches.
//! 2. *ascend*, deepest level first: an empty subtree or collapsed leaf is
//!    rebuilt from its live changes plus the existing leaf (unless a change
//!    overwrites or deletes it); an internal node is recombined from its
//!    children, re-collapsing so that a subtree with 0 leaves is `ZERO` and one
//!    with exactly 1 leaf is that leaf (this may need one extra read, to learn
//!    whether an untouched sibling is a single leaf).
//!
//! Large levels (and large rebuilds, via `rayon::join`) are processed in
//! parallel in fixed-size work units, so the result (root and the order of
//! `new_nodes`: children before parents) is identical to
//! [`update_sequential`].

#![deny(missing_docs)]

use alloy_primitives::{keccak256, B256};

mod node;
mod proof;
mod update;

#[cfg(test)]
mod tests;

pub use node::{MemoryNodes, Node, NodeReader, Overlay, NODE_ENCODED_LEN};
pub use proof::{prove, Proof};
pub use update::{get, update, update_sequential, Change, UpdateResult};

/// Root of the empty tree (and hash of any empty subtree).
pub const EMPTY_ROOT: B256 = B256::ZERO;

/// Maximum depth of the tree (number of key bits).
pub const MAX_DEPTH: usize = 256;

/// Errors of the sparse Merkle tree.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum SmtError {
    /// A node referenced by the tree is not in the store.
    #[error("missing SMT node {0}")]
    MissingNode(B256),
    /// A byte encoding (node or proof) is malformed.
    #[error("SMT decode error: {0}")]
    Decode(String),
    /// The backing store failed.
    #[error("SMT store error: {0}")]
    Store(String),
    /// The stored tree is structurally inconsistent (e.g. deeper than 256 levels).
    #[error("corrupt SMT: {0}")]
    Corrupt(String),
    /// A proof is not in canonical form or is inconsistent with the key.
    #[error("invalid SMT proof: {0}")]
    InvalidProof(String),
    /// A proof hashes to a different root than the expected one.
    #[error("SMT proof root mismatch: expected {expected}, computed {computed}")]
    RootMismatch {
        /// Root the proof was checked against.
        expected: B256,
        /// Root implied by the proof.
        computed: B256,
    },
}

impl From<crate::codec::DecodeError> for SmtError {
    fn from(e: crate::codec::DecodeError) -> Self {
        Self::Decode(e.to_string())
    }
}

/// Bit of `key` used at `depth` (0 = most significant bit of `key[0]`).
/// `false` = left, `true` = right.
///
/// # Panics
/// If `depth >= 256`.
#[inline]
pub fn key_bit(key: &B256, depth: usize) -> bool {
    (key[depth >> 3] >> (7 - (depth & 7))) & 1 == 1
}

/// Hash of a collapsed leaf: `keccak256(0x00 || key || value)`.
#[inline]
pub fn leaf_hash(key: &B256, value: &B256) -> B256 {
    let mut buf = [0u8; 65];
    buf[1..33].copy_from_slice(key.as_slice());
    buf[33..].copy_from_slice(value.as_slice());
    keccak256(buf)
}

/// Hash of an internal node: `keccak256(left || right)`.
#[inline]
pub fn internal_hash(left: &B256, right: &B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_slice());
    buf[32..].copy_from_slice(right.as_slice());
    keccak256(buf)
}

/// Hashes `ours` with `sibling`, placing `ours` on the right iff `ours_right`.
#[inline]
pub(crate) fn ordered_hash(ours: &B256, sibling: &B256, ours_right: bool) -> B256 {
    if ours_right {
        internal_hash(sibling, ours)
    } else {
        internal_hash(ours, sibling)
    }
}

/// Whether `a` and `b` agree on their first `bits` bits.
pub(crate) fn common_prefix(a: &B256, b: &B256, bits: usize) -> bool {
    let full = bits / 8;
    if a[..full] != b[..full] {
        return false;
    }
    let rem = bits % 8;
    if rem == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rem);
    (a[full] ^ b[full]) & mask == 0
}

/// Index of the first bit where `a` and `b` differ, `None` if equal.
pub(crate) fn first_diff_bit(a: &B256, b: &B256) -> Option<usize> {
    a.iter()
        .zip(b.iter())
        .position(|(x, y)| x != y)
        .map(|i| i * 8 + (a[i] ^ b[i]).leading_zeros() as usize)
}
