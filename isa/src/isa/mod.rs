//! The Tessera instruction set (see `docs/isa.md` for the normative description).
//!
//! Every instruction is 256 bits. The dispatcher fetches them in order and routes each
//! to one of three in-order queues (load, compute, store); the queues run in parallel
//! and synchronise only through dependency tokens (VTA style) or a global `FENCE`.

mod asm;
mod check;
mod encoding;
pub mod tokens;

pub use check::{check_instr, dram_span, load_entry_bytes, mem_shape, operand_range, store_entry_bytes, InstrProblem};
pub use encoding::{format_of, layout_markdown, DecodeError, Field, Format, FORMATS};

/// ISA version, exposed in the `VERSION` register and part of the config fingerprint.
pub const ISA_MAJOR: u32 = 1;
pub const ISA_MINOR: u32 = 1;
pub const ISA_VERSION: &str = "1.1";

/// Entries of the lookup table `TABLE` loads and `LOAD` with `AccElem::Lut8` reads:
/// one per value of a raw byte.
pub const TABLE_ENTRIES: usize = 256;

/// Bytes `TABLE` reads from DDR: 256 little-endian int32 entries.
pub const TABLE_BYTES: u32 = 4 * TABLE_ENTRIES as u32;

/// Bytes per encoded instruction.
pub const INSTR_BYTES: usize = 32;

/// Bytes one lane of a requantization-parameter entry occupies in DDR
/// (int32 bias, int32 multiplier or f32 scale, int8 shift).
pub const PARAM_LANE_BYTES: u32 = 9;

/// Dependency-token flags (VTA semantics). Pops happen before an instruction runs,
/// pushes after it has completed. `prev`/`next` are the neighbouring queues in the
/// chain load → compute → store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Deps {
    pub pop_prev: bool,
    pub pop_next: bool,
    pub push_prev: bool,
    pub push_next: bool,
}

impl Deps {
    pub const NONE: Deps = Deps { pop_prev: false, pop_next: false, push_prev: false, push_next: false };

    pub fn is_empty(&self) -> bool {
        *self == Deps::NONE
    }
}

/// The three execution queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    Load,
    Compute,
    Store,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::Load, Queue::Compute, Queue::Store];

    pub fn name(self) -> &'static str {
        match self {
            Queue::Load => "load",
            Queue::Compute => "compute",
            Queue::Store => "store",
        }
    }

    pub fn prev(self) -> Option<Queue> {
        match self {
            Queue::Load => None,
            Queue::Compute => Some(Queue::Load),
            Queue::Store => Some(Queue::Compute),
        }
    }

    pub fn next(self) -> Option<Queue> {
        match self {
            Queue::Load => Some(Queue::Compute),
            Queue::Compute => Some(Queue::Store),
            Queue::Store => None,
        }
    }
}

/// Instruction opcodes (4 bits). Zero is deliberately invalid so that running off
/// into zeroed memory is caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    Load = 1,
    Store = 2,
    Gemm = 3,
    Alu = 4,
    Fence = 5,
    Finish = 6,
    Spmv = 7,
    Table = 8,
}

/// On-chip memories addressable by `LOAD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Mem {
    /// Input buffer: entries of `rows` operands.
    #[default]
    Ibuf = 0,
    /// Weight buffer: entries of `cols` operands.
    Wbuf = 1,
    /// Accumulator: entries of `cols` lanes of `acc_bits`.
    Acc = 2,
    /// Requantization parameters: entries of `cols` (bias, multiplier, shift) lanes.
    Pbuf = 3,
}

/// Element type in DDR of a `LOAD` into the accumulator (widened to the accumulator width).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum AccElem {
    #[default]
    I8 = 0,
    U8 = 1,
    I32 = 2,
    /// One byte per lane, looked up in the table `TABLE` loaded: the lane gets
    /// `TABLE[byte]` (a signed 32-bit entry). Padding looks up `pad_value`.
    Lut8 = 3,
}

impl AccElem {
    /// DDR bytes of one element.
    pub fn bytes(self) -> u32 {
        match self {
            AccElem::I8 | AccElem::U8 | AccElem::Lut8 => 1,
            AccElem::I32 => 4,
        }
    }
}

