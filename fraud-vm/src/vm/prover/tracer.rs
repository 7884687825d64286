//! The revm inspector that records frames and per-step snapshots while a block replays.

use std::{collections::HashMap, sync::Arc};

use alloy_primitives::{Address, Bytes, Log, B256, U256};
use revm::{
    context::{result::ExecutionResult, ContextTr},
    context_interface::{transaction::Transaction, JournalTr},
    inspector::Inspector,
    interpreter::{
        interpreter::EthInterpreter,
        interpreter_types::{InputsTr, Jumps, LoopControl, RuntimeFlag},
        CallInput, Gas, InstructionResult, Interpreter, InterpreterAction, InterpreterResult,
    },
    primitives::TxKind,
    state::EvmState,
};

use super::{error::TraceError, snapshot::*};
use crate::vm::verifier::{
    build::CodeBuilder,
    call::MAX_DEPTH,
    copy::chunk_order,
    input::{AccessEntry, TxInput},
    keccak::{self, Sponge},
    l1_oracle::{answer_gas, InboxAcc, Query, MAX_PREIMAGE, ORACLE},
    machine::{boundary_frame, BlockPart, Checkpoint, FrameKind, Status, TxPart},
    open::{InboxAccs, L1Inbox, PROGRAM},
    SET_MEMBER,
};
use crate::{
    block::{log_hash, receipt_item, Accumulator},
    code::{ChunkedCode, PIECE},
    execute::StateProvider,
    smt::Overlay,
    state::{account_key, storage_key},
};

/// What the trace knows about the current transaction's own frame before it starts.
pub(super) struct TopFrame {
    pub(super) sender: Address,
    pub(super) to: Address,
    pub(super) value: U256,
    /// Its access list, warmed before the frame starts.
    pub(super) entries: Vec<AccessEntry>,
}

/// A frame being executed.
pub(super) struct Active {
    pub(super) frame: usize,
    /// Transaction-wide refund when the frame started (revm counts refunds per frame).
    pub(super) refund_base: u64,
    /// Roots to restore if the frame does not return normally.
    pub(super) checkpoint: Roots,
    /// The caller as suspended (`None` for the transaction's frame).
    pub(super) suspended: Option<Snapshot>,
    /// The frame's current return data.
    pub(super) returndata: DataRef,
}

/// A call made by the current frame, from the call step to the callee's start.
pub(super) struct PendingCall {
    /// The caller as suspended: arguments popped, gas charged, output area set.
    pub(super) suspended: Snapshot,
    pub(super) refund: u64,
    pub(super) args: (u64, u64),
    pub(super) kind: FrameKind,
    /// The call step's state before it ran (for the micro-states of a create).
    pub(super) pre: Snapshot,
    /// A create's initcode.
    pub(super) initcode: Vec<u8>,
}

/// A callee that has ended; its caller's next step shows the state after the exit.
pub(super) struct PendingExit {
    pub(super) suspended: Snapshot,
    pub(super) returndata: DataRef,
}

/// The account a derivation run's step reads whose revm view is not the machine's: revm runs
/// the program from an account that holds its code (the state's account at [`PROGRAM`] does
/// not) and bumps the nonce of the caller, address 0. The machine defines those steps; this
/// prover does not trace them, and the derivation program does not take them.
fn outside_the_machine(opcode: u8, stack: &[U256], frame: &FrameData) -> Option<Address> {
    let word = |k: usize| {
        stack
            .len()
            .checked_sub(k + 1)
            .map(|i| Address::from_word(B256::from(stack[i])))
    };
    let account = match opcode {
        0x31 | 0x3b | 0x3c | 0x3f => word(0)?,
        0x47 => frame.address,
        0xf1 | 0xf2 | 0xf4 | 0xfa => word(1)?,
        _ => return None,
    };
    [Address::ZERO, PROGRAM]
        .contains(&account)
        .then_some(account)
}

/// The Inspector that records frames and per-step snapshots.
pub(super) struct Tracer<'a, P> {
    pub(super) witnesses: Witnesses<'a, P>,
    pub(super) roots: Roots,
    pub(super) progress: Progress,
    /// The transaction being executed.
    pub(super) tx: Option<usize>,
    pub(super) txs: Vec<TxPart>,
    /// The current transaction's own frame, until it is entered.
    pub(super) top: Option<TopFrame>,
    pub(super) frames: Vec<FrameData>,
    pub(super) states: Vec<Snapshot>,
    pub(super) active: Vec<Active>,
    pub(super) pending_call: Option<PendingCall>,
    pub(super) pending_exit: Option<PendingExit>,
    pub(super) error: Option<TraceError>,
    /// In a run of the derivation program (a derivation trace), the block part's
    /// `(parentHash, cursor)`: the run's first frame is the program's, calls to the derivation
    /// oracle are answered here, the world never changes.
    pub(super) derivation: Option<(B256, B256)>,
}

