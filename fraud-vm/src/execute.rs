//! The block state transition on revm.
//!
//! A [`BlockBuilder`] opens a block on top of a parent header and a [`StateProvider`] holding the
//! parent's state, executes transactions one at a time (the sequencer offers candidates and skips
//! the ones that do not fit; a replica replays a block and requires every one to apply), and
//! [`BlockBuilder::finish`] commits the block: the state diff goes into the state tree as one
//! batched update, and the header gets the new state root, the transaction and receipt
//! accumulators ([`crate::block`]) and the logs bloom.
//!
//! Fees follow Ethereum: the base fee is burned and the priority fee goes to the chain's fee
//! recipient.
//!
//! Deposit transactions (type `0x7E`, from L1) follow the rule in [`crate::deposit`]: the mint is
//! credited first and kept, execution is free (gas price 0), and an invalid deposit is still
//! included as a failed transaction.

use std::collections::{hash_map::Entry, HashMap, HashSet};

use alloy_consensus::{Header, Transaction as _, TxReceipt as _};
use alloy_eips::{eip2718::Encodable2718, eip7840::BlobParams};
use alloy_evm::FromRecoveredTx;
use alloy_primitives::{map::AddressMap, Address, Bloom, Bytes, B256, U256};
use op_alloy_consensus::{OpReceiptEnvelope, OpTxEnvelope, OpTxType, TxDeposit};
use revm::{
    context::{
        result::{EVMError, ExecutionResult},
        BlockEnv, TxEnv,
    },
    context_interface::block::BlobExcessGasAndPrice,
    database_interface::{Database, DatabaseCommit, DatabaseRef},
    handler::MainnetContext,
    state::{Account, AccountInfo, Bytecode},
    ExecuteCommitEvm, MainBuilder,
};
use tracing::trace;

pub use crate::block::l2_header;

use crate::{
    block::Accumulator,
    chain::ChainSpec,
    deposit::DEPOSIT_RECEIPT_VERSION,
    fee::{l1_fee, L1_BASEFEE_SLOT, L1_FEE_VAULT},
    message::L1_INFO,
    precompile::{L2Evm, L2Precompiles},
    smt::{self, Node, NodeReader},
    state::{code_root, AccountLeaf, StateDiff},
    Error, ProviderError,
};

/// Read access to the state a block executes on: accounts, storage, code and recent block
/// hashes through revm's [`DatabaseRef`], plus what the state commitment needs.
pub trait StateProvider: DatabaseRef<Error = ProviderError> + NodeReader {
    /// The [`code_root`] of code already in the state.
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError>;
}

/// The least number of seconds between a block's timestamp and its parent's: block timestamps
/// strictly increase, as on Ethereum (see [`block_timestamp`]).
pub const MIN_BLOCK_INTERVAL_SECS: u64 = 1;

/// **The timestamp rule** (consensus): the block after a parent stamped `parent_timestamp`,
/// proposed with timestamp `proposed`, is stamped `max(proposed, parent_timestamp + 1)`.
///
/// Block timestamps therefore strictly increase, as Ethereum requires. [`BlockBuilder::new`]
/// applies the rule to its attributes, so the sequencer, derivation from L1 batches and
/// replicas stamp every block alike; the sequencer proposes its clock
/// (`block_timestamp(parent, now)`), and `eth_estimateGas` / the `pending` block use the same
/// call for the block a new transaction lands in (the earliest timestamp that block can get).
/// Derivation rebuilds blocks with [`BlockBuilder`], so a batch's timestamp goes through the same
/// rule; the step machine replays a block with the timestamp in its header (it does not check
/// it against the parent), and the provable derivation and L1 verifier are to apply this
/// function.
///
/// What it means for block times under one second: timestamps count whole seconds, so blocks
/// made faster than one per second (a sub-second `--block-time`, or a backlog sealed back to
/// back) each take the next second and move the chain's clock ahead of the wall clock; it falls
/// back as soon as blocks come slower than one per second.
pub fn block_timestamp(parent_timestamp: u64, proposed: u64) -> u64 {
    proposed.max(parent_timestamp.saturating_add(MIN_BLOCK_INTERVAL_SECS))
}

