//! The JSON-RPC surface beyond the DeFi flow: block tags, lookups by hash and index, historical
//! state, fee history, polling filters, WebSocket subscriptions, state overrides and state-tree
//! proofs that verify against the block's state root.

mod support;

use std::time::Duration;

use alloy::{
    eips::BlockNumberOrTag,
    network::TransactionBuilder,
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::{
        state::{AccountOverride, StateOverride},
        TransactionRequest,
    },
};
use fraud_vm::{
    smt::Proof,
    state::{account_key, storage_key, AccountLeaf},
};
use futures::StreamExt;
use serde_json::{json, Value};
use support::{dev_address, ChainOpts, TestChain};

/// Initcode: `sstore(1, 42)`, then return the runtime `sstore(0, calldataload(0))`.
const STORE_INIT: &str = "0x602a6001556007601160003960076000f360003560005500";

async fn raw(chain: &TestChain, method: &str, params: Value) -> Value {
    chain
        .provider()
        .raw_request::<_, Value>(method.to_string().into(), params)
        .await
        .unwrap_or_else(|e| chain.fail(&format!("{method} failed: {e}")))
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_surface() {
    let chain = TestChain::start(ChainOpts::default()).await;
    let provider = chain.provider_for(0);
    let me = dev_address(0);
    let other = dev_address(5);

    // Simple identity methods.
    assert_eq!(
        raw(&chain, "net_version", json!([])).await,
        json!(chain.chain_id().to_string())
    );
    assert_eq!(raw(&chain, "net_listening", json!([])).await, json!(true));
    assert_eq!(raw(&chain, "eth_syncing", json!([])).await, json!(false));
    assert_eq!(raw(&chain, "eth_accounts", json!([])).await, json!([]));
    assert!(raw(&chain, "web3_clientVersion", json!([]))
        .await
        .as_str()
        .unwrap()
        .starts_with("rollup-node/"));

    // Filters installed before the activity.
    let block_filter = raw(&chain, "eth_newBlockFilter", json!([])).await;
    let pending_filter = raw(&chain, "eth_newPendingTransactionFilter", json!([])).await;
    let ws = chain.ws_provider().await;
    let mut heads = ws.subscribe_blocks().await.expect("newHeads").into_stream();
    let mut pending_sub = ws
        .subscribe_pending_transactions()
        .await
        .expect("pending")
        .into_stream();

    // Deploy a storage contract and write a slot.
    let deploy = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(Bytes::from(
            alloy::primitives::hex::decode(STORE_INIT).unwrap(),
        )))
        .await
        .expect("send deploy");
    let deploy_hash = *deploy.tx_hash();
    let receipt = deploy.get_receipt().await.expect("deploy receipt");
    assert!(receipt.status());
    let contract = receipt.contract_address.expect("contract address");
    let log_filter = raw(&chain, "eth_newFilter", json!([{ "address": contract }])).await;
    let value = B256::with_last_byte(7);
    let write = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(contract)
                .with_input(value.to_vec()),
        )
        .await
        .expect("send write")
        .get_receipt()
        .await
        .expect("write receipt");
    assert!(write.status());
    let write_block = write.block_number.unwrap();

    // newHeads and newPendingTransactions over WS saw the activity.
    let head = tokio::time::timeout(Duration::from_secs(10), heads.next())
        .await
        .expect("a new head within 10 s")
        .expect("stream open");
    assert!(head.number >= 1);
    let seen = tokio::time::timeout(Duration::from_secs(10), pending_sub.next())
        .await
        .expect("a pending tx within 10 s")
        .expect("stream open");
    assert_eq!(seen, deploy_hash);

    // Polling filters.
    let changes = raw(&chain, "eth_getFilterChanges", json!([block_filter])).await;
    assert!(
        !changes.as_array().unwrap().is_empty(),
        "block filter saw blocks"
    );
    let changes = raw(&chain, "eth_getFilterChanges", json!([pending_filter])).await;
    assert!(changes.as_array().unwrap().contains(&json!(deploy_hash)));
    let logs = raw(&chain, "eth_getFilterLogs", json!([log_filter])).await;
    assert!(
        logs.as_array().unwrap().is_empty(),
        "the store contract emits no logs"
    );
    assert_eq!(
        raw(&chain, "eth_uninstallFilter", json!([log_filter])).await,
        json!(true)
    );
    assert_eq!(
        raw(&chain, "eth_uninstallFilter", json!([log_filter])).await,
        json!(false)
    );

    // Lookups by hash, number and index agree.
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Number(write_block))
        .full()
        .await
        .unwrap()
        .expect("block");
    let by_hash = provider
        .get_block_by_hash(block.header.hash)
        .await
        .unwrap()
        .expect("by hash");
    assert_eq!(by_hash.header.hash, block.header.hash);
    assert_eq!(by_hash.header.state_root, block.header.state_root);
    let count = raw(
        &chain,
        "eth_getBlockTransactionCountByHash",
        json!([block.header.hash]),
    )
    .await;
    assert_eq!(count, json!("0x1"));
    let count = raw(
        &chain,
        "eth_getBlockTransactionCountByNumber",
        json!([format!("0x{write_block:x}")]),
    )
    .await;
    assert_eq!(count, json!("0x1"));
    let tx = raw(
        &chain,
        "eth_getTransactionByBlockNumberAndIndex",
        json!([format!("0x{write_block:x}"), "0x0"]),
    )
    .await;
    assert_eq!(tx["hash"], json!(write.transaction_hash));
    let tx = raw(
        &chain,
        "eth_getTransactionByBlockHashAndIndex",
        json!([block.header.hash, "0x0"]),
    )
    .await;
    assert_eq!(tx["from"], json!(me.to_string().to_lowercase()));
    let receipts = provider
        .get_block_receipts(write_block.into())
        .await
        .unwrap()
        .expect("receipts");
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].transaction_hash, write.transaction_hash);

    // Block tags.
    let latest = provider.get_block_number().await.unwrap();
    for tag in ["latest", "safe", "finalized", "pending"] {
        let b = raw(&chain, "eth_getBlockByNumber", json!([tag, false])).await;
        let n = u64::from_str_radix(b["number"].as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap();
        assert!(n >= latest, "{tag} is the head");
    }
    let genesis = raw(&chain, "eth_getBlockByNumber", json!(["earliest", false])).await;
    assert_eq!(genesis["number"], json!("0x0"));
    assert_eq!(
        raw(&chain, "eth_getBlockByNumber", json!(["0xffffffff", false])).await,
        Value::Null
    );

    // Historical state: the slot was 0 before the write block and 7 from it on.
    let slot0 = provider
        .get_storage_at(contract, U256::ZERO)
        .block_id((write_block - 1).into())
        .await
        .unwrap();
    assert_eq!(slot0, U256::ZERO);
    let slot0 = provider
        .get_storage_at(contract, U256::ZERO)
        .block_id(write_block.into())
        .await
        .unwrap();
    assert_eq!(slot0, U256::from(7));
    let old_balance = provider
        .get_balance(other)
        .block_id(0.into())
        .await
        .unwrap();
    assert_eq!(
        old_balance,
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
    );

    // Two transactions sent: nonce 2, at latest and pending alike (the pool is empty).
    assert_eq!(provider.get_transaction_count(me).await.unwrap(), 2);
    assert_eq!(
        provider.get_transaction_count(me).pending().await.unwrap(),
        2
    );

    // Fee history and fee suggestions.
    let history = provider
        .get_fee_history(4, BlockNumberOrTag::Latest, &[10.0, 90.0])
        .await
        .expect("fee history");
    assert_eq!(
        history.base_fee_per_gas.len(),
        history.gas_used_ratio.len() + 1
    );
    assert_eq!(
        history.reward.as_ref().map(|r| r.len()),
        Some(history.gas_used_ratio.len())
    );
    let tip = provider.get_max_priority_fee_per_gas().await.unwrap();
    let price = provider.get_gas_price().await.unwrap();
    assert!(price > tip);

    // eth_call with a state override: pretend slot 0 holds 99 (read via a tiny reader contract
    // whose code is injected by the override too: `mstore(0, sload(0)) return(0, 32)`).
    let reader = Address::repeat_byte(0x77);
    let mut overrides = StateOverride::default();
    overrides.insert(
        reader,
        AccountOverride {
            code: Some(
                alloy::primitives::hex::decode("60005460005260206000f3")
                    .unwrap()
                    .into(),
            ),
            state_diff: Some(
                [(B256::ZERO, B256::with_last_byte(99))]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        },
    );
    let out = provider
        .call(TransactionRequest::default().with_to(reader))
        .overrides(overrides)
        .await
        .expect("call with overrides");
    assert_eq!(U256::from_be_slice(&out), U256::from(99));

    // eth_getProof: account and storage proofs verify against the block's state root.
    let proof = provider
        .get_proof(
            contract,
            vec![B256::ZERO, B256::with_last_byte(1), B256::with_last_byte(9)],
        )
        .block_id(write_block.into())
        .await
        .expect("proof");
    assert_eq!(proof.storage_hash, block.header.state_root);
    let account_proof = Proof::from_nodes(&proof.account_proof).expect("an SMT proof");
    let leaf_value = account_proof
        .verify(block.header.state_root, &account_key(&contract))
        .expect("account proof verifies")
        .expect("account exists");
    let code = provider.get_code_at(contract).await.unwrap();
    let expected = AccountLeaf {
        nonce: proof.nonce,
        balance: proof.balance,
        code_hash: keccak256(&code),
        code_root: fraud_vm::state::code_root(&code),
    };
    assert_eq!(leaf_value, expected.value_hash());
    let expected_slots = [U256::from(7), U256::from(42), U256::ZERO];
    for (sp, want) in proof.storage_proof.iter().zip(expected_slots) {
        assert_eq!(sp.value, want);
        let got = Proof::from_nodes(&sp.proof)
            .expect("an SMT proof")
            .verify(
                block.header.state_root,
                &storage_key(&contract, &sp.key.as_b256().into()),
            )
            .expect("storage proof verifies");
        assert_eq!(
            got.map(|v| U256::from_be_bytes(v.0)).unwrap_or_default(),
            want
        );
    }
    // A proof does not verify against another block's root.
    let mut wrong = block.header.state_root;
    wrong.0[0] ^= 1;
    assert!(account_proof
        .verify(wrong, &account_key(&contract))
        .is_err());
}
