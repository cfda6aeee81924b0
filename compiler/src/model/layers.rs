//! The instructions of one accelerator operation whose operands sit at given DDR
//! offsets: GEMM layers, convolutions (implicit im2col, or a GEMM over a patch
//! matrix) and global average pooling. Weights, parameters and other constants go
//! into the model's constant image.

use crate::engine::Engine;
use crate::gemm::{
    gather_k, lower_gather, lower_gemm_with, GemmOutput, GemmSpec, GemmTiling, ImageGeometry, OperandQuant,
    WeightLayout,
};
use crate::gemm_bundle::{
    bundle_output, conv_at, gemm_at, layer_quant, place_output, weight_layout, ConvOperands, GemmOperands,
};
use crate::image::ImageBuilder;
use crate::program::{ConvGeometry, DepthwiseLayer, GemmLayer, LayerOutput};
use crate::tensor::ElemType;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{encode_param_entries, Instr, OutType, Program, RequantMode};
use tessera_isa::quant::{multiply_by_quantized_multiplier, ParamLane, QuantizedMultiplier};

/// A layer's weight matrix `index` (`K x N`) as bytes, its rows in the order of
/// `features` (the logical input feature each stored activation position holds).
fn weight_bytes(layer: &GemmLayer, index: usize, features: &[usize]) -> Vec<u8> {
    let (k, n) = (layer.k, layer.n);
    let w = &layer.weights[index * k * n..(index + 1) * k * n];
    // Two's complement low bytes: the same bits for int8 and uint8 values.
    features.iter().flat_map(|&row| w[row * n..(row + 1) * n].iter().map(|&v| v as u8)).collect()
}

fn u32_offset(v: u64) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("DDR offset {v:#x} does not fit the 32-bit dram_addr field"))
}

/// The code of one accelerator operation: its programs (one per weight matrix),
/// the loads that make its weights resident (empty when they stream) and its tiling.
pub struct Code {
    pub programs: Vec<Program>,
    pub preload: Vec<Instr>,
    pub tiling: GemmTiling,
}

/// WBUF entries one weight matrix of `layer` takes when resident: `k_blocks` K
/// blocks of `rows` (or an N:4 tile's entries) per column block.
pub fn resident_entries(cfg: &AccelConfig, layer: &GemmLayer, engine: Engine, k_blocks: usize) -> usize {
    weight_entries(cfg, layer.n, engine, k_blocks)
}

/// WBUF entries a weight matrix of `k_blocks` K blocks and `n` columns takes.
fn weight_entries(cfg: &AccelConfig, n: usize, engine: Engine, k_blocks: usize) -> usize {
    let (rows, cols) = (cfg.array.rows, cfg.array.cols as usize);
    k_blocks * n.div_ceil(cols) * tessera_isa::nm::tile_entries(rows, engine.nm()) as usize
}

/// A GEMM layer over `rows` activation rows at `a_addr` (each `K` stored features,
/// `features[i]` being the logical feature at position `i`), one program per weight
/// matrix, writing `[rows, N]` at `c_addr`; with `resident`, the weight matrices
/// stay in WBUF one after the other from that entry.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    layer: &GemmLayer,
    engine: Engine,
    rows: usize,
    features: &[usize],
    [a_addr, c_addr]: [u64; 2],
    resident: Option<usize>,
) -> Result<Code, String> {
    let (k, n) = (layer.k, layer.n);
    let group = rows / layer.batches.max(1);
    let out_bytes = layer.out_bytes();
    let (a_quant, w_quant) = layer_quant(layer);
    let k_blocks = k.div_ceil(cfg.array.rows as usize * tessera_isa::nm::ratio(engine.nm()) as usize);
    let per_matrix = resident_entries(cfg, layer, engine, k_blocks);
    let mut code =
        Code { programs: Vec::with_capacity(layer.batches), preload: Vec::new(), tiling: GemmTiling::default() };
    for b in 0..layer.batches {
        let w = weight_bytes(layer, b, features);
        let ops = GemmOperands { m: group, k, n, a: &[], a_quant, w: &w, w_quant, engine };
        let a = u32_offset(a_addr + (b * group * k) as u64)?;
        let c = u32_offset(c_addr + (b * group * n * out_bytes) as u64)?;
        let base = resident.map(|r| r + b * per_matrix);
        let layer_code = gemm_at(cfg, &ops, bundle_output(layer), [a, c], consts, base).map_err(|e| e.to_string())?;
        code.programs.push(layer_code.program);
        code.preload.extend(layer_code.preload.instrs);
        code.tiling = layer_code.tiling;
    }
    Ok(code)
}