/// The attributes of a block to build, chosen by the sequencer (or read from a batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockAttributes {
    /// Proposed seconds since the epoch; the block is stamped
    /// [`block_timestamp`]`(parent.timestamp, timestamp)`.
    pub timestamp: u64,
    /// Block gas limit.
    pub gas_limit: u64,
    /// `mixHash` / `PREVRANDAO`.
    pub prevrandao: B256,
    /// `extraData`.
    pub extra_data: Bytes,
}

/// A transaction with its sender, ready to execute.
#[derive(Clone, Debug)]
pub struct ExecutableTx {
    /// The signed (or deposit) transaction.
    pub tx: OpTxEnvelope,
    /// The recovered sender.
    pub sender: Address,
}

/// Why a transaction could not be included in the block being built.
#[derive(Debug, thiserror::Error)]
pub enum TxRejection {
    /// The block has no room for the transaction's gas limit; it may fit a later block.
    #[error("block gas limit reached")]
    BlockFull,
    /// The transaction is invalid on this state (nonce, balance, fee, gas, type...).
    #[error("{0}")]
    Invalid(String),
    /// The storage failed: building must stop.
    #[error(transparent)]
    Fatal(#[from] Error),
}

/// The outcome of one included transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOutcome {
    /// Gas the transaction used.
    pub gas_used: u64,
    /// The address created by a contract-creating transaction.
    pub contract_address: Option<Address>,
    /// Output data (return data, or the revert payload).
    pub output: Bytes,
    /// The L1 data fee it paid ([`crate::fee`]; 0 for deposits).
    pub l1_fee: U256,
}

/// A sealed block with everything the store needs to persist it.
#[derive(Clone, Debug)]
pub struct BuiltBlock {
    /// The header, with the new state root.
    pub header: Header,
    /// `keccak256(rlp(header))`.
    pub hash: B256,
    /// The transactions, in order.
    pub transactions: Vec<OpTxEnvelope>,
    /// Their senders.
    pub senders: Vec<Address>,
    /// Their receipts.
    pub receipts: Vec<OpReceiptEnvelope>,
    /// Per-transaction outcome details (not part of consensus data).
    pub outcomes: Vec<TxOutcome>,
    /// The state changes.
    pub diff: StateDiff,
    /// The code roots of code deployed in this block.
    pub code_roots: Vec<(B256, B256)>,
    /// The state-tree nodes created by this block.
    pub new_nodes: Vec<(B256, Node)>,
    /// The parent's state-tree nodes this block's tree no longer holds
    /// ([`smt::UpdateResult::stale_nodes`]): a store may delete them once it stops serving
    /// the parent's state.
    pub stale_nodes: Vec<B256>,
}

/// Builds one block (see the module docs).
pub struct BlockBuilder<'a, P: StateProvider> {
    evm: L2Evm<MainnetContext<BlockState<'a, P>>>,
    provider: &'a P,
    parent_state_root: B256,
    header: Header,
    transactions: Vec<OpTxEnvelope>,
    senders: Vec<Address>,
    receipts: Vec<OpReceiptEnvelope>,
    outcomes: Vec<TxOutcome>,
    tx_acc: Accumulator,
    receipt_acc: Accumulator,
    bloom: Bloom,
}

impl<'a, P: StateProvider> BlockBuilder<'a, P> {
    /// Opens the block after `parent` (whose hash is `parent_hash`) on `provider`, which must
    /// hold the parent's state. The block is stamped by the timestamp rule
    /// ([`block_timestamp`]).
    pub fn new(
        chain: &ChainSpec,
        provider: &'a P,
        parent: &Header,
        parent_hash: B256,
        attributes: BlockAttributes,
    ) -> Self {
        let header = next_header(chain, parent, parent_hash, attributes);
        let block_env = block_env(&header);
        let state = BlockState::new(provider);
        let evm = MainnetContext::new(state, chain.spec)
            .modify_cfg_chained(|cfg| cfg.chain_id = chain.chain_id)
            .with_block(block_env)
            .build_mainnet()
            .with_precompiles(L2Precompiles::new(chain.spec));
        Self {
            evm,
            provider,
            parent_state_root: parent.state_root,
            header,
            transactions: Vec::new(),
            senders: Vec::new(),
            receipts: Vec::new(),
            outcomes: Vec::new(),
            tx_acc: Accumulator::default(),
            receipt_acc: Accumulator::default(),
            bloom: Bloom::default(),
        }
    }

