//! Differential test of the derivation program (`contracts/src/derivation/Derivation.sol`,
//! compiled to `contracts/out/Derivation.json`) against the Rust reference: the program's
//! `userTxInput(raw, chainId)` must say what `fraud_vm::batch::decode_user_tx` says about the
//! bytes of a batch transaction and, when they are a valid user transaction, return
//! `TxInput::from_tx` of it and `TxInput::hash`; `userTxInputs(txs, chainId)` must return the
//! count and `fraud_vm::vm::input::root` of the valid transactions of a block's transaction
//! section, and revert on malformed framing.
//!
//! The program's deployed code runs in revm (Cancun, no fee or nonce checks, a 10^9 gas
//! limit). The corpus is deterministic (fixed seeds of a small PRNG): valid transactions of the
//! three user types, structured invalid encodings (chain ids, EIP-155, signatures, every kind of
//! non-canonical RLP, overflowing fields, list lengths, trailing bytes, truncations, unknown and
//! non-user types), random byte mutations and random edits of the RLP structure. Each case
//! states what the generator expects (valid, invalid or either); a Rust result against that
//! expectation is a corpus bug and is reported separately from a disagreement of the program
//! with Rust.

use std::collections::BTreeMap;

use alloy::signers::{local::PrivateKeySigner, SignerSync};
use alloy_consensus::{crypto::SECP256K1N_HALF, Sealed, SignableTransaction, TxEip7702};
use alloy_eips::{
    eip1559::BaseFeeParams,
    eip2718::Encodable2718,
    eip2930::{AccessList, AccessListItem},
    eip7702::Authorization,
};
use alloy_primitives::{hex, keccak256, Address, Bytes, Signature, TxKind, B256, U256};
use alloy_sol_types::{SolCall, SolValue};
use common::{intrinsic_gas, key, Ended, Program, Rng, Run, Unsigned, CHAIN_ID};
use fraud_vm::{
    batch::{decode_user_tx, UserTxError},
    chain::ChainSpec,
    execute::ExecutableTx,
    vm::verifier::input::{self, TxInput},
};
use op_alloy_consensus::{OpTxEnvelope, TxDeposit};
use revm::primitives::hardfork::SpecId;

mod common;

mod abi {
    alloy_sol_types::sol! {
        /// fraud_vm's `TxInput`, word for word (`recipient` = `isCreate, to`; `access_list` =
        /// `accessListAddresses, accessListKeys`).
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

        function userTxInput(bytes calldata raw, uint256 chainId) external pure returns (bool valid, bytes32 inputHash, TxInput memory input);

        function userTxInputs(bytes calldata txs, uint256 chainId) external pure returns (uint256 count, bytes32 inputsRoot);
    }
}

// ---------------------------------------------------------------------------------------------
// The program in revm
// ---------------------------------------------------------------------------------------------

impl Program {
    /// `userTxInput(raw, chainId)`: the decoded return, or why there is none.
    fn user_tx_input(
        &mut self,
        raw: &[u8],
        chain_id: U256,
    ) -> (Result<abi::userTxInputReturn, String>, Run) {
        let call = abi::userTxInputCall {
            raw: Bytes::copy_from_slice(raw),
            chainId: chain_id,
        };
        let run = self.run(call.abi_encode());
        let decoded = match run.ended {
            Ended::Returned => abi::userTxInputCall::abi_decode_returns_validate(&run.output)
                .map_err(|e| format!("undecodable return ({e}): {}", run.output)),
            _ => Err(run.describe()),
        };
        (decoded, run)
    }

    /// `userTxInputs(txs, chainId)`.
    fn user_tx_inputs(
        &mut self,
        txs: &[u8],
        chain_id: u64,
    ) -> (Result<abi::userTxInputsReturn, String>, Run) {
        let call = abi::userTxInputsCall {
            txs: Bytes::copy_from_slice(txs),
            chainId: U256::from(chain_id),
        };
        let run = self.run(call.abi_encode());
        let decoded = match run.ended {
            Ended::Returned => abi::userTxInputsCall::abi_decode_returns_validate(&run.output)
                .map_err(|e| format!("undecodable return ({e}): {}", run.output)),
            _ => Err(run.describe()),
        };
        (decoded, run)
    }
}

// ---------------------------------------------------------------------------------------------
// The Rust reference
// ---------------------------------------------------------------------------------------------

fn chain(chain_id: u64) -> ChainSpec {
    ChainSpec {
        chain_id,
        spec: SpecId::CANCUN,
        base_fee_params: BaseFeeParams::ethereum(),
        fee_recipient: Address::ZERO,
    }
}

fn reference(raw: &[u8], chain_id: u64) -> Result<ExecutableTx, UserTxError> {
    decode_user_tx(&chain(chain_id), raw)
}

fn tx_input(tx: &ExecutableTx) -> TxInput {
    TxInput::from_tx(&tx.tx, tx.sender)
}

