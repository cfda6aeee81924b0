//! Host operations: their attributes, and the requantizing arithmetic of the QDQ and
//! `QLinearAdd` forms.

use super::params::{affine_at, constant, float32_scales, node_error};
use crate::graph::{Graph, Node};
use crate::program::{Affine, HostArith, HostOp, MeanArith, SpatialMean};

/// A host op with its arithmetic.
pub struct HostNode {
    pub op: HostOp,
    pub arith: HostArith,
}

/// The host op of a `MaxPool`, `AveragePool`, `Flatten`, `Reshape`, `Relu` or `Add` node.
pub fn host_op(g: &Graph, node: &Node) -> Result<HostOp, String> {
    match node.op.as_str() {
        "Add" => Ok(HostOp::Add),
        "Mul" => Ok(HostOp::Mul),
        "Sub" => Ok(HostOp::Sub),
        "Div" => Ok(HostOp::Div),
        "Relu" => Ok(HostOp::Relu),
        "Flatten" => Ok(HostOp::Flatten { axis: node.attr_int("axis").unwrap_or(1) }),
        "Reshape" => {
            let shape = constant(g, node, 1)?.ints().ok_or_else(|| node_error(node, "the shape must be int64"))?;
            if node.attr_int("allowzero").unwrap_or(0) != 0 {
                return Err(node_error(node, "allowzero=1 is not supported"));
            }
            Ok(HostOp::Reshape { shape: shape.to_vec() })
        }
        "MaxPool" => super::pool::max_pool(node),
        "AveragePool" => super::pool::average_pool(node),
        _ => Err(node_error(node, "no host implementation")),
    }
}

/// Dequantize with `inputs`, compute in float32, quantize to `out`.
pub fn requant(node: &Node, inputs: Vec<Affine>, out: Affine) -> Result<HostArith, String> {
    let all: Vec<Affine> = inputs.iter().copied().chain([out]).collect();
    float32_scales(node, &all)?;
    Ok(HostArith::Requant { inputs, out })
}

/// `com.microsoft.QLinearAdd` / `QLinearMul(a, a_scale, a_zero, b, b_scale, b_zero,
/// c_scale, c_zero)`.
pub fn qlinear_add(g: &Graph, node: &Node) -> Result<(Vec<String>, HostArith), String> {
    let a = affine_at(g, node, 1, 2)?;
    let b = affine_at(g, node, 4, 5)?;
    let out = affine_at(g, node, 6, 7)?;
    Ok((vec![node.inputs[0].clone(), node.inputs[3].clone()], requant(node, vec![a, b], out)?))
}

/// `Q(GlobalAveragePool(DQ(x)))` or `Q(ReduceMean(DQ(x)))` over the spatial axes of
/// an NCHW value (ReduceMean's `axes` [2, 3] or [-2, -1], an attribute before opset
/// 18, a constant input from it): the reference's float32 mean of the dequantized
/// values, quantized to `out`.
pub fn qdq_spatial_mean(g: &Graph, node: &Node, input: Affine, out: Affine) -> Result<SpatialMean, String> {
    float32_scales(node, &[input, out])?;
    let keep_dims = match node.op.as_str() {
        "GlobalAveragePool" => true,
        _ => {
            let axes = match node.inputs.get(1).filter(|n| !n.is_empty()) {
                Some(_) => constant(g, node, 1)?.ints().ok_or_else(|| node_error(node, "the axes must be int64"))?,
                None => node.attr_ints("axes").ok_or_else(|| {
                    node_error(node, "no axes (a mean over every axis): the spatial axes [2, 3] are supported")
                })?,
            };
            let mut spatial: Vec<i64> = axes.iter().map(|&a| if a < 0 { a + 4 } else { a }).collect();
            spatial.sort_unstable();
            if spatial != [2, 3] {
                return Err(node_error(node, format!("axes {axes:?}: the spatial axes [2, 3] of NCHW are supported")));
            }
            node.attr_int("keepdims").unwrap_or(1) != 0
        }
    };
    Ok(SpatialMean { channels_last: false, keep_dims, input, out, arith: MeanArith::OnnxFloat })
}

/// `com.microsoft.QLinearGlobalAveragePool(x, x_scale, x_zero, y_scale, y_zero)`,
/// NCHW or (`channels_last` 1) NHWC.
pub fn qlinear_global_average_pool(g: &Graph, node: &Node) -> Result<SpatialMean, String> {
    let input = affine_at(g, node, 1, 2)?;
    let out = affine_at(g, node, 3, 4)?;
    float32_scales(node, &[input, out])?;
    if input.dtype != out.dtype {
        return Err(node_error(node, format!("a {} input with a {} output", input.dtype, out.dtype)));
    }
    let channels_last = node.attr_int("channels_last").unwrap_or(0) != 0;
    Ok(SpatialMean { channels_last, keep_dims: true, input, out, arith: MeanArith::QLinear })
}

/// `com.microsoft.QLinearAveragePool(x, x_scale, x_zero, y_scale, y_zero)`: by its
/// specification `QuantizeLinear(AveragePool(DequantizeLinear(x)))`.
pub fn qlinear_average_pool(g: &Graph, node: &Node) -> Result<HostNode, String> {
    let input = affine_at(g, node, 1, 2)?;
    let out = affine_at(g, node, 3, 4)?;
    Ok(HostNode { op: super::pool::average_pool(node)?, arith: requant(node, vec![input], out)? })
}
