//! The deposit client: send ETH and ERC20 deposits on L1, find the L2 transaction a deposit
//! becomes, and wait for it.
//!
//! An L1 deposit emits the Inbox's `DepositQueued` event; its fields are the
//! [`DepositMessage`], whose hash is the L2 deposit transaction's `sourceHash`, so the L2
//! transaction hash ([`DepositMessage::l2_tx_hash`]) is known on L1 before the L2 includes it.
//! The L2 includes a deposit once its L1 block is the origin of an L2 block (the node waits for
//! `--l1.confirmations` blocks on top): [`Bridge::wait_for_l2`] reports that progress by
//! reading the L2's `L1Info` predeploy.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Log, TransactionReceipt},
    signers::local::PrivateKeySigner,
    sol,
};
use alloy_sol_types::SolEvent;
use fraud_vm::{
    deposit::{Deployment, DepositQueued},
    message::{DepositMessage, L1_INFO, L2_STANDARD_BRIDGE},
};
use op_alloy_consensus::OpReceiptEnvelope;
use tracing::debug;

use crate::BridgeError;

sol! {
    /// The Portal's deposit entry point.
    #[sol(rpc)]
    interface IPortal {
        function depositTransaction(address to, uint256 value, uint64 gasLimit, bool isCreation, bytes data) external payable;
    }

    /// The L1 bridge's ERC20 deposit.
    #[sol(rpc)]
    interface IL1StandardBridge {
        function depositERC20(address l1Token, address to, uint256 amount, uint32 minGasLimit) external;
    }

    /// The ERC20 calls a deposit needs.
    #[sol(rpc)]
    interface IERC20 {
        function approve(address spender, uint256 amount) external returns (bool);
        function allowance(address owner, address spender) external view returns (uint256);
        function balanceOf(address account) external view returns (uint256);
        function symbol() external view returns (string);
    }

    /// The L2 bridge predeploy's views.
    #[sol(rpc)]
    interface IL2StandardBridge {
        function l2TokenFor(address l1Token) external view returns (address);
    }

    /// The L2 L1-info predeploy's views.
    #[sol(rpc)]
    interface IL1Info {
        function number() external view returns (uint64);
    }
}

/// Default L2 gas limit of an ETH deposit (the Portal's `receive()` uses the same).
pub const DEFAULT_ETH_DEPOSIT_GAS: u64 = 100_000;

/// A deposit sent on L1.
#[derive(Clone, Debug)]
pub struct SentDeposit {
    /// The L1 transaction.
    pub l1_tx: B256,
    /// The L1 block that holds it.
    pub l1_block: u64,
    /// The queued message (from the `DepositQueued` event).
    pub message: DepositMessage,
}

impl SentDeposit {
    /// The hash of the L2 transaction this deposit becomes.
    pub fn l2_tx_hash(&self) -> B256 {
        self.message.l2_tx_hash()
    }
}

/// Where a deposit stands on L2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L2Inclusion {
    /// The L2 transaction hash.
    pub l2_tx: B256,
    /// The L2 block that includes it.
    pub block_number: u64,
    /// Whether the L2 execution succeeded (a failed deposit still mints).
    pub success: bool,
}

/// A progress report while waiting for a deposit on L2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitProgress {
    /// The L1 block the deposit was queued in.
    pub l1_block: u64,
    /// The newest L1 block the L2 has taken as origin (None: not known yet).
    pub l2_origin: Option<u64>,
    /// The L2 head.
    pub l2_head: u64,
}

impl std::fmt::Display for WaitProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.l2_origin {
            Some(origin) if origin >= self.l1_block => write!(
                f,
                "L2 head {} has L1 origin {origin} >= deposit block {}: inclusion imminent",
                self.l2_head, self.l1_block
            ),
            Some(origin) => write!(
                f,
                "waiting for L1 confirmations: L2 head {} follows L1 block {origin}, deposit is in L1 block {}",
                self.l2_head, self.l1_block
            ),
            None => write!(
                f,
                "waiting for the L2 (head {}) to follow L1 (no L1 origin yet)",
                self.l2_head
            ),
        }
    }
}

/// A connection to one rollup deployment: its L1 and an L2 node.
#[derive(Clone)]
pub struct Bridge {
    deployment: Deployment,
    l1: DynProvider,
    l2: DynProvider,
    sender: Option<Address>,
}

fn provider(
    url: &str,
    flag: &str,
    signer: Option<PrivateKeySigner>,
) -> Result<DynProvider, BridgeError> {
    let url = url
        .parse()
        .map_err(|e| BridgeError::Input(format!("--{flag} {url}: {e}")))?;
    Ok(match signer {
        Some(signer) => ProviderBuilder::new()
            .wallet(signer)
            .connect_http(url)
            .erased(),
        None => ProviderBuilder::new().connect_http(url).erased(),
    })
}

