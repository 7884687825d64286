//! Batched update and point lookup.

use std::mem;

use alloy_primitives::B256;
use rayon::slice::ParallelSliceMut;

use super::{internal_hash, key_bit, leaf_hash, Node, NodeReader, SmtError, MAX_DEPTH};

/// One change: `(key, Some(value))` sets the key, `(key, None)` deletes it.
pub type Change = (B256, Option<B256>);

/// Result of [`update`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateResult {
    /// The new root.
    pub root: B256,
    /// Every node created by the update, children before parents (to be
    /// persisted; existing nodes are never deleted). May contain nodes that are
    /// already stored (e.g. when a value is rewritten unchanged).
    pub new_nodes: Vec<(B256, Node)>,
}

/// Minimum number of changes in a sub-batch to process its two halves in parallel.
const PAR_MIN_CHANGES: usize = 256;
/// Parallel splitting happens only above this depth.
const PAR_MAX_DEPTH: usize = 24;
/// Sort the batch in parallel above this many changes.
const PAR_SORT_MIN: usize = 8192;

/// Batched update: applies all `changes` (`None` = delete; for duplicate keys
/// the last one wins) to the tree at `root`.
///
/// Returns the new root and every node created (to be persisted). Nodes are
/// never deleted. Large batches use rayon; the result is identical to
/// [`update_sequential`].
pub fn update<R: NodeReader>(
    reader: &R,
    root: B256,
    changes: Vec<Change>,
) -> Result<UpdateResult, SmtError> {
    update_impl(reader, root, changes, true)
}

/// Single-threaded [`update`]; returns exactly the same result (root and
/// `new_nodes`, in the same order).
pub fn update_sequential<R: NodeReader>(
    reader: &R,
    root: B256,
    changes: Vec<Change>,
) -> Result<UpdateResult, SmtError> {
    update_impl(reader, root, changes, false)
}

/// The value stored at `key` in the tree at `root` (`None` = absent).
pub fn get<R: NodeReader>(reader: &R, root: B256, key: &B256) -> Result<Option<B256>, SmtError> {
    let mut hash = root;
    let mut depth = 0;
    loop {
        if hash.is_zero() {
            return Ok(None);
        }
        match read(reader, &hash)? {
            Node::Leaf { key: k, value } => return Ok((k == *key).then_some(value)),
            Node::Internal { left, right } => {
                if depth >= MAX_DEPTH {
                    return Err(too_deep(hash));
                }
                hash = if key_bit(key, depth) { right } else { left };
                depth += 1;
            }
        }
    }
}

pub(crate) fn read<R: NodeReader>(reader: &R, hash: &B256) -> Result<Node, SmtError> {
    reader.node(hash)?.ok_or(SmtError::MissingNode(*hash))
}

pub(crate) fn too_deep(hash: B256) -> SmtError {
    SmtError::Corrupt(format!("internal node {hash} below depth {MAX_DEPTH}"))
}

fn update_impl<R: NodeReader>(
    reader: &R,
    root: B256,
    mut changes: Vec<Change>,
    parallel: bool,
) -> Result<UpdateResult, SmtError> {
    if changes.is_empty() {
        return Ok(UpdateResult {
            root,
            new_nodes: Vec::new(),
        });
    }
    // Stable sort keeps duplicates in input order; dedup keeps the last value.
    if parallel && changes.len() >= PAR_SORT_MIN {
        changes.par_sort_by_key(|c| c.0);
    } else {
        changes.sort_by_key(|c| c.0);
    }
    changes.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = later.1;
            true
        } else {
            false
        }
    });

    let ctx = Ctx { reader, parallel };
    let mut sink = Sink::with_capacity(estimate_nodes(changes.len()));
    let sub = ctx.apply(root, 0, &changes, &mut sink)?;
    Ok(UpdateResult {
        root: sub.hash(),
        new_nodes: sink.finish(),
    })
}

/// Rough number of nodes created by `n` changes (avoids most reallocations).
fn estimate_nodes(n: usize) -> usize {
    n.saturating_mul(4).saturating_add(16)
}

