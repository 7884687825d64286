//! The L1 follower: following L1 and feeding its deposits (and, for a replica, its batches)
//! to the sequencer.
//!
//! With `--l1.rpc URL --deployment FILE` the node runs an [`L1Follower`] task that polls L1
//! every `--l1.poll-interval` and publishes, in a shared [`DepositFeed`]:
//!
//! - the **confirmed L1 head**: the newest L1 block at depth `>= --l1.confirmations` (the head
//!   itself has depth 0);
//! - every `DepositQueued` event of the deployment's `Inbox` in L1 blocks up to it, by Inbox
//!   index;
//! - every forced batch (`BatchAppended` with `forced = true`) up to it, by batch index, with
//!   the L1 block before its own (its forced block's origin), for the sequencer's
//!   [`crate::forced`] and the replica;
//! - in replica mode ([`L1Follower::reading_batches`]), every sequencer batch, decoded from its
//!   transaction's calldata (checked against the event's `dataRoot` and `dataLength`), for [`crate::replica`].
//!
//! For each new L2 block the sequencer ([`crate::sequencer`]) asks the feed for its inputs
//! ([`DepositFeed::inputs`]):
//!
//! - the **L1 origin** is the confirmed L1 head, or the previous block's origin if that is not
//!   older (origins never go back);
//! - the block opens with the L1-info deposit of its origin
//!   ([`fraud_vm::deposit::l1_info_deposit`]), followed by every deposit not yet included, in
//!   Inbox index order starting at the next expected index, queued at or before the origin,
//!   while they fit in the block's gas (the rest go into the next block):
//!   [`fraud_vm::batch::apply_l1_inputs`], the same code derivation replays.
//!
//! Each deposit is included **exactly once**: the [`L1Cursor`] (origin and next expected Inbox
//! index) is written to the store in the same atomic batch as the block that advanced it
//! ([`crate::store::Store::commit_block_with_cursor`]), so a restart resumes at the next index
//! (found again on L1 by its indexed `DepositQueued` topic) and neither skips nor repeats one.
//!
//! The follower reads L1 through an [`L1Source`] ([`RpcL1Source`] in the node), and a failed
//! round is a [`FollowError`] whose variant is what the driver ([`L1Follower::drive`]) does:
//!
//! - **L1 unreachable** ([`FollowError::Temporary`]): the node keeps sealing blocks with the
//!   last known origin and no new deposits; the follower logs a warning and retries with a
//!   backoff of up to 10 s;
//! - **reorg below the confirmation depth** ([`FollowError::Reset`]): see below; the follower
//!   stops and the node recovers ([`crate::reorg`]);
//! - **wrong L1** ([`FollowError::Critical`]: the L1's chain id is not the deployment's, or a
//!   batch transaction's calldata is not the data the Inbox committed): the follower logs an
//!   error and stops. Committed data that does not decode as a batch derives no blocks.
//!
//! **L1 reorgs**: only blocks at depth `>= confirmations` are ever read, so a reorg of
//! unconfirmed blocks never reaches the L2 (a deposit in a reorged-out block is simply never
//! seen; if it is mined again it is a new deposit). A reorg **deeper than the confirmation
//! depth** is found when the block recorded as the latest confirmed one (or, when L1's head
//! drops below it, the newest confirmed block seen at or below the head; or the stored origin
//! on restart) no longer has its hash. The follower stops with [`FollowError::Reset`], and the
//! node rolls the L2 back to the newest block whose L1 inputs are still on L1 and starts its L1
//! tasks again ([`crate::reorg`]).

mod error;
mod feed;
#[cfg(test)]
mod scripted;
mod source;
#[cfg(test)]
mod tests;

use std::{sync::Arc, time::Duration};

use alloy::{primitives::U256, rpc::types::Log};
use alloy_sol_types::{SolCall, SolEvent};
use fraud_vm::{
    batch::{appendSequencerBatchCall, Batch, BatchAppended},
    deposit::{Deployment, DepositQueued, L1BlockInfo},
};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

pub use error::{CriticalError, DeepReorg, FollowError};
pub use feed::{BlockInputs, DepositFeed, ForcedBatch, PostedBatch};
pub use source::{l1_provider, L1Source, RpcL1Source, SourceError};

use crate::store::L1Cursor;

/// Longest block range of one `eth_getLogs` call.
const LOGS_RANGE: u64 = 5_000;
/// Confirmed blocks the follower remembers to check a head that went back.
const SEEN: usize = 256;
/// Longest wait between retries while L1 is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How the node follows L1.
#[derive(Clone, Debug)]
pub struct L1Config {
    /// L1 JSON-RPC URL (HTTP).
    pub rpc: String,
    /// The rollup's L1 deployment.
    pub deployment: Deployment,
    /// Depth an L1 block needs before it becomes an origin (0: the head itself).
    pub confirmations: u64,
    /// Time between L1 polls.
    pub poll_interval: Duration,
}

