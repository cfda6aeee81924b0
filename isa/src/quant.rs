//! Fixed-point quantization arithmetic, bit-exact with the reference runtimes.
//!
//! TFLite's integer kernels scale an int32 accumulator by a real multiplier that is
//! stored as an int32 mantissa plus a power-of-two shift (gemmlowp semantics). The
//! functions here are the normative definition for the golden model, the requant
//! unit in the RTL and the compiler. See `docs/quantization.md` for where each
//! reference kernel uses which rounding.

use crate::isa::RequantMode;

/// gemmlowp `SaturatingRoundingDoublingHighMul`: `round(a * b / 2^31)` with ties
/// towards positive infinity, saturating the single overflow case `MIN * MIN`.
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // i64 division truncates towards zero, as the C++ reference does.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away
/// from zero. `exponent` is taken modulo 32 (the reference requires 0..=31).
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = exponent & 31;
    let x = i64::from(x);
    let mask = (1i64 << exponent) - 1;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x >> exponent) + i64::from(remainder > threshold)) as i32
}

/// Shifts outside this range are clamped into it by every requantization mode.
pub const SHIFT_RANGE: std::ops::RangeInclusive<i32> = -31..=30;

fn clamp_shift(shift: i32) -> i32 {
    shift.clamp(*SHIFT_RANGE.start(), *SHIFT_RANGE.end())
}

/// TFLite `MultiplyByQuantizedMultiplier` (double rounding, the default build):
/// `RoundingDivideByPOT(SRDHM(x << left, m), right)`. The left shift wraps.
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let shift = clamp_shift(shift);
    let left = shift.max(0) as u32;
    let right = (-shift).max(0) as u32;
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x.wrapping_shl(left), multiplier), right)
}

/// TFLite single-rounding `MultiplyByQuantizedMultiplier` (`TFLITE_SINGLE_ROUNDING`):
/// `(x * m + 2^(30 - shift)) >> (31 - shift)` in 64-bit arithmetic, truncated to 32 bits.
pub fn multiply_by_quantized_multiplier_single(x: i32, multiplier: i32, shift: i32) -> i32 {
    let total_shift = 31 - clamp_shift(shift);
    let round = 1i64 << (total_shift - 1);
    ((i64::from(x) * i64::from(multiplier) + round) >> total_shift) as i32
}

/// A real multiplier as TFLite stores it: `multiplier * 2^(shift - 31)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantizedMultiplier {
    pub multiplier: i32,
    pub shift: i32,
}

/// `std::frexp`: `x = mantissa * 2^exponent` with `|mantissa|` in `[0.5, 1)`.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    if raw_exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(x * 2f64.powi(54));
        return (m, e - 54);
    }
    let mantissa = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (mantissa, raw_exp - 1022)
}

/// TFLite `QuantizeMultiplier` (double-rounding build): splits a real multiplier into
/// an int32 mantissa with the binary point at bit 31 and a shift; multipliers below
/// 2^-31 flush to zero. Returns `None` for non-finite input.
pub fn quantize_multiplier(real: f64) -> Option<QuantizedMultiplier> {
    if !real.is_finite() {
        return None;
    }
    if real == 0.0 {
        return Some(QuantizedMultiplier { multiplier: 0, shift: 0 });
    }
    let (q, mut shift) = frexp(real);
    // TfLiteRound is std::round: ties away from zero.
    let mut q_fixed = (q * (1i64 << 31) as f64).round() as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    Some(QuantizedMultiplier { multiplier: q_fixed as i32, shift })
}

/// Effective output multiplier of TFLite's per-channel conv / fully-connected kernels
/// (`PopulateConvolutionQuantizationParams`): every product in double precision.
pub fn tflite_per_channel_scale(input_scale: f32, filter_scale: f32, output_scale: f32) -> f64 {
    f64::from(input_scale) * f64::from(filter_scale) / f64::from(output_scale)
}

/// Effective output multiplier of TFLite's per-tensor kernels
/// (`GetQuantizedConvolutionMultipler`): the input product is taken in single precision.
pub fn tflite_per_tensor_scale(input_scale: f32, filter_scale: f32, output_scale: f32) -> f64 {
    f64::from(input_scale * filter_scale) / f64::from(output_scale)
}

