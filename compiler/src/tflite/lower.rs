//! The operators of a TFLite subgraph, in order, as program operations.

mod grouped;
mod transpose_conv;

use super::movement;
use super::schema_generated::tflite::{self, BuiltinOperator as Builtin};
use super::shape_fold::{resolve_target, ShapeFold};
use crate::program::{
    Affine, ConstValue, ConvGeometry, DepthwiseLayer, GemmLayer, HostArith, HostOp, LayerOutput, MeanArith, Op, OpKind,
    Program, ProgramInput, SpatialMean, Window,
};
use crate::reduce::{Reduce, ReduceOp};
use crate::tensor::ElemType;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
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
#[derive(Clone)]
pub(super) struct TensorInfo<'t> {
    pub(super) name: String,
    pub(super) dtype: Option<ElemType>,
    pub(super) shape: Vec<usize>,
    /// Decoded constant values (biases, shapes, and tensors the importer builds); see
    /// [`TensorInfo::values`].
    pub(super) data: Option<Vec<i64>>,
    /// An 8-bit constant's bytes (weights), borrowed from the file: decoded when read,
    /// a layer's weights straight into the layer's order ([`WeightValues`]).
    raw: Option<&'t [u8]>,
    /// The tensor has a buffer: a constant, not a value computed at run time.
    pub(super) constant: bool,
    /// Its shape signature has an unknown (`-1`) dimension: the declared shape is the
    /// converter's placeholder, corrected by shape inference as the graph lowers.
    pub(super) dynamic: bool,
    scales: Vec<f32>,
    zeros: Vec<i64>,
}

