//! Differential tests of the step machine against revm. Blocks are built by the node's
//! `BlockBuilder`, replayed by `Trace::for_block` (revm with an inspector), and for every step
//! `i`: `verify_step(state_hash(i), prove_step(i)) == state_hash(i + 1)`; the last state must be
//! the node's block (its claim: hash, state root, block-hash window, derivation cursor). Plus tamper tests and random bytecode programs.

use std::collections::{BTreeMap, BTreeSet};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxLegacy},
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use fraud_vm::{
    batch::Cursor,
    chain::ChainGenesis,
    execute::{BlockAttributes, BlockBuilder, BuiltBlock, ExecutableTx},
    memory::MemoryState,
    vm::codec::Words as _,
    vm::{
        self,
        machine::{end_hash, window_root},
        opcodes,
        open::{InboxAccs, L1Inbox, Protocol},
        BlockPart, Claim, Frame, HaltReason, Proof, StepError, StepInfo, StepKind, StepProof,
        Trace, TraceError, TxPart, Witness,
    },
};
use op_alloy_consensus::OpTxEnvelope;
use proptest::prelude::*;

mod common;

const CHAIN_ID: u64 = 42069;
/// The derivation cursor the traced blocks' claims commit (as if block 1 were the first of a
/// two-block batch 0 with L1 origin 5).
const CURSOR: Cursor = Cursor {
    batchIndex: 0,
    position: 211,
    delayedRead: 0,
    hasOrigin: true,
    originNumber: 5,
    originHash: B256::repeat_byte(5),
};
const CONTRACT: Address = Address::repeat_byte(0xc0);
/// The genesis fee recipient.
const COINBASE: Address = Address::new([
    0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,
]);
/// An account with balance only.
const RICH: Address = Address::repeat_byte(0xbb);
/// Another contract: stores 1 in slot 0.
const OTHER: Address = Address::repeat_byte(0xdd);
/// Echoes its input after storing and logging; reverts if the input starts with 0xff, hits
/// INVALID if it starts with 0xfe.
const ECHO: Address = Address::repeat_byte(0xee);
const ECHO_CODE: &str =
    "365f5f376042600555365fa05f3560f81c8060ff14602157 60fe146025573 65ff35b365ffd5bfe";

/// The test ERC20 (OpenZeppelin 5, `contracts/out/TestToken.json`), the caller holding the supply.
const TOKEN: Address = Address::repeat_byte(0x70);
const TOKEN_SUPPLY: &str = "0x00000000000000000000000000000000000000000000d3c21bcecceda1000000";

fn token_code() -> String {
    deployed_code(include_str!("../../contracts/out/TestToken.json"))
}

/// The deployed code of a contract artifact, as `0x`-prefixed hex.
fn deployed_code(artifact: &str) -> String {
    common::artifact_code(artifact).to_string()
}

/// The L1-info deposit of an origin with L1 base fee 7 wei, as a block's first transaction: the
/// block's user transactions then pay an L1 data fee (`fraud_vm::fee`).
fn l1_info(l2_block: u64) -> (OpTxEnvelope, Address) {
    let origin = fraud_vm::deposit::L1BlockInfo {
        number: 5,
        hash: B256::repeat_byte(0x15),
        timestamp: 60,
        basefee: 7,
    };
    let deposit = fraud_vm::deposit::l1_info_deposit(&origin, l2_block);
    let from = deposit.from;
    (OpTxEnvelope::from(deposit), from)
}

/// The storage slot of `holder`'s balance.
fn balance_slot(holder: Address) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(holder.as_slice());
    keccak256(preimage)
}

/// Calldata of `transfer(to, amount)`.
fn erc20_transfer(to: Address, amount: u64) -> Vec<u8> {
    let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
    data.extend_from_slice(&[0u8; 12]);
    data.extend_from_slice(to.as_slice());
    data.extend_from_slice(&U256::from(amount).to_be_bytes::<32>());
    data
}

fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256([7u8])).expect("valid key")
}

/// The transaction sender.
fn caller() -> Address {
    signer().address()
}

/// Genesis: the caller and `RICH` funded, `CONTRACT` running `code` with slots 1 and 2 set,
/// `OTHER` and `ECHO` small contracts.
fn genesis(code: &[u8]) -> (ChainGenesis, BuiltBlock, MemoryState) {
    let json = serde_json::json!({
        "config": { "chainId": CHAIN_ID },
        "gasLimit": "0x1c9c380",
        "baseFeePerGas": "0x3b9aca00",
        "timestamp": "0x0",
        "coinbase": "0x4200000000000000000000000000000000000011",
        "alloc": {
            caller().to_string(): { "balance": "0xd3c21bcecceda1000000" },
            RICH.to_string(): { "balance": "0x1234" },
            CONTRACT.to_string(): {
                "balance": "0x10",
                "code": format!("0x{}", alloy_primitives::hex::encode(code)),
                "storage": {
                    "0x0000000000000000000000000000000000000000000000000000000000000001":
                        "0x0000000000000000000000000000000000000000000000000000000000001111",
                    "0x0000000000000000000000000000000000000000000000000000000000000002":
                        "0x0000000000000000000000000000000000000000000000000000000000002222",
                },
            },
            OTHER.to_string(): { "balance": "0x0", "code": "0x6001600055", "nonce": "0x1" },
            fraud_vm::message::L1_INFO.to_string(): {
                "balance": "0x0",
                "code": deployed_code(include_str!("../../contracts/out/L1Info.json")),
            },
            ECHO.to_string(): { "balance": "0x0", "code": format!("0x{}", ECHO_CODE.replace(' ', "")) },
            TOKEN.to_string(): {
                "balance": "0x0",
                "code": token_code(),
                "storage": {
                    // OpenZeppelin 5 ERC20: _balances at slot 0, _totalSupply at slot 2.
                    balance_slot(caller()).to_string(): TOKEN_SUPPLY,
                    "0x0000000000000000000000000000000000000000000000000000000000000002": TOKEN_SUPPLY,
                },
            },
        },
    });
    let chain = ChainGenesis::from_json(&json.to_string()).expect("genesis");
    let block0 = chain.build().expect("block 0");
    let mut state = MemoryState::new();
    state.apply(&block0);
    (chain, block0, state)
}

/// A signed EIP-1559 transaction from the caller.
fn tx(nonce: u64, to: Address, value: u64, input: &[u8], gas: u64) -> (OpTxEnvelope, Address) {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        input: Bytes::copy_from_slice(input),
        ..Default::default()
    };
    let sig = signer().sign_transaction_sync(&mut tx).expect("sign");
    (OpTxEnvelope::Eip1559(tx.into_signed(sig)), caller())
}

/// A signed contract-creating EIP-1559 transaction from the caller.
fn create_tx(nonce: u64, initcode: &[u8], value: u64, gas: u64) -> (OpTxEnvelope, Address) {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to: TxKind::Create,
        value: U256::from(value),
        input: Bytes::copy_from_slice(initcode),
        ..Default::default()
    };
    let sig = signer().sign_transaction_sync(&mut tx).expect("sign");
    (OpTxEnvelope::Eip1559(tx.into_signed(sig)), caller())
}

/// A signed contract-creating EIP-1559 transaction with an access list (the new address and
/// one of its slots, the token and the caller's balance slot).
fn create_access_tx(nonce: u64, initcode: &[u8], gas: u64) -> (OpTxEnvelope, Address) {
    use alloy::eips::eip2930::{AccessList, AccessListItem};
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to: TxKind::Create,
        input: Bytes::copy_from_slice(initcode),
        access_list: AccessList(vec![
            AccessListItem {
                address: caller().create(nonce),
                storage_keys: vec![B256::ZERO],
            },
            AccessListItem {
                address: TOKEN,
                storage_keys: vec![balance_slot(caller())],
            },
        ]),
        ..Default::default()
    };
    let sig = signer().sign_transaction_sync(&mut tx).expect("sign");
    (OpTxEnvelope::Eip1559(tx.into_signed(sig)), caller())
}

/// `TestToken`'s creation code with `constructor(name, symbol, supply)` arguments.
fn token_initcode(supply: u64) -> Vec<u8> {
    use alloy::sol_types::SolValue;
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../contracts/out/TestToken.json")).expect("artifact");
    let code = artifact["bytecode"].as_str().expect("bytecode");
    let mut initcode = alloy_primitives::hex::decode(code).expect("hex");
    initcode
        .extend(("Step".to_string(), "STP".to_string(), U256::from(supply)).abi_encode_params());
    initcode
}

/// A deposit (type 0x7E) from L1.
fn deposit(
    n: u8,
    from: Address,
    to: TxKind,
    mint: u128,
    value: u64,
    gas: u64,
    input: &[u8],
) -> (OpTxEnvelope, Address) {
    let tx = op_alloy_consensus::TxDeposit {
        source_hash: B256::repeat_byte(n),
        from,
        to,
        mint,
        value: U256::from(value),
        gas_limit: gas,
        is_system_transaction: false,
        input: Bytes::copy_from_slice(input),
    };
    (OpTxEnvelope::from(tx), from)
}

/// A signed EIP-1559 (`eip1559`) or EIP-2930 transaction with an access list.
fn access_tx(nonce: u64, to: Address, eip1559: bool, gas: u64) -> (OpTxEnvelope, Address) {
    use alloy::eips::eip2930::{AccessList, AccessListItem};
    let list = AccessList(vec![
        AccessListItem {
            address: to,
            storage_keys: vec![B256::with_last_byte(1), B256::with_last_byte(9)],
        },
        AccessListItem {
            address: OTHER,
            storage_keys: vec![],
        },
    ]);
    let envelope = if eip1559 {
        let mut t = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 2_000_000_000,
            to: TxKind::Call(to),
            access_list: list,
            ..Default::default()
        };
        let sig = signer().sign_transaction_sync(&mut t).expect("sign");
        OpTxEnvelope::Eip1559(t.into_signed(sig))
    } else {
        let mut t = alloy::consensus::TxEip2930 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: gas,
            gas_price: 3_000_000_000,
            to: TxKind::Call(to),
            access_list: list,
            ..Default::default()
        };
        let sig = signer().sign_transaction_sync(&mut t).expect("sign");
        OpTxEnvelope::Eip2930(t.into_signed(sig))
    };
    (envelope, caller())
}

/// A signed legacy transaction from the caller.
fn legacy(nonce: u64, to: Address, value: u64, gas: u64) -> (OpTxEnvelope, Address) {
    let mut tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_limit: gas,
        gas_price: 3_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(value),
        ..Default::default()
    };
    let sig = signer().sign_transaction_sync(&mut tx).expect("sign");
    (OpTxEnvelope::Legacy(tx.into_signed(sig)), caller())
}

/// Genesis running `code`, and block 1 built from `txs` (every one must be included).
struct Built {
    chain: ChainGenesis,
    block0: BuiltBlock,
    state: MemoryState,
    block1: BuiltBlock,
}

fn build(code: &[u8], txs: Vec<(OpTxEnvelope, Address)>) -> Built {
    let (chain, block0, state) = genesis(code);
    let attrs = BlockAttributes {
        timestamp: 12,
        gas_limit: 30_000_000,
        prevrandao: B256::repeat_byte(0x99),
        extra_data: Bytes::from_static(b"step machine"),
    };
    let mut builder = BlockBuilder::new(&chain.spec, &state, &block0.header, block0.hash, attrs);
    for (tx, sender) in txs {
        builder
            .execute(ExecutableTx { tx, sender })
            .expect("transaction included");
    }
    let block1 = builder.finish().expect("finish");
    Built {
        chain,
        block0,
        state,
        block1,
    }
}

impl Built {
    /// The claim on block 1: its hash and state root, the window of blocks 0 and 1, [`CURSOR`].
    fn claim(&self) -> Claim {
        Claim {
            block_hash: self.block1.hash,
            state_root: self.block1.header.state_root,
            block_hashes_root: window_root([(0, self.block0.hash), (1, self.block1.hash)]),
            cursor: CURSOR.hash(),
        }
    }

    fn trace(&self) -> Trace<'_, MemoryState> {
        Trace::for_block(
            &self.state,
            &self.chain.spec,
            &self.block0.header,
            &self.block1,
            CURSOR.hash(),
        )
        .expect("trace")
    }
}

/// What the traced blocks showed.
#[derive(Default)]
struct Seen {
    steps: usize,
    opcodes: BTreeSet<u8>,
    halts: BTreeSet<HaltReason>,
    exits: usize,
    kinds: BTreeSet<StepKind>,
    proof_bytes: BTreeMap<&'static str, (usize, usize)>,
}

impl Seen {
    /// Steps and the largest proof per step kind (and opcode).
    fn print_proof_sizes(&self) {
        for (name, (count, max)) in &self.proof_bytes {
            eprintln!("  {name:<14} steps {count:>5}  max proof {max:>5} bytes");
        }
    }
}

/// Runs `code` as the target of a call with `calldata` and `gas`, then checks every step.
/// Returns the opcode of every opcode step.
fn check_program(code: &[u8], calldata: &[u8], gas: u64, seen: &mut Seen) -> Vec<u8> {
    check_block(
        &build(code, vec![tx(0, CONTRACT, 1234, calldata, gas)]),
        seen,
    )
}

/// Traces block 1, checks every step and that the last state is the node's block.
fn check_block(built: &Built, seen: &mut Seen) -> Vec<u8> {
    let trace = built.trace();
    assert!(!trace.is_empty());
    let mut ops = Vec::new();
    for i in 0..trace.len() {
        let (proof, info) = trace.prove_step(i).unwrap_or_else(|e| {
            panic!(
                "prove step {i} ({:?}): {e}",
                trace.opcode(i).map(opcodes::name)
            )
        });
        let (post, verified) = vm::verify_step(trace.state_hash(i), &proof)
            .unwrap_or_else(|e| panic!("verify step {i}: {e}"));
        assert_eq!(verified, info);
        assert_eq!(
            post,
            trace.state_hash(i + 1),
            "step {i} ({:?}): verifier post-state differs from revm's\nverifier: {:#?}\nrevm: {:#?}",
            info.kind,
            {
                let step = proof.as_step().expect("a step of a running block");
                let mut m = step.machine();
                let mut c = vm::oracle::Checker::new(step.witnesses.clone());
                vm::step(&mut m, &mut c).ok();
                m
            },
            trace.machine(i + 1),
        );
        seen.steps += 1;
        seen.kinds.insert(info.kind);
        let name = match info.kind {
            StepKind::Opcode(op) => {
                seen.opcodes.insert(op);
                ops.push(op);
                opcodes::name(op)
            }
            StepKind::FrameExit => {
                seen.exits += 1;
                "(frame exit)"
            }
            StepKind::TxInit => "(tx init)",
            StepKind::Deposit => "(code deposit)",
            StepKind::TxEnd => "(tx end)",
            StepKind::Destruct => "(destruct)",
            StepKind::BlockEnd => "(block end)",
            StepKind::Terminal => "(terminal)",
            StepKind::Open => "(open)",
            StepKind::Handoff => "(hand-off)",
        };
        if let Some(h) = info.halt {
            seen.halts.insert(h);
        }
        let bytes = proof.encode();
        assert_eq!(
            Proof::decode(&bytes),
            Ok(proof),
            "step {i}: decode(encode(p)) == p"
        );
        let e = seen.proof_bytes.entry(name).or_default();
        e.0 += 1;
        e.1 = e.1.max(bytes.len());
    }
    // The step bound the game's depth is set from (vm module docs, "Protocol limits").
    let txs = built.block1.transactions.len() as u64;
    let gas = built.block1.header.gas_used;
    assert!(
        trace.len() as u64 <= 2 * gas + 4 * txs + 2,
        "{} steps for {gas} gas and {txs} transactions",
        trace.len()
    );
    // Padding past the end: the terminal state steps to itself.
    for i in [trace.len(), trace.len() + 3] {
        let (proof, info) = trace.prove_step(i).expect("terminal proof");
        assert_eq!(info.kind, StepKind::Terminal);
        assert_eq!(trace.state_hash(i), trace.final_hash());
        let (post, _) = vm::verify_step(trace.final_hash(), &proof).expect("terminal step");
        assert_eq!(post, trace.final_hash());
        assert_eq!(Proof::decode(&proof.encode()), Ok(proof));
    }
    assert_eq!(
        trace.final_hash(),
        end_hash(&built.claim()),
        "the last state is the node's block"
    );
    ops
}

