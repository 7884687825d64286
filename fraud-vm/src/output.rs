//! Output roots: what a proposer posts to L1 for an L2 block.
//!
//! An output root commits to one L2 block through the claim on it ([`Claim`]: the terminal
//! state of the block's step-machine trace, [`end_hash`]): its hash, its state root (the root
//! of the [`crate::smt`] state tree), the block-hash window with its own hash, and its
//! derivation cursor (where derivation of the next block continues, [`crate::inbox::Cursor`]).
//! Version 1 is
//!
//! ```text
//! outputRoot = keccak256(abi.encode(uint256(1), uint256(l2BlockNumber), bytes32(claimHash)))
//! claimHash  = keccak256(END ‖ blockHash ‖ stateRoot ‖ blockHashesRoot ‖ cursor)
//! ```
//!
//! (`END = keccak256("fraud-vm block end")`, each item a 32-byte word). The L1 `Portal`
//! recomputes it from an `OutputRootProof` `(l2BlockNumber, l2BlockHash, stateRoot,
//! blockHashesRoot, cursor)` before it checks a withdrawal's storage proof against `stateRoot`.
//! A dispute over an output bisects the claims on the blocks between the previous output and
//! it down to one block, whose trace starts from the claim on its parent plus L1 data and ends
//! in `claimHash`: the output is the top of that bisection, with nothing between. Version 0
//! (`abi.encode(0, number, blockHash, stateRoot)`) committed no cursor and no window; the
//! version word keeps roots of different versions from colliding.

use alloy_primitives::{keccak256, B256, U256};
use alloy_sol_types::{sol, SolValue};

use crate::vm::{machine::end_hash, Claim};

/// Version word of the current output root format.
pub const OUTPUT_VERSION: B256 = B256::with_last_byte(1);

sol! {
    /// The ABI tuple hashed into a version-1 output root.
    struct OutputRootV1 {
        bytes32 version;
        uint256 l2BlockNumber;
        bytes32 claimHash;
    }
}

/// The version-1 output root of L2 block `l2_block_number` whose claim is `claim` (see the
/// module documentation).
pub fn output_root(l2_block_number: u64, claim: &Claim) -> B256 {
    let tuple = OutputRootV1 {
        version: OUTPUT_VERSION,
        l2BlockNumber: U256::from(l2_block_number),
        claimHash: end_hash(claim),
    };
    keccak256(tuple.abi_encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim() -> Claim {
        Claim {
            block_hash: B256::repeat_byte(0x11),
            state_root: B256::repeat_byte(0x22),
            block_hashes_root: B256::repeat_byte(0x33),
            cursor: B256::repeat_byte(0x44),
        }
    }

    #[test]
    fn output_root_is_keccak_of_three_words_over_the_claim_hash() {
        let c = claim();
        let mut claim_preimage = keccak256(b"fraud-vm block end").to_vec();
        for word in [c.block_hash, c.state_root, c.block_hashes_root, c.cursor] {
            claim_preimage.extend_from_slice(word.as_slice());
        }
        let mut preimage = [0u8; 96];
        preimage[31] = 1;
        preimage[56..64].copy_from_slice(&7u64.to_be_bytes());
        preimage[64..96].copy_from_slice(keccak256(&claim_preimage).as_slice());
        assert_eq!(output_root(7, &c), keccak256(preimage));
    }

    #[test]
    fn output_root_depends_on_every_field() {
        let base = output_root(1, &claim());
        assert_ne!(base, output_root(2, &claim()));
        let changed = [
            Claim {
                block_hash: B256::ZERO,
                ..claim()
            },
            Claim {
                state_root: B256::ZERO,
                ..claim()
            },
            Claim {
                block_hashes_root: B256::ZERO,
                ..claim()
            },
            Claim {
                cursor: B256::ZERO,
                ..claim()
            },
        ];
        for c in changed {
            assert_ne!(base, output_root(1, &c), "{c:?}");
        }
    }
}
