//! What each instruction does to the on-chip memories and DDR: the functional
//! definition the RTL must match bit for bit. Instructions arrive here already
//! checked against the config and the DDR size.

use super::RunStats;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{
    mem_shape, AccElem, Alu, AluOp, Combine, Gemm, Load, Mem, OutType, RequantMode, Spmv, Store, Table,
    PARAM_LANE_BYTES, TABLE_BYTES, TABLE_ENTRIES,
};
use tessera_isa::quant::{self, ParamLane};
use tessera_isa::{nm, spmv};

/// What identifies the tile in the array: (wbuf_addr, w_zero, w_unsigned, nm).
pub type TileKey = (u16, i16, bool, u8);

/// The weight tile held in the array, as the PEs see it (zero point already removed,
/// N:4 tiles decompressed to their `rows * 4 / N` reduction positions), stored
/// column-major: `weights[n * k_tile + k]`.
struct ArrayTile {
    key: TileKey,
    weights: Vec<i32>,
}

/// On-chip state of the accelerator.
pub struct Memories {
    rows: usize,
    cols: usize,
    operand_bits: u32,
    acc_bits: u32,
    /// Input buffer, one operand per byte (nibbles unpacked), `rows` per entry.
    pub ibuf: Vec<u8>,
    /// Weight buffer, one operand per byte, `cols` per entry.
    pub wbuf: Vec<u8>,
    /// Accumulator, `cols` lanes per entry.
    pub acc: Vec<i32>,
    /// Requantization parameters, `cols` lanes per entry.
    pub pbuf: Vec<ParamLane>,
    /// The lookup table of `LOAD` with `AccElem::Lut8`, indexed by the raw byte.
    pub table: Vec<i32>,
    array: Option<ArrayTile>,
}

/// `reuse_weights` named a different tile from the one in the array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightReuseMismatch {
    pub loaded: Option<TileKey>,
    pub requested: TileKey,
}

/// A sparse tile whose items do not fit the `SPMV` that reads them (the RTL stops
/// with `BadField` before writing the accumulator).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SparseFault {
    #[error("PE {pe}'s counts ask for item {item}, past the instruction's {item_entries} item entries")]
    PastItems { pe: usize, item: usize, item_entries: u16 },
    #[error("PE {pe}'s item {item} names local row {row}, past the {rows} rows of {out_entries} output entries")]
    RowOutOfRange { pe: usize, item: usize, row: u8, rows: usize, out_entries: u16 },
}

impl Memories {
    pub fn new(cfg: &AccelConfig) -> Self {
        let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
        let m = &cfg.memory;
        Memories {
            rows,
            cols,
            operand_bits: cfg.array.operand_bits,
            acc_bits: cfg.array.acc_bits,
            ibuf: vec![0; m.ibuf_entries as usize * rows],
            wbuf: vec![0; m.wbuf_entries as usize * cols],
            acc: vec![0; m.acc_entries as usize * cols],
            pbuf: vec![ParamLane::default(); m.pbuf_entries as usize * cols],
            table: vec![0; TABLE_ENTRIES],
            array: None,
        }
    }

    /// Sign-extends an accumulator value from `acc_bits`.
    fn wrap(&self, v: i32) -> i32 {
        let drop = 32 - self.acc_bits;
        (v << drop) >> drop
    }

    /// An operand as the PE multiplier sees it before the zero point is removed.
    fn operand(&self, raw: u8, unsigned: bool) -> i32 {
        match (self.operand_bits, unsigned) {
            (8, false) => i32::from(raw as i8),
            (4, false) => i32::from(((raw << 4) as i8) >> 4),
            _ => i32::from(raw),
        }
    }

    pub fn load(&mut self, cfg: &AccelConfig, l: &Load, ddr: &[u8], stats: &mut RunStats) {
        let (_, lanes_total) = mem_shape(cfg, l.mem);
        let lanes_total = lanes_total as usize;
        let lanes = usize::from(l.lanes);
        let (x, y) = (usize::from(l.x_size), usize::from(l.y_size));
        if x == 0 || y == 0 {
            return;
        }
        let (pt, pl) = (usize::from(l.pad.top), usize::from(l.pad.left));
        let rows = y + pt + usize::from(l.pad.bottom);
        let cols = x + pl + usize::from(l.pad.right);
        let entry_bytes = tessera_isa::isa::load_entry_bytes(cfg, l) as usize;
        for yy in 0..rows {
            for xx in 0..cols {
                let entry = usize::from(l.sram_addr) + yy * cols + xx;
                let inside = (pt..pt + y).contains(&yy) && (pl..pl + x).contains(&xx);
                let src = inside.then(|| {
                    let off = u64::from(l.dram_addr)
                        + (yy - pt) as u64 * u64::from(l.y_stride)
                        + (xx - pl) as u64 * u64::from(l.x_stride);
                    &ddr[off as usize..off as usize + entry_bytes]
                });
                let src_lanes = if inside { lanes } else { 0 };
                self.fill_entry(l, entry, lanes_total, src, src_lanes);
            }
        }
        stats.dma_read_bytes += (x * y * entry_bytes) as u64;
    }

