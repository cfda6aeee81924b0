//! TFLite's integer reference arithmetic for the operators the host runs: the int8
//! `ADD` (both inputs brought to a common fixed-point scale with 20 bits of headroom,
//! summed, rescaled to the output), as `tensorflow/lite/kernels/add.cc` prepares it
//! and `reference_integer_ops::Add` computes it (double rounding:
//! `MultiplyByQuantizedMultiplierSmallerThanOneExp`).

use super::ops::broadcast_binary;
use tessera_compiler::shape::{depthwise_output_shape, ShapeError, Window};
use tessera_isa::isa::RequantMode;
use tessera_isa::quant::AddRescale;
use tessera_isa::quant::{requantize, ParamLane};

/// Scale and zero point of one int8 tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quant {
    pub scale: f32,
    pub zero: i64,
}

/// TFLite's `ADD` with a clamp (the fused activation's range).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddParams {
    rescale: AddRescale,
    clamp: (i64, i64),
}

impl AddParams {
    /// `clamp`: the output range after the fused activation.
    pub fn new(a: Quant, b: Quant, out: Quant, clamp: (i64, i64)) -> Option<AddParams> {
        let rescale = AddRescale::new((a.scale, a.zero), (b.scale, b.zero), (out.scale, out.zero))?;
        Some(AddParams { rescale, clamp })
    }

    fn apply(&self, x: i64, y: i64) -> i64 {
        let sum = self.rescale.input(0, x).wrapping_add(self.rescale.input(1, y));
        self.rescale.output(sum).clamp(self.clamp.0, self.clamp.1)
    }
}

/// `QUANTIZE` from float: [`tessera_isa::quant::tflite_quantize`] of each value.
pub fn quantize(x: &[f32], q: Quant, range: (i64, i64)) -> Vec<i64> {
    x.iter().map(|&v| tessera_isa::quant::tflite_quantize(v, q.scale, q.zero, range)).collect()
}

/// `DEQUANTIZE` to float: [`tessera_isa::quant::tflite_dequantize`] of each value.
pub fn dequantize(q: &[i64], p: Quant) -> Vec<f32> {
    q.iter().map(|&v| tessera_isa::quant::tflite_dequantize(v, p.zero, p.scale)).collect()
}

/// A depthwise convolution: TFLite's `DEPTHWISE_CONV_2D` over NHWC (reference
/// `DepthwiseConvPerChannel` for int8, `DepthwiseConv` for uint8) or ONNX's
/// `QLinearConv` / QDQ `Conv` with `group` = C over NCHW: output channel `c` filters
/// input channel `c / multiplier` with `weights[.., .., c] - w_zero` (`[kh, kw, C *
/// multiplier]`), over the in-bounds taps, with `(x - x_zero)`, exact in int32; then
/// `requantize(mode, acc, params[c], out_zero, clamp)` (TFLite's double rounding, or
/// ONNX's float scale, as the accelerator's STORE computes them).
pub struct Depthwise<'a> {
    pub window: &'a Window,
    pub multiplier: usize,
    pub weights: &'a [i64],
    pub w_zero: i64,
    pub x_zero: i64,
    pub params: &'a [ParamLane],
    pub mode: RequantMode,
    pub out_zero: i64,
    pub clamp: (i64, i64),
}

impl Depthwise<'_> {
    pub fn run(&self, x: &[i64], shape: &[usize]) -> Result<(Vec<i64>, Vec<usize>), ShapeError> {
        let w = self.window;
        let out_shape = depthwise_output_shape(shape, w, self.multiplier)?;
        let [n, c, h, wd] = w.dims(shape)?;
        let [_, channels, oh, ow] = w.dims(&out_shape)?;
        let [kh, kw] = w.kernel;
        let last = w.channels_last;
        let at = |b: usize, ch: usize, r: usize, q: usize, [c, h, wd]: [usize; 3]| {
            if last {
                ((b * h + r) * wd + q) * c + ch
            } else {
                ((b * c + ch) * h + r) * wd + q
            }
        };
        let mut out = vec![0; n * oh * ow * channels];
        for (b, y, xo) in (0..n).flat_map(|b| (0..oh).flat_map(move |y| (0..ow).map(move |xo| (b, y, xo)))) {
            for oc in 0..channels {
                let ic = oc / self.multiplier;
                let mut acc = 0i32;
                for (i, j) in (0..kh).flat_map(|i| (0..kw).map(move |j| (i, j))) {
                    let r = (y * w.strides[0] + i * w.dilations[0]).checked_sub(w.pads[0]).filter(|&r| r < h);
                    let q = (xo * w.strides[1] + j * w.dilations[1]).checked_sub(w.pads[1]).filter(|&q| q < wd);
                    if let (Some(r), Some(q)) = (r, q) {
                        let v = x[at(b, ic, r, q, [c, h, wd])] - self.x_zero;
                        acc = acc.wrapping_add((v * (self.weights[(i * kw + j) * channels + oc] - self.w_zero)) as i32);
                    }
                }
                let (lo, hi) = (self.clamp.0 as i32, self.clamp.1 as i32);
                let y_q = requantize(self.mode, acc, self.params[oc], self.out_zero as i32, lo, hi);
                out[at(b, oc, y, xo, [channels, oh, ow])] = i64::from(y_q);
            }
        }
        Ok((out, out_shape))
    }
}

