//! Transaction start and end.
//!
//! **tx-init** (boundary state, `txIndex < txCount`): the proof shows input item `txIndex`
//! ([`super::input::TxInput`]). The transaction is *skipped* (only `txIndex` advances) unless:
//! the fee cap covers the base fee (and, for EIP-1559, the tip cap is at most the fee cap); the
//! gas limit covers the intrinsic gas (`21000 + 16` per non-zero and `4` per zero input byte
//! `+ 2400` per access-list address `+ 1900` per storage key) and fits the block's remaining
//! gas; the sender's nonce matches, it has no code (EIP-3607), and its balance covers
//! `gasLimit · feeCap + value + l1Fee` (the L1 data fee, [`crate::fee`]: `L1Info.basefee`,
//! read from the state, times `16 · (encodedLen + 4)`). Otherwise: the sender's nonce
//! increments and it pays `gasLimit · price + l1Fee` (price = `min(feeCap, baseFee + tipCap)`
//! for EIP-1559, the gas price otherwise), `l1Fee` going to the L1 fee vault; the checkpoint
//! for the transaction's frame is taken; the accessed-addresses set becomes
//! `{sender, to, coinbase}` (precompiles are always warm); value moves to `to`; and the
//! transaction's frame starts with `to`'s code, `gasLimit − intrinsic` gas, the input as call
//! data, and `parentHash = keccak256(boundaryFrame ‖ checkpoint)`.
//!
//! **tx-end** (exit of a frame whose caller is the boundary frame): after the checkpoint is
//! restored for a failed transaction, `used = gasLimit − gasLeft`, the refund is
//! `min(refundCounter, used / 5)` (EIP-3529), the sender gets `(gasLimit − used) · price`
//! back, the fee recipient gets `used · tip`, and the block's cumulative gas, receipts
//! accumulator ([`crate::block::receipt_item_parts`]), transactions accumulator and logs bloom
//! advance; the state returns to the boundary with the next `txIndex`.
//!
//! A contract-creating transaction (`to` empty) also pays `32000 + 2` per initcode word, must
//! have at most 49152 input bytes, and builds the initcode's commitment from its input one
//! piece per tx-init micro-step (in the boundary frame, whose call-data fields point at the
//! input meanwhile); the last one takes the checkpoint, creates the account
//! `sender.create(nonce)` with nonce 1 and the value (in the created set), and starts the create
//! frame — already halted, with no gas, if the address has a nonce or code.
//!
//! A **deposit** (type `0x7E`, [`crate::deposit`]) pays no gas: it is skipped if it does not fit
//! the block's remaining gas; otherwise its mint is credited to the sender and kept whatever
//! happens; if it cannot run (intrinsic gas above its limit, value above the balance, a sender
//! with code, initcode too large) it is recorded right away as failed — nonce bumped, its whole
//! gas limit used, status 0 — else it runs like any transaction at price 0 (no purchase, no
//! refund, no tip).
//!
//! An access list (EIP-2930, also on EIP-1559 transactions) is warmed after the purchase, one
//! entry per micro-step in the boundary frame (`cursor` = entries done + 1, `sponge` = the hash
//! chain of the entries not yet warmed, [`super::input::access_list_hash`], starting at the
//! input's `accessListHash`): each micro-step shows its entry and the chain's last link
//! `(rest, entry.hash())` and keeps `rest`; after the last one `rest` must be 0, and the
//! transaction's frame starts (a creating transaction builds its first initcode piece in that
//! same step and piece `k` at `cursor = entries + k`).
//!
//! A transaction whose target is a precompile (0x01 … 0x0a) runs it within tx-init on the
//! whole input with the frame's gas (the same implementation as L1's): the frame starts
//! returned with the unused gas, or halted with none if the precompile fails.

use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256};

