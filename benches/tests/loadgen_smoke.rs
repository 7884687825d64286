//! Runs the load generator (`benches::loadgen::run`) against a debug `rollup-node` with a tiny
//! load (200 ETH transfers from 50 senders; 100 Uniswap swaps from 25), so the loadgen code is exercised by
//! `cargo test --workspace` and cannot rot. No timing assertions.

use std::{path::PathBuf, process::Command};

use benches::loadgen::{run, Config, LoadWorkload, Target};
use test_support::workspace_root;

/// `<workspace>/target/debug/rollup-node`, built first if missing.
fn debug_node() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("debug/rollup-node");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "rollup-node"])
            .current_dir(workspace_root())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p rollup-node failed");
    }
    assert!(bin.exists(), "{} missing after the build", bin.display());
    bin
}

/// A small quiet load of `workload` on a fresh debug node, in batches of `batch` over two
/// connections.
fn small_load(workload: LoadWorkload, txs: usize, accounts: usize, batch: usize) -> Config {
    let mut config = Config::defaults();
    config.target = Target::Node;
    config.node_bin = Some(debug_node());
    config.workload = workload;
    config.txs = txs;
    config.accounts = accounts;
    config.batch = batch;
    config.connections = 2;
    config.timeout = 60;
    config.quiet = true;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eth_load_is_fully_included() {
    let config = small_load(LoadWorkload::Eth, 200, 50, 30);
    let report = run(&config).await.expect("load run");
    println!("{}", report.render());
    println!("{}", report.render_ceilings(None));
    report.check_counts().expect("counts add up");
    assert_eq!(report.sent, 200);
    assert_eq!(report.rpc_errors, 0, "errors: {:?}", report.errors);
    assert_eq!(report.accepted, 200);
    assert_eq!(report.included, 200, "every transaction was included");
    assert_eq!(report.failed, 0);
    assert!(report.blocks_used >= 1);
    let gas: u64 = report
        .blocks
        .iter()
        .filter(|b| b.ours > 0)
        .map(|b| b.gas_used)
        .sum();
    assert_eq!(
        gas,
        200 * 21_000,
        "only the load's transfers in those blocks"
    );
    assert!(report.store_growth.is_some() && report.peak_rss.is_some());
    let ceilings = report.ceilings.expect("ceilings measured by default");
    assert!(ceilings.recover_tps > 0.0 && ceilings.execute_finish_tps > 0.0);
    assert!(ceilings.blocks >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_load_is_fully_included() {
    let config = small_load(LoadWorkload::Swap, 100, 25, 20);
    let report = run(&config).await.expect("load run");
    println!("{}", report.render());
    println!("{}", report.render_ceilings(None));
    report.check_counts().expect("counts add up");
    assert_eq!(report.rpc_errors, 0, "errors: {:?}", report.errors);
    assert_eq!(report.included, 100, "every swap was included");
    assert_eq!(report.failed, 0, "no swap reverted");
    // The in-memory ceiling replayed the pool setup before the same swaps.
    let ceilings = report.ceilings.expect("ceilings measured by default");
    assert!(ceilings.execute_finish_tps > 0.0);
}
