//! The derivation program's entry (`contracts/src/derivation/DerivationProgram.sol`) run by the
//! step machine from the open state of a claim, against the node.
//!
//! A chain of real blocks is built by the node's `BlockBuilder` and batched as the batcher
//! does (batch 0: blocks 1–4 of 1, 1, 10 and 50 EIP-1559 transfers; batch 1: block 5, a legacy
//! and an EIP-2930 transfer with undecodable and wrongly signed transactions mixed into its
//! record, which derivation skips). For
//! each block `n`, the program runs from `open_hash(claim(n − 1))` (`Trace::for_derivation`)
//! and the hand-off step's post-state must be block `n`'s execution start as the node built it
//! (`Trace::for_block(..).state_hash(0)`): the program derives exactly the node's block. Batches
//! that `fraud_vm::batch`'s validity rule refuses (wrong parent, gap, overlap, undecodable, a
//! timestamp leading L1, a bad tail) reopen the claim at the next batch.
//!
//! A second chain ([`OriginChain`]) has blocks with L1 origins and deposits over an L1 header
//! chain built here: the program proves each origin by walking L1 headers, reads the L1-info
//! deposit's origin and the deposits through the oracle, and again hands off exactly the
//! node's blocks; a record naming an origin L1 does not hold ends its batch.
//!
//! On that chain, forced batches (`fraud_vm::batch`, *Forced inclusion*): one opened on a
//! cursor that has read fewer delayed messages than it forces hands off exactly the forced
//! block the node's replica derives (`forced_block`, then `derive_block`), also on a forced
//! block (forced batches in consecutive L1 blocks) and with `MAX_FORCED_DEPOSITS` deposits of
//! the largest gas limit (the forced gas limit's boundary); one whose deposits are in reopens
//! the claim at the next batch, and neither the forced block's deposits nor its timestamp can
//! be proven otherwise (altered oracle answers, outputs and commitments do not verify).
//!
//! `cargo nextest run -p fraud-vm --all-features -E 'binary(derivation_entry)' --no-capture`
//! prints the steps and the program's gas per derived block.

use alloy_consensus::{crypto::SECP256K1N_HALF, Header};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, Signature, B256, U256};
use alloy_sol_types::SolValue;
use common::{artifact_code, key, Unsigned, CHAIN_ID, ENTRY_ARTIFACT};
use fraud_vm::{
    batch::{
        decode_user_tx, deposit_target, derive_block, forced_block, AppendedIn, Batch, BatchBlock,
        BatchCommitment, BatchOrigin, Cursor, DerivedParent, InvalidBatch, FORCED_BLOCK_GAS_LIMIT,
        MAX_FORCED_DEPOSITS, MAX_TIMESTAMP_LEAD_SECS,
    },
    chain::{ChainGenesis, ChainSpec},
    code::ChunkedCode,
    deposit::{L1BlockInfo, L1_INFO_GAS_LIMIT, MAX_DEPOSIT_GAS_LIMIT},
    execute::{BlockAttributes, BlockBuilder, BuiltBlock, ExecutableTx},
    memory::MemoryState,
    message::DepositMessage,
    vm::{
        self,
        handoff::{Handoff, BLOCK, NO_BLOCK},
        machine::window_root,
        open::{open_hash, InboxAccs, OpenProof, Protocol, DERIVATION_GAS},
        Claim, DerivationRun, Machine, Proof, Status, StepKind, Trace, Witness,
    },
};
use op_alloy_consensus::OpTxEnvelope;

mod common;

/// Transfers per block: batch 0 is blocks 1–4 (EIP-1559 transfers), batch 1 is block 5 (a
/// legacy and an EIP-2930 transfer, with the invalid transactions mixed in).
const TRANSFERS: [usize; 5] = [1, 1, 10, 50, 2];
/// The last block of batch 0, and the block of batch 1.
const LAST: usize = 4;
const NEXT: usize = 5;
/// L2 timestamps: block n proposes `T0 + n`.
const T0: u64 = 1_700_000_000;
/// The L1 block that appends every batch here: after the L2 blocks' timestamps.
const L1_NUMBER: u64 = 500;
const L1_TIMESTAMP: u64 = T0 + 12;

/// The chain: genesis and blocks 1–5 as the sequencer built them, the state after each, and
/// how they were batched.
struct Chain {
    spec: ChainSpec,
    /// `blocks[n]` is block `n` (0 is genesis).
    blocks: Vec<BuiltBlock>,
    /// `states[n]` is the state after block `n` (with the hashes of blocks up to `n`).
    states: Vec<MemoryState>,
    /// The batch entries of blocks 1–5 (`entries[n - 1]`), block 5's with invalid
    /// transactions mixed in.
    entries: Vec<BatchBlock>,
    /// The program's code and the protocol fixing it.
    program: Bytes,
    protocol: Protocol,
}

/// One derivation run and its hand-off.
struct Derivation {
    /// Steps from the open state to the state after the hand-off (open + program + hand-off).
    steps: usize,
    /// The hand-off's post-state (None: a failed run, which has no hand-off step).
    post: Option<B256>,
    /// Gas the program used.
    gas: u64,
    /// How the program's frame ended.
    status: Status,
    out_len: u64,
    /// The hand-off step (None for a failed run).
    handoff: Option<HandoffStep>,
}

/// A run's hand-off step: its pre-state, its proof and the program's output it reads.
struct HandoffStep {
    pre: B256,
    proof: Proof,
    /// `abi.decode(output, (Handoff))`: the ten words the step reads from the program's memory.
    output: Handoff,
}

fn sender(i: usize) -> alloy::signers::local::PrivateKeySigner {
    key(i as u8 + 1)
}

fn genesis() -> ChainGenesis {
    let mut alloc = serde_json::Map::new();
    for i in 0..3 {
        alloc.insert(
            sender(i).address().to_string(),
            serde_json::json!({ "balance": "0xd3c21bcecceda1000000" }),
        );
    }
    let json = serde_json::json!({
        "config": { "chainId": CHAIN_ID },
        "gasLimit": "0x1c9c380",
        "baseFeePerGas": "0x3b9aca00",
        "timestamp": "0x0",
        "coinbase": "0x4200000000000000000000000000000000000011",
        "alloc": alloc,
    });
    ChainGenesis::from_json(&json.to_string()).expect("genesis")
}

/// The `k`-th transfer of the chain, of type `ty`, from one of three senders in turn.
fn transfer(spec: &ChainSpec, k: usize, ty: u8, nonces: &mut [u64; 3]) -> ExecutableTx {
    let from = k % 3;
    let to = Address::with_last_byte(0x10 + (k % 7) as u8);
    let nonce = nonces[from];
    nonces[from] += 1;
    let unsigned = match ty {
        2 => Unsigned::Eip1559(alloy_consensus::TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: 10_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: alloy_primitives::TxKind::Call(to),
            value: U256::from(1_000 + k),
            ..Default::default()
        }),
        0 => Unsigned::Legacy(alloy_consensus::TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: 3_000_000_000,
            gas_limit: 21_000,
            to: alloy_primitives::TxKind::Call(to),
            value: U256::from(2_000 + k),
            ..Default::default()
        }),
        _ => Unsigned::Eip2930(alloy_consensus::TxEip2930 {
            chain_id: CHAIN_ID,
            nonce,
            gas_price: 3_000_000_000,
            gas_limit: 30_000,
            to: alloy_primitives::TxKind::Call(to),
            value: U256::from(3_000 + k),
            access_list: alloy_eips::eip2930::AccessList(vec![
                alloy_eips::eip2930::AccessListItem {
                    address: to,
                    storage_keys: vec![B256::with_last_byte(1)],
                },
            ]),
            ..Default::default()
        }),
    };
    let key = sender(from);
    let sig = unsigned.sign(&key);
    let raw = unsigned.encode(sig);
    let tx = decode_user_tx(spec, &raw).expect("a valid transfer");
    assert_eq!(tx.sender, key.address());
    tx
}

/// Transactions derivation skips before execution (`decode_user_tx` refuses each), with what
/// is wrong with them.
fn invalid_transactions() -> Vec<(&'static str, Bytes)> {
    let unsigned = Unsigned::transfer(2, CHAIN_ID);
    let sig = unsigned.sign(&sender(0));
    let n = SECP256K1N_HALF * U256::from(2) + U256::from(1);
    let high_s = Signature::new(sig.r(), n - sig.s(), !sig.v());
    let deposit = OpTxEnvelope::from(op_alloy_consensus::TxDeposit {
        from: sender(0).address(),
        gas_limit: 21_000,
        ..Default::default()
    });
    vec![
        ("undecodable", Bytes::from_static(&[0x02, 0xc0])),
        (
            "another chain id",
            unsigned
                .with_chain_id(Some(CHAIN_ID + 1))
                .signed(&sender(0))
                .into(),
        ),
        ("high s", unsigned.encode(high_s).into()),
        (
            "legacy without a chain id",
            Unsigned::transfer(0, CHAIN_ID)
                .with_chain_id(None)
                .signed(&sender(0))
                .into(),
        ),
        ("a deposit", deposit.encoded_2718().into()),
        (
            "trailing byte",
            [unsigned.encode(sig).as_slice(), &[0]].concat().into(),
        ),
    ]
}

fn attributes(n: u64) -> BlockAttributes {
    BlockAttributes {
        timestamp: T0 + n,
        gas_limit: 30_000_000,
        prevrandao: B256::with_last_byte(n as u8),
        extra_data: Bytes::from(format!("block {n}").into_bytes()),
    }
}

impl Chain {
    /// Genesis alone, with the protocol's derivation program.
    fn at_genesis() -> Self {
        let genesis = genesis();
        let spec = genesis.spec.clone();
        let block0 = genesis.build().expect("block 0");
        let mut state = MemoryState::new();
        state.apply(&block0);
        let program = artifact_code(ENTRY_ARTIFACT);
        let protocol = Protocol {
            chain_id: CHAIN_ID,
            coinbase: spec.fee_recipient,
            program_len: program.len() as u64,
            program_chunk_root: ChunkedCode::new(&program).chunk_root(),
            derivation_gas: DERIVATION_GAS,
        };
        Self {
            spec,
            blocks: vec![block0],
            states: vec![state],
            entries: Vec::new(),
            program,
            protocol,
        }
    }

