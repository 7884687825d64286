//! Ethereum's own state tests (ethereum/tests `GeneralStateTests`, Cancun) through the step
//! machine: each test case (one Cancun post entry: one data, gas and value index) becomes a
//! genesis holding the test's pre-state and one block holding its transaction, re-signed with
//! the test's secret key for our chain. The node's `BlockBuilder` builds the block,
//! `Trace::for_block` replays it, and every step must verify:
//! `verify_step(state_hash(i), prove_step(i)) == state_hash(i + 1)`, the last state being the
//! node's block (hash and state root). The test case's expected post state is not compared:
//! our chain differs from Ethereum's (chain id, state commitment, base fee, block hashes);
//! what is measured is that every block our node builds is provable step by step.
//!
//! The fixtures are not in this repository: `testdata/state-tests/README.md` says where the
//! pinned selection comes from and how `scripts/state-tests.sh` writes it. The runner reads
//! them from `$STATE_TESTS_DIR`, else `testdata/state-tests/fixtures/`, else
//! `../shared/state-tests/` beside the repository; with none there it says so and checks only
//! the named cases below. `STATE_TESTS_FILTER=substring` runs the cases whose file path or
//! name contains it; `STATE_TESTS_LOG=file` writes one line per case (file, key, steps, ms,
//! status, opcodes run).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEip2930, TxLegacy},
    eips::eip2930::{AccessList, AccessListItem},
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
};
use alloy_genesis::{ChainConfig, Genesis, GenesisAccount};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use fraud_vm::{
    chain::ChainGenesis,
    execute::{BlockAttributes, BlockBuilder, ExecutableTx},
    memory::MemoryState,
    vm::{
        self,
        machine::{end_hash, window_root},
        opcodes, Claim, StepKind, Trace,
    },
};
use op_alloy_consensus::OpTxEnvelope;
use rayon::prelude::*;
use serde_json::Value;

/// Our L2 chain id: every transaction is re-signed for it.
const CHAIN_ID: u64 = 42069;

/// Test cases excluded by hand, with the reason (none today). A case's key is
/// `file stem/test name/post index` (`file stem/post index` when the test is named like its
/// file); a key without the index covers every case of the test. Cases are also skipped, each
/// with its reason printed, when [`Skip`] says our chain cannot hold them.
const SKIPPED: &[(&str, &str)] = &[];

/// Why a case did not run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Skip {
    /// Listed in [`SKIPPED`].
    Listed(&'static str),
    /// A transaction our chain refuses at admission (wrong type, unrepresentable field).
    NotOurTx(String),
    /// Ethereum refuses the transaction (`expectException`) and so does our block builder.
    Refused,
    /// Our genesis refuses the pre-state.
    Genesis(String),
}

impl Skip {
    /// The reason without case-specific details (for the summary).
    fn class(&self) -> String {
        match self {
            Skip::Listed(r) => format!("listed: {r}"),
            Skip::NotOurTx(r) => format!("not an L2 transaction: {r}"),
            Skip::Refused => "invalid on Ethereum, refused by the block builder too".into(),
            Skip::Genesis(r) => format!("genesis refused: {}", without_hex(r)),
        }
    }
}

