//! `rollup-node`: the L2 node. With no flags it runs a dev chain.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use alloy::signers::local::PrivateKeySigner;
use clap::Parser;
use fraud_vm::deposit::Deployment;
use rollup_node::{
    follower::L1Config,
    mempool::PoolConfig,
    node::{BatcherSettings, Node, NodeConfig, ProposerSettings, DEV_GENESIS},
    rpc::RpcConfig,
    store::StoreOptions,
};
use tracing_subscriber::EnvFilter;

/// jemalloc instead of the system allocator: sled copies pages on every write, and under load
/// glibc's malloc fragmented (time in its free-list upkeep grew to a fifth of the node's CPU
/// and resident memory kept growing).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The L2 execution node of the rollup: a sequencer that executes transactions with revm
/// (Cancun rules), commits every block's state to a binary sparse Merkle tree, stores the
/// chain in sled and serves the Ethereum JSON-RPC over HTTP and WebSocket.
///
/// With no flags it runs a dev chain: data in ./rollup-data, the bundled dev genesis (chain id
/// 42069; the `test test ... junk` mnemonic's first 10 accounts hold 10000 ETH each), JSON-RPC
/// on 127.0.0.1:8545 (HTTP+WS) and 127.0.0.1:8546 (WS), one block per second.
///
/// With --l1.rpc and --deployment it follows that L1: each block takes the newest L1 block at
/// least --l1.confirmations deep as its L1 origin and includes the deposits queued on L1 up to
/// it (exactly once, across restarts). Without them there are no deposits.
///
/// Example: rollup-node --datadir /tmp/l2 --block-time 250ms --http.port 9545
///
/// With --batcher.key it posts its blocks to the L1 Inbox; with --proposer.key it proposes
/// output roots of batched blocks; with --replica it runs no sequencer and rebuilds the chain
/// from L1 alone.
///
/// Example with an L1 (deploy first with `bridge deploy --out deployment.json`):
/// rollup-node --l1.rpc http://127.0.0.1:8545 --deployment deployment.json --http.port 9545
///
/// Devnet (all of it, with anvil): scripts/devnet.sh
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Instead of running the node, a tool (see `rollup-node help check-block`).
    #[command(subcommand)]
    command: Option<Command>,
    /// Directory for the chain database (created if missing).
    #[arg(long, value_name = "DIR", default_value = "./rollup-data")]
    datadir: PathBuf,
    /// Genesis file (geth-style JSON). Default: the bundled dev genesis.
    #[arg(long, value_name = "FILE")]
    genesis: Option<PathBuf>,
    /// Address the JSON-RPC servers listen on.
    #[arg(long = "http.addr", value_name = "IP", default_value = "127.0.0.1")]
    http_addr: IpAddr,
    /// HTTP JSON-RPC port (also accepts WebSocket). 0 picks a free port.
    #[arg(long = "http.port", value_name = "PORT", default_value_t = 8545)]
    http_port: u16,
    /// WebSocket JSON-RPC port (also accepts HTTP). Same as --http.port to serve one port only.
    #[arg(long = "ws.port", value_name = "PORT", default_value_t = 8546)]
    ws_port: u16,
    /// Time between blocks: "1s", "250ms", or plain seconds. A block is sealed at once when the
    /// previous one was full.
    #[arg(long = "block-time", value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    block_time: Duration,
    /// Gas limit of new blocks, at most 2^32 (the protocol's bound; derivation skips blocks above
    /// it). Default: the genesis gas limit.
    #[arg(long = "gas-limit", value_name = "GAS")]
    gas_limit: Option<u64>,
    /// L1 JSON-RPC URL (HTTP) to derive deposits from. Needs --deployment.
    #[arg(long = "l1.rpc", value_name = "URL", requires = "deployment")]
    l1_rpc: Option<String>,
    /// The rollup's L1 deployment file (JSON, written by `bridge deploy`). Needs --l1.rpc.
    #[arg(long, value_name = "FILE", requires = "l1_rpc")]
    deployment: Option<PathBuf>,
    /// How many L1 blocks must follow an L1 block before the L2 takes it as origin (and
    /// includes its deposits). Reorgs up to this depth never reach the L2.
    #[arg(long = "l1.confirmations", value_name = "N", default_value_t = 2)]
    l1_confirmations: u64,
    /// Time between L1 polls: "1s", "200ms", or plain seconds. The batcher and proposer check
    /// as often.
    #[arg(long = "l1.poll-interval", value_name = "DURATION", default_value = "500ms", value_parser = parse_duration)]
    l1_poll_interval: Duration,
    /// Run as a replica: no sequencer, nothing included from the pool; every block is rebuilt
    /// from the sequencer batches and deposits on L1 (needs --l1.rpc and --deployment) and
    /// served over the same JSON-RPC. Block hashes and state roots equal the sequencer's.
    #[arg(long, requires = "l1_rpc")]
    replica: bool,
    /// FOR TESTS AND DEBUGGING: a replica derives L2 blocks up to and including block N, then
    /// derives nothing more, even in the middle of a batch; it keeps following L1 and serving
    /// the JSON-RPC. Restart without the flag to derive on from there (e.g. to test that a
    /// replica stopped mid-batch resumes it). Needs --replica.
    #[arg(long = "debug.max-block", value_name = "N", requires = "replica")]
    debug_max_block: Option<u64>,
    /// Post the sequencer's blocks to the L1 Inbox as batches, signing with this key (hex; the
    /// deployment's batcher, devnet: dev account #1). Can also be set with ROLLUP_BATCHER_KEY.
    #[arg(long = "batcher.key", value_name = "HEX", env = "ROLLUP_BATCHER_KEY", hide_env_values = true, requires = "l1_rpc", value_parser = parse_key)]
    batcher_key: Option<PrivateKeySigner>,
    /// Post a batch once the unposted blocks encode to this many bytes (batches are cut at it).
    #[arg(
        long = "batcher.max-bytes",
        value_name = "BYTES",
        default_value_t = 100_000
    )]
    batcher_max_bytes: usize,
    /// Post a batch once the oldest unposted block has waited this long ("2s", "500ms").
    #[arg(long = "batcher.max-age", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    batcher_max_age: Duration,
    /// Propose output roots to the L1 OutputRegistry with this key (hex; pays the bond; devnet:
    /// dev account #2). Proposes only blocks already batched. Can also be set with
    /// ROLLUP_PROPOSER_KEY.
    #[arg(long = "proposer.key", value_name = "HEX", env = "ROLLUP_PROPOSER_KEY", hide_env_values = true, requires = "l1_rpc", value_parser = parse_key)]
    proposer_key: Option<PrivateKeySigner>,
    /// Propose the output of every N-th L2 block.
    #[arg(long = "proposer.interval", value_name = "N", default_value_t = 10)]
    proposer_interval: u64,
    /// How many blocks of past state the node serves: state queries (eth_getBalance,
    /// eth_getProof, eth_call, ...) and `rollup_checkBlock` at older blocks answer "state ...
    /// is pruned". The default, 14 days of one-second blocks, covers a 7-day challenge window
    /// plus the longest dispute game: the bridge proves withdrawals and a challenger
    /// re-executes blocks at states that old. The newest 32 states keep their tree in memory
    /// (memory grows with the live state, ~260 bytes per account or slot, not with the
    /// history); older ones are rebuilt on demand from a checkpoint written every 256 blocks
    /// (the tree nodes changed since the previous one) and the blocks' changesets. The mode
    /// (a state history or --archive) is fixed when the data directory is created.
    #[arg(
        long = "state-history",
        value_name = "BLOCKS",
        default_value_t = 1_209_600
    )]
    state_history: u64,
    /// Keep every block's state tree on disk for good instead of a state history: every
    /// historical query at any block, at the price of a data directory that grows by every
    /// tree node every block writes (~2.8 KB per ETH transfer, against well under 1 KB with
    /// the default) and sealing that slows as it grows. Fixed when the data directory is
    /// created.
    #[arg(long, conflicts_with = "state_history")]
    archive: bool,
    /// Size of the database's page cache, in MiB. The database holds each cached page in
    /// about twice its size on disk, so the node's resident memory grows with this figure
    /// (the default adds about 0.6 GB under sustained load) and then stays flat however large
    /// the data directory grows. Smaller bounds memory lower; larger speeds up writes once
    /// the transaction index outgrows the cache.
    #[arg(long = "db.cache-mb", value_name = "MIB", default_value_t = 256)]
    db_cache_mb: u64,
    /// TESTS ONLY: the sequencer includes no L1 deposits except those a forced batch
    /// (Inbox.forceInclusion) requires. Simulates a censoring sequencer.
    #[arg(long = "sequencer.ignore-deposits")]
    ignore_deposits: bool,
    /// Log filter: error, warn, info, debug, trace, or a RUST_LOG-style directive list.
    /// RUST_LOG overrides it.
    #[arg(long = "log.level", value_name = "FILTER", default_value = "info")]
    log_level: String,
    /// Largest JSON-RPC request body, in bytes.
    #[arg(long = "rpc.max-request-size", value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    max_request_bytes: u32,
    /// Largest JSON-RPC response body, in bytes.
    #[arg(long = "rpc.max-response-size", value_name = "BYTES", default_value_t = 100 * 1024 * 1024)]
    max_response_bytes: u32,
    /// Most calls in one JSON-RPC batch.
    #[arg(long = "rpc.max-batch", value_name = "N", default_value_t = 1000)]
    max_batch_len: u32,
    /// Most simultaneous RPC connections.
    #[arg(long = "rpc.max-connections", value_name = "N", default_value_t = 500)]
    max_connections: u32,
    /// Widest block range of one eth_getLogs.
    #[arg(
        long = "rpc.max-logs-range",
        value_name = "BLOCKS",
        default_value_t = 10_000
    )]
    max_logs_range: u64,
    /// Gas cap of eth_call and eth_estimateGas.
    #[arg(long = "rpc.gas-cap", value_name = "GAS", default_value_t = 50_000_000)]
    gas_cap: u64,
    /// Serve rollup_checkBlock (what `check-block --rpc` calls): each call replays a block
    /// with the fraud-proof step machine and proves every step, seconds of CPU per block, so
    /// it is off unless asked for. Without it the method does not exist (-32601).
    #[arg(long = "rpc.check-block")]
    rpc_check_block: bool,
    /// Most rollup_checkBlock calls running at once; more are answered "busy" (-32005).
    #[arg(
        long = "rpc.check-block-max",
        value_name = "N",
        default_value_t = 1,
        requires = "rpc_check_block"
    )]
    rpc_check_block_max: usize,
    /// Most transactions in the pool.
    #[arg(long = "txpool.max", value_name = "N", default_value_t = 200_000)]
    pool_max: usize,
    /// Most pooled transactions of one sender.
    #[arg(
        long = "txpool.max-per-sender",
        value_name = "N",
        default_value_t = 4096
    )]
    pool_max_per_sender: usize,
    /// Largest accepted nonce gap above the sender's next nonce.
    #[arg(
        long = "txpool.max-nonce-gap",
        value_name = "N",
        default_value_t = 1024
    )]
    pool_max_gap: u64,
}

