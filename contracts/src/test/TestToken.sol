// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken
/// @notice Freely mintable ERC20 used by the rollup's tests and benchmarks.
/// @dev Test-only: anyone may call {mint}. Never deploy this anywhere that matters.
contract TestToken is ERC20 {
    /// @notice Creates the token and mints `initialSupply` to the deployer.
    /// @param name_ The token name.
    /// @param symbol_ The token symbol.
    /// @param initialSupply Amount (in base units, 18 decimals) minted to `msg.sender`.
    constructor(string memory name_, string memory symbol_, uint256 initialSupply) ERC20(name_, symbol_) {
        _mint(msg.sender, initialSupply);
    }

    /// @notice Mints `amount` new tokens to `to`. Callable by anyone.
    /// @dev Reverts with {ERC20InvalidReceiver} if `to` is the zero address.
    /// @param to The account receiving the tokens.
    /// @param amount Amount of tokens (in base units) to mint.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