use super::{
    account::{read_account, update_balance, warm_address, write_account},
    build::CodeBuilder,
    call::transfer,
    create::{collides, create_account, MAX_INITCODE},
    ctx::Source,
    ctx::{Ctx, Exit},
    input::{TxInput, DEPOSIT_TYPE},
    machine::{boundary_frame, parent_hash, Checkpoint, Frame, FrameKind, Status, TxPart},
    oracle::Oracle,
    oracle::{DataSource, WordTree},
    storage::access_slot,
    StepError, DATA_DEPTH, SET_MEMBER,
};
use crate::{
    block::{receipt_item_parts, Accumulator},
    code::PIECE,
    fee, merkle,
    smt::{self, MemoryNodes},
    state::{account_key, storage_key},
};

/// Gas every transaction pays.
const TX_BASE: u64 = 21_000;
/// Intrinsic gas per non-zero input byte.
const TX_DATA_NONZERO: u64 = 16;
/// Intrinsic gas per zero input byte.
const TX_DATA_ZERO: u64 = 4;
/// Intrinsic gas per access-list address.
const ACCESS_LIST_ADDRESS: u64 = 2_400;
/// Intrinsic gas per access-list storage key.
const ACCESS_LIST_KEY: u64 = 1_900;
/// EIP-3529: refunds are capped at a fifth of the gas used.
const MAX_REFUND_QUOTIENT: u64 = 5;

/// Root of the accessed-addresses set at a transaction's start.
pub fn initial_accessed_addresses(sender: &Address, to: &Address, coinbase: &Address) -> B256 {
    let changes = [sender, to, coinbase]
        .iter()
        .map(|a| (account_key(a), Some(SET_MEMBER)))
        .collect();
    smt::update(&MemoryNodes::default(), B256::ZERO, changes)
        .map(|u| u.root)
        .unwrap_or_default()
}

/// Gas a contract-creating transaction adds to the intrinsic gas.
const TX_CREATE: u64 = 32_000;
/// Intrinsic gas per initcode word of a creating transaction (EIP-3860).
const INITCODE_WORD: u64 = 2;

