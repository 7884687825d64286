//! Why a block could not be traced.

use alloy_primitives::B256;

use crate::{smt::SmtError, ProviderError};

/// Why a block could not be traced.
///
/// What a caller does about it: [`Provider`](Self::Provider) and [`Tree`](Self::Tree) are the
/// node's storage failing (retry, repair the store: the block may be fine);
/// [`SendersMismatch`](Self::SendersMismatch), [`InvalidTransaction`](Self::InvalidTransaction)
/// and [`StateRootMismatch`](Self::StateRootMismatch) say the block is not what the chain's
/// rules build on this parent (a block to dispute, or the wrong parent state);
/// [`RefundBelowZero`](Self::RefundBelowZero) and [`Unsupported`](Self::Unsupported) are
/// executions the step machine defines no steps for, and [`Inconsistent`](Self::Inconsistent)
/// a bug in the trace (report them: the block cannot be proven by this machine).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The state provider failed (disk, a missing account, code or block hash).
    #[error("state provider: {0}")]
    Provider(#[from] ProviderError),
    /// The state tree the replay updates is missing a node or holds garbage.
    #[error("state tree: {0}")]
    Tree(#[from] SmtError),
    /// The block does not give one sender per transaction.
    #[error("{transactions} transactions but {senders} senders")]
    SendersMismatch {
        /// Transactions in the block.
        transactions: usize,
        /// Senders given.
        senders: usize,
    },
    /// revm refused a transaction of the block (a type the L2 does not accept, a wrong nonce,
    /// a balance short of the gas purchase, …); a deposit is never refused (it is included as
    /// failed).
    #[error("transaction {index} cannot be executed: {reason}")]
    InvalidTransaction {
        /// Its position in the block.
        index: usize,
        /// revm's reason.
        reason: String,
    },
    /// The replay reached another state root than the block's header holds.
    #[error("replay reached state root {replayed} but the block has {header}")]
    StateRootMismatch {
        /// The state root after replaying the block.
        replayed: B256,
        /// The header's state root.
        header: B256,
    },
    /// A transaction's refund counter would go below zero, a state the step machine has no
    /// step from ([`crate::vm::StepError::Unsupported`]; the machine's docs argue no
    /// transaction reaches it).
    #[error("transaction refund counter below zero")]
    RefundBelowZero,
    /// revm ran something the trace's model has no steps for (a frame entered or ended in a
    /// way the machine does not define).
    #[error("no steps for: {0}")]
    Unsupported(String),
    /// The derivation program asked the oracle for something the trace was not given (a
    /// preimage, an Inbox accumulator).
    #[error("the derivation oracle cannot answer: {0}")]
    Oracle(String),
    /// revm's observed behaviour contradicts the trace's own model (a bug in the trace).
    #[error("inconsistent trace: {0}")]
    Inconsistent(String),
}
