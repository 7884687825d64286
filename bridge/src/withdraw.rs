//! Withdrawals (L2 → L1): initiate on L2, prove on L1 against a proposed output, finalize after
//! the challenge window.
//!
//! 1. **Initiate** ([`Bridge::withdraw_eth`], [`Bridge::withdraw_erc20`]): an L2 transaction to
//!    the `L2ToL1MessagePasser` predeploy (ETH: `initiateWithdrawal(to, gasLimit, "")` with the
//!    value) or the `L2StandardBridge` (`withdrawTo`, which burns the L2 twin and sends
//!    `finalizeERC20Withdrawal` to the L1 bridge through the passer). The passer's
//!    `MessagePassed` event gives the [`Withdrawal`].
//! 2. **Prove** ([`Bridge::prove`]): find the first output in the `OutputRegistry` at or after
//!    the withdrawal's L2 block that is not invalidated (or, if the L2 node no longer serves
//!    that block's state, the newest one); read the claim on that L2 block (`rollup_claim`:
//!    hash, state root, block-hash window, derivation cursor) from the L2 node and check it
//!    hashes to the output root ([`fraud_vm::output::output_root`]); fetch the state-tree proof of the passer's
//!    `sentMessages[hash]` slot with `eth_getProof` at that block, convert it
//!    ([`fraud_vm::smt::Proof::from_nodes`]) to the bytes the Portal verifies
//!    ([`fraud_vm::smt::Proof::encode`]), check it locally, then `Portal.proveWithdrawal`.
//! 3. **Finalize** ([`Bridge::finalize`]): once the output's challenge window has passed,
//!    `Portal.finalizeWithdrawal` pays the target (ETH) or calls it (the L1 bridge releases the
//!    tokens).
//!
//! Every step checks L1 state first and returns a specific [`BridgeError`] (not yet provable,
//! window not elapsed, already finalized, ...) instead of sending a transaction that would
//! revert.

use std::time::{Duration, Instant};

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::{EIP1186AccountProofResponse, Log, TransactionReceipt},
    sol,
};
use alloy_sol_types::SolEvent;
use fraud_vm::{
    message::{Withdrawal, L2_STANDARD_BRIDGE, L2_TO_L1_MESSAGE_PASSER, WITHDRAWAL_SENT_VALUE},
    output::output_root,
    smt::Proof,
    vm::Claim,
};
use op_alloy_consensus::OpReceiptEnvelope;

use crate::{client::Bridge, BridgeError};

sol! {
    /// The L2 message passer predeploy.
    #[sol(rpc)]
    interface IL2ToL1MessagePasser {
        function initiateWithdrawal(address target, uint256 gasLimit, bytes data) external payable;
        event MessagePassed(
            uint256 indexed nonce,
            address indexed sender,
            address indexed target,
            uint256 value,
            uint256 gasLimit,
            bytes data,
            bytes32 withdrawalHash
        );
    }

    /// The L2 bridge predeploy's withdrawal.
    #[sol(rpc)]
    interface IL2StandardBridgeWithdraw {
        function withdrawTo(address l2Token, address to, uint256 amount, uint32 minGasLimit) external;
    }

    /// The Portal's withdrawal side.
    #[sol(rpc, all_derives)]
    interface IPortalWithdrawals {
        struct Withdrawal {
            uint256 nonce;
            address sender;
            address target;
            uint256 value;
            uint256 gasLimit;
            bytes data;
        }
        struct OutputRootProof {
            uint256 l2BlockNumber;
            bytes32 l2BlockHash;
            bytes32 stateRoot;
            bytes32 blockHashesRoot;
            bytes32 cursor;
        }
        error OutputRootMismatch();
        error OutputInvalidated();
        error AlreadyProven();
        error WithdrawalNotProven();
        error OutputNotFinalized();
        error AlreadyFinalized();
        error InvalidProof();
        error ForbiddenTarget();
        error InsufficientGas();
        function proveWithdrawal(Withdrawal w, uint256 outputIndex, OutputRootProof o, bytes smtProof) external;
        function finalizeWithdrawal(Withdrawal w) external;
        function provenWithdrawals(bytes32 hash) external view returns (uint64 timestamp, uint192 outputIndex);
        function finalizedWithdrawals(bytes32 hash) external view returns (bool);
    }

    /// The registry's views.
    #[sol(rpc)]
    interface IOutputRegistryViews {
        /// Lifecycle of a proposal.
        enum Status {
            /// No such output.
            None,
            /// Proposed (final once the challenge window passed).
            Proposed,
            /// Invalidated by the resolver.
            Invalidated
        }
        struct Output {
            bytes32 outputRoot;
            address proposer;
            uint64 timestamp;
            uint64 l2BlockNumber;
            Status status;
            bool bondClaimed;
        }
        function getOutput(uint256 index) external view returns (Output memory);
        function outputCount() external view returns (uint256);
        function challengeWindow() external view returns (uint256);
    }
}

