//! Shared harness for the contract tests: compiled artifacts from `contracts/out` and an
//! in-memory revm (Cancun) to deploy and call them.
#![allow(dead_code)]

use std::path::PathBuf;

use alloy_primitives::{Address, Bytes, Log, TxKind, U256};
use alloy_sol_types::{SolError, SolEvent};
use revm::{
    context::{result::ExecutionResult, TxEnv},
    database::{CacheDB, EmptyDB},
    handler::MainnetContext,
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
    DatabaseRef, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainnetEvm,
};

/// The in-memory EVM type.
pub type Evm = MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>;

/// Path of a committed artifact.
fn artifact_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../contracts/out")
        .join(format!("{name}.json"))
}

fn artifact_field(name: &str, field: &str) -> Bytes {
    let path = artifact_path(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hex_code = json[field].as_str().unwrap();
    Bytes::from(hex::decode(hex_code.trim_start_matches("0x")).unwrap())
}

/// Creation bytecode of contract `name`.
pub fn bytecode(name: &str) -> Bytes {
    artifact_field(name, "bytecode")
}

/// Deployed (runtime) bytecode of contract `name`.
pub fn deployed_bytecode(name: &str) -> Bytes {
    artifact_field(name, "deployedBytecode")
}

/// The outcome of one transaction.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub success: bool,
    /// Return data or revert data.
    pub output: Bytes,
    pub logs: Vec<Log>,
    pub gas_used: u64,
    pub created: Option<Address>,
    pub halted: bool,
}

impl Outcome {
    /// Panics unless the transaction succeeded.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.success, "transaction failed: {self:?}");
        self
    }

    /// Whether the transaction reverted with custom error `E` (any arguments).
    pub fn reverted_with<E: SolError>(&self) -> bool {
        !self.success && self.output.len() >= 4 && self.output[..4] == E::SELECTOR
    }

    /// Panics unless the transaction reverted with custom error `E`.
    #[track_caller]
    pub fn expect_revert<E: SolError>(&self) {
        assert!(
            self.reverted_with::<E>(),
            "expected revert {}, got success={} output={} halted={}",
            E::SIGNATURE,
            self.success,
            self.output,
            self.halted
        );
    }

    /// All logs decoding as event `E`, with their emitter.
    pub fn events<E: SolEvent>(&self) -> Vec<(Address, E)> {
        self.logs
            .iter()
            .filter(|l| l.topics().first() == Some(&E::SIGNATURE_HASH))
            .map(|l| (l.address, E::decode_log_data(&l.data).unwrap()))
            .collect()
    }

    /// The single event `E` of the transaction.
    #[track_caller]
    pub fn event<E: SolEvent>(&self) -> E {
        let mut all = self.events::<E>();
        assert_eq!(all.len(), 1, "expected exactly one {} event", E::SIGNATURE);
        all.pop().unwrap().1
    }
}

/// An in-memory chain.
pub struct Chain {
    pub evm: Evm,
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    pub fn new() -> Self {
        let evm = MainnetContext::new(CacheDB::new(EmptyDB::default()), SpecId::CANCUN)
            .modify_cfg_chained(|cfg| {
                cfg.chain_id = 31337;
                cfg.disable_nonce_check = true;
                cfg.disable_base_fee = true;
            })
            .modify_block_chained(|block| {
                block.number = U256::from(100);
                block.timestamp = U256::from(1_700_000_000u64);
                block.gas_limit = 1_000_000_000;
            })
            .build_mainnet();
        Self { evm }
    }

    fn db(&mut self) -> &mut CacheDB<EmptyDB> {
        &mut self.evm.ctx.journaled_state.database
    }

    /// Sets the block timestamp of the following transactions.
    pub fn set_timestamp(&mut self, timestamp: u64) {
        self.evm.ctx.block.timestamp = U256::from(timestamp);
    }

    pub fn timestamp(&self) -> u64 {
        self.evm.ctx.block.timestamp.to::<u64>()
    }

    /// Advances the block timestamp by `seconds` and the block number by one.
    pub fn advance(&mut self, seconds: u64) {
        let t = self.timestamp() + seconds;
        self.set_timestamp(t);
        self.evm.ctx.block.number += U256::from(1);
    }

    pub fn block_number(&self) -> u64 {
        self.evm.ctx.block.number.to::<u64>()
    }

    /// The current block's number, timestamp and parent hash (as `blockhash(number - 1)`
    /// returns it), the fields a contract can read about its own block.
    pub fn header(&self) -> alloy::consensus::Header {
        let number = self.block_number();
        let parent_hash = self
            .evm
            .ctx
            .journaled_state
            .database
            .block_hash_ref(number - 1)
            .expect("in-memory block hash");
        alloy::consensus::Header {
            number,
            timestamp: self.timestamp(),
            parent_hash,
            ..Default::default()
        }
    }