#[derive(Clone)]
struct Asm(Vec<u8>);

impl Asm {
    fn new() -> Self {
        Self(Vec::new())
    }
    fn op(mut self, op: u8) -> Self {
        self.0.push(op);
        self
    }
    fn push(mut self, v: U256) -> Self {
        let n = v.byte_len().max(1);
        self.0.push(0x5f + n as u8);
        self.0.extend_from_slice(&v.to_be_bytes::<32>()[32 - n..]);
        self
    }
    fn pushn(self, v: u64) -> Self {
        self.push(U256::from(v))
    }
    fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
}

/// Programs covering every implemented opcode and halt.
fn corpus() -> Vec<(&'static str, Vec<u8>, Vec<u8>, u64)> {
    let big = U256::MAX - U256::from(12345);
    let neg = |x: u64| U256::from(x).wrapping_neg();
    let mut arith = Asm::new();
    for op in [0x01u8, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0a, 0x0b] {
        for (a, b) in [
            (U256::from(7), U256::from(3)),
            (neg(7), U256::from(2)),
            (big, neg(3)),
            (U256::from(5), U256::ZERO),
            (U256::from(1) << 255, U256::MAX),
            (U256::from(3), U256::from(300)),
        ] {
            arith = arith.push(b).push(a).op(op).op(0x50);
        }
    }
    for op in [0x08u8, 0x09] {
        for n in [U256::ZERO, U256::from(7), big] {
            arith = arith
                .push(n)
                .push(big)
                .push(big - U256::from(1))
                .op(op)
                .op(0x50);
        }
    }
    let mut bitwise = Asm::new();
    for op in 0x10u8..=0x1d {
        let unary = op == 0x15 || op == 0x19;
        for (a, b) in [
            (U256::from(1), U256::from(2)),
            (neg(1), U256::from(2)),
            (U256::from(31), U256::from(0xabcd)),
            (U256::from(4), neg(256)),
            (U256::from(300), neg(1)),
            (U256::ZERO, U256::ZERO),
        ] {
            bitwise = if unary {
                bitwise.push(a).op(op).op(0x50)
            } else {
                bitwise.push(b).push(a).op(op).op(0x50)
            };
        }
    }
    let mut env = Asm::new();
    for op in [
        0x30u8, 0x32, 0x33, 0x34, 0x36, 0x38, 0x3a, 0x3d, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x48,
        0x4a, 0x58, 0x59, 0x5a, 0x5f,
    ] {
        env = env.op(op).op(0x50);
    }
    for off in [0u64, 1, 31, 32, 60, 69, 70, 100, 1 << 40] {
        env = env.pushn(off).op(0x35).op(0x50);
    }
    env = env
        .push(U256::MAX)
        .op(0x35)
        .pushn(0)
        .op(0x49)
        .op(0x50)
        .op(0x50);
    let mut memory = Asm::new()
        .push(big)
        .pushn(0)
        .op(0x52) // MSTORE aligned
        .push(big)
        .pushn(45)
        .op(0x52) // MSTORE unaligned, expands
        .pushn(0xab)
        .pushn(100)
        .op(0x53) // MSTORE8
        .pushn(7)
        .op(0x51) // MLOAD unaligned
        .pushn(1000)
        .op(0x51) // MLOAD expanding
        .op(0x59)
        .op(0x50)
        .op(0x50)
        .op(0x50);
    for n in 1..=17u64 {
        memory = memory.pushn(n * 11);
    }
    for op in 0x80u8..=0x8f {
        memory = memory.op(op).op(0x50);
    }
    for op in 0x90u8..=0x9f {
        memory = memory.op(op);
    }
    // Every PUSH width, some crossing a chunk border.
    for n in 1..=32usize {
        memory = memory.op(0x5f + n as u8).bytes(&vec![n as u8; n]).op(0x50);
    }
    let ret = memory.clone().pushn(40).pushn(3).op(0xf3).0;
    let rev = Asm::new()
        .push(big)
        .pushn(0)
        .op(0x52)
        .pushn(33)
        .pushn(0)
        .op(0xfd)
        .0;
    // A loop: count down from 5 with JUMPI, then JUMP forward over data to a JUMPDEST.
    let looped = Asm::new()
        .pushn(5)
        .op(0x5b) // pc 2: loop head
        .pushn(1)
        .op(0x90)
        .op(0x03) // counter - 1
        .op(0x80)
        .pushn(2)
        .op(0x57) // jumpi back while non-zero
        .op(0x50)
        .pushn(18)
        .op(0x56) // jump to 18
        .bytes(&[0xfe, 0x60, 0x5b]) // data; the 0x5b at 17 is push data
        .op(0x5b) // pc 18
        .pushn(0)
        .pushn(0)
        .op(0x57) // jumpi not taken
        .op(0x00)
        .0;
    let bad_jump_data = Asm::new().pushn(4).op(0x56).op(0x61).op(0x5b).op(0x5b).0; // 4 is push data
    let bad_jump_range = Asm::new().pushn(1000).op(0x56).0;
    let bad_jump_huge = Asm::new().push(U256::MAX).pushn(1).op(0x57).0;
    let bad_jump_not_dest = Asm::new().pushn(3).op(0x56).op(0x00).op(0x01).0;
    let underflow = Asm::new().pushn(1).op(0x01).0;
    let overflow = vec![0x5f; 1025];
    let invalid = Asm::new().pushn(1).op(0xfe).0;
    let undefined = Asm::new().op(0x0c).0;
    let oog_loop = Asm::new().op(0x5b).pushn(0).op(0x56).0;
    let oog_memory = Asm::new().pushn(1).push(U256::from(1) << 40).op(0x52).0;
    let oog_exp = Asm::new().push(U256::MAX).pushn(2).op(0x0a).0;
    let implicit_stop = Asm::new().pushn(1).pushn(2).op(0x01).0;
    // 30 JUMPDESTs then PUSH3 spanning the chunk border, then JUMP to the last JUMPDEST.
    let mut cross = vec![0x5b; 30];
    cross.extend([0x62, 0xaa, 0xbb, 0xcc, 0x50, 0x60, 38, 0x56, 0x5b, 0x00]);
    let calldata: Vec<u8> = (0u8..70).collect();
    let storage = Asm::new()
        .pushn(1)
        .op(0x54) // SLOAD cold
        .op(0x50)
        .pushn(1)
        .op(0x54) // warm
        .op(0x50)
        .pushn(9)
        .op(0x54) // empty slot
        .op(0x50)
        // slot 3: 0 -> 5 -> 0
        .pushn(5)
        .pushn(3)
        .op(0x55)
        .pushn(0)
        .pushn(3)
        .op(0x55)
        // slot 1: 0x1111 -> 0 -> 0x1111
        .pushn(0)
        .pushn(1)
        .op(0x55)
        .pushn(0x1111)
        .pushn(1)
        .op(0x55)
        // slot 2: 0x2222 -> 7 -> 0 -> 9 -> 9
        .pushn(7)
        .pushn(2)
        .op(0x55)
        .pushn(0)
        .pushn(2)
        .op(0x55)
        .pushn(9)
        .pushn(2)
        .op(0x55)
        .pushn(9)
        .pushn(2)
        .op(0x55)
        // slot 4: 0 -> 0
        .pushn(0)
        .pushn(4)
        .op(0x55)
        // transient storage
        .pushn(77)
        .pushn(3)
        .op(0x5d)
        .pushn(3)
        .op(0x5c)
        .op(0x50)
        .pushn(0)
        .pushn(3)
        .op(0x5d)
        .pushn(3)
        .op(0x5c)
        .op(0x50)
        .pushn(2)
        .op(0x54)
        .op(0x00)
        .0;
    let addr = |a: Address| U256::from_be_slice(a.as_slice());
    let accounts = Asm::new()
        .push(addr(caller()))
        .op(0x31) // warm: the origin
        .op(0x50)
        .push(addr(RICH) | (U256::from(1) << 200)) // cold; upper bits ignored
        .op(0x31)
        .op(0x50)
        .push(addr(RICH))
        .op(0x31) // warm now
        .op(0x50)
        .push(addr(Address::repeat_byte(0x77)))
        .op(0x31) // absent
        .op(0x50)
        .push(addr(OTHER))
        .op(0x3b)
        .op(0x50)
        .push(addr(CONTRACT))
        .op(0x3b)
        .op(0x50)
        .push(addr(RICH))
        .op(0x3b)
        .op(0x50)
        .push(addr(OTHER))
        .op(0x3f)
        .op(0x50)
        .push(addr(RICH))
        .op(0x3f)
        .op(0x50)
        .push(addr(Address::repeat_byte(0x78)))
        .op(0x3f)
        .op(0x50)
        .op(0x47)
        .op(0x50)
        .pushn(0)
        .op(0x40) // BLOCKHASH of the parent
        .op(0x50)
        .pushn(1)
        .op(0x40) // the current block: 0
        .op(0x50)
        .push(U256::MAX)
        .op(0x40)
        .op(0x50)
        .op(0x00)
        .0;
    let sstore_sentry = Asm::new().pushn(1).pushn(0).op(0x55).0;
    let sstore_cold_oog = Asm::new().pushn(1).pushn(7).op(0x55).0;
    let mut copies = Asm::new();
    for (dest, src, len) in [
        (0u64, 0u64, 70u64), // three chunks, aligned
        (5, 3, 64),          // unaligned both sides
        (100, 60, 20),       // past the end of call data: zero-filled
        (7, 1 << 40, 40),    // source far past the end
        (200, 0, 0),         // zero size
    ] {
        for op in [0x37u8, 0x39] {
            copies = copies.pushn(len).pushn(src).pushn(dest).op(op);
        }
    }
    // MCOPY: forward and backward overlaps, disjoint, zero size.
    for (dest, src, len) in [(10u64, 40u64, 80u64), (40, 10, 80), (300, 0, 33), (0, 5, 0)] {
        copies = copies.pushn(len).pushn(src).pushn(dest).op(0x5e);
    }
    // RETURNDATACOPY of nothing is fine; of one byte is out of bounds.
    let copies_ok = copies
        .clone()
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .op(0x3e)
        .op(0x59)
        .op(0x00)
        .0;
    let returndata_oob = copies.pushn(1).pushn(0).pushn(0).op(0x3e).0;
    // KECCAK256 over 0, 1, 135, 136, 137 and 300 bytes, at unaligned offsets.
    let mut hashes = Asm::new().pushn(70).pushn(0).pushn(0).op(0x37); // call data to memory
    for (offset, size) in [(0u64, 0u64), (3, 1), (1, 135), (0, 136), (5, 137), (9, 300)] {
        hashes = hashes.pushn(size).pushn(offset).op(0x20).op(0x50);
    }
    let hashes = hashes.pushn(32).push(U256::from(1) << 60).op(0x20).0; // out of gas
                                                                        // LOG0..LOG4 with data of 0, 5, 136 and 200 bytes.
    let mut logs = Asm::new().pushn(70).pushn(0).pushn(0).op(0x37);
    for (n, size) in [(0u8, 0u64), (1, 5), (2, 136), (3, 200), (4, 33)] {
        for t in 0..n {
            logs = logs.pushn(0xaa00 + t as u64);
        }
        logs = logs.pushn(size).pushn(3).op(0xa0 + n);
    }
    let logs = logs.op(0x00).0;
    let echo = addr(ECHO);
    let call = |asm: Asm,
                op: u8,
                gas: U256,
                to: U256,
                value: Option<u64>,
                args: (u64, u64),
                ret: (u64, u64)| {
        let asm = asm.pushn(ret.1).pushn(ret.0).pushn(args.1).pushn(args.0);
        let asm = match value {
            Some(v) => asm.pushn(v),
            None => asm,
        };
        asm.push(to).push(gas).op(op).op(0x50)
    };
    let g = U256::from(100_000);
    let mut calls = Asm::new()
        .push(U256::from_be_slice(&[0xaa; 32]))
        .pushn(0)
        .op(0x52)
        .push(U256::from_be_slice(&[0xbb; 32]))
        .pushn(32)
        .op(0x52);
    calls = call(calls, 0xf1, g, addr(OTHER), Some(0), (0, 0), (0, 0));
    calls = call(calls, 0xf1, g, echo, Some(0), (0, 40), (100, 64)); // output copied back
    calls = calls
        .op(0x3d)
        .op(0x50)
        .pushn(20)
        .pushn(3)
        .pushn(200)
        .op(0x3e);
    calls = calls
        .push(U256::from_be_slice(&[0xff; 32]))
        .pushn(64)
        .op(0x52);
    calls = call(calls, 0xf1, g, echo, Some(0), (64, 33), (300, 10)); // reverts
    calls = calls
        .push(U256::from_be_slice(&[0xfe; 32]))
        .pushn(96)
        .op(0x52);
    calls = call(calls, 0xf1, g, echo, Some(0), (96, 1), (400, 32)); // halts
    calls = call(calls, 0xfa, g, echo, None, (0, 40), (0, 0)); // SSTORE in a static frame
    calls = call(
        calls,
        0xf4,
        U256::from(50_000),
        addr(OTHER),
        None,
        (0, 0),
        (0, 0),
    );
    calls = call(
        calls,
        0xf2,
        U256::from(50_000),
        addr(OTHER),
        Some(1),
        (0, 0),
        (0, 0),
    );
    calls = call(calls, 0xf1, U256::ZERO, addr(RICH), Some(2), (0, 0), (0, 0)); // no code
    calls = call(
        calls,
        0xf1,
        U256::ZERO,
        addr(Address::repeat_byte(0x71)),
        Some(3),
        (0, 0),
        (0, 0),
    );
    calls = call(
        calls,
        0xf1,
        U256::from(1000),
        addr(OTHER),
        Some(1 << 60),
        (0, 0),
        (0, 0),
    ); // cannot pay
    calls = call(calls, 0xf1, U256::MAX, echo, Some(0), (0, 3), (0, 0)); // all but 1/64
    let calls = calls.op(0x3d).op(0x00).0;
    // CREATE and CREATE2: initcode (75 bytes) that deploys 65 bytes of runtime code, a
    // collision, a reverting initcode, an 0xEF deployment, empty initcode, unaffordable value.
    let mut runtime = vec![0x5bu8; 30];
    runtime.push(0x7f);
    runtime.extend([0xab; 32]);
    runtime.extend([0x5b, 0x00]);
    let rlen = runtime.len() as u8;
    let mut init = vec![0x60, rlen, 0x60, 10, 0x5f, 0x39, 0x60, rlen, 0x5f, 0xf3];
    init.extend(&runtime);
    let reverting = [0x60, 0x01, 0x5f, 0xfd];
    let ef = [0x60, 0xef, 0x5f, 0x53, 0x60, 0x01, 0x5f, 0xf3];
    let mut create_data = init.clone();
    create_data.extend(reverting);
    create_data.extend(ef);
    let il = init.len() as u64;
    let creates = Asm::new()
        .op(0x36)
        .pushn(0)
        .pushn(0)
        .op(0x37)
        .pushn(il)
        .pushn(0)
        .pushn(0)
        .op(0xf0) // CREATE
        .op(0x80)
        .op(0x3b) // EXTCODESIZE of the new contract
        .op(0x50)
        .op(0x50)
        .pushn(7)
        .pushn(il)
        .pushn(0)
        .pushn(5)
        .op(0xf5) // CREATE2 with value
        .op(0x50)
        .pushn(4)
        .pushn(il)
        .pushn(0)
        .op(0xf0) // reverts
        .op(0x50)
        .op(0x3d)
        .op(0x50)
        .pushn(8)
        .pushn(il + 4)
        .pushn(0)
        .op(0xf0) // deploys 0xEF: fails
        .op(0x50)
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .op(0xf0) // empty initcode
        .op(0x50)
        .pushn(0)
        .pushn(0)
        .push(U256::from(1) << 100)
        .op(0xf0) // cannot pay
        .op(0x50)
        .pushn(7)
        .pushn(il)
        .pushn(0)
        .pushn(5)
        .op(0xf5) // the same CREATE2 again: collision, burns the forwarded gas
        .op(0x50)
        .op(0x00)
        .0;
    // EXTCODECOPY from a small contract, across ECHO's chunk border, from an absent account,
    // zero bytes; SELFDESTRUCT to an existing account, to a new one, to itself.
    let mut extcopy = Asm::new();
    for (who, dest, src, len) in [
        (addr(OTHER), 0u64, 0u64, 5u64),
        (echo, 40, 20, 40),
        (addr(Address::repeat_byte(0x66)), 100, 0, 33),
        (echo, 0, 0, 0),
        (echo, 200, 30, 70),
    ] {
        extcopy = extcopy.pushn(len).pushn(src).pushn(dest).push(who).op(0x3c);
    }
    let extcopy = extcopy.op(0x59).op(0x00).0;
    let destruct_rich = Asm::new().push(addr(RICH)).op(0xff).0;
    let destruct_new = Asm::new().push(addr(Address::repeat_byte(0x67))).op(0xff).0;
    let destruct_self = Asm::new().op(0x30).op(0xff).0;
    // Every precompile, from call data copied to memory; outputs copied back.
    let (pre_data, pre_calls) = precompile_inputs();
    let mut precompiles = Asm::new().op(0x36).pushn(0).pushn(0).op(0x37);
    let mut out_at = 6000u64;
    for (i, (address, offset, len, gas, value)) in pre_calls.into_iter().enumerate() {
        precompiles = precompiles.pushn(70).pushn(out_at).pushn(len).pushn(offset);
        if let Some(v) = value {
            precompiles = precompiles.pushn(v);
        }
        // Store each call's success flag in slot 100 + i.
        precompiles = precompiles
            .pushn(address)
            .pushn(gas)
            .op(if value.is_some() { 0xf1 } else { 0xfa })
            .pushn(100 + i as u64)
            .op(0x55);
        out_at += 100;
    }
    let precompiles = precompiles.op(0x3d).op(0x00).0;
    vec![
        ("precompiles", precompiles, pre_data, 3_000_000),
        ("extcodecopy", extcopy, vec![], 300_000),
        (
            "initcode above the limit",
            Asm::new().pushn(49_153).pushn(0).pushn(0).op(0xf0).0,
            vec![],
            300_000,
        ),
        ("selfdestruct to an account", destruct_rich, vec![], 100_000),
        (
            "selfdestruct to a new account",
            destruct_new,
            vec![],
            100_000,
        ),
        ("selfdestruct to itself", destruct_self, vec![], 100_000),
        ("creates", creates, create_data, 25_000_000),
        ("calls", calls, vec![], 1_000_000),
        ("logs", logs, calldata.clone(), 300_000),
        ("keccak", hashes, calldata.clone(), 300_000),
        ("copies", copies_ok, calldata.clone(), 300_000),
        (
            "RETURNDATACOPY out of bounds",
            returndata_oob,
            calldata.clone(),
            300_000,
        ),
        ("storage", storage, vec![], 200_000),
        ("accounts", accounts, vec![], 100_000),
        (
            "SSTORE at the 2300 sentry",
            sstore_sentry,
            vec![],
            21_000 + 2306,
        ),
        ("SSTORE out of gas", sstore_cold_oog, vec![], 21_000 + 2400),
        ("arith", arith.op(0x00).0, vec![], 1_000_000),
        ("bitwise", bitwise.op(0x00).0, vec![], 1_000_000),
        ("env", env.op(0x00).0, calldata.clone(), 1_000_000),
        ("memory+stack", ret, vec![], 1_000_000),
        ("revert", rev, vec![], 100_000),
        ("loop", looped, vec![], 100_000),
        ("bad jump into push data", bad_jump_data, vec![], 100_000),
        ("bad jump past code", bad_jump_range, vec![], 100_000),
        ("bad jump huge", bad_jump_huge, vec![], 100_000),
        (
            "bad jump not a jumpdest",
            bad_jump_not_dest,
            vec![],
            100_000,
        ),
        ("stack underflow", underflow, vec![], 100_000),
        ("stack overflow", overflow, vec![], 100_000),
        ("INVALID", invalid, vec![], 100_000),
        ("undefined opcode", undefined, vec![], 100_000),
        ("out of gas in a loop", oog_loop, vec![], 21_500),
        ("out of gas on memory", oog_memory, vec![], 100_000),
        ("out of gas on EXP", oog_exp, vec![], 21_010 + 6),
        ("implicit STOP", implicit_stop, vec![], 100_000),
        ("push across chunks", cross, vec![], 100_000),
        (
            "empty calldata, short program",
            vec![0x36, 0x35, 0x00],
            vec![],
            100_000,
        ),
    ]
}

