//! Bit-level encoding of instructions: one table of fields per format drives encoding,
//! decoding, the reserved-bit check and the tables in `docs/isa.md`.

use super::*;
use bitvec::prelude::*;

/// One bit field of an instruction format. Bits are numbered from the least
/// significant bit of the first little-endian 64-bit word (bit 0) to bit 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub lo: usize,
    pub width: usize,
    pub signed: bool,
    pub doc: &'static str,
}

const fn u(name: &'static str, lo: usize, width: usize, doc: &'static str) -> Field {
    Field { name, lo, width, signed: false, doc }
}

const fn s(name: &'static str, lo: usize, width: usize, doc: &'static str) -> Field {
    Field { name, lo, width, signed: true, doc }
}

/// An instruction format: its opcode, header and own fields.
#[derive(Debug)]
pub struct Format {
    pub name: &'static str,
    pub opcode: Opcode,
    /// The opcode, plus the token flags for instructions that run on a queue.
    pub header: &'static [Field],
    pub fields: &'static [Field],
}

impl Format {
    /// Header and own fields together.
    pub fn all_fields(&self) -> impl Iterator<Item = &'static Field> {
        self.header.iter().chain(self.fields)
    }
}

const OPCODE: Field =
    u("opcode", 0, 4, "1 LOAD, 2 STORE, 3 GEMM, 4 ALU, 5 FENCE, 6 FINISH, 7 SPMV, 8 TABLE; 0 and 9-15 are invalid");
const POP_PREV: Field = u("pop_prev", 4, 1, "wait for and consume a token from the previous queue before running");
const POP_NEXT: Field = u("pop_next", 5, 1, "wait for and consume a token from the next queue before running");
const PUSH_PREV: Field = u("push_prev", 6, 1, "give a token to the previous queue after completing");
const PUSH_NEXT: Field = u("push_next", 7, 1, "give a token to the next queue after completing");

mod load {
    use super::*;
    pub const MEM: Field = u("mem", 8, 2, "destination: 0 IBUF, 1 WBUF (load queue); 2 ACC, 3 PBUF (compute queue)");
    pub const ACC_ELEM: Field = u(
        "acc_elem",
        10,
        2,
        "DDR element type for ACC: 0 int8, 1 uint8, 2 int32, 3 lut8 (TABLE[byte]) (must be 0 otherwise)",
    );
    pub const PAD_VALUE: Field = u("pad_value", 12, 8, "raw element written into padding entries and unused lanes");
    pub const LANES: Field = u("lanes", 20, 8, "elements fetched per entry (1..=lanes of the memory)");
    pub const PAD_TOP: Field = u("pad_top", 28, 8, "padding rows before the block");
    pub const PAD_BOTTOM: Field = u("pad_bottom", 36, 8, "padding rows after the block");
    pub const PAD_LEFT: Field = u("pad_left", 44, 8, "padding entries before each row");
    pub const PAD_RIGHT: Field = u("pad_right", 52, 8, "padding entries after each row");
    pub const COMBINE: Field =
        u("combine", 60, 2, "ACC lanes become: 0 the value, 1 lane + value, 2 max(lane, value) (must be 0 otherwise)");
    pub const SRAM_ADDR: Field = u("sram_addr", 64, 16, "first destination entry");
    pub const X_SIZE: Field = u("x_size", 80, 16, "entries per row fetched from DDR");
    pub const Y_SIZE: Field = u("y_size", 96, 16, "rows fetched from DDR");
    pub const DRAM_ADDR: Field = u("dram_addr", 128, 32, "byte offset of entry (0, 0) from DRAM_BASE");
    pub const Y_STRIDE: Field = u("y_stride", 160, 32, "bytes between rows in DDR");
    pub const X_STRIDE: Field = u("x_stride", 192, 32, "bytes between entries of a row in DDR");
    pub const FIELDS: &[Field] = &[
        MEM, ACC_ELEM, PAD_VALUE, LANES, PAD_TOP, PAD_BOTTOM, PAD_LEFT, PAD_RIGHT, COMBINE, SRAM_ADDR, X_SIZE, Y_SIZE,
        DRAM_ADDR, Y_STRIDE, X_STRIDE,
    ];
}

mod table {
    use super::*;
    pub const DRAM_ADDR: Field =
        u("dram_addr", 128, 32, "byte offset of the 256 little-endian int32 entries (1024 bytes) from DRAM_BASE");
    pub const FIELDS: &[Field] = &[DRAM_ADDR];
}

