//! Deposit transactions (type `0x7E`): how the L2 executes them, the per-block L1-info deposit,
//! and the L1 event derivation reads them from.
//!
//! This module and [`crate::execute::BlockBuilder`] are the single definition of the rule; the
//! node's sequencer and any replica or prover follow it.
//!
//! ## Executing a deposit
//!
//! A deposit is op-alloy's [`TxDeposit`] (`sourceHash, from, to, mint, value, gas, isSystemTx,
//! input`, no signature). [`BlockBuilder::execute`](crate::execute::BlockBuilder::execute) (or
//! [`BlockBuilder::execute_deposit`](crate::execute::BlockBuilder::execute_deposit)) applies it as
//! follows:
//!
//! 1. If its gas limit does not fit in the gas left in the block it is not included
//!    ([`TxRejection::BlockFull`](crate::execute::TxRejection::BlockFull)); the sequencer puts it
//!    into the next block. Nothing else can keep a deposit out of a block. `isSystemTx = true` is
//!    not part of this chain and is refused as invalid.
//! 2. `mint` wei are credited to `from`. The mint is **kept whatever happens next** (it is the ETH
//!    locked in the L1 `Portal`).
//! 3. The call (or creation) runs from `from` with `from`'s current nonce, at gas price **0**: no
//!    gas is bought, no base fee is burned, no tip is paid. The gas it uses counts toward the
//!    block's gas used.
//! 4. If revm refuses it as an invalid transaction (for example `value` above `from`'s balance
//!    after the mint, or a gas limit below the intrinsic gas), it is **still included**, as a
//!    failed transaction: `from`'s nonce is incremented, the mint stays, the receipt has status 0
//!    and no logs, and it uses its whole gas limit.
//!
//! The receipt is [`OpReceiptEnvelope::Deposit`](op_alloy_consensus::OpReceiptEnvelope::Deposit)
//! with `depositNonce` = the nonce `from` had before the deposit and `depositReceiptVersion = 1`.
//! The `receiptsRoot` accumulator ([`crate::block::receipt_item`]) commits to the receipt's type
//! (`0x7E`), status, cumulative gas and logs; the deposit nonce follows from the state.
//!
//! Users cannot submit deposits: they only come from L1, through derivation.
//!
//! ## The L1-info deposit
//!
//! Every L2 block that has an **L1 origin** (the L1 block whose deposits it may include) starts
//! with one system deposit, [`l1_info_deposit`]: from [`SYSTEM_DEPOSITOR`] to the [`L1_INFO`]
//! predeploy, calling `setL1Info(number, timestamp, basefee, hash)` with the origin's fields,
//! `mint = value = 0`, gas limit [`L1_INFO_GAS_LIMIT`] and
//!
//! ```text
//! sourceHash = keccak256(abi.encode(uint256(1), bytes32 l1BlockHash, uint256 l2BlockNumber))
//! ```
//!
//! ([`l1_info_source_hash`]). The leading domain word `1` and the 96-byte preimage keep it apart
//! from user deposits, whose source hash is the 320-byte [`DepositMessage::hash`], and the L2
//! block number makes every L1-info transaction hash unique even when blocks share an origin.
//! The user deposits of the block follow it, in Inbox index order.
//!
//! ## Deposit limits (the Portal's)
//!
//! A deposit's gas limit is at least [`min_deposit_gas_limit`] of its data (`21000 + 16 · len`,
//! so its data is paid for as calldata would be on L2, and bounded by its gas) and at most
//! [`MAX_DEPOSIT_GAS_LIMIT`]; its data is at most [`MAX_DEPOSIT_DATA`] bytes. The Portal refuses
//! any other deposit, so every delayed message derivation reads keeps these bounds: the data a
//! block's deposits copy and hash is bounded by the block's gas limit / 16, which bounds a
//! derivation run.

use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_sol_types::{sol, SolCall, SolValue};
use op_alloy_consensus::TxDeposit;
use serde::{Deserialize, Serialize};

use crate::message::{DepositMessage, L1_INFO, SYSTEM_DEPOSITOR};

/// Gas limit of the per-block L1-info deposit.
pub const L1_INFO_GAS_LIMIT: u64 = 1_000_000;

/// Smallest gas limit of a deposit without data (an L2 transfer's intrinsic gas;
/// `Portal.MIN_GAS_LIMIT`).
pub const MIN_DEPOSIT_GAS_LIMIT: u64 = 21_000;

/// Gas a deposit's gas limit must hold per byte of its data (`Portal.GAS_PER_DATA_BYTE`: L2's
/// non-zero calldata price).
pub const DEPOSIT_GAS_PER_DATA_BYTE: u64 = 16;