/// How a `LOAD` into the accumulator combines each converted lane value `v` with the
/// lane it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Combine {
    /// `ACC = v`
    #[default]
    Overwrite = 0,
    /// `ACC = ACC + v` (wrapping at `acc_bits`)
    Add = 1,
    /// `ACC = max(ACC, v)` (signed)
    Max = 2,
}

/// Element type in DDR written by `STORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum OutType {
    #[default]
    I8 = 0,
    U8 = 1,
    /// Two signed nibbles per byte, the first element in the low nibble.
    I4 = 2,
    /// Two unsigned nibbles per byte, the first element in the low nibble.
    U4 = 3,
    /// Raw accumulator values, little-endian.
    I32 = 4,
}

impl OutType {
    /// Inclusive value range of the type.
    pub fn range(self) -> (i32, i32) {
        match self {
            OutType::I8 => (-128, 127),
            OutType::U8 => (0, 255),
            OutType::I4 => (-8, 7),
            OutType::U4 => (0, 15),
            OutType::I32 => (i32::MIN, i32::MAX),
        }
    }

    /// Bits per element in DDR.
    pub fn bits(self) -> u32 {
        match self {
            OutType::I8 | OutType::U8 => 8,
            OutType::I4 | OutType::U4 => 4,
            OutType::I32 => 32,
        }
    }
}

/// How `STORE` turns an accumulator lane into an output value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum RequantMode {
    /// No scaling: clamp the accumulator to `[clamp_lo, clamp_hi]` (raw copy for `I32`).
    #[default]
    None = 0,
    /// TFLite/gemmlowp: `MultiplyByQuantizedMultiplier` with double rounding
    /// (saturating rounding doubling high-mul, then rounding divide by a power of two).
    Fixed = 1,
    /// TFLite single rounding: `(x * m + 2^(30-s)) >> (31-s)` in 64 bits.
    FixedSingle = 2,
    /// ONNX QLinear*: `rint(f64(x) * f64(scale_f32) + zp)`, ties to even.
    Float = 3,
}

/// Lane-wise accumulator operations of `ALU`. `b` is the source lane or the immediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum AluOp {
    /// `d = b`
    #[default]
    Mov = 0,
    /// `d = d + b` (wrapping)
    Add = 1,
    /// `d = d - b` (wrapping)
    Sub = 2,
    /// `d = d * b` (low bits, wrapping)
    Mul = 3,
    /// `d = max(d, b)`
    Max = 4,
    /// `d = min(d, b)`
    Min = 5,
    /// `d = d << (b & 31)`
    Shl = 6,
    /// `d = RoundingDivideByPOT(d, b & 31)` (round half away from zero)
    SraRound = 7,
    /// `d = MultiplyByQuantizedMultiplier(d, b, shift)` (double rounding)
    Mbqm = 8,
}

/// A two-level loop over SRAM addresses: `base + o * outer_stride + i * inner_stride`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Loop2 {
    pub outer: u16,
    pub inner: u16,
}

impl Loop2 {
    pub fn flat(n: u16) -> Self {
        Loop2 { outer: 1, inner: n }
    }

