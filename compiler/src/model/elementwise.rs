//! Element-wise operations and pooling on the accumulator: no GEMMs, only the
//! compute queue's accumulator LOADs (ISA 1.1: bytes looked up in the 256-entry
//! TABLE, combined by add or max) and the store unit's requantization.
//!
//! - TFLite `ADD`: each input's rescaling to the common fixed-point scale is a
//!   function of one byte, so it is a table the compiler computes with TFLite's own
//!   arithmetic ([`AddRescale::input`]); the accumulator gets `T1[x1] + T2[x2]` from
//!   two LOADs (the second combining by add), and the STORE's fixed-point mode does
//!   the output rescaling. Exact by construction.
//! - TFLite `QUANTIZE` between int8 and uint8, and every unary activation
//!   ([`crate::program::ByteTable`]): a function of one byte, one table whose entries
//!   are the outputs; a LOAD through it and a STORE that only narrows.
//! - Max pooling: one LOAD per kernel tap over the output positions, combining by
//!   max; positions whose tap falls outside the image load the type's minimum (the
//!   LOAD's padding), which never wins. Average pooling: the same with add and a
//!   STORE that divides by the count of in-bounds taps ([`average_divisor`]), one
//!   STORE per region of equal count.
//!
//! Work is split into tiles of accumulator entries alternating between the two
//! banks, so the STOREs of one tile overlap the LOADs of the next.

use super::layers::{average_divisor, Code};
use crate::cost::CostModel;
use crate::gemm::{acc_bank_size, GemmTiling};
use crate::image::ImageBuilder;
use crate::program::Affine;
use crate::shape::Window;
use crate::tensor::ElemType;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{
    encode_param_entries, AccElem, Combine, Deps, Instr, Load, Mem, OutType, Pad, Program, RequantMode, Store, Table,
};
use tessera_isa::quant::{
    onnx_dequantize, onnx_quantize, requantize, AddRescale, ParamLane, QuantizedMultiplier, Requantize,
};

fn u16_of(v: usize) -> Result<u16, String> {
    u16::try_from(v).map_err(|_| format!("{v} does not fit a 16-bit field"))
}

fn u32_of(v: usize) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("DDR offset {v:#x} does not fit the 32-bit dram_addr field"))
}

fn u8_of(v: usize) -> Result<u8, String> {
    u8::try_from(v).map_err(|_| format!("{v} entries of padding do not fit the 8-bit pad fields"))
}

/// The raw byte of a value of `dtype` and the value of a raw byte.
fn value_of(dtype: ElemType, byte: u8) -> i64 {
    if dtype == ElemType::U8 {
        i64::from(byte)
    } else {
        i64::from(byte as i8)
    }
}

fn out_type(dtype: ElemType) -> OutType {
    if dtype == ElemType::U8 {
        OutType::U8
    } else {
        OutType::I8
    }
}

/// The four-byte little-endian table of `f` over the 256 raw bytes.
fn table(f: impl Fn(u8) -> i32) -> Vec<u8> {
    (0..=255u8).flat_map(|b| f(b).to_le_bytes()).collect()
}

/// An instruction stream of the compute and store queues, double-buffered over the
/// accumulator's banks: tile `t`'s compute work fills bank `t % 2` and gives the
/// store queue a token; its STOREs give one back, which tile `t + 2` waits for.
struct Tiles {
    instrs: Vec<Instr>,
    tiles: usize,
}

impl Tiles {
    fn new() -> Self {
        Tiles { instrs: Vec::new(), tiles: 0 }
    }

    /// Appends tile work: the compute queue's instructions, then the STOREs.
    fn push(&mut self, mut compute: Vec<Instr>, mut stores: Vec<Instr>) {
        if let Some(d) = compute.first_mut().and_then(Instr::deps_mut) {
            d.pop_next = self.tiles >= 2;
        }
        if let Some(d) = compute.last_mut().and_then(Instr::deps_mut) {
            d.push_next = true;
        }
        if let Some(d) = stores.first_mut().and_then(Instr::deps_mut) {
            d.pop_prev = true;
        }
        if let Some(d) = stores.last_mut().and_then(Instr::deps_mut) {
            d.push_prev = true;
        }
        self.instrs.extend(compute);
        self.instrs.extend(stores);
        self.tiles += 1;
    }

    fn finish(mut self) -> Program {
        self.instrs.push(Instr::Finish);
        Program::new(self.instrs)
    }
}