/// A convolution as implicit im2col over `n` NHWC images of `h x w` at `a_addr`,
/// writing one row per output pixel at `c_addr`.
#[allow(clippy::too_many_arguments)]
pub fn conv_implicit(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    geometry: &ConvGeometry,
    layer: &GemmLayer,
    nm: u8,
    dims: [usize; 3],
    at: [u64; 2],
    resident: Option<usize>,
) -> Result<Code, String> {
    let whole = Strides { pixel: geometry.channels, row: layer.n };
    conv_implicit_strided(cfg, consts, geometry, layer, nm, dims, at, resident, whole)
}

/// How far apart an implicit-im2col convolution's operands lie in DDR, in elements:
/// its input's pixels and its output rows. A whole tensor: its own channels and
/// outputs; a channel block of one (a depthwise layer's): the whole tensor's.
#[derive(Clone, Copy)]
struct Strides {
    pixel: usize,
    row: usize,
}

/// [`conv_implicit`] over operands `strides` apart.
#[allow(clippy::too_many_arguments)]
fn conv_implicit_strided(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    geometry: &ConvGeometry,
    layer: &GemmLayer,
    nm: u8,
    [n, h, w]: [usize; 3],
    [a_addr, c_addr]: [u64; 2],
    resident: Option<usize>,
    strides: Strides,
) -> Result<Code, String> {
    let tap_major = geometry.tap_major(layer);
    let taps = geometry.window.kernel[0] * geometry.window.kernel[1];
    let weights: Vec<u8> = tap_major.weights[..taps * geometry.channels * layer.n].iter().map(|&v| v as u8).collect();
    let (a_quant, w_quant) = layer_quant(layer);
    let g =
        ImageGeometry { pixel_stride: strides.pixel, ..ImageGeometry::whole(h, w, geometry.channels, geometry.window) };
    let ops = ConvOperands {
        images: n,
        geometry: g,
        n: layer.n,
        c_row_stride: strides.row,
        x: &[],
        a_quant,
        w: &weights,
        w_quant,
        nm,
    };
    let code = conv_at(cfg, &ops, bundle_output(layer), [u32_offset(a_addr)?, u32_offset(c_addr)?], consts, resident)
        .map_err(|e| e.to_string())?;
    Ok(Code { programs: vec![code.program], preload: code.preload.instrs, tiling: code.tiling })
}

