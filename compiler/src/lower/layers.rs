//! Accelerator layers: matrix products and convolutions in every form onnxruntime
//! writes them (QDQ `MatMul`/`Gemm`/`Conv` between `DequantizeLinear`s and a
//! `QuantizeLinear`; `QLinearMatMul`, `MatMulInteger`, `com.microsoft.QGemm`,
//! `QLinearConv`, `ConvInteger`) as one [`GemmLayer`] each.

use super::params::{affine_at, constant, node_error, requant_scale, weight_zeros, zero_point};
use crate::graph::{Attr, Graph, Node};
use crate::program::{Affine, ConvGeometry, DepthwiseLayer, GemmLayer, LayerOutput, OpKind, Window};
use crate::tensor::ElemType;
use tessera_isa::isa::RequantMode;
use tessera_isa::quant::ParamLane;

/// How a weight constant is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `[K, N]` (or `[B, K, N]`): MatMul, Gemm with transB=0.
    KByN,
    /// `[N, K]`: Gemm with transB=1.
    NByK,
    /// `[M, C, kh, kw]`: a convolution kernel.
    Kernel,
    /// `[C, M, kh, kw]`: a transposed convolution's kernel, read flipped (the kernel
    /// of the stride-1 convolution that gathers what it scatters).
    Transposed,
}

impl Layout {
    /// The axis of the output channels, which per-channel parameters run along.
    fn channel_axis(self) -> i64 {
        match self {
            Layout::KByN | Layout::Transposed => 1,
            Layout::NByK | Layout::Kernel => 0,
        }
    }
}

/// Where a layer's weight, its scale (`None`: raw int32 output) and zero point are:
/// inputs of `holder` (the layer node, or the weight's `DequantizeLinear`).
struct Weights<'a> {
    holder: &'a Node,
    at: usize,
    scale_at: Option<usize>,
    zero_at: usize,
    layout: Layout,
    /// The `axis` attribute of a QDQ weight's `DequantizeLinear`.
    axis: Option<i64>,
}

