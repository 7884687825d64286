//! Shared setup for the block-sealing benchmarks (`benches/seal_block.rs`, the criterion
//! bench) and the stage-timing binary (`src/bin/seal_stages.rs`).
//!
//! A [`Fixture`] is one workload, prepared once and outside any timing:
//!
//! * a genesis with `n` extra funded sender accounts (the dev genesis plus `n` accounts whose
//!   private keys are [`sender_key`]`(i) = keccak256(uint256(i))`);
//! * for the ERC20 workload, a deployed `TestToken` and a setup block that hands every sender
//!   some tokens; for the swap workload, a setup block deploying the npm Uniswap V2 contracts
//!   (WETH9, factory, router) and a `TestToken`, and adding liquidity ([`uniswap`]);
//! * a *pristine* data directory holding that chain (closed, ready to copy);
//! * `n` pre-signed EIP-1559 transactions (one per sender, nonce 0, each to a fresh recipient)
//!   whose senders were recovered from the signatures, as admission does.
//!
//! Sealing a block changes the chain, so every measured block runs on its own copy of the
//! pristine directory ([`Fixture::fresh`]). [`seal_block`] then does what the sequencer's
//! `seal_block` does, minus the pool: `BlockBuilder::new` on `store.tip_state()`, one `execute` per
//! transaction, `finish` (state diff, state-tree update, header) and `Store::commit_block`
//! (one sled batch and a flush), timing each stage.

use std::{
    fmt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559},
    network::TxSignerSync,
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolValue},
};
use alloy_consensus::{transaction::SignerRecoverable, Transaction as _};
use alloy_primitives::{keccak256, Address, Bytes, TxKind, U256};
use fraud_vm::{
    chain::ChainSpec,
    execute::{BlockAttributes, BlockBuilder, BuiltBlock, ExecutableTx},
};
use op_alloy_consensus::OpTxEnvelope;
use rayon::prelude::*;
use rollup_node::{
    node::{open_chain, DEV_GENESIS},
    store::Store,
};
use tempfile::TempDir;
use test_support::dev;

pub mod loadgen;
pub mod uniswap;

/// Every bench binary and criterion bench links this crate, so all of them measure with the
/// node binary's allocator (jemalloc, see `rollup-node`'s `main.rs`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Errors of the benchmark setup and pipeline.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// Result alias for [`BenchError`].
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// The compiled `TestToken` (OpenZeppelin 5 ERC20, `constructor(string,string,uint256)`).
const TEST_TOKEN_JSON: &str = include_str!("../../contracts/out/TestToken.json");

/// ETH given to every bench sender in the genesis (100 ETH).
pub const SENDER_BALANCE: u128 = 100_000_000_000_000_000_000;
/// Value of each ETH transfer (0.001 ETH).
pub const ETH_TRANSFER_VALUE: u128 = 1_000_000_000_000_000;
/// One whole token (18 decimals).
pub const TOKEN: u128 = 1_000_000_000_000_000_000;
/// Tokens handed to each sender in the ERC20 setup block.
pub const TOKENS_PER_SENDER: u128 = 1_000 * TOKEN;
/// Tokens each sender transfers in the measured ERC20 block.
pub const TOKENS_PER_TRANSFER: u128 = TOKEN;

/// Gas limit of every ETH transfer.
const ETH_TRANSFER_GAS: u64 = 21_000;
/// Gas limit of every ERC20 transfer (a transfer to a fresh holder uses about 51k).
const ERC20_TRANSFER_GAS: u64 = 80_000;
/// Gas limit of the token deployment.
const DEPLOY_GAS: u64 = 3_000_000;
/// `maxFeePerGas` of every transaction (10 gwei; the dev genesis starts at 1 gwei).
const MAX_FEE_PER_GAS: u128 = 10_000_000_000;
/// `maxPriorityFeePerGas` of every transaction (1 gwei).
const MAX_PRIORITY_FEE_PER_GAS: u128 = 1_000_000_000;

sol! {
    /// The part of ERC20 the benchmarks call.
    interface IERC20 {
        /// Moves `amount` tokens from the caller to `to`.
        function transfer(address to, uint256 amount) external returns (bool);
    }
}

