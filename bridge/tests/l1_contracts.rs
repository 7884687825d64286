//! The L1 contracts (`Inbox`, `Portal`, `OutputRegistry`, `L1StandardBridge`) in revm, checked
//! against the Rust formats of `fraud_vm::message` and `fraud_vm::output`.

// `sol!` generates constructors with one argument per event/call field.
#![allow(clippy::too_many_arguments)]

mod common;

use alloy_primitives::{address, keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::{sol, SolCall, SolValue};
use common::{Chain, Outcome};
use fraud_vm::{
    batch::{BatchAppended, BatchCommitment},
    deposit::{
        min_deposit_gas_limit, DEPOSIT_GAS_PER_DATA_BYTE, MAX_DEPOSIT_DATA, MAX_DEPOSIT_GAS_LIMIT,
        MIN_DEPOSIT_GAS_LIMIT,
    },
    merkle::data_root,
    message::{apply_alias, DepositMessage, Withdrawal, L2_STANDARD_BRIDGE, WITHDRAWAL_SENT_VALUE},
    output::output_root,
    smt::{self, MemoryNodes},
    vm::Claim,
};

sol! {
    interface Inbox {
        function enqueueDeposit(address from, address to, uint256 mint, uint256 value, uint64 gasLimit, bool isCreation, bytes data) external returns (uint256, bytes32);
        function appendSequencerBatch(bytes data, uint256 afterDelayedMessagesRead) external;
        function forceInclusion(uint256 afterDelayedMessagesRead) external;
        function delayedMessageCount() external view returns (uint256);
        function delayedAcc(uint256 n) external view returns (bytes32);
        function batchCount() external view returns (uint256);
        function batchAcc(uint256 n) external view returns (bytes32);
        function lastForcedBlock() external view returns (uint256);
        function forcedRead() external view returns (uint256);
        function MAX_FORCED_DEPOSITS() external view returns (uint256);
        event DepositQueued(uint256 indexed index, address indexed from, address indexed to, uint256 mint, uint256 value, uint64 gasLimit, bool isCreation, bytes data, uint64 l1BlockNumber, uint64 l1Timestamp, bytes32 messageHash);
        error NotPortal();
        error NotBatcher();
        error InvalidDelayedMessagesRead(uint256 afterDelayedMessagesRead, uint256 count);
        error AlreadyForcedInThisBlock();
        error ForceInclusionWindowNotElapsed(uint256 queuedAt, uint256 includableAt);
        error InvalidForcedCount(uint256 afterDelayedMessagesRead, uint256 forcedRead, uint256 count);
        error ZeroForceInclusionWindow();
    }

    interface Portal {
        struct Withdrawal { uint256 nonce; address sender; address target; uint256 value; uint256 gasLimit; bytes data; }
        struct OutputRootProof { uint256 l2BlockNumber; bytes32 l2BlockHash; bytes32 stateRoot; bytes32 blockHashesRoot; bytes32 cursor; }
        function depositTransaction(address to, uint256 value, uint64 gasLimit, bool isCreation, bytes data) external payable;
        function proveWithdrawal(Withdrawal w, uint256 outputIndex, OutputRootProof o, bytes smtProof) external;
        function finalizeWithdrawal(Withdrawal w) external;
        function l2Sender() external view returns (address);
        function hashWithdrawal(Withdrawal w) external pure returns (bytes32);
        function finalizedWithdrawals(bytes32 hash) external view returns (bool);
        function withdrawalStateKey(bytes32 withdrawalHash) external pure returns (bytes32);
        function outputRoot(OutputRootProof o) external pure returns (bytes32);
        function minimumGasLimit(uint256 dataLength) external pure returns (uint256);
        function MIN_GAS_LIMIT() external view returns (uint64);
        function GAS_PER_DATA_BYTE() external view returns (uint64);
        function MAX_GAS_LIMIT() external view returns (uint64);
        function MAX_DATA_SIZE() external view returns (uint256);
        event WithdrawalProven(bytes32 indexed withdrawalHash, address indexed sender, address indexed target, uint256 outputIndex);
        event WithdrawalFinalized(bytes32 indexed hash, bool success);
        error CreationWithTarget();
        error InvalidGasLimit(uint64 gasLimit);
        error DataTooLarge(uint256 size);
        error OutputRootMismatch();
        error OutputInvalidated();
        error AlreadyProven();
        error WithdrawalNotProven();
        error OutputNotFinalized();
        error AlreadyFinalized();
        error InvalidProof();
        error ForbiddenTarget();
    }

    interface Registry {
        function propose(uint256 l2BlockNumber, bytes32 outputRoot) external payable returns (uint256);
        function invalidate(uint256 index) external;
        function claimBond(uint256 index) external;
        function isFinalized(uint256 index) external view returns (bool);
        event OutputProposed(uint256 indexed index, address indexed proposer, uint256 indexed l2BlockNumber, bytes32 outputRoot, uint64 timestamp);
        event OutputInvalidated(uint256 indexed index, address indexed resolver, uint256 bond);
        event BondClaimed(uint256 indexed index, address indexed proposer, uint256 bond);
        error WrongBond(uint256 sent, uint256 required);
        error BlockNumberNotIncreasing(uint256 l2BlockNumber, uint256 latest);
        error NotResolver();
        error AlreadyFinalized(uint256 index);
        error OutputNotFinalized(uint256 index);
        error BondAlreadyClaimed(uint256 index);
    }

    interface Bridge {
        function depositERC20(address l1Token, address to, uint256 amount, uint32 minGasLimit) external;
        function depositETH(uint32 minGasLimit) external payable;
        function depositETHTo(address to, uint32 minGasLimit) external payable;
        function finalizeERC20Withdrawal(address l1Token, address from, address to, uint256 amount) external;
        function deposits(address l1Token) external view returns (uint256);
        function DEPOSIT_GAS_OVERHEAD() external view returns (uint64);
        error NotFromL2Bridge();
        error InsufficientDeposits(address l1Token, uint256 deposited, uint256 amount);
    }

    interface L2Bridge {
        function finalizeDeposit(address l1Token, address from, address to, uint256 amount, string name, string symbol, uint8 decimals) external;
    }

    interface Token {
        function mint(address to, uint256 amount) external;
        function approve(address spender, uint256 amount) external returns (bool);
        function balanceOf(address who) external view returns (uint256);
    }

    interface Target {
        function lastL2Sender() external view returns (address);
        function lastValue() external view returns (uint256);
        function lastData() external view returns (bytes);
        function lastGas() external view returns (uint256);
        function setFailing(bool failing) external;
    }

    interface Caller {
        function deposit(address portal, address to, uint256 value, uint64 gasLimit, bytes data) external payable;
    }
}

const ETH: u128 = 1_000_000_000_000_000_000;
const BOND: u128 = ETH;
const CHALLENGE_WINDOW: u64 = 3600;
const FORCE_WINDOW: u64 = 30;

fn eth(n: u128) -> U256 {
    U256::from(n * ETH)
}

struct L1 {
    chain: Chain,
    batcher: Address,
    resolver: Address,
    proposer: Address,
    alice: Address,
    bob: Address,
    inbox: Address,
    portal: Address,
    registry: Address,
    bridge: Address,
    token: Address,
    target: Address,
}

fn setup() -> L1 {
    let mut chain = Chain::new();
    let deployer = address!("00000000000000000000000000000000000d0d0d");
    let batcher = address!("00000000000000000000000000000000000ba7c4");
    let resolver = address!("000000000000000000000000000000000000e501");
    let proposer = address!("0000000000000000000000000000000000000909");
    let alice = address!("00000000000000000000000000000000000a11ce");
    let bob = address!("0000000000000000000000000000000000000b0b");
    for a in [deployer, batcher, proposer, alice, bob] {
        chain.fund(a, eth(1000));
    }
    let registry = chain.deploy(
        deployer,
        "OutputRegistry",
        &(U256::from(BOND), U256::from(CHALLENGE_WINDOW), resolver).abi_encode_params(),
    );
    let portal_addr = chain.nth_create_address(deployer, 1);
    let inbox = chain.deploy(
        deployer,
        "Inbox",
        &(portal_addr, batcher, U256::from(FORCE_WINDOW)).abi_encode_params(),
    );
    let portal = chain.deploy(deployer, "Portal", &(inbox, registry).abi_encode_params());
    assert_eq!(portal, portal_addr);
    let bridge = chain.deploy(deployer, "L1StandardBridge", &portal.abi_encode());
    let token = chain.deploy(
        deployer,
        "TestToken",
        &(String::from("Test Token"), String::from("TST"), U256::ZERO).abi_encode_params(),
    );
    let target = chain.deploy(deployer, "WithdrawalTarget", &[]);
    L1 {
        chain,
        batcher,
        resolver,
        proposer,
        alice,
        bob,
        inbox,
        portal,
        registry,
        bridge,
        token,
        target,
    }
}

impl L1 {
    fn view<C: SolCall>(&mut self, to: Address, call: C) -> C::Return {
        let out = self.chain.view(to, call.abi_encode()).ok();
        C::abi_decode_returns(&out.output).unwrap()
    }

    fn send<C: SolCall>(&mut self, from: Address, to: Address, value: U256, call: C) -> Outcome {
        self.chain.call(from, to, value, call.abi_encode())
    }

    fn deposit(
        &mut self,
        from: Address,
        to: Address,
        mint: U256,
        value: U256,
        gas: u64,
        data: Bytes,
    ) -> Outcome {
        let portal = self.portal;
        self.send(
            from,
            portal,
            mint,
            Portal::depositTransactionCall {
                to,
                value,
                gasLimit: gas,
                isCreation: false,
                data,
            },
        )
    }

    /// `Inbox.appendSequencerBatch(data, after)` sent by `from`.
    fn append(&mut self, from: Address, data: Bytes, after: u64) -> Outcome {
        let inbox = self.inbox;
        self.send(
            from,
            inbox,
            U256::ZERO,
            Inbox::appendSequencerBatchCall {
                data,
                afterDelayedMessagesRead: U256::from(after),
            },
        )
    }

    fn delayed_acc(&mut self, n: u64) -> B256 {
        let inbox = self.inbox;
        self.view(inbox, Inbox::delayedAccCall { n: U256::from(n) })
    }

    fn propose(&mut self, number: u64, root: B256) -> Outcome {
        let (registry, proposer) = (self.registry, self.proposer);
        self.send(
            proposer,
            registry,
            U256::from(BOND),
            Registry::proposeCall {
                l2BlockNumber: U256::from(number),
                outputRoot: root,
            },
        )
    }
}

/// The Rust message a `DepositQueued` event describes, with the event's own hash.
fn message_of(e: &Inbox::DepositQueued) -> DepositMessage {
    DepositMessage {
        index: e.index.to::<u64>(),
        from: e.from,
        to: e.to,
        mint: e.mint,
        value: e.value,
        gas_limit: e.gasLimit,
        is_creation: e.isCreation,
        data: e.data.clone(),
        l1_block_number: e.l1BlockNumber,
        l1_timestamp: e.l1Timestamp,
    }
}

#[test]
fn eth_deposit_matches_rust_message_hash_and_accumulator() {
    let mut l1 = setup();
    let (alice, bob) = (l1.alice, l1.bob);
    let data = Bytes::from_static(b"\x12\x34hello");
    let out = l1
        .deposit(alice, bob, eth(2), eth(1), 150_000, data.clone())
        .ok();
    println!(
        "gas: first ETH deposit via Portal.depositTransaction (fresh queue) = {}",
        out.gas_used
    );
    let e = out.event::<Inbox::DepositQueued>();
    let expected = DepositMessage {
        index: 0,
        from: alice,
        to: bob,
        mint: eth(2),
        value: eth(1),
        gas_limit: 150_000,
        is_creation: false,
        data,
        l1_block_number: l1.chain.block_number(),
        l1_timestamp: l1.chain.timestamp(),
    };
    assert_eq!(message_of(&e), expected);
    assert_eq!(e.messageHash, expected.hash());
    let acc1 = DepositMessage::accumulate(B256::ZERO, expected.hash());
    assert_eq!(l1.delayed_acc(1), acc1);
    assert_eq!(l1.delayed_acc(0), B256::ZERO);
    assert_eq!(l1.chain.balance(l1.portal), eth(2));

    // A second deposit, a block later, via receive(): to = sender, gas 100k, mint = value.
    l1.chain.advance(12);
    let portal = l1.portal;
    let out = l1.chain.call(bob, portal, eth(3), Bytes::new()).ok();
    println!(
        "gas: second ETH deposit (Portal receive()) = {}",
        out.gas_used
    );
    let e = out.event::<Inbox::DepositQueued>();
    let second = DepositMessage {
        index: 1,
        from: bob,
        to: bob,
        mint: eth(3),
        value: eth(3),
        gas_limit: 100_000,
        is_creation: false,
        data: Bytes::new(),
        l1_block_number: l1.chain.block_number(),
        l1_timestamp: l1.chain.timestamp(),
    };
    assert_eq!(message_of(&e), second);
    assert_eq!(e.messageHash, second.hash());
    assert_eq!(
        l1.delayed_acc(2),
        DepositMessage::accumulate(acc1, second.hash())
    );
    assert_eq!(l1.chain.balance(l1.portal), eth(5));
    let inbox = l1.inbox;
    assert_eq!(
        l1.view(inbox, Inbox::delayedMessageCountCall {}),
        U256::from(2)
    );
    // Contract creation deposit: to must be zero; accepted with to = 0.
    let creation = |to: Address| Portal::depositTransactionCall {
        to,
        value: U256::ZERO,
        gasLimit: 1_000_000,
        isCreation: true,
        data: Bytes::from_static(&[0x60, 0x00]),
    };
    l1.send(alice, portal, U256::ZERO, creation(bob))
        .expect_revert::<Portal::CreationWithTarget>();
    let out = l1
        .send(alice, portal, U256::ZERO, creation(Address::ZERO))
        .ok();
    let e = out.event::<Inbox::DepositQueued>();
    assert!(e.isCreation);
    assert_eq!(e.messageHash, message_of(&e).hash());
    assert_ne!(e.messageHash, {
        let mut m = message_of(&e);
        m.is_creation = false;
        m.hash()
    });
}

#[test]
fn deposit_validation() {
    let mut l1 = setup();
    let (alice, bob, inbox) = (l1.alice, l1.bob, l1.inbox);
    l1.deposit(alice, bob, U256::ZERO, U256::ZERO, 20_999, Bytes::new())
        .expect_revert::<Portal::InvalidGasLimit>();
    l1.deposit(alice, bob, U256::ZERO, U256::ZERO, 20_000_001, Bytes::new())
        .expect_revert::<Portal::InvalidGasLimit>();
    l1.deposit(
        alice,
        bob,
        U256::ZERO,
        U256::ZERO,
        21_000,
        vec![0u8; 120_001].into(),
    )
    .expect_revert::<Portal::DataTooLarge>();
    // The Portal's limits are `fraud_vm::deposit`'s.
    let portal = l1.portal;
    assert_eq!(
        (
            l1.view(portal, Portal::MIN_GAS_LIMITCall {}),
            l1.view(portal, Portal::GAS_PER_DATA_BYTECall {}),
            l1.view(portal, Portal::MAX_GAS_LIMITCall {}),
            l1.view(portal, Portal::MAX_DATA_SIZECall {}),
        ),
        (
            MIN_DEPOSIT_GAS_LIMIT,
            DEPOSIT_GAS_PER_DATA_BYTE,
            MAX_DEPOSIT_GAS_LIMIT,
            U256::from(MAX_DEPOSIT_DATA)
        )
    );
    // The gas limit pays for the data: 21 000 + 16 per byte (`min_deposit_gas_limit`).
    let most = MAX_DEPOSIT_DATA as usize;
    assert_eq!(
        l1.view(
            portal,
            Portal::minimumGasLimitCall {
                dataLength: U256::from(most)
            }
        ),
        U256::from(min_deposit_gas_limit(most as u64))
    );
    for len in [1usize, 100, most] {
        let data: Bytes = vec![0u8; len].into();
        let least = min_deposit_gas_limit(len as u64);
        l1.deposit(alice, bob, U256::ZERO, U256::ZERO, least - 1, data.clone())
            .expect_revert::<Portal::InvalidGasLimit>();
        l1.deposit(alice, bob, U256::ZERO, U256::ZERO, least, data)
            .ok();
    }
    // Only the Portal queues deposits.
    l1.send(
        alice,
        inbox,
        U256::ZERO,
        Inbox::enqueueDepositCall {
            from: alice,
            to: bob,
            mint: U256::ZERO,
            value: U256::ZERO,
            gasLimit: 21_000,
            isCreation: false,
            data: Bytes::new(),
        },
    )
    .expect_revert::<Inbox::NotPortal>();
}

#[test]
fn contract_sender_is_aliased() {
    let mut l1 = setup();
    let caller = l1.chain.deploy(l1.alice, "PortalCaller", &[]);
    let (alice, bob, portal) = (l1.alice, l1.bob, l1.portal);
    let out = l1
        .send(
            alice,
            caller,
            eth(1),
            Caller::depositCall {
                portal,
                to: bob,
                value: U256::ZERO,
                gasLimit: 50_000,
                data: Bytes::new(),
            },
        )
        .ok();
    let e = out.event::<Inbox::DepositQueued>();
    assert_eq!(e.from, apply_alias(caller));
    assert_ne!(e.from, caller);
    assert_eq!(e.mint, eth(1));
    assert_eq!(e.messageHash, message_of(&e).hash());
    // An EOA is not aliased.
    let out = l1
        .deposit(alice, bob, U256::ZERO, U256::ZERO, 21_000, Bytes::new())
        .ok();
    assert_eq!(out.event::<Inbox::DepositQueued>().from, alice);
}

#[test]
fn erc20_and_eth_deposits_through_the_bridge() {
    let mut l1 = setup();
    let (alice, bob, token, bridge) = (l1.alice, l1.bob, l1.token, l1.bridge);
    let amount = U256::from(1_000_000u64);
    l1.send(
        alice,
        token,
        U256::ZERO,
        Token::mintCall { to: alice, amount },
    )
    .ok();
    l1.send(
        alice,
        token,
        U256::ZERO,
        Token::approveCall {
            spender: bridge,
            amount,
        },
    )
    .ok();
    let out = l1
        .send(
            alice,
            bridge,
            U256::ZERO,
            Bridge::depositERC20Call {
                l1Token: token,
                to: bob,
                amount: U256::from(600_000u64),
                minGasLimit: 10_000,
            },
        )
        .ok();
    println!(
        "gas: ERC20 deposit via L1StandardBridge.depositERC20 = {}",
        out.gas_used
    );
    assert_eq!(
        l1.view(token, Token::balanceOfCall { who: bridge }),
        U256::from(600_000u64)
    );
    assert_eq!(
        l1.view(token, Token::balanceOfCall { who: alice }),
        U256::from(400_000u64)
    );
    assert_eq!(
        l1.view(bridge, Bridge::depositsCall { l1Token: token }),
        U256::from(600_000u64)
    );
    let e = out.event::<Inbox::DepositQueued>();
    assert_eq!(e.from, apply_alias(bridge));
    assert_eq!(e.to, L2_STANDARD_BRIDGE);
    assert_eq!(e.mint, U256::ZERO);
    let overhead = l1.view(bridge, Bridge::DEPOSIT_GAS_OVERHEADCall {});
    assert_eq!(e.gasLimit, overhead + 10_000);
    assert_eq!(e.messageHash, message_of(&e).hash());
    let call = L2Bridge::finalizeDepositCall::abi_decode(&e.data).unwrap();
    assert_eq!(call.l1Token, token);
    assert_eq!(call.from, alice);
    assert_eq!(call.to, bob);
    assert_eq!(call.amount, U256::from(600_000u64));
    assert_eq!(call.name, "Test Token");
    assert_eq!(call.symbol, "TST");
    assert_eq!(call.decimals, 18);

    // ETH through the bridge: mint = value = msg.value, to the recipient.
    let out = l1
        .send(
            alice,
            bridge,
            eth(3),
            Bridge::depositETHToCall {
                to: bob,
                minGasLimit: 0,
            },
        )
        .ok();
    let e = out.event::<Inbox::DepositQueued>();
    assert_eq!(
        (e.from, e.to, e.mint, e.value),
        (apply_alias(bridge), bob, eth(3), eth(3))
    );
    assert_eq!(e.gasLimit, 21_000);
    assert!(e.data.is_empty());
    let out = l1
        .send(
            alice,
            bridge,
            eth(1),
            Bridge::depositETHCall {
                minGasLimit: 70_000,
            },
        )
        .ok();
    let e = out.event::<Inbox::DepositQueued>();
    assert_eq!((e.to, e.mint, e.gasLimit), (alice, eth(1), 70_000));
    assert_eq!(l1.chain.balance(l1.portal), eth(4));
    assert_eq!(l1.chain.balance(bridge), U256::ZERO);
}

/// The batch accumulator `fraud_vm::batch` defines, for a batch appended in `l1`'s current
/// block.
fn batch_acc(
    l1: &L1,
    prev: B256,
    data: &[u8],
    after: u64,
    delayed_acc: B256,
    forced: bool,
) -> B256 {
    let l1_block = l1.chain.header();
    BatchCommitment::new(prev, data, after, delayed_acc, &l1_block, forced).accumulate()
}

/// The Inbox's `dataRoot` is `fraud_vm::merkle::data_root` of the batch, at every length that
/// changes the tree's shape (empty, partial words, odd and even word counts, many levels).
#[test]
fn batch_data_roots_match_the_word_tree() {
    let mut l1 = setup();
    let batcher = l1.batcher;
    let mut prev = B256::ZERO;
    for len in [
        0usize, 1, 31, 32, 33, 63, 64, 65, 96, 127, 128, 129, 1000, 4095, 4097, 100_000,
    ] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let out = l1.append(batcher, data.clone().into(), 0).ok();
        if len == 100_000 {
            println!(
                "gas: appendSequencerBatch (100 000 bytes) = {}",
                out.gas_used
            );
        }
        let e = out.event::<BatchAppended>();
        assert_eq!(e.dataRoot, data_root(&data), "{len} bytes");
        assert_eq!(e.dataLength, U256::from(len));
        let acc = batch_acc(&l1, prev, &data, 0, B256::ZERO, false);
        assert_eq!(e.batchAcc, acc, "{len} bytes");
        prev = acc;
        l1.chain.advance(12);
    }
}

