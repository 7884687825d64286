//! Derivation state: the [`L1Cursor`] stored with every block that has an L1 origin.
//!
//! Following L1 is [`crate::follower`]; its main types are re-exported here under their
//! earlier paths.

use alloy::primitives::B256;
use fraud_vm::deposit::L1BlockInfo;

pub use crate::follower::{DepositFeed, L1Config, L1Follower};

/// How far derivation got: the origin of the newest L2 block and the next Inbox index to
/// include. Persisted with every block that has an origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L1Cursor {
    /// The L1 origin of the newest L2 block.
    pub origin: L1BlockInfo,
    /// The Inbox index of the next deposit to include.
    pub next_deposit: u64,
}

impl L1Cursor {
    /// Byte length of [`L1Cursor::encode`].
    pub const ENCODED_LEN: usize = 8 + 32 + 8 + 8 + 8;

    /// `origin.number ‖ origin.hash ‖ origin.timestamp ‖ origin.basefee ‖ next_deposit`
    /// (integers as u64 big-endian): 64 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_LEN);
        out.extend_from_slice(&self.origin.number.to_be_bytes());
        out.extend_from_slice(self.origin.hash.as_slice());
        out.extend_from_slice(&self.origin.timestamp.to_be_bytes());
        out.extend_from_slice(&self.origin.basefee.to_be_bytes());
        out.extend_from_slice(&self.next_deposit.to_be_bytes());
        out
    }

    /// Inverse of [`L1Cursor::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_LEN {
            return None;
        }
        let u64_at = |i: usize| bytes[i..i + 8].try_into().ok().map(u64::from_be_bytes);
        Some(Self {
            origin: L1BlockInfo {
                number: u64_at(0)?,
                hash: B256::from_slice(&bytes[8..40]),
                timestamp: u64_at(40)?,
                basefee: u64_at(48)?,
            },
            next_deposit: u64_at(56)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(number: u64) -> L1BlockInfo {
        L1BlockInfo {
            number,
            hash: B256::with_last_byte(number as u8),
            timestamp: 1000 + number,
            basefee: 7,
        }
    }

    #[test]
    fn cursor_round_trips() {
        let c = L1Cursor {
            origin: block(9),
            next_deposit: 42,
        };
        let bytes = c.encode();
        assert_eq!(bytes.len(), L1Cursor::ENCODED_LEN);
        assert_eq!(L1Cursor::decode(&bytes), Some(c));
        assert_eq!(L1Cursor::decode(&bytes[1..]), None);
    }
}
