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
//! - every forced batch (`BatchAppended` with `forced = true`) up to it, by L1 block, published
//!   before the head that reaches it, so the sequencer applies the forced-inclusion rule
//!   (`fraud_vm::batch`) in the first block whose origin is at or after the forced batch;
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
//!   stops;
//! - **wrong L1** ([`FollowError::Critical`]: the L1's chain id is not the deployment's, or a
//!   batch transaction's calldata is not the data the Inbox committed): the follower logs an
//!   error and stops. Committed data that does not decode as a batch derives no blocks.
//!
//! **L1 reorgs**: only blocks at depth `>= confirmations` are ever read, so a reorg of
//! unconfirmed blocks never reaches the L2 (a deposit in a reorged-out block is simply never
//! seen; if it is mined again it is a new deposit). A reorg **deeper than the confirmation
//! depth** (the block recorded as the latest confirmed one, or the stored origin on restart,
//! no longer has its hash) is not handled: the follower logs an error and stops deriving
//! (blocks keep coming, without new deposits), because the L2 has already executed deposits
//! from the replaced L1 blocks and undoing that means rolling the L2 back, which this node
//! does not do. Pick `--l1.confirmations` above the deepest reorg the L1 can have.

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
pub use feed::{BlockInputs, DepositFeed, PostedBatch};
pub use source::{l1_provider, L1Source, RpcL1Source, SourceError};

use crate::store::L1Cursor;

/// Longest block range of one `eth_getLogs` call.
const LOGS_RANGE: u64 = 5_000;
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
    /// The last confirmed block published (checked for deep reorgs).
    last_confirmed: Option<L1BlockInfo>,
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
            last_confirmed: start.map(|c| c.origin),
            read_batches: false,
        }
    }

    /// Replica mode: also reads every sequencer batch's calldata into the feed, scanning from
    /// the deploy block (batches are needed from the first one the replica has not derived).
    pub fn reading_batches(mut self) -> Self {
        self.read_batches = true;
        self
    }

    /// Polls until `shutdown` turns true or an error stops the follower (logged; see
    /// [`L1Follower::drive`]).
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let _ = self.drive(shutdown).await;
    }

    /// The driver loop: polls every `poll_interval` until `shutdown` turns true (`Ok`) and
    /// acts on each failed round by its kind: [`FollowError::Temporary`] is logged and
    /// retried with a doubling backoff (up to 10 s); [`FollowError::Reset`] (a reorg deeper
    /// than the confirmation depth, which this node does not undo) and
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

    /// The first L1 block to scan: the deploy block on a fresh chain; else the block of the
    /// next expected deposit (found by its indexed topic), or past the stored origin if it
    /// is not queued yet.
    async fn first_scan_block(&self, head: u64) -> Result<u64, FollowError> {
        let deploy_block = self.config.deployment.deploy_block;
        let Some(cursor) = self.start.filter(|_| !self.read_batches) else {
            return Ok(deploy_block);
        };
        self.check_unchanged(&cursor.origin).await?;
        let inbox = self.config.deployment.inbox;
        let mut from = deploy_block;
        while from <= head {
            let to = (from + LOGS_RANGE - 1).min(head);
            let found = self
                .source
                .deposit_block(inbox, cursor.next_deposit, from, to)
                .await?;
            if let Some(number) = found {
                return Ok(number);
            }
            from = to + 1;
        }
        Ok(cursor.origin.number + 1)
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
                let n = self.first_scan_block(head).await?;
                info!(from_l1_block = n, next_deposit = ?self.start.map(|c| c.next_deposit), "following L1");
                self.scan_from = Some(n);
                n
            }
        };
        let Some(target) = head.checked_sub(self.config.confirmations) else {
            return Ok(());
        };
        if let Some(last) = self.last_confirmed {
            if target <= last.number && scan_from > target {
                return Ok(());
            }
            self.check_unchanged(&last).await?;
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
        // Batches first: a sequencer never sees an origin without the forced batches up to it.
        self.feed.publish_batches(forced, batches);
        let confirmed = self.block_info(target).await?;
        if self
            .last_confirmed
            .is_none_or(|l| confirmed.number > l.number)
        {
            self.last_confirmed = Some(confirmed);
        }
        if !deposits.is_empty() {
            debug!(
                count = deposits.len(),
                up_to_l1_block = target,
                "deposits found"
            );
        }
        self.feed
            .publish(self.last_confirmed.unwrap_or(confirmed), deposits);
        self.scan_from = Some(scan_from.max(target + 1));
        Ok(())
    }

    /// Reads one `BatchAppended` log: a forced batch is recorded by its L1 block; a sequencer
    /// batch (replica mode) is read from its transaction's calldata. An undecodable batch is
    /// logged and ignored (it derives no blocks).
    async fn read_batch(
        &self,
        log: &Log,
        forced: &mut Vec<(u64, u64)>,
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
            forced.push((l1_block, after));
            if self.read_batches {
                // Forced batches take a batch index too; they carry no blocks.
                batches.push(PostedBatch {
                    index,
                    l1_block,
                    l1_timestamp: 0,
                    l1_tx,
                    after_delayed_read: after,
                    batch: Batch::default(),
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
            batch,
        });
        Ok(())
    }
}