#[test]
fn sequencer_batches_accumulate() {
    let mut l1 = setup();
    let (alice, bob, batcher, inbox) = (l1.alice, l1.bob, l1.batcher, l1.inbox);
    let append = |l1: &mut L1, from, data: &'static [u8], after| {
        l1.append(from, Bytes::from_static(data), after)
    };
    append(&mut l1, alice, b"x", 0).expect_revert::<Inbox::NotBatcher>();
    append(&mut l1, batcher, b"x", 1).expect_revert::<Inbox::InvalidDelayedMessagesRead>();
    let out = append(&mut l1, batcher, b"batch0", 0).ok();
    println!("gas: appendSequencerBatch (6 bytes) = {}", out.gas_used);
    let e = out.event::<BatchAppended>();
    let acc0 = batch_acc(&l1, B256::ZERO, b"batch0", 0, B256::ZERO, false);
    assert_eq!(
        (e.batchIndex, e.batchAcc, e.forced),
        (U256::ZERO, acc0, false)
    );
    assert_eq!(e.dataRoot, data_root(b"batch0"));
    assert_eq!(e.dataLength, U256::from(6));
    for _ in 0..3 {
        l1.deposit(alice, bob, eth(1), U256::ZERO, 21_000, Bytes::new())
            .ok();
    }
    let d2 = l1.delayed_acc(2);
    let out = append(&mut l1, batcher, b"batch1", 2).ok();
    let acc1 = batch_acc(&l1, acc0, b"batch1", 2, d2, false);
    assert_eq!(out.event::<BatchAppended>().batchAcc, acc1);
    assert_eq!(
        l1.view(inbox, Inbox::batchAccCall { n: U256::from(2) }),
        acc1
    );
    assert_eq!(l1.view(inbox, Inbox::batchCountCall {}), U256::from(2));
    // Never past the queue.
    append(&mut l1, batcher, b"b", 4).expect_revert::<Inbox::InvalidDelayedMessagesRead>();
    // Any count up to it (a bound derivation caps the batch's blocks with), even a smaller
    // one than before.
    let d1 = l1.delayed_acc(1);
    let out = append(&mut l1, batcher, b"", 1).ok();
    assert_eq!(
        out.event::<BatchAppended>().batchAcc,
        batch_acc(&l1, acc1, b"", 1, d1, false)
    );
}

