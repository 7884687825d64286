//! Traces: replay a block with revm and an [`Inspector`], record the machine state before
//! every step, and produce one-step proofs.
//!
//! The trace is built from what revm observes (program counter, gas, stack, memory, return
//! data, how each frame ended), not from this crate's step semantics, so checking
//! `verify_step(state_hash(i), prove_step(i)) == state_hash(i + 1)` for every step is a
//! differential test of the reference verifier against revm.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use alloy_consensus::Header;
use alloy_primitives::{keccak256, Address, Bloom, Bytes, Log, B256, KECCAK256_EMPTY, U256};
use op_alloy_consensus::OpTxEnvelope;
use revm::{
    context::{
        result::{EVMError, ExecutionResult, ResultAndState},
        ContextTr,
    },
    context_interface::{transaction::Transaction, JournalTr},
    database_interface::Database,
    handler::MainBuilder,
    inspector::{InspectEvm, Inspector},
    interpreter::{
        interpreter::EthInterpreter,
        interpreter_types::{InputsTr, Jumps, LoopControl, RuntimeFlag},
        CallInput, InstructionResult, Interpreter, InterpreterAction,
    },
    primitives::TxKind,
    state::EvmState,
    ExecuteCommitEvm, MainContext,
};

use super::{
    build::CodeBuilder,
    copy::chunk_order,
    input::{self, access_entries, AccessEntry, TxInput},
    keccak::{self, Sponge},
    machine::{
        boundary_frame, parent_hash, stack_hash, BlockPart, Checkpoint, Frame, FrameKind, Machine,
        Status, TxPart,
    },
    oracle::{DataSource, Oracle, WordTree},
    proof::{Proof, StepProof, Terminal, Witness},
    step, StepError, StepInfo, BLOCK_HASH_DEPTH, DATA_DEPTH, SET_MEMBER,
};
use crate::{
    block::{log_hash, receipt_item, Accumulator},
    chain::ChainSpec,
    code::{self, ChunkedCode, PIECE},
    execute::{block_env, deposit_tx_env, tx_env, BlockState, BuiltBlock, StateProvider},
    merkle::{self, data_root, words},
    precompile::L2Precompiles,
    smt::{self, MemoryNodes, NodeReader, Overlay},
    state::{account_key, storage_key, AccountLeaf},
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

/// A byte range of a word tree: call data (in the transaction input or the caller's memory)
/// or return data (in the callee's final memory).
#[derive(Clone, Debug, Default)]
struct DataRef {
    tree: Arc<Vec<u8>>,
    offset: u64,
    len: u64,
}

impl DataRef {
    /// All of `bytes`, as their own tree.
    fn of(bytes: &[u8]) -> Self {
        Self {
            tree: Arc::new(bytes.to_vec()),
            offset: 0,
            len: bytes.len() as u64,
        }
    }

    fn empty() -> Self {
        Self {
            tree: Arc::new(Vec::new()),
            offset: 0,
            len: 0,
        }
    }

    fn levels(&self) -> Vec<Vec<B256>> {
        merkle::levels(&words(&self.tree), DATA_DEPTH)
    }

    fn root(&self) -> B256 {
        data_root(&self.tree)
    }
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
    calldata: DataRef,
    calldata_root: B256,
    /// The suspended caller and the checkpoint (`None` for the transaction's frame).
    parent: Option<(Frame, Checkpoint)>,
}

/// The machine state before one step (or after the last), as revm showed it.
#[derive(Clone, Debug, Default)]
struct Snapshot {
    frame: usize,
    status: Status,
    pc: u64,
    gas: u64,
    stack: Vec<U256>,
    memory: Arc<Vec<u8>>,
    returndata: DataRef,
    out: (u64, u64),
    roots: Roots,
    refund: u64,
    cursor: u64,
    sponge: Option<Sponge>,
    builder: Option<CodeBuilder>,
    /// At a boundary: the input a creating transaction's initcode is being built from.
    building: Option<DataRef>,
    /// At a boundary: the hash chain of the access-list entries not yet warmed.
    chain: Option<B256>,
    progress: Progress,
    /// Index of the transaction being executed (`None` at a boundary).
    tx: Option<usize>,
    /// The block hash once the block has ended.
    sealed: Option<B256>,
}

impl Snapshot {
    /// The output of a frame that ended here (a range of its memory).
    fn output(&self) -> DataRef {
        DataRef {
            tree: self.memory.clone(),
            offset: self.out.0,
            len: self.out.1,
        }
    }
}

/// The tree roots that change during a transaction.
#[derive(Clone, Copy, Debug, Default)]
struct Roots {
    world: B256,
    accessed_addresses: B256,
    accessed_slots: B256,
    transient: B256,
    logs: B256,
    bloom: Bloom,
    created: B256,
    destructed: B256,
}

impl Roots {
    /// The checkpoint of these roots with `refund`.
    fn checkpoint(&self, refund: u64) -> Checkpoint {
        Checkpoint {
            state_root: self.world,
            transient_root: self.transient,
            accessed_addresses: self.accessed_addresses,
            accessed_slots: self.accessed_slots,
            refund,
            logs_acc: self.logs,
            created_root: self.created,
            destructed: self.destructed,
            logs_bloom: self.bloom,
        }
    }
}

/// The block's progress through its transactions.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    cumulative_gas: u64,
    tx_acc: B256,
    receipt_acc: B256,
    tx_index: u64,
    bloom: Bloom,
}

/// Frame index of boundary and end states (they have no frame).
const NO_FRAME: usize = usize::MAX;

/// A sealed block to trace: its header and hash, transactions and their senders.
#[derive(Clone, Copy, Debug)]
pub struct BlockRef<'b> {
    /// The header.
    pub header: &'b Header,
    /// Its hash.
    pub hash: B256,
    /// The transactions, in order.
    pub transactions: &'b [OpTxEnvelope],
    /// Their senders.
    pub senders: &'b [Address],
}

/// What the trace knows to build witnesses: tree nodes it created and leaf preimages.
struct Witnesses<'a, P> {
    provider: &'a P,
    nodes: Overlay<'a, P>,
    /// Account leaf value → preimage.
    accounts: HashMap<B256, AccountLeaf>,
    /// `codeRoot` → (code length, chunk root).
    code_roots: HashMap<B256, (u64, B256)>,
    /// `codeHash` → `codeRoot` of the code seen so far.
    roots_by_hash: HashMap<B256, B256>,
    /// Chunk-tree root → the code, for opening chunks of other accounts' code.
    chunked: HashMap<B256, ChunkedCode>,
    /// The block-hash tree.
    block_hashes: Vec<Vec<B256>>,
    /// Hash-chain link → `(prev, item)` (self-destructed accounts, created accounts' slots,
    /// access lists).
    links: HashMap<B256, (B256, B256)>,
}

impl<P: StateProvider> Witnesses<'_, P> {
    /// `link(prev, item)`, remembering its preimage.
    fn link(&mut self, prev: B256, item: B256) -> B256 {
        let head = super::machine::link(&prev, &item);
        self.links.insert(head, (prev, item));
        head
    }

    /// The value under `key` in the tree at `root`.
    fn get(&self, root: B256, key: &B256) -> Result<Option<B256>, String> {
        smt::get(&self.nodes, root, key).map_err(|e| e.to_string())
    }

    /// Applies `changes` to the tree at `root`, keeping the new nodes.
    fn update(&mut self, root: B256, changes: Vec<(B256, Option<B256>)>) -> Result<B256, String> {
        let result = smt::update(&self.nodes, root, changes).map_err(|e| e.to_string())?;
        self.nodes.insert_all(result.new_nodes);
        Ok(result.root)
    }

    /// The leaf of an account as revm holds it, remembering its preimage (and its code's).
    fn leaf(&mut self, info: &revm::state::AccountInfo) -> Result<Option<B256>, String> {
        let code_root = if info.code_hash == KECCAK256_EMPTY {
            B256::ZERO
        } else if let Some(root) = self.roots_by_hash.get(&info.code_hash) {
            *root
        } else {
            // Code deployed earlier in the block is only known once revm showed it.
            let code = match &info.code {
                Some(code) => code.original_bytes(),
                None => self
                    .provider
                    .code_by_hash_ref(info.code_hash)
                    .map_err(|e| e.to_string())?
                    .original_bytes(),
            };
            let chunked = ChunkedCode::new(&code);
            let root = code::root_of(code.len() as u64, &chunked.chunk_root());
            self.code_roots
                .insert(root, (code.len() as u64, chunked.chunk_root()));
            self.roots_by_hash.insert(info.code_hash, root);
            self.chunked.insert(chunked.chunk_root(), chunked);
            root
        };
        let leaf = AccountLeaf {
            nonce: info.nonce,
            balance: info.balance,
            code_hash: info.code_hash,
            code_root,
        };
        if leaf.is_empty() {
            return Ok(None);
        }
        let value = leaf.value_hash();
        self.accounts.insert(value, leaf);
        Ok(Some(value))
    }
}

/// A transaction's execution, step by step.
pub struct Trace<'a, P> {
    block: BlockPart,
    /// The fixed fields of each transaction's part.
    txs: Vec<TxPart>,
    inputs: Vec<TxInput>,
    input_levels: Vec<Vec<B256>>,
    /// Each transaction's input bytes.
    tx_data: Vec<DataRef>,
    /// Each transaction's access-list entries.
    access: Vec<Vec<AccessEntry>>,
    extra_data: Bytes,
    frames: Vec<FrameData>,
    /// `states[i]` is the state before step `i`; the last one is the state after the last step.
    states: Vec<Snapshot>,
    witnesses: Witnesses<'a, P>,
    /// Memory roots by the address of a snapshot's memory (the snapshots keep them alive).
    memory_roots: Mutex<HashMap<usize, B256>>,
}

