//! Sparse Merkle tree benchmarks: batched updates of a 1M-leaf tree.
//!
//! Run with `cargo bench -p fraud-vm --bench smt -- --quick`.

use std::time::{Duration, Instant};

use alloy_primitives::{keccak256, B256};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use fraud_vm::smt::{update, update_sequential, Change, MemoryNodes, EMPTY_ROOT};

const LEAVES: u64 = 1_000_000;

fn h(n: u64, salt: u64) -> B256 {
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(&n.to_be_bytes());
    buf[8..].copy_from_slice(&salt.to_be_bytes());
    keccak256(buf)
}

/// Deterministic pseudo-random indices (splitmix64).
fn indices(count: usize, seed: u64) -> impl Iterator<Item = u64> {
    let mut state = seed;
    (0..count).map(move |_| {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// `count` overwrites of random existing leaves.
fn overwrites(count: usize, seed: u64) -> Vec<Change> {
    indices(count, seed)
        .map(|r| (h(r % LEAVES, 0), Some(h(r, seed))))
        .collect()
}

/// `count` changes: 50% overwrites, 25% inserts of new keys, 25% deletes.
fn mixed(count: usize, seed: u64) -> Vec<Change> {
    indices(count, seed)
        .enumerate()
        .map(|(i, r)| match i % 4 {
            0 | 1 => (h(r % LEAVES, 0), Some(h(r, seed))),
            2 => (h(LEAVES + r, 0), Some(h(r, seed))),
            _ => (h(r % LEAVES, 0), None),
        })
        .collect()
}

fn bench_updates(c: &mut Criterion) {
    let start = Instant::now();
    let initial: Vec<Change> = (0..LEAVES).map(|i| (h(i, 0), Some(h(i, 1)))).collect();
    let res = update(&MemoryNodes::new(), EMPTY_ROOT, initial).expect("build");
    let built = start.elapsed();
    let mut store = MemoryNodes::new();
    let root = res.root;
    store.insert_all(res.new_nodes);
    eprintln!(
        "built 1M-leaf tree: {} nodes, update {:?}, total with store {:?}",
        store.len(),
        built,
        start.elapsed()
    );

    let mut group = c.benchmark_group("smt_1m");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    for (name, changes) in [
        ("update_10k_overwrites", overwrites(10_000, 7)),
        ("update_100k_overwrites", overwrites(100_000, 8)),
        ("update_100k_mixed", mixed(100_000, 9)),
    ] {
        let nodes = update(&store, root, changes.clone())
            .expect("update")
            .new_nodes
            .len();
        eprintln!("{name}: {} changes -> {nodes} new nodes", changes.len());
        group.bench_function(name, |b| {
            b.iter_batched(
                || changes.clone(),
                |c| update(&store, root, c).expect("update"),
                BatchSize::LargeInput,
            )
        });
    }
    let changes = overwrites(100_000, 8);
    group.bench_function("update_sequential_100k_overwrites", |b| {
        b.iter_batched(
            || changes.clone(),
            |c| update_sequential(&store, root, c).expect("update"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_updates);
criterion_main!(benches);
