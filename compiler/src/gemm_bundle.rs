//! One GEMM as a self-contained program bundle: the input tensor `a`, the constant
//! weights stored column-blocked (the order the array loads them), the
//! requantization parameters, and the output tensor `c`. `tessera demo`,
//! `bench gemm` and the model runner's layers are all this.

use crate::engine::Engine;
use crate::gemm::WeightLayout;
use crate::gemm::{
    lower_conv, lower_gemm_with, lower_resident, sparse_a_slack, GemmOutput, GemmSpec, GemmTiling, ImageGeometry,
    LowerError, OperandQuant,
};
use crate::image::ImageBuilder;
use crate::program::{ConvGeometry, GemmLayer, LayerOutput};
use crate::sparsity::pack_nm_weights;
use crate::spmv;
use crate::tensor::ElemType;
use tessera_isa::bundle::{Bundle, DType, Role};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{encode_param_entries, OutType, Program, RequantMode};
use tessera_isa::quant::ParamLane;

/// 8-bit operands of `C[M,N] = A[M,K] x W[K,N]`, row-major, one byte each.
pub struct GemmOperands<'a> {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a: &'a [u8],
    pub a_quant: OperandQuant,
    pub w: &'a [u8],
    pub w_quant: OperandQuant,
    /// The datapath the weights run on.
    pub engine: Engine,
}

/// What the bundle's output `c` holds.
pub enum BundleOutput<'a> {
    /// The int32 accumulators.
    Raw32,
    /// Requantized with one parameter lane per output column.
    Requant { params: &'a [ParamLane], mode: RequantMode, out_type: OutType, zero_point: i16, clamp: (i16, i16) },
}

impl BundleOutput<'_> {
    /// The element type of the output tensor.
    pub fn dtype(&self) -> DType {
        match self {
            BundleOutput::Raw32 => DType::I32,
            BundleOutput::Requant { out_type, .. } => out_dtype(*out_type),
        }
    }
}

/// The bundle tensor type of an output type.
fn out_dtype(t: OutType) -> DType {
    match t {
        OutType::I8 => DType::I8,
        OutType::U8 => DType::U8,
        OutType::I4 => DType::I4,
        OutType::U4 => DType::U4,
        OutType::I32 => DType::I32,
    }
}

/// Lays out `ops` and lowers the GEMM for `cfg`.
pub fn gemm_bundle(
    cfg: &AccelConfig,
    ops: &GemmOperands,
    output: BundleOutput,
    description: impl Into<String>,
) -> Result<(Bundle, GemmTiling), LowerError> {
    let (m, k, n) = (ops.m, ops.k, ops.n);
    let mut image = ImageBuilder::new();
    let a_dtype = if ops.a_quant.unsigned { DType::U8 } else { DType::I8 };
    let a_addr = image.tensor("a", Role::Input, a_dtype, &[m, k], ops.a);
    image.place(&vec![0; a_slack(cfg, ops.engine, k)]);
    let c_addr = image.output("c", output.dtype(), &[m, n]);
    let code = gemm_at(cfg, ops, output, [a_addr, c_addr], &mut image, None)?;
    Ok((image.finish(cfg, &code.program, description), code.tiling))
}

/// Bytes an engine's lowering may read past the end of A (which the weights there
/// ignore): the buffer holding A must have them.
pub fn a_slack(cfg: &AccelConfig, engine: Engine, k: usize) -> usize {
    match engine {
        Engine::Dense => 0,
        Engine::NOf4(nm) => sparse_a_slack(cfg, k, nm),
        // The last IBUF entry of each row reads up to `rows` bytes past it.
        Engine::Sparse => cfg.array.rows as usize,
    }
}

/// A layer's program, the loads that make its weights resident (empty when they
/// stream), and its tiling.
pub struct LayerCode {
    pub program: Program,
    pub preload: Program,
    pub tiling: GemmTiling,
}