    /// A builder of a block with `attributes` on block `parent`.
    fn builder_on(
        &self,
        parent: usize,
        attributes: BlockAttributes,
    ) -> BlockBuilder<'_, MemoryState> {
        let head = &self.blocks[parent];
        BlockBuilder::new(
            &self.spec,
            &self.states[parent],
            &head.header,
            head.hash,
            attributes,
        )
    }

    /// This chain through block `n` (the blocks after it dropped).
    fn through(&self, n: usize) -> Self {
        Self {
            spec: self.spec.clone(),
            blocks: self.blocks[..=n].to_vec(),
            states: self.states[..=n].to_vec(),
            entries: self.entries[..n].to_vec(),
            program: self.program.clone(),
            protocol: self.protocol,
        }
    }

    /// A builder of the next block `n` with [`attributes`]`(n)`.
    fn builder(&self) -> BlockBuilder<'_, MemoryState> {
        let parent = self.blocks.len() - 1;
        self.builder_on(parent, attributes(parent as u64 + 1))
    }

    /// Appends `block`, batched as `entry`.
    fn push(&mut self, block: BuiltBlock, entry: BatchBlock) {
        let mut state = self.states.last().expect("genesis state").clone();
        state.apply(&block);
        self.blocks.push(block);
        self.states.push(state);
        self.entries.push(entry);
    }

    fn build() -> Self {
        let mut chain = Self::at_genesis();
        let mut nonces = [0u64; 3];
        let mut k = 0;
        for (i, count) in TRANSFERS.into_iter().enumerate() {
            let n = i as u64 + 1;
            let mut builder = chain.builder();
            for j in 0..count {
                let ty = if n == NEXT as u64 { j as u8 } else { 2 };
                builder
                    .execute(transfer(&chain.spec, k, ty, &mut nonces))
                    .expect("transfer included");
                k += 1;
            }
            let block = builder.finish().expect("finish");
            let mut entry = BatchBlock::from_block(&block.header, &block.transactions, None, 0);
            if n == NEXT as u64 {
                // The invalid transactions before and after the valid ones.
                let invalid: Vec<Bytes> =
                    invalid_transactions().into_iter().map(|(_, b)| b).collect();
                let valid = entry.transactions.clone();
                entry.transactions = [&invalid[..3], &valid[..], &invalid[3..]].concat();
            }
            chain.push(block, entry);
        }
        chain
    }

    /// The batch of blocks `first..=last` as the batcher posts it.
    fn batch(&self, first: u64, last: u64) -> Batch {
        Batch {
            first_block: first,
            parent_hash: self.blocks[first as usize - 1].hash,
            blocks: self.entries[first as usize - 1..last as usize].to_vec(),
        }
    }

    /// The claim on block `n` with cursor `cursor`.
    fn claim(&self, n: usize, cursor: &Cursor) -> Claim {
        Claim {
            block_hash: self.blocks[n].hash,
            state_root: self.blocks[n].header.state_root,
            block_hashes_root: window_root((0..=n).map(|i| (i as u64, self.blocks[i].hash))),
            cursor: cursor.hash(),
        }
    }

    /// Runs the program from the open state of the claim on block `parent` (with `cursor`) on
    /// the Inbox holding `batches` (each appended in L1 block [`L1_NUMBER`], no delayed
    /// message), and proves and verifies the hand-off; with `every_step`, also verifies every
    /// step of the run.
    fn derive(
        &self,
        parent: usize,
        cursor: &Cursor,
        batches: &[Vec<u8>],
        every_step: bool,
    ) -> Derivation {
        self.derive_on(parent, cursor, &L1View::appending(batches), every_step)
    }

    /// [`Chain::derive`] on the L1 `l1`.
    fn derive_on(
        &self,
        parent: usize,
        cursor: &Cursor,
        l1: &L1View,
        every_step: bool,
    ) -> Derivation {
        conclude(
            &self.trace_on(parent, cursor, l1),
            &self.protocol,
            &l1.inbox(),
            every_step,
        )
    }

    /// The trace of [`Chain::derive_on`]'s run (not yet concluded).
    fn trace_on(&self, parent: usize, cursor: &Cursor, l1: &L1View) -> Trace<'_, MemoryState> {
        derivation_trace(
            &self.states[parent],
            &self.spec,
            &self.protocol,
            &self.program,
            (&self.claim(parent, cursor), &self.blocks[parent].header),
            cursor,
            l1,
        )
    }

    /// Block `n`'s execution start as the node built it, its claim committing `cursor`, and
    /// the number of its execution steps.
    fn execution_start(&self, n: usize, cursor: &Cursor) -> (B256, usize) {
        let trace = Trace::for_block(
            &self.states[n - 1],
            &self.spec,
            &self.blocks[n - 1].header,
            &self.blocks[n],
            cursor.hash(),
        )
        .expect("block trace");
        (trace.state_hash(0), trace.len())
    }

    /// What the node's replica derives from `entry` on block `parent` (no L1 origin): the
    /// block's hash and the skipped transactions.
    fn replica(&self, parent: usize, entry: &BatchBlock) -> (B256, usize) {
        let mut builder = self.builder_on(parent, entry.attributes());
        let derived = derive_block(
            &self.spec,
            &mut builder,
            entry,
            None,
            0,
            entry.delayed_read,
            &[],
        )
        .expect("derive");
        assert_eq!(
            derived.delayed_read, 0,
            "no origin: no delayed message read"
        );
        let block = builder.finish().expect("finish");
        (block.hash, derived.skipped.len())
    }
}

/// What L1 holds for a derivation run: the Inbox's batches (their data and commitments), its
/// delayed-message accumulators, and the preimages an honest prover answers with besides the
/// run's own (L1 headers, delayed messages and their data).
#[derive(Clone, Default)]
struct L1View {
    data: Vec<Vec<u8>>,
    commitments: Vec<BatchCommitment>,
    delayed: Vec<B256>,
    preimages: Vec<Bytes>,
}

impl L1View {
    /// The Inbox holding `batches`, each appended in L1 block [`L1_NUMBER`], no delayed
    /// message.
    fn appending(batches: &[Vec<u8>]) -> Self {
        let appended = Header {
            number: L1_NUMBER,
            timestamp: L1_TIMESTAMP,
            parent_hash: B256::repeat_byte(0x1f),
            ..Default::default()
        };
        let mut l1 = Self::default();
        for data in batches {
            l1.append(data.clone(), 0, &appended);
        }
        l1
    }

    /// Appends a sequencer batch with `data` and `afterDelayedMessagesRead = after`, in the L1
    /// block `l1` (its number, timestamp and parent hash).
    fn append(&mut self, data: Vec<u8>, after: u64, l1: &Header) {
        self.append_batch(data, after, l1, false);
    }

    /// Appends a forced batch (no data) with `afterDelayedMessagesRead = after` in `l1`.
    fn force(&mut self, after: u64, l1: &Header) {
        self.append_batch(Vec::new(), after, l1, true);
    }

    /// Appends a batch as the Inbox does.
    fn append_batch(&mut self, data: Vec<u8>, after: u64, l1: &Header, forced: bool) {
        if self.delayed.is_empty() {
            self.delayed.push(B256::ZERO);
        }
        let prev = self
            .commitments
            .last()
            .map_or(B256::ZERO, |c| c.accumulate());
        let delayed_acc = self.delayed[after as usize];
        let c = BatchCommitment::new(prev, &data, after, delayed_acc, l1, forced);
        self.preimages.push(Bytes::from(c.abi_encode()));
        self.commitments.push(c);
        self.data.push(data);
    }

    /// Queues `message` (the next index) with its preimages.
    fn enqueue(&mut self, message: &DepositMessage) {
        if self.delayed.is_empty() {
            self.delayed.push(B256::ZERO);
        }
        let prev = self.delayed[self.delayed.len() - 1];
        assert_eq!(message.index as usize, self.delayed.len() - 1);
        let hash = message.hash();
        self.delayed.push(DepositMessage::accumulate(prev, hash));
        self.preimages.extend([
            Bytes::from([prev.as_slice(), hash.as_slice()].concat()),
            Bytes::from(message.hash_preimage()),
            message.data.clone(),
        ]);
    }

    fn inbox(&self) -> InboxAccs {
        let mut batch = vec![B256::ZERO];
        batch.extend(self.commitments.iter().map(BatchCommitment::accumulate));
        let delayed = if self.delayed.is_empty() {
            vec![B256::ZERO]
        } else {
            self.delayed.clone()
        };
        InboxAccs { batch, delayed }
    }
}

/// The step machine's trace of the program run from the open state of `claim` (on the block
/// with header `parent`, whose post-state is `state`) with `cursor` on the L1 `l1`.
fn derivation_trace<'s>(
    state: &'s MemoryState,
    spec: &ChainSpec,
    protocol: &Protocol,
    program: &Bytes,
    (claim, parent): (&Claim, &Header),
    cursor: &Cursor,
    l1: &L1View,
) -> Trace<'s, MemoryState> {
    let index = cursor.batchIndex as usize;
    let mut preimages = vec![
        Bytes::from(cursor.abi_encode()),
        Bytes::from(alloy_rlp::encode(parent)),
    ];
    preimages.extend(l1.preimages.iter().cloned());
    let run = DerivationRun {
        open: OpenProof {
            claim: claim.clone(),
            cursor: cursor.clone(),
            commitment: l1.commitments[index].clone(),
        },
        data: &l1.data[index],
        program,
        preimages,
        inbox: l1.inbox(),
    };
    Trace::for_derivation(state, spec, protocol, run).expect("derivation trace")
}

/// Proves and verifies the hand-off of the derivation run `trace` (on the Inbox `inbox`); with
/// `every_step`, also verifies every step of the run.
fn conclude(
    trace: &Trace<'_, MemoryState>,
    protocol: &Protocol,
    inbox: &InboxAccs,
    every_step: bool,
) -> Derivation {
    if every_step {
        // Two threads, each every other step; the largest proof of each kind.
        let sizes = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..2)
                .map(|first| {
                    scope.spawn(move || {
                        let mut sizes = std::collections::BTreeMap::<&str, (usize, usize)>::new();
                        for i in (first..trace.len()).step_by(2) {
                            let (proof, info) = trace.prove_step(i).expect("prove");
                            let post =
                                vm::verify_step_on(trace.state_hash(i), &proof, protocol, inbox)
                                    .unwrap_or_else(|e| panic!("step {i} ({info:?}): {e}"));
                            assert_eq!(post.0, trace.state_hash(i + 1), "step {i} ({info:?})");
                            let kind = match info.kind {
                                StepKind::Open => "open",
                                StepKind::Opcode(0xfa) => "STATICCALL (oracle, ecrecover)",
                                _ => "other steps",
                            };
                            let e = sizes.entry(kind).or_default();
                            e.0 += 1;
                            e.1 = e.1.max(proof.encode().len());
                        }
                        sizes
                    })
                })
                .collect();
            let mut sizes = std::collections::BTreeMap::<&str, (usize, usize)>::new();
            for thread in threads {
                for (kind, (count, max)) in thread.join().expect("a verifier thread") {
                    let e = sizes.entry(kind).or_default();
                    e.0 += count;
                    e.1 = e.1.max(max);
                }
            }
            sizes
        });
        for (kind, (count, max)) in sizes {
            eprintln!("    {kind}: {count} steps, largest proof {max} bytes");
        }
    }
    let at = trace.len();
    let ended = trace.machine(at).frame;
    assert_eq!(ended.depth, 0, "the program's own frame ended");
    let (post, handoff) = match trace.prove_step(at) {
        Ok((proof, info)) => {
            assert_eq!(info.kind, StepKind::Handoff);
            assert_eq!(Proof::decode(&proof.encode()), Ok(proof.clone()));
            let pre = trace.state_hash(at);
            let (post, _) =
                vm::verify_step_on(pre, &proof, protocol, inbox).expect("the hand-off verifies");
            let output = handoff_output(&proof);
            if every_step {
                eprintln!("    hand-off: proof {} bytes", proof.encode().len());
            }
            (Some(post), Some(HandoffStep { pre, proof, output }))
        }
        Err(vm::StepError::Unsupported(_)) => (None, None),
        Err(e) => panic!("the hand-off: {e}"),
    };
    Derivation {
        steps: at + 1,
        post,
        gas: protocol.derivation_gas - ended.gas,
        status: ended.status,
        out_len: ended.out_len,
        handoff,
    }
}

/// The program's output a hand-off step reads: the 320 bytes at the ended frame's output
/// offset in its word-range witness (after the parent witness).
fn handoff_output(proof: &Proof) -> Handoff {
    let (words, from) = output_words(proof);
    let bytes: Vec<u8> = words
        .iter()
        .flat_map(|w| w.0)
        .skip(from)
        .take(320)
        .collect();
    Handoff::abi_decode(&bytes).expect("abi.encode(Handoff)")
}

