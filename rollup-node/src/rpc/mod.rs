//! The Ethereum JSON-RPC server (HTTP and WebSocket, JSON-RPC 2.0 batches).
//!
//! Handlers read through [`RpcContext`], which resolves block tags and hands out state views
//! over a chain provider ([`crate::provider`]: the node's store, or an in-memory chain in
//! tests); the sequencer never waits on RPC. [`module`] builds the methods over any provider;
//! [`start`] serves them, with `eth_sendRawTransaction` ([`submit`]), over the node's store. Limits (request and response size, batch length,
//! connections, log ranges) are configurable and answered with proper JSON-RPC errors.
//!
//! ## Block tags
//! `latest`, `pending`, `safe` and `finalized` all name the head block for reads (the sequencer's
//! blocks are final once written; L1 finality arrives with derivation). `pending` additionally
//! counts pool transactions in `eth_getTransactionCount`, and `eth_call` on `pending` (and
//! `eth_estimateGas` on `pending`, `latest` or no block) runs in the environment of the block a
//! transaction sent now lands in: the head's number + 1, the timestamp the sequencer would give
//! it (block timestamps strictly increase: `fraud_vm::execute::block_timestamp`) and its base
//! fee (see the `call` module). `earliest` is block 0.
//!
//! ## Requests and subscriptions
//! Every request that is not a notification gets a JSON-RPC response object; a malformed one
//! (a duplicate key, an `id` or `params` of the wrong kind, JSON that is not a request) gets
//! `-32600 Invalid request`, one per element in a batch, and a request made only of
//! notifications gets HTTP 204 ([`requests`], which also says why jsonrpsee alone answered
//! `null`). Over WebSocket, jsonrpsee reads a malformed request that carries an id as a
//! notification and does not answer it; the HTTP layer cannot see WebSocket messages.
//!
//! `eth_subscribe` (`newHeads`, `logs`, `newPendingTransactions`) answers ids in Ethereum's
//! format, `0x`-prefixed hex strings ([`EthSubscriptionIds`]), and notifications carry them.
//!
//! ## `eth_getProof`
//! The state is one binary sparse Merkle tree (see `fraud_vm::smt`), so proofs are not MPT node
//! lists. The response keeps the EIP-1186 shape with these meanings:
//! - `accountProof`: the sibling hashes along the account key's path, root first (32 bytes each),
//!   followed by one 64-byte element `key ‖ value` when the path ends at a leaf (for a proof of
//!   absence that leaf belongs to another key), and for a membership proof one 65-byte element:
//!   the deepest sibling's node encoding (`fraud_vm::smt::Node::encode`), which a verifier needs
//!   to recompute the root after deleting the key. The element lengths (32, 64, 65) tell them
//!   apart;
//! - `storageHash`: the state root the proofs are against (there is no per-account storage trie);
//! - `storageProof[i].proof`: the same encoding for the slot's key in the same tree.
//!
//! Keys and values are laid out as `fraud_vm::state` documents.
//!
//! ## `rollup_checkBlock`
//! Served only with `--rpc.check-block` ([`RpcConfig::check_block`]): each call replays and
//! proves a whole block, seconds of CPU. At most [`RpcConfig::max_concurrent_checks`] run at
//! once; a call beyond that is answered at once with a busy error ([`error::LIMIT_EXCEEDED`])
//! instead of queueing. Without the flag the method does not exist (-32601).

mod call;
pub mod check;
pub mod claim;
mod convert;
pub mod error;
mod eth;
mod filters;
pub mod requests;
pub mod submit;
#[cfg(test)]
mod tests;

use std::{net::SocketAddr, sync::Arc};

use alloy_consensus::Header;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::B256;
use fraud_vm::chain::ChainSpec;
use jsonrpsee::{
    server::{BatchRequestConfig, IdProvider, Server, ServerConfig, ServerHandle},
    types::{ErrorObjectOwned, SubscriptionId},
    RpcModule,
};
use tracing::info;

