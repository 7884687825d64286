//! `eth_call` and `eth_estimateGas`: a transaction executed on a copy of a block's state.
//!
//! The block environment: a request that names a past block (by number or hash) runs in that
//! block's environment. A request for the `pending` block, and an `eth_estimateGas` with no
//! block, `latest` or `pending`, runs on the head's state in the environment of the block a
//! transaction sent now lands in: the head's number + 1, the timestamp the sequencer would give
//! it now (`fraud_vm::execute::block_timestamp(head, now)`, at least the head's + 1: block
//! timestamps strictly increase), its base fee, gas limit and `prevrandao`
//! ([`crate::sequencer::next_attributes`], [`fraud_vm::execute::next_header`]). So an estimate
//! sees what the transaction will see: e.g. Uniswap V2's price accumulators are written when time
//! has passed since the pair's last update, which the next block always has. (`eth_call` with
//! no block or `latest` keeps the head's environment, as geth does.)

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_evm::{overrides::apply_state_overrides, rpc::TryIntoTxEnv, EvmEnv};
use alloy_primitives::Bytes;
use alloy_rpc_types_eth::{state::StateOverride, TransactionRequest};
use fraud_vm::{
    execute::{block_env, next_header, StateProvider},
    precompile::L2Precompiles,
};
use jsonrpsee::types::ErrorObjectOwned;
use revm::{
    context::{
        result::{EVMError, ExecutionResult, InvalidTransaction},
        CfgEnv, TxEnv,
    },
    database::CacheDB,
    database_interface::WrapDatabaseRef,
    handler::MainnetContext,
    ExecuteEvm, MainBuilder,
};

use super::{error, RpcContext};
use crate::{provider::ChainProvider, sequencer::next_attributes};

/// Runs `request` on the state of `block` and returns its output.
pub fn call<P: ChainProvider>(
    ctx: &RpcContext<P>,
    request: TransactionRequest,
    block: Option<BlockId>,
    overrides: Option<StateOverride>,
) -> Result<Bytes, ErrorObjectOwned> {
    let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
    let env = Env::of(block, pending);
    let (result, _) = run(ctx, request, env, overrides, None)?;
    match result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => Err(error::reverted(&output)),
        ExecutionResult::Halt { reason, .. } => {
            Err(error::server(format!("execution halted: {reason:?}")))
        }
    }
}

/// The smallest gas limit with which `request` succeeds on the state of `block`.
pub fn estimate_gas<P: ChainProvider>(
    ctx: &RpcContext<P>,
    request: TransactionRequest,
    block: Option<BlockId>,
    overrides: Option<StateOverride>,
) -> Result<u64, ErrorObjectOwned> {
    let next = matches!(
        block,
        None | Some(BlockId::Number(
            BlockNumberOrTag::Latest | BlockNumberOrTag::Pending
        ))
    );
    let env = Env::of(block, next);
    let (result, cap) = run(ctx, request.clone(), env, overrides.clone(), None)?;
    let used = match result {
        ExecutionResult::Success { .. } => result.tx_gas_used(),
        ExecutionResult::Revert { output, .. } => return Err(error::reverted(&output)),
        ExecutionResult::Halt { reason, .. } => {
            return Err(error::server(format!(
                "gas required exceeds allowance ({cap}): {reason:?}"
            )))
        }
    };
    // Binary search between what was used (refunds make the need larger than the use, and
    // the 63/64 rule makes it larger still) and the cap.
    let mut lo = used.saturating_sub(1);
    let mut hi = cap;
    let optimistic = (used + 2_300) * 64 / 63;
    if optimistic < hi {
        if succeeds(ctx, &request, env, &overrides, optimistic)? {
            hi = optimistic;
        } else {
            lo = optimistic;
        }
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if succeeds(ctx, &request, env, &overrides, mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// The state and block environment a request runs in (see the module docs).
#[derive(Clone, Copy, Debug)]
struct Env {
    /// The block whose state is read.
    block: Option<BlockId>,
    /// Whether the environment is the next block's rather than that block's own.
    next: bool,
}

impl Env {
    fn of(block: Option<BlockId>, next: bool) -> Self {
        Self { block, next }
    }
}

fn succeeds<P: ChainProvider>(
    ctx: &RpcContext<P>,
    request: &TransactionRequest,
    env: Env,
    overrides: &Option<StateOverride>,
    gas: u64,
) -> Result<bool, ErrorObjectOwned> {
    match run(ctx, request.clone(), env, overrides.clone(), Some(gas)) {
        Ok((result, _)) => Ok(result.is_success()),
        Err(e) if e.code() == error::SERVER => Ok(false),
        Err(e) => Err(e),
    }
}

/// Executes the request; returns the result and the gas limit used.
fn run<P: ChainProvider>(
    ctx: &RpcContext<P>,
    mut request: TransactionRequest,
    env: Env,
    overrides: Option<StateOverride>,
    gas: Option<u64>,
) -> Result<(ExecutionResult, u64), ErrorObjectOwned> {
    let (hash, header, state) = ctx.state(env.block)?;
    let mut cfg = CfgEnv::new_with_spec(ctx.chain.spec);
    cfg.chain_id = ctx.chain.chain_id;
    cfg.disable_nonce_check = true;
    let no_fee = request.gas_price.is_none()
        && request.max_fee_per_gas.is_none()
        && request.max_priority_fee_per_gas.is_none();
    if no_fee {
        cfg.disable_base_fee = true;
    }
    let mut env = if env.next {
        let attributes = next_attributes(&header, hash, ctx.block_gas_limit);
        block_env(&next_header(&ctx.chain, &header, hash, attributes))
    } else {
        block_env(&header)
    };
    env.gas_limit = env.gas_limit.max(ctx.config.gas_cap);
    let evm_env = EvmEnv {
        cfg_env: cfg.clone(),
        block_env: env.clone(),
    };
    let cap = request
        .gas
        .unwrap_or(ctx.config.gas_cap)
        .min(ctx.config.gas_cap);
    request.gas = Some(gas.unwrap_or(cap));
    let tx: TxEnv = request
        .try_into_tx_env(&evm_env)
        .map_err(|e| error::invalid_params(e.to_string()))?;
    let result = execute(&state, overrides, cfg, env, tx)?;
    Ok((result, cap))
}

fn execute<S: StateProvider>(
    state: &S,
    overrides: Option<StateOverride>,
    cfg: CfgEnv,
    block: revm::context::BlockEnv,
    tx: TxEnv,
) -> Result<ExecutionResult, ErrorObjectOwned> {
    let mut db = CacheDB::new(WrapDatabaseRef(state));
    if let Some(overrides) = overrides {
        apply_state_overrides(overrides, &mut db)
            .map_err(|e| error::invalid_params(format!("invalid state override: {e}")))?;
    }
    let spec = cfg.spec;
    let mut evm = MainnetContext::new(db, spec)
        .with_cfg(cfg)
        .with_block(block)
        .build_mainnet()
        .with_precompiles(L2Precompiles::new(spec));
    match evm.transact(tx) {
        Ok(r) => Ok(r.result),
        Err(EVMError::Transaction(InvalidTransaction::LackOfFundForMaxFee { fee, balance })) => {
            Err(error::server(format!(
                "insufficient funds for gas * price + value: balance {balance}, tx cost {fee}"
            )))
        }
        Err(EVMError::Transaction(e)) => Err(error::server(e.to_string())),
        Err(EVMError::Database(e)) => Err(error::internal(e)),
        Err(e) => Err(error::server(e.to_string())),
    }
}
