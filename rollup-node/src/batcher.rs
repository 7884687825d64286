//! The batcher: posts sealed, durable L2 blocks to the L1 `Inbox` as sequencer batches.
//!
//! Enabled with `--batcher.key` (the deployment's batcher EOA). Every `--batcher.poll-interval`
//! it looks at the blocks the store holds past the last posted one (only durable blocks: the
//! store's head moves after the flush) and posts them with
//! `Inbox.appendSequencerBatch(data, afterDelayedMessagesRead)` ([`fraud_vm::batch`] is the
//! format and says how `afterDelayedMessagesRead` is chosen) when either
//!
//! - the pending blocks encode to at least `--batcher.max-bytes` (a batch never exceeds it,
//!   except a single block that alone is larger), or
//! - the oldest pending block has waited `--batcher.max-age`.
//!
//! Each posted batch is logged with its bytes, its L1 gas and the gas per transaction, and the
//! position after each of its blocks (its Inbox index, from the receipt's `BatchAppended`) is
//! recorded in the store, so the node knows the claim on every block it batched
//! (`rollup_claim`), as a replica knows it for the blocks it derives.
//!
//! **Exactly once across crashes.** The batcher keeps no state of its own: on start (and after
//! any failed post) it first waits until its account has no pending L1 transaction (pending
//! nonce = mined nonce), then reads the Inbox's `BatchAppended` logs newest first, decodes each
//! sequencer batch's calldata and continues after the newest batch whose blocks are this
//! chain's (after an L1 reorg, an own batch that landed again may end in blocks this node
//! rolled back: it continues after the ones it kept, if derivation skips the rest). Other
//! batches, which only a misused batcher key can post, are checked against the validity rules
//! ([`fraud_vm::batch::validity`]): one that derivation skips is logged and passed over; one
//! that derivation would derive means L1 derives another chain than this node's, and the batcher stops with [`BatcherError::Diverged`] rather than post blocks no
//! replica would derive. So after a `kill -9` a batch that reached L1 is not posted again and
//! one that did not is posted, and no block is skipped.
//!
//! **The sequencing window.** A block whose L1 origin is more than
//! [`fraud_vm::batch::MAX_ORIGIN_AGE`] L1 blocks behind the block appending its batch derives
//! nothing. Before posting, the batcher checks its oldest origin against the L1 head (the batch
//! lands in a later block); a block already past the window stops it with
//! [`BatcherError::OriginTooOld`] (the node's chain can no longer be derived from L1 as it is)
//! instead of posting a batch every replica skips.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Bytes, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, TransactionRequest},
    signers::local::PrivateKeySigner,
};
use alloy_sol_types::{SolCall, SolEvent};
use fraud_vm::{
    batch::{
        appendSequencerBatchCall, AppendedIn, Batch, BatchAppended, BatchBlock, BatchOrigin,
        DerivedParent, InvalidBatch, MAX_ORIGIN_AGE,
    },
    deposit::{Deployment, L1BlockInfo},
};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::{
    follower::{L1Source, RpcL1Source},
    forced::ForcedDue,
    store::Store,
    NodeError,
};

/// Longest block range of one `eth_getLogs` call.
const LOGS_RANGE: u64 = 5_000;

/// Batcher settings.
#[derive(Clone, Debug)]
pub struct BatcherConfig {
    /// L1 JSON-RPC URL (HTTP).
    pub l1_rpc: String,
    /// The rollup's L1 deployment.
    pub deployment: Deployment,
    /// The batcher key (must be the deployment's batcher).
    pub key: PrivateKeySigner,
    /// Post once pending blocks encode to this many bytes (and cut batches at it).
    pub max_bytes: usize,
    /// Post once the oldest pending block has waited this long.
    pub max_age: Duration,
    /// Time between checks.
    pub poll_interval: Duration,
}

/// How far the batcher got, shared with the proposer: the newest L2 block posted to L1
/// (0: none yet).
#[derive(Clone, Debug, Default)]
pub struct BatchedThrough(Arc<AtomicU64>);

impl BatchedThrough {
    /// The newest posted L2 block.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Records that blocks up to `number` are on L1.
    pub fn set(&self, number: u64) {
        self.0.fetch_max(number, Ordering::AcqRel);
    }
}

