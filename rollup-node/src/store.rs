//! The chain store: one sled tree, one atomic batch per block.
//!
//! Every record lives in the same sled tree under a one-byte prefix, so a block (header, body,
//! receipts, indexes, state changes, state-tree nodes and the new head pointer) is written by a
//! single `apply_batch`, which sled applies atomically, and flushed to disk before the block is
//! announced. After a crash the store is exactly at the last flushed head.
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `m` | `head` | head block number (u64 BE) |
//! | `m` | `l1cursor` | derivation cursor of the head block ([`L1Cursor::encode`]: L1 origin and next Inbox index), written with the block that advanced it |
//! | `d` | number | the block's own L1 record ([`L1Cursor::encode`]: its L1 origin and the delayed messages consumed up to and including it), only for blocks with an L1 origin; the batcher and derivation read it |
//! | `h` | number | block hash ‖ header RLP |
//! | `H` | block hash | number |
//! | `b` | number | RLP list of EIP-2718 transactions |
//! | `S` | number | senders, 20 bytes each |
//! | `r` | number | RLP list of the receipts without their logs bloom (`OpReceipt`'s RLP: type, status, cumulative gas, logs, deposit fields); the bloom is recomputed from the logs on read |
//! | `t` | tx hash | number ‖ index (u32 BE) ‖ block hash (written with the content records: a location whose block hash is not the stored block's is ignored) |
//! | `a` | address | latest account leaf (`AccountLeaf::encode`) |
//! | `s` | address ‖ slot | latest non-zero storage value |
//! | `c` | code hash | code |
//! | `R` | code hash | code root |
//! | `n` | node hash | state-tree node; an account's leaf node is followed by the account ([`AccountLeaf::encode`]), to read old states from the tree (archive only) |
//! | `x` | number | the block's changeset: the accounts and slots it changed, with their values before it ([`crate::history::encode_changeset`]; state history only, for the kept blocks) |
//! | `m` | `firststate` | the oldest block whose state is still complete (state history only) |
//! | `m` | `tree` | `archive` (every state's tree on disk) or `memory` (a state history, tree in memory); fixed at creation |
//! | `m` | `format` | the record format version ([`FORMAT`], u32 BE); a store of another version is refused |
//! | `l` | address ‖ number | (empty): blocks where the address logged |
//!
//! Latest-state reads use the flat `a`/`s` records; reads at an older block walk the state tree
//! from that block's root. Hot accounts, slots and tree nodes are served from bounded in-memory
//! caches ([`crate::cache`]).
//!
//! ## Archive or state history
//!
//! An archive store (`Store::open(path, None)`) keeps every state: tree nodes are
//! content-addressed `n` records, never deleted, so any block's state reads through its root.
//!
//! With a state history of `H` blocks (`Store::open(path, Some(H))`) the store serves only
//! the states of the newest `H + 1` blocks, and writes no tree nodes at all: the kept states'
//! tree lives in memory ([`crate::history`]) and each block writes its changeset (`x`)
//! instead. At start the store rebuilds the head's tree from the flat `a`/`s` records and
//! each older kept state from the next block's changeset, and refuses to open if any rebuilt
//! root differs from its header's. When block `M` commits, the blocks up to `M - H` leave the
//! history: their stale nodes leave memory, and their changesets and the new `firststate`
//! are written in one batch. Reads of a state older than `firststate` fail with
//! [`StoreError::Pruned`]. A data directory keeps the mode it was created with
//! ([`StoreError::WrongTreeMode`]).
//!
//! ## Write-behind: the tip and the head
//!
//! The sequencer builds block N+1 while block N is still being written. A built block is first
//! *staged* ([`Store::stage`]): it joins an in-memory overlay of built-but-unflushed blocks, and
//! [`Store::tip_state`] serves the newest state (overlay, then caches, then sled) to the next
//! block's execution and state-tree update. [`Store::commit_block`] later writes the block and
//! only then makes it the *head*: everything the store answers to readers (headers, bodies,
//! receipts, [`Store::latest`], [`Store::head`]) stops at the head, so a block is reported to
//! nobody before it is on disk. The overlay holds at most the blocks queued for the writer
//! (the sequencer bounds that queue), so its memory is bounded.
//!
//! A tip read that misses the overlay and the caches first tries to settle *absence* from the
//! state tree held in memory (the tip root's path through cached nodes: a fresh recipient or a
//! never-written slot needs no sled read), and falls back to sled only when the path leaves
//! memory.
//!
//! ## Write order (crash safety)
//!
//! A block is written in two steps: first its content-addressed records (`n` tree nodes in an
//! archive, `c` code, `R` code roots) and its transaction locations (`t`) as plain inserts from all cores,
//! and a flush; then one atomic batch with everything else (header, body, senders, receipts,
//! log index, flat state, changeset, cursor, head), and a flush. sled holds its global write lock for the
//! duration of an `apply_batch`, blocking every reader, while plain inserts of different keys
//! proceed side by side and let the next block's reads interleave. A crash between the steps
//! leaves only records nothing reads: content-addressed ones are keyed by their own hash (so
//! correct whenever a later block references them), and a transaction location names its
//! block's hash, which is not the hash of whatever block is later stored at that number. The
//! head and every other record readers use move together in the final batch.

use std::{collections::VecDeque, sync::Arc};

use alloy_consensus::{Header, TxReceipt};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{map::B256Map, Address, Bytes, B256, U256};
use alloy_rlp::{Decodable, Encodable};
use fraud_vm::{
    execute::{BuiltBlock, StateProvider},
    smt::{self, Node, NodeReader, SmtError},
    state::{account_key, storage_key, AccountLeaf, StateDiff},
    ProviderError,
};
use op_alloy_consensus::{OpReceipt, OpReceiptEnvelope, OpTxEnvelope};
use parking_lot::RwLock;
use revm::{
    database_interface::DatabaseRef,
    state::{AccountInfo, Bytecode},
};
use tracing::{debug, info, instrument};

use crate::{
    cache::Caches,
    derive::L1Cursor,
    history::{decode_changeset, encode_changeset, KeptStates, Order},
};

/// Errors of the chain store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("database: {0}")]
    Db(#[from] sled::Error),
    /// A record does not decode: the data directory is corrupt or from another version.
    #[error("corrupt record {0}")]
    Corrupt(String),
    /// The data directory was written by a node with another record layout.
    #[error(
        "the data directory uses record format {found}, this node reads format {expected}: start from a fresh --datadir"
    )]
    WrongFormat {
        /// Format in the store (0: written before the format was recorded).
        found: u32,
        /// [`FORMAT`].
        expected: u32,
    },
    /// Another process (or a store not yet fully closed) holds the data directory's lock.
    #[error("the data directory {0} is in use: another node has it open")]
    InUse(String),
    /// The data directory holds another chain.
    #[error("the data directory holds a different chain (genesis {found}, expected {expected})")]
    WrongChain {
        /// Genesis hash in the store.
        found: B256,
        /// Genesis hash of the configured genesis.
        expected: B256,
    },
    /// The chain rules failed (state tree).
    #[error(transparent)]
    Chain(#[from] fraud_vm::Error),
    /// The data directory keeps its state tree another way than asked for.
    #[error("{}", if *archive {
        "the data directory is an archive (every state on disk): run without --state-history, or start from a fresh --datadir"
    } else {
        "the data directory keeps a state history (its tree in memory): run with --state-history, or start from a fresh --datadir"
    })]
    WrongTreeMode {
        /// The data directory is an archive.
        archive: bool,
    },
    /// The state of an old block was pruned (see the module docs).
    #[error(
        "the state of block {number} is pruned: this node keeps the state of blocks {first} and later (--state-history)"
    )]
    Pruned {
        /// The block asked for.
        number: u64,
        /// The oldest block whose state the node still has.
        first: u64,
    },
}

