//! Announcements of new blocks and pending transactions to subscribers (WebSocket
//! subscriptions, filters). A block is announced only after it is on disk.

use std::sync::Arc;

use alloy_consensus::Header;
use alloy_primitives::B256;
use alloy_rpc_types_eth::Log;
use fraud_vm::execute::BuiltBlock;
use tokio::sync::broadcast;

/// A committed block as subscribers see it.
#[derive(Clone, Debug)]
pub struct NewBlock {
    /// Header.
    pub header: Header,
    /// Hash.
    pub hash: B256,
    /// Every log of the block with its position.
    pub logs: Vec<Log>,
}

/// The node's event bus.
#[derive(Clone)]
pub struct ChainEvents {
    blocks: broadcast::Sender<Arc<NewBlock>>,
    pending: broadcast::Sender<B256>,
}

impl Default for ChainEvents {
    fn default() -> Self {
        Self {
            blocks: broadcast::channel(1024).0,
            pending: broadcast::channel(16 * 1024).0,
        }
    }
}

impl ChainEvents {
    /// Announces a committed block.
    pub fn publish_block(&self, block: &BuiltBlock) {
        if self.blocks.receiver_count() == 0 {
            return;
        }
        let logs = block_logs(
            &block.header,
            block.hash,
            block.transactions.iter().map(|t| t.tx_hash()),
            block.receipts.iter().map(|r| r.logs()),
        );
        let _ = self.blocks.send(Arc::new(NewBlock {
            header: block.header.clone(),
            hash: block.hash,
            logs,
        }));
    }

    /// Announces a transaction accepted into the pool.
    pub fn publish_pending(&self, hash: B256) {
        let _ = self.pending.send(hash);
    }

    /// Subscribes to new blocks.
    pub fn blocks(&self) -> broadcast::Receiver<Arc<NewBlock>> {
        self.blocks.subscribe()
    }

    /// Subscribes to new pending transactions.
    pub fn pending(&self) -> broadcast::Receiver<B256> {
        self.pending.subscribe()
    }
}

/// The RPC logs of a block, with block, transaction and log positions.
pub fn block_logs<'a>(
    header: &Header,
    hash: B256,
    tx_hashes: impl Iterator<Item = B256>,
    receipt_logs: impl Iterator<Item = &'a [alloy_primitives::Log]>,
) -> Vec<Log> {
    let mut out = Vec::new();
    let mut log_index = 0u64;
    for (tx_index, (tx_hash, logs)) in tx_hashes.zip(receipt_logs).enumerate() {
        for log in logs {
            out.push(Log {
                inner: log.clone(),
                block_hash: Some(hash),
                block_number: Some(header.number),
                block_timestamp: Some(header.timestamp),
                transaction_hash: Some(tx_hash),
                transaction_index: Some(tx_index as u64),
                log_index: Some(log_index),
                removed: false,
            });
            log_index += 1;
        }
    }
    out
}
