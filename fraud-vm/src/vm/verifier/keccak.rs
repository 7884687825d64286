//! `KECCAK256` as sponge micro-steps: one 136-byte block per step.
//!
//! The first micro-step (`cursor = 0`) pops `offset, size` and charges all gas
//! (`30 + 6·words + memory expansion`). Hashing `size` bytes takes `n = size / 136 + 1`
//! micro-steps (the last block carries the keccak padding `0x01 … 0x80`, alone if `size` is a
//! multiple of 136): micro-step `k` XORs block `k` of memory `[offset + 136k, …)` into the
//! 200-byte keccak-f\[1600\] state (25 little-endian lanes; zero at `k = 0`) and permutes it.
//! Between micro-steps the arguments stay on the stack, `cursor = k + 1` and the frame's
//! `sponge` field is `keccak256(state bytes)` (the proof shows the state); the last
//! micro-step pushes the first 32 state bytes (the hash), clears `sponge` and `cursor`, and
//! advances the program counter.

use alloy_primitives::{keccak256, B256, U256};

use super::{
    ctx::{Ctx, Exec, Exit, HaltReason},
    oracle::Oracle,
};

/// keccak256's rate in bytes.
pub const RATE: usize = 136;
/// Gas per hashed word.
const KECCAK_WORD: u64 = 6;

/// A keccak-f\[1600\] sponge state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sponge(pub [u64; 25]);

impl Sponge {
    /// The state as 200 bytes (lanes little-endian).
    pub fn to_bytes(&self) -> [u8; 200] {
        let mut out = [0u8; 200];
        for (chunk, lane) in out.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&lane.to_le_bytes());
        }
        out
    }

    /// Inverse of [`Sponge::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 200]) -> Self {
        let mut lanes = [0u64; 25];
        for (lane, chunk) in lanes.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *lane = u64::from_le_bytes(b);
        }
        Self(lanes)
    }

    /// What the frame commits to: `keccak256(to_bytes())`.
    pub fn commitment(&self) -> B256 {
        keccak256(self.to_bytes())
    }

    /// XORs one rate-sized block in and permutes.
    pub fn absorb(&mut self, block: &[u8; RATE]) {
        for (lane, chunk) in self.0.iter_mut().zip(block.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *lane ^= u64::from_le_bytes(b);
        }
        keccak::f1600(&mut self.0);
    }

    /// The first 32 bytes of the state: the hash once the last block is absorbed.
    pub fn output(&self) -> B256 {
        B256::from_slice(&self.to_bytes()[..32])
    }
}

/// Number of blocks (micro-steps) hashing `size` bytes takes.
pub fn blocks(size: u64) -> u64 {
    size / RATE as u64 + 1
}

/// Block `k` of a `size`-byte message whose bytes in that block are `data`, padded if last.
pub fn block(data: &[u8], k: u64, size: u64) -> [u8; RATE] {
    if k + 1 == blocks(size) {
        return pad_last(data);
    }
    let mut out = [0u8; RATE];
    out[..data.len()].copy_from_slice(data);
    out
}

/// The last block of a message: its remaining `data` (fewer than 136 bytes) with the keccak
/// padding `0x01 … 0x80`.
pub fn pad_last(data: &[u8]) -> [u8; RATE] {
    let mut out = [0u8; RATE];
    out[..data.len()].copy_from_slice(data);
    out[data.len()] ^= 0x01;
    out[RATE - 1] ^= 0x80;
    out
}

/// The byte range of block `k`: `(start, len)` relative to the message.
pub fn block_range(k: u64, size: u64) -> (u64, usize) {
    let start = k * RATE as u64;
    (start, (size - start).min(RATE as u64) as usize)
}

pub(super) fn run<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>) -> Exec {
    let [offset, size] = ctx.pop_n()?;
    if ctx.m.frame.cursor == 0 {
        let words = u64::try_from(size.div_ceil(U256::from(32)))
            .map_err(|_| Exit::Halt(HaltReason::OutOfGas))?;
        ctx.charge(words.saturating_mul(KECCAK_WORD))?;
        ctx.expand(offset, size)?;
    }
    if let Some(hash) = absorb_next(ctx, offset, size)? {
        ctx.push(U256::from_be_bytes(hash.0));
        ctx.next(0);
    }
    Ok(())
}

/// Absorbs block `cursor` of memory `[offset, offset + size)` (already expanded and paid
/// for, arguments already popped). On the last block: returns the hash and clears `sponge` and
/// `cursor`. Otherwise: pushes `size, offset` back and records the sponge and next cursor.
pub(super) fn absorb_next<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    offset: U256,
    size: U256,
) -> Result<Option<B256>, Exit> {
    let k = ctx.m.frame.cursor;
    let mut sponge = if k == 0 {
        Sponge::default()
    } else {
        ctx.o.sponge(&ctx.m.frame)?
    };
    // Expansion succeeded (or size is 0), so both fit in u64.
    let size_u64 = size.to::<u64>();
    let at = if size.is_zero() {
        0
    } else {
        offset.to::<u64>()
    };
    let (start, len) = block_range(k, size_u64);
    let data = ctx.read_memory(at + start, len)?;
    sponge.absorb(&block(&data, k, size_u64));
    if k + 1 == blocks(size_u64) {
        ctx.m.frame.sponge = B256::ZERO;
        ctx.m.frame.cursor = 0;
        Ok(Some(sponge.output()))
    } else {
        ctx.push(size);
        ctx.push(offset);
        ctx.m.frame.sponge = sponge.commitment();
        ctx.m.frame.cursor = k + 1;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sponge_equals_keccak256() {
        for size in [0usize, 1, 31, 135, 136, 137, 272, 300] {
            let msg: Vec<u8> = (0..size).map(|i| (i * 7 + 3) as u8).collect();
            let mut sponge = Sponge::default();
            for k in 0..blocks(size as u64) {
                let (start, len) = block_range(k, size as u64);
                let start = start as usize;
                sponge.absorb(&block(&msg[start..start + len], k, size as u64));
            }
            assert_eq!(sponge.output(), keccak256(&msg), "size {size}");
            assert_eq!(Sponge::from_bytes(&sponge.to_bytes()), sponge);
        }
    }
}
