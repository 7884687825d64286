//! `rollup_checkBlock`: check a block of this node with the fraud-proof step machine.
//!
//! Registered only with `--rpc.check-block` (see [`super::module`]); at most
//! [`super::RpcConfig::max_concurrent_checks`] run at once, and a call beyond that is answered
//! with a busy error ([`error::LIMIT_EXCEEDED`]) rather than queued.

use std::sync::Arc;

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};
use tokio::sync::Semaphore;

use super::{error, RpcContext};
use crate::{
    check::{check_block, CheckReport},
    provider::ChainProvider,
    NodeError,
};

/// Rollup-specific methods.
#[rpc(server)]
pub trait RollupApi {
    /// Replays block `number` with the step machine, proves and verifies every step with the
    /// reference verifier, and reports the step count, the steps per kind and the first
    /// mismatch (none for a correct block). CPU-heavy: a 30M-gas block takes seconds.
    #[method(name = "rollup_checkBlock")]
    async fn check_block(&self, number: U64) -> RpcResult<CheckReport>;
}

/// Handlers of [`RollupApiServer`].
pub struct RollupRpc<P> {
    ctx: Arc<RpcContext<P>>,
    /// One permit per check allowed to run at once.
    pub(super) permits: Arc<Semaphore>,
}

impl<P: ChainProvider> RollupRpc<P> {
    /// Handlers over `ctx`, running at most `ctx.config.max_concurrent_checks` checks at once.
    pub fn new(ctx: Arc<RpcContext<P>>) -> Self {
        let permits = Arc::new(Semaphore::new(ctx.config.max_concurrent_checks.max(1)));
        Self { ctx, permits }
    }
}

#[jsonrpsee::core::async_trait]
impl<P: ChainProvider> RollupApiServer for RollupRpc<P> {
    async fn check_block(&self, number: U64) -> RpcResult<CheckReport> {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return Err(error::limit_exceeded(format!(
                "busy: {} block check(s) already running, retry later",
                self.ctx.config.max_concurrent_checks.max(1)
            )));
        };
        let ctx = self.ctx.clone();
        let number = number.to::<u64>();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            check_block(&ctx.provider, &ctx.chain, number)
        })
        .await
        .map_err(error::internal)?;
        outcome.map_err(|e| match e {
            NodeError::GenesisHasNoSteps | NodeError::MissingBlock(_) => {
                error::invalid_params(e.to_string())
            }
            other => error::server(other.to_string()),
        })
    }
}
