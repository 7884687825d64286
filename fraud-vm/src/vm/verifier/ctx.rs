//! The step context every family works on: the machine and its oracle ([`Ctx`]), how an
//! opcode ends ([`Exec`], [`Exit`], [`HaltReason`]), what a step did ([`StepKind`],
//! [`StepInfo`]), gas charging and memory expansion. The dispatch (`step.rs`) sits above the
//! families; this file sits below them.

use alloy_primitives::{Address, Bytes, B256, U256};

use super::{
    machine::Machine,
    oracle::{self, DataSource, Oracle, WordTree},
    StepError, DATA_DEPTH,
};
use crate::code::{self, PIECE};

/// Why a frame halted exceptionally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HaltReason {
    /// Not enough gas (static, dynamic or memory expansion).
    OutOfGas,
    /// Fewer stack items than the opcode reads.
    StackUnderflow,
    /// More than 1024 stack items after the opcode.
    StackOverflow,
    /// `JUMP`/`JUMPI` to a byte that is not a `JUMPDEST` instruction.
    BadJump,
    /// An undefined opcode or `INVALID` (0xFE).
    InvalidOpcode,
    /// A state change (`SSTORE`, `TSTORE`, `LOG*`, `CREATE*`, value-bearing `CALL`,
    /// `SELFDESTRUCT`) inside a static call.
    StaticViolation,
    /// `RETURNDATACOPY` past the end of the return data (EIP-211).
    ReturnDataOutOfBounds,
    /// `CREATE`/`CREATE2` with initcode above 49152 bytes (EIP-3860).
    InitcodeSizeLimit,
}

/// What kind of step ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StepKind {
    /// An opcode (or one micro-step of it).
    Opcode(u8),
    /// The exit of an ended frame back to its caller.
    FrameExit,
    /// One piece of a create frame's code deposit.
    Deposit,
    /// The start of a transaction: validity, nonce, gas purchase, value, the first frame.
    TxInit,
    /// The exit of the transaction's frame: refunds, fees, receipt.
    TxEnd,
    /// One deletion micro-step of an account that self-destructed in the transaction that
    /// created it (EIP-6780): one storage slot, or the account.
    Destruct,
    /// The end of the block: the header and its hash.
    BlockEnd,
    /// A step of the terminal state after block-end: it changes nothing.
    Terminal,
    /// The first step of a block: from the claim on the previous block to the derivation
    /// program.
    Open,
    /// The exit of the derivation program's frame: its output becomes the block's execution
    /// start state, or the next open state.
    Handoff,
}

/// What a step did, for statistics and coverage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepInfo {
    /// The step kind.
    pub kind: StepKind,
    /// The exceptional halt it caused, if any.
    pub halt: Option<HaltReason>,
}

/// How executing an opcode can end other than normally.
#[derive(Debug)]
pub(super) enum Exit {
    /// Exceptional halt: the frame ends, all its gas is consumed.
    Halt(HaltReason),
    /// The proof is wrong, or the state is one no block reaches.
    Error(StepError),
}

impl From<StepError> for Exit {
    fn from(e: StepError) -> Self {
        Exit::Error(e)
    }
}

/// Result of executing one opcode.
pub(super) type Exec = Result<(), Exit>;

/// The state a family works on: the machine, the oracle, and the code chunks opened so far.
pub(super) struct Ctx<'a, O: Oracle + ?Sized> {
    pub m: &'a mut Machine,
    pub o: &'a mut O,
    chunks: Vec<(u64, B256)>,
}

impl<'a, O: Oracle + ?Sized> Ctx<'a, O> {
    /// A context over `m` reading through `o`.
    pub fn new(m: &'a mut Machine, o: &'a mut O) -> Self {
        Self {
            m,
            o,
            chunks: Vec::new(),
        }
    }

    /// Pops one word.
    pub fn pop(&mut self) -> Result<U256, StepError> {
        self.o.pop(&mut self.m.frame)
    }

    /// Pops `N` words, top first.
    pub fn pop_n<const N: usize>(&mut self) -> Result<[U256; N], StepError> {
        let mut out = [U256::ZERO; N];
        for slot in &mut out {
            *slot = self.pop()?;
        }
        Ok(out)
    }

    /// Pushes one word.
    pub fn push(&mut self, word: U256) {
        oracle::push(&mut self.m.frame, word);
    }

    /// Charges `amount` gas.
    pub fn charge(&mut self, amount: u64) -> Exec {
        charge(&mut self.m.frame.gas, amount)
    }

    /// Advances the program counter past the current instruction (and its immediate).
    pub fn next(&mut self, immediate: u64) {
        self.m.frame.pc += 1 + immediate;
    }

