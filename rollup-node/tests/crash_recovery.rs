//! Crash recovery: while several senders stream transfers, the node is killed with SIGKILL at
//! random-ish moments and restarted on the same data directory. Every block that was visible over
//! RPC before the kill must come back identical (hash, state root, whole block), with its
//! receipts and the balances at it, and the chain must go on from there.

mod support;

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559},
    eips::eip2718::Encodable2718,
    network::TransactionBuilder,
    primitives::{Address, TxKind, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::SignerSync,
};
use serde_json::{json, Value};
use support::{dev_address, wallet, ChainOpts, TestChain};

const GWEI: u128 = 1_000_000_000;
const SENDERS: [u32; 4] = [1, 2, 3, 4];
const ROUNDS: usize = 3;

/// Recipient of sender `i`'s transfers: an address with no genesis balance.
fn recipient(i: u32) -> Address {
    Address::left_padding_from(&[0xc0, 0xde, i as u8])
}

/// A small xorshift generator seeded from the clock (the seed is printed for reruns).
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = match std::env::var("CRASH_SEED") {
            Ok(s) => s.parse().expect("CRASH_SEED: a u64"),
            Err(_) => {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            }
        };
        eprintln!("crash_recovery seed: CRASH_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform-ish in `[lo, hi)` milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

#[derive(Default)]
struct SenderStats {
    accepted: AtomicU64,
    errors: AtomicU64,
}

/// Streams signed transfers from dev account `i` without waiting for receipts. Re-reads its
/// nonce (`pending`) after any error and whenever `epoch` changes (a restart).
async fn run_sender(
    url: String,
    i: u32,
    chain_id: u64,
    stop: Arc<AtomicBool>,
    epoch: Arc<AtomicU64>,
    stats: Arc<SenderStats>,
) {
    let provider = ProviderBuilder::new().connect_http(url.parse().unwrap());
    let signer = wallet(i);
    let me = signer.address();
    let mut nonce: Option<u64> = None;
    let mut seen_epoch = epoch.load(Ordering::SeqCst);
    let mut k = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let e = epoch.load(Ordering::SeqCst);
        if e != seen_epoch {
            seen_epoch = e;
            nonce = None;
        }
        let n = match nonce {
            Some(n) => n,
            None => {
                let read = tokio::time::timeout(
                    Duration::from_secs(2),
                    provider.get_transaction_count(me).pending(),
                )
                .await;
                match read {
                    Ok(Ok(n)) => n,
                    _ => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
            }
        };
        k += 1;
        let tx = TxEip1559 {
            chain_id,
            nonce: n,
            gas_limit: 21_000,
            max_fee_per_gas: 20 * GWEI,
            max_priority_fee_per_gas: GWEI,
            to: TxKind::Call(recipient(i)),
            value: U256::from(1_000 + k),
            ..Default::default()
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        let raw = tx.into_signed(sig).encoded_2718();
        let sent =
            tokio::time::timeout(Duration::from_secs(2), provider.send_raw_transaction(&raw)).await;
        match sent {
            Ok(Ok(_)) => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                nonce = Some(n + 1);
            }
            _ => {
                // Node down, or the pool lost our earlier transactions in a crash: re-read.
                stats.errors.fetch_add(1, Ordering::Relaxed);
                nonce = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A JSON-RPC call that must succeed (with the log tail on failure).
async fn rpc(chain: &TestChain, p: &DynProvider, method: &str, params: Value) -> Value {
    match tokio::time::timeout(
        Duration::from_secs(10),
        p.raw_request::<_, Value>(method.to_string().into(), params.clone()),
    )
    .await
    {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => chain.fail(&format!("{method} {params}: {e}")),
        Err(_) => chain.fail(&format!("{method} {params}: timed out")),
    }
}

fn hex_u64(v: &Value) -> u64 {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("not a hex string: {v}"));
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("bad hex {s}"))
}

fn qty(n: u64) -> String {
    format!("0x{n:x}")
}

async fn head_number(chain: &TestChain, p: &DynProvider) -> u64 {
    hex_u64(&rpc(chain, p, "eth_blockNumber", json!([])).await)
}

async fn block(chain: &TestChain, p: &DynProvider, n: u64) -> Value {
    rpc(chain, p, "eth_getBlockByNumber", json!([qty(n), false])).await
}

/// What was read over RPC before a kill.
#[derive(Default)]
struct Recorded {
    /// number → the whole block (with transaction hashes).
    blocks: BTreeMap<u64, Value>,
    /// tx hash → receipt.
    receipts: BTreeMap<String, Value>,
    /// (block number, address) → balance (hex).
    balances: BTreeMap<(u64, Address), Value>,
}

/// Records every block from `from` to the current head, the receipts of their transactions,
/// and balances at the head. Returns the head recorded.
async fn record(chain: &TestChain, rec: &mut Recorded, from: u64) -> u64 {
    let p = chain.provider();
    let head = head_number(chain, &p).await;
    for n in from..=head {
        let b = block(chain, &p, n).await;
        assert!(!b.is_null(), "block {n} missing below head {head}");
        for tx in b["transactions"].as_array().expect("transactions") {
            let hash = tx.as_str().expect("tx hash").to_string();
            let receipt = rpc(chain, &p, "eth_getTransactionReceipt", json!([hash])).await;
            assert!(!receipt.is_null(), "no receipt for {hash} in block {n}");
            rec.receipts.insert(hash, receipt);
        }
        rec.blocks.insert(n, b);
    }
    let mut who: Vec<Address> = SENDERS.iter().map(|&i| dev_address(i)).collect();
    who.extend(SENDERS.iter().map(|&i| recipient(i)));
    who.push(
        "0x4200000000000000000000000000000000000011"
            .parse()
            .unwrap(),
    ); // coinbase
    for a in who {
        let bal = rpc(chain, &p, "eth_getBalance", json!([a, qty(head)])).await;
        rec.balances.insert((head, a), bal);
    }
    head
}

/// Checks everything recorded against the restarted node.
async fn verify(chain: &TestChain, rec: &Recorded) {
    let p = chain.provider();
    let head = head_number(chain, &p).await;
    let last = *rec.blocks.keys().next_back().unwrap();
    assert!(
        head >= last,
        "head {head} after restart is below the last recorded block {last}"
    );
    for (&n, before) in &rec.blocks {
        let after = block(chain, &p, n).await;
        if after.is_null() {
            chain.fail(&format!(
                "recorded block {n} is gone after the restart (head {head})"
            ));
        }
        assert_eq!(after["hash"], before["hash"], "block {n}: hash changed");
        assert_eq!(
            after["stateRoot"], before["stateRoot"],
            "block {n}: state root changed"
        );
        assert_eq!(&after, before, "block {n} changed");
        let by_hash = rpc(
            chain,
            &p,
            "eth_getBlockByHash",
            json!([before["hash"], false]),
        )
        .await;
        assert_eq!(&by_hash, before, "block {n} by hash");
    }
    for (hash, before) in &rec.receipts {
        let after = rpc(chain, &p, "eth_getTransactionReceipt", json!([hash])).await;
        assert_eq!(&after, before, "receipt of {hash} changed");
    }
    for ((n, a), before) in &rec.balances {
        let after = rpc(chain, &p, "eth_getBalance", json!([a, qty(*n)])).await;
        assert_eq!(&after, before, "balance of {a} at block {n} changed");
    }
}

/// Waits until the head passes `after`; returns the new head.
async fn wait_past(chain: &TestChain, after: u64, within: Duration) -> u64 {
    let p = chain.provider();
    let deadline = Instant::now() + within;
    loop {
        let n = head_number(chain, &p).await;
        if n > after {
            return n;
        }
        if Instant::now() > deadline {
            chain.fail(&format!("no block after {after} within {within:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Transactions in blocks `from..=to`.
async fn txs_in(chain: &TestChain, from: u64, to: u64) -> usize {
    let p = chain.provider();
    let mut count = 0;
    for n in from..=to {
        count += block(chain, &p, n).await["transactions"]
            .as_array()
            .map_or(0, Vec::len);
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_under_load_keeps_every_visible_block() {
    let started = Instant::now();
    let mut rng = Rng::new();
    let mut chain = TestChain::start(ChainOpts {
        block_time: Some("100ms".into()),
        ..Default::default()
    })
    .await;
    let chain_id = chain.chain_id();

    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Arc::new(AtomicU64::new(0));
    let stats: Vec<Arc<SenderStats>> = SENDERS.iter().map(|_| Arc::default()).collect();
    let tasks: Vec<_> = SENDERS
        .iter()
        .zip(&stats)
        .map(|(&i, s)| {
            tokio::spawn(run_sender(
                chain.http_url(),
                i,
                chain_id,
                stop.clone(),
                epoch.clone(),
                s.clone(),
            ))
        })
        .collect();
    let accepted = |stats: &[Arc<SenderStats>]| -> u64 {
        stats
            .iter()
            .map(|s| s.accepted.load(Ordering::Relaxed))
            .sum()
    };

    let mut rec = Recorded::default();
    let mut next_unrecorded = 0;
    for round in 1..=ROUNDS {
        let accepted_before = accepted(&stats);
        let wait = rng.millis(1_500, 3_000);
        tokio::time::sleep(wait).await;
        let head = record(&chain, &mut rec, next_unrecorded).await;
        let accepted_now = accepted(&stats);
        let mined_this_round = txs_in(&chain, next_unrecorded, head).await;
        eprintln!(
            "round {round}: waited {wait:?}, recorded blocks {next_unrecorded}..={head} \
             ({mined_this_round} txs), {} txs accepted this round, {} receipts total",
            accepted_now - accepted_before,
            rec.receipts.len()
        );
        assert!(
            accepted_now > accepted_before,
            "round {round}: the senders got nothing accepted"
        );
        assert!(
            mined_this_round > 0,
            "round {round}: nothing mined in blocks {next_unrecorded}..={head}"
        );
        next_unrecorded = head + 1;

        // Crash while the senders keep going.
        chain.kill9();
        let down = Instant::now();
        chain.respawn().await;
        epoch.fetch_add(1, Ordering::SeqCst);
        eprintln!("round {round}: restarted in {:?}", down.elapsed());

        verify(&chain, &rec).await;
        let p = chain.provider();
        let restarted_head = head_number(&chain, &p).await;
        eprintln!(
            "round {round}: head after restart {restarted_head} (last recorded {head}); all {} \
             recorded blocks, {} receipts and {} balances intact",
            rec.blocks.len(),
            rec.receipts.len(),
            rec.balances.len()
        );
        // The chain goes on, on top of what was there.
        let new_head = wait_past(&chain, restarted_head, Duration::from_secs(10)).await;
        for n in head.max(1)..=new_head {
            let parent = block(&chain, &p, n - 1).await;
            let child = block(&chain, &p, n).await;
            assert_eq!(
                child["parentHash"],
                parent["hash"],
                "block {n} does not extend {}",
                n - 1
            );
        }
    }

    // Senders resumed after the last restart: their transfers get mined.
    let p = chain.provider();
    let resumed_from = head_number(&chain, &p).await;
    let accepted_before = accepted(&stats);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let head = head_number(&chain, &p).await;
        if accepted(&stats) > accepted_before && txs_in(&chain, resumed_from + 1, head).await > 0 {
            break;
        }
        if Instant::now() > deadline {
            chain.fail("senders' transfers were not mined after the last restart");
        }
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("sender task panicked");
    }

    // Each sender's nonce on chain matches its mined transfers, and a fresh transfer is mined.
    for &i in &SENDERS {
        let n = p
            .get_transaction_count(dev_address(i))
            .await
            .expect("nonce");
        assert!(n > 0, "sender {i} got nothing mined");
    }
    let provider = chain.provider_for(0);
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(dev_address(9))
                .with_value(U256::from(777)),
        )
        .await
        .unwrap_or_else(|e| chain.fail(&format!("final transfer refused: {e}")))
        .with_timeout(Some(Duration::from_secs(20)))
        .get_receipt()
        .await
        .unwrap_or_else(|e| chain.fail(&format!("final transfer not mined: {e}")));
    assert!(receipt.status());

    let errors: u64 = stats.iter().map(|s| s.errors.load(Ordering::Relaxed)).sum();
    eprintln!(
        "done in {:?}: {} transfers accepted, {errors} send errors (kill windows), {} blocks \
         and {} receipts checked",
        started.elapsed(),
        accepted(&stats),
        rec.blocks.len(),
        rec.receipts.len()
    );
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}
