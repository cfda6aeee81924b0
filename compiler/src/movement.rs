//! Data-movement and shape operators (concat, split and slice, gather with constant
//! indices, transpose, squeeze, padding, nearest-neighbour resize, depth <-> space,
//! arg max/min): their parameters as the importers read them, their output shapes,
//! and their execution on a value's elements in logical (row-major) order.
//!
//! They never change a value, only where it is, so one generic implementation
//! serves the compiler's shape planning and the runtime's host operators, on
//! integers of any type. Parameters that depend on the input's shape (ONNX's
//! clamped slice bounds, negative axes, resize scales) are resolved against the
//! shape the op actually sees, so a batch runs with the same op.

use serde::{Deserialize, Serialize};

/// How padding fills the positions outside the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PadMode {
    /// A constant (a quantized value on the output's parameters).
    Constant(i64),
    /// Mirror without repeating the edge (`[a b c] -> b [a b c] b`).
    Reflect,
    /// Mirror repeating the edge (`[a b c] -> a [a b c] c`).
    Symmetric,
    /// Repeat the edge.
    Edge,
}

/// How ONNX's `Resize` maps an output coordinate to an input coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoordinateMode {
    HalfPixel,
    HalfPixelSymmetric,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
}

/// How ONNX's nearest `Resize` rounds an input coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NearestMode {
    RoundPreferFloor,
    RoundPreferCeil,
    Floor,
    Ceil,
}

/// The output size of a resize: per-axis scales (ONNX `scales`), or sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ResizeTarget {
    /// One float32 scale per listed axis.
    Scales(Vec<f32>),
    /// One size per listed axis.
    Sizes(Vec<usize>),
}

/// A data-movement operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Movement {
    /// Concatenation of every input along `axis` (negative: from the end).
    Concat { axis: i64 },
    /// Per listed axis `(axis, start, step, count)`: output index `i` reads input
    /// index `start + i * step` (TFLite's `STRIDED_SLICE`, `SLICE`, `SPLIT`, resolved
    /// by the importer; `step` may be negative).
    Strided { axes: Vec<(usize, i64, i64, usize)> },
    /// Part `index` of `count` along `axis`, ONNX `Split` without sizes: parts of
    /// `ceil(dim / count)`, the last one smaller.
    SplitPart { axis: i64, index: usize, count: usize },
    /// ONNX `Slice`: per axis, `starts`, `ends`, `steps`, clamped to the input as
    /// ONNX specifies (so `INT64_MAX` and negative bounds work for any shape).
    Slice { axes: Vec<i64>, starts: Vec<i64>, ends: Vec<i64>, steps: Vec<i64> },
    /// `Gather` along `axis` with constant `indices` (negative: from the end), shaped
    /// `index_shape` in the output (empty: a scalar index, the axis disappears).
    Take { axis: i64, indices: Vec<i64>, index_shape: Vec<usize> },
    /// Axis `i` of the output is axis `perm[i]` of the input.
    Transpose { perm: Vec<usize> },
    /// Drops `axes` (all size-1 axes if `None`).
    Squeeze { axes: Option<Vec<i64>> },
    /// Inserts size-1 axes at `axes` (positions in the output).
    Unsqueeze { axes: Vec<i64> },
    /// (before, after) padding per dimension.
    Pad { pads: Vec<[usize; 2]>, mode: PadMode },
    /// TFLite's `RESIZE_NEAREST_NEIGHBOR` of an NHWC value to `size` (height, width).
    TfliteNearest { size: [usize; 2], align_corners: bool, half_pixel_centers: bool },
    /// ONNX's nearest `Resize` over `axes` (all when empty), as its reference computes.
    OnnxNearest { axes: Vec<i64>, target: ResizeTarget, coordinates: CoordinateMode, nearest: NearestMode },
    /// `DEPTH_TO_SPACE` / `DepthToSpace`: NHWC (TFLite, DCR order) or NCHW, DCR or CRD.
    DepthToSpace { block: usize, crd: bool, channels_last: bool },
    /// `SPACE_TO_DEPTH` / `SpaceToDepth`, NHWC or NCHW.
    SpaceToDepth { block: usize, channels_last: bool },
    /// The index of the largest (`min`: smallest) value along `axis`: the first one,
    /// or the last with `select_last` (ONNX `select_last_index`).
    ArgReduce { axis: i64, keep_dims: bool, select_last: bool, min: bool },
}

