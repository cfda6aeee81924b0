//! TFLite's quantized one-input activations as byte tables: each int8/uint8 output is
//! a function of one input byte, so the importer evaluates the reference kernel's own
//! arithmetic (`tensorflow/lite/kernels/activations.cc` as `BUILTIN_REF` runs it) on
//! all 256 inputs. LOGISTIC and TANH are the kernels' float lookup tables
//! (`LUTPopulate`), GELU too (`gelu.cc`, exact or tanh-approximated); the ReLU
//! family, LEAKY_RELU, PRELU, HARD_SWISH, ABS and RSQRT their fixed-point routines.
//! A float island — `DEQUANTIZE`, one-input float operators, `QUANTIZE`, as converters
//! leave the operators they cannot quantize (ConvNeXt's LayerNorm negates its mean in
//! float) — is a function of one byte as well, tabulated with the float kernels'
//! float32 arithmetic where that is exact IEEE arithmetic.

use super::lower::TensorInfo;
use super::schema_generated::tflite::{self, BuiltinOperator as Builtin};
use crate::program::{Affine, ByteTable};
use crate::tensor::ElemType;
use tessera_isa::elementwise::Prelu;
use tessera_isa::quant::{
    inv_sqrt_quantized_multiplier_exp, multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
    tflite_dequantize, tflite_quantize, QuantizedMultiplier,
};

/// Whether `code` is a one-input activation this module tabulates.
pub(super) fn is_unary(code: Builtin) -> bool {
    matches!(
        code,
        Builtin::LOGISTIC
            | Builtin::TANH
            | Builtin::HARD_SWISH
            | Builtin::LEAKY_RELU
            | Builtin::RELU
            | Builtin::RELU6
            | Builtin::RELU_N1_TO_1
            | Builtin::RELU_0_TO_1
            | Builtin::GELU
            | Builtin::RSQRT
            | Builtin::ABS
    )
}

/// Whether `code` is a float operator a float island can contain: one input, and its
/// reference float kernel exact IEEE float32 arithmetic (no library transcendental
/// whose last bit could differ from the platform's).
pub(super) fn is_float_unary(code: Builtin) -> bool {
    matches!(
        code,
        Builtin::NEG
            | Builtin::ABS
            | Builtin::SQUARE
            | Builtin::SQRT
            | Builtin::RSQRT
            | Builtin::RELU
            | Builtin::RELU6
            | Builtin::RELU_N1_TO_1
            | Builtin::RELU_0_TO_1
    )
}

/// The float32 function of float operator `code` (see [`is_float_unary`]).
fn float_unary(code: Builtin, v: f32) -> f32 {
    match code {
        Builtin::NEG => -v,
        Builtin::ABS => v.abs(),
        Builtin::SQUARE => v * v,
        Builtin::SQRT => v.sqrt(),
        Builtin::RSQRT => 1.0 / v.sqrt(),
        Builtin::RELU => v.max(0.0),
        Builtin::RELU6 => v.clamp(0.0, 6.0),
        Builtin::RELU_N1_TO_1 => v.clamp(-1.0, 1.0),
        Builtin::RELU_0_TO_1 => v.clamp(0.0, 1.0),
        _ => f32::NAN,
    }
}

/// A float island as a table: `x` dequantized (`tflite_dequantize`), the float
/// operators `ops` in order, quantized onto `out` (`tflite_quantize`).
pub(super) fn float_island(name: &str, x: &TensorInfo, ops: &[Builtin], out: &TensorInfo) -> Result<ByteTable, String> {
    let (input, y) = (x.affine()?, out.affine()?);
    let range = y.dtype.int_range().ok_or("an integer output")?;
    let values = (0..=255u8)
        .map(|b| {
            let v = tflite_dequantize(i64::from(value_of(input.dtype, b)), input.zero, input.scale);
            let v = ops.iter().fold(v, |v, &code| float_unary(code, v));
            tflite_quantize(v, y.scale, y.zero, range)
        })
        .collect();
    Ok(ByteTable { op: name.to_string(), input: input.dtype, out: y, values })
}