/// The hand-off step's word-range witness and the output's offset in its first word.
fn output_words(proof: &Proof) -> (&Vec<B256>, usize) {
    let Proof::Step(step) = proof else {
        panic!("the hand-off is a step proof");
    };
    let words = step
        .witnesses
        .iter()
        .find_map(|w| match w {
            Witness::Words { words, .. } => Some(words),
            _ => None,
        })
        .expect("the hand-off reads the program's output");
    (words, (step.frame.out_offset % 32) as usize)
}

/// The hand-off proof `proof` with the program's output replaced by `output` in its
/// word-range witness (the memory path unchanged).
fn with_output(proof: &Proof, output: &Handoff) -> Proof {
    let (words, from) = output_words(proof);
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.0).collect();
    bytes[from..from + 320].copy_from_slice(&output.abi_encode());
    let forged: Vec<B256> = bytes.chunks(32).map(B256::from_slice).collect();
    let Proof::Step(step) = proof else {
        unreachable!()
    };
    let mut step = step.clone();
    for w in &mut step.witnesses {
        if let Witness::Words { words, .. } = w {
            *words = forged;
            break;
        }
    }
    Proof::Step(step)
}

/// The hand-off that starts the block of the execution start state `start` (kind
/// [`BLOCK`]): the fields of its block part the program's output sets.
fn handoff_of(start: &Machine) -> Handoff {
    let b = &start.block;
    Handoff {
        kind: U256::from(BLOCK),
        cursor: b.cursor,
        number: U256::from(b.number),
        timestamp: U256::from(b.timestamp),
        gasLimit: U256::from(b.gas_limit),
        baseFee: U256::from(b.base_fee),
        prevrandao: b.prevrandao,
        extraDataHash: b.extra_data_hash,
        inputCount: U256::from(b.tx_count),
        inputsRoot: b.inputs_root,
    }
}

/// The fields in which two hand-offs differ.
fn differing(a: &Handoff, b: &Handoff) -> Vec<&'static str> {
    const FIELDS: [&str; 10] = [
        "kind",
        "cursor",
        "number",
        "timestamp",
        "gasLimit",
        "baseFee",
        "prevrandao",
        "extraDataHash",
        "inputCount",
        "inputsRoot",
    ];
    let (a, b) = (a.abi_encode(), b.abi_encode());
    FIELDS
        .iter()
        .zip(a.chunks(32).zip(b.chunks(32)))
        .filter(|(_, (x, y))| x != y)
        .map(|(name, _)| *name)
        .collect()
}

/// Runs the program from the claim on `chain`'s block `parent` with cursor `from` on `l1` and
/// asserts it hands off no block: the claim reopens at `next` (the next batch's start).
#[track_caller]
fn assert_no_block(
    chain: &Chain,
    parent: usize,
    (from, next): (&Cursor, &Cursor),
    l1: &L1View,
    what: &str,
) {
    let run = chain.derive_on(parent, from, l1, false);
    assert_eq!(run.status, Status::Returned, "{what}");
    assert_eq!(
        run.handoff.as_ref().expect("a hand-off").output,
        Handoff {
            kind: U256::from(NO_BLOCK),
            cursor: next.hash(),
            ..Default::default()
        },
        "{what}: no block, the next batch"
    );
    let reopened = open_hash(&Claim {
        cursor: next.hash(),
        ..chain.claim(parent, from)
    });
    assert_eq!(run.post, Some(reopened), "{what}: the claim reopens");
    eprintln!("{what}: no block after {} derivation steps", run.steps);
}

/// Asserts `run` returned a hand-off equal field by field to the node's `node`, whose
/// post-state is the node's block start `start`.
#[track_caller]
fn assert_hands_off(run: &Derivation, node: &Handoff, start: B256, what: &str) {
    assert_eq!(run.status, Status::Returned, "{what}");
    let program = &run.handoff.as_ref().expect("a hand-off").output;
    assert_eq!(
        differing(program, node),
        Vec::<&str>::new(),
        "{what}: the program's hand-off {program:?}, the node's {node:?}"
    );
    assert_eq!(
        run.post,
        Some(start),
        "{what}: the hand-off starts the node's block"
    );
}

/// The cursor after block `i` (0-based) of `batch`, read from Inbox batch `index`, no origin.
fn cursor_after(index: u64, batch: &Batch, i: usize) -> Cursor {
    Cursor::after(index, batch.next_position(i), 0, None)
}

/// Every block of a four-block batch and the first block of the next: the program, run by
/// the step machine from the claim on the previous block, hands off exactly the node's block.
#[test]
fn the_program_derives_each_block_as_the_node_built_it() {
    let chain = Chain::build();
    let batches = [
        chain.batch(1, LAST as u64),
        chain.batch(NEXT as u64, NEXT as u64),
    ];
    let data: Vec<Vec<u8>> = batches.iter().map(Batch::encode).collect();
    // The node's replica skips the invalid transactions and builds the sequencer's blocks.
    for (n, entry) in chain.entries.iter().enumerate() {
        let (hash, skipped) = chain.replica(n, entry);
        assert_eq!(
            hash,
            chain.blocks[n + 1].hash,
            "the replica's block {}",
            n + 1
        );
        assert_eq!(skipped, if n + 1 == NEXT { 6 } else { 0 });
    }
    for (what, raw) in invalid_transactions() {
        assert!(decode_user_tx(&chain.spec, &raw).is_err(), "{what}");
    }

    // The cursor after each block: genesis', then blocks 1-4 of batch 0 and block 5 of batch 1.
    let mut cursors = vec![Cursor::default()];
    cursors.extend((0..LAST).map(|i| cursor_after(0, &batches[0], i)));
    cursors.push(cursor_after(1, &batches[1], 0));
    assert_eq!(cursors[1].batchIndex, 0);
    assert_eq!(
        cursors[1].position as usize,
        fraud_vm::batch::BATCH_HEADER_LEN + chain.entries[0].encoded_len()
    );
    assert_eq!((cursors[LAST].batchIndex, cursors[LAST].position), (1, 0));
    assert_eq!((cursors[NEXT].batchIndex, cursors[NEXT].position), (2, 0));
    let runs: Vec<_> = cursors.windows(2).map(|w| (&w[0], &w[1])).collect();
    eprintln!("derived blocks (derivation steps = open + program + hand-off):");
    for (i, (from, to)) in runs.into_iter().enumerate() {
        let n = i + 1;
        // Every step of block 5's run (it opens batch 1, and its record holds the invalid
        // transactions) verifies; the others' hand-offs.
        let every_step = n == NEXT;
        let run = chain.derive(i, from, &data, every_step);
        assert_eq!(run.status, Status::Returned, "block {n}");
        assert_eq!(run.out_len, 320, "block {n}: abi.encode(Handoff)");
        let (start, execution_steps) = chain.execution_start(n, to);
        assert_eq!(
            run.post,
            Some(start),
            "block {n}: the hand-off starts the node's block"
        );
        eprintln!(
            "  block {n}: {:>2} transfers ({} in the record), {:>6} derivation steps{}, program gas {:>9}; {:>5} execution steps",
            TRANSFERS[i],
            chain.entries[i].transactions.len(),
            run.steps,
            if every_step { " (each verified)" } else { "" },
            run.gas,
            execution_steps,
        );
    }
}

/// A block whose inputs differ from what the batch holds cannot be proven from the L1
/// commitments: for block 3 (ten transfers) a liar's block with one transaction added, one
/// removed, two reordered, one altered (same sender and nonce, another value) or another
/// timestamp has another execution start than the run's hand-off, and the hand-off step with
/// the liar's output in place of the program's (every other witness as the honest proof's) does
/// not verify. The run itself is deterministic from the open state and each step is sound, so
/// the honest start is the only one a verified trace reaches.
#[test]
fn a_block_whose_inputs_differ_from_the_batch_cannot_be_proven() {
    const N: usize = 3;
    let chain = Chain::build();
    let batches = [
        chain.batch(1, LAST as u64),
        chain.batch(NEXT as u64, NEXT as u64),
    ];
    let data: Vec<Vec<u8>> = batches.iter().map(Batch::encode).collect();
    let from = cursor_after(0, &batches[0], N - 2);
    let to = cursor_after(0, &batches[0], N - 1);
    let l1 = L1View::appending(&data);
    let run = chain.derive_on(N - 1, &from, &l1, false);
    let (honest, _) = chain.execution_start(N, &to);
    assert_eq!(run.post, Some(honest), "the honest hand-off");
    let handoff = run.handoff.as_ref().expect("a hand-off");

    let block = &chain.blocks[N];
    let txs: Vec<ExecutableTx> = block
        .transactions
        .iter()
        .zip(&block.senders)
        .map(|(tx, sender)| ExecutableTx {
            tx: tx.clone(),
            sender: *sender,
        })
        .collect();
    assert_eq!(txs.len(), TRANSFERS[N - 1]);
    // Transfers 0..12 went out in blocks 1-3, four from each sender. The extra one is the
    // 13th; the altered one is the last (transfer 11, sender 2's fourth: nonce 3), re-signed
    // with another value to the same recipient.
    let added = transfer(&chain.spec, 12, 2, &mut [4, 4, 4]);
    let altered = transfer(&chain.spec, 11 + 21, 2, &mut [0, 0, 3]);
    assert_eq!(altered.sender, txs[txs.len() - 1].sender);
    let mut reordered = txs.clone();
    reordered.swap(0, 1);
    assert_ne!(reordered[0].sender, reordered[1].sender);
    let later = BlockAttributes {
        timestamp: attributes(N as u64).timestamp + 1,
        ..attributes(N as u64)
    };
    let variants: [(&str, BlockAttributes, Vec<ExecutableTx>, Vec<&str>); 5] = [
        (
            "a transaction added",
            attributes(N as u64),
            [&txs[..], &[added]].concat(),
            vec!["inputCount", "inputsRoot"],
        ),
        (
            "a transaction removed",
            attributes(N as u64),
            txs[..txs.len() - 1].to_vec(),
            vec!["inputCount", "inputsRoot"],
        ),
        (
            "two transactions reordered",
            attributes(N as u64),
            reordered,
            vec!["inputsRoot"],
        ),
        (
            "a transaction altered",
            attributes(N as u64),
            [&txs[..txs.len() - 1], &[altered]].concat(),
            vec!["inputsRoot"],
        ),
        ("another timestamp", later, txs.clone(), vec!["timestamp"]),
    ];
    for (what, attributes, list, fields) in variants {
        let mut builder = chain.builder_on(N - 1, attributes);
        let count = list.len();
        for tx in list {
            builder.execute(tx).expect("the liar's block executes");
        }
        let liar = builder.finish().expect("finish");
        assert_eq!(
            liar.transactions.len(),
            count,
            "{what}: every transaction in"
        );
        let trace = Trace::for_block(
            &chain.states[N - 1],
            &chain.spec,
            &chain.blocks[N - 1].header,
            &liar,
            to.hash(),
        )
        .expect("trace");
        let start = trace.state_hash(0);
        assert_ne!(start, honest, "{what}: another block");
        let forged = handoff_of(&trace.machine(0));
        assert_eq!(differing(&forged, &handoff.output), fields, "{what}");
        let tampered = with_output(&handoff.proof, &forged);
        assert!(
            vm::verify_step_on(handoff.pre, &tampered, &chain.protocol, &l1.inbox()).is_err(),
            "{what}: the hand-off with the liar's output verifies"
        );
    }
}