/// Where each output element comes from.
enum Plan {
    /// Per axis of the output, an index map into the input (`None`: the whole axis;
    /// an entry `None`: the fill value).
    Axes { in_shape: Vec<usize>, out_shape: Vec<usize>, maps: Vec<Option<Vec<Option<usize>>>> },
    /// The input viewed as `view`, its axes permuted, the result of `out_shape`.
    Permute { view: Vec<usize>, perm: Vec<usize>, out_shape: Vec<usize> },
    /// The inputs one after the other along `axis`.
    Concat { axis: usize, shapes: Vec<Vec<usize>>, out_shape: Vec<usize> },
    /// The same elements, another shape.
    Reshape(Vec<usize>),
    /// Arg max/min along `axis`.
    Arg { shape: Vec<usize>, axis: usize, out_shape: Vec<usize> },
}

/// `axis` (negative: from the end) of a rank-`rank` tensor.
fn axis_of(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a).ok().filter(|&a| a < rank).ok_or(format!("axis {axis} is outside a rank-{rank} tensor"))
}

impl Movement {
    /// The output shape for inputs of `shapes`.
    pub fn output_shape(&self, shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
        Ok(match self.plan(shapes)? {
            Plan::Axes { out_shape, .. }
            | Plan::Permute { out_shape, .. }
            | Plan::Concat { out_shape, .. }
            | Plan::Reshape(out_shape)
            | Plan::Arg { out_shape, .. } => out_shape,
        })
    }

    /// Whether the output keeps the input's elements in the same order (a reshape).
    pub fn is_reshape(&self) -> bool {
        matches!(self, Movement::Squeeze { .. } | Movement::Unsqueeze { .. })
    }

    /// Runs the operator on `inputs` (row-major, of `shapes`): the output and its shape.
    pub fn run<T: Copy + PartialOrd + From<i32> + TryFrom<i64>>(
        &self,
        inputs: &[&[T]],
        shapes: &[&[usize]],
    ) -> Result<(Vec<T>, Vec<usize>), String> {
        if inputs.len() != shapes.len()
            || inputs.iter().zip(shapes).any(|(x, s)| x.len() != s.iter().product::<usize>())
        {
            return Err("the inputs do not match their shapes".into());
        }
        let fill = match self {
            Movement::Pad { mode: PadMode::Constant(v), .. } => {
                T::try_from(*v).map_err(|_| format!("the pad value {v} does not fit the type"))?
            }
            _ => T::from(0),
        };
        let x = inputs.first().ok_or("no input")?;
        Ok(match self.plan(shapes)? {
            Plan::Reshape(shape) => (x.to_vec(), shape),
            Plan::Axes { in_shape, out_shape, maps } => (gather_axes(x, &in_shape, &out_shape, &maps, fill), out_shape),
            Plan::Permute { view, perm, out_shape } => (permute(x, &view, &perm), out_shape),
            Plan::Concat { axis, shapes, out_shape } => {
                let outer: usize = out_shape[..axis].iter().product();
                let mut out = Vec::with_capacity(out_shape.iter().product());
                for o in 0..outer {
                    for (x, s) in inputs.iter().zip(&shapes) {
                        let block: usize = s[axis..].iter().product();
                        out.extend_from_slice(&x[o * block..(o + 1) * block]);
                    }
                }
                (out, out_shape)
            }
            Plan::Arg { shape, axis, out_shape } => {
                let Movement::ArgReduce { select_last, min, .. } = *self else { unreachable!("arg plan") };
                let (len, inner) = (shape[axis], shape[axis + 1..].iter().product::<usize>());
                let outer: usize = shape[..axis].iter().product();
                let mut out = Vec::with_capacity(outer * inner);
                for o in 0..outer {
                    for i in 0..inner {
                        let at = |k: usize| x[(o * len + k) * inner + i];
                        let mut best = 0;
                        for k in 1..len {
                            let (v, b) = (at(k), at(best));
                            let better = if min { v < b } else { v > b };
                            if better || (select_last && v == b) {
                                best = k;
                            }
                        }
                        out.push(T::from(best as i32));
                    }
                }
                (out, out_shape)
            }
        })
    }

