//! One-step proofs: the pre-state parts and the witnesses the step reads.

use alloy_primitives::{Address, Bytes, B256, U256};

use super::{
    build::CodeBuilder,
    input::AccessEntry,
    keccak::Sponge,
    l1_oracle::MAX_PREIMAGE,
    machine::{BlockPart, Checkpoint, Claim, Frame, Machine, TxPart},
    open::OpenProof,
};
use crate::{
    codec::{DecodeError, Reader, Words},
    smt,
    state::AccountLeaf,
};

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
    /// An access-list entry (checked against the last link of the chain of the entries not
    /// yet warmed, the [`Witness::Link`] that follows it).
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
    /// The last link of a hash chain (self-destructed accounts, a created account's slots, the
    /// access-list entries not yet warmed).
    Link {
        /// The chain before the link.
        prev: B256,
        /// The linked item.
        item: B256,
    },
    /// The preimage the derivation oracle answers with ([`super::l1_oracle`]).
    Preimage(Bytes),
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
            Witness::Preimage(_) => "preimage",
        }
    }

    /// The witness's tag in the byte format.
    pub fn tag(&self) -> u8 {
        match self {
            Witness::Stack { .. } => 0,
            Witness::Code { .. } => 1,
            Witness::Memory { .. } => 2,
            Witness::Data { .. } => 3,
            Witness::Smt(_) => 4,
            Witness::Account(_) => 5,
            Witness::CodeRoot { .. } => 6,
            Witness::Sponge(_) => 7,
            Witness::Parent { .. } => 8,
            Witness::TxInput { .. } => 9,
            Witness::ExtraData(_) => 10,
            Witness::Builder(_) => 11,
            Witness::AccessEntry(_) => 12,
            Witness::Link { .. } => 13,
            Witness::Words { .. } => 14,
            Witness::Preimage(_) => 15,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            Witness::Stack { word, below } => {
                word.encode_words(out);
                below.encode_words(out);
            }
            Witness::Code { chunk: word, path }
            | Witness::Memory { word, path }
            | Witness::Data { word, path } => {
                out.extend_from_slice(word.as_slice());
                put_list(out, path);
            }
            Witness::Smt(proof) => {
                let bytes = proof.encode();
                out.extend_from_slice(&len_u16(bytes.len()).to_be_bytes());
                out.extend_from_slice(&bytes);
            }
            Witness::Account(account) => out.extend_from_slice(&account.encode()),
            Witness::CodeRoot { len, chunk_root } => {
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(chunk_root.as_slice());
            }
            Witness::Sponge(sponge) => out.extend_from_slice(&sponge.to_bytes()),
            Witness::Parent { frame, checkpoint } => {
                frame.encode_words(out);
                checkpoint.encode_words(out);
            }
            Witness::TxInput { input, path } => {
                input.encode_words(out);
                put_list(out, path);
            }
            Witness::ExtraData(bytes) => {
                out.push(len_u8(bytes.len()));
                out.extend_from_slice(bytes);
            }
            Witness::Builder(b) => {
                out.extend_from_slice(&b.sponge.to_bytes());
                out.push(len_u8(b.buffer.len()));
                out.extend_from_slice(&b.buffer);
                out.push(len_u8(b.carry as usize));
                put_list(out, &b.frontier);
            }
            Witness::AccessEntry(entry) => {
                out.extend_from_slice(entry.address.as_slice());
                out.push(entry.slot.is_some() as u8);
                out.extend_from_slice(entry.slot.unwrap_or_default().as_slice());
            }
            Witness::Link { prev, item } => {
                out.extend_from_slice(prev.as_slice());
                out.extend_from_slice(item.as_slice());
            }
            Witness::Words { words, siblings } => {
                out.extend_from_slice(
                    &u32::try_from(words.len()).unwrap_or(u32::MAX).to_be_bytes(),
                );
                for word in words {
                    out.extend_from_slice(word.as_slice());
                }
                put_list(out, siblings);
            }
            Witness::Preimage(bytes) => {
                out.extend_from_slice(
                    &u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes(),
                );
                out.extend_from_slice(bytes);
            }
        }
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8("witness tag")?;
        Ok(match tag {
            0 => Witness::Stack {
                word: r.words()?,
                below: r.b256("stack below")?,
            },
            1 => Witness::Code {
                chunk: r.b256("code chunk")?,
                path: take_list(r, "code path")?,
            },
            2 => Witness::Memory {
                word: r.b256("memory word")?,
                path: take_list(r, "memory path")?,
            },
            3 => Witness::Data {
                word: r.b256("data word")?,
                path: take_list(r, "data path")?,
            },
            4 => {
                let len = r.u16("state tree proof length")?;
                let bytes = r.take(usize::from(len), "state tree proof")?;
                Witness::Smt(
                    smt::Proof::decode(bytes)
                        .map_err(|_| DecodeError::NonCanonical("state tree proof"))?,
                )
            }
            5 => Witness::Account(
                AccountLeaf::decode(r.take(AccountLeaf::ENCODED_LEN, "account")?)
                    .ok_or(DecodeError::NonCanonical("account"))?,
            ),
            6 => Witness::CodeRoot {
                len: r.u64("code length")?,
                chunk_root: r.b256("chunk root")?,
            },
            7 => Witness::Sponge(Box::new(Sponge::from_bytes(&r.array("sponge")?))),
            8 => Witness::Parent {
                frame: Box::new(r.words()?),
                checkpoint: Box::new(r.words()?),
            },
            9 => Witness::TxInput {
                input: Box::new(r.words()?),
                path: take_list(r, "tx input path")?,
            },
            10 => {
                let len = r.u8("extra data length")?;
                Witness::ExtraData(Bytes::copy_from_slice(
                    r.take(usize::from(len), "extra data")?,
                ))
            }
            11 => {
                let sponge = Sponge::from_bytes(&r.array("builder sponge")?);
                let len = r.u8("builder buffer length")?;
                let buffer = r.take(usize::from(len), "builder buffer")?.to_vec();
                let carry = u64::from(r.u8("builder carry")?);
                let builder = CodeBuilder {
                    sponge,
                    buffer,
                    frontier: take_list(r, "builder frontier")?,
                    carry,
                };
                if !builder.is_well_formed() {
                    return Err(DecodeError::NonCanonical("code builder"));
                }
                Witness::Builder(Box::new(builder))
            }
            12 => {
                let address = Address::from(r.array::<20>("access-list address")?);
                let has_slot = r.u8("access-list kind")?;
                let slot = r.b256("access-list slot")?;
                Witness::AccessEntry(AccessEntry {
                    address,
                    slot: match has_slot {
                        0 if slot.is_zero() => None,
                        1 => Some(slot),
                        _ => return Err(DecodeError::NonCanonical("access-list entry")),
                    },
                })
            }
            13 => Witness::Link {
                prev: r.b256("chain link")?,
                item: r.b256("chain link")?,
            },
            14 => {
                let count = r.u32("word range length")?;
                let words = r.b256s(count as usize, "word range")?;
                Witness::Words {
                    words,
                    siblings: take_list(r, "word range siblings")?,
                }
            }
            15 => {
                let len = r.u32("preimage length")? as usize;
                if len > MAX_PREIMAGE {
                    return Err(DecodeError::NonCanonical("preimage length"));
                }
                Witness::Preimage(Bytes::copy_from_slice(r.take(len, "preimage")?))
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "witness",
                    tag,
                })
            }
        })
    }
}

