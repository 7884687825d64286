//! Recovery from an L1 reorg deeper than the confirmation depth.
//!
//! The follower reports such a reorg ([`crate::follower::DeepReorg`]: an L1 block it had
//! published as confirmed, or the stored origin on restart, has another hash now). The L2 blocks
//! derived from the replaced L1 blocks executed deposits and L1-info values that L1 no longer
//! holds, and no batch of them can derive on the new L1 (their origins are not on it). The node
//! ([`crate::node`]) stops its L1 tasks (the sequencer or replica, the batcher, the proposer,
//! the follower), lets the sequencer commit what it built, and:
//!
//! 1. finds the newest block whose L1 inputs L1 still holds at the confirmation depth
//!    ([`rewind_target`]): its newest L1 origin is L1's block of that number, so every deposit
//!    consumed up to it (each queued at or before that origin) is too; on a replica, also the
//!    batch it was read from (a sequencer's blocks stay valid when only their batch left L1:
//!    its batcher posts them again, and a batch of its that landed again with blocks it rolled
//!    back derives only the blocks it kept);
//! 2. rewinds the store to it ([`crate::store::Store::rewind`]), durably;
//! 3. on a sequencer, puts the user transactions of the removed blocks back into the pool, so
//!    they are included again;
//! 4. starts the L1 tasks again as at start: the follower from the rewound cursor, the batcher
//!    from the Inbox's last batch that is this chain's, the replica from the rewound head.
//!
//! On a sequencer, a block without an origin at or below it keeps: it has no L1 input. What is
//! not undone: an output the proposer sent for a rolled-back block before it stopped (the
//! dispute game removes a wrong output), and logs already served to RPC filters and
//! subscriptions (no `removed: true` logs are sent). Putting transactions back in the pool is
//! best effort (a full pool refuses some; a crash between the rewind and the re-adds loses
//! them, as a crash loses any pooled transaction).

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use op_alloy_consensus::OpTxEnvelope;
use tracing::{info, warn};

use crate::{
    follower::{L1Source, SourceError},
    mempool::{Mempool, PoolError},
    store::{cursor::BatchPosition, Store, StoreError},
};

/// Why recovering from a deep reorg failed.
#[derive(Debug, thiserror::Error)]
pub enum ReorgError {
    /// L1 did not answer (the caller retries).
    #[error("L1: {0}")]
    L1(#[from] SourceError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks blocks' batches against the Inbox at the confirmation depth: whether the batch a
/// block was read from is still the Inbox's batch of that index (the same accumulator,
/// [`BatchPosition::source_acc`]: the same data appended in the same L1 block after the same
/// batches). Remembers the last batch found and the last refuted, so a walk over blocks reads
/// L1 once per distinct batch.
pub struct BatchCheck<'a, S> {
    l1: &'a S,
    inbox: Address,
    /// The L1 block at the confirmation depth (None: L1 is not that deep).
    at: Option<u64>,
    kept: Option<u64>,
    gone: Option<u64>,
    /// Positions recorded before accumulators were kept (not checkable).
    unknown: usize,
}

impl<'a, S: L1Source> BatchCheck<'a, S> {
    /// A check of `inbox`'s batches on `l1`, `confirmations` below its head.
    pub async fn new(l1: &'a S, inbox: Address, confirmations: u64) -> Result<Self, ReorgError> {
        Ok(Self {
            l1,
            inbox,
            at: l1.head().await?.checked_sub(confirmations),
            kept: None,
            gone: None,
            unknown: 0,
        })
    }

    /// The L1 block at the confirmation depth the check reads the Inbox at (None: L1 is not
    /// that deep).
    pub fn at(&self) -> Option<u64> {
        self.at
    }