    pub fn iterations(&self) -> u64 {
        u64::from(self.outer) * u64::from(self.inner)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Stride2 {
    pub outer: u16,
    pub inner: u16,
}

impl Stride2 {
    /// Consecutive addresses for a flat loop.
    pub const UNIT: Stride2 = Stride2 { outer: 0, inner: 1 };

    /// Highest address the loop touches from `base`, or `None` for an empty loop.
    pub fn last_address(&self, base: u16, loops: Loop2) -> Option<u64> {
        if loops.outer == 0 || loops.inner == 0 {
            return None;
        }
        Some(
            u64::from(base)
                + u64::from(loops.outer - 1) * u64::from(self.outer)
                + u64::from(loops.inner - 1) * u64::from(self.inner),
        )
    }

    /// Address of iteration (o, i) from `base`.
    pub fn address(&self, base: u16, o: u16, i: u16) -> usize {
        usize::from(base) + usize::from(o) * usize::from(self.outer) + usize::from(i) * usize::from(self.inner)
    }
}

/// Entries of padding `LOAD` adds around the 2-D block it fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Pad {
    pub top: u8,
    pub bottom: u8,
    pub left: u8,
    pub right: u8,
}

/// `LOAD`: a 2-D strided DMA from DDR into an on-chip memory, with padding.
///
/// Entry `(y, x)` of the block comes from `dram_addr + y * y_stride + x * x_stride`
/// (bytes) and holds `lanes` elements; the lanes beyond `lanes`, and whole padding
/// entries, are filled with `pad_value`. Destination entries are consecutive from
/// `sram_addr`, row-major over the padded `(y_size + top + bottom) x (x_size + left + right)` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Load {
    pub deps: Deps,
    pub mem: Mem,
    /// DDR element type for `mem == Acc`; must be `I8` otherwise.
    pub acc_elem: AccElem,
    pub sram_addr: u16,
    pub dram_addr: u32,
    pub x_size: u16,
    pub y_size: u16,
    pub x_stride: u32,
    pub y_stride: u32,
    pub lanes: u8,
    pub pad: Pad,
    /// Raw element value (operand bits, or sign-extended per `acc_elem` into the accumulator).
    pub pad_value: u8,
    /// How ACC lanes take the loaded values (`Overwrite` for the other memories).
    pub combine: Combine,
}

/// `TABLE`: loads the 256-entry lookup table that `LOAD` with `AccElem::Lut8`
/// reads, from [`TABLE_BYTES`] bytes at `dram_addr` (entry `i` is the little-endian
/// int32 at `dram_addr + 4 * i`). Runs on the compute queue, in order with the
/// accumulator loads that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Table {
    pub deps: Deps,
    pub dram_addr: u32,
}

/// `STORE`: reads accumulator entries, requantizes them and writes them to DDR with a
/// 2-D stride. Entry `k = y * x_size + x` (from `acc_addr`) goes to
/// `dram_addr + y * y_stride + x * x_stride`, `lanes` elements of `out_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Store {
    pub deps: Deps,
    pub out_type: OutType,
    pub mode: RequantMode,
    pub lanes: u8,
    pub zero_point: i16,
    pub clamp_lo: i16,
    pub clamp_hi: i16,
    pub acc_addr: u16,
    /// Parameter entry (one per output-channel block) used when `mode != None`.
    pub pbuf_addr: u16,
    /// Entry `(y, x)` takes parameter entry `pbuf_addr + x` instead of `pbuf_addr`:
    /// one STORE writes a row of output-channel blocks, each with its own parameters.
    pub pbuf_step: bool,
    pub dram_addr: u32,
    pub x_size: u16,
    pub y_size: u16,
    pub x_stride: u32,
    pub y_stride: u32,
}

/// `GEMM`: multiplies activation vectors by one `rows x cols` weight tile.
///
/// For every loop iteration `(o, i)`:
/// `acc[acc(o,i)][n] (+)= sum_k (a[ibuf(o,i)][k] - a_zero) * (W[k][n] - w_zero)`
/// where `W[k]` is weight-buffer entry `wbuf_addr + k`.
///
/// With `nm = N` (1 or 2) the tile is an N:4 structured-sparse tile
/// ([`crate::nm`]): it covers `rows * 4 / N` reduction positions, each vector is the
/// `4 / N` consecutive IBUF entries from `ibuf(o,i)` (which must be a multiple of
/// `4 / N`), and the weight zero point must be zero once unsigned weights are biased
/// to signed (`w_zero == 128`, or 8 for int4, with `w_unsigned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Gemm {
    pub deps: Deps,
    /// Add to the accumulator instead of overwriting it.
    pub accumulate: bool,
    /// Keep the weight tile already in the array (loaded by the previous `GEMM`, which
    /// must have named the same tile and weight zero point) instead of reloading it.
    pub reuse_weights: bool,
    pub a_unsigned: bool,
    pub w_unsigned: bool,
    pub a_zero: i16,
    pub w_zero: i16,
    /// Nonzeros per group of four of an N:4 sparse tile; 0 for a dense tile.
    pub nm: u8,
    pub wbuf_addr: u16,
    pub ibuf_addr: u16,
    pub acc_addr: u16,
    pub loops: Loop2,
    pub ibuf_stride: Stride2,
    pub acc_stride: Stride2,
}