/// A layer's int32 bias.
enum Bias<'a> {
    None,
    /// Already at scale `a_scale * w_scale` (QLinearConv, QGemm).
    Int(&'a [i64]),
    /// A `DequantizeLinear` of int32 values: its scale must be `a_scale * w_scale`.
    Dequantized(&'a Node),
}

/// What to do with a layer's accumulators.
struct Requant {
    a: Affine,
    out: Option<Affine>,
}

/// The GEMM of `node`: requantized to `out` if given, else raw int32.
fn gemm_layer(g: &Graph, node: &Node, q: Requant, w: Weights, bias: Bias) -> Result<GemmLayer, String> {
    grouped_gemm_layer(g, node, q, w, bias, 1)
}

/// [`gemm_layer`] of a convolution with `groups` groups: output channel `o` of group
/// `o / (M / groups)` reads only that group's `C / groups` input channels, so its
/// kernel over all `C` channels is block-diagonal: the other channels' weights are
/// its weight zero point, and contribute `(w - w_zero) = 0` exactly.
fn grouped_gemm_layer(
    g: &Graph,
    node: &Node,
    q: Requant,
    w: Weights,
    bias: Bias,
    groups: usize,
) -> Result<GemmLayer, String> {
    let context = |what: &str| node_error(node, what);
    let Requant { a, out } = q;
    let weight = constant(g, w.holder, w.at)?;
    let values = weight.ints().ok_or_else(|| context("weights must be int8 or uint8"))?;
    let zeros = weight_zeros(g, w.holder, w.zero_at)?;
    let (batches, k, n, weights) = match (weight.shape.as_slice(), w.layout) {
        (&[m, cg, kh, kw], Layout::Kernel) if groups > 1 => {
            if m % groups != 0 {
                return Err(context(&format!("{m} output channels do not split into {groups} groups")));
            }
            let (taps, per_group) = (kh * kw, m / groups);
            let k = cg * groups * taps;
            let zero = |o: usize| zeros.get(o).or(zeros.first()).copied().unwrap_or(0);
            let full: Vec<i64> = (0..m * k)
                .map(|i| {
                    let (o, c, tap) = (i / k, (i % k) / taps, i % taps);
                    if c / cg == o / per_group {
                        values[(o * cg + c % cg) * taps + tap]
                    } else {
                        zero(o)
                    }
                })
                .collect();
            (1, k, m, crate::tensor::transposed(&full, m, k))
        }
        (&[m, c, kh, kw], Layout::Kernel) => {
            // Column m of the GEMM is output channel m's kernel, flattened (c, i, j).
            let k = c * kh * kw;
            (1, k, m, crate::tensor::transposed(values, m, k))
        }
        (&[c, m, kh, kw], Layout::Transposed) => {
            // Row (ch, i, j), column o: the scattering kernel's tap (kh-1-i, kw-1-j).
            let k = c * kh * kw;
            let at = |r: usize, o: usize| {
                let (ch, i, j) = (r / (kh * kw), r / kw % kh, r % kw);
                values[((ch * m + o) * kh + kh - 1 - i) * kw + kw - 1 - j]
            };
            (1, k, m, (0..k * m).map(|e| at(e / m, e % m)).collect())
        }
        (&[n, k], Layout::NByK) => (1, k, n, crate::tensor::transposed(values, n, k)),
        (&[k, n], Layout::KByN) => (1, k, n, values.to_vec()),
        (&[b, k, n], Layout::KByN) => (b, k, n, values.to_vec()),
        _ => return Err(context(&format!("a weight of shape {:?} does not fit this layer", weight.shape))),
    };
    if !matches!(weight.dtype, ElemType::I8 | ElemType::U8) {
        return Err(context("weights must be int8 or uint8"));
    }
    if !matches!(a.dtype, ElemType::I8 | ElemType::U8) {
        return Err(context("the input must be int8 or uint8"));
    }
    let channel_axis_ok =
        |axis: i64, rank: usize| axis == w.layout.channel_axis() || axis + rank as i64 == w.layout.channel_axis();
    let (w_zero, w_zero_columns) = match zeros.as_slice() {
        [] => (0, None),
        [first, rest @ ..] if rest.iter().all(|z| z == first) => (*first, None),
        // The host can correct raw accumulators, not requantized outputs.
        _ if out.is_none() && zeros.len() == n => (0, Some(zeros.clone())),
        _ => return Err(context("per-channel weight zero points that differ need a raw int32 output")),
    };
    let output = match (out, w.scale_at) {
        (Some(out), Some(scale_at)) => {
            let w_scale = constant(g, w.holder, scale_at)?;
            let scales = w_scale.floats().ok_or_else(|| context("the weight scale must be float"))?;
            let axis_ok = w.axis.is_none_or(|axis| channel_axis_ok(axis, weight.shape.len()));
            if scales.len() != 1 && (scales.len() != n || !axis_ok) {
                return Err(context("per-channel weight scales must run along the output channels"));
            }
            let per_column = |c: usize| if scales.len() == 1 { scales[0] } else { scales[c] };
            let half = a.half_scale && out.half_scale && w_scale.dtype == ElemType::F16;
            if !half && (a.half_scale || out.half_scale || w_scale.dtype != ElemType::F32) {
                return Err(context("the scales must be all float32 or all float16"));
            }
            let biases = bias_values(g, node, bias, n, |c| a.scale * per_column(c))?;
            let params = (0..n)
                .map(|c| {
                    let mut lane = ParamLane::float(0, requant_scale(a.scale, per_column(c), out.scale, half));
                    lane.bias = biases.get(c).copied().unwrap_or(0);
                    lane
                })
                .collect();
            LayerOutput::Requant { params, out, mode: RequantMode::Float, clamp: out.dtype.int_range().expect("8-bit") }
        }
        (None, _) => LayerOutput::Raw32,
        (Some(_), None) => unreachable!("requantized layers have a weight scale"),
    };
    Ok(GemmLayer {
        node: node.name.clone(),
        batches,
        k,
        n,
        weights,
        w_type: weight.dtype,
        w_zero,
        w_zero_columns,
        a_type: a.dtype,
        a_zero: a.zero,
        output,
    })
}

/// The int32 bias per output column (empty: none), checking that a dequantized bias
/// is at the accumulators' scale (`acc_scale(c)`), as onnxruntime quantizes it.
fn bias_values(
    g: &Graph,
    node: &Node,
    bias: Bias,
    n: usize,
    acc_scale: impl Fn(usize) -> f32,
) -> Result<Vec<i32>, String> {
    let (values, dq) = match bias {
        Bias::None => return Ok(Vec::new()),
        Bias::Int(values) => (values, None),
        Bias::Dequantized(dq) => {
            let t = constant(g, dq, 0)?;
            (t.ints().ok_or_else(|| node_error(dq, "the bias must be integer"))?, Some(dq))
        }
    };
    if values.len() != n {
        return Err(node_error(node, format!("{} bias values for {n} output channels", values.len())));
    }
    if let Some(dq) = dq {
        let scale = constant(g, dq, 1)?.floats().ok_or_else(|| node_error(dq, "the bias scale must be float32"))?;
        let zeros = match dq.inputs.get(2).filter(|z| !z.is_empty()) {
            Some(_) => constant(g, dq, 2)?.ints().map(<[i64]>::to_vec),
            None => Some(vec![0]),
        };
        let per = |v: &[f32], c: usize| if v.len() == 1 { v[0] } else { v[c] };
        // A bias that dequantizes to zero is zero at any scale (exporters share equal
        // zero biases between layers, and quantize_static dequantizes the first's).
        let zero_at = |z: &[i64], c: usize| if z.len() == 1 { z[0] } else { z.get(c).copied().unwrap_or(i64::MIN) };
        if zeros.as_deref().is_some_and(|z| (0..n).all(|c| values[c] == zero_at(z, c))) {
            return Ok(vec![0; n]);
        }
        let at_acc_scale = (scale.len() == 1 || scale.len() == n) && (0..n).all(|c| per(scale, c) == acc_scale(c));
        if !at_acc_scale || zeros.is_none_or(|z| z.iter().any(|&z| z != 0)) {
            return Err(node_error(
                dq,
                "the bias must be int32 at scale input_scale x weight_scale with zero point 0 (as quantize_static writes it)",
            ));
        }
    }
    values
        .iter()
        .map(|&v| i32::try_from(v).map_err(|_| node_error(node, format!("bias value {v} does not fit int32"))))
        .collect()
}

/// The `DequantizeLinear` of a constant that produces `value` (a QDQ weight or bias).
fn constant_dq<'a>(g: &'a Graph, node: &Node, value: &str, what: &str) -> Result<&'a Node, String> {
    g.producer(value)
        .filter(|n| n.op == "DequantizeLinear" && g.constant(&n.inputs[0]).is_some())
        .ok_or_else(|| node_error(node, format!("the {what} must be DequantizeLinear of a constant")))
}

