//! Deposit derivation: following L1 and feeding its deposits to the sequencer.
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
//! **L1 unreachable**: the node keeps sealing blocks with the last known origin and no new
//! deposits; the follower logs a warning and retries with a backoff of up to 10 s.
//!
//! **L1 reorgs**: only blocks at depth `>= confirmations` are ever read, so a reorg of
//! unconfirmed blocks never reaches the L2 (a deposit in a reorged-out block is simply never
//! seen; if it is mined again it is a new deposit). A reorg **deeper than the confirmation
//! depth** (the block recorded as the latest confirmed one, or the stored origin on restart,
//! no longer has its hash) is not handled: the follower logs an error and stops deriving
//! (blocks keep coming, without new deposits), because the L2 has already executed deposits
//! from the replaced L1 blocks and undoing that means rolling the L2 back, which this node
//! does not do. Pick `--l1.confirmations` above the deepest reorg the L1 can have.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
};
use alloy_sol_types::{SolCall, SolEvent};
use fraud_vm::{
    batch::{appendSequencerBatchCall, Batch, BatchAppended},
    deposit::{Deployment, DepositQueued, L1BlockInfo},
    message::DepositMessage,
};
use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

pub use crate::store::L1Cursor;

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

#[derive(Debug, Default)]
struct FeedState {
    /// The newest L1 block at the confirmation depth seen so far.
    confirmed: Option<L1BlockInfo>,
    /// Forced batches: L1 block number -> largest `afterDelayedMessagesRead` forced in it.
    forced: BTreeMap<u64, u64>,
    /// Sequencer batches found on L1 (replica mode), by batch index.
    batches: BTreeMap<u64, PostedBatch>,
    /// Queued deposits not yet included, by Inbox index.
    deposits: BTreeMap<u64, DepositMessage>,
    /// Deposits below this index are included already.
    included_below: u64,
}

/// What the L1 follower has found, shared with the sequencer (see the module docs).
#[derive(Debug, Default)]
pub struct DepositFeed {
    state: Mutex<FeedState>,
}

/// A sequencer batch as posted to the Inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostedBatch {
    /// The Inbox's batch index.
    pub index: u64,
    /// L1 block holding it.
    pub l1_block: u64,
    /// L1 transaction holding it.
    pub l1_tx: B256,
    /// `afterDelayedMessagesRead` of the call.
    pub after_delayed_read: u64,
    /// The decoded batch.
    pub batch: Batch,
}

/// The L1 inputs of one L2 block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInputs {
    /// The block's L1 origin.
    pub origin: L1BlockInfo,
    /// The Inbox index the block continues from (the cursor's next index).
    pub first_deposit: u64,
    /// The deposits to include after the L1-info deposit, in index order (contiguous from
    /// the cursor's next index).
    pub deposits: Vec<DepositMessage>,
    /// Delayed messages forced in at or before the origin ([`DepositFeed::forced_read`]).
    pub forced_read: u64,
}

impl DepositFeed {
    /// An empty feed expecting deposits from index `next_deposit` on.
    pub fn new(next_deposit: u64) -> Self {
        Self {
            state: Mutex::new(FeedState {
                included_below: next_deposit,
                ..Default::default()
            }),
        }
    }

    /// The inputs of the next L2 block after one whose derivation state is `cursor` (`None`:
    /// no block had an origin yet). `None` when no L1 block is known yet.
    pub fn inputs(&self, cursor: Option<&L1Cursor>) -> Option<BlockInputs> {
        let state = self.state.lock();
        let origin = match (cursor, state.confirmed) {
            (Some(c), Some(confirmed)) if confirmed.number > c.origin.number => confirmed,
            (Some(c), _) => c.origin,
            (None, confirmed) => confirmed?,
        };
        let first_deposit = cursor.map_or(state.included_below, |c| c.next_deposit);
        let deposits = (first_deposit..)
            .zip(state.deposits.range(first_deposit..))
            .take_while(|(next, (index, message))| {
                *index == next && message.l1_block_number <= origin.number
            })
            .map(|(_, (_, message))| message.clone())
            .collect();
        let forced_read = forced_read(&state.forced, origin.number);
        Some(BlockInputs {
            origin,
            first_deposit,
            deposits,
            forced_read,
        })
    }

