//! The transaction index (`store::txindex`): every transaction is found, in the open run or a
//! sealed one, across restarts and rewinds, and a rewound index is the one a store that never
//! had the rewound blocks holds.

use super::*;
use crate::store::StoreOptions;

/// A state history whose index seals a run every two transactions.
fn two_per_run() -> StoreOptions {
    StoreOptions {
        state_history: Some(64),
        tx_index_run: 2,
        ..Default::default()
    }
}

/// Panics unless the store's records are those of a fresh store given `blocks`.
fn assert_as_fresh(store: &Store, blocks: &[&BuiltBlock]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (fresh, _) = open_chain(dir.path(), DEV_GENESIS, two_per_run()).expect("chain");
    for block in blocks {
        fresh.commit_block(block).expect("commit");
    }
    rewind::assert_same_records(
        &rewind::records(store, 0),
        &rewind::records(&fresh, 0),
        "rewound and fresh",
    );
    assert_eq!(store.tx_index.runs(), fresh.tx_index.runs());
}

#[test]
fn transactions_are_found_in_every_run_across_restarts_and_rewinds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let to = Address::repeat_byte(0xa1);
    let mut blocks = Vec::new();
    let found = |store: &Store, block: &BuiltBlock| {
        store
            .tx_location(&block.transactions[0].tx_hash())
            .expect("read")
    };
    {
        let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, two_per_run()).expect("chain");
        for salt in 1..=7 {
            let block = deposit_block(&store, &genesis.spec, to, salt);
            store.commit_block(&block).expect("commit");
            blocks.push(block);
        }
        // Block 0 has no transactions; blocks 1 and 2 fill run 0, 3 and 4 run 1, 5 and 6
        // run 2; block 7 is in the open run.
        assert_eq!(
            store.tx_index.runs(),
            (vec![(0, 0, 2), (1, 3, 4), (2, 5, 6)], 7)
        );
        for (i, block) in blocks.iter().enumerate() {
            assert_eq!(found(&store, block), Some((i as u64 + 1, 0)));
        }
    }

    // The open run comes back from block 7's body.
    let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, two_per_run()).expect("reopen");
    assert_eq!(store.tx_index.runs().1, 7);
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(found(&store, block), Some((i as u64 + 1, 0)));
    }
    let eight = deposit_block(&store, &genesis.spec, to, 8);
    store.commit_block(&eight).expect("commit");
    assert_eq!(
        store.tx_index.runs(),
        (vec![(0, 0, 2), (1, 3, 4), (2, 5, 6), (3, 7, 8)], 9)
    );

    // Reopened right after a seal: the open run is empty, every transaction in a sealed run.
    drop(store);
    let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, two_per_run()).expect("reopen");
    assert_eq!(store.tx_index.runs().1, 9);
    for (i, block) in blocks.iter().chain([&eight]).enumerate() {
        assert_eq!(found(&store, block), Some((i as u64 + 1, 0)));
    }

    // Back to block 4: runs 2 and 3 go, and the transactions of blocks 5-8 with them.
    store.rewind(4).expect("rewind");
    assert_eq!(store.tx_index.runs(), (vec![(0, 0, 2), (1, 3, 4)], 5));
    for block in blocks[4..].iter().chain([&eight]) {
        assert_eq!(found(&store, block), None);
    }

    // Block 6's deposit again, now as block 5: found there once run 2 is sealed again.
    let again = deposit_block(&store, &genesis.spec, to, 6);
    assert_eq!(
        again.transactions[0].tx_hash(),
        blocks[5].transactions[0].tx_hash()
    );
    store.commit_block(&again).expect("commit");
    let six = deposit_block(&store, &genesis.spec, to, 9);
    store.commit_block(&six).expect("commit");
    assert_eq!(found(&store, &again), Some((5, 0)));
    assert_eq!(found(&store, &six), Some((6, 0)));
    for (i, block) in blocks[..4].iter().enumerate() {
        assert_eq!(found(&store, block), Some((i as u64 + 1, 0)));
    }
    let kept: Vec<&BuiltBlock> = blocks[..4].iter().chain([&again, &six]).collect();
    assert_as_fresh(&store, &kept);

    // A rewind within the open run changes no record.
    let seven = deposit_block(&store, &genesis.spec, to, 10);
    store.commit_block(&seven).expect("commit");
    assert_eq!(found(&store, &seven), Some((7, 0)));
    store.rewind(6).expect("rewind");
    assert_eq!(found(&store, &seven), None);
    assert_as_fresh(&store, &kept);

    // Into the middle of run 1 (blocks 3-4): block 3 comes back into the open run from its
    // body; then to block 0, which leaves no run at all.
    store.rewind(3).expect("rewind");
    assert_eq!(store.tx_index.runs(), (vec![(0, 0, 2)], 3));
    assert_eq!(found(&store, &blocks[2]), Some((3, 0)));
    assert_eq!(found(&store, &blocks[3]), None);
    assert_as_fresh(&store, &kept[..3]);
    store.rewind(0).expect("rewind");
    assert_eq!(store.tx_index.runs(), (vec![], 0));
    assert_eq!(found(&store, &blocks[0]), None);
    assert_as_fresh(&store, &[]);
}

/// A block whose transactions cross the run's size seals them all in one run, each at its own
/// index.
#[test]
fn a_block_of_many_transactions_is_sealed_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, genesis) = open_chain(dir.path(), DEV_GENESIS, two_per_run()).expect("chain");
    let deposits = (1..=5u8).map(|salt| {
        let to = Address::repeat_byte(salt);
        minting_deposit(B256::repeat_byte(salt), to, TxKind::Call(to), Bytes::new())
    });
    let block = block_of(&store, &genesis.spec, 1, deposits);
    store.commit_block(&block).expect("commit");
    assert_eq!(store.tx_index.runs(), (vec![(0, 0, 1)], 2));
    for (i, tx) in block.transactions.iter().enumerate() {
        assert_eq!(
            store.tx_location(&tx.tx_hash()).expect("read"),
            Some((1, i))
        );
    }
}
