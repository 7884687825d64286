//! Sequencer batches: how L2 blocks are posted to L1, and how a block is rebuilt from a batch.
//!
//! This module is the single definition of the batch format and of the derivation rule. The
//! node's batcher writes batches with [`Batch::encode`], replicas (and later the fraud proof)
//! read them with [`Batch::decode`] and rebuild every block with [`derive_block`], which is the
//! same [`BlockBuilder`] the sequencer used.
//!
//! ## On L1
//!
//! The batcher EOA calls `Inbox.appendSequencerBatch(bytes data, uint256 afterDelayedMessagesRead)`
//! ([`appendSequencerBatchCall`]); `data` is [`Batch::encode`], uncompressed (phase 1). The
//! Inbox's batch accumulator commits to the word-tree root of `data`
//! ([`crate::merkle::data_root`]), so a proof reads any 32-byte word of a batch with a bounded
//! witness (every variable-length item is length-prefixed, so a transaction is a byte range of
//! the calldata found by walking the prefixes). The Inbox emits [`BatchAppended`]; derivation
//! reads `data` back from the transaction's calldata and checks its root and length.
//!
//! Batch `n` (sequencer-posted or forced) extends the accumulator by
//! [`BatchCommitment::accumulate`]:
//!
//! ```text
//! batchAcc[0]     = 0
//! batchAcc[n + 1] = keccak256(abi.encode(batchAcc[n], dataRoot, dataLength,
//!                     afterDelayedMessagesRead, delayedAcc[afterDelayedMessagesRead],
//!                     l1BlockNumber, l1Timestamp, l1ParentHash, forced))
//! ```
//!
//! with the number, timestamp and parent hash of the L1 block that appended it. The Inbox keeps
//! every `batchAcc[n]` readable, so the batch's L1 block (and, by walking back L1 headers from
//! its parent hash, the L1 origins of its L2 blocks) stays provable for as long as a dispute
//! lasts, where `blockhash` forgets after 256 blocks.
//!
//! A sequencer batch's `afterDelayedMessagesRead` is the count of delayed messages its last
//! block has consumed (the Inbox only checks that so many are queued). It bounds what the
//! batch's blocks consume (every message below it is on L1); what they consume is what their
//! records say. No count a batch declares limits what can be forced.
//!
//! ## Format (version 0)
//!
//! All integers are big-endian.
//!
//! ```text
//! version        u8  = 0
//! firstBlock     u64  L2 number of the first block
//! parentHash     32   hash of L2 block firstBlock - 1
//! blockCount     u32  >= 1
//! blockCount times:
//!   timestamp    u64
//!   gasLimit     u64
//!   prevrandao   32   (the header's mixHash)
//!   extraLen     u8  <= 32, then extraLen bytes of extraData
//!   originNumber u64  L1 origin number  } both zero: the block has no L1 origin
//!   originHash   32   L1 origin hash    } (no L1-info deposit, no deposits)
//!   delayedRead  u64  delayed messages (deposits) consumed up to and including this block
//!   txCount      u32
//!   txCount times:
//!     txLen      u32 >= 1, then txLen bytes: the EIP-2718 encoding of a sequencer transaction
//! ```
//!
//! Deposits and the L1-info deposit are **not** in the batch: they are derived from L1. Only
//! the sequencer's own (signed) transactions are. Decoding rejects any other version, trailing
//! bytes, truncation, `blockCount = 0`, `extraLen > 32` and empty transactions, so a batch has
//! one encoding.
//!
//! ## Derivation rule ([`derive_block`])
//!
//! Block `n` of a batch is rebuilt on L2 block `n - 1` (whose hash must be the batch's
//! `parentHash` for the first block, checked by the caller) with attributes
//! `(timestamp, gasLimit, prevrandao, extraData)` from the batch; the block is stamped by the
//! timestamp rule, `max(timestamp, parent.timestamp + 1)`
//! ([`crate::execute::block_timestamp`]), which an honest sequencer's batch already satisfies.
//! Then:
//!
//! 1. If the block has an L1 origin: the L1-info deposit of that origin
//!    ([`crate::deposit::l1_info_deposit`]; number, timestamp and base fee read from L1 by the
//!    deriver, which checks the hash).
//! 2. The deposits (delayed messages) from the parent's consumed count up to the block's
//!    target count, in Inbox index order, each only if it was queued at or before the origin's
//!    L1 block and its gas limit fits: the gas limits of the L1-info deposit and of the
//!    deposits so far, with its own, are at most the block's gas limit (a rule on limits, not on
//!    gas used, so the count is known before anything runs). Derivation stops at the first one
//!    that is not. The target count ([`deposit_target`]) is
//!    `min(delayedRead, afterDelayedMessagesRead)`: the record's count, within the batch's own
//!    bound (an honest sequencer's counts never exceed it). The count actually consumed is what
//!    the next block starts from.
//! 3. The batch's transactions in order. A transaction that does not decode, is not a user
//!    type (legacy, EIP-2930, EIP-1559), has no or another chain id, has a high-`s`
//!    signature (EIP-2) or does not recover a sender ([`validate_user_tx`], the rule the
//!    node's admission applies too), does not fit in the block's remaining gas or is invalid
//!    on the state (nonce, balance, fees, intrinsic gas) is **skipped**: it is not part of the
//!    block, and the batch stays valid. An honest sequencer never posts one (its blocks
//!    contain exactly the transactions that applied), so its blocks are rebuilt identically.
//!    The checks before execution are mirrored in EVM code by the derivation program
//!    (`contracts/src/derivation`, tested against this rule by
//!    `fraud-vm/tests/derivation_program.rs`), which the step machine proves.
//!
//! ## Validity: derivation is total (the `validity` module)
//!
//! Derivation reads the Inbox's batches in index order and never halts on what a batch says:
//! a batch, or the tail of one, that breaks a rule below derives nothing and the next batch is
//! read against the same chain. With `head` the newest derived block:
//!
//! 1. Committed data that does not [`Batch::decode`] derives nothing.
//! 2. **Continuity**: a batch must start at `head + 1`; one that starts later (a gap) or at
//!    or below `head` (late, repeated or competing: blocks are never replaced) derives
//!    nothing.
//! 3. **Parent**: its `parentHash` must be the hash of `head`; else it derives nothing.
//! 4. A forced batch derives its forced block ([`forced_block`], *Forced inclusion*) when the
//!    head has consumed fewer delayed messages than it forces, else nothing; no other rule
//!    applies to it.
//! 5. Each block of the batch, in order, is derived only if it passes
//!    [`BatchBlock::check`] and [`BatchBlock::check_origin`]; the first that fails ends the
//!    batch (it and the blocks after it derive nothing, the blocks before it stay):
//!    - **gas limit** `<=` [`MAX_BLOCK_GAS_LIMIT`] (which bounds the block's steps, and so the
//!      depth of a dispute over it);
//!    - **timestamp**: the stamped timestamp `max(timestamp, parent + 1)` is at most
//!      [`MAX_TIMESTAMP_LEAD_SECS`] after the timestamp of the L1 block that appended the
//!      batch (committed in the batch accumulator), so the chain's clock cannot be pushed
//!      arbitrarily far ahead;
//!    - **origin monotonicity**: a block's L1 origin, if it has one, is not older than the
//!      newest origin of an earlier block (a block may have none: it carries no L1 inputs);
//!    - **room for the origin**: a block with an origin has a gas limit of at least
//!      [`MIN_ORIGIN_GAS_LIMIT`] (its L1-info deposit's and the largest deposit's), so its
//!      L1-info deposit always runs and no deposit is too big for every block;
//!    - **origin in the past**: the origin's number is below the number of the L1 block that
//!      appended the batch (so it is provable by walking L1 headers back from that block's
//!      committed parent hash);
//!    - **sequencing window**: the origin is at most [`MAX_ORIGIN_AGE`] L1 blocks behind the
//!      L1 block that appended the batch (which bounds that walk);
//!    - **origin on L1**: the origin's hash is the hash of L1's block of that number;
//!    - **origin not after the block**: the stamped timestamp is not before the origin's
//!      (L2 time never runs behind the L1 block a block takes inputs from; a forced block is
//!      stamped at its origin's second or later by construction).
//!
//! The sequencer keeps every rule by construction: its origins are confirmed L1 blocks that
//! only move forward, its batches are posted after their blocks are sealed, it refuses a
//! `--gas-limit` above [`MAX_BLOCK_GAS_LIMIT`] (and, following L1, below
//! [`MIN_ORIGIN_GAS_LIMIT`]), stamps a block with an origin no earlier than the origin, and
//! holds every block whose timestamp would lead its clock (the later of its own and the
//! confirmed L1 head's) by more than half of [`MAX_TIMESTAMP_LEAD_SECS`]. The sequencing window is kept only if its batcher
//! posts a block within [`MAX_ORIGIN_AGE`] L1 blocks of its origin (a batcher down that long
//! leaves blocks derivation skips; the batcher refuses to post them and says so).
//!
//! ## The block claim and the derivation cursor
//!
//! A dispute over the chain first bisects over blocks. The claim on block `n` is the step
//! machine's terminal state of its trace ([`crate::vm::Claim`]): its hash, state root, the
//! block-hash window with its own hash inserted, and the hash of its [`Cursor`], which says
//! where derivation of block `n + 1` continues:
//!
//! ```text
//! cursor = keccak256(abi.encode(batchIndex, position, delayedRead,
//!                               hasOrigin, originNumber, originHash))
//! ```
//!
//! `batchIndex` is the Inbox batch the next block is read from and `position` the byte offset
//! of its record in that batch's data (0: the batch is opened next: its header is read and the
//! whole batch checked); `delayedRead` counts the delayed messages consumed up to and including
//! block `n`; the origin is the newest L1 origin of a block at or below `n` (the monotonicity
//! rule compares against it). After a batch's last record the cursor moves to the next batch
//! at position 0 ([`Cursor::after`]). Everything else derivation reads is L1 data (the Inbox
//! accumulators and L1 headers) or the parent header, whose hash the claim holds. The cursor is
//! known only once a block is batched, so it is in the claim and not in the L2 state.
//!
//! ## Forced inclusion
//!
//! `Inbox.forceInclusion(n)` (anyone) appends a batch with no data and `forced = true` once
//! delayed message `n - 1` has waited the force-inclusion window (at least one second, so it
//! was queued in an earlier L1 block), where `n` exceeds the count the previous forced batch
//! forced by at most [`MAX_FORCED_DEPOSITS`], at most one per L1 block (forced blocks, each
//! stamped at least a second after its parent, then advance L2 time no faster than L1's).
//! Derivation reads it in batch order like any batch (rule 4): on a head that has consumed
//! `r < n` delayed messages it derives one **forced block** ([`forced_block`]), which needs
//! nothing from the sequencer:
//!
//! - L1 origin: L1's block before the forced batch's (`l1BlockNumber − 1`, whose hash the
//!   commitment holds as `l1ParentHash`; every origin before it is older, so monotonicity
//!   holds), with its L1-info deposit;
//! - timestamp: the origin's (stamped `max(origin timestamp, parent + 1)`), gas limit
//!   [`FORCED_BLOCK_GAS_LIMIT`], prevrandao: the origin's hash, no extra data;
//! - the deposits from `r` up to `n` by rule 2 with target `n`: all of them were queued before
//!   the forced batch's L1 block, and they are at most [`MAX_FORCED_DEPOSITS`] (the head has
//!   consumed at least the previous forced batch's count), so all fit in its gas limit;
//! - no transactions; the cursor after it is the next batch's start.
//!
//! On a head that has consumed `n` or more it derives nothing. So a sequencer cannot hold a
//! deposit back past the window: not by posting nothing, nor by posting blocks without an
//! origin, nor by raising the Inbox's `delayedMessagesRead` with batches that consume nothing
//! (that count bounds only a sequencer batch's `afterDelayedMessagesRead`, never what can be
//! forced). Blocks an honest sequencer sealed after its last batch before the forced one and
//! before it saw the forced batch are replaced (OP Stack's deposit-only blocks and Arbitrum's
//! force-included messages reorder an unsafe head the same way); the window is long enough
//! that a working batcher always posts a deposit before it can be forced.
//!
//! So every block whose L1 origin is at or after a forced batch's L1 block has consumed at
//! least what it forces: such a block comes after the forced batch in batch order (an origin
//! is before its batch's L1 block), by when the count is `n`. No proof needs to look back at
//! earlier forced batches.

