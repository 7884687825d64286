//! How the world state is laid out in the state tree.
//!
//! One [`crate::smt`] tree holds every account and every storage slot of the L2:
//!
//! | leaf | key | value |
//! |---|---|---|
//! | account | `keccak256(address)` (20-byte preimage) | `keccak256(abi.encode(nonce, balance, codeHash, codeRoot))` |
//! | storage slot | `keccak256(address ‖ slot)` (52-byte preimage) | the slot's 32-byte value |
//!
//! The two preimage lengths differ, so an account key can never equal a storage key.
//! Absent leaves are empty accounts (EIP-161: nonce 0, balance 0, no code) and zero slots.
//!
//! `codeRoot` commits to the code in 31-byte chunks with a push-data marker, so a one-step proof
//! can show the one chunk an instruction is read from and check a jump target: see [`crate::code`].

use std::collections::BTreeMap;

use alloy_primitives::{keccak256, Address, Bytes, B256, KECCAK256_EMPTY, U256};

/// The state-tree key of an account.
pub fn account_key(address: &Address) -> B256 {
    keccak256(address)
}

/// The state-tree key of a storage slot.
pub fn storage_key(address: &Address, slot: &U256) -> B256 {
    let mut preimage = [0u8; 52];
    preimage[..20].copy_from_slice(address.as_slice());
    preimage[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    keccak256(preimage)
}

/// The fields of an account leaf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccountLeaf {
    /// Transaction count (or contract creation count).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// `keccak256(code)`, [`KECCAK256_EMPTY`] for no code.
    pub code_hash: B256,
    /// [`code_root`] of the code.
    pub code_root: B256,
}

impl AccountLeaf {
    /// Length of [`AccountLeaf::encode`].
    pub const ENCODED_LEN: usize = 128;

    /// `abi.encode(nonce, balance, codeHash, codeRoot)`.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[24..32].copy_from_slice(&self.nonce.to_be_bytes());
        out[32..64].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[64..96].copy_from_slice(self.code_hash.as_slice());
        out[96..128].copy_from_slice(self.code_root.as_slice());
        out
    }

    /// Inverse of [`AccountLeaf::encode`]; `None` if the bytes are not a canonical encoding.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN || bytes[..24].iter().any(|b| *b != 0) {
            return None;
        }
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&bytes[24..32]);
        Some(Self {
            nonce: u64::from_be_bytes(nonce),
            balance: U256::from_be_slice(&bytes[32..64]),
            code_hash: B256::from_slice(&bytes[64..96]),
            code_root: B256::from_slice(&bytes[96..128]),
        })
    }

    /// The leaf value stored in the tree.
    pub fn value_hash(&self) -> B256 {
        keccak256(self.encode())
    }

    /// The account as revm reads it (code loaded by hash when needed).
    #[cfg(feature = "evm")]
    pub fn to_account_info(&self) -> revm::state::AccountInfo {
        revm::state::AccountInfo {
            balance: self.balance,
            nonce: self.nonce,
            code_hash: self.code_hash,
            code: None,
            ..Default::default()
        }
    }

    /// The empty account (what an absent leaf means).
    pub fn empty() -> Self {
        Self {
            code_hash: KECCAK256_EMPTY,
            ..Default::default()
        }
    }

    /// EIP-161 emptiness: such an account is absent from the tree.
    pub fn is_empty(&self) -> bool {
        self.nonce == 0 && self.balance.is_zero() && self.code_hash == KECCAK256_EMPTY
    }
}

pub use crate::code::code_root;

/// What one block changed in the world state, relative to its parent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateDiff {
    /// Changed accounts; `None` means the account no longer exists (empty or destroyed).
    pub accounts: BTreeMap<Address, Option<AccountLeaf>>,
    /// Changed storage slots; zero means the slot is cleared.
    pub storage: BTreeMap<(Address, U256), U256>,
    /// Code deployed in this block, by code hash.
    pub codes: BTreeMap<B256, Bytes>,
}

impl StateDiff {
    /// The changes to apply to the state tree (`None` deletes a leaf).
    pub fn tree_changes(&self) -> Vec<(B256, Option<B256>)> {
        let mut changes = Vec::with_capacity(self.accounts.len() + self.storage.len());
        for (address, account) in &self.accounts {
            let value = account.filter(|a| !a.is_empty()).map(|a| a.value_hash());
            changes.push((account_key(address), value));
        }
        for ((address, slot), value) in &self.storage {
            let value = (!value.is_zero()).then(|| B256::from(value.to_be_bytes::<32>()));
            changes.push((storage_key(address, slot), value));
        }
        changes
    }

    /// Whether the block left the state untouched.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.storage.is_empty() && self.codes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_leaf_roundtrip_and_canonical() {
        let leaf = AccountLeaf {
            nonce: 7,
            balance: U256::from(123_456u64),
            code_hash: B256::repeat_byte(1),
            code_root: B256::repeat_byte(2),
        };
        assert_eq!(AccountLeaf::decode(&leaf.encode()), Some(leaf));
        let mut bad = leaf.encode();
        bad[0] = 1;
        assert_eq!(AccountLeaf::decode(&bad), None);
        assert_eq!(AccountLeaf::decode(&bad[1..]), None);
    }

    #[test]
    fn account_and_storage_keys_are_distinct() {
        let a = Address::repeat_byte(9);
        assert_ne!(account_key(&a), storage_key(&a, &U256::ZERO));
        assert_ne!(
            storage_key(&a, &U256::from(1)),
            storage_key(&a, &U256::from(2))
        );
    }

    #[test]
    fn empty_accounts_and_zero_slots_are_deletions() {
        let mut diff = StateDiff::default();
        let a = Address::repeat_byte(1);
        diff.accounts.insert(
            a,
            Some(AccountLeaf {
                code_hash: KECCAK256_EMPTY,
                ..Default::default()
            }),
        );
        diff.storage.insert((a, U256::from(1)), U256::ZERO);
        diff.storage.insert((a, U256::from(2)), U256::from(5));
        let changes = diff.tree_changes();
        assert_eq!(changes[0], (account_key(&a), None));
        assert_eq!(changes[1], (storage_key(&a, &U256::from(1)), None));
        assert_eq!(
            changes[2],
            (
                storage_key(&a, &U256::from(2)),
                Some(B256::with_last_byte(5))
            )
        );
    }
}