/// Requantization scale of ONNX `QLinearConv` / `QLinearMatMul` as the reference
/// evaluates it: `x_scale * w_scale / y_scale` in float32.
pub fn onnx_requant_scale(x_scale: f32, w_scale: f32, y_scale: f32) -> f32 {
    x_scale * w_scale / y_scale
}

/// Fused activation functions of TFLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    Relu6,
    ReluN1To1,
}

/// TFLite `CalculateActivationRangeQuantized`: the clamp an activation becomes in the
/// quantized domain, intersected with `[qmin, qmax]`.
pub fn activation_range(act: Activation, output_scale: f32, zero_point: i32, qmin: i32, qmax: i32) -> (i32, i32) {
    // `f / scale` in float, rounded half away from zero (TfLiteRound).
    let quantize = |f: f32| zero_point + (f / output_scale).round() as i32;
    match act {
        Activation::None => (qmin, qmax),
        Activation::Relu => (qmin.max(quantize(0.0)), qmax),
        Activation::Relu6 => (qmin.max(quantize(0.0)), qmax.min(quantize(6.0))),
        Activation::ReluN1To1 => (qmin.max(quantize(-1.0)), qmax.min(quantize(1.0))),
    }
}

/// One output channel's requantization parameters (one lane of a PBUF entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ParamLane {
    /// Added to the accumulator before scaling (wrapping).
    pub bias: i32,
    /// Fixed modes: the int32 mantissa. Float mode: the bits of the f32 scale.
    pub multiplier: i32,
    /// Fixed modes: the TFLite shift (positive = left), clamped to -31..=30.
    pub shift: i8,
}

impl ParamLane {
    /// A float-mode lane carrying an f32 scale.
    pub fn float(bias: i32, scale: f32) -> Self {
        ParamLane { bias, multiplier: scale.to_bits() as i32, shift: 0 }
    }

    /// A fixed-mode lane from a TFLite multiplier.
    pub fn fixed(bias: i32, m: QuantizedMultiplier) -> Self {
        ParamLane { bias, multiplier: m.multiplier, shift: m.shift.clamp(-128, 127) as i8 }
    }
}

