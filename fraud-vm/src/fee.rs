//! The L1 data fee: what a user transaction pays for the L1 calldata its batch entry takes.
//!
//! Every signed (non-deposit) transaction pays, besides its L2 gas,
//!
//! ```text
//! l1GasUsed = L1_GAS_PER_BYTE · (encodedLen + BATCH_TX_PREFIX)     = 16 · (len(rawTx) + 4)
//! l1Fee     = l1GasUsed · l1BaseFee
//! ```
//!
//! where `encodedLen` is the length of the transaction's EIP-2718 encoding (what a batch
//! carries, after a 4-byte length prefix; [`crate::batch`]), priced at calldata's non-zero
//! byte cost, and `l1BaseFee` is slot [`L1_BASEFEE_SLOT`] of the [`L1_INFO`] predeploy at the
//! time the transaction starts: the base fee of the block's L1 origin, written by the block's
//! L1-info deposit ([`crate::deposit`]), or 0 on a chain that never had an origin.
//!
//! The fee is part of the transaction's validity and of its purchase, exactly where gas is
//! bought: the sender's balance must cover `gasLimit · feeCap + value + l1Fee` (else the
//! transaction is invalid: refused by the pool, skipped by derivation), and once it is valid
//! `l1Fee` moves from the sender to [`L1_FEE_VAULT`] before the call runs, with the gas
//! purchase and the nonce increment. It is never refunded, also when the call fails.
//! Deposits pay none. The node's execution ([`crate::execute::BlockBuilder`]) and the step
//! machine's tx-init ([`crate::vm`]) apply this one rule.
//!
//! Compared with OP Stack's Bedrock formula (`(zeroes·4 + ones·16 + overhead) · l1BaseFee ·
//! scalar`), this one counts every byte at the non-zero price, which is what a batch costs at
//! most (EIP-2028 calldata, before the EIP-7623 floor), and has no operator scalar.

use alloy_primitives::{address, Address, U256};

use crate::{message::L1_INFO, state::storage_key};

/// Where the L1 data fee goes (OP Stack's `L1FeeVault` address).
pub const L1_FEE_VAULT: Address = address!("420000000000000000000000000000000000001a");

/// L1 gas charged per byte a transaction takes in a batch (EIP-2028 non-zero calldata byte).
pub const L1_GAS_PER_BYTE: u64 = 16;

/// Bytes a batch adds to each transaction: its `u32` length prefix.
pub const BATCH_TX_PREFIX: u64 = 4;

/// The `L1Info` storage slot holding the L1 base fee (`L1Info.sol`: slot 1 = `basefee`).
pub const L1_BASEFEE_SLOT: U256 = U256::from_limbs([1, 0, 0, 0]);

/// The state-tree key of `L1Info.basefee`.
pub fn l1_basefee_key() -> alloy_primitives::B256 {
    storage_key(&L1_INFO, &L1_BASEFEE_SLOT)
}

/// L1 gas a transaction of `encoded_len` bytes (EIP-2718) is charged for.
pub fn l1_gas_used(encoded_len: u64) -> u64 {
    encoded_len
        .saturating_add(BATCH_TX_PREFIX)
        .saturating_mul(L1_GAS_PER_BYTE)
}

/// The L1 data fee of a transaction of `encoded_len` bytes at L1 base fee `l1_basefee`
/// (saturating: a fee that large is never payable).
pub fn l1_fee(l1_basefee: U256, encoded_len: u64) -> U256 {
    l1_basefee.saturating_mul(U256::from(l1_gas_used(encoded_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fee_is_sixteen_gas_per_batch_byte_at_the_l1_base_fee() {
        assert_eq!(l1_gas_used(0), 64);
        assert_eq!(l1_gas_used(110), 16 * 114);
        assert_eq!(l1_fee(U256::ZERO, 110), U256::ZERO);
        assert_eq!(l1_fee(U256::from(7), 110), U256::from(7 * 16 * 114));
        assert_eq!(l1_gas_used(u64::MAX), u64::MAX);
        assert_eq!(l1_fee(U256::MAX, 1), U256::MAX);
        assert_eq!(
            l1_basefee_key(),
            storage_key(&L1_INFO, &U256::from(1)),
            "L1Info.sol's basefee slot"
        );
    }
}