use alloy_consensus::{
    crypto::SECP256K1N_HALF, transaction::SignerRecoverable, Header, Transaction as _,
};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, Bytes, B256};
use alloy_sol_types::sol;
use op_alloy_consensus::OpTxEnvelope;
use tracing::debug;

mod validity;

pub use crate::inbox::{BatchCommitment, BatchOrigin, Cursor};
pub use validity::{
    AppendedIn, DerivedParent, InvalidBatch, FORCED_BLOCK_GAS_LIMIT, MAX_BLOCK_GAS_LIMIT,
    MAX_FORCED_DEPOSITS, MAX_ORIGIN_AGE, MAX_TIMESTAMP_LEAD_SECS, MIN_ORIGIN_GAS_LIMIT,
};

use crate::{
    chain::ChainSpec,
    codec::{DecodeError, Reader},
    deposit::{l1_info_deposit, L1BlockInfo, L1_INFO_GAS_LIMIT},
    execute::{
        is_user_tx_type, BlockAttributes, BlockBuilder, ExecutableTx, StateProvider, TxRejection,
    },
    message::DepositMessage,
    Error,
};

/// Version byte of the current batch format.
pub const BATCH_VERSION: u8 = 0;

/// Longest `extraData` a batch carries (the Ethereum header limit).
pub const MAX_EXTRA_DATA: usize = 32;

