#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod block;
pub mod chain;
mod error;
pub mod execute;
pub mod memory;
pub mod message;
pub mod output;
pub mod smt;
pub mod state;

pub use error::{Error, ProviderError};
