//! Batches on a real anvil L1: the sequencer's batcher posts every L2 block to the Inbox
//! exactly once (also across a kill -9 of the sequencer), and a `--replica` node rebuilds the
//! same chain (block hashes and state roots) from L1 alone, also when it was killed in the middle
//! of a batch (`--debug.max-block`) and restarted; forced inclusion of a deposit the
//! sequencer ignores; invalid batches on L1 are skipped by the replica and passed over by the
//! batcher. The replica knows the claim on every block it derived (`rollup_claim`), and each
//! block's step-machine trace ends in it.
//!
//! Batch bytes and L1 gas per transfer are printed (run with `--nocapture`).

mod support;

use std::time::{Duration, Instant};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider},
    rpc::types::{Filter, TransactionRequest},
};
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use bridge::{client::Bridge, deploy::DeployConfig, Deployment};
use fraud_vm::{
    batch::{
        appendSequencerBatchCall, forceInclusionCall, Batch, BatchAppended, BatchBlock,
        BatchOrigin, Cursor, MAX_BLOCK_GAS_LIMIT, MAX_TIMESTAMP_LEAD_SECS,
    },
    vm::{
        machine::{end_hash, window_root},
        Claim,
    },
};
use serde_json::{json, Value};
use support::{
    artifact,
    l1::{deploy_with, l1_flags, L1},
    wallet, ChainOpts, Target, TestChain,
};

const ONE_ETH: u128 = 1_000_000_000_000_000_000;

/// One `BatchAppended` as found on L1.
struct OnL1 {
    batch: Option<Batch>,
    forced: bool,
    after: u64,
    gas_used: u64,
}

/// Every batch in the Inbox, in order, with its decoded calldata.
async fn inbox_batches(l1: &L1, deployment: &Deployment) -> Vec<OnL1> {
    let filter = Filter::new()
        .address(deployment.inbox)
        .event_signature(BatchAppended::SIGNATURE_HASH)
        .from_block(deployment.deploy_block);
    let logs = l1.provider.get_logs(&filter).await.expect("logs");
    let mut out = Vec::new();
    for log in logs {
        let event = BatchAppended::decode_log_data(log.data()).expect("event");
        let hash = log.transaction_hash.expect("tx hash");
        let receipt = l1
            .provider
            .get_transaction_receipt(hash)
            .await
            .expect("receipt")
            .expect("mined");
        let batch = if event.forced {
            None
        } else {
            let tx = l1
                .provider
                .get_transaction_by_hash(hash)
                .await
                .expect("tx")
                .expect("exists");
            let input = alloy::consensus::Transaction::input(&tx);
            let call = appendSequencerBatchCall::abi_decode(input).expect("calldata");
            // None for committed data that is not a batch (only a test posts such).
            Batch::decode(&call.data).ok()
        };
        out.push(OnL1 {
            batch,
            forced: event.forced,
            after: event.afterDelayedMessagesRead.to::<u64>(),
            gas_used: receipt.gas_used,
        });
    }
    out
}

/// Asserts the Inbox holds blocks `1..=n` exactly once, in order, for some n; returns n.
fn assert_contiguous(batches: &[OnL1]) -> u64 {
    let mut next = 1;
    for b in batches.iter().filter_map(|b| b.batch.as_ref()) {
        assert_eq!(
            b.first_block, next,
            "a batch starts at {} but {next} was expected (block skipped or posted twice)",
            b.first_block
        );
        next = b.last_block() + 1;
    }
    next - 1
}

async fn block(l2: &DynProvider, n: u64) -> Value {
    l2.raw_request("eth_getBlockByNumber".into(), (format!("{n:#x}"), false))
        .await
        .expect("block")
}

