//! Block reads: headers, bodies, receipts, transaction locations, the log index and the blocks'
//! L1 records. Only blocks up to the head are visible (see the module docs of [`super`]).

use alloy_consensus::{Header, TxReceipt as _};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, Bytes, B256};
use alloy_rlp::Decodable;
use fraud_vm::{batch::Cursor, ProviderError};
use op_alloy_consensus::{OpReceipt, OpReceiptEnvelope, OpTxEnvelope};

use super::{
    cursor::BatchPosition,
    schema::{
        corrupt, key, num_key, BATCH_POSITION, BODY, HASH_INDEX, HEADER, L1_CURSOR, L1_RECORD,
        LOG_INDEX, META, RECEIPTS, SENDERS,
    },
    L1Cursor, Store, StoreError, StoredBlock,
};

impl Store {
    /// Hash and header of block `number`.
    pub fn header_by_number(&self, number: u64) -> Result<Option<(B256, Header)>, StoreError> {
        let Some(v) = self.db.get(num_key(HEADER, number))? else {
            return Ok(None);
        };
        if v.len() < 32 {
            return Err(corrupt(format!("header {number}")));
        }
        let hash = B256::from_slice(&v[..32]);
        let header =
            Header::decode(&mut &v[32..]).map_err(|e| corrupt(format!("header {number}: {e}")))?;
        Ok(Some((hash, header)))
    }

    /// The hash of stored block `number`, without decoding its header.
    pub(super) fn stored_hash(&self, number: u64) -> Result<Option<B256>, StoreError> {
        match self.db.get(num_key(HEADER, number))? {
            None => Ok(None),
            Some(v) if v.len() >= 32 => Ok(Some(B256::from_slice(&v[..32]))),
            Some(_) => Err(corrupt(format!("header {number}"))),
        }
    }

    /// Number of the block with this hash (only blocks up to the announced head: a block being
    /// committed is invisible until [`Store::commit_block`] returns).
    pub fn number_by_hash(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        let number = match self.db.get(key(HASH_INDEX, &[hash.as_slice()]))? {
            None => return Ok(None),
            Some(v) => {
                u64::from_be_bytes(v.as_ref().try_into().map_err(|_| corrupt("hash index"))?)
            }
        };
        Ok(self.visible(number))
    }

    fn visible(&self, number: u64) -> Option<u64> {
        let head = self.head.read();
        head.as_ref()
            .filter(|h| number <= h.header.number)
            .map(|_| number)
    }

    /// The whole block `number`.
    pub fn block_by_number(&self, number: u64) -> Result<Option<StoredBlock>, StoreError> {
        let Some((hash, header)) = self.header_by_number(number)? else {
            return Ok(None);
        };
        let body = self
            .db
            .get(num_key(BODY, number))?
            .ok_or_else(|| corrupt(format!("body {number} missing")))?;
        let raw: Vec<Bytes> =
            Vec::decode(&mut body.as_ref()).map_err(|e| corrupt(format!("body {number}: {e}")))?;
        let transactions = raw
            .iter()
            .map(|b| OpTxEnvelope::decode_2718(&mut b.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(format!("body {number}: {e}")))?;
        let senders_raw = self
            .db
            .get(num_key(SENDERS, number))?
            .ok_or_else(|| corrupt(format!("senders {number} missing")))?;
        let senders: Vec<Address> = senders_raw
            .chunks_exact(20)
            .map(Address::from_slice)
            .collect();
        if senders.len() != transactions.len() {
            return Err(corrupt(format!("senders {number}")));
        }
        Ok(Some(StoredBlock {
            header,
            hash,
            transactions,
            senders,
        }))
    }

    /// The receipts of block `number`.
    pub fn receipts(&self, number: u64) -> Result<Option<Vec<OpReceiptEnvelope>>, StoreError> {
        let Some(v) = self.db.get(num_key(RECEIPTS, number))? else {
            return Ok(None);
        };
        let stored: Vec<OpReceipt> =
            Vec::decode(&mut v.as_ref()).map_err(|e| corrupt(format!("receipts {number}: {e}")))?;
        Ok(Some(
            stored
                .into_iter()
                .map(|r| OpReceiptEnvelope::from(r.into_with_bloom()))
                .collect(),
        ))
    }

    /// Where a transaction was included: (block number, index), for blocks up to the head.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<(u64, usize)>, StoreError> {
        Ok(self
            .tx_index
            .lookup(&self.db, hash)?
            .and_then(|(number, index)| Some((self.visible(number)?, index as usize))))
    }

