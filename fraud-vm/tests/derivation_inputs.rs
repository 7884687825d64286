//! Differential tests of the derivation program's header, base-fee and deposit entries
//! (`contracts/src/derivation/Header.sol`, `BaseFee.sol`, `DepositInput.sol`, exposed by
//! `Derivation.sol`) against the Rust reference:
//!
//! - `decodeHeader(bytes)` must revert exactly when `alloy_rlp::decode_exact::<Header>` fails,
//!   and otherwise return every field alloy decodes (the bloom and extra data by their hash,
//!   the optional fields as a count and values) and `keccak256` of the bytes;
//! - `nextBaseFee(gasUsed, gasLimit, baseFee)` and `baseFeeAfter(header)` must be
//!   `chain::next_base_fee` with `BaseFeeParams::ethereum()` (the chain's,
//!   `ChainGenesis::from_genesis`), alloy's `calc_next_block_base_fee` wherever that does not
//!   overflow, and `ChainSpec::next_base_fee` (`execute::next_header`);
//! - `l1InfoDepositInput(origin, l2BlockNumber)` must be `TxInput::from_tx` of
//!   `deposit::l1_info_deposit`, and `userDepositInput(message, data)` must be
//!   `TxInput::from_tx` of `DepositMessage::tx_deposit` with `DepositMessage::hash`, with the
//!   leaf hashes `TxInput::hash`.
//!
//! Corpus (fixed seeds): the headers of L2 blocks built by `BlockBuilder` (deposits, failing
//! deposits that use their whole gas limit, extra data of 0 to 32 bytes) and L1-style headers
//! with 0 to 8 optional fields and values of every width, headers alloy encodes with a gap in
//! the optional fields, hand-made non-canonical encodings, every truncation and random byte
//! mutations of encoded headers; base fees on a grid around the elasticity target with zero
//! and `u64::MAX` values and random triples; deposits of every field width (creation, mint
//! above `u128`, value, empty data, data of RLP length boundaries and up to 120,000 bytes) and
//! L1-info deposits. Each test prints its number of calls and disagreements
//! (`--no-capture`); `gas_of_entries` prints what each entry costs.

use std::collections::BTreeMap;

use alloy_consensus::{Header, EMPTY_OMMER_ROOT_HASH};
use alloy_eips::{
    eip1559::{calc_next_block_base_fee, BaseFeeParams},
    eip7685::EMPTY_REQUESTS_HASH,
};
use alloy_primitives::{hex, keccak256, Address, Bloom, Bytes, B256, B64, U256};
use alloy_rlp::Encodable;
use alloy_sol_types::{SolCall, SolError, SolValue};
use common::{intrinsic_gas, Ended, Program, Rng, Run};
use fraud_vm::{
    chain::ChainGenesis,
    deposit::{l1_info_deposit, L1BlockInfo},
    execute::{BlockAttributes, BlockBuilder, ExecutableTx},
    memory::MemoryState,
    message::{DepositMessage, SYSTEM_DEPOSITOR},
    vm::verifier::input::TxInput,
};
use op_alloy_consensus::{OpTxEnvelope, TxDeposit};

mod common;

mod abi {
    alloy_sol_types::sol! {
        /// `Header.Fields`.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct HeaderFields {
            bytes32 hash;
            bytes32 parentHash;
            bytes32 ommersHash;
            address beneficiary;
            bytes32 stateRoot;
            bytes32 transactionsRoot;
            bytes32 receiptsRoot;
            bytes32 logsBloomHash;
            uint256 difficulty;
            uint256 number;
            uint256 gasLimit;
            uint256 gasUsed;
            uint256 timestamp;
            bytes32 extraDataHash;
            uint256 extraDataLen;
            bytes32 mixHash;
            bytes8 nonce;
            HeaderOptional optional;
        }

        /// `Header.Optional`.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct HeaderOptional {
            uint256 count;
            uint256 baseFeePerGas;
            bytes32 withdrawalsRoot;
            uint256 blobGasUsed;
            uint256 excessBlobGas;
            bytes32 parentBeaconBlockRoot;
            bytes32 requestsHash;
            bytes32 blockAccessListHash;
            uint256 slotNumber;
        }

        /// fraud_vm's `TxInput`, word for word (`UserTx.TxInput`).
        #[derive(Debug, Default, PartialEq, Eq)]
        struct TxInput {
            bytes32 txHash;
            uint256 txType;
            address sender;
            uint256 nonce;
            uint256 gasLimit;
            bool isCreate;
            address to;
            uint256 value;
            uint256 maxFeePerGas;
            uint256 maxPriorityFeePerGas;
            uint256 inputLen;
            bytes32 inputRoot;
            uint256 inputZeroBytes;
            uint256 accessListAddresses;
            uint256 accessListKeys;
            bytes32 accessListHash;
            uint256 mint;
            uint256 encodedLen;
        }

        /// `DepositInput.L1BlockInfo`.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct L1BlockInfo {
            uint64 number;
            bytes32 hash;
            uint64 timestamp;
            uint64 basefee;
        }

        /// `DepositInput.Message`.
        #[derive(Debug, Default, PartialEq, Eq)]
        struct Message {
            uint64 index;
            address from;
            address to;
            uint256 mint;
            uint256 value;
            uint64 gasLimit;
            bool isCreation;
            uint64 l1BlockNumber;
            uint64 l1Timestamp;
        }

        error InvalidHeader();

        function decodeHeader(bytes calldata header) external pure returns (HeaderFields memory);
        function nextBaseFee(uint64 gasUsed, uint64 gasLimit, uint64 baseFee) external pure returns (uint256);
        function baseFeeAfter(bytes calldata parent) external pure returns (uint256);
        function l1InfoDepositInput(L1BlockInfo calldata origin, uint64 l2BlockNumber) external pure returns (bytes32 inputHash, TxInput memory input);
        function userDepositInput(Message calldata message, bytes calldata data) external pure returns (bytes32 messageHash, bytes32 inputHash, TxInput memory input);
    }
}

// ---------------------------------------------------------------------------------------------
// The program's entries
// ---------------------------------------------------------------------------------------------

