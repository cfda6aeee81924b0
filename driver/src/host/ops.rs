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

/// A 2-D pooling window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub kernel: [usize; 2],
    /// Top, left, bottom, right.
    pub pads: [usize; 4],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// NHWC (TFLite) rather than NCHW (ONNX).
    pub channels_last: bool,
}

impl Window {
    /// (batch, channels, height, width) of a rank-4 `shape` in this window's layout.
    pub fn dims(&self, shape: &[usize]) -> Result<[usize; 4], ShapeError> {
        match *shape {
            [n, h, w, c] if self.channels_last => Ok([n, c, h, w]),
            [n, c, h, w] if !self.channels_last => Ok([n, c, h, w]),
            _ => Err(ShapeError::NotNchw { what: "pooling", shape: shape.to_vec() }),
        }
    }

    /// Flat index of element (b, ch, r, q) of a tensor of `dims` (b, c, h, w).
    fn index(&self, [_, c, h, w]: [usize; 4], b: usize, ch: usize, r: usize, q: usize) -> usize {
        if self.channels_last {
            ((b * h + r) * w + q) * c + ch
        } else {
            ((b * c + ch) * h + r) * w + q
        }
    }

    /// The activation shape of (batch, channels, height, width) in this layout.
    pub fn shape(&self, [n, c, h, w]: [usize; 4]) -> Vec<usize> {
        if self.channels_last {
            vec![n, h, w, c]
        } else {
            vec![n, c, h, w]
        }
    }

    /// Output height and width over an input of `h` x `w`.
    pub fn output_size(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let size = |len: usize, lo: usize, hi: usize, k: usize, d: usize, s: usize| {
            (len + lo + hi).checked_sub(d * (k - 1) + 1).map(|v| v / s + 1)
        };
        let oh = size(h, self.pads[0], self.pads[2], self.kernel[0], self.dilations[0], self.strides[0])?;
        let ow = size(w, self.pads[1], self.pads[3], self.kernel[1], self.dilations[1], self.strides[1])?;
        Some([oh, ow])
    }

    /// Every output position's in-bounds input taps, in output order:
    /// `visit(output index, taps)`.
    fn slide<T: Copy, U>(
        &self,
        x: &[T],
        shape: &[usize],
        reduce: impl Fn(&mut dyn Iterator<Item = T>) -> Option<U>,
    ) -> Result<(Vec<U>, Vec<usize>), ShapeError> {
        check_len(x.len(), shape)?;
        let dims = self.dims(shape)?;
        let [n, c, h, w] = dims;
        let window = || ShapeError::Window { shape: shape.to_vec() };
        let [oh, ow] = self.output_size(h, w).ok_or_else(window)?;
        let out_dims = [n, c, oh, ow];
        let mut out: Vec<Option<U>> = (0..n * c * oh * ow).map(|_| None).collect();
        for (b, ch) in (0..n).flat_map(|b| (0..c).map(move |ch| (b, ch))) {
            for (y, xo) in (0..oh).flat_map(|y| (0..ow).map(move |xo| (y, xo))) {
                let mut taps =
                    (0..self.kernel[0]).flat_map(|i| (0..self.kernel[1]).map(move |j| (i, j))).filter_map(|(i, j)| {
                        let r = (y * self.strides[0] + i * self.dilations[0])
                            .checked_sub(self.pads[0])
                            .filter(|&r| r < h)?;
                        let q = (xo * self.strides[1] + j * self.dilations[1])
                            .checked_sub(self.pads[1])
                            .filter(|&q| q < w)?;
                        Some(x[self.index(dims, b, ch, r, q)])
                    });
                out[self.index(out_dims, b, ch, y, xo)] = Some(reduce(&mut taps).ok_or_else(window)?);
            }
        }
        Ok((out.into_iter().map(|v| v.expect("every output visited")).collect(), self.shape(out_dims)))
    }
}

/// The shape a 2-D window `w` slides to over `shape`.
pub fn pool_output_shape(shape: &[usize], w: &Window) -> Result<Vec<usize>, ShapeError> {
    let [n, c, h, wd] = w.dims(shape)?;
    let [oh, ow] = w.output_size(h, wd).ok_or_else(|| ShapeError::Window { shape: shape.to_vec() })?;
    Ok(w.shape([n, c, oh, ow]))
}