#[test]
fn precompiles_answer_as_on_l1() {
    let (name, code, data, gas) = corpus()
        .into_iter()
        .find(|c| c.0 == "precompiles")
        .expect("precompile program");
    let built = build(&code, vec![tx(0, CONTRACT, 0, &data, gas)]);
    let flags: Vec<u64> = (0..12u64)
        .map(|i| {
            built
                .block1
                .diff
                .storage
                .get(&(CONTRACT, U256::from(100 + i)))
                .map_or(0, |v| v.to::<u64>())
        })
        .collect();
    // ecrecover, sha256, ripemd160, identity, modexp, bn add, bn mul, pairing, blake2f succeed;
    // the bogus KZG proof and the starved identity call fail; the value call succeeds.
    assert_eq!(flags, [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1], "{name}");
    check_block(&built, &mut Seen::default());
}

#[test]
fn every_step_of_the_corpus_verifies_against_revm() {
    let mut seen = Seen::default();
    for (name, code, calldata, gas) in corpus() {
        let before = seen.steps;
        let ops = check_program(&code, &calldata, gas, &mut seen);
        eprintln!(
            "{name}: {} steps, ends at {}",
            ops.len(),
            opcodes::name(ops[ops.len() - 1])
        );
        assert!(seen.steps > before, "{name}: no steps");
    }
    // Coverage: every defined opcode, and every halt kind.
    let missing: Vec<&str> = opcodes::all()
        .filter(|op| !seen.opcodes.contains(op))
        .map(opcodes::name)
        .collect();
    assert!(missing.is_empty(), "opcodes never exercised: {missing:?}");
    let halts: BTreeSet<HaltReason> = [
        HaltReason::OutOfGas,
        HaltReason::StackUnderflow,
        HaltReason::StackOverflow,
        HaltReason::BadJump,
        HaltReason::InvalidOpcode,
        HaltReason::ReturnDataOutOfBounds,
        HaltReason::StaticViolation,
        HaltReason::InitcodeSizeLimit,
    ]
    .into();
    assert_eq!(seen.halts, halts, "halt kinds exercised");
    assert!(seen.exits >= 10, "frame exits: {}", seen.exits);
    eprintln!(
        "checked {} steps ({} frame exits), {} distinct opcodes; halts {:?}",
        seen.steps,
        seen.exits,
        seen.opcodes.len(),
        seen.halts,
    );
    seen.print_proof_sizes();
}

/// Verifies a tampered `proof` of the step from `pre`: a proof the verifier accepts must yield
/// the honest `post` (a different post-state hash is a forgery). Returns whether it was
/// accepted.
fn accepts(pre: B256, proof: &Proof, post: B256, what: &dyn Fn() -> String) -> bool {
    accepts_on(&NO_L1, pre, proof, post, what)
}

/// [`accepts`] with L1 as `l1` shows it.
fn accepts_on(
    l1: &dyn L1Inbox,
    pre: B256,
    proof: &Proof,
    post: B256,
    what: &dyn Fn() -> String,
) -> bool {
    match verify_on(l1, pre, proof) {
        Ok((h, _)) => {
            assert_eq!(
                h,
                post,
                "FORGERY: {} verified to another post-state",
                what()
            );
            true
        }
        Err(_) => false,
    }
}

/// Decodes tampered bytes and, if they are a proof, checks it as [`accepts`] does.
fn bytes_accepted(
    l1: &dyn L1Inbox,
    pre: B256,
    bytes: &[u8],
    post: B256,
    what: &dyn Fn() -> String,
) -> bool {
    Proof::decode(bytes).is_ok_and(|p| accepts_on(l1, pre, &p, post, what))
}

/// No view of L1's Inbox: it holds nothing (steps that do not read L1 verify as without one).
const NO_L1: InboxAccs = InboxAccs {
    batch: Vec::new(),
    delayed: Vec::new(),
};

/// `verify_step_on` with L1 as `l1` shows it (the protocol only matters to open steps, which
/// [`assert_sound`] does not take).
fn verify_on(l1: &dyn L1Inbox, pre: B256, proof: &Proof) -> Result<(B256, StepInfo), StepError> {
    let protocol = Protocol {
        chain_id: CHAIN_ID,
        coinbase: COINBASE,
        program_len: 0,
        program_chunk_root: B256::ZERO,
        derivation_gas: 0,
    };
    vm::verify_step_on(pre, proof, &protocol, l1)
}

/// Words of the three pre-state parts in a step proof's bytes (after its tag byte).
const PART_WORDS: usize = BlockPart::WORDS + TxPart::WORDS + Frame::WORDS;

/// The attacks a liar can make on one honest proof without changing the agreed pre-state hash:
/// every word of the pre-state parts, every byte of every witness, missing, extra, repeated and
/// reordered witnesses, truncation at every witness boundary. Each must be rejected or yield
/// the honest post-state hash.
fn assert_sound(pre: B256, proof: &Proof, post: B256) {
    assert_sound_on(&NO_L1, pre, proof, post);
}

/// [`assert_sound`] for a step that may read L1, as `l1` shows it.
fn assert_sound_on(l1: &dyn L1Inbox, pre: B256, proof: &Proof, post: B256) {
    assert_eq!(verify_on(l1, pre, proof).expect("honest").0, post);
    let bytes = proof.encode();
    assert_eq!(
        Proof::decode(&bytes).as_ref(),
        Ok(proof),
        "decode(encode(p)) == p"
    );
    assert_eq!(
        verify_on(l1, B256::repeat_byte(1), proof).map(|r| r.0),
        Err(StepError::PreStateMismatch)
    );
    let Proof::Step(step) = proof else {
        // The terminal proof is two words: every change is another pre-state.
        for at in 1..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 1;
            let p = Proof::decode(&b).expect("terminal words");
            assert_eq!(
                verify_on(l1, pre, &p).map(|r| r.0),
                Err(StepError::PreStateMismatch)
            );
        }
        return;
    };
    // Every word of the pre-state parts (low bit: stays canonical, except past an enum's range).
    for w in 0..PART_WORDS {
        let mut b = bytes.clone();
        b[1 + w * 32 + 31] ^= 1;
        if let Ok(p) = Proof::decode(&b) {
            assert_eq!(
                verify_on(l1, pre, &p).map(|r| r.0),
                Err(StepError::PreStateMismatch),
                "pre-state word {w} is not bound by the state hash"
            );
        }
    }
    // Every byte of every witness, two ways.
    let witnesses_at = 1 + PART_WORDS * 32;
    for at in witnesses_at..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[at] ^= flip;
            let what = || format!("byte {at} ^ {flip:#x} of {:?}", kinds(proof));
            bytes_accepted(l1, pre, &b, post, &what);
        }
    }
    // Truncation at and inside every witness.
    let mut boundary = witnesses_at;
    for w in &step.witnesses {
        let one = Proof::Step(Box::new(StepProof {
            witnesses: vec![w.clone()],
            ..(**step).clone()
        }));
        let len = one.encode().len() - witnesses_at;
        for cut in [
            boundary,
            boundary + 1,
            boundary + len / 2,
            boundary + len - 1,
        ] {
            let what = || format!("proof cut at byte {cut}");
            assert!(
                !bytes_accepted(l1, pre, &bytes[..cut], post, &what),
                "{}",
                what()
            );
        }
        boundary += len;
    }
    assert_eq!(boundary, bytes.len());
    // Missing, extra, repeated and reordered witnesses.
    let with = |f: &dyn Fn(&mut Vec<Witness>)| {
        let mut p = (**step).clone();
        f(&mut p.witnesses);
        Proof::Step(Box::new(p))
    };
    let n = step.witnesses.len();
    for w in 0..n {
        let p = with(&|ws| {
            ws.remove(w);
        });
        assert!(!accepts_on(l1, pre, &p, post, &|| format!(
            "witness {w} left out"
        )));
        let p = with(&|ws| ws.insert(w, ws[w].clone()));
        assert!(!accepts_on(l1, pre, &p, post, &|| format!(
            "witness {w} twice"
        )));
        if w + 1 < n && step.witnesses[w] != step.witnesses[w + 1] {
            let p = with(&|ws| ws.swap(w, w + 1));
            accepts_on(l1, pre, &p, post, &|| {
                format!("witnesses {w} and {} swapped", w + 1)
            });
        }
    }
    if n > 0 {
        let p = with(&|ws| {
            ws.pop();
        });
        assert!(matches!(
            verify_on(l1, pre, &p),
            Err(StepError::MissingWitness(_))
        ));
    }
    let p = with(&|ws| {
        ws.push(Witness::Link {
            prev: B256::ZERO,
            item: B256::ZERO,
        })
    });
    assert_eq!(
        verify_on(l1, pre, &p).map(|r| r.0),
        Err(StepError::UnusedWitnesses(1))
    );
}

/// One honest step: its pre-state hash, proof and post-state hash, and a name for messages.
#[derive(Clone)]
struct Sample {
    name: String,
    pre: B256,
    proof: Proof,
    post: B256,
}

/// One proof of every distinct step shape in `built`'s block (step kind, halt and the kinds of
/// witnesses it reads), with the terminal step.
fn samples_of(label: &str, built: &Built, out: &mut Vec<Sample>, shapes: &mut BTreeSet<String>) {
    let trace = built.trace();
    for i in 0..=trace.len() {
        let (proof, info) = trace.prove_step(i).expect("prove");
        let shape = format!("{:?} {:?} {:?}", info.kind, info.halt, kinds(&proof));
        if shapes.insert(shape.clone()) {
            out.push(Sample {
                name: format!("{label} step {i}: {shape}"),
                pre: trace.state_hash(i),
                proof,
                post: trace.state_hash(i + 1),
            });
        }
    }
}

/// A sample of every step shape that the opcode corpus and the transaction-level blocks
/// (transfers, calls, creations, access lists, deposits, self-destructs) reach.
fn all_samples() -> &'static [Sample] {
    static SAMPLES: std::sync::OnceLock<Vec<Sample>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(|| {
        let (mut out, mut shapes) = (Vec::new(), BTreeSet::new());
        for (name, code, calldata, gas) in corpus() {
            let built = build(&code, vec![tx(0, CONTRACT, 1234, &calldata, gas)]);
            samples_of(name, &built, &mut out, &mut shapes);
        }
        let code = Asm::new().pushn(1).pushn(9).op(0x55).op(0x00).0;
        let txs = vec![
            // User transactions after it pay the L1 data fee.
            l1_info(1),
            tx(0, RICH, 1000, &[], 21_000),
            legacy(1, Address::repeat_byte(0x55), 7, 30_000),
            tx(2, ECHO, 9, &[0x01; 40], 100_000),
            tx(3, ECHO, 0, &[0xff, 1], 100_000),
            create_tx(4, &token_initcode(1_000_000), 0, 3_000_000),
            create_tx(5, &destruct_in_initcode(), 0, 200_000),
            access_tx(6, CONTRACT, true, 100_000),
            create_access_tx(7, &token_initcode(5), 3_000_000),
            deposit(
                1,
                Address::repeat_byte(0x1a),
                TxKind::Call(RICH),
                10u128.pow(18),
                4,
                50_000,
                &[],
            ),
        ];
        samples_of("transactions", &build(&code, txs), &mut out, &mut shapes);
        out
    })
}

