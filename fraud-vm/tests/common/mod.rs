//! What the derivation program's tests share (`derivation_program.rs`, `derivation_batch.rs`,
//! `derivation_entry.rs`, `step_machine.rs`): the program's deployed code in revm with an
//! opcode counter, the ABI of `deriveRecord`, a deterministic PRNG and signed user
//! transactions of the three types.

// Each test binary uses its part of this module.
#![allow(dead_code)]

use alloy::signers::{local::PrivateKeySigner, SignerSync};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxLegacy};
use alloy_eips::{
    eip2718::Encodable2718,
    eip2930::{AccessList, AccessListItem},
};
use alloy_primitives::{hex, keccak256, Address, Bytes, Signature, TxKind, B256, U256};
use op_alloy_consensus::OpTxEnvelope;
use revm::{
    context::{
        result::{ExecutionResult, Output},
        TxEnv,
    },
    database::{CacheDB, EmptyDB},
    handler::{MainBuilder, MainnetContext, MainnetEvm},
    inspector::CountInspector,
    primitives::hardfork::SpecId,
    state::{AccountInfo, Bytecode},
    InspectEvm,
};

/// The compiled program (a Foundry-style artifact with `deployedBytecode`).
pub const ARTIFACT: &str = include_str!("../../../contracts/out/Derivation.json");

/// The chain most cases are checked against (the dev genesis' id).
pub const CHAIN_ID: u64 = 42069;

// ---------------------------------------------------------------------------------------------
// The program in revm
// ---------------------------------------------------------------------------------------------

pub const PROGRAM: Address = Address::repeat_byte(0xd0);
pub const CALLER: Address = Address::repeat_byte(0xca);
pub const CALL_GAS: u64 = 1_000_000_000;

/// The test harness's deployed code ([`ARTIFACT`]).
pub fn deployed_code() -> Bytes {
    artifact_code(ARTIFACT)
}

/// The protocol's derivation program (`contracts/src/derivation/DerivationProgram.sol`): the
/// code the step machine runs from a claim's open state.
pub const ENTRY_ARTIFACT: &str = include_str!("../../../contracts/out/DerivationProgram.json");

/// The deployed code of the artifact `artifact` (a Foundry-style JSON).
pub fn artifact_code(artifact: &str) -> Bytes {
    let artifact: serde_json::Value = serde_json::from_str(artifact).expect("artifact JSON");
    let code = artifact["deployedBytecode"]
        .as_str()
        .expect("artifact has deployedBytecode");
    hex::decode(code).expect("deployedBytecode is hex").into()
}

/// How a call ended.
#[derive(Debug)]
pub enum Ended {
    Returned,
    Reverted,
    Halted(String),
}

/// One call of the program.
#[derive(Debug)]
pub struct Run {
    pub ended: Ended,
    pub output: Bytes,
    pub gas_used: u64,
    /// Opcodes executed (revm's `CountInspector`; a precompile call is one CALL/STATICCALL).
    pub opcodes: u64,
}

impl Run {
    pub fn describe(&self) -> String {
        match &self.ended {
            Ended::Returned => format!("returned {}", self.output),
            Ended::Reverted => format!("REVERTED with output {}", self.output),
            Ended::Halted(reason) => format!("HALTED ({reason}), output {}", self.output),
        }
    }
}

pub struct Program {
    pub evm: MainnetEvm<MainnetContext<CacheDB<EmptyDB>>, CountInspector>,
}

impl Program {
    pub fn new() -> Self {
        let mut db = CacheDB::<EmptyDB>::default();
        db.insert_account_info(
            PROGRAM,
            AccountInfo::default().with_code(Bytecode::new_raw(deployed_code())),
        );
        let evm = MainnetContext::new(db, SpecId::CANCUN)
            .modify_cfg_chained(|cfg| {
                cfg.disable_nonce_check = true;
                cfg.disable_base_fee = true;
                cfg.disable_balance_check = true;
                cfg.disable_block_gas_limit = true;
            })
            .modify_block_chained(|block| block.gas_limit = 2 * CALL_GAS)
            .build_mainnet_with_inspector(CountInspector::new());
        Self { evm }
    }

