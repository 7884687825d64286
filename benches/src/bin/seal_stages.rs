//! Per-stage timings of sealing one block: execute, state root (`finish`), sled commit.
//!
//! `cargo run --release -p benches --bin seal_stages -- --txs 10000 --rounds 5`

use std::time::Duration;

use benches::{Fixture, Pipelined, Result, StageTimes, Workload};
use clap::Parser;

/// Times the stages of sealing a block of `--txs` transactions, per workload, and prints the
/// medians over `--rounds` blocks as a Markdown table.
///
/// For every workload a pristine chain is prepared once (a genesis funding `--txs` extra
/// senders; for erc20-transfers also a deployed TestToken and a block handing every sender
/// tokens), and all transactions are signed and their senders recovered. Each round then copies
/// that chain to a fresh temporary directory (not timed) and seals one block holding every
/// transaction, exactly as the sequencer does:
///
///   execute     BlockBuilder::new + one BlockBuilder::execute per transaction
///   state root  BlockBuilder::finish: state diff, state-tree update, header
///   commit      Store::commit_block: one sled batch, applied and flushed
///
/// With --pipeline N, every workload then also seals all --txs transactions through the node's
/// own sequencer (pool filled with the signed transactions, senders known; blocks of at most N
/// built back to back while the writer thread commits the previous ones) and reports the
/// sustained rate from start until the last block is on disk: execute + state root + commit
/// as the node overlaps them.
///
/// Progress and per-round numbers go to stderr; the tables go to stdout. Temporary
/// directories are created under $TMPDIR (default /tmp): point it at the disk you want to
/// measure, the commit stage includes an fsync. Build with --release: debug numbers mean nothing.
#[derive(Parser, Debug)]
#[command(name = "seal_stages", verbatim_doc_comment)]
struct Args {
    /// Transactions in each sealed block (and funded sender accounts in the genesis).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    txs: u64,

    /// Blocks sealed per workload, each on a fresh copy of the pristine chain; the tables show
    /// the median of each column over these rounds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    rounds: u64,

    /// Workloads to run, comma-separated or repeated [default: all].
    #[arg(long, value_enum, value_delimiter = ',')]
    workload: Vec<Workload>,

    /// Seal on a store keeping this many past states, with the state tree in memory (the
    /// node's --state-history) [default: an archive store, every state's tree on disk].
    #[arg(long = "state-history", value_name = "BLOCKS")]
    state_history: Option<u64>,

    /// Also seal all --txs transactions through the node's sequencer pipeline in blocks of at
    /// most this many transactions (see above).
    #[arg(long, value_name = "BLOCK_TXS", value_parser = clap::value_parser!(u64).range(1..))]
    pipeline: Option<u64>,
}