#[test]
fn every_step_shape_resists_tampering() {
    use rayon::prelude::*;
    let samples = all_samples();
    let kinds: BTreeSet<String> = samples
        .iter()
        .map(|s| {
            format!(
                "{:?}",
                vm::verify_step(s.pre, &s.proof).expect("honest").1.kind
            )
        })
        .collect();
    for kind in [
        "TxInit",
        "TxEnd",
        "FrameExit",
        "Deposit",
        "Destruct",
        "BlockEnd",
        "Terminal",
    ] {
        assert!(kinds.contains(kind), "no {kind} sample: {kinds:?}");
    }
    samples.par_iter().for_each(|s| {
        let result = std::panic::catch_unwind(|| assert_sound(s.pre, &s.proof, s.post));
        if let Err(e) = result {
            panic!("{}: {:?}", s.name, e.downcast_ref::<String>());
        }
    });
    eprintln!(
        "{} step shapes attacked ({} step kinds)",
        samples.len(),
        kinds.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Random byte edits of the encoded proofs of random steps never verify to a post-state
    /// other than the honest one.
    #[test]
    fn random_edits_of_encoded_proofs_never_forge(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
    ) {
        let s = pick.get(all_samples());
        let mut bytes = s.proof.encode();
        for (at, byte, how) in edits {
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] ^= byte | 1,
                1 => bytes[i] = byte,
                2 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
            if bytes.is_empty() {
                break;
            }
        }
        bytes_accepted(&NO_L1, s.pre, &bytes, s.post, &|| format!("random edit of {}", s.name));
    }
}

/// The proof of the `skip`-th step of `kind` in the trace of `built`, with the pre- and
/// post-state hashes.
fn sample(built: &Built, kind: StepKind, skip: usize) -> (B256, Proof, B256) {
    let trace = built.trace();
    let i = (0..trace.len())
        .filter(|i| trace.prove_step(*i).expect("prove").1.kind == kind)
        .nth(skip)
        .expect("step kind runs");
    let (proof, _) = trace.prove_step(i).expect("prove");
    (trace.state_hash(i), proof, trace.state_hash(i + 1))
}

/// Code that calls `OTHER` with 50k gas and no data, then stops.
fn call_other() -> Vec<u8> {
    Asm::new()
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .push(U256::from_be_slice(OTHER.as_slice()))
        .pushn(50_000)
        .op(0xf1)
        .op(0x00)
        .0
}

/// One call to `CONTRACT` running `code`.
fn one_call(code: &[u8]) -> Built {
    build(code, vec![tx(0, CONTRACT, 0, &[], 200_000)])
}

fn kinds(proof: &Proof) -> Vec<&'static str> {
    proof.witnesses().iter().map(Witness::kind).collect()
}

/// The step proof inside `proof`.
fn step_of(proof: &Proof) -> StepProof {
    proof.as_step().expect("a step of a running block").clone()
}

/// A block whose input list holds an input of the derivation run's type (0x7d) has no tx-init
/// step, even on a pre-state that commits to it: derivation builds inputs of types 0, 1, 2
/// and 0x7E only, and such an input would give a transaction the derivation oracle and the
/// hand-off.
#[test]
fn tx_init_refuses_an_input_of_the_derivation_run_s_type() {
    let (_, proof, _) = sample(&one_call(&[0x00]), StepKind::TxInit, 0);
    let mut forged = step_of(&proof);
    let Witness::TxInput { input, path } = &mut forged.witnesses[0] else {
        panic!("tx input witness")
    };
    input.tx_type = vm::open::DERIVATION_TX_TYPE;
    forged.block.inputs_root =
        fraud_vm::merkle::root_from_path(&input.hash(), forged.block.tx_index, path);
    let pre = forged.machine().hash();
    let verified = vm::verify_step(pre, &Proof::Step(Box::new(forged)));
    assert!(
        matches!(&verified, Err(StepError::Unsupported(why)) if why.contains("derivation run's type")),
        "{verified:?}"
    );
}

/// A consistent forgery: `forged` changes a value and recomputes every commitment the liar
/// controls, so every witness checks against the forged pre-state and the step runs to a post
/// state other than `post`. The verifier must refuse it at the pre-state hash.
fn assert_forgery_refused(pre: B256, forged: StepProof, post: B256, what: &str) {
    let mut m = forged.machine();
    let mut checker = vm::oracle::Checker::new(forged.witnesses.clone());
    vm::step(&mut m, &mut checker).unwrap_or_else(|e| panic!("{what}: forgery inconsistent: {e}"));
    checker.finish().expect("every witness used");
    assert_ne!(m.hash(), post, "{what}: not a forgery (same post-state)");
    assert_eq!(
        vm::verify_step(pre, &Proof::Step(Box::new(forged))).map(|r| r.0),
        Err(StepError::PreStateMismatch),
        "{what}"
    );
}

#[test]
fn consistent_forgeries_fail_at_the_pre_state_hash() {
    use fraud_vm::merkle::root_from_path;
    use vm::machine::stack_push_hash;

    // A popped stack word with a matching stack hash (ADD).
    let add = Asm::new().pushn(2).pushn(3).op(0x01).op(0x00).0;
    let (pre, proof, post) = sample(&one_call(&add), StepKind::Opcode(0x01), 0);
    let mut forged = step_of(&proof);
    let Witness::Stack { word, below } = &mut forged.witnesses[1] else {
        panic!("stack witness")
    };
    *word = U256::from(1000);
    forged.frame.stack_hash = stack_push_hash(below, word);
    assert_forgery_refused(pre, forged, post, "stack word");

    // A memory word with a matching memory root (MLOAD).
    let mload = Asm::new()
        .pushn(7)
        .pushn(0)
        .op(0x52)
        .pushn(0)
        .op(0x51)
        .op(0x00)
        .0;
    let (pre, proof, post) = sample(&one_call(&mload), StepKind::Opcode(0x51), 0);
    let mut forged = step_of(&proof);
    let Witness::Memory { word, path } = &mut forged.witnesses[2] else {
        panic!("memory witness: {:?}", kinds(&proof))
    };
    *word = B256::repeat_byte(0x66);
    forged.frame.mem_root = root_from_path(word, 0, path);
    assert_forgery_refused(pre, forged, post, "memory word");

    // Another transaction under a matching inputs root (tx-init).
    let built = one_call(&[0x00]);
    let (pre, proof, post) = sample(&built, StepKind::TxInit, 0);
    let mut forged = step_of(&proof);
    let Witness::TxInput { input, path } = &mut forged.witnesses[0] else {
        panic!("tx input witness")
    };
    input.tx_hash = B256::repeat_byte(0x77);
    forged.block.inputs_root = root_from_path(&input.hash(), forged.block.tx_index, path);
    assert_forgery_refused(pre, forged, post, "tx input");

    // A shorter encoding (a smaller L1 data fee) under a matching inputs root: the inputs root
    // is part of the agreed pre-state, so the verifier refuses it before reading a witness
    // (the fee's state witnesses would also differ).
    let fee_block = build(&call_other(), vec![l1_info(1), tx(0, RICH, 1, &[], 21_000)]);
    let (pre, proof, post) = sample(&fee_block, StepKind::TxInit, 1);
    let mut forged = step_of(&proof);
    let Witness::TxInput { input, path } = &mut forged.witnesses[0] else {
        panic!("tx input witness")
    };
    assert!(input.encoded_len > 0);
    input.encoded_len = 0;
    forged.block.inputs_root = root_from_path(&input.hash(), forged.block.tx_index, path);
    assert_eq!(
        vm::verify_step(pre, &Proof::Step(Box::new(forged))).map(|r| r.0),
        Err(StepError::PreStateMismatch)
    );
    assert_sound(pre, &proof, post);

    // Another sponge state under a matching frame commitment (KECCAK256's second micro-step).
    let keccak = Asm::new().pushn(200).pushn(0).op(0x20).op(0x00).0;
    let (pre, proof, post) = sample(&one_call(&keccak), StepKind::Opcode(0x20), 1);
    let mut forged = step_of(&proof);
    let at = kinds(&proof)
        .iter()
        .position(|k| *k == "sponge")
        .expect("sponge");
    let Witness::Sponge(sponge) = &mut forged.witnesses[at] else {
        unreachable!()
    };
    sponge.0[0] ^= 1;
    forged.frame.sponge = sponge.commitment();
    assert_forgery_refused(pre, forged, post, "sponge");

    // Another caller frame under a matching parent hash (a callee's exit).
    let built = one_call(&call_other());
    let (pre, proof, post) = sample(&built, StepKind::FrameExit, 0);
    let mut forged = step_of(&proof);
    let Witness::Parent { frame, checkpoint } = &mut forged.witnesses[0] else {
        panic!("parent witness")
    };
    frame.gas += 1000;
    forged.frame.parent_hash = vm::machine::parent_hash(frame, checkpoint);
    assert_forgery_refused(pre, forged, post, "parent frame");

    // Another parent block hash (block-end reads it from the block part).
    let (pre, proof, post) = sample(&built, StepKind::BlockEnd, 0);
    let mut forged = step_of(&proof);
    forged.block.parent_hash = B256::repeat_byte(0x42);
    assert_forgery_refused(pre, forged, post, "parent hash");

    // A code builder whose commitment aliases the honest one (its buffer swallows the carry
    // and eight frontier nodes): same pre-state, so it must be refused outright.
    // Initcode that deposits itself: 4200 bytes, 136 pieces, a chunk tree of depth 8.
    let len = 4200;
    let mut initcode = Asm::new()
        .pushn(len)
        .pushn(0)
        .pushn(0)
        .op(0x39)
        .pushn(len)
        .pushn(0)
        .op(0xf3)
        .0;
    initcode.resize(len as usize, 0x5b);
    let built = build(&[0x00], vec![create_tx(0, &initcode, 0, 3_000_000)]);
    let trace = built.trace();
    let (i, honest) = (0..trace.len())
        .find_map(|i| {
            let (proof, _) = trace.prove_step(i).expect("prove");
            let builder = proof.witnesses().iter().find_map(|w| match w {
                Witness::Builder(b) if b.frontier.len() >= 9 => Some((**b).clone()),
                _ => None,
            })?;
            Some((i, (proof, builder)))
        })
        .expect("a build of code with at least 2^8 pieces");
    let (proof, builder) = honest;
    let tail: Vec<u8> = std::iter::once(builder.carry as u8)
        .chain(builder.frontier.iter().flat_map(|n| n.0))
        .collect();
    let alias = vm::build::CodeBuilder {
        buffer: [builder.buffer.as_slice(), &tail[..256]].concat(),
        carry: u64::from(tail[256]),
        frontier: tail[257..].chunks(32).map(B256::from_slice).collect(),
        ..builder.clone()
    };
    assert_eq!(alias.commitment(), builder.commitment());
    let mut forged = step_of(&proof);
    for w in &mut forged.witnesses {
        if let Witness::Builder(b) = w {
            **b = alias.clone();
        }
    }
    let (pre, post) = (trace.state_hash(i), trace.state_hash(i + 1));
    assert!(!accepts(pre, &Proof::Step(Box::new(forged)), post, &|| {
        "aliased builder".into()
    }));

    // Another transaction type and tip at tx-end (the receipt and the fee read them).
    let (pre, proof, post) = sample(&built, StepKind::TxEnd, 0);
    let mut forged = step_of(&proof);
    forged.tx.tx_type = 0;
    assert_forgery_refused(pre, forged, post, "tx type");
}

#[test]
fn tampered_proofs_never_verify_to_another_post_state() {
    let mstore = Asm::new()
        .pushn(0x1234)
        .pushn(45)
        .op(0x52)
        .pushn(5)
        .pushn(77)
        .op(0x52) // unaligned: two memory words
        .op(0x00)
        .0;
    let (pre, proof, post) = sample(&one_call(&mstore), StepKind::Opcode(0x52), 1);
    assert_eq!(
        kinds(&proof),
        ["code", "stack", "stack", "memory", "memory"]
    );
    assert_sound(pre, &proof, post);

    let sstore = Asm::new().pushn(0).pushn(1).op(0x55).op(0x00).0; // clears slot 1
    let (pre, proof, post) = sample(&one_call(&sstore), StepKind::Opcode(0x55), 0);
    assert_eq!(
        kinds(&proof),
        ["code", "stack", "stack", "smt", "smt", "smt"]
    );
    assert_sound(pre, &proof, post);

    let extcodesize = Asm::new()
        .push(U256::from_be_slice(OTHER.as_slice()))
        .op(0x3b)
        .op(0x00)
        .0;
    let (pre, proof, post) = sample(&one_call(&extcodesize), StepKind::Opcode(0x3b), 0);
    assert_eq!(
        kinds(&proof),
        ["code", "stack", "smt", "smt", "account", "code root"]
    );
    assert_sound(pre, &proof, post);

    // The second micro-step of hashing 200 bytes: stack words, the sponge, the memory words
    // as one range.
    let keccak = Asm::new().pushn(200).pushn(0).op(0x20).op(0x00).0;
    let (pre, proof, post) = sample(&one_call(&keccak), StepKind::Opcode(0x20), 1);
    assert_eq!(step_of(&proof).frame.cursor, 1);
    assert_eq!(
        kinds(&proof),
        ["code", "stack", "stack", "sponge", "word range"]
    );
    assert_sound(pre, &proof, post);

    // A callee's exit, the transaction's start and end, and the block's end.
    let built = one_call(&call_other());
    let (pre, proof, post) = sample(&built, StepKind::FrameExit, 0);
    assert_eq!(kinds(&proof), ["parent"]);
    assert_sound(pre, &proof, post);
    let (pre, proof, post) = sample(&built, StepKind::TxInit, 0);
    assert_eq!(
        kinds(&proof),
        [
            "tx input",
            "smt",
            "account",
            "smt", // L1Info.basefee (0 here: no L1 data fee, no vault write)
            "smt",
            "smt",
            "account",
            "code root"
        ]
    );
    assert_sound(pre, &proof, post);
    // With an L1 base fee: the fee moves to the (new) vault, an absence proof then a write.
    let fee_block = build(&call_other(), vec![l1_info(1), tx(0, RICH, 1, &[], 21_000)]);
    let (fee_pre, fee_proof, fee_post) = sample(&fee_block, StepKind::TxInit, 1);
    assert_eq!(
        kinds(&fee_proof),
        [
            "tx input", "smt", "account", // the sender
            "smt",     // L1Info.basefee (7 wei)
            "smt",     // the sender's write
            "smt", "smt", // the vault: absent, then written
            "smt", "account", "smt", // the value leaves the sender
            "smt", "account", "smt", // and reaches the target
            "smt", "account" // the target's code
        ]
    );
    assert_sound(fee_pre, &fee_proof, fee_post);
    let (pre, proof, post) = sample(&built, StepKind::TxEnd, 0);
    // The fee recipient does not exist yet: an absence proof and no account.
    assert_eq!(
        kinds(&proof),
        ["parent", "smt", "account", "smt", "smt", "smt"]
    );
    assert_sound(pre, &proof, post);
    let (pre, proof, post) = sample(&built, StepKind::BlockEnd, 0);
    // The extra data to hash the header, the window leaf the block's hash replaces.
    assert_eq!(kinds(&proof), ["extra data", "data"]);
    assert_sound(pre, &proof, post);

    // Warming an access-list entry (the second tx-init micro-step).
    let built = build(&[0x00], vec![access_tx(0, CONTRACT, true, 100_000)]);
    let (pre, proof, post) = sample(&built, StepKind::TxInit, 1);
    assert_eq!(
        kinds(&proof),
        ["tx input", "access-list entry", "chain link", "smt"]
    );
    assert_sound(pre, &proof, post);
}