mod store {
    use super::*;
    pub const OUT_TYPE: Field =
        u("out_type", 8, 3, "0 int8, 1 uint8, 2 int4, 3 uint4 (packed, low nibble first), 4 int32");
    pub const MODE: Field =
        u("mode", 11, 2, "0 none (clamp), 1 fixed (TFLite double rounding), 2 fixed single rounding, 3 float (ONNX)");
    pub const PBUF_STEP: Field =
        u("pbuf_step", 13, 1, "entry (y, x) takes parameter entry pbuf_addr + x (one per output block)");
    pub const LANES: Field = u("lanes", 16, 8, "elements written per entry (1..=cols)");
    pub const ZERO_POINT: Field = s("zero_point", 32, 16, "output zero point added after scaling");
    pub const ACC_ADDR: Field = u("acc_addr", 64, 16, "first accumulator entry");
    pub const X_SIZE: Field = u("x_size", 80, 16, "entries per row");
    pub const Y_SIZE: Field = u("y_size", 96, 16, "rows");
    pub const PBUF_ADDR: Field = u("pbuf_addr", 112, 16, "parameter entry (bias, multiplier/scale, shift per lane)");
    pub const DRAM_ADDR: Field = u("dram_addr", 128, 32, "byte offset of entry (0, 0) from DRAM_BASE");
    pub const Y_STRIDE: Field = u("y_stride", 160, 32, "bytes between rows in DDR");
    pub const X_STRIDE: Field = u("x_stride", 192, 32, "bytes between entries of a row in DDR");
    pub const CLAMP_LO: Field = s("clamp_lo", 224, 16, "lowest output value (activation and type range)");
    pub const CLAMP_HI: Field = s("clamp_hi", 240, 16, "highest output value");
    pub const FIELDS: &[Field] = &[
        OUT_TYPE, MODE, PBUF_STEP, LANES, ZERO_POINT, ACC_ADDR, X_SIZE, Y_SIZE, PBUF_ADDR, DRAM_ADDR, Y_STRIDE,
        X_STRIDE, CLAMP_LO, CLAMP_HI,
    ];
}

mod gemm {
    use super::*;
    pub const ACCUMULATE: Field = u("accumulate", 8, 1, "add into the accumulator instead of overwriting");
    pub const REUSE_WEIGHTS: Field = u("reuse_weights", 9, 1, "keep the tile the previous GEMM loaded into the array");
    pub const A_UNSIGNED: Field = u("a_unsigned", 10, 1, "activations are unsigned (zero-extended)");
    pub const W_UNSIGNED: Field = u("w_unsigned", 11, 1, "weights are unsigned (zero-extended)");
    pub const NM: Field = u("nm", 12, 2, "N of an N:4 structured-sparse tile (1 or 2; 0 = dense), see docs/sparse.md");
    pub const A_ZERO: Field = s("a_zero", 16, 16, "activation zero point, subtracted from every activation");
    pub const W_ZERO: Field = s("w_zero", 32, 16, "weight zero point, subtracted from every weight");
    pub const WBUF_ADDR: Field = u("wbuf_addr", 48, 16, "first of the `rows` weight entries of the tile");
    pub const IBUF_ADDR: Field = u("ibuf_addr", 64, 16, "activation base address");
    pub const ACC_ADDR: Field = u("acc_addr", 80, 16, "accumulator base address");
    pub const OUTER: Field = u("outer", 96, 16, "outer loop extent");
    pub const INNER: Field = u("inner", 112, 16, "inner loop extent");
    pub const IBUF_OUTER_STRIDE: Field = u("ibuf_outer_stride", 128, 16, "activation address step per outer iteration");
    pub const IBUF_INNER_STRIDE: Field = u("ibuf_inner_stride", 144, 16, "activation address step per inner iteration");
    pub const ACC_OUTER_STRIDE: Field = u("acc_outer_stride", 160, 16, "accumulator address step per outer iteration");
    pub const ACC_INNER_STRIDE: Field = u("acc_inner_stride", 176, 16, "accumulator address step per inner iteration");
    pub const FIELDS: &[Field] = &[
        ACCUMULATE,
        REUSE_WEIGHTS,
        A_UNSIGNED,
        W_UNSIGNED,
        NM,
        A_ZERO,
        W_ZERO,
        WBUF_ADDR,
        IBUF_ADDR,
        ACC_ADDR,
        OUTER,
        INNER,
        IBUF_OUTER_STRIDE,
        IBUF_INNER_STRIDE,
        ACC_OUTER_STRIDE,
        ACC_INNER_STRIDE,
    ];
}