/// Waits until `chain`'s head is at least `n`.
async fn wait_head(chain: &TestChain, n: u64, within: Duration) {
    let deadline = Instant::now() + within;
    let p = chain.provider();
    loop {
        if p.get_block_number().await.unwrap_or(0) >= n {
            return;
        }
        if Instant::now() > deadline {
            chain.fail(&format!("head did not reach {n} within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the Inbox covers block `n`; returns the batches.
async fn wait_batched(l1: &L1, d: &Deployment, n: u64, seq: &TestChain) -> Vec<OnL1> {
    wait_batched_after(l1, d, n, seq, 0).await
}

/// Asserts `replica` has the same blocks `0..=n` (hash and state root) as `seq`.
async fn assert_same_chain(seq: &TestChain, replica: &TestChain, n: u64) {
    wait_head(replica, n, Duration::from_secs(30)).await;
    let (a, b) = (seq.provider(), replica.provider());
    for i in 0..=n {
        let (x, y) = (block(&a, i).await, block(&b, i).await);
        assert_eq!(x["hash"], y["hash"], "block {i} hash differs");
        assert_eq!(
            x["stateRoot"], y["stateRoot"],
            "block {i} state root differs"
        );
        assert_eq!(x["transactions"], y["transactions"], "block {i} txs differ");
    }
}

/// The replica's claim on each block `1..=n` (`rollup_claim`) is the block's hash and state
/// root, the window of the hashes up to it, and the cursor after it: the Inbox batch holding it
/// and the next record's offset (the next batch at 0 after a batch's last block), the delayed
/// messages read, the newest origin; its hash is recomputed here from those parts. On `checked`
/// blocks `rollup_checkBlock` shows the block's trace ends in that claim. The sequencer knows the
/// same claims from the batches its batcher posted, and both agree on genesis's, the anchor.
async fn assert_claims(seq: &TestChain, replica: &TestChain, batches: &[OnL1], checked: &[u64]) {
    let mut expected = std::collections::BTreeMap::new();
    for (index, b) in batches.iter().enumerate() {
        if let Some(batch) = &b.batch {
            for i in 0..batch.blocks.len() {
                let after = Cursor::after(index as u64, batch.next_position(i), 0, None);
                expected.insert(batch.first_block + i as u64, after);
            }
        }
    }
    let n = *expected.keys().last().expect("batched blocks");
    let anchor = |chain: &TestChain| {
        let p = chain.provider();
        async move {
            p.raw_request::<_, Value>("rollup_claim".into(), json!(["0x0"]))
                .await
                .expect("rollup_claim")
        }
    };
    let genesis = anchor(replica).await;
    assert_eq!(genesis, anchor(seq).await, "both nodes anchor at one claim");
    let p = replica.provider();
    let genesis_hash: B256 = block(&p, 0).await["hash"]
        .as_str()
        .expect("hash")
        .parse()
        .expect("hash");
    assert_eq!(genesis["cursorHash"], json!(Cursor::GENESIS.hash()));
    assert_eq!(
        genesis["blockHashesRoot"],
        json!(window_root([(0, genesis_hash)])),
        "the genesis window holds genesis"
    );
    let mut hashes = vec![(
        0,
        block(&p, 0).await["hash"]
            .as_str()
            .expect("hash")
            .parse()
            .expect("hash"),
    )];
    let mut delayed = 0;
    for k in 1..=n {
        let b = block(&p, k).await;
        let hash: B256 = b["hash"].as_str().expect("hash").parse().expect("hash");
        hashes.push((k, hash));
        let claim: Value = p
            .raw_request("rollup_claim".into(), json!([format!("{k:#x}")]))
            .await
            .expect("rollup_claim");
        let word = |v: &Value| -> B256 { v.as_str().expect("word").parse().expect("word") };
        let qty = |v: &Value| -> u64 {
            u64::from_str_radix(v.as_str().expect("quantity").trim_start_matches("0x"), 16)
                .expect("quantity")
        };
        assert_eq!(word(&claim["blockHash"]), hash, "block {k}");
        assert_eq!(claim["stateRoot"], b["stateRoot"], "block {k}");
        let c = &claim["cursor"];
        let want = &expected[&k];
        assert_eq!(
            (qty(&c["batchIndex"]), qty(&c["position"])),
            (want.batchIndex, want.position),
            "block {k}'s cursor"
        );
        let read = qty(&c["delayedRead"]);
        assert!(
            read >= delayed,
            "block {k}: delayed messages read went back"
        );
        delayed = read;
        let origin = &c["origin"];
        let cursor = Cursor {
            delayedRead: read,
            hasOrigin: !origin.is_null(),
            originNumber: if origin.is_null() { 0 } else { qty(&origin[0]) },
            originHash: if origin.is_null() {
                B256::ZERO
            } else {
                word(&origin[1])
            },
            ..want.clone()
        };
        assert_eq!(word(&claim["cursorHash"]), cursor.hash(), "block {k}");
        let window = window_root(hashes[hashes.len().saturating_sub(256)..].iter().copied());
        assert_eq!(
            word(&claim["blockHashesRoot"]),
            window,
            "block {k}'s window"
        );
        let parts = Claim {
            block_hash: hash,
            state_root: word(&b["stateRoot"]),
            block_hashes_root: window,
            cursor: cursor.hash(),
        };
        assert_eq!(word(&claim["claim"]), end_hash(&parts), "block {k}'s claim");
        if checked.contains(&k) {
            let report: Value = p
                .raw_request("rollup_checkBlock".into(), json!([format!("{k:#x}")]))
                .await
                .expect("rollup_checkBlock");
            assert_eq!(report["ok"], true, "block {k}: {report}");
            assert_eq!(
                report["claim"], claim["claim"],
                "block {k}'s trace ends in its claim"
            );
        }
        let batched: Value = seq
            .provider()
            .raw_request("rollup_claim".into(), json!([format!("{k:#x}")]))
            .await
            .expect("rollup_claim");
        assert_eq!(
            batched, claim,
            "block {k}: the sequencer's claim (from the batches it posted) is the replica's"
        );
    }
    assert!(delayed >= 1, "the deposit was read");
}

fn sequencer_opts(flags: &[String], extra: &[&str]) -> ChainOpts {
    let mut extra_args = flags.to_vec();
    extra_args.extend(
        [
            "--batcher.key",
            &support::dev_private_key_hex(1),
            "--batcher.max-age",
            "300ms",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    extra_args.extend(extra.iter().map(|s| s.to_string()));
    ChainOpts {
        block_time: Some("100ms".into()),
        extra_args,
        anvil_automine: false,
    }
}

fn replica_opts(flags: &[String]) -> ChainOpts {
    let mut extra_args = flags.to_vec();
    extra_args.push("--replica".into());
    ChainOpts {
        block_time: None,
        extra_args,
        anvil_automine: false,
    }
}

/// Sends `count` ETH transfers from dev account `from` and waits for the last receipt; returns
/// its block number.
async fn transfers(l2: &TestChain, from: u32, count: usize) -> u64 {
    let p = l2.provider_for(from);
    let me = wallet(from).address();
    let nonce = p.get_transaction_count(me).await.expect("nonce");
    let mut last = None;
    for i in 0..count {
        let tx = TransactionRequest::default()
            .with_to(Address::with_last_byte(0x50 + i as u8))
            .with_value(U256::from(1_000 + i))
            .with_nonce(nonce + i as u64)
            .with_gas_limit(21_000);
        last = Some(p.send_transaction(tx).await.expect("send transfer"));
    }
    let receipt = last
        .expect("at least one")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    receipt.block_number.expect("mined")
}

/// A bridge client between `l1` and `seq` (wallet 3 signs on L1).
async fn bridge_on(l1: &L1, deployment: &Deployment, seq: &TestChain) -> Bridge {
    Bridge::connect(
        deployment.clone(),
        &l1.url,
        &seq.http_url(),
        Some(wallet(3)),
    )
    .await
    .expect("bridge")
}

/// Deposits one ETH to `0xd1…d1` and waits until L2 includes it.
async fn deposit_one_eth(bridge: &Bridge) -> bridge::client::L2Inclusion {
    let deposit = bridge
        .deposit_eth(Address::repeat_byte(0xd1), U256::from(ONE_ETH), 100_000)
        .await
        .expect("deposit");
    bridge
        .wait_for_l2(&deposit, Duration::from_secs(20), |_| {})
        .await
        .expect("deposit on L2")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batcher_posts_every_block_once_across_kill9_and_the_replica_rebuilds_the_chain() {
    let l1 = L1::start().await;
    let deployment = deploy_with(&l1, &DeployConfig::devnet().expect("devnet")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = l1_flags(dir.path(), &l1, &deployment, 0);
    let mut seq =
        TestChain::start_target(Target::Node, sequencer_opts(&flags, &["--rpc.check-block"])).await;

    // A deposit, transfers and a contract deployment.
    let bridge = bridge_on(&l1, &deployment, &seq).await;
    let inclusion = deposit_one_eth(&bridge).await;
    let transfers_block = transfers(&seq, 0, 20).await;
    assert_l1_fees_paid(&seq, transfers_block).await;
    let (_, code) = artifact("contracts/out/TestToken.json");
    let mut init = code.to_vec();
    init.extend(("Token", "TOK", U256::from(1_000_000u64)).abi_encode_params());
    let deploy_receipt = seq
        .provider_for(4)
        .send_transaction(TransactionRequest::default().with_deploy_code(init))
        .await
        .expect("deploy")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(deploy_receipt.status());
    let before_kill = deploy_receipt.block_number.expect("mined");
    assert!(inclusion.block_number > 0);

    // Kill -9 while blocks are pending (the batcher posts every 300 ms of age), restart.
    tokio::time::sleep(Duration::from_millis(150)).await;
    seq.kill9();
    seq.respawn().await;
    let after_restart = transfers(&seq, 5, 10).await;
    let batches = wait_batched(&l1, &deployment, after_restart.max(before_kill), &seq).await;
    let covered = assert_contiguous(&batches);
    assert!(covered >= transfers_block);
    // afterDelayedMessagesRead never goes back and covers the deposit.
    let afters: Vec<u64> = batches.iter().map(|b| b.after).collect();
    assert!(afters.windows(2).all(|w| w[0] <= w[1]), "{afters:?}");
    assert_eq!(*afters.last().expect("batches"), 1);

    // Numbers: bytes and L1 gas per transfer, from the batch holding the 20 transfers.
    let holding: Vec<&OnL1> = batches
        .iter()
        .filter(|b| {
            b.batch.as_ref().is_some_and(|x| {
                x.first_block <= transfers_block && transfers_block <= x.last_block()
            })
        })
        .collect();
    let mut total_txs = 0;
    let mut total_bytes = 0;
    let mut total_gas = 0;
    for b in &batches {
        if let Some(x) = &b.batch {
            total_txs += x.blocks.iter().map(|k| k.transactions.len()).sum::<usize>();
            total_bytes += x.encoded_len();
            total_gas += b.gas_used;
        }
    }
    assert_eq!(holding.len(), 1);
    println!(
        "batches: {} posted for {covered} L2 blocks and {total_txs} txs; {total_bytes} bytes, \
         {total_gas} L1 gas in all",
        batches.len()
    );
    let transfer_len = holding[0]
        .batch
        .as_ref()
        .and_then(|x| {
            x.blocks
                .iter()
                .flat_map(|k| k.transactions.iter())
                .find(|t| t.len() < 200)
                .map(|t| t.len())
        })
        .expect("a transfer in the batch");
    let holding_txs = holding[0].batch.as_ref().map_or(0, |x| {
        x.blocks.iter().map(|k| k.transactions.len()).sum::<usize>()
    });
    println!(
        "per ETH transfer (EIP-1559): {} batch bytes (4-byte length prefix included); \
         L1 gas per tx: {} in the batch holding the 20 transfers ({} txs, {} bytes, {} gas), \
         {} over all batches",
        transfer_len + 4,
        holding[0].gas_used / holding_txs.max(1) as u64,
        holding_txs,
        holding[0].batch.as_ref().map_or(0, Batch::encoded_len),
        holding[0].gas_used,
        total_gas / total_txs as u64
    );

    // The replica rebuilds the same chain from L1, and knows the claim on each block.
    let mut opts = replica_opts(&flags);
    opts.extra_args.push("--rpc.check-block".into());
    let replica = TestChain::start_target(Target::Node, opts).await;
    assert_same_chain(&seq, &replica, covered).await;
    assert_claims(
        &seq,
        &replica,
        &batches,
        &[inclusion.block_number, transfers_block, covered],
    )
    .await;
    // It serves the same state.
    let token = deploy_receipt.contract_address.expect("created");
    let a: Value = seq
        .provider()
        .raw_request("eth_getCode".into(), json!([token, "latest"]))
        .await
        .expect("code");
    let b: Value = replica
        .provider()
        .raw_request("eth_getCode".into(), json!([token, "latest"]))
        .await
        .expect("code");
    assert_eq!(a, b);
    assert_eq!(
        replica
            .provider()
            .get_balance(Address::repeat_byte(0xd1))
            .await
            .expect("balance"),
        U256::from(ONE_ETH)
    );
}

/// A replica stopped by `--debug.max-block` on a block inside a batch of several blocks and
/// killed there resumes that batch at its next record once restarted on its database without
/// the flag (instead of skipping the batch's rest, after which every later batch is a gap),
/// and rebuilds the sequencer's chain and claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_inside_a_batch_resumes_it_after_a_restart() {
    let l1 = L1::start().await;
    let deployment = deploy_with(&l1, &DeployConfig::devnet().expect("devnet")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = l1_flags(dir.path(), &l1, &deployment, 0);
    // 100 ms blocks, a batch once the oldest unposted block waited 300 ms: batches of several
    // blocks.
    let seq = TestChain::start_target(Target::Node, sequencer_opts(&flags, &[])).await;
    let bridge = bridge_on(&l1, &deployment, &seq).await;
    deposit_one_eth(&bridge).await;
    let last = transfers(&seq, 0, 5).await;
    // A few batches past the transfers.
    let batches = wait_batched(&l1, &deployment, last + 8, &seq).await;
    // The last batch of several blocks, stopped before its last block.
    let Some(inside) = batches
        .iter()
        .rev()
        .filter_map(|b| b.batch.as_ref())
        .find(|b| b.blocks.len() >= 2)
        .map(|b| b.last_block() - 1)
    else {
        seq.fail("no batch holds several blocks")
    };

    let mut stopped_opts = replica_opts(&flags);
    stopped_opts
        .extra_args
        .extend(["--debug.max-block".into(), inside.to_string()]);
    let mut stopped = TestChain::start_target(Target::Node, stopped_opts).await;
    wait_head(&stopped, inside, Duration::from_secs(30)).await;
    // L1 holds the rest of the batch and later ones: the replica derives none of them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        stopped.provider().get_block_number().await.expect("head"),
        inside,
        "--debug.max-block {inside} stops the replica at block {inside}"
    );
    stopped.kill9();

    // The same database without the flag. The harness fixes a chain's arguments when it
    // starts it: start a replica, kill it, give it the stopped replica's database.
    let mut opts = replica_opts(&flags);
    opts.extra_args.push("--rpc.check-block".into());
    let mut replica = TestChain::start_target(Target::Node, opts).await;
    replica.kill9();
    let db = replica.datadir().join("chain");
    std::fs::remove_dir_all(&db).expect("remove the fresh replica's database");
    std::fs::rename(stopped.datadir().join("chain"), &db).expect("move the database");
    replica.respawn().await;

    let head = seq.provider().get_block_number().await.expect("head");
    let batches = wait_batched(&l1, &deployment, head, &seq).await;
    let covered = assert_contiguous(&batches);
    assert_same_chain(&seq, &replica, covered).await;
    assert_claims(&seq, &replica, &batches, &[inside, inside + 1]).await;
    assert!(
        !replica
            .log_tail(1_000)
            .contains("skipping an invalid batch"),
        "the replica skipped a batch of the sequencer's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_deposit_is_included_by_the_sequencer_and_the_replica() {
    let l1 = L1::start().await;
    let config = DeployConfig {
        force_inclusion_window: 20,
        ..DeployConfig::devnet().expect("devnet")
    };
    let deployment = deploy_with(&l1, &config).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = l1_flags(dir.path(), &l1, &deployment, 0);
    let seq = TestChain::start_target(
        Target::Node,
        sequencer_opts(&flags, &["--sequencer.ignore-deposits"]),
    )
    .await;
    let bridge = bridge_on(&l1, &deployment, &seq).await;
    let recipient = Address::repeat_byte(0xf0);
    let deposit = bridge
        .deposit_eth(recipient, U256::from(ONE_ETH), 100_000)
        .await
        .expect("deposit");
    // The censoring sequencer keeps sealing (and batching) without it.
    let l2 = seq.provider();
    let start = l2.get_block_number().await.expect("head");
    wait_head(&seq, start + 10, Duration::from_secs(10)).await;
    wait_batched(&l1, &deployment, start + 5, &seq).await;
    assert!(bridge
        .l2_inclusion(&deposit)
        .await
        .expect("status")
        .is_none());
    assert_eq!(
        l2.get_balance(recipient).await.expect("balance"),
        U256::ZERO
    );

    // Too early to force.
    let forcer = alloy::providers::ProviderBuilder::new()
        .wallet(wallet(6))
        .connect_http(l1.url.parse().expect("url"))
        .erased();
    let force = TransactionRequest::default()
        .with_to(deployment.inbox)
        .with_input(
            forceInclusionCall {
                afterDelayedMessagesRead: U256::from(1),
            }
            .abi_encode(),
        );
    let early = forcer
        .send_transaction(force.clone().with_gas_limit(200_000))
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(
        !early.status(),
        "forceInclusion must revert inside the window"
    );
    l1.increase_time(config.force_inclusion_window).await;
    let receipt = forcer
        .send_transaction(force)
        .await
        .expect("forceInclusion")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status(), "forceInclusion after the window");
    let forced_at = Instant::now();

    let inclusion = bridge
        .wait_for_l2(&deposit, Duration::from_secs(20), |_| {})
        .await
        .expect("forced deposit reaches L2");
    println!(
        "forced deposit on L2 {:.0} ms after forceInclusion was mined",
        forced_at.elapsed().as_secs_f64() * 1e3
    );
    assert!(inclusion.success);
    assert_eq!(
        l2.get_balance(recipient).await.expect("balance"),
        U256::from(ONE_ETH)
    );

    // The batches after the forced one carry afterDelayedMessagesRead >= 1, and the replica
    // derives the same chain, deposit included.
    let head = l2.get_block_number().await.expect("head");
    let batches = wait_batched(&l1, &deployment, head, &seq).await;
    let forced = batches.iter().position(|b| b.forced).expect("forced batch");
    assert!(batches[forced..].iter().all(|b| b.after >= 1));
    let replica = TestChain::start_target(Target::Node, replica_opts(&flags)).await;
    assert_same_chain(&seq, &replica, head).await;
    let r: Value = replica
        .provider()
        .raw_request(
            "eth_getTransactionReceipt".into(),
            json!([deposit.l2_tx_hash()]),
        )
        .await
        .expect("receipt");
    assert_eq!(
        r["blockNumber"],
        json!(format!("{:#x}", inclusion.block_number))
    );
}

/// Batches that break each validity rule of `fraud_vm::batch`, posted with the batcher's key
/// before the sequencer starts: a replica logs and skips every one and keeps deriving, and
/// the sequencer's batcher passes over them and posts its chain from block 1, which the replica
/// then derives block for block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_batches_are_skipped_and_the_valid_ones_after_them_derive() {
    let BeforeAnyBatch {
        replica,
        l1,
        deployment,
        flags,
        genesis,
        l1_head,
        _dir,
    } = BeforeAnyBatch::start().await;
    let valid = BatchBlock {
        timestamp: l1_head.timestamp,
        gas_limit: 30_000_000,
        ..Default::default()
    };
    let one = |block: BatchBlock| {
        Batch {
            first_block: 1,
            parent_hash: genesis,
            blocks: vec![block],
        }
        .encode()
    };
    let invalid: Vec<(&str, Vec<u8>)> = vec![
        ("undecodable batch", b"not a batch".to_vec()),
        (
            "past the next block 1",
            Batch {
                first_block: 5,
                parent_hash: genesis,
                blocks: vec![valid.clone()],
            }
            .encode(),
        ),
        (
            "is not block 0's",
            Batch {
                first_block: 1,
                parent_hash: B256::repeat_byte(7),
                blocks: vec![valid.clone()],
            }
            .encode(),
        ),
        (
            "at or below the derived head 0",
            Batch {
                first_block: 0,
                parent_hash: B256::ZERO,
                blocks: vec![valid.clone(), valid.clone()],
            }
            .encode(),
        ),
        (
            "leaves no room for its L1 origin",
            one(BatchBlock {
                gas_limit: 500_000,
                origin: Some(BatchOrigin {
                    number: 1,
                    hash: B256::repeat_byte(0xee),
                }),
                ..valid.clone()
            }),
        ),
        (
            "is above 4294967296",
            one(BatchBlock {
                gas_limit: MAX_BLOCK_GAS_LIMIT + 1,
                ..valid.clone()
            }),
        ),
        (
            "leads the batch's L1 block",
            one(BatchBlock {
                timestamp: l1_head.timestamp + MAX_TIMESTAMP_LEAD_SECS + 100,
                ..valid.clone()
            }),
        ),
        (
            "is not before the batch's L1 block",
            one(BatchBlock {
                origin: Some(BatchOrigin {
                    number: l1_head.number + 50,
                    hash: B256::repeat_byte(5),
                }),
                ..valid.clone()
            }),
        ),
        (
            "is not on L1",
            one(BatchBlock {
                origin: Some(BatchOrigin {
                    number: 1,
                    hash: B256::repeat_byte(0xee),
                }),
                ..valid.clone()
            }),
        ),
    ];
    post_with_batcher_key(&l1, &deployment, invalid.iter().map(|(_, d)| d.clone())).await;

    // The replica skips each, for its reason, and derives nothing from them.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = replica.log_tail(400);
        let missing: Vec<&str> = invalid
            .iter()
            .map(|(reason, _)| *reason)
            .filter(|reason| !log.contains(reason))
            .collect();
        if missing.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            replica.fail(&format!("the replica did not log skipping: {missing:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        replica.provider().get_block_number().await.expect("head"),
        0,
        "no invalid batch derives a block"
    );

    // The sequencer's batcher posts its chain from block 1 on; the replica derives it.
    let seq = TestChain::start_target(Target::Node, sequencer_opts(&flags, &[])).await;
    let last = transfers(&seq, 0, 5).await;
    wait_batched_after(&l1, &deployment, last, &seq, invalid.len()).await;
    assert_same_chain(&seq, &replica, last).await;
}

/// Waits until the sequencer batches after the first `skip` batches cover blocks `1..=n`;
/// returns all the batches.
async fn wait_batched_after(
    l1: &L1,
    d: &Deployment,
    n: u64,
    seq: &TestChain,
    skip: usize,
) -> Vec<OnL1> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let batches = inbox_batches(l1, d).await;
        if batches.len() > skip && assert_contiguous(&batches[skip..]) >= n {
            return batches;
        }
        if Instant::now() > deadline {
            seq.fail(&format!("block {n} not batched within 20 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A fresh L1 with the devnet contracts and a replica following it, before any batch: where
/// the tests of batches posted by someone else start.
struct BeforeAnyBatch {
    replica: TestChain,
    l1: L1,
    deployment: Deployment,
    flags: Vec<String>,
    /// The L2 genesis hash.
    genesis: B256,
    /// The L1 head when the replica started.
    l1_head: alloy::rpc::types::Header,
    _dir: tempfile::TempDir,
}

impl BeforeAnyBatch {
    async fn start() -> Self {
        let l1 = L1::start().await;
        let deployment = deploy_with(&l1, &DeployConfig::devnet().expect("devnet")).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let flags = l1_flags(dir.path(), &l1, &deployment, 0);
        let replica = TestChain::start_target(Target::Node, replica_opts(&flags)).await;
        let genesis = serde_json::from_value(block(&replica.provider(), 0).await["hash"].clone())
            .expect("genesis hash");
        let l1_head = l1
            .provider
            .get_block(alloy::eips::BlockNumberOrTag::Latest.into())
            .await
            .expect("L1 head")
            .expect("exists")
            .header;
        Self {
            replica,
            l1,
            deployment,
            flags,
            genesis,
            l1_head,
            _dir: dir,
        }
    }
}

/// Every user transaction in blocks `1..=through` paid its L1 data fee (`fraud_vm::fee`) at the
/// L1 base fee `L1Info` held, as its receipt says (`l1GasPrice`, `l1GasUsed`, `l1Fee`); the
/// fee vault holds their sum; and the step machine proves block `through`, fees included.
async fn assert_l1_fees_paid(seq: &TestChain, through: u64) {
    use alloy::eips::eip2718::Encodable2718;
    use fraud_vm::{fee, message::L1_INFO};
    let p = seq.provider();
    let quantity = |v: &Value| {
        u128::from_str_radix(v.as_str().expect("quantity").trim_start_matches("0x"), 16)
            .expect("hex quantity")
    };
    let mut total = 0u128;
    let mut paid = 0;
    for n in 1..=through {
        let receipts: Value = p
            .raw_request("eth_getBlockReceipts".into(), (format!("{n:#x}"),))
            .await
            .expect("receipts");
        let basefee = p
            .get_storage_at(L1_INFO, U256::from(1))
            .block_id(n.into())
            .await
            .expect("L1Info.basefee");
        for r in receipts.as_array().expect("array") {
            if r["type"] == "0x7e" {
                assert!(r.get("l1Fee").is_none(), "deposits pay no L1 fee: {r}");
                continue;
            }
            let hash = serde_json::from_value(r["transactionHash"].clone()).expect("hash");
            let tx = p
                .get_transaction_by_hash(hash)
                .await
                .expect("tx")
                .expect("mined");
            let len = tx.inner.inner().encode_2718_len() as u64;
            assert_eq!(
                quantity(&r["l1GasUsed"]),
                fee::l1_gas_used(len) as u128,
                "{r}"
            );
            assert_eq!(U256::from(quantity(&r["l1GasPrice"])), basefee, "{r}");
            let l1_fee = quantity(&r["l1Fee"]);
            assert_eq!(U256::from(l1_fee), fee::l1_fee(basefee, len), "{r}");
            total += l1_fee;
            paid += 1;
        }
    }
    assert!(
        paid >= 20 && total > 0,
        "{paid} transactions paid {total} wei"
    );
    let vault = p
        .get_balance(fee::L1_FEE_VAULT)
        .block_id(through.into())
        .await
        .expect("vault balance");
    assert_eq!(vault, U256::from(total));
    let report: Value = p
        .raw_request("rollup_checkBlock".into(), (format!("{through:#x}"),))
        .await
        .expect("rollup_checkBlock");
    assert_eq!(report["ok"], true, "{report}");
}

/// Posts each of `batches` to the Inbox with the batcher's key (as a misused key would).
async fn post_with_batcher_key(
    l1: &L1,
    deployment: &Deployment,
    batches: impl IntoIterator<Item = Vec<u8>>,
) {
    let batcher = alloy::providers::ProviderBuilder::new()
        .wallet(wallet(1))
        .connect_http(l1.url.parse().expect("url"))
        .erased();
    for data in batches {
        let call = appendSequencerBatchCall {
            data: data.into(),
            afterDelayedMessagesRead: U256::ZERO,
        };
        let receipt = batcher
            .send_transaction(
                TransactionRequest::default()
                    .with_to(deployment.inbox)
                    .with_input(call.abi_encode()),
            )
            .await
            .expect("post")
            .get_receipt()
            .await
            .expect("receipt");
        assert!(
            receipt.status(),
            "the Inbox takes any data from the batcher"
        );
    }
}

/// A *valid* batch on L1 that is not the sequencer's (its key was used elsewhere): replicas
/// derive it, so the sequencer's chain is not the one L1 derives. Its batcher says so and stops
/// instead of posting blocks no replica would ever derive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_foreign_batch_stops_the_batcher_instead_of_forking_replicas() {
    let BeforeAnyBatch {
        replica,
        l1,
        deployment,
        flags,
        genesis,
        l1_head,
        _dir,
    } = BeforeAnyBatch::start().await;
    let foreign = Batch {
        first_block: 1,
        parent_hash: genesis,
        blocks: vec![BatchBlock {
            timestamp: l1_head.timestamp,
            gas_limit: 30_000_000,
            extra_data: b"not the sequencer's".to_vec().into(),
            ..Default::default()
        }],
    };
    post_with_batcher_key(&l1, &deployment, [foreign.encode()]).await;
    wait_head(&replica, 1, Duration::from_secs(20)).await;

    let seq = TestChain::start_target(Target::Node, sequencer_opts(&flags, &[])).await;
    transfers(&seq, 0, 2).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seq
        .log_tail(200)
        .contains("has diverged from the one L1 derives")
    {
        if Instant::now() > deadline {
            seq.fail("the batcher did not stop on a valid foreign batch");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        inbox_batches(&l1, &deployment).await.len(),
        1,
        "the batcher posts nothing after the foreign batch"
    );
    assert_eq!(
        replica.provider().get_block_number().await.expect("head"),
        1
    );
}