/// TFLite's int8 or uint8 `SOFTMAX` over the last dimension (`width` values per row),
/// as its kernel computes it: a float32 table `exp(-beta * s_in * d)` for every
/// difference `d` from the row's maximum, the row's sum of table values, each value
/// times `1 / (sum * s_out)` rounded (`QuantizeSoftmaxOutput`: half away from zero
/// plus the output zero point for int8; `i32(p + 0.5f)` for uint8, whose zero point
/// is 0), saturated to the output type.
pub fn softmax(x: &[i64], width: usize, beta: f32, input: Quant, out: Quant, unsigned: bool) -> Vec<i64> {
    let scale = -(input.scale * beta);
    // table[255 - d] = exp(scale * d), as `PopulateSoftmaxLookupTable` fills it.
    let mut table = [0f32; 256];
    for d in 0..256 {
        table[255 - d] = (scale * d as f32).exp();
    }
    let mut y = Vec::with_capacity(x.len());
    for row in x.chunks(width.max(1)) {
        let max = row.iter().copied().max().unwrap_or(0);
        let at = |v: i64| table[(255 - (max - v)).clamp(0, 255) as usize];
        let sum = row.iter().fold(0f32, |s, &v| s + at(v));
        let inv = 1.0 / (sum * out.scale);
        y.extend(row.iter().map(|&v| {
            let p = at(v) * inv;
            if unsigned {
                ((p + 0.5) as i64).clamp(0, 255)
            } else {
                (p.round() as i64 + out.zero).clamp(-128, 127)
            }
        }));
    }
    y
}

/// Element-wise `ADD` of `a` and `b` (numpy broadcasting).
pub fn add(
    a: &[i64],
    a_shape: &[usize],
    b: &[i64],
    b_shape: &[usize],
    p: &AddParams,
) -> Result<(Vec<i64>, Vec<usize>), ShapeError> {
    broadcast_binary(a, a_shape, b, b_shape, |x, y| p.apply(x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_of_equal_values_is_uniform_and_the_maximum_dominates() {
        let (input, out) = (Quant { scale: 0.1, zero: 0 }, Quant { scale: 1.0 / 256.0, zero: -128 });
        // Four equal values: 1/4 each = 64 steps of 1/256, minus 128.
        assert_eq!(softmax(&[5, 5, 5, 5], 4, 1.0, input, out, false), vec![-64; 4]);
        // A value 127 steps (12.7 in real terms) above the rest takes everything.
        assert_eq!(softmax(&[127, 0, 0], 3, 1.0, input, out, false), vec![127, -128, -128]);
        // uint8: the same probabilities from zero, saturating at 255.
        let out = Quant { scale: 1.0 / 256.0, zero: 0 };
        assert_eq!(softmax(&[5, 5, 5, 5], 4, 1.0, input, out, true), vec![64; 4]);
        assert_eq!(softmax(&[255, 0, 0], 3, 1.0, input, out, true), vec![255, 0, 0]);
    }

    #[test]
    fn equal_scales_add_the_offsets() {
        // Inputs and output at scale 0.5: the real sum is exact, so the integer result
        // is (x - zx) + (y - zy) + zo.
        let q = |zero| Quant { scale: 0.5, zero };
        let p = AddParams::new(q(3), q(-5), q(1), (-128, 127)).unwrap();
        let (y, _) = add(&[10, -20, 100], &[3], &[0, 5, 60], &[3], &p).unwrap();
        assert_eq!(y, vec![(10 - 3) + 5 + 1, (-20 - 3) + 10 + 1, 127]);
    }

    #[test]
    fn the_output_scale_halves_and_rounds() {
        // Output at twice the input scale: (x + y) / 2 rounded (half away from zero
        // through the fixed-point rounding), zero points 0.
        let p = AddParams::new(
            Quant { scale: 0.25, zero: 0 },
            Quant { scale: 0.25, zero: 0 },
            Quant { scale: 0.5, zero: 0 },
            (-128, 127),
        )
        .unwrap();
        let (y, _) = add(&[3, -3, 4], &[3], &[0, 0, 1], &[3], &p).unwrap();
        assert_eq!(y, vec![2, -2, 3]);
    }
}
