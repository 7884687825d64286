//! States older than the tree held in memory: checkpoints on disk and changesets.
//!
//! A state history of `H` blocks holds the tree of at most
//! [`StoreOptions::memory_states`](super::StoreOptions::memory_states) recent states in memory
//! ([`crate::history`]). When `H` is longer, the older states are served from disk:
//!
//! * **Changesets** (`x`) stay for every block of the history, not only the ones in memory:
//!   block `N`'s changeset turns its state back into its parent's.
//! * **Checkpoints** (`k`): every [`StoreOptions::checkpoint_interval`](super::StoreOptions)-th
//!   block (and block 0) writes the nodes its tree has that the previous checkpoint's tree did
//!   not (`n` records; an account's leaf carries the account, as in an archive). So every
//!   checkpoint's whole tree is on disk, and the disk holds one tree node per node *changed
//!   between checkpoints*, not per node changed by every block.
//!
//! The state of an older block `B` is rebuilt on demand ([`Past`]): from the nearest state
//! after it whose tree is readable (the next checkpoint, or the oldest state in memory), undo
//! the changesets back to `B` in one batched tree update, and check the root against `B`'s
//! header. The cost is bounded by the checkpoint interval; one state is rebuilt at a time,
//! and the last few rebuilt on a checkpoint are cached. A state rebuilt on the oldest state in
//! memory pins the states in memory while it is in use ([`Checkpoints::drop_unpinned`]).
//!
//! Which nodes a checkpoint writes is tracked as blocks commit ([`Checkpoints::note_block`]):
//! a block's new nodes join the pending set, the nodes it made stale leave it. After a restart
//! the set is recomputed by walking the head's tree against the last checkpoint's
//! ([`changed_nodes`]), which visits only the subtrees that differ.
//!
//! **Collection.** The disk holds the trees of the checkpoints a kept state may be rebuilt
//! from, and (once each pass below has ended) no other node. A checkpoint `c` also writes its
//! *dropped list* (`g`): the nodes of the previous checkpoint `p`'s tree that `c`'s tree no
//! longer holds, tracked as blocks commit beside the pending set (a stale node the pending set
//! does not hold was in `p`'s tree and joins the list; a new node on the list leaves it, and
//! is not written again). Once `p` is older than the first kept state, no kept state is rebuilt
//! from `p` (a state is rebuilt from the next checkpoint at or after it), and the nodes on the
//! list are deleted ([`Store::collect_dropped`], a part in each block's commit over half an
//! interval, so no commit deletes a whole tree) — except those a later checkpoint wrote again
//! (a value that came back recreates its node): each checkpoint's `n` record ends with the
//! number of the checkpoint that wrote it, and a node written at or after `c` stays. So the
//! disk holds the trees of the checkpoints from the first at or after the first kept state
//! (and the newest), and during a pass what is left of the tree before them, as the tests
//! check node for node.

use std::{collections::VecDeque, sync::Arc};

use alloy_primitives::{
    map::{B256Map, B256Set, HashMap},
    Address, B256,
};
use fraud_vm::{
    execute::BuiltBlock,
    smt::{self, key_bit, Node, NodeReader, SmtError},
    state::{account_key, AccountLeaf, StateDiff},
};
use parking_lot::Mutex;
use tracing::debug;

use super::{
    schema::{
        be_u64, corrupt, key, num_key, Record, CHANGESET, CHECKPOINT, COLLECTING, DROPPED, META,
        NODE,
    },
    Store, StoreError,
};
use crate::history::decode_changeset;

/// How many rebuilt older states are cached.
const CACHED_PASTS: usize = 4;

/// Blocks in a row the writer keeps old states in memory for a pinned rebuilt state before it
/// drops them anyway (the pinned state's reads then fail with a missing node, never answer
/// wrong): queries at old blocks, open to any client, cannot grow memory without bound.
const MAX_DEFERRED_DROPS: u64 = 8;

/// A tree node to write at the next checkpoint, with the account when it is an account's leaf.
pub(super) type PendingNode = (Node, Option<AccountLeaf>);

/// An account in the tree: its key, its value hash and its leaf (computed once at open, for
/// the head's tree and for the pending checkpoint nodes).
pub(super) type AccountEntry = (B256, B256, AccountLeaf);

