//! `CALL`, `CALLCODE`, `DELEGATECALL`, `STATICCALL`: entering a called frame, and copying
//! its output back once it has exited (the frame-exit step).
//!
//! The call step pops the arguments and, in this order: halts on a value-bearing `CALL` in a
//! static frame; charges memory expansion over the input and output areas; charges warm (100)
//! or cold (2600) access to the target (EIP-2929); `9000` if value is sent; `25000` if a
//! `CALL` sends value to an empty (absent) account; then forwards
//! `min(gasArg, g - g / 64)` of the remaining gas `g` (EIP-150), plus a `2300` stipend when
//! value is sent. At depth 1024 or when the caller cannot pay the value, no frame is entered:
//! the forwarded gas (with the stipend) comes back, `0` is pushed, the return data is emptied.
//! Otherwise the checkpoint (state to restore on revert) is taken, the value moves (`CALL`),
//! and the callee frame becomes the active frame: code of the target, call data = the input
//! area of the caller's memory (the caller is suspended, so its memory root commits to it),
//! empty stack, memory and return data, and `parentHash = keccak256(caller ‖ checkpoint)`
//! where the suspended caller has the arguments popped, the gas charged, `outOffset/outLen`
//! set to the output area and `pc` still on the call.
//!
//! A call to a precompile (0x01 … 0x0a) runs in the call step itself (see
//! `precompile_call`), as does a `STATICCALL` to the derivation oracle while the derivation
//! program runs ([`super::l1_oracle`]).
//!
//! After the callee's exit, a caller whose `cursor` is non-zero is copying the output: step
//! `c` copies chunk `c - 1` of `min(outLen, returnDataLen)` bytes from the return data to
//! memory at `outOffset`; the last one clears `cursor`, `outOffset`, `outLen` and advances
//! `pc`.

use alloy_primitives::{Address, B256, U256};

use super::{
    account::{access_address, read_account, update_balance},
    ctx::{Ctx, Exec, Exit, HaltReason, Source},
    l1_oracle,
    machine::{parent_hash, Checkpoint, Frame, FrameKind, Status},
    oracle::{DataSource, Oracle, WordTree},
    StepError, DATA_DEPTH,
};
use crate::merkle;

/// Gas for sending value with a call.
const CALL_VALUE: u64 = 9_000;
/// Gas for a value-bearing `CALL` to an empty account.
const NEW_ACCOUNT: u64 = 25_000;
/// Free gas given to a callee that receives value.
const CALL_STIPEND: u64 = 2_300;
/// Deepest call depth.
pub const MAX_DEPTH: u64 = 1024;

/// Empties the frame's return data.
pub(super) fn clear_returndata(frame: &mut Frame) {
    frame.returndata_len = 0;
    frame.returndata_offset = 0;
    frame.returndata_root = merkle::zero_hash(DATA_DEPTH);
}

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let kind = match opcode {
        0xf1 => FrameKind::Call,
        0xf2 => FrameKind::CallCode,
        0xf4 => FrameKind::DelegateCall,
        0xfa => FrameKind::StaticCall,
        _ => return Err(StepError::Unsupported(format!("opcode {opcode:#x}")).into()),
    };
    let gas_arg = ctx.pop()?;
    let target = Address::from_word(B256::from(ctx.pop()?));
    let value = match kind {
        FrameKind::Call | FrameKind::CallCode => ctx.pop()?,
        _ => U256::ZERO,
    };
    let [args_offset, args_len, ret_offset, ret_len] = ctx.pop_n()?;
    let sends_value = !value.is_zero();
    if kind == FrameKind::Call && sends_value && ctx.m.frame.is_static {
        return Err(Exit::Halt(HaltReason::StaticViolation));
    }
    let args_at = ctx.expand(args_offset, args_len)?;
    let ret_at = ctx.expand(ret_offset, ret_len)?;
    access_address(ctx, &target)?;
    if sends_value {
        ctx.charge(CALL_VALUE)?;
    }
    let (target_leaf, target_account) = read_account(ctx, &target)?;
    if kind == FrameKind::Call && sends_value && target_leaf.is_none() {
        ctx.charge(NEW_ACCOUNT)?;
    }
    let available = ctx.m.frame.gas;
    let cap = available - available / 64;
    let forwarded = u64::try_from(gas_arg).map_or(cap, |g| g.min(cap));
    ctx.charge(forwarded)?;
    let child_gas = forwarded + if sends_value { CALL_STIPEND } else { 0 };

    let caller_address = ctx.m.frame.address;
    let affordable = if sends_value {
        read_account(ctx, &caller_address)?.1.balance >= value
    } else {
        true
    };
    if ctx.m.frame.depth >= MAX_DEPTH || !affordable {
        ctx.m.frame.gas += child_gas;
        clear_returndata(&mut ctx.m.frame);
        ctx.push(U256::ZERO);
        ctx.next(0);
        return Ok(());
    }
    if l1_oracle::is_oracle_call(ctx, kind, &target) {
        return l1_oracle::call(
            ctx,
            (args_at, args_len.to::<u64>()),
            (ret_at, ret_len.to::<u64>()),
            child_gas,
        );
    }
    if crate::precompile::is_precompile(&target) {
        return precompile_call(
            ctx,
            kind,
            target,
            value,
            (args_at, args_len.to::<u64>()),
            (ret_at, ret_len.to::<u64>()),
            child_gas,
        );
    }

    let checkpoint = Checkpoint::of(ctx.m);
    if kind == FrameKind::Call && sends_value {
        transfer(ctx, &caller_address, &target, value)?;
    }
    let (code_len, code_chunk_root) = if target_account.code_root.is_zero() {
        (0, B256::ZERO)
    } else {
        ctx.o.code_root_preimage(&target_account.code_root)?
    };
    let mut caller = ctx.m.frame.clone();
    caller.out_offset = ret_at;
    caller.out_len = ret_len.to::<u64>(); // expanded, so it fits
    let (address, from, call_value) = match kind {
        FrameKind::Call | FrameKind::StaticCall => (target, caller_address, value),
        FrameKind::CallCode => (caller_address, caller_address, value),
        _ => (caller_address, caller.caller, caller.value),
    };
    let mut child = Frame {
        status: Status::Running,
        kind,
        depth: caller.depth + 1,
        is_static: caller.is_static || kind == FrameKind::StaticCall,
        address,
        caller: from,
        value: call_value,
        code_len,
        code_chunk_root,
        gas: child_gas,
        mem_root: merkle::zero_hash(DATA_DEPTH),
        calldata_len: args_len.to::<u64>(),
        calldata_root: caller.mem_root,
        calldata_offset: args_at,
        parent_hash: parent_hash(&caller, &checkpoint),
        ..Default::default()
    };
    clear_returndata(&mut child);
    ctx.m.frame = child;
    Ok(())
}

