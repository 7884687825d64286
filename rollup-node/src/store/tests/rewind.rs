//! Rewinds ([`Store::rewind`]): in every mode the store ends exactly as if only the blocks up
//! to the new head had been committed (records compared with a store that committed only
//! those), serves the same reads, reopens, and takes new blocks; a crash leaves the old head
//! or the new one; refusals write nothing.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use fraud_vm::{
    chain::ChainSpec,
    deposit::L1BlockInfo,
    execute::BuiltBlock,
    smt,
    state::{account_key, storage_key, AccountLeaf},
};

use super::{
    block_of,
    history::{forge_changeset, tree_nodes, walk_tree, xorshift},
    logging_initcode, minting_deposit, state_block, HOLDER,
};
use crate::{
    node::{open_chain, DEV_GENESIS},
    store::{
        cursor::BatchPosition,
        schema::{
            key, num_key, ACCOUNT, CHANGESET, CHECKPOINT, CODE, CODE_ROOT, DROPPED, FIRST_STATE,
            META, NODE, STORAGE,
        },
        L1Cursor, Store, StoreError, StoreOptions,
    },
};

/// Blocks between checkpoints in the checkpointed mode.
const INTERVAL: u64 = 4;
/// Slots of [`HOLDER`] the blocks write.
const SLOTS: u64 = 8;

