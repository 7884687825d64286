//! Wiring: store, genesis, pool, sequencer and RPC servers.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy_primitives::{Address, U256};
use fraud_vm::{batch::MAX_BLOCK_GAS_LIMIT, chain::ChainGenesis, message::L2_STANDARD_BRIDGE};
use tokio::sync::watch;
use tracing::info;

use alloy::signers::local::PrivateKeySigner;

use crate::{
    batcher::{BatchedThrough, Batcher, BatcherConfig},
    events::ChainEvents,
    follower::{DepositFeed, L1Config, L1Follower},
    mempool::{Mempool, PoolConfig},
    proposer::{Proposer, ProposerConfig},
    replica::Replica,
    rpc::{self, RpcConfig, RpcContext},
    sequencer::{Sequencer, SequencerConfig},
    store::{Store, StoreError, StoreOptions},
    NodeError,
};

/// The dev genesis bundled with the node (`testdata/genesis.json`).
pub const DEV_GENESIS: &str = include_str!("../../testdata/genesis.json");

/// Everything the node needs to run.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// Data directory (the sled store lives in `<datadir>/chain`).
    pub datadir: PathBuf,
    /// Genesis JSON text.
    pub genesis: String,
    /// Time between blocks.
    pub block_time: Duration,
    /// Gas limit of new blocks (None: the genesis gas limit).
    pub gas_limit: Option<u64>,
    /// Pool limits.
    pub pool: PoolConfig,
    /// RPC servers.
    pub rpc: RpcConfig,
    /// Follow this L1 for origins and deposits (None: a chain without L1, as before issue 4).
    pub l1: Option<L1Config>,
    /// Replica mode: no sequencer; rebuild the chain from the L1 batches (needs `l1`).
    pub replica: bool,
    /// **Tests and debugging** (`--debug.max-block`): a replica derives no block past this
    /// number (it keeps following L1 and serving the JSON-RPC). Replica mode only.
    pub debug_max_block: Option<u64>,
    /// Post blocks to the Inbox (sequencer with `l1` only).
    pub batcher: Option<BatcherSettings>,
    /// Propose output roots (needs `l1`; on a sequencer also the batcher).
    pub proposer: Option<ProposerSettings>,
    /// **Tests only**: the sequencer includes only forced deposits.
    pub ignore_deposits: bool,
    /// Archive or state history, and sled's cache ([`StoreOptions`]).
    pub store: StoreOptions,
}

/// Batcher flags (the L1 URL and deployment come from [`NodeConfig::l1`]).
#[derive(Clone, Debug)]
pub struct BatcherSettings {
    /// The batcher key.
    pub key: PrivateKeySigner,
    /// `--batcher.max-bytes`.
    pub max_bytes: usize,
    /// `--batcher.max-age`.
    pub max_age: Duration,
}

/// Proposer flags (the L1 URL and deployment come from [`NodeConfig::l1`]).
#[derive(Clone, Debug)]
pub struct ProposerSettings {
    /// The proposer key.
    pub key: PrivateKeySigner,
    /// `--proposer.interval` (L2 blocks).
    pub interval: u64,
}

/// A running node.
pub struct Node {
    /// The store.
    pub store: Store,
    /// The pool.
    pub pool: Arc<Mempool>,
    /// Shared with the RPC.
    pub rpc: Arc<RpcContext>,
    /// Seals blocks (unused in replica mode).
    pub sequencer: Sequencer,
    follower: Option<L1Follower>,
    replica: Option<Replica>,
    batcher: Option<Batcher>,
    proposer: Option<Proposer>,
    handles: Vec<jsonrpsee::server::ServerHandle>,
}

