//! `bridge`: deploy the rollup's L1 contracts and move ETH and ERC20 tokens between L1 and the
//! L2.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use alloy::{
    primitives::{utils::parse_units, Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use bridge::{
    client::{Bridge, SentDeposit, DEFAULT_ETH_DEPOSIT_GAS},
    deploy::{self, DeployConfig, DEVNET_DEPLOYER_INDEX},
    dev,
    withdraw::{SentWithdrawal, WithdrawalStatus, DEFAULT_WITHDRAWAL_GAS},
    BridgeError,
};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Deposits from L1 to the rollup's L2, withdrawals back, and the L1 deployment they go
/// through.
///
/// A deposit is an L1 transaction to the rollup's Portal (ETH) or L1StandardBridge (ERC20). The
/// L2 node includes it once its L1 block is --l1.confirmations deep, as a deposit transaction
/// (type 0x7E) whose hash is known from the L1 receipt alone; `bridge` prints it and waits for
/// it on L2.
///
/// A withdrawal takes three steps: `withdraw-eth` / `withdraw-erc20` (an L2 transaction), then
/// `prove` once the proposer has posted an output root at or after its L2 block, then
/// `finalize` once that output's challenge window has passed (devnet: 60 s). `status
/// --withdrawal <L2 tx>` says where it stands; `--wait` makes prove and finalize wait.
///
/// Devnet walk-through (anvil on 8545, the L2 node on 9545):
///
///   bridge deploy --l1-rpc http://127.0.0.1:8545 --out deployment.json
///
///   rollup-node --l1.rpc http://127.0.0.1:8545 --deployment deployment.json --http.port 9545 --ws.port 9546
///
///   bridge deposit-eth --l1-rpc http://127.0.0.1:8545 --l2-rpc http://127.0.0.1:9545 \
///       --deployment deployment.json --private-key 0xac09…ff80 --to 0x7099…79C8 --amount 1ether
///
///   bridge status --l1-rpc … --l2-rpc … --deployment deployment.json --deposit <L1 tx hash>
///
///   bridge withdraw-eth … --private-key 0xac09…ff80 --to 0xf39F…2266 --amount 0.5ether
///
///   bridge prove … --private-key 0xac09…ff80 --withdrawal <L2 tx hash> --wait
///
///   bridge finalize … --private-key 0xac09…ff80 --withdrawal <L2 tx hash> --wait
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter for the library's logs (error, warn, info, debug); RUST_LOG overrides it.
    #[arg(
        long = "log.level",
        value_name = "FILTER",
        default_value = "warn",
        global = true
    )]
    log_level: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Deploy OutputRegistry, Inbox, Portal and L1StandardBridge to an L1 and write the
    /// deployment file the node and this tool read. With the default deployer (dev account #9)
    /// on a fresh anvil the addresses match the L2 dev genesis.
    Deploy(DeployArgs),
    /// Deposit ETH: `Portal.depositTransaction` mints the amount to your address on L2 and sends
    /// it to --to.
    DepositEth(DepositEthArgs),
    /// Deposit an ERC20: approve the L1StandardBridge (if needed), then `depositERC20`; the L2
    /// bridge mints the token's L2 twin (at `l2TokenFor(token)`) to --to.
    #[command(name = "deposit-erc20")]
    DepositErc20(DepositErc20Args),
    /// Show the deposits of an L1 transaction (--deposit: message hash, L2 transaction hash,
    /// whether the L2 included it) or the withdrawals of an L2 transaction (--withdrawal:
    /// waiting for an output, provable, proven with the time left in the challenge window,
    /// finalized).
    Status(StatusArgs),
    /// Withdraw ETH: an L2 transaction to the L2ToL1MessagePasser burning the amount; prove
    /// and finalize it on L1 afterwards.
    WithdrawEth(WithdrawEthArgs),
    /// Withdraw an ERC20: `L2StandardBridge.withdrawTo` burns the L2 twin of --token (the L1
    /// token); after prove and finalize the L1 bridge releases the tokens to --to.
    #[command(name = "withdraw-erc20")]
    WithdrawErc20(WithdrawErc20Args),
    /// Prove a withdrawal on L1 (`Portal.proveWithdrawal`) against the first proposed output at
    /// or after its L2 block, with the state-tree proof from the L2 node's eth_getProof. If
    /// the node no longer keeps that block's state (--state-history), the newest output is
    /// used instead; its challenge window starts later.
    Prove(ProveArgs),
    /// Finalize a proven withdrawal on L1 (`Portal.finalizeWithdrawal`) once its output's
    /// challenge window has passed: pays the ETH or releases the tokens.
    Finalize(ProveArgs),
}

