// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {SparseMerkleTree} from "../lib/SparseMerkleTree.sol";
import {Inbox} from "./Inbox.sol";
import {OutputRegistry} from "./OutputRegistry.sol";

/// @title Portal
/// @notice ETH and message entry/exit point of the rollup on L1.
///         - Deposits: {depositTransaction} locks `msg.value` here and queues an L2 deposit
///           transaction in the {Inbox} (`mint = msg.value`; `from` is `msg.sender`, aliased
///           when the caller is a contract, see `fraud_vm::message::apply_alias`).
///         - Withdrawals: {proveWithdrawal} shows that the L2 `L2ToL1MessagePasser` recorded a
///           withdrawal (`sentMessages[hash] = true`) in the state of a proposed output;
///           {finalizeWithdrawal} executes it once that output is final, exposing the L2 sender
///           as {l2Sender} during the call.
contract Portal is ReentrancyGuard {
    /// @notice A withdrawal, as hashed by `fraud_vm::message::Withdrawal::hash`.
    struct Withdrawal {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }

    /// @notice The preimage of a version-1 output root (`fraud_vm::output::output_root`): the
    ///         block number and the four words of the claim on the block (`fraud_vm::vm::Claim`).
    struct OutputRootProof {
        uint256 l2BlockNumber;
        bytes32 l2BlockHash;
        bytes32 stateRoot;
        bytes32 blockHashesRoot;
        bytes32 cursor;
    }

    /// @notice Where and when a withdrawal was proven.
    struct ProvenWithdrawal {
        uint64 timestamp;
        uint192 outputIndex;
    }

    /// @notice A contract creation must not name a target.
    error CreationWithTarget();
    /// @notice The deposit's gas limit is below {minimumGasLimit} of its data or above
    ///         {MAX_GAS_LIMIT}.
    error InvalidGasLimit(uint64 gasLimit);
    /// @notice The deposit's data exceeds {MAX_DATA_SIZE} bytes.
    error DataTooLarge(uint256 size);
    /// @notice The output root proof does not match the registry's output.
    error OutputRootMismatch();
    /// @notice The output was invalidated.
    error OutputInvalidated();
    /// @notice The withdrawal is already proven against a valid output.
    error AlreadyProven();
    /// @notice The withdrawal has not been proven.
    error WithdrawalNotProven();
    /// @notice The withdrawal's output is not finalized yet.
    error OutputNotFinalized();
    /// @notice The withdrawal was already finalized.
    error AlreadyFinalized();
    /// @notice The state proof does not show the withdrawal as sent.
    error InvalidProof();
    /// @notice A withdrawal may not call the Portal or the Inbox.
    error ForbiddenTarget();
    /// @notice Not enough gas left to give the withdrawal call its gas limit.
    error InsufficientGas();

    /// @notice A withdrawal was proven against output `outputIndex`.
    event WithdrawalProven(
        bytes32 indexed withdrawalHash, address indexed sender, address indexed target, uint256 outputIndex
    );
    /// @notice A withdrawal was finalized; `success` is the outcome of its L1 call.
    event WithdrawalFinalized(bytes32 indexed hash, bool success);

    /// @notice `END` of a claim's hash (`fraud_vm::vm::machine::end_hash`).
    bytes32 public constant CLAIM_END_DOMAIN = keccak256("fraud-vm block end");
    /// @notice The L2 message passer predeploy.
    address public constant L2_TO_L1_MESSAGE_PASSER = 0x4200000000000000000000000000000000000016;
    /// @notice {l2Sender} outside a withdrawal call.
    address public constant DEFAULT_L2_SENDER = 0x000000000000000000000000000000000000dEaD;
    /// @notice Offset of L1 contract addresses aliased on L2.
    uint160 public constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);
    /// @notice Smallest deposit gas limit (an L2 transfer's intrinsic gas), without data
    ///         (`fraud_vm::deposit::MIN_DEPOSIT_GAS_LIMIT`).
    uint64 public constant MIN_GAS_LIMIT = 21_000;
    /// @notice Gas a deposit's gas limit must hold per byte of data
    ///         (`fraud_vm::deposit::DEPOSIT_GAS_PER_DATA_BYTE`): the data a block's deposits
    ///         carry is bounded by its gas limit, which bounds what deriving the block copies
    ///         and hashes.
    uint64 public constant GAS_PER_DATA_BYTE = 16;
    /// @notice Largest deposit gas limit (`fraud_vm::deposit::MAX_DEPOSIT_GAS_LIMIT`): a block
    ///         with an L1 origin has room for the L1-info deposit and one this large.
    uint64 public constant MAX_GAS_LIMIT = 20_000_000;
    /// @notice Gas limit of deposits made by sending ETH to the Portal.
    uint64 public constant RECEIVE_DEFAULT_GAS_LIMIT = 100_000;
    /// @notice Largest deposit calldata.
    uint256 public constant MAX_DATA_SIZE = 120_000;
    /// @dev Gas kept back for the code after the withdrawal call.
    uint256 private constant FINALIZE_GAS_BUFFER = 40_000;

    /// @notice The Inbox deposits are queued in.
    Inbox public immutable inbox;
    /// @notice The output proposals withdrawals are proven against.
    OutputRegistry public immutable registry;

    /// @notice The L2 sender of the withdrawal being finalized ({DEFAULT_L2_SENDER} otherwise).
    address public l2Sender;
    /// @notice Proven withdrawals by hash.
    mapping(bytes32 => ProvenWithdrawal) public provenWithdrawals;
    /// @notice Finalized withdrawals by hash.
    mapping(bytes32 => bool) public finalizedWithdrawals;

    constructor(Inbox inbox_, OutputRegistry registry_) {
        inbox = inbox_;
        registry = registry_;
        l2Sender = DEFAULT_L2_SENDER;
    }

    /// @notice Sending ETH deposits it to the sender's L2 account (same address, aliased for
    ///         contracts) with {RECEIVE_DEFAULT_GAS_LIMIT}.
    receive() external payable {
        _deposit(msg.sender, msg.value, RECEIVE_DEFAULT_GAS_LIMIT, false, "");
    }

    /// @notice Queues an L2 deposit transaction minting `msg.value` to the (aliased) sender.
    /// @param to L2 call target (must be zero for a creation).
    /// @param value Wei sent with the L2 call (may differ from `msg.value`).
    /// @param gasLimit L2 gas limit, in [{minimumGasLimit}`(data.length)`, {MAX_GAS_LIMIT}].
    /// @param isCreation Whether `data` is initcode of a contract to create.
    /// @param data L2 calldata or initcode, at most {MAX_DATA_SIZE} bytes.
    function depositTransaction(address to, uint256 value, uint64 gasLimit, bool isCreation, bytes calldata data)
        external
        payable
    {
        _deposit(to, value, gasLimit, isCreation, data);
    }

    /// @notice The smallest gas limit of a deposit with `dataLength` bytes of data:
    ///         `MIN_GAS_LIMIT + GAS_PER_DATA_BYTE · dataLength`
    ///         (`fraud_vm::deposit::min_deposit_gas_limit`).
    function minimumGasLimit(uint256 dataLength) public pure returns (uint256) {
        return MIN_GAS_LIMIT + GAS_PER_DATA_BYTE * dataLength;
    }

    function _deposit(address to, uint256 value, uint64 gasLimit, bool isCreation, bytes memory data) private {
        if (isCreation && to != address(0)) revert CreationWithTarget();
        if (data.length > MAX_DATA_SIZE) revert DataTooLarge(data.length);
        if (gasLimit < minimumGasLimit(data.length) || gasLimit > MAX_GAS_LIMIT) revert InvalidGasLimit(gasLimit);
        address from = msg.sender;
        if (msg.sender != tx.origin) {
            unchecked {
                from = address(uint160(from) + ALIAS_OFFSET);
            }
        }
        inbox.enqueueDeposit(from, to, msg.value, value, gasLimit, isCreation, data);
    }

    /// @notice Proves that withdrawal `w` was sent on L2 as of output `outputIndex`.
    /// @param o The preimage of the output root at `outputIndex`.
    /// @param smtProof State-tree proof (`fraud_vm::smt::Proof::encode`) of the message passer's
    ///        `sentMessages[hash]` slot holding `bytes32(uint256(1))` under `o.stateRoot`.
    function proveWithdrawal(
        Withdrawal calldata w,
        uint256 outputIndex,
        OutputRootProof calldata o,
        bytes calldata smtProof
    ) external {
        bytes32 hash = hashWithdrawal(w);
        if (finalizedWithdrawals[hash]) revert AlreadyFinalized();
        OutputRegistry.Output memory out = registry.getOutput(outputIndex);
        if (out.status == OutputRegistry.Status.Invalidated) revert OutputInvalidated();
        if (out.l2BlockNumber != o.l2BlockNumber || out.outputRoot != outputRoot(o)) revert OutputRootMismatch();
        (bool present, bytes32 value) = SparseMerkleTree.verify(o.stateRoot, withdrawalStateKey(hash), smtProof);
        if (!present || value != bytes32(uint256(1))) revert InvalidProof();
        ProvenWithdrawal memory previous = provenWithdrawals[hash];
        if (previous.timestamp != 0 && !registry.isInvalidated(previous.outputIndex)) revert AlreadyProven();
        provenWithdrawals[hash] = ProvenWithdrawal({timestamp: uint64(block.timestamp), outputIndex: uint192(outputIndex)});
        emit WithdrawalProven(hash, w.sender, w.target, outputIndex);
    }

    /// @notice Executes a proven withdrawal whose output is finalized: calls `w.target` with
    ///         `w.value` wei and at least `w.gasLimit` gas, with {l2Sender} = `w.sender`. A failing
    ///         call still finalizes the withdrawal (the ETH stays in the Portal).
    function finalizeWithdrawal(Withdrawal calldata w) external nonReentrant {
        bytes32 hash = hashWithdrawal(w);
        if (finalizedWithdrawals[hash]) revert AlreadyFinalized();
        ProvenWithdrawal memory proven = provenWithdrawals[hash];
        if (proven.timestamp == 0) revert WithdrawalNotProven();
        if (registry.isInvalidated(proven.outputIndex)) revert OutputInvalidated();
        if (!registry.isFinalized(proven.outputIndex)) revert OutputNotFinalized();
        if (w.target == address(this) || w.target == address(inbox)) revert ForbiddenTarget();

        finalizedWithdrawals[hash] = true;
        l2Sender = w.sender;
        bool success = _callWithMinGas(w.target, w.gasLimit, w.value, w.data);
        l2Sender = DEFAULT_L2_SENDER;
        emit WithdrawalFinalized(hash, success);
    }

    /// @dev Calls `target` with all remaining gas after checking that it is at least
    ///      `minGas` (accounting for the 63/64 rule); does not copy return data.
    function _callWithMinGas(address target, uint256 minGas, uint256 value, bytes calldata data)
        private
        returns (bool success)
    {
        if (minGas > type(uint64).max) revert InsufficientGas();
        if (gasleft() < (minGas * 64) / 63 + FINALIZE_GAS_BUFFER) revert InsufficientGas();
        bytes memory payload = data;
        assembly ("memory-safe") {
            success := call(sub(gas(), FINALIZE_GAS_BUFFER), target, value, add(payload, 0x20), mload(payload), 0, 0)
        }
    }

    /// @notice `fraud_vm::message::Withdrawal::hash`.
    function hashWithdrawal(Withdrawal calldata w) public pure returns (bytes32) {
        return keccak256(abi.encode(w.nonce, w.sender, w.target, w.value, w.gasLimit, w.data));
    }

    /// @notice `fraud_vm::message::Withdrawal::state_key`: the state-tree key of
    ///         `sentMessages[withdrawalHash]` (mapping at slot 0) in the message passer.
    function withdrawalStateKey(bytes32 withdrawalHash) public pure returns (bytes32) {
        bytes32 slot = keccak256(abi.encode(withdrawalHash, uint256(0)));
        return keccak256(abi.encodePacked(L2_TO_L1_MESSAGE_PASSER, slot));
    }

    /// @notice `fraud_vm::output::output_root` (version 1): `keccak256(abi.encode(1,
    ///         l2BlockNumber, claimHash))` with `claimHash = keccak256(END ‖ l2BlockHash ‖ stateRoot
    ///         ‖ blockHashesRoot ‖ cursor)` (`fraud_vm::vm::machine::end_hash`).
    function outputRoot(OutputRootProof calldata o) public pure returns (bytes32) {
        bytes32 claimHash =
            keccak256(abi.encode(CLAIM_END_DOMAIN, o.l2BlockHash, o.stateRoot, o.blockHashesRoot, o.cursor));
        return keccak256(abi.encode(uint256(1), o.l2BlockNumber, claimHash));
    }
}
