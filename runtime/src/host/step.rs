//! One host operation of a compiled model on values in host memory: the program's
//! host operations, the patch matrix of a convolution whose image does not fit the
//! accelerator, and the per-column weight zero-point correction of raw outputs.

use super::ops::{average_pool_float, average_pool_int, broadcast_binary, dilate, max_pool, pad, per_channel};
use super::quant::{dequantize, quantize, QuantParams, QuantRange};
use super::tflite;
use tessera_compiler::program::{
    Affine, BoundaryQuant, ConvGeometry, GemmLayer, HostArith, HostOp, MeanArith, OpKind, SpatialMean,
};
use tessera_compiler::shape::{flatten_shape, reshape_batched};
use tessera_compiler::tensor::{ElemType, TensorData};
use tessera_isa::quant::{onnx_mean, qlinear_average, Requantize, TfliteMean};

/// A value in host memory, in its logical layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub values: TensorData,
    pub shape: Vec<usize>,
}

impl Value {
    pub fn ints(values: Vec<i64>, shape: Vec<usize>) -> Self {
        Value { values: TensorData::Int(values), shape }
    }

    /// Elements per sample (per index of the leading dimension).
    pub fn width(&self) -> usize {
        self.shape.iter().skip(1).product::<usize>().max(1)
    }

    /// The size of the last dimension.
    pub fn width_last(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }

    /// Samples: the leading dimension.
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// The integer values, or an error for float ones.
    pub fn as_ints(&self) -> Result<&[i64], String> {
        match &self.values {
            TensorData::Int(x) => Ok(x),
            TensorData::Float(_) => Err("expects integer values, got float".into()),
        }
    }
}