/// A batch `fraud_vm::batch`'s rule refuses derives nothing: the hand-off reopens the claim at
/// the next batch, keeping the cursor's delayed count and origin. Each case is opened from the
/// claim on block 4 (the cursor at batch 1, position 0), with batch 1 holding the bad batch.
#[test]
fn invalid_batches_open_the_next_batch() {
    let chain = Chain::build();
    let batch0 = chain.batch(1, LAST as u64).encode();
    let head = LAST;
    let at_batch1 = cursor_after(0, &chain.batch(1, LAST as u64), LAST - 1);
    let claim3 = chain.claim(head, &at_batch1);
    let next_batch = Cursor {
        batchIndex: 2,
        position: 0,
        ..at_batch1.clone()
    };
    let reopened = open_hash(&Claim {
        cursor: next_batch.hash(),
        ..claim3
    });
    let parent = DerivedParent::of(&chain.blocks[head].header, None);
    let appended = AppendedIn {
        number: L1_NUMBER,
        timestamp: L1_TIMESTAMP,
    };
    let head_hash = chain.blocks[head].hash;
    let good = chain.batch(NEXT as u64, NEXT as u64);

    let mut cases: Vec<(&str, Vec<u8>, String)> = Vec::new();
    let refused = |b: &Batch| match b.continues(head as u64, head_hash) {
        Err(e) => format!("{e:?}"),
        Ok(_) => panic!("the rule accepts {b:?}"),
    };
    let wrong_parent = Batch {
        parent_hash: B256::repeat_byte(0xba),
        ..good.clone()
    };
    cases.push((
        "wrong parent hash",
        wrong_parent.encode(),
        refused(&wrong_parent),
    ));
    let gap = Batch {
        first_block: NEXT as u64 + 1,
        ..good.clone()
    };
    cases.push(("gap", gap.encode(), refused(&gap)));
    // Batch 0 again: blocks 1-4 are derived already.
    let overlap = chain.batch(1, LAST as u64);
    cases.push(("overlap", overlap.encode(), refused(&overlap)));
    for (what, bytes) in [
        ("version 1", {
            let mut b = good.encode();
            b[0] = 1;
            b
        }),
        ("a trailing byte", [good.encode(), vec![0]].concat()),
        ("truncated", good.encode()[..60].to_vec()),
        ("empty (a forced batch)", Vec::new()),
    ] {
        let why = Batch::decode(&bytes).expect_err("undecodable");
        cases.push((what, bytes, format!("{why:?}")));
    }
    let mut leading = good.clone();
    leading.blocks[0].timestamp = L1_TIMESTAMP + MAX_TIMESTAMP_LEAD_SECS + 1;
    let why = leading.blocks[0]
        .check(&parent, &appended)
        .expect_err("leads L1");
    assert!(matches!(why, InvalidBatch::TimestampLead { .. }));
    cases.push((
        "timestamp leading L1 by 3601 s",
        leading.encode(),
        format!("{why:?}"),
    ));

    for (what, bytes, why) in &cases {
        let run = chain.derive(head, &at_batch1, &[batch0.clone(), bytes.clone()], false);
        assert_eq!(run.status, Status::Returned, "{what}");
        assert_eq!(run.post, Some(reopened), "{what}: no block, the next batch");
        eprintln!(
            "  {what}: the rule says {why}; reopened at batch 2 after {} steps",
            run.steps
        );
    }
}

/// A batch whose first record derives and whose second breaks a rule: block 5 is derived (the
/// cursor after it at the second record), then the tail derives nothing and the claim on
/// block 5 reopens at the next batch. Every step of the tail's run verifies.
#[test]
fn a_bad_tail_ends_the_batch_after_its_good_blocks() {
    let chain = Chain::build();
    let batch0 = chain.batch(1, LAST as u64).encode();
    let at_batch1 = cursor_after(0, &chain.batch(1, LAST as u64), LAST - 1);
    let mut tail = chain.batch(NEXT as u64, NEXT as u64);
    let mut bad = tail.blocks[0].clone();
    bad.timestamp = L1_TIMESTAMP + MAX_TIMESTAMP_LEAD_SECS + 1;
    bad.transactions.clear();
    tail.blocks.push(bad);
    let data = [batch0, tail.encode()];

    let c5 = cursor_after(1, &tail, 0);
    assert_eq!((c5.batchIndex, c5.position), (1, tail.next_position(0)));
    let run = chain.derive(LAST, &at_batch1, &data, false);
    assert_eq!(
        run.post,
        Some(chain.execution_start(NEXT, &c5).0),
        "block 5 derives"
    );

    // The rule refuses the second record on block 5.
    let parent = DerivedParent::of(&chain.blocks[NEXT].header, None);
    let appended = AppendedIn {
        number: L1_NUMBER,
        timestamp: L1_TIMESTAMP,
    };
    assert!(matches!(
        tail.blocks[1].check(&parent, &appended),
        Err(InvalidBatch::TimestampLead { .. })
    ));
    let run = chain.derive(NEXT, &c5, &data, true);
    let reopened = open_hash(&Claim {
        cursor: Cursor {
            batchIndex: 2,
            position: 0,
            ..c5.clone()
        }
        .hash(),
        ..chain.claim(NEXT, &c5)
    });
    assert_eq!(run.post, Some(reopened), "the tail derives nothing");
    eprintln!("a bad tail: {} derivation steps (each verified)", run.steps);
}

/// Without an origin a record reads no delayed message, whatever its `delayedRead` says
/// (`derive_block` with no origin keeps the parent's count): the program derives the node's
/// block and keeps the cursor's count.
#[test]
fn a_record_without_an_origin_reads_no_delayed_message() {
    let chain = Chain::build();
    let batch0 = chain.batch(1, LAST as u64).encode();
    let at_batch1 = cursor_after(0, &chain.batch(1, LAST as u64), LAST - 1);

    let mut claims_more = chain.batch(NEXT as u64, NEXT as u64);
    claims_more.blocks[0].delayed_read = 7;
    assert_eq!(
        chain.replica(LAST, &claims_more.blocks[0]).0,
        chain.blocks[NEXT].hash,
        "the node ignores the count without an origin"
    );
    let run = chain.derive(LAST, &at_batch1, &[batch0, claims_more.encode()], false);
    let c5 = cursor_after(1, &claims_more, 0);
    assert_eq!(c5.delayedRead, 0);
    assert_eq!(run.post, Some(chain.execution_start(NEXT, &c5).0));
}

mod harness {
    alloy_sol_types::sol! {
        function decodeHeader(bytes header) external;
        function decodeHeaderInMemory(bytes header) external;
    }
}

/// The program reads the parent header from an oracle answer, in memory
/// (`Header.decodeMemory`); the differential tests of `derivation_inputs.rs` check the calldata
/// path against alloy. Both paths are one decoder over an `Rlp` reader of either place: on the
/// chain's headers, a header with every optional field, and each of them mutated at every byte,
/// truncated at every length and extended, the two return the same bytes or revert with the
/// same error, and accept exactly what alloy accepts.
#[test]
fn the_header_decodes_the_same_in_memory_as_in_calldata() {
    use alloy_sol_types::SolCall;
    let chain = Chain::build();
    let mut headers: Vec<Vec<u8>> = chain
        .blocks
        .iter()
        .map(|b| alloy_rlp::encode(&b.header))
        .collect();
    let full = Header {
        number: 1 << 40,
        extra_data: Bytes::from(vec![0xab; 57]),
        base_fee_per_gas: Some(7),
        withdrawals_root: Some(B256::repeat_byte(1)),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(1 << 20),
        parent_beacon_block_root: Some(B256::repeat_byte(2)),
        requests_hash: Some(B256::repeat_byte(3)),
        ..chain.blocks[1].header.clone()
    };
    headers.push(alloy_rlp::encode(&full));
    let mut cases: Vec<Vec<u8>> = Vec::new();
    for h in &headers {
        cases.push(h.clone());
        cases.push([h.as_slice(), &[0x80]].concat());
        for len in 0..h.len() {
            cases.push(h[..len].to_vec());
        }
        for i in 0..h.len() {
            for value in [h[i] ^ 1, 0x80, 0xb9, 0xf9] {
                let mut m = h.clone();
                m[i] = value;
                cases.push(m);
            }
        }
    }
    let mut program = common::Program::new();
    let (mut accepted, mut refused) = (0, 0);
    for raw in &cases {
        let header = Bytes::copy_from_slice(raw);
        let calldata = program.run(
            harness::decodeHeaderCall {
                header: header.clone(),
            }
            .abi_encode(),
        );
        let memory = program.run(harness::decodeHeaderInMemoryCall { header }.abi_encode());
        let what = || format!("0x{}", alloy_primitives::hex::encode(raw));
        assert_eq!(
            (calldata.describe(), &calldata.output),
            (memory.describe(), &memory.output),
            "{}",
            what()
        );
        let alloy = alloy_rlp::decode_exact::<Header>(raw.as_slice());
        match (&calldata.ended, alloy) {
            (common::Ended::Returned, Ok(h)) => {
                accepted += 1;
                // `Fields.hash` and `Fields.number` are the first and tenth words.
                assert_eq!(
                    &calldata.output[..32],
                    h.hash_slow().as_slice(),
                    "{}",
                    what()
                );
                assert_eq!(
                    U256::from_be_slice(&calldata.output[9 * 32..10 * 32]),
                    U256::from(h.number)
                );
            }
            (common::Ended::Reverted, Err(_)) => refused += 1,
            (ended, alloy) => panic!("{}: program {ended:?}, alloy {alloy:?}", what()),
        }
    }
    eprintln!(
        "headers in memory and in calldata: {} cases, {accepted} accepted, {refused} refused, the same outcome each",
        cases.len()
    );
    // At least every header as it is accepted, and every cut and extended one refused.
    let cut_or_extended: usize = headers.iter().map(|h| h.len() + 1).sum();
    assert!(accepted >= headers.len(), "{accepted} accepted");
    assert!(refused >= cut_or_extended, "{refused} refused");
}

/// A transaction with a good signature that the state makes invalid (its nonce is ahead of its
/// sender's) is in the derived input list, and the node's block does not contain it: tx-init
/// skips it. The program lists it; the block's trace, given that list
/// (`BlockRef::inputs`), starts where the hand-off ends and verifies step by step to the
/// claim on the node's block, skip step included.
#[test]
fn a_transaction_invalid_on_the_state_is_listed_and_skipped() {
    let chain = Chain::build();
    let n = NEXT;
    let mut entry = chain.entries[n - 1].clone();
    let mut ahead = [1_000u64; 3];
    let gap = transfer(&chain.spec, 0, 2, &mut ahead);
    // After the three invalid transactions and the first valid one.
    entry
        .transactions
        .insert(4, Bytes::from(gap.tx.encoded_2718()));
    let (hash, skipped) = chain.replica(n - 1, &entry);
    assert_eq!(
        hash, chain.blocks[n].hash,
        "the replica skips it: the same block"
    );
    assert_eq!(
        skipped, 7,
        "six undecodable or badly signed, one invalid on the state"
    );
    let first = chain.batch(1, LAST as u64);
    let batch = Batch {
        first_block: n as u64,
        parent_hash: chain.blocks[n - 1].hash,
        blocks: vec![entry.clone()],
    };
    let data = vec![first.encode(), batch.encode()];
    let from = cursor_after(0, &first, LAST - 1);
    let to = cursor_after(1, &batch, 0);
    let run = chain.derive(n - 1, &from, &data, false);
    assert_eq!(run.out_len, 320);

    let listed: Vec<(OpTxEnvelope, Address)> = entry
        .transactions
        .iter()
        .filter_map(|raw| decode_user_tx(&chain.spec, raw).ok())
        .map(|t| (t.tx, t.sender))
        .collect();
    let block = &chain.blocks[n];
    assert_eq!(listed.len(), block.transactions.len() + 1);
    let trace = Trace::for_parts(
        &chain.states[n - 1],
        &chain.spec,
        &chain.blocks[n - 1].header,
        vm::BlockRef {
            header: &block.header,
            hash: block.hash,
            transactions: &block.transactions,
            senders: &block.senders,
            cursor: to.hash(),
            inputs: Some(&listed),
        },
    )
    .expect("the block's trace over its derived input list");
    assert_eq!(
        run.post,
        Some(trace.state_hash(0)),
        "the hand-off starts it"
    );
    assert_ne!(
        run.post,
        Some(chain.execution_start(n, &to).0),
        "the block's own transactions are not its input list"
    );
    let mut skips = 0;
    for i in 0..trace.len() {
        let (proof, info) = trace.prove_step(i).expect("prove");
        let post = vm::verify_step(trace.state_hash(i), &proof).map(|r| r.0);
        assert_eq!(post, Ok(trace.state_hash(i + 1)), "step {i} ({info:?})");
        let (before, after) = (trace.machine(i), trace.machine(i + 1));
        // A tx-init step that moves on to the next input is a skip (a started transaction's
        // index moves at its tx-end).
        if info.kind == StepKind::TxInit && after.block.tx_index == before.block.tx_index + 1 {
            assert_eq!(after.frame.status, Status::Boundary);
            assert_eq!(after.block.cumulative_gas, before.block.cumulative_gas);
            assert_eq!(after.block.state_root, before.block.state_root);
            skips += 1;
        }
    }
    assert_eq!(skips, 1, "one tx-init step skips the transaction");
    assert_eq!(trace.claim(), Some(chain.claim(n, &to)));
}

