//! The JSON-RPC methods called in process ([`RpcModule::call`]) over an in-memory chain
//! ([`MemoryProvider`]): no node, no store on disk, no socket. Two blocks of deposits: block 1
//! mints to `A` and creates a contract logging topic `T1`; block 2 mints to `B` and creates a
//! contract logging `T2`.

use std::sync::Arc;

use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use fraud_vm::{
    chain::ChainGenesis,
    execute::{BlockAttributes, BlockBuilder, BuiltBlock},
};
use jsonrpsee::{core::server::MethodsError, types::ErrorObjectOwned, RpcModule};
use op_alloy_consensus::{OpTxEnvelope, TxDeposit};
use serde_json::{json, Value};

use super::{check::RollupRpc, error, module, RollupApiServer, RpcConfig, RpcContext};
use crate::{
    events::ChainEvents,
    mempool::{Mempool, PoolConfig},
    node::DEV_GENESIS,
    provider::{memory::MemoryProvider, BlockReader},
};

const ETH: u128 = 1_000_000_000_000_000_000;
const A: Address = Address::repeat_byte(0xa1);
const B: Address = Address::repeat_byte(0xb2);
/// Creates the logging contracts.
const C: Address = Address::repeat_byte(0xc3);
const T1: B256 = B256::repeat_byte(0x71);
const T2: B256 = B256::repeat_byte(0x72);

/// Initcode that logs one byte with `topic` and deploys nothing.
fn logging_initcode(topic: B256) -> Bytes {
    let mut code = vec![0x7f];
    code.extend_from_slice(topic.as_slice());
    // PUSH1 1, PUSH1 0, LOG1(offset 0, size 1, topic), STOP
    code.extend([0x60, 0x01, 0x60, 0x00, 0xa1, 0x00]);
    code.into()
}

fn deposit(salt: u8, from: Address, to: TxKind, mint: u128, input: Bytes) -> TxDeposit {
    TxDeposit {
        source_hash: B256::repeat_byte(salt),
        from,
        to,
        mint,
        value: U256::ZERO,
        gas_limit: 200_000,
        is_system_transaction: false,
        input,
    }
}

/// A block of `deposits` on the provider's newest block.
fn block(
    provider: &MemoryProvider,
    genesis: &ChainGenesis,
    deposits: Vec<TxDeposit>,
) -> BuiltBlock {
    let head = provider.head().expect("a chain");
    let state = provider.tip_state();
    let attributes = BlockAttributes {
        timestamp: head.header.timestamp + 2,
        gas_limit: 30_000_000,
        prevrandao: B256::repeat_byte(head.header.number as u8),
        extra_data: Bytes::new(),
    };
    let mut builder = BlockBuilder::new(&genesis.spec, &state, &head.header, head.hash, attributes);
    for d in deposits {
        builder.execute_deposit(d).expect("the deposit applies");
    }
    builder.finish().expect("the block seals")
}

/// The two-block chain of the module docs.
struct Chain {
    ctx: Arc<RpcContext<MemoryProvider>>,
    module: RpcModule<()>,
    /// Blocks 0, 1 and 2.
    blocks: Vec<BuiltBlock>,
}

fn chain(config: RpcConfig) -> Chain {
    let genesis = ChainGenesis::from_json(DEV_GENESIS).expect("genesis");
    let mut provider = MemoryProvider::new();
    let zero = genesis.build().expect("block 0");
    provider.push(zero.clone()).expect("block 0");
    let one = block(
        &provider,
        &genesis,
        vec![
            deposit(1, A, TxKind::Call(A), ETH, Bytes::new()),
            deposit(2, C, TxKind::Create, 0, logging_initcode(T1)),
        ],
    );
    provider.push(one.clone()).expect("block 1");
    let two = block(
        &provider,
        &genesis,
        vec![
            deposit(3, B, TxKind::Call(B), ETH, Bytes::new()),
            deposit(4, C, TxKind::Create, 0, logging_initcode(T2)),
        ],
    );
    provider.push(two.clone()).expect("block 2");
    let ctx = Arc::new(RpcContext::new(
        genesis.spec.clone(),
        provider,
        Arc::new(Mempool::new(PoolConfig::default())),
        ChainEvents::default(),
        config,
        30_000_000,
    ));
    Chain {
        module: module(ctx.clone()).expect("module"),
        ctx,
        blocks: vec![zero, one, two],
    }
}

