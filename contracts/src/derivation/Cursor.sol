// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title Cursor
/// @notice Where derivation continues after a block (`fraud_vm::inbox::Cursor`): the claim on a
///         block commits its hash, and the derivation program reads it back from the oracle as
///         `abi.encode(Fields)`.
library Cursor {
    /// @notice `fraud_vm::inbox::Cursor`, field for field.
    struct Fields {
        /// Index of the Inbox batch the next block is read from.
        uint64 batchIndex;
        /// Byte offset of the next block record in that batch's data; 0 when the batch has not
        /// been opened.
        uint64 position;
        /// Delayed messages (deposits) consumed up to and including the block.
        uint64 delayedRead;
        /// Whether a block at or below this one had an L1 origin, the newest one's number and
        /// hash (zeros without one).
        bool hasOrigin;
        uint64 originNumber;
        bytes32 originHash;
    }

    /// @notice Bytes of `abi.encode(Fields)`.
    uint256 internal constant ENCODED_LEN = 6 * 32;

    /// @notice The bytes are not the canonical encoding of a cursor.
    error InvalidCursor();

    /// @notice `Cursor::hash`: `keccak256(abi.encode(c))`, the word a claim commits.
    function hash(Fields memory c) internal pure returns (bytes32) {
        return keccak256(abi.encode(c));
    }

    /// @notice The cursor `raw` encodes; reverts with {InvalidCursor} unless `raw` is exactly
    ///         its canonical encoding (six words, each in its type's range).
    function decode(bytes memory raw) internal pure returns (Fields memory c) {
        if (raw.length != ENCODED_LEN) revert InvalidCursor();
        // `abi.decode` reverts on a word out of its type's range.
        c = abi.decode(raw, (Fields));
    }

    /// @notice `Cursor::after(c.batchIndex, nextPosition, delayedRead, c.origin())`: the cursor
    ///         after a block read from `c`'s batch whose next record is at `nextPosition` (0: the
    ///         batch is done, the next block is read from the next batch), with `delayedRead`
    ///         messages consumed, and `c`'s newest origin kept (the block has none).
    function afterBlock(Fields memory c, uint64 nextPosition, uint64 delayedRead)
        internal
        pure
        returns (Fields memory next)
    {
        next = Fields(c.batchIndex, nextPosition, delayedRead, c.hasOrigin, c.originNumber, c.originHash);
        if (nextPosition == 0) next.batchIndex = saturatingNext(c.batchIndex);
    }

    /// @notice The start of the batch after `c`'s (`batchIndex + 1`, position 0, the rest
    ///         kept): where derivation goes on when the rest of `c`'s batch derives nothing (the
    ///         hand-off's `next_batch`).
    function nextBatch(Fields memory c) internal pure returns (Fields memory next) {
        next = Fields(saturatingNext(c.batchIndex), 0, c.delayedRead, c.hasOrigin, c.originNumber, c.originHash);
    }

    /// @notice `i + 1`, saturating at `2^64 − 1` as the Rust's `saturating_add` (the Inbox holds
    ///         fewer than `2^64` batches: it never saturates in practice).
    function saturatingNext(uint64 i) private pure returns (uint64) {
        return i == type(uint64).max ? i : i + 1;
    }
}