/// The store path: turns one accumulator lane into an output value. `None` ignores the
/// parameters; the other modes add the bias, scale, add the zero point and clamp.
pub fn requantize(mode: RequantMode, acc: i32, p: ParamLane, zero_point: i32, lo: i32, hi: i32) -> i32 {
    let shift = i32::from(p.shift);
    match mode {
        RequantMode::None => acc.clamp(lo, hi),
        RequantMode::Fixed => multiply_by_quantized_multiplier(acc.wrapping_add(p.bias), p.multiplier, shift)
            .wrapping_add(zero_point)
            .clamp(lo, hi),
        RequantMode::FixedSingle => {
            multiply_by_quantized_multiplier_single(acc.wrapping_add(p.bias), p.multiplier, shift)
                .wrapping_add(zero_point)
                .clamp(lo, hi)
        }
        RequantMode::Float => {
            let scale = f64::from(f32::from_bits(p.multiplier as u32));
            // numpy: (int32 * float32) promotes to float64; the zero point is added
            // before rounding half to even; clipping to integer bounds commutes with it.
            let r = f64::from(acc.wrapping_add(p.bias)) * scale + f64::from(zero_point);
            r.clamp(f64::from(lo), f64::from(hi)).round_ties_even() as i32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srdhm_hand_cases() {
        // 2^30 * 2^30 * 2 / 2^32 = 2^29
        assert_eq!(saturating_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
        // Only MIN * MIN overflows, and saturates.
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MIN, i32::MAX), -i32::MAX);
        // 100 * 0.5 = 50 exactly.
        assert_eq!(saturating_rounding_doubling_high_mul(100, 1 << 30), 50);
        // 3 * 0.5 = 1.5 -> 2, and -1.5 -> -1: ties go towards +infinity.
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        // -5 * 0.5 = -2.5 -> -2
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
    }

    #[test]
    fn rounding_divide_by_pot_hand_cases() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3); // 2.5 -> 3
        assert_eq!(rounding_divide_by_pot(-5, 1), -3); // -2.5 -> -3
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(7, 2), 2); // 1.75 -> 2
        assert_eq!(rounding_divide_by_pot(-6, 2), -2); // -1.5 -> -2
        assert_eq!(rounding_divide_by_pot(-5, 2), -1); // -1.25 -> -1
        assert_eq!(rounding_divide_by_pot(123, 0), 123);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    #[test]
    fn quantize_multiplier_hand_cases() {
        let q = |r| quantize_multiplier(r).unwrap();
        assert_eq!(q(0.5), QuantizedMultiplier { multiplier: 1 << 30, shift: 0 });
        assert_eq!(q(1.0), QuantizedMultiplier { multiplier: 1 << 30, shift: 1 });
        assert_eq!(q(0.25), QuantizedMultiplier { multiplier: 1 << 30, shift: -1 });
        assert_eq!(q(0.75), QuantizedMultiplier { multiplier: 1_610_612_736, shift: 0 });
        assert_eq!(q(0.0), QuantizedMultiplier { multiplier: 0, shift: 0 });
        // Just below 1.0: the mantissa rounds up to 2^31, which renormalises.
        assert_eq!(q(1.0 - 1e-12), QuantizedMultiplier { multiplier: 1 << 30, shift: 1 });
        // Below 2^-31 everything flushes to zero.
        assert_eq!(q(1e-12), QuantizedMultiplier { multiplier: 0, shift: 0 });
        assert!(quantize_multiplier(f64::NAN).is_none());
    }

    #[test]
    fn frexp_matches_definition() {
        for x in [1.0, 0.5, 3.0, 1e-300, 5e-324, 123456.789, -0.375] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m.abs()), "{x}: mantissa {m}");
            // Two steps so that 2^e itself does not underflow for subnormal x.
            assert_eq!(m * 2f64.powi(e + 60) * 2f64.powi(-60), x);
        }
    }

    #[test]
    fn multiply_by_quantized_multiplier_hand_cases() {
        assert_eq!(multiply_by_quantized_multiplier(100, 1 << 30, 0), 50); // x 0.5
        assert_eq!(multiply_by_quantized_multiplier(100, 1 << 30, -1), 25); // x 0.25
        assert_eq!(multiply_by_quantized_multiplier(3, 1 << 30, 1), 3); // x 1.0
        assert_eq!(multiply_by_quantized_multiplier(-7, 1 << 30, -1), -2); // -1.75 -> -2
                                                                           // Double rounding: 5 x 0.25 = 1.25, but SRDHM first rounds 2.5 up to 3, then 3/2 = 1.5 -> 2.
        assert_eq!(multiply_by_quantized_multiplier(5, 1 << 30, -1), 2);
        // Single rounding rounds the exact 1.25 once -> 1.
        assert_eq!(multiply_by_quantized_multiplier_single(5, 1 << 30, -1), 1);
        assert_eq!(multiply_by_quantized_multiplier_single(100, 1 << 30, 0), 50);
        // Single rounding: ties towards +infinity (arithmetic shift of x*m + half).
        assert_eq!(multiply_by_quantized_multiplier_single(3, 1 << 30, 0), 2);
        assert_eq!(multiply_by_quantized_multiplier_single(-3, 1 << 30, 0), -1);
        // Out-of-range shifts are clamped rather than undefined.
        assert_eq!(
            multiply_by_quantized_multiplier(1 << 20, 1 << 30, -100),
            multiply_by_quantized_multiplier(1 << 20, 1 << 30, -31)
        );
    }

    #[test]
    fn activation_ranges() {
        // Scale 0.05, zero point -128: 0.0 -> -128, 6.0 -> -128 + 120 = -8.
        assert_eq!(activation_range(Activation::Relu6, 0.05, -128, -128, 127), (-128, -8));
        assert_eq!(activation_range(Activation::Relu, 0.05, -10, -128, 127), (-10, 127));
        assert_eq!(activation_range(Activation::ReluN1To1, 0.1, 0, -128, 127), (-10, 10));
        assert_eq!(activation_range(Activation::None, 0.1, 3, -128, 127), (-128, 127));
        // Ranges are intersected with the type range.
        assert_eq!(activation_range(Activation::Relu6, 0.01, 0, -128, 127), (0, 127));
    }

    #[test]
    fn requantize_modes() {
        let half = ParamLane { bias: 0, multiplier: 1 << 30, shift: 0 };
        assert_eq!(requantize(RequantMode::None, 300, half, 0, -128, 127), 127);
        assert_eq!(requantize(RequantMode::Fixed, 100, ParamLane { bias: 10, ..half }, 3, -128, 127), 58);
        assert_eq!(requantize(RequantMode::Fixed, 1000, half, 0, -128, 127), 127);
        // Float: 5 * 0.5 = 2.5 -> 2 (ties to even); with zero point 1 added before
        // rounding: 3.5 -> 4, which differs from rounding first (2 + 1 = 3).
        let f = ParamLane::float(0, 0.5);
        assert_eq!(requantize(RequantMode::Float, 5, f, 0, -128, 127), 2);
        assert_eq!(requantize(RequantMode::Float, 5, f, 1, -128, 127), 4);
        assert_eq!(requantize(RequantMode::Float, 7, f, 0, -128, 127), 4); // 3.5 -> 4
        assert_eq!(requantize(RequantMode::Float, -1000, f, 0, -128, 127), -128);
        assert_eq!(requantize(RequantMode::Float, 3, ParamLane::float(2, 0.5), 0, 0, 255), 2);
        // 2.5 -> 2
    }

    #[test]
    fn requantize_shifts_zero_points_and_rescales() {
        // uint8 -> int8 at the same scale: the zero point moves by 128, exactly.
        let r = Requantize::new((0.5, 128), (0.5, 0), (-128, 127)).unwrap();
        assert_eq!([0, 127, 128, 255].map(|q| r.apply(q)), [-128, -1, 0, 127]);
        // Twice the output scale: (q - 3) / 2 rounded by SRDHM, ties towards +infinity
        // (0.5 -> 1, -0.5 -> 0, 2.5 -> 3), saturated to uint8.
        let r = Requantize::new((0.25, 3), (0.5, 10), (0, 255)).unwrap();
        assert_eq!([3, 4, 2, 8, -100].map(|q| r.apply(q)), [10, 11, 10, 13, 0]);
        // int16 -> int8: a large range squeezed, saturating.
        let r = Requantize::new((0.001, 0), (0.1, -5), (-128, 127)).unwrap();
        assert_eq!([1000, -1000, 30000, -30000, 149, 150].map(|q| r.apply(q)), [5, -15, 127, -128, -4, -3]);
    }
}

