//! Hot caches in front of the sled store: latest accounts and storage slots, and state-tree
//! nodes. Each cache is two generations of hash maps: inserts go to the current generation,
//! and when it exceeds its capacity it becomes the previous one (the old previous is dropped),
//! so memory stays bounded while the working set stays cached.
//!
//! Tree nodes are content-addressed and never change, so caching them is always safe. Account
//! and slot values do change: a block's commit writes sled first and then inserts every changed
//! value here under the write lock, bumping an epoch. A reader that missed the cache and read
//! sled inserts its value only if no commit happened since it started (same epoch) and no newer
//! value is present — so a stale read can never overwrite a committed value.

use std::{collections::HashMap, hash::Hash};

use alloy_primitives::{Address, B256, U256};
use fraud_vm::{smt::Node, state::AccountLeaf};
use parking_lot::RwLock;

/// Most entries per generation.
const ACCOUNTS_CAP: usize = 1 << 19;
const SLOTS_CAP: usize = 1 << 20;
const NODES_CAP: usize = 1 << 20;

/// Two generations of a map (see the module docs).
struct Generations<K, V> {
    current: HashMap<K, V>,
    previous: HashMap<K, V>,
    cap: usize,
}

impl<K: Eq + Hash, V: Clone> Generations<K, V> {
    fn new(cap: usize) -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
            cap,
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        self.current
            .get(key)
            .or_else(|| self.previous.get(key))
            .cloned()
    }

    fn contains(&self, key: &K) -> bool {
        self.current.contains_key(key) || self.previous.contains_key(key)
    }

    fn insert(&mut self, key: K, value: V) {
        self.current.insert(key, value);
        if self.current.len() > self.cap {
            self.previous = std::mem::take(&mut self.current);
        }
    }
}

struct StateCache {
    epoch: u64,
    accounts: Generations<Address, Option<AccountLeaf>>,
    slots: Generations<(Address, U256), U256>,
}

/// The store's caches.
pub struct Caches {
    state: RwLock<StateCache>,
    nodes: RwLock<Generations<B256, Node>>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            state: RwLock::new(StateCache {
                epoch: 0,
                accounts: Generations::new(ACCOUNTS_CAP),
                slots: Generations::new(SLOTS_CAP),
            }),
            nodes: RwLock::new(Generations::new(NODES_CAP)),
        }
    }
}

impl Caches {
    /// The cached account, or `load` it (from sled) and remember it if still current.
    pub fn account<E>(
        &self,
        address: &Address,
        load: impl FnOnce() -> Result<Option<AccountLeaf>, E>,
    ) -> Result<Option<AccountLeaf>, E> {
        self.state_value(address, |s| &s.accounts, |s| &mut s.accounts, load)
    }

    /// The cached slot, or `load` it (from sled) and remember it if still current.
    pub fn slot<E>(
        &self,
        address: &Address,
        slot: &U256,
        load: impl FnOnce() -> Result<U256, E>,
    ) -> Result<U256, E> {
        let key = (*address, *slot);
        self.state_value(&key, |s| &s.slots, |s| &mut s.slots, load)
    }

    /// A latest-state value from `map`, or `load`ed and cached unless a commit happened while
    /// loading (see the module docs).
    fn state_value<K: Eq + Hash + Copy, V: Clone, E>(
        &self,
        key: &K,
        map: impl Fn(&StateCache) -> &Generations<K, V>,
        map_mut: impl Fn(&mut StateCache) -> &mut Generations<K, V>,
        load: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let epoch = {
            let state = self.state.read();
            if let Some(hit) = map(&state).get(key) {
                return Ok(hit);
            }
            state.epoch
        };
        let value = load()?;
        let mut state = self.state.write();
        if state.epoch == epoch && !map(&state).contains(key) {
            map_mut(&mut state).insert(*key, value.clone());
        }
        Ok(value)
    }

    /// Records a committed block's changes (call after they are in sled).
    pub fn commit<'a>(
        &self,
        accounts: impl Iterator<Item = (&'a Address, &'a Option<AccountLeaf>)>,
        slots: impl Iterator<Item = (&'a (Address, U256), &'a U256)>,
        nodes: impl Iterator<Item = &'a (B256, Node)>,
    ) {
        {
            let mut state = self.state.write();
            state.epoch += 1;
            for (address, account) in accounts {
                state.accounts.insert(*address, *account);
            }
            for (key, value) in slots {
                state.slots.insert(*key, *value);
            }
        }
        let mut cache = self.nodes.write();
        for (hash, node) in nodes {
            cache.insert(*hash, *node);
        }
    }

    /// The cached account, if any (no sled read).
    pub fn cached_account(&self, address: &Address) -> Option<Option<AccountLeaf>> {
        self.state.read().accounts.get(address)
    }

    /// The cached slot, if any (no sled read).
    pub fn cached_slot(&self, address: &Address, slot: &U256) -> Option<U256> {
        self.state.read().slots.get(&(*address, *slot))
    }

    /// The cached node, if any (no sled read).
    pub fn cached_node(&self, hash: &B256) -> Option<Node> {
        self.nodes.read().get(hash)
    }

    /// The cached node, or `load` it and remember it.
    pub fn node<E>(
        &self,
        hash: &B256,
        load: impl FnOnce() -> Result<Option<Node>, E>,
    ) -> Result<Option<Node>, E> {
        if let Some(hit) = self.nodes.read().get(hash) {
            return Ok(Some(hit));
        }
        let node = load()?;
        if let Some(node) = node {
            self.nodes.write().insert(*hash, node);
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_bound_memory_and_keep_recent() {
        let mut g = Generations::new(2);
        g.insert(1, 'a');
        g.insert(2, 'b');
        g.insert(3, 'c'); // rotates: {1,2,3} becomes previous
        assert_eq!(g.get(&1), Some('a'));
        g.insert(4, 'd');
        g.insert(5, 'e');
        g.insert(6, 'f'); // rotates again: 1..3 dropped
        assert_eq!(g.get(&1), None);
        assert_eq!(g.get(&6), Some('f'));
    }

    #[test]
    fn a_read_racing_a_commit_never_caches_the_stale_value() {
        let caches = Caches::default();
        let a = Address::repeat_byte(1);
        let old = Some(AccountLeaf {
            nonce: 1,
            ..Default::default()
        });
        let new = Some(AccountLeaf {
            nonce: 2,
            ..Default::default()
        });
        // The reader loads the old value from disk while a commit lands.
        let got = caches
            .account::<()>(&a, || {
                caches.commit(
                    std::iter::once((&a, &new)),
                    std::iter::empty(),
                    std::iter::empty(),
                );
                Ok(old)
            })
            .unwrap();
        assert_eq!(got, old, "the reader sees what it read");
        assert_eq!(caches.account::<()>(&a, || Ok(None)).unwrap(), new);
        // Same for a commit that does not touch the key: the epoch moved, nothing is cached.
        let b = Address::repeat_byte(2);
        caches
            .account::<()>(&b, || {
                caches.commit(std::iter::empty(), std::iter::empty(), std::iter::empty());
                Ok(old)
            })
            .unwrap();
        assert_eq!(caches.account::<()>(&b, || Ok(new)).unwrap(), new);
    }
}