/// Default L1 gas limit of an ETH withdrawal's call (the passer's `receive()` uses the same).
pub const DEFAULT_WITHDRAWAL_GAS: u64 = 100_000;

/// A withdrawal initiated on L2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentWithdrawal {
    /// The L2 transaction.
    pub l2_tx: B256,
    /// The L2 block holding it.
    pub l2_block: u64,
    /// The withdrawal (from the passer's `MessagePassed` event).
    pub withdrawal: Withdrawal,
}

impl SentWithdrawal {
    /// The withdrawal hash.
    pub fn hash(&self) -> B256 {
        self.withdrawal.hash()
    }
}

/// Where a withdrawal stands on L1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WithdrawalStatus {
    /// No output covers its L2 block yet (`latest_output`: newest proposed L2 block).
    WaitingForOutput {
        /// The withdrawal's L2 block.
        l2_block: u64,
        /// The newest proposed L2 block, if any.
        latest_output: Option<u64>,
    },
    /// An output covers it: ready to prove.
    Provable {
        /// The output to prove against.
        output_index: u64,
    },
    /// Proven; finalizable once the output is final.
    Proven {
        /// The output it was proven against.
        output_index: u64,
        /// Seconds until the output is final (0: finalizable now).
        seconds_left: u64,
    },
    /// Finalized on L1.
    Finalized,
}

impl std::fmt::Display for WithdrawalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WaitingForOutput {
                l2_block,
                latest_output: Some(n),
            } => write!(
                f,
                "waiting for an output at or after L2 block {l2_block} (latest proposed: {n})"
            ),
            Self::WaitingForOutput { l2_block, .. } => write!(
                f,
                "waiting for an output at or after L2 block {l2_block} (none proposed yet)"
            ),
            Self::Provable { output_index } => write!(f, "provable against output {output_index}"),
            Self::Proven {
                output_index,
                seconds_left: 0,
            } => write!(f, "proven against output {output_index}; finalizable now"),
            Self::Proven {
                output_index,
                seconds_left,
            } => write!(
                f,
                "proven against output {output_index}; challenge window ends in {seconds_left} s"
            ),
            Self::Finalized => write!(f, "finalized"),
        }
    }
}

/// An output of the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct OutputInfo {
    index: u64,
    l2_block: u64,
    root: B256,
    timestamp: u64,
    invalidated: bool,
}

fn rpc(what: &str, e: impl std::fmt::Display) -> BridgeError {
    BridgeError::rpc(what, e)
}

impl Bridge {
    fn l2_signer(&self) -> Result<Address, BridgeError> {
        self.sender_address()
            .ok_or_else(|| BridgeError::Input("a withdrawal needs --private-key".into()))
    }

    /// Withdraws `amount` wei from the signer's L2 balance to `to` on L1
    /// (`L2ToL1MessagePasser.initiateWithdrawal(to, gas_limit, "")`).
    pub async fn withdraw_eth(
        &self,
        to: Address,
        amount: U256,
        gas_limit: u64,
    ) -> Result<SentWithdrawal, BridgeError> {
        let from = self.l2_signer()?;
        let balance = self
            .l2()
            .get_balance(from)
            .await
            .map_err(|e| rpc("L2 eth_getBalance", e))?;
        if balance < amount {
            return Err(BridgeError::InsufficientBalance {
                what: "ETH on L2".into(),
                account: from,
                have: balance,
                need: amount,
            });
        }
        let receipt = IL2ToL1MessagePasser::new(L2_TO_L1_MESSAGE_PASSER, self.l2())
            .initiateWithdrawal(to, U256::from(gas_limit), Bytes::new())
            .value(amount)
            .from(from)
            .send()
            .await
            .map_err(|e| rpc("L2 L2ToL1MessagePasser.initiateWithdrawal", e))?
            .get_receipt()
            .await
            .map_err(|e| rpc("L2 receipt of the withdrawal", e))?;
        self.single_withdrawal(&receipt, "ETH withdrawal")
    }