/// ONNX `DequantizeLinear` of one value: `(q - zero) * scale` in float32.
pub fn onnx_dequantize(q: i64, zero: i64, scale: f32) -> f32 {
    (q as f32 - zero as f32) * scale
}

/// ONNX `QuantizeLinear` of one value: `saturate(rint(x / scale) + zero)`, the
/// division in float32 and the rounding half to even, onto `[lo, hi]`.
pub fn onnx_quantize(x: f32, scale: f32, zero: i64, (lo, hi): (i64, i64)) -> i64 {
    let q = (x / scale).round_ties_even();
    // Saturate in floating point first: the quotient may exceed every integer type.
    let q = q.clamp((lo - zero) as f32, (hi - zero) as f32);
    (q as i64 + zero).clamp(lo, hi)
}

/// TFLite `DEQUANTIZE` of one value (reference `Dequantize`): the scale in double
/// precision, `f32(f64(scale) * (q - zero))`.
pub fn tflite_dequantize(q: i64, zero: i64, scale: f32) -> f32 {
    (f64::from(scale) * (q - zero) as f64) as f32
}

/// TFLite `QUANTIZE` of one float value (reference `AffineQuantize`): `round(x /
/// scale) + zero`, the division in float32 and the rounding half away from zero,
/// saturated to `[lo, hi]`. A quotient outside int32 (or not a number) converts as
/// x86's `cvttss2si` does, where the reference runs: to `i32::MIN`.
pub fn tflite_quantize(x: f32, scale: f32, zero: i64, (lo, hi): (i64, i64)) -> i64 {
    let q = (x / scale).round();
    let q = if q.is_finite() && q >= i32::MIN as f32 && q < i32::MAX as f32 { q as i64 } else { i64::from(i32::MIN) };
    (q + zero).clamp(lo, hi)
}