/// What the measured block contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Workload {
    /// `n` EIP-1559 ETH transfers, sender `i` → fresh recipient `i` (21,000 gas each).
    EthTransfers,
    /// `n` ERC20 `transfer` calls on a deployed `TestToken`, sender `i` → fresh holder `i`
    /// (a new balance slot, about 51,000 gas each).
    Erc20Transfers,
    /// `n` Uniswap V2 `swapExactETHForTokens` calls on one WETH/`TestToken` pool of the npm
    /// contracts, sender `i` swapping 0.001 ETH (about 105,000 gas each).
    UniswapSwaps,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Workload; 3] = [
        Workload::EthTransfers,
        Workload::Erc20Transfers,
        Workload::UniswapSwaps,
    ];

    /// Short name, as used in benchmark ids and tables.
    pub fn name(self) -> &'static str {
        match self {
            Workload::EthTransfers => "eth_transfers",
            Workload::Erc20Transfers => "erc20_transfers",
            Workload::UniswapSwaps => "uniswap_swaps",
        }
    }

    /// The criterion benchmark id within the `seal` group, e.g. `eth_transfers_10k`.
    pub fn bench_id(self, txs: usize) -> String {
        if txs >= 1000 && txs.is_multiple_of(1000) {
            format!("{}_{}k", self.name(), txs / 1000)
        } else {
            format!("{}_{txs}", self.name())
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Private key of bench sender `i`: `keccak256(uint256(i))` (the 32-byte big-endian index).
pub fn sender_key(i: usize) -> PrivateKeySigner {
    let seed = keccak256(U256::from(i).to_be_bytes::<32>());
    PrivateKeySigner::from_bytes(&seed).expect("keccak output is a valid secp256k1 key")
}

/// The fresh (never funded, never used) recipient of sender `i`'s transfer.
pub fn recipient(i: usize) -> Address {
    let mut preimage = [0u8; 17];
    preimage[..9].copy_from_slice(b"recipient");
    preimage[9..].copy_from_slice(&(i as u64).to_be_bytes());
    Address::from_word(keccak256(preimage))
}

/// The dev genesis ([`DEV_GENESIS`]) with every address of `senders` funded with 100 ETH.
pub fn genesis_json(senders: &[Address]) -> Result<String> {
    let mut genesis: serde_json::Value = serde_json::from_str(DEV_GENESIS)?;
    let alloc = genesis
        .get_mut("alloc")
        .and_then(|a| a.as_object_mut())
        .ok_or("the dev genesis has no alloc object")?;
    let balance = format!("{:#x}", SENDER_BALANCE);
    for address in senders {
        alloc.insert(
            address.to_checksum(None),
            serde_json::json!({ "balance": balance }),
        );
    }
    Ok(serde_json::to_string(&genesis)?)
}

/// The storage slot of `holder`'s balance in an OpenZeppelin 5 ERC20
/// (`mapping(address => uint256) _balances` is slot 0).
pub fn erc20_balance_slot(holder: Address) -> U256 {
    U256::from_be_bytes(keccak256((holder, U256::ZERO).abi_encode()).0)
}

/// `TestToken` balance of `holder`, read from the store's latest state.
pub fn token_balance(store: &Store, token: Address, holder: Address) -> Result<U256> {
    Ok(store.storage(&token, &erc20_balance_slot(holder))?)
}

/// ETH balance of `address` in the store's latest state.
pub fn eth_balance(store: &Store, address: Address) -> Result<U256> {
    Ok(store
        .account(&address)?
        .map(|leaf| leaf.balance)
        .unwrap_or_default())
}

/// The `TestToken` creation code with ABI-encoded constructor arguments.
fn token_initcode(initial_supply: U256) -> Result<Bytes> {
    let artifact: serde_json::Value = serde_json::from_str(TEST_TOKEN_JSON)?;
    let hex = artifact["bytecode"]
        .as_str()
        .ok_or("TestToken.json has no bytecode")?;
    let mut code = alloy_primitives::hex::decode(hex)?;
    code.extend(
        (
            "Bench Token".to_string(),
            "BENCH".to_string(),
            initial_supply,
        )
            .abi_encode_params(),
    );
    Ok(code.into())
}

/// Signs an EIP-1559 transaction with the given fee cap and tip.
#[allow(clippy::too_many_arguments)]
pub fn sign_eip1559(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
    (max_fee_per_gas, max_priority_fee_per_gas): (u128, u128),
) -> Result<OpTxEnvelope> {
    let mut tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas,
        max_priority_fee_per_gas,
        to,
        value,
        input,
        ..Default::default()
    };
    let signature = signer.sign_transaction_sync(&mut tx)?;
    Ok(OpTxEnvelope::Eip1559(tx.into_signed(signature)))
}

/// Signs an EIP-1559 transaction and returns it with its sender **recovered from the
/// signature** (what admission hands the pool).
fn sign(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    to: TxKind,
    value: U256,
    input: Bytes,
) -> Result<ExecutableTx> {
    let fees = (MAX_FEE_PER_GAS, MAX_PRIORITY_FEE_PER_GAS);
    let tx = sign_eip1559(signer, chain_id, nonce, gas_limit, to, value, input, fees)?;
    let sender = tx.recover_signer()?;
    if sender != signer.address() {
        return Err(format!("recovered {sender}, signed by {}", signer.address()).into());
    }
    Ok(ExecutableTx { tx, sender })
}

/// Wall-clock time of each stage of sealing one block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageTimes {
    /// `BlockBuilder::new` and every `BlockBuilder::execute` call.
    pub execute: Duration,
    /// `BlockBuilder::finish`: state diff, state-tree update (new state root), header.
    pub state_root: Duration,
    /// `Store::commit_block`: building the sled batch, applying it, flushing it.
    pub commit: Duration,
}

