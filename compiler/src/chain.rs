//! Lowering of a chain of quantized layers (onnxruntime `quantize_static` output for
//! MLPs, in QDQ or QOperator form, and single quantized nodes) to a list of steps:
//! quantize a float input on the host, then per layer an accelerator GEMM (`MatMul`
//! between `DequantizeLinear`s and a `QuantizeLinear`, `QLinearMatMul` with float
//! requantization, or `MatMulInteger` with raw int32 output; `QLinearConv` and
//! `ConvInteger` as im2col on the host and a GEMM), the bias add with its
//! requantization on the host (`Add` between Q/DQ, or `com.microsoft.QLinearAdd`), and
//! at the end `DequantizeLinear` to a float output or the integer value itself.
//!
//! Only single-path chains are handled: every value has one consumer. Anything else
//! is reported by node name and op.

use crate::graph::{Graph, Node};
use crate::tensor::{ElemType, Tensor};
use tessera_isa::quant::ParamLane;

/// A per-tensor affine quantization `real = (q - zero) * scale` onto `dtype`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub scale: f32,
    pub zero: i64,
    /// `I8` or `U8`.
    pub dtype: ElemType,
    /// The scale is a float16 (its value is exact in `scale`): arithmetic on it is
    /// float16, as the reference computes it.
    pub half_scale: bool,
}

/// What a GEMM layer writes.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerOutput {
    /// Float requantization per output column (`QLinearMatMul` arithmetic):
    /// `f32(a.scale * w_scale[c]) / out.scale`.
    Requant { params: Vec<ParamLane>, out: Affine },
    /// The int32 accumulators (`MatMulInteger`).
    Raw32,
}

/// One 8-bit GEMM layer: `(a - a_zero) x (W - w_zero)`, then [`LayerOutput`].
#[derive(Debug, Clone, PartialEq)]
pub struct GemmLayer {
    /// The node that holds the product (`MatMul`, `QLinearMatMul`, `MatMulInteger`).
    pub node: String,
    /// Weight matrices: 1, or one per leading index of a 3-D weight `[B, K, N]`, which
    /// multiplies the input's rows in `B` equal groups (a batched MatMul).
    pub batches: usize,
    pub k: usize,
    pub n: usize,
    /// `batches` x `K x N` weights, row-major, as stored (int8 or uint8 values).
    pub weights: Vec<i64>,
    pub w_type: ElemType,
    /// The weight zero point the array removes.
    pub w_zero: i64,
    /// Per-column weight zero points that differ (raw int32 outputs only): the array
    /// runs with `w_zero` 0 and the host subtracts `zero[c] * sum(a - a_zero)`.
    pub w_zero_columns: Option<Vec<i64>>,
    pub a_type: ElemType,
    pub a_zero: i64,
    pub output: LayerOutput,
}

/// The parameters of a graph-boundary `QuantizeLinear` / `DequantizeLinear`: one
/// (scale, zero point) pair, or one per index of dimension `axis` (run on the host).
#[derive(Debug, Clone, PartialEq)]
pub struct BoundaryQuant {
    pub scales: Vec<f32>,
    pub zeros: Vec<i64>,
    /// The dimension per-channel parameters run along (may be negative, as in ONNX).
    pub axis: i64,
    /// Blocked quantization: parameters per this many consecutive indices of `axis`
    /// (0: per channel or per tensor).
    pub block_size: usize,
    pub dtype: ElemType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `QuantizeLinear` of the float graph input.
    Quantize(BoundaryQuant),
    Gemm(GemmLayer),
    /// `Quantize(Dequantize(x, a) + Dequantize(b, b_q), out)` with a constant `b`
    /// broadcast along the last dimension.
    AddConst {
        node: String,
        a: Affine,
        b: Vec<i64>,
        b_q: Affine,
        out: Affine,
    },
    /// `DequantizeLinear` to the float graph output.
    Dequantize(BoundaryQuant),
    /// A convolution (NCHW, one group) as im2col on the host and a GEMM whose weight
    /// matrix is the kernel flattened to `C * kh * kw` rows by `M` output channels.
    Conv {
        geometry: ConvGeometry,
        layer: GemmLayer,
    },
    /// The integer value is the graph output.
    Output,
}

