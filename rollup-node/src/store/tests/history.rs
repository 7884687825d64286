//! A state history keeps exactly its recent states, and checks what it rebuilds at start.

use alloy_primitives::{Address, B256, U256};
use fraud_vm::{
    smt::{Node, NodeReader},
    state::AccountLeaf,
};

use super::{assert_refused, state_block, HOLDER};
use crate::{
    history::{decode_changeset, encode_changeset},
    node::{open_chain, DEV_GENESIS},
    store::{
        schema::{key, num_key, CHANGESET, CHECKPOINT, DROPPED, NODE, STORAGE},
        Store, StoreError,
    },
};

/// Hashes of the tree nodes held: in memory with a state history, else on disk (`n`).
fn stored_nodes(store: &Store) -> std::collections::BTreeSet<B256> {
    let on_disk = store
        .db
        .scan_prefix([NODE])
        .map(|item| B256::from_slice(&item.expect("scan").0[1..]));
    match &store.kept {
        Some(kept) => {
            assert_eq!(on_disk.count(), 0, "a state history writes no tree nodes");
            kept.hashes().into_iter().collect()
        }
        None => on_disk.collect(),
    }
}

/// Hashes of the nodes of the tree at `root`, read from the store (in memory with a state
/// history).
pub(super) fn tree_nodes(store: &Store, root: B256, into: &mut std::collections::BTreeSet<B256>) {
    walk_tree(|h| store.node(h), root, into);
}

/// Hashes of the nodes of the tree at `root`, every one read by `read`.
pub(super) fn walk_tree<E: std::fmt::Debug>(
    read: impl Fn(&B256) -> Result<Option<Node>, E>,
    root: B256,
    into: &mut std::collections::BTreeSet<B256>,
) {
    let mut todo = vec![root];
    while let Some(hash) = todo.pop() {
        if hash.is_zero() || !into.insert(hash) {
            continue;
        }
        match read(&hash).expect("read") {
            Some(Node::Internal { left, right }) => todo.extend([left, right]),
            Some(Node::Leaf { .. }) => {}
            None => panic!("node {hash} of a kept state is missing"),
        }
    }
}

/// Nodes on a checkpoint's dropped list that a later checkpoint wrote again (collecting the
/// list keeps them): their records end with a checkpoint number at or after the list's.
fn written_again(store: &Store) -> usize {
    let number = |b: &[u8]| u64::from_be_bytes(b.try_into().expect("eight bytes"));
    let mut count = 0;
    for item in store.db.scan_prefix([DROPPED]) {
        let (k, list) = item.expect("scan");
        let checkpoint = number(&k[1..9]);
        for hash in list[8..].chunks(32) {
            if let Some(record) = store.db.get(key(NODE, &[hash])).expect("read") {
                count += usize::from(number(&record[record.len() - 8..]) >= checkpoint);
            }
        }
    }
    count
}

/// A xorshift generator: `next(m)` is the next value below `m`.
/// Hashes of the `n` records on disk.
fn disk_nodes(store: &Store) -> std::collections::BTreeSet<B256> {
    store
        .db
        .scan_prefix([NODE])
        .map(|item| B256::from_slice(&item.expect("scan").0[1..]))
        .collect()
}

/// The nodes of the trees a store with checkpoints every `interval` blocks must hold after
/// block `number` with `first` its first kept state: the checkpoints' from the first at or
/// after `first` (and the newest). Read from disk, so a missing one fails the walk. Every
/// checkpoint marker on disk names a whole tree, too.
fn needed_nodes(
    store: &Store,
    roots: &[B256],
    first: u64,
    number: u64,
    interval: u64,
) -> std::collections::BTreeSet<B256> {
    let newest = number - number % interval;
    let oldest = first.div_ceil(interval) * interval;
    let mut nodes = std::collections::BTreeSet::new();
    for c in (oldest.min(newest)..=number).step_by(interval as usize) {
        walk_tree(|h| store.disk_node(h), roots[c as usize], &mut nodes);
    }
    for item in store.db.scan_prefix([CHECKPOINT]) {
        let c = u64::from_be_bytes(item.expect("scan").0[1..9].try_into().expect("a number"));
        walk_tree(
            |h| store.disk_node(h),
            roots[c as usize],
            &mut std::collections::BTreeSet::new(),
        );
    }
    nodes
}

