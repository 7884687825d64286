// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Rlp} from "./Rlp.sol";
import {WordTree} from "../lib/WordTree.sol";

/// @title UserTx
/// @notice A batch transaction's bytes to the step machine's input item: the derivation rule's
///         transaction check (`fraud_vm::batch::decode_user_tx`) and `TxInput::from_tx`
///         (`fraud-vm/src/vm/verifier/input.rs`), which this library mirrors exactly.
/// @dev A transaction is valid when its bytes are the canonical EIP-2718 encoding of a legacy
///      (EIP-155), EIP-2930 or EIP-1559 transaction whose chain id is the chain's, whose `s` is
///      at most `n/2` (EIP-2), and whose signature recovers a sender (`ecrecover` semantics: `r`
///      and `s` in `[1, n)`, a recoverable point). Anything else (another type, a legacy `v` of
///      27/28, trailing bytes, any encoding `alloy-rlp` refuses) is invalid: derivation skips it.
library UserTx {
    using Rlp for Rlp.Reader;

    /// @notice One input item, in `fraud_vm::vm::input::TxInput`'s word order (the recipient as
    ///         `isCreate, to`; the access-list counts as `addresses, keys`).
    struct TxInput {
        bytes32 txHash;
        uint256 txType;
        address sender;
        uint256 nonce;
        uint256 gasLimit;
        bool isCreate;
        address to;
        uint256 value;
        uint256 maxFeePerGas;
        uint256 maxPriorityFeePerGas;
        uint256 inputLen;
        bytes32 inputRoot;
        uint256 inputZeroBytes;
        uint256 accessListAddresses;
        uint256 accessListKeys;
        bytes32 accessListHash;
        uint256 mint;
        uint256 encodedLen;
    }

    /// @notice secp256k1's group order over two (EIP-2's bound on `s`).
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice Where the transaction (`base`), its input and its signed fields lie in the
    ///         calldata, and its signature.
    struct Span {
        uint256 base;
        uint256 dataStart;
        uint256 fieldsStart;
        uint256 sigStart;
        uint256 parity;
        uint256 r;
        uint256 s;
    }

    /// @notice `keccak256(abi.encode(input))`: the item's leaf in the input tree.
    function hash(TxInput memory input) internal pure returns (bytes32) {
        return keccak256(abi.encode(input));
    }

    /// @notice Decodes and checks `raw`; `valid` is false when derivation skips it (`t` is then
    ///         meaningless).
    function decode(bytes calldata raw, uint256 chainId)
        internal
        pure
        returns (bool valid, TxInput memory t)
    {
        Span memory span;
        assembly ("memory-safe") {
            mstore(span, raw.offset)
        }
        // A chain id is a uint64 (as `alloy` decodes it): no transaction is valid for a larger one.
        if (raw.length == 0 || chainId > type(uint64).max) return (false, t);
        Rlp.Reader memory f;
        {
            uint256 first = Rlp.byteAt(span.base);
            if (first == 1 || first == 2) t.txType = first;
            else if (first < 0xc0) return (false, t);
            Rlp.Reader memory outer = Rlp.reader(span.base + (t.txType == 0 ? 0 : 1), span.base + raw.length);
            f = outer.readList();
            if (!outer.done()) return (false, t);
        }
        span.fieldsStart = f.pos;
        if (t.txType != 0 && f.readUint(8) != chainId) return (false, t);
        t.nonce = f.readUint(8);
        if (t.txType == 2) t.maxPriorityFeePerGas = f.readUint(16);
        t.maxFeePerGas = f.readUint(16);
        if (t.txType != 2) t.maxPriorityFeePerGas = t.maxFeePerGas;
        t.gasLimit = f.readUint(8);
        {
            (uint256 toStart, uint256 toLen) = f.readBytes();
            if (toLen == 20) t.to = address(uint160(Rlp.uintAt(toStart, 20)));
            else if (toLen == 0) t.isCreate = true;
            else return (false, t);
        }
        t.value = f.readUint(32);
        (span.dataStart, t.inputLen) = f.readBytes();
        if (t.txType != 0) readAccessList(f, t);
        span.sigStart = f.pos;
        if (!readSignature(f, t.txType, chainId, span)) return (false, t);
        t.sender = ecrecover(signingHash(t.txType, chainId, span), uint8(27 + span.parity), bytes32(span.r), bytes32(span.s));
        if (t.sender == address(0)) return (false, t);
        t.txHash = keccak256(raw);
        uint256 dataAt = span.dataStart - span.base;
        t.inputRoot = WordTree.root(raw[dataAt:dataAt + t.inputLen]);
        t.inputZeroBytes = zeroBytes(span.dataStart, t.inputLen);
        t.encodedLen = raw.length;
        return (true, t);
    }

    /// @notice Reads `v` (legacy: `2·chainId + 35 + parity`, EIP-155) or the y-parity (typed:
    ///         0 or 1), `r` and `s` into `span`; true when they end the list and `s <= n/2`.
    function readSignature(Rlp.Reader memory f, uint256 txType, uint256 chainId, Span memory span)
        private
        pure
        returns (bool)
    {
        if (txType == 0) {
            uint256 v = f.readUint(16);
            if (v != 2 * chainId + 35 && v != 2 * chainId + 36) return false;
            span.parity = v - 2 * chainId - 35;
        } else {
            span.parity = f.readUint(1);
            if (span.parity > 1) return false;
        }
        span.r = f.readUint(32);
        span.s = f.readUint(32);
        return f.done() && span.s <= HALF_N;
    }

    /// @notice The hash the sender signed: for a typed transaction
    ///         `keccak256(type ‖ rlp([fields up to the signature]))`, for a legacy one
    ///         `keccak256(rlp([fields up to the signature, chainId, 0, 0]))` (EIP-155).
    function signingHash(uint256 txType, uint256 chainId, Span memory span) private pure returns (bytes32 h) {
        uint256 fieldsLen = span.sigStart - span.fieldsStart;
        (uint256 idEnc, uint256 idLen) = Rlp.encodeUint(chainId);
        uint256 payload = txType == 0 ? fieldsLen + idLen + 2 : fieldsLen;
        (uint256 header, uint256 headerLen) = Rlp.listHeader(payload);
        uint256 fieldsStart = span.fieldsStart;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            let p := buf
            if txType {
                mstore8(p, txType)
                p := add(p, 1)
            }
            mstore(p, shl(sub(256, shl(3, headerLen)), header))
            p := add(p, headerLen)
            calldatacopy(p, fieldsStart, fieldsLen)
            p := add(p, fieldsLen)
            if iszero(txType) {
                mstore(p, shl(sub(256, shl(3, idLen)), idEnc))
                p := add(p, idLen)
                mstore(p, shl(240, 0x8080))
                p := add(p, 2)
            }
            h := keccak256(buf, sub(p, buf))
        }
    }

    /// @notice Reads an access list into `t`: the counts, and the hash chain of its entries from
    ///         the last back (`input::access_list_hash`), each entry
    ///         `keccak256(address ‖ uint8 kind ‖ slot)` (kind 0 for the address, 1 for a key).
    function readAccessList(Rlp.Reader memory f, TxInput memory t) private pure {
        Rlp.Reader memory items = f.readList();
        // Each entry takes at least 21 bytes of the list, so this bounds their number.
        bytes32[] memory entries = new bytes32[]((items.end - items.pos) / 21 + 1);
        uint256 n;
        while (!items.bad && items.pos < items.end) {
            Rlp.Reader memory item = items.readList();
            bytes32 addr = item.readFixed(20);
            entries[n++] = entryHash(addr, 0, 0);
            t.accessListAddresses++;
            Rlp.Reader memory keys = item.readList();
            while (!keys.bad && keys.pos < keys.end) {
                entries[n++] = entryHash(addr, 1, keys.readFixed(32));
                t.accessListKeys++;
            }
            if (!keys.done() || !item.done()) items.bad = true;
        }
        if (!items.done()) f.bad = true;
        bytes32 chain;
        while (n > 0) {
            chain = keccak256(abi.encodePacked(chain, entries[--n]));
        }
        t.accessListHash = chain;
    }

    /// @notice `keccak256(address ‖ uint8 kind ‖ slot)` (`AccessEntry::hash`).
    function entryHash(bytes32 addr, uint8 kind, bytes32 slot) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes20(addr), kind, slot));
    }

    /// @notice The number of zero bytes in the calldata range `[start, start + len)`, a word at
    ///         a time.
    function zeroBytes(uint256 start, uint256 len) private pure returns (uint256 zeros) {
        assembly ("memory-safe") {
            let ones := 0x0101010101010101010101010101010101010101010101010101010101010101
            for { let p := start } lt(p, add(start, len)) { p := add(p, 32) } {
                let w := calldataload(p)
                let n := sub(add(start, len), p)
                if lt(n, 32) {
                    // Keep the range's bytes only.
                    w := and(w, not(sub(shl(sub(256, shl(3, n)), 1), 1)))
                }
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
}
