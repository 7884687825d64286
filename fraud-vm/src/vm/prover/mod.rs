//! The prover: replays a block with revm (or runs the derivation program that starts one),
//! records the machine state before every step, and builds the one-step proofs the verifier
//! ([`super::verifier`]) checks.
//!
//! Files: `trace` (the trace API: [`Trace`], proof building), `error` ([`TraceError`]),
//! `snapshot` (what is recorded per frame and per step), `tracer` (the revm inspector that
//! records it), `recorder` (the prover's oracle that turns a snapshot into witnesses). This is
//! the only part of the step machine that needs revm's interpreter (the crate's `evm`
//! feature).

mod error;
mod recorder;
mod snapshot;
pub mod trace;
mod tracer;

pub use error::TraceError;
pub use trace::{BlockRef, DerivationRun, Trace};
