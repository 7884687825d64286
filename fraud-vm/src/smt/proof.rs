//! Single-key proofs: generation, verification, single-path update, encoding.

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::codec::Reader;

use super::{
    common_prefix, first_diff_bit, key_bit, leaf_hash,
    node::NODE_ENCODED_LEN,
    ordered_hash,
    update::{read, too_deep},
    Node, NodeReader, SmtError, MAX_DEPTH,
};

/// Flag bit: the proof ends at a leaf.
const FLAG_LEAF: u8 = 0b01;
/// Flag bit: the proof carries the deepest sibling's preimage.
const FLAG_SIBLING_NODE: u8 = 0b10;

/// Merkle proof for one key (membership or absence). See the module
/// documentation for the exact semantics and canonical form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Proof {
    /// `siblings[d]` is the hash of the sibling subtree at depth `d + 1` along
    /// the key's path, from the root down; `siblings.len()` is the depth at
    /// which the path ends.
    pub siblings: Vec<B256>,
    /// The collapsed leaf `(key, value)` at the end of the path, `None` if the
    /// path ends in an empty subtree. A different key than the proven one
    /// proves absence.
    pub leaf: Option<(B256, B256)>,
    /// Preimage of the deepest sibling `siblings[len - 1]`; present exactly for
    /// membership proofs with a non-empty path. Needed to recompute the root
    /// after deleting the key (the sibling leaf may move up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sibling_node: Option<Node>,
}

/// Proves the value (or absence) of `key` in the tree at `root`.
pub fn prove<R: NodeReader>(reader: &R, root: B256, key: &B256) -> Result<Proof, SmtError> {
    let mut siblings = Vec::with_capacity(32);
    let mut hash = root;
    let leaf = loop {
        if hash.is_zero() {
            break None;
        }
        match read(reader, &hash)? {
            Node::Leaf { key, value } => break Some((key, value)),
            Node::Internal { left, right } => {
                let depth = siblings.len();
                if depth >= MAX_DEPTH {
                    return Err(too_deep(hash));
                }
                if key_bit(key, depth) {
                    siblings.push(left);
                    hash = right;
                } else {
                    siblings.push(right);
                    hash = left;
                }
            }
        }
    };
    let sibling_node = match (leaf, siblings.last()) {
        (Some((k, _)), Some(s)) if k == *key && !s.is_zero() => Some(read(reader, s)?),
        _ => None,
    };
    Ok(Proof {
        siblings,
        leaf,
        sibling_node,
    })
}

/// Bottom-up state of the single-path recomputation.
#[derive(Clone, Copy)]
enum PathSub {
    Empty,
    Leaf(B256),
    Node(B256),
}

impl Proof {
    /// The value the proof shows for `key` (`None` = absent), without checking
    /// it against a root.
    pub fn value(&self, key: &B256) -> Option<B256> {
        match self.leaf {
            Some((k, v)) if k == *key => Some(v),
            _ => None,
        }
    }

    /// Checks the canonical-form rules of the module documentation for `key`.
    pub fn check_canonical(&self, key: &B256) -> Result<(), SmtError> {
        let invalid = |msg: &str| Err(SmtError::InvalidProof(msg.to_string()));
        let d = self.siblings.len();
        if d > MAX_DEPTH {
            return invalid("more than 256 siblings");
        }
        if d > 0 && self.siblings[d - 1].is_zero() {
            return invalid("deepest sibling is ZERO");
        }
        let membership = match self.leaf {
            Some((k, _)) => {
                if !common_prefix(&k, key, d) {
                    return invalid("leaf is not on the key's path");
                }
                k == *key
            }
            None => false,
        };
        match (&self.sibling_node, membership && d > 0) {
            (None, false) => Ok(()),
            (None, true) => invalid("membership proof lacks the deepest sibling's node"),
            (Some(_), false) => invalid("unexpected sibling node"),
            (Some(node), true) => {
                if node.hash() != self.siblings[d - 1] {
                    return invalid("sibling node does not match the deepest sibling");
                }
                if let Node::Leaf { key: sk, .. } = node {
                    if !common_prefix(sk, key, d - 1) || key_bit(sk, d - 1) == key_bit(key, d - 1) {
                        return invalid("sibling leaf is not beside the key's path");
                    }
                }
                Ok(())
            }
        }
    }