impl StageTimes {
    /// All three stages.
    pub fn total(&self) -> Duration {
        self.execute + self.state_root + self.commit
    }
}

/// The gas limit to give the measured block: room for every transaction's gas limit, and at
/// least the chain's own limit.
pub fn block_gas_limit(txs: &[ExecutableTx], chain_gas_limit: u64) -> u64 {
    txs.iter()
        .map(|t| t.tx.gas_limit())
        .sum::<u64>()
        .max(chain_gas_limit)
}

/// Builds, seals and commits one block on top of `store`'s head, as the sequencer does (without
/// the pool), timing each stage. Every transaction must be included; the caller checks the
/// receipts ([`check_block`]).
pub fn seal_block(
    spec: &ChainSpec,
    store: &Store,
    txs: Vec<ExecutableTx>,
    gas_limit: u64,
) -> Result<(BuiltBlock, StageTimes)> {
    let head = store.head().ok_or("the store holds no chain")?;
    let attributes = BlockAttributes {
        timestamp: head.header.timestamp + 1,
        gas_limit,
        prevrandao: keccak256(head.hash),
        extra_data: Bytes::new(),
    };
    let state = store.tip_state();

    let start = Instant::now();
    let mut builder = BlockBuilder::new(spec, &state, &head.header, head.hash, attributes);
    for (i, tx) in txs.into_iter().enumerate() {
        if let Err(e) = builder.execute(tx) {
            return Err(format!("transaction {i} not included: {e}").into());
        }
    }
    let executed = Instant::now();
    let block = builder.finish()?;
    let finished = Instant::now();
    store.commit_block(&block)?;
    let committed = Instant::now();

    Ok((
        block,
        StageTimes {
            execute: executed - start,
            state_root: finished - executed,
            commit: committed - finished,
        },
    ))
}

/// Checks that `block` holds `expected` transactions and that every one succeeded.
pub fn check_block(block: &BuiltBlock, expected: usize) -> Result<()> {
    if block.transactions.len() != expected {
        return Err(format!(
            "block {} holds {} transactions, expected {expected}",
            block.header.number,
            block.transactions.len()
        )
        .into());
    }
    if let Some(i) = block.receipts.iter().position(|r| !r.status()) {
        return Err(format!(
            "transaction {i} of block {} failed (output {})",
            block.header.number, block.outcomes[i].output
        )
        .into());
    }
    Ok(())
}