impl From<StoreError> for ProviderError {
    fn from(e: StoreError) -> Self {
        ProviderError(e.to_string())
    }
}

/// A block as stored.
#[derive(Clone, Debug)]
pub struct StoredBlock {
    /// The header.
    pub header: Header,
    /// Its hash.
    pub hash: B256,
    /// The transactions.
    pub transactions: Vec<OpTxEnvelope>,
    /// Their senders.
    pub senders: Vec<Address>,
}

/// The chain head.
#[derive(Clone, Debug)]
pub struct Head {
    /// Head header.
    pub header: Header,
    /// Head hash.
    pub hash: B256,
}

/// The on-disk chain store (see the module docs).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    head: Arc<RwLock<Option<Head>>>,
    caches: Arc<Caches>,
    /// Built blocks not yet on disk, oldest first (see the module docs).
    staged: Arc<RwLock<VecDeque<Arc<Staged>>>>,
    /// With a state history: the kept states and their tree, in memory (see
    /// [`crate::history`]); None: an archive, every block's state on disk.
    kept: Option<Arc<KeptStates>>,
    /// The oldest block whose state is complete (0 until pruning starts).
    first_state: Arc<std::sync::atomic::AtomicU64>,
}

/// A built block waiting for the writer, with its new tree nodes indexed by hash.
struct Staged {
    block: Arc<BuiltBlock>,
    nodes: B256Map<Node>,
}

/// Content-addressed records one thread inserts before taking the next share (see the module
/// docs).
const CHUNK: usize = 4096;

/// How a store is opened: archive or state history, and the size of sled's page cache.
///
/// `Option<u64>` converts into it (the state history, default cache), so
/// `Store::open(path, None)` opens an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Keep only the state of the newest `H + 1` blocks, with their tree in memory (None: an
    /// archive keeping every state on disk); see the module docs. A data directory keeps the
    /// mode it was created with.
    pub state_history: Option<u64>,
    /// sled's page cache, in bytes. sled counts a page by its size on disk; held in memory a
    /// page takes about twice that (measured: ~0.6 GB of heap for the default 256 MiB under
    /// sustained load), so the node's resident memory grows with this figure, not with the
    /// data directory. A smaller cache bounds memory lower at some cost in write throughput:
    /// inserts into pages sled has evicted read them back first. The node's own caches hold
    /// the hot state either way.
    pub cache_bytes: u64,
}

impl StoreOptions {
    /// sled's page cache unless configured (`--db.cache-mb`): 256 MiB.
    pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            state_history: None,
            cache_bytes: Self::DEFAULT_CACHE_BYTES,
        }
    }
}

impl From<Option<u64>> for StoreOptions {
    fn from(state_history: Option<u64>) -> Self {
        Self {
            state_history,
            ..Self::default()
        }
    }
}

/// sled refuses a page cache under 256 bytes; below a few pages it only thrashes.
const MIN_CACHE_BYTES: u64 = 1024 * 1024;

/// `m` key of the oldest block whose state is complete.
const FIRST_STATE: &[u8] = b"firststate";

/// `m` key of where the state tree lives: [`ARCHIVE`] or [`IN_MEMORY`].
const TREE: &[u8] = b"tree";
/// Every state's tree nodes on disk (`n`).
const ARCHIVE: &[u8] = b"archive";
/// The kept states' tree in memory, rebuilt at start from the flat state and changesets.
const IN_MEMORY: &[u8] = b"memory";

/// Version of the record layout in the module docs; bumped whenever a record changes.
pub const FORMAT: u32 = 5;

