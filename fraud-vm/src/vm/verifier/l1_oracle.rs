//! The derivation oracle: how the derivation program asks for what it reads beyond the batch
//! (the claim it continues from, L1's Inbox accumulators, preimages of committed hashes).
//!
//! While the program runs (`tx.txType =` [`DERIVATION_TX_TYPE`]), a `STATICCALL` to
//! [`ORACLE`] is answered in the call step itself, as a precompile call is
//! ([`super::call`]): the step runs the call's common part (argument pops, memory expansion
//! over both areas, warm or cold access to `ORACLE`, EIP-150 forwarding, the depth check),
//! then reads the input area as a [`Query`] and answers it. Any other call to `ORACLE`, and
//! every call to it outside a derivation run, is an ordinary call.
//!
//! A query is `selector ‖ argument` in Solidity's call encoding ([`IDerivationOracle`]):
//! * `context()` (4 bytes) → 64 bytes, `parentHash ‖ cursor` of the block part: the hash of
//!   the block the claim is on and the hash of the cursor derivation continues from;
//! * `preimage(bytes32 h)` (36 bytes) → the bytes whose `keccak256` is `h`, a witness of at
//!   most [`MAX_PREIMAGE`] bytes ([`Witness::Preimage`](super::Witness::Preimage));
//! * `batchAcc(uint256 i)`, `delayedAcc(uint256 i)` (36 bytes, `i < 2^64`) → the Inbox's
//!   accumulator after `i` batches or delayed messages, 32 bytes, which the verifier reads on
//!   L1 itself ([`L1Inbox`](super::open::L1Inbox)). An index L1 does not hold is
//!   [`StepError::NotOnL1`](super::StepError::NotOnL1): no step is defined from there.
//!
//! The answer is raw bytes, not ABI-encoded (Solidity reads it with a low-level `staticcall`).
//! The oracle charges [`ANSWER_WORD_GAS`] per 32-byte word of its answer, from the forwarded
//! gas (as the identity precompile charges per word of output), so that every copy micro-step
//! of the answer into the caller's memory was paid for. A successful call gives back the rest
//! of the forwarded gas, makes the answer the return data (its own word tree) and pushes `1`;
//! the answer is then copied to the output area by the usual copy micro-steps. Any other input
//! (another length or selector, an index of `2^64` or more), or too little forwarded gas for
//! the answer, fails the call (unread beyond its 36 bytes): it consumes the forwarded gas,
//! empties the return data and pushes `0`.
//!
//! The program only asks for preimages of hashes it read from committed data (the claim, the
//! cursor, the Inbox's accumulators, headers and messages linked from them), and only for
//! accumulator indices the Inbox holds (at most the opened batch's, and its
//! `afterDelayedMessagesRead`), so an honest prover can always answer.

use alloy_primitives::{Bytes, B256, U256};
use alloy_sol_types::{sol, SolCall};

use super::{
    call::clear_returndata,
    ctx::{Ctx, Exec},
    oracle::{Oracle, WordTree},
};

pub use super::open::{DERIVATION_TX_TYPE, ORACLE};

/// Gas the oracle charges per 32-byte word of its answer.
pub const ANSWER_WORD_GAS: u64 = 3;

/// The gas an answer of `len` bytes costs.
pub fn answer_gas(len: usize) -> u64 {
    ANSWER_WORD_GAS * (len as u64).div_ceil(32)
}

/// Longest preimage the oracle gives in one answer: room for the largest deposit data the
/// Portal accepts (120,000 bytes), the largest preimage derivation reads.
pub const MAX_PREIMAGE: usize = 128 * 1024;

sol! {
    /// The derivation oracle's queries, as Solidity encodes the calls (answers are raw bytes).
    interface IDerivationOracle {
        /// `parentHash ‖ cursor` of the block part.
        function context() external view;
        /// The bytes whose keccak256 is `hash`.
        function preimage(bytes32 hash) external view;
        /// `Inbox.batchAcc(index)`.
        function batchAcc(uint256 index) external view;
        /// `Inbox.delayedAcc(index)`.
        function delayedAcc(uint256 index) external view;
    }
}

/// Which of the Inbox's accumulators a query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxAcc {
    /// `batchAcc`.
    Batch,
    /// `delayedAcc`.
    Delayed,
}

/// A well-formed query (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    /// `context()`.
    Context,
    /// `preimage(hash)`.
    Preimage(B256),
    /// `batchAcc(index)` or `delayedAcc(index)`.
    Acc(InboxAcc, u64),
}