/// The disk side of a state history longer than its in-memory window (see the module docs).
pub(super) struct Checkpoints {
    /// States kept before the head's (the state history).
    pub(super) states: u64,
    /// Blocks between checkpoints.
    interval: u64,
    /// Nodes of the newest committed tree that no checkpoint holds yet, and the nodes of the
    /// last checkpoint's tree that it no longer holds (see the module docs).
    pending: Mutex<Pending>,
    /// The fewest hashes of a dropped list a block's prune handles during a pass.
    collect_per_block: usize,
    /// Where the collection of the oldest dropped list stands.
    collection: Mutex<Collection>,
    /// Recently rebuilt older states, least recently used first.
    pasts: Mutex<VecDeque<Arc<Past>>>,
    /// Held while a state is rebuilt: one rebuild at a time, so queries at old blocks (open
    /// to any RPC client) use at most one core however many arrive.
    rebuilding: Mutex<()>,
    /// Rebuilt states whose base is the oldest state in memory ([`MemoryPin`]).
    pins: Arc<Mutex<Pins>>,
}

/// How the newest committed tree differs from the last checkpoint's.
#[derive(Default)]
pub(super) struct Pending {
    /// Nodes the newest tree has and the checkpoint's has not (the next checkpoint writes them).
    pub(super) written: B256Map<PendingNode>,
    /// Nodes the checkpoint's tree has and the newest has not (the next checkpoint's dropped
    /// list).
    pub(super) dropped: B256Set,
}

/// What a checkpoint block writes besides its marker.
pub(super) struct CheckpointWrite {
    /// The `n` records of the nodes its tree has and the previous checkpoint's has not.
    pub(super) nodes: Vec<Record>,
    /// Its `g` record: the previous checkpoint's number and the nodes of its tree this
    /// checkpoint's has not (none for the first checkpoint).
    pub(super) dropped: Option<Record>,
}

/// Where the collection of old checkpoints stands (see the module docs). A pass over one
/// dropped list spreads over several blocks; its progress is written with each part's
/// deletions (`m` `collecting`), so a restart resumes it (deleting a listed node twice would
/// be harmless, but a pass that started over at every restart might never end).
#[derive(Default)]
pub(super) struct Collection {
    /// The previous checkpoint of the oldest dropped list on disk (`None`: no list), so that
    /// a block's prune reads a list only when it is to be collected.
    oldest: Option<u64>,
    /// The list being collected, once its pass has started.
    pass: Option<Pass>,
    /// The progress on disk of a pass begun before the store was opened: the list's
    /// checkpoint and how many of its hashes were handled.
    resume: Option<(u64, usize)>,
}

/// One dropped list being collected.
#[derive(Clone)]
struct Pass {
    /// The checkpoint that wrote the list.
    checkpoint: u64,
    /// The list's record (the previous checkpoint's number, then the hashes).
    list: sled::IVec,
    /// How many of its hashes have been handled.
    done: usize,
}

/// Rebuilt states in use that read the oldest state held in memory, and how many blocks the
/// writer has kept that state for them.
#[derive(Default)]
struct Pins {
    held: usize,
    deferred: u64,
}

/// Keeps the states in memory from being dropped while a state rebuilt on top of the oldest
/// of them is in use (up to [`MAX_DEFERRED_DROPS`] blocks).
struct MemoryPin(Arc<Mutex<Pins>>);

impl Drop for MemoryPin {
    fn drop(&mut self) {
        self.0.lock().held -= 1;
    }
}

impl Checkpoints {
    /// A checkpoint every `interval` blocks; `collect_per_block`: the fewest listed hashes a
    /// block handles during a collection pass; `pending`: how the head's tree differs from the last
    /// checkpoint's; `collection`: [`Store::collection_on_disk`].
    pub(super) fn new(
        states: u64,
        interval: u64,
        collect_per_block: usize,
        pending: Pending,
        collection: Collection,
    ) -> Self {
        Self {
            states,
            interval: interval.max(1),
            collect_per_block: collect_per_block.max(1),
            pending: Mutex::new(pending),
            collection: Mutex::new(collection),
            pasts: Mutex::default(),
            rebuilding: Mutex::default(),
            pins: Arc::default(),
        }
    }

    /// Runs `drop` (which drops states from memory) unless a rebuilt state in use reads
    /// them and the writer has not yet waited [`MAX_DEFERRED_DROPS`] blocks for it.
    pub(super) fn drop_unpinned(&self, drop: impl FnOnce()) {
        let mut pins = self.pins.lock();
        if pins.held > 0 && pins.deferred < MAX_DEFERRED_DROPS {
            pins.deferred += 1;
            return;
        }
        pins.deferred = 0;
        drop();
    }