/// `SPMV`: one activation vector times an unstructured-sparse weight tile, on the
/// sparse engine ([`crate::spmv`], `docs/sparse.md`).
///
/// The tile at `wbuf_addr` holds `k_size` columns (activations) and
/// `out_entries * cols` output channels: first `ceil(k_size / 2)` count entries, then
/// `item_entries` entries of nonzero items, each column pair of an entry belonging to
/// one engine PE. The activations are the `k_size` consecutive operands from IBUF
/// entry `ibuf_addr`. For every output channel `n`:
/// `acc[acc_addr + n / cols][n % cols] (+)= sum_k (a_k - a_zero) * (W[k][n] - w_zero)`
/// over the tile's nonzero items (absent weights are `w_zero`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Spmv {
    pub deps: Deps,
    /// Add to the accumulator instead of overwriting it.
    pub accumulate: bool,
    pub a_unsigned: bool,
    pub w_unsigned: bool,
    pub a_zero: i16,
    pub w_zero: i16,
    pub wbuf_addr: u16,
    pub ibuf_addr: u16,
    pub acc_addr: u16,
    /// Activations (weight-matrix columns) of the tile.
    pub k_size: u16,
    /// Accumulator entries written: the tile's output channels are `out_entries * cols`.
    pub out_entries: u16,
    /// Weight-buffer entries of nonzero items after the count entries.
    pub item_entries: u16,
}

/// `ALU`: lane-wise operations on accumulator entries, over a two-level loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Alu {
    pub deps: Deps,
    pub op: AluOp,
    /// Use `imm` as the second operand for every lane instead of the source entry.
    pub use_imm: bool,
    pub imm: i32,
    /// Shift of `Mbqm` (TFLite convention: positive = left).
    pub shift: i8,
    pub dst: u16,
    pub src: u16,
    pub loops: Loop2,
    pub dst_stride: Stride2,
    pub src_stride: Stride2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instr {
    Load(Load),
    Store(Store),
    Gemm(Gemm),
    Alu(Alu),
    Spmv(Spmv),
    Table(Table),
    /// Waits until every queue is empty and every unit idle.
    Fence,
    /// Waits like `FENCE`, then raises DONE (and the interrupt, if enabled).
    Finish,
}

impl Instr {
    pub fn opcode(&self) -> Opcode {
        match self {
            Instr::Load(_) => Opcode::Load,
            Instr::Store(_) => Opcode::Store,
            Instr::Gemm(_) => Opcode::Gemm,
            Instr::Alu(_) => Opcode::Alu,
            Instr::Spmv(_) => Opcode::Spmv,
            Instr::Table(_) => Opcode::Table,
            Instr::Fence => Opcode::Fence,
            Instr::Finish => Opcode::Finish,
        }
    }

    /// The queue that executes the instruction; `None` for the dispatcher-level
    /// `FENCE` and `FINISH`. Loads into the accumulator and parameter buffer belong to
    /// the compute queue, which owns those memories.
    pub fn queue(&self) -> Option<Queue> {
        match self {
            Instr::Load(l) => Some(match l.mem {
                Mem::Ibuf | Mem::Wbuf => Queue::Load,
                Mem::Acc | Mem::Pbuf => Queue::Compute,
            }),
            Instr::Store(_) => Some(Queue::Store),
            Instr::Gemm(_) | Instr::Alu(_) | Instr::Spmv(_) | Instr::Table(_) => Some(Queue::Compute),
            Instr::Fence | Instr::Finish => None,
        }
    }

    pub fn deps(&self) -> Deps {
        match self {
            Instr::Load(x) => x.deps,
            Instr::Store(x) => x.deps,
            Instr::Gemm(x) => x.deps,
            Instr::Alu(x) => x.deps,
            Instr::Spmv(x) => x.deps,
            Instr::Table(x) => x.deps,
            Instr::Fence | Instr::Finish => Deps::NONE,
        }
    }