impl Chain {
    async fn call(&self, method: &str, params: Value) -> Result<Value, ErrorObjectOwned> {
        call(&self.module, method, params).await
    }

    async fn ok(&self, method: &str, params: Value) -> Value {
        self.call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }
}

/// Calls `method` of `module` with the JSON array `params`.
async fn call<C: Send + Sync + 'static>(
    module: &RpcModule<C>,
    method: &str,
    params: Value,
) -> Result<Value, ErrorObjectOwned> {
    let params: Vec<Value> = match params {
        Value::Array(items) => items,
        other => panic!("params must be an array, got {other}"),
    };
    match module.call::<_, Value>(method, params).await {
        Ok(v) => Ok(v),
        Err(MethodsError::JsonRpc(e)) => Err(e),
        Err(other) => panic!("{method}: {other}"),
    }
}

fn hex(n: u64) -> Value {
    json!(format!("{n:#x}"))
}

#[tokio::test]
async fn block_number_and_blocks_by_number_and_hash() {
    let chain = chain(RpcConfig::default());
    assert_eq!(chain.ok("eth_blockNumber", json!([])).await, hex(2));
    for (tag, number) in [
        ("0x1", 1usize),
        ("latest", 2),
        ("earliest", 0),
        ("pending", 2),
    ] {
        let block = chain.ok("eth_getBlockByNumber", json!([tag, false])).await;
        let expected = &chain.blocks[number];
        assert_eq!(block["number"], hex(number as u64), "{tag}");
        assert_eq!(block["hash"], json!(expected.hash), "{tag}");
        assert_eq!(
            block["parentHash"],
            json!(expected.header.parent_hash),
            "{tag}"
        );
        assert_eq!(
            block["stateRoot"],
            json!(expected.header.state_root),
            "{tag}"
        );
        let hashes: Vec<Value> = expected
            .transactions
            .iter()
            .map(|t| json!(t.tx_hash()))
            .collect();
        assert_eq!(block["transactions"], Value::Array(hashes), "{tag}");
    }
    // Full transactions: objects with their hash, sender and block.
    let block = chain.ok("eth_getBlockByNumber", json!(["0x2", true])).await;
    let tx = &block["transactions"][0];
    assert_eq!(tx["hash"], json!(chain.blocks[2].transactions[0].tx_hash()));
    assert_eq!(tx["from"], json!(B));
    assert_eq!(tx["blockNumber"], hex(2));
    let by_hash = chain
        .ok("eth_getBlockByHash", json!([chain.blocks[1].hash, false]))
        .await;
    assert_eq!(by_hash["number"], hex(1));
    // Unknown blocks are `null`, as Ethereum clients expect.
    assert_eq!(
        chain
            .ok("eth_getBlockByNumber", json!(["0x3", false]))
            .await,
        Value::Null
    );
    assert_eq!(
        chain
            .ok("eth_getBlockByHash", json!([B256::repeat_byte(9), false]))
            .await,
        Value::Null
    );
    assert_eq!(
        chain
            .ok("eth_getBlockTransactionCountByNumber", json!(["0x1"]))
            .await,
        hex(2)
    );
}