    /// Writes one destination entry: `src_lanes` elements from `src`, the rest padding.
    fn fill_entry(&mut self, l: &Load, entry: usize, lanes_total: usize, src: Option<&[u8]>, src_lanes: usize) {
        let base = entry * lanes_total;
        match l.mem {
            Mem::Ibuf | Mem::Wbuf => {
                let four_bit = self.operand_bits == 4;
                let dst = if l.mem == Mem::Ibuf { &mut self.ibuf } else { &mut self.wbuf };
                let dst = &mut dst[base..base + lanes_total];
                for (lane, d) in dst.iter_mut().enumerate() {
                    *d = match src {
                        Some(bytes) if lane < src_lanes => {
                            if four_bit {
                                (bytes[lane / 2] >> (4 * (lane % 2))) & 0xf
                            } else {
                                bytes[lane]
                            }
                        }
                        _ => l.pad_value,
                    };
                }
            }
            Mem::Acc => {
                // Padding is an element whose raw byte is `pad_value`, converted like data.
                let pad = match l.acc_elem {
                    AccElem::U8 => i32::from(l.pad_value),
                    AccElem::I8 | AccElem::I32 => i32::from(l.pad_value as i8),
                    AccElem::Lut8 => self.table[usize::from(l.pad_value)],
                };
                for lane in 0..lanes_total {
                    let v = match src {
                        Some(bytes) if lane < src_lanes => match l.acc_elem {
                            AccElem::I8 => i32::from(bytes[lane] as i8),
                            AccElem::U8 => i32::from(bytes[lane]),
                            AccElem::I32 => {
                                i32::from_le_bytes(bytes[4 * lane..4 * lane + 4].try_into().expect("4 bytes"))
                            }
                            AccElem::Lut8 => self.table[usize::from(bytes[lane])],
                        },
                        _ => pad,
                    };
                    // The value an overwrite would write, then combined with the lane.
                    let v = self.wrap(v);
                    let old = self.acc[base + lane];
                    self.acc[base + lane] = match l.combine {
                        Combine::Overwrite => v,
                        Combine::Add => self.wrap(old.wrapping_add(v)),
                        Combine::Max => old.max(v),
                    };
                }
            }
            Mem::Pbuf => {
                // DDR layout of an entry: bias[lanes] (i32), multiplier[lanes] (i32), shift[lanes] (i8).
                debug_assert_eq!(PARAM_LANE_BYTES, 9);
                for lane in 0..lanes_total {
                    self.pbuf[base + lane] = match src {
                        Some(bytes) if lane < src_lanes => {
                            let word =
                                |i: usize| i32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().expect("4 bytes"));
                            ParamLane {
                                bias: word(lane),
                                multiplier: word(src_lanes + lane),
                                shift: bytes[8 * src_lanes + lane] as i8,
                            }
                        }
                        _ => ParamLane::default(),
                    };
                }
            }
        }
    }

    /// `TABLE`: the 256 little-endian int32 entries at `dram_addr`.
    pub fn table(&mut self, t: &Table, ddr: &[u8], stats: &mut RunStats) {
        let at = t.dram_addr as usize;
        let bytes = &ddr[at..at + TABLE_BYTES as usize];
        for (entry, word) in self.table.iter_mut().zip(bytes.chunks_exact(4)) {
            *entry = i32::from_le_bytes(word.try_into().expect("4 bytes"));
        }
        stats.dma_read_bytes += u64::from(TABLE_BYTES);
    }

    pub fn store(&self, s: &Store, ddr: &mut [u8], stats: &mut RunStats) {
        self.store_recording(s, ddr, stats, &mut |_, _| {});
    }

    /// [`Memories::store`], calling `wrote(offset, len)` for every DDR entry written,
    /// in the order the writes happen (later calls overwrite earlier ones).
    pub fn store_recording(
        &self,
        s: &Store,
        ddr: &mut [u8],
        stats: &mut RunStats,
        wrote: &mut dyn FnMut(usize, usize),
    ) {
        let lanes = usize::from(s.lanes);
        let entry_bytes = tessera_isa::isa::store_entry_bytes(s) as usize;
        let (lo, hi) = if s.out_type == OutType::I32 {
            (i32::MIN, i32::MAX)
        } else {
            (i32::from(s.clamp_lo), i32::from(s.clamp_hi))
        };
        // Mode `None` reads no parameters (and `pbuf_addr` is then unchecked).
        let unused = vec![ParamLane::default(); self.cols];
        let params_of = |x: usize| match s.mode {
            RequantMode::None => &unused[..],
            _ => {
                let entry = usize::from(s.pbuf_addr) + if s.pbuf_step { x } else { 0 };
                &self.pbuf[entry * self.cols..][..self.cols]
            }
        };
        let mut values = vec![0i32; lanes];
        for y in 0..usize::from(s.y_size) {
            for x in 0..usize::from(s.x_size) {
                let params = params_of(x);
                let entry = usize::from(s.acc_addr) + y * usize::from(s.x_size) + x;
                let acc = &self.acc[entry * self.cols..entry * self.cols + lanes];
                for ((v, a), p) in values.iter_mut().zip(acc).zip(params) {
                    *v = quant::requantize(s.mode, *a, *p, i32::from(s.zero_point), lo, hi);
                }
                let off = (u64::from(s.dram_addr) + y as u64 * u64::from(s.y_stride) + x as u64 * u64::from(s.x_stride))
                    as usize;
                write_elements(s.out_type, &values, &mut ddr[off..off + entry_bytes]);
                wrote(off, entry_bytes);
                stats.dma_write_bytes += entry_bytes as u64;
            }
        }
    }

    pub fn gemm(&mut self, g: &Gemm, stats: &mut RunStats) -> Result<(), WeightReuseMismatch> {
        let requested = (g.wbuf_addr, g.w_zero, g.w_unsigned, g.nm);
        if g.reuse_weights {
            let loaded = self.array.as_ref().map(|t| t.key);
            if loaded != Some(requested) {
                return Err(WeightReuseMismatch { loaded, requested });
            }
        } else {
            self.array = Some(self.load_tile(g));
        }
        let (rows, cols) = (self.rows, self.cols);
        let weights = std::mem::take(&mut self.array.as_mut().expect("tile loaded above").weights);
        // An N:4 vector is 4 / N consecutive IBUF entries.
        let k_tile = rows * nm::ratio(g.nm) as usize;
        let mut a = vec![0i32; k_tile];
        for o in 0..g.loops.outer {
            for i in 0..g.loops.inner {
                let src = g.ibuf_stride.address(g.ibuf_addr, o, i) * rows;
                for (k, ak) in a.iter_mut().enumerate() {
                    *ak = self.operand(self.ibuf[src + k], g.a_unsigned) - i32::from(g.a_zero);
                }
                let dst = g.acc_stride.address(g.acc_addr, o, i) * cols;
                for n in 0..cols {
                    let column = &weights[n * k_tile..(n + 1) * k_tile];
                    let sum = a.iter().zip(column).fold(0i32, |s, (x, w)| s.wrapping_add(x * w));
                    let old = if g.accumulate { self.acc[dst + n] } else { 0 };
                    self.acc[dst + n] = self.wrap(old.wrapping_add(sum));
                }
            }
        }
        self.array.as_mut().expect("tile loaded above").weights = weights;
        let vectors = g.loops.iterations();
        stats.gemm_vectors += vectors;
        stats.macs += vectors * (rows * cols) as u64;
        Ok(())
    }

    fn load_tile(&self, g: &Gemm) -> ArrayTile {
        let (rows, cols) = (self.rows, self.cols);
        let key = (g.wbuf_addr, g.w_zero, g.w_unsigned, g.nm);
        let value = |raw: u8| self.operand(raw, g.w_unsigned) - i32::from(g.w_zero);
        let first = usize::from(g.wbuf_addr) * cols;
        if g.nm != 0 {
            let entries = nm::tile_entries(rows as u32, g.nm) as usize;
            let tile = nm::NmTile::from_entries(&self.wbuf[first..first + entries * cols], rows, cols, g.nm);
            let dense = tile.decompress(value);
            let k_tile = dense.len() / cols;
            let mut weights = vec![0i32; dense.len()];
            for k in 0..k_tile {
                for n in 0..cols {
                    weights[n * k_tile + k] = dense[k * cols + n];
                }
            }
            return ArrayTile { key, weights };
        }
        let mut weights = vec![0i32; rows * cols];
        for k in 0..rows {
            let entry = first + k * cols;
            for n in 0..cols {
                weights[n * rows + k] = value(self.wbuf[entry + n]);
            }
        }
        ArrayTile { key, weights }
    }

    /// `SPMV` on the sparse engine: every PE walks its columns, skips the columns
    /// whose activation is zero, and multiplies the others' items into its partial
    /// sums, which then go to the accumulator lanes it owns ([`tessera_isa::spmv`]).
    pub fn spmv(&mut self, x: &Spmv, stats: &mut RunStats) -> Result<(), SparseFault> {
        let (rows, cols) = (self.rows, self.cols);
        let (k_size, out_entries) = (usize::from(x.k_size), usize::from(x.out_entries));
        let local_rows = 2 * out_entries;
        let tile = usize::from(x.wbuf_addr);
        let items_at = tile + spmv::count_entries(k_size);
        let activation =
            |k: usize| self.operand(self.ibuf[usize::from(x.ibuf_addr) * rows + k], x.a_unsigned) - i32::from(x.a_zero);
        let mut sums = vec![vec![0i32; local_rows]; cols / 2];
        for (pe, local) in sums.iter_mut().enumerate() {
            let mut item = 0usize;
            for k in 0..k_size {
                let count = usize::from(self.wbuf[(tile + k / 2) * cols + 2 * pe + k % 2]);
                let a = activation(k);
                if a == 0 {
                    item += count;
                    continue;
                }
                for _ in 0..count {
                    if item >= usize::from(x.item_entries) {
                        return Err(SparseFault::PastItems { pe, item, item_entries: x.item_entries });
                    }
                    let at = (items_at + item) * cols + 2 * pe;
                    let row = self.wbuf[at + 1];
                    if usize::from(row) >= local_rows {
                        return Err(SparseFault::RowOutOfRange {
                            pe,
                            item,
                            row,
                            rows: local_rows,
                            out_entries: x.out_entries,
                        });
                    }
                    let w = self.operand(self.wbuf[at], x.w_unsigned) - i32::from(x.w_zero);
                    local[usize::from(row)] = local[usize::from(row)].wrapping_add(a * w);
                    stats.macs += 1;
                    item += 1;
                }
            }
        }
        for e in 0..out_entries {
            let base = (usize::from(x.acc_addr) + e) * cols;
            for lane in 0..cols {
                let sum = sums[lane / 2][2 * e + lane % 2];
                let old = if x.accumulate { self.acc[base + lane] } else { 0 };
                self.acc[base + lane] = self.wrap(old.wrapping_add(sum));
            }
        }
        Ok(())
    }

    pub fn alu(&mut self, a: &Alu) {
        let cols = self.cols;
        for o in 0..a.loops.outer {
            for i in 0..a.loops.inner {
                let dst = a.dst_stride.address(a.dst, o, i) * cols;
                let src = (!a.use_imm).then(|| a.src_stride.address(a.src, o, i) * cols);
                for lane in 0..cols {
                    let x = self.acc[dst + lane];
                    let b = src.map_or(a.imm, |s| self.acc[s + lane]);
                    self.acc[dst + lane] = self.wrap(alu_op(a.op, x, b, a.shift));
                }
            }
        }
    }
}

