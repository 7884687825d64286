#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod admission;
pub mod batcher;
pub mod cache;
pub mod check;
pub mod derive;
pub mod events;
pub mod follower;
pub mod history;
pub mod mempool;
pub mod node;
pub mod proposer;
pub mod replica;
pub mod rpc;
pub mod sequencer;
pub mod store;

pub use node::{Node, NodeConfig};

/// Errors that stop the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The chain store failed.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The chain rules failed (a bug or corrupt state).
    #[error(transparent)]
    Chain(#[from] fraud_vm::Error),
    /// The store has no genesis block.
    #[error("the store holds no chain")]
    NoGenesis,
    /// The RPC server could not start.
    #[error("rpc: {0}")]
    Rpc(String),
    /// Configuration is invalid.
    #[error("config: {0}")]
    Config(String),
    /// Anything else.
    #[error("internal: {0}")]
    Internal(String),
}
