//! Constant tensors of an imported model (weights, biases, quantization parameters),
//! independent of the file format they came from.

use std::fmt;

/// Element types the compiler understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ElemType {
    F32,
    /// IEEE half precision; values are held as the (exact) `f32` they equal.
    F16,
    I4,
    U4,
    I8,
    U8,
    I16,
    I32,
    I64,
}

impl ElemType {
    /// The range of an integer type, `None` for floats.
    pub fn int_range(self) -> Option<(i64, i64)> {
        match self {
            ElemType::F32 | ElemType::F16 => None,
            ElemType::I4 => Some((-8, 7)),
            ElemType::U4 => Some((0, 15)),
            ElemType::I8 => Some((-128, 127)),
            ElemType::U8 => Some((0, 255)),
            ElemType::I16 => Some((i16::MIN.into(), i16::MAX.into())),
            ElemType::I32 => Some((i32::MIN.into(), i32::MAX.into())),
            ElemType::I64 => Some((i64::MIN, i64::MAX)),
        }
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ElemType::F32 => "float32",
            ElemType::F16 => "float16",
            ElemType::I4 => "int4",
            ElemType::U4 => "uint4",
            ElemType::I8 => "int8",
            ElemType::U8 => "uint8",
            ElemType::I16 => "int16",
            ElemType::I32 => "int32",
            ElemType::I64 => "int64",
        };
        f.write_str(name)
    }
}

/// Element values: integers of every width widened to `i64`, floats as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Int(Vec<i64>),
    Float(Vec<f32>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub dtype: ElemType,
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The integer elements, if this is an integer tensor.
    pub fn ints(&self) -> Option<&[i64]> {
        match &self.data {
            TensorData::Int(v) => Some(v),
            TensorData::Float(_) => None,
        }
    }

    /// The float elements, if this is a float tensor.
    pub fn floats(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::Float(v) => Some(v),
            TensorData::Int(_) => None,
        }
    }

    /// The single element of a scalar (or one-element) tensor.
    pub fn scalar_int(&self) -> Option<i64> {
        (self.len() == 1).then(|| self.ints().map(|v| v[0])).flatten()
    }

    pub fn scalar_float(&self) -> Option<f32> {
        (self.len() == 1).then(|| self.floats().map(|v| v[0])).flatten()
    }
}

/// `rows x cols` row-major values, transposed (`cols x rows`). In square blocks, so
/// that reading an ImageNet-scale weight matrix column by column does not miss the
/// cache on every element.
pub fn transposed(values: &[i64], rows: usize, cols: usize) -> Vec<i64> {
    transposed_with(rows, cols, |i| values[i])
}

/// [`transposed`] of the row-major matrix whose element `i` is `value(i)` (e.g. a
/// weight tensor's bytes, decoded on the way). A large matrix (an ImageNet model's
/// layer: most of the time is first touches of the output's pages) is split by
/// output rows over the cores.
pub fn transposed_with(rows: usize, cols: usize, value: impl Fn(usize) -> i64 + Sync) -> Vec<i64> {
    const PARALLEL_ABOVE: usize = 1 << 20;
    let mut out = vec![0i64; rows * cols];
    let threads = match rows * cols {
        n if n >= PARALLEL_ABOVE => std::thread::available_parallelism().map_or(1, |n| n.get()),
        _ => 1,
    };
    let per_thread = cols.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (i, part) in out.chunks_mut(per_thread * rows.max(1)).enumerate() {
            let value = &value;
            let first = i * per_thread;
            let mut fill = move || transpose_columns(part, rows, cols, first, value);
            if threads > 1 {
                scope.spawn(fill);
            } else {
                fill();
            }
        }
    });
    out
}

/// Output rows `first..` of a transposed `[rows, cols]` matrix (one per input column)
/// into `part`, in 32 x 32 blocks.
fn transpose_columns(part: &mut [i64], rows: usize, cols: usize, first: usize, value: &impl Fn(usize) -> i64) {
    const BLOCK: usize = 32;
    let count = part.len() / rows.max(1);
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (first..first + count).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(first + count).min(cols) {
                    part[(c - first) * rows + r] = value(r * cols + c);
                }
            }
        }
    }
}

#[cfg(test)]
mod transpose_tests {
    use super::transposed;

    #[test]
    fn transposed_swaps_rows_and_columns() {
        // [[0, 1, 2], [3, 4, 5]] -> [[0, 3], [1, 4], [2, 5]], by hand.
        assert_eq!(transposed(&[0, 1, 2, 3, 4, 5], 2, 3), vec![0, 3, 1, 4, 2, 5]);
        for (rows, cols) in [(1, 1), (33, 70), (64, 1), (5, 97), (1031, 1025), (3, 400_000)] {
            let v: Vec<i64> = (0..(rows * cols) as i64).collect();
            let t = transposed(&v, rows, cols);
            assert_eq!(transposed(&t, cols, rows), v, "{rows}x{cols}");
            assert!((0..rows * cols).all(|i| t[(i % cols) * rows + i / cols] == v[i]));
        }
    }
}
