//! The write path: staging built blocks ahead of the writer and committing them.
//!
//! ## Write order (crash safety)
//!
//! A block is written in two steps: first its content-addressed records (`n` tree nodes: an
//! archive's every block, a state history's checkpoints; `c` code, `R` code roots) as plain
//! inserts from all cores, and a flush; then one atomic batch with everything else (header,
//! body, senders, receipts, log index, flat state, changeset, a sealed run of the transaction
//! index when the block fills one, cursor, head), and a flush. sled holds its global write
//! lock for the duration of an `apply_batch`, blocking every reader, while plain inserts of
//! different keys proceed side by side and let the next block's reads interleave. A crash between the steps
//! leaves only records nothing reads: content-addressed ones are keyed by their own hash (so
//! correct whenever a later block references them). The head and every other record readers
//! use move together in the final batch.

use std::sync::Arc;

use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_rlp::Encodable;
use fraud_vm::{
    batch::ListedSkipped,
    execute::BuiltBlock,
    state::{AccountLeaf, StateDiff},
};
use op_alloy_consensus::{OpReceipt, OpReceiptEnvelope};
use tracing::{debug, instrument, warn};

use super::{
    checkpoint::{account_of, leaf_accounts, node_record},
    cursor::BatchPosition,
    schema::{
        key, num_key, Record, ACCOUNT, BATCH_POSITION, BODY, CHANGESET, CHECKPOINT, CODE,
        CODE_ROOT, FIRST_STATE, HASH_INDEX, HEAD, HEADER, L1_CURSOR, L1_RECORD, LISTED_SKIPPED,
        LOG_INDEX, META, NODE, RECEIPTS, SENDERS, STORAGE,
    },
    Head, L1Cursor, Staged, Store, StoreError,
};
use crate::history::{encode_changeset, Order};

/// Content-addressed records one thread inserts before taking the next share (see the module
/// docs).
const CHUNK: usize = 4096;

/// Checks that `block` extends `onto` (number and hash of the newest block; None: an empty
/// store, where only block 0 can go first).
fn extends(block: &BuiltBlock, onto: Option<(u64, B256)>) -> Result<(), StoreError> {
    let fits = match onto {
        Some((number, hash)) => {
            block.header.number == number.wrapping_add(1) && block.header.parent_hash == hash
        }
        None => block.header.number == 0,
    };
    if fits {
        return Ok(());
    }
    Err(StoreError::DoesNotExtend {
        number: block.header.number,
        parent_hash: block.header.parent_hash,
        onto,
    })
}

impl Store {
    /// Adds a built block on top of the tip to the in-memory overlay, so the next block can be
    /// built on its state before it is written ([`Store::commit_block`] writes it and removes
    /// it from the overlay).
    pub fn stage(&self, block: Arc<BuiltBlock>) -> Result<(), StoreError> {
        extends(&block, self.tip().map(|t| (t.header.number, t.hash)))?;
        let nodes = block.new_nodes.iter().copied().collect();
        self.staged
            .write()
            .push_back(Arc::new(Staged { block, nodes }));
        Ok(())
    }

    /// Persists a built block and makes it the head. Returns once it is on disk (see the module
    /// docs for the write order). The block must extend the head (its number is the head's + 1
    /// and its parent hash the head's hash; on an empty store, block 0), else
    /// [`StoreError::DoesNotExtend`] and nothing is written. If it is the oldest staged block
    /// it leaves the overlay.
    pub fn commit_block(&self, block: &BuiltBlock) -> Result<(), StoreError> {
        self.commit_block_with_cursor(block, None, false)
    }

    /// [`Store::commit_block`], also recording the derivation cursor `cursor` after the block
    /// in the same atomic batch (so the block and the deposits it consumed are durable
    /// together). `has_origin`: the block itself has the cursor's origin (it opens with its
    /// L1-info deposit); then the cursor is also stored as the block's L1 record (`d`).
    pub fn commit_block_with_cursor(
        &self,
        block: &BuiltBlock,
        cursor: Option<&L1Cursor>,
        has_origin: bool,
    ) -> Result<(), StoreError> {
        self.commit(block, cursor, has_origin, None)
    }

    /// [`Store::commit_block_with_cursor`] for a block derived from a batch: also records, in
    /// the same atomic batch, where derivation continues after it (`position`), so the claim on
    /// the block ([`Store::derivation_cursor`]) is known, and the transactions its input list
    /// holds that tx-init skipped (`listed_skipped`: position in the list, transaction, sender;
    /// [`Store::block_inputs`]).
    pub fn commit_derived_block(
        &self,
        block: &BuiltBlock,
        cursor: Option<&L1Cursor>,
        has_origin: bool,
        position: BatchPosition,
        listed_skipped: &[ListedSkipped],
    ) -> Result<(), StoreError> {
        self.commit(block, cursor, has_origin, Some((position, listed_skipped)))
    }

