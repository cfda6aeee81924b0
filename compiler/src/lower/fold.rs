//! Compile-time folding of constant subgraphs: ONNX shape arithmetic as exporters write
//! it (`Shape` of a value whose shape the lowering knows, then `Gather`, `Unsqueeze`,
//! `Concat`, `Cast`, `Add`, `Div`, ... on the integers, feeding a `Reshape`'s shape or
//! a `Slice`'s bounds, as torch.onnx.export writes `x.view(b, -1)` or `chunk`). Every
//! node of [`FOLDABLE`] whose inputs are all integer constants becomes the constant it
//! computes; what remains is lowered as usual.

use super::movement::movement;
use super::params::node_error;
use crate::graph::{Graph, Node};
use crate::shape::broadcast_shape;
use crate::tensor::{ElemType, Tensor, TensorData};

/// Ops evaluated on integer constants.
const FOLDABLE: [&str; 16] = [
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Slice",
    "Identity",
    "Transpose",
    "Reshape",
    "Cast",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Neg",
    "Abs",
    "Shape",
];

/// The constant `Shape` of a value of `shape` (its `start` / `end` attributes applied).
pub fn shape_constant(node: &Node, shape: &[usize]) -> Tensor {
    let rank = shape.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
    let start = clamp(node.attr_int("start").unwrap_or(0));
    let end = clamp(node.attr_int("end").unwrap_or(rank)).max(start);
    let dims: Vec<i64> = shape[start..end].iter().map(|&d| d as i64).collect();
    Tensor { dtype: ElemType::I64, shape: vec![dims.len()], data: TensorData::Int(dims) }
}

/// Whether `node` is standard and foldable with all of its inputs integer constants
/// (any constant for `Identity`, which exporters put on shared weights).
fn foldable(g: &Graph, node: &Node) -> bool {
    let identity = node.op == "Identity";
    (node.domain.is_empty() || node.domain == "ai.onnx")
        && FOLDABLE.contains(&node.op.as_str())
        && node.outputs.len() == 1
        && node
            .inputs
            .iter()
            .filter(|i| !i.is_empty())
            .all(|i| g.constant(i).is_some_and(|t| identity || t.ints().is_some()))
        && !node.inputs.is_empty()
        && !g.outputs.iter().any(|o| o.name == node.outputs[0])
}

/// Whether `g` has a node to fold.
pub fn any(g: &Graph) -> bool {
    g.nodes.iter().any(|n| foldable(g, n) || constant_alias(g, n))
}

/// An `Identity` of a dequantized constant (exporters share equal weights through
/// `Identity`; quantize_static then dequantizes the first copy): its readers can read
/// its input.
fn constant_alias(g: &Graph, node: &Node) -> bool {
    node.op == "Identity"
        && node.inputs.len() == 1
        && node.outputs.len() == 1
        && !g.outputs.iter().any(|o| o.name == node.outputs[0])
        && g.producer(&node.inputs[0]).is_some_and(|p| p.op == "DequantizeLinear" && g.constant(&p.inputs[0]).is_some())
}

/// Replaces every foldable node of `g` (in order, so that chains fold) by its value.
pub fn fold(g: &mut Graph) -> Result<(), String> {
    while let Some(i) = g.nodes.iter().position(|n| constant_alias(g, n)) {
        let node = g.nodes.remove(i);
        for reader in &mut g.nodes {
            for input in reader.inputs.iter_mut().filter(|x| **x == node.outputs[0]) {
                *input = node.inputs[0].clone();
            }
        }
    }
    let mut kept = Vec::with_capacity(g.nodes.len());
    for node in std::mem::take(&mut g.nodes) {
        if foldable(g, &node) {
            let value = evaluate(g, &node)?;
            g.constants.insert(node.outputs[0].clone(), value);
        } else {
            kept.push(node);
        }
    }
    g.nodes = kept;
    Ok(())
}

fn ints<'g>(g: &'g Graph, name: &str) -> (&'g [i64], &'g [usize]) {
    let t = g.constant(name).expect("checked by foldable");
    (t.ints().expect("checked by foldable"), &t.shape)
}

