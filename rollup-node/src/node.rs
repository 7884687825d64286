//! Wiring: store, genesis, pool, sequencer and RPC servers.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy_primitives::{Address, U256};
use fraud_vm::{
    batch::{MAX_BLOCK_GAS_LIMIT, MIN_ORIGIN_GAS_LIMIT},
    chain::{ChainGenesis, ChainSpec},
    message::L2_STANDARD_BRIDGE,
};
use tokio::sync::watch;
use tracing::{info, warn};

use alloy::signers::local::PrivateKeySigner;

use crate::{
    batcher::{BatchedThrough, Batcher, BatcherConfig, BatcherError},
    events::ChainEvents,
    follower::{DepositFeed, FollowError, ForcedBatch, L1Config, L1Follower, RpcL1Source},
    forced::{ForcedDue, ForcedStatus},
    mempool::{Mempool, PoolConfig},
    proposer::{Proposer, ProposerConfig},
    reorg::ReorgError,
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
    /// What the node runs against L1 (None: no L1).
    l1: Option<L1Setup>,
    /// The L1 tasks of the first run, built at start.
    first_tasks: Option<L1Tasks>,
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
        if config.l1.is_some() && !config.replica && gas_limit < MIN_ORIGIN_GAS_LIMIT {
            return Err(NodeError::Config(format!(
                "--gas-limit {gas_limit} is below {MIN_ORIGIN_GAS_LIMIT}, the least a block with \
                 an L1 origin needs (the L1-info deposit and the largest deposit): derivation \
                 would skip such blocks"
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
        let sequencer = Sequencer::new(
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
        if let (Some(l1), Some(batcher)) = (&config.l1, &config.batcher) {
            warn_if_forceable(l1, batcher);
        }
        if let Some(l1) = &config.l1 {
            check_deployment(l1, &store, chain_id)?;
            if config.proposer.is_some() && !config.replica && config.batcher.is_none() {
                return Err(NodeError::Config(
                    "the proposer proposes batched blocks only: add --batcher.key (or run it on a --replica)".into(),
                ));
            }
        }
        let l1 = config.l1.map(|l1| L1Setup {
            config: l1,
            replica: config.replica,
            debug_max_block: config.debug_max_block,
            batcher: config.batcher,
            proposer: config.proposer,
            chain,
            events,
        });
        let mut node = Self {
            store,
            pool,
            rpc: ctx,
            sequencer,
            l1,
            first_tasks: None,
            handles,
        };
        // Built here so that a bad key or URL fails the start, not the first run.
        node.first_tasks = node.l1.as_ref().map(|l1| node.l1_tasks(l1)).transpose()?;
        Ok(node)
    }

    /// Rolls the sequencer's chain back to the block the forced block of `forced` goes on
    /// ([`crate::forced`]), after the batcher recorded the positions of a batch that landed
    /// while it was stopped (retried until it has: positions it did not record would roll
    /// back blocks L1 holds); the sequencer seals the forced block when it starts again.
    /// Returns false on a shutdown meanwhile.
    async fn roll_back_for(
        &self,
        l1: &L1Setup,
        forced: &ForcedBatch,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<bool, NodeError> {
        if let Some(batcher) = self.batcher(l1, BatchedThrough::default())? {
            loop {
                match batcher.resume().await {
                    // `Diverged` comes after the newest own batch's positions are recorded.
                    Ok(_) | Err(BatcherError::Diverged { .. }) => break,
                    Err(e) => {
                        warn!(error = %e, "batcher: cannot record the Inbox's newest batch before a forced batch's roll-back; retrying")
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(l1.config.poll_interval) => {}
                    _ = shutdown.changed() => return Ok(false),
                }
            }
        }
        let head = self.store.head_number();
        if let ForcedStatus::RollBackTo(to) = crate::forced::status(&self.store, forced, head)? {
            let requeued = crate::reorg::roll_back(&self.store, Some(&self.pool), to)?;
            warn!(
                batch = forced.index,
                from = head,
                to,
                requeued_transactions = requeued,
                "a forced batch replaces the blocks sealed after the last batch before it: rolled back; its forced block comes next"
            );
        }
        Ok(true)
    }

    /// The batcher, if the node runs one.
    fn batcher(&self, l1: &L1Setup, batched: BatchedThrough) -> Result<Option<Batcher>, NodeError> {
        let config = &l1.config;
        l1.batcher
            .as_ref()
            .map(|b| {
                Batcher::new(
                    BatcherConfig {
                        l1_rpc: config.rpc.clone(),
                        deployment: config.deployment.clone(),
                        key: b.key.clone(),
                        max_bytes: b.max_bytes,
                        max_age: b.max_age,
                        poll_interval: config.poll_interval,
                    },
                    self.store.clone(),
                    batched,
                )
            })
            .transpose()
    }

    /// The L1 tasks of one run ([`Node::run`]), each starting from the store as it is now.
    fn l1_tasks(&self, l1: &L1Setup) -> Result<L1Tasks, NodeError> {
        let store = &self.store;
        let config = &l1.config;
        let batched = BatchedThrough::default();
        let cursor = store.l1_cursor()?;
        let feed = Arc::new(DepositFeed::new(cursor.map_or(0, |c| c.next_deposit)));
        let batcher = self.batcher(l1, batched.clone())?;
        let proposer = l1
            .proposer
            .as_ref()
            .map(|p| {
                Proposer::new(
                    ProposerConfig {
                        l1_rpc: config.rpc.clone(),
                        deployment: config.deployment.clone(),
                        key: p.key.clone(),
                        interval: p.interval,
                        poll_interval: config.poll_interval,
                        confirmations: config.confirmations,
                    },
                    store.clone(),
                    batched.clone(),
                )
            })
            .transpose()?;
        let proposer = proposer.map(|p| p.with_feed(feed.clone()));
        let follower = L1Follower::new(config.clone(), feed.clone(), cursor)?;
        let (main, follower) = if l1.replica {
            info!(l1 = %config.rpc, inbox = %config.deployment.inbox, head = store.head_number(), "replica: deriving the chain from L1 batches");
            let replica = Replica::new(
                l1.chain.clone(),
                store.clone(),
                l1.events.clone(),
                feed,
                &config.rpc,
                config.poll_interval,
                batched,
                l1.debug_max_block,
            )?;
            (Main::Replica(replica), follower.reading_batches())
        } else {
            info!(
                l1 = %config.rpc,
                inbox = %config.deployment.inbox,
                confirmations = config.confirmations,
                origin = ?cursor.map(|c| c.origin.number),
                next_deposit = cursor.map_or(0, |c| c.next_deposit),
                "deriving deposits from L1"
            );
            let sequencer = self.sequencer.clone().with_deposits(feed, cursor);
            (Main::Sequencer(sequencer), follower)
        };
        Ok(L1Tasks {
            main,
            follower,
            batcher,
            proposer,
        })
    }

    /// Seals (or, as a replica, derives) blocks until `shutdown` turns true, then stops the
    /// servers. Following L1, an L1 reorg deeper than the confirmation depth stops every L1
    /// task, rolls the chain back to the newest block whose L1 inputs L1 still holds
    /// ([`crate::reorg`]) and starts them again from there.
    pub async fn run(mut self, shutdown: watch::Receiver<bool>) -> Result<(), NodeError> {
        let first = self.first_tasks.take();
        let result = match &self.l1 {
            None => self.sequencer.clone().run(shutdown).await,
            Some(l1) => self.run_on_l1(l1, first, shutdown).await,
        };
        for handle in &self.handles {
            let _ = handle.stop();
        }
        for handle in self.handles {
            handle.stopped().await;
        }
        result
    }

    /// [`Node::run`] with L1 tasks: one run of them per stretch between deep reorgs.
    async fn run_on_l1(
        &self,
        l1: &L1Setup,
        mut first: Option<L1Tasks>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), NodeError> {
        let mut due = None;
        loop {
            let mut tasks = match first.take() {
                Some(tasks) => tasks,
                None => self.l1_tasks(l1)?,
            };
            if let Some(forced) = due.take() {
                let due: ForcedDue = Arc::new(parking_lot::Mutex::new(Some(forced)));
                tasks.batcher = tasks.batcher.map(|b| b.after_forced(due.clone()));
                tasks.main = match tasks.main {
                    Main::Sequencer(sequencer) => Main::Sequencer(sequencer.with_forced(due)),
                    replica => replica,
                };
            }
            let (stop, stopped) = watch::channel(false);
            let mut follower = tokio::spawn(tasks.follower.drive(stopped.clone()));
            let helpers: Vec<_> = [
                tasks.batcher.map(|b| tokio::spawn(b.run(stopped.clone()))),
                tasks.proposer.map(|p| tokio::spawn(p.run(stopped.clone()))),
            ]
            .into_iter()
            .flatten()
            .collect();
            let main = match tasks.main {
                Main::Sequencer(sequencer) => tokio::spawn(sequencer.run(stopped.clone())),
                Main::Replica(replica) => tokio::spawn(replica.run(stopped.clone())),
            };
            tokio::pin!(main);
            let mut following = true;
            let restart = loop {
                tokio::select! {
                    done = &mut main => {
                        // The main task stopped on its own: for a forced batch's roll-back, or
                        // on an error (the node stops).
                        match joined(done) {
                            Err(NodeError::ForcedRollBack { forced, .. }) => {
                                break Restart::Forced(*forced)
                            }
                            other => {
                                stop_all(&stop, helpers, following.then_some(follower)).await;
                                return other;
                            }
                        }
                    }
                    _ = shutdown.changed() => break Restart::No,
                    ended = &mut follower, if following => {
                        following = false;
                        if let Ok(Err(FollowError::Reset(reorg))) = ended {
                            break Restart::Reorg(reorg);
                        }
                        // Any other end (a wrong L1) was logged: blocks go on without L1.
                    }
                }
            };
            // The batcher and the proposer go first, so they post nothing of blocks about to
            // be rolled back; then the sequencer commits what it built and returns.
            stop_all(&stop, helpers, following.then_some(follower)).await;
            let reorg = match restart {
                Restart::Forced(forced) => {
                    if !self.roll_back_for(l1, &forced, &mut shutdown).await? {
                        return Ok(());
                    }
                    due = Some(forced);
                    continue;
                }
                Restart::No => return joined(main.await),
                Restart::Reorg(reorg) => reorg,
            };
            joined(main.await)?;
            warn!(
                number = reorg.number,
                "rolling back after an L1 reorg deeper than --l1.confirmations"
            );
            let pool = (!l1.replica).then_some(&self.pool);
            let inbox = l1.config.deployment.inbox;
            let source = RpcL1Source::connect(&l1.config.rpc)?;
            let confirmations = l1.config.confirmations;
            loop {
                match crate::reorg::recover(&self.store, pool, &source, inbox, confirmations).await
                {
                    Ok(_) => break,
                    Err(ReorgError::L1(e)) => {
                        warn!(error = %e, "cannot read L1 to roll back; retrying");
                    }
                    Err(ReorgError::Store(e)) => {
                        return Err(NodeError::Internal(format!(
                            "cannot roll the chain back after an L1 reorg ({e}): start again \
                             on a fresh data directory"
                        )))
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(l1.config.poll_interval) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
            }
            // A pause before following again: an L1 endpoint that flips between forks does
            // not make the node restart its tasks in a tight loop.
            tokio::select! {
                _ = tokio::time::sleep(l1.config.poll_interval) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }
}

/// Warns when the deployment's force-inclusion window is not clearly longer than the time this
/// node's batcher may take to post a deposit's block (its `--batcher.max-age`, plus the
/// confirmation depth at 12 s per L1 block and a minute of margin): a deposit it included could
/// be forced first, and the forced block would replace the blocks it sealed since its last batch
/// (`crate::forced`). Devnets with short windows do that on purpose.
fn warn_if_forceable(l1: &L1Config, batcher: &BatcherSettings) {
    let window = Duration::from_secs(l1.deployment.force_inclusion_window);
    let posting = batcher.max_age + Duration::from_secs(12 * l1.confirmations + 60);
    if window < posting {
        warn!(
            force_inclusion_window = ?window,
            batcher_max_age = ?batcher.max_age,
            confirmations = l1.confirmations,
            "the force-inclusion window is short next to the batcher's posting delay: anyone may force a deposit this node included before its batch lands, and the forced block replaces the blocks sealed since the last batch"
        );
    }
}

/// Why the L1 tasks of a run stopped.
enum Restart {
    /// Shutdown: they do not start again.
    No,
    /// An L1 reorg deeper than the confirmation depth ([`crate::reorg`]).
    Reorg(crate::follower::DeepReorg),
    /// A forced batch replaces blocks the sequencer sealed ([`crate::forced`]).
    Forced(ForcedBatch),
}

/// What a node following L1 runs besides the RPC, kept to start it again after a rewind.
struct L1Setup {
    config: L1Config,
    replica: bool,
    debug_max_block: Option<u64>,
    batcher: Option<BatcherSettings>,
    proposer: Option<ProposerSettings>,
    chain: ChainSpec,
    events: ChainEvents,
}

/// One run of the L1 tasks ([`Node::l1_tasks`]).
struct L1Tasks {
    main: Main,
    follower: L1Follower,
    batcher: Option<Batcher>,
    proposer: Option<Proposer>,
}

/// The task that makes blocks.
enum Main {
    Sequencer(Sequencer),
    Replica(Replica),
}

/// The result of a joined main task.
fn joined(done: Result<Result<(), NodeError>, tokio::task::JoinError>) -> Result<(), NodeError> {
    done.map_err(|e| NodeError::Internal(format!("the block task failed: {e}")))?
}

/// Stops the helpers and the follower and waits until they are gone: they hold the store,
/// and a node restarted on the same data directory needs its lock. They are aborted (a
/// batcher may be waiting for an L1 receipt): each keeps its progress on L1 or in the store,
/// and a new run resumes from there (a batch or proposal already sent may still land on L1:
/// the new batcher finds it in the Inbox).
async fn stop_all(
    stop: &watch::Sender<bool>,
    helpers: Vec<tokio::task::JoinHandle<()>>,
    follower: Option<tokio::task::JoinHandle<Result<(), FollowError>>>,
) {
    let _ = stop.send(true);
    if let Some(follower) = &follower {
        follower.abort();
    }
    for task in &helpers {
        task.abort();
    }
    for task in helpers {
        let _ = task.await;
    }
    if let Some(follower) = follower {
        let _ = follower.await;
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