    /// The header being built (state root and accumulators not yet final).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Gas still available in the block.
    pub fn gas_left(&self) -> u64 {
        self.header.gas_limit.saturating_sub(self.header.gas_used)
    }

    /// Number of transactions included so far.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// Whether no transaction was included yet.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// Executes `tx` and includes it, or says why it cannot be included (the state is then
    /// unchanged).
    ///
    /// A deposit (`0x7E`) follows [`crate::deposit`]'s rule and is included unless it does not
    /// fit in the block's gas; its sender is the deposit's `from` (`tx.sender` must equal it).
    pub fn execute(&mut self, tx: ExecutableTx) -> Result<&TxOutcome, TxRejection> {
        let ExecutableTx { tx, sender } = tx;
        if let OpTxEnvelope::Deposit(deposit) = &tx {
            if deposit.from != sender {
                return Err(TxRejection::Invalid(format!(
                    "deposit sender {sender} differs from its `from` {}",
                    deposit.from
                )));
            }
            let deposit = deposit.inner().clone();
            return self.apply_deposit(tx, &deposit);
        }
        if tx.gas_limit() > self.gas_left() {
            return Err(TxRejection::BlockFull);
        }
        let tx_env = tx_env(&tx, sender)?;
        let (l1_fee, undo) = self
            .evm
            .ctx
            .journaled_state
            .database
            .charge_l1_fee(&tx, sender)?;
        let result = match self.evm.transact_commit(tx_env) {
            Ok(result) => result,
            Err(e) => {
                let state = &mut self.evm.ctx.journaled_state.database;
                undo.into_iter().for_each(|saved| state.restore(saved));
                return Err(match e {
                    EVMError::Database(e) => TxRejection::Fatal(e.into()),
                    e => TxRejection::Invalid(e.to_string()),
                });
            }
        };
        Ok(self.record_result(tx, sender, &result, None, l1_fee))
    }

    /// Executes a deposit transaction (see [`crate::deposit`]): included unless it does not fit
    /// in the block's gas ([`TxRejection::BlockFull`]) or is a system transaction.
    pub fn execute_deposit(&mut self, deposit: TxDeposit) -> Result<&TxOutcome, TxRejection> {
        let sender = deposit.from;
        self.execute(ExecutableTx {
            tx: OpTxEnvelope::from(deposit),
            sender,
        })
    }

    fn apply_deposit(
        &mut self,
        tx: OpTxEnvelope,
        deposit: &TxDeposit,
    ) -> Result<&TxOutcome, TxRejection> {
        if deposit.is_system_transaction {
            return Err(TxRejection::Invalid(
                "system deposit transactions are not supported".into(),
            ));
        }
        if deposit.gas_limit > self.gas_left() {
            return Err(TxRejection::BlockFull);
        }
        let from = deposit.from;
        let nonce = self
            .evm
            .ctx
            .journaled_state
            .database
            .credit(from, U256::from(deposit.mint))
            .map_err(|e| TxRejection::Fatal(e.into()))?;
        let tx_env = deposit_tx_env(deposit, nonce);
        // Gas price 0 is below the base fee: deposits skip that check (and pay nothing).
        let base_fee_check = self.evm.ctx.cfg.disable_base_fee;
        self.evm.ctx.cfg.disable_base_fee = true;
        let result = self.evm.transact_commit(tx_env);
        self.evm.ctx.cfg.disable_base_fee = base_fee_check;
        match result {
            Ok(result) => Ok(self.record_result(tx, from, &result, Some(nonce), U256::ZERO)),
            Err(EVMError::Database(e)) => Err(TxRejection::Fatal(e.into())),
            Err(e) => {
                trace!(target: "fraud_vm::execute", tx = %tx.tx_hash(), reason = %e, "invalid deposit included as failed");
                self.evm
                    .ctx
                    .journaled_state
                    .database
                    .bump_nonce(from)
                    .map_err(|e| TxRejection::Fatal(e.into()))?;
                let outcome = TxOutcome {
                    gas_used: deposit.gas_limit,
                    contract_address: None,
                    output: Bytes::new(),
                    l1_fee: U256::ZERO,
                };
                Ok(self.record(tx, from, false, &[], outcome, Some(nonce)))
            }
        }
    }