    /// Whether the batch of `position` is still on L1 (a position without an accumulator
    /// counts as on L1).
    pub async fn holds(&mut self, position: &BatchPosition) -> Result<bool, ReorgError> {
        if position.source_acc == B256::ZERO {
            self.unknown += 1;
            return Ok(true);
        }
        let source = position.source_index();
        if self.kept == Some(source) {
            return Ok(true);
        }
        if self.gone == Some(source) {
            return Ok(false);
        }
        let on_l1 = match self.at {
            Some(at) => {
                self.l1
                    .batch_acc(self.inbox, source.saturating_add(1), at)
                    .await?
            }
            None => None,
        };
        let holds = on_l1 == Some(position.source_acc);
        if holds {
            self.kept = Some(source);
        } else {
            self.gone = Some(source);
        }
        Ok(holds)
    }
}

/// The newest block at or below the head whose L1 inputs L1 still holds at `check`'s
/// confirmation depth: its newest L1 origin (if any) is L1's block of that number, at or below
/// that depth; and, with `batches` (a replica), the batch it was read from is still on L1
/// ([`BatchCheck::holds`]). Refuted origins are remembered, so the walk reads L1 once per
/// distinct origin and batch it passes, and the store once per block.
pub async fn rewind_target<S: L1Source>(
    store: &Store,
    check: &mut BatchCheck<'_, S>,
    batches: bool,
) -> Result<u64, ReorgError> {
    let (l1, confirmed) = (check.l1, check.at);
    let mut number = store.head_number();
    let mut origin_gone = None;
    loop {
        if number == 0 {
            return Ok(0);
        }
        let position = match batches {
            true => store.batch_position(number)?,
            false => None,
        };
        if let Some(position) = position {
            if !check.holds(&position).await? {
                number -= 1;
                continue;
            }
        }
        let Some((block, record)) = store.newest_l1_record(number)? else {
            return Ok(number);
        };
        let origin = record.origin;
        let kept = origin_gone != Some(origin)
            && confirmed.is_some_and(|c| origin.number <= c)
            && l1
                .block(origin.number)
                .await?
                .is_some_and(|b| b.hash == origin.hash);
        if kept {
            return Ok(number);
        }
        origin_gone = Some(origin);
        // Blocks `block..=number` have that origin: they go.
        number = block.saturating_sub(1);
    }
}

/// On a sequencer, whose blocks stay when only their batch left L1: forgets the batch
/// positions of the newest blocks whose batch is no longer on L1 (the claims on them would
/// name an Inbox index that holds another batch now); its batcher records them again when it
/// posts those blocks again. Returns how many were forgotten.
async fn forget_stale_positions<S: L1Source>(
    store: &Store,
    check: &mut BatchCheck<'_, S>,
) -> Result<u64, ReorgError> {
    let head = store.head_number();
    let mut number = head;
    let mut stale_from = None;
    while number > 0 {
        if let Some(position) = store.batch_position(number)? {
            // Accumulators chain: once a batch is on L1, so is every earlier one.
            if check.holds(&position).await? {
                break;
            }
            stale_from = Some(number);
        }
        number -= 1;
    }
    match stale_from {
        Some(from) => Ok(store.forget_batch_positions(from, head)?),
        None => Ok(0),
    }
}

/// Rewinds `store` to [`rewind_target`] and, with `pool` (a sequencer), puts the user
/// transactions of the removed blocks back into it. Returns the new head.
/// Without `pool` (a replica) blocks whose batch left `inbox` go too; with it (a sequencer)
/// only their batch positions do.
pub async fn recover<S: L1Source>(
    store: &Store,
    pool: Option<&Arc<Mempool>>,
    l1: &S,
    inbox: Address,
    confirmations: u64,
) -> Result<u64, ReorgError> {
    let head = store.head_number();
    let mut check = BatchCheck::new(l1, inbox, confirmations).await?;
    // A replica's blocks stand on their batches; a sequencer's do not (it has a pool).
    let target = rewind_target(store, &mut check, pool.is_none()).await?;
    if check.unknown > 0 {
        warn!(
            blocks = check.unknown,
            "kept blocks whose batch position predates batch accumulators: their batches were not checked against L1"
        );
    }
    if pool.is_some() {
        let forgotten = forget_stale_positions(store, &mut check).await?;
        if forgotten > 0 {
            warn!(
                blocks = forgotten,
                "forgot the batch positions of blocks whose batch left L1; the batcher posts them again"
            );
        }
    }
    if target == head {
        info!(
            head,
            "L1 reorg: every block's L1 inputs are still on L1; nothing to roll back"
        );
        return Ok(head);
    }
    let requeued = roll_back(store, pool, target)?;
    warn!(
        from = head,
        to = target,
        removed_blocks = head - target,
        requeued_transactions = requeued,
        "L1 reorg deeper than --l1.confirmations: rolled the L2 back to the newest block whose L1 inputs are still on L1; deriving again from there"
    );
    Ok(target)
}

/// Rewinds `store` to block `target` and, with `pool` (a sequencer), puts the user transactions
/// of the removed blocks back into it. Returns how many were pooled again.
pub fn roll_back(
    store: &Store,
    pool: Option<&Arc<Mempool>>,
    target: u64,
) -> Result<usize, StoreError> {
    let head = store.head_number();
    let mut removed: Vec<(OpTxEnvelope, Address)> = Vec::new();
    if pool.is_some() {
        for number in target + 1..=head {
            let block = store
                .block_by_number(number)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {number} missing")))?;
            removed.extend(
                block
                    .transactions
                    .into_iter()
                    .zip(block.senders)
                    .filter(|(tx, _)| !tx.is_deposit()),
            );
        }
    }
    store.rewind(target)?;
    let mut requeued = 0usize;
    if let Some(pool) = pool {
        let nonce_of = |sender: &Address| {
            store
                .account(sender)
                .map(|a| a.map_or(0, |a| a.nonce))
                .map_err(|e| PoolError::State(e.to_string()))
        };
        pool.on_rewind(nonce_of);
        for (tx, sender) in removed.iter().cloned() {
            match pool.add(tx, sender, || nonce_of(&sender)) {
                Ok(_) => requeued += 1,
                Err(e) => {
                    warn!(%sender, error = %e, "a rolled-back transaction is not pooled again")
                }
            }
        }
    }
    Ok(requeued)
}
