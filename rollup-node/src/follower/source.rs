//! The follower's reads of L1, behind the [`L1Source`] trait: [`RpcL1Source`] asks an L1 node
//! over JSON-RPC; tests script the answers.

use std::future::Future;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log},
    signers::local::PrivateKeySigner,
};
use alloy_sol_types::SolEvent;
use fraud_vm::{
    batch::BatchAppended,
    deposit::{DepositQueued, L1BlockInfo},
};

use crate::NodeError;

/// Why an L1 read failed. Every such failure is temporary for the follower: it retries.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The call failed: connection refused, timeout, an error answer.
    #[error("{call}: {reason}")]
    Rpc {
        /// The JSON-RPC method.
        call: &'static str,
        /// What the transport or the node said.
        reason: String,
    },
    /// L1 does not have what it was expected to have (a block at or below its head, the
    /// transaction a log names): a lagging or load-balanced node, retried.
    #[error("{0} not found")]
    Missing(String),
}

impl SourceError {
    fn rpc(call: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Rpc {
            call,
            reason: e.to_string(),
        }
    }
}

/// The reads of L1 the follower makes (one JSON-RPC call each for [`RpcL1Source`]).
pub trait L1Source: Send + Sync {
    /// The L1 chain id (`eth_chainId`).
    fn chain_id(&self) -> impl Future<Output = Result<u64, SourceError>> + Send;

    /// The number of the L1 head (`eth_blockNumber`).
    fn head(&self) -> impl Future<Output = Result<u64, SourceError>> + Send;

    /// The L1 block `number` (`eth_getBlockByNumber`); `None` if L1 has no such block.
    fn block(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<L1BlockInfo>, SourceError>> + Send;

    /// The `DepositQueued` and `BatchAppended` logs of `inbox` in L1 blocks `from..=to`, in
    /// L1 order (`eth_getLogs`).
    fn inbox_logs(
        &self,
        inbox: Address,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<Log>, SourceError>> + Send;

    /// The calldata of L1 transaction `hash` (`eth_getTransactionByHash`); `None` if L1 does
    /// not have it.
    fn transaction_input(
        &self,
        hash: B256,
    ) -> impl Future<Output = Result<Option<Bytes>, SourceError>> + Send;

    /// `inbox`'s batch accumulator after `n` batches (`Inbox.batchAcc(n)`) in the state of L1
    /// block `at`; `None` if it held fewer than `n` batches then.
    fn batch_acc(
        &self,
        inbox: Address,
        n: u64,
        at: u64,
    ) -> impl Future<Output = Result<Option<B256>, SourceError>> + Send;
}

alloy::sol! {
    /// The Inbox's batch accumulator views.
    #[sol(rpc)]
    interface IInboxBatches {
        function batchCount() external view returns (uint256);
        function batchAcc(uint256 n) external view returns (bytes32);
    }
}

/// An HTTP provider for the L1 at `rpc` (the `--l1.rpc` flag), signing with `key` if given.
pub fn l1_provider(rpc: &str, key: Option<&PrivateKeySigner>) -> Result<DynProvider, NodeError> {
    let url = rpc
        .parse()
        .map_err(|e| NodeError::Config(format!("--l1.rpc {rpc}: {e}")))?;
    Ok(match key {
        Some(key) => ProviderBuilder::new()
            .wallet(key.clone())
            .connect_http(url)
            .erased(),
        None => ProviderBuilder::new().connect_http(url).erased(),
    })
}

/// [`L1Source`] over an L1 node's JSON-RPC.
#[derive(Clone, Debug)]
pub struct RpcL1Source {
    provider: DynProvider,
}

impl RpcL1Source {
    /// Reads the L1 at `rpc` over HTTP.
    pub fn connect(rpc: &str) -> Result<Self, NodeError> {
        Ok(Self::new(l1_provider(rpc, None)?))
    }

    /// Reads L1 through `provider`.
    pub fn new(provider: DynProvider) -> Self {
        Self { provider }
    }
}

impl L1Source for RpcL1Source {
    async fn chain_id(&self) -> Result<u64, SourceError> {
        self.provider
            .get_chain_id()
            .await
            .map_err(|e| SourceError::rpc("eth_chainId", e))
    }

    async fn head(&self) -> Result<u64, SourceError> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| SourceError::rpc("eth_blockNumber", e))
    }

    async fn block(&self, number: u64) -> Result<Option<L1BlockInfo>, SourceError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(|e| SourceError::rpc("eth_getBlockByNumber", e))?;
        let Some(block) = block else {
            return Ok(None);
        };
        let info = L1BlockInfo::from_header(&block.header.inner);
        if (info.number, info.hash) != (number, block.header.hash) {
            // An origin's hash must be its header's: derivation proofs walk parent hashes.
            return Err(SourceError::rpc(
                "eth_getBlockByNumber",
                format!("block {number}'s hash is not keccak256 of its header"),
            ));
        }
        Ok(Some(info))
    }

    async fn inbox_logs(
        &self,
        inbox: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, SourceError> {
        let filter = Filter::new()
            .address(inbox)
            .event_signature(vec![
                DepositQueued::SIGNATURE_HASH,
                BatchAppended::SIGNATURE_HASH,
            ])
            .from_block(from)
            .to_block(to);
        self.provider
            .get_logs(&filter)
            .await
            .map_err(|e| SourceError::rpc("eth_getLogs", e))
    }

    async fn transaction_input(&self, hash: B256) -> Result<Option<Bytes>, SourceError> {
        let tx = self
            .provider
            .get_transaction_by_hash(hash)
            .await
            .map_err(|e| SourceError::rpc("eth_getTransactionByHash", e))?;
        Ok(tx.map(|tx| alloy::consensus::Transaction::input(&tx).clone()))
    }

    async fn batch_acc(
        &self,
        inbox: Address,
        n: u64,
        at: u64,
    ) -> Result<Option<B256>, SourceError> {
        let views = IInboxBatches::new(inbox, &self.provider);
        let at = alloy::eips::BlockId::number(at);
        let count = views
            .batchCount()
            .call()
            .block(at)
            .await
            .map_err(|e| SourceError::rpc("eth_call Inbox.batchCount", e))?;
        if U256::from(n) > count {
            return Ok(None);
        }
        views
            .batchAcc(U256::from(n))
            .call()
            .block(at)
            .await
            .map(Some)
            .map_err(|e| SourceError::rpc("eth_call Inbox.batchAcc", e))
    }
}
