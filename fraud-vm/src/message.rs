//! Cross-domain messages: deposits (L1 → L2) and withdrawals (L2 → L1).
//!
//! This module is the single definition of the message formats; the L1 contracts
//! (`contracts/src/L1/Inbox.sol`, `Portal.sol`) and the L2 predeploys
//! (`contracts/src/L2/L2ToL1MessagePasser.sol`) compute exactly the same hashes, and the
//! `bridge` crate's tests check that differentially.
//!
//! ## Deposits
//!
//! The L1 `Inbox` numbers every deposit (a *delayed message*) and folds its [`DepositMessage::hash`]
//! into a hash accumulator: `acc[0] = 0`, `acc[n + 1] = keccak256(acc[n] ‖ hash_n)`
//! ([`DepositMessage::accumulate`]). On L2 a deposit becomes an OP-style deposit transaction
//! (type `0x7E`, [`DepositMessage::tx_deposit`]) whose **`sourceHash` is the message hash**, so
//! every L2 deposit transaction names the exact L1 message it executes, and two deposits never
//! share a transaction hash (the hash covers the unique message index).
//!
//! `from` is the L1 sender, **aliased** ([`apply_alias`]) when the sender is a contract
//! (`msg.sender != tx.origin` on L1), so an L1 contract cannot impersonate the L2 account with the
//! same address.
//!
//! ## Withdrawals
//!
//! The L2 predeploy [`L2_TO_L1_MESSAGE_PASSER`] records a withdrawal by setting
//! `sentMessages[withdrawalHash] = true` (a `mapping(bytes32 => bool)` at storage slot 0). The L1
//! `Portal` proves a withdrawal by showing, against the state root of a finalized output root
//! ([`crate::output`]), that the state-tree leaf [`Withdrawal::state_key`] holds
//! [`WITHDRAWAL_SENT_VALUE`] (`bytes32(uint256(1))`).

use alloy_primitives::{address, aliases::U160, keccak256, Address, Bytes, TxKind, B256, U256};
use alloy_sol_types::{sol, SolValue};
use op_alloy_consensus::TxDeposit;

use crate::state::storage_key;

/// The L2 standard bridge predeploy (`L2StandardBridge.sol`).
pub const L2_STANDARD_BRIDGE: Address = address!("4200000000000000000000000000000000000010");
/// The L1-info predeploy (`L1Info.sol`), updated by the first deposit of every L2 block.
pub const L1_INFO: Address = address!("4200000000000000000000000000000000000015");
/// The L2-to-L1 message passer predeploy (`L2ToL1MessagePasser.sol`).
pub const L2_TO_L1_MESSAGE_PASSER: Address = address!("4200000000000000000000000000000000000016");
/// Sender of the per-block L1-info deposit transaction (the only caller `L1Info` accepts).
pub const SYSTEM_DEPOSITOR: Address = address!("deaddeaddeaddeaddeaddeaddeaddeaddead0001");

/// Offset added to an L1 contract's address to form its L2 sender address (OP-style aliasing).
pub const ALIAS_OFFSET: Address = address!("1111000000000000000000000000000000001111");

/// Storage slot of `sentMessages` (a `mapping(bytes32 => bool)`) in the message passer.
pub const SENT_MESSAGES_SLOT: U256 = U256::ZERO;

/// The state-tree value of a sent withdrawal's `sentMessages` slot: `bytes32(uint256(1))`.
pub const WITHDRAWAL_SENT_VALUE: B256 = B256::with_last_byte(1);

fn to_u160(address: Address) -> U160 {
    U160::from_be_bytes(address.0 .0)
}

fn from_u160(value: U160) -> Address {
    Address::from(value.to_be_bytes::<20>())
}

/// The L2 alias of an L1 contract address: `address + 0x1111000000000000000000000000000000001111`
/// modulo `2^160`.
pub fn apply_alias(address: Address) -> Address {
    from_u160(to_u160(address).wrapping_add(to_u160(ALIAS_OFFSET)))
}

/// Inverse of [`apply_alias`].
pub fn undo_alias(address: Address) -> Address {
    from_u160(to_u160(address).wrapping_sub(to_u160(ALIAS_OFFSET)))
}

sol! {
    /// The ABI tuple hashed into a deposit's message hash.
    struct DepositMessageAbi {
        uint256 index;
        address from;
        address to;
        uint256 mint;
        uint256 value;
        uint64 gasLimit;
        bool isCreation;
        bytes32 dataHash;
        uint64 l1BlockNumber;
        uint64 l1Timestamp;
    }

    /// The ABI parameters hashed into a withdrawal hash.
    struct WithdrawalAbi {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }
}

