//! The load generator behind `src/bin/loadgen.rs`: drives a running JSON-RPC endpoint (our
//! `rollup-node`, anvil, or any URL) with pre-signed transactions and measures how many get
//! included per second, with which latency, and what that costs the node.
//!
//! One [`run`] does, in order:
//!
//! 1. **Target.** `node`: starts the `rollup-node` binary on a free port with a fresh temporary
//!    datadir and a genesis funding the senders ([`crate::genesis_json`], the same genesis the
//!    seal benches use). `anvil`: starts the pinned anvil and funds the senders with
//!    `anvil_setBalance`. `url`: uses a running endpoint (`--fund` pays the senders from dev
//!    account 0 first).
//! 2. **Setup** (untimed): chain id, the senders' next nonces, for `erc20`/`mix` a `TestToken`
//!    deployed from dev account 0 and 1,000 tokens handed to every sender, for `swap` the npm
//!    Uniswap V2 contracts and a funded WETH/`TestToken` pool ([`crate::uniswap`]).
//! 3. **Signing** (untimed, rayon): `T` EIP-1559 transactions, transaction `k` from sender
//!    `k mod N` with that sender's next nonce, so every sender has at most `ceil(T/N)`. The
//!    JSON-RPC batch bodies are built here too.
//! 4. **Sending** (timed): batches of `eth_sendRawTransaction` over `C` HTTP (or WebSocket)
//!    connections pulling from one queue. A transaction's send time is when its batch left.
//! 5. **Inclusion** (timed): polls the head every 20 ms and reads every new block's transaction
//!    hashes; a transaction's inclusion time is when its block was first seen. Ends when every
//!    accepted transaction is included or `--timeout` after the last send.
//! 6. **Ceilings** (after the target is stopped, same transactions): sender recovery on all
//!    cores, and revm execution with [`BlockBuilder`] over an in-memory state ([`MemoryState`]).

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use alloy::{
    eips::eip2718::Encodable2718,
    rpc::client::{ClientBuilder, WsConnect},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
    transports::http::reqwest,
};
use alloy_consensus::transaction::SignerRecoverable;
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use fraud_vm::{
    chain::ChainGenesis,
    execute::{BlockAttributes, BlockBuilder, ExecutableTx, TxRejection},
    memory::MemoryState,
};
use op_alloy_consensus::OpTxEnvelope;
use rayon::prelude::*;
use serde_json::{json, Value};
use test_support::{anvil, dev, free_port, npm_bin_dir, rpc::wait_for_chain_id, workspace_root};

use crate::{
    genesis_json, recipient, sender_key, token_initcode,
    uniswap::{self, Pool, SWAP_GAS, SWAP_VALUE},
    Result, ETH_TRANSFER_VALUE, IERC20, SENDER_BALANCE, TOKENS_PER_SENDER, TOKENS_PER_TRANSFER,
};

/// `maxFeePerGas` of every load transaction (100 gwei: far above the 1 gwei starting base fee).
pub const LOAD_MAX_FEE: u128 = 100_000_000_000;
/// `maxPriorityFeePerGas` of every load transaction (1 gwei).
pub const LOAD_TIP: u128 = 1_000_000_000;
/// Gas limit of an ETH transfer.
const ETH_GAS: u64 = 21_000;
/// Gas limit of an ERC20 transfer to a fresh holder (uses about 51,600).
const ERC20_GAS: u64 = 80_000;
/// Gas limit of the token deployment.
const DEPLOY_GAS: u64 = 3_000_000;
/// Dev account 0's balance on anvil (the dev genesis gives it the same).
const DEV_BALANCE: u128 = 10_000 * 1_000_000_000_000_000_000;
/// How often the inclusion tracker polls the head.
const POLL: Duration = Duration::from_millis(20);

/// Which endpoint to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Start `target/release/rollup-node` (or `--node-bin`) with a fresh datadir and a genesis
    /// funding the senders.
    Node,
    /// Start the pinned anvil (`testdata/node_modules/.bin/anvil`, or `$ROLLUP_NPM_BIN/anvil`)
    /// and fund the senders with `anvil_setBalance`.
    Anvil,
    /// Use the endpoint at `--url` (senders must be funded, or pass `--fund`).
    Url,
}

/// What the timed transactions do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadWorkload {
    /// ETH transfers of 0.001 ETH to fresh recipients (21,000 gas each).
    Eth,
    /// `TestToken.transfer(fresh recipient, 1 token)` (about 51,600 gas each); the token is
    /// deployed from dev account 0 and handed out to the senders before the clock starts.
    Erc20,
    /// Alternating ETH and ERC20 transfers (50/50).
    Mix,
    /// Uniswap V2 `swapExactETHForTokens` of 0.001 ETH on one WETH/`TestToken` pool (about
    /// 105,000 gas each); the npm contracts are deployed and the pool funded from dev account
    /// 0 before the clock starts.
    Swap,
}

/// What the setup deployed, and its transactions (replayed in memory for the ceilings).
struct Setup {
    token: Option<Address>,
    pool: Option<Pool>,
    /// Dev account 0's nonce before the setup.
    dev_nonce: u64,
    txs: Vec<OpTxEnvelope>,
}

/// Load generator options (also the `loadgen` command line).
///
/// Examples:
///
///   loadgen                                   # 20,000 ETH transfers from 2,000 senders into a fresh node
///
///   loadgen --workload erc20 --compare-anvil  # the same ERC20 load on the node, then on anvil
///
///   loadgen --target url --url http://127.0.0.1:8545 --fund --txs 5000
///
/// Everything before the clock starts (process start, funding, token setup, signing, building
/// the batch bodies) is untimed. Sustained TPS = included / (last inclusion − first send).
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "loadgen", about, long_about, verbatim_doc_comment)]
pub struct Config {
    /// Endpoint to load: node (start rollup-node), anvil (start the pinned anvil), url (use --url).
    #[arg(long, value_enum, default_value = "node")]
    pub target: Target,
    /// HTTP JSON-RPC URL of a running endpoint (--target url).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// WebSocket URL for --ws with --target url (default: --url with ws:// instead of http://).
    #[arg(long = "ws-url", value_name = "URL")]
    pub ws_url: Option<String>,
    /// rollup-node binary for --target node (default: <workspace>/target/release/rollup-node).
    #[arg(long = "node-bin", value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// anvil binary (default: $ROLLUP_NPM_BIN/anvil, else <workspace>/testdata/node_modules/.bin/anvil).
    #[arg(long = "anvil-bin", value_name = "PATH")]
    pub anvil_bin: Option<PathBuf>,
    /// Block time of the started node ("1s", "250ms"); anvil always gets --block-time 1.
    #[arg(long = "block-time", value_name = "DURATION", default_value = "1s")]
    pub block_time: String,
    /// Block gas limit of the started node (anvil always gets 3,000,000,000).
    #[arg(
        long = "gas-limit",
        value_name = "GAS",
        default_value_t = 1_000_000_000
    )]
    pub gas_limit: u64,
    /// `--state-history` of the started node: keep this many past states (default: the
    /// node's own default, a state history of 1,209,600 blocks).
    #[arg(long = "state-history", value_name = "BLOCKS")]
    pub state_history: Option<u64>,
    /// Number of senders; sender i's key is keccak256(uint256(i)).
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub accounts: usize,
    /// With --target url: first fund every sender from dev account 0 (ETH transfers).
    #[arg(long)]
    pub fund: bool,
    /// Workload of the timed transactions.
    #[arg(long, value_enum, default_value = "eth")]
    pub workload: LoadWorkload,
    /// Total number of timed transactions (round-robin over the senders).
    #[arg(long, value_name = "T", default_value_t = 20_000)]
    pub txs: usize,
    /// eth_sendRawTransaction calls per JSON-RPC batch.
    #[arg(long, value_name = "B", default_value_t = 500)]
    pub batch: usize,
    /// Concurrent connections sending batches.
    #[arg(long, value_name = "C", default_value_t = 4)]
    pub connections: usize,
    /// Send over WebSocket instead of HTTP (blocks are still polled over HTTP).
    #[arg(long)]
    pub ws: bool,
    /// Seconds to wait for inclusion after the last batch was answered.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub timeout: u64,
    /// Measure the ceilings (sender recovery, in-memory revm) on the same transactions.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub ceilings: bool,
    /// After the node, run the same workload against a fresh anvil and compare.
    #[arg(long = "compare-anvil")]
    pub compare_anvil: bool,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

