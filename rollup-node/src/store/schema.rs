//! The record layout: every record lives in one sled tree under a one-byte prefix, so a block's
//! records are written by one atomic batch (see the write order in [`super`]).
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `m` | `head` | head block number (u64 BE) |
//! | `m` | `l1cursor` | derivation cursor of the head block ([`L1Cursor::encode`]: L1 origin and next Inbox index), written with the block that advanced it; a rewind sets it to the new head's (the newest `d` at or below it; none: removed) |
//! | `d` | number | the block's own L1 record ([`L1Cursor::encode`]: its L1 origin and the delayed messages consumed up to and including it), only for blocks with an L1 origin; the batcher and derivation read it |
//! | `p` | number | where derivation continues after the block ([`BatchPosition::encode`]: the batch index and record position of its `fraud_vm::batch::Cursor`, and the accumulator of the batch the block was read from; 16-byte records of earlier versions have no accumulator), for blocks a replica derived from a batch or this node batched |
//! | `h` | number | block hash ‖ header RLP |
//! | `H` | block hash | number |
//! | `b` | number | RLP list of EIP-2718 transactions |
//! | `S` | number | senders, 20 bytes each |
//! | `r` | number | RLP list of the receipts without their logs bloom (`OpReceipt`'s RLP: type, status, cumulative gas, logs, deposit fields); the bloom is recomputed from the logs on read |
//! | `t` | run (u32 BE) ‖ tx hash | a chunk of a sealed run of the transaction index (`txindex`): up to 256 entries sorted by hash, the key's the first, each the tx hash, block number (u64 BE) and index in the block (u32 BE) |
//! | `T` | run (u32 BE) | a sealed run of the transaction index: its first and last block (u64 BE each) |
//! | `m` | `txopen` | the first block of the transaction index's open run (held in memory, rebuilt from the bodies at start); absent: 0 |
//! | `a` | address | latest account leaf (`AccountLeaf::encode`) |
//! | `s` | address ‖ slot | latest non-zero storage value |
//! | `c` | code hash | code |
//! | `R` | code hash | code root |
//! | `n` | node hash | state-tree node; an account's leaf node is followed by the account ([`AccountLeaf::encode`]), to read old states from the tree (archive: every state's nodes; state history: the nodes of the checkpoints kept states are rebuilt from, each record ending with the number of the checkpoint that wrote it, u64 BE) |
//! | `g` | number | a checkpoint's dropped list: the previous checkpoint's number (u64 BE), then the hashes of the nodes of its tree this checkpoint's tree has not; deleted with those nodes once no kept state is rebuilt from the previous checkpoint (see `checkpoint`) |
//! | `i` | number | the transactions the block's derived input list holds that tx-init skipped (`super::inputs`: RLP list of `[position in the list, EIP-2718 bytes, sender]`), only for blocks a replica derived with such transactions |
//! | `x` | number | the block's changeset: the accounts and slots it changed, with their values before it ([`crate::history::encode_changeset`]; blocks after 0; state history: the kept blocks', archive: every block's (those written before archives stored them have none); a rewind undoes blocks with them) |
//! | `m` | `collecting` | the progress of a pass collecting a dropped list, written with each of its parts: the list's checkpoint (u64 BE) and how many of its hashes were handled (u64 BE); removed when the pass ends and by a rewind |
//! | `k` | number | (empty): a checkpoint, a block whose whole state tree is on disk as `n` records (state history longer than the states held in memory; see `checkpoint`) |
//! | `m` | `firststate` | the oldest block whose state is still complete (state history only) |
//! | `m` | `tree` | `archive` (every state's tree on disk) or `memory` (a state history, tree in memory); fixed at creation |
//! | `m` | `format` | the record format version ([`FORMAT`], u32 BE); a store of another version is refused |
//! | `l` | address ‖ number | (empty): blocks where the address logged |
//!
//! [`L1Cursor::encode`]: super::L1Cursor::encode
//! [`BatchPosition::encode`]: super::cursor::BatchPosition::encode
//! [`AccountLeaf::encode`]: fraud_vm::state::AccountLeaf::encode

use super::StoreError;