fn check_gemm_attrs(node: &Node) -> Result<bool, String> {
    if node.attr_int("transA").unwrap_or(0) != 0 {
        return Err(node_error(node, "transA=1 is not supported"));
    }
    for name in ["alpha", "beta"] {
        if node.attr_float(name).is_some_and(|v| v != 1.0) {
            return Err(node_error(node, format!("{name} other than 1 is not supported")));
        }
    }
    Ok(node.attr_int("transB").unwrap_or(0) != 0)
}

/// `MatMul` or `Gemm` between `DequantizeLinear`s, with its output quantized to `out`:
/// the float product of dequantized values is the integer product rescaled.
pub fn qdq_product(g: &Graph, node: &Node, a: Affine, out: Affine) -> Result<OpKind, String> {
    let w_dq = constant_dq(g, node, &node.inputs[1], "weight")?;
    let (layout, bias) = match node.op.as_str() {
        "Gemm" => {
            let layout = if check_gemm_attrs(node)? { Layout::NByK } else { Layout::KByN };
            let bias = match node.inputs.get(2).filter(|b| !b.is_empty()) {
                Some(b) => Bias::Dequantized(constant_dq(g, node, b, "bias")?),
                None => Bias::None,
            };
            (layout, bias)
        }
        _ => (Layout::KByN, Bias::None),
    };
    let weights = Weights {
        holder: w_dq,
        at: 0,
        scale_at: Some(1),
        zero_at: 2,
        layout,
        axis: Some(w_dq.attr_int("axis").unwrap_or(1)),
    };
    Ok(OpKind::Gemm(gemm_layer(g, node, Requant { a, out: Some(out) }, weights, bias)?))
}

