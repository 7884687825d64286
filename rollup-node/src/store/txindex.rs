//! The transaction index (`t` chunks, `T` runs, `m` `txopen`): where each transaction was
//! included, found by its hash.
//!
//! The newest blocks' entries live in memory (the *open run*, from block `txopen` to the head,
//! rebuilt from their bodies at start); once it holds
//! [`StoreOptions::tx_index_run`](super::StoreOptions) entries, the batch of the block that
//! filled it writes it to disk as a sealed *run*: its entries sorted by hash and packed
//! [`CHUNK_ENTRIES`] to a record (`t` ‖ run ‖ the chunk's first hash), with the run's `T`
//! record. A lookup tries the open run, then the sealed runs newest first: in each, the chunk
//! whose first hash is the greatest at or below the hash (one sled range read) and a binary
//! search in it.
//!
//! Why (measured, `benches/README.md`, "The transaction index in sealed runs"): one sled
//! record per transaction under its random hash puts each of a block's ~20k inserts in another
//! page of an index that outgrows sled's cache within minutes of load, and sled's cost per
//! transfer grows with it (the node's CPU per transfer rose from ~110 to ~150 µs over 25
//! minutes; without the index it stays at ~100). sled costs 5–10 µs per record once the
//! datadir holds a few GB, appends included, so sealed runs are written once, in hash order,
//! one record per 256 entries.
//!
//! The index is derived from the bodies, so it needs no write of its own per block: every
//! record it has is written in a block's batch (sealing) or a rewind's. A rewind to block `to`
//! removes the sealed runs that end above `to` and rebuilds the open run from the blocks after
//! the last run left: the index is then exactly what a store that only ever had blocks
//! `0..=to` holds. A lookup probes one range read per sealed run, so its cost grows with the
//! number of runs (one per `tx_index_run` transactions).

use alloy_primitives::{keccak256, map::B256Map, Bytes, B256};
use alloy_rlp::Decodable;
use parking_lot::RwLock;
use tracing::debug;

use super::{
    schema::{be_u64, corrupt, key, num_key, BODY, META, TX_INDEX, TX_OPEN, TX_RUN},
    Store, StoreError,
};

/// Entries per chunk record of a sealed run.
pub(super) const CHUNK_ENTRIES: usize = 256;

/// Bytes of a packed entry: tx hash, block number (u64 BE), index in the block (u32 BE).
const ENTRY_LEN: usize = 44;

/// Where a transaction is: block number and index in the block.
type Location = (u64, u32);

/// The index: the sealed runs and the open run.
pub(super) struct TxIndex {
    /// Entries the open run takes before it is sealed.
    run_entries: usize,
    state: RwLock<Runs>,
}

/// The index's runs.
#[derive(Clone, Debug, Default)]
struct Runs {
    /// Sealed runs, oldest first.
    sealed: Vec<Run>,
    /// The first block of the open run (`m` `txopen`).
    open_first: u64,
    /// The open run's entries.
    open: B256Map<Location>,
}

/// A sealed run: its `T` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    id: u32,
    /// Its first and last block.
    first: u64,
    last: u64,
}

/// What a block's or a rewind's batch changes in the index, installed with
/// [`TxIndex::install`] once the batch is on disk.
pub(super) struct IndexUpdate(Update);

impl Default for IndexUpdate {
    /// No change.
    fn default() -> Self {
        Self(Update::Extend(Vec::new()))
    }
}

/// The change an [`IndexUpdate`] makes.
enum Update {
    /// The block's entries join the open run.
    Extend(Vec<(B256, Location)>),
    /// The open run (with the block's entries) was sealed as this run; the next block opens
    /// a new one.
    Seal(Run),
    /// A rewind: the runs as they are now.
    Replace(Box<Runs>),
}

/// `T` ‖ run.
fn run_key(run: u32) -> Vec<u8> {
    key(TX_RUN, &[&run.to_be_bytes()])
}

/// `t` ‖ run: the prefix of a sealed run's chunks.
fn run_prefix(run: u32) -> Vec<u8> {
    key(TX_INDEX, &[&run.to_be_bytes()])
}

/// `t` ‖ run ‖ hash: a chunk's key, or (with a transaction's hash) the bound of the range
/// whose last chunk may hold it.
fn chunk_key(run: u32, hash: &B256) -> Vec<u8> {
    key(TX_INDEX, &[&run.to_be_bytes(), hash.as_slice()])
}

/// Adds to `batch` run `run`'s chunks of `entries` (sorted by hash) and its `T` record.
fn write_run(batch: &mut sled::Batch, run: &Run, entries: &[(B256, Location)]) {
    for chunk in entries.chunks(CHUNK_ENTRIES) {
        let mut v = Vec::with_capacity(chunk.len() * ENTRY_LEN);
        for (hash, (number, index)) in chunk {
            v.extend_from_slice(hash.as_slice());
            v.extend_from_slice(&number.to_be_bytes());
            v.extend_from_slice(&index.to_be_bytes());
        }
        batch.insert(chunk_key(run.id, &chunk[0].0), v);
    }
    let mut v = [0; 16];
    v[..8].copy_from_slice(&run.first.to_be_bytes());
    v[8..].copy_from_slice(&run.last.to_be_bytes());
    batch.insert(run_key(run.id), &v[..]);
}