#[derive(Debug, Args)]
struct WithdrawSending {
    /// The L2 account's private key (hex), whose funds are withdrawn.
    #[arg(long = "private-key", value_name = "KEY", env = "BRIDGE_PRIVATE_KEY")]
    private_key: String,
    /// Recipient on L1.
    #[arg(long, value_name = "ADDR")]
    to: Address,
}

#[derive(Debug, Args)]
struct WithdrawEthArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    #[command(flatten)]
    sending: WithdrawSending,
    /// Amount in wei, or with a unit: 1ether, 250gwei.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    amount: U256,
    /// Minimum L1 gas for the call to --to when finalized.
    #[arg(long = "gas-limit", value_name = "GAS", default_value_t = DEFAULT_WITHDRAWAL_GAS)]
    gas_limit: u64,
}

#[derive(Debug, Args)]
struct WithdrawErc20Args {
    #[command(flatten)]
    endpoints: Endpoints,
    #[command(flatten)]
    sending: WithdrawSending,
    /// The L1 token (its L2 twin, `l2TokenFor(token)`, is burned).
    #[arg(long, value_name = "L1TOKEN")]
    token: Address,
    /// Amount in the token's smallest units.
    #[arg(long, value_name = "UNITS")]
    amount: U256,
    /// L1 gas for the release on top of the bridge's fixed 150k.
    #[arg(long = "min-gas-limit", value_name = "GAS", default_value_t = 0)]
    min_gas_limit: u32,
}

#[derive(Debug, Args)]
struct ProveArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    /// The L1 account's private key (hex) paying for the L1 transaction (anyone may prove or
    /// finalize any withdrawal).
    #[arg(long = "private-key", value_name = "KEY", env = "BRIDGE_PRIVATE_KEY")]
    private_key: String,
    /// The L2 transaction hash of the withdrawal.
    #[arg(long, value_name = "L2TXHASH")]
    withdrawal: B256,
    /// Wait (with progress messages) until it can be done, instead of failing.
    #[arg(long)]
    wait: bool,
    /// Seconds to wait with --wait.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    timeout: u64,
}

#[derive(Debug, Args)]
struct DeployArgs {
    /// L1 JSON-RPC URL.
    #[arg(long = "l1-rpc", value_name = "URL", env = "BRIDGE_L1_RPC")]
    l1_rpc: String,
    /// Deployer key (hex). Default: dev account #9 of the test mnemonic (the devnet deployer).
    #[arg(long = "private-key", value_name = "KEY")]
    private_key: Option<String>,
    /// Where to write the deployment file.
    #[arg(long, value_name = "FILE", default_value = "deployment.json")]
    out: PathBuf,
    /// L2 chain id recorded in the deployment.
    #[arg(long = "l2-chain-id", value_name = "ID", default_value_t = fraud_vm::chain::DEV_CHAIN_ID)]
    l2_chain_id: u64,
    /// Seconds before an unread deposit can be forced in.
    #[arg(
        long = "force-inclusion-window",
        value_name = "SECONDS",
        default_value_t = 30
    )]
    force_inclusion_window: u64,
    /// Seconds an output root stands before it is final.
    #[arg(
        long = "challenge-window",
        value_name = "SECONDS",
        default_value_t = 60
    )]
    challenge_window: u64,
    /// Bond per output proposal, in wei (or with a unit: 0.1ether).
    #[arg(long = "proposal-bond", value_name = "AMOUNT", default_value = "0.1ether", value_parser = parse_amount)]
    proposal_bond: U256,
    /// Batcher address. Default: dev account #1.
    #[arg(long, value_name = "ADDR")]
    batcher: Option<Address>,
    /// Proposer address. Default: dev account #2.
    #[arg(long, value_name = "ADDR")]
    proposer: Option<Address>,
    /// Resolver address. Default: the deployer.
    #[arg(long, value_name = "ADDR")]
    resolver: Option<Address>,
}