/// A deposit (delayed message) as queued by the L1 `Inbox`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepositMessage {
    /// Position in the Inbox's delayed-message queue (0-based).
    pub index: u64,
    /// The L2 sender: the L1 sender, already aliased ([`apply_alias`]) if it is a contract.
    pub from: Address,
    /// Call target (ignored, zero, for a contract creation).
    pub to: Address,
    /// Wei minted on L2 to `from` (the ETH locked in the L1 `Portal`).
    pub mint: U256,
    /// Wei sent with the L2 call.
    pub value: U256,
    /// L2 gas limit of the deposit transaction.
    pub gas_limit: u64,
    /// Whether the deposit creates a contract (then `to` is zero and `data` is the initcode).
    pub is_creation: bool,
    /// Calldata (or initcode).
    pub data: Bytes,
    /// L1 block number in which the deposit was queued.
    pub l1_block_number: u64,
    /// L1 timestamp at which the deposit was queued.
    pub l1_timestamp: u64,
}

impl DepositMessage {
    /// The message hash:
    /// `keccak256(abi.encode(uint256 index, address from, address to, uint256 mint, uint256 value,
    /// uint64 gasLimit, bool isCreation, bytes32 keccak256(data), uint64 l1BlockNumber,
    /// uint64 l1Timestamp))` (ten 32-byte words). It is also the L2 deposit transaction's
    /// `sourceHash`.
    pub fn hash(&self) -> B256 {
        keccak256(self.hash_preimage())
    }

    /// The bytes [`DepositMessage::hash`] hashes (the ten words): what a proof reads back from
    /// the message hash, which the delayed accumulator commits.
    pub fn hash_preimage(&self) -> Vec<u8> {
        DepositMessageAbi {
            index: U256::from(self.index),
            from: self.from,
            to: self.to,
            mint: self.mint,
            value: self.value,
            gasLimit: self.gas_limit,
            isCreation: self.is_creation,
            dataHash: keccak256(&self.data),
            l1BlockNumber: self.l1_block_number,
            l1Timestamp: self.l1_timestamp,
        }
        .abi_encode()
    }

    /// Extends a delayed-message accumulator: `keccak256(prev ‖ message_hash)`. The empty
    /// accumulator is `B256::ZERO`.
    pub fn accumulate(prev: B256, message_hash: B256) -> B256 {
        let mut preimage = [0u8; 64];
        preimage[..32].copy_from_slice(prev.as_slice());
        preimage[32..].copy_from_slice(message_hash.as_slice());
        keccak256(preimage)
    }

    /// The L2 deposit transaction (type `0x7E`) executing this message: `sourceHash` =
    /// [`DepositMessage::hash`], never a system transaction.
    ///
    /// `mint` is a `u128` in the transaction format; a larger `mint` (more wei than exists on any
    /// L1) saturates.
    pub fn tx_deposit(&self) -> TxDeposit {
        TxDeposit {
            source_hash: self.hash(),
            from: self.from,
            to: if self.is_creation {
                TxKind::Create
            } else {
                TxKind::Call(self.to)
            },
            mint: u128::try_from(self.mint).unwrap_or(u128::MAX),
            value: self.value,
            gas_limit: self.gas_limit,
            is_system_transaction: false,
            input: self.data.clone(),
        }
    }

    /// The hash of the L2 transaction executing this message: `keccak256` of the EIP-2718
    /// encoding (`0x7E ‖ rlp(...)`) of [`DepositMessage::tx_deposit`]. Computable on L1 from the
    /// `DepositQueued` event alone, so a client can look the deposit up on L2.
    pub fn l2_tx_hash(&self) -> B256 {
        op_alloy_consensus::OpTxEnvelope::from(self.tx_deposit()).tx_hash()
    }
}

/// A withdrawal as recorded by the L2 [`L2_TO_L1_MESSAGE_PASSER`] and finalized by the L1 `Portal`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Withdrawal {
    /// The message passer's `messageNonce` when the withdrawal was initiated.
    pub nonce: U256,
    /// The L2 account that initiated the withdrawal (`msg.sender` of `initiateWithdrawal`).
    pub sender: Address,
    /// The L1 call target.
    pub target: Address,
    /// Wei released to `target` on L1 (burned on L2).
    pub value: U256,
    /// Minimum gas the L1 call gets.
    pub gas_limit: U256,
    /// L1 calldata.
    pub data: Bytes,
}

impl Withdrawal {
    /// The withdrawal hash:
    /// `keccak256(abi.encode(nonce, sender, target, value, gasLimit, data))` (Solidity
    /// parameter encoding: six head words, `data` at offset `0xc0`).
    pub fn hash(&self) -> B256 {
        let abi = WithdrawalAbi {
            nonce: self.nonce,
            sender: self.sender,
            target: self.target,
            value: self.value,
            gasLimit: self.gas_limit,
            data: self.data.clone(),
        };
        keccak256(abi.abi_encode_params())
    }

    /// The storage slot of `sentMessages[withdrawal_hash]` in the message passer:
    /// `keccak256(abi.encode(withdrawalHash, uint256(0)))`.
    pub fn sent_slot(withdrawal_hash: B256) -> U256 {
        let mut preimage = [0u8; 64];
        preimage[..32].copy_from_slice(withdrawal_hash.as_slice());
        preimage[32..].copy_from_slice(&SENT_MESSAGES_SLOT.to_be_bytes::<32>());
        U256::from_be_bytes(keccak256(preimage).0)
    }

