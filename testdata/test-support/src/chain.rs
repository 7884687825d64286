//! A chain under test as a child process. Which chain is picked by the environment variable
//! `ROLLUP_TEST_L2`:
//!
//! * `node` (the default): the `rollup-node` binary ([`NodeBin`]) with a fresh data directory;
//! * `anvil`: the pinned anvil from `testdata/node_modules`, to check the tests themselves
//!   against a reference implementation of the same JSON-RPC.
//!
//! Nothing here hard-codes a chain id: it is read over RPC once the chain answers.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    marker::PhantomData,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::providers::{DynProvider, Provider, ProviderBuilder, WsConnect};

use crate::{
    anvil, dev,
    paths::npm_bin,
    rpc::{free_port, wait_for_chain_id},
};

/// The `rollup-node` executable a [`TestChain`] runs. Only the test crate that has the binary
/// knows its path (`env!("CARGO_BIN_EXE_<name>")`), so each names it with a marker type:
///
/// ```ignore
/// pub struct RollupNode;
/// impl test_support::NodeBin for RollupNode {
///     const PATH: &'static str = env!("CARGO_BIN_EXE_rollup-node");
/// }
/// pub type TestChain = test_support::TestChain<RollupNode>;
/// ```
pub trait NodeBin {
    /// Path of the executable.
    const PATH: &'static str;
}

/// How long [`TestChain::start`] waits for `eth_chainId` to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How many lines of the chain's log are printed when a test fails.
const LOG_TAIL_LINES: usize = 80;

/// Which implementation of the JSON-RPC the tests talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Our `rollup-node` binary.
    Node,
    /// The pinned anvil, as a reference.
    Anvil,
}

impl Target {
    /// Reads `ROLLUP_TEST_L2` (`node` when unset).
    pub fn from_env() -> Self {
        match std::env::var("ROLLUP_TEST_L2").as_deref() {
            Err(_) | Ok("") | Ok("node") => Target::Node,
            Ok("anvil") => Target::Anvil,
            Ok(other) => panic!("ROLLUP_TEST_L2={other:?}: expected `node` or `anvil`"),
        }
    }
}

/// Options for [`TestChain::start`].
#[derive(Debug, Clone, Default)]
pub struct ChainOpts {
    /// `--block-time` for the node (e.g. `"200ms"`, `"1s"`); `"200ms"` when `None`.
    /// Anvil runs with `--block-time 1` unless `anvil_automine`.
    pub block_time: Option<String>,
    /// Extra arguments appended to the command line (node or anvil).
    pub extra_args: Vec<String>,
    /// Anvil only: mine every transaction at once (no `--block-time`), for the tests whose
    /// expectation anvil meets only in auto-mine mode (each says why).
    pub anvil_automine: bool,
}

/// A chain (node `N` or anvil) running as a child process for the duration of a test.
pub struct TestChain<N: NodeBin> {
    target: Target,
    opts: ChainOpts,
    child: Option<Child>,
    http_port: u16,
    ws_port: u16,
    chain_id: u64,
    log_path: PathBuf,
    // Declared last so that the directory outlives the child (fields drop in order).
    dir: tempfile::TempDir,
    node: PhantomData<N>,
}

impl<N: NodeBin> TestChain<N> {
    /// Starts the chain chosen by `ROLLUP_TEST_L2` and waits until it answers `eth_chainId`.
    pub async fn start(opts: ChainOpts) -> Self {
        Self::start_target(Target::from_env(), opts).await
    }

