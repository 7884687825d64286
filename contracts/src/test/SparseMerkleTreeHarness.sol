// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {SparseMerkleTree} from "../lib/SparseMerkleTree.sol";

/// @title SparseMerkleTreeHarness
/// @notice Test-only: exposes {SparseMerkleTree} externally and measures its gas.
contract SparseMerkleTreeHarness {
    /// @notice {SparseMerkleTree.verify}.
    function verify(bytes32 root, bytes32 key, bytes calldata proof) external pure returns (bool, bytes32) {
        return SparseMerkleTree.verify(root, key, proof);
    }

    /// @notice {SparseMerkleTree.rootWith}.
    function rootWith(bytes32 key, bytes calldata proof, bool present, bytes32 newValue)
        external
        pure
        returns (bytes32)
    {
        return SparseMerkleTree.rootWith(key, proof, present, newValue);
    }

    /// @notice {SparseMerkleTree.verifyAndUpdate}.
    function verifyAndUpdate(bytes32 root, bytes32 key, bytes calldata proof, bool present, bytes32 newValue)
        external
        pure
        returns (bool, bytes32, bytes32)
    {
        return SparseMerkleTree.verifyAndUpdate(root, key, proof, present, newValue);
    }

    /// @notice {SparseMerkleTree.verify} with the gas it used (proof already in memory).
    function verifyGas(bytes32 root, bytes32 key, bytes memory proof)
        external
        view
        returns (bool present, bytes32 value, uint256 gasUsed)
    {
        uint256 before = gasleft();
        (present, value) = SparseMerkleTree.verify(root, key, proof);
        gasUsed = before - gasleft();
    }
}