/// Opens the store in `datadir` and makes sure it holds `genesis`'s chain (writing block 0 on
/// first start). Returns the store and the parsed genesis.
pub fn open_chain(
    datadir: &std::path::Path,
    genesis: &str,
    options: impl Into<StoreOptions>,
) -> Result<(Store, ChainGenesis), NodeError> {
    let genesis = ChainGenesis::from_json(genesis)?;
    let block0 = genesis.build()?;
    std::fs::create_dir_all(datadir).map_err(|source| NodeError::DataDir {
        path: datadir.to_path_buf(),
        source,
    })?;
    let store = Store::open(&datadir.join("chain"), options)?;
    match store.header_by_number(0)? {
        None => {
            store.commit_block(&block0)?;
            info!(hash = %block0.hash, state_root = %block0.header.state_root, "wrote genesis");
        }
        Some((hash, _)) if hash != block0.hash => {
            return Err(StoreError::WrongChain {
                found: hash,
                expected: block0.hash,
            }
            .into())
        }
        Some(_) => {}
    }
    Ok((store, genesis))
}

impl Node {
    /// Opens the chain and starts the RPC servers (blocks are sealed by [`Node::run`]).
    pub async fn start(config: NodeConfig) -> Result<Self, NodeError> {
        let (store, genesis) = open_chain(&config.datadir, &config.genesis, config.store)?;
        let head = store.head().ok_or(NodeError::NoGenesis)?;
        info!(number = head.header.number, hash = %head.hash, "chain head");
        let gas_limit = config.gas_limit.unwrap_or(genesis.header.gas_limit);
        if gas_limit > MAX_BLOCK_GAS_LIMIT {
            return Err(NodeError::Config(format!(
                "--gas-limit {gas_limit} is above the protocol's largest block gas limit \
                 {MAX_BLOCK_GAS_LIMIT}: derivation would skip such blocks"
            )));
        }
        let pool = Arc::new(Mempool::new(config.pool.clone()));
        let events = ChainEvents::default();
        let ctx = Arc::new(RpcContext::new(
            genesis.spec.clone(),
            store.clone(),
            pool.clone(),
            events.clone(),
            config.rpc.clone(),
            gas_limit,
        ));
        let handles = rpc::start(ctx.clone()).await?;
        let chain_id = genesis.spec.chain_id;
        let chain = genesis.spec.clone();
        let mut sequencer = Sequencer::new(
            genesis.spec,
            store.clone(),
            pool.clone(),
            events.clone(),
            SequencerConfig {
                block_time: config.block_time,
                gas_limit,
                max_block_txs: 100_000,
                // Execution gets half the block time; the state root and the (overlapped)
                // disk write take the rest.
                max_build_time: (config.block_time / 2).max(Duration::from_millis(50)),
                ignore_deposits: config.ignore_deposits,
            },
        );
        if config.l1.is_none()
            && (config.replica || config.batcher.is_some() || config.proposer.is_some())
        {
            return Err(NodeError::Config(
                "--replica, --batcher.key and --proposer.key need --l1.rpc and --deployment".into(),
            ));
        }
        if config.debug_max_block.is_some() && !config.replica {
            return Err(NodeError::Config(
                "--debug.max-block stops a replica's derivation: add --replica".into(),
            ));
        }
        if config.replica && config.batcher.is_some() {
            return Err(NodeError::Config(
                "a replica posts no batches: drop --batcher.key".into(),
            ));
        }
        let batched = BatchedThrough::default();
        let mut replica = None;
        let mut batcher = None;
        let mut proposer = None;
        if let Some(l1) = &config.l1 {
            if let Some(b) = &config.batcher {
                batcher = Some(Batcher::new(
                    BatcherConfig {
                        l1_rpc: l1.rpc.clone(),
                        deployment: l1.deployment.clone(),
                        key: b.key.clone(),
                        max_bytes: b.max_bytes,
                        max_age: b.max_age,
                        poll_interval: l1.poll_interval,
                    },
                    store.clone(),
                    batched.clone(),
                )?);
            }
            if let Some(p) = &config.proposer {
                if !config.replica && config.batcher.is_none() {
                    return Err(NodeError::Config(
                        "the proposer proposes batched blocks only: add --batcher.key (or run it on a --replica)".into(),
                    ));
                }
                proposer = Some(Proposer::new(
                    ProposerConfig {
                        l1_rpc: l1.rpc.clone(),
                        deployment: l1.deployment.clone(),
                        key: p.key.clone(),
                        interval: p.interval,
                        poll_interval: l1.poll_interval,
                    },
                    store.clone(),
                    batched.clone(),
                )?);
            }
        }
        let follower = match config.l1 {
            None => None,
            Some(l1) if config.replica => {
                check_deployment(&l1, &store, chain_id)?;
                let cursor = store.l1_cursor()?;
                info!(l1 = %l1.rpc, inbox = %l1.deployment.inbox, head = store.head_number(), "replica: deriving the chain from L1 batches");
                let feed = Arc::new(DepositFeed::new(cursor.map_or(0, |c| c.next_deposit)));
                replica = Some(Replica::new(
                    chain,
                    store.clone(),
                    events,
                    feed.clone(),
                    &l1.rpc,
                    l1.poll_interval,
                    batched,
                    config.debug_max_block,
                )?);
                Some(L1Follower::new(l1, feed, cursor)?.reading_batches())
            }
            Some(l1) => {
                check_deployment(&l1, &store, chain_id)?;
                let cursor = store.l1_cursor()?;
                info!(
                    l1 = %l1.rpc,
                    inbox = %l1.deployment.inbox,
                    confirmations = l1.confirmations,
                    origin = ?cursor.map(|c| c.origin.number),
                    next_deposit = cursor.map_or(0, |c| c.next_deposit),
                    "deriving deposits from L1"
                );
                let feed = Arc::new(DepositFeed::new(cursor.map_or(0, |c| c.next_deposit)));
                sequencer = sequencer.with_deposits(feed.clone(), cursor);
                Some(L1Follower::new(l1, feed, cursor)?)
            }
        };
        Ok(Self {
            store,
            pool,
            rpc: ctx,
            sequencer,
            follower,
            replica,
            batcher,
            proposer,
            handles,
        })
    }