/// gemmlowp's `SaturatingRoundingMultiplyByPOT<exponent>`: a left shift saturating
/// at the int32 bounds, or a rounding right shift.
fn saturating_rounding_multiply_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent <= 0 {
        return rounding_divide_by_pot(x, (-exponent) as u32);
    }
    let threshold = (1i32 << (31 - exponent)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exponent
    }
}

/// TFLite `GetInvSqrtQuantizedMultiplierExp`: `1 / sqrt(input)` as a fixed-point
/// multiplier and shift (the shift times `reverse_shift`), by five Newton-Raphson
/// steps in gemmlowp's 3-integer-bit fixed point. Inputs 0 and 1 give `(i32::MAX, 0)`.
pub fn inv_sqrt_quantized_multiplier_exp(input: i32, reverse_shift: i32) -> (i32, i32) {
    if input <= 1 {
        return (i32::MAX, 0);
    }
    let mut input = input;
    let mut shift = 11;
    while input >= (1 << 29) {
        input /= 4;
        shift += 1;
    }
    let max_left_shift_bits = (input as u32).leading_zeros() as i32 - 1;
    let left_shift_bit_pairs = max_left_shift_bits / 2 - 1;
    shift -= left_shift_bit_pairs;
    input <<= 2 * left_shift_bit_pairs;
    // Raw values of FixedPoint<i32, 3>: 1.0 is 2^28. A product of an F3 and an F3 is an
    // F6, and Rescale<3> of an F_k shifts left by k - 3.
    let mul = saturating_rounding_doubling_high_mul;
    let fixed_input = input >> 1;
    let half_input = saturating_rounding_multiply_by_pot(fixed_input, -1);
    let half_three = (1 << 28) + (1 << 27);
    let mut x: i32 = 1 << 28;
    for _ in 0..5 {
        let x3 = saturating_rounding_multiply_by_pot(mul(mul(x, x), x), 6);
        x = saturating_rounding_multiply_by_pot(mul(half_three, x).wrapping_sub(mul(half_input, x3)), 3);
    }
    // Times sqrt(2) / 2 in FixedPoint<i32, 0>.
    let mut x = mul(x, 1_518_500_250);
    if shift < 0 {
        x <<= -shift;
        shift = 0;
    }
    (x, shift * reverse_shift)
}

/// TFLite's int8/uint8 `ADD` arithmetic (`tensorflow/lite/kernels/add.cc` prepares it,
/// `reference_integer_ops::Add` computes it): each input, offset by its zero point
/// and shifted up by [`AddRescale::LEFT_SHIFT`] bits of headroom, is rescaled to twice
/// the larger input scale with `MultiplyByQuantizedMultiplierSmallerThanOneExp`
/// (double rounding); the sum is rescaled to the output scale the same way, then
/// offset by the output's zero point (and clamped by the caller).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddRescale {
    /// Per input: its zero point and multiplier.
    pub inputs: [(i64, QuantizedMultiplier); 2],
    pub output: QuantizedMultiplier,
    pub output_zero: i64,
}

impl AddRescale {
    /// Bits of headroom the inputs are shifted up by (int8 and uint8).
    pub const LEFT_SHIFT: i32 = 20;

    /// The parameters of inputs `(scale, zero)` `a` and `b` and output `out`; `None`
    /// when a multiplier is not representable.
    pub fn new(a: (f32, i64), b: (f32, i64), out: (f32, i64)) -> Option<AddRescale> {
        let twice_max = f64::from(2.0 * a.0.max(b.0));
        let multiplier = |real: f64| quantize_multiplier(real).filter(|m| m.shift <= 0);
        Some(AddRescale {
            inputs: [(a.1, multiplier(f64::from(a.0) / twice_max)?), (b.1, multiplier(f64::from(b.0) / twice_max)?)],
            output: multiplier(twice_max / f64::from((1 << Self::LEFT_SHIFT) as f32 * out.0))?,
            output_zero: out.1,
        })
    }

    /// Input `i`'s value `v` on the common fixed-point scale.
    pub fn input(&self, i: usize, v: i64) -> i32 {
        let (zero, m) = self.inputs[i];
        let shifted = ((v - zero) as i32).wrapping_mul(1 << Self::LEFT_SHIFT);
        multiply_by_quantized_multiplier(shifted, m.multiplier, m.shift)
    }

