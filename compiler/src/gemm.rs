//! Lowering of one int8/int4 matrix multiply `C[M,N] = A[M,K] x B[K,N]` to a
//! double-buffered, token-synchronised accelerator program.
//!
//! Tiling: the A row panel of an M tile stays resident (all of K) while the output
//! columns are produced in groups of `n_blocks_per_step` array-width blocks; weights
//! stream in K chunks of `k_blocks_per_step` array-height blocks. Input buffer,
//! weight buffer, accumulator and parameter buffer are each split in two halves so
//! that DMA of the next step overlaps the GEMMs of the current one.
//!
//! Instruction order is software-pipelined (the loads of step s+1 precede the GEMMs
//! of step s in the stream) so bounded queues never stall the prefetch.

use crate::shape::Window;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::*;

/// How an operand matrix is quantized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OperandQuant {
    /// Zero point, in the operand's own range.
    pub zero: i16,
    pub unsigned: bool,
}

impl OperandQuant {
    /// The raw operand bits whose value equals the zero point (the padding value).
    fn pad_bits(&self, operand_bits: u32) -> u8 {
        (self.zero as u8) & if operand_bits == 4 { 0xf } else { 0xff }
    }
}

/// What the store path writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmOutput {
    /// Raw int32 accumulators, little-endian.
    Raw32,
    /// Requantized narrow outputs with per-column parameters at `params_addr`
    /// (the layout of [`encode_param_entries`] with `cols` lanes per entry).
    Requant { params_addr: u32, mode: RequantMode, out_type: OutType, zero_point: i16, clamp: (i16, i16) },
}

impl GemmOutput {
    fn out_type(&self) -> OutType {
        match self {
            GemmOutput::Raw32 => OutType::I32,
            GemmOutput::Requant { out_type, .. } => *out_type,
        }
    }
}

/// A GEMM with row-major operands in DDR (byte offsets from `DRAM_BASE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmSpec {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// `M x K` operands, rows contiguous.
    pub a_addr: u32,
    /// `K x N` operands, rows contiguous.
    pub b_addr: u32,
    /// `M x N` outputs, rows contiguous.
    pub c_addr: u32,
    pub a: OperandQuant,
    pub w: OperandQuant,
    pub output: GemmOutput,
}

/// The tile sizes the lowering chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GemmTiling {
    /// Rows of A (and C) per tile.
    pub m_tile: usize,
    /// Array-width column blocks produced per output tile.
    pub n_blocks_per_step: usize,
    /// Array-height K blocks whose weights one step streams in.
    pub k_blocks_per_step: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    #[error("GEMM {m}x{k}x{n}: {reason}")]
    DoesNotFit { m: usize, k: usize, n: usize, reason: String },
}

/// The activation operand of a convolution as implicit im2col: `A` is not a matrix in
/// DDR but `samples` NHWC images, and row `(sample, oy, ox)`, column `(tap, c)` of A
/// is pixel `(oy * stride + r * dilation - pad, ox * ...)` of channel `c` (zero point
/// outside the image). The LOADs place each image padded in IBUF, one entry per pixel
/// and channel block; each kernel tap is one GEMM per image whose IBUF loop walks the
/// padded image with the strides (`docs/isa.md` §3). `K` must be `taps * c`, with the
/// weights' rows in (tap, channel) order, and `M` the images' output pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageGeometry {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    /// The kernel's window (its layout flag is unused: images are NHWC).
    pub window: Window,
}

impl ImageGeometry {
    /// Output height and width.
    pub fn out(&self) -> Option<[usize; 2]> {
        self.window.output_size(self.h, self.w)
    }

    fn padded(&self) -> [usize; 2] {
        let pads = self.window.pads;
        [self.h + pads[0] + pads[2], self.w + pads[1] + pads[3]]
    }

    fn taps(&self) -> usize {
        self.window.kernel[0] * self.window.kernel[1]
    }

    /// IBUF entries of one padded image.
    fn entries(&self, rows: usize) -> usize {
        let [hp, wp] = self.padded();
        self.c.div_ceil(rows) * hp * wp
    }
}

/// Entries in the accumulator's lower bank: the upper bank starts here.
pub fn acc_bank_size(cfg: &AccelConfig) -> usize {
    (cfg.memory.acc_entries as usize).div_ceil(2)
}

