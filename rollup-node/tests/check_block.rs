//! Any block the node produces can be checked with the fraud-proof step machine: ETH
//! transfers and a token deploy + transfer go through the node, then `rollup_checkBlock` (and the
//! `rollup-node check-block` command) replay each block, prove and verify every step. The method
//! is served only with `--rpc.check-block`.

mod support;

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, U256, U64},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol,
    sol_types::{SolCall, SolValue},
};
use rollup_node::check::CheckReport;
use support::{artifact, wallet, ChainOpts, Target, TestChain};

sol! {
    function transfer(address to, uint256 amount) returns (bool);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_block_with_transactions_passes_the_step_machine_check() {
    let chain = TestChain::start_target(
        Target::Node,
        ChainOpts {
            block_time: Some("200ms".into()),
            extra_args: vec!["--rpc.check-block".into()],
            anvil_automine: false,
        },
    )
    .await;
    let signer = wallet(0);
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(chain.http_url().parse().expect("url"));

    let mut blocks = Vec::new();
    // An ETH transfer.
    let tx = TransactionRequest::default()
        .with_to(Address::repeat_byte(0x77))
        .with_value(U256::from(12345));
    let receipt = provider
        .send_transaction(tx)
        .await
        .expect("send")
        .get_receipt()
        .await
        .expect("receipt");
    blocks.push(receipt.block_number.expect("mined"));
    // Deploy the test token and transfer some of it.
    let (_, bytecode) = artifact("contracts/out/TestToken.json");
    let mut deploy = bytecode.to_vec();
    deploy.extend(
        (
            "Check".to_string(),
            "CHK".to_string(),
            U256::from(10).pow(U256::from(21)),
        )
            .abi_encode_params(),
    );
    let receipt = provider
        .send_transaction(TransactionRequest::default().with_deploy_code(deploy))
        .await
        .expect("deploy")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    blocks.push(receipt.block_number.expect("mined"));
    let token = receipt.contract_address.expect("token address");
    let call = transferCall {
        to: Address::repeat_byte(0x78),
        amount: U256::from(777),
    };
    let receipt = provider
        .send_transaction(
            TransactionRequest::default()
                .with_to(token)
                .with_input(call.abi_encode()),
        )
        .await
        .expect("transfer")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status());
    blocks.push(receipt.block_number.expect("mined"));

    for number in blocks {
        let report: CheckReport = provider
            .raw_request("rollup_checkBlock".into(), (U64::from(number),))
            .await
            .expect("rollup_checkBlock");
        assert!(report.ok, "block {number}: {report:?}");
        assert_eq!(report.number, number);
        assert_eq!(report.checked, report.steps);
        assert!(report.steps > 3, "block {number}: {} steps", report.steps);
        // One transaction per block (a creating one takes several tx-init micro-steps).
        assert!(
            report.kinds.get("TxInit").is_some_and(|n| *n >= 1),
            "{report:?}"
        );
        assert_eq!(report.kinds.get("TxEnd"), Some(&1), "{report:?}");
        assert_eq!(report.kinds.get("BlockEnd"), Some(&1), "{report:?}");
    }

    // The command-line tool against the running node.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollup-node"))
        .args([
            "check-block",
            "--rpc",
            &chain.http_url(),
            "--block",
            "1",
            "--to",
            "2",
        ])
        .output()
        .expect("run check-block");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check-block failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches(": OK").count(), 2, "{stdout}");

    // Unknown blocks and genesis are clear errors.
    let err = provider
        .raw_request::<_, CheckReport>("rollup_checkBlock".into(), (U64::from(0),))
        .await
        .expect_err("genesis has no steps");
    assert!(err.to_string().contains("genesis"), "{err}");
    let err = provider
        .raw_request::<_, CheckReport>("rollup_checkBlock".into(), (U64::from(1_000_000),))
        .await
        .expect_err("unknown block");
    assert!(err.to_string().contains("not in the store"), "{err}");
}

/// Without `--rpc.check-block` the method does not exist: JSON-RPC "method not found".
#[tokio::test(flavor = "multi_thread")]
async fn without_the_flag_check_block_is_not_served() {
    let chain = TestChain::start_target(
        Target::Node,
        ChainOpts {
            block_time: Some("200ms".into()),
            extra_args: vec![],
            anvil_automine: false,
        },
    )
    .await;
    let provider = ProviderBuilder::new().connect_http(chain.http_url().parse().expect("url"));
    let err = provider
        .raw_request::<_, CheckReport>("rollup_checkBlock".into(), (U64::from(0),))
        .await
        .expect_err("not served");
    let code = err.as_error_resp().map(|e| e.code);
    assert_eq!(code, Some(-32601), "{err}");
}
