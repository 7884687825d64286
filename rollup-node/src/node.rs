//! Wiring: store, genesis, pool, sequencer and RPC servers.

use std::{path::PathBuf, sync::Arc, time::Duration};

use fraud_vm::chain::ChainGenesis;
use tokio::sync::watch;
use tracing::info;

use crate::{
    events::ChainEvents,
    mempool::{Mempool, PoolConfig},
    rpc::{self, RpcConfig, RpcContext},
    sequencer::{Sequencer, SequencerConfig},
    store::{Store, StoreError},
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
}

/// A running node.
pub struct Node {
    /// The store.
    pub store: Store,
    /// The pool.
    pub pool: Arc<Mempool>,
    /// Shared with the RPC.
    pub rpc: Arc<RpcContext>,
    /// Seals blocks.
    pub sequencer: Sequencer,
    handles: Vec<jsonrpsee::server::ServerHandle>,
}

/// Opens the store in `datadir` and makes sure it holds `genesis`'s chain (writing block 0 on
/// first start). Returns the store and the parsed genesis.
pub fn open_chain(
    datadir: &std::path::Path,
    genesis: &str,
) -> Result<(Store, ChainGenesis), NodeError> {
    let genesis = ChainGenesis::from_json(genesis)?;
    let block0 = genesis.build()?;
    std::fs::create_dir_all(datadir)
        .map_err(|e| NodeError::Config(format!("cannot create {}: {e}", datadir.display())))?;
    let store = Store::open(&datadir.join("chain"))?;
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
        let (store, genesis) = open_chain(&config.datadir, &config.genesis)?;
        let head = store.head().ok_or(NodeError::NoGenesis)?;
        info!(number = head.header.number, hash = %head.hash, "chain head");
        let gas_limit = config.gas_limit.unwrap_or(genesis.header.gas_limit);
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
        let sequencer = Sequencer::new(
            genesis.spec,
            store.clone(),
            pool.clone(),
            events,
            SequencerConfig {
                block_time: config.block_time,
                gas_limit,
                max_block_txs: 100_000,
                // Execution gets half the block time; the state root and the (overlapped)
                // disk write take the rest.
                max_build_time: (config.block_time / 2).max(Duration::from_millis(50)),
            },
        );
        Ok(Self {
            store,
            pool,
            rpc: ctx,
            sequencer,
            handles,
        })
    }

    /// Seals blocks until `shutdown` turns true, then stops the servers.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        let result = self.sequencer.clone().run(shutdown).await;
        for handle in &self.handles {
            let _ = handle.stop();
        }
        for handle in self.handles {
            handle.stopped().await;
        }
        result
    }
}