/// Runs host operation `kind` on `args`.
pub fn run_host(kind: &OpKind, args: &[Value]) -> Result<Value, String> {
    let s = |e: &dyn std::fmt::Display| e.to_string();
    match kind {
        OpKind::Quantize(q) => {
            let TensorData::Float(x) = &args[0].values else {
                return Err("quantizes float values, got integers".into());
            };
            let shape = &args[0].shape;
            let values = quantize(x, shape, &boundary(q, shape.len())?, range(q.dtype)).map_err(|e| s(&e))?;
            Ok(Value::ints(values, shape.clone()))
        }
        OpKind::Dequantize(q) => {
            let shape = &args[0].shape;
            let values = dequantize(args[0].as_ints()?, shape, &boundary(q, shape.len())?).map_err(|e| s(&e))?;
            Ok(Value { values: TensorData::Float(values), shape: shape.clone() })
        }
        OpKind::Host { op, arith: HostArith::Integer { clamp } } => {
            let x: Vec<&[i64]> = args.iter().map(Value::as_ints).collect::<Result<_, _>>()?;
            let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape.as_slice()).collect();
            let (mut values, shape) = match op {
                HostOp::AvgPool(w) => average_pool_int(x[0], shapes[0], w).map_err(|e| s(&e))?,
                HostOp::Pad { pads, value } => pad(x[0], shapes[0], pads, *value).map_err(|e| s(&e))?,
                HostOp::Dilate { factors, fill, channels_last } => {
                    dilate(x[0], shapes[0], *factors, *fill, *channels_last).map_err(|e| s(&e))?
                }
                HostOp::Mul | HostOp::Sub | HostOp::Div => {
                    return Err("Mul / Sub / Div run between dequantizations and a quantization only".into())
                }
                HostOp::Move(m) => m.run(&x, &shapes)?,
                _ => host_op(op, &x, &shapes, 0)?,
            };
            if let Some((lo, hi)) = clamp {
                values.iter_mut().for_each(|v| *v = (*v).clamp(*lo, *hi));
            }
            Ok(Value::ints(values, shape))
        }
        OpKind::Host { op: HostOp::Add, arith: HostArith::TfliteAdd { inputs: [a, b], out, clamp } } => {
            let q = |p: &Affine| tflite::Quant { scale: p.scale, zero: p.zero };
            let params = tflite::AddParams::new(q(a), q(b), q(out), *clamp)
                .ok_or("the scales give no fixed-point multipliers")?;
            let (values, shape) =
                tflite::add(args[0].as_ints()?, &args[0].shape, args[1].as_ints()?, &args[1].shape, &params)
                    .map_err(|e| s(&e))?;
            Ok(Value::ints(values, shape))
        }
        OpKind::Host { arith: HostArith::TfliteAdd { .. }, .. } => {
            Err("TFLite's fixed-point arithmetic is for ADD".into())
        }
        OpKind::Host { op: HostOp::Move(m), arith: HostArith::Requant { inputs, out } } => {
            super::movement::requantized(m, args, inputs, out)
        }
        OpKind::Host { op, arith: HostArith::Requant { inputs, out } } => {
            let real: Vec<Vec<f32>> = args
                .iter()
                .zip(inputs)
                .map(|(a, q)| dequantize(a.as_ints()?, &a.shape, &per_tensor(q)).map_err(|e| s(&e)))
                .collect::<Result<_, _>>()?;
            let x: Vec<&[f32]> = real.iter().map(Vec::as_slice).collect();
            let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape.as_slice()).collect();
            let (values, shape) = match op {
                HostOp::AvgPoolFloat { window, count_include_pad } => {
                    average_pool_float(x[0], shapes[0], window, *count_include_pad).map_err(|e| s(&e))?
                }
                _ => host_op(op, &x, &shapes, 0.0)?,
            };
            let q = quantize(&values, &shape, &per_tensor(out), range(out.dtype)).map_err(|e| s(&e))?;
            Ok(Value::ints(q, shape))
        }
        OpKind::TfliteQuantize(q) => {
            let TensorData::Float(x) = &args[0].values else {
                return Err("quantizes float values, got integers".into());
            };
            let range = q.dtype.int_range().ok_or("quantizes to an integer type")?;
            let values = tflite::quantize(x, tflite::Quant { scale: q.scale, zero: q.zero }, range);
            Ok(Value::ints(values, args[0].shape.clone()))
        }
        OpKind::TfliteDequantize(q) => {
            let values = tflite::dequantize(args[0].as_ints()?, tflite::Quant { scale: q.scale, zero: q.zero });
            Ok(Value { values: TensorData::Float(values), shape: args[0].shape.clone() })
        }
        OpKind::TfliteRequantize { input, out } => {
            let range = out.dtype.int_range().ok_or("requantizes to an integer type")?;
            let r = Requantize::new((input.scale, input.zero), (out.scale, out.zero), range)
                .ok_or("the scales give no fixed-point multiplier")?;
            let values = args[0].as_ints()?.iter().map(|&q| r.apply(q)).collect();
            Ok(Value::ints(values, args[0].shape.clone()))
        }
        OpKind::TfliteSoftmax { beta, input, out } => {
            let q = |p: &Affine| tflite::Quant { scale: p.scale, zero: p.zero };
            let unsigned = out.dtype == ElemType::U8;
            let values = tflite::softmax(args[0].as_ints()?, args[0].width_last(), *beta, q(input), q(out), unsigned);
            Ok(Value::ints(values, args[0].shape.clone()))
        }
        OpKind::Depthwise(d) => {
            let run = tflite::Depthwise {
                window: &d.window,
                multiplier: d.multiplier,
                weights: &d.weights,
                w_zero: d.w_zero,
                x_zero: d.a_zero,
                params: &d.params,
                mode: d.mode,
                out_zero: d.out.zero,
                clamp: d.clamp,
            };
            let (values, shape) = run.run(args[0].as_ints()?, &args[0].shape).map_err(|e| s(&e))?;
            Ok(Value::ints(values, shape))
        }
        OpKind::SpatialMean(m) => spatial_mean(m, &args[0]),
        OpKind::ByteTable(t) => {
            let values = args[0].as_ints()?.iter().map(|&q| t.apply(q)).collect();
            Ok(Value::ints(values, args[0].shape.clone()))
        }
        OpKind::TfliteBinary(b) => {
            let (values, shape) =
                super::binary::run(b, args[0].as_ints()?, &args[0].shape, args[1].as_ints()?, &args[1].shape)?;
            Ok(Value::ints(values, shape))
        }
        OpKind::Reduce(r) => {
            let (values, shape) = r.run(args[0].as_ints()?, &args[0].shape)?;
            Ok(Value::ints(values, shape))
        }
        OpKind::ResizeBilinear(r) => {
            let (values, shape) = r.run(args[0].as_ints()?, &args[0].shape)?;
            Ok(Value::ints(values, shape))
        }
        OpKind::Gemm(_) | OpKind::Conv { .. } => Err("accelerator layers run on the accelerator".into()),
    }
}