#[derive(Debug, Args)]
struct Endpoints {
    /// L1 JSON-RPC URL.
    #[arg(long = "l1-rpc", value_name = "URL", env = "BRIDGE_L1_RPC")]
    l1_rpc: String,
    /// L2 JSON-RPC URL (the rollup node).
    #[arg(long = "l2-rpc", value_name = "URL", env = "BRIDGE_L2_RPC")]
    l2_rpc: String,
    /// The deployment file (from `bridge deploy`).
    #[arg(long, value_name = "FILE", env = "BRIDGE_DEPLOYMENT")]
    deployment: PathBuf,
}

#[derive(Debug, Args)]
struct Sending {
    /// The L1 account's private key (hex), paying for the deposit.
    #[arg(long = "private-key", value_name = "KEY", env = "BRIDGE_PRIVATE_KEY")]
    private_key: String,
    /// Recipient on L2.
    #[arg(long, value_name = "ADDR")]
    to: Address,
    /// Do not wait for the L2 to include the deposit.
    #[arg(long = "no-wait")]
    no_wait: bool,
    /// Seconds to wait for L2 inclusion before giving up (the deposit stays queued on L1).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    timeout: u64,
}

#[derive(Debug, Args)]
struct DepositEthArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    #[command(flatten)]
    sending: Sending,
    /// Amount in wei, or with a unit: 1ether, 250gwei.
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    amount: U256,
    /// L2 gas limit of the deposit transaction.
    #[arg(long = "gas-limit", value_name = "GAS", default_value_t = DEFAULT_ETH_DEPOSIT_GAS)]
    gas_limit: u64,
}

#[derive(Debug, Args)]
struct DepositErc20Args {
    #[command(flatten)]
    endpoints: Endpoints,
    #[command(flatten)]
    sending: Sending,
    /// The L1 token address.
    #[arg(long, value_name = "L1TOKEN")]
    token: Address,
    /// Amount in the token's smallest units.
    #[arg(long, value_name = "UNITS")]
    amount: U256,
    /// L2 gas for the L2 side on top of the bridge's fixed 1.5M overhead.
    #[arg(long = "min-gas-limit", value_name = "GAS", default_value_t = 0)]
    min_gas_limit: u32,
}

#[derive(Debug, Args)]
#[group(id = "which", required = true, multiple = false, args = ["deposit", "withdrawal"])]
struct StatusArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    /// The L1 transaction hash of a deposit.
    #[arg(long, value_name = "L1TXHASH")]
    deposit: Option<B256>,
    /// The L2 transaction hash of a withdrawal.
    #[arg(long, value_name = "L2TXHASH")]
    withdrawal: Option<B256>,
}

/// Parses wei, or a decimal with a unit (`1ether`, `0.5ether`, `250gwei`, `7wei`).
fn parse_amount(s: &str) -> Result<U256, String> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = if unit.is_empty() { "wei" } else { unit };
    parse_units(number, unit)
        .map(Into::into)
        .map_err(|e| format!("invalid amount {s:?} ({e}): use wei, or e.g. 1ether, 250gwei"))
}