/// The table of activation `code` from input `x` to `out`.
pub(super) fn table(
    code: Builtin,
    name: &str,
    op: &tflite::Operator,
    x: &TensorInfo,
    out: &TensorInfo,
) -> Result<ByteTable, String> {
    let (input, y) = (x.affine()?, out.affine()?);
    if input.dtype != y.dtype {
        return Err(format!("a {} input with a {} output is not supported", input.dtype, y.dtype));
    }
    let values = match code {
        Builtin::LOGISTIC => lut(&input, &y, |v| 1.0 / (1.0 + (-v).exp())),
        Builtin::TANH => lut(&input, &y, f32::tanh),
        Builtin::HARD_SWISH => hard_swish(&input, &y)?,
        Builtin::LEAKY_RELU => {
            let alpha = op.builtin_options_as_leaky_relu_options().ok_or("LEAKY_RELU without its options")?.alpha();
            leaky_relu(&input, &y, alpha)?
        }
        Builtin::RELU => relu_x(&input, &y, 0.0, None)?,
        Builtin::RELU6 => relu_x(&input, &y, 0.0, Some(6.0))?,
        Builtin::RELU_N1_TO_1 => relu_x(&input, &y, -1.0, Some(1.0))?,
        Builtin::RELU_0_TO_1 => relu_x(&input, &y, 0.0, Some(1.0))?,
        // GeluOptions.approximate, field 0.
        Builtin::GELU if super::movement::options(op, 0, 1, 0)? != 0 => lut(&input, &y, gelu_tanh),
        Builtin::GELU => lut(&input, &y, gelu),
        Builtin::RSQRT => rsqrt(&input, &y)?,
        Builtin::ABS => abs(&input, &y)?,
        _ => return Err(format!("{name} is not a tabulated activation")),
    };
    Ok(ByteTable { op: name.to_string(), input: input.dtype, out: y, values })
}

/// The value of raw byte `b` of an int8 or uint8 tensor.
fn value_of(dtype: ElemType, b: u8) -> i32 {
    if dtype == ElemType::U8 {
        i32::from(b)
    } else {
        i32::from(b as i8)
    }
}

/// `f` of every input value, by raw byte, saturated to the output type.
fn by_byte(input: &Affine, out: &Affine, f: impl Fn(i32) -> i32) -> Vec<i64> {
    let (lo, hi) = out.dtype.int_range().expect("8-bit");
    (0..=255u8).map(|b| i64::from(f(value_of(input.dtype, b))).clamp(lo, hi)).collect()
}

/// `LUTPopulate`: dequantize in float32, `transform`, multiply by `1 / out.scale`,
/// round half away from zero, add the zero point in float32, truncate, saturate.
fn lut(input: &Affine, out: &Affine, transform: impl Fn(f32) -> f32) -> Vec<i64> {
    let inverse = 1.0f32 / out.scale;
    by_byte(input, out, |v| {
        let dequantized = input.scale * (v - input.zero as i32) as f32;
        let rescaled = (transform(dequantized) * inverse).round();
        (rescaled + out.zero as f32) as i32
    })
}

/// `reference_ops::GeluTransform`: `0.5 x erfc(-x / sqrt(2))` in float32.
fn gelu(x: f32) -> f32 {
    0.5 * x * libm::erfcf(x * -std::f32::consts::FRAC_1_SQRT_2)
}

/// `reference_ops::GeluTransformApproximate`: `0.5 x (1 + tanh(sqrt(2 / pi) (x +
/// 0.044715 x^3)))` in float32.
fn gelu_tanh(x: f32) -> f32 {
    let sqrt_2_over_pi = (std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2) as f32;
    0.5 * x * (1.0 + (sqrt_2_over_pi * (x + 0.044715 * x * x * x)).tanh())
}

