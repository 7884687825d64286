//! The transaction pool.
//!
//! Transactions are kept per sender, ordered by nonce. A sender's transactions from its state
//! nonce up to the first gap are *pending* (ready for the next block); the rest are *queued*.
//! A transaction with the same sender and nonce as a pooled one replaces it only if it raises
//! both the fee cap and the priority fee by at least [`PoolConfig::price_bump_percent`].
//! When the pool is full, a new transaction evicts the cheapest queued-or-last transaction of
//! another sender if it pays more, else it is refused.
//!
//! Stateless and state checks (signature, chain id, nonce, balance, intrinsic gas) happen in
//! [`crate::admission`] before a transaction reaches the pool.

use std::{
    cmp::Ordering,
    collections::{BTreeMap, BinaryHeap, HashMap},
    sync::Arc,
};

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256};
use op_alloy_consensus::OpTxEnvelope;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Limits of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Most transactions held in total.
    pub max_txs: usize,
    /// Most transactions held for one sender.
    pub max_per_sender: usize,
    /// Largest accepted distance between a transaction's nonce and the sender's state nonce.
    pub max_nonce_gap: u64,
    /// Minimum fee increase, in percent, for a replacement.
    pub price_bump_percent: u128,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_txs: 200_000,
            max_per_sender: 4096,
            max_nonce_gap: 1024,
            price_bump_percent: 10,
        }
    }
}

/// A transaction in the pool.
#[derive(Clone, Debug)]
pub struct PooledTx {
    /// The transaction.
    pub tx: Arc<OpTxEnvelope>,
    /// Its hash.
    pub hash: B256,
    /// Its recovered sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: u64,
    arrival: u64,
}

impl PooledTx {
    fn max_fee(&self) -> u128 {
        self.tx.max_fee_per_gas()
    }

    fn tip_cap(&self) -> u128 {
        self.tx
            .max_priority_fee_per_gas()
            .unwrap_or_else(|| self.tx.max_fee_per_gas())
    }

    /// The tip per gas the transaction pays at `base_fee` (`None` if it cannot pay the base fee).
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.tx.effective_tip_per_gas(base_fee)
    }
}

/// Why the pool refused a transaction. The messages are the ones Ethereum clients use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Same hash already pooled.
    #[error("already known")]
    AlreadyKnown,
    /// Nonce below the sender's state nonce.
    #[error("nonce too low: next nonce {state}, tx nonce {tx}")]
    NonceTooLow {
        /// State nonce.
        state: u64,
        /// Transaction nonce.
        tx: u64,
    },
    /// Nonce too far ahead of the sender's next nonce (after its pending transactions).
    #[error("nonce too high: next nonce {state}, tx nonce {tx}, max gap {gap}")]
    NonceTooHigh {
        /// State nonce.
        state: u64,
        /// Transaction nonce.
        tx: u64,
        /// Allowed gap.
        gap: u64,
    },
    /// Replacement without the required fee bump.
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The pool is full and the transaction does not pay more than what it would evict.
    #[error("txpool is full")]
    PoolFull,
    /// The sender has too many pooled transactions.
    #[error("txpool is full: sender has {0} pooled transactions")]
    SenderFull(usize),
    /// The sender's nonce could not be read.
    #[error("state unavailable: {0}")]
    State(String),
}

#[derive(Default)]
struct Inner {
    by_sender: HashMap<Address, BTreeMap<u64, PooledTx>>,
    by_hash: HashMap<B256, (Address, u64)>,
    /// The state nonce of each sender with pooled transactions.
    state_nonce: HashMap<Address, u64>,
    /// Next nonces implied by blocks built but not yet committed (the store lags behind them).
    in_flight: HashMap<Address, u64>,
    arrivals: u64,
}