    fn record_result(
        &mut self,
        tx: OpTxEnvelope,
        sender: Address,
        result: &ExecutionResult,
        deposit_nonce: Option<u64>,
        l1_fee: U256,
    ) -> &TxOutcome {
        let outcome = TxOutcome {
            gas_used: result.tx_gas_used(),
            contract_address: result.created_address(),
            output: match result {
                ExecutionResult::Success { output, .. } => output.data().clone(),
                ExecutionResult::Revert { output, .. } => output.clone(),
                ExecutionResult::Halt { .. } => Bytes::new(),
            },
            l1_fee,
        };
        self.record(
            tx,
            sender,
            result.is_success(),
            result.logs(),
            outcome,
            deposit_nonce,
        )
    }

    /// Appends an executed transaction to the block: gas, receipt, bloom and accumulators.
    fn record(
        &mut self,
        tx: OpTxEnvelope,
        sender: Address,
        success: bool,
        logs: &[alloy_primitives::Log],
        outcome: TxOutcome,
        deposit_nonce: Option<u64>,
    ) -> &TxOutcome {
        self.header.gas_used += outcome.gas_used;
        let tx_type = tx.tx_type();
        let receipt = OpReceiptEnvelope::from_parts(
            success,
            self.header.gas_used,
            logs,
            tx_type,
            deposit_nonce,
            deposit_nonce.map(|_| DEPOSIT_RECEIPT_VERSION),
        );
        self.bloom.accrue_bloom(&receipt.bloom());
        trace!(target: "fraud_vm::execute", tx = %tx.tx_hash(), gas_used = outcome.gas_used, success, "executed");
        self.tx_acc.push(tx.tx_hash());
        self.receipt_acc.push(crate::block::receipt_item(
            tx_type as u8,
            success,
            self.header.gas_used,
            logs,
        ));
        self.transactions.push(tx);
        self.senders.push(sender);
        self.receipts.push(receipt);
        self.outcomes.push(outcome);
        self.outcomes.last().expect("just pushed")
    }

    /// Seals the block: commits the state diff to the state tree and completes the header.
    pub fn finish(self) -> Result<BuiltBlock, Error> {
        let Self {
            mut evm,
            provider,
            parent_state_root,
            mut header,
            transactions,
            senders,
            receipts,
            outcomes,
            tx_acc,
            receipt_acc,
            bloom,
        } = self;
        let state = std::mem::replace(
            &mut evm.ctx.journaled_state.database,
            BlockState::new(provider),
        );
        let (diff, code_roots) = state.into_diff()?;
        let update = smt::update(provider, parent_state_root, diff.tree_changes())?;
        header.state_root = update.root;
        header.transactions_root = tx_acc.root();
        header.receipts_root = receipt_acc.root();
        header.logs_bloom = bloom;
        let hash = header.hash_slow();
        Ok(BuiltBlock {
            header,
            hash,
            transactions,
            senders,
            receipts,
            outcomes,
            diff,
            code_roots,
            new_nodes: update.new_nodes,
            stale_nodes: update.stale_nodes,
        })
    }
}

/// The revm transaction of a deposit from an account whose nonce is `nonce`: gas price 0,
/// no chain id (the mint is credited beforehand, see [`crate::deposit`]).
pub fn deposit_tx_env(deposit: &TxDeposit, nonce: u64) -> TxEnv {
    TxEnv {
        caller: deposit.from,
        gas_limit: deposit.gas_limit,
        gas_price: 0,
        kind: deposit.to,
        value: deposit.value,
        data: deposit.input.clone(),
        nonce,
        chain_id: None,
        ..Default::default()
    }
}

/// The header of the block after `parent` (whose hash is `parent_hash`) built with `attributes`,
/// before execution ([`l2_header`]): its number, its timestamp by the timestamp rule
/// ([`block_timestamp`]) and its EIP-1559 base fee. [`BlockBuilder::new`] starts from it; the
/// node's `pending` block environment is this header's.
pub fn next_header(
    chain: &ChainSpec,
    parent: &Header,
    parent_hash: B256,
    attributes: BlockAttributes,
) -> Header {
    let base_fee = chain.next_base_fee(parent);
    l2_header(
        parent_hash,
        chain.fee_recipient,
        parent.number + 1,
        attributes.gas_limit,
        block_timestamp(parent.timestamp, attributes.timestamp),
        attributes.extra_data,
        attributes.prevrandao,
        base_fee,
    )
}

