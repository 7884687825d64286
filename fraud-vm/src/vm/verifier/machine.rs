//! The machine state and its commitment (see the [module docs](super) for the encoding).

use alloy_primitives::{keccak256, Address, Bloom, B256, U256};

use crate::codec::{enum_words, word_struct, Words};

/// `keccak256("fraud-vm machine v1")`: the domain of a machine-state hash.
pub fn domain() -> B256 {
    keccak256(b"fraud-vm machine v1")
}

/// What the frame is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Status {
    /// Executing opcodes.
    #[default]
    Running = 0,
    /// Ended by `STOP` or `RETURN`; the output is memory `[outOffset, outOffset + outLen)`.
    Returned = 1,
    /// Ended by `REVERT`; the output is memory `[outOffset, outOffset + outLen)`.
    Reverted = 2,
    /// Ended by an exceptional halt: all gas is consumed and state changes roll back.
    Halted = 3,
    /// No frame: between transactions (the next step starts transaction `block.txIndex`, or
    /// ends the block once all are done). Every other frame field is zero.
    Boundary = 4,
}

/// How the frame was entered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FrameKind {
    /// The transaction's own call, or `CALL`.
    #[default]
    Call = 0,
    /// `CALLCODE`.
    CallCode = 1,
    /// `DELEGATECALL`.
    DelegateCall = 2,
    /// `STATICCALL`.
    StaticCall = 3,
    /// A creating transaction or `CREATE`.
    Create = 4,
    /// `CREATE2`.
    Create2 = 5,
}

enum_words!(
    Status,
    "frame status",
    [
        Status::Running,
        Status::Returned,
        Status::Reverted,
        Status::Halted,
        Status::Boundary
    ]
);

enum_words!(
    FrameKind,
    "frame kind",
    [
        FrameKind::Call,
        FrameKind::CallCode,
        FrameKind::DelegateCall,
        FrameKind::StaticCall,
        FrameKind::Create,
        FrameKind::Create2
    ]
);

word_struct! {
    /// The block part of the machine state.
    pub struct BlockPart {
        /// Block number.
        pub number: u64,
        /// Block timestamp.
        pub timestamp: u64,
        /// Block gas limit.
        pub gas_limit: u64,
        /// EIP-1559 base fee.
        pub base_fee: u64,
        /// Fee recipient (`COINBASE`).
        pub coinbase: Address,
        /// `PREVRANDAO`.
        pub prevrandao: B256,
        /// Chain id.
        pub chain_id: u64,
        /// `BLOBBASEFEE`.
        pub blob_base_fee: U256,
        /// Root of the last 256 block hashes (`BLOCKHASH`).
        pub block_hashes_root: B256,
        /// Gas used by the block's transactions so far.
        pub cumulative_gas: u64,
        /// Transactions accumulator so far.
        pub tx_acc: B256,
        /// Receipts accumulator so far.
        pub receipt_acc: B256,
        /// Current world-state root.
        pub state_root: B256,
        /// Index of the current transaction.
        pub tx_index: u64,
        /// Number of transactions in the block's input list.
        pub tx_count: u64,
        /// Root of the block's input list ([`super::input`]).
        pub inputs_root: B256,
        /// OR of the blooms of the logs of the transactions so far.
        pub logs_bloom: Bloom,
        /// Parent block hash.
        pub parent_hash: B256,
        /// `keccak256(extraData)`.
        pub extra_data_hash: B256,
        /// Where derivation continues: the hash of a derivation cursor
        /// (`fraud_vm::inbox::Cursor`). The open step sets it to the parent claim's; no
        /// execution step changes it, and block-end seals it into the block's [`Claim`].
        pub cursor: B256,
    }
}

word_struct! {
    /// The claim on a block: what its terminal state commits to, and all the next block's
    /// derivation starts from. Its hash is [`end_hash`].
    pub struct Claim {
        /// The block's hash.
        pub block_hash: B256,
        /// Its state root.
        pub state_root: B256,
        /// Root of the block-hash window with this block's own hash inserted (leaf
        /// `number mod 256`): the `blockHashesRoot` of the next block.
        pub block_hashes_root: B256,
        /// The block part's `cursor`: where derivation of the next block continues.
        pub cursor: B256,
    }
}

