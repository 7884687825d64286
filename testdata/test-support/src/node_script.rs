//! The Node.js scripts of `testdata/clients` (viem, ethers), run as a dapp would run them.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::paths::workspace_path;

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
