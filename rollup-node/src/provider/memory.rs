//! A chain held in memory behind the [`super`] read traits, for tests: blocks go in as
//! [`BuiltBlock`]s (genesis first), every state stays readable through its root, and no disk,
//! node or socket is involved.

use std::collections::HashMap;

use alloy_consensus::Header;
use alloy_primitives::{map::B256Map, Address, Bytes, B256, KECCAK256_EMPTY, U256};
use fraud_vm::{
    batch::Cursor,
    execute::{BuiltBlock, StateProvider},
    smt::{self, MemoryNodes, Node, NodeReader, SmtError},
    state::{account_key, storage_key, AccountLeaf},
    ProviderError,
};
use op_alloy_consensus::OpReceiptEnvelope;
use revm::{
    database_interface::DatabaseRef,
    state::{AccountInfo, Bytecode},
};

use super::{BlockReader, ReceiptReader, StateReader, StateView};
use crate::store::{Head, StoreError, StoredBlock};

/// A chain in memory (see the module docs).
#[derive(Debug, Default)]
pub struct MemoryProvider {
    /// Blocks by number, with their receipts.
    blocks: Vec<(StoredBlock, Vec<OpReceiptEnvelope>)>,
    by_hash: B256Map<u64>,
    txs: B256Map<(u64, usize)>,
    /// Every state's tree nodes (content-addressed, so every root stays readable).
    nodes: MemoryNodes,
    /// Accounts by address and leaf value (the tree holds only the value's hash).
    accounts: HashMap<(Address, B256), AccountLeaf>,
    codes: B256Map<Bytes>,
    code_roots: B256Map<B256>,
    /// The oldest block whose state is served ([`MemoryProvider::prune_below`]).
    first_state: u64,
}

impl MemoryProvider {
    /// An empty chain; [`MemoryProvider::push`] block 0 first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `block`, which must extend the newest block (block 0 on an empty chain), else
    /// [`StoreError::DoesNotExtend`] and nothing changes.
    pub fn push(&mut self, block: BuiltBlock) -> Result<(), StoreError> {
        let onto = self.blocks.last().map(|(b, _)| (b.header.number, b.hash));
        let fits = match onto {
            Some((number, hash)) => {
                block.header.number == number + 1 && block.header.parent_hash == hash
            }
            None => block.header.number == 0,
        };
        if !fits {
            return Err(StoreError::DoesNotExtend {
                number: block.header.number,
                parent_hash: block.header.parent_hash,
                onto,
            });
        }
        let number = block.header.number;
        self.nodes.insert_all(block.new_nodes.iter().copied());
        for leaf in block.diff.accounts.iter() {
            if let (address, Some(leaf)) = leaf {
                self.accounts.insert((*address, leaf.value_hash()), *leaf);
            }
        }
        self.codes
            .extend(block.diff.codes.iter().map(|(h, c)| (*h, c.clone())));
        self.code_roots.extend(block.code_roots.iter().copied());
        for (index, tx) in block.transactions.iter().enumerate() {
            self.txs.insert(tx.tx_hash(), (number, index));
        }
        self.by_hash.insert(block.hash, number);
        let stored = StoredBlock {
            header: block.header,
            hash: block.hash,
            transactions: block.transactions,
            senders: block.senders,
        };
        self.blocks.push((stored, block.receipts));
        Ok(())
    }

    /// Stops serving the states of blocks below `first`, as a store with a short state history
    /// does.
    pub fn prune_below(&mut self, first: u64) {
        self.first_state = first;
    }

    /// The state after the newest block, to build the next block on.
    pub fn tip_state(&self) -> MemoryState<'_> {
        let root = self
            .blocks
            .last()
            .map_or(B256::ZERO, |(b, _)| b.header.state_root);
        self.state_at_root(root)
    }

    /// The state whose tree has root `root`.
    fn state_at_root(&self, root: B256) -> MemoryState<'_> {
        MemoryState {
            provider: self,
            root,
        }
    }

    fn block(&self, number: u64) -> Option<&(StoredBlock, Vec<OpReceiptEnvelope>)> {
        self.blocks.get(usize::try_from(number).ok()?)
    }
}