    fn plan(&self, shapes: &[&[usize]]) -> Result<Plan, String> {
        let shape = shapes.first().ok_or("no input")?.to_vec();
        let rank = shape.len();
        let identity = |rank: usize| -> Vec<Option<Vec<Option<usize>>>> { vec![None; rank] };
        match self {
            Movement::Concat { axis } => {
                let axis = axis_of(*axis, rank)?;
                let mut out_shape = shape.clone();
                out_shape[axis] = 0;
                for s in shapes {
                    let same = s.len() == rank && (0..rank).all(|d| d == axis || s[d] == shape[d]);
                    if !same {
                        return Err(format!("inputs {shapes:?} do not concatenate along axis {axis}"));
                    }
                    out_shape[axis] += s[axis];
                }
                Ok(Plan::Concat { axis, shapes: shapes.iter().map(|s| s.to_vec()).collect(), out_shape })
            }
            Movement::Strided { axes } => {
                let mut maps = identity(rank);
                let mut out_shape = shape.clone();
                for &(axis, start, step, count) in axes {
                    let dim = *shape.get(axis).ok_or(format!("axis {axis} is outside a rank-{rank} tensor"))?;
                    if (start, step, count) == (0, 1, dim) {
                        continue;
                    }
                    let map: Vec<Option<usize>> = (0..count)
                        .map(|i| {
                            let at = start + i as i64 * step;
                            usize::try_from(at).ok().filter(|&a| a < dim).map(Some)
                        })
                        .collect::<Option<_>>()
                        .ok_or(format!("a slice of axis {axis} reads outside its {dim} elements"))?;
                    out_shape[axis] = count;
                    maps[axis] = Some(map);
                }
                Ok(Plan::Axes { in_shape: shape, out_shape, maps })
            }
            Movement::SplitPart { axis, index, count } => {
                let axis = axis_of(*axis, rank)?;
                if *count == 0 || index >= count {
                    return Err(format!("part {index} of {count}"));
                }
                let chunk = shape[axis].div_ceil(*count);
                let start = (index * chunk).min(shape[axis]);
                let len = if index + 1 == *count { shape[axis] - start } else { chunk.min(shape[axis] - start) };
                Movement::Strided { axes: vec![(axis, start as i64, 1, len)] }.plan(shapes)
            }
            Movement::Slice { axes, starts, ends, steps } => {
                let mut resolved = Vec::new();
                for (i, &a) in axes.iter().enumerate() {
                    let axis = axis_of(a, rank)?;
                    let (dim, step) = (shape[axis] as i64, steps[i]);
                    if step == 0 {
                        return Err(format!("slice step 0 on axis {a}"));
                    }
                    let norm = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
                    let (start, end) = if step > 0 {
                        (norm(starts[i]).clamp(0, dim), norm(ends[i]).clamp(0, dim))
                    } else {
                        (norm(starts[i]).clamp(0, dim - 1), norm(ends[i]).clamp(-1, dim - 1))
                    };
                    let count = if step > 0 {
                        ((end - start).max(0) as u64).div_ceil(step as u64)
                    } else {
                        ((start - end).max(0) as u64).div_ceil(step.unsigned_abs())
                    };
                    resolved.push((axis, start, step, count as usize));
                }
                Movement::Strided { axes: resolved }.plan(shapes)
            }
            Movement::Take { axis, indices, index_shape } => {
                let axis = axis_of(*axis, rank)?;
                let dim = shape[axis] as i64;
                let map: Vec<Option<usize>> = indices
                    .iter()
                    .map(|&i| {
                        let at = if i < 0 { i + dim } else { i };
                        (0..dim)
                            .contains(&at)
                            .then_some(Some(at as usize))
                            .ok_or(format!("index {i} is outside axis {axis} of {} elements", shape[axis]))
                    })
                    .collect::<Result<_, _>>()?;
                if index_shape.iter().product::<usize>() != map.len() {
                    return Err(format!("{} indices for an index shape {index_shape:?}", map.len()));
                }
                let mut maps = identity(rank);
                maps[axis] = Some(map);
                // Gathered with the indices flat, in the order the index shape takes them.
                let out_shape: Vec<usize> =
                    shape[..axis].iter().chain(index_shape).chain(&shape[axis + 1..]).copied().collect();
                Ok(Plan::Axes { in_shape: shape, out_shape, maps })
            }
            Movement::Transpose { perm } => {
                let mut seen = perm.clone();
                seen.sort_unstable();
                if seen != (0..rank).collect::<Vec<_>>() {
                    return Err(format!("permutation {perm:?} of a rank-{rank} tensor"));
                }
                let out_shape = perm.iter().map(|&p| shape[p]).collect();
                Ok(Plan::Permute { view: shape, perm: perm.clone(), out_shape })
            }
            Movement::Squeeze { axes } => {
                let drop: Vec<usize> = match axes {
                    None => (0..rank).filter(|&d| shape[d] == 1).collect(),
                    Some(axes) => axes.iter().map(|&a| axis_of(a, rank)).collect::<Result<_, _>>()?,
                };
                if let Some(&d) = drop.iter().find(|&&d| shape[d] != 1) {
                    return Err(format!("axis {d} of {shape:?} is not 1 and cannot be squeezed"));
                }
                Ok(Plan::Reshape((0..rank).filter(|d| !drop.contains(d)).map(|d| shape[d]).collect()))
            }
            Movement::Unsqueeze { axes } => {
                let out_rank = rank + axes.len();
                let mut at: Vec<usize> = axes.iter().map(|&a| axis_of(a, out_rank)).collect::<Result<_, _>>()?;
                at.sort_unstable();
                at.dedup();
                if at.len() != axes.len() {
                    return Err(format!("repeated axes {axes:?}"));
                }
                let mut dims = shape.iter();
                let out = (0..out_rank).map(|d| if at.contains(&d) { 1 } else { *dims.next().expect("rank") });
                Ok(Plan::Reshape(out.collect()))
            }
            Movement::Pad { pads, mode } => {
                if pads.len() != rank {
                    return Err(format!("{} paddings for a rank-{rank} tensor", pads.len()));
                }
                let mut maps = identity(rank);
                let mut out_shape = shape.clone();
                for (d, &[before, after]) in pads.iter().enumerate() {
                    if before == 0 && after == 0 {
                        continue;
                    }
                    let n = shape[d] as i64;
                    let limit = match mode {
                        PadMode::Reflect => n - 1,
                        PadMode::Symmetric => n,
                        _ => i64::MAX,
                    };
                    if before.max(after) as i64 > limit || n == 0 {
                        return Err(format!("padding {before}, {after} of axis {d} exceeds its {n} elements"));
                    }
                    let map = (-(before as i64)..n + after as i64)
                        .map(|i| {
                            let j = match (mode, i) {
                                (_, i) if (0..n).contains(&i) => i,
                                (PadMode::Constant(_), _) => return None,
                                (PadMode::Reflect, i) if i < 0 => -i,
                                (PadMode::Reflect, i) => 2 * (n - 1) - i,
                                (PadMode::Symmetric, i) if i < 0 => -i - 1,
                                (PadMode::Symmetric, i) => 2 * n - 1 - i,
                                (PadMode::Edge, i) => i.clamp(0, n - 1),
                            };
                            Some(j as usize)
                        })
                        .collect::<Vec<_>>();
                    out_shape[d] = map.len();
                    maps[d] = Some(map);
                }
                Ok(Plan::Axes { in_shape: shape, out_shape, maps })
            }
            Movement::TfliteNearest { size, align_corners, half_pixel_centers } => {
                if rank != 4 {
                    return Err(format!("resizes an NHWC image, not {shape:?}"));
                }
                let mut maps = identity(rank);
                let mut out_shape = shape.clone();
                for (d, &out) in [1, 2].iter().zip(size) {
                    let map = (0..out)
                        .map(|i| Some(tflite_nearest(i, shape[*d], out, *align_corners, *half_pixel_centers)))
                        .collect();
                    maps[*d] = Some(map);
                    out_shape[*d] = out;
                }
                Ok(Plan::Axes { in_shape: shape, out_shape, maps })
            }
            Movement::OnnxNearest { axes, target, coordinates, nearest } => {
                let axes: Vec<usize> = if axes.is_empty() {
                    (0..rank).collect()
                } else {
                    axes.iter().map(|&a| axis_of(a, rank)).collect::<Result<_, _>>()?
                };
                let count = match target {
                    ResizeTarget::Scales(s) => s.len(),
                    ResizeTarget::Sizes(s) => s.len(),
                };
                if count != axes.len() {
                    return Err(format!("{count} scales or sizes for {} axes", axes.len()));
                }
                let mut maps = identity(rank);
                let mut out_shape = shape.clone();
                for (i, &d) in axes.iter().enumerate() {
                    let input = shape[d];
                    // The batch: sizes and scales of one sample leave it as it is.
                    let one = match target {
                        ResizeTarget::Scales(s) => s[i] == 1.0,
                        ResizeTarget::Sizes(s) => s[i] == 1 || s[i] == input,
                    };
                    if d == 0 && one {
                        continue;
                    }
                    // The reference's float64 scale and integer output size.
                    let (scale, out) = match target {
                        ResizeTarget::Scales(s) => (f64::from(s[i]), (f64::from(s[i]) * input as f64) as usize),
                        ResizeTarget::Sizes(s) => (s[i] as f64 / input as f64, s[i]),
                    };
                    out_shape[d] = out;
                    if (scale - 1.0).abs() <= 1e-9 && out == input {
                        continue;
                    }
                    let map =
                        (0..out).map(|y| Some(onnx_nearest(y, input, out, scale, *coordinates, *nearest))).collect();
                    maps[d] = Some(map);
                }
                Ok(Plan::Axes { in_shape: shape, out_shape, maps })
            }
            Movement::DepthToSpace { block, crd, channels_last } => {
                let b = *block;
                let &[n, d1, d2, d3] = shape.as_slice() else { return Err(format!("{shape:?} is not 4-D")) };
                let (c, h, w) = if *channels_last { (d3, d1, d2) } else { (d1, d2, d3) };
                if b == 0 || c % (b * b) != 0 {
                    return Err(format!("{c} channels do not divide into blocks of {b}x{b}"));
                }
                let oc = c / (b * b);
                Ok(match (channels_last, crd) {
                    // [n, h, w, b, b, oc] -> [n, h, b, w, b, oc]
                    (true, _) => Plan::Permute {
                        view: vec![n, h, w, b, b, oc],
                        perm: vec![0, 1, 3, 2, 4, 5],
                        out_shape: vec![n, h * b, w * b, oc],
                    },
                    // DCR: [n, b, b, oc, h, w] -> [n, oc, h, b, w, b]
                    (false, false) => Plan::Permute {
                        view: vec![n, b, b, oc, h, w],
                        perm: vec![0, 3, 4, 1, 5, 2],
                        out_shape: vec![n, oc, h * b, w * b],
                    },
                    // CRD: [n, oc, b, b, h, w] -> [n, oc, h, b, w, b]
                    (false, true) => Plan::Permute {
                        view: vec![n, oc, b, b, h, w],
                        perm: vec![0, 1, 4, 2, 5, 3],
                        out_shape: vec![n, oc, h * b, w * b],
                    },
                })
            }
            Movement::SpaceToDepth { block, channels_last } => {
                let b = *block;
                let &[n, d1, d2, d3] = shape.as_slice() else { return Err(format!("{shape:?} is not 4-D")) };
                let (c, h, w) = if *channels_last { (d3, d1, d2) } else { (d1, d2, d3) };
                if b == 0 || h % b != 0 || w % b != 0 {
                    return Err(format!("{h}x{w} does not divide into blocks of {b}x{b}"));
                }
                let (oh, ow) = (h / b, w / b);
                Ok(if *channels_last {
                    // [n, oh, b, ow, b, c] -> [n, oh, ow, b, b, c]
                    Plan::Permute {
                        view: vec![n, oh, b, ow, b, c],
                        perm: vec![0, 1, 3, 2, 4, 5],
                        out_shape: vec![n, oh, ow, b * b * c],
                    }
                } else {
                    // [n, c, oh, b, ow, b] -> [n, b, b, c, oh, ow]
                    Plan::Permute {
                        view: vec![n, c, oh, b, ow, b],
                        perm: vec![0, 3, 5, 1, 2, 4],
                        out_shape: vec![n, b * b * c, oh, ow],
                    }
                })
            }
            Movement::ArgReduce { axis, keep_dims, .. } => {
                let axis = axis_of(*axis, rank)?;
                if shape[axis] == 0 {
                    return Err(format!("arg max/min over an empty axis {axis}"));
                }
                let out_shape = (0..rank)
                    .filter(|&d| d != axis || *keep_dims)
                    .map(|d| if d == axis { 1 } else { shape[d] })
                    .collect();
                Ok(Plan::Arg { shape, axis, out_shape })
            }
        }
    }
}