/// Where a convolution's kernel visits its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    pub channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Padding: top, left, bottom, right.
    pub pads: [usize; 4],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
}

impl ConvGeometry {
    /// Output height and width for an input of `h` x `w`.
    pub fn output_size(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let span = |k: usize, d: usize| d * (k - 1) + 1;
        let out = |size: usize, lo: usize, hi: usize, k: usize, d: usize, s: usize| {
            (size + lo + hi).checked_sub(span(k, d)).map(|v| v / s + 1)
        };
        let oh = out(h, self.pads[0], self.pads[2], self.kernel[0], self.dilations[0], self.strides[0])?;
        let ow = out(w, self.pads[1], self.pads[3], self.kernel[1], self.dilations[1], self.strides[1])?;
        Some([oh, ow])
    }
}

/// The steps of `g`, which must be a chain from its one input to its one output.
pub fn lower_chain(g: &Graph) -> Result<Vec<Step>, String> {
    let [input] = g.inputs.as_slice() else {
        return Err(format!("the chain lowering takes one graph input; the model has {}", g.inputs.len()));
    };
    let [output] = g.outputs.as_slice() else {
        return Err(format!("the chain lowering takes one graph output; the model has {}", g.outputs.len()));
    };
    let mut steps = Vec::new();
    let mut value = input.name.clone();
    let mut int_type = match input.dtype {
        Some(ElemType::F32) => {
            let quantize = only_consumer(g, &input.name, "QuantizeLinear")?;
            let quant = boundary_quant(g, quantize)?;
            let dtype = quant.dtype;
            steps.push(Step::Quantize(quant));
            value = quantize.outputs[0].clone();
            dtype
        }
        Some(t @ (ElemType::I8 | ElemType::U8)) => t,
        other => {
            let name = other.map_or("unknown".to_string(), |t| t.to_string());
            return Err(format!(
                "graph input `{}` is {name}; the chain lowering takes float32, int8 or uint8",
                input.name
            ));
        }
    };
    loop {
        if value == output.name {
            steps.push(Step::Output);
            return Ok(steps);
        }
        let node = single_consumer(g, &value)?;
        let (step, next) = match (node.domain.as_str(), node.op.as_str()) {
            ("", "DequantizeLinear") => {
                let real = &node.outputs[0];
                if *real == output.name {
                    steps.push(Step::Dequantize(boundary_quant(g, node)?));
                    return Ok(steps);
                }
                let consumer = single_consumer(g, real)?;
                let a = affine(g, node)?;
                match consumer.op.as_str() {
                    "MatMul" if consumer.inputs[0] == *real => gemm(g, consumer, a)?,
                    "Add" => add(g, consumer, real, a)?,
                    _ => return Err(unsupported(consumer)),
                }
            }
            ("", "QLinearMatMul") if node.inputs[0] == value => qlinear_matmul(g, node)?,
            ("", "MatMulInteger") if node.inputs[0] == value => matmul_integer(g, node, int_type)?,
            ("", "QLinearConv" | "ConvInteger") if node.inputs[0] == value => conv(g, node, int_type)?,
            ("com.microsoft", "QLinearAdd") => qlinear_add(g, node, &value)?,
            _ => return Err(unsupported(node)),
        };
        match &step {
            Step::Gemm(GemmLayer { output: LayerOutput::Requant { out, .. }, .. })
            | Step::Conv { layer: GemmLayer { output: LayerOutput::Requant { out, .. }, .. }, .. }
            | Step::AddConst { out, .. } => int_type = out.dtype,
            Step::Gemm(GemmLayer { output: LayerOutput::Raw32, .. })
            | Step::Conv { layer: GemmLayer { output: LayerOutput::Raw32, .. }, .. } => int_type = ElemType::I32,
            _ => unreachable!("the layer lowerings return layers"),
        }
        steps.push(step);
        value = next;
    }
}

fn unsupported(node: &Node) -> String {
    format!("node `{}` ({}): not supported by the chain lowering yet", node.name, node.qualified_op())
}

