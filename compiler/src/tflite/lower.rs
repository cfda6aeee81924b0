//! The operators of a TFLite subgraph, in order, as program operations.

use super::schema_generated::tflite::{self, BuiltinOperator as Builtin};
use crate::program::{
    Affine, ConstValue, ConvGeometry, DepthwiseLayer, GemmLayer, HostArith, HostOp, LayerOutput, Op, OpKind, Program,
    ProgramInput, Window,
};
use crate::tensor::ElemType;
use tessera_isa::isa::RequantMode;
use tessera_isa::quant::{
    activation_range, quantize_multiplier, tflite_per_channel_scale, tflite_per_tensor_scale, Activation, ParamLane,
};

/// An operator's name as the schema spells it (every builtin operator; a custom one
/// with its custom code).
fn op_name(code: Builtin, custom: Option<&str>) -> String {
    match (code, custom) {
        (Builtin::CUSTOM, Some(custom)) => format!("CUSTOM({custom})"),
        _ => code.variant_name().map_or_else(|| format!("builtin operator {}", code.0), str::to_string),
    }
}

/// One tensor of the subgraph, decoded.
struct TensorInfo {
    name: String,
    dtype: Option<ElemType>,
    shape: Vec<usize>,
    /// Constant values (weights, biases, shapes), if the tensor has a buffer.
    data: Option<Vec<i64>>,
    scales: Vec<f32>,
    zeros: Vec<i64>,
}

impl TensorInfo {
    /// Per-tensor quantization.
    fn affine(&self) -> Result<Affine, String> {
        match (self.scales.as_slice(), self.zeros.as_slice(), self.dtype) {
            ([scale], [zero], Some(dtype @ (ElemType::I8 | ElemType::U8))) => {
                Ok(Affine { scale: *scale, zero: *zero, dtype, half_scale: false })
            }
            (_, _, Some(ElemType::I8 | ElemType::U8)) => {
                Err(format!("tensor `{}` needs one scale and zero point", self.name))
            }
            _ => Err(format!(
                "tensor `{}` is {}; int8 and uint8 activations are supported",
                self.name,
                self.dtype.map_or("an unknown type".into(), |t| t.to_string())
            )),
        }
    }
}

fn elem_type(t: tflite::TensorType) -> Option<ElemType> {
    Some(match t {
        tflite::TensorType::FLOAT32 => ElemType::F32,
        tflite::TensorType::FLOAT16 => ElemType::F16,
        tflite::TensorType::INT8 => ElemType::I8,
        tflite::TensorType::UINT8 => ElemType::U8,
        tflite::TensorType::INT16 => ElemType::I16,
        tflite::TensorType::INT32 => ElemType::I32,
        tflite::TensorType::INT64 => ElemType::I64,
        _ => return None,
    })
}

/// Little-endian integer elements of a buffer.
fn decode(bytes: &[u8], dtype: Option<ElemType>) -> Option<Vec<i64>> {
    let v = match dtype? {
        ElemType::I8 => bytes.iter().map(|&b| i64::from(b as i8)).collect(),
        ElemType::U8 => bytes.iter().map(|&b| i64::from(b)).collect(),
        ElemType::I16 => bytes.chunks_exact(2).map(|c| i64::from(i16::from_le_bytes([c[0], c[1]]))).collect(),
        ElemType::I32 => bytes.chunks_exact(4).map(|c| i64::from(i32::from_le_bytes(c.try_into().unwrap()))).collect(),
        ElemType::I64 => bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect(),
        _ => return None,
    };
    Some(v)
}

