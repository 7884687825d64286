//! The block's input list: what a block executes, one item per transaction.
//!
//! A block's machine starts from its parent's state and a commitment to the transactions it
//! includes, `inputsRoot`: a [`crate::merkle`] tree of depth `ceil(log2(txCount))` over
//! `keccak256(abi.encode(TxInput))` of each transaction, in block order. A [`TxInput`] holds
//! the decoded fields of a signed transaction and its recovered sender; that the fields match
//! the signed bytes posted on L1 is derivation's rule ([`crate::batch::decode_user_tx`]), which
//! the derivation program (`contracts/src/derivation/UserTx.sol`) computes in EVM code that this
//! machine proves opcode by opcode. The tx-init step only reads the items; no step yet joins the
//! program's input tree to a block's `inputsRoot` (`docs/design.md`, *Provable derivation*). A
//! deposit's item has type `0x7E`, its `from` as sender, its `mint`, zero fees and nonce
//! (deposits use the sender's current nonce).

use alloy_consensus::Transaction as _;
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, B256, U256};
use op_alloy_consensus::OpTxEnvelope;

use crate::codec::{word_struct, DecodeError, Words};
use crate::merkle;

/// EIP-2718 type of deposit transactions.
pub const DEPOSIT_TYPE: u64 = 0x7e;

word_struct! {
    /// One transaction of the block as the step machine reads it.
    pub struct TxInput {
        /// `keccak256` of the EIP-2718 encoding (what `transactionsRoot` accumulates).
        pub tx_hash: B256,
        /// EIP-2718 type (0 legacy, 1 EIP-2930, 2 EIP-1559).
        pub tx_type: u64,
        /// Recovered sender.
        pub sender: Address,
        /// Nonce.
        pub nonce: u64,
        /// Gas limit.
        pub gas_limit: u64,
        /// Recipient; `None` creates a contract.
        pub to: Option<Address>,
        /// Value sent.
        pub value: U256,
        /// Max fee per gas (the gas price for legacy and EIP-2930).
        pub max_fee_per_gas: u128,
        /// Max priority fee per gas (the gas price for legacy and EIP-2930).
        pub max_priority_fee_per_gas: u128,
        /// Input length in bytes.
        pub input_len: u64,
        /// Root of the input's word tree (depth [`super::DATA_DEPTH`]).
        pub input_root: B256,
        /// Number of zero bytes of the input (intrinsic gas).
        pub input_zero_bytes: u64,
        /// Number of access-list entries (addresses) and storage keys.
        pub access_list: (u64, u64),
        /// Hash chain of the access list, from its last entry back ([`access_list_hash`]; 0
        /// when empty).
        pub access_list_hash: B256,
        /// Wei minted to the sender first (deposits, type `0x7E`; 0 otherwise).
        pub mint: U256,
        /// Length of the EIP-2718 encoding, which sets the L1 data fee ([`crate::fee`]; 0 for
        /// deposits, which pay none).
        pub encoded_len: u64,
    }
}

/// A transaction's recipient as two words: `isCreate, to` (`to` is zero when creating).
impl Words for Option<Address> {
    const WORDS: usize = 2;
    const NAME: &'static str = "recipient (isCreate, to)";
    fn encode_words(&self, out: &mut Vec<u8>) {
        self.is_none().encode_words(out);
        self.unwrap_or_default().encode_words(out);
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (is_create, to) = (
            bool::decode_words(&bytes[..32])?,
            Address::decode_words(&bytes[32..])?,
        );
        match (is_create, to.is_zero()) {
            (true, true) => Ok(None),
            (true, false) => Err(DecodeError::NonCanonical(Self::NAME)),
            (false, _) => Ok(Some(to)),
        }
    }
}

/// A pair of counts as two words.
impl Words for (u64, u64) {
    const WORDS: usize = 2;
    const NAME: &'static str = "count pair";
    fn encode_words(&self, out: &mut Vec<u8>) {
        self.0.encode_words(out);
        self.1.encode_words(out);
    }
    fn decode_words(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok((
            u64::decode_words(&bytes[..32])?,
            u64::decode_words(&bytes[32..])?,
        ))
    }
}

