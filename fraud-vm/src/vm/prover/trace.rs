//! Traces: replay a block with revm and an [`Inspector`](revm::inspector::Inspector), record
//! the machine state before every step, and produce one-step proofs.
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
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use op_alloy_consensus::OpTxEnvelope;
use revm::{
    context::result::{EVMError, ResultAndState},
    database_interface::Database,
    handler::MainBuilder,
    inspector::InspectEvm,
    ExecuteCommitEvm, MainContext,
};

pub use super::error::TraceError;
use super::{recorder::*, snapshot::*, tracer::*};
use crate::vm::verifier::{
    input::{self, access_entries, AccessEntry, TxInput},
    machine::{boundary_frame, BlockPart, Claim, Machine, Status, TxPart},
    proof::{Proof, StepProof},
    step, StepError, StepInfo, BLOCK_HASH_DEPTH,
};
use crate::{
    chain::ChainSpec,
    execute::{
        block_env, deposit_tx_env, tx_env, BlockState, BuiltBlock, StateProvider, TxRejection,
    },
    fee::L1_FEE_VAULT,
    merkle::{self, data_root},
    precompile::L2Precompiles,
    smt::Overlay,
};

/// A sealed block to trace: its header and hash, transactions and their senders, and where
/// derivation continues after it.
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
    /// The hash of the block's derivation cursor (`fraud_vm::batch::Cursor::hash`), which its
    /// claim commits.
    pub cursor: B256,
}

/// A transaction's execution, step by step.
pub struct Trace<'a, P> {
    block: BlockPart,
    /// The fixed fields of each transaction's part.
    txs: Vec<TxPart>,
    pub(super) inputs: Vec<TxInput>,
    pub(super) input_levels: Vec<Vec<B256>>,
    /// Each transaction's input bytes.
    pub(super) tx_data: Vec<DataRef>,
    /// Each transaction's access-list entries.
    pub(super) access: Vec<Vec<AccessEntry>>,
    pub(super) extra_data: Bytes,
    /// The block-hash window root after the block-end step (the block's own hash inserted).
    end_window: B256,
    frames: Vec<FrameData>,
    /// `states[i]` is the state before step `i`; the last one is the state after the last step.
    states: Vec<Snapshot>,
    pub(super) witnesses: Witnesses<'a, P>,
    /// Memory roots by the address of a snapshot's memory (the snapshots keep them alive).
    memory_roots: Mutex<HashMap<usize, B256>>,
}

impl<'a, P: StateProvider> Trace<'a, P> {
    /// Replays `block` (built on `parent` by the node) on `provider`, which must hold the
    /// parent's state and the last 256 block hashes, and records every step from the block's
    /// start state to its end, whose claim commits `cursor` (the hash of the block's
    /// derivation cursor). Fails with [`TraceError::StateRootMismatch`] if the replay does not
    /// reach the block's state root ([`TraceError`] lists the other failures).
    pub fn for_block(
        provider: &'a P,
        chain: &ChainSpec,
        parent: &Header,
        block: &BuiltBlock,
        cursor: B256,
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
                cursor,
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
            hashes[(n % 256) as usize] = provider.block_hash_ref(n)?;
        }
        let block_hashes = merkle::levels(&hashes, BLOCK_HASH_DEPTH);
        let end_window = merkle::root_from_path(
            &block.hash,
            number % 256,
            &merkle::path(&block_hashes, number % 256),
        );
        let inputs: Vec<TxInput> = block
            .transactions
            .iter()
            .zip(block.senders)
            .map(|(tx, sender)| TxInput::from_tx(tx, *sender))
            .collect();
        if block.transactions.len() != block.senders.len() {
            return Err(TraceError::SendersMismatch {
                transactions: block.transactions.len(),
                senders: block.senders.len(),
            });
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
            cursor: block.cursor,
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
                    .basic(input.sender)?
                    .map_or(0, |i| i.nonce);
                // A creating transaction's target is the new address (it may collide).
                let to = input.to.unwrap_or_else(|| input.sender.create(nonce));
                for address in [input.sender, to, header.beneficiary, L1_FEE_VAULT] {
                    let info = evm.ctx.journaled_state.database.basic(address)?;
                    if let Some(info) = info {
                        evm.inspector.witnesses.leaf(&info)?;
                    }
                }
                evm.inspector
                    .begin_tx(index, input, access_entries(tx), nonce, &block_part);
                let env = match *tx {
                    OpTxEnvelope::Deposit(ref deposit) => {
                        // As the block builder does: the mint first, then a free call.
                        let db = &mut evm.ctx.journaled_state.database;
                        db.credit(input.sender, input.mint)?;
                        deposit_tx_env(deposit, nonce)
                    }
                    _ => {
                        let rejected = |e| match e {
                            TxRejection::Fatal(crate::Error::Provider(e)) => {
                                TraceError::Provider(e)
                            }
                            TxRejection::Fatal(crate::Error::Tree(e)) => TraceError::Tree(e),
                            e => TraceError::InvalidTransaction {
                                index,
                                reason: e.to_string(),
                            },
                        };
                        let env = tx_env(tx, input.sender).map_err(rejected)?;
                        // As the block builder does: the L1 data fee moves first (tx-init).
                        let db = &mut evm.ctx.journaled_state.database;
                        let (fee, _) = db.charge_l1_fee(tx, input.sender).map_err(rejected)?;
                        if !fee.is_zero() {
                            let sender = db.basic(input.sender)?.unwrap_or_default();
                            let vault = db.basic(L1_FEE_VAULT)?.unwrap_or_default();
                            evm.inspector
                                .pay_l1_fee([(input.sender, sender), (L1_FEE_VAULT, vault)]);
                        }
                        env
                    }
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
                        db.bump_nonce(input.sender)?;
                        let info = db.basic(input.sender)?.unwrap_or_default();
                        evm.inspector.failed_deposit(input, &info);
                    }
                    Err(EVMError::Database(e)) => return Err(TraceError::Provider(e)),
                    Err(e) => {
                        return Err(TraceError::InvalidTransaction {
                            index,
                            reason: e.to_string(),
                        })
                    }
                }
                if let Some(e) = evm.inspector.error.take() {
                    return Err(e);
                }
            }
        }
        tracer.push_boundary();
        if tracer.roots.world != header.state_root {
            return Err(TraceError::StateRootMismatch {
                replayed: tracer.roots.world,
                header: header.state_root,
            });
        }
        let mut end = tracer
            .states
            .last()
            .cloned()
            .ok_or_else(|| TraceError::Inconsistent("no state after the block".into()))?;
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
            end_window,
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
        if s.sealed.is_some() {
            block.block_hashes_root = self.end_window;
        }
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

    /// The claim the last state commits to: the block's hash and state root as replayed, the
    /// block-hash window with the block inserted, and the cursor the trace was given.
    pub fn claim(&self) -> Option<Claim> {
        self.machine(self.len()).claim()
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
        let pre = machine.clone();
        let s = &self.states[i.min(self.len())];
        let mut recorder = Recorder::new(s, self.frames.get(s.frame), self);
        let info = step(&mut machine, &mut recorder)?;
        if let Some(claim) = pre.claim() {
            return Ok((Proof::Terminal(claim), info));
        }
        let proof = StepProof {
            block: pre.block,
            tx: pre.tx,
            frame: pre.frame,
            witnesses: recorder.witnesses,
        };
        Ok((Proof::Step(Box::new(proof)), info))
    }
}
