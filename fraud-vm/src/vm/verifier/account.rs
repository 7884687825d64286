//! Account reads: `BALANCE`, `SELFBALANCE`, `EXTCODESIZE`, `EXTCODEHASH`.
//!
//! An address is warm if it is in the transaction's accessed-addresses set (EIP-2929): access
//! costs 100 gas, otherwise 2600 and the address joins the set. The account is read from the
//! world-state tree (`block.stateRoot`) with its leaf preimage; an absent leaf is the empty
//! account.

use alloy_primitives::{Address, B256, U256};

use super::{
    ctx::{Ctx, Exec},
    oracle::Oracle,
    COLD_ACCOUNT_ACCESS, WARM_ACCESS,
};
use crate::state::{account_key, AccountLeaf};

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let word = match opcode {
        0x47 => {
            let address = ctx.m.frame.address;
            read_account(ctx, &address)?.1.balance
        }
        _ => {
            let address = Address::from_word(B256::from(ctx.pop()?));
            access_address(ctx, &address)?;
            let (leaf, account) = read_account(ctx, &address)?;
            match opcode {
                0x31 => account.balance,
                0x3b => U256::from(ctx.o.code_len(&account.code_root)?),
                0x3f if leaf.is_none() => U256::ZERO,
                0x3f => U256::from_be_bytes(account.code_hash.0),
                _ => unreachable!("not an account opcode: {opcode:#x}"),
            }
        }
    };
    ctx.push(word);
    ctx.next(0);
    Ok(())
}

/// Charges warm or cold access to `address` and adds it to the accessed set (precompiles are
/// always warm and never in the set).
pub(super) fn access_address<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>, address: &Address) -> Exec {
    if crate::precompile::is_precompile(address) {
        return ctx.charge(WARM_ACCESS);
    }
    let warm = warm_address(ctx, address)?;
    ctx.charge(if warm {
        WARM_ACCESS
    } else {
        COLD_ACCOUNT_ACCESS
    })
}

/// Adds `address` to the accessed-addresses set; returns whether it was there already.
pub(super) fn warm_address<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    address: &Address,
) -> Result<bool, super::StepError> {
    let mut root = ctx.m.tx.accessed_addresses;
    let was = ctx
        .o
        .smt_write(&mut root, &account_key(address), Some(super::SET_MEMBER))?;
    ctx.m.tx.accessed_addresses = root;
    Ok(was.is_some())
}

/// Writes an account leaf into the world state (an empty account deletes the leaf).
pub(super) fn write_account<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    address: &Address,
    account: &AccountLeaf,
) -> Result<(), super::StepError> {
    let mut root = ctx.m.block.state_root;
    let leaf = (!account.is_empty()).then(|| account.value_hash());
    if leaf.is_some() {
        ctx.o.wrote_account(account);
    }
    ctx.o.smt_write(&mut root, &account_key(address), leaf)?;
    ctx.m.block.state_root = root;
    Ok(())
}

/// Reads `address`'s account, replaces its balance with `f(balance)` and writes it back.
pub(super) fn update_balance<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    address: &Address,
    f: impl FnOnce(U256) -> U256,
) -> Result<(), super::StepError> {
    let (_, mut account) = read_account(ctx, address)?;
    account.balance = f(account.balance);
    write_account(ctx, address, &account)
}

/// The account at `address` in the current world state, with its leaf value.
pub(super) fn read_account<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    address: &Address,
) -> Result<(Option<B256>, AccountLeaf), super::StepError> {
    let leaf = ctx
        .o
        .smt_read(&ctx.m.block.state_root, &account_key(address))?;
    Ok((leaf, ctx.o.account(leaf)?))
}
