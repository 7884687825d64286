//! Compiled contracts as the tests load them.

use std::path::Path;

use alloy::{json_abi::JsonAbi, primitives::Bytes};

use crate::paths::workspace_path;

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
