//! A lowered model: a list of operations in execution order over named values, each
//! either an accelerator layer (a GEMM, or a convolution as an im2col GEMM) or a host
//! operation (quantization at the graph boundary, element-wise adds, pooling, shape
//! changes). Produced by [`crate::lower::lower_graph`] from the graph IR.

pub use crate::shape::Window;
use crate::tensor::ElemType;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tessera_isa::isa::RequantMode;
use tessera_isa::quant::ParamLane;

/// A per-tensor affine quantization `real = (q - zero) * scale` onto `dtype`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    pub scale: f32,
    pub zero: i64,
    /// `I8` or `U8` (`I16` only as the input of [`OpKind::TfliteRequantize`]).
    pub dtype: ElemType,
    /// The scale is a float16 (its value is exact in `scale`): arithmetic on it is
    /// float16, as the reference computes it.
    pub half_scale: bool,
}

/// What a GEMM layer writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LayerOutput {
    /// Requantization per output column after adding the column's int32 bias: the
    /// float lane (ONNX `QLinearMatMul` arithmetic, scale `f32(a.scale * w_scale[c]) /
    /// out.scale`) or TFLite's fixed-point multipliers, then the zero point and the
    /// clamp (the type's range, or a fused activation's).
    Requant { params: Vec<ParamLane>, out: Affine, mode: RequantMode, clamp: (i64, i64) },
    /// The int32 accumulators (`MatMulInteger`).
    Raw32,
}

/// One 8-bit GEMM layer: `(a - a_zero) x (W - w_zero)`, then [`LayerOutput`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GemmLayer {
    /// The node that holds the product (`MatMul`, `Gemm`, `QLinearMatMul`, ...).
    pub node: String,
    /// Weight matrices: 1, or one per leading index of a 3-D weight `[B, K, N]`, which
    /// multiplies the input's rows in `B` equal groups (a batched MatMul).
    pub batches: usize,
    pub k: usize,
    pub n: usize,
    /// `batches` x `K x N` weights, row-major (int8 or uint8 values).
    pub weights: Vec<i64>,
    pub w_type: ElemType,
    /// The weight zero point the array removes.
    pub w_zero: i64,
    /// Per-column weight zero points that differ (raw int32 outputs only): the array
    /// runs with `w_zero` 0 and the host subtracts `zero[c] * sum(a - a_zero)`.
    pub w_zero_columns: Option<Vec<i64>>,
    pub a_type: ElemType,
    pub a_zero: i64,
    pub output: LayerOutput,
}

impl GemmLayer {
    /// The element type the layer writes.
    pub fn out_type(&self) -> ElemType {
        match &self.output {
            LayerOutput::Requant { out, .. } => out.dtype,
            LayerOutput::Raw32 => ElemType::I32,
        }
    }

    /// Bytes of one output element in DDR: 4 raw int32 sums, 1 requantized 8-bit value.
    pub fn out_bytes(&self) -> usize {
        if self.out_type() == ElemType::I32 {
            4
        } else {
            1
        }
    }
}

/// The parameters of a graph-boundary `QuantizeLinear` / `DequantizeLinear`: one
/// (scale, zero point) pair, or one per index of dimension `axis` (run on the host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundaryQuant {
    pub scales: Vec<f32>,
    pub zeros: Vec<i64>,
    /// The dimension per-channel parameters run along (may be negative, as in ONNX).
    pub axis: i64,
    /// Blocked quantization: parameters per this many consecutive indices of `axis`
    /// (0: per channel or per tensor).
    pub block_size: usize,
    pub dtype: ElemType,
}

/// Where a convolution's kernel visits its input: the input's channel count, the
/// window (kernel, padding, strides, dilations, layout) it slides, and its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvGeometry {
    pub channels: usize,
    pub window: Window,
    /// Groups of a grouped convolution (ONNX `group`, a TFLite filter of `C / groups`
    /// input channels): output channel `o` of `M` reads only the `C / groups` input
    /// channels of group `o / (M / groups)`, its layer's weights for the other
    /// channels being the weight zero point (block-diagonal). 1 (written as absent,
    /// as packages before it have it): an ordinary convolution.
    #[serde(default = "one_group", skip_serializing_if = "is_one_group")]
    pub groups: usize,
}