/// A length the format stores in one byte (every list a step reads is shorter; a longer one
/// is written as 255 and can only fail to verify).
fn len_u8(len: usize) -> u8 {
    u8::try_from(len).unwrap_or(u8::MAX)
}

/// A length the format stores in two bytes.
fn len_u16(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

/// `uint8 n ‖ n words`.
fn put_list(out: &mut Vec<u8>, list: &[B256]) {
    out.push(len_u8(list.len()));
    for word in list {
        out.extend_from_slice(word.as_slice());
    }
}

/// Inverse of [`put_list`].
fn take_list(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<B256>, DecodeError> {
    let n = r.u8(what)?;
    r.b256s(usize::from(n), what)
}

/// The pre-state and witnesses of one step of a running block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepProof {
    /// Block part of the pre-state.
    pub block: BlockPart,
    /// Transaction part of the pre-state.
    pub tx: TxPart,
    /// Active frame of the pre-state.
    pub frame: Frame,
    /// Witnesses in the order the step reads them.
    pub witnesses: Vec<Witness>,
}

/// A one-step proof: everything [`super::verify_step`] needs besides the pre-state hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A step of a running block.
    Step(Box<StepProof>),
    /// The step of the terminal state (after block-end), which leaves it unchanged: a game
    /// pads a block's trace to a power of two with it. It shows the state's [`Claim`].
    Terminal(Claim),
    /// The first step of a block: from the claim on the previous block to the derivation
    /// program ([`super::open`]).
    Open(Box<OpenProof>),
}