fn evaluate(g: &Graph, node: &Node) -> Result<Tensor, String> {
    let err = |what: String| node_error(node, format!("folding constants: {what}"));
    if node.op == "Identity" {
        return Ok(g.constant(&node.inputs[0]).expect("checked by foldable").clone());
    }
    let (x, x_shape) = ints(g, &node.inputs[0]);
    let dtype = g.constant(&node.inputs[0]).expect("checked by foldable").dtype;
    let int = |shape: Vec<usize>, values: Vec<i64>, dtype| Tensor { dtype, shape, data: TensorData::Int(values) };
    Ok(match node.op.as_str() {
        "Shape" => shape_constant(node, x_shape),
        "Cast" => {
            let to = node.attr_int("to").ok_or_else(|| err("needs `to`".into()))?;
            let to = crate::onnx::elem_type(to as i32).map_err(err)?;
            if to.int_range().is_none() {
                return Err(err(format!("casts integers to {to}: only integer casts fold")));
            }
            int(x_shape.to_vec(), x.to_vec(), to)
        }
        "Reshape" => {
            let (target, _) = ints(g, &node.inputs[1]);
            let shape = crate::shape::reshape_shape(x_shape, target).map_err(|e| err(e.to_string()))?;
            int(shape, x.to_vec(), dtype)
        }
        "Gather" => {
            let (indices, i_shape) = ints(g, &node.inputs[1]);
            let (values, shape) =
                gather(x, x_shape, indices, i_shape, node.attr_int("axis").unwrap_or(0)).map_err(err)?;
            int(shape, values, dtype)
        }
        "Neg" => int(x_shape.to_vec(), x.iter().map(|v| -v).collect(), dtype),
        "Abs" => int(x_shape.to_vec(), x.iter().map(|v| v.abs()).collect(), dtype),
        "Add" | "Sub" | "Mul" | "Div" => {
            let (y, y_shape) = ints(g, &node.inputs[1]);
            let shape = broadcast_shape(x_shape, y_shape).map_err(|e| err(e.to_string()))?;
            let (a, b) = (broadcast(x, x_shape, &shape), broadcast(y, y_shape, &shape));
            let values = a
                .iter()
                .zip(&b)
                .map(|(&a, &b)| match node.op.as_str() {
                    "Add" => a.checked_add(b),
                    "Sub" => a.checked_sub(b),
                    "Mul" => a.checked_mul(b),
                    // ONNX integer division truncates (the reference casts numpy's quotient).
                    _ => a.checked_div(b),
                })
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(|| err("overflow or division by zero".into()))?;
            int(shape, values, dtype)
        }
        _ => {
            let data: Vec<&str> = node.inputs.iter().filter(|i| !i.is_empty()).map(String::as_str).collect();
            let count = super::movement::data_inputs(node).min(data.len());
            let (values, shapes): (Vec<&[i64]>, Vec<&[usize]>) = data[..count].iter().map(|i| ints(g, i)).unzip();
            let m = movement(g, node, 0, |v| v as i64)?;
            let (values, shape) = m.run(&values, &shapes).map_err(err)?;
            int(shape, values, dtype)
        }
    })
}

/// ONNX `Gather` of `indices` (negative ones count from the end) along `axis`.
fn gather(
    x: &[i64],
    shape: &[usize],
    indices: &[i64],
    i_shape: &[usize],
    axis: i64,
) -> Result<(Vec<i64>, Vec<usize>), String> {
    let rank = shape.len() as i64;
    let axis = if axis < 0 { axis + rank } else { axis };
    if !(0..rank).contains(&axis) {
        return Err(format!("axis {axis} is outside a rank-{rank} tensor"));
    }
    let axis = axis as usize;
    let (outer, n, inner) =
        (shape[..axis].iter().product::<usize>(), shape[axis], shape[axis + 1..].iter().product::<usize>());
    let mut out = Vec::with_capacity(outer * indices.len() * inner);
    for o in 0..outer {
        for &i in indices {
            let i = if i < 0 { i + n as i64 } else { i };
            let i = usize::try_from(i).ok().filter(|&i| i < n).ok_or_else(|| format!("index {i} is outside {n}"))?;
            out.extend_from_slice(&x[(o * n + i) * inner..(o * n + i + 1) * inner]);
        }
    }
    let out_shape = shape[..axis].iter().chain(i_shape).chain(&shape[axis + 1..]).copied().collect();
    Ok((out, out_shape))
}

/// `x` of `from` broadcast (numpy) to `to`, row-major.
fn broadcast(x: &[i64], from: &[usize], to: &[usize]) -> Vec<i64> {
    let offset = to.len() - from.len();
    let count: usize = to.iter().product();
    (0..count)
        .map(|mut flat| {
            let mut index = 0;
            let mut stride = 1;
            for axis in (0..to.len()).rev() {
                let i = flat % to[axis];
                flat /= to[axis];
                if axis >= offset {
                    let d = from[axis - offset];
                    index += if d == 1 { 0 } else { i * stride };
                    stride *= d;
                }
            }
            x[index]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{broadcast, gather};

    #[test]
    fn gather_takes_indices_along_the_axis_and_counts_negative_ones_from_the_end() {
        // A shape [1, 48, 8, 8]: Gather(axis 0, index 1) -> 48, as `x.size(1)`.
        assert_eq!(gather(&[1, 48, 8, 8], &[4], &[1], &[], 0).unwrap(), (vec![48], vec![]));
        assert_eq!(gather(&[1, 48, 8, 8], &[4], &[-1, 0], &[2], 0).unwrap(), (vec![8, 1], vec![2]));
        // [[1, 2, 3], [4, 5, 6]] along axis 1, indices [2, 0].
        assert_eq!(gather(&[1, 2, 3, 4, 5, 6], &[2, 3], &[2, 0], &[2], 1).unwrap(), (vec![3, 1, 6, 4], vec![2, 2]));
        assert!(gather(&[1, 2], &[2], &[2], &[1], 0).is_err());
    }

    #[test]
    fn broadcast_repeats_unit_and_missing_axes() {
        assert_eq!(broadcast(&[7], &[1], &[2, 2]), vec![7, 7, 7, 7]);
        assert_eq!(broadcast(&[1, 2], &[2], &[3, 2]), vec![1, 2, 1, 2, 1, 2]);
        assert_eq!(broadcast(&[1, 2], &[2, 1], &[2, 3]), vec![1, 1, 1, 2, 2, 2]);
    }
}
