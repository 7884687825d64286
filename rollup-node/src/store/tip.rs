//! The sequencer's view: the state after the tip, staged blocks over the flushed state (see
//! the module docs of [`super`], "Write-behind").

use std::sync::Arc;

use alloy_primitives::{Address, B256, U256};
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

use super::{Staged, Store, StoreError};

impl Store {
    /// The state after the tip (staged blocks over the flushed state): what the next block
    /// executes on. Only the sequencer may use it (staged blocks are not reported yet).
    pub fn tip_state(&self) -> TipState<'_> {
        let staged: Vec<Arc<Staged>> = self.staged.read().iter().rev().cloned().collect();
        let root = match staged.first() {
            Some(s) => s.block.header.state_root,
            None => self
                .head
                .read()
                .as_ref()
                .map_or(B256::ZERO, |h| h.header.state_root),
        };
        TipState {
            store: self,
            staged,
            root,
        }
    }

    /// Whether the tree at `root` holds no leaf at `key`, decided from nodes held in memory
    /// only (`staged` blocks' nodes and the node cache). `None`: the path leaves memory.
    fn absent_in_memory(&self, staged: &[Arc<Staged>], root: B256, key: &B256) -> Option<bool> {
        let mut hash = root;
        let mut depth = 0;
        loop {
            if hash.is_zero() {
                return Some(true);
            }
            let node = staged
                .iter()
                .find_map(|s| s.nodes.get(&hash).copied())
                .or_else(|| match &self.kept {
                    Some(kept) => kept.node(&hash),
                    None => self.caches.cached_node(&hash),
                })?;
            match node {
                Node::Leaf { key: k, .. } => return Some(k != *key),
                Node::Internal { left, right } => {
                    if depth >= smt::MAX_DEPTH {
                        return None;
                    }
                    hash = if smt::key_bit(key, depth) {
                        right
                    } else {
                        left
                    };
                    depth += 1;
                }
            }
        }
    }
}

/// The state after the tip ([`Store::tip_state`]): staged blocks (newest first), then the
/// caches and sled. Absent accounts and slots are recognised from the state tree in memory
/// when possible (see the module docs).
pub struct TipState<'a> {
    store: &'a Store,
    /// Staged blocks when the view was taken, newest first.
    staged: Vec<Arc<Staged>>,
    /// The tip's state root.
    root: B256,
}

impl TipState<'_> {
    /// The account leaf of `address` at the tip.
    pub fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        for s in &self.staged {
            if let Some(account) = s.block.diff.accounts.get(address) {
                return Ok(*account);
            }
        }
        if let Some(hit) = self.store.caches.cached_account(address) {
            return Ok(hit);
        }
        if self
            .store
            .absent_in_memory(&self.staged, self.root, &account_key(address))
            == Some(true)
        {
            return Ok(None);
        }
        self.store.account(address)
    }

    /// A storage slot at the tip.
    pub fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        for s in &self.staged {
            if let Some(value) = s.block.diff.storage.get(&(*address, *slot)) {
                return Ok(*value);
            }
        }
        if let Some(hit) = self.store.caches.cached_slot(address, slot) {
            return Ok(hit);
        }
        if self
            .store
            .absent_in_memory(&self.staged, self.root, &storage_key(address, slot))
            == Some(true)
        {
            return Ok(U256::ZERO);
        }
        self.store.storage(address, slot)
    }
}

impl DatabaseRef for TipState<'_> {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .account(&address)?
            .as_ref()
            .map(AccountLeaf::to_account_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        for s in &self.staged {
            if let Some(code) = s.block.diff.codes.get(&code_hash) {
                return Ok(Bytecode::new_raw(code.clone()));
            }
        }
        self.store.code_bytecode(code_hash)
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        for s in &self.staged {
            if s.block.header.number == number {
                return Ok(s.block.hash);
            }
        }
        self.store.block_hash(number)
    }
}

impl NodeReader for TipState<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        for s in &self.staged {
            if let Some(node) = s.nodes.get(hash) {
                return Ok(Some(*node));
            }
        }
        self.store.node(hash)
    }
}

impl StateProvider for TipState<'_> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        for s in &self.staged {
            if let Some((_, root)) = s.block.code_roots.iter().find(|(h, _)| h == code_hash) {
                return Ok(*root);
            }
        }
        self.store.code_root(code_hash)
    }
}