/// The revm block environment of a header.
pub fn block_env(header: &Header) -> BlockEnv {
    BlockEnv {
        number: U256::from(header.number),
        beneficiary: header.beneficiary,
        timestamp: U256::from(header.timestamp),
        gas_limit: header.gas_limit,
        basefee: header.base_fee_per_gas.unwrap_or_default(),
        difficulty: U256::ZERO,
        prevrandao: Some(header.mix_hash),
        blob_excess_gas_and_price: Some(BlobExcessGasAndPrice::new(
            0,
            BlobParams::cancun().update_fraction as u64,
        )),
        ..Default::default()
    }
}

/// The revm transaction environment of an L2 transaction.
pub fn tx_env(tx: &OpTxEnvelope, sender: Address) -> Result<TxEnv, TxRejection> {
    Ok(match tx {
        OpTxEnvelope::Legacy(t) => TxEnv::from_recovered_tx(t.tx(), sender),
        OpTxEnvelope::Eip2930(t) => TxEnv::from_recovered_tx(t.tx(), sender),
        OpTxEnvelope::Eip1559(t) => TxEnv::from_recovered_tx(t.tx(), sender),
        other => {
            return Err(TxRejection::Invalid(format!(
                "transaction type {} not supported",
                other.tx_type() as u8
            )))
        }
    })
}

/// Whether the L2 accepts this transaction type from users (legacy, EIP-2930, EIP-1559).
pub fn is_user_tx_type(ty: OpTxType) -> bool {
    matches!(ty, OpTxType::Legacy | OpTxType::Eip2930 | OpTxType::Eip1559)
}

/// An account of a [`BlockState`] as it was, to put back.
pub(crate) struct SavedAccount {
    address: Address,
    entry: Option<Option<AccountInfo>>,
    dirty: bool,
}

/// The working state of a block: the parent's state plus this block's writes.
pub struct BlockState<'a, P> {
    base: &'a P,
    /// Current view of every account read or written (`None`: does not exist).
    accounts: HashMap<Address, Option<AccountInfo>>,
    dirty_accounts: HashSet<Address>,
    /// Current view of storage; the flag marks slots written in this block.
    storage: HashMap<Address, HashMap<U256, (U256, bool)>>,
    /// Accounts whose storage was wiped (created or destroyed) in this block.
    cleared: HashSet<Address>,
    codes: HashMap<B256, Bytecode>,
}

impl<'a, P: StateProvider> BlockState<'a, P> {
    /// An empty overlay on `base`.
    pub fn new(base: &'a P) -> Self {
        Self {
            base,
            accounts: HashMap::new(),
            dirty_accounts: HashSet::new(),
            storage: HashMap::new(),
            cleared: HashSet::new(),
            codes: HashMap::new(),
        }
    }

    /// Wipes an account's storage (created or destroyed in this block): every slot seen so far
    /// becomes a zero write, and unseen slots read as zero.
    fn clear_storage(&mut self, address: Address) {
        self.cleared.insert(address);
        if let Some(slots) = self.storage.get_mut(&address) {
            for (value, dirty) in slots.values_mut() {
                *value = U256::ZERO;
                *dirty = true;
            }
        }
    }

    /// Makes `address` an account with `code` and nothing else, whatever the state holds: how
    /// a derivation trace runs the derivation program, whose code is the protocol's, not the
    /// state's.
    pub(crate) fn set_code(&mut self, address: Address, code: Bytecode) {
        let code_hash = code.hash_slow();
        self.codes.insert(code_hash, code.clone());
        self.accounts.insert(
            address,
            Some(AccountInfo {
                code_hash,
                code: Some(code),
                ..Default::default()
            }),
        );
    }

    /// Adds `amount` wei to `address`'s balance (a deposit's mint) and returns its nonce.
    /// A zero amount changes nothing (an absent account stays absent).
    pub(crate) fn credit(&mut self, address: Address, amount: U256) -> Result<u64, ProviderError> {
        let info = self.basic(address)?;
        let nonce = info.as_ref().map_or(0, |i| i.nonce);
        if !amount.is_zero() {
            let mut info = info.unwrap_or_default();
            info.balance = info.balance.saturating_add(amount);
            self.accounts.insert(address, Some(info));
            self.dirty_accounts.insert(address);
        }
        Ok(nonce)
    }

