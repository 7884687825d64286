//! Paths in the workspace and of the pinned npm tools.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

/// The workspace root (this crate is `<root>/testdata/test-support`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("test-support lies two directories below the workspace root")
        .to_path_buf()
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

/// Directory of the npm-installed binaries: `$ROLLUP_NPM_BIN`, else
/// `<workspace>/testdata/node_modules/.bin`.
pub fn npm_bin_dir() -> PathBuf {
    match std::env::var_os("ROLLUP_NPM_BIN") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => workspace_root().join("testdata/node_modules/.bin"),
    }
}

/// Path of an npm-installed binary (`anvil`, `cast`, `solcjs`); panics with a hint if it is
/// missing.
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

/// Waits (up to `timeout`) for a file that another process may still be producing; relative
/// paths are taken from the workspace root.
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
