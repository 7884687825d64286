//! Opening a data directory: the format and tree-mode checks, the head, and (with a state
//! history) rebuilding the kept states' tree from the flat state and the changesets.

use std::{collections::VecDeque, sync::Arc};

use alloy_primitives::{Address, B256, U256};
use fraud_vm::{
    smt,
    state::{account_key, storage_key, AccountLeaf},
};
use parking_lot::RwLock;
use tracing::{info, instrument};

use super::checkpoint::{AccountEntry, Checkpoints, Pending};
use super::txindex::TxIndex;
use super::{
    schema::{
        corrupt, key, read_u64, ACCOUNT, ARCHIVE, FIRST_STATE, FORMAT, FORMAT_KEY, HEAD, IN_MEMORY,
        META, STORAGE, TREE,
    },
    Head, Store, StoreError, StoreOptions,
};
use crate::{
    cache::Caches,
    history::{KeptStates, Order},
};

/// sled refuses a page cache under 256 bytes; below a few pages it only thrashes.
const MIN_CACHE_BYTES: u64 = 1024 * 1024;

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

impl Store {
    /// Opens (or creates) the store in `path` ([`StoreOptions`]: archive or state history,
    /// sled's cache; `None` opens an archive, `Some(H)` a state history of `H` blocks).
    pub fn open(
        path: &std::path::Path,
        options: impl Into<StoreOptions>,
    ) -> Result<Self, StoreError> {
        let StoreOptions {
            state_history,
            memory_states,
            checkpoint_interval,
            collect_per_block,
            cache_bytes,
            tx_index_run,
        } = options.into();
        let db = open_db(path, cache_bytes)?;
        let format_key = key(META, &[FORMAT_KEY]);
        let tree_key = key(META, &[TREE]);
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
        let tx_index = Arc::new(TxIndex::load(&db, tx_index_run)?);
        let store = Self {
            db,
            head: Arc::new(RwLock::new(None)),
            caches: Arc::new(Caches::default()),
            staged: Arc::new(RwLock::new(VecDeque::new())),
            kept: state_history
                .map(|history| Arc::new(KeptStates::new(history.min(memory_states)))),
            first_state: Arc::new(first_state.into()),
            first_memory: Arc::new(first_state.into()),
            checkpoints: None,
            tx_index,
            writer: Arc::default(),
        };
        if let Some(number) = store.read_head_number()? {
            let (hash, header) = store
                .header_by_number(number)?
                .ok_or_else(|| corrupt(format!("head block {number} missing")))?;
            *store.head.write() = Some(Head { header, hash });
        }
        store.rebuild_open_run()?;
        let mut store = store;
        if let Some(kept) = store.kept.clone() {
            let on_disk = state_history.filter(|h| *h > kept.history());
            let pending = store.rebuild_memory(&kept, on_disk.is_some())?;
            if let (Some(states), Some(pending)) = (on_disk, pending) {
                store.checkpoints = Some(Arc::new(Checkpoints::new(
                    states,
                    checkpoint_interval,
                    collect_per_block,
                    pending,
                    store.collection_on_disk()?,
                )));
            }
        }
        Ok(store)
    }

    /// Rebuilds what a state history holds in memory from the records on disk, at start and
    /// after a rewind: the kept states' tree into `kept` (empty), checked against the headers
    /// ([`Store::rebuild_kept_states`]). With states older than those in memory served from
    /// checkpoints (`checkpoints`), returns how the head's tree differs from the last
    /// checkpoint's (what the next checkpoint writes and drops); without,
    /// every state served is in memory and the first state is the oldest of them.
    pub(super) fn rebuild_memory(
        &self,
        kept: &KeptStates,
        checkpoints: bool,
    ) -> Result<Option<Pending>, StoreError> {
        let accounts = self.rebuild_kept_states(kept)?;
        if !checkpoints {
            self.first_state
                .store(self.first_memory(), std::sync::atomic::Ordering::Release);
            return Ok(None);
        }
        Ok(Some(match self.head() {
            Some(head) => self.pending_since_checkpoint(
                head.header.state_root,
                head.header.number,
                &accounts,
            )?,
            None => Default::default(),
        }))
    }

    /// Rebuilds the kept states' tree (see [`crate::history`]): the head's from the flat
    /// records, then each older state held in memory from the next block's changeset, checking
    /// every root against its header. Returns the latest non-empty accounts it read, with the
    /// tree key and value hash it computed for each.
    #[instrument(level = "info", skip_all)]
    fn rebuild_kept_states(&self, kept: &KeptStates) -> Result<Vec<AccountEntry>, StoreError> {
        use rayon::prelude::*;
        let Some(head) = self.head() else {
            return Ok(Vec::new());
        };
        let started = std::time::Instant::now();
        let mut accounts = Vec::new();
        for item in self.db.scan_prefix([ACCOUNT]) {
            let (k, v) = item?;
            let leaf = AccountLeaf::decode(&v).ok_or_else(|| corrupt("account record"))?;
            accounts.push((Address::from_slice(&k[1..]), leaf));
        }
        let mut slots = Vec::new();
        for item in self.db.scan_prefix([STORAGE]) {
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
        let accounts: Vec<AccountEntry> = accounts
            .par_iter()
            .filter(|(_, leaf)| !leaf.is_empty())
            .map(|(address, leaf)| (account_key(address), leaf.value_hash(), *leaf))
            .collect();
        let mut changes: Vec<smt::Change> = accounts
            .iter()
            .map(|(key, value, _)| (*key, Some(*value)))
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
        let oldest = self.first_state().max(first.saturating_sub(kept.history()));
        while first > oldest {
            let Some(changeset) = self.changeset_of(first)? else {
                break;
            };
            let parent =
                smt::update(kept, root, changeset.tree_changes()).map_err(fraud_vm::Error::from)?;
            if parent.root != self.state_root_of(first - 1)? {
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
        self.first_memory
            .store(first, std::sync::atomic::Ordering::Release);
        info!(
            leaves,
            nodes = kept.len(),
            states = head.header.number - first + 1,
            ms = started.elapsed().as_millis() as u64,
            "rebuilt the kept states' tree"
        );
        Ok(accounts)
    }

    fn read_head_number(&self) -> Result<Option<u64>, StoreError> {
        read_u64(&self.db, HEAD)
    }
}
