//! Contract code commitment: 31-byte chunks with a push-data marker.
//!
//! An account leaf commits to its code twice: `codeHash = keccak256(code)` (what the EVM's
//! `EXTCODEHASH` returns) and `codeRoot`, a Merkle commitment a one-step proof can open one
//! chunk of. Chunking follows EIP-6800's code chunking so a proof can also check a jump target
//! with one chunk:
//!
//! * The code is cut into 31-byte pieces; piece `i` covers bytes `31·i .. 31·i + 31`, the last
//!   one zero-padded.
//! * Chunk `i` is 32 bytes: `marker ‖ piece`, where `marker` is the number of leading bytes of
//!   the piece that are immediates of a `PUSHn` starting in an earlier piece, capped at 31.
//!   (A `PUSHn` that starts in piece `i` is described by piece `i` itself.)
//! * The chunks are the leaves of a [`crate::merkle`] tree of depth
//!   `d = ceil(log2(chunkCount))` (0 for one chunk), and
//!   `codeRoot = keccak256(uint256(codeLength) ‖ chunkRoot)`. Empty code has `codeRoot = 0`.
//!
//! Reading the instruction at `pc` opens chunk `pc / 31` (byte `1 + pc % 31`); a `PUSHn` whose
//! immediate crosses into the next piece opens that chunk too. A jump target `t` is valid iff
//! `t < codeLength`, the byte at `t` is `JUMPDEST`, and `t` is not push data: with
//! `o = t % 31` and `m` the marker of chunk `t / 31`, `o >= m` and walking the piece's
//! instructions from offset `m` (stepping `1 + n` over each `PUSHn`) lands exactly on `o`
//! ([`is_code_start`]).

use alloy_primitives::{keccak256, B256, U256};

use crate::merkle;

/// Code bytes per chunk.
pub const PIECE: usize = 31;

/// `PUSH1`.
const PUSH1: u8 = 0x60;
/// `PUSH32`.
const PUSH32: u8 = 0x7f;

/// Number of immediate bytes of `opcode` (`n` for `PUSHn`, else 0).
pub fn immediate_len(opcode: u8) -> usize {
    if (PUSH1..=PUSH32).contains(&opcode) {
        (opcode - PUSH1 + 1) as usize
    } else {
        0
    }
}

/// The chunks of `code` (see the module docs).
pub fn chunks(code: &[u8]) -> Vec<B256> {
    let mut out = Vec::with_capacity(code.len().div_ceil(PIECE));
    // First byte index that is not push data of an earlier instruction.
    let mut next_instruction = 0usize;
    for (i, piece) in code.chunks(PIECE).enumerate() {
        let start = i * PIECE;
        let marker = next_instruction.saturating_sub(start).min(PIECE);
        let mut chunk = [0u8; 32];
        chunk[0] = marker as u8;
        chunk[1..1 + piece.len()].copy_from_slice(piece);
        out.push(B256::from(chunk));
        let mut pc = next_instruction.max(start);
        while pc < start + piece.len() {
            pc += 1 + immediate_len(code[pc]);
        }
        next_instruction = pc;
    }
    out
}

/// Depth of the chunk tree of code of `len` bytes.
pub fn depth(len: usize) -> usize {
    merkle::depth_for(len.div_ceil(PIECE))
}

/// `codeRoot` of `code`.
pub fn code_root(code: &[u8]) -> B256 {
    if code.is_empty() {
        return B256::ZERO;
    }
    root_of(
        code.len() as u64,
        &merkle::root(&chunks(code), depth(code.len())),
    )
}

/// `keccak256(uint256(len) ‖ chunkRoot)`: the `codeRoot` given the chunk tree's root.
pub fn root_of(len: u64, chunk_root: &B256) -> B256 {
    if len == 0 {
        return B256::ZERO;
    }
    let mut preimage = [0u8; 64];
    preimage[..32].copy_from_slice(&U256::from(len).to_be_bytes::<32>());
    preimage[32..].copy_from_slice(chunk_root.as_slice());
    keccak256(preimage)
}

/// Whether offset `offset` (`< 31`) of `chunk`'s piece starts an instruction.
pub fn is_code_start(chunk: &B256, offset: usize) -> bool {
    let marker = chunk[0] as usize;
    if offset < marker {
        return false;
    }
    let mut at = marker;
    while at < offset {
        at += 1 + immediate_len(chunk[1 + at]);
    }
    at == offset
}

/// A contract's code with its chunk tree, for opening chunks.
#[derive(Clone, Debug)]
pub struct ChunkedCode {
    len: usize,
    levels: Vec<Vec<B256>>,
}

impl ChunkedCode {
    /// Chunks `code` and builds its tree.
    pub fn new(code: &[u8]) -> Self {
        Self {
            len: code.len(),
            levels: merkle::levels(&chunks(code), depth(code.len())),
        }
    }

    /// Root of the chunk tree.
    pub fn chunk_root(&self) -> B256 {
        self.levels
            .last()
            .and_then(|l| l.first().copied())
            .unwrap_or_default()
    }

    /// The code's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the code is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Chunk `index` and its sibling path.
    pub fn open(&self, index: u64) -> (B256, Vec<B256>) {
        let chunk = self.levels[0]
            .get(index as usize)
            .copied()
            .unwrap_or_default();
        (chunk, merkle::path(&self.levels, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_count_push_data_spilling_into_the_next_piece() {
        // 29 JUMPDESTs, then PUSH4 at offset 29: immediates at 30, 31, 32, 33.
        let mut code = vec![0x5b; 29];
        code.extend([0x63, 1, 2, 3, 4, 0x5b]);
        let c = chunks(&code);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0][0], 0);
        assert_eq!(c[1][0], 3); // bytes 31, 32, 33 are push data
        assert!(is_code_start(&c[1], 3)); // the JUMPDEST at 34
        assert!(!is_code_start(&c[1], 1));
        assert!(is_code_start(&c[0], 29));
        assert!(!is_code_start(&c[0], 30));
        // PUSH32 spanning a whole piece caps the marker at 31.
        let mut long = vec![0x00; 30];
        long.push(PUSH32);
        long.extend([0x5b; 32]);
        long.push(0x5b);
        let c = chunks(&long);
        assert_eq!(c[1][0], 31);
        assert_eq!(c[2][0], 1);
        assert!(is_code_start(&c[2], 1));
    }

    #[test]
    fn root_commits_to_length_and_opens_chunks() {
        assert_eq!(code_root(&[]), B256::ZERO);
        assert_ne!(code_root(&[0x60, 0x00]), code_root(&[0x60, 0x00, 0x00]));
        let code: Vec<u8> = (0..200u16).map(|i| (i % 251) as u8).collect();
        let tree = ChunkedCode::new(&code);
        assert_eq!(code_root(&code), root_of(200, &tree.chunk_root()));
        for i in 0..7u64 {
            let (chunk, path) = tree.open(i);
            assert_eq!(path.len(), depth(200));
            assert_eq!(merkle::root_from_path(&chunk, i, &path), tree.chunk_root());
            assert_eq!(&chunk[1..], &{
                let mut piece = [0u8; 31];
                let s = &code[i as usize * 31..code.len().min(i as usize * 31 + 31)];
                piece[..s.len()].copy_from_slice(s);
                piece
            });
        }
    }
}
