// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title L2ToL1MessagePasser
/// @notice L2 predeploy at `0x4200000000000000000000000000000000000016`: records withdrawals so
///         the L1 Portal can prove them against an output's state root. Storage (set by nothing
///         but this contract; genesis leaves it empty):
///         - slot 0: `sentMessages` (`mapping(bytes32 => bool)`), so withdrawal `hash` lives at
///           `keccak256(abi.encode(hash, uint256(0)))` with value 1;
///         - slot 1: `messageNonce`.
///         Withdrawn ETH stays locked here (burned from the L2's point of view).
/// @dev No constructor or immutables: the runtime code is placed in the L2 genesis.
contract L2ToL1MessagePasser {
    /// @notice Withdrawals sent, by `fraud_vm::message::Withdrawal::hash`.
    mapping(bytes32 => bool) public sentMessages;
    /// @notice Nonce of the next withdrawal.
    uint256 public messageNonce;

    /// @notice A withdrawal was initiated.
    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// @notice Sending ETH withdraws it to the sender's address on L1 (gas limit 100k).
    receive() external payable {
        initiateWithdrawal(msg.sender, 100_000, "");
    }

    /// @notice Sends a message to L1: once proven and finalized, the Portal calls `target` with
    ///         `msg.value` wei, calldata `data` and at least `gasLimit` gas, with `l2Sender() ==
    ///         msg.sender`.
    function initiateWithdrawal(address target, uint256 gasLimit, bytes memory data) public payable {
        uint256 nonce = messageNonce;
        bytes32 withdrawalHash = keccak256(abi.encode(nonce, msg.sender, target, msg.value, gasLimit, data));
        sentMessages[withdrawalHash] = true;
        messageNonce = nonce + 1;
        emit MessagePassed(nonce, msg.sender, target, msg.value, gasLimit, data, withdrawalHash);
    }
}