/// `text` with every `0x…` word shortened to `0x…` (so reasons group across cases).
fn without_hex(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.starts_with("0x") { "0x…" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What one case did.
enum Outcome {
    Passed(Coverage),
    Failed(String),
    Skipped(Skip),
}

/// What the verified steps covered.
#[derive(Default)]
struct Coverage {
    /// Ethereum refuses the transaction but our block builder took it (e.g. our block's base
    /// fee is lower): traced like any other.
    invalid_on_ethereum: bool,
    steps: usize,
    opcodes: BTreeSet<u8>,
    kinds: BTreeSet<StepKind>,
}

/// One test case: a pre-state, an environment and one transaction.
struct Case {
    key: String,
    /// The whole test (shared by its cases).
    test: Arc<Value>,
    data: usize,
    gas: usize,
    value: usize,
    expect_exception: Option<String>,
}

fn hex_bytes(v: &Value) -> Result<Vec<u8>, String> {
    let s = v.as_str().ok_or("not a string")?;
    let s = s.strip_prefix("0x").unwrap_or(s);
    alloy_primitives::hex::decode(s).map_err(|e| format!("{s}: {e}"))
}

fn hex_u256(v: &Value) -> Result<U256, String> {
    let s = v.as_str().ok_or("not a string")?;
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.is_empty() {
        return Ok(U256::ZERO);
    }
    U256::from_str_radix(s, 16).map_err(|e| format!("{s}: {e}"))
}

fn hex_u64(v: &Value) -> Result<u64, String> {
    u64::try_from(hex_u256(v)?).map_err(|_| "above u64".to_string())
}

fn address(v: &Value) -> Result<Address, String> {
    let b = hex_bytes(v)?;
    (b.len() == 20)
        .then(|| Address::from_slice(&b))
        .ok_or_else(|| format!("address of {} bytes", b.len()))
}

/// The test's pre-state and environment as our genesis.
fn genesis(test: &Value) -> Result<ChainGenesis, Skip> {
    let bad = |e: String| Skip::Genesis(format!("unreadable pre-state: {e}"));
    let env = &test["env"];
    let mut alloc = BTreeMap::new();
    for (addr, account) in test["pre"].as_object().into_iter().flatten() {
        let addr = address(&Value::String(addr.clone())).map_err(bad)?;
        let storage: BTreeMap<B256, B256> = account["storage"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                Ok((
                    B256::from(hex_u256(&Value::String(k.clone()))?),
                    B256::from(hex_u256(v)?),
                ))
            })
            .collect::<Result<_, String>>()
            .map_err(bad)?;
        alloc.insert(
            addr,
            GenesisAccount {
                nonce: Some(hex_u64(&account["nonce"]).map_err(bad)?),
                balance: hex_u256(&account["balance"]).map_err(bad)?,
                code: Some(Bytes::from(hex_bytes(&account["code"]).map_err(bad)?)),
                storage: Some(storage),
                ..Default::default()
            },
        );
    }
    let genesis = Genesis {
        config: ChainConfig {
            chain_id: CHAIN_ID,
            ..Default::default()
        },
        coinbase: address(&env["currentCoinbase"]).map_err(bad)?,
        gas_limit: hex_u64(&env["currentGasLimit"]).map_err(bad)?,
        base_fee_per_gas: Some(match env.get("currentBaseFee") {
            Some(fee) => u128::try_from(hex_u256(fee).map_err(bad)?)
                .map_err(|_| bad("base fee above u128".into()))?,
            None => 10,
        }),
        alloc,
        ..Default::default()
    };
    ChainGenesis::from_genesis(&genesis).map_err(|e| Skip::Genesis(e.to_string()))
}

/// The case's transaction, signed for our chain.
fn transaction(case: &Case) -> Result<(OpTxEnvelope, Address), Skip> {
    let tx = &case.test["transaction"];
    let bad = |e: String| Skip::NotOurTx(e);
    if tx.get("blobVersionedHashes").is_some() {
        return Err(Skip::NotOurTx("a blob transaction (type 3)".into()));
    }
    let key = B256::from_slice(&hex_bytes(&tx["secretKey"]).map_err(bad)?);
    let signer = PrivateKeySigner::from_bytes(&key).map_err(|e| bad(e.to_string()))?;
    let nonce = hex_u64(&tx["nonce"]).map_err(|e| bad(format!("nonce {e}")))?;
    let gas_limit = hex_u64(&tx["gasLimit"][case.gas]).map_err(|e| bad(format!("gas {e}")))?;
    let value = hex_u256(&tx["value"][case.value]).map_err(bad)?;
    let input = Bytes::from(hex_bytes(&tx["data"][case.data]).map_err(bad)?);
    let to = match tx["to"].as_str() {
        Some("") | None => TxKind::Create,
        Some(_) => TxKind::Call(address(&tx["to"]).map_err(bad)?),
    };
    let fee = |name: &str| -> Result<u128, Skip> {
        u128::try_from(hex_u256(&tx[name]).map_err(bad)?)
            .map_err(|_| bad(format!("{name} above u128")))
    };
    let access_list = match tx.get("accessLists") {
        None => None,
        Some(lists) => Some(AccessList(
            lists[case.data]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| {
                    Ok(AccessListItem {
                        address: address(&item["address"])?,
                        storage_keys: item["storageKeys"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|k| hex_u256(k).map(B256::from))
                            .collect::<Result<_, String>>()?,
                    })
                })
                .collect::<Result<_, String>>()
                .map_err(bad)?,
        )),
    };
    let sign = |e: alloy::signers::Error| bad(format!("signing: {e}"));
    let envelope = if tx.get("maxFeePerGas").is_some() {
        let mut t = TxEip1559 {
            chain_id: CHAIN_ID,
            nonce,
            gas_limit,
            max_fee_per_gas: fee("maxFeePerGas")?,
            max_priority_fee_per_gas: fee("maxPriorityFeePerGas")?,
            to,
            value,
            input,
            access_list: access_list.unwrap_or_default(),
        };
        let sig = signer.sign_transaction_sync(&mut t).map_err(sign)?;
        OpTxEnvelope::Eip1559(t.into_signed(sig))
    } else if let Some(access_list) = access_list {
        let mut t = TxEip2930 {
            chain_id: CHAIN_ID,
            nonce,
            gas_price: fee("gasPrice")?,
            gas_limit,
            to,
            value,
            input,
            access_list,
        };
        let sig = signer.sign_transaction_sync(&mut t).map_err(sign)?;
        OpTxEnvelope::Eip2930(t.into_signed(sig))
    } else {
        let mut t = TxLegacy {
            chain_id: Some(CHAIN_ID),
            nonce,
            gas_price: fee("gasPrice")?,
            gas_limit,
            to,
            value,
            input,
        };
        let sig = signer.sign_transaction_sync(&mut t).map_err(sign)?;
        OpTxEnvelope::Legacy(t.into_signed(sig))
    };
    Ok((envelope, signer.address()))
}