fn single_consumer<'a>(g: &'a Graph, value: &str) -> Result<&'a Node, String> {
    let consumers = g.consumers(value);
    match consumers.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("value `{value}` is not used and is not the graph output")),
        many => Err(format!("value `{value}` has {} consumers; the chain lowering takes one", many.len())),
    }
}

fn only_consumer<'a>(g: &'a Graph, value: &str, op: &str) -> Result<&'a Node, String> {
    let node = single_consumer(g, value)?;
    if node.op != op || !node.domain.is_empty() {
        return Err(format!("value `{value}` feeds node `{}` ({}); expected {op}", node.name, node.qualified_op()));
    }
    Ok(node)
}

fn constant<'a>(g: &'a Graph, node: &Node, index: usize) -> Result<&'a Tensor, String> {
    let name = node.inputs.get(index).filter(|n| !n.is_empty());
    name.and_then(|n| g.constant(n))
        .ok_or_else(|| format!("node `{}` ({}): input {index} must be a constant", node.name, node.op))
}

/// The parameters of a `QuantizeLinear` / `DequantizeLinear` at the graph's input or
/// output: per tensor or per axis (blocked quantization is refused).
fn boundary_quant(g: &Graph, node: &Node) -> Result<BoundaryQuant, String> {
    let context = |what: &str| format!("node `{}` ({}): {what}", node.name, node.qualified_op());
    let block_size = usize::try_from(node.attr_int("block_size").unwrap_or(0))
        .map_err(|_| context("block_size must not be negative"))?;
    let scale = constant(g, node, 1)?;
    let scales =
        scale.floats().filter(|_| scale.dtype == ElemType::F32).ok_or_else(|| context("the scale must be float32"))?;
    let (zeros, dtype) = match zero_points(g, node, 2)? {
        Some((zeros, dtype)) if zeros.len() == scales.len() => (zeros.to_vec(), dtype),
        // (Blocked zero points have the scale's shape too.)
        Some(_) => return Err(context("the zero point must have one value per scale")),
        // The ONNX default: uint8 with zero point 0.
        None => (vec![0; scales.len()], ElemType::U8),
    };
    Ok(BoundaryQuant { scales: scales.to_vec(), zeros, axis: node.attr_int("axis").unwrap_or(1), block_size, dtype })
}

/// The per-tensor parameters of a `QuantizeLinear` / `DequantizeLinear` node.
fn affine(g: &Graph, node: &Node) -> Result<Affine, String> {
    affine_at(g, node, 1, 2)
}

/// The per-tensor (scale, zero point) pair at inputs `scale_at`, `zero_at` of `node`.
fn affine_at(g: &Graph, node: &Node, scale_at: usize, zero_at: usize) -> Result<Affine, String> {
    let context = |what: String| format!("node `{}` ({}): {what}", node.name, node.qualified_op());
    let scale_t = constant(g, node, scale_at)?;
    let scale = scale_t.scalar_float().ok_or_else(|| context("the chain lowering needs a per-tensor scale".into()))?;
    let zero = zero_point(g, node, zero_at)?.ok_or_else(|| context("a zero point input is required here".into()))?;
    let (zero, dtype) = zero;
    Ok(Affine { scale, zero, dtype, half_scale: scale_t.dtype == ElemType::F16 })
}

/// The int8/uint8 zero points at input `at` of `node` and their type, if the input is given.
fn zero_points<'a>(g: &'a Graph, node: &Node, at: usize) -> Result<Option<(&'a [i64], ElemType)>, String> {
    if node.inputs.get(at).is_none_or(|n| n.is_empty()) {
        return Ok(None);
    }
    let t = constant(g, node, at)?;
    match t.ints() {
        Some(values) if matches!(t.dtype, ElemType::I8 | ElemType::U8) => Ok(Some((values, t.dtype))),
        _ => Err(format!(
            "node `{}` ({}): zero point is {}; int8 and uint8 are supported",
            node.name,
            node.qualified_op(),
            t.dtype
        )),
    }
}

