//! The chain store: one sled tree, one atomic batch per block.
//!
//! Every record lives in the same sled tree under a one-byte prefix, so a block (header, body,
//! receipts, indexes, state changes, state-tree nodes and the new head pointer) is written by a
//! single `apply_batch`, which sled applies atomically, and flushed to disk before the block is
//! announced. After a crash the store is exactly at the last flushed head.
//! The records and their keys are listed in [`schema`].
//!
//! Latest-state reads use the flat `a`/`s` records; reads at an older block walk the state tree
//! from that block's root ([`Store::at_block`]). Hot accounts, slots and tree nodes are served
//! from bounded in-memory caches ([`crate::cache`]).
//!
//! ## Archive or state history
//!
//! An archive store (`Store::open(path, None)`, the node's `--archive`) keeps every state:
//! tree nodes are content-addressed `n` records, never deleted, so any block's state reads
//! through its root. Every block writes every tree node it created (~5 per ETH transfer), and
//! its changeset (`x`, the values it replaced; ~80 bytes per transfer), which only a rewind
//! reads.
//!
//! With a state history of `H` blocks (`Store::open(path, Some(H))`, the node's default) the
//! store serves the states of the newest `H + 1` blocks. Each block writes its changeset (`x`,
//! the values it replaced) instead of tree nodes. The newest
//! [`StoreOptions::memory_states`] states keep their tree in memory ([`crate::history`]); at
//! start the store rebuilds the head's tree from the flat `a`/`s` records and each older one
//! in memory from the next block's changeset, and refuses to open if any rebuilt root differs
//! from its header's. When `H` is longer than that, older states come from disk
//! ([`checkpoint`]): every [`StoreOptions::checkpoint_interval`] blocks a checkpoint writes
//! the tree nodes that changed since the previous one, and an older state is rebuilt from
//! the next checkpoint by undoing changesets (checked against its header's root). When block
//! `M` commits, the states before `M - memory_states` leave memory, and the changesets up to
//! `M - H` leave the disk with the new `firststate`, in one batch. Reads of a state older than
//! `firststate` fail with [`StoreError::Pruned`]. A data directory keeps the mode it was
//! created with ([`StoreError::WrongTreeMode`]). Checkpoint nodes are not deleted when their
//! states leave the history (the disk grows by the nodes changed per checkpoint interval,
//! measured in `benches/README.md`).
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
//! ## Rewind
//!
//! [`Store::rewind`] makes an older block `to` the head again, as if the blocks above it had
//! never been committed (for an L1 reorg deeper than the confirmation depth). One atomic batch
//! removes every record of the blocks above `to`, restores the flat state from their
//! changesets (newest first; checked against `to`'s state root before anything is written),
//! sets the head's L1 cursor to `to`'s and moves the head, so a crash leaves the old head or
//! `to`. Then the caches take the restored values and a state history's memory (kept states,
//! checkpoint bookkeeping, rebuilt older states) is rebuilt from disk as at start. Content-
//! addressed records stay. It needs `to`'s state ([`StoreError::Pruned`] below the first
//! state), the changesets of the blocks it removes (an archive written before archives stored
//! them: [`StoreError::NotRewindable`]), and no staged block ([`StoreError::RewindWhileStaged`]):
//! the sequencer or replica stops first. Commits, rewinds and recorded batch positions take
//! one writer lock. Details in `rewind`.
//!
//! ## Modules
//!
//! - [`schema`]: the record layout (prefixes, keys, format version);
//! - `open`: opening a data directory, rebuilding a state history's tree;
//! - `write`: staging and committing blocks (the write order and crash safety);
//! - `blocks`: headers, bodies, receipts, transaction locations, the log index, L1 records;
//! - `state`: latest and historical state views; `tip`: the sequencer's view over staged blocks;
//! - `rewind`: rolling the chain back to an older block;
//! - [`cursor`]: the L1 derivation cursor's encoding;
//! - `provider`: the [`crate::provider`] read traits over the store.

mod blocks;
mod checkpoint;
pub mod cursor;
mod inputs;
mod open;
mod provider;
mod rewind;
pub mod schema;
mod state;
#[cfg(test)]
mod tests;
mod tip;
mod txindex;
mod write;

use std::{collections::VecDeque, sync::Arc};

use alloy_consensus::Header;
use alloy_primitives::{map::B256Map, Address, B256};
use fraud_vm::{execute::BuiltBlock, smt::Node, ProviderError};
use op_alloy_consensus::OpTxEnvelope;
use parking_lot::RwLock;

pub use cursor::L1Cursor;
pub use schema::FORMAT;
pub use state::{HistoricalState, LatestState};
pub use tip::TipState;

