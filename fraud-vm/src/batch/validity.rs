//! The rules that make derivation total (the module docs of [`crate::batch`], *Validity*):
//! which blocks of a batch derive, given the chain derived so far. A broken rule is an
//! [`InvalidBatch`], on which derivation skips the batch (or its tail) and goes on.

use alloy_consensus::Header;
use alloy_primitives::B256;

use super::{Batch, BatchBlock, BatchOrigin};
use crate::{
    deposit::{L1BlockInfo, L1_INFO_GAS_LIMIT, MAX_DEPOSIT_GAS_LIMIT},
    execute::block_timestamp,
};

/// Largest gas limit a derived block may have: `2^32`. It bounds a block's steps
/// (`steps <= 2·gasUsed + 4·txs + 2`) and so the depth of a dispute over one block.
pub const MAX_BLOCK_GAS_LIMIT: u64 = 1 << 32;

/// Longest a derived block's timestamp may lead the timestamp of the L1 block that appended
/// its batch, in seconds.
pub const MAX_TIMESTAMP_LEAD_SECS: u64 = 3600;

/// Smallest gas limit of a block with an L1 origin: its L1-info deposit's gas limit plus the
/// largest a deposit may have, so the next deposit in the queue always fits in a block (a
/// deposit that fits in none would hold every later one back for ever).
pub const MIN_ORIGIN_GAS_LIMIT: u64 = L1_INFO_GAS_LIMIT + MAX_DEPOSIT_GAS_LIMIT;

/// Most delayed messages one forced batch may force past the previous forced batch's count
/// (the Inbox's `MAX_FORCED_DEPOSITS`), so its forced block holds all it forces.
pub const MAX_FORCED_DEPOSITS: u64 = 16;

/// Gas limit of a forced block (module docs of [`crate::batch`], *Forced inclusion*): its
/// L1-info deposit and [`MAX_FORCED_DEPOSITS`] deposits of the largest gas limit, so every
/// deposit it forces fits.
pub const FORCED_BLOCK_GAS_LIMIT: u64 =
    L1_INFO_GAS_LIMIT + MAX_FORCED_DEPOSITS * MAX_DEPOSIT_GAS_LIMIT;
const _: () = assert!(FORCED_BLOCK_GAS_LIMIT <= MAX_BLOCK_GAS_LIMIT);

/// Most L1 blocks a block's L1 origin may lie behind the L1 block that appended its batch
/// (the sequencing window: OP Stack's 3,600 L1 blocks). It bounds a derivation run: proving the
/// origin walks back at most this many L1 headers.
pub const MAX_ORIGIN_AGE: u64 = 3600;

/// What the validity rules need of the derived block a batch block would be built on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DerivedParent {
    /// Its number.
    pub number: u64,
    /// Its timestamp.
    pub timestamp: u64,
    /// The newest L1 origin of a block at or below it (None: no block had one yet).
    pub origin: Option<BatchOrigin>,
}

impl DerivedParent {
    /// The parent with header `header`, where `origin` is the newest L1 origin at or below it.
    pub fn of(header: &Header, origin: Option<&L1BlockInfo>) -> Self {
        Self {
            number: header.number,
            timestamp: header.timestamp,
            origin: origin.map(BatchOrigin::from),
        }
    }
}

/// The L1 block that appended a batch: the `l1BlockNumber` and `l1Timestamp` of its
/// [`super::BatchCommitment`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendedIn {
    /// L1 block number.
    pub number: u64,
    /// L1 block timestamp.
    pub timestamp: u64,
}