/// The scalar zero point at input `at` of `node`, if the input is given.
fn zero_point(g: &Graph, node: &Node, at: usize) -> Result<Option<(i64, ElemType)>, String> {
    match zero_points(g, node, at)? {
        None => Ok(None),
        Some((&[zero], dtype)) => Ok(Some((zero, dtype))),
        Some(_) => Err(format!(
            "node `{}` ({}): the chain lowering needs a per-tensor zero point",
            node.name,
            node.qualified_op()
        )),
    }
}

/// The weight zero points at input `at`: empty if absent, else one or one per column.
fn weight_zeros(g: &Graph, node: &Node, at: usize) -> Result<Vec<i64>, String> {
    Ok(zero_points(g, node, at)?.map_or_else(Vec::new, |(zeros, _)| zeros.to_vec()))
}

/// `MatMul(DQ(a), DQ(W))` followed by `QuantizeLinear`.
fn gemm(g: &Graph, matmul: &Node, a: Affine) -> Result<(Step, String), String> {
    let w_dq = g.producer(&matmul.inputs[1]).filter(|n| n.op == "DequantizeLinear").ok_or_else(|| {
        format!("node `{}` (MatMul): the weight must come from DequantizeLinear of an 8-bit constant", matmul.name)
    })?;
    let quantize = only_consumer(g, &matmul.outputs[0], "QuantizeLinear")?;
    let out = affine(g, quantize)?;
    let weights =
        Weights { holder: w_dq, at: 0, scale_at: 1, zero_at: 2, axis: w_dq.attr_int("axis").unwrap_or(1), conv: false };
    let layer = gemm_layer(g, matmul, a, Some(out), weights)?;
    Ok((Step::Gemm(layer), quantize.outputs[0].clone()))
}

/// `QLinearMatMul(a, a_scale, a_zero, W, w_scale, w_zero, y_scale, y_zero)`.
fn qlinear_matmul(g: &Graph, node: &Node) -> Result<(Step, String), String> {
    let a = affine_at(g, node, 1, 2)?;
    let out = affine_at(g, node, 6, 7)?;
    // Per-column scales of a 2-D weight are a 1-D [N] tensor (the last axis).
    let weights = Weights { holder: node, at: 3, scale_at: 4, zero_at: 5, axis: 1, conv: false };
    let layer = gemm_layer(g, node, a, Some(out), weights)?;
    Ok((Step::Gemm(layer), node.outputs[0].clone()))
}

/// `MatMulInteger(A, B, a_zero_point, b_zero_point)`: int32 accumulators.
fn matmul_integer(g: &Graph, node: &Node, a_type: ElemType) -> Result<(Step, String), String> {
    let a_zero = zero_point(g, node, 2)?.map_or(0, |(z, _)| z);
    let a = Affine { scale: 1.0, zero: a_zero, dtype: a_type, half_scale: false };
    let weights = Weights { holder: node, at: 1, scale_at: usize::MAX, zero_at: 3, axis: 1, conv: false };
    let layer = gemm_layer(g, node, a, None, weights)?;
    Ok((Step::Gemm(layer), node.outputs[0].clone()))
}

/// Where a layer's weight, its scale (`usize::MAX`: none) and zero point are: inputs of
/// `holder`, with per-column scales along `axis`.
struct Weights<'a> {
    holder: &'a Node,
    at: usize,
    scale_at: usize,
    zero_at: usize,
    axis: i64,
    /// The weight is a convolution kernel `[M, C, kh, kw]`.
    conv: bool,
}

