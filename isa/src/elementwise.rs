//! TFLite's two-input integer element-wise kernels (`BUILTIN_REF`), one pair of values
//! at a time: the compiler tabulates them when one operand is constant (PRELU and
//! LEAKY_RELU with one alpha), the host runs them over tensors. Multipliers are
//! `QuantizeMultiplier` of the kernels' Prepare ratios, applied with the double-rounding
//! `MultiplyByQuantizedMultiplier`.

use crate::quant::{multiply_by_quantized_multiplier, quantize_multiplier, AddRescale, QuantizedMultiplier};

fn apply(x: i32, m: QuantizedMultiplier) -> i32 {
    multiply_by_quantized_multiplier(x, m.multiplier, m.shift)
}

/// `reference_ops::Prelu` / `QuantizeLeakyRelu`: a centred input `x >= 0` times
/// `s_in / s_out`; a negative one times its centred alpha, then `s_in * s_alpha /
/// s_out` (the ratios in float32, as Prepare computes them); plus the output zero point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prelu {
    pub input_zero: i32,
    pub alpha_zero: i32,
    pub identity: QuantizedMultiplier,
    pub negative: QuantizedMultiplier,
    pub output_zero: i32,
}

impl Prelu {
    /// `input`, `alpha` and `out` as `(scale, zero point)`. LEAKY_RELU is an alpha of
    /// value 1 at scale `alpha` and zero point 0.
    pub fn new(input: (f32, i64), alpha: (f32, i64), out: (f32, i64)) -> Option<Prelu> {
        Some(Prelu {
            input_zero: input.1 as i32,
            alpha_zero: alpha.1 as i32,
            identity: quantize_multiplier(f64::from(input.0 / out.0))?,
            negative: quantize_multiplier(f64::from(input.0 * alpha.0 / out.0))?,
            output_zero: out.1 as i32,
        })
    }

    /// The output of input `x` with alpha `alpha`, before saturation.
    pub fn apply(&self, x: i64, alpha: i64) -> i64 {
        let x = x as i32 - self.input_zero;
        let y = if x >= 0 {
            apply(x, self.identity)
        } else {
            apply(x.wrapping_mul(alpha as i32 - self.alpha_zero), self.negative)
        };
        i64::from(y) + i64::from(self.output_zero)
    }
}

/// `reference_integer_ops::Mul` / `reference_ops::Mul`: `zero_out + MBQM((a - za) *
/// (b - zb), f64(s_a) * f64(s_b) / f64(s_out))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mul {
    pub zeros: [i32; 2],
    pub multiplier: QuantizedMultiplier,
    pub output_zero: i32,
}

impl Mul {
    pub fn new(a: (f32, i64), b: (f32, i64), out: (f32, i64)) -> Option<Mul> {
        let real = f64::from(a.0) * f64::from(b.0) / f64::from(out.0);
        Some(Mul { zeros: [a.1 as i32, b.1 as i32], multiplier: quantize_multiplier(real)?, output_zero: out.1 as i32 })
    }

    /// The product of `a` and `b`, before clamping.
    pub fn apply(&self, a: i64, b: i64) -> i64 {
        let product = (a as i32 - self.zeros[0]).wrapping_mul(b as i32 - self.zeros[1]);
        i64::from(apply(product, self.multiplier)) + i64::from(self.output_zero)
    }
}

/// `SUB` on int8/uint8: `ADD`'s arithmetic ([`AddRescale`]) with the second rescaled
/// input subtracted.
pub fn sub(r: &AddRescale, a: i64, b: i64) -> i64 {
    r.output(r.input(0, a).wrapping_sub(r.input(1, b)))
}

/// `SQUARED_DIFFERENCE` on int8: both inputs shifted up 7 bits and rescaled to twice
/// the larger input scale, their difference squared, rescaled to the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SquaredDifference {
    pub inputs: [(i32, QuantizedMultiplier); 2],
    pub output: QuantizedMultiplier,
    pub output_zero: i32,
}

impl SquaredDifference {
    const LEFT_SHIFT: i32 = 7;

    pub fn new(a: (f32, i64), b: (f32, i64), out: (f32, i64)) -> Option<SquaredDifference> {
        let twice_max = 2.0 * f64::from(a.0.max(b.0));
        let m = |real: f64| quantize_multiplier(real).filter(|m| m.shift <= 0);
        let shift = f64::from(1u32 << (2 * Self::LEFT_SHIFT));
        Some(SquaredDifference {
            inputs: [(a.1 as i32, m(f64::from(a.0) / twice_max)?), (b.1 as i32, m(f64::from(b.0) / twice_max)?)],
            output: m(twice_max * twice_max / (shift * f64::from(out.0)))?,
            output_zero: out.1 as i32,
        })
    }

    pub fn apply(&self, a: i64, b: i64) -> i64 {
        let scaled = |i: usize, v: i64| {
            let (zero, m) = self.inputs[i];
            apply((v as i32 - zero).wrapping_mul(1 << Self::LEFT_SHIFT), m)
        };
        let diff = scaled(0, a).wrapping_sub(scaled(1, b));
        i64::from(apply(diff.wrapping_mul(diff), self.output)) + i64::from(self.output_zero)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_of_unit_scales_multiplies_the_centred_values() {
        let m = Mul::new((1.0, 2), (1.0, -1), (1.0, 5)).unwrap();
        assert_eq!(m.apply(6, 2), (6 - 2) * (2 + 1) + 5);
    }

    #[test]
    fn prelu_scales_only_negative_inputs() {
        let p = Prelu::new((0.5, 0), (0.25, 0), (0.5, 0)).unwrap();
        assert_eq!(p.apply(10, 2), 10);
        assert_eq!(p.apply(-10, 2), -5, "alpha 2 * 0.25 = 0.5");
    }
}