/// An L1 chain for origins: `headers[i]` is L1 block `i`, each the parent of the next.
fn l1_headers(count: u64) -> Vec<Header> {
    let mut headers: Vec<Header> = Vec::new();
    for number in 0..count {
        headers.push(Header {
            number,
            parent_hash: headers.last().map_or(B256::ZERO, Header::hash_slow),
            timestamp: T0 - 110 + 12 * number,
            base_fee_per_gas: Some(1_000_000_000 + 7 * number),
            gas_limit: 30_000_000,
            ..Default::default()
        });
    }
    headers
}

/// The deposits of [`OriginChain`]: (queued in L1 block, gas limit, creation, data length).
const DEPOSITS: [(u64, u64, bool, usize); 6] = [
    (2, 100_000, false, 0),
    (3, 300_000, true, 0),
    (5, 100_000, false, 200),
    (5, 20_000_000, false, 36),
    (5, 9_000_000, false, 0),
    (9, 100_000, false, 0),
];

/// A chain whose blocks have L1 origins and deposits, built as the sequencer builds them
/// (`apply_l1_inputs` with every queued deposit offered), batched in two batches:
///
/// | block | origin | deposits | why the deposits stop |
/// |---|---|---|---|
/// | 1 | L1 3 | 0, 1 (a creation) | message 2 is queued at L1 5 |
/// | 2 | none | – | no origin: no L1 input |
/// | 3 | L1 5 | 2, 3 | message 4's gas limit: 1M + 0.1M + 20M + 9M > 30M (gas *used* would fit) |
/// | 4 | L1 7 | 4 | message 5 is queued at L1 9 |
/// | 5 | L1 9 | 5 | none left |
///
/// Batch 0 (blocks 1–4) is appended in L1 block 8, batch 1 (block 5) in L1 block 11.
struct OriginChain {
    chain: Chain,
    headers: Vec<Header>,
    messages: Vec<DepositMessage>,
    /// `origins[n]`: block n's origin (None for block 2 and genesis).
    origins: Vec<Option<L1BlockInfo>>,
    /// `read[n]`: delayed messages consumed up to block n.
    read: Vec<u64>,
    l1: L1View,
    batches: [Batch; 2],
}

/// L1 blocks appending batches 0 and 1.
const APPENDED: [u64; 2] = [8, 11];

impl OriginChain {
    fn build() -> Self {
        let headers = l1_headers(12);
        let messages: Vec<DepositMessage> = DEPOSITS
            .iter()
            .enumerate()
            .map(|(i, &(l1, gas, creation, len))| DepositMessage {
                index: i as u64,
                from: Address::with_last_byte(0xa0 + i as u8),
                to: if creation {
                    Address::ZERO
                } else {
                    Address::with_last_byte(0x30 + i as u8)
                },
                mint: U256::from(10u64.pow(18)) * U256::from(i + 1),
                value: U256::from(i * 1000),
                gas_limit: gas,
                is_creation: creation,
                data: if creation {
                    // Initcode returning a one-byte runtime (0x00).
                    Bytes::from_static(&[
                        0x60, 0x01, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x01, 0x60, 0x00, 0xf3,
                        0x00,
                    ])
                } else {
                    Bytes::from((0..len).map(|b| b as u8 ^ 0x5a).collect::<Vec<u8>>())
                },
                l1_block_number: l1,
                l1_timestamp: headers[l1 as usize].timestamp,
            })
            .collect();
        let origin_of = |n: u64| L1BlockInfo::from_header(&headers[n as usize]);
        let origins = vec![
            None,
            Some(origin_of(3)),
            None,
            Some(origin_of(5)),
            Some(origin_of(7)),
            Some(origin_of(9)),
        ];

        let mut chain = Chain::at_genesis();
        let mut read = vec![0u64];
        let mut nonces = [0u64; 3];
        for n in 1..origins.len() {
            let mut builder = chain.builder();
            let parent_read = read[n - 1];
            let consumed = match &origins[n] {
                Some(origin) => fraud_vm::batch::apply_l1_inputs(
                    &mut builder,
                    origin,
                    parent_read,
                    u64::MAX,
                    &messages[parent_read as usize..],
                )
                .expect("l1 inputs")
                .expect("the L1-info deposit fits"),
                None => parent_read,
            };
            builder
                .execute(transfer(&chain.spec, n, 2, &mut nonces))
                .expect("transfer included");
            let block = builder.finish().expect("finish");
            let entry = BatchBlock::from_block(
                &block.header,
                &block.transactions,
                origins[n].as_ref().map(BatchOrigin::from),
                consumed,
            );
            chain.push(block, entry);
            read.push(consumed);
        }
        assert_eq!(read, [0, 2, 2, 4, 5, 6], "the deposits each block consumed");

        let batches = [chain.batch(1, 4), chain.batch(5, 5)];
        let mut oc = Self {
            chain,
            headers,
            messages,
            origins,
            read,
            l1: L1View::default(),
            batches,
        };
        let mut l1 = oc.l1_through_batch0(&oc.messages);
        l1.append(
            oc.batches[1].encode(),
            oc.read[5],
            &oc.appended_in(APPENDED[1]),
        );
        oc.l1 = l1;
        oc
    }

    /// The L1 block `number` as a batch commitment sees the block appending it.
    fn appended_in(&self, number: u64) -> Header {
        Header {
            number,
            timestamp: T0 + 12,
            parent_hash: self.headers[number as usize - 1].hash_slow(),
            ..Default::default()
        }
    }

    /// L1 with the headers, the delayed messages `messages` queued, and batch 0 appended with
    /// `afterDelayedMessagesRead` as the batcher posts it (its last block's count).
    fn l1_through_batch0(&self, messages: &[DepositMessage]) -> L1View {
        let mut l1 = L1View::default();
        l1.preimages.extend(
            self.headers
                .iter()
                .map(|h| Bytes::from(alloy_rlp::encode(h))),
        );
        for m in messages {
            l1.enqueue(m);
        }
        l1.append(
            self.batches[0].encode(),
            self.read[4],
            &self.appended_in(APPENDED[0]),
        );
        l1
    }

    /// Block `block`'s execution start when derived as block `n` on the chain's block `n − 1`,
    /// its claim committing `cursor`.
    fn start_of(&self, n: usize, block: &BuiltBlock, cursor: &Cursor) -> B256 {
        self.start_handoff(n, block, cursor).0
    }

    /// [`OriginChain::start_of`], and the hand-off that starts it ([`handoff_of`]).
    fn start_handoff(&self, n: usize, block: &BuiltBlock, cursor: &Cursor) -> (B256, Handoff) {
        let chain = &self.chain;
        let start = Trace::for_block(
            &chain.states[n - 1],
            &chain.spec,
            &chain.blocks[n - 1].header,
            block,
            cursor.hash(),
        )
        .expect("block trace")
        .machine(0);
        (start.hash(), handoff_of(&start))
    }

    /// The forced block the node's replica derives on the chain's block `parent`, taken to have
    /// consumed `parent_read` delayed messages, for a forced batch forcing `n` appended in L1
    /// block `forced_in` (`forced_block` on its origin, L1 block `forced_in − 1`, then
    /// `derive_block` with target `n`), from the delayed messages `messages`: the block, the
    /// delayed messages consumed up to it and its origin. None when `parent_read >= n` (no
    /// forced block).
    fn forced_replica(
        &self,
        parent: usize,
        parent_read: u64,
        n: u64,
        forced_in: u64,
        messages: &[DepositMessage],
    ) -> Option<(BuiltBlock, u64, L1BlockInfo)> {
        let origin = L1BlockInfo::from_header(&self.headers[forced_in as usize - 1]);
        let entry = forced_block(n, parent_read, &origin)?;
        let (block, read) = self.forced_replica_of(parent, parent_read, &entry, n, messages);
        Some((block, read, origin))
    }

    /// [`OriginChain::forced_replica`] of the record `entry` (a forced block's, or an altered
    /// one), deriving up to `target`.
    fn forced_replica_of(
        &self,
        parent: usize,
        parent_read: u64,
        entry: &BatchBlock,
        target: u64,
        messages: &[DepositMessage],
    ) -> (BuiltBlock, u64) {
        let origin = entry.origin.map(|o| {
            let info = L1BlockInfo::from_header(&self.headers[o.number as usize]);
            assert_eq!(info.hash, o.hash, "the forced block's origin is on L1");
            info
        });
        let chain = &self.chain;
        let mut builder = chain.builder_on(parent, entry.attributes());
        let derived = derive_block(
            &chain.spec,
            &mut builder,
            entry,
            origin.as_ref(),
            parent_read,
            target,
            &messages[parent_read as usize..],
        )
        .expect("derive");
        assert!(derived.has_origin, "the L1-info deposit fits");
        (builder.finish().expect("finish"), derived.delayed_read)
    }

    /// This chain through block `parent`, then `block` (derived from the record `entry`,
    /// consuming up to `read` delayed messages, origin `origin`): a chain whose head is a forced
    /// block the node derived, for a forced batch opened on its claim. [`OriginChain::cursor`]
    /// and [`OriginChain::batch_of`] hold only up to block `parent`.
    fn on(
        &self,
        parent: usize,
        (block, entry): (BuiltBlock, BatchBlock),
        read: u64,
        origin: L1BlockInfo,
    ) -> Self {
        assert_eq!(block.header.number, parent as u64 + 1);
        assert_eq!(block.header.parent_hash, self.chain.blocks[parent].hash);
        let mut chain = self.chain.through(parent);
        chain.push(block, entry);
        let mut origins = self.origins[..=parent].to_vec();
        origins.push(Some(origin));
        let mut reads = self.read[..=parent].to_vec();
        reads.push(read);
        Self {
            chain,
            headers: self.headers.clone(),
            messages: self.messages.clone(),
            origins,
            read: reads,
            l1: self.l1.clone(),
            batches: self.batches.clone(),
        }
    }

