//! The recent states of a pruning node (`--state-history H`), held in memory.
//!
//! A node that serves only the newest `H + 1` states does not need its state tree on disk:
//! the flat account and slot records (plus each kept block's *changeset*, the values its
//! changes replaced) determine every kept tree, so the store rebuilds them at start
//! ([`crate::store::Store::open`]) and checks each rebuilt root against the block header.
//! While running, [`KeptStates`] holds:
//!
//! * every tree node of the kept states, by hash, with the newest block that created it;
//! * per kept block, the nodes its update made stale ([`fraud_vm::execute::BuiltBlock::stale_nodes`])
//!   and the accounts in its changeset;
//! * the accounts of older states' leaves (a leaf holds only the account's hash), from the
//!   changesets: by address and leaf value, with the newest block whose changeset holds it.
//!
//! Dropping the oldest kept block `N` (when `N` falls `H` behind the head) deletes the nodes
//! `N` made stale unless a later block created them again (a value set back to an old one
//! recreates the same node: the recorded block tells), which removes the state of `N - 1` and
//! nothing newer. The same rule drops the old accounts.
//!
//! Memory follows the live state, not the block count: ~2 nodes per leaf, ~130 bytes each.

use std::collections::VecDeque;

use alloy_primitives::{
    map::{B256Map, HashMap},
    Address, B256, U256,
};
use fraud_vm::{
    smt::{Node, NodeReader, SmtError},
    state::{AccountLeaf, StateDiff},
};
use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;

/// Number of independently locked parts of the node map (by the hash's first byte).
const SHARDS: usize = 64;

/// A node of a kept state and the newest block that created it.
#[derive(Clone, Copy)]
struct Kept {
    node: Node,
    born: u64,
}

/// What dropping one kept block removes.
struct KeptBlock {
    number: u64,
    /// Nodes of the parent's tree that this block's tree no longer holds.
    stale: Vec<B256>,
    /// The accounts in this block's changeset: address and leaf value.
    accounts: Vec<(Address, B256)>,
}

/// Whether a block is added after the ones held (the node runs forward) or before them (the
/// store rebuilds older states at start, newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// The newest block: what it creates is recorded as created by it.
    Newest,
    /// Older than every block held: only what no newer block created is recorded.
    Oldest,
}

/// The kept states' tree nodes and old accounts (see the module docs).
pub struct KeptStates {
    /// States kept before the head's.
    history: u64,
    shards: Vec<RwLock<B256Map<Kept>>>,
    blocks: Mutex<VecDeque<KeptBlock>>,
    old_accounts: RwLock<HashMap<(Address, B256), (AccountLeaf, u64)>>,
}

impl KeptStates {
    /// Nothing kept yet; `history`: how many states before the head's to keep.
    pub fn new(history: u64) -> Self {
        Self {
            history,
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            blocks: Mutex::default(),
            old_accounts: RwLock::default(),
        }
    }
}

fn shard_of(hash: &B256) -> usize {
    hash[0] as usize % SHARDS
}

impl KeptStates {
    /// Empties it as [`KeptStates::new`] made it: no node, no block, no old account (a store
    /// rewind rebuilds the kept states from scratch).
    pub fn clear(&self) {
        for shard in &self.shards {
            shard.write().clear();
        }
        self.blocks.lock().clear();
        self.old_accounts.write().clear();
    }

    /// How many states before the head's are kept.
    pub fn history(&self) -> u64 {
        self.history
    }

    /// Number of tree nodes held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    /// Whether no node is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hashes of every node held.
    pub fn hashes(&self) -> Vec<B256> {
        self.shards
            .iter()
            .flat_map(|s| s.read().keys().copied().collect::<Vec<_>>())
            .collect()
    }

    /// The node with this hash, if a kept state holds it.
    pub fn node(&self, hash: &B256) -> Option<Node> {
        self.shards[shard_of(hash)].read().get(hash).map(|k| k.node)
    }

    /// The account `address` held in an older state where its leaf value was `value`, from
    /// the kept changesets.
    pub fn old_account(&self, address: &Address, value: &B256) -> Option<AccountLeaf> {
        self.old_accounts
            .read()
            .get(&(*address, *value))
            .map(|(a, _)| *a)
    }