sol! {
    /// The Inbox's batch entry point (called by the batcher EOA).
    function appendSequencerBatch(bytes data, uint256 afterDelayedMessagesRead);

    /// The Inbox's forced inclusion.
    function forceInclusion(uint256 afterDelayedMessagesRead);

    /// Emitted by the Inbox for every batch, sequencer-posted or forced. The L1 fields of the
    /// batch's commitment are those of the block holding the log.
    #[derive(Debug, PartialEq, Eq)]
    event BatchAppended(
        uint256 indexed batchIndex,
        bytes32 dataRoot,
        uint256 dataLength,
        uint256 afterDelayedMessagesRead,
        bytes32 batchAcc,
        bool forced
    );
}

/// Why a batch does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The version byte is not [`BATCH_VERSION`].
    #[error("unknown batch version {0}")]
    Version(u8),
    /// The data ends inside a field, or bytes follow the last block.
    #[error("batch: {0}")]
    Encoding(#[from] DecodeError),
    /// A field breaks a format rule.
    #[error("malformed batch: {0}")]
    Malformed(&'static str),
}

/// One L2 block in a batch (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchBlock {
    /// Header timestamp.
    pub timestamp: u64,
    /// Header gas limit.
    pub gas_limit: u64,
    /// Header `mixHash` (PREVRANDAO).
    pub prevrandao: B256,
    /// Header `extraData` (at most 32 bytes).
    pub extra_data: Bytes,
    /// The block's L1 origin (None: the block has none).
    pub origin: Option<BatchOrigin>,
    /// Delayed messages consumed up to and including this block.
    pub delayed_read: u64,
    /// The sequencer's transactions, EIP-2718 encoded (no deposits).
    pub transactions: Vec<Bytes>,
}