/// Why a batcher step failed (logged; the batcher resynchronizes from L1 and retries).
#[derive(Debug, thiserror::Error)]
pub enum BatcherError {
    /// The L1 node failed to answer or refused the transaction.
    #[error("L1 {0}")]
    Rpc(String),
    /// The L1 transaction reverted.
    #[error("batch transaction {0} reverted")]
    Reverted(alloy::primitives::B256),
    /// The chain store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The Inbox holds a batch that is not this chain's and that derivation would derive on
    /// it: L1 derives another chain than this node's (a restored or second sequencer posted
    /// with this key). The batcher stops: posting more would fork replicas from this node.
    #[error(
        "the Inbox holds a batch from block {first_block} (L1 block {l1_block}) that is not this \
         chain's and that derivation accepts: this node's chain has diverged from the one L1 \
         derives; the batcher stops"
    )]
    Diverged {
        /// The foreign batch's first block.
        first_block: u64,
        /// The L1 block holding it.
        l1_block: u64,
    },
    /// A block to post has an L1 origin past the sequencing window: derivation would skip it
    /// and every block after it in its batch. The batcher stops.
    #[error(
        "block {block}'s L1 origin {origin} is more than {MAX_ORIGIN_AGE} L1 blocks behind the \
         next L1 block {l1_block}: derivation would skip it (the batcher was down past the \
         sequencing window); the batcher stops"
    )]
    OriginTooOld {
        /// The L2 block.
        block: u64,
        /// Its L1 origin's number.
        origin: u64,
        /// The L1 block the batch would land in at the earliest.
        l1_block: u64,
    },
}

fn rpc(what: &str, e: impl std::fmt::Display) -> BatcherError {
    BatcherError::Rpc(format!("{what}: {e}"))
}

/// Posts blocks to the Inbox (see the module docs).
pub struct Batcher {
    config: BatcherConfig,
    store: Store,
    l1: DynProvider,
    batched: BatchedThrough,
    /// Set after a roll-back for a forced batch: the batcher starts once the sequencer sealed
    /// its forced block (`crate::forced`).
    forced_due: Option<ForcedDue>,
}

impl Batcher {
    /// A batcher posting `store`'s blocks; `batched` is updated after every posted batch.
    pub fn new(
        config: BatcherConfig,
        store: Store,
        batched: BatchedThrough,
    ) -> Result<Self, NodeError> {
        if config.key.address() != config.deployment.batcher {
            return Err(NodeError::Config(format!(
                "--batcher.key is {}, the deployment's batcher is {}",
                config.key.address(),
                config.deployment.batcher
            )));
        }
        let l1 = crate::follower::l1_provider(&config.l1_rpc, Some(&config.key))?;
        Ok(Self {
            config,
            store,
            l1,
            batched,
            forced_due: None,
        })
    }

    /// Starts posting only once the forced block in `due` is sealed (`due` empty).
    pub fn after_forced(mut self, due: ForcedDue) -> Self {
        self.forced_due = Some(due);
        self
    }