/// Opens sled in `path`. sled locks its files; a store dropped a moment ago may still hold the
/// lock while sled's background threads wind down, so a held lock is retried for up to
/// [`LOCK_WAIT`] before the open fails with [`StoreError::InUse`].
fn open_db(path: &std::path::Path, cache_bytes: u64) -> Result<sled::Db, StoreError> {
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(cache_bytes.max(MIN_CACHE_BYTES));
    let started = std::time::Instant::now();
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if started.elapsed() >= LOCK_WAIT {
                    return Err(StoreError::InUse(path.display().to_string()));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

/// How long [`open_db`] waits for a held lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

fn num_key(prefix: u8, number: u64) -> Vec<u8> {
    key(prefix, &[&number.to_be_bytes()])
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The u64 (big-endian) stored under the `m` key `name`.
fn read_u64(db: &sled::Db, name: &[u8]) -> Result<Option<u64>, StoreError> {
    db.get(key(b'm', &[name]))?
        .map(|v| {
            v.as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt(String::from_utf8_lossy(name)))
        })
        .transpose()
}

/// A receipt as stored: everything but the logs bloom, which the logs determine (256 bytes
/// less per receipt).
fn without_bloom(receipt: &OpReceiptEnvelope) -> OpReceipt {
    match receipt {
        OpReceiptEnvelope::Legacy(r) => OpReceipt::Legacy(r.receipt.clone()),
        OpReceiptEnvelope::Eip2930(r) => OpReceipt::Eip2930(r.receipt.clone()),
        OpReceiptEnvelope::Eip1559(r) => OpReceipt::Eip1559(r.receipt.clone()),
        OpReceiptEnvelope::Eip7702(r) => OpReceipt::Eip7702(r.receipt.clone()),
        OpReceiptEnvelope::PostExec(r) => OpReceipt::PostExec(r.receipt.clone()),
        OpReceiptEnvelope::Deposit(r) => OpReceipt::Deposit(r.receipt.clone()),
    }
}

impl Store {
    /// Opens (or creates) the store in `path` ([`StoreOptions`]: archive or state history,
    /// sled's cache; `None` opens an archive, `Some(H)` a state history of `H` blocks).
    pub fn open(
        path: &std::path::Path,
        options: impl Into<StoreOptions>,
    ) -> Result<Self, StoreError> {
        let StoreOptions {
            state_history,
            cache_bytes,
        } = options.into();
        let db = open_db(path, cache_bytes)?;
        let format_key = key(b'm', &[b"format"]);
        let tree_key = key(b'm', &[TREE]);
        let tree = if state_history.is_some() {
            IN_MEMORY
        } else {
            ARCHIVE
        };
        let found = match db.get(&format_key)? {
            Some(v) => v.as_ref().try_into().map_or(0, u32::from_be_bytes),
            None if db.is_empty() => {
                db.insert(&format_key, &FORMAT.to_be_bytes())?;
                db.insert(&tree_key, tree)?;
                FORMAT
            }
            None => 0, // written before the format was recorded
        };
        if found != FORMAT {
            return Err(StoreError::WrongFormat {
                found,
                expected: FORMAT,
            });
        }
        let stored_tree = db.get(&tree_key)?;
        if stored_tree.as_deref() != Some(tree) {
            return Err(StoreError::WrongTreeMode {
                archive: stored_tree.as_deref() == Some(ARCHIVE),
            });
        }
        let first_state = read_u64(&db, FIRST_STATE)?.unwrap_or_default();
        let store = Self {
            db,
            head: Arc::new(RwLock::new(None)),
            caches: Arc::new(Caches::default()),
            staged: Arc::new(RwLock::new(VecDeque::new())),
            kept: state_history.map(|history| Arc::new(KeptStates::new(history))),
            first_state: Arc::new(first_state.into()),
        };
        if let Some(number) = store.read_head_number()? {
            let (hash, header) = store
                .header_by_number(number)?
                .ok_or_else(|| corrupt(format!("head block {number} missing")))?;
            *store.head.write() = Some(Head { header, hash });
        }
        if let Some(kept) = &store.kept {
            store.rebuild_kept_states(kept)?;
        }
        Ok(store)
    }

    /// Rebuilds the kept states' tree (see [`crate::history`]): the head's from the flat
    /// records, then each older kept state from the next block's changeset, checking every
    /// root against its header.
    #[instrument(level = "info", skip_all)]
    fn rebuild_kept_states(&self, kept: &KeptStates) -> Result<(), StoreError> {
        use rayon::prelude::*;
        let Some(head) = self.head() else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let mut accounts = Vec::new();
        for item in self.db.scan_prefix([b'a']) {
            let (k, v) = item?;
            let leaf = AccountLeaf::decode(&v).ok_or_else(|| corrupt("account record"))?;
            accounts.push((Address::from_slice(&k[1..]), leaf));
        }
        let mut slots = Vec::new();
        for item in self.db.scan_prefix([b's']) {
            let (k, v) = item?;
            if k.len() != 53 || v.len() != 32 {
                return Err(corrupt("storage record"));
            }
            slots.push((
                Address::from_slice(&k[1..21]),
                U256::from_be_slice(&k[21..]),
                v,
            ));
        }
        let mut changes: Vec<smt::Change> = accounts
            .par_iter()
            .filter(|(_, leaf)| !leaf.is_empty())
            .map(|(address, leaf)| (account_key(address), Some(leaf.value_hash())))
            .collect();
        changes.par_extend(slots.par_iter().map(|(address, slot, value)| {
            (storage_key(address, slot), Some(B256::from_slice(value)))
        }));
        let leaves = changes.len();
        let live = smt::update(&smt::MemoryNodes::new(), B256::ZERO, changes)
            .map_err(fraud_vm::Error::from)?;
        if live.root != head.header.state_root {
            return Err(corrupt(format!(
                "the flat state's root {} is not the state root of head block {}",
                live.root, head.header.number
            )));
        }
        kept.insert_nodes(&live.new_nodes, head.header.number, Order::Newest);
        // The older kept states, newest first: block N's changeset turns its state into
        // its parent's; the nodes that creates are the ones block N made stale.
        let mut root = live.root;
        let mut first = head.header.number;
        while first > self.first_state() {
            let Some(bytes) = self.db.get(num_key(b'x', first))? else {
                break;
            };
            let changeset = decode_changeset(&bytes)
                .ok_or_else(|| corrupt(format!("changeset of block {first}")))?;
            let parent =
                smt::update(kept, root, changeset.tree_changes()).map_err(fraud_vm::Error::from)?;
            let (_, header) = self
                .header_by_number(first - 1)?
                .ok_or_else(|| corrupt(format!("header {} missing", first - 1)))?;
            if parent.root != header.state_root {
                return Err(corrupt(format!(
                    "block {first}'s changeset does not lead back to block {}'s state root",
                    first - 1
                )));
            }
            let stale = parent.new_nodes.iter().map(|(hash, _)| *hash).collect();
            kept.add_block(first, &parent.new_nodes, stale, &changeset, Order::Oldest);
            root = parent.root;
            first -= 1;
        }
        self.first_state
            .store(first, std::sync::atomic::Ordering::Release);
        info!(
            leaves,
            nodes = kept.len(),
            states = head.header.number - first + 1,
            ms = started.elapsed().as_millis() as u64,
            "rebuilt the kept states' tree"
        );
        Ok(())
    }

    /// The oldest block whose state the store can serve.
    pub fn first_state(&self) -> u64 {
        self.first_state.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Checks that the state of block `number` was not pruned.
    pub fn state_available(&self, number: u64) -> Result<(), StoreError> {
        let first = self.first_state();
        if number < first {
            return Err(StoreError::Pruned { number, first });
        }
        Ok(())
    }

    fn read_head_number(&self) -> Result<Option<u64>, StoreError> {
        read_u64(&self.db, b"head")
    }

    /// The derivation cursor of the newest block that had an L1 origin.
    pub fn l1_cursor(&self) -> Result<Option<L1Cursor>, StoreError> {
        match self.db.get(key(b'm', &[b"l1cursor"]))? {
            None => Ok(None),
            Some(v) => L1Cursor::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt("l1 cursor")),
        }
    }

    /// The L1 record of block `number`: its origin and the delayed messages consumed up to
    /// and including it (None: the block has no L1 origin).
    pub fn block_l1(&self, number: u64) -> Result<Option<L1Cursor>, StoreError> {
        match self.db.get(num_key(b'd', number))? {
            None => Ok(None),
            Some(v) => L1Cursor::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt(format!("L1 record of block {number}"))),
        }
    }

    /// Delayed messages consumed up to and including block `number`: the count of the newest
    /// block at or below it with an L1 origin (0 if none).
    pub fn delayed_read_at(&self, number: u64) -> Result<u64, StoreError> {
        let range = num_key(b'd', 0)..=num_key(b'd', number);
        match self.db.range(range).next_back() {
            None => Ok(0),
            Some(item) => {
                let (_, v) = item?;
                L1Cursor::decode(&v)
                    .map(|c| c.next_deposit)
                    .ok_or_else(|| corrupt(format!("L1 record at or below {number}")))
            }
        }
    }

    /// The current head, if the store holds a chain.
    pub fn head(&self) -> Option<Head> {
        self.head.read().clone()
    }

    /// Head block number (0 for an empty store).
    pub fn head_number(&self) -> u64 {
        self.head.read().as_ref().map_or(0, |h| h.header.number)
    }

    /// The newest built block: the last staged one, else the head. The sequencer builds on it;
    /// nothing else may report it (it may not be on disk yet).
    pub fn tip(&self) -> Option<Head> {
        match self.staged.read().back() {
            Some(s) => Some(Head {
                header: s.block.header.clone(),
                hash: s.block.hash,
            }),
            None => self.head(),
        }
    }

    /// Number of staged blocks (built, not yet on disk).
    pub fn staged_len(&self) -> usize {
        self.staged.read().len()
    }

    /// Adds a built block on top of the tip to the in-memory overlay, so the next block can be
    /// built on its state before it is written ([`Store::commit_block`] writes it and removes
    /// it from the overlay).
    pub fn stage(&self, block: Arc<BuiltBlock>) -> Result<(), StoreError> {
        let tip = self.tip().map(|t| (t.header.number, t.hash));
        if tip
            != Some((
                block.header.number.wrapping_sub(1),
                block.header.parent_hash,
            ))
        {
            return Err(corrupt(format!(
                "staged block {} ({}) does not extend the tip {tip:?}",
                block.header.number, block.hash
            )));
        }
        let nodes = block.new_nodes.iter().copied().collect();
        self.staged
            .write()
            .push_back(Arc::new(Staged { block, nodes }));
        Ok(())
    }

    /// Persists a built block and makes it the head. Returns once it is on disk (see the module
    /// docs for the write order). The block must extend the head; if it is the oldest staged
    /// block it leaves the overlay.
    pub fn commit_block(&self, block: &BuiltBlock) -> Result<(), StoreError> {
        self.commit_block_with_cursor(block, None, false)
    }

    /// [`Store::commit_block`], also recording the derivation cursor `cursor` after the block
    /// in the same atomic batch (so the block and the deposits it consumed are durable
    /// together). `has_origin`: the block itself has the cursor's origin (it opens with its
    /// L1-info deposit); then the cursor is also stored as the block's L1 record (`d`).
    #[instrument(level = "debug", skip_all, fields(number = block.header.number))]
    pub fn commit_block_with_cursor(
        &self,
        block: &BuiltBlock,
        cursor: Option<&L1Cursor>,
        has_origin: bool,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let number = block.header.number;
        if let Some(cursor) = cursor {
            batch.insert(key(b'm', &[b"l1cursor"]), cursor.encode());
            if has_origin {
                batch.insert(num_key(b'd', number), cursor.encode());
            }
        }
        let nb = number.to_be_bytes();

        let mut header_value = Vec::with_capacity(600);
        header_value.extend_from_slice(block.hash.as_slice());
        block.header.encode(&mut header_value);
        batch.insert(num_key(b'h', number), header_value);
        batch.insert(key(b'H', &[block.hash.as_slice()]), &nb);

        let txs: Vec<Bytes> = block
            .transactions
            .iter()
            .map(|t| t.encoded_2718().into())
            .collect();
        let mut body = Vec::new();
        txs.encode(&mut body);
        batch.insert(num_key(b'b', number), body);
        let senders: Vec<u8> = block.senders.iter().flat_map(|a| a.0 .0).collect();
        batch.insert(num_key(b'S', number), senders);
        let receipts: Vec<OpReceipt> = block.receipts.iter().map(without_bloom).collect();
        let mut rbytes = Vec::new();
        receipts.encode(&mut rbytes);
        batch.insert(num_key(b'r', number), rbytes);

        let mut logged = std::collections::BTreeSet::new();
        for r in &block.receipts {
            for log in r.logs() {
                logged.insert(log.address);
            }
        }
        for address in logged {
            batch.insert(key(b'l', &[address.as_slice(), &nb]), &[]);
        }

        self.write_content(block)?;
        let changeset = match &self.kept {
            Some(_) if number > 0 => {
                let changeset = self.changeset(block)?;
                batch.insert(num_key(b'x', number), encode_changeset(&changeset));
                Some(changeset)
            }
            _ => None,
        };

        for (address, account) in &block.diff.accounts {
            let k = key(b'a', &[address.as_slice()]);
            match account {
                Some(leaf) => batch.insert(k, &leaf.encode()[..]),
                None => batch.remove(k),
            }
        }
        for ((address, slot), value) in &block.diff.storage {
            let k = key(b's', &[address.as_slice(), &slot.to_be_bytes::<32>()]);
            if value.is_zero() {
                batch.remove(k);
            } else {
                batch.insert(k, &value.to_be_bytes::<32>()[..]);
            }
        }
        batch.insert(key(b'm', &[b"head"]), &nb);

        self.db.apply_batch(batch)?;
        self.db.flush()?;
        let cached_nodes = match &self.kept {
            Some(kept) => {
                kept.add_block(
                    number,
                    &block.new_nodes,
                    block.stale_nodes.clone(),
                    &changeset.unwrap_or_default(),
                    Order::Newest,
                );
                &[][..]
            }
            None => &block.new_nodes[..],
        };
        self.caches.commit(
            block.diff.accounts.iter(),
            block.diff.storage.iter(),
            cached_nodes.iter(),
        );
        {
            // Head and overlay change together: a tip read sees the block either in the
            // overlay or in the caches and sled.
            let mut staged = self.staged.write();
            if staged.front().is_some_and(|s| s.block.hash == block.hash) {
                staged.pop_front();
            }
            *self.head.write() = Some(Head {
                header: block.header.clone(),
                hash: block.hash,
            });
        }
        debug!(hash = %block.hash, txs = block.transactions.len(), "block committed");
        if let Some(kept) = &self.kept {
            self.prune(number.saturating_sub(kept.history()))?;
        }
        Ok(())
    }

    /// The values `block`'s changes replace (its changeset): the head's, read before the
    /// block is written.
    fn changeset(&self, block: &BuiltBlock) -> Result<StateDiff, StoreError> {
        use rayon::prelude::*;
        let accounts: Vec<(Address, Option<AccountLeaf>)> = block
            .diff
            .accounts
            .par_iter()
            .map(|(address, _)| Ok((*address, self.account(address)?)))
            .collect::<Result<_, StoreError>>()?;
        let storage: Vec<((Address, U256), U256)> = block
            .diff
            .storage
            .par_iter()
            .map(|((address, slot), _)| Ok(((*address, *slot), self.storage(address, slot)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(StateDiff {
            accounts: accounts.into_iter().collect(),
            storage: storage.into_iter().collect(),
            codes: Default::default(),
        })
    }

    /// Drops the kept states before block `upto` (see [`crate::history`]): the state of
    /// `upto` and later ones stay whole.
    #[instrument(level = "debug", skip(self))]
    fn prune(&self, upto: u64) -> Result<(), StoreError> {
        let first = self.first_state();
        let Some(kept) = self.kept.as_ref().filter(|_| upto > first) else {
            return Ok(());
        };
        let deleted = kept.drop_through(upto);
        // The changesets go with the first state, atomically: a restart rebuilds exactly the
        // states from `firststate` on.
        let mut batch = sled::Batch::default();
        for number in first + 1..=upto {
            batch.remove(num_key(b'x', number));
        }
        batch.insert(key(b'm', &[FIRST_STATE]), &upto.to_be_bytes());
        self.db.apply_batch(batch)?;
        self.first_state
            .store(upto, std::sync::atomic::Ordering::Release);
        debug!(upto, deleted, "dropped old states");
        Ok(())
    }

    /// Writes a block's content-addressed records (tree nodes, an account's leaf with the
    /// account, code, code roots) and its transaction locations, and flushes them: the first
    /// step of [`Store::commit_block`] (see the module docs). Harmless on its own: nothing
    /// reads the records until the block's final batch makes it the head.
    fn write_content(&self, block: &BuiltBlock) -> Result<(), StoreError> {
        use rayon::prelude::*;
        let mut records: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(
            block.new_nodes.len()
                + block.diff.codes.len()
                + block.code_roots.len()
                + block.transactions.len(),
        );
        // Only an archive keeps its tree on disk.
        if self.kept.is_none() {
            // An account's leaf node carries the account (the leaf only holds its hash).
            let accounts: B256Map<&AccountLeaf> = block
                .diff
                .accounts
                .iter()
                .filter_map(|(address, leaf)| Some((account_key(address), leaf.as_ref()?)))
                .collect();
            for (hash, node) in &block.new_nodes {
                let mut record =
                    Vec::with_capacity(smt::NODE_ENCODED_LEN + AccountLeaf::ENCODED_LEN);
                node.encode_into(&mut record);
                if let Node::Leaf { key: k, value } = node {
                    if let Some(account) = accounts.get(k).filter(|a| a.value_hash() == *value) {
                        record.extend_from_slice(&account.encode());
                    }
                }
                records.push((key(b'n', &[hash.as_slice()]), record));
            }
        }
        for (hash, code) in &block.diff.codes {
            records.push((key(b'c', &[hash.as_slice()]), code.to_vec()));
        }
        for (hash, root) in &block.code_roots {
            records.push((key(b'R', &[hash.as_slice()]), root.to_vec()));
        }
        // Transaction locations name the block's hash: one left by a block that never became
        // the head (a crash between the two steps) does not match the block stored there.
        let number = block.header.number.to_be_bytes();
        for (i, tx) in block.transactions.iter().enumerate() {
            let mut v = Vec::with_capacity(44);
            v.extend_from_slice(&number);
            v.extend_from_slice(&(i as u32).to_be_bytes());
            v.extend_from_slice(block.hash.as_slice());
            records.push((key(b't', &[tx.tx_hash().as_slice()]), v));
        }
        // Plain inserts, not one batch: sled's batch holds a lock that stops every reader,
        // while inserts of different keys run side by side on all cores. In key order, so
        // consecutive inserts land in the same pages and each thread works on its own range.
        records.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        records
            .par_chunks(CHUNK)
            .try_for_each(|chunk| -> Result<(), StoreError> {
                for (k, v) in chunk {
                    self.db.insert(k.as_slice(), v.as_slice())?;
                }
                Ok(())
            })?;
        // On disk before the batch that makes the head reference them.
        self.db.flush()?;
        Ok(())
    }

    /// Hash and header of block `number`.
    pub fn header_by_number(&self, number: u64) -> Result<Option<(B256, Header)>, StoreError> {
        let Some(v) = self.db.get(num_key(b'h', number))? else {
            return Ok(None);
        };
        if v.len() < 32 {
            return Err(corrupt(format!("header {number}")));
        }
        let hash = B256::from_slice(&v[..32]);
        let header =
            Header::decode(&mut &v[32..]).map_err(|e| corrupt(format!("header {number}: {e}")))?;
        Ok(Some((hash, header)))
    }

    /// The hash of stored block `number`, without decoding its header.
    fn stored_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        match self.db.get(num_key(b'h', number))? {
            None => Ok(None),
            Some(v) if v.len() >= 32 => Ok(Some(B256::from_slice(&v[..32]))),
            Some(_) => Err(corrupt(format!("header {number}"))),
        }
    }

    /// Number of the block with this hash (only blocks up to the announced head: a block being
    /// committed is invisible until [`Store::commit_block`] returns).
    pub fn number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        let number = match self.db.get(key(b'H', &[hash.as_slice()]))? {
            None => return Ok(None),
            Some(v) => {
                u64::from_be_bytes(v.as_ref().try_into().map_err(|_| corrupt("hash index"))?)
            }
        };
        Ok(self.visible(number))
    }

    fn visible(&self, number: u64) -> Option<u64> {
        let head = self.head.read();
        head.as_ref()
            .filter(|h| number <= h.header.number)
            .map(|_| number)
    }

    /// The whole block `number`.
    pub fn block_by_number(&self, number: u64) -> Result<Option<StoredBlock>, StoreError> {
        let Some((hash, header)) = self.header_by_number(number)? else {
            return Ok(None);
        };
        let body = self
            .db
            .get(num_key(b'b', number))?
            .ok_or_else(|| corrupt(format!("body {number} missing")))?;
        let raw: Vec<Bytes> =
            Vec::decode(&mut body.as_ref()).map_err(|e| corrupt(format!("body {number}: {e}")))?;
        let transactions = raw
            .iter()
            .map(|b| OpTxEnvelope::decode_2718(&mut b.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(format!("body {number}: {e}")))?;
        let senders_raw = self
            .db
            .get(num_key(b'S', number))?
            .ok_or_else(|| corrupt(format!("senders {number} missing")))?;
        let senders: Vec<Address> = senders_raw
            .chunks_exact(20)
            .map(Address::from_slice)
            .collect();
        if senders.len() != transactions.len() {
            return Err(corrupt(format!("senders {number}")));
        }
        Ok(Some(StoredBlock {
            header,
            hash,
            transactions,
            senders,
        }))
    }

    /// The receipts of block `number`.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<OpReceiptEnvelope>>, StoreError> {
        let Some(v) = self.db.get(num_key(b'r', number))? else {
            return Ok(None);
        };
        let stored: Vec<OpReceipt> =
            Vec::decode(&mut v.as_ref()).map_err(|e| corrupt(format!("receipts {number}: {e}")))?;
        Ok(Some(
            stored
                .into_iter()
                .map(|r| OpReceiptEnvelope::from(r.into_with_bloom()))
                .collect(),
        ))
    }

    /// Where a transaction was included: (block number, index), for blocks up to the head.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<(u64, usize)>, StoreError> {
        let Some(v) = self.db.get(key(b't', &[hash.as_slice()]))? else {
            return Ok(None);
        };
        if v.len() != 44 {
            return Err(corrupt("tx index"));
        }
        let number = u64::from_be_bytes(v[..8].try_into().map_err(|_| corrupt("tx index"))?);
        let index = u32::from_be_bytes(v[8..12].try_into().map_err(|_| corrupt("tx index"))?);
        let Some(number) = self.visible(number) else {
            return Ok(None);
        };
        let stored = self.stored_hash(number)?;
        Ok((stored.as_ref().map(|h| h.as_slice()) == Some(&v[12..]))
            .then_some((number, index as usize)))
    }

    /// Block numbers in `[from, to]` where `address` emitted a log.
    pub fn blocks_with_logs_from(
        &self,
        address: &Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let start = key(b'l', &[address.as_slice(), &from.to_be_bytes()]);
        let end = key(
            b'l',
            &[address.as_slice(), &to.saturating_add(1).to_be_bytes()],
        );
        let mut out = Vec::new();
        for item in self.db.range(start..end) {
            let (k, _) = item?;
            let nb: [u8; 8] = k[21..29].try_into().map_err(|_| corrupt("log index"))?;
            out.push(u64::from_be_bytes(nb));
        }
        Ok(out)
    }

    /// Latest account leaf of `address`.
    pub fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        self.caches
            .account(address, || self.account_from_disk(address))
    }

    fn account_from_disk(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        match self.db.get(key(b'a', &[address.as_slice()]))? {
            None => Ok(None),
            Some(v) => AccountLeaf::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt(format!("account {address}"))),
        }
    }

    /// Latest value of a storage slot.
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        self.caches
            .slot(address, slot, || self.storage_from_disk(address, slot))
    }

    fn storage_from_disk(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        Ok(
            match self
                .db
                .get(key(b's', &[address.as_slice(), &slot.to_be_bytes::<32>()]))?
            {
                None => U256::ZERO,
                Some(v) if v.len() == 32 => U256::from_be_slice(&v),
                Some(_) => return Err(corrupt("storage value")),
            },
        )
    }

    /// Code by its hash.
    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        if *hash == alloy_primitives::KECCAK256_EMPTY {
            return Ok(Some(Bytes::new()));
        }
        Ok(self
            .db
            .get(key(b'c', &[hash.as_slice()]))?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    /// The account `address` holds in a state whose tree has the leaf value `value` at its
    /// key: in an archive, kept with the leaf node; with a state history, the latest account
    /// or an older one from the kept changesets.
    fn account_with_value(
        &self,
        address: &Address,
        value: &B256,
    ) -> Result<AccountLeaf, StoreError> {
        let hash = smt::leaf_hash(&account_key(address), value);
        let found = match &self.kept {
            Some(kept) => match self.account(address)? {
                Some(latest) if latest.value_hash() == *value => Some(latest),
                _ => kept.old_account(address, value),
            },
            None => match self.db.get(key(b'n', &[hash.as_slice()]))? {
                None => None,
                Some(v) => {
                    let (_, account) = Node::decode_prefix(&v).map_err(fraud_vm::Error::from)?;
                    AccountLeaf::decode(account)
                }
            },
        };
        found
            .filter(|a| a.value_hash() == *value)
            .ok_or_else(|| corrupt(format!("account of leaf {hash}")))
    }

    /// Size of the data directory on disk, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or_default()
    }

    /// The latest state, read from the flat records.
    pub fn latest(&self) -> LatestState<'_> {
        LatestState { store: self }
    }

    /// The state after the tip (staged blocks over the flushed state): what the next block
    /// executes on. Only the sequencer may use it (staged blocks are not reported yet).
    pub fn tip_state(&self) -> TipState<'_> {
        let staged: Vec<Arc<Staged>> = self.staged.read().iter().rev().cloned().collect();
        let root = match staged.first() {
            Some(s) => s.block.header.state_root,
            None => self
                .head
                .read()
                .as_ref()
                .map_or(B256::ZERO, |h| h.header.state_root),
        };
        TipState {
            store: self,
            staged,
            root,
        }
    }

    /// Whether the tree at `root` holds no leaf at `key`, decided from nodes held in memory
    /// only (`staged` blocks' nodes and the node cache). `None`: the path leaves memory.
    fn absent_in_memory(&self, staged: &[Arc<Staged>], root: B256, key: &B256) -> Option<bool> {
        let mut hash = root;
        let mut depth = 0;
        loop {
            if hash.is_zero() {
                return Some(true);
            }
            let node = staged
                .iter()
                .find_map(|s| s.nodes.get(&hash).copied())
                .or_else(|| match &self.kept {
                    Some(kept) => kept.node(&hash),
                    None => self.caches.cached_node(&hash),
                })?;
            match node {
                Node::Leaf { key: k, .. } => return Some(k != *key),
                Node::Internal { left, right } => {
                    if depth >= smt::MAX_DEPTH {
                        return None;
                    }
                    hash = if smt::key_bit(key, depth) {
                        right
                    } else {
                        left
                    };
                    depth += 1;
                }
            }
        }
    }

    /// The state at a block's state root, read through the state tree.
    pub fn at_root(&self, root: B256) -> HistoricalState<'_> {
        HistoricalState { store: self, root }
    }

    fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        Ok(self.stored_hash(number)?.unwrap_or_default())
    }

    fn code_root(&self, hash: &B256) -> Result<B256, ProviderError> {
        match self
            .db
            .get(key(b'R', &[hash.as_slice()]))
            .map_err(StoreError::from)?
        {
            Some(v) if v.len() == 32 => Ok(B256::from_slice(&v)),
            _ => Err(StoreError::Corrupt(format!("code root of {hash} missing")).into()),
        }
    }

    fn code_bytecode(&self, hash: B256) -> Result<Bytecode, ProviderError> {
        match self.code(&hash)? {
            Some(code) => Ok(Bytecode::new_raw(code)),
            None => Err(StoreError::Corrupt(format!("code {hash} missing")).into()),
        }
    }
}