impl BatchBlock {
    /// The batch entry of a sealed block: its header fields, its origin and consumed count, and
    /// its non-deposit transactions.
    pub fn from_block(
        header: &Header,
        transactions: &[OpTxEnvelope],
        origin: Option<BatchOrigin>,
        delayed_read: u64,
    ) -> Self {
        Self {
            timestamp: header.timestamp,
            gas_limit: header.gas_limit,
            prevrandao: header.mix_hash,
            extra_data: header.extra_data.clone(),
            origin,
            delayed_read,
            transactions: transactions
                .iter()
                .filter(|t| !t.is_deposit())
                .map(|t| t.encoded_2718().into())
                .collect(),
        }
    }

    /// The attributes the block is built with.
    pub fn attributes(&self) -> BlockAttributes {
        BlockAttributes {
            timestamp: self.timestamp,
            gas_limit: self.gas_limit,
            prevrandao: self.prevrandao,
            extra_data: self.extra_data.clone(),
        }
    }

    /// Bytes this block takes in an encoded batch.
    pub fn encoded_len(&self) -> usize {
        8 + 8
            + 32
            + 1
            + self.extra_data.len().min(MAX_EXTRA_DATA)
            + 8
            + 32
            + 8
            + 4
            + self.transactions.iter().map(|t| 4 + t.len()).sum::<usize>()
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.gas_limit.to_be_bytes());
        out.extend_from_slice(self.prevrandao.as_slice());
        let extra = &self.extra_data[..self.extra_data.len().min(MAX_EXTRA_DATA)];
        out.push(extra.len() as u8);
        out.extend_from_slice(extra);
        let origin = self.origin.unwrap_or_default();
        out.extend_from_slice(&origin.number.to_be_bytes());
        out.extend_from_slice(origin.hash.as_slice());
        out.extend_from_slice(&self.delayed_read.to_be_bytes());
        out.extend_from_slice(&(self.transactions.len() as u32).to_be_bytes());
        for tx in &self.transactions {
            out.extend_from_slice(&(tx.len() as u32).to_be_bytes());
            out.extend_from_slice(tx);
        }
    }
}

/// A batch of consecutive L2 blocks (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Number of the first block.
    pub first_block: u64,
    /// Hash of block `first_block - 1`.
    pub parent_hash: B256,
    /// The blocks, in order.
    pub blocks: Vec<BatchBlock>,
}

/// Bytes of a batch's fixed header (version, first block, parent hash, block count).
pub const BATCH_HEADER_LEN: usize = 1 + 8 + 32 + 4;

impl Batch {
    /// Number of the last block (`first_block` for an empty batch).
    pub fn last_block(&self) -> u64 {
        self.first_block
            .saturating_add((self.blocks.len() as u64).saturating_sub(1))
    }

    /// Length of [`Batch::encode`].
    pub fn encoded_len(&self) -> usize {
        BATCH_HEADER_LEN
            + self
                .blocks
                .iter()
                .map(BatchBlock::encoded_len)
                .sum::<usize>()
    }

    /// Byte offset in [`Batch::encode`] of the record after block `i`'s, or 0 when block `i` is
    /// the batch's last (or past it): the `position` of the [`Cursor`] after block `i`.
    pub fn next_position(&self, i: usize) -> u64 {
        if i + 1 >= self.blocks.len() {
            return 0;
        }
        let before: usize = self.blocks[..=i].iter().map(BatchBlock::encoded_len).sum();
        (BATCH_HEADER_LEN + before) as u64
    }

