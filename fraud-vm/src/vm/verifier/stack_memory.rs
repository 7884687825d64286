//! `POP`, `PUSH0`…`PUSH32`, `DUP1`…`DUP16`, `SWAP1`…`SWAP16`, `MLOAD`, `MSTORE`, `MSTORE8`,
//! `MSIZE`.

use alloy_primitives::U256;

use super::{
    ctx::{Ctx, Exec},
    oracle::Oracle,
};
use crate::code::immediate_len;

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let mut immediate = 0;
    match opcode {
        0x50 => {
            ctx.pop()?;
        }
        0x51 => {
            let offset = ctx.pop()?;
            let at = ctx.expand(offset, U256::from(32))?;
            let word = ctx.mload(at)?;
            ctx.push(word);
        }
        0x52 => {
            let [offset, value] = ctx.pop_n()?;
            let at = ctx.expand(offset, U256::from(32))?;
            ctx.mstore(at, &value.to_be_bytes::<32>())?;
        }
        0x53 => {
            let [offset, value] = ctx.pop_n()?;
            let at = ctx.expand(offset, U256::from(1))?;
            ctx.mstore(at, &[value.byte(0)])?;
        }
        0x59 => {
            let size = ctx.m.frame.mem_words * 32;
            ctx.push(U256::from(size));
        }
        0x5f => ctx.push(U256::ZERO),
        0x60..=0x7f => {
            let n = immediate_len(opcode);
            let mut bytes = [0u8; 32];
            let start = ctx.m.frame.pc + 1;
            for (i, b) in bytes[32 - n..].iter_mut().enumerate() {
                *b = ctx.code_byte(start + i as u64)?;
            }
            ctx.push(U256::from_be_bytes(bytes));
            immediate = n as u64;
        }
        0x80..=0x8f => {
            let n = (opcode - 0x7f) as usize;
            let mut top = Vec::with_capacity(n);
            for _ in 0..n {
                top.push(ctx.pop()?);
            }
            let copied = top[n - 1];
            for word in top.into_iter().rev() {
                ctx.push(word);
            }
            ctx.push(copied);
        }
        0x90..=0x9f => {
            let n = (opcode - 0x8f) as usize;
            let mut top = Vec::with_capacity(n + 1);
            for _ in 0..=n {
                top.push(ctx.pop()?);
            }
            top.swap(0, n);
            for word in top.into_iter().rev() {
                ctx.push(word);
            }
        }
        _ => unreachable!("not a stack/memory opcode: {opcode:#x}"),
    }
    ctx.next(immediate);
    Ok(())
}