impl BlockReader for MemoryProvider {
    fn head(&self) -> Option<Head> {
        self.blocks.last().map(|(b, _)| Head {
            header: b.header.clone(),
            hash: b.hash,
        })
    }

    fn header_by_number(&self, number: u64) -> Result<Option<(B256, Header)>, StoreError> {
        Ok(self.block(number).map(|(b, _)| (b.hash, b.header.clone())))
    }

    fn number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        Ok(self.by_hash.get(hash).copied())
    }

    fn block_by_number(&self, number: u64) -> Result<Option<StoredBlock>, StoreError> {
        Ok(self.block(number).map(|(b, _)| b.clone()))
    }

    /// No batches: an in-memory chain is built without L1 (genesis has the genesis cursor).
    fn derivation_cursor(&self, number: u64) -> Result<Option<Cursor>, StoreError> {
        Ok((number == 0).then_some(Cursor::GENESIS))
    }
}

impl ReceiptReader for MemoryProvider {
    fn receipts(&self, number: u64) -> Result<Option<Vec<OpReceiptEnvelope>>, StoreError> {
        Ok(self.block(number).map(|(_, r)| r.clone()))
    }

    fn tx_location(&self, hash: &B256) -> Result<Option<(u64, usize)>, StoreError> {
        Ok(self.txs.get(hash).copied())
    }

    /// No L1 origins: an in-memory chain is built without L1.
    fn l1_basefee_at(&self, _number: u64) -> Result<u64, StoreError> {
        Ok(0)
    }

    fn blocks_with_logs_from(
        &self,
        address: &Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .blocks
            .iter()
            .filter(|(b, _)| (from..=to).contains(&b.header.number))
            .filter(|(_, receipts)| {
                receipts
                    .iter()
                    .any(|r| r.logs().iter().any(|l| l.address == *address))
            })
            .map(|(b, _)| b.header.number)
            .collect())
    }
}

impl StateReader for MemoryProvider {
    type State<'a> = MemoryState<'a>;

    fn state_available(&self, number: u64) -> Result<(), StoreError> {
        if number < self.first_state {
            return Err(StoreError::Pruned {
                number,
                first: self.first_state,
            });
        }
        Ok(())
    }

    fn state_at(&self, number: u64, root: B256) -> Result<MemoryState<'_>, StoreError> {
        self.state_available(number)?;
        Ok(self.state_at_root(root))
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        if *hash == KECCAK256_EMPTY {
            return Ok(Some(Bytes::new()));
        }
        Ok(self.codes.get(hash).cloned())
    }
}

/// The state under one root of a [`MemoryProvider`].
#[derive(Clone, Copy, Debug)]
pub struct MemoryState<'a> {
    provider: &'a MemoryProvider,
    root: B256,
}

fn tree_error(e: SmtError) -> StoreError {
    StoreError::Chain(e.into())
}

impl StateView for MemoryState<'_> {
    fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        let Some(value) =
            smt::get(&self.provider.nodes, self.root, &account_key(address)).map_err(tree_error)?
        else {
            return Ok(None);
        };
        self.provider
            .accounts
            .get(&(*address, value))
            .copied()
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("account {address} of leaf {value}")))
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        Ok(
            smt::get(&self.provider.nodes, self.root, &storage_key(address, slot))
                .map_err(tree_error)?
                .map_or(U256::ZERO, |v| U256::from_be_bytes(v.0)),
        )
    }
}

impl DatabaseRef for MemoryState<'_> {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        Ok(self
            .account(&address)?
            .as_ref()
            .map(AccountLeaf::to_account_info))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        match self.provider.code(&code_hash)? {
            Some(code) => Ok(Bytecode::new_raw(code)),
            None => Err(StoreError::Corrupt(format!("code {code_hash} missing")).into()),
        }
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        Ok(self.storage(&address, &index)?)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        Ok(self
            .provider
            .block(number)
            .map_or(B256::ZERO, |(b, _)| b.hash))
    }
}

impl NodeReader for MemoryState<'_> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        self.provider.nodes.node(hash)
    }
}

impl StateProvider for MemoryState<'_> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        self.provider
            .code_roots
            .get(code_hash)
            .copied()
            .ok_or_else(|| ProviderError(format!("code root of {code_hash} missing")))
    }
}