    /// Records where derivation continues after each of the first `count` blocks of `batch`,
    /// which this node posted and the Inbox holds at index `batch_index` with accumulator
    /// `batch_acc` (the batcher's blocks are committed before they are batched), so the
    /// claims on them ([`Store::derivation_cursor`]) are known as on a replica that derived
    /// them. Blocks above the head (removed by a [`Store::rewind`] meanwhile) get none.
    /// Durable when it returns.
    pub fn record_batch_positions(
        &self,
        batch_index: u64,
        batch_acc: B256,
        batch: &fraud_vm::batch::Batch,
        count: usize,
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock();
        let head = self.head_number();
        let mut records = sled::Batch::default();
        for i in 0..count.min(batch.blocks.len()) {
            let number = batch.first_block.saturating_add(i as u64);
            if number > head {
                warn!(
                    number,
                    head, batch_index, "no batch position for a block above the head"
                );
                break;
            }
            let position = BatchPosition::after(batch_index, batch_acc, batch, i);
            records.insert(num_key(BATCH_POSITION, number), &position.encode()[..]);
        }
        self.db.apply_batch(records)?;
        self.db.flush()?;
        Ok(())
    }

    /// Forgets the batch positions of blocks `from..=to` (their batch left L1 after a reorg:
    /// the batcher records them again when it posts the blocks again). Returns how many there
    /// were. Durable when it returns.
    pub fn forget_batch_positions(&self, from: u64, to: u64) -> Result<u64, StoreError> {
        let _writer = self.writer.lock();
        let mut records = sled::Batch::default();
        let mut count = 0;
        for item in self
            .db
            .range(num_key(BATCH_POSITION, from)..=num_key(BATCH_POSITION, to))
        {
            records.remove(item?.0);
            count += 1;
        }
        self.db.apply_batch(records)?;
        self.db.flush()?;
        Ok(count)
    }