/// Why `m` runs on the host, for `--report`: the whole-model program has no
/// addressing form for it yet (values are copied in their logical layout, so a
/// channels-last value is materialised in logical order first).
pub fn host_reason(m: &Movement) -> &'static str {
    match m {
        Movement::Concat { .. } => "concatenation on the host (no write-into-column-range form yet)",
        Movement::Strided { .. } | Movement::Slice { .. } => "slice / split on the host",
        Movement::TfliteNearest { .. } | Movement::OnnxNearest { .. } => {
            "nearest resize on the host (no strided-store form yet)"
        }
        Movement::ArgReduce { .. } => "arg max/min on the host",
        _ => "data movement on the host",
    }
}

/// TFLite's `GetNearestNeighbor`: the input index of output index `i` (float32).
fn tflite_nearest(i: usize, input: usize, output: usize, align_corners: bool, half_pixel: bool) -> usize {
    let scale = if align_corners && output > 1 {
        (input - 1) as f32 / (output - 1) as f32
    } else {
        input as f32 / output as f32
    };
    let offset = if half_pixel { 0.5f32 } else { 0.0 };
    let at = (i as f32 + offset) * scale;
    // TfLiteRound rounds half away from zero.
    let v = if align_corners { at.round() as i64 } else { at.floor() as i64 };
    let v = v.min(input as i64 - 1);
    (if half_pixel { v.max(0) } else { v }) as usize
}

