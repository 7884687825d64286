//! Deploying the rollup's L1 contracts to any L1 JSON-RPC endpoint.
//!
//! [`deploy`] sends the four creations of `contracts/README.md`'s deployment order from one
//! account, at consecutive nonces:
//!
//! | nonce | contract | constructor |
//! |---|---|---|
//! | n | `OutputRegistry` | `(proposalBond, challengeWindow, resolver)` |
//! | n + 1 | `Inbox` | `(portal = create(deployer, n + 2), batcher, forceInclusionWindow)` |
//! | n + 2 | `Portal` | `(inbox, registry)` |
//! | n + 3 | `L1StandardBridge` | `(portal)` |
//!
//! The creation code is the committed artifacts' `bytecode` (`contracts/out/*.json`, compiled
//! into this crate), the constructor arguments are ABI-encoded by alloy, and the result is a
//! [`Deployment`], stored as a JSON file ([`write_deployment`] / [`read_deployment`]) that the
//! node (`rollup-node --deployment FILE`) and the `bridge` CLI read.
//!
//! ## Devnet
//!
//! [`DeployConfig::devnet`]: deployer = dev account #9 ([`crate::dev`]) (also the
//! registry's resolver), batcher = account #1, proposer = account #2, force-inclusion window
//! 30 s, challenge window 60 s, proposal bond 0.1 ETH, L2 chain id 42069. On a fresh anvil
//! account #9 has nonce 0, so the addresses are fixed: the L2 genesis
//! (`scripts/gen-genesis.sh`) stores the L1StandardBridge address `create(#9, 3)` =
//! [`DEVNET_L1_STANDARD_BRIDGE`] in the L2 bridge predeploy. Deploying from another account or
//! nonce works the same but needs a genesis naming that bridge.

use std::path::Path;

use alloy::{
    network::TransactionBuilder,
    primitives::{address, Address, Bytes, U256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use alloy_sol_types::SolValue;
use fraud_vm::{chain::DEV_CHAIN_ID, deposit::Deployment};
use tracing::info;

use crate::{dev, BridgeError};

/// Dev account index of the devnet deployer.
pub const DEVNET_DEPLOYER_INDEX: u32 = 9;
/// Dev account index of the devnet batcher.
pub const DEVNET_BATCHER_INDEX: u32 = 1;
/// Dev account index of the devnet proposer.
pub const DEVNET_PROPOSER_INDEX: u32 = 2;
/// The devnet L1StandardBridge: dev account #9's fourth creation (nonce 3). The L2 dev genesis
/// names it as the L2 bridge's `otherBridge`.
pub const DEVNET_L1_STANDARD_BRIDGE: Address = address!("8ce361602B935680E8DeC218b820ff5056BeB7af");

/// What a deployment is configured with (the deployer aside).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployConfig {
    /// The L2 chain id recorded in the deployment (must match the L2 genesis).
    pub l2_chain_id: u64,
    /// The only account allowed to post sequencer batches.
    pub batcher: Address,
    /// The proposer of output roots (recorded; the registry accepts any bonded proposer).
    pub proposer: Address,
    /// The registry's resolver.
    pub resolver: Address,
    /// Seconds after which an unread deposit can be forced in.
    pub force_inclusion_window: u64,
    /// Seconds an output root must stand before it is final.
    pub challenge_window: u64,
    /// Wei bonded per proposal.
    pub proposal_bond: U256,
}

impl DeployConfig {
    /// The devnet configuration (see the module docs).
    pub fn devnet() -> Result<Self, BridgeError> {
        Ok(Self {
            l2_chain_id: DEV_CHAIN_ID,
            batcher: dev::address(DEVNET_BATCHER_INDEX),
            proposer: dev::address(DEVNET_PROPOSER_INDEX),
            resolver: dev::address(DEVNET_DEPLOYER_INDEX),
            force_inclusion_window: 30,
            challenge_window: 60,
            proposal_bond: U256::from(100_000_000_000_000_000u128),
        })
    }
}

/// Creation code of a committed artifact.
fn creation_code(name: &'static str) -> Result<Vec<u8>, BridgeError> {
    let text = match name {
        "OutputRegistry" => include_str!("../../contracts/out/OutputRegistry.json"),
        "Inbox" => include_str!("../../contracts/out/Inbox.json"),
        "Portal" => include_str!("../../contracts/out/Portal.json"),
        "L1StandardBridge" => include_str!("../../contracts/out/L1StandardBridge.json"),
        _ => return Err(BridgeError::Artifact(name, "not compiled in".into())),
    };
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| BridgeError::Artifact(name, e.to_string()))?;
    let hex = json["bytecode"]
        .as_str()
        .ok_or_else(|| BridgeError::Artifact(name, "no `bytecode`".into()))?;
    let code: Bytes = hex
        .parse()
        .map_err(|e| BridgeError::Artifact(name, format!("bytecode: {e}")))?;
    Ok(code.to_vec())
}

