//! An anvil L1 and the devnet deployment, for the tests that follow L1.

use bridge::{
    deploy::{self, DeployConfig, DEVNET_DEPLOYER_INDEX},
    Deployment,
};

use super::wallet;

/// A fresh anvil L1 (auto-mining: one block per transaction) on a free port, killed on drop.
pub type L1 = test_support::Anvil;

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