    /// The state-tree key of `sentMessages[withdrawal_hash]`; a sent withdrawal's leaf holds
    /// [`WITHDRAWAL_SENT_VALUE`].
    pub fn state_key(withdrawal_hash: B256) -> B256 {
        storage_key(&L2_TO_L1_MESSAGE_PASSER, &Self::sent_slot(withdrawal_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256, bytes};

    #[test]
    fn alias_round_trips_and_wraps() {
        let a = address!("00000000000000000000000000000000000000ff");
        assert_eq!(
            apply_alias(a),
            address!("1111000000000000000000000000000000001210")
        );
        assert_eq!(undo_alias(apply_alias(a)), a);
        let high = address!("ffffffffffffffffffffffffffffffffffffffff");
        assert_eq!(
            apply_alias(high),
            address!("1111000000000000000000000000000000001110")
        );
        assert_eq!(undo_alias(apply_alias(high)), high);
        assert_eq!(apply_alias(Address::ZERO), ALIAS_OFFSET);
    }

    fn deposit() -> DepositMessage {
        DepositMessage {
            index: 3,
            from: address!("f39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
            to: address!("70997970c51812dc3a010c7d01b50e0d17dc79c8"),
            mint: U256::from(10u64.pow(18)),
            value: U256::from(5),
            gas_limit: 100_000,
            is_creation: false,
            data: bytes!("deadbeef"),
            l1_block_number: 12,
            l1_timestamp: 1_700_000_000,
        }
    }

    #[test]
    fn deposit_hash_is_ten_words() {
        let d = deposit();
        let mut words = Vec::new();
        let word = |x: &[u8]| {
            let mut w = [0u8; 32];
            w[32 - x.len()..].copy_from_slice(x);
            w
        };
        words.extend(word(&3u64.to_be_bytes()));
        words.extend(word(d.from.as_slice()));
        words.extend(word(d.to.as_slice()));
        words.extend(d.mint.to_be_bytes::<32>());
        words.extend(d.value.to_be_bytes::<32>());
        words.extend(word(&100_000u64.to_be_bytes()));
        words.extend(word(&[0]));
        words.extend(keccak256(&d.data).0);
        words.extend(word(&12u64.to_be_bytes()));
        words.extend(word(&1_700_000_000u64.to_be_bytes()));
        assert_eq!(words.len(), 320);
        assert_eq!(d.hash(), keccak256(&words));
        let mut other = d.clone();
        other.is_creation = true;
        assert_ne!(other.hash(), d.hash());
    }

    #[test]
    fn accumulator_chains() {
        let h = deposit().hash();
        let acc1 = DepositMessage::accumulate(B256::ZERO, h);
        assert_eq!(acc1, keccak256([[0u8; 32], h.0].concat()));
        assert_ne!(DepositMessage::accumulate(acc1, h), acc1);
    }

    #[test]
    fn tx_deposit_uses_message_hash_as_source_hash() {
        let d = deposit();
        let tx = d.tx_deposit();
        assert_eq!(tx.source_hash, d.hash());
        assert_eq!(tx.to, TxKind::Call(d.to));
        assert_eq!(tx.mint, 10u128.pow(18));
        let mut c = d;
        c.is_creation = true;
        c.to = Address::ZERO;
        assert_eq!(c.tx_deposit().to, TxKind::Create);
        use alloy_eips::eip2718::Encodable2718;
        assert_eq!(c.l2_tx_hash(), keccak256(c.tx_deposit().encoded_2718()));
        assert_eq!(c.tx_deposit().encoded_2718()[0], 0x7e);
    }

    #[test]
    fn withdrawal_hash_uses_parameter_encoding() {
        let w = Withdrawal {
            nonce: U256::from(1),
            sender: address!("f39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
            target: address!("70997970c51812dc3a010c7d01b50e0d17dc79c8"),
            value: U256::from(7),
            gas_limit: U256::from(50_000),
            data: bytes!("0102"),
        };
        let encoded = (
            w.nonce,
            w.sender,
            w.target,
            w.value,
            w.gas_limit,
            w.data.clone(),
        )
            .abi_encode_params();
        assert_eq!(encoded.len(), 8 * 32);
        assert_eq!(U256::from_be_slice(&encoded[160..192]), U256::from(0xc0));
        assert_eq!(w.hash(), keccak256(&encoded));
    }

    #[test]
    fn sent_slot_and_state_key() {
        let h = b256!("00000000000000000000000000000000000000000000000000000000000000aa");
        let slot = Withdrawal::sent_slot(h);
        assert_eq!(
            slot,
            U256::from_be_bytes(keccak256([h.0, [0u8; 32]].concat()).0)
        );
        assert_eq!(
            Withdrawal::state_key(h),
            storage_key(&L2_TO_L1_MESSAGE_PASSER, &slot)
        );
    }
}