pub use check::RollupApiServer;
pub use claim::ClaimApiServer;
pub use eth::EthApiServer;
pub use submit::EthSubmitApiServer;

use crate::{
    events::ChainEvents,
    mempool::Mempool,
    provider::ChainProvider,
    store::{Store, StoreError, StoredBlock},
    NodeError,
};

/// Server limits and addresses.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// HTTP (and WebSocket) listen address.
    pub http: SocketAddr,
    /// Extra WebSocket listen address (also serves HTTP).
    pub ws: Option<SocketAddr>,
    /// Largest request body, bytes.
    pub max_request_bytes: u32,
    /// Largest response body, bytes.
    pub max_response_bytes: u32,
    /// Most calls in one JSON-RPC batch.
    pub max_batch_len: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Widest `eth_getLogs` block range.
    pub max_logs_range: u64,
    /// Most logs returned by one `eth_getLogs`.
    pub max_logs: usize,
    /// Gas cap for `eth_call` and `eth_estimateGas`.
    pub gas_cap: u64,
    /// Serve `rollup_checkBlock` (`--rpc.check-block`; off by default: each call takes
    /// seconds of CPU).
    pub check_block: bool,
    /// Most `rollup_checkBlock` calls running at once (0 counts as 1); more are answered
    /// "busy".
    pub max_concurrent_checks: usize,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8545)),
            ws: Some(SocketAddr::from(([127, 0, 0, 1], 8546))),
            max_request_bytes: 10 * 1024 * 1024,
            max_response_bytes: 100 * 1024 * 1024,
            max_batch_len: 1000,
            max_connections: 500,
            max_logs_range: 10_000,
            max_logs: 20_000,
            gas_cap: 50_000_000,
            check_block: false,
            max_concurrent_checks: 1,
        }
    }
}

/// What the handlers read from: a chain provider `P` (the node's [`Store`] unless a test
/// gives another), the pool and the event streams.
pub struct RpcContext<P = Store> {
    /// Chain parameters.
    pub chain: ChainSpec,
    /// The chain: blocks, receipts and state.
    pub provider: P,
    /// The pool.
    pub pool: Arc<Mempool>,
    /// New blocks and pending transactions.
    pub events: ChainEvents,
    /// Limits.
    pub config: RpcConfig,
    /// Gas limit of the blocks the sequencer builds.
    pub block_gas_limit: u64,
    filters: filters::Filters,
}

impl<P: ChainProvider> RpcContext<P> {
    /// A context over the node's parts.
    pub fn new(
        chain: ChainSpec,
        provider: P,
        pool: Arc<Mempool>,
        events: ChainEvents,
        config: RpcConfig,
        block_gas_limit: u64,
    ) -> Self {
        Self {
            chain,
            provider,
            pool,
            events,
            config,
            block_gas_limit,
            filters: filters::Filters::default(),
        }
    }

    fn head(&self) -> Result<(B256, Header), ErrorObjectOwned> {
        self.provider
            .head()
            .map(|h| (h.hash, h.header))
            .ok_or_else(|| error::internal("no genesis"))
    }

    /// The number a tag resolves to (None: a number above the head).
    fn resolve_number(&self, tag: BlockNumberOrTag) -> Result<Option<u64>, ErrorObjectOwned> {
        let head = self.provider.head_number();
        Ok(match tag {
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            _ => Some(head),
        })
    }

    fn resolve_id(&self, id: BlockId) -> Result<Option<u64>, ErrorObjectOwned> {
        match id {
            BlockId::Number(tag) => self.resolve_number(tag),
            BlockId::Hash(h) => self
                .provider
                .number_by_hash(&h.block_hash)
                .map_err(error::internal),
        }
    }

    fn stored_block(&self, number: u64) -> Result<Option<StoredBlock>, ErrorObjectOwned> {
        self.provider
            .block_by_number(number)
            .map_err(error::internal)
    }

