//! The L1 derivation cursor and its record encoding: what the store keeps of how far
//! derivation got ([`super::schema`]: the `m`/`l1cursor`, `d` and `p` records).

use alloy_primitives::B256;
use fraud_vm::{batch::Cursor, deposit::L1BlockInfo};

/// Where derivation continues after a block a replica derived (or this node batched): the
/// batch index and record position of its [`Cursor`] (the rest of the cursor is the block's
/// [`L1Cursor`]), and the Inbox's accumulator after the batch the block was read from, so a
/// node can tell after an L1 reorg whether that batch is still on L1 ([`crate::reorg`]).
/// Persisted with the block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchPosition {
    /// The Inbox batch the next block is read from.
    pub batch_index: u64,
    /// Byte offset of the next block record in it (0: the batch is opened next).
    pub position: u64,
    /// `Inbox.batchAcc(source + 1)` of the batch the block was read from
    /// ([`BatchPosition::source_index`]); zero in records written before it was kept.
    pub source_acc: B256,
}

impl BatchPosition {
    /// Byte length of [`BatchPosition::encode`].
    pub const ENCODED_LEN: usize = 48;
    /// Byte length of records written before the source batch's accumulator was kept.
    const LEGACY_LEN: usize = 16;

    /// The position after block `i` of `batch`, read from Inbox batch `batch_index` whose
    /// accumulator is `source_acc` ([`Cursor::after`]).
    pub fn after(
        batch_index: u64,
        source_acc: B256,
        batch: &fraud_vm::batch::Batch,
        i: usize,
    ) -> Self {
        Self::at(
            Cursor::after(batch_index, batch.next_position(i), 0, None),
            source_acc,
        )
    }

    /// The position after the forced block of forced batch `batch_index` (accumulator
    /// `source_acc`): the next batch's start.
    pub fn after_forced(batch_index: u64, source_acc: B256) -> Self {
        Self::at(Cursor::after(batch_index, 0, 0, None), source_acc)
    }

    /// The position of `cursor`, read from the batch whose accumulator is `source_acc`.
    fn at(cursor: Cursor, source_acc: B256) -> Self {
        Self {
            batch_index: cursor.batchIndex,
            position: cursor.position,
            source_acc,
        }
    }

    /// The Inbox index of the batch the block was read from: the cursor's batch if it stays
    /// inside it, else the one before (the block was its last record).
    pub fn source_index(&self) -> u64 {
        match self.position {
            0 => self.batch_index.saturating_sub(1),
            _ => self.batch_index,
        }
    }

    /// `batch_index ‖ position ‖ source_acc`: two u64s big-endian, then 32 bytes.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[..8].copy_from_slice(&self.batch_index.to_be_bytes());
        out[8..16].copy_from_slice(&self.position.to_be_bytes());
        out[16..].copy_from_slice(self.source_acc.as_slice());
        out
    }

    /// Inverse of [`BatchPosition::encode`]; also reads the 16-byte records of earlier
    /// versions (no accumulator: zero).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN && bytes.len() != Self::LEGACY_LEN {
            return None;
        }
        let u64_at = |i: usize| bytes[i..i + 8].try_into().ok().map(u64::from_be_bytes);
        Some(Self {
            batch_index: u64_at(0)?,
            position: u64_at(8)?,
            source_acc: bytes.get(16..).map_or(B256::ZERO, |acc| match acc.len() {
                32 => B256::from_slice(acc),
                _ => B256::ZERO,
            }),
        })
    }

    /// The whole cursor after the block: this position, with the delayed messages consumed
    /// and the newest origin from the block's L1 record `l1` (the newest at or below it).
    pub fn cursor(&self, l1: Option<&L1Cursor>) -> Cursor {
        Cursor {
            batchIndex: self.batch_index,
            position: self.position,
            delayedRead: l1.map_or(0, |c| c.next_deposit),
            hasOrigin: l1.is_some(),
            originNumber: l1.map_or(0, |c| c.origin.number),
            originHash: l1.map_or(B256::ZERO, |c| c.origin.hash),
        }
    }
}

/// How far derivation got: the origin of the newest L2 block and the next Inbox index to
/// include. Persisted with every block that has an origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1Cursor {
    /// The L1 origin of the newest L2 block.
    pub origin: L1BlockInfo,
    /// The Inbox index of the next deposit to include.
    pub next_deposit: u64,
}

impl L1Cursor {
    /// Byte length of [`L1Cursor::encode`].
    pub const ENCODED_LEN: usize = 8 + 32 + 8 + 8 + 8;

    /// `origin.number ‖ origin.hash ‖ origin.timestamp ‖ origin.basefee ‖ next_deposit`
    /// (integers as u64 big-endian): 64 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        out.extend_from_slice(&self.origin.number.to_be_bytes());
        out.extend_from_slice(self.origin.hash.as_slice());
        out.extend_from_slice(&self.origin.timestamp.to_be_bytes());
        out.extend_from_slice(&self.origin.basefee.to_be_bytes());
        out.extend_from_slice(&self.next_deposit.to_be_bytes());
        out
    }

    /// Inverse of [`L1Cursor::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        let u64_at = |i: usize| bytes[i..i + 8].try_into().ok().map(u64::from_be_bytes);
        Some(Self {
            origin: L1BlockInfo {
                number: u64_at(0)?,
                hash: B256::from_slice(&bytes[8..40]),
                timestamp: u64_at(40)?,
                basefee: u64_at(48)?,
            },
            next_deposit: u64_at(56)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = L1Cursor {
            origin: L1BlockInfo {
                number: 9,
                hash: B256::with_last_byte(9),
                timestamp: 1009,
                basefee: 7,
            },
            next_deposit: 42,
        };
        let bytes = c.encode();
        assert_eq!(bytes.len(), L1Cursor::ENCODED_LEN);
        assert_eq!(L1Cursor::decode(&bytes), Some(c));
        assert_eq!(L1Cursor::decode(&bytes[1..]), None);
        let p = BatchPosition {
            batch_index: 3,
            position: 200,
            source_acc: B256::repeat_byte(0xac),
        };
        assert_eq!(BatchPosition::decode(&p.encode()), Some(p));
        assert_eq!(BatchPosition::decode(&p.encode()[1..]), None);
        // Records of earlier versions: no accumulator.
        assert_eq!(
            BatchPosition::decode(&p.encode()[..16]),
            Some(BatchPosition {
                source_acc: B256::ZERO,
                ..p
            })
        );
        assert_eq!(p.source_index(), 3);
        let last = BatchPosition {
            batch_index: 4,
            position: 0,
            ..p
        };
        assert_eq!(
            last.source_index(),
            3,
            "the block was its batch's last record"
        );
        let cursor = p.cursor(Some(&c));
        assert_eq!((cursor.batchIndex, cursor.position), (3, 200));
        assert_eq!(cursor.delayedRead, 42);
        assert_eq!(
            (cursor.hasOrigin, cursor.originNumber, cursor.originHash),
            (true, 9, B256::with_last_byte(9))
        );
        assert!(!p.cursor(None).hasOrigin);
    }
}