    /// Holds off rebuilds of older states while the guard lives (a rewind changes what they
    /// are rebuilt from).
    pub(super) fn hold_rebuilds(&self) -> parking_lot::MutexGuard<'_, ()> {
        self.rebuilding.lock()
    }

    /// After a rewind (with rebuilds held, [`Checkpoints::hold_rebuilds`]): `pending` is what
    /// the next checkpoint writes, `collection` where collection stands on disk (a rewind
    /// removes a pass's progress: it may have removed the list), and the cached rebuilt
    /// states go (they are cached by block number, and the numbers above the rewind's block
    /// now name other blocks).
    pub(super) fn reset(&self, pending: Pending, collection: Collection) {
        *self.pending.lock() = pending;
        *self.collection.lock() = collection;
        self.pasts.lock().clear();
    }

    /// Hashes of the nodes the next checkpoint writes.
    #[cfg(test)]
    pub(super) fn pending_hashes(&self) -> std::collections::BTreeSet<B256> {
        self.pending.lock().written.keys().copied().collect()
    }

    /// Whether block `number` is a checkpoint.
    pub(super) fn is_checkpoint(&self, number: u64) -> bool {
        number.is_multiple_of(self.interval)
    }

    /// Records block `number`'s tree changes; at a checkpoint `c` (whose previous checkpoint
    /// is `previous`), returns what it writes and empties both sets: the records of every
    /// pending node, to be written before the block's final batch, and its dropped list, to be
    /// written with it.
    pub(super) fn note_block(
        &self,
        block: &BuiltBlock,
        previous: Option<u64>,
    ) -> Option<CheckpointWrite> {
        let accounts = leaf_accounts(&block.diff);
        let mut pending = self.pending.lock();
        let Pending { written, dropped } = &mut *pending;
        for hash in &block.stale_nodes {
            // A stale node no checkpoint holds was the pending set's; else the checkpoint's.
            if written.remove(hash).is_none() {
                dropped.insert(*hash);
            }
        }
        for (hash, node) in &block.new_nodes {
            // A node of the checkpoint's tree that came back is on disk already.
            if !dropped.remove(hash) {
                written.insert(*hash, (*node, account_of(node, &accounts)));
            }
        }
        let number = block.header.number;
        if !self.is_checkpoint(number) {
            return None;
        }
        debug!(
            number,
            nodes = written.len(),
            dropped = dropped.len(),
            "checkpoint"
        );
        let nodes = written
            .drain()
            .map(|(hash, (node, account))| {
                (
                    key(NODE, &[hash.as_slice()]),
                    node_record(&node, account.as_ref(), Some(number)),
                )
            })
            .collect();
        if let Some(previous) = previous {
            self.collection.lock().oldest.get_or_insert(previous);
        }
        let list = previous.map(|previous| {
            // In hash order: the list is the same however the set was built.
            let mut hashes: Vec<&B256> = dropped.iter().collect();
            hashes.sort_unstable();
            let mut list = Vec::with_capacity(8 + 32 * hashes.len());
            list.extend_from_slice(&previous.to_be_bytes());
            for hash in hashes {
                list.extend_from_slice(hash.as_slice());
            }
            (num_key(DROPPED, number), list)
        });
        dropped.clear();
        Some(CheckpointWrite {
            nodes,
            dropped: list,
        })
    }
}

/// An account's latest leaf by its tree key, for the accounts a diff sets.
pub(super) fn leaf_accounts(diff: &StateDiff) -> B256Map<&AccountLeaf> {
    diff.accounts
        .iter()
        .filter_map(|(address, leaf)| Some((account_key(address), leaf.as_ref()?)))
        .collect()
}

/// The account a leaf node holds the hash of, if `accounts` has it.
pub(super) fn account_of(node: &Node, accounts: &B256Map<&AccountLeaf>) -> Option<AccountLeaf> {
    match node {
        Node::Leaf { key, value } => accounts
            .get(key)
            .filter(|a| a.value_hash() == *value)
            .map(|a| **a),
        Node::Internal { .. } => None,
    }
}

/// The previous checkpoint a `g` record's list starts with.
fn list_previous(list: &[u8]) -> Result<u64, StoreError> {
    be_u64(list, 0, "dropped list")
}