/// Lowers the GEMM of `ops` (its `a` unused) whose A lives at DDR offset `a_addr`
/// (with [`a_slack`] bytes after it) and whose C goes to `c_addr`; its weights and
/// requantization parameters are placed in `consts`. With `resident`, the weights
/// stay in WBUF from that entry on (not for the sparse engine).
pub fn gemm_at(
    cfg: &AccelConfig,
    ops: &GemmOperands,
    output: BundleOutput,
    [a_addr, c_addr]: [u32; 2],
    consts: &mut ImageBuilder,
    resident: Option<usize>,
) -> Result<LayerCode, LowerError> {
    let (m, k, n) = (ops.m, ops.k, ops.n);
    if ops.engine == Engine::Sparse {
        let requant = matches!(output, BundleOutput::Requant { .. });
        let weights = spmv::pack_weights(cfg, [m, k, n], ops.w, ops.w_quant.zero, requant)?;
        let w_addr = consts.place(&weights.bytes(cfg.array.cols as usize));
        let output = place_output(cfg, consts, output);
        let spec = spmv::SpmvSpec { m, k, n, a_addr, w_addr, c_addr, a: ops.a_quant, w: ops.w_quant, output };
        let program = spmv::lower_spmv(cfg, &spec, &weights);
        let tiling = weights.tiling(m, cfg.array.rows as usize);
        return Ok(LayerCode { program, preload: Program::default(), tiling });
    }
    let (weights, layout) = weight_layout(cfg, ops.w, [m, k, n], ops.w_quant.zero, ops.engine.nm())?;
    let b_addr = consts.place(&weights);
    let output = place_output(cfg, consts, output);
    let spec = GemmSpec { m, k, n, a_addr, b_addr, c_addr, c_row_stride: n, a: ops.a_quant, w: ops.w_quant, output };
    lower_placed(cfg, &spec, layout, None, resident)
}

/// [`lower_gemm_with`] or [`lower_conv`], with resident weights or not.
fn lower_placed(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    layout: WeightLayout,
    image: Option<ImageGeometry>,
    resident: Option<usize>,
) -> Result<LayerCode, LowerError> {
    let (program, preload, tiling) = match (resident, image) {
        (Some(base), image) => lower_resident(cfg, spec, layout, image, base)?,
        (None, Some(g)) => lower_conv(cfg, spec, &g, layout).map(|(p, t)| (p, Program::default(), t))?,
        (None, None) => lower_gemm_with(cfg, spec, layout).map(|(p, t)| (p, Program::default(), t))?,
    };
    Ok(LayerCode { program, preload, tiling })
}

/// The `K x N` weights as the array loads them: column-blocked, or packed N:4 tiles.
pub(crate) fn weight_layout(
    cfg: &AccelConfig,
    w: &[u8],
    [m, k, n]: [usize; 3],
    w_zero: i16,
    nm: u8,
) -> Result<(Vec<u8>, WeightLayout), LowerError> {
    if nm == 0 {
        return Ok((crate::gemm::blocked(w, k, n, cfg.array.cols as usize), WeightLayout::Blocked));
    }
    let packed = pack_nm_weights(cfg, w, k, n, nm, w_zero).ok_or_else(|| LowerError::DoesNotFit {
        m,
        k,
        n,
        reason: format!("the weights are not {nm}:4 per column pair"),
    })?;
    Ok((packed, WeightLayout::Sparse(nm)))
}

/// Places the requantization parameters (if any) and returns the store path's settings.
pub(crate) fn place_output(cfg: &AccelConfig, consts: &mut ImageBuilder, output: BundleOutput) -> GemmOutput {
    match output {
        BundleOutput::Raw32 => GemmOutput::Raw32,
        BundleOutput::Requant { params, mode, out_type, zero_point, clamp } => {
            let params_addr = consts.place(&encode_param_entries(cfg.array.cols as usize, params));
            GemmOutput::Requant { params_addr, mode, out_type, zero_point, clamp }
        }
    }
}

/// What a lowered layer's bundle writes.
pub(crate) fn bundle_output(layer: &GemmLayer) -> BundleOutput<'_> {
    match &layer.output {
        LayerOutput::Requant { params, out, mode, clamp } => {
            let out_type = if out.dtype == ElemType::U8 { OutType::U8 } else { OutType::I8 };
            let clamp = (clamp.0 as i16, clamp.1 as i16);
            BundleOutput::Requant { params, mode: *mode, out_type, zero_point: out.zero as i16, clamp }
        }
        LayerOutput::Raw32 => BundleOutput::Raw32,
    }
}

/// A layer's activation and weight quantization as the lowering takes them.
pub(crate) fn layer_quant(layer: &GemmLayer) -> (OperandQuant, OperandQuant) {
    (
        OperandQuant { zero: layer.a_zero as i16, unsigned: layer.a_type == ElemType::U8 },
        OperandQuant { zero: layer.w_zero as i16, unsigned: layer.w_type == ElemType::U8 },
    )
}

/// The bundle description's note of the weights' form.
fn sparse_note(engine: Engine) -> String {
    match engine {
        Engine::Dense => String::new(),
        Engine::NOf4(n) => format!(", {n}:4 sparse"),
        Engine::Sparse => ", on the sparse engine".into(),
    }
}