/// Blocks between checkpoints in the tests of collection.
const INTERVAL: u64 = 4;

/// A state history of `history` blocks with one state in memory, a checkpoint every
/// [`INTERVAL`] blocks, and passes over dropped lists that take half an interval (two blocks).
fn collecting(history: u64) -> crate::store::StoreOptions {
    crate::store::StoreOptions {
        state_history: Some(history),
        memory_states: 1,
        checkpoint_interval: INTERVAL,
        collect_per_block: 1,
        ..Default::default()
    }
}

pub(super) fn xorshift(mut state: u64) -> impl FnMut(u64) -> u64 {
    move |m| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    }
}

/// Rewrites block `number`'s changeset so that it no longer undoes the block: slot 1 of
/// [`HOLDER`] is said to have held 1234 before it.
pub(super) fn forge_changeset(store: &Store, number: u64) {
    let mut changeset = decode_changeset(
        &store
            .db
            .get(num_key(CHANGESET, number))
            .expect("read")
            .expect("x"),
    )
    .expect("decodes");
    changeset
        .storage
        .insert((HOLDER, U256::from(1)), U256::from(1234));
    store
        .db
        .insert(num_key(CHANGESET, number), encode_changeset(&changeset))
        .expect("write");
}

/// With a state history of 3 blocks the store keeps exactly the tree nodes of the last 4
/// states, however often values go back and forth (which recreates old nodes), answers
/// every kept state in full and refuses older ones; an archive store keeps them all.
/// Pruning goes on across a restart halfway.
#[test]
fn a_state_history_keeps_exactly_the_recent_states() {
    const HISTORY: u64 = 3;
    let accounts: Vec<Address> = (1..=6u8).map(Address::repeat_byte).collect();
    for history in [Some(HISTORY), None] {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut store, _) = open_chain(dir.path(), DEV_GENESIS, history).expect("chain");
        let mut roots = vec![store.head().expect("genesis").header.state_root];
        // expected[n]: balances and slots after block n (only the ones the test writes).
        let mut expected = vec![(vec![0u64; 6], vec![0u64; 8])];
        // changes[n]: the accounts block n set (indices into `accounts`).
        let mut changes: Vec<Vec<usize>> = vec![Vec::new()];
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        for number in 1..=40u64 {
            if number == 21 {
                drop(store);
                store = open_chain(dir.path(), DEV_GENESIS, history)
                    .expect("reopen")
                    .0;
            }
            let (mut balances, mut slots) = expected.last().cloned().expect("a state");
            // Few values, so states (and tree nodes) recur.
            let mut changed = Vec::new();
            let set: Vec<(Address, u64)> = (0..3)
                .map(|_| {
                    let i = next(6) as usize;
                    balances[i] = next(3);
                    changed.push(i);
                    (accounts[i], balances[i])
                })
                .collect();
            changes.push(changed);
            let writes: Vec<(u64, u64)> = (0..3)
                .map(|_| {
                    let slot = next(8);
                    slots[slot as usize] = next(3);
                    (slot, slots[slot as usize])
                })
                .collect();
            let block = state_block(&store, &set, &writes);
            store.commit_block(&block).expect("commit");
            roots.push(block.header.state_root);
            expected.push((balances, slots));

            let first = match history {
                Some(h) => number.saturating_sub(h),
                None => 0,
            };
            assert_eq!(store.first_state(), first);
            let mut live = std::collections::BTreeSet::new();
            for n in first..=number {
                store.state_available(n).expect("a kept state");
                let state = store.at_root(roots[n as usize]);
                let (balances, slots) = &expected[n as usize];
                for (address, balance) in accounts.iter().zip(balances) {
                    let read = state.account(address).expect("read").map(|a| a.balance);
                    assert_eq!(read.unwrap_or_default(), U256::from(*balance));
                }
                for (slot, value) in slots.iter().enumerate() {
                    let read = state.storage(&HOLDER, &U256::from(slot)).expect("read");
                    assert_eq!(read, U256::from(*value), "block {n} slot {slot}");
                }
                tree_nodes(&store, roots[n as usize], &mut live);
            }
            for n in 0..first {
                assert!(matches!(
                    store.state_available(n),
                    Err(StoreError::Pruned { .. })
                ));
            }
            let stored = stored_nodes(&store);
            if let Some(kept) = &store.kept {
                assert_eq!(
                    stored, live,
                    "block {number}: stored nodes are the kept states' nodes"
                );
                // Old accounts: exactly those the kept blocks' changesets replaced.
                let mut old = std::collections::BTreeSet::new();
                for n in first + 1..=number {
                    for &i in &changes[n as usize] {
                        let balance = expected[n as usize - 1].0[i];
                        if balance != 0 {
                            let leaf = AccountLeaf {
                                balance: U256::from(balance),
                                ..AccountLeaf::empty()
                            };
                            old.insert((accounts[i], leaf.value_hash()));
                        }
                    }
                }
                assert_eq!(kept.old_account_keys(), old, "block {number}: old accounts");
            } else {
                let mut all = std::collections::BTreeSet::new();
                for root in &roots {
                    tree_nodes(&store, *root, &mut all);
                }
                assert_eq!(stored, all);
            }
        }
        drop(store);
        // The pruning point survives a restart.
        let (store, _) = open_chain(dir.path(), DEV_GENESIS, history).expect("reopen");
        assert_eq!(store.first_state(), history.map_or(0, |h| 40 - h));
    }
}

