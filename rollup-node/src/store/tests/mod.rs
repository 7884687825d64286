//! The store's own tests: staging, committing, state history, crash safety, refusals.

use alloy_primitives::{Bytes, TxKind, U256};
use fraud_vm::{
    chain::ChainSpec,
    execute::{BlockAttributes, BlockBuilder},
};
use op_alloy_consensus::TxDeposit;

use super::{
    schema::{key, FORMAT_KEY, META},
    *,
};
use crate::node::{open_chain, DEV_GENESIS};
use fraud_vm::{smt, state::AccountLeaf};

mod history;
mod rewind;
mod txindex;

const ETH: u128 = 1_000_000_000_000_000_000;

/// A deposit with `source`, from `from`, minting 1 ETH, calling or creating with `input`.
fn minting_deposit(source: B256, from: Address, to: TxKind, input: Bytes) -> TxDeposit {
    TxDeposit {
        source_hash: source,
        from,
        to,
        mint: ETH,
        value: U256::ZERO,
        gas_limit: 100_000,
        is_system_transaction: false,
        input,
    }
}

/// Initcode that logs once: `LOG1(memory[0..1], topic 0x77…77)`, then stops.
fn logging_initcode() -> Bytes {
    let mut initcode = vec![0x7f];
    initcode.extend([0x77; 32]);
    initcode.extend([0x60, 0x01, 0x60, 0x00, 0xa1, 0x00]);
    Bytes::from(initcode)
}

/// A block on the store's tip, `seconds` after it, holding `deposits`.
fn block_of(
    store: &Store,
    spec: &ChainSpec,
    seconds: u64,
    deposits: impl IntoIterator<Item = TxDeposit>,
) -> BuiltBlock {
    let tip = store.tip().expect("a chain");
    let state = store.tip_state();
    let attributes = BlockAttributes {
        timestamp: tip.header.timestamp + seconds,
        gas_limit: 30_000_000,
        prevrandao: B256::ZERO,
        extra_data: Bytes::new(),
    };
    let mut builder = BlockBuilder::new(spec, &state, &tip.header, tip.hash, attributes);
    for deposit in deposits {
        builder
            .execute_deposit(deposit)
            .expect("the deposit applies");
    }
    builder.finish().expect("the block seals")
}

/// A block on the store's tip holding one deposit minting 1 ETH to `to`.
fn deposit_block(store: &Store, spec: &ChainSpec, to: Address, salt: u8) -> BuiltBlock {
    let deposit = minting_deposit(B256::repeat_byte(salt), to, TxKind::Call(to), Bytes::new());
    block_of(store, spec, u64::from(salt), [deposit])
}

#[test]
fn staged_blocks_feed_the_next_block_but_are_reported_only_once_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
    let (a, b) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb2));

    let one = Arc::new(deposit_block(&store, &genesis.spec, a, 1));
    store.stage(one.clone()).expect("stage");
    assert_eq!(store.tip().map(|t| t.hash), Some(one.hash));
    assert_eq!(store.head_number(), 0, "a staged block is not the head");
    assert!(store.header_by_number(1).expect("read").is_none());
    assert!(store.account(&a).expect("read").is_none());
    assert!(store.tip_state().account(&a).expect("read").is_some());
    // Block 2 built on the staged block 1 ...
    let two = deposit_block(&store, &genesis.spec, b, 2);
    assert_eq!(two.header.parent_hash, one.hash);

    // ... is the block built once block 1 is on disk: same state root, same hash.
    store.commit_block(&one).expect("commit 1");
    assert_eq!(store.staged_len(), 0);
    assert_eq!(store.head_number(), 1);
    let again = deposit_block(&store, &genesis.spec, b, 2);
    assert_eq!(again.header.state_root, two.header.state_root);
    assert_eq!(again.hash, two.hash);
    store.stage(Arc::new(two)).expect("stage 2");
    store.commit_block(&again).expect("commit 2");
    assert_eq!(store.head_number(), 2);
    let at_two = store.at_root(again.header.state_root);
    assert_eq!(
        at_two.account(&a).expect("read").map(|l| l.balance),
        Some(U256::from(ETH))
    );
    assert_eq!(
        at_two.account(&b).expect("read").map(|l| l.balance),
        Some(U256::from(ETH))
    );
}

/// A block on the store's tip that sets `accounts` (balance; 0 deletes) and slots of
/// `HOLDER` (0 clears), built straight from the tree update.
pub(super) fn state_block(
    store: &Store,
    accounts: &[(Address, u64)],
    slots: &[(u64, u64)],
) -> BuiltBlock {
    let tip = store.tip().expect("a chain");
    let mut diff = fraud_vm::state::StateDiff::default();
    for (address, balance) in accounts {
        let leaf = AccountLeaf {
            balance: U256::from(*balance),
            ..AccountLeaf::empty()
        };
        diff.accounts
            .insert(*address, (*balance != 0).then_some(leaf));
    }
    for (slot, value) in slots {
        diff.storage
            .insert((HOLDER, U256::from(*slot)), U256::from(*value));
    }
    let update = smt::update(
        &store.tip_state(),
        tip.header.state_root,
        diff.tree_changes(),
    )
    .expect("tree update");
    let header = Header {
        parent_hash: tip.hash,
        number: tip.header.number + 1,
        timestamp: tip.header.timestamp + 1,
        state_root: update.root,
        ..tip.header.clone()
    };
    BuiltBlock {
        hash: header.hash_slow(),
        header,
        transactions: Vec::new(),
        senders: Vec::new(),
        receipts: Vec::new(),
        outcomes: Vec::new(),
        diff,
        code_roots: Vec::new(),
        new_nodes: update.new_nodes,
        stale_nodes: update.stale_nodes,
    }
}

