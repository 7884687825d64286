//! Red-team tests: consistent forgeries and adversarial witnesses a liar can build against the
//! step verifier. Each builds an honest proof with `Trace::prove_step`, tampers it as a liar
//! would (keeping every witness consistent with the commitments it is checked against), and
//! asserts `verify_step` refuses it or returns the honest post-state hash — without panicking.

use alloy::{
    consensus::{SignableTransaction, TxEip1559},
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use fraud_vm::{
    chain::ChainGenesis,
    execute::{BlockAttributes, BlockBuilder, BuiltBlock, ExecutableTx},
    memory::MemoryState,
    smt::{self, MemoryNodes},
    state::account_key,
    vm::{self, Proof, StepKind, Trace, Witness},
};
use op_alloy_consensus::OpTxEnvelope;

const CHAIN_ID: u64 = 42069;
const CONTRACT: Address = Address::repeat_byte(0xc0);
const OTHER: Address = Address::repeat_byte(0xdd);
const COINBASE: Address = Address::new([
    0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,
]);

fn signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256([7u8])).expect("valid key")
}

fn caller() -> Address {
    signer().address()
}

fn genesis(code: &[u8]) -> (ChainGenesis, BuiltBlock, MemoryState) {
    let json = serde_json::json!({
        "config": { "chainId": CHAIN_ID },
        "gasLimit": "0x1c9c380",
        "baseFeePerGas": "0x3b9aca00",
        "timestamp": "0x0",
        "coinbase": COINBASE.to_string(),
        "alloc": {
            caller().to_string(): { "balance": "0xd3c21bcecceda1000000" },
            CONTRACT.to_string(): {
                "balance": "0x10",
                "code": format!("0x{}", alloy_primitives::hex::encode(code)),
                "storage": {
                    "0x0000000000000000000000000000000000000000000000000000000000000001":
                        "0x0000000000000000000000000000000000000000000000000000000000001111",
                },
            },
            OTHER.to_string(): { "balance": "0x0", "code": "0x6001600055", "nonce": "0x1" },
        },
    });
    let chain = ChainGenesis::from_json(&json.to_string()).expect("genesis");
    let block0 = chain.build().expect("block 0");
    let mut state = MemoryState::new();
    state.apply(&block0);
    (chain, block0, state)
}

fn eip1559(
    nonce: u64,
    to: TxKind,
    value: u64,
    input: &[u8],
    gas: u64,
    list: alloy::eips::eip2930::AccessList,
) -> (OpTxEnvelope, Address) {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to,
        value: U256::from(value),
        input: Bytes::copy_from_slice(input),
        access_list: list,
    };
    let sig = signer().sign_transaction_sync(&mut tx).expect("sign");
    (OpTxEnvelope::Eip1559(tx.into_signed(sig)), caller())
}

struct Built {
    chain: ChainGenesis,
    block0: BuiltBlock,
    state: MemoryState,
    block1: BuiltBlock,
}

fn build(code: &[u8], txs: Vec<(OpTxEnvelope, Address)>) -> Built {
    let (chain, block0, state) = genesis(code);
    let attrs = BlockAttributes {
        timestamp: 12,
        gas_limit: 30_000_000,
        prevrandao: B256::repeat_byte(0x99),
        extra_data: Bytes::from_static(b"step machine"),
    };
    let mut builder = BlockBuilder::new(&chain.spec, &state, &block0.header, block0.hash, attrs);
    for (tx, sender) in txs {
        builder
            .execute(ExecutableTx { tx, sender })
            .expect("transaction included");
    }
    let block1 = builder.finish().expect("finish");
    Built {
        chain,
        block0,
        state,
        block1,
    }
}

impl Built {
    fn trace(&self) -> Trace<'_, MemoryState> {
        Trace::for_block(
            &self.state,
            &self.chain.spec,
            &self.block0.header,
            &self.block1,
        )
        .expect("trace")
    }
}

/// The honest `(pre, proof, post)` of every step of `built`'s block.
fn steps(built: &Built) -> Vec<(B256, Proof, B256, StepKind)> {
    let trace = built.trace();
    (0..trace.len())
        .map(|i| {
            let (proof, info) = trace.prove_step(i).expect("prove");
            (
                trace.state_hash(i),
                proof,
                trace.state_hash(i + 1),
                info.kind,
            )
        })
        .collect()
}