/// A convolution over `n` NHWC images of `h x w` at `a_addr` as a GEMM whose rows the
/// LOADs gather, kernel row by kernel row ([`lower_gather`]): the weights' rows are
/// rearranged to (kernel row, run of `kw * c` operands padded to whole blocks).
#[allow(clippy::too_many_arguments)]
pub fn conv_gather(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    geometry: &ConvGeometry,
    layer: &GemmLayer,
    [n, h, w]: [usize; 3],
    [a_addr, c_addr]: [u64; 2],
    resident: Option<usize>,
) -> Result<Code, String> {
    let rows = cfg.array.rows as usize;
    let g = ImageGeometry::whole(h, w, geometry.channels, geometry.window);
    let [kh, kw] = geometry.window.kernel;
    let [oh, ow] = g.out().ok_or("the kernel is larger than the padded input")?;
    let (c, cols_out) = (geometry.channels, layer.n);
    let run = kw * c;
    let chunks = run.div_ceil(rows);
    let tap_major = geometry.tap_major(layer);
    // Row (i, e) of the gathered K: kernel row i, operand e of its run (tap j = e / c,
    // channel e % c); rows past the run multiply padding (the activations' zero point).
    let k = gather_k(&g, rows);
    let mut weights = vec![layer.w_zero as u8; k * cols_out];
    for i in 0..kh {
        for e in 0..run {
            let from = (i * kw + e / c) * c + e % c;
            let to = i * chunks * rows + e;
            for col in 0..cols_out {
                weights[to * cols_out + col] = tap_major.weights[from * cols_out + col] as u8;
            }
        }
    }
    let (a_quant, w_quant) = layer_quant(layer);
    let m = n * oh * ow;
    let (blocked, layout) =
        weight_layout(cfg, &weights, [m, k, cols_out], w_quant.zero, 0).map_err(|e| e.to_string())?;
    let b_addr = consts.place(&blocked);
    let output = place_output(cfg, consts, bundle_output(layer));
    let spec = GemmSpec {
        m,
        k,
        n: cols_out,
        a_addr: u32_offset(a_addr)?,
        b_addr,
        c_addr: u32_offset(c_addr)?,
        c_row_stride: cols_out,
        a: a_quant,
        w: w_quant,
        output,
    };
    let (program, preload, tiling) = lower_gather(cfg, &spec, &g, layout, resident).map_err(|e| e.to_string())?;
    Ok(Code { programs: vec![program], preload: preload.instrs, tiling })
}

/// The fixed-point multiplier that divides by `count` exactly as TFLite's integer
/// average pool does (`(sum ± count / 2) / count`, truncated: half away from zero)
/// for every sum in `[lo, hi]`: the requantizer's `MultiplyByQuantizedMultiplier`
/// with a left shift only (one rounding). Checked exhaustively; `None` if no
/// multiplier close to `1 / count` is exact on the whole range.
pub fn average_divisor(count: i64, (lo, hi): (i64, i64)) -> Option<QuantizedMultiplier> {
    if count <= 0 || lo > hi || hi.abs().max(lo.abs()) >= 1 << 24 {
        return None;
    }
    let exact = |sum: i64| if sum > 0 { (sum + count / 2) / count } else { (sum - count / 2) / count };
    // m / 2^31 a little above 1 / count rounds ties of sum / count away from zero
    // (the requantizer rounds half up); no left shift keeps m largest, most precise.
    let ideal = ((1i64 << 31) + count - 1) / count;
    (0..64).map(|extra| (ideal + extra).min(i64::from(i32::MAX))).find_map(|m| {
        let ok =
            (lo..=hi).all(|sum| i64::from(multiply_by_quantized_multiplier(sum as i32, m as i32, 0)) == exact(sum));
        ok.then_some(QuantizedMultiplier { multiplier: m as i32, shift: 0 })
    })
}

/// How a global average pool requantizes each channel's sum.
pub struct PoolOutput {
    pub dtype: ElemType,
    /// The input's zero point, removed from every value before summing.
    pub input_zero: i64,
    /// `RequantMode::Fixed` multiplier and shift applied to the centred sum.
    pub multiplier: QuantizedMultiplier,
    pub zero_point: i64,
    pub clamp: (i64, i64),
}

impl PoolOutput {
    /// TFLite's `AVERAGE_POOL_2D` over the whole image (its output quantized as its
    /// input: TFLite requires it): the sum divided by the pixel count, rounded half
    /// away from zero ([`average_divisor`]).
    pub fn average(dtype: ElemType, pixels: usize, clamp: (i64, i64)) -> Result<PoolOutput, String> {
        let (lo, hi) = dtype.int_range().filter(|_| matches!(dtype, ElemType::I8 | ElemType::U8)).ok_or("8-bit")?;
        let count = pixels as i64;
        let multiplier = average_divisor(count, (lo * count, hi * count))
            .ok_or_else(|| format!("no fixed-point multiplier divides by {count} exactly"))?;
        Ok(PoolOutput { dtype, input_zero: 0, multiplier, zero_point: 0, clamp })
    }
}