    /// The queued deposits from index `from` on (contiguous), in index order.
    pub fn deposits_from(&self, from: u64) -> Vec<DepositMessage> {
        let state = self.state.lock();
        (from..)
            .zip(state.deposits.range(from..))
            .take_while(|(next, (index, _))| *index == next)
            .map(|(_, (_, message))| message.clone())
            .collect()
    }

    /// The largest `afterDelayedMessagesRead` of the forced batches appended in L1 blocks at or
    /// before `l1_block` (0 if none): every L2 block with an origin at or after such a batch
    /// consumes at least that many delayed messages (`fraud_vm::batch`, *Forced inclusion*).
    pub fn forced_read(&self, l1_block: u64) -> u64 {
        forced_read(&self.state.lock().forced, l1_block)
    }

    /// The sequencer batch with index `index`, once found on L1 (replica mode).
    pub fn batch(&self, index: u64) -> Option<PostedBatch> {
        self.state.lock().batches.get(&index).cloned()
    }

    /// Forgets sequencer batches below `index` (derived).
    pub fn batches_done_below(&self, index: u64) {
        let mut state = self.state.lock();
        let keep = state.batches.split_off(&index);
        state.batches = keep;
    }

    /// Records forced batches (L1 block, `afterDelayedMessagesRead`) and sequencer batches.
    pub fn publish_batches(&self, forced: Vec<(u64, u64)>, batches: Vec<PostedBatch>) {
        let mut state = self.state.lock();
        for (block, after) in forced {
            let entry = state.forced.entry(block).or_default();
            *entry = (*entry).max(after);
        }
        for batch in batches {
            state.batches.insert(batch.index, batch);
        }
    }

    /// Forgets deposits below `next_deposit` (included in a built block).
    pub fn included_below(&self, next_deposit: u64) {
        let mut state = self.state.lock();
        state.included_below = state.included_below.max(next_deposit);
        let keep = state.deposits.split_off(&next_deposit);
        state.deposits = keep;
    }

    /// Records the confirmed L1 head and the deposits found up to it.
    pub fn publish(&self, confirmed: L1BlockInfo, deposits: Vec<DepositMessage>) {
        let mut state = self.state.lock();
        for message in deposits {
            if message.index >= state.included_below {
                state.deposits.insert(message.index, message);
            }
        }
        if state.confirmed.is_none_or(|c| confirmed.number >= c.number) {
            state.confirmed = Some(confirmed);
        }
    }

    /// The newest confirmed L1 block published.
    pub fn confirmed(&self) -> Option<L1BlockInfo> {
        self.state.lock().confirmed
    }
}

fn forced_read(forced: &BTreeMap<u64, u64>, l1_block: u64) -> u64 {
    forced
        .range(..=l1_block)
        .map(|(_, after)| *after)
        .max()
        .unwrap_or(0)
}

/// Why following L1 failed (the follower logs it and retries, or stops on a deep reorg).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The L1 node failed to answer.
    #[error("L1 {0}")]
    Rpc(String),
    /// The L1 is another chain than the deployment's.
    #[error("the L1 at --l1.rpc has chain id {actual}, the deployment expects {expected}")]
    WrongChain {
        /// The deployment's L1 chain id.
        expected: u64,
        /// The L1's chain id.
        actual: u64,
    },
    /// A block the L2 already derived from changed: a reorg deeper than the confirmation depth.
    #[error(
        "L1 reorg deeper than --l1.confirmations: block {number} was {expected} and is now {actual}; \
         deposits already derived from the old chain stay on L2 and derivation stops (not handled)"
    )]
    DeepReorg {
        /// The L1 block number.
        number: u64,
        /// The hash derivation used.
        expected: B256,
        /// The hash L1 has now.
        actual: B256,
    },
}

fn rpc_err(what: &str, e: impl std::fmt::Display) -> FollowError {
    FollowError::Rpc(format!("{what}: {e}"))
}