/// The accumulator bank of tile `t`.
fn bank(cfg: &AccelConfig, t: usize) -> usize {
    (t % 2) * acc_bank_size(cfg)
}

/// A parameter entry of `cols` equal lanes, placed in `consts`, and the LOAD that
/// puts it at PBUF entry `at`.
fn param_load(cfg: &AccelConfig, consts: &mut ImageBuilder, lanes: &[ParamLane], at: usize) -> Result<Instr, String> {
    let cols = cfg.array.cols as usize;
    let bytes = encode_param_entries(cols, lanes);
    let entries = lanes.len().div_ceil(cols);
    Ok(Instr::Load(Load {
        mem: Mem::Pbuf,
        sram_addr: u16_of(at)?,
        dram_addr: consts.place(&bytes),
        x_size: u16_of(entries)?,
        x_stride: u32_of(bytes.len() / entries)?,
        y_size: 1,
        lanes: cols as u8,
        ..Load::default()
    }))
}

/// How an element-wise sum leaves the accumulator: the STORE's mode, its parameter
/// lane (the same for every lane), zero point, output type and clamp.
#[derive(Debug, Clone, Copy)]
pub struct SumOutput {
    pub mode: RequantMode,
    pub lane: ParamLane,
    pub zero: i64,
    pub dtype: ElemType,
    pub clamp: (i64, i64),
}

/// TFLite's `ADD` of two tensors of `elements` values of `dtypes[0..2]` at `a` and `b`
/// into `c` (the same layout for all three), `clamp` being the output range: each
/// input through its table of [`AddRescale::input`], the sum through the STORE's
/// fixed-point mode ([`AddRescale::output`]). `subtract`: TFLite's `SUB`, the same
/// arithmetic with the second rescaled input negated (its table's entries).
#[allow(clippy::too_many_arguments)]
pub fn tflite_add(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    elements: usize,
    dtypes: [ElemType; 3],
    rescale: &AddRescale,
    clamp: (i64, i64),
    addrs: [u64; 3],
    subtract: bool,
) -> Result<Code, String> {
    let sign = [1, if subtract { -1 } else { 1 }];
    let tables =
        [0, 1].map(|i| (0..=255u8).map(|b| sign[i] * rescale.input(i, value_of(dtypes[i], b))).collect::<Vec<_>>());
    let m = QuantizedMultiplier { multiplier: rescale.output.multiplier, shift: rescale.output.shift };
    let output = SumOutput {
        mode: RequantMode::Fixed,
        lane: ParamLane::fixed(0, m),
        zero: rescale.output_zero,
        dtype: dtypes[2],
        clamp,
    };
    let [a, b, c] = addrs;
    table_sum(cfg, consts, elements, &tables, &output, &[a, b], c)
}

/// TFLite's `QUANTIZE` from int8 or uint8 (`dtypes[0]`) to int8 or uint8 (`dtypes[1]`)
/// of `elements` values at `x` into `y`: one table of the outputs ([`Requantize`]).
pub fn tflite_requantize(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    elements: usize,
    dtypes: [ElemType; 2],
    r: &Requantize,
    at: [u64; 2],
) -> Result<Code, String> {
    let values: Vec<i64> = (0..=255u8).map(|b| r.apply(value_of(dtypes[0], b))).collect();
    byte_table(cfg, consts, elements, dtypes[1], &values, at)
}

/// A function of one byte (`values`, indexed by the raw input byte, of type `dtype`)
/// over `elements` values at `x` into `y`: a LOAD through the table and a STORE that
/// only narrows.
pub fn byte_table(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    elements: usize,
    dtype: ElemType,
    values: &[i64],
    [x, y]: [u64; 2],
) -> Result<Code, String> {
    let range = dtype.int_range().ok_or("an 8-bit output")?;
    if values.len() != 256 || values.iter().any(|v| !(range.0..=range.1).contains(v)) {
        return Err(format!("a byte table needs 256 {dtype} values"));
    }
    let table: Vec<i32> = values.iter().map(|&v| v as i32).collect();
    let output = SumOutput { mode: RequantMode::None, lane: ParamLane::default(), zero: 0, dtype, clamp: range };
    table_sum(cfg, consts, elements, &[table], &output, &[x], y)
}