impl Config {
    /// The options with every default (as `loadgen` with no flags).
    pub fn defaults() -> Self {
        <Self as clap::Parser>::parse_from(["loadgen"])
    }
}

/// One block seen by the inclusion tracker.
#[derive(Clone, Debug)]
pub struct BlockSeen {
    /// Block number.
    pub number: u64,
    /// When the tracker first saw it, in seconds after the first send.
    pub seen_at: f64,
    /// Transactions in the block (all of them).
    pub txs: usize,
    /// Of those, the load's.
    pub ours: usize,
    /// Block gas used.
    pub gas_used: u64,
    /// Header timestamp.
    pub timestamp: u64,
}

/// Throughput ceilings measured on the same signed transactions.
#[derive(Clone, Debug, Default)]
pub struct Ceilings {
    /// Sender recovery (`recover_signer`) on every core, tx/s.
    pub recover_tps: f64,
    /// revm execution (`BlockBuilder::execute`) over [`MemoryState`], tx/s.
    pub execute_tps: f64,
    /// Execution plus `BlockBuilder::finish` (state diff, state tree, header), tx/s.
    pub execute_finish_tps: f64,
    /// Blocks the in-memory run used.
    pub blocks: usize,
    /// Rayon threads.
    pub threads: usize,
}

/// What one load run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// `node`, `anvil` or the URL.
    pub target: String,
    /// Workload name.
    pub workload: String,
    /// Calls per `eth_sendRawTransaction` batch.
    pub batch_size: usize,
    /// Chain id of the endpoint.
    pub chain_id: u64,
    /// Transactions sent (every pre-signed one).
    pub sent: usize,
    /// Sent and answered with a hash.
    pub accepted: usize,
    /// Sent and answered with an error (or lost with their batch).
    pub rpc_errors: usize,
    /// Error messages (digits replaced by `#`) and how often each came back.
    pub errors: BTreeMap<String, usize>,
    /// Seen in a block.
    pub included: usize,
    /// Not seen in a block (`sent - included`).
    pub failed: usize,
    /// Clock start to last batch answered, seconds.
    pub send_secs: f64,
    /// First send to last inclusion seen, seconds.
    pub inclusion_secs: f64,
    /// included / inclusion_secs.
    pub tps: f64,
    /// Gas used by the blocks holding load transactions, per inclusion second.
    pub gas_per_sec: f64,
    /// Inclusion latency (block first seen − send), seconds.
    pub latency_p50: f64,
    /// 99th percentile.
    pub latency_p99: f64,
    /// Maximum.
    pub latency_max: f64,
    /// Round trip of one `eth_sendRawTransaction` batch: p50, p99, max, seconds.
    pub batch_rtt: (f64, f64, f64),
    /// Blocks holding at least one load transaction.
    pub blocks_used: usize,
    /// Every block seen during the run.
    pub blocks: Vec<BlockSeen>,
    /// Datadir growth during the timed part (started node only), bytes.
    pub store_growth: Option<u64>,
    /// Datadir size at the end (started node only), bytes.
    pub store_size: Option<u64>,
    /// Peak RSS (VmHWM) of the started process, bytes.
    pub peak_rss: Option<u64>,
    /// Warnings and errors in the started process's log (first few lines) and their count.
    pub log_problems: (usize, Vec<String>),
    /// Untimed preparation: setup (process, funding, token), signing.
    pub setup_secs: f64,
    /// Signing time (rayon), seconds.
    pub sign_secs: f64,
    /// The ceilings, when measured.
    pub ceilings: Option<Ceilings>,
}