#[test]
fn blocks_with_deposits_verify_end_to_end() {
    let mut seen = Seen::default();
    let l1_user = Address::repeat_byte(0x1a);
    let txs = vec![
        // The L1-info system deposit, as every block with an L1 origin starts.
        l1_info(1),
        // ETH: minted to a new account that sends part on.
        deposit(
            1,
            l1_user,
            TxKind::Call(RICH),
            10u128.pow(18),
            4,
            50_000,
            &[],
        ),
        // A call into a contract that logs and stores.
        deposit(2, l1_user, TxKind::Call(ECHO), 0, 0, 100_000, &[0x01; 40]),
        // Value above the balance: included as failed, the mint kept.
        deposit(
            3,
            Address::repeat_byte(0x1b),
            TxKind::Call(RICH),
            5,
            1000,
            50_000,
            &[],
        ),
        // Gas limit below the intrinsic gas: failed.
        deposit(4, l1_user, TxKind::Call(RICH), 1, 0, 20_000, &[]),
        // A creating deposit.
        deposit(
            5,
            l1_user,
            TxKind::Create,
            0,
            0,
            3_000_000,
            &token_initcode(7),
        ),
        // A normal transaction after deposits.
        tx(0, RICH, 1, &[], 21_000),
    ];
    let code = Asm::new().op(0x00).0;
    let built = build(&code, txs);
    assert!(
        built
            .block1
            .outcomes
            .last()
            .is_some_and(|o| !o.l1_fee.is_zero()),
        "the user transaction pays an L1 data fee"
    );
    check_block(&built, &mut seen);
    eprintln!("deposit block steps checked: {}", seen.steps);
    seen.print_proof_sizes();
}

/// The claim on block 1 is all block 2 starts from besides its inputs: block 2's trace starts
/// with block 1's hash as `parentHash`, its state root and the window block 1's block-end step
/// wrote, and a `BLOCKHASH` of block 1 in block 2 verifies against that window. The block-end
/// step's window write is a witness like any other: a path for another leaf, or a wrong old
/// leaf, is refused.
#[test]
fn the_claim_on_a_block_is_where_the_next_block_starts() {
    // CONTRACT: store BLOCKHASH(1) at slot 3, BLOCKHASH(0) at slot 4.
    let code = Asm::new()
        .pushn(1)
        .op(0x40)
        .pushn(3)
        .op(0x55)
        .pushn(0)
        .op(0x40)
        .pushn(4)
        .op(0x55)
        .op(0x00)
        .0;
    let built = build(&code, vec![tx(0, RICH, 1, &[], 21_000)]);
    let claim1 = built.trace().claim().expect("the trace ends sealed");
    assert_eq!(claim1, built.claim());

    let mut state = built.state.clone();
    state.apply(&built.block1);
    let attrs = BlockAttributes {
        timestamp: 13,
        gas_limit: 30_000_000,
        prevrandao: B256::repeat_byte(0x98),
        extra_data: Bytes::new(),
    };
    let mut builder = BlockBuilder::new(
        &built.chain.spec,
        &state,
        &built.block1.header,
        built.block1.hash,
        attrs,
    );
    builder
        .execute(ExecutableTx {
            tx: tx(1, CONTRACT, 0, &[], 100_000).0,
            sender: caller(),
        })
        .expect("included");
    let block2 = builder.finish().expect("finish");
    let next = Cursor {
        position: 0,
        batchIndex: 1,
        ..CURSOR
    };
    let trace2 = Trace::for_block(
        &state,
        &built.chain.spec,
        &built.block1.header,
        &block2,
        next.hash(),
    )
    .expect("trace block 2");
    let start = trace2.machine(0).block;
    assert_eq!(start.parent_hash, claim1.block_hash);
    assert_eq!(start.state_root, claim1.state_root);
    assert_eq!(start.block_hashes_root, claim1.block_hashes_root);
    let mut reads = 0;
    let mut block_end = None;
    for i in 0..trace2.len() {
        let (proof, info) = trace2.prove_step(i).expect("prove");
        let (post, _) = vm::verify_step(trace2.state_hash(i), &proof).expect("verify");
        assert_eq!(post, trace2.state_hash(i + 1), "step {i}");
        match info.kind {
            StepKind::Opcode(0x40) => reads += 1,
            StepKind::BlockEnd => block_end = Some((i, proof)),
            _ => {}
        }
    }
    assert_eq!(reads, 2);
    let stored = |slot: u64| block2.diff.storage[&(CONTRACT, U256::from(slot))];
    assert_eq!(stored(3), U256::from_be_bytes(built.block1.hash.0));
    assert_eq!(stored(4), U256::from_be_bytes(built.block0.hash.0));
    let claim2 = trace2.claim().expect("sealed");
    assert_eq!(
        claim2.block_hashes_root,
        window_root([
            (0, built.block0.hash),
            (1, built.block1.hash),
            (2, block2.hash)
        ])
    );
    assert_eq!(claim2.cursor, next.hash());

    // The block-end proof's window witness, edited as a liar would: the path of another leaf,
    // another old leaf, a path of the new window. None verifies.
    let (i, proof) = block_end.expect("a block-end step");
    let pre = trace2.state_hash(i);
    let honest = trace2.state_hash(i + 1);
    let step = step_of(&proof);
    let levels = fraud_vm::merkle::levels(
        &{
            let mut leaves = vec![B256::ZERO; 256];
            leaves[0] = built.block0.hash;
            leaves[1] = built.block1.hash;
            leaves
        },
        vm::BLOCK_HASH_DEPTH,
    );
    let Some(at) = step
        .witnesses
        .iter()
        .position(|w| matches!(w, Witness::Data { .. }))
    else {
        panic!("block-end reads the window leaf it replaces");
    };
    for (word, leaf) in [
        (B256::ZERO, 4u64),
        (built.block1.hash, 1),
        (block2.hash, 2),
        (B256::repeat_byte(9), 2),
    ] {
        let mut forged = step.clone();
        forged.witnesses[at] = Witness::Data {
            word,
            path: fraud_vm::merkle::path(&levels, leaf),
        };
        let forged = Proof::Step(Box::new(forged));
        let what = || format!("block-end window leaf {leaf} = {word}");
        assert!(!accepts(pre, &forged, honest, &what), "{}", what());
    }
    // And every other edit the soundness harness makes.
    assert_sound(pre, &proof, honest);
}

/// The protocol of a derivation run of `program` on this chain (2^32 gas).
fn protocol_for(program: &[u8]) -> Protocol {
    Protocol {
        chain_id: CHAIN_ID,
        coinbase: COINBASE,
        program_len: program.len() as u64,
        program_chunk_root: fraud_vm::code::ChunkedCode::new(program).chunk_root(),
        derivation_gas: 1 << 32,
    }
}

/// The L1 block the tests' batches are appended in.
fn l1_block() -> alloy_consensus::Header {
    alloy_consensus::Header {
        number: 77,
        timestamp: 1_700,
        parent_hash: B256::repeat_byte(0x76),
        ..Default::default()
    }
}

/// The open step: from the claim on block 1 (the traced block, whose cursor points at batch 0
/// at byte 211) to the derivation program running on batch 0's data. Every field it sets comes
/// from the claim, the protocol or the batch commitment L1 holds; a liar who edits any byte of
/// the proof, or recomputes the claim around another cursor or the accumulator around another
/// batch, gets no other post-state.
#[test]
fn the_open_step_starts_the_program_on_the_batch_the_claim_points_at() {
    use fraud_vm::inbox::BatchCommitment;
    use vm::open::{open, open_hash, OpenProof, DERIVATION_TX_TYPE, PROGRAM};
    let built = build(&[0x00], vec![tx(0, RICH, 1, &[], 21_000)]);
    let claim = built.claim();
    let program = alloy_primitives::hex::decode(deployed_code(include_str!(
        "../../contracts/out/Derivation.json"
    )))
    .expect("hex");
    let protocol = protocol_for(&program);
    let data = b"a batch's bytes, as the Inbox committed them".repeat(9);
    let l1_block = l1_block();
    let commitment =
        BatchCommitment::new(B256::ZERO, &data, 2, B256::repeat_byte(2), &l1_block, false);
    let other = BatchCommitment::new(
        commitment.accumulate(),
        b"the next batch",
        2,
        B256::repeat_byte(2),
        &l1_block,
        false,
    );
    let inbox = InboxAccs {
        batch: vec![B256::ZERO, commitment.accumulate(), other.accumulate()],
        delayed: Vec::new(),
    };
    let honest = OpenProof {
        claim: claim.clone(),
        cursor: CURSOR,
        commitment: commitment.clone(),
    };
    let pre = open_hash(&claim);
    assert_ne!(
        pre,
        end_hash(&claim),
        "the open state is not the terminal state"
    );
    let started = open(&protocol, &inbox, pre, &honest).expect("the honest open step");
    let (block, tx, frame) = (&started.block, &started.tx, &started.frame);
    assert_eq!(
        (
            block.parent_hash,
            block.state_root,
            block.block_hashes_root,
            block.cursor
        ),
        (
            claim.block_hash,
            claim.state_root,
            claim.block_hashes_root,
            claim.cursor
        )
    );
    assert_eq!(block.chain_id, CHAIN_ID);
    assert_eq!((tx.tx_type, tx.gas_limit), (DERIVATION_TX_TYPE, 1 << 32));
    assert_eq!(frame.status, vm::Status::Running);
    assert!(frame.is_static);
    assert_eq!((frame.address, frame.pc, frame.gas), (PROGRAM, 0, 1 << 32));
    assert_eq!(
        (frame.code_len, frame.code_chunk_root),
        (protocol.program_len, protocol.program_chunk_root)
    );
    assert_eq!(
        (frame.calldata_len, frame.calldata_root),
        (data.len() as u64, fraud_vm::merkle::data_root(&data))
    );
    let post = started.hash();
    let proof = Proof::Open(Box::new(honest.clone()));
    assert_eq!(
        vm::verify_step_on(pre, &proof, &protocol, &inbox).map(|r| r.0),
        Ok(post)
    );
    assert_eq!(vm::verify_step(pre, &proof), Err(StepError::NoL1));
    let bytes = proof.encode();
    assert_eq!(bytes.len(), 1 + 32 * (4 + 6 + 9));
    assert_eq!(Proof::decode(&bytes), Ok(proof.clone()));

    // Every byte edited (each bit of it in turn, on a sample of bits): refused, or the honest
    // post-state (a flip that does not decode canonically is refused at decoding).
    let verify = |bytes: &[u8]| {
        Proof::decode(bytes)
            .ok()
            .and_then(|p| vm::verify_step_on(pre, &p, &protocol, &inbox).ok())
            .map(|r| r.0)
    };
    for i in 0..bytes.len() {
        for bit in [0u8, 3, 7] {
            let mut edited = bytes.clone();
            edited[i] ^= 1 << bit;
            if let Some(h) = verify(&edited) {
                assert_eq!(h, post, "FORGERY: byte {i} bit {bit}");
            }
        }
    }
    for cut in [0, 1, 33, bytes.len() - 1] {
        assert_eq!(verify(&bytes[..cut]), None, "truncated at {cut}");
    }
    assert_eq!(
        verify(&[bytes.as_slice(), &[0]].concat()),
        None,
        "trailing byte"
    );

    // Consistent forgeries: the liar recomputes what it controls.
    let forgeries = [
        // Another cursor (the next batch), with the claim's cursor word recomputed: the
        // claim no longer hashes to the agreed pre-state.
        {
            let cursor = Cursor {
                batchIndex: 1,
                position: 0,
                ..CURSOR
            };
            OpenProof {
                claim: Claim {
                    cursor: cursor.hash(),
                    ..claim.clone()
                },
                cursor,
                commitment: other.clone(),
            }
        },
        // The next batch's commitment under the agreed cursor: L1's accumulator differs.
        OpenProof {
            commitment: other.clone(),
            ..honest.clone()
        },
        // Another data root (a different batch) with everything else kept.
        OpenProof {
            commitment: BatchCommitment {
                dataRoot: B256::repeat_byte(0xda),
                ..commitment.clone()
            },
            ..honest.clone()
        },
        // Another state root in the claim.
        OpenProof {
            claim: Claim {
                state_root: B256::repeat_byte(0x5e),
                ..claim.clone()
            },
            ..honest.clone()
        },
    ];
    for (i, forged) in forgeries.into_iter().enumerate() {
        let result = vm::verify_step_on(pre, &Proof::Open(Box::new(forged)), &protocol, &inbox);
        assert!(result.is_err(), "forgery {i} accepted: {result:?}");
    }
    // L1 without the batch: the step cannot be proven yet.
    let short = InboxAccs {
        batch: vec![B256::ZERO],
        delayed: Vec::new(),
    };
    assert_eq!(
        vm::verify_step_on(pre, &proof, &protocol, &short).map(|r| r.0),
        Err(StepError::NotOnL1(1))
    );
}

