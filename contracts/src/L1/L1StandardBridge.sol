// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {Portal} from "./Portal.sol";

/// @notice The L2 bridge's deposit entry point, as called by {L1StandardBridge} deposits.
interface IL2StandardBridge {
    /// @notice Mints `amount` of the L2 twin of `l1Token` to `to` (deploying it first if needed).
    function finalizeDeposit(
        address l1Token,
        address from,
        address to,
        uint256 amount,
        string calldata name,
        string calldata symbol,
        uint8 decimals
    ) external;
}

/// @title L1StandardBridge
/// @notice Locks ERC20 tokens on L1 and asks the L2 `L2StandardBridge` predeploy (through the
///         {Portal}) to mint their twin; releases them when a withdrawal initiated by the L2
///         bridge is finalized. Also offers ETH deposit conveniences.
contract L1StandardBridge is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Zero amounts are not bridged.
    error ZeroAmount();
    /// @notice Only the Portal, relaying a withdrawal of the L2 bridge, may release tokens.
    error NotFromL2Bridge();
    /// @notice More tokens released than were deposited.
    error InsufficientDeposits(address l1Token, uint256 deposited, uint256 amount);

    /// @notice `amount` of `l1Token` was locked for `to` on L2.
    event ERC20DepositInitiated(address indexed l1Token, address indexed from, address indexed to, uint256 amount);
    /// @notice `amount` wei was deposited for `to` on L2.
    event ETHDepositInitiated(address indexed from, address indexed to, uint256 amount);
    /// @notice `amount` of `l1Token` was released to `to`.
    event ERC20WithdrawalFinalized(address indexed l1Token, address indexed from, address indexed to, uint256 amount);

    /// @notice The L2 bridge predeploy.
    address public constant L2_STANDARD_BRIDGE = 0x4200000000000000000000000000000000000010;
    /// @notice L2 gas added to an ERC20 deposit's `minGasLimit` (covers deploying the L2 token
    ///         on first deposit and minting; measured ~0.8M for short metadata).
    uint64 public constant DEPOSIT_GAS_OVERHEAD = 1_500_000;

    /// @notice The Portal deposits go through.
    Portal public immutable portal;
    /// @notice Tokens locked per L1 token.
    mapping(address => uint256) public deposits;

    constructor(Portal portal_) {
        portal = portal_;
    }

    /// @notice Locks `amount` of `l1Token` (approved beforehand) and mints it to `to` on L2.
    /// @param minGasLimit Extra L2 gas on top of {DEPOSIT_GAS_OVERHEAD}.
    function depositERC20(address l1Token, address to, uint256 amount, uint32 minGasLimit) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        IERC20(l1Token).safeTransferFrom(msg.sender, address(this), amount);
        deposits[l1Token] += amount;
        bytes memory message = abi.encodeCall(
            IL2StandardBridge.finalizeDeposit,
            (l1Token, msg.sender, to, amount, _name(l1Token), _symbol(l1Token), _decimals(l1Token))
        );
        portal.depositTransaction(L2_STANDARD_BRIDGE, 0, DEPOSIT_GAS_OVERHEAD + minGasLimit, false, message);
        emit ERC20DepositInitiated(l1Token, msg.sender, to, amount);
    }

    /// @notice Deposits `msg.value` wei to the caller's address on L2.
    function depositETH(uint32 minGasLimit) external payable {
        _depositETH(msg.sender, minGasLimit);
    }

    /// @notice Deposits `msg.value` wei to `to` on L2 (mint = value = `msg.value`; the L2 sender is
    ///         this bridge's alias).
    function depositETHTo(address to, uint32 minGasLimit) external payable {
        _depositETH(to, minGasLimit);
    }

    function _depositETH(address to, uint32 minGasLimit) private {
        uint64 gasLimit = minGasLimit < portal.MIN_GAS_LIMIT() ? portal.MIN_GAS_LIMIT() : minGasLimit;
        portal.depositTransaction{value: msg.value}(to, msg.value, gasLimit, false, "");
        emit ETHDepositInitiated(msg.sender, to, msg.value);
    }

    /// @notice Releases `amount` of `l1Token` to `to`: only the Portal, finalizing a withdrawal
    ///         whose L2 sender is the L2 bridge.
    function finalizeERC20Withdrawal(address l1Token, address from, address to, uint256 amount) external nonReentrant {
        if (msg.sender != address(portal) || portal.l2Sender() != L2_STANDARD_BRIDGE) revert NotFromL2Bridge();
        uint256 deposited = deposits[l1Token];
        if (amount > deposited) revert InsufficientDeposits(l1Token, deposited, amount);
        deposits[l1Token] = deposited - amount;
        IERC20(l1Token).safeTransfer(to, amount);
        emit ERC20WithdrawalFinalized(l1Token, from, to, amount);
    }

    function _name(address token) private view returns (string memory) {
        try IERC20Metadata(token).name() returns (string memory n) {
            return n;
        } catch {
            return "";
        }
    }

    function _symbol(address token) private view returns (string memory) {
        try IERC20Metadata(token).symbol() returns (string memory s) {
            return s;
        } catch {
            return "";
        }
    }

    function _decimals(address token) private view returns (uint8) {
        try IERC20Metadata(token).decimals() returns (uint8 d) {
            return d;
        } catch {
            return 18;
        }
    }
}
