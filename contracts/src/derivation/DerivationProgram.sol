// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {BatchCommitment} from "./BatchCommitment.sol";
import {BatchRecord} from "./BatchRecord.sol";
import {Cursor} from "./Cursor.sol";
import {DepositInput} from "./DepositInput.sol";
import {DerivationOracle} from "./DerivationOracle.sol";
import {Handoff} from "./Handoff.sol";
import {Header} from "./Header.sol";
import {L1Inputs} from "./L1Inputs.sol";

/// @title DerivationProgram
/// @notice The protocol's derivation program: its deployed code is what the step machine runs
///         from the open state of a claim (`fraud_vm::vm::open`), with the opened batch's data
///         as call data, to derive the next block (`docs/design.md`, *Derivation as an EVM
///         program*). It reads the claim's context, the cursor, the batch commitment and the
///         parent header from the derivation oracle, reads and checks the record at the cursor
///         (`BatchRecord.read`, mirroring `fraud_vm::batch`), and for a record with an L1
///         origin proves the origin on L1 and reads the block's L1 inputs ({L1Inputs}); it
///         returns `abi.encode` of the hand-off ({Handoff.Fields}): the block's execution
///         start, or the next batch's start when the record derives nothing.
/// @dev Only a fallback: no batch bytes can select another entry by their first four bytes.
///      Not yet derived: forced inclusion's `forcedRead` (`fraud_vm::batch`, *Forced
///      inclusion*). It never exceeds the previous batch's `afterDelayedMessagesRead` (the
///      Inbox's count only grows), so a record whose `delayedRead` reaches that count derives
///      exactly; one below it (only around a forced batch) reverts with {NotSupported}: a
///      failed run, which has no hand-off step.
contract DerivationProgram {
    /// @notice The record's deposit target could depend on a forced batch, which this program
    ///         does not scan yet (contract docs).
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
        BatchCommitment.Fields memory commitment = commitmentAfter(uint256(cursor.batchIndex) + 1);
        if (commitment.dataLength != batch.length) revert WrongBatch();
        Header.Fields memory parent = Header.decodeMemory(DerivationOracle.preimage(parentHash));

        BatchRecord.Context memory ctx = context(parent, cursor, commitment);
        (BatchRecord.Record memory record, uint256 txsAt) = BatchRecord.read(batch, ctx);
        if (record.status != BatchRecord.DERIVED) return abi.encode(Handoff.noBlock(cursor));
        // A block without an L1 origin has no L1 input, reads no delayed message and moves no
        // origin (`batch::derive_block` with no origin).
        L1Inputs.Inputs memory l1 = L1Inputs.Inputs(new bytes32[](0), 0, cursor.delayedRead);
        if (record.hasOrigin) {
            bool onL1;
            (onL1, l1) = l1Inputs(parent, cursor, commitment, record);
            // `InvalidBatch::OriginNotOnL1`: the record and the rest of its batch derive
            // nothing.
            if (!onL1) return abi.encode(Handoff.noBlock(cursor));
        }
        (uint256 inputCount, bytes32 inputsRoot) =
            BatchRecord.addInputs(batch, record, txsAt, l1.leaves, l1.count, ctx.chainId);
        Cursor.Fields memory next = Cursor.afterBlock(cursor, record.nextPosition, l1.delayedRead);
        if (record.hasOrigin) {
            (next.hasOrigin, next.originNumber, next.originHash) = (true, record.originNumber, record.originHash);
        }
        return abi.encode(Handoff.blockStart(parent, next, record, inputCount, inputsRoot));
    }

    /// @notice The L1 inputs of the block `record` (which has an origin) derives on `parent`:
    ///         whether its origin is on L1, and if so its L1-info deposit and deposits
    ///         ({L1Inputs.deposits}, up to {target}).
    function l1Inputs(
        Header.Fields memory parent,
        Cursor.Fields memory cursor,
        BatchCommitment.Fields memory commitment,
        BatchRecord.Record memory record
    ) private view returns (bool onL1, L1Inputs.Inputs memory l1) {
        DepositInput.L1BlockInfo memory origin;
        (onL1, origin) =
            L1Inputs.origin(commitment.l1ParentHash, commitment.l1BlockNumber, record.originNumber, record.originHash);
        if (!onL1) return (false, l1);
        l1 = L1Inputs.deposits(
            origin, parent.number + 1, cursor.delayedRead, target(cursor, record, commitment), record.gasLimit
        );
    }

    /// @notice The commitment of the batch after which the Inbox's batch accumulator is
    ///         `batchAcc(n)` (batch `n − 1`).
    function commitmentAfter(uint256 n) private view returns (BatchCommitment.Fields memory) {
        return BatchCommitment.decode(DerivationOracle.preimage(DerivationOracle.batchAcc(n)));
    }

    /// @notice `batch::deposit_target(record.delayedRead, forcedRead, afterDelayedMessagesRead)`
    ///         where `forcedRead` is known to be at most `record.delayedRead`: it is at most the
    ///         previous batch's `afterDelayedMessagesRead`, and a record below that reverts with
    ///         {NotSupported} (contract docs).
    function target(
        Cursor.Fields memory cursor,
        BatchRecord.Record memory record,
        BatchCommitment.Fields memory commitment
    ) private view returns (uint64) {
        if (cursor.batchIndex != 0) {
            uint256 previous = commitmentAfter(cursor.batchIndex).afterDelayedMessagesRead;
            if (record.delayedRead < previous) revert NotSupported();
        }
        uint256 after_ = commitment.afterDelayedMessagesRead;
        return record.delayedRead < after_ ? record.delayedRead : uint64(after_);
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
