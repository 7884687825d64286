//! State reads: the latest state from the flat records ([`LatestState`]) and the state at any
//! kept block's root through the state tree ([`HistoricalState`]).

use alloy_primitives::{Address, Bytes, B256, U256};
use fraud_vm::{
    execute::StateProvider,
    smt::{self, Node, NodeReader, SmtError},
    state::{account_key, storage_key, AccountLeaf},
    ProviderError,
};
use revm::{
    database_interface::DatabaseRef,
    state::{AccountInfo, Bytecode},
};

use std::sync::Arc;

use super::{
    checkpoint::Past,
    schema::{corrupt, key, ACCOUNT, CODE, CODE_ROOT, STORAGE},
    Store, StoreError,
};

impl Store {
    /// Latest account leaf of `address`.
    pub fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        self.caches
            .account(address, || self.account_from_disk(address))
    }

    fn account_from_disk(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        match self.db.get(key(ACCOUNT, &[address.as_slice()]))? {
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
            match self.db.get(key(
                STORAGE,
                &[address.as_slice(), &slot.to_be_bytes::<32>()],
            ))? {
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
            .get(key(CODE, &[hash.as_slice()]))?
            .map(|v| Bytes::copy_from_slice(&v)))
    }

    /// The account `address` holds in a state whose tree has the leaf value `value` at its
    /// key: in an archive, kept with the leaf node; with a state history, the latest account
    /// or an older one from the kept changesets.
    fn account_with_value(
        &self,
        address: &Address,
        value: &B256,
    ) -> Result<AccountLeaf, StoreError> {
        let hash = smt::leaf_hash(&account_key(address), value);
        let found = match &self.kept {
            Some(kept) => match self.account(address)? {
                Some(latest) if latest.value_hash() == *value => Some(latest),
                _ => match kept.old_account(address, value) {
                    Some(old) => Some(old),
                    // An older state's leaf, written with a checkpoint.
                    None if self.checkpoints.is_some() => self.disk_leaf_account(&hash)?,
                    None => None,
                },
            },
            None => self.disk_leaf_account(&hash)?,
        };
        found
            .filter(|a| a.value_hash() == *value)
            .ok_or_else(|| corrupt(format!("account of leaf {hash}")))
    }

    /// The latest state, read from the flat records.
    pub fn latest(&self) -> LatestState<'_> {
        LatestState { store: self }
    }

    /// The state at a block's state root, read through the state tree: any block's in an
    /// archive; with a state history, one whose tree is in memory (see [`Store::at_block`]).
    pub fn at_root(&self, root: B256) -> HistoricalState<'_> {
        HistoricalState {
            store: self,
            root,
            past: None,
        }
    }

    /// The state of block `number`, whose state root is `root`: [`StoreError::Pruned`] if the
    /// store no longer keeps it; older than the states held in memory, rebuilt from a
    /// checkpoint (see `checkpoint`).
    pub fn at_block(&self, number: u64, root: B256) -> Result<HistoricalState<'_>, StoreError> {
        self.state_available(number)?;
        let past = match &self.checkpoints {
            Some(_) if number < self.first_memory() => Some(self.past(number)?),
            _ => None,
        };
        Ok(HistoricalState {
            store: self,
            root,
            past,
        })
    }

    pub(super) fn code_root(&self, hash: &B256) -> Result<B256, ProviderError> {
        match self
            .db
            .get(key(CODE_ROOT, &[hash.as_slice()]))
            .map_err(StoreError::from)?
        {
            Some(v) if v.len() == 32 => Ok(B256::from_slice(&v)),
            _ => Err(StoreError::Corrupt(format!("code root of {hash} missing")).into()),
        }
    }

    pub(super) fn code_bytecode(&self, hash: B256) -> Result<Bytecode, ProviderError> {
        match self.code(&hash)? {
            Some(code) => Ok(Bytecode::new_raw(code)),
            None => Err(StoreError::Corrupt(format!("code {hash} missing")).into()),
        }
    }
}

impl NodeReader for Store {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        if let Some(kept) = &self.kept {
            return Ok(kept.node(hash));
        }
        self.caches.node(hash, || self.disk_node(hash))
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
    /// An older state rebuilt from a checkpoint: its own nodes and changed accounts.
    past: Option<Arc<Past>>,
}

impl HistoricalState<'_> {
    /// The account leaf of `address` at this state.
    pub fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        if let Some(account) = self.past.as_ref().and_then(|p| p.account(address)) {
            return Ok(account.filter(|a| !a.is_empty()));
        }
        let key = account_key(address);
        match smt::get(self, self.root, &key).map_err(fraud_vm::Error::from)? {
            None => Ok(None),
            Some(value) => self.store.account_with_value(address, &value).map(Some),
        }
    }

    /// A storage slot at this state.
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        Ok(smt::get(self, self.root, &storage_key(address, slot))
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
        let Some(past) = &self.past else {
            return self.store.node(hash);
        };
        if let Some(node) = past.node(hash) {
            return Ok(Some(node));
        }
        match self.store.node(hash)? {
            Some(node) => Ok(Some(node)),
            None => self.store.disk_node(hash),
        }
    }
}

impl StateProvider for HistoricalState<'_> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        self.store.code_root(code_hash)
    }
}