impl<'a, P: StateProvider> Trace<'a, P> {
    /// Replays `block` (built on `parent` by the node) on `provider`, which must hold the
    /// parent's state and the last 256 block hashes, and records every step from the block's
    /// start state to its end. Fails with [`TraceError::Unsupported`] on a step kind the
    /// machine does not cover yet, and with [`TraceError::Inconsistent`] if the replay does not
    /// reach the block's state root.
    pub fn for_block(
        provider: &'a P,
        chain: &ChainSpec,
        parent: &Header,
        block: &BuiltBlock,
    ) -> Result<Self, TraceError> {
        Self::for_parts(
            provider,
            chain,
            parent,
            BlockRef {
                header: &block.header,
                hash: block.hash,
                transactions: &block.transactions,
                senders: &block.senders,
            },
        )
    }

    /// [`Trace::for_block`] for a block given by its parts (e.g. read back from a store).
    pub fn for_parts(
        provider: &'a P,
        chain: &ChainSpec,
        parent: &Header,
        block: BlockRef<'_>,
    ) -> Result<Self, TraceError> {
        let header = block.header;
        let number = header.number;
        let mut hashes = vec![B256::ZERO; 1 << BLOCK_HASH_DEPTH];
        for n in number.saturating_sub(256)..number {
            hashes[(n % 256) as usize] = provider
                .block_hash_ref(n)
                .map_err(|e| TraceError::Execution(e.to_string()))?;
        }
        let block_hashes = merkle::levels(&hashes, BLOCK_HASH_DEPTH);
        let inputs: Vec<TxInput> = block
            .transactions
            .iter()
            .zip(block.senders)
            .map(|(tx, sender)| TxInput::from_tx(tx, *sender))
            .collect();
        if block.transactions.len() != block.senders.len() {
            return Err(TraceError::Inconsistent(
                "one sender per transaction".into(),
            ));
        }
        let block_part = BlockPart {
            number,
            timestamp: header.timestamp,
            gas_limit: header.gas_limit,
            base_fee: header.base_fee_per_gas.unwrap_or_default(),
            coinbase: header.beneficiary,
            prevrandao: header.mix_hash,
            chain_id: chain.chain_id,
            blob_base_fee: U256::from(1),
            block_hashes_root: block_hashes[BLOCK_HASH_DEPTH][0],
            state_root: parent.state_root,
            tx_count: inputs.len() as u64,
            inputs_root: input::root(&inputs),
            parent_hash: header.parent_hash,
            extra_data_hash: keccak256(&header.extra_data),
            ..Default::default()
        };
        let mut tracer = Tracer {
            witnesses: Witnesses {
                provider,
                nodes: Overlay::new(provider),
                accounts: HashMap::new(),
                code_roots: HashMap::new(),
                roots_by_hash: HashMap::new(),
                chunked: HashMap::new(),
                block_hashes,
                links: HashMap::new(),
            },
            roots: Roots {
                world: parent.state_root,
                ..Default::default()
            },
            progress: Progress::default(),
            tx: None,
            txs: Vec::new(),
            top: None,
            frames: Vec::new(),
            states: Vec::new(),
            active: Vec::new(),
            pending_call: None,
            pending_exit: None,
            error: None,
        };
        {
            let mut evm = revm::Context::mainnet()
                .with_db(BlockState::new(provider))
                .with_block(block_env(header))
                .modify_cfg_chained(|cfg| {
                    cfg.chain_id = chain.chain_id;
                    cfg.set_spec_and_mainnet_gas_params(chain.spec);
                })
                .build_mainnet_with_inspector(&mut tracer)
                .with_precompiles(L2Precompiles::new(chain.spec));
            for (index, (tx, input)) in block.transactions.iter().zip(&inputs).enumerate() {
                let nonce = evm
                    .ctx
                    .journaled_state
                    .database
                    .basic(input.sender)
                    .map_err(|e| TraceError::Execution(e.to_string()))?
                    .map_or(0, |i| i.nonce);
                // A creating transaction's target is the new address (it may collide).
                let to = input.to.unwrap_or_else(|| input.sender.create(nonce));
                for address in [input.sender, to, header.beneficiary] {
                    let info = evm
                        .ctx
                        .journaled_state
                        .database
                        .basic(address)
                        .map_err(|e| TraceError::Execution(e.to_string()))?;
                    if let Some(info) = info {
                        evm.inspector
                            .witnesses
                            .leaf(&info)
                            .map_err(TraceError::Execution)?;
                    }
                }
                evm.inspector
                    .begin_tx(index, input, access_entries(tx), nonce, &block_part);
                let env = match *tx {
                    OpTxEnvelope::Deposit(ref deposit) => {
                        // As the block builder does: the mint first, then a free call.
                        let db = &mut evm.ctx.journaled_state.database;
                        db.credit(input.sender, input.mint)
                            .map_err(|e| TraceError::Execution(e.to_string()))?;
                        deposit_tx_env(deposit, nonce)
                    }
                    _ => tx_env(tx, input.sender)
                        .map_err(|e| TraceError::Execution(format!("{e:?}")))?,
                };
                let deposit = tx.is_deposit();
                let base_fee_check = evm.ctx.cfg.disable_base_fee;
                evm.ctx.cfg.disable_base_fee = deposit || base_fee_check;
                let outcome = evm.inspect_tx(env);
                evm.ctx.cfg.disable_base_fee = base_fee_check;
                match outcome {
                    Ok(ResultAndState { result, state }) => {
                        evm.inspector.end_tx(input, &result, &state);
                        evm.commit(state);
                    }
                    Err(e) if deposit && !matches!(e, EVMError::Database(_)) => {
                        // An invalid deposit is included as failed: nonce bumped, mint kept.
                        let db = &mut evm.ctx.journaled_state.database;
                        db.bump_nonce(input.sender)
                            .map_err(|e| TraceError::Execution(e.to_string()))?;
                        let info = db
                            .basic(input.sender)
                            .map_err(|e| TraceError::Execution(e.to_string()))?
                            .unwrap_or_default();
                        evm.inspector.failed_deposit(input, &info);
                    }
                    Err(e) => return Err(TraceError::Execution(format!("{e:?}"))),
                }
                if let Some(e) = evm.inspector.error.take() {
                    return Err(e);
                }
            }
        }
        tracer.push_boundary();
        if tracer.roots.world != header.state_root {
            return Err(TraceError::Inconsistent(format!(
                "replay reached state root {} but the block has {}",
                tracer.roots.world, header.state_root
            )));
        }
        let mut end = tracer
            .states
            .last()
            .cloned()
            .ok_or_else(|| TraceError::Inconsistent("no state".into()))?;
        end.sealed = Some(block.hash);
        tracer.states.push(end);
        let input_levels = input::tree(&inputs);
        let tx_data = block
            .transactions
            .iter()
            .map(|tx| DataRef::of(alloy_consensus::Transaction::input(tx)))
            .collect();
        let access = block.transactions.iter().map(access_entries).collect();
        Ok(Self {
            access,
            tx_data,
            block: block_part,
            txs: tracer.txs,
            inputs,
            input_levels,
            extra_data: header.extra_data.clone(),
            frames: tracer.frames,
            states: tracer.states,
            witnesses: tracer.witnesses,
            memory_roots: Mutex::new(HashMap::new()),
        })
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.states.len().saturating_sub(1)
    }

    /// Whether the transaction ran no step (no code at its target).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The machine state before step `i`; for `i >= len()` the terminal state after the last
    /// step (the state every padding step of a game's power-of-two trace is at).
    pub fn machine(&self, i: usize) -> Machine {
        let s = &self.states[i.min(self.len())];
        let mut block = self.block.clone();
        block.state_root = s.roots.world;
        block.cumulative_gas = s.progress.cumulative_gas;
        block.tx_acc = s.progress.tx_acc;
        block.receipt_acc = s.progress.receipt_acc;
        block.tx_index = s.progress.tx_index;
        block.logs_bloom = s.progress.bloom;
        let tx = match s.tx {
            Some(t) => TxPart {
                accessed_addresses: s.roots.accessed_addresses,
                accessed_slots: s.roots.accessed_slots,
                transient_root: s.roots.transient,
                logs_acc: s.roots.logs,
                logs_bloom: s.roots.bloom,
                created_root: s.roots.created,
                destructed: s.roots.destructed,
                refund: s.refund,
                ..self.txs[t].clone()
            },
            // Between transactions; after one with self-destructs, until they are deleted.
            None => TxPart {
                created_root: s.roots.created,
                destructed: s.roots.destructed,
                ..Default::default()
            },
        };
        let frame = if s.frame == NO_FRAME {
            let mut frame = boundary_frame();
            frame.cursor = s.cursor;
            if let Some(input) = &s.building {
                frame.calldata_len = input.len;
                frame.calldata_root = input.root();
                frame.sponge = s.builder.as_ref().map_or(B256::ZERO, |b| b.commitment());
            }
            if let Some(chain) = s.chain {
                frame.sponge = chain;
            }
            frame
        } else {
            frame_of_with(s, &self.frames[s.frame], self.memory_root(&s.memory))
        };
        Machine {
            block,
            tx,
            frame,
            sealed: s.sealed,
        }
    }

    /// The root of a snapshot's memory, computed once per distinct memory (consecutive
    /// snapshots share one until it changes).
    fn memory_root(&self, memory: &Arc<Vec<u8>>) -> B256 {
        let key = Arc::as_ptr(memory) as usize;
        if let Some(root) = self
            .memory_roots
            .lock()
            .ok()
            .and_then(|m| m.get(&key).copied())
        {
            return root;
        }
        let root = data_root(memory);
        if let Ok(mut roots) = self.memory_roots.lock() {
            roots.insert(key, root);
        }
        root
    }

