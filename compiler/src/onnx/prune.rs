//! Magnitude pruning of a quantized ONNX model's layer weights, keeping its int8
//! quantization: pruned weights are set to their zero point (the value that stands
//! for 0), so the model stays valid for every runtime and the compiler sees the
//! sparsity. `tessera prune` writes the result.
//!
//! Patterns:
//! - `N:M` (`2:4`, `1:4`): in every group of `M` consecutive input channels (the
//!   GEMM's reduction dimension; a convolution's channels at one kernel position),
//!   keep the `N` positions of largest magnitude, shared by each pair of neighbouring
//!   output channels (`2q`, `2q + 1`; their magnitudes summed): the array's N:4 mode
//!   multiplies both columns of a pair by the same activation (`docs/sparse.md`);
//! - `unstructured:S`: in each layer, zero the fraction `S` of weights of smallest
//!   dequantized magnitude `|q - zero| * scale`.
//!
//! Ties keep the earlier weight, so the result is deterministic.

use super::proto::{ModelProto, NodeProto, TensorProto};
use super::tensor::decode;
use crate::tensor::{ElemType, TensorData};
use prost::Message;

/// How to prune.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    NOfM { n: usize, m: usize },
    Unstructured { sparsity: f64 },
}

impl std::str::FromStr for Pattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Pattern, String> {
        if let Some(rest) = s.strip_prefix("unstructured:") {
            let sparsity: f64 = rest.parse().map_err(|_| format!("`{rest}` is not a number"))?;
            if !(0.0..1.0).contains(&sparsity) {
                return Err(format!("sparsity {sparsity} must be in [0, 1)"));
            }
            return Ok(Pattern::Unstructured { sparsity });
        }
        let (n, m) = s.split_once(':').ok_or(format!("`{s}`: expected N:M or unstructured:S"))?;
        let (n, m): (usize, usize) =
            (n.parse().map_err(|_| format!("`{n}`"))?, m.parse().map_err(|_| format!("`{m}`"))?);
        if n == 0 || n >= m {
            return Err(format!("{n}:{m}: N must be in 1..M"));
        }
        Ok(Pattern::NOfM { n, m })
    }
}

/// One pruned weight tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct PrunedWeight {
    /// The layer node and the initializer.
    pub node: String,
    pub initializer: String,
    pub shape: Vec<usize>,
    /// Weights not at their zero point, before and after.
    pub nonzero_before: usize,
    pub nonzero_after: usize,
}

/// Where a layer node keeps its quantized weight: the initializer, its zero-point and
/// scale initializers, and the weight's (output-channel axis, input-channel axis).
struct WeightRef {
    value: String,
    zero: Option<String>,
    scale: Option<String>,
    out_axis: usize,
    in_axis: usize,
}

/// The weight of a quantized layer node, if it is one.
fn weight_of(node: &NodeProto, producers: &std::collections::HashMap<&str, &NodeProto>) -> Option<WeightRef> {
    let input = |i: usize| node.input.get(i).filter(|s| !s.is_empty()).cloned();
    let trans_b = node.attribute.iter().any(|a| a.name.as_deref() == Some("transB") && a.i == Some(1));
    let op = node.op_type.as_deref().unwrap_or("");
    let gemm_axes = if trans_b { (0, 1) } else { (1, 0) };
    let (holder_inputs, axes) = match (node.domain.as_deref().unwrap_or(""), op) {
        ("" | "ai.onnx", "QLinearMatMul") => ((3, Some(5), Some(4)), (1, 0)),
        ("" | "ai.onnx", "QLinearConv") => ((3, Some(5), Some(4)), (0, 1)),
        ("" | "ai.onnx", "MatMulInteger") => ((1, Some(3), None), (1, 0)),
        ("" | "ai.onnx", "ConvInteger") => ((1, Some(3), None), (0, 1)),
        ("com.microsoft", "QGemm") => ((3, Some(5), Some(4)), gemm_axes),
        ("" | "ai.onnx", "MatMul" | "Gemm" | "Conv") => {
            // QDQ: the weight is DequantizeLinear of an initializer.
            let dq = producers.get(input(1)?.as_str()).filter(|p| p.op_type.as_deref() == Some("DequantizeLinear"))?;
            let axes = match op {
                "Conv" => (0, 1),
                "Gemm" => gemm_axes,
                _ => (1, 0),
            };
            let at = |i: usize| dq.input.get(i).filter(|s| !s.is_empty()).cloned();
            return Some(WeightRef { value: at(0)?, zero: at(2), scale: at(1), out_axis: axes.0, in_axis: axes.1 });
        }
        _ => return None,
    };
    let (value, zero, scale) = holder_inputs;
    Some(WeightRef {
        value: input(value)?,
        zero: zero.and_then(input),
        scale: scale.and_then(input),
        out_axis: axes.0,
        in_axis: axes.1,
    })
}

