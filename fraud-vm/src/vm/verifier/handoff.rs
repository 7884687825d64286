//! The hand-off step: the derivation program's frame has ended, and its output becomes the
//! block's execution start state, or the next open state.
//!
//! It is the exit step of the frame the open step started (a frame whose caller is the
//! boundary, in a run of type [`super::open::DERIVATION_TX_TYPE`]). Its first witness is that frame's
//! parent, as for every exit. The program's output is `abi.encode(Handoff)`, ten words:
//!
//! ```text
//! kind, cursor, number, timestamp, gasLimit, baseFee, prevrandao, extraDataHash,
//! inputCount, inputsRoot
//! ```
//!
//! * **a block** (`kind = 0`): the state becomes the block's execution start state, the one
//!   [`super::input`] defines from a header and its inputs. Block part: `number`, `timestamp`,
//!   `gasLimit`, `baseFee`, `prevrandao`, `extraDataHash`, `txCount = inputCount`,
//!   `inputsRoot`, `cursor` from the output; `coinbase`, `chainId`, `parentHash`, `stateRoot`
//!   and `blockHashesRoot` as they were (the protocol's and the claim's);
//!   `blobBaseFee =` [`BLOB_BASE_FEE`]; every other field zero. Transaction part zero; the
//!   boundary frame.
//! * **no block here** (`kind = 1`): the run derived no block from the cursor's position (the
//!   batch derives nothing more); the state is the open state of the claim with `cursor` in
//!   place of its cursor ([`super::Machine::reopen`]), from which the next batch is opened.
//! * **the program failed**: it reverted or halted, or its output is not 320 bytes, its
//!   `kind` is neither, or `number`, `timestamp`, `gasLimit`, `baseFee` or `inputCount` is
//!   `2^64` or more. There is no step ([`StepError::Unsupported`]): the program derives every
//!   record of data the Inbox accepts within its gas budget, and a rule that skipped the batch
//!   on a failed run instead would let a later batch at the same block number be proven where
//!   the node derives this one (`docs/design.md`, *Derivation as an EVM program*, step 4).
//!
//! Witnesses after the parent: the output's words when the frame returned 320 bytes (one word
//! range of its memory).

use alloy_primitives::{B256, U256};
use alloy_sol_types::{sol, SolValue};

use super::{
    ctx::{Ctx, Exit},
    machine::{boundary_frame, BlockPart, Frame, Status, TxPart},
    oracle::{Oracle, WordTree},
    StepError, BLOB_BASE_FEE,
};

sol! {
    /// The derivation program's output (module docs).
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Handoff {
        uint256 kind;
        bytes32 cursor;
        uint256 number;
        uint256 timestamp;
        uint256 gasLimit;
        uint256 baseFee;
        bytes32 prevrandao;
        bytes32 extraDataHash;
        uint256 inputCount;
        bytes32 inputsRoot;
    }
}

/// Bytes of the program's output.
pub const OUTPUT_LEN: u64 = 10 * 32;

/// `Handoff.kind` of a block.
pub const BLOCK: u64 = 0;
/// `Handoff.kind` of "no block from here".
pub const NO_BLOCK: u64 = 1;

/// The hand-off step (module docs), after the exit step read the parent witness.
pub(super) fn run<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>, child: &Frame) -> Result<(), Exit> {
    let output = if child.status == Status::Returned && child.out_len == OUTPUT_LEN {
        let bytes = ctx.read_range(WordTree::Memory, child.out_offset, OUTPUT_LEN as usize)?;
        Handoff::abi_decode(&bytes).ok()
    } else {
        None
    };
    let next = match output {
        Some(out) if out.kind == U256::from(BLOCK) => start_of(&out, &ctx.m.block).map(Ok),
        Some(out) if out.kind == U256::from(NO_BLOCK) => Some(Err(out.cursor)),
        _ => None,
    };
    match next {
        Some(Ok(block)) => {
            ctx.m.block = block;
            ctx.m.tx = TxPart::default();
            ctx.m.frame = boundary_frame();
        }
        Some(Err(cursor)) => reopen(ctx, cursor),
        None => {
            return Err(StepError::Unsupported(
                "a failed derivation run (the program derives no hand-off from this batch)".into(),
            )
            .into())
        }
    }
    Ok(())
}

/// The block part of the execution start state `out` describes, on the derivation run's
/// `block` part (`None` if a `uint64` field is out of range).
fn start_of(out: &Handoff, block: &BlockPart) -> Option<BlockPart> {
    let u64_of = |v: U256| u64::try_from(v).ok();
    Some(BlockPart {
        number: u64_of(out.number)?,
        timestamp: u64_of(out.timestamp)?,
        gas_limit: u64_of(out.gasLimit)?,
        base_fee: u64_of(out.baseFee)?,
        coinbase: block.coinbase,
        prevrandao: out.prevrandao,
        chain_id: block.chain_id,
        blob_base_fee: U256::from(BLOB_BASE_FEE),
        block_hashes_root: block.block_hashes_root,
        state_root: block.state_root,
        tx_count: u64_of(out.inputCount)?,
        inputs_root: out.inputsRoot,
        parent_hash: block.parent_hash,
        extra_data_hash: out.extraDataHash,
        cursor: out.cursor,
        ..Default::default()
    })
}

/// The open state of the block part's claim with `cursor` in place of its cursor.
fn reopen<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>, cursor: B256) {
    ctx.m.block.cursor = cursor;
    ctx.m.reopen = true;
}
