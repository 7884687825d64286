//! Block execution on revm: balances, fees, receipts, contract creation, reverts, storage
//! deletion, EIP-6780 self-destruct, rejections — and after every block, the incrementally
//! maintained state root equals a root rebuilt from scratch from the flat state.

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxLegacy},
    network::TxSignerSync,
    primitives::{hex, keccak256, Address, Bytes, TxKind, B256, U256},
    signers::local::PrivateKeySigner,
};
use alloy_consensus::Header;
use alloy_eips::eip2718::Encodable2718;
use fraud_vm::{
    block::{receipt_item, Accumulator},
    chain::ChainGenesis,
    execute::{
        block_timestamp, AfterBlock, BlockAttributes, BlockBuilder, BuiltBlock, ExecutableTx,
        TxRejection,
    },
    memory::MemoryState,
    smt::{self, MemoryNodes},
};
use op_alloy_consensus::{OpReceiptEnvelope, OpTxEnvelope, TxDeposit};

const CHAIN_ID: u64 = 42069;
const ONE_ETH: u128 = 1_000_000_000_000_000_000;
/// Runtime: `sstore(0, calldataload(0))`.
const STORE_RUNTIME: &str = "60003560005500";
/// Initcode: `sstore(1, 42)`, then return STORE_RUNTIME.
const STORE_INIT: &str = "602a6001556007601160003960076000f360003560005500";
/// Initcode: `sstore(1, 42)`, then `selfdestruct(caller)`.
const SELFDESTRUCT_INIT: &str = "602a60015533ff";
/// Initcode: `revert(0, 0)`.
const REVERT_INIT: &str = "60006000fd";

fn key(i: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256([i])).expect("valid key")
}

struct Chain {
    genesis: ChainGenesis,
    state: MemoryState,
    head: Header,
    head_hash: B256,
}

impl Chain {
    fn new(funded: &[Address]) -> Self {
        Self::with_alloc(funded, serde_json::Map::new())
    }

    /// A chain funding `funded`, with the extra genesis `alloc` entries `extra`.
    fn with_alloc(funded: &[Address], extra: serde_json::Map<String, serde_json::Value>) -> Self {
        let mut alloc: serde_json::Map<String, serde_json::Value> = funded
            .iter()
            .map(|a| {
                (
                    a.to_string(),
                    serde_json::json!({ "balance": "0x3635c9adc5dea00000" }),
                )
            })
            .collect();
        alloc.extend(extra);
        let json = serde_json::json!({
            "config": { "chainId": CHAIN_ID },
            "gasLimit": "0x1c9c380",
            "baseFeePerGas": "0x3b9aca00",
            "timestamp": "0x0",
            "coinbase": "0x4200000000000000000000000000000000000011",
            "alloc": alloc,
        });
        let genesis = ChainGenesis::from_json(&json.to_string()).expect("genesis");
        let block0 = genesis.build().expect("block 0");
        let mut state = MemoryState::new();
        state.apply(&block0);
        let chain = Self {
            genesis,
            state,
            head: block0.header.clone(),
            head_hash: block0.hash,
        };
        chain.check_root();
        chain
    }

    /// Builds a block from `txs`; returns it and the per-tx rejections.
    fn block(&mut self, txs: Vec<(OpTxEnvelope, Address)>) -> (BuiltBlock, Vec<Option<String>>) {
        let attrs = BlockAttributes {
            timestamp: self.head.timestamp + 1,
            gas_limit: 30_000_000,
            prevrandao: keccak256(self.head_hash),
            extra_data: Bytes::new(),
        };
        let mut builder = BlockBuilder::new(
            &self.genesis.spec,
            &self.state,
            &self.head,
            self.head_hash,
            attrs,
        );
        let mut outcomes = Vec::new();
        for (tx, sender) in txs {
            match builder.execute(ExecutableTx { tx, sender }) {
                Ok(_) => outcomes.push(None),
                Err(TxRejection::Fatal(e)) => panic!("fatal: {e}"),
                Err(e) => outcomes.push(Some(e.to_string())),
            }
        }
        let block = builder.finish().expect("finish");
        self.state.apply(&block);
        self.head = block.header.clone();
        self.head_hash = block.hash;
        self.check_root();
        (block, outcomes)
    }

