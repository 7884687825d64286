//! What the trace records: the fixed facts of each frame, the machine state before each step,
//! and what it knows to build witnesses.

use std::{collections::HashMap, sync::Arc};

use alloy_primitives::{Address, Bloom, Bytes, B256, KECCAK256_EMPTY, U256};

use crate::vm::verifier::{
    build::CodeBuilder,
    input::TxInput,
    keccak::Sponge,
    machine::{parent_hash, stack_hash, BlockPart, Checkpoint, Frame, FrameKind, Status, TxPart},
    open::InboxAccs,
    DATA_DEPTH,
};
use crate::{
    code::{self, ChunkedCode, PIECE},
    execute::StateProvider,
    merkle::{self, data_root, words},
    smt::{self, Overlay, SmtError},
    state::AccountLeaf,
    ProviderError,
};

/// A byte range of a word tree: call data (in the transaction input or the caller's memory)
/// or return data (in the callee's final memory).
#[derive(Clone, Debug, Default)]
pub(super) struct DataRef {
    pub(super) tree: Arc<Vec<u8>>,
    pub(super) offset: u64,
    pub(super) len: u64,
}

impl DataRef {
    /// All of `bytes`, as their own tree.
    pub(super) fn of(bytes: &[u8]) -> Self {
        Self {
            tree: Arc::new(bytes.to_vec()),
            offset: 0,
            len: bytes.len() as u64,
        }
    }

    pub(super) fn empty() -> Self {
        Self {
            tree: Arc::new(Vec::new()),
            offset: 0,
            len: 0,
        }
    }

    pub(super) fn levels(&self) -> Vec<Vec<B256>> {
        merkle::levels(&words(&self.tree), DATA_DEPTH)
    }

    pub(super) fn root(&self) -> B256 {
        data_root(&self.tree)
    }
}

/// The fixed facts of one call frame.
#[derive(Debug)]
pub(super) struct FrameData {
    pub(super) kind: FrameKind,
    pub(super) depth: u64,
    pub(super) is_static: bool,
    pub(super) address: Address,
    pub(super) caller: Address,
    pub(super) value: U256,
    pub(super) code: ChunkedCode,
    pub(super) calldata: DataRef,
    pub(super) calldata_root: B256,
    /// The suspended caller and the checkpoint (`None` for the transaction's frame).
    pub(super) parent: Option<(Frame, Checkpoint)>,
}

/// The machine state before one step (or after the last), as revm showed it.
#[derive(Clone, Debug, Default)]
pub(super) struct Snapshot {
    pub(super) frame: usize,
    pub(super) status: Status,
    pub(super) pc: u64,
    pub(super) gas: u64,
    pub(super) stack: Vec<U256>,
    pub(super) memory: Arc<Vec<u8>>,
    pub(super) returndata: DataRef,
    pub(super) out: (u64, u64),
    pub(super) roots: Roots,
    pub(super) refund: u64,
    pub(super) cursor: u64,
    pub(super) sponge: Option<Sponge>,
    pub(super) builder: Option<CodeBuilder>,
    /// At a boundary: the input a creating transaction's initcode is being built from.
    pub(super) building: Option<DataRef>,
    /// At a boundary: the hash chain of the access-list entries not yet warmed.
    pub(super) chain: Option<B256>,
    pub(super) progress: Progress,
    /// Index of the transaction being executed (`None` at a boundary).
    pub(super) tx: Option<usize>,
    /// The block hash once the block has ended.
    pub(super) sealed: Option<B256>,
}

impl Snapshot {
    /// The output of a frame that ended here (a range of its memory).
    pub(super) fn output(&self) -> DataRef {
        DataRef {
            tree: self.memory.clone(),
            offset: self.out.0,
            len: self.out.1,
        }
    }
}

/// The tree roots that change during a transaction.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Roots {
    pub(super) world: B256,
    pub(super) accessed_addresses: B256,
    pub(super) accessed_slots: B256,
    pub(super) transient: B256,
    pub(super) logs: B256,
    pub(super) bloom: Bloom,
    pub(super) created: B256,
    pub(super) destructed: B256,
}