    /// Byte `at` of the code (zero past its end), opening its chunk once per step.
    pub fn code_byte(&mut self, at: u64) -> Result<u8, StepError> {
        if at >= self.m.frame.code_len {
            return Ok(0);
        }
        let chunk = self.chunk(at / PIECE as u64)?;
        Ok(chunk[1 + (at % PIECE as u64) as usize])
    }

    /// Chunk `index` of the code (must exist).
    pub fn chunk(&mut self, index: u64) -> Result<B256, StepError> {
        if let Some((_, c)) = self.chunks.iter().find(|(i, _)| *i == index) {
            return Ok(*c);
        }
        let (len, root) = (self.m.frame.code_len, self.m.frame.code_chunk_root);
        let c = self.o.code_chunk(len, &root, index)?;
        self.chunks.push((index, c));
        Ok(c)
    }

    /// Whether `target` is a valid jump destination.
    pub fn is_jumpdest(&mut self, target: U256) -> Result<bool, StepError> {
        let Ok(target) = u64::try_from(target) else {
            return Ok(false);
        };
        if target >= self.m.frame.code_len {
            return Ok(false);
        }
        let chunk = self.chunk(target / PIECE as u64)?;
        let offset = (target % PIECE as u64) as usize;
        Ok(chunk[1 + offset] == JUMPDEST && code::is_code_start(&chunk, offset))
    }

    /// Charges memory expansion for `[offset, offset + len)` and grows memory (new words are
    /// zero, so the memory root does not change). Returns the offset as `u64` (0 if `len == 0`).
    pub fn expand(&mut self, offset: U256, len: U256) -> Result<u64, Exit> {
        if len.is_zero() {
            return Ok(0);
        }
        let (Ok(offset), Ok(len)) = (u64::try_from(offset), u64::try_from(len)) else {
            return Err(Exit::Halt(HaltReason::OutOfGas));
        };
        let Some(end) = offset.checked_add(len) else {
            return Err(Exit::Halt(HaltReason::OutOfGas));
        };
        let words = end.div_ceil(32);
        let frame = &mut self.m.frame;
        if words > frame.mem_words {
            if words > 1 << DATA_DEPTH {
                return Err(Exit::Halt(HaltReason::OutOfGas));
            }
            let cost = memory_cost(words) - memory_cost(frame.mem_words);
            let cost = u64::try_from(cost).map_err(|_| Exit::Halt(HaltReason::OutOfGas))?;
            charge(&mut frame.gas, cost)?;
            frame.mem_words = words;
        }
        Ok(offset)
    }

    /// `len` (at most 32) bytes of `source` at `offset`, left-aligned in a word: code and data
    /// read as zero past their end; memory must already cover the range.
    pub fn read(
        &mut self,
        source: Source,
        offset: U256,
        len: usize,
    ) -> Result<[u8; 32], StepError> {
        let mut out = [0u8; 32];
        if len == 0 {
            return Ok(out);
        }
        match source {
            Source::Code => {
                let Ok(offset) = u64::try_from(offset) else {
                    return Ok(out);
                };
                for (i, b) in out[..len].iter_mut().enumerate() {
                    *b = offset
                        .checked_add(i as u64)
                        .map_or(Ok(0), |at| self.code_byte(at))?;
                }
            }
            Source::OtherCode {
                len: code_len,
                chunk_root,
            } => {
                let Ok(offset) = u64::try_from(offset) else {
                    return Ok(out);
                };
                let mut opened: Vec<(u64, B256)> = Vec::new();
                for (i, b) in out[..len].iter_mut().enumerate() {
                    let Some(at) = offset.checked_add(i as u64).filter(|at| *at < code_len) else {
                        continue;
                    };
                    let index = at / PIECE as u64;
                    let chunk = match opened.iter().find(|(k, _)| *k == index) {
                        Some((_, c)) => *c,
                        None => {
                            let c = self.o.code_chunk(code_len, &chunk_root, index)?;
                            opened.push((index, c));
                            c
                        }
                    };
                    *b = chunk[1 + (at % PIECE as u64) as usize];
                }
            }
            Source::Memory => {
                let word = self.mload(offset.to::<u64>())?.to_be_bytes::<32>();
                out[..len].copy_from_slice(&word[..len]);
            }
            Source::Data(data) => {
                let (total, _, base) = data.of(&self.m.frame);
                let Ok(offset) = u64::try_from(offset) else {
                    return Ok(out);
                };
                if offset >= total {
                    return Ok(out);
                }
                let len = len.min((total - offset) as usize);
                let start = base + offset;
                let end = start + len as u64;
                let mut at = 0;
                for index in start / 32..end.div_ceil(32) {
                    let word = self.o.data_word(&self.m.frame, data, index)?;
                    let from = (start.max(index * 32) - index * 32) as usize;
                    let to = (end.min(index * 32 + 32) - index * 32) as usize;
                    out[at..at + to - from].copy_from_slice(&word[from..to]);
                    at += to - from;
                }
            }
        }
        Ok(out)
    }