/// Largest gas limit of a deposit (`Portal.MAX_GAS_LIMIT`). A block with an L1 origin has a
/// gas limit of at least `L1_INFO_GAS_LIMIT + MAX_DEPOSIT_GAS_LIMIT`
/// ([`crate::batch::MIN_ORIGIN_GAS_LIMIT`]), so every deposit fits in some block.
pub const MAX_DEPOSIT_GAS_LIMIT: u64 = 20_000_000;

/// Largest deposit data, in bytes (`Portal.MAX_DATA_SIZE`).
pub const MAX_DEPOSIT_DATA: u64 = 120_000;

/// The smallest gas limit the Portal accepts for a deposit with `data_len` bytes of data:
/// `MIN_DEPOSIT_GAS_LIMIT + DEPOSIT_GAS_PER_DATA_BYTE · data_len` (`Portal.minimumGasLimit`).
pub const fn min_deposit_gas_limit(data_len: u64) -> u64 {
    MIN_DEPOSIT_GAS_LIMIT.saturating_add(DEPOSIT_GAS_PER_DATA_BYTE.saturating_mul(data_len))
}

/// Version of the deposit receipts this chain writes (`depositReceiptVersion`).
pub const DEPOSIT_RECEIPT_VERSION: u64 = 1;

sol! {
    /// `L1Info.setL1Info`, called by the L1-info deposit.
    function setL1Info(uint64 number, uint64 timestamp, uint256 basefee, bytes32 hash);

    /// The L1 `Inbox`'s event for a queued deposit (delayed message), as derivation reads it.
    #[derive(Debug, PartialEq, Eq)]
    event DepositQueued(
        uint256 indexed index,
        address indexed from,
        address indexed to,
        uint256 mint,
        uint256 value,
        uint64 gasLimit,
        bool isCreation,
        bytes data,
        uint64 l1BlockNumber,
        uint64 l1Timestamp,
        bytes32 messageHash
    );
}

/// An L1 block as an L2 block's origin: what the L1-info deposit records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L1BlockInfo {
    /// L1 block number.
    pub number: u64,
    /// L1 block hash.
    pub hash: B256,
    /// L1 block timestamp.
    pub timestamp: u64,
    /// L1 block base fee (wei).
    pub basefee: u64,
}

impl L1BlockInfo {
    /// The origin an L1 header describes: its number, its hash (`keccak256` of its RLP
    /// encoding, the value the next header's `parentHash` holds, so an origin can be proven by
    /// walking parent hashes), its timestamp and its base fee (0 before London).
    pub fn from_header(header: &alloy_consensus::Header) -> Self {
        Self {
            number: header.number,
            hash: header.hash_slow(),
            timestamp: header.timestamp,
            basefee: header.base_fee_per_gas.unwrap_or_default(),
        }
    }
}

/// The source hash of the L1-info deposit of L2 block `l2_block_number` whose origin has hash
/// `l1_block_hash` (see the module docs).
pub fn l1_info_source_hash(l1_block_hash: B256, l2_block_number: u64) -> B256 {
    keccak256((U256::from(1), l1_block_hash, U256::from(l2_block_number)).abi_encode())
}

/// The L1-info deposit opening L2 block `l2_block_number` with L1 origin `origin`.
pub fn l1_info_deposit(origin: &L1BlockInfo, l2_block_number: u64) -> TxDeposit {
    let input = setL1InfoCall {
        number: origin.number,
        timestamp: origin.timestamp,
        basefee: U256::from(origin.basefee),
        hash: origin.hash,
    }
    .abi_encode();
    TxDeposit {
        source_hash: l1_info_source_hash(origin.hash, l2_block_number),
        from: SYSTEM_DEPOSITOR,
        to: TxKind::Call(L1_INFO),
        mint: 0,
        value: U256::ZERO,
        gas_limit: L1_INFO_GAS_LIMIT,
        is_system_transaction: false,
        input: Bytes::from(input),
    }
}

impl DepositQueued {
    /// The deposit message this event announces. The index is the event's (a `uint256` above
    /// `u64::MAX` cannot occur: the Inbox counts in an array).
    pub fn message(&self) -> DepositMessage {
        DepositMessage {
            index: u64::try_from(self.index).unwrap_or(u64::MAX),
            from: self.from,
            to: self.to,
            mint: self.mint,
            value: self.value,
            gas_limit: self.gasLimit,
            is_creation: self.isCreation,
            data: self.data.clone(),
            l1_block_number: self.l1BlockNumber,
            l1_timestamp: self.l1Timestamp,
        }
    }
}

