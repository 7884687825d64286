// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.37;

import {UserTx} from "./UserTx.sol";

/// @title BatchRecord
/// @notice One block record of a version-0 batch to the block it derives, given what the
///         previous block leaves: the batch rules of `fraud_vm::batch` (`Batch::decode`,
///         `Batch::continues`, `BatchBlock::check`, `execute::block_timestamp`) and the
///         record's transaction section (`decode_user_tx`, `TxInput::from_tx`,
///         `vm::input::root`), which this library mirrors exactly.
/// @dev The batch is read from calldata, never copied whole. Version 0 (`fraud_vm::batch`
///      module docs): `version u8 = 0, firstBlock u64, parentHash 32, blockCount u32 >= 1`,
///      then per block `timestamp u64, gasLimit u64, prevrandao 32, extraLen u8 <= 32,
///      extraData, originNumber u64, originHash 32, delayedRead u64, txCount u32`, and per
///      transaction `txLen u32 >= 1` and its bytes; integers big-endian, nothing after the
///      last block. Not checked here: the rule that an origin is L1's block of that number
///      (`BatchBlock::check_origin`, `InvalidBatch::OriginNotOnL1`), which needs L1 headers.
library BatchRecord {
    /// @notice What deriving one record needs: the derived head, the chain, where the record
    ///         is, the newest L1 origin so far and the L1 block that appended the batch.
    struct Context {
        /// The derived head (block n - 1): number, hash and timestamp.
        uint64 parentNumber;
        bytes32 parentHash;
        uint64 parentTimestamp;
        /// The chain's id (transactions signed for another are skipped).
        uint64 chainId;
        /// Byte offset in the batch of the record to derive; 0: the batch is being opened
        /// (the whole batch is decoded and its continuity checked, then its first record is
        /// derived).
        uint64 position;
        /// `DerivedParent.origin`: the newest L1 origin of a block at or below the head.
        bool hasOrigin;
        uint64 originNumber;
        bytes32 originHash;
        /// `AppendedIn`: the L1 block that appended the batch.
        uint64 l1BlockNumber;
        uint64 l1Timestamp;
    }

    /// @notice What one record derives. With status {NOTHING} every field but `reason` is zero.
    struct Record {
        /// {DERIVED}: a block is derived; {NOTHING}: the batch, or its tail from this record
        /// on, derives nothing.
        uint8 status;
        /// With {NOTHING}: the rule broken ({UNDECODABLE} .. {ORIGIN_TOO_OLD}); else 0.
        uint8 reason;
        /// The stamped timestamp, `block_timestamp(parentTimestamp, record.timestamp)`.
        uint64 timestamp;
        uint64 gasLimit;
        bytes32 prevrandao;
        /// `keccak256(extraData)`.
        bytes32 extraDataHash;
        /// The record's L1 origin (a record with origin number and hash both zero has none).
        bool hasOrigin;
        uint64 originNumber;
        bytes32 originHash;
        uint64 delayedRead;
        /// The valid user transactions and their input-tree root (`txInputs`).
        uint64 txCount;
        bytes32 inputsRoot;
        /// Byte offset of the batch's next record; 0 when this record was the last.
        uint64 nextPosition;
    }

    /// @notice {Record.status}: a block is derived.
    uint8 internal constant DERIVED = 0;
    /// @notice {Record.status}: nothing is derived from this record on.
    uint8 internal constant NOTHING = 1;

    /// @notice {Record.reason}: the data does not `Batch::decode` (version, truncation,
    ///         trailing bytes, `blockCount = 0`, `extraLen > 32`, an empty transaction).
    uint8 internal constant UNDECODABLE = 1;
    /// @notice {Record.reason}: `Batch::continues` is `Ok(false)`, the batch holds no block.
    ///         Version-0 decoding refuses `blockCount = 0`, so a decoded batch never has this
    ///         reason; the code mirrors `continues` for a format that would allow it.
    uint8 internal constant NO_BLOCKS = 2;
    /// @notice {Record.reason}: `InvalidBatch::Gap`.
    uint8 internal constant GAP = 3;
    /// @notice {Record.reason}: `InvalidBatch::Overlap`.
    uint8 internal constant OVERLAP = 4;
    /// @notice {Record.reason}: `InvalidBatch::ParentHash`.
    uint8 internal constant PARENT_HASH = 5;
    /// @notice {Record.reason}: `InvalidBatch::OriginWithoutRoom`.
    uint8 internal constant ORIGIN_WITHOUT_ROOM = 6;
    /// @notice {Record.reason}: `InvalidBatch::GasLimit`.
    uint8 internal constant GAS_LIMIT = 7;
    /// @notice {Record.reason}: `InvalidBatch::TimestampLead`.
    uint8 internal constant TIMESTAMP_LEAD = 8;
    /// @notice {Record.reason}: `InvalidBatch::OriginBack`.
    uint8 internal constant ORIGIN_BACK = 9;
    /// @notice {Record.reason}: `InvalidBatch::OriginNotPast`.
    uint8 internal constant ORIGIN_NOT_PAST = 10;
    /// @notice {Record.reason}: `InvalidBatch::OriginTooOld`.
    uint8 internal constant ORIGIN_TOO_OLD = 11;

    /// @notice `fraud_vm::batch::BATCH_HEADER_LEN`: version, firstBlock, parentHash, blockCount.
    uint256 internal constant HEADER_LEN = 45;
    /// @notice `fraud_vm::batch::MAX_EXTRA_DATA`.
    uint256 internal constant MAX_EXTRA_DATA = 32;
    /// @notice A record's bytes before its extraData: timestamp, gasLimit, prevrandao, extraLen.
    uint256 private constant HEAD_LEN = 8 + 8 + 32 + 1;
    /// @notice A record's bytes from its extraData to its transaction section: originNumber,
    ///         originHash, delayedRead.
    uint256 private constant MID_LEN = 8 + 32 + 8;
    /// @notice `fraud_vm::batch::MAX_BLOCK_GAS_LIMIT`.
    uint256 internal constant MAX_BLOCK_GAS_LIMIT = 1 << 32;
    /// @notice `fraud_vm::batch::MAX_TIMESTAMP_LEAD_SECS`.
    uint256 internal constant MAX_TIMESTAMP_LEAD_SECS = 3600;
    /// @notice `fraud_vm::batch::MIN_ORIGIN_GAS_LIMIT`: the L1-info deposit's gas limit plus
    ///         the largest deposit's (`Portal.MAX_GAS_LIMIT`).
    uint256 internal constant MIN_ORIGIN_GAS_LIMIT = 21_000_000;
    /// @notice `fraud_vm::batch::FORCED_BLOCK_GAS_LIMIT`: the L1-info deposit's gas limit plus
    ///         `MAX_FORCED_DEPOSITS` (16) of the largest deposit's.
    uint256 internal constant FORCED_BLOCK_GAS_LIMIT = 321_000_000;
    /// @notice `fraud_vm::batch::MAX_ORIGIN_AGE`, in L1 blocks.
    uint256 internal constant MAX_ORIGIN_AGE = 3600;
    /// @notice `fraud_vm::execute::MIN_BLOCK_INTERVAL_SECS`.
    uint256 internal constant MIN_BLOCK_INTERVAL_SECS = 1;
    uint256 private constant U64_MAX = type(uint64).max;

    /// @notice The data is not what the caller says it is: a transaction section that is not
    ///         exactly `txCount u32` and that many length-prefixed transactions, or a record
    ///         position that is not inside the batch (`offset`: where reading failed).
    error Malformed(uint256 offset);

    /// @notice Derives the record at `ctx.position` of `batch` on the head `ctx` describes.
    ///
    ///         Opening (`position = 0`): the batch must `Batch::decode` ({UNDECODABLE}) and
    ///         continue the head (`Batch::continues`: {GAP}, {OVERLAP}, {PARENT_HASH}); then its
    ///         first record is derived. Later records (`position != 0`) were validated when the
    ///         batch was opened: a position that is not inside the batch, or a record that does
    ///         not frame, reverts with {Malformed}.
    ///
    ///         The record must pass `BatchBlock::check` ({GAS_LIMIT}, {TIMESTAMP_LEAD},
    ///         {ORIGIN_WITHOUT_ROOM}, {ORIGIN_BACK}, {ORIGIN_NOT_PAST}, {ORIGIN_TOO_OLD}, in that
    ///         order); a record
    ///         that fails derives nothing, nor do the records after it.
    function derive(bytes calldata batch, Context memory ctx) internal pure returns (Record memory r) {
        uint256 txsAt;
        (r, txsAt) = read(batch, ctx);
        if (r.status != DERIVED) return r;
        (uint256 count, bytes32 inputsRoot) = addInputs(batch, r, txsAt, new bytes32[](0), 0, ctx.chainId);
        (r.txCount, r.inputsRoot) = (uint64(count), inputsRoot);
    }

    /// @notice {derive} up to the record's transaction section: the checks, and the record's
    ///         fields but `txCount`, `inputsRoot` and `nextPosition` ({addInputs} completes
    ///         those). With {DERIVED}, `txsAt` is where the record's transaction section starts.
    function read(bytes calldata batch, Context memory ctx) internal pure returns (Record memory r, uint256 txsAt) {
        uint256 pos = ctx.position;
        if (pos == 0) {
            if (!decodes(batch)) return (nothing(UNDECODABLE), 0);
            uint8 why = continues(batch, ctx.parentNumber, ctx.parentHash);
            if (why != 0) return (nothing(why), 0);
            pos = HEADER_LEN;
        } else if (pos < HEADER_LEN || pos >= batch.length) {
            revert Malformed(pos);
        }
        txsAt = readRecord(batch, pos, r);
        uint8 broken = check(r, ctx);
        if (broken != 0) return (nothing(broken), 0);
    }

    /// @notice The block's input list: the first `l1Count` of `l1Leaves` (the leaves of its L1
    ///         inputs) followed by the record's valid transactions at `txsAt` ({txInputs}); its
    ///         length and `vm::input::root`. Sets `r.nextPosition`.
    function addInputs(
        bytes calldata batch,
        Record memory r,
        uint256 txsAt,
        bytes32[] memory l1Leaves,
        uint256 l1Count,
        uint256 chainId
    ) internal pure returns (uint256 count, bytes32 inputsRoot) {
        uint256 end;
        (count, inputsRoot, end) = txInputs(batch, txsAt, chainId, l1Leaves, l1Count);
        // The batch decoded when opened, so a record ends at the batch's end only if it is the
        // last.
        r.nextPosition = end == batch.length ? 0 : uint64(end);
    }

    /// @notice A record that derives nothing, for `reason`.
    function nothing(uint8 reason) private pure returns (Record memory r) {
        (r.status, r.reason) = (NOTHING, reason);
    }

    /// @notice `Batch::decode` succeeds: version 0, `blockCount >= 1`, every record's
    ///         `extraLen <= 32` and every transaction's `txLen >= 1`, no field past the end and
    ///         no byte after the last record. Transactions are framed, not decoded.
    function decodes(bytes calldata batch) internal pure returns (bool) {
        uint256 len = batch.length;
        if (len < HEADER_LEN || uint8(batch[0]) != 0) return false;
        uint256 blocks = uint32(bytes4(batch[41:45]));
        if (blocks == 0) return false;
        uint256 pos = HEADER_LEN;
        for (uint256 b; b < blocks; b++) {
            // Each round reads at least one byte, so the loop ends within `len` rounds.
            if (len < pos + HEAD_LEN) return false;
            uint256 extraLen = uint8(batch[pos + HEAD_LEN - 1]);
            if (extraLen > MAX_EXTRA_DATA) return false;
            pos += HEAD_LEN + extraLen + MID_LEN;
            if (len < pos + 4) return false;
            uint256 txs = uint32(bytes4(batch[pos:pos + 4]));
            pos += 4;
            for (uint256 t; t < txs; t++) {
                if (len < pos + 4) return false;
                uint256 txLen = uint32(bytes4(batch[pos:pos + 4]));
                pos += 4;
                if (txLen == 0 || len < pos + txLen) return false;
                pos += txLen;
            }
        }
        return pos == len;
    }

    /// @notice `Batch::continues` on the head `(head, headHash)`: 0 when the batch's first block
    ///         is `head + 1` and its parent hash `headHash`, else the reason. `head + 1` is
    ///         checked as a `u64` (`checked_add`): nothing follows block `2^64 - 1`, an overlap.
    function continues(bytes calldata batch, uint256 head, bytes32 headHash) internal pure returns (uint8) {
        if (uint32(bytes4(batch[41:45])) == 0) return NO_BLOCKS;
        if (head == U64_MAX) return OVERLAP;
        uint256 first = uint64(bytes8(batch[1:9]));
        if (first > head + 1) return GAP;
        if (first < head + 1) return OVERLAP;
        if (bytes32(batch[9:41]) != headHash) return PARENT_HASH;
        return 0;
    }

    /// @notice Reads the record at `pos` into `r` (its fields but the transaction section's) and
    ///         returns where its transaction section starts; reverts with {Malformed} when a field
    ///         lies past the batch's end or `extraLen > 32`.
    function readRecord(bytes calldata batch, uint256 pos, Record memory r) private pure returns (uint256) {
        if (batch.length < pos + HEAD_LEN) revert Malformed(pos);
        r.timestamp = uint64(bytes8(batch[pos:pos + 8]));
        r.gasLimit = uint64(bytes8(batch[pos + 8:pos + 16]));
        r.prevrandao = bytes32(batch[pos + 16:pos + 48]);
        uint256 extraLen = uint8(batch[pos + 48]);
        pos += HEAD_LEN;
        if (extraLen > MAX_EXTRA_DATA) revert Malformed(pos - 1);
        if (batch.length < pos + extraLen + MID_LEN) revert Malformed(pos);
        r.extraDataHash = keccak256(batch[pos:pos + extraLen]);
        pos += extraLen;
        r.originNumber = uint64(bytes8(batch[pos:pos + 8]));
        r.originHash = bytes32(batch[pos + 8:pos + 40]);
        // `Batch::decode`: origin number and hash both zero is no origin.
        r.hasOrigin = r.originNumber != 0 || r.originHash != 0;
        r.delayedRead = uint64(bytes8(batch[pos + 40:pos + 48]));
        return pos + MID_LEN;
    }

    /// @notice `BatchBlock::check` of the record read into `r` on the parent and L1 block of
    ///         `ctx`; stamps `r.timestamp` (`execute::block_timestamp`) on the way. 0 when it
    ///         passes, else the reason. `u64` sums saturate as the Rust's `saturating_add` does;
    ///         a record after block `2^64 - 1` is an overlap (no block follows it).
    function check(Record memory r, Context memory ctx) private pure returns (uint8) {
        if (ctx.parentNumber == U64_MAX) return OVERLAP;
        uint256 gasLimit = r.gasLimit;
        if (gasLimit > MAX_BLOCK_GAS_LIMIT) return GAS_LIMIT;
        uint256 stamped = min(ctx.parentTimestamp + MIN_BLOCK_INTERVAL_SECS, U64_MAX);
        if (r.timestamp > stamped) stamped = r.timestamp;
        r.timestamp = uint64(stamped);
        if (stamped > min(ctx.l1Timestamp + MAX_TIMESTAMP_LEAD_SECS, U64_MAX)) return TIMESTAMP_LEAD;
        if (!r.hasOrigin) return 0;
        if (gasLimit < MIN_ORIGIN_GAS_LIMIT) return ORIGIN_WITHOUT_ROOM;
        if (ctx.hasOrigin && r.originNumber < ctx.originNumber) return ORIGIN_BACK;
        if (r.originNumber >= ctx.l1BlockNumber) return ORIGIN_NOT_PAST;
        if (ctx.l1BlockNumber - r.originNumber > MAX_ORIGIN_AGE) return ORIGIN_TOO_OLD;
        return 0;
    }

    /// @notice The record of the forced block (`batch::forced_block`) on a parent stamped at
    ///         `parentTimestamp`, with L1 origin `origin` (L1's block before the forced batch's),
    ///         forcing delayed messages up to `delayedRead`: the origin's timestamp (stamped),
    ///         `FORCED_BLOCK_GAS_LIMIT`, the origin's hash as prevrandao, no extra data, no
    ///         transactions, the batch done after it.
    function forced(uint64 parentTimestamp, uint64 originNumber, bytes32 originHash, uint64 originTimestamp, uint64 delayedRead)
        internal
        pure
        returns (Record memory r)
    {
        uint256 stamped = min(uint256(parentTimestamp) + MIN_BLOCK_INTERVAL_SECS, U64_MAX);
        if (originTimestamp > stamped) stamped = originTimestamp;
        r.timestamp = uint64(stamped);
        r.gasLimit = uint64(FORCED_BLOCK_GAS_LIMIT);
        r.prevrandao = originHash;
        r.extraDataHash = keccak256("");
        (r.hasOrigin, r.originNumber, r.originHash) = (true, originNumber, originHash);
        r.delayedRead = delayedRead;
    }

    function min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    /// @notice The valid transactions of the transaction section at byte `pos` of `data`
    ///         (`txCount u32`, then `txCount` times `txLen u32 >= 1` and `txLen` bytes): their
    ///         number and `fraud_vm::vm::input::root` over their input items (`UserTx.decode`),
    ///         in order; invalid ones are skipped (derivation rule 3's checks before execution).
    ///         `end` is the byte after the section. Reverts with {Malformed} when a length is
    ///         zero or a field lies past the end of `data`.
    function txInputs(bytes calldata data, uint256 pos, uint256 chainId)
        internal
        pure
        returns (uint256 count, bytes32 inputsRoot, uint256 end)
    {
        return txInputs(data, pos, chainId, new bytes32[](0), 0);
    }

    /// @notice {txInputs} after the first `prefixCount` leaves of `prefix`: the root is over
    ///         those leaves, then the valid transactions', and `count` includes them.
    function txInputs(bytes calldata data, uint256 pos, uint256 chainId, bytes32[] memory prefix, uint256 prefixCount)
        internal
        pure
        returns (uint256 count, bytes32 inputsRoot, uint256 end)
    {
        if (data.length < pos + 4) revert Malformed(pos);
        uint256 total = uint32(bytes4(data[pos:pos + 4]));
        // Each transaction takes at least 5 bytes: refuse a count the data cannot hold before
        // allocating for it.
        if (total > (data.length - pos - 4) / 5) revert Malformed(pos);
        pos += 4;
        bytes32[] memory leaves = new bytes32[](prefixCount + total);
        for (; count < prefixCount; count++) {
            leaves[count] = prefix[count];
        }
        for (uint256 i; i < total; i++) {
            (bool valid, bytes32 leaf, uint256 next) = txLeaf(data, pos, chainId);
            if (valid) leaves[count++] = leaf;
            pos = next;
        }
        (inputsRoot, end) = (root(leaves, count), pos);
    }

    /// @notice The length-prefixed transaction at `pos` of `data`: whether it is valid, its
    ///         input leaf if so, and the byte after it; reverts with {Malformed} when its length
    ///         is zero or it lies past the end of `data`.
    function txLeaf(bytes calldata data, uint256 pos, uint256 chainId)
        private
        pure
        returns (bool valid, bytes32 leaf, uint256 next)
    {
        if (data.length < pos + 4) revert Malformed(pos);
        uint256 len = uint32(bytes4(data[pos:pos + 4]));
        pos += 4;
        if (len == 0 || data.length < pos + len) revert Malformed(pos);
        UserTx.TxInput memory input;
        (valid, input) = UserTx.decode(data[pos:pos + len], chainId);
        if (valid) leaf = UserTx.hash(input);
        next = pos + len;
    }

    /// @notice `fraud_vm::vm::input::root`: the binary keccak tree of depth
    ///         `ceil(log2(max(count, 1)))` over the first `count` leaves, absent leaves zero
    ///         (an odd node pairs with the all-zero subtree of its height); zero for no leaf.
    function root(bytes32[] memory leaves, uint256 count) internal pure returns (bytes32) {
        if (count == 0) return 0;
        bytes32 zero;
        while (count > 1) {
            uint256 half = (count + 1) / 2;
            for (uint256 i; i < half; i++) {
                bytes32 right = 2 * i + 1 < count ? leaves[2 * i + 1] : zero;
                leaves[i] = keccak256(abi.encodePacked(leaves[2 * i], right));
            }
            zero = keccak256(abi.encodePacked(zero, zero));
            count = half;
        }
        return leaves[0];
    }
}
