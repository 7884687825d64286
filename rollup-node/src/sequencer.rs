//! The sequencer: seals a block every block time (or at once while a backlog fills blocks up to
//! their gas limit or their build-time budget),
//! commits it to disk, then announces it. Building the next blocks overlaps writing the previous
//! ones: a writer thread commits blocks in order and announces each once it is on disk, while
//! the sequencer builds on the staged state in memory (see [`Sequencer::run`]).
//!
//! When the node follows L1 ([`crate::follower`]), every block with an L1 origin opens with the
//! L1-info deposit and the pending L1 deposits, before the pool's transactions.
//!
//! Timestamps: a block is stamped `max(now, parent + 1)` (the consensus rule
//! [`fraud_vm::execute::block_timestamp`] applied to the sequencer's clock), and never before
//! its L1 origin's timestamp (a derivation rule), so faster than one block per second, or when
//! L1's clock runs ahead, the chain's clock leads the wall clock; empty blocks are held back
//! once that lead over the later of the wall clock and the confirmed L1 head passes
//! [`MAX_EMPTY_BLOCK_LEAD_SECS`], every block once it passes [`MAX_BLOCK_LEAD_SECS`] (so its
//! batches keep derivation's timestamp bound, [`fraud_vm::batch::MAX_TIMESTAMP_LEAD_SECS`]).

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc,
    },
    time::{Duration, Instant},
};

use alloy_consensus::Header;
use alloy_primitives::{keccak256, Address, Bytes, B256};
use fraud_vm::{
    batch::{apply_l1_inputs, forced_block, MAX_TIMESTAMP_LEAD_SECS},
    chain::ChainSpec,
    execute::{
        block_timestamp, BlockAttributes, BlockBuilder, BuiltBlock, ExecutableTx, StateProvider,
        TxRejection,
    },
};
use parking_lot::Mutex;
use tokio::sync::watch;
use tracing::{error, info, info_span, warn};

use crate::{
    events::ChainEvents,
    follower::{BlockInputs, DepositFeed, ForcedBatch},
    forced::{ForcedDue, ForcedStatus},
    mempool::Mempool,
    replica::{derive_and_commit, BlockDerivation},
    store::{cursor::BatchPosition, Head, L1Cursor, Store},
    NodeError,
};

/// Sequencer settings.
#[derive(Clone, Debug)]
pub struct SequencerConfig {
    /// Target time between blocks.
    pub block_time: Duration,
    /// Gas limit of new blocks.
    pub gas_limit: u64,
    /// Most transactions considered for one block.
    pub max_block_txs: usize,
    /// Longest time spent executing one block's transactions; the rest wait for the next
    /// block, so a backlog does not stretch blocks far past the block time.
    pub max_build_time: Duration,
    /// **Tests only**: include no L1 deposits except those a forced batch requires
    /// (`--sequencer.ignore-deposits`), to exercise forced inclusion.
    pub ignore_deposits: bool,
}

/// Seals blocks from the pool (see the module docs).
#[derive(Clone)]
pub struct Sequencer {
    chain: ChainSpec,
    store: Store,
    pool: Arc<Mempool>,
    events: ChainEvents,
    config: SequencerConfig,
    derivation: Option<Derivation>,
}

/// The sequencer's L1 inputs: the follower's feed, the cursor after the last built block and
/// the index from which forced batches are still to be checked ([`crate::forced`]).
#[derive(Clone)]
struct Derivation {
    feed: Arc<DepositFeed>,
    cursor: Arc<Mutex<Option<L1Cursor>>>,
    forced_from: Arc<AtomicU64>,
    /// A forced batch whose forced block is sealed before any other block.
    due: ForcedDue,
}

impl Sequencer {
    /// A sequencer on `store`, taking transactions from `pool`.
    pub fn new(
        chain: ChainSpec,
        store: Store,
        pool: Arc<Mempool>,
        events: ChainEvents,
        config: SequencerConfig,
    ) -> Self {
        Self {
            chain,
            store,
            pool,
            events,
            config,
            derivation: None,
        }
    }

