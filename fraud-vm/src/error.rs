use alloy_primitives::B256;

/// Errors of the chain's rules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The genesis file is malformed.
    #[error("invalid genesis: {0}")]
    Genesis(String),
    /// The state provider failed (disk, missing data).
    #[error("state provider: {0}")]
    Provider(#[from] ProviderError),
    /// The state tree is missing a node or holds garbage.
    #[error("state tree: {0}")]
    Tree(#[from] crate::smt::SmtError),
    /// A transaction of a block that must be valid (a replayed block) is invalid.
    #[error("transaction {index} ({hash}) is invalid: {reason}")]
    InvalidBlockTransaction {
        /// Position in the block.
        index: usize,
        /// Transaction hash.
        hash: B256,
        /// Why.
        reason: String,
    },
}

/// A failure of the storage behind the EVM (not a property of the transaction).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

#[cfg(feature = "evm")]
impl revm::database_interface::DBErrorMarker for ProviderError {}
