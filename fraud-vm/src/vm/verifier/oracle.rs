//! Where a step's witnesses come from.
//!
//! The step semantics ([`super::step`]) are written once, against [`Oracle`]: the verifier's
//! oracle ([`Checker`]) takes each witness from the proof and checks it against the commitment
//! in the pre-state; the prover's oracle (the recorder of `vm::prover`) reads the full machine
//! state and records the witness. Both therefore ask for exactly the same witnesses in the same order.

use std::collections::VecDeque;

use alloy_primitives::{keccak256, Bytes, B256, U256};

use crate::{smt, state::AccountLeaf};

use super::{
    build::CodeBuilder,
    input::{AccessEntry, TxInput},
    keccak::Sponge,
    l1_oracle::{InboxAcc, MAX_PREIMAGE},
    machine::{parent_hash, stack_push_hash, BlockPart, Checkpoint, Frame},
    open::L1Inbox,
    proof::Witness,
    StepError, BLOCK_HASH_DEPTH, DATA_DEPTH,
};
use crate::{code, merkle};

/// Access to the parts of the machine state that are committed by a root or hash chain.
pub trait Oracle {
    /// Pops the top stack word (the caller has checked the stack is not empty) and updates the
    /// frame's stack commitment.
    fn pop(&mut self, frame: &mut Frame) -> Result<U256, StepError>;
    /// Chunk `index` of the code with length `code_len` and chunk-tree root `chunk_root` (the
    /// caller has checked it exists).
    fn code_chunk(
        &mut self,
        code_len: u64,
        chunk_root: &B256,
        index: u64,
    ) -> Result<B256, StepError>;
    /// Memory word `index` (the caller has checked it is inside memory).
    fn memory_word(&mut self, frame: &Frame, index: u64) -> Result<B256, StepError>;
    /// Replaces memory word `index` with `f(old)` and updates the memory root.
    fn modify_memory_word(
        &mut self,
        frame: &mut Frame,
        index: u64,
        f: &mut dyn FnMut(B256) -> B256,
    ) -> Result<(), StepError>;
    /// Word `index` of the tree holding the frame's call data or return data.
    fn data_word(
        &mut self,
        frame: &Frame,
        source: DataSource,
        index: u64,
    ) -> Result<B256, StepError>;
    /// The value under `key` in the state-commitment tree (or set) with root `root`.
    fn smt_read(&mut self, root: &B256, key: &B256) -> Result<Option<B256>, StepError>;
    /// Sets `key` to `value` in the tree with root `*root`, updating the root; returns the old
    /// value.
    fn smt_write(
        &mut self,
        root: &mut B256,
        key: &B256,
        value: Option<B256>,
    ) -> Result<Option<B256>, StepError>;
    /// The account whose leaf value is `leaf` (`None`: the empty account, no witness).
    fn account(&mut self, leaf: Option<B256>) -> Result<AccountLeaf, StepError>;
    /// The step is writing `account` (so a later read in the same step can show it). The
    /// verifier needs nothing: it checks every preimage it is shown.
    fn wrote_account(&mut self, _account: &AccountLeaf) {}
    /// The length of the code whose `codeRoot` is `code_root` (0 for `codeRoot = 0`).
    fn code_len(&mut self, code_root: &B256) -> Result<u64, StepError> {
        if code_root.is_zero() {
            return Ok(0);
        }
        Ok(self.code_root_preimage(code_root)?.0)
    }
    /// Leaf `index` of the block-hash tree with root `root`.
    fn block_hash(&mut self, root: &B256, index: u64) -> Result<B256, StepError>;
    /// Sets leaf `index` of the block-hash tree with root `*root` to `hash`, updating the root.
    fn set_block_hash(&mut self, root: &mut B256, index: u64, hash: B256) -> Result<(), StepError>;
    /// The sponge state the frame's `sponge` field commits to.
    fn sponge(&mut self, frame: &Frame) -> Result<Sponge, StepError>;
    /// The code builder the frame's `sponge` field commits to.
    fn builder(&mut self, frame: &Frame) -> Result<CodeBuilder, StepError>;
    /// The suspended caller frame and the checkpoint `frame.parent_hash` commits to.
    fn parent(&mut self, frame: &Frame) -> Result<(Frame, Checkpoint), StepError>;
    /// The input item of transaction `block.tx_index` (checked against `block.inputs_root`).
    fn tx_input(&mut self, block: &BlockPart) -> Result<TxInput, StepError>;
    /// The next access-list entry of the transaction being started.
    fn access_entry(&mut self) -> Result<AccessEntry, StepError>;
    /// The extra data whose hash is `hash`.
    fn extra_data(&mut self, hash: &B256) -> Result<Bytes, StepError>;
    /// `(code length, chunk root)` of a non-zero `codeRoot`.
    fn code_root_preimage(&mut self, code_root: &B256) -> Result<(u64, B256), StepError>;
    /// Words `first .. first + count` (`count > 0`) of the frame's memory or of the tree
    /// holding its call data or return data.
    fn words(
        &mut self,
        frame: &Frame,
        tree: WordTree,
        first: u64,
        count: u64,
    ) -> Result<Vec<B256>, StepError>;
    /// `(prev, item)` with `link(prev, item) == head`: the last link of a hash chain.
    fn link(&mut self, head: &B256) -> Result<(B256, B256), StepError>;
    /// The bytes (at most [`MAX_PREIMAGE`]) whose `keccak256` is `hash`: the derivation
    /// oracle's `preimage` answer.
    fn preimage(&mut self, hash: &B256) -> Result<Bytes, StepError>;
    /// The Inbox's accumulator `acc` at `index`, read on L1.
    fn inbox_acc(&mut self, acc: InboxAcc, index: u64) -> Result<B256, StepError>;
}

