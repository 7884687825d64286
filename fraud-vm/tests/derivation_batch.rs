//! Differential test of the derivation program's block-record entry
//! (`Derivation.deriveRecord(batch, ctx)`, `contracts/src/derivation/BatchRecord.sol`) against
//! the Rust rule composed here from `fraud_vm::batch`: at position 0 `Batch::decode` of the
//! whole batch and `Batch::continues`, then for the record at the position
//! `BatchBlock::check`, `execute::block_timestamp`, `decode_user_tx` and
//! `TxInput::from_tx`/`input::root` over the record's valid transactions. Every field of the
//! returned `Record` is compared.
//!
//! Corpus (fixed seeds): valid batches of 1..5 blocks of real signed transactions mixed with
//! invalid ones, walked record by record (each record's `nextPosition` and derived block feed
//! the next call's context); each validity rule broken alone at the first and at a later
//! record, with boundary values on both sides of every bound; undecodable data (every
//! truncation, trailing bytes, bad version, `extraLen = 33`, empty transactions, random byte
//! mutations); positions outside the batch (which must revert).

use std::collections::BTreeMap;

use alloy_consensus::crypto::SECP256K1N_HALF;
use alloy_primitives::{hex, keccak256, Bytes, Signature, B256, U256};
use alloy_sol_types::SolCall;
use common::{intrinsic_gas, key, Ended, Program, Rng, Run, Unsigned, ARTIFACT, CHAIN_ID};
use fraud_vm::{
    batch::{
        decode_user_tx, AppendedIn, Batch, BatchBlock, BatchOrigin, DerivedParent, InvalidBatch,
        BATCH_HEADER_LEN, MAX_BLOCK_GAS_LIMIT, MAX_ORIGIN_AGE, MAX_TIMESTAMP_LEAD_SECS,
        MIN_ORIGIN_GAS_LIMIT,
    },
    chain::ChainSpec,
    execute::block_timestamp,
    vm::verifier::input::{self, TxInput},
};

mod common;

use common::record_abi::{self as abi, Context, Record};

// `Record.reason` codes (`BatchRecord.sol`).
const UNDECODABLE: u8 = 1;
const NO_BLOCKS: u8 = 2;
const GAP: u8 = 3;
const OVERLAP: u8 = 4;
const PARENT_HASH: u8 = 5;
const ORIGIN_WITHOUT_ROOM: u8 = 6;
const GAS_LIMIT: u8 = 7;
const TIMESTAMP_LEAD: u8 = 8;
const ORIGIN_BACK: u8 = 9;
const ORIGIN_NOT_PAST: u8 = 10;
const ORIGIN_TOO_OLD: u8 = 11;

fn reason_name(reason: u8) -> &'static str {
    match reason {
        0 => "-",
        UNDECODABLE => "Undecodable",
        NO_BLOCKS => "NoBlocks",
        GAP => "Gap",
        OVERLAP => "Overlap",
        PARENT_HASH => "ParentHash",
        ORIGIN_WITHOUT_ROOM => "OriginWithoutRoom",
        GAS_LIMIT => "GasLimit",
        TIMESTAMP_LEAD => "TimestampLead",
        ORIGIN_BACK => "OriginBack",
        ORIGIN_NOT_PAST => "OriginNotPast",
        ORIGIN_TOO_OLD => "OriginTooOld",
        _ => "?",
    }
}