/// `QLinearMatMul(a, a_scale, a_zero, W, w_scale, w_zero, y_scale, y_zero)`.
pub fn qlinear_matmul(g: &Graph, node: &Node) -> Result<OpKind, String> {
    let q = Requant { a: affine_at(g, node, 1, 2)?, out: Some(affine_at(g, node, 6, 7)?) };
    let weights = Weights { holder: node, at: 3, scale_at: Some(4), zero_at: 5, layout: Layout::KByN, axis: None };
    Ok(OpKind::Gemm(gemm_layer(g, node, q, weights, Bias::None)?))
}

/// `com.microsoft.QGemm(A, a_scale, a_zero, B, b_scale, b_zero, C, y_scale, y_zero)`
/// with a quantized output.
pub fn qgemm(g: &Graph, node: &Node) -> Result<OpKind, String> {
    let layout = if check_gemm_attrs(node)? { Layout::NByK } else { Layout::KByN };
    if node.inputs.get(7).is_none_or(|s| s.is_empty()) {
        return Err(node_error(node, "a float output (no y_scale) is not supported"));
    }
    let q = Requant { a: affine_at(g, node, 1, 2)?, out: Some(affine_at(g, node, 7, 8)?) };
    let bias = match node.inputs.get(6).filter(|b| !b.is_empty()) {
        Some(_) => Bias::Int(constant(g, node, 6)?.ints().ok_or_else(|| node_error(node, "C must be int32"))?),
        None => Bias::None,
    };
    let weights = Weights { holder: node, at: 3, scale_at: Some(4), zero_at: 5, layout, axis: None };
    Ok(OpKind::Gemm(gemm_layer(g, node, q, weights, bias)?))
}

/// `MatMulInteger(A, B, a_zero_point, b_zero_point)`: int32 accumulators.
pub fn matmul_integer(g: &Graph, node: &Node, a_type: ElemType) -> Result<OpKind, String> {
    let a_zero = zero_point(g, node, 2)?.map_or(0, |(z, _)| z);
    let q = Requant { a: Affine { scale: 1.0, zero: a_zero, dtype: a_type, half_scale: false }, out: None };
    let weights = Weights { holder: node, at: 1, scale_at: None, zero_at: 3, layout: Layout::KByN, axis: None };
    Ok(OpKind::Gemm(gemm_layer(g, node, q, weights, Bias::None)?))
}

