// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {UserTx} from "./UserTx.sol";

/// @title Derivation
/// @notice The derivation rule as an EVM program, which the fraud-proof step machine proves
///         opcode by opcode like any contract (`docs/design.md`, *Provable derivation*). The
///         Rust rule in `fraud_vm::batch` is the reference; this program mirrors it and is
///         tested differentially against it (`fraud-vm/tests/derivation_program.rs`).
/// @dev Pure: it reads only its call data and `ecrecover`.
contract Derivation {
    /// @notice The transaction section of a block record is malformed (the batch is undecodable).
    error Malformed(uint256 offset);

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
    ///         ones are skipped. Reverts with {Malformed} when the section is not exactly that.
    function userTxInputs(bytes calldata txs, uint256 chainId)
        external
        pure
        returns (uint256 count, bytes32 inputsRoot)
    {
        if (txs.length < 4) revert Malformed(0);
        uint256 total = uint32(bytes4(txs[:4]));
        // Each transaction takes at least 5 bytes: refuse a count the data cannot hold before
        // allocating for it.
        if (total > (txs.length - 4) / 5) revert Malformed(0);
        bytes32[] memory leaves = new bytes32[](total);
        uint256 pos = 4;
        for (uint256 i; i < total; i++) {
            if (txs.length < pos + 4) revert Malformed(pos);
            uint256 len = uint32(bytes4(txs[pos:pos + 4]));
            pos += 4;
            if (len == 0 || txs.length < pos + len) revert Malformed(pos);
            (bool valid, UserTx.TxInput memory input) = UserTx.decode(txs[pos:pos + len], chainId);
            if (valid) leaves[count++] = UserTx.hash(input);
            pos += len;
        }
        if (pos != txs.length) revert Malformed(pos);
        inputsRoot = root(leaves, count);
    }

    /// @notice `fraud_vm::vm::input::root`: the binary keccak tree of depth
    ///         `ceil(log2(max(count, 1)))` over the first `count` leaves, absent leaves zero
    ///         (an odd node pairs with the all-zero subtree of its height); zero for no leaf.
    function root(bytes32[] memory leaves, uint256 count) internal pure returns (bytes32) {
        if (count == 0) return 0;
        bytes32 zero;
        while (count > 1) {
            uint256 half = (count + 1) / 2;
            for (uint256 i; i < half; i++) {
                bytes32 right = 2 * i + 1 < count ? leaves[2 * i + 1] : zero;
                leaves[i] = keccak256(abi.encodePacked(leaves[2 * i], right));
            }
            zero = keccak256(abi.encodePacked(zero, zero));
            count = half;
        }
        return leaves[0];
    }
}
