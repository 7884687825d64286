//! The proposer: posts output roots of batched L2 blocks to the L1 `OutputRegistry`.
//!
//! An output commits the claim on its block, whose derivation cursor names the Inbox batch
//! the next block is read from; so a block is proposed only once the batch it was read from is
//! the Inbox's batch of that index at `--l1.confirmations` (its accumulator, checked on L1).
//!
//! Enabled with `--proposer.key`. It proposes every `--proposer.interval` L2 blocks: the block
//! to propose is the newest multiple of the interval that is **batched** (its data is on L1:
//! posted by this node's batcher, or — on a replica — derived from L1), if it is above the
//! registry's `latestL2BlockNumber()` (so a restart continues where L1 is, the registry's
//! "strictly increasing" rule holds, and a proposer that fell behind catches up in one step). It
//! calls
//! `OutputRegistry.propose(number, fraud_vm::output::output_root(number, claim))`, the claim on
//! the block being its hash, state root, block-hash window and derivation cursor
//! ([`crate::claim`])
//! with the deployment's bond. Failures are logged and retried at the next poll.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use alloy::{
    network::TransactionBuilder,
    primitives::U256,
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol,
};
use alloy_sol_types::SolCall;
use fraud_vm::{deposit::Deployment, output::output_root};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::{
    batcher::BatchedThrough,
    claim::claim_with,
    follower::{DepositFeed, RpcL1Source},
    forced::ForcedStatus,
    reorg::{BatchCheck, ReorgError},
    store::Store,
    NodeError,
};

sol! {
    /// The registry calls the proposer makes.
    #[sol(rpc)]
    interface IOutputRegistry {
        function propose(uint256 l2BlockNumber, bytes32 outputRoot) external payable returns (uint256 index);
        function latestL2BlockNumber() external view returns (bool any, uint256 l2BlockNumber);
    }
}

/// Proposer settings.
#[derive(Clone, Debug)]
pub struct ProposerConfig {
    /// L1 JSON-RPC URL (HTTP).
    pub l1_rpc: String,
    /// The rollup's L1 deployment (registry address and bond).
    pub deployment: Deployment,
    /// The key paying the bond.
    pub key: PrivateKeySigner,
    /// Propose every this many L2 blocks (>= 1).
    pub interval: u64,
    /// Time between checks.
    pub poll_interval: Duration,
    /// L1 depth (`--l1.confirmations`) at which the block's batch must be in the Inbox before
    /// its claim is proposed.
    pub confirmations: u64,
}

/// Why a proposal failed (logged and retried).
#[derive(Debug, thiserror::Error)]
pub enum ProposerError {
    /// The L1 node failed or refused the call.
    #[error("L1 {0}")]
    Rpc(String),
    /// The proposal transaction reverted.
    #[error("propose transaction {0} reverted")]
    Reverted(alloy::primitives::B256),
    /// The chain store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The claim on the block could not be read (a block of its window is missing).
    #[error("the claim on the block: {0}")]
    Claim(#[from] Box<NodeError>),
}

/// Proposes output roots (see the module docs).
pub struct Proposer {
    config: ProposerConfig,
    store: Store,
    batched: BatchedThrough,
    l1: DynProvider,
    /// The follower's feed: its forced batches.
    feed: Option<Arc<DepositFeed>>,
    /// The forced batches below this index are settled (a forced batch settled stays so for
    /// as long as this proposer runs: a roll-back restarts it).
    settled: AtomicU64,
}

impl Proposer {
    /// A proposer of `store`'s blocks once `batched` covers them.
    pub fn new(
        config: ProposerConfig,
        store: Store,
        batched: BatchedThrough,
    ) -> Result<Self, NodeError> {
        if config.interval == 0 {
            return Err(NodeError::Config("--proposer.interval must be >= 1".into()));
        }
        let l1 = crate::follower::l1_provider(&config.l1_rpc, Some(&config.key))?;
        Ok(Self {
            config,
            store,
            batched,
            l1,
            feed: None,
            settled: AtomicU64::new(0),
        })
    }