/// An integer global average pool over `n` NHWC images of `pixels x c` at `a_addr`
/// into `[n, c]` at `c_addr`: per image, a GEMM whose weights are the image
/// (`[pixels, c]`, row-major, weight zero point the input's) and whose activation
/// vector is all ones, so the array sums each channel's centred values; the store
/// requantizes the sums ([`PoolOutput`]).
pub fn global_average_pool(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    [n, pixels, c]: [usize; 3],
    out: &PoolOutput,
    [a_addr, c_addr]: [u64; 2],
) -> Result<Code, String> {
    let params = vec![ParamLane::fixed(0, out.multiplier); c];
    let params_addr = consts.place(&encode_param_entries(cfg.array.cols as usize, &params));
    let ones = consts.place(&vec![1u8; pixels]);
    let out_type = if out.dtype == ElemType::U8 { OutType::U8 } else { OutType::I8 };
    let clamp = (out.clamp.0 as i16, out.clamp.1 as i16);
    let zero_point = i16::try_from(out.zero_point).map_err(|_| "the output zero point is out of range")?;
    let output = GemmOutput::Requant { params_addr, mode: RequantMode::Fixed, out_type, zero_point, clamp };
    let w_zero = i16::try_from(out.input_zero).map_err(|_| "the input zero point is out of range")?;
    let w = OperandQuant { zero: w_zero, unsigned: out.dtype == ElemType::U8 };
    let mut programs = Vec::with_capacity(n);
    let mut tiling = None;
    for b in 0..n {
        let spec = GemmSpec {
            m: 1,
            k: pixels,
            n: c,
            a_addr: ones,
            b_addr: u32_offset(a_addr + (b * pixels * c) as u64)?,
            c_addr: u32_offset(c_addr + (b * c) as u64)?,
            c_row_stride: c,
            a: OperandQuant::default(),
            w,
            output,
        };
        let (program, t) = lower_gemm_with(cfg, &spec, WeightLayout::RowMajor).map_err(|e| e.to_string())?;
        programs.push(program);
        tiling = Some(t);
    }
    Ok(Code { programs, preload: Vec::new(), tiling: tiling.ok_or("no images")? })
}

/// One block of a grouped convolution run on its own: output channels `outputs`
/// (at most the array's columns), reading only the input channels `inputs` of their
/// groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelBlock {
    pub outputs: std::ops::Range<usize>,
    pub inputs: std::ops::Range<usize>,
}

/// The blocks of a grouped convolution of `geometry` with `m` outputs on an array of
/// `cols` columns: as many whole groups as `cols` outputs hold, or, when one
/// group has more than `cols` outputs, `cols` of them at a time.
pub fn channel_blocks(geometry: &ConvGeometry, m: usize, cols: usize) -> Result<Vec<ChannelBlock>, String> {
    let (c, groups) = (geometry.channels, geometry.groups);
    if c == 0 || m == 0 || cols == 0 || groups == 0 || !c.is_multiple_of(groups) || !m.is_multiple_of(groups) {
        return Err(format!("{c} input and {m} output channels do not split into {groups} groups"));
    }
    let (per_group, outputs) = (c / groups, m / groups);
    let block = |g: std::ops::Range<usize>, o: std::ops::Range<usize>| ChannelBlock {
        outputs: o,
        inputs: g.start * per_group..g.end * per_group,
    };
    Ok(if outputs <= cols {
        let whole = cols / outputs;
        (0..groups)
            .step_by(whole)
            .map(|g| {
                let last = (g + whole).min(groups);
                block(g..last, g * outputs..last * outputs)
            })
            .collect()
    } else {
        (0..groups)
            .flat_map(|g| (0..outputs).step_by(cols).map(move |o| (g, o)))
            .map(|(g, o)| block(g..g + 1, g * outputs + o..g * outputs + (o + cols).min(outputs)))
            .collect()
    })
}

/// WBUF entries a grouped convolution's blocks ([`conv_per_block`]) take resident.
pub fn per_block_entries(cfg: &AccelConfig, blocks: &[ChannelBlock], taps: usize) -> usize {
    let k_blocks = |b: &ChannelBlock| taps * b.inputs.len().div_ceil(cfg.array.rows as usize);
    blocks.iter().map(|b| weight_entries(cfg, b.outputs.len(), Engine::Dense, k_blocks(b))).sum()
}

