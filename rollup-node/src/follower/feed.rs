//! The [`DepositFeed`]: what the follower found on L1, shared with the sequencer and the
//! replica (see [`crate::follower`]).

use std::collections::BTreeMap;

use alloy::primitives::B256;
use fraud_vm::{batch::Batch, deposit::L1BlockInfo, message::DepositMessage};
use parking_lot::Mutex;

use crate::store::L1Cursor;

#[derive(Debug, Default)]
struct FeedState {
    /// The newest L1 block at the confirmation depth seen so far.
    confirmed: Option<L1BlockInfo>,
    /// Forced batches by batch index.
    forced_batches: BTreeMap<u64, ForcedBatch>,
    /// Sequencer batches found on L1 (replica mode), by batch index.
    batches: BTreeMap<u64, PostedBatch>,
    /// Queued deposits not yet included, by Inbox index.
    deposits: BTreeMap<u64, DepositMessage>,
    /// Deposits below this index are included already.
    included_below: u64,
}

/// What the L1 follower has found, shared with the sequencer (see the module docs).
#[derive(Debug, Default)]
pub struct DepositFeed {
    state: Mutex<FeedState>,
}

/// A sequencer batch as posted to the Inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostedBatch {
    /// The Inbox's batch index.
    pub index: u64,
    /// L1 block holding it.
    pub l1_block: u64,
    /// That L1 block's timestamp.
    pub l1_timestamp: u64,
    /// L1 transaction holding it.
    pub l1_tx: B256,
    /// `afterDelayedMessagesRead` of the call.
    pub after_delayed_read: u64,
    /// The Inbox's batch accumulator after it (`batchAcc(index + 1)`).
    pub acc: B256,
    /// The decoded batch (none for a forced batch).
    pub batch: Batch,
    /// For a forced batch (`Inbox.forceInclusion`): L1's block before its own, its forced
    /// block's origin.
    pub forced_origin: Option<L1BlockInfo>,
}

/// A forced batch (`Inbox.forceInclusion`) as appended to the Inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForcedBatch {
    /// The Inbox's batch index.
    pub index: u64,
    /// L1 block holding it.
    pub l1_block: u64,
    /// The delayed messages it forces (`afterDelayedMessagesRead`).
    pub after_delayed_read: u64,
    /// The Inbox's batch accumulator after it (`batchAcc(index + 1)`).
    pub acc: B256,
    /// L1's block before `l1_block`: its forced block's origin.
    pub origin: L1BlockInfo,
}

/// The L1 inputs of one L2 block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockInputs {
    /// The block's L1 origin.
    pub origin: L1BlockInfo,
    /// The Inbox index the block continues from (the cursor's next index).
    pub first_deposit: u64,
    /// The deposits to include after the L1-info deposit, in index order (contiguous from
    /// the cursor's next index).
    pub deposits: Vec<DepositMessage>,
}

impl DepositFeed {
    /// An empty feed expecting deposits from index `next_deposit` on.
    pub fn new(next_deposit: u64) -> Self {
        Self {
            state: Mutex::new(FeedState {
                included_below: next_deposit,
                ..Default::default()
            }),
        }
    }

    /// The inputs of the next L2 block after one whose derivation state is `cursor` (`None`:
    /// no block had an origin yet). `None` when no L1 block is known yet.
    pub fn inputs(&self, cursor: Option<&L1Cursor>) -> Option<BlockInputs> {
        let state = self.state.lock();
        let origin = match (cursor, state.confirmed) {
            (Some(c), Some(confirmed)) if confirmed.number > c.origin.number => confirmed,
            (Some(c), _) => c.origin,
            (None, confirmed) => confirmed?,
        };
        let first_deposit = cursor.map_or(state.included_below, |c| c.next_deposit);
        let deposits = (first_deposit..)
            .zip(state.deposits.range(first_deposit..))
            .take_while(|(next, (index, message))| {
                *index == next && message.l1_block_number <= origin.number
            })
            .map(|(_, (_, message))| message.clone())
            .collect();
        Some(BlockInputs {
            origin,
            first_deposit,
            deposits,
        })
    }

    /// The queued deposits from index `from` on (contiguous), in index order.
    pub fn deposits_from(&self, from: u64) -> Vec<DepositMessage> {
        let state = self.state.lock();
        (from..)
            .zip(state.deposits.range(from..))
            .take_while(|(next, (index, _))| *index == next)
            .map(|(_, (_, message))| message.clone())
            .collect()
    }

