// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {MintableERC20} from "./MintableERC20.sol";
import {L2ToL1MessagePasser} from "./L2ToL1MessagePasser.sol";

/// @notice The L1 bridge's withdrawal entry point, as called by {L2StandardBridge} withdrawals.
interface IL1StandardBridge {
    /// @notice Releases `amount` of `l1Token` to `to`.
    function finalizeERC20Withdrawal(address l1Token, address from, address to, uint256 amount) external;
}

/// @title L2StandardBridge
/// @notice L2 predeploy at `0x4200000000000000000000000000000000000010`: mints bridged tokens
///         on deposits from the L1 `L1StandardBridge` and burns them on withdrawals.
///         Storage set by the genesis: slot 0 = `otherBridge` (the L1StandardBridge address).
/// @dev No constructor or immutables: the runtime code is placed in the L2 genesis.
contract L2StandardBridge {
    /// @notice Only the (aliased) L1 bridge may finalize deposits.
    error NotOtherBridge();
    /// @notice The token is not a MintableERC20 deployed by this bridge.
    error UnknownToken(address l2Token);
    /// @notice Zero amounts are not bridged.
    error ZeroAmount();

    /// @notice A deposit minted `amount` of `l2Token` to `to`.
    event DepositFinalized(
        address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount
    );
    /// @notice A withdrawal burned `amount` of `l2Token` (zero addresses for ETH) for `to` on L1.
    event WithdrawalInitiated(
        address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount
    );

    /// @notice The message passer predeploy.
    L2ToL1MessagePasser public constant MESSAGE_PASSER =
        L2ToL1MessagePasser(payable(0x4200000000000000000000000000000000000016));
    /// @notice Offset of L1 contract addresses aliased on L2.
    uint160 public constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);
    /// @notice L1 gas added to a withdrawal's `minGasLimit` (token release on L1).
    uint256 public constant WITHDRAWAL_GAS_OVERHEAD = 150_000;

    /// @notice The L1StandardBridge (storage slot 0, set by the genesis).
    address public otherBridge;

    /// @notice Mints `amount` of the twin of `l1Token` to `to`, deploying the twin on first use.
    ///         Only callable by the aliased L1 bridge (a Portal deposit).
    function finalizeDeposit(
        address l1Token,
        address from,
        address to,
        uint256 amount,
        string calldata name,
        string calldata symbol,
        uint8 decimals
    ) external {
        address aliased;
        unchecked {
            aliased = address(uint160(otherBridge) + ALIAS_OFFSET);
        }
        if (msg.sender != aliased) revert NotOtherBridge();
        address l2Token = l2TokenFor(l1Token);
        if (l2Token.code.length == 0) {
            MintableERC20 token = new MintableERC20{salt: _salt(l1Token)}(l1Token);
            token.initialize(name, symbol, decimals);
        }
        MintableERC20(l2Token).mint(to, amount);
        emit DepositFinalized(l1Token, l2Token, from, to, amount);
    }

    /// @notice The L2 twin of `l1Token` (deployed or not).
    function l2TokenFor(address l1Token) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(MintableERC20).creationCode, abi.encode(l1Token)));
        return address(
            uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), _salt(l1Token), initCodeHash))))
        );
    }

    /// @notice Burns `amount` of `l2Token` and withdraws the L1 token to the caller.
    function withdraw(address l2Token, uint256 amount, uint32 minGasLimit) external {
        _withdraw(l2Token, msg.sender, amount, minGasLimit);
    }

    /// @notice Burns `amount` of `l2Token` and withdraws the L1 token to `to`.
    function withdrawTo(address l2Token, address to, uint256 amount, uint32 minGasLimit) external {
        _withdraw(l2Token, to, amount, minGasLimit);
    }

    /// @notice Withdraws `msg.value` wei to `to` on L1 (L1 gas limit `minGasLimit`).
    function withdrawETH(address to, uint32 minGasLimit) external payable {
        if (msg.value == 0) revert ZeroAmount();
        MESSAGE_PASSER.initiateWithdrawal{value: msg.value}(to, minGasLimit, "");
        emit WithdrawalInitiated(address(0), address(0), msg.sender, to, msg.value);
    }

    function _withdraw(address l2Token, address to, uint256 amount, uint32 minGasLimit) private {
        if (amount == 0) revert ZeroAmount();
        if (l2Token.code.length == 0) revert UnknownToken(l2Token);
        address l1Token = MintableERC20(l2Token).remoteToken();
        if (l2TokenFor(l1Token) != l2Token) revert UnknownToken(l2Token);
        MintableERC20(l2Token).burn(msg.sender, amount);
        bytes memory message =
            abi.encodeCall(IL1StandardBridge.finalizeERC20Withdrawal, (l1Token, msg.sender, to, amount));
        MESSAGE_PASSER.initiateWithdrawal(otherBridge, WITHDRAWAL_GAS_OVERHEAD + minGasLimit, message);
        emit WithdrawalInitiated(l1Token, l2Token, msg.sender, to, amount);
    }

    function _salt(address l1Token) private pure returns (bytes32) {
        return bytes32(uint256(uint160(l1Token)));
    }
}