/// The three ways to keep states: an archive, a state history longer than the states in
/// memory (checkpoints every [`INTERVAL`] blocks), and one held wholly in memory.
/// (The archive and the checkpoints seal a run of the transaction index every three
/// transactions, so rewinds remove and reopen sealed runs.)
fn modes() -> [(&'static str, StoreOptions); 3] {
    [
        (
            "archive",
            StoreOptions {
                tx_index_run: 3,
                ..None.into()
            },
        ),
        (
            "checkpoints",
            StoreOptions {
                state_history: Some(30),
                memory_states: 3,
                checkpoint_interval: INTERVAL,
                tx_index_run: 3,
                ..StoreOptions::default()
            },
        ),
        ("memory", Some(8).into()),
    ]
}

/// The accounts the blocks change.
fn accounts() -> Vec<Address> {
    (1..=6u8).map(Address::repeat_byte).collect()
}

/// A deposit minting 1 ETH to `from`: a call to itself, or (`logs`) a contract creation whose
/// initcode logs once.
#[derive(Clone, Copy, Debug)]
struct Deposit {
    from: Address,
    source: B256,
    logs: bool,
}

/// A block on the tip holding `deposit`, `delay` seconds after the tip.
fn deposit_block(store: &Store, spec: &ChainSpec, deposit: Deposit, delay: u64) -> BuiltBlock {
    let (to, input) = if deposit.logs {
        (TxKind::Create, logging_initcode())
    } else {
        (TxKind::Call(deposit.from), Bytes::new())
    };
    let deposit = minting_deposit(deposit.source, deposit.from, to, input);
    block_of(store, spec, 1 + delay, [deposit])
}

/// Accounts (empty ones as absent) and [`HOLDER`]'s slots in one state.
type Reads = (BTreeMap<Address, Option<AccountLeaf>>, Vec<U256>);

/// A block as committed, so that another store can commit it the same way.
#[derive(Clone)]
struct Committed {
    block: BuiltBlock,
    cursor: Option<L1Cursor>,
    has_origin: bool,
    position: Option<BatchPosition>,
    deposit: Option<Deposit>,
    /// The latest state right after the commit.
    reads: Reads,
}

fn commit(store: &Store, c: &Committed) {
    match c.position {
        Some(position) => {
            store.commit_derived_block(&c.block, c.cursor.as_ref(), c.has_origin, position, &[])
        }
        None => store.commit_block_with_cursor(&c.block, c.cursor.as_ref(), c.has_origin),
    }
    .expect("commit");
}

fn read_latest(store: &Store, tracked: &BTreeSet<Address>) -> Reads {
    let accounts = tracked
        .iter()
        .map(|a| {
            let account = store.account(a).expect("read").filter(|l| !l.is_empty());
            (*a, account)
        })
        .collect();
    let slots = (0..SLOTS)
        .map(|s| store.storage(&HOLDER, &U256::from(s)).expect("read"))
        .collect();
    (accounts, slots)
}

fn read_at(store: &Store, number: u64, root: B256, tracked: &BTreeSet<Address>) -> Reads {
    let state = store.at_block(number, root).expect("a kept state");
    let accounts = tracked
        .iter()
        .map(|a| {
            let account = state
                .account(a)
                .unwrap_or_else(|e| panic!("state {number}: {a}: {e}"));
            (*a, account)
        })
        .collect();
    let slots = (0..SLOTS)
        .map(|s| state.storage(&HOLDER, &U256::from(s)).expect("read"))
        .collect();
    (accounts, slots)
}

/// `reads` restricted to the accounts `like` has.
fn restricted(reads: &Reads, like: &Reads) -> Reads {
    let accounts = like
        .0
        .keys()
        .map(|a| (*a, reads.0.get(a).copied().flatten()))
        .collect();
    (accounts, reads.1.clone())
}

/// The state root of the flat latest-state records.
fn flat_root(store: &Store) -> B256 {
    let mut changes = Vec::new();
    for item in store.db.scan_prefix([ACCOUNT]) {
        let (k, v) = item.expect("scan");
        let leaf = AccountLeaf::decode(&v).expect("an account");
        if !leaf.is_empty() {
            changes.push((
                account_key(&Address::from_slice(&k[1..])),
                Some(leaf.value_hash()),
            ));
        }
    }
    for item in store.db.scan_prefix([STORAGE]) {
        let (k, v) = item.expect("scan");
        let (address, slot) = (
            Address::from_slice(&k[1..21]),
            U256::from_be_slice(&k[21..]),
        );
        changes.push((storage_key(&address, &slot), Some(B256::from_slice(&v))));
    }
    smt::update(&smt::MemoryNodes::new(), B256::ZERO, changes)
        .expect("update")
        .root
}

/// Every record but the content-addressed ones (`n`, `c`, `R`: a rewind leaves them), the
/// changesets at or below `first`, the checkpoints below it with the dropped lists of their
/// successors, and the first state (a rewind does not bring pruned history back).
pub(super) fn records(store: &Store, first: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let first_state = key(META, &[FIRST_STATE]);
    let number = |b: &[u8]| u64::from_be_bytes(b[..8].try_into().expect("eight bytes"));
    store
        .db
        .iter()
        .map(|item| item.expect("scan"))
        .filter(|(k, v)| match k[0] {
            NODE | CODE | CODE_ROOT => false,
            CHANGESET => k[..] > num_key(CHANGESET, first)[..],
            CHECKPOINT => number(&k[1..]) >= first,
            DROPPED => number(v) >= first,
            _ => k[..] != first_state[..],
        })
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// Panics naming the records `a` and `b` disagree on.
pub(super) fn assert_same_records(
    a: &BTreeMap<Vec<u8>, Vec<u8>>,
    b: &BTreeMap<Vec<u8>, Vec<u8>>,
    what: &str,
) {
    let show = |k: &Vec<u8>| {
        format!(
            "{}:{}",
            k[0] as char,
            alloy_primitives::hex::encode(&k[1..])
        )
    };
    let differ: Vec<String> = a
        .keys()
        .chain(b.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .take(10)
        .map(|k| {
            let side = match (a.contains_key(k), b.contains_key(k)) {
                (true, false) => "only in the first",
                (false, true) => "only in the second",
                _ => "different",
            };
            format!("{} ({side})", show(k))
        })
        .collect();
    assert!(differ.is_empty(), "{what}: records differ: {differ:#?}");
}

/// The kept states in memory: their nodes, old accounts, oldest state in memory, first
/// state, and (with checkpoints) what the next checkpoint writes.
type Memory = (
    BTreeSet<B256>,
    BTreeSet<(Address, B256)>,
    u64,
    u64,
    Option<BTreeSet<B256>>,
);

fn memory(store: &Store) -> Option<Memory> {
    let kept = store.kept.as_ref()?;
    Some((
        kept.hashes().into_iter().collect(),
        kept.old_account_keys(),
        store.first_memory(),
        store.first_state(),
        store.checkpoints.as_ref().map(|c| c.pending_hashes()),
    ))
}

/// A chain in a store and what it must read (index: block number).
struct Chain {
    name: &'static str,
    options: StoreOptions,
    dir: tempfile::TempDir,
    store: Option<Store>,
    spec: ChainSpec,
    blocks: Vec<Committed>,
    /// The accounts read: [`accounts`] and the contracts created.
    tracked: BTreeSet<Address>,
    /// Every block and transaction hash ever committed.
    seen_blocks: BTreeSet<B256>,
    seen_txs: BTreeSet<B256>,
    /// Deposits of removed blocks: the next blocks include them again.
    removed: Vec<Deposit>,
    next: Box<dyn FnMut(u64) -> u64>,
    sources: u64,
}

impl Chain {
    fn new(name: &'static str, options: StoreOptions, seed: u64) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, options).expect("chain");
        let tracked: BTreeSet<Address> = accounts().into_iter().collect();
        let block = genesis.build().expect("genesis");
        let reads = read_latest(&store, &tracked);
        Self {
            name,
            options,
            dir,
            store: Some(store),
            spec: genesis.spec,
            seen_blocks: [block.hash].into(),
            blocks: vec![Committed {
                block,
                cursor: None,
                has_origin: false,
                position: None,
                deposit: None,
                reads,
            }],
            tracked,
            seen_txs: BTreeSet::new(),
            removed: Vec::new(),
            next: Box::new(xorshift(seed)),
            sources: 0,
        }
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("open")
    }

    fn head(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }

    /// The L1 record of the newest block with an origin.
    fn l1(&self) -> Option<L1Cursor> {
        self.blocks
            .iter()
            .rev()
            .find(|c| c.has_origin)
            .and_then(|c| c.cursor)
    }

    /// Commits `count` random blocks: state changes, deposits (the removed ones first), contract
    /// creations that log; committed plainly, with a new L1 origin, with the previous cursor
    /// (as the sequencer does), or as derived from a batch.
    fn extend(&mut self, count: u64) {
        let accounts = accounts();
        for _ in 0..count {
            let kind = (self.next)(4);
            let (block, deposit) = if kind < 2 && self.removed.is_empty() {
                let set: Vec<(Address, u64)> = (0..3)
                    .map(|_| (accounts[(self.next)(6) as usize], (self.next)(3)))
                    .collect();
                let writes: Vec<(u64, u64)> = (0..3)
                    .map(|_| ((self.next)(SLOTS), (self.next)(3)))
                    .collect();
                (state_block(self.store(), &set, &writes), None)
            } else {
                let deposit = self.removed.pop().unwrap_or_else(|| {
                    self.sources += 1;
                    Deposit {
                        from: accounts[(self.next)(6) as usize],
                        source: B256::from(U256::from(self.sources)),
                        logs: kind == 3,
                    }
                });
                let delay = (self.next)(3);
                (
                    deposit_block(self.store(), &self.spec, deposit, delay),
                    Some(deposit),
                )
            };
            let number = block.header.number;
            let l1 = self.l1();
            let new_origin = |next: &mut Box<dyn FnMut(u64) -> u64>| {
                let base = l1.map_or(100, |c| c.origin.number);
                let origin = base + 1 + next(3);
                L1Cursor {
                    origin: L1BlockInfo {
                        number: origin,
                        hash: B256::from(U256::from(origin * 1000 + number)),
                        timestamp: 1_000 + origin,
                        basefee: 7,
                    },
                    next_deposit: l1.map_or(0, |c| c.next_deposit) + next(3),
                }
            };
            let (cursor, has_origin, position) = match (self.next)(4) {
                0 => (None, false, None),
                1 => (Some(new_origin(&mut self.next)), true, None),
                2 => (l1, false, None),
                _ => {
                    let origin = ((self.next)(2) == 0).then(|| new_origin(&mut self.next));
                    let position = BatchPosition {
                        batch_index: number,
                        position: (self.next)(1000),
                        source_acc: B256::with_last_byte(number as u8),
                    };
                    (origin, origin.is_some(), Some(position))
                }
            };
            let mut committed = Committed {
                block,
                cursor,
                has_origin,
                position,
                deposit,
                reads: Default::default(),
            };
            commit(self.store(), &committed);
            for receipt in &committed.block.receipts {
                self.tracked
                    .extend(receipt.logs().iter().map(|l| l.address));
            }
            committed.reads = read_latest(self.store(), &self.tracked);
            self.seen_blocks.insert(committed.block.hash);
            self.seen_txs
                .extend(committed.block.transactions.iter().map(|t| t.tx_hash()));
            self.blocks.push(committed);
        }
    }

    /// Rewinds the store and the model to block `to`.
    fn rewind(&mut self, to: u64) {
        self.store().rewind(to).expect("rewind");
        let removed = self.blocks.split_off(to as usize + 1);
        self.removed = removed.iter().rev().filter_map(|c| c.deposit).collect();
    }

    /// Drops the store and opens it again; the memory it rebuilds is the one it had
    /// (`pending`: also what the next checkpoint writes).
    fn reopen(&mut self, pending: bool) {
        let before = self.store.as_ref().and_then(memory);
        self.store = None;
        self.store = Some(
            open_chain(self.dir.path(), DEV_GENESIS, self.options)
                .expect("reopen")
                .0,
        );
        let after = memory(self.store());
        let strip =
            |m: Option<Memory>| m.map(|(n, a, f, s, p)| (n, a, f, s, p.filter(|_| pending)));
        assert_eq!(
            strip(after),
            strip(before),
            "{}: the memory after a reopen",
            self.name
        );
    }

    /// Checks the store against the model (see the module docs).
    fn check(&self, what: &str) {
        let what = format!("{}: {what}", self.name);
        let store = self.store();
        let to = self.head();
        let top = &self.blocks[to as usize];
        assert_eq!(store.head().map(|h| h.hash), Some(top.block.hash), "{what}");
        assert_eq!(store.tip().map(|h| h.hash), Some(top.block.hash), "{what}");
        assert_eq!(store.staged_len(), 0);
        assert!(
            store.header_by_number(to + 1).expect("read").is_none(),
            "{what}"
        );
        assert!(
            store.block_by_number(to + 1).expect("read").is_none(),
            "{what}"
        );
        assert!(store.receipts(to + 1).expect("read").is_none(), "{what}");
        assert!(store.block_l1(to + 1).expect("read").is_none(), "{what}");
        assert!(
            store.derivation_cursor(to + 1).expect("read").is_none(),
            "{what}"
        );
        for hash in &self.seen_blocks {
            let number = self.blocks.iter().position(|c| c.block.hash == *hash);
            assert_eq!(
                store.number_by_hash(hash).expect("read"),
                number.map(|n| n as u64),
                "{what}: block {hash}"
            );
        }
        let mut locations = BTreeMap::new();
        for (n, c) in self.blocks.iter().enumerate() {
            for (i, tx) in c.block.transactions.iter().enumerate() {
                locations.insert(tx.tx_hash(), (n as u64, i));
            }
        }
        for tx in &self.seen_txs {
            assert_eq!(
                store.tx_location(tx).expect("read"),
                locations.get(tx).copied(),
                "{what}: tx {tx}"
            );
        }

        // The latest state is block `to`'s, as read before the rewind and through its tree.
        let latest = read_latest(store, &self.tracked);
        assert_eq!(restricted(&latest, &top.reads), top.reads, "{what}: latest");
        let root = top.block.header.state_root;
        assert_eq!(
            read_at(store, to, root, &self.tracked),
            latest,
            "{what}: at the head"
        );
        assert_eq!(flat_root(store), root, "{what}: the flat state's root");
        // Every kept state, as read when it was the latest.
        for n in store.first_state()..=to {
            let c = &self.blocks[n as usize];
            let at = read_at(store, n, c.block.header.state_root, &self.tracked);
            assert_eq!(restricted(&at, &c.reads), c.reads, "{what}: state {n}");
        }

        assert_eq!(
            store.l1_cursor().expect("read"),
            self.l1(),
            "{what}: L1 cursor"
        );
        for address in &self.tracked {
            let logged: Vec<u64> = (0..=to)
                .filter(|n| {
                    self.blocks[*n as usize]
                        .block
                        .receipts
                        .iter()
                        .any(|r| r.logs().iter().any(|l| l.address == *address))
                })
                .collect();
            assert_eq!(
                store
                    .blocks_with_logs_from(address, 0, u64::MAX)
                    .expect("read"),
                logged,
                "{what}: logs of {address}"
            );
        }

        // Every checkpoint's tree is on disk; the memory holds exactly the kept states' trees.
        for item in store.db.scan_prefix([CHECKPOINT]) {
            let (k, _) = item.expect("scan");
            let n = u64::from_be_bytes(k[1..9].try_into().expect("a number"));
            let mut nodes = BTreeSet::new();
            walk_tree(
                |h| store.disk_node(h),
                self.blocks[n as usize].block.header.state_root,
                &mut nodes,
            );
        }
        if let Some(kept) = &store.kept {
            let mut live = BTreeSet::new();
            for n in store.first_memory()..=to {
                tree_nodes(
                    store,
                    self.blocks[n as usize].block.header.state_root,
                    &mut live,
                );
            }
            let held: BTreeSet<B256> = kept.hashes().into_iter().collect();
            assert_eq!(held, live, "{what}: nodes in memory");
        }

        // Record for record, a store that committed only these blocks.
        let dir = tempfile::tempdir().expect("tempdir");
        let (reference, _) = open_chain(dir.path(), DEV_GENESIS, self.options).expect("chain");
        for c in &self.blocks[1..] {
            commit(&reference, c);
        }
        let first = store.first_state();
        assert_same_records(&records(store, first), &records(&reference, first), &what);
    }
}

/// In every mode, rewinds into the states in memory, to a checkpoint, past one, and to the
/// oldest state kept leave the store as if only the blocks up to the new head had been
/// committed, before and after a reopen; new blocks (some with the removed transactions)
/// commit on top, across checkpoints; a rewind to the head changes nothing.
#[test]
fn a_rewind_leaves_the_store_as_if_only_the_older_blocks_were_committed() {
    for (name, options) in modes() {
        let mut chain = Chain::new(name, options, 0x2545_f491_4f6c_dd1d);
        chain.extend(30);
        chain.check("before any rewind");
        let before = records(chain.store(), 0);
        chain.rewind(30);
        assert_same_records(&before, &records(chain.store(), 0), "a rewind to the head");
        chain.check("a rewind to the head");

        for step in [
            "in memory",
            "to a checkpoint",
            "past a checkpoint",
            "to the oldest state",
        ] {
            let head = chain.head();
            let newest_checkpoint = (head - 1) / INTERVAL * INTERVAL;
            let to = match step {
                "in memory" => head - 1,
                "to a checkpoint" => newest_checkpoint,
                "past a checkpoint" => newest_checkpoint - 1,
                _ => chain.store().first_state(),
            };
            let step = format!("rewound from {head} {step} ({to})");
            chain.rewind(to);
            chain.check(&step);
            chain.reopen(true);
            chain.check(&format!("{step}, reopened"));
            chain.extend(2 * INTERVAL + 1);
            chain.check(&format!("{step}, new blocks"));
            chain.reopen(false);
            chain.check(&format!("{step}, new blocks, reopened"));
        }
    }
}

/// A crash before a rewind's batch leaves the old head; one right after it (before the memory
/// follows) the new head, whole: the reopened store is as if only the older blocks were
/// committed and takes new blocks.
#[test]
fn a_crash_during_a_rewind_leaves_the_old_head_or_the_new_one() {
    for (name, options) in modes() {
        let mut chain = Chain::new(name, options, 0x9e37_79b9_7f4a_7c15);
        chain.extend(20);
        let before = records(chain.store(), 0);
        let to = 13;
        // Planned, never written: a crash before the batch.
        chain.store().plan_rewind(to).expect("plan");
        chain.reopen(true);
        assert_same_records(&before, &records(chain.store(), 0), name);
        chain.check("a crash before the batch");
        // Written and flushed, then a crash before the memory follows.
        chain.store().rewind_on_disk(to).expect("on disk");
        chain.store = None;
        chain.store = Some(
            open_chain(chain.dir.path(), DEV_GENESIS, options)
                .expect("reopen")
                .0,
        );
        let removed = chain.blocks.split_off(to as usize + 1);
        chain.removed = removed.iter().rev().filter_map(|c| c.deposit).collect();
        chain.check("a crash after the batch");
        chain.extend(6);
        chain.check("a crash after the batch, new blocks");
        chain.reopen(false);
        chain.check("a crash after the batch, new blocks, reopened");
    }
}

/// Refusals write nothing: a block above the head (or an empty store), staged blocks, a state
/// the history no longer keeps, an archive's block without a changeset, changesets that do not
/// lead to the block's state root.
#[test]
fn a_refused_rewind_writes_nothing() {
    let unchanged = |chain: &Chain, before: &BTreeMap<Vec<u8>, Vec<u8>>, what: &str| {
        assert_same_records(before, &records(chain.store(), 0), what);
        chain.check(what);
    };
    // Above the head.
    let mut chain = Chain::new("archive", None.into(), 7);
    chain.extend(6);
    let before = records(chain.store(), 0);
    let err = chain.store().rewind(7).expect_err("above the head");
    assert!(
        matches!(
            err,
            StoreError::RewindAboveHead {
                to: 7,
                head: Some(6)
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("the head is block 6"), "{err}");
    unchanged(&chain, &before, "above the head");
    let empty = tempfile::tempdir().expect("tempdir");
    let err = Store::open(empty.path(), None)
        .expect("open")
        .rewind(0)
        .expect_err("an empty store");
    assert!(
        matches!(err, StoreError::RewindAboveHead { to: 0, head: None }),
        "{err}"
    );

    // Staged blocks: refused until they are committed.
    let staged = std::sync::Arc::new(state_block(chain.store(), &[(HOLDER, 5)], &[]));
    chain.store().stage(staged.clone()).expect("stage");
    let err = chain.store().rewind(3).expect_err("a staged block");
    assert!(
        matches!(err, StoreError::RewindWhileStaged { staged: 1 }),
        "{err}"
    );
    assert_same_records(&before, &records(chain.store(), 0), "staged");
    chain
        .store()
        .commit_block(&staged)
        .expect("the staged block commits");
    chain.store().rewind(6).expect("rewound past it");

    // An archive's block written before archives kept changesets.
    let before = records(chain.store(), 0);
    let changeset = chain
        .store()
        .db
        .remove(num_key(CHANGESET, 3))
        .expect("remove")
        .expect("a changeset");
    let err = chain.store().rewind(2).expect_err("no changeset");
    assert!(
        matches!(err, StoreError::NotRewindable { to: 2, block: 3 }),
        "{err}"
    );
    assert!(
        err.to_string().contains("no changeset for block 3"),
        "{err}"
    );
    chain.rewind(3);
    chain
        .store()
        .db
        .insert(num_key(CHANGESET, 3), changeset)
        .expect("put back");
    chain.check("rewound to the block without a changeset");
    assert_ne!(before, records(chain.store(), 0));

    // A state the history no longer keeps; changesets that do not undo their blocks.
    let mut chain = Chain::new("memory", Some(4).into(), 11);
    chain.extend(10);
    let before = records(chain.store(), 0);
    let err = chain.store().rewind(5).expect_err("pruned");
    assert!(
        matches!(
            err,
            StoreError::Pruned {
                number: 5,
                first: 6
            }
        ),
        "{err}"
    );
    unchanged(&chain, &before, "pruned");
    let genuine = chain
        .store()
        .db
        .get(num_key(CHANGESET, 8))
        .expect("read")
        .expect("a changeset");
    forge_changeset(chain.store(), 8);
    let forged = records(chain.store(), 0);
    let err = chain.store().rewind(7).expect_err("a forged changeset");
    assert!(
        err.to_string()
            .contains("do not lead back to block 7's state root"),
        "{err}"
    );
    assert_same_records(&forged, &records(chain.store(), 0), "forged");
    assert_eq!(chain.store().head_number(), 10);
    chain
        .store()
        .db
        .insert(num_key(CHANGESET, 8), genuine)
        .expect("repair");
    unchanged(&chain, &before, "repaired");
    chain.rewind(7);
    chain.check("rewound once repaired");
}

/// An older state rebuilt from a checkpoint (and cached by its block number) before a rewind
/// below it is not served for the new block of that number.
#[test]
fn a_rewind_forgets_the_older_states_rebuilt_above_it() {
    let (name, options) = modes()[1];
    let mut chain = Chain::new(name, options, 0xdead_beef_cafe_f00d);
    chain.extend(20);
    let p = 13u64; // below the states in memory (17..=20), rebuilt on checkpoint 16
    assert!(p < chain.store().first_memory());
    let old = chain.blocks[p as usize].clone();
    let read = read_at(
        chain.store(),
        p,
        old.block.header.state_root,
        &chain.tracked,
    );
    assert_eq!(restricted(&read, &old.reads), old.reads);
    chain.rewind(10);
    chain.extend(10);
    let new = &chain.blocks[p as usize];
    assert_ne!(new.block.hash, old.block.hash);
    let read = read_at(
        chain.store(),
        p,
        new.block.header.state_root,
        &chain.tracked,
    );
    assert_eq!(
        restricted(&read, &new.reads),
        new.reads,
        "the new block {p}'s state"
    );
    chain.check("rewound below a rebuilt state");
}
