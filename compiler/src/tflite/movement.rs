//! TFLite's data-movement and shape operators as [`Movement`] host operations:
//! CONCATENATION, SPLIT, SPLIT_V, SLICE, STRIDED_SLICE, TRANSPOSE, SQUEEZE,
//! EXPAND_DIMS, RESIZE_NEAREST_NEIGHBOR, ARG_MAX, ARG_MIN, PACK, UNPACK, GATHER,
//! DEPTH_TO_SPACE, SPACE_TO_DEPTH, MIRROR_PAD; and RESIZE_BILINEAR, which reads its
//! size and options the same way but interpolates ([`Bilinear`]). Shapes are static in a TFLite file, so
//! every bound is resolved here. Their options tables are not in the trimmed schema
//! this crate generates, so [`options`] reads their scalar fields with bounds checks.

use super::lower::{Part, TensorInfo};
use super::schema_generated::tflite::{self, BuiltinOperator as Builtin};
use crate::movement::{Movement, PadMode};
use crate::program::{HostArith, HostOp, OpKind};
use crate::resize::Bilinear;
use crate::tensor::ElemType;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// Whether [`lower`] handles `code`.
pub fn handles(code: Builtin) -> bool {
    matches!(
        code,
        Builtin::CONCATENATION
            | Builtin::SPLIT
            | Builtin::SPLIT_V
            | Builtin::SLICE
            | Builtin::STRIDED_SLICE
            | Builtin::TRANSPOSE
            | Builtin::SQUEEZE
            | Builtin::EXPAND_DIMS
            | Builtin::RESIZE_NEAREST_NEIGHBOR
            | Builtin::RESIZE_BILINEAR
            | Builtin::ARG_MAX
            | Builtin::ARG_MIN
            | Builtin::PACK
            | Builtin::UNPACK
            | Builtin::GATHER
            | Builtin::DEPTH_TO_SPACE
            | Builtin::SPACE_TO_DEPTH
            | Builtin::MIRROR_PAD
    )
}

/// Operators with several outputs (one program operation each).
pub fn multi_output(code: Builtin) -> bool {
    matches!(code, Builtin::SPLIT | Builtin::SPLIT_V | Builtin::UNPACK)
}

/// Scalar field `index` of an operator's builtin options table (`default` when
/// absent), read with bounds checks: `size` bytes, little-endian, sign-extended.
pub(super) fn options(op: &tflite::Operator, index: usize, size: usize, default: i64) -> Result<i64, String> {
    let Some(table) = op.builtin_options() else { return Ok(default) };
    let (buf, loc) = (table.buf(), table.loc());
    let bad = || "malformed builtin options".to_string();
    let read = |at: usize, n: usize| -> Result<i64, String> {
        let bytes = buf.get(at..at.checked_add(n).ok_or_else(bad)?).ok_or_else(bad)?;
        Ok(match n {
            1 => i64::from(bytes[0] as i8),
            2 => i64::from(u16::from_le_bytes([bytes[0], bytes[1]])),
            _ => i64::from(i32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"))),
        })
    };
    let vtable = usize::try_from(loc as i64 - read(loc, 4)?).map_err(|_| bad())?;
    let vt_size = read(vtable, 2)? as usize;
    let slot = 4 + 2 * index;
    if slot + 2 > vt_size {
        return Ok(default);
    }
    match read(vtable + slot, 2)? as usize {
        0 => Ok(default),
        off => read(loc + off, size),
    }
}

/// A constant integer input's values.
fn constant<'t>(t: &'t TensorInfo, what: &str) -> Result<Cow<'t, [i64]>, String> {
    t.values().ok_or(format!("the {what} `{}` must be a constant", t.name))
}

/// `axis` (negative: from the end) of a rank-`rank` tensor.
fn axis_in(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    usize::try_from(a).ok().filter(|&a| a < rank).ok_or(format!("axis {axis} is outside a rank-{rank} tensor"))
}

