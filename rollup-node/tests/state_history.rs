//! `--state-history`: a node that keeps only its recent states answers every state query at a
//! kept block (balances, proofs, calls, block checks) exactly as an archive node would, answers
//! a clear "pruned" error at older blocks, and keeps both across a kill -9; with the default
//! history, states older than the ones held in memory come back from disk.

mod support;

use std::time::Duration;

use alloy::{
    eips::BlockId,
    network::TransactionBuilder,
    primitives::{Address, U256, U64},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
};
use rollup_node::check::CheckReport;
use serde_json::{json, Value};
use support::{ChainOpts, Target, TestChain};

/// Blocks of state the node keeps before its head (2 s of 100 ms blocks).
const HISTORY: u64 = 20;

/// The window slides by a block every 100 ms while the checks run: the oldest blocks of the
/// window are left out of the kept-state checks.
const MARGIN: u64 = 5;

/// Receives one transfer per block.
const RECIPIENT: Address = Address::repeat_byte(0x7c);

/// Sends `count` transfers to [`RECIPIENT`], one at a time; returns (block, value) of each.
async fn transfers(chain: &TestChain, p: &DynProvider, count: u64) -> Vec<(u64, u64)> {
    let mut mined = Vec::new();
    for i in 0..count {
        let value = 1_000 + i;
        let receipt = p
            .send_transaction(
                TransactionRequest::default()
                    .with_to(RECIPIENT)
                    .with_value(U256::from(value)),
            )
            .await
            .unwrap_or_else(|e| chain.fail(&format!("transfer refused: {e}")))
            .with_timeout(Some(Duration::from_secs(20)))
            .get_receipt()
            .await
            .unwrap_or_else(|e| chain.fail(&format!("no receipt: {e}")));
        mined.push((receipt.block_number.expect("mined"), value));
    }
    mined
}

/// The recipient's balance after block `number`, from the mined transfers.
fn balance_after(mined: &[(u64, u64)], number: u64) -> U256 {
    U256::from(
        mined
            .iter()
            .filter(|(b, _)| *b <= number)
            .map(|(_, v)| v)
            .sum::<u64>(),
    )
}

/// Every state query at a kept block answers; at a pruned block, the pruned error.
async fn check_states(chain: &TestChain, p: &DynProvider, mined: &[(u64, u64)]) -> u64 {
    let mut head = p.get_block_number().await.expect("head");
    while head < HISTORY + MARGIN + 2 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        head = p.get_block_number().await.expect("head");
    }
    let first = head - HISTORY;
    for number in first + MARGIN..=head {
        let balance = p
            .get_balance(RECIPIENT)
            .block_id(BlockId::number(number))
            .await
            .unwrap_or_else(|e| chain.fail(&format!("balance at kept block {number}: {e}")));
        assert_eq!(balance, balance_after(mined, number), "block {number}");
        p.get_proof(RECIPIENT, vec![])
            .block_id(BlockId::number(number))
            .await
            .unwrap_or_else(|e| chain.fail(&format!("proof at kept block {number}: {e}")));
    }
    // The check replays a block on its parent's state, which must stay kept meanwhile.
    let mined_kept = mined
        .iter()
        .map(|(b, _)| *b)
        .filter(|b| *b > first + MARGIN)
        .max()
        .expect("a transfer in a kept block");
    let report: CheckReport = p
        .raw_request("rollup_checkBlock".into(), (U64::from(mined_kept),))
        .await
        .unwrap_or_else(|e| chain.fail(&format!("check of kept block {mined_kept}: {e}")));
    assert!(report.ok && report.steps > 3, "{report:?}");

    for number in [1, first.saturating_sub(1)] {
        let err = p
            .get_balance(RECIPIENT)
            .block_id(BlockId::number(number))
            .await
            .expect_err("a pruned state");
        assert!(err.to_string().contains("pruned"), "block {number}: {err}");
        let err = p
            .raw_request::<_, Value>(
                "eth_call".into(),
                json!([{"to": RECIPIENT, "data": "0x"}, format!("0x{number:x}")]),
            )
            .await
            .expect_err("a pruned state");
        assert!(err.to_string().contains("pruned"), "block {number}: {err}");
    }
    let err = p
        .raw_request::<_, CheckReport>("rollup_checkBlock".into(), (U64::from(1),))
        .await
        .expect_err("block 1's parent state is pruned");
    assert!(err.to_string().contains("pruned"), "{err}");
    head
}

