//! Withdrawals end to end on a real anvil L1: the sequencer batches its blocks and proposes
//! output roots; the `bridge` library withdraws ETH and an ERC20 on L2, proves them on L1 with
//! the node's `eth_getProof` and finalizes them after the challenge window (skipped with
//! `evm_increaseTime`). L1 rejects finalizing early, finalizing twice, a forged proof, an
//! altered withdrawal, proving twice and a proof against an invalidated output, each with its
//! error. A replica derived from L1 has the same chain.
//!
//! The withdrawal round-trip time is printed (run with `--nocapture`).

mod support;

use std::time::{Duration, Instant};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol,
};
use alloy_sol_types::SolValue;
use bridge::{
    client::Bridge,
    deploy::{DeployConfig, DEVNET_DEPLOYER_INDEX},
    withdraw::{
        portal_withdrawal, IPortalWithdrawals,
        IPortalWithdrawals::IPortalWithdrawalsErrors as PortalError, SentWithdrawal,
        WithdrawalStatus,
    },
    BridgeError, Deployment,
};
use serde_json::Value;
use support::{
    artifact, dev_private_key_hex,
    l1::{deploy_with, l1_flags, L1},
    wallet, ChainOpts, Target, TestChain,
};

sol! {
    #[sol(rpc)]
    interface IToken {
        function balanceOf(address) external view returns (uint256);
    }

    #[sol(rpc)]
    interface IResolver {
        function invalidate(uint256 index) external;
    }
}

const ONE_ETH: u128 = 1_000_000_000_000_000_000;
const CHALLENGE_WINDOW: u64 = 10;

/// The Portal error an `eth_call` of `call` reverts with.
async fn portal_revert<T>(result: Result<T, alloy::contract::Error>) -> PortalError {
    let Err(err) = result else {
        panic!("L1 must reject this call")
    };
    err.as_decoded_interface_error::<PortalError>()
        .unwrap_or_else(|| panic!("not a Portal error: {err}"))
}

async fn wait_provable(bridge: &Bridge, sent: &SentWithdrawal) -> u64 {
    match bridge
        .wait_withdrawal(
            sent,
            Duration::from_secs(30),
            |s| matches!(s, WithdrawalStatus::Provable { .. }),
            |_| {},
        )
        .await
        .expect("an output covers the withdrawal")
    {
        WithdrawalStatus::Provable { output_index } => output_index,
        other => panic!("{other:?}"),
    }
}

