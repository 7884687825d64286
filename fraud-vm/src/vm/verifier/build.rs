//! Building a code commitment from bytes, one 31-byte piece per micro-step: the chunk tree of
//! [`crate::code`] (appended leaf by leaf with an incremental Merkle frontier) and `keccak256`
//! of the code (bytes fed to the sponge of [`super::keccak`], absorbed 136 at a time).
//!
//! Used for the initcode of `CREATE`/`CREATE2` and for the runtime code a create frame
//! deposits. The builder's commitment ([`CodeBuilder::commitment`]) sits in the frame's
//! `sponge` field between micro-steps; the proof shows the builder.

use alloy_primitives::{keccak256, B256, KECCAK256_EMPTY};

use super::keccak::{self, Sponge, RATE};
use crate::{
    code::{self, immediate_len, PIECE},
    merkle,
};

/// The state of a code commitment being built.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeBuilder {
    /// Keccak state over the bytes absorbed so far.
    pub sponge: Sponge,
    /// Bytes fed but not yet absorbed (fewer than 136).
    pub buffer: Vec<u8>,
    /// Incremental Merkle frontier of the chunk tree of depth `d`: `frontier[h]` (`h < d`) is
    /// the pending left node at height `h`; `frontier[d]` is the root once the tree is full.
    pub frontier: Vec<B256>,
    /// Push-data bytes of the last piece's instructions that spill into the next piece.
    pub carry: u64,
}

impl CodeBuilder {
    /// A builder for code of `len` bytes.
    pub fn new(len: u64) -> Self {
        Self {
            frontier: vec![B256::ZERO; code::depth(len as usize) + 1],
            ..Default::default()
        }
    }

    /// Whether the builder is one a build can reach: fewer than 136 buffered bytes and a carry
    /// of at most 32 push-data bytes. Only such builders have a [`CodeBuilder::commitment`]
    /// that no other builder shares (its one-byte lengths are then exact), so the verifier
    /// accepts no other.
    pub fn is_well_formed(&self) -> bool {
        self.buffer.len() < RATE && self.carry <= 32
    }

    /// `keccak256(state ‖ uint8 bufferLen ‖ buffer ‖ uint8 carry ‖ frontier…)`.
    pub fn commitment(&self) -> B256 {
        let mut preimage = Vec::with_capacity(200 + 2 + self.buffer.len() + 32 * 12);
        preimage.extend_from_slice(&self.sponge.to_bytes());
        preimage.push(self.buffer.len() as u8);
        preimage.extend_from_slice(&self.buffer);
        preimage.push(self.carry as u8);
        for node in &self.frontier {
            preimage.extend_from_slice(node.as_slice());
        }
        keccak256(preimage)
    }

    /// Appends piece `k` (`bytes`: the code's bytes `[31k, 31k + 31)`, zero past its end) of a
    /// code of `len` bytes.
    pub fn push_piece(&mut self, k: u64, bytes: &[u8; PIECE], len: u64) {
        let marker = self.carry.min(PIECE as u64) as usize;
        let mut chunk = [0u8; 32];
        chunk[0] = marker as u8;
        chunk[1..].copy_from_slice(bytes);
        let mut at = marker;
        while at < PIECE {
            at += 1 + immediate_len(bytes[at]);
        }
        self.carry = self
            .carry
            .saturating_sub(PIECE as u64)
            .max((at - PIECE) as u64);
        // Chunk tree: insert leaf k.
        let depth = code::depth(len as usize);
        let mut node = B256::from(chunk);
        let mut size = k + 1;
        for h in 0..=depth {
            if size & 1 == 1 {
                self.frontier[h] = node;
                break;
            }
            node = merkle::hash_pair(&self.frontier[h], &node);
            size >>= 1;
        }
        // Sponge: the real bytes only.
        let real = (len - k * PIECE as u64).min(PIECE as u64) as usize;
        self.buffer.extend_from_slice(&bytes[..real]);
        while self.buffer.len() >= RATE {
            let mut block = [0u8; RATE];
            block.copy_from_slice(&self.buffer[..RATE]);
            self.sponge.absorb(&block);
            self.buffer.drain(..RATE);
        }
    }

