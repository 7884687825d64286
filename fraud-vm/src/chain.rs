//! The chain's fixed parameters and its genesis.
//!
//! The genesis file is geth-style JSON (parsed with `alloy-genesis`): `config.chainId`,
//! `timestamp`, `gasLimit`, `baseFeePerGas`, `coinbase`, `extraData` and `alloc`.
//! Execution rules are Cancun from block 0; later upgrades are explicit forks.
//!
//! An `alloc` account with storage but neither code nor a nonce is refused: creating a contract
//! at its address must fail on Ethereum (EIP-7610), which neither revm nor the step machine
//! models, and no transaction can leave such an account behind (an account's storage outlives
//! its code only through a genesis). So is code starting with `0xEF`: no contract can have it
//! (EIP-3541), and revm reads `0xEF01…` as an EIP-7702 delegation, which this chain has not.

use alloy_consensus::{Header, EMPTY_OMMER_ROOT_HASH};
use alloy_eips::eip1559::{BaseFeeParams, INITIAL_BASE_FEE};
use alloy_genesis::Genesis;
use alloy_primitives::{keccak256, Address, B256, KECCAK256_EMPTY, U256};
use revm::primitives::hardfork::SpecId;

use crate::execute::BuiltBlock;
use crate::smt::{self, MemoryNodes};
use crate::state::{code_root, AccountLeaf, StateDiff};
use crate::Error;

/// The L2 chain id used by the bundled dev genesis (`testdata/genesis.json`).
pub const DEV_CHAIN_ID: u64 = 42069;

/// The chain's consensus parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// EVM rules.
    pub spec: SpecId,
    /// EIP-1559 base fee dynamics (Ethereum's: elasticity 2, max change 1/8).
    pub base_fee_params: BaseFeeParams,
    /// Receives the priority fees (the base fee is burned, as on Ethereum).
    pub fee_recipient: Address,
}

impl ChainSpec {
    /// The base fee of the block after `parent` ([`next_base_fee`] of its gas and base fee;
    /// 0 after a parent without a base fee).
    pub fn next_base_fee(&self, parent: &Header) -> u64 {
        parent.base_fee_per_gas.map_or(0, |base_fee| {
            next_base_fee(
                self.base_fee_params,
                parent.gas_used,
                parent.gas_limit,
                base_fee,
            )
        })
    }
}

/// EIP-1559's next base fee after a block that used `gas_used` of `gas_limit` at `base_fee`,
/// as alloy's `calc_next_block_base_fee` computes it, except where that is undefined: the rise
/// saturates at `u64::MAX` (alloy adds in `u64`, which overflows once deposits alone, which pay
/// no base fee, have pushed it up block after block), and a gas target of 0 keeps the base
/// fee (alloy divides by it). The derivation program's `BaseFee.sol` mirrors this.
pub fn next_base_fee(params: BaseFeeParams, gas_used: u64, gas_limit: u64, base_fee: u64) -> u64 {
    let target = u128::from(gas_limit) / params.elasticity_multiplier;
    let (used, fee) = (u128::from(gas_used), u128::from(base_fee));
    if target == 0 || used == target {
        return base_fee;
    }
    let denominator = target * params.max_change_denominator;
    if used > target {
        let rise = (fee * (used - target) / denominator).max(1);
        return u64::try_from(fee + rise).unwrap_or(u64::MAX);
    }
    // The fall is at most an eighth of the base fee.
    base_fee - (fee * (target - used) / denominator) as u64
}

/// A parsed genesis: the chain's parameters, the state and the block-0 header.
#[derive(Clone, Debug)]
pub struct ChainGenesis {
    /// The parameters.
    pub spec: ChainSpec,
    /// The initial state as a diff against the empty state.
    pub state: StateDiff,
    /// Block 0 without its state root (filled in once the state is committed).
    pub header: Header,
}

impl ChainGenesis {
    /// Parses a geth-style genesis JSON.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::Genesis(e.to_string()))?;
        // alloy-genesis defaults a missing chain id to 1 (Ethereum mainnet): require it.
        if value.pointer("/config/chainId").is_none() {
            return Err(Error::Genesis("config.chainId must be set".into()));
        }
        let genesis: Genesis =
            serde_json::from_value(value).map_err(|e| Error::Genesis(e.to_string()))?;
        Self::from_genesis(&genesis)
    }

    /// Builds the chain's genesis from a parsed [`Genesis`].
    pub fn from_genesis(genesis: &Genesis) -> Result<Self, Error> {
        let chain_id = genesis.config.chain_id;
        if chain_id == 0 {
            return Err(Error::Genesis("config.chainId must be set".into()));
        }
        let mut state = StateDiff::default();
        for (address, account) in &genesis.alloc {
            let code = account.code.clone().unwrap_or_default();
            let has_storage = account
                .storage
                .iter()
                .flatten()
                .any(|(_, value)| !value.is_zero());
            if has_storage && code.is_empty() && account.nonce.unwrap_or(0) == 0 {
                return Err(Error::Genesis(format!(
                    "account {address} has storage but neither code nor a nonce: a contract \
                     created at its address would collide with that storage (EIP-7610), which \
                     the chain does not model (no transaction can leave such an account)"
                )));
            }
            if code.first() == Some(&0xef) {
                return Err(Error::Genesis(format!(
                    "account {address}'s code starts with 0xEF, which no contract can have \
                     (EIP-3541; 0xEF01 would read as an EIP-7702 delegation)"
                )));
            }
            let (code_hash, root) = if code.is_empty() {
                (KECCAK256_EMPTY, B256::ZERO)
            } else {
                let hash = keccak256(&code);
                state.codes.insert(hash, code.clone());
                (hash, code_root(&code))
            };
            state.accounts.insert(
                *address,
                Some(AccountLeaf {
                    nonce: account.nonce.unwrap_or(0),
                    balance: account.balance,
                    code_hash,
                    code_root: root,
                }),
            );
            for (slot, value) in account.storage.iter().flatten() {
                let value = U256::from_be_bytes(value.0);
                if !value.is_zero() {
                    state
                        .storage
                        .insert((*address, U256::from_be_bytes(slot.0)), value);
                }
            }
        }
        let spec = ChainSpec {
            chain_id,
            spec: SpecId::CANCUN,
            base_fee_params: BaseFeeParams::ethereum(),
            fee_recipient: genesis.coinbase,
        };
        let header = Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: genesis.coinbase,
            state_root: B256::ZERO,
            transactions_root: B256::ZERO,
            receipts_root: B256::ZERO,
            number: 0,
            gas_limit: genesis.gas_limit,
            gas_used: 0,
            timestamp: genesis.timestamp,
            extra_data: genesis.extra_data.clone(),
            mix_hash: genesis.mix_hash,
            nonce: genesis.nonce.into(),
            base_fee_per_gas: Some(
                genesis
                    .base_fee_per_gas
                    .map_or(INITIAL_BASE_FEE, |f| f as u64),
            ),
            withdrawals_root: Some(alloy_consensus::EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            ..Default::default()
        };
        Ok(Self {
            spec,
            state,
            header,
        })
    }
}