impl Bridge {
    /// Connects to `l1_rpc` and `l2_rpc` (HTTP URLs) and checks that their chain ids are the
    /// deployment's. `signer` signs the L1 transactions (deposits, proofs, finalizations) and
    /// the L2 ones (withdrawals); status queries need none.
    pub async fn connect(
        deployment: Deployment,
        l1_rpc: &str,
        l2_rpc: &str,
        signer: Option<PrivateKeySigner>,
    ) -> Result<Self, BridgeError> {
        let sender = signer.as_ref().map(|s| s.address());
        let l1 = provider(l1_rpc, "l1-rpc", signer.clone())?;
        let l2 = provider(l2_rpc, "l2-rpc", signer)?;
        let l1_id = l1
            .get_chain_id()
            .await
            .map_err(|e| BridgeError::rpc(&format!("L1 {l1_rpc}"), e))?;
        if l1_id != deployment.l1_chain_id {
            return Err(BridgeError::WrongChain {
                endpoint: "L1",
                flag: "l1-rpc",
                expected: deployment.l1_chain_id,
                actual: l1_id,
            });
        }
        let l2_id = l2
            .get_chain_id()
            .await
            .map_err(|e| BridgeError::rpc(&format!("L2 {l2_rpc}"), e))?;
        if l2_id != deployment.l2_chain_id {
            return Err(BridgeError::WrongChain {
                endpoint: "L2",
                flag: "l2-rpc",
                expected: deployment.l2_chain_id,
                actual: l2_id,
            });
        }
        Ok(Self {
            deployment,
            l1,
            l2,
            sender,
        })
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The L1 provider (signing, if connected with a signer).
    pub fn l1(&self) -> &DynProvider {
        &self.l1
    }

    /// The L2 provider (signing, if connected with a signer).
    pub fn l2(&self) -> &DynProvider {
        &self.l2
    }

    /// The signer's address, if connected with one.
    pub fn sender_address(&self) -> Option<Address> {
        self.sender
    }

    fn sender(&self) -> Result<Address, BridgeError> {
        self.sender
            .ok_or_else(|| BridgeError::Input("a deposit needs --private-key".into()))
    }

    /// Deposits `amount` wei for `to` on L2 through `Portal.depositTransaction` (mint = value =
    /// `amount`, L2 gas `gas_limit`). The L2 sender is the L1 sender.
    pub async fn deposit_eth(
        &self,
        to: Address,
        amount: U256,
        gas_limit: u64,
    ) -> Result<SentDeposit, BridgeError> {
        let from = self.sender()?;
        let balance = self
            .l1
            .get_balance(from)
            .await
            .map_err(|e| BridgeError::rpc("L1 eth_getBalance", e))?;
        if balance < amount {
            return Err(BridgeError::InsufficientBalance {
                what: "ETH on L1".into(),
                account: from,
                have: balance,
                need: amount,
            });
        }
        let portal = IPortal::new(self.deployment.portal, &self.l1);
        let call = portal
            .depositTransaction(to, amount, gas_limit, false, Default::default())
            .value(amount)
            .from(from);
        let pending = call
            .send()
            .await
            .map_err(|e| BridgeError::rpc("L1 Portal.depositTransaction", e))?;
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| BridgeError::rpc("L1 receipt of the deposit", e))?;
        self.single_deposit(&receipt, "ETH deposit")
    }

    /// Deposits `amount` of the L1 ERC20 `token` for `to` on L2: approves the L1 bridge (if the
    /// allowance is short), then calls `L1StandardBridge.depositERC20` with `min_gas_limit`.
    pub async fn deposit_erc20(
        &self,
        token: Address,
        to: Address,
        amount: U256,
        min_gas_limit: u32,
    ) -> Result<SentDeposit, BridgeError> {
        let from = self.sender()?;
        let code = self
            .l1
            .get_code_at(token)
            .await
            .map_err(|e| BridgeError::rpc("L1 eth_getCode", e))?;
        if code.is_empty() {
            return Err(BridgeError::UnknownToken(token));
        }
        let erc20 = IERC20::new(token, &self.l1);
        let balance = erc20
            .balanceOf(from)
            .call()
            .await
            .map_err(|_| BridgeError::UnknownToken(token))?;
        if balance < amount {
            let symbol = erc20
                .symbol()
                .call()
                .await
                .unwrap_or_else(|_| token.to_string());
            return Err(BridgeError::InsufficientBalance {
                what: symbol,
                account: from,
                have: balance,
                need: amount,
            });
        }
        let bridge = self.deployment.l1_standard_bridge;
        let allowance = erc20
            .allowance(from, bridge)
            .call()
            .await
            .map_err(|e| BridgeError::rpc("L1 allowance", e))?;
        if allowance < amount {
            let receipt = erc20
                .approve(bridge, amount)
                .from(from)
                .send()
                .await
                .map_err(|e| BridgeError::rpc("L1 approve", e))?
                .get_receipt()
                .await
                .map_err(|e| BridgeError::rpc("L1 receipt of approve", e))?;
            if !receipt.status() {
                return Err(BridgeError::Reverted {
                    hash: receipt.transaction_hash,
                    what: "approve".into(),
                });
            }
        }
        let receipt = IL1StandardBridge::new(bridge, &self.l1)
            .depositERC20(token, to, amount, min_gas_limit)
            .from(from)
            .send()
            .await
            .map_err(|e| BridgeError::rpc("L1 L1StandardBridge.depositERC20", e))?
            .get_receipt()
            .await
            .map_err(|e| BridgeError::rpc("L1 receipt of depositERC20", e))?;
        self.single_deposit(&receipt, "ERC20 deposit")
    }

