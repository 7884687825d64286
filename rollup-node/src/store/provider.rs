//! The [`crate::provider`] read traits over the store: each delegates to the store's own
//! method of the same name.

use alloy_consensus::Header;
use alloy_primitives::{Address, Bytes, B256, U256};
use fraud_vm::{batch::Cursor, state::AccountLeaf};
use op_alloy_consensus::{OpReceiptEnvelope, OpTxEnvelope};

use super::{Head, HistoricalState, Store, StoreError, StoredBlock};
use crate::provider::{BlockReader, ReceiptReader, StateReader, StateView};

impl BlockReader for Store {
    fn head(&self) -> Option<Head> {
        Store::head(self)
    }

    fn head_number(&self) -> u64 {
        Store::head_number(self)
    }

    fn header_by_number(&self, number: u64) -> Result<Option<(B256, Header)>, StoreError> {
        Store::header_by_number(self, number)
    }

    fn number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        Store::number_by_hash(self, hash)
    }

    fn block_by_number(&self, number: u64) -> Result<Option<StoredBlock>, StoreError> {
        Store::block_by_number(self, number)
    }

    fn derivation_cursor(&self, number: u64) -> Result<Option<Cursor>, StoreError> {
        Store::derivation_cursor(self, number)
    }

    fn block_inputs(
        &self,
        number: u64,
    ) -> Result<Option<Vec<(OpTxEnvelope, Address)>>, StoreError> {
        Store::block_inputs(self, number)
    }
}

impl ReceiptReader for Store {
    fn receipts(&self, number: u64) -> Result<Option<Vec<OpReceiptEnvelope>>, StoreError> {
        Store::receipts(self, number)
    }

    fn tx_location(&self, hash: &B256) -> Result<Option<(u64, usize)>, StoreError> {
        Store::tx_location(self, hash)
    }

    fn l1_basefee_at(&self, number: u64) -> Result<u64, StoreError> {
        Ok(self.l1_at(number)?.map_or(0, |c| c.origin.basefee))
    }

    fn blocks_with_logs_from(
        &self,
        address: &Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StoreError> {
        Store::blocks_with_logs_from(self, address, from, to)
    }
}

impl StateReader for Store {
    type State<'a> = HistoricalState<'a>;

    fn state_available(&self, number: u64) -> Result<(), StoreError> {
        Store::state_available(self, number)
    }

    fn state_at(&self, number: u64, root: B256) -> Result<HistoricalState<'_>, StoreError> {
        self.at_block(number, root)
    }

    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        Store::code(self, hash)
    }
}

impl StateView for HistoricalState<'_> {
    fn account(&self, address: &Address) -> Result<Option<AccountLeaf>, StoreError> {
        HistoricalState::account(self, address)
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StoreError> {
        HistoricalState::storage(self, address, slot)
    }
}
