// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title BatchCommitment
/// @notice What the Inbox's batch accumulator commits for one batch
///         (`fraud_vm::inbox::BatchCommitment`): `batchAcc[n + 1] = keccak256(abi.encode(Fields))`.
///         The derivation program reads it back from the oracle as the preimage of `batchAcc`.
library BatchCommitment {
    /// @notice `fraud_vm::inbox::BatchCommitment`, field for field.
    struct Fields {
        bytes32 prevAcc;
        /// The batch data's word-tree root and length.
        bytes32 dataRoot;
        uint256 dataLength;
        uint256 afterDelayedMessagesRead;
        bytes32 delayedAcc;
        /// The L1 block that appended the batch.
        uint256 l1BlockNumber;
        uint256 l1Timestamp;
        bytes32 l1ParentHash;
        bool forced;
    }

    /// @notice Bytes of `abi.encode(Fields)`.
    uint256 internal constant ENCODED_LEN = 9 * 32;

    /// @notice The bytes are not the canonical encoding of a batch commitment.
    error InvalidCommitment();

    /// @notice The commitment `raw` encodes; reverts with {InvalidCommitment} unless `raw` is
    ///         exactly its canonical encoding (nine words, `forced` a bool).
    function decode(bytes memory raw) internal pure returns (Fields memory c) {
        if (raw.length != ENCODED_LEN) revert InvalidCommitment();
        // `abi.decode` reverts on a `forced` word other than 0 or 1.
        c = abi.decode(raw, (Fields));
    }
}
