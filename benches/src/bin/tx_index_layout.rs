//! `tx_index_layout`: what a transaction index costs in sled, by layout, outside the node.
//!
//! `inserts` writes blocks of random 32-byte hashes (one 44-byte entry each, plus one body-sized
//! record per block, a flush per block, as the node's commit does) in one of three layouts and
//! prints the µs per entry every 20 blocks as the datadir grows. `lookups` writes sealed runs as
//! `rollup_node::store::txindex` does (2^19 entries each, sorted, 256 to a record keyed
//! `t ‖ run ‖ first hash`) and times lookups that probe every run (misses) and hits in the
//! oldest run. See `benches/README.md`, "The transaction index".
//!
//!   tx_index_layout inserts --layout hash
//!   tx_index_layout lookups --runs 16

use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(about = "What a transaction index costs in sled, by layout (benches/README.md)")]
struct Args {
    #[command(subcommand)]
    command: Command,
    /// sled's page cache, MiB (the node's default).
    #[arg(long, default_value_t = 256)]
    cache_mb: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Insert blocks of entries and print µs per entry every 20 blocks.
    Inserts {
        #[arg(long, value_enum)]
        layout: Layout,
        /// Blocks to write.
        #[arg(long, default_value_t = 200)]
        blocks: u64,
        /// Entries per block.
        #[arg(long, default_value_t = 19_000)]
        per_block: u64,
        /// With `--layout runs`: entries per run.
        #[arg(long, default_value_t = 1 << 19)]
        run: u64,
    },
    /// Write `runs` sealed runs of 2^19 entries, then time lookups.
    Lookups {
        #[arg(long)]
        runs: u32,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Layout {
    /// `t ‖ hash`: one index keyed by hash.
    Hash,
    /// `t ‖ run ‖ hash`: one record per entry, a new run every `--run` entries.
    Runs,
    /// `t ‖ block ‖ hash`: a run per block (appends only).
    PerBlock,
}

/// xorshift hashes: uniform like transaction hashes, reproducible.
struct Hashes(u64);

impl Hashes {
    fn next(&mut self) -> [u8; 32] {
        let mut h = [0u8; 32];
        for c in h.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            c.copy_from_slice(&self.0.to_be_bytes());
        }
        h
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(args.cache_mb << 20)
        .open()?;
    let mut hashes = Hashes(0x9e37_79b9_7f4a_7c15);
    match args.command {
        Command::Inserts {
            layout,
            blocks,
            per_block,
            run,
        } => {
            use rayon::prelude::*;
            let mut total = 0u64;
            let mut window = Instant::now();
            println!("| blocks | entries | µs per entry (last 20 blocks) | datadir MB |");
            println!("|---:|---:|---:|---:|");
            for block in 0..blocks {
                let mut keys: Vec<Vec<u8>> = (0..per_block)
                    .map(|_| {
                        let mut k = vec![b't'];
                        match layout {
                            Layout::Hash => {}
                            Layout::Runs => {
                                k.extend_from_slice(&((total / run.max(1)) as u32).to_be_bytes())
                            }
                            Layout::PerBlock => k.extend_from_slice(&block.to_be_bytes()),
                        }
                        k.extend_from_slice(&hashes.next());
                        k
                    })
                    .collect();
                keys.sort_unstable();
                let value = [7u8; 44];
                keys.par_chunks(4096).try_for_each(|chunk| {
                    chunk
                        .iter()
                        .try_for_each(|k| db.insert(k.as_slice(), &value[..]).map(|_| ()))
                })?;
                let body = vec![1u8; (per_block * 110) as usize];
                db.insert([&b"b"[..], &block.to_be_bytes()].concat(), body)?;
                db.flush()?;
                total += per_block;
                if (block + 1) % 20 == 0 {
                    let us = window.elapsed().as_secs_f64() * 1e6 / (20 * per_block) as f64;
                    let mb = db.size_on_disk()? >> 20;
                    println!("| {} | {total} | {us:.2} | {mb} |", block + 1);
                    window = Instant::now();
                }
            }
        }
        Command::Lookups { runs } => {
            let mut oldest = Vec::new();
            for run in 0..runs {
                let mut entries: Vec<[u8; 32]> = (0..1 << 19).map(|_| hashes.next()).collect();
                entries.sort_unstable();
                if run == 0 {
                    oldest = entries.iter().step_by(997).copied().collect();
                }
                let mut batch = sled::Batch::default();
                for chunk in entries.chunks(256) {
                    let mut v = Vec::with_capacity(chunk.len() * 44);
                    for h in chunk {
                        v.extend_from_slice(h);
                        v.extend_from_slice(&[0u8; 12]);
                    }
                    batch.insert(chunk_key(run, &chunk[0]), v);
                }
                db.apply_batch(batch)?;
                db.flush()?;
            }
            let probe = |hash: &[u8; 32]| -> Result<bool, sled::Error> {
                for run in (0..runs).rev() {
                    if let Some(item) = db
                        .range(chunk_key(run, &[0; 32])..=chunk_key(run, hash))
                        .next_back()
                    {
                        if item?.1.chunks(44).any(|e| &e[..32] == hash) {
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            };
            let misses: Vec<[u8; 32]> = (0..2000).map(|_| hashes.next()).collect();
            let timed = |set: &[[u8; 32]]| -> Result<(f64, usize), sled::Error> {
                let started = Instant::now();
                let mut found = 0;
                for h in set {
                    found += usize::from(probe(h)?);
                }
                Ok((
                    started.elapsed().as_secs_f64() * 1e6 / set.len() as f64,
                    found,
                ))
            };
            let (miss_us, false_hits) = timed(&misses)?;
            let (hit_us, hits) = timed(&oldest)?;
            println!(
                "runs {runs}, datadir {} MB: a miss (every run probed) {miss_us:.1} µs ({false_hits} found), \
                 a hit in the oldest run {hit_us:.1} µs ({hits} of {})",
                db.size_on_disk()? >> 20,
                oldest.len()
            );
        }
    }
    Ok(())
}

/// `t ‖ run ‖ hash`.
fn chunk_key(run: u32, hash: &[u8; 32]) -> Vec<u8> {
    let mut k = vec![b't'];
    k.extend_from_slice(&run.to_be_bytes());
    k.extend_from_slice(hash);
    k
}
