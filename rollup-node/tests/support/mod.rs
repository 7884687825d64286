//! Shared harness for the rollup-node integration tests.
//!
//! Every test starts its own chain through [`TestChain::start`]. Which chain is picked by the
//! environment variable `ROLLUP_TEST_L2`:
//!
//! * `node` (the default): the `rollup-node` binary of this crate, with a fresh data directory;
//! * `anvil`: the pinned anvil from `testdata/node_modules`, to check the tests themselves
//!   against a reference implementation of the same JSON-RPC.
//!
//! Nothing here hard-codes a chain id: it is read over RPC once the chain answers.
//! Every address used is on 127.0.0.1.

#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod l1;

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, SeekFrom, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    json_abi::JsonAbi,
    primitives::{Address, Bytes},
    providers::{DynProvider, Provider, ProviderBuilder, WsConnect},
    signers::local::{coins_bip39::English, MnemonicBuilder, PrivateKeySigner},
};

/// The standard development mnemonic; the node's genesis funds its first accounts, as anvil does.
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

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

/// A chain (node or anvil) running as a child process for the duration of a test.
pub struct TestChain {
    target: Target,
    opts: ChainOpts,
    child: Option<Child>,
    http_port: u16,
    ws_port: u16,
    chain_id: u64,
    log_path: PathBuf,
    // Declared last so that the directory outlives the child (fields drop in order).
    dir: tempfile::TempDir,
}

impl TestChain {
    /// Starts the chain chosen by `ROLLUP_TEST_L2` and waits until it answers `eth_chainId`.
    pub async fn start(opts: ChainOpts) -> TestChain {
        Self::start_target(Target::from_env(), opts).await
    }

    /// Starts the given target and waits until it answers `eth_chainId`.
    pub async fn start_target(target: Target, opts: ChainOpts) -> TestChain {
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
            .wallet(wallet(i))
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
                let mut cmd = Command::new(env!("CARGO_BIN_EXE_rollup-node"));
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
                let mut cmd = Command::new(npm_bin("anvil"));
                cmd.args(["--host", "127.0.0.1"])
                    .args(["--port", &self.http_port.to_string()])
                    // keeps state across a graceful `restart()`, like the node's datadir
                    .arg("--state")
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
        let provider = self.provider();
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_err;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    self.fail(&format!("chain exited during start-up: {status}"));
                }
            }
            let attempt =
                tokio::time::timeout(Duration::from_secs(2), provider.get_chain_id()).await;
            match attempt {
                Ok(Ok(id)) => return id,
                Ok(Err(e)) => last_err = e.to_string(),
                Err(_) => last_err = "eth_chainId timed out after 2 s".into(),
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "eth_chainId on {} did not answer within {READY_TIMEOUT:?}: {last_err}",
                    self.http_url()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestChain {
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

/// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, drop the socket).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// The workspace root (parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate has a parent directory")
        .to_path_buf()
}

/// Directory of the npm-installed binaries: `$ROLLUP_NPM_BIN`, else
/// `<workspace>/testdata/node_modules/.bin`.
pub fn npm_bin_dir() -> PathBuf {
    match std::env::var_os("ROLLUP_NPM_BIN") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("testdata/node_modules/.bin"),
    }
}

/// Path of an npm-installed binary (`anvil`, `cast`); panics with a hint if it is missing.
pub fn npm_bin(name: &str) -> PathBuf {
    let path = npm_bin_dir().join(name);
    assert!(
        path.exists(),
        "{} not found: run scripts/install-deps.sh (or set ROLLUP_NPM_BIN to the directory \
         holding {name})",
        path.display()
    );
    path
}

/// Runs `node <script> <args>` (a script under `testdata/`, where its npm packages resolve)
/// and returns its stdout; panics with stdout and stderr if it fails or outlives `timeout`.
pub fn run_node_script(script: &str, args: &[&str], timeout: Duration) -> String {
    let script = workspace_path(script);
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let err = tempfile::NamedTempFile::new().expect("temp file");
    let started = Instant::now();
    let mut child = Command::new("node")
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.reopen().expect("reopen"))
        .stderr(err.reopen().expect("reopen"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn node {} (is Node.js on PATH?): {e}", script.display()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(out.path()).unwrap_or_default();
    let stderr = std::fs::read_to_string(err.path()).unwrap_or_default();
    let shown = format!("node {} {}", script.display(), args.join(" "));
    match status {
        Some(s) if s.success() => {
            eprintln!("`{shown}` ok in {:?}:\n{stdout}", started.elapsed());
            stdout
        }
        Some(s) => panic!("`{shown}` failed ({s})\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"),
        None => panic!(
            "`{shown}` did not finish within {timeout:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        ),
    }
}

/// Resolves a path relative to the workspace root (absolute paths are kept).
pub fn workspace_path(path: impl AsRef<Path>) -> PathBuf {
    let path = path.as_ref();
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        workspace_root().join(path)
    }
}

/// Loads a compiled contract `{abi, bytecode}` (bytecode with or without `0x`; a Hardhat/Foundry
/// style `{"object": ...}` is accepted too). Relative paths are taken from the workspace root.
pub fn artifact(path: impl AsRef<Path>) -> (JsonAbi, Bytes) {
    let path = workspace_path(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read artifact {}: {e} (run scripts/install-deps.sh?)",
            path.display()
        )
    });
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("parse artifact {}: {e}", path.display()));
    let abi: JsonAbi = serde_json::from_value(json["abi"].clone())
        .unwrap_or_else(|e| panic!("artifact {}: bad `abi`: {e}", path.display()));
    let code = match &json["bytecode"] {
        serde_json::Value::String(s) => s.as_str(),
        serde_json::Value::Object(o) => o
            .get("object")
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("artifact {}: no bytecode.object", path.display())),
        _ => panic!("artifact {}: no `bytecode`", path.display()),
    };
    let bytes: Bytes = code
        .trim_start_matches("0x")
        .parse::<Bytes>()
        .unwrap_or_else(|e| panic!("artifact {}: bad bytecode: {e}", path.display()));
    assert!(
        !bytes.is_empty(),
        "artifact {}: empty bytecode",
        path.display()
    );
    (abi, bytes)
}

/// Waits (up to `timeout`) for a file that another process may still be producing.
pub fn wait_for_file(path: impl AsRef<Path>, timeout: Duration) -> PathBuf {
    let path = workspace_path(path);
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} does not exist (build the test contracts first)",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    path
}

/// Dev account `i` of [`DEV_MNEMONIC`] (path m/44'/60'/0'/0/i).
pub fn wallet(i: u32) -> PrivateKeySigner {
    MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .index(i)
        .expect("derivation index")
        .build()
        .expect("derive dev key")
}

/// Address of dev account `i`.
pub fn dev_address(i: u32) -> Address {
    wallet(i).address()
}

/// Private key of dev account `i`, `0x`-prefixed hex (for `cast --private-key`).
pub fn dev_private_key_hex(i: u32) -> String {
    format!("0x{}", alloy::hex::encode(wallet(i).to_bytes()))
}