word_struct! {
    /// The transaction part of the machine state.
    pub struct TxPart {
        /// `ORIGIN`.
        pub origin: Address,
        /// Effective gas price (`GASPRICE`).
        pub gas_price: U256,
        /// World-state root when the transaction started (original values for `SSTORE` gas).
        pub start_state_root: B256,
        /// Refund counter.
        pub refund: u64,
        /// Root of the accessed-addresses set (EIP-2929).
        pub accessed_addresses: B256,
        /// Root of the accessed-slots set (EIP-2929).
        pub accessed_slots: B256,
        /// Root of transient storage (EIP-1153).
        pub transient_root: B256,
        /// Root of the set of accounts created in this transaction (EIP-6780). A member's value is
        /// the hash chain of the slots it set from zero to non-zero ([`link`] from [`SET_MEMBER`]).
        ///
        /// [`SET_MEMBER`]: super::SET_MEMBER
        pub created_root: B256,
        /// Hash chain ([`link`] from zero) of the accounts created in this transaction that ran
        /// `SELFDESTRUCT`; they and their storage are deleted at the transaction's end.
        pub destructed: B256,
        /// Hash chain of the transaction's logs.
        pub logs_acc: B256,
        /// OR of the blooms of the transaction's logs.
        pub logs_bloom: Bloom,
        /// EIP-2718 type.
        pub tx_type: u64,
        /// Gas limit.
        pub gas_limit: u64,
        /// Priority fee per gas paid to the fee recipient (effective price minus base fee).
        pub tip: U256,
        /// Transaction hash.
        pub tx_hash: B256,
    }
}

word_struct! {
    /// The active call frame.
    pub struct Frame {
        /// Running, or how it ended.
        pub status: Status,
        /// How it was entered.
        pub kind: FrameKind,
        /// Call depth (0 for the transaction's frame).
        pub depth: u64,
        /// Whether state changes are forbidden (inside `STATICCALL`).
        pub is_static: bool,
        /// `ADDRESS`: whose storage and balance the frame uses.
        pub address: Address,
        /// `CALLER`.
        pub caller: Address,
        /// `CALLVALUE`.
        pub value: U256,
        /// Length of the code being run.
        pub code_len: u64,
        /// Root of the code's chunk tree ([`crate::code`]).
        pub code_chunk_root: B256,
        /// Program counter.
        pub pc: u64,
        /// Gas left.
        pub gas: u64,
        /// Number of stack items.
        pub stack_size: u64,
        /// Stack hash chain: `0` when empty, `keccak256(below ‖ top)` after a push.
        pub stack_hash: B256,
        /// Memory size in 32-byte words.
        pub mem_words: u64,
        /// Root of the memory word tree (depth [`super::DATA_DEPTH`]).
        pub mem_root: B256,
        /// Call data length in bytes.
        pub calldata_len: u64,
        /// Root of the word tree holding the call data: the transaction input for the
        /// transaction's frame, the caller's memory for a called frame.
        pub calldata_root: B256,
        /// Byte offset of the call data in that tree.
        pub calldata_offset: u64,
        /// Return data (of the last call this frame made) length in bytes.
        pub returndata_len: u64,
        /// Root of the word tree holding the return data (the returning frame's memory).
        pub returndata_root: B256,
        /// Byte offset of the return data in that tree.
        pub returndata_offset: u64,
        /// Offset of the output in memory once the frame returned or reverted.
        pub out_offset: u64,
        /// Length of the output.
        pub out_len: u64,
        /// Micro-step cursor of a bulk operation in progress.
        pub cursor: u64,
        /// `keccak256` of the keccak sponge state while a hash is being absorbed, else 0.
        pub sponge: B256,
        /// Hash of the calling frame and the snapshot taken at entry (0 for the transaction's frame).
        pub parent_hash: B256,
    }
}

word_struct! {
    /// What a call frame's revert restores: the transaction-scoped state at the frame's entry.
    pub struct Checkpoint {
        /// World-state root.
        pub state_root: B256,
        /// Transient storage root.
        pub transient_root: B256,
        /// Accessed-addresses set root.
        pub accessed_addresses: B256,
        /// Accessed-slots set root.
        pub accessed_slots: B256,
        /// Refund counter.
        pub refund: u64,
        /// Log accumulator.
        pub logs_acc: B256,
        /// Created-accounts set root.
        pub created_root: B256,
        /// Self-destructed accounts chain.
        pub destructed: B256,
        /// Log bloom.
        pub logs_bloom: Bloom,
    }
}

impl Checkpoint {
    /// The checkpoint of `m`'s current state.
    pub fn of(m: &Machine) -> Self {
        Self {
            state_root: m.block.state_root,
            transient_root: m.tx.transient_root,
            accessed_addresses: m.tx.accessed_addresses,
            accessed_slots: m.tx.accessed_slots,
            refund: m.tx.refund,
            logs_acc: m.tx.logs_acc,
            created_root: m.tx.created_root,
            destructed: m.tx.destructed,
            logs_bloom: m.tx.logs_bloom,
        }
    }

