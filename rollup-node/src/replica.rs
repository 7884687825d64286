//! Replica mode (`--replica`): the L2 chain rebuilt from L1 alone.
//!
//! A replica runs no sequencer and includes nothing from its pool. Its [`L1Follower`]
//! (`crate::follower`) reads, at the confirmation depth, the Inbox's deposits, forced batches and
//! every sequencer batch's calldata; the [`Replica`] task then rebuilds each batch's blocks in
//! order with [`fraud_vm::batch::derive_block`] — the same `BlockBuilder` and the same
//! L1-inputs rule the sequencer used — and stores and announces them like the sequencer does, so
//! the JSON-RPC is the same and every block hash and state root equals the sequencer's.
//!
//! Derivation is total: a batch, or the tail of one, that breaks a validity rule of
//! `fraud_vm::batch` (it does not start right after the derived head or names another parent;
//! a gas limit or timestamp out of bounds; an L1 origin that goes back, lacks room for its
//! L1-info deposit, is not before the batch's L1 block, is not on L1 or is newer than the
//! block) is logged and skipped, and the replica reads the next batch against the same chain.
//! An L1 block the replica cannot read yet is retried, never taken for an unknown origin. A
//! forced batch derives its forced block when the head has not consumed what it forces
//! (`fraud_vm::batch::forced_block`).
//!
//! With each block the replica records where derivation continues after it (the batch index
//! and record position of its `fraud_vm::batch::Cursor`), so it knows the claim on every block
//! it derived (`rollup_claim`, [`crate::claim`]).
//!
//! A batch can be partly derived: the L1 node failed while its origins were read (the batch is
//! retried) or the node stopped between two of its blocks. Such a batch starts at or below
//! the head, but the head's cursor points inside it: the replica resumes at that record
//! (`resume_at`) instead of skipping the rest of the batch, which would leave every later
//! batch a gap. A batch the head lies past is already derived and passed over.
//!
//! On start the follower scans L1 from the deployment's deploy block (batches are not stored
//! locally), so a restart re-reads the Inbox's history once, and a batch the node stopped in
//! the middle of is resumed as above.
//!
//! For tests and debugging, `--debug.max-block N` ([`Replica::new`]'s `max_block`) stops
//! derivation after block N, even in the middle of a batch; the node keeps following L1 and
//! serving the JSON-RPC.
//!
//! [`L1Follower`]: crate::follower::L1Follower

use std::{sync::Arc, time::Duration};

use fraud_vm::{
    batch::{
        deposit_target, derive_block, forced_block, AppendedIn, Batch, BatchBlock, Cursor, Derived,
        DerivedParent, InvalidBatch,
    },
    chain::ChainSpec,
    deposit::L1BlockInfo,
    execute::BlockBuilder,
    execute::BuiltBlock,
    message::DepositMessage,
};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::{
    batcher::BatchedThrough,
    events::ChainEvents,
    follower::{DepositFeed, L1Source, PostedBatch, RpcL1Source},
    store::{cursor::BatchPosition, Head, L1Cursor, Store},
    NodeError,
};

/// Why a replica could not derive a batch now.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// The L1 node failed (retried).
    #[error("L1 {0}")]
    Rpc(String),
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

/// Rebuilds the chain from the batches the follower finds (see the module docs).
pub struct Replica {
    chain: ChainSpec,
    store: Store,
    events: ChainEvents,
    feed: Arc<DepositFeed>,
    l1: RpcL1Source,
    batched: BatchedThrough,
    poll_interval: Duration,
    max_block: Option<u64>,
}

