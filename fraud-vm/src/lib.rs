#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

#[cfg(feature = "evm")]
pub mod batch;
pub mod block;
#[cfg(feature = "evm")]
pub mod chain;
pub mod code;
pub mod codec;
pub mod deposit;
mod error;
#[cfg(feature = "evm")]
pub mod execute;
pub mod fee;
pub mod inbox;
#[cfg(feature = "evm")]
pub mod memory;
pub mod merkle;
pub mod message;
pub mod output;
pub mod precompile;
pub mod smt;
pub mod state;
pub mod vm;

pub use error::{Error, ProviderError};