    /// Puts the checkpoint's values back into `m`.
    pub fn restore(&self, m: &mut Machine) {
        m.block.state_root = self.state_root;
        m.tx.transient_root = self.transient_root;
        m.tx.accessed_addresses = self.accessed_addresses;
        m.tx.accessed_slots = self.accessed_slots;
        m.tx.refund = self.refund;
        m.tx.logs_acc = self.logs_acc;
        m.tx.created_root = self.created_root;
        m.tx.destructed = self.destructed;
        m.tx.logs_bloom = self.logs_bloom;
    }
}

/// One link of a hash chain: `keccak256(prev ‖ item)`.
pub fn link(prev: &B256, item: &B256) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(prev.as_slice());
    preimage[32..].copy_from_slice(item.as_slice());
    keccak256(preimage)
}

/// A called frame's `parentHash`: `keccak256(callerFrame.hash ‖ checkpoint.hash)`.
pub fn parent_hash(caller: &Frame, checkpoint: &Checkpoint) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(caller.hash().as_slice());
    preimage[32..].copy_from_slice(checkpoint.hash().as_slice());
    keccak256(preimage)
}

/// The whole machine state a step reads: block, transaction and active frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    /// Block part.
    pub block: BlockPart,
    /// Transaction part.
    pub tx: TxPart,
    /// Active frame.
    pub frame: Frame,
    /// The block hash once the block-end step ran: the state is then terminal and its hash is
    /// [`end_hash`] of its [`Machine::claim`].
    pub sealed: Option<B256>,
    /// Set by a hand-off step that derived no block: the state is the open state of the block
    /// part's claim, `open_hash(Claim { parentHash, stateRoot, blockHashesRoot, cursor })`
    /// ([`super::open::open_hash`]), which only an open proof steps from.
    pub reopen: bool,
}

impl Machine {
    /// The claim a terminal state commits to (`None` before the block-end step).
    pub fn claim(&self) -> Option<Claim> {
        self.sealed.map(|block_hash| Claim {
            block_hash,
            state_root: self.block.state_root,
            block_hashes_root: self.block.block_hashes_root,
            cursor: self.block.cursor,
        })
    }

    /// `keccak256(domain ‖ block.hash ‖ tx.hash ‖ frame.hash)`, or [`end_hash`] once sealed,
    /// or the open hash once reopened.
    pub fn hash(&self) -> B256 {
        if let Some(claim) = self.claim() {
            return end_hash(&claim);
        }
        if self.reopen {
            return super::open::open_hash(&Claim {
                block_hash: self.block.parent_hash,
                state_root: self.block.state_root,
                block_hashes_root: self.block.block_hashes_root,
                cursor: self.block.cursor,
            });
        }
        let mut preimage = [0u8; 128];
        preimage[..32].copy_from_slice(domain().as_slice());
        preimage[32..64].copy_from_slice(self.block.hash().as_slice());
        preimage[64..96].copy_from_slice(self.tx.hash().as_slice());
        preimage[96..].copy_from_slice(self.frame.hash().as_slice());
        keccak256(preimage)
    }
}

/// The stack hash after pushing `word` onto a stack whose hash is `below`.
pub fn stack_push_hash(below: &B256, word: &U256) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(below.as_slice());
    preimage[32..].copy_from_slice(&word.to_be_bytes::<32>());
    keccak256(preimage)
}

/// The stack hash of `stack` (bottom first).
pub fn stack_hash(stack: &[U256]) -> B256 {
    stack
        .iter()
        .fold(B256::ZERO, |below, word| stack_push_hash(&below, word))
}

/// `keccak256("fraud-vm block end")`: the domain of the terminal state hash.
pub fn end_domain() -> B256 {
    keccak256(b"fraud-vm block end")
}

/// The hash of the state after the block-end step, the claim on the block:
/// `keccak256(END ‖ blockHash ‖ stateRoot ‖ blockHashesRoot ‖ cursor)`.
pub fn end_hash(claim: &Claim) -> B256 {
    let mut preimage = Vec::with_capacity(32 * (1 + Claim::WORDS));
    preimage.extend_from_slice(end_domain().as_slice());
    claim.encode_words(&mut preimage);
    keccak256(preimage)
}

