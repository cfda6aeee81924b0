//! TFLite's quantized reductions over any axes — `MEAN` (other than the global average
//! pool over [1, 2], which the accelerator runs as a [`crate::program::SpatialMean`]),
//! `REDUCE_MAX` and `REDUCE_MIN` — with the reference kernels' arithmetic
//! (`tensorflow/lite/kernels/internal/reference/reduce.h`): the mean rescales the
//! zero-point-centred int32 sum by one fixed-point multiplication with `1 / count`
//! folded in (`QuantizedMeanOrSum`, as [`TfliteMean`] does), the extrema pick raw
//! values (input and output quantized alike). LayerNorm (ConvNeXt, transformers)
//! writes its statistics as MEANs over the channel axis.
//!
//! 8-bit `SUM` is refused: TFLite's reference kernel reads int8 data as uint8
//! (`reduce.cc` passes `GetTensorData<uint8_t>`), and the optimized kernel rounds in
//! float32, so there is no normative result to be bit-exact with.

use crate::program::Affine;
use serde::{Deserialize, Serialize};
use tessera_isa::quant::TfliteMean;

/// Which reduction a [`Reduce`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReduceOp {
    Mean,
    Max,
    Min,
}

/// A reduction of an 8-bit value over `axes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reduce {
    pub op: ReduceOp,
    /// The reduced axes, resolved (non-negative, no duplicates), ascending.
    pub axes: Vec<usize>,
    /// The output keeps the reduced axes as 1s.
    pub keep_dims: bool,
    pub input: Affine,
    pub out: Affine,
}

impl Reduce {
    /// The output shape for an input of `shape`.
    pub fn output_shape(&self, shape: &[usize]) -> Result<Vec<usize>, String> {
        if let Some(&a) = self.axes.iter().find(|&&a| a >= shape.len()) {
            return Err(format!("axis {a} is outside the input {shape:?}"));
        }
        Ok(shape
            .iter()
            .enumerate()
            .filter_map(|(i, &d)| match (self.axes.contains(&i), self.keep_dims) {
                (false, _) => Some(d),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect())
    }

    /// The reduced value of `x` (row-major, of `shape`) and its shape.
    pub fn run(&self, x: &[i64], shape: &[usize]) -> Result<(Vec<i64>, Vec<usize>), String> {
        let out_shape = self.output_shape(shape)?;
        if x.len() != shape.iter().product::<usize>() {
            return Err(format!("{} values for shape {shape:?}", x.len()));
        }
        let count: usize = self.axes.iter().map(|&a| shape[a]).product();
        let outputs = x.len().checked_div(count).unwrap_or(0);
        let range = self.out.dtype.int_range().ok_or("reduces to an integer type")?;
        // The flat index of each input element's output: its coordinates with the
        // reduced ones dropped.
        let mut groups: Vec<Vec<i64>> = vec![Vec::with_capacity(count); outputs];
        let mut coords = vec![0usize; shape.len()];
        for &v in x {
            let slot = coords
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.axes.contains(i))
                .fold(0, |acc, (i, &c)| acc * shape[i] + c);
            groups[slot].push(v);
            for (c, &d) in coords.iter_mut().zip(shape).rev() {
                *c += 1;
                if *c < d {
                    break;
                }
                *c = 0;
            }
        }
        let values = match self.op {
            ReduceOp::Max => groups.iter().map(|g| g.iter().copied().max().unwrap_or(range.0)).collect(),
            ReduceOp::Min => groups.iter().map(|g| g.iter().copied().min().unwrap_or(range.1)).collect(),
            ReduceOp::Mean => {
                let (i, o) = (&self.input, &self.out);
                let mean = TfliteMean::new((i.scale, i.zero), (o.scale, o.zero), count, range)
                    .ok_or("the scales give no fixed-point multiplier")?;
                groups.iter().map(|g| mean.apply(g.iter().map(|&q| q - i.zero).sum())).collect()
            }
        };
        Ok((values, out_shape))
    }

    /// Whether MAX / MIN can pick raw values: the reference kernel requires input and
    /// output quantized alike.
    pub fn picks_raw_values(&self) -> bool {
        (self.input.scale, self.input.zero, self.input.dtype) == (self.out.scale, self.out.zero, self.out.dtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::ElemType;

    fn q(scale: f32, zero: i64) -> Affine {
        Affine { scale, zero, dtype: ElemType::I8, half_scale: false }
    }

    #[test]
    fn shapes_drop_or_keep_the_reduced_axes() {
        let r = |axes: Vec<usize>, keep_dims| Reduce {
            op: ReduceOp::Mean,
            axes,
            keep_dims,
            input: q(1.0, 0),
            out: q(1.0, 0),
        };
        assert_eq!(r(vec![3], true).output_shape(&[1, 4, 4, 8]).unwrap(), [1, 4, 4, 1]);
        assert_eq!(r(vec![1, 3], false).output_shape(&[1, 4, 4, 8]).unwrap(), [1, 4]);
        assert!(r(vec![4], false).output_shape(&[1, 4, 4, 8]).is_err());
    }

    /// Hand-derived: equal scales, so the mean of the centred values plus the zero
    /// point; max and sum of the raw and centred values.
    #[test]
    fn reductions_over_the_last_axis_by_hand() {
        let x = [1, 2, 3, 6, -10, -20, -30, -40];
        let mean = Reduce { op: ReduceOp::Mean, axes: vec![1], keep_dims: true, input: q(0.5, 2), out: q(0.5, 2) };
        // (1-2 + 2-2 + 3-2 + 6-2) / 4 = 1 -> 3; (-12-22-32-42) / 4 = -27 -> -25.
        assert_eq!(mean.run(&x, &[2, 4]).unwrap(), (vec![3, -25], vec![2, 1]));
        let max = Reduce { op: ReduceOp::Max, ..mean.clone() };
        assert_eq!(max.run(&x, &[2, 4]).unwrap().0, [6, -10]);
        let min = Reduce { op: ReduceOp::Min, ..mean.clone() };
        assert_eq!(min.run(&x, &[2, 4]).unwrap().0, [1, -40]);
        // A mean at an output scale twice the input's: 1 and -27 halve (rounding away).
        let half = Reduce { out: q(1.0, 0), ..mean.clone() };
        assert_eq!(half.run(&x, &[2, 4]).unwrap().0, [1, -14]);
        // Over the first axis: columns.
        let cols = Reduce { axes: vec![0], keep_dims: false, ..max };
        assert_eq!(cols.run(&x, &[2, 4]).unwrap(), (vec![1, 2, 3, 6], vec![4]));
    }
}