impl TensorInfo<'_> {
    /// The constant's values, if it has a buffer (and is not a float constant).
    pub(super) fn values(&self) -> Option<Cow<'_, [i64]>> {
        match (&self.data, self.raw) {
            (Some(d), _) => Some(Cow::Borrowed(d)),
            (None, Some(raw)) => decode(raw, self.dtype).map(Cow::Owned),
            (None, None) => None,
        }
    }

    /// Per-tensor quantization of an int8 or uint8 activation.
    pub(super) fn affine(&self) -> Result<Affine, String> {
        self.affine_of(&[ElemType::I8, ElemType::U8])
    }

    /// Per-tensor quantization onto one of `types`.
    fn affine_of(&self, types: &[ElemType]) -> Result<Affine, String> {
        match (self.scales.as_slice(), self.zeros.as_slice(), self.dtype) {
            ([scale], [zero], Some(dtype)) if types.contains(&dtype) => {
                Ok(Affine { scale: *scale, zero: *zero, dtype, half_scale: false })
            }
            (_, _, Some(dtype)) if types.contains(&dtype) => {
                Err(format!("tensor `{}` needs one scale and zero point", self.name))
            }
            _ => Err(format!(
                "tensor `{}` is {}; {} activations are supported",
                self.name,
                self.dtype.map_or("an unknown type".into(), |t| t.to_string()),
                types.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ")
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
    let mut tensors: Vec<TensorInfo> = subgraph
        .tensors()
        .ok_or("the subgraph has no tensors")?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let dtype = elem_type(t.type_());
            // Buffer 0 is the empty sentinel; activations have empty buffers.
            let index = t.buffer() as usize;
            let bytes = buffers
                .filter(|b| index > 0 && index < b.len())
                .and_then(|b| b.get(index).data())
                .filter(|d| !d.is_empty());
            // Float constants (a float model's weights and biases) stay undecoded: the
            // operators reading them compute on float values, which are refused. 8-bit
            // ones stay bytes until read.
            let bytes8 = matches!(dtype, Some(ElemType::I8 | ElemType::U8));
            let raw = bytes.filter(|_| bytes8).map(|d| d.bytes());
            let data = bytes
                .filter(|_| !bytes8 && !matches!(dtype, Some(ElemType::F32 | ElemType::F16)))
                .map(|d| decode(d.bytes(), dtype).ok_or(format!("tensor {i}: constant of an unsupported type")))
                .transpose()?;
            let shape: Vec<usize> = t.shape().map_or_else(Vec::new, |s| s.iter().map(|d| d.max(1) as usize).collect());
            let count = data.as_ref().map(Vec::len).or(raw.map(<[u8]>::len));
            if let Some(count) = count.filter(|&c| c != shape.iter().product::<usize>()) {
                return Err(format!("tensor {i}: {count} values for shape {shape:?}"));
            }
            let q = t.quantization();
            let dynamic = t.shape_signature().is_some_and(|s| s.iter().any(|d| d < 0));
            Ok(TensorInfo {
                name: t.name().map_or_else(|| format!("tensor{i}"), str::to_string),
                dtype,
                shape,
                data,
                raw,
                constant: bytes.is_some(),
                dynamic,
                scales: q.and_then(|q| q.scale()).map_or_else(Vec::new, |s| s.iter().collect()),
                zeros: q.and_then(|q| q.zero_point()).map_or_else(Vec::new, |z| z.iter().collect()),
            })
        })
        .collect::<Result<_, String>>()?;
    let by_name: HashMap<String, usize> = tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
    let mut program = Program::default();
    for &i in subgraph.inputs().ok_or("the subgraph has no inputs")?.iter().collect::<Vec<_>>().iter() {
        let t = tensor(&tensors, i)?;
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
    let operators: Vec<tflite::Operator> =
        subgraph.operators().ok_or("the subgraph has no operators")?.iter().collect();
    let graph_outputs: Vec<i32> = subgraph.outputs().ok_or("the subgraph has no outputs")?.iter().collect();
    let conv_only = sole_convolution_inputs(&operators, &codes, &graph_outputs);
    let shape_only = movement::shape_only(&operators, &codes, &graph_outputs);
    // PADs that the convolution reading them absorbs, by output tensor.
    let mut folds: HashMap<i32, Fold> = HashMap::new();
    let mut shape_fold = ShapeFold::default();
    let islands = super::island::float_islands(&operators, &codes, &tensors, &graph_outputs);
    let absorbed: HashSet<usize> = islands.values().flat_map(|i| i.absorbed.iter().copied()).collect();
    // The shape of every value lowered so far (inferred, not declared).
    let mut shapes: HashMap<String, Vec<usize>> =
        program.inputs.iter().map(|i| (i.name.clone(), i.shape.iter().map(|d| d.unwrap_or(1)).collect())).collect();
    for (index, op) in operators.iter().enumerate() {
        let (code, custom) =
            codes.get(op.opcode_index() as usize).ok_or(format!("operator {index}: bad opcode index"))?;
        let code = *code;
        let name = format!("{}#{index}", op_name(code, custom.as_deref()));
        let context = |e: String| format!("operator `{name}`: {e}");
        let inputs: Vec<i32> = op.inputs().map_or_else(Vec::new, |v| v.iter().collect());
        let outputs: Vec<i32> = op.outputs().map_or_else(Vec::new, |v| v.iter().collect());
        if absorbed.contains(&index) {
            continue;
        }
        if !outputs.is_empty() && outputs.iter().all(|o| shape_only.contains(o)) {
            shape_fold.eval(code, op, &inputs, &outputs, &tensors);
            continue;
        }
        let out_index = match outputs[..] {
            [o] => o,
            [o, ..] if movement::multi_output(code) => o,
            _ => return Err(context("one output is supported".into())),
        };
        let out = tensor(&tensors, out_index).map_err(context)?;
        let outs: Vec<&TensorInfo> =
            outputs.iter().map(|&o| tensor(&tensors, o)).collect::<Result<_, _>>().map_err(context)?;
        let ins: Vec<&TensorInfo> = inputs
            .iter()
            .filter(|&&i| i >= 0)
            .map(|&i| tensor(&tensors, i))
            .collect::<Result<_, _>>()
            .map_err(context)?;
        let fold = inputs
            .first()
            .and_then(|i| folds.get(i))
            .filter(|_| matches!(code, Builtin::CONV_2D | Builtin::DEPTHWISE_CONV_2D))
            .cloned();
        let float_value = ins.iter().find(|t| !t.constant && matches!(t.dtype, Some(ElemType::F32 | ElemType::F16)));
        if let (Some(t), false) = (float_value, matches!(code, Builtin::QUANTIZE | Builtin::DEQUANTIZE)) {
            return Err(context(format!(
                "computes on the float value `{}`: a float, float16 or dynamic-range quantized model; Tessera runs \
                 full-integer models (convert with a representative dataset and TFLITE_BUILTINS_INT8)",
                t.name
            )));
        }
        let one = |lowered: Result<Part, String>| lowered.map(|p| vec![p]);
        let parts = match code {
            Builtin::CONV_2D => one(conv(op, &ins, out, fold.as_ref())),
            Builtin::DEPTHWISE_CONV_2D => one(depthwise(op, &ins, out, fold.as_ref())),
            Builtin::TRANSPOSE_CONV => transpose_conv::transpose_conv(op, &ins, out),
            Builtin::SOFTMAX => one(softmax(op, &ins, out)),
            Builtin::QUANTIZE => one(quantize(&ins, out)),
            Builtin::DEQUANTIZE if islands.contains_key(&index) => {
                let island = &islands[&index];
                let quantized = tensor(&tensors, island.output).map_err(context)?;
                let steps: Vec<&str> = island.ops.iter().map(|c| c.variant_name().unwrap_or("?")).collect();
                let label = format!("DEQUANTIZE, {}, QUANTIZE (float island)", steps.join(", "));
                let table = super::unary::float_island(&label, ins[0], &island.ops, quantized).map_err(context)?;
                let dtype = quantized.dtype.ok_or_else(|| context("an unsupported output type".into()))?;
                Ok(vec![Part {
                    inputs: vec![ins[0].name.clone()],
                    kind: OpKind::ByteTable(table),
                    output: Some((quantized.name.clone(), dtype)),
                }])
            }
            Builtin::DEQUANTIZE if out.dtype == Some(ElemType::F32) => {
                let [x] = ins.as_slice() else { return Err(context("DEQUANTIZE takes one input".into())) };
                Ok(vec![Part::new(vec![x.name.clone()], OpKind::TfliteDequantize(x.affine().map_err(context)?))])
            }
            Builtin::FULLY_CONNECTED => fully_connected(op, &ins, out),
            Builtin::ADD => one(add(op, &ins, out)),
            Builtin::MAX_POOL_2D | Builtin::AVERAGE_POOL_2D => one(pool(op, code == Builtin::MAX_POOL_2D, &ins, out)),
            Builtin::MEAN | Builtin::REDUCE_MAX | Builtin::REDUCE_MIN => {
                let keep_dims = op.builtin_options_as_reducer_options().is_some_and(|o| o.keep_dims());
                one(reduce(code, keep_dims, &ins, out))
            }
            _ if super::unary::is_unary(code) => match ins.as_slice() {
                [x] => super::unary::table(code, &op_name(code, None), op, x, out)
                    .map(|t| vec![Part::new(vec![x.name.clone()], OpKind::ByteTable(t))]),
                _ => Err("takes one input".into()),
            },
            _ if super::binary::is_binary(code) => super::binary::binary(code, op, &ins, out).map(|kind| {
                let inputs = match &kind {
                    OpKind::ByteTable(_) => vec![ins[0].name.clone()],
                    _ => ins.iter().map(|t| t.name.clone()).collect(),
                };
                vec![Part::new(inputs, kind)]
            }),
            Builtin::RESHAPE if !ins.is_empty() => {
                let target = inputs.get(1).and_then(|&i| shape_fold.value(i, &tensors));
                reshape_target(ins[0], target.as_ref().map(|t| t.values.as_slice()), out).map(|shape| {
                    vec![Part::new(
                        vec![ins[0].name.clone()],
                        OpKind::Host {
                            op: HostOp::Reshape { shape: shape.iter().map(|&d| d as i64).collect() },
                            arith: HostArith::Integer { clamp: None },
                        },
                    )]
                })
            }
            Builtin::PAD | Builtin::PADV2 => pad(&ins, out).map(|(pads, value)| {
                // Absorbed by the convolution that alone reads it, when it pads only the
                // image with the zero point (what the convolution's own padding does).
                let spatial = pads.len() == 4 && pads[0] == [0, 0] && pads[3] == [0, 0];
                if conv_only.contains(&out_index) && spatial && Some(value) == ins[0].zeros.first().copied() {
                    let pads = [pads[1][0], pads[2][0], pads[1][1], pads[2][1]];
                    folds.insert(out_index, Fold { input: ins[0].name.clone(), pads, node: name.clone() });
                    return Vec::new();
                }
                let kind = OpKind::Host { op: HostOp::Pad { pads, value }, arith: HostArith::Integer { clamp: None } };
                vec![Part::new(vec![ins[0].name.clone()], kind)]
            }),
            _ if movement::handles(code) => movement::lower(code, op, &ins, &outs),
            _ => Err("not supported (no accelerator or host lowering for this TFLite operator)".into()),
        }
        .map_err(context)?;
        let source = match &fold {
            Some(f) => format!("{} + PAD ({})", op_name(code, None), f.node),
            None => op_name(code, custom.as_deref()),
        };
        let mut written = Vec::new();
        for part in parts {
            for t in &ins {
                // (Weights that a layer holds are not decoded again.)
                if !part.inputs.contains(&t.name) {
                    continue;
                }
                if let Some(values) = t.values() {
                    program
                        .constants
                        .insert(t.name.clone(), ConstValue { shape: t.shape.clone(), values: values.into_owned() });
                }
            }
            let (output, out_type) = match part.output {
                Some(o) => o,
                None => {
                    (out.name.clone(), out.dtype.ok_or_else(|| context("the output has an unsupported type".into()))?)
                }
            };
            let op = Op {
                node: name.clone(),
                source: source.clone(),
                inputs: part.inputs,
                output,
                out_type,
                kind: part.kind,
            };
            let known = |v: &String| shapes.get(v).or_else(|| by_name.get(v).map(|&i| &tensors[i].shape));
            let in_shapes: Option<Vec<&[usize]>> = op.inputs.iter().map(|v| known(v).map(Vec::as_slice)).collect();
            if let Some(shape) = in_shapes.and_then(|s| crate::plan::out_shape(&op, &s).ok()) {
                shapes.insert(op.output.clone(), shape);
            }
            written.push(op.output.clone());
            program.ops.push(op);
        }
        // A dynamic output's declared shape is a placeholder: it takes the inferred one.
        for value in written {
            let Some(&i) = by_name.get(&value) else { continue };
            if let (true, Some(shape)) = (tensors[i].dynamic, shapes.get(&value)) {
                tensors[i].shape = shape.clone();
            }
        }
    }
    for &i in &graph_outputs {
        program.outputs.push(tensor(&tensors, i)?.name.clone());
    }
    Ok(program)
}

/// Tensor `index` of the subgraph.
fn tensor<'a, 't>(tensors: &'a [TensorInfo<'t>], index: i32) -> Result<&'a TensorInfo<'t>, String> {
    usize::try_from(index).ok().and_then(|i| tensors.get(i)).ok_or(format!("tensor index {index} is out of range"))
}

/// A `RESHAPE`'s output shape: its shape input when that is known at compile time (a
/// constant, or shape arithmetic folded by [`ShapeFold`]), else the declared shape —
/// unless that is a dynamic placeholder.
fn reshape_target(x: &TensorInfo, target: Option<&[i64]>, out: &TensorInfo) -> Result<Vec<usize>, String> {
    match target {
        Some(t) => resolve_target(t, x.shape.iter().product()),
        None if out.dynamic => Err(format!(
            "the target shape of `{}` is computed at run time by operators that do not fold to a constant",
            out.name
        )),
        None => Ok(out.shape.clone()),
    }
}

/// The tensors that one operator alone reads, a convolution or depthwise convolution
/// as its input, and that are not graph outputs: where a PAD can become padding.
fn sole_convolution_inputs(
    operators: &[tflite::Operator],
    codes: &[(Builtin, Option<String>)],
    graph_outputs: &[i32],
) -> HashSet<i32> {
    let mut readers: HashMap<i32, usize> = HashMap::new();
    for op in operators {
        for i in op.inputs().iter().flat_map(|v| v.iter()) {
            *readers.entry(i).or_default() += 1;
        }
    }
    operators
        .iter()
        .filter(|op| {
            let code = codes.get(op.opcode_index() as usize).map(|c| c.0);
            matches!(code, Some(Builtin::CONV_2D | Builtin::DEPTHWISE_CONV_2D))
        })
        .filter_map(|op| op.inputs().and_then(|v| v.iter().next()))
        .filter(|t| readers.get(t) == Some(&1) && !graph_outputs.contains(t))
        .collect()
}

/// One program operation of a TFLite operator.
pub(super) struct Part {
    pub(super) inputs: Vec<String>,
    pub(super) kind: OpKind,
    /// The value it writes and its type; `None`: the operator's output.
    pub(super) output: Option<(String, ElemType)>,
}

impl Part {
    pub(super) fn new(inputs: Vec<String>, kind: OpKind) -> Part {
        Part { inputs, kind, output: None }
    }
}

/// A `PAD` the convolution reading its output absorbs into its own padding.
#[derive(Clone)]
struct Fold {
    /// The padded value.
    input: String,
    /// Top, left, bottom, right.
    pads: [usize; 4],
    /// The PAD operator, for reports.
    node: String,
}

pub(super) fn activation(code: tflite::ActivationFunctionType) -> Result<Activation, String> {
    match code {
        tflite::ActivationFunctionType::NONE => Ok(Activation::None),
        tflite::ActivationFunctionType::RELU => Ok(Activation::Relu),
        tflite::ActivationFunctionType::RELU6 => Ok(Activation::Relu6),
        tflite::ActivationFunctionType::RELU_N1_TO_1 => Ok(Activation::ReluN1To1),
        other => Err(format!("fused activation {other:?} is not supported")),
    }
}

/// The output clamp of a fused activation on `out`.
pub(super) fn clamp(act: Activation, out: &Affine) -> (i64, i64) {
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
    let window =
        Window { kernel, pads: [top, left, bottom, right], strides, dilations, channels_last: true, ceil_mode: false };
    Ok(ConvGeometry::new(c, window))
}

/// A layer's constant weights and, per output channel `c` of `n`, its bias and the
/// fixed-point multiplier of `scale_of(weight scale of c)`. int8 weights are symmetric
/// (zero point 0) with one scale or one per output channel; uint8 weights (TF1
/// quantization-aware training, the Coral models) have one scale and one zero point,
/// which the array subtracts.
struct Weights<'t> {
    values: WeightValues<'t>,
    dtype: ElemType,
    zero: i64,
    params: Vec<ParamLane>,
}