    /// The version-0 encoding (module docs). `extraData` beyond 32 bytes is cut (headers never
    /// have more).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push(BATCH_VERSION);
        out.extend_from_slice(&self.first_block.to_be_bytes());
        out.extend_from_slice(self.parent_hash.as_slice());
        out.extend_from_slice(&(self.blocks.len() as u32).to_be_bytes());
        for block in &self.blocks {
            block.encode_into(&mut out);
        }
        out
    }

    /// Decodes [`Batch::encode`]'s format, strictly.
    pub fn decode(data: &[u8]) -> Result<Self, BatchError> {
        let mut r = Reader::new(data);
        let version = r.u8("version")?;
        if version != BATCH_VERSION {
            return Err(BatchError::Version(version));
        }
        let first_block = r.u64("firstBlock")?;
        let parent_hash = r.b256("parentHash")?;
        let count = r.u32("blockCount")?;
        if count == 0 {
            return Err(BatchError::Malformed("a batch holds at least one block"));
        }
        let mut blocks = Vec::new();
        for _ in 0..count {
            let timestamp = r.u64("timestamp")?;
            let gas_limit = r.u64("gasLimit")?;
            let prevrandao = r.b256("prevrandao")?;
            let extra_len = r.u8("extraLen")? as usize;
            if extra_len > MAX_EXTRA_DATA {
                return Err(BatchError::Malformed("extraData longer than 32 bytes"));
            }
            let extra_data = Bytes::copy_from_slice(r.take(extra_len, "extraData")?);
            let number = r.u64("originNumber")?;
            let hash = r.b256("originHash")?;
            let origin = (number != 0 || !hash.is_zero()).then_some(BatchOrigin { number, hash });
            let delayed_read = r.u64("delayedRead")?;
            let tx_count = r.u32("txCount")?;
            let mut transactions = Vec::new();
            for _ in 0..tx_count {
                let len = r.u32("txLen")? as usize;
                if len == 0 {
                    return Err(BatchError::Malformed("empty transaction"));
                }
                transactions.push(Bytes::copy_from_slice(r.take(len, "transaction")?));
            }
            blocks.push(BatchBlock {
                timestamp,
                gas_limit,
                prevrandao,
                extra_data,
                origin,
                delayed_read,
                transactions,
            });
        }
        r.finish()?;
        Ok(Self {
            first_block,
            parent_hash,
            blocks,
        })
    }
}

/// A transaction a block's input list holds and tx-init skipped: its position in the list,
/// the transaction, its sender.
pub type ListedSkipped = (usize, OpTxEnvelope, Address);

/// What [`derive_block`] did besides building.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Derived {
    /// Delayed messages consumed up to and including the block.
    pub delayed_read: u64,
    /// Whether the block opened with its origin's L1-info deposit (false without an origin,
    /// or when that deposit does not fit in the block's gas: then the block has no L1 inputs).
    pub has_origin: bool,
    /// Batch transactions skipped by rule 3 (index in the batch block, reason).
    pub skipped: Vec<(usize, String)>,
    /// Those of them the block's input list holds (they decode for this chain with a valid
    /// signature) and tx-init skipped (invalid on the state, or not fitting in the gas left):
    /// each at its position in the input list, with its sender. A trace of the block over its
    /// input list ([`crate::vm::BlockRef::inputs`]) needs them.
    pub listed_skipped: Vec<ListedSkipped>,
}

/// The block forced batch `F` derives (*Forced inclusion*) on a head that has consumed
/// `parent_read` delayed messages, where `F` forces `after_delayed_read` of them and `origin`
/// is L1's block before `F`'s (`l1BlockNumber − 1`, hash `l1ParentHash`): None when the head
/// has consumed them all. Derive it with [`derive_block`], target `after_delayed_read`.
pub fn forced_block(
    after_delayed_read: u64,
    parent_read: u64,
    origin: &L1BlockInfo,
) -> Option<BatchBlock> {
    (parent_read < after_delayed_read).then(|| BatchBlock {
        timestamp: origin.timestamp,
        gas_limit: FORCED_BLOCK_GAS_LIMIT,
        prevrandao: origin.hash,
        extra_data: Bytes::new(),
        origin: Some(BatchOrigin::from(origin)),
        delayed_read: after_delayed_read,
        transactions: Vec::new(),
    })
}

/// The target count of derivation rule 2 for a block whose record says `delayed_read`, read
/// from a batch committed with `after_delayed_read`: the smaller.
pub fn deposit_target(delayed_read: u64, after_delayed_read: u64) -> u64 {
    delayed_read.min(after_delayed_read)
}