pub(super) fn init<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>) -> Result<(), Exit> {
    let input = ctx.o.tx_input(&ctx.m.block)?;
    let entries = input.access_list.0 + input.access_list.1;
    let cursor = ctx.m.frame.cursor;
    if input.to.is_some() && cursor > entries {
        return Err(StepError::BadWitness("tx-init cursor").into());
    }
    let base_fee = ctx.m.block.base_fee as u128;
    let price = input.price(base_fee);
    let mut intrinsic = TX_BASE
        + TX_DATA_NONZERO * (input.input_len - input.input_zero_bytes)
        + TX_DATA_ZERO * input.input_zero_bytes
        + ACCESS_LIST_ADDRESS * input.access_list.0
        + ACCESS_LIST_KEY * input.access_list.1;
    if input.to.is_none() {
        intrinsic += TX_CREATE + INITCODE_WORD * input.input_len.div_ceil(32);
    }
    if input.tx_type == super::open::DERIVATION_TX_TYPE {
        // Derivation builds inputs of types 0, 1, 2 and 0x7E only: an input of the
        // derivation run's type would give a transaction the oracle and the hand-off.
        return Err(StepError::Unsupported("an input of the derivation run's type".into()).into());
    }
    let deposit = input.tx_type == DEPOSIT_TYPE;
    let price = if deposit { 0 } else { price };
    if cursor == 0 {
        let started = if deposit {
            deposit_start(ctx, &input, intrinsic)?
        } else {
            purchase(ctx, &input, price, intrinsic)?
        };
        if !started {
            return Ok(());
        }
        if entries > 0 {
            // The access list is warmed one entry per micro-step.
            ctx.m.frame.cursor = 1;
            ctx.m.frame.sponge = input.access_list_hash;
            return Ok(());
        }
    } else if cursor <= entries {
        let entry = ctx.o.access_entry()?;
        let (rest, item) = ctx.o.link(&ctx.m.frame.sponge)?;
        if item != entry.hash() {
            return Err(StepError::BadWitness("access-list entry").into());
        }
        match entry.slot {
            Some(slot) => {
                let key = storage_key(&entry.address, &U256::from_be_bytes(slot.0));
                access_slot(ctx, &key)?;
            }
            None => {
                warm_address(ctx, &entry.address)?;
            }
        }
        if cursor < entries {
            ctx.m.frame.cursor += 1;
            ctx.m.frame.sponge = rest;
            return Ok(());
        }
        if !rest.is_zero() {
            return Err(StepError::BadWitness("access list").into());
        }
        // A creating transaction builds its first initcode piece in this step too.
        ctx.m.frame.sponge = B256::ZERO;
    }
    let to = match input.to {
        Some(to) => to,
        None => {
            // Build the initcode's commitment from the input, one piece per micro-step, in the
            // boundary frame (its call data fields point at the input meanwhile); piece `k`
            // at `cursor = entries + k` (piece 0 in the step that warmed the last entry).
            let len = input.input_len;
            let frame = &mut ctx.m.frame;
            frame.calldata_len = len;
            frame.calldata_root = input.input_root;
            let k = cursor.saturating_sub(entries);
            let mut builder = if k == 0 {
                CodeBuilder::new(len)
            } else {
                ctx.o.builder(&ctx.m.frame)?
            };
            if len > 0 {
                let start = k * PIECE as u64;
                let width = (len - start).min(PIECE as u64) as usize;
                let bytes =
                    ctx.read(Source::Data(DataSource::CallData), U256::from(start), width)?;
                let mut piece = [0u8; PIECE];
                piece[..width].copy_from_slice(&bytes[..width]);
                builder.push_piece(k, &piece, len);
                if start + (PIECE as u64) < len {
                    ctx.m.frame.sponge = builder.commitment();
                    ctx.m.frame.cursor += 1;
                    return Ok(());
                }
            }
            // The sender's nonce was bumped by the first micro-step: the new address uses the
            // one before.
            let (_, sender) = read_account(ctx, &input.sender)?;
            let address = input.sender.create(sender.nonce - 1);
            return enter_create(ctx, &input, address, builder.chunk_root(len), intrinsic);
        }
    };
    let checkpoint = Checkpoint::of(ctx.m);
    if !input.value.is_zero() {
        transfer(ctx, &input.sender, &to, input.value)?;
    }
    let (_, target) = read_account(ctx, &to)?;
    let (code_len, code_chunk_root) = if target.code_root.is_zero() {
        (0, B256::ZERO)
    } else {
        ctx.o.code_root_preimage(&target.code_root)?
    };
    ctx.m.frame = Frame {
        status: Status::Running,
        kind: FrameKind::Call,
        address: to,
        caller: input.sender,
        value: input.value,
        code_len,
        code_chunk_root,
        gas: input.gas_limit - intrinsic,
        mem_root: merkle::zero_hash(DATA_DEPTH),
        calldata_len: input.input_len,
        calldata_root: input.input_root,
        returndata_root: merkle::zero_hash(DATA_DEPTH),
        parent_hash: parent_hash(&boundary_frame(), &checkpoint),
        ..Default::default()
    };
    if crate::precompile::is_precompile(&to) {
        run_precompile(ctx)?;
    }
    Ok(())
}

/// A transaction whose target is a precompile: it runs on the whole input within tx-init and
/// the frame ends right away, returned with the gas left, or halted with none.
fn run_precompile<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>) -> Result<(), Exit> {
    let (target, len, gas) = (
        ctx.m.frame.address,
        ctx.m.frame.calldata_len,
        ctx.m.frame.gas,
    );
    let output = ctx.precompile(&target, WordTree::Data(DataSource::CallData), 0, len, gas)?;
    let frame = &mut ctx.m.frame;
    match output {
        Some((_, gas_used)) => {
            frame.gas -= gas_used;
            frame.status = Status::Returned;
        }
        None => {
            frame.gas = 0;
            frame.status = Status::Halted;
        }
    }
    Ok(())
}

