//! The frame-exit step: the active frame has ended (status returned, reverted or halted) and
//! control goes back to its caller.
//!
//! The proof shows the suspended caller and the checkpoint (`parentHash` preimage). If the
//! callee did not return normally, the checkpoint is restored (world state, transient storage,
//! accessed sets, refund counter, logs, created set). The caller gets the callee's remaining
//! gas (0 after an exceptional halt), its return data becomes the callee's output (the
//! callee's memory root with `outOffset/outLen`; empty after an exceptional halt), and `1`
//! (returned) or `0` is pushed. If `min(outLen, returnDataLen)` of the caller is zero the call
//! is complete (`pc` advances, `outOffset/outLen` clear); otherwise `cursor = 1` and
//! [`super::call::resume`] copies the output.
//!
//! The exit of the transaction's own frame (whose caller is the boundary frame) is the
//! transaction-end step ([`super::tx::end`]). The exit of the derivation program's frame (a
//! run of type [`super::open::DERIVATION_TX_TYPE`]) is the hand-off to the block's execution
//! ([`super::handoff`]).

use alloy_primitives::U256;

use super::{
    call::clear_returndata,
    create,
    ctx::{Ctx, Exit, StepKind},
    machine::{FrameKind, Machine, Status},
    oracle::{self, Oracle},
    StepError,
};

/// Executes the exit of `m`'s ended frame (the transaction's end if its caller is the
/// boundary; a deposit micro-step first if it is a create frame that returned).
pub(super) fn run<O: Oracle + ?Sized>(m: &mut Machine, o: &mut O) -> Result<StepKind, StepError> {
    let mut ctx = Ctx::new(m, o);
    let creates = matches!(ctx.m.frame.kind, FrameKind::Create | FrameKind::Create2);
    if creates && ctx.m.frame.status == Status::Returned {
        match create::deposit(&mut ctx) {
            Ok(true) => {}
            Ok(false) => return Ok(StepKind::Deposit),
            Err(Exit::Error(e)) => return Err(e),
            Err(Exit::Halt(_)) => return Err(StepError::BadWitness("deposit cannot halt")),
        }
    }
    let child = ctx.m.frame.clone();
    let (mut caller, checkpoint) = ctx.o.parent(&child)?;
    let success = child.status == Status::Returned;
    if !success {
        checkpoint.restore(ctx.m);
    }
    if caller.status == Status::Boundary && ctx.m.tx.tx_type == super::open::DERIVATION_TX_TYPE {
        return match super::handoff::run(&mut ctx, &child) {
            Ok(()) => Ok(StepKind::Handoff),
            Err(Exit::Error(e)) => Err(e),
            Err(Exit::Halt(_)) => Err(StepError::BadWitness("the hand-off cannot halt")),
        };
    }
    if caller.status == Status::Boundary {
        return match super::tx::end(&mut ctx, &child) {
            Ok(()) => Ok(StepKind::TxEnd),
            Err(Exit::Error(e)) => Err(e),
            Err(Exit::Halt(_)) => Err(StepError::BadWitness("tx-end cannot halt")),
        };
    }
    caller.gas += child.gas;
    if child.status == Status::Halted || (creates && success) {
        clear_returndata(&mut caller);
    } else {
        caller.returndata_len = child.out_len;
        caller.returndata_root = child.mem_root;
        caller.returndata_offset = child.out_offset;
    }
    let result = if creates && success {
        U256::from_be_slice(child.address.as_slice())
    } else {
        U256::from(success)
    };
    oracle::push(&mut caller, result);
    if caller.out_len.min(caller.returndata_len) == 0 {
        caller.out_offset = 0;
        caller.out_len = 0;
        caller.pc += 1;
    } else {
        caller.cursor = 1;
    }
    ctx.m.frame = caller;
    Ok(StepKind::FrameExit)
}
