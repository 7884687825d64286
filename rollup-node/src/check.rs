//! Checking a stored block with the fraud-proof step machine: replay it with
//! [`fraud_vm::vm::Trace`], prove and verify every step with the reference verifier, and report
//! the first step where the verifier and revm disagree (if any).

use std::{collections::BTreeMap, time::Instant};

use alloy_primitives::B256;
use fraud_vm::{
    chain::ChainSpec,
    vm::{self, machine::end_hash, opcodes, BlockRef, StepKind, Trace},
};
use serde::{Deserialize, Serialize};

use crate::{
    claim::claim_with,
    provider::{BlockReader, StateReader},
    NodeError,
};

/// The outcome of checking one block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Steps in the block's trace.
    pub steps: u64,
    /// Steps checked (all of them unless a mismatch stopped the check).
    pub checked: u64,
    /// Steps per kind (opcode mnemonics, `TxInit`, `FrameExit`, …).
    pub kinds: BTreeMap<String, u64>,
    /// The first step whose proof did not verify to the next state, if any.
    pub first_mismatch: Option<Mismatch>,
    /// The claim the trace ends in (`fraud_vm::vm::machine::end_hash`; with a zero cursor
    /// when this node did not derive the block from a batch).
    pub claim: B256,
    /// Whether every step verified and the trace ends in the claim on the stored block (its
    /// hash, state root, block-hash window and derivation cursor).
    pub ok: bool,
    /// Milliseconds spent replaying the block.
    pub trace_ms: u64,
    /// Milliseconds spent proving and verifying the steps.
    pub verify_ms: u64,
}

/// A step the verifier rejected or disagreed on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mismatch {
    /// Step index.
    pub step: u64,
    /// What the step runs.
    pub kind: String,
    /// What went wrong.
    pub error: String,
}

fn kind_name(kind: StepKind) -> String {
    match kind {
        StepKind::Opcode(op) => opcodes::name(op).to_string(),
        other => format!("{other:?}"),
    }
}

/// Traces block `number` (not genesis) of `provider`'s chain and checks every step, and that
/// the last state is the claim on the stored block ([`crate::claim::claim_with`]), whose
/// derivation cursor is the one this node recorded when it derived the block (zero for a block
/// it did not derive from a batch: a sequencer's own; the open step and block-end carry it).
///
/// Fails with [`NodeError::GenesisHasNoSteps`] for block 0, [`NodeError::MissingBlock`] if the
/// block is unknown, a pruned-state error if its parent's state is gone, and
/// [`NodeError::Trace`] if the step machine cannot trace it at all (a step kind it does not
/// support yet: the error names it).
pub fn check_block<P: BlockReader + StateReader>(
    provider: &P,
    chain: &ChainSpec,
    number: u64,
) -> Result<CheckReport, NodeError> {
    if number == 0 {
        return Err(NodeError::GenesisHasNoSteps);
    }
    let block = provider
        .block_by_number(number)?
        .ok_or(NodeError::MissingBlock(number))?;
    let (_, parent) = provider
        .header_by_number(number - 1)?
        .ok_or(NodeError::MissingBlock(number - 1))?;
    let state = provider.state_at(number - 1, parent.state_root)?;
    let cursor = provider
        .derivation_cursor(number)?
        .map_or(B256::ZERO, |c| c.hash());
    let start = Instant::now();
    // A derived block whose list held transactions tx-init skipped is traced over that list,
    // so its trace starts where the derivation program's hand-off does.
    let inputs = provider.block_inputs(number)?;
    let trace = Trace::for_parts(
        &state,
        chain,
        &parent,
        BlockRef {
            header: &block.header,
            hash: block.hash,
            transactions: &block.transactions,
            senders: &block.senders,
            cursor,
            inputs: inputs.as_deref(),
        },
    )
    .map_err(|source| NodeError::Trace { number, source })?;
    let trace_ms = start.elapsed().as_millis() as u64;
    let start = Instant::now();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut first_mismatch = None;
    let mut checked = 0;
    let mut next = trace.state_hash(0);
    for i in 0..trace.len() {
        let pre = next;
        next = trace.state_hash(i + 1);
        let outcome = trace
            .prove_step(i)
            .and_then(|(proof, info)| Ok((vm::verify_step(pre, &proof)?, info)));
        match outcome {
            Ok(((post, _), info)) if post == next => {
                *kinds.entry(kind_name(info.kind)).or_default() += 1;
                checked += 1;
            }
            Ok(((_, _), info)) => {
                first_mismatch = Some(Mismatch {
                    step: i as u64,
                    kind: kind_name(info.kind),
                    error: "the verifier's post-state differs from the replay's".into(),
                });
                break;
            }
            Err(e) => {
                first_mismatch = Some(Mismatch {
                    step: i as u64,
                    kind: trace
                        .opcode(i)
                        .map_or("(synthetic step)".into(), |op| opcodes::name(op).into()),
                    error: e.to_string(),
                });
                break;
            }
        }
    }
    let expected = claim_with(provider, number, cursor)?;
    let claim = trace.final_hash();
    let ok = first_mismatch.is_none()
        && expected.is_some_and(|c| trace.claim().as_ref() == Some(&c) && end_hash(&c) == claim);
    Ok(CheckReport {
        number,
        hash: block.hash,
        steps: trace.len() as u64,
        checked,
        kinds,
        first_mismatch,
        claim,
        ok,
        trace_ms,
        verify_ms: start.elapsed().as_millis() as u64,
    })
}
