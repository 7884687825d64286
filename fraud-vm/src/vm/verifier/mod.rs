//! The reference verifier: what an L1 verifier (a Solidity port, none exists yet) is to mirror,
//! file for file.
//!
//! [`verify_step`] (this file) is the one entry; [`StepError`] (`error`) says why a proof is
//! refused; `params` holds the machine's fixed parameters. Below the entry: the dispatch
//! (`step`), the step context every family works on (`ctx`: the machine and its oracle, gas,
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
mod error;
mod exit;
mod flow;
mod halt;
pub mod handoff;
pub mod input;
pub mod keccak;
pub mod l1_oracle;
mod log;
pub mod machine;
pub mod opcodes;
pub mod open;
pub mod oracle;
mod params;
pub mod proof;
mod selfdestruct;
mod stack_memory;
mod step;
mod storage;
mod tx;

use alloy_primitives::B256;

pub use ctx::{memory_cost, HaltReason, StepInfo, StepKind};
pub use error::StepError;
pub use machine::{BlockPart, Checkpoint, Claim, Frame, FrameKind, Machine, Status, TxPart};
pub use params::{
    BLOB_BASE_FEE, BLOCK_HASH_DEPTH, BLOCK_HASH_WINDOW, COLD_ACCOUNT_ACCESS, COLD_SLOAD,
    DATA_DEPTH, SET_MEMBER, STACK_LIMIT, WARM_ACCESS,
};
pub use proof::{Proof, StepProof, Witness};
pub use step::step;

/// The reference verifier: checks `proof` against `pre_hash`, executes the step, and returns
/// the post-state hash with what the step did. An open step reads L1: it needs
/// [`verify_step_on`] (here it is refused with [`StepError::NoL1`]).
pub fn verify_step(pre_hash: B256, proof: &Proof) -> Result<(B256, StepInfo), StepError> {
    verify(pre_hash, proof, None)
}

/// [`verify_step`] with the protocol's constants and a view of L1, which the open step reads.
pub fn verify_step_on(
    pre_hash: B256,
    proof: &Proof,
    protocol: &open::Protocol,
    l1: &dyn open::L1Inbox,
) -> Result<(B256, StepInfo), StepError> {
    verify(pre_hash, proof, Some((protocol, l1)))
}

fn verify(
    pre_hash: B256,
    proof: &Proof,
    env: Option<(&open::Protocol, &dyn open::L1Inbox)>,
) -> Result<(B256, StepInfo), StepError> {
    let proof = match proof {
        Proof::Open(p) => {
            let (protocol, l1) = env.ok_or(StepError::NoL1)?;
            let started = open::open(protocol, l1, pre_hash, p)?;
            let info = StepInfo {
                kind: StepKind::Open,
                halt: None,
            };
            return Ok((started.hash(), info));
        }
        Proof::Step(p) => p,
        Proof::Terminal(claim) if machine::end_hash(claim) == pre_hash => {
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
    let mut checker = match env {
        Some((_, l1)) => oracle::Checker::on_l1(proof.witnesses.clone(), l1),
        None => oracle::Checker::new(proof.witnesses.clone()),
    };
    let info = step(&mut machine, &mut checker)?;
    checker.finish()?;
    Ok((machine.hash(), info))
}
