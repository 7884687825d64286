//! The chain store: one sled tree, one atomic batch per block.
//!
//! Every record lives in the same sled tree under a one-byte prefix, so a block (header, body,
//! receipts, indexes, state changes, state-tree nodes and the new head pointer) is written by a
//! single `apply_batch`, which sled applies atomically, and flushed to disk before the block is
//! announced. After a crash the store is exactly at the last flushed head.
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `m` | `head` | head block number (u64 BE) |
//! | `m` | `l1cursor` | derivation cursor of the head block ([`L1Cursor::encode`]: L1 origin and next Inbox index), written with the block that advanced it |
//! | `d` | number | the block's own L1 record ([`L1Cursor::encode`]: its L1 origin and the delayed messages consumed up to and including it), only for blocks with an L1 origin; the batcher and derivation read it |
//! | `h` | number | block hash ‖ header RLP |
//! | `H` | block hash | number |
//! | `b` | number | RLP list of EIP-2718 transactions |
//! | `S` | number | senders, 20 bytes each |
//! | `r` | number | RLP list of EIP-2718 receipts |
//! | `t` | tx hash | number ‖ index (u32 BE) |
//! | `a` | address | latest account leaf (`AccountLeaf::encode`) |
//! | `s` | address ‖ slot | latest non-zero storage value |
//! | `c` | code hash | code |
//! | `R` | code hash | code root |
//! | `n` | node hash | state-tree node |
//! | `p` | account leaf value hash | account leaf (to read old states from the tree) |
//! | `l` | address ‖ number | (empty): blocks where the address logged |
//!
//! Latest-state reads use the flat `a`/`s` records; reads at an older block walk the state tree
//! from that block's root (the tree is content-addressed and never pruned). Hot accounts, slots
//! and tree nodes are served from bounded in-memory caches ([`crate::cache`]).

use std::sync::Arc;

use alloy_consensus::Header;
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_rlp::{Decodable, Encodable};
use fraud_vm::{
    execute::{BuiltBlock, StateProvider},
    smt::{self, Node, NodeReader, SmtError},
    state::{account_key, storage_key, AccountLeaf},
    ProviderError,
};
use op_alloy_consensus::{OpReceiptEnvelope, OpTxEnvelope};
use parking_lot::RwLock;
use revm::{
    database_interface::DatabaseRef,
    state::{AccountInfo, Bytecode},
};
use tracing::{debug, instrument};

use crate::{cache::Caches, derive::L1Cursor};

