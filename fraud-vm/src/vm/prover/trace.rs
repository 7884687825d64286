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
    context::{
        result::{EVMError, ResultAndState},
        BlockEnv, TxEnv,
    },
    context_interface::block::BlobExcessGasAndPrice,
    database_interface::Database,
    handler::MainBuilder,
    inspector::InspectEvm,
    primitives::TxKind,
    ExecuteCommitEvm, MainContext,
};

pub use super::error::TraceError;
use super::{recorder::*, snapshot::*, tracer::*};
use crate::vm::verifier::{
    input::{self, access_entries, AccessEntry, TxInput},
    machine::{boundary_frame, BlockPart, Claim, Machine, Status, TxPart},
    open::{open, open_hash, InboxAccs, OpenProof, Protocol, PROGRAM},
    proof::{Proof, StepProof},
    step, StepError, StepInfo, StepKind, BLOB_BASE_FEE, BLOCK_HASH_DEPTH, BLOCK_HASH_WINDOW,
    SET_MEMBER,
};
use crate::{
    chain::ChainSpec,
    code::ChunkedCode,
    execute::{
        block_env, deposit_tx_env, tx_env, BlockState, BuiltBlock, StateProvider, TxRejection,
    },
    fee::L1_FEE_VAULT,
    merkle::{self, data_root},
    precompile::L2Precompiles,
    state::account_key,
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
    /// The hash of the block's derivation cursor (`fraud_vm::inbox::Cursor::hash`), which its
    /// claim commits.
    pub cursor: B256,
    /// The block's derived input list, in order, when it holds more than its transactions:
    /// derivation puts every transaction that decodes with the chain's id and a valid
    /// signature in the list, and tx-init skips those the state makes invalid (nonce, balance,
    /// fees, gas), which the block then does not contain. `None`: the list is the block's
    /// transactions (a block with none skipped).
    pub inputs: Option<&'b [(OpTxEnvelope, Address)]>,
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
    /// A derivation trace's open step (its state 0 is the open state).
    open: Option<OpenProof>,
}

