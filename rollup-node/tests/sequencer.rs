//! The sequencer under a backlog: with a tiny gas limit, blocks fill up and the next ones are
//! built on their predecessors' in-memory state while those are written; every transaction is
//! mined exactly once, blocks chain, and balances add up.

mod support;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
};
use support::{wallet, ChainOpts, TestChain};

#[tokio::test(flavor = "multi_thread")]
async fn backlog_fills_consecutive_blocks() {
    let chain = TestChain::start(ChainOpts {
        block_time: Some("1s".into()),
        // Room for exactly 5 plain transfers per block.
        extra_args: vec!["--gas-limit".into(), "105000".into()],
        anvil_automine: false,
    })
    .await;
    let senders = 3u32;
    let per_sender = 10u64;
    let recipient = Address::repeat_byte(0x5e);
    let mut hashes = Vec::new();
    for i in 1..=senders {
        let signer = wallet(i);
        let from = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_http(chain.http_url().parse().expect("url"));
        let nonce = provider
            .get_transaction_count(from)
            .pending()
            .await
            .expect("nonce");
        for k in 0..per_sender {
            let tx = TransactionRequest::default()
                .with_to(recipient)
                .with_value(U256::from(1000 + k))
                .with_nonce(nonce + k)
                .with_gas_limit(21_000)
                .with_max_fee_per_gas(100_000_000_000)
                .with_max_priority_fee_per_gas(1_000_000_000);
            let pending = provider.send_transaction(tx).await.expect("send");
            hashes.push(*pending.tx_hash());
        }
    }
    let provider = chain.provider();
    let mut blocks = std::collections::BTreeMap::new();
    for hash in &hashes {
        let receipt = loop {
            if let Some(r) = provider
                .get_transaction_receipt(*hash)
                .await
                .expect("receipt")
            {
                break r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        assert!(receipt.status());
        *blocks
            .entry(receipt.block_number.expect("mined"))
            .or_insert(0u64) += 1;
    }
    assert!(
        blocks.values().all(|n| *n <= 5),
        "at most 5 transfers per block: {blocks:?}"
    );
    assert_eq!(blocks.values().sum::<u64>(), (senders as u64) * per_sender);
    assert!(
        blocks.len() >= 6,
        "30 transfers need at least 6 blocks: {blocks:?}"
    );
    // The blocks chain, and the full ones are exactly full.
    let first = *blocks.keys().next().unwrap();
    let last = *blocks.keys().next_back().unwrap();
    let mut parent = provider
        .get_block_by_number((first - 1).into())
        .await
        .unwrap()
        .expect("parent");
    for n in first..=last {
        let block = provider
            .get_block_by_number(n.into())
            .await
            .unwrap()
            .expect("block");
        assert_eq!(block.header.parent_hash, parent.header.hash);
        if blocks.get(&n) == Some(&5) {
            assert_eq!(block.header.gas_used, 105_000);
        }
        parent = block;
    }
    let expected: u64 = (0..per_sender).map(|k| 1000 + k).sum::<u64>() * senders as u64;
    assert_eq!(
        provider.get_balance(recipient).await.unwrap(),
        U256::from(expected)
    );
}