    /// The delayed messages block `parent` consumed, then one more per `(L1 block queued in,
    /// gas limit, data length)` of `queued`.
    fn messages_after(&self, parent: usize, queued: &[(u64, u64, usize)]) -> Vec<DepositMessage> {
        let mut messages = self.messages[..self.read[parent] as usize].to_vec();
        for &(l1, gas_limit, len) in queued {
            let i = messages.len();
            messages.push(DepositMessage {
                index: i as u64,
                from: Address::with_last_byte(0xb0 + i as u8),
                to: Address::with_last_byte(0x40 + i as u8),
                mint: U256::from(10u64.pow(17)) * U256::from(i),
                value: U256::from(i * 10),
                gas_limit,
                is_creation: false,
                data: Bytes::from((0..len).map(|b| b as u8 ^ 0xa5).collect::<Vec<u8>>()),
                l1_block_number: l1,
                l1_timestamp: self.headers[l1 as usize].timestamp,
            });
        }
        messages
    }

    /// L1 for a forced batch opened on the claim on block `parent` (4 or 5, whose cursors are
    /// at a batch's start): the headers, `messages` queued, the batches up to block `parent`
    /// as [`OriginChain::build`] appends them, then a forced batch forcing `n` appended in L1
    /// block `forced_in`; and that forced batch's index.
    fn l1_with_forced(
        &self,
        parent: usize,
        messages: &[DepositMessage],
        n: u64,
        forced_in: u64,
    ) -> (L1View, u64) {
        assert!(parent == 4 || parent == 5, "a cursor at a batch's start");
        let mut l1 = self.l1_through_batch0(messages);
        if parent == 5 {
            l1.append(
                self.batches[1].encode(),
                self.read[5],
                &self.appended_in(APPENDED[1]),
            );
        }
        let index = l1.commitments.len() as u64;
        assert_eq!(self.cursor(parent).batchIndex, index);
        l1.force(n, &self.appended_in(forced_in));
        (l1, index)
    }

    /// The batch index and the batch holding block `n`.
    fn batch_of(&self, n: usize) -> (u64, &Batch) {
        if n <= 4 {
            (0, &self.batches[0])
        } else {
            (1, &self.batches[1])
        }
    }

    /// The cursor after block `n` (genesis' for 0).
    fn cursor(&self, n: usize) -> Cursor {
        if n == 0 {
            return Cursor::GENESIS;
        }
        let (index, batch) = self.batch_of(n);
        let i = n - batch.first_block as usize;
        let origin = (1..=n).rev().find_map(|k| self.origins[k]);
        Cursor::after(
            index,
            batch.next_position(i),
            self.read[n],
            origin.as_ref().map(BatchOrigin::from),
        )
    }

    /// What the node's replica derives for block `n` from `entry` (read from batch `index`):
    /// the block's hash and the delayed messages consumed.
    fn replica(&self, n: usize, index: usize, entry: &BatchBlock) -> (B256, u64) {
        let after = self.l1.commitments[index]
            .afterDelayedMessagesRead
            .to::<u64>();
        let (block, read) = self.replica_block(n, entry, after, &self.messages);
        (block.hash, read)
    }

    /// The block the node's replica derives for block `n` from `entry`, with the batch's
    /// `afterDelayedMessagesRead` = `after`, from the delayed messages `messages`; and the
    /// delayed messages consumed up to it.
    fn replica_block(
        &self,
        n: usize,
        entry: &BatchBlock,
        after: u64,
        messages: &[DepositMessage],
    ) -> (BuiltBlock, u64) {
        let chain = &self.chain;
        let mut builder = chain.builder_on(n - 1, entry.attributes());
        let origin = entry
            .check_origin(
                &DerivedParent::of(&chain.blocks[n - 1].header, None),
                entry
                    .origin
                    .map(|o| L1BlockInfo::from_header(&self.headers[o.number as usize]))
                    .as_ref(),
            )
            .expect("the origin is on L1");
        let parent_read = self.read[n - 1];
        let derived = derive_block(
            &chain.spec,
            &mut builder,
            entry,
            origin.as_ref(),
            parent_read,
            deposit_target(entry.delayed_read, after),
            &messages[parent_read as usize..],
        )
        .expect("derive");
        (builder.finish().expect("finish"), derived.delayed_read)
    }
}

/// Blocks with L1 origins and deposits: the node's replica rebuilds the sequencer's blocks,
/// and the program, run by the step machine from the claim on each block's parent, proves each
/// origin by walking L1 headers back from the batch's committed parent hash, reads the
/// L1-info deposit's origin and every deposit (the delayed accumulator's link, the message and
/// its data) through the oracle, and hands off exactly the node's block. Every step of block
/// 3's run (a long deposit data, the gas-limit rule) verifies. A block built without one of
/// the deposits the rule includes starts elsewhere: it cannot be proven.
#[test]
fn blocks_with_origins_and_deposits_derive_as_the_node_built_them() {
    let oc = OriginChain::build();
    let chain = &oc.chain;
    for n in 1..=5 {
        let (index, batch) = oc.batch_of(n);
        let entry = &batch.blocks[n - batch.first_block as usize];
        let (hash, read) = oc.replica(n, index as usize, entry);
        assert_eq!(hash, chain.blocks[n].hash, "the replica's block {n}");
        assert_eq!(read, oc.read[n], "block {n}'s delayed count");
    }
    eprintln!("blocks with L1 origins (derivation steps = open + program + hand-off):");
    for n in 1..=5 {
        let from = oc.cursor(n - 1);
        let to = oc.cursor(n);
        let every_step = n == 3;
        let run = chain.derive_on(n - 1, &from, &oc.l1, every_step);
        assert_eq!(run.status, Status::Returned, "block {n}");
        let (start, _) = chain.execution_start(n, &to);
        assert_eq!(
            run.post,
            Some(start),
            "block {n}: the hand-off starts the node's block"
        );
        eprintln!(
            "  block {n}: origin {:?}, {} deposits, {:>7} derivation steps{}, program gas {:>9}",
            oc.origins[n].map(|o| o.number),
            oc.read[n] - oc.read[n - 1],
            run.steps,
            if every_step { " (each verified)" } else { "" },
            run.gas,
        );
    }

    // Block 3 without message 3 (the sequencer offering only three deposits): another block,
    // whose start is not the hand-off's.
    let parent = &chain.blocks[2];
    let mut builder = chain.builder_on(2, attributes(3));
    let read = fraud_vm::batch::apply_l1_inputs(
        &mut builder,
        oc.origins[3].as_ref().expect("origin"),
        2,
        3,
        &oc.messages[2..],
    )
    .expect("inputs");
    assert_eq!(read, Some(3));
    // Blocks 1 and 2 sent from senders 1 and 2; block 3 sends from sender 0.
    let mut nonces = [0u64, 1, 1];
    builder
        .execute(transfer(&chain.spec, 3, 2, &mut nonces))
        .expect("transfer");
    let short = builder.finish().expect("finish");
    let short_start = Trace::for_block(
        &chain.states[2],
        &chain.spec,
        &parent.header,
        &short,
        oc.cursor(3).hash(),
    )
    .expect("trace")
    .state_hash(0);
    let run = chain.derive_on(2, &oc.cursor(2), &oc.l1, false);
    assert_ne!(
        run.post,
        Some(short_start),
        "a skipped deposit is not provable"
    );
}

/// The L1 fields of a record the program checks: the origin is found however far back the
/// batch's L1 block is (each L1 block between costs one header walked); an origin whose hash
/// is not L1's block of that number ends the batch (the claim reopens at the next batch, as
/// the node skips it); a `delayedRead` beyond the batch's `afterDelayedMessagesRead` is capped
/// by it (the same block as the honest record's); one below the count already read consumes
/// nothing more, as the replica derives it.
#[test]
fn a_records_origin_and_delayed_count_are_checked_against_l1() {
    let oc = OriginChain::build();
    let chain = &oc.chain;
    let from = oc.cursor(4);
    let with_entry_in = |entry: BatchBlock, appended_in: u64| {
        let mut l1 = oc.l1.clone();
        let batch = Batch {
            blocks: vec![entry],
            ..oc.batches[1].clone()
        };
        l1.data[1] = batch.encode();
        let prev = l1.commitments[0].accumulate();
        let appended = Header {
            number: appended_in,
            timestamp: T0 + 12,
            parent_hash: oc.headers[appended_in as usize - 1].hash_slow(),
            ..Default::default()
        };
        let delayed = l1.delayed[oc.read[5] as usize];
        l1.commitments[1] =
            BatchCommitment::new(prev, &l1.data[1], oc.read[5], delayed, &appended, false);
        l1.preimages
            .push(Bytes::from(l1.commitments[1].abi_encode()));
        chain.derive_on(4, &from, &l1, false)
    };
    let with_entry = |entry: BatchBlock| with_entry_in(entry, APPENDED[1]);
    let honest = oc.batches[1].blocks[0].clone();

    // The origin walk: the same record appended one L1 block later walks one more header.
    let cursor5 = Cursor::after(
        1,
        0,
        oc.read[5],
        oc.origins[5].as_ref().map(BatchOrigin::from),
    );
    let start5 = chain.execution_start(5, &cursor5).0;
    let near = with_entry_in(honest.clone(), APPENDED[1]);
    let far = with_entry_in(honest.clone(), APPENDED[1] + 1);
    assert_eq!((near.post, far.post), (Some(start5), Some(start5)));
    eprintln!(
        "one more L1 header walked: {} steps, {} program gas",
        far.steps - near.steps,
        far.gas - near.gas
    );

    let mut elsewhere = honest.clone();
    elsewhere.origin = Some(BatchOrigin {
        number: 9,
        hash: oc.headers[8].hash_slow(),
    });
    assert!(matches!(
        elsewhere.check_origin(
            &DerivedParent::of(&oc.chain.blocks[4].header, None),
            Some(&L1BlockInfo::from_header(&oc.headers[9]))
        ),
        Err(InvalidBatch::OriginNotOnL1 { .. })
    ));
    let reopened = open_hash(&Claim {
        cursor: Cursor {
            batchIndex: 2,
            position: 0,
            ..from.clone()
        }
        .hash(),
        ..chain.claim(4, &from)
    });
    assert_eq!(
        with_entry(elsewhere).post,
        Some(reopened),
        "origin not on L1"
    );

    // An origin (L1 10, on L1) newer than the block's stamped timestamp: the record and the
    // rest of its batch derive nothing, as `check_origin` says; the same origin on a record
    // stamped at the origin's second derives its block.
    let newer = L1BlockInfo::from_header(&oc.headers[10]);
    let mut ahead = honest.clone();
    ahead.origin = Some(BatchOrigin::from(&newer));
    let parent = DerivedParent::of(&oc.chain.blocks[4].header, None);
    assert!(ahead.timestamp < newer.timestamp, "the case's timestamps");
    assert_eq!(
        ahead.check_origin(&parent, Some(&newer)),
        Err(InvalidBatch::OriginAfterBlock {
            block: 5,
            timestamp: ahead.timestamp,
            origin_timestamp: newer.timestamp,
        })
    );
    assert_eq!(
        with_entry(ahead.clone()).post,
        Some(reopened),
        "origin after the block"
    );
    let mut at_origin = ahead;
    at_origin.timestamp = newer.timestamp;
    assert_eq!(
        at_origin.check_origin(&parent, Some(&newer)),
        Ok(Some(newer))
    );
    let run = with_entry(at_origin);
    assert_eq!(run.status, Status::Returned);
    assert_ne!(
        run.post,
        Some(reopened),
        "a block stamped at its origin's second derives"
    );
    assert_eq!(
        run.handoff.as_ref().map(|h| h.output.kind),
        Some(U256::from(BLOCK)),
        "a block hand-off"
    );

    let mut claims_more = honest.clone();
    claims_more.delayed_read = 1_000;
    let (hash, read) = oc.replica(5, 1, &claims_more);
    assert_eq!(
        (hash, read),
        (chain.blocks[5].hash, oc.read[5]),
        "the node caps it"
    );
    assert_eq!(
        with_entry(claims_more).post,
        Some(start5),
        "capped by the batch's count"
    );

    let mut below = honest;
    below.delayed_read = oc.read[4] - 1;
    let after = oc.l1.commitments[1].afterDelayedMessagesRead.to::<u64>();
    let (block, read) = oc.replica_block(5, &below, after, &oc.messages);
    assert_eq!(read, oc.read[4], "the replica reads no deposit");
    let cursor = Cursor::after(1, 0, read, oc.origins[5].as_ref().map(BatchOrigin::from));
    assert_eq!(
        with_entry(below).post,
        Some(oc.start_of(5, &block, &cursor)),
        "below the count already read"
    );
}