/// A data directory keeps its tree mode, and a state-history store whose flat state or
/// changesets do not lead to the headers' state roots is refused at start, not served.
#[test]
fn a_state_history_store_checks_what_it_rebuilds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rich = Address::repeat_byte(0x11);
    {
        let (store, _) = open_chain(dir.path(), DEV_GENESIS, Some(4)).expect("chain");
        for (i, balance) in [5u64, 6, 7].into_iter().enumerate() {
            let block = state_block(&store, &[(rich, balance)], &[(i as u64, balance)]);
            store.commit_block(&block).expect("commit");
        }
    }
    assert_refused(dir.path(), None, "run without --archive");
    let (store, _) = open_chain(dir.path(), DEV_GENESIS, Some(9)).expect("a longer history");
    assert_eq!(
        store.first_state(),
        0,
        "every block's changeset is still there"
    );
    let balance = |n: u64| {
        let root = store
            .header_by_number(n)
            .expect("read")
            .expect("header")
            .1
            .state_root;
        store
            .at_root(root)
            .account(&rich)
            .expect("read")
            .map(|a| a.balance)
    };
    assert_eq!(balance(0), None);
    assert_eq!(balance(2), Some(U256::from(6)));
    assert_eq!(balance(3), Some(U256::from(7)));

    // A flat record that disagrees with the head's state root.
    let k = key(
        STORAGE,
        &[HOLDER.as_slice(), &U256::from(1).to_be_bytes::<32>()],
    );
    store.db.insert(&k, &[9u8; 32]).expect("write");
    drop(store);
    assert_refused(dir.path(), Some(4), "is not the state root of head block 3");
    {
        // Repaired: slot 1 holds what block 2 wrote.
        let db = sled::open(dir.path().join("chain")).expect("sled");
        db.insert(&k, &U256::from(6).to_be_bytes::<32>()[..])
            .expect("write");
        db.flush().expect("flush");
    }
    let store = Store::open(&dir.path().join("chain"), Some(4)).expect("repaired");
    // A changeset that does not undo its block.
    forge_changeset(&store, 2);
    drop(store);
    assert_refused(
        dir.path(),
        Some(4),
        "block 2's changeset does not lead back to block 1",
    );
}