    pub fn run(&mut self, data: Vec<u8>) -> Run {
        self.evm.inspector.clear();
        let tx = TxEnv {
            caller: CALLER,
            gas_limit: CALL_GAS,
            gas_price: 0,
            kind: TxKind::Call(PROGRAM),
            data: data.into(),
            ..Default::default()
        };
        let result = self
            .evm
            .inspect_tx(tx)
            .expect("the call is a valid transaction")
            .result;
        let gas_used = result.tx_gas_used();
        let opcodes = self.evm.inspector.total_opcodes();
        let (ended, output) = match result {
            ExecutionResult::Success { output, .. } => (
                Ended::Returned,
                match output {
                    Output::Call(bytes) => bytes,
                    Output::Create(bytes, _) => bytes,
                },
            ),
            ExecutionResult::Revert { output, .. } => (Ended::Reverted, output),
            ExecutionResult::Halt { reason, .. } => {
                (Ended::Halted(format!("{reason:?}")), Bytes::new())
            }
        };
        Run {
            ended,
            output,
            gas_used,
            opcodes,
        }
    }
}

/// Intrinsic gas of a call with calldata `data` (Cancun: no EIP-7623 floor).
pub fn intrinsic_gas(data: &[u8]) -> u64 {
    21_000
        + data
            .iter()
            .map(|b| if *b == 0 { 4 } else { 16 })
            .sum::<u64>()
}

// ---------------------------------------------------------------------------------------------
// Corpus helpers
// ---------------------------------------------------------------------------------------------

/// SplitMix64: a fixed, dependency-free PRNG for a deterministic corpus.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A big-endian integer of exactly `len` significant bytes (0 for `len = 0`).
    pub fn int_bytes(&mut self, len: usize) -> Vec<u8> {
        let mut b = self.bytes(len);
        if let Some(first) = b.first_mut() {
            *first = (*first).max(1);
        }
        b
    }

    /// A value of a random byte length in `0..=max_len` (so 0 and every width appear).
    pub fn int(&mut self, max_len: usize) -> U256 {
        let len = self.below(max_len + 1);
        U256::from_be_slice(&self.int_bytes(len))
    }

    pub fn u64(&mut self) -> u64 {
        self.int(8).to()
    }

    pub fn u128(&mut self) -> u128 {
        self.int(16).to()
    }

    pub fn address(&mut self) -> Address {
        match self.below(10) {
            0 => Address::ZERO,
            1 => {
                // Leading zero bytes (still 20 bytes in RLP).
                let mut a = [0u8; 20];
                a[12..].copy_from_slice(&self.bytes(8));
                Address::from(a)
            }
            _ => Address::from_slice(&self.bytes(20)),
        }
    }

    pub fn word(&mut self) -> B256 {
        match self.below(6) {
            0 => B256::ZERO,
            1 => B256::left_padding_from(&self.bytes(3)),
            _ => B256::from_slice(&self.bytes(32)),
        }
    }

    /// Calldata of 0..=300 bytes, often at a word or RLP-length boundary, with zero and non-zero
    /// bytes.
    pub fn input(&mut self) -> Bytes {
        const LENGTHS: &[usize] = &[
            0, 1, 2, 31, 32, 33, 54, 55, 56, 57, 63, 64, 65, 96, 127, 128, 255, 256, 257, 299, 300,
        ];
        let len = if self.chance(50) {
            *self.pick(LENGTHS)
        } else {
            self.below(301)
        };
        let zero_percent = *self.pick(&[0, 10, 33, 50, 90, 100]);
        let mut data: Vec<u8> = (0..len)
            .map(|_| {
                if self.chance(zero_percent) {
                    0
                } else {
                    (self.next() as u8).max(1)
                }
            })
            .collect();
        if len == 1 && self.chance(50) {
            // A single byte below 0x80 is its own RLP encoding.
            data[0] = self.below(0x80) as u8;
        }
        data.into()
    }

    pub fn access_list(&mut self) -> AccessList {
        let entries = self.below(4);
        AccessList(
            (0..entries)
                .map(|_| AccessListItem {
                    address: self.address(),
                    storage_keys: (0..self.below(4)).map(|_| self.word()).collect(),
                })
                .collect(),
        )
    }

    pub fn kind(&mut self) -> TxKind {
        if self.chance(25) {
            TxKind::Create
        } else {
            TxKind::Call(self.address())
        }
    }
}

pub fn key(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256([i])).expect("valid key")
}

/// An unsigned user transaction of one of the three types.
#[derive(Clone, Debug)]
pub enum Unsigned {
    Legacy(TxLegacy),
    Eip2930(TxEip2930),
    Eip1559(TxEip1559),
}