mod alu {
    use super::*;
    pub const OP: Field = u("op", 8, 4, "0 MOV, 1 ADD, 2 SUB, 3 MUL, 4 MAX, 5 MIN, 6 SHL, 7 SRA_ROUND, 8 MBQM");
    pub const USE_IMM: Field = u("use_imm", 12, 1, "second operand is `imm` instead of the source entry");
    pub const SHIFT: Field = s("shift", 16, 8, "MBQM shift (positive = left), -31..=30");
    pub const IMM: Field = s("imm", 32, 32, "immediate second operand");
    pub const DST: Field = u("dst", 64, 16, "destination (and first operand) base address");
    pub const SRC: Field = u("src", 80, 16, "source base address");
    pub const OUTER: Field = u("outer", 96, 16, "outer loop extent");
    pub const INNER: Field = u("inner", 112, 16, "inner loop extent");
    pub const DST_OUTER_STRIDE: Field = u("dst_outer_stride", 128, 16, "destination step per outer iteration");
    pub const DST_INNER_STRIDE: Field = u("dst_inner_stride", 144, 16, "destination step per inner iteration");
    pub const SRC_OUTER_STRIDE: Field = u("src_outer_stride", 160, 16, "source step per outer iteration");
    pub const SRC_INNER_STRIDE: Field = u("src_inner_stride", 176, 16, "source step per inner iteration");
    pub const FIELDS: &[Field] = &[
        OP,
        USE_IMM,
        SHIFT,
        IMM,
        DST,
        SRC,
        OUTER,
        INNER,
        DST_OUTER_STRIDE,
        DST_INNER_STRIDE,
        SRC_OUTER_STRIDE,
        SRC_INNER_STRIDE,
    ];
}

mod spmv {
    use super::*;
    pub const ACCUMULATE: Field = u("accumulate", 8, 1, "add into the accumulator instead of overwriting");
    pub const A_UNSIGNED: Field = u("a_unsigned", 10, 1, "activations are unsigned (zero-extended)");
    pub const W_UNSIGNED: Field = u("w_unsigned", 11, 1, "weights are unsigned (zero-extended)");
    pub const A_ZERO: Field = s("a_zero", 16, 16, "activation zero point; activations equal to it are skipped");
    pub const W_ZERO: Field = s("w_zero", 32, 16, "weight zero point, subtracted from every nonzero item");
    pub const WBUF_ADDR: Field = u("wbuf_addr", 48, 16, "first entry of the sparse tile (its column counts)");
    pub const IBUF_ADDR: Field = u("ibuf_addr", 64, 16, "entry holding the first activation");
    pub const ACC_ADDR: Field = u("acc_addr", 80, 16, "first accumulator entry written");
    pub const K_SIZE: Field = u("k_size", 96, 16, "activations (weight columns) of the tile, 1..=sparse.engine.max_k");
    pub const OUT_ENTRIES: Field =
        u("out_entries", 112, 16, "accumulator entries written (cols outputs each), 1..=max_n / cols");
    pub const ITEM_ENTRIES: Field = u("item_entries", 128, 16, "weight-buffer entries of nonzero items");
    pub const FIELDS: &[Field] = &[
        ACCUMULATE,
        A_UNSIGNED,
        W_UNSIGNED,
        A_ZERO,
        W_ZERO,
        WBUF_ADDR,
        IBUF_ADDR,
        ACC_ADDR,
        K_SIZE,
        OUT_ENTRIES,
        ITEM_ENTRIES,
    ];
}

/// Header of queue instructions.
const QUEUED: &[Field] = &[OPCODE, POP_PREV, POP_NEXT, PUSH_PREV, PUSH_NEXT];
/// Header of the dispatcher-level FENCE and FINISH: no token flags.
const BARE: &[Field] = &[OPCODE];