/// The ONNX reference's nearest input index of output index `y` along an axis of
/// `input` elements resized to `output` by `scale` (float64), clamped to the input.
fn onnx_nearest(y: usize, input: usize, output: usize, scale: f64, mode: CoordinateMode, rule: NearestMode) -> usize {
    let (y, len) = (y as f64, input as f64);
    let out_len = scale * len;
    let x = match mode {
        CoordinateMode::AlignCorners if out_len == 1.0 => 0.0,
        CoordinateMode::AlignCorners => y * (len - 1.0) / (out_len - 1.0),
        CoordinateMode::Asymmetric => y / scale,
        CoordinateMode::PytorchHalfPixel if out_len == 1.0 => -0.5,
        CoordinateMode::PytorchHalfPixel | CoordinateMode::HalfPixel => (y + 0.5) / scale - 0.5,
        CoordinateMode::HalfPixelSymmetric => {
            let adjustment = output as f64 / out_len;
            let offset = len / 2.0 * (1.0 - adjustment);
            offset + (y + 0.5) / scale - 0.5
        }
    };
    let floor = x.floor();
    let ratio = x - floor;
    let up = if x == floor {
        false
    } else {
        match rule {
            NearestMode::RoundPreferFloor => ratio > 0.5,
            NearestMode::RoundPreferCeil => ratio >= 0.5,
            NearestMode::Floor => false,
            NearestMode::Ceil => true,
        }
    };
    let at = floor as i64 + i64::from(up);
    at.clamp(0, input as i64 - 1) as usize
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        s[d] = s[d + 1] * shape[d + 1];
    }
    s
}

