//! The block-end step: with every transaction done, the header is assembled from the block
//! part (the same template the node uses, [`crate::block::l2_header`]) and hashed; the hash is
//! written into the block-hash window at leaf `number mod 256` (one path witness: the leaf it
//! replaces is block `number − 256`'s, which the next block's `BLOCKHASH` no longer reaches),
//! and the state becomes terminal: its hash is the block's [`Claim`](super::machine::Claim),
//! `keccak256(END ‖ blockHash ‖ stateRoot ‖ blockHashesRoot ‖ cursor)`.
//!
//! Witnesses, in order: the extra data (the preimage of `extraDataHash`), then the window leaf
//! being replaced with its path.

use super::{machine::Machine, oracle::Oracle, StepError, BLOCK_HASH_WINDOW};
use crate::block::l2_header;

pub(super) fn run<O: Oracle + ?Sized>(m: &mut Machine, o: &mut O) -> Result<(), StepError> {
    let block = &m.block;
    let extra_data = o.extra_data(&block.extra_data_hash)?;
    let mut header = l2_header(
        block.parent_hash,
        block.coinbase,
        block.number,
        block.gas_limit,
        block.timestamp,
        extra_data,
        block.prevrandao,
        block.base_fee,
    );
    header.state_root = block.state_root;
    header.transactions_root = block.tx_acc;
    header.receipts_root = block.receipt_acc;
    header.logs_bloom = block.logs_bloom;
    header.gas_used = block.cumulative_gas;
    let hash = header.hash_slow();
    let number = m.block.number;
    o.set_block_hash(
        &mut m.block.block_hashes_root,
        number % BLOCK_HASH_WINDOW,
        hash,
    )?;
    m.sealed = Some(hash);
    Ok(())
}