    /// The root kept up to date block by block equals the root of the whole state built at once.
    fn check_root(&self) {
        let scratch = smt::update(&MemoryNodes::default(), B256::ZERO, self.state.leaves())
            .expect("scratch root");
        assert_eq!(
            scratch.root, self.state.state_root,
            "incremental root != scratch root"
        );
    }

    fn balance(&self, a: &Address) -> U256 {
        self.state.account(a).map(|a| a.balance).unwrap_or_default()
    }

    fn nonce(&self, a: &Address) -> u64 {
        self.state.account(a).map(|a| a.nonce).unwrap_or_default()
    }
}

fn eip1559(
    signer: &PrivateKeySigner,
    nonce: u64,
    to: TxKind,
    value: u128,
    input: &str,
) -> (OpTxEnvelope, Address) {
    let mut tx = TxEip1559 {
        chain_id: CHAIN_ID,
        nonce,
        gas_limit: 1_000_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to,
        value: U256::from(value),
        input: hex::decode(input).expect("hex").into(),
        ..Default::default()
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("sign");
    (OpTxEnvelope::Eip1559(tx.into_signed(sig)), signer.address())
}

#[test]
fn transfer_pays_value_and_fees() {
    let alice = key(1);
    let bob = Address::repeat_byte(0xb0);
    let mut chain = Chain::new(&[alice.address()]);
    let before = chain.balance(&alice.address());
    let base_fee = chain
        .head
        .next_block_base_fee(chain.genesis.spec.base_fee_params)
        .unwrap();
    let (block, rejected) = chain.block(vec![eip1559(&alice, 0, TxKind::Call(bob), ONE_ETH, "")]);
    assert_eq!(rejected, vec![None]);
    assert_eq!(block.header.gas_used, 21_000);
    assert_eq!(block.header.base_fee_per_gas, Some(base_fee));
    assert!(block.receipts[0].status());
    assert_eq!(chain.balance(&bob), U256::from(ONE_ETH));
    let tip = 2_000_000_000u128.min(10_000_000_000 - base_fee as u128);
    let fee = U256::from(21_000u128 * (base_fee as u128 + tip));
    assert_eq!(
        chain.balance(&alice.address()),
        before - U256::from(ONE_ETH) - fee
    );
    assert_eq!(chain.nonce(&alice.address()), 1);
    let recipient = chain.genesis.spec.fee_recipient;
    assert_eq!(chain.balance(&recipient), U256::from(21_000u128 * tip));
    // Header commitments recomputed from the block's contents.
    let mut txs = Accumulator::default();
    let mut receipts = Accumulator::default();
    for (tx, r) in block.transactions.iter().zip(&block.receipts) {
        txs.push(keccak256(tx.encoded_2718()));
        receipts.push(receipt_item(
            tx.tx_type() as u8,
            r.status(),
            r.cumulative_gas_used(),
            r.logs(),
        ));
    }
    assert_eq!(block.header.transactions_root, txs.root());
    assert_eq!(block.header.receipts_root, receipts.root());
    assert_eq!(block.hash, keccak256(alloy_rlp::encode(&block.header)));
}

#[test]
fn contract_creation_storage_and_deletion() {
    let alice = key(2);
    let mut chain = Chain::new(&[alice.address()]);
    let (block, rejected) = chain.block(vec![eip1559(&alice, 0, TxKind::Create, 0, STORE_INIT)]);
    assert_eq!(rejected, vec![None]);
    let contract = alice.address().create(0);
    assert_eq!(block.outcomes[0].contract_address, Some(contract));
    let account = chain.state.account(&contract).expect("contract exists");
    let runtime = hex::decode(STORE_RUNTIME).unwrap();
    assert_eq!(account.code_hash, keccak256(&runtime));
    assert_eq!(account.code_root, fraud_vm::state::code_root(&runtime));
    assert_eq!(account.nonce, 1, "EIP-161: contracts start at nonce 1");
    assert_eq!(
        chain.state.storage(&contract, &U256::from(1)),
        U256::from(42)
    );

    let five = format!("{:064x}", 5);
    let zero = format!("{:064x}", 0);
    chain.block(vec![eip1559(&alice, 1, TxKind::Call(contract), 0, &five)]);
    assert_eq!(chain.state.storage(&contract, &U256::ZERO), U256::from(5));
    let leaves_before = chain.state.leaves().len();
    chain.block(vec![eip1559(&alice, 2, TxKind::Call(contract), 0, &zero)]);
    assert_eq!(chain.state.storage(&contract, &U256::ZERO), U256::ZERO);
    assert_eq!(
        chain.state.leaves().len(),
        leaves_before - 1,
        "zeroed slot leaves the tree"
    );
}

#[test]
fn revert_keeps_state_but_charges_gas() {
    let alice = key(3);
    let mut chain = Chain::new(&[alice.address()]);
    let before = chain.balance(&alice.address());
    let (block, rejected) = chain.block(vec![eip1559(&alice, 0, TxKind::Create, 0, REVERT_INIT)]);
    assert_eq!(rejected, vec![None]);
    assert!(!block.receipts[0].status());
    assert!(chain.state.account(&alice.address().create(0)).is_none());
    assert_eq!(chain.nonce(&alice.address()), 1);
    assert!(chain.balance(&alice.address()) < before);
}

#[test]
fn selfdestruct_in_creating_tx_removes_account_and_storage() {
    let alice = key(4);
    let mut chain = Chain::new(&[alice.address()]);
    let (_, rejected) = chain.block(vec![eip1559(
        &alice,
        0,
        TxKind::Create,
        ONE_ETH,
        SELFDESTRUCT_INIT,
    )]);
    assert_eq!(rejected, vec![None]);
    let created = alice.address().create(0);
    assert!(chain.state.account(&created).is_none());
    assert_eq!(chain.state.storage(&created, &U256::from(1)), U256::ZERO);
}

#[test]
fn invalid_transactions_are_rejected_without_effect() {
    let alice = key(5);
    let poor = key(6);
    let mut chain = Chain::new(&[alice.address()]);
    let root = chain.state.state_root;
    let mut legacy = TxLegacy {
        chain_id: Some(1),
        nonce: 0,
        gas_price: 10_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        ..Default::default()
    };
    let sig = alice.sign_transaction_sync(&mut legacy).unwrap();
    let wrong_chain = (
        OpTxEnvelope::Legacy(legacy.into_signed(sig)),
        alice.address(),
    );
    let (block, rejected) = chain.block(vec![
        eip1559(&alice, 5, TxKind::Call(Address::ZERO), 0, ""),
        eip1559(&poor, 0, TxKind::Call(Address::ZERO), 1, ""),
        wrong_chain,
    ]);
    assert!(rejected.iter().all(|r| r.is_some()), "{rejected:?}");
    assert!(block.transactions.is_empty());
    assert_eq!(
        block.header.state_root, root,
        "an empty block leaves the state root"
    );
}

#[test]
fn block_gas_limit_is_enforced() {
    let alice = key(7);
    let mut chain = Chain::new(&[alice.address()]);
    let mut txs = Vec::new();
    for nonce in 0..40 {
        // An endless loop: burns its whole 1M gas limit.
        txs.push(eip1559(&alice, nonce, TxKind::Create, 0, "5b600056"));
    }
    // 30M gas limit, 1M gas used per tx: 30 fit.
    let (block, rejected) = chain.block(txs);
    assert_eq!(block.transactions.len(), 30);
    assert_eq!(block.header.gas_used, 30_000_000);
    assert!(rejected[30..]
        .iter()
        .all(|r| r.as_deref() == Some("block gas limit reached")));
}

/// A block built on `AfterBlock` (the parent's changes not yet applied to the store) equals the
/// same block built on the stored parent state.
#[test]
fn building_on_an_unstored_parent_equals_building_on_the_stored_one() {
    let alice = key(8);
    let bob = key(9);
    let mut chain = Chain::new(&[alice.address(), bob.address()]);
    let before = chain.state.clone();
    let (parent, _) = chain.block(vec![
        eip1559(&alice, 0, TxKind::Create, 0, STORE_INIT),
        eip1559(&bob, 0, TxKind::Call(Address::repeat_byte(1)), ONE_ETH, ""),
    ]);
    let contract = alice.address().create(0);
    let next_txs = || {
        vec![
            eip1559(&alice, 1, TxKind::Call(contract), 0, &format!("{:064x}", 9)),
            eip1559(&bob, 1, TxKind::Call(alice.address()), ONE_ETH, ""),
        ]
    };
    let attrs = BlockAttributes {
        timestamp: parent.header.timestamp + 1,
        gas_limit: 30_000_000,
        prevrandao: keccak256(parent.hash),
        extra_data: Bytes::new(),
    };
    // On the stored parent state.
    let (stored, rejected) = chain.block(next_txs());
    assert_eq!(rejected, vec![None, None]);
    // On the pre-parent state with the parent's changes overlaid.
    let overlay = AfterBlock::new(&before, &parent);
    let mut builder = BlockBuilder::new(
        &chain.genesis.spec,
        &overlay,
        &parent.header,
        parent.hash,
        attrs,
    );
    for (tx, sender) in next_txs() {
        builder
            .execute(ExecutableTx { tx, sender })
            .expect("valid on the overlay");
    }
    let overlaid = builder.finish().expect("finish");
    assert_eq!(overlaid.hash, stored.hash);
    assert_eq!(overlaid.header.state_root, stored.header.state_root);
}

/// The timestamp rule: a block is stamped `max(proposed, parent + 1)`, so timestamps strictly
/// increase whatever the proposer (sequencer clock or batch) says.
#[test]
fn block_timestamps_strictly_increase() {
    assert_eq!(block_timestamp(100, 100), 101);
    assert_eq!(block_timestamp(100, 50), 101);
    assert_eq!(block_timestamp(100, 101), 101);
    assert_eq!(block_timestamp(100, 250), 250);
    assert_eq!(block_timestamp(u64::MAX, 0), u64::MAX);
    let chain = Chain::new(&[]);
    for (proposed, stamped) in [
        (chain.head.timestamp, chain.head.timestamp + 1),
        (0, chain.head.timestamp + 1),
        (chain.head.timestamp + 7, chain.head.timestamp + 7),
    ] {
        let attrs = BlockAttributes {
            timestamp: proposed,
            gas_limit: 30_000_000,
            prevrandao: keccak256(chain.head_hash),
            extra_data: Bytes::new(),
        };
        let builder = BlockBuilder::new(
            &chain.genesis.spec,
            &chain.state,
            &chain.head,
            chain.head_hash,
            attrs,
        );
        assert_eq!(builder.header().timestamp, stamped, "proposed {proposed}");
    }
}

// ---------------------------------------------------------------------------------------------
// Deposits (type 0x7E): fraud_vm::deposit's rule.

fn deposit(from: Address, to: TxKind, mint: u128, value: u128, gas: u64, input: &str) -> TxDeposit {
    TxDeposit {
        source_hash: keccak256(format!("{from}{mint}{value}{input}")),
        from,
        to,
        mint,
        value: U256::from(value),
        gas_limit: gas,
        is_system_transaction: false,
        input: hex::decode(input).expect("hex").into(),
    }
}

fn as_tx(d: TxDeposit) -> (OpTxEnvelope, Address) {
    let from = d.from;
    (OpTxEnvelope::from(d), from)
}

/// The deposit fields of a receipt: (status, deposit nonce, receipt version).
fn deposit_receipt(r: &OpReceiptEnvelope) -> (bool, Option<u64>, Option<u64>) {
    match r {
        OpReceiptEnvelope::Deposit(d) => (
            r.status(),
            d.receipt.deposit_nonce,
            d.receipt.deposit_receipt_version,
        ),
        other => panic!("not a deposit receipt: {other:?}"),
    }
}

#[test]
fn deposit_mints_and_calls_without_fees() {
    let alice = key(20);
    let depositor = Address::repeat_byte(0xd0);
    let bob = Address::repeat_byte(0xb1);
    let mut chain = Chain::new(&[alice.address()]);
    let recipient = chain.genesis.spec.fee_recipient;
    let d = deposit(
        depositor,
        TxKind::Call(bob),
        2 * ONE_ETH,
        ONE_ETH,
        100_000,
        "",
    );
    let hash = keccak256(OpTxEnvelope::from(d.clone()).encoded_2718());
    let (block, rejected) =
        chain.block(vec![as_tx(d), eip1559(&alice, 0, TxKind::Call(bob), 1, "")]);
    assert_eq!(rejected, vec![None, None]);
    assert_eq!(block.transactions[0].tx_hash(), hash);
    assert_eq!(block.senders[0], depositor);
    assert_eq!(
        deposit_receipt(&block.receipts[0]),
        (true, Some(0), Some(1))
    );
    assert_eq!(block.receipts[0].cumulative_gas_used(), 21_000);
    assert_eq!(
        block.header.gas_used, 42_000,
        "deposit gas counts toward the block"
    );
    // Minted 2 ETH, sent 1 ETH, paid no fee.
    assert_eq!(chain.balance(&depositor), U256::from(ONE_ETH));
    assert_eq!(chain.balance(&bob), U256::from(ONE_ETH + 1));
    assert_eq!(chain.nonce(&depositor), 1);
    // Only alice's tip reached the fee recipient.
    let base_fee = block.header.base_fee_per_gas.unwrap() as u128;
    let tip = 2_000_000_000u128.min(10_000_000_000 - base_fee);
    assert_eq!(chain.balance(&recipient), U256::from(21_000 * tip));
    // A second deposit from the same account uses (and reports) its next nonce.
    let (block, _) = chain.block(vec![as_tx(deposit(
        depositor,
        TxKind::Call(bob),
        0,
        1,
        50_000,
        "",
    ))]);
    assert_eq!(
        deposit_receipt(&block.receipts[0]),
        (true, Some(1), Some(1))
    );
    assert_eq!(chain.nonce(&depositor), 2);
}

#[test]
fn invalid_deposit_is_included_as_failed_and_keeps_its_mint() {
    let depositor = Address::repeat_byte(0xd1);
    let bob = Address::repeat_byte(0xb2);
    let mut chain = Chain::new(&[]);
    // Value above the balance after the mint: revm refuses it.
    let (block, rejected) = chain.block(vec![as_tx(deposit(
        depositor,
        TxKind::Call(bob),
        ONE_ETH,
        2 * ONE_ETH,
        80_000,
        "",
    ))]);
    assert_eq!(rejected, vec![None], "a deposit is always included");
    assert_eq!(
        deposit_receipt(&block.receipts[0]),
        (false, Some(0), Some(1))
    );
    assert_eq!(block.outcomes[0].gas_used, 80_000);
    assert_eq!(block.header.gas_used, 80_000);
    assert!(block.receipts[0].logs().is_empty());
    assert_eq!(chain.balance(&depositor), U256::from(ONE_ETH));
    assert_eq!(chain.nonce(&depositor), 1);
    assert_eq!(chain.balance(&bob), U256::ZERO);
    // Gas limit below the intrinsic gas: same rule, from an account that does not exist.
    let nobody = Address::repeat_byte(0xd2);
    let (block, rejected) = chain.block(vec![as_tx(deposit(
        nobody,
        TxKind::Call(bob),
        0,
        0,
        20_000,
        "",
    ))]);
    assert_eq!(rejected, vec![None]);
    assert_eq!(
        deposit_receipt(&block.receipts[0]),
        (false, Some(0), Some(1))
    );
    assert_eq!(block.header.gas_used, 20_000);
    assert_eq!(chain.nonce(&nobody), 1);
}

#[test]
fn reverting_deposit_keeps_mint_and_creating_deposit_deploys() {
    let depositor = Address::repeat_byte(0xd3);
    let mut chain = Chain::new(&[]);
    let (block, rejected) = chain.block(vec![
        as_tx(deposit(
            depositor,
            TxKind::Create,
            ONE_ETH,
            0,
            100_000,
            REVERT_INIT,
        )),
        as_tx(deposit(
            depositor,
            TxKind::Create,
            0,
            0,
            200_000,
            STORE_INIT,
        )),
    ]);
    assert_eq!(rejected, vec![None, None]);
    assert_eq!(
        deposit_receipt(&block.receipts[0]),
        (false, Some(0), Some(1))
    );
    assert!(
        block.outcomes[0].gas_used < 100_000,
        "a revert uses actual gas"
    );
    assert_eq!(
        deposit_receipt(&block.receipts[1]),
        (true, Some(1), Some(1))
    );
    let contract = depositor.create(1);
    assert_eq!(block.outcomes[1].contract_address, Some(contract));
    assert_eq!(
        chain.state.storage(&contract, &U256::from(1)),
        U256::from(42)
    );
    assert_eq!(chain.balance(&depositor), U256::from(ONE_ETH));
    assert_eq!(chain.nonce(&depositor), 2);
}

#[test]
fn deposit_that_does_not_fit_waits_and_system_flag_is_refused() {
    let mut chain = Chain::new(&[]);
    let big = deposit(
        Address::repeat_byte(0xd4),
        TxKind::Call(Address::ZERO),
        1,
        0,
        31_000_000,
        "",
    );
    let mut system = deposit(
        Address::repeat_byte(0xd5),
        TxKind::Call(Address::ZERO),
        1,
        0,
        50_000,
        "",
    );
    system.is_system_transaction = true;
    let (block, rejected) = chain.block(vec![as_tx(big), as_tx(system)]);
    assert!(block.transactions.is_empty());
    assert_eq!(rejected[0].as_deref(), Some("block gas limit reached"));
    assert!(rejected[1].as_deref().unwrap().contains("system"));
    assert_eq!(chain.balance(&Address::repeat_byte(0xd4)), U256::ZERO);
}

fn l1_info_code() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../contracts/out/L1Info.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read L1Info artifact"))
            .expect("artifact json");
    json["deployedBytecode"]
        .as_str()
        .expect("deployedBytecode")
        .to_string()
}

