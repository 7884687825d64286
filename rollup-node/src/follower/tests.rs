//! The follower against a scripted L1 ([`ScriptedL1`]): normal following, retries, reorgs and
//! stops, without an L1 node.

use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use fraud_vm::{
    batch::{Batch, BatchBlock},
    deposit::Deployment,
};

use super::scripted::{block_hash, ScriptedL1};
use super::*;

const L1_CHAIN_ID: u64 = 31337;
const INBOX: Address = Address::repeat_byte(0x1b);

fn config(confirmations: u64) -> L1Config {
    L1Config {
        rpc: "scripted".into(),
        deployment: Deployment {
            l1_chain_id: L1_CHAIN_ID,
            l2_chain_id: 42069,
            deploy_block: 1,
            deployer: Address::ZERO,
            inbox: INBOX,
            portal: Address::ZERO,
            output_registry: Address::ZERO,
            l1_standard_bridge: Address::ZERO,
            batcher: Address::ZERO,
            proposer: Address::ZERO,
            resolver: Address::ZERO,
            force_inclusion_window: 60,
            challenge_window: 60,
            proposal_bond: U256::ZERO,
        },
        confirmations,
        poll_interval: Duration::from_millis(1),
    }
}

fn follower(
    l1: &ScriptedL1,
    start: Option<L1Cursor>,
) -> (L1Follower<ScriptedL1>, Arc<DepositFeed>) {
    let feed = Arc::new(DepositFeed::new(start.map_or(0, |c| c.next_deposit)));
    let follower = L1Follower::with_source(config(2), l1.clone(), feed.clone(), start);
    (follower, feed)
}

fn indexes(feed: &DepositFeed) -> Vec<u64> {
    feed.deposits_from(0).iter().map(|m| m.index).collect()
}

fn sample_batch() -> Batch {
    Batch {
        first_block: 1,
        parent_hash: B256::repeat_byte(7),
        blocks: vec![BatchBlock {
            timestamp: 2_000,
            gas_limit: 30_000_000,
            delayed_read: 2,
            ..Default::default()
        }],
    }
}

/// L1 with head 10 (confirmed head 8 at depth 2), deposits 0..=3 in blocks 2, 3, 3, 5, deposit
/// 4 in block 9 (not yet confirmed) and sequencer batch 0 in block 4.
fn scenario() -> ScriptedL1 {
    let l1 = ScriptedL1::new(L1_CHAIN_ID, 10);
    for (index, block) in [(0, 2), (1, 3), (2, 3), (3, 5), (4, 9)] {
        l1.deposit(INBOX, index, block);
    }
    l1.batch(INBOX, 0, 4, &sample_batch(), 2);
    l1
}