/// The mean of each image's channels over its height and width.
fn spatial_mean(m: &SpatialMean, x: &Value) -> Result<Value, String> {
    let (input, out) = (&m.input, &m.out);
    let range = out.dtype.int_range().ok_or("averages to an integer type")?;
    let shape = m.output_shape(&x.shape)?;
    let pixels = if m.channels_last { x.shape[1] * x.shape[2] } else { x.shape[2] * x.shape[3] };
    let tflite = match m.arith {
        MeanArith::Tflite => Some(
            TfliteMean::new((input.scale, input.zero), (out.scale, out.zero), pixels, range)
                .ok_or("the scales give no fixed-point multiplier")?,
        ),
        _ => None,
    };
    let centred = |q: &[i64]| q.iter().map(|&v| v - input.zero).sum::<i64>();
    let f = |q: &[i64]| match (&tflite, m.arith) {
        (Some(t), _) => t.apply(centred(q)),
        (None, MeanArith::QLinear) => qlinear_average(centred(q), q.len(), input.scale, (out.scale, out.zero), range),
        (None, _) => onnx_mean(q, (input.scale, input.zero), (out.scale, out.zero), range),
    };
    let values = per_channel(x.as_ints()?, &x.shape, m.channels_last, f).map_err(|e| e.to_string())?;
    Ok(Value::ints(values, shape))
}

/// `op` on values of one element type (`zero` is its additive zero, for ReLU).
fn host_op<T>(op: &HostOp, x: &[&[T]], shapes: &[&[usize]], zero: T) -> Result<(Vec<T>, Vec<usize>), String>
where
    T: Copy
        + PartialOrd
        + std::ops::Add<Output = T>
        + std::ops::Mul<Output = T>
        + std::ops::Sub<Output = T>
        + std::ops::Div<Output = T>,
{
    let s = |e: tessera_compiler::shape::ShapeError| e.to_string();
    Ok(match op {
        HostOp::Add => broadcast_binary(x[0], shapes[0], x[1], shapes[1], |a, b| a + b).map_err(s)?,
        HostOp::Mul => broadcast_binary(x[0], shapes[0], x[1], shapes[1], |a, b| a * b).map_err(s)?,
        HostOp::Sub => broadcast_binary(x[0], shapes[0], x[1], shapes[1], |a, b| a - b).map_err(s)?,
        HostOp::Div => broadcast_binary(x[0], shapes[0], x[1], shapes[1], |a, b| a / b).map_err(s)?,
        HostOp::Relu => (x[0].iter().map(|&v| if v > zero { v } else { zero }).collect(), shapes[0].to_vec()),
        HostOp::MaxPool(w) => max_pool(x[0], shapes[0], w).map_err(s)?,
        HostOp::AvgPool(_) => return Err("average pooling runs on integers only".into()),
        HostOp::AvgPoolFloat { .. } => return Err("ONNX average pooling runs on dequantized values only".into()),
        HostOp::Flatten { axis } => (x[0].to_vec(), flatten_shape(shapes[0], *axis).map_err(s)?),
        // A batch-1 target shape applies per sample when a batch runs.
        HostOp::Reshape { shape } => (x[0].to_vec(), reshape_batched(shapes[0], shape).map_err(s)?),
        HostOp::Pad { .. } | HostOp::Dilate { .. } => return Err("padding runs on integers only".into()),
        HostOp::Move(_) => return Err("data movement runs on integers only".into()),
    })
}

