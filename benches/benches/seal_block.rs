//! Criterion: seal one block of 10,000 transactions (build + finish + commit), per workload.
//!
//! `cargo bench -p benches --bench seal_block -- --quick`
//!
//! Every iteration runs on its own copy of a pristine chain (copied and opened in the untimed
//! setup of `iter_batched`), so each one seals the same block on the same state. Set
//! `SEAL_BENCH_TXS` to change the block size (default 10000).

use std::{cell::OnceCell, hint::black_box, time::Duration};

use benches::{Fixture, Workload};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};

fn block_txs() -> usize {
    std::env::var("SEAL_BENCH_TXS")
        .ok()
        .map(|v| v.parse().expect("SEAL_BENCH_TXS: a number of transactions"))
        .unwrap_or(10_000)
}

fn seal(c: &mut Criterion) {
    let txs = block_txs();
    let mut group = c.benchmark_group("seal");
    // One iteration seals a whole block (1-3 s here): 10 samples of one iteration each. With
    // this short target time criterion warns that it "cannot complete 10 samples"; that is
    // expected (it still takes all 10). `--quick` stops after 3 iterations when they agree
    // within 5%, and at the latest once `measurement_time` has passed.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(txs as u64));
    for workload in Workload::ALL {
        // Built on first use, so a filtered-out workload costs nothing.
        let fixture: OnceCell<Fixture> = OnceCell::new();
        group.bench_function(workload.bench_id(txs), |b| {
            let fixture = fixture.get_or_init(|| {
                Fixture::new(workload, txs).unwrap_or_else(|e| panic!("{workload} setup: {e}"))
            });
            b.iter_batched(
                || fixture.fresh().expect("fresh store"),
                |fresh| {
                    // The returned store, block and temp dir are dropped outside the timing.
                    black_box(fixture.seal_fresh(fresh).expect("seal"))
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, seal);
criterion_main!(benches);