/// The program of a TFLite model's first subgraph.
pub fn lower_model(bytes: &[u8]) -> Result<Program, String> {
    if !tflite::model_buffer_has_identifier(bytes) {
        return Err("not a TFLite model (no TFL3 identifier)".into());
    }
    let model = tflite::root_as_model(bytes).map_err(|e| format!("malformed TFLite flatbuffer: {e}"))?;
    let subgraph = model.subgraphs().and_then(|s| s.iter().next()).ok_or("the model has no subgraph")?;
    let buffers = model.buffers();
    let tensors: Vec<TensorInfo> = subgraph
        .tensors()
        .ok_or("the subgraph has no tensors")?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let dtype = elem_type(t.type_());
            // Buffer 0 is the empty sentinel; activations have empty buffers.
            let index = t.buffer() as usize;
            let data = buffers
                .filter(|b| index > 0 && index < b.len())
                .and_then(|b| b.get(index).data())
                .filter(|d| !d.is_empty())
                .map(|d| decode(d.bytes(), dtype).ok_or(format!("tensor {i}: constant of an unsupported type")))
                .transpose()?;
            let shape: Vec<usize> = t.shape().map_or_else(Vec::new, |s| s.iter().map(|d| d.max(1) as usize).collect());
            if let Some(values) = &data {
                if values.len() != shape.iter().product::<usize>() {
                    return Err(format!("tensor {i}: {} values for shape {shape:?}", values.len()));
                }
            }
            let q = t.quantization();
            Ok(TensorInfo {
                name: t.name().map_or_else(|| format!("tensor{i}"), str::to_string),
                dtype,
                shape,
                data,
                scales: q.and_then(|q| q.scale()).map_or_else(Vec::new, |s| s.iter().collect()),
                zeros: q.and_then(|q| q.zero_point()).map_or_else(Vec::new, |z| z.iter().collect()),
            })
        })
        .collect::<Result<_, String>>()?;
    let tensor = |index: i32| -> Result<&TensorInfo, String> {
        usize::try_from(index).ok().and_then(|i| tensors.get(i)).ok_or(format!("tensor index {index} is out of range"))
    };
    let mut program = Program::default();
    for &i in subgraph.inputs().ok_or("the subgraph has no inputs")?.iter().collect::<Vec<_>>().iter() {
        let t = tensor(i)?;
        let dtype = t.dtype.ok_or(format!("input `{}` has an unsupported type", t.name))?;
        program.inputs.push(ProgramInput {
            name: t.name.clone(),
            dtype,
            shape: t.shape.iter().map(|&d| Some(d)).collect(),
        });
    }
    let codes: Vec<(Builtin, Option<String>)> = model
        .operator_codes()
        .ok_or("the model has no operator codes")?
        .iter()
        .map(|c| {
            let code = Builtin(c.builtin_code().0.max(i32::from(c.deprecated_builtin_code())));
            (code, c.custom_code().map(str::to_string))
        })
        .collect();
    for (index, op) in subgraph.operators().ok_or("the subgraph has no operators")?.iter().enumerate() {
        let (code, custom) =
            codes.get(op.opcode_index() as usize).ok_or(format!("operator {index}: bad opcode index"))?;
        let code = *code;
        let name = format!("{}#{index}", op_name(code, custom.as_deref()));
        let context = |e: String| format!("operator `{name}`: {e}");
        let inputs: Vec<i32> = op.inputs().map_or_else(Vec::new, |v| v.iter().collect());
        let outputs: Vec<i32> = op.outputs().map_or_else(Vec::new, |v| v.iter().collect());
        let [out_index] = outputs[..] else { return Err(context("one output is supported".into())) };
        let out = tensor(out_index).map_err(context)?;
        let ins: Vec<&TensorInfo> =
            inputs.iter().filter(|&&i| i >= 0).map(|&i| tensor(i)).collect::<Result<_, _>>().map_err(context)?;
        let lowered = match code {
            Builtin::CONV_2D => conv(&op, &ins, out),
            Builtin::DEPTHWISE_CONV_2D => depthwise(&op, &ins, out),
            Builtin::SOFTMAX if ins.len() == 1 && out.dtype == Some(ElemType::I8) => {
                let beta = op.builtin_options_as_softmax_options().map_or(1.0, |o| o.beta());
                let (input, y) = (ins[0].affine()?, out.affine()?);
                Ok((vec![ins[0].name.clone()], OpKind::TfliteSoftmax { beta, input, out: y }))
            }
            Builtin::QUANTIZE if ins.first().is_some_and(|t| t.dtype == Some(ElemType::F32)) => {
                Ok((vec![ins[0].name.clone()], OpKind::TfliteQuantize(out.affine()?)))
            }
            Builtin::DEQUANTIZE if out.dtype == Some(ElemType::F32) => {
                let [x] = ins.as_slice() else { return Err(context("DEQUANTIZE takes one input".into())) };
                Ok((vec![x.name.clone()], OpKind::TfliteDequantize(x.affine()?)))
            }
            Builtin::FULLY_CONNECTED => fully_connected(&op, &ins, out),
            Builtin::ADD => add(&op, &ins, out),
            Builtin::MAX_POOL_2D | Builtin::AVERAGE_POOL_2D => pool(&op, code == Builtin::MAX_POOL_2D, &ins, out),
            Builtin::RESHAPE if !ins.is_empty() => Ok((
                vec![ins[0].name.clone()],
                OpKind::Host {
                    op: HostOp::Reshape { shape: out.shape.iter().map(|&d| d as i64).collect() },
                    arith: HostArith::Integer { clamp: None },
                },
            )),
            _ => Err("not supported (no accelerator or host lowering for this TFLite operator)".into()),
        }
        .map_err(context)?;
        let (op_inputs, kind) = lowered;
        for t in &ins {
            if let (Some(values), true) = (&t.data, op_inputs.contains(&t.name)) {
                program.constants.insert(t.name.clone(), ConstValue { shape: t.shape.clone(), values: values.clone() });
            }
        }
        let out_type = out.dtype.ok_or_else(|| context("the output has an unsupported type".into()))?;
        program.ops.push(Op {
            node: name,
            source: op_name(code, custom.as_deref()),
            inputs: op_inputs,
            output: out.name.clone(),
            out_type,
            kind,
        });
    }
    for &i in subgraph.outputs().ok_or("the subgraph has no outputs")?.iter().collect::<Vec<_>>().iter() {
        program.outputs.push(tensor(i)?.name.clone());
    }
    Ok(program)
}