/// Recursively copies the directory `from` into `to` (which must not exist).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A private copy of a fixture's pristine chain, open and ready to seal the measured block.
pub struct FreshStore {
    /// The store (dropped before its directory).
    pub store: Store,
    /// The transactions of the measured block (a copy of [`Fixture::txs`]).
    pub txs: Vec<ExecutableTx>,
    /// Owns the data directory; removed on drop.
    pub dir: TempDir,
}

/// What a [`Fixture`] took to prepare (not part of any measurement).
#[derive(Clone, Copy, Debug, Default)]
pub struct SetupTimes {
    /// Deriving the sender keys (secp256k1 public keys).
    pub keys: Duration,
    /// Writing the genesis (10 dev accounts + senders) and, for ERC20, the setup blocks.
    pub chain: Duration,
    /// Signing the measured block's transactions and recovering their senders.
    pub sign: Duration,
}

/// One prepared workload (see the crate docs).
pub struct Fixture {
    /// The workload.
    pub workload: Workload,
    /// The chain's parameters.
    pub spec: ChainSpec,
    /// The measured block's transactions, in block order.
    pub txs: Vec<ExecutableTx>,
    /// The measured block's gas limit ([`block_gas_limit`]).
    pub gas_limit: u64,
    /// Sender `i` signs transaction `i`.
    pub senders: Vec<Address>,
    /// Recipient `i` receives transaction `i`'s ETH or tokens.
    pub recipients: Vec<Address>,
    /// The `TestToken` (ERC20 and swap workloads).
    pub token: Option<Address>,
    /// The Uniswap V2 pool (swap workload only).
    pub pool: Option<uniswap::Pool>,
    /// Head block number of the pristine chain (the measured block is the next one).
    pub head_number: u64,
    /// How long the preparation took.
    pub setup: SetupTimes,
    /// The store's state history (None: archive).
    pub state_history: Option<u64>,
    pristine: TempDir,
}

impl Fixture {
    /// Prepares `workload` with `txs` senders and transactions (slow for large `txs`: key
    /// derivation, signing, and for ERC20 a token-distribution block of `txs` transfers).
    pub fn new(workload: Workload, txs: usize) -> Result<Self> {
        Self::with_state_history(workload, txs, None)
    }

    /// [`Fixture::new`] on a store with a state history of `history` blocks (the state tree in
    /// memory, see `rollup_node::history`; None: an archive store, as [`Fixture::new`]).
    pub fn with_state_history(
        workload: Workload,
        txs: usize,
        history: Option<u64>,
    ) -> Result<Self> {
        if txs == 0 {
            return Err("a workload needs at least one transaction".into());
        }
        let started = Instant::now();
        let keys: Vec<PrivateKeySigner> = (0..txs).into_par_iter().map(sender_key).collect();
        let senders: Vec<Address> = keys.iter().map(|k| k.address()).collect();
        let recipients: Vec<Address> = (0..txs).map(recipient).collect();
        let keys_done = Instant::now();

        let pristine = tempfile::Builder::new()
            .prefix("seal-bench-pristine-")
            .tempdir()?;
        let (store, genesis) = open_chain(pristine.path(), &genesis_json(&senders)?, history)?;
        let spec = genesis.spec.clone();
        let chain_gas_limit = genesis.header.gas_limit;
        let (token, pool) = match workload {
            Workload::EthTransfers => (None, None),
            Workload::Erc20Transfers => (
                Some(setup_token(&store, &spec, chain_gas_limit, &senders)?),
                None,
            ),
            Workload::UniswapSwaps => {
                let pool = uniswap::setup(&store, &spec, chain_gas_limit)?;
                (Some(pool.token), Some(pool))
            }
        };
        let head_number = store.head_number();
        // Close the pristine store (sled flushes and releases its files) before any copy.
        drop(store);
        let chain_done = Instant::now();

        let chain_id = spec.chain_id;
        let txs = keys
            .par_iter()
            .zip(&recipients)
            .map(|(key, to)| match (pool, token) {
                (Some(pool), _) => {
                    let (gas, to, value, input) = pool.swap_call(key.address());
                    sign(key, chain_id, 0, gas, to, value, input)
                }
                (None, None) => sign(
                    key,
                    chain_id,
                    0,
                    ETH_TRANSFER_GAS,
                    TxKind::Call(*to),
                    U256::from(ETH_TRANSFER_VALUE),
                    Bytes::new(),
                ),
                (None, Some(token)) => sign(
                    key,
                    chain_id,
                    0,
                    ERC20_TRANSFER_GAS,
                    TxKind::Call(token),
                    U256::ZERO,
                    IERC20::transferCall {
                        to: *to,
                        amount: U256::from(TOKENS_PER_TRANSFER),
                    }
                    .abi_encode()
                    .into(),
                ),
            })
            .collect::<Result<Vec<_>>>()?;
        let gas_limit = block_gas_limit(&txs, chain_gas_limit);
        let signed = Instant::now();

        Ok(Self {
            workload,
            spec,
            txs,
            gas_limit,
            senders,
            recipients,
            token,
            pool,
            head_number,
            setup: SetupTimes {
                keys: keys_done - started,
                chain: chain_done - keys_done,
                sign: signed - chain_done,
            },
            state_history: history,
            pristine,
        })
    }