    fn single_deposit(
        &self,
        receipt: &TransactionReceipt,
        what: &str,
    ) -> Result<SentDeposit, BridgeError> {
        if !receipt.status() {
            return Err(BridgeError::Reverted {
                hash: receipt.transaction_hash,
                what: what.into(),
            });
        }
        let message = self
            .messages_in(receipt)
            .into_iter()
            .next()
            .ok_or(BridgeError::NoDeposit(receipt.transaction_hash))?;
        Ok(SentDeposit {
            l1_tx: receipt.transaction_hash,
            l1_block: receipt.block_number.unwrap_or(message.l1_block_number),
            message,
        })
    }

    /// The deposits an L1 receipt queued in this deployment's Inbox.
    fn messages_in(&self, receipt: &TransactionReceipt) -> Vec<DepositMessage> {
        receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == self.deployment.inbox)
            .filter_map(|l| DepositQueued::decode_log_data(l.data()).ok())
            .map(|e| e.message())
            .collect()
    }

    /// The deposits queued by L1 transaction `l1_tx`.
    pub async fn deposits_of(&self, l1_tx: B256) -> Result<Vec<SentDeposit>, BridgeError> {
        let receipt = self
            .l1
            .get_transaction_receipt(l1_tx)
            .await
            .map_err(|e| BridgeError::rpc("L1 eth_getTransactionReceipt", e))?
            .ok_or(BridgeError::UnknownTransaction(l1_tx))?;
        let messages = self.messages_in(&receipt);
        if messages.is_empty() {
            return Err(BridgeError::NoDeposit(l1_tx));
        }
        Ok(messages
            .into_iter()
            .map(|message| SentDeposit {
                l1_tx,
                l1_block: receipt.block_number.unwrap_or(message.l1_block_number),
                message,
            })
            .collect())
    }

    /// Whether the L2 included `deposit`, and where.
    pub async fn l2_inclusion(
        &self,
        deposit: &SentDeposit,
    ) -> Result<Option<L2Inclusion>, BridgeError> {
        let l2_tx = deposit.l2_tx_hash();
        // The L2 serves OP receipts (type 0x7E), which alloy's Ethereum receipt type refuses.
        let receipt: Option<TransactionReceipt<OpReceiptEnvelope<Log>>> = self
            .l2
            .raw_request("eth_getTransactionReceipt".into(), (l2_tx,))
            .await
            .map_err(|e| BridgeError::rpc("L2 eth_getTransactionReceipt", e))?;
        Ok(receipt.map(|r| L2Inclusion {
            l2_tx,
            block_number: r.block_number.unwrap_or_default(),
            success: r.inner.status(),
        }))
    }

    /// Where the L2 stands relative to `deposit`'s L1 block.
    pub async fn progress(&self, deposit: &SentDeposit) -> Result<WaitProgress, BridgeError> {
        let l2_head = self
            .l2
            .get_block_number()
            .await
            .map_err(|e| BridgeError::rpc("L2 eth_blockNumber", e))?;
        let origin = IL1Info::new(L1_INFO, &self.l2)
            .number()
            .call()
            .await
            .map_err(|e| BridgeError::rpc("L2 L1Info.number", e))?;
        Ok(WaitProgress {
            l1_block: deposit.l1_block,
            l2_origin: (origin != 0).then_some(origin),
            l2_head,
        })
    }

    /// Polls the L2 until it includes `deposit` (or `timeout` passes), calling `on_progress`
    /// whenever the progress changes.
    pub async fn wait_for_l2(
        &self,
        deposit: &SentDeposit,
        timeout: Duration,
        mut on_progress: impl FnMut(&WaitProgress),
    ) -> Result<L2Inclusion, BridgeError> {
        let started = Instant::now();
        let mut last: Option<WaitProgress> = None;
        loop {
            if let Some(inclusion) = self.l2_inclusion(deposit).await? {
                return Ok(inclusion);
            }
            if started.elapsed() > timeout {
                return Err(BridgeError::Timeout {
                    l2_tx: deposit.l2_tx_hash(),
                    seconds: timeout.as_secs(),
                });
            }
            match self.progress(deposit).await {
                Ok(progress) => {
                    if last.as_ref() != Some(&progress) {
                        on_progress(&progress);
                        last = Some(progress);
                    }
                }
                Err(e) => debug!(error = %e, "progress unavailable"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The L2 twin of L1 token `l1_token` (`L2StandardBridge.l2TokenFor`).
    pub async fn l2_token_for(&self, l1_token: Address) -> Result<Address, BridgeError> {
        IL2StandardBridge::new(L2_STANDARD_BRIDGE, &self.l2)
            .l2TokenFor(l1_token)
            .call()
            .await
            .map_err(|e| BridgeError::rpc("L2 L2StandardBridge.l2TokenFor", e))
    }
}