/// Builds the case's block and checks every step of its trace.
fn run(case: &Case) -> Outcome {
    if let Some((_, reason)) = SKIPPED
        .iter()
        .find(|(key, _)| case.key == *key || case.key.starts_with(&format!("{key}/")))
    {
        return Outcome::Skipped(Skip::Listed(reason));
    }
    let chain = match genesis(&case.test) {
        Ok(chain) => chain,
        Err(skip) => return Outcome::Skipped(skip),
    };
    let (tx, sender) = match transaction(case) {
        Ok(tx) => tx,
        Err(skip) => return Outcome::Skipped(skip),
    };
    let Ok(block0) = chain.build() else {
        return Outcome::Failed("genesis block".into());
    };
    let mut state = MemoryState::new();
    state.apply(&block0);
    let env = &case.test["env"];
    let attrs = BlockAttributes {
        timestamp: hex_u64(&env["currentTimestamp"]).unwrap_or(1),
        gas_limit: block0.header.gas_limit,
        prevrandao: env
            .get("currentRandom")
            .and_then(|r| hex_u256(r).ok())
            .map(B256::from)
            .unwrap_or_default(),
        extra_data: Bytes::new(),
    };
    let mut builder = BlockBuilder::new(&chain.spec, &state, &block0.header, block0.hash, attrs);
    if let Err(e) = builder.execute(ExecutableTx { tx, sender }) {
        return match case.expect_exception {
            Some(_) => Outcome::Skipped(Skip::Refused),
            None => Outcome::Failed(format!(
                "the block builder refuses a transaction Ethereum accepts: {e}"
            )),
        };
    }
    let block1 = match builder.finish() {
        Ok(block) => block,
        Err(e) => return Outcome::Failed(format!("finish: {e}")),
    };
    let trace = match Trace::for_block(&state, &chain.spec, &block0.header, &block1, B256::ZERO) {
        Ok(trace) => trace,
        Err(e) => return Outcome::Failed(format!("trace: {e}")),
    };
    let mut coverage = Coverage {
        invalid_on_ethereum: case.expect_exception.is_some(),
        ..Default::default()
    };
    let mut pre = trace.state_hash(0);
    for i in 0..trace.len() {
        let step = || {
            format!(
                "step {i} of {} ({:?})",
                trace.len(),
                trace.opcode(i).map(opcodes::name)
            )
        };
        let (proof, info) = match trace.prove_step(i) {
            Ok(p) => p,
            Err(e) => return Outcome::Failed(format!("prove {}: {e}", step())),
        };
        let (post, verified) = match vm::verify_step(pre, &proof) {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(format!("verify {}: {e}", step())),
        };
        let traced = trace.state_hash(i + 1);
        if post != traced || verified != info {
            return Outcome::Failed(format!(
                "{} {:?}: the verifier's post state differs from the trace's{}",
                step(),
                info.kind,
                differences(&proof, &trace.machine(i + 1))
            ));
        }
        coverage.steps += 1;
        coverage.kinds.insert(info.kind);
        if let StepKind::Opcode(op) = info.kind {
            coverage.opcodes.insert(op);
        }
        pre = post;
    }
    let claim = Claim {
        block_hash: block1.hash,
        state_root: block1.header.state_root,
        block_hashes_root: window_root([(0, block0.hash), (1, block1.hash)]),
        cursor: B256::ZERO,
    };
    if pre != end_hash(&claim) {
        return Outcome::Failed("the last state is not the node's block".into());
    }
    Outcome::Passed(coverage)
}