/// The program's struct for a Rust `TxInput`; checks that its ABI encoding is the `TxInput`'s
/// word encoding (so the field order of the ABI is the reference's).
fn expected(input: &TxInput) -> abi::TxInput {
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

fn describe_reference(result: &Result<ExecutableTx, UserTxError>) -> String {
    match result {
        Ok(tx) => {
            let input = tx_input(tx);
            format!("VALID, hash {}, {:?}", input.hash(), expected(&input))
        }
        Err(e) => format!("INVALID: {e} ({e:?})"),
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

fn input_diffs(rust: &abi::TxInput, program: &abi::TxInput) -> Vec<String> {
    field_diffs!(rust, program;
        txHash, txType, sender, nonce, gasLimit, isCreate, to, value, maxFeePerGas,
        maxPriorityFeePerGas, inputLen, inputRoot, inputZeroBytes, accessListAddresses,
        accessListKeys, accessListHash, mint, encodedLen)
}

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

const TYPE_NAMES: [&str; 3] = ["legacy", "eip2930", "eip1559"];

/// What the generator expects the reference to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Valid,
    Invalid,
    Either,
}

#[derive(Clone, Debug)]
struct Case {
    group: &'static str,
    note: String,
    raw: Vec<u8>,
    chain_id: u64,
    expect: Expect,
}

impl Case {
    fn new(group: &'static str, note: impl Into<String>, raw: Vec<u8>, expect: Expect) -> Self {
        Self {
            group,
            note: note.into(),
            raw,
            chain_id: CHAIN_ID,
            expect,
        }
    }

    fn on_chain(mut self, chain_id: u64) -> Self {
        self.chain_id = chain_id;
        self
    }
}

/// Valid transactions: random ones of each type and chosen edge values.
fn valid_corpus() -> Vec<Case> {
    let mut rng = Rng(0xdea1_0001);
    let keys: Vec<PrivateKeySigner> = (1..=4).map(key).collect();
    let mut cases = Vec::new();
    for i in 0..600 {
        let ty = (i % 3) as u8;
        let tx = Unsigned::random(&mut rng, ty, CHAIN_ID);
        let raw = tx.signed(rng.pick(&keys));
        cases.push(Case::new(
            "valid: random",
            format!("{} #{i}", TYPE_NAMES[ty as usize]),
            raw,
            Expect::Valid,
        ));
    }
    for ty in 0..3u8 {
        let name = TYPE_NAMES[ty as usize];
        let key = &keys[0];
        // All fields at their maxima, then all at zero.
        let mut max = Unsigned::transfer(ty, CHAIN_ID);
        let mut zero = Unsigned::transfer(ty, CHAIN_ID);
        match (&mut max, &mut zero) {
            (Unsigned::Legacy(m), Unsigned::Legacy(z)) => {
                (m.nonce, m.gas_price, m.gas_limit, m.value) =
                    (u64::MAX, u128::MAX, u64::MAX, U256::MAX);
                m.to = TxKind::Call(Address::repeat_byte(0xff));
                (z.nonce, z.gas_price, z.gas_limit, z.value) = (0, 0, 0, U256::ZERO);
                z.to = TxKind::Call(Address::ZERO);
            }
            (Unsigned::Eip2930(m), Unsigned::Eip2930(z)) => {
                (m.nonce, m.gas_price, m.gas_limit, m.value) =
                    (u64::MAX, u128::MAX, u64::MAX, U256::MAX);
                m.to = TxKind::Call(Address::repeat_byte(0xff));
                (z.nonce, z.gas_price, z.gas_limit, z.value) = (0, 0, 0, U256::ZERO);
                z.to = TxKind::Call(Address::ZERO);
                z.access_list = AccessList(vec![AccessListItem {
                    address: Address::ZERO,
                    storage_keys: vec![B256::ZERO, B256::ZERO],
                }]);
            }
            (Unsigned::Eip1559(m), Unsigned::Eip1559(z)) => {
                (m.nonce, m.max_fee_per_gas, m.max_priority_fee_per_gas) =
                    (u64::MAX, u128::MAX, u128::MAX);
                (m.gas_limit, m.value) = (u64::MAX, U256::MAX);
                m.to = TxKind::Call(Address::repeat_byte(0xff));
                (z.nonce, z.max_fee_per_gas, z.max_priority_fee_per_gas) = (0, 0, 0);
                (z.gas_limit, z.value) = (0, U256::ZERO);
                z.to = TxKind::Create;
            }
            _ => unreachable!("same type"),
        }
        cases.push(Case::new(
            "valid: edge values",
            format!("{name} all maxima"),
            max.signed(key),
            Expect::Valid,
        ));
        cases.push(Case::new(
            "valid: edge values",
            format!("{name} all zero"),
            zero.signed(key),
            Expect::Valid,
        ));
        for chain_id in [
            0,
            1,
            0x7f,
            0x80,
            0xff,
            0x100,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let tx = Unsigned::transfer(ty, chain_id);
            cases.push(
                Case::new(
                    "valid: other chain ids",
                    format!("{name} chain {chain_id}"),
                    tx.signed(key),
                    Expect::Valid,
                )
                .on_chain(chain_id),
            );
        }
        // Every input length 0..=70 around the word and RLP short/long boundaries, and a
        // 4-entry access list.
        for len in [
            0usize, 1, 30, 31, 32, 33, 54, 55, 56, 57, 64, 65, 70, 1024, 4097,
        ] {
            let mut tx = Unsigned::transfer(ty, CHAIN_ID);
            let data: Bytes = (0..len).map(|i| (i % 3) as u8 * 0x55).collect();
            match &mut tx {
                Unsigned::Legacy(t) => t.input = data,
                Unsigned::Eip2930(t) => t.input = data,
                Unsigned::Eip1559(t) => t.input = data,
            }
            cases.push(Case::new(
                "valid: input boundaries",
                format!("{name} input of {len} bytes"),
                tx.signed(key),
                Expect::Valid,
            ));
        }
        if ty != 0 {
            let list = AccessList(
                (0..4u8)
                    .map(|i| AccessListItem {
                        address: Address::repeat_byte(i + 1),
                        storage_keys: (0..i).map(B256::repeat_byte).collect(),
                    })
                    .collect(),
            );
            let mut tx = Unsigned::transfer(ty, CHAIN_ID);
            match &mut tx {
                Unsigned::Eip2930(t) => t.access_list = list,
                Unsigned::Eip1559(t) => t.access_list = list,
                Unsigned::Legacy(_) => unreachable!("typed"),
            }
            cases.push(Case::new(
                "valid: edge values",
                format!("{name} 4-entry access list"),
                tx.signed(key),
                Expect::Valid,
            ));
        }
    }
    cases
}

// A minimal RLP tree, to write non-canonical and malformed encodings of real transactions.

#[derive(Clone, Debug)]
enum Rlp {
    Str(Vec<u8>),
    List(Vec<Rlp>),
    /// Bytes spliced in verbatim (a deliberately non-canonical or malformed item).
    Raw(Vec<u8>),
}

fn be_len(len: usize) -> Vec<u8> {
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

fn rlp_header(offset: u8, len: usize) -> Vec<u8> {
    if len < 56 {
        vec![offset + len as u8]
    } else {
        let be = be_len(len);
        let mut h = vec![offset + 55 + be.len() as u8];
        h.extend_from_slice(&be);
        h
    }
}

fn rlp_encode(item: &Rlp) -> Vec<u8> {
    match item {
        Rlp::Str(b) if b.len() == 1 && b[0] < 0x80 => b.clone(),
        Rlp::Str(b) => [rlp_header(0x80, b.len()), b.clone()].concat(),
        Rlp::List(items) => {
            let payload = rlp_payload(items);
            [rlp_header(0xc0, payload.len()), payload].concat()
        }
        Rlp::Raw(b) => b.clone(),
    }
}

fn rlp_payload(items: &[Rlp]) -> Vec<u8> {
    items.iter().flat_map(rlp_encode).collect()
}

/// Parses one canonical item (our own encodings only), returning it and the rest.
fn rlp_parse(buf: &[u8]) -> (Rlp, &[u8]) {
    let b = buf[0];
    let (list, start, len) = match b {
        0x00..=0x7f => return (Rlp::Str(vec![b]), &buf[1..]),
        0x80..=0xb7 => (false, 1, (b - 0x80) as usize),
        0xb8..=0xbf => {
            let ll = (b - 0xb7) as usize;
            let len = buf[1..1 + ll]
                .iter()
                .fold(0usize, |a, x| (a << 8) | *x as usize);
            (false, 1 + ll, len)
        }
        0xc0..=0xf7 => (true, 1, (b - 0xc0) as usize),
        0xf8..=0xff => {
            let ll = (b - 0xf7) as usize;
            let len = buf[1..1 + ll]
                .iter()
                .fold(0usize, |a, x| (a << 8) | *x as usize);
            (true, 1 + ll, len)
        }
    };
    let (body, rest) = buf[start..].split_at(len);
    if !list {
        return (Rlp::Str(body.to_vec()), rest);
    }
    let mut items = Vec::new();
    let mut body = body;
    while !body.is_empty() {
        let (item, tail) = rlp_parse(body);
        items.push(item);
        body = tail;
    }
    (Rlp::List(items), rest)
}

/// A transaction's type byte (None: legacy) and its list's fields.
fn split(raw: &[u8]) -> (Option<u8>, Vec<Rlp>) {
    let (ty, body) = if raw[0] < 0x80 {
        (Some(raw[0]), &raw[1..])
    } else {
        (None, raw)
    };
    match rlp_parse(body) {
        (Rlp::List(fields), []) => (ty, fields),
        other => panic!("not a transaction list: {other:?}"),
    }
}

fn join(ty: Option<u8>, fields: &[Rlp]) -> Vec<u8> {
    let mut out: Vec<u8> = ty.into_iter().collect();
    out.extend(rlp_encode(&Rlp::List(fields.to_vec())));
    out
}

/// `join` with the list header computed for `payload + delta` bytes.
fn join_with_list_len(ty: Option<u8>, fields: &[Rlp], delta: isize) -> Vec<u8> {
    let payload = rlp_payload(fields);
    let len = (payload.len() as isize + delta) as usize;
    let mut out: Vec<u8> = ty.into_iter().collect();
    out.extend(rlp_header(0xc0, len));
    out.extend(payload);
    out
}

/// Field positions of each type's list.
struct Layout {
    /// The integer fields: (index, name, most bytes the decoded type holds).
    ints: &'static [(usize, &'static str, usize)],
    to: usize,
    data: usize,
    access_list: Option<usize>,
    /// Legacy `v` or typed `yParity`.
    v: usize,
}

const LEGACY: Layout = Layout {
    ints: &[
        (0, "nonce", 8),
        (1, "gasPrice", 16),
        (2, "gasLimit", 8),
        (4, "value", 32),
        (6, "v", 16),
        (7, "r", 32),
        (8, "s", 32),
    ],
    to: 3,
    data: 5,
    access_list: None,
    v: 6,
};

const EIP2930: Layout = Layout {
    ints: &[
        (0, "chainId", 8),
        (1, "nonce", 8),
        (2, "gasPrice", 16),
        (3, "gasLimit", 8),
        (5, "value", 32),
        (9, "r", 32),
        (10, "s", 32),
    ],
    to: 4,
    data: 6,
    access_list: Some(7),
    v: 8,
};

const EIP1559: Layout = Layout {
    ints: &[
        (0, "chainId", 8),
        (1, "nonce", 8),
        (2, "maxPriorityFeePerGas", 16),
        (3, "maxFeePerGas", 16),
        (4, "gasLimit", 8),
        (6, "value", 32),
        (10, "r", 32),
        (11, "s", 32),
    ],
    to: 5,
    data: 7,
    access_list: Some(8),
    v: 9,
};

fn layout(ty: u8) -> &'static Layout {
    match ty {
        0 => &LEGACY,
        1 => &EIP2930,
        _ => &EIP1559,
    }
}

