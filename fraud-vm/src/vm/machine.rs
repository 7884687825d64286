//! The machine state and its commitment (see the [module docs](super) for the encoding).

use alloy_primitives::{keccak256, Address, Bloom, B256, U256};

/// `keccak256("fraud-vm machine v0")`: the domain of a machine-state hash.
pub fn domain() -> B256 {
    keccak256(b"fraud-vm machine v0")
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

/// The block part of the machine state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
}

/// The transaction part of the machine state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// The active call frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// Fixed-width encoding: every field is one 32-byte big-endian word (`abi.encode` of a tuple of
/// static types), so a Solidity verifier hashes the same bytes.
struct Words(Vec<u8>);

impl Words {
    fn new(fields: usize) -> Self {
        Self(Vec::with_capacity(fields * 32))
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&[0u8; 24]);
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u256(mut self, v: &U256) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes::<32>());
        self
    }
    fn b256(mut self, v: &B256) -> Self {
        self.0.extend_from_slice(v.as_slice());
        self
    }
    fn bloom(mut self, v: &Bloom) -> Self {
        self.0.extend_from_slice(v.as_slice());
        self
    }
    fn address(mut self, v: &Address) -> Self {
        self.0.extend_from_slice(&[0u8; 12]);
        self.0.extend_from_slice(v.as_slice());
        self
    }
}

macro_rules! encoded_part {
    ($ty:ty, $fields:expr, |$s:ident, $w:ident| $body:expr) => {
        impl $ty {
            /// The part's fixed-width encoding: one 32-byte word per field, in declaration
            /// order (enums and flags as their numeric value).
            pub fn encode(&self) -> Vec<u8> {
                let $s = self;
                let $w = Words::new($fields);
                $body.0
            }

            /// `keccak256` of [`Self::encode`].
            pub fn hash(&self) -> B256 {
                keccak256(self.encode())
            }
        }
    };
}

encoded_part!(BlockPart, 26, |s, w| w
    .u64(s.number)
    .u64(s.timestamp)
    .u64(s.gas_limit)
    .u64(s.base_fee)
    .address(&s.coinbase)
    .b256(&s.prevrandao)
    .u64(s.chain_id)
    .u256(&s.blob_base_fee)
    .b256(&s.block_hashes_root)
    .u64(s.cumulative_gas)
    .b256(&s.tx_acc)
    .b256(&s.receipt_acc)
    .b256(&s.state_root)
    .u64(s.tx_index));

encoded_part!(TxPart, 22, |s, w| w
    .address(&s.origin)
    .u256(&s.gas_price)
    .b256(&s.start_state_root)
    .u64(s.refund)
    .b256(&s.accessed_addresses)
    .b256(&s.accessed_slots)
    .b256(&s.transient_root)
    .b256(&s.created_root)
    .b256(&s.destructed)
    .b256(&s.logs_acc));

encoded_part!(Frame, 26, |s, w| w
    .u64(s.status as u64)
    .u64(s.kind as u64)
    .u64(s.depth)
    .u64(s.is_static as u64)
    .address(&s.address)
    .address(&s.caller)
    .u256(&s.value)
    .u64(s.code_len)
    .b256(&s.code_chunk_root)
    .u64(s.pc)
    .u64(s.gas)
    .u64(s.stack_size)
    .b256(&s.stack_hash)
    .u64(s.mem_words)
    .b256(&s.mem_root)
    .u64(s.calldata_len)
    .b256(&s.calldata_root)
    .u64(s.returndata_len)
    .b256(&s.returndata_root)
    .u64(s.out_offset)
    .u64(s.out_len)
    .u64(s.cursor)
    .b256(&s.parent_hash));

/// What a call frame's revert restores: the transaction-scoped state at the frame's entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

encoded_part!(Checkpoint, 16, |s, w| w
    .b256(&s.state_root)
    .b256(&s.transient_root)
    .b256(&s.accessed_addresses)
    .b256(&s.accessed_slots)
    .u64(s.refund)
    .b256(&s.logs_acc)
    .b256(&s.created_root)
    .b256(&s.destructed)
    .bloom(&s.logs_bloom));

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
    /// [`end_hash`]`(blockHash, block.stateRoot)`.
    pub sealed: Option<B256>,
}

impl Machine {
    /// `keccak256(domain ‖ block.hash ‖ tx.hash ‖ frame.hash)`, or [`end_hash`] once sealed.
    pub fn hash(&self) -> B256 {
        if let Some(block_hash) = &self.sealed {
            return end_hash(block_hash, &self.block.state_root);
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

/// The hash of the state after the block-end step: `keccak256(END ‖ blockHash ‖ stateRoot)`.
pub fn end_hash(block_hash: &B256, state_root: &B256) -> B256 {
    let mut preimage = [0u8; 96];
    preimage[..32].copy_from_slice(end_domain().as_slice());
    preimage[32..64].copy_from_slice(block_hash.as_slice());
    preimage[64..].copy_from_slice(state_root.as_slice());
    keccak256(preimage)
}

/// The frame of a state between transactions.
pub fn boundary_frame() -> Frame {
    Frame {
        status: Status::Boundary,
        ..Default::default()
    }
}