    /// Takes L1 origins and deposits from `feed` (see [`crate::follower`]), continuing after
    /// `cursor` (the stored cursor of the head block).
    pub fn with_deposits(mut self, feed: Arc<DepositFeed>, cursor: Option<L1Cursor>) -> Self {
        self.derivation = Some(Derivation {
            feed,
            cursor: Arc::new(Mutex::new(cursor)),
            forced_from: Arc::default(),
            due: Arc::default(),
        });
        self
    }

    /// Seals the forced block of the forced batch in `due` before any other block (the node
    /// rolled back to the block it goes on), then empties `due`; a sequencer without L1 inputs
    /// ignores it.
    pub fn with_forced(mut self, due: ForcedDue) -> Self {
        if let Some(d) = &mut self.derivation {
            d.due = due;
        }
        self
    }

    /// Builds, commits and announces one block from the pool's best transactions.
    pub fn seal_block(&self) -> Result<Arc<BuiltBlock>, NodeError> {
        let sealed = self.build()?;
        self.commit(&sealed)?;
        Ok(sealed.block)
    }

    /// Builds the next block from the pool's best transactions on top of the store's tip
    /// (built blocks may still be waiting for the writer), stages it in the store's overlay
    /// ([`Store::stage`]) and updates the pool.
    fn build(&self) -> Result<Sealed, NodeError> {
        let tip = self.store.tip().ok_or(NodeError::NoGenesis)?;
        let state = self.store.tip_state();
        let sealed = self.build_on(&state, &tip.header, tip.hash)?;
        drop(state);
        self.store.stage(sealed.block.clone())?;
        self.pool.on_block(&sealed.included, &sealed.dropped);
        if let (Some(d), Some(cursor)) = (&self.derivation, sealed.cursor) {
            *d.cursor.lock() = Some(cursor);
            d.feed.included_below(cursor.next_deposit);
        }
        Ok(sealed)
    }

    /// The L1 cursor after the last built block, and the next block's L1 inputs (None: no L1
    /// block is known yet, or the node does not follow L1).
    fn l1_inputs(&self) -> (Option<L1Cursor>, Option<BlockInputs>) {
        let Some(d) = &self.derivation else {
            return (None, None);
        };
        let before = *d.cursor.lock();
        (before, d.feed.inputs(before.as_ref()))
    }

    /// Opens the block with its L1 inputs (from [`Sequencer::l1_inputs`]): the L1-info deposit
    /// of its origin, then the pending deposits in Inbox order while their gas limits fit
    /// ([`fraud_vm::batch::apply_l1_inputs`], the rule derivation replays). With
    /// `ignore_deposits` (tests only) none are: only the forced blocks of forced batches
    /// include them ([`Sequencer::apply_forced`]). Returns the cursor after the block and
    /// whether the block has an L1 origin.
    fn include_l1<P: StateProvider>(
        &self,
        builder: &mut BlockBuilder<'_, P>,
        (before, inputs): (Option<L1Cursor>, Option<BlockInputs>),
    ) -> Result<(Option<L1Cursor>, bool), NodeError> {
        let Some(inputs) = inputs else {
            return Ok((before, false));
        };
        let target = if self.config.ignore_deposits {
            inputs.first_deposit
        } else {
            u64::MAX
        };
        let read = apply_l1_inputs(
            builder,
            &inputs.origin,
            inputs.first_deposit,
            target,
            &inputs.deposits,
        )?;
        let Some(read) = read else {
            error!("L1-info deposit does not fit in the block: no L1 inputs");
            return Ok((before, false));
        };
        if read > inputs.first_deposit {
            info!(
                from = inputs.first_deposit,
                to = read - 1,
                origin = inputs.origin.number,
                "deposits included"
            );
        }
        Ok((
            Some(L1Cursor {
                origin: inputs.origin,
                next_deposit: read,
            }),
            true,
        ))
    }

