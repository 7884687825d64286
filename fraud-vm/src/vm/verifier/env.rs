//! Frame and transaction environment: `ADDRESS`, `ORIGIN`, `CALLER`, `CALLVALUE`,
//! `CALLDATALOAD`, `CALLDATASIZE`, `CODESIZE`, `GASPRICE`, `RETURNDATASIZE`.

use alloy_primitives::U256;

use super::{
    ctx::{Ctx, Exec, Source},
    oracle::{DataSource, Oracle},
};

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let frame = &ctx.m.frame;
    let word = match opcode {
        0x30 => address_word(&frame.address),
        0x32 => address_word(&ctx.m.tx.origin),
        0x33 => address_word(&frame.caller),
        0x34 => frame.value,
        0x35 => {
            let offset = ctx.pop()?;
            calldataload(ctx, offset)?
        }
        0x36 => U256::from(frame.calldata_len),
        0x38 => U256::from(frame.code_len),
        0x3a => ctx.m.tx.gas_price,
        0x3d => U256::from(frame.returndata_len),
        _ => unreachable!("not an env opcode: {opcode:#x}"),
    };
    ctx.push(word);
    ctx.next(0);
    Ok(())
}

/// An address as a stack word.
pub(super) fn address_word(address: &alloy_primitives::Address) -> U256 {
    U256::from_be_slice(address.as_slice())
}

/// The 32 bytes of call data at `offset`, zero past its end.
fn calldataload<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    offset: U256,
) -> Result<U256, super::StepError> {
    let bytes = ctx.read(Source::Data(DataSource::CallData), offset, 32)?;
    Ok(U256::from_be_bytes(bytes))
}