impl Roots {
    /// The checkpoint of these roots with `refund`.
    pub(super) fn checkpoint(&self, refund: u64) -> Checkpoint {
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
pub(super) struct Progress {
    pub(super) cumulative_gas: u64,
    pub(super) tx_acc: B256,
    pub(super) receipt_acc: B256,
    pub(super) tx_index: u64,
    pub(super) bloom: Bloom,
}

/// Frame index of boundary and end states (they have no frame).
pub(super) const NO_FRAME: usize = usize::MAX;

/// What the trace knows to build witnesses: tree nodes it created and leaf preimages.
pub(super) struct Witnesses<'a, P> {
    pub(super) provider: &'a P,
    pub(super) nodes: Overlay<'a, P>,
    /// Account leaf value → preimage.
    pub(super) accounts: HashMap<B256, AccountLeaf>,
    /// `codeRoot` → (code length, chunk root).
    pub(super) code_roots: HashMap<B256, (u64, B256)>,
    /// `codeHash` → `codeRoot` of the code seen so far.
    pub(super) roots_by_hash: HashMap<B256, B256>,
    /// Chunk-tree root → the code, for opening chunks of other accounts' code.
    pub(super) chunked: HashMap<B256, ChunkedCode>,
    /// The block-hash tree.
    pub(super) block_hashes: Vec<Vec<B256>>,
    /// Hash-chain link → `(prev, item)` (self-destructed accounts, created accounts' slots,
    /// access lists).
    pub(super) links: HashMap<B256, (B256, B256)>,
    /// Preimages the derivation oracle answers with, by hash.
    pub(super) preimages: HashMap<B256, Bytes>,
    /// The Inbox's accumulators the derivation oracle reads.
    pub(super) inbox: InboxAccs,
}

impl<P: StateProvider> Witnesses<'_, P> {
    /// `link(prev, item)`, remembering its preimage.
    pub(super) fn link(&mut self, prev: B256, item: B256) -> B256 {
        let head = crate::vm::verifier::machine::link(&prev, &item);
        self.links.insert(head, (prev, item));
        head
    }

    /// The value under `key` in the tree at `root`.
    pub(super) fn get(&self, root: B256, key: &B256) -> Result<Option<B256>, SmtError> {
        smt::get(&self.nodes, root, key)
    }

    /// Applies `changes` to the tree at `root`, keeping the new nodes.
    pub(super) fn update(
        &mut self,
        root: B256,
        changes: Vec<(B256, Option<B256>)>,
    ) -> Result<B256, SmtError> {
        let result = smt::update(&self.nodes, root, changes)?;
        self.nodes.insert_all(result.new_nodes);
        Ok(result.root)
    }

    /// The leaf of an account as revm holds it, remembering its preimage (and its code's).
    pub(super) fn leaf(
        &mut self,
        info: &revm::state::AccountInfo,
    ) -> Result<Option<B256>, ProviderError> {
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
                    .code_by_hash_ref(info.code_hash)?
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

/// The frame commitment of snapshot `s` of frame `f`.
pub(super) fn frame_of(s: &Snapshot, f: &FrameData) -> Frame {
    frame_of_with(s, f, data_root(&s.memory))
}

/// [`frame_of`] with the memory root given.
pub(super) fn frame_of_with(s: &Snapshot, f: &FrameData, mem_root: B256) -> Frame {
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
pub(super) fn tx_refund(base: u64, refunded: i64) -> Option<u64> {
    u64::try_from(i128::from(base) + i128::from(refunded)).ok()
}

/// The opcode at `pc` (`STOP` past the end).
pub(super) fn opcode_at(code: &ChunkedCode, pc: u64) -> u8 {
    if pc >= code.len() as u64 {
        return 0;
    }
    let (chunk, _) = code.open(pc / PIECE as u64);
    chunk[1 + (pc % PIECE as u64) as usize]
}

/// The fixed fields of a transaction's part (the ones the trace does not track per step).
pub(super) fn tx_part(input: &TxInput, block: &BlockPart, start_state_root: B256) -> TxPart {
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
