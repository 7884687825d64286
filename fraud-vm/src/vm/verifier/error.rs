//! Why a step is refused.

/// Why a step could not be verified (or proven).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The proof's pre-state parts do not hash to the claimed pre-state hash.
    #[error("the proof's pre-state does not match the pre-state hash")]
    PreStateMismatch,
    /// The step needs a witness the proof does not have.
    #[error("missing witness: {0}")]
    MissingWitness(&'static str),
    /// The next witness is of another kind or shape.
    #[error("wrong witness kind or shape: expected {0}")]
    WrongWitness(&'static str),
    /// A witness does not match its commitment.
    #[error("witness does not match its commitment: {0}")]
    BadWitness(&'static str),
    /// The proof carries witnesses the step does not read.
    #[error("{0} unused witnesses")]
    UnusedWitnesses(usize),
    /// The step reads the Inbox's accumulator at an index L1 does not hold.
    #[error("the Inbox holds no accumulator at index {0}")]
    NotOnL1(u64),
    /// The step reads L1 (an open step), and the verifier was given no L1 to read
    /// ([`super::verify_step_on`] takes one).
    #[error("the step reads L1: verify it with an L1 view")]
    NoL1,
    /// A state no block of the chain reaches (a step after the block ended, a refund counter
    /// below zero): the machine defines no step from it.
    #[error("unsupported state: {0}")]
    Unsupported(String),
}