impl TxInput {
    /// The input item of a signed (or deposit) transaction.
    pub fn from_tx(tx: &OpTxEnvelope, sender: Address) -> Self {
        let input = tx.input();
        if let OpTxEnvelope::Deposit(deposit) = tx {
            return Self {
                tx_hash: tx.tx_hash(),
                tx_type: DEPOSIT_TYPE,
                sender: deposit.from,
                gas_limit: deposit.gas_limit,
                to: deposit.to.to().copied(),
                value: deposit.value,
                input_len: input.len() as u64,
                input_root: crate::merkle::data_root(input),
                input_zero_bytes: input.iter().filter(|b| **b == 0).count() as u64,
                mint: U256::from(deposit.mint),
                ..Default::default()
            };
        }
        let (max_fee, max_priority) = match tx.gas_price() {
            Some(price) => (price, price),
            None => (
                tx.max_fee_per_gas(),
                tx.max_priority_fee_per_gas().unwrap_or_default(),
            ),
        };
        let access_list = tx.access_list().map_or((0, 0), |list| {
            (
                list.len() as u64,
                list.iter().map(|i| i.storage_keys.len() as u64).sum(),
            )
        });
        let access_list_hash = access_list_hash(&access_entries(tx));
        Self {
            tx_hash: tx.tx_hash(),
            tx_type: tx.tx_type() as u64,
            sender,
            nonce: tx.nonce(),
            gas_limit: tx.gas_limit(),
            to: tx.to(),
            value: tx.value(),
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: max_priority,
            input_len: input.len() as u64,
            input_root: crate::merkle::data_root(input),
            input_zero_bytes: input.iter().filter(|b| **b == 0).count() as u64,
            access_list,
            access_list_hash,
            mint: U256::ZERO,
            encoded_len: tx.encode_2718_len() as u64,
        }
    }

    /// The price per gas the sender pays at `base_fee`: `min(feeCap, baseFee + tipCap)` for
    /// EIP-1559, the gas price otherwise (0 for deposits).
    pub fn price(&self, base_fee: u128) -> u128 {
        if self.tx_type == 2 {
            self.max_fee_per_gas
                .min(base_fee.saturating_add(self.max_priority_fee_per_gas))
        } else {
            self.max_fee_per_gas
        }
    }
}

/// One access-list entry in the order tx-init warms them: each item's address, then its
/// storage keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessEntry {
    /// The address.
    pub address: Address,
    /// A storage key of the address, or `None` for the address itself.
    pub slot: Option<B256>,
}

impl AccessEntry {
    /// `keccak256(address ‖ uint8 kind ‖ slot)`: kind 0 for an address (slot 0), 1 for a key.
    pub fn hash(&self) -> B256 {
        let mut preimage = [0u8; 53];
        preimage[..20].copy_from_slice(self.address.as_slice());
        if let Some(slot) = &self.slot {
            preimage[20] = 1;
            preimage[21..].copy_from_slice(slot.as_slice());
        }
        keccak256(preimage)
    }
}

/// A transaction's access-list entries, in warming order.
pub fn access_entries(tx: &OpTxEnvelope) -> Vec<AccessEntry> {
    let mut entries = Vec::new();
    for item in tx.access_list().map(|l| l.0.as_slice()).unwrap_or_default() {
        entries.push(AccessEntry {
            address: item.address,
            slot: None,
        });
        for key in &item.storage_keys {
            entries.push(AccessEntry {
                address: item.address,
                slot: Some(*key),
            });
        }
    }
    entries
}

/// The hash chain over `entries` from the last one back: `H([]) = 0`,
/// `H([e, rest…]) = keccak256(H(rest) ‖ e.hash())` ([`super::machine::link`]). Chained this way,
/// each tx-init micro-step checks its entry against the chain of the entries not yet warmed
/// (the head it holds) and keeps the rest; chained forwards, only the last entry could be
/// checked and a liar could warm any address in an earlier micro-step.
pub fn access_list_hash(entries: &[AccessEntry]) -> B256 {
    entries
        .iter()
        .rev()
        .fold(B256::ZERO, |h, e| chain_entry(&h, e))
}

/// One link of [`access_list_hash`]: `keccak256(rest ‖ entry.hash())`.
pub fn chain_entry(h: &B256, entry: &AccessEntry) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(h.as_slice());
    preimage[32..].copy_from_slice(entry.hash().as_slice());
    keccak256(preimage)
}

/// Depth of the input tree of `count` transactions.
pub fn depth(count: u64) -> usize {
    merkle::depth_for(count as usize)
}

/// The input tree of a block's transactions (levels, for opening items).
pub fn tree(inputs: &[TxInput]) -> Vec<Vec<B256>> {
    let leaves: Vec<B256> = inputs.iter().map(TxInput::hash).collect();
    merkle::levels(&leaves, depth(inputs.len() as u64))
}

/// `inputsRoot` of a block's transactions.
pub fn root(inputs: &[TxInput]) -> B256 {
    let levels = tree(inputs);
    levels
        .last()
        .and_then(|l| l.first().copied())
        .unwrap_or_default()
}