/// A word tree of the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WordTree {
    /// Its memory.
    Memory,
    /// The tree holding its call data or return data.
    Data(DataSource),
}

impl WordTree {
    /// The tree's root.
    pub fn root(self, frame: &Frame) -> B256 {
        match self {
            WordTree::Memory => frame.mem_root,
            WordTree::Data(source) => source.of(frame).1,
        }
    }
}

/// A byte array of the frame committed as a word tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// The frame's input.
    CallData,
    /// The output of the last call the frame made.
    ReturnData,
}

impl DataSource {
    /// The array's length, tree root and offset in that tree.
    pub fn of(self, frame: &Frame) -> (u64, B256, u64) {
        match self {
            DataSource::CallData => (
                frame.calldata_len,
                frame.calldata_root,
                frame.calldata_offset,
            ),
            DataSource::ReturnData => (
                frame.returndata_len,
                frame.returndata_root,
                frame.returndata_offset,
            ),
        }
    }
}

/// Pushes `word` (the caller has checked for overflow).
pub fn push(frame: &mut Frame, word: U256) {
    frame.stack_hash = stack_push_hash(&frame.stack_hash, &word);
    frame.stack_size += 1;
}

/// The verifier's oracle: serves the proof's witnesses in order, checking each one, and reads
/// L1 through its view of it (if it has one).
pub struct Checker<'l> {
    witnesses: VecDeque<Witness>,
    l1: Option<&'l dyn L1Inbox>,
}

impl Checker<'static> {
    /// Serves `witnesses`, with no view of L1 (a step that reads L1 fails with
    /// [`StepError::NoL1`]).
    pub fn new(witnesses: Vec<Witness>) -> Self {
        Self {
            witnesses: witnesses.into(),
            l1: None,
        }
    }
}

impl<'l> Checker<'l> {
    /// Serves `witnesses` and reads L1 from `l1`.
    pub fn on_l1(witnesses: Vec<Witness>, l1: &'l dyn L1Inbox) -> Self {
        Self {
            witnesses: witnesses.into(),
            l1: Some(l1),
        }
    }

    /// Fails if the step left witnesses unused (a proof has exactly one form).
    pub fn finish(self) -> Result<(), StepError> {
        match self.witnesses.len() {
            0 => Ok(()),
            n => Err(StepError::UnusedWitnesses(n)),
        }
    }

    fn next(&mut self, wanted: &'static str) -> Result<Witness, StepError> {
        self.witnesses
            .pop_front()
            .ok_or(StepError::MissingWitness(wanted))
    }

    fn path_witness(
        &mut self,
        wanted: &'static str,
        depth: usize,
    ) -> Result<(B256, Vec<B256>), StepError> {
        let (word, path) = match (wanted, self.next(wanted)?) {
            ("code chunk", Witness::Code { chunk, path }) => (chunk, path),
            ("memory word", Witness::Memory { word, path }) => (word, path),
            ("data word" | "block hash", Witness::Data { word, path }) => (word, path),
            _ => return Err(StepError::WrongWitness(wanted)),
        };
        if path.len() != depth {
            return Err(StepError::WrongWitness(wanted));
        }
        Ok((word, path))
    }