/// Runs one load (see the module docs).
pub async fn run(config: &Config) -> Result<Report> {
    if config.accounts == 0 || config.txs == 0 || config.batch == 0 || config.connections == 0 {
        return Err("--accounts, --txs, --batch and --connections must be positive".into());
    }
    let per_sender = config.txs.div_ceil(config.accounts);
    if per_sender > 1000 {
        return Err(format!("{per_sender} transactions per sender: the node's pool takes at most 1,025 in flight per sender; raise --accounts").into());
    }
    if matches!(config.workload, LoadWorkload::Erc20 | LoadWorkload::Mix)
        && (per_sender as u128) * TOKENS_PER_TRANSFER > TOKENS_PER_SENDER
    {
        return Err(format!("{per_sender} token transfers per sender exceed the 1000 tokens each gets: raise --accounts").into());
    }
    let setup_started = Instant::now();
    let progress = !config.quiet;
    if progress {
        eprintln!("[loadgen] deriving {} sender keys", config.accounts);
    }
    let keys: Vec<PrivateKeySigner> = (0..config.accounts)
        .into_par_iter()
        .map(sender_key)
        .collect();
    let senders: Vec<Address> = keys.iter().map(|k| k.address()).collect();
    let dev0 = dev::signer(0);

    // 1. The target.
    let mut process = None;
    let (url, ws_url, label) = match config.target {
        Target::Node => {
            let p = start_node(config, &senders).await?;
            let urls = (p.url.clone(), p.ws_url.clone());
            process = Some(p);
            (urls.0, urls.1, "node".to_string())
        }
        Target::Anvil => {
            let p = start_anvil(config).await?;
            let urls = (p.url.clone(), p.ws_url.clone());
            process = Some(p);
            (urls.0, urls.1, "anvil".to_string())
        }
        Target::Url => {
            let url = config.url.clone().ok_or("--target url needs --url")?;
            let ws = config.ws_url.clone().unwrap_or_else(|| {
                url.replacen("https://", "wss://", 1)
                    .replacen("http://", "ws://", 1)
            });
            (url, ws, url_label(config))
        }
    };
    let rpc = Rpc::new(url.clone());
    let chain_id = rpc.call_u64("eth_chainId", json!([])).await?;

    // 2. Setup: funding, nonces, token.
    let (value, gas) = match config.workload {
        LoadWorkload::Swap => (SWAP_VALUE, SWAP_GAS),
        _ => (ETH_TRANSFER_VALUE, ERC20_GAS),
    };
    let needed_per_sender = U256::from(per_sender as u64)
        * (U256::from(value) + U256::from(gas as u128 * LOAD_MAX_FEE));
    match config.target {
        Target::Anvil => {
            let mut calls: Vec<(&str, Value)> = senders
                .iter()
                .map(|a| {
                    (
                        "anvil_setBalance",
                        json!([a, format!("{:#x}", U256::from(SENDER_BALANCE))]),
                    )
                })
                .collect();
            // As in the dev genesis: 10,000 ETH (the swap pool alone takes 1,000).
            calls.push((
                "anvil_setBalance",
                json!([dev0.address(), format!("{:#x}", U256::from(DEV_BALANCE))]),
            ));
            for chunk in calls.chunks(500) {
                for r in rpc.batch(chunk).await? {
                    r.map_err(|e| format!("anvil_setBalance: {e}"))?;
                }
            }
        }
        Target::Url if config.fund => {
            let amount = needed_per_sender * U256::from(2) + U256::from(10u128.pow(16));
            fund_senders(&rpc, &dev0, chain_id, &senders, amount, progress).await?;
        }
        _ => {}
    }
    let nonce_calls: Vec<(&str, Value)> = senders
        .iter()
        .map(|a| ("eth_getTransactionCount", json!([a, "pending"])))
        .collect();
    let mut start_nonces = Vec::with_capacity(senders.len());
    for chunk in nonce_calls.chunks(500) {
        for r in rpc.batch(chunk).await? {
            start_nonces.push(hex_u64(&r?)?);
        }
    }
    let setup = match config.workload {
        LoadWorkload::Eth => None,
        workload => Some(setup(&rpc, &dev0, chain_id, &senders, workload, progress).await?),
    };
    let setup_secs = setup_started.elapsed().as_secs_f64();

    // 3. Sign everything, build the batch bodies.
    if progress {
        eprintln!(
            "[loadgen] {label}: chain id {chain_id}; signing {} transactions",
            config.txs
        );
    }
    let sign_started = Instant::now();
    let signed = sign_load(config, &keys, &start_nonces, chain_id, setup.as_ref())?;
    let sign_secs = sign_started.elapsed().as_secs_f64();
    let hashes: HashMap<B256, usize> = signed
        .iter()
        .enumerate()
        .map(|(i, t)| (t.tx.tx_hash(), i))
        .collect();
    let raws: Vec<String> = signed
        .par_iter()
        .map(|t| alloy_primitives::hex::encode_prefixed(t.tx.encoded_2718()))
        .collect();
    let batches: Vec<(usize, String)> = raws
        .chunks(config.batch)
        .enumerate()
        .map(|(b, chunk)| {
            let first = b * config.batch;
            (first, batch_body(first, chunk))
        })
        .collect();

    let store_before = process.as_ref().and_then(|p| p.datadir_size());

    // 4 + 5. Send and track inclusion.
    let state = Arc::new(LiveState::default());
    let start_block = rpc.call_u64("eth_blockNumber", json!([])).await?;
    let clock = Instant::now();
    let tracker = tokio::spawn(track_inclusion(
        rpc.clone(),
        start_block,
        hashes,
        state.clone(),
        clock,
        Duration::from_secs(config.timeout),
    ));
    let ticker = progress.then(|| {
        tokio::spawn(progress_line(
            label.clone(),
            config.txs,
            state.clone(),
            clock,
        ))
    });
    let outcomes = send_all(config, &url, &ws_url, batches, raws, &state, clock).await;
    state.sending_done.store(true, Ordering::SeqCst);
    let send_secs = clock.elapsed().as_secs_f64();
    let seen = tracker.await.map_err(|e| format!("tracker: {e}"))??;
    state.finished.store(true, Ordering::SeqCst);
    if let Some(t) = ticker {
        let _ = t.await;
    }

    let store_after = process.as_ref().and_then(|p| p.datadir_size());
    let peak_rss = process.as_ref().and_then(|p| p.peak_rss());
    let log_problems = process
        .as_ref()
        .map(|p| p.log_problems())
        .unwrap_or_default();
    if let Some(p) = process.take() {
        p.stop();
    }

    let mut report = summarize(&label, config, chain_id, outcomes, seen);
    report.send_secs = send_secs;
    report.setup_secs = setup_secs;
    report.sign_secs = sign_secs;
    report.store_growth = match (store_before, store_after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    };
    report.store_size = store_after;
    report.peak_rss = peak_rss;
    report.log_problems = log_problems;

    // 6. Ceilings, with the target stopped.
    if config.ceilings {
        if progress {
            eprintln!("[loadgen] measuring ceilings on the same transactions");
        }
        report.ceilings = Some(measure_ceilings(
            config,
            chain_id,
            &senders,
            &start_nonces,
            &dev0,
            setup.as_ref(),
            &signed,
        )?);
    }
    Ok(report)
}

fn url_label(config: &Config) -> String {
    config.url.clone().unwrap_or_else(|| "url".into())
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC over HTTP

/// A minimal JSON-RPC client over HTTP (one reqwest client, so one connection pool).
#[derive(Clone)]
struct Rpc {
    client: reqwest::Client,
    url: String,
}

impl Rpc {
    fn new(url: String) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("reqwest client");
        Self { client, url }
    }

    async fn post(&self, body: String) -> Result<Value> {
        let response = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "HTTP {status}: {e}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )
            .into()
        })
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self.post(body.to_string()).await?;
        match response.get("error") {
            Some(e) => Err(format!("{method}: {}", error_message(e)).into()),
            None => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    async fn call_u64(&self, method: &str, params: Value) -> Result<u64> {
        hex_u64(&self.call(method, params).await?)
    }

    /// One batch; the results in call order.
    async fn batch(&self, calls: &[(&str, Value)]) -> Result<Vec<Result<Value, String>>> {
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": i, "method": m, "params": p}))
            .collect();
        let response = self.post(Value::Array(body).to_string()).await?;
        let mut out: Vec<Result<Value, String>> =
            vec![Err("no response for this call".into()); calls.len()];
        let items = response
            .as_array()
            .ok_or_else(|| format!("batch answered with {response}"))?;
        for item in items {
            let Some(id) = item.get("id").and_then(Value::as_u64) else {
                continue;
            };
            if let Some(slot) = out.get_mut(id as usize) {
                *slot = match item.get("error") {
                    Some(e) => Err(error_message(e)),
                    None => Ok(item.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
        }
        Ok(out)
    }
}

fn error_message(e: &Value) -> String {
    e.get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| e.to_string())
}

fn hex_u64(v: &Value) -> Result<u64> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("expected a hex number, got {v}"))?;
    Ok(u64::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

/// The body of one batch of `eth_sendRawTransaction` calls; ids are the transaction indexes.
fn batch_body(first: usize, raws: &[String]) -> String {
    let mut body = String::with_capacity(raws.iter().map(|r| r.len() + 80).sum::<usize>() + 2);
    body.push('[');
    for (i, raw) in raws.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"eth_sendRawTransaction","params":["{raw}"]}}"#,
            first + i
        ));
    }
    body.push(']');
    body
}

