//! Deposits end to end on a real anvil L1: the L1 contracts deployed by `bridge::deploy`, the
//! node as a process following that L1 (`--l1.rpc`, `--deployment`), deposits sent with the
//! `bridge` client library.
//!
//! - an ETH deposit reaches L2 with the right balances; its transaction and receipt are served
//!   as type 0x7E (also read by `cast`); the block opens with the L1-info deposit;
//! - a contract's deposit arrives from its aliased address;
//! - an ERC20 deposit deploys the L2 twin at `l2TokenFor(l1Token)` with the token's metadata,
//!   mints, and emits `DepositFinalized`;
//! - deposits are included exactly once, in Inbox order, across a kill -9 and restart;
//! - a deposit in L1 blocks that are reorged out before they are confirmed never reaches L2.
//!
//! Deposit-to-L2 latency is printed (run with `--nocapture` to see it).

mod support;

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, Bytes, B256, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol,
};
use alloy_sol_types::{SolEvent, SolValue};
use bridge::{
    client::{Bridge, SentDeposit},
    deploy::{self, DeployConfig, DEVNET_DEPLOYER_INDEX},
    Deployment,
};
use fraud_vm::message::{apply_alias, L1_INFO, SYSTEM_DEPOSITOR};
use serde_json::{json, Value};
use support::{
    artifact, free_port,
    l1::{deploy_devnet, L1},
    npm_bin, wallet, ChainOpts, Target, TestChain,
};

sol! {
    #[sol(rpc)]
    interface IToken {
        function name() external view returns (string);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function balanceOf(address) external view returns (uint256);
    }

    #[sol(rpc)]
    interface IL1Info {
        function number() external view returns (uint64);
        function hash() external view returns (bytes32);
    }

    #[sol(rpc)]
    interface IPortalCaller {
        function deposit(address portal, address to, uint256 value, uint64 gasLimit, bytes data) external payable;
    }

    event DepositFinalized(
        address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount
    );
}

const ONE_ETH: u128 = 1_000_000_000_000_000_000;

/// L1 + deployment + node following it.
struct Rollup {
    l1: L1,
    deployment: Deployment,
    l2: TestChain,
    // Keeps the deployment file alive.
    _dir: tempfile::TempDir,
}

/// Starts the node following the L1 at `l1_url` (which need not be up yet) with `deployment`.
async fn start_node(
    l1_url: &str,
    deployment: &Deployment,
    confirmations: u64,
) -> (TestChain, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file: PathBuf = dir.path().join("deployment.json");
    deploy::write_deployment(&file, deployment).expect("write deployment");
    let l2 = TestChain::start_target(
        Target::Node,
        ChainOpts {
            block_time: Some("100ms".into()),
            extra_args: vec![
                "--l1.rpc".into(),
                l1_url.to_string(),
                "--deployment".into(),
                file.display().to_string(),
                "--l1.confirmations".into(),
                confirmations.to_string(),
                "--l1.poll-interval".into(),
                "50ms".into(),
            ],
            anvil_automine: false,
        },
    )
    .await;
    (l2, dir)
}

impl Rollup {
    async fn start(confirmations: u64) -> Self {
        let l1 = L1::start().await;
        let deployment = deploy_devnet(&l1).await;
        let (l2, dir) = start_node(&l1.url, &deployment, confirmations).await;
        Self {
            l1,
            deployment,
            l2,
            _dir: dir,
        }
    }

    /// A bridge client signing L1 transactions with dev account `i`.
    async fn bridge(&self, i: u32) -> Bridge {
        Bridge::connect(
            self.deployment.clone(),
            &self.l1.url,
            &self.l2.http_url(),
            Some(wallet(i)),
        )
        .await
        .expect("connect the bridge")
    }

    async fn l2_rpc(&self, method: &str, params: Value) -> Value {
        let provider = self.l2.provider();
        let out: Value = provider
            .raw_request(method.to_string().into(), params)
            .await
            .unwrap_or_else(|e| self.l2.fail(&format!("{method}: {e}")));
        out
    }

