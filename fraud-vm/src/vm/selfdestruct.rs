//! `SELFDESTRUCT` (EIP-6780): the frame ends and its balance goes to the beneficiary.
//!
//! Halts in a static frame. Charges `5000` (static), `2600` if the beneficiary is cold (it joins
//! the accessed set; precompiles are warm) and `25000` if the beneficiary is empty (absent) and
//! the balance is not zero. The whole balance moves to the beneficiary (nothing moves when it
//! is the frame's own address) and the frame ends like `STOP`. An account created in the same
//! transaction would also be deleted with its storage at the transaction's end: that case is
//! not supported yet.

use alloy_primitives::{Address, B256};

use super::{
    account::{read_account, warm_address},
    call::{is_precompile, transfer},
    machine::Status,
    oracle::Oracle,
    step::{Ctx, Exec, Exit, HaltReason},
    StepError, COLD_ACCOUNT_ACCESS,
};
use crate::state::account_key;

/// Gas for sending the balance to an empty account.
const NEW_ACCOUNT: u64 = 25_000;

pub(super) fn run<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>) -> Exec {
    if ctx.m.frame.is_static {
        return Err(Exit::Halt(HaltReason::StaticViolation));
    }
    let target = Address::from_word(B256::from(ctx.pop()?));
    if !is_precompile(&target) && !warm_address(ctx, &target)? {
        ctx.charge(COLD_ACCOUNT_ACCESS)?;
    }
    let me = ctx.m.frame.address;
    let (_, account) = read_account(ctx, &me)?;
    let (target_leaf, _) = read_account(ctx, &target)?;
    if target_leaf.is_none() && !account.balance.is_zero() {
        ctx.charge(NEW_ACCOUNT)?;
    }
    let created = ctx
        .o
        .smt_read(&ctx.m.tx.created_root, &account_key(&me))?
        .is_some();
    if created {
        return Err(StepError::Unsupported(
            "SELFDESTRUCT of an account created in the same transaction".into(),
        )
        .into());
    }
    transfer(ctx, &me, &target, account.balance)?;
    let frame = &mut ctx.m.frame;
    frame.status = Status::Returned;
    frame.out_offset = 0;
    frame.out_len = 0;
    Ok(())
}
