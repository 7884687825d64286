//! Why a round of following L1 failed, by what the driver does about it (as kona's
//! `PipelineErrorKind`): retry, reset, or stop.

use alloy::primitives::B256;

use super::source::SourceError;

/// Why a round of following L1 failed. The variant is the driver's action
/// ([`super::L1Follower::drive`]).
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// L1 did not answer as expected (down, timeout, a missing block): retried with a backoff
    /// while the node keeps sealing blocks without new deposits.
    #[error("L1 {0}")]
    Temporary(#[from] SourceError),
    /// L1 reorganised below the confirmation depth: a block the follower already published
    /// changed. The L2 has already executed deposits from the replaced blocks: the driver
    /// stops, and the node rolls the L2 back and follows again ([`crate::reorg`]).
    #[error(transparent)]
    Reset(#[from] DeepReorg),
    /// Following cannot go on with this configuration: the driver stops.
    #[error(transparent)]
    Critical(#[from] CriticalError),
}

/// A block the follower already derived from no longer has its hash on L1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "L1 reorg deeper than --l1.confirmations: block {number} was {expected} and is now {actual}; \
     the L2 blocks derived from the old chain are rolled back"
)]
pub struct DeepReorg {
    /// The L1 block number.
    pub number: u64,
    /// The hash derivation used.
    pub expected: B256,
    /// The hash L1 has now.
    pub actual: B256,
}

/// An error no retry can fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CriticalError {
    /// The L1 is another chain than the deployment's.
    #[error("the L1 at --l1.rpc has chain id {actual}, the deployment expects {expected}")]
    WrongChain {
        /// The deployment's L1 chain id.
        expected: u64,
        /// The L1's chain id.
        actual: u64,
    },
    /// A sequencer batch's transaction does not carry the data the Inbox committed (the
    /// Inbox only accepts a direct call from a code-less EOA, so this is not an L1 the
    /// deployment describes). Going on would derive another chain than L1 commits to.
    #[error("batch {index} (L1 transaction {l1_tx}): {reason}")]
    UnreadableBatch {
        /// Inbox batch index.
        index: u64,
        /// The L1 transaction that appended it.
        l1_tx: B256,
        /// What does not match.
        reason: String,
    },
}
