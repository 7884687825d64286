// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {WordTree} from "../lib/WordTree.sol";

/// @title Inbox
/// @notice The L2's input on L1, as two hash accumulators (Arbitrum-style), every step of which
///         stays readable (`delayedAcc(n)`, `batchAcc(n)`), so a proof reads one entry with a
///         bounded witness as long as a dispute lasts:
///         - delayed messages (deposits), queued by the {Portal}:
///           `delayedAcc[0] = 0`, `delayedAcc[n + 1] = keccak256(delayedAcc[n] ‖ messageHash_n)`
///           with `messageHash` exactly `fraud_vm::message::DepositMessage::hash`;
///         - batches, posted by the batcher (an EOA, so derivation reads the batch data from the
///           transaction's calldata) or forced by anyone:
///           `batchAcc[0] = 0`, `batchAcc[n + 1] = keccak256(abi.encode(batchAcc[n], dataRoot,
///           dataLength, afterDelayedMessagesRead, delayedAcc[afterDelayedMessagesRead],
///           l1BlockNumber, l1Timestamp, l1ParentHash, forced))`, exactly
///           `fraud_vm::batch::BatchCommitment::accumulate`. `dataRoot` is the {WordTree} root of
///           the data (a proof reads one 32-byte word against it); the L1 block number, timestamp
///           and parent hash are those of the block that appended the batch, so the L1 origins
///           of the batch's L2 blocks can be proven from the parent hash by walking back L1
///           headers, long after `blockhash` forgot them.
///         A sequencer batch also says how many delayed messages the chain has consumed after
///         it (a bound for derivation, not a fact: derivation consumes what the blocks say). If
///         the sequencer ignores a delayed message for `forceInclusionWindow` seconds, anyone can
///         append an empty, `forced` batch forcing the messages up to it in, at most
///         {MAX_FORCED_DEPOSITS} past the previous forced batch's count and one per L1 block;
///         derivation turns it into a forced block that consumes them (`fraud_vm::batch`,
///         *Forced inclusion*). What can be forced depends on no count a sequencer batch
///         declares, so a sequencer cannot make a message unforceable.
contract Inbox {
    /// @notice Only the Portal may queue deposits.
    error NotPortal();
    /// @notice Only the batcher may append sequencer batches.
    error NotBatcher();
    /// @notice Batches must be posted by a code-less EOA directly (their data is read from the
    ///         transaction's calldata).
    error BatcherNotEOA();
    /// @notice `afterDelayedMessagesRead` is above the queue.
    error InvalidDelayedMessagesRead(uint256 afterDelayedMessagesRead, uint256 count);
    /// @notice The delayed message to force was queued less than `forceInclusionWindow` ago.
    error ForceInclusionWindowNotElapsed(uint256 queuedAt, uint256 includableAt);
    /// @notice A forced batch must force more delayed messages than the previous forced batch
    ///         (`forcedRead`), at most {MAX_FORCED_DEPOSITS} more, and no more than are queued.
    error InvalidForcedCount(uint256 afterDelayedMessagesRead, uint256 forcedRead, uint256 count);
    /// @notice A forced batch was already appended in this L1 block.
    error AlreadyForcedInThisBlock();
    /// @notice The force-inclusion window must be at least one second (a forced message was
    ///         then queued in an earlier L1 block than the forced batch).
    error ZeroForceInclusionWindow();
    /// @notice An accumulator index beyond the current count.
    error IndexOutOfRange(uint256 index, uint256 count);

    /// @notice A deposit was queued as delayed message `index`.
    event DepositQueued(
        uint256 indexed index,
        address indexed from,
        address indexed to,
        uint256 mint,
        uint256 value,
        uint64 gasLimit,
        bool isCreation,
        bytes data,
        uint64 l1BlockNumber,
        uint64 l1Timestamp,
        bytes32 messageHash
    );

    /// @notice Batch `batchIndex` was appended; `batchAcc` is the accumulator after it. The L1
    ///         fields of its commitment are those of the block holding this log.
    event BatchAppended(
        uint256 indexed batchIndex,
        bytes32 dataRoot,
        uint256 dataLength,
        uint256 afterDelayedMessagesRead,
        bytes32 batchAcc,
        bool forced
    );

    /// @dev The ABI tuple of `BatchCommitment::accumulate`.
    struct BatchCommitment {
        bytes32 prevAcc;
        bytes32 dataRoot;
        uint256 dataLength;
        uint256 afterDelayedMessagesRead;
        bytes32 delayedAcc;
        uint256 l1BlockNumber;
        uint256 l1Timestamp;
        bytes32 l1ParentHash;
        bool forced;
    }

    /// @dev The ABI tuple of `DepositMessage::hash`.
    struct DepositMessage {
        uint256 index;
        address from;
        address to;
        uint256 mint;
        uint256 value;
        uint64 gasLimit;
        bool isCreation;
        bytes32 dataHash;
        uint64 l1BlockNumber;
        uint64 l1Timestamp;
    }

    /// @notice The Portal, the only source of delayed messages.
    address public immutable portal;
    /// @notice The sequencer's batch poster.
    address public immutable batcher;
    /// @notice Seconds after which an unread delayed message can be forced in.
    uint256 public immutable forceInclusionWindow;
    /// @notice Most delayed messages a forced batch may force past the previous forced batch's
    ///         count (`fraud_vm::batch::MAX_FORCED_DEPOSITS`): its forced block holds them all.
    uint256 public constant MAX_FORCED_DEPOSITS = 16;

    /// @dev `_delayedAccs[i]` = accumulator after i + 1 messages.
    bytes32[] private _delayedAccs;
    /// @dev L1 timestamps at which the delayed messages were queued.
    uint64[] private _delayedTimestamps;
    /// @dev `_batchAccs[i]` = accumulator after i + 1 batches.
    bytes32[] private _batchAccs;
    /// @notice The `afterDelayedMessagesRead` of the newest forced batch (0: none).
    uint256 public forcedRead;
    /// @notice The L1 block of the newest forced batch (0: none).
    uint256 public lastForcedBlock;

    /// @param portal_ The Portal (deploy scripts predict its address).
    /// @param batcher_ The batch poster EOA.
    /// @param forceInclusionWindow_ Seconds (devnet: e.g. 30; production: 24 h).
    constructor(address portal_, address batcher_, uint256 forceInclusionWindow_) {
        if (forceInclusionWindow_ == 0) revert ZeroForceInclusionWindow();
        portal = portal_;
        batcher = batcher_;
        forceInclusionWindow = forceInclusionWindow_;
    }

    /// @notice Queues a deposit (only the Portal). Its index is the current message count, its
    ///         L1 block number and timestamp the current block's.
    /// @param from The L2 sender (already aliased by the Portal for contract senders).
    /// @return index The delayed message index.
    /// @return messageHash `DepositMessage::hash`, the L2 deposit transaction's `sourceHash`.
    function enqueueDeposit(
        address from,
        address to,
        uint256 mint,
        uint256 value,
        uint64 gasLimit,
        bool isCreation,
        bytes calldata data
    ) external returns (uint256 index, bytes32 messageHash) {
        if (msg.sender != portal) revert NotPortal();
        index = _delayedAccs.length;
        DepositMessage memory m;
        m.index = index;
        m.from = from;
        m.to = to;
        m.mint = mint;
        m.value = value;
        m.gasLimit = gasLimit;
        m.isCreation = isCreation;
        m.dataHash = keccak256(data);
        m.l1BlockNumber = uint64(block.number);
        m.l1Timestamp = uint64(block.timestamp);
        messageHash = keccak256(abi.encode(m));
        bytes32 prev = index == 0 ? bytes32(0) : _delayedAccs[index - 1];
        _delayedAccs.push(keccak256(abi.encodePacked(prev, messageHash)));
        _delayedTimestamps.push(m.l1Timestamp);
        _emitDepositQueued(m, data, messageHash);
    }

    function _emitDepositQueued(DepositMessage memory m, bytes calldata data, bytes32 messageHash) private {
        emit DepositQueued(
            m.index,
            m.from,
            m.to,
            m.mint,
            m.value,
            m.gasLimit,
            m.isCreation,
            data,
            m.l1BlockNumber,
            m.l1Timestamp,
            messageHash
        );
    }

    /// @notice Appends a sequencer batch (only the batcher, called directly from its EOA).
    /// @param data The batch (uncompressed, read by derivation from this call's calldata).
    /// @param afterDelayedMessagesRead Delayed messages consumed once this batch is applied:
    ///        at most `delayedMessageCount()` (a bound derivation caps the batch's blocks with).
    function appendSequencerBatch(bytes calldata data, uint256 afterDelayedMessagesRead) external {
        if (msg.sender != batcher) revert NotBatcher();
        // The data must be this transaction's own calldata: no contract in between, and no
        // EIP-7702 delegation (a delegated EOA has code), which would let the top-level call
        // differ from the one committed here.
        if (msg.sender != tx.origin || msg.sender.code.length != 0) revert BatcherNotEOA();
        if (afterDelayedMessagesRead > _delayedAccs.length) {
            revert InvalidDelayedMessagesRead(afterDelayedMessagesRead, _delayedAccs.length);
        }
        _appendBatch(WordTree.root(data), data.length, afterDelayedMessagesRead, false);
    }

    /// @notice Forces delayed messages up to `afterDelayedMessagesRead` into the chain with an
    ///         empty batch (anyone), once the last of them (index `afterDelayedMessagesRead - 1`)
    ///         has waited `forceInclusionWindow` seconds: `forcedRead < afterDelayedMessagesRead
    ///         <= forcedRead + MAX_FORCED_DEPOSITS`; at most one per L1 block (so forced blocks, each
    ///         stamped at least one second after its parent, cannot push the chain's clock
    ///         ahead of L1's). Messages the chain
    ///         has consumed already may be forced again: the batch then derives nothing.
    function forceInclusion(uint256 afterDelayedMessagesRead) external {
        uint256 read = forcedRead;
        if (
            afterDelayedMessagesRead <= read || afterDelayedMessagesRead - read > MAX_FORCED_DEPOSITS
                || afterDelayedMessagesRead > _delayedAccs.length
        ) {
            revert InvalidForcedCount(afterDelayedMessagesRead, read, _delayedAccs.length);
        }
        uint256 queuedAt = _delayedTimestamps[afterDelayedMessagesRead - 1];
        if (block.timestamp < queuedAt + forceInclusionWindow) {
            revert ForceInclusionWindowNotElapsed(queuedAt, queuedAt + forceInclusionWindow);
        }
        if (lastForcedBlock == block.number) revert AlreadyForcedInThisBlock();
        (forcedRead, lastForcedBlock) = (afterDelayedMessagesRead, block.number);
        _appendBatch(WordTree.root(msg.data[0:0]), 0, afterDelayedMessagesRead, true);
    }

    function _appendBatch(bytes32 dataRoot, uint256 dataLength, uint256 afterDelayedMessagesRead, bool forced)
        private
    {
        uint256 batchIndex = _batchAccs.length;
        BatchCommitment memory c;
        c.prevAcc = batchIndex == 0 ? bytes32(0) : _batchAccs[batchIndex - 1];
        c.dataRoot = dataRoot;
        c.dataLength = dataLength;
        c.afterDelayedMessagesRead = afterDelayedMessagesRead;
        c.delayedAcc = delayedAcc(afterDelayedMessagesRead);
        c.l1BlockNumber = block.number;
        c.l1Timestamp = block.timestamp;
        c.l1ParentHash = blockhash(block.number - 1);
        c.forced = forced;
        bytes32 acc = keccak256(abi.encode(c));
        _batchAccs.push(acc);
        emit BatchAppended(batchIndex, dataRoot, dataLength, afterDelayedMessagesRead, acc, forced);
    }

    /// @notice Number of delayed messages queued.
    function delayedMessageCount() external view returns (uint256) {
        return _delayedAccs.length;
    }

    /// @notice The delayed-message accumulator after `n` messages (`n <= delayedMessageCount()`).
    function delayedAcc(uint256 n) public view returns (bytes32) {
        if (n > _delayedAccs.length) revert IndexOutOfRange(n, _delayedAccs.length);
        return n == 0 ? bytes32(0) : _delayedAccs[n - 1];
    }

    /// @notice L1 timestamp at which delayed message `index` was queued.
    function delayedMessageTimestamp(uint256 index) external view returns (uint64) {
        if (index >= _delayedTimestamps.length) revert IndexOutOfRange(index, _delayedTimestamps.length);
        return _delayedTimestamps[index];
    }

    /// @notice Number of batches appended.
    function batchCount() external view returns (uint256) {
        return _batchAccs.length;
    }

    /// @notice The batch accumulator after `n` batches (`n <= batchCount()`).
    function batchAcc(uint256 n) external view returns (bytes32) {
        if (n > _batchAccs.length) revert IndexOutOfRange(n, _batchAccs.length);
        return n == 0 ? bytes32(0) : _batchAccs[n - 1];
    }
}