    /// `len` bytes of memory at `at` (the caller has checked memory covers them), read as one
    /// word range.
    pub fn read_memory(&mut self, at: u64, len: usize) -> Result<Vec<u8>, StepError> {
        self.read_range(WordTree::Memory, at, len)
    }

    /// `len` bytes at byte `at` of the frame's memory or of its call data or return data (the
    /// caller has checked they are inside), read as one word range: the words and at most two
    /// siblings per tree level, however long the range.
    pub fn read_range(
        &mut self,
        tree: WordTree,
        at: u64,
        len: usize,
    ) -> Result<Vec<u8>, StepError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let start = match tree {
            WordTree::Memory => at,
            WordTree::Data(source) => source.of(&self.m.frame).2 + at,
        };
        let end = start + len as u64;
        let first = start / 32;
        let words = self
            .o
            .words(&self.m.frame, tree, first, end.div_ceil(32) - first)?;
        let from = (start - first * 32) as usize;
        Ok(words
            .iter()
            .flat_map(|w| w.0)
            .skip(from)
            .take(len)
            .collect())
    }

    /// Runs precompile `target` with `gas` on the `len` input bytes at byte `at` of `tree`: its
    /// output and the gas used, or `None` if it fails. An input over
    /// [`crate::precompile::MAX_INPUT`] fails the call unread, so no step reads more.
    pub fn precompile(
        &mut self,
        target: &Address,
        tree: WordTree,
        at: u64,
        len: u64,
        gas: u64,
    ) -> Result<Option<(Bytes, u64)>, StepError> {
        if len > crate::precompile::MAX_INPUT as u64 {
            return Ok(None);
        }
        let input = self.read_range(tree, at, len as usize)?;
        Ok(crate::precompile::run(target, &input, gas))
    }

    /// The 32 bytes of memory at `offset` (already expanded).
    pub fn mload(&mut self, offset: u64) -> Result<U256, StepError> {
        let (index, shift) = (offset / 32, (offset % 32) as usize);
        let first = self.o.memory_word(&self.m.frame, index)?;
        if shift == 0 {
            return Ok(U256::from_be_bytes(first.0));
        }
        let second = self.o.memory_word(&self.m.frame, index + 1)?;
        let mut bytes = [0u8; 32];
        bytes[..32 - shift].copy_from_slice(&first[shift..]);
        bytes[32 - shift..].copy_from_slice(&second[..shift]);
        Ok(U256::from_be_bytes(bytes))
    }

    /// Writes `bytes` (at most 32) to memory at `offset` (already expanded).
    pub fn mstore(&mut self, offset: u64, bytes: &[u8]) -> Result<(), StepError> {
        let (index, shift) = (offset / 32, (offset % 32) as usize);
        let first = bytes.len().min(32 - shift);
        self.o
            .modify_memory_word(&mut self.m.frame, index, &mut |mut w| {
                w[shift..shift + first].copy_from_slice(&bytes[..first]);
                w
            })?;
        if first < bytes.len() {
            let rest = &bytes[first..];
            self.o
                .modify_memory_word(&mut self.m.frame, index + 1, &mut |mut w| {
                    w[..rest.len()].copy_from_slice(rest);
                    w
                })?;
        }
        Ok(())
    }
}

/// `JUMPDEST`.
const JUMPDEST: u8 = 0x5b;

/// Where a copy reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Source {
    /// The running code.
    Code,
    /// Memory (already expanded over the range).
    Memory,
    /// Call data or return data.
    Data(DataSource),
    /// Another account's code (`EXTCODECOPY`): its length and chunk-tree root.
    OtherCode {
        /// Code length.
        len: u64,
        /// Chunk-tree root.
        chunk_root: B256,
    },
}

/// Deducts `amount` from `gas`, or halts out of gas.
pub(super) fn charge(gas: &mut u64, amount: u64) -> Exec {
    match gas.checked_sub(amount) {
        Some(left) => {
            *gas = left;
            Ok(())
        }
        None => Err(Exit::Halt(HaltReason::OutOfGas)),
    }
}

/// Total gas for `words` words of memory: `3·words + words² / 512`.
pub fn memory_cost(words: u64) -> u128 {
    let w = words as u128;
    3 * w + w * w / 512
}
