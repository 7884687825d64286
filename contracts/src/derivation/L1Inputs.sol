// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {DepositInput} from "./DepositInput.sol";
import {DerivationOracle} from "./DerivationOracle.sol";
import {Header} from "./Header.sol";
import {Inbox} from "../L1/Inbox.sol";
import {UserTx} from "./UserTx.sol";

/// @title L1Inputs
/// @notice The L1 inputs of a block with an L1 origin, read through the derivation oracle:
///         the origin proven on L1 (`BatchBlock::check_origin`) and the inputs of derivation
///         steps 1 and 2 (`fraud_vm::batch::apply_l1_inputs`): the L1-info deposit, then the
///         deposits from the parent's count below the target, each queued at or before the
///         origin and while the gas limits fit.
library L1Inputs {
    /// @notice `keccak256("")`: a deposit without data needs no preimage query.
    bytes32 private constant EMPTY_HASH = keccak256("");

    /// @notice The oracle answered with data L1 cannot hold: a header chain whose numbers do
    ///         not follow, a delayed-accumulator link that is not 64 bytes, a message that is not
    ///         the canonical ten words of the queue index asked for.
    error NotL1(uint256 where);

    /// @notice A block's L1 inputs: the first `count` of `leaves` are their input leaves
    ///         (`UserTx.hash` of each input item), and `delayedRead` counts the delayed messages
    ///         consumed up to and including the block.
    struct Inputs {
        bytes32[] leaves;
        uint256 count;
        uint64 delayedRead;
    }

    /// @notice Whether L1's block `number` has hash `hash`, walking parent hashes back from
    ///         `l1ParentHash`, the hash of L1 block `appendedNumber − 1` (a batch commitment's
    ///         `l1ParentHash`); and if so, the origin it describes (`L1BlockInfo::from_header`:
    ///         number, hash, timestamp, base fee, 0 before London).
    /// @dev `number < appendedNumber` (`BatchBlock::check`, `ORIGIN_NOT_PAST`). The walk reads
    ///      `appendedNumber − 1 − number` headers before the origin's own, fewer than
    ///      `MAX_ORIGIN_AGE` (`ORIGIN_TOO_OLD`), in constant memory.
    function origin(bytes32 l1ParentHash, uint256 appendedNumber, uint256 number, bytes32 hash)
        internal
        view
        returns (bool onL1, DepositInput.L1BlockInfo memory info)
    {
        bytes32 walk = l1ParentHash;
        for (uint256 n = appendedNumber - 1; n > number; n--) {
            uint256 free;
            assembly ("memory-safe") {
                free := mload(0x40)
            }
            Header.Fields memory h = Header.decodeMemory(DerivationOracle.preimage(walk));
            if (h.number != n) revert NotL1(n);
            walk = h.parentHash;
            // Only `walk` (on the stack) outlives the header: its memory is released.
            assembly ("memory-safe") {
                mstore(0x40, free)
            }
        }
        if (walk != hash) return (false, info);
        Header.Fields memory o = Header.decodeMemory(DerivationOracle.preimage(walk));
        if (o.number != number) revert NotL1(number);
        // alloy decodes a header's number, timestamp and base fee as `u64`s, and so does
        // `Header` (it reverts beyond): the casts keep every value.
        info = DepositInput.L1BlockInfo({
            number: uint64(number),
            hash: walk,
            timestamp: uint64(o.timestamp),
            basefee: uint64(o.optional.baseFeePerGas)
        });
        return (true, info);
    }

    /// @notice The inputs of the L1-info deposit of `origin` opening L2 block `l2Number`, then
    ///         of the deposits from queue index `read` below `target` queued at or before the
    ///         origin, while the gas limits of the L1-info deposit and of the deposits so far,
    ///         with the next one's, are at most `gasLimit`.
    /// @dev Every index below `target` is on L1 (the target is at most the opened batch's
    ///      `afterDelayedMessagesRead`, and the Inbox holds that many messages). Each deposit
    ///      reads `delayedAcc(i + 1)`, its link `prev ‖ messageHash`, the message and its data;
    ///      memory used for one deposit is released before the next.
    function deposits(
        DepositInput.L1BlockInfo memory o,
        uint256 l2Number,
        uint64 read,
        uint64 target,
        uint256 gasLimit
    ) internal view returns (Inputs memory) {
        bytes32[] memory leaves = new bytes32[](8);
        uint256 count;
        leaves[count++] = UserTx.hash(DepositInput.l1Info(o, l2Number));
        uint256 limits = DepositInput.L1_INFO_GAS_LIMIT;
        while (read < target) {
            uint256 free;
            assembly ("memory-safe") {
                free := mload(0x40)
            }
            (bool fits, uint256 withIt, bytes32 leaf) = deposit(o.number, read, limits, gasLimit);
            if (!fits) break;
            assembly ("memory-safe") {
                mstore(0x40, free)
            }
            limits = withIt;
            if (count == leaves.length) leaves = grow(leaves);
            leaves[count++] = leaf;
            read++;
        }
        return Inputs(leaves, count, read);
    }

    /// @notice Delayed message `index`: whether it is included (queued at or before L1 block
    ///         `originNumber`, and `limits` plus its gas limit at most `gasLimit`), the gas
    ///         limits with it, and its input leaf.
    function deposit(uint256 originNumber, uint64 index, uint256 limits, uint256 gasLimit)
        private
        view
        returns (bool fits, uint256 withIt, bytes32 leaf)
    {
        bytes memory link = DerivationOracle.preimage(DerivationOracle.delayedAcc(uint256(index) + 1));
        if (link.length != 64) revert NotL1(index);
        bytes32 messageHash;
        assembly ("memory-safe") {
            messageHash := mload(add(link, 64))
        }
        bytes memory raw = DerivationOracle.preimage(messageHash);
        if (raw.length != 320) revert NotL1(index);
        // The tuple the Inbox hashes (`DepositMessage::hash`); `abi.decode` reverts on a word
        // out of its type's range.
        Inbox.DepositMessage memory q = abi.decode(raw, (Inbox.DepositMessage));
        if (q.index != index) revert NotL1(index);
        if (q.l1BlockNumber > originNumber) return (false, limits, 0);
        withIt = limits + q.gasLimit;
        if (withIt > gasLimit) return (false, limits, 0);
        bytes memory data = q.dataHash == EMPTY_HASH ? bytes("") : DerivationOracle.preimage(q.dataHash);
        uint256 dataAt = DepositInput.reserve(data.length);
        // Whole words: the bytes copied past the data's end are never read as input.
        assembly ("memory-safe") {
            let src := add(data, 0x20)
            for { let i := 0 } lt(i, mload(data)) { i := add(i, 0x20) } {
                mstore(add(dataAt, i), mload(add(src, i)))
            }
        }
        DepositInput.Message memory m = DepositInput.Message({
            index: index,
            from: q.from,
            to: q.to,
            mint: q.mint,
            value: q.value,
            gasLimit: q.gasLimit,
            isCreation: q.isCreation,
            l1BlockNumber: q.l1BlockNumber,
            l1Timestamp: q.l1Timestamp
        });
        (bytes32 sourceHash, UserTx.TxInput memory t) = DepositInput.userAt(m, dataAt, data.length);
        // The message the link names is the one the input executes.
        if (sourceHash != messageHash) revert NotL1(index);
        return (true, withIt, UserTx.hash(t));
    }

    /// @notice `leaves` in an array twice as long.
    function grow(bytes32[] memory leaves) private pure returns (bytes32[] memory bigger) {
        bigger = new bytes32[](2 * leaves.length);
        for (uint256 i; i < leaves.length; i++) {
            bigger[i] = leaves[i];
        }
    }
}