    /// Block numbers in `[from, to]` where `address` emitted a log.
    pub fn blocks_with_logs_from(
        &self,
        address: &Address,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let start = key(LOG_INDEX, &[address.as_slice(), &from.to_be_bytes()]);
        let end = key(
            LOG_INDEX,
            &[address.as_slice(), &to.saturating_add(1).to_be_bytes()],
        );
        let mut out = Vec::new();
        for item in self.db.range(start..end) {
            let (k, _) = item?;
            let nb: [u8; 8] = k[21..29].try_into().map_err(|_| corrupt("log index"))?;
            out.push(u64::from_be_bytes(nb));
        }
        Ok(out)
    }

    /// The derivation cursor of the newest block that had an L1 origin.
    pub fn l1_cursor(&self) -> Result<Option<L1Cursor>, StoreError> {
        match self.db.get(key(META, &[L1_CURSOR]))? {
            None => Ok(None),
            Some(v) => L1Cursor::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt("l1 cursor")),
        }
    }

    /// The L1 record of block `number`: its origin and the delayed messages consumed up to
    /// and including it (None: the block has no L1 origin).
    pub fn block_l1(&self, number: u64) -> Result<Option<L1Cursor>, StoreError> {
        match self.db.get(num_key(L1_RECORD, number))? {
            None => Ok(None),
            Some(v) => L1Cursor::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt(format!("L1 record of block {number}"))),
        }
    }

    /// The L1 record of the newest block at or below `number` that had an L1 origin: its
    /// origin (the newest origin so far) and the delayed messages consumed up to and including
    /// `number` (None: no block up to `number` had an origin).
    pub fn l1_at(&self, number: u64) -> Result<Option<L1Cursor>, StoreError> {
        Ok(self.newest_l1_record(number)?.map(|(_, record)| record))
    }

    /// The newest block at or below `number` that had an L1 origin, with its L1 record (None:
    /// no block up to `number` had an origin).
    pub fn newest_l1_record(&self, number: u64) -> Result<Option<(u64, L1Cursor)>, StoreError> {
        let range = num_key(L1_RECORD, 0)..=num_key(L1_RECORD, number);
        let Some(item) = self.db.range(range).next_back() else {
            return Ok(None);
        };
        let (k, v) = item?;
        let bad = || corrupt(format!("L1 record at or below {number}"));
        let block = k
            .get(1..9)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(bad)?;
        let record = L1Cursor::decode(&v).ok_or_else(bad)?;
        Ok(Some((block, record)))
    }

    /// The derivation cursor after block `number` (`fraud_vm::inbox::Cursor`: where the next
    /// block's derivation continues), known for genesis ([`Cursor::GENESIS`]) and for blocks
    /// this node derived from a batch or posted in one (None otherwise).
    pub fn derivation_cursor(&self, number: u64) -> Result<Option<Cursor>, StoreError> {
        if number == 0 {
            return Ok(Some(Cursor::GENESIS));
        }
        let Some(position) = self.batch_position(number)? else {
            return Ok(None);
        };
        Ok(Some(position.cursor(self.l1_at(number)?.as_ref())))
    }

    /// Block `number`'s batch position, for blocks this node derived from a batch or posted
    /// in one (None otherwise).
    pub fn batch_position(&self, number: u64) -> Result<Option<BatchPosition>, StoreError> {
        let Some(v) = self.db.get(num_key(BATCH_POSITION, number))? else {
            return Ok(None);
        };
        BatchPosition::decode(&v)
            .map(Some)
            .ok_or_else(|| corrupt(format!("batch position of block {number}")))
    }

    /// Delayed messages consumed up to and including block `number` (0 if no block up to it
    /// had an L1 origin).
    pub fn delayed_read_at(&self, number: u64) -> Result<u64, StoreError> {
        Ok(self.l1_at(number)?.map_or(0, |c| c.next_deposit))
    }

    pub(super) fn block_hash(&self, number: u64) -> Result<B256, ProviderError> {
        Ok(self.stored_hash(number)?.unwrap_or_default())
    }
}