    /// Root this proof implies if `key` held `value` instead (`None` = absent),
    /// everything else unchanged. Handles insert into an empty subtree,
    /// overwrite, delete (with re-collapse of a sibling leaf) and insert next to
    /// a different leaf. Does not check the proof against a root: call
    /// [`Proof::verify`] on the old root first.
    pub fn root_with(&self, key: &B256, value: Option<B256>) -> Result<B256, SmtError> {
        self.check_canonical(key)?;
        let d = self.siblings.len();
        let mut sub = match (self.leaf, value) {
            (None, None) => PathSub::Empty,
            (None, Some(v)) => PathSub::Leaf(leaf_hash(key, &v)),
            (Some((k, _)), Some(v)) if k == *key => PathSub::Leaf(leaf_hash(key, &v)),
            (Some((k, _)), None) if k == *key => PathSub::Empty,
            (Some((k, w)), None) => PathSub::Leaf(leaf_hash(&k, &w)),
            (Some((k, w)), Some(v)) => {
                // Checked above: k != key and they agree on the first d bits.
                let b = first_diff_bit(key, &k)
                    .ok_or_else(|| SmtError::InvalidProof("leaf key equals key".into()))?;
                let ours = leaf_hash(key, &v);
                let theirs = leaf_hash(&k, &w);
                let mut h = ordered_hash(&ours, &theirs, key_bit(key, b));
                for depth in (d..b).rev() {
                    h = ordered_hash(&h, &B256::ZERO, key_bit(key, depth));
                }
                PathSub::Node(h)
            }
        };
        for (depth, s) in self.siblings.iter().enumerate().rev() {
            let right = key_bit(key, depth);
            sub = match sub {
                PathSub::Empty if s.is_zero() => PathSub::Empty,
                PathSub::Empty => match &self.sibling_node {
                    Some(Node::Leaf { .. }) if depth + 1 == d => PathSub::Leaf(*s),
                    _ => PathSub::Node(ordered_hash(&B256::ZERO, s, right)),
                },
                PathSub::Leaf(h) if s.is_zero() => PathSub::Leaf(h),
                PathSub::Leaf(h) | PathSub::Node(h) => PathSub::Node(ordered_hash(&h, s, right)),
            };
        }
        Ok(match sub {
            PathSub::Empty => B256::ZERO,
            PathSub::Leaf(h) | PathSub::Node(h) => h,
        })
    }

    /// Verifies the proof against `root`; returns the value at `key` (`None` =
    /// proven absent). Errors if the proof is not canonical or does not hash to
    /// `root`.
    pub fn verify(&self, root: B256, key: &B256) -> Result<Option<B256>, SmtError> {
        let value = self.value(key);
        let computed = self.root_with(key, value)?;
        if computed != root {
            return Err(SmtError::RootMismatch {
                expected: root,
                computed,
            });
        }
        Ok(value)
    }

    /// The node-list form `eth_getProof` serves (the rollup node's `rpc` module docs): the
    /// siblings (32 bytes each, root first), then the leaf `key ‖ value` (64 bytes) if the
    /// path ends at one, then the deepest sibling's [`Node::encode`] (65 bytes) for a
    /// membership proof. The element lengths tell them apart.
    pub fn to_nodes(&self) -> Vec<Vec<u8>> {
        let mut nodes: Vec<Vec<u8>> = self.siblings.iter().map(|s| s.to_vec()).collect();
        if let Some((key, value)) = self.leaf {
            let mut leaf = key.to_vec();
            leaf.extend_from_slice(value.as_slice());
            nodes.push(leaf);
        }
        if let Some(node) = &self.sibling_node {
            nodes.push(node.encode());
        }
        nodes
    }