/// Sizes of the problem in array blocks.
#[derive(Clone, Copy)]
struct Blocks {
    rows: usize,
    cols: usize,
    /// K tiles: `rows` reduction positions each, `rows * 4 / N` for N:4 tiles.
    k_blocks: usize,
    n_blocks: usize,
    /// Weight-buffer entries of one tile.
    tile: usize,
    /// IBUF entries of one vector (4 / N for N:4 tiles, else 1).
    vector: usize,
    /// N of N:4 tiles; 0 for dense ones.
    nm: u8,
    /// The activations are images (implicit im2col), K blocks per kernel tap.
    image: Option<ImageGeometry>,
}

impl Blocks {
    /// K tiles per kernel tap (implicit im2col): channel blocks, or `4 / N` of them
    /// per N:4 tile.
    fn k_blocks_per_tap(&self) -> usize {
        self.image.map_or(self.k_blocks, |g| g.c.div_ceil(self.rows * self.vector))
    }
}

/// The largest tiles the buffers allow, with at most `n_cap` column blocks per step.
fn choose_tiling(cfg: &AccelConfig, spec: &GemmSpec, b: &Blocks, n_cap: usize) -> Result<GemmTiling, String> {
    let mem = &cfg.memory;
    let half = |entries: u32| entries as usize / 2;
    if cfg.control.token_depth < 2 {
        return Err("double buffering needs control.token_depth >= 2".into());
    }
    if let Some(g) = b.image {
        if half(mem.ibuf_entries) < g.entries(b.rows) {
            return Err(format!(
                "one padded image needs {} input-buffer entries per half; the buffer has {} entries",
                g.entries(b.rows),
                mem.ibuf_entries
            ));
        }
    } else if half(mem.ibuf_entries) < b.k_blocks * b.vector {
        return Err(format!(
            "one row of A needs {} input-buffer entries per half; the buffer has {} entries",
            b.k_blocks * b.vector,
            mem.ibuf_entries
        ));
    }
    let w_tiles_per_half = half(mem.wbuf_entries) / b.tile;
    if w_tiles_per_half == 0 {
        return Err(format!("the weight buffer ({} entries) cannot hold two {}-entry tiles", mem.wbuf_entries, b.tile));
    }
    let k_blocks_per_step = b.k_blocks.min(w_tiles_per_half);
    let mut n_blocks_per_step =
        if k_blocks_per_step == b.k_blocks { (w_tiles_per_half / b.k_blocks).max(1) } else { 1 };
    n_blocks_per_step = n_blocks_per_step.min(b.n_blocks).min(n_cap.max(1));
    if matches!(spec.output, GemmOutput::Requant { .. }) {
        if half(mem.pbuf_entries) == 0 {
            return Err(format!("requantized output needs two parameter entries; the buffer has {}", mem.pbuf_entries));
        }
        n_blocks_per_step = n_blocks_per_step.min(half(mem.pbuf_entries));
    }
    // Keep at least a few rows per accumulator half.
    n_blocks_per_step = n_blocks_per_step.min((half(mem.acc_entries) / spec.m.clamp(1, 16)).max(1));
    let acc_rows = half(mem.acc_entries) / n_blocks_per_step;
    let m_tile = match b.image {
        // Whole images: as many as IBUF's half and an accumulator bank hold.
        Some(g) => {
            let pixels = g.out().map_or(0, |[oh, ow]| oh * ow);
            let images = (half(mem.ibuf_entries) / g.entries(b.rows)).min(acc_rows / pixels.max(1));
            (images * pixels).min(spec.m).min(usize::from(u16::MAX) / pixels.max(1) * pixels)
        }
        None => spec.m.min(acc_rows).min(half(mem.ibuf_entries) / (b.k_blocks * b.vector)).min(usize::from(u16::MAX)),
    };
    if m_tile == 0 {
        return Err(format!("the accumulator ({} entries) cannot hold two output tiles", mem.acc_entries));
    }
    Ok(GemmTiling { m_tile, n_blocks_per_step, k_blocks_per_step })
}

/// One unit of work: an M tile, a group of N blocks, a chunk of K blocks.
#[derive(Clone, Copy)]
struct Step {
    m0: usize,
    m_rows: usize,
    m_index: usize,
    n_block0: usize,
    n_blocks: usize,
    k_block0: usize,
    k_blocks: usize,
    first_k: bool,
    last_k: bool,
    output: usize,
}

fn u16_of(v: usize) -> u16 {
    u16::try_from(v).expect("tiling keeps SRAM addresses within 16 bits")
}

fn u32_of(v: usize) -> u32 {
    u32::try_from(v).expect("DDR offsets fit in 32 bits (checked by the caller)")
}

