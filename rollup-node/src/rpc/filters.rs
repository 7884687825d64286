//! `eth_getLogs` and polling filters (`eth_newFilter`, `eth_getFilterChanges`, ...).
//! A filter not polled for five minutes is removed, as geth does.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use alloy_primitives::{B256, U256};
use alloy_rpc_types_eth::{Filter, FilterBlockOption, FilterChanges, Log};
use jsonrpsee::types::ErrorObjectOwned;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use super::{convert::RpcTransaction, error, RpcContext};
use crate::{events::block_logs, provider::ChainProvider};

const FILTER_TIMEOUT: Duration = Duration::from_secs(300);

enum Kind {
    Logs(Box<Filter>),
    Blocks,
    Pending(broadcast::Receiver<B256>),
}

struct Active {
    kind: Kind,
    /// The first block not yet reported.
    next_block: u64,
    polled: Instant,
}

/// The installed filters.
#[derive(Default)]
pub struct Filters {
    next_id: AtomicU64,
    active: Mutex<HashMap<U256, Active>>,
}

impl<P: ChainProvider> RpcContext<P> {
    fn install(&self, kind: Kind) -> U256 {
        let id = U256::from(self.filters.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let mut active = self.filters.active.lock();
        active.retain(|_, f| f.polled.elapsed() < FILTER_TIMEOUT);
        active.insert(
            id,
            Active {
                kind,
                next_block: self.provider.head_number() + 1,
                polled: Instant::now(),
            },
        );
        id
    }

    /// Installs a log filter.
    pub fn new_log_filter(&self, filter: Filter) -> U256 {
        self.install(Kind::Logs(Box::new(filter)))
    }

    /// Installs a new-block filter.
    pub fn new_block_filter(&self) -> U256 {
        self.install(Kind::Blocks)
    }

    /// Installs a pending-transaction filter.
    pub fn new_pending_filter(&self) -> U256 {
        self.install(Kind::Pending(self.events.pending()))
    }

    /// Removes a filter.
    pub fn uninstall_filter(&self, id: U256) -> bool {
        self.filters.active.lock().remove(&id).is_some()
    }

    /// What the filter saw since the last poll.
    pub fn filter_changes(
        &self,
        id: U256,
    ) -> Result<FilterChanges<RpcTransaction>, ErrorObjectOwned> {
        let head = self.provider.head_number();
        let (from, filter) = {
            let mut active = self.filters.active.lock();
            let f = active
                .get_mut(&id)
                .ok_or_else(|| error::server("filter not found"))?;
            f.polled = Instant::now();
            let from = f.next_block;
            f.next_block = head + 1;
            match &mut f.kind {
                Kind::Pending(rx) => {
                    let mut hashes = Vec::new();
                    loop {
                        match rx.try_recv() {
                            Ok(h) => hashes.push(h),
                            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        }
                    }
                    return Ok(FilterChanges::Hashes(hashes));
                }
                Kind::Blocks => (from, None),
                Kind::Logs(filter) => (from, Some(filter.clone())),
            }
        };
        if from > head {
            return Ok(FilterChanges::Empty);
        }
        match filter {
            None => {
                let mut hashes = Vec::new();
                for n in from..=head {
                    if let Some((hash, _)) =
                        self.provider.header_by_number(n).map_err(error::internal)?
                    {
                        hashes.push(hash);
                    }
                }
                Ok(FilterChanges::Hashes(hashes))
            }
            Some(filter) => {
                let (lo, hi) = self.filter_range(&filter)?;
                let (lo, hi) = (lo.max(from), hi.min(head));
                if lo > hi {
                    return Ok(FilterChanges::Empty);
                }
                Ok(FilterChanges::Logs(self.logs_in_range(&filter, lo, hi)?))
            }
        }
    }

    /// All logs matching an installed log filter.
    pub fn filter_logs(&self, id: U256) -> Result<Vec<Log>, ErrorObjectOwned> {
        let filter = {
            let mut active = self.filters.active.lock();
            let f = active
                .get_mut(&id)
                .ok_or_else(|| error::server("filter not found"))?;
            f.polled = Instant::now();
            match &f.kind {
                Kind::Logs(filter) => filter.clone(),
                _ => return Err(error::server("filter is not a log filter")),
            }
        };
        self.logs(&filter)
    }

    fn filter_range(&self, filter: &Filter) -> Result<(u64, u64), ErrorObjectOwned> {
        match &filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = self
                    .provider
                    .number_by_hash(hash)
                    .map_err(error::internal)?
                    .ok_or_else(|| error::server("unknown block"))?;
                Ok((n, n))
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let head = self.provider.head_number();
                let resolve =
                    |t: Option<&alloy_eips::BlockNumberOrTag>| -> Result<u64, ErrorObjectOwned> {
                        Ok(match t {
                            None => head,
                            Some(t) => self.resolve_number(*t)?.unwrap_or(u64::MAX),
                        })
                    };
                Ok((resolve(from_block.as_ref())?, resolve(to_block.as_ref())?))
            }
        }
    }

    /// `eth_getLogs`.
    pub fn logs(&self, filter: &Filter) -> Result<Vec<Log>, ErrorObjectOwned> {
        let (from, to) = self.filter_range(filter)?;
        let to = to.min(self.provider.head_number());
        if from > to {
            return Ok(Vec::new());
        }
        if to - from >= self.config.max_logs_range {
            return Err(error::server(format!(
                "query exceeds max block range {}",
                self.config.max_logs_range
            )));
        }
        self.logs_in_range(filter, from, to)
    }

    fn logs_in_range(
        &self,
        filter: &Filter,
        from: u64,
        to: u64,
    ) -> Result<Vec<Log>, ErrorObjectOwned> {
        let blocks: Vec<u64> = if filter.address.is_empty() {
            (from..=to).collect()
        } else {
            let mut set = std::collections::BTreeSet::new();
            for address in filter.address.iter() {
                set.extend(
                    self.provider
                        .blocks_with_logs_from(address, from, to)
                        .map_err(error::internal)?,
                );
            }
            set.into_iter().collect()
        };
        let mut out = Vec::new();
        for number in blocks {
            let Some((hash, header)) = self
                .provider
                .header_by_number(number)
                .map_err(error::internal)?
            else {
                continue;
            };
            if !filter.matches_bloom(header.logs_bloom) {
                continue;
            }
            let Some(block) = self
                .provider
                .block_by_number(number)
                .map_err(error::internal)?
            else {
                continue;
            };
            let receipts = self
                .provider
                .receipts(number)
                .map_err(error::internal)?
                .unwrap_or_default();
            let logs = block_logs(
                &header,
                hash,
                block.transactions.iter().map(|t| t.tx_hash()),
                receipts.iter().map(|r| r.logs()),
            );
            out.extend(logs.into_iter().filter(|l| filter.matches(&l.inner)));
            if out.len() > self.config.max_logs {
                return Err(error::server(format!(
                    "query returned more than {} results",
                    self.config.max_logs
                )));
            }
        }
        Ok(out)
    }
}
