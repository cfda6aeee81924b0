//! Lowering of a chain of quantized layers (onnxruntime `quantize_static` output for
//! MLPs, in QDQ or QOperator form) to a list of steps: quantize the input on the host,
//! then per layer an accelerator GEMM with float requantization (`MatMul` between
//! `DequantizeLinear`s and a `QuantizeLinear`, or `QLinearMatMul`), then the bias add
//! with its requantization on the host (`Add` between Q/DQ, or `com.microsoft`
//! `QLinearAdd`), and finally `DequantizeLinear` of the output.
//!
//! Only single-path chains are handled: every value has one consumer. Anything else
//! is reported by node name and op.

use crate::graph::{Graph, Node};
use crate::tensor::{ElemType, Tensor};
use tessera_isa::quant::ParamLane;

/// A per-tensor affine quantization `real = (q - zero) * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub scale: f32,
    pub zero: i64,
}

/// One int8 x int8 GEMM layer: `out = requant((a - a.zero) x W)` per column.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmLayer {
    /// The `MatMul` node.
    pub node: String,
    pub k: usize,
    pub n: usize,
    /// `K x N` int8 weights, row-major (zero point 0).
    pub weights: Vec<i8>,
    pub a: Affine,
    /// Float-mode parameters per output column: `f32(a.scale * w_scale[c]) / out.scale`.
    pub params: Vec<ParamLane>,
    pub out: Affine,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `QuantizeLinear` of the float graph input to int8.
    Quantize(Affine),
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
    Dequantize(Affine),
}

/// The steps of `g`, which must be a QDQ chain from its one input to its one output.
pub fn lower_chain(g: &Graph) -> Result<Vec<Step>, String> {
    let [input] = g.inputs.as_slice() else {
        return Err(format!("the chain lowering takes one graph input; the model has {}", g.inputs.len()));
    };
    let [output] = g.outputs.as_slice() else {
        return Err(format!("the chain lowering takes one graph output; the model has {}", g.outputs.len()));
    };
    let mut steps = Vec::new();
    let quantize = only_consumer(g, &input.name, "QuantizeLinear")?;
    let mut q = affine(g, quantize)?;
    steps.push(Step::Quantize(q));
    let mut value = quantize.outputs[0].clone();
    loop {
        let node = single_consumer(g, &value)?;
        let (step, next) = match (node.domain.as_str(), node.op.as_str()) {
            ("", "DequantizeLinear") => {
                let real = &node.outputs[0];
                if *real == output.name {
                    steps.push(Step::Dequantize(affine(g, node)?));
                    return Ok(steps);
                }
                let consumer = single_consumer(g, real)?;
                match consumer.op.as_str() {
                    "MatMul" if consumer.inputs[0] == *real => gemm(g, consumer, q)?,
                    "Add" => add(g, consumer, real, q)?,
                    _ => return Err(unsupported(consumer)),
                }
            }
            ("", "QLinearMatMul") if node.inputs[0] == value => qlinear_matmul(g, node)?,
            ("com.microsoft", "QLinearAdd") => qlinear_add(g, node, &value)?,
            _ => return Err(unsupported(node)),
        };
        q = match &step {
            Step::Gemm(layer) => layer.out,
            Step::AddConst { out, .. } => *out,
            _ => unreachable!("gemm and add return their steps"),
        };
        steps.push(step);
        value = next;
    }
}