pub(super) const HOLDER: Address = Address::repeat_byte(0x5e);

/// Receipts are stored without their bloom and come back equal, bloom, logs and deposit
/// fields included.
#[test]
fn receipts_come_back_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
    let from = Address::repeat_byte(0xa1);
    let block = block_of(
        &store,
        &genesis.spec,
        1,
        [
            minting_deposit(B256::repeat_byte(1), from, TxKind::Call(from), Bytes::new()),
            minting_deposit(
                B256::repeat_byte(2),
                from,
                TxKind::Create,
                logging_initcode(),
            ),
        ],
    );
    assert_eq!(block.receipts[1].logs().len(), 1);
    assert!(!block.receipts[1].logs_bloom().is_zero());
    store.commit_block(&block).expect("commit");
    assert_eq!(
        store.receipts(1).expect("read"),
        Some(block.receipts.clone())
    );
}

/// Opening the chain in `datadir` with `history` fails with an error saying `message`.
pub(super) fn assert_refused(datadir: &std::path::Path, history: Option<u64>, message: &str) {
    let Err(err) = open_chain(datadir, DEV_GENESIS, history) else {
        panic!("the open succeeded; expected an error saying {message:?}");
    };
    assert!(err.to_string().contains(message), "{err}");
}

/// `--db.cache-mb 0` (or any page cache sled would refuse) opens with the smallest
/// cache instead of stopping the node, and the store works and reopens with it.
#[test]
fn a_tiny_page_cache_still_opens_and_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rich = Address::repeat_byte(0x22);
    let tiny = |state_history| StoreOptions {
        state_history,
        cache_bytes: 0,
        ..StoreOptions::default()
    };
    {
        let (store, _) = open_chain(dir.path(), DEV_GENESIS, tiny(Some(4))).expect("chain");
        for balance in [5u64, 6] {
            let block = state_block(&store, &[(rich, balance)], &[]);
            store.commit_block(&block).expect("commit");
        }
    }
    let (store, _) = open_chain(dir.path(), DEV_GENESIS, tiny(Some(4))).expect("reopen");
    assert_eq!(store.head().expect("head").header.number, 2);
    assert_eq!(
        store.account(&rich).expect("read").map(|a| a.balance),
        Some(U256::from(6))
    );
}

/// A data directory another store holds is refused with a clear error, after waiting
/// briefly in case that store is closing.
#[test]
fn a_data_directory_in_use_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_held, _) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
    let err = Store::open(&dir.path().join("chain"), None)
        .err()
        .expect("the directory is in use");
    assert!(matches!(err, StoreError::InUse(_)), "{err}");
    assert!(
        err.to_string().contains("another node has it open"),
        "{err}"
    );
}

/// A data directory of another record layout is refused with a clear error, not misread.
#[test]
fn a_store_of_another_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (store, _) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
        store
            .db
            .insert(key(META, &[FORMAT_KEY]), &2u32.to_be_bytes())
            .expect("write");
        store.db.flush().expect("flush");
    }
    assert_refused(dir.path(), None, "record format 2");
    let err = Store::open(&dir.path().join("chain"), None)
        .err()
        .expect("an old format");
    assert!(matches!(
        err,
        StoreError::WrongFormat {
            found: 2,
            expected: FORMAT
        }
    ));
}

/// A kill after a block's content-addressed records were written but before its final
/// batch: the block was never reported, and the chain resumes at the previous head.
#[test]
fn a_crash_between_the_two_write_steps_resumes_at_the_previous_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (Address::repeat_byte(0xa1), Address::repeat_byte(0xb2));
    let lost = {
        let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
        let lost = Arc::new(deposit_block(&store, &genesis.spec, a, 1));
        store.stage(lost.clone()).expect("stage");
        store.write_content(&lost).expect("first step only");
        assert_eq!(store.head_number(), 0);
        lost
    };
    let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("reopen");
    assert_eq!(store.head_number(), 0);
    assert_eq!(store.tip().map(|t| t.header.number), Some(0));
    assert!(store.header_by_number(1).expect("read").is_none());
    assert!(store.number_by_hash(&lost.hash).expect("read").is_none());
    let lost_tx = lost.transactions[0].tx_hash();
    assert!(store.tx_location(&lost_tx).expect("read").is_none());
    assert!(store.account(&a).expect("read").is_none());

    let one = deposit_block(&store, &genesis.spec, b, 3);
    assert_ne!(one.hash, lost.hash);
    store.commit_block(&one).expect("commit");
    assert_eq!(store.head().map(|h| h.hash), Some(one.hash));
    assert!(store.tx_location(&lost_tx).expect("read").is_none());
    assert!(store.account(&a).expect("read").is_none());
    assert_eq!(
        store.account(&b).expect("read").map(|l| l.balance),
        Some(U256::from(ETH))
    );
    let at_one = store.at_root(one.header.state_root);
    assert!(at_one.account(&a).expect("read").is_none());
    assert_eq!(
        at_one.account(&b).expect("read").map(|l| l.balance),
        Some(U256::from(ETH))
    );
}

