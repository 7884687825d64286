//! The development accounts: the standard test mnemonic's keys, which anvil funds on L1 and the
//! L2 dev genesis (`testdata/genesis.json`, made by `scripts/gen-genesis.sh`) funds on L2.
//!
//! The genesis funds accounts `0..FUNDED_ACCOUNTS` with 10,000 ETH each, as anvil does; the
//! devnet roles (deployer, batcher, proposer) are accounts of this mnemonic too
//! ([`crate::deploy::DEVNET_DEPLOYER_INDEX`] and its neighbours).

use alloy::{
    hex,
    primitives::Address,
    signers::local::{coins_bip39::English, MnemonicBuilder, PrivateKeySigner},
};

/// The standard development mnemonic (anvil's, cast's and ethers' default dev accounts).
pub const MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How many of the mnemonic's accounts (indices `0..FUNDED_ACCOUNTS`) anvil and the L2 dev
/// genesis fund.
pub const FUNDED_ACCOUNTS: u32 = 10;

/// The key of dev account `index` (derivation path `m/44'/60'/0'/0/index`).
///
/// # Panics
///
/// If `index` is 2^31 or more (not a non-hardened BIP-32 index).
pub fn signer(index: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default()
        .phrase(MNEMONIC)
        .index(index)
        .and_then(|b| b.build())
        .unwrap_or_else(|e| panic!("dev account {index}: {e}"))
}

/// The address of dev account `index`.
pub fn address(index: u32) -> Address {
    signer(index).address()
}

/// The private key of dev account `index`, `0x`-prefixed hex (as `--private-key` takes it).
pub fn private_key_hex(index: u32) -> String {
    format!("0x{}", hex::encode(signer(index).to_bytes()))
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    use super::*;

    #[test]
    fn keys_are_anvils_well_known_accounts() {
        assert_eq!(
            address(0),
            address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            private_key_hex(0),
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        );
    }

    #[test]
    fn the_dev_genesis_funds_the_first_accounts() {
        let genesis: serde_json::Value =
            serde_json::from_str(include_str!("../../testdata/genesis.json")).expect("json");
        let alloc = genesis["alloc"].as_object().expect("alloc");
        let funded: Vec<Address> = alloc
            .iter()
            .filter(|(_, account)| account["balance"].is_string())
            .map(|(key, _)| key.parse().expect("alloc key is an address"))
            .collect();
        for i in 0..FUNDED_ACCOUNTS {
            assert!(
                funded.contains(&address(i)),
                "the genesis does not fund dev account {i}"
            );
        }
    }
}