#[tokio::test(flavor = "multi_thread")]
async fn kept_states_answer_and_pruned_ones_say_so_across_a_kill() {
    let mut chain = TestChain::start_target(
        Target::Node,
        ChainOpts {
            block_time: Some("100ms".into()),
            extra_args: vec![
                "--state-history".into(),
                HISTORY.to_string(),
                "--rpc.check-block".into(),
            ],
            anvil_automine: false,
        },
    )
    .await;
    let p = chain.provider_for(0);
    let mut mined = transfers(&chain, &p, 12).await;
    let head = check_states(&chain, &p, &mined).await;

    chain.kill9();
    chain.respawn().await;
    let p = chain.provider_for(0);
    mined.extend(transfers(&chain, &p, 6).await);
    let after = check_states(&chain, &p, &mined).await;
    assert!(after > head);
}

/// Init code that returns `BALANCE(RECIPIENT)`: an `eth_call` without `to` runs it on the
/// state of the block asked for.
fn balance_probe() -> alloy::primitives::Bytes {
    let mut code = vec![0x73]; // PUSH20 RECIPIENT
    code.extend_from_slice(RECIPIENT.as_slice());
    // BALANCE, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN
    code.extend_from_slice(&[0x31, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3]);
    code.into()
}

/// Every block's state, from block 1 to `head`: the balance, a call reading it, and an
/// account proof that verifies against the block's state root to that balance.
async fn check_every_state(chain: &TestChain, p: &DynProvider, mined: &[(u64, u64)], head: u64) {
    use fraud_vm::{
        smt::Proof,
        state::{account_key, AccountLeaf},
    };
    for number in 1..=head {
        let at = BlockId::number(number);
        let want = balance_after(mined, number);
        let balance = p
            .get_balance(RECIPIENT)
            .block_id(at)
            .await
            .unwrap_or_else(|e| chain.fail(&format!("balance at block {number}: {e}")));
        assert_eq!(balance, want, "balance at block {number}");
        let call = p
            .call(TransactionRequest::default().with_input(balance_probe()))
            .block(at)
            .await
            .unwrap_or_else(|e| chain.fail(&format!("call at block {number}: {e}")));
        assert_eq!(U256::from_be_slice(&call), want, "call at block {number}");
        let proof = p
            .get_proof(RECIPIENT, vec![])
            .block_id(at)
            .await
            .unwrap_or_else(|e| chain.fail(&format!("proof at block {number}: {e}")));
        let root = p
            .get_block_by_number(number.into())
            .await
            .expect("block")
            .expect("block exists")
            .header
            .state_root;
        let proven = Proof::from_nodes(&proof.account_proof)
            .expect("a proof")
            .verify(root, &account_key(&RECIPIENT))
            .expect("the proof verifies against the block's state root");
        let leaf = (!want.is_zero()).then(|| {
            AccountLeaf {
                balance: want,
                ..AccountLeaf::empty()
            }
            .value_hash()
        });
        assert_eq!(proven, leaf, "proof at block {number}");
    }
}

/// With the default state history (far longer than the 32 states held in memory), every
/// older block's state is served from the checkpoints and changesets on disk: balances,
/// calls and proofs at every block agree with what the transfers did, before and after a
/// kill -9 and restart.
#[tokio::test(flavor = "multi_thread")]
async fn older_states_come_back_from_disk_across_a_kill() {
    let mut chain = TestChain::start_target(
        Target::Node,
        ChainOpts {
            block_time: Some("50ms".into()),
            extra_args: Vec::new(),
            anvil_automine: false,
        },
    )
    .await;
    let p = chain.provider_for(0);
    // More blocks than the states in memory plus a checkpoint interval.
    let mut mined = transfers(&chain, &p, 40).await;
    while p.get_block_number().await.expect("head") < 80 {
        mined.extend(transfers(&chain, &p, 5).await);
    }
    let head = p.get_block_number().await.expect("head");
    check_every_state(&chain, &p, &mined, head).await;

    chain.kill9();
    chain.respawn().await;
    let p = chain.provider_for(0);
    mined.extend(transfers(&chain, &p, 3).await);
    let head = p.get_block_number().await.expect("head");
    check_every_state(&chain, &p, &mined, head).await;
}