    fn build_on<P: StateProvider>(
        &self,
        state: &P,
        parent: &Header,
        parent_hash: B256,
    ) -> Result<Sealed, NodeError> {
        let span = info_span!("build", number = parent.number + 1);
        let _guard = span.enter();
        let build_started = Instant::now();
        let l1 = self.l1_inputs();
        let mut attributes = next_attributes(parent, parent_hash, self.config.gas_limit);
        // Never stamped before its origin (derivation skips such a block).
        if let Some(inputs) = &l1.1 {
            attributes.timestamp = attributes.timestamp.max(inputs.origin.timestamp);
        }
        let mut builder = BlockBuilder::new(&self.chain, state, parent, parent_hash, attributes);
        let (cursor, has_origin) = self.include_l1(&mut builder, l1)?;
        let base_fee = builder.header().base_fee_per_gas.unwrap_or_default();
        let candidates = self.pool.best(base_fee, self.config.max_block_txs);
        let mut skip: HashSet<Address> = HashSet::new();
        let mut included = Vec::with_capacity(candidates.len());
        let mut dropped: Vec<B256> = Vec::new();
        let started = Instant::now();
        let mut backlog = false;
        for (i, candidate) in candidates.into_iter().enumerate() {
            if builder.gas_left() < 21_000
                || (i % 256 == 255 && started.elapsed() > self.config.max_build_time)
            {
                backlog = true;
                break;
            }
            if skip.contains(&candidate.sender) {
                continue;
            }
            let tx = ExecutableTx {
                tx: (*candidate.tx).clone(),
                sender: candidate.sender,
            };
            match builder.execute(tx) {
                Ok(_) => included.push((candidate.sender, candidate.nonce)),
                Err(TxRejection::BlockFull) => {
                    skip.insert(candidate.sender);
                }
                Err(TxRejection::Invalid(reason)) => {
                    warn!(tx = %candidate.hash, %reason, "dropping invalid transaction");
                    dropped.push(candidate.hash);
                    skip.insert(candidate.sender);
                }
                Err(TxRejection::Fatal(e)) => return Err(e.into()),
            }
        }
        let block = Arc::new(builder.finish()?);
        backlog |= block.header.gas_used + 21_000 > block.header.gas_limit;
        Ok(Sealed {
            block,
            included,
            dropped,
            backlog,
            cursor,
            has_origin,
            build_time: build_started.elapsed(),
        })
    }

    /// Writes a built block to disk, then announces it.
    fn commit(&self, sealed: &Sealed) -> Result<(), NodeError> {
        let block = &sealed.block;
        let write_started = Instant::now();
        self.store
            .commit_block_with_cursor(block, sealed.cursor.as_ref(), sealed.has_origin)?;
        self.pool.on_committed(&sealed.included);
        self.events.publish_block(block);
        info!(
            number = block.header.number,
            hash = %block.hash,
            txs = block.transactions.len(),
            gas_used = block.header.gas_used,
            build_ms = sealed.build_time.as_millis() as u64,
            write_ms = write_started.elapsed().as_millis() as u64,
            "sealed"
        );
        Ok(())
    }