/// A layer's weight values, borrowed from the tensor (decoded, or the file's bytes):
/// an ImageNet-scale model's weights are decoded once, into the layer's order.
enum WeightValues<'t> {
    Decoded(&'t [i64]),
    Bytes(&'t [u8], Option<ElemType>),
}

impl WeightValues<'_> {
    fn len(&self) -> usize {
        match self {
            WeightValues::Decoded(v) => v.len(),
            WeightValues::Bytes(b, _) => b.len(),
        }
    }

    /// The `[rows, cols]` row-major values, transposed.
    fn transposed(&self, rows: usize, cols: usize) -> Vec<i64> {
        match *self {
            WeightValues::Decoded(v) => crate::tensor::transposed(v, rows, cols),
            WeightValues::Bytes(b, Some(ElemType::U8)) => {
                crate::tensor::transposed_with(rows, cols, |i| i64::from(b[i]))
            }
            WeightValues::Bytes(b, _) => crate::tensor::transposed_with(rows, cols, |i| i64::from(b[i] as i8)),
        }
    }

    fn to_vec(&self) -> Vec<i64> {
        match *self {
            WeightValues::Decoded(v) => v.to_vec(),
            // 8-bit bytes (`fixed_point_channels` checks the type): `decode` reads them.
            WeightValues::Bytes(b, dtype) => decode(b, dtype).unwrap_or_default(),
        }
    }
}