/// Errors of the chain store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("database: {0}")]
    Db(#[from] sled::Error),
    /// A record does not decode: the data directory is corrupt or from another version.
    #[error("corrupt record {0}")]
    Corrupt(String),
    /// The data directory holds another chain.
    #[error("the data directory holds a different chain (genesis {found}, expected {expected})")]
    WrongChain {
        /// Genesis hash in the store.
        found: B256,
        /// Genesis hash of the configured genesis.
        expected: B256,
    },
    /// The chain rules failed (state tree).
    #[error(transparent)]
    Chain(#[from] fraud_vm::Error),
}

impl From<StoreError> for ProviderError {
    fn from(e: StoreError) -> Self {
        ProviderError(e.to_string())
    }
}

/// A block as stored.
#[derive(Clone, Debug)]
pub struct StoredBlock {
    /// The header.
    pub header: Header,
    /// Its hash.
    pub hash: B256,
    /// The transactions.
    pub transactions: Vec<OpTxEnvelope>,
    /// Their senders.
    pub senders: Vec<Address>,
}

/// The chain head.
#[derive(Clone, Debug)]
pub struct Head {
    /// Head header.
    pub header: Header,
    /// Head hash.
    pub hash: B256,
}

/// The on-disk chain store (see the module docs).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    head: Arc<RwLock<Option<Head>>>,
    caches: Arc<Caches>,
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

fn num_key(prefix: u8, number: u64) -> Vec<u8> {
    key(prefix, &[&number.to_be_bytes()])
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

impl Store {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &std::path::Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(512 * 1024 * 1024)
            .open()?;
        let store = Self {
            db,
            head: Arc::new(RwLock::new(None)),
            caches: Arc::new(Caches::default()),
        };
        if let Some(number) = store.read_head_number()? {
            let (hash, header) = store
                .header_by_number(number)?
                .ok_or_else(|| corrupt(format!("head block {number} missing")))?;
            *store.head.write() = Some(Head { header, hash });
        }
        Ok(store)
    }

    fn read_head_number(&self) -> Result<Option<u64>, StoreError> {
        Ok(match self.db.get(key(b'm', &[b"head"]))? {
            None => None,
            Some(v) => Some(u64::from_be_bytes(
                v.as_ref().try_into().map_err(|_| corrupt("head"))?,
            )),
        })
    }

    /// The derivation cursor of the newest block that had an L1 origin.
    pub fn l1_cursor(&self) -> Result<Option<L1Cursor>, StoreError> {
        match self.db.get(key(b'm', &[b"l1cursor"]))? {
            None => Ok(None),
            Some(v) => L1Cursor::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt("l1 cursor")),
        }
    }

    /// The L1 record of block `number`: its origin and the delayed messages consumed up to
    /// and including it (None: the block has no L1 origin).
    pub fn block_l1(&self, number: u64) -> Result<Option<L1Cursor>, StoreError> {
        match self.db.get(num_key(b'd', number))? {
            None => Ok(None),
            Some(v) => L1Cursor::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt(format!("L1 record of block {number}"))),
        }
    }

    /// Delayed messages consumed up to and including block `number`: the count of the newest
    /// block at or below it with an L1 origin (0 if none).
    pub fn delayed_read_at(&self, number: u64) -> Result<u64, StoreError> {
        let range = num_key(b'd', 0)..=num_key(b'd', number);
        match self.db.range(range).next_back() {
            None => Ok(0),
            Some(item) => {
                let (_, v) = item?;
                L1Cursor::decode(&v)
                    .map(|c| c.next_deposit)
                    .ok_or_else(|| corrupt(format!("L1 record at or below {number}")))
            }
        }
    }

    /// The current head, if the store holds a chain.
    pub fn head(&self) -> Option<Head> {
        self.head.read().clone()
    }

    /// Head block number (0 for an empty store).
    pub fn head_number(&self) -> u64 {
        self.head.read().as_ref().map_or(0, |h| h.header.number)
    }

    /// Persists a built block atomically and makes it the head. Returns once it is on disk.
    pub fn commit_block(&self, block: &BuiltBlock) -> Result<(), StoreError> {
        self.commit_block_with_cursor(block, None, false)
    }

    /// [`Store::commit_block`], also recording the derivation cursor `cursor` after the block
    /// in the same atomic batch (so the block and the deposits it consumed are durable
    /// together). `has_origin`: the block itself has the cursor's origin (it opens with its
    /// L1-info deposit); then the cursor is also stored as the block's L1 record (`d`).
    #[instrument(level = "debug", skip_all, fields(number = block.header.number))]
    pub fn commit_block_with_cursor(
        &self,
        block: &BuiltBlock,
        cursor: Option<&L1Cursor>,
        has_origin: bool,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let number = block.header.number;
        if let Some(cursor) = cursor {
            batch.insert(key(b'm', &[b"l1cursor"]), cursor.encode());
            if has_origin {
                batch.insert(num_key(b'd', number), cursor.encode());
            }
        }
        let nb = number.to_be_bytes();

        let mut header_value = Vec::with_capacity(600);
        header_value.extend_from_slice(block.hash.as_slice());
        block.header.encode(&mut header_value);
        batch.insert(num_key(b'h', number), header_value);
        batch.insert(key(b'H', &[block.hash.as_slice()]), &nb);

        let txs: Vec<Bytes> = block
            .transactions
            .iter()
            .map(|t| t.encoded_2718().into())
            .collect();
        let mut body = Vec::new();
        txs.encode(&mut body);
        batch.insert(num_key(b'b', number), body);
        let senders: Vec<u8> = block.senders.iter().flat_map(|a| a.0 .0).collect();
        batch.insert(num_key(b'S', number), senders);
        let receipts: Vec<Bytes> = block
            .receipts
            .iter()
            .map(|r| r.encoded_2718().into())
            .collect();
        let mut rbytes = Vec::new();
        receipts.encode(&mut rbytes);
        batch.insert(num_key(b'r', number), rbytes);

        for (i, tx) in block.transactions.iter().enumerate() {
            let mut v = nb.to_vec();
            v.extend_from_slice(&(i as u32).to_be_bytes());
            batch.insert(key(b't', &[tx.tx_hash().as_slice()]), v);
        }
        let mut logged = std::collections::BTreeSet::new();
        for r in &block.receipts {
            for log in r.logs() {
                logged.insert(log.address);
            }
        }
        for address in logged {
            batch.insert(key(b'l', &[address.as_slice(), &nb]), &[]);
        }

        for (address, account) in &block.diff.accounts {
            let k = key(b'a', &[address.as_slice()]);
            match account {
                Some(leaf) => {
                    let enc = leaf.encode();
                    batch.insert(key(b'p', &[leaf.value_hash().as_slice()]), &enc[..]);
                    batch.insert(k, &enc[..]);
                }
                None => batch.remove(k),
            }
        }
        for ((address, slot), value) in &block.diff.storage {
            let k = key(b's', &[address.as_slice(), &slot.to_be_bytes::<32>()]);
            if value.is_zero() {
                batch.remove(k);
            } else {
                batch.insert(k, &value.to_be_bytes::<32>()[..]);
            }
        }
        for (hash, code) in &block.diff.codes {
            batch.insert(key(b'c', &[hash.as_slice()]), code.as_ref());
        }
        for (hash, root) in &block.code_roots {
            batch.insert(key(b'R', &[hash.as_slice()]), root.as_slice());
        }
        for (hash, node) in &block.new_nodes {
            batch.insert(key(b'n', &[hash.as_slice()]), node.encode());
        }
        batch.insert(key(b'm', &[b"head"]), &nb);

        self.db.apply_batch(batch)?;
        self.db.flush()?;
        self.caches.commit(
            block.diff.accounts.iter(),
            block.diff.storage.iter(),
            block.new_nodes.iter(),
        );
        *self.head.write() = Some(Head {
            header: block.header.clone(),
            hash: block.hash,
        });
        debug!(hash = %block.hash, txs = block.transactions.len(), "block committed");
        Ok(())
    }

    /// Hash and header of block `number`.
    pub fn header_by_number(&self, number: u64) -> Result<Option<(B256, Header)>, StoreError> {
        let Some(v) = self.db.get(num_key(b'h', number))? else {
            return Ok(None);
        };
        if v.len() < 32 {
            return Err(corrupt(format!("header {number}")));
        }
        let hash = B256::from_slice(&v[..32]);
        let header =
            Header::decode(&mut &v[32..]).map_err(|e| corrupt(format!("header {number}: {e}")))?;
        Ok(Some((hash, header)))
    }

    /// Number of the block with this hash (only blocks up to the announced head: a block being
    /// committed is invisible until [`Store::commit_block`] returns).
    pub fn number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        let number = match self.db.get(key(b'H', &[hash.as_slice()]))? {
            None => return Ok(None),
            Some(v) => {
                u64::from_be_bytes(v.as_ref().try_into().map_err(|_| corrupt("hash index"))?)
            }
        };
        Ok(self.visible(number))
    }

    fn visible(&self, number: u64) -> Option<u64> {
        let head = self.head.read();
        head.as_ref()
            .filter(|h| number <= h.header.number)
            .map(|_| number)
    }

    /// The whole block `number`.
    pub fn block_by_number(&self, number: u64) -> Result<Option<StoredBlock>, StoreError> {
        let Some((hash, header)) = self.header_by_number(number)? else {
            return Ok(None);
        };
        let body = self
            .db
            .get(num_key(b'b', number))?
            .ok_or_else(|| corrupt(format!("body {number} missing")))?;
        let raw: Vec<Bytes> =
            Vec::decode(&mut body.as_ref()).map_err(|e| corrupt(format!("body {number}: {e}")))?;
        let transactions = raw
            .iter()
            .map(|b| OpTxEnvelope::decode_2718(&mut b.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(format!("body {number}: {e}")))?;
        let senders_raw = self
            .db
            .get(num_key(b'S', number))?
            .ok_or_else(|| corrupt(format!("senders {number} missing")))?;
        let senders: Vec<Address> = senders_raw
            .chunks_exact(20)
            .map(Address::from_slice)
            .collect();
        if senders.len() != transactions.len() {
            return Err(corrupt(format!("senders {number}")));
        }
        Ok(Some(StoredBlock {
            header,
            hash,
            transactions,
            senders,
        }))
    }

    /// The receipts of block `number`.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<OpReceiptEnvelope>>, StoreError> {
        let Some(v) = self.db.get(num_key(b'r', number))? else {
            return Ok(None);
        };
        let raw: Vec<Bytes> =
            Vec::decode(&mut v.as_ref()).map_err(|e| corrupt(format!("receipts {number}: {e}")))?;
        raw.iter()
            .map(|b| OpReceiptEnvelope::decode_2718(&mut b.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(|e| corrupt(format!("receipts {number}: {e}")))
    }

    /// Where a transaction was included: (block number, index), for blocks up to the head.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<(u64, usize)>, StoreError> {
        let Some(v) = self.db.get(key(b't', &[hash.as_slice()]))? else {
            return Ok(None);
        };
        if v.len() != 12 {
            return Err(corrupt("tx index"));
        }
        let number = u64::from_be_bytes(v[..8].try_into().map_err(|_| corrupt("tx index"))?);
        let index = u32::from_be_bytes(v[8..].try_into().map_err(|_| corrupt("tx index"))?);
        Ok(self.visible(number).map(|n| (n, index as usize)))
    }

    /// Block numbers in `[from, to]` where `address` emitted a log.
    pub fn blocks_with_logs_from(
        &self,
        address: &Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let start = key(b'l', &[address.as_slice(), &from.to_be_bytes()]);
        let end = key(
            b'l',
            &[address.as_slice(), &to.saturating_add(1).to_be_bytes()],
        );
        let mut out = Vec::new();
        for item in self.db.range(start..end) {
            let (k, _) = item?;
            let nb: [u8; 8] = k[21..29].try_into().map_err(|_| corrupt("log index"))?;
            out.push(u64::from_be_bytes(nb));
        }
        Ok(out)
    }

    /// Latest account leaf of `address`.
    pub fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        self.caches
            .account(address, || self.account_from_disk(address))
    }

    fn account_from_disk(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        match self.db.get(key(b'a', &[address.as_slice()]))? {
            None => Ok(None),
            Some(v) => AccountLeaf::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt(format!("account {address}"))),
        }
    }

    /// Latest value of a storage slot.
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        self.caches
            .slot(address, slot, || self.storage_from_disk(address, slot))
    }

    fn storage_from_disk(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        Ok(
            match self
                .db
                .get(key(b's', &[address.as_slice(), &slot.to_be_bytes::<32>()]))?
            {
                None => U256::ZERO,
                Some(v) if v.len() == 32 => U256::from_be_slice(&v),
                Some(_) => return Err(corrupt("storage value")),
            },
        )
    }

    /// Code by its hash.
    pub fn code(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        if *hash == alloy_primitives::KECCAK256_EMPTY {
            return Ok(Some(Bytes::new()));
        }
        Ok(self
            .db
            .get(key(b'c', &[hash.as_slice()]))?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    /// The account leaf whose value hash is `value` (for reads at older blocks).
    pub fn account_preimage(&self, value: &B256) -> Result<Option<AccountLeaf>, StoreError> {
        match self.db.get(key(b'p', &[value.as_slice()]))? {
            None => Ok(None),
            Some(v) => AccountLeaf::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt("account preimage")),
        }
    }

    /// Size of the data directory on disk, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or_default()
    }

    /// The latest state, read from the flat records.
    pub fn latest(&self) -> LatestState<'_> {
        LatestState { store: self }
    }

    /// The state at a block's state root, read through the state tree.
    pub fn at_root(&self, root: B256) -> HistoricalState<'_> {
        HistoricalState { store: self, root }
    }

    fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        Ok(self
            .header_by_number(number)?
            .map(|(h, _)| h)
            .unwrap_or_default())
    }

    fn code_root(&self, hash: &B256) -> Result<B256, ProviderError> {
        match self
            .db
            .get(key(b'R', &[hash.as_slice()]))
            .map_err(StoreError::from)?
        {
            Some(v) if v.len() == 32 => Ok(B256::from_slice(&v)),
            _ => Err(StoreError::Corrupt(format!("code root of {hash} missing")).into()),
        }
    }

    fn code_bytecode(&self, hash: B256) -> Result<Bytecode, ProviderError> {
        match self.code(&hash)? {
            Some(code) => Ok(Bytecode::new_raw(code)),
            None => Err(StoreError::Corrupt(format!("code {hash} missing")).into()),
        }
    }
}