type Lowered = (Vec<String>, OpKind);

fn activation(code: tflite::ActivationFunctionType) -> Result<Activation, String> {
    match code {
        tflite::ActivationFunctionType::NONE => Ok(Activation::None),
        tflite::ActivationFunctionType::RELU => Ok(Activation::Relu),
        tflite::ActivationFunctionType::RELU6 => Ok(Activation::Relu6),
        tflite::ActivationFunctionType::RELU_N1_TO_1 => Ok(Activation::ReluN1To1),
        other => Err(format!("fused activation {other:?} is not supported")),
    }
}

/// The output clamp of a fused activation on `out`.
fn clamp(act: Activation, out: &Affine) -> (i64, i64) {
    let (lo, hi) = out.dtype.int_range().expect("8-bit");
    let (lo, hi) = activation_range(act, out.scale, out.zero as i32, lo as i32, hi as i32);
    (i64::from(lo), i64::from(hi))
}

/// TFLite's padding of one dimension: SAME pads `max((out - 1) * stride + span - size,
/// 0)`, the odd cycle at the end; VALID none. Returns (before, after).
fn padding(same: bool, size: usize, kernel: usize, stride: usize, dilation: usize) -> (usize, usize) {
    if !same {
        return (0, 0);
    }
    let span = dilation * (kernel - 1) + 1;
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + span).saturating_sub(size);
    (total / 2, total - total / 2)
}

/// Window geometry over an NHWC input.
fn geometry(
    input: &[usize],
    kernel: [usize; 2],
    strides: [i32; 2],
    dilations: [i32; 2],
    same: bool,
) -> Result<ConvGeometry, String> {
    let &[_, h, w, c] = input else { return Err(format!("the input {input:?} is not NHWC")) };
    let positive =
        |v: i32, what: &str| usize::try_from(v).ok().filter(|&v| v > 0).ok_or(format!("{what} {v} must be positive"));
    let strides = [positive(strides[0], "stride")?, positive(strides[1], "stride")?];
    let dilations = [positive(dilations[0], "dilation")?, positive(dilations[1], "dilation")?];
    let (top, bottom) = padding(same, h, kernel[0], strides[0], dilations[0]);
    let (left, right) = padding(same, w, kernel[1], strides[1], dilations[1]);
    let window = Window { kernel, pads: [top, left, bottom, right], strides, dilations, channels_last: true };
    Ok(ConvGeometry { channels: c, window })
}

