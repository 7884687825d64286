//! Traces: replay a transaction with revm and an [`Inspector`], record the machine state before
//! every step, and produce one-step proofs.
//!
//! The trace is built from what revm observes (program counter, gas, stack, memory, return
//! data, how each frame ended), not from this crate's step semantics, so checking
//! `verify_step(state_hash(i), prove_step(i)) == state_hash(i + 1)` for every step is a
//! differential test of the reference verifier against revm.

use std::sync::Arc;

use alloy_primitives::{Address, Bytes, B256, U256};
use revm::{
    context::{result::ExecutionResult, BlockEnv, ContextTr, TxEnv},
    context_interface::{block::BlobExcessGasAndPrice, transaction::Transaction, Block as _},
    database_interface::Database,
    handler::MainBuilder,
    inspector::{InspectEvm, Inspector},
    interpreter::{
        interpreter::EthInterpreter,
        interpreter_types::{InputsTr, Jumps, LoopControl, ReturnData, RuntimeFlag},
        CallInput, InstructionResult, Interpreter, InterpreterAction,
    },
    primitives::{hardfork::SpecId, TxKind},
    MainContext,
};

use super::{
    machine::{stack_hash, BlockPart, Frame, FrameKind, Machine, Status, TxPart},
    oracle::Oracle,
    proof::{Proof, Witness},
    step, StepError, StepInfo, DATA_DEPTH,
};
use crate::{
    code::{ChunkedCode, PIECE},
    merkle,
    smt::{self, MemoryNodes},
    state::{account_key, storage_key},
};

/// Why a transaction could not be traced.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// revm refused the transaction (invalid nonce, balance, …) or its database failed.
    #[error("execution failed: {0}")]
    Execution(String),
    /// The transaction does something the step machine cannot trace yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// revm's observed behaviour is inconsistent with the trace's model (a bug).
    #[error("inconsistent trace: {0}")]
    Inconsistent(String),
}

/// The fixed facts of one call frame.
#[derive(Debug)]
struct FrameData {
    kind: FrameKind,
    depth: u64,
    is_static: bool,
    address: Address,
    caller: Address,
    value: U256,
    code: ChunkedCode,
    calldata: Bytes,
    calldata_levels: Vec<Vec<B256>>,
}

/// The machine state before one step (or after the last), as revm showed it.
#[derive(Clone, Debug)]
struct Snapshot {
    frame: usize,
    status: Status,
    pc: u64,
    gas: u64,
    stack: Vec<U256>,
    memory: Arc<Vec<u8>>,
    returndata: Bytes,
    out: (u64, u64),
}

/// A transaction's execution, step by step.
#[derive(Debug)]
pub struct Trace {
    block: BlockPart,
    tx: TxPart,
    frames: Vec<FrameData>,
    /// `states[i]` is the state before step `i`; the last one is the state after the last step.
    states: Vec<Snapshot>,
}

/// Words of a byte string, zero-padded.
fn words(bytes: &[u8]) -> Vec<B256> {
    bytes
        .chunks(32)
        .map(|c| {
            let mut w = [0u8; 32];
            w[..c.len()].copy_from_slice(c);
            B256::from(w)
        })
        .collect()
}

/// Root of the word tree of `bytes` (memory, call data, return data).
pub fn data_root(bytes: &[u8]) -> B256 {
    merkle::root(&words(bytes), DATA_DEPTH)
}

/// The precompile addresses of Cancun (0x01 … 0x0a), warm from the start of every transaction.
pub fn precompiles() -> impl Iterator<Item = Address> {
    (1u8..=0x0a).map(Address::with_last_byte)
}

/// Root of a set of keys (an SMT whose leaves have value `bytes32(1)`).
pub fn set_root(keys: impl IntoIterator<Item = B256>) -> B256 {
    let one = B256::with_last_byte(1);
    let changes: Vec<(B256, Option<B256>)> = keys.into_iter().map(|k| (k, Some(one))).collect();
    let nodes = MemoryNodes::default();
    smt::update(&nodes, B256::ZERO, changes)
        .map(|u| u.root)
        .unwrap_or_default()
}