    /// The L1 data fee of a user transaction ([`crate::fee`]): checks that `sender` can pay it
    /// with the transaction's maximal cost, then moves it to [`L1_FEE_VAULT`] (before the call
    /// runs, as the step machine's tx-init does). Returns the fee and the two accounts as they
    /// were, to put back if the transaction then turns out invalid.
    pub(crate) fn charge_l1_fee(
        &mut self,
        tx: &OpTxEnvelope,
        sender: Address,
    ) -> Result<(U256, Vec<SavedAccount>), TxRejection> {
        let fatal = |e: ProviderError| TxRejection::Fatal(e.into());
        let basefee = self.storage(L1_INFO, L1_BASEFEE_SLOT).map_err(fatal)?;
        let fee = l1_fee(basefee, tx.encode_2718_len() as u64);
        if fee.is_zero() {
            return Ok((fee, Vec::new()));
        }
        let balance = self
            .basic(sender)
            .map_err(fatal)?
            .map_or(U256::ZERO, |a| a.balance);
        let max_cost = U256::from(tx.gas_limit())
            .saturating_mul(U256::from(tx.max_fee_per_gas()))
            .saturating_add(tx.value());
        if balance < max_cost.saturating_add(fee) {
            return Err(TxRejection::Invalid(format!(
                "insufficient funds for gas * price + value + L1 data fee: balance {balance}, \
                 tx cost {max_cost}, L1 data fee {fee}"
            )));
        }
        let undo = vec![self.save(sender), self.save(L1_FEE_VAULT)];
        self.set_balance(sender, balance - fee).map_err(fatal)?;
        self.credit(L1_FEE_VAULT, fee).map_err(fatal)?;
        Ok((fee, undo))
    }

    /// Sets `address`'s balance (creating the account if needed).
    pub(crate) fn set_balance(
        &mut self,
        address: Address,
        balance: U256,
    ) -> Result<(), ProviderError> {
        let mut info = self.basic(address)?.unwrap_or_default();
        info.balance = balance;
        self.accounts.insert(address, Some(info));
        self.dirty_accounts.insert(address);
        Ok(())
    }

    /// `address`'s account as it is now, for [`BlockState::restore`].
    pub(crate) fn save(&self, address: Address) -> SavedAccount {
        SavedAccount {
            address,
            entry: self.accounts.get(&address).cloned(),
            dirty: self.dirty_accounts.contains(&address),
        }
    }

    /// Puts an account back as [`BlockState::save`] found it.
    pub(crate) fn restore(&mut self, saved: SavedAccount) {
        let SavedAccount {
            address,
            entry,
            dirty,
        } = saved;
        match entry {
            Some(entry) => self.accounts.insert(address, entry),
            None => self.accounts.remove(&address),
        };
        if !dirty {
            self.dirty_accounts.remove(&address);
        }
    }

    /// Increments `address`'s nonce (an invalid deposit, included as failed).
    pub(crate) fn bump_nonce(&mut self, address: Address) -> Result<(), ProviderError> {
        let mut info = self.basic(address)?.unwrap_or_default();
        info.nonce = info.nonce.saturating_add(1);
        self.accounts.insert(address, Some(info));
        self.dirty_accounts.insert(address);
        Ok(())
    }

    fn into_diff(self) -> Result<(StateDiff, Vec<(B256, B256)>), Error> {
        let mut diff = StateDiff::default();
        let mut new_roots: HashMap<B256, B256> = HashMap::new();
        for (hash, code) in &self.codes {
            let bytes = code.original_bytes();
            new_roots.insert(*hash, code_root(&bytes));
            diff.codes.insert(*hash, bytes);
        }
        for address in &self.dirty_accounts {
            let info = self.accounts.get(address).cloned().flatten();
            let leaf = match info {
                None => None,
                Some(info) => {
                    let code_root = if info.code_hash == alloy_primitives::KECCAK256_EMPTY {
                        B256::ZERO
                    } else if let Some(root) = new_roots.get(&info.code_hash) {
                        *root
                    } else {
                        self.base.code_root(&info.code_hash)?
                    };
                    let leaf = AccountLeaf {
                        nonce: info.nonce,
                        balance: info.balance,
                        code_hash: info.code_hash,
                        code_root,
                    };
                    (!leaf.is_empty()).then_some(leaf)
                }
            };
            diff.accounts.insert(*address, leaf);
        }
        for (address, slots) in self.storage {
            let gone = matches!(self.accounts.get(&address), Some(None));
            for (slot, (value, dirty)) in slots {
                if dirty {
                    let value = if gone { U256::ZERO } else { value };
                    diff.storage.insert((address, slot), value);
                }
            }
        }
        Ok((diff, new_roots.into_iter().collect()))
    }
}