    /// The state a query names, with its block's hash and header; or "header not found", or
    /// the pruned-state error when the node no longer keeps that block's state.
    fn state(&self, id: Option<BlockId>) -> Result<(B256, Header, P::State<'_>), ErrorObjectOwned> {
        let number = self
            .resolve_id(id.unwrap_or_default())?
            .ok_or_else(error::unknown_block)?;
        let (hash, header) = self
            .provider
            .header_by_number(number)
            .map_err(error::internal)?
            .ok_or_else(error::unknown_block)?;
        let state = self
            .provider
            .state_at(number, header.state_root)
            .map_err(|e| match e {
                StoreError::Pruned { .. } => error::server(e.to_string()),
                e => error::internal(e),
            })?;
        Ok((hash, header, state))
    }
}

/// The JSON-RPC methods over `ctx`'s provider: `eth_`, `net_`, `web3_` reads and
/// subscriptions, `rollup_claim`, and `rollup_checkBlock` if [`RpcConfig::check_block`]. Transactions are
/// submitted through [`submit`], which the node adds in [`start`].
pub fn module<P: ChainProvider>(ctx: Arc<RpcContext<P>>) -> Result<RpcModule<()>, NodeError> {
    let mut module = RpcModule::new(());
    module.merge(eth::EthRpc::new(ctx.clone()).into_rpc())?;
    module.merge(claim::ClaimRpc::new(ctx.clone()).into_rpc())?;
    if ctx.config.check_block {
        module.merge(check::RollupRpc::new(ctx.clone()).into_rpc())?;
    }
    Ok(module)
}

/// Starts the servers over the node's store; they run until their handles are stopped.
pub async fn start(ctx: Arc<RpcContext>) -> Result<Vec<ServerHandle>, NodeError> {
    let mut module = module(ctx.clone())?;
    module.merge(submit::SubmitRpc::new(ctx.clone()).into_rpc())?;
    let mut handles = Vec::new();
    let mut addrs = vec![ctx.config.http];
    if let Some(ws) = ctx.config.ws {
        if ws != ctx.config.http {
            addrs.push(ws);
        }
    }
    for addr in addrs {
        let config = ServerConfig::builder()
            .max_request_body_size(ctx.config.max_request_bytes)
            .max_response_body_size(ctx.config.max_response_bytes)
            .max_connections(ctx.config.max_connections)
            .set_batch_request_config(BatchRequestConfig::Limit(ctx.config.max_batch_len))
            .set_id_provider(EthSubscriptionIds)
            .build();
        let server = Server::builder()
            .set_config(config)
            .set_http_middleware(tower::ServiceBuilder::new().layer(
                requests::RequestShapeLayer::new(
                    ctx.config.max_request_bytes,
                    ctx.config.max_batch_len,
                ),
            ))
            .build(addr)
            .await
            .map_err(|source| NodeError::RpcBind { addr, source })?;
        let local = server
            .local_addr()
            .map_err(|source| NodeError::RpcBind { addr, source })?;
        info!(%local, "JSON-RPC listening (HTTP and WebSocket)");
        handles.push(server.start(module.clone()));
    }
    Ok(handles)
}

/// Subscription ids in Ethereum's format, as geth, reth and anvil give them: a random 128-bit
/// number as a `0x`-prefixed hex quantity (no leading zeros), a JSON string. Clients key their
/// subscriptions by this string (viem ignored notifications keyed by jsonrpsee's default JSON
/// numbers), and alloy, which reads the id as a number, sends the same string back to
/// `eth_unsubscribe`.
#[derive(Clone, Copy, Debug)]
pub struct EthSubscriptionIds;

impl IdProvider for EthSubscriptionIds {
    fn next_id(&self) -> SubscriptionId<'static> {
        SubscriptionId::Str(format!("{:#x}", rand::random::<u128>()).into())
    }
}