/// Prunes every quantized layer weight of the serialized model `bytes` with `pattern`;
/// returns the new model and what changed.
pub fn prune_model(bytes: &[u8], pattern: Pattern) -> Result<(Vec<u8>, Vec<PrunedWeight>), String> {
    let mut model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model (protobuf: {e})"))?;
    let graph = model.graph.as_mut().ok_or("the model has no graph")?;
    let producers: std::collections::HashMap<&str, &NodeProto> =
        graph.node.iter().flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n))).collect();
    let refs: Vec<(String, WeightRef)> = graph
        .node
        .iter()
        .filter_map(|n| weight_of(n, &producers).map(|w| (n.name.clone().unwrap_or_default(), w)))
        .collect();
    let mut pruned = Vec::new();
    for (node, w) in refs {
        let find = |name: &str| graph.initializer.iter().position(|t| t.name.as_deref() == Some(name));
        let Some(at) = find(&w.value) else { continue };
        let context = |e: String| format!("node `{node}`, weight `{}`: {e}", w.value);
        let tensor = decode(&graph.initializer[at]).map_err(context)?;
        let TensorData::Int(values) = &tensor.data else { continue };
        if !matches!(tensor.dtype, ElemType::I8 | ElemType::U8) {
            continue;
        }
        let ints = |name: &Option<String>| -> Result<Vec<i64>, String> {
            match name.as_deref().and_then(find) {
                Some(i) => match decode(&graph.initializer[i]).map_err(context)?.data {
                    TensorData::Int(v) => Ok(v),
                    TensorData::Float(_) => Err(context("the zero point is not integer".into())),
                },
                None => Ok(vec![0]),
            }
        };
        let floats = |name: &Option<String>| -> Result<Vec<f32>, String> {
            match name.as_deref().and_then(find) {
                Some(i) => match decode(&graph.initializer[i]).map_err(context)?.data {
                    TensorData::Float(v) => Ok(v),
                    TensorData::Int(_) => Err(context("the scale is not float".into())),
                },
                None => Ok(vec![1.0]),
            }
        };
        let (zeros, scales) = (ints(&w.zero)?, floats(&w.scale)?);
        let shape = tensor.shape.clone();
        if shape.len() < 2 || w.out_axis >= shape.len() || w.in_axis >= shape.len() {
            return Err(context(format!("a weight of shape {shape:?} is not a layer weight")));
        }
        let new = prune_values(values, &shape, &w, &zeros, &scales, pattern);
        let nonzero =
            |v: &[i64]| v.iter().enumerate().filter(|(i, q)| **q != zero_of(&zeros, &shape, w.out_axis, *i)).count();
        pruned.push(PrunedWeight {
            node: node.clone(),
            initializer: w.value.clone(),
            shape: shape.clone(),
            nonzero_before: nonzero(values),
            nonzero_after: nonzero(&new),
        });
        graph.initializer[at] = int8_tensor(&graph.initializer[at], &new);
    }
    Ok((model.encode_to_vec(), pruned))
}

/// The output channel of flat index `i` in a tensor of `shape`.
fn channel(shape: &[usize], axis: usize, i: usize) -> usize {
    let inner: usize = shape[axis + 1..].iter().product();
    i / inner % shape[axis]
}

fn per_channel<T: Copy>(v: &[T], shape: &[usize], axis: usize, i: usize) -> T {
    if v.len() == 1 {
        v[0]
    } else {
        v[channel(shape, axis, i)]
    }
}

fn zero_of(zeros: &[i64], shape: &[usize], axis: usize, i: usize) -> i64 {
    per_channel(zeros, shape, axis, i)
}

fn prune_values(
    values: &[i64],
    shape: &[usize],
    w: &WeightRef,
    zeros: &[i64],
    scales: &[f32],
    pattern: Pattern,
) -> Vec<i64> {
    let zero = |i: usize| zero_of(zeros, shape, w.out_axis, i);
    let magnitude = |i: usize| {
        (values[i] - zero(i)).unsigned_abs() as f64 * f64::from(per_channel(scales, shape, w.out_axis, i)).abs()
    };
    let mut out = values.to_vec();
    match pattern {
        Pattern::Unstructured { sparsity } => {
            let mut order: Vec<usize> = (0..values.len()).collect();
            order.sort_by(|&a, &b| magnitude(a).total_cmp(&magnitude(b)).then(a.cmp(&b)));
            for &i in &order[..(sparsity * values.len() as f64).floor() as usize] {
                out[i] = zero(i);
            }
        }
        Pattern::NOfM { n, m } => {
            for drop in n_of_m_drops(shape, w.in_axis, w.out_axis, n, m, magnitude) {
                out[drop] = zero(drop);
            }
        }
    }
    out
}