/// Error messages with their numbers blanked, so that e.g. every "nonce too low: have 3,
/// want 5" counts as one kind.
pub fn normalize_error(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_number = false;
    for c in message.chars() {
        if c.is_ascii_hexdigit() && (in_number || c.is_ascii_digit()) {
            if !in_number {
                out.push('#');
                in_number = true;
            }
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out.chars().take(120).collect()
}

// ---------------------------------------------------------------------------------------------
// Started processes

/// A process loadgen started (node or anvil); stopped on drop.
struct Started {
    child: Option<Child>,
    url: String,
    ws_url: String,
    datadir: Option<PathBuf>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Started {
    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn datadir_size(&self) -> Option<u64> {
        self.datadir.as_deref().map(dir_size)
    }

    /// VmHWM of the process, bytes.
    fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// Warning and error lines of the log: their count and the first ten.
    fn log_problems(&self) -> (usize, Vec<String>) {
        let Ok(text) = std::fs::read_to_string(&self.log) else {
            return (0, Vec::new());
        };
        let lines: Vec<String> = text
            .lines()
            .map(strip_ansi)
            .filter(|l| {
                l.contains(" WARN ")
                    || l.contains(" ERROR ")
                    || l.contains("panicked")
                    || l.to_ascii_lowercase().contains("error:")
            })
            .collect();
        (lines.len(), lines.into_iter().take(10).collect())
    }

    /// SIGTERM, up to 10 s for a clean exit, then SIGKILL.
    fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Total size of the regular files under `dir`, bytes.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Waits until the started process answers `eth_chainId` (60 s at most); the error carries
/// the tail of its log.
async fn wait_ready(started: &mut Started, what: &str) -> Result<()> {
    let url = started.url.clone();
    let Err(e) = wait_for_chain_id(&url, started.child.as_mut(), Duration::from_secs(60)).await
    else {
        return Ok(());
    };
    let log = std::fs::read_to_string(&started.log).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(20).collect();
    Err(format!(
        "{what}: {e}; log tail:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )
    .into())
}

async fn start_node(config: &Config, senders: &[Address]) -> Result<Started> {
    let bin = config
        .node_bin
        .clone()
        .unwrap_or_else(|| workspace_root().join("target/release/rollup-node"));
    if !bin.exists() {
        return Err(format!(
            "{} not found: cargo build --release -p rollup-node (or pass --node-bin)",
            bin.display()
        )
        .into());
    }
    let dir = tempfile::Builder::new().prefix("loadgen-node-").tempdir()?;
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, genesis_json(senders)?)?;
    let datadir = dir.path().join("data");
    let port = free_port();
    let mut command = Command::new(&bin);
    command
        .arg("--datadir")
        .arg(&datadir)
        .arg("--genesis")
        .arg(&genesis)
        .args(["--http.port", &port.to_string()])
        .args(["--ws.port", &port.to_string()])
        .args(["--block-time", &config.block_time])
        .args(["--gas-limit", &config.gas_limit.to_string()]);
    if let Some(history) = config.state_history {
        command.args(["--state-history", &history.to_string()]);
    }
    command.env("NO_COLOR", "1").env_remove("RUST_LOG");
    spawn_ready(command, "rollup-node", dir, port, Some(datadir)).await
}

/// Starts `command` (serving JSON-RPC on 127.0.0.1:`port`, HTTP and WS) with its output in
/// `<dir>/<name>.log` and `.stderr`, and waits until it answers.
async fn spawn_ready(
    mut command: Command,
    name: &str,
    dir: tempfile::TempDir,
    port: u16,
    datadir: Option<PathBuf>,
) -> Result<Started> {
    let log = dir.path().join(format!("{name}.log"));
    let child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(
            dir.path().join(format!("{name}.stderr")),
        )?)
        .spawn()
        .map_err(|e| {
            let program = PathBuf::from(command.get_program());
            format!("cannot start {}: {e}", program.display())
        })?;
    let mut started = Started {
        child: Some(child),
        url: format!("http://127.0.0.1:{port}"),
        ws_url: format!("ws://127.0.0.1:{port}"),
        datadir,
        log,
        _dir: dir,
    };
    wait_ready(&mut started, name).await?;
    Ok(started)
}

async fn start_anvil(config: &Config) -> Result<Started> {
    let bin = config
        .anvil_bin
        .clone()
        .unwrap_or_else(|| npm_bin_dir().join("anvil"));
    if !bin.exists() {
        return Err(format!(
            "{} not found: run scripts/install-deps.sh (or pass --anvil-bin)",
            bin.display()
        )
        .into());
    }
    let dir = tempfile::Builder::new()
        .prefix("loadgen-anvil-")
        .tempdir()?;
    let port = free_port();
    let mut command = anvil::command(&bin, port);
    command.args([
        "--block-time",
        "1",
        "--gas-limit",
        "3000000000",
        "--accounts",
        "0",
    ]);
    spawn_ready(command, "anvil", dir, port, None).await
}

// ---------------------------------------------------------------------------------------------
// Signing and setup

/// Signs one EIP-1559 transaction with the load's fees.
fn sign_1559(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
) -> Result<OpTxEnvelope> {
    let fees = (LOAD_MAX_FEE, LOAD_TIP);
    crate::sign_eip1559(key, chain_id, nonce, gas_limit, to, value, input, fees)
}

/// Whether timed transaction `k` is an ERC20 transfer.
fn is_erc20(workload: LoadWorkload, k: usize) -> bool {
    match workload {
        LoadWorkload::Eth | LoadWorkload::Swap => false,
        LoadWorkload::Erc20 => true,
        LoadWorkload::Mix => k % 2 == 1,
    }
}

/// The timed transactions: `k` from sender `k mod N` with nonce `start + k / N`, to fresh
/// recipient `k`. Senders are the keys' addresses (not recovered).
fn sign_load(
    config: &Config,
    keys: &[PrivateKeySigner],
    start_nonces: &[u64],
    chain_id: u64,
    setup: Option<&Setup>,
) -> Result<Vec<ExecutableTx>> {
    let token = setup.and_then(|s| s.token);
    let pool = setup.and_then(|s| s.pool);
    let n = keys.len();
    (0..config.txs)
        .into_par_iter()
        .map(|k| {
            let sender = k % n;
            let key = &keys[sender];
            let nonce = start_nonces[sender] + (k / n) as u64;
            let tx = if let Some(pool) = &pool {
                let (gas, to, value, input) = pool.swap_call(key.address());
                sign_1559(key, chain_id, nonce, gas, to, value, input)?
            } else if is_erc20(config.workload, k) {
                let token = token.ok_or("no token deployed")?;
                let input = IERC20::transferCall {
                    to: recipient(k),
                    amount: U256::from(TOKENS_PER_TRANSFER),
                }
                .abi_encode();
                sign_1559(
                    key,
                    chain_id,
                    nonce,
                    ERC20_GAS,
                    TxKind::Call(token),
                    U256::ZERO,
                    input.into(),
                )?
            } else {
                sign_1559(
                    key,
                    chain_id,
                    nonce,
                    ETH_GAS,
                    TxKind::Call(recipient(k)),
                    U256::from(ETH_TRANSFER_VALUE),
                    Bytes::new(),
                )?
            };
            Ok(ExecutableTx {
                tx,
                sender: key.address(),
            })
        })
        .collect()
}

/// Sends `txs` (all from one account, consecutive nonces ending at `until - 1`) and waits until
/// the account's mined nonce reaches `until`. At most 1,000 are in flight at once: the node's
/// pool refuses nonces more than `--txpool.max-nonce-gap` (1,024) above the *state* nonce, even
/// when the pool holds every nonce in between.
async fn send_in_order(rpc: &Rpc, txs: &[OpTxEnvelope], from: Address, until: u64) -> Result<()> {
    let first = until - txs.len() as u64;
    let mut sent = 0u64;
    for window in txs.chunks(1000) {
        for chunk in window.chunks(500) {
            let raws: Vec<String> = chunk
                .iter()
                .map(|t| alloy_primitives::hex::encode_prefixed(t.encoded_2718()))
                .collect();
            let response = rpc.post(batch_body(0, &raws)).await?;
            for item in response
                .as_array()
                .ok_or_else(|| format!("batch answered with {response}"))?
            {
                if let Some(e) = item.get("error") {
                    return Err(format!("setup transaction rejected: {}", error_message(e)).into());
                }
            }
        }
        sent += window.len() as u64;
        wait_nonce(rpc, from, first + sent).await?;
    }
    Ok(())
}

/// Waits (up to 120 s) until `from`'s mined nonce reaches `nonce`.
async fn wait_nonce(rpc: &Rpc, from: Address, nonce: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mined = rpc
            .call_u64("eth_getTransactionCount", json!([from, "latest"]))
            .await?;
        if mined >= nonce {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(
                format!("setup: {from} still at nonce {mined} of {nonce} after 120 s").into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn receipt_ok(rpc: &Rpc, hash: B256) -> Result<Value> {
    let receipt = rpc.call("eth_getTransactionReceipt", json!([hash])).await?;
    if receipt.get("status").and_then(Value::as_str) != Some("0x1") {
        return Err(format!("setup transaction {hash} failed: {receipt}").into());
    }
    Ok(receipt)
}

async fn fund_senders(
    rpc: &Rpc,
    dev0: &PrivateKeySigner,
    chain_id: u64,
    senders: &[Address],
    amount: U256,
    progress: bool,
) -> Result<()> {
    if progress {
        eprintln!(
            "[loadgen] funding {} senders with {amount} wei each from {}",
            senders.len(),
            dev0.address()
        );
    }
    let nonce = rpc
        .call_u64(
            "eth_getTransactionCount",
            json!([dev0.address(), "pending"]),
        )
        .await?;
    let txs: Vec<OpTxEnvelope> = senders
        .par_iter()
        .enumerate()
        .map(|(i, to)| {
            sign_1559(
                dev0,
                chain_id,
                nonce + i as u64,
                ETH_GAS,
                TxKind::Call(*to),
                amount,
                Bytes::new(),
            )
        })
        .collect::<Result<_>>()?;
    send_in_order(rpc, &txs, dev0.address(), nonce + txs.len() as u64).await?;
    receipt_ok(rpc, txs.last().expect("senders").tx_hash()).await?;
    Ok(())
}

/// The setup transactions of the token: the deployment (nonce `nonce`) and one transfer of
/// [`TOKENS_PER_SENDER`] to every sender. Also used to rebuild the state in memory.
fn token_setup_txs(
    dev0: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    senders: &[Address],
) -> Result<(Address, Vec<OpTxEnvelope>)> {
    let supply = U256::from(TOKENS_PER_SENDER) * U256::from(senders.len()) * U256::from(2);
    let token = dev0.address().create(nonce);
    let mut txs = vec![sign_1559(
        dev0,
        chain_id,
        nonce,
        DEPLOY_GAS,
        TxKind::Create,
        U256::ZERO,
        token_initcode(supply)?,
    )?];
    let amount = U256::from(TOKENS_PER_SENDER);
    txs.par_extend(senders.par_iter().enumerate().map(|(i, to)| {
        sign_1559(
            dev0,
            chain_id,
            nonce + 1 + i as u64,
            ERC20_GAS,
            TxKind::Call(token),
            U256::ZERO,
            IERC20::transferCall { to: *to, amount }.abi_encode().into(),
        )
        .expect("signing with a valid key")
    }));
    Ok((token, txs))
}

/// Deploys what `workload` needs from dev account 0: the token and its distribution
/// (`erc20`, `mix`), or the Uniswap pool (`swap`).
async fn setup(
    rpc: &Rpc,
    dev0: &PrivateKeySigner,
    chain_id: u64,
    senders: &[Address],
    workload: LoadWorkload,
    progress: bool,
) -> Result<Setup> {
    let nonce = rpc
        .call_u64(
            "eth_getTransactionCount",
            json!([dev0.address(), "pending"]),
        )
        .await?;
    let (token, pool, txs) = if workload == LoadWorkload::Swap {
        if progress {
            eprintln!(
                "[loadgen] deploying WETH9, the Uniswap V2 factory and router and a pool from {} (nonce {nonce})",
                dev0.address()
            );
        }
        let (pool, txs) = uniswap::setup_txs(dev0, chain_id, nonce)?;
        let txs: Vec<OpTxEnvelope> = txs.into_iter().map(|t| t.tx).collect();
        (Some(pool.token), Some(pool), txs)
    } else {
        if progress {
            eprintln!(
                "[loadgen] deploying TestToken from {} (nonce {nonce}) and handing 1000 tokens to {} senders",
                dev0.address(),
                senders.len()
            );
        }
        let (token, txs) = token_setup_txs(dev0, chain_id, nonce, senders)?;
        (Some(token), None, txs)
    };
    send_in_order(rpc, &txs, dev0.address(), nonce + txs.len() as u64).await?;
    // The deployments (and the first transfers), and the last transaction, succeeded.
    let mut receipts = Vec::new();
    for tx in txs.iter().take(6).chain(txs.last()) {
        receipts.push(receipt_ok(rpc, tx.tx_hash()).await?);
    }
    let deployed = receipts[if pool.is_some() { 3 } else { 0 }]
        .get("contractAddress")
        .and_then(Value::as_str)
        .ok_or("deployment receipt has no contractAddress")?;
    if Some(deployed.parse::<Address>()?) != token {
        return Err(format!("token deployed at {deployed}, expected {token:?}").into());
    }
    Ok(Setup {
        token,
        pool,
        dev_nonce: nonce,
        txs,
    })
}

// ---------------------------------------------------------------------------------------------
// Sending and tracking

/// Counters shared by the senders, the tracker and the progress line.
#[derive(Default)]
struct LiveState {
    sent: AtomicUsize,
    accepted: AtomicUsize,
    errors: AtomicUsize,
    included: AtomicUsize,
    blocks: AtomicUsize,
    sending_done: AtomicBool,
    finished: AtomicBool,
}

/// Per transaction: when its batch left (seconds after the clock) and the RPC error, if any.
struct SendOutcome {
    sent_at: Vec<f64>,
    error: Vec<Option<String>>,
    /// Round trip of every batch, seconds.
    batch_rtt: Vec<f64>,
}

async fn send_all(
    config: &Config,
    url: &str,
    ws_url: &str,
    batches: Vec<(usize, String)>,
    raws: Vec<String>,
    state: &Arc<LiveState>,
    clock: Instant,
) -> SendOutcome {
    let total = raws.len();
    let batches = Arc::new(batches);
    let raws = Arc::new(raws);
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(SendOutcome {
        sent_at: vec![f64::NAN; total],
        error: vec![None; total],
        batch_rtt: Vec::new(),
    }));
    let mut tasks = Vec::new();
    for _ in 0..config.connections {
        let batches = batches.clone();
        let raws = raws.clone();
        let next = next.clone();
        let results = results.clone();
        let state = state.clone();
        let url = url.to_string();
        let ws_url = ws_url.to_string();
        let ws = config.ws;
        let batch_len = config.batch;
        tasks.push(tokio::spawn(async move {
            let ws_client = if ws {
                match ClientBuilder::default().ws(WsConnect::new(ws_url)).await {
                    Ok(c) => Some(c),
                    Err(e) => {
                        eprintln!("[loadgen] WebSocket connect failed: {e}");
                        None
                    }
                }
            } else {
                None
            };
            let http = Rpc::new(url);
            loop {
                let b = next.fetch_add(1, Ordering::SeqCst);
                let Some((first, body)) = batches.get(b) else {
                    break;
                };
                let first = *first;
                let len = batch_len.min(total - first);
                let sent_at = clock.elapsed().as_secs_f64();
                state.sent.fetch_add(len, Ordering::Relaxed);
                let answers: Vec<Option<String>> = match (&ws_client, ws) {
                    (Some(client), _) => {
                        let mut batch = client.new_batch();
                        let mut waiters = Vec::with_capacity(len);
                        for raw in &raws[first..first + len] {
                            let raw: Bytes = raw.parse().expect("hex we encoded");
                            waiters
                                .push(batch.add_call::<_, B256>("eth_sendRawTransaction", &(raw,)));
                        }
                        match batch.send().await {
                            Err(e) => vec![Some(format!("batch failed: {e}")); len],
                            Ok(()) => {
                                let mut out = Vec::with_capacity(len);
                                for w in waiters {
                                    out.push(match w {
                                        Err(e) => Some(e.to_string()),
                                        Ok(w) => match w.await {
                                            Ok(_) => None,
                                            Err(e) => Some(
                                                e.as_error_resp()
                                                    .map(|p| p.message.to_string())
                                                    .unwrap_or_else(|| e.to_string()),
                                            ),
                                        },
                                    });
                                }
                                out
                            }
                        }
                    }
                    (None, true) => vec![Some("no WebSocket connection".into()); len],
                    (None, false) => match http.post(body.clone()).await {
                        Err(e) => vec![Some(format!("batch failed: {e}")); len],
                        Ok(Value::Array(items)) => {
                            let mut out = vec![Some("no response for this call".into()); len];
                            for item in items {
                                let Some(id) = item.get("id").and_then(Value::as_u64) else {
                                    continue;
                                };
                                let Some(i) = (id as usize).checked_sub(first) else {
                                    continue;
                                };
                                if i < len {
                                    out[i] = item.get("error").map(error_message);
                                }
                            }
                            out
                        }
                        Ok(other) => {
                            let msg = other
                                .get("error")
                                .map(error_message)
                                .unwrap_or_else(|| other.to_string());
                            vec![Some(format!("batch rejected: {msg}")); len]
                        }
                    },
                };
                let errors = answers.iter().filter(|a| a.is_some()).count();
                state.accepted.fetch_add(len - errors, Ordering::Relaxed);
                state.errors.fetch_add(errors, Ordering::Relaxed);
                let rtt = clock.elapsed().as_secs_f64() - sent_at;
                let mut r = results.lock().expect("results lock");
                r.batch_rtt.push(rtt);
                for (i, answer) in answers.into_iter().enumerate() {
                    r.sent_at[first + i] = sent_at;
                    r.error[first + i] = answer;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut r = results.lock().expect("results lock");
    SendOutcome {
        sent_at: std::mem::take(&mut r.sent_at),
        error: std::mem::take(&mut r.error),
        batch_rtt: std::mem::take(&mut r.batch_rtt),
    }
}

/// What the tracker saw: per transaction the time its block was first seen, and the blocks.
struct Seen {
    included_at: Vec<Option<f64>>,
    blocks: Vec<BlockSeen>,
}

async fn track_inclusion(
    rpc: Rpc,
    start_block: u64,
    hashes: HashMap<B256, usize>,
    state: Arc<LiveState>,
    clock: Instant,
    timeout: Duration,
) -> Result<Seen> {
    let mut included_at = vec![None; hashes.len()];
    let mut blocks = Vec::new();
    let mut next = start_block + 1;
    let mut done_since: Option<Instant> = None;
    let mut errors_in_a_row = 0;
    loop {
        let head = match rpc.call_u64("eth_blockNumber", json!([])).await {
            Ok(h) => {
                errors_in_a_row = 0;
                h
            }
            Err(e) => {
                errors_in_a_row += 1;
                if errors_in_a_row > 50 {
                    return Err(format!("eth_blockNumber keeps failing: {e}").into());
                }
                next.saturating_sub(1)
            }
        };
        let seen_at = clock.elapsed().as_secs_f64();
        while next <= head {
            let block = rpc
                .call("eth_getBlockByNumber", json!([format!("{next:#x}"), false]))
                .await?;
            if block.is_null() {
                break;
            }
            let txs = block
                .get("transactions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut ours = 0;
            for h in &txs {
                let Some(hash) = h.as_str().and_then(|s| s.parse::<B256>().ok()) else {
                    continue;
                };
                if let Some(&i) = hashes.get(&hash) {
                    if included_at[i].is_none() {
                        included_at[i] = Some(seen_at);
                        ours += 1;
                    }
                }
            }
            state.included.fetch_add(ours, Ordering::Relaxed);
            state.blocks.fetch_add(1, Ordering::Relaxed);
            blocks.push(BlockSeen {
                number: next,
                seen_at,
                txs: txs.len(),
                ours,
                gas_used: block.get("gasUsed").map(hex_u64).transpose()?.unwrap_or(0),
                timestamp: block
                    .get("timestamp")
                    .map(hex_u64)
                    .transpose()?
                    .unwrap_or(0),
            });
            next += 1;
        }
        if state.sending_done.load(Ordering::SeqCst) {
            let since = *done_since.get_or_insert_with(Instant::now);
            let included = state.included.load(Ordering::Relaxed);
            let accepted = state.accepted.load(Ordering::Relaxed);
            if included >= accepted || included == hashes.len() || since.elapsed() > timeout {
                break;
            }
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(Seen {
        included_at,
        blocks,
    })
}

async fn progress_line(label: String, total: usize, state: Arc<LiveState>, clock: Instant) {
    use std::io::Write;
    loop {
        let done = state.finished.load(Ordering::SeqCst);
        eprint!(
            "\r[{label}] {:>6.1}s  sent {}/{total}  accepted {}  rpc errors {}  included {}  blocks {}   ",
            clock.elapsed().as_secs_f64(),
            state.sent.load(Ordering::Relaxed),
            state.accepted.load(Ordering::Relaxed),
            state.errors.load(Ordering::Relaxed),
            state.included.load(Ordering::Relaxed),
            state.blocks.load(Ordering::Relaxed),
        );
        let _ = std::io::stderr().flush();
        if done {
            eprintln!();
            return;
        }
        for _ in 0..10 {
            if state.finished.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summarize(label: &str, config: &Config, chain_id: u64, sent: SendOutcome, seen: Seen) -> Report {
    let total = sent.sent_at.len();
    let mut errors = BTreeMap::new();
    for e in sent.error.iter().flatten() {
        *errors.entry(normalize_error(e)).or_insert(0) += 1;
    }
    let rpc_errors = sent.error.iter().filter(|e| e.is_some()).count();
    let mut latencies = Vec::new();
    let mut last_inclusion: f64 = 0.0;
    for (i, at) in seen.included_at.iter().enumerate() {
        if let Some(at) = at {
            latencies.push((at - sent.sent_at[i]).max(0.0));
            last_inclusion = last_inclusion.max(*at);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let included = latencies.len();
    let mut rtt = sent.batch_rtt.clone();
    rtt.sort_by(f64::total_cmp);
    let first_send = sent
        .sent_at
        .iter()
        .copied()
        .filter(|t| t.is_finite())
        .fold(f64::INFINITY, f64::min);
    let window = (last_inclusion - first_send.min(last_inclusion)).max(1e-9);
    let used: Vec<&BlockSeen> = seen.blocks.iter().filter(|b| b.ours > 0).collect();
    let gas: u64 = used.iter().map(|b| b.gas_used).sum();
    Report {
        target: label.to_string(),
        workload: format!("{:?}", config.workload).to_lowercase(),
        batch_size: config.batch,
        chain_id,
        sent: total,
        accepted: total - rpc_errors,
        rpc_errors,
        errors,
        included,
        failed: total - included,
        inclusion_secs: if included > 0 { window } else { 0.0 },
        tps: if included > 0 {
            included as f64 / window
        } else {
            0.0
        },
        gas_per_sec: if included > 0 {
            gas as f64 / window
        } else {
            0.0
        },
        latency_p50: percentile(&latencies, 50.0),
        latency_p99: percentile(&latencies, 99.0),
        latency_max: latencies.last().copied().unwrap_or(f64::NAN),
        batch_rtt: (
            percentile(&rtt, 50.0),
            percentile(&rtt, 99.0),
            rtt.last().copied().unwrap_or(f64::NAN),
        ),
        blocks_used: used.len(),
        blocks: seen.blocks,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Ceilings

/// Sender recovery on all cores, and execution of the same transactions with [`BlockBuilder`]
/// over a [`MemoryState`] holding the same genesis (and token setup), in blocks of
/// `--gas-limit` gas.
fn measure_ceilings(
    config: &Config,
    chain_id: u64,
    senders: &[Address],
    start_nonces: &[u64],
    dev0: &PrivateKeySigner,
    setup: Option<&Setup>,
    txs: &[ExecutableTx],
) -> Result<Ceilings> {
    let n = txs.len() as f64;
    // (a) Sender recovery.
    let started = Instant::now();
    let recovered: Vec<Address> = txs
        .par_iter()
        .map(|t| t.tx.recover_signer())
        .collect::<Result<_, _>>()?;
    let recover = started.elapsed().as_secs_f64();
    if recovered.iter().zip(txs).any(|(r, t)| *r != t.sender) {
        return Err("recovered a wrong sender".into());
    }

    // (b) In-memory revm. Genesis: the node's (senders funded), with the endpoint's chain id
    // and the senders' (and dev account 0's) starting nonces.
    let mut genesis: Value = serde_json::from_str(&genesis_json(senders)?)?;
    genesis["config"]["chainId"] = json!(chain_id);
    let alloc = genesis["alloc"]
        .as_object_mut()
        .ok_or("genesis has no alloc")?;
    for (address, nonce) in senders.iter().zip(start_nonces) {
        if *nonce > 0 {
            alloc[&address.to_checksum(None)]["nonce"] = json!(format!("{nonce:#x}"));
        }
    }
    if let Some(nonce) = setup.map(|s| s.dev_nonce).filter(|n| *n > 0) {
        let key = alloc
            .keys()
            .find(|k| k.parse::<Address>().ok() == Some(dev0.address()))
            .cloned()
            .unwrap_or_else(|| dev0.address().to_checksum(None));
        alloc
            .entry(key)
            .or_insert_with(|| json!({"balance": format!("{:#x}", U256::from(SENDER_BALANCE))}))
            ["nonce"] = json!(format!("{nonce:#x}"));
    }
    let genesis = ChainGenesis::from_json(&genesis.to_string())?;
    let block0 = genesis.build()?;
    let mut memory = MemoryState::new();
    memory.apply(&block0);
    let mut parent = (block0.header.clone(), block0.hash);
    let gas_limit = config.gas_limit;

    if let Some(setup) = setup {
        let setup: Vec<ExecutableTx> = setup
            .txs
            .iter()
            .map(|tx| ExecutableTx {
                tx: tx.clone(),
                sender: dev0.address(),
            })
            .collect();
        run_blocks(&genesis.spec, &mut memory, &mut parent, gas_limit, &setup)?;
    }
    let (execute, finish, blocks) =
        run_blocks(&genesis.spec, &mut memory, &mut parent, gas_limit, txs)?;
    Ok(Ceilings {
        recover_tps: n / recover,
        execute_tps: n / execute,
        execute_finish_tps: n / (execute + finish),
        blocks,
        threads: rayon::current_num_threads(),
    })
}

/// Executes `txs` in order in as many blocks as needed; returns the seconds spent in
/// `new` + `execute`, in `finish`, and the number of blocks. Every transaction must succeed.
fn run_blocks(
    spec: &fraud_vm::chain::ChainSpec,
    memory: &mut MemoryState,
    parent: &mut (alloy_consensus::Header, B256),
    gas_limit: u64,
    txs: &[ExecutableTx],
) -> Result<(f64, f64, usize)> {
    let (mut execute, mut finish, mut blocks) = (0.0, 0.0, 0);
    let mut pending = txs.iter().peekable();
    while pending.peek().is_some() {
        let attributes = BlockAttributes {
            timestamp: parent.0.timestamp + 1,
            gas_limit,
            prevrandao: keccak256(parent.1),
            extra_data: Bytes::new(),
        };
        let started = Instant::now();
        let mut builder = BlockBuilder::new(spec, &*memory, &parent.0, parent.1, attributes);
        while let Some(tx) = pending.peek() {
            let empty = builder.is_empty();
            match builder.execute((*tx).clone()) {
                Ok(_) => {
                    pending.next();
                }
                Err(TxRejection::BlockFull) if !empty => break,
                Err(e) => {
                    return Err(format!("in-memory execution rejected a transaction: {e}").into())
                }
            }
        }
        let executed = Instant::now();
        let block = builder.finish()?;
        let finished = Instant::now();
        if let Some(i) = block.receipts.iter().position(|r| !r.status()) {
            return Err(format!(
                "in-memory transaction {i} of block {} reverted",
                block.header.number
            )
            .into());
        }
        execute += (executed - started).as_secs_f64();
        finish += (finished - executed).as_secs_f64();
        blocks += 1;
        memory.apply(&block);
        *parent = (block.header.clone(), block.hash);
    }
    Ok((execute, finish, blocks))
}

// ---------------------------------------------------------------------------------------------
// Output

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl Report {
    /// Counts that must add up: accepted + errors = sent, included + failed = sent.
    pub fn check_counts(&self) -> Result<()> {
        if self.accepted + self.rpc_errors != self.sent {
            return Err(format!(
                "accepted {} + rpc errors {} != sent {}",
                self.accepted, self.rpc_errors, self.sent
            )
            .into());
        }
        if self.included + self.failed != self.sent {
            return Err(format!(
                "included {} + failed {} != sent {}",
                self.included, self.failed, self.sent
            )
            .into());
        }
        if self.errors.values().sum::<usize>() != self.rpc_errors {
            return Err("error kinds do not add up to the rpc errors".into());
        }
        if self.blocks.iter().map(|b| b.ours).sum::<usize>() != self.included {
            return Err("per-block counts do not add up to the included transactions".into());
        }
        Ok(())
    }

    /// The run as Markdown: results, errors, blocks.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let opt = |v: Option<u64>| v.map(mib).unwrap_or_else(|| "–".into());
        s += &format!(
            "### {} — {} workload, chain id {}\n\n",
            self.target, self.workload, self.chain_id
        );
        s += "| sent | accepted | rpc errors | included | failed | send s | inclusion s | included TPS | Mgas/s | latency p50 / p99 / max s | blocks used | store growth | store size | peak RSS |\n";
        s += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n";
        s += &format!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} | **{:.0}** | {:.1} | {:.2} / {:.2} / {:.2} | {} | {} | {} | {} |\n\n",
            self.sent,
            self.accepted,
            self.rpc_errors,
            self.included,
            self.failed,
            self.send_secs,
            self.inclusion_secs,
            self.tps,
            self.gas_per_sec / 1e6,
            self.latency_p50,
            self.latency_p99,
            self.latency_max,
            self.blocks_used,
            opt(self.store_growth),
            opt(self.store_size),
            opt(self.peak_rss),
        );
        s += &format!(
            "Batch round trip ({} calls) p50 / p99 / max: {:.3} / {:.3} / {:.3} s. \
             Untimed: setup {:.1} s, signing {:.1} s.\n\n",
            self.batch_size,
            self.batch_rtt.0,
            self.batch_rtt.1,
            self.batch_rtt.2,
            self.setup_secs,
            self.sign_secs
        );
        if !self.errors.is_empty() {
            s += "| RPC error | count |\n|---|---:|\n";
            for (msg, count) in &self.errors {
                s += &format!("| {} | {count} |\n", msg.replace('|', "\\|"));
            }
            s += "\n";
        }
        if self.log_problems.0 > 0 {
            s += &format!(
                "{} warning/error lines in the {} log; first ones:\n\n```\n{}\n```\n\n",
                self.log_problems.0,
                self.target,
                self.log_problems.1.join("\n")
            );
        }
        s += "| block | seen at s | txs | load txs | gas used | timestamp |\n|---:|---:|---:|---:|---:|---:|\n";
        let shown: Vec<&BlockSeen> = if self.blocks.len() > 40 {
            self.blocks.iter().filter(|b| b.txs > 0).take(40).collect()
        } else {
            self.blocks.iter().collect()
        };
        for b in shown {
            s += &format!(
                "| {} | {:.2} | {} | {} | {} | {} |\n",
                b.number, b.seen_at, b.txs, b.ours, b.gas_used, b.timestamp
            );
        }
        s
    }

    /// The comparison table: the node's included TPS, the ceilings and optionally anvil's.
    pub fn render_ceilings(&self, anvil: Option<&Report>) -> String {
        let mut s = String::new();
        s += "| stage | tx/s | ratio to node's included TPS |\n|---|---:|---:|\n";
        let base = self.tps;
        let row = |name: &str, v: f64| format!("| {name} | {v:.0} | {:.2}× |\n", v / base);
        s += &row(&format!("{} included (sustained)", self.target), base);
        if let Some(c) = &self.ceilings {
            s += &row(
                &format!("sender recovery, {} threads", c.threads),
                c.recover_tps,
            );
            s += &row(
                &format!("revm in memory: execute only ({} blocks)", c.blocks),
                c.execute_tps,
            );
            s += &row("revm in memory: execute + finish", c.execute_finish_tps);
        }
        if let Some(a) = anvil {
            s += &row("anvil included (sustained)", a.tps);
            s += &format!(
                "\nnode TPS / anvil TPS = **{:.2}**\n",
                if a.tps > 0.0 { base / a.tps } else { f64::NAN }
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_normalize() {
        assert_eq!(
            normalize_error("nonce too low: have 3, want 15"),
            "nonce too low: have #, want #"
        );
        assert_eq!(
            normalize_error("transaction underpriced: fee cap 100 below base fee 7"),
            "transaction underpriced: fee cap # below base fee #"
        );
    }

    #[test]
    fn defaults_parse() {
        let c = Config::defaults();
        assert_eq!(c.target, Target::Node);
        assert_eq!(
            (c.accounts, c.txs, c.batch, c.connections),
            (2000, 20_000, 500, 4)
        );
        assert!(c.ceilings);
    }

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
    }
}