/// The GEMM of `node`: requantized to `out` if given, else raw int32.
fn gemm_layer(g: &Graph, node: &Node, a: Affine, out: Option<Affine>, w: Weights) -> Result<GemmLayer, String> {
    let context = |what: &str| format!("node `{}` ({}): {what}", node.name, node.qualified_op());
    let weight = constant(g, w.holder, w.at)?;
    let values = weight.ints().ok_or_else(|| context("weights must be int8 or uint8"))?;
    let (batches, k, n, weights) = match weight.shape[..] {
        [m, c, kh, kw] if w.conv => {
            // Column m of the GEMM is output channel m's kernel, flattened (c, i, j).
            let k = c * kh * kw;
            (1, k, m, (0..k * m).map(|i| values[(i % m) * k + i / m]).collect())
        }
        [k, n] if !w.conv => (1, k, n, values.to_vec()),
        [b, k, n] if !w.conv => (b, k, n, values.to_vec()),
        _ => return Err(context("the weight must be a 2-D or 3-D constant, or a 4-D kernel")),
    };
    if !matches!(weight.dtype, ElemType::I8 | ElemType::U8) {
        return Err(context("weights must be int8 or uint8"));
    }
    if !matches!(a.dtype, ElemType::I8 | ElemType::U8) {
        return Err(context("the input must be int8 or uint8"));
    }
    let zeros = weight_zeros(g, w.holder, w.zero_at)?;
    let (w_zero, w_zero_columns) = match zeros.as_slice() {
        [] => (0, None),
        [first, rest @ ..] if rest.iter().all(|z| z == first) => (*first, None),
        // The host can correct raw accumulators, not requantized outputs.
        _ if out.is_none() && zeros.len() == n => (0, Some(zeros.clone())),
        _ => return Err(context("per-channel weight zero points that differ need a raw int32 output")),
    };
    let output = match out {
        None => LayerOutput::Raw32,
        Some(out) => {
            let w_scale = constant(g, w.holder, w.scale_at)?;
            let scales = w_scale.floats().ok_or_else(|| context("the weight scale must be float32"))?;
            if scales.len() != 1 && (scales.len() != n || w.axis != 1) {
                return Err(context("per-channel weight scales must run along the output columns (axis 1)"));
            }
            let per_column = |c: usize| if scales.len() == 1 { scales[0] } else { scales[c] };
            let half = a.half_scale && out.half_scale && w_scale.dtype == ElemType::F16;
            if !half && (a.half_scale || out.half_scale || w_scale.dtype != ElemType::F32) {
                return Err(context("the scales must be all float32 or all float16"));
            }
            let params =
                (0..n).map(|c| ParamLane::float(0, requant_scale(a.scale, per_column(c), out.scale, half))).collect();
            LayerOutput::Requant { params, out }
        }
    };
    Ok(GemmLayer {
        node: node.name.clone(),
        batches,
        k,
        n,
        weights,
        w_type: weight.dtype,
        w_zero,
        w_zero_columns,
        a_type: a.dtype,
        a_zero: a.zero,
        output,
    })
}

/// `QLinearConv(x, x_scale, x_zero, w, w_scale, w_zero, y_scale, y_zero[, B])` or
/// `ConvInteger(x, w[, x_zero, w_zero])`: a 2-D convolution with one group.
fn conv(g: &Graph, node: &Node, a_type: ElemType) -> Result<(Step, String), String> {
    let context = |what: &str| format!("node `{}` ({}): {what}", node.name, node.qualified_op());
    if node.attr_int("group").unwrap_or(1) != 1 {
        return Err(context("grouped convolutions are not supported yet"));
    }
    if matches!(node.attrs.get("auto_pad"), Some(crate::graph::Attr::Str(p)) if p != "NOTSET" && p != "VALID") {
        return Err(context("auto_pad SAME_UPPER/SAME_LOWER is not supported; give explicit pads"));
    }
    let qlinear = node.op == "QLinearConv";
    let (a, out, weights) = if qlinear {
        let weights = Weights { holder: node, at: 3, scale_at: 4, zero_at: 5, axis: 1, conv: true };
        (affine_at(g, node, 1, 2)?, Some(affine_at(g, node, 6, 7)?), weights)
    } else {
        let zero = zero_point(g, node, 2)?.map_or(0, |(z, _)| z);
        let a = Affine { scale: 1.0, zero, dtype: a_type, half_scale: false };
        (a, None, Weights { holder: node, at: 1, scale_at: usize::MAX, zero_at: 3, axis: 1, conv: true })
    };
    let mut layer = gemm_layer(g, node, a, out, weights)?;
    if let (true, LayerOutput::Requant { params, .. }) = (qlinear, &mut layer.output) {
        if let Some(bias) = node.inputs.get(8).filter(|n| !n.is_empty()) {
            let bias =
                g.constant(bias).and_then(Tensor::ints).ok_or_else(|| context("the bias must be an int32 constant"))?;
            for (p, b) in params.iter_mut().zip(bias) {
                p.bias = *b as i32;
            }
        }
    }
    let kernel = &constant(g, node, if qlinear { 3 } else { 1 })?.shape;
    let pair = |name: &str, default: usize| -> Result<[usize; 2], String> {
        match node.attr_ints(name) {
            None => Ok([default; 2]),
            Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
            Some(v) => Err(context(&format!("{name} {v:?}: two non-negative values are supported (2-D convolutions)"))),
        }
    };
    let pads = match node.attr_ints("pads") {
        None => [0; 4],
        Some(&[t, l, b, r]) if t.min(l).min(b).min(r) >= 0 => [t as usize, l as usize, b as usize, r as usize],
        Some(v) => return Err(context(&format!("pads {v:?}: four non-negative values are supported"))),
    };
    let geometry = ConvGeometry {
        channels: kernel[1],
        kernel: [kernel[2], kernel[3]],
        pads,
        strides: pair("strides", 1)?,
        dilations: pair("dilations", 1)?,
    };
    if geometry.strides.contains(&0) || geometry.dilations.contains(&0) {
        return Err(context("strides and dilations must be positive"));
    }
    Ok((Step::Conv { geometry, layer }, node.outputs[0].clone()))
}