/// Result of updating a subtree.
#[derive(Clone, Copy, Debug)]
enum Sub {
    /// No leaves.
    Empty,
    /// Exactly one leaf (collapsed), with this leaf hash.
    Leaf(B256),
    /// Two or more leaves, with this hash.
    Node(B256),
    /// Untouched existing non-empty subtree; leaf count not looked up yet.
    Unchanged(B256),
}

impl Sub {
    fn hash(&self) -> B256 {
        match self {
            Sub::Empty => B256::ZERO,
            Sub::Leaf(hash) | Sub::Node(hash) | Sub::Unchanged(hash) => *hash,
        }
    }
}

/// Output buffer for new nodes; parallel branches hand over whole chunks so
/// nodes are copied once, and the final order equals the sequential order.
struct Sink {
    cur: Vec<(B256, Node)>,
    done: Vec<Vec<(B256, Node)>>,
}

impl Sink {
    fn with_capacity(cap: usize) -> Self {
        Self {
            cur: Vec::with_capacity(cap),
            done: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, hash: B256, node: Node) {
        self.cur.push((hash, node));
    }

    /// Appends everything `other` collected after what `self` collected.
    fn absorb(&mut self, mut other: Sink) {
        let prev = mem::replace(&mut self.cur, other.cur);
        if !prev.is_empty() {
            self.done.push(prev);
        }
        self.done.append(&mut other.done);
    }

    fn finish(self) -> Vec<(B256, Node)> {
        if self.done.is_empty() {
            return self.cur;
        }
        let total = self.done.iter().map(Vec::len).sum::<usize>() + self.cur.len();
        let mut out = Vec::with_capacity(total);
        for chunk in self.done {
            out.extend(chunk);
        }
        out.extend(self.cur);
        out
    }
}

struct Ctx<'r, R> {
    reader: &'r R,
    parallel: bool,
}

/// Index of the first change whose key has bit `depth` set (slice is sorted).
#[inline]
fn split(changes: &[Change], depth: usize) -> usize {
    changes.partition_point(|(k, _)| !key_bit(k, depth))
}

