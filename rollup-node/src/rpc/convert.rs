//! Stored blocks, transactions and receipts as JSON-RPC objects.
//!
//! Transactions are served in the OP shape (`op_alloy_rpc_types::Transaction`): a deposit
//! (`0x7E`) carries `sourceHash`, `from`, `mint`, `isSystemTx` (when set), `nonce` (the deposit
//! nonce from its receipt), `depositReceiptVersion` and `gasPrice` 0; its receipt carries
//! `depositNonce` and `depositReceiptVersion`. Other transactions look exactly as on Ethereum.

use alloy_consensus::{transaction::Recovered, Transaction as _};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, U256};
use alloy_rpc_types_eth::{
    Block, BlockTransactions, Header as RpcHeader, Log, Transaction, TransactionReceipt,
};
use fraud_vm::fee::{l1_fee, l1_gas_used};
use op_alloy_consensus::{OpReceiptEnvelope, OpTxEnvelope};

use crate::{events::block_logs, store::StoredBlock};

/// An RPC transaction (OP shape: deposits carry their deposit nonce and receipt version).
pub type RpcTransaction = op_alloy_rpc_types::Transaction<OpTxEnvelope>;
/// An RPC receipt: Ethereum's fields and, for a user transaction, its L1 data fee as OP Stack
/// receipts carry it (`l1GasPrice`: the L1 base fee it paid at, `l1GasUsed`, `l1Fee`;
/// `fraud_vm::fee`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RpcReceipt {
    /// The Ethereum receipt (OP shape for deposits).
    #[serde(flatten)]
    pub inner: TransactionReceipt<OpReceiptEnvelope<Log>>,
    /// The L1 data fee fields (absent for deposits).
    #[serde(flatten)]
    pub l1: op_alloy_rpc_types::L1BlockInfo,
}
/// An RPC block.
pub type RpcBlock = Block<RpcTransaction>;

/// The deposit nonce and receipt version of a deposit receipt (`None` for other receipts).
fn deposit_meta(receipt: Option<&OpReceiptEnvelope>) -> (Option<u64>, Option<u64>) {
    match receipt {
        Some(OpReceiptEnvelope::Deposit(r)) => {
            (r.receipt.deposit_nonce, r.receipt.deposit_receipt_version)
        }
        _ => (None, None),
    }
}

/// A mined transaction; `receipt` (its receipt) is needed for deposits only.
pub fn transaction(
    block: &StoredBlock,
    index: usize,
    receipt: Option<&OpReceiptEnvelope>,
) -> Option<RpcTransaction> {
    let tx = block.transactions.get(index)?;
    let sender = *block.senders.get(index)?;
    let (deposit_nonce, deposit_receipt_version) = deposit_meta(receipt);
    Some(op_alloy_rpc_types::Transaction {
        inner: Transaction {
            inner: Recovered::new_unchecked(tx.clone(), sender),
            block_hash: Some(block.hash),
            block_number: Some(block.header.number),
            transaction_index: Some(index as u64),
            effective_gas_price: Some(if tx.is_deposit() {
                0
            } else {
                tx.effective_gas_price(block.header.base_fee_per_gas)
            }),
            block_timestamp: Some(block.header.timestamp),
        },
        deposit_nonce,
        deposit_receipt_version,
    })
}

/// A pooled (not yet mined) transaction.
pub fn pending_transaction(tx: &OpTxEnvelope, sender: Address) -> RpcTransaction {
    op_alloy_rpc_types::Transaction {
        inner: Transaction {
            inner: Recovered::new_unchecked(tx.clone(), sender),
            block_hash: None,
            block_number: None,
            transaction_index: None,
            effective_gas_price: None,
            block_timestamp: None,
        },
        deposit_nonce: None,
        deposit_receipt_version: None,
    }
}

/// A block, with transaction hashes or full transactions; `receipts` (the block's receipts) are
/// needed for full deposit transactions only.
pub fn block(block: &StoredBlock, full: bool, receipts: &[OpReceiptEnvelope]) -> RpcBlock {
    let transactions = if full {
        BlockTransactions::Full(
            (0..block.transactions.len())
                .filter_map(|i| transaction(block, i, receipts.get(i)))
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

/// The receipts of a block, with their positions and derived fields; `l1_basefee` is the L1
/// base fee its user transactions paid their L1 data fee at.
pub fn receipts(
    block: &StoredBlock,
    receipts: &[OpReceiptEnvelope],
    l1_basefee: u64,
) -> Vec<RpcReceipt> {
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
        let l1 = if tx.is_deposit() {
            op_alloy_rpc_types::L1BlockInfo::default()
        } else {
            let len = tx.encode_2718_len() as u64;
            let fee = l1_fee(U256::from(l1_basefee), len);
            op_alloy_rpc_types::L1BlockInfo {
                l1_gas_price: Some(l1_basefee.into()),
                l1_gas_used: Some(l1_gas_used(len).into()),
                l1_fee: Some(fee.saturating_to()),
                ..Default::default()
            }
        };
        let inner = TransactionReceipt {
            inner,
            transaction_hash: tx.tx_hash(),
            transaction_index: Some(i as u64),
            block_hash: Some(block.hash),
            block_number: Some(block.header.number),
            gas_used,
            effective_gas_price: if tx.is_deposit() {
                0
            } else {
                tx.effective_gas_price(block.header.base_fee_per_gas)
            },
            blob_gas_used: None,
            blob_gas_price: None,
            from: *sender,
            to: tx.to(),
            contract_address: tx.is_create().then(|| {
                // A deposit's nonce is not in the transaction: its receipt records it.
                let nonce = deposit_meta(Some(receipt)).0.unwrap_or_else(|| tx.nonce());
                sender.create(nonce)
            }),
        };
        out.push(RpcReceipt { inner, l1 });
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
