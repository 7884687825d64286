//! The step machine on a full block: trace, state hashes, proofs, verification.
//!
//! `cargo run --release -p benches --bin step_machine -- --workload erc20-transfers --txs 700`
//!
//! Builds one block of `--txs` transactions on a pristine chain (as `seal_stages` does, without
//! committing it), then times:
//!
//!   trace     Trace::for_block: revm replay with the recording inspector
//!   hash      state_hash(i) for every step (machine-state commitments)
//!   prove     prove_step(i) for every step
//!   verify    verify_step(state_hash(i), proof) for every step, checked against state_hash(i+1)
//!
//! and prints the step count, steps per second of each stage, the time to prove one step
//! (trace + one proof: what a challenger pays to answer one bisection leaf), and the proof size
//! distribution by step kind. The last state must equal the node's block (hash, state root).

use std::{collections::BTreeMap, time::Instant};

use alloy_primitives::{keccak256, Bytes, B256};
use benches::{Fixture, Result, Workload};
use clap::Parser;
use fraud_vm::{
    execute::{BlockAttributes, BlockBuilder},
    vm::{self, machine::end_hash, opcodes, StepKind, Trace},
};

/// Traces, proves and verifies every step of one block.
#[derive(Parser, Debug)]
#[command(name = "step_machine", verbatim_doc_comment)]
struct Args {
    /// Transactions in the block.
    #[arg(long, default_value_t = 700, value_parser = clap::value_parser!(u64).range(1..))]
    txs: u64,

    /// Workload of the block.
    #[arg(long, value_enum, default_value = "erc20-transfers")]
    workload: Workload,
}

fn main() -> Result<()> {
    let args = Args::parse();
    eprintln!("preparing {} {} …", args.txs, args.workload.name());
    let fixture = Fixture::new(args.workload, args.txs as usize)?;
    let fresh = fixture.fresh()?;
    let store = &fresh.store;
    let head = store.head().ok_or("empty store")?;
    let state = store.latest();
    let attributes = BlockAttributes {
        timestamp: head.header.timestamp + 1,
        gas_limit: fixture.gas_limit,
        prevrandao: keccak256(head.hash),
        extra_data: Bytes::new(),
    };
    let mut builder = BlockBuilder::new(&fixture.spec, &state, &head.header, head.hash, attributes);
    for tx in fresh.txs {
        builder.execute(tx).map_err(|e| format!("{e}"))?;
    }
    let block = builder.finish()?;

    // What a challenger pays for one bisection leaf: trace the block, prove one step (measured
    // first, in a fresh process, before the all-steps passes fill memory).
    let one = Instant::now();
    let trace = Trace::for_block(&state, &fixture.spec, &head.header, &block, B256::ZERO)?;
    trace.prove_step(trace.len() / 2)?;
    let one = one.elapsed();
    drop(trace);

    let start = Instant::now();
    let trace = Trace::for_block(&state, &fixture.spec, &head.header, &block, B256::ZERO)?;
    let traced = start.elapsed();
    let steps = trace.len();

    let start = Instant::now();
    let hashes: Vec<_> = (0..=steps).map(|i| trace.state_hash(i)).collect();
    let hashed = start.elapsed();
    let ends_at_block = trace.claim().is_some_and(|c| {
        c.block_hash == block.hash
            && c.state_root == block.header.state_root
            && end_hash(&c) == hashes[steps]
    });
    if !ends_at_block {
        return Err("the trace does not end at the node's block".into());
    }

    let start = Instant::now();
    let mut proofs = Vec::with_capacity(steps);
    for i in 0..steps {
        proofs.push(trace.prove_step(i)?);
    }
    let proved = start.elapsed();

    let start = Instant::now();
    for (i, (proof, _)) in proofs.iter().enumerate() {
        let (post, _) = vm::verify_step(hashes[i], proof)?;
        if post != hashes[i + 1] {
            return Err(format!("step {i}: verifier disagrees").into());
        }
    }
    let verified = start.elapsed();

    let rate = |d: std::time::Duration| steps as f64 / d.as_secs_f64();
    println!(
        "## Step machine: {} {} ({} gas, {} steps)\n",
        block.transactions.len(),
        args.workload.name(),
        block.header.gas_used,
        steps
    );
    println!("| stage | time | steps/s |");
    println!("|---|---:|---:|");
    for (name, d) in [
        ("trace (revm replay + recording)", traced),
        ("hash every state", hashed),
        ("prove every step", proved),
        ("verify every step", verified),
    ] {
        println!(
            "| {name} | {:.0} ms | {:.0} |",
            d.as_secs_f64() * 1e3,
            rate(d)
        );
    }
    println!(
        "| prove one step (trace + one proof) | {:.0} ms | |\n",
        one.as_secs_f64() * 1e3
    );

    let mut sizes: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (proof, info) in &proofs {
        let kind = match info.kind {
            StepKind::Opcode(op) => opcodes::name(op).to_string(),
            other => format!("{other:?}"),
        };
        sizes.entry(kind).or_default().push(proof.encode().len());
    }
    println!("| step kind | steps | median proof bytes | max proof bytes |");
    println!("|---|---:|---:|---:|");
    let mut rows: Vec<_> = sizes.into_iter().collect();
    rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    for (kind, mut v) in rows {
        v.sort_unstable();
        println!(
            "| {kind} | {} | {} | {} |",
            v.len(),
            v[v.len() / 2],
            v[v.len() - 1]
        );
    }
    Ok(())
}
