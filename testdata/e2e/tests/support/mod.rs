//! The workspace's test harness (crate `test-support`) with the `rollup-node` binary built by
//! this crate, and the L1 side of the end-to-end tests ([`l1`]).

#![allow(dead_code, unused_imports)] // each test binary uses a different part of the harness

pub mod l1;

pub use test_support::{
    artifact, dev_private_key_hex, free_port, npm_bin, wallet, ChainOpts, NodeBin, Target,
};

/// The `rollup-node` executable, built by this crate from `rollup-node/src/main.rs`.
pub struct RollupNode;

impl NodeBin for RollupNode {
    const PATH: &'static str = env!("CARGO_BIN_EXE_e2e-rollup-node");
}

/// A chain under test running `rollup-node` (or anvil).
pub type TestChain = test_support::TestChain<RollupNode>;
