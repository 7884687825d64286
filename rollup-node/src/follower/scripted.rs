//! A scripted [`L1Source`] for tests: an in-memory L1 whose answers the test writes (blocks,
//! Inbox logs, transactions) and which fails the calls the test chooses.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

use alloy::{
    primitives::{Address, Bytes, B256, U256},
    rpc::types::Log,
};
use alloy_sol_types::{SolCall, SolEvent};
use fraud_vm::{
    batch::{appendSequencerBatchCall, Batch, BatchAppended},
    deposit::{DepositQueued, L1BlockInfo},
};
use parking_lot::Mutex;

use super::source::{L1Source, SourceError};

/// The script: what L1 holds and which calls fail.
#[derive(Debug, Default)]
pub struct Script {
    /// `eth_chainId`.
    pub chain_id: u64,
    /// `eth_blockNumber`.
    pub head: u64,
    /// Blocks by number.
    pub blocks: BTreeMap<u64, L1BlockInfo>,
    /// Inbox logs in L1 order.
    pub logs: Vec<Log>,
    /// Transaction calldata by hash.
    pub txs: HashMap<B256, Bytes>,
    /// Calls (numbered from 0 in the order they are made) that fail.
    pub fail: BTreeSet<usize>,
    /// Every call made so far, by method name.
    pub calls: Vec<&'static str>,
}

/// [`L1Source`] answering from a shared [`Script`] (clones share it).
#[derive(Clone, Debug, Default)]
pub struct ScriptedL1(pub Arc<Mutex<Script>>);

/// Hash of L1 block `number` on fork `fork` (fork 0: the first chain).
pub fn block_hash(number: u64, fork: u8) -> B256 {
    let mut hash = B256::with_last_byte(fork);
    hash[..8].copy_from_slice(&number.to_be_bytes());
    hash
}

impl ScriptedL1 {
    /// An L1 of chain `chain_id` with blocks `0..=head` on fork 0 and no logs.
    pub fn new(chain_id: u64, head: u64) -> Self {
        let l1 = Self::default();
        {
            let mut s = l1.0.lock();
            s.chain_id = chain_id;
            s.head = head;
        }
        l1.extend_to(head);
        l1
    }

    /// Mines blocks (on fork 0) up to `head`.
    pub fn extend_to(&self, head: u64) {
        let mut s = self.0.lock();
        let from = s.blocks.len() as u64;
        for number in from..=head {
            s.blocks.insert(
                number,
                L1BlockInfo {
                    number,
                    hash: block_hash(number, 0),
                    timestamp: 1_000 + 12 * number,
                    basefee: 7,
                },
            );
        }
        s.head = s.head.max(head);
    }

    /// Drops the blocks above `head` (a reorg onto a shorter chain, or a lagging node).
    pub fn truncate(&self, head: u64) {
        let mut s = self.0.lock();
        s.blocks.retain(|number, _| *number <= head);
        s.head = head;
    }

    /// Replaces block `number`'s hash (a reorg of that block).
    pub fn reorg(&self, number: u64, fork: u8) {
        if let Some(block) = self.0.lock().blocks.get_mut(&number) {
            block.hash = block_hash(number, fork);
        }
    }

    /// Queues deposit `index` in L1 block `block` (a `DepositQueued` log).
    pub fn deposit(&self, inbox: Address, index: u64, block: u64) {
        let event = DepositQueued {
            index: U256::from(index),
            from: Address::repeat_byte(0xaa),
            to: Address::repeat_byte(0xbb),
            mint: U256::from(index + 1),
            value: U256::ZERO,
            gasLimit: 100_000,
            isCreation: false,
            data: Bytes::new(),
            l1BlockNumber: block,
            l1Timestamp: 1_000 + 12 * block,
            messageHash: B256::ZERO,
        };
        self.push_log(
            inbox,
            block,
            B256::with_last_byte(index as u8),
            event.encode_log_data(),
        );
    }

    /// Posts `batch` with Inbox batch index `index` in L1 block `block`: a `BatchAppended` log
    /// and its transaction's calldata.
    pub fn batch(&self, inbox: Address, index: u64, block: u64, batch: &Batch, after: u64) {
        let data = Bytes::from(batch.encode());
        let event = BatchAppended {
            batchIndex: U256::from(index),
            dataRoot: fraud_vm::merkle::data_root(&data),
            dataLength: U256::from(data.len()),
            afterDelayedMessagesRead: U256::from(after),
            batchAcc: B256::ZERO,
            forced: false,
        };
        let tx = B256::repeat_byte(0xb0 + index as u8);
        let input = appendSequencerBatchCall {
            data,
            afterDelayedMessagesRead: U256::from(after),
        }
        .abi_encode();
        self.0.lock().txs.insert(tx, input.into());
        self.push_log(inbox, block, tx, event.encode_log_data());
    }