/// The rollup's contracts on L1 and the chains they join, as written by the `bridge` crate's
/// deployment (`bridge::deploy`) and read by the node and the bridge client. Stored as JSON
/// (camelCase keys, addresses as hex strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// L1 chain id (31337 for anvil).
    pub l1_chain_id: u64,
    /// L2 chain id (the genesis `config.chainId`).
    pub l2_chain_id: u64,
    /// L1 block holding the first deployment transaction: derivation scans L1 from here.
    pub deploy_block: u64,
    /// The account that deployed the contracts.
    pub deployer: Address,
    /// `Inbox`: deposits (delayed messages) and sequencer batches.
    pub inbox: Address,
    /// `Portal`: ETH deposits, withdrawals.
    pub portal: Address,
    /// `OutputRegistry`: output-root proposals.
    pub output_registry: Address,
    /// `L1StandardBridge`: ERC20 deposits and withdrawals.
    pub l1_standard_bridge: Address,
    /// The only account allowed to post sequencer batches.
    pub batcher: Address,
    /// The account that proposes output roots (by convention; the registry accepts anyone).
    pub proposer: Address,
    /// The registry's resolver (may invalidate proposals).
    pub resolver: Address,
    /// Seconds after which an unread deposit can be forced in.
    pub force_inclusion_window: u64,
    /// Seconds an output root must stand before it is final.
    pub challenge_window: u64,
    /// Wei bonded with each proposal.
    pub proposal_bond: U256,
}

impl Deployment {
    /// Parses a deployment file's JSON.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The JSON text of a deployment file (pretty-printed, trailing newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};
    use alloy_sol_types::SolEvent;

    #[test]
    fn l1_info_source_hash_is_three_words() {
        let hash = b256!("1111111111111111111111111111111111111111111111111111111111111111");
        let mut pre = [0u8; 96];
        pre[31] = 1;
        pre[32..64].copy_from_slice(hash.as_slice());
        pre[88..96].copy_from_slice(&7u64.to_be_bytes());
        assert_eq!(l1_info_source_hash(hash, 7), keccak256(pre));
        assert_ne!(l1_info_source_hash(hash, 7), l1_info_source_hash(hash, 8));
    }

    #[test]
    fn l1_info_deposit_calls_set_l1_info() {
        let origin = L1BlockInfo {
            number: 5,
            hash: B256::repeat_byte(9),
            timestamp: 1_700_000_000,
            basefee: 7,
        };
        let tx = l1_info_deposit(&origin, 3);
        assert_eq!(tx.from, SYSTEM_DEPOSITOR);
        assert_eq!(tx.to, TxKind::Call(L1_INFO));
        assert_eq!(tx.gas_limit, L1_INFO_GAS_LIMIT);
        assert_eq!(tx.source_hash, l1_info_source_hash(origin.hash, 3));
        let call = setL1InfoCall::abi_decode(&tx.input).expect("decodes");
        assert_eq!(call.number, 5);
        assert_eq!(call.timestamp, 1_700_000_000);
        assert_eq!(call.basefee, U256::from(7));
        assert_eq!(call.hash, origin.hash);
    }

    #[test]
    fn deposit_queued_event_gives_the_message() {
        let event = DepositQueued {
            index: U256::from(4),
            from: address!("f39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
            to: address!("70997970c51812dc3a010c7d01b50e0d17dc79c8"),
            mint: U256::from(10),
            value: U256::from(3),
            gasLimit: 100_000,
            isCreation: false,
            data: Bytes::from_static(b"\x01\x02"),
            l1BlockNumber: 9,
            l1Timestamp: 99,
            messageHash: B256::ZERO,
        };
        let log = event.encode_log_data();
        let decoded = DepositQueued::decode_log_data(&log).expect("decodes");
        let message = decoded.message();
        assert_eq!(message.index, 4);
        assert_eq!(message.gas_limit, 100_000);
        assert_eq!(message.data, event.data);
        assert_eq!(message.l1_timestamp, 99);
    }

    #[test]
    fn deployment_round_trips_as_json() {
        let d = Deployment {
            l1_chain_id: 31337,
            l2_chain_id: 42069,
            deploy_block: 1,
            deployer: Address::repeat_byte(1),
            inbox: Address::repeat_byte(2),
            portal: Address::repeat_byte(3),
            output_registry: Address::repeat_byte(4),
            l1_standard_bridge: Address::repeat_byte(5),
            batcher: Address::repeat_byte(6),
            proposer: Address::repeat_byte(7),
            resolver: Address::repeat_byte(8),
            force_inclusion_window: 30,
            challenge_window: 60,
            proposal_bond: U256::from(10u64.pow(17)),
        };
        let text = d.to_json();
        assert!(text.contains("\"l1StandardBridge\""));
        assert_eq!(Deployment::from_json(&text).expect("parses"), d);
    }
}
