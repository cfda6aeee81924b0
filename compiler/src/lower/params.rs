//! Readers of a node's constant inputs: quantization parameters, zero points and
//! scales, with errors that name the node.

use crate::graph::{Graph, Node};
use crate::program::{Affine, BoundaryQuant};
use crate::tensor::{ElemType, Tensor};

/// `node (op): what`, the form every lowering error takes.
pub fn node_error(node: &Node, what: impl std::fmt::Display) -> String {
    format!("node `{}` ({}): {what}", node.name, node.qualified_op())
}

pub fn constant<'a>(g: &'a Graph, node: &Node, index: usize) -> Result<&'a Tensor, String> {
    let name = node.inputs.get(index).filter(|n| !n.is_empty());
    name.and_then(|n| g.constant(n)).ok_or_else(|| node_error(node, format!("input {index} must be a constant")))
}

/// The parameters of a `QuantizeLinear` / `DequantizeLinear` at the graph's input or
/// output: per tensor, per axis or blocked.
pub fn boundary_quant(g: &Graph, node: &Node) -> Result<BoundaryQuant, String> {
    let block_size = usize::try_from(node.attr_int("block_size").unwrap_or(0))
        .map_err(|_| node_error(node, "block_size must not be negative"))?;
    let scale = constant(g, node, 1)?;
    let scales = scale
        .floats()
        .filter(|_| scale.dtype == ElemType::F32)
        .ok_or_else(|| node_error(node, "the scale must be float32"))?;
    let (zeros, dtype) = match zero_points(g, node, 2)? {
        Some((zeros, dtype)) if zeros.len() == scales.len() => (zeros.to_vec(), dtype),
        // (Blocked zero points have the scale's shape too.)
        Some(_) => return Err(node_error(node, "the zero point must have one value per scale")),
        // The ONNX default: uint8 with zero point 0.
        None => (vec![0; scales.len()], ElemType::U8),
    };
    Ok(BoundaryQuant { scales: scales.to_vec(), zeros, axis: node.attr_int("axis").unwrap_or(1), block_size, dtype })
}

/// The per-tensor parameters of a `QuantizeLinear` / `DequantizeLinear` node.
pub fn affine(g: &Graph, node: &Node) -> Result<Affine, String> {
    affine_at(g, node, 1, 2)
}

/// The per-tensor (scale, zero point) pair at inputs `scale_at`, `zero_at` of `node`.
pub fn affine_at(g: &Graph, node: &Node, scale_at: usize, zero_at: usize) -> Result<Affine, String> {
    let scale_t = constant(g, node, scale_at)?;
    let scale = scale_t.scalar_float().ok_or_else(|| node_error(node, "a per-tensor scale is needed here"))?;
    let (zero, dtype) =
        zero_point(g, node, zero_at)?.ok_or_else(|| node_error(node, "a zero point input is required here"))?;
    Ok(Affine { scale, zero, dtype, half_scale: scale_t.dtype == ElemType::F16 })
}

/// The int8/uint8 zero points at input `at` of `node` and their type, if the input is given.
pub fn zero_points<'a>(g: &'a Graph, node: &Node, at: usize) -> Result<Option<(&'a [i64], ElemType)>, String> {
    if node.inputs.get(at).is_none_or(|n| n.is_empty()) {
        return Ok(None);
    }
    let t = constant(g, node, at)?;
    match t.ints() {
        Some(values) if matches!(t.dtype, ElemType::I8 | ElemType::U8) => Ok(Some((values, t.dtype))),
        _ => Err(node_error(node, format!("zero point is {}; int8 and uint8 are supported", t.dtype))),
    }
}

/// The scalar zero point at input `at` of `node`, if the input is given.
pub fn zero_point(g: &Graph, node: &Node, at: usize) -> Result<Option<(i64, ElemType)>, String> {
    match zero_points(g, node, at)? {
        None => Ok(None),
        Some((&[zero], dtype)) => Ok(Some((zero, dtype))),
        Some(_) => Err(node_error(node, "a per-tensor zero point is needed here")),
    }
}

/// The weight zero points at input `at`: empty if absent, else one or one per column.
pub fn weight_zeros(g: &Graph, node: &Node, at: usize) -> Result<Vec<i64>, String> {
    Ok(zero_points(g, node, at)?.map_or_else(Vec::new, |(zeros, _)| zeros.to_vec()))
}

/// `a_scale * w_scale / y_scale` as QLinearMatMul's reference computes it: in the
/// scales' own type. numpy's float16 operations round an `f32` result to float16, so
/// this does the same.
pub fn requant_scale(a: f32, w: f32, y: f32, half: bool) -> f32 {
    if half {
        let f16 = half::f16::from_f32;
        f16(f16(a * w).to_f32() / y).to_f32()
    } else {
        a * w / y
    }
}

/// The host's requantizing arithmetic is float32: refuse float16 scales rather than
/// round differently.
pub fn float32_scales(node: &Node, quants: &[Affine]) -> Result<(), String> {
    if quants.iter().any(|q| q.half_scale) {
        return Err(node_error(node, "float16 scales are supported on matrix products only"));
    }
    Ok(())
}