    /// A forced batch (`Inbox.forceInclusion(after)`) with Inbox batch index `index` in L1
    /// block `block`.
    pub fn forced(&self, inbox: Address, index: u64, block: u64, after: u64) {
        let event = BatchAppended {
            batchIndex: U256::from(index),
            dataRoot: fraud_vm::merkle::data_root(&[]),
            dataLength: U256::ZERO,
            afterDelayedMessagesRead: U256::from(after),
            batchAcc: B256::repeat_byte(0xfa),
            forced: true,
        };
        let tx = B256::repeat_byte(0xf0 + index as u8);
        self.push_log(inbox, block, tx, event.encode_log_data());
    }

    /// Replaces the calldata of L1 transaction `tx` (e.g. a batch's, to script an L1 whose
    /// transactions do not carry what its Inbox committed).
    pub fn set_input(&self, tx: B256, input: Bytes) {
        self.0.lock().txs.insert(tx, input);
    }

    fn push_log(&self, inbox: Address, block: u64, tx: B256, data: alloy::primitives::LogData) {
        let log = Log {
            inner: alloy::primitives::Log {
                address: inbox,
                data,
            },
            block_number: Some(block),
            transaction_hash: Some(tx),
            ..Default::default()
        };
        let mut s = self.0.lock();
        s.logs.push(log);
        s.logs.sort_by_key(|l| l.block_number);
    }

    /// Makes the calls numbered `calls` (counting every call from the first) fail.
    pub fn fail_calls(&self, calls: impl IntoIterator<Item = usize>) {
        self.0.lock().fail.extend(calls);
    }

    /// The calls made so far.
    pub fn calls(&self) -> Vec<&'static str> {
        self.0.lock().calls.clone()
    }

    /// Records a call to `name` and fails it if the script says so.
    fn call(&self, name: &'static str) -> Result<parking_lot::MutexGuard<'_, Script>, SourceError> {
        let mut s = self.0.lock();
        let n = s.calls.len();
        s.calls.push(name);
        if s.fail.contains(&n) {
            return Err(SourceError::Rpc {
                call: name,
                reason: format!("scripted failure of call {n}"),
            });
        }
        Ok(s)
    }
}

impl L1Source for ScriptedL1 {
    async fn chain_id(&self) -> Result<u64, SourceError> {
        Ok(self.call("eth_chainId")?.chain_id)
    }

    async fn head(&self) -> Result<u64, SourceError> {
        Ok(self.call("eth_blockNumber")?.head)
    }

    async fn block(&self, number: u64) -> Result<Option<L1BlockInfo>, SourceError> {
        let s = self.call("eth_getBlockByNumber")?;
        Ok(s.blocks.get(&number).copied().filter(|_| number <= s.head))
    }

    async fn inbox_logs(
        &self,
        inbox: Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, SourceError> {
        let s = self.call("eth_getLogs")?;
        Ok(s.logs
            .iter()
            .filter(|l| l.address() == inbox)
            .filter(|l| l.block_number.is_some_and(|b| (from..=to).contains(&b)))
            .cloned()
            .collect())
    }

    async fn transaction_input(&self, hash: B256) -> Result<Option<Bytes>, SourceError> {
        Ok(self
            .call("eth_getTransactionByHash")?
            .txs
            .get(&hash)
            .cloned())
    }

    async fn batch_acc(
        &self,
        inbox: Address,
        n: u64,
        at: u64,
    ) -> Result<Option<B256>, SourceError> {
        if n == 0 {
            return Ok(Some(B256::ZERO));
        }
        let s = self.call("eth_call")?;
        Ok(s.logs
            .iter()
            .filter(|l| l.address() == inbox)
            .filter(|l| l.block_number.is_some_and(|b| b <= at))
            .filter_map(|l| BatchAppended::decode_log(&l.inner).ok())
            .find(|e| e.batchIndex == U256::from(n - 1))
            .map(|e| e.batchAcc))
    }
}
