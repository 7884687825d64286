//! The Uniswap V2 swap workload: the real contracts from the pinned npm packages
//! (`@uniswap/v2-core`, `@uniswap/v2-periphery` with its WETH9), a `TestToken` pool, and one
//! `swapExactETHForTokens` per sender.

use std::path::PathBuf;

use alloy::{signers::local::PrivateKeySigner, sol, sol_types::SolCall, sol_types::SolValue};
use alloy_primitives::{Address, Bytes, TxKind, U256};
use fraud_vm::{chain::ChainSpec, execute::ExecutableTx};
use rollup_node::store::Store;

use test_support::dev;

use crate::{block_gas_limit, check_block, seal_block, sign, token_initcode, Result};

sol! {
    /// The parts of the Uniswap V2 router and ERC20 the workload calls.
    interface IUniswap {
        /// Lets `spender` move `amount` of the caller's tokens.
        function approve(address spender, uint256 amount) external returns (bool);
        /// Adds liquidity to the token/WETH pool (creating it), paying ETH.
        function addLiquidityETH(address token, uint256 amountTokenDesired, uint256 amountTokenMin, uint256 amountETHMin, address to, uint256 deadline) external payable returns (uint256, uint256, uint256);
        /// Swaps all the ETH sent for as many tokens as the pool gives.
        function swapExactETHForTokens(uint256 amountOutMin, address[] path, address to, uint256 deadline) external payable returns (uint256[]);
    }
}

/// ETH each swap pays in (0.001 ETH).
pub const SWAP_VALUE: u128 = 1_000_000_000_000_000;
/// Gas limit of each swap (one uses about 105,000).
pub const SWAP_GAS: u64 = 200_000;
/// ETH in the pool (1,000 ETH).
const POOL_ETH: u128 = 1_000_000_000_000_000_000_000;
/// Tokens in the pool (1,000,000 whole tokens).
const POOL_TOKENS: u128 = 1_000_000 * crate::TOKEN;
/// A deadline far in the future.
const DEADLINE: u64 = 1 << 40;

/// The deployed contracts of the swap workload.
#[derive(Clone, Copy, Debug)]
pub struct Pool {
    /// WETH9.
    pub weth: Address,
    /// `UniswapV2Router02`.
    pub router: Address,
    /// The `TestToken` the pool trades against WETH.
    pub token: Address,
}

impl Pool {
    /// A swap of [`SWAP_VALUE`] wei for tokens delivered to `to`, as transaction fields:
    /// gas limit, target (the router), value, call data.
    pub fn swap_call(&self, to: Address) -> (u64, TxKind, U256, Bytes) {
        let input = IUniswap::swapExactETHForTokensCall {
            amountOutMin: U256::ZERO,
            path: vec![self.weth, self.token],
            to,
            deadline: U256::from(DEADLINE),
        }
        .abi_encode();
        (
            SWAP_GAS,
            TxKind::Call(self.router),
            U256::from(SWAP_VALUE),
            input.into(),
        )
    }
}

/// The creation code of an npm artifact (`testdata/node_modules/<path>`), with `args`
/// appended.
fn npm_initcode(path: &str, args: Vec<u8>) -> Result<Bytes> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/node_modules")
        .join(path);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "{}: {e} (install the pinned npm packages: scripts/install-deps.sh)",
            file.display()
        )
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let hex = match &json["bytecode"] {
        serde_json::Value::String(s) => s.as_str(),
        other => other["object"]
            .as_str()
            .ok_or_else(|| format!("{path}: no bytecode"))?,
    };
    let mut code = alloy_primitives::hex::decode(hex.trim_start_matches("0x"))?;
    code.extend(args);
    Ok(code.into())
}

/// The setup of the pool, signed by `dev` from `nonce` on: deploy WETH9, the factory, the
/// router and a token, approve the router, add liquidity (the factory creates the pair).
pub fn setup_txs(
    dev: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
) -> Result<(Pool, Vec<ExecutableTx>)> {
    let me = dev.address();
    let (weth, factory, router, token) = (
        me.create(nonce),
        me.create(nonce + 1),
        me.create(nonce + 2),
        me.create(nonce + 3),
    );
    let create = |k: u64, code: Bytes| {
        sign(
            dev,
            chain_id,
            nonce + k,
            6_000_000,
            TxKind::Create,
            U256::ZERO,
            code,
        )
    };
    let call = |k: u64, to: Address, value: u128, input: Vec<u8>| {
        sign(
            dev,
            chain_id,
            nonce + k,
            5_000_000,
            TxKind::Call(to),
            U256::from(value),
            input.into(),
        )
    };
    let txs = vec![
        create(
            0,
            npm_initcode("@uniswap/v2-periphery/build/WETH9.json", vec![])?,
        )?,
        create(
            1,
            npm_initcode(
                "@uniswap/v2-core/build/UniswapV2Factory.json",
                me.abi_encode(),
            )?,
        )?,
        create(
            2,
            npm_initcode(
                "@uniswap/v2-periphery/build/UniswapV2Router02.json",
                (factory, weth).abi_encode_params(),
            )?,
        )?,
        create(3, token_initcode(U256::from(POOL_TOKENS))?)?,
        call(
            4,
            token,
            0,
            IUniswap::approveCall {
                spender: router,
                amount: U256::MAX,
            }
            .abi_encode(),
        )?,
        call(
            5,
            router,
            POOL_ETH,
            IUniswap::addLiquidityETHCall {
                token,
                amountTokenDesired: U256::from(POOL_TOKENS),
                amountTokenMin: U256::ZERO,
                amountETHMin: U256::ZERO,
                to: me,
                deadline: U256::from(DEADLINE),
            }
            .abi_encode(),
        )?,
    ];
    Ok((
        Pool {
            weth,
            router,
            token,
        },
        txs,
    ))
}

/// Seals [`setup_txs`] from dev account 0 (nonce 0) as one block on `store`.
pub fn setup(store: &Store, spec: &ChainSpec, chain_gas_limit: u64) -> Result<Pool> {
    let (pool, txs) = setup_txs(&dev::signer(0), spec.chain_id, 0)?;
    let count = txs.len();
    let gas_limit = block_gas_limit(&txs, chain_gas_limit);
    let (block, _) = seal_block(spec, store, txs, gas_limit)?;
    check_block(&block, count)?;
    Ok(pool)
}