    /// Hash of the machine state before step `i` (the terminal state's for `i >= len()`).
    pub fn state_hash(&self, i: usize) -> B256 {
        self.machine(i).hash()
    }

    /// Hash of the state after the last step.
    pub fn final_hash(&self) -> B256 {
        self.state_hash(self.len())
    }

    /// The opcode step `i` executes.
    pub fn opcode(&self, i: usize) -> Option<u8> {
        let s = self.states.get(i)?;
        if s.frame == NO_FRAME || s.status != Status::Running {
            return None;
        }
        Some(opcode_at(&self.frames[s.frame].code, s.pc))
    }

    /// The one-step proof of step `i`, and what the step does.
    pub fn prove_step(&self, i: usize) -> Result<(Proof, StepInfo), StepError> {
        let mut machine = self.machine(i);
        if let Some(block_hash) = machine.sealed {
            let info = StepInfo {
                kind: super::StepKind::Terminal,
                halt: None,
            };
            let terminal = Terminal {
                block_hash,
                state_root: machine.block.state_root,
            };
            return Ok((Proof::Terminal(terminal), info));
        }
        let pre = machine.clone();
        let s = &self.states[i];
        let mut recorder = Recorder::new(s, self.frames.get(s.frame), self);
        let info = step(&mut machine, &mut recorder)?;
        let proof = StepProof {
            block: pre.block,
            tx: pre.tx,
            frame: pre.frame,
            witnesses: recorder.witnesses,
        };
        Ok((Proof::Step(Box::new(proof)), info))
    }
}

/// The frame commitment of snapshot `s` of frame `f`.
fn frame_of(s: &Snapshot, f: &FrameData) -> Frame {
    frame_of_with(s, f, data_root(&s.memory))
}

/// [`frame_of`] with the memory root given.
fn frame_of_with(s: &Snapshot, f: &FrameData, mem_root: B256) -> Frame {
    Frame {
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
        mem_root,
        calldata_len: f.calldata.len,
        calldata_root: f.calldata_root,
        calldata_offset: f.calldata.offset,
        returndata_len: s.returndata.len,
        returndata_root: s.returndata.root(),
        returndata_offset: s.returndata.offset,
        out_offset: s.out.0,
        out_len: s.out.1,
        cursor: s.cursor,
        sponge: match (&s.sponge, &s.builder) {
            (Some(sponge), _) => sponge.commitment(),
            (None, Some(builder)) => builder.commitment(),
            (None, None) => B256::ZERO,
        },
        parent_hash: f
            .parent
            .as_ref()
            .map_or(B256::ZERO, |(caller, cp)| parent_hash(caller, cp)),
    }
}

/// The transaction's refund counter: `base` (the counter when the frame started) plus revm's
/// counter of the frame, `refunded`. revm counts refunds per frame, so a frame's own counter
/// goes below zero when its `SSTORE` takes back a refund its caller earned (a slot the caller
/// cleared, set again); the transaction's counter never does (every deduction undoes an earlier
/// addition for the same slot that was not rolled back), so `None` means the trace is wrong.
fn tx_refund(base: u64, refunded: i64) -> Option<u64> {
    u64::try_from(i128::from(base) + i128::from(refunded)).ok()
}

/// The opcode at `pc` (`STOP` past the end).
fn opcode_at(code: &ChunkedCode, pc: u64) -> u8 {
    if pc >= code.len() as u64 {
        return 0;
    }
    let (chunk, _) = code.open(pc / PIECE as u64);
    chunk[1 + (pc % PIECE as u64) as usize]
}

/// The fixed fields of a transaction's part (the ones the trace does not track per step).
fn tx_part(input: &TxInput, block: &BlockPart, start_state_root: B256) -> TxPart {
    let base_fee = block.base_fee as u128;
    let price = input.price(base_fee);
    TxPart {
        origin: input.sender,
        gas_price: U256::from(price),
        start_state_root,
        tx_type: input.tx_type,
        gas_limit: input.gas_limit,
        tip: U256::from(price.saturating_sub(base_fee)),
        tx_hash: input.tx_hash,
        ..Default::default()
    }
}

/// What the trace knows about the current transaction's own frame before it starts.
struct TopFrame {
    sender: Address,
    to: Address,
    value: U256,
    /// Its access list, warmed before the frame starts.
    entries: Vec<AccessEntry>,
}

/// A frame being executed.
struct Active {
    frame: usize,
    /// Transaction-wide refund when the frame started (revm counts refunds per frame).
    refund_base: u64,
    /// Roots to restore if the frame does not return normally.
    checkpoint: Roots,
    /// The caller as suspended (`None` for the transaction's frame).
    suspended: Option<Snapshot>,
    /// The frame's current return data.
    returndata: DataRef,
}

/// A call made by the current frame, from the call step to the callee's start.
struct PendingCall {
    /// The caller as suspended: arguments popped, gas charged, output area set.
    suspended: Snapshot,
    refund: u64,
    args: (u64, u64),
    kind: FrameKind,
    /// The call step's state before it ran (for the micro-states of a create).
    pre: Snapshot,
    /// A create's initcode.
    initcode: Vec<u8>,
}

/// A callee that has ended; its caller's next step shows the state after the exit.
struct PendingExit {
    suspended: Snapshot,
    returndata: DataRef,
}

/// The Inspector that records frames and per-step snapshots.
struct Tracer<'a, P> {
    witnesses: Witnesses<'a, P>,
    roots: Roots,
    progress: Progress,
    /// The transaction being executed.
    tx: Option<usize>,
    txs: Vec<TxPart>,
    /// The current transaction's own frame, until it is entered.
    top: Option<TopFrame>,
    frames: Vec<FrameData>,
    states: Vec<Snapshot>,
    active: Vec<Active>,
    pending_call: Option<PendingCall>,
    pending_exit: Option<PendingExit>,
    error: Option<TraceError>,
}

