//! `SELFDESTRUCT` (EIP-6780): the frame ends and its balance goes to the beneficiary; an
//! account created in the same transaction is deleted with its storage at the transaction's end.
//!
//! Halts in a static frame. Charges `5000` (static), `2600` if the beneficiary is cold (it joins
//! the accessed set; precompiles are warm) and `25000` if the beneficiary is empty (absent) and
//! the balance is not zero. The whole balance moves to the beneficiary (nothing moves when it
//! is the frame's own address) and the frame ends like `STOP`.
//!
//! If the account is in the transaction's created set, its balance is zero afterwards even
//! when it named itself (the balance is burnt), and its address is linked onto
//! `tx.destructed` (`keccak256(prev ‖ uint256(address))`, from zero). To know which storage to
//! delete, a created account's member value in the created set is the hash chain of the slots
//! it set from zero to non-zero: it starts at [`SET_MEMBER`] and `SSTORE` links the slot
//! (`keccak256(prev ‖ slot)`) whenever a created account's slot goes from zero to non-zero
//! ([`track_slot`]; a slot may appear more than once). Both the created set and the chain are
//! in the checkpoint, so a reverted frame forgets its self-destructs and slots.
//!
//! **Deletion** ([`delete`], [`super::StepKind::Destruct`]): after the transaction's end step
//! (fees, receipt) the state is a boundary whose transaction part still holds `createdRoot`
//! and `destructed`; while `destructed` is not zero, each micro-step shows its last link
//! `(prev, address)` and the account's member value `c`: if `c` is [`SET_MEMBER`] the account
//! leaf is deleted and `destructed = prev`; otherwise it shows `c`'s last link
//! `(before, slot)`, deletes storage leaf `keccak256(address ‖ slot)` and sets the member value
//! to `before`. When `destructed` reaches zero the transaction part is cleared.

use alloy_primitives::{Address, B256, U256};

use super::{
    account::{read_account, update_balance, warm_address},
    call::transfer,
    ctx::{Ctx, Exec, Exit, HaltReason},
    machine::{link, Status, TxPart},
    oracle::Oracle,
    StepError, COLD_ACCOUNT_ACCESS, SET_MEMBER,
};
use crate::state::{account_key, storage_key};

/// Gas for sending the balance to an empty account.
const NEW_ACCOUNT: u64 = 25_000;

pub(super) fn run<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>) -> Exec {
    if ctx.m.frame.is_static {
        return Err(Exit::Halt(HaltReason::StaticViolation));
    }
    let target = Address::from_word(B256::from(ctx.pop()?));
    if !crate::precompile::is_precompile(&target) && !warm_address(ctx, &target)? {
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
    transfer(ctx, &me, &target, account.balance)?;
    if created {
        if target == me && !account.balance.is_zero() {
            update_balance(ctx, &me, |_| U256::ZERO)?;
        }
        ctx.m.tx.destructed = link(&ctx.m.tx.destructed, &me.into_word());
    }
    let frame = &mut ctx.m.frame;
    frame.status = Status::Returned;
    frame.out_offset = 0;
    frame.out_len = 0;
    Ok(())
}

/// After `SSTORE` set `slot` of `address` from zero to non-zero: links the slot onto the
/// account's member value if the account was created in this transaction.
pub(super) fn track_slot<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    address: &Address,
    slot: U256,
) -> Result<(), StepError> {
    let key = account_key(address);
    let Some(chain) = ctx.o.smt_read(&ctx.m.tx.created_root, &key)? else {
        return Ok(());
    };
    let mut root = ctx.m.tx.created_root;
    let next = link(&chain, &B256::from(slot));
    ctx.o.smt_write(&mut root, &key, Some(next))?;
    ctx.m.tx.created_root = root;
    Ok(())
}

/// One deletion micro-step at the boundary after a transaction with self-destructs.
pub(super) fn delete<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>) -> Result<(), StepError> {
    let (prev, item) = ctx.o.link(&ctx.m.tx.destructed)?;
    let address = Address::from_word(item);
    let key = account_key(&address);
    let chain = ctx
        .o
        .smt_read(&ctx.m.tx.created_root, &key)?
        .ok_or(StepError::BadWitness("self-destructed account not created"))?;
    let mut world = ctx.m.block.state_root;
    if chain == SET_MEMBER {
        ctx.o.smt_write(&mut world, &key, None)?;
        ctx.m.tx.destructed = prev;
    } else {
        let (before, slot) = ctx.o.link(&chain)?;
        let slot_key = storage_key(&address, &U256::from_be_bytes(slot.0));
        ctx.o.smt_write(&mut world, &slot_key, None)?;
        let mut created = ctx.m.tx.created_root;
        ctx.o.smt_write(&mut created, &key, Some(before))?;
        ctx.m.tx.created_root = created;
    }
    ctx.m.block.state_root = world;
    if ctx.m.tx.destructed.is_zero() {
        ctx.m.tx = TxPart::default();
    }
    Ok(())
}