    /// Withdraws `amount` of the L2 twin of L1 token `l1_token` to `to` on L1
    /// (`L2StandardBridge.withdrawTo`, burning the twin).
    pub async fn withdraw_erc20(
        &self,
        l1_token: Address,
        to: Address,
        amount: U256,
        min_gas_limit: u32,
    ) -> Result<SentWithdrawal, BridgeError> {
        let from = self.l2_signer()?;
        let l2_token = self.l2_token_for(l1_token).await?;
        let code = self
            .l2()
            .get_code_at(l2_token)
            .await
            .map_err(|e| rpc("L2 eth_getCode", e))?;
        if code.is_empty() {
            return Err(BridgeError::UnknownToken(l1_token));
        }
        let balance = crate::client::IERC20::new(l2_token, self.l2())
            .balanceOf(from)
            .call()
            .await
            .map_err(|e| rpc("L2 balanceOf", e))?;
        if balance < amount {
            return Err(BridgeError::InsufficientBalance {
                what: format!("L2 token {l2_token}"),
                account: from,
                have: balance,
                need: amount,
            });
        }
        let receipt = IL2StandardBridgeWithdraw::new(L2_STANDARD_BRIDGE, self.l2())
            .withdrawTo(l2_token, to, amount, min_gas_limit)
            .from(from)
            .send()
            .await
            .map_err(|e| rpc("L2 L2StandardBridge.withdrawTo", e))?
            .get_receipt()
            .await
            .map_err(|e| rpc("L2 receipt of the withdrawal", e))?;
        self.single_withdrawal(&receipt, "ERC20 withdrawal")
    }

    fn single_withdrawal(
        &self,
        receipt: &TransactionReceipt,
        what: &str,
    ) -> Result<SentWithdrawal, BridgeError> {
        if !receipt.status() {
            return Err(BridgeError::Reverted {
                hash: receipt.transaction_hash,
                what: format!("{what} on L2"),
            });
        }
        let l2_block = receipt.block_number.unwrap_or_default();
        withdrawals_in(receipt.inner.logs(), receipt.transaction_hash, l2_block)
            .into_iter()
            .next()
            .ok_or(BridgeError::NoWithdrawal(receipt.transaction_hash))
    }

    /// The withdrawals initiated by L2 transaction `l2_tx`.
    pub async fn withdrawals_of(&self, l2_tx: B256) -> Result<Vec<SentWithdrawal>, BridgeError> {
        // The L2 serves OP receipts (deposits are type 0x7E), so read them in the OP shape.
        let receipt: Option<TransactionReceipt<OpReceiptEnvelope<Log>>> = self
            .l2()
            .raw_request("eth_getTransactionReceipt".into(), (l2_tx,))
            .await
            .map_err(|e| rpc("L2 eth_getTransactionReceipt", e))?;
        let receipt = receipt.ok_or(BridgeError::UnknownL2Transaction(l2_tx))?;
        let found = withdrawals_in(
            receipt.inner.logs(),
            l2_tx,
            receipt.block_number.unwrap_or_default(),
        );
        if found.is_empty() {
            return Err(BridgeError::NoWithdrawal(l2_tx));
        }
        Ok(found)
    }

    async fn outputs(&self) -> Result<Vec<OutputInfo>, BridgeError> {
        let registry = IOutputRegistryViews::new(self.deployment().output_registry, self.l1());
        let count = registry
            .outputCount()
            .call()
            .await
            .map_err(|e| rpc("L1 OutputRegistry.outputCount", e))?;
        let mut out = Vec::new();
        for index in 0..count.to::<u64>() {
            let o = registry
                .getOutput(U256::from(index))
                .call()
                .await
                .map_err(|e| rpc("L1 OutputRegistry.getOutput", e))?;
            out.push(OutputInfo {
                index,
                l2_block: o.l2BlockNumber,
                root: o.outputRoot,
                timestamp: o.timestamp,
                invalidated: matches!(o.status, IOutputRegistryViews::Status::Invalidated),
            });
        }
        Ok(out)
    }

