//! # The step machine
//!
//! The fraud-proof VM's instruction set is the EVM itself: one step is one opcode (or one
//! synthetic step: block-init, tx-init, frame enter/exit, precompile call, tx-end, block-end,
//! micro-steps of bulk data). A dispute narrows down to one step; L1 re-executes that step from
//! its pre-state hash and a [`Proof`] and compares the post-state hash. This module's docs are
//! the specification; [`verifier`] is the Rust reference verifier, which a Solidity port (none
//! exists yet) will mirror file for file (one contract there per module here: the entry, the
//! step context, one per opcode family, the oracle, the encodings); [`prover`] (the `evm`
//! feature) replays blocks on revm and builds the proofs.
//!
//! **Status.** Every defined Cancun opcode (one module per family: `arith`, `compare_bitwise`,
//! `keccak`, `env`, `block_info`, `account`, `storage`, `stack_memory`, `flow`, `copy`, `log`,
//! `call`, `create`, `selfdestruct`, `halt`), every exceptional halt, precompile calls
//! 0x01–0x0a (called, or as a transaction's own target), frame exit with rollback, code
//! deposit, tx-init (signed transactions of every L2 type, deposits, contract creation, access
//! lists), tx-end, the EIP-6780 deletion of accounts created and self-destructed in one
//! transaction, and block-end; [`Trace::for_block`] replays any node-built block
//! ([`Trace::for_parts`] over its derived input list when derivation kept transactions the
//! state makes invalid, which tx-init skips: [`BlockRef::inputs`]).
//! The open step ([`open`]) starts the derivation program, the derivation oracle
//! ([`l1_oracle`]) answers its questions, and the hand-off ([`handoff`]) makes its output the
//! block's execution start state; [`Trace::for_derivation`] runs a program from the open
//! state. [`StepError::Unsupported`] remains only for states no block reaches (a step after
//! the block ended, a refund counter below zero).
//!
//! Module docs of each family state its exact semantics: [`call`], [`create`], [`copy`],
//! [`keccak`], [`build`], [`input`], and the private `tx`, `exit`, `storage`, `account`,
//! `selfdestruct`, `log` modules of [`verifier`] (read the source).
//!
//! ## Machine state and its hash
//!
//! ```text
//! stateHash = keccak256(DOMAIN ‖ keccak256(block) ‖ keccak256(tx) ‖ keccak256(frame))
//! DOMAIN    = keccak256("fraud-vm machine v1")
//! ```
//! Each part is encoded as `abi.encode` of a tuple of static types: every field in declaration
//! order, each one 32-byte big-endian word (a bloom is 8 words; enums and flags their numeric
//! value). Every field of every part is committed: the struct, its encoding and its decoding
//! are generated from one field list ([`codec`]; `BlockPart::FIELDS` names them), and a test
//! changes each field alone and checks the hash changes. The fields, in order:
//!
//! * **block** ([`BlockPart`], 27 words): number, timestamp, gasLimit, baseFee, coinbase,
//!   prevrandao, chainId, blobBaseFee, blockHashesRoot, cumulativeGas, txAcc, receiptAcc,
//!   stateRoot, txIndex, txCount, inputsRoot, logsBloom (8 words), parentHash, extraDataHash,
//!   cursor (the hash of the block's derivation cursor, `fraud_vm::inbox::Cursor`: the open
//!   step writes the parent claim's, the derivation oracle's `context()` reads it, block-end
//!   seals it into the claim).
//! * **tx** ([`TxPart`], 22 words; all zero between transactions, except `createdRoot` and
//!   `destructed` while self-destructed accounts are being deleted): origin, gasPrice,
//!   startStateRoot, refund, accessedAddressesRoot, accessedSlotsRoot, transientRoot,
//!   createdRoot, destructed, logsAcc, logsBloom (8 words), txType, gasLimit, tip, txHash.
//! * **frame** ([`Frame`], 26 words): status (0 running, 1 returned, 2 reverted, 3 halted,
//!   4 boundary = no frame, between transactions), kind (0 call, 1 callcode, 2 delegatecall,
//!   3 staticcall, 4 create, 5 create2), depth, isStatic, address, caller, value, codeLen,
//!   codeChunkRoot, pc, gas, stackSize, stackHash, memWords, memRoot, calldataLen,
//!   calldataRoot, calldataOffset, returndataLen, returndataRoot, returndataOffset,
//!   outOffset, outLen, cursor, sponge, parentHash.
//!
//! Sets (accessed addresses and slots, created accounts) are state-tree SMTs keyed like the
//! state (`keccak256(address)`, `keccak256(address ‖ slot)`) with value `bytes32(1)`;
//! transient storage is an SMT with the storage keys. A created account's member value is
//! instead the hash chain ([`machine::link`]) of the slots it set from zero, starting at
//! `bytes32(1)`, and `destructed` is the chain of created accounts that ran `SELFDESTRUCT`
//! (the private `selfdestruct` module states the deletion rule). A called frame's `parentHash` is
//! `keccak256(callerFrame.hash ‖ checkpoint.hash)` ([`Checkpoint`]: the roots, the
//! `destructed` chain, refund, logs and bloom to restore on revert); the transaction's frame has the boundary frame as caller.
//! `refund` is the transaction's refund counter (EIP-2200 with EIP-3529's amounts), restored
//! with the rest of the checkpoint when a frame fails. It never goes below zero: the only
//! deduction (−4800 when `SSTORE` sets a slot that an earlier `SSTORE` of the transaction
//! cleared) undoes that earlier addition, which is still counted since the storage change it
//! came with was not rolled back; so it is a `uint64`, and a step that would take it below zero
//! is [`StepError::Unsupported`]. (revm counts refunds per frame, and a frame's own count does
//! go below zero when a callee sets again a slot its caller cleared; the trace adds it to the
//! transaction's count at the frame's start.)
//! After the block-end step the state is terminal: it is the **claim on the block**
//! ([`Claim`]), and hashes to
//! `keccak256(keccak256("fraud-vm block end") ‖ blockHash ‖ stateRoot ‖ blockHashesRoot ‖ cursor)`
//! ([`machine::end_hash`]), where `blockHashesRoot` is the block-hash window with the block's
//! own hash written at leaf `number mod 256` by the block-end step — exactly the window the next
//! block's `BLOCKHASH` reads — and `cursor` is carried from the block part. Everything the next
//! block starts from that is not L1 data is in the claim. Stepping the terminal state leaves it
//! unchanged ([`StepKind::Terminal`], proven by a [`Proof::Terminal`] showing the claim), so a
//! game can pad a block's trace to a power of two and still decide every leaf. The block's
//! start state is defined from its parent and its inputs ([`input`]).
//!
//! The next block's first state is
//! `keccak256(keccak256("fraud-vm block open") ‖ end_hash(claim))` ([`open::open_hash`]), and
//! its first step, the **open step** ([`open`], verified by [`verify_step_on`], which reads
//! L1), reads the Inbox's batch accumulator and starts the derivation program on the batch the
//! claim's cursor points at; while the program runs, a `STATICCALL` to the derivation oracle
//! is answered in one step ([`l1_oracle`]). When the program's frame ends, the **hand-off**
//! ([`handoff`]) reads its output: the block's execution start state (header attributes, the
//! input count and root, the cursor the block's claim will commit), or "no block here", which
//! reopens the claim at another cursor (a failed run has no hand-off step). So a block's whole trace runs from
//! the open state of the claim on its parent, through the program and the hand-off, to its own
//! claim; the derivation program itself (`contracts/src/derivation`) does not yet compute the
//! whole output (`docs/design.md`, *Derivation as an EVM program*).
//!
//! Commitments inside the frame:
//! * **stack**: a hash chain, `0` for the empty stack and `keccak256(below ‖ word)` after a push
//!   ([`machine::stack_hash`]). Popping shows the word and the hash below it.
//! * **memory**, **call data**, **return data**: [`crate::merkle`] trees of depth
//!   [`DATA_DEPTH`] over 32-byte words (zero-padded); memory grows in whole words and new words
//!   are zero, so growing memory never changes its root. Call data and return data are byte
//!   ranges (offset, length) of another tree — the caller's memory, the callee's memory, the
//!   transaction input, a precompile's output — so entering and leaving frames copies nothing
//!   but the output written back into the caller's memory.
//! * **code**: the chunk tree of [`crate::code`] (`codeChunkRoot`; the account's `codeRoot` is
//!   `keccak256(uint256(codeLen) ‖ codeChunkRoot)`).
//!
//! ## Steps
//!
//! A step of a running frame reads the opcode at `pc` (`STOP` past the end of the code), then:
//! 1. undefined opcode (including `INVALID`, 0xFE): exceptional halt;
//! 2. fewer than `pops` stack items: halt; more than 1024 after the step: halt;
//! 3. static gas ([`opcodes::info`]), then the family's dynamic gas (`EXP` bytes, memory
//!    expansion `3·w + w²/512` on the new size in words `w`): halt if short;
//! 4. the family's semantics (ruint two's-complement arithmetic, Yellow Paper definitions).
//!
//! An **exceptional halt** leaves the frame exactly as before the step except `status = 3`
//! and `gas = 0`. `STOP` sets `status = 1` with an empty output; `RETURN`/`REVERT` pop
//! `offset, len`, charge memory expansion, and set `status` 1/2, `outOffset` (0 when
//! `len = 0`) and `outLen`; the program counter stays on the halting opcode. The frame-exit
//! step ([`StepKind::FrameExit`], or [`StepKind::TxEnd`] for the transaction's frame) consumes
//! a frame whose status is not 0. Between transactions, a boundary whose `destructed` is not
//! zero takes [`StepKind::Destruct`] micro-steps (one deleted slot or account each) before the
//! next tx-init or the block end.
//!
//! Bulk work is split into micro-steps with `cursor`: copies move 32 bytes per step
//! ([`copy`]), hashing absorbs 136 bytes per step ([`keccak`]), code commitments are built 31
//! bytes per step ([`build`]); between micro-steps the opcode's arguments stay on the stack.
//!
//! ## Protocol limits: every step fits in one L1 transaction
//!
//! A step's witness is bounded by the opcode, not by the data it touches: bulk work is
//! micro-stepped (32 bytes per copy step, 136 per keccak step, 31 per code-build step), a
//! stack, memory, code or data read is one word with a path of at most [`DATA_DEPTH`]
//! siblings, a state read one SMT proof of at most 256 siblings. The one step that reads a
//! caller-sized input at once is a precompile call (or a transaction to a precompile); it is
//! bounded by [`crate::precompile`]: at most [`crate::precompile::MAX_INPUT`] bytes of input
//! (longer inputs fail the call unread) and at most [`crate::precompile::MAX_GAS`] gas for the
//! precompile itself, which an L1 verifier spends again in L1's own precompile. That call is
//! the worst-case opcode step: a 64 KiB word-range witness plus 10M gas of precompile work. A
//! derivation-oracle answer ([`l1_oracle`]) is one preimage of at most
//! [`l1_oracle::MAX_PREIMAGE`] (128 KiB: room for the Portal's largest deposit data), hashed
//! once and made the return data's word tree: the largest witness of any step.
//!
//! The number of steps of a block, which sets the depth of a game's second level: every step
//! but a frame's last (its halting opcode and its exit) costs gas — an opcode at least 1, a
//! copy or return-data micro-step at least 3 per word (the memory it writes was paid for), a
//! keccak micro-step 6 per word, a code-build micro-step at least 2 per 32 bytes (EIP-3860), an
//! access-list micro-step 1900, a destruct micro-step a slot set for 20000 — and every frame
//! costs at least 100, so a block with `gasUsed` gas and `n` transactions has at most
//! `2·gasUsed + 4·n + 2` steps (checked on every traced block by the tests). A block of the
//! 30M-gas limit therefore needs at most 2^26 leaves.
//!
//! A block's trace also holds its derivation run: the open step, the program's steps and the
//! hand-off. The program's steps follow the same argument with its gas budget (the protocol's
//! [`open::DERIVATION_GAS`], sized from the derivation rules' bounds), the copy steps of a derivation-oracle answer included (the oracle
//! charges 3 gas per word of its answer), so a run has at most `2·derivation_gas + 4` steps.
//! A block whose derivation first passes over batches that derive nothing holds one run per
//! such batch; their number per block is not bounded yet (an open design item for the game's
//! depth: e.g. a bound on the runs a block may take, or a game level over runs).
//!
//! Memory beyond `2^DATA_DEPTH` words is treated as out of gas: its expansion cost exceeds
//! `5·10^11` gas, so no transaction of a chain whose block gas limit is below that can reach it.
//!
//! ## Proofs
//!
//! A [`Proof`] carries the three pre-state parts and the witnesses the step reads, in the order
//! it reads them ([`Witness`]): each popped stack word with the hash below it, each code chunk
//! (the opcode's, the next one when a `PUSH` immediate crosses a chunk, a jump target's) with
//! its path, each memory word read or written (the old value) with its path, each call data
//! word with its path; bulk reads (a keccak block, a precompile's input) as one word range
//! with at most two siblings per level ([`Witness::Words`]); each state-tree or set read or write with its SMT proof, account and
//! code-root preimages, the last link of a hash chain ([`Witness::Link`]) where a step unrolls
//! one. [`verify_step`] checks `hash(parts) == preHash`, runs the step taking
//! witnesses from the proof ([`oracle::Checker`]), rejects missing, wrong or unused witnesses,
//! and returns the post-state hash. A [`Proof::Terminal`] (the [`Claim`]) proves the terminal
//! state's step: `verify_step` checks `end_hash(claim) == preHash` and returns `preHash`.
//!
//! Soundness, the property the tests attack: for a given `preHash`, every proof that
//! `verify_step` accepts yields the same post-state hash. Every field a step reads is a field
//! of the committed parts or a witness checked against a commitment those fields hold.
//!
//! ### Proof bytes
//!
//! What an L1 verifier receives ([`Proof::encode`], [`Proof::decode`] its exact inverse; the
//! decoder rejects truncation, trailing bytes, unknown tags and non-canonical values: a
//! `uint64`/`uint128`/address word with non-zero high bytes, a flag other than 0/1, an enum
//! word out of range). Integers are big-endian; `word` is 32 bytes; `list` is
//! `uint8 n ‖ n words`.
//!
//! ```text
//! proof    = 0x00 ‖ block (27 words) ‖ tx (22 words) ‖ frame (26 words) ‖ witness*
//!          | 0x01 ‖ blockHash ‖ stateRoot ‖ blockHashesRoot ‖ cursor   (terminal)
//!          | 0x02 ‖ claim (4 words) ‖ abi.encode(cursor) (6 words)
//!                 ‖ abi.encode(batchCommitment) (9 words)              (open)
//! witness  = 0  stack        ‖ word ‖ below
//!          | 1  code chunk   ‖ chunk ‖ list path
//!          | 2  memory word  ‖ word ‖ list path
//!          | 3  data word    ‖ word ‖ list path                 (call/return data, block hash,
//!                                                                the window leaf block-end replaces)
//!          | 4  state tree   ‖ uint16 len ‖ len bytes            (smt::Proof::encode)
//!          | 5  account      ‖ abi.encode(nonce, balance, codeHash, codeRoot)
//!          | 6  code root    ‖ uint64 len ‖ chunkRoot
//!          | 7  sponge       ‖ 200 state bytes (25 little-endian lanes)
//!          | 8  parent       ‖ frame (26 words) ‖ checkpoint (16 words)
//!          | 9  tx input     ‖ TxInput (17 words) ‖ list path
//!          | 10 extra data   ‖ uint8 len ‖ len bytes
//!          | 11 code builder ‖ 200 sponge bytes ‖ uint8 n ‖ n buffered bytes ‖ uint8 carry ‖ list frontier
//!          | 12 access entry ‖ 20-byte address ‖ uint8 hasSlot ‖ slot (zero without one)
//!          | 13 chain link   ‖ prev ‖ item
//!          | 14 word range   ‖ uint32 n ‖ n words ‖ list siblings
//!          | 15 preimage     ‖ uint32 n ‖ n bytes                (n ≤ l1_oracle::MAX_PREIMAGE)
//! ```
//! Witnesses run to the end of the bytes, in the order the step reads them.

#[cfg(feature = "evm")]
pub mod prover;
pub mod verifier;

#[cfg(feature = "evm")]
pub use self::prover::{trace, BlockRef, DerivationRun, Trace, TraceError};
pub use self::verifier::{
    build, call, copy, create, handoff, input, keccak, l1_oracle, machine, memory_cost, opcodes,
    open, oracle, proof, step, verify_step, verify_step_on, BlockPart, Checkpoint, Claim, Frame,
    FrameKind, HaltReason, Machine, Proof, Status, StepError, StepInfo, StepKind, StepProof,
    TxPart, Witness, BLOB_BASE_FEE, BLOCK_HASH_DEPTH, BLOCK_HASH_WINDOW, COLD_ACCOUNT_ACCESS,
    COLD_SLOAD, DATA_DEPTH, SET_MEMBER, STACK_LIMIT, WARM_ACCESS,
};
pub use crate::codec;
