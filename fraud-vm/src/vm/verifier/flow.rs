//! `JUMP`, `JUMPI`, `PC`, `GAS`, `JUMPDEST`.

use alloy_primitives::U256;

use super::{
    ctx::{Ctx, Exec, Exit, HaltReason},
    oracle::Oracle,
};

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    match opcode {
        0x56 => {
            let target = ctx.pop()?;
            return jump(ctx, target);
        }
        0x57 => {
            let [target, condition] = ctx.pop_n()?;
            if !condition.is_zero() {
                return jump(ctx, target);
            }
        }
        0x58 => {
            let pc = ctx.m.frame.pc;
            ctx.push(U256::from(pc));
        }
        0x5a => {
            let gas = ctx.m.frame.gas;
            ctx.push(U256::from(gas));
        }
        0x5b => {}
        _ => unreachable!("not a flow opcode: {opcode:#x}"),
    }
    ctx.next(0);
    Ok(())
}

fn jump<O: Oracle + ?Sized>(ctx: &mut Ctx<'_, O>, target: U256) -> Exec {
    if !ctx.is_jumpdest(target)? {
        return Err(Exit::Halt(HaltReason::BadJump));
    }
    ctx.m.frame.pc = target.to::<u64>();
    Ok(())
}