    /// Where `sent` stands on L1 (see [`WithdrawalStatus`]).
    pub async fn withdrawal_status(
        &self,
        sent: &SentWithdrawal,
    ) -> Result<WithdrawalStatus, BridgeError> {
        let portal = IPortalWithdrawals::new(self.deployment().portal, self.l1());
        let hash = sent.hash();
        if portal
            .finalizedWithdrawals(hash)
            .call()
            .await
            .map_err(|e| rpc("L1 Portal.finalizedWithdrawals", e))?
        {
            return Ok(WithdrawalStatus::Finalized);
        }
        let proven = portal
            .provenWithdrawals(hash)
            .call()
            .await
            .map_err(|e| rpc("L1 Portal.provenWithdrawals", e))?;
        let outputs = self.outputs().await?;
        if proven.timestamp != 0 {
            let index = proven.outputIndex.to::<u64>();
            if let Some(o) = outputs.iter().find(|o| o.index == index && !o.invalidated) {
                let now = self.l1_time().await?;
                let end = o.timestamp + self.deployment().challenge_window;
                return Ok(WithdrawalStatus::Proven {
                    output_index: index,
                    seconds_left: end.saturating_sub(now),
                });
            }
        }
        match outputs
            .iter()
            .find(|o| !o.invalidated && o.l2_block >= sent.l2_block)
        {
            Some(o) => Ok(WithdrawalStatus::Provable {
                output_index: o.index,
            }),
            None => Ok(WithdrawalStatus::WaitingForOutput {
                l2_block: sent.l2_block,
                latest_output: outputs
                    .iter()
                    .filter(|o| !o.invalidated)
                    .map(|o| o.l2_block)
                    .max(),
            }),
        }
    }