impl Unsigned {
    pub fn random(rng: &mut Rng, ty: u8, chain_id: u64) -> Self {
        match ty {
            0 => Self::Legacy(TxLegacy {
                chain_id: Some(chain_id),
                nonce: rng.u64(),
                gas_price: rng.u128(),
                gas_limit: rng.u64(),
                to: rng.kind(),
                value: rng.int(32),
                input: rng.input(),
            }),
            1 => Self::Eip2930(TxEip2930 {
                chain_id,
                nonce: rng.u64(),
                gas_price: rng.u128(),
                gas_limit: rng.u64(),
                to: rng.kind(),
                value: rng.int(32),
                access_list: rng.access_list(),
                input: rng.input(),
            }),
            _ => Self::Eip1559(TxEip1559 {
                chain_id,
                nonce: rng.u64(),
                gas_limit: rng.u64(),
                max_fee_per_gas: rng.u128(),
                max_priority_fee_per_gas: rng.u128(),
                to: rng.kind(),
                value: rng.int(32),
                access_list: rng.access_list(),
                input: rng.input(),
            }),
        }
    }

    /// A small transfer (small values, so single-byte RLP integers appear).
    pub fn transfer(ty: u8, chain_id: u64) -> Self {
        let to = TxKind::Call(Address::repeat_byte(0x42));
        match ty {
            0 => Self::Legacy(TxLegacy {
                chain_id: Some(chain_id),
                nonce: 5,
                gas_price: 7,
                gas_limit: 21_000,
                to,
                value: U256::from(1),
                input: Bytes::new(),
            }),
            1 => Self::Eip2930(TxEip2930 {
                chain_id,
                nonce: 5,
                gas_price: 7,
                gas_limit: 21_000,
                to,
                value: U256::from(1),
                access_list: AccessList(vec![AccessListItem {
                    address: Address::repeat_byte(0x43),
                    storage_keys: vec![B256::with_last_byte(1)],
                }]),
                input: Bytes::from_static(&[0x7f]),
            }),
            _ => Self::Eip1559(TxEip1559 {
                chain_id,
                nonce: 5,
                gas_limit: 21_000,
                max_fee_per_gas: 1_000_000_000,
                max_priority_fee_per_gas: 1,
                to,
                value: U256::from(1),
                access_list: AccessList::default(),
                input: Bytes::new(),
            }),
        }
    }

    pub fn signature_hash(&self) -> B256 {
        match self {
            Self::Legacy(tx) => tx.signature_hash(),
            Self::Eip2930(tx) => tx.signature_hash(),
            Self::Eip1559(tx) => tx.signature_hash(),
        }
    }

    pub fn sign(&self, key: &PrivateKeySigner) -> Signature {
        key.sign_hash_sync(&self.signature_hash()).expect("sign")
    }

    /// The EIP-2718 encoding with signature `sig` (any `r`, `s`, parity).
    pub fn encode(&self, sig: Signature) -> Vec<u8> {
        let envelope = match self.clone() {
            Self::Legacy(tx) => OpTxEnvelope::Legacy(tx.into_signed(sig)),
            Self::Eip2930(tx) => OpTxEnvelope::Eip2930(tx.into_signed(sig)),
            Self::Eip1559(tx) => OpTxEnvelope::Eip1559(tx.into_signed(sig)),
        };
        envelope.encoded_2718()
    }

    pub fn signed(&self, key: &PrivateKeySigner) -> Vec<u8> {
        self.encode(self.sign(key))
    }

    pub fn ty(&self) -> u8 {
        match self {
            Self::Legacy(_) => 0,
            Self::Eip2930(_) => 1,
            Self::Eip1559(_) => 2,
        }
    }

    pub fn with_chain_id(&self, chain_id: Option<u64>) -> Self {
        let mut tx = self.clone();
        match &mut tx {
            Self::Legacy(t) => t.chain_id = chain_id,
            Self::Eip2930(t) => t.chain_id = chain_id.unwrap_or_default(),
            Self::Eip1559(t) => t.chain_id = chain_id.unwrap_or_default(),
        }
        tx
    }
}

/// The ABI of `Derivation.deriveRecord` (`BatchRecord.Context` and `BatchRecord.Record`).
pub mod record_abi {
    alloy_sol_types::sol! {
        #[derive(Debug, Default, PartialEq, Eq)]
        struct Context {
            uint64 parentNumber;
            bytes32 parentHash;
            uint64 parentTimestamp;
            uint64 chainId;
            uint64 position;
            bool hasOrigin;
            uint64 originNumber;
            bytes32 originHash;
            uint64 l1BlockNumber;
            uint64 l1Timestamp;
        }

        #[derive(Debug, Default, PartialEq, Eq)]
        struct Record {
            uint8 status;
            uint8 reason;
            uint64 timestamp;
            uint64 gasLimit;
            bytes32 prevrandao;
            bytes32 extraDataHash;
            bool hasOrigin;
            uint64 originNumber;
            bytes32 originHash;
            uint64 delayedRead;
            uint64 txCount;
            bytes32 inputsRoot;
            uint64 nextPosition;
        }

        function deriveRecord(bytes calldata batch, Context calldata ctx) external pure returns (Record memory);
    }
}