/// The input's quantization must be the output's: these operators only move bytes.
fn same_quantization(x: &TensorInfo, out: &TensorInfo) -> Result<(), String> {
    let (a, y) = (x.affine()?, out.affine()?);
    if (a.scale, a.zero, a.dtype) != (y.scale, y.zero, y.dtype) {
        return Err(format!(
            "`{}` and `{}` are quantized differently (a rescaling {} is not supported)",
            x.name,
            out.name,
            if a.dtype == ElemType::U8 { "uint8 concatenation" } else { "data movement" }
        ));
    }
    Ok(())
}

fn host(m: Movement) -> OpKind {
    OpKind::Host { op: HostOp::Move(m), arith: HostArith::Integer { clamp: None } }
}

fn reshape(shape: &[usize]) -> OpKind {
    OpKind::Host {
        op: HostOp::Reshape { shape: shape.iter().map(|&d| d as i64).collect() },
        arith: HostArith::Integer { clamp: None },
    }
}

/// A part writing output `out` (one of several).
fn to(out: &TensorInfo, inputs: Vec<String>, kind: OpKind) -> Result<Part, String> {
    let dtype = out.dtype.ok_or(format!("output `{}` has an unsupported type", out.name))?;
    Ok(Part { inputs, kind, output: Some((out.name.clone(), dtype)) })
}

