//! The sequencer under a backlog: with a tiny gas limit, blocks fill up and the next ones are
//! built on their predecessors' in-memory state while those are written; every transaction is
//! mined exactly once, blocks chain, timestamps strictly increase, and balances add up. And
//! the sequencer's clock: empty blocks wait while the chain leads the wall clock by more than a
//! minute; blocks with transactions do not.

mod support;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::{dev_address, wallet, workspace_path, ChainOpts, Target, TestChain};

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
        // Back-to-back blocks still get strictly increasing timestamps (the consensus rule),
        // on anvil as on the node.
        assert!(
            block.header.timestamp > parent.header.timestamp,
            "block {n}: timestamp {} after {}",
            block.header.timestamp,
            parent.header.timestamp
        );
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

/// A genesis two minutes in the future (the chain leads the clock by more than
/// `MAX_EMPTY_BLOCK_LEAD_SECS`): no empty block is sealed, but a transaction is included at
/// once, in a block stamped genesis + 1 (the timestamp rule), after which the chain waits again.
#[tokio::test(flavor = "multi_thread")]
async fn empty_blocks_wait_while_the_chain_leads_the_clock() {
    if Target::from_env() == Target::Anvil {
        eprintln!("the node's sequencer policy; nothing to compare on anvil");
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let ahead = now + 120;
    let text = std::fs::read_to_string(workspace_path("testdata/genesis.json")).expect("genesis");
    let mut genesis: serde_json::Value = serde_json::from_str(&text).expect("genesis JSON");
    genesis["timestamp"] = serde_json::json!(format!("{ahead:#x}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, genesis.to_string()).expect("write genesis");
    let chain = TestChain::start(ChainOpts {
        block_time: Some("100ms".into()),
        extra_args: vec!["--genesis".into(), path.display().to_string()],
        anvil_automine: false,
    })
    .await;
    let provider = chain.provider_for(0);
    // Ten block times pass without a block (no transaction to include).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(provider.get_block_number().await.expect("head"), 0);

    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(dev_address(4))
                .with_value(U256::from(1)),
        )
        .await
        .expect("send")
        .with_timeout(Some(Duration::from_secs(10)))
        .get_receipt()
        .await
        .expect("mined despite the lead");
    assert_eq!(receipt.block_number, Some(1));
    let block = provider
        .get_block_by_number(1.into())
        .await
        .expect("block")
        .expect("block 1");
    assert_eq!(block.header.timestamp, ahead + 1, "stamped genesis + 1");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        provider.get_block_number().await.expect("head"),
        1,
        "no empty block follows while the chain leads"
    );
}