fn one_group() -> usize {
    1
}

fn is_one_group(groups: &usize) -> bool {
    *groups == 1
}

impl ConvGeometry {
    /// An ordinary (one group) convolution's geometry.
    pub fn new(channels: usize, window: Window) -> Self {
        ConvGeometry { channels, window, groups: 1 }
    }

    /// Output height and width for an input of `h` x `w`.
    pub fn output_size(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        self.window.output_size(h, w)
    }

    /// (batch, channels, height, width) of a rank-4 activation in this layout.
    pub fn dims(&self, shape: &[usize]) -> Option<[usize; 4]> {
        self.window.dims(shape).ok()
    }

    /// The activation shape of (batch, channels, height, width) in this layout.
    pub fn shape(&self, dims: [usize; 4]) -> Vec<usize> {
        self.window.shape(dims)
    }

    /// `layer` (this convolution's weights, `K x N`) with its rows in (tap, channel)
    /// order, the order of the im2col patches the accelerator multiplies: ONNX kernels
    /// flatten (c, i, j), TFLite kernels are (i, j, c) already. Groups of consecutive
    /// rows are then input channels, as N:4 pruning groups them.
    pub fn tap_major<'l>(&self, layer: &'l GemmLayer) -> std::borrow::Cow<'l, GemmLayer> {
        if self.window.channels_last {
            return std::borrow::Cow::Borrowed(layer);
        }
        let (c, n) = (self.channels, layer.n);
        let taps = layer.k / c.max(1);
        let weights = layer
            .weights
            .chunks(layer.k * n)
            .flat_map(|w| (0..layer.k * n).map(move |i| (w, i)))
            .map(|(w, i)| {
                let (row, col) = (i / n, i % n);
                w[((row % c) * taps + row / c) * n + col]
            })
            .collect();
        std::borrow::Cow::Owned(GemmLayer { weights, ..layer.clone() })
    }

    /// A grouped convolution's `layer` (block-diagonal over all `C` input channels)
    /// without the zeros outside the groups: `K = taps * C / groups` rows in (tap,
    /// channel of the output's group) order, the `M` columns unchanged.
    pub fn per_group(&self, layer: &GemmLayer) -> Result<GemmLayer, String> {
        let (c, m, groups) = (self.channels, layer.n, self.groups);
        let taps = self.window.kernel[0] * self.window.kernel[1];
        if c == 0 || m == 0 || taps == 0 || groups == 0 || !c.is_multiple_of(groups) || !m.is_multiple_of(groups) {
            return Err(format!("{c} input and {m} output channels do not split into {groups} groups"));
        }
        if layer.batches != 1 || layer.k != taps * c || layer.weights.len() != layer.k * m {
            return Err(format!("a {}x{m} weight matrix is not a {taps}-tap kernel over {c} channels", layer.k));
        }
        let (per_group, outputs) = (c / groups, m / groups);
        let tap_major = self.tap_major(layer);
        let k = taps * per_group;
        let weights = (0..k * m)
            .map(|i| {
                let (tap, j, o) = (i / m / per_group, i / m % per_group, i % m);
                tap_major.weights[(tap * c + o / outputs * per_group + j) * m + o]
            })
            .collect();
        Ok(GemmLayer {
            node: layer.node.clone(),
            batches: 1,
            k,
            n: m,
            weights,
            w_type: layer.w_type,
            w_zero: layer.w_zero,
            w_zero_columns: layer.w_zero_columns.clone(),
            a_type: layer.a_type,
            a_zero: layer.a_zero,
            output: layer.output.clone(),
        })
    }
}

