//! The `bridge` CLI against a real anvil L1 and an in-process L2 node following it:
//! `deploy`, `deposit-eth` (with its progress output), `status`, and the errors a user meets
//! (wrong network, insufficient balance, unknown token, a transaction without deposit); and a
//! withdrawal through `withdraw-eth`, `prove` and `finalize` with their errors (not yet
//! provable, window not elapsed, already finalized, wrong network); and a proof against the
//! newest output when the node keeping only recent states has dropped the first one's.

use std::{
    path::Path,
    process::{Command, Output},
    time::{Duration, Instant},
};

use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
};
use rollup_node::{
    follower::L1Config,
    node::{BatcherSettings, Node, NodeConfig, ProposerSettings, DEV_GENESIS},
    rpc::RpcConfig,
};
use test_support::{dev_private_key_hex, free_port, Anvil};

/// Starts an anvil L1: it (killed on drop) and its URL.
async fn anvil() -> (Anvil, String) {
    let anvil = Anvil::start().await;
    let url = anvil.url.clone();
    (anvil, url)
}

fn bridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_e2e-bridge"))
        .args(args)
        .env_remove("BRIDGE_L1_RPC")
        .env_remove("BRIDGE_L2_RPC")
        .env_remove("BRIDGE_DEPLOYMENT")
        .env_remove("BRIDGE_PRIVATE_KEY")
        .output()
        .expect("run bridge")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_deploys_deposits_reports_status_and_explains_errors() {
    let key0: &str = &dev_private_key_hex(0);
    let (_anvil, l1) = anvil().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deployment.json");
    let file_s = file.display().to_string();

    // deploy (devnet defaults: dev account #9).
    let out = bridge(&["deploy", "--l1-rpc", &l1, "--out", &file_s]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "deploy failed: {stderr}");
    let deployment = bridge::deploy::read_deployment(&file).expect("deployment file");
    assert!(stdout.contains("\"l1StandardBridge\""));
    assert_eq!(
        deployment.l1_standard_bridge,
        bridge::deploy::DEVNET_L1_STANDARD_BRIDGE
    );
    assert_eq!(deployment.force_inclusion_window, 30);
    assert_eq!(deployment.challenge_window, 60);

    // An in-process L2 node following the L1, two confirmations.
    let port = free_port();
    let node = Node::start(NodeConfig {
        datadir: dir.path().join("l2"),
        genesis: DEV_GENESIS.to_string(),
        block_time: Duration::from_millis(100),
        gas_limit: None,
        pool: Default::default(),
        rpc: RpcConfig {
            http: ([127, 0, 0, 1], port).into(),
            ws: None,
            ..Default::default()
        },
        l1: Some(L1Config {
            rpc: l1.clone(),
            deployment: deployment.clone(),
            confirmations: 2,
            poll_interval: Duration::from_millis(50),
        }),
        replica: false,
        debug_max_block: None,
        batcher: None,
        proposer: None,
        ignore_deposits: false,
        store: Default::default(),
    })
    .await
    .expect("start the L2 node");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(node.run(stopped));
    let l2 = format!("http://127.0.0.1:{port}");

    // Mine L1 blocks in the background so the deposit gets its confirmations.
    let miner = mine_l1(&l1);

    let to = "0x000000000000000000000000000000000000bEEF";
    let common = ["--l1-rpc", &l1, "--l2-rpc", &l2, "--deployment", &file_s];
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let mut args = vec!["deposit-eth"];
        args.extend(common);
        let owned: Vec<String> = args
            .into_iter()
            .chain(["--private-key", key0, "--to", to, "--amount", "1.5ether"])
            .map(String::from)
            .collect();
        move || {
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            bridge(&refs)
        }
    })
    .await
    .expect("join");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "deposit-eth failed: {stderr}");
    println!(
        "bridge deposit-eth, L1 send to L2 inclusion (2 confirmations, L1 block every 200 ms): {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    assert!(
        stderr.contains("waiting for the L2 to include it"),
        "{stderr}"
    );
    assert!(stderr.contains("waiting for L1 confirmations"), "{stderr}");
    assert!(stdout.contains("included:"), "{stdout}");
    let l1_tx = stdout
        .lines()
        .find_map(|l| l.strip_prefix("l1 transaction:"))
        .and_then(|l| l.split_whitespace().next())
        .expect("l1 tx hash printed")
        .to_string();
    let l2_provider = ProviderBuilder::new().connect_http(l2.parse().expect("url"));
    let beef: Address = to.parse().expect("address");
    assert_eq!(
        l2_provider.get_balance(beef).await.expect("balance"),
        U256::from(1_500_000_000_000_000_000u128)
    );

    // status
    let mut args = vec!["status"];
    args.extend(common);
    args.extend(["--deposit", &l1_tx]);
    let out = bridge(&args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "status failed: {stderr}");
    assert!(stdout.contains("message hash:"), "{stdout}");
    assert!(stdout.contains("included in L2 block"), "{stdout}");

    // Errors a user meets.
    let wrong = [
        "deposit-eth",
        "--l1-rpc",
        &l1,
        "--l2-rpc",
        &l1,
        "--deployment",
        &file_s,
        "--private-key",
        key0,
        "--to",
        to,
        "--amount",
        "1",
    ];
    let (_, stderr) = text(&bridge(&wrong));
    assert!(
        stderr.contains("L2 has chain id 31337, but the deployment expects 42069"),
        "{stderr}"
    );
    let poor_key = "0x0000000000000000000000000000000000000000000000000000000000000001";
    let mut args = vec!["deposit-eth"];
    args.extend(common);
    args.extend(["--private-key", poor_key, "--to", to, "--amount", "1ether"]);
    let out = bridge(&args);
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("insufficient ETH on L1"),
        "{:?}",
        text(&out)
    );
    let mut args = vec!["deposit-erc20"];
    args.extend(common);
    args.extend([
        "--private-key",
        key0,
        "--to",
        to,
        "--amount",
        "5",
        "--token",
        "0x000000000000000000000000000000000000dEaD",
    ]);
    let out = bridge(&args);
    assert!(!out.status.success());
    assert!(text(&out).1.contains("unknown token"), "{:?}", text(&out));
    // The deployment's first transaction queued no deposit.
    let deploy_tx = ProviderBuilder::new()
        .connect_http(l1.parse().expect("url"))
        .get_block_by_number(deployment.deploy_block.into())
        .await
        .expect("block")
        .expect("exists")
        .transactions
        .hashes()
        .next()
        .expect("a tx");
    let mut args = vec!["status"];
    args.extend(common);
    let hash = deploy_tx.to_string();
    args.extend(["--deposit", &hash]);
    let out = bridge(&args);
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("queued no deposit"),
        "{:?}",
        text(&out)
    );
    // --help teaches.
    let (help, _) = text(&bridge(&["deposit-eth", "--help"]));
    assert!(
        help.contains("--amount") && help.contains("1ether"),
        "{help}"
    );

    miner.abort();
    let _ = stop.send(true);
    running.await.expect("join").expect("node ran cleanly");
}