/// Non-canonical encodings of the integer (or byte string) `value`, all refused by RLP.
fn non_canonical(value: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let len = value.len();
    let be = be_len(len);
    let mut out = vec![(
        "length of length with a leading zero",
        [
            vec![0xb7 + 1 + be.len() as u8, 0],
            be.clone(),
            value.to_vec(),
        ]
        .concat(),
    )];
    if len < 56 {
        out.push((
            "long-form length below 56",
            [vec![0xb8, len as u8], value.to_vec()].concat(),
        ));
    }
    if len == 1 && value[0] < 0x80 {
        out.push(("single byte < 0x80 as 0x81 xx", vec![0x81, value[0]]));
    }
    out
}

/// Structured invalid encodings (and some whose validity is the reference's call).
fn invalid_corpus() -> Vec<Case> {
    use Expect::{Either, Invalid};
    let mut rng = Rng(0xdea1_0002);
    let key1 = key(1);
    let n = SECP256K1N_HALF * U256::from(2) + U256::from(1);
    let p = U256::from_be_slice(&hex!(
        "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f"
    ));
    let mut cases = Vec::new();

    // Empty input and every single byte.
    cases.push(Case::new("invalid: tiny", "empty", vec![], Invalid));
    for b in 0..=255u8 {
        cases.push(Case::new(
            "invalid: tiny",
            format!("single byte {b:#04x}"),
            vec![b],
            Invalid,
        ));
    }

    for ty in 0..3u8 {
        let name = TYPE_NAMES[ty as usize];
        let lay = layout(ty);
        // Two bases per type: a small transfer (single-byte integers) and a random one.
        let bases = [
            Unsigned::transfer(ty, CHAIN_ID),
            Unsigned::random(&mut rng, ty, CHAIN_ID),
        ];
        for (b, base) in bases.iter().enumerate() {
            let sig = base.sign(&key1);
            let raw = base.encode(sig);
            let (tyb, fields) = split(&raw);
            let tag = format!("{name} base {b}");

            // Chain ids.
            let other = base.with_chain_id(Some(CHAIN_ID + 1));
            cases.push(Case::new(
                "invalid: chain id",
                format!("{tag}: signed for chain {}", CHAIN_ID + 1),
                other.signed(&key1),
                Invalid,
            ));
            cases.push(
                Case::new(
                    "invalid: chain id",
                    format!("{tag}: signed for chain {CHAIN_ID}, checked on chain 1"),
                    raw.clone(),
                    Invalid,
                )
                .on_chain(1),
            );
            if ty == 0 {
                let unprotected = base.with_chain_id(None);
                cases.push(Case::new(
                    "invalid: chain id",
                    format!("{tag}: no chain id (v = 27/28)"),
                    unprotected.signed(&key1),
                    Invalid,
                ));
            } else {
                let zero = base.with_chain_id(Some(0));
                cases.push(Case::new(
                    "invalid: chain id",
                    format!("{tag}: chain id 0"),
                    zero.signed(&key1),
                    Invalid,
                ));
            }

            // Signatures.
            let (r, s, v) = (sig.r(), sig.s(), sig.v());
            let high = Signature::new(r, n - s, !v);
            cases.push(Case::new(
                "invalid: signature",
                format!("{tag}: high s (n - s, parity flipped: same signer)"),
                base.encode(high),
                Invalid,
            ));
            for (what, r2, s2, expect) in [
                ("r = 0", U256::ZERO, s, Invalid),
                ("s = 0", r, U256::ZERO, Invalid),
                ("r = 0, s = 0", U256::ZERO, U256::ZERO, Invalid),
                ("r = n", n, s, Invalid),
                ("r = n + 1", n + U256::from(1), s, Invalid),
                ("r = p - 1", p - U256::from(1), s, Invalid),
                ("r = p", p, s, Invalid),
                ("r = 2^256 - 1", U256::MAX, s, Invalid),
                ("r = n - 1", n - U256::from(1), s, Either),
                ("r = 1", U256::from(1), s, Either),
                ("s = n", r, n, Invalid),
                ("s = n - 1", r, n - U256::from(1), Invalid),
                ("s = n/2 + 1", r, SECP256K1N_HALF + U256::from(1), Invalid),
                ("s = n/2 (highest low s)", r, SECP256K1N_HALF, Either),
                ("s = 1", r, U256::from(1), Either),
                ("s = 2^256 - 1", r, U256::MAX, Invalid),
            ] {
                for parity in [v, !v] {
                    cases.push(Case::new(
                        "invalid: signature",
                        format!("{tag}: {what}, parity {}", parity as u8),
                        base.encode(Signature::new(r2, s2, parity)),
                        expect,
                    ));
                }
            }
            cases.push(Case::new(
                "invalid: signature",
                format!("{tag}: parity flipped (another signer or none)"),
                base.encode(Signature::new(r, s, !v)),
                Either,
            ));
            for i in 0..6 {
                let r2 = U256::from_be_slice(&rng.bytes(32)) % n;
                let s2 = U256::from_be_slice(&rng.bytes(32)) % SECP256K1N_HALF;
                cases.push(Case::new(
                    "invalid: signature",
                    format!("{tag}: random low-s signature #{i}"),
                    base.encode(Signature::new(r2, s2, rng.chance(50))),
                    Either,
                ));
            }

            // `v` / `yParity` written as other values.
            let mut with_v = |what: String, v: Vec<u8>, expect: Expect| {
                let mut f = fields.clone();
                f[lay.v] = Rlp::Str(v);
                cases.push(Case::new(
                    "invalid: v",
                    format!("{tag}: {what}"),
                    join(tyb, &f),
                    expect,
                ));
            };
            if ty == 0 {
                let good = 35 + 2 * CHAIN_ID as u128 + v as u128;
                for bad in [0u128, 1, 26, 29, 30, 33, 34] {
                    with_v(format!("v = {bad}"), be_u128(bad), Invalid);
                }
                for unprotected in [27u128, 28] {
                    with_v(
                        format!("v = {unprotected} (no chain id)"),
                        be_u128(unprotected),
                        Invalid,
                    );
                }
                with_v("v parity flipped".into(), be_u128(good ^ 1), Either);
                with_v("v of chain id + 1".into(), be_u128(good + 2), Invalid);
                with_v("v of chain id - 1".into(), be_u128(good - 2), Invalid);
                with_v(
                    "v of chain id 2^64 (above u64)".into(),
                    be_u128(35 + 2 * (1u128 << 64)),
                    Invalid,
                );
                with_v(
                    "v of chain id 2^64 - 1".into(),
                    be_u128(35 + 2 * (u64::MAX as u128)),
                    Invalid,
                );
                with_v(
                    "v of 17 bytes".into(),
                    [vec![1], vec![0; 16]].concat(),
                    Invalid,
                );
                with_v("v = 2^128 - 1".into(), vec![0xff; 16], Invalid);
            } else {
                for bad in [2u8, 3, 27, 28, 0xff] {
                    with_v(format!("yParity = {bad}"), vec![bad], Invalid);
                }
                with_v(
                    "yParity flipped".into(),
                    if v { vec![] } else { vec![1] },
                    Either,
                );
                with_v("yParity of two bytes".into(), vec![0, 1], Invalid);
            }

            // Non-canonical integers, and integers wider than their field.
            for &(i, field, max) in lay.ints {
                let Rlp::Str(value) = &fields[i] else {
                    panic!("{field} is a string");
                };
                let mut variants = non_canonical(value);
                variants.push((
                    "leading zero byte",
                    rlp_encode(&Rlp::Str([vec![0], value.clone()].concat())),
                ));
                if value.is_empty() {
                    variants.push(("zero as 0x00", vec![0x00]));
                }
                variants.push((
                    "as a list",
                    rlp_encode(&Rlp::List(vec![Rlp::Str(value.clone())])),
                ));
                let wide = [vec![1], vec![0; max]].concat();
                variants.push(("one byte wider than the field", rlp_encode(&Rlp::Str(wide))));
                for (what, bytes) in variants {
                    let mut f = fields.clone();
                    f[i] = Rlp::Raw(bytes);
                    cases.push(Case::new(
                        "invalid: non-canonical RLP",
                        format!("{tag}: {field} {what}"),
                        join(tyb, &f),
                        Invalid,
                    ));
                }
            }
            // Non-canonical lengths of `to` and the input; `to` of other widths.
            for (field, idx) in [("to", lay.to), ("input", lay.data)] {
                let Rlp::Str(value) = &fields[idx] else {
                    panic!("{field} is a string");
                };
                for (what, bytes) in non_canonical(value) {
                    let mut f = fields.clone();
                    f[idx] = Rlp::Raw(bytes);
                    cases.push(Case::new(
                        "invalid: non-canonical RLP",
                        format!("{tag}: {field} {what}"),
                        join(tyb, &f),
                        Invalid,
                    ));
                }
                let mut f = fields.clone();
                f[idx] = Rlp::List(vec![]);
                cases.push(Case::new(
                    "invalid: non-canonical RLP",
                    format!("{tag}: {field} as a list"),
                    join(tyb, &f),
                    Invalid,
                ));
            }
            for (what, to, expect) in [
                ("to of 19 bytes", vec![0x11; 19], Invalid),
                ("to of 21 bytes", vec![0x11; 21], Invalid),
                ("to of 1 byte", vec![0x11], Invalid),
                ("to of 32 bytes", vec![0x11; 32], Invalid),
                ("to empty (create)", vec![], Either),
                ("to = zero address", vec![0; 20], Either),
            ] {
                let mut f = fields.clone();
                f[lay.to] = Rlp::Str(to);
                cases.push(Case::new(
                    "invalid: fields",
                    format!("{tag}: {what}"),
                    join(tyb, &f),
                    expect,
                ));
            }
            // One-byte inputs written canonically and not.
            for (what, item, expect) in [
                ("input = 0x00 (canonical)", vec![0x00], Either),
                ("input 0x00 as 0x81 00", vec![0x81, 0x00], Invalid),
                ("input 0x7f as 0x81 7f", vec![0x81, 0x7f], Invalid),
                ("input = 0x80 (canonical 0x81 80)", vec![0x81, 0x80], Either),
                ("input = 0xff (canonical 0x81 ff)", vec![0x81, 0xff], Either),
            ] {
                let mut f = fields.clone();
                f[lay.data] = Rlp::Raw(item);
                cases.push(Case::new(
                    "invalid: non-canonical RLP",
                    format!("{tag}: {what}"),
                    join(tyb, &f),
                    expect,
                ));
            }
            // The input changed: the signature recovers another sender (or none).
            for (what, data) in [
                (
                    "input + 1 zero byte",
                    [input_of(&fields[lay.data]), vec![0]].concat(),
                ),
                (
                    "input + 1 byte 0x80",
                    [input_of(&fields[lay.data]), vec![0x80]].concat(),
                ),
            ] {
                let mut f = fields.clone();
                f[lay.data] = Rlp::Str(data);
                cases.push(Case::new(
                    "invalid: fields",
                    format!("{tag}: {what}"),
                    join(tyb, &f),
                    Either,
                ));
            }

            // List framing.
            for (what, delta) in [
                ("list length + 1", 1),
                ("list length - 1", -1),
                ("list length + 2", 2),
            ] {
                cases.push(Case::new(
                    "invalid: list length",
                    format!("{tag}: {what}"),
                    join_with_list_len(tyb, &fields, delta),
                    Invalid,
                ));
            }
            {
                let payload = rlp_payload(&fields);
                let mut out: Vec<u8> = tyb.into_iter().collect();
                out.extend([0xfa, 0, (payload.len() >> 8) as u8, payload.len() as u8]);
                out.extend(&payload);
                cases.push(Case::new(
                    "invalid: list length",
                    format!("{tag}: list length of length with a leading zero"),
                    out,
                    Invalid,
                ));
                let mut out: Vec<u8> = tyb.into_iter().collect();
                out.extend(rlp_header(0x80, payload.len()));
                out.extend(&payload);
                cases.push(Case::new(
                    "invalid: list length",
                    format!("{tag}: the fields as a string, not a list"),
                    out,
                    Invalid,
                ));
            }
            for (what, f) in [
                (
                    "extra field 0x01",
                    [fields.clone(), vec![Rlp::Str(vec![1])]].concat(),
                ),
                (
                    "extra empty field",
                    [fields.clone(), vec![Rlp::Str(vec![])]].concat(),
                ),
                (
                    "extra empty list",
                    [fields.clone(), vec![Rlp::List(vec![])]].concat(),
                ),
                ("last field dropped", fields[..fields.len() - 1].to_vec()),
                ("first field dropped", fields[1..].to_vec()),
            ] {
                cases.push(Case::new(
                    "invalid: fields",
                    format!("{tag}: {what}"),
                    join(tyb, &f),
                    Invalid,
                ));
            }

            // Access lists.
            if let Some(al) = lay.access_list {
                let Rlp::List(items) = &fields[al] else {
                    panic!("access list is a list");
                };
                let mut al_case = |what: &str, item: Rlp, expect: Expect| {
                    let mut f = fields.clone();
                    f[al] = item;
                    cases.push(Case::new(
                        "invalid: access list",
                        format!("{tag}: access list {what}"),
                        join(tyb, &f),
                        expect,
                    ));
                };
                let payload = rlp_payload(items);
                al_case(
                    "length + 1",
                    Rlp::Raw([rlp_header(0xc0, payload.len() + 1), payload.clone()].concat()),
                    Invalid,
                );
                if !payload.is_empty() {
                    al_case(
                        "length - 1",
                        Rlp::Raw([rlp_header(0xc0, payload.len() - 1), payload.clone()].concat()),
                        Invalid,
                    );
                }
                if payload.len() < 56 {
                    al_case(
                        "long-form length below 56",
                        Rlp::Raw([vec![0xf8, payload.len() as u8], payload.clone()].concat()),
                        Invalid,
                    );
                }
                al_case("as a string", Rlp::Str(payload.clone()), Invalid);
                let sample = AccessListItem {
                    address: Address::repeat_byte(0x55),
                    storage_keys: vec![B256::repeat_byte(0x66)],
                };
                let item = |addr: Vec<u8>, keys: Vec<Rlp>| {
                    Rlp::List(vec![Rlp::Str(addr), Rlp::List(keys)])
                };
                let good_key = Rlp::Str(sample.storage_keys[0].to_vec());
                let good_addr = sample.address.to_vec();
                for (what, bad, expect) in [
                    (
                        "item address of 19 bytes",
                        item(vec![0x55; 19], vec![good_key.clone()]),
                        Invalid,
                    ),
                    (
                        "item address of 21 bytes",
                        item(vec![0x55; 21], vec![good_key.clone()]),
                        Invalid,
                    ),
                    ("item address empty", item(vec![], vec![]), Invalid),
                    (
                        "storage key of 31 bytes",
                        item(good_addr.clone(), vec![Rlp::Str(vec![0x66; 31])]),
                        Invalid,
                    ),
                    (
                        "storage key of 33 bytes",
                        item(good_addr.clone(), vec![Rlp::Str(vec![0x66; 33])]),
                        Invalid,
                    ),
                    (
                        "storage key empty",
                        item(good_addr.clone(), vec![Rlp::Str(vec![])]),
                        Invalid,
                    ),
                    (
                        "storage key list long-form",
                        Rlp::List(vec![
                            Rlp::Str(good_addr.clone()),
                            Rlp::Raw([vec![0xf8, 33], rlp_encode(&good_key)].concat()),
                        ]),
                        Invalid,
                    ),
                    (
                        "item without keys",
                        Rlp::List(vec![Rlp::Str(good_addr.clone())]),
                        Invalid,
                    ),
                    (
                        "item with a third element",
                        Rlp::List(vec![
                            Rlp::Str(good_addr.clone()),
                            Rlp::List(vec![]),
                            Rlp::Str(vec![]),
                        ]),
                        Invalid,
                    ),
                    (
                        "item keys as a string",
                        Rlp::List(vec![Rlp::Str(good_addr.clone()), Rlp::Str(vec![])]),
                        Invalid,
                    ),
                    ("item as a string", Rlp::Str(good_addr.clone()), Invalid),
                    ("item empty list", Rlp::List(vec![]), Invalid),
                    (
                        "item length + 1",
                        Rlp::Raw({
                            let p = rlp_payload(&[
                                Rlp::Str(good_addr.clone()),
                                Rlp::List(vec![good_key.clone()]),
                            ]);
                            [rlp_header(0xc0, p.len() + 1), p].concat()
                        }),
                        Invalid,
                    ),
                    (
                        "item length - 1",
                        Rlp::Raw({
                            let p = rlp_payload(&[
                                Rlp::Str(good_addr.clone()),
                                Rlp::List(vec![good_key.clone()]),
                            ]);
                            [rlp_header(0xc0, p.len() - 1), p].concat()
                        }),
                        Invalid,
                    ),
                    (
                        "well-formed extra item (signature no longer matches)",
                        item(good_addr.clone(), vec![good_key.clone()]),
                        Either,
                    ),
                ] {
                    let mut list = items.clone();
                    list.push(bad);
                    al_case(what, Rlp::List(list), expect);
                }
            }

            // Trailing bytes and wrong type bytes.
            for t in [0x00u8, 0x01, 0x80, 0xc0] {
                cases.push(Case::new(
                    "invalid: trailing bytes",
                    format!("{tag}: + {t:#04x}"),
                    [raw.clone(), vec![t]].concat(),
                    Invalid,
                ));
            }
            cases.push(Case::new(
                "invalid: trailing bytes",
                format!("{tag}: followed by itself"),
                [raw.clone(), raw.clone()].concat(),
                Invalid,
            ));
            let body = rlp_encode(&Rlp::List(fields.clone()));
            for t in 0..=0x7fu8 {
                if Some(t) == tyb {
                    continue;
                }
                cases.push(Case::new(
                    "invalid: type byte",
                    format!("{tag}: fields under type {t:#04x}"),
                    [vec![t], body.clone()].concat(),
                    Invalid,
                ));
            }
            if tyb.is_some() {
                cases.push(Case::new(
                    "invalid: type byte",
                    format!("{tag}: fields without the type byte"),
                    body.clone(),
                    Invalid,
                ));
            }
            for first in 0x80..=0xffu8 {
                if first == body[0] {
                    continue;
                }
                let mut bad = body.clone();
                bad[0] = first;
                cases.push(Case::new(
                    "invalid: first byte",
                    format!("{tag}: list header byte replaced by {first:#04x}"),
                    [tyb.into_iter().collect(), bad].concat(),
                    Invalid,
                ));
            }
        }
    }

    // Non-user types with real encodings: 7702, deposit; blob-typed bytes.
    let auth = Authorization {
        chain_id: U256::from(CHAIN_ID),
        address: Address::repeat_byte(0x77),
        nonce: 1,
    };
    let auth_sig = key1.sign_hash_sync(&auth.signature_hash()).expect("sign");
    for authorization_list in [vec![], vec![auth.into_signed(auth_sig)]] {
        let tx = TxEip7702 {
            chain_id: CHAIN_ID,
            nonce: 1,
            gas_limit: 100_000,
            max_fee_per_gas: 10,
            max_priority_fee_per_gas: 1,
            to: Address::repeat_byte(0x42),
            value: U256::from(1),
            access_list: AccessList::default(),
            authorization_list,
            input: Bytes::new(),
        };
        let sig = key1.sign_hash_sync(&tx.signature_hash()).expect("sign");
        let note = format!(
            "EIP-7702 with {} authorizations",
            tx.authorization_list.len()
        );
        let raw = OpTxEnvelope::Eip7702(tx.into_signed(sig)).encoded_2718();
        cases.push(Case::new("invalid: non-user type", note, raw, Invalid));
    }
    let deposit = TxDeposit {
        source_hash: B256::repeat_byte(0x5e),
        from: key1.address(),
        to: TxKind::Call(Address::repeat_byte(0x42)),
        mint: 1_000_000,
        value: U256::from(1),
        gas_limit: 100_000,
        is_system_transaction: false,
        input: Bytes::from_static(b"deposit"),
    };
    cases.push(Case::new(
        "invalid: non-user type",
        "deposit (0x7e)",
        OpTxEnvelope::Deposit(Sealed::new(deposit)).encoded_2718(),
        Invalid,
    ));
    let eip1559 = Unsigned::transfer(2, CHAIN_ID).signed(&key1);
    for t in [0x03u8, 0x04, 0x05, 0x7d, 0x7e, 0x7f] {
        cases.push(Case::new(
            "invalid: non-user type",
            format!("EIP-1559 fields under type {t:#04x}"),
            [vec![t], eip1559[1..].to_vec()].concat(),
            Invalid,
        ));
    }
    cases
}