impl Query {
    /// The query `input` encodes, if it is well formed.
    pub fn parse(input: &[u8]) -> Option<Self> {
        use IDerivationOracle::*;
        let (selector, arg) = match input.len() {
            4 => (&input[..4], None),
            36 => (&input[..4], Some(B256::from_slice(&input[4..]))),
            _ => return None,
        };
        let index = |word: B256| u64::try_from(U256::from_be_bytes(word.0)).ok();
        match (<[u8; 4]>::try_from(selector).ok()?, arg) {
            (contextCall::SELECTOR, None) => Some(Query::Context),
            (preimageCall::SELECTOR, Some(h)) => Some(Query::Preimage(h)),
            (batchAccCall::SELECTOR, Some(i)) => Some(Query::Acc(InboxAcc::Batch, index(i)?)),
            (delayedAccCall::SELECTOR, Some(i)) => Some(Query::Acc(InboxAcc::Delayed, index(i)?)),
            _ => None,
        }
    }

    /// The call data of the query.
    pub fn encode(&self) -> Vec<u8> {
        use IDerivationOracle::*;
        match *self {
            Query::Context => contextCall {}.abi_encode(),
            Query::Preimage(hash) => preimageCall { hash }.abi_encode(),
            Query::Acc(InboxAcc::Batch, i) => batchAccCall {
                index: U256::from(i),
            }
            .abi_encode(),
            Query::Acc(InboxAcc::Delayed, i) => delayedAccCall {
                index: U256::from(i),
            }
            .abi_encode(),
        }
    }
}

/// Whether a call to `target` with `kind` from the current frame is a derivation-oracle call.
pub(super) fn is_oracle_call<O: Oracle + ?Sized>(
    ctx: &Ctx<'_, O>,
    kind: super::FrameKind,
    target: &alloy_primitives::Address,
) -> bool {
    kind == super::FrameKind::StaticCall
        && *target == ORACLE
        && ctx.m.tx.tx_type == DERIVATION_TX_TYPE
}

/// The oracle call, after the call step's common part: `args` and `ret` are the (expanded)
/// input and output areas, `gas` the forwarded gas.
pub(super) fn call<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    args: (u64, u64),
    ret: (u64, u64),
    gas: u64,
) -> Exec {
    let query = match args.1 {
        4 | 36 => Query::parse(&ctx.read_range(WordTree::Memory, args.0, args.1 as usize)?),
        _ => None,
    };
    let answer = match query {
        None => None,
        Some(Query::Context) => {
            let block = &ctx.m.block;
            Some(Bytes::from([block.parent_hash.0, block.cursor.0].concat()))
        }
        Some(Query::Preimage(hash)) => Some(ctx.o.preimage(&hash)?),
        Some(Query::Acc(acc, index)) => Some(Bytes::copy_from_slice(
            ctx.o.inbox_acc(acc, index)?.as_slice(),
        )),
    };
    let answer = answer.filter(|bytes| answer_gas(bytes.len()) <= gas);
    let frame = &mut ctx.m.frame;
    match &answer {
        Some(bytes) => {
            frame.gas += gas - answer_gas(bytes.len());
            frame.returndata_len = bytes.len() as u64;
            frame.returndata_root = crate::merkle::data_root(bytes);
            frame.returndata_offset = 0;
        }
        None => clear_returndata(frame),
    }
    super::call::returned(ctx, answer.is_some(), ret);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_round_trip_and_nothing_else_parses() {
        let queries = [
            Query::Context,
            Query::Preimage(B256::repeat_byte(7)),
            Query::Acc(InboxAcc::Batch, 0),
            Query::Acc(InboxAcc::Delayed, u64::MAX),
        ];
        for q in queries {
            let bytes = q.encode();
            assert_eq!(Query::parse(&bytes), Some(q));
            assert_eq!(Query::parse(&[bytes.as_slice(), &[0]].concat()), None);
            assert_eq!(Query::parse(&bytes[..bytes.len() - 1]), None);
        }
        let mut big = Query::Acc(InboxAcc::Batch, 0).encode();
        big[4 + 23] = 1; // index 2^64
        assert_eq!(Query::parse(&big), None);
        let mut unknown = Query::Context.encode();
        unknown[0] ^= 1;
        assert_eq!(Query::parse(&unknown), None);
        let mut context_with_arg = Query::Preimage(B256::ZERO).encode();
        context_with_arg[..4].copy_from_slice(&IDerivationOracle::contextCall::SELECTOR);
        assert_eq!(Query::parse(&context_with_arg), None);
    }
}
