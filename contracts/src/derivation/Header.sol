// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {Rlp} from "./Rlp.sol";

/// @title Header
/// @notice An RLP block header, in calldata or in memory, to its fields, exactly as
///         `alloy_consensus::Header` (alloy 2.5) decodes it with `alloy_rlp::decode_exact`: the
///         bytes are accepted exactly when alloy accepts them, and then every field below is
///         alloy's. Used for the parent L2 header (our blocks set the London to Cancun fields:
///         `fraud_vm::block::l2_header`; the derivation program reads it from an oracle answer
///         in memory) and for L1 headers (anvil's Cancun and Prague blocks).
/// @dev The header is one RLP list, ending exactly at the end of the bytes, of the 15 fields
///      every header has (`parentHash` to `nonce`) followed by 0 to 8 optional fields, which
///      alloy reads in order while the list has bytes left: `baseFeePerGas` (London),
///      `withdrawalsRoot` (Shanghai), `blobGasUsed` and `excessBlobGas` (Cancun; alloy takes
///      either alone), `parentBeaconBlockRoot` (Cancun), `requestsHash` (Prague),
///      `blockAccessListHash` and `slotNumber` (Amsterdam). Every item is strict RLP
///      ({Rlp}); the fixed-size fields have exactly their size (20, 32, 256 or 8 bytes); the
///      integers are canonical and at most 8 bytes, `difficulty` at most 32. Reverts with
///      {InvalidHeader} otherwise.
library Header {
    using Rlp for Rlp.Reader;

    /// @notice The bytes are not a header alloy decodes.
    error InvalidHeader();

    /// @notice Bytes of a logs bloom.
    uint256 internal constant BLOOM_LEN = 256;

    /// @notice A decoded header. The logs bloom and the extra data are given by their
    ///         `keccak256`.
    struct Fields {
        bytes32 hash;
        bytes32 parentHash;
        bytes32 ommersHash;
        address beneficiary;
        bytes32 stateRoot;
        bytes32 transactionsRoot;
        bytes32 receiptsRoot;
        bytes32 logsBloomHash;
        uint256 difficulty;
        uint256 number;
        uint256 gasLimit;
        uint256 gasUsed;
        uint256 timestamp;
        bytes32 extraDataHash;
        uint256 extraDataLen;
        bytes32 mixHash;
        bytes8 nonce;
        Optional optional;
    }

    /// @notice The optional fields: field `i` below is present when `i < count`, and zero when
    ///         absent (so `baseFeePerGas` is present when `count >= 1`).
    struct Optional {
        uint256 count;
        uint256 baseFeePerGas;
        bytes32 withdrawalsRoot;
        uint256 blobGasUsed;
        uint256 excessBlobGas;
        bytes32 parentBeaconBlockRoot;
        bytes32 requestsHash;
        bytes32 blockAccessListHash;
        uint256 slotNumber;
    }

    /// @notice Decodes `raw`; `hash` is `keccak256(raw)`, the block hash.
    function decode(bytes calldata raw) internal pure returns (Fields memory h) {
        uint256 start;
        assembly ("memory-safe") {
            start := raw.offset
        }
        read(Rlp.reader(start, start + raw.length), h);
        h.hash = keccak256(raw);
    }

    /// @notice {decode} of a header in memory (an oracle answer).
    function decodeMemory(bytes memory raw) internal pure returns (Fields memory h) {
        uint256 start;
        assembly ("memory-safe") {
            start := add(raw, 0x20)
        }
        read(Rlp.memoryReader(start, start + raw.length), h);
        h.hash = keccak256(raw);
    }

    /// @notice Reads the fields of the header `outer` spans exactly (all but `hash`) into `h`:
    ///         the one decoder behind {decode} and {decodeMemory}.
    function read(Rlp.Reader memory outer, Fields memory h) private pure {
        Rlp.Reader memory f = outer.readList();
        h.parentHash = f.readFixed(32);
        h.ommersHash = f.readFixed(32);
        h.beneficiary = address(bytes20(f.readFixed(20)));
        h.stateRoot = f.readFixed(32);
        h.transactionsRoot = f.readFixed(32);
        h.receiptsRoot = f.readFixed(32);
        uint256 bloomLen;
        (h.logsBloomHash, bloomLen) = readHashed(f);
        if (bloomLen != BLOOM_LEN) f.bad = true;
        h.difficulty = f.readUint(32);
        h.number = f.readUint(8);
        h.gasLimit = f.readUint(8);
        h.gasUsed = f.readUint(8);
        h.timestamp = f.readUint(8);
        (h.extraDataHash, h.extraDataLen) = readHashed(f);
        h.mixHash = f.readFixed(32);
        h.nonce = bytes8(f.readFixed(8));
        readOptional(f, h.optional);
        if (!outer.done() || !f.done()) revert InvalidHeader();
    }

    /// @notice Reads the optional fields present, in order, counting them.
    function readOptional(Rlp.Reader memory f, Optional memory o) private pure {
        if (!more(f)) return;
        o.baseFeePerGas = f.readUint(8);
        o.count = 1;
        if (!more(f)) return;
        o.withdrawalsRoot = f.readFixed(32);
        o.count = 2;
        if (!more(f)) return;
        o.blobGasUsed = f.readUint(8);
        o.count = 3;
        if (!more(f)) return;
        o.excessBlobGas = f.readUint(8);
        o.count = 4;
        if (!more(f)) return;
        o.parentBeaconBlockRoot = f.readFixed(32);
        o.count = 5;
        if (!more(f)) return;
        o.requestsHash = f.readFixed(32);
        o.count = 6;
        if (!more(f)) return;
        o.blockAccessListHash = f.readFixed(32);
        o.count = 7;
        if (!more(f)) return;
        o.slotNumber = f.readUint(8);
        o.count = 8;
        // Anything after the eighth optional field leaves `f` short of its end: refused.
    }

    /// @notice True when `f` read without a refusal and has bytes left (alloy's "consumed less
    ///         than the payload" test before each optional field).
    function more(Rlp.Reader memory f) private pure returns (bool) {
        return !f.bad && f.pos < f.end;
    }

    /// @notice Reads a byte string: the `keccak256` of its payload and its length.
    function readHashed(Rlp.Reader memory f) private pure returns (bytes32 h, uint256 len) {
        uint256 start;
        (start, len) = f.readBytes();
        bool inMemory = f.inMemory;
        assembly ("memory-safe") {
            if iszero(inMemory) {
                let p := mload(0x40)
                calldatacopy(p, start, len)
                start := p
            }
            h := keccak256(start, len)
        }
    }
}
