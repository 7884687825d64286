//! The block-end step: with every transaction done, the header is assembled from the block
//! part (the same template the node uses, [`crate::block::l2_header`]) and hashed; the state
//! becomes terminal, with hash `keccak256(END ‖ blockHash ‖ stateRoot)`.

use super::{machine::Machine, oracle::Oracle, StepError};
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
    m.sealed = Some(header.hash_slow());
    Ok(())
}
