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
    let (chain, ahead, _dir) = chain_leading_by(120).await;
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

/// A chain whose genesis is `lead` seconds ahead of the clock (100 ms block time); returns it,
/// the genesis timestamp and the directory holding the genesis file.
async fn chain_leading_by(lead: u64) -> (TestChain, u64, tempfile::TempDir) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let ahead = now + lead;
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
    (chain, ahead, dir)
}

/// Past `MAX_BLOCK_LEAD_SECS` (half of derivation's timestamp bound) no block is sealed, even
/// with transactions waiting: a batch of such blocks would lead its L1 block by more than
/// derivation allows. The transaction waits in the pool.
#[tokio::test(flavor = "multi_thread")]
async fn no_block_is_sealed_past_the_lead_derivation_allows() {
    if Target::from_env() == Target::Anvil {
        eprintln!("the node's sequencer policy; nothing to compare on anvil");
        return;
    }
    let (chain, _, _dir) =
        chain_leading_by(rollup_node::sequencer::MAX_BLOCK_LEAD_SECS + 120).await;
    let provider = chain.provider_for(0);
    let pending = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(dev_address(4))
                .with_value(U256::from(1)),
        )
        .await
        .expect("accepted into the pool");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(provider.get_block_number().await.expect("head"), 0);
    let tx = provider
        .get_transaction_by_hash(*pending.tx_hash())
        .await
        .expect("transaction query")
        .expect("known as pending");
    assert_eq!(tx.block_number, None, "pending, not mined");
    assert!(provider
        .get_transaction_receipt(*pending.tx_hash())
        .await
        .expect("receipt query")
        .is_none());
}

/// A `--gas-limit` outside the protocol's bounds is refused at start: derivation would skip
/// every block the sequencer made. Above `MAX_BLOCK_GAS_LIMIT` always; below
/// `MIN_ORIGIN_GAS_LIMIT` when following L1 (its blocks have L1 origins). Both are refused
/// before the node reaches L1 (nothing listens at the URL).
#[test]
fn a_gas_limit_outside_the_protocol_bounds_is_refused() {
    use fraud_vm::batch::{MAX_BLOCK_GAS_LIMIT, MIN_ORIGIN_GAS_LIMIT};
    let dir = tempfile::tempdir().expect("temp dir");
    let deployment = dir.path().join("deployment.json");
    let genesis = fraud_vm::chain::ChainGenesis::from_json(
        &std::fs::read_to_string(workspace_path("testdata/genesis.json")).expect("genesis"),
    )
    .expect("genesis json");
    std::fs::write(
        &deployment,
        fraud_vm::deposit::Deployment {
            l1_chain_id: 31337,
            l2_chain_id: genesis.spec.chain_id,
            deploy_block: 0,
            deployer: Default::default(),
            inbox: Default::default(),
            portal: Default::default(),
            output_registry: Default::default(),
            l1_standard_bridge: Default::default(),
            batcher: Default::default(),
            proposer: Default::default(),
            resolver: Default::default(),
            force_inclusion_window: 30,
            challenge_window: 60,
            proposal_bond: Default::default(),
        }
        .to_json(),
    )
    .expect("write deployment");
    let l1_args = [
        "--l1.rpc".to_string(),
        "http://127.0.0.1:9".into(),
        "--deployment".into(),
        deployment.display().to_string(),
    ];
    let cases = [
        (
            MAX_BLOCK_GAS_LIMIT + 1,
            &[][..],
            "above the protocol's largest block gas limit",
        ),
        (
            MIN_ORIGIN_GAS_LIMIT - 1,
            &l1_args[..],
            "the least a block with an L1 origin needs",
        ),
    ];
    for (gas_limit, extra, says) in cases {
        let datadir = dir.path().join(gas_limit.to_string());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollup-node"))
            .args([
                "--datadir",
                &datadir.display().to_string(),
                "--http.port",
                "0",
                "--ws.port",
                "0",
                "--gas-limit",
                &gas_limit.to_string(),
            ])
            .args(extra)
            .output()
            .expect("run rollup-node");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}
