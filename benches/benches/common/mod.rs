//! What the criterion benches share: the block size, the group settings for whole-block
//! iterations, and the fixtures built on first use.

use std::{cell::OnceCell, time::Duration};

use benches::{Fixture, Workload};
use criterion::{measurement::WallTime, BenchmarkGroup, Criterion, SamplingMode, Throughput};

/// Transactions per measured block: `SEAL_BENCH_TXS`, default 10000.
pub fn block_txs() -> usize {
    std::env::var("SEAL_BENCH_TXS")
        .ok()
        .map(|v| v.parse().expect("SEAL_BENCH_TXS: a number of transactions"))
        .unwrap_or(10_000)
}

/// A group whose iterations seal whole blocks of `txs` transactions (1-3 s each here): 10
/// samples of one iteration each, throughput in transactions. With this short target time
/// criterion warns that it "cannot complete 10 samples"; that is expected (it still takes all
/// 10). `--quick` stops after 3 iterations when they agree within 5%, and at the latest once
/// `measurement_time` has passed.
pub fn block_group<'c>(
    c: &'c mut Criterion,
    name: &str,
    txs: usize,
) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(txs as u64));
    group
}

/// `workload`'s fixture of `txs` transactions, built on first use (a filtered-out workload
/// costs nothing).
pub fn fixture(cell: &OnceCell<Fixture>, workload: Workload, txs: usize) -> &Fixture {
    cell.get_or_init(|| {
        Fixture::new(workload, txs).unwrap_or_else(|e| panic!("{workload} setup: {e}"))
    })
}
