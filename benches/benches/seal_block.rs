//! Criterion: seal one block of 10,000 transactions (build + finish + commit), per workload.
//!
//! `cargo bench -p benches --bench seal_block -- --quick`
//!
//! Every iteration runs on its own copy of a pristine chain (copied and opened in the untimed
//! setup of `iter_batched`), so each one seals the same block on the same state. Set
//! `SEAL_BENCH_TXS` to change the block size (default 10000).

use std::{cell::OnceCell, hint::black_box};

use benches::{Fixture, Workload};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

mod common;

fn seal(c: &mut Criterion) {
    let txs = common::block_txs();
    let mut group = common::block_group(c, "seal", txs);
    for workload in Workload::ALL {
        let fixture: OnceCell<Fixture> = OnceCell::new();
        group.bench_function(workload.bench_id(txs), |b| {
            let fixture = common::fixture(&fixture, workload, txs);
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