    /// The output of a sum of rescaled inputs, before clamping.
    pub fn output(&self, sum: i32) -> i64 {
        i64::from(multiply_by_quantized_multiplier(sum, self.output.multiplier, self.output.shift)) + self.output_zero
    }
}

/// TFLite's `QUANTIZE` between integer types (`kernels/quantize.cc` prepares it,
/// `reference_ops::Requantize` computes it): `MultiplyByQuantizedMultiplier(q -
/// input_zero)` with `QuantizeMultiplier(f64(s_in) / f64(s_out))` (double rounding),
/// plus the output zero point, saturated to the output type. int8 <-> uint8 (the
/// kernel's shift-by-128 fast path is the same arithmetic) and int16 -> int8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requantize {
    pub input_zero: i64,
    pub multiplier: QuantizedMultiplier,
    pub output_zero: i64,
    /// The output type's range.
    pub range: (i64, i64),
}

impl Requantize {
    /// From the input's and output's `(scale, zero point)`; `None` when the scale ratio
    /// is not finite.
    pub fn new(input: (f32, i64), output: (f32, i64), range: (i64, i64)) -> Option<Requantize> {
        let multiplier = quantize_multiplier(f64::from(input.0) / f64::from(output.0))?;
        Some(Requantize { input_zero: input.1, multiplier, output_zero: output.1, range })
    }

    /// The output value of input value `q`.
    pub fn apply(&self, q: i64) -> i64 {
        // int32 arithmetic, as the kernel's (zero points of valid models fit).
        let x = (q as i32).wrapping_sub(self.input_zero as i32);
        let y = multiply_by_quantized_multiplier(x, self.multiplier.multiplier, self.multiplier.shift);
        i64::from(y).saturating_add(self.output_zero).clamp(self.range.0, self.range.1)
    }
}

/// TFLite's int8 / uint8 `MEAN` as the reference kernels compute it
/// (`reference_ops::QuantizedMeanOrSum`, which `BUILTIN_REF` runs for every axis set
/// and `keep_dims`): `QuantizeMultiplier(f64(s_in) / f64(s_out))` with the division
/// by the count folded into it (the mantissa shifted up by up to `floor(log2 count)`
/// bits, at most 32 and at most `31 + shift`, then divided by the count, truncating),
/// applied to `sum(q - input_zero)` with `MultiplyByQuantizedMultiplier` (double
/// rounding), plus the output zero point, saturated. One multiplication of the
/// centred sum: the store unit's `RequantMode::Fixed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TfliteMean {
    pub input_zero: i64,
    pub multiplier: QuantizedMultiplier,
    pub output_zero: i64,
    pub range: (i64, i64),
}

impl TfliteMean {
    /// From the input's and output's `(scale, zero point)` and the count of values
    /// averaged; `None` when the scale ratio is not finite or the count is 0.
    pub fn new(input: (f32, i64), output: (f32, i64), count: usize, range: (i64, i64)) -> Option<TfliteMean> {
        let m = quantize_multiplier(f64::from(input.0) / f64::from(output.0))?;
        let count = i64::try_from(count).ok().filter(|&c| c > 0)?;
        let shift = (63 - count.leading_zeros() as i32).min(32).min(31 + m.shift);
        let multiplier = i32::try_from((i64::from(m.multiplier) << shift.max(0)) / count).ok()?;
        let multiplier = QuantizedMultiplier { multiplier, shift: m.shift - shift };
        Some(TfliteMean { input_zero: input.1, multiplier, output_zero: output.1, range })
    }

    /// The output of the centred sum `sum(q - input_zero)`.
    pub fn apply(&self, centred_sum: i64) -> i64 {
        let QuantizedMultiplier { multiplier, shift } = self.multiplier;
        let y = multiply_by_quantized_multiplier(centred_sum as i32, multiplier, shift);
        i64::from(y).saturating_add(self.output_zero).clamp(self.range.0, self.range.1)
    }
}

