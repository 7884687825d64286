//! Storage: `SLOAD`, `SSTORE` (EIP-2200, EIP-2929, EIP-3529), `TLOAD`, `TSTORE` (EIP-1153).
//!
//! A slot's value is the storage leaf `keccak256(address ‖ slot)` of the world-state tree
//! (`block.stateRoot`; absent = 0). Its original value (at transaction start) is read from
//! `tx.startStateRoot`. A slot is warm if its key is in the accessed-slots set; transient
//! storage is a tree with the same keys (`tx.transientRoot`). A slot of an account created in
//! the transaction that goes from zero to non-zero is linked onto its created-set member value
//! (see `selfdestruct`: EIP-6780 deletes that storage if the account self-destructs).

use alloy_primitives::{B256, U256};

use super::{
    ctx::{Ctx, Exec, Exit, HaltReason},
    oracle::Oracle,
    COLD_SLOAD, SET_MEMBER, WARM_ACCESS,
};
use crate::state::storage_key;

/// `SSTORE` fails when no more than this much gas is left (EIP-2200).
const SSTORE_SENTRY: u64 = 2300;
/// Setting a zero slot to non-zero.
const SSTORE_SET: u64 = 20_000;
/// Changing a non-zero slot (5000 minus the cold surcharge, EIP-2929).
const SSTORE_RESET: u64 = 2_900;
/// Refund for clearing a slot (EIP-3529).
const SSTORE_CLEARS: u64 = 4_800;

/// A slot value as a tree leaf (`None` for zero).
fn leaf(value: U256) -> Option<B256> {
    (!value.is_zero()).then(|| B256::from(value))
}

fn value(leaf: Option<B256>) -> U256 {
    leaf.map_or(U256::ZERO, |v| U256::from_be_bytes(v.0))
}

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let address = ctx.m.frame.address;
    match opcode {
        0x54 => {
            let slot = ctx.pop()?;
            let key = storage_key(&address, &slot);
            let warm = access_slot(ctx, &key)?;
            ctx.charge(if warm { WARM_ACCESS } else { COLD_SLOAD })?;
            let current = ctx.o.smt_read(&ctx.m.block.state_root, &key)?;
            ctx.push(value(current));
        }
        0x55 => {
            if ctx.m.frame.is_static {
                return Err(Exit::Halt(HaltReason::StaticViolation));
            }
            if ctx.m.frame.gas <= SSTORE_SENTRY {
                return Err(Exit::Halt(HaltReason::OutOfGas));
            }
            let [slot, new] = ctx.pop_n()?;
            let key = storage_key(&address, &slot);
            if !access_slot(ctx, &key)? {
                ctx.charge(COLD_SLOAD)?;
            }
            let mut root = ctx.m.block.state_root;
            let current = value(ctx.o.smt_write(&mut root, &key, leaf(new))?);
            ctx.m.block.state_root = root;
            let original = value(ctx.o.smt_read(&ctx.m.tx.start_state_root, &key)?);
            sstore_gas_and_refund(ctx, original, current, new)?;
            if current.is_zero() && !new.is_zero() {
                super::selfdestruct::track_slot(ctx, &address, slot)?;
            }
        }
        0x5c => {
            let slot = ctx.pop()?;
            let key = storage_key(&address, &slot);
            let v = ctx.o.smt_read(&ctx.m.tx.transient_root, &key)?;
            ctx.push(value(v));
        }
        0x5d => {
            if ctx.m.frame.is_static {
                return Err(Exit::Halt(HaltReason::StaticViolation));
            }
            let [slot, new] = ctx.pop_n()?;
            let key = storage_key(&address, &slot);
            let mut root = ctx.m.tx.transient_root;
            ctx.o.smt_write(&mut root, &key, leaf(new))?;
            ctx.m.tx.transient_root = root;
        }
        _ => unreachable!("not a storage opcode: {opcode:#x}"),
    }
    ctx.next(0);
    Ok(())
}

/// Adds the slot key to the accessed set; returns whether it was already there.
pub(super) fn access_slot<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    key: &B256,
) -> Result<bool, Exit> {
    let mut root = ctx.m.tx.accessed_slots;
    let was = ctx.o.smt_write(&mut root, key, Some(SET_MEMBER))?;
    ctx.m.tx.accessed_slots = root;
    Ok(was.is_some())
}

/// EIP-2200 gas (after the cold surcharge) and EIP-3529 refunds.
fn sstore_gas_and_refund<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    original: U256,
    current: U256,
    new: U256,
) -> Exec {
    let gas = if current == new || original != current {
        WARM_ACCESS
    } else if original.is_zero() {
        SSTORE_SET
    } else {
        SSTORE_RESET
    };
    ctx.charge(gas)?;
    if current == new {
        return Ok(());
    }
    let mut refund = ctx.m.tx.refund as i128;
    if original == current {
        if !original.is_zero() && new.is_zero() {
            refund += SSTORE_CLEARS as i128;
        }
    } else {
        if !original.is_zero() {
            if current.is_zero() {
                refund -= SSTORE_CLEARS as i128;
            } else if new.is_zero() {
                refund += SSTORE_CLEARS as i128;
            }
        }
        if original == new {
            refund += if original.is_zero() {
                (SSTORE_SET - WARM_ACCESS) as i128
            } else {
                (SSTORE_RESET - WARM_ACCESS) as i128
            };
        }
    }
    // The transaction-wide counter never goes below zero: a decrease undoes an earlier increase.
    ctx.m.tx.refund = u64::try_from(refund)
        .map_err(|_| super::StepError::Unsupported("negative refund counter".into()))?;
    Ok(())
}