/// A forced-block case of [`a_forced_batch_derives_the_forced_block_the_node_derives`].
struct ForcedCase {
    what: &'static str,
    /// The block the claim is on (4 or 5: its cursor is at a batch's start).
    parent: usize,
    /// Delayed messages queued after those the parent consumed: (L1 block, gas limit, data
    /// length).
    queued: &'static [(u64, u64, usize)],
    /// The forced batch's `afterDelayedMessagesRead`, and its L1 block.
    forcing: u64,
    forced_in: u64,
    /// Whether the origin's timestamp is before the parent's (the block is stamped
    /// `parent + 1`).
    older_origin: bool,
    every_step: bool,
}

/// Three forced deposits of [`a_forced_batch_derives_the_forced_block_the_node_derives`]'s
/// first case (on block 4, which read 5): messages 5–7 queued at L1 9 and 10 with gas limits
/// 0.1M, 20M and 20M (with the L1-info deposit's 1M, more than the chain's 30M blocks hold:
/// the forced block's gas limit holds them all), forced by a batch appended at L1 11 (origin:
/// L1 10).
const THREE_FORCED: &[(u64, u64, usize)] =
    &[(9, 100_000, 0), (10, 20_000_000, 0), (10, 20_000_000, 64)];

/// Rule 4 (*Forced inclusion*): a forced batch opened on a claim whose cursor has read fewer
/// delayed messages than it forces derives the forced block, and the program's hand-off is
/// field for field the start of the block the node's replica derives (`forced_block` on L1's
/// block before the forced batch's, then `derive_block` with target `n`): several deposits at
/// once (5 read, 8 forced), a single one (on block 5: 6 read, 7 forced), and an origin older
/// than the parent (its timestamp is stamped `parent + 1`). The hand-off also has what the
/// rule says independently of both: gas limit `FORCED_BLOCK_GAS_LIMIT`, the origin's hash as
/// prevrandao, no extra data, the L1-info deposit and every forced deposit as inputs, and the
/// cursor at the next batch's start with `n` read and the new origin. Every step of the first
/// run verifies.
#[test]
fn a_forced_batch_derives_the_forced_block_the_node_derives() {
    let oc = OriginChain::build();
    let chain = &oc.chain;
    let cases = [
        ForcedCase {
            what: "three deposits forced at once (5 read, 8 forced)",
            parent: 4,
            queued: THREE_FORCED,
            forcing: 8,
            forced_in: 11,
            older_origin: false,
            every_step: true,
        },
        ForcedCase {
            what: "one deposit forced (6 read, 7 forced)",
            parent: 5,
            queued: &[(11, 100_000, 0)],
            forcing: 7,
            forced_in: 12,
            older_origin: false,
            every_step: false,
        },
        ForcedCase {
            what: "an origin older than the parent (5 read, 7 forced)",
            parent: 4,
            queued: &[(6, 100_000, 0), (8, 3_000_000, 10)],
            forcing: 7,
            forced_in: 9,
            older_origin: true,
            every_step: false,
        },
    ];
    for case in cases {
        let what = case.what;
        let (parent, n) = (case.parent, case.forcing);
        let messages = oc.messages_after(parent, case.queued);
        let (l1, index) = oc.l1_with_forced(parent, &messages, n, case.forced_in);
        let read = oc.read[parent];
        let (block, consumed, origin) = oc
            .forced_replica(parent, read, n, case.forced_in, &messages)
            .expect("fewer read than forced: a forced block");
        assert_eq!(
            consumed, n,
            "{what}: the replica consumes every forced deposit"
        );
        let to = Cursor::after(index, 0, n, Some((&origin).into()));
        let (start, node) = oc.start_handoff(parent + 1, &block, &to);

        let parent_time = chain.blocks[parent].header.timestamp;
        let stamped = origin.timestamp.max(parent_time + 1);
        assert_eq!(
            stamped == parent_time + 1,
            case.older_origin,
            "{what}: the case's timestamps"
        );
        let spec = forced_rule(&chain.blocks[parent].header, &origin, (read, n), &to, &node);
        assert_eq!(node, spec, "{what}: the node's block is the rule's");
        assert_eq!(
            U256::from(block.header.base_fee_per_gas.expect("base fee")),
            node.baseFee
        );

        let run = chain.derive_on(parent, &oc.cursor(parent), &l1, case.every_step);
        assert_hands_off(&run, &node, start, what);
        eprintln!(
            "{what}: {} deposits, timestamp {} (origin {}, parent {}), {} derivation steps{}, program gas {}",
            n - read,
            stamped,
            origin.timestamp,
            parent_time,
            run.steps,
            if case.every_step { " (each verified)" } else { "" },
            run.gas
        );
    }
}

/// The hand-off of the forced block on the block with header `parent`, which has consumed
/// `read` delayed messages, for a forced batch forcing `n` whose origin is `origin`, with
/// cursor `to` after it: the rule (*Forced inclusion*) read off the spec rather than either
/// implementation. The base fee and the inputs root are `node`'s.
fn forced_rule(
    parent: &Header,
    origin: &L1BlockInfo,
    (read, n): (u64, u64),
    to: &Cursor,
    node: &Handoff,
) -> Handoff {
    Handoff {
        kind: U256::from(BLOCK),
        cursor: to.hash(),
        number: U256::from(parent.number + 1),
        timestamp: U256::from(origin.timestamp.max(parent.timestamp + 1)),
        gasLimit: U256::from(FORCED_BLOCK_GAS_LIMIT),
        baseFee: node.baseFee,
        prevrandao: origin.hash,
        extraDataHash: keccak256([]),
        // The L1-info deposit and the forced deposits.
        inputCount: U256::from(1 + n - read),
        inputsRoot: node.inputsRoot,
    }
}

/// Rule 4's other half: a forced batch opened on a cursor that has read as many delayed
/// messages as it forces (5 read, 5 forced) or more (5 read, 3 forced) derives nothing
/// (`forced_block` is None): the hand-off is kind NO_BLOCK, reopening the claim at the next
/// batch's start with the cursor's count and origin unchanged. From there the next batch
/// (block 5's, appended in the same L1 block) derives block 5 as the node built it.
#[test]
fn a_forced_batch_whose_deposits_are_in_derives_nothing() {
    let oc = OriginChain::build();
    let chain = &oc.chain;
    let from = oc.cursor(4);
    assert_eq!(from.delayedRead, 5);
    let origin = L1BlockInfo::from_header(&oc.headers[10]);
    for n in [5, 3] {
        let what = format!("5 read, {n} forced");
        assert!(
            forced_block(n, from.delayedRead, &origin).is_none(),
            "{what}"
        );
        let (mut l1, index) = oc.l1_with_forced(4, &oc.messages, n, 11);
        let next = Cursor {
            batchIndex: index + 1,
            position: 0,
            ..from.clone()
        };
        assert_no_block(chain, 4, (&from, &next), &l1, &what);

        if n == 5 {
            l1.append(
                oc.batches[1].encode(),
                oc.read[5],
                &oc.appended_in(APPENDED[1]),
            );
            let run = chain.derive_on(4, &next, &l1, false);
            let to = Cursor::after(
                index + 1,
                0,
                oc.read[5],
                oc.origins[5].as_ref().map(BatchOrigin::from),
            );
            assert_eq!(
                run.post,
                Some(chain.execution_start(5, &to).0),
                "{what}: the next batch derives block 5"
            );
        }
    }
}

/// An attacker's view of a forced block (the first case of
/// [`a_forced_batch_derives_the_forced_block_the_node_derives`]: 5 read, 8 forced). The blocks
/// a dishonest claimant would rather have, the node's block without the last deposit (one
/// input fewer, another inputs root and count in the cursor) and the node's block a second
/// later, start elsewhere than the hand-off, and cannot be proven from this run:
///
/// - the hand-off step with the program's output replaced by theirs does not verify (the
///   output is in the program's committed memory);
/// - every oracle answer of the run altered does not verify (the cursor, the forced batch's
///   commitment, the parent's and the origin's headers, each deposit's accumulator link,
///   message and data);
/// - the open step with a forged commitment (forcing 7, another origin, not forced) does not
///   verify against the Inbox's batch accumulator.
///
/// The hand-off is a function of the commitment: the L1 whose forced batch commits 7 (another
/// batch accumulator) is the one on which the program hands off the block without the last
/// deposit.
#[test]
fn a_forced_blocks_deposits_and_timestamp_cannot_be_forged() {
    let oc = OriginChain::build();
    let chain = &oc.chain;
    let (parent, read, n, forced_in) = (4, 5, 8, 11);
    let messages = oc.messages_after(parent, THREE_FORCED);
    let (l1, index) = oc.l1_with_forced(parent, &messages, n, forced_in);
    let inbox = l1.inbox();
    let from = oc.cursor(parent);

    // The honest run, and its oracle answers altered one by one.
    let trace = chain.trace_on(parent, &from, &l1);
    let mut answers: Vec<Bytes> = Vec::new();
    for i in 0..trace.len() {
        // STATICCALL: the oracle answers in the call step.
        if trace.opcode(i) != Some(0xfa) {
            continue;
        }
        let (proof, info) = trace.prove_step(i).expect("prove");
        let Proof::Step(step) = &proof else {
            panic!("a call step");
        };
        let Some(at) = step
            .witnesses
            .iter()
            .position(|w| matches!(w, Witness::Preimage(_)))
        else {
            continue;
        };
        let mut forged = step.clone();
        let Witness::Preimage(answer) = &mut forged.witnesses[at] else {
            unreachable!()
        };
        answers.push(answer.clone());
        let mut altered = answer.to_vec();
        *altered.last_mut().expect("a non-empty answer") ^= 1;
        *answer = altered.into();
        assert!(
            vm::verify_step_on(
                trace.state_hash(i),
                &Proof::Step(forged),
                &chain.protocol,
                &inbox
            )
            .is_err(),
            "step {i} ({info:?}): an altered oracle answer verifies"
        );
    }
    let committed = l1.commitments[index as usize].clone();
    let header = Bytes::from(alloy_rlp::encode(&oc.headers[forced_in as usize - 1]));
    assert!(answers.contains(&header), "the origin's header is read");
    assert!(
        answers.contains(&Bytes::from(committed.abi_encode())),
        "the forced batch's commitment is read"
    );
    for m in &messages[read as usize..] {
        assert!(
            answers.contains(&Bytes::from(m.hash_preimage())),
            "message {} is read",
            m.index
        );
    }
    let run = conclude(&trace, &chain.protocol, &inbox, false);
    let handoff = run.handoff.as_ref().expect("a hand-off");
    let program = &handoff.output;

    // The node's forced block, and the blocks a dishonest claimant would rather have.
    let origin = L1BlockInfo::from_header(&oc.headers[forced_in as usize - 1]);
    let entry = forced_block(n, read, &origin).expect("a forced block");
    let start = |block: &BuiltBlock, read: u64| {
        let to = Cursor::after(index, 0, read, Some((&origin).into()));
        oc.start_handoff(parent + 1, block, &to)
    };
    let (block, consumed) = oc.forced_replica_of(parent, read, &entry, n, &messages);
    let honest = start(&block, consumed);
    assert_eq!((run.post, program), (Some(honest.0), &honest.1));
    let (short_block, short_read) = oc.forced_replica_of(parent, read, &entry, n - 1, &messages);
    assert_eq!(short_read, n - 1);
    let short = start(&short_block, short_read);
    let later_entry = BatchBlock {
        timestamp: entry.timestamp + 1,
        ..entry.clone()
    };
    let (later_block, later_read) = oc.forced_replica_of(parent, read, &later_entry, n, &messages);
    let later = start(&later_block, later_read);
    for (what, (forged_start, forged), fields) in [
        (
            "the last deposit dropped",
            &short,
            vec!["cursor", "inputCount", "inputsRoot"],
        ),
        ("a second later", &later, vec!["timestamp"]),
    ] {
        assert_eq!(differing(forged, program), fields, "{what}");
        assert_ne!(run.post, Some(*forged_start), "{what}: another start");
        let tampered = with_output(&handoff.proof, forged);
        assert!(
            vm::verify_step_on(handoff.pre, &tampered, &chain.protocol, &inbox).is_err(),
            "{what}: the hand-off with that output verifies"
        );
    }

    // The open step pins the forced batch's commitment to the Inbox's batch accumulator.
    let open = |commitment: BatchCommitment| {
        let claim = chain.claim(parent, &from);
        let proof = Proof::Open(Box::new(OpenProof {
            claim: claim.clone(),
            cursor: from.clone(),
            commitment,
        }));
        vm::verify_step_on(open_hash(&claim), &proof, &chain.protocol, &inbox)
    };
    assert!(open(committed.clone()).is_ok(), "the honest open step");
    for (what, forged) in [
        (
            "forcing 7",
            BatchCommitment {
                afterDelayedMessagesRead: U256::from(n - 1),
                delayedAcc: l1.delayed[n as usize - 1],
                ..committed.clone()
            },
        ),
        (
            "another origin",
            BatchCommitment {
                l1ParentHash: oc.headers[forced_in as usize - 2].hash_slow(),
                ..committed.clone()
            },
        ),
        (
            "not forced",
            BatchCommitment {
                forced: false,
                ..committed.clone()
            },
        ),
    ] {
        assert!(open(forged).is_err(), "{what}: the open step verifies");
    }

    // Where the forced batch commits 7, the program hands off the short block.
    let (l1_seven, _) = oc.l1_with_forced(parent, &messages, n - 1, forced_in);
    assert_ne!(
        l1_seven.inbox().batch[index as usize + 1],
        inbox.batch[index as usize + 1]
    );
    let run_seven = chain.derive_on(parent, &from, &l1_seven, false);
    assert_eq!(
        (
            run_seven.post,
            &run_seven.handoff.as_ref().expect("a hand-off").output
        ),
        (Some(short.0), &short.1),
        "forcing 7: the block without the last deposit"
    );
    eprintln!(
        "forced block: {} oracle answers altered, 2 forged hand-offs, 3 forged commitments: none verifies",
        answers.len()
    );
}