/// One ALU lane operation on 32-bit values (the caller wraps to `acc_bits`).
pub fn alu_op(op: AluOp, d: i32, b: i32, shift: i8) -> i32 {
    match op {
        AluOp::Mov => b,
        AluOp::Add => d.wrapping_add(b),
        AluOp::Sub => d.wrapping_sub(b),
        AluOp::Mul => d.wrapping_mul(b),
        AluOp::Max => d.max(b),
        AluOp::Min => d.min(b),
        AluOp::Shl => d.wrapping_shl(b as u32 & 31),
        AluOp::SraRound => quant::rounding_divide_by_pot(d, b as u32 & 31),
        AluOp::Mbqm => quant::multiply_by_quantized_multiplier(d, b, i32::from(shift)),
    }
}

/// Packs output values (already within the type's range) into DDR bytes.
fn write_elements(t: OutType, values: &[i32], out: &mut [u8]) {
    match t {
        OutType::I8 | OutType::U8 => {
            for (o, v) in out.iter_mut().zip(values) {
                *o = *v as u8;
            }
        }
        OutType::I4 | OutType::U4 => {
            for (o, pair) in out.iter_mut().zip(values.chunks(2)) {
                *o = (pair[0] as u8 & 0xf) | ((pair[1] as u8 & 0xf) << 4);
            }
        }
        OutType::I32 => {
            for (o, v) in out.chunks_exact_mut(4).zip(values) {
                o.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}