fn be_u128(v: u128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

fn input_of(item: &Rlp) -> Vec<u8> {
    match item {
        Rlp::Str(b) => b.clone(),
        other => panic!("input is a string, not {other:?}"),
    }
}

/// Every proper prefix of one transaction of each type.
fn truncation_corpus() -> Vec<Case> {
    let mut rng = Rng(0xdea1_0003);
    let key1 = key(1);
    let mut cases = Vec::new();
    for ty in 0..3u8 {
        let mut tx = Unsigned::random(&mut rng, ty, CHAIN_ID);
        // Keep the samples short (a few hundred prefixes in all) but with every field present.
        let data: Bytes = vec![0xab, 0, 0xcd].into();
        match &mut tx {
            Unsigned::Legacy(t) => t.input = data,
            Unsigned::Eip2930(t) => {
                t.input = data;
                t.access_list = AccessList(vec![AccessListItem {
                    address: Address::repeat_byte(3),
                    storage_keys: vec![B256::repeat_byte(4)],
                }]);
            }
            Unsigned::Eip1559(t) => {
                t.input = data;
                t.access_list = AccessList(vec![AccessListItem {
                    address: Address::repeat_byte(3),
                    storage_keys: vec![],
                }]);
            }
        }
        let raw = tx.signed(&key1);
        for len in 0..raw.len() {
            cases.push(Case::new(
                "invalid: truncated",
                format!(
                    "{} of {} bytes cut to {len}",
                    TYPE_NAMES[ty as usize],
                    raw.len()
                ),
                raw[..len].to_vec(),
                Expect::Invalid,
            ));
        }
    }
    cases
}

/// A random RLP item: strings of the widths fields have, lists (access-list-item shaped or
/// not), and non-canonical encodings.
fn random_item(rng: &mut Rng, depth: usize) -> Rlp {
    match rng.below(9) {
        0 => Rlp::Str(vec![]),
        1 => Rlp::Str(vec![rng.below(0x80) as u8]),
        2 => {
            let len = 1 + rng.below(40);
            Rlp::Str(rng.bytes(len))
        }
        3 => Rlp::Str(rng.bytes(20)),
        4 => Rlp::Str(rng.bytes(32)),
        5 if depth < 3 => {
            let n = rng.below(4);
            Rlp::List((0..n).map(|_| random_item(rng, depth + 1)).collect())
        }
        6 => {
            let len = rng.below(40);
            let value = rng.int_bytes(len);
            let mut variants = non_canonical(&value);
            variants.push((
                "leading zero",
                [vec![0x80 + len as u8 + 1, 0], value].concat(),
            ));
            Rlp::Raw(variants.swap_remove(rng.below(variants.len())).1)
        }
        _ => {
            let keys = rng.below(3);
            Rlp::List(vec![
                Rlp::Str(rng.bytes(20)),
                Rlp::List((0..keys).map(|_| Rlp::Str(rng.bytes(32))).collect()),
            ])
        }
    }
}

/// Edits of the RLP structure of valid transactions (the signature kept): a field, an
/// access-list item or a storage key replaced, inserted or removed.
fn structured_mutation_corpus() -> Vec<Case> {
    let mut rng = Rng(0xdea1_0007);
    let key1 = key(1);
    let mut cases = Vec::new();
    for i in 0..1500 {
        let ty = (i % 3) as u8;
        let tx = Unsigned::random(&mut rng, ty, CHAIN_ID);
        let (tyb, mut fields) = split(&tx.signed(&key1));
        let lay = layout(ty);
        let what;
        // Half of the typed cases edit inside the access list.
        let in_list = lay.access_list.filter(|_| rng.chance(50));
        if let Some(al) = in_list {
            let Rlp::List(items) = &mut fields[al] else {
                panic!("access list is a list");
            };
            let target: &mut Vec<Rlp> = match items.len() {
                0 => items,
                n => {
                    let k = rng.below(n);
                    match (&mut items[k], rng.chance(50)) {
                        (Rlp::List(item), true) if item.len() == 2 => match &mut item[1] {
                            Rlp::List(keys) => keys,
                            _ => unreachable!("keys are a list"),
                        },
                        _ => items,
                    }
                }
            };
            let item = random_item(&mut rng, 1);
            let at = rng.below(target.len() + 1);
            what = match (rng.below(3), target.is_empty()) {
                (0, false) => {
                    let at = at.min(target.len() - 1);
                    target[at] = item;
                    format!("access list element {at} replaced")
                }
                (1, false) => {
                    let at = at.min(target.len() - 1);
                    target.remove(at);
                    format!("access list element {at} removed")
                }
                _ => {
                    target.insert(at, item);
                    format!("access list element inserted at {at}")
                }
            };
        } else {
            let at = rng.below(fields.len());
            let item = random_item(&mut rng, 0);
            what = match rng.below(4) {
                0 | 1 => {
                    fields[at] = item;
                    format!("field {at} replaced")
                }
                2 => {
                    fields.insert(at, item);
                    format!("item inserted at field {at}")
                }
                _ => {
                    fields.remove(at);
                    format!("field {at} removed")
                }
            };
        }
        cases.push(Case::new(
            "structured mutation",
            format!("{} #{i}: {what}", TYPE_NAMES[ty as usize]),
            join(tyb, &fields),
            Expect::Either,
        ));
    }
    cases
}

/// Random mutations of valid encodings: one to three byte edits (flip a bit, set a byte,
/// insert a byte, delete a byte).
fn mutation_corpus() -> Vec<Case> {
    let mut rng = Rng(0xdea1_0004);
    let keys: Vec<PrivateKeySigner> = (1..=3).map(key).collect();
    let mut cases = Vec::new();
    for i in 0..2000 {
        let ty = (i % 3) as u8;
        let tx = Unsigned::random(&mut rng, ty, CHAIN_ID);
        let mut raw = tx.signed(rng.pick(&keys));
        let edits = 1 + rng.below(3) * rng.below(2);
        let mut what = Vec::new();
        for _ in 0..edits {
            if raw.is_empty() {
                break;
            }
            // Bias half of the edits into the first 12 bytes (type, list header, first fields).
            let at = if rng.chance(50) {
                rng.below(raw.len().min(12))
            } else {
                rng.below(raw.len())
            };
            what.push(match rng.below(4) {
                0 => {
                    let bit = rng.below(8);
                    raw[at] ^= 1 << bit;
                    format!("bit {bit} of byte {at} flipped")
                }
                1 => {
                    let b = rng.next() as u8;
                    raw[at] = b;
                    format!("byte {at} set to {b:#04x}")
                }
                2 => {
                    let any = rng.next() as u8;
                    let b = *rng.pick(&[0u8, 0x01, 0x7f, 0x80, 0x81, 0xb8, 0xc0, 0xf8, any]);
                    raw.insert(at, b);
                    format!("{b:#04x} inserted at {at}")
                }
                _ => {
                    raw.remove(at);
                    format!("byte {at} deleted")
                }
            });
        }
        cases.push(Case::new(
            "mutation",
            format!("{} #{i}: {}", TYPE_NAMES[tx.ty() as usize], what.join(", ")),
            raw,
            Expect::Either,
        ));
    }
    cases
}

// ---------------------------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct GroupStats {
    cases: usize,
    rust_valid: usize,
    disagreements: usize,
    corpus_errors: usize,
}

