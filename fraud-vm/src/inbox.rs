//! What L1's Inbox commits for each batch and where derivation continues after a block: the
//! formats a proof reads from L1 (the batch accumulator) and from a block's claim (the
//! cursor). The batch format and the derivation rule are `fraud_vm::batch` (module docs, *On
//! L1* and *The block claim and the derivation cursor*); these formats build without revm, as
//! the step machine's verifier does.

use alloy_consensus::Header;
use alloy_primitives::{keccak256, B256, U256};
use alloy_sol_types::{sol, SolValue};

use crate::deposit::L1BlockInfo;

sol! {
    /// What one batch adds to the Inbox's batch accumulator (the ABI tuple hashed by
    /// [`BatchCommitment::accumulate`]).
    #[derive(Debug, Default, PartialEq, Eq)]
    struct BatchCommitment {
        bytes32 prevAcc;
        bytes32 dataRoot;
        uint256 dataLength;
        uint256 afterDelayedMessagesRead;
        bytes32 delayedAcc;
        uint256 l1BlockNumber;
        uint256 l1Timestamp;
        bytes32 l1ParentHash;
        bool forced;
    }
}

impl BatchCommitment {
    /// The commitment of a batch with data `data`, appended in the L1 block with `number`,
    /// `timestamp` and `parent_hash`, after accumulator `prev_acc`; `delayed_acc` is the
    /// delayed-message accumulator after `after_delayed_messages_read` messages.
    pub fn new(
        prev_acc: B256,
        data: &[u8],
        after_delayed_messages_read: u64,
        delayed_acc: B256,
        l1: &Header,
        forced: bool,
    ) -> Self {
        Self {
            prevAcc: prev_acc,
            dataRoot: crate::merkle::data_root(data),
            dataLength: U256::from(data.len()),
            afterDelayedMessagesRead: U256::from(after_delayed_messages_read),
            delayedAcc: delayed_acc,
            l1BlockNumber: U256::from(l1.number),
            l1Timestamp: U256::from(l1.timestamp),
            l1ParentHash: l1.parent_hash,
            forced,
        }
    }

    /// The batch accumulator after this batch: `keccak256(abi.encode(self))`.
    pub fn accumulate(&self) -> B256 {
        keccak256(self.abi_encode())
    }
}

/// The L1 origin of a block as a batch records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOrigin {
    /// L1 block number.
    pub number: u64,
    /// L1 block hash.
    pub hash: B256,
}

impl From<&L1BlockInfo> for BatchOrigin {
    fn from(block: &L1BlockInfo) -> Self {
        Self {
            number: block.number,
            hash: block.hash,
        }
    }
}

sol! {
    /// Where derivation continues after a block. The claim on the block commits its hash
    /// ([`Cursor::hash`]), so the next block's derivation starts from values a proof can show.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Cursor {
        /// Index of the Inbox batch the next block is read from.
        uint64 batchIndex;
        /// Byte offset of the next block record in that batch's data; 0 when the batch has not
        /// been opened (its header is read, and the whole batch checked, first).
        uint64 position;
        /// Delayed messages (deposits) consumed up to and including the block.
        uint64 delayedRead;
        /// Whether a block at or below this one had an L1 origin. Without one, `originNumber`
        /// and `originHash` are zero (every cursor derivation produces is canonical so).
        bool hasOrigin;
        /// The newest such origin's number (0 without one).
        uint64 originNumber;
        /// Its hash (0 without one).
        bytes32 originHash;
    }
}

impl Cursor {
    /// The cursor after genesis: batch 0, not opened, no delayed message read, no origin. The
    /// claim on block 0, every dispute's anchor, commits it.
    pub const GENESIS: Cursor = Cursor {
        batchIndex: 0,
        position: 0,
        delayedRead: 0,
        hasOrigin: false,
        originNumber: 0,
        originHash: B256::ZERO,
    };

    /// The cursor of a block read from batch `batch_index` whose next record (if the batch
    /// has one) is at byte `next_position` (0: the batch is done, the next block is read from
    /// the next batch), with `delayed_read` messages consumed and newest origin `origin`.
    pub fn after(
        batch_index: u64,
        next_position: u64,
        delayed_read: u64,
        origin: Option<BatchOrigin>,
    ) -> Self {
        let (batch_index, position) = match next_position {
            // The Inbox holds fewer than 2^64 batches: saturating never changes the result.
            0 => (batch_index.saturating_add(1), 0),
            p => (batch_index, p),
        };
        Self {
            batchIndex: batch_index,
            position,
            delayedRead: delayed_read,
            hasOrigin: origin.is_some(),
            originNumber: origin.map_or(0, |o| o.number),
            originHash: origin.map_or(B256::ZERO, |o| o.hash),
        }
    }

    /// `keccak256(abi.encode(cursor))`: the word the block's claim commits.
    pub fn hash(&self) -> B256 {
        keccak256(self.abi_encode())
    }

    /// The newest L1 origin the cursor records.
    pub fn origin(&self) -> Option<BatchOrigin> {
        self.hasOrigin.then_some(BatchOrigin {
            number: self.originNumber,
            hash: self.originHash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_moves_to_the_next_batch_after_its_last_record() {
        let origin = BatchOrigin {
            number: 7,
            hash: B256::repeat_byte(7),
        };
        let mid = Cursor::after(3, 120, 2, Some(origin));
        assert_eq!((mid.batchIndex, mid.position), (3, 120));
        assert_eq!(mid.origin(), Some(origin));
        let done = Cursor::after(3, 0, 2, None);
        assert_eq!(
            (done.batchIndex, done.position, done.origin()),
            (4, 0, None)
        );
        // Every field is bound by the hash.
        let base = Cursor::after(3, 120, 2, Some(origin));
        let changed = [
            Cursor::after(4, 120, 2, Some(origin)),
            Cursor::after(3, 121, 2, Some(origin)),
            Cursor::after(3, 120, 3, Some(origin)),
            Cursor::after(3, 120, 2, None),
            Cursor {
                originNumber: 8,
                ..base.clone()
            },
            Cursor {
                originHash: B256::repeat_byte(8),
                ..base.clone()
            },
        ];
        for other in changed {
            assert_ne!(other.hash(), base.hash(), "{other:?}");
        }
    }
}
