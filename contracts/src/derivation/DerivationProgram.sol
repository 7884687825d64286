// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {BatchCommitment} from "./BatchCommitment.sol";
import {BatchRecord} from "./BatchRecord.sol";
import {Cursor} from "./Cursor.sol";
import {DerivationOracle} from "./DerivationOracle.sol";
import {Handoff} from "./Handoff.sol";
import {Header} from "./Header.sol";

/// @title DerivationProgram
/// @notice The protocol's derivation program: its deployed code is what the step machine runs
///         from the open state of a claim (`fraud_vm::vm::open`), with the opened batch's data
///         as call data, to derive the next block (`docs/design.md`, *Derivation as an EVM
///         program*). It reads the claim's context, the cursor, the batch commitment and the
///         parent header from the derivation oracle, derives the record at the cursor
///         (`BatchRecord.derive`, mirroring `fraud_vm::batch`) and returns `abi.encode` of the
///         hand-off ({Handoff.Fields}): the block's execution start, or the next batch's start
///         when the record derives nothing.
/// @dev Only a fallback: no batch bytes can select another entry by their first four bytes.
///      Not yet derived: a record with an L1 origin (its L1-info deposit, the deposits it
///      consumes, the origin walk); such a record reverts with {NotSupported}: a failed run,
///      which has no hand-off step.
contract DerivationProgram {
    /// @notice The record at the cursor derives a block this program does not build yet (one
    ///         with an L1 origin).
    error NotSupported();

    /// @notice The opened batch's data is not as long as its commitment says, or the commitment
    ///         names an L1 block number or timestamp of `2^64` or more (the open step and the
    ///         Inbox make neither happen).
    error WrongBatch();

    /// @notice Derives one block from the batch in the call data (contract docs); returns
    ///         `abi.encode(Handoff.Fields)`.
    fallback(bytes calldata batch) external returns (bytes memory) {
        (bytes32 parentHash, bytes32 cursorHash) = DerivationOracle.context();
        Cursor.Fields memory cursor = Cursor.decode(DerivationOracle.preimage(cursorHash));
        BatchCommitment.Fields memory commitment =
            BatchCommitment.decode(DerivationOracle.preimage(DerivationOracle.batchAcc(uint256(cursor.batchIndex) + 1)));
        if (commitment.dataLength != batch.length) revert WrongBatch();
        Header.Fields memory parent = Header.decodeMemory(DerivationOracle.preimage(parentHash));

        BatchRecord.Record memory record = BatchRecord.derive(batch, context(parent, cursor, commitment));
        if (record.status != BatchRecord.DERIVED) return abi.encode(Handoff.noBlock(cursor));
        if (record.hasOrigin) revert NotSupported();
        return abi.encode(Handoff.blockStart(parent, cursor, record));
    }

    /// @notice What `BatchRecord.derive` needs: the parent (the claim's block), the chain, the
    ///         cursor's position and newest origin, the L1 block that appended the batch.
    function context(Header.Fields memory parent, Cursor.Fields memory cursor, BatchCommitment.Fields memory commitment)
        private
        view
        returns (BatchRecord.Context memory)
    {
        return BatchRecord.Context({
            parentNumber: uint64(parent.number),
            parentHash: parent.hash,
            parentTimestamp: uint64(parent.timestamp),
            chainId: uint64(block.chainid),
            position: cursor.position,
            hasOrigin: cursor.hasOrigin,
            originNumber: cursor.originNumber,
            originHash: cursor.originHash,
            l1BlockNumber: toU64(commitment.l1BlockNumber),
            l1Timestamp: toU64(commitment.l1Timestamp)
        });
    }

    /// @notice `v` as a `uint64` (an L1 block's number and timestamp are), reverting beyond.
    function toU64(uint256 v) private pure returns (uint64) {
        if (v > type(uint64).max) revert WrongBatch();
        return uint64(v);
    }
}
