//! TFLite's `RESIZE_BILINEAR` on 8-bit values, with the reference kernels' arithmetic
//! (`tensorflow/lite/kernels/internal/reference/resize_bilinear.h`): int8 through
//! `ResizeBilinearInteger` (source coordinates in fixed point with 10 fractional bits,
//! a 20-bit weighted sum rounded half away from zero), uint8 through the float
//! `ResizeBilinear<uint8_t>` (float32 weights, `+ 0.5` and truncation). The output has
//! the input's quantization: only positions change, values are interpolated.

use crate::tensor::ElemType;
use serde::{Deserialize, Serialize};

/// A bilinear resize of an NHWC value to `size` (height, width).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bilinear {
    pub size: [usize; 2],
    pub align_corners: bool,
    pub half_pixel_centers: bool,
    /// `I8` or `U8`: which of the reference's two paths computes it.
    pub dtype: ElemType,
}

/// The two input rows (or columns) an output row reads and the source coordinate.
struct Taps<T> {
    lo: usize,
    hi: usize,
    at: T,
}

impl Bilinear {
    /// The output shape for an NHWC input of `shape`.
    pub fn output_shape(&self, shape: &[usize]) -> Result<Vec<usize>, String> {
        let &[n, h, w, c] = shape else { return Err(format!("resizes an NHWC image, not {shape:?}")) };
        if h == 0 || w == 0 || self.size.contains(&0) {
            return Err(format!("resizing {shape:?} to {}x{}", self.size[0], self.size[1]));
        }
        if !matches!(self.dtype, ElemType::I8 | ElemType::U8) {
            return Err(format!("bilinear resize of {} values (int8 and uint8 are supported)", self.dtype));
        }
        Ok(vec![n, self.size[0], self.size[1], c])
    }

    /// The resized value of `x` (NHWC, of `shape`) and its shape.
    pub fn run(&self, x: &[i64], shape: &[usize]) -> Result<(Vec<i64>, Vec<usize>), String> {
        let out_shape = self.output_shape(shape)?;
        if x.len() != shape.iter().product::<usize>() {
            return Err(format!("{} values for shape {shape:?}", x.len()));
        }
        let (h, w, c) = (shape[1], shape[2], shape[3]);
        let at = |b: usize, y: usize, xx: usize, ch: usize| x[((b * h + y) * w + xx) * c + ch];
        let mut out = Vec::with_capacity(out_shape.iter().product());
        if self.dtype == ElemType::I8 {
            let rows: Vec<Taps<i64>> = (0..self.size[0]).map(|i| self.fixed(i, h, self.size[0])).collect();
            let cols: Vec<Taps<i64>> = (0..self.size[1]).map(|i| self.fixed(i, w, self.size[1])).collect();
            for b in 0..shape[0] {
                for r in &rows {
                    let (dy, ry) = (r.at - 1024 * r.lo as i64, 1024 - (r.at - 1024 * r.lo as i64));
                    for q in &cols {
                        let (dx, rx) = (q.at - 1024 * q.lo as i64, 1024 - (q.at - 1024 * q.lo as i64));
                        for ch in 0..c {
                            let sum = at(b, r.lo, q.lo, ch) * ry * rx
                                + at(b, r.hi, q.lo, ch) * dy * rx
                                + at(b, r.lo, q.hi, ch) * ry * dx
                                + at(b, r.hi, q.hi, ch) * dy * dx;
                            let round = if sum > 0 { 1 << 19 } else { -(1 << 19) };
                            // Truncating division, then the cast to int8 (wrapping).
                            out.push(i64::from(((sum + round) / (1 << 20)) as i8));
                        }
                    }
                }
            }
        } else {
            let rows: Vec<Taps<f32>> = (0..self.size[0]).map(|i| self.float(i, h, self.size[0])).collect();
            let cols: Vec<Taps<f32>> = (0..self.size[1]).map(|i| self.float(i, w, self.size[1])).collect();
            for b in 0..shape[0] {
                for r in &rows {
                    let dy = r.at - r.lo as f32;
                    for q in &cols {
                        let dx = q.at - q.lo as f32;
                        for ch in 0..c {
                            let v = |y: usize, xx: usize| at(b, y, xx, ch) as f32;
                            // Left to right, as the reference's expression associates.
                            let sum = v(r.lo, q.lo) * (1.0 - dy) * (1.0 - dx)
                                + v(r.hi, q.lo) * dy * (1.0 - dx)
                                + v(r.lo, q.hi) * (1.0 - dy) * dx
                                + v(r.hi, q.hi) * dy * dx
                                + 0.5;
                            out.push(i64::from(sum as u8));
                        }
                    }
                }
            }
        }
        Ok((out, out_shape))
    }

    /// `ComputeInterpolationValuesInteger`: output index `i` of `output` along an axis
    /// of `input` elements, the source coordinate with 10 fractional bits.
    fn fixed(&self, i: usize, input: usize, output: usize) -> Taps<i64> {
        let (input, output, i) = (input as i64, output as i64, i as i64);
        let scale = if self.align_corners && output > 1 {
            ((input - 1) * 1024 + (output - 1) / 2) / (output - 1)
        } else {
            (input * 1024 + output / 2) / output
        };
        let at = if self.half_pixel_centers { i * scale + scale / 2 - 512 } else { i * scale };
        // C's division truncates toward zero.
        let lo = (at / 1024).max(0);
        let hi = ((at + 1023) / 1024).min(input - 1);
        Taps { lo: lo as usize, hi: hi.max(0) as usize, at }
    }

    /// `ComputeInterpolationValues` in float32.
    fn float(&self, i: usize, input: usize, output: usize) -> Taps<f32> {
        let scale = if self.align_corners && output > 1 {
            (input - 1) as f32 / (output - 1) as f32
        } else {
            input as f32 / output as f32
        };
        let at = if self.half_pixel_centers { (i as f32 + 0.5) * scale - 0.5 } else { i as f32 * scale };
        let lo = (at.floor() as i64).max(0);
        let hi = (at.ceil() as i64).min(input as i64 - 1);
        Taps { lo: lo as usize, hi: hi.max(0) as usize, at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference kernel's own unit test (`resize_bilinear_test.cc`, int8, 2x2 to
    /// 4x6 without half-pixel centers).
    #[test]
    fn int8_upsampling_matches_the_reference_kernels_test() {
        let r = Bilinear { size: [4, 6], align_corners: false, half_pixel_centers: false, dtype: ElemType::I8 };
        let (y, s) = r.run(&[127, -128, 64, 0], &[1, 2, 2, 1]).unwrap();
        assert_eq!(s, vec![1, 4, 6, 1]);
        #[rustfmt::skip]
        let want = vec![
            127, 42, -43, -128, -128, -128,
            96, 42, -11, -64, -64, -64,
            64, 43, 21, 0, 0, 0,
            64, 43, 21, 0, 0, 0,
        ];
        assert_eq!(y, want);
    }

    #[test]
    fn bad_shapes_are_errors() {
        let r = Bilinear { size: [4, 4], align_corners: true, half_pixel_centers: false, dtype: ElemType::U8 };
        assert!(r.run(&[1, 2], &[1, 2, 1]).is_err());
        let r = Bilinear { dtype: ElemType::I32, ..r };
        assert!(r.output_shape(&[1, 2, 2, 1]).is_err());
    }
}
