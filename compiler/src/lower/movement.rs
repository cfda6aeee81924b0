//! ONNX data-movement and shape nodes as [`Movement`] host operations: `Concat`,
//! `Split`, `Slice`, `Transpose`, `Squeeze`, `Unsqueeze`, `Resize` / `Upsample`
//! (nearest), `Gather` (constant indices), `DepthToSpace`, `SpaceToDepth`, `Pad`,
//! `Identity`, `Dropout` (inference), `ArgMax` / `ArgMin`, and
//! `com.microsoft.QLinearConcat`. On int8/uint8 values directly, or in the QDQ form
//! (`Q(op(DQ(x) ..))`), where each input is requantized to the output's parameters
//! through float32, as the reference computes element by element.

use super::params::{affine_at, constant, float32_scales, node_error};
use crate::graph::{Attr, Graph, Node};
use crate::movement::{CoordinateMode, Movement, NearestMode, PadMode, ResizeTarget};
use crate::program::Affine;
use tessera_isa::quant::onnx_quantize;

/// Standard ops this module lowers.
pub const OPS: [&str; 16] = [
    "Concat",
    "Split",
    "Slice",
    "Transpose",
    "Squeeze",
    "Unsqueeze",
    "Resize",
    "Upsample",
    "Gather",
    "DepthToSpace",
    "SpaceToDepth",
    "Pad",
    "Identity",
    "Dropout",
    "ArgMax",
    "ArgMin",
];

/// How many of `node`'s first inputs are data (not parameters like `Slice`'s
/// `starts`): what a QDQ form dequantizes.
pub fn data_inputs(node: &Node) -> usize {
    match node.op.as_str() {
        "Concat" => node.inputs.len(),
        _ => 1,
    }
}

/// An optional input: present and named.
fn input(node: &Node, i: usize) -> Option<&str> {
    node.inputs.get(i).map(String::as_str).filter(|n| !n.is_empty())
}

/// Integer values of an attribute or, from the opset that moved it, a constant input.
fn ints(g: &Graph, node: &Node, attr: &str, at: usize) -> Result<Option<Vec<i64>>, String> {
    if let Some(v) = node.attr_ints(attr) {
        return Ok(Some(v.to_vec()));
    }
    match input(node, at) {
        None => Ok(None),
        Some(_) => {
            let t = constant(g, node, at)?;
            let v = t.ints().ok_or_else(|| node_error(node, format!("`{}` must be integer", node.inputs[at])))?;
            Ok(Some(v.to_vec()))
        }
    }
}

fn string_attr<'n>(node: &'n Node, name: &str, default: &'n str) -> &'n str {
    match node.attrs.get(name) {
        Some(Attr::Str(s)) => s,
        _ => default,
    }
}