/// Host parameters of a boundary Q/DQ on a tensor of `rank` dimensions.
fn boundary(q: &BoundaryQuant, rank: usize) -> Result<QuantParams<'_>, String> {
    let axis = if q.axis < 0 { q.axis + rank as i64 } else { q.axis };
    let axis = usize::try_from(axis).ok().filter(|&a| a < rank || q.scales.len() == 1);
    let axis = axis.ok_or_else(|| format!("quantization axis {} is outside a rank-{rank} tensor", q.axis))?;
    Ok(QuantParams { scale: &q.scales, zero_point: &q.zeros, axis, block_size: q.block_size })
}

fn per_tensor(q: &Affine) -> QuantParams<'_> {
    QuantParams {
        scale: std::slice::from_ref(&q.scale),
        zero_point: std::slice::from_ref(&q.zero),
        axis: 0,
        block_size: 0,
    }
}

fn range(dtype: ElemType) -> QuantRange {
    match dtype {
        ElemType::U8 => QuantRange::U8,
        _ => QuantRange::I8,
    }
}

/// The patch matrix of a convolution: one row per output pixel, the kernel flattened
/// in (i, j, c) order (`ConvGeometry::tap_major`, whatever the layout), padding with
/// the input's zero point.
pub fn im2col(geometry: &ConvGeometry, a_zero: i64, x: &Value) -> Result<Value, String> {
    let [n, c, h, w] = geometry.dims(&x.shape).ok_or_else(|| format!("the input {:?} is not 4-D", x.shape))?;
    let [oh, ow] = geometry.output_size(h, w).ok_or("the kernel is larger than the padded input")?;
    let x = x.as_ints()?;
    let (last, g) = (geometry.window.channels_last, &geometry.window);
    let [kh, kw] = g.kernel;
    let k = c * kh * kw;
    let mut patches = Vec::with_capacity(n * oh * ow * k);
    for b in 0..n {
        for (y, xo) in (0..oh).flat_map(|y| (0..ow).map(move |xo| (y, xo))) {
            for t in 0..k {
                let (ch, i, j) = (t % c, t / c / kw, t / c % kw);
                let row = (y * g.strides[0] + i * g.dilations[0]).checked_sub(g.pads[0]);
                let col = (xo * g.strides[1] + j * g.dilations[1]).checked_sub(g.pads[1]);
                let value = match (row, col) {
                    (Some(r), Some(q)) if r < h && q < w && last => x[((b * h + r) * w + q) * c + ch],
                    (Some(r), Some(q)) if r < h && q < w => x[((b * c + ch) * h + r) * w + q],
                    _ => a_zero,
                };
                patches.push(value);
            }
        }
    }
    Ok(Value::ints(patches, vec![n * oh * ow, k]))
}

/// Subtracts `zero[c] * sum(a - a_zero)` from column `c` of each row of a layer's raw
/// int32 outputs: the array ran with weight zero point 0 because the layer's
/// per-column zero points differ, `(a - za) . (w - zc) = (a - za) . w - zc * sum(a - za)`.
pub fn correct_zero_points(layer: &GemmLayer, a: &[i64], out: &mut [i64]) -> Result<(), String> {
    let zeros = layer.w_zero_columns.as_ref().ok_or("the layer has one weight zero point")?;
    let (k, n) = (layer.k, layer.n);
    if a.len() / k.max(1) != out.len() / n.max(1) {
        return Err(format!("{} activations for {} outputs", a.len(), out.len()));
    }
    for (row, sums) in out.chunks_mut(n).zip(a.chunks(k)) {
        let sum: i64 = sums.iter().map(|v| v - layer.a_zero).sum();
        for (value, zero) in row.iter_mut().zip(zeros) {
            *value -= zero * sum;
        }
    }
    Ok(())
}
