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
        BatchOrigin, Cursor, FORCED_BLOCK_GAS_LIMIT, MAX_BLOCK_GAS_LIMIT, MAX_TIMESTAMP_LEAD_SECS,
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

/// Asserts the Inbox holds blocks `1..=n` exactly once, in order, for some n; returns n. A
/// forced batch may hold the next block, its forced block: then a later sequencer batch starts
/// one block later, and those between (which the sequencer posted before it rolled back for
/// the forced block) start at or below the forced block: derivation skips them.
fn assert_contiguous(batches: &[OnL1]) -> u64 {
    let mut next = 1;
    let mut i = 0;
    while i < batches.len() {
        let b = &batches[i];
        i += 1;
        let Some(batch) = &b.batch else {
            if !b.forced {
                continue;
            }
            let resumes = batches[i..]
                .iter()
                .take_while(|later| !later.forced)
                .filter_map(|later| later.batch.as_ref())
                .position(|later| later.first_block == next + 1);
            if let Some(skipped) = resumes {
                let stale = batches[i..].iter().filter_map(|later| later.batch.as_ref());
                assert!(
                    stale.take(skipped).all(|later| later.first_block <= next),
                    "only stale batches between a forced batch and the one after its block"
                );
                i += batches[i..]
                    .iter()
                    .enumerate()
                    .filter(|(_, later)| later.batch.is_some())
                    .nth(skipped)
                    .map_or(0, |(k, _)| k);
                next += 1;
            }
            continue;
        };
        assert_eq!(
            batch.first_block, next,
            "a batch starts at {} but {next} was expected (block skipped or posted twice)",
            batch.first_block
        );
        next = batch.last_block() + 1;
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
    // The newest batch may hold blocks past the head the caller waited for.
    wait_head(replica, n, Duration::from_secs(30)).await;
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
        // The batcher records a batch's positions once it has the receipt, a moment after the
        // batch is on L1.
        let deadline = Instant::now() + Duration::from_secs(10);
        let batched = loop {
            let batched: Value = seq
                .provider()
                .raw_request("rollup_claim".into(), json!([format!("{k:#x}")]))
                .await
                .expect("rollup_claim");
            if !batched.is_null() || Instant::now() > deadline {
                break batched;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
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
    let Forcing {
        l1,
        config,
        deployment,
        flags,
        _dir,
    } = Forcing::start().await;
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
    assert!(
        !force_inclusion(&l1, &deployment, 1).await,
        "forceInclusion must revert inside the window"
    );
    l1.increase_time(config.force_inclusion_window).await;
    // Every block sealed by now that no batch before the forced one carries must be rolled back.
    let sealed_before = l2.get_block_number().await.expect("head");
    assert!(
        force_inclusion(&l1, &deployment, 1).await,
        "forceInclusion after the window"
    );
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
    // In the forced block the forced batch derives, which the sequencer sealed too (after
    // rolling back the blocks it had sealed after its last batch before the forced one).
    let forced_block = block(&l2, inclusion.block_number).await;
    assert_eq!(
        forced_block["gasLimit"],
        json!(format!("{FORCED_BLOCK_GAS_LIMIT:#x}")),
        "the deposit is in a forced block: {forced_block}"
    );
    assert_eq!(
        forced_block["transactions"].as_array().map(Vec::len),
        Some(2),
        "the L1-info deposit and the forced deposit, nothing else"
    );

    // The batches after the forced one carry afterDelayedMessagesRead >= 1, and the replica
    // derives the same chain, deposit included.
    let head = l2.get_block_number().await.expect("head");
    let batches = wait_batched(&l1, &deployment, head, &seq).await;
    let forced = batches.iter().position(|b| b.forced).expect("forced batch");
    assert!(batches[forced..].iter().all(|b| b.after >= 1));
    // The forced block follows the last block batched before the forced batch.
    let batched_before = batches[..forced]
        .iter()
        .rev()
        .find_map(|b| b.batch.as_ref())
        .map_or(0, Batch::last_block);
    assert_eq!(inclusion.block_number, batched_before + 1);
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
    // Whether the sequencer had sealed past that block when the forced batch landed is a race
    // with its batcher; when it had, it rolled those blocks back.
    if sealed_before > batched_before {
        assert!(
            seq.log_tail(1_000)
                .contains("rolled back; its forced block comes next"),
            "the sequencer sealed up to {sealed_before} past its last batch before the forced \
             one ({batched_before}) and must have rolled those blocks back"
        );
    }
}

/// L1 with a deployment whose force-inclusion window is 20 s, and the node flags to follow
/// it (confirmation depth 0).
struct Forcing {
    l1: L1,
    config: DeployConfig,
    deployment: Deployment,
    flags: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Forcing {
    async fn start() -> Self {
        let l1 = L1::start().await;
        let config = DeployConfig {
            force_inclusion_window: 20,
            ..DeployConfig::devnet().expect("devnet")
        };
        let deployment = deploy_with(&l1, &config).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let flags = l1_flags(dir.path(), &l1, &deployment, 0);
        Self {
            l1,
            config,
            deployment,
            flags,
            _dir: dir,
        }
    }
}

/// Sends `Inbox.forceInclusion(after)` from a user's account; whether it succeeded.
async fn force_inclusion(l1: &L1, deployment: &Deployment, after: u64) -> bool {
    let forcer = alloy::providers::ProviderBuilder::new()
        .wallet(wallet(6))
        .connect_http(l1.url.parse().expect("url"))
        .erased();
    let force = TransactionRequest::default()
        .with_to(deployment.inbox)
        .with_gas_limit(200_000)
        .with_input(
            forceInclusionCall {
                afterDelayedMessagesRead: U256::from(after),
            }
            .abi_encode(),
        );
    forcer
        .send_transaction(force)
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("receipt")
        .status()
}

/// An honest sequencer whose batcher lags past the force-inclusion window: it included the
/// deposit in a block it has not batched when the deposit is forced. L1 derives the forced
/// block on its last batched block, so the sequencer (killed and restarted in between, as a
/// crash would) rolls back the blocks it sealed after that one, seals the forced block, and
/// posts the rest after it: a replica derives the same chain, the deposit in the forced block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_batcher_s_blocks_make_way_for_the_forced_block_across_a_restart() {
    let Forcing {
        l1,
        config,
        deployment,
        flags,
        _dir,
    } = Forcing::start().await;
    let mut opts = sequencer_opts(&flags, &[]);
    // A batcher that waits 4 s for a batch: the deposit's block is not batched when forced.
    let age = opts
        .extra_args
        .iter()
        .position(|a| a == "--batcher.max-age")
        .expect("a max age");
    opts.extra_args[age + 1] = "4s".into();
    let mut seq = TestChain::start_target(Target::Node, opts).await;
    let bridge = bridge_on(&l1, &deployment, &seq).await;
    let included = deposit_one_eth(&bridge).await;
    let l2 = seq.provider();
    let sealed_with_deposit = block(&l2, included.block_number).await;
    seq.kill9();
    l1.increase_time(config.force_inclusion_window).await;
    assert!(force_inclusion(&l1, &deployment, 1).await, "forceInclusion");
    // A deposit after the forced batch: the restarted follower must still look behind it.
    let later = bridge
        .deposit_eth(Address::repeat_byte(0xd2), U256::from(ONE_ETH), 100_000)
        .await
        .expect("a later deposit");
    seq.respawn().await;

    // The deposit ends in a forced block, not in the block the sequencer first sealed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let forced_in = loop {
        let r: Value = seq
            .provider()
            .raw_request("eth_getTransactionReceipt".into(), json!([included.l2_tx]))
            .await
            .expect("receipt");
        if let Some(n) = r["blockNumber"].as_str() {
            let n = u64::from_str_radix(n.trim_start_matches("0x"), 16).expect("number");
            let b = block(&seq.provider(), n).await;
            if b["gasLimit"] == json!(format!("{FORCED_BLOCK_GAS_LIMIT:#x}")) {
                break b;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the deposit never moved to a forced block"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(forced_in["hash"], sealed_with_deposit["hash"]);
    assert!(
        seq.log_tail(1_000)
            .contains("rolled back; its forced block comes next"),
        "the sequencer rolled back for the forced block"
    );
    bridge
        .wait_for_l2(&later, Duration::from_secs(20), |_| {})
        .await
        .expect("the later deposit on L2");
    let head = seq.provider().get_block_number().await.expect("head") + 2;
    wait_batched(&l1, &deployment, head, &seq).await;
    let replica = TestChain::start_target(Target::Node, replica_opts(&flags)).await;
    assert_same_chain(&seq, &replica, head).await;
}

/// An honest sequencer includes a deposit and batches it long before it can be forced:
/// forcing it then (the Inbox allows it, whatever count the batches declared) derives
/// nothing, and neither the sequencer nor a replica changes a block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forcing_an_included_deposit_changes_nothing() {
    let Forcing {
        l1,
        config,
        deployment,
        flags,
        _dir,
    } = Forcing::start().await;
    let seq = TestChain::start_target(Target::Node, sequencer_opts(&flags, &[])).await;
    let bridge = bridge_on(&l1, &deployment, &seq).await;
    let included = deposit_one_eth(&bridge).await;
    let l2 = seq.provider();
    let head = l2.get_block_number().await.expect("head");
    wait_batched(&l1, &deployment, head, &seq).await;
    let before = block(&l2, head).await;

    l1.increase_time(config.force_inclusion_window).await;
    assert!(force_inclusion(&l1, &deployment, 1).await, "forceInclusion");
    let after_force = l2.get_block_number().await.expect("head") + 3;
    let batches = wait_batched(&l1, &deployment, after_force, &seq).await;
    assert!(
        batches.iter().any(|b| b.forced),
        "the forced batch is on L1"
    );
    assert_eq!(
        block(&l2, head).await["hash"],
        before["hash"],
        "the sequencer kept its blocks"
    );
    // The replica derives the same chain, the deposit in the block the sequencer put it in.
    assert!(included.block_number <= head);
    let replica = TestChain::start_target(Target::Node, replica_opts(&flags)).await;
    assert_same_chain(&seq, &replica, after_force).await;
    let log = seq.log_tail(1_000);
    assert!(
        !log.contains("rolled back; its forced block comes next"),
        "no roll-back"
    );
    assert!(!log.contains("sealed the forced block"), "no forced block");
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

/// An L1 reorg that removes a batch (and the L1 blocks that were the origins of the blocks in
/// it), deeper than the confirmation depth (0 here): the sequencer rolls back the blocks whose
/// origins left L1 and includes their transactions again, its batcher posts the new blocks,
/// and the replica rolls back the blocks of the removed batch and derives the new chain,
/// block for block the sequencer's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_l1_reorg_rolls_back_the_sequencer_and_the_replica_to_the_same_new_chain() {
    let l1 = L1::start().await;
    let deployment = deploy_with(&l1, &DeployConfig::devnet().expect("devnet")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = l1_flags(dir.path(), &l1, &deployment, 0);
    let seq = TestChain::start_target(Target::Node, sequencer_opts(&flags, &[])).await;
    let replica = TestChain::start_target(Target::Node, replica_opts(&flags)).await;
    let bridge = bridge_on(&l1, &deployment, &seq).await;
    deposit_one_eth(&bridge).await;
    let before = transfers(&seq, 0, 3).await;
    wait_batched(&l1, &deployment, before, &seq).await;
    assert_same_chain(&seq, &replica, before).await;

    let snapshot: U256 = l1
        .provider
        .raw_request("evm_snapshot".into(), ())
        .await
        .expect("evm_snapshot");
    let snapshot_block = l1.head().await;
    let batches_at_snapshot = inbox_batches(&l1, &deployment).await.len();
    // New L1 blocks, which the sequencer's next blocks take as origins (no confirmations).
    l1.mine(2).await;
    let l1_head = l1.head().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while seq_origin(&seq).await < l1_head {
        if Instant::now() > deadline {
            seq.fail("the sequencer's origin did not reach the new L1 blocks");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = transfers(&seq, 2, 3).await;
    wait_batched(&l1, &deployment, last, &seq).await;
    let removed = inbox_batches(&l1, &deployment).await.len();
    wait_head(&replica, last, Duration::from_secs(30)).await;
    // The last transfer (a block's user transactions come after its deposits).
    let transfer: B256 = block(&seq.provider(), last).await["transactions"]
        .as_array()
        .and_then(|txs| txs.last())
        .and_then(|tx| tx.as_str())
        .expect("a transaction")
        .parse()
        .expect("hash");
    let first_inclusion = block(&seq.provider(), last).await["hash"].clone();

    // The batch transactions posted since the snapshot, signed, to post them again.
    let filter = Filter::new()
        .address(deployment.inbox)
        .event_signature(BatchAppended::SIGNATURE_HASH)
        .from_block(snapshot_block + 1);
    let mut raw_batches = Vec::new();
    for log in l1.provider.get_logs(&filter).await.expect("logs") {
        let raw: alloy::primitives::Bytes = l1
            .provider
            .raw_request(
                "eth_getRawTransactionByHash".into(),
                (log.transaction_hash.expect("tx hash"),),
            )
            .await
            .expect("raw batch transaction");
        raw_batches.push(raw);
    }
    assert!(
        !raw_batches.is_empty(),
        "batches were posted after the snapshot"
    );

    // Those batches and their origins leave L1; then the old batch transactions land again
    // (as a real L1 puts a replaced block's transactions back in its pool): the newest holds
    // blocks the sequencer keeps and blocks it rolls back, which derivation skips.
    let _: bool = l1
        .provider
        .raw_request("evm_revert".into(), (snapshot,))
        .await
        .expect("evm_revert");
    l1.mine(3).await;
    // (The node's batcher may post first, taking a nonce: such an old batch is refused.)
    let mut landed = 0;
    for raw in &raw_batches {
        let sent: Result<B256, _> = l1
            .provider
            .raw_request("eth_sendRawTransaction".into(), (raw,))
            .await;
        landed += usize::from(sent.is_ok());
    }
    eprintln!(
        "{landed} of {} old batches posted again ({} batches before the reorg, {batches_at_snapshot} at the snapshot)",
        raw_batches.len(),
        removed
    );

    // Both nodes roll back, the sequencer includes the transfers again, its batcher posts
    // them, and the replica derives exactly the sequencer's new chain.
    let deadline = Instant::now() + Duration::from_secs(30);
    let again = loop {
        if let Ok(Some(r)) = seq.provider().get_transaction_receipt(transfer).await {
            if seq.log_tail(2_000).contains("rolled the L2 back") {
                break r;
            }
        }
        if Instant::now() > deadline {
            seq.fail("the sequencer did not roll back and include the transfer again");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Batches posted after the reorg cover the sequencer's head (an old batch that landed
    // again may cover its number with blocks derivation skips: later batches are the ones
    // that count).
    let head = seq.provider().get_block_number().await.expect("head");
    let deadline = Instant::now() + Duration::from_secs(20);
    let batches = loop {
        let batches = inbox_batches(&l1, &deployment).await;
        let newest = batches.last().and_then(|b| b.batch.as_ref());
        if batches.len() > batches_at_snapshot + landed
            && newest.is_some_and(|b| b.last_block() >= head)
        {
            break batches;
        }
        if Instant::now() > deadline {
            seq.fail(&format!("block {head} not batched after the reorg"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_same_chain(&seq, &replica, head).await;
    // Every block's claim names the batch L1 derives it from now, on both nodes (the
    // sequencer forgot the positions of batches that left L1 and recorded the new ones).
    assert_claims(&seq, &replica, &batches, &[]).await;
    for (who, chain) in [("sequencer", &seq), ("replica", &replica)] {
        let log = chain.log_tail(4_000);
        let line = log
            .lines()
            .find(|l| l.contains("rolled the L2 back"))
            .unwrap_or_else(|| chain.fail(&format!("the {who} did not roll back")));
        eprintln!("{who}: {line}");
    }
    let on_replica = replica
        .provider()
        .get_transaction_receipt(transfer)
        .await
        .expect("receipt")
        .expect("the transfer on the replica");
    assert_eq!(on_replica.block_hash, again.block_hash);
    assert_ne!(
        serde_json::to_value(again.block_hash).expect("hash"),
        first_inclusion,
        "the transfer's first block was rolled back; it is in another block now"
    );
    let log = seq.log_tail(4_000);
    assert!(
        !log.contains("diverged"),
        "the old batches stopped the batcher"
    );
    for line in log.lines().filter(|l| l.contains("derivation skips")) {
        eprintln!("sequencer: {line}");
    }
}

/// The L1 origin number of the sequencer's head block (`L1Info.number()` in its state).
async fn seq_origin(seq: &TestChain) -> u64 {
    let call = TransactionRequest::default()
        .with_to(fraud_vm::message::L1_INFO)
        .with_input(alloy::primitives::hex!("8381f58a").to_vec());
    let out = seq.provider().call(call).await.expect("L1Info.number()");
    U256::from_be_slice(&out).to::<u64>()
}

/// A batch whose block lists a transaction the state makes invalid (a nonce gap): the replica
/// derives the block without it (tx-init skips it), keeps the block's input list, and traces
/// the block over that list — the trace the derivation program's hand-off starts — so
/// `rollup_checkBlock` counts a tx-init step for each of the three listed transactions, every
/// step verifies, and the trace ends in the claim on the stored block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_traces_a_derived_block_over_its_listed_transactions() {
    use alloy::{
        consensus::{SignableTransaction, TxEip1559, TxEnvelope},
        eips::eip2718::Encodable2718,
        primitives::TxKind,
        signers::SignerSync,
    };
    let l1 = L1::start().await;
    let deployment = deploy_with(&l1, &DeployConfig::devnet().expect("devnet")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = l1_flags(dir.path(), &l1, &deployment, 0);
    let mut opts = replica_opts(&flags);
    opts.extra_args.push("--rpc.check-block".into());
    let replica = TestChain::start_target(Target::Node, opts).await;
    let l2 = replica.provider();
    let genesis: B256 =
        serde_json::from_value(block(&l2, 0).await["hash"].clone()).expect("genesis hash");
    let chain_id = l2.get_chain_id().await.expect("chain id");
    let l1_time = l1
        .provider
        .get_block(alloy::eips::BlockNumberOrTag::Latest.into())
        .await
        .expect("L1 head")
        .expect("exists")
        .header
        .timestamp;
    let signer = wallet(0);
    let mut txs = Vec::new();
    for nonce in [0u64, 5, 1] {
        let tx = TxEip1559 {
            chain_id,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 0,
            to: TxKind::Call(Address::repeat_byte(0x77)),
            value: U256::from(1_000 + nonce),
            ..Default::default()
        };
        let signature = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        let signed = TxEnvelope::from(tx.into_signed(signature));
        txs.push(alloy::primitives::Bytes::from(signed.encoded_2718()));
    }
    let batch = Batch {
        first_block: 1,
        parent_hash: genesis,
        blocks: vec![BatchBlock {
            timestamp: l1_time,
            gas_limit: 30_000_000,
            transactions: txs,
            ..Default::default()
        }],
    };
    post_with_batcher_key(&l1, &deployment, [batch.encode()]).await;
    wait_head(&replica, 1, Duration::from_secs(20)).await;
    let derived = block(&l2, 1).await;
    assert_eq!(
        derived["transactions"].as_array().map(Vec::len),
        Some(2),
        "the nonce-gap transaction is skipped"
    );
    let report: Value = l2
        .raw_request("rollup_checkBlock".into(), json!(["0x1"]))
        .await
        .expect("rollup_checkBlock");
    assert_eq!(report["ok"], json!(true), "{report}");
    assert_eq!(
        report["kinds"]["TxInit"],
        json!(3),
        "a tx-init step for each listed transaction, the skipped one too: {report}"
    );
}