/// Tag of a [`Proof::Step`] in the byte format.
const STEP: u8 = 0;
/// Tag of a [`Proof::Terminal`] in the byte format.
const TERMINAL: u8 = 1;
/// Tag of a [`Proof::Open`] in the byte format.
const OPEN: u8 = 2;

impl Proof {
    /// The witnesses (none for the terminal step).
    pub fn witnesses(&self) -> &[Witness] {
        match self {
            Proof::Step(p) => &p.witnesses,
            Proof::Terminal(_) | Proof::Open(_) => &[],
        }
    }

    /// The step proof, unless terminal.
    pub fn as_step(&self) -> Option<&StepProof> {
        match self {
            Proof::Step(p) => Some(p),
            Proof::Terminal(_) | Proof::Open(_) => None,
        }
    }

    /// Byte encoding: what an L1 verifier receives as calldata (format in the
    /// [module docs](super#proof-bytes)).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Proof::Terminal(claim) => {
                let mut out = Vec::with_capacity(1 + Claim::WORDS * 32);
                out.push(TERMINAL);
                claim.encode_words(&mut out);
                out
            }
            Proof::Open(p) => {
                let mut out = vec![OPEN];
                p.encode_into(&mut out);
                out
            }
            Proof::Step(p) => {
                let parts = BlockPart::WORDS + TxPart::WORDS + Frame::WORDS;
                let mut out = Vec::with_capacity(1 + parts * 32 + p.witnesses.len() * 100);
                out.push(STEP);
                p.block.encode_words(&mut out);
                p.tx.encode_words(&mut out);
                p.frame.encode_words(&mut out);
                for w in &p.witnesses {
                    w.encode_into(&mut out);
                }
                out
            }
        }
    }

    /// The exact inverse of [`Proof::encode`]: rejects truncated input, trailing bytes,
    /// unknown tags and non-canonical values.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        match r.u8("proof tag")? {
            TERMINAL => {
                let claim = r.words()?;
                r.finish()?;
                Ok(Proof::Terminal(claim))
            }
            OPEN => {
                let p = OpenProof::decode_from(&mut r)?;
                r.finish()?;
                Ok(Proof::Open(Box::new(p)))
            }
            STEP => {
                let mut p = StepProof {
                    block: r.words()?,
                    tx: r.words()?,
                    frame: r.words()?,
                    witnesses: Vec::new(),
                };
                while !r.is_empty() {
                    p.witnesses.push(Witness::decode_from(&mut r)?);
                }
                Ok(Proof::Step(Box::new(p)))
            }
            tag => Err(DecodeError::UnknownTag { what: "proof", tag }),
        }
    }
}

impl StepProof {
    /// The pre-state the proof claims.
    pub fn machine(&self) -> Machine {
        Machine {
            block: self.block.clone(),
            tx: self.tx.clone(),
            frame: self.frame.clone(),
            sealed: None,
            reopen: false,
        }
    }
}
