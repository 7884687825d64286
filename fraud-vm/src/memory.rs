//! An in-memory [`StateProvider`]: the whole state in hash maps, for tests, benches and tools
//! that replay blocks without a database.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256};
use revm::{
    database_interface::DatabaseRef,
    state::{AccountInfo, Bytecode},
};

use crate::{
    execute::{BuiltBlock, StateProvider},
    smt::{MemoryNodes, Node, NodeReader, SmtError},
    state::AccountLeaf,
    ProviderError,
};

/// A chain state held in memory (see the module docs).
#[derive(Default, Clone)]
pub struct MemoryState {
    accounts: HashMap<Address, AccountLeaf>,
    storage: HashMap<(Address, U256), U256>,
    codes: HashMap<B256, Bytecode>,
    code_roots: HashMap<B256, B256>,
    block_hashes: HashMap<u64, B256>,
    nodes: MemoryNodes,
    /// The state root after the last applied block.
    pub state_root: B256,
}

impl MemoryState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a built (or genesis) block's changes.
    pub fn apply(&mut self, block: &BuiltBlock) {
        for (address, account) in &block.diff.accounts {
            match account {
                Some(leaf) => {
                    self.accounts.insert(*address, *leaf);
                }
                None => {
                    self.accounts.remove(address);
                }
            }
        }
        for ((address, slot), value) in &block.diff.storage {
            if value.is_zero() {
                self.storage.remove(&(*address, *slot));
            } else {
                self.storage.insert((*address, *slot), *value);
            }
        }
        for (hash, code) in &block.diff.codes {
            self.codes.insert(*hash, Bytecode::new_raw(code.clone()));
        }
        self.code_roots.extend(block.code_roots.iter().copied());
        self.nodes.insert_all(block.new_nodes.iter().cloned());
        self.block_hashes.insert(block.header.number, block.hash);
        self.state_root = block.header.state_root;
    }

    /// Latest account leaf.
    pub fn account(&self, address: &Address) -> Option<AccountLeaf> {
        self.accounts.get(address).copied()
    }

    /// Latest storage value.
    pub fn storage(&self, address: &Address, slot: &U256) -> U256 {
        self.storage
            .get(&(*address, *slot))
            .copied()
            .unwrap_or_default()
    }

    /// Every (tree key, leaf value) of the current state, computed from the flat maps (not the
    /// tree) — to check the incrementally maintained root against one built from scratch.
    pub fn leaves(&self) -> Vec<(B256, Option<B256>)> {
        let accounts = self
            .accounts
            .iter()
            .filter(|(_, a)| !a.is_empty())
            .map(|(address, a)| (crate::state::account_key(address), Some(a.value_hash())));
        let storage = self.storage.iter().map(|((address, slot), value)| {
            (
                crate::state::storage_key(address, slot),
                Some(B256::from(value.to_be_bytes::<32>())),
            )
        });
        accounts.chain(storage).collect()
    }
}

impl DatabaseRef for MemoryState {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .accounts
            .get(&address)
            .map(AccountLeaf::to_account_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if code_hash == KECCAK256_EMPTY {
            return Ok(Bytecode::default());
        }
        self.codes
            .get(&code_hash)
            .cloned()
            .ok_or_else(|| ProviderError(format!("code {code_hash} missing")))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage(&address, &index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self.block_hashes.get(&number).copied().unwrap_or_default())
    }
}

impl NodeReader for MemoryState {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        self.nodes.node(hash)
    }
}

impl StateProvider for MemoryState {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        self.code_roots
            .get(code_hash)
            .copied()
            .ok_or_else(|| ProviderError(format!("code root of {code_hash} missing")))
    }
}
