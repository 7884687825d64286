// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MintableERC20
/// @notice The L2 twin of a bridged L1 token. Deployed by the L2 bridge with CREATE2
///         (salt = the L1 token address, constructor argument = the L1 token address), so its
///         address depends only on the L1 token; metadata is set once by the bridge right after.
///         Only the bridge mints and burns.
contract MintableERC20 is ERC20 {
    /// @notice Only the bridge may call this.
    error NotBridge();
    /// @notice Metadata was already set.
    error AlreadyInitialized();

    /// @notice The bridge that deployed this token.
    address public immutable bridge;
    /// @notice The L1 token this one represents.
    address public immutable remoteToken;

    string private _tokenName;
    string private _tokenSymbol;
    uint8 private _tokenDecimals;
    bool private _initialized;

    constructor(address remoteToken_) ERC20("", "") {
        bridge = msg.sender;
        remoteToken = remoteToken_;
    }

    modifier onlyBridge() {
        if (msg.sender != bridge) revert NotBridge();
        _;
    }

    /// @notice Sets name, symbol and decimals (the bridge, once).
    function initialize(string calldata name_, string calldata symbol_, uint8 decimals_) external onlyBridge {
        if (_initialized) revert AlreadyInitialized();
        _initialized = true;
        _tokenName = name_;
        _tokenSymbol = symbol_;
        _tokenDecimals = decimals_;
    }

    /// @notice Mints `amount` to `to` (the bridge only).
    function mint(address to, uint256 amount) external onlyBridge {
        _mint(to, amount);
    }

    /// @notice Burns `amount` from `from` (the bridge only; no allowance needed).
    function burn(address from, uint256 amount) external onlyBridge {
        _burn(from, amount);
    }

    /// @inheritdoc ERC20
    function name() public view override returns (string memory) {
        return _tokenName;
    }

    /// @inheritdoc ERC20
    function symbol() public view override returns (string memory) {
        return _tokenSymbol;
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _tokenDecimals;
    }
}