/// Every instruction format, in opcode order.
pub static FORMATS: [Format; 8] = [
    Format { name: "LOAD", opcode: Opcode::Load, header: QUEUED, fields: load::FIELDS },
    Format { name: "STORE", opcode: Opcode::Store, header: QUEUED, fields: store::FIELDS },
    Format { name: "GEMM", opcode: Opcode::Gemm, header: QUEUED, fields: gemm::FIELDS },
    Format { name: "ALU", opcode: Opcode::Alu, header: QUEUED, fields: alu::FIELDS },
    Format { name: "FENCE", opcode: Opcode::Fence, header: BARE, fields: &[] },
    Format { name: "FINISH", opcode: Opcode::Finish, header: BARE, fields: &[] },
    Format { name: "SPMV", opcode: Opcode::Spmv, header: QUEUED, fields: spmv::FIELDS },
    Format { name: "TABLE", opcode: Opcode::Table, header: QUEUED, fields: table::FIELDS },
];

pub fn format_of(opcode: Opcode) -> &'static Format {
    FORMATS.iter().find(|f| f.opcode == opcode).expect("every opcode has a format")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown opcode {0}")]
    UnknownOpcode(u8),
    #[error("{format}: field `{field}` has invalid value {value}")]
    BadValue { format: &'static str, field: &'static str, value: u64 },
    #[error("{format}: reserved bits set (mask {mask})")]
    ReservedBits { format: &'static str, mask: String },
}

/// Implements `ALL` and `from_bits` for the field enums.
macro_rules! bits_enum {
    ($t:ident: $($v:ident),+) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),+];
            pub fn from_bits(v: u64) -> Option<$t> {
                Self::ALL.iter().copied().find(|x| *x as u64 == v)
            }
        }
    };
}

bits_enum!(Opcode: Load, Store, Gemm, Alu, Fence, Finish, Spmv, Table);
bits_enum!(Mem: Ibuf, Wbuf, Acc, Pbuf);
bits_enum!(AccElem: I8, U8, I32, Lut8);
bits_enum!(Combine: Overwrite, Add, Max);
bits_enum!(OutType: I8, U8, I4, U4, I32);
bits_enum!(RequantMode: None, Fixed, FixedSingle, Float);
bits_enum!(AluOp: Mov, Add, Sub, Mul, Max, Min, Shl, SraRound, Mbqm);

// 32-bit storage words: bitvec stores `u64` only on 64-bit targets, and the driver
// (which checks programs) also builds for the 32-bit ARM of PYNQ-Z1/Z2.
type Bits = BitArr!(for 256, in u32, Lsb0);

#[derive(Default)]
struct Word(Bits);

impl Word {
    fn put(&mut self, f: Field, v: u64) {
        let mask = if f.width == 64 { u64::MAX } else { (1u64 << f.width) - 1 };
        self.0[f.lo..f.lo + f.width].store_le::<u64>(v & mask);
    }

    fn put_signed(&mut self, f: Field, v: i64) {
        self.put(f, v as u64);
    }

    fn put_bool(&mut self, f: Field, v: bool) {
        self.put(f, u64::from(v));
    }

    fn get(&self, f: Field) -> u64 {
        self.0[f.lo..f.lo + f.width].load_le::<u64>()
    }

    fn get_signed(&self, f: Field) -> i64 {
        let shift = 64 - f.width as u32;
        ((self.get(f) << shift) as i64) >> shift
    }

    fn get_bool(&self, f: Field) -> bool {
        self.get(f) != 0
    }

    fn to_bytes(&self) -> [u8; INSTR_BYTES] {
        let mut out = [0u8; INSTR_BYTES];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.0.into_inner()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    fn from_bytes(bytes: &[u8; INSTR_BYTES]) -> Self {
        let mut words = [0u32; 8];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *word = u32::from_le_bytes(chunk.try_into().expect("4-byte chunk"));
        }
        Word(BitArray::new(words))
    }

    fn put_deps(&mut self, d: Deps) {
        self.put_bool(POP_PREV, d.pop_prev);
        self.put_bool(POP_NEXT, d.pop_next);
        self.put_bool(PUSH_PREV, d.push_prev);
        self.put_bool(PUSH_NEXT, d.push_next);
    }

    fn get_deps(&self) -> Deps {
        Deps {
            pop_prev: self.get_bool(POP_PREV),
            pop_next: self.get_bool(POP_NEXT),
            push_prev: self.get_bool(PUSH_PREV),
            push_next: self.get_bool(PUSH_NEXT),
        }
    }