impl NodeReader for Store {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        if let Some(kept) = &self.kept {
            return Ok(kept.node(hash));
        }
        self.caches
            .node(hash, || match self.db.get(key(b'n', &[hash.as_slice()])) {
                Ok(None) => Ok(None),
                Ok(Some(v)) => Node::decode_prefix(&v).map(|(node, _)| Some(node)),
                Err(e) => Err(SmtError::Store(e.to_string())),
            })
    }
}

/// The latest state (flat records).
pub struct LatestState<'a> {
    store: &'a Store,
}

impl DatabaseRef for LatestState<'_> {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .store
            .account(&address)?
            .as_ref()
            .map(AccountLeaf::to_account_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.store.code_bytecode(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.store.storage(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.store.block_hash(number)
    }
}

impl NodeReader for LatestState<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        self.store.node(hash)
    }
}

impl StateProvider for LatestState<'_> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        self.store.code_root(code_hash)
    }
}

/// The state under one state root (any past block), read through the state tree.
pub struct HistoricalState<'a> {
    store: &'a Store,
    root: B256,
}

impl HistoricalState<'_> {
    /// The account leaf of `address` at this state.
    pub fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        let key = account_key(address);
        match smt::get(self.store, self.root, &key).map_err(fraud_vm::Error::from)? {
            None => Ok(None),
            Some(value) => self.store.account_with_value(address, &value).map(Some),
        }
    }

    /// A storage slot at this state.
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        Ok(smt::get(self.store, self.root, &storage_key(address, slot))
            .map_err(fraud_vm::Error::from)?
            .map_or(U256::ZERO, |v| U256::from_be_bytes(v.0)))
    }
}