    /// Gives `address` a balance of `amount` wei.
    pub fn fund(&mut self, address: Address, amount: U256) {
        let mut info = self.account(address);
        info.balance = amount;
        self.db().insert_account_info(address, info);
    }

    fn account(&self, address: Address) -> AccountInfo {
        self.evm
            .ctx
            .journaled_state
            .database
            .basic_ref(address)
            .unwrap()
            .unwrap_or_default()
    }

    pub fn balance(&self, address: Address) -> U256 {
        self.account(address).balance
    }

    pub fn code_len(&self, address: Address) -> usize {
        let info = self.account(address);
        match info.code {
            Some(code) => code.original_bytes().len(),
            None => self
                .evm
                .ctx
                .journaled_state
                .database
                .code_by_hash_ref(info.code_hash)
                .map(|c| c.original_bytes().len())
                .unwrap_or(0),
        }
    }

    /// Places runtime `code` at `address` (as a genesis would).
    pub fn set_code(&mut self, address: Address, code: Bytes) {
        let mut info = self.account(address);
        let bytecode = Bytecode::new_raw(code);
        info.code_hash = bytecode.hash_slow();
        info.code = Some(bytecode);
        self.db().insert_account_info(address, info);
    }

    pub fn set_storage(&mut self, address: Address, slot: U256, value: U256) {
        self.db()
            .insert_account_storage(address, slot, value)
            .unwrap();
    }

    pub fn storage(&self, address: Address, slot: U256) -> U256 {
        self.evm
            .ctx
            .journaled_state
            .database
            .storage_ref(address, slot)
            .unwrap()
    }

    fn tx(&self, from: Address, kind: TxKind, value: U256, data: Bytes) -> TxEnv {
        TxEnv {
            caller: from,
            gas_limit: 30_000_000,
            gas_price: 0,
            kind,
            value,
            data,
            chain_id: Some(31337),
            ..Default::default()
        }
    }

    fn outcome(result: ExecutionResult) -> Outcome {
        let gas_used = result.tx_gas_used();
        let created = result.created_address();
        match result {
            ExecutionResult::Success { output, logs, .. } => Outcome {
                success: true,
                output: output.data().clone(),
                logs,
                gas_used,
                created,
                halted: false,
            },
            ExecutionResult::Revert { output, .. } => Outcome {
                success: false,
                output,
                logs: Vec::new(),
                gas_used,
                created: None,
                halted: false,
            },
            ExecutionResult::Halt { .. } => Outcome {
                success: false,
                output: Bytes::new(),
                logs: Vec::new(),
                gas_used,
                created: None,
                halted: true,
            },
        }
    }

    /// Executes and commits a call.
    pub fn call(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
        data: impl Into<Bytes>,
    ) -> Outcome {
        let tx = self.tx(from, TxKind::Call(to), value, data.into());
        let result = self.evm.transact_commit(tx).expect("valid transaction");
        Self::outcome(result)
    }

    /// Executes a call without committing it (a view call).
    pub fn view(&mut self, to: Address, data: impl Into<Bytes>) -> Outcome {
        let tx = self.tx(
            Address::with_last_byte(0xee),
            TxKind::Call(to),
            U256::ZERO,
            data.into(),
        );
        let result = self.evm.transact(tx).expect("valid transaction").result;
        Self::outcome(result)
    }

    /// Deploys contract `name` with ABI-encoded constructor arguments `args`.
    #[track_caller]
    pub fn deploy(&mut self, from: Address, name: &str, args: &[u8]) -> Address {
        self.deploy_with_value(from, name, args, U256::ZERO)
    }

    #[track_caller]
    pub fn deploy_with_value(
        &mut self,
        from: Address,
        name: &str,
        args: &[u8],
        value: U256,
    ) -> Address {
        let outcome = self.try_deploy_with_value(from, name, args, value);
        assert!(outcome.success, "deploying {name} failed: {outcome:?}");
        outcome.created.unwrap()
    }

    /// Deploys contract `name` (as [`Chain::deploy`]), returning the outcome, failed or not.
    pub fn try_deploy(&mut self, from: Address, name: &str, args: &[u8]) -> Outcome {
        self.try_deploy_with_value(from, name, args, U256::ZERO)
    }

    fn try_deploy_with_value(
        &mut self,
        from: Address,
        name: &str,
        args: &[u8],
        value: U256,
    ) -> Outcome {
        let mut code = bytecode(name).to_vec();
        code.extend_from_slice(args);
        let tx = self.tx(from, TxKind::Create, value, code.into());
        let result = self.evm.transact_commit(tx).expect("valid transaction");
        Self::outcome(result)
    }

    /// The address the next CREATE from `from` produces.
    pub fn next_create_address(&self, from: Address) -> Address {
        from.create(self.account(from).nonce)
    }

    /// The address the `n`-th CREATE from now (0 = next) produces.
    pub fn nth_create_address(&self, from: Address, n: u64) -> Address {
        from.create(self.account(from).nonce + n)
    }
}