/// What a derivation trace ([`Trace::for_derivation`]) runs on.
#[derive(Clone, Debug)]
pub struct DerivationRun<'d> {
    /// The open step's witnesses: the claim on the previous block, its cursor, the commitment
    /// of the batch the cursor points at.
    pub open: OpenProof,
    /// That batch's data.
    pub data: &'d [u8],
    /// The derivation program's code.
    pub program: &'d [u8],
    /// Preimages the derivation oracle may be asked for.
    pub preimages: Vec<Bytes>,
    /// The Inbox's accumulators.
    pub inbox: InboxAccs,
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
                inputs: None,
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
        for n in number.saturating_sub(BLOCK_HASH_WINDOW)..number {
            hashes[(n % BLOCK_HASH_WINDOW) as usize] = provider.block_hash_ref(n)?;
        }
        let block_hashes = merkle::levels(&hashes, BLOCK_HASH_DEPTH);
        let leaf = number % BLOCK_HASH_WINDOW;
        let end_window =
            merkle::root_from_path(&block.hash, leaf, &merkle::path(&block_hashes, leaf));
        if block.transactions.len() != block.senders.len() {
            return Err(TraceError::SendersMismatch {
                transactions: block.transactions.len(),
                senders: block.senders.len(),
            });
        }
        let listed: Vec<(&OpTxEnvelope, Address)> = match block.inputs {
            Some(list) => list.iter().map(|(tx, sender)| (tx, *sender)).collect(),
            None => block
                .transactions
                .iter()
                .zip(block.senders.iter().copied())
                .collect(),
        };
        let inputs: Vec<TxInput> = listed
            .iter()
            .map(|(tx, sender)| TxInput::from_tx(tx, *sender))
            .collect();
        let block_part = BlockPart {
            number,
            timestamp: header.timestamp,
            gas_limit: header.gas_limit,
            base_fee: header.base_fee_per_gas.unwrap_or_default(),
            coinbase: header.beneficiary,
            prevrandao: header.mix_hash,
            chain_id: chain.chain_id,
            blob_base_fee: U256::from(BLOB_BASE_FEE),
            block_hashes_root: block_hashes[BLOCK_HASH_DEPTH][0],
            state_root: parent.state_root,
            tx_count: inputs.len() as u64,
            inputs_root: input::root(&inputs),
            parent_hash: header.parent_hash,
            extra_data_hash: keccak256(&header.extra_data),
            cursor: block.cursor,
            ..Default::default()
        };
        let mut tracer = Tracer::new(provider, block_hashes, parent.state_root);
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
            let mut included = block.transactions.iter().peekable();
            for (index, ((tx, _), input)) in listed.iter().zip(&inputs).enumerate() {
                let tx: &OpTxEnvelope = tx;
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
                if included.peek().map(|t| t.tx_hash()) != Some(tx.tx_hash()) {
                    // Not in the block: invalid on the state, tx-init skips it.
                    evm.inspector.skip_tx();
                    continue;
                }
                included.next();
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
            if included.next().is_some() {
                return Err(TraceError::Inconsistent(
                    "the block holds a transaction its input list does not".into(),
                ));
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
        let tx_data = listed
            .iter()
            .map(|(tx, _)| DataRef::of(alloy_consensus::Transaction::input(*tx)))
            .collect();
        let access = listed.iter().map(|(tx, _)| access_entries(tx)).collect();
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
            open: None,
        })
    }

    /// Runs the derivation program from the open state of the block after `run.open.claim`
    /// and records every step: the open step (state 0 is the open state, `open_hash(claim)`,
    /// which is no [`Machine`]), then the program opcode by opcode, its calls to the derivation
    /// oracle answered from `run.preimages` and `run.inbox`, up to the state where the
    /// program's frame has ended. The step from there is the hand-off
    /// ([`crate::vm::handoff`]): [`Trace::prove_step`] of `len()` proves it, and its post-state
    /// is the block's execution start state ([`Trace::for_block`]'s state 0) or an open
    /// state.
    ///
    /// `provider` must hold the state the claim's state root commits. Fails with
    /// [`TraceError::Oracle`] if the open step does not hold on `run.inbox` and `protocol`, if
    /// `chain`, `run.data` or `run.program` is not what the protocol and the commitment
    /// commit, or if the program asks for something the run does not have (or a preimage over
    /// the oracle's bound); with [`TraceError::Unsupported`] if the program reads the accounts
    /// at 0 or at the program's address (revm's view of them is not the machine's: it runs
    /// the program from an account holding its code and bumps the caller's nonce).
    pub fn for_derivation(
        provider: &'a P,
        chain: &ChainSpec,
        protocol: &Protocol,
        run: DerivationRun<'_>,
    ) -> Result<Self, TraceError> {
        if chain.chain_id != protocol.chain_id {
            return Err(TraceError::Oracle(format!(
                "the chain's id {} is not the protocol's {}",
                chain.chain_id, protocol.chain_id
            )));
        }
        let proof = run.open;
        let start = open(protocol, &run.inbox, open_hash(&proof.claim), &proof)
            .map_err(|e| TraceError::Oracle(format!("the open step: {e}")))?;
        if data_root(run.data) != proof.commitment.dataRoot {
            return Err(TraceError::Oracle(
                "the batch data is not the commitment's".into(),
            ));
        }
        let code = ChunkedCode::new(run.program);
        if (run.program.len() as u64, code.chunk_root())
            != (protocol.program_len, protocol.program_chunk_root)
        {
            return Err(TraceError::Oracle(
                "the program is not the protocol's".into(),
            ));
        }
        let window = merkle::levels(&[B256::ZERO], BLOCK_HASH_DEPTH);
        let mut tracer = Tracer::new(provider, window, start.block.state_root);
        tracer.witnesses.preimages = run
            .preimages
            .into_iter()
            .map(|bytes| (keccak256(&bytes), bytes))
            .collect();
        tracer.witnesses.inbox = run.inbox;
        tracer.derivation = Some((start.block.parent_hash, start.block.cursor));
        // The accessed set, built through the witnesses so later steps can prove reads of it.
        let accessed = [Address::ZERO, PROGRAM, protocol.coinbase]
            .iter()
            .map(|a| (account_key(a), Some(SET_MEMBER)))
            .collect();
        tracer.roots.accessed_addresses = tracer.witnesses.update(B256::ZERO, accessed)?;
        if tracer.roots.accessed_addresses != start.tx.accessed_addresses {
            return Err(TraceError::Inconsistent(
                "the derivation run's accessed set".into(),
            ));
        }
        tracer.tx = Some(0);
        tracer.txs.push(start.tx.clone());
        tracer.push_boundary(); // state 0: the open state
        {
            let mut db = BlockState::new(provider);
            db.set_code(
                PROGRAM,
                revm::bytecode::Bytecode::new_raw(Bytes::copy_from_slice(run.program)),
            );
            let mut evm = revm::Context::mainnet()
                .with_db(db)
                // The open state's block part: every field but the chain id and the coinbase zero.
                .with_block(BlockEnv {
                    number: U256::ZERO,
                    beneficiary: protocol.coinbase,
                    timestamp: U256::ZERO,
                    gas_limit: 0,
                    basefee: 0,
                    difficulty: U256::ZERO,
                    prevrandao: Some(B256::ZERO),
                    blob_excess_gas_and_price: Some(BlobExcessGasAndPrice {
                        excess_blob_gas: 0,
                        blob_gasprice: 0,
                    }),
                    ..Default::default()
                })
                .modify_cfg_chained(|cfg| {
                    cfg.chain_id = chain.chain_id;
                    cfg.set_spec_and_mainnet_gas_params(chain.spec);
                    cfg.disable_nonce_check = true;
                    cfg.disable_base_fee = true;
                    cfg.disable_block_gas_limit = true;
                })
                .build_mainnet_with_inspector(&mut tracer)
                .with_precompiles(L2Precompiles::new(chain.spec));
            // The program's frame gets exactly the derivation gas: the call data's intrinsic
            // cost comes on top.
            let intrinsic = 21_000
                + run
                    .data
                    .iter()
                    .map(|&b| if b == 0 { 4 } else { 16 })
                    .sum::<u64>();
            let env = TxEnv {
                caller: Address::ZERO,
                kind: TxKind::Call(PROGRAM),
                data: Bytes::copy_from_slice(run.data),
                gas_limit: protocol.derivation_gas + intrinsic,
                gas_price: 0,
                chain_id: Some(chain.chain_id),
                ..Default::default()
            };
            match evm.inspect_tx(env) {
                Ok(_) => {}
                Err(EVMError::Database(e)) => return Err(TraceError::Provider(e)),
                Err(e) => {
                    return Err(TraceError::InvalidTransaction {
                        index: 0,
                        reason: format!("the derivation run: {e}"),
                    })
                }
            }
            if let Some(e) = evm.inspector.error.take() {
                return Err(e);
            }
        }
        Ok(Self {
            access: Vec::new(),
            tx_data: Vec::new(),
            block: start.block.clone(),
            txs: tracer.txs,
            inputs: Vec::new(),
            input_levels: input::tree(&[]),
            extra_data: Bytes::new(),
            end_window: start.block.block_hashes_root,
            frames: tracer.frames,
            states: tracer.states,
            witnesses: tracer.witnesses,
            memory_roots: Mutex::new(HashMap::new()),
            open: Some(proof),
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
            reopen: false,
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

    /// Hash of the machine state before step `i` (the terminal state's for `i >= len()`; a
    /// derivation trace's state 0 is the open state).
    pub fn state_hash(&self, i: usize) -> B256 {
        match &self.open {
            Some(proof) if i == 0 => open_hash(&proof.claim),
            _ => self.machine(i).hash(),
        }
    }

    /// Hash of the state after the last step.
    pub fn final_hash(&self) -> B256 {
        self.state_hash(self.len())
    }

    /// The claim the last state commits to: the block's hash (the one the trace was given)
    /// and the state root as replayed, the block-hash window with that hash inserted, and the
    /// cursor the trace was given.
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
        if let Some(proof) = self.open.as_ref().filter(|_| i == 0) {
            let info = StepInfo {
                kind: StepKind::Open,
                halt: None,
            };
            return Ok((Proof::Open(Box::new(proof.clone())), info));
        }
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