/// A state history longer than the states held in memory serves every older state (accounts,
/// slots, proofs) from the checkpoints and changesets, exactly as it was, whether rebuilt on
/// the next checkpoint or (past the newest checkpoint) on the oldest state in memory, which it
/// keeps in memory while in use; the disk holds exactly the trees of the checkpoints kept
/// states are rebuilt from (the older checkpoints' nodes are deleted, except the nodes a later
/// checkpoint wrote again: values here go back and forth); restarts (mid-interval, and at a
/// checkpoint) recompute what the next checkpoint writes and drops; a changeset that does not
/// undo its block is refused when the state behind it is asked for, not served.
#[test]
fn a_long_state_history_serves_old_states_from_checkpoints() {
    use fraud_vm::{smt, state::account_key};
    const HISTORY: u64 = 30;
    let options = collecting(HISTORY);
    let accounts: Vec<Address> = (1..=6u8).map(Address::repeat_byte).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = open_chain(dir.path(), DEV_GENESIS, options).expect("chain");
    let mut roots = vec![store.head().expect("genesis").header.state_root];
    let mut expected = vec![(vec![0u64; 6], vec![0u64; 8])];
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
    let mut rewritten = 0;
    // Each checkpoint's tree, walked while it is whole on disk.
    let mut trees = std::collections::BTreeMap::new();
    trees.insert(0u64, {
        let mut nodes = std::collections::BTreeSet::new();
        walk_tree(|h| store.disk_node(h), roots[0], &mut nodes);
        nodes
    });
    let (mut exact, mut collecting, mut in_a_row) = (0, 0, 0);
    for number in 1..=70u64 {
        if [23, 37, 40, 53].contains(&number) {
            // Mid-interval (22 % 4 != 0), right after a checkpoint (36), and in the middle of
            // a collection pass (the pass over checkpoint 12's list starts at block 39).
            drop(store);
            store = open_chain(dir.path(), DEV_GENESIS, options)
                .expect("reopen")
                .0;
        }
        let (mut balances, mut slots) = expected.last().cloned().expect("a state");
        let set: Vec<(Address, u64)> = (0..3)
            .map(|_| {
                let i = next(6) as usize;
                balances[i] = next(4);
                (accounts[i], balances[i])
            })
            .collect();
        let writes: Vec<(u64, u64)> = (0..3)
            .map(|_| {
                let slot = next(8);
                slots[slot as usize] = next(3);
                (slot, slots[slot as usize])
            })
            .collect();
        let block = state_block(&store, &set, &writes);
        // A state rebuilt on the oldest state in memory (18; none of 17..=19 is a
        // checkpoint), held across the commit that moves the states in memory on.
        let pinned = (number == 20).then(|| (17, store.at_block(17, roots[17]).expect("state")));
        store.commit_block(&block).expect("commit");
        if let Some((n, state)) = pinned {
            let (balances, _) = &expected[n];
            for (address, balance) in accounts.iter().zip(balances) {
                let read = state.account(address).expect("a pinned state reads");
                assert_eq!(
                    read.map(|a| a.balance).unwrap_or_default(),
                    U256::from(*balance)
                );
            }
            assert_eq!(store.first_memory(), 18, "the states in memory stayed");
        }
        roots.push(block.header.state_root);
        expected.push((balances, slots));

        let first = number.saturating_sub(HISTORY);
        assert_eq!(store.first_state(), first);
        if number != 20 {
            assert_eq!(store.first_memory(), number.saturating_sub(1));
        }
        // Every kept state, twice (the second read comes from the cache of rebuilt states).
        for n in (first..=number).chain(first..=number.min(first + 3)) {
            let root = roots[n as usize];
            let state = store.at_block(n, root).expect("a kept state");
            let (balances, slots) = &expected[n as usize];
            for (address, balance) in accounts.iter().zip(balances) {
                let read = state
                    .account(address)
                    .unwrap_or_else(|e| panic!("block {number}: state {n} {address}: {e}"));
                assert_eq!(
                    read.map(|a| a.balance).unwrap_or_default(),
                    U256::from(*balance),
                    "block {n} account {address}"
                );
                let key = account_key(address);
                let proven = smt::prove(&state, root, &key)
                    .expect("prove")
                    .verify(root, &key)
                    .expect("verifies");
                assert_eq!(proven, read.map(|a| a.value_hash()), "block {n} proof");
            }
            for (slot, value) in slots.iter().enumerate() {
                let read = state
                    .storage(&HOLDER, &U256::from(slot))
                    .unwrap_or_else(|e| panic!("block {number}: state {n} slot {slot}: {e}"));
                assert_eq!(read, U256::from(*value), "block {n} slot {slot}");
            }
        }
        for n in 0..first {
            assert!(matches!(
                store.at_block(n, roots[n as usize]),
                Err(StoreError::Pruned { .. })
            ));
        }
        // On disk: the trees of the checkpoints from the first at or after the first kept
        // state (and the newest), whole; and, while the pass over the list that drops the
        // checkpoint before them is under way (at most half an interval), nodes of that one.
        if store
            .checkpoints
            .as_ref()
            .is_some_and(|c| c.is_checkpoint(number))
        {
            let mut nodes = std::collections::BTreeSet::new();
            walk_tree(|h| store.disk_node(h), roots[number as usize], &mut nodes);
            trees.insert(number, nodes);
        }
        let checkpoint_nodes = needed_nodes(&store, &roots, first, number, INTERVAL);
        let on_disk = disk_nodes(&store);
        if on_disk == checkpoint_nodes {
            exact += 1;
            in_a_row = 0;
        } else {
            collecting += 1;
            in_a_row += 1;
            let newest = number - number % INTERVAL;
            let oldest = first.div_ceil(INTERVAL) * INTERVAL;
            let dropped = &trees[&(oldest.min(newest) - INTERVAL)];
            let stray: Vec<_> = on_disk
                .difference(&checkpoint_nodes)
                .filter(|h| !dropped.contains(*h))
                .collect();
            assert!(
                stray.is_empty(),
                "block {number}: nodes in no tree {stray:?}"
            );
            // Two blocks per pass, however the restart at 40 falls: it resumes the pass.
            assert!(
                in_a_row <= 1,
                "block {number}: a pass outlasted half an interval"
            );
        }
        rewritten = rewritten.max(written_again(&store));
    }
    assert!(rewritten > 0, "no dropped node was written again");
    // Passes from block 31 on (checkpoint 4's list), one per interval, each over two blocks.
    assert!(
        collecting >= 8,
        "passes spread over blocks: {collecting} blocks mid-pass, {exact} exact"
    );

    // A changeset that does not undo its block: the state behind it is refused.
    let n = 61; // rebuilt from checkpoint 64 through the changesets of 64, 63 and 62
    forge_changeset(&store, n + 1);
    drop(store);
    let (store, _) = open_chain(dir.path(), DEV_GENESIS, options).expect("reopen");
    let Err(err) = store.at_block(n, roots[n as usize]) else {
        panic!("a state behind a forged changeset was served");
    };
    assert!(
        err.to_string().contains("do not lead to its state root"),
        "{err}"
    );
}