    fn opened(
        &mut self,
        wanted: &'static str,
        depth: usize,
        root: &B256,
        index: u64,
    ) -> Result<(B256, Vec<B256>), StepError> {
        let (word, path) = self.path_witness(wanted, depth)?;
        if merkle::root_from_path(&word, index, &path) != *root {
            return Err(StepError::BadWitness(wanted));
        }
        Ok((word, path))
    }
}

impl Oracle for Checker<'_> {
    fn pop(&mut self, frame: &mut Frame) -> Result<U256, StepError> {
        let Witness::Stack { word, below } = self.next("stack word")? else {
            return Err(StepError::WrongWitness("stack word"));
        };
        if stack_push_hash(&below, &word) != frame.stack_hash {
            return Err(StepError::BadWitness("stack word"));
        }
        frame.stack_hash = below;
        frame.stack_size -= 1;
        Ok(word)
    }

    fn code_chunk(
        &mut self,
        code_len: u64,
        chunk_root: &B256,
        index: u64,
    ) -> Result<B256, StepError> {
        let depth = code::depth(code_len as usize);
        Ok(self.opened("code chunk", depth, chunk_root, index)?.0)
    }

    fn memory_word(&mut self, frame: &Frame, index: u64) -> Result<B256, StepError> {
        Ok(self
            .opened("memory word", DATA_DEPTH, &frame.mem_root, index)?
            .0)
    }

    fn modify_memory_word(
        &mut self,
        frame: &mut Frame,
        index: u64,
        f: &mut dyn FnMut(B256) -> B256,
    ) -> Result<(), StepError> {
        let (old, path) = self.opened("memory word", DATA_DEPTH, &frame.mem_root, index)?;
        frame.mem_root = merkle::root_from_path(&f(old), index, &path);
        Ok(())
    }

    fn data_word(
        &mut self,
        frame: &Frame,
        source: DataSource,
        index: u64,
    ) -> Result<B256, StepError> {
        let (_, root, _) = source.of(frame);
        Ok(self.opened("data word", DATA_DEPTH, &root, index)?.0)
    }

    fn smt_read(&mut self, root: &B256, key: &B256) -> Result<Option<B256>, StepError> {
        self.smt_proof()?
            .verify(*root, key)
            .map_err(|_| StepError::BadWitness("state tree proof"))
    }

    fn smt_write(
        &mut self,
        root: &mut B256,
        key: &B256,
        value: Option<B256>,
    ) -> Result<Option<B256>, StepError> {
        let proof = self.smt_proof()?;
        let old = proof
            .verify(*root, key)
            .map_err(|_| StepError::BadWitness("state tree proof"))?;
        *root = proof
            .root_with(key, value)
            .map_err(|_| StepError::BadWitness("state tree proof"))?;
        Ok(old)
    }

    fn account(&mut self, leaf: Option<B256>) -> Result<AccountLeaf, StepError> {
        let Some(leaf) = leaf else {
            return Ok(AccountLeaf::empty());
        };
        let Witness::Account(account) = self.next("account")? else {
            return Err(StepError::WrongWitness("account"));
        };
        if account.value_hash() != leaf {
            return Err(StepError::BadWitness("account"));
        }
        Ok(account)
    }

    fn code_root_preimage(&mut self, code_root: &B256) -> Result<(u64, B256), StepError> {
        let Witness::CodeRoot { len, chunk_root } = self.next("code root")? else {
            return Err(StepError::WrongWitness("code root"));
        };
        if code::root_of(len, &chunk_root) != *code_root {
            return Err(StepError::BadWitness("code root"));
        }
        Ok((len, chunk_root))
    }

    fn tx_input(&mut self, block: &BlockPart) -> Result<TxInput, StepError> {
        let Witness::TxInput { input, path } = self.next("tx input")? else {
            return Err(StepError::WrongWitness("tx input"));
        };
        if path.len() != super::input::depth(block.tx_count)
            || merkle::root_from_path(&input.hash(), block.tx_index, &path) != block.inputs_root
        {
            return Err(StepError::BadWitness("tx input"));
        }
        Ok(*input)
    }

    fn access_entry(&mut self) -> Result<AccessEntry, StepError> {
        match self.next("access-list entry")? {
            Witness::AccessEntry(entry) => Ok(entry),
            _ => Err(StepError::WrongWitness("access-list entry")),
        }
    }

    fn extra_data(&mut self, hash: &B256) -> Result<Bytes, StepError> {
        let Witness::ExtraData(bytes) = self.next("extra data")? else {
            return Err(StepError::WrongWitness("extra data"));
        };
        if bytes.len() > 32 || keccak256(&bytes) != *hash {
            return Err(StepError::BadWitness("extra data"));
        }
        Ok(bytes)
    }

    fn parent(&mut self, frame: &Frame) -> Result<(Frame, Checkpoint), StepError> {
        let Witness::Parent {
            frame: parent,
            checkpoint,
        } = self.next("parent frame")?
        else {
            return Err(StepError::WrongWitness("parent frame"));
        };
        if parent_hash(&parent, &checkpoint) != frame.parent_hash {
            return Err(StepError::BadWitness("parent frame"));
        }
        Ok((*parent, *checkpoint))
    }

    fn block_hash(&mut self, root: &B256, index: u64) -> Result<B256, StepError> {
        Ok(self.opened("block hash", BLOCK_HASH_DEPTH, root, index)?.0)
    }

    fn set_block_hash(&mut self, root: &mut B256, index: u64, hash: B256) -> Result<(), StepError> {
        let (_, path) = self.opened("block hash", BLOCK_HASH_DEPTH, root, index)?;
        *root = merkle::root_from_path(&hash, index, &path);
        Ok(())
    }

    fn builder(&mut self, frame: &Frame) -> Result<CodeBuilder, StepError> {
        let Witness::Builder(builder) = self.next("code builder")? else {
            return Err(StepError::WrongWitness("code builder"));
        };
        if !builder.is_well_formed() || builder.commitment() != frame.sponge {
            return Err(StepError::BadWitness("code builder"));
        }
        Ok(*builder)
    }

    fn words(
        &mut self,
        frame: &Frame,
        tree: WordTree,
        first: u64,
        count: u64,
    ) -> Result<Vec<B256>, StepError> {
        let Witness::Words { words, siblings } = self.next("word range")? else {
            return Err(StepError::WrongWitness("word range"));
        };
        if words.len() as u64 != count
            || merkle::root_from_range(&words, first, &siblings, DATA_DEPTH)
                != Some(tree.root(frame))
        {
            return Err(StepError::BadWitness("word range"));
        }
        Ok(words)
    }

    fn link(&mut self, head: &B256) -> Result<(B256, B256), StepError> {
        let Witness::Link { prev, item } = self.next("chain link")? else {
            return Err(StepError::WrongWitness("chain link"));
        };
        if super::machine::link(&prev, &item) != *head {
            return Err(StepError::BadWitness("chain link"));
        }
        Ok((prev, item))
    }

    fn sponge(&mut self, frame: &Frame) -> Result<Sponge, StepError> {
        let Witness::Sponge(sponge) = self.next("sponge")? else {
            return Err(StepError::WrongWitness("sponge"));
        };
        if sponge.commitment() != frame.sponge {
            return Err(StepError::BadWitness("sponge"));
        }
        Ok(*sponge)
    }

    fn preimage(&mut self, hash: &B256) -> Result<Bytes, StepError> {
        let Witness::Preimage(bytes) = self.next("preimage")? else {
            return Err(StepError::WrongWitness("preimage"));
        };
        if bytes.len() > MAX_PREIMAGE {
            return Err(StepError::WrongWitness("preimage"));
        }
        if keccak256(&bytes) != *hash {
            return Err(StepError::BadWitness("preimage"));
        }
        Ok(bytes)
    }

    fn inbox_acc(&mut self, acc: InboxAcc, index: u64) -> Result<B256, StepError> {
        let l1 = self.l1.ok_or(StepError::NoL1)?;
        match acc {
            InboxAcc::Batch => l1.batch_acc(index),
            InboxAcc::Delayed => l1.delayed_acc(index),
        }
        .ok_or(StepError::NotOnL1(index))
    }
}

impl Checker<'_> {
    fn smt_proof(&mut self) -> Result<smt::Proof, StepError> {
        match self.next("state tree proof")? {
            Witness::Smt(proof) => Ok(proof),
            _ => Err(StepError::WrongWitness("state tree proof")),
        }
    }
}