fn unsupported(node: &Node) -> String {
    format!("node `{}` ({}): not supported by the QDQ chain lowering yet", node.name, node.qualified_op())
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

/// The per-tensor parameters of a `QuantizeLinear` / `DequantizeLinear` node.
fn affine(g: &Graph, node: &Node) -> Result<Affine, String> {
    affine_at(g, node, 1, 2)
}

/// The per-tensor (scale, zero point) pair at inputs `scale_at`, `zero_at` of `node`.
fn affine_at(g: &Graph, node: &Node, scale_at: usize, zero_at: usize) -> Result<Affine, String> {
    let scale = constant(g, node, scale_at)?;
    let scale = scale
        .scalar_float()
        .ok_or_else(|| format!("node `{}` ({}): the chain lowering needs a per-tensor scale", node.name, node.op))?;
    let zero = match node.inputs.get(zero_at).filter(|n| !n.is_empty()) {
        Some(_) => {
            let t = constant(g, node, zero_at)?;
            if t.dtype != ElemType::I8 {
                return Err(format!(
                    "node `{}` ({}): zero point is {}, only int8 is supported here",
                    node.name, node.op, t.dtype
                ));
            }
            t.scalar_int().ok_or_else(|| format!("node `{}` ({}): zero point must be a scalar", node.name, node.op))?
        }
        None => {
            return Err(format!(
                "node `{}` ({}): no zero point (uint8 default) is not supported here",
                node.name, node.op
            ))
        }
    };
    Ok(Affine { scale, zero })
}

/// `MatMul(DQ(a), DQ(W))` followed by `QuantizeLinear`.
fn gemm(g: &Graph, matmul: &Node, a: Affine) -> Result<(Step, String), String> {
    let w_dq = g.producer(&matmul.inputs[1]).filter(|n| n.op == "DequantizeLinear").ok_or_else(|| {
        format!("node `{}` (MatMul): the weight must come from DequantizeLinear of an int8 constant", matmul.name)
    })?;
    let quantize = only_consumer(g, &matmul.outputs[0], "QuantizeLinear")?;
    let out = affine(g, quantize)?;
    let layer = gemm_layer(g, matmul, a, out, (w_dq, 0, 1, 2), w_dq.attr_int("axis").unwrap_or(1))?;
    Ok((Step::Gemm(layer), quantize.outputs[0].clone()))
}

/// `QLinearMatMul(a, a_scale, a_zero, W, w_scale, w_zero, y_scale, y_zero)`.
fn qlinear_matmul(g: &Graph, node: &Node) -> Result<(Step, String), String> {
    let a = affine_at(g, node, 1, 2)?;
    let out = affine_at(g, node, 6, 7)?;
    // Per-column scales of a 2-D weight are a 1-D [N] tensor (the last axis).
    let layer = gemm_layer(g, node, a, out, (node, 3, 4, 5), 1)?;
    Ok((Step::Gemm(layer), node.outputs[0].clone()))
}

/// The GEMM of `node` whose int8 weight, scale and zero point are the constant
/// inputs `w_at` of `holder`; per-column scales must lie along `axis` 1.
fn gemm_layer(
    g: &Graph,
    node: &Node,
    a: Affine,
    out: Affine,
    w_at: (&Node, usize, usize, usize),
    axis: i64,
) -> Result<GemmLayer, String> {
    let context = |what: &str| format!("node `{}` ({}): {what}", node.name, node.qualified_op());
    let (holder, w_i, scale_i, zero_i) = w_at;
    let w = constant(g, holder, w_i)?;
    let w_scale = constant(g, holder, scale_i)?;
    let w_zero = constant(g, holder, zero_i)?;
    let [k, n] = w.shape[..] else { return Err(context("the weight must be 2-D")) };
    if w.dtype != ElemType::I8 || w_zero.ints().is_none_or(|z| z.iter().any(|&v| v != 0)) {
        return Err(context("weights must be int8 with zero point 0"));
    }
    let scales = w_scale.floats().ok_or_else(|| context("weight scale must be float"))?;
    let per_column = |c: usize| if scales.len() == 1 { scales[0] } else { scales[c] };
    if scales.len() != 1 && (scales.len() != n || axis != 1) {
        return Err(context("per-channel weight scales must run along the output columns (axis 1)"));
    }
    // As QLinearMatMul specifies it: the f32 product of the input scales over the output scale.
    let params = (0..n).map(|c| ParamLane::float(0, a.scale * per_column(c) / out.scale)).collect();
    let weights = w.ints().expect("int8 constants hold integers").iter().map(|&v| v as i8).collect();
    Ok(GemmLayer { node: node.name.clone(), k, n, weights, a, params, out })
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
    let step = Step::AddConst { node: node.name.clone(), a, b: b.to_vec(), b_q, out };
    Ok((step, node.outputs[0].clone()))
}