/// The program's reason code of a Rust rule (`OriginNotOnL1` and `OriginAfterBlock` need L1
/// headers: `BatchRecord` does not check them, and `check` never returns them).
fn reason_of(why: &InvalidBatch) -> u8 {
    match why {
        InvalidBatch::Gap { .. } => GAP,
        InvalidBatch::Overlap { .. } => OVERLAP,
        InvalidBatch::ParentHash { .. } => PARENT_HASH,
        InvalidBatch::OriginWithoutRoom { .. } => ORIGIN_WITHOUT_ROOM,
        InvalidBatch::GasLimit { .. } => GAS_LIMIT,
        InvalidBatch::TimestampLead { .. } => TIMESTAMP_LEAD,
        InvalidBatch::OriginBack { .. } => ORIGIN_BACK,
        InvalidBatch::OriginNotPast { .. } => ORIGIN_NOT_PAST,
        InvalidBatch::OriginTooOld { .. } => ORIGIN_TOO_OLD,
        InvalidBatch::OriginNotOnL1 { .. } | InvalidBatch::OriginAfterBlock { .. } => {
            panic!("check never reads L1: {why}")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The program and the Rust composition
// ---------------------------------------------------------------------------------------------

impl Program {
    /// `deriveRecord(batch, ctx)`: the decoded record, or how the call ended otherwise.
    fn derive_record(&mut self, batch: &[u8], ctx: &Context) -> (Result<Record, String>, Run) {
        let run = self.run(call_data(batch, ctx));
        let decoded = match run.ended {
            Ended::Returned => abi::deriveRecordCall::abi_decode_returns_validate(&run.output)
                .map_err(|e| format!("undecodable return ({e}): {}", run.output)),
            _ => Err(run.describe()),
        };
        (decoded, run)
    }
}

fn call_data(batch: &[u8], ctx: &Context) -> Vec<u8> {
    abi::deriveRecordCall {
        batch: Bytes::copy_from_slice(batch),
        ctx: ctx.clone(),
    }
    .abi_encode()
}

fn chain(chain_id: u64) -> ChainSpec {
    ChainSpec {
        chain_id,
        spec: revm::primitives::hardfork::SpecId::CANCUN,
        base_fee_params: alloy_eips::eip1559::BaseFeeParams::ethereum(),
        fee_recipient: alloy_primitives::Address::ZERO,
    }
}

fn nothing(reason: u8) -> Record {
    Record {
        status: 1,
        reason,
        ..Default::default()
    }
}

/// Byte offsets of a decoded batch's records (`BATCH_HEADER_LEN`, then `encoded_len` each).
fn record_offsets(batch: &Batch) -> Vec<usize> {
    let mut at = BATCH_HEADER_LEN;
    batch
        .blocks
        .iter()
        .map(|b| {
            let here = at;
            at += b.encoded_len();
            here
        })
        .collect()
}

/// What the Rust rule says of the record at `ctx.position` of `data`.
#[derive(Debug)]
enum Expected {
    /// The record the program must return.
    Record(Record),
    /// `ctx.position` is not a record of the (decodable) batch: a caller's error, on which the
    /// program may revert or return anything, but not halt.
    NotARecord,
}

fn reference(data: &[u8], ctx: &Context) -> Expected {
    let batch = match Batch::decode(data) {
        Ok(batch) => batch,
        Err(_) if ctx.position == 0 => return Expected::Record(nothing(UNDECODABLE)),
        Err(_) => return Expected::NotARecord,
    };
    let offsets = record_offsets(&batch);
    let index = if ctx.position == 0 {
        match batch.continues(ctx.parentNumber, ctx.parentHash) {
            Ok(true) => 0,
            Ok(false) => return Expected::Record(nothing(NO_BLOCKS)),
            Err(why) => return Expected::Record(nothing(reason_of(&why))),
        }
    } else {
        match offsets.iter().position(|&o| o as u64 == ctx.position) {
            Some(i) => i,
            None => return Expected::NotARecord,
        }
    };
    let block = &batch.blocks[index];
    let parent = DerivedParent {
        number: ctx.parentNumber,
        timestamp: ctx.parentTimestamp,
        origin: ctx.hasOrigin.then_some(BatchOrigin {
            number: ctx.originNumber,
            hash: ctx.originHash,
        }),
    };
    let appended = AppendedIn {
        number: ctx.l1BlockNumber,
        timestamp: ctx.l1Timestamp,
    };
    if let Err(why) = block.check(&parent, &appended) {
        return Expected::Record(nothing(reason_of(&why)));
    }
    let spec = chain(ctx.chainId);
    let inputs: Vec<TxInput> = block
        .transactions
        .iter()
        .filter_map(|raw| decode_user_tx(&spec, raw).ok())
        .map(|tx| TxInput::from_tx(&tx.tx, tx.sender))
        .collect();
    let origin = block.origin.unwrap_or_default();
    Expected::Record(Record {
        status: 0,
        reason: 0,
        timestamp: block_timestamp(ctx.parentTimestamp, block.timestamp),
        gasLimit: block.gas_limit,
        prevrandao: block.prevrandao,
        extraDataHash: keccak256(&block.extra_data),
        hasOrigin: block.origin.is_some(),
        originNumber: origin.number,
        originHash: origin.hash,
        delayedRead: block.delayed_read,
        txCount: inputs.len() as u64,
        inputsRoot: input::root(&inputs),
        nextPosition: offsets.get(index + 1).map_or(0, |&o| o as u64),
    })
}

/// The context of the record after `record`, derived on `ctx`: the derived block is the
/// parent, its origin (if any) the newest.
fn next_context(ctx: &Context, record: &Record) -> Context {
    let number = ctx.parentNumber.wrapping_add(1);
    let (has_origin, origin_number, origin_hash) = if record.hasOrigin {
        (true, record.originNumber, record.originHash)
    } else {
        (ctx.hasOrigin, ctx.originNumber, ctx.originHash)
    };
    Context {
        parentNumber: number,
        parentHash: keccak256(number.to_be_bytes()),
        parentTimestamp: record.timestamp,
        position: record.nextPosition,
        hasOrigin: has_origin,
        originNumber: origin_number,
        originHash: origin_hash,
        ..ctx.clone()
    }
}

macro_rules! field_diffs {
    ($rust:expr, $program:expr; $($field:ident),+ $(,)?) => {{
        let mut diffs = Vec::new();
        $(
            if $rust.$field != $program.$field {
                diffs.push(format!(
                    "{}: rust {:?}, program {:?}",
                    stringify!($field),
                    $rust.$field,
                    $program.$field
                ));
            }
        )+
        diffs
    }};
}

fn record_diffs(rust: &Record, program: &Record) -> Vec<String> {
    field_diffs!(rust, program;
        status, reason, timestamp, gasLimit, prevrandao, extraDataHash, hasOrigin, originNumber,
        originHash, delayedRead, txCount, inputsRoot, nextPosition)
}

/// Runs every case and collects the disagreements, with counts by outcome.
struct Checker {
    program: Program,
    failures: Vec<String>,
    outcomes: BTreeMap<String, usize>,
    cases: usize,
}

impl Checker {
    fn new() -> Self {
        Self {
            program: Program::new(),
            failures: Vec::new(),
            outcomes: BTreeMap::new(),
            cases: 0,
        }
    }

    /// Checks one call; returns the agreed record (None when they disagree or it is not one).
    fn check(&mut self, what: &str, data: &[u8], ctx: &Context) -> Option<Record> {
        self.cases += 1;
        let expected = reference(data, ctx);
        let (result, run) = self.program.derive_record(data, ctx);
        let outcome = match &expected {
            Expected::Record(r) if r.status == 0 => "derived".to_string(),
            Expected::Record(r) => format!("nothing: {}", reason_name(r.reason)),
            Expected::NotARecord => "not a record".to_string(),
        };
        *self.outcomes.entry(outcome).or_default() += 1;
        let fail = |why: String| {
            format!(
                "[{what}] {why}\n  ctx: {ctx:?}\n  batch ({} bytes): 0x{}",
                data.len(),
                hex::encode(&data[..data.len().min(400)])
            )
        };
        match (&expected, &result) {
            (Expected::Record(rust), Ok(program)) => {
                let diffs = record_diffs(rust, program);
                if diffs.is_empty() {
                    return Some(program.clone());
                }
                self.failures.push(fail(diffs.join("\n  ")));
            }
            (Expected::Record(rust), Err(why)) => {
                self.failures
                    .push(fail(format!("rust {rust:?}\n  program: {why}")));
            }
            (Expected::NotARecord, _) => {
                if let Ended::Halted(why) = &run.ended {
                    self.failures
                        .push(fail(format!("{expected:?}: the program halted ({why})")));
                }
            }
        }
        None
    }

    /// Opens `data` on `ctx` and follows `nextPosition` to the batch's end or the first record
    /// that derives nothing; returns the agreed records.
    fn walk(&mut self, what: &str, data: &[u8], ctx: &Context) -> Vec<Record> {
        let mut records = Vec::new();
        let mut ctx = ctx.clone();
        for i in 0.. {
            let Some(record) = self.check(&format!("{what}, record {i}"), data, &ctx) else {
                break;
            };
            records.push(record.clone());
            if record.status != 0 || record.nextPosition == 0 {
                break;
            }
            ctx = next_context(&ctx, &record);
        }
        records
    }

    fn finish(self, title: &str) {
        eprintln!(
            "== {title}: {} calls, outcomes {:?}, {} disagreements",
            self.cases,
            self.outcomes,
            self.failures.len()
        );
        for f in self.failures.iter().take(20) {
            eprintln!("DISAGREEMENT {f}\n");
        }
        assert!(
            self.failures.is_empty(),
            "{title}: {} disagreements",
            self.failures.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

const HEAD: u64 = 1_000;
const HEAD_TIME: u64 = 1_700_000_000;
const L1_NUMBER: u64 = 500;
const L1_TIME: u64 = HEAD_TIME + 100;

fn head_hash() -> B256 {
    B256::repeat_byte(0x11)
}

fn origin(number: u64) -> BatchOrigin {
    BatchOrigin {
        number,
        hash: keccak256(number.to_be_bytes()),
    }
}

/// Opening a batch on head `HEAD` (newest origin 400), appended in L1 block `L1_NUMBER`.
fn opening() -> Context {
    Context {
        parentNumber: HEAD,
        parentHash: head_hash(),
        parentTimestamp: HEAD_TIME,
        chainId: CHAIN_ID,
        position: 0,
        hasOrigin: true,
        originNumber: 400,
        originHash: origin(400).hash,
        l1BlockNumber: L1_NUMBER,
        l1Timestamp: L1_TIME,
    }
}

fn batch(blocks: Vec<BatchBlock>) -> Batch {
    Batch {
        first_block: HEAD + 1,
        parent_hash: head_hash(),
        blocks,
    }
}

/// A valid block `i` of a batch on `opening()`: origin 410 + i.
fn block(i: u64, txs: Vec<Vec<u8>>) -> BatchBlock {
    BatchBlock {
        timestamp: HEAD_TIME + 2 + 2 * i,
        gas_limit: 30_000_000,
        prevrandao: keccak256([i as u8, 0x77]),
        extra_data: Bytes::from_static(b"seq"),
        origin: Some(origin(410 + i)),
        delayed_read: 3 + i,
        transactions: txs.into_iter().map(Bytes::from).collect(),
    }
}

/// Transactions: valid ones of the three types (random fields), and invalid ones (another
/// chain, high `s`, garbage bytes).
struct TxPool {
    valid: Vec<Vec<u8>>,
    invalid: Vec<Vec<u8>>,
}

impl TxPool {
    fn new() -> Self {
        let mut rng = Rng(0xba7c_0001);
        let keys: Vec<_> = (1..=3).map(key).collect();
        let mut valid: Vec<Vec<u8>> = (0..3)
            .map(|ty| Unsigned::transfer(ty, CHAIN_ID).signed(&keys[0]))
            .collect();
        for i in 0..15 {
            let tx = Unsigned::random(&mut rng, (i % 3) as u8, CHAIN_ID);
            valid.push(tx.signed(&keys[i % 3]));
        }
        let transfer = Unsigned::transfer(2, CHAIN_ID);
        let sig = transfer.sign(&keys[1]);
        let n = SECP256K1N_HALF * U256::from(2) + U256::from(1);
        let mut invalid = vec![
            Unsigned::transfer(2, 1).signed(&keys[0]),
            Unsigned::transfer(0, CHAIN_ID + 1).signed(&keys[1]),
            transfer.encode(Signature::new(sig.r(), n - sig.s(), !sig.v())),
            vec![0xc0],
            vec![0x02],
            vec![0x00; 7],
        ];
        for len in [1, 5, 40] {
            invalid.push(rng.bytes(len));
        }
        Self { valid, invalid }
    }

    fn pick(&self, rng: &mut Rng) -> Vec<u8> {
        if rng.chance(65) {
            rng.pick(&self.valid).clone()
        } else {
            rng.pick(&self.invalid).clone()
        }
    }
}

/// A random valid batch of 1..=5 blocks on `opening()`: proposed timestamps sometimes below the
/// parent's (the stamp raises them), origins absent, repeated or moving forward.
fn random_batch(rng: &mut Rng, pool: &TxPool) -> Batch {
    let count = 1 + rng.below(5);
    let mut origin_number = 400;
    let mut time = HEAD_TIME;
    let blocks = (0..count)
        .map(|_| {
            let has_origin = rng.chance(60);
            if has_origin && rng.chance(60) {
                origin_number += 1 + rng.below(20) as u64;
            }
            time += rng.below(4) as u64;
            let extra_len = *rng.pick(&[0, 0, 1, 3, 31, 32]);
            BatchBlock {
                timestamp: if rng.chance(15) { 0 } else { time },
                gas_limit: if has_origin {
                    MIN_ORIGIN_GAS_LIMIT + rng.below(1 << 31) as u64
                } else {
                    21_000 + rng.below(1 << 31) as u64
                },
                prevrandao: B256::from_slice(&rng.bytes(32)),
                extra_data: rng.bytes(extra_len).into(),
                origin: has_origin.then(|| origin(origin_number)),
                delayed_read: rng.below(100) as u64,
                transactions: (0..rng.below(4)).map(|_| pool.pick(rng).into()).collect(),
            }
        })
        .collect();
    batch(blocks)
}

/// The artifact's `deriveRecord` takes and returns exactly the ABI the test binds (names,
/// types and order), which the step machine's hand-off will bind word by word.
#[test]
fn the_abi_is_the_documented_one() {
    let artifact: serde_json::Value = serde_json::from_str(ARTIFACT).expect("artifact JSON");
    let function = artifact["abi"]
        .as_array()
        .expect("abi")
        .iter()
        .find(|f| f["name"] == "deriveRecord")
        .expect("deriveRecord in the ABI");
    let fields = |v: &serde_json::Value| -> Vec<String> {
        v["components"]
            .as_array()
            .expect("tuple")
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c["type"].as_str().unwrap(),
                    c["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(function["inputs"][0]["type"], "bytes");
    assert_eq!(
        fields(&function["inputs"][1]),
        [
            "uint64 parentNumber",
            "bytes32 parentHash",
            "uint64 parentTimestamp",
            "uint64 chainId",
            "uint64 position",
            "bool hasOrigin",
            "uint64 originNumber",
            "bytes32 originHash",
            "uint64 l1BlockNumber",
            "uint64 l1Timestamp"
        ]
    );
    assert_eq!(
        fields(&function["outputs"][0]),
        [
            "uint8 status",
            "uint8 reason",
            "uint64 timestamp",
            "uint64 gasLimit",
            "bytes32 prevrandao",
            "bytes32 extraDataHash",
            "bool hasOrigin",
            "uint64 originNumber",
            "bytes32 originHash",
            "uint64 delayedRead",
            "uint64 txCount",
            "bytes32 inputsRoot",
            "uint64 nextPosition"
        ]
    );
    assert_eq!(function["stateMutability"], "pure");
}

#[test]
fn valid_batches_derive_record_by_record() {
    let pool = TxPool::new();
    let mut rng = Rng(0xba7c_0002);
    let mut checker = Checker::new();
    let mut by_len = BTreeMap::<usize, usize>::new();
    let mut txs = (0usize, 0u64);
    for i in 0..60 {
        let batch = random_batch(&mut rng, &pool);
        let data = batch.encode();
        let records = checker.walk(&format!("valid batch #{i}"), &data, &opening());
        *by_len.entry(batch.blocks.len()).or_default() += 1;
        txs.0 += batch
            .blocks
            .iter()
            .map(|b| b.transactions.len())
            .sum::<usize>();
        txs.1 += records.iter().map(|r| r.txCount).sum::<u64>();
        // The generator's batches are valid: every block derives.
        if records.len() != batch.blocks.len() || records.iter().any(|r| r.status != 0) {
            checker.failures.push(format!(
                "valid batch #{i}: {} of {} blocks derived: {records:?}",
                records.iter().filter(|r| r.status == 0).count(),
                batch.blocks.len()
            ));
        }
    }
    // No origin anywhere, on a head without one.
    let plain = batch(
        (0..3)
            .map(|i| BatchBlock {
                origin: None,
                gas_limit: 21_000,
                ..block(i, vec![pool.valid[0].clone(), pool.invalid[3].clone()])
            })
            .collect(),
    );
    let no_origin = Context {
        hasOrigin: false,
        originNumber: 0,
        originHash: B256::ZERO,
        ..opening()
    };
    let records = checker.walk("no origins", &plain.encode(), &no_origin);
    assert_eq!(records.len(), 3);
    // An origin with a zero hash or a zero number is still an origin.
    let odd = batch(vec![
        BatchBlock {
            origin: Some(BatchOrigin {
                number: 0,
                hash: B256::repeat_byte(5),
            }),
            ..block(0, vec![])
        },
        BatchBlock {
            origin: Some(BatchOrigin {
                number: 450,
                hash: B256::ZERO,
            }),
            ..block(1, vec![])
        },
    ]);
    let records = checker.walk("odd origins", &odd.encode(), &no_origin);
    assert_eq!(records.len(), 2);
    eprintln!(
        "valid batches by block count: {by_len:?}; {} transactions, {} valid",
        txs.0, txs.1
    );
    checker.finish("valid batches");
}

/// Each rule broken alone, at the first record (index 0) and at a later one (index 2 of 4),
/// with the values on both sides of every bound.
#[test]
fn each_rule_breaks_alone_at_its_bound() {
    let pool = TxPool::new();
    let tx = || vec![pool.valid[2].clone()];
    let base = || -> Vec<BatchBlock> { (0..4).map(|i| block(i, tx())).collect() };
    let mut checker = Checker::new();
    // (name, edit of the block, the context edit, the reason expected when broken or 0)
    type Edit = Box<dyn Fn(&mut BatchBlock, &mut Context)>;
    let lead = L1_TIME + MAX_TIMESTAMP_LEAD_SECS;
    let cases: Vec<(&str, Edit, u8)> = vec![
        (
            "gas limit 2^32",
            Box::new(|b, _| b.gas_limit = MAX_BLOCK_GAS_LIMIT),
            0,
        ),
        (
            "gas limit 2^32 + 1",
            Box::new(|b, _| b.gas_limit = MAX_BLOCK_GAS_LIMIT + 1),
            GAS_LIMIT,
        ),
        (
            "gas limit u64::MAX",
            Box::new(|b, _| b.gas_limit = u64::MAX),
            GAS_LIMIT,
        ),
        (
            "gas limit 0, no origin",
            Box::new(|b, _| {
                b.gas_limit = 0;
                b.origin = None
            }),
            0,
        ),
        (
            "timestamp at the lead",
            Box::new(move |b, _| b.timestamp = lead),
            0,
        ),
        (
            "timestamp one past the lead",
            Box::new(move |b, _| b.timestamp = lead + 1),
            TIMESTAMP_LEAD,
        ),
        (
            "timestamp u64::MAX",
            Box::new(|b, _| b.timestamp = u64::MAX),
            TIMESTAMP_LEAD,
        ),
        (
            "timestamp u64::MAX, L1 timestamp u64::MAX - 3600",
            Box::new(|b, c| {
                b.timestamp = u64::MAX;
                c.l1Timestamp = u64::MAX - 3600
            }),
            0,
        ),
        (
            "timestamp u64::MAX, L1 timestamp u64::MAX - 3601",
            Box::new(|b, c| {
                b.timestamp = u64::MAX;
                c.l1Timestamp = u64::MAX - 3601
            }),
            TIMESTAMP_LEAD,
        ),
        (
            "timestamp u64::MAX, L1 timestamp u64::MAX (saturating lead)",
            Box::new(|b, c| {
                b.timestamp = u64::MAX;
                c.l1Timestamp = u64::MAX
            }),
            0,
        ),
        (
            "timestamp 0 (stamped parent + 1)",
            Box::new(|b, _| b.timestamp = 0),
            0,
        ),
        (
            "timestamp 0 on a parent at the lead (stamped one past)",
            Box::new(move |b, c| {
                b.timestamp = 0;
                c.parentTimestamp = lead
            }),
            TIMESTAMP_LEAD,
        ),
        (
            "timestamp 0 on a parent one below the lead",
            Box::new(move |b, c| {
                b.timestamp = 0;
                c.parentTimestamp = lead - 1
            }),
            0,
        ),
        (
            "parent timestamp u64::MAX (saturating stamp), L1 at u64::MAX",
            Box::new(|b, c| {
                b.timestamp = 5;
                c.parentTimestamp = u64::MAX;
                c.l1Timestamp = u64::MAX
            }),
            0,
        ),
        (
            "parent timestamp u64::MAX, L1 time normal",
            Box::new(|_, c| c.parentTimestamp = u64::MAX),
            TIMESTAMP_LEAD,
        ),
        (
            "origin the previous one",
            Box::new(|b, c| b.origin = Some(origin(c.originNumber))),
            0,
        ),
        (
            "origin one before the previous",
            Box::new(|b, c| b.origin = Some(origin(c.originNumber - 1))),
            ORIGIN_BACK,
        ),
        (
            "origin 0 after none",
            Box::new(|b, c| {
                b.origin = Some(origin(0));
                c.hasOrigin = false
            }),
            0,
        ),
        (
            "origin below a stale context number without an origin",
            Box::new(|b, c| {
                b.origin = Some(origin(1));
                c.hasOrigin = false;
                c.originNumber = 450
            }),
            0,
        ),
        ("no origin after one", Box::new(|b, _| b.origin = None), 0),
        (
            "origin, gas limit exactly the L1-info deposit's and the largest deposit's",
            Box::new(|b, _| b.gas_limit = MIN_ORIGIN_GAS_LIMIT),
            0,
        ),
        (
            "origin, gas limit one below the L1-info deposit's and the largest deposit's",
            Box::new(|b, _| b.gas_limit = MIN_ORIGIN_GAS_LIMIT - 1),
            ORIGIN_WITHOUT_ROOM,
        ),
        (
            "no origin, gas limit one below the L1-info deposit's and the largest deposit's",
            Box::new(|b, _| {
                b.gas_limit = MIN_ORIGIN_GAS_LIMIT - 1;
                b.origin = None
            }),
            0,
        ),
        (
            "origin the L1 block before the batch's",
            Box::new(|b, _| b.origin = Some(origin(L1_NUMBER - 1))),
            0,
        ),
        (
            "origin the batch's L1 block",
            Box::new(|b, _| b.origin = Some(origin(L1_NUMBER))),
            ORIGIN_NOT_PAST,
        ),
        (
            "origin u64::MAX",
            Box::new(|b, _| b.origin = Some(origin(u64::MAX))),
            ORIGIN_NOT_PAST,
        ),
        (
            "origin exactly the sequencing window behind",
            Box::new(|b, c| {
                c.hasOrigin = false;
                c.l1BlockNumber = 400 + MAX_ORIGIN_AGE;
                b.origin = Some(origin(400))
            }),
            0,
        ),
        (
            "origin one block past the sequencing window",
            Box::new(|b, c| {
                c.hasOrigin = false;
                c.l1BlockNumber = 401 + MAX_ORIGIN_AGE;
                b.origin = Some(origin(400))
            }),
            ORIGIN_TOO_OLD,
        ),
        (
            "origin 0 on an L1 block far past the window",
            Box::new(|b, c| {
                c.hasOrigin = false;
                b.origin = Some(origin(0));
                c.l1BlockNumber = u64::MAX
            }),
            ORIGIN_TOO_OLD,
        ),
        (
            "origin on L1 block 0",
            Box::new(|b, c| {
                b.origin = Some(origin(0));
                c.hasOrigin = false;
                c.l1BlockNumber = 0
            }),
            ORIGIN_NOT_PAST,
        ),
        // Rules in `check`'s order: the first broken one is reported.
        (
            "gas limit and lead both broken",
            Box::new(|b, _| {
                b.gas_limit = u64::MAX;
                b.timestamp = u64::MAX
            }),
            GAS_LIMIT,
        ),
        (
            "lead and room both broken",
            Box::new(|b, _| {
                b.gas_limit = 1;
                b.timestamp = u64::MAX
            }),
            TIMESTAMP_LEAD,
        ),
        (
            "room and back both broken",
            Box::new(|b, c| {
                b.gas_limit = 1;
                b.origin = Some(origin(c.originNumber - 1))
            }),
            ORIGIN_WITHOUT_ROOM,
        ),
        (
            "back and too old both broken",
            Box::new(|b, c| {
                b.origin = Some(origin(c.originNumber - 1));
                c.l1BlockNumber = u64::MAX
            }),
            ORIGIN_BACK,
        ),
        (
            "back and not past both broken",
            Box::new(|b, c| {
                b.origin = Some(origin(1));
                c.originNumber = 600;
                c.l1BlockNumber = 0
            }),
            ORIGIN_BACK,
        ),
    ];
    for (name, edit, want) in &cases {
        for at in [0usize, 2] {
            let mut blocks = base();
            let mut ctx = opening();
            if at == 0 {
                edit(&mut blocks[0], &mut ctx);
            } else {
                // Walk to record `at` on the unbroken batch, then break the record and the
                // context it is derived on.
                let data = batch(blocks.clone()).encode();
                let mut c = opening();
                for _ in 0..at {
                    let Expected::Record(r) = reference(&data, &c) else {
                        panic!("base batch")
                    };
                    c = next_context(&c, &r);
                }
                edit(&mut blocks[at], &mut c);
                ctx = c;
            }
            let data = batch(blocks).encode();
            let what = format!("{name}, at record {at}");
            let record = checker.check(&what, &data, &ctx);
            if let Some(r) = record {
                if r.reason != *want {
                    checker.failures.push(format!(
                        "[{what}] the corpus expects {}, both say {}",
                        reason_name(*want),
                        reason_name(r.reason)
                    ));
                }
            }
        }
    }
    // Whole walks with the break at record 2: records 0 and 1 derive, 2 does not, 3 is not read.
    let mut blocks = base();
    blocks[2].gas_limit = MAX_BLOCK_GAS_LIMIT + 1;
    let records = checker.walk(
        "gas limit at record 2, walked",
        &batch(blocks).encode(),
        &opening(),
    );
    assert_eq!(
        records
            .iter()
            .map(|r| (r.status, r.reason))
            .collect::<Vec<_>>(),
        [(0, 0), (0, 0), (1, GAS_LIMIT)]
    );
    checker.finish("each rule at its bound");
}

/// The batch rules of opening: continuity (gap, overlap), the parent hash, and data with no
/// block (a forced batch's empty data, a header with `blockCount = 0`), which `Batch::decode`
/// refuses, so the composed rule says undecodable and never `NoBlocks`.
#[test]
fn opening_checks_continuity_and_parent() {
    let pool = TxPool::new();
    let mut checker = Checker::new();
    let blocks = || vec![block(0, vec![pool.valid[1].clone()]), block(1, vec![])];
    let with = |first_block: u64, parent_hash: B256| {
        Batch {
            first_block,
            parent_hash,
            blocks: blocks(),
        }
        .encode()
    };
    let cases: Vec<(&str, Vec<u8>, Context, u8)> = vec![
        ("continues", with(HEAD + 1, head_hash()), opening(), 0),
        ("gap of one", with(HEAD + 2, head_hash()), opening(), GAP),
        (
            "gap to u64::MAX",
            with(u64::MAX, head_hash()),
            opening(),
            GAP,
        ),
        (
            "overlap at the head",
            with(HEAD, head_hash()),
            opening(),
            OVERLAP,
        ),
        (
            "overlap at block 0",
            with(0, head_hash()),
            opening(),
            OVERLAP,
        ),
        (
            "parent hash",
            with(HEAD + 1, B256::repeat_byte(0x12)),
            opening(),
            PARENT_HASH,
        ),
        (
            "parent hash zero on a zero-hash head",
            with(HEAD + 1, B256::ZERO),
            Context {
                parentHash: B256::ZERO,
                ..opening()
            },
            0,
        ),
        (
            "head u64::MAX (nothing follows)",
            with(u64::MAX, head_hash()),
            Context {
                parentNumber: u64::MAX,
                ..opening()
            },
            OVERLAP,
        ),
        (
            "head u64::MAX, batch at 0 (no wrap)",
            with(0, head_hash()),
            Context {
                parentNumber: u64::MAX,
                ..opening()
            },
            OVERLAP,
        ),
        (
            "head u64::MAX - 1, batch at u64::MAX",
            with(u64::MAX, head_hash()),
            Context {
                parentNumber: u64::MAX - 1,
                ..opening()
            },
            0,
        ),
        (
            "genesis head 0, batch at 1",
            with(1, head_hash()),
            Context {
                parentNumber: 0,
                ..opening()
            },
            0,
        ),
        (
            "gap and wrong parent: gap first",
            with(HEAD + 5, B256::ZERO),
            opening(),
            GAP,
        ),
        ("forced batch: no data", vec![], opening(), UNDECODABLE),
        (
            "header with blockCount 0",
            {
                let mut d = with(HEAD + 1, head_hash())[..BATCH_HEADER_LEN].to_vec();
                d[41..45].copy_from_slice(&[0; 4]);
                d
            },
            opening(),
            UNDECODABLE,
        ),
    ];
    for (what, data, ctx, want) in &cases {
        if let Some(r) = checker.check(what, data, ctx) {
            if r.reason != *want {
                checker.failures.push(format!(
                    "[{what}] the corpus expects {}, both say {}",
                    reason_name(*want),
                    reason_name(r.reason)
                ));
            }
        }
    }
    // The empty batch as Rust builds it is refused by decode, not by `continues`.
    let empty = Batch {
        blocks: vec![],
        ..batch(vec![])
    };
    assert_eq!(empty.continues(HEAD, head_hash()), Ok(false));
    assert!(Batch::decode(&empty.encode()).is_err());
    checker.finish("opening");
}

/// A batch reaching past block `u64::MAX`: `continues` accepts a batch starting at `u64::MAX`
/// with more than one block; its second record would be block `2^64`, which cannot exist, and
/// both rules call it an overlap.
#[test]
fn a_block_after_u64_max() {
    let pool = TxPool::new();
    let mut checker = Checker::new();
    let data = Batch {
        first_block: u64::MAX,
        parent_hash: head_hash(),
        blocks: vec![block(0, vec![pool.valid[0].clone()]), block(1, vec![])],
    }
    .encode();
    let ctx = Context {
        parentNumber: u64::MAX - 1,
        ..opening()
    };
    let first = checker.check("first record, block u64::MAX", &data, &ctx);
    let first = first.expect("the first record agrees");
    assert_eq!(first.status, 0);
    let second = next_context(&ctx, &first);
    assert_eq!(second.parentNumber, u64::MAX);
    let after = checker.check("the record after block u64::MAX", &data, &second);
    let after = after.expect("the record after u64::MAX agrees");
    assert_eq!((after.status, after.reason), (1, OVERLAP));
    checker.finish("after u64::MAX");
}

/// Data that does not decode, at opening: every truncation of a small batch, trailing bytes,
/// bad versions, `extraLen = 33`, empty transactions, wrong counts; and random byte mutations
/// of valid batches, whatever Rust says of them (all fields compared when they still decode).
#[test]
fn undecodable_and_mutated_batches() {
    let pool = TxPool::new();
    let mut checker = Checker::new();
    let small = batch(vec![
        block(0, vec![pool.valid[2].clone()]),
        BatchBlock {
            extra_data: Bytes::new(),
            origin: None,
            ..block(1, vec![vec![0xc0]])
        },
    ])
    .encode();
    for cut in 0..small.len() {
        checker.check(&format!("truncated to {cut}"), &small[..cut], &opening());
    }
    type ByteEdit = Box<dyn Fn(&mut Vec<u8>)>;
    let edits: Vec<(&str, ByteEdit)> = vec![
        ("trailing zero byte", Box::new(|d| d.push(0))),
        ("trailing 32 bytes", Box::new(|d| d.extend([0xab; 32]))),
        ("version 1", Box::new(|d| d[0] = 1)),
        ("version 0xff", Box::new(|d| d[0] = 0xff)),
        (
            "blockCount 0",
            Box::new(|d| d[41..45].copy_from_slice(&[0; 4])),
        ),
        ("blockCount 1 of 2", Box::new(|d| d[44] = 1)),
        ("blockCount 3 of 2", Box::new(|d| d[44] = 3)),
        (
            "blockCount 2^32 - 1",
            Box::new(|d| d[41..45].copy_from_slice(&[0xff; 4])),
        ),
        ("extraLen 33", Box::new(|d| d[BATCH_HEADER_LEN + 48] = 33)),
        (
            "extraLen 0xff",
            Box::new(|d| d[BATCH_HEADER_LEN + 48] = 0xff),
        ),
        (
            "extraLen 32 (shifts the record)",
            Box::new(|d| d[BATCH_HEADER_LEN + 48] = 32),
        ),
    ];
    for (what, edit) in &edits {
        let mut d = small.clone();
        edit(&mut d);
        checker.check(what, &d, &opening());
    }
    // A zero-length transaction, and one whose length runs past the end.
    let zero_len = {
        let mut b = batch(vec![block(0, vec![])]).encode();
        let n = b.len();
        b[n - 4..].copy_from_slice(&1u32.to_be_bytes());
        b.extend(0u32.to_be_bytes());
        b
    };
    checker.check("zero-length transaction", &zero_len, &opening());
    let mut past = zero_len.clone();
    let n = past.len();
    past[n - 4..].copy_from_slice(&1u32.to_be_bytes());
    checker.check("txLen past the end", &past, &opening());
    past.push(0x80);
    checker.check(
        "one-byte transaction (decodes; invalid tx)",
        &past,
        &opening(),
    );

    // Random byte mutations of valid batches: Rust decides; every field is compared.
    let mut rng = Rng(0xba7c_0003);
    let batches: Vec<Vec<u8>> = (0..8)
        .map(|_| random_batch(&mut rng, &pool).encode())
        .collect();
    for i in 0..300 {
        let mut d = rng.pick(&batches).clone();
        let edits = 1 + rng.below(3);
        for _ in 0..edits {
            let at = rng.below(d.len());
            match rng.below(4) {
                0 => d[at] = rng.next() as u8,
                1 => d[at] ^= 1 << rng.below(8),
                // Aim at the header and the first record's length fields more often.
                2 => {
                    let at = rng.below(d.len().min(BATCH_HEADER_LEN + 160));
                    d[at] = *rng.pick(&[0, 1, 0x20, 0x21, 0xff]);
                }
                _ => {
                    let at = rng.below(d.len());
                    if rng.chance(50) {
                        d.remove(at);
                    } else {
                        d.insert(at, rng.next() as u8);
                    }
                }
            }
        }
        checker.walk(&format!("mutation #{i}"), &d, &opening());
    }
    checker.finish("undecodable and mutated");
}

/// A position that is not inside the batch reverts (never reads past the data); a position
/// inside the batch that is not a record may revert or return, but never halts.
#[test]
fn positions_outside_the_batch_revert() {
    let pool = TxPool::new();
    let data = batch(vec![
        block(0, vec![pool.valid[0].clone()]),
        block(1, vec![pool.valid[1].clone()]),
    ])
    .encode();
    let mut checker = Checker::new();
    let len = data.len() as u64;
    let mut failures = Vec::new();
    for position in [1, 2, 40, 44, len, len + 1, len + 32, 1 << 32, u64::MAX] {
        let ctx = Context {
            position,
            ..opening()
        };
        let (result, run) = checker.program.derive_record(&data, &ctx);
        if !matches!(run.ended, Ended::Reverted) {
            failures.push(format!("position {position} of {len}: {result:?}"));
        }
    }
    // Inside the batch but not at a record: no halt (checked by `Checker::check`).
    for position in BATCH_HEADER_LEN as u64 + 1..len {
        let ctx = Context {
            position,
            ..opening()
        };
        checker.check(&format!("position {position}"), &data, &ctx);
    }
    assert!(
        failures.is_empty(),
        "positions outside did not revert: {failures:#?}"
    );
    checker.finish("positions");
}

// ---------------------------------------------------------------------------------------------
// Gas
// ---------------------------------------------------------------------------------------------

/// Prints what deriving a record costs the program (gas and opcodes: the steps derivation adds).
#[test]
fn gas_of_records() {
    let key1 = key(1);
    let transfer = |nonce: u64| {
        let mut tx = Unsigned::transfer(2, CHAIN_ID);
        if let Unsigned::Eip1559(t) = &mut tx {
            t.nonce = nonce;
        }
        tx.signed(&key1)
    };
    let one = batch(vec![block(0, vec![transfer(0)])]).encode();
    let two = batch(vec![
        block(0, vec![transfer(0)]),
        block(1, vec![transfer(1)]),
    ])
    .encode();
    let five = batch((0..5).map(|i| block(i, vec![transfer(i)])).collect()).encode();
    let mut program = Program::new();
    let first = match reference(&two, &opening()) {
        Expected::Record(r) => r,
        other => panic!("{other:?}"),
    };
    let later = next_context(&opening(), &first);
    let samples: Vec<(&str, &[u8], Context)> = vec![
        (
            "opening a 1-block batch, 1 EIP-1559 transfer",
            &one,
            opening(),
        ),
        (
            "a later record (2nd of 2), 1 EIP-1559 transfer",
            &two,
            later,
        ),
        (
            "opening a 5-block batch, 1 EIP-1559 transfer each",
            &five,
            opening(),
        ),
    ];
    eprintln!("== deriveRecord gas (Cancun; execution = used - intrinsic)");
    for (what, data, ctx) in &samples {
        let (result, run) = program.derive_record(data, ctx);
        let call = call_data(data, ctx);
        eprintln!(
            "  {what} ({} batch bytes): {} gas used, {} execution gas, {} opcodes",
            data.len(),
            run.gas_used,
            run.gas_used.saturating_sub(intrinsic_gas(&call)),
            run.opcodes,
        );
        let Expected::Record(want) = reference(data, ctx) else {
            panic!("{what}: not a record")
        };
        assert_eq!(result.as_ref(), Ok(&want), "{what}");
        assert_eq!((want.status, want.txCount), (0, 1), "{what}");
    }
}