/// The program operations of data-movement operator `code`.
pub fn lower(
    code: Builtin,
    op: &tflite::Operator,
    ins: &[&TensorInfo],
    outs: &[&TensorInfo],
) -> Result<Vec<Part>, String> {
    let out = outs[0];
    let x = ins.first().ok_or("no input")?;
    let one = |kind| Ok(vec![Part::new(vec![x.name.clone()], kind)]);
    match code {
        Builtin::CONCATENATION => {
            if options(op, 1, 1, 0)? != 0 {
                return Err("a fused activation is not supported (the reference kernel refuses it too)".into());
            }
            for t in ins {
                same_quantization(t, out)?;
            }
            let axis = options(op, 0, 4, 0)?;
            axis_in(axis, out.shape.len())?;
            Ok(vec![Part::new(ins.iter().map(|t| t.name.clone()).collect(), host(Movement::Concat { axis }))])
        }
        Builtin::SPLIT | Builtin::SPLIT_V => {
            let (x, sizes, axis) = match (code, ins) {
                (Builtin::SPLIT, [axis, x]) => (*x, None, *axis),
                (Builtin::SPLIT_V, [x, sizes, axis]) => (*x, Some(*sizes), *axis),
                _ => return Err("SPLIT takes an axis and an input, SPLIT_V an input, sizes and an axis".into()),
            };
            let axis = axis_in(*constant(axis, "axis")?.first().ok_or("an empty axis")?, x.shape.len())?;
            let dim = x.shape[axis];
            let sizes: Vec<usize> = match sizes {
                None if dim % outs.len() == 0 => vec![dim / outs.len(); outs.len()],
                None => return Err(format!("{dim} elements do not split {} ways", outs.len())),
                Some(s) => {
                    let s = constant(s, "size_splits")?;
                    let known: i64 = s.iter().filter(|&&v| v >= 0).sum();
                    s.iter().map(|&v| if v < 0 { dim as i64 - known } else { v }).map(|v| v.max(0) as usize).collect()
                }
            };
            if sizes.len() != outs.len() || sizes.iter().sum::<usize>() != dim {
                return Err(format!("sizes {sizes:?} do not split {dim} elements into {} outputs", outs.len()));
            }
            let mut start = 0;
            let mut parts = Vec::new();
            for (o, &n) in outs.iter().zip(&sizes) {
                same_quantization(x, o)?;
                let m = Movement::Strided { axes: vec![(axis, start as i64, 1, n)] };
                parts.push(to(o, vec![x.name.clone()], host(m))?);
                start += n;
            }
            Ok(parts)
        }
        Builtin::SLICE => {
            let [x, begin, size] = ins else { return Err("SLICE takes an input, begin and size".into()) };
            same_quantization(x, out)?;
            let (begin, size) = (constant(begin, "begin")?, constant(size, "size")?);
            if begin.len() != x.shape.len() || size.len() != x.shape.len() {
                return Err(format!("begin and size must have {} values", x.shape.len()));
            }
            let axes = (0..x.shape.len())
                .map(|d| {
                    let n = if size[d] < 0 { x.shape[d] as i64 - begin[d] } else { size[d] };
                    (d, begin[d], 1, n.max(0) as usize)
                })
                .collect();
            one(host(strided(axes, &x.shape)?))
        }
        Builtin::STRIDED_SLICE => strided_slice(op, ins, out),
        Builtin::TRANSPOSE => {
            let [x, perm] = ins else { return Err("TRANSPOSE takes an input and a permutation".into()) };
            same_quantization(x, out)?;
            let perm: Vec<usize> = constant(perm, "permutation")?.iter().map(|&p| p.max(0) as usize).collect();
            if perm.first() != Some(&0) {
                return Err(format!("permutation {perm:?} moves the batch dimension"));
            }
            one(host(Movement::Transpose { perm }))
        }
        Builtin::SQUEEZE | Builtin::EXPAND_DIMS => {
            same_quantization(x, out)?;
            one(reshape(&out.shape))
        }
        Builtin::RESIZE_NEAREST_NEIGHBOR => {
            let size = resize_size(ins, out)?;
            let m = Movement::TfliteNearest {
                size,
                align_corners: options(op, 0, 1, 0)? != 0,
                half_pixel_centers: options(op, 1, 1, 0)? != 0,
            };
            one(host(m))
        }
        Builtin::RESIZE_BILINEAR => {
            let size = resize_size(ins, out)?;
            // Options 0 and 1 are the deprecated new_height / new_width.
            let (align_corners, half_pixel_centers) = (options(op, 2, 1, 0)? != 0, options(op, 3, 1, 0)? != 0);
            if align_corners && half_pixel_centers {
                return Err("align_corners and half_pixel_centers together (the reference kernel refuses it)".into());
            }
            let dtype = x.affine()?.dtype;
            one(OpKind::ResizeBilinear(Bilinear { size, align_corners, half_pixel_centers, dtype }))
        }
        Builtin::ARG_MAX | Builtin::ARG_MIN => {
            let [x, axis] = ins else { return Err("ARG_MAX / ARG_MIN take an input and an axis".into()) };
            x.affine()?;
            if !matches!(out.dtype, Some(ElemType::I32 | ElemType::I64)) {
                return Err(format!("the output `{}` must be int32 or int64", out.name));
            }
            let axis = *constant(axis, "axis")?.first().ok_or("an empty axis")?;
            axis_in(axis, x.shape.len())?;
            let m = Movement::ArgReduce { axis, keep_dims: false, select_last: false, min: code == Builtin::ARG_MIN };
            one(host(m))
        }
        Builtin::PACK => {
            let axis = axis_in(options(op, 1, 4, 0)?, out.shape.len())?;
            let mut parts = Vec::new();
            let mut names = Vec::new();
            for (i, t) in ins.iter().enumerate() {
                same_quantization(t, out)?;
                let mut shape = t.shape.clone();
                shape.insert(axis.min(shape.len()), 1);
                let name = format!("{}/pack{i}", out.name);
                let dtype = t.dtype.ok_or("an unsupported type")?;
                parts.push(Part {
                    inputs: vec![t.name.clone()],
                    kind: reshape(&shape),
                    output: Some((name.clone(), dtype)),
                });
                names.push(name);
            }
            parts.push(Part::new(names, host(Movement::Concat { axis: axis as i64 })));
            Ok(parts)
        }
        Builtin::UNPACK => {
            let axis = options(op, 1, 4, 0)?;
            let axis = axis_in(axis, x.shape.len())?;
            if x.shape[axis] != outs.len() {
                return Err(format!("{} outputs for axis {axis} of {:?}", outs.len(), x.shape));
            }
            outs.iter()
                .enumerate()
                .map(|(i, o)| {
                    same_quantization(x, o)?;
                    let m = Movement::Take { axis: axis as i64, indices: vec![i as i64], index_shape: vec![] };
                    to(o, vec![x.name.clone()], host(m))
                })
                .collect()
        }
        Builtin::GATHER => {
            let [x, indices] = ins else { return Err("GATHER takes an input and indices".into()) };
            same_quantization(x, out)?;
            if options(op, 1, 4, 0)? != 0 {
                return Err("batch_dims other than 0 is not supported".into());
            }
            let axis = options(op, 0, 4, 0)?;
            let m = Movement::Take {
                axis,
                indices: constant(indices, "indices")?.to_vec(),
                index_shape: indices.shape.clone(),
            };
            one(host(m))
        }
        Builtin::DEPTH_TO_SPACE | Builtin::SPACE_TO_DEPTH => {
            same_quantization(x, out)?;
            let block =
                usize::try_from(options(op, 0, 4, 0)?).ok().filter(|&b| b > 0).ok_or("block_size must be positive")?;
            one(host(if code == Builtin::DEPTH_TO_SPACE {
                Movement::DepthToSpace { block, crd: false, channels_last: true }
            } else {
                Movement::SpaceToDepth { block, channels_last: true }
            }))
        }
        Builtin::MIRROR_PAD => {
            let [x, paddings] = ins else { return Err("MIRROR_PAD takes an input and paddings".into()) };
            same_quantization(x, out)?;
            let values = constant(paddings, "paddings")?;
            if values.len() != 2 * x.shape.len() || values.iter().any(|&v| v < 0) {
                return Err(format!(
                    "the paddings `{}` must be [{}, 2] non-negative values",
                    paddings.name,
                    x.shape.len()
                ));
            }
            let pads: Vec<[usize; 2]> = values.chunks(2).map(|p| [p[0] as usize, p[1] as usize]).collect();
            if pads[0] != [0, 0] {
                return Err("padding the batch dimension is not supported".into());
            }
            let mode = match options(op, 0, 1, 0)? {
                0 => PadMode::Reflect,
                1 => PadMode::Symmetric,
                m => return Err(format!("mirror pad mode {m} is not supported")),
            };
            one(host(Movement::Pad { pads, mode }))
        }
        _ => Err("not a data-movement operator".into()),
    }
}