    /// The pristine data directory (closed; copy it, do not open it).
    pub fn pristine_dir(&self) -> &Path {
        self.pristine.path()
    }

    /// Number of transactions in the measured block.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether the measured block is empty (never: [`Fixture::new`] refuses zero).
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Copies the pristine chain into a new temporary directory, opens it and clones the
    /// transactions: everything one measured block needs, prepared outside the timing.
    pub fn fresh(&self) -> Result<FreshStore> {
        let dir = tempfile::Builder::new()
            .prefix("seal-bench-run-")
            .tempdir()?;
        let datadir: PathBuf = dir.path().join("data");
        copy_dir(self.pristine.path(), &datadir)?;
        let store = Store::open(&datadir.join("chain"), self.state_history)?;
        if store.head_number() != self.head_number {
            return Err(format!(
                "copied chain is at block {}, expected {}",
                store.head_number(),
                self.head_number
            )
            .into());
        }
        Ok(FreshStore {
            store,
            txs: self.txs.clone(),
            dir,
        })
    }

    /// Seals the measured block on a fresh copy: [`seal_block`] then [`check_block`].
    /// Returns the copy (drop it outside any timing), the block and the stage times.
    pub fn seal_fresh(&self, fresh: FreshStore) -> Result<(FreshStore, BuiltBlock, StageTimes)> {
        let FreshStore { store, txs, dir } = fresh;
        let (block, times) = seal_block(&self.spec, &store, txs, self.gas_limit)?;
        check_block(&block, self.len())?;
        Ok((
            FreshStore {
                store,
                txs: Vec::new(),
                dir,
            },
            block,
            times,
        ))
    }
}

/// What [`Fixture::seal_pipelined`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Pipelined {
    /// Blocks sealed.
    pub blocks: u64,
    /// Transactions they hold (all of the fixture's).
    pub txs: usize,
    /// From starting the sequencer until the last block was on disk.
    pub elapsed: Duration,
}