/// An operation the host runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HostOp {
    /// Element-wise sum of the two inputs (numpy broadcasting).
    Add,
    /// Element-wise product, difference and quotient (numpy broadcasting), between
    /// dequantizations and a quantization only (QDQ `Mul` / `Sub` / `Div`,
    /// `QLinearMul`): float32.
    Mul,
    Sub,
    Div,
    Relu,
    /// 2-D max pooling.
    MaxPool(Window),
    /// 2-D average pooling on integers, TFLite's arithmetic: the window's sum divided
    /// by the count of its in-bounds taps, rounded half away from zero.
    AvgPool(Window),
    /// ONNX `AveragePool` (QDQ) and `com.microsoft.QLinearAveragePool` on dequantized
    /// values, as the reference computes it in float32: each window's taps in
    /// row-major order (with the explicit padding's zeros when `count_include_pad`;
    /// never `ceil_mode`'s overhang) summed as numpy sums, divided by their count.
    AvgPoolFloat {
        window: Window,
        count_include_pad: bool,
    },
    /// `[d0 .. d(axis-1), rest]` flattening to 2-D.
    Flatten {
        axis: i64,
    },
    /// ONNX `Reshape` to a constant shape (0 copies a dimension, -1 is inferred).
    Reshape {
        shape: Vec<i64>,
    },
    /// The pixels of a 4-D value spread `factors` (rows, columns) apart, `fill` (the
    /// zero point) between them: a transposed convolution's input, which a stride-1
    /// convolution with the flipped kernel then reads.
    Dilate {
        factors: [usize; 2],
        fill: i64,
        channels_last: bool,
    },
    /// TFLite `PAD` / `PADV2`: (before, after) per dimension (the batch's must be 0),
    /// filled with `value` (on integers: the zero point or PADV2's constant).
    Pad {
        pads: Vec<[usize; 2]>,
        value: i64,
    },
    /// Concat, split, slice, transpose, resize-nearest, ... ([`crate::movement`]):
    /// elements move, values do not change.
    Move(crate::movement::Movement),
}

/// How a host operation treats quantized values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum HostArith {
    /// Directly on the integers (QOperator form's `MaxPool`, `Flatten`, TFLite's
    /// pooling), then clamped (a TFLite fused activation) if given.
    Integer { clamp: Option<(i64, i64)> },
    /// TFLite's int8 `ADD`: both inputs rescaled to a common fixed-point scale with
    /// 20 bits of headroom, summed, rescaled to `out`, clamped.
    TfliteAdd { inputs: [Affine; 2], out: Affine, clamp: (i64, i64) },
    /// Dequantize each input with its parameters, apply the op in float32, quantize
    /// to `out` (a float op between `DequantizeLinear`s and a `QuantizeLinear`, and
    /// `QLinearAdd`).
    Requant { inputs: Vec<Affine>, out: Affine },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpKind {
    /// `QuantizeLinear` of a float graph input.
    Quantize(BoundaryQuant),
    /// `DequantizeLinear` to a float graph output.
    Dequantize(BoundaryQuant),
    Gemm(GemmLayer),
    /// A convolution (NCHW, one group) as im2col on the host and a GEMM whose weight
    /// matrix is the kernel flattened to `C * kh * kw` rows by `M` output channels.
    Conv {
        geometry: ConvGeometry,
        layer: GemmLayer,
    },
    Host {
        op: HostOp,
        arith: HostArith,
    },
    /// TFLite `QUANTIZE` of a float value: `round_half_away(x / scale) + zero`, float32
    /// division.
    TfliteQuantize(Affine),
    /// TFLite `DEQUANTIZE` to float: `f32(f64(scale) * (q - zero))`.
    TfliteDequantize(Affine),
    /// TFLite `QUANTIZE` of an integer value ([`tessera_isa::quant::Requantize`]):
    /// int8 <-> uint8 (a function of one byte: a TABLE on the accelerator), or int16 ->
    /// int8 (on the host).
    TfliteRequantize {
        input: Affine,
        out: Affine,
    },
    /// TFLite's depthwise convolution (per-channel int8, or per-tensor uint8), on the host.
    Depthwise(DepthwiseLayer),
    /// The mean over the spatial axes of a 4-D value: global average pooling.
    SpatialMean(SpatialMean),
    /// TFLite's int8 `SOFTMAX` over the last dimension, on the host.
    TfliteSoftmax {
        beta: f32,
        input: Affine,
        out: Affine,
    },
    /// A function of one 8-bit value, tabulated at compile time.
    ByteTable(ByteTable),
    /// A TFLite two-input integer operator (numpy broadcasting), on the host.
    TfliteBinary(TfliteBinary),
    /// TFLite's `RESIZE_BILINEAR` of an 8-bit NHWC value, on the host.
    ResizeBilinear(crate::resize::Bilinear),
    /// A TFLite reduction over any axes (`MEAN`, `SUM`, `REDUCE_MAX`, `REDUCE_MIN`), on
    /// the host.
    Reduce(crate::reduce::Reduce),
}