/// The location of `hash` in a chunk record, if it holds it.
fn find_in_chunk(chunk: &[u8], hash: &B256) -> Result<Option<Location>, StoreError> {
    if !chunk.len().is_multiple_of(ENTRY_LEN) {
        return Err(corrupt("tx index chunk"));
    }
    let entries = chunk.len() / ENTRY_LEN;
    let at = |i: usize| &chunk[i * ENTRY_LEN..(i + 1) * ENTRY_LEN];
    let (mut lo, mut hi) = (0, entries);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match at(mid)[..32].cmp(hash.as_slice()) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => {
                let e = at(mid);
                let number = be_u64(e, 32, "tx index chunk")?;
                let index = u32::from_be_bytes([e[40], e[41], e[42], e[43]]);
                return Ok(Some((number, index)));
            }
        }
    }
    Ok(None)
}

impl TxIndex {
    /// Reads the sealed runs; the open run is empty until [`Store::rebuild_open_run`] fills it.
    pub(super) fn load(db: &sled::Db, run_entries: u64) -> Result<Self, StoreError> {
        let mut sealed = Vec::new();
        for item in db.scan_prefix([TX_RUN]) {
            let (k, v) = item?;
            let id = k
                .get(1..5)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_be_bytes)
                .ok_or_else(|| corrupt("tx index run key"))?;
            sealed.push(Run {
                id,
                first: be_u64(&v, 0, "tx index run")?,
                last: be_u64(&v, 8, "tx index run")?,
            });
        }
        let open_first = super::schema::read_u64(db, TX_OPEN)?.unwrap_or_default();
        Ok(Self {
            run_entries: usize::try_from(run_entries).unwrap_or(usize::MAX).max(1),
            state: RwLock::new(Runs {
                sealed,
                open_first,
                open: B256Map::default(),
            }),
        })
    }

    /// Where `hash` was included, if the index holds it (for blocks up to the newest
    /// written; the caller checks the head).
    pub(super) fn lookup(
        &self,
        db: &sled::Db,
        hash: &B256,
    ) -> Result<Option<Location>, StoreError> {
        // Held across the probes: a rewind deletes sealed runs and installs the open run that
        // replaces them under the write lock, so a lookup sees the runs before or after it.
        let state = self.state.read();
        if let Some(location) = state.open.get(hash) {
            return Ok(Some(*location));
        }
        for run in state.sealed.iter().rev().map(|r| r.id) {
            let range = run_prefix(run)..=chunk_key(run, hash);
            if let Some(item) = db.range(range).next_back() {
                if let Some(location) = find_in_chunk(&item?.1, hash)? {
                    return Ok(Some(location));
                }
            }
        }
        Ok(None)
    }

    /// Adds to `batch` what block `number` with transactions `hashes` changes: nothing until
    /// its entries fill the open run, then the sealed run.
    pub(super) fn note_block(
        &self,
        batch: &mut sled::Batch,
        number: u64,
        hashes: impl Iterator<Item = B256>,
    ) -> IndexUpdate {
        let entries: Vec<(B256, Location)> = hashes
            .enumerate()
            .map(|(i, hash)| (hash, (number, i as u32)))
            .collect();
        let state = self.state.read();
        if state.open.len() + entries.len() < self.run_entries {
            return IndexUpdate(Update::Extend(entries));
        }
        let mut all: Vec<(B256, Location)> = state
            .open
            .iter()
            .map(|(h, l)| (*h, *l))
            .chain(entries)
            .collect();
        all.sort_unstable_by_key(|e| e.0);
        all.dedup_by(|a, b| a.0 == b.0);
        let run = Run {
            id: state.sealed.last().map_or(0, |r| r.id.saturating_add(1)),
            first: state.open_first,
            last: number,
        };
        write_run(batch, &run, &all);
        batch.insert(
            key(META, &[TX_OPEN]),
            &number.saturating_add(1).to_be_bytes(),
        );
        debug!(
            run = run.id,
            first = run.first,
            last = number,
            entries = all.len(),
            "sealed a tx index run"
        );
        IndexUpdate(Update::Seal(run))
    }

    /// Installs what [`TxIndex::note_block`] wrote, once its batch is on disk (a sealed run
    /// only adds records, so lookups racing the batch find each entry in the open run or in
    /// the new run).
    pub(super) fn install(&self, update: IndexUpdate) {
        Self::apply(&mut self.state.write(), update);
    }

    /// Runs `write` (the rewind's batch, which may delete sealed runs) and installs `update`
    /// after it, with lookups held off meanwhile.
    pub(super) fn install_with(
        &self,
        write: impl FnOnce() -> Result<(), StoreError>,
        update: IndexUpdate,
    ) -> Result<(), StoreError> {
        let mut state = self.state.write();
        write()?;
        Self::apply(&mut state, update);
        Ok(())
    }

    fn apply(state: &mut Runs, update: IndexUpdate) {
        match update.0 {
            Update::Extend(entries) => state.open.extend(entries),
            Update::Seal(run) => {
                state.sealed.push(run);
                state.open.clear();
                state.open_first = run.last.saturating_add(1);
            }
            Update::Replace(runs) => *state = *runs,
        }
    }

    /// The sealed runs (id, first block, last block), oldest first, and the open run's first
    /// block.
    #[cfg(test)]
    pub(super) fn runs(&self) -> (Vec<(u32, u64, u64)>, u64) {
        let state = self.state.read();
        let sealed = state
            .sealed
            .iter()
            .map(|r| (r.id, r.first, r.last))
            .collect();
        (sealed, state.open_first)
    }
}

