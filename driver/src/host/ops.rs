//! Host operators on row-major tensors, with ONNX semantics: numpy-broadcast binary
//! ops, ReLU, 2-D max pooling (NCHW) and the shape arithmetic of `Flatten` and
//! `Reshape`. Generic over the element type, so the same code serves integers (the
//! QOperator form) and float32 (between dequantization and quantization).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("shapes {a:?} and {b:?} do not broadcast")]
    Broadcast { a: Vec<usize>, b: Vec<usize> },
    #[error("{values} values for shape {shape:?}")]
    Values { values: usize, shape: Vec<usize> },
    #[error("{what} needs a rank-4 NCHW input, not {shape:?}")]
    NotNchw { what: &'static str, shape: Vec<usize> },
    #[error("the window is larger than the padded input {shape:?}")]
    Window { shape: Vec<usize> },
    #[error("axis {axis} is outside a rank-{rank} tensor")]
    Axis { axis: i64, rank: usize },
    #[error("cannot reshape {from:?} to {to:?}")]
    Reshape { from: Vec<usize>, to: Vec<i64> },
}

fn check_len(len: usize, shape: &[usize]) -> Result<(), ShapeError> {
    if shape.iter().product::<usize>() == len {
        Ok(())
    } else {
        Err(ShapeError::Values { values: len, shape: shape.to_vec() })
    }
}

/// The numpy broadcast of two shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, ShapeError> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| if i < rank - s.len() { 1 } else { s[i - (rank - s.len())] };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y || y == 1 => Ok(x),
            (1, y) => Ok(y),
            _ => Err(ShapeError::Broadcast { a: a.to_vec(), b: b.to_vec() }),
        })
        .collect()
}

/// `f(a[i], b[i])` over the broadcast of `a` (shape `a_shape`) and `b`.
pub fn broadcast_binary<T: Copy, U>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    f: impl Fn(T, T) -> U,
) -> Result<(Vec<U>, Vec<usize>), ShapeError> {
    check_len(a.len(), a_shape)?;
    check_len(b.len(), b_shape)?;
    let shape = broadcast_shape(a_shape, b_shape)?;
    let rank = shape.len();
    // Per output dimension, the stride of each operand (0 where it broadcasts).
    let strides = |s: &[usize]| {
        let mut out = vec![0; rank];
        let mut stride = 1;
        for (i, &d) in s.iter().enumerate().rev() {
            let at = rank - s.len() + i;
            out[at] = if d == 1 { 0 } else { stride };
            stride *= d;
        }
        out
    };
    let (sa, sb) = (strides(a_shape), strides(b_shape));
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut index = vec![0usize; rank];
    for _ in 0..total {
        let ia: usize = index.iter().zip(&sa).map(|(i, s)| i * s).sum();
        let ib: usize = index.iter().zip(&sb).map(|(i, s)| i * s).sum();
        out.push(f(a[ia], b[ib]));
        for d in (0..rank).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok((out, shape))
}

/// A 2-D pooling window over NCHW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    /// Top, left, bottom, right.
    pub pads: [usize; 4],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
}

/// The NCHW shape a 2-D window `w` slides to over an NCHW `shape`.
pub fn pool_output_shape(shape: &[usize], w: &Window) -> Result<Vec<usize>, ShapeError> {
    let &[n, c, h, wd] = shape else { return Err(ShapeError::NotNchw { what: "pooling", shape: shape.to_vec() }) };
    let size = |len: usize, lo: usize, hi: usize, k: usize, d: usize, s: usize| {
        (len + lo + hi).checked_sub(d * (k - 1) + 1).map(|v| v / s + 1)
    };
    let window = || ShapeError::Window { shape: shape.to_vec() };
    let oh = size(h, w.pads[0], w.pads[2], w.kernel[0], w.dilations[0], w.strides[0]).ok_or_else(window)?;
    let ow = size(wd, w.pads[1], w.pads[3], w.kernel[1], w.dilations[1], w.strides[1]).ok_or_else(window)?;
    Ok(vec![n, c, oh, ow])
}

/// `MaxPool` over NCHW (padding never wins: it is outside the window's candidates).
pub fn max_pool<T: Copy + PartialOrd>(
    x: &[T],
    shape: &[usize],
    w: &Window,
) -> Result<(Vec<T>, Vec<usize>), ShapeError> {
    check_len(x.len(), shape)?;
    let out_shape = pool_output_shape(shape, w)?;
    let (h, wd, oh, ow) = (shape[2], shape[3], out_shape[2], out_shape[3]);
    let window = || ShapeError::Window { shape: shape.to_vec() };
    let mut out = Vec::with_capacity(out_shape.iter().product());
    for plane in x.chunks(h * wd) {
        for (y, xo) in (0..oh).flat_map(|y| (0..ow).map(move |xo| (y, xo))) {
            let taps = (0..w.kernel[0]).flat_map(|i| (0..w.kernel[1]).map(move |j| (i, j))).filter_map(|(i, j)| {
                let r = (y * w.strides[0] + i * w.dilations[0]).checked_sub(w.pads[0]).filter(|&r| r < h)?;
                let q = (xo * w.strides[1] + j * w.dilations[1]).checked_sub(w.pads[1]).filter(|&q| q < wd)?;
                Some(plane[r * wd + q])
            });
            let best = taps.reduce(|m, v| if v > m { v } else { m }).ok_or_else(window)?;
            out.push(best);
        }
    }
    Ok((out, out_shape))
}