    /// Proposes a block only once every forced batch before its batch, as `feed` (the
    /// follower's) reports them, is in the chain or derives nothing ([`crate::forced`]): a
    /// forced block the chain lacks makes every later batch derive nothing, and its claims
    /// wrong.
    pub fn with_feed(mut self, feed: Arc<DepositFeed>) -> Self {
        self.feed = Some(feed);
        self
    }

    /// Proposes until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.step().await {
                warn!(error = %e, "proposer: retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Whether the batch block `number` was read from is the Inbox's batch of that index at
    /// the confirmation depth ([`BatchCheck`], which also serves the reorg recovery), and every
    /// forced batch before it is settled ([`Proposer::with_feed`]). A position recorded before
    /// accumulators were kept cannot be checked: it counts as confirmed.
    async fn batch_confirmed(&self, number: u64) -> Result<bool, ProposerError> {
        let Some(position) = self.store.batch_position(number)? else {
            return Ok(false);
        };
        let source = RpcL1Source::new(self.l1.clone());
        let inbox = self.config.deployment.inbox;
        let checked = async {
            let mut check = BatchCheck::new(&source, inbox, self.config.confirmations).await?;
            let holds = check.holds(&position).await?;
            Ok((holds, check.at()))
        };
        let (holds, at) = checked.await.map_err(|e| match e {
            ReorgError::L1(e) => ProposerError::Rpc(e.to_string()),
            ReorgError::Store(e) => ProposerError::Store(e),
        })?;
        let Some(feed) = self.feed.as_ref().filter(|_| holds) else {
            return Ok(holds);
        };
        // The feed holds every forced batch up to the block the check read L1 at.
        if feed.confirmed().map(|c| c.number) < at {
            return Ok(false);
        }
        let head = self.store.head_number();
        for forced in feed.forced_batches(self.settled.load(Ordering::Relaxed)) {
            if forced.index > position.source_index() {
                break;
            }
            if crate::forced::status(&self.store, &forced, head)? != ForcedStatus::Done {
                return Ok(false);
            }
            self.settled.store(forced.index + 1, Ordering::Relaxed);
        }
        Ok(true)
    }

    async fn step(&self) -> Result<(), ProposerError> {
        let registry = IOutputRegistry::new(self.config.deployment.output_registry, &self.l1);
        let latest = registry
            .latestL2BlockNumber()
            .call()
            .await
            .map_err(|e| ProposerError::Rpc(format!("latestL2BlockNumber: {e}")))?;
        let n = self.config.interval;
        let last = if latest.any {
            u64::try_from(latest.l2BlockNumber).unwrap_or(u64::MAX)
        } else {
            0
        };
        // The newest batched multiple of the interval (skipping ones a lagging proposer
        // missed: outputs only need increasing block numbers).
        let next = (self.batched.get() / n) * n;
        if next <= last {
            return Ok(());
        }
        // The claim on the block: known once its batch is in the Inbox (the batcher or the
        // replica recorded its cursor), and proposed once that batch is there at the
        // confirmation depth (the claim commits its Inbox index: a shallow L1 reorg could move
        // it).
        let Some(cursor) = self.store.derivation_cursor(next)? else {
            return Ok(());
        };
        if !self.batch_confirmed(next).await? {
            return Ok(());
        }
        let Some(claim) = claim_with(&self.store, next, cursor.hash()).map_err(Box::new)? else {
            return Ok(());
        };
        let root = output_root(next, &claim);
        let call = IOutputRegistry::proposeCall {
            l2BlockNumber: U256::from(next),
            outputRoot: root,
        };
        let request = TransactionRequest::default()
            .with_to(self.config.deployment.output_registry)
            .with_value(self.config.deployment.proposal_bond)
            .with_input(call.abi_encode());
        let receipt = self
            .l1
            .send_transaction(request)
            .await
            .map_err(|e| ProposerError::Rpc(format!("propose: {e}")))?
            .get_receipt()
            .await
            .map_err(|e| ProposerError::Rpc(format!("receipt of propose: {e}")))?;
        if !receipt.status() {
            return Err(ProposerError::Reverted(receipt.transaction_hash));
        }
        info!(
            l2_block = next,
            %root,
            l1_gas = receipt.gas_used,
            l1_tx = %receipt.transaction_hash,
            "output proposed"
        );
        Ok(())
    }
}