    fn get_enum<T>(&self, format: &'static str, f: Field, from_bits: fn(u64) -> Option<T>) -> Result<T, DecodeError> {
        let value = self.get(f);
        from_bits(value).ok_or(DecodeError::BadValue { format, field: f.name, value })
    }
}

pub(super) fn encode(instr: &Instr) -> [u8; INSTR_BYTES] {
    let mut w = Word::default();
    w.put(OPCODE, instr.opcode() as u64);
    w.put_deps(instr.deps());
    match instr {
        Instr::Load(l) => {
            use load::*;
            w.put(MEM, l.mem as u64);
            w.put(ACC_ELEM, l.acc_elem as u64);
            w.put(PAD_VALUE, l.pad_value.into());
            w.put(LANES, l.lanes.into());
            w.put(PAD_TOP, l.pad.top.into());
            w.put(PAD_BOTTOM, l.pad.bottom.into());
            w.put(PAD_LEFT, l.pad.left.into());
            w.put(PAD_RIGHT, l.pad.right.into());
            w.put(COMBINE, l.combine as u64);
            w.put(SRAM_ADDR, l.sram_addr.into());
            w.put(X_SIZE, l.x_size.into());
            w.put(Y_SIZE, l.y_size.into());
            w.put(DRAM_ADDR, l.dram_addr.into());
            w.put(Y_STRIDE, l.y_stride.into());
            w.put(X_STRIDE, l.x_stride.into());
        }
        Instr::Store(st) => {
            use store::*;
            w.put(OUT_TYPE, st.out_type as u64);
            w.put(MODE, st.mode as u64);
            w.put(LANES, st.lanes.into());
            w.put_signed(ZERO_POINT, st.zero_point.into());
            w.put(ACC_ADDR, st.acc_addr.into());
            w.put(X_SIZE, st.x_size.into());
            w.put(Y_SIZE, st.y_size.into());
            w.put(PBUF_ADDR, st.pbuf_addr.into());
            w.put_bool(PBUF_STEP, st.pbuf_step);
            w.put(DRAM_ADDR, st.dram_addr.into());
            w.put(Y_STRIDE, st.y_stride.into());
            w.put(X_STRIDE, st.x_stride.into());
            w.put_signed(CLAMP_LO, st.clamp_lo.into());
            w.put_signed(CLAMP_HI, st.clamp_hi.into());
        }
        Instr::Gemm(g) => {
            use gemm::*;
            w.put_bool(ACCUMULATE, g.accumulate);
            w.put_bool(REUSE_WEIGHTS, g.reuse_weights);
            w.put_bool(A_UNSIGNED, g.a_unsigned);
            w.put_bool(W_UNSIGNED, g.w_unsigned);
            w.put(NM, g.nm.into());
            w.put_signed(A_ZERO, g.a_zero.into());
            w.put_signed(W_ZERO, g.w_zero.into());
            w.put(WBUF_ADDR, g.wbuf_addr.into());
            w.put(IBUF_ADDR, g.ibuf_addr.into());
            w.put(ACC_ADDR, g.acc_addr.into());
            w.put(OUTER, g.loops.outer.into());
            w.put(INNER, g.loops.inner.into());
            w.put(IBUF_OUTER_STRIDE, g.ibuf_stride.outer.into());
            w.put(IBUF_INNER_STRIDE, g.ibuf_stride.inner.into());
            w.put(ACC_OUTER_STRIDE, g.acc_stride.outer.into());
            w.put(ACC_INNER_STRIDE, g.acc_stride.inner.into());
        }
        Instr::Alu(a) => {
            use alu::*;
            w.put(OP, a.op as u64);
            w.put_bool(USE_IMM, a.use_imm);
            w.put_signed(SHIFT, a.shift.into());
            w.put_signed(IMM, a.imm.into());
            w.put(DST, a.dst.into());
            w.put(SRC, a.src.into());
            w.put(OUTER, a.loops.outer.into());
            w.put(INNER, a.loops.inner.into());
            w.put(DST_OUTER_STRIDE, a.dst_stride.outer.into());
            w.put(DST_INNER_STRIDE, a.dst_stride.inner.into());
            w.put(SRC_OUTER_STRIDE, a.src_stride.outer.into());
            w.put(SRC_INNER_STRIDE, a.src_stride.inner.into());
        }
        Instr::Spmv(x) => {
            use spmv::*;
            w.put_bool(ACCUMULATE, x.accumulate);
            w.put_bool(A_UNSIGNED, x.a_unsigned);
            w.put_bool(W_UNSIGNED, x.w_unsigned);
            w.put_signed(A_ZERO, x.a_zero.into());
            w.put_signed(W_ZERO, x.w_zero.into());
            w.put(WBUF_ADDR, x.wbuf_addr.into());
            w.put(IBUF_ADDR, x.ibuf_addr.into());
            w.put(ACC_ADDR, x.acc_addr.into());
            w.put(K_SIZE, x.k_size.into());
            w.put(OUT_ENTRIES, x.out_entries.into());
            w.put(ITEM_ENTRIES, x.item_entries.into());
        }
        Instr::Table(t) => w.put(table::DRAM_ADDR, t.dram_addr.into()),
        Instr::Fence | Instr::Finish => {}
    }
    w.to_bytes()
}