/// Steps 1 and 2 of the derivation rule, shared by the sequencer and derivation: the L1-info
/// deposit of `origin`, then the deposits from index `parent_read` below `target_read` queued at
/// or before `origin`, while their gas limits fit. `deposits` are the queued deposits from
/// `parent_read` on, in index order (more may be given than used).
///
/// Returns the delayed messages consumed up to and including the block, or `None` when the
/// L1-info deposit itself does not fit (a gas limit below [`crate::deposit::L1_INFO_GAS_LIMIT`]):
/// then nothing was applied and the block has no L1 origin.
pub fn apply_l1_inputs<P: StateProvider>(
    builder: &mut BlockBuilder<'_, P>,
    origin: &L1BlockInfo,
    parent_read: u64,
    target_read: u64,
    deposits: &[DepositMessage],
) -> Result<Option<u64>, Error> {
    let number = builder.header().number;
    match builder.execute_deposit(l1_info_deposit(origin, number)) {
        Ok(_) => {}
        Err(TxRejection::Fatal(e)) => return Err(e),
        Err(_) => return Ok(None),
    }
    let block_gas = builder.header().gas_limit;
    let mut limits = L1_INFO_GAS_LIMIT;
    let mut read = parent_read;
    for message in deposits {
        if message.index != read || read >= target_read || message.l1_block_number > origin.number {
            break;
        }
        let Some(with) = limits
            .checked_add(message.gas_limit)
            .filter(|&g| g <= block_gas)
        else {
            break;
        };
        limits = with;
        // The gas limits so far fit in the block, so the gas used does too: no deposit is
        // refused for room, and a deposit that fails is included as failed.
        let index = builder.len();
        let gas_used = match builder.execute_deposit(message.tx_deposit()) {
            Ok(outcome) => outcome.gas_used,
            Err(TxRejection::Fatal(e)) => return Err(e),
            Err(other) => {
                return Err(Error::InvalidBlockTransaction {
                    index,
                    hash: message.l2_tx_hash(),
                    reason: other.to_string(),
                })
            }
        };
        debug!(
            index = message.index,
            l2_block = number,
            l2_tx = %message.l2_tx_hash(),
            gas_used,
            "deposit included"
        );
        read += 1;
    }
    Ok(Some(read))
}

/// Applies the whole derivation rule (module docs, steps 1-3) to `builder`, a block opened with
/// `block.attributes()` on its parent.
///
/// - `origin`: the block's L1 origin as read from L1 (None iff the block has none);
/// - `parent_read`: delayed messages consumed up to the parent;
/// - `target_read`: [`deposit_target`];
/// - `deposits`: the queued deposits from index `parent_read` on, in index order.
pub fn derive_block<P: StateProvider>(
    chain: &ChainSpec,
    builder: &mut BlockBuilder<'_, P>,
    block: &BatchBlock,
    origin: Option<&L1BlockInfo>,
    parent_read: u64,
    target_read: u64,
    deposits: &[DepositMessage],
) -> Result<Derived, Error> {
    let applied = match origin {
        Some(origin) => apply_l1_inputs(builder, origin, parent_read, target_read, deposits)?,
        None => None,
    };
    let derived = Derived {
        delayed_read: applied.unwrap_or(parent_read),
        has_origin: applied.is_some(),
        skipped: Vec::new(),
        listed_skipped: Vec::new(),
    };
    finish_txs(chain, builder, block, derived)
}

fn finish_txs<P: StateProvider>(
    chain: &ChainSpec,
    builder: &mut BlockBuilder<'_, P>,
    block: &BatchBlock,
    mut derived: Derived,
) -> Result<Derived, Error> {
    for (i, raw) in block.transactions.iter().enumerate() {
        let tx = match decode_user_tx(chain, raw) {
            Ok(tx) => tx,
            Err(reason) => {
                derived.skipped.push((i, reason.to_string()));
                continue;
            }
        };
        let position = builder.len() + derived.listed_skipped.len();
        match builder.execute(tx) {
            Ok(_) => {}
            Err(TxRejection::Fatal(e)) => return Err(e),
            Err(e) => {
                derived.skipped.push((i, e.to_string()));
                // Decoded again (it just decoded): only a skipped transaction pays for it.
                if let Ok(listed) = decode_user_tx(chain, raw) {
                    derived
                        .listed_skipped
                        .push((position, listed.tx, listed.sender));
                }
            }
        }
    }
    Ok(derived)
}

/// Why bytes are not a valid user transaction of this chain: the checks made before
/// execution, shared by derivation (rule 3 skips such a transaction) and by the node's
/// admission of raw transactions (which refuses it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserTxError {
    /// The bytes are not one EIP-2718 transaction envelope (trailing bytes included).
    #[error("undecodable: {0}")]
    Decode(String),
    /// A type users may not send ([`is_user_tx_type`]): deposits and unknown types.
    #[error("type {0} not allowed in a batch")]
    Type(u8),
    /// A legacy transaction without EIP-155 replay protection (no chain id).
    #[error("no chain id (not EIP-155 replay-protected)")]
    Unprotected,
    /// Signed for another chain.
    #[error("chain id {have}, want {want}")]
    WrongChainId {
        /// The transaction's chain id.
        have: u64,
        /// This chain's id.
        want: u64,
    },
    /// The signature's `s` is in the upper half of the curve order (EIP-2).
    #[error("bad signature: s above n/2 (EIP-2)")]
    HighS,
    /// The signature recovers no sender (`r` or `s` out of range, no curve point).
    #[error("bad signature: {0}")]
    Signature(String),
}