/// A layer's constant int8 weights (symmetric, one scale or one per output channel)
/// and, per output channel `c` of `n`, its bias and the fixed-point multiplier of
/// `scale_of(weight scale of c)`.
fn fixed_point_channels(
    weight: &TensorInfo,
    bias: Option<&TensorInfo>,
    n: usize,
    scale_of: impl Fn(f32) -> f64,
) -> Result<(Vec<i64>, Vec<ParamLane>), String> {
    let w = weight.data.clone().ok_or(format!("the weights `{}` must be constant", weight.name))?;
    if weight.dtype != Some(ElemType::I8) || weight.zeros.iter().any(|&z| z != 0) {
        return Err(format!("the weights `{}` must be symmetric int8 (zero point 0)", weight.name));
    }
    if weight.scales.len() != 1 && weight.scales.len() != n {
        return Err(format!("the weights `{}` need one scale or one per output channel", weight.name));
    }
    let biases: Vec<i64> = match bias {
        Some(b) => b
            .data
            .clone()
            .filter(|v| v.len() == n)
            .ok_or(format!("the bias `{}` must be {n} int32 constants", b.name))?,
        None => vec![0; n],
    };
    let params = (0..n)
        .map(|c| {
            let s = weight.scales[if weight.scales.len() == 1 { 0 } else { c }];
            let m = quantize_multiplier(scale_of(s)).ok_or(format!("output channel {c}: no fixed-point multiplier"))?;
            Ok(ParamLane::fixed(biases[c] as i32, m))
        })
        .collect::<Result<_, String>>()?;
    Ok((w, params))
}

/// How a layer's accumulators become its outputs.
struct Rescale {
    out: Affine,
    act: Activation,
    mode: RequantMode,
}

/// An int8 GEMM layer with TFLite's fixed-point requantization: `weight` is `[N, K]`
/// (output channels first); `scale_of` maps a weight scale to the effective scale.
fn tflite_layer(
    node: &str,
    x: &TensorInfo,
    weight: &TensorInfo,
    bias: Option<&TensorInfo>,
    rescale: Rescale,
    scale_of: impl Fn(f32) -> f64,
) -> Result<GemmLayer, String> {
    let Rescale { out, act, mode } = rescale;
    let a = x.affine()?;
    let &[n, ..] = weight.shape.as_slice() else { return Err(format!("the weights `{}` have no shape", weight.name)) };
    let (w, params) = fixed_point_channels(weight, bias, n, scale_of)?;
    let k = w.len() / n.max(1);
    Ok(GemmLayer {
        node: node.to_string(),
        batches: 1,
        k,
        n,
        // [N, K] -> [K, N]
        weights: (0..k * n).map(|i| w[(i % n) * k + i / n]).collect(),
        w_type: ElemType::I8,
        w_zero: 0,
        w_zero_columns: None,
        a_type: a.dtype,
        a_zero: a.zero,
        output: LayerOutput::Requant { params, out, mode, clamp: clamp(act, &out) },
    })
}