/// A deposit's start: it is skipped if it does not fit the block's gas; otherwise the mint is
/// credited, and if the deposit cannot run (intrinsic gas above its limit, value above the
/// balance, sender with code, initcode too large) it ends here as a failed transaction (nonce
/// bumped, whole gas limit used, status 0); else its nonce is bumped and the transaction part
/// set (price and tip 0). Returns whether a frame follows.
fn deposit_start<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    input: &TxInput,
    intrinsic: u64,
) -> Result<bool, Exit> {
    let block = &ctx.m.block;
    if input.gas_limit > block.gas_limit.saturating_sub(block.cumulative_gas) {
        ctx.m.block.tx_index += 1;
        return Ok(false);
    }
    let start_root = block.state_root;
    let (_, mut sender) = read_account(ctx, &input.sender)?;
    sender.balance = sender.balance.saturating_add(input.mint);
    let nonce = sender.nonce;
    let valid = input.gas_limit >= intrinsic
        && sender.balance >= input.value
        && sender.code_hash == KECCAK256_EMPTY
        && nonce < u64::MAX
        && (input.to.is_some() || input.input_len <= MAX_INITCODE);
    sender.nonce = nonce.saturating_add(1);
    write_account(ctx, &input.sender, &sender)?;
    if !valid {
        let block = &mut ctx.m.block;
        block.cumulative_gas += input.gas_limit;
        let mut receipts = Accumulator::resume(block.receipt_acc);
        receipts.push(receipt_item_parts(
            DEPOSIT_TYPE as u8,
            false,
            block.cumulative_gas,
            &B256::ZERO,
        ));
        block.receipt_acc = receipts.root();
        let mut txs = Accumulator::resume(block.tx_acc);
        txs.push(input.tx_hash);
        block.tx_acc = txs.root();
        block.tx_index += 1;
        return Ok(false);
    }
    let coinbase = ctx.m.block.coinbase;
    let to = input.to.unwrap_or_else(|| input.sender.create(nonce));
    ctx.m.tx = TxPart {
        origin: input.sender,
        start_state_root: start_root,
        accessed_addresses: initial_accessed_addresses(&input.sender, &to, &coinbase),
        tx_type: DEPOSIT_TYPE,
        gas_limit: input.gas_limit,
        tx_hash: input.tx_hash,
        ..Default::default()
    };
    Ok(true)
}

/// Validity, nonce and gas purchase; sets the transaction part. `false`: the transaction is
/// invalid and skipped.
fn purchase<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    input: &TxInput,
    price: u128,
    intrinsic: u64,
) -> Result<bool, Exit> {
    let start_root = ctx.m.block.state_root;
    let (_, mut sender) = read_account(ctx, &input.sender)?;
    let l1_basefee = ctx
        .o
        .smt_read(&ctx.m.block.state_root, &fee::l1_basefee_key())?
        .map_or(U256::ZERO, |v| U256::from_be_bytes(v.0));
    let l1_fee = fee::l1_fee(l1_basefee, input.encoded_len);
    let block = &ctx.m.block;
    let base_fee = block.base_fee as u128;
    let max_cost = U256::from(input.gas_limit)
        .saturating_mul(U256::from(input.max_fee_per_gas))
        .saturating_add(input.value)
        .saturating_add(l1_fee);
    let valid = input.max_fee_per_gas >= base_fee
        && (input.tx_type != 2 || input.max_priority_fee_per_gas <= input.max_fee_per_gas)
        && input.gas_limit >= intrinsic
        && input.gas_limit <= block.gas_limit.saturating_sub(block.cumulative_gas)
        && (input.to.is_some() || input.input_len <= MAX_INITCODE)
        && sender.nonce == input.nonce
        && sender.nonce < u64::MAX
        && sender.code_hash == KECCAK256_EMPTY
        && sender.balance >= max_cost;
    if !valid {
        ctx.m.block.tx_index += 1;
        return Ok(false);
    }
    sender.nonce += 1;
    // `valid` covers both amounts (saturating only at sums no balance reaches).
    sender.balance = sender
        .balance
        .saturating_sub(U256::from(input.gas_limit) * U256::from(price))
        .saturating_sub(l1_fee);
    write_account(ctx, &input.sender, &sender)?;
    if !l1_fee.is_zero() {
        update_balance(ctx, &fee::L1_FEE_VAULT, |b| b.saturating_add(l1_fee))?;
    }
    let coinbase = ctx.m.block.coinbase;
    let to = input.to.unwrap_or_else(|| input.sender.create(input.nonce));
    ctx.m.tx = TxPart {
        origin: input.sender,
        gas_price: U256::from(price),
        start_state_root: start_root,
        accessed_addresses: initial_accessed_addresses(&input.sender, &to, &coinbase),
        tx_type: input.tx_type,
        gas_limit: input.gas_limit,
        tip: U256::from(price - base_fee),
        tx_hash: input.tx_hash,
        ..Default::default()
    };
    Ok(true)
}