/// Checks a decoded transaction against the user-transaction rule and recovers its sender:
/// a user type ([`is_user_tx_type`]), signed for `chain_id` (EIP-155 for legacy), with a
/// low-`s` signature (EIP-2) that recovers a sender.
pub fn validate_user_tx(chain_id: u64, tx: &OpTxEnvelope) -> Result<Address, UserTxError> {
    let ty = tx.tx_type();
    if !is_user_tx_type(ty) {
        return Err(UserTxError::Type(ty as u8));
    }
    match tx.chain_id() {
        None => return Err(UserTxError::Unprotected),
        Some(have) if have != chain_id => {
            return Err(UserTxError::WrongChainId {
                have,
                want: chain_id,
            })
        }
        Some(_) => {}
    }
    if tx.signature().is_some_and(|sig| sig.s() > SECP256K1N_HALF) {
        return Err(UserTxError::HighS);
    }
    tx.recover_signer()
        .map_err(|e| UserTxError::Signature(e.to_string()))
}

/// Decodes one batch transaction and recovers its sender (rule 3's checks before execution,
/// [`validate_user_tx`]).
pub fn decode_user_tx(chain: &ChainSpec, raw: &[u8]) -> Result<ExecutableTx, UserTxError> {
    let tx =
        OpTxEnvelope::decode_2718_exact(raw).map_err(|e| UserTxError::Decode(e.to_string()))?;
    // The L1 data fee and the transaction hash are of the re-encoded bytes: they must be the
    // bytes given (canonical encoding).
    if tx.encode_2718_len() != raw.len() {
        return Err(UserTxError::Decode("not the canonical encoding".into()));
    }
    let sender = validate_user_tx(chain.chain_id, &tx)?;
    Ok(ExecutableTx { tx, sender })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Batch {
        Batch {
            first_block: 7,
            parent_hash: B256::repeat_byte(1),
            blocks: vec![
                BatchBlock {
                    timestamp: 1_700_000_000,
                    gas_limit: 30_000_000,
                    prevrandao: B256::repeat_byte(2),
                    extra_data: Bytes::from_static(b"x"),
                    origin: Some(BatchOrigin {
                        number: 5,
                        hash: B256::repeat_byte(3),
                    }),
                    delayed_read: 2,
                    transactions: vec![Bytes::from_static(b"\x02abc"), Bytes::from_static(b"\xf8")],
                },
                BatchBlock {
                    timestamp: 1_700_000_001,
                    gas_limit: 30_000_000,
                    origin: None,
                    ..Default::default()
                },
            ],
        }
    }

    #[test]
    fn round_trips_with_the_documented_layout() {
        let batch = sample();
        let bytes = batch.encode();
        assert_eq!(bytes.len(), batch.encoded_len());
        assert_eq!(bytes[0], BATCH_VERSION);
        assert_eq!(&bytes[1..9], &7u64.to_be_bytes());
        assert_eq!(&bytes[41..45], &2u32.to_be_bytes());
        // First block: 8 + 8 + 32, extra length 1 at offset 45 + 48.
        assert_eq!(bytes[45 + 48], 1);
        assert_eq!(Batch::decode(&bytes), Ok(batch.clone()));
        assert_eq!(batch.last_block(), 8);
        // Block 1's first transaction: length prefix then its bytes.
        let tx_at = 45 + 48 + 1 + 1 + 8 + 32 + 8 + 4;
        assert_eq!(&bytes[tx_at..tx_at + 4], &4u32.to_be_bytes());
        assert_eq!(&bytes[tx_at + 4..tx_at + 8], b"\x02abc");
        // Block 2's record starts after block 1's two transactions; it is the last.
        let second = tx_at + 8 + 4 + 1;
        assert_eq!(batch.next_position(0), second as u64);
        assert_eq!(&bytes[second..second + 8], &1_700_000_001u64.to_be_bytes());
        assert_eq!(batch.next_position(1), 0);
        assert_eq!(batch.next_position(9), 0);
    }

    #[test]
    fn decoding_is_strict() {
        let bytes = sample().encode();
        for cut in [0, 1, 20, 45, bytes.len() - 1] {
            assert!(Batch::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Batch::decode(&longer),
            Err(BatchError::Encoding(DecodeError::Trailing(1)))
        );
        let mut version = bytes.clone();
        version[0] = 1;
        assert_eq!(Batch::decode(&version), Err(BatchError::Version(1)));
        let empty = Batch {
            blocks: vec![],
            ..sample()
        };
        assert!(matches!(
            Batch::decode(&empty.encode()),
            Err(BatchError::Malformed(_))
        ));
        let mut extra = bytes;
        extra[45 + 48] = 33;
        assert!(matches!(
            Batch::decode(&extra),
            Err(BatchError::Malformed(_))
        ));
    }

    /// The user-transaction rule shared by derivation and the node's admission.
    mod user_tx {
        use alloy::signers::{local::PrivateKeySigner, SignerSync};
        use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
        use alloy_primitives::{keccak256, Signature, TxKind, U256};
        use op_alloy_consensus::TxDeposit;

        use super::super::*;

        const CHAIN_ID: u64 = 901;

        fn alice() -> PrivateKeySigner {
            PrivateKeySigner::from_bytes(&keccak256([1])).expect("valid key")
        }

        fn transfer(chain_id: u64) -> TxEip1559 {
            TxEip1559 {
                chain_id,
                gas_limit: 21_000,
                max_fee_per_gas: 10,
                to: TxKind::Call(Address::repeat_byte(2)),
                value: U256::from(3),
                ..Default::default()
            }
        }

        fn signed<T: SignableTransaction<Signature>>(tx: T) -> (T, Signature) {
            let sig = alice().sign_hash_sync(&tx.signature_hash()).expect("sign");
            (tx, sig)
        }

        fn raw(tx: OpTxEnvelope) -> Vec<u8> {
            tx.encoded_2718()
        }

        fn chain() -> ChainSpec {
            ChainSpec {
                chain_id: CHAIN_ID,
                spec: revm::primitives::hardfork::SpecId::CANCUN,
                base_fee_params: alloy_eips::eip1559::BaseFeeParams::ethereum(),
                fee_recipient: Address::ZERO,
            }
        }

        #[test]
        fn accepts_signed_user_types_and_recovers_the_sender() {
            let (tx, sig) = signed(transfer(CHAIN_ID));
            let eip1559 = OpTxEnvelope::Eip1559(tx.into_signed(sig));
            let legacy = {
                let (tx, sig) = signed(TxLegacy {
                    chain_id: Some(CHAIN_ID),
                    gas_limit: 21_000,
                    ..Default::default()
                });
                OpTxEnvelope::Legacy(tx.into_signed(sig))
            };
            for tx in [eip1559, legacy] {
                let decoded = decode_user_tx(&chain(), &raw(tx.clone())).expect("valid");
                assert_eq!(decoded.sender, alice().address());
                assert_eq!(decoded.tx, tx);
            }
        }

        #[test]
        fn refuses_each_broken_rule_with_its_variant() {
            let (tx, sig) = signed(transfer(CHAIN_ID));
            let good = raw(OpTxEnvelope::Eip1559(tx.clone().into_signed(sig)));
            let trailing = [good.clone(), vec![0]].concat();
            assert!(matches!(
                decode_user_tx(&chain(), &trailing),
                Err(UserTxError::Decode(_))
            ));

            let deposit = OpTxEnvelope::Deposit(alloy_consensus::Sealed::new(TxDeposit::default()));
            assert_eq!(
                decode_user_tx(&chain(), &raw(deposit)).err(),
                Some(UserTxError::Type(0x7e))
            );

            let (other, sig) = signed(transfer(1));
            assert_eq!(
                decode_user_tx(
                    &chain(),
                    &raw(OpTxEnvelope::Eip1559(other.into_signed(sig)))
                )
                .err(),
                Some(UserTxError::WrongChainId {
                    have: 1,
                    want: CHAIN_ID
                })
            );

            let (unprotected, sig) = signed(TxLegacy {
                gas_limit: 21_000,
                ..Default::default()
            });
            let unprotected = OpTxEnvelope::Legacy(unprotected.into_signed(sig));
            assert_eq!(
                decode_user_tx(&chain(), &raw(unprotected)).err(),
                Some(UserTxError::Unprotected)
            );

            // The same signature with s' = n - s and the parity flipped recovers the same
            // key; EIP-2 refuses it so a transaction has one valid signature.
            let n = SECP256K1N_HALF * U256::from(2) + U256::from(1);
            let high_s = Signature::new(sig.r(), n - sig.s(), !sig.v());
            let high = OpTxEnvelope::Eip1559(tx.clone().into_signed(high_s));
            assert_eq!(
                decode_user_tx(&chain(), &raw(high)).err(),
                Some(UserTxError::HighS)
            );

            let zero_r = Signature::new(U256::ZERO, sig.s(), sig.v());
            let zero = OpTxEnvelope::Eip1559(tx.into_signed(zero_r));
            assert!(matches!(
                decode_user_tx(&chain(), &raw(zero)),
                Err(UserTxError::Signature(_))
            ));
        }
    }
}
