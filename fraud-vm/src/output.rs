//! Output roots: what a proposer posts to L1 for an L2 block.
//!
//! An output root commits to one L2 block: its number, its block hash and its state root (the
//! root of the [`crate::smt`] state tree). Version 0 is
//!
//! ```text
//! outputRoot = keccak256(abi.encode(uint256(0), uint256(l2BlockNumber), bytes32(l2BlockHash), bytes32(stateRoot)))
//! ```
//!
//! i.e. the keccak256 of exactly 128 bytes: four 32-byte big-endian words, the first being the
//! version (`0`). The L1 `Portal` recomputes the same hash from an `OutputRootProof`
//! `(l2BlockNumber, l2BlockHash, stateRoot)` before it checks a withdrawal's storage proof against
//! `stateRoot`. A later version changes the first word, so roots of different versions never
//! collide.

use alloy_primitives::{keccak256, B256, U256};
use alloy_sol_types::{sol, SolValue};

/// Version word of the current output root format.
pub const OUTPUT_VERSION_V0: B256 = B256::ZERO;

sol! {
    /// The ABI tuple hashed into a version-0 output root.
    struct OutputRootV0 {
        bytes32 version;
        uint256 l2BlockNumber;
        bytes32 l2BlockHash;
        bytes32 stateRoot;
    }
}

/// The version-0 output root of L2 block `l2_block_number` with hash `l2_block_hash` and state
/// root `state_root` (see the module documentation).
pub fn output_root(l2_block_number: u64, l2_block_hash: B256, state_root: B256) -> B256 {
    let tuple = OutputRootV0 {
        version: OUTPUT_VERSION_V0,
        l2BlockNumber: U256::from(l2_block_number),
        l2BlockHash: l2_block_hash,
        stateRoot: state_root,
    };
    keccak256(tuple.abi_encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::b256;

    #[test]
    fn output_root_is_keccak_of_four_words() {
        let hash = b256!("1111111111111111111111111111111111111111111111111111111111111111");
        let state = b256!("2222222222222222222222222222222222222222222222222222222222222222");
        let mut preimage = [0u8; 128];
        preimage[56..64].copy_from_slice(&7u64.to_be_bytes());
        preimage[64..96].copy_from_slice(hash.as_slice());
        preimage[96..128].copy_from_slice(state.as_slice());
        assert_eq!(output_root(7, hash, state), keccak256(preimage));
    }

    #[test]
    fn output_root_depends_on_every_field() {
        let a = output_root(1, B256::ZERO, B256::ZERO);
        assert_ne!(a, output_root(2, B256::ZERO, B256::ZERO));
        assert_ne!(a, output_root(1, B256::with_last_byte(1), B256::ZERO));
        assert_ne!(a, output_root(1, B256::ZERO, B256::with_last_byte(1)));
    }
}