/// The frame of a contract-creating transaction: the checkpoint, the new account (nonce 1,
/// the value) in the created set, and the create frame running the input as initcode. An
/// address that already has a nonce or code makes the frame start halted (all gas lost).
fn enter_create<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    input: &TxInput,
    address: Address,
    chunk_root: B256,
    intrinsic: u64,
) -> Result<(), Exit> {
    let checkpoint = Checkpoint::of(ctx.m);
    let collision = collides(ctx, &address)?;
    if !collision {
        create_account(ctx, &input.sender, &address, input.value)?;
    }
    let len = input.input_len;
    ctx.m.frame = Frame {
        status: if collision {
            Status::Halted
        } else {
            Status::Running
        },
        kind: FrameKind::Create,
        address,
        caller: input.sender,
        value: input.value,
        code_len: len,
        code_chunk_root: if len == 0 { B256::ZERO } else { chunk_root },
        gas: if collision {
            0
        } else {
            input.gas_limit - intrinsic
        },
        mem_root: merkle::zero_hash(DATA_DEPTH),
        calldata_root: merkle::zero_hash(DATA_DEPTH),
        returndata_root: merkle::zero_hash(DATA_DEPTH),
        parent_hash: parent_hash(&boundary_frame(), &checkpoint),
        ..Default::default()
    };
    Ok(())
}

/// Ends the transaction whose frame `done` has exited (the checkpoint is already restored if
/// it failed).
pub(super) fn end<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>, done: &Frame) -> Result<(), Exit> {
    let tx = ctx.m.tx.clone();
    let success = done.status == Status::Returned;
    let mut used = tx.gas_limit - done.gas;
    used -= tx.refund.min(used / MAX_REFUND_QUOTIENT);
    let price = tx.gas_price;
    let back = U256::from(tx.gas_limit - used) * price;
    update_balance(ctx, &tx.origin, |b| b.saturating_add(back))?;
    let coinbase = ctx.m.block.coinbase;
    let tip = U256::from(used) * tx.tip;
    update_balance(ctx, &coinbase, |b| b.saturating_add(tip))?;
    let block = &mut ctx.m.block;
    block.cumulative_gas += used;
    let mut receipts = Accumulator::resume(block.receipt_acc);
    receipts.push(receipt_item_parts(
        tx.tx_type as u8,
        success,
        block.cumulative_gas,
        &tx.logs_acc,
    ));
    block.receipt_acc = receipts.root();
    let mut txs = Accumulator::resume(block.tx_acc);
    txs.push(tx.tx_hash);
    block.tx_acc = txs.root();
    block.logs_bloom.accrue_bloom(&tx.logs_bloom);
    block.tx_index += 1;
    // Accounts created and self-destructed in the transaction are deleted next (EIP-6780).
    ctx.m.tx = if tx.destructed.is_zero() {
        TxPart::default()
    } else {
        TxPart {
            created_root: tx.created_root,
            destructed: tx.destructed,
            ..Default::default()
        }
    };
    ctx.m.frame = boundary_frame();
    Ok(())
}
