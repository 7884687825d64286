//! The proposer: posts output roots of batched L2 blocks to the L1 `OutputRegistry`.
//!
//! Enabled with `--proposer.key`. It proposes every `--proposer.interval` L2 blocks: the block
//! to propose is the newest multiple of the interval that is **batched** (its data is on L1:
//! posted by this node's batcher, or — on a replica — derived from L1), if it is above the
//! registry's `latestL2BlockNumber()` (so a restart continues where L1 is, the registry's
//! "strictly increasing" rule holds, and a proposer that fell behind catches up in one step). It
//! calls
//! `OutputRegistry.propose(number, fraud_vm::output::output_root(number, hash, stateRoot))`
//! with the deployment's bond. Failures are logged and retried at the next poll.

use std::time::Duration;

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

use crate::{batcher::BatchedThrough, store::Store, NodeError};

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
}

/// Proposes output roots (see the module docs).
pub struct Proposer {
    config: ProposerConfig,
    store: Store,
    batched: BatchedThrough,
    l1: DynProvider,
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
        })
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
        let Some((hash, header)) = self.store.header_by_number(next)? else {
            return Ok(());
        };
        let root = output_root(next, hash, header.state_root);
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
