//! The reference verifier: what an L1 verifier (a Solidity port, none exists yet) is to mirror,
//! file for file.
//!
//! [`verify_step`] is the one entry; [`StepError`] says why a proof is refused. Below it:
//! the dispatch (`step`), the step context every family works on (`ctx`: [`Ctx`](ctx), gas,
//! memory expansion, how a step ends), one module per opcode family (`arith`,
//! `compare_bitwise`, `keccak`, `env`, `block_info`, `account`, `storage`, `stack_memory`,
//! `flow`, `copy`, `log`, `call`, `create`, `selfdestruct`, `halt`) and per synthetic step
//! (`tx` for tx-init and tx-end, `exit`, `block_end`, the code-deposit builder [`build`]),
//! the oracle that checks witnesses against their commitments ([`oracle::Checker`]), the
//! machine's parts and their encoding ([`machine`]), a block's inputs ([`input`]) and the
//! proof format ([`proof`]). The specification is [`crate::vm`]'s module docs.
//!
//! Nothing here depends on revm's interpreter: the verifier builds with
//! `--no-default-features` (precompiles run through the `revm-precompile` crate, as
//! [`crate::precompile`] states).

mod account;
mod arith;
mod block_end;
mod block_info;
pub mod build;
pub mod call;
mod compare_bitwise;
pub mod copy;
pub mod create;
mod ctx;
mod env;
mod exit;
mod flow;
mod halt;
pub mod input;
pub mod keccak;
mod log;
pub mod machine;
pub mod opcodes;
pub mod oracle;
pub mod proof;
mod selfdestruct;
mod stack_memory;
mod step;
mod storage;
mod tx;

use alloy_primitives::B256;

pub use ctx::{memory_cost, HaltReason, StepInfo, StepKind};
pub use machine::{BlockPart, Checkpoint, Frame, FrameKind, Machine, Status, TxPart};
pub use proof::{Proof, StepProof, Terminal, Witness};
pub use step::step;

pub use crate::merkle::DATA_DEPTH;

/// Depth of the block-hash tree (256 leaves; block `n`'s hash at leaf `n mod 256`).
pub const BLOCK_HASH_DEPTH: usize = 8;

/// Value of a member of a set tree (accessed addresses, accessed slots, created accounts).
pub const SET_MEMBER: B256 = B256::with_last_byte(1);

/// Gas of a warm account or slot access (EIP-2929).
pub const WARM_ACCESS: u64 = 100;
/// Gas of a cold account access (EIP-2929).
pub const COLD_ACCOUNT_ACCESS: u64 = 2_600;
/// Gas of a cold storage read (EIP-2929).
pub const COLD_SLOAD: u64 = 2_100;

/// Maximum number of stack items.
pub const STACK_LIMIT: u64 = 1024;

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
    /// A state no block of the chain reaches (a step after the block ended, a refund counter
    /// below zero): the machine defines no step from it.
    #[error("unsupported state: {0}")]
    Unsupported(String),
}

/// The reference verifier: checks `proof` against `pre_hash`, executes the step, and returns
/// the post-state hash with what the step did.
pub fn verify_step(pre_hash: B256, proof: &Proof) -> Result<(B256, StepInfo), StepError> {
    let proof = match proof {
        Proof::Step(p) => p,
        Proof::Terminal(t) if t.hash() == pre_hash => {
            let info = StepInfo {
                kind: StepKind::Terminal,
                halt: None,
            };
            return Ok((pre_hash, info));
        }
        Proof::Terminal(_) => return Err(StepError::PreStateMismatch),
    };
    let mut machine = proof.machine();
    if machine.hash() != pre_hash {
        return Err(StepError::PreStateMismatch);
    }
    let mut checker = oracle::Checker::new(proof.witnesses.clone());
    let info = step(&mut machine, &mut checker)?;
    checker.finish()?;
    Ok((machine.hash(), info))
}
