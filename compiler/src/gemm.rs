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
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
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
    /// `M x N` outputs, row `i` at `c_addr + i * c_row_stride` elements.
    pub c_addr: u32,
    /// Elements from one output row to the next: `n`, or more when the outputs are
    /// a column slice of wider rows (a channel block of a depthwise layer).
    pub c_row_stride: usize,
    pub a: OperandQuant,
    pub w: OperandQuant,
    pub output: GemmOutput,
}

/// The tile sizes the lowering chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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
    /// Elements from one pixel to the next in DDR: `c`, or more when the image is a
    /// channel slice of a wider one (dense implicit im2col only).
    pub pixel_stride: usize,
    /// The kernel's window (its layout flag is unused: images are NHWC).
    pub window: Window,
}

impl ImageGeometry {
    /// A whole NHWC image: its pixels `c` elements apart.
    pub fn whole(h: usize, w: usize, c: usize, window: Window) -> ImageGeometry {
        ImageGeometry { h, w, c, pixel_stride: c, window }
    }

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

    /// Padded input rows `out_rows` consecutive output rows read.
    fn span(&self, out_rows: usize) -> usize {
        let w = &self.window;
        (out_rows.max(1) - 1) * w.strides[0] + (w.kernel[0] - 1) * w.dilations[0] + 1
    }

    /// The padded input rows (first, and how many lie above the image) of the band
    /// of `out_rows` output rows from output row `first_row`.
    fn band_rows(&self, first_row: usize, out_rows: usize) -> (usize, usize, usize) {
        let span = self.span(out_rows);
        let start = (first_row * self.window.strides[0]) as isize - self.window.pads[0] as isize;
        let top = ((-start).max(0) as usize).min(span);
        let first = start.max(0) as usize;
        let present = (self.h as isize - first as isize).clamp(0, (span - top) as isize) as usize;
        (first, top, present)
    }

    /// Whether in every band of `out_rows` output rows, each kernel row reads the
    /// image for at least one of them (gathered rows: a LOAD per kernel row).
    fn kernel_rows_read_the_image(&self, out_rows: usize) -> bool {
        let Some([oh, _]) = self.out() else { return false };
        let w = &self.window;
        (0..oh).step_by(out_rows).all(|r0| {
            (0..w.kernel[0]).all(|i| {
                (r0..(r0 + out_rows).min(oh)).any(|oy| {
                    (oy * w.strides[0] + i * w.dilations[0]).checked_sub(w.pads[0]).is_some_and(|iy| iy < self.h)
                })
            })
        })
    }

    /// Whether every band of `out_rows` output rows reads at least one image row.
    fn bands_read_the_image(&self, out_rows: usize) -> bool {
        let oh = self.out().map_or(0, |[oh, _]| oh);
        (0..oh).step_by(out_rows).all(|r| self.band_rows(r, out_rows.min(oh - r)).2 > 0)
    }

    /// Input rows in IBUF of a piece of `out_rows` output rows: the whole padded
    /// image for all of them, else the padded rows the band reads.
    fn piece_rows(&self, out_rows: usize) -> usize {
        match self.out() {
            Some([oh, _]) if out_rows >= oh => self.padded()[0],
            _ => self.span(out_rows),
        }
    }

    /// IBUF entries of a piece of `out_rows` output rows.
    fn entries(&self, rows: usize, out_rows: usize) -> usize {
        let [_, wp] = self.padded();
        self.c.div_ceil(rows) * self.piece_rows(out_rows) * wp
    }
}

/// Output rows `rows` of image `image` of an implicit-im2col tile: a whole image, or
/// a band of one when an image does not fit half the input buffer (or the tiler
/// prefers smaller tiles to overlap loads, GEMMs and stores).
#[derive(Clone, Copy, Debug)]
struct Piece {
    image: usize,
    first_row: usize,
    rows: usize,
}

/// K of a convolution whose kernel rows are gathered: per kernel row, its
/// `kw * c` contiguous operands in blocks of `rows` (the last block padded).
pub fn gather_k(g: &ImageGeometry, rows: usize) -> usize {
    g.window.kernel[0] * (g.window.kernel[1] * g.c).div_ceil(rows) * rows
}

/// Entries in the accumulator's lower bank: the upper bank starts here.
pub fn acc_bank_size(cfg: &AccelConfig) -> usize {
    (cfg.memory.acc_entries as usize).div_ceil(2)
}

/// Sizes of the problem in array blocks.
#[derive(Debug, Clone, Copy)]
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
    /// The activations are images whose kernel rows the LOADs gather into A's rows
    /// ([`lower_gather`]); A is otherwise a plain panel.
    gather: Option<ImageGeometry>,
    /// The weights stay in WBUF from this entry on (loaded by a preload program).
    resident: Option<usize>,
}

impl Blocks {
    /// The images of a convolution, implicit or gathered: M tiles are bands of them.
    fn images(&self) -> Option<ImageGeometry> {
        self.image.or(self.gather)
    }