/// The movement of output `index` of `node`; `fill` maps a `Pad` constant (a real
/// value in the QDQ form, an integer otherwise) to the quantized fill.
pub fn movement(g: &Graph, node: &Node, index: usize, fill: impl Fn(f32) -> i64) -> Result<Movement, String> {
    let err = |what: String| node_error(node, what);
    let axis = node.attr_int("axis");
    Ok(match node.op.as_str() {
        "Concat" | "QLinearConcat" => Movement::Concat { axis: axis.ok_or_else(|| err("needs an axis".into()))? },
        "Split" => {
            let axis = axis.unwrap_or(0);
            match ints(g, node, "split", 1)? {
                Some(sizes) => {
                    let start: i64 = sizes[..index.min(sizes.len())].iter().sum();
                    let size = *sizes.get(index).ok_or_else(|| err(format!("no split size for output {index}")))?;
                    Movement::Slice { axes: vec![axis], starts: vec![start], ends: vec![start + size], steps: vec![1] }
                }
                None => Movement::SplitPart {
                    axis,
                    index,
                    count: node.attr_int("num_outputs").map_or(node.outputs.len(), |n| n.max(0) as usize),
                },
            }
        }
        "Slice" => {
            let (starts, ends) = match (ints(g, node, "starts", 1)?, ints(g, node, "ends", 2)?) {
                (Some(s), Some(e)) if s.len() == e.len() => (s, e),
                _ => return Err(err("starts and ends must be constants of one length".into())),
            };
            let axes = ints(g, node, "axes", 3)?.unwrap_or_else(|| (0..starts.len() as i64).collect());
            let steps = ints(g, node, "steps", 4)?.unwrap_or_else(|| vec![1; starts.len()]);
            if axes.len() != starts.len() || steps.len() != starts.len() {
                return Err(err("starts, ends, axes and steps must have one length".into()));
            }
            if axes.contains(&0) {
                return Err(err("slicing the batch dimension (axis 0) is not supported".into()));
            }
            Movement::Slice { axes, starts, ends, steps }
        }
        "Transpose" => {
            let perm = node.attr_ints("perm").ok_or_else(|| err("needs its perm attribute".into()))?;
            if perm.first() != Some(&0) {
                return Err(err(format!("perm {perm:?} moves the batch dimension")));
            }
            Movement::Transpose { perm: perm.iter().map(|&p| p.max(0) as usize).collect() }
        }
        "Squeeze" => Movement::Squeeze { axes: ints(g, node, "axes", 1)? },
        "Unsqueeze" => Movement::Unsqueeze { axes: ints(g, node, "axes", 1)?.ok_or_else(|| err("needs axes".into()))? },
        "Identity" | "Dropout" => {
            if node.outputs.iter().skip(1).any(|o| !o.is_empty() && !g.consumers(o).is_empty()) {
                return Err(err("its mask output is not supported".into()));
            }
            Movement::Squeeze { axes: Some(vec![]) }
        }
        "Gather" => {
            let t = constant(g, node, 1).map_err(|_| err("the indices must be a constant".into()))?;
            let indices = t.ints().ok_or_else(|| err("the indices must be integer".into()))?.to_vec();
            if axis.unwrap_or(0) == 0 {
                return Err(err("gathering along the batch dimension (axis 0) is not supported".into()));
            }
            Movement::Take { axis: axis.unwrap_or(0), indices, index_shape: t.shape.clone() }
        }
        "DepthToSpace" | "SpaceToDepth" => {
            let block =
                node.attr_int("blocksize").filter(|&b| b > 0).ok_or_else(|| err("needs a positive blocksize".into()))?
                    as usize;
            if node.op == "SpaceToDepth" {
                Movement::SpaceToDepth { block, channels_last: false }
            } else {
                let crd = match string_attr(node, "mode", "DCR") {
                    "DCR" => false,
                    "CRD" => true,
                    other => return Err(err(format!("mode {other} is not supported"))),
                };
                Movement::DepthToSpace { block, crd, channels_last: false }
            }
        }
        "ArgMax" | "ArgMin" => Movement::ArgReduce {
            axis: axis.unwrap_or(0),
            keep_dims: node.attr_int("keepdims").unwrap_or(1) != 0,
            select_last: node.attr_int("select_last_index").unwrap_or(0) != 0,
            min: node.op == "ArgMin",
        },
        "Pad" => pad(g, node, fill)?,
        "Resize" | "Upsample" => resize(g, node)?,
        other => return Err(err(format!("{other} is not a data-movement op"))),
    })
}

/// `Pad`: constant (the fill mapped by `fill`), reflect or edge; pads as an attribute
/// (before opset 11) or a constant input, with opset 18's `axes`.
fn pad(g: &Graph, node: &Node, fill: impl Fn(f32) -> i64) -> Result<Movement, String> {
    let err = |what: String| node_error(node, what);
    let values = ints(g, node, "pads", 1)?.ok_or_else(|| err("needs constant pads".into()))?;
    if values.iter().any(|&p| p < 0) {
        return Err(err(format!("negative pads {values:?} (cropping) are not supported")));
    }
    let n = values.len() / 2;
    if let Some(axes) = ints(g, node, "axes", 3)? {
        // Only the full, in-order axes list; others would need the input's rank.
        if axes != (0..n as i64).collect::<Vec<_>>() {
            return Err(err(format!("pads over axes {axes:?} are not supported (give every axis)")));
        }
    }
    let pads: Vec<[usize; 2]> = (0..n).map(|d| [values[d] as usize, values[n + d] as usize]).collect();
    if pads.first().is_some_and(|p| *p != [0, 0]) {
        return Err(err("padding the batch dimension is not supported".into()));
    }
    let value = match input(node, 2) {
        Some(_) => {
            let t = constant(g, node, 2)?;
            match (t.floats(), t.ints()) {
                (Some([v]), _) => fill(*v),
                (_, Some([v])) => fill(*v as f32),
                _ => return Err(err("the constant value must be one value".into())),
            }
        }
        None => fill(node.attr_float("value").unwrap_or(0.0)),
    };
    let mode = match string_attr(node, "mode", "constant") {
        "constant" => PadMode::Constant(value),
        "reflect" => PadMode::Reflect,
        "edge" => PadMode::Edge,
        other => return Err(err(format!("pad mode {other} is not supported"))),
    };
    Ok(Movement::Pad { pads, mode })
}

