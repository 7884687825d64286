//! `CREATE`, `CREATE2`, and the code deposit when a create frame returns.
//!
//! **Create step.** The first micro-step (`cursor = 0`) halts in a static frame or for
//! initcode above 49152 bytes (EIP-3860), and charges `32000`, `2` per initcode word, `6` per
//! word for `CREATE2` (hashing) and memory expansion. The initcode's commitment is then built
//! one 31-byte piece per micro-step ([`super::build`]; arguments stay on the stack, the
//! builder's commitment in the frame's `sponge` field, `cursor` = pieces done). The micro-step
//! of the last piece (the first one for empty initcode) enters: at depth 1024, with a balance
//! below the value or a nonce at its maximum, `0` is pushed and nothing else happens; otherwise
//! the creator's nonce increments, the new address (`keccak256(rlp(creator, nonce))[12:]`, or
//! `keccak256(0xff ‖ creator ‖ salt ‖ keccak256(initcode))[12:]`) becomes warm, all but a 64th
//! of the gas is forwarded, and if the address already has a nonce or code the create fails
//! (`0` pushed, the forwarded gas lost). Else the checkpoint is taken, the value moves, the new
//! account gets nonce 1 and joins the created set (EIP-6780), and the create frame runs the
//! initcode with empty call data.
//!
//! **Deposit.** A create frame that returned deposits its output as code. The first exit
//! micro-step fails the create (as an exceptional halt) if the code is above 24576 bytes
//! (EIP-170), starts with `0xEF` (EIP-3541) or cannot pay `200` gas per byte; otherwise it pays
//! and the code's commitment is built piece by piece on the ended frame; the last piece sets
//! the account's code hash and code root, and the exit completes: the caller gets the remaining
//! gas, the address is pushed and the return data is empty.

use alloy_primitives::{Address, B256, KECCAK256_EMPTY, U256};

use super::{
    account::{read_account, update_balance, warm_address, write_account},
    build::CodeBuilder,
    call::{clear_returndata, MAX_DEPTH},
    ctx::{Ctx, Exec, Exit, HaltReason, Source},
    machine::{parent_hash, Checkpoint, Frame, FrameKind, Status},
    oracle::Oracle,
    StepError, DATA_DEPTH, SET_MEMBER,
};
use crate::{code::PIECE, merkle, state::account_key};

/// Largest initcode (EIP-3860).
pub const MAX_INITCODE: u64 = 49_152;
/// Largest deployed code (EIP-170).
pub const MAX_CODE: u64 = 24_576;
/// Gas per initcode word (EIP-3860).
const INITCODE_WORD: u64 = 2;
/// Gas per word hashed by `CREATE2`.
const HASH_WORD: u64 = 6;
/// Gas per deposited code byte.
const DEPOSIT_BYTE: u64 = 200;

/// Appends the next piece of the code at `[offset, offset + len)` of the frame's memory to
/// `builder` (piece `cursor`); returns whether it was the last.
fn next_piece<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    builder: &mut CodeBuilder,
    offset: u64,
    len: u64,
) -> Result<bool, Exit> {
    let k = ctx.m.frame.cursor;
    let start = k * PIECE as u64;
    let width = (len - start).min(PIECE as u64) as usize;
    let bytes = ctx.read(Source::Memory, U256::from(offset + start), width)?;
    let mut piece = [0u8; PIECE];
    piece[..width].copy_from_slice(&bytes[..width]);
    builder.push_piece(k, &piece, len);
    Ok(start + PIECE as u64 >= len)
}

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let create2 = opcode == 0xf5;
    if ctx.m.frame.cursor == 0 && ctx.m.frame.is_static {
        return Err(Exit::Halt(HaltReason::StaticViolation));
    }
    let [value, offset, size] = ctx.pop_n()?;
    let salt = if create2 { Some(ctx.pop()?) } else { None };
    if ctx.m.frame.cursor == 0 {
        if size > U256::from(MAX_INITCODE) {
            return Err(Exit::Halt(HaltReason::InitcodeSizeLimit));
        }
        let words = size.to::<u64>().div_ceil(32);
        ctx.charge(INITCODE_WORD * words)?;
        if create2 {
            ctx.charge(HASH_WORD * words)?;
        }
        ctx.expand(offset, size)?;
    }
    let len = size.to::<u64>();
    let at = if len == 0 { 0 } else { offset.to::<u64>() };
    let mut builder = if ctx.m.frame.cursor == 0 {
        CodeBuilder::new(len)
    } else {
        ctx.o.builder(&ctx.m.frame)?
    };
    if len > 0 && !next_piece(ctx, &mut builder, at, len)? {
        if let Some(salt) = salt {
            ctx.push(salt);
        }
        ctx.push(size);
        ctx.push(offset);
        ctx.push(value);
        ctx.m.frame.sponge = builder.commitment();
        ctx.m.frame.cursor += 1;
        return Ok(());
    }
    ctx.m.frame.sponge = B256::ZERO;
    ctx.m.frame.cursor = 0;
    let (code_hash, _) = builder.finish(len);
    let chunk_root = builder.chunk_root(len);
    enter(ctx, create2, value, salt, code_hash, chunk_root, len)
}