impl<P: StateProvider> Tracer<'_, P> {
    fn fail(&mut self, e: TraceError) {
        self.error.get_or_insert(e);
    }

    /// Applies `changes` to the tree `root` selects.
    fn apply(&mut self, which: fn(&mut Roots) -> &mut B256, changes: Vec<(B256, Option<B256>)>) {
        let root = *which(&mut self.roots);
        match self.witnesses.update(root, changes) {
            Ok(new) => *which(&mut self.roots) = new,
            Err(e) => self.fail(TraceError::Inconsistent(format!("state tree: {e}"))),
        }
    }

    /// The world state once the transaction's first frame starts (after revm's transaction
    /// validation, gas purchase, nonce increment and value transfer): every account revm holds.
    fn enter_world(&mut self, state: &EvmState) {
        let accounts = state.iter().map(|(a, acc)| (*a, acc.info.clone()));
        if let Some(changes) = self.leaves(accounts) {
            self.apply(|r| &mut r.world, changes);
        }
    }

    /// The state-tree changes that set `accounts`, remembering each leaf's preimage; `None`
    /// (and the trace failed) if a code is missing.
    fn leaves(
        &mut self,
        accounts: impl IntoIterator<Item = (Address, revm::state::AccountInfo)>,
    ) -> Option<Vec<(B256, Option<B256>)>> {
        let mut changes = Vec::new();
        for (address, info) in accounts {
            match self.witnesses.leaf(&info) {
                Ok(leaf) => changes.push((account_key(&address), leaf)),
                Err(e) => {
                    self.fail(TraceError::Execution(e));
                    return None;
                }
            }
        }
        Some(changes)
    }

    /// Remembers the preimage of `address`'s leaf as revm holds the account (`state`), or as
    /// the parent state has it if revm has not loaded it.
    fn remember_account(&mut self, state: &EvmState, address: Address) {
        let info = match state.get(&address) {
            Some(account) => Some(account.info.clone()),
            None => match self.witnesses.provider.basic_ref(address) {
                Ok(info) => info,
                Err(e) => return self.fail(TraceError::Execution(e.to_string())),
            },
        };
        if let Some(info) = info {
            // A missing code fails the trace inside.
            let _ = self.leaves([(address, info)]);
        }
    }

    /// `SSTORE` set `slot` of `address` from zero: link it onto the account's created-set
    /// member value if it was created in this transaction.
    fn track_slot(&mut self, address: &Address, slot: U256) {
        let key = account_key(address);
        match self.witnesses.get(self.roots.created, &key) {
            Ok(Some(chain)) => {
                let next = self.witnesses.link(chain, B256::from(slot));
                self.apply(|r| &mut r.created, vec![(key, Some(next))]);
            }
            Ok(None) => {}
            Err(e) => self.fail(TraceError::Inconsistent(e)),
        }
    }

    /// The deletion micro-states after a transaction whose created accounts self-destructed:
    /// one per linked slot, then the account, last self-destruct first.
    fn destruct_states(&mut self) {
        while !self.roots.destructed.is_zero() && self.error.is_none() {
            let mut b = self.boundary();
            b.roots.created = self.roots.created;
            b.roots.destructed = self.roots.destructed;
            self.states.push(b);
            let Some(&(prev, item)) = self.witnesses.links.get(&self.roots.destructed) else {
                return self.fail(TraceError::Inconsistent(
                    "unknown self-destruct link".into(),
                ));
            };
            let address = Address::from_word(item);
            let key = account_key(&address);
            let chain = match self.witnesses.get(self.roots.created, &key) {
                Ok(Some(chain)) => chain,
                other => {
                    return self.fail(TraceError::Inconsistent(format!(
                        "self-destructed {address} not in the created set: {other:?}"
                    )))
                }
            };
            if chain == SET_MEMBER {
                self.apply(|r| &mut r.world, vec![(key, None)]);
                self.roots.destructed = prev;
            } else {
                let Some(&(before, slot)) = self.witnesses.links.get(&chain) else {
                    return self.fail(TraceError::Inconsistent("unknown slot link".into()));
                };
                let slot_key = storage_key(&address, &U256::from_be_bytes(slot.0));
                self.apply(|r| &mut r.world, vec![(slot_key, None)]);
                self.apply(|r| &mut r.created, vec![(key, Some(before))]);
            }
        }
        self.roots.created = B256::ZERO;
    }

    /// The tx-init micro-states warming the access list `entries`, one per entry, from
    /// `roots` (the world after the gas purchase); returns the roots with the sets warmed.
    fn warm_access_list(&mut self, entries: &[AccessEntry], mut roots: Roots) -> Option<Roots> {
        // `rests[k]`: the chain of the entries from `k` on (what micro-step `k` holds).
        let mut rests = vec![B256::ZERO];
        for entry in entries.iter().rev() {
            let rest = rests[rests.len() - 1];
            rests.push(self.witnesses.link(rest, entry.hash()));
        }
        rests.reverse();
        for (k, entry) in entries.iter().enumerate() {
            let mut b = self.boundary();
            b.roots = roots;
            b.tx = self.tx;
            b.cursor = k as u64 + 1;
            b.chain = Some(rests[k]);
            self.states.push(b);
            let (which, key): (fn(&mut Roots) -> &mut B256, B256) = match entry.slot {
                Some(slot) => (
                    |r| &mut r.accessed_slots,
                    storage_key(&entry.address, &U256::from_be_bytes(slot.0)),
                ),
                None => (|r| &mut r.accessed_addresses, account_key(&entry.address)),
            };
            match self
                .witnesses
                .update(*which(&mut roots), vec![(key, Some(SET_MEMBER))])
            {
                Ok(root) => *which(&mut roots) = root,
                Err(e) => {
                    self.fail(TraceError::Inconsistent(e));
                    return None;
                }
            }
        }
        Some(roots)
    }

    /// A transaction whose target is a precompile: tx-init runs it and the frame ends at once
    /// (returned with `gas` left, or halted). revm's `state` has rolled a failed call's value
    /// back; the frame's world has it moved until the exit restores the checkpoint.
    fn precompile_tx(&mut self, mut state: EvmState, input: DataRef, gas: Option<u64>) {
        if let (None, Some(top)) = (gas, &self.top) {
            if top.sender != top.to {
                let (sender, to, value) = (top.sender, top.to, top.value);
                if let Some(a) = state.get_mut(&sender) {
                    a.info.balance = a.info.balance.saturating_sub(value);
                }
                if let Some(a) = state.get_mut(&to) {
                    a.info.balance = a.info.balance.saturating_add(value);
                }
            }
        }
        let Some(frame) = self.enter_top(&state, &[], input, false) else {
            return;
        };
        let end = Snapshot {
            status: if gas.is_some() {
                Status::Returned
            } else {
                Status::Halted
            },
            ..self.fresh(frame, gas.unwrap_or_default(), 0)
        };
        self.states.push(end);
        if let Some(done) = self.active.pop() {
            if gas.is_none() {
                self.roots = done.checkpoint;
            }
        }
    }

    /// `memory` of `frame` as a snapshot holds it: shared with the last snapshot when that one
    /// is of the same frame with the same memory (most steps do not write memory), so a long
    /// trace does not hold one copy of the memory per step.
    fn memory_of(&self, frame: usize, memory: &[u8]) -> Arc<Vec<u8>> {
        match self.states.last() {
            Some(last) if last.frame == frame && last.memory.as_slice() == memory => {
                last.memory.clone()
            }
            _ => Arc::new(memory.to_vec()),
        }
    }

    /// A snapshot of no frame (between transactions).
    fn boundary(&self) -> Snapshot {
        Snapshot {
            frame: NO_FRAME,
            status: Status::Boundary,
            roots: Roots {
                world: self.roots.world,
                ..Default::default()
            },
            progress: self.progress,
            ..Default::default()
        }
    }

    /// A frame's state before its first step.
    fn fresh(&self, frame: usize, gas: u64, refund: u64) -> Snapshot {
        Snapshot {
            frame,
            gas,
            roots: self.roots,
            refund,
            progress: self.progress,
            tx: self.tx,
            ..Default::default()
        }
    }

    /// A frame without code (no interpreter ran): its first state, then `STOP` ended it.
    fn run_empty_frame(&mut self, first: Snapshot) {
        self.states.push(first.clone());
        self.states.push(Snapshot {
            status: Status::Returned,
            ..first
        });
        self.active.pop();
    }

    /// Records the boundary state.
    fn push_boundary(&mut self) {
        let b = self.boundary();
        self.states.push(b);
    }

    /// The boundary before transaction `index`, and the transaction's start.
    fn begin_tx(
        &mut self,
        index: usize,
        input: &TxInput,
        entries: Vec<AccessEntry>,
        nonce: u64,
        block: &BlockPart,
    ) {
        self.push_boundary();
        self.txs.push(tx_part(input, block, self.roots.world));
        self.tx = Some(index);
        let to = input.to.unwrap_or_else(|| input.sender.create(nonce));
        let accessed = self.witnesses.update(
            B256::ZERO,
            [input.sender, to, block.coinbase]
                .iter()
                .map(|a| (account_key(a), Some(SET_MEMBER)))
                .collect(),
        );
        match accessed {
            Ok(root) => {
                self.roots = Roots {
                    world: self.roots.world,
                    accessed_addresses: root,
                    ..Default::default()
                }
            }
            Err(e) => self.fail(TraceError::Inconsistent(e)),
        }
        self.top = Some(TopFrame {
            sender: input.sender,
            to,
            value: input.value,
            entries,
        });
    }

    /// A deposit that could not run: recorded as failed with its mint kept and nonce bumped
    /// (`info` is the sender after both).
    fn failed_deposit(&mut self, input: &TxInput, info: &revm::state::AccountInfo) {
        if let Some(changes) = self.leaves([(input.sender, info.clone())]) {
            self.apply(|r| &mut r.world, changes);
        }
        self.close_tx(input, input.gas_limit, false, &[]);
    }

    /// The block's progress after a transaction: gas, receipt, transaction hash, bloom.
    fn close_tx(&mut self, input: &TxInput, gas_used: u64, success: bool, logs: &[Log]) {
        let p = &mut self.progress;
        p.cumulative_gas += gas_used;
        let mut receipts = Accumulator::resume(p.receipt_acc);
        receipts.push(receipt_item(
            input.tx_type as u8,
            success,
            p.cumulative_gas,
            logs,
        ));
        p.receipt_acc = receipts.root();
        let mut txs = Accumulator::resume(p.tx_acc);
        txs.push(input.tx_hash);
        p.tx_acc = txs.root();
        p.bloom.accrue_logs(logs);
        p.tx_index += 1;
        self.tx = None;
        self.top = None;
    }

    /// The transaction's end: fees paid, receipt and accumulators (from revm's result).
    fn end_tx(&mut self, input: &TxInput, result: &ExecutionResult, state: &EvmState) {
        let touched = state
            .iter()
            .filter(|(_, account)| account.is_touched())
            .map(|(a, account)| (*a, account.info.clone()));
        if let Some(changes) = self.leaves(touched) {
            self.apply(|r| &mut r.world, changes);
        }
        self.close_tx(
            input,
            result.tx_gas_used(),
            result.is_success(),
            result.logs(),
        );
        self.destruct_states();
    }

    /// The checkpoint of the transaction's frame: the world after the gas purchase, before the
    /// value moves (revm's state at the frame's start, with the value moved back).
    fn top_checkpoint(&mut self, state: &EvmState, top: &TopFrame) -> Option<(Checkpoint, Roots)> {
        let accounts = state.iter().map(|(address, account)| {
            let mut info = account.info.clone();
            if top.sender != top.to {
                if *address == top.sender {
                    info.balance = info.balance.saturating_add(top.value);
                } else if *address == top.to {
                    info.balance = info.balance.saturating_sub(top.value);
                }
            }
            (*address, info)
        });
        let changes = self.leaves(accounts)?;
        let world = match self.witnesses.update(self.roots.world, changes) {
            Ok(root) => root,
            Err(e) => {
                self.fail(TraceError::Inconsistent(e));
                return None;
            }
        };
        let roots = Roots {
            world,
            ..self.roots
        };
        Some((roots.checkpoint(0), roots))
    }

    /// Sets the world to revm's `state` as it was before a create moved `value` to `address`
    /// and gave it nonce 1 (the create's checkpoint).
    fn world_before_create(
        &mut self,
        state: &EvmState,
        creator: Address,
        address: Address,
        value: U256,
    ) {
        let accounts = state.iter().map(|(a, account)| {
            let mut info = account.info.clone();
            if *a == address {
                info.balance = info.balance.saturating_sub(value);
                info.nonce = 0;
            } else if *a == creator {
                info.balance = info.balance.saturating_add(value);
            }
            (*a, info)
        });
        if let Some(changes) = self.leaves(accounts) {
            self.apply(|r| &mut r.world, changes);
        }
    }

    /// The tx-init micro-states of a contract-creating transaction before its frame: warming
    /// the access list, then building the commitment of the initcode `code` (the world is
    /// already after the gas purchase). `false` if the trace failed.
    fn top_create_init(&mut self, code: &[u8]) -> bool {
        let Some(top) = self.top.take() else {
            self.fail(TraceError::Inconsistent(
                "a second transaction frame".into(),
            ));
            return false;
        };
        let entries = top.entries.len() as u64;
        if entries > 0 {
            let Some(roots) = self.warm_access_list(&top.entries, self.roots) else {
                return false;
            };
            self.roots.accessed_addresses = roots.accessed_addresses;
            self.roots.accessed_slots = roots.accessed_slots;
        }
        let building = DataRef::of(code);
        let pieces = code.len().div_ceil(PIECE);
        for (k, builder) in CodeBuilder::states(code)
            .into_iter()
            .enumerate()
            .take(pieces.saturating_sub(1))
        {
            let mut b = self.boundary();
            b.roots = self.roots;
            b.tx = self.tx;
            b.cursor = entries + k as u64 + 1;
            b.builder = Some(builder);
            b.building = Some(building.clone());
            self.states.push(b);
        }
        true
    }

    /// A contract-creating transaction whose address already has a nonce or code: revm runs
    /// no frame; the machine's tx-init starts the create frame halted, with no gas, after the
    /// checkpoint (`state` is revm's, the address untouched).
    fn top_create_collision(&mut self, state: &EvmState, code: &[u8]) {
        let Some((sender, address, value)) = self.top.as_ref().map(|t| (t.sender, t.to, t.value))
        else {
            return;
        };
        self.enter_world(state);
        if !self.top_create_init(code) {
            return;
        }
        let checkpoint = self.roots.checkpoint(0);
        self.frames.push(FrameData {
            kind: FrameKind::Create,
            depth: 0,
            is_static: false,
            address,
            caller: sender,
            value,
            code: ChunkedCode::new(code),
            calldata_root: DataRef::empty().root(),
            calldata: DataRef::empty(),
            parent: Some((boundary_frame(), checkpoint)),
        });
        let halted = Snapshot {
            status: Status::Halted,
            ..self.fresh(self.frames.len() - 1, 0, 0)
        };
        self.states.push(halted);
    }

    /// Enters the frame of a contract-creating transaction: the tx-init micro-states building
    /// the initcode's commitment (world after the gas purchase), then the create frame.
    fn enter_top_create(
        &mut self,
        state: &EvmState,
        code: &[u8],
        address: Address,
        sender: Address,
        value: U256,
    ) {
        self.world_before_create(state, sender, address, value);
        if !self.top_create_init(code) {
            return;
        }
        let checkpoint_roots = self.roots;
        let checkpoint = self.roots.checkpoint(0);
        self.enter_world(state);
        self.apply(
            |r| &mut r.created,
            vec![(account_key(&address), Some(SET_MEMBER))],
        );
        let data = FrameData {
            kind: FrameKind::Create,
            depth: 0,
            is_static: false,
            address,
            caller: sender,
            value,
            code: ChunkedCode::new(code),
            calldata_root: DataRef::empty().root(),
            calldata: DataRef::empty(),
            parent: Some((boundary_frame(), checkpoint)),
        };
        self.enter_frame(data, 0, None);
        if let Some(active) = self.active.last_mut() {
            active.checkpoint = checkpoint_roots;
        }
    }

    /// Enters the transaction's own frame running `code` (empty: no interpreter ran).
    fn enter_top(
        &mut self,
        state: &EvmState,
        code: &[u8],
        input: DataRef,
        is_static: bool,
    ) -> Option<usize> {
        let top = self.top.take()?;
        if !top.entries.is_empty() {
            let (_, roots) = self.top_checkpoint(state, &top)?;
            let roots = self.warm_access_list(&top.entries, roots)?;
            self.roots.accessed_addresses = roots.accessed_addresses;
            self.roots.accessed_slots = roots.accessed_slots;
        }
        let (checkpoint, checkpoint_roots) = self.top_checkpoint(state, &top)?;
        self.enter_world(state);
        let data = FrameData {
            kind: FrameKind::Call,
            depth: 0,
            is_static,
            address: top.to,
            caller: top.sender,
            value: top.value,
            code: ChunkedCode::new(code),
            calldata_root: input.root(),
            calldata: input,
            parent: Some((boundary_frame(), checkpoint)),
        };
        let frame = self.enter_frame(data, 0, None);
        if let Some(active) = self.active.last_mut() {
            active.checkpoint = checkpoint_roots;
        }
        Some(frame)
    }

    /// Enters a create frame: the new address warm, the checkpoint (creator's nonce bumped,
    /// nothing else), then the new account and the value, and the created set.
    fn enter_create(
        &mut self,
        call: PendingCall,
        address: Address,
        creator: Address,
        value: U256,
        code: &[u8],
        state: &EvmState,
    ) {
        self.apply(
            |r| &mut r.accessed_addresses,
            vec![(account_key(&address), Some(SET_MEMBER))],
        );
        self.world_before_create(state, creator, address, value);
        let checkpoint_roots = self.roots;
        let checkpoint = self.roots.checkpoint(call.refund);
        self.enter_world(state);
        self.apply(
            |r| &mut r.created,
            vec![(account_key(&address), Some(SET_MEMBER))],
        );
        let parent = &self.frames[call.suspended.frame];
        let suspended = frame_of(&call.suspended, parent);
        let data = FrameData {
            kind: call.kind,
            depth: parent.depth + 1,
            is_static: false,
            address,
            caller: creator,
            value,
            code: ChunkedCode::new(code),
            calldata_root: DataRef::empty().root(),
            calldata: DataRef::empty(),
            parent: Some((suspended, checkpoint)),
        };
        self.enter_frame(data, call.refund, Some(call.suspended));
        if let Some(active) = self.active.last_mut() {
            active.checkpoint = checkpoint_roots;
        }
    }

    /// Starts recording a frame; returns its index.
    fn enter_frame(
        &mut self,
        data: FrameData,
        refund_base: u64,
        suspended: Option<Snapshot>,
    ) -> usize {
        self.frames.push(data);
        let frame = self.frames.len() - 1;
        self.active.push(Active {
            frame,
            refund_base,
            checkpoint: self.roots,
            suspended,
            returndata: DataRef::empty(),
        });
        frame
    }

    /// The callee frame of a pending call, entering code `code` with `gas`.
    fn callee(
        &mut self,
        call: &PendingCall,
        code: &[u8],
        target: Address,
        caller: Address,
        value: U256,
        gas: u64,
    ) -> (FrameData, Snapshot) {
        let parent = &self.frames[call.suspended.frame];
        let suspended = frame_of(&call.suspended, parent);
        let checkpoint = call.suspended.roots.checkpoint(call.refund);
        let calldata = DataRef {
            tree: call.suspended.memory.clone(),
            offset: if call.args.1 == 0 { 0 } else { call.args.0 },
            len: call.args.1,
        };
        let data = FrameData {
            kind: call.kind,
            depth: parent.depth + 1,
            is_static: parent.is_static || call.kind == FrameKind::StaticCall,
            address: target,
            caller,
            value,
            code: ChunkedCode::new(code),
            calldata_root: calldata.root(),
            calldata,
            parent: Some((suspended, checkpoint)),
        };
        // The frame index is set by the caller once the frame is entered.
        let first = self.fresh(0, gas, call.refund);
        (data, first)
    }

    /// Before the caller's first step after a callee ended: the exit step's result and the
    /// output-copy micro-states, ending with `now` (the caller as revm resumed it).
    fn exit_states(&mut self, exit: PendingExit, now: &Snapshot) {
        let suspended = exit.suspended;
        let (ret_offset, ret_len) = suspended.out;
        let total = ret_len.min(exit.returndata.len);
        if total == 0 {
            return;
        }
        let chunks = total.div_ceil(32);
        let mut memory = suspended.memory.as_ref().clone();
        memory.resize(now.memory.len(), 0);
        for c in 0..chunks {
            if c > 0 {
                let from = (ret_offset + (c - 1) * 32) as usize;
                let to = (from + 32).min((ret_offset + total) as usize);
                memory[from..to].copy_from_slice(&now.memory[from..to]);
            }
            self.states.push(Snapshot {
                frame: now.frame,
                status: Status::Running,
                pc: suspended.pc,
                gas: now.gas,
                stack: now.stack.clone(),
                memory: Arc::new(memory.clone()),
                returndata: exit.returndata.clone(),
                out: (ret_offset, ret_len),
                roots: now.roots,
                refund: now.refund,
                cursor: c + 1,
                progress: now.progress,
                tx: now.tx,
                ..Default::default()
            });
        }
    }

    /// The states between the micro-steps of a bulk copy: arguments still on the stack, all gas
    /// charged, memory grown, the first `k` chunks copied (taken from revm's result).
    fn copy_micro_states(&mut self, opcode: u8, pre: &Snapshot, post_memory: &[u8], gas: u64) {
        // EXTCODECOPY has the address on top.
        let n = pre.stack.len() - usize::from(opcode == 0x3c);
        let (dest, src, len) = (pre.stack[n - 1], pre.stack[n - 2], pre.stack[n - 3]);
        let Ok(size) = u64::try_from(len) else {
            return;
        };
        let order = chunk_order(opcode, dest, src, size);
        if order.len() < 2 {
            return;
        }
        let dest = dest.to::<usize>();
        let mut memory = pre.memory.as_ref().clone();
        memory.resize(post_memory.len(), 0);
        for (k, chunk) in order.iter().enumerate().take(order.len() - 1) {
            let from = dest + *chunk as usize * 32;
            let to = (from + 32).min(dest + size as usize);
            memory[from..to].copy_from_slice(&post_memory[from..to]);
            self.states.push(Snapshot {
                gas,
                memory: Arc::new(memory.clone()),
                cursor: k as u64 + 1,
                // EXTCODECOPY warmed its account in the first micro-step.
                roots: self.roots,
                ..pre.clone()
            });
        }
    }

    /// The states between the micro-steps of `KECCAK256` and `LOG*`: arguments on the stack,
    /// all gas charged, memory grown, the sponge after `k` blocks.
    fn keccak_micro_states(&mut self, pre: &Snapshot, gas: u64) {
        let n = pre.stack.len();
        let (offset, size) = (pre.stack[n - 1], pre.stack[n - 2]);
        let Ok(size) = u64::try_from(size) else {
            return;
        };
        let blocks = keccak::blocks(size);
        if blocks < 2 {
            return;
        }
        let at = offset.to::<u64>() as usize;
        let mut memory = pre.memory.as_ref().clone();
        let words = (at as u64 + size).div_ceil(32) as usize * 32;
        if memory.len() < words {
            memory.resize(words, 0);
        }
        let memory = Arc::new(memory);
        let mut sponge = Sponge::default();
        for k in 0..blocks - 1 {
            let (start, len) = keccak::block_range(k, size);
            let from = at + start as usize;
            sponge.absorb(&keccak::block(&memory[from..from + len], k, size));
            self.states.push(Snapshot {
                gas,
                memory: memory.clone(),
                cursor: k + 1,
                sponge: Some(sponge),
                ..pre.clone()
            });
        }
    }

    /// Updates the trees after a state-accessing step (only when it did not halt).
    fn after_step(
        &mut self,
        opcode: u8,
        pre: &Snapshot,
        state: &EvmState,
        transient: Option<U256>,
    ) {
        let frame = &self.frames[pre.frame];
        let address = frame.address;
        let arg = |k: usize| pre.stack[pre.stack.len() - 1 - k];
        match opcode {
            0xff => {
                // The balance moved: both accounts as revm holds them now.
                let target = Address::from_word(B256::from(arg(0)));
                if !crate::precompile::is_precompile(&target) {
                    self.apply(
                        |r| &mut r.accessed_addresses,
                        vec![(account_key(&target), Some(SET_MEMBER))],
                    );
                }
                // The step reads the beneficiary before the balance moves: remember that
                // account too (its balance now minus what the frame's account had).
                let before = self
                    .witnesses
                    .get(self.roots.world, &account_key(&address))
                    .ok()
                    .flatten()
                    .and_then(|leaf| self.witnesses.accounts.get(&leaf).copied());
                if let (Some(me), Some(t)) = (before, state.get(&target)) {
                    if target != address {
                        let mut info = t.info.clone();
                        info.balance = info.balance.saturating_sub(me.balance);
                        if self.leaves([(target, info)]).is_none() {
                            return;
                        }
                    }
                }
                let moved = [address, target]
                    .into_iter()
                    .filter_map(|a| Some((a, state.get(&a)?.info.clone())));
                if let Some(changes) = self.leaves(moved) {
                    self.apply(|r| &mut r.world, changes);
                }
                // EIP-6780: an account created in this transaction is deleted at its end.
                match self
                    .witnesses
                    .get(self.roots.created, &account_key(&address))
                {
                    Ok(Some(_)) => {
                        self.roots.destructed = self
                            .witnesses
                            .link(self.roots.destructed, address.into_word());
                    }
                    Ok(None) => {}
                    Err(e) => self.fail(TraceError::Inconsistent(e)),
                }
            }
            0xf1 | 0xf2 | 0xf4 | 0xfa => {
                let target = Address::from_word(B256::from(arg(1)));
                if !crate::precompile::is_precompile(&target) {
                    self.apply(
                        |r| &mut r.accessed_addresses,
                        vec![(account_key(&target), Some(SET_MEMBER))],
                    );
                }
            }
            0x31 | 0x3b | 0x3c | 0x3f | 0x47 => {
                let target = if opcode == 0x47 {
                    address
                } else {
                    Address::from_word(B256::from(arg(0)))
                };
                if let Some(account) = state.get(&target) {
                    if self.leaves([(target, account.info.clone())]).is_none() {
                        return;
                    }
                }
                if opcode != 0x47 && !crate::precompile::is_precompile(&target) {
                    self.apply(
                        |r| &mut r.accessed_addresses,
                        vec![(account_key(&target), Some(SET_MEMBER))],
                    );
                }
            }
            0x54 | 0x55 => {
                let slot = arg(0);
                let key = storage_key(&address, &slot);
                self.apply(|r| &mut r.accessed_slots, vec![(key, Some(SET_MEMBER))]);
                if opcode == 0x55 {
                    // The value revm holds now, not the one on the stack.
                    let present = state
                        .get(&address)
                        .and_then(|a| a.storage.get(&slot))
                        .map(|s| s.present_value);
                    let Some(present) = present else {
                        return self.fail(TraceError::Inconsistent("SSTORE left no slot".into()));
                    };
                    let leaf = (!present.is_zero()).then(|| B256::from(present));
                    let before = match self.witnesses.get(self.roots.world, &key) {
                        Ok(before) => before,
                        Err(e) => return self.fail(TraceError::Inconsistent(e)),
                    };
                    self.apply(|r| &mut r.world, vec![(key, leaf)]);
                    if before.is_none() && leaf.is_some() {
                        self.track_slot(&address, slot);
                    }
                }
            }
            0x5d => {
                let key = storage_key(&address, &arg(0));
                let value = transient.unwrap_or_default();
                let leaf = (!value.is_zero()).then(|| B256::from(value));
                self.apply(|r| &mut r.transient, vec![(key, leaf)]);
            }
            _ => {}
        }
    }
}

