//! Stored nodes and node stores.

use alloy_primitives::{map::B256Map, B256};
use serde::{Deserialize, Serialize};

use super::{internal_hash, leaf_hash, SmtError};

/// Tag byte of an encoded leaf node.
const TAG_LEAF: u8 = 0x00;
/// Tag byte of an encoded internal node.
const TAG_INTERNAL: u8 = 0x01;
/// Length of every encoded node.
pub const NODE_ENCODED_LEN: usize = 65;

/// A stored tree node, addressed by [`Node::hash`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Node {
    /// A subtree holding two or more leaves; children may be `ZERO` (empty).
    Internal {
        /// Hash of the left (bit 0) child subtree.
        left: B256,
        /// Hash of the right (bit 1) child subtree.
        right: B256,
    },
    /// A subtree holding exactly one leaf (collapsed, at any depth).
    Leaf {
        /// The leaf's key.
        key: B256,
        /// The leaf's value (the caller's value hash).
        value: B256,
    },
}

impl Node {
    /// The node's hash: `keccak256(left || right)` or `keccak256(0x00 || key || value)`.
    pub fn hash(&self) -> B256 {
        match self {
            Node::Internal { left, right } => internal_hash(left, right),
            Node::Leaf { key, value } => leaf_hash(key, value),
        }
    }

    /// Compact 65-byte encoding: `0x00 || key || value` for a leaf,
    /// `0x01 || left || right` for an internal node.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(NODE_ENCODED_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding of [`Node::encode`] to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (tag, a, b) = match self {
            Node::Internal { left, right } => (TAG_INTERNAL, left, right),
            Node::Leaf { key, value } => (TAG_LEAF, key, value),
        };
        out.push(tag);
        out.extend_from_slice(a.as_slice());
        out.extend_from_slice(b.as_slice());
    }

    /// Decodes the encoding of [`Node::encode`]; rejects any other length or tag.
    pub fn decode(bytes: &[u8]) -> Result<Node, SmtError> {
        if bytes.len() != NODE_ENCODED_LEN {
            return Err(SmtError::Decode(format!(
                "node encoding must be {NODE_ENCODED_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        let a = B256::from_slice(&bytes[1..33]);
        let b = B256::from_slice(&bytes[33..65]);
        match bytes[0] {
            TAG_LEAF => Ok(Node::Leaf { key: a, value: b }),
            TAG_INTERNAL => Ok(Node::Internal { left: a, right: b }),
            tag => Err(SmtError::Decode(format!("unknown node tag {tag:#04x}"))),
        }
    }

    /// Decodes a node encoding followed by other bytes (a store's record that keeps more
    /// next to the node); returns the node and those bytes.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(Node, &[u8]), SmtError> {
        if bytes.len() < NODE_ENCODED_LEN {
            return Err(SmtError::Decode(format!(
                "node encoding must be {NODE_ENCODED_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        let (node, rest) = bytes.split_at(NODE_ENCODED_LEN);
        Ok((Node::decode(node)?, rest))
    }
}

/// Read access to a content-addressed node store.
pub trait NodeReader: Sync {
    /// The node whose [`Node::hash`] is `hash`, `None` if not stored.
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError>;

    /// Batch read: one entry per hash, in order. [`update`](super::update)
    /// reads the tree one depth at a time through this method, so a store can
    /// serve a whole level at once (e.g. a database multi-get). The default
    /// calls [`NodeReader::node`] for each hash; the lookups are independent,
    /// so their memory latencies overlap.
    fn nodes(&self, hashes: &[B256]) -> Result<Vec<Option<Node>>, SmtError> {
        hashes.iter().map(|hash| self.node(hash)).collect()
    }
}

impl<T: NodeReader + ?Sized> NodeReader for &T {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        (**self).node(hash)
    }

    fn nodes(&self, hashes: &[B256]) -> Result<Vec<Option<Node>>, SmtError> {
        (**self).nodes(hashes)
    }
}

/// In-memory node store (tests, benchmarks, caches).
#[derive(Clone, Debug, Default)]
pub struct MemoryNodes {
    nodes: B256Map<Node>,
}

impl MemoryNodes {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts one node under `hash` (which must be `node.hash()`).
    pub fn insert(&mut self, hash: B256, node: Node) {
        debug_assert_eq!(hash, node.hash());
        self.nodes.insert(hash, node);
    }

    /// Inserts all nodes, e.g. [`UpdateResult::new_nodes`](super::UpdateResult::new_nodes).
    pub fn insert_all(&mut self, nodes: impl IntoIterator<Item = (B256, Node)>) {
        let nodes = nodes.into_iter();
        self.nodes.reserve(nodes.size_hint().0);
        for (hash, node) in nodes {
            self.insert(hash, node);
        }
    }

    /// The node stored under `hash`.
    pub fn get(&self, hash: &B256) -> Option<&Node> {
        self.nodes.get(hash)
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeReader for MemoryNodes {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        Ok(self.nodes.get(hash).copied())
    }
}

/// New nodes layered over a base store: reads look at the overlay first,
/// then at `base`. Handy to chain several updates before persisting them.
#[derive(Debug)]
pub struct Overlay<'a, R> {
    base: &'a R,
    nodes: B256Map<Node>,
}

impl<'a, R: NodeReader> Overlay<'a, R> {
    /// An empty overlay over `base`.
    pub fn new(base: &'a R) -> Self {
        Self {
            base,
            nodes: B256Map::default(),
        }
    }

    /// The underlying store.
    pub fn base(&self) -> &'a R {
        self.base
    }

    /// Adds nodes (e.g. [`UpdateResult::new_nodes`](super::UpdateResult::new_nodes)) to the overlay.
    pub fn insert_all(&mut self, nodes: impl IntoIterator<Item = (B256, Node)>) {
        let nodes = nodes.into_iter();
        self.nodes.reserve(nodes.size_hint().0);
        for (hash, node) in nodes {
            debug_assert_eq!(hash, node.hash());
            self.nodes.insert(hash, node);
        }
    }

    /// Number of nodes held by the overlay (not counting the base).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the overlay holds no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The overlay's nodes, to be persisted (unspecified order).
    pub fn into_nodes(self) -> Vec<(B256, Node)> {
        self.nodes.into_iter().collect()
    }
}

impl<R: NodeReader> NodeReader for Overlay<'_, R> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        match self.nodes.get(hash) {
            Some(node) => Ok(Some(*node)),
            None => self.base.node(hash),
        }
    }
}
