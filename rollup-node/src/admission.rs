//! Admission of raw transactions from users: every check that can be made before execution,
//! with the error messages Ethereum clients use, before a transaction reaches the pool.
//!
//! What a user transaction is (type, chain id, signature) is the chain's rule
//! ([`fraud_vm::batch::validate_user_tx`]), the one derivation applies to batch transactions;
//! admission adds the node's own limits (size, gas, fees, balance) and the pool's nonce rules.

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, U256};
use fraud_vm::{
    batch::{decode_user_tx, UserTxError},
    chain::ChainSpec,
    execute::{tx_env, ExecutableTx},
    fee::{l1_fee, L1_BASEFEE_SLOT},
    message::L1_INFO,
};
use op_alloy_consensus::OpTxEnvelope;
use revm::{
    context_interface::cfg::gas::calculate_initial_tx_gas_for_tx,
    primitives::eip3860::MAX_INITCODE_SIZE,
};

use crate::{
    mempool::{Mempool, PoolError},
    store::{Store, StoreError},
};

/// Largest accepted encoded transaction (as geth: 128 KiB).
pub const MAX_TX_SIZE: usize = 128 * 1024;

/// Why a raw transaction was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// Larger than [`MAX_TX_SIZE`].
    #[error("oversized data: transaction size {0}, limit {MAX_TX_SIZE}")]
    Oversized(usize),
    /// Bytes that are not a transaction.
    #[error("rlp: {0}")]
    Decode(String),
    /// Not a user transaction type on this chain.
    #[error("transaction type not supported: {0}")]
    UnsupportedType(u8),
    /// A legacy transaction without EIP-155 replay protection.
    #[error("only replay-protected (EIP-155) transactions allowed over RPC")]
    Unprotected,
    /// Signed for another chain.
    #[error("invalid chain id: have {have}, want {want}")]
    WrongChainId {
        /// The transaction's chain id.
        have: u64,
        /// This chain's id.
        want: u64,
    },
    /// The signature does not recover.
    #[error("invalid sender: {0}")]
    BadSignature(String),
    /// Gas limit above the block gas limit.
    #[error("exceeds block gas limit")]
    GasLimitTooHigh,
    /// Gas limit below the intrinsic gas.
    #[error("intrinsic gas too low: have {have}, want {want}")]
    IntrinsicGas {
        /// Gas limit.
        have: u64,
        /// Intrinsic gas.
        want: u64,
    },
    /// EIP-3860.
    #[error("max initcode size exceeded: code size {0}, limit {MAX_INITCODE_SIZE}")]
    InitcodeTooLarge(usize),
    /// Priority fee above fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// Fee cap below the current base fee.
    #[error("transaction underpriced: fee cap {fee_cap} below base fee {base_fee}")]
    Underpriced {
        /// The transaction's fee cap.
        fee_cap: u128,
        /// The next block's base fee.
        base_fee: u64,
    },
    /// The sender cannot pay for the transaction.
    #[error(
        "insufficient funds for gas * price + value + L1 data fee: balance {balance}, tx cost \
         {cost}"
    )]
    InsufficientFunds {
        /// The sender's balance.
        balance: U256,
        /// gas limit × fee cap + value + L1 data fee (`fraud_vm::fee`, at the tip's L1 base fee).
        cost: U256,
    },
    /// The pool refused it.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UserTxError> for AdmissionError {
    /// The chain's user-transaction rule ([`fraud_vm::batch::validate_user_tx`], the one
    /// derivation applies) in the words Ethereum clients use.
    fn from(e: UserTxError) -> Self {
        match e {
            UserTxError::Decode(reason) => Self::Decode(reason),
            UserTxError::Type(ty) => Self::UnsupportedType(ty),
            UserTxError::Unprotected => Self::Unprotected,
            UserTxError::WrongChainId { have, want } => Self::WrongChainId { have, want },
            UserTxError::HighS => Self::BadSignature("s above n/2 (EIP-2)".into()),
            UserTxError::Signature(reason) => Self::BadSignature(reason),
        }
    }
}

/// Validates `raw` against the chain and the latest state, then adds it to the pool.
/// Returns the transaction hash and its sender.
pub fn admit(
    raw: &[u8],
    chain: &ChainSpec,
    store: &Store,
    pool: &Mempool,
    block_gas_limit: u64,
) -> Result<(B256, Address, OpTxEnvelope), AdmissionError> {
    if raw.len() > MAX_TX_SIZE {
        return Err(AdmissionError::Oversized(raw.len()));
    }
    let ExecutableTx { tx, sender } = decode_user_tx(chain, raw).map_err(AdmissionError::from)?;
    if tx.gas_limit() > block_gas_limit {
        return Err(AdmissionError::GasLimitTooHigh);
    }
    if tx.is_create() && tx.input().len() > MAX_INITCODE_SIZE {
        return Err(AdmissionError::InitcodeTooLarge(tx.input().len()));
    }
    let env = tx_env(&tx, sender).map_err(|e| AdmissionError::Decode(e.to_string()))?;
    let intrinsic = calculate_initial_tx_gas_for_tx(&env, chain.spec, None);
    let want =
        (intrinsic.initial_regular_gas + intrinsic.initial_state_gas).max(intrinsic.floor_gas);
    if tx.gas_limit() < want {
        return Err(AdmissionError::IntrinsicGas {
            have: tx.gas_limit(),
            want,
        });
    }
    if let Some(tip) = tx.max_priority_fee_per_gas() {
        if tip > tx.max_fee_per_gas() {
            return Err(AdmissionError::TipAboveFeeCap);
        }
    }
    let base_fee = store
        .head()
        .map(|h| chain.next_base_fee(&h.header))
        .unwrap_or_default();
    if tx.max_fee_per_gas() < base_fee as u128 {
        return Err(AdmissionError::Underpriced {
            fee_cap: tx.max_fee_per_gas(),
            base_fee,
        });
    }
    let account = store.account(&sender)?.unwrap_or_default();
    let l1_basefee = store.storage(&L1_INFO, &L1_BASEFEE_SLOT)?;
    let cost = U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas())
        + tx.value()
        + l1_fee(l1_basefee, raw.len() as u64);
    if account.balance < cost {
        return Err(AdmissionError::InsufficientFunds {
            balance: account.balance,
            cost,
        });
    }
    let hash = tx.tx_hash();
    pool.add(tx.clone(), sender, || {
        store
            .account(&sender)
            .map(|a| a.map_or(0, |a| a.nonce))
            .map_err(|e| PoolError::State(e.to_string()))
    })?;
    Ok((hash, sender, tx))
}
