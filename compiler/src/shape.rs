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
        let size = |len: usize, lo: usize, hi: usize, k: usize, d: usize, s: usize| {
            (len + lo + hi).checked_sub(d * (k - 1) + 1).map(|v| v / s + 1)
        };
        let oh = size(h, self.pads[0], self.pads[2], self.kernel[0], self.dilations[0], self.strides[0])?;
        let ow = size(w, self.pads[1], self.pads[3], self.kernel[1], self.dilations[1], self.strides[1])?;
        Some([oh, ow])
    }
}

/// The shape a 2-D window `w` slides to over `shape`.
pub fn pool_output_shape(shape: &[usize], w: &Window) -> Result<Vec<usize>, ShapeError> {
    let [n, c, h, wd] = w.dims(shape)?;
    let [oh, ow] = w.output_size(h, wd).ok_or_else(|| ShapeError::Window { shape: shape.to_vec() })?;
    Ok(w.shape([n, c, oh, ow]))
}

/// The output shape of a depthwise convolution with `multiplier` over `shape`.
pub fn depthwise_output_shape(shape: &[usize], w: &Window, multiplier: usize) -> Result<Vec<usize>, ShapeError> {
    let [n, c, h, wd] = w.dims(shape)?;
    let [oh, ow] = w.output_size(h, wd).ok_or_else(|| ShapeError::Window { shape: shape.to_vec() })?;
    Ok(w.shape([n, c * multiplier, oh, ow]))
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
    fn flatten_and_reshape_shapes() {
        assert_eq!(flatten_shape(&[2, 3, 4, 5], 1).unwrap(), vec![2, 60]);
        assert_eq!(flatten_shape(&[2, 3, 4, 5], -1).unwrap(), vec![24, 5]);
        assert_eq!(flatten_shape(&[2, 3], 0).unwrap(), vec![1, 6]);
        assert_eq!(reshape_shape(&[2, 3, 4], &[0, -1]).unwrap(), vec![2, 12]);
        assert_eq!(reshape_shape(&[2, 3, 4], &[4, 6]).unwrap(), vec![4, 6]);
        assert!(reshape_shape(&[2, 3, 4], &[5, -1]).is_err());
    }
}
