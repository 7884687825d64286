//! The open step: the first step of block `n`'s trace, from the claim on block `n − 1` to the
//! derivation program running on the batch the claim's cursor points at.
//!
//! Block `n`'s trace starts at `keccak256(OPEN ‖ end_hash(claim(n − 1)))` ([`open_hash`]):
//! the claim's own hash is the terminal state of block `n − 1`, which steps only to itself, so
//! the start of the next block has its own domain. The open step's proof ([`OpenProof`]) shows
//! the claim's four words, the preimage of its cursor (`abi.encode(Cursor)`) and the preimage
//! of the Inbox's batch accumulator after the cursor's batch (`abi.encode(BatchCommitment)`);
//! the verifier reads that accumulator, `batchAcc[batchIndex + 1]`, from L1 itself
//! ([`L1Inbox`]). It checks every preimage and yields the derivation start state:
//!
//! * **block**: `chainId` and `coinbase` (the verifier's [`Protocol`]), and from the claim
//!   `parentHash = blockHash`, `stateRoot`, `blockHashesRoot`, `cursor`; every other field
//!   zero;
//! * **tx**: `txType =` [`DERIVATION_TX_TYPE`], `gasLimit =` the protocol's derivation gas,
//!   `startStateRoot = stateRoot`, the accessed addresses `{0, PROGRAM, coinbase}` (the caller,
//!   the target and the coinbase, as for any transaction), every other field zero;
//! * **frame**: the program ([`PROGRAM`], code length and chunk root from the [`Protocol`])
//!   running statically at `pc = 0` with all the derivation gas, called by address 0 with no
//!   value, its call data the batch's data (`calldataLen = dataLength`, `calldataRoot =
//!   dataRoot`), empty stack, memory and return data, and `parentHash` the boundary frame with
//!   the start checkpoint (as a transaction's frame has).
//!
//! The program reads the rest of what derivation needs (the claim, the cursor, the batch
//! commitment, the parent header, L1 headers and delayed messages) from the derivation oracle
//! at [`ORACLE`] ([`super::l1_oracle`]); when its frame ends, the hand-off step
//! ([`super::handoff`]) makes its output the block's execution start state, or opens the
//! next batch.
//!
//! Proof bytes: `0x02 ‖ claim (4 words) ‖ abi.encode(cursor) (6 words) ‖
//! abi.encode(commitment) (9 words)`, each in its canonical encoding.

use alloy_primitives::{address, keccak256, Address, B256, U256};
use alloy_sol_types::SolValue;

use super::{
    machine::{
        boundary_frame, end_hash, parent_hash, BlockPart, Checkpoint, Claim, Frame, FrameKind,
        Machine, Status, TxPart,
    },
    tx::initial_accessed_addresses,
    StepError, DATA_DEPTH,
};
use crate::{
    codec::{DecodeError, Reader, Words},
    inbox::{BatchCommitment, Cursor},
    merkle,
};

/// The transaction type of the derivation program's run (no signed or deposit transaction has
/// it: the input list holds types 0, 1, 2 and `0x7E`).
pub const DERIVATION_TX_TYPE: u64 = 0x7d;

/// The address the derivation program runs at (its code is the [`Protocol`]'s, not read from
/// the state).
pub const PROGRAM: Address = address!("000000000000000000000000000000000000de71");

/// The derivation oracle's address: while the program runs, a call to it asks for L1 data.
pub const ORACLE: Address = address!("000000000000000000000000000000000000de72");

/// What a verifier fixes about derivation (an L1 verifier's constants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocol {
    /// The L2 chain id.
    pub chain_id: u64,
    /// The chain's block producer address (every block's `coinbase`).
    pub coinbase: Address,
    /// Length of the derivation program's code.
    pub program_len: u64,
    /// Its chunk-tree root ([`crate::code`]).
    pub program_chunk_root: B256,
    /// Gas the program runs with for one block: the protocol's is [`DERIVATION_GAS`].
    pub derivation_gas: u64,
}

/// The derivation program's gas budget for one run: `2^38`.
///
/// A run that could need more would make an honest block unprovable, so the budget is sized
/// from the rules' bounds with the program's measured costs (`fraud-vm/tests/derivation_entry.rs`
/// prints them): an L1 header walked ~21.6k gas, fewer than `MAX_ORIGIN_AGE` (3 600) of them
/// (~78M); a deposit ~22k plus its data
/// copied and hashed, the deposits' gas limits (each at least 21 000 + 16 per data byte)
/// summing to at most the block's gas limit (`2^32`): at most ~205k deposits and ~268 MB of
/// data, under `2^34` gas together; a batch's bytes, walked once when it is opened and checked
/// per transaction at a few hundred gas per byte, bounded by the calldata one L1 block can hold
/// (~9 MB at 4 gas per zero byte, ~`2^32` gas). The sum is below `2^35`; `2^38` leaves a
/// margin of 8 and keeps a run's memory below the `2^DATA_DEPTH` words whose expansion alone
/// would cost over `5·10^11` gas (module docs of [`crate::vm`]). A run has at most
/// `2·DERIVATION_GAS + 4` steps: 2^39 leaves at most.
pub const DERIVATION_GAS: u64 = 1 << 38;

/// What L1 holds that a step reads: the Inbox's accumulators (`Inbox.batchAcc(i)`,
/// `Inbox.delayedAcc(i)`), `None` for an index the Inbox has not reached.
pub trait L1Inbox {
    /// The batch accumulator after `index` batches.
    fn batch_acc(&self, index: u64) -> Option<B256>;
    /// The delayed-message accumulator after `index` messages.
    fn delayed_acc(&self, index: u64) -> Option<B256>;
}