/// A grouped convolution (`geometry.groups` groups; a depthwise one has one input
/// channel per group) over `n` images of `h x w` stored channels-last (TFLite's NHWC,
/// or an ONNX NCHW value in its DDR layout) at `a_addr`, as one dense
/// implicit-im2col convolution per [`ChannelBlock`] (`docs/depthwise.md`, option
/// A): the block's channel slice of the image (`ImageGeometry::pixel_stride`), its
/// weights block-diagonal only inside the block (the weight zero point outside its
/// groups, which contributes nothing), its column slice of the output rows at
/// `c_addr`. `layer` holds the weights per group ([`ConvGeometry::per_group`]: rows
/// (tap, channel of the group)). One program per block; with `resident`, the blocks'
/// weights stay in WBUF one after the other from that entry.
#[allow(clippy::too_many_arguments)]
pub fn conv_per_block(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    geometry: &ConvGeometry,
    layer: &GemmLayer,
    dims: [usize; 3],
    [a_addr, c_addr]: [u64; 2],
    resident: Option<usize>,
) -> Result<Code, String> {
    let (c, m) = (geometry.channels, layer.n);
    let taps = geometry.window.kernel[0] * geometry.window.kernel[1];
    let blocks = channel_blocks(geometry, m, cfg.array.cols as usize)?;
    let per_group = c / geometry.groups;
    let outputs = m / geometry.groups;
    if layer.batches != 1 || layer.w_zero_columns.is_some() || layer.weights.len() != taps * per_group * m {
        return Err("a grouped convolution per block needs one weight matrix of its groups' kernels".into());
    }
    let out_bytes = layer.out_bytes();
    // Rows are built tap-major and the image is channels-last whatever the model's
    // layout: a channels-last window keeps `tap_major` from reordering.
    let window = crate::shape::Window { channels_last: true, ..geometry.window };
    let strides = Strides { pixel: c, row: m };
    let mut code = Code { programs: Vec::new(), preload: Vec::new(), tiling: GemmTiling::default() };
    let mut base = resident;
    for block in &blocks {
        let (inputs, cols) = (block.inputs.len(), block.outputs.len());
        // Rows (tap, input channel of the block), columns the block's outputs.
        let weights = (0..taps * inputs * cols)
            .map(|i| {
                let (tap, ch, o) =
                    (i / cols / inputs, block.inputs.start + i / cols % inputs, block.outputs.start + i % cols);
                if ch / per_group == o / outputs {
                    layer.weights[(tap * per_group + ch % per_group) * m + o]
                } else {
                    layer.w_zero
                }
            })
            .collect();
        let output = match &layer.output {
            LayerOutput::Requant { params, out, mode, clamp } => LayerOutput::Requant {
                params: params.get(block.outputs.clone()).ok_or("fewer requantization lanes than outputs")?.to_vec(),
                out: *out,
                mode: *mode,
                clamp: *clamp,
            },
            LayerOutput::Raw32 => LayerOutput::Raw32,
        };
        let slice = GemmLayer {
            node: String::new(),
            batches: 1,
            k: taps * inputs,
            n: cols,
            weights,
            w_type: layer.w_type,
            w_zero: layer.w_zero,
            w_zero_columns: None,
            a_type: layer.a_type,
            a_zero: layer.a_zero,
            output,
        };
        let at = [a_addr + block.inputs.start as u64, c_addr + (block.outputs.start * out_bytes) as u64];
        let slice_geometry = ConvGeometry::new(inputs, window);
        let block_code = conv_implicit_strided(cfg, consts, &slice_geometry, &slice, 0, dims, at, base, strides)?;
        base = base.map(|b| b + per_block_entries(cfg, std::slice::from_ref(block), taps));
        code.programs.extend(block_code.programs);
        code.preload.extend(block_code.preload);
        code.tiling = block_code.tiling;
    }
    Ok(code)
}