    /// Records block `number`: the ones it made stale, its changeset (the values its changes
    /// replaced), and `created`: running forward ([`Order::Newest`]), the nodes the block
    /// created; rebuilding ([`Order::Oldest`]), the nodes of its parent's state that undoing
    /// the block created.
    pub fn add_block(
        &self,
        number: u64,
        created: &[(B256, Node)],
        stale: Vec<B256>,
        changeset: &StateDiff,
        order: Order,
    ) {
        let born = match order {
            Order::Newest => number,
            Order::Oldest => number.saturating_sub(1),
        };
        self.insert_nodes(created, born, order);
        let accounts: Vec<((Address, B256), AccountLeaf)> = changeset
            .accounts
            .iter()
            .filter_map(|(address, account)| {
                let account = account.filter(|a| !a.is_empty())?;
                Some(((*address, account.value_hash()), account))
            })
            .collect();
        {
            let mut old = self.old_accounts.write();
            for (leaf, account) in &accounts {
                match order {
                    Order::Newest => {
                        old.insert(*leaf, (*account, number));
                    }
                    Order::Oldest => {
                        old.entry(*leaf).or_insert((*account, number));
                    }
                }
            }
        }
        let block = KeptBlock {
            number,
            stale,
            accounts: accounts.into_iter().map(|(leaf, _)| leaf).collect(),
        };
        let mut blocks = self.blocks.lock();
        match order {
            Order::Newest => blocks.push_back(block),
            Order::Oldest => blocks.push_front(block),
        }
    }

    /// Inserts `nodes`, created by block `born` (the head's tree, rebuilt at start, has no
    /// stale list: use this instead of [`KeptStates::add_block`]).
    pub fn insert_nodes(&self, nodes: &[(B256, Node)], born: u64, order: Order) {
        let mut parts: Vec<Vec<(B256, Node)>> = vec![Vec::new(); SHARDS];
        for (hash, node) in nodes {
            parts[shard_of(hash)].push((*hash, *node));
        }
        parts.into_par_iter().enumerate().for_each(|(i, part)| {
            if part.is_empty() {
                return;
            }
            let mut shard = self.shards[i].write();
            shard.reserve(part.len());
            for (hash, node) in part {
                match order {
                    Order::Newest => {
                        shard.insert(hash, Kept { node, born });
                    }
                    Order::Oldest => {
                        shard.entry(hash).or_insert(Kept { node, born });
                    }
                }
            }
        });
    }

    /// Drops the kept blocks numbered up to `upto` (see the module docs): the states before
    /// `upto` go, the state of `upto` and later ones stay whole. Returns the nodes deleted.
    pub fn drop_through(&self, upto: u64) -> usize {
        let mut dropped = Vec::new();
        {
            let mut blocks = self.blocks.lock();
            while blocks.front().is_some_and(|b| b.number <= upto) {
                dropped.extend(blocks.pop_front());
            }
        }
        let mut deleted = 0;
        for block in dropped {
            let mut parts: Vec<Vec<B256>> = vec![Vec::new(); SHARDS];
            for hash in block.stale {
                parts[shard_of(&hash)].push(hash);
            }
            deleted += parts
                .into_par_iter()
                .enumerate()
                .map(|(i, part)| {
                    let mut shard = self.shards[i].write();
                    let before = shard.len();
                    for hash in part {
                        // Created again by this block or a later one: still live.
                        if shard.get(&hash).is_some_and(|k| k.born < block.number) {
                            shard.remove(&hash);
                        }
                    }
                    before - shard.len()
                })
                .sum::<usize>();
            let mut old = self.old_accounts.write();
            for leaf in block.accounts {
                if old.get(&leaf).is_some_and(|(_, n)| *n == block.number) {
                    old.remove(&leaf);
                }
            }
        }
        deleted
    }

    /// The (address, leaf value) pairs of the old accounts held.
    pub fn old_account_keys(&self) -> std::collections::BTreeSet<(Address, B256)> {
        self.old_accounts.read().keys().copied().collect()
    }
}

impl NodeReader for KeptStates {
    fn node(&self, hash: &B256) -> Result<Option<Node>, SmtError> {
        Ok(KeptStates::node(self, hash))
    }
}

