//! Stored blocks, transactions and receipts as JSON-RPC objects.

use alloy_consensus::{transaction::Recovered, Transaction as _};
use alloy_primitives::{Address, U256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Header as RpcHeader, Log, Transaction, TransactionReceipt,
};
use op_alloy_consensus::{OpReceiptEnvelope, OpTxEnvelope};

use crate::{events::block_logs, store::StoredBlock};

/// An RPC transaction.
pub type RpcTransaction = Transaction<OpTxEnvelope>;
/// An RPC receipt.
pub type RpcReceipt = TransactionReceipt<OpReceiptEnvelope<Log>>;
/// An RPC block.
pub type RpcBlock = Block<RpcTransaction>;

/// A mined transaction.
pub fn transaction(block: &StoredBlock, index: usize) -> Option<RpcTransaction> {
    let tx = block.transactions.get(index)?;
    let sender = *block.senders.get(index)?;
    Some(Transaction {
        inner: Recovered::new_unchecked(tx.clone(), sender),
        block_hash: Some(block.hash),
        block_number: Some(block.header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(tx.effective_gas_price(block.header.base_fee_per_gas)),
        block_timestamp: Some(block.header.timestamp),
    })
}

/// A pooled (not yet mined) transaction.
pub fn pending_transaction(tx: &OpTxEnvelope, sender: Address) -> RpcTransaction {
    Transaction {
        inner: Recovered::new_unchecked(tx.clone(), sender),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

/// A block, with transaction hashes or full transactions.
pub fn block(block: &StoredBlock, full: bool) -> RpcBlock {
    let transactions = if full {
        BlockTransactions::Full(
            (0..block.transactions.len())
                .filter_map(|i| transaction(block, i))
                .collect(),
        )
    } else {
        BlockTransactions::Hashes(block.transactions.iter().map(|t| t.tx_hash()).collect())
    };
    let size = alloy_rlp::Encodable::length(&block.header)
        + block
            .transactions
            .iter()
            .map(alloy_eips::eip2718::Encodable2718::encode_2718_len)
            .sum::<usize>();
    Block {
        header: RpcHeader {
            hash: block.hash,
            inner: block.header.clone(),
            total_difficulty: Some(U256::ZERO),
            size: Some(U256::from(size)),
        },
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    }
}

/// The receipts of a block, with their positions and derived fields.
pub fn receipts(block: &StoredBlock, receipts: &[OpReceiptEnvelope]) -> Vec<RpcReceipt> {
    let logs = block_logs(
        &block.header,
        block.hash,
        block.transactions.iter().map(|t| t.tx_hash()),
        receipts.iter().map(|r| r.logs()),
    );
    let mut logs = logs.into_iter();
    let mut prev_cumulative = 0u64;
    let mut out = Vec::with_capacity(receipts.len());
    for (i, receipt) in receipts.iter().enumerate() {
        let (Some(tx), Some(sender)) = (block.transactions.get(i), block.senders.get(i)) else {
            break;
        };
        let cumulative = receipt.cumulative_gas_used();
        let gas_used = cumulative.saturating_sub(prev_cumulative);
        prev_cumulative = cumulative;
        let rpc_logs: Vec<Log> = logs.by_ref().take(receipt.logs().len()).collect();
        let inner = receipt.clone().map_logs(|_| Log::default());
        let inner = with_logs(inner, rpc_logs);
        out.push(TransactionReceipt {
            inner,
            transaction_hash: tx.tx_hash(),
            transaction_index: Some(i as u64),
            block_hash: Some(block.hash),
            block_number: Some(block.header.number),
            gas_used,
            effective_gas_price: tx.effective_gas_price(block.header.base_fee_per_gas),
            blob_gas_used: None,
            blob_gas_price: None,
            from: *sender,
            to: tx.to(),
            contract_address: tx.is_create().then(|| sender.create(tx.nonce())),
        });
    }
    out
}

fn with_logs(mut envelope: OpReceiptEnvelope<Log>, logs: Vec<Log>) -> OpReceiptEnvelope<Log> {
    match &mut envelope {
        OpReceiptEnvelope::Legacy(r)
        | OpReceiptEnvelope::Eip2930(r)
        | OpReceiptEnvelope::Eip1559(r)
        | OpReceiptEnvelope::Eip7702(r)
        | OpReceiptEnvelope::PostExec(r) => r.receipt.logs = logs,
        OpReceiptEnvelope::Deposit(r) => r.receipt.inner.logs = logs,
    }
    envelope
}