/// Polls L1 and fills a [`DepositFeed`] (see the module docs).
pub struct L1Follower<S = RpcL1Source> {
    config: L1Config,
    source: S,
    feed: Arc<DepositFeed>,
    /// Where the follower starts: the stored cursor.
    start: Option<L1Cursor>,
    /// The next L1 block whose logs are to be read (None: not started yet).
    scan_from: Option<u64>,
    /// The confirmed blocks published, newest last (at most [`SEEN`]): the newest is checked
    /// for deep reorgs each round, and when L1's head drops below it, the newest of these at or
    /// below the head tells a reorg from a lagging node.
    seen: std::collections::VecDeque<L1BlockInfo>,
    /// Replica mode: also read sequencer batches (from the deploy block on).
    read_batches: bool,
}

impl L1Follower {
    /// A follower of `config`'s L1 (over JSON-RPC at `config.rpc`) feeding `feed`, resuming
    /// after `start` (the stored cursor).
    pub fn new(
        config: L1Config,
        feed: Arc<DepositFeed>,
        start: Option<L1Cursor>,
    ) -> Result<Self, crate::NodeError> {
        let source = RpcL1Source::connect(&config.rpc)?;
        Ok(Self::with_source(config, source, feed, start))
    }
}

impl<S: L1Source> L1Follower<S> {
    /// A follower reading L1 from `source` (`config.rpc` only names it in logs).
    pub fn with_source(
        config: L1Config,
        source: S,
        feed: Arc<DepositFeed>,
        start: Option<L1Cursor>,
    ) -> Self {
        Self {
            config,
            source,
            feed,
            start,
            scan_from: None,
            seen: start.map(|c| c.origin).into_iter().collect(),
            read_batches: false,
        }
    }

    /// Replica mode: also reads every sequencer batch's calldata into the feed, scanning from
    /// the deploy block (batches are needed from the first one the replica has not derived).
    pub fn reading_batches(mut self) -> Self {
        self.read_batches = true;
        self
    }

