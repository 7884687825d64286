//! `rollup_checkBlock`: check a block of this node with the fraud-proof step machine.

use std::sync::Arc;

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};

use super::{error, RpcContext};
use crate::{
    check::{check_block, CheckReport},
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
pub struct RollupRpc {
    ctx: Arc<RpcContext>,
}

impl RollupRpc {
    /// Handlers over `ctx`.
    pub fn new(ctx: Arc<RpcContext>) -> Self {
        Self { ctx }
    }
}

#[jsonrpsee::core::async_trait]
impl RollupApiServer for RollupRpc {
    async fn check_block(&self, number: U64) -> RpcResult<CheckReport> {
        let ctx = self.ctx.clone();
        let number = number.to::<u64>();
        let outcome =
            tokio::task::spawn_blocking(move || check_block(&ctx.store, &ctx.chain, number))
                .await
                .map_err(error::internal)?;
        outcome.map_err(|e| match e {
            NodeError::Config(msg) => error::invalid_params(msg),
            other => error::server(other.to_string()),
        })
    }
}
