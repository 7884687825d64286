//! JSON-RPC error objects, with the codes and messages Ethereum clients use.

use alloy_primitives::Bytes;
use alloy_sol_types::{Panic, Revert, SolError};
use jsonrpsee::types::ErrorObjectOwned;

/// Invalid method parameters (-32602).
pub const INVALID_PARAMS: i32 = -32602;
/// Internal error (-32603).
pub const INTERNAL: i32 = -32603;
/// Server error: transaction refused, resource missing, limit exceeded (-32000).
pub const SERVER: i32 = -32000;
/// Limit exceeded: the server is busy with this kind of request (-32005, EIP-1474).
pub const LIMIT_EXCEEDED: i32 = -32005;
/// Execution reverted (3), with the revert data in `data`.
pub const REVERTED: i32 = 3;

/// A -32602 error.
pub fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INVALID_PARAMS, msg.into(), None::<()>)
}

/// A -32000 error.
pub fn server(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(SERVER, msg.into(), None::<()>)
}

/// A -32005 error.
pub fn limit_exceeded(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(LIMIT_EXCEEDED, msg.into(), None::<()>)
}

/// A -32603 error.
pub fn internal(msg: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(INTERNAL, format!("internal error: {msg}"), None::<()>)
}

/// An `execution reverted` error carrying the revert data (and the decoded reason in the
/// message when the data is an `Error(string)` or `Panic(uint256)`), as geth words it:
/// `execution reverted: <reason>`, or just `execution reverted` for any other data.
pub fn reverted(data: &Bytes) -> ErrorObjectOwned {
    let reason = if let Ok(revert) = Revert::abi_decode(data) {
        Some(revert.reason)
    } else if let Ok(panic) = Panic::abi_decode(data) {
        Some(match panic.kind() {
            Some(kind) => kind.as_str().to_string(),
            None => format!("unknown panic code: {:#x}", panic.code),
        })
    } else {
        None
    };
    let message = match reason {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_string(),
    };
    ErrorObjectOwned::owned(REVERTED, message, Some(data.to_string()))
}

/// The block a request names does not exist (yet).
pub fn unknown_block() -> ErrorObjectOwned {
    server("header not found")
}