fn fixed_point_channels<'t>(
    weight: &'t TensorInfo,
    bias: Option<&TensorInfo>,
    n: usize,
    scale_of: impl Fn(f32) -> f64,
) -> Result<Weights<'t>, String> {
    let values = match (&weight.data, weight.raw) {
        (Some(d), _) => WeightValues::Decoded(d),
        (None, Some(raw)) => WeightValues::Bytes(raw, weight.dtype),
        (None, None) => return Err(format!("the weights `{}` must be constant", weight.name)),
    };
    let zero = match (weight.dtype, weight.zeros.as_slice(), weight.scales.len()) {
        (Some(ElemType::I8), zeros, _) if zeros.iter().all(|&z| z == 0) => 0,
        (Some(ElemType::I8), ..) => {
            return Err(format!("the int8 weights `{}` must be symmetric (zero point 0)", weight.name))
        }
        (Some(ElemType::U8), &[zero], 1) if (0..=255).contains(&zero) => zero,
        (Some(ElemType::U8), ..) => {
            return Err(format!("the uint8 weights `{}` need one scale and one zero point", weight.name))
        }
        (other, ..) => {
            let t = other.map_or("an unknown type".into(), |t| t.to_string());
            return Err(format!("the weights `{}` are {t}; int8 and uint8 weights are supported", weight.name));
        }
    };
    if weight.scales.len() != 1 && weight.scales.len() != n {
        return Err(format!("the weights `{}` need one scale or one per output channel", weight.name));
    }
    let biases: Vec<i64> = match bias {
        Some(b) => b
            .values()
            .filter(|v| v.len() == n)
            .ok_or(format!("the bias `{}` must be {n} int32 constants", b.name))?
            .into_owned(),
        None => vec![0; n],
    };
    let params = (0..n)
        .map(|c| {
            let s = weight.scales[if weight.scales.len() == 1 { 0 } else { c }];
            let m = quantize_multiplier(scale_of(s)).ok_or(format!("output channel {c}: no fixed-point multiplier"))?;
            Ok(ParamLane::fixed(biases[c] as i32, m))
        })
        .collect::<Result<_, String>>()?;
    Ok(Weights { values, dtype: weight.dtype.expect("checked above"), zero, params })
}