/// A convolution as one implicit-im2col bundle: the input tensor `a` holds `n` NHWC
/// images (`[n, h, w, c]`, one byte each), `w` the `K x N` weights with rows in (tap,
/// channel) order; the output `c` holds one row per output pixel (NHWC order).
pub struct ConvOperands<'a> {
    pub images: usize,
    pub geometry: ImageGeometry,
    pub n: usize,
    /// Elements from one output row to the next (`n`, or more for a column slice).
    pub c_row_stride: usize,
    pub x: &'a [u8],
    pub a_quant: OperandQuant,
    pub w: &'a [u8],
    pub w_quant: OperandQuant,
    /// Run the weights as N:4 tiles (`N`), or dense (0).
    pub nm: u8,
}

/// Lays out `ops` and lowers the convolution for `cfg`; fails when an image does not
/// fit the input buffer (use an explicit im2col GEMM then).
pub fn conv_bundle(
    cfg: &AccelConfig,
    ops: &ConvOperands,
    output: BundleOutput,
    description: impl Into<String>,
) -> Result<(Bundle, GemmTiling), LowerError> {
    let g = &ops.geometry;
    let [oh, ow] = g.out().unwrap_or([0, 0]);
    let mut image = ImageBuilder::new();
    let a_dtype = if ops.a_quant.unsigned { DType::U8 } else { DType::I8 };
    let a_addr = image.tensor("a", Role::Input, a_dtype, &[ops.images, g.h, g.w, g.c], ops.x);
    let c_addr = image.output("c", output.dtype(), &[ops.images * oh * ow, ops.n]);
    let code = conv_at(cfg, ops, output, [a_addr, c_addr], &mut image, None)?;
    Ok((image.finish(cfg, &code.program, description), code.tiling))
}

/// Lowers the convolution of `ops` (its `x` unused) whose NHWC images live at DDR
/// offset `a_addr` and whose output rows (one per output pixel) go to `c_addr`; its
/// weights and parameters are placed in `consts`, and stay in WBUF from entry
/// `resident` on if given.
pub fn conv_at(
    cfg: &AccelConfig,
    ops: &ConvOperands,
    output: BundleOutput,
    [a_addr, c_addr]: [u32; 2],
    consts: &mut ImageBuilder,
    resident: Option<usize>,
) -> Result<LayerCode, LowerError> {
    let g = &ops.geometry;
    let [oh, ow] = g.out().unwrap_or([0, 0]);
    let (m, k, n) = (ops.images * oh * ow, g.window.kernel[0] * g.window.kernel[1] * g.c, ops.n);
    let (weights, layout) = weight_layout(cfg, ops.w, [m, k, n], ops.w_quant.zero, ops.nm)?;
    let b_addr = consts.place(&weights);
    let output = place_output(cfg, consts, output);
    let spec = GemmSpec {
        m,
        k,
        n,
        a_addr,
        b_addr,
        c_addr,
        c_row_stride: ops.c_row_stride,
        a: ops.a_quant,
        w: ops.w_quant,
        output,
    };
    lower_placed(cfg, &spec, layout, Some(*g), resident)
}

/// The implicit-im2col bundle of a lowered convolution layer over `images` inputs of
/// `h x w` (values in `x`, NHWC). The layer's weight rows follow its geometry's
/// layout (NCHW kernels flatten (c, i, j)); they are reordered to (i, j, c).
pub fn conv_layer_bundle(
    cfg: &AccelConfig,
    layer: &GemmLayer,
    geometry: &ConvGeometry,
    x: &[i64],
    dims: [usize; 3],
    nm: u8,
) -> Result<(Bundle, GemmTiling), LowerError> {
    tap_major_conv_bundle(cfg, &geometry.tap_major(layer), geometry, x, dims, nm)
}

/// [`conv_layer_bundle`] of a layer whose weight rows are in (i, j, c) order already
/// (`ConvGeometry::tap_major`).
pub fn tap_major_conv_bundle(
    cfg: &AccelConfig,
    layer: &GemmLayer,
    geometry: &ConvGeometry,
    x: &[i64],
    [images, h, w]: [usize; 3],
    nm: u8,
) -> Result<(Bundle, GemmTiling), LowerError> {
    let win = &geometry.window;
    let g = ImageGeometry::whole(h, w, geometry.channels, *win);
    let (taps, c, n) = (win.kernel[0] * win.kernel[1], geometry.channels, layer.n);
    let w: Vec<u8> = layer.weights[..taps * c * n].iter().map(|&v| v as u8).collect();
    let x: Vec<u8> = x.iter().map(|&v| v as u8).collect();
    let (a_quant, w_quant) = layer_quant(layer);
    let ops = ConvOperands { images, geometry: g, n, c_row_stride: n, x: &x, a_quant, w: &w, w_quant, nm };
    let description = format!(
        "{} ({images} images {h}x{}x{c}, implicit im2col{})",
        layer.node,
        g.w,
        sparse_note(Engine::from_nm(nm))
    );
    conv_bundle(cfg, &ops, bundle_output(layer), description)
}
