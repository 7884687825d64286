//! The L2's precompiles: Cancun's set (0x01 … 0x0a, the same implementations L1 runs), with
//! two protocol limits so that every call is one step whose proof fits in one L1 transaction.
//!
//! * A call whose input exceeds [`MAX_INPUT`] bytes fails without running (as a failing
//!   precompile does: it consumes the gas forwarded to it and returns nothing). The step
//!   reads the input as one word range, so this bounds its witness (64 KiB of calldata costs
//!   at most ~2.6M L1 gas even at EIP-7623's floor price of 40 gas per byte).
//! * A precompile runs with at most [`MAX_GAS`] of the gas forwarded to it: one that costs
//!   more fails the same way. An L1 verifier forwards the call to L1's own precompile, which
//!   charges the same gas, so this bounds the L1 cost of the step (a modexp can otherwise cost
//!   any amount up to the block gas limit).
//!
//! Ordinary use is far below both (ecrecover 3k gas on 128 bytes; a pairing check of two
//! pairs 113k gas on 384 bytes). Every place that executes the chain takes its precompiles from
//! here: the block builder ([`crate::execute`]), the trace and the step machine
//! ([`crate::vm`]), and the node's `eth_call`/`eth_estimateGas` (through `L2Precompiles`).
//!
//! The rules (this file: [`run`], [`is_precompile`], the limits) run the precompiles of the
//! `revm-precompile` crate directly, so the step machine's verifier needs no other revm crate;
//! revm's precompile provider (`L2Precompiles`, `L2Evm`: the `evm` feature) applies the same
//! rules, through the same function, inside revm's EVM.

use alloy_primitives::{Address, Bytes};
use revm_precompile::{Precompile, PrecompileOutput, PrecompileStatus, Precompiles};

#[cfg(feature = "evm")]
mod provider;
#[cfg(feature = "evm")]
pub use provider::{L2Evm, L2Precompiles};

/// Largest precompile input in bytes; a longer one makes the call fail.
pub const MAX_INPUT: usize = 64 * 1024;

/// Most gas a precompile may use; one that needs more fails.
pub const MAX_GAS: u64 = 10_000_000;

/// The precompile at `address`, if there is one.
fn get(address: &Address) -> Option<&'static Precompile> {
    Precompiles::cancun().get(address)
}

/// Whether `address` is one of the L2's precompiles (0x01 … 0x0a).
pub fn is_precompile(address: &Address) -> bool {
    let bytes = address.as_slice();
    bytes[..19].iter().all(|b| *b == 0) && (1..=0x0a).contains(&bytes[19])
}

/// Runs the precompile `precompile` on `input` with `gas` forwarded, under the limits.
/// `Ok(None)`: refused for its input size without running.
fn execute(
    precompile: &Precompile,
    input: &[u8],
    gas: u64,
    reservoir: u64,
) -> Result<Option<PrecompileOutput>, String> {
    if input.len() > MAX_INPUT {
        return Ok(None);
    }
    precompile
        .execute(input, gas.min(MAX_GAS), reservoir)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Runs precompile `address` on `input` with `gas`: its output and the gas used, or `None` if
/// it fails (out of gas, bad input, over a limit) or `address` is not a precompile.
pub fn run(address: &Address, input: &[u8], gas: u64) -> Option<(Bytes, u64)> {
    match execute(get(address)?, input, gas, 0) {
        Ok(Some(out)) if out.status == PrecompileStatus::Success => {
            Some((out.bytes, out.gas_used.min(gas)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_and_costs_over_the_limits_fail() {
        let identity = Address::with_last_byte(4);
        let input = vec![7u8; MAX_INPUT];
        let (out, used) = run(&identity, &input, 1_000_000).expect("at the limit");
        assert_eq!(out.as_ref(), input.as_slice());
        assert_eq!(used, 15 + 3 * (MAX_INPUT as u64 / 32));
        assert_eq!(
            run(&identity, &[input.as_slice(), &[1]].concat(), 1_000_000),
            None
        );
        // A modexp of 1024-byte numbers with an all-ones exponent costs ~44.7M gas.
        let mut modexp = Vec::new();
        for len in [1024u64, 1024, 1024] {
            modexp.extend_from_slice(&alloy_primitives::U256::from(len).to_be_bytes::<32>());
        }
        modexp.extend_from_slice(&[2u8; 1024]);
        modexp.extend_from_slice(&[0xffu8; 1024]);
        modexp.extend_from_slice(&[0xffu8; 1024]);
        assert_eq!(run(&Address::with_last_byte(5), &modexp, u64::MAX), None);
        assert!(!is_precompile(&Address::with_last_byte(0x0b)));
        assert!(is_precompile(&Address::with_last_byte(0x0a)));
    }
}
