//! Forced batches on a sequencer (`fraud_vm::batch`, *Forced inclusion*).
//!
//! Derivation reads a forced batch in Inbox order: on the block derived from the batches before
//! it (`B`, the newest block whose batch precedes it) it derives a forced block when `B`
//! consumed fewer delayed messages than it forces. A sequencer's chain must be that chain, so
//! for every forced batch its follower finds at the confirmation depth the sequencer asks
//! [`status`]:
//!
//! - [`ForcedStatus::Done`]: it derives nothing on this chain, or its forced block is in it;
//! - [`ForcedStatus::SealOn`]: its forced block goes on `B`, the tip: the sequencer seals it
//!   next, with derivation's own code ([`crate::replica::derive_and_commit`]);
//! - [`ForcedStatus::RollBackTo`]: blocks the sequencer sealed after `B` (not batched before
//!   the forced batch) are replaced: the node stops its L1 tasks, the batcher records any batch
//!   that landed meanwhile, the chain is rolled back to `B` with the removed user transactions
//!   back in the pool ([`crate::reorg::roll_back`]), and the sequencer then seals the forced
//!   block before any other, while the batcher waits for it ([`ForcedDue`]).
//!
//! `B` is found from the batch positions the batcher records ([`Store::batch_position`]): they
//! grow with the block number, blocks not batched yet have none and come last. A batch whose
//! position the batcher has not recorded yet only makes `B` older, so a status is never
//! `Done` wrongly; the roll-back path records it first and asks again.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::{
    follower::ForcedBatch,
    store::{Store, StoreError},
};

/// A forced batch whose forced block the sequencer seals before any other block, after the
/// node rolled back for it; the batcher waits until it is sealed (None), so it never judges the
/// Inbox against the chain without it.
pub type ForcedDue = Arc<Mutex<Option<ForcedBatch>>>;

/// Where a forced batch stands against a sequencer's chain (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForcedStatus {
    /// It derives nothing on this chain, or its forced block is in it.
    Done,
    /// Its forced block goes on this block, the tip.
    SealOn(u64),
    /// Its forced block goes on this block, below the tip: the blocks above it go.
    RollBackTo(u64),
}

/// The status of `forced` on the chain in `store` whose newest block (sealed or staged) is
/// `tip` (module docs).
pub fn status(store: &Store, forced: &ForcedBatch, tip: u64) -> Result<ForcedStatus, StoreError> {
    let (before, next_from_it) = last_before(store, forced)?;
    if next_from_it {
        return Ok(ForcedStatus::Done);
    }
    let read = store.l1_at(before)?.map_or(0, |c| c.next_deposit);
    if read >= forced.after_delayed_read {
        return Ok(ForcedStatus::Done);
    }
    Ok(if before >= tip {
        ForcedStatus::SealOn(before)
    } else {
        ForcedStatus::RollBackTo(before)
    })
}