/// Which validity rule a batch, or one of its blocks, breaks. Derivation skips what breaks a
/// rule; it never halts on one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidBatch {
    /// The batch starts past the next block to derive.
    #[error("the batch starts at block {first_block}, past the next block {next}")]
    Gap {
        /// The batch's first block.
        first_block: u64,
        /// The next block to derive.
        next: u64,
    },
    /// The batch starts at or below the newest derived block (late, repeated or competing).
    #[error("the batch starts at block {first_block}, at or below the derived head {head}")]
    Overlap {
        /// The batch's first block.
        first_block: u64,
        /// The newest derived block.
        head: u64,
    },
    /// The batch's parent hash is not the derived head's.
    #[error("the batch's parent hash {claimed} is not block {number}'s {actual}")]
    ParentHash {
        /// The derived head (block `firstBlock - 1`).
        number: u64,
        /// What the batch says.
        claimed: B256,
        /// The derived head's hash.
        actual: B256,
    },
    /// A block names an L1 origin with a gas limit below [`MIN_ORIGIN_GAS_LIMIT`]: room for
    /// its L1-info deposit and the largest deposit.
    #[error(
        "block {block}: gas limit {gas_limit} leaves no room for its L1 origin's L1-info deposit \
         and the largest deposit ({MIN_ORIGIN_GAS_LIMIT} gas)"
    )]
    OriginWithoutRoom {
        /// L2 block number.
        block: u64,
        /// Its gas limit.
        gas_limit: u64,
    },
    /// A block's gas limit is above [`MAX_BLOCK_GAS_LIMIT`].
    #[error("block {block}: gas limit {gas_limit} is above {MAX_BLOCK_GAS_LIMIT}")]
    GasLimit {
        /// L2 block number.
        block: u64,
        /// Its gas limit.
        gas_limit: u64,
    },
    /// A block's stamped timestamp leads its batch's L1 block by more than
    /// [`MAX_TIMESTAMP_LEAD_SECS`].
    #[error(
        "block {block}: timestamp {timestamp} leads the batch's L1 block (timestamp \
         {l1_timestamp}) by more than {MAX_TIMESTAMP_LEAD_SECS} s"
    )]
    TimestampLead {
        /// L2 block number.
        block: u64,
        /// Its stamped timestamp.
        timestamp: u64,
        /// The timestamp of the L1 block that appended the batch.
        l1_timestamp: u64,
    },
    /// A block's L1 origin is older than an earlier block's.
    #[error("block {block}: L1 origin {origin} is older than the previous origin {previous}")]
    OriginBack {
        /// L2 block number.
        block: u64,
        /// Its origin's number.
        origin: u64,
        /// The newest earlier origin's number.
        previous: u64,
    },
    /// A block's L1 origin is not before the L1 block that appended its batch.
    #[error("block {block}: L1 origin {origin} is not before the batch's L1 block {l1_block}")]
    OriginNotPast {
        /// L2 block number.
        block: u64,
        /// Its origin's number.
        origin: u64,
        /// The L1 block that appended the batch.
        l1_block: u64,
    },
    /// A block's L1 origin lies more than [`MAX_ORIGIN_AGE`] L1 blocks behind the L1 block
    /// that appended its batch.
    #[error(
        "block {block}: L1 origin {origin} is more than {MAX_ORIGIN_AGE} L1 blocks behind the \
         batch's L1 block {l1_block}"
    )]
    OriginTooOld {
        /// L2 block number.
        block: u64,
        /// Its origin's number.
        origin: u64,
        /// The L1 block that appended the batch.
        l1_block: u64,
    },
    /// A block's stamped timestamp is before its L1 origin's (L2 time never runs behind the L1
    /// block it takes inputs from).
    #[error("block {block}: timestamp {timestamp} is before its L1 origin's {origin_timestamp}")]
    OriginAfterBlock {
        /// L2 block number.
        block: u64,
        /// Its stamped timestamp.
        timestamp: u64,
        /// Its origin's timestamp.
        origin_timestamp: u64,
    },
    /// A block's L1 origin is not L1's block of that number.
    #[error("block {block}: L1 origin {number} ({hash}) is not on L1")]
    OriginNotOnL1 {
        /// L2 block number.
        block: u64,
        /// The origin's number.
        number: u64,
        /// The origin's hash as the batch gives it.
        hash: B256,
    },
}

impl Batch {
    /// Rules 2-4: whether the batch continues the derived chain, whose newest block is `head`
    /// with hash `head_hash` (`Ok(false)`: the batch holds no block, as a forced batch).
    pub fn continues(&self, head: u64, head_hash: B256) -> Result<bool, InvalidBatch> {
        if self.blocks.is_empty() {
            return Ok(false);
        }
        // Nothing follows block u64::MAX.
        let next = head.checked_add(1).ok_or(InvalidBatch::Overlap {
            first_block: self.first_block,
            head,
        })?;
        if self.first_block > next {
            return Err(InvalidBatch::Gap {
                first_block: self.first_block,
                next,
            });
        }
        if self.first_block < next {
            return Err(InvalidBatch::Overlap {
                first_block: self.first_block,
                head,
            });
        }
        if self.parent_hash != head_hash {
            return Err(InvalidBatch::ParentHash {
                number: head,
                claimed: self.parent_hash,
                actual: head_hash,
            });
        }
        Ok(true)
    }
}