/// A quantized unary operator as the 256 outputs of its input's 256 possible bytes:
/// every int8/uint8 activation (LOGISTIC, HARD_SWISH, QDQ Sigmoid...), computed by the
/// importer with the reference's own arithmetic. One TABLE LOAD on the accelerator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ByteTable {
    /// The operator it computes, for reports.
    pub op: String,
    /// `I8` or `U8`.
    pub input: ElemType,
    /// The output's quantization (its `dtype` is the table's type).
    pub out: Affine,
    /// 256 output values indexed by the input's raw byte (an int8 value's two's complement).
    pub values: Vec<i64>,
}

impl ByteTable {
    /// The output of input value `q`.
    pub fn apply(&self, q: i64) -> i64 {
        self.values[(q & 0xff) as usize]
    }
}

/// Which TFLite two-input operator a [`TfliteBinary`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    Mul,
    Sub,
    SquaredDifference,
    Maximum,
    Minimum,
    /// `x >= 0 ? x : x * alpha`, alpha the second input (per channel).
    Prelu,
}

/// A TFLite two-input operator on int8 or uint8 values with the reference kernel's
/// fixed-point arithmetic (see `tessera_runtime::host::binary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TfliteBinary {
    pub op: BinaryOp,
    pub inputs: [Affine; 2],
    pub out: Affine,
    /// The output range after the fused activation.
    pub clamp: (i64, i64),
}

/// A depthwise convolution (NHWC, or NCHW as `window.channels_last` says): output
/// channel `c` filters input channel `c / multiplier` with its own `kh x kw` kernel
/// (minus the weight zero point), adds its bias and requantizes: TFLite's
/// double-rounding fixed-point multiplier, or ONNX's float scale
/// `f32(a_scale * w_scale[c]) / y_scale` (`mode`, the accelerator's `requantize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthwiseLayer {
    pub window: Window,
    pub multiplier: usize,
    /// `[kh, kw, C * multiplier]` int8 or uint8 values.
    pub weights: Vec<i64>,
    /// The weights' zero point (uint8 weights; 0 for int8).
    #[serde(default)]
    pub w_zero: i64,
    pub a_zero: i64,
    /// Per output channel: bias and fixed-point multiplier or float scale.
    pub params: Vec<ParamLane>,
    /// How `params` requantize (packages before ONNX depthwise: `Fixed`).
    #[serde(default = "fixed_point")]
    pub mode: RequantMode,
    pub out: Affine,
    pub clamp: (i64, i64),
}

/// The mean of each image's channels over its height and width: TFLite `MEAN` over
/// axes [1, 2], ONNX `GlobalAveragePool` / `ReduceMean` between Q/DQ,
/// `com.microsoft.QLinearGlobalAveragePool`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpatialMean {
    /// NHWC (TFLite, `channels_last` QLinearGlobalAveragePool) or NCHW.
    pub channels_last: bool,
    /// The output keeps the reduced axes as 1s (else it is `[N, C]`).
    pub keep_dims: bool,
    pub input: Affine,
    pub out: Affine,
    pub arith: MeanArith,
}

/// How a [`SpatialMean`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeanArith {
    /// TFLite's fixed-point arithmetic ([`tessera_isa::quant::TfliteMean`]).
    Tflite,
    /// The ONNX reference's float32 (dequantize, numpy's mean, quantize:
    /// [`tessera_isa::quant::onnx_mean`]).
    OnnxFloat,
    /// `QLinearGlobalAveragePool` ([`tessera_isa::quant::qlinear_average`]).
    QLinear,
}

impl SpatialMean {
    /// The output shape for an input of `shape`.
    pub fn output_shape(&self, shape: &[usize]) -> Result<Vec<usize>, String> {
        let &[n, a, _, c] = shape else { return Err(format!("the input {shape:?} is not 4-D")) };
        let channels = if self.channels_last { c } else { a };
        Ok(match (self.keep_dims, self.channels_last) {
            (false, _) => vec![n, channels],
            (true, true) => vec![n, 1, 1, channels],
            (true, false) => vec![n, channels, 1, 1],
        })
    }
}

