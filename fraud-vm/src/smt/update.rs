//! Batched update and point lookup.

use std::{mem, ops::Range};

use alloy_primitives::B256;
use rayon::prelude::*;

use super::{internal_hash, key_bit, leaf_hash, Node, NodeReader, SmtError, MAX_DEPTH};

/// One change: `(key, Some(value))` sets the key, `(key, None)` deletes it.
pub type Change = (B256, Option<B256>);

/// Result of [`update`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateResult {
    /// The new root.
    pub root: B256,
    /// Every node of the new tree that the old tree does not hold, children
    /// before parents (to be persisted; existing nodes are never deleted). A key
    /// set to the value it holds creates nothing.
    pub new_nodes: Vec<(B256, Node)>,
    /// Hashes of the nodes of the old tree that the new tree no longer holds
    /// (replaced internal nodes, overwritten or deleted leaves), none of them in
    /// `new_nodes`. A store that keeps only recent states may delete them once no
    /// state it still serves needs them; this list does not affect the root.
    pub stale_nodes: Vec<B256>,
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
            ..UpdateResult::default()
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
    let levels = ctx.descend(root, &changes)?;
    ctx.ascend(&levels, &changes)
}

/// Rough number of nodes created by `n` changes (avoids most reallocations).
fn estimate_nodes(n: usize) -> usize {
    n.saturating_mul(4).saturating_add(16)
}

/// An existing subtree at some depth that receives the non-empty change range
/// `lo..hi`.
#[derive(Clone, Copy, Debug)]
struct Visit {
    /// Hash of the existing subtree (`ZERO` = empty).
    hash: B256,
    lo: usize,
    hi: usize,
}

/// What to do with a [`Visit`] once its node is read.
#[derive(Clone, Copy, Debug)]
enum Plan {
    /// Empty subtree or collapsed leaf: rebuild it from the changes and the
    /// existing leaf (whose hash is the visit's hash), which is kept unless a
    /// change overwrites its key.
    Build(Option<Leaf>),
    /// Internal node: combine the two children after they are updated. A
    /// child is either the next level's visit at that index, or [`KEEP`]:
    /// untouched, with hash `kept` (at most one child is untouched).
    Branch { left: u32, right: u32, kept: B256 },
}

/// The existing leaf of a [`Plan::Build`].
#[derive(Clone, Copy, Debug)]
struct Leaf {
    key: B256,
    value: B256,
    /// Index (into the batch) of the change that sets or deletes this key, if any.
    overwritten_by: Option<usize>,
}

/// Marks the untouched child of a [`Plan::Branch`].
const KEEP: u32 = u32::MAX;

/// The visits of one depth and their plans (same indices).
struct Level {
    visits: Vec<Visit>,
    plans: Vec<Plan>,
}

/// New subtree states of a run of visits, the nodes they created and the old
/// nodes they replaced.
type AscendPart = (Vec<Sub>, Vec<Vec<(B256, Node)>>, Vec<B256>);

/// Visits per work unit when a level is processed in parallel; fixed so the
/// output order never depends on the thread count.
const LEVEL_CHUNK: usize = 512;

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

    fn into_chunks(mut self) -> Vec<Vec<(B256, Node)>> {
        if !self.cur.is_empty() {
            self.done.push(self.cur);
        }
        self.done
    }
}

struct Ctx<'r, R> {
    reader: &'r R,
    parallel: bool,
}