/// How the `K x N` weight matrix B is laid out in DDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightLayout {
    /// Rows of B contiguous (`b[k][n]` at `k * N + n`): a block of the array's width
    /// is loaded as K short strided pieces.
    #[default]
    RowMajor,
    /// Column blocks of the array's width one after the other, each `K` rows of
    /// `min(cols, N - n0)` operands contiguous: every block loads as one long burst
    /// sequence. What a compiler emits for constant weights (see [`blocked_order`]).
    Blocked,
    /// N:4 structured-sparse tiles (`tessera_isa::nm`), packed by
    /// [`crate::sparsity::pack_nm_weights`]: column block after column block, each its
    /// K tiles in order. The A panel is then laid out row by row so that the `4 / N`
    /// IBUF entries of a vector are consecutive; each row's last vector reads up to
    /// [`sparse_a_slack`] bytes past the row (into the next row, or past A), which the
    /// tiles' zero weights there ignore.
    Sparse(u8),
}

/// Bytes a sparse lowering may read past the end of A (see [`WeightLayout::Sparse`]).
pub fn sparse_a_slack(cfg: &AccelConfig, k: usize, n_of_4: u8) -> usize {
    let span = cfg.array.rows as usize * tessera_isa::nm::ratio(n_of_4) as usize;
    k.next_multiple_of(span) - k
}

/// The element order of [`WeightLayout::Blocked`]: entry `i` of the blocked array is
/// element `order[i]` of the row-major `K x N` matrix.
pub fn blocked_order(k: usize, n: usize, cols: usize) -> Vec<usize> {
    let mut order = Vec::with_capacity(k * n);
    for n0 in (0..n).step_by(cols) {
        let width = cols.min(n - n0);
        for row in 0..k {
            order.extend((n0..n0 + width).map(|c| row * n + c));
        }
    }
    order
}

/// Lowers `spec` (weights row-major) to a program ending in FINISH.
pub fn lower_gemm(cfg: &AccelConfig, spec: &GemmSpec) -> Result<(Program, GemmTiling), LowerError> {
    lower_gemm_with(cfg, spec, WeightLayout::RowMajor)
}

/// Lowers `spec` with the weights in `layout` to a program ending in FINISH.
pub fn lower_gemm_with(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    layout: WeightLayout,
) -> Result<(Program, GemmTiling), LowerError> {
    lower(cfg, spec, layout, None)
}

/// Lowers a convolution as implicit im2col: `spec.a_addr` holds `spec.m / (oh * ow)`
/// NHWC images of `image`'s size, the weights are blocked with rows in (tap, channel)
/// order. Fails (the caller can fall back to an explicit im2col GEMM) when one padded
/// image does not fit half the input buffer.
pub fn lower_conv(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    image: &ImageGeometry,
    layout: WeightLayout,
) -> Result<(Program, GemmTiling), LowerError> {
    lower(cfg, spec, layout, Some(*image))
}