/// A call's decoded return, or why there is none.
fn returned<C: SolCall>(run: &Run) -> Result<C::Return, String> {
    match run.ended {
        Ended::Returned => C::abi_decode_returns_validate(&run.output)
            .map_err(|e| format!("undecodable return ({e}): {}", run.output)),
        _ => Err(run.describe()),
    }
}

impl Program {
    fn call<C: SolCall>(&mut self, call: &C) -> (Result<C::Return, String>, Run) {
        let run = self.run(call.abi_encode());
        (returned::<C>(&run), run)
    }
}

// ---------------------------------------------------------------------------------------------
// Counting calls and disagreements
// ---------------------------------------------------------------------------------------------

struct Checker {
    program: Program,
    calls: usize,
    outcomes: BTreeMap<&'static str, usize>,
    failures: Vec<String>,
}

impl Checker {
    fn new() -> Self {
        Self {
            program: Program::new(),
            calls: 0,
            outcomes: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    fn outcome(&mut self, outcome: &'static str) {
        *self.outcomes.entry(outcome).or_default() += 1;
    }

    fn finish(self, title: &str) {
        eprintln!(
            "== {title}: {} calls, outcomes {:?}, {} disagreements",
            self.calls,
            self.outcomes,
            self.failures.len()
        );
        assert!(self.calls > 0, "{title}: no calls");
        assert!(
            self.failures.is_empty(),
            "{title}: {} disagreements, first 10:\n{}",
            self.failures.len(),
            self.failures
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
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

// ---------------------------------------------------------------------------------------------
// Headers: the reference
// ---------------------------------------------------------------------------------------------

/// What `Header.decode` must return for `raw`, which alloy decoded to `h`.
fn expected_fields(raw: &[u8], h: &Header) -> abi::HeaderFields {
    let optional = [
        h.base_fee_per_gas.is_some(),
        h.withdrawals_root.is_some(),
        h.blob_gas_used.is_some(),
        h.excess_blob_gas.is_some(),
        h.parent_beacon_block_root.is_some(),
        h.requests_hash.is_some(),
        h.block_access_list_hash.is_some(),
        h.slot_number.is_some(),
    ];
    // alloy reads the optional fields in order while bytes are left: the present ones are a
    // prefix.
    let count = optional.iter().take_while(|p| **p).count();
    assert_eq!(
        count,
        optional.iter().filter(|p| **p).count(),
        "alloy decoded optional fields that are not a prefix"
    );
    abi::HeaderFields {
        hash: keccak256(raw),
        parentHash: h.parent_hash,
        ommersHash: h.ommers_hash,
        beneficiary: h.beneficiary,
        stateRoot: h.state_root,
        transactionsRoot: h.transactions_root,
        receiptsRoot: h.receipts_root,
        logsBloomHash: keccak256(h.logs_bloom),
        difficulty: h.difficulty,
        number: U256::from(h.number),
        gasLimit: U256::from(h.gas_limit),
        gasUsed: U256::from(h.gas_used),
        timestamp: U256::from(h.timestamp),
        extraDataHash: keccak256(&h.extra_data),
        extraDataLen: U256::from(h.extra_data.len()),
        mixHash: h.mix_hash,
        nonce: h.nonce,
        optional: abi::HeaderOptional {
            count: U256::from(count),
            baseFeePerGas: U256::from(h.base_fee_per_gas.unwrap_or_default()),
            withdrawalsRoot: h.withdrawals_root.unwrap_or_default(),
            blobGasUsed: U256::from(h.blob_gas_used.unwrap_or_default()),
            excessBlobGas: U256::from(h.excess_blob_gas.unwrap_or_default()),
            parentBeaconBlockRoot: h.parent_beacon_block_root.unwrap_or_default(),
            requestsHash: h.requests_hash.unwrap_or_default(),
            blockAccessListHash: h.block_access_list_hash.unwrap_or_default(),
            slotNumber: U256::from(h.slot_number.unwrap_or_default()),
        },
    }
}

fn header_diffs(rust: &abi::HeaderFields, program: &abi::HeaderFields) -> Vec<String> {
    let mut diffs = field_diffs!(rust, program;
        hash, parentHash, ommersHash, beneficiary, stateRoot, transactionsRoot, receiptsRoot,
        logsBloomHash, difficulty, number, gasLimit, gasUsed, timestamp, extraDataHash,
        extraDataLen, mixHash, nonce);
    let (rust, program) = (&rust.optional, &program.optional);
    diffs.extend(field_diffs!(rust, program;
        count, baseFeePerGas, withdrawalsRoot, blobGasUsed, excessBlobGas,
        parentBeaconBlockRoot, requestsHash, blockAccessListHash, slotNumber));
    diffs
}

/// The base fee after `parent` as `execute::next_header` computes it (see
/// [`reference_base_fee`]).
fn reference_base_fee_after(parent: &Header) -> (u64, bool) {
    match parent.base_fee_per_gas {
        None => {
            assert_eq!(parent.next_block_base_fee(BaseFeeParams::ethereum()), None);
            (0, false)
        }
        Some(fee) => reference_base_fee(parent.gas_used, parent.gas_limit, fee),
    }
}

fn encode(h: &Header) -> Vec<u8> {
    let mut out = Vec::new();
    h.encode(&mut out);
    out
}

impl Checker {
    /// Checks `decodeHeader(raw)` and, when alloy decodes `raw`, `baseFeeAfter(raw)`.
    fn header(&mut self, what: &str, raw: &[u8]) {
        self.calls += 1;
        let reference = alloy_rlp::decode_exact::<Header>(raw);
        let (result, run) = self.program.call(&abi::decodeHeaderCall {
            header: Bytes::copy_from_slice(raw),
        });
        let fail = |why: String| {
            format!(
                "[{what}] {why}\n  header ({} bytes): 0x{}",
                raw.len(),
                hex::encode(&raw[..raw.len().min(800)])
            )
        };
        match (&reference, result) {
            (Ok(h), Ok(program)) => {
                self.outcome("decoded");
                let want = expected_fields(raw, h);
                let diffs = header_diffs(&want, &program);
                if !diffs.is_empty() {
                    self.failures.push(fail(diffs.join("\n  ")));
                }
                // alloy's decoding is strict, so the block hash it would compute is the hash of
                // these very bytes.
                if h.hash_slow() != keccak256(raw) {
                    self.failures
                        .push(fail("alloy's re-encoding differs from the bytes".into()));
                }
                self.base_fee_after(what, raw, h);
            }
            (Ok(h), Err(why)) => {
                self.failures
                    .push(fail(format!("rust decodes {h:?}\n  program: {why}")));
            }
            (Err(e), Ok(program)) => {
                self.failures.push(fail(format!(
                    "rust refuses ({e}), program returns {program:?}"
                )));
            }
            (Err(_), Err(_)) => {
                self.outcome("refused");
                let selector = abi::InvalidHeader::SELECTOR;
                if !matches!(run.ended, Ended::Reverted) || run.output.as_ref() != selector {
                    self.failures.push(fail(format!(
                        "refused, but the program did not revert with InvalidHeader(): {}",
                        run.describe()
                    )));
                }
            }
        }
    }

    fn base_fee_after(&mut self, what: &str, raw: &[u8], h: &Header) {
        self.calls += 1;
        let (want, _) = reference_base_fee_after(h);
        let (result, _) = self.program.call(&abi::baseFeeAfterCall {
            parent: Bytes::copy_from_slice(raw),
        });
        if result != Ok(U256::from(want)) {
            self.failures.push(format!(
                "[{what}] baseFeeAfter: rust {want}, program {result:?} (gas used {}, limit {}, \
                 base fee {:?})",
                h.gas_used, h.gas_limit, h.base_fee_per_gas
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Headers: the corpus
// ---------------------------------------------------------------------------------------------

const GENESIS_GAS_LIMIT: u64 = 1_000_000;

/// Headers of L2 blocks the node's `BlockBuilder` builds: block 0, then blocks with an
/// L1-info deposit, minting deposits and deposits that fail and use their whole gas limit
/// (so blocks end above, at and below the elasticity target), extra data of 0 to 32 bytes.
fn l2_headers() -> Vec<(Header, B256)> {
    let funded = Address::repeat_byte(0x11);
    let json = serde_json::json!({
        "config": { "chainId": common::CHAIN_ID },
        "gasLimit": format!("{GENESIS_GAS_LIMIT:#x}"),
        "baseFeePerGas": "0x3b9aca00",
        "timestamp": "0x65000000",
        "coinbase": "0x4200000000000000000000000000000000000011",
        "extraData": "0x",
        "alloc": { funded.to_string(): { "balance": "0x3635c9adc5dea00000" } },
    });
    let genesis = ChainGenesis::from_json(&json.to_string()).expect("genesis");
    let block0 = genesis.build().expect("block 0");
    let mut state = MemoryState::new();
    state.apply(&block0);
    let mut headers = vec![(block0.header.clone(), block0.hash)];
    let (mut head, mut head_hash) = (block0.header, block0.hash);
    // (gas limit, failing deposit's gas, extra data length)
    let plan: &[(u64, u64, usize)] = &[
        (1_200_000, 900_000, 0),
        (1_200_000, 0, 1),
        (2_000_000, 0, 32),
        (3_000_000, 1_500_000, 31),
        (3_000_000, 1_430_000, 5),
        (30_000_000, 20_000_000, 32),
        (u64::from(u32::MAX), 0, 0),
    ];
    for (i, &(gas_limit, failing_gas, extra)) in plan.iter().enumerate() {
        let number = head.number + 1;
        let attrs = BlockAttributes {
            timestamp: head.timestamp + 2,
            gas_limit,
            prevrandao: keccak256(head_hash),
            extra_data: Bytes::from(vec![0xe0 | i as u8; extra]),
        };
        let mut builder = BlockBuilder::new(&genesis.spec, &state, &head, head_hash, attrs);
        let origin = L1BlockInfo {
            number: 100 + number,
            hash: keccak256(number.to_be_bytes()),
            timestamp: 1_700_000_000 + 12 * number,
            basefee: 7 + number,
        };
        let mut txs = vec![OpTxEnvelope::from(l1_info_deposit(&origin, number))];
        txs.push(OpTxEnvelope::from(
            DepositMessage {
                index: 2 * number,
                from: Address::repeat_byte(0x21),
                to: Address::repeat_byte(0x22),
                mint: U256::from(10u64.pow(18)),
                value: U256::from(1),
                gas_limit: 100_000,
                data: Bytes::from_static(&[1, 2, 3]),
                ..Default::default()
            }
            .tx_deposit(),
        ));
        if failing_gas > 0 {
            // More value than the sender has: included as failed, using its whole gas limit.
            txs.push(OpTxEnvelope::from(
                DepositMessage {
                    index: 2 * number + 1,
                    from: Address::repeat_byte(0x31),
                    to: Address::repeat_byte(0x32),
                    value: U256::from(1),
                    gas_limit: failing_gas,
                    ..Default::default()
                }
                .tx_deposit(),
            ));
        }
        for tx in txs {
            let sender = match &tx {
                OpTxEnvelope::Deposit(d) => d.from,
                _ => unreachable!("deposits only"),
            };
            builder
                .execute(ExecutableTx { tx, sender })
                .expect("deposits are included");
        }
        let block = builder.finish().expect("finish");
        state.apply(&block);
        headers.push((block.header.clone(), block.hash));
        (head, head_hash) = (block.header, block.hash);
    }
    headers
}

/// A `u64` of any width, often 0, `u64::MAX` or a single-byte value.
fn u64_of(rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0 => 0,
        1 => u64::MAX,
        2 => rng.below(0x80) as u64,
        _ => rng.u64(),
    }
}

/// An L1-style header with the first `optional` optional fields, values from `rng` (every width
/// of every integer, sometimes zero, sometimes the type's maximum).
fn l1_header(rng: &mut Rng, optional: usize) -> Header {
    let extra_len = *rng.pick(&[0, 0, 1, 1, 2, 31, 32, 33, 55, 56, 57, 97, 255, 256, 1000]);
    let mut extra = rng.bytes(extra_len);
    if extra_len == 1 && rng.chance(50) {
        extra[0] = rng.below(0x80) as u8;
    }
    let bloom = if rng.chance(30) {
        Bloom::ZERO
    } else {
        Bloom::from_slice(&rng.bytes(256))
    };
    let difficulty = match rng.below(5) {
        0 => U256::ZERO,
        1 => U256::MAX,
        _ => rng.int(32),
    };
    let number = u64_of(rng);
    let gas_limit = u64_of(rng);
    let gas_used = u64_of(rng);
    let timestamp = u64_of(rng);
    let base_fee = u64_of(rng);
    let blob_gas_used = u64_of(rng);
    let excess_blob_gas = u64_of(rng);
    let slot_number = u64_of(rng);
    let some = |i: usize| optional > i;
    Header {
        parent_hash: rng.word(),
        ommers_hash: if rng.chance(70) {
            EMPTY_OMMER_ROOT_HASH
        } else {
            rng.word()
        },
        beneficiary: rng.address(),
        state_root: rng.word(),
        transactions_root: rng.word(),
        receipts_root: rng.word(),
        logs_bloom: bloom,
        difficulty,
        number,
        gas_limit,
        gas_used,
        timestamp,
        extra_data: extra.into(),
        mix_hash: rng.word(),
        nonce: if rng.chance(50) {
            B64::ZERO
        } else {
            B64::from_slice(&rng.bytes(8))
        },
        base_fee_per_gas: some(0).then_some(base_fee),
        withdrawals_root: some(1).then(|| rng.word()),
        blob_gas_used: some(2).then_some(blob_gas_used),
        excess_blob_gas: some(3).then_some(excess_blob_gas),
        parent_beacon_block_root: some(4).then(|| rng.word()),
        requests_hash: some(5).then(|| {
            if rng.chance(50) {
                EMPTY_REQUESTS_HASH
            } else {
                rng.word()
            }
        }),
        block_access_list_hash: some(6).then(|| rng.word()),
        slot_number: some(7).then_some(slot_number),
    }
}

/// An anvil-like Prague header (difficulty and nonce 0, empty ommers, 6 optional fields).
fn anvil_header(number: u64) -> Header {
    Header {
        parent_hash: keccak256(number.to_be_bytes()),
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: Address::ZERO,
        state_root: keccak256(b"state"),
        transactions_root: keccak256(b"txs"),
        receipts_root: keccak256(b"receipts"),
        number,
        gas_limit: 30_000_000,
        gas_used: 21_000,
        timestamp: number.saturating_add(1_700_000_000),
        mix_hash: keccak256(b"prevrandao"),
        base_fee_per_gas: Some(875_000_000),
        withdrawals_root: Some(alloy_consensus::EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

/// RLP of a list whose payload is `payload`.
fn rlp_list(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(payload);
    out
}

/// The encoded items of a header's list, in order.
fn items(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut buf = raw;
    let head = alloy_rlp::Header::decode(&mut buf).expect("a list");
    let mut payload = &buf[..head.payload_length];
    let mut items = Vec::new();
    while !payload.is_empty() {
        let before = payload;
        let h = alloy_rlp::Header::decode(&mut payload).expect("an item");
        payload = &payload[h.payload_length..];
        items.push(before[..before.len() - payload.len()].to_vec());
    }
    items
}

/// The header's fields in RLP order: 15 required, then 8 optional.
const FIELD_NAMES: [&str; 23] = [
    "parentHash",
    "ommersHash",
    "beneficiary",
    "stateRoot",
    "transactionsRoot",
    "receiptsRoot",
    "logsBloom",
    "difficulty",
    "number",
    "gasLimit",
    "gasUsed",
    "timestamp",
    "extraData",
    "mixHash",
    "nonce",
    "baseFeePerGas",
    "withdrawalsRoot",
    "blobGasUsed",
    "excessBlobGas",
    "parentBeaconBlockRoot",
    "requestsHash",
    "blockAccessListHash",
    "slotNumber",
];

/// Hand-made encodings around what alloy accepts: each item of a header replaced by a
/// non-canonical, oversized, undersized or wrong-kind item, items added or removed, the list
/// header and trailing bytes broken.
fn structural_cases(base: &Header) -> Vec<(String, Vec<u8>)> {
    let raw = encode(base);
    let items = items(&raw);
    let with = |i: usize, item: Vec<u8>| {
        let mut its = items.clone();
        its[i] = item;
        rlp_list(&its.concat())
    };
    let mut cases = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = FIELD_NAMES[i];
        // The payload of the item (strings only in a header).
        let mut b = item.as_slice();
        let h = alloy_rlp::Header::decode(&mut b).expect("item");
        let payload = b[..h.payload_length].to_vec();
        let string = |p: &[u8]| {
            let mut out = Vec::new();
            p.encode(&mut out);
            out
        };
        let long_form = |p: &[u8]| {
            let mut out = vec![0xb8, p.len() as u8];
            out.extend_from_slice(p);
            out
        };
        let mut variants: Vec<(&str, Vec<u8>)> = vec![
            (
                "leading zero byte",
                string(&[&[0u8][..], &payload[..]].concat()),
            ),
            (
                "one byte more",
                string(&[&payload[..], &[0x01u8][..]].concat()),
            ),
            ("empty", vec![0x80]),
            ("single 0x00", vec![0x00]),
            ("single 0x01", vec![0x01]),
            ("0x81 0x05", vec![0x81, 0x05]),
            ("0x81 0x80", vec![0x81, 0x80]),
            ("as a list", rlp_list(&payload)),
            ("empty list", vec![0xc0]),
            ("9 bytes", string(&[0x01; 9])),
            ("8 bytes", string(&[0xff; 8])),
            ("33 bytes", string(&[0x01; 33])),
            ("32 bytes", string(&[0xff; 32])),
            (
                "32 bytes with a leading zero",
                string(&[&[0u8][..], &[0xffu8; 31][..]].concat()),
            ),
        ];
        if payload.len() < 56 {
            variants.push(("long form below 56", long_form(&payload)));
        }
        if !payload.is_empty() {
            variants.push(("one byte less", string(&payload[1..])));
        }
        if payload.len() >= 56 {
            // A long length with a leading zero byte.
            let mut out = vec![0xb9, 0x00, payload.len() as u8];
            out.extend_from_slice(&payload);
            variants.push(("long length with a leading zero", out));
        }
        for (v, item) in variants {
            cases.push((format!("{name}: {v}"), with(i, item)));
        }
        cases.push((format!("without {name}"), {
            let mut its = items.clone();
            its.remove(i);
            rlp_list(&its.concat())
        }));
    }
    let all = items.concat();
    let mut extra_items = vec![
        ("an empty string", vec![0x80]),
        ("a word", {
            let mut out = Vec::new();
            B256::repeat_byte(7).encode(&mut out);
            out
        }),
        ("an integer", vec![0x05]),
        ("an empty list", vec![0xc0]),
    ];
    for (what, item) in extra_items.drain(..) {
        cases.push((
            format!("{} fields + {what}", items.len()),
            rlp_list(&[&all[..], &item].concat()),
        ));
    }
    cases.push(("trailing zero byte".into(), [&raw[..], &[0]].concat()));
    cases.push(("trailing empty list".into(), [&raw[..], &[0xc0]].concat()));
    cases.push(("outer as a string".into(), {
        let mut out = Vec::new();
        all.as_slice().encode(&mut out);
        out
    }));
    cases.push(("list length one too long".into(), {
        let mut out = Vec::new();
        alloy_rlp::Header {
            list: true,
            payload_length: all.len() + 1,
        }
        .encode(&mut out);
        out.extend_from_slice(&all);
        out.push(0x80);
        out
    }));
    cases.push(("list length one too short".into(), {
        let mut out = Vec::new();
        alloy_rlp::Header {
            list: true,
            payload_length: all.len() - 1,
        }
        .encode(&mut out);
        out.extend_from_slice(&all);
        out
    }));
    cases.push(("list length with a leading zero".into(), {
        let mut out = vec![0xf9 + 1, 0x00];
        out.extend_from_slice(&(all.len() as u16).to_be_bytes());
        out.extend_from_slice(&all);
        out
    }));
    cases.push(("empty input".into(), vec![]));
    cases.push(("empty list".into(), vec![0xc0]));
    cases
}

/// Headers alloy encodes with an optional field missing before a present one: the fields
/// after the gap shift, so alloy decodes them into other fields or refuses them.
fn gapped_headers(rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    let mut cases = Vec::new();
    for missing in 0..7 {
        for last in missing + 1..8 {
            let mut h = l1_header(rng, last + 1);
            match missing {
                0 => h.base_fee_per_gas = None,
                1 => h.withdrawals_root = None,
                2 => h.blob_gas_used = None,
                3 => h.excess_blob_gas = None,
                4 => h.parent_beacon_block_root = None,
                5 => h.requests_hash = None,
                _ => h.block_access_list_hash = None,
            }
            // Small integers sometimes, so a shifted integer can land on an integer field.
            if rng.chance(50) {
                h.blob_gas_used = h.blob_gas_used.map(|_| 3);
                h.excess_blob_gas = h.excess_blob_gas.map(|_| 0);
                h.slot_number = h.slot_number.map(|_| 0x1234);
            }
            cases.push((
                format!("gap at optional field {missing}, up to {last}"),
                encode(&h),
            ));
        }
    }
    cases
}

/// Random edits of a valid encoding.
fn mutate(rng: &mut Rng, raw: &[u8]) -> Vec<u8> {
    let mut d = raw.to_vec();
    for _ in 0..1 + rng.below(3) {
        if d.is_empty() {
            d.push(rng.next() as u8);
            continue;
        }
        let at = rng.below(d.len());
        match rng.below(6) {
            0 => d[at] = rng.next() as u8,
            1 => d[at] ^= 1 << rng.below(8),
            // Headers, lengths and integers sit near small offsets of items: aim at the
            // list header and the bytes around the integer fields more often.
            2 => {
                let at = rng.below(d.len().min(4));
                d[at] = *rng.pick(&[0x00, 0x01, 0x7f, 0x80, 0xb7, 0xb8, 0xc0, 0xf7, 0xf8, 0xff]);
            }
            3 => {
                let at = d.len() - 1 - rng.below(d.len().min(120));
                d[at] = *rng.pick(&[0x00, 0x01, 0x7f, 0x80, 0x81, 0x88, 0x89, 0xa0, 0xc0]);
            }
            4 => {
                d.remove(at);
            }
            _ => d.insert(at, rng.next() as u8),
        }
    }
    d
}

#[test]
fn l2_and_l1_headers_decode_as_alloy_decodes() {
    let mut checker = Checker::new();
    let l2 = l2_headers();
    let mut above_target = 0;
    for (i, (h, hash)) in l2.iter().enumerate() {
        let raw = encode(h);
        assert_eq!(keccak256(&raw), *hash, "block {i}'s hash");
        if h.gas_used > h.gas_limit / 2 {
            above_target += 1;
        }
        checker.header(&format!("L2 block {i}"), &raw);
    }
    assert!(above_target >= 2, "the L2 corpus has blocks above target");
    let mut rng = Rng(0x4ead_0001);
    for optional in 0..=8 {
        for i in 0..100 {
            let h = l1_header(&mut rng, optional);
            checker.header(
                &format!("L1 header, {optional} optional fields, #{i}"),
                &encode(&h),
            );
        }
    }
    for n in [0, 1, 1_000_000, u64::MAX] {
        checker.header(
            &format!("anvil-like Prague header {n}"),
            &encode(&anvil_header(n)),
        );
    }
    for (what, raw) in gapped_headers(&mut rng) {
        checker.header(&what, &raw);
    }
    checker.finish("headers");
}

#[test]
fn non_canonical_and_truncated_headers() {
    let mut checker = Checker::new();
    let l2 = l2_headers();
    let mut rng = Rng(0x4ead_0002);
    let full = l1_header(&mut rng, 8);
    let bases: Vec<(&str, Header)> = vec![
        ("L2 block 1", l2[1].0.clone()),
        ("no optional fields", l1_header(&mut rng, 0)),
        ("8 optional fields", full),
        ("anvil-like Prague header", anvil_header(7)),
    ];
    for (name, base) in &bases {
        let fields = items(&encode(base)).len();
        for (what, raw) in structural_cases(base) {
            // What the corpus means to build: a header with a required field missing, a
            // ninth optional field or trailing bytes is refused; one more optional field of
            // the right type is accepted.
            let decoded = alloy_rlp::decode_exact::<Header>(&raw);
            let required_missing = FIELD_NAMES[..15]
                .iter()
                .any(|f| what == format!("without {f}"));
            if what.starts_with("trailing")
                || required_missing
                || (fields == 23 && what.starts_with("23 fields +"))
            {
                assert!(decoded.is_err(), "[{name}: {what}] alloy accepts it");
            }
            checker.header(&format!("{name}: {what}"), &raw);
        }
        let raw = encode(base);
        for cut in 0..raw.len() {
            checker.header(&format!("{name}: truncated to {cut}"), &raw[..cut]);
        }
    }
    checker.finish("non-canonical and truncated headers");
}

#[test]
fn mutated_headers() {
    let mut checker = Checker::new();
    let mut rng = Rng(0x4ead_0003);
    let mut pool: Vec<Vec<u8>> = l2_headers().iter().map(|(h, _)| encode(h)).collect();
    for optional in 0..=8 {
        pool.push(encode(&l1_header(&mut rng, optional)));
    }
    for i in 0..8000 {
        let base = rng.pick(&pool).clone();
        let raw = mutate(&mut rng, &base);
        checker.header(&format!("mutation #{i}"), &raw);
    }
    checker.finish("mutated headers");
}

// ---------------------------------------------------------------------------------------------
// Base fee
// ---------------------------------------------------------------------------------------------

/// `chain::next_base_fee` with the chain's parameters, and whether alloy's
/// `calc_next_block_base_fee` would have overflowed `u64` there (where the rule saturates).
fn reference_base_fee(gas_used: u64, gas_limit: u64, base_fee: u64) -> (u64, bool) {
    let params = BaseFeeParams::ethereum();
    let next = fraud_vm::chain::next_base_fee(params, gas_used, gas_limit, base_fee);
    let target = gas_limit / params.elasticity_multiplier as u64;
    if target != 0 && gas_used > target {
        let rise = (base_fee as u128 * (gas_used - target) as u128
            / (target as u128 * params.max_change_denominator))
            .max(1);
        let saturated = base_fee as u128 + rise > u64::MAX as u128;
        if !saturated {
            assert_eq!(
                next,
                calc_next_block_base_fee(gas_used, gas_limit, base_fee, params)
            );
        }
        return (next, saturated);
    }
    if target != 0 {
        assert_eq!(
            next,
            calc_next_block_base_fee(gas_used, gas_limit, base_fee, params)
        );
    }
    (next, false)
}

#[test]
fn base_fee_around_the_target() {
    let mut checker = Checker::new();
    let mut overflowed = 0;
    let mut check = |checker: &mut Checker, used: u64, limit: u64, fee: u64| {
        checker.calls += 1;
        let (want, overflow) = reference_base_fee(used, limit, fee);
        overflowed += usize::from(overflow);
        let target = limit / 2;
        checker.outcome(match used.cmp(&target) {
            _ if target == 0 => "target 0",
            std::cmp::Ordering::Less => "below target",
            std::cmp::Ordering::Equal => "at target",
            std::cmp::Ordering::Greater => "above target",
        });
        let (result, _) = checker.program.call(&abi::nextBaseFeeCall {
            gasUsed: used,
            gasLimit: limit,
            baseFee: fee,
        });
        if result != Ok(U256::from(want)) {
            checker.failures.push(format!(
                "nextBaseFee(used {used}, limit {limit}, fee {fee}): rust {want} \
                 (overflow: {overflow}), program {result:?}"
            ));
        }
    };
    let limits = [
        0u64,
        1,
        2,
        3,
        4,
        5,
        15,
        16,
        17,
        21_000,
        1_000_000,
        30_000_000,
        30_000_001,
        u64::from(u32::MAX),
        u64::MAX / 2,
        u64::MAX - 1,
        u64::MAX,
    ];
    let fees = [
        0u64,
        1,
        7,
        8,
        9,
        15,
        16,
        17,
        1_000_000_000,
        u64::MAX / 9 * 8,
        u64::MAX / 8 * 7,
        u64::MAX - 1,
        u64::MAX,
    ];
    for &limit in &limits {
        let target = limit / 2;
        let mut useds = vec![
            0,
            1,
            target.saturating_sub(2),
            target.saturating_sub(1),
            target,
            target + 1,
            target + 2,
            target + target / 8,
            limit.saturating_sub(1),
            limit,
            limit.saturating_add(1),
            u64::MAX,
        ];
        useds.sort_unstable();
        useds.dedup();
        for &used in &useds {
            for &fee in &fees {
                check(&mut checker, used, limit, fee);
            }
        }
    }
    let mut rng = Rng(0xba5e_0001);
    for _ in 0..20_000 {
        let limit = rng.u64();
        let used = match rng.below(4) {
            0 => rng.u64(),
            1 => (limit / 2 + rng.below(3) as u64).saturating_sub(1),
            _ => rng.u64() % limit.saturating_add(1),
        };
        let fee = rng.u64();
        check(&mut checker, used, limit, fee);
    }
    eprintln!("   of which {overflowed} overflow u64 in alloy's addition (the rule saturates)");
    checker.finish("base fee");
}

// ---------------------------------------------------------------------------------------------
// Deposits
// ---------------------------------------------------------------------------------------------

/// The program's struct for a Rust `TxInput`; checks that its ABI encoding is the `TxInput`'s
/// word encoding (so the field order of the ABI is the reference's).
fn expected_input(input: &TxInput) -> abi::TxInput {
    let expected = abi::TxInput {
        txHash: input.tx_hash,
        txType: U256::from(input.tx_type),
        sender: input.sender,
        nonce: U256::from(input.nonce),
        gasLimit: U256::from(input.gas_limit),
        isCreate: input.to.is_none(),
        to: input.to.unwrap_or_default(),
        value: input.value,
        maxFeePerGas: U256::from(input.max_fee_per_gas),
        maxPriorityFeePerGas: U256::from(input.max_priority_fee_per_gas),
        inputLen: U256::from(input.input_len),
        inputRoot: input.input_root,
        inputZeroBytes: U256::from(input.input_zero_bytes),
        accessListAddresses: U256::from(input.access_list.0),
        accessListKeys: U256::from(input.access_list.1),
        accessListHash: input.access_list_hash,
        mint: input.mint,
        encodedLen: U256::from(input.encoded_len),
    };
    assert_eq!(
        expected.abi_encode(),
        input.encode(),
        "the ABI struct is not TxInput's word encoding"
    );
    expected
}

fn input_diffs(rust: &abi::TxInput, program: &abi::TxInput) -> Vec<String> {
    field_diffs!(rust, program;
        txHash, txType, sender, nonce, gasLimit, isCreate, to, value, maxFeePerGas,
        maxPriorityFeePerGas, inputLen, inputRoot, inputZeroBytes, accessListAddresses,
        accessListKeys, accessListHash, mint, encodedLen)
}

/// `TxInput::from_tx` of a deposit transaction.
fn deposit_input(tx: TxDeposit) -> TxInput {
    let from = tx.from;
    TxInput::from_tx(&OpTxEnvelope::from(tx), from)
}

fn message_abi(m: &DepositMessage) -> abi::Message {
    abi::Message {
        index: m.index,
        from: m.from,
        to: m.to,
        mint: m.mint,
        value: m.value,
        gasLimit: m.gas_limit,
        isCreation: m.is_creation,
        l1BlockNumber: m.l1_block_number,
        l1Timestamp: m.l1_timestamp,
    }
}

impl Checker {
    fn user_deposit(&mut self, what: &str, m: &DepositMessage) -> Option<Run> {
        self.calls += 1;
        let want = deposit_input(m.tx_deposit());
        assert_eq!(want.tx_hash, m.l2_tx_hash(), "[{what}] l2_tx_hash");
        let want_abi = expected_input(&want);
        let (result, run) = self.program.call(&abi::userDepositInputCall {
            message: message_abi(m),
            data: m.data.clone(),
        });
        self.outcome(match (m.is_creation, m.data.is_empty()) {
            (true, _) => "creation",
            (false, true) => "call, no data",
            (false, false) => "call with data",
        });
        let fail = |why: String| {
            format!(
                "[{what}] {why}\n  message: {:?}",
                DepositMessage {
                    data: Bytes::copy_from_slice(&m.data[..m.data.len().min(200)]),
                    ..m.clone()
                }
            )
        };
        match result {
            Ok(r) => {
                let mut diffs = input_diffs(&want_abi, &r.input);
                if r.messageHash != m.hash() {
                    diffs.push(format!(
                        "messageHash: rust {}, program {}",
                        m.hash(),
                        r.messageHash
                    ));
                }
                if r.inputHash != want.hash() {
                    diffs.push(format!(
                        "inputHash: rust {}, program {}",
                        want.hash(),
                        r.inputHash
                    ));
                }
                if diffs.is_empty() {
                    return Some(run);
                }
                self.failures.push(fail(diffs.join("\n  ")));
            }
            Err(why) => self.failures.push(fail(why)),
        }
        None
    }

    fn l1_info(&mut self, what: &str, origin: &L1BlockInfo, l2_block_number: u64) -> Option<Run> {
        self.calls += 1;
        self.outcome("L1-info deposit");
        let want = deposit_input(l1_info_deposit(origin, l2_block_number));
        assert_eq!(want.sender, SYSTEM_DEPOSITOR);
        let want_abi = expected_input(&want);
        let (result, run) = self.program.call(&abi::l1InfoDepositInputCall {
            origin: abi::L1BlockInfo {
                number: origin.number,
                hash: origin.hash,
                timestamp: origin.timestamp,
                basefee: origin.basefee,
            },
            l2BlockNumber: l2_block_number,
        });
        let fail = |why: String| {
            format!("[{what}] {why}\n  origin {origin:?}, L2 block {l2_block_number}")
        };
        match result {
            Ok(r) => {
                let mut diffs = input_diffs(&want_abi, &r.input);
                if r.inputHash != want.hash() {
                    diffs.push(format!(
                        "inputHash: rust {}, program {}",
                        want.hash(),
                        r.inputHash
                    ));
                }
                if diffs.is_empty() {
                    return Some(run);
                }
                self.failures.push(fail(diffs.join("\n  ")));
            }
            Err(why) => self.failures.push(fail(why)),
        }
        None
    }
}

/// Data of `len` bytes, `zero_percent` of them zero.
fn data(rng: &mut Rng, len: usize, zero_percent: u64) -> Bytes {
    (0..len)
        .map(|_| {
            if rng.chance(zero_percent) {
                0
            } else {
                (rng.next() as u8).max(1)
            }
        })
        .collect::<Vec<u8>>()
        .into()
}

fn random_message(rng: &mut Rng) -> DepositMessage {
    let is_creation = rng.chance(25);
    let len = if rng.chance(50) {
        *rng.pick(&[
            0, 1, 2, 31, 32, 33, 55, 56, 57, 63, 64, 65, 255, 256, 257, 1000,
        ])
    } else {
        rng.below(600)
    };
    let zero_percent = *rng.pick(&[0, 10, 50, 90, 100]);
    let mut d = data(rng, len, zero_percent);
    if len == 1 && rng.chance(50) {
        // A single byte below 0x80 is its own RLP encoding.
        d = Bytes::from(vec![rng.below(0x80) as u8]);
    }
    DepositMessage {
        index: rng.u64(),
        from: rng.address(),
        to: if is_creation && rng.chance(50) {
            Address::ZERO
        } else {
            rng.address()
        },
        mint: match rng.below(6) {
            0 => U256::from(u128::MAX),
            1 => U256::from(u128::MAX) + U256::from(1),
            2 => U256::MAX,
            _ => rng.int(16),
        },
        value: rng.int(32),
        gas_limit: match rng.below(4) {
            0 => 0,
            1 => u64::MAX,
            _ => rng.u64(),
        },
        is_creation,
        data: d,
        l1_block_number: rng.u64(),
        l1_timestamp: rng.u64(),
    }
}

#[test]
fn user_deposits() {
    let mut checker = Checker::new();
    let mut rng = Rng(0xde90_0001);
    for i in 0..3000 {
        let m = random_message(&mut rng);
        checker.user_deposit(&format!("random deposit #{i}"), &m);
    }
    // Large data, up to the Portal's 120,000 bytes, at word and RLP-length boundaries.
    let base = DepositMessage {
        index: 7,
        from: Address::repeat_byte(0xf3),
        to: Address::repeat_byte(0x70),
        mint: U256::from(10u64.pow(18)),
        value: U256::from(5),
        gas_limit: 20_000_000,
        l1_block_number: 12,
        l1_timestamp: 1_700_000_000,
        ..Default::default()
    };
    for (len, zeros) in [
        (65_535, 10),
        (65_536, 0),
        (65_537, 50),
        (100_000, 90),
        (119_999, 33),
        (120_000, 0),
        (120_000, 100),
    ] {
        let m = DepositMessage {
            data: data(&mut rng, len, zeros),
            is_creation: len == 119_999,
            ..base.clone()
        };
        checker.user_deposit(&format!("{len} bytes, {zeros}% zero"), &m);
    }
    checker.finish("user deposits");
}

#[test]
fn l1_info_deposits() {
    let mut checker = Checker::new();
    let mut rng = Rng(0x11f0_0001);
    let edge = [0, 1, 0x7f, 0x80, 0xff, 0x100, u64::MAX - 1, u64::MAX];
    for &v in &edge {
        let origin = L1BlockInfo {
            number: v,
            hash: B256::repeat_byte(v as u8),
            timestamp: v,
            basefee: v,
        };
        for &n in &edge {
            checker.l1_info(&format!("edge values {v}, L2 block {n}"), &origin, n);
        }
    }
    for i in 0..1000 {
        let origin = L1BlockInfo {
            number: rng.u64(),
            hash: rng.word(),
            timestamp: rng.u64(),
            basefee: rng.u64(),
        };
        let n = rng.u64();
        checker.l1_info(&format!("random origin #{i}"), &origin, n);
    }
    checker.finish("L1-info deposits");
}

// ---------------------------------------------------------------------------------------------
// Gas
// ---------------------------------------------------------------------------------------------

fn report(what: &str, calldata: &[u8], run: &Run) {
    eprintln!(
        "  {what} ({} calldata bytes): {} gas used, {} execution gas, {} opcodes",
        calldata.len(),
        run.gas_used,
        run.gas_used.saturating_sub(intrinsic_gas(calldata)),
        run.opcodes
    );
}

/// Prints what each entry costs for typical inputs (gas and opcodes: the steps they add).
#[test]
fn gas_of_entries() {
    let mut program = Program::new();
    eprintln!("== derivation input entries, gas (Cancun; execution = used - intrinsic)");
    let l2 = l2_headers();
    let l2_raw = encode(&l2[3].0);
    let anvil = anvil_header(1_000_000);
    let anvil_raw = encode(&anvil);
    for (what, raw, header) in [
        ("decodeHeader, L2 header (Cancun fields)", &l2_raw, &l2[3].0),
        ("decodeHeader, anvil-like Prague header", &anvil_raw, &anvil),
    ] {
        let call = abi::decodeHeaderCall {
            header: Bytes::copy_from_slice(raw),
        };
        let (result, run) = program.call(&call);
        assert_eq!(result, Ok(expected_fields(raw, header)), "{what}");
        report(what, &call.abi_encode(), &run);
    }
    let call = abi::baseFeeAfterCall {
        parent: Bytes::copy_from_slice(&l2_raw),
    };
    let (result, run) = program.call(&call);
    let want = l2[3]
        .0
        .next_block_base_fee(BaseFeeParams::ethereum())
        .expect("base fee");
    assert_eq!(result, Ok(U256::from(want)));
    assert_eq!(
        want,
        l2[4].0.base_fee_per_gas.expect("base fee"),
        "the node's next base fee"
    );
    report(
        "baseFeeAfter, L2 header (decode + base fee)",
        &call.abi_encode(),
        &run,
    );
    let call = abi::nextBaseFeeCall {
        gasUsed: 20_000_000,
        gasLimit: 30_000_000,
        baseFee: 1_000_000_000,
    };
    let (result, run) = program.call(&call);
    assert_eq!(result, Ok(U256::from(1_041_666_666u64)));
    report("nextBaseFee, above target", &call.abi_encode(), &run);

    let origin = L1BlockInfo {
        number: 20_000_000,
        hash: keccak256(b"l1 block"),
        timestamp: 1_700_000_000,
        basefee: 875_000_000,
    };
    let call = abi::l1InfoDepositInputCall {
        origin: abi::L1BlockInfo {
            number: origin.number,
            hash: origin.hash,
            timestamp: origin.timestamp,
            basefee: origin.basefee,
        },
        l2BlockNumber: 1234,
    };
    let (result, run) = program.call(&call);
    let want = deposit_input(l1_info_deposit(&origin, 1234));
    assert_eq!(result.expect("returns").input, expected_input(&want));
    report("l1InfoDepositInput", &call.abi_encode(), &run);

    let mut rng = Rng(0x9a5_0001);
    for len in [0usize, 100, 1_000, 120_000] {
        let m = DepositMessage {
            index: 3,
            from: Address::repeat_byte(0xf3),
            to: Address::repeat_byte(0x70),
            mint: U256::from(10u64.pow(18)),
            value: U256::from(10u64.pow(17)),
            gas_limit: 100_000,
            data: data(&mut rng, len, 30),
            l1_block_number: 12,
            l1_timestamp: 1_700_000_000,
            ..Default::default()
        };
        let call = abi::userDepositInputCall {
            message: message_abi(&m),
            data: m.data.clone(),
        };
        let (result, run) = program.call(&call);
        let want = deposit_input(m.tx_deposit());
        let r = result.expect("returns");
        assert_eq!(r.input, expected_input(&want));
        assert_eq!(r.messageHash, m.hash());
        report(
            &format!("userDepositInput, {len} data bytes"),
            &call.abi_encode(),
            &run,
        );
    }
}
