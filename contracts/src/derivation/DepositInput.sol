// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {L1Info} from "../L2/L1Info.sol";
import {WordTree} from "../lib/WordTree.sol";
import {UserTx} from "./UserTx.sol";

/// @title DepositInput
/// @notice The step machine's input items of a block's deposits (`TxInput::from_tx` of a type
///         `0x7E` transaction, `fraud-vm/src/vm/verifier/input.rs`): the L1-info deposit that
///         opens a block with an L1 origin (`fraud_vm::deposit::l1_info_deposit`) and a user
///         deposit executing a delayed message (`fraud_vm::message::DepositMessage::tx_deposit`).
/// @dev A deposit's item has type `0x7E`, its `from` as sender, its gas limit, recipient, value
///      and `mint`, its input's length, word-tree root (`fraud_vm::merkle::data_root`) and zero
///      bytes, and zero nonce, fees, access list and encoded length. Its `txHash` is
///      `keccak256(0x7E ‖ rlp([sourceHash, from, to, mint, value, gas, isSystemTx, input]))`
///      (op-alloy's `TxDeposit`; `to` is the empty string for a creation, `isSystemTx` is
///      always false). Everything is taken as arguments; nothing is read from the chain.
library DepositInput {
    /// @notice EIP-2718 type of deposits (`input::DEPOSIT_TYPE`).
    uint256 internal constant DEPOSIT_TYPE = 0x7e;

    /// @notice Sender of the L1-info deposit (`fraud_vm::message::SYSTEM_DEPOSITOR`).
    address internal constant SYSTEM_DEPOSITOR = 0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001;

    /// @notice The L1-info predeploy the L1-info deposit calls (`fraud_vm::message::L1_INFO`).
    address internal constant L1_INFO = 0x4200000000000000000000000000000000000015;

    /// @notice Gas limit of the L1-info deposit (`fraud_vm::deposit::L1_INFO_GAS_LIMIT`).
    uint256 internal constant L1_INFO_GAS_LIMIT = 1_000_000;

    /// @notice Room left before the input in the encoding buffer: at most 1 (type) + 9 (list
    ///         header) + 33 (source hash) + 21 (from) + 21 (to) + 17 (mint) + 33 (value) +
    ///         9 (gas) + 1 (isSystemTx) + 9 (input header) = 154 bytes come before it.
    uint256 private constant PREFIX_ROOM = 160;

    /// @notice An L1 block as an L2 block's origin (`fraud_vm::deposit::L1BlockInfo`).
    struct L1BlockInfo {
        uint64 number;
        bytes32 hash;
        uint64 timestamp;
        uint64 basefee;
    }

    /// @notice A delayed message without its data (`fraud_vm::message::DepositMessage`; `from`
    ///         is already aliased for a contract sender).
    struct Message {
        uint64 index;
        address from;
        address to;
        uint256 mint;
        uint256 value;
        uint64 gasLimit;
        bool isCreation;
        uint64 l1BlockNumber;
        uint64 l1Timestamp;
    }

    /// @notice `keccak256(abi.encode(uint256(1), l1BlockHash, uint256(l2BlockNumber)))`: the
    ///         L1-info deposit's source hash (`deposit::l1_info_source_hash`).
    function l1InfoSourceHash(bytes32 l1BlockHash, uint256 l2BlockNumber) internal pure returns (bytes32) {
        return keccak256(abi.encode(uint256(1), l1BlockHash, l2BlockNumber));
    }

    /// @notice The message hash (`DepositMessage::hash`), the user deposit's source hash:
    ///         `keccak256(abi.encode(index, from, to, mint, value, gasLimit, isCreation,
    ///         dataHash, l1BlockNumber, l1Timestamp))`.
    function messageHash(Message memory m, bytes32 dataHash) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                uint256(m.index),
                m.from,
                m.to,
                m.mint,
                m.value,
                m.gasLimit,
                m.isCreation,
                dataHash,
                m.l1BlockNumber,
                m.l1Timestamp
            )
        );
    }

    /// @notice The input item of the L1-info deposit opening L2 block `l2BlockNumber` with
    ///         origin `origin`: `SYSTEM_DEPOSITOR` calls `L1Info.setL1Info(number, timestamp,
    ///         basefee, hash)` with gas `L1_INFO_GAS_LIMIT`, no mint, no value.
    function l1Info(L1BlockInfo memory origin, uint256 l2BlockNumber)
        internal
        pure
        returns (UserTx.TxInput memory t)
    {
        t.txType = DEPOSIT_TYPE;
        t.sender = SYSTEM_DEPOSITOR;
        t.gasLimit = L1_INFO_GAS_LIMIT;
        t.to = L1_INFO;
        bytes memory input =
            abi.encodeCall(L1Info.setL1Info, (origin.number, origin.timestamp, origin.basefee, origin.hash));
        uint256 dataAt = reserve(input.length);
        // Whole words: the bytes copied past the input's end are never read as input (masked
        // or zeroed by the counts and the tree, outside the hashed range).
        assembly ("memory-safe") {
            let src := add(input, 0x20)
            for { let i := 0 } lt(i, mload(input)) { i := add(i, 0x20) } {
                mstore(add(dataAt, i), mload(add(src, i)))
            }
        }
        seal(t, l1InfoSourceHash(origin.hash, l2BlockNumber), dataAt, input.length);
    }

    /// @notice The input item of the user deposit executing message `m` with data `data`, and
    ///         the message hash (its source hash): {reserve}, the data copied from calldata,
    ///         {userAt}.
    function user(Message memory m, bytes calldata data)
        internal
        pure
        returns (bytes32 hash, UserTx.TxInput memory t)
    {
        uint256 dataAt = reserve(data.length);
        assembly ("memory-safe") {
            calldatacopy(dataAt, data.offset, data.length)
        }
        return userAt(m, dataAt, data.length);
    }

    /// @notice {user} of data already written at `dataAt` by the caller (from calldata, return
    ///         data or memory), `dataAt` from {reserve}`(len)`. A creation has no recipient
    ///         whatever `m.to` is; `mint` saturates at `2^128 − 1` (`TxDeposit.mint` is a
    ///         `u128`) while the message hash keeps the full value. Overwrites the data.
    function userAt(Message memory m, uint256 dataAt, uint256 len)
        internal
        pure
        returns (bytes32 hash, UserTx.TxInput memory t)
    {
        t.txType = DEPOSIT_TYPE;
        t.sender = m.from;
        t.gasLimit = m.gasLimit;
        t.isCreate = m.isCreation;
        if (!m.isCreation) t.to = m.to;
        t.value = m.value;
        t.mint = m.mint > type(uint128).max ? type(uint128).max : m.mint;
        bytes32 dataHash;
        assembly ("memory-safe") {
            dataHash := keccak256(dataAt, len)
        }
        hash = messageHash(m, dataHash);
        seal(t, hash, dataAt, len);
    }

    /// @notice Allocates an encoding buffer for an input of `len` bytes and returns where the
    ///         input goes: {PREFIX_ROOM} bytes into it, with a spare word after it (the word
    ///         tree zero-pads the last word in place). Reverts with {WordTree.DataTooLong}
    ///         above `2^24` words, as `WordTree.root` does.
    function reserve(uint256 len) internal pure returns (uint256 dataAt) {
        if ((len + 31) / 32 > (1 << WordTree.DEPTH)) revert WordTree.DataTooLong(len);
        assembly ("memory-safe") {
            let buf := mload(0x40)
            dataAt := add(buf, PREFIX_ROOM)
            mstore(0x40, and(add(add(dataAt, len), 63), not(31)))
        }
    }

    /// @notice Writes the deposit's encoding before its input at `dataAt` and completes `t`:
    ///         `txHash`, and the input's length, zero bytes and word-tree root (the last
    ///         overwrites the input, so it comes last).
    function seal(UserTx.TxInput memory t, bytes32 sourceHash, uint256 dataAt, uint256 len) private pure {
        uint256 inputHeader = stringHeaderLength(dataAt, len);
        uint256 fields = 33 + 21 + (t.isCreate ? 1 : 21) + uintLength(t.mint) + uintLength(t.value)
            + uintLength(t.gasLimit) + 1;
        uint256 payload = fields + inputHeader + len;
        uint256 listHeaderLen = 1;
        if (payload >= 56) listHeaderLen += byteLength(payload);
        uint256 start = dataAt - 1 - listHeaderLen - fields - inputHeader;
        uint256 p = start;
        // The writes below are whole words: keep the input's first word to restore it.
        uint256 kept;
        assembly ("memory-safe") {
            kept := mload(dataAt)
        }
        p = putByte(p, DEPOSIT_TYPE);
        p = putLengthHeader(p, 0xc0, payload);
        p = putByte(p, 0xa0);
        p = putWord(p, uint256(sourceHash), 32);
        p = putByte(p, 0x94);
        p = putWord(p, uint160(t.sender), 20);
        if (t.isCreate) {
            p = putByte(p, 0x80);
        } else {
            p = putByte(p, 0x94);
            p = putWord(p, uint160(t.to), 20);
        }
        p = putUint(p, t.mint);
        p = putUint(p, t.value);
        p = putUint(p, t.gasLimit);
        p = putByte(p, 0x80); // isSystemTx = false
        if (inputHeader != 0) p = putLengthHeader(p, 0x80, len);
        assembly ("memory-safe") {
            mstore(dataAt, kept)
        }
        bytes32 txHash;
        assembly ("memory-safe") {
            txHash := keccak256(start, sub(add(dataAt, len), start))
        }
        t.txHash = txHash;
        t.inputLen = len;
        t.inputZeroBytes = zeroBytes(dataAt, len);
        t.inputRoot = wordRoot(dataAt, len);
    }

    /// @notice Length of a byte string's RLP header: none for one byte below 0x80, 1 below 56
    ///         bytes, `1 + lenOfLen` from 56.
    function stringHeaderLength(uint256 ptr, uint256 len) private pure returns (uint256) {
        if (len == 1) {
            uint256 b;
            assembly ("memory-safe") {
                b := byte(0, mload(ptr))
            }
            if (b < 0x80) return 0;
        }
        if (len < 56) return 1;
        return 1 + byteLength(len);
    }

    /// @notice Length of an integer's RLP encoding.
    function uintLength(uint256 v) private pure returns (uint256) {
        if (v < 0x80) return 1;
        return 1 + byteLength(v);
    }

    /// @notice Bytes needed for `v`.
    function byteLength(uint256 v) private pure returns (uint256 n) {
        while (v != 0) {
            v >>= 8;
            n++;
        }
    }

    /// @notice Writes the byte `b` at `p`.
    function putByte(uint256 p, uint256 b) private pure returns (uint256) {
        assembly ("memory-safe") {
            mstore8(p, b)
        }
        return p + 1;
    }

    /// @notice Writes the low `n` (1..32) bytes of `v` big-endian at `p` (and zeros after them
    ///         up to `p + 32`).
    function putWord(uint256 p, uint256 v, uint256 n) private pure returns (uint256) {
        assembly ("memory-safe") {
            mstore(p, shl(sub(256, shl(3, n)), v))
        }
        return p + n;
    }

    /// @notice Writes the RLP encoding of the integer `v`.
    function putUint(uint256 p, uint256 v) private pure returns (uint256) {
        if (v == 0) return putByte(p, 0x80);
        if (v < 0x80) return putByte(p, v);
        uint256 n = byteLength(v);
        return putWord(putByte(p, 0x80 + n), v, n);
    }

    /// @notice Writes the RLP header of a string (`base` 0x80) or list (`base` 0xc0) whose
    ///         payload is `len` bytes.
    function putLengthHeader(uint256 p, uint256 base, uint256 len) private pure returns (uint256) {
        if (len < 56) return putByte(p, base + len);
        uint256 n = byteLength(len);
        return putWord(putByte(p, base + 55 + n), len, n);
    }

    /// @notice The number of zero bytes of memory `[ptr, ptr + len)`, a word at a time (as
    ///         `UserTx` counts them in calldata).
    function zeroBytes(uint256 ptr, uint256 len) private pure returns (uint256 zeros) {
        assembly ("memory-safe") {
            let ones := 0x0101010101010101010101010101010101010101010101010101010101010101
            let end := add(ptr, len)
            for { let p := ptr } lt(p, end) { p := add(p, 32) } {
                let w := mload(p)
                let n := sub(end, p)
                if lt(n, 32) { w := and(w, not(sub(shl(sub(256, shl(3, n)), 1), 1))) }
                if gt(n, 32) { n := 32 }
                // Bit 0 of each byte: whether the byte is non-zero; their sum is the top byte
                // of the product.
                let y := or(w, shr(4, w))
                y := or(y, shr(2, y))
                y := and(or(y, shr(1, y)), ones)
                zeros := add(zeros, sub(n, shr(248, mul(y, ones))))
            }
        }
    }

    /// @notice The word-tree root of memory `[ptr, ptr + len)` (`WordTree.root`, which reads
    ///         calldata, over memory), hashed in place: the bytes are overwritten, and the word
    ///         after them is zeroed.
    function wordRoot(uint256 ptr, uint256 len) private pure returns (bytes32 result) {
        uint256 depth = WordTree.DEPTH;
        assembly ("memory-safe") {
            let words := shr(5, add(len, 31))
            // Zero the padding of the last word.
            let tail := add(ptr, len)
            if lt(tail, add(ptr, shl(5, words))) { mstore(tail, 0) }
            let zero := 0 // the root of an all-zero subtree of the current height
            let count := words
            for { let h := 0 } lt(h, depth) { h := add(h, 1) } {
                // Siblings are adjacent: hash each pair in place; an odd last node pairs with
                // the zero subtree.
                let src := ptr
                let out := ptr
                for { let pairsEnd := add(ptr, shl(6, shr(1, count))) } lt(src, pairsEnd) {
                    src := add(src, 64)
                    out := add(out, 32)
                } { mstore(out, keccak256(src, 64)) }
                if and(count, 1) {
                    mstore(0x00, mload(src))
                    mstore(0x20, zero)
                    mstore(out, keccak256(0x00, 0x40))
                }
                count := shr(1, add(count, 1))
                mstore(0x00, zero)
                mstore(0x20, zero)
                zero := keccak256(0x00, 0x40)
            }
            result := zero
            if count { result := mload(ptr) }
        }
    }
}