    /// Waits until the L2 includes `deposit`; returns the receipt JSON.
    async fn wait_l2(&self, deposit: &SentDeposit, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let r = self
                .l2_rpc("eth_getTransactionReceipt", json!([deposit.l2_tx_hash()]))
                .await;
            if !r.is_null() {
                return r;
            }
            if Instant::now() > deadline {
                self.l2.fail(&format!(
                    "deposit {} (L1 block {}) not on L2 within {within:?}",
                    deposit.message.index, deposit.l1_block
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn hex_u64(v: &Value) -> u64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a quantity: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex quantity")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_deposit_and_contract_deposit_reach_l2_as_deposit_transactions() {
    let rollup = Rollup::start(1).await;
    let bridge = rollup.bridge(3).await;
    let l2 = rollup.l2.provider();
    let recipient = Address::repeat_byte(0xe1);
    let amount = U256::from(3 * ONE_ETH / 2);

    let started = Instant::now();
    let sent = bridge
        .deposit_eth(recipient, amount, 100_000)
        .await
        .expect("deposit");
    let sent_at = Instant::now();
    // Not confirmed yet (1 confirmation needed): not on L2.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        bridge.l2_inclusion(&sent).await.expect("status").is_none(),
        "a deposit must wait for its confirmations"
    );
    rollup.l1.mine(1).await;
    let confirmed_at = Instant::now();
    let receipt = rollup.wait_l2(&sent, Duration::from_secs(10)).await;
    let latency = confirmed_at.elapsed();
    println!(
        "deposit-to-L2 latency: {:.0} ms from the confirming L1 block to the L2 receipt \
         (L2 block time 100 ms, L1 poll 50 ms); L1 send took {:.0} ms",
        latency.as_secs_f64() * 1e3,
        (sent_at - started).as_secs_f64() * 1e3
    );
    assert!(latency < Duration::from_secs(3), "latency {latency:?}");

    // Balances: the recipient got the value; the depositor (an EOA: not aliased) got
    // mint - value = 0 and paid no L2 fee.
    assert_eq!(l2.get_balance(recipient).await.expect("balance"), amount);
    let depositor = wallet(3).address();
    assert_eq!(sent.message.from, depositor);

    // Receipt in the OP shape.
    assert_eq!(receipt["type"], "0x7e");
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(receipt["depositReceiptVersion"], "0x1");
    assert_eq!(receipt["effectiveGasPrice"], "0x0");
    assert_eq!(receipt["from"], json!(depositor));
    assert_eq!(receipt["to"], json!(recipient));
    let dev3_l2_nonce_before = hex_u64(&receipt["depositNonce"]);

    // Transaction in the OP shape.
    let tx = rollup
        .l2_rpc("eth_getTransactionByHash", json!([sent.l2_tx_hash()]))
        .await;
    assert_eq!(tx["type"], "0x7e");
    assert_eq!(tx["sourceHash"], json!(sent.message.hash()));
    assert_eq!(tx["from"], json!(depositor));
    assert_eq!(hex_u64(&tx["mint"]), (3 * ONE_ETH / 2) as u64);
    assert_eq!(tx["gasPrice"], "0x0");
    assert_eq!(hex_u64(&tx["nonce"]), dev3_l2_nonce_before);
    assert_eq!(tx["hash"], json!(sent.l2_tx_hash()));

    // The block opens with the L1-info deposit of an origin that covers the deposit.
    let number = receipt["blockNumber"].clone();
    let block = rollup
        .l2_rpc("eth_getBlockByNumber", json!([number, true]))
        .await;
    let txs = block["transactions"].as_array().expect("full txs");
    assert_eq!(txs[0]["type"], "0x7e");
    assert_eq!(txs[0]["from"], json!(SYSTEM_DEPOSITOR));
    assert_eq!(txs[0]["to"], json!(L1_INFO));
    assert!(txs.iter().any(|t| t["hash"] == json!(sent.l2_tx_hash())));
    let l1_info = IL1Info::new(L1_INFO, &l2);
    let origin = l1_info.number().call().await.expect("L1Info.number");
    assert!(
        origin >= sent.l1_block,
        "origin {origin} < {}",
        sent.l1_block
    );
    let origin_block = rollup
        .l1
        .provider
        .get_block_by_number(origin.into())
        .await
        .expect("L1 block")
        .expect("exists");
    assert_eq!(
        l1_info.hash().call().await.expect("L1Info.hash"),
        origin_block.header.hash
    );

    // cast reads the deposit and its receipt.
    let cast = Command::new(npm_bin("cast"))
        .args(["receipt", "--json", "--rpc-url", &rollup.l2.http_url()])
        .arg(sent.l2_tx_hash().to_string())
        .output()
        .expect("run cast");
    let text = String::from_utf8_lossy(&cast.stdout);
    assert!(cast.status.success(), "cast receipt failed: {cast:?}");
    let parsed: Value = serde_json::from_str(&text).expect("cast json");
    assert_eq!(parsed["type"], "0x7e");
    let cast = Command::new(npm_bin("cast"))
        .args(["tx", "--json", "--rpc-url", &rollup.l2.http_url()])
        .arg(sent.l2_tx_hash().to_string())
        .output()
        .expect("run cast");
    assert!(cast.status.success(), "cast tx failed: {cast:?}");

    // A contract's deposit arrives from its alias.
    let l1 = ProviderBuilder::new()
        .wallet(wallet(4))
        .connect_http(rollup.l1.url.parse().expect("url"))
        .erased();
    let (_, code) = artifact("contracts/out/PortalCaller.json");
    let caller = l1
        .send_transaction(TransactionRequest::default().with_deploy_code(code))
        .await
        .expect("deploy PortalCaller")
        .get_receipt()
        .await
        .expect("receipt")
        .contract_address
        .expect("created");
    let recipient2 = Address::repeat_byte(0xe2);
    let receipt = IPortalCaller::new(caller, &l1)
        .deposit(
            rollup.deployment.portal,
            recipient2,
            U256::from(ONE_ETH / 4),
            100_000,
            Bytes::new(),
        )
        .value(U256::from(ONE_ETH))
        .send()
        .await
        .expect("contract deposit")
        .get_receipt()
        .await
        .expect("receipt");
    let sent = bridge
        .deposits_of(receipt.transaction_hash)
        .await
        .expect("deposit of the contract call")
        .remove(0);
    let alias = apply_alias(caller);
    assert_eq!(sent.message.from, alias);
    rollup.l1.mine(1).await;
    let receipt = rollup.wait_l2(&sent, Duration::from_secs(10)).await;
    assert_eq!(receipt["from"], json!(alias));
    assert_eq!(receipt["status"], "0x1");
    assert_eq!(
        l2.get_balance(recipient2).await.expect("balance"),
        U256::from(ONE_ETH / 4)
    );
    assert_eq!(
        l2.get_balance(alias).await.expect("balance"),
        U256::from(3 * ONE_ETH / 4),
        "the alias keeps mint - value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erc20_deposit_deploys_the_l2_twin_and_mints() {
    let rollup = Rollup::start(0).await;
    let owner = wallet(5);
    let l1 = ProviderBuilder::new()
        .wallet(owner.clone())
        .connect_http(rollup.l1.url.parse().expect("url"))
        .erased();
    let (_, code) = artifact("contracts/out/TestToken.json");
    let mut init = code.to_vec();
    init.extend(("Bridged Gold", "BGLD", U256::from(1_000_000u64)).abi_encode_params());
    let token = l1
        .send_transaction(TransactionRequest::default().with_deploy_code(init))
        .await
        .expect("deploy token")
        .get_receipt()
        .await
        .expect("receipt")
        .contract_address
        .expect("created");
    let bridge = rollup.bridge(5).await;
    let to = Address::repeat_byte(0xe3);
    let started = Instant::now();
    let sent = bridge
        .deposit_erc20(token, to, U256::from(1234u64), 0)
        .await
        .expect("ERC20 deposit");
    let receipt = rollup.wait_l2(&sent, Duration::from_secs(10)).await;
    println!(
        "ERC20 deposit (approve + depositERC20) to L2 receipt: {:.0} ms with 0 confirmations",
        started.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(
        receipt["status"], "0x1",
        "finalizeDeposit failed: {receipt}"
    );
    assert_eq!(
        receipt["from"],
        json!(apply_alias(rollup.deployment.l1_standard_bridge))
    );
    let l2 = rollup.l2.provider();
    let l2_token = bridge.l2_token_for(token).await.expect("l2TokenFor");
    assert!(!l2.get_code_at(l2_token).await.expect("code").is_empty());
    let twin = IToken::new(l2_token, &l2);
    assert_eq!(twin.name().call().await.expect("name"), "Bridged Gold");
    assert_eq!(twin.symbol().call().await.expect("symbol"), "BGLD");
    assert_eq!(twin.decimals().call().await.expect("decimals"), 18);
    assert_eq!(
        twin.balanceOf(to).call().await.expect("balance"),
        U256::from(1234u64)
    );
    // DepositFinalized(l1Token, l2Token, from, to, amount) from the L2 bridge.
    let logs = receipt["logs"].as_array().expect("logs");
    let finalized = logs
        .iter()
        .find(|l| l["topics"][0] == json!(DepositFinalized::SIGNATURE_HASH))
        .expect("DepositFinalized emitted");
    let topic = |i: usize| -> B256 {
        serde_json::from_value(finalized["topics"][i].clone()).expect("topic")
    };
    assert_eq!(Address::from_word(topic(1)), token);
    assert_eq!(Address::from_word(topic(2)), l2_token);
    assert_eq!(Address::from_word(topic(3)), owner.address());
    // A second deposit of the same token reuses the twin.
    let sent = bridge
        .deposit_erc20(token, to, U256::from(66u64), 0)
        .await
        .expect("second deposit");
    rollup.wait_l2(&sent, Duration::from_secs(10)).await;
    assert_eq!(
        twin.balanceOf(to).call().await.expect("balance"),
        U256::from(1300u64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deposits_are_included_exactly_once_across_kill9_and_restart() {
    let mut rollup = Rollup::start(0).await;
    let bridge = rollup.bridge(6).await;
    let to = Address::repeat_byte(0xe4);
    let mut sent = Vec::new();
    for i in 0..4u64 {
        sent.push(
            bridge
                .deposit_eth(to, U256::from(1000 + i), 100_000)
                .await
                .expect("deposit"),
        );
    }
    rollup.wait_l2(&sent[0], Duration::from_secs(10)).await;
    // Kill the node while deposits may still be in flight, queue more while it is down.
    rollup.l2.kill9();
    for i in 4..8u64 {
        sent.push(
            bridge
                .deposit_eth(to, U256::from(1000 + i), 100_000)
                .await
                .expect("deposit while the L2 is down"),
        );
    }
    rollup.l2.respawn().await;
    for i in 8..10u64 {
        sent.push(
            bridge
                .deposit_eth(to, U256::from(1000 + i), 100_000)
                .await
                .expect("deposit after restart"),
        );
    }
    for s in &sent {
        rollup.wait_l2(s, Duration::from_secs(15)).await;
    }
    // And once more after a graceful restart.
    rollup.l2.restart().await;
    let last = bridge
        .deposit_eth(to, U256::from(2000u64), 100_000)
        .await
        .expect("deposit");
    rollup.wait_l2(&last, Duration::from_secs(10)).await;
    sent.push(last);

    // Every deposit's L2 transaction appears exactly once, in Inbox index order.
    let head = rollup.l2.provider().get_block_number().await.expect("head");
    let wanted: HashMap<B256, u64> = sent
        .iter()
        .map(|s| (s.l2_tx_hash(), s.message.index))
        .collect();
    let mut seen = Vec::new();
    for n in 0..=head {
        let block = rollup
            .l2_rpc("eth_getBlockByNumber", json!([format!("0x{n:x}"), false]))
            .await;
        for h in block["transactions"].as_array().expect("hashes") {
            let h: B256 = serde_json::from_value(h.clone()).expect("hash");
            if let Some(index) = wanted.get(&h) {
                seen.push(*index);
            }
        }
    }
    let expected: Vec<u64> = (0..sent.len() as u64).collect();
    assert_eq!(seen, expected, "each deposit once, in index order");
    let total: u64 = (0..10u64).map(|i| 1000 + i).sum::<u64>() + 2000;
    assert_eq!(
        rollup.l2.provider().get_balance(to).await.expect("balance"),
        U256::from(total)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorged_out_unconfirmed_deposit_never_reaches_l2() {
    let confirmations = 2;
    let rollup = Rollup::start(confirmations).await;
    let bridge = rollup.bridge(7).await;
    // Let the L2 take an origin first.
    rollup.l1.mine(confirmations).await;
    let snapshot: U256 = rollup
        .l1
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("evm_snapshot");
    let before = rollup.l1.head().await;
    let doomed_to = Address::repeat_byte(0xe5);
    let doomed = bridge
        .deposit_eth(doomed_to, U256::from(777u64), 100_000)
        .await
        .expect("deposit");
    // One block on top: still below the confirmation depth.
    rollup.l1.mine(confirmations - 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(bridge
        .l2_inclusion(&doomed)
        .await
        .expect("status")
        .is_none());
    // Reorg: the deposit's blocks disappear; the L1 continues on another branch.
    let reverted: bool = rollup
        .l1
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("evm_revert");
    assert!(reverted);
    assert_eq!(rollup.l1.head().await, before);
    // A fresh client: the old one caches the (now reverted) L1 nonce.
    let bridge = rollup.bridge(7).await;
    let kept_to = Address::repeat_byte(0xe6);
    let kept = bridge
        .deposit_eth(kept_to, U256::from(888u64), 100_000)
        .await
        .expect("deposit on the new branch");
    assert_eq!(
        kept.message.index, doomed.message.index,
        "the new branch reuses the Inbox index"
    );
    assert_ne!(kept.l2_tx_hash(), doomed.l2_tx_hash());
    rollup.l1.mine(confirmations + 1).await;
    rollup.wait_l2(&kept, Duration::from_secs(10)).await;
    let l2 = rollup.l2.provider();
    assert_eq!(
        l2.get_balance(kept_to).await.expect("balance"),
        U256::from(888u64)
    );
    assert_eq!(
        l2.get_balance(doomed_to).await.expect("balance"),
        U256::ZERO
    );
    assert!(bridge
        .l2_inclusion(&doomed)
        .await
        .expect("status")
        .is_none());
    // The origin is on the new branch.
    let origin = IL1Info::new(L1_INFO, &l2);
    let number = origin.number().call().await.expect("number");
    let l1_block = rollup
        .l1
        .provider
        .get_block_by_number(number.into())
        .await
        .expect("block")
        .expect("exists");
    assert_eq!(
        origin.hash().call().await.expect("hash"),
        l1_block.header.hash
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_keeps_sealing_while_l1_is_down_and_derives_once_it_is_up() {
    // The devnet deployment is deterministic: know it before the L1 exists.
    let deployer = wallet(DEVNET_DEPLOYER_INDEX).address();
    let config = DeployConfig::devnet().expect("devnet");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let expected = Deployment {
        l1_chain_id: 31337,
        l2_chain_id: config.l2_chain_id,
        deploy_block: 1,
        deployer,
        inbox: deployer.create(1),
        portal: deployer.create(2),
        output_registry: deployer.create(0),
        l1_standard_bridge: deployer.create(3),
        batcher: config.batcher,
        proposer: config.proposer,
        resolver: config.resolver,
        force_inclusion_window: config.force_inclusion_window,
        challenge_window: config.challenge_window,
        proposal_bond: config.proposal_bond,
    };
    let (l2, _dir) = start_node(&url, &expected, 0).await;
    let provider = l2.provider();
    let first = provider.get_block_number().await.expect("head");
    tokio::time::sleep(Duration::from_millis(800)).await;
    let later = provider.get_block_number().await.expect("head");
    assert!(
        later >= first + 3,
        "blocks stalled while L1 is down: {first} -> {later}"
    );
    // No origin yet: no L1-info deposit in the blocks.
    let block: Value = provider
        .raw_request(
            "eth_getBlockByNumber".into(),
            (format!("0x{later:x}"), false),
        )
        .await
        .expect("block");
    assert!(block["transactions"].as_array().expect("txs").is_empty());

    // The L1 comes up; the node notices without a restart.
    let l1 = L1::start_on(port).await;
    let deployment = deploy_devnet(&l1).await;
    assert_eq!(deployment, expected);
    let bridge = Bridge::connect(deployment, &url, &l2.http_url(), Some(wallet(8)))
        .await
        .expect("connect");
    let sent = bridge
        .deposit_eth(Address::repeat_byte(0xe7), U256::from(5u64), 100_000)
        .await
        .expect("deposit");
    let started = Instant::now();
    loop {
        if bridge.l2_inclusion(&sent).await.expect("status").is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "deposit not derived after the L1 came up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        l2.log_tail(400).contains("cannot follow L1"),
        "the outage is logged as a warning"
    );
}

/// An L1 reorg deeper than the confirmation depth replaces the L1 block holding a deposit the
/// L2 already executed: the node rolls its blocks back to the newest one whose L1 inputs are
/// still on L1, derives again (the new branch's deposit is included, the replaced one is gone)
/// and includes again the user transaction of a rolled-back block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_deeper_than_confirmations_rolls_the_l2_back_and_derives_again() {
    let rollup = Rollup::start(1).await;
    let bridge = rollup.bridge(9).await;
    let snapshot: U256 = rollup
        .l1
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("evm_snapshot");
    let (gone, kept) = (Address::repeat_byte(0xe8), Address::repeat_byte(0xe9));
    let first = bridge
        .deposit_eth(gone, U256::from(1u64), 100_000)
        .await
        .expect("deposit");
    rollup.l1.mine(1).await;
    let first_block =
        hex_u64(&rollup.wait_l2(&first, Duration::from_secs(10)).await["blockNumber"]);
    // A user transfer in a later block: its block has the replaced origin too.
    let recipient = Address::repeat_byte(0xea);
    let l2 = ProviderBuilder::new()
        .wallet(wallet(6))
        .connect_http(rollup.l2.http_url().parse().expect("url"));
    let transfer = l2
        .send_transaction(
            TransactionRequest::default()
                .with_to(recipient)
                .with_value(U256::from(7u64)),
        )
        .await
        .expect("send the transfer")
        .get_receipt()
        .await
        .expect("transfer receipt");
    assert!(transfer.block_number.expect("mined") > first_block);
    let balance = |who: Address| {
        let l2 = rollup.l2.provider();
        async move { l2.get_balance(who).await.expect("balance") }
    };
    assert_eq!(balance(gone).await, U256::from(1u64));

    // Replace the confirmed block holding the (already derived) deposit.
    let _: bool = rollup
        .l1
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("evm_revert");
    let bridge = rollup.bridge(9).await;
    let other = bridge
        .deposit_eth(kept, U256::from(2u64), 100_000)
        .await
        .expect("deposit on the new branch");
    rollup.l1.mine(3).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while bridge.l2_inclusion(&other).await.expect("status").is_none() {
        assert!(
            Instant::now() < deadline,
            "the new branch's deposit is not derived:\n{}",
            rollup.l2.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = rollup.l2.log_tail(400);
    assert!(
        log.contains("L1 reorg deeper than --l1.confirmations"),
        "{log}"
    );
    assert!(log.contains("rolled the L2 back"), "{log}");
    for line in log.lines().filter(|l| l.contains("rolled the L2 back")) {
        eprintln!("{line}");
    }
    // The replaced deposit is gone, the new one is in, and the transfer is included again.
    assert!(bridge.l2_inclusion(&first).await.expect("status").is_none());
    assert_eq!(balance(gone).await, U256::ZERO);
    assert_eq!(balance(kept).await, U256::from(2u64));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let receipt = rollup
            .l2
            .provider()
            .get_transaction_receipt(transfer.transaction_hash)
            .await
            .expect("receipt query");
        if receipt.is_some() && balance(recipient).await == U256::from(7u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rolled-back transfer is not included again:\n{}",
            rollup.l2.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Blocks go on, with every block's origin on the new branch.
    let head = rollup.l2.provider().get_block_number().await.expect("head");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(rollup.l2.provider().get_block_number().await.expect("head") > head);
}