/// The newest block whose batch precedes `forced` (0: genesis, before every batch), and whether
/// the block after it is `forced`'s forced block (read from its index, with its accumulator: a
/// position recorded for another batch at that index, one an L1 reorg replaced, is not).
/// Binary search over the recorded batch positions.
fn last_before(store: &Store, forced: &ForcedBatch) -> Result<(u64, bool), StoreError> {
    let index = forced.index;
    let source = |number: u64| -> Result<Option<u64>, StoreError> {
        Ok(match number {
            0 => None,
            n => store.batch_position(n)?.map(|p| p.source_index()),
        })
    };
    // Blocks not batched yet come last.
    let mut last = store.head_number();
    while last > 0 && source(last)?.is_none() {
        last -= 1;
    }
    let before =
        |number: u64| -> Result<bool, StoreError> { Ok(source(number)?.is_none_or(|s| s < index)) };
    if before(last)? {
        return Ok((last, false));
    }
    // before(lo) holds, before(hi) does not.
    let (mut lo, mut hi) = (0, last);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if before(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let from_it = store
        .batch_position(hi)?
        .is_some_and(|p| p.source_index() == index && p.source_acc == forced.acc);
    Ok((lo, from_it))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::{Bytes, B256};
    use fraud_vm::{
        chain::ChainSpec,
        deposit::L1BlockInfo,
        execute::{BlockAttributes, BlockBuilder},
    };

    use super::*;
    use crate::{
        node::{open_chain, DEV_GENESIS},
        store::{cursor::BatchPosition, L1Cursor},
    };

    /// How a test block is committed: with the position after it (its batch), and the
    /// delayed messages consumed up to it when it has an origin.
    struct Block {
        position: Option<BatchPosition>,
        read: Option<u64>,
    }

    /// A block read from sequencer batch `source` (its last block: the cursor is the next
    /// batch's start).
    fn from(source: u64, read: Option<u64>) -> Block {
        Block {
            position: Some(BatchPosition::after_forced(source, acc(source))),
            read,
        }
    }

    /// The accumulator after batch `index` in these tests.
    fn acc(index: u64) -> B256 {
        B256::with_last_byte(index as u8 + 1)
    }

    /// A block not batched yet.
    fn unposted() -> Block {
        Block {
            position: None,
            read: None,
        }
    }

    /// A chain of empty blocks 1..=n as `blocks` say.
    fn chain(dir: &std::path::Path, blocks: &[Block]) -> Store {
        let (store, genesis) = open_chain(dir, DEV_GENESIS, None).expect("chain");
        let spec: &ChainSpec = &genesis.spec;
        for block in blocks {
            let tip = store.tip().expect("a chain");
            let attributes = BlockAttributes {
                timestamp: tip.header.timestamp + 1,
                gas_limit: 30_000_000,
                prevrandao: B256::ZERO,
                extra_data: Bytes::new(),
            };
            let state = store.tip_state();
            let built = BlockBuilder::new(spec, &state, &tip.header, tip.hash, attributes)
                .finish()
                .expect("an empty block");
            drop(state);
            let cursor = block.read.map(|next_deposit| L1Cursor {
                origin: L1BlockInfo::default(),
                next_deposit,
            });
            let has_origin = cursor.is_some();
            match block.position {
                Some(p) => store.commit_derived_block(&built, cursor.as_ref(), has_origin, p, &[]),
                None => store.commit_block_with_cursor(&built, cursor.as_ref(), has_origin),
            }
            .expect("commit");
        }
        store
    }

    fn forced(index: u64, after_delayed_read: u64) -> ForcedBatch {
        ForcedBatch {
            index,
            l1_block: 10,
            after_delayed_read,
            acc: acc(index),
            origin: L1BlockInfo::default(),
        }
    }

    /// Batch 0 holds blocks 1 and 2 (block 1 read delayed message 0), a forced batch is batch
    /// 1, batch 2 holds blocks 3 and 4 (block 3 read message 1), block 5 is not batched.
    fn sequenced(dir: &std::path::Path, third: Block) -> Store {
        chain(
            dir,
            &[
                from(0, Some(1)),
                from(0, None),
                third,
                from(2, None),
                unposted(),
            ],
        )
    }

    #[test]
    fn a_forced_batch_goes_on_the_last_block_batched_before_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = sequenced(dir.path(), from(2, Some(2)));
        // Block 2 (read 1) is the last before batch 1: forcing 2 messages replaces 3..=5.
        assert_eq!(
            status(&store, &forced(1, 2), 5).unwrap(),
            ForcedStatus::RollBackTo(2)
        );
        // Block 2 read the one message it forces: it derives nothing.
        assert_eq!(
            status(&store, &forced(1, 1), 5).unwrap(),
            ForcedStatus::Done
        );
        // A forced batch after batch 2 goes on block 4, below the tip 5, or on the tip 4.
        assert_eq!(
            status(&store, &forced(3, 3), 5).unwrap(),
            ForcedStatus::RollBackTo(4)
        );
        assert_eq!(
            status(&store, &forced(3, 3), 4).unwrap(),
            ForcedStatus::SealOn(4)
        );
    }

    #[test]
    fn a_forced_block_in_the_chain_is_done() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Block 3 is batch 1's forced block.
        let store = sequenced(dir.path(), from(1, Some(2)));
        assert_eq!(
            status(&store, &forced(1, 2), 5).unwrap(),
            ForcedStatus::Done
        );
        // A block recorded at index 1 for another batch (the batcher's, before an L1 reorg
        // put the forced batch there) is not its forced block.
        let other = tempfile::tempdir().expect("tempdir");
        let replaced = Block {
            position: Some(BatchPosition::after_forced(1, B256::repeat_byte(0xee))),
            read: Some(2),
        };
        let store = sequenced(other.path(), replaced);
        assert_eq!(
            status(&store, &forced(1, 2), 5).unwrap(),
            ForcedStatus::RollBackTo(2)
        );
    }

    #[test]
    fn with_nothing_batched_a_forced_batch_goes_on_genesis() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = chain(dir.path(), &[unposted(), unposted()]);
        assert_eq!(
            status(&store, &forced(0, 1), 2).unwrap(),
            ForcedStatus::RollBackTo(0)
        );
        let empty = tempfile::tempdir().expect("tempdir");
        let store = chain(empty.path(), &[]);
        assert_eq!(
            status(&store, &forced(0, 1), 0).unwrap(),
            ForcedStatus::SealOn(0)
        );
    }
}