/// An in-process L2 node on `port` following `l1` with `deployment`, batching (and proposing
/// every 2 blocks if `propose`), keeping `state_history` states (None: archive).
async fn l2_node(
    datadir: &Path,
    port: u16,
    l1: &str,
    deployment: &bridge::Deployment,
    propose: bool,
    state_history: Option<u64>,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<(), rollup_node::NodeError>>,
) {
    let key = bridge::dev::signer;
    let node = Node::start(NodeConfig {
        datadir: datadir.to_path_buf(),
        genesis: DEV_GENESIS.to_string(),
        block_time: Duration::from_millis(100),
        gas_limit: None,
        pool: Default::default(),
        rpc: RpcConfig {
            http: ([127, 0, 0, 1], port).into(),
            ws: None,
            ..Default::default()
        },
        l1: Some(L1Config {
            rpc: l1.to_string(),
            deployment: deployment.clone(),
            confirmations: 1,
            poll_interval: Duration::from_millis(50),
        }),
        replica: false,
        debug_max_block: None,
        batcher: Some(BatcherSettings {
            key: key(1),
            max_bytes: 100_000,
            max_age: Duration::from_millis(300),
        }),
        proposer: propose.then(|| ProposerSettings {
            key: key(2),
            interval: 2,
        }),
        ignore_deposits: false,
        store: state_history.into(),
    })
    .await
    .expect("start the L2 node");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    (stop, tokio::spawn(node.run(stopped)))
}

/// Mines an L1 block every 200 ms until aborted, so deposits and batches get confirmations.
fn mine_l1(l1: &str) -> tokio::task::JoinHandle<()> {
    let p = ProviderBuilder::new().connect_http(l1.parse().expect("url"));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _: Result<serde_json::Value, _> =
                p.raw_request("anvil_mine".into(), (U256::from(1),)).await;
        }
    })
}

/// The word printed after the first `prefix` in `text` (a transaction hash, an index).
fn word_after(text: &str, prefix: &str) -> Option<String> {
    text.split(prefix)
        .nth(1)?
        .split_whitespace()
        .next()
        .map(String::from)
}

