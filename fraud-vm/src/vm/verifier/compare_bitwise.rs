//! `LT` … `SAR`: comparisons, bitwise logic, byte extraction and shifts.

use alloy_primitives::U256;

use super::{
    ctx::{Ctx, Exec},
    oracle::Oracle,
};

pub(super) fn run<O: Oracle + ?Sized>(opcode: u8, ctx: &mut Ctx<'_, O>) -> Exec {
    let result = match opcode {
        0x15 => U256::from(ctx.pop()?.is_zero()),
        0x19 => !ctx.pop()?,
        _ => {
            let [a, b] = ctx.pop_n()?;
            match opcode {
                0x10 => U256::from(a < b),
                0x11 => U256::from(a > b),
                0x12 => U256::from(signed_lt(a, b)),
                0x13 => U256::from(signed_lt(b, a)),
                0x14 => U256::from(a == b),
                0x16 => a & b,
                0x17 => a | b,
                0x18 => a ^ b,
                0x1a => byte(a, b),
                0x1b => shift(a, |s| b << s),
                0x1c => shift(a, |s| b >> s),
                0x1d => sar(a, b),
                _ => unreachable!("not a compare/bitwise opcode: {opcode:#x}"),
            }
        }
    };
    ctx.push(result);
    ctx.next(0);
    Ok(())
}

/// `a < b` as two's-complement signed numbers.
fn signed_lt(a: U256, b: U256) -> bool {
    match (a.bit(255), b.bit(255)) {
        (true, false) => true,
        (false, true) => false,
        _ => a < b,
    }
}

/// Byte `i` of `x`, counting from the most significant; 0 for `i >= 32`.
fn byte(i: U256, x: U256) -> U256 {
    if i >= U256::from(32) {
        return U256::ZERO;
    }
    U256::from(x.to_be_bytes::<32>()[i.to::<usize>()])
}

/// A logical shift by `s` bits; 0 for `s >= 256`.
fn shift(s: U256, f: impl FnOnce(usize) -> U256) -> U256 {
    if s >= U256::from(256) {
        U256::ZERO
    } else {
        f(s.to::<usize>())
    }
}

/// Arithmetic right shift of `x` by `s` bits.
fn sar(s: U256, x: U256) -> U256 {
    let negative = x.bit(255);
    if s >= U256::from(256) {
        return if negative { U256::MAX } else { U256::ZERO };
    }
    let s = s.to::<usize>();
    if negative {
        !((!x) >> s)
    } else {
        x >> s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_compare_and_shifts() {
        let minus_one = U256::MAX;
        assert!(signed_lt(minus_one, U256::ZERO));
        assert!(!signed_lt(U256::ZERO, minus_one));
        assert_eq!(sar(U256::from(4), minus_one), minus_one);
        assert_eq!(sar(U256::from(300), U256::from(1) << 255), minus_one);
        assert_eq!(sar(U256::from(1), U256::from(6)), U256::from(3));
        assert_eq!(byte(U256::from(31), U256::from(0xab)), U256::from(0xab));
        assert_eq!(byte(U256::from(32), U256::MAX), U256::ZERO);
        assert_eq!(shift(U256::from(256), |s| U256::MAX << s), U256::ZERO);
    }
}