    /// The driver loop: polls every `poll_interval` until `shutdown` turns true (`Ok`) and
    /// acts on each failed round by its kind: [`FollowError::Temporary`] is logged and
    /// retried with a doubling backoff (up to 10 s); [`FollowError::Reset`] (a reorg deeper
    /// than the confirmation depth, which the node recovers from: [`crate::reorg`]) and
    /// [`FollowError::Critical`] are logged and returned: the follower stops.
    pub async fn drive(mut self, mut shutdown: watch::Receiver<bool>) -> Result<(), FollowError> {
        let mut delay = self.config.poll_interval;
        let mut failing = false;
        loop {
            match self.poll().await {
                Ok(()) => {
                    if failing {
                        info!(l1 = %self.config.rpc, "L1 reachable again");
                    }
                    failing = false;
                    delay = self.config.poll_interval;
                }
                Err(e @ FollowError::Temporary(_)) => {
                    warn!(error = %e, retry_in = ?delay, "cannot follow L1; sealing blocks without new deposits");
                    failing = true;
                    delay = (delay * 2).min(MAX_BACKOFF).max(self.config.poll_interval);
                }
                Err(e @ (FollowError::Reset(_) | FollowError::Critical(_))) => {
                    error!("{e}");
                    return Err(e);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    async fn block_info(&self, number: u64) -> Result<L1BlockInfo, FollowError> {
        self.source
            .block(number)
            .await?
            .ok_or_else(|| SourceError::Missing(format!("block {number}")).into())
    }

    /// Fails with [`FollowError::Reset`] if L1 block `seen.number` is no longer `seen`.
    async fn check_unchanged(&self, seen: &L1BlockInfo) -> Result<(), FollowError> {
        let now = self.block_info(seen.number).await?;
        if now.hash != seen.hash {
            return Err(DeepReorg {
                number: seen.number,
                expected: seen.hash,
                actual: now.hash,
            }
            .into());
        }
        Ok(())
    }

    /// The first L1 block to scan: the deploy block, after checking that the stored origin is
    /// still L1's. Every forced batch is read again (a sequencer asks whether each one is in its
    /// chain, `crate::forced`: one that landed while the node was down included), deposits the
    /// chain has consumed are dropped by the feed, and a replica needs the batches anyway.
    async fn first_scan_block(&self) -> Result<u64, FollowError> {
        if let Some(cursor) = self.start {
            self.check_unchanged(&cursor.origin).await?;
        }
        Ok(self.config.deployment.deploy_block)
    }

    /// One round: read the confirmed head and the deposits (and batches) up to it.
    async fn poll(&mut self) -> Result<(), FollowError> {
        if self.scan_from.is_none() {
            let chain_id = self.source.chain_id().await?;
            if chain_id != self.config.deployment.l1_chain_id {
                return Err(CriticalError::WrongChain {
                    expected: self.config.deployment.l1_chain_id,
                    actual: chain_id,
                }
                .into());
            }
        }
        let head = self.source.head().await?;
        let scan_from = match self.scan_from {
            Some(n) => n,
            None => {
                let n = self.first_scan_block().await?;
                info!(from_l1_block = n, next_deposit = ?self.start.map(|c| c.next_deposit), "following L1");
                self.scan_from = Some(n);
                n
            }
        };
        let Some(target) = head.checked_sub(self.config.confirmations) else {
            return Ok(());
        };
        if let Some(&last) = self.seen.back() {
            if target < last.number {
                // The head went back: a reorg that shortened L1, or a lagging node. The newest
                // block seen at or below the head tells which; a lagging node is waited for.
                if let Some(seen) = self.seen.iter().rev().find(|b| b.number <= target) {
                    self.check_unchanged(seen).await?;
                }
                return Ok(());
            }
            // Also when nothing is new: a reorg may keep L1's height.
            self.check_unchanged(&last).await?;
            if scan_from > target {
                return Ok(());
            }
        }
        let mut deposits = Vec::new();
        let mut forced = Vec::new();
        let mut batches = Vec::new();
        let mut from = scan_from;
        while from <= target {
            let to = (from + LOGS_RANGE - 1).min(target);
            let logs = self
                .source
                .inbox_logs(self.config.deployment.inbox, from, to)
                .await?;
            for log in logs {
                if log.topic0() == Some(&BatchAppended::SIGNATURE_HASH) {
                    self.read_batch(&log, &mut forced, &mut batches).await?;
                    continue;
                }
                match DepositQueued::decode_log_data(log.data()) {
                    Ok(event) => deposits.push(event.message()),
                    Err(e) => {
                        warn!(tx = ?log.transaction_hash, error = %e, "undecodable DepositQueued log")
                    }
                }
            }
            from = to + 1;
        }
        let confirmed = self.block_info(target).await?;
        if self.seen.back().is_none_or(|l| confirmed.number > l.number) {
            self.seen.push_back(confirmed);
            if self.seen.len() > SEEN {
                self.seen.pop_front();
            }
        }
        if !deposits.is_empty() {
            debug!(
                count = deposits.len(),
                up_to_l1_block = target,
                "deposits found"
            );
        }
        let newest = self.seen.back().copied().unwrap_or(confirmed);
        self.feed.publish(newest, deposits, forced, batches);
        self.scan_from = Some(scan_from.max(target + 1));
        Ok(())
    }

    /// Reads one `BatchAppended` log: a forced batch is recorded by its L1 block; a sequencer
    /// batch (replica mode) is read from its transaction's calldata. An undecodable batch is
    /// logged and ignored (it derives no blocks).
    async fn read_batch(
        &self,
        log: &Log,
        forced: &mut Vec<ForcedBatch>,
        batches: &mut Vec<PostedBatch>,
    ) -> Result<(), FollowError> {
        let event = match BatchAppended::decode_log_data(log.data()) {
            Ok(event) => event,
            Err(e) => {
                warn!(tx = ?log.transaction_hash, error = %e, "undecodable BatchAppended log");
                return Ok(());
            }
        };
        let l1_block = log.block_number.unwrap_or_default();
        let after = u64::try_from(event.afterDelayedMessagesRead).unwrap_or(u64::MAX);
        let index = u64::try_from(event.batchIndex).unwrap_or(u64::MAX);
        let l1_tx = log.transaction_hash.unwrap_or_default();
        if event.forced {
            info!(l1_block, after_delayed_read = after, "forced batch on L1");
            let origin = self.block_info(l1_block.saturating_sub(1)).await?;
            forced.push(ForcedBatch {
                index,
                l1_block,
                after_delayed_read: after,
                acc: event.batchAcc,
                origin,
            });
            if self.read_batches {
                // Forced batches take a batch index too; a replica derives their forced
                // blocks.
                batches.push(PostedBatch {
                    index,
                    l1_block,
                    l1_timestamp: 0,
                    l1_tx,
                    after_delayed_read: after,
                    acc: event.batchAcc,
                    batch: Batch::default(),
                    forced_origin: Some(origin),
                });
            }
            return Ok(());
        }
        if !self.read_batches {
            return Ok(());
        }
        let input = self
            .source
            .transaction_input(l1_tx)
            .await?
            .ok_or_else(|| SourceError::Missing(format!("batch transaction {l1_tx}")))?;
        let unreadable = |reason: String| CriticalError::UnreadableBatch {
            index,
            l1_tx,
            reason,
        };
        let call = appendSequencerBatchCall::abi_decode(&input)
            .map_err(|e| unreadable(format!("not an appendSequencerBatch call: {e}")))?;
        if U256::from(call.data.len()) != event.dataLength
            || fraud_vm::merkle::data_root(&call.data) != event.dataRoot
        {
            return Err(unreadable(
                "calldata does not match the event's dataRoot and dataLength".into(),
            )
            .into());
        }
        // Committed bytes that are not a batch derive no blocks (the derivation rule).
        let batch = Batch::decode(&call.data).unwrap_or_else(|e| {
            error!(index, %l1_tx, error = %e, "ignoring an undecodable batch (it derives no blocks)");
            Batch::default()
        });
        let l1_timestamp = self.block_info(l1_block).await?.timestamp;
        batches.push(PostedBatch {
            index,
            l1_block,
            l1_timestamp,
            l1_tx,
            after_delayed_read: after,
            acc: event.batchAcc,
            batch,
            forced_origin: None,
        });
        Ok(())
    }
}