/// Median of the rounds of one workload.
struct Row {
    workload: Workload,
    txs: usize,
    execute: Duration,
    state_root: Duration,
    commit: Duration,
    total: Duration,
    gas_used: u64,
    accounts: usize,
    slots: usize,
    new_nodes: usize,
    growth: u64,
    pipelined: Option<Pipelined>,
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    let n = values.len();
    if !n.is_multiple_of(2) {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn rate(txs: usize, d: Duration) -> String {
    format!("{:.0}", txs as f64 / d.as_secs_f64())
}

fn run(
    workload: Workload,
    txs: usize,
    rounds: u64,
    history: Option<u64>,
    pipeline: Option<usize>,
) -> Result<Row> {
    eprintln!("[{workload}] preparing {txs} senders and transactions ...");
    let fixture = Fixture::with_state_history(workload, txs, history)?;
    let s = fixture.setup;
    eprintln!(
        "[{workload}] setup: keys {:.2}s, chain {:.2}s, signing+recovery {:.2}s; measured block is #{}",
        s.keys.as_secs_f64(),
        s.chain.as_secs_f64(),
        s.sign.as_secs_f64(),
        fixture.head_number + 1
    );
    let mut all: Vec<StageTimes> = Vec::new();
    let mut last = None;
    for round in 1..=rounds {
        let fresh = fixture.fresh()?;
        let before = fresh.store.size_on_disk();
        let (fresh, block, t) = fixture.seal_fresh(fresh)?;
        let growth = fresh.store.size_on_disk().saturating_sub(before);
        eprintln!(
            "[{workload}] round {round}/{rounds}: execute {} ms, state root {} ms, commit {} ms, total {} ms ({} tx/s)",
            ms(t.execute),
            ms(t.state_root),
            ms(t.commit),
            ms(t.total()),
            rate(txs, t.total()),
        );
        all.push(t);
        last = Some((block, growth));
        drop(fresh);
    }
    let (block, growth) = last.expect("at least one round");
    let pipelined = match pipeline {
        None => None,
        Some(block_txs) => {
            let p = fixture.seal_pipelined(block_txs)?;
            eprintln!(
                "[{workload}] pipeline: {} transactions in {} blocks in {} ms ({} tx/s)",
                p.txs,
                p.blocks,
                ms(p.elapsed),
                rate(p.txs, p.elapsed)
            );
            Some(p)
        }
    };
    Ok(Row {
        workload,
        txs,
        execute: median(all.iter().map(|t| t.execute).collect()),
        state_root: median(all.iter().map(|t| t.state_root).collect()),
        commit: median(all.iter().map(|t| t.commit).collect()),
        total: median(all.iter().map(|t| t.total()).collect()),
        gas_used: block.header.gas_used,
        accounts: block.diff.accounts.len(),
        slots: block.diff.storage.len(),
        new_nodes: block.new_nodes.len(),
        growth,
        pipelined,
    })
}

fn main() -> Result<()> {
    let args = Args::parse();
    let workloads = if args.workload.is_empty() {
        Workload::ALL.to_vec()
    } else {
        args.workload.clone()
    };
    let txs = usize::try_from(args.txs)?;
    let pipeline = args.pipeline.map(usize::try_from).transpose()?;
    let rows = workloads
        .into_iter()
        .map(|w| run(w, txs, args.rounds, args.state_history, pipeline))
        .collect::<Result<Vec<_>>>()?;

    println!(
        "Median of {} round(s) per workload ({} available cores), {}.",
        args.rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        match args.state_history {
            Some(h) => format!("store with a state history of {h} blocks (tree in memory)"),
            None => "archive store (every state's tree on disk)".into(),
        }
    );
    println!();
    println!("| workload | txs | execute ms | state root ms | commit ms | total ms | tx/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.workload,
            r.txs,
            ms(r.execute),
            ms(r.state_root),
            ms(r.commit),
            ms(r.total),
            rate(r.txs, r.total)
        );
    }
    println!();
    println!("| workload | execute tx/s | state root tx/s | commit tx/s | overall tx/s |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.workload,
            rate(r.txs, r.execute),
            rate(r.txs, r.state_root),
            rate(r.txs, r.commit),
            rate(r.txs, r.total)
        );
    }
    println!();
    println!("| workload | gas used | accounts changed | slots changed | new tree nodes | store growth MiB |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {:.1} |",
            r.workload,
            r.gas_used,
            r.accounts,
            r.slots,
            r.new_nodes,
            r.growth as f64 / (1024.0 * 1024.0)
        );
    }
    if let Some(block_txs) = pipeline {
        println!();
        println!("Through the sequencer's pipeline, blocks of at most {block_txs} transactions:");
        println!();
        println!("| workload | txs | blocks | ms | tx/s | serial stages tx/s |");
        println!("|---|---:|---:|---:|---:|---:|");
        for r in &rows {
            if let Some(p) = r.pipelined {
                println!(
                    "| {} | {} | {} | {} | {} | {} |",
                    r.workload,
                    p.txs,
                    p.blocks,
                    ms(p.elapsed),
                    rate(p.txs, p.elapsed),
                    rate(r.txs, r.total)
                );
            }
        }
    }
    Ok(())
}