impl Trace {
    /// Executes `tx` on `db` in the block described by `block` (revm, Cancun) and records every
    /// step. `block.state_root` must be the root of `db`'s state (it becomes the transaction's
    /// start root). Fails with [`TraceError::Unsupported`] if execution leaves the
    /// transaction's own frame (calls, creates) — not traceable yet.
    pub fn for_tx<DB: Database>(
        db: DB,
        block: &BlockPart,
        tx: TxEnv,
    ) -> Result<(Self, ExecutionResult), TraceError> {
        let mut tracer = Tracer::default();
        let block_env = BlockEnv {
            number: U256::from(block.number),
            beneficiary: block.coinbase,
            timestamp: U256::from(block.timestamp),
            gas_limit: block.gas_limit,
            basefee: block.base_fee,
            prevrandao: Some(block.prevrandao),
            blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(0, 1)),
            ..Default::default()
        };
        let tx_part = tx_part(block, &block_env, &tx);
        let mut evm = revm::Context::mainnet()
            .with_db(db)
            .with_block(block_env)
            .modify_cfg_chained(|cfg| {
                cfg.chain_id = block.chain_id;
                cfg.set_spec_and_mainnet_gas_params(SpecId::CANCUN);
            })
            .build_mainnet_with_inspector(&mut tracer);
        let result = evm
            .inspect_tx(tx)
            .map_err(|e| TraceError::Execution(format!("{e:?}")))?
            .result;
        drop(evm);
        if let Some(e) = tracer.error {
            return Err(e);
        }
        let mut block = block.clone();
        block.blob_base_fee = U256::from(1);
        Ok((
            Self {
                block,
                tx: tx_part,
                frames: tracer.frames,
                states: tracer.states,
            },
            result,
        ))
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.states.len().saturating_sub(1)
    }

    /// Whether the transaction ran no step (no code at its target).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The machine state before step `i` (`i == len()`: after the last step).
    pub fn machine(&self, i: usize) -> Machine {
        let s = &self.states[i];
        let f = &self.frames[s.frame];
        Machine {
            block: self.block.clone(),
            tx: self.tx.clone(),
            frame: Frame {
                status: s.status,
                kind: f.kind,
                depth: f.depth,
                is_static: f.is_static,
                address: f.address,
                caller: f.caller,
                value: f.value,
                code_len: f.code.len() as u64,
                code_chunk_root: f.code.chunk_root(),
                pc: s.pc,
                gas: s.gas,
                stack_size: s.stack.len() as u64,
                stack_hash: stack_hash(&s.stack),
                mem_words: (s.memory.len() / 32) as u64,
                mem_root: data_root(&s.memory),
                calldata_len: f.calldata.len() as u64,
                calldata_root: f.calldata_levels[DATA_DEPTH]
                    .first()
                    .copied()
                    .unwrap_or_else(|| merkle::zero_hash(DATA_DEPTH)),
                returndata_len: s.returndata.len() as u64,
                returndata_root: data_root(&s.returndata),
                out_offset: s.out.0,
                out_len: s.out.1,
                cursor: 0,
                parent_hash: B256::ZERO,
            },
        }
    }

    /// Hash of the machine state before step `i`.
    pub fn state_hash(&self, i: usize) -> B256 {
        self.machine(i).hash()
    }

    /// Hash of the state after the last step.
    pub fn final_hash(&self) -> B256 {
        self.state_hash(self.len())
    }

    /// The opcode step `i` executes.
    pub fn opcode(&self, i: usize) -> u8 {
        let s = &self.states[i];
        let code = &self.frames[s.frame].code;
        if s.pc >= code.len() as u64 {
            return 0;
        }
        let (chunk, _) = code.open(s.pc / PIECE as u64);
        chunk[1 + (s.pc % PIECE as u64) as usize]
    }

    /// The one-step proof of step `i`, and what the step does.
    pub fn prove_step(&self, i: usize) -> Result<(Proof, StepInfo), StepError> {
        let mut machine = self.machine(i);
        let pre = machine.clone();
        let s = &self.states[i];
        let mut recorder = Recorder::new(s, &self.frames[s.frame]);
        let info = step(&mut machine, &mut recorder)?;
        Ok((
            Proof {
                block: pre.block,
                tx: pre.tx,
                frame: pre.frame,
                witnesses: recorder.witnesses,
            },
            info,
        ))
    }
}