    /// Seals blocks until `shutdown` turns true.
    ///
    /// Write-behind: a writer thread commits built blocks in order and announces each only once
    /// it is on disk (`Sequencer::commit`), while the next blocks are built on the staged
    /// state in memory ([`Store::tip_state`]). At most [`WRITE_QUEUE`] blocks wait for the
    /// writer (plus the one it is writing); building blocks when the queue is full, which
    /// bounds the memory held by staged blocks. The chain on disk is always a prefix of what
    /// was built, and nothing is announced before it is durable.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        let (queue, blocks) = mpsc::sync_channel::<Sealed>(WRITE_QUEUE);
        let writer = {
            let this = self.clone();
            std::thread::Builder::new()
                .name("block-writer".into())
                .spawn(move || this.write_loop(blocks))
                .map_err(|e| NodeError::Internal(format!("cannot start the block writer: {e}")))?
        };
        let sealing = self.seal_loop(queue, &mut shutdown).await;
        // The queue's sender is gone: the writer drains what was built, then stops.
        let written = join(tokio::task::spawn_blocking(move || writer.join()))
            .await?
            .map_err(|_| NodeError::Internal("the block writer panicked".into()))?;
        written.and(sealing)
    }

    /// Builds blocks and hands them to the writer until shutdown (or until the writer stops).
    async fn seal_loop(
        &self,
        queue: mpsc::SyncSender<Sealed>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), NodeError> {
        let queue = Arc::new(queue);
        loop {
            let started = tokio::time::Instant::now();
            let this = self.clone();
            let hold = join(tokio::task::spawn_blocking(move || this.apply_forced())).await??;
            if hold || self.holds_block() {
                tokio::select! {
                    _ = tokio::time::sleep_until(started + self.config.block_time) => continue,
                    _ = shutdown.changed() => return Ok(()),
                }
            }
            let this = self.clone();
            let to_writer = queue.clone();
            // Building and queueing run off the async runtime: the send blocks while the
            // writer's queue is full.
            let build = tokio::task::spawn_blocking(move || -> Result<Option<bool>, NodeError> {
                let sealed = this.build()?;
                let backlog = sealed.backlog;
                Ok(to_writer.send(sealed).is_ok().then_some(backlog))
            });
            // `None`: the writer stopped on an error, which `run` reports.
            let Some(backlog) = join(build).await?? else {
                return Ok(());
            };
            if *shutdown.borrow() {
                return Ok(());
            }
            if backlog {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(started + self.config.block_time) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// The writer thread: commits and announces blocks in the order they were built.
    fn write_loop(&self, blocks: mpsc::Receiver<Sealed>) -> Result<(), NodeError> {
        for sealed in blocks {
            if let Err(e) = self.commit(&sealed) {
                error!(number = sealed.block.header.number, error = %e, "writing a block failed; the sequencer stops");
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Most built blocks waiting for the writer (besides the one being written).
pub const WRITE_QUEUE: usize = 1;

/// Most seconds an empty block's timestamp may run ahead of the sequencer's clock.
///
/// Block timestamps strictly increase ([`fraud_vm::execute::block_timestamp`]), so blocks made
/// faster than one per second (a sub-second block time, a backlog) lead the wall clock. While
/// the pool has no pending transaction, no block is sealed whose timestamp would lead the clock
/// by more than this (L1 deposits, if any, wait for the clock too). So an idle chain keeps at
/// most this lead: with a sub-second block time it slows to one empty block per second there,
/// and after a backlog it pauses until the lead is back under this.
pub const MAX_EMPTY_BLOCK_LEAD_SECS: u64 = 60;

/// Blocks with transactions lead the clock for as long as a backlog or a sub-second block time
/// lasts (throughput is not capped at one block per second), up to this lead; past it no block
/// is sealed until the clock catches up. Half of derivation's bound
/// ([`fraud_vm::batch::MAX_TIMESTAMP_LEAD_SECS`], measured from the L1 block that appends the
/// batch, which comes after the block is sealed), so the sequencer's blocks always derive.
pub const MAX_BLOCK_LEAD_SECS: u64 = MAX_TIMESTAMP_LEAD_SECS / 2;

impl Sequencer {
    /// Applies the forced batches the follower found since the last call ([`crate::forced`]):
    /// seals the forced block of one due on the tip, or stops with
    /// [`NodeError::ForcedRollBack`] when blocks must be rolled back for it. A forced batch is
    /// looked at once the follower has published the deposits up to its L1 block. Returns
    /// whether to hold the next block: the node rolled back for a forced batch
    /// ([`Sequencer::with_forced`]) whose forced block cannot be sealed yet.
    fn apply_forced(&self) -> Result<bool, NodeError> {
        let Some(d) = &self.derivation else {
            return Ok(false);
        };
        let confirmed = d.feed.confirmed().map_or(0, |c| c.number);
        // The due forced batch is in the feed with the head that reaches its L1 block: the loop
        // below seals its forced block, then the batcher may start.
        let due = *d.due.lock();
        if due.is_some_and(|f| f.l1_block > confirmed) {
            return Ok(true);
        }
        for forced in d.feed.forced_batches(d.forced_from.load(Ordering::Relaxed)) {
            if forced.l1_block > confirmed {
                break;
            }
            let tip = self.store.tip().ok_or(NodeError::NoGenesis)?;
            match crate::forced::status(&self.store, &forced, tip.header.number)? {
                ForcedStatus::Done => {}
                ForcedStatus::SealOn(_) => self.seal_forced(&forced, &tip)?,
                ForcedStatus::RollBackTo(to) => {
                    return Err(NodeError::ForcedRollBack {
                        forced: Box::new(forced),
                        to,
                    });
                }
            }
            d.forced_from.store(forced.index + 1, Ordering::Relaxed);
        }
        if due.is_some() {
            *d.due.lock() = None;
        }
        Ok(false)
    }

    /// Seals the forced block of `forced` on the tip `tip` (nothing staged above the head)
    /// with derivation's code, and announces it.
    fn seal_forced(&self, forced: &ForcedBatch, tip: &Head) -> Result<(), NodeError> {
        let Some(d) = &self.derivation else {
            return Ok(());
        };
        let read = d.cursor.lock().map_or(0, |c| c.next_deposit);
        let Some(entry) = forced_block(forced.after_delayed_read, read, &forced.origin) else {
            return Ok(());
        };
        let deposits = d.feed.deposits_from(read);
        let derivation = BlockDerivation {
            entry: &entry,
            origin: Some(forced.origin),
            parent_read: read,
            target: forced.after_delayed_read,
            deposits: &deposits,
            forced: true,
        };
        let position = BatchPosition::after_forced(forced.index, forced.acc);
        let (block, derived) =
            derive_and_commit(&self.chain, &self.store, tip, &derivation, position)?;
        *d.cursor.lock() = Some(L1Cursor {
            origin: forced.origin,
            next_deposit: derived.delayed_read,
        });
        d.feed.included_below(derived.delayed_read);
        self.events.publish_block(&block);
        warn!(
            number = block.header.number,
            hash = %block.hash,
            batch = forced.index,
            from = read,
            to = derived.delayed_read,
            "sealed the forced block of a forced batch (deposits held back past the force-inclusion window)"
        );
        Ok(())
    }

    /// Whether to skip this block-time tick: the next block's timestamp would lead the clock
    /// by more than [`MAX_BLOCK_LEAD_SECS`], or by more than [`MAX_EMPTY_BLOCK_LEAD_SECS`]
    /// with nothing in the pool to include. The clock is the later of the node's and the
    /// confirmed L1 head's timestamp: blocks stamped at an origin ahead of the node's clock
    /// (L1's clock runs ahead) do not lead L1, whose batches bound the lead.
    fn holds_block(&self) -> bool {
        let Some(tip) = self.store.tip() else {
            return false;
        };
        let l1_time = self
            .derivation
            .as_ref()
            .and_then(|d| d.feed.confirmed())
            .map_or(0, |c| c.timestamp);
        let now = unix_now().max(l1_time);
        let lead = block_timestamp(tip.header.timestamp, 0).saturating_sub(now);
        lead > MAX_BLOCK_LEAD_SECS
            || (lead > MAX_EMPTY_BLOCK_LEAD_SECS && self.pool.status().0 == 0)
    }
}

/// A built block and the pool bookkeeping it implies.
struct Sealed {
    block: Arc<BuiltBlock>,
    included: Vec<(Address, u64)>,
    dropped: Vec<B256>,
    /// The block was cut short (gas or build time) with transactions left over.
    backlog: bool,
    /// The derivation cursor after the block (None: no block had an L1 origin yet).
    cursor: Option<L1Cursor>,
    /// Whether this block has the cursor's origin (opens with its L1-info deposit).
    has_origin: bool,
    /// Time to build it (execution and state root).
    build_time: Duration,
}

/// The attributes the sequencer proposes for the block after `parent` (whose hash is
/// `parent_hash`): its clock as timestamp (stamped by the timestamp rule,
/// [`block_timestamp`]), `gas_limit`, `keccak256(parent_hash)` as `prevrandao`, no extra data.
/// The `pending` block of the JSON-RPC is built from the same attributes.
pub fn next_attributes(parent: &Header, parent_hash: B256, gas_limit: u64) -> BlockAttributes {
    BlockAttributes {
        timestamp: block_timestamp(parent.timestamp, unix_now()),
        gas_limit,
        prevrandao: keccak256(parent_hash),
        extra_data: Bytes::new(),
    }
}

/// Seconds since the Unix epoch: the sequencer's clock, which it proposes as a new block's
/// timestamp (the block gets [`block_timestamp`]`(parent, unix_now())`).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn join<T>(task: tokio::task::JoinHandle<T>) -> Result<T, NodeError> {
    task.await.map_err(|e| NodeError::Internal(e.to_string()))
}