/// Collection catches up with a backlog of dropped lists, empty ones among them (an interval
/// without changes), when the store is reopened with a shorter state history: it finishes
/// each list once, goes on to the next within the same commit while its share lasts, never
/// deletes a node a kept state needs, and ends with exactly the kept checkpoints' trees on
/// disk.
#[test]
fn collection_catches_up_with_a_backlog_of_lists() {
    let accounts: Vec<Address> = (1..=6u8).map(Address::repeat_byte).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut store, _) = open_chain(dir.path(), DEV_GENESIS, collecting(40)).expect("chain");
    let mut roots = vec![store.head().expect("genesis").header.state_root];
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let mut commit = |store: &Store, roots: &mut Vec<B256>, changes: bool| {
        let set: Vec<(Address, u64)> = if changes {
            (0..3)
                .map(|_| (accounts[next(6) as usize], next(4)))
                .collect()
        } else {
            Vec::new()
        };
        let block = state_block(store, &set, &[]);
        store.commit_block(&block).expect("commit");
        roots.push(block.header.state_root);
    };
    // Blocks 5..=12 change nothing: checkpoints 8 and 12 drop nothing from the one before.
    for number in 1..=24u64 {
        commit(&store, &mut roots, !(5..=12).contains(&number));
    }
    let lists: Vec<usize> = store
        .db
        .scan_prefix([DROPPED])
        .map(|item| (item.expect("scan").1.len() - 8) / 32)
        .collect();
    assert_eq!(lists.len(), 6, "checkpoints 4 to 24 each wrote a list");
    assert_eq!(lists[1..3], [0, 0], "checkpoints 8 and 12 dropped nothing");
    let mut all = std::collections::BTreeSet::new();
    for c in (0..=24).step_by(INTERVAL as usize) {
        walk_tree(|h| store.disk_node(h), roots[c], &mut all);
    }
    assert_eq!(
        disk_nodes(&store),
        all,
        "nothing collected with a history of 40"
    );

    // A history of 6 blocks: the lists of checkpoints 4 to 20 are due at the next commit.
    drop(store);
    store = open_chain(dir.path(), DEV_GENESIS, collecting(6))
        .expect("reopen")
        .0;
    for number in 25..=44u64 {
        commit(&store, &mut roots, true);
        let first = number - 6;
        assert_eq!(store.first_state(), first);
        // Fails on a missing node of a kept checkpoint, or a marker whose tree is not whole.
        let needed = needed_nodes(&store, &roots, first, number, INTERVAL);
        if number == 25 {
            assert!(
                disk_nodes(&store).len() > needed.len(),
                "a backlog takes more than one block"
            );
        }
    }
    // Caught up: exactly the kept checkpoints' trees, and only lists not yet due.
    let first = store.first_state();
    assert_eq!(
        disk_nodes(&store),
        needed_nodes(&store, &roots, first, 44, INTERVAL)
    );
    for item in store.db.scan_prefix([DROPPED]) {
        let list = item.expect("scan").1;
        let previous = u64::from_be_bytes(list[..8].try_into().expect("a number"));
        assert!(
            previous >= first,
            "the list after {previous} was never collected"
        );
    }
}

