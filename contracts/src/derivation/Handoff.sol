// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {BaseFee} from "./BaseFee.sol";
import {BatchRecord} from "./BatchRecord.sol";
import {Cursor} from "./Cursor.sol";
import {Header} from "./Header.sol";

/// @title Handoff
/// @notice The derivation program's output (`fraud_vm::vm::handoff::Handoff`), which the
///         hand-off step reads when the program's frame ends: the execution start of the block
///         the run derives ({BLOCK}), or where derivation goes on when it derives none
///         ({NO_BLOCK}). The program returns `abi.encode(Fields)`, ten words.
library Handoff {
    /// @notice `fraud_vm::vm::handoff::Handoff`, word for word.
    struct Fields {
        /// {BLOCK} or {NO_BLOCK}.
        uint256 kind;
        /// The hash of the cursor after the block ({BLOCK}), or of the cursor to reopen the
        /// claim at ({NO_BLOCK}).
        bytes32 cursor;
        /// The block's header attributes ({BLOCK}; zero otherwise).
        uint256 number;
        uint256 timestamp;
        uint256 gasLimit;
        uint256 baseFee;
        bytes32 prevrandao;
        bytes32 extraDataHash;
        /// Its input list: the number of inputs and their tree's root.
        uint256 inputCount;
        bytes32 inputsRoot;
    }

    /// @notice {Fields.kind} of a block (`handoff::BLOCK`).
    uint256 internal constant BLOCK = 0;
    /// @notice {Fields.kind} of "no block from here" (`handoff::NO_BLOCK`).
    uint256 internal constant NO_BLOCK = 1;

    /// @notice The execution start of the block `record` derives on `parent`, with `next` the
    ///         cursor after it and its input list of `inputCount` items with root `inputsRoot`:
    ///         number `parent + 1`, the record's stamped timestamp, gas limit, prevrandao and
    ///         extra data, the base fee after the parent (`BaseFee.afterParent`).
    /// @dev `record` passed `BatchBlock::check`, so `parent.number < 2^64 − 1`.
    function blockStart(
        Header.Fields memory parent,
        Cursor.Fields memory next,
        BatchRecord.Record memory record,
        uint256 inputCount,
        bytes32 inputsRoot
    ) internal pure returns (Fields memory out) {
        out.kind = BLOCK;
        out.cursor = Cursor.hash(next);
        out.number = parent.number + 1;
        out.timestamp = record.timestamp;
        out.gasLimit = record.gasLimit;
        out.baseFee = BaseFee.afterParent(parent);
        out.prevrandao = record.prevrandao;
        out.extraDataHash = record.extraDataHash;
        out.inputCount = inputCount;
        out.inputsRoot = inputsRoot;
    }

    /// @notice No block from `cursor`: the rest of its batch derives nothing, derivation goes
    ///         on at the next batch's start (`Cursor.nextBatch`).
    function noBlock(Cursor.Fields memory cursor) internal pure returns (Fields memory out) {
        out.kind = NO_BLOCK;
        out.cursor = Cursor.hash(Cursor.nextBatch(cursor));
    }
}