/// ONNX's float32 `Add` between dequantizations and a quantization (`QLinearAdd`,
/// QDQ `Add`) as two tables and the STORE's float mode, when that reproduces the
/// reference arithmetic on every pair of input values (checked here, all 65,536
/// of them): each table holds its input's dequantized value times `2^e`, rounded;
/// the STORE multiplies the sum by `f32(2^-e / s_out)`. `None` when no exponent
/// reproduces every output (float32's roundings of the sum and the quotient can
/// disagree with any fixed-point rendering near ties).
pub fn onnx_add_tables(inputs: [&Affine; 2], out: &Affine) -> Option<([Vec<i32>; 2], f32)> {
    if inputs.iter().any(|a| a.half_scale) || out.half_scale {
        return None;
    }
    let range = out.dtype.int_range()?;
    let values = |a: &Affine| -> Vec<i64> { (0..=255u8).map(|b| value_of(a.dtype, b)).collect() };
    let deq = |a: &Affine, v: i64| onnx_dequantize(v, a.zero, a.scale);
    let reference: Vec<i64> = values(inputs[0])
        .iter()
        .flat_map(|&x| values(inputs[1]).into_iter().map(move |y| (x, y)))
        .map(|(x, y)| onnx_quantize(deq(inputs[0], x) + deq(inputs[1], y), out.scale, out.zero, range))
        .collect();
    let largest: f64 = inputs.iter().map(|a| 256.0 * f64::from(a.scale.abs())).sum();
    // The largest exponent that keeps every sum well inside int32, then smaller ones.
    let top = (f64::from(1u32 << 29) / largest).log2().floor() as i32;
    (top - 8..=top).rev().find_map(|e| {
        let tables = inputs.map(|a| {
            values(a).iter().map(|&v| (f64::from(deq(a, v)) * 2f64.powi(e)).round() as i32).collect::<Vec<_>>()
        });
        let scale = (2f64.powi(-e) / f64::from(out.scale)) as f32;
        let lane = ParamLane::float(0, scale);
        let (lo, hi) = (range.0 as i32, range.1 as i32);
        let exact =
            tables[0].iter().flat_map(|&x| tables[1].iter().map(move |&y| x.wrapping_add(y))).zip(&reference).all(
                |(acc, &want)| i64::from(requantize(RequantMode::Float, acc, lane, out.zero as i32, lo, hi)) == want,
            );
        exact.then_some((tables, scale))
    })
}

/// The element-wise sum of tensors of `elements` byte values at `inputs`, each looked
/// up in its table of `tables`, written through `output` to `c` (one input: a unary
/// function of a byte).
pub fn table_sum(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    elements: usize,
    tables: &[Vec<i32>],
    output: &SumOutput,
    inputs: &[u64],
    c: u64,
) -> Result<Code, String> {
    let cols = cfg.array.cols as usize;
    if tables.len() != inputs.len() || inputs.is_empty() {
        return Err(format!("{} tables for {} inputs", tables.len(), inputs.len()));
    }
    let tables: Vec<u32> = tables.iter().map(|t| consts.place(&table(|byte| t[usize::from(byte)]))).collect();
    let entries = elements.div_ceil(cols);
    // The store's parameters (none for a STORE that only narrows).
    let first = match output.mode {
        RequantMode::None => None,
        _ => Some(param_load(cfg, consts, &vec![output.lane; cols], 0)?),
    };
    // Smaller tiles overlap one tile's STOREs with the next one's loads but reload
    // a table each: the cost model picks.
    let model = CostModel::new(cfg);
    let largest = entries.min(acc_bank_size(cfg)).min(usize::from(u16::MAX)).max(1);
    let mut best: Option<(u64, Program, usize)> = None;
    for per_tile in std::iter::successors(Some(largest), |&t| (t / 2 >= 16).then_some(t / 2)).take(8) {
        let program = sum_tiles(cfg, per_tile, entries, elements, &tables, first, output, inputs, c)?;
        let cycles = model.predict(&program)?.cycles;
        if best.as_ref().is_none_or(|(best, ..)| cycles < *best) {
            best = Some((cycles, program, per_tile));
        }
    }
    let (_, program, per_tile) = best.ok_or("no tiling")?;
    let tiling = GemmTiling { m_tile: per_tile, n_blocks_per_step: 1, k_blocks_per_step: 0 };
    Ok(Code { programs: vec![program], preload: Vec::new(), tiling })
}

