//! Read traits over the chain, as reth's provider traits: what the JSON-RPC handlers and the
//! step-machine check read, so storage can change without touching them.
//!
//! - [`BlockReader`]: the head, headers and whole blocks by number or hash;
//! - [`ReceiptReader`]: receipts, where a transaction was included, which blocks an address
//!   logged in;
//! - [`StateReader`]: the state at a block's state root ([`StateView`]: accounts, storage and
//!   the state tree for proofs, and a revm database for `eth_call`), code by hash.
//!
//! Only blocks up to the head are visible through them. The chain store ([`crate::store::Store`])
//! implements all three; [`ChainProvider`] names the combination. `memory::MemoryProvider`
//! (tests and the `test-utils` feature) holds a chain in memory.
//!
//! State views are associated types, not trait objects: `eth_call` and `eth_estimateGas` run revm
//! over them, one state read per opcode that touches state, so they stay monomorphic.

#[cfg(any(test, feature = "test-utils"))]
pub mod memory;

use alloy_consensus::Header;
use alloy_primitives::{Address, Bytes, B256, U256};
use fraud_vm::{batch::Cursor, execute::StateProvider, state::AccountLeaf};
use op_alloy_consensus::{OpReceiptEnvelope, OpTxEnvelope};

use crate::store::{Head, StoreError, StoredBlock};

/// Blocks up to the head.
pub trait BlockReader {
    /// The head: the newest block readers may see (None: no chain yet).
    fn head(&self) -> Option<Head>;

    /// The head's number (0 without a chain).
    fn head_number(&self) -> u64 {
        self.head().map_or(0, |h| h.header.number)
    }

    /// Hash and header of block `number`.
    fn header_by_number(&self, number: u64) -> Result<Option<(B256, Header)>, StoreError>;

    /// The number of the block with this hash.
    fn number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StoreError>;

    /// The whole block `number`: header, hash, transactions and senders.
    fn block_by_number(&self, number: u64) -> Result<Option<StoredBlock>, StoreError>;

    /// Where derivation continues after block `number` (None: this node did not derive it
    /// from a batch).
    fn derivation_cursor(&self, number: u64) -> Result<Option<Cursor>, StoreError>;

    /// Block `number`'s derived input list with its senders when it holds transactions
    /// tx-init skipped (None: the list is the block's transactions).
    fn block_inputs(
        &self,
        _number: u64,
    ) -> Result<Option<Vec<(OpTxEnvelope, Address)>>, StoreError> {
        Ok(None)
    }
}

/// Receipts and the indexes over them.
pub trait ReceiptReader {
    /// The receipts of block `number`, in transaction order.
    fn receipts(&self, number: u64) -> Result<Option<Vec<OpReceiptEnvelope>>, StoreError>;

    /// Where a transaction was included: (block number, index in the block).
    fn tx_location(&self, hash: &B256) -> Result<Option<(u64, usize)>, StoreError>;

    /// The L1 base fee block `number`'s user transactions paid their L1 data fee at
    /// (`fraud_vm::fee`): that of the newest L1 origin at or below it (0 if none).
    fn l1_basefee_at(&self, number: u64) -> Result<u64, StoreError>;

    /// Block numbers in `[from, to]` where `address` emitted a log, ascending.
    fn blocks_with_logs_from(
        &self,
        address: &Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StoreError>;
}

/// State at any block whose state is kept.
pub trait StateReader {
    /// The state under one state root.
    type State<'a>: StateView
    where
        Self: 'a;

    /// Checks that the state of block `number` is still kept ([`StoreError::Pruned`] if not).
    fn state_available(&self, number: u64) -> Result<(), StoreError>;

    /// The state of block `number`, whose header's `state_root` is `root`
    /// ([`StoreError::Pruned`] if it is no longer kept).
    fn state_at(&self, number: u64, root: B256) -> Result<Self::State<'_>, StoreError>;

    /// Code by its hash (the empty code for the empty code hash).
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StoreError>;
}

/// One state: accounts and slots, and (through [`StateProvider`]) a revm database and the
/// state tree's nodes for proofs.
pub trait StateView: StateProvider {
    /// The account leaf of `address` (None: no account).
    fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError>;

    /// A storage slot (zero if never written).
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError>;
}

/// Everything the JSON-RPC handlers read: blocks, receipts and state, shareable across the
/// server's threads.
pub trait ChainProvider: BlockReader + ReceiptReader + StateReader + Send + Sync + 'static {}

impl<T> ChainProvider for T where
    T: BlockReader + ReceiptReader + StateReader + Send + Sync + 'static
{
}