/// The block number in a `k` or `g` record's key.
fn checkpoint_number(key: &[u8]) -> Result<u64, StoreError> {
    be_u64(key, 1, "checkpoint key")
}

/// An `n` record: the node's encoding, followed by the account for an account's leaf, then
/// (a checkpoint's) the number of the checkpoint that wrote it.
pub(super) fn node_record(
    node: &Node,
    account: Option<&AccountLeaf>,
    checkpoint: Option<u64>,
) -> Vec<u8> {
    let mut record = Vec::with_capacity(smt::NODE_ENCODED_LEN + AccountLeaf::ENCODED_LEN + 8);
    node.encode_into(&mut record);
    if let Some(account) = account {
        record.extend_from_slice(&account.encode());
    }
    if let Some(number) = checkpoint {
        record.extend_from_slice(&number.to_be_bytes());
    }
    record
}

/// What follows the node in an `n` record: the account (an account's leaf) and the number of
/// the checkpoint that wrote it (0 for an archive's records, written by no checkpoint). The
/// four lengths (0, 8, 128, 136) tell the parts apart.
fn record_tail(tail: &[u8]) -> Result<(Option<AccountLeaf>, u64), StoreError> {
    const ACCOUNT: usize = AccountLeaf::ENCODED_LEN;
    let (account, number) = match tail.len() {
        0 | ACCOUNT => (tail, None),
        8 => (&tail[..0], Some(tail)),
        n if n == ACCOUNT + 8 => (&tail[..ACCOUNT], Some(&tail[ACCOUNT..])),
        _ => return Err(corrupt("node record")),
    };
    let account = match account.len() {
        0 => None,
        _ => Some(AccountLeaf::decode(account).ok_or_else(|| corrupt("node record's account"))?),
    };
    let number = number.map_or(0, |b| {
        u64::from_be_bytes(b.try_into().expect("eight bytes"))
    });
    Ok((account, number))
}

/// The nodes of the tree at `new` that the tree at `old` does not hold: walks both trees
/// from the roots and skips every subtree the two share (a collapsed leaf may sit higher or
/// deeper in one tree than in the other; internal nodes never move).
pub(super) fn changed_nodes<R: NodeReader>(
    reader: &R,
    new: B256,
    old: B256,
) -> Result<Vec<(B256, Node)>, SmtError> {
    let missing = |hash: B256| SmtError::MissingNode(hash);
    let mut out = Vec::new();
    let mut todo = vec![(new, old, 0usize)];
    while let Some((new, old, depth)) = todo.pop() {
        if new == old || new.is_zero() {
            continue;
        }
        let node = reader.node(&new)?.ok_or_else(|| missing(new))?;
        let (left, right) = match node {
            Node::Internal { left, right } => (left, right),
            // The old tree may hold the same leaf deeper, on its key's path.
            Node::Leaf { key, .. } => {
                if !holds_leaf(reader, old, &key, new, depth)? {
                    out.push((new, node));
                }
                continue;
            }
        };
        out.push((new, node));
        if depth >= smt::MAX_DEPTH {
            return Err(SmtError::Corrupt(format!(
                "internal node {new} below the last level"
            )));
        }
        // What the old tree holds under each child's place.
        let (old_left, old_right) = if old.is_zero() {
            (B256::ZERO, B256::ZERO)
        } else {
            match reader.node(&old)?.ok_or_else(|| missing(old))? {
                Node::Internal { left, right } => (left, right),
                // A collapsed leaf sits on its key's side, deeper in the new tree.
                Node::Leaf { key, .. } if key_bit(&key, depth) => (B256::ZERO, old),
                Node::Leaf { .. } => (old, B256::ZERO),
            }
        };
        todo.push((left, old_left, depth + 1));
        todo.push((right, old_right, depth + 1));
    }
    Ok(out)
}

/// Whether the subtree at `root` (at `depth`) holds the leaf `leaf` of key `key`: follows
/// the key's path down to a leaf or an empty subtree.
fn holds_leaf<R: NodeReader>(
    reader: &R,
    mut root: B256,
    key: &B256,
    leaf: B256,
    mut depth: usize,
) -> Result<bool, SmtError> {
    loop {
        if root == leaf {
            return Ok(true);
        }
        if root.is_zero() || depth > smt::MAX_DEPTH {
            return Ok(false);
        }
        match reader.node(&root)?.ok_or(SmtError::MissingNode(root))? {
            Node::Leaf { .. } => return Ok(false),
            Node::Internal { left, right } => {
                root = if key_bit(key, depth) { right } else { left };
                depth += 1;
            }
        }
    }
}