/// The output size of a resize (`RESIZE_NEAREST_NEIGHBOR`, `RESIZE_BILINEAR`): its
/// constant `size` input, of a 4-D input quantized as its output.
fn resize_size(ins: &[&TensorInfo], out: &TensorInfo) -> Result<[usize; 2], String> {
    let [x, size] = ins else { return Err("a resize takes an input and a size".into()) };
    same_quantization(x, out)?;
    let &[h, w] = &*constant(size, "size")? else { return Err("the size must be [height, width]".into()) };
    if h <= 0 || w <= 0 || x.shape.len() != 4 {
        return Err(format!("resizing {:?} to {h}x{w}", x.shape));
    }
    Ok([h as usize, w as usize])
}

/// A slice of the axes it changes (whole axes dropped, so that a batch of samples
/// passes the leading dimension through); slicing the batch itself is refused.
fn strided(axes: Vec<(usize, i64, i64, usize)>, shape: &[usize]) -> Result<Movement, String> {
    let axes: Vec<_> =
        axes.into_iter().filter(|&(d, start, step, count)| (start, step, count) != (0, 1, shape[d])).collect();
    if axes.iter().any(|a| a.0 == 0) {
        return Err("slicing the batch dimension is not supported".into());
    }
    Ok(Movement::Strided { axes })
}

