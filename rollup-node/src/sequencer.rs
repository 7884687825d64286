//! The sequencer: seals a block every block time (or at once while the pool keeps blocks full),
//! commits it to disk, then announces it.

use std::{collections::HashSet, sync::Arc, time::Duration};

use alloy_primitives::{keccak256, Address, Bytes, B256};
use fraud_vm::{
    chain::ChainSpec,
    execute::{BlockAttributes, BlockBuilder, BuiltBlock, ExecutableTx, TxRejection},
};
use tokio::sync::watch;
use tracing::{info, info_span, warn};

use crate::{events::ChainEvents, mempool::Mempool, store::Store, NodeError};

/// Sequencer settings.
#[derive(Clone, Debug)]
pub struct SequencerConfig {
    /// Target time between blocks.
    pub block_time: Duration,
    /// Gas limit of new blocks.
    pub gas_limit: u64,
    /// Most transactions considered for one block.
    pub max_block_txs: usize,
}

/// Seals blocks from the pool (see the module docs).
#[derive(Clone)]
pub struct Sequencer {
    chain: ChainSpec,
    store: Store,
    pool: Arc<Mempool>,
    events: ChainEvents,
    config: SequencerConfig,
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
        }
    }

    /// Builds, commits and announces one block from the pool's best transactions.
    pub fn seal_block(&self) -> Result<Arc<BuiltBlock>, NodeError> {
        let head = self.store.head().ok_or(NodeError::NoGenesis)?;
        let span = info_span!("seal", number = head.header.number + 1);
        let _guard = span.enter();
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let attributes = BlockAttributes {
            timestamp,
            gas_limit: self.config.gas_limit,
            prevrandao: keccak256(head.hash),
            extra_data: Bytes::new(),
        };
        let state = self.store.latest();
        let mut builder =
            BlockBuilder::new(&self.chain, &state, &head.header, head.hash, attributes);
        let base_fee = builder.header().base_fee_per_gas.unwrap_or_default();
        let candidates = self.pool.best(base_fee, self.config.max_block_txs);
        let mut skip: HashSet<Address> = HashSet::new();
        let mut included = Vec::with_capacity(candidates.len());
        let mut dropped: Vec<B256> = Vec::new();
        for candidate in candidates {
            if builder.gas_left() < 21_000 {
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
        self.store.commit_block(&block)?;
        self.pool.on_block(&included, &dropped);
        self.events.publish_block(&block);
        info!(
            hash = %block.hash,
            txs = block.transactions.len(),
            gas_used = block.header.gas_used,
            "sealed"
        );
        Ok(block)
    }

    /// Seals blocks until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        loop {
            let started = tokio::time::Instant::now();
            let this = self.clone();
            let block = tokio::task::spawn_blocking(move || this.seal_block())
                .await
                .map_err(|e| NodeError::Internal(e.to_string()))??;
            let full = block.header.gas_used + 21_000 > block.header.gas_limit;
            if *shutdown.borrow() {
                return Ok(());
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(started + self.config.block_time) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}