impl BatchBlock {
    /// Rule 5 without L1 reads: the gas limit, the timestamp lead and the origin's order, for
    /// this block built on `parent` from a batch appended in L1 block `appended`.
    ///
    /// A record after block `2^64 − 1` would be a block that cannot exist: like a batch that
    /// starts after it ([`Batch::continues`]), it is an [`InvalidBatch::Overlap`] on that block.
    pub fn check(&self, parent: &DerivedParent, appended: &AppendedIn) -> Result<(), InvalidBatch> {
        let block = parent.number.checked_add(1).ok_or(InvalidBatch::Overlap {
            first_block: parent.number,
            head: parent.number,
        })?;
        if self.gas_limit > MAX_BLOCK_GAS_LIMIT {
            return Err(InvalidBatch::GasLimit {
                block,
                gas_limit: self.gas_limit,
            });
        }
        let timestamp = block_timestamp(parent.timestamp, self.timestamp);
        if timestamp > appended.timestamp.saturating_add(MAX_TIMESTAMP_LEAD_SECS) {
            return Err(InvalidBatch::TimestampLead {
                block,
                timestamp,
                l1_timestamp: appended.timestamp,
            });
        }
        let Some(origin) = self.origin else {
            return Ok(());
        };
        if self.gas_limit < MIN_ORIGIN_GAS_LIMIT {
            return Err(InvalidBatch::OriginWithoutRoom {
                block,
                gas_limit: self.gas_limit,
            });
        }
        if let Some(previous) = parent.origin.filter(|p| origin.number < p.number) {
            return Err(InvalidBatch::OriginBack {
                block,
                origin: origin.number,
                previous: previous.number,
            });
        }
        if origin.number >= appended.number {
            return Err(InvalidBatch::OriginNotPast {
                block,
                origin: origin.number,
                l1_block: appended.number,
            });
        }
        if appended.number - origin.number > MAX_ORIGIN_AGE {
            return Err(InvalidBatch::OriginTooOld {
                block,
                origin: origin.number,
                l1_block: appended.number,
            });
        }
        Ok(())
    }