#[test]
fn forced_inclusion_after_the_window() {
    let mut l1 = setup();
    let (alice, bob, batcher, inbox) = (l1.alice, l1.bob, l1.batcher, l1.inbox);
    let t0 = l1.chain.timestamp();
    l1.deposit(alice, bob, eth(1), U256::ZERO, 21_000, Bytes::new())
        .ok();
    l1.chain.advance(10);
    l1.deposit(alice, bob, eth(1), U256::ZERO, 21_000, Bytes::new())
        .ok();
    let force = |after: u64| Inbox::forceInclusionCall {
        afterDelayedMessagesRead: U256::from(after),
    };
    // Message 0 waited 10 s of 30.
    l1.send(bob, inbox, U256::ZERO, force(1))
        .expect_revert::<Inbox::ForceInclusionWindowNotElapsed>();
    l1.chain.set_timestamp(t0 + FORCE_WINDOW - 1);
    l1.send(bob, inbox, U256::ZERO, force(1))
        .expect_revert::<Inbox::ForceInclusionWindowNotElapsed>();
    l1.chain.set_timestamp(t0 + FORCE_WINDOW);
    // Message 1 was queued 10 s later: not yet forcible.
    l1.send(bob, inbox, U256::ZERO, force(2))
        .expect_revert::<Inbox::ForceInclusionWindowNotElapsed>();
    let out = l1.send(bob, inbox, U256::ZERO, force(1)).ok();
    let e = out.event::<BatchAppended>();
    let d1 = l1.delayed_acc(1);
    assert!(e.forced);
    assert_eq!((e.dataRoot, e.dataLength), (data_root(b""), U256::ZERO));
    assert_eq!(e.afterDelayedMessagesRead, U256::from(1));
    let forced0 = batch_acc(&l1, B256::ZERO, b"", 1, d1, true);
    assert_eq!(e.batchAcc, forced0);
    // A forced batch must force more than the previous one, and no more than is queued.
    for after in [0, 1, 3] {
        l1.send(bob, inbox, U256::ZERO, force(after))
            .expect_revert::<Inbox::InvalidForcedCount>();
    }
    l1.chain.set_timestamp(t0 + 10 + FORCE_WINDOW);
    // One forced batch per L1 block: forced blocks advance L2 time no faster than L1's.
    l1.send(bob, inbox, U256::ZERO, force(2))
        .expect_revert::<Inbox::AlreadyForcedInThisBlock>();
    l1.chain.advance(1);
    // A sequencer batch that says it read message 1 (consuming nothing, say) does not make
    // message 1 unforceable: what can be forced depends only on the forced batches.
    let d2 = l1.delayed_acc(2);
    let junk = l1.append(batcher, Bytes::from_static(b"junk"), 2).ok();
    let junk_acc = batch_acc(&l1, forced0, b"junk", 2, d2, false);
    assert_eq!(junk.event::<BatchAppended>().batchAcc, junk_acc);
    let out = l1.send(bob, inbox, U256::ZERO, force(2)).ok();
    let e = out.event::<BatchAppended>();
    assert_eq!(e.batchIndex, U256::from(2));
    let forced2 = batch_acc(&l1, junk_acc, b"", 2, d2, true);
    assert_eq!(e.batchAcc, forced2);
    let out = l1.append(batcher, Bytes::from_static(b"after"), 2).ok();
    assert_eq!(
        out.event::<BatchAppended>().batchAcc,
        batch_acc(&l1, forced2, b"after", 2, d2, false)
    );
    assert_eq!(
        (
            l1.view(inbox, Inbox::forcedReadCall {}),
            l1.view(inbox, Inbox::lastForcedBlockCall {}),
        ),
        (U256::from(2), U256::from(l1.chain.block_number()))
    );
}

