//! Rolling the chain back: [`Store::rewind`] makes an older block the head again, as if the
//! blocks above it had never been committed (an L1 reorg deeper than the confirmation depth
//! removes the L1 data they were derived from).
//!
//! ## Crash safety
//!
//! Everything on disk changes in one atomic `apply_batch`, then a flush: after a crash the
//! store is at the old head or at the new one, never in between. The batch removes every
//! record of the removed blocks (`h`, `H`, `b`, `S`, `r`, their `l`, `d`, `p`, `x`, the
//! checkpoint markers `k` above the new head, and the transaction index's sealed runs that end
//! above it, `t` and `T`), restores the flat latest state (`a`, `s`), the head's derivation
//! cursor (`m`/`l1cursor`) and the index's open run (`m`/`txopen`), and moves `m`/`head`.
//! Content-addressed records (`n`, `c`, `R`) stay: they are keyed by their own hash, so they
//! are right wherever a later block references them.
//!
//! The flat state's values at the new head come from the removed blocks' changesets (`x`, the
//! values each block replaced), newest block first, in both store modes; before anything is
//! written they are checked to turn the head's state tree into the new head's (its header's
//! state root). Only once the batch is durable does the memory follow: caches, head, and with
//! a state history the kept states' tree and the checkpoint bookkeeping, rebuilt from disk as
//! [`Store::open`] does.

use std::time::Instant;

use fraud_vm::{smt, state::StateDiff};
use tracing::{info, instrument};

use super::{
    schema::{
        corrupt, key, num_key, BATCH_POSITION, BODY, CHANGESET, CHECKPOINT, COLLECTING, DROPPED,
        HASH_INDEX, HEAD, HEADER, L1_CURSOR, L1_RECORD, LISTED_SKIPPED, LOG_INDEX, META, RECEIPTS,
        SENDERS,
    },
    txindex,
    write::flat_state_records,
    Head, Store, StoreError,
};

/// A rewind's writes, computed before anything is written ([`Store::plan_rewind`]).
pub(super) struct Rewind {
    /// The head it removes.
    from: u64,
    /// The new head.
    head: Head,
    /// Every record it removes and restores, one atomic batch.
    batch: sled::Batch,
    /// The transaction index at the new head (installed once the batch is on disk).
    index: txindex::IndexUpdate,
    /// The new head's values of every account and slot the removed blocks changed.
    restored: StateDiff,
    /// Transactions of the removed blocks.
    transactions: usize,
}

impl Store {
    /// Makes block `to` the head again, as if the blocks above it had never been committed:
    /// their headers, bodies, receipts, transaction and log index entries, L1 records, batch
    /// positions, changesets and checkpoint markers go; the latest state, the head's L1 cursor
    /// ([`Store::l1_cursor`]: block `to`'s, [`Store::l1_at`]) and the kept states are those of
    /// block `to`. Blocks `to + 1, ...` (the same or others) can be committed next. Durable
    /// when it returns; a crash leaves the old head or `to` (see the module docs). `to` equal
    /// to the head changes nothing.
    ///
    /// It waits for a block being committed, and refuses ([`StoreError::RewindWhileStaged`])
    /// while built blocks are staged: the sequencer (or replica) must be stopped and its blocks
    /// committed first; staging and [`Store::tip`] wait while it runs. Readers racing it may
    /// briefly see the new head's state under the old head (as readers racing a commit see
    /// the new block's), and reads of a past state may fail with a missing tree node, never
    /// answer for another state. Errors: [`StoreError::RewindAboveHead`]; [`StoreError::Pruned`] for a
    /// block whose state the store no longer keeps; [`StoreError::NotRewindable`] for an
    /// archive's block without a changeset. None of them writes anything. An error after
    /// the batch is durable (a record that does not decode while rebuilding the memory) leaves
    /// the disk at `to`: reopen the store.
    #[instrument(level = "info", skip(self))]
    pub fn rewind(&self, to: u64) -> Result<(), StoreError> {
        let started = Instant::now();
        let _writer = self.writer.lock();
        let staged = self.staged.write();
        match self.head().map(|h| h.header.number) {
            Some(head) if head == to => return Ok(()),
            Some(head) if head > to => {}
            head => return Err(StoreError::RewindAboveHead { to, head }),
        }
        if !staged.is_empty() {
            return Err(StoreError::RewindWhileStaged {
                staged: staged.len(),
            });
        }
        // No older state is rebuilt from the records the rewind changes.
        let _rebuilds = self.checkpoints.as_ref().map(|c| c.hold_rebuilds());
        let rewind = self.rewind_on_disk(to)?;
        self.rewind_memory(&rewind)?;
        info!(
            from = rewind.from,
            to,
            hash = %rewind.head.hash,
            blocks = rewind.from - to,
            transactions = rewind.transactions,
            ms = started.elapsed().as_millis() as u64,
            "rewound the chain"
        );
        Ok(())
    }