/// An older state rebuilt from a readable tree and the changesets (see the module docs).
pub struct Past {
    number: u64,
    /// Set when the base is the oldest state in memory (then the state is not cached).
    _pin: Option<MemoryPin>,
    /// The nodes undoing the changesets created (the rest is the base state's tree).
    nodes: B256Map<Node>,
    /// The accounts the undone blocks changed, as they were at this state.
    accounts: HashMap<Address, Option<AccountLeaf>>,
}

impl Past {
    /// A node of this state's tree that its base state's tree does not have.
    pub(super) fn node(&self, hash: &B256) -> Option<Node> {
        self.nodes.get(hash).copied()
    }

    /// The account `address` held at this state if an undone block changed it.
    pub(super) fn account(&self, address: &Address) -> Option<Option<AccountLeaf>> {
        self.accounts.get(address).copied()
    }
}

/// Reads a tree node from memory, else from the checkpoints on disk.
struct DiskNodes<'a>(&'a Store);

impl NodeReader for DiskNodes<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        if let Some(node) = self.0.kept.as_ref().and_then(|k| k.node(hash)) {
            return Ok(Some(node));
        }
        self.0.disk_node(hash)
    }
}

impl Store {
    /// A node record from disk (`n`).
    pub(super) fn disk_node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        match self.db.get(key(NODE, &[hash.as_slice()])) {
            Ok(None) => Ok(None),
            Ok(Some(v)) => Node::decode_prefix(&v).map(|(node, _)| Some(node)),
            Err(e) => Err(SmtError::Store(e.to_string())),
        }
    }

    /// The account an `n` leaf record carries, if any.
    pub(super) fn disk_leaf_account(&self, hash: &B256) -> Result<Option<AccountLeaf>, StoreError> {
        Ok(match self.db.get(key(NODE, &[hash.as_slice()]))? {
            None => None,
            Some(v) => {
                let (_, tail) = Node::decode_prefix(&v).map_err(fraud_vm::Error::from)?;
                record_tail(tail)?.0
            }
        })
    }

    /// Deletes the nodes of the checkpoints no kept state is rebuilt from (see the module
    /// docs), a part per block: while the oldest dropped list's previous checkpoint is older
    /// than `first_state`, the next hashes on the list (at least
    /// [`StoreOptions::collect_per_block`](super::StoreOptions), and enough to finish the list
    /// within half a checkpoint interval), deleting each node no checkpoint since wrote again.
    /// A pass removes the previous checkpoint's marker when it starts (its tree is no longer
    /// whole on disk) and the list when it ends, and records its progress in between. Memory
    /// follows the disk: nothing changes in memory unless the part's batch was written.
    /// Returns the number of nodes deleted.
    pub(super) fn collect_dropped(&self, first_state: u64) -> Result<usize, StoreError> {
        let Some(checkpoints) = &self.checkpoints else {
            return Ok(0);
        };
        let mut collection = checkpoints.collection.lock();
        let due = |oldest: Option<u64>| oldest.is_some_and(|previous| previous < first_state);
        if !due(collection.oldest) {
            return Ok(0);
        }
        let (mut oldest, mut pass) = (collection.oldest, collection.pass.clone());
        let progress = key(META, &[COLLECTING]);
        let mut batch = sled::Batch::default();
        let mut deleted = 0;
        let mut budget = None;
        // Lists below this number were finished by this call (their removal is in `batch`).
        let mut after = 0;
        while budget != Some(0) && due(oldest) {
            let current = match &mut pass {
                Some(current) => current,
                None => {
                    let Some((k, list)) = self.lists_from(after).next().transpose()? else {
                        oldest = None;
                        break;
                    };
                    if list.len() % 32 != 8 {
                        return Err(corrupt("dropped list"));
                    }
                    let checkpoint = checkpoint_number(&k)?;
                    batch.remove(num_key(CHECKPOINT, list_previous(&list)?));
                    let done = match collection.resume {
                        Some((at, done)) if at == checkpoint => done,
                        _ => 0,
                    };
                    pass.insert(Pass {
                        checkpoint,
                        list,
                        done,
                    })
                }
            };
            let hashes = current.list[8..].chunks(32);
            let listed = hashes.len();
            let budget = budget.get_or_insert(
                checkpoints
                    .collect_per_block
                    .max(listed.div_ceil((checkpoints.interval / 2).max(1) as usize)),
            );
            let end = listed.min(current.done + *budget);
            for hash in hashes.take(end).skip(current.done) {
                let node = key(NODE, &[hash]);
                let Some(record) = self.db.get(&node)? else {
                    continue;
                };
                let (_, tail) = Node::decode_prefix(&record).map_err(fraud_vm::Error::from)?;
                if record_tail(tail)?.1 < current.checkpoint {
                    batch.remove(node);
                    deleted += 1;
                }
            }
            *budget -= end.saturating_sub(current.done);
            current.done = end;
            let checkpoint = current.checkpoint;
            if end < listed {
                let mut at = checkpoint.to_be_bytes().to_vec();
                at.extend_from_slice(&(end as u64).to_be_bytes());
                batch.insert(progress.clone(), at);
                break;
            }
            // The list is done; the next one (if any) waits for its own previous checkpoint.
            batch.remove(num_key(DROPPED, checkpoint));
            batch.remove(progress.clone());
            after = checkpoint + 1;
            pass = None;
            oldest = self.oldest_list_from(after)?;
        }
        self.db.apply_batch(batch)?;
        *collection = Collection {
            oldest,
            pass,
            resume: None,
        };
        if deleted > 0 {
            debug!(first_state, deleted, "deleted nodes of old checkpoints");
        }
        Ok(deleted)
    }

    /// The dropped lists (`g`) of checkpoint `from` and later, oldest first.
    fn lists_from(&self, from: u64) -> sled::Iter {
        self.db
            .range(num_key(DROPPED, from)..=num_key(DROPPED, u64::MAX))
    }

    /// The previous checkpoint of the oldest dropped list of checkpoint `from` or later.
    fn oldest_list_from(&self, from: u64) -> Result<Option<u64>, StoreError> {
        self.lists_from(from)
            .next()
            .transpose()?
            .map(|(_, list)| list_previous(&list))
            .transpose()
    }

    /// Where the collection of old checkpoints stands on disk: the oldest dropped list's
    /// previous checkpoint and the recorded progress of a pass under way.
    pub(super) fn collection_on_disk(&self) -> Result<Collection, StoreError> {
        const WHAT: &str = "collection progress";
        let resume = match self.db.get(key(META, &[COLLECTING]))? {
            None => None,
            Some(at) => Some((
                be_u64(&at, 0, WHAT)?,
                usize::try_from(be_u64(&at, 8, WHAT)?).unwrap_or(usize::MAX),
            )),
        };
        Ok(Collection {
            oldest: self.oldest_list_from(0)?,
            pass: None,
            resume,
        })
    }

    /// The newest checkpoint at or below `number`.
    pub(super) fn checkpoint_at_or_below(&self, number: u64) -> Result<Option<u64>, StoreError> {
        let found = self
            .db
            .range(num_key(CHECKPOINT, 0)..=num_key(CHECKPOINT, number))
            .next_back()
            .transpose()?;
        found.map(|(k, _)| checkpoint_number(&k)).transpose()
    }

    /// Block `number`'s changeset, if the store still has it.
    pub(super) fn changeset_of(&self, number: u64) -> Result<Option<StateDiff>, StoreError> {
        self.db
            .get(num_key(CHANGESET, number))?
            .map(|bytes| {
                decode_changeset(&bytes)
                    .ok_or_else(|| corrupt(format!("changeset of block {number}")))
            })
            .transpose()
    }

    /// The values at block `number` of every account and slot that blocks `number + 1..=newer`
    /// changed, from their changesets (`missing`: the error for a block without one).
    pub(super) fn undo_changesets(
        &self,
        number: u64,
        newer: u64,
        missing: impl Fn(u64) -> StoreError,
    ) -> Result<StateDiff, StoreError> {
        // Newest block first: the oldest block's changeset has the value at `number`.
        let mut undo = StateDiff::default();
        for n in (number + 1..=newer).rev() {
            let changeset = self.changeset_of(n)?.ok_or_else(|| missing(n))?;
            undo.accounts.extend(changeset.accounts);
            undo.storage.extend(changeset.storage);
        }
        Ok(undo)
    }

    /// The state root in block `number`'s header.
    pub(super) fn state_root_of(&self, number: u64) -> Result<B256, StoreError> {
        Ok(self
            .header_by_number(number)?
            .ok_or_else(|| corrupt(format!("header {number} missing")))?
            .1
            .state_root)
    }

    /// The state of block `number`, older than the states held in memory, rebuilt from the
    /// next readable tree and the changesets (cached; see the module docs).
    pub(super) fn past(&self, number: u64) -> Result<Arc<Past>, StoreError> {
        let Some(checkpoints) = &self.checkpoints else {
            return Err(corrupt("no state history on disk"));
        };
        let cached = || {
            let mut pasts = checkpoints.pasts.lock();
            let i = pasts.iter().position(|p| p.number == number)?;
            let past = pasts.remove(i)?;
            pasts.push_back(past.clone());
            Some(past)
        };
        if let Some(past) = cached() {
            return Ok(past);
        }
        let _rebuilding = checkpoints.rebuilding.lock();
        // Another query may have rebuilt it meanwhile.
        if let Some(past) = cached() {
            return Ok(past);
        }
        // The next checkpoint: its tree is on disk for good, so the rebuilt state stays
        // readable while the states in memory move on. Past the newest checkpoint, the oldest
        // state in memory, pinned while the rebuilt state is in use.
        let checkpoint = self
            .db
            .range(num_key(CHECKPOINT, number)..=num_key(CHECKPOINT, u64::MAX))
            .next()
            .transpose()?
            .map(|(k, _)| checkpoint_number(&k))
            .transpose()?;
        let (base, pin) = match checkpoint {
            Some(base) => (base, None),
            None => {
                let mut pins = checkpoints.pins.lock();
                pins.held += 1;
                let pin = MemoryPin(checkpoints.pins.clone());
                (self.first_memory(), Some(pin))
            }
        };
        let undo = self.undo_changesets(number, base, |n| {
            corrupt(format!("changeset of block {n} missing"))
        })?;
        let updated = smt::update(
            &DiskNodes(self),
            self.state_root_of(base)?,
            undo.tree_changes(),
        )
        .map_err(fraud_vm::Error::from)?;
        if updated.root != self.state_root_of(number)? {
            return Err(corrupt(format!(
                "the changesets from block {base} back to block {number} do not lead to its state root"
            )));
        }
        debug!(
            number,
            base,
            nodes = updated.new_nodes.len(),
            "rebuilt an older state"
        );
        let cache = pin.is_none();
        let past = Arc::new(Past {
            _pin: pin,
            number,
            nodes: updated.new_nodes.into_iter().collect(),
            accounts: undo.accounts.into_iter().collect(),
        });
        if !cache {
            return Ok(past);
        }
        let mut pasts = checkpoints.pasts.lock();
        if pasts.len() >= CACHED_PASTS {
            pasts.pop_front();
        }
        pasts.push_back(past.clone());
        Ok(past)
    }

    /// How the head's tree (in memory) differs from the last checkpoint's: the nodes it has
    /// that the checkpoint's has not, with the accounts of the account leaves among them
    /// (`accounts`: every latest account), and the nodes it no longer has.
    pub(super) fn pending_since_checkpoint(
        &self,
        head_root: B256,
        head: u64,
        accounts: &[AccountEntry],
    ) -> Result<Pending, StoreError> {
        use rayon::prelude::*;
        let old_root = match self.checkpoint_at_or_below(head)? {
            Some(n) => self.state_root_of(n)?,
            None => B256::ZERO,
        };
        let reader = DiskNodes(self);
        let changed = changed_nodes(&reader, head_root, old_root).map_err(fraud_vm::Error::from)?;
        let dropped = changed_nodes(&reader, old_root, head_root)
            .map_err(fraud_vm::Error::from)?
            .into_iter()
            .map(|(hash, _)| hash)
            .collect();
        let leaves: B256Map<AccountLeaf> = accounts
            .par_iter()
            .map(|(key, value, leaf)| (smt::leaf_hash(key, value), *leaf))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        Ok(Pending {
            written: changed
                .into_iter()
                .map(|(hash, node)| (hash, (node, leaves.get(&hash).copied())))
                .collect(),
            dropped,
        })
    }

    /// The oldest state whose tree is held in memory (with a state history).
    pub(super) fn first_memory(&self) -> u64 {
        self.first_memory.load(std::sync::atomic::Ordering::Acquire)
    }
}