pub(super) fn decode(bytes: &[u8; INSTR_BYTES]) -> Result<Instr, DecodeError> {
    let w = Word::from_bytes(bytes);
    let raw_opcode = w.get(OPCODE);
    let opcode = Opcode::from_bits(raw_opcode).ok_or(DecodeError::UnknownOpcode(raw_opcode as u8))?;
    let format = format_of(opcode);
    check_reserved(&w, format)?;
    let name = format.name;
    let deps = w.get_deps();
    Ok(match opcode {
        Opcode::Load => {
            use load::*;
            Instr::Load(Load {
                deps,
                mem: w.get_enum(name, MEM, Mem::from_bits)?,
                acc_elem: w.get_enum(name, ACC_ELEM, AccElem::from_bits)?,
                pad_value: w.get(PAD_VALUE) as u8,
                lanes: w.get(LANES) as u8,
                pad: Pad {
                    top: w.get(PAD_TOP) as u8,
                    bottom: w.get(PAD_BOTTOM) as u8,
                    left: w.get(PAD_LEFT) as u8,
                    right: w.get(PAD_RIGHT) as u8,
                },
                combine: w.get_enum(name, COMBINE, Combine::from_bits)?,
                sram_addr: w.get(SRAM_ADDR) as u16,
                x_size: w.get(X_SIZE) as u16,
                y_size: w.get(Y_SIZE) as u16,
                dram_addr: w.get(DRAM_ADDR) as u32,
                y_stride: w.get(Y_STRIDE) as u32,
                x_stride: w.get(X_STRIDE) as u32,
            })
        }
        Opcode::Store => {
            use store::*;
            Instr::Store(Store {
                deps,
                out_type: w.get_enum(name, OUT_TYPE, OutType::from_bits)?,
                mode: w.get_enum(name, MODE, RequantMode::from_bits)?,
                lanes: w.get(LANES) as u8,
                zero_point: w.get_signed(ZERO_POINT) as i16,
                acc_addr: w.get(ACC_ADDR) as u16,
                x_size: w.get(X_SIZE) as u16,
                y_size: w.get(Y_SIZE) as u16,
                pbuf_addr: w.get(PBUF_ADDR) as u16,
                pbuf_step: w.get_bool(PBUF_STEP),
                dram_addr: w.get(DRAM_ADDR) as u32,
                y_stride: w.get(Y_STRIDE) as u32,
                x_stride: w.get(X_STRIDE) as u32,
                clamp_lo: w.get_signed(CLAMP_LO) as i16,
                clamp_hi: w.get_signed(CLAMP_HI) as i16,
            })
        }
        Opcode::Gemm => {
            use gemm::*;
            Instr::Gemm(Gemm {
                deps,
                accumulate: w.get_bool(ACCUMULATE),
                reuse_weights: w.get_bool(REUSE_WEIGHTS),
                a_unsigned: w.get_bool(A_UNSIGNED),
                w_unsigned: w.get_bool(W_UNSIGNED),
                nm: w.get(NM) as u8,
                a_zero: w.get_signed(A_ZERO) as i16,
                w_zero: w.get_signed(W_ZERO) as i16,
                wbuf_addr: w.get(WBUF_ADDR) as u16,
                ibuf_addr: w.get(IBUF_ADDR) as u16,
                acc_addr: w.get(ACC_ADDR) as u16,
                loops: Loop2 { outer: w.get(OUTER) as u16, inner: w.get(INNER) as u16 },
                ibuf_stride: Stride2 { outer: w.get(IBUF_OUTER_STRIDE) as u16, inner: w.get(IBUF_INNER_STRIDE) as u16 },
                acc_stride: Stride2 { outer: w.get(ACC_OUTER_STRIDE) as u16, inner: w.get(ACC_INNER_STRIDE) as u16 },
            })
        }
        Opcode::Alu => {
            use alu::*;
            Instr::Alu(Alu {
                deps,
                op: w.get_enum(name, OP, AluOp::from_bits)?,
                use_imm: w.get_bool(USE_IMM),
                shift: w.get_signed(SHIFT) as i8,
                imm: w.get_signed(IMM) as i32,
                dst: w.get(DST) as u16,
                src: w.get(SRC) as u16,
                loops: Loop2 { outer: w.get(OUTER) as u16, inner: w.get(INNER) as u16 },
                dst_stride: Stride2 { outer: w.get(DST_OUTER_STRIDE) as u16, inner: w.get(DST_INNER_STRIDE) as u16 },
                src_stride: Stride2 { outer: w.get(SRC_OUTER_STRIDE) as u16, inner: w.get(SRC_INNER_STRIDE) as u16 },
            })
        }
        Opcode::Spmv => {
            use spmv::*;
            Instr::Spmv(Spmv {
                deps,
                accumulate: w.get_bool(ACCUMULATE),
                a_unsigned: w.get_bool(A_UNSIGNED),
                w_unsigned: w.get_bool(W_UNSIGNED),
                a_zero: w.get_signed(A_ZERO) as i16,
                w_zero: w.get_signed(W_ZERO) as i16,
                wbuf_addr: w.get(WBUF_ADDR) as u16,
                ibuf_addr: w.get(IBUF_ADDR) as u16,
                acc_addr: w.get(ACC_ADDR) as u16,
                k_size: w.get(K_SIZE) as u16,
                out_entries: w.get(OUT_ENTRIES) as u16,
                item_entries: w.get(ITEM_ENTRIES) as u16,
            })
        }
        Opcode::Table => Instr::Table(Table { deps, dram_addr: w.get(table::DRAM_ADDR) as u32 }),
        Opcode::Fence => Instr::Fence,
        Opcode::Finish => Instr::Finish,
    })
}