    /// Rule 5's origin on L1, for the block after `parent`: `on_l1` is L1's block at the
    /// origin's number as the deriver read it (None: L1 has no such block), and the block's
    /// stamped timestamp is not before that block's. Returns that block (for the L1-info
    /// deposit), or None when this block has no origin.
    pub fn check_origin(
        &self,
        parent: &DerivedParent,
        on_l1: Option<&L1BlockInfo>,
    ) -> Result<Option<L1BlockInfo>, InvalidBatch> {
        let Some(origin) = self.origin else {
            return Ok(None);
        };
        let block = parent.number.saturating_add(1);
        let l1 = match on_l1 {
            Some(l1) if l1.number == origin.number && l1.hash == origin.hash => l1,
            _ => {
                return Err(InvalidBatch::OriginNotOnL1 {
                    block,
                    number: origin.number,
                    hash: origin.hash,
                })
            }
        };
        let timestamp = block_timestamp(parent.timestamp, self.timestamp);
        if timestamp < l1.timestamp {
            return Err(InvalidBatch::OriginAfterBlock {
                block,
                timestamp,
                origin_timestamp: l1.timestamp,
            });
        }
        Ok(Some(*l1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u64) -> B256 {
        B256::with_last_byte(n as u8 + 1)
    }

    fn batch(first_block: u64, count: usize) -> Batch {
        Batch {
            first_block,
            parent_hash: first_block.checked_sub(1).map(hash).unwrap_or_default(),
            blocks: vec![BatchBlock::default(); count],
        }
    }

    #[test]
    fn a_batch_derives_only_when_it_continues_the_derived_head() {
        // The derived head is block 5, hashed `hash(5)`.
        let head = (5, hash(5));
        assert_eq!(batch(6, 2).continues(head.0, head.1), Ok(true));
        // No blocks (a forced batch): nothing to derive, nothing wrong.
        assert_eq!(batch(6, 0).continues(head.0, head.1), Ok(false));
        assert_eq!(
            batch(7, 1).continues(head.0, head.1),
            Err(InvalidBatch::Gap {
                first_block: 7,
                next: 6
            })
        );
        // Late, repeated or competing batches, also those reaching past the head, and block 0.
        for first in [0, 2, 4, 5] {
            assert_eq!(
                batch(first, 4).continues(head.0, head.1),
                Err(InvalidBatch::Overlap {
                    first_block: first,
                    head: 5
                })
            );
        }
        let mut other = batch(6, 3);
        other.parent_hash = B256::repeat_byte(9);
        assert_eq!(
            other.continues(head.0, head.1),
            Err(InvalidBatch::ParentHash {
                number: 5,
                claimed: B256::repeat_byte(9),
                actual: hash(5),
            })
        );
        // Near u64::MAX: no overflow.
        assert!(matches!(
            batch(u64::MAX, 3).continues(head.0, head.1),
            Err(InvalidBatch::Gap { .. })
        ));
        assert!(matches!(
            batch(u64::MAX, 3).continues(u64::MAX, hash(1)),
            Err(InvalidBatch::Overlap { .. })
        ));
    }

    fn origin(number: u64) -> BatchOrigin {
        BatchOrigin {
            number,
            hash: B256::repeat_byte(number as u8),
        }
    }

    const PARENT: DerivedParent = DerivedParent {
        number: 9,
        timestamp: 1_000,
        origin: Some(BatchOrigin {
            number: 20,
            hash: B256::ZERO,
        }),
    };
    const APPENDED: AppendedIn = AppendedIn {
        number: 30,
        timestamp: 2_000,
    };

    fn block() -> BatchBlock {
        BatchBlock {
            timestamp: 1_500,
            gas_limit: 30_000_000,
            origin: Some(origin(25)),
            ..Default::default()
        }
    }

    #[test]
    fn each_block_rule_holds_at_its_bound_and_breaks_just_past_it() {
        assert_eq!(block().check(&PARENT, &APPENDED), Ok(()));

        let gas = |gas_limit| {
            BatchBlock {
                gas_limit,
                ..block()
            }
            .check(&PARENT, &APPENDED)
        };
        assert_eq!(gas(MAX_BLOCK_GAS_LIMIT), Ok(()));
        assert_eq!(
            gas(MAX_BLOCK_GAS_LIMIT + 1),
            Err(InvalidBatch::GasLimit {
                block: 10,
                gas_limit: MAX_BLOCK_GAS_LIMIT + 1
            })
        );

        let lead = APPENDED.timestamp + MAX_TIMESTAMP_LEAD_SECS;
        let at = |timestamp| {
            BatchBlock {
                timestamp,
                ..block()
            }
            .check(&PARENT, &APPENDED)
        };
        assert_eq!(at(lead), Ok(()));
        assert_eq!(
            at(lead + 1),
            Err(InvalidBatch::TimestampLead {
                block: 10,
                timestamp: lead + 1,
                l1_timestamp: APPENDED.timestamp
            })
        );
        assert!(at(u64::MAX).is_err());
        // The rule reads the stamped timestamp: a proposed 0 on a parent at the bound is
        // stamped one past it.
        let leading = DerivedParent {
            timestamp: lead,
            ..PARENT
        };
        assert_eq!(
            BatchBlock {
                timestamp: 0,
                ..block()
            }
            .check(&leading, &APPENDED),
            Err(InvalidBatch::TimestampLead {
                block: 10,
                timestamp: lead + 1,
                l1_timestamp: APPENDED.timestamp
            })
        );

        let from = |n| {
            BatchBlock {
                origin: Some(origin(n)),
                ..block()
            }
            .check(&PARENT, &APPENDED)
        };
        assert_eq!(from(20), Ok(()), "the same origin again");
        assert_eq!(
            from(19),
            Err(InvalidBatch::OriginBack {
                block: 10,
                origin: 19,
                previous: 20
            })
        );
        assert_eq!(from(29), Ok(()), "the L1 block before the batch's");
        // An origin needs room for its L1-info deposit and the largest deposit.
        let room = |gas_limit| {
            BatchBlock {
                gas_limit,
                ..block()
            }
            .check(&PARENT, &APPENDED)
        };
        assert_eq!(room(MIN_ORIGIN_GAS_LIMIT), Ok(()));
        assert_eq!(
            room(MIN_ORIGIN_GAS_LIMIT - 1),
            Err(InvalidBatch::OriginWithoutRoom {
                block: 10,
                gas_limit: MIN_ORIGIN_GAS_LIMIT - 1
            })
        );
        assert_eq!(
            BatchBlock {
                gas_limit: 21_000,
                origin: None,
                ..block()
            }
            .check(&PARENT, &APPENDED),
            Ok(()),
            "a block without an origin needs no room for it"
        );
        assert_eq!(
            from(30),
            Err(InvalidBatch::OriginNotPast {
                block: 10,
                origin: 30,
                l1_block: 30
            })
        );
        // The sequencing window: at most MAX_ORIGIN_AGE L1 blocks behind the batch's.
        let late = AppendedIn {
            number: 20 + MAX_ORIGIN_AGE,
            ..APPENDED
        };
        let aged = |n| {
            BatchBlock {
                origin: Some(origin(n)),
                ..block()
            }
            .check(&PARENT, &late)
        };
        assert_eq!(aged(20), Ok(()), "exactly the window behind");
        let later = AppendedIn {
            number: 21 + MAX_ORIGIN_AGE,
            ..APPENDED
        };
        assert_eq!(
            BatchBlock {
                origin: Some(origin(20)),
                ..block()
            }
            .check(&PARENT, &later),
            Err(InvalidBatch::OriginTooOld {
                block: 10,
                origin: 20,
                l1_block: 21 + MAX_ORIGIN_AGE
            })
        );
        // No origin is allowed after one; any origin after none.
        let none = BatchBlock {
            origin: None,
            ..block()
        };
        assert_eq!(none.check(&PARENT, &APPENDED), Ok(()));
        let first = DerivedParent {
            origin: None,
            ..PARENT
        };
        assert_eq!(
            BatchBlock {
                origin: Some(origin(1)),
                ..block()
            }
            .check(&first, &APPENDED),
            Ok(())
        );
    }

    #[test]
    fn an_origin_must_be_l1_s_block_of_that_number() {
        let b = block();
        let o = origin(25);
        let on_l1 = L1BlockInfo {
            number: 25,
            hash: o.hash,
            timestamp: 1_400,
            basefee: 7,
        };
        let parent = DerivedParent {
            number: 9,
            ..Default::default()
        };
        assert_eq!(b.check_origin(&parent, Some(&on_l1)), Ok(Some(on_l1)));
        let refused = Err(InvalidBatch::OriginNotOnL1 {
            block: 10,
            number: 25,
            hash: o.hash,
        });
        assert_eq!(b.check_origin(&parent, None), refused);
        let other = L1BlockInfo {
            hash: B256::repeat_byte(0xee),
            ..on_l1
        };
        assert_eq!(b.check_origin(&parent, Some(&other)), refused);
        let elsewhere = L1BlockInfo {
            number: 26,
            ..on_l1
        };
        assert_eq!(b.check_origin(&parent, Some(&elsewhere)), refused);
        let none = BatchBlock {
            origin: None,
            ..block()
        };
        assert_eq!(none.check_origin(&parent, None), Ok(None));
    }

    #[test]
    fn a_block_is_not_stamped_before_its_origin() {
        let b = block();
        let o = origin(25);
        let parent = DerivedParent {
            number: 9,
            timestamp: b.timestamp - 1,
            ..Default::default()
        };
        let at = |timestamp| L1BlockInfo {
            number: 25,
            hash: o.hash,
            timestamp,
            basefee: 7,
        };
        // The origin's own second, and before it: fine.
        for t in [b.timestamp, b.timestamp - 1] {
            assert_eq!(b.check_origin(&parent, Some(&at(t))), Ok(Some(at(t))));
        }
        assert_eq!(
            b.check_origin(&parent, Some(&at(b.timestamp + 1))),
            Err(InvalidBatch::OriginAfterBlock {
                block: 10,
                timestamp: b.timestamp,
                origin_timestamp: b.timestamp + 1,
            })
        );
        // The stamped timestamp counts: a parent one second before the origin stamps the
        // block at the origin's second.
        let later = DerivedParent {
            timestamp: b.timestamp + 1,
            ..parent
        };
        assert_eq!(
            b.check_origin(&later, Some(&at(b.timestamp + 2))),
            Ok(Some(at(b.timestamp + 2)))
        );
    }
}
