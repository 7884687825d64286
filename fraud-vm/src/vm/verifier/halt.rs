//! `STOP`, `RETURN`, `REVERT`: the frame ends normally (the frame-exit step copies the output).

use super::{
    ctx::{Ctx, Exec},
    machine::Status,
    oracle::Oracle,
};

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let (status, offset, len) = match opcode {
        0x00 => (Status::Returned, 0, 0),
        0xf3 | 0xfd => {
            let [offset, len] = ctx.pop_n()?;
            let at = ctx.expand(offset, len)?;
            let len = len.to::<u64>(); // expand succeeded, so it fits
            let status = if opcode == 0xf3 {
                Status::Returned
            } else {
                Status::Reverted
            };
            (status, at, len)
        }
        _ => unreachable!("not a halting opcode: {opcode:#x}"),
    };
    let frame = &mut ctx.m.frame;
    frame.status = status;
    frame.out_offset = offset;
    frame.out_len = len;
    Ok(())
}