#[derive(Default)]
struct Report {
    groups: BTreeMap<&'static str, GroupStats>,
    disagreements: Vec<String>,
    corpus_errors: Vec<String>,
    /// The costliest valid case: (gas used, opcodes, note).
    max_valid: Option<(u64, u64, String)>,
}

impl Report {
    fn check(&mut self, program: &mut Program, case: &Case) {
        let rust = reference(&case.raw, case.chain_id);
        let (result, run) = program.user_tx_input(&case.raw, U256::from(case.chain_id));
        let stats = self.groups.entry(case.group).or_default();
        stats.cases += 1;
        stats.rust_valid += rust.is_ok() as usize;
        let header = || {
            format!(
                "[{}] {}\n  raw ({} bytes, chain id {}): 0x{}\n  rust:    {}",
                case.group,
                case.note,
                case.raw.len(),
                case.chain_id,
                hex::encode(&case.raw),
                describe_reference(&rust),
            )
        };
        let expected_ok = match case.expect {
            Expect::Valid => Some(true),
            Expect::Invalid => Some(false),
            Expect::Either => None,
        };
        if expected_ok.is_some_and(|ok| ok != rust.is_ok()) {
            stats.corpus_errors += 1;
            self.corpus_errors.push(format!(
                "{}\n  (the generator expected {:?})",
                header(),
                case.expect
            ));
        }
        let diffs = match (&rust, &result) {
            (_, Err(why)) => vec![format!("no result: {why}")],
            (Ok(tx), Ok(ret)) => {
                let input = tx_input(tx);
                let want = expected(&input);
                let mut diffs = Vec::new();
                if !ret.valid {
                    diffs.push("valid: rust true, program false".to_string());
                }
                if ret.inputHash != input.hash() {
                    diffs.push(format!(
                        "inputHash: rust {}, program {}",
                        input.hash(),
                        ret.inputHash
                    ));
                }
                diffs.extend(input_diffs(&want, &ret.input));
                if diffs.is_empty() && self.max_valid.as_ref().is_none_or(|m| run.gas_used > m.0) {
                    self.max_valid = Some((
                        run.gas_used,
                        run.opcodes,
                        format!("[{}] {} ({} bytes)", case.group, case.note, case.raw.len()),
                    ));
                }
                diffs
            }
            (Err(_), Ok(ret)) => {
                let mut diffs = Vec::new();
                if ret.valid {
                    diffs.push("valid: rust false, program true".to_string());
                }
                if ret.inputHash != B256::ZERO {
                    diffs.push(format!("inputHash not zero: {}", ret.inputHash));
                }
                if ret.input != abi::TxInput::default() {
                    diffs.push("input not all zero".to_string());
                }
                diffs
            }
        };
        if !diffs.is_empty() {
            stats.disagreements += 1;
            let program = match &result {
                Ok(ret) => format!(
                    "valid {}, inputHash {}, {:?} (gas {})",
                    ret.valid, ret.inputHash, ret.input, run.gas_used
                ),
                Err(why) => why.clone(),
            };
            self.disagreements.push(format!(
                "{}\n  program: {program}\n  differs: {}",
                header(),
                diffs.join("; ")
            ));
        }
    }