/// A forced batch forces at most `MAX_FORCED_DEPOSITS` messages past the previous forced
/// batch's count (so its forced block holds them all), and the Inbox forces at least one
/// second of waiting (so a forced message is from an earlier L1 block than the forced batch).
#[test]
fn forced_inclusion_is_bounded_per_forced_batch() {
    let mut l1 = setup();
    let (alice, bob, inbox) = (l1.alice, l1.bob, l1.inbox);
    let max = l1.view(inbox, Inbox::MAX_FORCED_DEPOSITSCall {});
    assert_eq!(max, U256::from(fraud_vm::batch::MAX_FORCED_DEPOSITS));
    let max = fraud_vm::batch::MAX_FORCED_DEPOSITS;
    for _ in 0..max + 1 {
        l1.deposit(alice, bob, eth(1), U256::ZERO, 21_000, Bytes::new())
            .ok();
    }
    l1.chain.advance(FORCE_WINDOW);
    let force = |after: u64| Inbox::forceInclusionCall {
        afterDelayedMessagesRead: U256::from(after),
    };
    l1.send(bob, inbox, U256::ZERO, force(max + 1))
        .expect_revert::<Inbox::InvalidForcedCount>();
    l1.send(bob, inbox, U256::ZERO, force(max)).ok();
    l1.chain.advance(1);
    l1.send(bob, inbox, U256::ZERO, force(max + 1)).ok();
    assert_eq!(
        l1.view(inbox, Inbox::forcedReadCall {}),
        U256::from(max + 1)
    );

    let deployer = Address::with_last_byte(0xde);
    l1.chain.fund(deployer, eth(1));
    let zero = l1.chain.try_deploy(
        deployer,
        "Inbox",
        &(l1.portal, l1.batcher, U256::ZERO).abi_encode_params(),
    );
    assert!(!zero.success, "an Inbox with no force-inclusion window");
    zero.expect_revert::<Inbox::ZeroForceInclusionWindow>();
}