fn lower(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    layout: WeightLayout,
    image: Option<ImageGeometry>,
) -> Result<(Program, GemmTiling), LowerError> {
    let fail = |reason: String| LowerError::DoesNotFit { m: spec.m, k: spec.k, n: spec.n, reason };
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let bits = cfg.array.operand_bits as usize;
    if spec.m == 0 || spec.k == 0 || spec.n == 0 {
        return Err(fail("every dimension must be at least 1".into()));
    }
    if bits == 4 && (!spec.k.is_multiple_of(2) || !spec.n.is_multiple_of(2)) {
        return Err(fail("4-bit operands are packed in pairs: K and N must be even".into()));
    }
    if bits == 4 && layout == WeightLayout::Blocked && cols % 2 != 0 {
        return Err(fail("4-bit blocked weights are packed in pairs per block: array.cols must be even".into()));
    }
    let out_bits = spec.output.out_type().bits() as usize;
    if out_bits == 4 && (!spec.n.is_multiple_of(2) || cols % 2 != 0) {
        return Err(fail("4-bit outputs are packed in pairs: N and array.cols must be even".into()));
    }
    let nm = match layout {
        WeightLayout::Sparse(n) => n,
        _ => 0,
    };
    if nm != 0 && (bits == 4 || !cfg.supports_nm(nm)) {
        return Err(fail(format!("{nm}:4 tiles need a GEMM with 8-bit operands on an array with the {nm}:4 mode")));
    }
    let vector = tessera_isa::nm::ratio(nm) as usize;
    if let (true, Some(g)) = (nm != 0, image) {
        if !g.c.is_multiple_of(rows * vector) {
            return Err(fail(format!(
                "an implicit-im2col convolution with {nm}:4 tiles needs a multiple of {} channels, not {}",
                rows * vector,
                g.c
            )));
        }
        if g.window.pads.iter().any(|p| p * g.c / rows > usize::from(u8::MAX)) {
            return Err(fail("the padding is more than 255 IBUF entries per image row side".into()));
        }
    }
    let k_blocks = match image {
        Some(g) => {
            let [oh, ow] = g.out().ok_or_else(|| fail("the kernel is larger than the padded image".into()))?;
            if spec.k != g.taps() * g.c || !spec.m.is_multiple_of(oh * ow) || bits == 4 {
                return Err(fail(
                    "an implicit-im2col GEMM needs K = taps x channels, whole images and 8-bit operands".into(),
                ));
            }
            g.taps() * g.c.div_ceil(rows * vector)
        }
        None => spec.k.div_ceil(rows * vector),
    };
    let tile = tessera_isa::nm::tile_entries(rows as u32, nm) as usize;
    let blocks = Blocks { rows, cols, k_blocks, n_blocks: spec.n.div_ceil(cols), tile, vector, nm, image };
    // The buffers bound the tiles; among the column-block groups they allow (the
    // largest, then halves), the cost model picks: smaller groups let an output
    // tile's STOREs overlap the next group's GEMMs.
    let widest = choose_tiling(cfg, spec, &blocks, usize::MAX).map_err(fail)?;
    let model = crate::cost::CostModel::new(cfg);
    let mut best: Option<(u64, Program, GemmTiling)> = None;
    let mut n_cap = widest.n_blocks_per_step;
    loop {
        let t = choose_tiling(cfg, spec, &blocks, n_cap).map_err(fail)?;
        let program = emit(cfg, spec, layout, blocks, t);
        let cycles = model.predict(&program).map_err(fail)?.cycles;
        if best.as_ref().is_none_or(|b| cycles < b.0) {
            best = Some((cycles, program, t));
        }
        if n_cap == 1 {
            break;
        }
        n_cap /= 2;
    }
    let (_, program, t) = best.expect("at least one tiling was tried");
    Ok((program, t))
}

/// The program of `spec` with tiling `t`.
fn emit(cfg: &AccelConfig, spec: &GemmSpec, layout: WeightLayout, blocks: Blocks, t: GemmTiling) -> Program {
    let bits = cfg.array.operand_bits as usize;
    let out_bits = spec.output.out_type().bits() as usize;
    let mut steps = Vec::new();
    let mut output = 0;
    for (m_index, m0) in (0..spec.m).step_by(t.m_tile).enumerate() {
        for n_block0 in (0..blocks.n_blocks).step_by(t.n_blocks_per_step) {
            for k_block0 in (0..blocks.k_blocks).step_by(t.k_blocks_per_step) {
                let k_blocks = t.k_blocks_per_step.min(blocks.k_blocks - k_block0);
                steps.push(Step {
                    m0,
                    m_rows: t.m_tile.min(spec.m - m0),
                    m_index,
                    n_block0,
                    n_blocks: t.n_blocks_per_step.min(blocks.n_blocks - n_block0),
                    k_block0,
                    k_blocks,
                    first_k: k_block0 == 0,
                    last_k: k_block0 + k_blocks == blocks.k_blocks,
                    output,
                });
            }
            output += 1;
        }
    }

    let e = Emitter { cfg, spec, t, b: blocks, bits, out_bytes_per_elem_x2: out_bits / 4, layout };
    let mut instrs = e.loads(&steps, 0);
    for s in 0..steps.len() {
        if s + 1 < steps.len() {
            instrs.extend(e.loads(&steps, s + 1));
        }
        instrs.extend(e.computes(&steps[s], s));
        if steps[s].last_k {
            instrs.extend(e.stores(&steps[s]));
        }
    }
    instrs.push(Instr::Finish);
    Program::new(instrs)
}

struct Emitter<'a> {
    cfg: &'a AccelConfig,
    spec: &'a GemmSpec,
    t: GemmTiling,
    b: Blocks,
    bits: usize,
    /// Output bytes per element, doubled (so int4 is 1).
    out_bytes_per_elem_x2: usize,
    layout: WeightLayout,
}