/// A block that does not extend the head (a gap, a repeat of the head's number, or the right
/// number on another parent) is refused with [`StoreError::DoesNotExtend`], and the store is
/// left as it was: same head, no header, no state, no transaction location.
#[test]
fn a_block_that_does_not_extend_the_head_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
    let a = Address::repeat_byte(0xa1);
    let one = deposit_block(&store, &genesis.spec, a, 1);
    store.commit_block(&one).expect("block 1 extends genesis");
    let head = store.head().expect("head");

    let b = Address::repeat_byte(0xb2);
    let two = deposit_block(&store, &genesis.spec, b, 2);
    let mut gap = two.clone();
    gap.header.number = 3;
    gap.hash = gap.header.hash_slow();
    let mut repeat = two.clone();
    repeat.header.number = 1;
    repeat.hash = repeat.header.hash_slow();
    let mut orphan = two.clone();
    orphan.header.parent_hash = B256::repeat_byte(0x99);
    orphan.hash = orphan.header.hash_slow();
    for bad in [&gap, &repeat, &orphan] {
        let err = store
            .commit_block(bad)
            .expect_err("does not extend the head");
        match &err {
            StoreError::DoesNotExtend {
                number,
                parent_hash,
                onto,
            } => {
                assert_eq!(*number, bad.header.number);
                assert_eq!(*parent_hash, bad.header.parent_hash);
                assert_eq!(*onto, Some((1, one.hash)));
            }
            other => panic!("expected DoesNotExtend, got {other}"),
        }
        assert!(err.to_string().contains("does not extend block 1"), "{err}");
        assert_eq!(store.head().map(|h| h.hash), Some(head.hash));
        assert!(store.number_by_hash(&bad.hash).expect("read").is_none());
        let tx = bad.transactions[0].tx_hash();
        assert!(store.tx_location(&tx).expect("read").is_none());
        assert!(store.account(&b).expect("read").is_none());
    }
    assert!(store.header_by_number(2).expect("read").is_none());
    assert!(store.header_by_number(3).expect("read").is_none());
    // Staging checks the same against the tip.
    assert!(matches!(
        store.stage(Arc::new(gap)),
        Err(StoreError::DoesNotExtend { .. })
    ));
    assert_eq!(store.staged_len(), 0);
    // The extending block still commits.
    store.commit_block(&two).expect("block 2 extends block 1");
    assert_eq!(store.head_number(), 2);

    // An empty store takes block 0 only.
    let empty = tempfile::tempdir().expect("tempdir");
    let fresh = Store::open(empty.path(), None).expect("open");
    let err = fresh
        .commit_block(&one)
        .expect_err("block 1 on an empty store");
    assert!(
        matches!(err, StoreError::DoesNotExtend { onto: None, .. }),
        "{err}"
    );
    assert!(fresh.head().is_none());
}

/// A derived block's batch position is written with it and survives a reopen; with the block's
/// L1 record it makes the derivation cursor after the block. A block committed without one
/// (a sequencer's own) has none.
#[test]
fn a_derived_block_keeps_where_derivation_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let origin = fraud_vm::deposit::L1BlockInfo {
        number: 12,
        hash: B256::repeat_byte(12),
        timestamp: 1_012,
        basefee: 7,
    };
    let l1 = L1Cursor {
        origin,
        next_deposit: 4,
    };
    let position = cursor::BatchPosition {
        batch_index: 3,
        position: 180,
        source_acc: B256::repeat_byte(0xac),
    };
    {
        let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, None).expect("chain");
        let one = deposit_block(&store, &genesis.spec, Address::repeat_byte(1), 1);
        store
            .commit_derived_block(&one, Some(&l1), true, position, &[])
            .expect("commit 1");
        let two = deposit_block(&store, &genesis.spec, Address::repeat_byte(2), 2);
        store.commit_block(&two).expect("commit 2");
        assert_eq!(store.derivation_cursor(2).expect("read"), None);
    }
    let (store, _) = open_chain(dir.path(), DEV_GENESIS, None).expect("reopen");
    let cursor = store.derivation_cursor(1).expect("read").expect("recorded");
    assert_eq!((cursor.batchIndex, cursor.position), (3, 180));
    assert_eq!(cursor.delayedRead, 4);
    assert_eq!(
        cursor.origin(),
        Some(fraud_vm::batch::BatchOrigin::from(&origin))
    );
    assert_eq!(
        store.derivation_cursor(0).expect("read"),
        Some(fraud_vm::inbox::Cursor::GENESIS),
        "genesis is where derivation starts"
    );
}
