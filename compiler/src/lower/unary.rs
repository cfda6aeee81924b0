//! ONNX one-input activations on quantized values as byte tables: the QDQ form
//! `Q(op(DQ(x)))` and the com.microsoft `QLinearSigmoid` / `QLinearLeakyRelu`, each
//! "dequantize, the float32 op, quantize" as the ONNX reference evaluates it
//! (`onnx.reference`'s numpy float32 arithmetic), tabulated over the 256 input bytes.
//! Rust's `f32::exp` / `tanh` are the C library's; numpy's own float32 kernels may
//! differ by an ulp, which changes an output only at a rounding tie.

use super::params::{affine_at, float32_scales, node_error};
use crate::graph::{Graph, Node};
use crate::program::{Affine, ByteTable};
use crate::tensor::ElemType;
use tessera_isa::quant::{onnx_dequantize, onnx_quantize};

/// Standard ops tabulated between a DequantizeLinear and a QuantizeLinear.
pub const QDQ_UNARY: [&str; 5] = ["Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu"];

/// An attribute as float32 (ONNX stores them so), or `default`.
fn attr(node: &Node, name: &str, default: f32) -> f32 {
    node.attr_float(name).unwrap_or(default)
}

/// The reference's float32 function of `node` (a [`QDQ_UNARY`] op or `op`).
fn function(node: &Node, op: &str) -> Result<Box<dyn Fn(f32) -> f32>, String> {
    Ok(match op {
        "Sigmoid" => Box::new(|x: f32| if x > 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) }),
        "Tanh" => Box::new(f32::tanh),
        "HardSigmoid" => {
            let (alpha, beta) = (attr(node, "alpha", 0.2), attr(node, "beta", 0.5));
            Box::new(move |x: f32| (x * alpha + beta).clamp(0.0, 1.0))
        }
        "HardSwish" => {
            let (alpha, beta) = (1.0f32 / 6.0, 0.5f32);
            Box::new(move |x: f32| x * (x * alpha + beta).clamp(0.0, 1.0))
        }
        "LeakyRelu" => {
            let alpha = attr(node, "alpha", 0.01);
            Box::new(move |x: f32| if x > 0.0 { x } else { x * alpha })
        }
        other => return Err(node_error(node, format!("{other} has no table"))),
    })
}

/// `quantize(f(dequantize(b)))` of every input byte `b`.
fn table(node: &Node, op: &str, input: Affine, out: Affine) -> Result<ByteTable, String> {
    float32_scales(node, &[input, out])?;
    let bytes = |t: ElemType| matches!(t, ElemType::I8 | ElemType::U8);
    if !bytes(input.dtype) || !bytes(out.dtype) {
        return Err(node_error(node, format!("{} to {}: int8 and uint8 are supported", input.dtype, out.dtype)));
    }
    let f = function(node, op)?;
    let range = out.dtype.int_range().expect("8-bit");
    let values = (0..=255u8)
        .map(|b| {
            let q = if input.dtype == ElemType::U8 { i64::from(b) } else { i64::from(b as i8) };
            onnx_quantize(f(onnx_dequantize(q, input.zero, input.scale)), out.scale, out.zero, range)
        })
        .collect();
    Ok(ByteTable { op: node.qualified_op(), input: input.dtype, out, values })
}

/// `Q(op(DQ(x)))` for an op of [`QDQ_UNARY`].
pub fn qdq(node: &Node, input: Affine, out: Affine) -> Result<ByteTable, String> {
    let ByteTable { values, input: dtype, .. } = table(node, &node.op, input, out)?;
    Ok(ByteTable { op: format!("{} (QDQ)", node.op), input: dtype, out, values })
}

/// `com.microsoft.QLinearSigmoid` / `QLinearLeakyRelu(X, X_scale, X_zero, Y_scale, Y_zero)`.
pub fn qlinear(g: &Graph, node: &Node) -> Result<ByteTable, String> {
    let input = affine_at(g, node, 1, 2)?;
    let out = affine_at(g, node, 3, 4)?;
    let op = node.op.strip_prefix("QLinear").unwrap_or(&node.op);
    table(node, op, input, out)
}