impl<R: NodeReader> Ctx<'_, R> {
    fn go_parallel(&self, len: usize, depth: usize) -> bool {
        self.parallel && len >= PAR_MIN_CHANGES && depth < PAR_MAX_DEPTH
    }

    /// Runs `f(left)` and `g(right)`, in parallel if worthwhile; nodes land in
    /// `sink` in the order left's, then right's.
    fn both<A, B>(
        &self,
        len: usize,
        depth: usize,
        sink: &mut Sink,
        right_len: usize,
        f: A,
        g: B,
    ) -> Result<(Sub, Sub), SmtError>
    where
        A: FnOnce(&mut Sink) -> Result<Sub, SmtError> + Send,
        B: FnOnce(&mut Sink) -> Result<Sub, SmtError> + Send,
    {
        if self.go_parallel(len, depth) {
            let mut right_sink = Sink::with_capacity(estimate_nodes(right_len));
            let (l, r) = rayon::join(|| f(sink), || g(&mut right_sink));
            let (l, r) = (l?, r?);
            sink.absorb(right_sink);
            Ok((l, r))
        } else {
            let l = f(sink)?;
            let r = g(sink)?;
            Ok((l, r))
        }
    }

    /// Applies the non-empty sorted `changes` to the existing subtree `hash`
    /// at `depth`.
    fn apply(
        &self,
        hash: B256,
        depth: usize,
        changes: &[Change],
        sink: &mut Sink,
    ) -> Result<Sub, SmtError> {
        if changes.is_empty() {
            return Ok(if hash.is_zero() {
                Sub::Empty
            } else {
                Sub::Unchanged(hash)
            });
        }
        if hash.is_zero() {
            return self.build(changes, None, depth, sink);
        }
        match read(self.reader, &hash)? {
            Node::Leaf { key, .. } => {
                let overwritten = changes.binary_search_by(|(k, _)| k.cmp(&key)).is_ok();
                let existing = (!overwritten).then_some(ExistingLeaf { key, hash });
                self.build(changes, existing, depth, sink)
            }
            Node::Internal { left, right } => {
                if depth >= MAX_DEPTH {
                    return Err(too_deep(hash));
                }
                let mid = split(changes, depth);
                let (lc, rc) = changes.split_at(mid);
                let (ls, rs) = if lc.is_empty() || rc.is_empty() {
                    (
                        self.apply(left, depth + 1, lc, sink)?,
                        self.apply(right, depth + 1, rc, sink)?,
                    )
                } else {
                    self.both(
                        changes.len(),
                        depth,
                        sink,
                        rc.len(),
                        |s| self.apply(left, depth + 1, lc, s),
                        |s| self.apply(right, depth + 1, rc, s),
                    )?
                };
                let same = |sub: &Sub, old: B256| match sub {
                    Sub::Unchanged(_) => true,
                    Sub::Empty => old.is_zero(),
                    _ => false,
                };
                if same(&ls, left) && same(&rs, right) {
                    return Ok(Sub::Unchanged(hash));
                }
                self.combine(ls, rs, sink)
            }
        }
    }

    /// Builds the subtree at `depth` that holds the live (`Some`) entries of
    /// `changes` plus `existing` (whose key is not in `changes`).
    fn build(
        &self,
        changes: &[Change],
        existing: Option<ExistingLeaf>,
        depth: usize,
        sink: &mut Sink,
    ) -> Result<Sub, SmtError> {
        let mut live = changes.iter().filter_map(|(k, v)| v.map(|v| (*k, v)));
        let first = live.next();
        match (existing, first) {
            (None, None) => return Ok(Sub::Empty),
            (Some(e), None) => return Ok(Sub::Leaf(e.hash)),
            (None, Some((key, value))) if live.next().is_none() => {
                let hash = leaf_hash(&key, &value);
                sink.push(hash, Node::Leaf { key, value });
                return Ok(Sub::Leaf(hash));
            }
            _ => {}
        }
        // Two or more leaves: split.
        if depth >= MAX_DEPTH {
            return Err(SmtError::Corrupt("two leaves with the same key".into()));
        }
        let mid = split(changes, depth);
        let (lc, rc) = changes.split_at(mid);
        let (le, re) = match existing {
            Some(e) if key_bit(&e.key, depth) => (None, Some(e)),
            e => (e, None),
        };
        let (ls, rs) = if lc.is_empty() || rc.is_empty() {
            (
                self.build(lc, le, depth + 1, sink)?,
                self.build(rc, re, depth + 1, sink)?,
            )
        } else {
            self.both(
                changes.len(),
                depth,
                sink,
                rc.len(),
                |s| self.build(lc, le, depth + 1, s),
                |s| self.build(rc, re, depth + 1, s),
            )?
        };
        self.combine(ls, rs, sink)
    }

    /// Turns an [`Sub::Unchanged`] into a `Leaf` or `Node` by reading it.
    fn resolve(&self, sub: Sub) -> Result<Sub, SmtError> {
        match sub {
            Sub::Unchanged(hash) => match read(self.reader, &hash)? {
                Node::Leaf { .. } => Ok(Sub::Leaf(hash)),
                Node::Internal { .. } => Ok(Sub::Node(hash)),
            },
            other => Ok(other),
        }
    }

    /// Parent of two updated children, re-collapsing single leaves.
    fn combine(&self, l: Sub, r: Sub, sink: &mut Sink) -> Result<Sub, SmtError> {
        let (l, r) = match (l, r) {
            (Sub::Empty, Sub::Empty) => return Ok(Sub::Empty),
            (Sub::Empty, r) => (Sub::Empty, self.resolve(r)?),
            (l, Sub::Empty) => (self.resolve(l)?, Sub::Empty),
            other => other,
        };
        match (&l, &r) {
            (Sub::Empty, Sub::Leaf(_)) => return Ok(r),
            (Sub::Leaf(_), Sub::Empty) => return Ok(l),
            _ => {}
        }
        let (left, right) = (l.hash(), r.hash());
        let hash = internal_hash(&left, &right);
        sink.push(hash, Node::Internal { left, right });
        Ok(Sub::Node(hash))
    }
}

/// A leaf already in the store that must be kept while rebuilding its subtree.
#[derive(Clone, Copy, Debug)]
struct ExistingLeaf {
    key: B256,
    hash: B256,
}