    #[instrument(level = "debug", skip_all, fields(number = block.header.number))]
    fn commit(
        &self,
        block: &BuiltBlock,
        cursor: Option<&L1Cursor>,
        has_origin: bool,
        derived: Option<(BatchPosition, &[ListedSkipped])>,
    ) -> Result<(), StoreError> {
        let _writer = self.writer.lock();
        extends(block, self.head().map(|h| (h.header.number, h.hash)))?;
        let mut batch = sled::Batch::default();
        let number = block.header.number;
        if let Some((position, listed_skipped)) = derived {
            batch.insert(num_key(BATCH_POSITION, number), &position.encode()[..]);
            if !listed_skipped.is_empty() {
                batch.insert(
                    num_key(LISTED_SKIPPED, number),
                    super::inputs::encode(listed_skipped),
                );
            }
        }
        if let Some(cursor) = cursor {
            batch.insert(key(META, &[L1_CURSOR]), cursor.encode());
            if has_origin {
                batch.insert(num_key(L1_RECORD, number), cursor.encode());
            }
        }
        let nb = number.to_be_bytes();

        let mut header_value = Vec::with_capacity(600);
        header_value.extend_from_slice(block.hash.as_slice());
        block.header.encode(&mut header_value);
        batch.insert(num_key(HEADER, number), header_value);
        batch.insert(key(HASH_INDEX, &[block.hash.as_slice()]), &nb);

        let txs: Vec<Bytes> = block
            .transactions
            .iter()
            .map(|t| t.encoded_2718().into())
            .collect();
        let mut body = Vec::new();
        txs.encode(&mut body);
        batch.insert(num_key(BODY, number), body);
        let senders: Vec<u8> = block.senders.iter().flat_map(|a| a.0 .0).collect();
        batch.insert(num_key(SENDERS, number), senders);
        let receipts: Vec<OpReceipt> = block.receipts.iter().map(without_bloom).collect();
        let mut rbytes = Vec::new();
        receipts.encode(&mut rbytes);
        batch.insert(num_key(RECEIPTS, number), rbytes);

        let mut logged = std::collections::BTreeSet::new();
        for r in &block.receipts {
            for log in r.logs() {
                logged.insert(log.address);
            }
        }
        for address in logged {
            batch.insert(key(LOG_INDEX, &[address.as_slice(), &nb]), &[]);
        }

        let dropped = self.write_content(block)?;
        // Both modes: a state history serves older states with it, and a rewind
        // (`Store::rewind`) restores the flat state with it.
        let changeset = if number > 0 {
            let changeset = self.changeset(block)?;
            batch.insert(num_key(CHANGESET, number), encode_changeset(&changeset));
            Some(changeset)
        } else {
            None
        };
        flat_state_records(&mut batch, &block.diff);
        if self
            .checkpoints
            .as_ref()
            .is_some_and(|c| c.is_checkpoint(number))
        {
            batch.insert(num_key(CHECKPOINT, number), &[]);
        }
        if let Some((k, list)) = dropped {
            batch.insert(k, list);
        }
        let index = self.tx_index.note_block(
            &mut batch,
            number,
            block.transactions.iter().map(|t| t.tx_hash()),
        );
        batch.insert(key(META, &[HEAD]), &nb);

        self.db.apply_batch(batch)?;
        self.db.flush()?;
        self.tx_index.install(index);
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
            self.drop_from_memory(number.saturating_sub(kept.history()));
            let history = self
                .checkpoints
                .as_ref()
                .map_or(kept.history(), |c| c.states);
            self.prune(number.saturating_sub(history))?;
        }
        Ok(())
    }

    /// Drops the states before block `upto` from memory (see [`crate::history`]).
    fn drop_from_memory(&self, upto: u64) {
        let Some(kept) = self.kept.as_ref().filter(|_| upto > self.first_memory()) else {
            return;
        };
        let drop = || {
            let deleted = kept.drop_through(upto);
            self.first_memory
                .store(upto, std::sync::atomic::Ordering::Release);
            debug!(upto, deleted, "dropped old states from memory");
        };
        match &self.checkpoints {
            Some(checkpoints) => checkpoints.drop_unpinned(drop),
            None => drop(),
        }
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

    /// Drops the states before block `upto` from the history: the state of `upto` and later
    /// ones stay whole.
    #[instrument(level = "debug", skip(self))]
    fn prune(&self, upto: u64) -> Result<(), StoreError> {
        let first = self.first_state();
        if upto <= first {
            return Ok(());
        }
        // The changesets go with the first state, atomically: a restart rebuilds exactly the
        // states from `firststate` on.
        let mut batch = sled::Batch::default();
        for number in first + 1..=upto {
            batch.remove(num_key(CHANGESET, number));
        }
        batch.insert(key(META, &[FIRST_STATE]), &upto.to_be_bytes());
        self.db.apply_batch(batch)?;
        self.first_state
            .store(upto, std::sync::atomic::Ordering::Release);
        debug!(upto, "pruned old states");
        self.collect_dropped(upto)?;
        Ok(())
    }

    /// Writes a block's content-addressed records (tree nodes, an account's leaf with the
    /// account, code, code roots), and flushes them: the first step of
    /// [`Store::commit_block`] (see the module docs). Harmless on its own: nothing
    /// reads the records until the block's final batch makes it the head. At a checkpoint,
    /// returns its dropped list's record, which the final batch writes.
    pub(super) fn write_content(&self, block: &BuiltBlock) -> Result<Option<Record>, StoreError> {
        use rayon::prelude::*;
        let mut dropped = None;
        let mut records: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(
            block.new_nodes.len()
                + block.diff.codes.len()
                + block.code_roots.len()
                + block.transactions.len(),
        );
        // An archive keeps every tree on disk; a state history, the checkpoints' trees.
        if self.kept.is_none() {
            // An account's leaf node carries the account (the leaf only holds its hash).
            let accounts = leaf_accounts(&block.diff);
            for (hash, node) in &block.new_nodes {
                let record = node_record(node, account_of(node, &accounts).as_ref(), None);
                records.push((key(NODE, &[hash.as_slice()]), record));
            }
        } else if let Some(checkpoints) = &self.checkpoints {
            let number = block.header.number;
            let previous = match number.checked_sub(1) {
                Some(below) if checkpoints.is_checkpoint(number) => {
                    self.checkpoint_at_or_below(below)?
                }
                _ => None,
            };
            if let Some(write) = checkpoints.note_block(block, previous) {
                records.extend(write.nodes);
                dropped = write.dropped;
            }
        }
        for (hash, code) in &block.diff.codes {
            records.push((key(CODE, &[hash.as_slice()]), code.to_vec()));
        }
        for (hash, root) in &block.code_roots {
            records.push((key(CODE_ROOT, &[hash.as_slice()]), root.to_vec()));
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
        Ok(dropped)
    }
}

/// Sets the flat latest-state records (`a`, `s`) to the values in `diff` (an account's
/// `None` or a zero slot removes the record).
pub(super) fn flat_state_records(batch: &mut sled::Batch, diff: &StateDiff) {
    for (address, account) in &diff.accounts {
        let k = key(ACCOUNT, &[address.as_slice()]);
        match account {
            Some(leaf) => batch.insert(k, &leaf.encode()[..]),
            None => batch.remove(k),
        }
    }
    for ((address, slot), value) in &diff.storage {
        let k = key(STORAGE, &[address.as_slice(), &slot.to_be_bytes::<32>()]);
        if value.is_zero() {
            batch.remove(k);
        } else {
            batch.insert(k, &value.to_be_bytes::<32>()[..]);
        }
    }
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
