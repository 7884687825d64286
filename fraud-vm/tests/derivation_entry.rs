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
//! `cargo nextest run -p fraud-vm --all-features -E 'binary(derivation_entry)' --no-capture`
//! prints the steps and the program's gas per derived block.

use alloy_consensus::{crypto::SECP256K1N_HALF, Header};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, Signature, B256, U256};
use alloy_sol_types::SolValue;
use common::{artifact_code, key, Unsigned, CHAIN_ID, ENTRY_ARTIFACT};
use fraud_vm::{
    batch::{
        decode_user_tx, derive_block, AppendedIn, Batch, BatchBlock, BatchCommitment, BatchOrigin,
        Cursor, DerivedParent, InvalidBatch, MAX_TIMESTAMP_LEAD_SECS,
    },
    chain::{ChainGenesis, ChainSpec},
    code::ChunkedCode,
    execute::{BlockAttributes, BlockBuilder, BuiltBlock, ExecutableTx},
    memory::MemoryState,
    vm::{
        self,
        machine::window_root,
        open::{open_hash, InboxAccs, OpenProof, Protocol},
        Claim, DerivationRun, Proof, Status, StepKind, Trace,
    },
};
use op_alloy_consensus::OpTxEnvelope;

mod common;

/// Gas the program runs with (the protocol's derivation budget).
const DERIVATION_GAS: u64 = 1 << 32;
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
    fn build() -> Self {
        let genesis = genesis();
        let spec = genesis.spec.clone();
        let block0 = genesis.build().expect("block 0");
        let mut state = MemoryState::new();
        state.apply(&block0);
        let mut blocks = vec![block0];
        let mut states = vec![state.clone()];
        let mut entries = Vec::new();
        let mut nonces = [0u64; 3];
        let mut k = 0;
        for (i, count) in TRANSFERS.into_iter().enumerate() {
            let n = i as u64 + 1;
            let parent = &blocks[i];
            let mut builder =
                BlockBuilder::new(&spec, &state, &parent.header, parent.hash, attributes(n));
            for j in 0..count {
                let ty = if n == NEXT as u64 { j as u8 } else { 2 };
                builder
                    .execute(transfer(&spec, k, ty, &mut nonces))
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
            state.apply(&block);
            blocks.push(block);
            states.push(state.clone());
            entries.push(entry);
        }
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
            blocks,
            states,
            entries,
            program,
            protocol,
        }
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
    /// the Inbox holding `batches`, and proves and verifies the hand-off; with `every_step`,
    /// also verifies every step of the run.
    fn derive(
        &self,
        parent: usize,
        cursor: &Cursor,
        batches: &[Vec<u8>],
        every_step: bool,
    ) -> Derivation {
        let l1 = Header {
            number: L1_NUMBER,
            timestamp: L1_TIMESTAMP,
            parent_hash: B256::repeat_byte(0x1f),
            ..Default::default()
        };
        let mut accs = vec![B256::ZERO];
        let mut commitments = Vec::new();
        for data in batches {
            let c = BatchCommitment::new(accs[accs.len() - 1], data, 0, B256::ZERO, &l1, false);
            accs.push(c.accumulate());
            commitments.push(c);
        }
        let inbox = InboxAccs {
            batch: accs,
            delayed: vec![B256::ZERO],
        };
        let index = cursor.batchIndex as usize;
        let commitment = commitments[index].clone();
        let run = DerivationRun {
            open: OpenProof {
                claim: self.claim(parent, cursor),
                cursor: cursor.clone(),
                commitment: commitment.clone(),
            },
            data: &batches[index],
            program: &self.program,
            preimages: vec![
                Bytes::from(cursor.abi_encode()),
                Bytes::from(commitment.abi_encode()),
                Bytes::from(alloy_rlp::encode(&self.blocks[parent].header)),
            ],
            inbox: inbox.clone(),
        };
        let trace = Trace::for_derivation(&self.states[parent], &self.spec, &self.protocol, run)
            .expect("derivation trace");
        if every_step {
            // Two threads, each every other step.
            std::thread::scope(|scope| {
                for first in 0..2 {
                    let (trace, inbox) = (&trace, &inbox);
                    scope.spawn(move || {
                        for i in (first..trace.len()).step_by(2) {
                            let (proof, info) = trace.prove_step(i).expect("prove");
                            let post = vm::verify_step_on(
                                trace.state_hash(i),
                                &proof,
                                &self.protocol,
                                inbox,
                            )
                            .unwrap_or_else(|e| panic!("step {i} ({info:?}): {e}"));
                            assert_eq!(post.0, trace.state_hash(i + 1), "step {i} ({info:?})");
                        }
                    });
                }
            });
        }
        let at = trace.len();
        let ended = trace.machine(at).frame;
        assert_eq!(ended.depth, 0, "the program's own frame ended");
        let post = match trace.prove_step(at) {
            Ok((proof, info)) => {
                assert_eq!(info.kind, StepKind::Handoff);
                assert_eq!(Proof::decode(&proof.encode()), Ok(proof.clone()));
                let (post, _) =
                    vm::verify_step_on(trace.state_hash(at), &proof, &self.protocol, &inbox)
                        .expect("the hand-off verifies");
                Some(post)
            }
            Err(vm::StepError::Unsupported(_)) => None,
            Err(e) => panic!("the hand-off: {e}"),
        };
        Derivation {
            steps: at + 1,
            post,
            gas: DERIVATION_GAS - ended.gas,
            status: ended.status,
            out_len: ended.out_len,
        }
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
        let head = &self.blocks[parent];
        let mut builder = BlockBuilder::new(
            &self.spec,
            &self.states[parent],
            &head.header,
            head.hash,
            entry.attributes(),
        );
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

/// What a record's L1 fields do in this slice. Without an origin a record reads no delayed
/// message, whatever its `delayedRead` says (`derive_block` with no origin keeps the parent's
/// count): the program derives the node's block and keeps the cursor's count. A record with
/// an origin is not derived yet: the program reverts with `NotSupported()`, a failed run, which
/// has no hand-off step (the node derives the block with its L1-info deposit: the open gap).
#[test]
fn a_record_without_an_origin_reads_no_delayed_message_and_one_with_an_origin_is_not_supported() {
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
    let run = chain.derive(
        LAST,
        &at_batch1,
        &[batch0.clone(), claims_more.encode()],
        false,
    );
    let c5 = cursor_after(1, &claims_more, 0);
    assert_eq!(c5.delayedRead, 0);
    assert_eq!(run.post, Some(chain.execution_start(NEXT, &c5).0));

    let mut with_origin = chain.batch(NEXT as u64, NEXT as u64);
    with_origin.blocks[0].origin = Some(BatchOrigin {
        number: L1_NUMBER - 1,
        hash: B256::repeat_byte(0x0e),
    });
    let parent = DerivedParent::of(&chain.blocks[LAST].header, None);
    let appended = AppendedIn {
        number: L1_NUMBER,
        timestamp: L1_TIMESTAMP,
    };
    assert_eq!(
        with_origin.blocks[0].check(&parent, &appended),
        Ok(()),
        "the rule derives it (if L1 holds the origin)"
    );
    let run = chain.derive(LAST, &at_batch1, &[batch0, with_origin.encode()], false);
    assert_eq!(run.status, Status::Reverted);
    assert_eq!(run.out_len, 4, "NotSupported()");
    // Until the program derives such records, a failed run has no hand-off step: skipping the
    // batch would let a later batch at block 5 be proven where the node derives this one.
    assert_eq!(run.post, None, "a failed run has no hand-off");
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