/// The real multiplier of a convolution's channel with weight scale `w`: uint8 layers
/// take the legacy per-tensor multiplier (`GetQuantizedConvolutionMultipler`, the
/// input and weight scales multiplied in float32), int8 ones the per-channel one
/// (`PopulateConvolutionQuantizationParams`, in double).
fn conv_scale(a: &Affine, y: &Affine, w: f32) -> f64 {
    if a.dtype == ElemType::U8 {
        tflite_per_tensor_scale(a.scale, w, y.scale)
    } else {
        tflite_per_channel_scale(a.scale, w, y.scale)
    }
}

/// How a layer's accumulators become its outputs.
struct Rescale {
    out: Affine,
    act: Activation,
    mode: RequantMode,
}

/// A GEMM layer with TFLite's fixed-point requantization: `weight` is `[N, K]` (output
/// channels first); `scale_of` maps a weight scale to the effective scale.
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
    let w = fixed_point_channels(weight, bias, n, scale_of)?;
    let k = w.values.len() / n.max(1);
    Ok(GemmLayer {
        node: node.to_string(),
        batches: 1,
        k,
        n,
        // [N, K] -> [K, N]
        weights: w.values.transposed(n, k),
        w_type: w.dtype,
        w_zero: w.zero,
        w_zero_columns: None,
        a_type: a.dtype,
        a_zero: a.zero,
        output: LayerOutput::Requant { params: w.params, out, mode, clamp: clamp(act, &out) },
    })
}

/// The window of a convolution over `x` (the padded tensor when a PAD is folded into
/// it), with the folded PAD's padding added; and the value the convolution reads.
fn conv_window(
    x: &TensorInfo,
    fold: Option<&Fold>,
    kernel: [usize; 2],
    strides: [i32; 2],
    dilations: [i32; 2],
    same: bool,
) -> Result<(ConvGeometry, String), String> {
    let mut g = geometry(&x.shape, kernel, strides, dilations, same)?;
    let Some(fold) = fold else { return Ok((g, x.name.clone())) };
    for (pad, extra) in g.window.pads.iter_mut().zip(fold.pads) {
        *pad += extra;
    }
    Ok((g, fold.input.clone()))
}

fn conv(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo, fold: Option<&Fold>) -> Result<Part, String> {
    let o = op.builtin_options_as_conv_2_doptions().ok_or("CONV_2D without Conv2DOptions")?;
    let [x, w, rest @ ..] = ins else { return Err("CONV_2D takes an input and a filter".into()) };
    let &[_, kh, kw, c] = w.shape.as_slice() else {
        return Err(format!("the filter {:?} is not [O, kh, kw, I]", w.shape));
    };
    let (mut g, input) = conv_window(
        x,
        fold,
        [kh, kw],
        [o.stride_h(), o.stride_w()],
        [o.dilation_h_factor(), o.dilation_w_factor()],
        o.padding() == tflite::Padding::SAME,
    )?;
    let full = if g.channels == c { None } else { Some(grouped::block_diagonal(w, g.channels)?) };
    if full.is_some() {
        g.groups = g.channels / c;
    }
    let w = full.as_ref().unwrap_or(w);
    let (a, y) = (x.affine()?, out.affine()?);
    // The reference convolution rescales its int32 accumulators with double rounding.
    let act = activation(o.fused_activation_function())?;
    let layer =
        tflite_layer(&out.name, x, w, rest.first().copied(), Rescale { out: y, act, mode: RequantMode::Fixed }, |s| {
            conv_scale(&a, &y, s)
        })?;
    Ok(Part::new(vec![input], OpKind::Conv { geometry: g, layer }))
}

fn depthwise(
    op: &tflite::Operator,
    ins: &[&TensorInfo],
    out: &TensorInfo,
    fold: Option<&Fold>,
) -> Result<Part, String> {
    let o = op.builtin_options_as_depthwise_conv_2_doptions().ok_or("DEPTHWISE_CONV_2D without its options")?;
    let [x, w, rest @ ..] = ins else { return Err("DEPTHWISE_CONV_2D takes an input and a filter".into()) };
    let &[1, kh, kw, channels] = w.shape.as_slice() else {
        return Err(format!("the filter {:?} is not [1, kh, kw, C * multiplier]", w.shape));
    };
    let (g, input) = conv_window(
        x,
        fold,
        [kh, kw],
        [o.stride_h(), o.stride_w()],
        [o.dilation_h_factor(), o.dilation_w_factor()],
        o.padding() == tflite::Padding::SAME,
    )?;
    if g.channels == 0 || channels % g.channels != 0 {
        return Err(format!("{channels} filter channels for {} input channels", g.channels));
    }
    let (a, y) = (x.affine()?, out.affine()?);
    let weights = fixed_point_channels(w, rest.first().copied(), channels, |s| conv_scale(&a, &y, s))?;
    let layer = DepthwiseLayer {
        window: g.window,
        multiplier: channels / g.channels,
        weights: weights.values.to_vec(),
        w_zero: weights.zero,
        a_zero: a.zero,
        params: weights.params,
        mode: RequantMode::Fixed,
        out: y,
        clamp: clamp(activation(o.fused_activation_function())?, &y),
    };
    Ok(Part::new(vec![input], OpKind::Depthwise(layer)))
}

