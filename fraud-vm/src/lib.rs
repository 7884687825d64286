#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod batch;
pub mod block;
pub mod chain;
pub mod code;
pub mod codec;
pub mod deposit;
mod error;
pub mod execute;
pub mod memory;
pub mod merkle;
pub mod message;
pub mod output;
pub mod precompile;
pub mod smt;
pub mod state;
pub mod vm;

pub use error::{Error, ProviderError};
