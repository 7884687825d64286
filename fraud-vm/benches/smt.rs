//! Sparse Merkle tree benchmarks: batched updates of a 1M-leaf tree.
//!
//! Run with `cargo bench -p fraud-vm --bench smt -- --quick`.

use std::time::{Duration, Instant};

use alloy_primitives::{keccak256, B256};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use fraud_vm::smt::{
    update, update_sequential, Change, MemoryNodes, NodeReader, UpdateResult, EMPTY_ROOT,
};

/// The node's allocator, so allocation and page-fault costs are the node's.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
        let res = update(&store, root, changes.clone()).expect("update");
        eprintln!(
            "{name}: {} changes -> {} new nodes, {} stale",
            changes.len(),
            res.new_nodes.len(),
            res.stale_nodes.len()
        );
        floors(&store, &res);
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

/// What an update cannot go below on one thread: hashing each new node once (64-byte
/// keccaks) and reading each old node it replaces once (one batched lookup per node, in
/// the store it reads).
fn floors(store: &MemoryNodes, res: &UpdateResult) {
    let count = res.new_nodes.len();
    let mut buf = [0u8; 64];
    let start = Instant::now();
    for i in 0..count {
        buf[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let h = keccak256(buf);
        buf[32..].copy_from_slice(h.as_slice());
    }
    let hashing = start.elapsed();
    let start = Instant::now();
    let read = store.nodes(&res.stale_nodes).expect("read");
    let reading = start.elapsed();
    assert!(
        read.iter().all(Option::is_some),
        "every stale node is stored"
    );
    eprintln!(
        "  floors, one thread: hash {count} nodes {hashing:?} ({:.0} ns each), read {} old nodes {reading:?} ({:.0} ns each)",
        hashing.as_nanos() as f64 / count as f64,
        read.len(),
        reading.as_nanos() as f64 / read.len().max(1) as f64
    );
}

criterion_group!(benches, bench_updates);
criterion_main!(benches);