impl Store {
    /// The hashes of block `number`'s transactions, from its stored body.
    fn tx_hashes(&self, number: u64) -> Result<Vec<B256>, StoreError> {
        let body = self
            .db
            .get(num_key(BODY, number))?
            .ok_or_else(|| corrupt(format!("body {number} missing")))?;
        let txs = Vec::<Bytes>::decode(&mut body.as_ref())
            .map_err(|e| corrupt(format!("body {number}: {e}")))?;
        Ok(txs.iter().map(keccak256).collect())
    }

    /// The open run of blocks `first..=to`, from their bodies.
    fn open_run_of(&self, first: u64, to: u64) -> Result<B256Map<Location>, StoreError> {
        let mut open = B256Map::default();
        for number in first..=to {
            for (i, hash) in self.tx_hashes(number)?.into_iter().enumerate() {
                open.insert(hash, (number, i as u32));
            }
        }
        Ok(open)
    }

    /// Fills the open run from the bodies of the blocks after the last sealed run, up to the
    /// head (at start).
    pub(super) fn rebuild_open_run(&self) -> Result<(), StoreError> {
        let Some(head) = self.head().map(|h| h.header.number) else {
            return Ok(());
        };
        let first = self.tx_index.state.read().open_first;
        let open = self.open_run_of(first, head)?;
        self.tx_index.state.write().open = open;
        Ok(())
    }

    /// Adds to `batch` the index as it is at block `to` (below the head): the sealed runs that
    /// end above `to` go, and the open run holds the blocks after the last one left.
    pub(super) fn rewind_tx_index(
        &self,
        batch: &mut sled::Batch,
        to: u64,
    ) -> Result<IndexUpdate, StoreError> {
        let mut runs = self.tx_index.state.read().clone();
        if runs.sealed.last().is_none_or(|r| r.last <= to) {
            // Only the open run changes: no record does.
            runs.open.retain(|_, (number, _)| *number <= to);
            return Ok(IndexUpdate(Update::Replace(Box::new(runs))));
        }
        while let Some(run) = runs.sealed.last().copied().filter(|r| r.last > to) {
            for k in self.db.scan_prefix(run_prefix(run.id)).keys() {
                batch.remove(k?);
            }
            batch.remove(run_key(run.id));
            runs.sealed.pop();
        }
        runs.open_first = runs.sealed.last().map_or(0, |r| r.last.saturating_add(1));
        match runs.open_first {
            0 => batch.remove(key(META, &[TX_OPEN])),
            first => batch.insert(key(META, &[TX_OPEN]), &first.to_be_bytes()),
        }
        runs.open = self.open_run_of(runs.open_first, to)?;
        Ok(IndexUpdate(Update::Replace(Box::new(runs))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sealed run of many chunks answers every hash it holds with its location, and no
    /// other hash (below, between and above its entries).
    #[test]
    fn a_sealed_run_finds_each_of_its_entries_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new().path(dir.path()).open().expect("sled");
        let hash = |i: u64| keccak256(i.to_be_bytes());
        let mut entries: Vec<(B256, Location)> = (0..1000u64)
            .map(|i| (hash(i), (i / 7, (i % 7) as u32)))
            .collect();
        entries.sort_unstable_by_key(|e| e.0);
        let mut batch = sled::Batch::default();
        write_run(
            &mut batch,
            &Run {
                id: 3,
                first: 0,
                last: 142,
            },
            &entries,
        );
        db.apply_batch(batch).expect("write");
        assert_eq!(
            db.scan_prefix(run_prefix(3)).count(),
            1000usize.div_ceil(CHUNK_ENTRIES)
        );
        let index = TxIndex::load(&db, 10).expect("load");
        assert_eq!(index.runs(), (vec![(3, 0, 142)], 0));
        for i in 0..1000u64 {
            assert_eq!(
                index.lookup(&db, &hash(i)).expect("read"),
                Some((i / 7, (i % 7) as u32))
            );
        }
        for i in 1000..3000u64 {
            assert_eq!(index.lookup(&db, &hash(i)).expect("read"), None);
        }
        assert_eq!(index.lookup(&db, &B256::ZERO).expect("read"), None);
        assert_eq!(
            index.lookup(&db, &B256::repeat_byte(0xff)).expect("read"),
            None
        );
    }
}