    pub fn deps_mut(&mut self) -> Option<&mut Deps> {
        match self {
            Instr::Load(x) => Some(&mut x.deps),
            Instr::Store(x) => Some(&mut x.deps),
            Instr::Gemm(x) => Some(&mut x.deps),
            Instr::Alu(x) => Some(&mut x.deps),
            Instr::Spmv(x) => Some(&mut x.deps),
            Instr::Table(x) => Some(&mut x.deps),
            Instr::Fence | Instr::Finish => None,
        }
    }

    /// Short name used in listings and error messages.
    pub fn mnemonic(&self) -> &'static str {
        match self {
            Instr::Load(l) => match l.mem {
                Mem::Ibuf => "load.ibuf",
                Mem::Wbuf => "load.wbuf",
                Mem::Acc => "load.acc",
                Mem::Pbuf => "load.pbuf",
            },
            Instr::Store(_) => "store",
            Instr::Gemm(_) => "gemm",
            Instr::Alu(_) => "alu",
            Instr::Spmv(_) => "spmv",
            Instr::Table(_) => "table",
            Instr::Fence => "fence",
            Instr::Finish => "finish",
        }
    }

    /// Encodes to 32 little-endian bytes.
    pub fn encode(&self) -> [u8; INSTR_BYTES] {
        encoding::encode(self)
    }

    /// Decodes 32 bytes; rejects unknown opcodes, out-of-range enum values and set reserved bits.
    pub fn decode(bytes: &[u8; INSTR_BYTES]) -> Result<Instr, DecodeError> {
        encoding::decode(bytes)
    }
}

/// Encodes requantization parameters into the DDR layout `LOAD.PBUF` reads: one entry
/// per `lanes` consecutive channels, each `bias[lanes]` (i32 LE), `multiplier[lanes]`
/// (i32 LE) then `shift[lanes]` (i8). The last entry is padded with zero lanes.
pub fn encode_param_entries(lanes: usize, params: &[crate::quant::ParamLane]) -> Vec<u8> {
    let mut out = Vec::with_capacity(params.len().div_ceil(lanes) * lanes * PARAM_LANE_BYTES as usize);
    for chunk in params.chunks(lanes) {
        let lane = |i: usize| chunk.get(i).copied().unwrap_or_default();
        (0..lanes).for_each(|i| out.extend_from_slice(&lane(i).bias.to_le_bytes()));
        (0..lanes).for_each(|i| out.extend_from_slice(&lane(i).multiplier.to_le_bytes()));
        (0..lanes).for_each(|i| out.push(lane(i).shift as u8));
    }
    out
}

/// An instruction stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Program {
    pub instrs: Vec<Instr>,
}

/// A program binary that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProgramDecodeError {
    #[error("program is {0} bytes, not a multiple of the {INSTR_BYTES}-byte instruction size")]
    Length(usize),
    #[error("instruction #{index} (byte offset {offset:#x}): {error}", offset = .index * INSTR_BYTES)]
    Instr { index: usize, error: DecodeError },
}

impl Program {
    pub fn new(instrs: Vec<Instr>) -> Self {
        Program { instrs }
    }

    pub fn len(&self) -> usize {
        self.instrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }

    /// The binary the accelerator fetches: instructions back to back.
    pub fn encode(&self) -> Vec<u8> {
        self.instrs.iter().flat_map(|i| i.encode()).collect()
    }

    pub fn decode(bytes: &[u8]) -> Result<Program, ProgramDecodeError> {
        if !bytes.len().is_multiple_of(INSTR_BYTES) {
            return Err(ProgramDecodeError::Length(bytes.len()));
        }
        let instrs = bytes
            .chunks_exact(INSTR_BYTES)
            .enumerate()
            .map(|(index, chunk)| {
                Instr::decode(chunk.try_into().expect("chunks_exact yields full chunks"))
                    .map_err(|error| ProgramDecodeError::Instr { index, error })
            })
            .collect::<Result<_, _>>()?;
        Ok(Program { instrs })
    }

    /// Human-readable listing, one numbered instruction per line.
    pub fn listing(&self) -> String {
        self.instrs.iter().enumerate().map(|(i, instr)| format!("{i:6}: {instr}\n")).collect()
    }
}