/// The program of [`table_sum`] with tiles of `per_tile` entries.
#[allow(clippy::too_many_arguments)]
fn sum_tiles(
    cfg: &AccelConfig,
    per_tile: usize,
    entries: usize,
    elements: usize,
    tables: &[u32],
    first: Option<Instr>,
    output: &SumOutput,
    inputs: &[u64],
    c: u64,
) -> Result<Program, String> {
    let cols = cfg.array.cols as usize;
    let mut tiles = Tiles::new();
    let mut loaded: Option<usize> = None;
    for (t, e0) in (0..entries).step_by(per_tile).enumerate() {
        let count = per_tile.min(entries - e0);
        let acc = bank(cfg, t);
        let mut compute: Vec<Instr> = if t == 0 { first.into_iter().collect() } else { Vec::new() };
        // The input whose table is loaded goes first (it overwrites), the others add.
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        if let Some(l) = loaded {
            order.retain(|&i| i != l);
            order.insert(0, l);
        }
        for (k, &input) in order.iter().enumerate() {
            if loaded != Some(input) {
                compute.push(Instr::Table(Table { deps: Deps::NONE, dram_addr: tables[input] }));
                loaded = Some(input);
            }
            let from = inputs[input];
            let combine = if k == 0 { Combine::Overwrite } else { Combine::Add };
            compute.extend(rows(e0, count, elements, cols, |first, n, lanes| {
                Ok(Instr::Load(Load {
                    mem: Mem::Acc,
                    acc_elem: AccElem::Lut8,
                    combine,
                    sram_addr: u16_of(acc + first - e0)?,
                    dram_addr: u32_of(from as usize + first * cols)?,
                    x_size: u16_of(n)?,
                    x_stride: u32_of(lanes)?,
                    y_size: 1,
                    lanes: lanes as u8,
                    ..Load::default()
                }))
            })?);
        }
        let stores = rows(e0, count, elements, cols, |first, n, lanes| {
            Ok(Instr::Store(Store {
                out_type: out_type(output.dtype),
                mode: output.mode,
                lanes: lanes as u8,
                zero_point: output.zero as i16,
                clamp_lo: output.clamp.0 as i16,
                clamp_hi: output.clamp.1 as i16,
                acc_addr: u16_of(acc + first - e0)?,
                dram_addr: u32_of(c as usize + first * cols)?,
                x_size: u16_of(n)?,
                x_stride: u32_of(lanes)?,
                y_size: 1,
                ..Store::default()
            }))
        })?;
        tiles.push(compute, stores);
    }
    Ok(tiles.finish())
}

/// The instructions for entries `e0 .. e0 + count` of a flat tensor of `elements`
/// values in entries of `cols` lanes: one for the whole entries, one for a last,
/// partial entry. `make(first entry, entries, lanes)`.
fn rows(
    e0: usize,
    count: usize,
    elements: usize,
    cols: usize,
    make: impl Fn(usize, usize, usize) -> Result<Instr, String>,
) -> Result<Vec<Instr>, String> {
    let whole = (elements / cols).saturating_sub(e0).min(count);
    let mut out = Vec::new();
    if whole > 0 {
        out.push(make(e0, whole, cols)?);
    }
    if whole < count {
        out.push(make(e0 + whole, 1, elements % cols)?);
    }
    Ok(out)
}

/// Which pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    Max,
    /// TFLite's integer average over the in-bounds taps.
    Average,
}

/// Output positions `lo..hi` along one axis whose tap at offset `tap * dilation`
/// lands inside an input of `size`, and for each output position, how many of the
/// `kernel` taps do.
fn axis(size: usize, out: usize, kernel: usize, stride: usize, dilation: usize, pad: usize) -> AxisTaps {
    let inside = |o: usize, k: usize| (o * stride + k * dilation).checked_sub(pad).is_some_and(|i| i < size);
    let ranges = (0..kernel)
        .map(|k| {
            let lo = (0..out).find(|&o| inside(o, k)).unwrap_or(out);
            let hi = (0..out).rev().find(|&o| inside(o, k)).map_or(lo, |o| o + 1);
            (lo, hi)
        })
        .collect();
    let counts = (0..out).map(|o| (0..kernel).filter(|&k| inside(o, k)).count()).collect();
    AxisTaps { ranges, counts }
}

struct AxisTaps {
    /// Per tap: the output positions it reads inside the input.
    ranges: Vec<(usize, usize)>,
    /// Per output position: its in-bounds taps.
    counts: Vec<usize>,
}

