//! TFLite `TRANSPOSE_CONV` (Keras `Conv2DTranspose`) as a stride-1 convolution on the
//! accelerator. The reference scatters each input pixel's products into the output
//! (`out[y * s - pad + i] += (x[y] - zero) * w[i]`); gathered per output instead, that
//! is a correlation with the kernel flipped over the input spread `s` apart with the
//! zero point between its pixels (whose centred value is 0), padded `kh - 1 - pad`
//! before. The int32 sums are the same integers, and the requantization is the
//! convolution's (bias, double-rounding multiplier, zero point, fused activation).

use super::{activation, conv_scale, tflite, tflite_layer, Part, Rescale, TensorInfo};
use crate::program::{ConvGeometry, HostArith, HostOp, OpKind, Window};
use crate::tensor::ElemType;
use tessera_isa::isa::RequantMode;

/// TFLite's padding of a transposed convolution along one axis: the padding of the
/// forward convolution from its `out` (here the output) back to its input.
fn reference_pad(same: bool, out: usize, kernel: usize, stride: usize) -> usize {
    let forward = if same { out.div_ceil(stride) } else { (out + stride).saturating_sub(kernel) / stride };
    let total = (forward.saturating_sub(1) * stride + kernel).saturating_sub(out);
    total / 2
}

/// Padding (before, after) of the stride-1 convolution over `len` inputs spread
/// `stride` apart that gives `out` outputs.
fn gather_pads(len: usize, out: usize, kernel: usize, stride: usize, pad: usize) -> Result<(usize, usize), String> {
    let before = (kernel - 1)
        .checked_sub(pad)
        .ok_or(format!("padding {pad} exceeds the kernel's {kernel} - 1 (the output would be cropped)"))?;
    let spread = (len - 1) * stride + 1;
    let after = (out + kernel - 1)
        .checked_sub(before + spread)
        .ok_or(format!("an output of {out} is smaller than the {spread} positions the input spreads to"))?;
    Ok((before, after))
}

/// The operations of one `TRANSPOSE_CONV` (inputs: output shape, filter `[O, kh, kw,
/// C]`, input, optional bias): the input spread on the host when the stride exceeds
/// 1, then the convolution.
pub(super) fn transpose_conv(
    op: &tflite::Operator,
    ins: &[&TensorInfo],
    out: &TensorInfo,
) -> Result<Vec<Part>, String> {
    let o = op.builtin_options_as_transpose_conv_options().ok_or("TRANSPOSE_CONV without its options")?;
    let [_, w, x, rest @ ..] = ins else {
        return Err("TRANSPOSE_CONV takes an output shape, a filter and an input".into());
    };
    let (&[_, h, wd, c], &[m, kh, kw, wc], &[_, oh, ow, oc]) =
        (x.shape.as_slice(), w.shape.as_slice(), out.shape.as_slice())
    else {
        return Err(format!("input {:?}, filter {:?} and output {:?} must be 4-D", x.shape, w.shape, out.shape));
    };
    if wc != c || oc != m || kh == 0 || kw == 0 {
        return Err(format!("the filter {:?} does not map {c} input to {oc} output channels", w.shape));
    }
    let (a, y) = (x.affine()?, out.affine()?);
    if a.dtype != ElemType::I8 {
        return Err(format!("a {} input: int8 transposed convolutions are supported", a.dtype));
    }
    let stride = |v: i32| usize::try_from(v).ok().filter(|&v| v > 0).ok_or(format!("stride {v} must be positive"));
    let (sh, sw) = (stride(o.stride_h())?, stride(o.stride_w())?);
    let same = o.padding() == tflite::Padding::SAME;
    let (top, bottom) = gather_pads(h, oh, kh, sh, reference_pad(same, oh, kh, sh))?;
    let (left, right) = gather_pads(wd, ow, kw, sw, reference_pad(same, ow, kw, sw))?;
    let values = w.values().ok_or(format!("the filter `{}` must be constant", w.name))?;
    let flipped = TensorInfo {
        data: Some(
            (0..values.len())
                .map(|i| {
                    let (o, r, q, ch) = (i / (kh * kw * c), i / (kw * c) % kh, i / c % kw, i % c);
                    values[((o * kh + kh - 1 - r) * kw + kw - 1 - q) * c + ch]
                })
                .collect(),
        ),
        ..(*w).clone()
    };
    let act = activation(o.fused_activation_function())?;
    let rescale = Rescale { out: y, act, mode: RequantMode::Fixed };
    let layer = tflite_layer(&out.name, x, &flipped, rest.first().copied(), rescale, |s| conv_scale(&a, &y, s))?;
    let window = Window { channels_last: true, ..Window::nchw([kh, kw], [top, left, bottom, right], [1, 1]) };
    let conv = |input: String| Part::new(vec![input], OpKind::Conv { geometry: ConvGeometry::new(c, window), layer });
    if (sh, sw) == (1, 1) {
        return Ok(vec![conv(x.name.clone())]);
    }
    let spread = format!("{}/spread", out.name);
    let dilate = Part {
        inputs: vec![x.name.clone()],
        kind: OpKind::Host {
            op: HostOp::Dilate { factors: [sh, sw], fill: a.zero, channels_last: true },
            arith: HostArith::Integer { clamp: None },
        },
        output: Some((spread.clone(), a.dtype)),
    };
    Ok(vec![dilate, conv(spread)])
}