    /// K tiles per kernel tap (implicit im2col): channel blocks, or `4 / N` of them
    /// per N:4 tile.
    fn k_blocks_per_tap(&self) -> usize {
        self.image.map_or(self.k_blocks, |g| g.c.div_ceil(self.rows * self.vector))
    }
}

/// The largest tiles the buffers allow, with at most `n_cap` column blocks per step
/// and `m_cap` rows of A per tile.
fn choose_tiling(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    b: &Blocks,
    n_cap: usize,
    m_cap: usize,
) -> Result<GemmTiling, String> {
    let mem = &cfg.memory;
    let half = |entries: u32| entries as usize / 2;
    if cfg.control.token_depth < 2 {
        return Err("double buffering needs control.token_depth >= 2".into());
    }
    if let Some(g) = b.image {
        if half(mem.ibuf_entries) < g.entries(b.rows, 1) {
            return Err(format!(
                "the padded input rows of one output row need {} input-buffer entries per half; the buffer has {} entries",
                g.entries(b.rows, 1),
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
    // Resident weights take no room of the double-buffered halves.
    let w_tiles_per_half = if b.resident.is_some() { b.k_blocks * b.n_blocks } else { half(mem.wbuf_entries) / b.tile };
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
        Some(g) => {
            let [oh, ow] = g.out().unwrap_or([1, 1]);
            let pixels = oh * ow;
            let fits = |out_rows: usize| g.entries(b.rows, out_rows) <= half(mem.ibuf_entries);
            let images = (half(mem.ibuf_entries) / g.entries(b.rows, oh)).min(acc_rows / pixels.max(1));
            if images >= 1 && m_cap >= pixels {
                // Whole images: as many as IBUF's half and an accumulator bank hold.
                (images.min(m_cap / pixels) * pixels).min(spec.m).min(usize::from(u16::MAX) / pixels * pixels)
            } else {
                // A band of output rows of one image (every band must read an image row:
                // a LOAD cannot be all padding).
                let most = (acc_rows / ow).min(m_cap / ow).min(oh - 1).max(1);
                let bh = (1..=most).rev().find(|&r| fits(r) && g.bands_read_the_image(r));
                bh.ok_or("no band of output rows both fits the input buffer and reads the image")? * ow
            }
        }
        None => {
            let rows = spec
                .m
                .min(acc_rows)
                .min(half(mem.ibuf_entries) / (b.k_blocks * b.vector))
                .min(m_cap)
                .min(usize::from(u16::MAX));
            match b.gather.and_then(|g| g.out().map(|o| (g, o))) {
                // Gathered rows: whole images, or bands of output rows in which every
                // kernel row reads the image.
                Some((_, [oh, ow])) if rows >= oh * ow => rows / (oh * ow) * oh * ow,
                Some((g, [oh, ow])) => {
                    let most = (rows / ow).min(oh - 1);
                    let bh = (1..=most).rev().find(|&r| g.kernel_rows_read_the_image(r));
                    bh.ok_or("no band of output rows fits the input buffer with every kernel row in the image")? * ow
                }
                None => rows,
            }
        }
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
    blocked(&(0..k * n).collect::<Vec<_>>(), k, n, cols)
}

/// The row-major `K x N` matrix `w` in [`WeightLayout::Blocked`] order: column blocks
/// of `cols`, each all K rows. Copies the values directly (the lowering places
/// ImageNet-scale weights several times; an index vector would be eight bytes per
/// weight).
pub(crate) fn blocked<T: Copy>(w: &[T], k: usize, n: usize, cols: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(k * n);
    for n0 in (0..n).step_by(cols) {
        let width = cols.min(n - n0);
        for row in w.chunks(n).take(k) {
            out.extend_from_slice(&row[n0..n0 + width]);
        }
    }
    out
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
    lower(cfg, spec, layout, None, None).map(|(p, t, _)| (p, t))
}

/// Lowers a convolution over NHWC images as a GEMM whose A rows the LOADs gather:
/// row `(image, oy, ox)` holds, per kernel row `i`, the `kw * c` operands the kernel
/// row covers (contiguous in DDR), in blocks of the array's rows, so a stem with few
/// channels fills the array's rows instead of using `c` of them per tap. Needs no
/// horizontal padding and no horizontal dilation (a kernel row is one run of bytes);
/// vertical padding is the LOADs' pad rows. `spec.k` is [`gather_k`], the weights'
/// rows in that order; `resident` as for [`lower_resident`].
pub fn lower_gather(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    image: &ImageGeometry,
    layout: WeightLayout,
    resident: Option<usize>,
) -> Result<(Program, Program, GemmTiling), LowerError> {
    let fail = |reason: &str| LowerError::DoesNotFit { m: spec.m, k: spec.k, n: spec.n, reason: reason.into() };
    let w = &image.window;
    if w.pads[1] != 0 || w.pads[3] != 0 || (w.kernel[1] > 1 && w.dilations[1] != 1) {
        return Err(fail("gathered kernel rows need no horizontal padding and no horizontal dilation"));
    }
    if spec.k != gather_k(image, cfg.array.rows as usize) || layout != WeightLayout::Blocked {
        return Err(fail("gathered kernel rows need K = kh x padded kernel-row blocks and dense blocked weights"));
    }
    let [oh, ow] = image.out().ok_or_else(|| fail("the kernel is larger than the padded image"))?;
    if !spec.m.is_multiple_of(oh * ow) || cfg.array.operand_bits != 8 {
        return Err(fail("gathered kernel rows need whole images and 8-bit operands"));
    }
    // A kernel row that only ever reads the padding (a 7x1 kernel on a 3-row image)
    // would have no image rows to LOAD.
    if !image.kernel_rows_read_the_image(oh) {
        return Err(fail("gathered kernel rows need every kernel row to read the image"));
    }
    lower_with(cfg, spec, layout, None, Some(*image), resident)
}

/// Lowers `spec` (a GEMM, or a convolution over `image`) with its weights resident
/// in WBUF from entry `wbuf_base`: the program has no weight loads; the second
/// program (without FINISH) loads them there once, before any run of the first.
pub fn lower_resident(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    layout: WeightLayout,
    image: Option<ImageGeometry>,
    wbuf_base: usize,
) -> Result<(Program, Program, GemmTiling), LowerError> {
    lower_with(cfg, spec, layout, image, None, Some(wbuf_base))
}

/// WBUF entries the weights of `spec` (a GEMM, or a convolution over `image`)
/// occupy when resident.
pub fn resident_entries(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    layout: WeightLayout,
    image: Option<&ImageGeometry>,
) -> usize {
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let nm = if let WeightLayout::Sparse(n) = layout { n } else { 0 };
    let vector = tessera_isa::nm::ratio(nm) as usize;
    let k_blocks = match image {
        Some(g) => g.taps() * g.c.div_ceil(rows * vector),
        None => spec.k.div_ceil(rows * vector),
    };
    k_blocks * spec.n.div_ceil(cols) * tessera_isa::nm::tile_entries(rows as u32, nm) as usize
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
    lower(cfg, spec, layout, Some(*image), None).map(|(p, t, _)| (p, t))
}

fn lower(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    layout: WeightLayout,
    image: Option<ImageGeometry>,
    resident: Option<usize>,
) -> Result<(Program, GemmTiling, Program), LowerError> {
    lower_with(cfg, spec, layout, image, None, resident).map(|(p, pre, t)| (p, t, pre))
}

fn lower_with(
    cfg: &AccelConfig,
    spec: &GemmSpec,
    layout: WeightLayout,
    image: Option<ImageGeometry>,
    gather: Option<ImageGeometry>,
    resident: Option<usize>,
) -> Result<(Program, Program, GemmTiling), LowerError> {
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
    if spec.c_row_stride < spec.n {
        return Err(fail(format!("output rows {} elements apart cannot hold {} outputs", spec.c_row_stride, spec.n)));
    }
    if let Some(g) = image.or(gather) {
        if g.pixel_stride < g.c || (g.pixel_stride != g.c && (nm != 0 || gather.is_some())) {
            return Err(fail(format!(
                "pixels {} elements apart: a channel slice needs at least {} and dense implicit im2col",
                g.pixel_stride, g.c
            )));
        }
    }
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
    let blocks =
        Blocks { rows, cols, k_blocks, n_blocks: spec.n.div_ceil(cols), tile, vector, nm, image, gather, resident };
    // The buffers bound the tiles; among the tilings they allow (the largest column-
    // block groups and M tiles, then halves of each), the cost model picks: smaller
    // tiles let one tile's loads and STOREs overlap another's GEMMs. A candidate
    // the buffers refuse is skipped, not fatal.
    let key = tiling_key(cfg, spec, layout, &blocks);
    if let Some(t) = chosen_tiling(&key) {
        return Ok((emit(cfg, spec, layout, blocks, t), preload(cfg, spec, layout, blocks, t), t));
    }
    let mut first_error = None;
    let mut tilings: Vec<GemmTiling> = Vec::new();
    for n_cap in halvings(blocks.n_blocks, 1) {
        for m_cap in halvings(spec.m, min_m_tile(&blocks)) {
            match choose_tiling(cfg, spec, &blocks, n_cap, m_cap) {
                Ok(t) if !tilings.contains(&t) => tilings.push(t),
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    let model = crate::cost::CostModel::new(cfg);
    let weigh = |t: GemmTiling| {
        let program = emit(cfg, spec, layout, blocks, t);
        model.predict(&program).map(|p| (p.cycles, program))
    };
    // Large problems weigh their tilings on several threads.
    let large = spec.m * blocks.k_blocks * blocks.n_blocks >= 1 << 14;
    let threads = if large { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { 1 };
    match fastest(&tilings, threads, weigh).map_err(fail)? {
        Some((program, t)) => {
            remember_tiling(key, t);
            Ok((program, preload(cfg, spec, layout, blocks, t), t))
        }
        None => Err(fail(first_error.unwrap_or_else(|| "no tiling fits the buffers".into()))),
    }
}

/// The tiling of `tilings` whose program `weigh` predicts fastest (the first of
/// equals), and that program; the first error in `tilings`' order if any fails.
/// With `threads > 1`, thread `j` weighs tilings `j, j + threads, ...`.
fn fastest(
    tilings: &[GemmTiling],
    threads: usize,
    weigh: impl Fn(GemmTiling) -> Result<(u64, Program), String> + Sync,
) -> Result<Option<(Program, GemmTiling)>, String> {
    type Outcome = Result<Option<(usize, u64, Program)>, (usize, String)>;
    let share = |first: usize, step: usize| -> Outcome {
        let mut best: Option<(usize, u64, Program)> = None;
        for (i, &t) in tilings.iter().enumerate().skip(first).step_by(step) {
            let (cycles, program) = weigh(t).map_err(|e| (i, e))?;
            if best.as_ref().is_none_or(|b| cycles < b.1) {
                best = Some((i, cycles, program));
            }
        }
        Ok(best)
    };
    let threads = threads.clamp(1, tilings.len().max(1));
    let outcomes: Vec<Outcome> = if threads == 1 {
        vec![share(0, 1)]
    } else {
        std::thread::scope(|scope| {
            let shares: Vec<_> = (0..threads).map(|j| scope.spawn(move || share(j, threads))).collect();
            shares
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err((0, "the cost model panicked".into()))))
                .collect()
        })
    };
    let mut best: Option<(usize, u64, Program)> = None;
    let mut error: Option<(usize, String)> = None;
    for outcome in outcomes {
        match outcome {
            Err(e) => {
                if error.as_ref().is_none_or(|f| e.0 < f.0) {
                    error = Some(e);
                }
            }
            Ok(Some(b)) => {
                if best.as_ref().is_none_or(|c| (b.1, b.0) < (c.1, c.0)) {
                    best = Some(b);
                }
            }
            Ok(None) => {}
        }
    }
    if let Some((_, e)) = error {
        return Err(e);
    }
    Ok(best.map(|(i, _, program)| (program, tilings[i])))
}

/// The tilings the search of [`lower_with`] chose, by [`tiling_key`]. The search
/// emits and predicts up to 64 programs, and a compile lowers each layer several
/// times (its plan, the im2col forms, every residency split, the final program):
/// remembering the choice makes the later lowerings one emission each (ResNet-50
/// compiles about three times faster for it). Bounded, as a
/// long-lived process (a notebook) compiles model after model.
fn chosen_tilings() -> &'static Mutex<HashMap<String, GemmTiling>> {
    static TILINGS: OnceLock<Mutex<HashMap<String, GemmTiling>>> = OnceLock::new();
    TILINGS.get_or_init(Default::default)
}

const REMEMBERED_TILINGS: usize = 1 << 14;

fn chosen_tiling(key: &str) -> Option<GemmTiling> {
    chosen_tilings().lock().ok()?.get(key).copied()
}

fn remember_tiling(key: String, t: GemmTiling) {
    if let Ok(mut tilings) = chosen_tilings().lock() {
        if tilings.len() >= REMEMBERED_TILINGS {
            tilings.clear();
        }
        tilings.insert(key, t);
    }
}

/// Everything the tiling search's outcome depends on: the config, the problem's
/// shape and blocks, the weight layout, and the output's type and requantization
/// mode. Addresses, zero points and clamps only fill instruction fields, which the
/// cost model does not read, so they are left out (layers that differ only in
/// those share a key). So is WBUF beyond what the layer can use: the tilings see
/// it only as tiles per half (`choose_tiling`), and a half holding every weight
/// tile allows the same tilings as a larger one — the residency search's splits
/// then share most layers' searches. Resident weights use no streaming WBUF at
/// all, and their base is an address.
fn tiling_key(cfg: &AccelConfig, spec: &GemmSpec, layout: WeightLayout, blocks: &Blocks) -> String {
    let every_tile = blocks.k_blocks * blocks.n_blocks;
    let mut cfg = cfg.clone();
    let wbuf = cfg.memory.wbuf_entries as usize;
    cfg.memory.wbuf_entries = match blocks.resident {
        Some(_) => 0,
        None if wbuf / 2 / blocks.tile >= every_tile => u32::try_from(2 * blocks.tile * every_tile).unwrap_or(u32::MAX),
        None => cfg.memory.wbuf_entries,
    };
    let blocks = Blocks { resident: blocks.resident.map(|_| 0), ..*blocks };
    let output = match spec.output {
        GemmOutput::Raw32 => GemmOutput::Raw32,
        GemmOutput::Requant { mode, out_type, .. } => {
            GemmOutput::Requant { params_addr: 0, mode, out_type, zero_point: 0, clamp: (0, 0) }
        }
    };
    let signs = OperandQuant { zero: 0, ..spec.a };
    let w_signs = OperandQuant { zero: 0, ..spec.w };
    let shape = GemmSpec { a_addr: 0, b_addr: 0, c_addr: 0, a: signs, w: w_signs, output, ..*spec };
    format!("{cfg:?} {shape:?} {layout:?} {blocks:?}")
}

/// The loads that put every weight tile where a resident layer's GEMMs read them
/// (no FINISH); empty for streamed weights.
fn preload(cfg: &AccelConfig, spec: &GemmSpec, layout: WeightLayout, blocks: Blocks, t: GemmTiling) -> Program {
    if blocks.resident.is_none() {
        return Program::default();
    }
    let bits = cfg.array.operand_bits as usize;
    let out_bits = spec.output.out_type().bits() as usize;
    let e = Emitter { cfg, spec, t, b: blocks, bits, out_bytes_per_elem_x2: out_bits / 4, layout };
    let all = Step {
        m0: 0,
        m_rows: 0,
        m_index: 0,
        n_block0: 0,
        n_blocks: blocks.n_blocks,
        k_block0: 0,
        k_blocks: blocks.k_blocks,
        first_k: true,
        last_k: true,
        output: 0,
    };
    Program::new(e.weight_loads(&all, 0))
}

/// `top`, then its halves down to `bottom` (at most eight values).
fn halvings(top: usize, bottom: usize) -> impl Iterator<Item = usize> {
    std::iter::successors(Some(top.max(1)), move |&v| (v / 2 >= bottom.max(1)).then_some(v / 2)).take(8)
}

/// The smallest M tile worth trying: one output row of an image, or 16 rows of A.
fn min_m_tile(b: &Blocks) -> usize {
    b.images().and_then(|g| g.out()).map_or(16, |[_, ow]| ow)
}

/// The M tiles (first row of A, rows) of a tiling: runs of `m_tile` rows, or for
/// implicit im2col with tiles smaller than an image, bands of each image's output
/// rows (a band never spans two images).
fn m_tiles(m: usize, m_tile: usize, image: Option<ImageGeometry>) -> Vec<(usize, usize)> {
    match image.and_then(|g| g.out()) {
        Some([oh, ow]) if m_tile < oh * ow => (0..m / (oh * ow))
            .flat_map(|i| {
                (0..oh).step_by(m_tile / ow).map(move |r| (i * oh * ow + r * ow, (m_tile / ow).min(oh - r) * ow))
            })
            .collect(),
        _ => (0..m).step_by(m_tile).map(|m0| (m0, m_tile.min(m - m0))).collect(),
    }
}

/// The program of `spec` with tiling `t`.
fn emit(cfg: &AccelConfig, spec: &GemmSpec, layout: WeightLayout, blocks: Blocks, t: GemmTiling) -> Program {
    let bits = cfg.array.operand_bits as usize;
    let out_bits = spec.output.out_type().bits() as usize;
    let mut steps = Vec::new();
    let mut output = 0;
    for (m_index, (m0, m_rows)) in m_tiles(spec.m, t.m_tile, blocks.images()).into_iter().enumerate() {
        for n_block0 in (0..blocks.n_blocks).step_by(t.n_blocks_per_step) {
            for k_block0 in (0..blocks.k_blocks).step_by(t.k_blocks_per_step) {
                let k_blocks = t.k_blocks_per_step.min(blocks.k_blocks - k_block0);
                steps.push(Step {
                    m0,
                    m_rows,
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
            Some(g) => (self.t.m_tile / self.pixels()).max(1) * self.piece_entries(&g),
            None => self.t.m_tile * self.b.k_blocks * self.b.vector,
        };
        (s.m_index % 2) * half
    }

    /// Output rows of a tile's pieces: whole images, or the band height.
    fn piece_out_rows(&self) -> usize {
        let [oh, ow] = self.b.images().and_then(|g| g.out()).unwrap_or([1, 1]);
        if self.t.m_tile >= oh * ow {
            oh
        } else {
            self.t.m_tile / ow
        }
    }

    /// The pieces of step `s`'s A panel, in IBUF order.
    fn pieces(&self, s: &Step) -> Vec<Piece> {
        let [oh, ow] = self.b.images().and_then(|g| g.out()).unwrap_or([1, 1]);
        let pixels = oh * ow;
        if s.m_rows >= pixels {
            (0..s.m_rows / pixels).map(|t| Piece { image: s.m0 / pixels + t, first_row: 0, rows: oh }).collect()
        } else {
            vec![Piece { image: s.m0 / pixels, first_row: s.m0 % pixels / ow, rows: s.m_rows / ow }]
        }
    }

    /// IBUF entries from one piece of a step to the next.
    fn piece_entries(&self, g: &ImageGeometry) -> usize {
        g.entries(self.b.rows, self.piece_out_rows())
    }

    /// Output pixels of one image (implicit im2col).
    fn pixels(&self) -> usize {
        self.b.images().and_then(|g| g.out()).map_or(1, |[oh, ow]| oh * ow)
    }

    /// The A panel of an M tile of images (or of a band of one): each piece's input
    /// rows padded, one LOAD per channel block, pixels row-major (`span x wp` entries
    /// per channel block); pixel-major for N:4 tiles.
    fn image_loads(&self, s: &Step, g: &ImageGeometry) -> Vec<Instr> {
        let (rows, kbpt) = (self.b.rows, self.b.k_blocks_per_tap());
        let [_, wp] = g.padded();
        let win = &g.window;
        let mut group = Vec::new();
        for (t, piece) in self.pieces(s).into_iter().enumerate() {
            // Padded input rows the piece reads, and which of them the image has.
            let span = g.piece_rows(piece.rows);
            let (first, top, present) =
                if span == g.padded()[0] { (0, win.pads[0], g.h) } else { g.band_rows(piece.first_row, piece.rows) };
            let bottom = span - top - present;
            let base = self.a_slot(s) + t * self.piece_entries(g);
            let image = (piece.image * g.h + first) * g.w * g.pixel_stride;
            let pad_value = self.spec.a.pad_bits(self.cfg.array.operand_bits);
            if self.b.nm != 0 {
                // N:4 tiles read 4 / N channel blocks of a pixel at once: pixel-major, each
                // pixel's `c / rows` entries consecutive (the channels divide evenly).
                let per_pixel = g.c / rows;
                group.push(Instr::Load(Load {
                    mem: Mem::Ibuf,
                    sram_addr: u16_of(base),
                    dram_addr: u32_of(self.spec.a_addr as usize + image),
                    x_size: u16_of(g.w * per_pixel),
                    x_stride: u32_of(rows),
                    y_size: u16_of(present),
                    y_stride: u32_of(g.w * g.c),
                    lanes: rows as u8,
                    pad: Pad {
                        top: top as u8,
                        left: (win.pads[1] * per_pixel) as u8,
                        bottom: bottom as u8,
                        right: (win.pads[3] * per_pixel) as u8,
                    },
                    pad_value,
                    ..Default::default()
                }));
                continue;
            }
            for kb in 0..kbpt {
                group.push(Instr::Load(Load {
                    mem: Mem::Ibuf,
                    sram_addr: u16_of(base + kb * span * wp),
                    dram_addr: u32_of(self.spec.a_addr as usize + self.op_bytes(image + kb * rows)),
                    x_size: u16_of(g.w),
                    x_stride: u32_of(self.op_bytes(g.pixel_stride)),
                    y_size: u16_of(present),
                    y_stride: u32_of(self.op_bytes(g.w * g.pixel_stride)),
                    lanes: rows.min(g.c - kb * rows) as u8,
                    pad: Pad {
                        top: top as u8,
                        left: win.pads[1] as u8,
                        bottom: bottom as u8,
                        right: win.pads[3] as u8,
                    },
                    pad_value,
                    ..Default::default()
                }));
            }
        }
        group
    }

    /// The weights of `count` K blocks from `kbi` (a tap's channel block) of column
    /// block `n0`; more than one only when each is whole (no channel tail to pad).
    fn image_weight_load(&self, g: &ImageGeometry, kbi: usize, count: usize, n0: usize, sram_addr: usize) -> Instr {
        let (rows, kbpt) = (self.b.rows, self.b.k_blocks_per_tap());
        let (tap, kb) = (kbi / kbpt, kbi % kbpt);
        let width = (self.spec.n - n0).min(self.b.cols);
        let k_valid = if count > 1 { count * rows } else { rows.min(g.c - kb * rows) };
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
            pad: Pad { right: (count * rows - k_valid) as u8, ..Pad::default() },
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
        let [_, wp] = g.padded();
        let [_, ow] = g.out().expect("checked by the lowering");
        let mut acc = self.acc_slot(s) + j * s.m_rows;
        self.pieces(s)
            .into_iter()
            .enumerate()
            .map(|(t, piece)| {
                // Channel-block-major (dense): pixel p of block kb at kb * span * wp + p.
                // Pixel-major (N:4): pixel p's K tile kb at p * c / rows + kb * 4 / N.
                let span = g.piece_rows(piece.rows);
                let (per_pixel, block) =
                    if self.b.nm == 0 { (1, kb * span * wp) } else { (g.c / self.b.rows, kb * self.b.vector) };
                let base = self.a_slot(s) + t * self.piece_entries(g) + block;
                let tap = (r * win.dilations[0] * wp + q * win.dilations[1]) * per_pixel;
                let gemm = Instr::Gemm(Gemm {
                    accumulate: !(s.first_k && kk == 0),
                    reuse_weights: t > 0,
                    a_unsigned: self.spec.a.unsigned,
                    w_unsigned: self.spec.w.unsigned,
                    a_zero: self.spec.a.zero,
                    w_zero: self.spec.w.zero,
                    nm: self.b.nm,
                    wbuf_addr: u16_of(wbuf_addr),
                    ibuf_addr: u16_of(base + tap),
                    acc_addr: u16_of(acc),
                    loops: Loop2 { outer: u16_of(piece.rows), inner: u16_of(ow) },
                    ibuf_stride: Stride2 {
                        outer: u16_of(win.strides[0] * wp * per_pixel),
                        inner: u16_of(win.strides[1] * per_pixel),
                    },
                    acc_stride: Stride2 { outer: u16_of(ow), inner: 1 },
                    ..Default::default()
                });
                acc += piece.rows * ow;
                gemm
            })
            .collect()
    }

    /// Where step `s` (the program's step `index`) finds its weight tiles: one of
    /// two alternating slots, or the layer's resident tiles (all K blocks of each
    /// column block in turn).
    fn w_slot(&self, s: &Step, index: usize) -> usize {
        match self.b.resident {
            Some(base) => base + s.n_block0 * self.b.k_blocks * self.b.tile,
            None => (index % 2) * self.t.k_blocks_per_step * self.t.n_blocks_per_step * self.b.tile,
        }
    }

    /// Output tiles alternate between the accumulator's two banks (the lower and
    /// upper halves of its address space, `docs/isa.md` §2), so the store unit
    /// drains one tile while GEMMs fill the other without sharing a read port.
    fn acc_slot(&self, s: &Step) -> usize {
        (s.output % 2) * acc_bank_size(self.cfg)
    }

    /// Parameter entries alternate between two halves of PBUF per output tile, unless
    /// every column block's parameters fit at once: then one LOAD at the start
    /// brings them all and they stay.
    fn p_slot(&self, s: &Step) -> usize {
        if self.params_resident() {
            s.n_block0
        } else {
            (s.output % 2) * self.t.n_blocks_per_step
        }
    }

    fn params_resident(&self) -> bool {
        self.b.n_blocks <= self.cfg.memory.pbuf_entries as usize
    }

    /// Load-queue work of step `index`: the A panel (first step of an M tile) and the
    /// weights of the step (none when they are resident). Pops the token of step
    /// `index - 2`'s GEMMs; an empty LOAD carries the tokens of a step with no loads.
    fn loads(&self, steps: &[Step], index: usize) -> Vec<Instr> {
        let s = &steps[index];
        let starts_m_tile = index == 0 || steps[index - 1].m_index != s.m_index;
        let mut group = if starts_m_tile { self.a_loads(s) } else { Vec::new() };
        if self.b.resident.is_none() {
            group.extend(self.weight_loads(s, index));
        }
        if group.is_empty() {
            group.push(Instr::Load(Load { mem: Mem::Ibuf, ..Load::default() }));
        }
        with_deps(group, |d| d.pop_next = index >= 2, |d| d.push_next = true)
    }

    /// The A panel of step `s`'s M tile.
    fn a_loads(&self, s: &Step) -> Vec<Instr> {
        if let Some(g) = &self.b.image {
            return self.image_loads(s, g);
        }
        if let Some(g) = &self.b.gather {
            return self.gather_loads(s, g);
        }
        if self.b.nm != 0 {
            return vec![self.sparse_a_load(s)];
        }
        let (spec, rows) = (self.spec, self.b.rows);
        let (full, tail) = (spec.k / rows, spec.k % rows);
        let base = Load {
            mem: Mem::Ibuf,
            dram_addr: u32_of(spec.a_addr as usize + self.op_bytes(s.m0 * spec.k)),
            x_size: u16_of(s.m_rows),
            x_stride: u32_of(self.op_bytes(spec.k)),
            y_stride: u32_of(self.op_bytes(rows)),
            pad_value: spec.a.pad_bits(self.cfg.array.operand_bits),
            ..Default::default()
        };
        let mut group = Vec::new();
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
        group
    }

    /// The A panel of step `s` gathered from its pieces' images: per kernel row and
    /// block of it, one LOAD of an entry per output pixel (the kernel row's operands
    /// at that pixel), rows of the kernel outside the image loading pad rows.
    fn gather_loads(&self, s: &Step, g: &ImageGeometry) -> Vec<Instr> {
        let (rows, w) = (self.b.rows, &g.window);
        let [_, ow] = g.out().expect("checked by the lowering");
        let run = w.kernel[1] * g.c;
        let chunks = run.div_ceil(rows);
        let mut group = Vec::new();
        let mut m_off = 0;
        for piece in self.pieces(s) {
            for i in 0..w.kernel[0] {
                let iy =
                    |oy: usize| (oy * w.strides[0] + i * w.dilations[0]).checked_sub(w.pads[0]).filter(|&r| r < g.h);
                let out_rows = piece.first_row..piece.first_row + piece.rows;
                let lo = out_rows.clone().find(|&oy| iy(oy).is_some()).expect("checked by the tiling");
                let hi = out_rows.clone().rev().find(|&oy| iy(oy).is_some()).expect("checked by the tiling") + 1;
                let first = iy(lo).expect("inside");
                for q in 0..chunks {
                    let kb = i * chunks + q;
                    let pixel = (piece.image * g.h + first) * g.w;
                    group.push(Instr::Load(Load {
                        mem: Mem::Ibuf,
                        sram_addr: u16_of(self.a_slot(s) + kb * s.m_rows + m_off),
                        dram_addr: u32_of(self.spec.a_addr as usize + pixel * g.c + q * rows),
                        x_size: u16_of(ow),
                        x_stride: u32_of(w.strides[1] * g.c),
                        y_size: u16_of(hi - lo),
                        y_stride: u32_of(w.strides[0] * g.w * g.c),
                        lanes: rows.min(run - q * rows) as u8,
                        pad: Pad {
                            top: (lo - piece.first_row) as u8,
                            bottom: (piece.first_row + piece.rows - hi) as u8,
                            ..Pad::default()
                        },
                        pad_value: self.spec.a.pad_bits(self.cfg.array.operand_bits),
                        ..Default::default()
                    }));
                }
            }
            m_off += piece.rows * ow;
        }
        group
    }

    /// The weights of step `s` (step `index` of the program) into its WBUF slot.
    fn weight_loads(&self, s: &Step, index: usize) -> Vec<Instr> {
        let (spec, rows, cols) = (self.spec, self.b.rows, self.b.cols);
        let mut group = Vec::new();
        for j in 0..s.n_blocks {
            let n0 = (s.n_block0 + j) * cols;
            let sram = self.w_slot(s, index) + j * self.t.k_blocks_per_step * self.b.tile;
            if self.b.nm != 0 {
                group.push(self.sparse_weight_load(s, j, index));
                continue;
            }
            if let Some(g) = &self.b.image {
                if g.c.is_multiple_of(rows) {
                    // Whole channel blocks: the step's K blocks are consecutive rows of the
                    // column block, one LOAD.
                    group.push(self.image_weight_load(g, s.k_block0, s.k_blocks, n0, sram));
                } else {
                    group.extend(
                        (0..s.k_blocks).map(|kk| self.image_weight_load(g, s.k_block0 + kk, 1, n0, sram + kk * rows)),
                    );
                }
                continue;
            }
            let k0 = s.k_block0 * rows;
            let k_rows = (spec.k - k0).min(s.k_blocks * rows);
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
                sram_addr: u16_of(sram),
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
        group
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
            sram_addr: u16_of(self.w_slot(s, index) + j * self.t.k_blocks_per_step * tile),
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
        let resident = self.params_resident();
        let load_params = s.first_k && (index == 0 || !resident);
        if let (true, GemmOutput::Requant { params_addr, .. }) = (load_params, spec.output) {
            let (first, count) = if resident { (0, self.b.n_blocks) } else { (s.n_block0, s.n_blocks) };
            group.push(Instr::Load(Load {
                mem: Mem::Pbuf,
                sram_addr: u16_of(self.p_slot(s)),
                dram_addr: params_addr + u32_of(first * cols * PARAM_LANE_BYTES as usize),
                x_size: u16_of(count),
                x_stride: u32_of(cols * PARAM_LANE_BYTES as usize),
                y_size: 1,
                lanes: cols as u8,
                ..Default::default()
            }));
        }
        for j in 0..s.n_blocks {
            if let Some(g) = &self.b.image {
                for kk in 0..s.k_blocks {
                    let wbuf = self.w_slot(s, index) + (j * self.t.k_blocks_per_step + kk) * self.b.tile;
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
                    wbuf_addr: u16_of(self.w_slot(s, index) + (j * self.t.k_blocks_per_step + kb) * self.b.tile),
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
                    dram_addr: u32_of(spec.c_addr as usize + out_bytes(s.m0 * spec.c_row_stride + n0)),
                    x_size: u16_of(s.m_rows),
                    x_stride: u32_of(out_bytes(spec.c_row_stride)),
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

#[cfg(test)]
mod tests {
    use super::blocked;

    #[test]
    fn blocked_takes_column_blocks_of_every_row() {
        // [[0, 1, 2], [3, 4, 5]] in blocks of 2 columns: (0 1, 3 4), then (2, 5); by hand.
        assert_eq!(blocked(&[0, 1, 2, 3, 4, 5], 2, 3, 2), vec![0, 1, 3, 4, 2, 5]);
        assert_eq!(blocked(&[0u8, 1, 2, 3, 4, 5], 2, 3, 4), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(blocked(&[7, 8, 9], 3, 1, 16), vec![7, 8, 9]);
    }
}
