//! Runs the benchmark pipeline on tiny blocks (50 transactions per workload), so the bench
//! code is exercised by `cargo test --workspace` and cannot rot.

use alloy_primitives::U256;
use benches::{
    eth_balance, token_balance, Fixture, Workload, ETH_TRANSFER_VALUE, TOKENS_PER_SENDER,
    TOKENS_PER_TRANSFER,
};

const TXS: usize = 50;

#[test]
fn eth_transfers_pipeline() {
    let fixture = Fixture::new(Workload::EthTransfers, TXS).expect("fixture");
    assert_eq!(fixture.len(), TXS);
    assert_eq!(fixture.head_number, 0, "genesis only");

    let fresh = fixture.fresh().expect("fresh store");
    let before: Vec<U256> = fixture
        .senders
        .iter()
        .map(|s| eth_balance(&fresh.store, *s).unwrap())
        .collect();
    for r in &fixture.recipients {
        assert_eq!(
            eth_balance(&fresh.store, *r).unwrap(),
            U256::ZERO,
            "recipients are fresh"
        );
    }

    let (fresh, block, times) = fixture.seal_fresh(fresh).expect("seal");
    assert_eq!(block.header.number, 1);
    assert_eq!(block.transactions.len(), TXS);
    assert!(
        block.receipts.iter().all(|r| r.status()),
        "every transfer succeeded"
    );
    assert_eq!(block.header.gas_used, 21_000 * TXS as u64);
    assert!(times.total() > times.execute);
    assert_eq!(fresh.store.head_number(), 1, "block committed");

    let value = U256::from(ETH_TRANSFER_VALUE);
    for (i, (s, r)) in fixture.senders.iter().zip(&fixture.recipients).enumerate() {
        assert_eq!(
            eth_balance(&fresh.store, *r).unwrap(),
            value,
            "recipient {i}"
        );
        let after = eth_balance(&fresh.store, *s).unwrap();
        assert!(after < before[i] - value, "sender {i} paid value and fees");
        assert_eq!(fresh.store.account(s).unwrap().unwrap().nonce, 1);
    }

    // Another copy starts again from the pristine chain.
    let again = fixture.fresh().expect("second copy");
    assert_eq!(again.store.head_number(), 0);
    assert_eq!(
        eth_balance(&again.store, fixture.recipients[0]).unwrap(),
        U256::ZERO
    );
}

/// `seal_stages --pipeline`: the node's sequencer seals every transaction from the pool in
/// blocks of at most 8, each one committed (the helper checks every receipt).
#[test]
fn the_sequencer_pipeline_includes_every_transaction() {
    let fixture = Fixture::new(Workload::EthTransfers, TXS).expect("fixture");
    let run = fixture.seal_pipelined(8).expect("pipelined sealing");
    assert_eq!(run.txs, TXS);
    assert!(
        run.blocks >= TXS.div_ceil(8) as u64,
        "{} blocks for {TXS} transactions in blocks of at most 8",
        run.blocks
    );
}

#[test]
fn erc20_transfers_pipeline() {
    let fixture = Fixture::new(Workload::Erc20Transfers, TXS).expect("fixture");
    let token = fixture.token.expect("token deployed");
    assert_eq!(
        fixture.head_number, 2,
        "deploy block and distribution block"
    );

    let fresh = fixture.fresh().expect("fresh store");
    for (s, r) in fixture.senders.iter().zip(&fixture.recipients) {
        let held = token_balance(&fresh.store, token, *s).unwrap();
        assert_eq!(
            held,
            U256::from(TOKENS_PER_SENDER),
            "setup distributed tokens"
        );
        assert_eq!(token_balance(&fresh.store, token, *r).unwrap(), U256::ZERO);
    }

    let (fresh, block, _) = fixture.seal_fresh(fresh).expect("seal");
    assert_eq!(block.header.number, 3);
    assert_eq!(block.transactions.len(), TXS);
    assert!(
        block.receipts.iter().all(|r| r.status()),
        "every transfer succeeded"
    );
    assert!(
        block.receipts.iter().all(|r| r.logs().len() == 1),
        "one Transfer event each"
    );

    let moved = U256::from(TOKENS_PER_TRANSFER);
    for (i, (s, r)) in fixture.senders.iter().zip(&fixture.recipients).enumerate() {
        let sender = token_balance(&fresh.store, token, *s).unwrap();
        assert_eq!(sender, U256::from(TOKENS_PER_SENDER) - moved, "sender {i}");
        assert_eq!(
            token_balance(&fresh.store, token, *r).unwrap(),
            moved,
            "recipient {i}"
        );
    }
}

#[test]
fn uniswap_swaps_pipeline() {
    let fixture = Fixture::new(Workload::UniswapSwaps, TXS).expect("fixture");
    let pool = fixture.pool.expect("pool deployed");
    assert_eq!(fixture.head_number, 1, "one setup block");

    let fresh = fixture.fresh().expect("fresh store");
    let (fresh, block, _) = fixture.seal_fresh(fresh).expect("seal");
    assert_eq!(block.header.number, 2);
    assert_eq!(block.transactions.len(), TXS);
    // Each swap: WETH deposit, WETH transfer to the pair, token transfer out, Sync, Swap.
    assert!(block.receipts.iter().all(|r| r.logs().len() == 5));
    // Every sender got tokens, each fewer than the one before (the price moves).
    let got: Vec<U256> = fixture
        .senders
        .iter()
        .map(|s| token_balance(&fresh.store, pool.token, *s).unwrap())
        .collect();
    assert!(got[0] > U256::ZERO);
    assert!(got.windows(2).all(|w| w[1] < w[0]), "price impact");
}