impl ChainGenesis {
    /// Commits the genesis state and returns block 0, ready to store.
    pub fn build(&self) -> Result<BuiltBlock, Error> {
        let update = smt::update(
            &MemoryNodes::default(),
            B256::ZERO,
            self.state.tree_changes(),
        )?;
        let mut header = self.header.clone();
        header.state_root = update.root;
        let hash = header.hash_slow();
        Ok(BuiltBlock {
            header,
            hash,
            transactions: Vec::new(),
            senders: Vec::new(),
            receipts: Vec::new(),
            outcomes: Vec::new(),
            diff: self.state.clone(),
            code_roots: self
                .state
                .codes
                .iter()
                .map(|(hash, code)| (*hash, code_root(code)))
                .collect(),
            new_nodes: update.new_nodes,
            stale_nodes: update.stale_nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_fee_saturates_where_alloy_overflows() {
        let params = BaseFeeParams::ethereum();
        let rule = |used, limit, fee| next_base_fee(params, used, limit, fee);
        let alloy = |used, limit, fee| {
            alloy_eips::eip1559::calc_next_block_base_fee(used, limit, fee, params)
        };
        for (used, limit, fee) in [
            (30, 40, 1_000_000),
            (10, 40, 1_000_000),
            (20, 40, 7),
            (40, 40, 1),
        ] {
            assert_eq!(rule(used, limit, fee), alloy(used, limit, fee));
        }
        assert_eq!(rule(40, 40, u64::MAX - 1), u64::MAX);
        assert_eq!(rule(40, 40, u64::MAX), u64::MAX);
        assert_eq!(rule(1, 1, 9), 9, "a gas target of 0 keeps the base fee");
    }

    #[test]
    fn dev_genesis_parses() {
        let json = include_str!("../../testdata/genesis.json");
        let genesis = ChainGenesis::from_json(json).expect("dev genesis");
        assert_eq!(genesis.spec.chain_id, DEV_CHAIN_ID);
        // 10 dev accounts and 3 predeploys (message passer, standard bridge, L1 info).
        assert_eq!(genesis.state.accounts.len(), 13);
        for predeploy in [
            crate::message::L2_TO_L1_MESSAGE_PASSER,
            crate::message::L2_STANDARD_BRIDGE,
            crate::message::L1_INFO,
        ] {
            let leaf = genesis.state.accounts[&predeploy].expect("predeploy present");
            assert_ne!(leaf.code_hash, KECCAK256_EMPTY, "{predeploy} has code");
        }
        assert_eq!(genesis.header.number, 0);
        assert!(genesis.header.base_fee_per_gas.is_some());
    }

    #[test]
    fn storage_without_code_or_nonce_is_refused() {
        let alloc = |account: &str| {
            format!(
                r#"{{"config":{{"chainId":1}},"alloc":{{"0x00000000000000000000000000000000000000aa":{account}}}}}"#
            )
        };
        let storage = r#""storage":{"0x01":"0x01"}"#;
        let refused = ChainGenesis::from_json(&alloc(&format!(r#"{{"balance":"0x1",{storage}}}"#)))
            .expect_err("storage without code or nonce");
        assert!(refused.to_string().contains("EIP-7610"), "{refused}");
        for kept in [
            format!(r#"{{"balance":"0x1","nonce":"0x1",{storage}}}"#),
            format!(r#"{{"balance":"0x1","code":"0x00",{storage}}}"#),
            r#"{"balance":"0x1","storage":{"0x01":"0x00"}}"#.to_string(),
        ] {
            ChainGenesis::from_json(&alloc(&kept)).expect(&kept);
        }
    }

    #[test]
    fn code_starting_with_0xef_is_refused() {
        for code in [
            "0xef",
            "0xef01",
            "0xef0100aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            let json = format!(
                r#"{{"config":{{"chainId":1}},"alloc":{{"0x00000000000000000000000000000000000000aa":{{"balance":"0x1","code":"{code}"}}}}}}"#
            );
            let refused = ChainGenesis::from_json(&json).expect_err(code);
            assert!(refused.to_string().contains("EIP-3541"), "{refused}");
        }
    }

    #[test]
    fn garbage_genesis_is_an_error() {
        assert!(ChainGenesis::from_json("{").is_err());
        assert!(ChainGenesis::from_json(r#"{"config":{},"alloc":{}}"#).is_err());
    }
}