/// Encodes a changeset: a u32 BE count, then the accounts, each `address ‖ 0` (no account),
/// `address ‖ 2 ‖ nonce (u64 BE) ‖ n ‖ balance (its n low bytes, big-endian)` (an account
/// without code: code hash and code root those of [`AccountLeaf::empty`]), or
/// `address ‖ 1 ‖ account` ([`AccountLeaf::encode`]); then the slots (address ‖ slot ‖ value).
/// An ETH transfer's two accounts take ~80 bytes instead of ~300.
pub fn encode_changeset(changeset: &StateDiff) -> Vec<u8> {
    let no_code = AccountLeaf::empty();
    let mut out = Vec::with_capacity(
        4 + changeset.accounts.len() * (21 + AccountLeaf::ENCODED_LEN)
            + changeset.storage.len() * 84,
    );
    out.extend_from_slice(&(changeset.accounts.len() as u32).to_be_bytes());
    for (address, account) in &changeset.accounts {
        out.extend_from_slice(address.as_slice());
        match account {
            None => out.push(0),
            Some(account)
                if account.code_hash == no_code.code_hash
                    && account.code_root == no_code.code_root =>
            {
                out.push(2);
                out.extend_from_slice(&account.nonce.to_be_bytes());
                let balance = account.balance.to_be_bytes::<32>();
                let len = 32 - account.balance.leading_zeros() / 8;
                out.push(len as u8);
                out.extend_from_slice(&balance[32 - len..]);
            }
            Some(account) => {
                out.push(1);
                out.extend_from_slice(&account.encode());
            }
        }
    }
    for ((address, slot), value) in &changeset.storage {
        out.extend_from_slice(address.as_slice());
        out.extend_from_slice(&slot.to_be_bytes::<32>());
        out.extend_from_slice(&value.to_be_bytes::<32>());
    }
    out
}

/// Decodes [`encode_changeset`]'s output (None: malformed).
pub fn decode_changeset(mut bytes: &[u8]) -> Option<StateDiff> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = bytes.split_at_checked(n)?;
        *bytes = rest;
        Some(head)
    }
    let mut diff = StateDiff::default();
    let count = u32::from_be_bytes(take(&mut bytes, 4)?.try_into().ok()?);
    for _ in 0..count {
        let address = Address::from_slice(take(&mut bytes, 20)?);
        let account = match take(&mut bytes, 1)?[0] {
            0 => None,
            1 => Some(AccountLeaf::decode(take(
                &mut bytes,
                AccountLeaf::ENCODED_LEN,
            )?)?),
            2 => {
                let nonce = u64::from_be_bytes(take(&mut bytes, 8)?.try_into().ok()?);
                let len = usize::from(take(&mut bytes, 1)?[0]);
                if len > 32 {
                    return None;
                }
                Some(AccountLeaf {
                    nonce,
                    balance: U256::from_be_slice(take(&mut bytes, len)?),
                    ..AccountLeaf::empty()
                })
            }
            _ => return None,
        };
        diff.accounts.insert(address, account);
    }
    if !bytes.len().is_multiple_of(84) {
        return None;
    }
    for entry in bytes.chunks_exact(84) {
        diff.storage.insert(
            (
                Address::from_slice(&entry[..20]),
                U256::from_be_slice(&entry[20..52]),
            ),
            U256::from_be_slice(&entry[52..]),
        );
    }
    Some(diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changesets_round_trip_and_malformed_ones_are_refused() {
        let mut diff = StateDiff::default();
        diff.accounts.insert(Address::repeat_byte(1), None);
        diff.accounts.insert(
            Address::repeat_byte(2),
            Some(AccountLeaf {
                nonce: 7,
                balance: U256::from(99),
                ..AccountLeaf::empty()
            }),
        );
        // Without code: the short form, balances of every length.
        for (i, balance) in [U256::ZERO, U256::from(1), U256::MAX]
            .into_iter()
            .enumerate()
        {
            diff.accounts.insert(
                Address::repeat_byte(0x40 + i as u8),
                Some(AccountLeaf {
                    nonce: u64::MAX - i as u64,
                    balance,
                    ..AccountLeaf::empty()
                }),
            );
        }
        // With code: the full form.
        diff.accounts.insert(
            Address::repeat_byte(0x50),
            Some(AccountLeaf {
                nonce: 1,
                balance: U256::from(5),
                code_hash: B256::repeat_byte(0xc0),
                code_root: B256::repeat_byte(0xc1),
            }),
        );
        diff.storage
            .insert((Address::repeat_byte(3), U256::from(4)), U256::from(5));
        diff.storage
            .insert((Address::repeat_byte(3), U256::MAX), U256::ZERO);
        let bytes = encode_changeset(&diff);
        assert_eq!(decode_changeset(&bytes), Some(diff));
        for cut in [0, 3, 24, bytes.len() - 1] {
            assert_eq!(decode_changeset(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut bad_flag = bytes.clone();
        bad_flag[24] = 3;
        assert_eq!(decode_changeset(&bad_flag), None);
    }
}