/// A 2-D convolution (grouped ones with block-diagonal weights and their groups in
/// the geometry):
/// `QLinearConv(x, x_scale, x_zero, w, w_scale,
/// w_zero, y_scale, y_zero[, B])`, `ConvInteger(x, w[, x_zero, w_zero])`, or (`qdq`
/// given: input and output parameters) a float `Conv(DQ(x), DQ(w)[, DQ(b)])`.
pub fn conv(g: &Graph, node: &Node, a_type: ElemType, qdq: Option<(Affine, Affine)>) -> Result<OpKind, String> {
    let groups = match node.attr_int("group").unwrap_or(1) {
        g if g >= 1 => g as usize,
        g => return Err(node_error(node, format!("group {g} must be positive"))),
    };
    if matches!(node.attrs.get("auto_pad"), Some(Attr::Str(p)) if p != "NOTSET" && p != "VALID") {
        return Err(node_error(node, "auto_pad SAME_UPPER/SAME_LOWER is not supported; give explicit pads"));
    }
    let kernel_layout = Layout::Kernel;
    let (q, weights, bias) = match (node.op.as_str(), qdq) {
        ("QLinearConv", _) => {
            let q = Requant { a: affine_at(g, node, 1, 2)?, out: Some(affine_at(g, node, 6, 7)?) };
            let bias = match node.inputs.get(8).filter(|b| !b.is_empty()) {
                Some(_) => Bias::Int(constant(g, node, 8)?.ints().ok_or_else(|| node_error(node, "B must be int32"))?),
                None => Bias::None,
            };
            (q, Weights { holder: node, at: 3, scale_at: Some(4), zero_at: 5, layout: kernel_layout, axis: None }, bias)
        }
        ("ConvInteger", _) => {
            let zero = zero_point(g, node, 2)?.map_or(0, |(z, _)| z);
            let q = Requant { a: Affine { scale: 1.0, zero, dtype: a_type, half_scale: false }, out: None };
            (
                q,
                Weights { holder: node, at: 1, scale_at: None, zero_at: 3, layout: kernel_layout, axis: None },
                Bias::None,
            )
        }
        (_, Some((a, out))) => {
            let w_dq = constant_dq(g, node, &node.inputs[1], "weight")?;
            let bias = match node.inputs.get(2).filter(|b| !b.is_empty()) {
                Some(b) => Bias::Dequantized(constant_dq(g, node, b, "bias")?),
                None => Bias::None,
            };
            let axis = Some(w_dq.attr_int("axis").unwrap_or(1));
            let weights = Weights { holder: w_dq, at: 0, scale_at: Some(1), zero_at: 2, layout: kernel_layout, axis };
            (Requant { a, out: Some(out) }, weights, bias)
        }
        _ => unreachable!("conv lowers QLinearConv, ConvInteger and QDQ Conv"),
    };
    let kernel = constant(g, weights.holder, weights.at)?.shape.clone();
    let &[_, per_group, kh, kw] = kernel.as_slice() else {
        return Err(node_error(node, format!("the kernel {kernel:?} is not 4-D (2-D convolutions are supported)")));
    };
    let geometry = window_geometry(node, per_group * groups, [kh, kw])?;
    if groups > 1 && per_group == 1 && q.out.is_some() {
        return depthwise(g, node, q, weights, bias, geometry, groups);
    }
    let layer = grouped_gemm_layer(g, node, q, weights, bias, groups)?;
    Ok(OpKind::Conv { geometry: ConvGeometry { groups, ..geometry }, layer })
}

/// `ConvTranspose(DQ(x), DQ(w)[, DQ(b)])` quantized to `out` (one group, no
/// dilation): the stride-1 convolution with the kernel flipped over the input spread
/// `strides` apart, padded `k - 1 - pad_begin` before and `k - 1 - pad_end +
/// output_padding` after (the same integer sums as the scatter). Returns the
/// convolution and the spread.
pub fn conv_transpose(g: &Graph, node: &Node, a: Affine, out: Affine) -> Result<(OpKind, [usize; 2]), String> {
    let context = |what: String| node_error(node, what);
    if node.attr_int("group").unwrap_or(1) != 1 {
        return Err(context("group > 1 is not supported".into()));
    }
    if node.attr_ints("output_shape").is_some() {
        return Err(context("the output_shape attribute is not supported; give pads and output_padding".into()));
    }
    if matches!(node.attrs.get("auto_pad"), Some(Attr::Str(p)) if p != "NOTSET") {
        return Err(context("auto_pad is not supported; give explicit pads".into()));
    }
    if node.attr_ints("dilations").is_some_and(|d| d.iter().any(|&v| v != 1)) {
        return Err(context("dilations other than 1 are not supported".into()));
    }
    let w_dq = constant_dq(g, node, &node.inputs[1], "weight")?;
    let kernel = constant(g, w_dq, 0)?.shape.clone();
    let &[c, _, kh, kw] = kernel.as_slice() else {
        return Err(context(format!("the kernel {kernel:?} is not 4-D (2-D convolutions are supported)")));
    };
    let pair = |name: &str, default: i64| -> Result<[i64; 2], String> {
        match node.attr_ints(name) {
            None => Ok([default; 2]),
            Some(&[a, b]) => Ok([a, b]),
            Some(v) => Err(context(format!("{name} {v:?}: two values are supported (2-D)"))),
        }
    };
    let strides = pair("strides", 1)?;
    let output_padding = pair("output_padding", 0)?;
    let pads = match node.attr_ints("pads") {
        None => [0; 4],
        Some(&[t, l, b, r]) => [t, l, b, r],
        Some(v) => return Err(context(format!("pads {v:?}: four values are supported"))),
    };
    let kernel = [kh as i64, kw as i64];
    let gather = |axis: usize| -> Result<[usize; 2], String> {
        let before = kernel[axis] - 1 - pads[axis];
        let after = kernel[axis] - 1 - pads[axis + 2] + output_padding[axis];
        match (usize::try_from(before), usize::try_from(after), strides[axis]) {
            (Ok(b), Ok(e), s) if s > 0 && output_padding[axis] < s => Ok([b, e]),
            _ => Err(context(format!(
                "pads {pads:?}, strides {strides:?} and output_padding {output_padding:?} for a {kernel:?} kernel: \
                 padding beyond kernel - 1 (a cropped output) is not supported"
            ))),
        }
    };
    let ([top, bottom], [left, right]) = (gather(0)?, gather(1)?);
    let bias = match node.inputs.get(2).filter(|b| !b.is_empty()) {
        Some(b) => Bias::Dequantized(constant_dq(g, node, b, "bias")?),
        None => Bias::None,
    };
    let axis = Some(w_dq.attr_int("axis").unwrap_or(1));
    let weights = Weights { holder: w_dq, at: 0, scale_at: Some(1), zero_at: 2, layout: Layout::Transposed, axis };
    let layer = gemm_layer(g, node, Requant { a, out: Some(out) }, weights, bias)?;
    let window = Window::nchw([kh, kw], [top, left, bottom, right], [1, 1]);
    let spread = [strides[0] as usize, strides[1] as usize];
    Ok((OpKind::Conv { geometry: ConvGeometry::new(c, window), layer }, spread))
}