/// With `STATE_TESTS_DEBUG` set: the lines in which the verifier's post state (from `proof`)
/// and the trace's differ.
fn differences(proof: &vm::Proof, traced: &vm::Machine) -> String {
    if std::env::var_os("STATE_TESTS_DEBUG").is_none() {
        return String::new();
    }
    let Some(step) = proof.as_step() else {
        return String::new();
    };
    let mut verified = step.machine();
    let mut checker = vm::oracle::Checker::new(step.witnesses.clone());
    vm::step(&mut verified, &mut checker).ok();
    let (a, b) = (format!("{verified:#?}"), format!("{traced:#?}"));
    let mut out = String::new();
    for (x, y) in a.lines().zip(b.lines()) {
        if x != y {
            out.push_str(&format!(
                "\n    verifier {}\n    trace    {}",
                x.trim(),
                y.trim()
            ));
        }
    }
    out
}

/// The fixture directory, if there is one.
fn fixtures() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("STATE_TESTS_DIR").map(PathBuf::from),
        Some(manifest.join("../testdata/state-tests/fixtures")),
        Some(manifest.join("../../shared/state-tests")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_dir())
}

/// Every `.json` file under `dir`, sorted.
fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
}

/// The Cancun cases of one fixture file.
fn cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    let file: BTreeMap<String, Value> = serde_json::from_str(&text).expect("fixture is JSON");
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
    let mut out = Vec::new();
    for (name, test) in file {
        let test = Arc::new(test);
        let Some(posts) = test["post"]["Cancun"].as_array().cloned() else {
            continue;
        };
        for (k, post) in posts.iter().enumerate() {
            let index = |name: &str| post["indexes"][name].as_u64().unwrap_or(0) as usize;
            let key = if name == stem {
                format!("{stem}/{k}")
            } else {
                format!("{stem}/{name}/{k}")
            };
            out.push(Case {
                key,
                test: Arc::clone(&test),
                data: index("data"),
                gas: index("gas"),
                value: index("value"),
                expect_exception: post["expectException"].as_str().map(str::to_string),
            });
        }
    }
    out
}

