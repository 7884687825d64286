//! `rollup_claim`: the claim on a block ([`crate::claim`]), what a challenger compares
//! against a proposer's and what a dispute over the chain bisects over.

use std::sync::Arc;

use alloy_primitives::U64;
use jsonrpsee::{core::RpcResult, proc_macros::rpc};

use super::{error, RpcContext};
use crate::{
    claim::{claim_of, BlockClaim},
    provider::ChainProvider,
};

/// The claim method.
#[rpc(server)]
pub trait ClaimApi {
    /// The claim on block `number`: its hash, state root, block-hash window root, derivation
    /// cursor and their hash. Null when the block is not stored or not yet in a batch this node
    /// derived (a replica) or posted (a sequencer's batcher); genesis's is every node's anchor.
    #[method(name = "rollup_claim")]
    async fn claim(&self, number: U64) -> RpcResult<Option<BlockClaim>>;
}

/// Handlers of [`ClaimApiServer`].
pub struct ClaimRpc<P> {
    ctx: Arc<RpcContext<P>>,
}

impl<P: ChainProvider> ClaimRpc<P> {
    /// Handlers over `ctx`.
    pub fn new(ctx: Arc<RpcContext<P>>) -> Self {
        Self { ctx }
    }
}

#[jsonrpsee::core::async_trait]
impl<P: ChainProvider> ClaimApiServer for ClaimRpc<P> {
    async fn claim(&self, number: U64) -> RpcResult<Option<BlockClaim>> {
        let ctx = self.ctx.clone();
        // Up to 256 header reads: off the async workers.
        tokio::task::spawn_blocking(move || claim_of(&ctx.provider, number.to::<u64>()))
            .await
            .map_err(error::internal)?
            .map_err(|e| error::server(e.to_string()))
    }
}