/// The transaction part at the start of `tx`'s first frame.
fn tx_part(block: &BlockPart, env: &BlockEnv, tx: &TxEnv) -> TxPart {
    let to = match tx.kind {
        TxKind::Call(to) => to,
        TxKind::Create => tx.caller.create(tx.nonce),
    };
    let mut addresses: Vec<Address> = vec![tx.caller, to, block.coinbase];
    addresses.extend(precompiles());
    let mut slots = Vec::new();
    for item in tx.access_list.iter() {
        addresses.push(item.address);
        for key in &item.storage_keys {
            slots.push(storage_key(&item.address, &U256::from_be_bytes(key.0)));
        }
    }
    TxPart {
        origin: tx.caller,
        gas_price: U256::from(tx.effective_gas_price(env.basefee() as u128)),
        start_state_root: block.state_root,
        refund: 0,
        accessed_addresses: set_root(addresses.iter().map(account_key)),
        accessed_slots: set_root(slots),
        transient_root: B256::ZERO,
        created_root: B256::ZERO,
        logs_acc: B256::ZERO,
    }
}

/// The Inspector that records frames and per-step snapshots.
#[derive(Default)]
struct Tracer {
    frames: Vec<FrameData>,
    states: Vec<Snapshot>,
    error: Option<TraceError>,
}

impl Tracer {
    fn fail(&mut self, e: TraceError) {
        self.error.get_or_insert(e);
    }
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for Tracer {
    fn initialize_interp(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        let depth = interp.input.depth as u64;
        if depth > 0 || !self.frames.is_empty() {
            self.fail(TraceError::Unsupported(
                "execution that enters a second frame (CALL/CREATE family)".into(),
            ));
            return;
        }
        let calldata = match &interp.input.input {
            CallInput::Bytes(b) => b.clone(),
            other => other.bytes(context),
        };
        let kind = match context.tx().kind() {
            TxKind::Call(_) => FrameKind::Call,
            TxKind::Create => FrameKind::Create,
        };
        self.frames.push(FrameData {
            kind,
            depth,
            is_static: interp.runtime_flag.is_static(),
            address: interp.input.target_address(),
            caller: interp.input.caller_address(),
            value: interp.input.call_value(),
            code: ChunkedCode::new(interp.bytecode.original_byte_slice()),
            calldata_levels: merkle::levels(&words(&calldata), DATA_DEPTH),
            calldata,
        });
    }

    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if self.error.is_some() {
            return;
        }
        let memory = Arc::new(interp.memory.context_memory().to_vec());
        self.states.push(Snapshot {
            frame: self.frames.len() - 1,
            status: Status::Running,
            pc: interp.bytecode.pc() as u64,
            gas: interp.gas.remaining(),
            stack: interp.stack.data().clone(),
            memory,
            returndata: interp.return_data.buffer().clone(),
            out: (0, 0),
        });
    }

