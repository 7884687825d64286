//! The `eth_`, `net_` and `web3_` methods.

use std::sync::Arc;

use alloy_consensus::Transaction as _;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, Bytes, B256, U256, U64};
use alloy_rpc_types_eth::{
    state::StateOverride, EIP1186AccountProofResponse, EIP1186StorageProof, FeeHistory, Filter,
    FilterChanges, Log, TransactionRequest,
};
use alloy_serde::JsonStorageKey;
use fraud_vm::{
    smt::{self, Proof},
    state::{account_key, storage_key},
};
use jsonrpsee::{
    core::{async_trait, RpcResult, SubscriptionResult},
    proc_macros::rpc,
    types::ErrorObjectOwned,
    PendingSubscriptionSink, SubscriptionMessage,
};
use op_alloy_consensus::OpReceiptEnvelope;
use serde_json::Value;

use super::{
    call,
    convert::{self, RpcBlock, RpcReceipt, RpcTransaction},
    error, RpcContext,
};
use crate::{
    provider::{ChainProvider, StateView},
    store::StoredBlock,
};

/// The Ethereum JSON-RPC API served by the node.
#[rpc(server)]
pub trait EthApi {
    /// Client name and version.
    #[method(name = "web3_clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
    /// The chain id as a decimal string.
    #[method(name = "net_version")]
    fn net_version(&self) -> RpcResult<String>;
    /// Always true.
    #[method(name = "net_listening")]
    fn net_listening(&self) -> RpcResult<bool>;
    /// EIP-155 chain id.
    #[method(name = "eth_chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    /// Head block number.
    #[method(name = "eth_blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    /// Always false: the sequencer is the chain's source.
    #[method(name = "eth_syncing")]
    fn syncing(&self) -> RpcResult<bool>;
    /// The node manages no keys.
    #[method(name = "eth_accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// Block by number or tag.
    #[method(name = "eth_getBlockByNumber", blocking)]
    fn block_by_number(&self, tag: BlockNumberOrTag, full: bool) -> RpcResult<Option<RpcBlock>>;
    /// Block by hash.
    #[method(name = "eth_getBlockByHash", blocking)]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>>;
    /// Transaction count of a block by number.
    #[method(name = "eth_getBlockTransactionCountByNumber", blocking)]
    fn tx_count_by_number(&self, tag: BlockNumberOrTag) -> RpcResult<Option<U64>>;
    /// Transaction count of a block by hash.
    #[method(name = "eth_getBlockTransactionCountByHash", blocking)]
    fn tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// A mined or pooled transaction.
    #[method(name = "eth_getTransactionByHash", blocking)]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>>;
    /// A transaction by block number and index.
    #[method(name = "eth_getTransactionByBlockNumberAndIndex", blocking)]
    fn transaction_by_number_and_index(
        &self,
        tag: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<RpcTransaction>>;
    /// A transaction by block hash and index.
    #[method(name = "eth_getTransactionByBlockHashAndIndex", blocking)]
    fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<RpcTransaction>>;
    /// The receipt of a mined transaction.
    #[method(name = "eth_getTransactionReceipt", blocking)]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>>;
    /// All receipts of a block.
    #[method(name = "eth_getBlockReceipts", blocking)]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>>;
    /// Executes a call without creating a transaction.
    #[method(name = "eth_call", blocking)]
    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes>;
    /// The least gas limit with which the transaction succeeds.
    #[method(name = "eth_estimateGas", blocking)]
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;
    /// A legacy gas price that gets a transaction into the next block.
    #[method(name = "eth_gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;
    /// A priority fee that gets a transaction into the next block.
    #[method(name = "eth_maxPriorityFeePerGas")]
    fn max_priority_fee(&self) -> RpcResult<U256>;
    /// Base fees and gas use of recent blocks.
    #[method(name = "eth_feeHistory", blocking)]
    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
    /// Balance at a block.
    #[method(name = "eth_getBalance", blocking)]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Code at a block.
    #[method(name = "eth_getCode", blocking)]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// A storage slot at a block.
    #[method(name = "eth_getStorageAt", blocking)]
    fn storage_at(
        &self,
        address: Address,
        slot: JsonStorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;
    /// Nonce at a block (`pending` includes pooled transactions).
    #[method(name = "eth_getTransactionCount", blocking)]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// Logs matching a filter.
    #[method(name = "eth_getLogs", blocking)]
    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
    /// Installs a log filter.
    #[method(name = "eth_newFilter")]
    fn new_filter(&self, filter: Filter) -> RpcResult<U256>;
    /// Installs a new-block filter.
    #[method(name = "eth_newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U256>;
    /// Installs a pending-transaction filter.
    #[method(name = "eth_newPendingTransactionFilter")]
    fn new_pending_filter(&self) -> RpcResult<U256>;
    /// What a filter saw since the last poll.
    #[method(name = "eth_getFilterChanges", blocking)]
    fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges<RpcTransaction>>;
    /// All logs of a log filter.
    #[method(name = "eth_getFilterLogs", blocking)]
    fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>>;
    /// Removes a filter.
    #[method(name = "eth_uninstallFilter")]
    fn uninstall_filter(&self, id: U256) -> RpcResult<bool>;
    /// State-tree proofs of an account and storage slots (see the module docs for the format).
    #[method(name = "eth_getProof", blocking)]
    fn proof(
        &self,
        address: Address,
        slots: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;
    /// `newHeads`, `logs` (with an optional filter) or `newPendingTransactions`.
    #[subscription(name = "eth_subscribe" => "eth_subscription", unsubscribe = "eth_unsubscribe", item = Value)]
    async fn subscribe(&self, kind: String, params: Option<Value>) -> SubscriptionResult;
}

/// The handlers, over any chain provider.
pub struct EthRpc<P> {
    ctx: Arc<RpcContext<P>>,
}

impl<P: ChainProvider> EthRpc<P> {
    /// Handlers over `ctx`.
    pub fn new(ctx: Arc<RpcContext<P>>) -> Self {
        Self { ctx }
    }

    fn block_at(&self, number: Option<u64>, full: bool) -> RpcResult<Option<RpcBlock>> {
        let Some(number) = number else {
            return Ok(None);
        };
        let Some(block) = self.ctx.stored_block(number)? else {
            return Ok(None);
        };
        let receipts = if full {
            self.deposit_receipts(&block)?
        } else {
            Vec::new()
        };
        Ok(Some(convert::block(&block, full, &receipts)))
    }

    /// The receipts of `block` if it holds deposits (their RPC form needs the deposit nonce),
    /// else nothing.
    fn deposit_receipts(&self, block: &StoredBlock) -> RpcResult<Vec<OpReceiptEnvelope>> {
        if !block.transactions.iter().any(|t| t.is_deposit()) {
            return Ok(Vec::new());
        }
        Ok(self
            .ctx
            .provider
            .receipts(block.header.number)
            .map_err(error::internal)?
            .unwrap_or_default())
    }

    fn tx_count(&self, number: Option<u64>) -> RpcResult<Option<U64>> {
        let Some(number) = number else {
            return Ok(None);
        };
        Ok(self
            .ctx
            .stored_block(number)?
            .map(|b| U64::from(b.transactions.len())))
    }

    fn tx_at(&self, number: Option<u64>, index: U64) -> RpcResult<Option<RpcTransaction>> {
        let Some(number) = number else {
            return Ok(None);
        };
        let Some(block) = self.ctx.stored_block(number)? else {
            return Ok(None);
        };
        let index = index.to::<usize>();
        let receipts = match block.transactions.get(index) {
            Some(tx) if tx.is_deposit() => self.deposit_receipts(&block)?,
            _ => Vec::new(),
        };
        Ok(convert::transaction(&block, index, receipts.get(index)))
    }

    fn block_receipts_at(&self, number: u64) -> RpcResult<Option<Vec<RpcReceipt>>> {
        let Some(block) = self.ctx.stored_block(number)? else {
            return Ok(None);
        };
        let receipts = self
            .ctx
            .provider
            .receipts(number)
            .map_err(error::internal)?
            .unwrap_or_default();
        let l1_basefee = self
            .ctx
            .provider
            .l1_basefee_at(number)
            .map_err(error::internal)?;
        Ok(Some(convert::receipts(&block, &receipts, l1_basefee)))
    }

    fn suggested_tip(&self) -> u128 {
        // The sequencer orders by tip but includes everything that pays the base fee while
        // blocks have room, so a small tip suffices.
        1_000_000
    }
}

#[async_trait]
impl<P: ChainProvider> EthApiServer for EthRpc<P> {
    fn client_version(&self) -> RpcResult<String> {
        Ok(format!("rollup-node/v{}", env!("CARGO_PKG_VERSION")))
    }

    fn net_version(&self) -> RpcResult<String> {
        Ok(self.ctx.chain.chain_id.to_string())
    }

    fn net_listening(&self) -> RpcResult<bool> {
        Ok(true)
    }

    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.ctx.chain.chain_id))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.ctx.provider.head_number()))
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }

    fn block_by_number(&self, tag: BlockNumberOrTag, full: bool) -> RpcResult<Option<RpcBlock>> {
        self.block_at(self.ctx.resolve_number(tag)?, full)
    }

    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<RpcBlock>> {
        let number = self
            .ctx
            .provider
            .number_by_hash(&hash)
            .map_err(error::internal)?;
        self.block_at(number, full)
    }

    fn tx_count_by_number(&self, tag: BlockNumberOrTag) -> RpcResult<Option<U64>> {
        self.tx_count(self.ctx.resolve_number(tag)?)
    }

    fn tx_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        let number = self
            .ctx
            .provider
            .number_by_hash(&hash)
            .map_err(error::internal)?;
        self.tx_count(number)
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<RpcTransaction>> {
        if let Some(p) = self.pending_only(&hash)? {
            return Ok(Some(convert::pending_transaction(&p.tx, p.sender)));
        }
        if let Some((number, index)) = self
            .ctx
            .provider
            .tx_location(&hash)
            .map_err(error::internal)?
        {
            return self.tx_at(Some(number), U64::from(index));
        }
        Ok(self
            .ctx
            .pool
            .get(&hash)
            .map(|p| convert::pending_transaction(&p.tx, p.sender)))
    }

    fn transaction_by_number_and_index(
        &self,
        tag: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<RpcTransaction>> {
        self.tx_at(self.ctx.resolve_number(tag)?, index)
    }

    fn transaction_by_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<RpcTransaction>> {
        let number = self
            .ctx
            .provider
            .number_by_hash(&hash)
            .map_err(error::internal)?;
        self.tx_at(number, index)
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<RpcReceipt>> {
        if self.pending_only(&hash)?.is_some() {
            return Ok(None);
        }
        let Some((number, index)) = self
            .ctx
            .provider
            .tx_location(&hash)
            .map_err(error::internal)?
        else {
            return Ok(None);
        };
        Ok(self
            .block_receipts_at(number)?
            .and_then(|mut r| (index < r.len()).then(|| r.swap_remove(index))))
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<RpcReceipt>>> {
        match self.ctx.resolve_id(block)? {
            Some(number) => self.block_receipts_at(number),
            None => Ok(None),
        }
    }

    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes> {
        call::call(&self.ctx, request, block, overrides)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        call::estimate_gas(&self.ctx, request, block, overrides).map(U64::from)
    }

    fn gas_price(&self) -> RpcResult<U256> {
        let (_, head) = self.ctx.head()?;
        let base = self.ctx.chain.next_base_fee(&head) as u128;
        Ok(U256::from(base + self.suggested_tip()))
    }

    fn max_priority_fee(&self) -> RpcResult<U256> {
        Ok(U256::from(self.suggested_tip()))
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let count = block_count.to::<u64>().min(1024);
        let newest = self
            .ctx
            .resolve_number(newest)?
            .ok_or_else(error::unknown_block)?;
        if let Some(p) = &reward_percentiles {
            if p.iter().any(|x| !(0.0..=100.0).contains(x)) || p.windows(2).any(|w| w[0] > w[1]) {
                return Err(error::invalid_params(
                    "reward percentiles must be increasing values in [0, 100]",
                ));
            }
        }
        let oldest = (newest + 1).saturating_sub(count);
        let mut history = FeeHistory {
            oldest_block: oldest,
            ..Default::default()
        };
        let mut last = None;
        for number in oldest..=newest {
            if count == 0 {
                break;
            }
            let Some((_, header)) = self
                .ctx
                .provider
                .header_by_number(number)
                .map_err(error::internal)?
            else {
                break;
            };
            history
                .base_fee_per_gas
                .push(header.base_fee_per_gas.unwrap_or_default() as u128);
            history.base_fee_per_blob_gas.push(0);
            history.blob_gas_used_ratio.push(0.0);
            history.gas_used_ratio.push(if header.gas_limit == 0 {
                0.0
            } else {
                header.gas_used as f64 / header.gas_limit as f64
            });
            if let Some(p) = &reward_percentiles {
                let rewards = self.block_rewards(number, &header, p)?;
                history.reward.get_or_insert_with(Vec::new).push(rewards);
            }
            last = Some(header);
        }
        if let Some(header) = last {
            history
                .base_fee_per_gas
                .push(self.ctx.chain.next_base_fee(&header) as u128);
            history.base_fee_per_blob_gas.push(0);
        }
        Ok(history)
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        Ok(self
            .account_at(address, block)?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let Some(account) = self.account_at(address, block)? else {
            return Ok(Bytes::new());
        };
        Ok(self
            .ctx
            .provider
            .code(&account.code_hash)
            .map_err(error::internal)?
            .unwrap_or_default())
    }

    fn storage_at(
        &self,
        address: Address,
        slot: JsonStorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        let (_, _, state) = self.ctx.state(block)?;
        let value = state
            .storage(&address, &slot.as_b256().into())
            .map_err(error::internal)?;
        Ok(B256::from(value))
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let nonce = self
            .account_at(address, block)?
            .map(|a| a.nonce)
            .unwrap_or_default();
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(U64::from(self.ctx.pool.pending_nonce(&address, nonce)));
        }
        Ok(U64::from(nonce))
    }

    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        self.ctx.logs(&filter)
    }

    fn new_filter(&self, filter: Filter) -> RpcResult<U256> {
        Ok(self.ctx.new_log_filter(filter))
    }

    fn new_block_filter(&self) -> RpcResult<U256> {
        Ok(self.ctx.new_block_filter())
    }

    fn new_pending_filter(&self) -> RpcResult<U256> {
        Ok(self.ctx.new_pending_filter())
    }

    fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges<RpcTransaction>> {
        self.ctx.filter_changes(id)
    }

    fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>> {
        self.ctx.filter_logs(id)
    }

    fn uninstall_filter(&self, id: U256) -> RpcResult<bool> {
        Ok(self.ctx.uninstall_filter(id))
    }

    fn proof(
        &self,
        address: Address,
        slots: Vec<JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        if slots.len() > 1024 {
            return Err(error::invalid_params(
                "at most 1024 storage keys per request",
            ));
        }
        let (_, header, state) = self.ctx.state(block)?;
        let root = header.state_root;
        let account = state
            .account(&address)
            .map_err(error::internal)?
            .unwrap_or_default();
        let account_proof =
            smt::prove(&state, root, &account_key(&address)).map_err(error::internal)?;
        let mut storage_proof = Vec::with_capacity(slots.len());
        for slot in slots {
            let index: U256 = slot.as_b256().into();
            let value = state.storage(&address, &index).map_err(error::internal)?;
            let proof = smt::prove(&state, root, &storage_key(&address, &index))
                .map_err(error::internal)?;
            storage_proof.push(EIP1186StorageProof {
                key: slot,
                value,
                proof: proof_nodes(&proof),
            });
        }
        Ok(EIP1186AccountProofResponse {
            address,
            balance: account.balance,
            code_hash: if account.code_hash.is_zero() {
                alloy_primitives::KECCAK256_EMPTY
            } else {
                account.code_hash
            },
            nonce: account.nonce,
            storage_hash: root,
            account_proof: proof_nodes(&account_proof),
            storage_proof,
        })
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        params: Option<Value>,
    ) -> SubscriptionResult {
        let ctx = self.ctx.clone();
        match kind.as_str() {
            "newHeads" => {
                let sink = pending.accept().await?;
                let mut rx = ctx.events.blocks();
                tokio::spawn(async move {
                    loop {
                        let block = match rx.recv().await {
                            Ok(b) => b,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        };
                        let header = alloy_rpc_types_eth::Header {
                            hash: block.hash,
                            inner: block.header.clone(),
                            total_difficulty: Some(U256::ZERO),
                            size: None,
                        };
                        let Ok(msg) =
                            serde_json::value::to_raw_value(&header).map(SubscriptionMessage::from)
                        else {
                            break;
                        };
                        if sink.send(msg).await.is_err() {
                            break;
                        }
                    }
                });
            }
            "logs" => {
                let filter: Filter = match params {
                    None => Filter::default(),
                    Some(v) => match serde_json::from_value(v) {
                        Ok(f) => f,
                        Err(e) => {
                            pending
                                .reject(error::invalid_params(format!("invalid filter: {e}")))
                                .await;
                            return Ok(());
                        }
                    },
                };
                let sink = pending.accept().await?;
                let mut rx = ctx.events.blocks();
                tokio::spawn(async move {
                    loop {
                        let block = match rx.recv().await {
                            Ok(b) => b,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        };
                        for log in block.logs.iter().filter(|l| filter.matches(&l.inner)) {
                            let Ok(msg) =
                                serde_json::value::to_raw_value(log).map(SubscriptionMessage::from)
                            else {
                                return;
                            };
                            if sink.send(msg).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
            "newPendingTransactions" => {
                let sink = pending.accept().await?;
                let mut rx = ctx.events.pending();
                tokio::spawn(async move {
                    loop {
                        let hash = match rx.recv().await {
                            Ok(h) => h,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        };
                        let Ok(msg) =
                            serde_json::value::to_raw_value(&hash).map(SubscriptionMessage::from)
                        else {
                            break;
                        };
                        if sink.send(msg).await.is_err() {
                            break;
                        }
                    }
                });
            }
            other => {
                pending
                    .reject(error::invalid_params(format!(
                        "unsupported subscription {other:?}: use newHeads, logs or newPendingTransactions"
                    )))
                    .await;
            }
        }
        Ok(())
    }
}

impl<P: ChainProvider> EthRpc<P> {
    /// The pooled transaction `hash` if no committed block can hold it: its nonce is at or
    /// above its sender's at the head (the pool keeps included transactions until their block
    /// is on disk). Clients poll pending transactions' receipts; this answers them without
    /// probing the transaction index, whose misses read every sealed run.
    fn pending_only(&self, hash: &B256) -> RpcResult<Option<crate::mempool::PooledTx>> {
        let Some(pooled) = self.ctx.pool.get(hash) else {
            return Ok(None);
        };
        let nonce = self.account_at(pooled.sender, None)?.map_or(0, |a| a.nonce);
        Ok((pooled.nonce >= nonce).then_some(pooled))
    }

    fn account_at(
        &self,
        address: Address,
        block: Option<BlockId>,
    ) -> RpcResult<Option<fraud_vm::state::AccountLeaf>> {
        let (_, _, state) = self.ctx.state(block)?;
        state.account(&address).map_err(error::internal)
    }

    fn block_rewards(
        &self,
        number: u64,
        header: &alloy_consensus::Header,
        percentiles: &[f64],
    ) -> Result<Vec<u128>, ErrorObjectOwned> {
        let Some(block) = self.ctx.stored_block(number)? else {
            return Ok(vec![0; percentiles.len()]);
        };
        let receipts = self
            .ctx
            .provider
            .receipts(number)
            .map_err(error::internal)?
            .unwrap_or_default();
        let base = header.base_fee_per_gas.unwrap_or_default();
        let mut prev = 0u64;
        let mut tips: Vec<(u128, u64)> = block
            .transactions
            .iter()
            .zip(receipts.iter())
            .map(|(tx, r)| {
                let cum = alloy_consensus::TxReceipt::cumulative_gas_used(r);
                let used = cum - prev;
                prev = cum;
                (tx.effective_tip_per_gas(base).unwrap_or_default(), used)
            })
            .collect();
        if tips.is_empty() {
            return Ok(vec![0; percentiles.len()]);
        }
        tips.sort_unstable();
        let total: u64 = tips.iter().map(|t| t.1).sum();
        Ok(percentiles
            .iter()
            .map(|p| {
                let threshold = (total as f64 * p / 100.0) as u64;
                let mut acc = 0u64;
                for (tip, used) in &tips {
                    acc += used;
                    if acc >= threshold {
                        return *tip;
                    }
                }
                tips.last().map(|t| t.0).unwrap_or_default()
            })
            .collect())
    }
}

/// The `accountProof` / `storageProof.proof` encoding (see the module docs of `rpc`):
/// [`Proof::to_nodes`].
fn proof_nodes(proof: &Proof) -> Vec<Bytes> {
    proof.to_nodes().into_iter().map(Bytes::from).collect()
}