/// Polls L1 and fills a [`DepositFeed`] (see the module docs).
pub struct L1Follower {
    config: L1Config,
    provider: DynProvider,
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

/// An HTTP provider for the L1 at `rpc` (the `--l1.rpc` flag), signing with `key` if given.
pub fn l1_provider(
    rpc: &str,
    key: Option<&alloy::signers::local::PrivateKeySigner>,
) -> Result<DynProvider, crate::NodeError> {
    let url = rpc
        .parse()
        .map_err(|e| crate::NodeError::Config(format!("--l1.rpc {rpc}: {e}")))?;
    Ok(match key {
        Some(key) => ProviderBuilder::new()
            .wallet(key.clone())
            .connect_http(url)
            .erased(),
        None => ProviderBuilder::new().connect_http(url).erased(),
    })
}

impl L1Follower {
    /// A follower of `config`'s L1 feeding `feed`, resuming after `start` (the stored cursor).
    pub fn new(
        config: L1Config,
        feed: Arc<DepositFeed>,
        start: Option<L1Cursor>,
    ) -> Result<Self, crate::NodeError> {
        let provider = l1_provider(&config.rpc, None)?;
        Ok(Self {
            config,
            provider,
            feed,
            start,
            scan_from: None,
            last_confirmed: start.map(|c| c.origin),
            read_batches: false,
        })
    }

    /// Replica mode: also reads every sequencer batch's calldata into the feed, scanning from
    /// the deploy block (batches are needed from the first one the replica has not derived).
    pub fn reading_batches(mut self) -> Self {
        self.read_batches = true;
        self
    }

    /// Polls until `shutdown` turns true. Errors are logged: RPC failures are retried with a
    /// backoff, a deep reorg or a wrong chain stop the follower.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
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
                Err(e @ (FollowError::DeepReorg { .. } | FollowError::WrongChain { .. })) => {
                    error!("{e}");
                    return;
                }
                Err(e) => {
                    warn!(error = %e, retry_in = ?delay, "cannot follow L1; sealing blocks without new deposits");
                    failing = true;
                    delay = (delay * 2).min(MAX_BACKOFF).max(self.config.poll_interval);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn block_info(&self, number: u64) -> Result<L1BlockInfo, FollowError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(|e| rpc_err("eth_getBlockByNumber", e))?
            .ok_or_else(|| FollowError::Rpc(format!("block {number} not found")))?;
        Ok(L1BlockInfo {
            number,
            hash: block.header.hash,
            timestamp: block.header.timestamp,
            basefee: block.header.base_fee_per_gas.unwrap_or_default(),
        })
    }

    /// The first L1 block to scan: the deploy block on a fresh chain; else the block of the
    /// next expected deposit (found by its indexed topic), or past the stored origin if it
    /// is not queued yet.
    async fn first_scan_block(&self, head: u64) -> Result<u64, FollowError> {
        let deploy_block = self.config.deployment.deploy_block;
        let Some(cursor) = self.start.filter(|_| !self.read_batches) else {
            return Ok(deploy_block);
        };
        let now = self.block_info(cursor.origin.number).await?;
        if now.hash != cursor.origin.hash {
            return Err(FollowError::DeepReorg {
                number: cursor.origin.number,
                expected: cursor.origin.hash,
                actual: now.hash,
            });
        }
        let mut from = deploy_block;
        while from <= head {
            let to = (from + LOGS_RANGE - 1).min(head);
            let filter = Filter::new()
                .address(self.config.deployment.inbox)
                .event_signature(DepositQueued::SIGNATURE_HASH)
                .topic1(B256::from(U256::from(cursor.next_deposit)))
                .from_block(from)
                .to_block(to);
            let logs = self
                .provider
                .get_logs(&filter)
                .await
                .map_err(|e| rpc_err("eth_getLogs", e))?;
            if let Some(number) = logs.first().and_then(|l| l.block_number) {
                return Ok(number);
            }
            from = to + 1;
        }
        Ok(cursor.origin.number + 1)
    }

