#![allow(clippy::too_many_arguments)] // the sol! bindings mirror Router02 signatures
//! Uniswap V2 end to end: the real npm artifacts (WETH9, UniswapV2Factory, UniswapV2Router02)
//! and two OpenZeppelin test tokens are deployed on the chain under test, liquidity is added and
//! every swap kind of the router is run. After each step the test asserts the exact outcome
//! computed here from the constant-product formula with the 0.3% fee (balances, reserves, ETH
//! paid for gas), the events as returned by `eth_getLogs` and pushed by a WebSocket
//! `eth_subscribe`, `eth_estimateGas`, and `eth_call` at the exact slippage bound and one wei past
//! it (where the router must revert with its reason string).
//!
//! Run against anvil to check the test itself: `ROLLUP_TEST_L2=anvil cargo test -p rollup-node
//! --test defi_uniswap`.

mod support;

use std::{collections::BTreeMap, time::Duration};

use alloy::{
    eips::BlockId,
    network::TransactionBuilder,
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::{DynProvider, Provider},
    pubsub::Subscription,
    rpc::types::{Filter, Log, TransactionReceipt, TransactionRequest},
    sol,
    sol_types::{Revert, SolCall, SolError, SolEvent, SolValue},
};
use support::{artifact, dev_address, wait_for_file, ChainOpts, TestChain};

sol! {
    #[sol(rpc)]
    interface IERC20 {
        event Transfer(address indexed from, address indexed to, uint256 value);
        function totalSupply() external view returns (uint256);
        function balanceOf(address owner) external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
        function approve(address spender, uint256 value) external returns (bool);
        function allowance(address owner, address spender) external view returns (uint256);
    }

    #[sol(rpc)]
    interface IWETH9 {
        event Deposit(address indexed dst, uint256 wad);
        event Withdrawal(address indexed src, uint256 wad);
        function totalSupply() external view returns (uint256);
        function balanceOf(address owner) external view returns (uint256);
    }

    #[sol(rpc)]
    interface IUniswapV2Factory {
        event PairCreated(address indexed token0, address indexed token1, address pair, uint256);
        function feeToSetter() external view returns (address);
        function getPair(address tokenA, address tokenB) external view returns (address pair);
        function allPairsLength() external view returns (uint256);
    }

    #[sol(rpc)]
    interface IUniswapV2Pair {
        event Mint(address indexed sender, uint256 amount0, uint256 amount1);
        event Swap(
            address indexed sender,
            uint256 amount0In,
            uint256 amount1In,
            uint256 amount0Out,
            uint256 amount1Out,
            address indexed to
        );
        event Sync(uint112 reserve0, uint112 reserve1);
        function token0() external view returns (address);
        function token1() external view returns (address);
        function totalSupply() external view returns (uint256);
        function balanceOf(address owner) external view returns (uint256);
        function getReserves()
            external
            view
            returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    }

    #[sol(rpc)]
    interface IUniswapV2Router02 {
        function factory() external pure returns (address);
        function WETH() external pure returns (address);
        function addLiquidity(
            address tokenA,
            address tokenB,
            uint256 amountADesired,
            uint256 amountBDesired,
            uint256 amountAMin,
            uint256 amountBMin,
            address to,
            uint256 deadline
        ) external returns (uint256 amountA, uint256 amountB, uint256 liquidity);
        function addLiquidityETH(
            address token,
            uint256 amountTokenDesired,
            uint256 amountTokenMin,
            uint256 amountETHMin,
            address to,
            uint256 deadline
        ) external payable returns (uint256 amountToken, uint256 amountETH, uint256 liquidity);
        function swapExactTokensForTokens(
            uint256 amountIn,
            uint256 amountOutMin,
            address[] calldata path,
            address to,
            uint256 deadline
        ) external returns (uint256[] memory amounts);
        function swapTokensForExactTokens(
            uint256 amountOut,
            uint256 amountInMax,
            address[] calldata path,
            address to,
            uint256 deadline
        ) external returns (uint256[] memory amounts);
        function swapExactETHForTokens(
            uint256 amountOutMin,
            address[] calldata path,
            address to,
            uint256 deadline
        ) external payable returns (uint256[] memory amounts);
        function swapTokensForExactETH(
            uint256 amountOut,
            uint256 amountInMax,
            address[] calldata path,
            address to,
            uint256 deadline
        ) external returns (uint256[] memory amounts);
        function swapExactTokensForETH(
            uint256 amountIn,
            uint256 amountOutMin,
            address[] calldata path,
            address to,
            uint256 deadline
        ) external returns (uint256[] memory amounts);
        function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
            external
            pure
            returns (uint256 amountOut);
        function getAmountIn(uint256 amountOut, uint256 reserveIn, uint256 reserveOut)
            external
            pure
            returns (uint256 amountIn);
    }
}

use IUniswapV2Pair::{Swap, Sync};

const TEST_TOKEN: &str = "contracts/out/TestToken.json";
const WETH9: &str = "testdata/node_modules/@uniswap/v2-periphery/build/WETH9.json";
const FACTORY: &str = "testdata/node_modules/@uniswap/v2-core/build/UniswapV2Factory.json";
const PAIR: &str = "testdata/node_modules/@uniswap/v2-core/build/UniswapV2Pair.json";
const ROUTER: &str = "testdata/node_modules/@uniswap/v2-periphery/build/UniswapV2Router02.json";

