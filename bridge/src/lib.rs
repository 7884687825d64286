//! Deposits and withdrawals between L1 and the L2: the L1 deployment ([`deploy`]), the client
//! library ([`client`] for deposits, [`withdraw`] for withdrawals), the `bridge`
//! command-line tool (`src/main.rs`) and the dev accounts every devnet tool uses ([`dev`]).
//!
//! Formats (message hashes, aliasing, the deployment file) are `fraud-vm`'s
//! ([`fraud_vm::message`], [`fraud_vm::deposit`]); this crate only talks to L1 and L2 nodes over
//! JSON-RPC with alloy.

#![warn(missing_docs)]

pub mod client;
pub mod deploy;
pub mod dev;
pub mod withdraw;

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
    /// The L2 transaction initiated no withdrawal.
    #[error("L2 transaction {0} initiated no withdrawal")]
    NoWithdrawal(alloy_primitives::B256),
    /// The L2 transaction is unknown.
    #[error("L2 transaction {0} not found (not included yet, or another L2?)")]
    UnknownL2Transaction(alloy_primitives::B256),
    /// No output covers the withdrawal's L2 block yet.
    #[error(
        "not yet provable: no output proposed at or after L2 block {l2_block} (latest proposed: {});          the proposer posts one once the block is batched to L1",
        latest_output.map_or("none".to_string(), |n| n.to_string())
    )]
    NotYetProvable {
        /// The withdrawal's L2 block.
        l2_block: u64,
        /// The newest proposed L2 block.
        latest_output: Option<u64>,
    },
    /// The withdrawal was proven already.
    #[error("withdrawal {hash} is already proven (against output {output_index})")]
    AlreadyProven {
        /// The withdrawal hash.
        hash: alloy_primitives::B256,
        /// The output it was proven against.
        output_index: u64,
    },
    /// Finalizing before proving.
    #[error("withdrawal {0} is not proven yet: run `bridge prove` first")]
    NotProven(alloy_primitives::B256),
    /// The challenge window of the proven output is still open.
    #[error("challenge window not elapsed: output {output_index} is final in {seconds_left} s")]
    WindowNotElapsed {
        /// The output the withdrawal was proven against.
        output_index: u64,
        /// Seconds left.
        seconds_left: u64,
    },
    /// The withdrawal was finalized already.
    #[error("withdrawal {0} is already finalized")]
    AlreadyFinalized(alloy_primitives::B256),
    /// The L2 node does not have the output's block yet.
    #[error("the L2 node does not have block {0} yet")]
    L2Behind(u64),
    /// The L2 node's block does not hash to the proposed output root.
    #[error(
        "output {index} does not match the L2 node's block {l2_block}: a wrong proposal (or another L2)"
    )]
    OutputMismatch {
        /// The output index.
        index: u64,
        /// Its L2 block.
        l2_block: u64,
    },
    /// The L2 node's state proof is malformed or does not show the withdrawal.
    #[error("bad withdrawal proof: {0}")]
    BadProof(String),
    /// The Portal holds less ETH than the withdrawal pays out.
    #[error(
        "the Portal holds {locked} wei, less than the withdrawal's {value}: only ETH deposited \
         through the Portal can be withdrawn (not finalizing, which would spend the withdrawal)"
    )]
    PortalUnderfunded {
        /// Wei held by the Portal.
        locked: alloy_primitives::U256,
        /// Wei the withdrawal pays.
        value: alloy_primitives::U256,
    },
    /// A withdrawal did not reach the awaited state in time.
    #[error("withdrawal {hash}: gave up after {seconds} s")]
    WithdrawalTimeout {
        /// The withdrawal hash.
        hash: alloy_primitives::B256,
        /// The time waited.
        seconds: u64,
    },
}

impl BridgeError {
    pub(crate) fn rpc(endpoint: &str, e: impl std::fmt::Display) -> Self {
        Self::Rpc {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        }
    }
}
