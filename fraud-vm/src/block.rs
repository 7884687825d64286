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
//! where `item_i` is the transaction hash (`keccak256` of its EIP-2718 encoding) for
//! `transactionsRoot`, and `keccak256` of the receipt's EIP-2718 encoding for `receiptsRoot`.
//! A block without transactions has both roots zero. Block timestamps never decrease; several
//! blocks may share a timestamp when the block time is below a second.

use alloy_primitives::{keccak256, B256};

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
}