    /// Inverse of [`Proof::to_nodes`]: rejects elements of other lengths or out of order.
    pub fn from_nodes<T: AsRef<[u8]>>(nodes: &[T]) -> Result<Self, SmtError> {
        let mut proof = Proof::default();
        for node in nodes {
            let node = node.as_ref();
            match node.len() {
                32 if proof.leaf.is_none() && proof.sibling_node.is_none() => {
                    proof.siblings.push(B256::from_slice(node))
                }
                64 if proof.leaf.is_none() && proof.sibling_node.is_none() => {
                    proof.leaf =
                        Some((B256::from_slice(&node[..32]), B256::from_slice(&node[32..])))
                }
                NODE_ENCODED_LEN if proof.sibling_node.is_none() => {
                    proof.sibling_node = Some(Node::decode(node)?)
                }
                len => {
                    return Err(SmtError::Decode(format!(
                        "proof element of {len} bytes out of place"
                    )))
                }
            }
        }
        Ok(proof)
    }

    /// Compact byte encoding (see the module documentation): depth (u16 BE),
    /// flags, bitmap of non-ZERO siblings, those siblings, leaf, sibling node.
    pub fn encode(&self) -> Vec<u8> {
        let d = self.siblings.len();
        let nonzero = self.siblings.iter().filter(|s| !s.is_zero()).count();
        let mut out = Vec::with_capacity(3 + d.div_ceil(8) + 32 * nonzero + 64 + NODE_ENCODED_LEN);
        // Depth is at most 256 for any proof produced by `prove`; larger values
        // are clamped by u16 and rejected by `decode`.
        out.extend_from_slice(&u16::try_from(d).unwrap_or(u16::MAX).to_be_bytes());
        let mut flags = 0;
        if self.leaf.is_some() {
            flags |= FLAG_LEAF;
        }
        if self.sibling_node.is_some() {
            flags |= FLAG_SIBLING_NODE;
        }
        out.push(flags);
        let bitmap_start = out.len();
        out.resize(bitmap_start + d.div_ceil(8), 0);
        for (i, s) in self.siblings.iter().enumerate() {
            if !s.is_zero() {
                out[bitmap_start + i / 8] |= 0x80 >> (i % 8);
            }
        }
        for s in self.siblings.iter().filter(|s| !s.is_zero()) {
            out.extend_from_slice(s.as_slice());
        }
        if let Some((k, v)) = &self.leaf {
            out.extend_from_slice(k.as_slice());
            out.extend_from_slice(v.as_slice());
        }
        if let Some(node) = &self.sibling_node {
            node.encode_into(&mut out);
        }
        out
    }

    /// Decodes [`Proof::encode`]'s format; rejects every non-canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, SmtError> {
        let err = |msg: String| SmtError::Decode(msg);
        let mut r = Reader::new(bytes);
        let header = r.take(3, "proof header")?;
        let d = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if d > MAX_DEPTH {
            return Err(err(format!("proof depth {d} exceeds {MAX_DEPTH}")));
        }
        let flags = header[2];
        if flags & !(FLAG_LEAF | FLAG_SIBLING_NODE) != 0 {
            return Err(err(format!("unknown proof flags {flags:#04x}")));
        }
        let bitmap = r.take(d.div_ceil(8), "sibling bitmap")?;
        if d % 8 != 0 {
            if let Some(last) = bitmap.last() {
                if last & (0xff >> (d % 8)) != 0 {
                    return Err(err("non-zero padding bits in sibling bitmap".into()));
                }
            }
        }
        let mut siblings = Vec::with_capacity(d);
        for i in 0..d {
            if bitmap[i / 8] & (0x80 >> (i % 8)) != 0 {
                let s = B256::from_slice(r.take(32, "sibling")?);
                if s.is_zero() {
                    return Err(err("explicit ZERO sibling".into()));
                }
                siblings.push(s);
            } else {
                siblings.push(B256::ZERO);
            }
        }
        let leaf = if flags & FLAG_LEAF != 0 {
            let kv = r.take(64, "leaf")?;
            Some((B256::from_slice(&kv[..32]), B256::from_slice(&kv[32..])))
        } else {
            None
        };
        let sibling_node = if flags & FLAG_SIBLING_NODE != 0 {
            Some(Node::decode(r.take(NODE_ENCODED_LEN, "sibling node")?)?)
        } else {
            None
        };
        r.finish()?;
        Ok(Proof {
            siblings,
            leaf,
            sibling_node,
        })
    }
}