/// Deploys the L1 contracts with `deployer` on the L1 at `l1_rpc` (see the module docs) and
/// waits for every creation to be mined.
pub async fn deploy(
    l1_rpc: &str,
    deployer: PrivateKeySigner,
    config: &DeployConfig,
) -> Result<Deployment, BridgeError> {
    let url = l1_rpc
        .parse()
        .map_err(|e| BridgeError::Input(format!("--l1-rpc {l1_rpc}: {e}")))?;
    let from = deployer.address();
    let provider = ProviderBuilder::new().wallet(deployer).connect_http(url);
    let l1 = |what: &str| format!("L1 {l1_rpc} ({what})");
    let l1_chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| BridgeError::rpc(&l1("eth_chainId"), e))?;
    let nonce = provider
        .get_transaction_count(from)
        .pending()
        .await
        .map_err(|e| BridgeError::rpc(&l1("eth_getTransactionCount"), e))?;
    let registry = from.create(nonce);
    let inbox = from.create(nonce + 1);
    let portal = from.create(nonce + 2);
    let l1_standard_bridge = from.create(nonce + 3);
    let creations: [(&'static str, Vec<u8>, Address); 4] = [
        (
            "OutputRegistry",
            (
                config.proposal_bond,
                U256::from(config.challenge_window),
                config.resolver,
            )
                .abi_encode_params(),
            registry,
        ),
        (
            "Inbox",
            (
                portal,
                config.batcher,
                U256::from(config.force_inclusion_window),
            )
                .abi_encode_params(),
            inbox,
        ),
        ("Portal", (inbox, registry).abi_encode_params(), portal),
        (
            "L1StandardBridge",
            (portal,).abi_encode_params(),
            l1_standard_bridge,
        ),
    ];
    let mut pending = Vec::with_capacity(creations.len());
    for (i, (name, args, expected)) in creations.into_iter().enumerate() {
        let mut code = creation_code(name)?;
        code.extend_from_slice(&args);
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_nonce(nonce + i as u64)
            .with_deploy_code(code);
        let sent = provider
            .send_transaction(tx)
            .await
            .map_err(|e| BridgeError::rpc(&l1(&format!("deploy {name}")), e))?;
        pending.push((name, expected, sent));
    }
    let mut deploy_block = None;
    for (name, expected, sent) in pending {
        let receipt = sent
            .get_receipt()
            .await
            .map_err(|e| BridgeError::rpc(&l1(&format!("receipt of {name}")), e))?;
        if !receipt.status() {
            return Err(BridgeError::Reverted {
                hash: receipt.transaction_hash,
                what: format!("deploying {name}"),
            });
        }
        if receipt.contract_address != Some(expected) {
            return Err(BridgeError::Input(format!(
                "{name} landed at {:?}, expected {expected} (was the deployer's nonce used concurrently?)",
                receipt.contract_address
            )));
        }
        if deploy_block.is_none() {
            deploy_block = receipt.block_number;
        }
        info!(contract = name, address = %expected, "deployed");
    }
    Ok(Deployment {
        l1_chain_id,
        l2_chain_id: config.l2_chain_id,
        deploy_block: deploy_block.unwrap_or_default(),
        deployer: from,
        inbox,
        portal,
        output_registry: registry,
        l1_standard_bridge,
        batcher: config.batcher,
        proposer: config.proposer,
        resolver: config.resolver,
        force_inclusion_window: config.force_inclusion_window,
        challenge_window: config.challenge_window,
        proposal_bond: config.proposal_bond,
    })
}

/// Reads a deployment file.
pub fn read_deployment(path: &Path) -> Result<Deployment, BridgeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BridgeError::Input(format!("cannot read {}: {e}", path.display())))?;
    Deployment::from_json(&text).map_err(|e| {
        BridgeError::Input(format!("{} is not a deployment file: {e}", path.display()))
    })
}

/// Writes a deployment file.
pub fn write_deployment(path: &Path, deployment: &Deployment) -> Result<(), BridgeError> {
    std::fs::write(path, deployment.to_json())
        .map_err(|e| BridgeError::Input(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnet_bridge_address_is_deployer_nonce_3() {
        let deployer = dev::address(DEVNET_DEPLOYER_INDEX);
        assert_eq!(
            deployer,
            address!("a0Ee7A142d267C1f36714E4a8F75612F20a79720")
        );
        assert_eq!(deployer.create(3), DEVNET_L1_STANDARD_BRIDGE);
    }

    #[test]
    fn dev_genesis_names_the_devnet_bridge() {
        let genesis: serde_json::Value =
            serde_json::from_str(include_str!("../../testdata/genesis.json")).expect("json");
        let slot0 = genesis["alloc"]["0x4200000000000000000000000000000000000010"]["storage"]
            ["0x0000000000000000000000000000000000000000000000000000000000000000"]
            .as_str()
            .expect("otherBridge slot");
        let value: U256 = slot0.parse().expect("hex");
        assert_eq!(
            Address::from_word(value.to_be_bytes::<32>().into()),
            DEVNET_L1_STANDARD_BRIDGE
        );
    }

    #[test]
    fn artifacts_have_creation_code() {
        for name in ["OutputRegistry", "Inbox", "Portal", "L1StandardBridge"] {
            assert!(creation_code(name).expect("artifact").len() > 100, "{name}");
        }
    }
}