/// The derivation oracle: a program (`contracts/src/test/OracleProbe.sol`, standing in for the
/// derivation program) runs from the open state after block 1 and asks the oracle for the
/// claim's context, the cursor, the batch accumulator and commitment, a delayed accumulator,
/// the parent header and the batch bytes, then sends malformed queries and an ordinary call to
/// the oracle's address. The derivation trace replays it on revm with the oracle answered by
/// the tracer; every step verifies against L1 (the open step included), each oracle call is
/// one step whose answer becomes the return data, and the liar's edits of every oracle step
/// (its preimage witness, its query's memory words) never yield another post-state. The
/// probe's output is no hand-off layout: a failed run, which has no hand-off step.
#[test]
fn the_derivation_oracle_answers_the_program_in_one_step() {
    use fraud_vm::{inbox::BatchCommitment, message::DepositMessage};
    use vm::{
        l1_oracle::{MAX_PREIMAGE, ORACLE},
        open::{open, open_hash, OpenProof},
        DerivationRun,
    };
    let built = build(&[0x00], vec![tx(0, RICH, 1, &[], 21_000)]);
    let claim = built.claim();
    let mut state = built.state.clone();
    state.apply(&built.block1);
    let probe = alloy_primitives::hex::decode(deployed_code(include_str!(
        "../../contracts/out/OracleProbe.json"
    )))
    .expect("hex");
    let protocol = protocol_for(&probe);
    // Batch 0, appended after two delayed messages.
    let data: Vec<u8> = (0..700u32).map(|i| (i * 7 % 251) as u8).collect();
    let delayed = {
        let mut accs = vec![B256::ZERO];
        for h in [B256::repeat_byte(0xd1), B256::repeat_byte(0xd2)] {
            let last = accs[accs.len() - 1];
            accs.push(DepositMessage::accumulate(last, h));
        }
        accs
    };
    let l1_block = l1_block();
    let commitment = BatchCommitment::new(B256::ZERO, &data, 2, delayed[2], &l1_block, false);
    let inbox = InboxAccs {
        batch: vec![B256::ZERO, commitment.accumulate()],
        delayed,
    };
    let open_proof = OpenProof {
        claim: claim.clone(),
        cursor: CURSOR,
        commitment: commitment.clone(),
    };
    let parent_header = alloy_rlp::encode(&built.block1.header);
    let preimages = vec![
        Bytes::from(alloy_sol_types::SolValue::abi_encode(&CURSOR)),
        Bytes::from(alloy_sol_types::SolValue::abi_encode(&commitment)),
        Bytes::from(parent_header.clone()),
        Bytes::from(data.clone()),
    ];
    let run = DerivationRun {
        open: open_proof.clone(),
        data: &data,
        program: &probe,
        preimages: preimages.clone(),
        inbox: inbox.clone(),
    };
    let trace = Trace::for_derivation(&state, &built.chain.spec, &protocol, run.clone())
        .expect("derivation trace");

    // State 0 is the open state; the open step leads to what `open` yields.
    let pre = open_hash(&claim);
    assert_eq!(trace.state_hash(0), pre);
    let started = open(&protocol, &inbox, pre, &open_proof).expect("open");
    assert_eq!(trace.state_hash(1), started.hash());

    // Every step verifies against L1 and leads to the next state.
    let mut oracle_steps = Vec::new();
    for i in 0..trace.len() {
        let (proof, info) = trace.prove_step(i).expect("prove");
        let (post, _) = vm::verify_step_on(trace.state_hash(i), &proof, &protocol, &inbox)
            .unwrap_or_else(|e| panic!("step {i} ({info:?}): {e}"));
        assert_eq!(post, trace.state_hash(i + 1), "step {i} ({info:?})");
        assert_eq!(Proof::decode(&proof.encode()), Ok(proof.clone()));
        // A STATICCALL to the oracle: its second popped word is the target.
        let mut popped = proof.witnesses().iter().filter_map(|w| match w {
            Witness::Stack { word, .. } => Some(*word),
            _ => None,
        });
        let target = popped.nth(1);
        if info.kind == StepKind::Opcode(0xfa)
            && target == Some(U256::from_be_slice(ORACLE.as_slice()))
        {
            oracle_steps.push((i, proof));
        }
    }
    let ended = trace.machine(trace.len());
    assert_eq!(
        ended.frame.status,
        vm::Status::Returned,
        "the probe returned"
    );
    assert_eq!(ended.frame.depth, 0);

    // The queries: context, cursor, batchAcc, commitment, delayedAcc, parent, batch, the cursor
    // again into an output area, four malformed ones and one with too little gas for its
    // answer, all answered in the call step (the ordinary CALL enters a frame).
    assert_eq!(oracle_steps.len(), 13, "oracle calls");
    let answered: Vec<B256> = oracle_steps
        .iter()
        .map(|(i, _)| trace.machine(i + 1).frame.returndata_root)
        .collect();
    let root = fraud_vm::merkle::data_root;
    let expected_answers = [
        root(&[claim.block_hash.0, claim.cursor.0].concat()),
        root(&preimages[0]),
        root(commitment.accumulate().as_slice()),
        root(&preimages[1]),
        root(inbox.delayed[2].as_slice()),
        root(&parent_header),
        root(&data),
        root(&preimages[0]),
    ];
    assert_eq!(
        answered[..8],
        expected_answers[..],
        "answers as return data"
    );
    let empty = root(&[]);
    assert_eq!(answered[8..], [empty; 5], "failed queries answer nothing");
    for (k, (i, _)) in oracle_steps[8..].iter().enumerate() {
        let (before, after) = (trace.machine(*i), trace.machine(i + 1));
        let sent = if k == 4 { 50 } else { 10_000 };
        assert_eq!(
            before.frame.gas - after.frame.gas,
            100 + sent,
            "a failed query consumes the gas sent with it"
        );
    }
    let (i, _) = &oracle_steps[0];
    let (before, after) = (trace.machine(*i), trace.machine(i + 1));
    assert_eq!(
        before.frame.gas - after.frame.gas,
        2600 + 2 * 3,
        "the first query pays the cold access and 3 gas per answer word"
    );
    // The answer copied into an output area: three copy micro-steps after the call step.
    let (i, _) = &oracle_steps[7];
    let copies = (i + 1..trace.len())
        .take_while(|&k| trace.machine(k).frame.cursor != 0)
        .count();
    assert_eq!(copies, 3, "96 bytes copied 32 per step");
    for k in i + 1..i + 1 + copies {
        let (proof, _) = trace.prove_step(k).expect("copy step");
        assert_sound_on(&inbox, trace.state_hash(k), &proof, trace.state_hash(k + 1));
    }

    // The probe's output is not a hand-off layout: a failed run, which has no hand-off step.
    assert!(matches!(
        trace.prove_step(trace.len()),
        Err(StepError::Unsupported(_))
    ));

    // Attacks on every oracle step, with L1 as it is.
    for (i, proof) in &oracle_steps {
        let (pre, post) = (trace.state_hash(*i), trace.state_hash(i + 1));
        assert_sound_on(&inbox, pre, proof, post);
    }
    // Consistent forgeries of the preimage answers: other bytes of the same length, the bytes
    // cut short or extended, a preimage over the bound; none verifies.
    for (i, proof) in &oracle_steps {
        let Proof::Step(step) = proof else {
            unreachable!()
        };
        let Some(at) = step
            .witnesses
            .iter()
            .position(|w| matches!(w, Witness::Preimage(_)))
        else {
            continue;
        };
        let Witness::Preimage(honest) = &step.witnesses[at] else {
            unreachable!()
        };
        let mut other = honest.to_vec();
        other[0] ^= 1;
        let forged = [
            other,
            honest[..honest.len() - 1].to_vec(),
            [honest.as_ref(), &[0]].concat(),
            vec![0u8; MAX_PREIMAGE + 1],
        ];
        let pre = trace.state_hash(*i);
        for bytes in forged {
            let mut p = (**step).clone();
            p.witnesses[at] = Witness::Preimage(Bytes::from(bytes));
            let result = vm::verify_step_on(pre, &Proof::Step(Box::new(p)), &protocol, &inbox);
            assert!(result.is_err(), "forged preimage accepted: {result:?}");
        }
    }
    // The accumulator queries read L1 itself: without a view of L1 they cannot be verified,
    // and an L1 that does not hold the index defines no step.
    let (acc_step, acc_proof) = &oracle_steps[2];
    let pre = trace.state_hash(*acc_step);
    assert_eq!(
        vm::verify_step(pre, acc_proof).map(|r| r.0),
        Err(StepError::NoL1)
    );
    let short = InboxAccs {
        batch: vec![B256::ZERO],
        delayed: inbox.delayed.clone(),
    };
    assert_eq!(
        vm::verify_step_on(pre, acc_proof, &protocol, &short).map(|r| r.0),
        Err(StepError::NotOnL1(1))
    );
    // The tracer refuses to answer what it was not given.
    let without_parent = DerivationRun {
        preimages: preimages[..2].to_vec(),
        ..run
    };
    assert!(matches!(
        Trace::for_derivation(&state, &built.chain.spec, &protocol, without_parent),
        Err(TraceError::Oracle(_))
    ));
    eprintln!(
        "derivation trace of the oracle probe: {} steps, {} oracle calls; largest oracle-step proof {} bytes",
        trace.len(),
        oracle_steps.len(),
        oracle_steps.iter().map(|(_, p)| p.encode().len()).max().unwrap_or(0)
    );
}

/// The hand-off, and the join of block 2's whole trace to the claim on block 1. A stand-in
/// program returns its call data (the opened batch's bytes) as its output, so each batch here
/// is a hand-off layout: block 2's execution start, "no block here", and failing outputs. For
/// the block, the open step, the program's steps, the hand-off and every execution step of
/// block 2 (as the node built it) verify in one chain from `open_hash(claim(1))` to `claim(2)`;
/// "no block here" reopens the claim at the program's cursor, and a failing output has no
/// hand-off step. The liar's edits of every hand-off proof never yield another post-state.
/// Programs that read the accounts revm models otherwise are not traced.
#[test]
fn the_hand_off_joins_the_claim_to_the_next_blocks_execution() {
    use alloy_sol_types::SolValue;
    use fraud_vm::inbox::BatchCommitment;
    use vm::{
        handoff::{Handoff, BLOCK, NO_BLOCK},
        open::{open_hash, OpenProof},
        DerivationRun,
    };
    // CALLDATACOPY(0, 0, CALLDATASIZE); RETURN(0, CALLDATASIZE)
    let echo = Asm::new()
        .op(0x36)
        .op(0x5f)
        .op(0x5f)
        .op(0x37)
        .op(0x36)
        .op(0x5f)
        .op(0xf3)
        .0;
    let built = build(&[0x00], vec![tx(0, RICH, 1, &[], 21_000)]);
    let claim = built.claim();
    let mut state = built.state.clone();
    state.apply(&built.block1);
    let attrs = BlockAttributes {
        timestamp: 14,
        gas_limit: 30_000_000,
        prevrandao: B256::repeat_byte(0x97),
        extra_data: Bytes::from_static(b"block two"),
    };
    let mut builder = BlockBuilder::new(
        &built.chain.spec,
        &state,
        &built.block1.header,
        built.block1.hash,
        attrs,
    );
    for (tx, sender) in [tx(1, RICH, 2, &[], 21_000), tx(2, OTHER, 3, &[], 21_000)] {
        builder
            .execute(ExecutableTx { tx, sender })
            .expect("included");
    }
    let block2 = builder.finish().expect("finish");
    let next = Cursor {
        position: 400,
        ..CURSOR
    };
    let execution = Trace::for_block(
        &state,
        &built.chain.spec,
        &built.block1.header,
        &block2,
        next.hash(),
    )
    .expect("block 2");
    let start = execution.machine(0).block;
    let block_output = Handoff {
        kind: U256::from(BLOCK),
        cursor: next.hash(),
        number: U256::from(start.number),
        timestamp: U256::from(start.timestamp),
        gasLimit: U256::from(start.gas_limit),
        baseFee: U256::from(start.base_fee),
        prevrandao: start.prevrandao,
        extraDataHash: start.extra_data_hash,
        inputCount: U256::from(start.tx_count),
        inputsRoot: start.inputs_root,
    };
    let protocol = protocol_for(&echo);
    let l1_block = l1_block();
    // Runs the stand-in program on a batch holding `data` and returns the trace with the
    // hand-off's proof, pre- and post-state (checking every step of the run on the way).
    let run = |data: &[u8]| {
        let commitment = BatchCommitment::new(B256::ZERO, data, 0, B256::ZERO, &l1_block, false);
        let inbox = InboxAccs {
            batch: vec![B256::ZERO, commitment.accumulate()],
            delayed: vec![B256::ZERO],
        };
        let run = DerivationRun {
            open: OpenProof {
                claim: claim.clone(),
                cursor: CURSOR,
                commitment,
            },
            data,
            program: &echo,
            preimages: Vec::new(),
            inbox: inbox.clone(),
        };
        let trace = Trace::for_derivation(&state, &built.chain.spec, &protocol, run)
            .expect("derivation trace");
        for i in 0..trace.len() {
            let (proof, _) = trace.prove_step(i).expect("prove");
            let post =
                vm::verify_step_on(trace.state_hash(i), &proof, &protocol, &inbox).map(|r| r.0);
            assert_eq!(post, Ok(trace.state_hash(i + 1)), "step {i}");
        }
        let at = trace.len();
        let (proof, info) = trace.prove_step(at)?;
        assert_eq!(info.kind, StepKind::Handoff);
        let pre = trace.state_hash(at);
        let (post, _) =
            vm::verify_step_on(pre, &proof, &protocol, &inbox).expect("the hand-off verifies");
        assert_sound_on(&inbox, pre, &proof, post);
        Ok::<_, StepError>((trace.len() + 1, post, proof))
    };
    let reopened = |cursor: B256| {
        open_hash(&Claim {
            cursor,
            ..claim.clone()
        })
    };

    // A block: the hand-off's post-state is block 2's execution start, and the chain from the
    // open state of claim(1) ends in claim(2).
    let (derivation_steps, post, proof) = run(&block_output.abi_encode()).expect("a block");
    assert_eq!(post, execution.state_hash(0), "the hand-off starts block 2");
    assert!(proof
        .witnesses()
        .iter()
        .all(|w| !matches!(w, Witness::Preimage(_))));
    for i in 0..execution.len() {
        let (proof, _) = execution.prove_step(i).expect("prove");
        let post = vm::verify_step(execution.state_hash(i), &proof).map(|r| r.0);
        assert_eq!(post, Ok(execution.state_hash(i + 1)), "block 2 step {i}");
    }
    let claim2 = Claim {
        block_hash: block2.hash,
        state_root: block2.header.state_root,
        block_hashes_root: window_root([
            (0, built.block0.hash),
            (1, built.block1.hash),
            (2, block2.hash),
        ]),
        cursor: next.hash(),
    };
    assert_eq!(execution.claim(), Some(claim2.clone()));
    assert_eq!(execution.final_hash(), end_hash(&claim2));
    eprintln!(
        "block 2 from claim(1): {derivation_steps} derivation steps (open, program, hand-off), {} execution steps",
        execution.len()
    );

    // No block here: reopen at the program's cursor.
    let elsewhere = Cursor {
        batchIndex: 1,
        position: 0,
        ..CURSOR
    };
    let no_block = Handoff {
        kind: U256::from(NO_BLOCK),
        cursor: elsewhere.hash(),
        ..Default::default()
    };
    assert_eq!(
        run(&no_block.abi_encode()).expect("no block here").1,
        reopened(elsewhere.hash())
    );

    // A failed program: reopen at the next batch, from the claim's cursor's preimage.
    let too_big = U256::from(u64::MAX) + U256::from(1);
    let failures: Vec<(&str, Vec<u8>)> = vec![
        (
            "unknown kind",
            Handoff {
                kind: U256::from(2),
                ..block_output.clone()
            }
            .abi_encode(),
        ),
        (
            "number out of range",
            Handoff {
                number: too_big,
                ..block_output.clone()
            }
            .abi_encode(),
        ),
        (
            "timestamp out of range",
            Handoff {
                timestamp: too_big,
                ..block_output.clone()
            }
            .abi_encode(),
        ),
        (
            "gas limit out of range",
            Handoff {
                gasLimit: too_big,
                ..block_output.clone()
            }
            .abi_encode(),
        ),
        (
            "base fee out of range",
            Handoff {
                baseFee: too_big,
                ..block_output.clone()
            }
            .abi_encode(),
        ),
        (
            "input count out of range",
            Handoff {
                inputCount: too_big,
                ..block_output.clone()
            }
            .abi_encode(),
        ),
        ("one byte short", block_output.abi_encode()[..319].to_vec()),
        (
            "one byte more",
            [block_output.abi_encode(), vec![0]].concat(),
        ),
        ("nothing", Vec::new()),
    ];
    for (what, data) in failures {
        assert!(
            matches!(run(&data), Err(StepError::Unsupported(_))),
            "{what}: a failed run has no hand-off"
        );
    }

    // Programs reading the accounts revm sees otherwise than the machine (the program's own
    // account, address 0, whose nonce revm bumps) are not traced.
    let commitment = BatchCommitment::new(B256::ZERO, &[], 0, B256::ZERO, &l1_block, false);
    let inbox = InboxAccs {
        batch: vec![B256::ZERO, commitment.accumulate()],
        delayed: vec![B256::ZERO],
    };
    for (what, code) in [
        ("SELFBALANCE", Asm::new().op(0x47).op(0x00).0),
        ("BALANCE(0)", Asm::new().op(0x5f).op(0x31).op(0x00).0),
        (
            "EXTCODESIZE(PROGRAM)",
            Asm::new().pushn(0xde71).op(0x3b).op(0x00).0,
        ),
        ("STATICCALL(PROGRAM)", {
            let mut call = Asm::new();
            for _ in 0..4 {
                call = call.op(0x5f);
            }
            call.pushn(0xde71).op(0x5a).op(0xfa).op(0x00).0
        }),
    ] {
        let run = DerivationRun {
            open: OpenProof {
                claim: claim.clone(),
                cursor: CURSOR,
                commitment: commitment.clone(),
            },
            data: &[],
            program: &code,
            preimages: Vec::new(),
            inbox: inbox.clone(),
        };
        let traced = Trace::for_derivation(&state, &built.chain.spec, &protocol_for(&code), run);
        assert!(
            matches!(traced, Err(TraceError::Unsupported(_))),
            "{what}: {:?}",
            traced.err()
        );
    }
}

#[test]
fn blocks_of_transfers_and_calls_verify_end_to_end() {
    let mut seen = Seen::default();
    // ETH transfers (EIP-1559 and legacy), to an existing and a new account, a self-transfer,
    // calls that revert and halt, and a transaction that runs out of gas in the callee.
    let code = Asm::new().pushn(1).pushn(9).op(0x55).op(0x00).0;
    let txs = vec![
        tx(0, RICH, 1000, &[], 21_000),
        legacy(1, Address::repeat_byte(0x55), 7, 30_000),
        tx(2, caller(), 5, &[], 21_000),
        tx(3, CONTRACT, 0, &[1, 2, 3], 100_000),
        tx(4, ECHO, 0, &[0xff, 1], 100_000),
        tx(5, ECHO, 0, &[0xfe], 100_000),
        tx(6, ECHO, 9, &[0x01; 40], 100_000),
        tx(7, CONTRACT, 0, &[], 21_100),
        // ERC20: two transfers (a new holder, then an existing one), one over the balance
        // (reverts with the custom error).
        tx(8, TOKEN, 0, &erc20_transfer(RICH, 1000), 100_000),
        tx(9, TOKEN, 0, &erc20_transfer(RICH, 5), 100_000),
        tx(10, TOKEN, 0, &erc20_transfer(RICH, u64::MAX), 100_000),
        // Contract-creating transactions: a token (constructor, storage, events), a transfer on
        // it, a small contract with value, an initcode that reverts, empty initcode.
        create_tx(11, &token_initcode(1_000_000), 0, 3_000_000),
        tx(
            12,
            caller().create(11),
            0,
            &erc20_transfer(RICH, 77),
            100_000,
        ),
        create_tx(
            13,
            &[0x60, 0x2a, 0x60, 0x00, 0x55, 0x60, 0x01, 0x60, 0x00, 0xf3],
            9,
            200_000,
        ),
        create_tx(14, &[0x60, 0x00, 0x60, 0x00, 0xfd], 0, 100_000),
        create_tx(15, &[], 0, 60_000),
        // Access lists: the contract's slots and another account warm from the start.
        access_tx(16, CONTRACT, true, 100_000),
        access_tx(17, CONTRACT, false, 100_000),
    ];
    check_block(&build(&code, txs), &mut seen);
    for kind in [StepKind::TxInit, StepKind::TxEnd, StepKind::BlockEnd] {
        assert!(seen.kinds.contains(&kind), "{kind:?} never ran");
    }
    // An empty block is one block-end step.
    check_block(&build(&code, vec![]), &mut seen);
    eprintln!("block steps checked: {}", seen.steps);
    seen.print_proof_sizes();
}