// ---------------------------------------------------------------------------------------------
// Withdrawals

/// An L2 state holding `withdrawals` in the message passer plus unrelated leaves.
struct L2State {
    nodes: MemoryNodes,
    root: B256,
    block_number: u64,
    block_hash: B256,
}

impl L2State {
    fn new(withdrawals: &[&Withdrawal], extra: &[(B256, B256)], block_number: u64) -> Self {
        let mut changes: Vec<_> = (0u32..300)
            .map(|i| {
                (
                    keccak256(i.to_be_bytes()),
                    Some(keccak256((i ^ 0xffff).to_be_bytes())),
                )
            })
            .collect();
        for w in withdrawals {
            changes.push((Withdrawal::state_key(w.hash()), Some(WITHDRAWAL_SENT_VALUE)));
        }
        changes.extend(extra.iter().map(|(k, v)| (*k, Some(*v))));
        let mut nodes = MemoryNodes::new();
        let update = smt::update(&nodes, B256::ZERO, changes).unwrap();
        nodes.insert_all(update.new_nodes);
        Self {
            nodes,
            root: update.root,
            block_number,
            block_hash: keccak256(block_number.to_be_bytes()),
        }
    }

    /// The claim on the block (its window and cursor stand-ins derived from its number).
    fn claim(&self) -> Claim {
        Claim {
            block_hash: self.block_hash,
            state_root: self.root,
            block_hashes_root: keccak256((self.block_number ^ 0xa1).to_be_bytes()),
            cursor: keccak256((self.block_number ^ 0xc0).to_be_bytes()),
        }
    }

