// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Portal} from "../L1/Portal.sol";

/// @title WithdrawalTarget
/// @notice Test-only: the L1 target of withdrawals; records what the Portal's call looked like.
contract WithdrawalTarget {
    /// @notice `Portal.l2Sender()` during the last call.
    address public lastL2Sender;
    /// @notice Wei received by the last call.
    uint256 public lastValue;
    /// @notice Calldata of the last call.
    bytes public lastData;
    /// @notice Gas available at the start of the last call.
    uint256 public lastGas;
    /// @notice Makes every call revert.
    bool public failing;

    /// @notice Toggles {failing}.
    function setFailing(bool failing_) external {
        failing = failing_;
    }

    receive() external payable {
        _record(gasleft());
    }

    fallback() external payable {
        _record(gasleft());
    }

    function _record(uint256 g) private {
        require(!failing, "failing");
        lastGas = g;
        lastL2Sender = Portal(payable(msg.sender)).l2Sender();
        lastValue = msg.value;
        lastData = msg.data;
    }
}
