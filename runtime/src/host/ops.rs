//! Host operators on row-major tensors, with ONNX semantics: numpy-broadcast binary
//! ops, 2-D max pooling and TFLite's integer average pooling. Generic over the
//! element type, so the same code serves integers (the QOperator form) and float32
//! (between dequantization and quantization). Their shapes: `tessera_compiler::shape`.

use tessera_compiler::shape::{broadcast_shape, ShapeError, Window};
use tessera_isa::quant::numpy_pairwise_sum;

fn check_len(len: usize, shape: &[usize]) -> Result<(), ShapeError> {
    if shape.iter().product::<usize>() == len {
        Ok(())
    } else {
        Err(ShapeError::Values { values: len, shape: shape.to_vec() })
    }
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

/// Every output position of `window` over `x` reduced over its in-bounds input taps.
fn slide<T: Copy, U>(
    window: &Window,
    x: &[T],
    shape: &[usize],
    reduce: impl Fn(&mut dyn Iterator<Item = T>) -> Option<U>,
) -> Result<(Vec<U>, Vec<usize>), ShapeError> {
    slide_padded(window, x, shape, None, reduce)
}

/// Where a window tap lands along one axis of `len` values padded by `lo` and `hi`.
fn tap_at(at: usize, lo: usize, len: usize, hi: usize) -> Tap {
    match at.checked_sub(lo) {
        None => Tap::Padding,
        Some(i) if i < len => Tap::Input(i),
        Some(i) if i < len + hi => Tap::Padding,
        Some(_) => Tap::Past,
    }
}

#[derive(Clone, Copy)]
enum Tap {
    Input(usize),
    /// The explicit padding.
    Padding,
    /// Past the padded input (`ceil_mode`'s last window).
    Past,
}

/// [`slide`], with the taps on the explicit padding given `fill` when it is set (ONNX
/// average pooling's `count_include_pad`), in row-major tap order.
fn slide_padded<T: Copy, U>(
    window: &Window,
    x: &[T],
    shape: &[usize],
    fill: Option<T>,
    reduce: impl Fn(&mut dyn Iterator<Item = T>) -> Option<U>,
) -> Result<(Vec<U>, Vec<usize>), ShapeError> {
    check_len(x.len(), shape)?;
    let dims = window.dims(shape)?;
    let [n, c, h, w] = dims;
    let too_large = || ShapeError::Window { shape: shape.to_vec() };
    let [oh, ow] = window.output_size(h, w).ok_or_else(too_large)?;
    let out_dims = [n, c, oh, ow];
    let [top, left, bottom, right] = window.pads;
    let mut out: Vec<Option<U>> = (0..n * c * oh * ow).map(|_| None).collect();
    for (b, ch) in (0..n).flat_map(|b| (0..c).map(move |ch| (b, ch))) {
        for (y, xo) in (0..oh).flat_map(|y| (0..ow).map(move |xo| (y, xo))) {
            let mut taps =
                (0..window.kernel[0]).flat_map(|i| (0..window.kernel[1]).map(move |j| (i, j))).filter_map(|(i, j)| {
                    let row = tap_at(y * window.strides[0] + i * window.dilations[0], top, h, bottom);
                    let col = tap_at(xo * window.strides[1] + j * window.dilations[1], left, w, right);
                    match (row, col) {
                        (Tap::Input(r), Tap::Input(q)) => Some(x[window.index(dims, b, ch, r, q)]),
                        (Tap::Past, _) | (_, Tap::Past) => None,
                        _ => fill,
                    }
                });
            out[window.index(out_dims, b, ch, y, xo)] = Some(reduce(&mut taps).ok_or_else(too_large)?);
        }
    }
    Ok((out.into_iter().map(|v| v.expect("every output visited")).collect(), window.shape(out_dims)))
}

/// ONNX's `AveragePool` in float32 as the reference computes it: each window's taps
/// (the explicit padding's zeros among them when `count_include_pad`) summed as numpy
/// sums them, divided by their count.
pub fn average_pool_float(
    x: &[f32],
    shape: &[usize],
    w: &Window,
    count_include_pad: bool,
) -> Result<(Vec<f32>, Vec<usize>), ShapeError> {
    slide_padded(w, x, shape, count_include_pad.then_some(0.0), |taps| {
        let values: Vec<f32> = taps.collect();
        (!values.is_empty()).then(|| numpy_pairwise_sum(&values) / values.len() as f32)
    })
}

/// `MaxPool` (padding never wins: it is outside the window's candidates).
pub fn max_pool<T: Copy + PartialOrd>(
    x: &[T],
    shape: &[usize],
    w: &Window,
) -> Result<(Vec<T>, Vec<usize>), ShapeError> {
    slide(w, x, shape, |taps| taps.reduce(|m, v| if v > m { v } else { m }))
}

/// TFLite's integer `AVERAGE_POOL_2D`: the sum of the in-bounds taps divided by
/// their count, rounded half away from zero.
pub fn average_pool_int(x: &[i64], shape: &[usize], w: &Window) -> Result<(Vec<i64>, Vec<usize>), ShapeError> {
    slide(w, x, shape, |taps| {
        let (sum, count) = taps.fold((0i64, 0i64), |(s, n), v| (s + v, n + 1));
        (count > 0).then(|| if sum > 0 { (sum + count / 2) / count } else { (sum - count / 2) / count })
    })
}

/// `x` (row-major, `shape`) padded by (before, after) `pads` per dimension with `value`.
pub fn pad<T: Copy>(
    x: &[T],
    shape: &[usize],
    pads: &[[usize; 2]],
    value: T,
) -> Result<(Vec<T>, Vec<usize>), ShapeError> {
    check_len(x.len(), shape)?;
    let out_shape = tessera_compiler::shape::pad_shape(shape, pads)?;
    let mut out = vec![value; out_shape.iter().product()];
    for (i, &v) in x.iter().enumerate() {
        // The output index of input element i: each coordinate shifted by its pad.
        let (mut rest, mut at, mut stride) = (i, 0, 1);
        for d in (0..shape.len()).rev() {
            at += (rest % shape[d] + pads[d][0]) * stride;
            rest /= shape[d];
            stride *= out_shape[d];
        }
        out[at] = v;
    }
    Ok((out, out_shape))
}

/// A 4-D `x` (NHWC if `channels_last`, else NCHW) with its pixels spread `factors`
/// apart and `fill` between them.
pub fn dilate<T: Copy>(
    x: &[T],
    shape: &[usize],
    factors: [usize; 2],
    fill: T,
    channels_last: bool,
) -> Result<(Vec<T>, Vec<usize>), ShapeError> {
    check_len(x.len(), shape)?;
    let out_shape = tessera_compiler::shape::dilate_shape(shape, factors, channels_last)?;
    let mut out = vec![fill; out_shape.iter().product()];
    let (rows, cols) = if channels_last { (1, 2) } else { (2, 3) };
    let strides = |s: &[usize]| [s[1] * s[2] * s[3], s[2] * s[3], s[3], 1];
    let (from, to) = (strides(shape), strides(&out_shape));
    for (i, &v) in x.iter().enumerate() {
        let mut at = 0;
        for d in 0..4 {
            let coord = i / from[d] % shape[d];
            let scale = if d == rows {
                factors[0]
            } else if d == cols {
                factors[1]
            } else {
                1
            };
            at += coord * scale * to[d];
        }
        out[at] = v;
    }
    Ok((out, out_shape))
}

/// `f(values)` of each (image, channel)'s `h * w` values of a 4-D `x` of `shape`,
/// NHWC if `channels_last` else NCHW: `[n * c]` results, image-major. The values are
/// given in row-major (h, w) order, contiguous as numpy reduces them.
pub fn per_channel<T: Copy, U>(
    x: &[T],
    shape: &[usize],
    channels_last: bool,
    f: impl Fn(&[T]) -> U,
) -> Result<Vec<U>, ShapeError> {
    check_len(x.len(), shape)?;
    let &[n, a, b, d] = shape else {
        return Err(ShapeError::NotNchw { what: "a spatial mean", shape: shape.to_vec() });
    };
    let (c, pixels) = if channels_last { (d, a * b) } else { (a, b * d) };
    let mut out = Vec::with_capacity(n * c);
    let mut channel = Vec::with_capacity(pixels);
    for image in x.chunks(c * pixels) {
        for ch in 0..c {
            channel.clear();
            if channels_last {
                channel.extend((0..pixels).map(|p| image[p * c + ch]));
            } else {
                channel.extend_from_slice(&image[ch * pixels..(ch + 1) * pixels]);
            }
            out.push(f(&channel));
        }
    }
    Ok(out)
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

    /// A 2x2 window, stride 2, padding 1 on one 2x2 plane: each output sees one input
    /// and three padding taps; averaged over 1 tap, or over 4 with the zeros counted.
    #[test]
    fn average_pool_float_counts_padding_only_when_asked() {
        let w = Window::nchw([2, 2], [1; 4], [2, 2]);
        let x = [4.0f32, 8.0, -2.0, 6.0];
        assert_eq!(average_pool_float(&x, &[1, 1, 2, 2], &w, false).unwrap().0, x.to_vec());
        assert_eq!(average_pool_float(&x, &[1, 1, 2, 2], &w, true).unwrap().0, vec![1.0, 2.0, -0.5, 1.5]);
    }

    #[test]
    fn max_pool_2x2_stride_2() {
        // One 4x4 plane: 0..16.
        let x: Vec<i64> = (0..16).collect();
        let w = Window::nchw([2, 2], [0; 4], [2, 2]);
        let (y, shape) = max_pool(&x, &[1, 1, 4, 4], &w).unwrap();
        assert_eq!(shape, vec![1, 1, 2, 2]);
        assert_eq!(y, vec![5, 7, 13, 15]);
        // Padding is not a candidate: all-negative inputs keep their maximum.
        let neg: Vec<i64> = (0..4).map(|v| -10 - v).collect();
        let padded = Window::nchw([3, 3], [1; 4], [1, 1]);
        let (y, _) = max_pool(&neg, &[1, 1, 2, 2], &padded).unwrap();
        assert_eq!(y, vec![-10; 4]);
    }

    #[test]
    fn nhwc_pooling_matches_nchw_pooling_of_the_transposed_input() {
        // Two channels of a 4x4 plane, NCHW: channel 0 is 0..16, channel 1 its negation.
        let nchw: Vec<i64> = (0..16).chain((0..16).map(|v| -v)).collect();
        let nhwc: Vec<i64> = (0..16).flat_map(|i| [nchw[i], nchw[16 + i]]).collect();
        let w = Window::nchw([2, 2], [0; 4], [2, 2]);
        let (a, a_shape) = max_pool(&nchw, &[1, 2, 4, 4], &w).unwrap();
        let last = Window { channels_last: true, ..w };
        let (b, b_shape) = max_pool(&nhwc, &[1, 4, 4, 2], &last).unwrap();
        assert_eq!((a_shape, b_shape), (vec![1, 2, 2, 2], vec![1, 2, 2, 2]));
        let b_as_nchw: Vec<i64> = (0..2).flat_map(|c| (0..4).map(move |i| (i, c))).map(|(i, c)| b[i * 2 + c]).collect();
        assert_eq!(a, b_as_nchw);
        assert_eq!(a, vec![5, 7, 13, 15, 0, -2, -8, -10]);
    }

    #[test]
    fn pad_surrounds_the_values() {
        // [1, 2, 2, 1] padded by one row on top and one column on the right, with 9.
        let (y, shape) = pad(&[1, 2, 3, 4], &[1, 2, 2, 1], &[[0, 0], [1, 0], [0, 1], [0, 0]], 9).unwrap();
        assert_eq!(shape, vec![1, 3, 3, 1]);
        assert_eq!(y, vec![9, 9, 9, 1, 2, 9, 3, 4, 9]);
        assert!(pad(&[1, 2], &[2], &[[0, 0], [1, 1]], 0).is_err());
    }

    #[test]
    fn average_pool_rounds_half_away_from_zero() {
        // Windows of 2: (1+2)/2 = 1.5 -> 2, (-1-2)/2 = -1.5 -> -2, (1+1)/2 = 1.
        let w = Window::nchw([1, 2], [0; 4], [1, 2]);
        let (y, _) = average_pool_int(&[1, 2, -1, -2, 1, 1], &[1, 1, 1, 6], &w).unwrap();
        assert_eq!(y, vec![2, -2, 1]);
        // Padding is not counted: a 3x3 window at a corner of a 2x2 input sees 4 taps.
        let padded = Window::nchw([3, 3], [1; 4], [1, 1]);
        let (y, _) = average_pool_int(&[4, 4, 4, 5], &[1, 1, 2, 2], &padded).unwrap();
        assert_eq!(y, vec![4, 4, 4, 4]);
    }
}