/// The indices N:M pruning removes from a tensor of `shape`: in every group of `m`
/// consecutive indices along `in_axis`, all but the `n` positions of largest
/// `magnitude` summed over each pair of neighbouring indices along `out_axis` (the
/// column pairs of the array's N:4 mode). Ties keep the earlier position.
pub fn n_of_m_drops(
    shape: &[usize],
    in_axis: usize,
    out_axis: usize,
    n: usize,
    m: usize,
    magnitude: impl Fn(usize) -> f64,
) -> Vec<usize> {
    let stride: usize = shape[in_axis + 1..].iter().product();
    let len = shape[in_axis];
    let out_stride: usize = shape[out_axis + 1..].iter().product();
    let out_len = shape[out_axis];
    let mut drops = Vec::new();
    for i in 0..shape.iter().product() {
        let (c, o) = (i / stride % len, i / out_stride % out_len);
        if !c.is_multiple_of(m) || !o.is_multiple_of(2) {
            continue;
        }
        let pair: Vec<usize> = if o + 1 < out_len { vec![i, i + out_stride] } else { vec![i] };
        let score = |j: usize| pair.iter().map(|&p| magnitude(p + j * stride)).sum::<f64>();
        let mut ranked: Vec<usize> = (0..m.min(len - c)).collect();
        ranked.sort_by(|&a, &b| score(b).total_cmp(&score(a)).then(a.cmp(&b)));
        for &j in &ranked[n.min(ranked.len())..] {
            drops.extend(pair.iter().map(|&p| p + j * stride));
        }
    }
    drops
}

/// `t` with its values replaced by `values` (raw little-endian bytes, same type).
fn int8_tensor(t: &TensorProto, values: &[i64]) -> TensorProto {
    TensorProto { raw_data: Some(values.iter().map(|&v| v as u8).collect()), int32_data: Vec::new(), ..t.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul_weight() -> WeightRef {
        // A MatMul weight [K, N]: output channels along axis 1, input channels axis 0.
        WeightRef { value: "w".into(), zero: None, scale: None, out_axis: 1, in_axis: 0 }
    }

    #[test]
    fn two_of_four_keeps_the_largest_positions_of_each_column_pair() {
        // K = 4, N = 3, row-major; zero points 1, -2 and 0 per column.
        #[rustfmt::skip]
        let w = [
            5, 0, 1,
            1, -9, 2,
            -3, 7, -5,
            2, -2, 4,
        ];
        let zeros = [1, -2, 0];
        let out = prune_values(&w, &[4, 3], &matmul_weight(), &zeros, &[1.0], Pattern::NOfM { n: 2, m: 4 });
        // Pair (0, 1): rows score 4+2, 0+7, 4+9, 1+0 -> keep rows 2 and 1.
        // Column 2 has no partner: |1|, |2|, |-5|, |4| -> keep rows 2 and 3.
        #[rustfmt::skip]
        let expect = vec![
            1, -2, 0,
            1, -9, 0,
            -3, 7, -5,
            1, -2, 4,
        ];
        assert_eq!(out, expect);
    }

    #[test]
    fn unstructured_removes_the_smallest_dequantized_magnitudes() {
        // Per-column scales make column 1's small integers the large real values.
        let w = [10, 1, -20, 2, 30, -3, 1, 4];
        let out = prune_values(
            &w,
            &[4, 2],
            &matmul_weight(),
            &[0, 0],
            &[1.0, 100.0],
            Pattern::Unstructured { sparsity: 0.5 },
        );
        // Magnitudes: 10, 100, 20, 200, 30, 300, 1, 400: the four smallest are
        // 1 (row 3 col 0), 10, 20, 30 -> column 0 becomes all zero.
        assert_eq!(out, vec![0, 1, 0, 2, 0, -3, 0, 4]);
    }

    #[test]
    fn patterns_parse_and_bad_ones_say_why() {
        assert_eq!("2:4".parse::<Pattern>(), Ok(Pattern::NOfM { n: 2, m: 4 }));
        assert_eq!("unstructured:0.9".parse::<Pattern>(), Ok(Pattern::Unstructured { sparsity: 0.9 }));
        assert!("4:4".parse::<Pattern>().unwrap_err().contains("N must be in 1..M"));
        assert!("unstructured:1.5".parse::<Pattern>().unwrap_err().contains("must be in [0, 1)"));
        assert!("dense".parse::<Pattern>().unwrap_err().contains("expected N:M"));
    }
}
