//! A derived block's input list, when it holds more than the block's transactions: the `i`
//! record ([`super::schema`]) keeps the transactions derivation listed and tx-init skipped
//! (`fraud_vm::batch::Derived::listed_skipped`), so the block's trace starts from the state
//! the derivation program hands off ([`fraud_vm::vm::BlockRef::inputs`]).

use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, Bytes};
use alloy_rlp::{Decodable, Encodable, Header};
use fraud_vm::batch::ListedSkipped;
use op_alloy_consensus::OpTxEnvelope;

use super::{
    schema::{corrupt, num_key, LISTED_SKIPPED},
    Store, StoreError,
};

/// The `i` record: the RLP list of `[position, transaction (EIP-2718 bytes), sender]`.
pub(super) fn encode(listed: &[ListedSkipped]) -> Vec<u8> {
    let items: Vec<(u64, Bytes, Address)> = listed
        .iter()
        .map(|(p, tx, sender)| (*p as u64, tx.encoded_2718().into(), *sender))
        .collect();
    let item_len = |(p, tx, a): &(u64, Bytes, Address)| p.length() + tx.length() + a.length();
    let payload: usize = items
        .iter()
        .map(|i| {
            let len = item_len(i);
            Header {
                list: true,
                payload_length: len,
            }
            .length()
                + len
        })
        .sum();
    let mut out = Vec::with_capacity(payload + 9);
    Header {
        list: true,
        payload_length: payload,
    }
    .encode(&mut out);
    for item in &items {
        Header {
            list: true,
            payload_length: item_len(item),
        }
        .encode(&mut out);
        item.0.encode(&mut out);
        item.1.encode(&mut out);
        item.2.encode(&mut out);
    }
    out
}

/// Inverse of [`encode`]; `None` if the bytes are not such a list.
fn decode(mut bytes: &[u8]) -> Option<Vec<ListedSkipped>> {
    let buf = &mut bytes;
    let outer = Header::decode(buf).ok().filter(|h| h.list)?;
    let (mut list, rest) = buf.split_at_checked(outer.payload_length)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    while !list.is_empty() {
        let item = Header::decode(&mut list).ok().filter(|h| h.list)?;
        let (mut fields, after) = list.split_at_checked(item.payload_length)?;
        list = after;
        let position = u64::decode(&mut fields).ok()?;
        let raw = Bytes::decode(&mut fields).ok()?;
        let sender = Address::decode(&mut fields).ok()?;
        if !fields.is_empty() {
            return None;
        }
        let tx = OpTxEnvelope::decode_2718_exact(&raw).ok()?;
        out.push((usize::try_from(position).ok()?, tx, sender));
    }
    Some(out)
}

impl Store {
    /// Block `number`'s derived input list (its deposits, then every listed transaction, in
    /// order, each with its sender) when it holds transactions tx-init skipped, which the
    /// block does not contain; `None` when the list is the block's own transactions. A record
    /// without its block is corrupt.
    pub fn block_inputs(
        &self,
        number: u64,
    ) -> Result<Option<Vec<(OpTxEnvelope, Address)>>, StoreError> {
        let Some(v) = self.db.get(num_key(LISTED_SKIPPED, number))? else {
            return Ok(None);
        };
        let bad = || corrupt(format!("listed inputs of block {number}"));
        let skipped = decode(&v).ok_or_else(bad)?;
        let block = self.block_by_number(number)?.ok_or_else(bad)?;
        let mut included = block.transactions.into_iter().zip(block.senders);
        let mut skipped = skipped.into_iter().peekable();
        let mut list = Vec::new();
        loop {
            if skipped.peek().is_some_and(|(p, _, _)| *p == list.len()) {
                if let Some((_, tx, sender)) = skipped.next() {
                    list.push((tx, sender));
                }
                continue;
            }
            match included.next() {
                Some(item) => list.push(item),
                None => break,
            }
        }
        // Every skipped one was placed (positions in order, within the list).
        if skipped.next().is_some() {
            return Err(bad());
        }
        Ok(Some(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_refuses_other_bytes() {
        let tx = |nonce: u64| {
            let signed = alloy_consensus::TxLegacy {
                nonce,
                gas_limit: 21_000,
                ..Default::default()
            };
            use alloy_consensus::SignableTransaction;
            OpTxEnvelope::Legacy(signed.into_signed(alloy_primitives::Signature::test_signature()))
        };
        let listed = vec![
            (1, tx(7), Address::repeat_byte(1)),
            (4, tx(9), Address::repeat_byte(2)),
        ];
        let bytes = encode(&listed);
        assert_eq!(decode(&bytes), Some(listed));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode(&trailing), None);
        assert_eq!(decode(&encode(&[])), Some(Vec::new()));
    }
}