/// Uniswap V2 `MINIMUM_LIQUIDITY`, locked forever at the first mint.
const MINIMUM_LIQUIDITY: u64 = 1000;

/// Dev account that deploys everything and provides liquidity.
const DEPLOYER: u32 = 0;
/// Dev account that swaps.
const SWAPPER: u32 = 1;

/// `n` whole tokens (18 decimals).
fn units(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// `UniswapV2Library.getAmountOut`: output for an exact input, 0.3% fee.
fn get_amount_out(amount_in: U256, reserve_in: U256, reserve_out: U256) -> U256 {
    let in_with_fee = amount_in * U256::from(997);
    in_with_fee * reserve_out / (reserve_in * U256::from(1000) + in_with_fee)
}

/// `UniswapV2Library.getAmountIn`: input needed for an exact output, 0.3% fee.
fn get_amount_in(amount_out: U256, reserve_in: U256, reserve_out: U256) -> U256 {
    reserve_in * amount_out * U256::from(1000) / ((reserve_out - amount_out) * U256::from(997))
        + U256::from(1)
}

/// Integer square root (Babylonian, as `Math.sqrt` in UniswapV2Pair).
fn isqrt(y: U256) -> U256 {
    y.root(2)
}

/// One deployed pair: address and token order.
#[derive(Debug, Clone, Copy)]
struct Pair {
    address: Address,
    token0: Address,
    token1: Address,
}

impl Pair {
    fn has(&self, token: Address) -> bool {
        token == self.token0 || token == self.token1
    }
}

/// What a swap step starts from and ends with: everything the swapper owns plus pool state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Snapshot {
    /// Swapper's ETH.
    eth: U256,
    /// Swapper's balance of each token (A, B, WETH).
    tokens: BTreeMap<Address, U256>,
    /// `getReserves` of each pair, by (pair, token).
    reserves: BTreeMap<(Address, Address), U256>,
    /// `WETH.totalSupply()` (ETH locked in WETH).
    weth_supply: U256,
}

/// Which router entry point a step calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SwapKind {
    ExactTokensForTokens,
    TokensForExactTokens,
    ExactEthForTokens,
    TokensForExactEth,
    ExactTokensForEth,
}

impl SwapKind {
    fn exact_in(self) -> bool {
        matches!(
            self,
            Self::ExactTokensForTokens | Self::ExactEthForTokens | Self::ExactTokensForEth
        )
    }
    fn eth_in(self) -> bool {
        self == Self::ExactEthForTokens
    }
    fn eth_out(self) -> bool {
        matches!(self, Self::TokensForExactEth | Self::ExactTokensForEth)
    }
}

/// The deployed world and the accounts acting in it.
struct World {
    deployer_p: DynProvider,
    swapper_p: DynProvider,
    deployer: Address,
    swapper: Address,
    weth: Address,
    factory: Address,
    router: Address,
    token_a: Address,
    token_b: Address,
    pairs: Vec<Pair>,
    deadline: U256,
}

impl World {
    fn pair_for(&self, x: Address, y: Address) -> Pair {
        *self
            .pairs
            .iter()
            .find(|p| p.has(x) && p.has(y))
            .unwrap_or_else(|| panic!("no pair for {x} / {y}"))
    }

    fn name(&self, token: Address) -> &'static str {
        if token == self.token_a {
            "A"
        } else if token == self.token_b {
            "B"
        } else if token == self.weth {
            "WETH"
        } else {
            "?"
        }
    }

    /// Reads everything in one pinned block so the reads are consistent.
    async fn snapshot(&self, block: u64) -> Snapshot {
        let p = &self.swapper_p;
        let at = BlockId::number(block);
        let eth = p
            .get_balance(self.swapper)
            .block_id(at)
            .await
            .expect("eth_getBalance");
        let mut tokens = BTreeMap::new();
        for token in [self.token_a, self.token_b, self.weth] {
            let bal = IERC20::new(token, p)
                .balanceOf(self.swapper)
                .block(at)
                .call()
                .await
                .expect("balanceOf");
            tokens.insert(token, bal);
        }
        let mut reserves = BTreeMap::new();
        for pair in &self.pairs {
            let r = IUniswapV2Pair::new(pair.address, p)
                .getReserves()
                .block(at)
                .call()
                .await
                .expect("getReserves");
            let (r0, r1) = (U256::from(r.reserve0), U256::from(r.reserve1));
            // After every completed tx the reserves equal the pair's actual balances.
            for (token, reserve) in [(pair.token0, r0), (pair.token1, r1)] {
                let held = IERC20::new(token, p)
                    .balanceOf(pair.address)
                    .block(at)
                    .call()
                    .await
                    .expect("balanceOf(pair)");
                assert_eq!(held, reserve, "pair {} out of sync", pair.address);
            }
            reserves.insert((pair.address, pair.token0), r0);
            reserves.insert((pair.address, pair.token1), r1);
        }
        let weth_supply = IWETH9::new(self.weth, p)
            .totalSupply()
            .block(at)
            .call()
            .await
            .expect("WETH.totalSupply");
        Snapshot {
            eth,
            tokens,
            reserves,
            weth_supply,
        }
    }
}