impl Cli {
    /// `--state-history`, `--archive` and `--db.cache-mb`.
    fn store_options(&self) -> StoreOptions {
        StoreOptions {
            state_history: (!self.archive).then_some(self.state_history),
            cache_bytes: self.db_cache_mb.saturating_mul(1024 * 1024),
            ..StoreOptions::default()
        }
    }
}

fn parse_key(s: &str) -> Result<PrivateKeySigner, String> {
    s.trim()
        .parse()
        .map_err(|_| "not a private key: expected 32 bytes of hex (0x...)".to_string())
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 1s, 250ms, 2"))?;
    let secs = match unit {
        "s" => value,
        "ms" => value / 1000.0,
        _ => return Err(format!("invalid duration unit {unit:?}: use s or ms")),
    };
    if !(0.001..=3600.0).contains(&secs) {
        return Err("a duration must be between 1ms and 1h".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Tools that work on a node's chain.
#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Replays blocks with the fraud-proof step machine, proves and verifies every step, and
    /// prints the step counts and the first mismatch (exit status 1 if any block fails).
    ///
    /// Against a running node started with --rpc.check-block (its `rollup_checkBlock` method):
    ///   rollup-node check-block --rpc http://127.0.0.1:8545 --block 12
    /// On a stopped node's data directory:
    ///   rollup-node --datadir ./rollup-data check-block --block 12 --to 20
    #[command(verbatim_doc_comment)]
    CheckBlock(CheckArgs),
}

/// Arguments of `check-block`.
#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// First block to check.
    #[arg(long, value_name = "N")]
    block: u64,
    /// Last block to check (default: only --block).
    #[arg(long, value_name = "N")]
    to: Option<u64>,
    /// JSON-RPC URL of a running node started with --rpc.check-block; without it the chain in
    /// --datadir is opened directly (the node must be stopped).
    #[arg(long, value_name = "URL")]
    rpc: Option<String>,
}

/// Runs `check-block`; returns whether every block passed.
async fn check_blocks(cli: &Cli, args: &CheckArgs) -> Result<bool, Box<dyn std::error::Error>> {
    use alloy::providers::{Provider, ProviderBuilder};
    use rollup_node::check::{check_block, CheckReport};
    let last = args.to.unwrap_or(args.block).max(args.block);
    let local = match &args.rpc {
        Some(_) => None,
        None => {
            let genesis = match &cli.genesis {
                Some(path) => std::fs::read_to_string(path)?,
                None => DEV_GENESIS.to_string(),
            };
            Some(rollup_node::node::open_chain(
                &cli.datadir,
                &genesis,
                cli.store_options(),
            )?)
        }
    };
    let mut all_ok = true;
    for number in args.block..=last {
        let report: CheckReport = match (&args.rpc, &local) {
            (Some(url), _) => {
                let provider = ProviderBuilder::new().connect_http(url.parse()?);
                provider
                    .raw_request(
                        "rollup_checkBlock".into(),
                        (alloy_primitives::U64::from(number),),
                    )
                    .await?
            }
            (None, Some((store, genesis))) => check_block(store, &genesis.spec, number)?,
            (None, None) => unreachable!("a local chain is opened without --rpc"),
        };
        println!(
            "block {} {}: {} steps, {} checked, trace {} ms, prove+verify {} ms: {}",
            report.number,
            report.hash,
            report.steps,
            report.checked,
            report.trace_ms,
            report.verify_ms,
            if report.ok { "OK" } else { "FAILED" }
        );
        let mut kinds: Vec<_> = report.kinds.iter().collect();
        kinds.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        let shown: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "  steps by kind ({} kinds): {}",
            kinds.len(),
            shown.join(", ")
        );
        if let Some(m) = &report.first_mismatch {
            println!(
                "  first mismatch: step {} ({}): {}",
                m.step, m.kind, m.error
            );
        }
        all_ok &= report.ok;
    }
    Ok(all_ok)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cli.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(Command::CheckBlock(args)) = &cli.command {
        return match check_blocks(&cli, args).await? {
            true => Ok(()),
            false => Err("a block failed the step-machine check".into()),
        };
    }
    let genesis = match &cli.genesis {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read genesis {}: {e}", path.display()))?,
        None => DEV_GENESIS.to_string(),
    };
    let store = cli.store_options();
    let l1 = match (cli.l1_rpc, cli.deployment) {
        (Some(rpc), Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read deployment {}: {e}", path.display()))?;
            let deployment = Deployment::from_json(&text)
                .map_err(|e| format!("{} is not a deployment file: {e}", path.display()))?;
            Some(L1Config {
                rpc,
                deployment,
                confirmations: cli.l1_confirmations,
                poll_interval: cli.l1_poll_interval,
            })
        }
        _ => None,
    };
    let config = NodeConfig {
        datadir: cli.datadir,
        genesis,
        block_time: cli.block_time,
        gas_limit: cli.gas_limit,
        pool: PoolConfig {
            max_txs: cli.pool_max,
            max_per_sender: cli.pool_max_per_sender,
            max_nonce_gap: cli.pool_max_gap,
            ..Default::default()
        },
        rpc: RpcConfig {
            http: (cli.http_addr, cli.http_port).into(),
            ws: Some((cli.http_addr, cli.ws_port).into()),
            max_request_bytes: cli.max_request_bytes,
            max_response_bytes: cli.max_response_bytes,
            max_batch_len: cli.max_batch_len,
            max_connections: cli.max_connections,
            max_logs_range: cli.max_logs_range,
            gas_cap: cli.gas_cap,
            check_block: cli.rpc_check_block,
            max_concurrent_checks: cli.rpc_check_block_max,
            ..Default::default()
        },
        l1,
        replica: cli.replica,
        debug_max_block: cli.debug_max_block,
        batcher: cli.batcher_key.map(|key| BatcherSettings {
            key,
            max_bytes: cli.batcher_max_bytes,
            max_age: cli.batcher_max_age,
        }),
        proposer: cli.proposer_key.map(|key| ProposerSettings {
            key,
            interval: cli.proposer_interval,
        }),
        ignore_deposits: cli.ignore_deposits,
        store,
    };
    let node = Node::start(config).await?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("shutting down after the block in progress");
        let _ = tx.send(true);
    });
    node.run(rx).await?;
    Ok(())
}