impl<'a, P: StateProvider> Tracer<'a, P> {
    /// A tracer of a run on `provider` from the state with root `world`, whose `BLOCKHASH`
    /// reads the tree `block_hashes` (its levels).
    pub(super) fn new(provider: &'a P, block_hashes: Vec<Vec<B256>>, world: B256) -> Self {
        Self {
            witnesses: Witnesses {
                provider,
                nodes: Overlay::new(provider),
                accounts: HashMap::new(),
                code_roots: HashMap::new(),
                roots_by_hash: HashMap::new(),
                chunked: HashMap::new(),
                block_hashes,
                links: HashMap::new(),
                preimages: HashMap::new(),
                inbox: InboxAccs::default(),
            },
            roots: Roots {
                world,
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
            derivation: None,
        }
    }

    pub(super) fn fail(&mut self, e: TraceError) {
        self.error.get_or_insert(e);
    }

    /// Applies `changes` to the tree `root` selects.
    pub(super) fn apply(
        &mut self,
        which: fn(&mut Roots) -> &mut B256,
        changes: Vec<(B256, Option<B256>)>,
    ) {
        let root = *which(&mut self.roots);
        match self.witnesses.update(root, changes) {
            Ok(new) => *which(&mut self.roots) = new,
            Err(e) => self.fail(TraceError::Tree(e)),
        }
    }

    /// The world state once the transaction's first frame starts (after revm's transaction
    /// validation, gas purchase, nonce increment and value transfer): every account revm holds.
    pub(super) fn enter_world(&mut self, state: &EvmState) {
        if self.derivation.is_some() {
            // revm's nonce bump of address 0 and the program's account are not machine
            // state, and the static program changes nothing else.
            return;
        }
        let accounts = state.iter().map(|(a, acc)| (*a, acc.info.clone()));
        if let Some(changes) = self.leaves(accounts) {
            self.apply(|r| &mut r.world, changes);
        }
    }

    /// The state-tree changes that set `accounts`, remembering each leaf's preimage; `None`
    /// (and the trace failed) if a code is missing.
    pub(super) fn leaves(
        &mut self,
        accounts: impl IntoIterator<Item = (Address, revm::state::AccountInfo)>,
    ) -> Option<Vec<(B256, Option<B256>)>> {
        let mut changes = Vec::new();
        for (address, info) in accounts {
            match self.witnesses.leaf(&info) {
                Ok(leaf) => changes.push((account_key(&address), leaf)),
                Err(e) => {
                    self.fail(TraceError::Provider(e));
                    return None;
                }
            }
        }
        Some(changes)
    }

    /// Remembers the preimage of `address`'s leaf as revm holds the account (`state`), or as
    /// the parent state has it if revm has not loaded it.
    pub(super) fn remember_account(&mut self, state: &EvmState, address: Address) {
        let info = match state.get(&address) {
            Some(account) => Some(account.info.clone()),
            None => match self.witnesses.provider.basic_ref(address) {
                Ok(info) => info,
                Err(e) => return self.fail(TraceError::Provider(e)),
            },
        };
        if let Some(info) = info {
            // A missing code fails the trace inside.
            let _ = self.leaves([(address, info)]);
        }
    }

    /// `SSTORE` set `slot` of `address` from zero: link it onto the account's created-set
    /// member value if it was created in this transaction.
    pub(super) fn track_slot(&mut self, address: &Address, slot: U256) {
        let key = account_key(address);
        match self.witnesses.get(self.roots.created, &key) {
            Ok(Some(chain)) => {
                let next = self.witnesses.link(chain, B256::from(slot));
                self.apply(|r| &mut r.created, vec![(key, Some(next))]);
            }
            Ok(None) => {}
            Err(e) => self.fail(TraceError::Tree(e)),
        }
    }

    /// The deletion micro-states after a transaction whose created accounts self-destructed:
    /// one per linked slot, then the account, last self-destruct first.
    pub(super) fn destruct_states(&mut self) {
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
    pub(super) fn warm_access_list(
        &mut self,
        entries: &[AccessEntry],
        mut roots: Roots,
    ) -> Option<Roots> {
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
                    self.fail(TraceError::Tree(e));
                    return None;
                }
            }
        }
        Some(roots)
    }

    /// A transaction whose target is a precompile: tx-init runs it and the frame ends at once
    /// (returned with `gas` left, or halted). revm's `state` has rolled a failed call's value
    /// back; the frame's world has it moved until the exit restores the checkpoint.
    pub(super) fn precompile_tx(&mut self, mut state: EvmState, input: DataRef, gas: Option<u64>) {
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
    pub(super) fn memory_of(&self, frame: usize, memory: &[u8]) -> Arc<Vec<u8>> {
        match self.states.last() {
            Some(last) if last.frame == frame && last.memory.as_slice() == memory => {
                last.memory.clone()
            }
            _ => Arc::new(memory.to_vec()),
        }
    }

    /// A snapshot of no frame (between transactions).
    pub(super) fn boundary(&self) -> Snapshot {
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
    pub(super) fn fresh(&self, frame: usize, gas: u64, refund: u64) -> Snapshot {
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
    pub(super) fn run_empty_frame(&mut self, first: Snapshot) {
        self.states.push(first.clone());
        self.states.push(Snapshot {
            status: Status::Returned,
            ..first
        });
        self.active.pop();
    }

    /// Records the boundary state.
    pub(super) fn push_boundary(&mut self) {
        let b = self.boundary();
        self.states.push(b);
    }

    /// A listed transaction the block does not contain: the boundary before it, which the
    /// tx-init step leaves with only the transaction index advanced (the state makes it
    /// invalid).
    pub(super) fn skip_tx(&mut self) {
        self.push_boundary();
        // No part: it never starts (kept so that parts stay indexed by input).
        self.txs.push(TxPart::default());
        self.progress.tx_index += 1;
    }

    /// The boundary before transaction `index`, and the transaction's start.
    pub(super) fn begin_tx(
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
            Err(e) => self.fail(TraceError::Tree(e)),
        }
        self.top = Some(TopFrame {
            sender: input.sender,
            to,
            value: input.value,
            entries,
        });
    }

    /// The L1 data fee moved at tx-init: `accounts` are the sender and the fee vault after it.
    pub(super) fn pay_l1_fee(&mut self, accounts: [(Address, revm::state::AccountInfo); 2]) {
        if let Some(changes) = self.leaves(accounts) {
            self.apply(|r| &mut r.world, changes);
        }
    }

    /// A deposit that could not run: recorded as failed with its mint kept and nonce bumped
    /// (`info` is the sender after both).
    pub(super) fn failed_deposit(&mut self, input: &TxInput, info: &revm::state::AccountInfo) {
        if let Some(changes) = self.leaves([(input.sender, info.clone())]) {
            self.apply(|r| &mut r.world, changes);
        }
        self.close_tx(input, input.gas_limit, false, &[]);
    }

    /// The block's progress after a transaction: gas, receipt, transaction hash, bloom.
    pub(super) fn close_tx(&mut self, input: &TxInput, gas_used: u64, success: bool, logs: &[Log]) {
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
    pub(super) fn end_tx(&mut self, input: &TxInput, result: &ExecutionResult, state: &EvmState) {
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
    pub(super) fn top_checkpoint(
        &mut self,
        state: &EvmState,
        top: &TopFrame,
    ) -> Option<(Checkpoint, Roots)> {
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
                self.fail(TraceError::Tree(e));
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
    pub(super) fn world_before_create(
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
    pub(super) fn top_create_init(&mut self, code: &[u8]) -> bool {
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
    pub(super) fn top_create_collision(&mut self, state: &EvmState, code: &[u8]) {
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
    pub(super) fn enter_top_create(
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
    pub(super) fn enter_top(
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

    /// Enters the derivation program's frame, as the open step does: static, called by address
    /// 0 with no value, its checkpoint the open state's.
    pub(super) fn enter_derivation(&mut self, code: &[u8], input: DataRef) {
        let data = FrameData {
            kind: FrameKind::Call,
            depth: 0,
            is_static: true,
            address: PROGRAM,
            caller: Address::ZERO,
            value: U256::ZERO,
            code: ChunkedCode::new(code),
            calldata_root: input.root(),
            calldata: input,
            parent: Some((boundary_frame(), self.roots.checkpoint(0))),
        };
        self.enter_frame(data, 0, None);
    }

    /// Whether a call of `kind` to `target` is answered by the derivation oracle (a
    /// `STATICCALL` to it in a derivation run; the machine's rule, `l1_oracle::is_oracle_call`).
    fn is_oracle_call(&self, kind: FrameKind, target: &Address) -> bool {
        self.derivation.is_some() && kind == FrameKind::StaticCall && *target == ORACLE
    }

    /// The derivation oracle's answer to `input` ([`l1_oracle`]): `None` when the query is
    /// malformed (the call fails), an error when the trace cannot answer it.
    fn oracle_answer(&self, input: &[u8]) -> Result<Option<Bytes>, TraceError> {
        let missing = |what: String| TraceError::Oracle(what);
        let Some(query) = Query::parse(input) else {
            return Ok(None);
        };
        let w = &self.witnesses;
        Ok(Some(match query {
            Query::Context => {
                let (parent_hash, cursor) = self.derivation.unwrap_or_default();
                Bytes::from([parent_hash.0, cursor.0].concat())
            }
            Query::Preimage(hash) => {
                let bytes = w
                    .preimages
                    .get(&hash)
                    .cloned()
                    .ok_or_else(|| missing(format!("no preimage of {hash}")))?;
                if bytes.len() > MAX_PREIMAGE {
                    return Err(missing(format!(
                        "the preimage of {hash} is over {MAX_PREIMAGE} bytes"
                    )));
                }
                bytes
            }
            Query::Acc(acc, index) => {
                let value = match acc {
                    InboxAcc::Batch => w.inbox.batch_acc(index),
                    InboxAcc::Delayed => w.inbox.delayed_acc(index),
                };
                let value =
                    value.ok_or_else(|| missing(format!("no {acc:?} accumulator at {index}")))?;
                Bytes::copy_from_slice(value.as_slice())
            }
        }))
    }

    /// Enters a create frame: the new address warm, the checkpoint (creator's nonce bumped,
    /// nothing else), then the new account and the value, and the created set.
    pub(super) fn enter_create(
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
    pub(super) fn enter_frame(
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
    pub(super) fn callee(
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
    pub(super) fn exit_states(&mut self, exit: PendingExit, now: &Snapshot) {
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
    pub(super) fn copy_micro_states(
        &mut self,
        opcode: u8,
        pre: &Snapshot,
        post_memory: &[u8],
        gas: u64,
    ) {
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
    pub(super) fn keccak_micro_states(&mut self, pre: &Snapshot, gas: u64) {
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
    pub(super) fn after_step(
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
                    Err(e) => self.fail(TraceError::Tree(e)),
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
                        Err(e) => return self.fail(TraceError::Tree(e)),
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
                if self.derivation.is_some() {
                    return self.enter_derivation(&code, DataRef::of(&calldata));
                }
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

    fn call(
        &mut self,
        context: &mut CTX,
        inputs: &mut revm::interpreter::CallInputs,
    ) -> Option<revm::interpreter::CallOutcome> {
        let oracle_call = matches!(&self.pending_call,
            Some(c) if self.is_oracle_call(c.kind, &inputs.target_address));
        // A caller at depth 1024 cannot call: revm's own depth check (after this hook) fails it.
        let too_deep = self
            .active
            .last()
            .is_some_and(|a| self.frames[a.frame].depth >= MAX_DEPTH);
        if !oracle_call || too_deep || self.error.is_some() {
            return None;
        }
        let input = inputs.input.bytes(context);
        let answer = match input.len() {
            4 | 36 => self.oracle_answer(&input),
            _ => Ok(None),
        };
        let (result, output, gas) = match answer {
            Ok(Some(bytes)) if answer_gas(bytes.len()) <= inputs.gas_limit => {
                let mut gas = Gas::new(inputs.gas_limit);
                gas.set_remaining(inputs.gas_limit - answer_gas(bytes.len()));
                (InstructionResult::Return, bytes, gas)
            }
            Ok(_) => {
                let mut gas = Gas::new(inputs.gas_limit);
                gas.spend_all();
                (InstructionResult::PrecompileError, Bytes::new(), gas)
            }
            Err(e) => {
                self.fail(e);
                return None;
            }
        };
        Some(revm::interpreter::CallOutcome::new(
            InterpreterResult {
                result,
                output,
                gas,
            },
            inputs.return_memory_offset.clone(),
        ))
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
            let answered = crate::precompile::is_precompile(&inputs.bytecode_address)
                || self.is_oracle_call(call.kind, &inputs.target_address);
            if answered
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
        if self.derivation.is_some() {
            let opcode = opcode_at(&self.frames[frame].code, interp.bytecode.pc() as u64);
            if let Some(account) =
                outside_the_machine(opcode, interp.stack.data(), &self.frames[frame])
            {
                return self.fail(TraceError::Unsupported(format!(
                    "a derivation run reading account {account} ({})",
                    crate::vm::verifier::opcodes::name(opcode)
                )));
            }
        }
        let memory = self.memory_of(frame, &interp.memory.context_memory());
        let Some(active) = self.active.last_mut() else {
            return;
        };
        if let Some(exit) = &exit {
            active.returndata = exit.returndata.clone();
        }
        let Some(refund) = tx_refund(active.refund_base, interp.gas.refunded()) else {
            return self.fail(TraceError::RefundBelowZero);
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
                        crate::vm::verifier::opcodes::name(opcode)
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
                return self.fail(TraceError::RefundBelowZero);
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
                    return self.fail(TraceError::RefundBelowZero);
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
