//! Block-level commitments.
//!
//! Headers are Ethereum-shaped (RLP, `keccak256(rlp(header))` is the block hash), but
//! `transactionsRoot` and `receiptsRoot` are **hash-chain accumulators**, not Merkle-Patricia
//! tries, so the fraud VM can extend them one transaction at a time:
//!
//! ```text
//! acc_0     = 0x00…00
//! acc_{i+1} = keccak256(acc_i ‖ item_i)
//! ```
//!
//! where `item_i` is
//! - for `transactionsRoot`: the transaction hash (`keccak256` of its EIP-2718 encoding);
//! - for `receiptsRoot`: the [`receipt_item`] of the transaction's receipt,
//!   `keccak256(uint8 txType ‖ uint8 status ‖ uint64 cumulativeGasUsed ‖ bytes32 logsHash)`,
//!   where `logsHash` is the accumulator over the transaction's [`log_hash`]es and
//!   `log_hash = keccak256(address ‖ uint8 topicCount ‖ topics… ‖ keccak256(data))`.
//!
//! The receipt item leaves out the per-receipt bloom and commits to logs through a hash chain,
//! so the step machine folds each LOG into the commitment with a bounded witness. (The served
//! receipts are the standard EIP-2718 receipts; the header's `logsBloom` is the usual OR of all
//! log blooms.) A block without transactions has both roots zero. Block timestamps strictly
//! increase (the timestamp rule of the crate docs).
//!
//! Every L2 header starts from one template, [`l2_header`]: the block builder's and the step
//! machine's block-end step alike.

use alloy_consensus::{Header, EMPTY_OMMER_ROOT_HASH};
use alloy_primitives::{keccak256, Address, Bytes, Log, B256};

/// A hash-chain accumulator (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accumulator(B256);

impl Accumulator {
    /// Appends one item hash.
    pub fn push(&mut self, item: B256) {
        let mut preimage = [0u8; 64];
        preimage[..32].copy_from_slice(self.0.as_slice());
        preimage[32..].copy_from_slice(item.as_slice());
        self.0 = keccak256(preimage);
    }

    /// The current value.
    pub fn root(&self) -> B256 {
        self.0
    }

    /// Continues an accumulator whose current value is `root`.
    pub fn resume(root: B256) -> Self {
        Self(root)
    }
}

/// The commitment to one log (see the module docs).
pub fn log_hash(log: &Log) -> B256 {
    log_hash_parts(&log.address, log.topics(), &keccak256(&log.data.data))
}

/// [`log_hash`] from the emitting address, the topics and the data's hash.
pub fn log_hash_parts(address: &Address, topics: &[B256], data_hash: &B256) -> B256 {
    let mut preimage = Vec::with_capacity(20 + 1 + 32 * topics.len() + 32);
    preimage.extend_from_slice(address.as_slice());
    preimage.push(topics.len() as u8);
    for topic in topics {
        preimage.extend_from_slice(topic.as_slice());
    }
    preimage.extend_from_slice(data_hash.as_slice());
    keccak256(preimage)
}

/// The `receiptsRoot` accumulator item of one receipt (see the module docs).
pub fn receipt_item(tx_type: u8, success: bool, cumulative_gas_used: u64, logs: &[Log]) -> B256 {
    let mut logs_hash = Accumulator::default();
    for log in logs {
        logs_hash.push(log_hash(log));
    }
    receipt_item_parts(tx_type, success, cumulative_gas_used, &logs_hash.root())
}

/// [`receipt_item`] from the accumulator of the receipt's log hashes.
pub fn receipt_item_parts(
    tx_type: u8,
    success: bool,
    cumulative_gas_used: u64,
    logs_hash: &B256,
) -> B256 {
    let mut preimage = [0u8; 1 + 1 + 8 + 32];
    preimage[0] = tx_type;
    preimage[1] = success as u8;
    preimage[2..10].copy_from_slice(&cumulative_gas_used.to_be_bytes());
    preimage[10..].copy_from_slice(logs_hash.as_slice());
    keccak256(preimage)
}

/// An L2 header before execution: the fields fixed by the block's attributes and the
/// chain's constants (no ommers, difficulty 0, empty withdrawals, no blobs, zero beacon root);
/// state root, accumulators, bloom and gas used are filled in when the block is sealed.
#[allow(clippy::too_many_arguments)]
pub fn l2_header(
    parent_hash: B256,
    beneficiary: Address,
    number: u64,
    gas_limit: u64,
    timestamp: u64,
    extra_data: Bytes,
    prevrandao: B256,
    base_fee: u64,
) -> Header {
    Header {
        parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary,
        number,
        gas_limit,
        timestamp,
        extra_data,
        mix_hash: prevrandao,
        base_fee_per_gas: Some(base_fee),
        withdrawals_root: Some(alloy_consensus::EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_is_an_ordered_hash_chain() {
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let mut x = Accumulator::default();
        assert_eq!(x.root(), B256::ZERO);
        x.push(a);
        x.push(b);
        let mut y = Accumulator::default();
        y.push(b);
        y.push(a);
        assert_ne!(x.root(), y.root());
        let first = keccak256([[0u8; 32], [1u8; 32]].concat());
        assert_eq!(x.root(), keccak256([first.as_slice(), &[2u8; 32]].concat()));
    }

    #[test]
    fn receipt_item_commits_to_every_field() {
        use alloy_primitives::{Address, Bytes, LogData};
        let log = Log {
            address: Address::repeat_byte(7),
            data: LogData::new_unchecked(vec![B256::repeat_byte(1)], Bytes::from_static(b"hi")),
        };
        let mut pre = vec![7u8; 20];
        pre.push(1);
        pre.extend_from_slice(&[1u8; 32]);
        pre.extend_from_slice(keccak256(b"hi").as_slice());
        assert_eq!(log_hash(&log), keccak256(&pre));
        let base = receipt_item(2, true, 21_000, std::slice::from_ref(&log));
        assert_ne!(
            base,
            receipt_item(1, true, 21_000, std::slice::from_ref(&log))
        );
        assert_ne!(
            base,
            receipt_item(2, false, 21_000, std::slice::from_ref(&log))
        );
        assert_ne!(
            base,
            receipt_item(2, true, 21_001, std::slice::from_ref(&log))
        );
        assert_ne!(base, receipt_item(2, true, 21_000, &[]));
        let mut acc = Accumulator::default();
        acc.push(log_hash(&log));
        let mut item = vec![2u8, 1];
        item.extend_from_slice(&21_000u64.to_be_bytes());
        item.extend_from_slice(acc.root().as_slice());
        assert_eq!(base, keccak256(&item));
    }
}