#[tokio::test]
async fn receipts_by_transaction_hash() {
    let chain = chain(RpcConfig::default());
    let create = chain.blocks[1].transactions[1].tx_hash();
    let receipt = chain.ok("eth_getTransactionReceipt", json!([create])).await;
    assert_eq!(receipt["transactionHash"], json!(create));
    assert_eq!(receipt["blockNumber"], hex(1));
    assert_eq!(receipt["blockHash"], json!(chain.blocks[1].hash));
    assert_eq!(receipt["transactionIndex"], hex(1));
    assert_eq!(receipt["status"], hex(1));
    assert_eq!(receipt["from"], json!(C));
    let contract = C.create(0);
    assert_eq!(receipt["contractAddress"], json!(contract));
    let logs = receipt["logs"].as_array().expect("logs");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["address"], json!(contract));
    assert_eq!(logs[0]["topics"], json!([T1]));
    assert_eq!(logs[0]["data"], json!("0x00"));
    // A transaction nobody included: `null`.
    assert_eq!(
        chain
            .ok("eth_getTransactionReceipt", json!([B256::repeat_byte(7)]))
            .await,
        Value::Null
    );
    let all = chain.ok("eth_getBlockReceipts", json!(["0x2"])).await;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    assert_eq!(all[1]["contractAddress"], json!(C.create(1)));
}

/// A pooled transaction whose nonce is at or above its sender's has no receipt and is served
/// from the pool; one the pool still holds after its block was committed (the pool drops it
/// once the commit is reported) is served from the block.
#[tokio::test]
async fn pooled_transactions_by_hash_pending_or_already_included() {
    use alloy_consensus::{SignableTransaction, TxEip1559};
    let chain = chain(RpcConfig::default());
    // A's deposit in block 1 made its nonce 1.
    let pending = OpTxEnvelope::Eip1559(
        TxEip1559 {
            chain_id: chain.ctx.chain.chain_id,
            nonce: 1,
            gas_limit: 21_000,
            max_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(B),
            ..Default::default()
        }
        .into_signed(alloy_primitives::Signature::test_signature()),
    );
    let pending_hash = pending.tx_hash();
    // Pooled before block 1 was committed.
    let included = chain.blocks[1].transactions[0].clone();
    let included_hash = included.tx_hash();
    chain.ctx.pool.add(included, A, || Ok(0)).expect("pooled");
    chain.ctx.pool.add(pending, A, || Ok(1)).expect("pooled");

    assert_eq!(
        chain
            .ok("eth_getTransactionReceipt", json!([pending_hash]))
            .await,
        Value::Null
    );
    let tx = chain
        .ok("eth_getTransactionByHash", json!([pending_hash]))
        .await;
    assert_eq!(tx["hash"], json!(pending_hash));
    assert_eq!(tx["blockNumber"], Value::Null);

    let receipt = chain
        .ok("eth_getTransactionReceipt", json!([included_hash]))
        .await;
    assert_eq!(receipt["blockNumber"], hex(1));
    let tx = chain
        .ok("eth_getTransactionByHash", json!([included_hash]))
        .await;
    assert_eq!(tx["blockNumber"], hex(1));
    assert_eq!(tx["transactionIndex"], hex(0));
}

#[tokio::test]
async fn logs_are_filtered_by_range_address_and_topic() {
    let chain = chain(RpcConfig::default());
    let (one, two) = (C.create(0), C.create(1));
    let logs = |v: &Value| -> Vec<(Value, Value, Value)> {
        v.as_array()
            .expect("an array of logs")
            .iter()
            .map(|l| {
                (
                    l["blockNumber"].clone(),
                    l["address"].clone(),
                    l["topics"][0].clone(),
                )
            })
            .collect()
    };
    let all = chain
        .ok(
            "eth_getLogs",
            json!([{ "fromBlock": "0x0", "toBlock": "latest" }]),
        )
        .await;
    assert_eq!(
        logs(&all),
        vec![
            (hex(1), json!(one), json!(T1)),
            (hex(2), json!(two), json!(T2))
        ]
    );
    let by_address = chain
        .ok(
            "eth_getLogs",
            json!([{ "fromBlock": "0x0", "address": two }]),
        )
        .await;
    assert_eq!(logs(&by_address), vec![(hex(2), json!(two), json!(T2))]);
    let by_topic = chain
        .ok(
            "eth_getLogs",
            json!([{ "fromBlock": "0x0", "topics": [T1] }]),
        )
        .await;
    assert_eq!(logs(&by_topic), vec![(hex(1), json!(one), json!(T1))]);
    let by_range = chain
        .ok(
            "eth_getLogs",
            json!([{ "fromBlock": "0x2", "toBlock": "0x2" }]),
        )
        .await;
    assert_eq!(logs(&by_range), vec![(hex(2), json!(two), json!(T2))]);
    let nothing = chain
        .ok(
            "eth_getLogs",
            json!([{ "fromBlock": "0x1", "toBlock": "0x1", "address": two }]),
        )
        .await;
    assert_eq!(nothing, json!([]));
    let by_hash = chain
        .ok(
            "eth_getLogs",
            json!([{ "blockHash": chain.blocks[1].hash }]),
        )
        .await;
    assert_eq!(logs(&by_hash), vec![(hex(1), json!(one), json!(T1))]);
}

