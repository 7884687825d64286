//! `loadgen`: sustained-throughput load against the rollup node (or anvil, or any endpoint).
//! See `benches/README.md` and `benches::loadgen` for what is measured; `--help` for options.

use benches::loadgen::{run, Config, Target};
use clap::Parser;

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_async(config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn main_async(config: Config) -> benches::Result<()> {
    let report = run(&config).await?;
    report.check_counts()?;
    println!("{}", report.render());

    let anvil = if config.compare_anvil && config.target != Target::Anvil {
        let anvil_config = Config {
            target: Target::Anvil,
            ceilings: false,
            ..config.clone()
        };
        let anvil = run(&anvil_config).await?;
        anvil.check_counts()?;
        println!("{}", anvil.render());
        Some(anvil)
    } else {
        None
    };
    println!(
        "## {} workload, {} txs, {} senders, batch {}, {} {} connections\n",
        report.workload,
        report.sent,
        config.accounts,
        config.batch,
        config.connections,
        if config.ws { "WebSocket" } else { "HTTP" }
    );
    println!("{}", report.render_ceilings(anvil.as_ref()));
    Ok(())
}