    /// Posts batches until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut next: Option<u64> = None;
        let mut pending_since: Option<Instant> = None;
        loop {
            let due = self.forced_due.as_ref().is_some_and(|d| d.lock().is_some());
            let step = async {
                if due {
                    return Ok(None);
                }
                let from = match next {
                    Some(n) => n,
                    None => {
                        let n = self.resume().await?;
                        info!(
                            next_block = n,
                            "batcher resumes after the Inbox's last batch"
                        );
                        n
                    }
                };
                self.step(from, &mut pending_since).await.map(Some)
            };
            match step.await {
                Ok(None) => debug!("batcher: waiting for the sequencer to seal a forced block"),
                Ok(Some(n)) => next = Some(n),
                Err(e @ (BatcherError::Diverged { .. } | BatcherError::OriginTooOld { .. })) => {
                    error!("{e}");
                    return;
                }
                Err(e) => {
                    warn!(error = %e, "batcher: will resynchronize with the Inbox and retry");
                    next = None;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// The first L2 block not yet in the Inbox (see the module docs).
    pub(crate) async fn resume(&self) -> Result<u64, BatcherError> {
        let me = self.config.key.address();
        loop {
            let mined = self
                .l1
                .get_transaction_count(me)
                .await
                .map_err(|e| rpc("eth_getTransactionCount", e))?;
            let pending = self
                .l1
                .get_transaction_count(me)
                .pending()
                .await
                .map_err(|e| rpc("eth_getTransactionCount(pending)", e))?;
            if pending <= mined {
                break;
            }
            debug!(
                mined,
                pending, "waiting for the batcher's pending L1 transactions"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut foreign = Vec::new();
        // How many leading blocks of the batch found are this chain's.
        let mut count = 0;
        let ours = newest_batch_where(&self.l1, &self.config.deployment, |batch, l1_block| {
            count = self.ours_prefix(batch)?;
            if count == 0 {
                foreign.push((batch.clone(), l1_block));
            }
            Ok(count > 0)
        })
        .await?;
        let mut end = 0;
        if let Some(newest) = &ours {
            let batch = &newest.batch;
            end = batch.first_block + count as u64 - 1;
            if count < batch.blocks.len() {
                // Its tail is blocks this node no longer has (rolled back after an L1 reorg):
                // derivation must skip it, as it skips a block whose origin left L1.
                let tail = Batch {
                    first_block: end + 1,
                    parent_hash: self
                        .store
                        .header_by_number(end)?
                        .map(|(hash, _)| hash)
                        .unwrap_or_default(),
                    blocks: batch.blocks[count..].to_vec(),
                };
                if self.foreign_derives(&tail, end, newest.l1_block).await? {
                    return Err(BatcherError::Diverged {
                        first_block: tail.first_block,
                        l1_block: newest.l1_block,
                    });
                }
                warn!(
                    through = end,
                    skipped_from = end + 1,
                    "the Inbox's newest batch of this chain ends in blocks this node rolled back; derivation skips them"
                );
            }
            // Recorded when posted, unless the node stopped in between: again, idempotently.
            self.store
                .record_batch_positions(newest.index, newest.acc, batch, count)?;
        }
        // Forced blocks (`crate::forced`) after the newest own batch are on L1 already: their
        // positions are recorded.
        let own = ours.as_ref().map(|newest| newest.index);
        while let Some(p) = self.store.batch_position(end + 1)? {
            if own.is_some_and(|index| p.source_index() <= index) {
                break;
            }
            end += 1;
        }
        for (batch, l1_block) in foreign {
            if self.foreign_derives(&batch, end, l1_block).await? {
                return Err(BatcherError::Diverged {
                    first_block: batch.first_block,
                    l1_block,
                });
            }
        }
        self.batched.set(end);
        Ok(end + 1)
    }

    /// Whether derivation would derive the first block of `batch` (not this chain's, appended
    /// in L1 block `l1_block`) on this chain's block `end`, the last block of its own batches. A
    /// batch that a validity rule ([`fraud_vm::batch::validity`]) skips is logged with the rule.
    async fn foreign_derives(
        &self,
        batch: &Batch,
        end: u64,
        l1_block: u64,
    ) -> Result<bool, BatcherError> {
        let skipped = |why: InvalidBatch| {
            warn!(
                first_block = batch.first_block,
                l1_block,
                reason = %why,
                "the Inbox holds a batch that is not this chain's; derivation skips it"
            );
            Ok(false)
        };
        // A batch with no block (a forced batch) derives nothing.
        let Some(first) = batch.blocks.first() else {
            return Ok(false);
        };
        let Some((hash, header)) = self.store.header_by_number(end)? else {
            return Err(BatcherError::Rpc(format!("block {end} is not stored")));
        };
        if let Err(why) = batch.continues(end, hash) {
            return skipped(why);
        }
        let parent = DerivedParent::of(&header, self.store.l1_at(end)?.as_ref().map(|c| &c.origin));
        let holding = self.l1_block(l1_block).await?;
        let appended = AppendedIn {
            number: holding.number,
            timestamp: holding.timestamp,
        };
        if let Err(why) = first.check(&parent, &appended) {
            return skipped(why);
        }
        let on_l1 = match first.origin {
            Some(o) => Some(self.l1_block(o.number).await?),
            None => None,
        };
        match first.check_origin(&parent, on_l1.as_ref()) {
            Ok(_) => Ok(true),
            Err(why) => skipped(why),
        }
    }

    /// L1 block `number`, which L1 must have.
    async fn l1_block(&self, number: u64) -> Result<L1BlockInfo, BatcherError> {
        RpcL1Source::new(self.l1.clone())
            .block(number)
            .await
            .map_err(|e| BatcherError::Rpc(e.to_string()))?
            .ok_or_else(|| BatcherError::Rpc(format!("L1 block {number} not found")))
    }

    /// The batch entry of stored block `number` (None: not stored); `read` is the delayed
    /// messages consumed up to its parent and becomes its own count.
    fn batch_block(&self, number: u64, read: &mut u64) -> Result<Option<BatchBlock>, BatcherError> {
        let Some(block) = self.store.block_by_number(number)? else {
            return Ok(None);
        };
        let l1 = self.store.block_l1(number)?;
        if let Some(c) = l1 {
            *read = c.next_deposit;
        }
        Ok(Some(BatchBlock::from_block(
            &block.header,
            &block.transactions,
            l1.map(|c| BatchOrigin::from(&c.origin)),
            *read,
        )))
    }

    /// How many leading blocks of `batch` are exactly what this batcher posts for its blocks
    /// (the stored parent's hash, then each block's entry): all of them for a batch of this
    /// chain, fewer when the chain was rolled back inside it, 0 for another chain's.
    fn ours_prefix(&self, batch: &Batch) -> Result<usize, BatcherError> {
        let Some(parent) = batch.first_block.checked_sub(1) else {
            return Ok(0);
        };
        if self.store.header_by_number(parent)?.map(|(hash, _)| hash) != Some(batch.parent_hash) {
            return Ok(0);
        }
        let mut read = self.store.delayed_read_at(parent)?;
        let mut count = 0;
        for (number, entry) in (batch.first_block..).zip(&batch.blocks) {
            if self.batch_block(number, &mut read)?.as_ref() != Some(entry) {
                break;
            }
            count += 1;
        }
        Ok(count)
    }

    /// One check: posts a batch if one is due. Returns the next block to post.
    async fn step(
        &self,
        next: u64,
        pending_since: &mut Option<Instant>,
    ) -> Result<u64, BatcherError> {
        let mut next = next;
        // A block with a recorded position before it is posted is a forced block, on L1 already.
        while self.store.batch_position(next)?.is_some() {
            self.batched.set(next);
            next += 1;
        }
        let head = self.store.head_number();
        if head < next {
            *pending_since = None;
            return Ok(next);
        }
        let since = *pending_since.get_or_insert_with(Instant::now);
        let mut batch = Batch {
            first_block: next,
            parent_hash: self
                .store
                .header_by_number(next - 1)?
                .map(|(h, _)| h)
                .unwrap_or_default(),
            blocks: Vec::new(),
        };
        let mut read = self.store.delayed_read_at(next - 1)?;
        let mut size = fraud_vm::batch::BATCH_HEADER_LEN;
        let mut full = false;
        let mut txs = 0usize;
        for number in next..=head {
            let Some(entry) = self.batch_block(number, &mut read)? else {
                break;
            };
            if !batch.blocks.is_empty() && size + entry.encoded_len() > self.config.max_bytes {
                full = true;
                break;
            }
            size += entry.encoded_len();
            txs += entry.transactions.len();
            batch.blocks.push(entry);
        }
        full |= size >= self.config.max_bytes;
        if !full && since.elapsed() < self.config.max_age {
            return Ok(next);
        }
        self.check_window(&batch).await?;
        // What the batch's blocks consumed: the bound derivation caps their counts with.
        let after = U256::from(batch.blocks.last().map_or(read, |b| b.delayed_read));
        let data = batch.encode();
        let bytes = data.len();
        let call = appendSequencerBatchCall {
            data: Bytes::from(data),
            afterDelayedMessagesRead: after,
        };
        let request = TransactionRequest::default()
            .with_to(self.config.deployment.inbox)
            .with_input(call.abi_encode());
        let receipt = self
            .l1
            .send_transaction(request)
            .await
            .map_err(|e| rpc("appendSequencerBatch", e))?
            .get_receipt()
            .await
            .map_err(|e| rpc("receipt of appendSequencerBatch", e))?;
        if !receipt.status() {
            return Err(BatcherError::Reverted(receipt.transaction_hash));
        }
        let (index, acc) = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| BatchAppended::decode_log(&log.inner).ok())
            .map(|event| {
                (
                    u64::try_from(event.batchIndex).unwrap_or(u64::MAX),
                    event.batchAcc,
                )
            })
            .ok_or_else(|| BatcherError::Rpc("the batch's receipt has no BatchAppended".into()))?;
        self.store
            .record_batch_positions(index, acc, &batch, batch.blocks.len())?;
        let last = batch.last_block();
        info!(
            first_block = next,
            last_block = last,
            blocks = batch.blocks.len(),
            txs,
            bytes,
            l1_gas = receipt.gas_used,
            l1_gas_per_tx = receipt.gas_used.checked_div(txs as u64).unwrap_or(0),
            after_delayed_read = %after,
            l1_tx = %receipt.transaction_hash,
            "batch posted"
        );
        self.batched.set(last);
        *pending_since = None;
        Ok(last + 1)
    }

    /// [`BatcherError::OriginTooOld`] if `batch`'s oldest L1 origin (its first: origins only
    /// move forward) is past the sequencing window of the next L1 block.
    async fn check_window(&self, batch: &Batch) -> Result<(), BatcherError> {
        let Some((block, origin)) = (batch.first_block..)
            .zip(&batch.blocks)
            .find_map(|(n, b)| b.origin.map(|o| (n, o.number)))
        else {
            return Ok(());
        };
        let l1_block = self
            .l1
            .get_block_number()
            .await
            .map_err(|e| rpc("eth_blockNumber", e))?
            .saturating_add(1);
        if l1_block.saturating_sub(origin) > MAX_ORIGIN_AGE {
            return Err(BatcherError::OriginTooOld {
                block,
                origin,
                l1_block,
            });
        }
        Ok(())
    }
}

/// A sequencer batch found in the Inbox.
struct InboxBatch {
    index: u64,
    acc: B256,
    l1_block: u64,
    batch: Batch,
}

/// The newest sequencer (non-forced) batch in `deployment`'s Inbox, decoded from its calldata,
/// for which `accept(batch, l1Block)` holds.
async fn newest_batch_where(
    l1: &DynProvider,
    deployment: &Deployment,
    mut accept: impl FnMut(&Batch, u64) -> Result<bool, BatcherError>,
) -> Result<Option<InboxBatch>, BatcherError> {
    let head = l1
        .get_block_number()
        .await
        .map_err(|e| rpc("eth_blockNumber", e))?;
    let mut to = head;
    loop {
        let from = to
            .saturating_sub(LOGS_RANGE - 1)
            .max(deployment.deploy_block);
        let filter = Filter::new()
            .address(deployment.inbox)
            .event_signature(BatchAppended::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = l1
            .get_logs(&filter)
            .await
            .map_err(|e| rpc("eth_getLogs", e))?;
        for log in logs.iter().rev() {
            let Ok(event) = BatchAppended::decode_log_data(log.data()) else {
                continue;
            };
            if event.forced {
                continue;
            }
            let Some(hash) = log.transaction_hash else {
                continue;
            };
            let tx = l1
                .get_transaction_by_hash(hash)
                .await
                .map_err(|e| rpc("eth_getTransactionByHash", e))?
                .ok_or_else(|| BatcherError::Rpc(format!("batch transaction {hash} not found")))?;
            let input = alloy::consensus::Transaction::input(&tx);
            let decoded = appendSequencerBatchCall::abi_decode(input)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    if fraud_vm::merkle::data_root(&c.data) != event.dataRoot {
                        return Err("calldata is not the committed data".to_string());
                    }
                    Batch::decode(&c.data).map_err(|e| e.to_string())
                });
            let l1_block = log.block_number.unwrap_or_default();
            match decoded {
                Ok(batch) if accept(&batch, l1_block)? => {
                    return Ok(Some(InboxBatch {
                        index: u64::try_from(event.batchIndex).unwrap_or(u64::MAX),
                        acc: event.batchAcc,
                        l1_block,
                        batch,
                    }));
                }
                Ok(_) => {}
                Err(e) => warn!(l1_tx = %hash, error = %e, "skipping an undecodable batch"),
            }
        }
        if from <= deployment.deploy_block {
            return Ok(None);
        }
        to = from - 1;
    }
}