/// A call to a precompile, run within the call step: the checkpoint, the value, then the
/// precompile (the same implementation the L1 precompile provides) on the input area with the
/// forwarded gas. Success returns the unused gas and makes the output the return data (its own
/// word tree); failure (out of gas, bad input) consumes the forwarded gas and rolls the value
/// back. The output is then copied back like a callee's ([`resume`]).
fn precompile_call<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    kind: FrameKind,
    target: Address,
    value: U256,
    args: (u64, u64),
    ret: (u64, u64),
    gas: u64,
) -> Exec {
    let checkpoint = Checkpoint::of(ctx.m);
    let caller_address = ctx.m.frame.address;
    if kind == FrameKind::Call && !value.is_zero() {
        transfer(ctx, &caller_address, &target, value)?;
    }
    let output = ctx
        .precompile(&target, WordTree::Memory, args.0, args.1, gas)?
        .map(|(bytes, used)| {
            ctx.m.frame.gas += gas - used;
            bytes
        });
    let frame = &mut ctx.m.frame;
    match &output {
        Some(bytes) => {
            frame.returndata_len = bytes.len() as u64;
            frame.returndata_root = crate::merkle::data_root(bytes);
            frame.returndata_offset = 0;
        }
        None => clear_returndata(frame),
    }
    if output.is_none() {
        checkpoint.restore(ctx.m);
    }
    returned(ctx, output.is_some(), ret);
    Ok(())
}

/// The end of a call answered within the call step (a precompile, the derivation oracle),
/// once the return data is set: pushes `success` and either completes the call or starts
/// copying the output to the area `ret` ([`resume`]).
pub(super) fn returned<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>, success: bool, ret: (u64, u64)) {
    ctx.push(U256::from(success));
    let frame = &mut ctx.m.frame;
    if ret.1.min(frame.returndata_len) == 0 {
        frame.pc += 1;
    } else {
        frame.out_offset = ret.0;
        frame.out_len = ret.1;
        frame.cursor = 1;
    }
}

/// Moves `value` from `from` to `to` in the world state (the caller checked `from` can pay).
pub(super) fn transfer<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    from: &Address,
    to: &Address,
    value: U256,
) -> Result<(), Exit> {
    if from == to {
        return Ok(()); // the balance does not change
    }
    update_balance(ctx, from, |b| b.saturating_sub(value))?;
    update_balance(ctx, to, |b| b.saturating_add(value))?;
    Ok(())
}

/// A caller copying a callee's output into its memory (`cursor = c > 0`).
pub(super) fn resume<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>) -> Exec {
    let frame = &ctx.m.frame;
    let total = frame.out_len.min(frame.returndata_len);
    let start = (frame.cursor - 1) * 32;
    if start >= total {
        return Err(StepError::BadWitness("copy cursor past the output").into());
    }
    let width = (total - start).min(32) as usize;
    let dest = frame.out_offset + start;
    let bytes = ctx.read(
        Source::Data(DataSource::ReturnData),
        U256::from(start),
        width,
    )?;
    ctx.mstore(dest, &bytes[..width])?;
    let frame = &mut ctx.m.frame;
    if start + width as u64 == total {
        frame.cursor = 0;
        frame.out_offset = 0;
        frame.out_len = 0;
        frame.pc += 1;
    } else {
        frame.cursor += 1;
    }
    Ok(())
}