/// Root of the block-hash window (depth [`BLOCK_HASH_DEPTH`](super::BLOCK_HASH_DEPTH)) holding
/// each `(number, hash)` at leaf `number mod 256`, every other leaf zero.
pub fn window_root(hashes: impl IntoIterator<Item = (u64, B256)>) -> B256 {
    let depth = super::BLOCK_HASH_DEPTH;
    let mut leaves = vec![B256::ZERO; 1 << depth];
    for (number, hash) in hashes {
        leaves[(number % super::BLOCK_HASH_WINDOW) as usize] = hash;
    }
    crate::merkle::levels(&leaves, depth)[depth][0]
}

/// The frame of a state between transactions.
pub fn boundary_frame() -> Frame {
    Frame {
        status: Status::Boundary,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{DecodeError, Words};

    /// Changes each word of `part`'s encoding alone (its low bit, which keeps a flag or enum
    /// in range when it is 0) and checks the decoded part differs and hashes differently: no
    /// field is left out of the hash, and `decode` is the inverse of `encode`.
    fn assert_every_word_bound<T: Words + Clone + PartialEq + std::fmt::Debug>(
        part: &T,
        encode: fn(&T) -> Vec<u8>,
        decode: fn(&[u8]) -> Result<T, DecodeError>,
        fields: &[&str],
    ) {
        let bytes = encode(part);
        assert_eq!(bytes.len(), T::WORDS * 32);
        assert!(T::WORDS >= fields.len());
        assert_eq!(decode(&bytes).as_ref(), Ok(part));
        for w in 0..T::WORDS {
            let mut changed = bytes.clone();
            changed[w * 32 + 31] ^= 1;
            let other = decode(&changed).unwrap_or_else(|e| panic!("word {w}: {e}"));
            assert_ne!(&other, part, "word {w} of {}", T::NAME);
            assert_ne!(
                keccak256(encode(&other)),
                keccak256(&bytes),
                "word {w} of {}",
                T::NAME
            );
        }
        // Truncated, extended and non-canonical encodings are refused.
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&[bytes.as_slice(), &[0]].concat()).is_err());
    }

    #[test]
    fn every_field_of_every_part_is_bound_by_its_hash() {
        // Zero flags and enums (their low bit flips to a valid value); every other field zero
        // too: a flipped word must still decode to a different part.
        assert_every_word_bound(
            &BlockPart::default(),
            BlockPart::encode,
            BlockPart::decode,
            BlockPart::FIELDS,
        );
        assert_every_word_bound(
            &TxPart::default(),
            TxPart::encode,
            TxPart::decode,
            TxPart::FIELDS,
        );
        assert_every_word_bound(
            &Frame::default(),
            Frame::encode,
            Frame::decode,
            Frame::FIELDS,
        );
        assert_every_word_bound(
            &Checkpoint::default(),
            Checkpoint::encode,
            Checkpoint::decode,
            Checkpoint::FIELDS,
        );
        assert_every_word_bound(
            &Claim::default(),
            Claim::encode,
            Claim::decode,
            Claim::FIELDS,
        );
        assert_eq!(BlockPart::FIELDS.len(), 20);
        assert_eq!(
            (BlockPart::WORDS, TxPart::WORDS, Frame::WORDS, Claim::WORDS),
            (27, 22, 26, 4)
        );
        assert_eq!(Checkpoint::WORDS, 16);
    }

    #[test]
    fn the_machine_hash_covers_each_part() {
        let m = Machine::default();
        let mut other = m.clone();
        other.block.parent_hash = B256::repeat_byte(1);
        assert_ne!(other.hash(), m.hash());
        let mut other = m.clone();
        other.tx.tx_hash = B256::repeat_byte(1);
        assert_ne!(other.hash(), m.hash());
        let mut other = m.clone();
        other.frame.sponge = B256::repeat_byte(1);
        assert_ne!(other.hash(), m.hash());
    }

    #[test]
    fn non_canonical_words_are_refused() {
        let mut bytes = Frame::default().encode();
        bytes[0] = 1; // status word's high byte
        assert_eq!(
            Frame::decode(&bytes),
            Err(DecodeError::NonCanonical("uint64 word"))
        );
        let mut bytes = Frame::default().encode();
        bytes[31] = 9; // status 9
        assert!(Frame::decode(&bytes).is_err());
        let mut bytes = Frame::default().encode();
        bytes[3 * 32 + 31] = 2; // isStatic = 2
        assert_eq!(
            Frame::decode(&bytes),
            Err(DecodeError::NonCanonical("bool word"))
        );
        let mut bytes = TxPart::default().encode();
        bytes[0] = 1; // origin's high bytes
        assert_eq!(
            TxPart::decode(&bytes),
            Err(DecodeError::NonCanonical("address word"))
        );
    }
}
