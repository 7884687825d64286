//! Criterion, one benchmark per stage of sealing a block of 10,000 transactions, per workload:
//! sender recovery (rayon, all cores), execute, state root, commit. The stages are timed
//! inside one real seal (`Fixture::seal_fresh`, the sequencer's code path), so their sum is the
//! `seal_block` bench.
//!
//! `cargo bench -p benches --bench stages -- --quick`
//! `cargo bench -p benches --bench stages -- swaps` (one workload)
//!
//! `SEAL_BENCH_TXS` changes the block size (default 10000).

use std::{cell::OnceCell, hint::black_box, time::Duration};

use alloy_consensus::transaction::SignerRecoverable;
use benches::{Fixture, StageTimes, Workload};
use criterion::{criterion_group, criterion_main, Criterion};
use rayon::prelude::*;

mod common;

/// A stage of [`StageTimes`].
type Stage = (&'static str, fn(&StageTimes) -> Duration);

const STAGES: [Stage; 3] = [
    ("execute", |t| t.execute),
    ("state_root", |t| t.state_root),
    ("commit", |t| t.commit),
];

fn stages(c: &mut Criterion) {
    let txs = common::block_txs();
    let mut group = common::block_group(c, "stage", txs);
    for workload in Workload::ALL {
        let fixture: OnceCell<Fixture> = OnceCell::new();
        group.bench_function(format!("{}/recover", workload.bench_id(txs)), |b| {
            let txs = &common::fixture(&fixture, workload, txs).txs;
            b.iter(|| {
                black_box(
                    txs.par_iter()
                        .map(|t| t.tx.recover_signer().expect("valid signature"))
                        .collect::<Vec<_>>(),
                )
            });
        });
        for (name, stage) in STAGES {
            group.bench_function(format!("{}/{name}", workload.bench_id(txs)), |b| {
                let fixture = common::fixture(&fixture, workload, txs);
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let fresh = fixture.fresh().expect("fresh store");
                            let (_, _, times) = fixture.seal_fresh(fresh).expect("seal");
                            stage(&times)
                        })
                        .sum()
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