/// The property: a forged proof is refused, or verifies to the honest post-state (and never
/// panics).
fn assert_no_forgery(pre: B256, forged: &Proof, post: B256, what: &str) {
    let result = std::panic::catch_unwind(|| vm::verify_step(pre, forged));
    match result {
        Err(_) => panic!("PANIC on adversarial proof: {what}"),
        Ok(Ok((h, _))) => assert_eq!(h, post, "FORGERY: {what} verified to another post-state"),
        Ok(Err(_)) => {}
    }
}

/// An SMT over `keys` (each a member), for proving against.
fn set_tree(keys: &[B256]) -> (MemoryNodes, B256) {
    let mut nodes = MemoryNodes::new();
    let changes = keys.iter().map(|k| (*k, Some(vm::SET_MEMBER))).collect();
    let result = smt::update(&nodes, B256::ZERO, changes).expect("update");
    nodes.insert_all(result.new_nodes);
    (nodes, result.root)
}

/// Finding: an access-list entry warmed before the last one was not checked against anything
/// (the entries' hash chain was only compared with the input's `accessListHash` after the last
/// entry), so a liar could warm any address or slot in an intermediate micro-step.
#[test]
fn intermediate_access_list_entries_are_bound() {
    use alloy::eips::eip2930::{AccessList, AccessListItem};
    use fraud_vm::state::storage_key;
    // Entries: CONTRACT, CONTRACT slot 1, OTHER — the first two are intermediate.
    let list = AccessList(vec![
        AccessListItem {
            address: CONTRACT,
            storage_keys: vec![B256::with_last_byte(1)],
        },
        AccessListItem {
            address: OTHER,
            storage_keys: vec![],
        },
    ]);
    let built = build(
        &[0x00],
        vec![eip1559(0, TxKind::Call(CONTRACT), 0, &[], 100_000, list)],
    );
    let evil = Address::repeat_byte(0x66);
    let evil_slot = B256::with_last_byte(7);
    // The sets a forged entry is proven against: the accessed addresses at the start
    // ({sender, to, coinbase}) and the empty accessed-slots set.
    let (addresses, addresses_root) = set_tree(&[
        account_key(&caller()),
        account_key(&CONTRACT),
        account_key(&COINBASE),
    ]);
    let mut forged_kinds = Vec::new();
    for (pre, proof, post, kind) in &steps(&built) {
        let Proof::Step(step) = proof else { continue };
        if *kind != StepKind::TxInit {
            continue;
        }
        assert_eq!(vm::verify_step(*pre, proof).expect("honest").0, *post);
        let Some(at) = step
            .witnesses
            .iter()
            .position(|w| matches!(w, Witness::AccessEntry(_)))
        else {
            continue;
        };
        let Witness::AccessEntry(honest) = step.witnesses[at] else {
            unreachable!()
        };
        let (entry, smt_proof) = match honest.slot {
            None if step.tx.accessed_addresses == addresses_root => (
                vm::input::AccessEntry {
                    address: evil,
                    slot: None,
                },
                smt::prove(&addresses, addresses_root, &account_key(&evil)),
            ),
            Some(_) if step.tx.accessed_slots.is_zero() => (
                vm::input::AccessEntry {
                    address: honest.address,
                    slot: Some(evil_slot),
                },
                smt::prove(
                    &MemoryNodes::new(),
                    B256::ZERO,
                    &storage_key(&honest.address, &U256::from_be_bytes(evil_slot.0)),
                ),
            ),
            _ => continue,
        };
        let mut forged = (**step).clone();
        forged.witnesses[at] = Witness::AccessEntry(entry);
        let smt_at = at
            + forged.witnesses[at..]
                .iter()
                .position(|w| matches!(w, Witness::Smt(_)))
                .expect("the set write");
        forged.witnesses[smt_at] = Witness::Smt(smt_proof.expect("prove"));
        assert_no_forgery(
            *pre,
            &Proof::Step(Box::new(forged)),
            *post,
            &format!("access-list entry {honest:?} replaced by {entry:?}"),
        );
        forged_kinds.push(honest.slot.is_some());
    }
    // Warming CONTRACT (already warm) leaves the address set as it was, so the last entry
    // (OTHER, always checked) is attacked too.
    assert_eq!(
        forged_kinds,
        [false, true, false],
        "the intermediate address and slot entries and the last entry"
    );
}
