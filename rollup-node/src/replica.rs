//! Replica mode (`--replica`): the L2 chain rebuilt from L1 alone.
//!
//! A replica runs no sequencer and includes nothing from its pool. Its [`L1Follower`]
//! (`crate::follower`) reads, at the confirmation depth, the Inbox's deposits, forced batches and
//! every sequencer batch's calldata; the [`Replica`] task then rebuilds each batch's blocks in
//! order with [`fraud_vm::batch::derive_block`] — the same `BlockBuilder` and the same
//! L1-inputs rule the sequencer used — and stores and announces them like the sequencer does, so
//! the JSON-RPC is the same and every block hash and state root equals the sequencer's.
//!
//! Rules beyond `fraud_vm::batch`'s derivation rule:
//!
//! - blocks already stored (a batch that repeats them, or a restart) are skipped; a batch that
//!   starts past the next block, or whose parent hash is not the stored parent's, stops
//!   derivation with an error;
//! - a block's L1 origin must be the L1 block of that number (same hash), read from L1 for the
//!   L1-info deposit's timestamp and base fee; otherwise derivation stops with an error
//!   (skipping such a batch is not implemented yet);
//! - on start the follower scans L1 from the deployment's deploy block (batches are not stored
//!   locally), so a restart re-reads the Inbox's history once.
//!
//! [`L1Follower`]: crate::follower::L1Follower

use std::{sync::Arc, time::Duration};

use fraud_vm::{
    batch::{derive_block, BatchBlock},
    chain::ChainSpec,
    deposit::L1BlockInfo,
    execute::BlockBuilder,
};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::{
    batcher::BatchedThrough,
    events::ChainEvents,
    follower::{DepositFeed, L1Source, PostedBatch, RpcL1Source},
    store::L1Cursor,
    store::Store,
    NodeError,
};

/// Why a replica stopped deriving.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// The L1 node failed (retried).
    #[error("L1 {0}")]
    Rpc(String),
    /// A batch does not continue the stored chain.
    #[error("batch {batch} does not continue the chain: {reason}")]
    Discontinuous {
        /// Inbox batch index.
        batch: u64,
        /// What is wrong.
        reason: String,
    },
    /// A block names an L1 origin that is not on L1.
    #[error("block {block} names L1 origin {number} ({hash}), which L1 does not have")]
    UnknownOrigin {
        /// L2 block number.
        block: u64,
        /// L1 number.
        number: u64,
        /// L1 hash.
        hash: alloy::primitives::B256,
    },
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
                    Err(e) => {
                        error!("{e}; the replica stops deriving");
                        return Err(NodeError::Internal(e.to_string()));
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    async fn origin_info(
        &self,
        block: u64,
        entry: &BatchBlock,
    ) -> Result<Option<L1BlockInfo>, ReplicaError> {
        let Some(origin) = entry.origin else {
            return Ok(None);
        };
        let l1 = self
            .l1
            .block(origin.number)
            .await
            .map_err(|e| ReplicaError::Rpc(e.to_string()))?;
        match l1 {
            Some(b) if b.hash == origin.hash => Ok(Some(b)),
            _ => Err(ReplicaError::UnknownOrigin {
                block,
                number: origin.number,
                hash: origin.hash,
            }),
        }
    }

    async fn apply(&self, posted: &PostedBatch) -> Result<(), ReplicaError> {
        let batch = &posted.batch;
        for (i, entry) in batch.blocks.iter().enumerate() {
            let number = batch.first_block + i as u64;
            let head = self.store.head().ok_or(NodeError::NoGenesis)?;
            if number <= head.header.number {
                continue;
            }
            if number != head.header.number + 1 {
                return Err(ReplicaError::Discontinuous {
                    batch: posted.index,
                    reason: format!("block {number} follows head {}", head.header.number),
                });
            }
            if i == 0 && batch.parent_hash != head.hash {
                return Err(ReplicaError::Discontinuous {
                    batch: posted.index,
                    reason: format!(
                        "parent hash {} is not block {}'s {}",
                        batch.parent_hash, head.header.number, head.hash
                    ),
                });
            }
            let origin = self.origin_info(number, entry).await?;
            let parent_read = self
                .store
                .delayed_read_at(head.header.number)
                .map_err(NodeError::from)?;
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
                let cursor = origin.map(|origin| L1Cursor {
                    origin,
                    next_deposit: derived.delayed_read,
                });
                self.store
                    .commit_block_with_cursor(&block, cursor.as_ref(), origin.is_some())?;
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