impl DatabaseRef for HistoricalState<'_> {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .account(&address)?
            .as_ref()
            .map(AccountLeaf::to_account_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.store.code_bytecode(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.store.block_hash(number)
    }
}

impl NodeReader for HistoricalState<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        self.store.node(hash)
    }
}

impl StateProvider for HistoricalState<'_> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        self.store.code_root(code_hash)
    }
}

/// The state after the tip ([`Store::tip_state`]): staged blocks (newest first), then the
/// caches and sled. Absent accounts and slots are recognised from the state tree in memory
/// when possible (see the module docs).
pub struct TipState<'a> {
    store: &'a Store,
    /// Staged blocks when the view was taken, newest first.
    staged: Vec<Arc<Staged>>,
    /// The tip's state root.
    root: B256,
}

impl TipState<'_> {
    /// The account leaf of `address` at the tip.
    pub fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        for s in &self.staged {
            if let Some(account) = s.block.diff.accounts.get(address) {
                return Ok(*account);
            }
        }
        if let Some(hit) = self.store.caches.cached_account(address) {
            return Ok(hit);
        }
        if self
            .store
            .absent_in_memory(&self.staged, self.root, &account_key(address))
            == Some(true)
        {
            return Ok(None);
        }
        self.store.account(address)
    }

    /// A storage slot at the tip.
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        for s in &self.staged {
            if let Some(value) = s.block.diff.storage.get(&(*address, *slot)) {
                return Ok(*value);
            }
        }
        if let Some(hit) = self.store.caches.cached_slot(address, slot) {
            return Ok(hit);
        }
        if self
            .store
            .absent_in_memory(&self.staged, self.root, &storage_key(address, slot))
            == Some(true)
        {
            return Ok(U256::ZERO);
        }
        self.store.storage(address, slot)
    }
}