/// ETH the sender paid for a mined transaction: `gasUsed * effectiveGasPrice`, plus the L1 data
/// fee if the receipt reports one (OP-stack `l1Fee`; absent on anvil).
async fn tx_cost(p: &DynProvider, receipt: &TransactionReceipt) -> U256 {
    let l2 = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    let raw: serde_json::Value = p
        .raw_request(
            "eth_getTransactionReceipt".into(),
            (receipt.transaction_hash,),
        )
        .await
        .expect("raw eth_getTransactionReceipt");
    let l1 = match raw.get("l1Fee").and_then(|v| v.as_str()) {
        Some(hex) => hex.parse::<U256>().expect("l1Fee"),
        None => U256::ZERO,
    };
    l2 + l1
}

/// Sends through `p` (its fillers add nonce, fees, chain id, gas when unset), waits for the
/// receipt and asserts success.
async fn send(p: &DynProvider, tx: TransactionRequest, what: &str) -> TransactionReceipt {
    let pending = p
        .send_transaction(tx)
        .await
        .unwrap_or_else(|e| panic!("{what}: eth_sendRawTransaction: {e}"));
    let receipt = pending
        .with_timeout(Some(Duration::from_secs(60)))
        .get_receipt()
        .await
        .unwrap_or_else(|e| panic!("{what}: receipt: {e}"));
    assert!(receipt.status(), "{what}: reverted: {receipt:?}");
    assert!(
        receipt.block_number.is_some(),
        "{what}: receipt has no block"
    );
    receipt
}

/// Deploys `code ++ ctor_args` and checks the receipt's address has that runtime code.
async fn deploy(p: &DynProvider, code: &Bytes, ctor_args: Vec<u8>, what: &str) -> Address {
    let mut init = code.to_vec();
    init.extend_from_slice(&ctor_args);
    let receipt = send(
        p,
        TransactionRequest::default().with_deploy_code(init),
        what,
    )
    .await;
    let address = receipt
        .contract_address
        .unwrap_or_else(|| panic!("{what}: receipt has no contractAddress"));
    let code = p.get_code_at(address).await.expect("eth_getCode");
    assert!(!code.is_empty(), "{what}: eth_getCode({address}) is empty");
    println!(
        "deployed {what} at {address} ({} bytes of code, gas {})",
        code.len(),
        receipt.gas_used
    );
    address
}

/// Asserts that every function / event selector of a `sol!` interface is in the artifact ABI.
fn assert_abi_covers(
    abi: &alloy::json_abi::JsonAbi,
    fns: &[[u8; 4]],
    events: &[[u8; 32]],
    what: &str,
) {
    for sel in fns {
        assert!(
            abi.functions().any(|f| f.selector().0 == *sel),
            "{what}: artifact ABI has no function with selector 0x{}",
            alloy::hex::encode(sel)
        );
    }
    for sel in events {
        assert!(
            abi.events().any(|e| e.selector().0 == *sel),
            "{what}: artifact ABI has no event with topic 0x{}",
            alloy::hex::encode(sel)
        );
    }
}

/// Logs of `receipt` emitted by `address` with topic0 `sig`.
fn receipt_logs(receipt: &TransactionReceipt, address: Address, sig: B256) -> Vec<Log> {
    receipt
        .logs()
        .iter()
        .filter(|l| l.address() == address && l.topic0() == Some(&sig))
        .cloned()
        .collect()
}

/// Revert data of a failed `eth_call`, decoded as `Error(string)`.
fn revert_reason(err: &alloy::transports::TransportError) -> String {
    let payload = err
        .as_error_resp()
        .unwrap_or_else(|| panic!("expected a JSON-RPC error response, got {err}"));
    let data = payload
        .as_revert_data()
        .unwrap_or_else(|| panic!("error response carries no revert data: {payload:?}"));
    assert_eq!(
        &data[..4],
        Revert::SELECTOR.as_slice(),
        "revert data is not Error(string): {data}"
    );
    Revert::abi_decode(&data)
        .unwrap_or_else(|e| panic!("undecodable revert data {data}: {e}"))
        .reason
}

/// Calldata, value, expected amounts of one swap at a given slippage bound.
fn swap_calldata(
    w: &World,
    kind: SwapKind,
    path: &[Address; 2],
    amount_in: U256,
    amount_out: U256,
    bound: U256,
) -> (Vec<u8>, U256) {
    let path = path.to_vec();
    let to = w.swapper;
    let deadline = w.deadline;
    use IUniswapV2Router02 as R;
    match kind {
        SwapKind::ExactTokensForTokens => (
            R::swapExactTokensForTokensCall {
                amountIn: amount_in,
                amountOutMin: bound,
                path,
                to,
                deadline,
            }
            .abi_encode(),
            U256::ZERO,
        ),
        SwapKind::TokensForExactTokens => (
            R::swapTokensForExactTokensCall {
                amountOut: amount_out,
                amountInMax: bound,
                path,
                to,
                deadline,
            }
            .abi_encode(),
            U256::ZERO,
        ),
        SwapKind::ExactEthForTokens => (
            R::swapExactETHForTokensCall {
                amountOutMin: bound,
                path,
                to,
                deadline,
            }
            .abi_encode(),
            amount_in,
        ),
        SwapKind::TokensForExactEth => (
            R::swapTokensForExactETHCall {
                amountOut: amount_out,
                amountInMax: bound,
                path,
                to,
                deadline,
            }
            .abi_encode(),
            U256::ZERO,
        ),
        SwapKind::ExactTokensForEth => (
            R::swapExactTokensForETHCall {
                amountIn: amount_in,
                amountOutMin: bound,
                path,
                to,
                deadline,
            }
            .abi_encode(),
            U256::ZERO,
        ),
    }
}

