//! Block environment: `COINBASE`, `TIMESTAMP`, `NUMBER`, `PREVRANDAO`, `GASLIMIT`, `CHAINID`,
//! `BASEFEE`, `BLOBHASH`, `BLOBBASEFEE`.

use alloy_primitives::U256;

use super::{
    env::address_word,
    oracle::Oracle,
    step::{Ctx, Exec},
};

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let block = &ctx.m.block;
    let word = match opcode {
        0x41 => address_word(&block.coinbase),
        0x42 => U256::from(block.timestamp),
        0x43 => U256::from(block.number),
        0x44 => U256::from_be_bytes(block.prevrandao.0),
        0x45 => U256::from(block.gas_limit),
        0x46 => U256::from(block.chain_id),
        0x48 => U256::from(block.base_fee),
        0x49 => {
            // No L2 transaction carries blobs (type 3 is not accepted), so every index is empty.
            ctx.pop()?;
            U256::ZERO
        }
        0x4a => block.blob_base_fee,
        _ => unreachable!("not a block-info opcode: {opcode:#x}"),
    };
    ctx.push(word);
    ctx.next(0);
    Ok(())
}