#[test]
fn ethereum_state_tests_verify_step_by_step() {
    let Some(dir) = fixtures() else {
        eprintln!(
            "state tests: no fixtures (set STATE_TESTS_DIR, or see testdata/state-tests/README.md)"
        );
        return;
    };
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    let filter = std::env::var("STATE_TESTS_FILTER").ok();
    let cases: Vec<(String, Case)> = files
        .iter()
        .flat_map(|path| {
            let rel = path
                .strip_prefix(&dir)
                .unwrap_or(path)
                .display()
                .to_string();
            cases(path).into_iter().map(move |c| (rel.clone(), c))
        })
        .filter(|(rel, case)| {
            filter
                .as_ref()
                .is_none_or(|f| rel.contains(f.as_str()) || case.key.contains(f.as_str()))
        })
        .collect();
    let started = Instant::now();
    let log = std::env::var_os("STATE_TESTS_LOG")
        .map(|path| std::sync::Mutex::new(std::fs::File::create(path).expect("log file")));
    let results: Vec<(String, Outcome, Duration)> = cases
        .par_iter()
        .map(|(path, case)| {
            let t = Instant::now();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(case)))
                .unwrap_or_else(|p| {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Outcome::Failed(format!("panicked: {msg}"))
                });
            let elapsed = t.elapsed();
            if let Some(file) = &log {
                let (status, steps, ops) = match &outcome {
                    Outcome::Passed(c) => (
                        "pass".to_string(),
                        c.steps,
                        c.opcodes.iter().map(|op| format!("{op:02x}")).collect(),
                    ),
                    Outcome::Failed(e) => (format!("FAIL {e}"), 0, Vec::new()),
                    Outcome::Skipped(s) => (format!("skip {}", s.class()), 0, Vec::new()),
                };
                let line = format!(
                    "{path}\t{}\t{steps}\t{}\t{status}\t{}\n",
                    case.key,
                    elapsed.as_millis(),
                    ops.join(" ")
                );
                if let Ok(mut file) = file.lock() {
                    std::io::Write::write_all(&mut *file, line.as_bytes()).expect("log written");
                }
            }
            (case.key.clone(), outcome, elapsed)
        })
        .collect();
    let elapsed = started.elapsed();

    let mut passed = 0;
    let mut steps = 0;
    let mut opcodes_seen: BTreeSet<u8> = BTreeSet::new();
    let mut kinds: BTreeSet<StepKind> = BTreeSet::new();
    let mut failed = Vec::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut slowest = (Duration::ZERO, "");
    let mut invalid_here = 0;
    for (key, outcome, time) in &results {
        match outcome {
            Outcome::Passed(c) => {
                passed += 1;
                invalid_here += usize::from(c.invalid_on_ethereum);
                steps += c.steps;
                opcodes_seen.extend(&c.opcodes);
                kinds.extend(&c.kinds);
            }
            Outcome::Failed(e) => failed.push(format!("{key}: {e}")),
            Outcome::Skipped(s) => *skipped.entry(s.class()).or_default() += 1,
        }
        if *time > slowest.0 {
            slowest = (*time, key);
        }
    }
    let missing: Vec<&str> = opcodes::all()
        .filter(|op| !opcodes_seen.contains(op))
        .map(opcodes::name)
        .collect();
    eprintln!(
        "state tests from {}: {} files, {} cases in {:.1?}",
        dir.display(),
        files.len(),
        cases.len(),
        elapsed
    );
    eprintln!(
        "  {passed} blocks verified step by step: {steps} steps, {} distinct opcodes; synthetic steps: {:?}",
        opcodes_seen.len(),
        kinds
            .iter()
            .filter(|k| !matches!(k, StepKind::Opcode(_)))
            .collect::<Vec<_>>()
    );
    eprintln!("  of which {invalid_here} hold a transaction Ethereum refuses but our chain takes");
    eprintln!("  opcodes never run: {}", missing.join(" "));
    eprintln!("  slowest case: {} ({:.1?})", slowest.1, slowest.0);
    for (reason, n) in &skipped {
        eprintln!("  skipped {n:>4}: {reason}");
    }
    for f in &failed {
        eprintln!("  FAILED {f}");
    }
    let skips: usize = skipped.values().sum();
    eprintln!(
        "state tests: {passed} passed, {} failed, {skips} skipped",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} state-test cases failed",
        failed.len()
    );
}