/// `m`: single values under a name ([`HEAD`], [`L1_CURSOR`], [`FIRST_STATE`], [`TREE`],
/// [`FORMAT_KEY`], [`COLLECTING`]).
pub(super) const META: u8 = b'm';
/// `d`: a block's own L1 record.
pub(super) const L1_RECORD: u8 = b'd';
/// `p`: where derivation continues after a block a replica derived.
pub(super) const BATCH_POSITION: u8 = b'p';
/// `h`: block hash and header by number.
pub(super) const HEADER: u8 = b'h';
/// `H`: block number by hash.
pub(super) const HASH_INDEX: u8 = b'H';
/// `b`: a block's transactions.
pub(super) const BODY: u8 = b'b';
/// `S`: a block's senders.
pub(super) const SENDERS: u8 = b'S';
/// `r`: a block's receipts, without their blooms.
pub(super) const RECEIPTS: u8 = b'r';
/// `t`: a chunk of a sealed run of the transaction index.
pub(super) const TX_INDEX: u8 = b't';
/// `T`: a sealed run of the transaction index.
pub(super) const TX_RUN: u8 = b'T';
/// `a`: the latest account leaf.
pub(super) const ACCOUNT: u8 = b'a';
/// `s`: the latest non-zero storage value.
pub(super) const STORAGE: u8 = b's';
/// `c`: code by hash.
pub(super) const CODE: u8 = b'c';
/// `R`: code root by code hash.
pub(super) const CODE_ROOT: u8 = b'R';
/// `n`: state-tree node by hash (an archive's, or a state history's checkpoints').
pub(super) const NODE: u8 = b'n';
/// `x`: a block's changeset.
pub(super) const CHANGESET: u8 = b'x';
/// `i`: the listed transactions tx-init skipped in a derived block.
pub(super) const LISTED_SKIPPED: u8 = b'i';
/// `k`: a checkpoint's marker (its tree is on disk).
pub(super) const CHECKPOINT: u8 = b'k';
/// `g`: a checkpoint's dropped list.
pub(super) const DROPPED: u8 = b'g';
/// `l`: the blocks where an address logged.
pub(super) const LOG_INDEX: u8 = b'l';

/// `m` key of the head block number.
pub(super) const HEAD: &[u8] = b"head";
/// `m` key of the head's derivation cursor.
pub(super) const L1_CURSOR: &[u8] = b"l1cursor";
/// `m` key of the record format version.
pub(super) const FORMAT_KEY: &[u8] = b"format";
/// `m` key of the oldest block whose state is complete.
pub(super) const FIRST_STATE: &[u8] = b"firststate";
/// `m` key of where the state tree lives: [`ARCHIVE`] or [`IN_MEMORY`].
pub(super) const TREE: &[u8] = b"tree";
/// `m` key of the first block of the transaction index's open run.
pub(super) const TX_OPEN: &[u8] = b"txopen";
/// `m` key of the progress of a collection pass under way.
pub(super) const COLLECTING: &[u8] = b"collecting";
/// Every state's tree nodes on disk (`n`).
pub(super) const ARCHIVE: &[u8] = b"archive";
/// The kept states' tree in memory, rebuilt at start from the flat state and changesets.
pub(super) const IN_MEMORY: &[u8] = b"memory";

/// Version of the record layout in the module docs; bumped whenever a record changes.
pub const FORMAT: u32 = 7;

/// A record to write: its key and value.
pub(super) type Record = (Vec<u8>, Vec<u8>);

/// The key `prefix ‖ parts...`.
pub(super) fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// The key `prefix ‖ number` (u64 BE), so records of one prefix sort by block number.
pub(super) fn num_key(prefix: u8, number: u64) -> Vec<u8> {
    key(prefix, &[&number.to_be_bytes()])
}

/// A [`StoreError::Corrupt`] naming `what`.
pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The big-endian u64 at byte `at` of `bytes` (too short: corrupt `what`).
pub(super) fn be_u64(bytes: &[u8], at: usize, what: &str) -> Result<u64, StoreError> {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| corrupt(what))
}

/// The u64 (big-endian) stored under the `m` key `name`.
pub(super) fn read_u64(db: &sled::Db, name: &[u8]) -> Result<Option<u64>, StoreError> {
    db.get(key(META, &[name]))?
        .map(|v| {
            v.as_ref()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt(String::from_utf8_lossy(name)))
        })
        .transpose()
}