fn random_op() -> impl Strategy<Value = Vec<u8>> {
    let plain: Vec<u8> = opcodes::all()
        .filter(|op| !(0x60..=0x7f).contains(op))
        .collect();
    prop_oneof![
        6 => proptest::sample::select(plain).prop_map(|op| vec![op]),
        3 => (1usize..=32, any::<[u8; 32]>()).prop_map(|(n, bytes)| {
            let mut v = vec![0x5f + n as u8];
            v.extend_from_slice(&bytes[..n]);
            v
        }),
        // Small memory offsets and jump targets keep programs running.
        3 => (0u8..=96).prop_map(|b| vec![0x60, b]),
        1 => Just(vec![0x5b]),
        1 => proptest::sample::select(vec![0xfeu8, 0x0c, 0x21, 0xef]).prop_map(|op| vec![op]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_programs_verify_step_by_step(
        ops in proptest::collection::vec(random_op(), 1..120),
        calldata in proptest::collection::vec(any::<u8>(), 0..80),
        gas in 22_400u64..200_000,
    ) {
        let mut code: Vec<u8> = ops.concat();
        // No contract's code starts with 0xEF (EIP-3541; the genesis refuses it).
        if code.first() == Some(&0xef) {
            code.insert(0, 0x5b);
        }
        check_program(&code, &calldata, gas, &mut Seen::default());
    }
}

/// Creation code of an npm artifact (`bytecode` as a string or `{ object }`), from the pinned
/// packages `scripts/install-deps.sh` installs.
fn npm_code(path: &str) -> Vec<u8> {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/node_modules")
        .join(path);
    let text = std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/install-deps.sh)", full.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("artifact json");
    let code = match &json["bytecode"] {
        serde_json::Value::String(s) => s.clone(),
        other => other["object"].as_str().expect("bytecode").to_string(),
    };
    alloy_primitives::hex::decode(code.trim_start_matches("0x")).expect("hex")
}

alloy::sol! {
    function approve(address spender, uint256 amount) returns (bool);
    function addLiquidityETH(address token, uint256 amountTokenDesired, uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) payable returns (uint256, uint256, uint256);
    function swapExactETHForTokens(uint256 amountOutMin, address[] path, address to, uint256 deadline) payable returns (uint256[]);
    function swapExactTokensForETH(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) returns (uint256[]);
}

/// The Uniswap V2 flow from the npm artifacts in one block: deploy WETH9, the factory, the
/// router and a token; approve; add liquidity with ETH (the factory creates the pair with
/// CREATE2); swap ETH for tokens and tokens for ETH. Every step verified against revm.
#[test]
fn uniswap_v2_deploy_liquidity_and_swaps_verify_step_by_step() {
    use alloy::sol_types::{SolCall, SolValue};
    let me = caller();
    let weth = me.create(0);
    let factory = me.create(1);
    let router = me.create(2);
    let token = me.create(3);
    let mut factory_code = npm_code("@uniswap/v2-core/build/UniswapV2Factory.json");
    factory_code.extend(me.abi_encode());
    let mut router_code = npm_code("@uniswap/v2-periphery/build/UniswapV2Router02.json");
    router_code.extend((factory, weth).abi_encode_params());
    let deadline = U256::from(1u64 << 40);
    let call = |nonce: u64, to: Address, value: u64, data: Vec<u8>, gas: u64| {
        let mut t = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 2_000_000_000,
            to: TxKind::Call(to),
            value: U256::from(value),
            input: data.into(),
            ..Default::default()
        };
        let sig = signer().sign_transaction_sync(&mut t).expect("sign");
        (OpTxEnvelope::Eip1559(t.into_signed(sig)), me)
    };
    let txs = vec![
        create_tx(
            0,
            &npm_code("@uniswap/v2-periphery/build/WETH9.json"),
            0,
            1_500_000,
        ),
        create_tx(1, &factory_code, 0, 4_000_000),
        create_tx(2, &router_code, 0, 5_000_000),
        create_tx(3, &token_initcode(1_000_000_000_000), 0, 3_000_000),
        call(
            4,
            token,
            0,
            approveCall {
                spender: router,
                amount: U256::MAX,
            }
            .abi_encode(),
            100_000,
        ),
        call(
            5,
            router,
            1_000_000_000_000,
            addLiquidityETHCall {
                token,
                amountTokenDesired: U256::from(500_000_000_000u64),
                amountTokenMin: U256::ZERO,
                amountETHMin: U256::ZERO,
                to: me,
                deadline,
            }
            .abi_encode(),
            4_000_000,
        ),
        call(
            6,
            router,
            10_000_000,
            swapExactETHForTokensCall {
                amountOutMin: U256::ZERO,
                path: vec![weth, token],
                to: me,
                deadline,
            }
            .abi_encode(),
            300_000,
        ),
        call(
            7,
            router,
            0,
            swapExactTokensForETHCall {
                amountIn: U256::from(5_000_000u64),
                amountOutMin: U256::ZERO,
                path: vec![token, weth],
                to: me,
                deadline,
            }
            .abi_encode(),
            300_000,
        ),
    ];
    let built = build(&[0x00], txs);
    for (i, r) in built.block1.receipts.iter().enumerate() {
        assert!(
            alloy_consensus::TxReceipt::status(r),
            "uniswap transaction {i} failed"
        );
    }
    let mut seen = Seen::default();
    check_block(&built, &mut seen);
    eprintln!(
        "uniswap block: {} steps verified, {} distinct opcodes, {} frame exits",
        seen.steps,
        seen.opcodes.len(),
        seen.exits
    );
    assert!(seen.opcodes.contains(&0xf5), "the factory's CREATE2 ran");
}

/// Call data holding one input per precompile, and the calls: (address, offset, length, gas,
/// value for a CALL or `None` for a STATICCALL).
#[allow(clippy::type_complexity)]
fn precompile_inputs() -> (Vec<u8>, Vec<(u64, u64, u64, u64, Option<u64>)>) {
    use alloy::signers::SignerSync;
    let word = |v: u64| U256::from(v).to_be_bytes::<32>().to_vec();
    let hash = keccak256(b"step machine");
    let sig = signer().sign_hash_sync(&hash).expect("sign");
    let mut ecrecover = hash.to_vec();
    ecrecover.extend(word(27 + sig.v() as u64));
    ecrecover.extend(sig.r().to_be_bytes::<32>());
    ecrecover.extend(sig.s().to_be_bytes::<32>());
    let mut modexp = [word(1), word(1), word(1)].concat();
    modexp.extend([3, 5, 7]);
    let bn_add = [word(1), word(2), word(1), word(2)].concat();
    let bn_mul = [word(1), word(2), word(3)].concat();
    // EIP-152 test vector 5: 12 rounds of "abc".
    let mut blake = alloy_primitives::hex::decode(
        "0000000c48c9bdf267e6096a3ba7ca8485ae67bb2bf894fe72f36e3cf1361d5f3af54fa5d182e6ad7f520e511f6c3e2b8c68059b6bbd41fbabd9831f79217e1319cde05b616263",
    )
    .expect("hex");
    blake.resize(4 + 64 + 128, 0);
    blake.extend([3, 0, 0, 0, 0, 0, 0, 0]);
    blake.extend([0; 8]);
    blake.push(1);
    let inputs: Vec<(u64, Vec<u8>, u64, Option<u64>)> = vec![
        (1, ecrecover, 10_000, None),
        (2, (0..100u8).collect(), 10_000, None),
        (3, (0..50u8).collect(), 10_000, None),
        (4, (0..70u8).collect(), 10_000, None),
        (5, modexp, 10_000, None),
        (6, bn_add, 10_000, None),
        (7, bn_mul, 10_000, None),
        (8, vec![], 100_000, None),
        (9, blake, 10_000, None),
        (10, vec![0; 192], 100_000, None), // not a valid KZG proof: fails
        (4, (0..70u8).collect(), 10, None), // out of gas
        (4, vec![1, 2, 3], 10_000, Some(3)), // CALL with value
    ];
    let mut data = Vec::new();
    let mut calls = Vec::new();
    for (address, input, gas, value) in inputs {
        calls.push((address, data.len() as u64, input.len() as u64, gas, value));
        data.extend(input);
    }
    (data, calls)
}

/// A contract that calls itself with all its gas until the call-depth limit (1024) refuses the
/// next call: every frame's entry, the refused call at the bottom and every exit verify.
#[test]
fn call_depth_limit_verifies() {
    // PUSH0 ×5, ADDRESS, GAS, CALL, STOP
    let code = [0x5f, 0x5f, 0x5f, 0x5f, 0x5f, 0x30, 0x5a, 0xf1, 0x00];
    let (chain, block0, state) = genesis(&code);
    let gas = 300_000_000_000u64; // below the 5e11 the memory tree assumes
    let attrs = BlockAttributes {
        timestamp: 12,
        gas_limit: gas,
        prevrandao: B256::repeat_byte(0x99),
        extra_data: Bytes::new(),
    };
    let mut builder = BlockBuilder::new(&chain.spec, &state, &block0.header, block0.hash, attrs);
    let (t, sender) = tx(0, CONTRACT, 0, &[], gas);
    builder
        .execute(ExecutableTx { tx: t, sender })
        .expect("included");
    let block1 = builder.finish().expect("finish");
    let built = Built {
        chain,
        block0,
        state,
        block1,
    };
    let mut seen = Seen::default();
    check_block(&built, &mut seen);
    assert_eq!(seen.exits, 1024, "one exit per called frame");
}

/// Initcode that sets slot 0 to 5, back to 0, to 7 (the slot is linked twice), slot 1 to 9,
/// then self-destructs to `RICH` (EIP-6780: deleted at the transaction's end).
fn destruct_in_initcode() -> Vec<u8> {
    let rich = U256::from_be_slice(RICH.as_slice());
    Asm::new()
        .pushn(5)
        .pushn(0)
        .op(0x55)
        .pushn(0)
        .pushn(0)
        .op(0x55)
        .pushn(7)
        .pushn(0)
        .op(0x55)
        .pushn(9)
        .pushn(1)
        .op(0x55)
        .push(rich)
        .op(0xff)
        .0
}

/// The derivation program (`contracts/src/derivation`) is an ordinary contract to the step
/// machine: its check of a block record's transactions (strict RLP, the signing hash, `ecrecover`
/// through the precompile, the input word trees, the access-list chain, the input tree) verifies
/// step by step against revm, and it answers what the Rust rule answers.
#[test]
fn the_derivation_program_verifies_step_by_step() {
    use alloy::eips::eip2718::Encodable2718;
    use alloy::sol_types::{sol, SolCall};
    sol! {
        function userTxInputs(bytes txs, uint256 chainId) external pure
            returns (uint256 count, bytes32 inputsRoot);
    }
    let code = alloy_primitives::hex::decode(deployed_code(include_str!(
        "../../contracts/out/Derivation.json"
    )))
    .expect("hex");
    let mut other_chain = TxLegacy {
        chain_id: Some(1),
        gas_limit: 21_000,
        to: TxKind::Call(RICH),
        ..Default::default()
    };
    let sig = signer()
        .sign_transaction_sync(&mut other_chain)
        .expect("sign");
    let raws: Vec<Vec<u8>> = [
        legacy(0, RICH, 5, 21_000).0,
        access_tx(1, CONTRACT, false, 100_000).0,
        tx(2, ECHO, 9, &[0, 1, 0, 2, 3, 0, 0, 4].repeat(5), 100_000).0,
        OpTxEnvelope::Legacy(other_chain.into_signed(sig)),
        access_tx(3, CONTRACT, true, 100_000).0,
    ]
    .iter()
    .map(|t| t.encoded_2718())
    .collect();
    let mut section = (raws.len() as u32).to_be_bytes().to_vec();
    for raw in &raws {
        section.extend((raw.len() as u32).to_be_bytes());
        section.extend(raw);
    }
    let calldata = userTxInputsCall {
        txs: section.into(),
        chainId: U256::from(CHAIN_ID),
    }
    .abi_encode();
    let mut seen = Seen::default();
    let built = build(&code, vec![tx(0, CONTRACT, 0, &calldata, 5_000_000)]);
    let valid: Vec<_> = raws
        .iter()
        .filter_map(|raw| fraud_vm::batch::decode_user_tx(&built.chain.spec, raw).ok())
        .map(|t| vm::input::TxInput::from_tx(&t.tx, t.sender))
        .collect();
    assert_eq!(valid.len(), 4, "the chain-1 transaction is the invalid one");
    let ops = check_block(&built, &mut seen);
    for (op, what) in [
        (0xfa, "STATICCALL (ecrecover)"),
        (0x20, "KECCAK256"),
        (0xf3, "RETURN"),
    ] {
        assert!(ops.contains(&op), "the program never ran {what}");
    }
    assert!(!ops.contains(&0xfd), "the program reverted");
    let ret =
        userTxInputsCall::abi_decode_returns(&built.block1.outcomes[0].output).expect("abi output");
    assert_eq!(ret.count, U256::from(valid.len()));
    assert_eq!(ret.inputsRoot, vm::input::root(&valid));
    eprintln!(
        "derivation program over {} transactions: {} steps, {} gas",
        raws.len(),
        seen.steps,
        built.block1.header.gas_used
    );
}

/// The program's derivation of a batch's first block record (`deriveRecord` at position 0: the
/// whole batch decoded and checked, the record's bounds, its transactions) verifies step by
/// step, and its answer is the Rust rule's.
#[test]
fn the_program_deriving_a_batch_record_verifies_step_by_step() {
    use alloy::eips::eip2718::Encodable2718;
    use alloy::sol_types::SolCall;
    use common::record_abi::{deriveRecordCall, Context};
    use fraud_vm::batch::{Batch, BatchBlock, BatchOrigin};
    let code = alloy_primitives::hex::decode(deployed_code(include_str!(
        "../../contracts/out/Derivation.json"
    )))
    .expect("hex");
    let raws: Vec<Bytes> = [
        legacy(0, RICH, 5, 21_000).0,
        access_tx(1, CONTRACT, true, 100_000).0,
    ]
    .iter()
    .map(|t| t.encoded_2718().into())
    .collect();
    let origin = BatchOrigin {
        number: 40,
        hash: B256::repeat_byte(0x40),
    };
    let batch = Batch {
        first_block: 8,
        parent_hash: B256::repeat_byte(7),
        blocks: vec![
            BatchBlock {
                timestamp: 1_000,
                gas_limit: 30_000_000,
                prevrandao: B256::repeat_byte(0x11),
                extra_data: Bytes::from_static(b"record"),
                origin: Some(origin),
                delayed_read: 3,
                transactions: raws.clone(),
            },
            BatchBlock {
                timestamp: 1_001,
                gas_limit: 30_000_000,
                transactions: vec![raws[0].clone()],
                ..Default::default()
            },
        ],
    };
    let ctx = Context {
        parentNumber: 7,
        parentHash: B256::repeat_byte(7),
        parentTimestamp: 990,
        chainId: CHAIN_ID,
        position: 0,
        hasOrigin: true,
        originNumber: 39,
        originHash: B256::repeat_byte(0x39),
        l1BlockNumber: 41,
        l1Timestamp: 1_100,
    };
    let calldata = deriveRecordCall {
        batch: batch.encode().into(),
        ctx,
    }
    .abi_encode();
    let built = build(&code, vec![tx(0, CONTRACT, 0, &calldata, 10_000_000)]);
    let mut seen = Seen::default();
    let ops = check_block(&built, &mut seen);
    assert!(!ops.contains(&0xfd), "the program reverted");
    let record =
        deriveRecordCall::abi_decode_returns(&built.block1.outcomes[0].output).expect("abi output");
    let spec = &built.chain.spec;
    let valid: Vec<_> = raws
        .iter()
        .filter_map(|raw| fraud_vm::batch::decode_user_tx(spec, raw).ok())
        .map(|t| vm::input::TxInput::from_tx(&t.tx, t.sender))
        .collect();
    assert_eq!(valid.len(), 2);
    assert_eq!(record.status, 0, "{record:?}");
    assert_eq!(
        (record.timestamp, record.gasLimit, record.delayedRead),
        (1_000, 30_000_000, 3)
    );
    assert_eq!(record.extraDataHash, keccak256(b"record"));
    assert!(record.hasOrigin);
    assert_eq!((record.originNumber, record.originHash), (40, origin.hash));
    assert_eq!(record.txCount, 2);
    assert_eq!(record.inputsRoot, vm::input::root(&valid));
    assert_eq!(record.nextPosition, batch.next_position(0));
    eprintln!(
        "deriveRecord opening a 2-block batch (2 + 1 transactions): {} steps, {} gas",
        seen.steps, built.block1.header.gas_used
    );
}

