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
//! L1-info deposit, is not before the batch's L1 block or is not on L1) is logged and skipped,
//! and the replica reads the next batch against the same chain. An L1 block the replica cannot
//! read yet is retried, never taken for an unknown origin.
//!
//! With each block the replica records where derivation continues after it (the batch index
//! and record position of its `fraud_vm::batch::Cursor`), so it knows the claim on every block
//! it derived (`rollup_claim`, [`crate::claim`]).
//!
//! On start the follower scans L1 from the deployment's deploy block (batches are not stored
//! locally), so a restart re-reads the Inbox's history once.
//!
//! [`L1Follower`]: crate::follower::L1Follower

use std::{sync::Arc, time::Duration};

use fraud_vm::{
    batch::{derive_block, AppendedIn, DerivedParent, InvalidBatch},
    chain::ChainSpec,
    execute::BlockBuilder,
};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::{
    batcher::BatchedThrough,
    events::ChainEvents,
    follower::{DepositFeed, L1Source, PostedBatch, RpcL1Source},
    store::{cursor::BatchPosition, L1Cursor, Store},
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
}

impl Replica {
    /// A replica of the chain in `store`, fed by `feed` (a follower in batch-reading mode).
    pub fn new(
        chain: ChainSpec,
        store: Store,
        events: ChainEvents,
        feed: Arc<DepositFeed>,
        l1_rpc: &str,
        poll_interval: Duration,
        batched: BatchedThrough,
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
        })
    }

    /// Derives blocks until `shutdown` turns true or derivation hits an error it cannot retry.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        self.batched.set(self.store.head_number());
        let mut next_batch = 0u64;
        loop {
            while let Some(posted) = self.feed.batch(next_batch) {
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
        let batch = &posted.batch;
        let appended = AppendedIn {
            number: posted.l1_block,
            timestamp: posted.l1_timestamp,
        };
        let head = self.store.head().ok_or(NodeError::NoGenesis)?;
        match batch.continues(head.header.number, head.hash) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            // After a restart the follower reads every batch again: those already derived
            // are not news.
            Err(InvalidBatch::Overlap { .. }) if batch.last_block() <= head.header.number => {
                debug!(batch = posted.index, "batch already derived");
                return Ok(());
            }
            Err(why) => {
                Self::skip(posted, None, &why);
                return Ok(());
            }
        }
        for (i, entry) in batch.blocks.iter().enumerate() {
            let head = self.store.head().ok_or(NodeError::NoGenesis)?;
            // `check` refuses a record after block u64::MAX (an overlap).
            let number = head.header.number.saturating_add(1);
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
            let origin = match entry.check_origin(number, on_l1.as_ref()) {
                Ok(origin) => origin,
                Err(why) => {
                    Self::skip(posted, Some(number), &why);
                    return Ok(());
                }
            };
            let parent_read = l1.map_or(0, |c| c.next_deposit);
            let forced = origin.map_or(0, |o| self.feed.forced_read(o.number));
            let target = entry.delayed_read.max(forced);
            let deposits = self.feed.deposits_from(parent_read);
            let built = tokio::task::block_in_place(|| {
                let latest = self.store.latest();
                let mut builder = BlockBuilder::new(
                    &self.chain,
                    &latest,
                    &head.header,
                    head.hash,
                    entry.attributes(),
                );
                let derived = derive_block(
                    &self.chain,
                    &mut builder,
                    entry,
                    origin.as_ref(),
                    parent_read,
                    target,
                    &deposits,
                )?;
                let block = builder.finish()?;
                let cursor = origin
                    .filter(|_| derived.has_origin)
                    .map(|origin| L1Cursor {
                        origin,
                        next_deposit: derived.delayed_read,
                    });
                let position = BatchPosition::after(posted.index, batch, i);
                self.store.commit_derived_block(
                    &block,
                    cursor.as_ref(),
                    derived.has_origin,
                    position,
                )?;
                Ok::<_, NodeError>((block, derived))
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
        }
        Ok(())
    }
}
