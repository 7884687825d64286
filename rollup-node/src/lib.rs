#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod admission;
pub mod batcher;
pub mod cache;
pub mod check;
pub mod claim;
pub mod events;
pub mod follower;
pub mod forced;
pub mod history;
pub mod mempool;
pub mod node;
pub mod proposer;
pub mod provider;
pub mod reorg;
pub mod replica;
pub mod rpc;
pub mod sequencer;
pub mod store;

pub use node::{Node, NodeConfig};

/// Errors of the node and its tools, by what the caller can do about them.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The chain store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The chain rules failed (a bug or corrupt state).
    #[error(transparent)]
    Chain(#[from] fraud_vm::Error),
    /// A forced batch on L1 replaces blocks this sequencer sealed after block `to` (the last
    /// block batched before it): the node rolls them back ([`forced`]).
    #[error("forced batch {} replaces the blocks after block {to}", forced.index)]
    ForcedRollBack {
        /// The forced batch.
        forced: Box<follower::ForcedBatch>,
        /// The block its forced block goes on.
        to: u64,
    },
    /// The store has no genesis block.
    #[error("the store holds no chain")]
    NoGenesis,
    /// A block asked for is not in the store (above the head, or never written).
    #[error("block {0} is not in the store")]
    MissingBlock(u64),
    /// Block 0 (genesis) was asked to be checked: it is not executed, so it has no steps.
    #[error("block 0 (genesis) has no steps")]
    GenesisHasNoSteps,
    /// The step machine could not trace a stored block (e.g. a step kind it does not support
    /// yet: the source names it).
    #[error("block {number}: {source}")]
    Trace {
        /// The block.
        number: u64,
        /// Why the trace failed.
        source: fraud_vm::vm::TraceError,
    },
    /// The data directory cannot be created.
    #[error("cannot create the data directory {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JSON-RPC server cannot listen on its address (in use, not local, no permission).
    #[error("rpc: cannot listen on {addr}: {source}")]
    RpcBind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Two JSON-RPC modules register the same method (a bug in the node's wiring).
    #[error("rpc: {0}")]
    RpcMethods(#[from] jsonrpsee::core::RegisterMethodError),
    /// The L1 deployment is for another L2 chain id than the genesis.
    #[error("the deployment is for L2 chain {deployment}, the genesis is chain {genesis}")]
    DeploymentChainId {
        /// The deployment's L2 chain id.
        deployment: u64,
        /// The genesis chain id.
        genesis: u64,
    },
    /// The genesis' L2StandardBridge trusts another L1 bridge than the deployment's.
    #[error(
        "the genesis' L2StandardBridge trusts the L1 bridge {genesis}, the deployment's is {deployment} \
         (deploy with the devnet deployer on a fresh L1, or regenerate the genesis)"
    )]
    DeploymentBridge {
        /// The L1 bridge the genesis' L2 bridge trusts.
        genesis: alloy_primitives::Address,
        /// The deployment's L1StandardBridge.
        deployment: alloy_primitives::Address,
    },
    /// The flags do not fit together (the message names them).
    #[error("config: {0}")]
    Config(String),
    /// A task of the node failed in a way none of the above describes (a panic, a thread
    /// that could not start).
    #[error("internal: {0}")]
    Internal(String),
}