/// Runs the driver until the feed's confirmed head is L1 block `number`, then shuts it down.
async fn drive_until_confirmed(follower: L1Follower<ScriptedL1>, feed: &DepositFeed, number: u64) {
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(follower.drive(shutdown));
    let reached = tokio::time::timeout(Duration::from_secs(10), async {
        while feed.confirmed().is_none_or(|c| c.number < number) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "the follower never confirmed L1 block {number}"
    );
    stop.send(true).expect("driver listening");
    let stopped = task.await.expect("driver task");
    assert!(stopped.is_ok(), "a shutdown is not an error: {stopped:?}");
}

#[tokio::test]
async fn delivers_deposits_in_index_order_up_to_the_confirmed_head() {
    let l1 = scenario();
    let (mut follower, feed) = follower(&l1, None);
    follower.poll().await.expect("first round");
    let confirmed = feed.confirmed().expect("a confirmed head");
    assert_eq!((confirmed.number, confirmed.hash), (8, block_hash(8, 0)));
    assert_eq!(
        indexes(&feed),
        vec![0, 1, 2, 3],
        "deposit 4 is above depth 2"
    );
    assert_eq!(
        feed.deposits_from(0)
            .iter()
            .map(|m| m.l1_block_number)
            .collect::<Vec<_>>(),
        vec![2, 3, 3, 5]
    );

    // Two more L1 blocks: block 9 is confirmed, and with it deposit 4; nothing is repeated.
    l1.extend_to(11);
    follower.poll().await.expect("second round");
    assert_eq!(feed.confirmed().map(|c| c.number), Some(9));
    assert_eq!(indexes(&feed), vec![0, 1, 2, 3, 4]);
    assert_eq!(feed.deposits_from(0)[4].mint, U256::from(5));
}

#[tokio::test]
async fn a_restart_resumes_at_the_cursor_s_next_deposit() {
    let l1 = scenario();
    let start = L1Cursor {
        origin: L1BlockInfo {
            number: 3,
            hash: block_hash(3, 0),
            timestamp: 1_036,
            basefee: 7,
        },
        next_deposit: 2,
    };
    let (mut follower, feed) = follower(&l1, Some(start));
    follower.poll().await.expect("first round");
    assert_eq!(indexes(&feed), Vec::<u64>::new(), "nothing below index 2");
    assert_eq!(
        feed.deposits_from(2)
            .iter()
            .map(|m| m.index)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
}

#[tokio::test]
async fn temporary_errors_are_retried_and_deliver_what_a_clean_run_does() {
    let clean = scenario();
    let (follower_clean, feed_clean) = follower(&clean, None);
    drive_until_confirmed(follower_clean.reading_batches(), &feed_clean, 8).await;

    let flaky = scenario();
    // Each retry gets one call further: eth_chainId, eth_blockNumber, eth_getLogs,
    // eth_getTransactionByHash and eth_getBlockByNumber (of the confirmed head) fail once each
    // before a round goes through.
    let failing = [0, 2, 5, 8, 12];
    flaky.fail_calls(failing);
    let (follower_flaky, feed_flaky) = follower(&flaky, None);
    drive_until_confirmed(follower_flaky.reading_batches(), &feed_flaky, 8).await;

    let calls = flaky.calls();
    assert_eq!(
        failing.map(|i| calls[i]),
        [
            "eth_chainId",
            "eth_blockNumber",
            "eth_getLogs",
            "eth_getTransactionByHash",
            "eth_getBlockByNumber",
        ],
        "the failures hit each kind of call: {calls:?}"
    );
    assert_eq!(feed_flaky.confirmed(), feed_clean.confirmed());
    assert_eq!(indexes(&feed_flaky), indexes(&feed_clean));
    assert_eq!(indexes(&feed_flaky), vec![0, 1, 2, 3]);
    assert_eq!(feed_flaky.deposits_from(0), feed_clean.deposits_from(0));
    let batch = feed_flaky.batch(0).expect("batch 0 delivered");
    assert_eq!(Some(batch.clone()), feed_clean.batch(0));
    assert_eq!((batch.l1_block, batch.after_delayed_read), (4, 2));
    assert_eq!(batch.batch, sample_batch());
}

/// `round` failed with a reset at L1 block `number`, replaced by fork 1.
fn assert_reset_at(round: Result<(), FollowError>, number: u64) {
    match round {
        Err(FollowError::Reset(reorg)) => assert_eq!(
            reorg,
            DeepReorg {
                number,
                expected: block_hash(number, 0),
                actual: block_hash(number, 1),
            }
        ),
        other => panic!("expected a reset, got {other:?}"),
    }
}

#[tokio::test]
async fn a_changed_hash_at_a_followed_height_is_a_reset() {
    let l1 = scenario();
    let (mut follower, feed) = follower(&l1, None);
    follower.poll().await.expect("first round");
    // Block 8, published as the confirmed head, is replaced.
    l1.reorg(8, 1);
    l1.extend_to(12);
    assert_reset_at(follower.poll().await, 8);
    assert_eq!(
        feed.confirmed().map(|c| c.number),
        Some(8),
        "nothing from the new chain is published"
    );
}

/// L1's head drops below the last confirmed block: a lagging node (the blocks it has are the
/// ones seen) is waited for; a shorter chain whose blocks were replaced is a reset, found at
/// the newest confirmed block seen at or below the new head.
#[tokio::test]
async fn a_head_that_goes_back_is_a_reset_only_if_seen_blocks_changed() {
    let l1 = scenario();
    let (mut follower, feed) = follower(&l1, None);
    follower.poll().await.expect("confirms 8");
    l1.extend_to(14);
    follower.poll().await.expect("confirms 12");
    assert_eq!(feed.confirmed().map(|c| c.number), Some(12));

    // A node that lags: blocks 0..=11 as seen. Nothing new, no error.
    l1.truncate(11);
    follower.poll().await.expect("a lagging node is no reorg");
    assert_eq!(feed.confirmed().map(|c| c.number), Some(12));

    // The chain up to 11 replaced from block 7 on: block 8, seen, changed.
    for number in 7..=11 {
        l1.reorg(number, 1);
    }
    assert_reset_at(follower.poll().await, 8);
}

#[tokio::test]
async fn the_driver_stops_on_a_reset_at_restart() {
    let l1 = scenario();
    // The stored origin is block 5 of another fork than L1 has now.
    let start = L1Cursor {
        origin: L1BlockInfo {
            number: 5,
            hash: block_hash(5, 1),
            timestamp: 1_060,
            basefee: 7,
        },
        next_deposit: 4,
    };
    let (follower, feed) = follower(&l1, Some(start));
    let (_stop, shutdown) = watch::channel(false);
    let stopped = tokio::time::timeout(Duration::from_secs(10), follower.drive(shutdown))
        .await
        .expect("the driver stops by itself");
    assert!(
        matches!(
            stopped,
            Err(FollowError::Reset(DeepReorg { number: 5, .. }))
        ),
        "{stopped:?}"
    );
    assert_eq!(feed.confirmed(), None);
}

#[tokio::test]
async fn the_driver_stops_on_a_critical_error_without_retrying() {
    let l1 = ScriptedL1::new(1, 10);
    l1.deposit(INBOX, 0, 2);
    let (follower, feed) = follower(&l1, None);
    let (_stop, shutdown) = watch::channel(false);
    let stopped = tokio::time::timeout(Duration::from_secs(10), follower.drive(shutdown))
        .await
        .expect("the driver stops by itself");
    assert!(
        matches!(
            stopped,
            Err(FollowError::Critical(CriticalError::WrongChain {
                expected: L1_CHAIN_ID,
                actual: 1
            }))
        ),
        "{stopped:?}"
    );
    assert_eq!(
        l1.calls(),
        vec!["eth_chainId"],
        "no retry after a critical error"
    );
    assert_eq!(feed.confirmed(), None);
    assert!(indexes(&feed).is_empty());
}

/// A batch transaction whose calldata is not what the Inbox committed (`dataRoot`, `dataLength`)
/// stops a batch-reading follower: deriving "no blocks" from it would follow another chain than
/// the one L1 commits to.
#[tokio::test]
async fn a_batch_whose_calldata_is_not_the_committed_data_stops_the_replica_s_follower() {
    let l1 = scenario();
    let other = Batch {
        first_block: 9,
        ..sample_batch()
    };
    let input = appendSequencerBatchCall {
        data: other.encode().into(),
        afterDelayedMessagesRead: U256::from(2),
    }
    .abi_encode();
    // Batch 0's transaction (`ScriptedL1::batch` names it 0xb0…b0) now carries other data.
    l1.set_input(B256::repeat_byte(0xb0), input.into());
    let feed = Arc::new(DepositFeed::new(0));
    let follower =
        L1Follower::with_source(config(2), l1.clone(), feed.clone(), None).reading_batches();
    let (_stop, shutdown) = watch::channel(false);
    let stopped = tokio::time::timeout(Duration::from_secs(10), follower.drive(shutdown))
        .await
        .expect("the driver stops by itself");
    assert!(
        matches!(
            &stopped,
            Err(FollowError::Critical(CriticalError::UnreadableBatch {
                index: 0,
                ..
            }))
        ),
        "{stopped:?}"
    );
    assert_eq!(
        feed.batch(0),
        None,
        "nothing derived from the mismatching batch"
    );
}

/// A forced batch that landed before the next deposit's L1 block, while the node was down (a
/// sequencer whose unbatched blocks consumed what it forces): a restarted follower still
/// reports it, with the L1 block before its own as its forced block's origin.
#[tokio::test]
async fn a_restart_reports_a_forced_batch_behind_the_next_deposit() {
    let l1 = ScriptedL1::new(L1_CHAIN_ID, 20);
    l1.deposit(INBOX, 0, 2);
    l1.deposit(INBOX, 1, 3);
    l1.batch(INBOX, 0, 4, &sample_batch(), 0);
    l1.forced(INBOX, 1, 10, 2);
    l1.deposit(INBOX, 2, 12);
    let start = L1Cursor {
        origin: L1BlockInfo {
            number: 9,
            hash: block_hash(9, 0),
            timestamp: 1_000 + 12 * 9,
            basefee: 7,
        },
        next_deposit: 2,
    };
    let (follower, feed) = follower(&l1, Some(start));
    drive_until_confirmed(follower, &feed, 18).await;
    let forced = feed.forced_batches(0);
    assert_eq!(
        forced
            .iter()
            .map(|f| (f.index, f.l1_block, f.after_delayed_read))
            .collect::<Vec<_>>(),
        vec![(1, 10, 2)]
    );
    assert_eq!(forced[0].origin.number, 9);
    assert_eq!(forced[0].origin.hash, block_hash(9, 0));
    assert_eq!(
        indexes(&feed),
        Vec::<u64>::new(),
        "consumed deposits stay out"
    );
    assert_eq!(
        feed.deposits_from(2)
            .iter()
            .map(|m| m.index)
            .collect::<Vec<_>>(),
        vec![2]
    );
}

/// A round that fails after reading the logs publishes nothing: a replica never holds a
/// (forced) batch without the deposits queued before it.
#[tokio::test]
async fn a_round_publishes_batches_and_deposits_together_or_not_at_all() {
    let scenario = || {
        let l1 = ScriptedL1::new(L1_CHAIN_ID, 20);
        l1.deposit(INBOX, 0, 2);
        l1.forced(INBOX, 0, 10, 1);
        l1
    };
    let clean = scenario();
    let feed = Arc::new(DepositFeed::new(0));
    let mut f =
        L1Follower::with_source(config(2), clean.clone(), feed.clone(), None).reading_batches();
    f.poll().await.expect("a clean round");
    assert!(feed.batch(0).is_some() && feed.deposits_from(0).len() == 1);
    // The same round with its last L1 call (the confirmed head's header) failing.
    let flaky = scenario();
    flaky.fail_calls([clean.calls().len() - 1]);
    let feed = Arc::new(DepositFeed::new(0));
    let mut f =
        L1Follower::with_source(config(2), flaky.clone(), feed.clone(), None).reading_batches();
    assert!(f.poll().await.is_err(), "the round fails");
    assert!(feed.batch(0).is_none(), "no batch published");
    assert!(feed.deposits_from(0).is_empty());
    assert!(feed.forced_batches(0).is_empty());
    f.poll().await.expect("the retry");
    assert!(feed.batch(0).is_some() && feed.deposits_from(0).len() == 1);
}
