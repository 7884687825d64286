//! anvil, the pinned L1 devnet node: the command line every launcher starts from, and
//! [`Anvil`], a fresh auto-mining anvil on a free port, killed on drop.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::{
    primitives::U256,
    providers::{DynProvider, Provider, ProviderBuilder},
};
use serde_json::Value;

use crate::{
    paths::npm_bin,
    rpc::{free_port, wait_for_chain_id},
};

/// How long [`Anvil::start`] waits for anvil to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// `<bin> --host 127.0.0.1 --port <port>`: anvil serving HTTP and WebSocket on that port, the
/// dev mnemonic's accounts funded, chain id 31337. Callers add their own flags.
pub fn command(bin: &Path, port: u16) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
    cmd
}

/// A fresh anvil (auto-mining: one block per transaction, output discarded) on 127.0.0.1,
/// killed on drop.
pub struct Anvil {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// A provider without signer.
    pub provider: DynProvider,
}

impl Anvil {
    /// Starts anvil on a free port.
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts anvil on `port` and waits until it answers.
    pub async fn start_on(port: u16) -> Self {
        let mut child = command(&npm_bin("anvil"), port)
            .arg("--silent")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn anvil");
        let url = format!("http://127.0.0.1:{port}");
        if let Err(e) = wait_for_chain_id(&url, Some(&mut child), READY_TIMEOUT).await {
            let _ = child.kill();
            let _ = child.wait();
            panic!("anvil on {url}: {e}");
        }
        let provider = ProviderBuilder::new()
            .connect_http(url.parse().expect("url"))
            .erased();
        Self {
            child,
            url,
            provider,
        }
    }

    /// Mines `n` empty blocks.
    pub async fn mine(&self, n: u64) {
        let _: Value = self
            .provider
            .raw_request("anvil_mine".into(), (U256::from(n),))
            .await
            .expect("anvil_mine");
    }

    /// The head block number.
    pub async fn head(&self) -> u64 {
        self.provider.get_block_number().await.expect("anvil head")
    }

    /// Moves time forward by `seconds` and mines a block (`evm_increaseTime`, `evm_mine`).
    pub async fn increase_time(&self, seconds: u64) {
        let _: Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (U256::from(seconds),))
            .await
            .expect("evm_increaseTime");
        let _: Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
