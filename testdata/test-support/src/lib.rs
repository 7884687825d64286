//! What the workspace's tests share, so each exists once:
//!
//! - [`paths`]: the workspace root and the pinned npm tools (`anvil`, `cast`, `solcjs` in
//!   `$ROLLUP_NPM_BIN`, installed by `scripts/install-deps.sh`);
//! - [`rpc`]: free ports on 127.0.0.1 and waiting for a JSON-RPC endpoint to answer;
//! - [`anvil`]: an anvil on a free port, killed on drop (the L1 of the end-to-end tests);
//! - [`chain`]: a chain under test as a child process, the `rollup-node` binary on a temporary
//!   data directory or anvil as the reference ([`TestChain`]);
//! - [`artifact`]: compiled contracts (`{abi, bytecode}` JSON files);
//! - [`node_script`]: the Node.js client scripts of `testdata/clients`;
//! - [`dev`]: the dev accounts (the standard test mnemonic, `bridge::dev`).
//!
//! Every address used is on 127.0.0.1.

pub mod anvil;
pub mod artifact;
pub mod chain;
pub mod node_script;
pub mod paths;
pub mod rpc;

pub use anvil::Anvil;
pub use artifact::artifact;
pub use bridge::dev;
pub use chain::{ChainOpts, NodeBin, Target, TestChain};
pub use node_script::run_node_script;
pub use paths::{npm_bin, npm_bin_dir, wait_for_file, workspace_path, workspace_root};
pub use rpc::free_port;

// The names the tests have always used for the dev accounts.
pub use bridge::dev::{
    address as dev_address, private_key_hex as dev_private_key_hex, signer as wallet,
};