/// A requantized convolution with one input channel per group (`group` = C, any
/// channel multiplier): a `Depthwise` operation. Its kernel `[M, 1, kh, kw]`
/// read as a one-group convolution's GEMM is `[kh * kw, M]`, the depthwise layer's
/// `[kh, kw, M]` weights, with the float requantization lanes of `QLinearConv`.
fn depthwise(
    g: &Graph,
    node: &Node,
    q: Requant,
    weights: Weights,
    bias: Bias,
    geometry: ConvGeometry,
    groups: usize,
) -> Result<OpKind, String> {
    let layer = gemm_layer(g, node, q, weights, bias)?;
    let LayerOutput::Requant { params, out, mode, clamp } = layer.output else {
        return Err(node_error(node, "a depthwise convolution needs a requantized output"));
    };
    if layer.n % groups != 0 {
        return Err(node_error(node, format!("{} output channels do not split into {groups} groups", layer.n)));
    }
    Ok(OpKind::Depthwise(DepthwiseLayer {
        window: geometry.window,
        multiplier: layer.n / groups,
        weights: layer.weights,
        w_zero: layer.w_zero,
        a_zero: layer.a_zero,
        params,
        mode,
        out,
        clamp,
    }))
}

/// The window of a convolution or pooling `node` over NCHW: pads, strides, dilations.
pub fn window_geometry(node: &Node, channels: usize, kernel: [usize; 2]) -> Result<ConvGeometry, String> {
    let pair = |name: &str, default: usize| -> Result<[usize; 2], String> {
        match node.attr_ints(name) {
            None => Ok([default; 2]),
            Some([a, b]) if *a > 0 && *b > 0 => Ok([*a as usize, *b as usize]),
            Some(v) => Err(node_error(node, format!("{name} {v:?}: two positive values are supported (2-D windows)"))),
        }
    };
    let pads = match node.attr_ints("pads") {
        None => [0; 4],
        Some(&[t, l, b, r]) if t.min(l).min(b).min(r) >= 0 => [t as usize, l as usize, b as usize, r as usize],
        Some(v) => return Err(node_error(node, format!("pads {v:?}: four non-negative values are supported"))),
    };
    let window = Window {
        kernel,
        pads,
        strides: pair("strides", 1)?,
        dilations: pair("dilations", 1)?,
        channels_last: false,
        ceil_mode: false,
    };
    Ok(ConvGeometry::new(channels, window))
}