    /// The latest L1 block's timestamp.
    async fn l1_time(&self) -> Result<u64, BridgeError> {
        Ok(self
            .l1()
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| rpc("L1 eth_getBlockByNumber", e))?
            .map(|b| b.header.timestamp)
            .unwrap_or_default())
    }

    /// The state-tree proof of `sent` at the L2 block of output `output_index`, ready for
    /// `Portal.proveWithdrawal`: the output root preimage and the encoded SMT proof. Checks
    /// that the L2 node's block hashes to the proposed output root and that the proof shows
    /// the withdrawal as sent.
    pub async fn withdrawal_proof(
        &self,
        sent: &SentWithdrawal,
        output_index: u64,
    ) -> Result<(IPortalWithdrawals::OutputRootProof, Bytes), BridgeError> {
        let output = self
            .outputs()
            .await?
            .into_iter()
            .find(|o| o.index == output_index)
            .ok_or_else(|| BridgeError::Input(format!("no output {output_index}")))?;
        // The claim on the block (`rollup_claim`): its hash, state root, block-hash window and
        // derivation cursor, which the output root commits.
        let claim: Option<L2Claim> = self
            .l2()
            .raw_request(
                "rollup_claim".into(),
                (alloy::primitives::U64::from(output.l2_block),),
            )
            .await
            .map_err(|e| rpc("L2 rollup_claim", e))?;
        let claim = claim.ok_or(BridgeError::L2Behind(output.l2_block))?;
        let claim = Claim {
            block_hash: claim.block_hash,
            state_root: claim.state_root,
            block_hashes_root: claim.block_hashes_root,
            cursor: claim.cursor_hash,
        };
        let state_root = claim.state_root;
        if output_root(output.l2_block, &claim) != output.root {
            return Err(BridgeError::OutputMismatch {
                index: output_index,
                l2_block: output.l2_block,
            });
        }
        let slot = Withdrawal::sent_slot(sent.hash());
        let response: EIP1186AccountProofResponse = self
            .l2()
            .get_proof(L2_TO_L1_MESSAGE_PASSER, vec![B256::from(slot)])
            .number(output.l2_block)
            .await
            .map_err(|e| rpc("L2 eth_getProof", e))?;
        let nodes = response
            .storage_proof
            .first()
            .map(|p| p.proof.clone())
            .unwrap_or_default();
        let proof = Proof::from_nodes(&nodes).map_err(|e| BridgeError::BadProof(e.to_string()))?;
        let key = Withdrawal::state_key(sent.hash());
        match proof.verify(state_root, &key) {
            Ok(Some(v)) if v == WITHDRAWAL_SENT_VALUE => {}
            Ok(_) => {
                return Err(BridgeError::BadProof(format!(
                    "the L2 state at block {} does not hold withdrawal {}",
                    output.l2_block,
                    sent.hash()
                )))
            }
            Err(e) => return Err(BridgeError::BadProof(e.to_string())),
        }
        Ok((
            IPortalWithdrawals::OutputRootProof {
                l2BlockNumber: U256::from(output.l2_block),
                l2BlockHash: claim.block_hash,
                stateRoot: claim.state_root,
                blockHashesRoot: claim.block_hashes_root,
                cursor: claim.cursor,
            },
            Bytes::from(proof.encode()),
        ))
    }

    /// Proves `sent` on L1 against the first output at or after its L2 block. Returns the L1
    /// transaction and the output index.
    ///
    /// If that output's proof cannot be built, for instance because the L2 node keeps only
    /// recent states (`--state-history`) and has dropped that block's state, it proves against
    /// the newest valid output instead. Any later output holds the withdrawal too. The
    /// challenge window then runs from that output's proposal. If both fail, the error is the
    /// first output's.
    pub async fn prove(&self, sent: &SentWithdrawal) -> Result<(B256, u64), BridgeError> {
        let from = self
            .sender_address()
            .ok_or_else(|| BridgeError::Input("proving needs --private-key".into()))?;
        let output_index = match self.withdrawal_status(sent).await? {
            WithdrawalStatus::Finalized => return Err(BridgeError::AlreadyFinalized(sent.hash())),
            WithdrawalStatus::Proven { output_index, .. } => {
                return Err(BridgeError::AlreadyProven {
                    hash: sent.hash(),
                    output_index,
                })
            }
            WithdrawalStatus::WaitingForOutput {
                l2_block,
                latest_output,
            } => {
                return Err(BridgeError::NotYetProvable {
                    l2_block,
                    latest_output,
                })
            }
            WithdrawalStatus::Provable { output_index } => output_index,
        };
        let (output_index, (output, proof)) = match self.withdrawal_proof(sent, output_index).await
        {
            Ok(proof) => (output_index, proof),
            Err(first) => {
                let newest = self
                    .outputs()
                    .await?
                    .iter()
                    .filter(|o| !o.invalidated && o.index > output_index)
                    .map(|o| o.index)
                    .max();
                let Some(newest) = newest else {
                    return Err(first);
                };
                match self.withdrawal_proof(sent, newest).await {
                    Ok(proof) => (newest, proof),
                    Err(_) => return Err(first),
                }
            }
        };
        let receipt = IPortalWithdrawals::new(self.deployment().portal, self.l1())
            .proveWithdrawal(
                portal_withdrawal(&sent.withdrawal),
                U256::from(output_index),
                output,
                proof,
            )
            .from(from)
            .send()
            .await
            .map_err(|e| rpc("L1 Portal.proveWithdrawal", e))?
            .get_receipt()
            .await
            .map_err(|e| rpc("L1 receipt of proveWithdrawal", e))?;
        if !receipt.status() {
            return Err(BridgeError::Reverted {
                hash: receipt.transaction_hash,
                what: "proveWithdrawal".into(),
            });
        }
        Ok((receipt.transaction_hash, output_index))
    }

    /// Finalizes proven `sent` on L1 once its output's challenge window has passed. Returns the
    /// L1 transaction and whether the withdrawal's call succeeded.
    pub async fn finalize(&self, sent: &SentWithdrawal) -> Result<(B256, bool), BridgeError> {
        let from = self
            .sender_address()
            .ok_or_else(|| BridgeError::Input("finalizing needs --private-key".into()))?;
        match self.withdrawal_status(sent).await? {
            WithdrawalStatus::Finalized => return Err(BridgeError::AlreadyFinalized(sent.hash())),
            WithdrawalStatus::Proven {
                seconds_left: 0, ..
            } => {}
            WithdrawalStatus::Proven {
                output_index,
                seconds_left,
            } => {
                return Err(BridgeError::WindowNotElapsed {
                    output_index,
                    seconds_left,
                })
            }
            _ => return Err(BridgeError::NotProven(sent.hash())),
        }
        // The Portal pays withdrawn ETH from the ETH locked by deposits; ETH that was never
        // deposited (e.g. the L2 dev genesis' balances) cannot be paid, and a failed call would
        // spend the withdrawal.
        let locked = self
            .l1()
            .get_balance(self.deployment().portal)
            .await
            .map_err(|e| rpc("L1 eth_getBalance", e))?;
        if locked < sent.withdrawal.value {
            return Err(BridgeError::PortalUnderfunded {
                locked,
                value: sent.withdrawal.value,
            });
        }
        let portal = IPortalWithdrawals::new(self.deployment().portal, self.l1());
        let receipt = portal
            .finalizeWithdrawal(portal_withdrawal(&sent.withdrawal))
            .from(from)
            .send()
            .await
            .map_err(|e| rpc("L1 Portal.finalizeWithdrawal", e))?
            .get_receipt()
            .await
            .map_err(|e| rpc("L1 receipt of finalizeWithdrawal", e))?;
        if !receipt.status() {
            return Err(BridgeError::Reverted {
                hash: receipt.transaction_hash,
                what: "finalizeWithdrawal".into(),
            });
        }
        let success = receipt
            .inner
            .logs()
            .iter()
            .filter(|l| l.address() == self.deployment().portal)
            .find_map(|l| WithdrawalFinalized::decode_log_data(l.data()).ok())
            .is_some_and(|e| e.success);
        Ok((receipt.transaction_hash, success))
    }

    /// Polls until `done(status)` holds or `timeout` passes, calling `on_progress` when the
    /// status changes.
    pub async fn wait_withdrawal(
        &self,
        sent: &SentWithdrawal,
        timeout: Duration,
        done: impl Fn(&WithdrawalStatus) -> bool,
        mut on_progress: impl FnMut(&WithdrawalStatus),
    ) -> Result<WithdrawalStatus, BridgeError> {
        let started = Instant::now();
        let mut last = None;
        loop {
            let status = self.withdrawal_status(sent).await?;
            if done(&status) {
                return Ok(status);
            }
            if last.as_ref() != Some(&status) {
                on_progress(&status);
                last = Some(status);
            }
            if started.elapsed() > timeout {
                return Err(BridgeError::WithdrawalTimeout {
                    hash: sent.hash(),
                    seconds: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

sol! {
    /// The Portal's finalization event.
    event WithdrawalFinalized(bytes32 indexed hash, bool success);
}

/// The Portal's ABI struct of a withdrawal.
pub fn portal_withdrawal(w: &Withdrawal) -> IPortalWithdrawals::Withdrawal {
    IPortalWithdrawals::Withdrawal {
        nonce: w.nonce,
        sender: w.sender,
        target: w.target,
        value: w.value,
        gasLimit: w.gas_limit,
        data: w.data.clone(),
    }
}

/// The withdrawals recorded by the message passer in `logs`.
fn withdrawals_in(logs: &[Log], l2_tx: B256, l2_block: u64) -> Vec<SentWithdrawal> {
    logs.iter()
        .filter(|l| l.address() == L2_TO_L1_MESSAGE_PASSER)
        .filter_map(|l| IL2ToL1MessagePasser::MessagePassed::decode_log_data(l.data()).ok())
        .map(|e| SentWithdrawal {
            l2_tx,
            l2_block,
            withdrawal: Withdrawal {
                nonce: e.nonce,
                sender: e.sender,
                target: e.target,
                value: e.value,
                gas_limit: e.gasLimit,
                data: e.data,
            },
        })
        .collect()
}

/// The parts of an L2 node's `rollup_claim` answer the output root commits.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct L2Claim {
    block_hash: B256,
    state_root: B256,
    block_hashes_root: B256,
    cursor_hash: B256,
}