impl<P: StateProvider> Database for BlockState<'_, P> {
    type Error = ProviderError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        match self.accounts.entry(address) {
            Entry::Occupied(e) => Ok(e.get().clone()),
            Entry::Vacant(e) => Ok(e.insert(self.base.basic_ref(address)?).clone()),
        }
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(code.clone());
        }
        self.base.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Self::Error> {
        let cleared = self.cleared.contains(&address);
        let slots = self.storage.entry(address).or_default();
        match slots.entry(index) {
            Entry::Occupied(e) => Ok(e.get().0),
            Entry::Vacant(e) => {
                let value = if cleared {
                    U256::ZERO
                } else {
                    self.base.storage_ref(address, index)?
                };
                Ok(e.insert((value, false)).0)
            }
        }
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Self::Error> {
        self.base.block_hash_ref(number)
    }
}

impl<P: StateProvider> DatabaseCommit for BlockState<'_, P> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (address, account) in changes {
            if !account.is_touched() {
                continue;
            }
            self.dirty_accounts.insert(address);
            if account.is_selfdestructed() || account.is_empty() {
                // EIP-6780 destruction, or EIP-161: touched empty accounts are removed.
                if account.is_selfdestructed() {
                    self.clear_storage(address);
                }
                self.accounts.insert(address, None);
                continue;
            }
            let mut info = account.info;
            if account.status.contains(revm::state::AccountStatus::Created) {
                self.clear_storage(address);
            }
            if let Some(code) = info.code.take() {
                if !code.is_empty() {
                    self.codes.entry(info.code_hash).or_insert(code);
                }
            }
            self.accounts.insert(address, Some(info));
            let slots = self.storage.entry(address).or_default();
            for (slot, value) in account.storage {
                if value.is_changed() {
                    slots.insert(slot, (value.present_value(), true));
                }
            }
        }
    }
}

/// The state after `block`, before it is stored: `block`'s changes over `base` (the parent's
/// state). Lets the next block execute while `block` is still being written to disk.
pub struct AfterBlock<'a, P> {
    base: &'a P,
    block: &'a BuiltBlock,
    nodes: HashMap<B256, Node>,
}

impl<'a, P: StateProvider> AfterBlock<'a, P> {
    /// `block`'s post-state over `base`, which must hold `block`'s parent state.
    pub fn new(base: &'a P, block: &'a BuiltBlock) -> Self {
        Self {
            base,
            block,
            nodes: block.new_nodes.iter().copied().collect(),
        }
    }
}

impl<P: StateProvider> DatabaseRef for AfterBlock<'_, P> {
    type Error = ProviderError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        match self.block.diff.accounts.get(&address) {
            Some(None) => Ok(None),
            Some(Some(leaf)) => Ok(Some(leaf.to_account_info())),
            None => self.base.basic_ref(address),
        }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        match self.block.diff.codes.get(&code_hash) {
            Some(code) => Ok(Bytecode::new_raw(code.clone())),
            None => self.base.code_by_hash_ref(code_hash),
        }
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        match self.block.diff.storage.get(&(address, index)) {
            Some(value) => Ok(*value),
            None => self.base.storage_ref(address, index),
        }
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        if number == self.block.header.number {
            return Ok(self.block.hash);
        }
        self.base.block_hash_ref(number)
    }
}

impl<P: StateProvider> NodeReader for AfterBlock<'_, P> {
    fn node(&self, hash: &B256) -> Result<Option<Node>, crate::smt::SmtError> {
        match self.nodes.get(hash) {
            Some(node) => Ok(Some(*node)),
            None => self.base.node(hash),
        }
    }
}

impl<P: StateProvider> StateProvider for AfterBlock<'_, P> {
    fn code_root(&self, code_hash: &B256) -> Result<B256, ProviderError> {
        match self.block.code_roots.iter().find(|(h, _)| h == code_hash) {
            Some((_, root)) => Ok(*root),
            None => self.base.code_root(code_hash),
        }
    }
}
