// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title WordTree
/// @notice The data root of a byte string: `fraud_vm::merkle::data_root` (see
///         `fraud-vm/src/merkle.rs`, the specification this library implements exactly).
/// @dev The bytes are cut into 32-byte words (the last one zero-padded); the words are the leaves
///      of a binary keccak tree of depth {DEPTH} (`2^24` leaf positions), absent leaves are zero,
///      an internal node is `keccak256(left ‖ right)`. The empty string's root is the root of the
///      all-zero tree. A proof of one word is its {DEPTH} siblings, so a step of the fraud-proof
///      VM reads any word of a batch with a bounded witness.
library WordTree {
    /// @notice Depth of the tree (`fraud_vm::merkle::DATA_DEPTH`).
    uint256 internal constant DEPTH = 24;

    /// @notice The data is longer than the tree holds (`2^24` words).
    error DataTooLong(uint256 length);

    /// @notice Root of the word tree of `data`. Hashes about one 64-byte preimage per word
    ///         (each level in place over a copy of the data in memory, siblings adjacent) plus
    ///         two per level.
    function root(bytes calldata data) internal pure returns (bytes32 result) {
        uint256 words = (data.length + 31) / 32;
        if (words > (1 << DEPTH)) revert DataTooLong(data.length);
        assembly ("memory-safe") {
            // Level 0: the words, zero-padded, at `base`; level h + 1 is written over level h.
            let base := mload(0x40)
            calldatacopy(base, data.offset, data.length)
            let end := add(base, mul(words, 32))
            // Zero the padding of the last word (memory past the free pointer may be dirty).
            let tail := add(base, data.length)
            if lt(tail, end) { mstore(tail, 0) }
            mstore(0x40, add(end, 32))
            let zero := 0 // the root of an all-zero subtree of the current height
            let count := words
            for { let h := 0 } lt(h, DEPTH) { h := add(h, 1) } {
                // Siblings are adjacent in memory: hash each pair in place; an odd last node
                // pairs with the zero subtree.
                let src := base
                let out := base
                for { let pairsEnd := add(base, shl(6, shr(1, count))) } lt(src, pairsEnd) {
                    src := add(src, 64)
                    out := add(out, 32)
                } { mstore(out, keccak256(src, 64)) }
                if and(count, 1) {
                    mstore(0x00, mload(src))
                    mstore(0x20, zero)
                    mstore(out, keccak256(0x00, 0x40))
                }
                count := shr(1, add(count, 1))
                mstore(0x00, zero)
                mstore(0x20, zero)
                zero := keccak256(0x00, 0x40)
            }
            result := zero
            if count { result := mload(base) }
        }
    }
}