    /// The sequencer batch with index `index`, once found on L1 (replica mode).
    pub fn batch(&self, index: u64) -> Option<PostedBatch> {
        self.state.lock().batches.get(&index).cloned()
    }

    /// Forgets sequencer batches below `index` (derived).
    pub fn batches_done_below(&self, index: u64) {
        let mut state = self.state.lock();
        let keep = state.batches.split_off(&index);
        state.batches = keep;
    }

    /// The forced batches found with index `from` or above, in index order.
    pub fn forced_batches(&self, from: u64) -> Vec<ForcedBatch> {
        self.state
            .lock()
            .forced_batches
            .range(from..)
            .map(|(_, f)| *f)
            .collect()
    }

    /// Forgets deposits below `next_deposit` (included in a built block).
    pub fn included_below(&self, next_deposit: u64) {
        let mut state = self.state.lock();
        state.included_below = state.included_below.max(next_deposit);
        let keep = state.deposits.split_off(&next_deposit);
        state.deposits = keep;
    }

    /// Records the confirmed L1 head with the deposits, forced batches and sequencer batches
    /// found up to it, at once: whoever sees a batch sees the deposits queued before it.
    pub fn publish(
        &self,
        confirmed: L1BlockInfo,
        deposits: Vec<DepositMessage>,
        forced: Vec<ForcedBatch>,
        batches: Vec<PostedBatch>,
    ) {
        let mut state = self.state.lock();
        for f in forced {
            state.forced_batches.insert(f.index, f);
        }
        for batch in batches {
            state.batches.insert(batch.index, batch);
        }
        for message in deposits {
            if message.index >= state.included_below {
                state.deposits.insert(message.index, message);
            }
        }
        if state.confirmed.is_none_or(|c| confirmed.number >= c.number) {
            state.confirmed = Some(confirmed);
        }
    }

    /// The newest confirmed L1 block published.
    pub fn confirmed(&self) -> Option<L1BlockInfo> {
        self.state.lock().confirmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64) -> L1BlockInfo {
        L1BlockInfo {
            number,
            hash: B256::with_last_byte(number as u8),
            timestamp: 1000 + number,
            basefee: 7,
        }
    }

    fn message(index: u64, l1_block_number: u64) -> DepositMessage {
        DepositMessage {
            index,
            l1_block_number,
            ..Default::default()
        }
    }

    #[test]
    fn inputs_are_contiguous_from_the_cursor_and_origins_never_go_back() {
        let feed = DepositFeed::new(0);
        assert_eq!(feed.inputs(None), None, "no L1 block known yet");
        feed.publish(
            block(5),
            vec![message(0, 3), message(1, 5), message(3, 5)],
            Vec::new(),
            Vec::new(),
        );
        let inputs = feed.inputs(None).expect("origin");
        assert_eq!(inputs.origin, block(5));
        // Index 2 is missing: stop before 3.
        assert_eq!(
            inputs.deposits.iter().map(|m| m.index).collect::<Vec<_>>(),
            vec![0, 1]
        );
        // After a block that included 0 and 1 with origin 5:
        let cursor = L1Cursor {
            origin: block(5),
            next_deposit: 2,
        };
        feed.included_below(2);
        assert!(feed.inputs(Some(&cursor)).unwrap().deposits.is_empty());
        // An older confirmed block (a slower L1 view) never moves the origin back.
        feed.publish(block(4), vec![message(2, 4)], Vec::new(), Vec::new());
        let inputs = feed.inputs(Some(&cursor)).unwrap();
        assert_eq!(inputs.origin, block(5));
        assert_eq!(
            inputs.deposits.iter().map(|m| m.index).collect::<Vec<_>>(),
            vec![2, 3]
        );
        // A deposit queued after the origin waits for a newer origin.
        feed.publish(block(6), vec![message(4, 7)], Vec::new(), Vec::new());
        let cursor = L1Cursor {
            origin: block(6),
            next_deposit: 4,
        };
        feed.included_below(4);
        assert!(feed.inputs(Some(&cursor)).unwrap().deposits.is_empty());
        feed.publish(block(7), vec![], Vec::new(), Vec::new());
        assert_eq!(feed.inputs(Some(&cursor)).unwrap().deposits.len(), 1);
        // Already-included deposits are not taken back in.
        feed.publish(block(7), vec![message(1, 5)], Vec::new(), Vec::new());
        assert_eq!(feed.inputs(Some(&cursor)).unwrap().deposits[0].index, 4);
    }
}