    /// One round: read the confirmed head and the deposits up to it.
    async fn poll(&mut self) -> Result<(), FollowError> {
        if self.scan_from.is_none() {
            let chain_id = self
                .provider
                .get_chain_id()
                .await
                .map_err(|e| rpc_err("eth_chainId", e))?;
            if chain_id != self.config.deployment.l1_chain_id {
                return Err(FollowError::WrongChain {
                    expected: self.config.deployment.l1_chain_id,
                    actual: chain_id,
                });
            }
        }
        let head = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| rpc_err("eth_blockNumber", e))?;
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
            let now = self.block_info(last.number).await?;
            if now.hash != last.hash {
                return Err(FollowError::DeepReorg {
                    number: last.number,
                    expected: last.hash,
                    actual: now.hash,
                });
            }
        }
        let mut deposits = Vec::new();
        let mut forced = Vec::new();
        let mut batches = Vec::new();
        let mut from = scan_from;
        while from <= target {
            let to = (from + LOGS_RANGE - 1).min(target);
            let filter = Filter::new()
                .address(self.config.deployment.inbox)
                .event_signature(vec![
                    DepositQueued::SIGNATURE_HASH,
                    BatchAppended::SIGNATURE_HASH,
                ])
                .from_block(from)
                .to_block(to);
            let logs = self
                .provider
                .get_logs(&filter)
                .await
                .map_err(|e| rpc_err("eth_getLogs", e))?;
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
}

impl L1Follower {
    /// Reads one `BatchAppended` log: a forced batch is recorded by its L1 block; a sequencer
    /// batch (replica mode) is read from its transaction's calldata. An undecodable batch is
    /// logged and ignored (it derives no blocks).
    async fn read_batch(
        &self,
        log: &alloy::rpc::types::Log,
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
        let tx = self
            .provider
            .get_transaction_by_hash(l1_tx)
            .await
            .map_err(|e| rpc_err("eth_getTransactionByHash", e))?
            .ok_or_else(|| FollowError::Rpc(format!("batch transaction {l1_tx} not found")))?;
        let input = alloy::consensus::Transaction::input(&tx);
        let decoded = appendSequencerBatchCall::abi_decode(input)
            .map_err(|e| e.to_string())
            .and_then(|call| {
                if U256::from(call.data.len()) != event.dataLength
                    || fraud_vm::merkle::data_root(&call.data) != event.dataRoot
                {
                    return Err(
                        "calldata does not match the event's dataRoot and dataLength".to_string(),
                    );
                }
                Batch::decode(&call.data).map_err(|e| e.to_string())
            });
        match decoded {
            Ok(batch) => batches.push(PostedBatch {
                index,
                l1_block,
                l1_tx,
                after_delayed_read: after,
                batch,
            }),
            Err(e) => {
                error!(index, %l1_tx, error = %e, "ignoring an undecodable batch (it derives no blocks)");
                batches.push(PostedBatch {
                    index,
                    l1_block,
                    l1_tx,
                    after_delayed_read: after,
                    batch: Batch::default(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64) -> L1BlockInfo {
        L1BlockInfo {
            number,
            hash: B256::with_last_byte(number as u8),
            timestamp: 1000 + number,
            basefee: 7,
        }
    }

    fn message(index: u64, l1_block_number: u64) -> DepositMessage {
        DepositMessage {
            index,
            l1_block_number,
            ..Default::default()
        }
    }

    #[test]
    fn inputs_are_contiguous_from_the_cursor_and_origins_never_go_back() {
        let feed = DepositFeed::new(0);
        assert_eq!(feed.inputs(None), None, "no L1 block known yet");
        feed.publish(block(5), vec![message(0, 3), message(1, 5), message(3, 5)]);
        let inputs = feed.inputs(None).expect("origin");
        assert_eq!(inputs.origin, block(5));
        // Index 2 is missing: stop before 3.
        assert_eq!(
            inputs.deposits.iter().map(|m| m.index).collect::<Vec<_>>(),
            vec![0, 1]
        );
        // After a block that included 0 and 1 with origin 5:
        let cursor = L1Cursor {
            origin: block(5),
            next_deposit: 2,
        };
        feed.included_below(2);
        assert!(feed.inputs(Some(&cursor)).unwrap().deposits.is_empty());
        // An older confirmed block (a slower L1 view) never moves the origin back.
        feed.publish(block(4), vec![message(2, 4)]);
        let inputs = feed.inputs(Some(&cursor)).unwrap();
        assert_eq!(inputs.origin, block(5));
        assert_eq!(
            inputs.deposits.iter().map(|m| m.index).collect::<Vec<_>>(),
            vec![2, 3]
        );
        // A deposit queued after the origin waits for a newer origin.
        feed.publish(block(6), vec![message(4, 7)]);
        let cursor = L1Cursor {
            origin: block(6),
            next_deposit: 4,
        };
        feed.included_below(4);
        assert!(feed.inputs(Some(&cursor)).unwrap().deposits.is_empty());
        feed.publish(block(7), vec![]);
        assert_eq!(feed.inputs(Some(&cursor)).unwrap().deposits.len(), 1);
        // Already-included deposits are not taken back in.
        feed.publish(block(7), vec![message(1, 5)]);
        assert_eq!(feed.inputs(Some(&cursor)).unwrap().deposits[0].index, 4);
    }
}
