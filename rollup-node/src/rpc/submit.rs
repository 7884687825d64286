//! `eth_sendRawTransaction`: admission ([`crate::admission::admit`]: checks against the chain
//! and the latest state of the node's store) into the pool.

use std::sync::Arc;

use alloy_primitives::{Bytes, B256};
use jsonrpsee::{core::RpcResult, proc_macros::rpc};

use super::{error, RpcContext};
use crate::admission::{admit, AdmissionError};

/// Transaction submission.
#[rpc(server)]
pub trait EthSubmitApi {
    /// Submits a signed transaction. Runs on the RPC worker itself, not on a blocking thread:
    /// admission is ~50 µs of CPU (mostly sender recovery), below the cost of handing each
    /// call to another thread and back, which at high rates was a fifth of the node's CPU.
    #[method(name = "eth_sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
}

/// Handlers of [`EthSubmitApiServer`], over the node's store.
pub struct SubmitRpc {
    ctx: Arc<RpcContext>,
}

impl SubmitRpc {
    /// Handlers over `ctx`.
    pub fn new(ctx: Arc<RpcContext>) -> Self {
        Self { ctx }
    }
}

impl EthSubmitApiServer for SubmitRpc {
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        let ctx = &self.ctx;
        match admit(
            &raw,
            &ctx.chain,
            &ctx.provider,
            &ctx.pool,
            ctx.block_gas_limit,
        ) {
            Ok((hash, _, _)) => {
                ctx.events.publish_pending(hash);
                Ok(hash)
            }
            Err(AdmissionError::Store(e)) => Err(error::internal(e)),
            Err(e @ (AdmissionError::Decode(_) | AdmissionError::Oversized(_))) => {
                Err(error::invalid_params(e.to_string()))
            }
            Err(e) => Err(error::server(e.to_string())),
        }
    }
}