/// Each output element read through the per-axis `maps` (an output of `out_shape`
/// whose flat order matches the maps' axes; `None` entries are `fill`).
fn gather_axes<T: Copy>(
    x: &[T],
    in_shape: &[usize],
    out_shape: &[usize],
    maps: &[Option<Vec<Option<usize>>>],
    fill: T,
) -> Vec<T> {
    let dims: Vec<usize> = maps.iter().enumerate().map(|(d, m)| m.as_ref().map_or(in_shape[d], Vec::len)).collect();
    let total: usize = out_shape.iter().product();
    debug_assert_eq!(total, dims.iter().product::<usize>());
    let st = strides(in_shape);
    let mut out = Vec::with_capacity(total);
    let mut index = vec![0usize; dims.len()];
    for _ in 0..total {
        let mut at = Some(0usize);
        for (d, &i) in index.iter().enumerate() {
            let j = match &maps[d] {
                None => Some(i),
                Some(m) => m[i],
            };
            at = at.zip(j).map(|(a, j)| a + j * st[d]);
        }
        out.push(at.map_or(fill, |a| x[a]));
        advance(&mut index, &dims);
    }
    out
}

/// The next row-major multi-index within `dims`.
fn advance(index: &mut [usize], dims: &[usize]) {
    for d in (0..dims.len()).rev() {
        index[d] += 1;
        if index[d] < dims[d] {
            return;
        }
        index[d] = 0;
    }
}