/// Nearest `Resize` (any coordinate transformation but `tf_crop_and_resize`, any
/// nearest mode) and `Upsample`; linear and cubic are refused by name.
fn resize(g: &Graph, node: &Node) -> Result<Movement, String> {
    let err = |what: String| node_error(node, what);
    let mode = string_attr(node, "mode", "nearest");
    if mode != "nearest" {
        return Err(err(format!("mode {mode} is not supported (nearest is)")));
    }
    if node.attr_int("antialias").unwrap_or(0) != 0 {
        return Err(err("antialias is not supported".into()));
    }
    if string_attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch" {
        return Err(err("keep_aspect_ratio_policy other than stretch is not supported".into()));
    }
    let upsample = node.op == "Upsample";
    let (scales_at, sizes_at) =
        if upsample || (node.inputs.len() == 2 && input(node, 1).is_some()) { (1, usize::MAX) } else { (2, 3) };
    let floats = |at: usize| -> Result<Option<Vec<f32>>, String> {
        match input(node, at) {
            None => Ok(None),
            Some(_) => {
                let t = constant(g, node, at)?;
                let v = t.floats().ok_or_else(|| err("the scales must be float".into()))?;
                Ok(Some(v.to_vec()).filter(|v| !v.is_empty()))
            }
        }
    };
    let target = match (
        floats(scales_at)?,
        match node.attrs.get("scales") {
            Some(Attr::Floats(v)) => Some(v.as_slice()),
            _ => None,
        },
        ints(g, node, "", sizes_at)?,
    ) {
        (Some(s), _, _) => ResizeTarget::Scales(s),
        (None, Some(s), _) => ResizeTarget::Scales(s.to_vec()),
        (None, None, Some(sizes)) if !sizes.is_empty() => {
            ResizeTarget::Sizes(sizes.iter().map(|&s| s.max(0) as usize).collect())
        }
        _ => return Err(err("needs constant scales or sizes".into())),
    };
    if upsample {
        let ResizeTarget::Scales(s) = &target else { unreachable!("Upsample has scales") };
        if s.iter().any(|v| v.fract() != 0.0 || *v < 1.0) {
            return Err(err(format!("scales {s:?}: the reference upsamples by integer factors only")));
        }
    }
    let coordinates = if upsample {
        CoordinateMode::Asymmetric
    } else {
        match string_attr(node, "coordinate_transformation_mode", "half_pixel") {
            "half_pixel" => CoordinateMode::HalfPixel,
            "half_pixel_symmetric" => CoordinateMode::HalfPixelSymmetric,
            "pytorch_half_pixel" => CoordinateMode::PytorchHalfPixel,
            "align_corners" => CoordinateMode::AlignCorners,
            "asymmetric" => CoordinateMode::Asymmetric,
            other => return Err(err(format!("coordinate_transformation_mode {other} is not supported"))),
        }
    };
    let nearest = if upsample {
        NearestMode::Floor
    } else {
        match string_attr(node, "nearest_mode", "round_prefer_floor") {
            "round_prefer_floor" => NearestMode::RoundPreferFloor,
            "round_prefer_ceil" => NearestMode::RoundPreferCeil,
            "floor" => NearestMode::Floor,
            "ceil" => NearestMode::Ceil,
            other => return Err(err(format!("nearest_mode {other} is not supported"))),
        }
    };
    let axes = node.attr_ints("axes").map(<[i64]>::to_vec).unwrap_or_default();
    if let (true, ResizeTarget::Scales(s)) = (axes.is_empty(), &target) {
        if s.first().is_some_and(|&b| b != 1.0) {
            return Err(err("resizing the batch dimension is not supported".into()));
        }
    }
    Ok(Movement::OnnxNearest { axes, target, coordinates, nearest })
}

/// `com.microsoft.QLinearConcat(Y_scale, Y_zero_point, (X, X_scale, X_zero_point)...)`:
/// the inputs' names and parameters, and the output's.
pub fn qlinear_concat(g: &Graph, node: &Node) -> Result<(Vec<String>, Vec<Affine>, Affine), String> {
    let out = affine_at(g, node, 0, 1)?;
    let rest = node.inputs.len().saturating_sub(2);
    if rest == 0 || !rest.is_multiple_of(3) {
        return Err(node_error(node, "takes Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples"));
    }
    let mut names = Vec::new();
    let mut quants = Vec::new();
    for i in (2..node.inputs.len()).step_by(3) {
        names.push(node.inputs[i].clone());
        quants.push(affine_at(g, node, i + 1, i + 2)?);
    }
    let all: Vec<Affine> = quants.iter().copied().chain([out]).collect();
    float32_scales(node, &all)?;
    Ok((names, quants, out))
}

/// The quantized fill of a QDQ `Pad`'s real constant on the output's parameters.
pub fn quantized_fill(out: Affine) -> impl Fn(f32) -> i64 {
    move |v| {
        let range = out.dtype.int_range().expect("8-bit");
        onnx_quantize(v, out.scale, out.zero, range)
    }
}
