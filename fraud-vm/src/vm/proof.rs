//! One-step proofs: the pre-state parts and the witnesses the step reads.

use alloy_primitives::{B256, U256};

use super::machine::{BlockPart, Checkpoint, Frame, Machine, TxPart};
use crate::{smt, state::AccountLeaf};

/// One witness, in the order the step asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Witness {
    /// A popped stack word and the stack hash below it.
    Stack {
        /// The word.
        word: U256,
        /// Stack hash without it.
        below: B256,
    },
    /// A code chunk and its path in the frame's chunk tree.
    Code {
        /// `marker ‖ 31 code bytes`.
        chunk: B256,
        /// Siblings, leaf level first.
        path: Vec<B256>,
    },
    /// A memory word (before the step writes it) and its path.
    Memory {
        /// The word.
        word: B256,
        /// Siblings, leaf level first ([`super::DATA_DEPTH`] of them).
        path: Vec<B256>,
    },
    /// The suspended caller frame and the checkpoint taken when it made the call.
    Parent {
        /// The caller's frame.
        frame: Box<Frame>,
        /// State to restore on revert.
        checkpoint: Box<Checkpoint>,
    },
    /// The input item of the transaction a tx-init step starts, with its path.
    TxInput {
        /// The item.
        input: Box<super::input::TxInput>,
        /// Siblings in the input tree, leaf level first.
        path: Vec<B256>,
    },
    /// An access-list entry (checked by the hash chain once all are in).
    AccessEntry(super::input::AccessEntry),
    /// The block's extra data (at most 32 bytes).
    ExtraData(alloy_primitives::Bytes),
    /// The code builder of a create or deposit in progress.
    Builder(Box<super::build::CodeBuilder>),
    /// The keccak sponge state of a hash in progress.
    Sponge(Box<super::keccak::Sponge>),
    /// A state-tree (or set) proof for the key the step reads or writes.
    Smt(smt::Proof),
    /// The preimage of an account leaf value.
    Account(AccountLeaf),
    /// The preimage of a non-zero `codeRoot`.
    CodeRoot {
        /// Code length in bytes.
        len: u64,
        /// Root of the chunk tree.
        chunk_root: B256,
    },
    /// Consecutive words of a memory or data tree with the range's boundary siblings
    /// ([`crate::merkle::range_siblings`]).
    Words {
        /// The words.
        words: Vec<B256>,
        /// Boundary siblings, leaf level first.
        siblings: Vec<B256>,
    },
    /// The last link of a hash chain (self-destructed accounts, a created account's slots).
    Link {
        /// The chain before the link.
        prev: B256,
        /// The linked item.
        item: B256,
    },
    /// A call data (or return data, or block hash) word and its path.
    Data {
        /// The word.
        word: B256,
        /// Siblings, leaf level first ([`super::DATA_DEPTH`] of them).
        path: Vec<B256>,
    },
}

