//! The L2 predeploys (`L2ToL1MessagePasser`, `L2StandardBridge` + `MintableERC20`, `L1Info`),
//! placed at their genesis addresses in revm, checked against `fraud_vm::message`.

mod common;

use alloy_primitives::{address, keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::{sol, SolCall, SolValue};
use common::{deployed_bytecode, Chain, Outcome};
use fraud_vm::message::{
    apply_alias, Withdrawal, L1_INFO, L2_STANDARD_BRIDGE, L2_TO_L1_MESSAGE_PASSER, SYSTEM_DEPOSITOR,
};

sol! {
    interface Passer {
        function initiateWithdrawal(address target, uint256 gasLimit, bytes data) external payable;
        function sentMessages(bytes32 hash) external view returns (bool);
        function messageNonce() external view returns (uint256);
        event MessagePassed(uint256 indexed nonce, address indexed sender, address indexed target, uint256 value, uint256 gasLimit, bytes data, bytes32 withdrawalHash);
    }

    interface L2Bridge {
        function finalizeDeposit(address l1Token, address from, address to, uint256 amount, string name, string symbol, uint8 decimals) external;
        function l2TokenFor(address l1Token) external view returns (address);
        function withdraw(address l2Token, uint256 amount, uint32 minGasLimit) external;
        function withdrawTo(address l2Token, address to, uint256 amount, uint32 minGasLimit) external;
        function withdrawETH(address to, uint32 minGasLimit) external payable;
        function otherBridge() external view returns (address);
        function WITHDRAWAL_GAS_OVERHEAD() external view returns (uint256);
        event DepositFinalized(address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount);
        event WithdrawalInitiated(address indexed l1Token, address indexed l2Token, address indexed from, address to, uint256 amount);
        error NotOtherBridge();
        error UnknownToken(address l2Token);
        error ZeroAmount();
    }

    interface L1Bridge {
        function finalizeERC20Withdrawal(address l1Token, address from, address to, uint256 amount) external;
    }

    interface Mintable {
        function balanceOf(address who) external view returns (uint256);
        function totalSupply() external view returns (uint256);
        function name() external view returns (string);
        function symbol() external view returns (string);
        function decimals() external view returns (uint8);
        function remoteToken() external view returns (address);
        function bridge() external view returns (address);
        function mint(address to, uint256 amount) external;
        function initialize(string name, string symbol, uint8 decimals) external;
        error NotBridge();
        error AlreadyInitialized();
    }

    interface Info {
        function setL1Info(uint64 number, uint64 timestamp, uint256 basefee, bytes32 hash) external;
        function number() external view returns (uint64);
        function timestamp() external view returns (uint64);
        function basefee() external view returns (uint256);
        function hash() external view returns (bytes32);
        error NotSystemDepositor();
    }
}

const L1_BRIDGE: Address = address!("00000000000000000000000000000000001b1d9e");
const L1_TOKEN: Address = address!("0000000000000000000000000000000000070c1e");

struct L2 {
    chain: Chain,
    alice: Address,
    bob: Address,
}

/// A chain with the predeploys' runtime code and the genesis storage (`otherBridge`).
fn genesis() -> L2 {
    let mut chain = Chain::new();
    chain.set_code(
        L2_TO_L1_MESSAGE_PASSER,
        deployed_bytecode("L2ToL1MessagePasser"),
    );
    chain.set_code(L2_STANDARD_BRIDGE, deployed_bytecode("L2StandardBridge"));
    chain.set_code(L1_INFO, deployed_bytecode("L1Info"));
    // L2StandardBridge slot 0: otherBridge.
    chain.set_storage(
        L2_STANDARD_BRIDGE,
        U256::ZERO,
        U256::from_be_slice(L1_BRIDGE.as_slice()),
    );
    let alice = address!("00000000000000000000000000000000000a11ce");
    let bob = address!("0000000000000000000000000000000000000b0b");
    for a in [alice, bob, apply_alias(L1_BRIDGE), SYSTEM_DEPOSITOR] {
        chain.fund(a, U256::from(10u128.pow(21)));
    }
    L2 { chain, alice, bob }
}

impl L2 {
    fn view<C: SolCall>(&mut self, to: Address, call: C) -> C::Return {
        let out = self.chain.view(to, call.abi_encode()).ok();
        C::abi_decode_returns(&out.output).unwrap()
    }

    fn send<C: SolCall>(&mut self, from: Address, to: Address, value: U256, call: C) -> Outcome {
        self.chain.call(from, to, value, call.abi_encode())
    }

    fn finalize_deposit(&mut self, from: Address, to: Address, amount: u64) -> Outcome {
        self.send(
            from,
            L2_STANDARD_BRIDGE,
            U256::ZERO,
            L2Bridge::finalizeDepositCall {
                l1Token: L1_TOKEN,
                from: self.alice,
                to,
                amount: U256::from(amount),
                name: "Test Token".into(),
                symbol: "TST".into(),
                decimals: 6,
            },
        )
    }
}

fn withdrawal_of(e: &Passer::MessagePassed) -> Withdrawal {
    Withdrawal {
        nonce: e.nonce,
        sender: e.sender,
        target: e.target,
        value: e.value,
        gas_limit: e.gasLimit,
        data: e.data.clone(),
    }
}

#[test]
fn message_passer_matches_rust_withdrawal_hash_and_slot() {
    let mut l2 = genesis();
    let (alice, bob) = (l2.alice, l2.bob);
    let value = U256::from(5u64) * U256::from(10u64.pow(17));
    let out = l2
        .send(
            alice,
            L2_TO_L1_MESSAGE_PASSER,
            value,
            Passer::initiateWithdrawalCall {
                target: bob,
                gasLimit: U256::from(90_000),
                data: Bytes::from_static(b"\x01\x02\x03"),
            },
        )
        .ok();
    println!(
        "gas: L2ToL1MessagePasser.initiateWithdrawal = {}",
        out.gas_used
    );
    let e = out.event::<Passer::MessagePassed>();
    let expected = Withdrawal {
        nonce: U256::ZERO,
        sender: alice,
        target: bob,
        value,
        gas_limit: U256::from(90_000),
        data: Bytes::from_static(b"\x01\x02\x03"),
    };
    assert_eq!(withdrawal_of(&e), expected);
    assert_eq!(e.withdrawalHash, expected.hash());
    // Storage: sentMessages[hash] at Withdrawal::sent_slot holds 1; messageNonce at slot 1.
    assert_eq!(
        l2.chain.storage(
            L2_TO_L1_MESSAGE_PASSER,
            Withdrawal::sent_slot(expected.hash())
        ),
        U256::from(1)
    );
    assert_eq!(
        l2.chain.storage(L2_TO_L1_MESSAGE_PASSER, U256::from(1)),
        U256::from(1)
    );
    assert!(l2.view(
        L2_TO_L1_MESSAGE_PASSER,
        Passer::sentMessagesCall {
            hash: expected.hash()
        }
    ));
    // The ETH stays locked in the passer.
    assert_eq!(l2.chain.balance(L2_TO_L1_MESSAGE_PASSER), value);

    // receive(): withdraw to the sender with gas limit 100k; nonce 1.
    let out = l2
        .chain
        .call(bob, L2_TO_L1_MESSAGE_PASSER, U256::from(7), Bytes::new())
        .ok();
    let e = out.event::<Passer::MessagePassed>();
    let second = Withdrawal {
        nonce: U256::from(1),
        sender: bob,
        target: bob,
        value: U256::from(7),
        gas_limit: U256::from(100_000),
        data: Bytes::new(),
    };
    assert_eq!(withdrawal_of(&e), second);
    assert_eq!(e.withdrawalHash, second.hash());
    assert_eq!(
        l2.chain.storage(
            L2_TO_L1_MESSAGE_PASSER,
            Withdrawal::sent_slot(second.hash())
        ),
        U256::from(1)
    );
    assert_eq!(
        l2.view(L2_TO_L1_MESSAGE_PASSER, Passer::messageNonceCall {}),
        U256::from(2)
    );
}

#[test]
fn finalize_deposit_mints_at_the_create2_address_only_from_the_aliased_l1_bridge() {
    let mut l2 = genesis();
    let (alice, bob) = (l2.alice, l2.bob);
    assert_eq!(
        l2.view(L2_STANDARD_BRIDGE, L2Bridge::otherBridgeCall {}),
        L1_BRIDGE
    );
    let l2_token = l2.view(
        L2_STANDARD_BRIDGE,
        L2Bridge::l2TokenForCall { l1Token: L1_TOKEN },
    );
    // CREATE2(bridge, salt = l1Token, keccak256(creationCode ‖ abi.encode(l1Token))).
    let mut init = common::bytecode("MintableERC20").to_vec();
    init.extend_from_slice(&L1_TOKEN.abi_encode());
    let salt = B256::left_padding_from(L1_TOKEN.as_slice());
    assert_eq!(l2_token, L2_STANDARD_BRIDGE.create2(salt, keccak256(&init)));
    assert_eq!(l2.chain.code_len(l2_token), 0);

    // Not the aliased L1 bridge: rejected (the unaliased address too).
    for who in [alice, L1_BRIDGE, apply_alias(alice)] {
        l2.finalize_deposit(who, bob, 100)
            .expect_revert::<L2Bridge::NotOtherBridge>();
    }

    let out = l2.finalize_deposit(apply_alias(L1_BRIDGE), bob, 100).ok();
    println!(
        "gas: L2StandardBridge.finalizeDeposit, first (deploys the token) = {}",
        out.gas_used
    );
    assert!(out.gas_used < 1_500_000, "DEPOSIT_GAS_OVERHEAD too small");
    let e = out.event::<L2Bridge::DepositFinalized>();
    assert_eq!(
        (e.l1Token, e.l2Token, e.from, e.to, e.amount),
        (L1_TOKEN, l2_token, alice, bob, U256::from(100))
    );
    assert!(l2.chain.code_len(l2_token) > 0);
    assert_eq!(
        l2.view(l2_token, Mintable::balanceOfCall { who: bob }),
        U256::from(100)
    );
    assert_eq!(l2.view(l2_token, Mintable::nameCall {}), "Test Token");
    assert_eq!(l2.view(l2_token, Mintable::symbolCall {}), "TST");
    assert_eq!(l2.view(l2_token, Mintable::decimalsCall {}), 6);
    assert_eq!(l2.view(l2_token, Mintable::remoteTokenCall {}), L1_TOKEN);
    assert_eq!(
        l2.view(l2_token, Mintable::bridgeCall {}),
        L2_STANDARD_BRIDGE
    );

    // Second deposit: same token, no redeploy.
    let out = l2.finalize_deposit(apply_alias(L1_BRIDGE), alice, 50).ok();
    println!(
        "gas: L2StandardBridge.finalizeDeposit, later = {}",
        out.gas_used
    );
    assert_eq!(out.event::<L2Bridge::DepositFinalized>().l2Token, l2_token);
    assert_eq!(
        l2.view(l2_token, Mintable::totalSupplyCall {}),
        U256::from(150)
    );

    // Only the bridge mints or sets metadata.
    l2.send(
        alice,
        l2_token,
        U256::ZERO,
        Mintable::mintCall {
            to: alice,
            amount: U256::from(1),
        },
    )
    .expect_revert::<Mintable::NotBridge>();
    l2.send(
        alice,
        l2_token,
        U256::ZERO,
        Mintable::initializeCall {
            name: "x".into(),
            symbol: "x".into(),
            decimals: 1,
        },
    )
    .expect_revert::<Mintable::NotBridge>();
}

#[test]
fn withdraw_burns_and_sends_finalize_erc20_withdrawal() {
    let mut l2 = genesis();
    let (alice, bob) = (l2.alice, l2.bob);
    l2.finalize_deposit(apply_alias(L1_BRIDGE), bob, 100).ok();
    let l2_token = l2.view(
        L2_STANDARD_BRIDGE,
        L2Bridge::l2TokenForCall { l1Token: L1_TOKEN },
    );
    let overhead = l2.view(L2_STANDARD_BRIDGE, L2Bridge::WITHDRAWAL_GAS_OVERHEADCall {});

    let out = l2
        .send(
            bob,
            L2_STANDARD_BRIDGE,
            U256::ZERO,
            L2Bridge::withdrawCall {
                l2Token: l2_token,
                amount: U256::from(30),
                minGasLimit: 5_000,
            },
        )
        .ok();
    println!("gas: L2StandardBridge.withdraw = {}", out.gas_used);
    assert_eq!(
        l2.view(l2_token, Mintable::balanceOfCall { who: bob }),
        U256::from(70)
    );
    assert_eq!(
        l2.view(l2_token, Mintable::totalSupplyCall {}),
        U256::from(70)
    );
    let (emitter, e) = out.events::<Passer::MessagePassed>().pop().unwrap();
    assert_eq!(emitter, L2_TO_L1_MESSAGE_PASSER);
    let expected = Withdrawal {
        nonce: U256::ZERO,
        sender: L2_STANDARD_BRIDGE,
        target: L1_BRIDGE,
        value: U256::ZERO,
        gas_limit: overhead + U256::from(5_000),
        data: L1Bridge::finalizeERC20WithdrawalCall {
            l1Token: L1_TOKEN,
            from: bob,
            to: bob,
            amount: U256::from(30),
        }
        .abi_encode()
        .into(),
    };
    assert_eq!(withdrawal_of(&e), expected);
    assert_eq!(e.withdrawalHash, expected.hash());
    assert_eq!(
        l2.chain.storage(
            L2_TO_L1_MESSAGE_PASSER,
            Withdrawal::sent_slot(expected.hash())
        ),
        U256::from(1)
    );
    let w = out.event::<L2Bridge::WithdrawalInitiated>();
    assert_eq!(
        (w.l1Token, w.l2Token, w.from, w.to, w.amount),
        (L1_TOKEN, l2_token, bob, bob, U256::from(30))
    );

    // withdrawTo another L1 recipient.
    let out = l2
        .send(
            bob,
            L2_STANDARD_BRIDGE,
            U256::ZERO,
            L2Bridge::withdrawToCall {
                l2Token: l2_token,
                to: alice,
                amount: U256::from(20),
                minGasLimit: 0,
            },
        )
        .ok();
    let e = out.event::<Passer::MessagePassed>();
    let call = L1Bridge::finalizeERC20WithdrawalCall::abi_decode(&e.data).unwrap();
    assert_eq!(
        (call.from, call.to, call.amount),
        (bob, alice, U256::from(20))
    );
    assert_eq!(e.nonce, U256::from(1));
    assert_eq!(e.withdrawalHash, withdrawal_of(&e).hash());

    // More than the balance, zero, and tokens the bridge did not deploy: rejected.
    assert!(
        !l2.send(
            bob,
            L2_STANDARD_BRIDGE,
            U256::ZERO,
            L2Bridge::withdrawCall {
                l2Token: l2_token,
                amount: U256::from(51),
                minGasLimit: 0,
            },
        )
        .success
    );
    l2.send(
        bob,
        L2_STANDARD_BRIDGE,
        U256::ZERO,
        L2Bridge::withdrawCall {
            l2Token: l2_token,
            amount: U256::ZERO,
            minGasLimit: 0,
        },
    )
    .expect_revert::<L2Bridge::ZeroAmount>();
    let fake = l2.chain.deploy(
        alice,
        "TestToken",
        &(String::from("Fake"), String::from("F"), U256::from(1000)).abi_encode_params(),
    );
    let out = l2.send(
        alice,
        L2_STANDARD_BRIDGE,
        U256::ZERO,
        L2Bridge::withdrawCall {
            l2Token: fake,
            amount: U256::from(1),
            minGasLimit: 0,
        },
    );
    assert!(!out.success);
    l2.send(
        alice,
        L2_STANDARD_BRIDGE,
        U256::ZERO,
        L2Bridge::withdrawCall {
            l2Token: bob,
            amount: U256::from(1),
            minGasLimit: 0,
        },
    )
    .expect_revert::<L2Bridge::UnknownToken>();

    // ETH through the bridge: the passer holds it, sender = the L2 bridge.
    let out = l2
        .send(
            alice,
            L2_STANDARD_BRIDGE,
            U256::from(1000),
            L2Bridge::withdrawETHCall {
                to: bob,
                minGasLimit: 60_000,
            },
        )
        .ok();
    let e = out.event::<Passer::MessagePassed>();
    assert_eq!(
        withdrawal_of(&e),
        Withdrawal {
            nonce: U256::from(2),
            sender: L2_STANDARD_BRIDGE,
            target: bob,
            value: U256::from(1000),
            gas_limit: U256::from(60_000),
            data: Bytes::new(),
        }
    );
    assert_eq!(l2.chain.balance(L2_TO_L1_MESSAGE_PASSER), U256::from(1000));
    assert_eq!(l2.chain.balance(L2_STANDARD_BRIDGE), U256::ZERO);
}

#[test]
fn l1_info_only_from_the_system_depositor() {
    let mut l2 = genesis();
    let alice = l2.alice;
    let set = Info::setL1InfoCall {
        number: 1234,
        timestamp: 1_700_000_123,
        basefee: U256::from(7_000_000_000u64),
        hash: B256::with_last_byte(0xab),
    };
    l2.send(alice, L1_INFO, U256::ZERO, set.clone())
        .expect_revert::<Info::NotSystemDepositor>();
    let out = l2.send(SYSTEM_DEPOSITOR, L1_INFO, U256::ZERO, set).ok();
    println!("gas: L1Info.setL1Info (first) = {}", out.gas_used);
    assert_eq!(l2.view(L1_INFO, Info::numberCall {}), 1234);
    assert_eq!(l2.view(L1_INFO, Info::timestampCall {}), 1_700_000_123);
    assert_eq!(
        l2.view(L1_INFO, Info::basefeeCall {}),
        U256::from(7_000_000_000u64)
    );
    assert_eq!(
        l2.view(L1_INFO, Info::hashCall {}),
        B256::with_last_byte(0xab)
    );
    // Documented layout: slot 0 = number | timestamp << 64, slot 1 = basefee, slot 2 = hash.
    assert_eq!(
        l2.chain.storage(L1_INFO, U256::ZERO),
        U256::from(1234) | (U256::from(1_700_000_123u64) << 64)
    );
    assert_eq!(
        l2.chain.storage(L1_INFO, U256::from(1)),
        U256::from(7_000_000_000u64)
    );
    assert_eq!(l2.chain.storage(L1_INFO, U256::from(2)), U256::from(0xab));
}