fn fixed_point() -> RequantMode {
    RequantMode::Fixed
}

impl OpKind {
    /// Accelerator layers (the rest runs on the host).
    pub fn layer(&self) -> Option<&GemmLayer> {
        match self {
            OpKind::Gemm(layer) | OpKind::Conv { layer, .. } => Some(layer),
            _ => None,
        }
    }
}

/// One operation: reads `inputs` (values or constants), writes `output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// The graph node it came from (the compute node of a Q/DQ group).
    pub node: String,
    /// The source op, for reports (`QLinearConv`, `Conv (QDQ)`, ...).
    pub source: String,
    pub inputs: Vec<String>,
    pub output: String,
    /// The element type of `output`.
    pub out_type: ElemType,
    pub kind: OpKind,
}

/// A constant integer operand of a host op (a quantized bias added on the host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConstValue {
    pub shape: Vec<usize>,
    pub values: Vec<i64>,
}

/// A graph input the caller supplies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramInput {
    pub name: String,
    pub dtype: ElemType,
    /// Dimensions as declared; `None` for a symbolic one.
    pub shape: Vec<Option<usize>>,
}

impl ProgramInput {
    /// The shape to run an input of `given` shape as. A declared `[1, d1, ..]` (or a
    /// symbolic first dimension) accepts `[N, ..]` with the same number of elements
    /// per sample: the leading dimension is then the batch. A declared `[D, d1, ..]`
    /// with `D > 1` accepts `[k·D, d1, ..]`: `k` samples of `D` rows.
    pub fn batch_shape(&self, given: &[usize]) -> Result<Vec<usize>, String> {
        let declared = &self.shape;
        let fits = |a: &[Option<usize>], b: &[usize]| a.iter().zip(b).all(|(d, g)| d.is_none_or(|d| d == *g));
        let rows = self.sample_rows();
        if declared.is_empty()
            || (declared.len() == given.len()
                && fits(&declared[1..], &given[1..])
                && given.first().is_some_and(|&n| n > 0 && n % rows == 0))
        {
            return Ok(given.to_vec());
        }
        let per_sample: Option<usize> = declared[1..].iter().copied().product();
        let given_per_sample: usize = given.iter().skip(1).product();
        match (per_sample, given.first()) {
            (Some(p), Some(&n)) if p == given_per_sample && declared[0].is_none_or(|d| d == 1) => {
                Ok([n].into_iter().chain(declared[1..].iter().map(|d| d.expect("known"))).collect())
            }
            _ if rows > 1 => Err(format!(
                "shape {given:?} does not fit the declared {}: samples of {rows} rows stacked along the first dimension",
                self.declared_text()
            )),
            _ => Err(format!(
                "shape {given:?} does not fit the declared {} (batch is the first dimension)",
                self.declared_text()
            )),
        }
    }

    /// The declared shape with batch `n` (symbolic dimensions after the first must not occur).
    /// An input declared with a fixed leading dimension above 1 is one sample as a
    /// whole (e.g. `[B, M, K]` of a batched MatMul, whose `B` pairs with the weights'),
    /// so it runs one at a time.
    pub fn with_batch(&self, n: usize) -> Result<Vec<usize>, String> {
        let rest: Option<Vec<usize>> = self.shape.iter().skip(1).copied().collect();
        let rest = rest.ok_or_else(|| format!("input `{}` has symbolic dimensions {:?}", self.name, self.shape))?;
        let rows = self.sample_rows();
        if rows > 1 && n != 1 {
            return Err(format!(
                "input `{}` is declared {}: one sample is the whole tensor, so the model runs batch 1, not {n}",
                self.name,
                self.declared_text()
            ));
        }
        Ok([n * rows].into_iter().chain(rest).collect())
    }

    /// The declared shape as `[2, ?, 4]` (`?` for a symbolic dimension).
    pub fn declared_text(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(|d| d.map_or("?".to_string(), |d| d.to_string())).collect();
        format!("[{}]", dims.join(", "))
    }