    fn output_root(&self) -> B256 {
        output_root(self.block_number, &self.claim())
    }

    fn output_proof(&self) -> Portal::OutputRootProof {
        let claim = self.claim();
        Portal::OutputRootProof {
            l2BlockNumber: U256::from(self.block_number),
            l2BlockHash: claim.block_hash,
            stateRoot: claim.state_root,
            blockHashesRoot: claim.block_hashes_root,
            cursor: claim.cursor,
        }
    }

    fn proof(&self, key: B256) -> Bytes {
        smt::prove(&self.nodes, self.root, &key)
            .unwrap()
            .encode()
            .into()
    }

    fn withdrawal_proof(&self, w: &Withdrawal) -> Bytes {
        self.proof(Withdrawal::state_key(w.hash()))
    }
}

fn abi_withdrawal(w: &Withdrawal) -> Portal::Withdrawal {
    Portal::Withdrawal {
        nonce: w.nonce,
        sender: w.sender,
        target: w.target,
        value: w.value,
        gasLimit: w.gas_limit,
        data: w.data.clone(),
    }
}

impl L1 {
    fn prove(&mut self, w: &Withdrawal, index: u64, state: &L2State, proof: Bytes) -> Outcome {
        let (alice, portal) = (self.alice, self.portal);
        self.send(
            alice,
            portal,
            U256::ZERO,
            Portal::proveWithdrawalCall {
                w: abi_withdrawal(w),
                outputIndex: U256::from(index),
                o: state.output_proof(),
                smtProof: proof,
            },
        )
    }

    fn finalize(&mut self, w: &Withdrawal) -> Outcome {
        let (bob, portal) = (self.bob, self.portal);
        self.send(
            bob,
            portal,
            U256::ZERO,
            Portal::finalizeWithdrawalCall {
                w: abi_withdrawal(w),
            },
        )
    }

    /// Locks `amount` wei in the Portal with a deposit.
    fn lock_eth(&mut self, amount: U256) {
        let alice = self.alice;
        self.deposit(alice, alice, amount, U256::ZERO, 21_000, Bytes::new())
            .ok();
    }
}

fn eth_withdrawal(target: Address, nonce: u64) -> Withdrawal {
    Withdrawal {
        nonce: U256::from(nonce),
        sender: address!("00000000000000000000000000000000000a11ce"),
        target,
        value: eth(2),
        gas_limit: U256::from(200_000),
        data: Bytes::from_static(b"\xde\xad\xbe\xef"),
    }
}

#[test]
fn withdrawal_prove_and_finalize() {
    let mut l1 = setup();
    l1.lock_eth(eth(10));
    let w = eth_withdrawal(l1.target, 7);
    let portal = l1.portal;
    assert_eq!(
        l1.view(
            portal,
            Portal::hashWithdrawalCall {
                w: abi_withdrawal(&w)
            }
        ),
        w.hash()
    );
    assert_eq!(
        l1.view(
            portal,
            Portal::withdrawalStateKeyCall {
                withdrawalHash: w.hash()
            }
        ),
        Withdrawal::state_key(w.hash())
    );
    let state = L2State::new(&[&w], &[], 50);
    assert_eq!(
        l1.view(
            portal,
            Portal::outputRootCall {
                o: state.output_proof()
            }
        ),
        state.output_root()
    );
    l1.propose(50, state.output_root()).ok();

    // Finalizing before proving.
    l1.finalize(&w)
        .expect_revert::<Portal::WithdrawalNotProven>();
    let out = l1.prove(&w, 0, &state, state.withdrawal_proof(&w)).ok();
    let depth = smt::prove(&state.nodes, state.root, &Withdrawal::state_key(w.hash()))
        .unwrap()
        .siblings
        .len();
    println!(
        "gas: proveWithdrawal = {} (SMT depth {depth}, 301 leaves)",
        out.gas_used
    );
    let e = out.event::<Portal::WithdrawalProven>();
    assert_eq!(
        (e.withdrawalHash, e.sender, e.target, e.outputIndex),
        (w.hash(), w.sender, w.target, U256::ZERO)
    );
    // Proving again against the same valid output.
    l1.prove(&w, 0, &state, state.withdrawal_proof(&w))
        .expect_revert::<Portal::AlreadyProven>();

    // Before the challenge window elapses.
    l1.chain.advance(CHALLENGE_WINDOW - 1);
    l1.finalize(&w)
        .expect_revert::<Portal::OutputNotFinalized>();
    l1.chain.advance(1);
    let registry = l1.registry;
    assert!(l1.view(registry, Registry::isFinalizedCall { index: U256::ZERO }));
    let portal_before = l1.chain.balance(portal);
    let out = l1.finalize(&w).ok();
    println!(
        "gas: finalizeWithdrawal (ETH + 4 bytes calldata to a recording target) = {}",
        out.gas_used
    );
    let e = out.event::<Portal::WithdrawalFinalized>();
    assert_eq!((e.hash, e.success), (w.hash(), true));
    let target = l1.target;
    assert_eq!(l1.chain.balance(target), eth(2));
    assert_eq!(l1.chain.balance(portal), portal_before - eth(2));
    assert_eq!(l1.view(target, Target::lastL2SenderCall {}), w.sender);
    assert_eq!(l1.view(target, Target::lastValueCall {}), eth(2));
    assert_eq!(l1.view(target, Target::lastDataCall {}), w.data);
    assert!(l1.view(target, Target::lastGasCall {}) >= w.gas_limit);
    assert_eq!(
        l1.view(portal, Portal::l2SenderCall {}),
        address!("000000000000000000000000000000000000dEaD")
    );
    assert!(l1.view(portal, Portal::finalizedWithdrawalsCall { hash: w.hash() }));

    // Only once.
    l1.finalize(&w).expect_revert::<Portal::AlreadyFinalized>();
    l1.prove(&w, 0, &state, state.withdrawal_proof(&w))
        .expect_revert::<Portal::AlreadyFinalized>();
    assert_eq!(l1.chain.balance(target), eth(2));

    // Bond back to the proposer, once.
    let proposer = l1.proposer;
    let before = l1.chain.balance(proposer);
    let out = l1
        .send(
            l1.bob,
            registry,
            U256::ZERO,
            Registry::claimBondCall { index: U256::ZERO },
        )
        .ok();
    assert_eq!(out.event::<Registry::BondClaimed>().proposer, proposer);
    assert_eq!(l1.chain.balance(proposer), before + U256::from(BOND));
    l1.send(
        l1.bob,
        registry,
        U256::ZERO,
        Registry::claimBondCall { index: U256::ZERO },
    )
    .expect_revert::<Registry::BondAlreadyClaimed>();
}

