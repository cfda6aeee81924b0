//! Static checks of one instruction against a config (and, optionally, the size of
//! the DDR region it may touch). Everything that can be checked before running is
//! checked here, so the golden model, the compiler and the driver reject the same
//! programs with the same messages.

use super::*;
use crate::config::AccelConfig;
use std::fmt;

/// What is wrong with an instruction, naming the field as in `docs/isa.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrProblem {
    pub field: &'static str,
    pub reason: String,
}

impl fmt::Display for InstrProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.reason)
    }
}

fn problem(field: &'static str, reason: impl Into<String>) -> Result<(), InstrProblem> {
    Err(InstrProblem { field, reason: reason.into() })
}

fn ensure(ok: bool, field: &'static str, reason: impl FnOnce() -> String) -> Result<(), InstrProblem> {
    if ok {
        Ok(())
    } else {
        problem(field, reason())
    }
}

/// Checks `instr` for `cfg`. With `dram_len`, DDR accesses must also fall inside
/// `[0, dram_len)` (offsets from `DRAM_BASE`).
pub fn check_instr(instr: &Instr, cfg: &AccelConfig, dram_len: Option<u64>) -> Result<(), InstrProblem> {
    if let Some(queue) = instr.queue() {
        check_deps(queue, instr.deps())?;
    }
    match instr {
        Instr::Load(l) => check_load(l, cfg, dram_len),
        Instr::Store(s) => check_store(s, cfg, dram_len),
        Instr::Gemm(g) => check_gemm(g, cfg),
        Instr::Alu(a) => check_alu(a, cfg),
        Instr::Spmv(x) => check_spmv(x, cfg),
        Instr::Table(t) => check_dram(dram_span(t.dram_addr, 1, 1, 0, 0, TABLE_BYTES.into()), dram_len),
        Instr::Fence | Instr::Finish => Ok(()),
    }
}

fn check_deps(queue: Queue, d: Deps) -> Result<(), InstrProblem> {
    let name = queue.name();
    if queue.prev().is_none() {
        ensure(!d.pop_prev, "pop_prev", || format!("the {name} queue has no previous queue"))?;
        ensure(!d.push_prev, "push_prev", || format!("the {name} queue has no previous queue"))?;
    }
    if queue.next().is_none() {
        ensure(!d.pop_next, "pop_next", || format!("the {name} queue has no next queue"))?;
        ensure(!d.push_next, "push_next", || format!("the {name} queue has no next queue"))?;
    }
    Ok(())
}