fn signer(key: &str) -> Result<PrivateKeySigner, BridgeError> {
    key.trim()
        .parse()
        .map_err(|e| BridgeError::Input(format!("--private-key: not a private key ({e})")))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cli.log_level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), BridgeError> {
    match command {
        Command::Deploy(args) => deploy_cmd(args).await,
        c @ (Command::WithdrawEth(_) | Command::WithdrawErc20(_)) => withdraw_cmd(c).await,
        Command::Prove(args) => prove_cmd(args, false).await,
        Command::Finalize(args) => prove_cmd(args, true).await,
        Command::DepositEth(args) => {
            let bridge = connect(&args.endpoints, Some(&args.sending.private_key)).await?;
            eprintln!(
                "depositing {} wei to {} on L2 (chain {})...",
                args.amount,
                args.sending.to,
                bridge.deployment().l2_chain_id
            );
            let sent = bridge
                .deposit_eth(args.sending.to, args.amount, args.gas_limit)
                .await?;
            finish(&bridge, &sent, &args.sending).await
        }
        Command::DepositErc20(args) => {
            let bridge = connect(&args.endpoints, Some(&args.sending.private_key)).await?;
            eprintln!(
                "depositing {} units of L1 token {} to {} on L2...",
                args.amount, args.token, args.sending.to
            );
            let sent = bridge
                .deposit_erc20(args.token, args.sending.to, args.amount, args.min_gas_limit)
                .await?;
            let l2_token = bridge.l2_token_for(args.token).await?;
            println!("l2 token:        {l2_token}");
            finish(&bridge, &sent, &args.sending).await
        }
        Command::Status(StatusArgs {
            endpoints,
            withdrawal: Some(l2_tx),
            ..
        }) => {
            let bridge = connect(&endpoints, None).await?;
            for sent in bridge.withdrawals_of(l2_tx).await? {
                print_withdrawal(&sent);
                println!(
                    "status:          {}",
                    bridge.withdrawal_status(&sent).await?
                );
            }
            Ok(())
        }
        Command::Status(args) => {
            let bridge = connect(&args.endpoints, None).await?;
            let Some(deposit) = args.deposit else {
                return Err(BridgeError::Input("give --deposit or --withdrawal".into()));
            };
            for sent in bridge.deposits_of(deposit).await? {
                print_deposit(&sent);
                match bridge.l2_inclusion(&sent).await? {
                    Some(inc) => println!(
                        "status:          included in L2 block {} ({})",
                        inc.block_number,
                        if inc.success {
                            "succeeded"
                        } else {
                            "L2 execution failed; the mint is kept"
                        }
                    ),
                    None => {
                        let progress = bridge.progress(&sent).await?;
                        println!("status:          pending: {progress}");
                    }
                }
            }
            Ok(())
        }
    }
}

async fn withdraw_cmd(command: Command) -> Result<(), BridgeError> {
    let sent = match command {
        Command::WithdrawEth(args) => {
            let bridge = connect(&args.endpoints, Some(&args.sending.private_key)).await?;
            eprintln!(
                "withdrawing {} wei to {} on L1...",
                args.amount, args.sending.to
            );
            let sent = bridge
                .withdraw_eth(args.sending.to, args.amount, args.gas_limit)
                .await?;
            sent
        }
        Command::WithdrawErc20(args) => {
            let bridge = connect(&args.endpoints, Some(&args.sending.private_key)).await?;
            eprintln!(
                "withdrawing {} units of the L2 twin of {} to {} on L1...",
                args.amount, args.token, args.sending.to
            );
            let sent = bridge
                .withdraw_erc20(args.token, args.sending.to, args.amount, args.min_gas_limit)
                .await?;
            sent
        }
        _ => return Err(BridgeError::Input("not a withdrawal command".into())),
    };
    print_withdrawal(&sent);
    eprintln!(
        "next: bridge prove --withdrawal {} (once an output covers L2 block {}), then bridge finalize",
        sent.l2_tx, sent.l2_block
    );
    Ok(())
}

async fn prove_cmd(args: ProveArgs, finalize: bool) -> Result<(), BridgeError> {
    let bridge = connect(&args.endpoints, Some(&args.private_key)).await?;
    for sent in bridge.withdrawals_of(args.withdrawal).await? {
        print_withdrawal(&sent);
        let timeout = Duration::from_secs(args.timeout);
        if args.wait {
            let ready = |s: &WithdrawalStatus| match s {
                WithdrawalStatus::WaitingForOutput { .. } => false,
                WithdrawalStatus::Proven { seconds_left, .. } => !finalize || *seconds_left == 0,
                WithdrawalStatus::Provable { .. } | WithdrawalStatus::Finalized => true,
            };
            // Progress: on every change of step, and every 10 s while the window runs.
            let mut last: Option<(std::mem::Discriminant<WithdrawalStatus>, std::time::Instant)> =
                None;
            bridge
                .wait_withdrawal(&sent, timeout, ready, |s| {
                    let kind = std::mem::discriminant(s);
                    if last
                        .is_none_or(|(k, at)| k != kind || at.elapsed() >= Duration::from_secs(10))
                    {
                        eprintln!("  {s}");
                        last = Some((kind, std::time::Instant::now()));
                    }
                })
                .await?;
        }
        if finalize {
            let (tx, success) = bridge.finalize(&sent).await?;
            println!(
                "finalized:       L1 transaction {tx} ({})",
                if success {
                    "the call succeeded"
                } else {
                    "the call failed; the withdrawal is spent"
                }
            );
        } else {
            let (tx, index) = bridge.prove(&sent).await?;
            println!("proven:          L1 transaction {tx} against output {index}");
            println!(
                "finalizable:     after output {index}'s challenge window ({} s from its proposal)",
                bridge.deployment().challenge_window
            );
        }
    }
    Ok(())
}

