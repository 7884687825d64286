//! Bulk copies into memory, one 32-byte chunk per micro-step: `CALLDATACOPY`, `CODECOPY`,
//! `EXTCODECOPY`, `RETURNDATACOPY`, `MCOPY`.
//!
//! `EXTCODECOPY` pops the address first (the word stays on the stack as it was, bits above the
//! 20 address bytes included, with the other arguments between micro-steps), charges warm/cold access in its first micro-step, and reads the account and
//! its code-root preimage in every micro-step to open the other code's chunks.
//!
//! The first micro-step (`cursor = 0`) pops `destOffset, offset, size`, charges all the gas
//! (static, `3` per word, memory expansion over the destination — and for `MCOPY` over the
//! source too) and halts on `RETURNDATACOPY` past the return data (EIP-211). A copy of `size`
//! bytes then takes `n = ceil(size / 32)` micro-steps: micro-step `k` copies chunk
//! `c = k` (or `c = n - 1 - k` for an `MCOPY` whose destination is above its source, so
//! overlapping copies read their source before it is overwritten): bytes
//! `[32c, min(size, 32c + 32))` of the source to the same offsets of the destination. Between
//! micro-steps the three arguments stay on the stack (popped and pushed back, so the stack is
//! as before the opcode) and `cursor = k + 1`; the last micro-step leaves them popped, resets
//! the cursor and advances the program counter. A zero-size copy is one step.

use alloy_primitives::{Address, B256, U256};

use super::{
    account::{access_address, read_account},
    ctx::{Ctx, Exec, Exit, HaltReason, Source},
    oracle::{DataSource, Oracle},
};

/// Gas per copied word.
const COPY_WORD: u64 = 3;

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    // EXTCODECOPY's address word, pushed back as it was (high bits included) between
    // micro-steps.
    let address_word = if opcode == 0x3c {
        Some(ctx.pop()?)
    } else {
        None
    };
    let account = address_word.map(|word| Address::from_word(B256::from(word)));
    let [dest, src, len] = ctx.pop_n()?;
    let k = ctx.m.frame.cursor;
    if let (Some(address), 0) = (account, k) {
        access_address(ctx, &address)?;
    }
    let source = match opcode {
        0x37 => Source::Data(DataSource::CallData),
        0x39 => Source::Code,
        0x3c => {
            let address = account.unwrap_or_default();
            let (_, acct) = read_account(ctx, &address)?;
            let (len, chunk_root) = if acct.code_root.is_zero() {
                (0, B256::ZERO)
            } else {
                ctx.o.code_root_preimage(&acct.code_root)?
            };
            Source::OtherCode { len, chunk_root }
        }
        0x3e => Source::Data(DataSource::ReturnData),
        0x5e => Source::Memory,
        _ => unreachable!("not a copy opcode: {opcode:#x}"),
    };
    if k == 0 {
        let words = u64::try_from(len.div_ceil(U256::from(32)))
            .map_err(|_| Exit::Halt(HaltReason::OutOfGas))?;
        ctx.charge(words.saturating_mul(COPY_WORD))?;
        if opcode == 0x3e {
            let end = src.checked_add(len);
            if end.is_none_or(|end| end > U256::from(ctx.m.frame.returndata_len)) {
                return Err(Exit::Halt(HaltReason::ReturnDataOutOfBounds));
            }
        }
        ctx.expand(dest, len)?;
        if opcode == 0x5e {
            ctx.expand(src, len)?;
        }
    }
    if len.is_zero() {
        ctx.next(0);
        return Ok(());
    }
    // Expansion succeeded, so the destination range fits in u64.
    let (dest_at, size) = (dest.to::<u64>(), len.to::<u64>());
    let n = size.div_ceil(32);
    let chunk = if opcode == 0x5e && dest > src {
        n - 1 - k
    } else {
        k
    };
    let start = chunk * 32;
    let width = (size - start).min(32) as usize;
    let bytes = ctx.read(source, src.saturating_add(U256::from(start)), width)?;
    ctx.mstore(dest_at + start, &bytes[..width])?;
    if k + 1 == n {
        ctx.m.frame.cursor = 0;
        ctx.next(0);
    } else {
        ctx.push(len);
        ctx.push(src);
        ctx.push(dest);
        if let Some(word) = address_word {
            ctx.push(word);
        }
        ctx.m.frame.cursor = k + 1;
    }
    Ok(())
}

/// The chunks a copy of `size` bytes takes, in the order its micro-steps copy them.
pub fn chunk_order(opcode: u8, dest: U256, src: U256, size: u64) -> Vec<u64> {
    let n = size.div_ceil(32);
    if opcode == 0x5e && dest > src {
        (0..n).rev().collect()
    } else {
        (0..n).collect()
    }
}
