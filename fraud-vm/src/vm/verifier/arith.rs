//! `ADD` … `SIGNEXTEND`: two's-complement arithmetic on 256-bit words.

use alloy_primitives::U256;

use super::{
    ctx::{Ctx, Exec},
    oracle::Oracle,
};

/// Gas per byte of `EXP`'s exponent.
const EXP_BYTE_GAS: u64 = 50;

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let result = match opcode {
        0x08 | 0x09 => {
            let [a, b, n] = ctx.pop_n()?;
            if opcode == 0x08 {
                a.add_mod(b, n)
            } else {
                a.mul_mod(b, n)
            }
        }
        _ => {
            let [a, b] = ctx.pop_n()?;
            match opcode {
                0x01 => a.wrapping_add(b),
                0x02 => a.wrapping_mul(b),
                0x03 => a.wrapping_sub(b),
                0x04 => a.checked_div(b).unwrap_or_default(),
                0x05 => sdiv(a, b),
                0x06 => a.checked_rem(b).unwrap_or_default(),
                0x07 => smod(a, b),
                0x0a => {
                    ctx.charge(EXP_BYTE_GAS * b.byte_len() as u64)?;
                    a.wrapping_pow(b)
                }
                0x0b => signextend(a, b),
                _ => unreachable!("not an arith opcode: {opcode:#x}"),
            }
        }
    };
    ctx.push(result);
    ctx.next(0);
    Ok(())
}

fn is_negative(x: U256) -> bool {
    x.bit(255)
}

fn abs(x: U256) -> U256 {
    if is_negative(x) {
        x.wrapping_neg()
    } else {
        x
    }
}

/// Signed division rounding toward zero; `x / 0 = 0`; `MIN / -1 = MIN`.
fn sdiv(a: U256, b: U256) -> U256 {
    if b.is_zero() {
        return U256::ZERO;
    }
    let q = abs(a) / abs(b);
    if is_negative(a) != is_negative(b) {
        q.wrapping_neg()
    } else {
        q
    }
}

/// Signed remainder with the sign of the dividend; `x % 0 = 0`.
fn smod(a: U256, b: U256) -> U256 {
    if b.is_zero() {
        return U256::ZERO;
    }
    let r = abs(a) % abs(b);
    if is_negative(a) {
        r.wrapping_neg()
    } else {
        r
    }
}

/// Extends the sign of the low `b + 1` bytes of `x` (no change for `b >= 31`).
fn signextend(b: U256, x: U256) -> U256 {
    if b >= U256::from(31) {
        return x;
    }
    let bit = b.to::<usize>() * 8 + 7;
    let mask = (U256::from(1) << bit) - U256::from(1);
    if x.bit(bit) {
        x | !mask
    } else {
        x & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg(x: u64) -> U256 {
        U256::from(x).wrapping_neg()
    }

    #[test]
    fn signed_division_and_remainder() {
        assert_eq!(sdiv(neg(7), U256::from(2)), neg(3));
        assert_eq!(sdiv(U256::from(7), neg(2)), neg(3));
        assert_eq!(sdiv(neg(7), neg(2)), U256::from(3));
        let min = U256::from(1) << 255;
        assert_eq!(sdiv(min, U256::MAX), min);
        assert_eq!(sdiv(U256::from(5), U256::ZERO), U256::ZERO);
        assert_eq!(smod(neg(7), U256::from(2)), neg(1));
        assert_eq!(smod(U256::from(7), neg(2)), U256::from(1));
        assert_eq!(smod(neg(7), U256::ZERO), U256::ZERO);
    }

    #[test]
    fn sign_extension() {
        assert_eq!(signextend(U256::ZERO, U256::from(0xff)), U256::MAX);
        assert_eq!(signextend(U256::ZERO, U256::from(0x17f)), U256::from(0x7f));
        assert_eq!(signextend(U256::from(1), U256::from(0x8000)), neg(0x8000));
        assert_eq!(signextend(U256::from(31), neg(5)), neg(5));
        assert_eq!(signextend(U256::MAX, U256::from(0xff)), U256::from(0xff));
    }
}