fn print_withdrawal(sent: &SentWithdrawal) {
    let w = &sent.withdrawal;
    println!("l2 transaction:  {} (block {})", sent.l2_tx, sent.l2_block);
    println!("withdrawal hash: {}", sent.hash());
    println!("nonce:           {}", w.nonce);
    println!("l2 sender:       {}", w.sender);
    println!("l1 target:       {}", w.target);
    println!("value:           {} wei", w.value);
}

async fn connect(endpoints: &Endpoints, key: Option<&str>) -> Result<Bridge, BridgeError> {
    let deployment = deploy::read_deployment(&endpoints.deployment)?;
    let signer = key.map(signer).transpose()?;
    Bridge::connect(deployment, &endpoints.l1_rpc, &endpoints.l2_rpc, signer).await
}

fn print_deposit(sent: &SentDeposit) {
    println!("l1 transaction:  {} (block {})", sent.l1_tx, sent.l1_block);
    println!("deposit index:   {}", sent.message.index);
    println!("message hash:    {}", sent.message.hash());
    println!("l2 sender:       {}", sent.message.from);
    println!("l2 transaction:  {}", sent.l2_tx_hash());
}

async fn finish(bridge: &Bridge, sent: &SentDeposit, sending: &Sending) -> Result<(), BridgeError> {
    print_deposit(sent);
    if sending.no_wait {
        return Ok(());
    }
    eprintln!("waiting for the L2 to include it...");
    let started = std::time::Instant::now();
    let inclusion = bridge
        .wait_for_l2(sent, Duration::from_secs(sending.timeout), |p| {
            eprintln!("  {p}")
        })
        .await?;
    println!(
        "included:        L2 block {} after {:.1} s ({})",
        inclusion.block_number,
        started.elapsed().as_secs_f64(),
        if inclusion.success {
            "succeeded"
        } else {
            "L2 execution failed; the mint is kept"
        }
    );
    Ok(())
}

async fn deploy_cmd(args: DeployArgs) -> Result<(), BridgeError> {
    let deployer = match &args.private_key {
        Some(key) => signer(key)?,
        None => dev::signer(DEVNET_DEPLOYER_INDEX),
    };
    let mut config = DeployConfig::devnet()?;
    config.l2_chain_id = args.l2_chain_id;
    config.force_inclusion_window = args.force_inclusion_window;
    config.challenge_window = args.challenge_window;
    config.proposal_bond = args.proposal_bond;
    config.resolver = args.resolver.unwrap_or(deployer.address());
    if let Some(batcher) = args.batcher {
        config.batcher = batcher;
    }
    if let Some(proposer) = args.proposer {
        config.proposer = proposer;
    }
    eprintln!(
        "deploying from {} to {}...",
        deployer.address(),
        args.l1_rpc
    );
    let deployment = deploy::deploy(&args.l1_rpc, deployer, &config).await?;
    deploy::write_deployment(&args.out, &deployment)?;
    println!("{}", deployment.to_json().trim_end());
    if deployment.l1_standard_bridge != deploy::DEVNET_L1_STANDARD_BRIDGE {
        eprintln!(
            "note: the L1StandardBridge is not the devnet one ({}); the L2 genesis must name {} \
             as the L2 bridge's otherBridge",
            deploy::DEVNET_L1_STANDARD_BRIDGE,
            deployment.l1_standard_bridge
        );
    }
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_with_units() {
        assert_eq!(parse_amount("7"), Ok(U256::from(7)));
        assert_eq!(
            parse_amount("1ether"),
            Ok(U256::from(1_000_000_000_000_000_000u128))
        );
        assert_eq!(
            parse_amount("0.5ether"),
            Ok(U256::from(500_000_000_000_000_000u128))
        );
        assert_eq!(parse_amount("250gwei"), Ok(U256::from(250_000_000_000u64)));
        assert!(parse_amount("1 bananas").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