/// What a checkpoint writes and drops after a restart (`changed_nodes` both ways) is exactly
/// the difference of the two trees' node sets, also where a collapsed leaf sits higher in one
/// tree than in the other (a sibling inserted or deleted between them).
#[test]
fn changed_nodes_are_the_difference_of_two_trees() {
    use fraud_vm::smt::{self, MemoryNodes};
    // Twelve keys differing in their first four bits: leaves collapse and move as their
    // neighbours come and go.
    let keys: Vec<B256> = (0..12u8)
        .map(|i| {
            let mut key = B256::ZERO;
            key.0[0] = i << 4;
            key
        })
        .collect();
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let mut store = MemoryNodes::new();
    let mut roots = vec![B256::ZERO];
    for _ in 0..40 {
        let changes = (0..=next(4))
            .map(|_| {
                let key = keys[next(12) as usize];
                let value = next(3);
                (key, (value > 0).then(|| B256::with_last_byte(value as u8)))
            })
            .collect();
        let root = *roots.last().expect("a root");
        let updated = smt::update(&store, root, changes).expect("update");
        store.insert_all(updated.new_nodes);
        roots.push(updated.root);
    }
    let nodes = |root: B256| {
        let mut into = std::collections::BTreeSet::new();
        walk_tree(|h| store.node(h), root, &mut into);
        into
    };
    for (i, &a) in roots.iter().enumerate() {
        for &b in &roots[i..] {
            for (new, old) in [(a, b), (b, a)] {
                let changed: std::collections::BTreeSet<B256> =
                    crate::store::checkpoint::changed_nodes(&store, new, old)
                        .expect("walk")
                        .into_iter()
                        .map(|(hash, _)| hash)
                        .collect();
                let (new_nodes, old_nodes) = (nodes(new), nodes(old));
                assert_eq!(
                    changed,
                    new_nodes.difference(&old_nodes).copied().collect(),
                    "{new} against {old}"
                );
            }
        }
    }
}
