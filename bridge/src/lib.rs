//! Deposits between L1 and the L2: the L1 deployment ([`deploy`]), the client library
//! ([`client`]) and the `bridge` command-line tool (`src/main.rs`).
//!
//! Formats (message hashes, aliasing, the deployment file) are `fraud-vm`'s
//! ([`fraud_vm::message`], [`fraud_vm::deposit`]); this crate only talks to L1 and L2 nodes over
//! JSON-RPC with alloy.

#![warn(missing_docs)]

pub mod client;
pub mod deploy;

pub use fraud_vm::deposit::Deployment;

/// Errors of the bridge library.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// A JSON-RPC call to `endpoint` failed (unreachable node, refused call...).
    #[error("{endpoint}: {message}")]
    Rpc {
        /// Which node (`L1` or `L2`) and what was asked.
        endpoint: String,
        /// The failure.
        message: String,
    },
    /// An endpoint is not the chain the deployment names.
    #[error(
        "{endpoint} has chain id {actual}, but the deployment expects {expected}: wrong --{flag}?"
    )]
    WrongChain {
        /// `L1` or `L2`.
        endpoint: &'static str,
        /// The flag naming the endpoint.
        flag: &'static str,
        /// The deployment's chain id.
        expected: u64,
        /// The endpoint's chain id.
        actual: u64,
    },
    /// The account cannot pay for what it asked.
    #[error("insufficient {what}: {account} has {have}, needs {need}")]
    InsufficientBalance {
        /// `ETH` or a token.
        what: String,
        /// The paying account.
        account: alloy_primitives::Address,
        /// Its balance.
        have: alloy_primitives::U256,
        /// The amount needed.
        need: alloy_primitives::U256,
    },
    /// The token address holds no ERC20 contract.
    #[error("unknown token {0}: no contract at this address on L1")]
    UnknownToken(alloy_primitives::Address),
    /// An L1 transaction reverted.
    #[error("L1 transaction {hash} reverted ({what})")]
    Reverted {
        /// The transaction hash.
        hash: alloy_primitives::B256,
        /// What it was.
        what: String,
    },
    /// The transaction has no deposit of this deployment.
    #[error("L1 transaction {0} queued no deposit in this deployment's Inbox")]
    NoDeposit(alloy_primitives::B256),
    /// The L1 transaction is unknown (or not mined yet).
    #[error("L1 transaction {0} not found (not mined yet, or another L1?)")]
    UnknownTransaction(alloy_primitives::B256),
    /// A deposit did not appear on L2 in time.
    #[error("deposit {l2_tx} not included on L2 within {seconds} s")]
    Timeout {
        /// The L2 transaction hash waited for.
        l2_tx: alloy_primitives::B256,
        /// The time waited.
        seconds: u64,
    },
    /// A contract artifact is malformed (a build problem).
    #[error("artifact {0}: {1}")]
    Artifact(&'static str, String),
    /// Bad input (URL, key, file).
    #[error("{0}")]
    Input(String),
}

impl BridgeError {
    pub(crate) fn rpc(endpoint: &str, e: impl std::fmt::Display) -> Self {
        Self::Rpc {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        }
    }
}
