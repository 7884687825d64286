// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Portal} from "../L1/Portal.sol";

/// @title PortalCaller
/// @notice Test-only: a contract that deposits through the Portal (its L2 sender is aliased).
contract PortalCaller {
    /// @notice Forwards `msg.value` to {Portal.depositTransaction}.
    function deposit(Portal portal, address to, uint256 value, uint64 gasLimit, bytes calldata data)
        external
        payable
    {
        portal.depositTransaction{value: msg.value}(to, value, gasLimit, false, data);
    }
}