/// `x` viewed as `view`, its axes permuted by `perm`, in row-major order.
fn permute<T: Copy>(x: &[T], view: &[usize], perm: &[usize]) -> Vec<T> {
    let st = strides(view);
    let dims: Vec<usize> = perm.iter().map(|&p| view[p]).collect();
    let steps: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let mut out = Vec::with_capacity(x.len());
    let mut index = vec![0usize; dims.len()];
    for _ in 0..x.len() {
        out.push(x[index.iter().zip(&steps).map(|(i, s)| i * s).sum::<usize>()]);
        advance(&mut index, &dims);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(m: Movement, x: &[i64], shape: &[usize]) -> (Vec<i64>, Vec<usize>) {
        m.run(&[x], &[shape]).unwrap()
    }

    #[test]
    fn slices_clamp_like_onnx_and_step_backwards() {
        let x: Vec<i64> = (0..10).collect();
        let slice = |start, end, step| Movement::Slice {
            axes: vec![0],
            starts: vec![start],
            ends: vec![end],
            steps: vec![step],
        };
        assert_eq!(run(slice(2, i64::MAX, 3), &x, &[10]).0, vec![2, 5, 8]);
        assert_eq!(run(slice(-1, i64::MIN, -1), &x, &[10]).0, (0..10).rev().collect::<Vec<_>>());
        assert_eq!(run(slice(-3, -1, 1), &x, &[10]).0, vec![7, 8]);
        assert_eq!(run(slice(5, 2, 1), &x, &[10]).1, vec![0]);
    }

    #[test]
    fn concat_transpose_and_channel_shuffle() {
        let a: Vec<i64> = (0..4).collect();
        let b: Vec<i64> = (10..12).collect();
        let (y, s) = Movement::Concat { axis: 1 }.run(&[&a, &b], &[&[2, 2], &[2, 1]]).unwrap();
        assert_eq!((y, s), (vec![0, 1, 10, 2, 3, 11], vec![2, 3]));
        let (t, s) = run(Movement::Transpose { perm: vec![1, 0] }, &[1, 2, 3, 4, 5, 6], &[2, 3]);
        assert_eq!((t, s), (vec![1, 4, 2, 5, 3, 6], vec![3, 2]));
    }

    #[test]
    fn pads_reflect_mirror_and_fill() {
        let pad = |mode| Movement::Pad { pads: vec![[2, 2]], mode };
        assert_eq!(run(pad(PadMode::Reflect), &[1, 2, 3], &[3]).0, vec![3, 2, 1, 2, 3, 2, 1]);
        assert_eq!(run(pad(PadMode::Symmetric), &[1, 2, 3], &[3]).0, vec![2, 1, 1, 2, 3, 3, 2]);
        assert_eq!(run(pad(PadMode::Edge), &[1, 2, 3], &[3]).0, vec![1, 1, 1, 2, 3, 3, 3]);
        assert_eq!(run(pad(PadMode::Constant(-5)), &[1, 2, 3], &[3]).0, vec![-5, -5, 1, 2, 3, -5, -5]);
        assert!(Movement::Pad { pads: vec![[3, 0]], mode: PadMode::Reflect }.output_shape(&[&[3]]).is_err());
    }

    #[test]
    fn depth_to_space_inverts_space_to_depth() {
        let x: Vec<i64> = (0..32).collect();
        for channels_last in [true, false] {
            let shape: &[usize] = if channels_last { &[1, 4, 4, 2] } else { &[1, 2, 4, 4] };
            let (d, ds) = run(Movement::SpaceToDepth { block: 2, channels_last }, &x, shape);
            let (back, s) = run(Movement::DepthToSpace { block: 2, crd: false, channels_last }, &d, &ds);
            assert_eq!((back, s.as_slice()), (x.clone(), shape));
        }
    }

    #[test]
    fn arg_max_takes_the_first_or_last_of_ties() {
        let arg = |select_last| Movement::ArgReduce { axis: 1, keep_dims: false, select_last, min: false };
        assert_eq!(run(arg(false), &[1, 3, 3, 0, 0, 0], &[2, 3]), (vec![1, 0], vec![2]));
        assert_eq!(run(arg(true), &[1, 3, 3, 0, 0, 0], &[2, 3]).0, vec![2, 2]);
    }

    #[test]
    fn nearest_resize_doubles() {
        let m = Movement::TfliteNearest { size: [4, 4], align_corners: false, half_pixel_centers: false };
        let (y, s) = run(m, &[1, 2, 3, 4], &[1, 2, 2, 1]);
        assert_eq!(s, vec![1, 4, 4, 1]);
        assert_eq!(y, vec![1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
        let o = Movement::OnnxNearest {
            axes: vec![],
            target: ResizeTarget::Scales(vec![1.0, 1.0, 2.0, 2.0]),
            coordinates: CoordinateMode::Asymmetric,
            nearest: NearestMode::Floor,
        };
        assert_eq!(run(o, &[1, 2, 3, 4], &[1, 1, 2, 2]).0, y);
    }
}
