// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

/// @title Rlp
/// @notice Strict RLP reading over calldata or memory: exactly the encodings `alloy-rlp`
///         decodes, so the derivation program accepts a transaction's bytes exactly when the
///         Rust rule (`fraud_vm::batch::decode_user_tx`) does. One reader serves both places:
///         batch transactions are read in the call data, oracle answers (the parent header) in
///         memory; positions are calldata offsets or memory addresses accordingly.
/// @dev Refused, as `alloy-rlp` refuses them: an item running past its enclosing item; a single
///      byte below 0x80 written with a length prefix (`0x81 0x05`); a long-form length below 56
///      or with a leading zero byte; an integer with a leading zero byte (so zero is `0x80`, and
///      the single byte `0x00` is refused) or longer than its type. Reading never reverts: a
///      refusal sets `bad`, and every later read of that reader returns zeros, so a caller
///      checks `bad` once at the end.
library Rlp {
    /// @notice A reading position and the end of the enclosing item, in calldata or (when
    ///         `inMemory`) in memory.
    struct Reader {
        uint256 pos;
        uint256 end;
        bool bad;
        bool inMemory;
    }

    /// @notice One item: its kind and its payload's range (in its reader's place).
    struct Item {
        bool list;
        uint256 start;
        uint256 len;
    }

    /// @notice A reader over the calldata range `[start, end)`.
    function reader(uint256 start, uint256 end) internal pure returns (Reader memory) {
        return Reader(start, end, false, false);
    }

    /// @notice A reader over the memory range `[start, end)` (addresses).
    function memoryReader(uint256 start, uint256 end) internal pure returns (Reader memory) {
        return Reader(start, end, false, true);
    }

    /// @notice A reader over a list item's payload, read by `r`.
    function open(Reader memory r, Item memory list) internal pure returns (Reader memory inner) {
        inner = Reader(list.start, list.start + list.len, !list.list, r.inMemory);
    }

    /// @notice True when `r` read without a refusal and is exactly at its end.
    function done(Reader memory r) internal pure returns (bool) {
        return !r.bad && r.pos == r.end;
    }

    /// @notice The byte of calldata at `pos`.
    function byteAt(uint256 pos) internal pure returns (uint256 b) {
        assembly ("memory-safe") {
            b := byte(0, calldataload(pos))
        }
    }

    /// @notice `n` (1..32) calldata bytes at `pos` as a big-endian integer.
    function uintAt(uint256 pos, uint256 n) internal pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := shr(sub(256, shl(3, n)), calldataload(pos))
        }
    }

    /// @notice Reads the next item's header and moves past the item. The header is read from
    ///         one word: its first byte, and the byte or the (at most 8) length bytes after it.
    /// @dev Every read of the reader is one word at a position, from calldata or from memory
    ///      as `r.inMemory` says (the same three-line load here, in {readUint} and in
    ///      {readFixed}, inlined: a call per read costs the transaction check ~10% more steps).
    ///      Bytes past the end of the call data read as zero, past a memory range whatever
    ///      memory holds: every use masks them.
    function next(Reader memory r) internal pure returns (Item memory it) {
        uint256 pos = r.pos;
        if (r.bad || pos >= r.end) {
            r.bad = true;
            return it;
        }
        uint256 w;
        assembly ("memory-safe") {
            switch mload(add(r, 0x60)) // r.inMemory
            case 0 { w := calldataload(pos) }
            default { w := mload(pos) }
        }
        uint256 b = w >> 248;
        if (b < 0x80) {
            (it.start, it.len) = (pos, 1);
        } else if (b < 0xb8) {
            (it.start, it.len) = (pos + 1, b - 0x80);
            // A single byte below 0x80 is its own encoding.
            if (it.len == 1 && (pos + 1 >= r.end || uint8(w >> 240) < 0x80)) r.bad = true;
        } else if (b < 0xc0) {
            (it.start, it.len) = longLength(r, pos, w, b - 0xb7);
        } else if (b < 0xf8) {
            (it.list, it.start, it.len) = (true, pos + 1, b - 0xc0);
        } else {
            it.list = true;
            (it.start, it.len) = longLength(r, pos, w, b - 0xf7);
        }
        if (it.start + it.len > r.end) r.bad = true;
        if (r.bad) return Item(false, 0, 0);
        r.pos = it.start + it.len;
    }

    /// @notice The long-form length of `n` (1..8) bytes after the prefix at `pos`, whose word
    ///         is `w`: no leading zero, at least 56.
    function longLength(Reader memory r, uint256 pos, uint256 w, uint256 n)
        private
        pure
        returns (uint256 start, uint256 len)
    {
        start = pos + 1 + n;
        if (start > r.end || uint8(w >> 240) == 0) {
            r.bad = true;
            return (0, 0);
        }
        assembly ("memory-safe") {
            len := shr(sub(256, shl(3, n)), shl(8, w))
        }
        if (len < 56) r.bad = true;
    }

    /// @notice An unsigned integer of at most `maxBytes` bytes, canonically encoded.
    function readUint(Reader memory r, uint256 maxBytes) internal pure returns (uint256 v) {
        Item memory it = next(r);
        uint256 len = it.len;
        if (it.list || len > maxBytes) {
            r.bad = true;
            return 0;
        }
        if (len == 0) return 0;
        uint256 w;
        assembly ("memory-safe") {
            let at := mload(add(it, 0x20)) // it.start
            switch mload(add(r, 0x60)) // r.inMemory
            case 0 { w := calldataload(at) }
            default { w := mload(at) }
        }
        if (w >> 248 == 0) {
            r.bad = true;
            return 0;
        }
        assembly ("memory-safe") {
            v := shr(sub(256, shl(3, len)), w)
        }
    }

    /// @notice A byte string's range (in `r`'s place).
    function readBytes(Reader memory r) internal pure returns (uint256 start, uint256 len) {
        Item memory it = next(r);
        if (it.list) r.bad = true;
        return (it.start, it.len);
    }

    /// @notice A byte string of exactly `n` (1..32) bytes, left-aligned in a word.
    function readFixed(Reader memory r, uint256 n) internal pure returns (bytes32 v) {
        Item memory it = next(r);
        if (it.list || it.len != n) {
            r.bad = true;
            return 0;
        }
        assembly ("memory-safe") {
            let at := mload(add(it, 0x20)) // it.start
            let w := 0
            switch mload(add(r, 0x60)) // r.inMemory
            case 0 { w := calldataload(at) }
            default { w := mload(at) }
            v := and(w, not(sub(shl(sub(256, shl(3, n)), 1), 1)))
        }
    }

    /// @notice A list item, opened.
    function readList(Reader memory r) internal pure returns (Reader memory inner) {
        inner = open(r, next(r));
        if (r.bad) inner.bad = true;
    }

    /// @notice The RLP header of a list whose payload is `len` bytes, right-aligned in `h`, and
    ///         its length in bytes.
    function listHeader(uint256 len) internal pure returns (uint256 h, uint256 n) {
        if (len < 56) return (0xc0 + len, 1);
        uint256 lenOfLen = byteLength(len);
        return (((0xf7 + lenOfLen) << (8 * lenOfLen)) | len, 1 + lenOfLen);
    }

    /// @notice The RLP encoding of the integer `v`, right-aligned in `e`, and its length.
    function encodeUint(uint256 v) internal pure returns (uint256 e, uint256 n) {
        if (v == 0) return (0x80, 1);
        if (v < 0x80) return (v, 1);
        n = byteLength(v);
        return (((0x80 + n) << (8 * n)) | v, 1 + n);
    }

    /// @notice Bytes needed for `v` (`v > 0`, at most 31 here).
    function byteLength(uint256 v) private pure returns (uint256 n) {
        while (v != 0) {
            v >>= 8;
            n++;
        }
    }
}