    /// Prints the summary and fails on any disagreement or corpus error.
    fn finish(self, title: &str) {
        eprintln!("== {title}");
        eprintln!(
            "  {:<32} {:>6} {:>10} {:>13} {:>13}",
            "group", "cases", "rust valid", "disagreements", "corpus errors"
        );
        let mut total = GroupStats::default();
        for (group, s) in &self.groups {
            eprintln!(
                "  {:<32} {:>6} {:>10} {:>13} {:>13}",
                group, s.cases, s.rust_valid, s.disagreements, s.corpus_errors
            );
            total.cases += s.cases;
            total.rust_valid += s.rust_valid;
        }
        eprintln!(
            "  {:<32} {:>6} {:>10} {:>13} {:>13}",
            "total",
            total.cases,
            total.rust_valid,
            self.disagreements.len(),
            self.corpus_errors.len()
        );
        if let Some((gas, opcodes, note)) = &self.max_valid {
            eprintln!("  costliest valid case: {gas} gas, {opcodes} opcodes: {note}");
        }
        const SHOWN: usize = 25;
        for d in self.disagreements.iter().take(SHOWN) {
            eprintln!("DISAGREEMENT {d}\n");
        }
        for e in self.corpus_errors.iter().take(SHOWN) {
            eprintln!("CORPUS ERROR {e}\n");
        }
        assert!(
            self.disagreements.is_empty() && self.corpus_errors.is_empty(),
            "{title}: {} disagreements of the program with decode_user_tx and {} corpus errors \
             (the first {SHOWN} of each printed above)",
            self.disagreements.len(),
            self.corpus_errors.len()
        );
    }
}