    fn step_end(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if self.error.is_some() {
            return;
        }
        let Some(InterpreterAction::Return(result)) = interp.bytecode.action().clone() else {
            return;
        };
        let Some(pre) = self.states.last().cloned() else {
            return;
        };
        let post = match result.result {
            InstructionResult::Stop | InstructionResult::Return | InstructionResult::Revert => {
                let status = if result.result == InstructionResult::Revert {
                    Status::Reverted
                } else {
                    Status::Returned
                };
                let memory = Arc::new(interp.memory.context_memory().to_vec());
                let out = if result.result == InstructionResult::Stop {
                    (0, 0)
                } else {
                    let n = pre.stack.len();
                    let len = pre.stack[n - 2].to::<u64>();
                    let offset = if len == 0 {
                        0
                    } else {
                        pre.stack[n - 1].to::<u64>()
                    };
                    (offset, len)
                };
                let shown = memory
                    .get(out.0 as usize..(out.0 + out.1) as usize)
                    .unwrap_or_default();
                if shown != &result.output[..] {
                    self.fail(TraceError::Inconsistent(
                        "frame output differs from memory".into(),
                    ));
                }
                Snapshot {
                    status,
                    gas: interp.gas.remaining(),
                    stack: interp.stack.data().clone(),
                    memory,
                    out,
                    ..pre
                }
            }
            r if r.is_halt() => Snapshot {
                status: Status::Halted,
                gas: 0,
                ..pre
            },
            other => {
                self.fail(TraceError::Unsupported(format!("frame end {other:?}")));
                return;
            }
        };
        self.states.push(post);
    }
}

/// The prover's oracle: reads the full state of one snapshot and records witnesses.
struct Recorder<'a> {
    frame: &'a FrameData,
    stack: Vec<U256>,
    /// `prefix[k]` = hash of the bottom `k` stack words.
    prefix: Vec<B256>,
    memory: Vec<Vec<B256>>,
    witnesses: Vec<Witness>,
}

impl<'a> Recorder<'a> {
    fn new(s: &Snapshot, frame: &'a FrameData) -> Self {
        let mut prefix = vec![B256::ZERO];
        for w in &s.stack {
            let last = prefix[prefix.len() - 1];
            prefix.push(super::machine::stack_push_hash(&last, w));
        }
        Self {
            frame,
            stack: s.stack.clone(),
            prefix,
            memory: merkle::levels(&words(&s.memory), DATA_DEPTH),
            witnesses: Vec::new(),
        }
    }

    fn memory_leaf(&self, index: u64) -> B256 {
        self.memory[0]
            .get(index as usize)
            .copied()
            .unwrap_or_default()
    }
}

impl Oracle for Recorder<'_> {
    fn pop(&mut self, frame: &mut Frame) -> Result<U256, StepError> {
        let word = self
            .stack
            .pop()
            .ok_or(StepError::MissingWitness("stack word"))?;
        let below = self.prefix[self.stack.len()];
        self.witnesses.push(Witness::Stack { word, below });
        frame.stack_hash = below;
        frame.stack_size -= 1;
        Ok(word)
    }

    fn code_chunk(&mut self, _frame: &Frame, index: u64) -> Result<B256, StepError> {
        let (chunk, path) = self.frame.code.open(index);
        self.witnesses.push(Witness::Code { chunk, path });
        Ok(chunk)
    }

    fn memory_word(&mut self, _frame: &Frame, index: u64) -> Result<B256, StepError> {
        let word = self.memory_leaf(index);
        let path = merkle::path(&self.memory, index);
        self.witnesses.push(Witness::Memory { word, path });
        Ok(word)
    }

    fn modify_memory_word(
        &mut self,
        frame: &mut Frame,
        index: u64,
        f: &mut dyn FnMut(B256) -> B256,
    ) -> Result<(), StepError> {
        let old = self.memory_leaf(index);
        let path = merkle::path(&self.memory, index);
        let new = f(old);
        self.witnesses.push(Witness::Memory {
            word: old,
            path: path.clone(),
        });
        merkle::set_leaf(&mut self.memory, index, new);
        frame.mem_root = merkle::root_from_path(&new, index, &path);
        Ok(())
    }

    fn calldata_word(&mut self, _frame: &Frame, index: u64) -> Result<B256, StepError> {
        let levels = &self.frame.calldata_levels;
        let word = levels[0].get(index as usize).copied().unwrap_or_default();
        let path = merkle::path(levels, index);
        self.witnesses.push(Witness::Data { word, path });
        Ok(word)
    }
}
