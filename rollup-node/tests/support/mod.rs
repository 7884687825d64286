//! The workspace's test harness (crate `test-support`) with this crate's `rollup-node` binary:
//! every test starts its own chain through [`TestChain::start`], the binary on a fresh data
//! directory or, with `ROLLUP_TEST_L2=anvil`, the pinned anvil as a reference.

#![allow(unused_imports)] // each test binary uses a different part of the harness

pub use test_support::{
    artifact, dev_address, dev_private_key_hex, npm_bin, run_node_script, wait_for_file, wallet,
    workspace_path, ChainOpts, NodeBin, Target,
};

/// This crate's `rollup-node` executable.
pub struct RollupNode;

impl NodeBin for RollupNode {
    const PATH: &'static str = env!("CARGO_BIN_EXE_rollup-node");
}

/// A chain under test running this crate's `rollup-node` (or anvil).
pub type TestChain = test_support::TestChain<RollupNode>;
