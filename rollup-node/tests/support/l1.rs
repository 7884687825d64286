//! An anvil L1 and the devnet deployment, for the tests that follow L1.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    primitives::U256,
    providers::{DynProvider, Provider, ProviderBuilder},
};
use bridge::{
    deploy::{self, DeployConfig, DEVNET_DEPLOYER_INDEX},
    Deployment,
};
use serde_json::Value;

use super::{free_port, npm_bin, wallet};

/// A fresh anvil L1 (auto-mining: one block per transaction) on a free port, killed on drop.
pub struct L1 {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// A provider without signer.
    pub provider: DynProvider,
}

impl L1 {
    /// Starts anvil on a free port.
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts anvil on `port`.
    pub async fn start_on(port: u16) -> Self {
        let child = Command::new(npm_bin("anvil"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--silent",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn anvil");
        let url = format!("http://127.0.0.1:{port}");
        let provider = ProviderBuilder::new()
            .connect_http(url.parse().expect("url"))
            .erased();
        let deadline = Instant::now() + Duration::from_secs(20);
        while provider.get_chain_id().await.is_err() {
            assert!(Instant::now() < deadline, "anvil did not start on {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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

    /// The L1 head number.
    pub async fn head(&self) -> u64 {
        self.provider.get_block_number().await.expect("L1 head")
    }
}

impl Drop for L1 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deploys the devnet contracts (`DeployConfig::devnet`).
pub async fn deploy_devnet(l1: &L1) -> Deployment {
    let deployer = wallet(DEVNET_DEPLOYER_INDEX);
    let deployment = deploy::deploy(&l1.url, deployer, &DeployConfig::devnet().expect("devnet"))
        .await
        .expect("deploy the L1 contracts");
    assert_eq!(
        deployment.l1_standard_bridge,
        deploy::DEVNET_L1_STANDARD_BRIDGE,
        "devnet deployer's addresses are deterministic"
    );
    deployment
}

/// Deploys the contracts with the devnet deployer and `config`.
pub async fn deploy_with(l1: &L1, config: &DeployConfig) -> Deployment {
    deploy::deploy(&l1.url, wallet(DEVNET_DEPLOYER_INDEX), config)
        .await
        .expect("deploy the L1 contracts")
}

impl L1 {
    /// Moves L1 time forward by `seconds` and mines a block (`evm_increaseTime`, `evm_mine`).
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

/// Writes `deployment` to `<dir>/deployment.json` and returns the node flags following `l1`
/// with it (`--l1.rpc`, `--deployment`, `--l1.confirmations`, `--l1.poll-interval 50ms`).
pub fn l1_flags(
    dir: &std::path::Path,
    l1: &L1,
    deployment: &Deployment,
    confirmations: u64,
) -> Vec<String> {
    let file = dir.join("deployment.json");
    deploy::write_deployment(&file, deployment).expect("write deployment");
    vec![
        "--l1.rpc".into(),
        l1.url.clone(),
        "--deployment".into(),
        file.display().to_string(),
        "--l1.confirmations".into(),
        confirmations.to_string(),
        "--l1.poll-interval".into(),
        "50ms".into(),
    ]
}