#[tokio::test]
async fn balances_at_each_block_and_unknown_blocks() {
    let chain = chain(RpcConfig::default());
    let eth = json!(format!("{:#x}", U256::from(ETH)));
    for (who, block, want) in [
        (A, "0x0", json!("0x0")),
        (A, "0x1", eth.clone()),
        (A, "latest", eth.clone()),
        (B, "0x1", json!("0x0")),
        (B, "0x2", eth.clone()),
    ] {
        assert_eq!(
            chain.ok("eth_getBalance", json!([who, block])).await,
            want,
            "{who} at {block}"
        );
    }
    // By block hash too.
    assert_eq!(
        chain
            .ok(
                "eth_getBalance",
                json!([B, { "blockHash": chain.blocks[1].hash }])
            )
            .await,
        json!("0x0")
    );
    // A state query at a block above the head is an error, not a zero balance.
    let err = chain
        .call("eth_getBalance", json!([A, "0x3"]))
        .await
        .expect_err("block 3 does not exist");
    assert_eq!(err.code(), error::SERVER);
    assert_eq!(err.message(), "header not found");
    assert_eq!(
        chain.ok("eth_getTransactionCount", json!([C, "0x2"])).await,
        hex(2)
    );
}

/// Without `--rpc.check-block` the method does not exist; with it, a block is checked, and a
/// call beyond the concurrency bound is answered "busy" at once.
#[tokio::test(flavor = "multi_thread")]
async fn check_block_is_served_only_when_enabled_and_bounded() {
    let off = chain(RpcConfig::default());
    let err = off
        .call("rollup_checkBlock", json!(["0x1"]))
        .await
        .expect_err("not registered");
    assert_eq!(err.code(), jsonrpsee::types::error::METHOD_NOT_FOUND_CODE);

    let on = chain(RpcConfig {
        check_block: true,
        ..RpcConfig::default()
    });
    let report = on.ok("rollup_checkBlock", json!(["0x1"])).await;
    assert_eq!(report["ok"], json!(true), "{report}");
    assert_eq!(report["number"], json!(1));
    assert_eq!(report["hash"], json!(on.blocks[1].hash));
    let err = on
        .call("rollup_checkBlock", json!(["0x9"]))
        .await
        .expect_err("unknown block");
    assert_eq!(err.code(), error::INVALID_PARAMS);
    assert!(
        err.message().contains("not in the store"),
        "{}",
        err.message()
    );
}

/// While as many checks run as allowed, another call is answered "busy" (-32005) at once
/// instead of waiting; once one finishes, checks are served again.
#[tokio::test(flavor = "multi_thread")]
async fn a_check_beyond_the_bound_is_answered_busy() {
    let chain = chain(RpcConfig {
        check_block: true,
        max_concurrent_checks: 1,
        ..RpcConfig::default()
    });
    let rpc = RollupRpc::new(chain.ctx.clone());
    let running = rpc
        .permits
        .clone()
        .try_acquire_owned()
        .expect("a free permit");
    let module = rpc.into_rpc();
    let err = call(&module, "rollup_checkBlock", json!(["0x1"]))
        .await
        .expect_err("busy");
    assert_eq!(err.code(), error::LIMIT_EXCEEDED);
    assert!(err.message().contains("busy"), "{}", err.message());
    drop(running);
    let report = call(&module, "rollup_checkBlock", json!(["0x2"]))
        .await
        .expect("a free permit again");
    assert_eq!(report["ok"], json!(true), "{report}");
}