/// Inclusive range of an operand (and of its zero point) for the config's operand width.
pub fn operand_range(cfg: &AccelConfig, unsigned: bool) -> (i32, i32) {
    let bits = cfg.array.operand_bits;
    if unsigned {
        (0, (1 << bits) - 1)
    } else {
        (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    }
}

/// Depth in entries and lanes per entry of an on-chip memory.
pub fn mem_shape(cfg: &AccelConfig, mem: Mem) -> (u32, u32) {
    let (a, m) = (&cfg.array, &cfg.memory);
    match mem {
        Mem::Ibuf => (m.ibuf_entries, a.rows),
        Mem::Wbuf => (m.wbuf_entries, a.cols),
        Mem::Acc => (m.acc_entries, a.cols),
        Mem::Pbuf => (m.pbuf_entries, a.cols),
    }
}

/// Bytes one entry of `lanes` elements occupies in DDR for a `LOAD`.
pub fn load_entry_bytes(cfg: &AccelConfig, l: &Load) -> u64 {
    let lanes = u64::from(l.lanes);
    match l.mem {
        Mem::Ibuf | Mem::Wbuf => u64::from(cfg.operand_bytes(l.lanes.into())),
        Mem::Acc => u64::from(l.acc_elem.bytes()) * lanes,
        Mem::Pbuf => u64::from(PARAM_LANE_BYTES) * lanes,
    }
}

/// Bytes one entry of `lanes` elements occupies in DDR for a `STORE`.
pub fn store_entry_bytes(s: &Store) -> u64 {
    (u64::from(s.lanes) * u64::from(s.out_type.bits())).div_ceil(8)
}

/// Byte range `[first, end)` a 2-D DDR access covers, or `None` when it is empty.
pub fn dram_span(
    dram_addr: u32,
    x_size: u16,
    y_size: u16,
    x_stride: u32,
    y_stride: u32,
    entry_bytes: u64,
) -> Option<(u64, u64)> {
    if x_size == 0 || y_size == 0 {
        return None;
    }
    let last_entry = u64::from(dram_addr)
        + u64::from(y_size - 1) * u64::from(y_stride)
        + u64::from(x_size - 1) * u64::from(x_stride);
    Some((u64::from(dram_addr), last_entry + entry_bytes))
}

fn check_dram(span: Option<(u64, u64)>, dram_len: Option<u64>) -> Result<(), InstrProblem> {
    if let (Some((first, end)), Some(len)) = (span, dram_len) {
        ensure(end <= len, "dram_addr", || {
            format!("DDR bytes [{first:#x}, {end:#x}) run past the end of the {len:#x}-byte DDR region")
        })?;
    }
    Ok(())
}

fn check_load(l: &Load, cfg: &AccelConfig, dram_len: Option<u64>) -> Result<(), InstrProblem> {
    let (depth, max_lanes) = mem_shape(cfg, l.mem);
    if l.x_size == 0 || l.y_size == 0 {
        // An empty load moves nothing; it exists for its dependency tokens.
        ensure(l.pad == Pad::default(), "x_size", || "an empty load must not pad".to_string())?;
        return Ok(());
    }
    ensure((1..=max_lanes).contains(&u32::from(l.lanes)), "lanes", || {
        format!("must be in 1..={max_lanes} for {:?}, got {}", l.mem, l.lanes)
    })?;
    // A parameter entry is laid out by column (all biases, then all multipliers,
    // then all shifts), so it is loaded whole.
    ensure(l.mem != Mem::Pbuf || u32::from(l.lanes) == max_lanes, "lanes", || {
        format!("must equal cols ({max_lanes}) for PBUF, got {}", l.lanes)
    })?;
    ensure(l.mem == Mem::Acc || l.acc_elem == AccElem::I8, "acc_elem", || {
        format!("must be 0 unless mem is ACC, got {:?}", l.acc_elem)
    })?;
    ensure(l.mem == Mem::Acc || l.combine == Combine::Overwrite, "combine", || {
        format!("must be 0 unless mem is ACC, got {:?}", l.combine)
    })?;
    if matches!(l.mem, Mem::Ibuf | Mem::Wbuf) && cfg.array.operand_bits == 4 {
        ensure(l.lanes.is_multiple_of(2), "lanes", || format!("must be even with 4-bit operands, got {}", l.lanes))?;
        ensure(l.pad_value < 16, "pad_value", || format!("must be a 4-bit value, got {}", l.pad_value))?;
    }
    let rows = u64::from(l.y_size) + u64::from(l.pad.top) + u64::from(l.pad.bottom);
    let cols = u64::from(l.x_size) + u64::from(l.pad.left) + u64::from(l.pad.right);
    let end = u64::from(l.sram_addr) + rows * cols;
    ensure(end <= u64::from(depth), "sram_addr", || {
        format!("entries [{}, {end}) run past the {depth}-entry {:?}", l.sram_addr, l.mem)
    })?;
    check_dram(dram_span(l.dram_addr, l.x_size, l.y_size, l.x_stride, l.y_stride, load_entry_bytes(cfg, l)), dram_len)
}

fn check_store(s: &Store, cfg: &AccelConfig, dram_len: Option<u64>) -> Result<(), InstrProblem> {
    let cols = cfg.array.cols;
    ensure((1..=cols).contains(&u32::from(s.lanes)), "lanes", || format!("must be in 1..={cols}, got {}", s.lanes))?;
    if s.out_type.bits() == 4 {
        ensure(s.lanes.is_multiple_of(2), "lanes", || {
            format!("must be even for packed 4-bit output, got {}", s.lanes)
        })?;
    }
    if s.out_type == OutType::I32 {
        ensure(s.mode == RequantMode::None, "mode", || "int32 output takes the raw accumulator (mode 0)".to_string())?;
    } else {
        let (min, max) = s.out_type.range();
        let in_range = |v: i16| (min..=max).contains(&i32::from(v));
        ensure(in_range(s.clamp_lo), "clamp_lo", || format!("must be within {:?} range {min}..={max}", s.out_type))?;
        ensure(in_range(s.clamp_hi), "clamp_hi", || format!("must be within {:?} range {min}..={max}", s.out_type))?;
        ensure(s.clamp_lo <= s.clamp_hi, "clamp_lo", || format!("{} exceeds clamp_hi {}", s.clamp_lo, s.clamp_hi))?;
        if s.mode != RequantMode::None {
            ensure(in_range(s.zero_point), "zero_point", || {
                format!("must be within {:?} range {min}..={max}", s.out_type)
            })?;
        }
    }
    if s.mode != RequantMode::None {
        let depth = cfg.memory.pbuf_entries;
        ensure(u32::from(s.pbuf_addr) < depth, "pbuf_addr", || {
            format!("{} is past the {depth}-entry parameter buffer", s.pbuf_addr)
        })?;
        let last = u32::from(s.pbuf_addr) + u32::from(s.x_size);
        ensure(!s.pbuf_step || last <= depth, "pbuf_step", || {
            format!("entries {}..{last} (one per x) run past the {depth}-entry parameter buffer", s.pbuf_addr)
        })?;
    }
    let end = u64::from(s.acc_addr) + u64::from(s.x_size) * u64::from(s.y_size);
    let depth = cfg.memory.acc_entries;
    ensure(end <= u64::from(depth), "acc_addr", || {
        format!("entries [{}, {end}) run past the {depth}-entry accumulator", s.acc_addr)
    })?;
    check_dram(dram_span(s.dram_addr, s.x_size, s.y_size, s.x_stride, s.y_stride, store_entry_bytes(s)), dram_len)
}

fn check_loop(field: &'static str, base: u16, loops: Loop2, stride: Stride2, depth: u32) -> Result<(), InstrProblem> {
    if let Some(last) = stride.last_address(base, loops) {
        ensure(last < u64::from(depth), field, || {
            format!("the loop reaches entry {last}, past the {depth}-entry memory")
        })?;
    }
    Ok(())
}

fn check_gemm(g: &Gemm, cfg: &AccelConfig) -> Result<(), InstrProblem> {
    let (rows, m) = (cfg.array.rows, &cfg.memory);
    if g.nm != 0 {
        ensure(cfg.supports_nm(g.nm), "nm", || {
            format!("this accelerator has no {}:4 structured-sparse mode (config sparse.nm)", g.nm)
        })?;
        let bias = cfg.nm_weight_zero(g.w_unsigned);
        ensure(g.w_zero == bias, "w_zero", || {
            format!("an N:4 sparse tile needs a weight zero point of {bias}, got {}", g.w_zero)
        })?;
        let ratio = crate::nm::ratio(g.nm) as u16;
        let aligned = [g.ibuf_addr, g.ibuf_stride.outer, g.ibuf_stride.inner].iter().all(|v| v.is_multiple_of(ratio));
        ensure(aligned, "ibuf_addr", || {
            format!("{}:4 vectors are {ratio} entries and must start at multiples of {ratio}", g.nm)
        })?;
    }
    let tile = crate::nm::tile_entries(rows, g.nm);
    ensure(u32::from(g.wbuf_addr) + tile <= m.wbuf_entries, "wbuf_addr", || {
        format!("the {tile}-entry tile at {} runs past the {}-entry weight buffer", g.wbuf_addr, m.wbuf_entries)
    })?;
    check_zero_points(cfg, [("a_zero", g.a_zero, g.a_unsigned), ("w_zero", g.w_zero, g.w_unsigned)])?;
    // The last vector's last entry.
    let span = crate::nm::ratio(g.nm) as u16 - 1;
    check_loop("ibuf_addr", g.ibuf_addr + span, g.loops, g.ibuf_stride, m.ibuf_entries)?;
    check_loop("acc_addr", g.acc_addr, g.loops, g.acc_stride, m.acc_entries)
}

fn check_zero_points(cfg: &AccelConfig, zeros: [(&'static str, i16, bool); 2]) -> Result<(), InstrProblem> {
    for (field, zero, unsigned) in zeros {
        let (min, max) = operand_range(cfg, unsigned);
        ensure((min..=max).contains(&i32::from(zero)), field, || {
            format!("{zero} is outside the operand range {min}..={max}")
        })?;
    }
    Ok(())
}

fn check_spmv(x: &Spmv, cfg: &AccelConfig) -> Result<(), InstrProblem> {
    let Some(engine) = &cfg.sparse.engine else {
        return problem("opcode", "this accelerator has no sparse engine (config sparse.engine)");
    };
    let (rows, cols, m) = (cfg.array.rows, cfg.array.cols, &cfg.memory);
    ensure((1..=engine.max_k).contains(&u32::from(x.k_size)), "k_size", || {
        format!("must be in 1..={} (sparse.engine.max_k), got {}", engine.max_k, x.k_size)
    })?;
    let max_out = engine.max_out_entries(cols);
    ensure((1..=max_out).contains(&u32::from(x.out_entries)), "out_entries", || {
        format!("must be in 1..={max_out} (sparse.engine.max_n / cols), got {}", x.out_entries)
    })?;
    let tile = crate::spmv::count_entries(x.k_size.into()) as u32 + u32::from(x.item_entries);
    ensure(u32::from(x.wbuf_addr) + tile <= m.wbuf_entries, "wbuf_addr", || {
        format!("the {tile}-entry sparse tile at {} runs past the {}-entry weight buffer", x.wbuf_addr, m.wbuf_entries)
    })?;
    let act_entries = u32::from(x.k_size).div_ceil(rows);
    ensure(u32::from(x.ibuf_addr) + act_entries <= m.ibuf_entries, "ibuf_addr", || {
        format!("the {act_entries} activation entries at {} run past the {}-entry IBUF", x.ibuf_addr, m.ibuf_entries)
    })?;
    ensure(u32::from(x.acc_addr) + u32::from(x.out_entries) <= m.acc_entries, "acc_addr", || {
        format!(
            "entries [{}, {}) run past the {}-entry accumulator",
            x.acc_addr,
            u32::from(x.acc_addr) + u32::from(x.out_entries),
            m.acc_entries
        )
    })?;
    check_zero_points(cfg, [("a_zero", x.a_zero, x.a_unsigned), ("w_zero", x.w_zero, x.w_unsigned)])
}

fn check_alu(a: &Alu, cfg: &AccelConfig) -> Result<(), InstrProblem> {
    let depth = cfg.memory.acc_entries;
    if a.op == AluOp::Mbqm {
        ensure((-31..=30).contains(&a.shift), "shift", || format!("must be in -31..=30, got {}", a.shift))?;
    } else {
        ensure(a.shift == 0, "shift", || format!("only MBQM uses shift, got {}", a.shift))?;
    }
    if !a.use_imm {
        ensure(a.imm == 0, "imm", || "must be 0 when use_imm is clear".to_string())?;
        check_loop("src", a.src, a.loops, a.src_stride, depth)?;
    }
    check_loop("dst", a.dst, a.loops, a.dst_stride, depth)
}