/// A depthwise convolution over `n` images of `h x w` stored channels-last at
/// `a_addr`: the grouped convolution of one input channel per group and `multiplier`
/// outputs per group ([`conv_per_block`]), writing `c_addr`.
pub fn depthwise(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    layer: &DepthwiseLayer,
    a_type: ElemType,
    dims: [usize; 3],
    at: [u64; 2],
) -> Result<Code, String> {
    let channels = layer.params.len();
    if layer.multiplier == 0 || !channels.is_multiple_of(layer.multiplier) {
        return Err(format!("{channels} depthwise outputs with depth multiplier {}", layer.multiplier));
    }
    let inputs = channels / layer.multiplier;
    let taps = layer.window.kernel[0] * layer.window.kernel[1];
    let unsigned = layer.w_zero != 0 || layer.weights.iter().any(|&v| v > 127);
    // `[kh, kw, C * multiplier]`: rows (tap, the group's one channel), a column per
    // output (output `c * multiplier + m` reads input channel `c`).
    let per_group = GemmLayer {
        node: String::new(),
        batches: 1,
        k: taps,
        n: channels,
        weights: layer.weights.clone(),
        w_type: if unsigned { ElemType::U8 } else { ElemType::I8 },
        w_zero: layer.w_zero,
        w_zero_columns: None,
        a_type,
        a_zero: layer.a_zero,
        output: LayerOutput::Requant {
            params: layer.params.clone(),
            out: layer.out,
            mode: layer.mode,
            clamp: layer.clamp,
        },
    };
    let geometry = ConvGeometry { channels: inputs, window: layer.window, groups: inputs };
    conv_per_block(cfg, consts, &geometry, &per_group, dims, at, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(channels: usize, groups: usize, m: usize) -> Result<Vec<(usize, usize, usize, usize)>, String> {
        let window = crate::shape::Window::nchw([3, 3], [1; 4], [1, 1]);
        let geometry = ConvGeometry { groups, ..ConvGeometry::new(channels, window) };
        let blocks = channel_blocks(&geometry, m, 16)?;
        Ok(blocks.iter().map(|b| (b.outputs.start, b.outputs.end, b.inputs.start, b.inputs.end)).collect())
    }

    #[test]
    fn channel_blocks_hold_whole_groups_or_part_of_one() {
        // Depthwise: 16 channels a block, the last one shorter.
        assert_eq!(blocks(40, 40, 40), Ok(vec![(0, 16, 0, 16), (16, 32, 16, 32), (32, 40, 32, 40)]));
        // RegNet's group width 8: two groups a block.
        assert_eq!(blocks(32, 4, 32), Ok(vec![(0, 16, 0, 16), (16, 32, 16, 32)]));
        // 6 outputs a group: two groups (12 columns), input slices 10 wide from 10.
        assert_eq!(blocks(20, 4, 24), Ok(vec![(0, 12, 0, 10), (12, 24, 10, 20)]));
        // 24 outputs a group: 16 and 8 of one group, reading its 24 channels.
        let split = vec![(0, 16, 0, 24), (16, 24, 0, 24), (24, 40, 24, 48), (40, 48, 24, 48)];
        assert_eq!(blocks(48, 2, 48), Ok(split));
        for (c, groups, m) in [(48, 0, 48), (48, 5, 50), (50, 5, 48), (0, 1, 8), (8, 1, 0)] {
            assert!(blocks(c, groups, m).is_err_and(|e| e.contains("do not split")), "{c} {groups} {m}");
        }
    }

    #[test]
    fn the_average_divisor_rounds_like_tflite() {
        for count in [1, 2, 4, 9, 25, 49, 64, 125, 144] {
            let m = average_divisor(count, (-128 * count, 127 * count)).unwrap_or_else(|| panic!("count {count}"));
            // Hand-checked ties: count/2 rounds up, -count/2 down.
            if count % 2 == 0 {
                let half = count / 2;
                assert_eq!(multiply_by_quantized_multiplier(half as i32, m.multiplier, m.shift), 1);
                assert_eq!(multiply_by_quantized_multiplier(-half as i32, m.multiplier, m.shift), -1);
            }
        }
    }
}