#[test]
fn failing_withdrawal_call_is_finalized_without_paying() {
    let mut l1 = setup();
    l1.lock_eth(eth(10));
    let target = l1.target;
    let w = eth_withdrawal(target, 1);
    let state = L2State::new(&[&w], &[], 9);
    l1.propose(9, state.output_root()).ok();
    l1.prove(&w, 0, &state, state.withdrawal_proof(&w)).ok();
    l1.chain.advance(CHALLENGE_WINDOW);
    let alice = l1.alice;
    l1.send(
        alice,
        target,
        U256::ZERO,
        Target::setFailingCall { failing: true },
    )
    .ok();
    let out = l1.finalize(&w).ok();
    assert!(!out.event::<Portal::WithdrawalFinalized>().success);
    assert_eq!(l1.chain.balance(target), U256::ZERO);
    assert_eq!(l1.chain.balance(l1.portal), eth(10));
    l1.finalize(&w).expect_revert::<Portal::AlreadyFinalized>();
    // Withdrawals may not call the Inbox (they could forge deposits) or the Portal.
    for (i, forbidden) in [l1.inbox, l1.portal].into_iter().enumerate() {
        let w = eth_withdrawal(forbidden, 2);
        let number = 10 + i as u64;
        let state = L2State::new(&[&w], &[], number);
        l1.propose(number, state.output_root()).ok();
        l1.prove(&w, 1 + i as u64, &state, state.withdrawal_proof(&w))
            .ok();
        l1.chain.advance(CHALLENGE_WINDOW);
        l1.finalize(&w).expect_revert::<Portal::ForbiddenTarget>();
    }
}

#[test]
fn forged_withdrawal_proofs_are_rejected() {
    let mut l1 = setup();
    l1.lock_eth(eth(10));
    let w = eth_withdrawal(l1.target, 3);
    let other = eth_withdrawal(l1.target, 4);
    let not_sent = eth_withdrawal(l1.target, 5);
    // `not_sent`'s slot holds 2 instead of 1.
    let wrong_value = (
        Withdrawal::state_key(not_sent.hash()),
        B256::with_last_byte(2),
    );
    let state = L2State::new(&[&w, &other], &[wrong_value], 77);
    l1.propose(77, state.output_root()).ok();

    // Value 2 instead of 1.
    l1.prove(&not_sent, 0, &state, state.withdrawal_proof(&not_sent))
        .expect_revert::<Portal::InvalidProof>();
    // A withdrawal that is not in the state (valid absence proof).
    let absent = eth_withdrawal(l1.target, 6);
    l1.prove(&absent, 0, &state, state.withdrawal_proof(&absent))
        .expect_revert::<Portal::InvalidProof>();
    // Another key's (valid) proof.
    l1.prove(&absent, 0, &state, state.withdrawal_proof(&other))
        .expect_revert::<Portal::InvalidProof>();
    // A tampered sibling.
    let mut tampered = state.withdrawal_proof(&w).to_vec();
    let depth = u16::from_be_bytes([tampered[0], tampered[1]]) as usize;
    tampered[3 + depth.div_ceil(8) + 5] ^= 0x40;
    l1.prove(&w, 0, &state, tampered.into())
        .expect_revert::<Portal::InvalidProof>();
    // Truncated proof.
    let p = state.withdrawal_proof(&w);
    l1.prove(&w, 0, &state, p.slice(..p.len() - 1))
        .expect_revert::<Portal::InvalidProof>();
    // A different withdrawal body with w's proof.
    let mut changed = w.clone();
    changed.value = eth(3);
    l1.prove(&changed, 0, &state, state.withdrawal_proof(&w))
        .expect_revert::<Portal::InvalidProof>();

    // Output root proof that does not match the registry.
    let (alice, portal) = (l1.alice, l1.portal);
    let mut bad_output = state.output_proof();
    bad_output.l2BlockHash = B256::with_last_byte(1);
    let call = |o: Portal::OutputRootProof, index: u64| Portal::proveWithdrawalCall {
        w: abi_withdrawal(&w),
        outputIndex: U256::from(index),
        o,
        smtProof: state.withdrawal_proof(&w),
    };
    l1.send(alice, portal, U256::ZERO, call(bad_output, 0))
        .expect_revert::<Portal::OutputRootMismatch>();
    let mut bad_number = state.output_proof();
    bad_number.l2BlockNumber = U256::from(78);
    l1.send(alice, portal, U256::ZERO, call(bad_number, 0))
        .expect_revert::<Portal::OutputRootMismatch>();
    // Every word of the claim is bound by the output root.
    for edit in [
        |o: &mut Portal::OutputRootProof| o.stateRoot = B256::with_last_byte(2),
        |o: &mut Portal::OutputRootProof| o.blockHashesRoot = B256::with_last_byte(3),
        |o: &mut Portal::OutputRootProof| o.cursor = B256::with_last_byte(4),
    ] {
        let mut bad = state.output_proof();
        edit(&mut bad);
        l1.send(alice, portal, U256::ZERO, call(bad, 0))
            .expect_revert::<Portal::OutputRootMismatch>();
    }
    // A different state root (a state where the withdrawal is present but not proposed).
    let fake = L2State::new(&[&w, &not_sent], &[], 77);
    l1.prove(&not_sent, 0, &fake, fake.withdrawal_proof(&not_sent))
        .expect_revert::<Portal::OutputRootMismatch>();
    // A nonexistent output.
    assert!(!l1.prove(&w, 1, &state, state.withdrawal_proof(&w)).success);

    // The genuine proof still works.
    l1.prove(&w, 0, &state, state.withdrawal_proof(&w)).ok();
}