/// int8 `RSQRT` (`elementwise.cc`, `RsqrtEvalQuantized`): the centred input's inverse
/// square root as a fixed-point multiplier (`GetInvSqrtQuantizedMultiplierExp`)
/// applied to 1 with 20 bits of headroom, rescaled by `1 / (sqrt(s_in) s_out)`; 0 maps
/// to the largest output. The kernel fails at run time on inputs below the zero point,
/// so an input that can hold them is refused here rather than given some value.
fn rsqrt(input: &Affine, out: &Affine) -> Result<Vec<i64>, String> {
    if input.dtype != ElemType::I8 {
        return Err(format!("RSQRT of {} values (the reference kernel computes int8)", input.dtype));
    }
    if input.zero != -128 {
        return Err(format!(
            "RSQRT's input zero point {} admits negative values, on which the reference kernel fails",
            input.zero
        ));
    }
    const HEADROOM: i32 = 20;
    let m = multiplier(1.0 / f64::from(input.scale.sqrt() * out.scale), "output")?;
    Ok(by_byte(input, out, |v| {
        let value = v - input.zero as i32;
        if value == 0 {
            return i32::from(i8::MAX);
        }
        let (inv, shift) = inv_sqrt_quantized_multiplier_exp(value, -1);
        let data = multiply_by_quantized_multiplier(1, inv, shift + HEADROOM);
        multiply_by_quantized_multiplier(data, m.multiplier, m.shift - HEADROOM) + out.zero as i32
    }))
}

/// int8 `ABS` (`AbsEvalQuantized`): `|q - zero_in|`, rescaled by `s_in / s_out` when
/// the scales differ, plus the output zero point.
fn abs(input: &Affine, out: &Affine) -> Result<Vec<i64>, String> {
    if input.dtype != ElemType::I8 {
        return Err(format!("ABS of {} values (the reference kernel computes int8 and int16)", input.dtype));
    }
    let rescale = (input.scale != out.scale).then(|| multiplier(f64::from(input.scale / out.scale), "rescaling"));
    let rescale = rescale.transpose()?;
    Ok(by_byte(input, out, |v| {
        let value = (v - input.zero as i32).abs();
        let scaled = rescale.as_ref().map_or(value, |m| multiply_by_quantized_multiplier(value, m.multiplier, m.shift));
        scaled + out.zero as i32
    }))
}

fn multiplier(real: f64, what: &str) -> Result<QuantizedMultiplier, String> {
    quantize_multiplier(real).ok_or(format!("the {what} multiplier {real} is not representable"))
}

/// `QuantizedReluX`: `zero_out + MultiplyByQuantizedMultiplier(q - zero_in, s_in / s_out)`
/// clamped to `[act_min, act_max]` quantized with `roundf` (no upper bound: the type's).
fn relu_x(input: &Affine, out: &Affine, act_min: f32, act_max: Option<f32>) -> Result<Vec<i64>, String> {
    let m = multiplier(f64::from(input.scale / out.scale), "rescaling")?;
    let (lo, hi) = out.dtype.int_range().expect("8-bit");
    let quantized = |a: f32| out.zero as i32 + (a / out.scale).round() as i32;
    let qmin = (lo as i32).max(quantized(act_min));
    let qmax = act_max.map_or(hi as i32, |a| (hi as i32).min(quantized(a)));
    Ok(by_byte(input, out, |v| {
        let y = out.zero as i32 + multiply_by_quantized_multiplier(v - input.zero as i32, m.multiplier, m.shift);
        y.max(qmin).min(qmax)
    }))
}

/// `reference_ops::QuantizeLeakyRelu`: [`Prelu`]'s arithmetic with an alpha of 1 at
/// scale `alpha` (the multiplier `s_in * alpha / s_out`).
fn leaky_relu(input: &Affine, out: &Affine, alpha: f32) -> Result<Vec<i64>, String> {
    let p = Prelu::new((input.scale, input.zero), (alpha, 0), (out.scale, out.zero))
        .ok_or("the LEAKY_RELU multipliers are not representable")?;
    Ok(by_byte(input, out, |v| p.apply(i64::from(v), 1) as i32))
}

/// `PRELU` with one alpha value (raw `value` quantized as `alpha`).
pub(super) fn prelu(input: &Affine, out: &Affine, alpha: &Affine, value: i64) -> Result<ByteTable, String> {
    let p = Prelu::new((input.scale, input.zero), (alpha.scale, alpha.zero), (out.scale, out.zero))
        .ok_or("the PRELU multipliers are not representable")?;
    let values = by_byte(input, out, |v| p.apply(i64::from(v), value) as i32);
    Ok(ByteTable { op: "PRELU".into(), input: input.dtype, out: *out, values })
}