fn l1_signer(l1: &L1, i: u32) -> DynProvider {
    ProviderBuilder::new()
        .wallet(wallet(i))
        .connect_http(l1.url.parse().expect("url"))
        .erased()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_and_erc20_withdrawals_round_trip_and_l1_rejects_bad_ones() {
    let l1 = L1::start().await;
    let config = DeployConfig {
        challenge_window: CHALLENGE_WINDOW,
        ..DeployConfig::devnet().expect("devnet")
    };
    let deployment: Deployment = deploy_with(&l1, &config).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let flags = l1_flags(dir.path(), &l1, &deployment, 0);
    let mut args = flags.clone();
    for a in [
        "--batcher.key",
        &dev_private_key_hex(1),
        "--batcher.max-age",
        "300ms",
        "--proposer.key",
        &dev_private_key_hex(2),
        "--proposer.interval",
        "10",
    ] {
        args.push(a.to_string());
    }
    let seq = TestChain::start_target(
        Target::Node,
        ChainOpts {
            block_time: Some("100ms".into()),
            extra_args: args,
            anvil_automine: false,
        },
    )
    .await;
    let bridge = |i: u32| {
        let (d, l1u, l2u) = (deployment.clone(), l1.url.clone(), seq.http_url());
        async move {
            Bridge::connect(d, &l1u, &l2u, Some(wallet(i)))
                .await
                .expect("bridge")
        }
    };

    // An L1 token, deposited to L2 (dev #5).
    let (_, code) = artifact("contracts/out/TestToken.json");
    let mut init = code.to_vec();
    init.extend(("Gold", "GLD", U256::from(1_000_000u64)).abi_encode_params());
    let token = l1_signer(&l1, 5)
        .send_transaction(TransactionRequest::default().with_deploy_code(init))
        .await
        .expect("deploy token")
        .get_receipt()
        .await
        .expect("receipt")
        .contract_address
        .expect("created");
    let b5 = bridge(5).await;
    let deposit = b5
        .deposit_erc20(token, wallet(5).address(), U256::from(1_000u64), 0)
        .await
        .expect("erc20 deposit");
    b5.wait_for_l2(&deposit, Duration::from_secs(20), |_| {})
        .await
        .expect("deposit on L2");

    // ETH deposited through the Portal (what withdrawals are paid from).
    let b6 = bridge(6).await;
    let eth_deposit = b6
        .deposit_eth(wallet(6).address(), U256::from(3 * ONE_ETH), 100_000)
        .await
        .expect("ETH deposit");
    b6.wait_for_l2(&eth_deposit, Duration::from_secs(20), |_| {})
        .await
        .expect("deposit on L2");

    // Withdraw ETH (dev #6) and tokens (dev #5) to fresh L1 addresses.
    let eth_to = Address::repeat_byte(0xa1);
    let tok_to = Address::repeat_byte(0xa2);
    let started = Instant::now();
    let eth = b6
        .withdraw_eth(eth_to, U256::from(2 * ONE_ETH), 100_000)
        .await
        .expect("withdraw ETH");
    let tok = b5
        .withdraw_erc20(token, tok_to, U256::from(400u64), 0)
        .await
        .expect("withdraw tokens");
    assert_eq!(eth.withdrawal.sender, wallet(6).address());
    assert_eq!(eth.withdrawal.value, U256::from(2 * ONE_ETH));

    // Not provable before an output covers it (the proposer needs the block batched first).
    match b6.prove(&eth).await {
        Err(BridgeError::NotYetProvable { .. }) => {}
        Ok(_) => {} // the proposer was already fast enough: proven
        Err(e) => panic!("unexpected: {e}"),
    }
    let provable_after = if matches!(
        b6.withdrawal_status(&eth).await.expect("status"),
        WithdrawalStatus::Proven { .. }
    ) {
        started.elapsed()
    } else {
        wait_provable(&b6, &eth).await;
        let t = started.elapsed();
        b6.prove(&eth).await.expect("prove ETH withdrawal");
        t
    };
    let out_index = wait_provable(&b5, &tok).await;

    // Forged proofs and an altered withdrawal are rejected by L1.
    let portal = IPortalWithdrawals::new(deployment.portal, l1_signer(&l1, 8));
    let (output, proof) = b5.withdrawal_proof(&tok, out_index).await.expect("proof");
    let mut forged = proof.to_vec();
    let last = forged.len() - 70; // inside the siblings / leaf, not the header
    forged[last] ^= 1;
    let err = portal_revert(
        portal
            .proveWithdrawal(
                portal_withdrawal(&tok.withdrawal),
                U256::from(out_index),
                output.clone(),
                forged.into(),
            )
            .call()
            .await,
    )
    .await;
    assert!(matches!(err, PortalError::InvalidProof(_)), "{err:?}");
    let mut altered = tok.withdrawal.clone();
    altered.value = U256::from(1);
    let err = portal_revert(
        portal
            .proveWithdrawal(
                portal_withdrawal(&altered),
                U256::from(out_index),
                output.clone(),
                proof.clone(),
            )
            .call()
            .await,
    )
    .await;
    assert!(matches!(err, PortalError::InvalidProof(_)), "{err:?}");
    let mut wrong_output = output.clone();
    wrong_output.stateRoot = alloy::primitives::B256::repeat_byte(7);
    let err = portal_revert(
        portal
            .proveWithdrawal(
                portal_withdrawal(&tok.withdrawal),
                U256::from(out_index),
                wrong_output,
                proof.clone(),
            )
            .call()
            .await,
    )
    .await;
    assert!(matches!(err, PortalError::OutputRootMismatch(_)), "{err:?}");

    // The real proof works, once.
    b5.prove(&tok).await.expect("prove token withdrawal");
    assert!(matches!(
        b5.prove(&tok).await,
        Err(BridgeError::AlreadyProven { .. })
    ));
    let err = portal_revert(
        portal
            .proveWithdrawal(
                portal_withdrawal(&tok.withdrawal),
                U256::from(out_index),
                output,
                proof,
            )
            .call()
            .await,
    )
    .await;
    assert!(matches!(err, PortalError::AlreadyProven(_)), "{err:?}");

    // Finalizing before the window: refused by the client and by L1.
    match b6.finalize(&eth).await {
        Err(BridgeError::WindowNotElapsed { seconds_left, .. }) => {
            assert!(seconds_left > 0 && seconds_left <= CHALLENGE_WINDOW)
        }
        other => panic!("expected WindowNotElapsed, got {other:?}"),
    }
    let err = portal_revert(
        portal
            .finalizeWithdrawal(portal_withdrawal(&eth.withdrawal))
            .call()
            .await,
    )
    .await;
    assert!(matches!(err, PortalError::OutputNotFinalized(_)), "{err:?}");
    // A mined early finalization reverts too.
    let early = portal
        .finalizeWithdrawal(portal_withdrawal(&eth.withdrawal))
        .gas(300_000)
        .send()
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(!early.status());

    // After the window: both finalize; L1 balances are right.
    l1.increase_time(CHALLENGE_WINDOW + 1).await;
    let eth_before = l1.provider.get_balance(eth_to).await.expect("balance");
    let (_, ok) = b6.finalize(&eth).await.expect("finalize ETH");
    assert!(ok);
    let round_trip = started.elapsed();
    assert_eq!(
        l1.provider.get_balance(eth_to).await.expect("balance") - eth_before,
        U256::from(2 * ONE_ETH)
    );
    let (_, ok) = b5.finalize(&tok).await.expect("finalize tokens");
    assert!(ok);
    let l1_token = IToken::new(token, &l1.provider);
    assert_eq!(
        l1_token.balanceOf(tok_to).call().await.expect("balance"),
        U256::from(400u64)
    );
    // Twice: refused by the client and by L1.
    assert!(matches!(
        b6.finalize(&eth).await,
        Err(BridgeError::AlreadyFinalized(_))
    ));
    let err = portal_revert(
        portal
            .finalizeWithdrawal(portal_withdrawal(&eth.withdrawal))
            .call()
            .await,
    )
    .await;
    assert!(matches!(err, PortalError::AlreadyFinalized(_)), "{err:?}");
    assert_eq!(
        b6.withdrawal_status(&eth).await.expect("status"),
        WithdrawalStatus::Finalized
    );

    // A proof against an invalidated output is rejected.
    let third = b6
        .withdraw_eth(eth_to, U256::from(1u64), 100_000)
        .await
        .expect("withdraw");
    let index = wait_provable(&b6, &third).await;
    let (output, proof) = b6.withdrawal_proof(&third, index).await.expect("proof");
    let resolver = IResolver::new(
        deployment.output_registry,
        l1_signer(&l1, DEVNET_DEPLOYER_INDEX),
    );
    assert!(resolver
        .invalidate(U256::from(index))
        .send()
        .await
        .expect("invalidate")
        .get_receipt()
        .await
        .expect("receipt")
        .status());
    let err = portal_revert(
        portal
            .proveWithdrawal(
                portal_withdrawal(&third.withdrawal),
                U256::from(index),
                output,
                proof,
            )
            .call()
            .await,
    )
    .await;
    assert!(matches!(err, PortalError::OutputInvalidated(_)), "{err:?}");

    println!(
        "withdrawal round trip: provable (batched + proposed) {:.1} s after the L2 transaction; \
         finalized {:.1} s after it with the {CHALLENGE_WINDOW} s challenge window skipped by \
         evm_increaseTime. On devnet settings (60 s window) the round trip is ~{:.0} s.",
        provable_after.as_secs_f64(),
        round_trip.as_secs_f64(),
        provable_after.as_secs_f64() + 60.0
    );

    // A replica derived from L1 has the same chain, withdrawals included.
    let head = seq.provider().get_block_number().await.expect("head");
    let mut rargs = flags.clone();
    rargs.push("--replica".into());
    let replica = TestChain::start_target(
        Target::Node,
        ChainOpts {
            block_time: None,
            extra_args: rargs,
            anvil_automine: false,
        },
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while replica.provider().get_block_number().await.unwrap_or(0) < head {
        if Instant::now() > deadline {
            replica.fail(&format!("replica did not reach {head}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for n in [third.l2_block, eth.l2_block, tok.l2_block, head] {
        let a: Value = seq
            .provider()
            .raw_request("eth_getBlockByNumber".into(), (format!("{n:#x}"), false))
            .await
            .expect("block");
        let b: Value = replica
            .provider()
            .raw_request("eth_getBlockByNumber".into(), (format!("{n:#x}"), false))
            .await
            .expect("block");
        assert_eq!(a["hash"], b["hash"], "block {n}");
        assert_eq!(a["stateRoot"], b["stateRoot"], "block {n}");
    }
}