impl Inner {
    /// The nonce after the run of pooled transactions of `sender` that starts at `from`.
    fn next_nonce(&self, sender: &Address, from: u64) -> u64 {
        let run = self.by_sender.get(sender).map_or(0, |txs| {
            txs.range(from..)
                .map(|(n, _)| *n)
                .zip(from..)
                .take_while(|(n, want)| n == want)
                .count()
        });
        from + run as u64
    }

    fn remove(&mut self, sender: &Address, nonce: u64) -> Option<PooledTx> {
        let txs = self.by_sender.get_mut(sender)?;
        let removed = txs.remove(&nonce)?;
        self.by_hash.remove(&removed.hash);
        if txs.is_empty() {
            self.by_sender.remove(sender);
            self.state_nonce.remove(sender);
        }
        Some(removed)
    }

    /// The cheapest last-in-line transaction (not of `except`), the candidate for eviction.
    fn eviction_candidate(&self, except: &Address) -> Option<(Address, u64, u128)> {
        self.by_sender
            .iter()
            .filter(|(s, _)| *s != except)
            .filter_map(|(s, txs)| {
                txs.iter()
                    .next_back()
                    .map(|(n, t)| (*s, *n, t.tip_cap().min(t.max_fee())))
            })
            .min_by_key(|(_, _, price)| *price)
    }
}