impl DatabaseRef for TipState<'_> {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .account(&address)?
            .as_ref()
            .map(AccountLeaf::to_account_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        for s in &self.staged {
            if let Some(code) = s.block.diff.codes.get(&code_hash) {
                return Ok(Bytecode::new_raw(code.clone()));
            }
        }
        self.store.code_bytecode(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        for s in &self.staged {
            if s.block.header.number == number {
                return Ok(s.block.hash);
            }
        }
        self.store.block_hash(number)
    }
}

impl NodeReader for TipState<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        for s in &self.staged {
            if let Some(node) = s.nodes.get(hash) {
                return Ok(Some(*node));
            }
        }
        self.store.node(hash)
    }
}

impl StateProvider for TipState<'_> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        for s in &self.staged {
            if let Some((_, root)) = s.block.code_roots.iter().find(|(h, _)| h == code_hash) {
                return Ok(*root);
            }
        }
        self.store.code_root(code_hash)
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::TxKind;
    use fraud_vm::{
        chain::ChainSpec,
        execute::{BlockAttributes, BlockBuilder},
    };
    use op_alloy_consensus::TxDeposit;

    use super::*;
    use crate::node::{open_chain, DEV_GENESIS};

    const ETH: u128 = 1_000_000_000_000_000_000;

    /// A block on the store's tip holding one deposit minting 1 ETH to `to`.
    fn deposit_block(store: &Store, spec: &ChainSpec, to: Address, salt: u8) -> BuiltBlock {
        let tip = store.tip().expect("a chain");
        let state = store.tip_state();
        let attributes = BlockAttributes {
            timestamp: tip.header.timestamp + u64::from(salt),
            gas_limit: 30_000_000,
            prevrandao: B256::repeat_byte(salt),
            extra_data: Bytes::new(),
        };
        let mut builder = BlockBuilder::new(spec, &state, &tip.header, tip.hash, attributes);
        builder
            .execute_deposit(TxDeposit {
                source_hash: B256::repeat_byte(salt),
                from: to,
                to: TxKind::Call(to),
                mint: ETH,
                value: U256::ZERO,
                gas_limit: 100_000,
                is_system_transaction: false,
                input: Bytes::new(),
            })
            .expect("the deposit applies");
        builder.finish().expect("the block seals")
    }

    #[test]
    fn staged_blocks_feed_the_next_block_but_are_reported_only_once_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
        let (a, b) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb2));

        let one = Arc::new(deposit_block(&store, &genesis.spec, a, 1));
        store.stage(one.clone()).expect("stage");
        assert_eq!(store.tip().map(|t| t.hash), Some(one.hash));
        assert_eq!(store.head_number(), 0, "a staged block is not the head");
        assert!(store.header_by_number(1).expect("read").is_none());
        assert!(store.account(&a).expect("read").is_none());
        assert!(store.tip_state().account(&a).expect("read").is_some());
        // Block 2 built on the staged block 1 ...
        let two = deposit_block(&store, &genesis.spec, b, 2);
        assert_eq!(two.header.parent_hash, one.hash);

        // ... is the block built once block 1 is on disk: same state root, same hash.
        store.commit_block(&one).expect("commit 1");
        assert_eq!(store.staged_len(), 0);
        assert_eq!(store.head_number(), 1);
        let again = deposit_block(&store, &genesis.spec, b, 2);
        assert_eq!(again.header.state_root, two.header.state_root);
        assert_eq!(again.hash, two.hash);
        store.stage(Arc::new(two)).expect("stage 2");
        store.commit_block(&again).expect("commit 2");
        assert_eq!(store.head_number(), 2);
        let at_two = store.at_root(again.header.state_root);
        assert_eq!(
            at_two.account(&a).expect("read").map(|l| l.balance),
            Some(U256::from(ETH))
        );
        assert_eq!(
            at_two.account(&b).expect("read").map(|l| l.balance),
            Some(U256::from(ETH))
        );
    }

    /// A block on the store's tip that sets `accounts` (balance; 0 deletes) and slots of
    /// `HOLDER` (0 clears), built straight from the tree update.
    fn state_block(store: &Store, accounts: &[(Address, u64)], slots: &[(u64, u64)]) -> BuiltBlock {
        let tip = store.tip().expect("a chain");
        let mut diff = fraud_vm::state::StateDiff::default();
        for (address, balance) in accounts {
            let leaf = AccountLeaf {
                balance: U256::from(*balance),
                ..AccountLeaf::empty()
            };
            diff.accounts
                .insert(*address, (*balance != 0).then_some(leaf));
        }
        for (slot, value) in slots {
            diff.storage
                .insert((HOLDER, U256::from(*slot)), U256::from(*value));
        }
        let update = smt::update(
            &store.tip_state(),
            tip.header.state_root,
            diff.tree_changes(),
        )
        .expect("tree update");
        let header = Header {
            parent_hash: tip.hash,
            number: tip.header.number + 1,
            timestamp: tip.header.timestamp + 1,
            state_root: update.root,
            ..tip.header.clone()
        };
        BuiltBlock {
            hash: header.hash_slow(),
            header,
            transactions: Vec::new(),
            senders: Vec::new(),
            receipts: Vec::new(),
            outcomes: Vec::new(),
            diff,
            code_roots: Vec::new(),
            new_nodes: update.new_nodes,
            stale_nodes: update.stale_nodes,
        }
    }

    const HOLDER: Address = Address::repeat_byte(0x5e);

    /// Hashes of the tree nodes held: in memory with a state history, else on disk (`n`).
    fn stored_nodes(store: &Store) -> std::collections::BTreeSet<B256> {
        let on_disk = store
            .db
            .scan_prefix([b'n'])
            .map(|item| B256::from_slice(&item.expect("scan").0[1..]));
        match &store.kept {
            Some(kept) => {
                assert_eq!(on_disk.count(), 0, "a state history writes no tree nodes");
                kept.hashes().into_iter().collect()
            }
            None => on_disk.collect(),
        }
    }

    /// Hashes of the nodes of the tree at `root`, read from the store.
    fn tree_nodes(store: &Store, root: B256, into: &mut std::collections::BTreeSet<B256>) {
        let mut todo = vec![root];
        while let Some(hash) = todo.pop() {
            if hash.is_zero() || !into.insert(hash) {
                continue;
            }
            match store.node(&hash).expect("read") {
                Some(Node::Internal { left, right }) => todo.extend([left, right]),
                Some(Node::Leaf { .. }) => {}
                None => panic!("node {hash} of a kept state is missing"),
            }
        }
    }

    /// With a state history of 3 blocks the store keeps exactly the tree nodes of the last 4
    /// states, however often values go back and forth (which recreates old nodes), answers
    /// every kept state in full and refuses older ones; an archive store keeps them all.
    /// Pruning goes on across a restart halfway.
    #[test]
    fn a_state_history_keeps_exactly_the_recent_states() {
        const HISTORY: u64 = 3;
        let accounts: Vec<Address> = (1..=6u8).map(Address::repeat_byte).collect();
        for history in [Some(HISTORY), None] {
            let dir = tempfile::tempdir().expect("tempdir");
            let (mut store, _) = open_chain(dir.path(), DEV_GENESIS, history).expect("chain");
            let mut roots = vec![store.head().expect("genesis").header.state_root];
            // expected[n]: balances and slots after block n (only the ones the test writes).
            let mut expected = vec![(vec![0u64; 6], vec![0u64; 8])];
            // changes[n]: the accounts block n set (indices into `accounts`).
            let mut changes: Vec<Vec<usize>> = vec![Vec::new()];
            let mut rng = 0x2545_f491_4f6c_dd1du64;
            let mut next = move |m: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % m
            };
            for number in 1..=40u64 {
                if number == 21 {
                    drop(store);
                    store = open_chain(dir.path(), DEV_GENESIS, history)
                        .expect("reopen")
                        .0;
                }
                let (mut balances, mut slots) = expected.last().cloned().expect("a state");
                // Few values, so states (and tree nodes) recur.
                let mut changed = Vec::new();
                let set: Vec<(Address, u64)> = (0..3)
                    .map(|_| {
                        let i = next(6) as usize;
                        balances[i] = next(3);
                        changed.push(i);
                        (accounts[i], balances[i])
                    })
                    .collect();
                changes.push(changed);
                let writes: Vec<(u64, u64)> = (0..3)
                    .map(|_| {
                        let slot = next(8);
                        slots[slot as usize] = next(3);
                        (slot, slots[slot as usize])
                    })
                    .collect();
                let block = state_block(&store, &set, &writes);
                store.commit_block(&block).expect("commit");
                roots.push(block.header.state_root);
                expected.push((balances, slots));

                let first = match history {
                    Some(h) => number.saturating_sub(h),
                    None => 0,
                };
                assert_eq!(store.first_state(), first);
                let mut live = std::collections::BTreeSet::new();
                for n in first..=number {
                    store.state_available(n).expect("a kept state");
                    let state = store.at_root(roots[n as usize]);
                    let (balances, slots) = &expected[n as usize];
                    for (address, balance) in accounts.iter().zip(balances) {
                        let read = state.account(address).expect("read").map(|a| a.balance);
                        assert_eq!(read.unwrap_or_default(), U256::from(*balance));
                    }
                    for (slot, value) in slots.iter().enumerate() {
                        let read = state.storage(&HOLDER, &U256::from(slot)).expect("read");
                        assert_eq!(read, U256::from(*value), "block {n} slot {slot}");
                    }
                    tree_nodes(&store, roots[n as usize], &mut live);
                }
                for n in 0..first {
                    assert!(matches!(
                        store.state_available(n),
                        Err(StoreError::Pruned { .. })
                    ));
                }
                let stored = stored_nodes(&store);
                if let Some(kept) = &store.kept {
                    assert_eq!(
                        stored, live,
                        "block {number}: stored nodes are the kept states' nodes"
                    );
                    // Old accounts: exactly those the kept blocks' changesets replaced.
                    let mut old = std::collections::BTreeSet::new();
                    for n in first + 1..=number {
                        for &i in &changes[n as usize] {
                            let balance = expected[n as usize - 1].0[i];
                            if balance != 0 {
                                let leaf = AccountLeaf {
                                    balance: U256::from(balance),
                                    ..AccountLeaf::empty()
                                };
                                old.insert((accounts[i], leaf.value_hash()));
                            }
                        }
                    }
                    assert_eq!(kept.old_account_keys(), old, "block {number}: old accounts");
                } else {
                    let mut all = std::collections::BTreeSet::new();
                    for root in &roots {
                        tree_nodes(&store, *root, &mut all);
                    }
                    assert_eq!(stored, all);
                }
            }
            drop(store);
            // The pruning point survives a restart.
            let (store, _) = open_chain(dir.path(), DEV_GENESIS, history).expect("reopen");
            assert_eq!(store.first_state(), history.map_or(0, |h| 40 - h));
        }
    }

    /// Receipts are stored without their bloom and come back equal, bloom, logs and deposit
    /// fields included.
    #[test]
    fn receipts_come_back_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
        let tip = store.tip().expect("a chain");
        let state = store.tip_state();
        let attributes = BlockAttributes {
            timestamp: tip.header.timestamp + 1,
            gas_limit: 30_000_000,
            prevrandao: B256::ZERO,
            extra_data: Bytes::new(),
        };
        let mut builder =
            BlockBuilder::new(&genesis.spec, &state, &tip.header, tip.hash, attributes);
        // Initcode: LOG1(memory[0..1], topic 0x77…77), then stop.
        let mut initcode = vec![0x7f];
        initcode.extend([0x77; 32]);
        initcode.extend([0x60, 0x01, 0x60, 0x00, 0xa1, 0x00]);
        for (salt, to, input) in [
            (1u8, TxKind::Call(Address::repeat_byte(0xa1)), Bytes::new()),
            (2u8, TxKind::Create, Bytes::from(initcode)),
        ] {
            builder
                .execute_deposit(TxDeposit {
                    source_hash: B256::repeat_byte(salt),
                    from: Address::repeat_byte(0xa1),
                    to,
                    mint: ETH,
                    value: U256::ZERO,
                    gas_limit: 100_000,
                    is_system_transaction: false,
                    input,
                })
                .expect("the deposit applies");
        }
        let block = builder.finish().expect("the block seals");
        assert_eq!(block.receipts[1].logs().len(), 1);
        assert!(!block.receipts[1].logs_bloom().is_zero());
        store.commit_block(&block).expect("commit");
        assert_eq!(
            store.receipts(1).expect("read"),
            Some(block.receipts.clone())
        );
    }

    /// Opening the chain in `datadir` with `history` fails with an error saying `message`.
    fn assert_refused(datadir: &std::path::Path, history: Option<u64>, message: &str) {
        let Err(err) = open_chain(datadir, DEV_GENESIS, history) else {
            panic!("the open succeeded; expected an error saying {message:?}");
        };
        assert!(err.to_string().contains(message), "{err}");
    }

    /// `--db.cache-mb 0` (or any page cache sled would refuse) opens with the smallest
    /// cache instead of stopping the node, and the store works and reopens with it.
    #[test]
    fn a_tiny_page_cache_still_opens_and_serves() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rich = Address::repeat_byte(0x22);
        let tiny = |state_history| StoreOptions {
            state_history,
            cache_bytes: 0,
        };
        {
            let (store, _) = open_chain(dir.path(), DEV_GENESIS, tiny(Some(4))).expect("chain");
            for balance in [5u64, 6] {
                let block = state_block(&store, &[(rich, balance)], &[]);
                store.commit_block(&block).expect("commit");
            }
        }
        let (store, _) = open_chain(dir.path(), DEV_GENESIS, tiny(Some(4))).expect("reopen");
        assert_eq!(store.head().expect("head").header.number, 2);
        assert_eq!(
            store.account(&rich).expect("read").map(|a| a.balance),
            Some(U256::from(6))
        );
    }

    /// A data directory another store holds is refused with a clear error, after waiting
    /// briefly in case that store is closing.
    #[test]
    fn a_data_directory_in_use_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_held, _) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
        let err = Store::open(&dir.path().join("chain"), None)
            .err()
            .expect("the directory is in use");
        assert!(matches!(err, StoreError::InUse(_)), "{err}");
        assert!(
            err.to_string().contains("another node has it open"),
            "{err}"
        );
    }

    /// A data directory of another record layout is refused with a clear error, not misread.
    #[test]
    fn a_store_of_another_format_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (store, _) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
            store
                .db
                .insert(key(b'm', &[b"format"]), &2u32.to_be_bytes())
                .expect("write");
            store.db.flush().expect("flush");
        }
        assert_refused(dir.path(), None, "record format 2");
        let err = Store::open(&dir.path().join("chain"), None)
            .err()
            .expect("an old format");
        assert!(matches!(
            err,
            StoreError::WrongFormat {
                found: 2,
                expected: FORMAT
            }
        ));
    }

    /// A data directory keeps its tree mode, and a state-history store whose flat state or
    /// changesets do not lead to the headers' state roots is refused at start, not served.
    #[test]
    fn a_state_history_store_checks_what_it_rebuilds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rich = Address::repeat_byte(0x11);
        {
            let (store, _) = open_chain(dir.path(), DEV_GENESIS, Some(4)).expect("chain");
            for (i, balance) in [5u64, 6, 7].into_iter().enumerate() {
                let block = state_block(&store, &[(rich, balance)], &[(i as u64, balance)]);
                store.commit_block(&block).expect("commit");
            }
        }
        assert_refused(dir.path(), None, "run with --state-history");
        let (store, _) = open_chain(dir.path(), DEV_GENESIS, Some(9)).expect("a longer history");
        assert_eq!(
            store.first_state(),
            0,
            "every block's changeset is still there"
        );
        let balance = |n: u64| {
            let root = store
                .header_by_number(n)
                .expect("read")
                .expect("header")
                .1
                .state_root;
            store
                .at_root(root)
                .account(&rich)
                .expect("read")
                .map(|a| a.balance)
        };
        assert_eq!(balance(0), None);
        assert_eq!(balance(2), Some(U256::from(6)));
        assert_eq!(balance(3), Some(U256::from(7)));

        // A flat record that disagrees with the head's state root.
        let k = key(
            b's',
            &[HOLDER.as_slice(), &U256::from(1).to_be_bytes::<32>()],
        );
        store.db.insert(&k, &[9u8; 32]).expect("write");
        drop(store);
        assert_refused(dir.path(), Some(4), "is not the state root of head block 3");
        {
            // Repaired: slot 1 holds what block 2 wrote.
            let db = sled::open(dir.path().join("chain")).expect("sled");
            db.insert(&k, &U256::from(6).to_be_bytes::<32>()[..])
                .expect("write");
            db.flush().expect("flush");
        }
        let store = Store::open(&dir.path().join("chain"), Some(4)).expect("repaired");
        // A changeset that does not undo its block.
        let mut changeset =
            decode_changeset(&store.db.get(num_key(b'x', 2)).expect("read").expect("x"))
                .expect("decodes");
        changeset
            .storage
            .insert((HOLDER, U256::from(1)), U256::from(1234));
        store
            .db
            .insert(num_key(b'x', 2), encode_changeset(&changeset))
            .expect("write");
        drop(store);
        assert_refused(
            dir.path(),
            Some(4),
            "block 2's changeset does not lead back to block 1",
        );
    }

    /// A kill after a block's content-addressed records were written but before its final
    /// batch: the block was never reported, and the chain resumes at the previous head.
    #[test]
    fn a_crash_between_the_two_write_steps_resumes_at_the_previous_head() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb2));
        let lost = {
            let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
            let lost = Arc::new(deposit_block(&store, &genesis.spec, a, 1));
            store.stage(lost.clone()).expect("stage");
            store.write_content(&lost).expect("first step only");
            assert_eq!(store.head_number(), 0);
            lost
        };
        let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("reopen");
        assert_eq!(store.head_number(), 0);
        assert_eq!(store.tip().map(|t| t.header.number), Some(0));
        assert!(store.header_by_number(1).expect("read").is_none());
        assert!(store.number_by_hash(&lost.hash).expect("read").is_none());
        let lost_tx = lost.transactions[0].tx_hash();
        assert!(store.tx_location(&lost_tx).expect("read").is_none());
        assert!(store.account(&a).expect("read").is_none());

        let one = deposit_block(&store, &genesis.spec, b, 3);
        assert_ne!(one.hash, lost.hash);
        store.commit_block(&one).expect("commit");
        assert_eq!(store.head().map(|h| h.hash), Some(one.hash));
        assert!(store.tx_location(&lost_tx).expect("read").is_none());
        assert!(store.account(&a).expect("read").is_none());
        assert_eq!(
            store.account(&b).expect("read").map(|l| l.balance),
            Some(U256::from(ETH))
        );
        let at_one = store.at_root(one.header.state_root);
        assert!(at_one.account(&a).expect("read").is_none());
        assert_eq!(
            at_one.account(&b).expect("read").map(|l| l.balance),
            Some(U256::from(ETH))
        );
    }
}