#[allow(clippy::too_many_arguments)]
fn enter<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    create2: bool,
    value: U256,
    salt: Option<U256>,
    code_hash: B256,
    chunk_root: B256,
    len: u64,
) -> Exec {
    let creator_address = ctx.m.frame.address;
    let (_, mut creator) = read_account(ctx, &creator_address)?;
    if ctx.m.frame.depth >= MAX_DEPTH || creator.balance < value || creator.nonce == u64::MAX {
        clear_returndata(&mut ctx.m.frame);
        ctx.push(U256::ZERO);
        ctx.next(0);
        return Ok(());
    }
    let address = match salt {
        Some(salt) if create2 => creator_address.create2(B256::from(salt), code_hash),
        _ => creator_address.create(creator.nonce),
    };
    creator.nonce += 1;
    write_account(ctx, &creator_address, &creator)?;
    warm_address(ctx, &address)?;
    let available = ctx.m.frame.gas;
    let forwarded = available - available / 64;
    ctx.charge(forwarded)?;
    if collides(ctx, &address)? {
        // Address collision: the create fails and the forwarded gas is lost.
        clear_returndata(&mut ctx.m.frame);
        ctx.push(U256::ZERO);
        ctx.next(0);
        return Ok(());
    }
    let checkpoint = Checkpoint::of(ctx.m);
    create_account(ctx, &creator_address, &address, value)?;
    let caller = ctx.m.frame.clone();
    let child = Frame {
        status: Status::Running,
        kind: if create2 {
            FrameKind::Create2
        } else {
            FrameKind::Create
        },
        depth: caller.depth + 1,
        address,
        caller: creator_address,
        value,
        code_len: len,
        code_chunk_root: if len == 0 { B256::ZERO } else { chunk_root },
        gas: forwarded,
        mem_root: merkle::zero_hash(DATA_DEPTH),
        calldata_root: merkle::zero_hash(DATA_DEPTH),
        returndata_root: merkle::zero_hash(DATA_DEPTH),
        parent_hash: parent_hash(&caller, &checkpoint),
        ..Default::default()
    };
    ctx.m.frame = child;
    Ok(())
}

/// Whether a create at `address` collides with an existing account (nonce or code).
pub(super) fn collides<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    address: &Address,
) -> Result<bool, StepError> {
    let (_, existing) = read_account(ctx, address)?;
    Ok(existing.nonce != 0 || existing.code_hash != KECCAK256_EMPTY)
}

/// The account a create makes (after its checkpoint): the value moves from `creator`, the
/// account gets nonce 1 (EIP-161) and joins the created set (EIP-6780).
pub(super) fn create_account<O: Oracle + ?Sized>(
    ctx: &mut Ctx<'_, O>,
    creator: &Address,
    address: &Address,
    value: U256,
) -> Result<(), StepError> {
    if !value.is_zero() {
        update_balance(ctx, creator, |b| b - value)?;
    }
    let (_, mut account) = read_account(ctx, address)?;
    account.nonce = 1;
    account.balance += value;
    write_account(ctx, address, &account)?;
    let mut created = ctx.m.tx.created_root;
    ctx.o
        .smt_write(&mut created, &account_key(address), Some(SET_MEMBER))?;
    ctx.m.tx.created_root = created;
    Ok(())
}

/// One deposit micro-step of a create frame that returned. Returns `false` while pieces
/// remain (the step ends there), `true` once the code is set (the exit continues), and turns
/// the frame into a halted one if the deposit fails.
pub(super) fn deposit<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>) -> Result<bool, Exit> {
    let frame = ctx.m.frame.clone();
    let len = frame.out_len;
    if frame.cursor == 0 {
        let first = ctx.read(Source::Memory, U256::from(frame.out_offset), 1)?;
        let cost = DEPOSIT_BYTE.saturating_mul(len);
        if len > MAX_CODE || (len > 0 && first[0] == 0xef) || cost > frame.gas {
            ctx.m.frame.status = Status::Halted;
            ctx.m.frame.gas = 0;
            return Ok(true);
        }
        ctx.m.frame.gas -= cost;
    }
    let mut builder = if frame.cursor == 0 {
        CodeBuilder::new(len)
    } else {
        ctx.o.builder(&ctx.m.frame)?
    };
    if len > 0 && !next_piece(ctx, &mut builder, frame.out_offset, len)? {
        ctx.m.frame.sponge = builder.commitment();
        ctx.m.frame.cursor += 1;
        return Ok(false);
    }
    ctx.m.frame.sponge = B256::ZERO;
    ctx.m.frame.cursor = 0;
    if len > 0 {
        let (code_hash, code_root) = builder.finish(len);
        let (_, mut account) = read_account(ctx, &frame.address)?;
        account.code_hash = code_hash;
        account.code_root = code_root;
        write_account(ctx, &frame.address, &account)?;
    }
    Ok(true)
}