#[test]
fn invalidated_output_blocks_finalization_until_reproven() {
    let mut l1 = setup();
    l1.lock_eth(eth(10));
    let w = eth_withdrawal(l1.target, 11);
    let state = L2State::new(&[&w], &[], 100);
    l1.propose(100, state.output_root()).ok();
    l1.prove(&w, 0, &state, state.withdrawal_proof(&w)).ok();

    let (registry, resolver, alice) = (l1.registry, l1.resolver, l1.alice);
    l1.send(
        alice,
        registry,
        U256::ZERO,
        Registry::invalidateCall { index: U256::ZERO },
    )
    .expect_revert::<Registry::NotResolver>();
    let out = l1
        .send(
            resolver,
            registry,
            U256::ZERO,
            Registry::invalidateCall { index: U256::ZERO },
        )
        .ok();
    assert_eq!(out.event::<Registry::OutputInvalidated>().index, U256::ZERO);
    assert_eq!(l1.chain.balance(resolver), U256::from(BOND));

    l1.chain.advance(CHALLENGE_WINDOW + 1);
    l1.finalize(&w).expect_revert::<Portal::OutputInvalidated>();
    l1.prove(&w, 0, &state, state.withdrawal_proof(&w))
        .expect_revert::<Portal::OutputInvalidated>();
    l1.send(
        l1.bob,
        registry,
        U256::ZERO,
        Registry::claimBondCall { index: U256::ZERO },
    )
    .expect_revert::<Registry::OutputNotFinalized>();

    // A new proposal for the same block (the invalidated one does not count) and a re-proof.
    l1.propose(100, state.output_root()).ok();
    l1.prove(&w, 1, &state, state.withdrawal_proof(&w)).ok();
    l1.prove(&w, 1, &state, state.withdrawal_proof(&w))
        .expect_revert::<Portal::AlreadyProven>();
    l1.finalize(&w)
        .expect_revert::<Portal::OutputNotFinalized>();
    l1.chain.advance(CHALLENGE_WINDOW);
    assert!(
        l1.finalize(&w)
            .ok()
            .event::<Portal::WithdrawalFinalized>()
            .success
    );
    // A finalized output can no longer be invalidated.
    l1.send(
        resolver,
        registry,
        U256::ZERO,
        Registry::invalidateCall {
            index: U256::from(1),
        },
    )
    .expect_revert::<Registry::AlreadyFinalized>();
}

#[test]
fn registry_rules() {
    let mut l1 = setup();
    let (registry, proposer) = (l1.registry, l1.proposer);
    let propose = |n: u64| Registry::proposeCall {
        l2BlockNumber: U256::from(n),
        outputRoot: B256::with_last_byte(1),
    };
    l1.send(proposer, registry, U256::ZERO, propose(1))
        .expect_revert::<Registry::WrongBond>();
    l1.send(proposer, registry, U256::from(BOND + 1), propose(1))
        .expect_revert::<Registry::WrongBond>();
    let out = l1
        .send(proposer, registry, U256::from(BOND), propose(10))
        .ok();
    println!("gas: OutputRegistry.propose = {}", out.gas_used);
    let e = out.event::<Registry::OutputProposed>();
    assert_eq!(
        (e.index, e.proposer, e.l2BlockNumber),
        (U256::ZERO, proposer, U256::from(10))
    );
    l1.send(proposer, registry, U256::from(BOND), propose(10))
        .expect_revert::<Registry::BlockNumberNotIncreasing>();
    l1.send(proposer, registry, U256::from(BOND), propose(9))
        .expect_revert::<Registry::BlockNumberNotIncreasing>();
    l1.send(proposer, registry, U256::from(BOND), propose(11))
        .ok();
    assert_eq!(l1.chain.balance(registry), U256::from(2 * BOND));
    l1.send(
        l1.bob,
        registry,
        U256::ZERO,
        Registry::claimBondCall { index: U256::ZERO },
    )
    .expect_revert::<Registry::OutputNotFinalized>();
}

#[test]
fn erc20_withdrawal_requires_the_l2_bridge_as_sender() {
    let mut l1 = setup();
    let (alice, bob, token, bridge) = (l1.alice, l1.bob, l1.token, l1.bridge);
    let amount = U256::from(1000u64);
    l1.send(
        alice,
        token,
        U256::ZERO,
        Token::mintCall { to: alice, amount },
    )
    .ok();
    l1.send(
        alice,
        token,
        U256::ZERO,
        Token::approveCall {
            spender: bridge,
            amount,
        },
    )
    .ok();
    l1.send(
        alice,
        bridge,
        U256::ZERO,
        Bridge::depositERC20Call {
            l1Token: token,
            to: alice,
            amount,
            minGasLimit: 0,
        },
    )
    .ok();

    let release = Bridge::finalizeERC20WithdrawalCall {
        l1Token: token,
        from: alice,
        to: bob,
        amount: U256::from(400u64),
    };
    // Directly: rejected.
    l1.send(alice, bridge, U256::ZERO, release.clone())
        .expect_revert::<Bridge::NotFromL2Bridge>();

    let from_bridge = Withdrawal {
        nonce: U256::from(0),
        sender: L2_STANDARD_BRIDGE,
        target: bridge,
        value: U256::ZERO,
        gas_limit: U256::from(150_000),
        data: release.abi_encode().into(),
    };
    // The same message sent by someone else on L2.
    let from_user = Withdrawal {
        nonce: U256::from(1),
        sender: alice,
        ..from_bridge.clone()
    };
    let state = L2State::new(&[&from_bridge, &from_user], &[], 5);
    l1.propose(5, state.output_root()).ok();
    l1.prove(&from_user, 0, &state, state.withdrawal_proof(&from_user))
        .ok();
    l1.prove(
        &from_bridge,
        0,
        &state,
        state.withdrawal_proof(&from_bridge),
    )
    .ok();
    l1.chain.advance(CHALLENGE_WINDOW);

    let out = l1.finalize(&from_user).ok();
    assert!(!out.event::<Portal::WithdrawalFinalized>().success);
    assert_eq!(
        l1.view(token, Token::balanceOfCall { who: bob }),
        U256::ZERO
    );

    let out = l1.finalize(&from_bridge).ok();
    println!(
        "gas: finalizeWithdrawal (ERC20 release via L1StandardBridge) = {}",
        out.gas_used
    );
    assert!(out.event::<Portal::WithdrawalFinalized>().success);
    assert_eq!(
        l1.view(token, Token::balanceOfCall { who: bob }),
        U256::from(400u64)
    );
    assert_eq!(
        l1.view(token, Token::balanceOfCall { who: bridge }),
        U256::from(600u64)
    );
    assert_eq!(
        l1.view(bridge, Bridge::depositsCall { l1Token: token }),
        U256::from(600u64)
    );
}