/// The shape `Flatten(axis)` gives `shape`.
pub fn flatten_shape(shape: &[usize], axis: i64) -> Result<Vec<usize>, ShapeError> {
    let rank = shape.len();
    let at = if axis < 0 { axis + rank as i64 } else { axis };
    let at = usize::try_from(at).ok().filter(|&a| a <= rank).ok_or(ShapeError::Axis { axis, rank })?;
    Ok(vec![shape[..at].iter().product(), shape[at..].iter().product()])
}

/// The shape `Reshape(target)` gives `shape` (0 copies the input's dimension, one -1
/// is inferred).
pub fn reshape_shape(shape: &[usize], target: &[i64]) -> Result<Vec<usize>, ShapeError> {
    let fail = || ShapeError::Reshape { from: shape.to_vec(), to: target.to_vec() };
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            0 => out.push(*shape.get(i).ok_or_else(fail)?),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            d if d > 0 => out.push(d as usize),
            _ => return Err(fail()),
        }
    }
    let known: usize = out.iter().product();
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(fail());
        }
        out[i] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(fail());
    }
    Ok(out)
}

/// [`reshape_shape`] for a model run on a batch: a target whose first dimension is 1
/// (the model's batch) that does not fit keeps the input's leading (batch) dimension.
pub fn reshape_batched(shape: &[usize], target: &[i64]) -> Result<Vec<usize>, ShapeError> {
    reshape_shape(shape, target).or_else(|e| match (target.first(), shape.first()) {
        (Some(1), Some(&batch)) => {
            let per_sample: Vec<i64> = [batch as i64].into_iter().chain(target[1..].iter().copied()).collect();
            reshape_shape(shape, &per_sample).map_err(|_| e)
        }
        _ => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_adds_a_row_to_every_row() {
        let (sum, shape) = broadcast_binary(&[1, 2, 3, 4, 5, 6], &[2, 3], &[10, 20, 30], &[3], |a, b| a + b).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(sum, vec![11, 22, 33, 14, 25, 36]);
        let (col, _) = broadcast_binary(&[1, 2], &[2, 1], &[10, 20, 30], &[1, 3], |a, b| a * b).unwrap();
        assert_eq!(col, vec![10, 20, 30, 20, 40, 60]);
        assert!(broadcast_binary(&[1, 2], &[2], &[1, 2, 3], &[3], |a: i32, b| a + b).is_err());
    }

    #[test]
    fn max_pool_2x2_stride_2() {
        // One 4x4 plane: 0..16.
        let x: Vec<i64> = (0..16).collect();
        let w = Window { kernel: [2, 2], pads: [0; 4], strides: [2, 2], dilations: [1, 1] };
        let (y, shape) = max_pool(&x, &[1, 1, 4, 4], &w).unwrap();
        assert_eq!(shape, vec![1, 1, 2, 2]);
        assert_eq!(y, vec![5, 7, 13, 15]);
        // Padding is not a candidate: all-negative inputs keep their maximum.
        let neg: Vec<i64> = (0..4).map(|v| -10 - v).collect();
        let padded = Window { kernel: [3, 3], pads: [1; 4], strides: [1, 1], dilations: [1, 1] };
        let (y, _) = max_pool(&neg, &[1, 1, 2, 2], &padded).unwrap();
        assert_eq!(y, vec![-10; 4]);
    }

    #[test]
    fn flatten_and_reshape_shapes() {
        assert_eq!(flatten_shape(&[2, 3, 4, 5], 1).unwrap(), vec![2, 60]);
        assert_eq!(flatten_shape(&[2, 3, 4, 5], -1).unwrap(), vec![24, 5]);
        assert_eq!(flatten_shape(&[2, 3], 0).unwrap(), vec![1, 6]);
        assert_eq!(reshape_shape(&[2, 3, 4], &[0, -1]).unwrap(), vec![2, 12]);
        assert_eq!(reshape_shape(&[2, 3, 4], &[4, 6]).unwrap(), vec![4, 6]);
        assert!(reshape_shape(&[2, 3, 4], &[5, -1]).is_err());
    }
}