/// Bits no field of the format covers must be zero, so that garbage and programs for a
/// future ISA revision are rejected instead of misread.
fn check_reserved(w: &Word, format: &Format) -> Result<(), DecodeError> {
    let mut covered = Bits::ZERO;
    for f in format.all_fields() {
        covered[f.lo..f.lo + f.width].fill(true);
    }
    let stray = w.0 & !covered;
    if stray.not_any() {
        return Ok(());
    }
    let halves = stray.into_inner();
    let words: Vec<u64> = halves.chunks(2).map(|w| u64::from(w[0]) | u64::from(w[1]) << 32).collect();
    Err(DecodeError::ReservedBits {
        format: format.name,
        mask: format!("{:#018x}_{:016x}_{:016x}_{:016x}", words[3], words[2], words[1], words[0]),
    })
}

/// The layout of every format as Markdown tables (kept in `docs/isa.md`; a test checks it).
pub fn layout_markdown() -> String {
    let mut out = String::new();
    for format in &FORMATS {
        out.push_str(&format!("#### {} (opcode {})\n\n", format.name, format.opcode as u8));
        out.push_str("| bits | field | meaning |\n|---|---|---|\n");
        let mut fields: Vec<&Field> = format.all_fields().collect();
        fields.sort_by_key(|f| f.lo);
        for f in fields {
            let bits = if f.width == 1 { format!("{}", f.lo) } else { format!("{}..{}", f.lo, f.lo + f.width - 1) };
            let signed = if f.signed { " (signed)" } else { "" };
            out.push_str(&format!("| {bits} | `{}` | {}{signed} |\n", f.name, f.doc));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_do_not_overlap_and_fit() {
        for format in &FORMATS {
            let mut used = Bits::ZERO;
            for f in format.all_fields() {
                assert!(f.lo + f.width <= 256, "{}.{} exceeds 256 bits", format.name, f.name);
                assert!(used[f.lo..f.lo + f.width].not_any(), "{}.{} overlaps another field", format.name, f.name);
                used[f.lo..f.lo + f.width].fill(true);
            }
        }
    }
}
