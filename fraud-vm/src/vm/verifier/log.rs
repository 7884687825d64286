//! `LOG0` … `LOG4`: the data is hashed with the sponge micro-steps of [`super::keccak`], then
//! the log joins the transaction's log accumulator.
//!
//! The first micro-step halts inside a static call, and charges `375 + 375·topics` (static),
//! `8` per data byte and memory expansion. Micro-steps absorb the data like `KECCAK256`
//! (`offset, size` stay on the stack between them, the topics below them); the last one pops
//! the topics and sets `tx.logsAcc = keccak256(tx.logsAcc ‖ logHash)` with
//! `logHash = keccak256(address ‖ uint8 topicCount ‖ topics… ‖ keccak256(data))`
//! ([`crate::block::log_hash`]); the address and topics join `tx.logsBloom`.

use alloy_primitives::B256;

use super::{
    ctx::{Ctx, Exec, Exit, HaltReason},
    keccak::absorb_next,
    oracle::Oracle,
};
use crate::block::{log_hash_parts, Accumulator};

/// Gas per byte of log data.
const LOG_DATA_BYTE: u64 = 8;

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    if ctx.m.frame.cursor == 0 && ctx.m.frame.is_static {
        return Err(Exit::Halt(HaltReason::StaticViolation));
    }
    let [offset, size] = ctx.pop_n()?;
    if ctx.m.frame.cursor == 0 {
        let bytes = u64::try_from(size).map_err(|_| Exit::Halt(HaltReason::OutOfGas))?;
        ctx.charge(bytes.saturating_mul(LOG_DATA_BYTE))?;
        ctx.expand(offset, size)?;
    }
    let Some(data_hash) = absorb_next(ctx, offset, size)? else {
        return Ok(());
    };
    let topics = (opcode - 0xa0) as usize;
    let mut words = Vec::with_capacity(topics);
    for _ in 0..topics {
        words.push(B256::from(ctx.pop()?));
    }
    let address = ctx.m.frame.address;
    ctx.m.tx.logs_bloom.accrue_raw_log(address, &words);
    let mut acc = Accumulator::resume(ctx.m.tx.logs_acc);
    acc.push(log_hash_parts(&address, &words, &data_hash));
    ctx.m.tx.logs_acc = acc.root();
    ctx.next(0);
    Ok(())
}