fn conv(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Lowered, String> {
    let o = op.builtin_options_as_conv_2_doptions().ok_or("CONV_2D without Conv2DOptions")?;
    let [x, w, rest @ ..] = ins else { return Err("CONV_2D takes an input and a filter".into()) };
    let &[_, kh, kw, c] = w.shape.as_slice() else {
        return Err(format!("the filter {:?} is not [O, kh, kw, I]", w.shape));
    };
    let g = geometry(
        &x.shape,
        [kh, kw],
        [o.stride_h(), o.stride_w()],
        [o.dilation_h_factor(), o.dilation_w_factor()],
        o.padding() == tflite::Padding::SAME,
    )?;
    if g.channels != c {
        return Err(format!(
            "the input has {} channels, the filter {c} (grouped convolutions are not supported)",
            g.channels
        ));
    }
    let (a, y) = (x.affine()?, out.affine()?);
    // The reference convolution rescales its int32 accumulators with double rounding.
    let act = activation(o.fused_activation_function())?;
    let layer =
        tflite_layer(&out.name, x, w, rest.first().copied(), Rescale { out: y, act, mode: RequantMode::Fixed }, |s| {
            tflite_per_channel_scale(a.scale, s, y.scale)
        })?;
    Ok((vec![x.name.clone()], OpKind::Conv { geometry: g, layer }))
}

fn depthwise(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Lowered, String> {
    let o = op.builtin_options_as_depthwise_conv_2_doptions().ok_or("DEPTHWISE_CONV_2D without its options")?;
    let [x, w, rest @ ..] = ins else { return Err("DEPTHWISE_CONV_2D takes an input and a filter".into()) };
    let &[1, kh, kw, channels] = w.shape.as_slice() else {
        return Err(format!("the filter {:?} is not [1, kh, kw, C * multiplier]", w.shape));
    };
    let g = geometry(
        &x.shape,
        [kh, kw],
        [o.stride_h(), o.stride_w()],
        [o.dilation_h_factor(), o.dilation_w_factor()],
        o.padding() == tflite::Padding::SAME,
    )?;
    if g.channels == 0 || channels % g.channels != 0 {
        return Err(format!("{channels} filter channels for {} input channels", g.channels));
    }
    let (a, y) = (x.affine()?, out.affine()?);
    let (weights, params) =
        fixed_point_channels(w, rest.first().copied(), channels, |s| tflite_per_channel_scale(a.scale, s, y.scale))?;
    let layer = DepthwiseLayer {
        window: g.window,
        multiplier: channels / g.channels,
        weights,
        a_zero: a.zero,
        params,
        out: y,
        clamp: clamp(activation(o.fused_activation_function())?, &y),
    };
    Ok((vec![x.name.clone()], OpKind::Depthwise(layer)))
}

fn fully_connected(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Lowered, String> {
    let o = op.builtin_options_as_fully_connected_options().ok_or("FULLY_CONNECTED without its options")?;
    let [x, w, rest @ ..] = ins else { return Err("FULLY_CONNECTED takes an input and weights".into()) };
    if x.shape.last() != w.shape.get(1) || o.keep_num_dims() {
        return Err(format!("input {:?} and weights {:?}: a [batch, K] input is supported", x.shape, w.shape));
    }
    let (a, y) = (x.affine()?, out.affine()?);
    // The reference fully-connected kernel rescales through the int64 overload of
    // `MultiplyByQuantizedMultiplier`, which rounds once.
    let act = activation(o.fused_activation_function())?;
    let layer = tflite_layer(
        &out.name,
        x,
        w,
        rest.first().copied(),
        Rescale { out: y, act, mode: RequantMode::FixedSingle },
        |s| {
            if w.scales.len() == 1 {
                tflite_per_tensor_scale(a.scale, s, y.scale)
            } else {
                tflite_per_channel_scale(a.scale, s, y.scale)
            }
        },
    )?;
    Ok((vec![x.name.clone()], OpKind::Gemm(layer)))
}

fn add(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Lowered, String> {
    let o = op.builtin_options_as_add_options().ok_or("ADD without AddOptions")?;
    let [a, b] = ins else { return Err("ADD takes two inputs".into()) };
    let y = out.affine()?;
    let arith = HostArith::TfliteAdd {
        inputs: [a.affine()?, b.affine()?],
        out: y,
        clamp: clamp(activation(o.fused_activation_function())?, &y),
    };
    Ok((vec![a.name.clone(), b.name.clone()], OpKind::Host { op: HostOp::Add, arith }))
}

fn pool(op: &tflite::Operator, max: bool, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Lowered, String> {
    let o = op.builtin_options_as_pool_2_doptions().ok_or("pooling without Pool2DOptions")?;
    let [x] = ins else { return Err("pooling takes one input".into()) };
    let (a, y) = (x.affine()?, out.affine()?);
    if (a.scale, a.zero) != (y.scale, y.zero) {
        return Err("the input and output quantization must be equal".into());
    }
    let size = |v: i32| usize::try_from(v).ok().filter(|&v| v > 0).ok_or(format!("filter size {v} must be positive"));
    let g = geometry(
        &x.shape,
        [size(o.filter_height())?, size(o.filter_width())?],
        [o.stride_h(), o.stride_w()],
        [1, 1],
        o.padding() == tflite::Padding::SAME,
    )?;
    let host = if max { HostOp::MaxPool(g.window) } else { HostOp::AvgPool(g.window) };
    let arith = HostArith::Integer { clamp: Some(clamp(activation(o.fused_activation_function())?, &y)) };
    Ok((vec![x.name.clone()], OpKind::Host { op: host, arith }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_operator_has_its_name() {
        assert_eq!(op_name(Builtin::HARD_SWISH, None), "HARD_SWISH");
        assert_eq!(op_name(Builtin::RESIZE_NEAREST_NEIGHBOR, None), "RESIZE_NEAREST_NEIGHBOR");
        assert_eq!(op_name(Builtin(39), None), "TRANSPOSE");
        assert_eq!(
            op_name(Builtin::CUSTOM, Some("TFLite_Detection_PostProcess")),
            "CUSTOM(TFLite_Detection_PostProcess)"
        );
        assert_eq!(op_name(Builtin(100_000), None), "builtin operator 100000");
        assert!((Builtin::ENUM_MIN..=Builtin::ENUM_MAX).all(|c| Builtin(c).variant_name().is_some()));
    }
}
