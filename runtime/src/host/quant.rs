//! ONNX `QuantizeLinear` / `DequantizeLinear` with the specification's arithmetic
//! (as `onnx.reference` computes it): `q = saturate(rint(x / scale) + zero_point)`
//! with the division in float32 and ties to even; `x = (q - zero_point) * scale` in
//! float32. Per-tensor when `scale` has one element, else per channel along `axis`,
//! or per block of `block_size` elements along `axis` (then `scale` has the tensor's
//! rank with that dimension divided into blocks).

use tessera_isa::quant::{onnx_dequantize, onnx_quantize};

/// The integer range quantized values saturate to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantRange {
    pub lo: i64,
    pub hi: i64,
}

impl QuantRange {
    pub const I8: QuantRange = QuantRange { lo: -128, hi: 127 };
    pub const U8: QuantRange = QuantRange { lo: 0, hi: 255 };
    pub const I4: QuantRange = QuantRange { lo: -8, hi: 7 };
    pub const U4: QuantRange = QuantRange { lo: 0, hi: 15 };
}

/// Quantization parameters of one tensor: one (scale, zero point) pair, one per
/// index of dimension `axis`, or (with `block_size` > 0) one per block of that many
/// consecutive indices of `axis` at every position of the other dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantParams<'a> {
    pub scale: &'a [f32],
    pub zero_point: &'a [i64],
    pub axis: usize,
    pub block_size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    #[error("{scales} scales and {zeros} zero points: they must have the same count")]
    CountMismatch { scales: usize, zeros: usize },
    #[error("{count} per-channel parameters for axis {axis} of shape {shape:?}")]
    AxisMismatch { count: usize, axis: usize, shape: Vec<usize> },
    #[error("{values} values for shape {shape:?}")]
    ShapeMismatch { values: usize, shape: Vec<usize> },
}

/// Maps an element's flat index to the index of its parameters.
type ChannelOf = Box<dyn Fn(usize) -> usize>;

impl QuantParams<'_> {
    /// For each element of a row-major tensor of `shape`, the index of its parameters.
    fn channel_of(&self, shape: &[usize], len: usize) -> Result<ChannelOf, QuantError> {
        if self.scale.len() != self.zero_point.len() {
            return Err(QuantError::CountMismatch { scales: self.scale.len(), zeros: self.zero_point.len() });
        }
        if shape.iter().product::<usize>() != len {
            return Err(QuantError::ShapeMismatch { values: len, shape: shape.to_vec() });
        }
        if self.scale.len() == 1 && self.block_size == 0 {
            return Ok(Box::new(|_| 0));
        }
        let mismatch = || QuantError::AxisMismatch { count: self.scale.len(), axis: self.axis, shape: shape.to_vec() };
        let dim = *shape.get(self.axis).ok_or_else(mismatch)?;
        let outer: usize = shape[..self.axis].iter().product();
        let inner: usize = shape[self.axis + 1..].iter().product();
        let block = self.block_size;
        if block == 0 {
            if self.scale.len() != dim {
                return Err(mismatch());
            }
            return Ok(Box::new(move |i| (i / inner) % dim));
        }
        // Blocked: the scale tensor is the input's shape with `axis` counted in blocks.
        let blocks = dim.div_ceil(block);
        if self.scale.len() != outer * blocks * inner {
            return Err(mismatch());
        }
        Ok(Box::new(move |i| {
            let (o, a, r) = (i / (inner * dim), (i / inner) % dim, i % inner);
            (o * blocks + a / block) * inner + r
        }))
    }
}

/// `QuantizeLinear` of a row-major tensor of `shape`.
pub fn quantize(x: &[f32], shape: &[usize], params: &QuantParams, range: QuantRange) -> Result<Vec<i64>, QuantError> {
    let channel = params.channel_of(shape, x.len())?;
    Ok(x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = channel(i);
            onnx_quantize(v, params.scale[c], params.zero_point[c], (range.lo, range.hi))
        })
        .collect())
}

/// `DequantizeLinear` of a row-major tensor of `shape`.
pub fn dequantize(q: &[i64], shape: &[usize], params: &QuantParams) -> Result<Vec<f32>, QuantError> {
    let channel = params.channel_of(shape, q.len())?;
    Ok(q.iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = channel(i);
            onnx_dequantize(v, params.zero_point[c], params.scale[c])
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_tensor<'a>(scale: &'a [f32], zero_point: &'a [i64]) -> QuantParams<'a> {
        QuantParams { scale, zero_point, axis: 0, block_size: 0 }
    }

    #[test]
    fn quantize_rounds_ties_to_even_and_saturates() {
        // Scale 0.5: x / 0.5 = 2x exactly, so the ties are real ties.
        let p = per_tensor(&[0.5], &[0]);
        let x = [0.25, 0.75, -0.25, -0.75, 1.25, 100.0, -100.0];
        assert_eq!(quantize(&x, &[7], &p, QuantRange::I8).unwrap(), vec![0, 2, 0, -2, 2, 127, -128]);
        // The examples' input quantization: scale f32(1/255), zero point -128. The f32
        // scale is slightly above 1/255, so 0.5 / scale = 127.49999 (in f32) rounds down.
        let p = per_tensor(&[0.003_921_569], &[-128]);
        assert_eq!(quantize(&[0.0, 1.0, 0.5], &[3], &p, QuantRange::I8).unwrap(), vec![-128, 127, -1]);
        // A zero point shifts the saturation bounds.
        let p = per_tensor(&[1.0], &[100]);
        assert_eq!(quantize(&[-200.0, 200.0], &[2], &p, QuantRange::U8).unwrap(), vec![0, 255]);
    }

    #[test]
    fn per_channel_parameters_follow_the_axis() {
        // Shape [2, 3], axis 1: column c uses scale[c].
        let p = QuantParams { scale: &[1.0, 2.0, 4.0], zero_point: &[0, 1, -1], axis: 1, block_size: 0 };
        let x = [4.0, 4.0, 4.0, -8.0, -8.0, -8.0];
        let q = quantize(&x, &[2, 3], &p, QuantRange::I8).unwrap();
        assert_eq!(q, vec![4, 3, 0, -8, -3, -3]);
        assert_eq!(dequantize(&q, &[2, 3], &p).unwrap(), vec![4.0, 4.0, 4.0, -8.0, -8.0, -8.0]);
    }

    #[test]
    fn blocked_parameters_cover_runs_of_the_axis() {
        // Shape [2, 4], axis 1, blocks of 2: scale [2, 2]; element (r, c) uses (r, c / 2).
        let p = QuantParams { scale: &[1.0, 2.0, 4.0, 8.0], zero_point: &[0, 0, 0, 0], axis: 1, block_size: 2 };
        let x = [8.0; 8];
        assert_eq!(quantize(&x, &[2, 4], &p, QuantRange::I8).unwrap(), vec![8, 8, 4, 4, 2, 2, 1, 1]);
    }

    #[test]
    fn mismatched_parameters_are_errors() {
        let p = QuantParams { scale: &[1.0, 2.0], zero_point: &[0, 0], axis: 1, block_size: 0 };
        assert_eq!(
            quantize(&[0.0; 6], &[2, 3], &p, QuantRange::I8).unwrap_err(),
            QuantError::AxisMismatch { count: 2, axis: 1, shape: vec![2, 3] }
        );
        let p = QuantParams { scale: &[1.0], zero_point: &[0, 0], axis: 0, block_size: 0 };
        assert_eq!(dequantize(&[0], &[1], &p).unwrap_err(), QuantError::CountMismatch { scales: 1, zeros: 2 });
    }
}