/// numpy's float32 `add.reduce` over contiguous values (`pairwise_sum` in
/// `loops_utils.h`): fewer than 8 values in order; up to 128 in eight interleaved
/// partial sums combined `((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))`, then the
/// remainder in order; more split at half the count rounded down to a multiple of 8,
/// recursively. The reduction starts from the identity 0 (an empty sum is 0).
pub fn numpy_pairwise_sum(a: &[f32]) -> f32 {
    fn pairwise(a: &[f32]) -> f32 {
        let n = a.len();
        if n < 8 {
            a.iter().fold(-0.0, |s, &v| s + v)
        } else if n <= 128 {
            let mut r: [f32; 8] = a[..8].try_into().expect("eight values");
            let whole = n - n % 8;
            for block in a[8..whole].chunks_exact(8) {
                for (r, &v) in r.iter_mut().zip(block) {
                    *r += v;
                }
            }
            let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            a[whole..].iter().fold(res, |s, &v| s + v)
        } else {
            let half = n / 2;
            let half = half - half % 8;
            pairwise(&a[..half]) + pairwise(&a[half..])
        }
    }
    0.0 + pairwise(a)
}

/// The ONNX reference's `QuantizeLinear(mean(DequantizeLinear(x)))` of the values `q`
/// (one channel's, contiguous): each dequantized in float32, summed as numpy does
/// ([`numpy_pairwise_sum`]), divided by the count in float32, quantized to `out`.
pub fn onnx_mean(q: &[i64], input: (f32, i64), out: (f32, i64), range: (i64, i64)) -> i64 {
    let x: Vec<f32> = q.iter().map(|&v| onnx_dequantize(v, input.1, input.0)).collect();
    let mean = numpy_pairwise_sum(&x) / q.len() as f32;
    onnx_quantize(mean, out.0, out.1, range)
}

/// `com.microsoft.QLinearGlobalAveragePool` of one channel whose centred sum
/// `sum(q - x_zero)` over `count` values is given, as the contrib operator's
/// specification and onnxruntime's kernel compute it: `sum * (x_scale / (y_scale *
/// count))` in float32, rounded half to even, plus `y_zero`, saturated.
pub fn qlinear_average(centred_sum: i64, count: usize, x_scale: f32, out: (f32, i64), (lo, hi): (i64, i64)) -> i64 {
    let scale = x_scale / (out.0 * count as f32);
    let q = (centred_sum as f32 * scale).round_ties_even();
    let q = q.clamp((lo - out.1) as f32, (hi - out.1) as f32);
    (q as i64 + out.1).clamp(lo, hi)
}

#[cfg(test)]
mod mean_tests {
    use super::*;

    /// Multipliers and outputs of TFLite's `QuantizedMeanOrSum`, from an emulation
    /// checked against `BUILTIN_REF` (tools/fixtures/tflite_mean.py's models).
    #[test]
    fn tflite_mean_folds_the_count_into_the_multiplier() {
        let m = TfliteMean::new((0.005_266_34, -128), (0.000_916_83, -128), 49, (-128, 127)).unwrap();
        assert_eq!(m.multiplier, QuantizedMultiplier { multiplier: 1_006_963_820, shift: -2 });
        // -163 saturates.
        assert_eq!([300, -300, 1234, 4].map(|s| m.apply(s)), [-93, -128, 17, -127]);
        let m = TfliteMean::new((0.023_529_41, 0), (0.011_764_71, 0), 64, (0, 255)).unwrap();
        assert_eq!(m.multiplier, QuantizedMultiplier { multiplier: 2_147_482_798, shift: -5 });
        assert_eq!(m.apply(5000), 156);
        // One value: only the scale ratio (2, a left shift).
        let m = TfliteMean::new((0.5, 3), (0.25, 0), 1, (-128, 127)).unwrap();
        assert_eq!(m.apply(40), 80);
        assert!(TfliteMean::new((0.5, 0), (0.25, 0), 0, (-128, 127)).is_none());
    }

    /// numpy's float32 `add.reduce` bits of `0.1 * i` for 13, 100 and 200 values (a
    /// sequential remainder, eight partial sums, a split).
    #[test]
    fn the_pairwise_sum_adds_in_numpys_order() {
        let x: Vec<f32> = (0..200).map(|i| i as f32 * 0.1).collect();
        let bits = |n: usize| numpy_pairwise_sum(&x[..n]).to_bits();
        assert_eq!([bits(13), bits(100), bits(200)], [1_090_099_608, 1_140_293_632, 1_157_152_768]);
    }
}