impl NodeReader for Store {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        self.caches
            .node(hash, || match self.db.get(key(b'n', &[hash.as_slice()])) {
                Ok(None) => Ok(None),
                Ok(Some(v)) => Node::decode(&v).map(Some),
                Err(e) => Err(SmtError::Store(e.to_string())),
            })
    }
}

/// The latest state (flat records).
pub struct LatestState<'a> {
    store: &'a Store,
}

impl DatabaseRef for LatestState<'_> {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .store
            .account(&address)?
            .as_ref()
            .map(AccountLeaf::to_account_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.store.code_bytecode(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.store.storage(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.store.block_hash(number)
    }
}

impl NodeReader for LatestState<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        self.store.node(hash)
    }
}

impl StateProvider for LatestState<'_> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        self.store.code_root(code_hash)
    }
}

/// The state under one state root (any past block), read through the state tree.
pub struct HistoricalState<'a> {
    store: &'a Store,
    root: B256,
}

impl HistoricalState<'_> {
    /// The account leaf of `address` at this state.
    pub fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        match smt::get(self.store, self.root, &account_key(address))
            .map_err(fraud_vm::Error::from)?
        {
            None => Ok(None),
            Some(value) => self
                .store
                .account_preimage(&value)?
                .map(Some)
                .ok_or_else(|| corrupt(format!("account preimage {value}"))),
        }
    }

    /// A storage slot at this state.
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        Ok(smt::get(self.store, self.root, &storage_key(address, slot))
            .map_err(fraud_vm::Error::from)?
            .map_or(U256::ZERO, |v| U256::from_be_bytes(v.0)))
    }
}

impl DatabaseRef for HistoricalState<'_> {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .account(&address)?
            .as_ref()
            .map(AccountLeaf::to_account_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        self.store.code_bytecode(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        self.store.block_hash(number)
    }
}

impl NodeReader for HistoricalState<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        self.store.node(hash)
    }
}

impl StateProvider for HistoricalState<'_> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        self.store.code_root(code_hash)
    }
}