#[test]
fn eip6780_accounts_created_and_destroyed_in_one_transaction_verify() {
    // CONTRACT: CREATE (5 wei) from its call data, then CALL the new account twice (0, then 50
    // wei), then STOP.
    let code = Asm::new()
        .op(0x36)
        .pushn(0)
        .pushn(0)
        .op(0x37)
        .op(0x36)
        .pushn(0)
        .pushn(5)
        .op(0xf0)
        .op(0x80)
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .op(0x85)
        .op(0x5a)
        .op(0xf1)
        .op(0x50)
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .pushn(0)
        .pushn(50)
        .op(0x85)
        .op(0x5a)
        .op(0xf1)
        .op(0x50)
        .op(0x50)
        .op(0x50)
        .op(0x00)
        .0;
    let rich = U256::from_be_slice(RICH.as_slice());
    // Runtime: slot 3 = 1, SELFDESTRUCT to itself (burns the balance); called twice, so the
    // account is linked twice. Its initcode sets slot 4 first.
    let runtime = [0x60, 0x01, 0x60, 0x03, 0x55, 0x30, 0xff];
    let destruct_on_call = Asm::new()
        .pushn(0x44)
        .pushn(4)
        .op(0x55)
        .push(U256::from_be_slice(&runtime))
        .pushn(0)
        .op(0x52)
        .pushn(7)
        .pushn(25)
        .op(0xf3)
        .0;
    // A grandchild that sets slot 0 and self-destructs to RICH, created by a child that then
    // reverts (`revert`) or stops.
    let grandchild = Asm::new().pushn(1).pushn(0).op(0x55).push(rich).op(0xff).0;
    assert_eq!(grandchild.len(), 27);
    let nested = |revert: bool| {
        let a = Asm::new()
            .push(U256::from_be_slice(&grandchild))
            .pushn(0)
            .op(0x52)
            .pushn(27)
            .pushn(5)
            .pushn(0)
            .op(0xf0)
            .op(0x50);
        if revert {
            a.pushn(0).pushn(0).op(0xfd).0
        } else {
            a.op(0x00).0
        }
    };
    let txs = vec![
        tx(0, CONTRACT, 1000, &destruct_in_initcode(), 1_000_000),
        tx(1, CONTRACT, 1000, &destruct_on_call, 1_000_000),
        tx(2, CONTRACT, 1000, &nested(true), 1_000_000),
        tx(3, CONTRACT, 1000, &nested(false), 1_000_000),
        // A creating transaction whose initcode self-destructs.
        create_tx(4, &destruct_in_initcode(), 11, 1_000_000),
    ];
    let built = build(&code, txs);
    let mut seen = Seen::default();
    check_block(&built, &mut seen);
    let destructs = seen.proof_bytes.get("(destruct)").map_or(0, |e| e.0);
    // tx 0: slot 0 twice, slot 1, the account; tx 1: slots 3 and 4, the account twice;
    // tx 3: slot 0, the grandchild; tx 4: like tx 0.
    assert_eq!(destructs, 4 + 4 + 2 + 4, "deletion micro-steps");
    let gone = [
        CONTRACT.create(0),
        CONTRACT.create(1),
        CONTRACT.create(3).create(1),
        caller().create(4),
    ];
    let mut after = built.state.clone();
    after.apply(&built.block1);
    for a in gone {
        assert_eq!(after.account(&a), None, "{a} deleted");
        for slot in [0u64, 1, 3, 4] {
            assert_eq!(
                after.storage(&a, &U256::from(slot)),
                U256::ZERO,
                "{a} slot {slot}"
            );
        }
    }
    // The child of tx 3 survives (it did not self-destruct); the reverted one never existed.
    assert!(after.account(&CONTRACT.create(3)).is_some());
    assert_eq!(after.account(&CONTRACT.create(2)), None);
    assert_eq!(after.account(&CONTRACT.create(2).create(1)), None);
    // RICH got the 5 wei of tx 0's child and tx 4's 11, and the grandchild's nothing.
    let rich_before = built.state.account(&RICH).expect("rich").balance;
    assert_eq!(
        after.account(&RICH).expect("rich").balance,
        rich_before + U256::from(5 + 11)
    );
    // Tampering with a deletion (of a slot, of the account) is caught.
    for skip in [0, 3] {
        let (pre, proof, post) = sample(&built, StepKind::Destruct, skip);
        assert!(kinds(&proof).contains(&"chain link"));
        assert_sound(pre, &proof, post);
    }
    eprintln!(
        "EIP-6780 block: {} steps, {destructs} deletions",
        seen.steps
    );
    seen.print_proof_sizes();
}

#[test]
fn creating_transactions_with_access_lists_verify() {
    let txs = vec![
        // Multi-piece initcode (the token), one piece, and empty initcode.
        create_access_tx(0, &token_initcode(1_000), 3_000_000),
        create_access_tx(
            1,
            &[0x60, 0x2a, 0x60, 0x00, 0x55, 0x60, 0x01, 0x60, 0x00, 0xf3],
            200_000,
        ),
        create_access_tx(2, &[], 100_000),
    ];
    let built = build(&[0x00], txs);
    let mut seen = Seen::default();
    check_block(&built, &mut seen);
    assert!(built.block1.receipts.iter().all(|r| r.is_success()));
    let mut after = built.state.clone();
    after.apply(&built.block1);
    assert_eq!(
        after.storage(&caller().create(1), &U256::ZERO),
        U256::from(0x2a)
    );
    eprintln!(
        "creating transactions with access lists: {} steps",
        seen.steps
    );
    seen.print_proof_sizes();
}

#[test]
fn transactions_to_precompiles_verify() {
    let pre = |n: u8| Address::with_last_byte(n);
    let txs = vec![
        tx(0, pre(4), 7, &[0xab; 100], 100_000),
        tx(1, pre(2), 0, &[0x01; 40], 100_000),
        tx(2, pre(1), 0, &[0x02; 128], 100_000),
        // Not a curve point: the precompile fails, the value comes back, all gas is used.
        tx(3, pre(6), 9, &[0x01; 128], 100_000),
        tx(4, pre(0x0a), 0, &[0x03; 192], 100_000),
        // Empty input to identity; a 4 KiB input.
        tx(5, pre(4), 0, &[], 30_000),
        tx(6, pre(4), 0, &[0x5a; 4096], 200_000),
    ];
    let built = build(&[0x00], txs);
    let mut seen = Seen::default();
    check_block(&built, &mut seen);
    let status: Vec<bool> = built
        .block1
        .receipts
        .iter()
        .map(|r| r.is_success())
        .collect();
    assert_eq!(status, [true, true, true, false, false, true, true]);
    // The input is one word range: its bytes plus at most two siblings per level.
    let (_, largest) = seen.proof_bytes["(tx init)"];
    assert!(largest < 4096 + 8_000, "tx-init proof of {largest} bytes");
    let mut after = built.state.clone();
    after.apply(&built.block1);
    assert_eq!(
        after.account(&pre(4)).expect("identity").balance,
        U256::from(7)
    );
    assert_eq!(
        after.account(&pre(6)),
        None,
        "the failed call's value came back"
    );
    assert!(seen.kinds.contains(&StepKind::TxInit));
    seen.print_proof_sizes();
}

/// The precompile limits (`fraud_vm::precompile`): an identity call on exactly `MAX_INPUT`
/// bytes runs and its step reads the input as one word range; one byte more fails unread (no
/// input witness), in the node's block and in the step machine alike; a transaction whose
/// target is a precompile obeys the same rule.
#[test]
fn precompile_input_limit_bounds_the_call_step() {
    use fraud_vm::precompile::MAX_INPUT;
    let call_identity = |asm: Asm, len: u64, slot: u64| {
        asm.pushn(0)
            .pushn(0)
            .pushn(len)
            .pushn(0)
            .pushn(0)
            .pushn(4)
            .pushn(300_000)
            .op(0xf1)
            .pushn(slot)
            .op(0x55)
    };
    let code = call_identity(
        call_identity(Asm::new(), MAX_INPUT as u64, 0),
        MAX_INPUT as u64 + 1,
        1,
    )
    .op(0x00)
    .0;
    let identity = Address::with_last_byte(4);
    let txs = vec![
        tx(0, CONTRACT, 0, &[], 2_000_000),
        tx(1, identity, 0, &vec![1u8; MAX_INPUT], 2_000_000),
        tx(2, identity, 0, &vec![1u8; MAX_INPUT + 1], 2_000_000),
    ];
    let built = build(&code, txs);
    check_block(&built, &mut Seen::default());
    let trace = built.trace();
    let reads: Vec<usize> = (0..trace.len())
        .filter_map(|i| {
            let (proof, info) = trace.prove_step(i).expect("prove");
            let words = proof.witnesses().iter().find_map(|w| match w {
                Witness::Words { words, .. } => Some(words.len()),
                _ => None,
            });
            matches!(info.kind, StepKind::Opcode(0xf1) | StepKind::TxInit)
                .then(|| words.unwrap_or(0))
        })
        .collect();
    // Tx-init of the call (no input), the two calls, tx-init of the precompile transactions.
    assert_eq!(reads, [0, MAX_INPUT / 32, 0, MAX_INPUT / 32, 0]);
    // The call at the limit succeeded, the one over it failed; so did the transactions.
    let receipts: Vec<bool> = built.block1.receipts.iter().map(|r| r.status()).collect();
    assert_eq!(receipts, [true, true, false]);
}

/// An SMT over `keys` (each a member), for proving against.
fn set_tree(keys: &[B256]) -> (fraud_vm::smt::MemoryNodes, B256) {
    use fraud_vm::smt::{self, MemoryNodes};
    let mut nodes = MemoryNodes::new();
    let changes = keys.iter().map(|k| (*k, Some(vm::SET_MEMBER))).collect();
    let result = smt::update(&nodes, B256::ZERO, changes).expect("update");
    nodes.insert_all(result.new_nodes);
    (nodes, result.root)
}

/// A consistent forgery of an access-list micro-step: another address or slot with a valid set
/// proof. Each entry is checked against the rest of the list's hash chain (`vm::input`), so
/// every one is refused, the intermediate ones included (they once were not).
#[test]
fn intermediate_access_list_entries_are_bound() {
    use fraud_vm::{
        smt::{self, MemoryNodes},
        state::{account_key, storage_key},
    };
    // Entries: CONTRACT, its slots 1 and 9, OTHER: all but the last are intermediate.
    let built = build(&[0x00], vec![access_tx(0, CONTRACT, true, 100_000)]);
    let evil = Address::repeat_byte(0x66);
    let evil_slot = B256::with_last_byte(7);
    // The sets a forged entry is proven against: the accessed addresses at the start
    // ({sender, to, coinbase}) and the empty accessed-slots set.
    let (addresses, addresses_root) = set_tree(&[
        account_key(&caller()),
        account_key(&CONTRACT),
        account_key(&COINBASE),
    ]);
    let mut forged_kinds = Vec::new();
    let trace = built.trace();
    for i in 0..trace.len() {
        let (proof, info) = trace.prove_step(i).expect("prove");
        let (pre, post) = (trace.state_hash(i), trace.state_hash(i + 1));
        let Proof::Step(step) = &proof else { continue };
        if info.kind != StepKind::TxInit {
            continue;
        }
        let Some(at) = step
            .witnesses
            .iter()
            .position(|w| matches!(w, Witness::AccessEntry(_)))
        else {
            continue;
        };
        let Witness::AccessEntry(honest) = step.witnesses[at] else {
            unreachable!()
        };
        let (entry, smt_proof) = match honest.slot {
            None if step.tx.accessed_addresses == addresses_root => (
                vm::input::AccessEntry {
                    address: evil,
                    slot: None,
                },
                smt::prove(&addresses, addresses_root, &account_key(&evil)),
            ),
            Some(_) if step.tx.accessed_slots.is_zero() => (
                vm::input::AccessEntry {
                    address: honest.address,
                    slot: Some(evil_slot),
                },
                smt::prove(
                    &MemoryNodes::new(),
                    B256::ZERO,
                    &storage_key(&honest.address, &U256::from_be_bytes(evil_slot.0)),
                ),
            ),
            _ => continue,
        };
        let mut forged = (**step).clone();
        forged.witnesses[at] = Witness::AccessEntry(entry);
        let smt_at = at
            + forged.witnesses[at..]
                .iter()
                .position(|w| matches!(w, Witness::Smt(_)))
                .expect("the set write");
        forged.witnesses[smt_at] = Witness::Smt(smt_proof.expect("prove"));
        let what = || format!("access-list entry {honest:?} replaced by {entry:?}");
        assert!(!accepts(pre, &Proof::Step(Box::new(forged)), post, &what));
        forged_kinds.push(honest.slot.is_some());
    }
    // Warming CONTRACT (already warm) leaves the address set as it was, so the last entry
    // (OTHER, always checked) is attacked too.
    assert_eq!(
        forged_kinds,
        [false, true, false],
        "the intermediate address and slot entries and the last entry"
    );
}

/// A block the trace cannot replay says why, in the variant a caller acts on: a block that is
/// not what the rules build on its parent (a wrong state root, a transaction revm refuses, a
/// sender list that does not fit) is told apart from a storage failure or a bug in the trace.
#[test]
fn trace_failures_say_what_is_wrong() {
    let built = build(
        &[0x00],
        vec![tx(0, OTHER, 1, &[], 100_000), tx(1, OTHER, 2, &[], 100_000)],
    );
    let trace = |block: &BuiltBlock| {
        Trace::for_block(
            &built.state,
            &built.chain.spec,
            &built.block0.header,
            block,
            CURSOR.hash(),
        )
    };
    assert!(trace(&built.block1).is_ok());

    let mut wrong_root = built.block1.clone();
    wrong_root.header.state_root = B256::repeat_byte(0x5a);
    match trace(&wrong_root) {
        Err(TraceError::StateRootMismatch { replayed, header }) => {
            assert_eq!(replayed, built.block1.header.state_root);
            assert_eq!(header, B256::repeat_byte(0x5a));
        }
        other => panic!("expected a state root mismatch, got {:?}", other.err()),
    }

    // The caller's transactions swapped: the first one has nonce 1 where 0 is due.
    let mut swapped = built.block1.clone();
    swapped.transactions.swap(0, 1);
    match trace(&swapped) {
        Err(TraceError::InvalidTransaction { index, .. }) => assert_eq!(index, 0),
        other => panic!("expected an invalid transaction, got {:?}", other.err()),
    }

    let mut unsigned = built.block1.clone();
    unsigned.senders.pop();
    match trace(&unsigned) {
        Err(TraceError::SendersMismatch {
            transactions,
            senders,
        }) => assert_eq!((transactions, senders), (2, 1)),
        other => panic!("expected a senders mismatch, got {:?}", other.err()),
    }
}