    /// `(codeHash, codeRoot)` once every piece of the `len`-byte code is in.
    pub fn finish(&self, len: u64) -> (B256, B256) {
        if len == 0 {
            return (KECCAK256_EMPTY, B256::ZERO);
        }
        let mut sponge = self.sponge;
        sponge.absorb(&keccak::pad_last(&self.buffer));
        let chunk_root = self.chunk_root(len);
        (sponge.output(), code::root_of(len, &chunk_root))
    }

    /// The chunk-tree root alone (see [`CodeBuilder::finish`]).
    pub fn chunk_root(&self, len: u64) -> B256 {
        let depth = code::depth(len as usize);
        if len == 0 {
            return B256::ZERO;
        }
        let pieces = len.div_ceil(PIECE as u64);
        if pieces == 1 << depth {
            return self.frontier[depth];
        }
        let mut node = B256::ZERO;
        let mut size = pieces;
        for h in 0..depth {
            node = if size & 1 == 1 {
                merkle::hash_pair(&self.frontier[h], &node)
            } else {
                merkle::hash_pair(&node, &merkle::zero_hash(h))
            };
            size >>= 1;
        }
        node
    }

    /// Runs a whole build over `code` (the trace's view), returning the builder after each
    /// piece.
    pub fn states(code: &[u8]) -> Vec<CodeBuilder> {
        let len = code.len() as u64;
        let mut builder = CodeBuilder::new(len);
        let mut out = Vec::new();
        for (k, piece) in code.chunks(PIECE).enumerate() {
            let mut bytes = [0u8; PIECE];
            bytes[..piece.len()].copy_from_slice(piece);
            builder.push_piece(k as u64, &bytes, len);
            out.push(builder.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_matches_code_root_and_keccak() {
        for len in [1usize, 2, 30, 31, 32, 62, 63, 136, 137, 300, 1000] {
            let code: Vec<u8> = (0..len).map(|i| (i * 37 + 0x5b) as u8).collect();
            let states = CodeBuilder::states(&code);
            let last = states.last().expect("at least one piece");
            let (hash, root) = last.finish(len as u64);
            assert_eq!(hash, keccak256(&code), "hash, len {len}");
            assert_eq!(root, code::code_root(&code), "root, len {len}");
            assert_eq!(
                code::root_of(len as u64, &last.chunk_root(len as u64)),
                root
            );
        }
        assert_eq!(CodeBuilder::new(0).finish(0), (KECCAK256_EMPTY, B256::ZERO));
    }

    /// The commitment's one-byte lengths alias once a buffer reaches 256 bytes: the honest
    /// preimage `state ‖ L ‖ buffer ‖ carry ‖ frontier` also parses as a builder whose buffer
    /// swallows the carry and eight frontier nodes. Only well-formed builders are accepted.
    #[test]
    fn a_builder_aliasing_the_commitment_is_not_well_formed() {
        let code = vec![0x5bu8; 31 * 200];
        let honest = CodeBuilder::states(&code)[150].clone();
        assert!(honest.is_well_formed());
        assert!(
            honest.frontier.len() >= 9,
            "frontier {}",
            honest.frontier.len()
        );
        let tail: Vec<u8> = std::iter::once(honest.carry as u8)
            .chain(honest.frontier.iter().flat_map(|n| n.0))
            .collect();
        let forged = CodeBuilder {
            sponge: honest.sponge,
            buffer: [honest.buffer.as_slice(), &tail[..256]].concat(),
            carry: u64::from(tail[256]),
            frontier: tail[257..].chunks(32).map(B256::from_slice).collect(),
        };
        assert_ne!(forged, honest);
        assert_eq!(forged.commitment(), honest.commitment());
        assert!(!forged.is_well_formed());
    }
}