    /// Seals blocks until `shutdown` turns true, then stops the servers.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        let follower = self.follower.map(|f| tokio::spawn(f.run(shutdown.clone())));
        let batcher = self.batcher.map(|b| tokio::spawn(b.run(shutdown.clone())));
        let proposer = self.proposer.map(|p| tokio::spawn(p.run(shutdown.clone())));
        let result = match self.replica {
            Some(replica) => replica.run(shutdown).await,
            None => self.sequencer.clone().run(shutdown).await,
        };
        // Abort the helpers and wait until they are gone: they hold the store, and a node
        // restarted on the same data directory needs its lock.
        let tasks: Vec<_> = [follower, batcher, proposer]
            .into_iter()
            .flatten()
            .collect();
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        for handle in &self.handles {
            let _ = handle.stop();
        }
        for handle in self.handles {
            handle.stopped().await;
        }
        result
    }
}

/// Refuses a deployment that does not belong to this chain: another L2 chain id, or an
/// L1StandardBridge other than the one the genesis' L2 bridge trusts (ERC20 deposits would
/// all fail).
fn check_deployment(l1: &L1Config, store: &Store, chain_id: u64) -> Result<(), NodeError> {
    let d = &l1.deployment;
    if d.l2_chain_id != chain_id {
        return Err(NodeError::DeploymentChainId {
            deployment: d.l2_chain_id,
            genesis: chain_id,
        });
    }
    let other = store.storage(&L2_STANDARD_BRIDGE, &U256::ZERO)?;
    let other = Address::from_word(other.to_be_bytes::<32>().into());
    if other != d.l1_standard_bridge {
        return Err(NodeError::DeploymentBridge {
            genesis: other,
            deployment: d.l1_standard_bridge,
        });
    }
    Ok(())
}