impl<CTX, P: StateProvider> Inspector<CTX, EthInterpreter> for Tracer<'_, P>
where
    CTX: ContextTr,
    CTX::Journal: JournalTr<State = EvmState>,
{
    fn initialize_interp(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        if self.error.is_some() {
            return;
        }
        let code = interp.bytecode.original_byte_slice().to_vec();
        let (target, caller, value) = (
            interp.input.target_address(),
            interp.input.caller_address(),
            interp.input.call_value(),
        );
        match self.pending_call.take() {
            None if self.active.is_empty() => {
                let calldata = match &interp.input.input {
                    CallInput::Bytes(b) => b.clone(),
                    other => other.bytes(context),
                };
                if matches!(context.tx().kind(), TxKind::Create) {
                    let state = context.journal().evm_state().clone();
                    return self.enter_top_create(&state, &code, target, caller, value);
                }
                let input = DataRef::of(&calldata);
                let is_static = interp.runtime_flag.is_static();
                self.enter_top(context.journal().evm_state(), &code, input, is_static);
            }
            Some(call) if matches!(call.kind, FrameKind::Create | FrameKind::Create2) => {
                self.enter_create(
                    call,
                    target,
                    caller,
                    value,
                    &code,
                    context.journal().evm_state(),
                );
            }
            Some(call) => {
                // The checkpoint is the caller's state at the call, before the value moved.
                let checkpoint = call.suspended.roots;
                self.enter_world(context.journal().evm_state());
                let gas = interp.gas.remaining();
                let (data, _) = self.callee(&call, &code, target, caller, value, gas);
                self.enter_frame(data, call.refund, Some(call.suspended));
                if let Some(active) = self.active.last_mut() {
                    active.checkpoint = checkpoint;
                }
            }
            None => self.fail(TraceError::Unsupported(
                "a frame not entered by CALL, CALLCODE, DELEGATECALL or STATICCALL (CREATE)".into(),
            )),
        }
    }

    fn create(
        &mut self,
        _context: &mut CTX,
        inputs: &mut revm::interpreter::CreateInputs,
    ) -> Option<revm::interpreter::CreateOutcome> {
        if let Some(call) = &self.pending_call {
            // The micro-states building the initcode's commitment: all gas but the forwarded
            // part charged, memory grown, arguments on the stack.
            let gas = call.suspended.gas + inputs.gas_limit();
            let builders = CodeBuilder::states(&call.initcode);
            let micro: Vec<Snapshot> = builders
                .into_iter()
                .enumerate()
                .take(call.initcode.len().div_ceil(PIECE).saturating_sub(1))
                .map(|(k, builder)| Snapshot {
                    gas,
                    memory: call.suspended.memory.clone(),
                    cursor: k as u64 + 1,
                    builder: Some(builder),
                    ..call.pre.clone()
                })
                .collect();
            self.states.extend(micro);
        }
        None
    }

    fn create_end(
        &mut self,
        context: &mut CTX,
        inputs: &revm::interpreter::CreateInputs,
        outcome: &mut revm::interpreter::CreateOutcome,
    ) {
        if self.error.is_some() {
            return;
        }
        if self.pending_call.take().is_some() {
            // No frame ran. A collision bumped the creator's nonce and warmed the address.
            if outcome.result.result == InstructionResult::CreateCollision {
                let state = context.journal().evm_state().clone();
                let creator = inputs.caller();
                let nonce = state.get(&creator).map_or(0, |a| a.info.nonce);
                let address = inputs.created_address(nonce.saturating_sub(1));
                self.enter_world(&state);
                self.apply(
                    |r| &mut r.accessed_addresses,
                    vec![(account_key(&address), Some(SET_MEMBER))],
                );
            }
            if let Some(caller) = self.active.last_mut() {
                caller.returndata = DataRef::empty();
            }
            return;
        }
        let Some(done) = self.active.pop() else {
            if outcome.result.result == InstructionResult::CreateCollision {
                let state = context.journal().evm_state().clone();
                self.top_create_collision(&state, inputs.init_code());
            }
            return;
        };
        let Some(last) = self.states.last().cloned() else {
            return;
        };
        if !outcome.result.is_ok() {
            self.roots = done.checkpoint;
        } else {
            // The deposit's micro-states, then the code in the world state.
            let code = outcome.result.output.clone();
            let gas = last.gas.saturating_sub(200 * code.len() as u64);
            let pieces = code.len().div_ceil(PIECE);
            for (k, builder) in CodeBuilder::states(&code)
                .into_iter()
                .enumerate()
                .take(pieces.saturating_sub(1))
            {
                self.states.push(Snapshot {
                    gas,
                    cursor: k as u64 + 1,
                    builder: Some(builder),
                    ..last.clone()
                });
            }
            let state = context.journal().evm_state().clone();
            self.enter_world(&state);
        }
        let Some(suspended) = done.suspended else {
            return;
        };
        let returndata = if outcome.result.result == InstructionResult::Revert {
            last.output()
        } else {
            DataRef::empty()
        };
        self.pending_exit = Some(PendingExit {
            suspended,
            returndata,
        });
    }

    fn call_end(
        &mut self,
        context: &mut CTX,
        inputs: &revm::interpreter::CallInputs,
        outcome: &mut revm::interpreter::CallOutcome,
    ) {
        if self.error.is_some() {
            return;
        }
        if let Some(call) = self.pending_call.take() {
            // No frame ran: a precompile answered within the call step; a call that failed
            // before entering (depth, balance) only empties the return data; a call to an
            // account without code is a callee whose first step is STOP.
            if crate::precompile::is_precompile(&inputs.bytecode_address)
                && outcome.result.result != InstructionResult::CallTooDeep
                && outcome.result.result != InstructionResult::OutOfFunds
            {
                let state = context.journal().evm_state().clone();
                self.enter_world(&state);
                let returndata = if outcome.result.is_ok() {
                    DataRef::of(&outcome.result.output)
                } else {
                    DataRef::empty()
                };
                self.pending_exit = Some(PendingExit {
                    suspended: call.suspended,
                    returndata,
                });
                return;
            }
            if !outcome.result.is_ok() {
                if let Some(caller) = self.active.last_mut() {
                    caller.returndata = DataRef::empty();
                }
                return;
            }
            self.enter_world(context.journal().evm_state());
            let (data, mut first) = self.callee(
                &call,
                &[],
                inputs.target_address,
                inputs.caller,
                inputs.value.get(),
                inputs.gas_limit,
            );
            first.frame = self.enter_frame(data, call.refund, None);
            self.run_empty_frame(first);
            self.pending_exit = Some(PendingExit {
                suspended: call.suspended,
                returndata: DataRef::empty(),
            });
            return;
        }
        if self.active.is_empty() {
            // The transaction's own call ran no code (or a precompile).
            let input = DataRef::of(&inputs.input.bytes(context));
            let state = context.journal().evm_state().clone();
            if crate::precompile::is_precompile(&inputs.bytecode_address) {
                let gas = outcome
                    .result
                    .is_ok()
                    .then(|| outcome.result.gas.remaining());
                return self.precompile_tx(state, input, gas);
            }
            let Some(frame) = self.enter_top(&state, &[], input, false) else {
                return;
            };
            let first = self.fresh(frame, inputs.gas_limit, 0);
            self.run_empty_frame(first);
            return;
        }
        let Some(done) = self.active.pop() else {
            return;
        };
        if !outcome.result.is_ok() {
            self.roots = done.checkpoint;
        }
        let Some(suspended) = done.suspended else {
            return; // the transaction's frame: tx-end follows
        };
        let Some(last) = self.states.last() else {
            return;
        };
        let returndata = if last.status == Status::Halted {
            DataRef::empty()
        } else {
            last.output()
        };
        self.pending_exit = Some(PendingExit {
            suspended,
            returndata,
        });
    }

    fn log(&mut self, _context: &mut CTX, log: revm::primitives::Log) {
        let mut acc = Accumulator::resume(self.roots.logs);
        acc.push(log_hash(&log));
        self.roots.logs = acc.root();
        self.roots.bloom.accrue_log(&log);
    }

    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if self.error.is_some() {
            return;
        }
        let exit = self.pending_exit.take();
        let Some(frame) = self.active.last().map(|a| a.frame) else {
            return self.fail(TraceError::Inconsistent("a step outside any frame".into()));
        };
        let memory = self.memory_of(frame, &interp.memory.context_memory());
        let Some(active) = self.active.last_mut() else {
            return;
        };
        if let Some(exit) = &exit {
            active.returndata = exit.returndata.clone();
        }
        let Some(refund) = tx_refund(active.refund_base, interp.gas.refunded()) else {
            return self.fail(TraceError::Inconsistent(
                "transaction refund counter below zero".into(),
            ));
        };
        let now = Snapshot {
            frame: active.frame,
            pc: interp.bytecode.pc() as u64,
            gas: interp.gas.remaining(),
            stack: interp.stack.data().clone(),
            memory,
            returndata: active.returndata.clone(),
            roots: self.roots,
            refund,
            progress: self.progress,
            tx: self.tx,
            ..Default::default()
        };
        if let Some(exit) = exit {
            self.exit_states(exit, &now);
        }
        self.states.push(now);
    }

    fn step_end(&mut self, interp: &mut Interpreter<EthInterpreter>, context: &mut CTX) {
        if self.error.is_some() {
            return;
        }
        let Some(pre) = self.states.last().cloned() else {
            return;
        };
        let action = interp.bytecode.action().clone();
        let halted = matches!(&action, Some(InterpreterAction::Return(r)) if r.result.is_halt());
        if halted && opcode_at(&self.frames[pre.frame].code, pre.pc) == 0x3c {
            // EXTCODECOPY reads the account before it charges the memory expansion: a step
            // that halts there still needs the account's preimage.
            if let Some(&word) = pre.stack.last() {
                let target = Address::from_word(B256::from(word));
                self.remember_account(context.journal().evm_state(), target);
            }
        }
        if !halted {
            let frame = &self.frames[pre.frame];
            let opcode = opcode_at(&frame.code, pre.pc);
            let transient = (opcode == 0x5d).then(|| {
                let slot = pre.stack[pre.stack.len() - 1];
                context.journal_mut().tload(frame.address, slot)
            });
            self.after_step(opcode, &pre, context.journal().evm_state(), transient);
            if opcode == 0x20 || (0xa0..=0xa4).contains(&opcode) {
                self.keccak_micro_states(&pre, interp.gas.remaining());
            }
            if matches!(opcode, 0x37 | 0x39 | 0x3c | 0x3e | 0x5e) {
                let post_memory = interp.memory.context_memory().to_vec();
                self.copy_micro_states(opcode, &pre, &post_memory, interp.gas.remaining());
            }
        }
        if let Some(InterpreterAction::NewFrame(_)) = &action {
            let frame = &self.frames[pre.frame];
            let opcode = opcode_at(&frame.code, pre.pc);
            let kind = match opcode {
                0xf1 => FrameKind::Call,
                0xf2 => FrameKind::CallCode,
                0xf4 => FrameKind::DelegateCall,
                0xfa => FrameKind::StaticCall,
                0xf0 => FrameKind::Create,
                0xf5 => FrameKind::Create2,
                _ => {
                    return self.fail(TraceError::Unsupported(format!(
                        "frames entered by {}",
                        super::opcodes::name(opcode)
                    )))
                }
            };
            let creates = matches!(kind, FrameKind::Create | FrameKind::Create2);
            let n = pre.stack.len();
            let arg = |k: usize| pre.stack[n - 1 - k];
            let skip = usize::from(matches!(kind, FrameKind::Call | FrameKind::CallCode));
            let (args_offset, args_len) = if creates {
                (arg(1), arg(2))
            } else {
                (arg(2 + skip), arg(3 + skip))
            };
            let (ret_offset, ret_len) = if creates {
                (U256::ZERO, U256::ZERO)
            } else {
                (arg(4 + skip), arg(5 + skip))
            };
            let norm = |offset: U256, len: U256| {
                let len = len.to::<u64>();
                (if len == 0 { 0 } else { offset.to::<u64>() }, len)
            };
            // The call step reads the caller's and the target's accounts as they are now.
            let target = if creates {
                frame.address
            } else {
                Address::from_word(B256::from(arg(1)))
            };
            let seen: Vec<_> = [frame.address, target]
                .into_iter()
                .filter_map(|a| Some((a, context.journal().evm_state().get(&a)?.info.clone())))
                .collect();
            if self.leaves(seen).is_none() {
                return;
            }
            let base = self.active.last().map_or(0, |a| a.refund_base);
            let Some(refund) = tx_refund(base, interp.gas.refunded()) else {
                return self.fail(TraceError::Inconsistent(
                    "transaction refund counter below zero".into(),
                ));
            };
            let memory = interp.memory.context_memory().to_vec();
            let (init_at, init_len) = norm(args_offset, args_len);
            let initcode = if creates {
                memory[init_at as usize..(init_at + init_len) as usize].to_vec()
            } else {
                Vec::new()
            };
            self.pending_call = Some(PendingCall {
                pre: pre.clone(),
                initcode,
                suspended: Snapshot {
                    stack: interp.stack.data().clone(),
                    gas: interp.gas.remaining(),
                    memory: Arc::new(interp.memory.context_memory().to_vec()),
                    out: norm(ret_offset, ret_len),
                    roots: self.roots,
                    refund,
                    ..pre.clone()
                },
                refund,
                args: norm(args_offset, args_len),
                kind,
            });
            return;
        }
        let Some(InterpreterAction::Return(result)) = action else {
            return;
        };
        let post = match result.result {
            InstructionResult::Stop
            | InstructionResult::Return
            | InstructionResult::Revert
            | InstructionResult::SelfDestruct => {
                let status = if result.result == InstructionResult::Revert {
                    Status::Reverted
                } else {
                    Status::Returned
                };
                let base = self.active.last().map_or(0, |a| a.refund_base);
                let Some(refund) = tx_refund(base, interp.gas.refunded()) else {
                    return self.fail(TraceError::Inconsistent(
                        "transaction refund counter below zero".into(),
                    ));
                };
                let memory = Arc::new(interp.memory.context_memory().to_vec());
                let out = if matches!(
                    result.result,
                    InstructionResult::Stop | InstructionResult::SelfDestruct
                ) {
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
                    roots: self.roots,
                    refund,
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
struct Recorder<'a, P> {
    frame: Option<&'a FrameData>,
    trace: &'a Trace<'a, P>,
    known: &'a Witnesses<'a, P>,
    tx_index: u64,
    cursor: u64,
    stack: Vec<U256>,
    /// `prefix[k]` = hash of the bottom `k` stack words.
    prefix: Vec<B256>,
    memory: Vec<Vec<B256>>,
    returndata: Vec<Vec<B256>>,
    calldata: Vec<Vec<B256>>,
    parent: Option<(Frame, Checkpoint)>,
    /// Tree nodes written earlier in the same step.
    local: MemoryNodes,
    /// Accounts written earlier in the same step, by leaf value.
    local_accounts: HashMap<B256, AccountLeaf>,
    sponge: Option<Sponge>,
    builder: Option<CodeBuilder>,
    witnesses: Vec<Witness>,
}

impl<'a, P: StateProvider> Recorder<'a, P> {
    fn new(s: &Snapshot, frame: Option<&'a FrameData>, trace: &'a Trace<'a, P>) -> Self {
        let mut prefix = vec![B256::ZERO];
        for w in &s.stack {
            let last = prefix[prefix.len() - 1];
            prefix.push(super::machine::stack_push_hash(&last, w));
        }
        Self {
            frame,
            trace,
            known: &trace.witnesses,
            tx_index: s.progress.tx_index,
            cursor: s.cursor,
            stack: s.stack.clone(),
            prefix,
            memory: merkle::levels(&words(&s.memory), DATA_DEPTH),
            returndata: s.returndata.levels(),
            calldata: match frame {
                Some(f) => f.calldata.levels(),
                // A boundary: the next transaction's input (a creating tx's initcode).
                None => trace
                    .tx_data
                    .get(s.progress.tx_index as usize)
                    .map(DataRef::levels)
                    .unwrap_or_default(),
            },
            parent: frame.and_then(|f| f.parent.clone()),
            local: MemoryNodes::default(),
            local_accounts: HashMap::new(),
            sponge: s.sponge,
            builder: s.builder.clone(),
            witnesses: Vec::new(),
        }
    }

    /// The trace's tree nodes plus those written earlier in this step.
    fn nodes(&self) -> Layered<'_, P> {
        Layered {
            top: &self.local,
            base: &self.known.nodes,
        }
    }

    fn memory_leaf(&self, index: u64) -> B256 {
        self.memory[0]
            .get(index as usize)
            .copied()
            .unwrap_or_default()
    }
}

impl<P: StateProvider> Oracle for Recorder<'_, P> {
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

    fn code_chunk(
        &mut self,
        _code_len: u64,
        chunk_root: &B256,
        index: u64,
    ) -> Result<B256, StepError> {
        let code = match self.frame {
            Some(f) if f.code.chunk_root() == *chunk_root => &f.code,
            _ => self
                .known
                .chunked
                .get(chunk_root)
                .ok_or(StepError::MissingWitness("code chunk"))?,
        };
        let (chunk, path) = code.open(index);
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

    fn data_word(
        &mut self,
        _frame: &Frame,
        source: DataSource,
        index: u64,
    ) -> Result<B256, StepError> {
        let levels = match source {
            DataSource::CallData => &self.calldata,
            DataSource::ReturnData => &self.returndata,
        };
        let word = levels[0].get(index as usize).copied().unwrap_or_default();
        let path = merkle::path(levels, index);
        self.witnesses.push(Witness::Data { word, path });
        Ok(word)
    }

    fn smt_read(&mut self, root: &B256, key: &B256) -> Result<Option<B256>, StepError> {
        let proof = smt::prove(&self.nodes(), *root, key)
            .map_err(|_| StepError::MissingWitness("state tree node"))?;
        let value = proof.value(key);
        self.witnesses.push(Witness::Smt(proof));
        Ok(value)
    }

    fn smt_write(
        &mut self,
        root: &mut B256,
        key: &B256,
        value: Option<B256>,
    ) -> Result<Option<B256>, StepError> {
        let nodes = self.nodes();
        let proof = smt::prove(&nodes, *root, key)
            .map_err(|_| StepError::MissingWitness("state tree node"))?;
        let old = proof.value(key);
        let updated = smt::update(&nodes, *root, vec![(*key, value)])
            .map_err(|_| StepError::MissingWitness("state tree node"))?;
        self.local.insert_all(updated.new_nodes);
        *root = updated.root;
        self.witnesses.push(Witness::Smt(proof));
        Ok(old)
    }

    fn account(&mut self, leaf: Option<B256>) -> Result<AccountLeaf, StepError> {
        let Some(leaf) = leaf else {
            return Ok(AccountLeaf::empty());
        };
        let account = *self
            .local_accounts
            .get(&leaf)
            .or_else(|| self.known.accounts.get(&leaf))
            .ok_or(StepError::MissingWitness("account preimage"))?;
        self.witnesses.push(Witness::Account(account));
        Ok(account)
    }

    fn wrote_account(&mut self, account: &AccountLeaf) {
        self.local_accounts.insert(account.value_hash(), *account);
    }

    fn tx_input(&mut self, _block: &BlockPart) -> Result<TxInput, StepError> {
        let input = self
            .trace
            .inputs
            .get(self.tx_index as usize)
            .cloned()
            .ok_or(StepError::MissingWitness("tx input"))?;
        self.witnesses.push(Witness::TxInput {
            input: Box::new(input.clone()),
            path: merkle::path(&self.trace.input_levels, self.tx_index),
        });
        Ok(input)
    }

    fn access_entry(&mut self) -> Result<AccessEntry, StepError> {
        let entry = self
            .trace
            .access
            .get(self.tx_index as usize)
            .and_then(|entries| entries.get(self.cursor.checked_sub(1)? as usize))
            .copied()
            .ok_or(StepError::MissingWitness("access-list entry"))?;
        self.witnesses.push(Witness::AccessEntry(entry));
        Ok(entry)
    }

    fn extra_data(&mut self, _hash: &B256) -> Result<Bytes, StepError> {
        let bytes = self.trace.extra_data.clone();
        self.witnesses.push(Witness::ExtraData(bytes.clone()));
        Ok(bytes)
    }

    fn parent(&mut self, _frame: &Frame) -> Result<(Frame, Checkpoint), StepError> {
        let (frame, checkpoint) = self
            .parent
            .clone()
            .ok_or(StepError::MissingWitness("parent frame"))?;
        self.witnesses.push(Witness::Parent {
            frame: Box::new(frame.clone()),
            checkpoint: Box::new(checkpoint.clone()),
        });
        Ok((frame, checkpoint))
    }

    fn code_root_preimage(&mut self, code_root: &B256) -> Result<(u64, B256), StepError> {
        let (len, chunk_root) = self
            .known
            .code_roots
            .get(code_root)
            .copied()
            .ok_or(StepError::MissingWitness("code root preimage"))?;
        self.witnesses.push(Witness::CodeRoot { len, chunk_root });
        Ok((len, chunk_root))
    }

    fn builder(&mut self, _frame: &Frame) -> Result<CodeBuilder, StepError> {
        let builder = self
            .builder
            .clone()
            .ok_or(StepError::MissingWitness("code builder"))?;
        self.witnesses
            .push(Witness::Builder(Box::new(builder.clone())));
        Ok(builder)
    }

    fn words(
        &mut self,
        _frame: &Frame,
        tree: WordTree,
        first: u64,
        count: u64,
    ) -> Result<Vec<B256>, StepError> {
        let levels = match tree {
            WordTree::Memory => &self.memory,
            WordTree::Data(DataSource::CallData) => &self.calldata,
            WordTree::Data(DataSource::ReturnData) => &self.returndata,
        };
        let words: Vec<B256> = (first..first + count)
            .map(|i| levels[0].get(i as usize).copied().unwrap_or_default())
            .collect();
        let siblings = merkle::range_siblings(levels, first, count);
        self.witnesses.push(Witness::Words {
            words: words.clone(),
            siblings,
        });
        Ok(words)
    }

    fn link(&mut self, head: &B256) -> Result<(B256, B256), StepError> {
        let (prev, item) = *self
            .known
            .links
            .get(head)
            .ok_or(StepError::MissingWitness("chain link"))?;
        self.witnesses.push(Witness::Link { prev, item });
        Ok((prev, item))
    }

    fn sponge(&mut self, _frame: &Frame) -> Result<Sponge, StepError> {
        let sponge = self.sponge.ok_or(StepError::MissingWitness("sponge"))?;
        self.witnesses.push(Witness::Sponge(Box::new(sponge)));
        Ok(sponge)
    }

    fn block_hash(&mut self, _root: &B256, index: u64) -> Result<B256, StepError> {
        let levels = &self.known.block_hashes;
        let word = levels[0][index as usize];
        self.witnesses.push(Witness::Data {
            word,
            path: merkle::path(levels, index),
        });
        Ok(word)
    }
}

/// Two node stores read top first.
struct Layered<'a, P> {
    top: &'a MemoryNodes,
    base: &'a Overlay<'a, P>,
}

impl<P: StateProvider> NodeReader for Layered<'_, P> {
    fn node(&self, hash: &B256) -> Result<Option<smt::Node>, smt::SmtError> {
        match self.top.get(hash) {
            Some(node) => Ok(Some(*node)),
            None => self.base.node(hash),
        }
    }
}