/// The CLI with the `--l1-rpc`, `--l2-rpc` and `--deployment` flags every command takes.
struct WithdrawalCli {
    common: Vec<String>,
}

impl WithdrawalCli {
    fn new(l1: &str, l2: &str, deployment: &str) -> Self {
        Self {
            common: ["--l1-rpc", l1, "--l2-rpc", l2, "--deployment", deployment]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Runs `bridge <cmd> <common flags> <extra>` off the async runtime.
    async fn run(&self, cmd: &str, extra: &[&str]) -> Output {
        let mut args = vec![cmd.to_string()];
        args.extend(self.common.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        bridge_async(args).await
    }
}

/// Runs the CLI off the async runtime.
async fn bridge_async(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        bridge(&refs)
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_withdraws_eth_through_prove_and_finalize_and_explains_errors() {
    let key0: &str = &dev_private_key_hex(0);
    let (_anvil, l1) = anvil().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deployment.json");
    let file_s = file.display().to_string();
    let out = bridge(&[
        "deploy",
        "--l1-rpc",
        &l1,
        "--out",
        &file_s,
        "--challenge-window",
        "4",
    ]);
    assert!(out.status.success(), "deploy: {:?}", text(&out));
    let deployment = bridge::deploy::read_deployment(&file).expect("deployment file");
    let miner = mine_l1(&l1);
    // First without a proposer: nothing can be proven yet.
    let port = free_port();
    let datadir = dir.path().join("l2");
    let (stop, running) = l2_node(&datadir, port, &l1, &deployment, false, None).await;
    let l2 = format!("http://127.0.0.1:{port}");
    let cli = WithdrawalCli::new(&l1, &l2, &file_s);
    let me = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    let target = "0x000000000000000000000000000000000000Cafe";
    let out = cli
        .run(
            "deposit-eth",
            &["--private-key", key0, "--to", me, "--amount", "2ether"],
        )
        .await;
    assert!(out.status.success(), "deposit: {:?}", text(&out));
    let started = Instant::now();
    let out = cli
        .run(
            "withdraw-eth",
            &["--private-key", key0, "--to", target, "--amount", "1ether"],
        )
        .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "withdraw-eth: {stderr}");
    assert!(stderr.contains("next: bridge prove"), "{stderr}");
    let l2_tx = word_after(&stdout, "l2 transaction:").expect("l2 tx printed");
    let out = cli
        .run("prove", &["--private-key", key0, "--withdrawal", &l2_tx])
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out)
            .1
            .contains("not yet provable: no output proposed"),
        "{:?}",
        text(&out)
    );
    // Wrong network.
    let mut args = vec!["prove".to_string()];
    args.extend(
        ["--l1-rpc", &l2, "--l2-rpc", &l2, "--deployment", &file_s]
            .map(String::from)
            .to_vec(),
    );
    args.extend(["--private-key", key0, "--withdrawal", &l2_tx].map(String::from));
    let (_, stderr) = text(&bridge_async(args).await);
    assert!(
        stderr.contains("L1 has chain id 42069, but the deployment expects 31337"),
        "{stderr}"
    );

    // Restart the node with a proposer: prove --wait reports progress and proves.
    stop.send(true).expect("stop");
    running.await.expect("join").expect("node ran");
    let (stop, running) = l2_node(&datadir, port, &l1, &deployment, true, None).await;
    let out = cli
        .run(
            "prove",
            &["--private-key", key0, "--withdrawal", &l2_tx, "--wait"],
        )
        .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "prove: {stderr}");
    assert!(stdout.contains("proven:"), "{stdout}");
    let out = cli
        .run("finalize", &["--private-key", key0, "--withdrawal", &l2_tx])
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("challenge window not elapsed"),
        "{:?}",
        text(&out)
    );
    let out = cli.run("status", &["--withdrawal", &l2_tx]).await;
    assert!(
        text(&out).0.contains("challenge window ends in"),
        "{:?}",
        text(&out)
    );
    let out = cli
        .run(
            "finalize",
            &["--private-key", key0, "--withdrawal", &l2_tx, "--wait"],
        )
        .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "finalize: {stderr}");
    assert!(stdout.contains("the call succeeded"), "{stdout}");
    println!(
        "bridge CLI withdrawal round trip (100 ms L2 blocks, 200 ms L1 blocks, 4 s window): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let l1p = ProviderBuilder::new().connect_http(l1.parse().expect("url"));
    assert_eq!(
        l1p.get_balance(target.parse::<Address>().expect("address"))
            .await
            .expect("balance"),
        U256::from(1_000_000_000_000_000_000u128)
    );
    let out = cli
        .run("finalize", &["--private-key", key0, "--withdrawal", &l2_tx])
        .await;
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("already finalized"),
        "{:?}",
        text(&out)
    );
    let out = cli.run("status", &["--withdrawal", &l2_tx]).await;
    assert!(
        text(&out).0.contains("status:          finalized"),
        "{:?}",
        text(&out)
    );
    let (help, _) = text(&bridge(&["prove", "--help"]));
    assert!(
        help.contains("--wait") && help.contains("eth_getProof"),
        "{help}"
    );

    miner.abort();
    stop.send(true).expect("stop");
    running.await.expect("join").expect("node ran");
}

