//! Shapes of the operators a program holds: the 2-D window of convolutions and
//! pooling, numpy broadcasting, and the shape arithmetic of `Flatten` and `Reshape`.
//! Used by the compiler's planning and by the runtime's host operators.

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
    #[error("{pads} (before, after) paddings for a rank-{rank} tensor")]
    Pads { pads: usize, rank: usize },
    #[error(
        "ceil_mode puts the last window {overhang} positions past the padded input {shape:?}; the ONNX reference then shifts every window (at most 1 is supported)"
    )]
    CeilOverhang { overhang: usize, shape: Vec<usize> },
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
    /// ONNX pooling's `ceil_mode`: one more output where the last window would only
    /// partly cover the padded input (and starts inside it); its taps past the end are
    /// padding.
    #[serde(default)]
    pub ceil_mode: bool,
}

impl Window {
    /// An NCHW window with unit dilations that rounds its output size down.
    pub fn nchw(kernel: [usize; 2], pads: [usize; 4], strides: [usize; 2]) -> Self {
        Window { kernel, pads, strides, dilations: [1, 1], channels_last: false, ceil_mode: false }
    }

    /// (batch, channels, height, width) of a rank-4 `shape` in this window's layout.
    pub fn dims(&self, shape: &[usize]) -> Result<[usize; 4], ShapeError> {
        match *shape {
            [n, h, w, c] if self.channels_last => Ok([n, c, h, w]),
            [n, c, h, w] if !self.channels_last => Ok([n, c, h, w]),
            _ => Err(ShapeError::NotNchw { what: "pooling", shape: shape.to_vec() }),
        }
    }

    /// Flat index of element (b, ch, r, q) of a tensor of `dims` (b, c, h, w).
    pub fn index(&self, [_, c, h, w]: [usize; 4], b: usize, ch: usize, r: usize, q: usize) -> usize {
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
        Some([self.axis_output(0, h)?, self.axis_output(1, w)?])
    }

    /// Outputs along axis `a` (0 rows, 1 columns) over `len` inputs: the windows that
    /// fit the padded input, and with `ceil_mode` one more that covers its end, as long
    /// as it starts inside the input or its leading padding (the ONNX reference's rule).
    fn axis_output(&self, a: usize, len: usize) -> Option<usize> {
        let (lo, hi, s) = (self.pads[a], self.pads[a + 2], self.strides[a]);
        let span = (len + lo + hi).checked_sub(self.dilations[a] * (self.kernel[a] - 1) + 1)?;
        let fit = span / s + 1;
        Some(if self.ceil_mode && span % s != 0 && fit * s < len + lo { fit + 1 } else { fit })
    }

    /// How far the last window reaches past the padded input along each axis (0
    /// without `ceil_mode`).
    pub fn overhang(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let past = |a: usize, len: usize| {
            let out = self.axis_output(a, len)?;
            let reach = (out - 1) * self.strides[a] + self.dilations[a] * (self.kernel[a] - 1) + 1;
            Some(reach.saturating_sub(len + self.pads[a] + self.pads[a + 2]))
        };
        Some([past(0, h)?, past(1, w)?])
    }
}

/// The shape a 2-D window `w` slides to over `shape`.
pub fn pool_output_shape(shape: &[usize], w: &Window) -> Result<Vec<usize>, ShapeError> {
    let [n, c, h, wd] = w.dims(shape)?;
    let [oh, ow] = w.output_size(h, wd).ok_or_else(|| ShapeError::Window { shape: shape.to_vec() })?;
    let overhang = w.overhang(h, wd).map_or(0, |[a, b]| a.max(b));
    if overhang > 1 {
        return Err(ShapeError::CeilOverhang { overhang, shape: shape.to_vec() });
    }
    Ok(w.shape([n, c, oh, ow]))
}

/// The output shape of a depthwise convolution with `multiplier` over `shape`.
pub fn depthwise_output_shape(shape: &[usize], w: &Window, multiplier: usize) -> Result<Vec<usize>, ShapeError> {
    let [n, c, h, wd] = w.dims(shape)?;
    let [oh, ow] = w.output_size(h, wd).ok_or_else(|| ShapeError::Window { shape: shape.to_vec() })?;
    Ok(w.shape([n, c * multiplier, oh, ow]))
}

/// The shape of a 4-D value (NHWC if `channels_last`, else NCHW) whose pixels are
/// spread `factors` apart: `(h - 1) * factor + 1` rows and likewise columns.
pub fn dilate_shape(shape: &[usize], factors: [usize; 2], channels_last: bool) -> Result<Vec<usize>, ShapeError> {
    let (rows, cols) = if channels_last { (1, 2) } else { (2, 3) };
    if shape.len() != 4 || shape[rows] == 0 || shape[cols] == 0 {
        return Err(ShapeError::NotNchw { what: "a transposed convolution", shape: shape.to_vec() });
    }
    let mut out = shape.to_vec();
    out[rows] = (shape[rows] - 1) * factors[0] + 1;
    out[cols] = (shape[cols] - 1) * factors[1] + 1;
    Ok(out)
}

/// The shape of `shape` padded by (before, after) `pads` per dimension.
pub fn pad_shape(shape: &[usize], pads: &[[usize; 2]]) -> Result<Vec<usize>, ShapeError> {
    if pads.len() != shape.len() {
        return Err(ShapeError::Pads { pads: pads.len(), rank: shape.len() });
    }
    Ok(shape.iter().zip(pads).map(|(d, [lo, hi])| d + lo + hi).collect())
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

/// [`reshape_shape`] for a model run on a batch: a target for one sample that does not
/// fit has its first dimension multiplied by the number of samples the input holds —
/// the batch itself when that dimension is 1, the rows of all samples when it counts
/// one sample's rows (a dynamic-batch TFLite `Tensordot`'s `[H * W, C]`).
pub fn reshape_batched(shape: &[usize], target: &[i64]) -> Result<Vec<usize>, ShapeError> {
    reshape_shape(shape, target).or_else(|e| {
        let per_sample = target.iter().try_fold(1i64, |p, &d| if d > 0 { p.checked_mul(d) } else { None });
        let elements = shape.iter().product::<usize>() as i64;
        match (per_sample, target.first()) {
            (Some(per), Some(&first)) if elements > per && elements % per == 0 => {
                let scaled: Vec<i64> =
                    [first * (elements / per)].into_iter().chain(target[1..].iter().copied()).collect();
                reshape_shape(shape, &scaled).map_err(|_| e)
            }
            _ => Err(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ceil_mode` adds the window that covers the input's end only when it starts
    /// inside the input (ONNX's rule): 8 -> 4 with one position of overhang, 7 -> 3.
    #[test]
    fn ceil_mode_adds_a_last_partial_window() {
        let w = Window { ceil_mode: true, ..Window::nchw([3, 3], [0; 4], [2, 2]) };
        assert_eq!(w.output_size(8, 7), Some([4, 3]));
        assert_eq!(w.overhang(8, 7), Some([1, 0]));
        assert_eq!(Window::nchw([3, 3], [0; 4], [2, 2]).output_size(8, 7), Some([3, 3]));
        let wide = Window { ceil_mode: true, ..Window::nchw([3, 3], [0; 4], [3, 3]) };
        assert!(matches!(pool_output_shape(&[1, 1, 7, 7], &wide), Err(ShapeError::CeilOverhang { overhang: 2, .. })));
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