fn check_all(title: &str, cases: &[Case]) {
    let mut program = Program::new();
    let mut report = Report::default();
    for case in cases {
        report.check(&mut program, case);
    }
    report.finish(title);
}

/// The ABI struct is `TxInput`'s word encoding, field for field (no program needed).
#[test]
fn abi_struct_is_the_tx_input_encoding() {
    for case in valid_corpus().iter().take(30) {
        let tx = reference(&case.raw, case.chain_id).expect("valid case");
        let input = tx_input(&tx);
        assert_eq!(input.encode().len(), 18 * 32);
        // `expected` asserts abi_encode == encode.
        assert_eq!(keccak256(expected(&input).abi_encode()), input.hash());
    }
}

#[test]
fn valid_transactions_match() {
    check_all("userTxInput: valid transactions", &valid_corpus());
}

#[test]
fn invalid_transactions_match() {
    check_all(
        "userTxInput: structured invalid encodings",
        &invalid_corpus(),
    );
}

#[test]
fn truncated_transactions_match() {
    check_all("userTxInput: truncations", &truncation_corpus());
}

#[test]
fn mutated_transactions_match() {
    check_all("userTxInput: random mutations", &mutation_corpus());
}

#[test]
fn structurally_mutated_transactions_match() {
    check_all(
        "userTxInput: RLP-structure mutations",
        &structured_mutation_corpus(),
    );
}