use crate::{cache::Caches, history::KeptStates};

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
        "the data directory is an archive (every state on disk): run with --archive, or start from a fresh --datadir"
    } else {
        "the data directory keeps a state history: run without --archive, or start from a fresh --datadir"
    })]
    WrongTreeMode {
        /// The data directory is an archive.
        archive: bool,
    },
    /// A block to commit does not extend the head (or a block to stage, the tip): its number
    /// is not one above that block's, or its parent hash is not that block's hash (on an empty
    /// store: it is not block 0). Nothing was written.
    #[error("block {number} (parent {parent_hash}) does not extend {}", match onto {
        Some((n, hash)) => format!("block {n} ({hash})"),
        None => "an empty store (block 0 goes first)".to_string(),
    })]
    DoesNotExtend {
        /// The refused block's number.
        number: u64,
        /// The refused block's parent hash.
        parent_hash: B256,
        /// Number and hash of the block it had to extend (None: the store was empty).
        onto: Option<(u64, B256)>,
    },
    /// [`Store::rewind`] to a block above the head (or on an empty store). Nothing was
    /// written.
    #[error("cannot rewind to block {to}: {}", match head {
        Some(head) => format!("the head is block {head}"),
        None => "the store holds no chain".to_string(),
    })]
    RewindAboveHead {
        /// The block asked for.
        to: u64,
        /// The head's number (None: an empty store).
        head: Option<u64>,
    },
    /// [`Store::rewind`] while built blocks are staged (they extend the head the rewind would
    /// remove). Nothing was written.
    #[error(
        "cannot rewind while {staged} built block(s) are staged: stop the sequencer and let the writer commit them first"
    )]
    RewindWhileStaged {
        /// Number of staged blocks.
        staged: usize,
    },
    /// [`Store::rewind`] needs the changeset of every block it removes, and an archive written
    /// before archives stored changesets lacks it for its older blocks. Nothing was written.
    #[error(
        "cannot rewind to block {to}: the data directory has no changeset for block {block} (written before archives kept changesets)"
    )]
    NotRewindable {
        /// The block asked for.
        to: u64,
        /// The newest block without a changeset.
        block: u64,
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
    /// With a state history: the oldest block whose state's tree is in memory.
    first_memory: Arc<std::sync::atomic::AtomicU64>,
    /// With a state history longer than the states held in memory: the checkpoints on disk
    /// and the older states rebuilt from them ([`checkpoint`]).
    checkpoints: Option<Arc<checkpoint::Checkpoints>>,
    /// The transaction index ([`txindex`]).
    tx_index: Arc<txindex::TxIndex>,
    /// Held by whatever writes blocks or moves the head ([`Store::commit_block`],
    /// [`Store::rewind`], [`Store::record_batch_positions`]): one at a time.
    writer: Arc<parking_lot::Mutex<()>>,
}

/// A built block waiting for the writer, with its new tree nodes indexed by hash.
struct Staged {
    block: Arc<BuiltBlock>,
    nodes: B256Map<Node>,
}

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
    /// With a state history: how many states before the head's keep their tree in memory
    /// (at most the history). A longer history serves the older states from checkpoints on
    /// disk and the changesets ([`checkpoint`]).
    pub memory_states: u64,
    /// With a state history longer than [`StoreOptions::memory_states`]: every this many
    /// blocks a checkpoint writes the tree nodes changed since the previous one. Rebuilding
    /// an older state undoes at most this many blocks' changesets.
    pub checkpoint_interval: u64,
    /// With checkpoints: the fewest hashes of a dropped list a block's commit handles while
    /// the list is being collected (each names an old checkpoint node to delete unless a later
    /// checkpoint wrote it again). A list's pass is spread over the blocks of half an interval
    /// (more hashes per block when the list is long), so no one commit deletes a whole tree.
    pub collect_per_block: usize,
    /// sled's page cache, in bytes. sled counts a page by its size on disk; held in memory a
    /// page takes about twice that (measured: ~0.6 GB of heap for the default 256 MiB under
    /// sustained load), so the node's resident memory grows with this figure, not with the
    /// data directory. A smaller cache bounds memory lower at some cost in write throughput:
    /// inserts into pages sled has evicted read them back first. The node's own caches hold
    /// the hot state either way.
    pub cache_bytes: u64,
    /// Entries the transaction index holds in memory before the block that reaches this many
    /// writes them to disk as a sealed run ([`txindex`]): about 100 bytes of memory each, and
    /// a lookup probes each sealed run.
    pub tx_index_run: u64,
}

impl StoreOptions {
    /// sled's page cache unless configured (`--db.cache-mb`): 256 MiB.
    pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;
    /// States held in memory unless configured.
    pub const DEFAULT_MEMORY_STATES: u64 = 32;
    /// Blocks between checkpoints unless configured.
    pub const DEFAULT_CHECKPOINT_INTERVAL: u64 = 256;
    /// Listed hashes a block handles at least during a collection pass unless configured.
    pub const DEFAULT_COLLECT_PER_BLOCK: usize = 1024;
    /// Entries of the transaction index's open run unless configured: 2^19 (about 50 MiB).
    pub const DEFAULT_TX_INDEX_RUN: u64 = 1 << 19;
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            state_history: None,
            memory_states: Self::DEFAULT_MEMORY_STATES,
            checkpoint_interval: Self::DEFAULT_CHECKPOINT_INTERVAL,
            collect_per_block: Self::DEFAULT_COLLECT_PER_BLOCK,
            cache_bytes: Self::DEFAULT_CACHE_BYTES,
            tx_index_run: Self::DEFAULT_TX_INDEX_RUN,
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

impl Store {
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

    /// Size of the data directory on disk, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or_default()
    }
}
