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
contract DerivationProgram {
    /// @notice The opened batch's data is not as long as its commitment says, or a commitment
    ///         names an L1 block number, timestamp or count of `2^64` or more (the open step and
    ///         the Inbox make neither happen).
    error WrongBatch();

    /// @notice Derives one block from the batch in the call data (contract docs); returns
    ///         `abi.encode(Handoff.Fields)`.
    fallback(bytes calldata batch) external returns (bytes memory) {
        (bytes32 parentHash, bytes32 cursorHash) = DerivationOracle.context();
        Cursor.Fields memory cursor = Cursor.decode(DerivationOracle.preimage(cursorHash));
        BatchCommitment.Fields memory commitment = commitmentAfter(uint256(cursor.batchIndex) + 1);
        if (commitment.dataLength != batch.length) revert WrongBatch();
        Header.Fields memory parent = Header.decodeMemory(DerivationOracle.preimage(parentHash));
        if (commitment.forced) return abi.encode(forcedBlock(parent, cursor, commitment));

        BatchRecord.Context memory ctx = context(parent, cursor, commitment);
        (BatchRecord.Record memory record, uint256 txsAt) = BatchRecord.read(batch, ctx);
        if (record.status != BatchRecord.DERIVED) return abi.encode(Handoff.noBlock(cursor));
        // A block without an L1 origin has no L1 input, reads no delayed message and moves no
        // origin (`batch::derive_block` with no origin).
        L1Inputs.Inputs memory l1 = L1Inputs.Inputs(new bytes32[](0), 0, cursor.delayedRead);
        if (record.hasOrigin) {
            bool onL1;
            (onL1, l1) = l1Inputs(parent, cursor, commitment, record);
            // `InvalidBatch::OriginNotOnL1` or `OriginAfterBlock`: the record and the rest of
            // its batch derive nothing.
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

    /// @notice What the forced batch `commitment` derives on `parent` (`batch::forced_block`,
    ///         *Forced inclusion*): nothing when the cursor has consumed the messages it forces,
    ///         else the forced block, whose origin is L1's block before the forced batch's (the
    ///         commitment's `l1ParentHash`: no header walk) and which consumes every forced
    ///         message (all were queued before the forced batch's L1 block and fit in its gas
    ///         limit: `Inbox.forceInclusion`).
    function forcedBlock(
        Header.Fields memory parent,
        Cursor.Fields memory cursor,
        BatchCommitment.Fields memory commitment
    ) private view returns (Handoff.Fields memory) {
        uint64 forcing = toU64(commitment.afterDelayedMessagesRead);
        // No block follows block `2^64 − 1` (`InvalidBatch::Overlap`, as for any batch).
        if (cursor.delayedRead >= forcing || parent.number >= type(uint64).max) return Handoff.noBlock(cursor);
        // The Inbox appends no batch in L1 block 0.
        uint64 originNumber = toU64(commitment.l1BlockNumber) - 1;
        (, DepositInput.L1BlockInfo memory origin) =
            L1Inputs.origin(commitment.l1ParentHash, commitment.l1BlockNumber, originNumber, commitment.l1ParentHash);
        BatchRecord.Record memory record = BatchRecord.forced(
            uint64(parent.timestamp), originNumber, commitment.l1ParentHash, origin.timestamp, forcing
        );
        L1Inputs.Inputs memory l1 =
            L1Inputs.deposits(origin, parent.number + 1, cursor.delayedRead, forcing, record.gasLimit);
        Cursor.Fields memory next = Cursor.afterBlock(cursor, 0, l1.delayedRead);
        (next.hasOrigin, next.originNumber, next.originHash) = (true, originNumber, commitment.l1ParentHash);
        return Handoff.blockStart(parent, next, record, l1.count, BatchRecord.root(l1.leaves, l1.count));
    }

    /// @notice The L1 inputs of the block `record` (which has an origin) derives on `parent`:
    ///         whether its origin is on L1 and not after the block (its stamped timestamp is not
    ///         before the origin's), and if so its L1-info deposit and deposits
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
        if (!onL1 || record.timestamp < origin.timestamp) return (false, l1);
        l1 = L1Inputs.deposits(
            origin, parent.number + 1, cursor.delayedRead, target(record, commitment), record.gasLimit
        );
    }

    /// @notice The commitment of the batch after which the Inbox's batch accumulator is
    ///         `batchAcc(n)` (batch `n − 1`).
    function commitmentAfter(uint256 n) private view returns (BatchCommitment.Fields memory) {
        return BatchCommitment.decode(DerivationOracle.preimage(DerivationOracle.batchAcc(n)));
    }

    /// @notice `batch::deposit_target(record.delayedRead, afterDelayedMessagesRead)` of the
    ///         opened batch's `commitment`: the smaller.
    function target(BatchRecord.Record memory record, BatchCommitment.Fields memory commitment)
        private
        pure
        returns (uint64)
    {
        uint256 after_ = commitment.afterDelayedMessagesRead;
        return record.delayedRead < after_ ? record.delayedRead : toU64(after_);
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