#[test]
fn l1_info_deposit_records_the_origin() {
    use fraud_vm::{
        deposit::{l1_info_deposit, L1BlockInfo},
        message::{L1_INFO, SYSTEM_DEPOSITOR},
    };
    let mut extra = serde_json::Map::new();
    extra.insert(
        L1_INFO.to_string(),
        serde_json::json!({ "balance": "0x0", "code": l1_info_code() }),
    );
    let mut chain = Chain::with_alloc(&[], extra);
    let origin = L1BlockInfo {
        number: 1234,
        hash: B256::repeat_byte(0x77),
        timestamp: 1_700_000_123,
        basefee: 987_654_321,
    };
    let number = chain.head.number + 1;
    let info = l1_info_deposit(&origin, number);
    let mut forged = info.clone();
    forged.from = Address::repeat_byte(0x66);
    forged.source_hash = B256::repeat_byte(1);
    let (block, rejected) = chain.block(vec![as_tx(info), as_tx(forged)]);
    assert_eq!(rejected, vec![None, None]);
    assert_eq!(block.senders[0], SYSTEM_DEPOSITOR);
    assert_eq!(
        deposit_receipt(&block.receipts[0]),
        (true, Some(0), Some(1))
    );
    assert!(
        !deposit_receipt(&block.receipts[1]).0,
        "only the system depositor may set the L1 info"
    );
    let slot = |i: u64| chain.state.storage(&L1_INFO, &U256::from(i));
    assert_eq!(
        slot(0),
        U256::from(1234u64) | (U256::from(1_700_000_123u64) << 64)
    );
    assert_eq!(slot(1), U256::from(987_654_321u64));
    assert_eq!(slot(2), U256::from_be_bytes(origin.hash.0));
    assert_eq!(chain.nonce(&SYSTEM_DEPOSITOR), 1);
}