/// `a_scale * w_scale / y_scale` as QLinearMatMul's reference computes it: in the
/// scales' own type. numpy's float16 operations round an `f32` result to float16, so
/// this does the same.
fn requant_scale(a: f32, w: f32, y: f32, half: bool) -> f32 {
    if half {
        let f16 = half::f16::from_f32;
        f16(f16(a * w).to_f32() / y).to_f32()
    } else {
        a * w / y
    }
}

/// The host's add arithmetic is float32: refuse float16 scales rather than round differently.
fn float32_scales(node: &Node, quants: &[Affine]) -> Result<(), String> {
    if quants.iter().any(|q| q.half_scale) {
        return Err(format!(
            "node `{}` ({}): float16 scales are supported on matrix products only",
            node.name,
            node.qualified_op()
        ));
    }
    Ok(())
}

/// `Add(DQ(x), DQ(b))` with a constant `b`, followed by `QuantizeLinear`.
fn add(g: &Graph, add: &Node, real: &str, a: Affine) -> Result<(Step, String), String> {
    let other = if add.inputs[0] == real { &add.inputs[1] } else { &add.inputs[0] };
    let b_dq = g.producer(other).filter(|n| n.op == "DequantizeLinear").ok_or_else(|| {
        format!("node `{}` (Add): the other operand must be DequantizeLinear of a constant", add.name)
    })?;
    let b = constant(g, b_dq, 0)?
        .ints()
        .ok_or_else(|| format!("node `{}` (Add): the constant must be integer", add.name))?;
    let b_q = affine(g, b_dq)?;
    let quantize = only_consumer(g, &add.outputs[0], "QuantizeLinear")?;
    let out = affine(g, quantize)?;
    float32_scales(add, &[a, b_q, out])?;
    let step = Step::AddConst { node: add.name.clone(), a, b: b.to_vec(), b_q, out };
    Ok((step, quantize.outputs[0].clone()))
}

/// `com.microsoft.QLinearAdd(a, a_scale, a_zero, b, b_scale, b_zero, c_scale, c_zero)`
/// with one operand the chain's value and the other a constant.
fn qlinear_add(g: &Graph, node: &Node, value: &str) -> Result<(Step, String), String> {
    let (x_at, b_at) = if node.inputs[0] == value { (0, 3) } else { (3, 0) };
    let a = affine_at(g, node, x_at + 1, x_at + 2)?;
    let b_q = affine_at(g, node, b_at + 1, b_at + 2)?;
    let b = constant(g, node, b_at)?
        .ints()
        .ok_or_else(|| format!("node `{}` (com.microsoft.QLinearAdd): the constant must be integer", node.name))?;
    let out = affine_at(g, node, 6, 7)?;
    float32_scales(node, &[a, b_q, out])?;
    let step = Step::AddConst { node: node.name.clone(), a, b: b.to_vec(), b_q, out };
    Ok((step, node.outputs[0].clone()))
}
