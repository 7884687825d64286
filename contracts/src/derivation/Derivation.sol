// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {BaseFee} from "./BaseFee.sol";
import {BatchRecord} from "./BatchRecord.sol";
import {DepositInput} from "./DepositInput.sol";
import {Header} from "./Header.sol";
import {UserTx} from "./UserTx.sol";

/// @title Derivation
/// @notice The derivation rule as an EVM program, which the fraud-proof step machine proves
///         opcode by opcode like any contract (`docs/design.md`, *Provable derivation*). The
///         Rust rule in `fraud_vm::batch` is the reference; this program mirrors it and is
///         tested differentially against it (`fraud-vm/tests/derivation_program.rs`,
///         `fraud-vm/tests/derivation_batch.rs`, `fraud-vm/tests/derivation_inputs.rs`).
/// @dev Pure: it reads only its call data and `ecrecover`.
contract Derivation {
    /// @notice One batch transaction's input item (`UserTx.decode`); zero when invalid.
    function userTxInput(bytes calldata raw, uint256 chainId)
        external
        pure
        returns (bool valid, bytes32 inputHash, UserTx.TxInput memory input)
    {
        UserTx.TxInput memory decoded;
        (valid, decoded) = UserTx.decode(raw, chainId);
        if (valid) (inputHash, input) = (UserTx.hash(decoded), decoded);
    }

    /// @notice The valid transactions of a block record's transaction section
    ///         (`txCount u32`, then `txCount` times `txLen u32 >= 1` and `txLen` bytes): their
    ///         number and `fraud_vm::vm::input::root` over their input items, in order; invalid
    ///         ones are skipped (`BatchRecord.txInputs`). Reverts with {BatchRecord.Malformed}
    ///         when the section is not exactly that.
    function userTxInputs(bytes calldata txs, uint256 chainId)
        external
        pure
        returns (uint256 count, bytes32 inputsRoot)
    {
        uint256 end;
        (count, inputsRoot, end) = BatchRecord.txInputs(txs, 0, chainId);
        if (end != txs.length) revert BatchRecord.Malformed(end);
    }

    /// @notice The block one record of a batch derives, on the head and L1 block `ctx`
    ///         describes (`BatchRecord.derive`): opening the batch (`ctx.position = 0`) decodes
    ///         it whole and checks that it continues the head, then every record is checked by
    ///         `BatchBlock::check`'s rules. A status-0 record's `nextPosition` (unless 0: the
    ///         batch is done) is the next call's position, on the derived block as parent.
    function deriveRecord(bytes calldata batch, BatchRecord.Context memory ctx)
        external
        pure
        returns (BatchRecord.Record memory)
    {
        return BatchRecord.derive(batch, ctx);
    }

    /// @notice An RLP block header's fields, as `alloy_consensus::Header` decodes it
    ///         (`Header.decode`); reverts with {Header.InvalidHeader} when alloy refuses it.
    function decodeHeader(bytes calldata header) external pure returns (Header.Fields memory) {
        return Header.decode(header);
    }

    /// @notice {decodeHeader} of the header copied to memory first (`Header.decodeMemory`, the
    ///         path the program takes for an oracle answer): the same fields, the same refusals.
    function decodeHeaderInMemory(bytes memory header) external pure returns (Header.Fields memory) {
        return Header.decodeMemory(header);
    }

    /// @notice The base fee after a block that used `gasUsed` of `gasLimit` at `baseFee`
    ///         (`BaseFee.next`, alloy's `calc_next_block_base_fee` with the chain's parameters).
    function nextBaseFee(uint64 gasUsed, uint64 gasLimit, uint64 baseFee) external pure returns (uint256) {
        return BaseFee.next(gasUsed, gasLimit, baseFee);
    }

    /// @notice The base fee of the block after the RLP header `parent` (`BaseFee.afterParent`:
    ///         0 when it has none), as `execute::next_header` stamps it.
    function baseFeeAfter(bytes calldata parent) external pure returns (uint256) {
        return BaseFee.afterParent(Header.decode(parent));
    }

    /// @notice The input item of the L1-info deposit opening L2 block `l2BlockNumber` with L1
    ///         origin `origin` (`DepositInput.l1Info`), and its leaf hash.
    function l1InfoDepositInput(DepositInput.L1BlockInfo calldata origin, uint64 l2BlockNumber)
        external
        pure
        returns (bytes32 inputHash, UserTx.TxInput memory input)
    {
        input = DepositInput.l1Info(origin, l2BlockNumber);
        inputHash = UserTx.hash(input);
    }

    /// @notice The input item of the user deposit executing the delayed message `message` with
    ///         data `data` (`DepositInput.user`), its leaf hash, and the message hash.
    function userDepositInput(DepositInput.Message calldata message, bytes calldata data)
        external
        pure
        returns (bytes32 messageHash, bytes32 inputHash, UserTx.TxInput memory input)
    {
        (messageHash, input) = DepositInput.user(message, data);
        inputHash = UserTx.hash(input);
    }
}
