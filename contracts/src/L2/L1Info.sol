// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title L1Info
/// @notice L2 predeploy at `0x4200000000000000000000000000000000000015`: the L1 block the L2 last
///         derived from, written by the first (system) deposit of every L2 block, sent by
///         `SYSTEM_DEPOSITOR`. Storage: slot 0 = `number` (uint64, low bytes) and `timestamp`
///         (uint64, next 8 bytes); slot 1 = `basefee`; slot 2 = `hash`.
/// @dev No constructor or immutables: the runtime code is placed in the L2 genesis.
contract L1Info {
    /// @notice Only the system depositor may update the L1 info.
    error NotSystemDepositor();

    /// @notice The sender of the L1-info deposit.
    address public constant SYSTEM_DEPOSITOR = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    /// @notice L1 block number.
    uint64 public number;
    /// @notice L1 block timestamp.
    uint64 public timestamp;
    /// @notice L1 base fee.
    uint256 public basefee;
    /// @notice L1 block hash.
    bytes32 public hash;

    /// @notice Records the L1 block (only {SYSTEM_DEPOSITOR}).
    function setL1Info(uint64 number_, uint64 timestamp_, uint256 basefee_, bytes32 hash_) external {
        if (msg.sender != SYSTEM_DEPOSITOR) revert NotSystemDepositor();
        number = number_;
        timestamp = timestamp_;
        basefee = basefee_;
        hash = hash_;
    }
}