    /// Rows of the leading dimension that make one sample: the declared leading
    /// dimension when it is fixed and above 1, else 1 (the leading dimension is the batch).
    pub fn sample_rows(&self) -> usize {
        match self.shape.first() {
            Some(Some(d)) if *d > 1 => *d,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub inputs: Vec<ProgramInput>,
    pub ops: Vec<Op>,
    pub constants: BTreeMap<String, ConstValue>,
    /// Graph output value names, in graph order.
    pub outputs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A depthwise layer serialized before `mode` existed loads as TFLite's `Fixed`.
    #[test]
    fn old_depthwise_layers_load_with_fixed_point_requantization() {
        let window = Window { channels_last: true, ..Window::nchw([3, 3], [1; 4], [1, 1]) };
        let out = Affine { scale: 0.1, zero: 0, dtype: ElemType::I8, half_scale: false };
        let layer = DepthwiseLayer {
            window,
            multiplier: 1,
            weights: vec![1; 9],
            w_zero: 0,
            a_zero: 0,
            params: vec![ParamLane::float(0, 0.5)],
            mode: RequantMode::Float,
            out,
            clamp: (-128, 127),
        };
        let mut json = serde_json::to_value(&layer).unwrap();
        json.as_object_mut().unwrap().remove("mode");
        let old: DepthwiseLayer = serde_json::from_value(json).unwrap();
        assert_eq!(old, DepthwiseLayer { mode: RequantMode::Fixed, ..layer });
    }

    /// One group is written as nothing (packages keep their bytes) and a geometry
    /// without `groups` loads as one group; other counts survive.
    #[test]
    fn groups_default_to_one_and_round_trip() {
        let geometry = ConvGeometry::new(8, Window::nchw([3, 3], [1; 4], [1, 1]));
        let json = serde_json::to_value(geometry).unwrap();
        assert!(json.get("groups").is_none(), "{json}");
        assert_eq!(serde_json::from_value::<ConvGeometry>(json).unwrap().groups, 1);
        let grouped = ConvGeometry { groups: 4, ..geometry };
        assert_eq!(serde_json::from_value::<ConvGeometry>(serde_json::to_value(grouped).unwrap()).unwrap(), grouped);
    }

    /// The block-diagonal kernel of an NCHW grouped convolution (rows (c, tap)) read
    /// per group: rows (tap, channel of the group), only the groups' own weights.
    #[test]
    fn per_group_weights_drop_the_zeros_outside_the_groups() {
        let (c, m, groups, taps) = (4, 6, 2, 2);
        let (per_group, outputs) = (c / groups, m / groups);
        let own = |tap: usize, j: usize, o: usize| (100 * tap + 10 * j + o) as i64;
        // Rows (input channel, tap) of the kernel over all channels, weight zero point -1.
        let weights = (0..c * taps * m)
            .map(|i| {
                let (ch, tap, o) = (i / m / taps, i / m % taps, i % m);
                if ch / per_group == o / outputs {
                    own(tap, ch % per_group, o)
                } else {
                    -1
                }
            })
            .collect();
        let layer = GemmLayer {
            node: "conv".into(),
            batches: 1,
            k: c * taps,
            n: m,
            weights,
            w_type: ElemType::I8,
            w_zero: -1,
            w_zero_columns: None,
            a_type: ElemType::I8,
            a_zero: 0,
            output: LayerOutput::Raw32,
        };
        let geometry = ConvGeometry { groups, ..ConvGeometry::new(c, Window::nchw([1, 2], [0; 4], [1, 1])) };
        let compact = geometry.per_group(&layer).unwrap();
        assert_eq!((compact.k, compact.n), (taps * per_group, m));
        let expected: Vec<i64> =
            (0..taps * per_group * m).map(|i| own(i / m / per_group, i / m % per_group, i % m)).collect();
        assert_eq!(compact.weights, expected);
        // Groups that do not divide the channels, and kernels of another size, are errors.
        for bad in [ConvGeometry { groups: 3, ..geometry }, ConvGeometry { groups: 0, ..geometry }] {
            assert!(bad.per_group(&layer).unwrap_err().contains("do not split"));
        }
        let short = GemmLayer { k: 2, weights: vec![0; 12], ..layer };
        assert!(geometry.per_group(&short).is_err());
    }
}