impl Replica {
    /// A replica of the chain in `store`, fed by `feed` (a follower in batch-reading mode).
    /// With `max_block` (`--debug.max-block`, for tests and debugging) it derives no block
    /// past that number.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chain: ChainSpec,
        store: Store,
        events: ChainEvents,
        feed: Arc<DepositFeed>,
        l1_rpc: &str,
        poll_interval: Duration,
        batched: BatchedThrough,
        max_block: Option<u64>,
    ) -> Result<Self, NodeError> {
        let l1 = RpcL1Source::connect(l1_rpc)?;
        Ok(Self {
            chain,
            store,
            events,
            feed,
            l1,
            batched,
            poll_interval,
            max_block,
        })
    }

    /// Derives blocks until `shutdown` turns true or derivation hits an error it cannot retry.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        self.batched.set(self.store.head_number());
        let mut next_batch = 0u64;
        loop {
            while let Some(posted) = self.feed.batch(next_batch) {
                // A backlog of batches stops at a shutdown too (a deep L1 reorg stops the
                // replica before rolling it back).
                if *shutdown.borrow() {
                    return Ok(());
                }
                match self.apply(&posted).await {
                    Ok(()) => {
                        next_batch += 1;
                        self.feed.batches_done_below(next_batch);
                    }
                    Err(ReplicaError::Rpc(e)) => {
                        warn!(error = %e, "replica: L1 unavailable, retrying");
                        break;
                    }
                    Err(ReplicaError::Node(e)) => {
                        error!("{e}; the replica stops deriving");
                        return Err(e);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// Whether `--debug.max-block` forbids deriving block `number`.
    fn past_max_block(&self, number: u64) -> bool {
        self.max_block.is_some_and(|max| number > max)
    }

    /// Logs why `posted` (from its block `from` on) derives nothing.
    fn skip(posted: &PostedBatch, from: Option<u64>, why: &InvalidBatch) {
        warn!(
            batch = posted.index,
            l1_tx = %posted.l1_tx,
            from_block = from,
            reason = %why,
            "skipping an invalid batch"
        );
    }

    /// Derives the blocks of `posted` that are new and valid (see the module docs).
    async fn apply(&self, posted: &PostedBatch) -> Result<(), ReplicaError> {
        if let Some(origin) = &posted.forced_origin {
            return self.apply_forced(posted, origin);
        }
        let batch = &posted.batch;
        let appended = AppendedIn {
            number: posted.l1_block,
            timestamp: posted.l1_timestamp,
        };
        let head = self.store.head().ok_or(NodeError::NoGenesis)?;
        if self.past_max_block(head.header.number.saturating_add(1)) {
            debug!(
                batch = posted.index,
                "--debug.max-block reached: batch not derived"
            );
            return Ok(());
        }
        let start = match batch.continues(head.header.number, head.hash) {
            Ok(true) => 0,
            Ok(false) => return Ok(()),
            // After a restart the follower reads every batch again: those already derived
            // are not news.
            Err(InvalidBatch::Overlap { .. }) if batch.last_block() <= head.header.number => {
                debug!(batch = posted.index, "batch already derived");
                return Ok(());
            }
            // Retried after an L1 failure, or re-read after a restart, in the middle of it.
            Err(why @ InvalidBatch::Overlap { .. }) => {
                let cursor = self
                    .store
                    .derivation_cursor(head.header.number)
                    .map_err(NodeError::from)?;
                match resume_at(batch, posted.index, head.header.number, cursor.as_ref()) {
                    Some(i) => {
                        info!(
                            batch = posted.index,
                            from_block = head.header.number.saturating_add(1),
                            record = i,
                            "resuming a partly derived batch"
                        );
                        i
                    }
                    None => {
                        Self::skip(posted, None, &why);
                        return Ok(());
                    }
                }
            }
            Err(why) => {
                Self::skip(posted, None, &why);
                return Ok(());
            }
        };
        for (i, entry) in batch.blocks.iter().enumerate().skip(start) {
            let head = self.store.head().ok_or(NodeError::NoGenesis)?;
            // `check` refuses a record after block u64::MAX (an overlap).
            let number = head.header.number.saturating_add(1);
            if self.past_max_block(number) {
                info!(
                    batch = posted.index,
                    head = head.header.number,
                    "--debug.max-block reached: deriving nothing more"
                );
                return Ok(());
            }
            let l1 = self
                .store
                .l1_at(head.header.number)
                .map_err(NodeError::from)?;
            let parent = DerivedParent::of(&head.header, l1.as_ref().map(|c| &c.origin));
            if let Err(why) = entry.check(&parent, &appended) {
                Self::skip(posted, Some(number), &why);
                return Ok(());
            }
            // The origin is below the batch's L1 block, which L1 has: a missing block is L1
            // lagging (retried), not an unknown origin.
            let on_l1 = match entry.origin {
                Some(o) => Some(
                    self.l1
                        .block(o.number)
                        .await
                        .map_err(|e| ReplicaError::Rpc(e.to_string()))?
                        .ok_or_else(|| {
                            ReplicaError::Rpc(format!("L1 block {} not found", o.number))
                        })?,
                ),
                None => None,
            };
            let origin = match entry.check_origin(&parent, on_l1.as_ref()) {
                Ok(origin) => origin,
                Err(why) => {
                    Self::skip(posted, Some(number), &why);
                    return Ok(());
                }
            };
            let parent_read = l1.map_or(0, |c| c.next_deposit);
            let position = BatchPosition::after(posted.index, posted.acc, batch, i);
            let derivation = BlockDerivation {
                entry,
                origin,
                parent_read,
                target: deposit_target(entry.delayed_read, posted.after_delayed_read),
                deposits: &self.feed.deposits_from(parent_read),
                forced: false,
            };
            self.derive(posted, &head, &derivation, position)?;
        }
        Ok(())
    }

    /// Derives the forced block of the forced batch `posted` when the head has consumed fewer
    /// delayed messages than it forces (`fraud_vm::batch`, *Forced inclusion*); else nothing.
    fn apply_forced(&self, posted: &PostedBatch, origin: &L1BlockInfo) -> Result<(), ReplicaError> {
        let head = self.store.head().ok_or(NodeError::NoGenesis)?;
        let parent_read = self
            .store
            .l1_at(head.header.number)
            .map_err(NodeError::from)?
            .map_or(0, |c| c.next_deposit);
        if parent_read >= posted.after_delayed_read || head.header.number == u64::MAX {
            debug!(batch = posted.index, "forced batch: its deposits are in");
            return Ok(());
        }
        let number = head.header.number + 1;
        if self.past_max_block(number) {
            debug!(
                batch = posted.index,
                "--debug.max-block reached: forced batch not derived"
            );
            return Ok(());
        }
        let Some(entry) = forced_block(posted.after_delayed_read, parent_read, origin) else {
            return Ok(());
        };
        info!(
            batch = posted.index,
            number,
            from = parent_read,
            to = posted.after_delayed_read,
            "forced batch: deriving its forced block"
        );
        let position = BatchPosition::after_forced(posted.index, posted.acc);
        let derivation = BlockDerivation {
            entry: &entry,
            origin: Some(*origin),
            parent_read,
            target: posted.after_delayed_read,
            deposits: &self.feed.deposits_from(parent_read),
            forced: true,
        };
        self.derive(posted, &head, &derivation, position)
    }

    /// Builds, stores and announces the block `derivation` derives on `head`, from `posted`;
    /// `position` is where derivation continues.
    fn derive(
        &self,
        posted: &PostedBatch,
        head: &Head,
        derivation: &BlockDerivation<'_>,
        position: BatchPosition,
    ) -> Result<(), ReplicaError> {
        let number = head.header.number + 1;
        let built = tokio::task::block_in_place(|| {
            derive_and_commit(&self.chain, &self.store, head, derivation, position)
        })?;
        let (block, derived) = built;
        self.feed.included_below(derived.delayed_read);
        for (index, reason) in &derived.skipped {
            warn!(block = number, index, %reason, "batch transaction skipped");
        }
        self.events.publish_block(&block);
        self.batched.set(number);
        info!(
            number,
            hash = %block.hash,
            txs = block.transactions.len(),
            batch = posted.index,
            delayed_read = derived.delayed_read,
            "derived"
        );
        Ok(())
    }
}

/// What derivation builds one block from: the batch block `entry`, its L1 origin as read from
/// L1, the delayed messages its parent consumed, the deposit target of derivation rule 2 and
/// the queued deposits from `parent_read` on; `forced`: a forced block, which consumes every
/// deposit up to the target.
pub(crate) struct BlockDerivation<'a> {
    pub entry: &'a BatchBlock,
    pub origin: Option<L1BlockInfo>,
    pub parent_read: u64,
    pub target: u64,
    pub deposits: &'a [DepositMessage],
    pub forced: bool,
}

/// Builds the block `derivation` derives on `head` ([`derive_block`]) and commits it with its
/// batch position `position` (where derivation continues after it). Blocking.
pub(crate) fn derive_and_commit(
    chain: &ChainSpec,
    store: &Store,
    head: &Head,
    derivation: &BlockDerivation<'_>,
    position: BatchPosition,
) -> Result<(BuiltBlock, Derived), NodeError> {
    let latest = store.latest();
    let mut builder = BlockBuilder::new(
        chain,
        &latest,
        &head.header,
        head.hash,
        derivation.entry.attributes(),
    );
    let derived = derive_block(
        chain,
        &mut builder,
        derivation.entry,
        derivation.origin.as_ref(),
        derivation.parent_read,
        derivation.target,
        derivation.deposits,
    )?;
    if derivation.forced && derived.delayed_read != derivation.target {
        // The Inbox guarantees every forced deposit fits and is queued before the origin: the
        // node lacks some of them (it never commits a block that L1 derives otherwise).
        return Err(NodeError::Internal(format!(
            "the forced block consumes delayed messages up to {} of {}: the deposits up to it \
             are not all known",
            derived.delayed_read, derivation.target
        )));
    }
    let block = builder.finish()?;
    let cursor = derivation
        .origin
        .filter(|_| derived.has_origin)
        .map(|origin| L1Cursor {
            origin,
            next_deposit: derived.delayed_read,
        });
    store.commit_derived_block(
        &block,
        cursor.as_ref(),
        derived.has_origin,
        position,
        &derived.listed_skipped,
    )?;
    Ok((block, derived))
}

/// Where to resume `batch` (Inbox batch `batch_index`), which starts at or below the derived
/// head `head`: the index of its first record not derived yet, when the head is one of its
/// blocks other than the last and was derived from it, so `head_cursor` (the derivation
/// cursor stored with the head, [`Store::derivation_cursor`]) points at that record of this
/// batch. None when the batch is not partly derived this way: the head is the batch's last
/// block or past it (already derived), or it came from another batch (this one overlaps the
/// chain: invalid).
fn resume_at(
    batch: &Batch,
    batch_index: u64,
    head: u64,
    head_cursor: Option<&Cursor>,
) -> Option<usize> {
    let cursor = head_cursor?;
    if cursor.batchIndex != batch_index || cursor.position == 0 {
        return None;
    }
    let derived = head.checked_sub(batch.first_block)?;
    let next = usize::try_from(derived).ok()?.checked_add(1)?;
    (next < batch.blocks.len() && batch.next_position(next - 1) == cursor.position).then_some(next)
}

#[cfg(test)]
mod tests {
    use fraud_vm::batch::BatchBlock;

    use super::*;

    /// Batch 3 of blocks 5..=8, records of different lengths.
    fn batch() -> Batch {
        Batch {
            first_block: 5,
            parent_hash: Default::default(),
            blocks: (0..4)
                .map(|i| BatchBlock {
                    transactions: vec![vec![0xab; i + 1].into()],
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// The cursor stored with block `first_block + i` when it was derived from record `i`.
    fn after(batch: &Batch, index: u64, i: usize) -> Cursor {
        Cursor::after(index, batch.next_position(i), 0, None)
    }

    #[test]
    fn a_partly_derived_batch_resumes_at_the_next_record() {
        let b = batch();
        assert_eq!(resume_at(&b, 3, 5, Some(&after(&b, 3, 0))), Some(1));
        assert_eq!(resume_at(&b, 3, 6, Some(&after(&b, 3, 1))), Some(2));
        assert_eq!(resume_at(&b, 3, 7, Some(&after(&b, 3, 2))), Some(3));
    }

    #[test]
    fn a_head_at_the_last_block_has_derived_the_batch() {
        let b = batch();
        let last = after(&b, 3, 3);
        assert_eq!((last.batchIndex, last.position), (4, 0), "the next batch");
        assert_eq!(resume_at(&b, 3, b.last_block(), Some(&last)), None);
        // Even a cursor claiming this batch cannot resume past its last record.
        let inside = after(&b, 3, 2);
        assert_eq!(resume_at(&b, 3, b.last_block(), Some(&inside)), None);
        assert_eq!(resume_at(&b, 3, b.last_block() + 1, Some(&inside)), None);
    }

    #[test]
    fn a_head_from_another_batch_or_at_a_batch_start_does_not_resume() {
        let b = batch();
        let mut other = after(&b, 3, 0);
        other.batchIndex = 2;
        assert_eq!(resume_at(&b, 3, 5, Some(&other)), None);
        // The head closed the previous batch: the next one is opened at position 0.
        assert_eq!(
            resume_at(&b, 3, 5, Some(&Cursor::after(2, 0, 0, None))),
            None
        );
        let mut opened = after(&b, 3, 0);
        opened.position = 0;
        assert_eq!(resume_at(&b, 3, 5, Some(&opened)), None);
        assert_eq!(resume_at(&b, 3, 5, None), None, "a head not derived here");
        assert_eq!(resume_at(&b, 0, 0, Some(&Cursor::GENESIS)), None);
        // A head below the batch.
        assert_eq!(resume_at(&b, 3, 4, Some(&after(&b, 3, 0))), None);
    }

    #[test]
    fn a_cursor_at_another_record_does_not_resume() {
        let b = batch();
        // Block 6 with the cursor of block 5 (or 7): the head is not the record it says.
        assert_eq!(resume_at(&b, 3, 6, Some(&after(&b, 3, 0))), None);
        assert_eq!(resume_at(&b, 3, 6, Some(&after(&b, 3, 2))), None);
        let mut off = after(&b, 3, 1);
        off.position += 1;
        assert_eq!(resume_at(&b, 3, 6, Some(&off)), None);
    }
}
