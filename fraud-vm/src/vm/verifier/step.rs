//! One step of the machine: fetch, generic checks, dispatch to the opcode's family.

use super::{
    account, arith, block_end, block_info, call, compare_bitwise, copy, create,
    ctx::{Ctx, Exec, Exit, HaltReason, StepInfo, StepKind},
    env, exit, flow, halt, keccak, log,
    machine::{Machine, Status},
    opcodes::{self, Family},
    oracle::Oracle,
    selfdestruct, stack_memory, storage, tx, StepError, STACK_LIMIT,
};

/// Executes one step of `m`, reading committed data through `o`.
///
/// Returns what the step did, or an error if the proof is inconsistent or the state is one no
/// block reaches ([`StepError::Unsupported`]). On an exceptional halt the frame is left as it
/// was before the step, with status [`Status::Halted`] and no gas; the block and transaction
/// parts are unchanged too.
pub fn step<O: Oracle + ?Sized>(m: &mut Machine, o: &mut O) -> Result<StepInfo, StepError> {
    let info = |kind| StepInfo { kind, halt: None };
    if m.sealed.is_some() {
        return Ok(info(StepKind::Terminal));
    }
    if m.reopen {
        return Err(StepError::Unsupported(
            "an open state (its step is an open proof)".into(),
        ));
    }
    match m.frame.status {
        Status::Running => {}
        Status::Boundary if !m.tx.destructed.is_zero() => {
            let mut ctx = Ctx::new(m, o);
            selfdestruct::delete(&mut ctx)?;
            return Ok(info(StepKind::Destruct));
        }
        Status::Boundary if m.block.tx_index < m.block.tx_count => {
            let mut ctx = Ctx::new(m, o);
            return match tx::init(&mut ctx) {
                Ok(()) => Ok(info(StepKind::TxInit)),
                Err(Exit::Error(e)) => Err(e),
                Err(Exit::Halt(_)) => Err(StepError::BadWitness("tx-init cannot halt")),
            };
        }
        Status::Boundary => {
            block_end::run(m, o)?;
            return Ok(info(StepKind::BlockEnd));
        }
        _ => {
            let kind = exit::run(m, o)?;
            return Ok(info(kind));
        }
    }
    let pre = m.clone();
    let mut ctx = Ctx::new(m, o);
    let opcode = ctx.code_byte(pre.frame.pc)?;
    match exec(opcode, &mut ctx) {
        Ok(()) => Ok(StepInfo {
            kind: StepKind::Opcode(opcode),
            halt: None,
        }),
        Err(Exit::Halt(reason)) => {
            *ctx.m = pre;
            ctx.m.frame.status = Status::Halted;
            ctx.m.frame.gas = 0;
            Ok(StepInfo {
                kind: StepKind::Opcode(opcode),
                halt: Some(reason),
            })
        }
        Err(Exit::Error(e)) => Err(e),
    }
}

fn exec<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let Some(info) = opcodes::info(opcode) else {
        return Err(Exit::Halt(HaltReason::InvalidOpcode));
    };
    if ctx.m.frame.cursor != 0 {
        // A later micro-step: the first one checked the stack and charged all gas.
        return match info.family {
            Family::Copy => copy::run(opcode, ctx),
            Family::Keccak => keccak::run(ctx),
            Family::Log => log::run(opcode, ctx),
            Family::CallCreate if matches!(opcode, 0xf0 | 0xf5) => create::run(opcode, ctx),
            Family::CallCreate => call::resume(ctx),
            _ => Err(StepError::BadWitness("micro-step cursor on a single-step opcode").into()),
        };
    }
    let size = ctx.m.frame.stack_size;
    if size < info.pops {
        return Err(Exit::Halt(HaltReason::StackUnderflow));
    }
    if size - info.pops + info.pushes > STACK_LIMIT {
        return Err(Exit::Halt(HaltReason::StackOverflow));
    }
    ctx.charge(info.gas)?;
    match info.family {
        Family::Arith => arith::run(opcode, ctx),
        Family::CompareBitwise => compare_bitwise::run(opcode, ctx),
        Family::Env => env::run(opcode, ctx),
        Family::BlockInfo => block_info::run(opcode, ctx),
        Family::StackMemory => stack_memory::run(opcode, ctx),
        Family::Flow => flow::run(opcode, ctx),
        Family::Halt => halt::run(opcode, ctx),
        Family::Account => account::run(opcode, ctx),
        Family::Storage => storage::run(opcode, ctx),
        Family::Copy => copy::run(opcode, ctx),
        Family::Keccak => keccak::run(ctx),
        Family::Log => log::run(opcode, ctx),
        Family::CallCreate if matches!(opcode, 0xf0 | 0xf5) => create::run(opcode, ctx),
        Family::CallCreate if opcode == 0xff => selfdestruct::run(ctx),
        Family::CallCreate => call::run(opcode, ctx),
    }
}