/// Sets the pops on the first and the pushes on the last instruction of a group.
fn with_deps(mut group: Vec<Instr>, first: impl FnOnce(&mut Deps), last: impl FnOnce(&mut Deps)) -> Vec<Instr> {
    if let Some(d) = group.first_mut().and_then(Instr::deps_mut) {
        first(d);
    }
    if let Some(d) = group.last_mut().and_then(Instr::deps_mut) {
        last(d);
    }
    group
}

impl Emitter<'_> {
    /// Operand bytes of `n` consecutive elements.
    fn op_bytes(&self, n: usize) -> usize {
        n * self.bits / 8
    }

    fn a_slot(&self, s: &Step) -> usize {
        let half = match self.b.image {
            Some(g) => self.t.m_tile / self.pixels() * g.entries(self.b.rows),
            None => self.t.m_tile * self.b.k_blocks * self.b.vector,
        };
        (s.m_index % 2) * half
    }

    /// Output pixels of one image (implicit im2col).
    fn pixels(&self) -> usize {
        self.b.image.and_then(|g| g.out()).map_or(1, |[oh, ow]| oh * ow)
    }

    /// The A panel of an M tile of images: each image padded, one LOAD per channel
    /// block, pixels row-major (`hp x wp` entries per channel block).
    fn image_loads(&self, s: &Step, g: &ImageGeometry) -> Vec<Instr> {
        let (rows, kbpt) = (self.b.rows, self.b.k_blocks_per_tap());
        let [hp, wp] = g.padded();
        let first = s.m0 / self.pixels();
        let mut group = Vec::new();
        if self.b.nm != 0 {
            // N:4 tiles read 4 / N channel blocks of a pixel at once: pixel-major, each
            // pixel's `c / rows` entries consecutive (the channels divide evenly).
            let per_pixel = g.c / rows;
            let pads = g.window.pads;
            for t in 0..s.m_rows / self.pixels() {
                group.push(Instr::Load(Load {
                    mem: Mem::Ibuf,
                    sram_addr: u16_of(self.a_slot(s) + t * g.entries(rows)),
                    dram_addr: u32_of(self.spec.a_addr as usize + (first + t) * g.h * g.w * g.c),
                    x_size: u16_of(g.w * per_pixel),
                    x_stride: u32_of(rows),
                    y_size: u16_of(g.h),
                    y_stride: u32_of(g.w * g.c),
                    lanes: rows as u8,
                    pad: Pad {
                        top: pads[0] as u8,
                        left: (pads[1] * per_pixel) as u8,
                        bottom: pads[2] as u8,
                        right: (pads[3] * per_pixel) as u8,
                    },
                    pad_value: self.spec.a.pad_bits(self.cfg.array.operand_bits),
                    ..Default::default()
                }));
            }
            return group;
        }
        for t in 0..s.m_rows / self.pixels() {
            for kb in 0..kbpt {
                group.push(Instr::Load(Load {
                    mem: Mem::Ibuf,
                    sram_addr: u16_of(self.a_slot(s) + (t * kbpt + kb) * hp * wp),
                    dram_addr: u32_of(
                        self.spec.a_addr as usize + self.op_bytes((first + t) * g.h * g.w * g.c + kb * rows),
                    ),
                    x_size: u16_of(g.w),
                    x_stride: u32_of(self.op_bytes(g.c)),
                    y_size: u16_of(g.h),
                    y_stride: u32_of(self.op_bytes(g.w * g.c)),
                    lanes: rows.min(g.c - kb * rows) as u8,
                    pad: Pad {
                        top: g.window.pads[0] as u8,
                        left: g.window.pads[1] as u8,
                        bottom: g.window.pads[2] as u8,
                        right: g.window.pads[3] as u8,
                    },
                    pad_value: self.spec.a.pad_bits(self.cfg.array.operand_bits),
                    ..Default::default()
                }));
            }
        }
        group
    }

    /// The weights of K block `kbi` (a tap's channel block) of column block `n0`.
    fn image_weight_load(&self, g: &ImageGeometry, kbi: usize, n0: usize, sram_addr: usize) -> Instr {
        let (rows, kbpt) = (self.b.rows, self.b.k_blocks_per_tap());
        let (tap, kb) = (kbi / kbpt, kbi % kbpt);
        let width = (self.spec.n - n0).min(self.b.cols);
        let k_valid = rows.min(g.c - kb * rows);
        // Blocked layout: column block n0 holds K rows of `width` operands.
        let offset = self.op_bytes(self.spec.k * n0 + (tap * g.c + kb * rows) * width);
        Instr::Load(Load {
            mem: Mem::Wbuf,
            sram_addr: u16_of(sram_addr),
            dram_addr: u32_of(self.spec.b_addr as usize + offset),
            x_size: u16_of(k_valid),
            x_stride: u32_of(self.op_bytes(width)),
            y_size: 1,
            lanes: width as u8,
            pad: Pad { right: (rows - k_valid) as u8, ..Pad::default() },
            pad_value: self.spec.w.pad_bits(self.cfg.array.operand_bits),
            ..Default::default()
        })
    }

    /// The GEMMs of K block `kbi` for column block `j` of step `s`: one per image,
    /// walking its padded pixels from the tap's offset with the strides.
    fn image_gemms(&self, s: &Step, g: &ImageGeometry, j: usize, kk: usize, wbuf_addr: usize) -> Vec<Instr> {
        let kbpt = self.b.k_blocks_per_tap();
        let kbi = s.k_block0 + kk;
        let (tap, kb) = (kbi / kbpt, kbi % kbpt);
        let win = &g.window;
        let (r, q) = (tap / win.kernel[1], tap % win.kernel[1]);
        let [hp, wp] = g.padded();
        let [oh, ow] = g.out().expect("checked by the lowering");
        // Channel-block-major images (dense): pixel p of block kb at kb * hp * wp + p.
        // Pixel-major (N:4): pixel p's K tile kb at p * c / rows + kb * 4 / N.
        let (per_pixel, block, block_step) =
            if self.b.nm == 0 { (1, kb * hp * wp, 0) } else { (g.c / self.b.rows, 0, kb * self.b.vector) };
        (0..s.m_rows / self.pixels())
            .map(|t| {
                let image = if self.b.nm == 0 { t * kbpt * hp * wp } else { t * g.entries(self.b.rows) };
                let base = self.a_slot(s) + image + block + block_step;
                let tap = (r * win.dilations[0] * wp + q * win.dilations[1]) * per_pixel;
                Instr::Gemm(Gemm {
                    accumulate: !(s.first_k && kk == 0),
                    reuse_weights: t > 0,
                    a_unsigned: self.spec.a.unsigned,
                    w_unsigned: self.spec.w.unsigned,
                    a_zero: self.spec.a.zero,
                    w_zero: self.spec.w.zero,
                    nm: self.b.nm,
                    wbuf_addr: u16_of(wbuf_addr),
                    ibuf_addr: u16_of(base + tap),
                    acc_addr: u16_of(self.acc_slot(s) + j * s.m_rows + t * oh * ow),
                    loops: Loop2 { outer: u16_of(oh), inner: u16_of(ow) },
                    ibuf_stride: Stride2 {
                        outer: u16_of(win.strides[0] * wp * per_pixel),
                        inner: u16_of(win.strides[1] * per_pixel),
                    },
                    acc_stride: Stride2 { outer: u16_of(ow), inner: 1 },
                    ..Default::default()
                })
            })
            .collect()
    }

    fn w_slot(&self, step: usize) -> usize {
        (step % 2) * self.t.k_blocks_per_step * self.t.n_blocks_per_step * self.b.tile
    }

    /// Output tiles alternate between the accumulator's two banks (the lower and
    /// upper halves of its address space, `docs/isa.md` §2), so the store unit
    /// drains one tile while GEMMs fill the other without sharing a read port.
    fn acc_slot(&self, s: &Step) -> usize {
        (s.output % 2) * acc_bank_size(self.cfg)
    }

    fn p_slot(&self, s: &Step) -> usize {
        (s.output % 2) * self.t.n_blocks_per_step
    }

    /// Load-queue work of step `index`: the A panel (first step of an M tile) and the
    /// weights of the step. Pops the token of step `index - 2`'s GEMMs.
    fn loads(&self, steps: &[Step], index: usize) -> Vec<Instr> {
        let (s, spec, rows, cols) = (&steps[index], self.spec, self.b.rows, self.b.cols);
        let mut group = Vec::new();
        let starts_m_tile = index == 0 || steps[index - 1].m_index != s.m_index;
        if let Some(g) = &self.b.image {
            if starts_m_tile {
                group.extend(self.image_loads(s, g));
            }
            for j in 0..s.n_blocks {
                if self.b.nm != 0 {
                    group.push(self.sparse_weight_load(s, j, index));
                    continue;
                }
                let n0 = (s.n_block0 + j) * cols;
                for kk in 0..s.k_blocks {
                    let sram = self.w_slot(index) + (j * self.t.k_blocks_per_step + kk) * rows;
                    group.push(self.image_weight_load(g, s.k_block0 + kk, n0, sram));
                }
            }
            return with_deps(group, |d| d.pop_next = index >= 2, |d| d.push_next = true);
        }
        if self.b.nm != 0 {
            if starts_m_tile {
                group.push(self.sparse_a_load(s));
            }
            group.extend((0..s.n_blocks).map(|j| self.sparse_weight_load(s, j, index)));
            return with_deps(group, |d| d.pop_next = index >= 2, |d| d.push_next = true);
        }
        if starts_m_tile {
            let full = spec.k / rows;
            let tail = spec.k % rows;
            let base = Load {
                mem: Mem::Ibuf,
                dram_addr: u32_of(spec.a_addr as usize + self.op_bytes(s.m0 * spec.k)),
                x_size: u16_of(s.m_rows),
                x_stride: u32_of(self.op_bytes(spec.k)),
                y_stride: u32_of(self.op_bytes(rows)),
                pad_value: spec.a.pad_bits(self.cfg.array.operand_bits),
                ..Default::default()
            };
            if full > 0 {
                group.push(Instr::Load(Load {
                    sram_addr: u16_of(self.a_slot(s)),
                    y_size: u16_of(full),
                    lanes: rows as u8,
                    ..base
                }));
            }
            if tail > 0 {
                group.push(Instr::Load(Load {
                    sram_addr: u16_of(self.a_slot(s) + full * s.m_rows),
                    dram_addr: base.dram_addr + u32_of(self.op_bytes(full * rows)),
                    y_size: 1,
                    lanes: tail as u8,
                    ..base
                }));
            }
        }
        let k0 = s.k_block0 * rows;
        let k_rows = (spec.k - k0).min(s.k_blocks * rows);
        for j in 0..s.n_blocks {
            let n0 = (s.n_block0 + j) * cols;
            let width = (spec.n - n0).min(cols);
            // Byte offset of row k0 of this column block, and the distance between rows.
            let (offset, row_stride) = match self.layout {
                WeightLayout::RowMajor => (self.op_bytes(k0 * spec.n + n0), self.op_bytes(spec.n)),
                WeightLayout::Blocked | WeightLayout::Sparse(_) => {
                    (self.op_bytes(spec.k * n0 + k0 * width), self.op_bytes(width))
                }
            };
            group.push(Instr::Load(Load {
                mem: Mem::Wbuf,
                sram_addr: u16_of(self.w_slot(index) + j * self.t.k_blocks_per_step * rows),
                dram_addr: u32_of(spec.b_addr as usize + offset),
                x_size: u16_of(k_rows),
                x_stride: u32_of(row_stride),
                y_size: 1,
                lanes: width as u8,
                pad: Pad { right: (s.k_blocks * rows - k_rows) as u8, ..Pad::default() },
                pad_value: spec.w.pad_bits(self.cfg.array.operand_bits),
                ..Default::default()
            }));
        }
        with_deps(group, |d| d.pop_next = index >= 2, |d| d.push_next = true)
    }

    /// The A panel of an M tile for N:4 tiles: row by row, each row `k_blocks * 4 / N`
    /// entries of `rows` operands straight from DDR (the last one runs past K).
    fn sparse_a_load(&self, s: &Step) -> Instr {
        let (spec, rows) = (self.spec, self.b.rows);
        Instr::Load(Load {
            mem: Mem::Ibuf,
            sram_addr: u16_of(self.a_slot(s)),
            dram_addr: u32_of(spec.a_addr as usize + s.m0 * spec.k),
            x_size: u16_of(self.b.k_blocks * self.b.vector),
            x_stride: u32_of(rows),
            y_size: u16_of(s.m_rows),
            y_stride: u32_of(spec.k),
            lanes: rows as u8,
            ..Default::default()
        })
    }

    /// The packed N:4 tiles of column block `j` of step `s`: consecutive in DDR.
    fn sparse_weight_load(&self, s: &Step, j: usize, index: usize) -> Instr {
        let (cols, tile) = (self.b.cols, self.b.tile);
        let first_tile = (s.n_block0 + j) * self.b.k_blocks + s.k_block0;
        Instr::Load(Load {
            mem: Mem::Wbuf,
            sram_addr: u16_of(self.w_slot(index) + j * self.t.k_blocks_per_step * tile),
            dram_addr: u32_of(self.spec.b_addr as usize + first_tile * tile * cols),
            x_size: u16_of(s.k_blocks * tile),
            x_stride: u32_of(cols),
            y_size: 1,
            lanes: cols as u8,
            ..Default::default()
        })
    }

    /// Compute-queue work of step `index`: parameters for a new output tile, then one
    /// GEMM per (N block, K block).
    fn computes(&self, s: &Step, index: usize) -> Vec<Instr> {
        let (spec, cols) = (self.spec, self.b.cols);
        let mut group = Vec::new();
        if let (true, GemmOutput::Requant { params_addr, .. }) = (s.first_k, spec.output) {
            group.push(Instr::Load(Load {
                mem: Mem::Pbuf,
                sram_addr: u16_of(self.p_slot(s)),
                dram_addr: params_addr + u32_of(s.n_block0 * cols * PARAM_LANE_BYTES as usize),
                x_size: u16_of(s.n_blocks),
                x_stride: u32_of(cols * PARAM_LANE_BYTES as usize),
                y_size: 1,
                lanes: cols as u8,
                ..Default::default()
            }));
        }
        for j in 0..s.n_blocks {
            if let Some(g) = &self.b.image {
                for kk in 0..s.k_blocks {
                    let wbuf = self.w_slot(index) + (j * self.t.k_blocks_per_step + kk) * self.b.tile;
                    group.extend(self.image_gemms(s, g, j, kk, wbuf));
                }
                continue;
            }
            for kb in 0..s.k_blocks {
                // Dense panels are K-block-major; sparse ones row-major (vectors of
                // consecutive entries).
                let (ibuf_addr, ibuf_stride) = if self.b.nm == 0 {
                    (self.a_slot(s) + (s.k_block0 + kb) * s.m_rows, Stride2::UNIT)
                } else {
                    let row = self.b.k_blocks * self.b.vector;
                    (self.a_slot(s) + (s.k_block0 + kb) * self.b.vector, Stride2 { outer: 0, inner: u16_of(row) })
                };
                group.push(Instr::Gemm(Gemm {
                    accumulate: !(s.first_k && kb == 0),
                    a_unsigned: spec.a.unsigned,
                    w_unsigned: spec.w.unsigned,
                    a_zero: spec.a.zero,
                    w_zero: spec.w.zero,
                    nm: self.b.nm,
                    wbuf_addr: u16_of(self.w_slot(index) + (j * self.t.k_blocks_per_step + kb) * self.b.tile),
                    ibuf_addr: u16_of(ibuf_addr),
                    acc_addr: u16_of(self.acc_slot(s) + j * s.m_rows),
                    loops: Loop2::flat(u16_of(s.m_rows)),
                    ibuf_stride,
                    acc_stride: Stride2::UNIT,
                    ..Default::default()
                }));
            }
        }
        let reuses_acc = s.first_k && s.output >= 2;
        with_deps(
            group,
            |d| {
                d.pop_prev = true;
                d.pop_next = reuses_acc;
            },
            |d| {
                d.push_prev = true;
                d.push_next = s.last_k;
            },
        )
    }

    /// Store-queue work once the last K chunk of an output tile is done.
    fn stores(&self, s: &Step) -> Vec<Instr> {
        let (spec, cols) = (self.spec, self.b.cols);
        let out_bytes = |elems: usize| elems * self.out_bytes_per_elem_x2 / 2;
        let group = (0..s.n_blocks)
            .map(|j| {
                let n0 = (s.n_block0 + j) * cols;
                let mut st = Store {
                    out_type: OutType::I32,
                    acc_addr: u16_of(self.acc_slot(s) + j * s.m_rows),
                    dram_addr: u32_of(spec.c_addr as usize + out_bytes(s.m0 * spec.n + n0)),
                    x_size: u16_of(s.m_rows),
                    x_stride: u32_of(out_bytes(spec.n)),
                    y_size: 1,
                    lanes: (spec.n - n0).min(cols) as u8,
                    ..Default::default()
                };
                if let GemmOutput::Requant { mode, out_type, zero_point, clamp, .. } = spec.output {
                    st.out_type = out_type;
                    st.mode = mode;
                    st.zero_point = zero_point;
                    st.clamp_lo = clamp.0;
                    st.clamp_hi = clamp.1;
                    st.pbuf_addr = u16_of(self.p_slot(s) + j);
                }
                Instr::Store(st)
            })
            .collect();
        with_deps(group, |d| d.pop_prev = true, |d| d.push_prev = true)
    }
}