/// The sender of the named cases below.
fn named_signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&alloy_primitives::keccak256(b"state tests")).expect("key")
}

/// An account of a named case's pre-state: address, balance, nonce, code (hex), storage.
type PreAccount<'a> = (Address, u64, u64, &'a str, &'a [(u64, u64)]);

/// A case of our own in the state-test format: `pre` plus a funded sender, and one legacy
/// transaction from it.
fn named_case(
    name: &str,
    pre: &[PreAccount<'_>],
    to: Option<Address>,
    data: &str,
    value: u64,
) -> Case {
    let sender = named_signer();
    let mut accounts = serde_json::Map::new();
    accounts.insert(
        sender.address().to_string(),
        serde_json::json!({ "balance": "0x0de0b6b3a7640000", "nonce": "0x00", "code": "0x", "storage": {} }),
    );
    for (address, balance, nonce, code, storage) in pre {
        let storage: serde_json::Map<String, Value> = storage
            .iter()
            .map(|(k, v)| (format!("{k:#x}"), Value::String(format!("{v:#x}"))))
            .collect();
        accounts.insert(
            address.to_string(),
            serde_json::json!({
                "balance": format!("{balance:#x}"),
                "nonce": format!("{nonce:#x}"),
                "code": format!("0x{code}"),
                "storage": storage,
            }),
        );
    }
    let test = serde_json::json!({
        "env": {
            "currentCoinbase": "0x2adc25665018aa1fe0e6bc666dac8fc2697ff9ba",
            "currentGasLimit": "0x05f5e100",
            "currentTimestamp": "0x03e8",
            "currentBaseFee": "0x0a",
        },
        "pre": accounts,
        "transaction": {
            "data": [format!("0x{data}")],
            "gasLimit": ["0x0f4240"],
            "gasPrice": "0x0a",
            "nonce": "0x00",
            "secretKey": named_signer().to_bytes().to_string(),
            "to": to.map_or(String::new(), |a| a.to_string()),
            "value": [format!("{value:#x}")],
        },
    });
    Case {
        key: name.to_string(),
        test: Arc::new(test),
        data: 0,
        gas: 0,
        value: 0,
        expect_exception: None,
    }
}

/// Runs a named case: it must be built and verify step by step.
fn assert_verifies(case: &Case) -> Coverage {
    match run(case) {
        Outcome::Passed(coverage) => coverage,
        Outcome::Failed(e) => panic!("{}: {e}", case.key),
        Outcome::Skipped(s) => panic!("{}: skipped: {}", case.key, s.class()),
    }
}

const CALLER: Address = Address::repeat_byte(0xca);
const CALLEE: Address = Address::repeat_byte(0xce);

/// `CALL(gas 1000, target, value 0x17, no input, no output)` with `target` pushed as `push`
/// (hex of a PUSHn and its bytes), then `SSTORE(0, success)`.
fn call_with_value(push: &str) -> String {
    format!("6000600060006000 6017 {push} 6103e8 f1 6000 55 00").replace(' ', "")
}

/// A callee that fails (out of gas, revert, a LOG over an unpayable memory size) after
/// receiving value rolls the value back: the trace used to restore the state after the
/// transfer, so its replay reached another state root than the node (ethereum/tests
/// `CallToReturn1`, `PostToReturn1`, `CallToNameRegistratorOutOfGas`,
/// `CallToNameRegistratorAddressTooBigLeft`, `log3_logMemsizeTooHigh`, `ABAcalls0`,
/// `SuicidesAndInternalCallSuicides*`).
#[test]
fn a_failed_callee_returns_the_value_it_received() {
    let callee = CALLEE.to_string().to_lowercase().replace("0x", "");
    let callees = [
        ("out of gas", "6001600155"),
        ("revert", "60006000fd"),
        (
            "log over the memory limit",
            "6000600060007fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff6001a300",
        ),
    ];
    for (what, code) in callees {
        for (target, push) in [
            ("address", format!("73{callee}")),
            ("address with high bits", format!("74aa{callee}")),
        ] {
            let case = named_case(
                &format!("callee {what}, {target}"),
                &[
                    (CALLER, 1_000_000, 0, &call_with_value(&push), &[]),
                    (CALLEE, 0x17, 0, code, &[]),
                ],
                Some(CALLER),
                "",
                100_000,
            );
            assert_verifies(&case);
        }
    }
}

/// The caller clears slot 0 (refund +4800), then calls itself and the callee sets the slot
/// again (refund −4800): revm's counter of the callee frame goes below zero while the
/// transaction's stays at zero. The trace used to stop at "negative refund counter"
/// (ethereum/tests `SstoreCallToSelfSubRefundBelowZero`).
#[test]
fn a_callee_may_take_back_its_callers_refund() {
    // No input: SSTORE(0, 0), CALL(self, input of 1 byte), STOP; with input: SSTORE(0, 1).
    let code = "36601857600060005560006000600160006000305af150005b6001600055 00".replace(' ', "");
    let case = named_case(
        "refund taken back",
        &[(CALLER, 0, 0, &code, &[(0, 1)])],
        Some(CALLER),
        "",
        0,
    );
    let coverage = assert_verifies(&case);
    assert!(coverage.opcodes.contains(&0xf1), "the call ran");
}

/// A contract-creating transaction whose address has code: revm runs no frame, the machine
/// starts the create frame halted. The prover lacked the address's account and the trace
/// skipped the halted frame (ethereum/tests `initCollidingWithNonEmptyAccount`).
#[test]
fn a_creating_transaction_may_collide() {
    let address = named_signer().address().create(0);
    for (what, nonce, code) in [("code", 0, "00"), ("a nonce", 1, "")] {
        let case = named_case(
            &format!("collision with {what}"),
            &[(address, 5, nonce, code, &[(1, 1)])],
            None,
            "60016000556000600060006000f0",
            7,
        );
        let coverage = assert_verifies(&case);
        assert!(coverage.kinds.contains(&StepKind::TxEnd));
    }
}

/// `EXTCODECOPY` reads the account before it charges the memory expansion, so a copy that
/// runs out of gas there still needs the account's preimage: the prover lacked it for an
/// account revm had not shown yet (ethereum/tests `stMemoryTest/buffer`, `bufferSrcOffset`).
#[test]
fn extcodecopy_out_of_gas_on_memory_reads_the_account() {
    let callee = CALLEE.to_string().to_lowercase().replace("0x", "");
    // EXTCODECOPY(callee, dest 0, offset 0, size 2^32 - 1): out of gas on the expansion.
    let code = format!("63ffffffff60006000 73{callee} 3c 00").replace(' ', "");
    let case = named_case(
        "EXTCODECOPY out of gas",
        &[
            (CALLER, 0, 0, &code, &[]),
            (CALLEE, 1, 0, "6001600155", &[]),
        ],
        Some(CALLER),
        "",
        0,
    );
    assert_verifies(&case);
}

/// Between its micro-steps `EXTCODECOPY` keeps its arguments on the stack: the address word
/// as it was popped, bits above the 20 address bytes included. The verifier pushed back the
/// truncated address, so its stack differed from revm's (ethereum/tests
/// `stSystemOperationsTest/extcodecopy`).
#[test]
fn extcodecopy_keeps_a_high_bits_address_word_between_micro_steps() {
    let callee = CALLEE.to_string().to_lowercase().replace("0x", "");
    // EXTCODECOPY(0xaa‖callee, dest 0, offset 0, size 64): two micro-steps.
    let code = format!("604060006000 74aa{callee} 3c 00").replace(' ', "");
    let case = named_case(
        "EXTCODECOPY of a high-bits address",
        &[
            (CALLER, 0, 0, &code, &[]),
            (CALLEE, 1, 0, "6001600155", &[]),
        ],
        Some(CALLER),
        "",
        0,
    );
    assert_verifies(&case);
}