/// One swap by the swapper: `amount` is the exact input (exact-in kinds) or the exact output
/// (exact-out kinds). Checks everything listed in the module doc; `sub` is a WS subscription to
/// the `Swap` events of all pairs, opened before the first swap.
async fn swap_step(
    w: &World,
    sub: &mut Subscription<Log>,
    kind: SwapKind,
    path: [Address; 2],
    amount: U256,
) {
    let p = &w.swapper_p;
    let what = format!("{kind:?} {} -> {}", w.name(path[0]), w.name(path[1]));
    let pair = w.pair_for(path[0], path[1]);

    // Pin the pre-state to one block; the expected amounts come from its reserves.
    let before_block = p.get_block_number().await.expect("eth_blockNumber");
    let before = w.snapshot(before_block).await;
    let reserve_in = before.reserves[&(pair.address, path[0])];
    let reserve_out = before.reserves[&(pair.address, path[1])];
    let (amount_in, amount_out) = if kind.exact_in() {
        (amount, get_amount_out(amount, reserve_in, reserve_out))
    } else {
        (get_amount_in(amount, reserve_in, reserve_out), amount)
    };
    assert!(amount_out > U256::ZERO, "{what}: zero output");

    // The router's own pure helpers agree with the formula (executed by the chain's EVM).
    let router = IUniswapV2Router02::new(w.router, p);
    if kind.exact_in() {
        let out = router
            .getAmountOut(amount_in, reserve_in, reserve_out)
            .call()
            .await
            .expect("getAmountOut");
        assert_eq!(out, amount_out, "{what}: router.getAmountOut");
    } else {
        let inp = router
            .getAmountIn(amount_out, reserve_in, reserve_out)
            .call()
            .await
            .expect("getAmountIn");
        assert_eq!(inp, amount_in, "{what}: router.getAmountIn");
    }

    // eth_call at the exact slippage bound succeeds and returns [in, out]...
    let (exact_bound, broken_bound, reason) = if kind.exact_in() {
        (
            amount_out,
            amount_out + U256::from(1),
            "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT",
        )
    } else {
        (
            amount_in,
            amount_in - U256::from(1),
            "UniswapV2Router: EXCESSIVE_INPUT_AMOUNT",
        )
    };
    let tx_for = |bound: U256| {
        let (data, value) = swap_calldata(w, kind, &path, amount_in, amount_out, bound);
        TransactionRequest::default()
            .with_from(w.swapper)
            .with_to(w.router)
            .with_input(data)
            .with_value(value)
    };
    let ok_tx = tx_for(exact_bound);
    let at = BlockId::number(before_block);
    let ret = p
        .call(ok_tx.clone())
        .block(at)
        .await
        .unwrap_or_else(|e| panic!("{what}: eth_call at the exact bound failed: {e}"));
    // All swap functions return `uint[] amounts`; decode with one of them.
    let amounts = IUniswapV2Router02::swapExactTokensForTokensCall::abi_decode_returns(&ret)
        .unwrap_or_else(|e| panic!("{what}: bad eth_call return {ret}: {e}"));
    assert_eq!(
        amounts,
        vec![amount_in, amount_out],
        "{what}: eth_call amounts"
    );

    // ...and one wei past it reverts with the router's reason string.
    let err = p
        .call(tx_for(broken_bound))
        .block(at)
        .await
        .expect_err(&format!(
            "{what}: eth_call one wei past the bound must revert"
        ));
    assert_eq!(revert_reason(&err), reason, "{what}: revert reason");

    // eth_estimateGas, then send with a gas limit of twice the estimate. The estimate cannot be
    // used as the exact limit: the pair's price oracle writes two more storage slots (up to ~40k
    // gas when they go from zero) when the swap lands in a later block than the previous swap,
    // which a simulation on the previous block's timestamp does not see.
    let estimate = p
        .estimate_gas(ok_tx.clone())
        .await
        .unwrap_or_else(|e| panic!("{what}: eth_estimateGas: {e}"));
    assert!(
        (60_000..300_000).contains(&estimate),
        "{what}: eth_estimateGas = {estimate}"
    );
    let receipt = send(p, ok_tx.with_gas_limit(estimate * 2), &what).await;
    assert!(
        receipt.gas_used.abs_diff(estimate) <= 50_000,
        "{what}: used {} gas, estimate was {estimate}",
        receipt.gas_used
    );
    let block = receipt.block_number.unwrap();
    assert!(
        block > before_block,
        "{what}: mined in {block} <= {before_block}"
    );
    let cost = tx_cost(p, &receipt).await;

    // Exact post-state.
    let after = w.snapshot(block).await;
    let mut expected = before.clone();
    let value = if kind.eth_in() { amount_in } else { U256::ZERO };
    let eth_received = if kind.eth_out() {
        amount_out
    } else {
        U256::ZERO
    };
    expected.eth = before.eth - value - cost + eth_received;
    if !kind.eth_in() {
        *expected.tokens.get_mut(&path[0]).unwrap() -= amount_in;
    }
    if !kind.eth_out() {
        *expected.tokens.get_mut(&path[1]).unwrap() += amount_out;
    }
    *expected.reserves.get_mut(&(pair.address, path[0])).unwrap() += amount_in;
    *expected.reserves.get_mut(&(pair.address, path[1])).unwrap() -= amount_out;
    if kind.eth_in() {
        expected.weth_supply += amount_in;
    }
    if kind.eth_out() {
        expected.weth_supply -= amount_out;
    }
    assert_eq!(
        after, expected,
        "{what}: state after the swap (in {amount_in}, out {amount_out}, gas cost {cost})"
    );

    // Swap and Sync of the pair, through eth_getLogs.
    let filter = Filter::new()
        .address(pair.address)
        .event_signature(vec![Swap::SIGNATURE_HASH, Sync::SIGNATURE_HASH])
        .from_block(block)
        .to_block(block);
    let logs = p.get_logs(&filter).await.expect("eth_getLogs Swap/Sync");
    assert_eq!(
        logs.len(),
        2,
        "{what}: Swap + Sync logs in block {block}: {logs:?}"
    );
    for log in &logs {
        assert_eq!(log.transaction_hash, Some(receipt.transaction_hash));
        assert_eq!(log.block_number, Some(block));
        assert_eq!(log.block_hash, receipt.block_hash);
        assert!(!log.removed);
    }
    // The same logs are in the receipt, at the same indices.
    let mut from_receipt = receipt_logs(&receipt, pair.address, Sync::SIGNATURE_HASH);
    from_receipt.extend(receipt_logs(&receipt, pair.address, Swap::SIGNATURE_HASH));
    from_receipt.sort_by_key(|l| l.log_index);
    assert_eq!(logs, from_receipt, "{what}: eth_getLogs vs receipt logs");
    // UniswapV2Pair._update emits Sync before swap() emits Swap.
    let sync = logs[0]
        .log_decode::<Sync>()
        .expect("decode Sync")
        .inner
        .data;
    let swap_log = logs[1].clone();
    let swap = swap_log
        .log_decode::<Swap>()
        .expect("decode Swap")
        .inner
        .data;
    assert_eq!(
        (U256::from(sync.reserve0), U256::from(sync.reserve1)),
        (
            after.reserves[&(pair.address, pair.token0)],
            after.reserves[&(pair.address, pair.token1)]
        ),
        "{what}: Sync reserves"
    );
    let in_is_0 = path[0] == pair.token0;
    let (a0_in, a1_in) = if in_is_0 {
        (amount_in, U256::ZERO)
    } else {
        (U256::ZERO, amount_in)
    };
    let (a0_out, a1_out) = if in_is_0 {
        (U256::ZERO, amount_out)
    } else {
        (amount_out, U256::ZERO)
    };
    // For ETH out the pair pays WETH to the router, which unwraps it.
    let pair_pays_to = if kind.eth_out() { w.router } else { w.swapper };
    assert_eq!(swap.sender, w.router, "{what}: Swap.sender");
    assert_eq!(swap.to, pair_pays_to, "{what}: Swap.to");
    assert_eq!(
        (
            swap.amount0In,
            swap.amount1In,
            swap.amount0Out,
            swap.amount1Out
        ),
        (a0_in, a1_in, a0_out, a1_out),
        "{what}: Swap amounts"
    );

    // ERC20 Transfer logs, through eth_getLogs filtered by token, from and to.
    let pays_in_from = if kind.eth_in() { w.router } else { w.swapper };
    let transfers = [
        (path[0], pays_in_from, pair.address, amount_in),
        (path[1], pair.address, pair_pays_to, amount_out),
    ];
    for (token, from, to, amount) in transfers {
        let filter = Filter::new()
            .address(token)
            .event_signature(IERC20::Transfer::SIGNATURE_HASH)
            .topic1(from.into_word())
            .topic2(to.into_word())
            .from_block(block)
            .to_block(block);
        let logs = p.get_logs(&filter).await.expect("eth_getLogs Transfer");
        assert_eq!(
            logs.len(),
            1,
            "{what}: Transfer of {} {from} -> {to}: {logs:?}",
            w.name(token)
        );
        let t = logs[0]
            .log_decode::<IERC20::Transfer>()
            .expect("decode Transfer")
            .inner
            .data;
        assert_eq!(
            (t.from, t.to, t.value),
            (from, to, amount),
            "{what}: Transfer"
        );
        assert_eq!(logs[0].transaction_hash, Some(receipt.transaction_hash));
    }
    // No other token moved in this transaction.
    let all_transfers = receipt
        .logs()
        .iter()
        .filter(|l| l.topic0() == Some(&IERC20::Transfer::SIGNATURE_HASH))
        .count();
    assert_eq!(all_transfers, 2, "{what}: Transfer logs in the receipt");
    // WETH wrapping / unwrapping by the router.
    if kind.eth_in() {
        let dep = receipt_logs(&receipt, w.weth, IWETH9::Deposit::SIGNATURE_HASH);
        assert_eq!(dep.len(), 1, "{what}: WETH Deposit");
        let d = dep[0].log_decode::<IWETH9::Deposit>().unwrap().inner.data;
        assert_eq!((d.dst, d.wad), (w.router, amount_in));
    }
    if kind.eth_out() {
        let wd = receipt_logs(&receipt, w.weth, IWETH9::Withdrawal::SIGNATURE_HASH);
        assert_eq!(wd.len(), 1, "{what}: WETH Withdrawal");
        let d = wd[0].log_decode::<IWETH9::Withdrawal>().unwrap().inner.data;
        assert_eq!((d.src, d.wad), (w.router, amount_out));
    }

    // The WS subscription pushed this very Swap log.
    let pushed = tokio::time::timeout(Duration::from_secs(30), sub.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: no Swap log on the WS subscription within 30 s"))
        .expect("WS subscription closed");
    assert_eq!(
        pushed.transaction_hash,
        Some(receipt.transaction_hash),
        "{what}: WS log tx"
    );
    assert_eq!(pushed.address(), pair.address, "{what}: WS log address");
    assert_eq!(pushed.data(), swap_log.data(), "{what}: WS log topics/data");
    assert_eq!(pushed.block_number, Some(block), "{what}: WS log block");
    assert_eq!(pushed.log_index, swap_log.log_index, "{what}: WS log index");

    println!(
        "{what}: in {amount_in} out {amount_out}, gas {} (estimate {estimate}), block {block}",
        receipt.gas_used
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uniswap_v2_liquidity_and_swaps() {
    let started = std::time::Instant::now();
    wait_for_file(TEST_TOKEN, Duration::from_secs(300));
    let (token_abi, token_code) = artifact(TEST_TOKEN);
    let (weth_abi, weth_code) = artifact(WETH9);
    let (factory_abi, factory_code) = artifact(FACTORY);
    let (pair_abi, pair_code) = artifact(PAIR);
    let (router_abi, router_code) = artifact(ROUTER);
    // Our `sol!` interfaces must describe the artifacts actually deployed.
    assert_abi_covers(
        &token_abi,
        IERC20::IERC20Calls::SELECTORS,
        IERC20::IERC20Events::SELECTORS,
        "TestToken",
    );
    assert_abi_covers(
        &weth_abi,
        IWETH9::IWETH9Calls::SELECTORS,
        IWETH9::IWETH9Events::SELECTORS,
        "WETH9",
    );
    assert_abi_covers(
        &factory_abi,
        IUniswapV2Factory::IUniswapV2FactoryCalls::SELECTORS,
        IUniswapV2Factory::IUniswapV2FactoryEvents::SELECTORS,
        "UniswapV2Factory",
    );
    assert_abi_covers(
        &pair_abi,
        IUniswapV2Pair::IUniswapV2PairCalls::SELECTORS,
        IUniswapV2Pair::IUniswapV2PairEvents::SELECTORS,
        "UniswapV2Pair",
    );
    assert_abi_covers(
        &router_abi,
        IUniswapV2Router02::IUniswapV2Router02Calls::SELECTORS,
        &[],
        "UniswapV2Router02",
    );

    let chain = TestChain::start(ChainOpts::default()).await;
    let deployer_p = chain.provider_for(DEPLOYER);
    let swapper_p = chain.provider_for(SWAPPER);
    let deployer = dev_address(DEPLOYER);
    let swapper = dev_address(SWAPPER);
    let chain_id = deployer_p.get_chain_id().await.expect("eth_chainId");
    assert_eq!(chain_id, chain.chain_id());
    println!(
        "chain {:?} id {chain_id} at {}",
        chain.target(),
        chain.http_url()
    );
    for (who, addr) in [("dev0", deployer), ("dev1", swapper)] {
        let bal = deployer_p.get_balance(addr).await.expect("eth_getBalance");
        assert!(
            bal >= units(100),
            "{who} {addr} is not funded in genesis: {bal}"
        );
    }

    // --- Deployment -------------------------------------------------------------------------
    let supply = units(1_000_000);
    let weth = deploy(&deployer_p, &weth_code, vec![], "WETH9").await;
    let factory = deploy(
        &deployer_p,
        &factory_code,
        deployer.abi_encode(),
        "UniswapV2Factory",
    )
    .await;
    let router = deploy(
        &deployer_p,
        &router_code,
        (factory, weth).abi_encode_params(),
        "UniswapV2Router02",
    )
    .await;
    let token_a = deploy(
        &deployer_p,
        &token_code,
        ("Token A".to_string(), "TKA".to_string(), supply).abi_encode_params(),
        "TestToken A",
    )
    .await;
    let token_b = deploy(
        &deployer_p,
        &token_code,
        ("Token B".to_string(), "TKB".to_string(), supply).abi_encode_params(),
        "TestToken B",
    )
    .await;
    let f = IUniswapV2Factory::new(factory, &deployer_p);
    let r = IUniswapV2Router02::new(router, &deployer_p);
    assert_eq!(f.feeToSetter().call().await.unwrap(), deployer);
    assert_eq!(f.allPairsLength().call().await.unwrap(), U256::ZERO);
    assert_eq!(r.factory().call().await.unwrap(), factory);
    assert_eq!(r.WETH().call().await.unwrap(), weth);
    for token in [token_a, token_b] {
        let t = IERC20::new(token, &deployer_p);
        assert_eq!(t.totalSupply().call().await.unwrap(), supply);
        assert_eq!(t.balanceOf(deployer).call().await.unwrap(), supply);
    }

    // Fund the swapper with tokens; both accounts approve the router.
    let swapper_stake = units(10_000);
    for token in [token_a, token_b] {
        let t = IERC20::new(token, &deployer_p);
        let tx = t
            .transfer(swapper, swapper_stake)
            .into_transaction_request();
        let receipt = send(&deployer_p, tx, "transfer to swapper").await;
        let logs = receipt_logs(&receipt, token, IERC20::Transfer::SIGNATURE_HASH);
        assert_eq!(logs.len(), 1);
        let ev = logs[0].log_decode::<IERC20::Transfer>().unwrap().inner.data;
        assert_eq!(
            (ev.from, ev.to, ev.value),
            (deployer, swapper, swapper_stake)
        );
        assert_eq!(t.balanceOf(swapper).call().await.unwrap(), swapper_stake);
    }
    for (p, who) in [(&deployer_p, deployer), (&swapper_p, swapper)] {
        for token in [token_a, token_b] {
            let t = IERC20::new(token, p);
            let tx = t.approve(router, U256::MAX).into_transaction_request();
            send(p, tx, "approve router").await;
            assert_eq!(t.allowance(who, router).call().await.unwrap(), U256::MAX);
        }
    }

    // --- addLiquidity(A, B): the first mint creates the pair ---------------------------------
    let deadline = {
        let latest = deployer_p
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("eth_getBlockByNumber")
            .expect("latest block");
        U256::from(latest.header.timestamp + 3600)
    };
    let (liq_a, liq_b) = (units(1_000), units(4_000));
    let call = r.addLiquidity(
        token_a, token_b, liq_a, liq_b, liq_a, liq_b, deployer, deadline,
    );
    let sim = call.call().await.expect("eth_call addLiquidity");
    let lp_ab = isqrt(liq_a * liq_b) - U256::from(MINIMUM_LIQUIDITY);
    assert_eq!(
        (sim.amountA, sim.amountB, sim.liquidity),
        (liq_a, liq_b, lp_ab)
    );
    let receipt = send(&deployer_p, call.into_transaction_request(), "addLiquidity").await;
    let pair_ab = f.getPair(token_a, token_b).call().await.unwrap();
    assert_ne!(pair_ab, Address::ZERO, "pair A/B not created");
    assert_eq!(f.getPair(token_b, token_a).call().await.unwrap(), pair_ab);
    assert_eq!(f.allPairsLength().call().await.unwrap(), U256::from(1));
    // CREATE2 address: factory, salt keccak(token0 ++ token1), init code hash of the pair.
    let (t0, t1) = if token_a < token_b {
        (token_a, token_b)
    } else {
        (token_b, token_a)
    };
    let salt = keccak256([t0.as_slice(), t1.as_slice()].concat());
    assert_eq!(
        factory.create2(salt, keccak256(&pair_code)),
        pair_ab,
        "CREATE2 address of the pair"
    );
    assert!(!deployer_p.get_code_at(pair_ab).await.unwrap().is_empty());
    let created = receipt_logs(
        &receipt,
        factory,
        IUniswapV2Factory::PairCreated::SIGNATURE_HASH,
    );
    assert_eq!(created.len(), 1, "PairCreated");
    let ev = created[0]
        .log_decode::<IUniswapV2Factory::PairCreated>()
        .unwrap()
        .inner
        .data;
    assert_eq!(
        (ev.token0, ev.token1, ev.pair, ev._3),
        (t0, t1, pair_ab, U256::from(1))
    );
    let pair = IUniswapV2Pair::new(pair_ab, &deployer_p);
    assert_eq!(pair.token0().call().await.unwrap(), t0);
    assert_eq!(pair.token1().call().await.unwrap(), t1);
    assert_eq!(pair.balanceOf(deployer).call().await.unwrap(), lp_ab);
    assert_eq!(
        pair.totalSupply().call().await.unwrap(),
        lp_ab + U256::from(MINIMUM_LIQUIDITY)
    );
    let res = pair.getReserves().call().await.unwrap();
    let (want0, want1) = if t0 == token_a {
        (liq_a, liq_b)
    } else {
        (liq_b, liq_a)
    };
    assert_eq!(
        (U256::from(res.reserve0), U256::from(res.reserve1)),
        (want0, want1)
    );
    let mints = receipt_logs(&receipt, pair_ab, IUniswapV2Pair::Mint::SIGNATURE_HASH);
    assert_eq!(mints.len(), 1, "Mint");
    let m = mints[0]
        .log_decode::<IUniswapV2Pair::Mint>()
        .unwrap()
        .inner
        .data;
    assert_eq!((m.sender, m.amount0, m.amount1), (router, want0, want1));
    let syncs = receipt_logs(&receipt, pair_ab, Sync::SIGNATURE_HASH);
    assert_eq!(syncs.len(), 1, "Sync");
    let s = syncs[0].log_decode::<Sync>().unwrap().inner.data;
    assert_eq!(
        (U256::from(s.reserve0), U256::from(s.reserve1)),
        (want0, want1)
    );

    // --- addLiquidityETH(A): pair A/WETH, exact ETH accounting of the LP ---------------------
    let (liq_tok, liq_eth) = (units(500), units(5));
    let eth_before = deployer_p.get_balance(deployer).await.unwrap();
    let before_block = deployer_p.get_block_number().await.unwrap();
    let a_before = IERC20::new(token_a, &deployer_p)
        .balanceOf(deployer)
        .call()
        .await
        .unwrap();
    let call = r
        .addLiquidityETH(token_a, liq_tok, liq_tok, liq_eth, deployer, deadline)
        .value(liq_eth);
    let receipt = send(
        &deployer_p,
        call.into_transaction_request(),
        "addLiquidityETH",
    )
    .await;
    let block = receipt.block_number.unwrap();
    assert!(block > before_block);
    let at = BlockId::number(block);
    let cost = tx_cost(&deployer_p, &receipt).await;
    let eth_after = deployer_p.get_balance(deployer).block_id(at).await.unwrap();
    assert_eq!(
        eth_after,
        eth_before - liq_eth - cost,
        "LP's ETH after addLiquidityETH"
    );
    let a_after = IERC20::new(token_a, &deployer_p)
        .balanceOf(deployer)
        .block(at)
        .call()
        .await
        .unwrap();
    assert_eq!(a_after, a_before - liq_tok);
    let pair_aw = f.getPair(token_a, weth).call().await.unwrap();
    assert_ne!(pair_aw, Address::ZERO, "pair A/WETH not created");
    assert_eq!(f.allPairsLength().call().await.unwrap(), U256::from(2));
    let pair_w = IUniswapV2Pair::new(pair_aw, &deployer_p);
    let lp_aw = isqrt(liq_tok * liq_eth) - U256::from(MINIMUM_LIQUIDITY);
    assert_eq!(pair_w.balanceOf(deployer).call().await.unwrap(), lp_aw);
    let weth_c = IWETH9::new(weth, &deployer_p);
    assert_eq!(weth_c.balanceOf(pair_aw).call().await.unwrap(), liq_eth);
    assert_eq!(weth_c.totalSupply().call().await.unwrap(), liq_eth);
    assert_eq!(
        deployer_p.get_balance(weth).await.unwrap(),
        liq_eth,
        "ETH held by WETH9"
    );
    let aw0 = pair_w.token0().call().await.unwrap();
    let aw1 = pair_w.token1().call().await.unwrap();

    let world = World {
        deployer_p,
        swapper_p,
        deployer,
        swapper,
        weth,
        factory,
        router,
        token_a,
        token_b,
        pairs: vec![
            Pair {
                address: pair_ab,
                token0: t0,
                token1: t1,
            },
            Pair {
                address: pair_aw,
                token0: aw0,
                token1: aw1,
            },
        ],
        deadline,
    };
    let s = world
        .snapshot(world.deployer_p.get_block_number().await.unwrap())
        .await;
    assert_eq!(s.reserves[&(pair_aw, token_a)], liq_tok);
    assert_eq!(s.reserves[&(pair_aw, weth)], liq_eth);
    println!("liquidity added after {:?}", started.elapsed());

    // --- Swaps ----------------------------------------------------------------------------
    // A WS subscription to the Swap events of both pairs, opened before the first swap.
    let ws = chain.ws_provider().await;
    let filter = Filter::new()
        .address(vec![pair_ab, pair_aw])
        .event_signature(Swap::SIGNATURE_HASH);
    let mut sub = ws
        .subscribe_logs(&filter)
        .await
        .unwrap_or_else(|e| chain.fail(&format!("eth_subscribe logs: {e}")));

    use SwapKind::*;
    let (a, b) = (token_a, token_b);
    swap_step(&world, &mut sub, ExactTokensForTokens, [a, b], units(10)).await;
    swap_step(&world, &mut sub, ExactTokensForTokens, [b, a], units(37)).await;
    swap_step(&world, &mut sub, TokensForExactTokens, [a, b], units(25)).await;
    swap_step(&world, &mut sub, TokensForExactTokens, [b, a], units(3)).await;
    swap_step(&world, &mut sub, ExactEthForTokens, [weth, a], units(1)).await;
    swap_step(
        &world,
        &mut sub,
        TokensForExactEth,
        [a, weth],
        units(1) / U256::from(2),
    )
    .await;
    swap_step(&world, &mut sub, ExactTokensForEth, [a, weth], units(20)).await;

    // The factory owner was never involved in a swap: its LP position is untouched.
    let pair = IUniswapV2Pair::new(pair_ab, &world.deployer_p);
    assert_eq!(pair.balanceOf(world.deployer).call().await.unwrap(), lp_ab);
    let _ = world.factory;
    println!("uniswap flow passed in {:?}", started.elapsed());
}