/// A visit index as stored in a [`Plan`].
fn index(i: usize) -> Result<u32, SmtError> {
    u32::try_from(i)
        .ok()
        .filter(|&i| i != KEEP)
        .ok_or_else(|| SmtError::Store("update batch too large".into()))
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

    /// Top-down pass: reads every existing node on the changed paths, one
    /// depth at a time. The reads of a depth are independent of each other, so
    /// they are issued as batches ([`NodeReader::nodes`]) that overlap in
    /// memory (and run in parallel for large levels) instead of forming a chain
    /// of dependent lookups.
    fn descend(&self, root: B256, changes: &[Change]) -> Result<Vec<Level>, SmtError> {
        let mut levels = Vec::with_capacity(64);
        let mut visits = vec![Visit {
            hash: root,
            lo: 0,
            hi: changes.len(),
        }];
        let mut depth = 0;
        while !visits.is_empty() {
            let n = visits.len();
            let parts: Vec<(Vec<Plan>, Vec<Visit>)> = if self.parallel && n > 2 * LEVEL_CHUNK {
                visits
                    .par_chunks(LEVEL_CHUNK)
                    .map(|chunk| self.descend_chunk(chunk, depth, changes))
                    .collect::<Result<_, _>>()?
            } else {
                vec![self.descend_chunk(&visits, depth, changes)?]
            };
            let mut plans = Vec::with_capacity(n);
            let mut next = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
            for (part_plans, part_next) in parts {
                let offset = index(next.len())?;
                let shift = |c: u32| if c == KEEP { KEEP } else { c + offset };
                plans.extend(part_plans.into_iter().map(|p| match p {
                    Plan::Branch { left, right, kept } => Plan::Branch {
                        left: shift(left),
                        right: shift(right),
                        kept,
                    },
                    build => build,
                }));
                next.extend(part_next);
            }
            levels.push(Level { visits, plans });
            visits = next;
            depth += 1;
        }
        Ok(levels)
    }

    /// Reads the nodes of `visits` (all at `depth`) and plans them; child
    /// visit indices are local to the returned `Vec<Visit>`.
    fn descend_chunk(
        &self,
        visits: &[Visit],
        depth: usize,
        changes: &[Change],
    ) -> Result<(Vec<Plan>, Vec<Visit>), SmtError> {
        let hashes: Vec<B256> = visits
            .iter()
            .filter(|v| !v.hash.is_zero())
            .map(|v| v.hash)
            .collect();
        let mut nodes = self.reader.nodes(&hashes)?.into_iter();
        let mut plans = Vec::with_capacity(visits.len());
        let mut next = Vec::with_capacity(visits.len() * 2);
        for visit in visits {
            if visit.hash.is_zero() {
                plans.push(Plan::Build(None));
                continue;
            }
            let node = nodes
                .next()
                .flatten()
                .ok_or(SmtError::MissingNode(visit.hash))?;
            let range = &changes[visit.lo..visit.hi];
            plans.push(match node {
                Node::Leaf { key, value } => {
                    let overwritten_by = range
                        .binary_search_by(|(k, _)| k.cmp(&key))
                        .ok()
                        .map(|j| visit.lo + j);
                    Plan::Build(Some(Leaf {
                        key,
                        value,
                        overwritten_by,
                    }))
                }
                Node::Internal { left, right } => {
                    if depth >= MAX_DEPTH {
                        return Err(too_deep(visit.hash));
                    }
                    let mid = visit.lo + split(range, depth);
                    let mut kept = B256::ZERO;
                    let mut child = |hash, lo, hi| {
                        if lo < hi {
                            next.push(Visit { hash, lo, hi });
                            index(next.len() - 1)
                        } else {
                            kept = hash;
                            Ok(KEEP)
                        }
                    };
                    let left = child(left, visit.lo, mid)?;
                    let right = child(right, mid, visit.hi)?;
                    Plan::Branch { left, right, kept }
                }
            });
        }
        Ok((plans, next))
    }

    /// Bottom-up pass: rebuilds / recombines every visited subtree, deepest
    /// level first. Returns the new root, the new nodes (children before
    /// parents; the order does not depend on parallelism) and the old nodes
    /// the new tree lost.
    fn ascend(&self, levels: &[Level], changes: &[Change]) -> Result<UpdateResult, SmtError> {
        let mut below: Vec<Sub> = Vec::new();
        let estimate = levels
            .iter()
            .flat_map(|l| l.visits.iter().zip(&l.plans))
            .map(|(v, p)| match p {
                Plan::Build(_) => 2 * (v.hi - v.lo) + 1,
                Plan::Branch { .. } => 1,
            })
            .sum();
        let mut out: Vec<(B256, Node)> = Vec::with_capacity(estimate);
        let mut stale: Vec<B256> = Vec::new();
        for (depth, level) in levels.iter().enumerate().rev() {
            let next_visits = levels.get(depth + 1).map_or(&[][..], |l| &l.visits[..]);
            let run = |range: Range<usize>| -> Result<AscendPart, SmtError> {
                let estimate = range.clone().map(|i| match level.plans[i] {
                    Plan::Build(_) => 2 * (level.visits[i].hi - level.visits[i].lo) + 2,
                    Plan::Branch { .. } => 1,
                });
                let mut sink = Sink::with_capacity(estimate.sum());
                let mut subs = Vec::with_capacity(range.len());
                let mut replaced = Vec::new();
                for i in range {
                    let sub = self.finish_visit(
                        level,
                        i,
                        depth,
                        changes,
                        &below,
                        next_visits,
                        &mut sink,
                    )?;
                    let visit = level.visits[i];
                    if self.replaced(visit, level.plans[i], sub, changes) {
                        replaced.push(visit.hash);
                    }
                    subs.push(sub);
                }
                Ok((subs, sink.into_chunks(), replaced))
            };
            let n = level.visits.len();
            let parts: Vec<AscendPart> = if self.parallel && n > LEVEL_CHUNK {
                (0..n.div_ceil(LEVEL_CHUNK))
                    .into_par_iter()
                    .map(|c| run(c * LEVEL_CHUNK..n.min((c + 1) * LEVEL_CHUNK)))
                    .collect::<Result<_, _>>()?
            } else {
                vec![run(0..n)?]
            };
            let mut subs = Vec::with_capacity(n);
            for (part_subs, part_chunks, part_stale) in parts {
                subs.extend(part_subs);
                stale.extend(part_stale);
                for chunk in part_chunks {
                    if out.is_empty() && chunk.capacity() >= out.capacity() {
                        out = chunk; // e.g. one big rebuild: no copy
                    } else {
                        out.extend(chunk);
                    }
                }
            }
            below = subs;
        }
        let root = below.first().map_or(B256::ZERO, Sub::hash);
        Ok(UpdateResult {
            root,
            new_nodes: out,
            stale_nodes: stale,
        })
    }

    /// Whether the old node of `visit` (now `sub`) is gone from the new tree. It stays if it
    /// is still there, if it is a leaf the rebuilt subtree keeps (perhaps deeper), or if
    /// its key was set again to the same value (the same leaf, created again). Internal
    /// nodes never move: their leaves' keys fix their position.
    fn replaced(&self, visit: Visit, plan: Plan, sub: Sub, changes: &[Change]) -> bool {
        if visit.hash.is_zero() || sub.hash() == visit.hash {
            return false;
        }
        match plan {
            Plan::Build(Some(Leaf {
                value,
                overwritten_by,
                ..
            })) => overwritten_by.is_some_and(|j| changes[j].1 != Some(value)),
            Plan::Build(None) | Plan::Branch { .. } => true,
        }
    }

    /// New state of visit `i` of `level`, given the new states of the next level.
    #[allow(clippy::too_many_arguments)]
    fn finish_visit(
        &self,
        level: &Level,
        i: usize,
        depth: usize,
        changes: &[Change],
        below: &[Sub],
        next_visits: &[Visit],
        sink: &mut Sink,
    ) -> Result<Sub, SmtError> {
        let visit = level.visits[i];
        match level.plans[i] {
            Plan::Build(existing) => {
                let overwritten = existing
                    .filter(|leaf| leaf.overwritten_by.is_some())
                    .map(|_| visit.hash);
                let existing = existing
                    .filter(|leaf| leaf.overwritten_by.is_none())
                    .map(|leaf| ExistingLeaf {
                        key: leaf.key,
                        hash: visit.hash,
                    });
                let changes = &changes[visit.lo..visit.hi];
                self.build(changes, existing, overwritten, depth, sink)
            }
            Plan::Branch { left, right, kept } => {
                // (new state, whether it equals the old child)
                let child = |c: u32| match c {
                    KEEP if kept.is_zero() => (Sub::Empty, true),
                    KEEP => (Sub::Unchanged(kept), true),
                    j => {
                        let j = j as usize;
                        let sub = below[j];
                        (sub, sub.hash() == next_visits[j].hash)
                    }
                };
                let ((ls, lsame), (rs, rsame)) = (child(left), child(right));
                if lsame && rsame {
                    return Ok(Sub::Unchanged(visit.hash));
                }
                self.combine(ls, rs, sink)
            }
        }
    }

    /// Builds the subtree at `depth` that holds the live (`Some`) entries of
    /// `changes` plus `existing` (whose key is not in `changes`). `overwritten`
    /// is the old leaf whose key `changes` set: built again with its old value,
    /// it is not new.
    fn build(
        &self,
        changes: &[Change],
        existing: Option<ExistingLeaf>,
        overwritten: Option<B256>,
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
                if overwritten != Some(hash) {
                    sink.push(hash, Node::Leaf { key, value });
                }
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
                self.build(lc, le, overwritten, depth + 1, sink)?,
                self.build(rc, re, overwritten, depth + 1, sink)?,
            )
        } else {
            self.both(
                changes.len(),
                depth,
                sink,
                rc.len(),
                |s| self.build(lc, le, overwritten, depth + 1, s),
                |s| self.build(rc, re, overwritten, depth + 1, s),
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
