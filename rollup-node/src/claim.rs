//! The claim on a block as this node knows it (`fraud_vm::vm::Claim`: what the block's
//! step-machine trace ends in, and what a dispute over the chain bisects over): its hash and
//! state root, the block-hash window with its own hash, and its derivation cursor. The cursor is
//! known for genesis (`Cursor::GENESIS`: the claim on block 0 is every node's anchor), for
//! blocks this node derived from a batch (a replica) and for blocks its batcher posted (a
//! sequencer, once the batch is in the Inbox); other blocks have none yet.

use alloy_primitives::{B256, U64};
use fraud_vm::{
    batch::Cursor,
    vm::{
        machine::{end_hash, window_root},
        Claim, BLOCK_HASH_DEPTH,
    },
};
use serde::{Deserialize, Serialize};

use crate::{provider::BlockReader, NodeError};

/// The claim on one block, with the parts it commits (`rollup_claim`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockClaim {
    /// Block number.
    pub number: U64,
    /// Block hash.
    pub block_hash: B256,
    /// State root.
    pub state_root: B256,
    /// Root of the block-hash window holding the 256 blocks up to and including this one.
    pub block_hashes_root: B256,
    /// Where derivation of the next block continues.
    pub cursor: CursorView,
    /// `keccak256(abi.encode(cursor))`.
    pub cursor_hash: B256,
    /// The claim's hash: `end_hash(blockHash, stateRoot, blockHashesRoot, cursorHash)`.
    pub claim: B256,
}

/// A [`Cursor`] in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorView {
    /// The Inbox batch the next block is read from.
    pub batch_index: U64,
    /// Byte offset of the next block record in it (0: the batch is opened next).
    pub position: U64,
    /// Delayed messages consumed up to and including the block.
    pub delayed_read: U64,
    /// The newest L1 origin at or below the block: number and hash (null: none yet).
    pub origin: Option<(U64, B256)>,
}

impl From<&Cursor> for CursorView {
    fn from(c: &Cursor) -> Self {
        Self {
            batch_index: U64::from(c.batchIndex),
            position: U64::from(c.position),
            delayed_read: U64::from(c.delayedRead),
            origin: c.origin().map(|o| (U64::from(o.number), o.hash)),
        }
    }
}

/// The claim on block `number` whose derivation cursor hashes to `cursor`: its hash and state
/// root from the store, the window from the stored hashes of the 256 blocks up to it. None
/// when the block is not stored.
pub fn claim_with<P: BlockReader>(
    provider: &P,
    number: u64,
    cursor: B256,
) -> Result<Option<Claim>, NodeError> {
    let Some((hash, header)) = provider.header_by_number(number)? else {
        return Ok(None);
    };
    let first = number.saturating_sub((1 << BLOCK_HASH_DEPTH) - 1);
    let mut hashes = Vec::with_capacity(1 << BLOCK_HASH_DEPTH);
    for n in first..number {
        let (h, _) = provider
            .header_by_number(n)?
            .ok_or(NodeError::MissingBlock(n))?;
        hashes.push((n, h));
    }
    hashes.push((number, hash));
    let claim = Claim {
        block_hash: hash,
        state_root: header.state_root,
        block_hashes_root: window_root(hashes),
        cursor,
    };
    Ok(Some(claim))
}

/// The claim on block `number` as this node knows it (None: the block is not stored, or this
/// node has no derivation cursor for it).
pub fn claim_of<P: BlockReader>(
    provider: &P,
    number: u64,
) -> Result<Option<BlockClaim>, NodeError> {
    let Some(cursor) = provider.derivation_cursor(number)? else {
        return Ok(None);
    };
    Ok(
        claim_with(provider, number, cursor.hash())?.map(|c| BlockClaim {
            number: U64::from(number),
            block_hash: c.block_hash,
            state_root: c.state_root,
            block_hashes_root: c.block_hashes_root,
            cursor: CursorView::from(&cursor),
            cursor_hash: c.cursor,
            claim: end_hash(&c),
        }),
    )
}