/// `DownScaleInt32ToInt16Multiplier`: the top 16 bits, rounded.
fn int16_multiplier(m: i32) -> i16 {
    if m >= i32::MAX - (1 << 15) {
        return i16::MAX;
    }
    ((m + (1 << 15)) >> 16) as i16
}

/// gemmlowp's int16 `SaturatingRoundingDoublingHighMul`.
fn srdhm16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    let ab = i32::from(a) * i32::from(b);
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// `reference_ops::SaturatingDoublingHighMul`: as [`srdhm16`], rounding towards zero.
fn sdhm16(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        return i16::MAX;
    }
    ((i32::from(a) * i32::from(b)) / (1 << 15)) as i16
}

fn saturating_left_shift(v: i16, amount: i32) -> i16 {
    (i64::from(v) * (1i64 << amount)).clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

/// `reference_ops::HardSwish` on int8/uint8 with `HardSwishPrepare`'s parameters:
/// 16-bit fixed point, the input on a "hires" scale `s_in / 128`, a "relu-ish"
/// multiplier in [0, 1] from saturating `x` to [-3, 3], their rounding-down product
/// shifted to the output scale.
fn hard_swish(input: &Affine, out: &Affine) -> Result<Vec<i64>, String> {
    let hires = (1.0f32 / 128.0) * input.scale;
    let output = multiplier(f64::from(hires / out.scale), "output")?;
    if output.shift > 0 {
        return Err("HARD_SWISH needs an output scale above input scale / 128".into());
    }
    let reluish = multiplier(f64::from(hires / (3.0f32 / 32768.0)), "relu-ish")?;
    let (output_m, reluish_m) = (int16_multiplier(output.multiplier), int16_multiplier(reluish.multiplier));
    Ok(by_byte(input, out, |v| {
        let centred = (v - input.zero as i32) as i16;
        let hires_value = centred.wrapping_mul(1 << 7);
        let preshift = srdhm16(hires_value, output_m);
        let mut r = hires_value;
        if reluish.shift > 0 {
            r = saturating_left_shift(r, reluish.shift - 1);
        }
        r = srdhm16(r, reluish_m);
        if reluish.shift > 0 {
            r = saturating_left_shift(r, 1);
        }
        if reluish.shift < 0 {
            r = rounding_divide_by_pot(i32::from(r), (-reluish.shift) as u32) as i16;
        }
        let r = ((i32::from(r) + (1 << 15)) >> 1) as i16;
        let product = sdhm16(r, preshift);
        let y = rounding_divide_by_pot(i32::from(product), (-output.shift) as u32) as i16;
        i32::from(y.wrapping_add(out.zero as i16))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(scale: f32, zero: i64, dtype: ElemType) -> Affine {
        Affine { scale, zero, dtype, half_scale: false }
    }

    #[test]
    fn relu_of_equal_parameters_clamps_at_the_zero_point() {
        let a = q(0.1, -5, ElemType::I8);
        let t = relu_x(&a, &a, 0.0, None).unwrap();
        assert_eq!(t[0], 0, "0 is above the zero point: kept");
        assert_eq!(t[usize::from(-100i8 as u8)], -5);
        assert_eq!(t[100], 100);
        let six = relu_x(&a, &a, 0.0, Some(6.0)).unwrap();
        assert_eq!(six[127], 55, "6.0 is 60 steps above the zero point");
    }

    #[test]
    fn hard_swish_is_zero_below_minus_three_and_the_identity_above_three() {
        let a = q(0.05, 0, ElemType::I8);
        let t = hard_swish(&a, &a).unwrap();
        assert_eq!(t[usize::from(-100i8 as u8)], 0);
        assert_eq!(t[0], 0);
        // 4.0 (80 steps) is above 3: hard_swish(4) = 4, within a rounding step.
        assert!((t[80] - 80).abs() <= 1, "{}", t[80]);
    }

    #[test]
    fn the_logistic_table_centres_on_one_half() {
        let (a, y) = (q(0.1, 0, ElemType::I8), q(1.0 / 256.0, -128, ElemType::I8));
        let t = lut(&a, &y, |v| 1.0 / (1.0 + (-v).exp()));
        assert_eq!(t[0], 0, "sigmoid(0) = 0.5 = 128 / 256");
        assert_eq!(t[127], 127);
    }
}
