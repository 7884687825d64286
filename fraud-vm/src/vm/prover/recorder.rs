//! The prover's oracle: reads the full state of one snapshot and records witnesses.

use std::collections::HashMap;

use alloy_primitives::{Bytes, B256, U256};

use super::{snapshot::*, Trace};
use crate::vm::verifier::{
    build::CodeBuilder,
    input::{AccessEntry, TxInput},
    keccak::Sponge,
    l1_oracle::InboxAcc,
    machine::{BlockPart, Checkpoint, Frame},
    open::L1Inbox,
    oracle::{DataSource, Oracle, WordTree},
    proof::Witness,
    StepError, DATA_DEPTH,
};
use crate::{
    execute::StateProvider,
    merkle::{self, words},
    smt::{self, MemoryNodes, NodeReader, Overlay},
    state::AccountLeaf,
};

/// The prover's oracle: reads the full state of one snapshot and records witnesses.
pub(super) struct Recorder<'a, P> {
    pub(super) frame: Option<&'a FrameData>,
    pub(super) trace: &'a Trace<'a, P>,
    pub(super) known: &'a Witnesses<'a, P>,
    pub(super) tx_index: u64,
    pub(super) cursor: u64,
    pub(super) stack: Vec<U256>,
    /// `prefix[k]` = hash of the bottom `k` stack words.
    pub(super) prefix: Vec<B256>,
    pub(super) memory: Vec<Vec<B256>>,
    pub(super) returndata: Vec<Vec<B256>>,
    pub(super) calldata: Vec<Vec<B256>>,
    pub(super) parent: Option<(Frame, Checkpoint)>,
    /// Tree nodes written earlier in the same step.
    pub(super) local: MemoryNodes,
    /// Accounts written earlier in the same step, by leaf value.
    pub(super) local_accounts: HashMap<B256, AccountLeaf>,
    pub(super) sponge: Option<Sponge>,
    pub(super) builder: Option<CodeBuilder>,
    pub(super) witnesses: Vec<Witness>,
}

impl<'a, P: StateProvider> Recorder<'a, P> {
    pub(super) fn new(s: &Snapshot, frame: Option<&'a FrameData>, trace: &'a Trace<'a, P>) -> Self {
        let mut prefix = vec![B256::ZERO];
        for w in &s.stack {
            let last = prefix[prefix.len() - 1];
            prefix.push(crate::vm::verifier::machine::stack_push_hash(&last, w));
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
    pub(super) fn nodes(&self) -> Layered<'_, P> {
        Layered {
            top: &self.local,
            base: &self.known.nodes,
        }
    }

    pub(super) fn memory_leaf(&self, index: u64) -> B256 {
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

    fn set_block_hash(&mut self, root: &mut B256, index: u64, hash: B256) -> Result<(), StepError> {
        self.block_hash(root, index)?;
        *root =
            merkle::root_from_path(&hash, index, &merkle::path(&self.known.block_hashes, index));
        Ok(())
    }

    fn preimage(&mut self, hash: &B256) -> Result<Bytes, StepError> {
        let bytes = self
            .known
            .preimages
            .get(hash)
            .cloned()
            .ok_or(StepError::MissingWitness("preimage"))?;
        self.witnesses.push(Witness::Preimage(bytes.clone()));
        Ok(bytes)
    }

    fn inbox_acc(&mut self, acc: InboxAcc, index: u64) -> Result<B256, StepError> {
        let inbox = &self.known.inbox;
        match acc {
            InboxAcc::Batch => inbox.batch_acc(index),
            InboxAcc::Delayed => inbox.delayed_acc(index),
        }
        .ok_or(StepError::NotOnL1(index))
    }
}

/// Two node stores read top first.
pub(super) struct Layered<'a, P> {
    pub(super) top: &'a MemoryNodes,
    pub(super) base: &'a Overlay<'a, P>,
}

impl<P: StateProvider> NodeReader for Layered<'_, P> {
    fn node(&self, hash: &B256) -> Result<Option<smt::Node>, smt::SmtError> {
        match self.top.get(hash) {
            Some(node) => Ok(Some(*node)),
            None => self.base.node(hash),
        }
    }
}