/// Derives the forced block of the forced batch the cursor `from` opens (its commitment in
/// `l1` says what it forces and its L1 block) on the claim on `oc`'s block `parent` both ways,
/// from the delayed messages `messages`: the node's replica (`forced_block`, then
/// `derive_block`, on block `parent`) and the program run by the step machine (hand-off only).
/// Asserts that the node's block is the rule's ([`forced_rule`]) and consumes all it forces,
/// and that the program's hand-off is field for field the node's and starts its block. Returns
/// the node's block with its record, its origin and the cursor after it.
fn forced_both_ways(
    oc: &OriginChain,
    parent: usize,
    from: &Cursor,
    messages: &[DepositMessage],
    l1: &L1View,
) -> ((BuiltBlock, BatchBlock), L1BlockInfo, Cursor) {
    let chain = &oc.chain;
    let index = from.batchIndex;
    let committed = &l1.commitments[index as usize];
    assert!(committed.forced, "the cursor opens a forced batch");
    let n = committed.afterDelayedMessagesRead.to::<u64>();
    let forced_in = committed.l1BlockNumber.to::<u64>();
    let read = from.delayedRead;
    let what = format!("on block {parent} ({read} read, {n} forced in L1 {forced_in})");
    assert_eq!(read, oc.read[parent], "{what}: the claim's count");

    let (block, consumed, origin) = oc
        .forced_replica(parent, read, n, forced_in, messages)
        .expect("fewer read than forced: a forced block");
    assert_eq!(
        consumed, n,
        "{what}: the replica consumes every forced deposit"
    );
    let parent_header = &chain.blocks[parent].header;
    assert_eq!(
        block.header.parent_hash, chain.blocks[parent].hash,
        "{what}: built on block {parent}"
    );
    let to = Cursor::after(index, 0, n, Some((&origin).into()));
    let (start, node) = oc.start_handoff(parent + 1, &block, &to);
    assert_eq!(
        node,
        forced_rule(parent_header, &origin, (read, n), &to, &node),
        "{what}: the node's block is the rule's"
    );
    assert_eq!(
        U256::from(block.header.base_fee_per_gas.expect("base fee")),
        node.baseFee
    );

    let run = chain.derive_on(parent, from, l1, false);
    assert_hands_off(&run, &node, start, &what);
    eprintln!(
        "{what}: {} deposits, timestamp {}, parent gas limit {}, base fee {}, {} derivation steps, program gas {}",
        n - read,
        block.header.timestamp,
        parent_header.gas_limit,
        node.baseFee,
        run.steps,
        run.gas
    );
    let entry = forced_block(n, read, &origin).expect("a forced block");
    ((block, entry), origin, to)
}

/// Forced after forced (*Forced inclusion*): after batch 0 (blocks 1–4, 5 read), forced
/// batches in consecutive L1 blocks 11 and 12. The first (7 forced) derives its forced block
/// on block 4; the claim on that block, whose cursor is at the second forced batch with 7 read
/// and the first's origin (L1 10), opens the second (9 forced), which derives the second
/// forced block on the first. Each hand-off is field for field the block the node's replica
/// derives on the right parent (the second's is the node's first forced block, whose gas
/// limit, `FORCED_BLOCK_GAS_LIMIT`, sets the second's base fee) and the rule's. Message 7 is
/// queued in L1 10, the first forced block's origin, yet only the second consumes it: the
/// first's target is 7. A third forced batch (L1 13) forcing 9 or 8 on the second forced
/// block's claim (9 read) derives nothing and reopens the claim at the batch after it; the
/// Inbox refuses such a batch (it forces no more than the previous one), derivation does not
/// rely on that.
#[test]
fn a_forced_block_derives_on_a_forced_block() {
    let mut oc = OriginChain::build();
    // L1 blocks 12 and 13 too (the same chain, longer), for the later forced batches.
    oc.headers = l1_headers(14);
    let parent = 4;
    // Messages 5 and 6 for the first forced batch, 7 and 8 for the second.
    let messages = oc.messages_after(
        parent,
        &[
            (9, 100_000, 0),
            (10, 20_000_000, 32),
            (10, 300_000, 0),
            (11, 20_000_000, 0),
        ],
    );
    let (mut l1, first) = oc.l1_with_forced(parent, &messages, 7, 11);
    l1.force(9, &oc.appended_in(12));

    let from = oc.cursor(parent);
    assert_eq!(from.delayedRead, 5);
    let (block5, origin5, to5) = forced_both_ways(&oc, parent, &from, &messages, &l1);
    assert_eq!(
        to5,
        Cursor {
            batchIndex: first + 1,
            position: 0,
            delayedRead: 7,
            hasOrigin: true,
            originNumber: 10,
            originHash: oc.headers[10].hash_slow(),
        },
        "the claim on the first forced block: the second forced batch, 7 read, origin L1 10"
    );

    let on_first = oc.on(parent, block5, 7, origin5);
    let (block6, origin6, to6) = forced_both_ways(&on_first, parent + 1, &to5, &messages, &l1);
    assert_eq!(
        (to6.batchIndex, to6.delayedRead, to6.originNumber),
        (first + 2, 9, 11)
    );

    let on_second = on_first.on(parent + 1, block6, 9, origin6);
    let chain = &on_second.chain;
    let third_origin = L1BlockInfo::from_header(&on_second.headers[12]);
    for n in [9, 8] {
        let what = format!("9 read, a third forced batch forcing {n}");
        assert!(forced_block(n, 9, &third_origin).is_none(), "{what}");
        let mut l1 = l1.clone();
        l1.force(n, &on_second.appended_in(13));
        let next = Cursor {
            batchIndex: to6.batchIndex + 1,
            position: 0,
            ..to6.clone()
        };
        assert_no_block(chain, parent + 2, (&to6, &next), &l1, &what);
    }
}

/// The forced block's gas limit at its boundary: `MAX_FORCED_DEPOSITS` deposits of the
/// largest gas limit (the Portal's `MAX_DEPOSIT_GAS_LIMIT`) forced at once (on block 4: 5
/// read, 21 forced) fill `FORCED_BLOCK_GAS_LIMIT` exactly with the L1-info deposit's: all 16
/// are consumed (17 inputs), and the program's hand-off is the node's block field for field.
/// The limit is tight: a forced batch forcing a 17th such deposit (22, which the Inbox refuses)
/// derives the same block on both sides, the node's replica (`derive_block`, target 22) and the
/// program stopping at 21 by the gas-limit rule.
#[test]
fn a_forced_block_holds_max_forced_deposits_of_the_largest_gas_limit() {
    let oc = OriginChain::build();
    let (parent, read) = (4, 5);
    let n = read + MAX_FORCED_DEPOSITS;
    assert_eq!(
        L1_INFO_GAS_LIMIT + MAX_FORCED_DEPOSITS * MAX_DEPOSIT_GAS_LIMIT,
        FORCED_BLOCK_GAS_LIMIT
    );
    // 17 deposits of the largest gas limit queued in L1 9 and 10; 16 forced.
    let queued: Vec<(u64, u64, usize)> = (0..=MAX_FORCED_DEPOSITS)
        .map(|i| (9 + i % 2, MAX_DEPOSIT_GAS_LIMIT, (i % 3) as usize * 20))
        .collect();
    let messages = oc.messages_after(parent, &queued);
    let (l1, _) = oc.l1_with_forced(parent, &messages, n, 11);
    let ((block, entry), _, _) = forced_both_ways(&oc, parent, &oc.cursor(parent), &messages, &l1);
    assert_eq!(
        block.transactions.len() as u64,
        1 + MAX_FORCED_DEPOSITS,
        "the L1-info deposit and every forced deposit"
    );

    let one_more = BatchBlock {
        delayed_read: n + 1,
        ..entry
    };
    let (more_block, consumed) = oc.forced_replica_of(parent, read, &one_more, n + 1, &messages);
    assert_eq!(
        consumed, n,
        "a 17th deposit of the largest gas limit does not fit"
    );
    assert_eq!(more_block.hash, block.hash, "the same block");
    let (l1, index) = oc.l1_with_forced(parent, &messages, n + 1, 11);
    let origin = one_more.origin.expect("an origin");
    let to = Cursor::after(index, 0, n, Some(origin));
    let (start, node) = oc.start_handoff(parent + 1, &more_block, &to);
    let run = oc.chain.derive_on(parent, &oc.cursor(parent), &l1, false);
    assert_hands_off(&run, &node, start, "22 forced (21 read)");
}