/// The Inbox's accumulators held in memory: `batch[i]` and `delayed[i]` are the values after
/// `i` batches and `i` delayed messages (`batch[0] = delayed[0] = 0`, as the Inbox answers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InboxAccs {
    /// Batch accumulators, from index 0.
    pub batch: Vec<B256>,
    /// Delayed-message accumulators, from index 0.
    pub delayed: Vec<B256>,
}

impl L1Inbox for InboxAccs {
    fn batch_acc(&self, index: u64) -> Option<B256> {
        self.batch.get(usize::try_from(index).ok()?).copied()
    }

    fn delayed_acc(&self, index: u64) -> Option<B256> {
        self.delayed.get(usize::try_from(index).ok()?).copied()
    }
}

/// `keccak256("fraud-vm block open")`: the domain of a block's first state.
pub fn open_domain() -> B256 {
    keccak256(b"fraud-vm block open")
}

/// The first state of the block after the one `claim` is on:
/// `keccak256(OPEN ‖ end_hash(claim))`.
pub fn open_hash(claim: &Claim) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(open_domain().as_slice());
    preimage[32..].copy_from_slice(end_hash(claim).as_slice());
    keccak256(preimage)
}

/// The open step's witnesses (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenProof {
    /// The claim on the previous block.
    pub claim: Claim,
    /// Its cursor's preimage.
    pub cursor: Cursor,
    /// The commitment of the batch the cursor points at.
    pub commitment: BatchCommitment,
}

/// Words of `abi.encode(Cursor)`.
const CURSOR_WORDS: usize = 6;
/// Words of `abi.encode(BatchCommitment)`.
const COMMITMENT_WORDS: usize = 9;

impl OpenProof {
    /// The proof's bytes after its tag (module docs).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.claim.encode_words(out);
        out.extend_from_slice(&self.cursor.abi_encode());
        out.extend_from_slice(&self.commitment.abi_encode());
    }

    /// The inverse of [`OpenProof::encode_into`]: rejects truncation and any encoding that is
    /// not the canonical one of the value it decodes to.
    pub fn decode_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let claim = r.words()?;
        let cursor = canonical::<Cursor>(r.take(CURSOR_WORDS * 32, "cursor")?, "cursor")?;
        let commitment = canonical::<BatchCommitment>(
            r.take(COMMITMENT_WORDS * 32, "batch commitment")?,
            "batch commitment",
        )?;
        Ok(Self {
            claim,
            cursor,
            commitment,
        })
    }
}

/// `bytes` decoded as `T`'s ABI tuple, if they are exactly its encoding.
fn canonical<T: SolValue + From<<T::SolType as alloy_sol_types::SolType>::RustType>>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, DecodeError> {
    let value = T::abi_decode(bytes).map_err(|_| DecodeError::NonCanonical(what))?;
    if value.abi_encode() != bytes {
        return Err(DecodeError::NonCanonical(what));
    }
    Ok(value)
}

/// The open step: checks `proof` against `pre_hash` and L1, and returns the derivation start
/// state (module docs).
pub fn open(
    protocol: &Protocol,
    l1: &dyn L1Inbox,
    pre_hash: B256,
    proof: &OpenProof,
) -> Result<Machine, StepError> {
    let OpenProof {
        claim,
        cursor,
        commitment,
    } = proof;
    if open_hash(claim) != pre_hash {
        return Err(StepError::PreStateMismatch);
    }
    if keccak256(cursor.abi_encode()) != claim.cursor {
        return Err(StepError::BadWitness("cursor preimage"));
    }
    let index = cursor
        .batchIndex
        .checked_add(1)
        .ok_or(StepError::BadWitness("cursor batch index"))?;
    let acc = l1.batch_acc(index).ok_or(StepError::NotOnL1(index))?;
    if commitment.accumulate() != acc {
        return Err(StepError::BadWitness("batch commitment"));
    }
    let data_len = u64::try_from(commitment.dataLength)
        .map_err(|_| StepError::BadWitness("batch data length"))?;
    let mut m = Machine {
        block: BlockPart {
            chain_id: protocol.chain_id,
            coinbase: protocol.coinbase,
            parent_hash: claim.block_hash,
            state_root: claim.state_root,
            block_hashes_root: claim.block_hashes_root,
            cursor: claim.cursor,
            ..Default::default()
        },
        tx: TxPart {
            start_state_root: claim.state_root,
            accessed_addresses: initial_accessed_addresses(
                &Address::ZERO,
                &PROGRAM,
                &protocol.coinbase,
            ),
            tx_type: DERIVATION_TX_TYPE,
            gas_limit: protocol.derivation_gas,
            ..Default::default()
        },
        frame: boundary_frame(),
        sealed: None,
        reopen: false,
    };
    let checkpoint = Checkpoint::of(&m);
    m.frame = Frame {
        status: Status::Running,
        kind: FrameKind::Call,
        is_static: true,
        address: PROGRAM,
        value: U256::ZERO,
        code_len: protocol.program_len,
        code_chunk_root: protocol.program_chunk_root,
        gas: protocol.derivation_gas,
        mem_root: merkle::zero_hash(DATA_DEPTH),
        calldata_len: data_len,
        calldata_root: commitment.dataRoot,
        returndata_root: merkle::zero_hash(DATA_DEPTH),
        parent_hash: parent_hash(&boundary_frame(), &checkpoint),
        ..Default::default()
    };
    Ok(m)
}