/// The transaction pool (see the module docs).
pub struct Mempool {
    config: PoolConfig,
    inner: Mutex<Inner>,
    /// Signalled whenever a transaction becomes pending.
    pub pending_added: Notify,
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner::default()),
            pending_added: Notify::new(),
        }
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.inner.lock().by_hash.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of pending and queued transactions.
    pub fn status(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        let mut pending = 0;
        let mut below = 0;
        for (sender, txs) in &inner.by_sender {
            let first = inner.state_nonce.get(sender).copied().unwrap_or(0);
            pending += (inner.next_nonce(sender, first) - first) as usize;
            // Transactions of a block built but not yet on disk are neither.
            below += txs.range(..first).count();
        }
        (pending, inner.by_hash.len() - pending - below)
    }

    /// A pooled transaction by hash.
    pub fn get(&self, hash: &B256) -> Option<PooledTx> {
        let inner = self.inner.lock();
        let (sender, nonce) = inner.by_hash.get(hash)?;
        inner.by_sender.get(sender)?.get(nonce).cloned()
    }

    /// The nonce after the sender's last pending transaction (for the `pending` block tag).
    pub fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        self.inner.lock().next_nonce(sender, state_nonce)
    }

    /// Adds a validated transaction. `state_nonce` reads the sender's nonce in the latest
    /// committed state; it is called under the pool lock, so a block committed meanwhile
    /// cannot leave the pool with a stale nonce for the sender.
    /// Returns the hash of a transaction it replaced, if any.
    pub fn add(
        &self,
        tx: OpTxEnvelope,
        sender: Address,
        state_nonce: impl FnOnce() -> Result<u64, PoolError>,
    ) -> Result<Option<B256>, PoolError> {
        let hash = tx.tx_hash();
        let nonce = tx.nonce();
        let mut inner = self.inner.lock();
        let mut state_nonce = state_nonce()?;
        if let Some(n) = inner.in_flight.get(&sender) {
            state_nonce = state_nonce.max(*n);
        }
        if let Some(n) = inner.state_nonce.get(&sender) {
            state_nonce = state_nonce.max(*n);
        }
        if inner.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        if nonce < state_nonce {
            return Err(PoolError::NonceTooLow {
                state: state_nonce,
                tx: nonce,
            });
        }
        // The gap is measured from the sender's next nonce after its pending transactions, so
        // a sender may keep a long run of consecutive transactions in flight.
        let next = inner.next_nonce(&sender, state_nonce);
        if nonce > next && nonce - next > self.config.max_nonce_gap {
            return Err(PoolError::NonceTooHigh {
                state: next,
                tx: nonce,
                gap: self.config.max_nonce_gap,
            });
        }
        inner.arrivals += 1;
        let new = PooledTx {
            tx: Arc::new(tx),
            hash,
            sender,
            nonce,
            arrival: inner.arrivals,
        };
        let mut replaced = None;
        if let Some(old) = inner.by_sender.get(&sender).and_then(|t| t.get(&nonce)) {
            let bump = 100 + self.config.price_bump_percent;
            if new.max_fee() * 100 < old.max_fee() * bump
                || new.tip_cap() * 100 < old.tip_cap() * bump
            {
                return Err(PoolError::ReplacementUnderpriced);
            }
            replaced = Some(old.hash);
        } else {
            let held = inner.by_sender.get(&sender).map_or(0, |t| t.len());
            if held >= self.config.max_per_sender {
                return Err(PoolError::SenderFull(held));
            }
            if inner.by_hash.len() >= self.config.max_txs {
                let price = new.tip_cap().min(new.max_fee());
                match inner.eviction_candidate(&sender) {
                    Some((s, n, p)) if p < price => {
                        inner.remove(&s, n);
                    }
                    _ => return Err(PoolError::PoolFull),
                }
            }
        }
        if let Some(old) = replaced {
            inner.by_hash.remove(&old);
        }
        inner.state_nonce.insert(sender, state_nonce);
        inner.by_hash.insert(hash, (sender, nonce));
        inner
            .by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, new);
        drop(inner);
        self.pending_added.notify_one();
        Ok(replaced)
    }

    /// The pending transactions in block order: per sender by nonce, across senders by
    /// effective tip at `base_fee` (then arrival). Transactions that cannot pay the base fee,
    /// and everything after them of the same sender, wait.
    pub fn best(&self, base_fee: u64, limit: usize) -> Vec<PooledTx> {
        struct Head {
            tip: u128,
            arrival: u64,
            sender: Address,
            nonce: u64,
        }
        impl PartialEq for Head {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for Head {}
        impl PartialOrd for Head {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Head {
            fn cmp(&self, other: &Self) -> Ordering {
                self.tip
                    .cmp(&other.tip)
                    .then_with(|| other.arrival.cmp(&self.arrival))
            }
        }
        let inner = self.inner.lock();
        let mut heap = BinaryHeap::with_capacity(inner.by_sender.len());
        for (sender, txs) in &inner.by_sender {
            let state = inner.state_nonce.get(sender).copied().unwrap_or(0);
            if let Some(first) = txs.get(&state) {
                if let Some(tip) = first.effective_tip(base_fee) {
                    heap.push(Head {
                        tip,
                        arrival: first.arrival,
                        sender: *sender,
                        nonce: state,
                    });
                }
            }
        }
        let mut out = Vec::with_capacity(limit.min(inner.by_hash.len()));
        while let Some(head) = heap.pop() {
            if out.len() >= limit {
                break;
            }
            let txs = &inner.by_sender[&head.sender];
            out.push(txs[&head.nonce].clone());
            if let Some(next) = txs.get(&(head.nonce + 1)) {
                if let Some(tip) = next.effective_tip(base_fee) {
                    heap.push(Head {
                        tip,
                        arrival: next.arrival,
                        sender: head.sender,
                        nonce: head.nonce + 1,
                    });
                }
            }
        }
        out
    }

    /// Updates the pool after a block is built: `included` are (sender, nonce) pairs now in
    /// the block, `dropped` are hashes found invalid. Until [`Mempool::on_committed`] is called
    /// for the same block, the pool remembers the nonces it implies (the store does not have
    /// them yet).
    pub fn on_block(&self, included: &[(Address, u64)], dropped: &[B256]) {
        let mut inner = self.inner.lock();
        for (sender, next) in next_nonces(included) {
            let pending = inner.in_flight.entry(sender).or_insert(next);
            *pending = (*pending).max(next);
            // The included transactions stay findable by hash until the block is on disk;
            // `best` skips them since it starts at the sender's new nonce.
            if inner.by_sender.contains_key(&sender) {
                let known = inner.state_nonce.entry(sender).or_insert(next);
                *known = (*known).max(next);
            }
        }
        for hash in dropped {
            if let Some((sender, nonce)) = inner.by_hash.get(hash).copied() {
                inner.remove(&sender, nonce);
            }
        }
    }

    /// After the store was rewound to an older block (an L1 reorg): nothing is in flight, and
    /// each pooled sender's state nonce is `nonce_of` it in the rewound state, so the
    /// transactions of the removed blocks can be added again.
    pub fn on_rewind(&self, nonce_of: impl Fn(&Address) -> Result<u64, PoolError>) {
        let mut inner = self.inner.lock();
        inner.in_flight.clear();
        let senders: Vec<Address> = inner.by_sender.keys().copied().collect();
        for sender in senders {
            // A sender whose nonce cannot be read keeps the one known (its transactions wait
            // until a block moves it).
            if let Ok(nonce) = nonce_of(&sender) {
                inner.state_nonce.insert(sender, nonce);
            }
        }
    }

    /// Forgets a block that is now in the store: its transactions leave the pool, and the
    /// nonces it implied are the store's own.
    pub fn on_committed(&self, included: &[(Address, u64)]) {
        let mut inner = self.inner.lock();
        for (sender, next) in next_nonces(included) {
            if inner.in_flight.get(&sender) == Some(&next) {
                inner.in_flight.remove(&sender);
            }
            let stale: Vec<u64> = inner
                .by_sender
                .get(&sender)
                .map(|txs| txs.range(..next).map(|(n, _)| *n).collect())
                .unwrap_or_default();
            for n in stale {
                inner.remove(&sender, n);
            }
        }
    }
}

/// The nonce after each sender's last included transaction.
fn next_nonces(included: &[(Address, u64)]) -> HashMap<Address, u64> {
    let mut next: HashMap<Address, u64> = HashMap::new();
    for (sender, nonce) in included {
        let e = next.entry(*sender).or_insert(0);
        *e = (*e).max(nonce + 1);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{Signature, TxKind, U256};

    fn tx(nonce: u64, max_fee: u128, tip: u128, salt: u8) -> OpTxEnvelope {
        let t = TxEip1559 {
            chain_id: 1,
            nonce,
            gas_limit: 21_000,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(Address::repeat_byte(salt)),
            value: U256::ZERO,
            ..Default::default()
        };
        let sig = Signature::test_signature();
        OpTxEnvelope::Eip1559(t.into_signed(sig))
    }

    const A: Address = Address::repeat_byte(0xaa);
    const B: Address = Address::repeat_byte(0xbb);

    #[test]
    fn pending_and_queued_by_nonce() {
        let pool = Mempool::new(PoolConfig::default());
        pool.add(tx(5, 10, 1, 1), A, || Ok(5)).unwrap();
        pool.add(tx(7, 10, 1, 1), A, || Ok(5)).unwrap();
        assert_eq!(pool.status(), (1, 1));
        assert_eq!(pool.pending_nonce(&A, 5), 6);
        pool.add(tx(6, 10, 1, 1), A, || Ok(5)).unwrap();
        assert_eq!(pool.status(), (3, 0));
        assert_eq!(pool.pending_nonce(&A, 5), 8);
        let best: Vec<u64> = pool.best(1, 10).iter().map(|t| t.nonce).collect();
        assert_eq!(best, vec![5, 6, 7]);
        let included = pool.best(1, 10)[0].hash;
        pool.on_block(&[(A, 5), (A, 6)], &[]);
        // Built but not yet on disk: not offered again, still findable by hash.
        assert_eq!(pool.best(1, 10)[0].nonce, 7);
        assert!(pool.get(&included).is_some());
        pool.on_committed(&[(A, 5), (A, 6)]);
        assert_eq!(pool.len(), 1);
        assert!(pool.get(&included).is_none());
        assert_eq!(pool.best(1, 10)[0].nonce, 7);
    }

    #[test]
    fn nonces_of_an_uncommitted_block_win_over_a_lagging_store() {
        let pool = Mempool::new(PoolConfig::default());
        pool.add(tx(0, 10, 1, 1), A, || Ok(0)).unwrap();
        pool.on_block(&[(A, 0)], &[]);
        // The block is still being written: the store says nonce 0, the pool knows 1.
        assert!(matches!(
            pool.add(tx(0, 10, 1, 2), A, || Ok(0)),
            Err(PoolError::NonceTooLow { .. })
        ));
        pool.add(tx(1, 10, 1, 1), A, || Ok(0)).unwrap();
        assert_eq!(pool.best(1, 10).len(), 1, "nonce 1 is pending, not stuck");
        pool.on_committed(&[(A, 0)]);
        pool.add(tx(2, 10, 1, 1), A, || Ok(1)).unwrap();
        assert_eq!(pool.best(1, 10).len(), 2);
    }

    #[test]
    fn nonce_bounds() {
        let pool = Mempool::new(PoolConfig {
            max_nonce_gap: 10,
            ..Default::default()
        });
        assert!(matches!(
            pool.add(tx(1, 10, 1, 1), A, || Ok(2)),
            Err(PoolError::NonceTooLow { .. })
        ));
        assert!(matches!(
            pool.add(tx(13, 10, 1, 1), A, || Ok(2)),
            Err(PoolError::NonceTooHigh { .. })
        ));
        assert!(pool.add(tx(12, 10, 1, 1), A, || Ok(2)).is_ok());
        assert_eq!(
            pool.add(tx(12, 10, 1, 1), A, || Ok(2)),
            Err(PoolError::AlreadyKnown)
        );
    }

    #[test]
    fn replacement_needs_ten_percent_on_both_fees() {
        let pool = Mempool::new(PoolConfig::default());
        let first = tx(0, 100, 10, 1);
        let h = first.tx_hash();
        pool.add(first, A, || Ok(0)).unwrap();
        assert_eq!(
            pool.add(tx(0, 109, 20, 2), A, || Ok(0)),
            Err(PoolError::ReplacementUnderpriced)
        );
        assert_eq!(
            pool.add(tx(0, 200, 10, 3), A, || Ok(0)),
            Err(PoolError::ReplacementUnderpriced)
        );
        assert_eq!(pool.add(tx(0, 110, 11, 4), A, || Ok(0)), Ok(Some(h)));
        assert_eq!(pool.len(), 1);
        assert!(pool.get(&h).is_none());
    }

    #[test]
    fn full_pool_evicts_cheaper_or_refuses() {
        let pool = Mempool::new(PoolConfig {
            max_txs: 2,
            ..Default::default()
        });
        pool.add(tx(0, 100, 5, 1), A, || Ok(0)).unwrap();
        pool.add(tx(1, 100, 1, 1), A, || Ok(0)).unwrap();
        assert_eq!(
            pool.add(tx(0, 100, 1, 2), B, || Ok(0)),
            Err(PoolError::PoolFull)
        );
        pool.add(tx(0, 100, 3, 2), B, || Ok(0)).unwrap();
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.pending_nonce(&A, 0), 1);
    }

    #[test]
    fn best_orders_by_tip_and_skips_underpaying() {
        let pool = Mempool::new(PoolConfig::default());
        pool.add(tx(0, 100, 1, 1), A, || Ok(0)).unwrap();
        pool.add(tx(0, 100, 50, 2), B, || Ok(0)).unwrap();
        pool.add(tx(1, 5, 5, 2), B, || Ok(0)).unwrap();
        let best: Vec<(Address, u64)> = pool
            .best(10, 10)
            .iter()
            .map(|t| (t.sender, t.nonce))
            .collect();
        assert_eq!(best, vec![(B, 0), (A, 0)]);
    }
}