/// `STRIDED_SLICE` with begin, end and shrink-axis masks and any strides (negative
/// included), as `strided_slice_logic.h` resolves them; a shrink reshapes to the
/// output's shape. Ellipsis and new-axis masks, and `offset`, are refused by name.
fn strided_slice(op: &tflite::Operator, ins: &[&TensorInfo], out: &TensorInfo) -> Result<Vec<Part>, String> {
    let [x, begin, end, strides] = ins else {
        return Err("STRIDED_SLICE takes an input, begin, end and strides".into());
    };
    same_quantization(x, out)?;
    let [begin_mask, end_mask, ellipsis, new_axis, shrink] = [0, 1, 2, 3, 4].map(|i| options(op, i, 4, 0));
    let (begin_mask, end_mask, shrink) = (begin_mask?, end_mask?, shrink?);
    if ellipsis? != 0 || new_axis? != 0 {
        return Err("ellipsis_mask and new_axis_mask are not supported".into());
    }
    if options(op, 5, 1, 0)? != 0 {
        return Err("offset=true is not supported".into());
    }
    let (b, e, s) = (constant(begin, "begin")?, constant(end, "end")?, constant(strides, "strides")?);
    let rank = x.shape.len();
    if b.len() != s.len() || e.len() != s.len() || s.len() > rank {
        return Err(format!("begin, end and strides must have the same length, at most {rank}"));
    }
    let mut axes = Vec::new();
    for d in 0..rank {
        let dim = x.shape[d] as i64;
        let (step, bit) = (s.get(d).copied().unwrap_or(1), 1i64 << d);
        if step == 0 {
            return Err(format!("stride 0 on axis {d}"));
        }
        if d >= s.len() {
            continue;
        }
        let clamp = |v: i64| if step > 0 { v.clamp(0, dim) } else { v.clamp(-1, dim - 1) };
        let norm = |v: i64| if v < 0 { v + dim } else { v };
        let start = if begin_mask & bit != 0 {
            if step > 0 {
                0
            } else {
                dim - 1
            }
        } else {
            clamp(norm(b[d]))
        };
        let count = if shrink & bit != 0 {
            let at = norm(b[d]);
            if !(0..dim).contains(&at) {
                return Err(format!("shrinking axis {d} at index {} outside its {dim} elements", b[d]));
            }
            axes.push((d, at, 1, 1));
            continue;
        } else {
            let stop = if end_mask & bit != 0 {
                if step > 0 {
                    dim
                } else {
                    -1
                }
            } else {
                clamp(norm(e[d]))
            };
            let span = if step > 0 { stop - start } else { start - stop };
            (span.max(0) as u64).div_ceil(step.unsigned_abs()) as usize
        };
        axes.push((d, start, step, count));
    }
    let slice = strided(axes, &x.shape)?;
    if shrink == 0 {
        return Ok(vec![Part::new(vec![x.name.clone()], host(slice))]);
    }
    let name = format!("{}/unshrunk", out.name);
    let dtype = out.dtype.ok_or("an unsupported type")?;
    Ok(vec![
        Part { inputs: vec![x.name.clone()], kind: host(slice), output: Some((name.clone(), dtype)) },
        Part::new(vec![name], reshape(&out.shape)),
    ])
}

/// Tensors that only feed the shape input of `RESHAPE` (directly or through other
/// such tensors, e.g. `SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE`): the importer
/// takes a RESHAPE's shape from its static output, so operators that only compute
/// these fold away.
pub fn shape_only(
    operators: &[tflite::Operator],
    codes: &[(Builtin, Option<String>)],
    graph_outputs: &[i32],
) -> HashSet<i32> {
    let code = |op: &tflite::Operator| codes.get(op.opcode_index() as usize).map(|c| c.0);
    let ins = |op: &tflite::Operator| op.inputs().map_or_else(Vec::new, |v| v.iter().collect::<Vec<i32>>());
    let outs = |op: &tflite::Operator| op.outputs().map_or_else(Vec::new, |v| v.iter().collect::<Vec<i32>>());
    let mut readers: HashMap<i32, Vec<(usize, usize)>> = HashMap::new();
    for (i, op) in operators.iter().enumerate() {
        for (slot, t) in ins(op).into_iter().enumerate() {
            readers.entry(t).or_default().push((i, slot));
        }
    }
    let mut folded: HashSet<i32> = HashSet::new();
    // Backwards: a tensor folds when every reader is a RESHAPE's shape or an operator
    // whose outputs all fold.
    for op in operators.iter().rev() {
        for t in outs(op) {
            let all = readers.get(&t).is_some_and(|r| {
                r.iter().all(|&(i, slot)| {
                    let reader = &operators[i];
                    (code(reader) == Some(Builtin::RESHAPE) && slot == 1)
                        || outs(reader).iter().all(|o| folded.contains(o))
                })
            });
            if all && !graph_outputs.contains(&t) {
                folded.insert(t);
            }
        }
    }
    folded
}