impl Witness {
    /// Short name, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Witness::Stack { .. } => "stack",
            Witness::Code { .. } => "code",
            Witness::Memory { .. } => "memory",
            Witness::Data { .. } => "data",
            Witness::Smt(_) => "smt",
            Witness::Sponge(_) => "sponge",
            Witness::Builder(_) => "code builder",
            Witness::Parent { .. } => "parent",
            Witness::TxInput { .. } => "tx input",
            Witness::ExtraData(_) => "extra data",
            Witness::AccessEntry(_) => "access-list entry",
            Witness::Account(_) => "account",
            Witness::CodeRoot { .. } => "code root",
            Witness::Link { .. } => "chain link",
            Witness::Words { .. } => "word range",
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        let (tag, head, path): (u8, &[u8], &[B256]) = match self {
            Witness::Stack { word, below } => {
                out.push(0);
                out.extend_from_slice(&word.to_be_bytes::<32>());
                out.extend_from_slice(below.as_slice());
                return;
            }
            Witness::Smt(proof) => {
                let bytes = proof.encode();
                out.push(4);
                out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                out.extend_from_slice(&bytes);
                return;
            }
            Witness::TxInput { input, path } => {
                out.push(9);
                out.extend_from_slice(&input.encode());
                out.push(path.len() as u8);
                for sibling in path {
                    out.extend_from_slice(sibling.as_slice());
                }
                return;
            }
            Witness::AccessEntry(entry) => {
                out.push(12);
                out.extend_from_slice(entry.address.as_slice());
                out.push(entry.slot.is_some() as u8);
                out.extend_from_slice(entry.slot.unwrap_or_default().as_slice());
                return;
            }
            Witness::ExtraData(bytes) => {
                out.push(10);
                out.push(bytes.len() as u8);
                out.extend_from_slice(bytes);
                return;
            }
            Witness::Parent { frame, checkpoint } => {
                out.push(8);
                out.extend_from_slice(&frame.encode());
                out.extend_from_slice(&checkpoint.encode());
                return;
            }
            Witness::Builder(b) => {
                out.push(11);
                out.extend_from_slice(&b.sponge.to_bytes());
                out.push(b.buffer.len() as u8);
                out.extend_from_slice(&b.buffer);
                out.push(b.carry as u8);
                out.push(b.frontier.len() as u8);
                for node in &b.frontier {
                    out.extend_from_slice(node.as_slice());
                }
                return;
            }
            Witness::Sponge(sponge) => {
                out.push(7);
                out.extend_from_slice(&sponge.to_bytes());
                return;
            }
            Witness::Account(account) => {
                out.push(5);
                out.extend_from_slice(&account.encode());
                return;
            }
            Witness::CodeRoot { len, chunk_root } => {
                out.push(6);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(chunk_root.as_slice());
                return;
            }
            Witness::Words { words, siblings } => {
                out.push(14);
                out.extend_from_slice(&(words.len() as u32).to_be_bytes());
                for word in words {
                    out.extend_from_slice(word.as_slice());
                }
                out.push(siblings.len() as u8);
                for sibling in siblings {
                    out.extend_from_slice(sibling.as_slice());
                }
                return;
            }
            Witness::Link { prev, item } => {
                out.push(13);
                out.extend_from_slice(prev.as_slice());
                out.extend_from_slice(item.as_slice());
                return;
            }
            Witness::Code { chunk, path } => (1, chunk.as_slice(), path),
            Witness::Memory { word, path } => (2, word.as_slice(), path),
            Witness::Data { word, path } => (3, word.as_slice(), path),
        };
        out.push(tag);
        out.extend_from_slice(head);
        out.push(path.len() as u8);
        for sibling in path {
            out.extend_from_slice(sibling.as_slice());
        }
    }
}

/// A one-step proof: everything [`super::verify_step`] needs besides the pre-state hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// Block part of the pre-state.
    pub block: BlockPart,
    /// Transaction part of the pre-state.
    pub tx: TxPart,
    /// Active frame of the pre-state.
    pub frame: Frame,
    /// Witnesses in the order the step reads them.
    pub witnesses: Vec<Witness>,
}

impl Proof {
    /// The pre-state the proof claims.
    pub fn machine(&self) -> Machine {
        Machine {
            block: self.block.clone(),
            tx: self.tx.clone(),
            frame: self.frame.clone(),
            sealed: None,
        }
    }

    /// Byte encoding (what an L1 verifier receives as calldata): the three parts as 32-byte
    /// words (26 + 21 + 26), then each witness as `tag ‖ fields` — stack `0 ‖ word ‖ below`,
    /// code `1 ‖ chunk ‖ n ‖ n siblings`, memory `2 ‖ …`, data `3 ‖ …`, state-tree proof
    /// `4 ‖ u16 length ‖ smt::Proof::encode`, account `5 ‖ abi.encode(leaf)`, code root
    /// `6 ‖ u64 len ‖ chunkRoot`, sponge `7 ‖ 200 state bytes`, parent
    /// `8 ‖ frame (26 words) ‖ checkpoint (15 words)`, tx input `9 ‖ 16 words ‖ n ‖ n
    /// siblings`, extra data `10 ‖ len ‖ bytes`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(46 * 32 + self.witnesses.len() * 100);
        for part in [self.block.encode(), self.tx.encode(), self.frame.encode()] {
            out.extend_from_slice(&part);
        }
        for w in &self.witnesses {
            w.encode_into(&mut out);
        }
        out
    }
}