/// Runs of equal values: (start, length, value).
fn runs(values: &[usize]) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (i, &v) in values.iter().enumerate() {
        match out.last_mut() {
            Some(last) if last.2 == v => last.1 += 1,
            _ => out.push((i, 1, v)),
        }
    }
    out
}

/// 2-D pooling over `n` NHWC images of `h x w x c` values of `dtype` at `x` into the
/// pooled NHWC images at `y`, `clamp` being the output range.
#[allow(clippy::too_many_arguments)]
pub fn pool(
    cfg: &AccelConfig,
    consts: &mut ImageBuilder,
    kind: Pool,
    window: &Window,
    [n, h, w, c]: [usize; 4],
    dtype: ElemType,
    clamp: (i64, i64),
    [x, y]: [u64; 2],
) -> Result<Code, String> {
    let cols = cfg.array.cols as usize;
    let [oh, ow] = window.output_size(h, w).ok_or("the window is larger than the padded input")?;
    let rows_axis = axis(h, oh, window.kernel[0], window.strides[0], window.dilations[0], window.pads[0]);
    let cols_axis = axis(w, ow, window.kernel[1], window.strides[1], window.dilations[1], window.pads[1]);
    if rows_axis.counts.contains(&0) || cols_axis.counts.contains(&0) {
        return Err("an output position has no tap inside the input".into());
    }
    // Average: one parameter entry per distinct tap count (of in-bounds taps).
    let (lo, hi) = dtype.int_range().ok_or("8-bit values")?;
    let mut counts: Vec<usize> = Vec::new();
    for &rc in &rows_axis.counts {
        for &cc in &cols_axis.counts {
            if !counts.contains(&(rc * cc)) {
                counts.push(rc * cc);
            }
        }
    }
    let mut compute_first = Vec::new();
    if kind == Pool::Average {
        let params = counts
            .iter()
            .map(|&k| {
                let m = average_divisor(k as i64, (lo * k as i64, hi * k as i64))
                    .ok_or_else(|| format!("no fixed-point multiplier divides by {k} exactly"))?;
                Ok(vec![ParamLane::fixed(0, m); cols])
            })
            .collect::<Result<Vec<_>, String>>()?;
        if counts.len() > cfg.memory.pbuf_entries as usize {
            return Err(format!("{} different tap counts, more than the parameter buffer's entries", counts.len()));
        }
        compute_first.push(param_load(cfg, consts, &params.concat(), 0)?);
    }
    // Tiles: bands of output rows of one image, one channel block at a time.
    let blocks = c.div_ceil(cols);
    let band = (acc_bank_size(cfg) / ow).clamp(1, oh);
    let pad_value = match (kind, dtype) {
        (Pool::Max, ElemType::U8) | (Pool::Average, _) => 0u8,
        (Pool::Max, _) => 0x80,
    };
    let elem = if dtype == ElemType::U8 { AccElem::U8 } else { AccElem::I8 };
    let mut tiles = Tiles::new();
    for image in 0..n {
        for r0 in (0..oh).step_by(band) {
            let rows_here = band.min(oh - r0);
            for blk in 0..blocks {
                let lanes = cols.min(c - blk * cols);
                let acc = bank(cfg, tiles.tiles);
                let mut compute = std::mem::take(&mut compute_first);
                let mut first_tap = true;
                for (ki, &(rlo, rhi)) in rows_axis.ranges.iter().enumerate() {
                    // The tap's rows inside this band.
                    let (rlo, rhi) = (rlo.max(r0), rhi.min(r0 + rows_here));
                    for (kj, &(clo, chi)) in cols_axis.ranges.iter().enumerate() {
                        // A tap no position of the band reads inside the image adds
                        // nothing. The first tap that does overwrites every entry (its
                        // LOAD pads the rest of the band).
                        if rlo >= rhi || clo >= chi {
                            continue;
                        }
                        let combine = match (first_tap, kind) {
                            (true, _) => Combine::Overwrite,
                            (false, Pool::Max) => Combine::Max,
                            (false, Pool::Average) => Combine::Add,
                        };
                        first_tap = false;
                        let iy = rlo * window.strides[0] + ki * window.dilations[0] - window.pads[0];
                        let ix = clo * window.strides[1] + kj * window.dilations[1] - window.pads[1];
                        let pixel = (image * h + iy) * w + ix;
                        compute.push(Instr::Load(Load {
                            mem: Mem::Acc,
                            acc_elem: elem,
                            combine,
                            sram_addr: u16_of(acc)?,
                            dram_addr: u32_of(x as usize + pixel * c + blk * cols)?,
                            x_size: u16_of(chi - clo)?,
                            x_stride: u32_of(window.strides[1] * c)?,
                            y_size: u16_of(rhi - rlo)?,
                            y_stride: u32_of(window.strides[0] * w * c)?,
                            lanes: lanes as u8,
                            pad: Pad {
                                top: u8_of(rlo - r0)?,
                                bottom: u8_of(r0 + rows_here - rhi)?,
                                left: u8_of(clo)?,
                                right: u8_of(ow - chi)?,
                            },
                            pad_value,
                            ..Load::default()
                        }));
                    }
                }
                let mut stores = Vec::new();
                let store = |acc_addr: usize, dram: usize, x_size: usize, y_size: usize, mode, pbuf: usize| {
                    Ok::<Instr, String>(Instr::Store(Store {
                        out_type: out_type(dtype),
                        mode,
                        lanes: lanes as u8,
                        clamp_lo: clamp.0 as i16,
                        clamp_hi: clamp.1 as i16,
                        acc_addr: u16_of(acc_addr)?,
                        pbuf_addr: u16_of(pbuf)?,
                        dram_addr: u32_of(dram)?,
                        x_size: u16_of(x_size)?,
                        x_stride: u32_of(c)?,
                        y_size: u16_of(y_size)?,
                        y_stride: u32_of(ow * c)?,
                        ..Store::default()
                    }))
                };
                let out_pixel = |r: usize, q: usize| y as usize + (((image * oh + r) * ow + q) * c + blk * cols);
                match kind {
                    Pool::Max => stores.push(store(acc, out_pixel(r0, 0), ow, rows_here, RequantMode::None, 0)?),
                    Pool::Average => {
                        // One STORE per region of equal tap count: runs of whole rows
                        // when every column has the same count, else row by row (a
                        // STORE reads consecutive accumulator entries).
                        let entry = |k: usize| counts.iter().position(|&v| v == k).expect("every count has an entry");
                        let col_runs = runs(&cols_axis.counts);
                        for (rs, rl, rc) in runs(&rows_axis.counts[r0..r0 + rows_here]) {
                            if let [(_, _, cc)] = col_runs[..] {
                                let at = acc + rs * ow;
                                stores.push(store(
                                    at,
                                    out_pixel(r0 + rs, 0),
                                    ow,
                                    rl,
                                    RequantMode::Fixed,
                                    entry(rc * cc),
                                )?);
                                continue;
                            }
                            for r in rs..rs + rl {
                                for &(cs, cl, cc) in &col_runs {
                                    let at = acc + r * ow + cs;
                                    let (dram, mode) = (out_pixel(r0 + r, cs), RequantMode::Fixed);
                                    stores.push(store(at, dram, cl, 1, mode, entry(rc * cc))?);
                                }
                            }
                        }
                    }
                }
                tiles.push(compute, stores);
            }
        }
    }
    let tiling = GemmTiling { m_tile: band * ow, n_blocks_per_step: 1, k_blocks_per_step: 0 };
    Ok(Code { programs: vec![tiles.finish()], preload: Vec::new(), tiling })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affine(scale: f32, zero: i64) -> Affine {
        Affine { scale, zero, dtype: ElemType::I8, half_scale: false }
    }

    #[test]
    fn equal_scales_add_exactly_through_the_tables() {
        // Inputs and output at scale 0.5: the real sum is exact, the output is
        // (x - 3) + (y + 5) - 1 saturated, e.g. 10 and 20 give 31.
        let (a, b, out) = (affine(0.5, 3), affine(0.5, -5), affine(0.5, -1));
        let (tables, scale) = onnx_add_tables([&a, &b], &out).expect("an exact rendering");
        let (lane, byte) = (ParamLane::float(0, scale), |v: i8| usize::from(v as u8));
        let sum = tables[0][byte(10)] + tables[1][byte(20)];
        assert_eq!(requantize(RequantMode::Float, sum, lane, -1, -128, 127), 31);
        let sum = tables[0][byte(127)] + tables[1][byte(127)];
        assert_eq!(requantize(RequantMode::Float, sum, lane, -1, -128, 127), 127, "saturates");
    }
}