/// `FULLY_CONNECTED`: TFLite multiplies `[numel / K, K]` rows of any input. The rows
/// stay under the input's leading (batch) dimension: an input whose last dimension is
/// not `K` (or that flattens to one row per sample) is first reshaped (free) to
/// `[batch, K]` or `[batch, rows per sample, K]`; an `[1, r, K]` input's `[r, N]`
/// output (`keep_num_dims` false) is kept as `[1, r, N]`, the same values in the same
/// order.
fn fully_connected(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Vec<Part>, String> {
    let o = op.builtin_options_as_fully_connected_options().ok_or("FULLY_CONNECTED without its options")?;
    let [x, w, rest @ ..] = ins else { return Err("FULLY_CONNECTED takes an input and weights".into()) };
    let &[n, k] = w.shape.as_slice() else { return Err(format!("the weights {:?} are not [N, K]", w.shape)) };
    let numel: usize = x.shape.iter().product();
    if k == 0 || !numel.is_multiple_of(k) {
        return Err(format!("an input of {:?} does not divide into rows of the weights' {k} features", x.shape));
    }
    let rows = numel / k;
    // The leading dimension is the batch when the rows divide among it (an input that
    // is itself a flattened row count, e.g. another FULLY_CONNECTED's [r, N], is one
    // sample).
    let batch = x.shape.first().copied().filter(|&b| b > 0 && rows.is_multiple_of(b)).unwrap_or(1);
    if o.keep_num_dims() && x.shape.last() != Some(&k) {
        return Err(format!("keep_num_dims with an input {:?} whose last dimension is not {k}", x.shape));
    }
    if !out.dynamic && out.shape.iter().product::<usize>() != rows * n {
        return Err(format!("the output {:?} does not hold {rows} rows of {n}", out.shape));
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
    let per_sample = rows / batch;
    let flat = !o.keep_num_dims() && per_sample == 1 && x.shape.len() > 2;
    if x.shape.last() == Some(&k) && !flat {
        return Ok(vec![Part::new(vec![x.name.clone()], OpKind::Gemm(layer))]);
    }
    let shape = if per_sample == 1 { vec![batch, k] } else { vec![batch, per_sample, k] };
    let rows_name = format!("{}/rows", x.name);
    let reshape = Part {
        inputs: vec![x.name.clone()],
        kind: OpKind::Host {
            op: HostOp::Reshape { shape: shape.iter().map(|&d| d as i64).collect() },
            arith: HostArith::Integer { clamp: None },
        },
        output: Some((rows_name.clone(), a.dtype)),
    };
    Ok(vec![reshape, Part::new(vec![rows_name], OpKind::Gemm(layer))])
}

fn add(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Part, String> {
    let o = op.builtin_options_as_add_options().ok_or("ADD without AddOptions")?;
    let [a, b] = ins else { return Err("ADD takes two inputs".into()) };
    let y = out.affine()?;
    let arith = HostArith::TfliteAdd {
        inputs: [a.affine()?, b.affine()?],
        out: y,
        clamp: clamp(activation(o.fused_activation_function())?, &y),
    };
    Ok(Part::new(vec![a.name.clone(), b.name.clone()], OpKind::Host { op: HostOp::Add, arith }))
}

fn pool(op: &tflite::Operator, max: bool, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Part, String> {
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
    Ok(Part::new(vec![x.name.clone()], OpKind::Host { op: host, arith }))
}

/// int8 or uint8 `MEAN` of a 4-D NHWC value over its height and width (axes [1, 2]
/// in either order, or [-3, -2]): global average pooling, Keras'
/// `GlobalAveragePooling2D`. `keep_dims` shows in the output's rank (the reduced axes
/// kept as 1s or dropped); the arithmetic is the same.
/// `MEAN`, `REDUCE_MAX` or `REDUCE_MIN` over constant axes: the mean of a 4-D
/// NHWC image over [1, 2] is the accelerator's global average pool
/// ([`SpatialMean`]); every other reduction a host [`Reduce`].
fn reduce(code: Builtin, keep_dims: bool, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Part, String> {
    let [x, axes] = ins else { return Err("a reduction takes an input and its axes".into()) };
    let input = x.affine_of(&[ElemType::I8, ElemType::U8])?;
    let y = out.affine()?;
    if input.dtype != y.dtype {
        return Err(format!("a {} input with a {} output is not supported", input.dtype, y.dtype));
    }
    let rank = x.shape.len();
    let mut resolved = Vec::new();
    for &a in axes.values().ok_or(format!("the axes `{}` must be a constant", axes.name))?.iter() {
        let axis = usize::try_from(if a < 0 { a + rank as i64 } else { a })
            .ok()
            .filter(|&a| a < rank)
            .ok_or(format!("axis {a} is outside the rank-{rank} input `{}`", x.name))?;
        if !resolved.contains(&axis) {
            resolved.push(axis);
        }
    }
    resolved.sort_unstable();
    let op = match code {
        Builtin::MEAN => ReduceOp::Mean,
        Builtin::REDUCE_MAX => ReduceOp::Max,
        _ => ReduceOp::Min,
    };
    let reduction = Reduce { op, axes: resolved, keep_dims, input, out: y };
    let shape = reduction.output_shape(&x.shape)?;
    if !out.dynamic && shape != out.shape {
        return Err(format!("the output shape {:?} is not the reduction of {:?} ({shape:?})", out.shape, x.shape));
    }
    if matches!(op, ReduceOp::Max | ReduceOp::Min) && !reduction.picks_raw_values() {
        return Err(format!("{op:?} needs its input and output quantized alike (as the reference kernel does)"));
    }
    if op == ReduceOp::Mean && rank == 4 && reduction.axes == [1, 2] {
        let mean = SpatialMean { channels_last: true, keep_dims, input, out: y, arith: MeanArith::Tflite };
        return Ok(Part::new(vec![x.name.clone()], OpKind::SpatialMean(mean)));
    }
    Ok(Part::new(vec![x.name.clone()], OpKind::Reduce(reduction)))
}

/// int8 or uint8 `SOFTMAX` over the last dimension.
fn softmax(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Part, String> {
    let [x] = ins else { return Err("SOFTMAX takes one input".into()) };
    let beta = op.builtin_options_as_softmax_options().map_or(1.0, |o| o.beta());
    let (input, y) = (x.affine()?, out.affine()?);
    if input.dtype != y.dtype {
        return Err(format!("a {} input with a {} output is not supported", input.dtype, y.dtype));
    }
    if y.dtype == ElemType::U8 && y.zero != 0 {
        return Err(format!("the uint8 output `{}` must have zero point 0", out.name));
    }
    Ok(Part::new(vec![x.name.clone()], OpKind::TfliteSoftmax { beta, input, out: y }))
}

/// `QUANTIZE` of a float value, or requantization of an int8, uint8 or int16 one to
/// int8 or uint8.
fn quantize(ins: &[&TensorInfo], out: &TensorInfo) -> Result<Part, String> {
    let [x] = ins else { return Err("QUANTIZE takes one input".into()) };
    let y = out.affine()?;
    let kind = if x.dtype == Some(ElemType::F32) {
        OpKind::TfliteQuantize(y)
    } else {
        let input = x.affine_of(&[ElemType::I8, ElemType::U8, ElemType::I16])?;
        if input.dtype == ElemType::I16 && y.dtype != ElemType::I8 {
            return Err("int16 requantizes to int8 only".into());
        }
        if quantize_multiplier(f64::from(input.scale) / f64::from(y.scale)).is_none() {
            return Err(format!("the scales of `{}` and `{}` give no fixed-point multiplier", x.name, out.name));
        }
        OpKind::TfliteRequantize { input, out: y }
    };
    Ok(Part::new(vec![x.name.clone()], kind))
}

/// The (before, after) padding per dimension of `PAD` / `PADV2` and the value it pads
/// with: the output's zero point, or PADV2's constant.
fn pad(ins: &[&TensorInfo], out: &TensorInfo) -> Result<(Vec<[usize; 2]>, i64), String> {
    let (x, paddings, constant) = match ins {
        [x, p] => (x, p, None),
        [x, p, c] => (x, p, Some(c)),
        _ => return Err("PAD takes an input and paddings (and PADV2 a constant)".into()),
    };
    let (a, y) = (x.affine()?, out.affine()?);
    if (a.scale, a.zero) != (y.scale, y.zero) {
        return Err("the input and output quantization must be equal".into());
    }
    let values = paddings.values().ok_or(format!("the paddings `{}` must be constant", paddings.name))?;
    if paddings.shape != [x.shape.len(), 2] || values.iter().any(|&v| v < 0) {
        return Err(format!("the paddings `{}` must be [{}, 2] non-negative values", paddings.name, x.shape.len()));
    }
    let pads: Vec<[usize; 2]> = values.chunks(2).map(|p| [p[0] as usize, p[1] as usize]).collect();
    if pads.first().is_some_and(|p| *p != [0, 0]) {
        return Err("padding the batch dimension is not supported".into());
    }
    let value = match constant {
        None => y.zero,
        Some(c) => match (c.values().as_deref(), c.affine()) {
            (Some(&[v]), Ok(q)) if (q.scale, q.zero) == (y.scale, y.zero) => v,
            _ => return Err(format!("the constant `{}` must be one value quantized as the output", c.name)),
        },
    };
    Ok((pads, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(
        name: &str,
        dtype: ElemType,
        shape: &[usize],
        data: Option<Vec<i64>>,
        q: (&[f32], &[i64]),
    ) -> TensorInfo<'static> {
        TensorInfo {
            name: name.into(),
            dtype: Some(dtype),
            shape: shape.to_vec(),
            constant: data.is_some(),
            dynamic: false,
            data,
            raw: None,
            scales: q.0.to_vec(),
            zeros: q.1.to_vec(),
        }
    }

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

    #[test]
    fn uint8_weights_keep_their_zero_point_and_bad_weights_are_named() {
        let w = tensor("w", ElemType::U8, &[2, 3], Some(vec![0, 1, 2, 250, 251, 252]), (&[0.01], &[121]));
        let got = fixed_point_channels(&w, None, 2, f64::from).unwrap();
        assert_eq!((got.dtype, got.zero, got.params.len()), (ElemType::U8, 121, 2));
        // uint8 weights have one zero point; int8 ones are symmetric.
        let per_channel = TensorInfo { zeros: vec![121, 122], scales: vec![0.01, 0.02], ..w };
        let err = fixed_point_channels(&per_channel, None, 2, f64::from).err().unwrap();
        assert!(err.contains("uint8 weights `w` need one scale and one zero point"), "{err}");
        let asymmetric = tensor("w8", ElemType::I8, &[2, 3], Some(vec![0; 6]), (&[0.01], &[3]));
        let err = fixed_point_channels(&asymmetric, None, 2, f64::from).err().unwrap();
        assert!(err.contains("int8 weights `w8` must be symmetric"), "{err}");
        let int16 = tensor("w16", ElemType::I16, &[2, 3], Some(vec![0; 6]), (&[0.01], &[0]));
        let err = fixed_point_channels(&int16, None, 2, f64::from).err().unwrap();
        assert!(err.contains("weights `w16` are int16"), "{err}");
    }

    #[test]
    fn quantize_requantizes_bytes_and_int16_and_refuses_the_rest() {
        let q = |dtype, zero| tensor("t", dtype, &[1, 4], None, (&[0.5], &[zero]));
        let out = tensor("y", ElemType::I8, &[1, 4], None, (&[0.25], &[-3]));
        for (dtype, zero) in [(ElemType::U8, 128), (ElemType::I8, 0), (ElemType::I16, 0)] {
            let part = quantize(&[&q(dtype, zero)], &out).unwrap();
            assert!(
                matches!(part.kind, OpKind::TfliteRequantize { input, .. } if input.dtype == dtype && input.zero == zero)
            );
        }
        let to_u8 = tensor("y8", ElemType::U8, &[1, 4], None, (&[0.25], &[3]));
        assert_eq!(quantize(&[&q(ElemType::I16, 0)], &to_u8).err().unwrap(), "int16 requantizes to int8 only");
        let err = quantize(&[&q(ElemType::I32, 0)], &out).err().unwrap();
        assert!(err.contains("tensor `t` is int32"), "{err}");
    }

    #[test]
    fn pad_reads_constant_paddings_and_refuses_the_batch() {
        let x = tensor("x", ElemType::U8, &[1, 4, 4, 2], None, (&[0.1], &[7]));
        let y = tensor("y", ElemType::U8, &[1, 5, 6, 2], None, (&[0.1], &[7]));
        let p = |values: Vec<i64>| tensor("p", ElemType::I32, &[4, 2], Some(values), (&[], &[]));
        let (pads, value) = pad(&[&x, &p(vec![0, 0, 1, 0, 1, 1, 0, 0])], &y).unwrap();
        assert_eq!((pads, value), (vec![[0, 0], [1, 0], [1, 1], [0, 0]], 7));
        let c = tensor("c", ElemType::U8, &[], Some(vec![9]), (&[0.1], &[7]));
        assert_eq!(pad(&[&x, &p(vec![0; 8]), &c], &y).unwrap().1, 9);
        assert_eq!(
            pad(&[&x, &p(vec![1, 0, 0, 0, 0, 0, 0, 0])], &y).err().unwrap(),
            "padding the batch dimension is not supported"
        );
        let err = pad(&[&x, &p(vec![0, 0, -1, 0, 0, 0, 0, 0])], &y).err().unwrap();
        assert!(err.contains("paddings `p` must be [4, 2] non-negative values"), "{err}");
        let moved = tensor("y", ElemType::U8, &[1, 5, 6, 2], None, (&[0.2], &[7]));
        assert!(pad(&[&x, &p(vec![0; 8])], &moved).is_err());
    }

    #[test]
    fn a_spatial_mean_is_the_global_pool_and_other_reductions_run_on_the_host() {
        let x = tensor("x", ElemType::I8, &[1, 7, 7, 16], None, (&[0.05], &[-3]));
        let y = |shape: &[usize]| tensor("y", ElemType::I8, shape, None, (&[0.01], &[4]));
        let axes = |values: Vec<i64>| tensor("axes", ElemType::I32, &[values.len()], Some(values), (&[], &[]));
        let mean = |keep, ins: &[&TensorInfo], out: &TensorInfo| reduce(Builtin::MEAN, keep, ins, out);
        let spatial = |part: Part| match part.kind {
            OpKind::SpatialMean(m) => m,
            other => panic!("{other:?}"),
        };
        let m = spatial(mean(false, &[&x, &axes(vec![1, 2])], &y(&[1, 16])).unwrap());
        assert!(!m.keep_dims && m.channels_last && m.arith == MeanArith::Tflite && m.input.zero == -3);
        assert!(spatial(mean(true, &[&x, &axes(vec![-2, -3])], &y(&[1, 1, 1, 16])).unwrap()).keep_dims);
        // The channel axis (LayerNorm's statistics): a host reduction.
        match mean(true, &[&x, &axes(vec![-1])], &y(&[1, 7, 7, 1])).unwrap().kind {
            OpKind::Reduce(r) => assert!(r.axes == [3] && r.keep_dims && r.op == ReduceOp::Mean),
            other => panic!("{other:?}"),
        }
        let err = mean(false, &[&x, &axes(vec![1, 2])], &y(&[1, 8])).err().unwrap();
        assert!(err.contains("the output shape [1, 8]"), "{err}");
        let err = mean(false, &[&x, &axes(vec![4])], &y(&[1, 8])).err().unwrap();
        assert!(err.contains("axis 4 is outside the rank-4 input `x`"), "{err}");
        let dynamic = tensor("axes", ElemType::I32, &[2], None, (&[], &[]));
        assert!(mean(false, &[&x, &dynamic], &y(&[1, 16])).err().unwrap().contains("`axes` must be a constant"));
        let u8_out = tensor("y", ElemType::U8, &[1, 16], None, (&[0.01], &[4]));
        assert!(mean(false, &[&x, &axes(vec![1, 2])], &u8_out).is_err());
        // Extrema pick raw values: the output must be quantized as the input.
        let err = reduce(Builtin::REDUCE_MAX, false, &[&x, &axes(vec![3])], &y(&[1, 7, 7])).err().unwrap();
        assert!(err.contains("quantized alike"), "{err}");
    }
}
