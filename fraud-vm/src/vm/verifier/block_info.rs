//! Block environment: `BLOCKHASH`, `COINBASE`, `TIMESTAMP`, `NUMBER`, `PREVRANDAO`, `GASLIMIT`, `CHAINID`,
//! `BASEFEE`, `BLOBHASH`, `BLOBBASEFEE`.

use alloy_primitives::U256;

use super::{
    ctx::{Ctx, Exec},
    env::address_word,
    oracle::Oracle,
    BLOCK_HASH_WINDOW,
};

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    if opcode == 0x40 {
        let number = ctx.pop()?;
        let hash = block_hash(ctx, number)?;
        ctx.push(U256::from_be_bytes(hash.0));
        ctx.next(0);
        return Ok(());
    }
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

/// The hash of block `number` if it is one of the 256 before the current one, else zero. The
/// block-hash tree has depth 8; block `n`'s hash is leaf `n mod 256`.
fn block_hash<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    number: U256,
) -> Result<alloy_primitives::B256, super::StepError> {
    let current = ctx.m.block.number;
    match u64::try_from(number) {
        Ok(n) if n < current && current - n <= BLOCK_HASH_WINDOW => {
            let root = ctx.m.block.block_hashes_root;
            ctx.o.block_hash(&root, n % BLOCK_HASH_WINDOW)
        }
        _ => Ok(Default::default()),
    }
}