/// Chain ids above `u64` (which the Rust rule, with its `u64` chain id, cannot be asked about):
/// no transaction is valid for them, in particular not one signed for the id's low 64 bits.
#[test]
fn chain_ids_above_u64_match_nothing() {
    let key1 = key(1);
    let mut program = Program::new();
    let mut failures = Vec::new();
    let mut count = 0;
    for ty in 0..3u8 {
        for chain_id in [0, 1, CHAIN_ID, u64::MAX] {
            let raw = Unsigned::transfer(ty, chain_id).signed(&key1);
            assert!(reference(&raw, chain_id).is_ok(), "valid on its own chain");
            for high in [
                U256::from(1) << 64,
                U256::from(1) << 128,
                U256::from(1) << 255,
                U256::MAX << 64,
            ] {
                let asked = U256::from(chain_id) | high;
                let (result, run) = program.user_tx_input(&raw, asked);
                count += 1;
                if !matches!(&result, Ok(r) if !r.valid && r.inputHash == B256::ZERO) {
                    failures.push(format!(
                        "[chain id above u64] {} signed for chain {chain_id}, asked for chain {asked:#x}\n  \
                         raw: 0x{}\n  rust: invalid (no u64 chain id is {asked:#x})\n  program: {}",
                        TYPE_NAMES[ty as usize],
                        hex::encode(&raw),
                        match &result {
                            Ok(r) => format!("valid {}, inputHash {}", r.valid, r.inputHash),
                            Err(_) => run.describe(),
                        }
                    ));
                }
            }
        }
    }
    eprintln!(
        "== chain ids above u64: {count} cases, {} disagreements",
        failures.len()
    );
    for f in &failures {
        eprintln!("DISAGREEMENT {f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} chain-id disagreements",
        failures.len()
    );
}

// ---------------------------------------------------------------------------------------------
// userTxInputs
// ---------------------------------------------------------------------------------------------

/// The transaction section of a batch block: `txCount u32`, then `txLen u32, bytes` each.
fn frame(txs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = (txs.len() as u32).to_be_bytes().to_vec();
    for tx in txs {
        out.extend((tx.len() as u32).to_be_bytes());
        out.extend(tx);
    }
    out
}

fn reference_inputs(txs: &[Vec<u8>], chain_id: u64) -> (usize, B256) {
    let inputs: Vec<TxInput> = txs
        .iter()
        .filter_map(|raw| reference(raw, chain_id).ok())
        .map(|tx| tx_input(&tx))
        .collect();
    (inputs.len(), input::root(&inputs))
}

#[test]
fn user_tx_inputs_match() {
    let mut rng = Rng(0xdea1_0005);
    let mut pool_valid: Vec<Vec<u8>> = valid_corpus()
        .into_iter()
        .filter(|c| c.chain_id == CHAIN_ID)
        .map(|c| c.raw)
        .collect();
    pool_valid.truncate(120);
    let pool_other: Vec<Vec<u8>> = [invalid_corpus(), mutation_corpus()]
        .concat()
        .into_iter()
        .filter(|c| c.chain_id == CHAIN_ID && !c.raw.is_empty())
        .map(|c| c.raw)
        .collect();
    let mut lists: Vec<(String, Vec<Vec<u8>>)> = vec![("empty".into(), vec![])];
    for n in 1..=8 {
        lists.push((format!("{n} valid"), pool_valid[..n].to_vec()));
        lists.push((
            format!("{n} invalid or mutated"),
            (0..n).map(|_| rng.pick(&pool_other).clone()).collect(),
        ));
    }
    for i in 0..100 {
        let n = rng.below(9);
        let list = (0..n)
            .map(|_| {
                if rng.chance(50) {
                    rng.pick(&pool_valid).clone()
                } else {
                    rng.pick(&pool_other).clone()
                }
            })
            .collect();
        lists.push((format!("random list #{i} of {n}"), list));
    }

    let mut program = Program::new();
    let mut failures = Vec::new();
    let mut counts = BTreeMap::<usize, usize>::new();
    for (note, txs) in &lists {
        let (count, root) = reference_inputs(txs, CHAIN_ID);
        *counts.entry(count).or_default() += 1;
        let framed = frame(txs);
        let (result, _) = program.user_tx_inputs(&framed, CHAIN_ID);
        let ok = matches!(&result, Ok(r) if r.count == U256::from(count) && r.inputsRoot == root);
        if !ok {
            failures.push(format!(
                "[userTxInputs] {note}\n  txs (chain id {CHAIN_ID}): 0x{}\n  rust:    count {count}, root {root}\n  \
                 program: {}",
                hex::encode(&framed),
                match &result {
                    Ok(r) => format!("count {}, root {}", r.count, r.inputsRoot),
                    Err(why) => why.clone(),
                }
            ));
        }
    }
    eprintln!(
        "== userTxInputs: {} lists (valid count -> lists: {counts:?}), {} disagreements",
        lists.len(),
        failures.len()
    );
    for f in failures.iter().take(20) {
        eprintln!("DISAGREEMENT {f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} userTxInputs disagreements",
        failures.len()
    );
}

#[test]
fn user_tx_inputs_reverts_on_malformed_framing() {
    let key1 = key(1);
    let tx = Unsigned::transfer(2, CHAIN_ID).signed(&key1);
    let good = frame(&[tx.clone(), tx.clone()]);
    let len = (tx.len() as u32).to_be_bytes();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty (no txCount)", vec![]),
        ("txCount of 3 bytes", vec![0, 0, 0]),
        ("txCount 1, no txLen", vec![0, 0, 0, 1]),
        ("txCount 1, txLen of 2 bytes", vec![0, 0, 0, 1, 0, 0]),
        ("txCount 1, txLen 0", vec![0, 0, 0, 1, 0, 0, 0, 0]),
        (
            "txCount 2, second txLen 0",
            [frame(std::slice::from_ref(&tx)), vec![0, 0, 0, 0]].concat(),
        ),
        (
            "txCount 1, txLen 5 with 4 bytes",
            vec![0, 0, 0, 1, 0, 0, 0, 5, 1, 2, 3, 4],
        ),
        ("txCount 2, one transaction", {
            let mut f = frame(std::slice::from_ref(&tx));
            f[3] = 2;
            f
        }),
        (
            "txCount 2, second truncated by one byte",
            good[..good.len() - 1].to_vec(),
        ),
        ("txCount 0 + trailing byte", vec![0, 0, 0, 0, 0]),
        (
            "two transactions + trailing byte",
            [good.clone(), vec![0]].concat(),
        ),
        (
            "two transactions + trailing txLen",
            [good.clone(), len.to_vec()].concat(),
        ),
        ("txCount 1000, nothing else", vec![0, 0, 0x03, 0xe8]),
        ("txCount 2^16, nothing else", vec![0, 1, 0, 0]),
        ("txCount 2^32 - 1, nothing else", vec![0xff; 4]),
        ("txCount 2^32 - 1, one transaction", {
            let mut f = frame(std::slice::from_ref(&tx));
            f[..4].copy_from_slice(&[0xff; 4]);
            f
        }),
        (
            "txLen 2^32 - 1",
            [vec![0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff], tx.clone()].concat(),
        ),
        ("txLen one past the end", {
            let mut f = frame(std::slice::from_ref(&tx));
            f[4..8].copy_from_slice(&(tx.len() as u32 + 1).to_be_bytes());
            f
        }),
        ("txLen one short (a trailing byte)", {
            let mut f = frame(std::slice::from_ref(&tx));
            f[4..8].copy_from_slice(&(tx.len() as u32 - 1).to_be_bytes());
            f
        }),
    ];
    let mut program = Program::new();
    // The well-formed list itself is accepted.
    let (ok, _) = program.user_tx_inputs(&good, CHAIN_ID);
    let mut failures = Vec::new();
    if !matches!(&ok, Ok(r) if r.count == U256::from(2)) {
        failures.push(format!(
            "well-formed two-transaction list: {}",
            match &ok {
                Ok(r) => format!("count {}, root {}", r.count, r.inputsRoot),
                Err(why) => why.clone(),
            }
        ));
    }
    for (what, bytes) in &cases {
        let (result, run) = program.user_tx_inputs(bytes, CHAIN_ID);
        let fine = matches!(run.ended, Ended::Reverted);
        eprintln!(
            "  malformed framing: {what}: {} ({} gas)",
            run.describe(),
            run.gas_used
        );
        if !fine {
            failures.push(format!(
                "[userTxInputs framing] {what}\n  txs: 0x{}\n  expected a revert, program: {}",
                hex::encode(bytes),
                match &result {
                    Ok(r) => format!("returned count {}, root {}", r.count, r.inputsRoot),
                    Err(_) => run.describe(),
                }
            ));
        }
    }
    for f in &failures {
        eprintln!("DISAGREEMENT {f}\n");
    }
    assert!(
        failures.is_empty(),
        "{} framing cases did not revert",
        failures.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Gas
// ---------------------------------------------------------------------------------------------

/// Prints what derivation costs per transaction (the program's execution gas and opcodes set
/// how many fraud-proof steps derivation adds).
#[test]
fn gas_of_typical_transactions() {
    let key1 = key(1);
    let mut rng = Rng(0xdea1_0006);
    let transfer = Unsigned::transfer(2, CHAIN_ID);
    let calldata = |ty: u8, len: usize, rng: &mut Rng| {
        let mut tx = Unsigned::transfer(ty, CHAIN_ID);
        // ERC20-like: a third of the bytes zero.
        let data: Bytes = (0..len)
            .map(|i| {
                if i % 3 == 0 {
                    0
                } else {
                    (rng.next() as u8).max(1)
                }
            })
            .collect();
        match &mut tx {
            Unsigned::Legacy(t) => t.input = data,
            Unsigned::Eip2930(t) => t.input = data,
            Unsigned::Eip1559(t) => t.input = data,
        }
        tx
    };
    let mut full_list = Unsigned::transfer(1, CHAIN_ID);
    if let Unsigned::Eip2930(t) = &mut full_list {
        t.access_list = AccessList(
            (0..3u8)
                .map(|i| AccessListItem {
                    address: Address::repeat_byte(i + 1),
                    storage_keys: (0..3u8).map(B256::repeat_byte).collect(),
                })
                .collect(),
        );
    }
    let samples: Vec<(&str, Vec<u8>)> = vec![
        ("EIP-1559 transfer", transfer.signed(&key1)),
        (
            "legacy transfer",
            Unsigned::transfer(0, CHAIN_ID).signed(&key1),
        ),
        (
            "EIP-1559, 68-byte calldata (ERC20 transfer size)",
            calldata(2, 68, &mut rng).signed(&key1),
        ),
        (
            "EIP-1559, 300-byte calldata",
            calldata(2, 300, &mut rng).signed(&key1),
        ),
        (
            "legacy, 300-byte calldata",
            calldata(0, 300, &mut rng).signed(&key1),
        ),
        ("EIP-2930, access list 3 x 3 keys", full_list.signed(&key1)),
        ("invalid: EIP-1559 transfer with high s", {
            let sig = transfer.sign(&key1);
            let n = SECP256K1N_HALF * U256::from(2) + U256::from(1);
            transfer.encode(Signature::new(sig.r(), n - sig.s(), !sig.v()))
        }),
        ("invalid: one garbage byte", vec![0xc0]),
    ];
    let mut program = Program::new();
    eprintln!("== derivation program gas (Cancun; execution = used - intrinsic)");
    let mut failures = Vec::new();
    for (what, raw) in &samples {
        let (result, run) = program.user_tx_input(raw, U256::from(CHAIN_ID));
        let call = abi::userTxInputCall {
            raw: Bytes::copy_from_slice(raw),
            chainId: U256::from(CHAIN_ID),
        }
        .abi_encode();
        eprintln!(
            "  userTxInput {what} ({} bytes): {} gas used, {} execution gas, {} opcodes{}",
            raw.len(),
            run.gas_used,
            run.gas_used.saturating_sub(intrinsic_gas(&call)),
            run.opcodes,
            match &result {
                Ok(r) => format!(", valid = {}", r.valid),
                Err(why) => format!(", {why}"),
            }
        );
        let rust_ok = reference(raw, CHAIN_ID).is_ok();
        if !matches!(&result, Ok(r) if r.valid == rust_ok) {
            failures.push(format!(
                "{what}: 0x{}: {}",
                hex::encode(raw),
                run.describe()
            ));
        }
    }
    for n in [1usize, 8] {
        let txs: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let mut tx = Unsigned::transfer(2, CHAIN_ID);
                if let Unsigned::Eip1559(t) = &mut tx {
                    t.nonce = i as u64;
                }
                tx.signed(&key1)
            })
            .collect();
        let framed = frame(&txs);
        let call = abi::userTxInputsCall {
            txs: framed.clone().into(),
            chainId: U256::from(CHAIN_ID),
        }
        .abi_encode();
        let (result, run) = program.user_tx_inputs(&framed, CHAIN_ID);
        eprintln!(
            "  userTxInputs of {n} EIP-1559 transfers: {} gas used, {} execution gas, {} opcodes, {}",
            run.gas_used,
            run.gas_used.saturating_sub(intrinsic_gas(&call)),
            run.opcodes,
            match &result {
                Ok(r) => format!("count {}", r.count),
                Err(why) => why.clone(),
            }
        );
        if !matches!(&result, Ok(r) if r.count == U256::from(n)) {
            failures.push(format!("userTxInputs of {n}: {}", run.describe()));
        }
    }
    assert!(failures.is_empty(), "gas samples failed: {failures:#?}");
}