/// The L1 data fee (`fraud_vm::fee`): a user transaction pays `l1BaseFee · 16 · (len + 4)` to
/// the L1 fee vault on top of its gas, kept also when the call reverts; a sender that cannot
/// cover it is refused, and a refused transaction (for the fee, or by revm after the fee was
/// taken) leaves no trace, not even an empty vault account.
#[test]
fn user_transactions_pay_the_l1_data_fee_to_the_vault() {
    use fraud_vm::{
        deposit::{l1_info_deposit, L1BlockInfo},
        fee::{l1_fee, L1_FEE_VAULT},
        message::L1_INFO,
    };
    let (alice, carol, dave) = (key(1), key(3), key(4));
    let bob = Address::repeat_byte(0xb0);
    let l1_basefee = 50_000_000_000u64;
    let probe = eip1559(&carol, 0, TxKind::Call(bob), 1, "");
    let carol_needs = U256::from(1_000_000u128 * 10_000_000_000 + 1)
        + l1_fee(U256::from(l1_basefee), probe.0.encode_2718_len() as u64);
    let mut extra = serde_json::Map::new();
    extra.insert(
        L1_INFO.to_string(),
        serde_json::json!({ "balance": "0x0", "code": l1_info_code() }),
    );
    extra.insert(
        carol.address().to_string(),
        serde_json::json!({ "balance": format!("{:#x}", carol_needs - U256::from(1)) }),
    );
    let mut chain = Chain::with_alloc(&[alice.address(), dave.address()], extra);
    let origin = L1BlockInfo {
        number: 7,
        hash: B256::repeat_byte(0x07),
        timestamp: 1_000,
        basefee: l1_basefee,
    };

    // Refused: carol is one wei short of gas, value and L1 fee; dave's nonce is wrong (revm
    // refuses after the fee was taken). Neither leaves a vault account behind.
    let number = chain.head.number + 1;
    let (block, rejected) = chain.block(vec![
        as_tx(l1_info_deposit(&origin, number)),
        probe,
        eip1559(&dave, 5, TxKind::Call(bob), 1, ""),
    ]);
    assert_eq!(rejected[0], None);
    assert!(
        rejected[1]
            .as_deref()
            .is_some_and(|r| r.contains("L1 data fee")),
        "{rejected:?}"
    );
    assert!(rejected[2].is_some(), "{rejected:?}");
    assert_eq!(block.transactions.len(), 1);
    assert_eq!(chain.balance(&carol.address()), carol_needs - U256::from(1));
    assert_eq!(
        chain.balance(&dave.address()),
        U256::from(1_000u128 * ONE_ETH)
    );
    assert!(chain.state.account(&L1_FEE_VAULT).is_none());

    // Paid: a transfer and a reverting creation, each its own fee.
    let before = chain.balance(&alice.address());
    let base_fee = chain
        .head
        .next_block_base_fee(chain.genesis.spec.base_fee_params)
        .unwrap() as u128;
    let transfer = eip1559(&alice, 0, TxKind::Call(bob), ONE_ETH, "");
    let reverting = eip1559(&alice, 1, TxKind::Create, 0, REVERT_INIT);
    let fees: Vec<U256> = [&transfer, &reverting]
        .iter()
        .map(|(tx, _)| l1_fee(U256::from(l1_basefee), tx.encode_2718_len() as u64))
        .collect();
    let number = chain.head.number + 1;
    let (block, rejected) = chain.block(vec![
        as_tx(l1_info_deposit(&origin, number)),
        transfer,
        reverting,
    ]);
    assert_eq!(rejected, vec![None, None, None]);
    assert!(!block.receipts[2].status(), "the creation reverts");
    assert_eq!(block.outcomes[0].l1_fee, U256::ZERO, "deposits pay none");
    assert_eq!(block.outcomes[1].l1_fee, fees[0]);
    assert_eq!(block.outcomes[2].l1_fee, fees[1]);
    let gas: u128 = block.outcomes[1..].iter().map(|o| o.gas_used as u128).sum();
    let tip = 2_000_000_000u128.min(10_000_000_000 - base_fee);
    assert_eq!(
        chain.balance(&alice.address()),
        before - U256::from(ONE_ETH) - U256::from(gas * (base_fee + tip)) - fees[0] - fees[1]
    );
    assert_eq!(chain.balance(&L1_FEE_VAULT), fees[0] + fees[1]);
}