/// `MaxPool` (padding never wins: it is outside the window's candidates).
pub fn max_pool<T: Copy + PartialOrd>(
    x: &[T],
    shape: &[usize],
    w: &Window,
) -> Result<(Vec<T>, Vec<usize>), ShapeError> {
    w.slide(x, shape, |taps| taps.reduce(|m, v| if v > m { v } else { m }))
}

/// TFLite's integer `AVERAGE_POOL_2D`: the sum of the in-bounds taps divided by
/// their count, rounded half away from zero.
pub fn average_pool_int(x: &[i64], shape: &[usize], w: &Window) -> Result<(Vec<i64>, Vec<usize>), ShapeError> {
    w.slide(x, shape, |taps| {
        let (sum, count) = taps.fold((0i64, 0i64), |(s, n), v| (s + v, n + 1));
        (count > 0).then(|| if sum > 0 { (sum + count / 2) / count } else { (sum - count / 2) / count })
    })
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
        let w = Window { kernel: [2, 2], pads: [0; 4], strides: [2, 2], dilations: [1, 1], channels_last: false };
        let (y, shape) = max_pool(&x, &[1, 1, 4, 4], &w).unwrap();
        assert_eq!(shape, vec![1, 1, 2, 2]);
        assert_eq!(y, vec![5, 7, 13, 15]);
        // Padding is not a candidate: all-negative inputs keep their maximum.
        let neg: Vec<i64> = (0..4).map(|v| -10 - v).collect();
        let padded = Window { kernel: [3, 3], pads: [1; 4], strides: [1, 1], dilations: [1, 1], channels_last: false };
        let (y, _) = max_pool(&neg, &[1, 1, 2, 2], &padded).unwrap();
        assert_eq!(y, vec![-10; 4]);
    }

    #[test]
    fn nhwc_pooling_matches_nchw_pooling_of_the_transposed_input() {
        // Two channels of a 4x4 plane, NCHW: channel 0 is 0..16, channel 1 its negation.
        let nchw: Vec<i64> = (0..16).chain((0..16).map(|v| -v)).collect();
        let nhwc: Vec<i64> = (0..16).flat_map(|i| [nchw[i], nchw[16 + i]]).collect();
        let w = Window { kernel: [2, 2], pads: [0; 4], strides: [2, 2], dilations: [1, 1], channels_last: false };
        let (a, a_shape) = max_pool(&nchw, &[1, 2, 4, 4], &w).unwrap();
        let last = Window { channels_last: true, ..w };
        let (b, b_shape) = max_pool(&nhwc, &[1, 4, 4, 2], &last).unwrap();
        assert_eq!((a_shape, b_shape), (vec![1, 2, 2, 2], vec![1, 2, 2, 2]));
        let b_as_nchw: Vec<i64> = (0..2).flat_map(|c| (0..4).map(move |i| (i, c))).map(|(i, c)| b[i * 2 + c]).collect();
        assert_eq!(a, b_as_nchw);
        assert_eq!(a, vec![5, 7, 13, 15, 0, -2, -8, -10]);
    }

    #[test]
    fn average_pool_rounds_half_away_from_zero() {
        // Windows of 2: (1+2)/2 = 1.5 -> 2, (-1-2)/2 = -1.5 -> -2, (1+1)/2 = 1.
        let w = Window { kernel: [1, 2], pads: [0; 4], strides: [1, 2], dilations: [1, 1], channels_last: false };
        let (y, _) = average_pool_int(&[1, 2, -1, -2, 1, 1], &[1, 1, 1, 6], &w).unwrap();
        assert_eq!(y, vec![2, -2, 1]);
        // Padding is not counted: a 3x3 window at a corner of a 2x2 input sees 4 taps.
        let padded = Window { kernel: [3, 3], pads: [1; 4], strides: [1, 1], dilations: [1, 1], channels_last: false };
        let (y, _) = average_pool_int(&[4, 4, 4, 5], &[1, 1, 2, 2], &padded).unwrap();
        assert_eq!(y, vec![4, 4, 4, 4]);
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