    /// Starts the given target and waits until it answers `eth_chainId`.
    pub async fn start_target(target: Target, opts: ChainOpts) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rollup-test-")
            .tempdir()
            .expect("create temporary data directory");
        let http_port = free_port();
        let ws_port = match target {
            Target::Node => loop {
                let p = free_port();
                if p != http_port {
                    break p;
                }
            },
            // anvil serves HTTP and WS on the same port
            Target::Anvil => http_port,
        };
        let log_path = dir.path().join("chain.log");
        let mut chain = TestChain {
            target,
            opts,
            child: None,
            http_port,
            ws_port,
            chain_id: 0,
            log_path,
            dir,
            node: PhantomData,
        };
        chain.spawn();
        chain.chain_id = chain.wait_ready().await;
        chain
    }

    /// Which implementation this is.
    pub fn target(&self) -> Target {
        self.target
    }

    /// `http://127.0.0.1:<port>`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port)
    }

    /// The chain id, as answered by `eth_chainId` at start.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The node's data directory (a temporary directory removed when the chain is dropped).
    pub fn datadir(&self) -> &Path {
        self.dir.path()
    }

    /// The file that receives the child's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The child's process id, if it is running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A provider without a signer on the HTTP endpoint.
    pub fn provider(&self) -> DynProvider {
        ProviderBuilder::new()
            .connect_http(self.http_url().parse().expect("http url"))
            .erased()
    }

    /// A provider on the HTTP endpoint that signs with dev account `i` (recommended fillers:
    /// nonce, gas, chain id).
    pub fn provider_for(&self, i: u32) -> DynProvider {
        ProviderBuilder::new()
            .wallet(dev::signer(i))
            .connect_http(self.http_url().parse().expect("http url"))
            .erased()
    }

    /// A provider on the WebSocket endpoint (for `eth_subscribe`).
    pub async fn ws_provider(&self) -> DynProvider {
        let url = self.ws_url();
        ProviderBuilder::new()
            .connect_ws(WsConnect::new(url.clone()))
            .await
            .unwrap_or_else(|e| self.fail(&format!("connect to {url}: {e}")))
            .erased()
    }

    /// Kills the child with SIGKILL (no chance to flush anything) and leaves it stopped;
    /// [`TestChain::respawn`] starts it again on the same data directory and ports.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL on unix.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the child to stop with SIGTERM and waits up to 15 s, then SIGKILLs it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    eprintln!("chain did not stop within 15 s of SIGTERM; sending SIGKILL");
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
            }
        }
    }

    /// Starts the (stopped or killed) child again on the same data directory and ports and waits
    /// until it answers. Panics if the chain id changed.
    pub async fn respawn(&mut self) {
        assert!(self.child.is_none(), "respawn: the chain is still running");
        self.spawn();
        let id = self.wait_ready().await;
        assert_eq!(id, self.chain_id, "chain id changed across a restart");
    }

    /// Graceful stop (SIGTERM) followed by [`TestChain::respawn`].
    pub async fn restart(&mut self) {
        self.stop();
        self.respawn().await;
    }

    /// The last `n` lines of the chain's log.
    pub fn log_tail(&self, n: usize) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            // Only the end of a long log matters.
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(256 * 1024)));
            let mut raw = Vec::new();
            let _ = f.read_to_end(&mut raw);
            text = String::from_utf8_lossy(&raw).into_owned();
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Panics with `msg` and the tail of the chain's log.
    pub fn fail(&self, msg: &str) -> ! {
        panic!(
            "{msg}\n--- last {LOG_TAIL_LINES} lines of {} ---\n{}\n---",
            self.log_path.display(),
            self.log_tail(LOG_TAIL_LINES)
        )
    }

    fn command(&self) -> Command {
        let mut cmd = match self.target {
            Target::Node => {
                let mut cmd = Command::new(N::PATH);
                let block_time = self.opts.block_time.as_deref().unwrap_or("200ms");
                cmd.arg("--datadir")
                    .arg(self.dir.path())
                    .args(["--http.addr", "127.0.0.1"])
                    .args(["--http.port", &self.http_port.to_string()])
                    .args(["--ws.port", &self.ws_port.to_string()])
                    .args(["--block-time", block_time])
                    .args(["--log.level", "warn"]);
                cmd
            }
            Target::Anvil => {
                let mut cmd = anvil::command(&npm_bin("anvil"), self.http_port);
                // keeps state across a graceful `restart()`, like the node's datadir
                cmd.arg("--state")
                    .arg(self.dir.path().join("anvil-state.json"));
                if !self.opts.anvil_automine {
                    cmd.args(["--block-time", "1"]);
                }
                cmd
            }
        };
        cmd.args(&self.opts.extra_args);
        cmd
    }

    fn spawn(&mut self) {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open chain log");
        let mut cmd = self.command();
        let _ = writeln!(log, "=== spawn: {cmd:?}");
        let err_log = log.try_clone().expect("clone log handle");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", cmd.get_program()));
        self.child = Some(child);
    }

    /// Polls `eth_chainId` until it answers; panics with the log tail if the child exits or
    /// [`READY_TIMEOUT`] passes.
    async fn wait_ready(&mut self) -> u64 {
        let url = self.http_url();
        match wait_for_chain_id(&url, self.child.as_mut(), READY_TIMEOUT).await {
            Ok(id) => id,
            Err(e) => {
                self.kill9();
                self.fail(&format!("chain on {url}: {e}"))
            }
        }
    }
}

impl<N: NodeBin> Drop for TestChain<N> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- test failed; last {LOG_TAIL_LINES} lines of {} ({:?}) ---\n{}\n---",
                self.log_path.display(),
                self.target,
                self.log_tail(LOG_TAIL_LINES)
            );
        }
        self.kill9();
    }
}