/// A node keeping only 4 past states (`--state-history 4`, 100 ms blocks) drops the state of
/// the first output after a withdrawal within about a second; `bridge prove` then proves
/// against the newest output, which holds the withdrawal too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prove_uses_the_newest_output_when_the_node_dropped_the_first_ones_state() {
    let key0: &str = &dev_private_key_hex(0);
    let (_anvil, l1) = anvil().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("deployment.json");
    let file_s = file.display().to_string();
    let out = bridge(&["deploy", "--l1-rpc", &l1, "--out", &file_s]);
    assert!(out.status.success(), "deploy: {:?}", text(&out));
    let deployment = bridge::deploy::read_deployment(&file).expect("deployment file");
    let miner = mine_l1(&l1);
    let port = free_port();
    let (stop, running) = l2_node(
        &dir.path().join("l2"),
        port,
        &l1,
        &deployment,
        true,
        Some(4),
    )
    .await;
    let l2 = format!("http://127.0.0.1:{port}");
    let cli = WithdrawalCli::new(&l1, &l2, &file_s);
    let me = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    let out = cli
        .run(
            "deposit-eth",
            &["--private-key", key0, "--to", me, "--amount", "2ether"],
        )
        .await;
    assert!(out.status.success(), "deposit: {:?}", text(&out));
    let out = cli
        .run(
            "withdraw-eth",
            &[
                "--private-key",
                key0,
                "--to",
                "0x000000000000000000000000000000000000Cafe",
                "--amount",
                "1ether",
            ],
        )
        .await;
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "withdraw-eth: {stderr}");
    let l2_tx = word_after(&stdout, "l2 transaction:").expect("l2 tx printed");

    // Wait for the first output after the withdrawal; its L2 block is at most the head then.
    let l2p = ProviderBuilder::new().connect_http(l2.parse().expect("url"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let (first, head) = loop {
        assert!(Instant::now() < deadline, "no output was proposed");
        let head = l2p.get_block_number().await.expect("L2 head");
        let (status, _) = text(&cli.run("status", &["--withdrawal", &l2_tx]).await);
        if let Some(index) = word_after(&status, "provable against output ") {
            break (index.parse::<u64>().expect("output index"), head);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Wait until the node no longer serves that block's state (nor, then, any earlier one).
    loop {
        assert!(
            Instant::now() < deadline,
            "block {head}'s state was never dropped"
        );
        match l2p
            .get_balance(me.parse().expect("address"))
            .block_id(head.into())
            .await
        {
            Err(e) if e.to_string().contains("pruned") => break,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }

    // With 4 states kept at 100 ms blocks, the newest output too may be older than the node's
    // states by the time `prove` asks for its proof (outputs wait for their batch on L1): then
    // `prove` says so, and a later try meets a newer output.
    let mut tries = 0;
    let (stdout, stderr) = loop {
        let out = cli
            .run("prove", &["--private-key", key0, "--withdrawal", &l2_tx])
            .await;
        let (stdout, stderr) = text(&out);
        if out.status.success() {
            break (stdout, stderr);
        }
        tries += 1;
        assert!(
            stderr.contains("is pruned") && tries < 20,
            "prove: {stderr}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!stdout.is_empty(), "prove: {stderr}");
    let used: u64 = word_after(&stdout, "against output ")
        .and_then(|index| index.parse().ok())
        .unwrap_or_else(|| panic!("no output index in {stdout}"));
    assert!(
        used > first,
        "proved against output {used}, not a newer one than {first}"
    );
    let (status, _) = text(&cli.run("status", &["--withdrawal", &l2_tx]).await);
    assert!(
        status.contains(&format!("proven against output {used}")),
        "{status}"
    );

    miner.abort();
    stop.send(true).expect("stop");
    running.await.expect("join").expect("node ran");
}