    /// The disk side of [`Store::rewind`]: plans it, writes the batch and flushes it.
    pub(super) fn rewind_on_disk(&self, to: u64) -> Result<Rewind, StoreError> {
        let mut rewind = self.plan_rewind(to)?;
        let batch = std::mem::take(&mut rewind.batch);
        let write = || -> Result<(), StoreError> {
            self.db.apply_batch(batch)?;
            self.db.flush()?;
            Ok(())
        };
        self.tx_index
            .install_with(write, std::mem::take(&mut rewind.index))?;
        Ok(rewind)
    }

    /// What rewinding to block `to` writes (reads only): checks the request, collects the
    /// records of the blocks above `to`, and the flat state at `to` from their changesets,
    /// checked against `to`'s state root.
    pub(super) fn plan_rewind(&self, to: u64) -> Result<Rewind, StoreError> {
        let head = self
            .head()
            .ok_or(StoreError::RewindAboveHead { to, head: None })?;
        let from = head.header.number;
        if to > from {
            return Err(StoreError::RewindAboveHead {
                to,
                head: Some(from),
            });
        }
        self.state_available(to)?;
        let restored = self.undo_changesets(to, from, |block| match self.kept {
            Some(_) => corrupt(format!("changeset of block {block} missing")),
            None => StoreError::NotRewindable { to, block },
        })?;
        let (hash, header) = self
            .header_by_number(to)?
            .ok_or_else(|| corrupt(format!("header {to} missing")))?;
        // Nothing is written unless the changesets lead exactly to `to`'s state: the head's
        // tree (in memory with a state history, on disk in an archive) with them applied.
        let undone = smt::update(self, head.header.state_root, restored.tree_changes())
            .map_err(fraud_vm::Error::from)?;
        if undone.root != header.state_root {
            return Err(corrupt(format!(
                "the changesets of blocks {}..={from} do not lead back to block {to}'s state root",
                to + 1
            )));
        }

        let mut batch = sled::Batch::default();
        // The records keyed by block number, above `to` (a batch position may have been
        // recorded above the head).
        for prefix in [
            HEADER,
            BODY,
            SENDERS,
            RECEIPTS,
            L1_RECORD,
            BATCH_POSITION,
            LISTED_SKIPPED,
            CHANGESET,
            CHECKPOINT,
            DROPPED,
        ] {
            for item in self
                .db
                .range(num_key(prefix, to + 1)..=num_key(prefix, u64::MAX))
            {
                batch.remove(item?.0);
            }
        }
        // The records keyed by the blocks' contents.
        let mut transactions = 0;
        for number in to + 1..=from {
            let block = self
                .block_by_number(number)?
                .ok_or_else(|| corrupt(format!("block {number} missing")))?;
            batch.remove(key(HASH_INDEX, &[block.hash.as_slice()]));
            transactions += block.transactions.len();
            let receipts = self
                .receipts(number)?
                .ok_or_else(|| corrupt(format!("receipts {number} missing")))?;
            let nb = number.to_be_bytes();
            for log in receipts.iter().flat_map(|r| r.logs()) {
                batch.remove(key(LOG_INDEX, &[log.address.as_slice(), &nb]));
            }
        }
        let index = self.rewind_tx_index(&mut batch, to)?;
        flat_state_records(&mut batch, &restored);
        let cursor = key(META, &[L1_CURSOR]);
        match self.l1_at(to)? {
            Some(l1) => batch.insert(cursor, l1.encode()),
            None => batch.remove(cursor),
        }
        batch.insert(key(META, &[HEAD]), &to.to_be_bytes());
        // A collection pass starts again: its list may be one the rewind removes.
        batch.remove(key(META, &[COLLECTING]));
        Ok(Rewind {
            from,
            head: Head { header, hash },
            batch,
            index,
            restored,
            transactions,
        })
    }

    /// The memory side of [`Store::rewind`], once its batch is durable: the caches take the
    /// restored values, the head moves, and a state history's kept states and checkpoint
    /// bookkeeping are rebuilt from disk as at start.
    fn rewind_memory(&self, rewind: &Rewind) -> Result<(), StoreError> {
        // As a commit does: the values on disk first, then the caches (this bumps their
        // epoch, so a read that raced the batch caches nothing stale).
        self.caches.commit(
            rewind.restored.accounts.iter(),
            rewind.restored.storage.iter(),
            std::iter::empty(),
        );
        *self.head.write() = Some(rewind.head.clone());
        let Some(kept) = &self.kept else {
            return Ok(());
        };
        kept.clear();
        let pending = self.rebuild_memory(kept, self.checkpoints.is_some())?;
        if let (Some(checkpoints), Some(pending)) = (&self.checkpoints, pending) {
            checkpoints.reset(pending, self.collection_on_disk()?);
        }
        Ok(())
    }
}