impl Fixture {
    /// Seals every transaction through the node's own sequencer on a fresh copy: the pool
    /// holds them all (senders known, as admission leaves them), and `Sequencer::run` builds
    /// blocks of at most `block_txs` back to back while its writer thread commits the
    /// previous ones (write-behind, see `rollup_node::sequencer`). Timed from the start until
    /// the block holding the last transaction is on disk. Checks that every transaction is in
    /// a block and succeeded.
    pub fn seal_pipelined(&self, block_txs: usize) -> Result<Pipelined> {
        use std::sync::Arc;

        use rollup_node::{
            events::ChainEvents,
            mempool::{Mempool, PoolConfig},
            sequencer::{Sequencer, SequencerConfig},
        };

        let FreshStore { store, txs, dir } = self.fresh()?;
        let pool = Arc::new(Mempool::new(PoolConfig {
            max_txs: txs.len(),
            ..PoolConfig::default()
        }));
        for tx in txs {
            pool.add(tx.tx, tx.sender, || Ok(0))?;
        }
        let sequencer = Sequencer::new(
            self.spec.clone(),
            store.clone(),
            pool.clone(),
            ChainEvents::default(),
            SequencerConfig {
                block_time: Duration::from_millis(1),
                gas_limit: self.gas_limit,
                max_block_txs: block_txs.max(1),
                max_build_time: Duration::from_secs(60),
                ignore_deposits: false,
            },
        );
        let runtime = tokio::runtime::Runtime::new()?;
        let started = Instant::now();
        runtime.block_on(async {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let run = tokio::spawn(sequencer.run(stopped));
            // The pool empties as blocks are built; `run` returns once the writer has
            // committed every built block.
            while !pool.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let _ = stop.send(true);
            run.await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        })?;
        let elapsed = started.elapsed();
        let mut included = 0;
        for number in self.head_number + 1..=store.head_number() {
            let receipts = store
                .receipts(number)?
                .ok_or_else(|| format!("block {number} has no receipts"))?;
            if let Some(i) = receipts.iter().position(|r| !r.status()) {
                return Err(format!("block {number}: transaction {i} failed").into());
            }
            included += receipts.len();
        }
        if included != self.len() {
            return Err(format!("{included} of {} transactions were included", self.len()).into());
        }
        let blocks = store.head_number() - self.head_number;
        drop(store);
        drop(dir);
        Ok(Pipelined {
            blocks,
            txs: included,
            elapsed,
        })
    }
}

/// Deploys `TestToken` from dev account 0 (block 1), then sends every holder
/// [`TOKENS_PER_SENDER`] tokens in one block of transfers from dev account 0 (block 2).
fn setup_token(
    store: &Store,
    spec: &ChainSpec,
    chain_gas_limit: u64,
    holders: &[Address],
) -> Result<Address> {
    let dev = dev::signer(0);
    let chain_id = spec.chain_id;
    let supply = U256::from(TOKENS_PER_SENDER) * U256::from(holders.len()) * U256::from(2);
    let deploy = sign(
        &dev,
        chain_id,
        0,
        DEPLOY_GAS,
        TxKind::Create,
        U256::ZERO,
        token_initcode(supply)?,
    )?;
    let (block, _) = seal_block(spec, store, vec![deploy], chain_gas_limit)?;
    check_block(&block, 1)?;
    let token = block.outcomes[0]
        .contract_address
        .ok_or("the TestToken deployment created no contract")?;
    // The balance checks read `_balances` slots directly: make sure the layout is the expected one.
    let minted = token_balance(store, token, dev.address())?;
    if minted != supply {
        return Err(
            format!("deployer holds {minted} tokens, expected {supply}: slot layout?").into(),
        );
    }

    let amount = U256::from(TOKENS_PER_SENDER);
    let transfers = holders
        .par_iter()
        .enumerate()
        .map(|(i, to)| {
            sign(
                &dev,
                chain_id,
                1 + i as u64,
                ERC20_TRANSFER_GAS,
                TxKind::Call(token),
                U256::ZERO,
                IERC20::transferCall { to: *to, amount }.abi_encode().into(),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let gas_limit = block_gas_limit(&transfers, chain_gas_limit);
    let (block, _) = seal_block(spec, store, transfers, gas_limit)?;
    check_block(&block, holders.len())?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_ids() {
        assert_eq!(Workload::EthTransfers.bench_id(10_000), "eth_transfers_10k");
        assert_eq!(
            Workload::Erc20Transfers.bench_id(10_000),
            "erc20_transfers_10k"
        );
        assert_eq!(Workload::Erc20Transfers.bench_id(50), "erc20_transfers_50");
    }

    #[test]
    fn senders_and_recipients_are_distinct() {
        let senders: Vec<Address> = (0..20).map(|i| sender_key(i).address()).collect();
        let recipients: Vec<Address> = (0..20).map(recipient).collect();
        let mut all: Vec<Address> = senders.iter().chain(&recipients).copied().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 40);
    }
}
