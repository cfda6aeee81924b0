//! Random instruction programs: every opcode, memory, element type, requantization
//! mode and ALU op, with random extents, strides (including zero and overlapping),
//! padding, zero points, unaligned DDR addresses and partial lanes; synchronised by
//! the [`Builder`].
//!
//! The DDR image holds random data, a block of requantization parameter entries
//! and an output area (random too, so bytes a STORE must leave alone are checked).
//! A prologue initialises the part of every on-chip memory the program uses (SRAM
//! contents after reset are not defined by the ISA).

use super::builder::{Access, Builder, Res, SyncPolicy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::ops::Range;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{
    encode_param_entries, mem_shape, operand_range, AccElem, Alu, AluOp, Combine, Gemm, Instr, Load, Loop2, Mem,
    OutType, Pad, Program, RequantMode, Store, Stride2, Table, INSTR_BYTES, PARAM_LANE_BYTES, TABLE_BYTES,
};
use tessera_isa::nm;
use tessera_isa::quant::{quantize_multiplier, ParamLane};

/// Knobs of the random program generator.
#[derive(Debug, Clone)]
pub struct ProgramOptions {
    /// Instructions to generate after the prologue (synchronisation comes on top).
    pub instructions: usize,
    pub policy: SyncPolicy,
    /// Entries at the bottom and at the top of each on-chip memory the program may
    /// use (both ends, to reach the high address bits without initialising
    /// megabytes of SRAM).
    pub window_low: usize,
    pub window_high: usize,
    /// Float-mode scales may be subnormal f32 values.
    pub subnormal_scales: bool,
    /// Probability of an ordinary instruction being a FENCE.
    pub fence: f64,
}

impl ProgramOptions {
    pub fn for_config(cfg: &AccelConfig, instructions: usize) -> Self {
        let big = cfg.array.cols > 8;
        ProgramOptions {
            instructions,
            policy: SyncPolicy { fence: 0.08, spare_pop: 0.35, spare_push: 0.3, junk: true },
            window_low: if big { 192 } else { usize::MAX },
            window_high: if big { 48 } else { 0 },
            subnormal_scales: true,
            fence: 0.02,
        }
    }
}

/// Regions of the DDR image.
#[derive(Debug, Clone)]
pub struct Layout {
    pub data: Range<usize>,
    /// Requantization parameter entries (`9 * cols` bytes each).
    pub params: Range<usize>,
    pub out: Range<usize>,
    pub len: usize,
}

/// Address ranges of one on-chip memory a program uses.
#[derive(Debug, Clone)]
pub struct Windows(pub Vec<Range<usize>>);

impl Windows {
    fn new(depth: usize, low: usize, high: usize) -> Self {
        let low = low.min(depth);
        let high = high.min(depth - low);
        let mut w = Vec::with_capacity(2);
        w.push(0..low);
        if high > 0 {
            w.push(depth - high..depth);
        }
        Windows(w)
    }

    fn largest(&self) -> usize {
        self.0.iter().map(|r| r.len()).max().unwrap_or(0)
    }

    /// Start of `span` consecutive entries inside one window.
    fn place(&self, rng: &mut StdRng, span: usize) -> usize {
        let fits: Vec<&Range<usize>> = self.0.iter().filter(|r| r.len() >= span).collect();
        let w = fits[rng.random_range(0..fits.len())];
        rng.random_range(w.start..=w.end - span)
    }
}

/// Class of a PBUF entry's scale lanes: may a float-mode STORE use it?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Params {
    /// Every multiplier is the bits of a finite f32.
    FloatOk,
    /// Some multiplier is NaN/infinite as an f32, or unknown (written by a STORE).
    FixedOnly,
}

struct Gen<'c> {
    b: Builder<'c>,
    opts: ProgramOptions,
    layout: Layout,
    image: Vec<u8>,
    ibuf: Windows,
    wbuf: Windows,
    acc: Windows,
    pbuf: Windows,
    pbuf_class: Vec<Params>,
    /// The tile in the array: (wbuf_addr, w_zero, w_unsigned, nm).
    tile: Option<(u16, i16, bool, u8)>,
}

/// A random program and the DDR image it runs on.
pub fn random_program(cfg: &AccelConfig, seed: u64, opts: &ProgramOptions) -> (Vec<u8>, Program) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7e55_e7a0_0000_0001);
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let m = &cfg.memory;
    let ibuf = Windows::new(m.ibuf_entries as usize, opts.window_low, opts.window_high);
    let wbuf = Windows::new(m.wbuf_entries as usize, opts.window_low, opts.window_high);
    let acc = Windows::new(m.acc_entries as usize, opts.window_low, opts.window_high);
    let pbuf = Windows::new(m.pbuf_entries as usize, opts.window_low, opts.window_high);

    // Data must hold the prologue's widest load (int32 accumulators).
    let widest = [
        ibuf.largest() * cfg.operand_bytes(rows as u32) as usize,
        wbuf.largest() * cfg.operand_bytes(cols as u32) as usize,
        acc.largest() * 4 * cols,
    ];
    let data_len = (widest.into_iter().max().unwrap() + 1024).max(8192);
    let param_entry = PARAM_LANE_BYTES as usize * cols;
    let param_entries = m.pbuf_entries as usize + 8;
    let data = 0..data_len;
    let params = data_len.next_multiple_of(64)..data_len.next_multiple_of(64) + param_entries * param_entry;
    let out_len = (4096 + 64 * cols).next_multiple_of(64);
    let out = params.end.next_multiple_of(64)..params.end.next_multiple_of(64) + out_len;
    let layout = Layout { data: data.clone(), params: params.clone(), out: out.clone(), len: out.end };

    let mut image: Vec<u8> = (0..layout.len).map(|_| rng.random()).collect();
    let lanes: Vec<ParamLane> = (0..param_entries * cols).map(|_| random_param(&mut rng, opts)).collect();
    image[params.clone()].copy_from_slice(&encode_param_entries(cols, &lanes));

    let b = Builder::new(cfg, StdRng::seed_from_u64(rng.random()), opts.policy, layout.len);
    let mut g = Gen {
        b,
        opts: opts.clone(),
        layout,
        image,
        pbuf_class: vec![Params::FixedOnly; m.pbuf_entries as usize],
        ibuf,
        wbuf,
        acc,
        pbuf,
        tile: None,
    };
    g.prologue();
    for _ in 0..opts.instructions {
        g.step();
    }
    if g.rng().random_bool(0.3) {
        g.tail_load();
    }
    g.b.emit_raw(Instr::Finish);
    (g.image, Program::new(g.b.instrs))
}

/// One lane of requantization parameters: realistic TFLite multipliers or f32
/// scales mostly, extremes sometimes.
fn random_param(rng: &mut StdRng, opts: &ProgramOptions) -> ParamLane {
    let bias = match rng.random_range(0..10) {
        0 => rng.random(),
        1 => 0,
        _ => rng.random_range(-20_000..20_000),
    };
    match rng.random_range(0..10) {
        // TFLite: multiplier in [2^30, 2^31), typical shifts (as f32 bits: often NaN).
        0..=3 => {
            let real = 10f64.powf(rng.random_range(-6.0..1.0));
            let q = quantize_multiplier(real).expect("finite");
            ParamLane { bias, multiplier: q.multiplier, shift: q.shift.clamp(-128, 127) as i8 }
        }
        // ONNX: an f32 scale (as a fixed multiplier, whatever its bits say).
        4..=7 => {
            let scale = 10f32.powf(rng.random_range(-7.0..0.5)) * if rng.random_bool(0.1) { -1.0 } else { 1.0 };
            ParamLane { bias, multiplier: scale.to_bits() as i32, shift: rng.random_range(-31..=30) }
        }
        // Extremes: any multiplier, shifts outside -31..=30 (clamped), odd scales.
        _ => {
            let multiplier = match rng.random_range(0..6) {
                0 => i32::MIN,
                1 => i32::MAX,
                2 => 0,
                3 if opts.subnormal_scales => f32::from_bits(rng.random_range(1..0x0080_0000)).to_bits() as i32,
                4 => 1e30f32.to_bits() as i32,
                _ => rng.random(),
            };
            ParamLane { bias, multiplier, shift: rng.random() }
        }
    }
}

/// A lane count in 1..=width, even when `even`; full width half of the time.
fn pick_lanes(rng: &mut StdRng, width: usize, even: bool) -> usize {
    let l = if rng.random_bool(0.5) { width } else { rng.random_range(1..=width) };
    if even {
        (l & !1).max(2)
    } else {
        l
    }
}

/// A zero point in `range`, biased towards 0 and the ends.
fn pick_zero(rng: &mut StdRng, (lo, hi): (i32, i32)) -> i16 {
    (match rng.random_range(0..8) {
        0..=2 => 0.clamp(lo, hi),
        3 => lo,
        4 => hi,
        _ => rng.random_range(lo..=hi),
    }) as i16
}

impl Gen<'_> {
    fn rng(&mut self) -> &mut StdRng {
        &mut self.b.rng
    }

    fn windows(&self, mem: Mem) -> &Windows {
        match mem {
            Mem::Ibuf => &self.ibuf,
            Mem::Wbuf => &self.wbuf,
            Mem::Acc => &self.acc,
            Mem::Pbuf => &self.pbuf,
        }
    }

    /// Loads the lookup table and every window of every memory, so no instruction
    /// reads undefined SRAM.
    fn prologue(&mut self) {
        self.table();
        let mut loads = Vec::new();
        for mem in [Mem::Ibuf, Mem::Wbuf, Mem::Acc, Mem::Pbuf] {
            for w in self.windows(mem).0.clone() {
                let mut start = w.start;
                while start < w.end {
                    let n = (w.end - start).min(u16::MAX as usize);
                    loads.push((mem, start, n));
                    start += n;
                }
            }
        }
        // Interleave the queues a little.
        for i in (1..loads.len()).rev() {
            let j = self.rng().random_range(0..=i);
            loads.swap(i, j);
        }
        for (mem, start, n) in loads {
            let (_, width) = mem_shape(self.b.cfg, mem);
            let width = width as usize;
            let mut l = Load {
                mem,
                sram_addr: start as u16,
                x_size: n as u16,
                y_size: 1,
                lanes: width as u8,
                ..Default::default()
            };
            let eb = match mem {
                Mem::Ibuf | Mem::Wbuf => self.b.cfg.operand_bytes(width as u32) as usize,
                Mem::Acc => {
                    l.acc_elem = AccElem::ALL[self.rng().random_range(0..AccElem::ALL.len())];
                    l.acc_elem.bytes() as usize * width
                }
                Mem::Pbuf => PARAM_LANE_BYTES as usize * width,
            };
            l.x_stride = eb as u32;
            l.y_stride = (eb * n) as u32;
            let src = if mem == Mem::Pbuf {
                let entries = self.layout.params.len() / eb;
                self.layout.params.start + eb * self.rng().random_range(0..=entries - n)
            } else {
                let d = self.layout.data.clone();
                self.rng().random_range(d.start..=d.end - eb * n)
            };
            l.dram_addr = src as u32;
            self.emit_load(l);
        }
    }

    /// A LOAD whose last byte is the last byte of the DRAM window: the end of the
    /// program itself (`run_both` places it after the image, 64-byte aligned).
    /// After a FENCE nothing needs ordering, so the instruction count is known.
    fn tail_load(&mut self) {
        self.b.emit_raw(Instr::Fence);
        let cfg = self.b.cfg;
        let mem = [Mem::Ibuf, Mem::Acc][self.rng().random_range(0..2)];
        let (_, width) = mem_shape(cfg, mem);
        let lanes = pick_lanes(self.rng(), width as usize, mem == Mem::Ibuf && cfg.array.operand_bits == 4);
        let eb = if mem == Mem::Ibuf { cfg.operand_bytes(lanes as u32) as usize } else { lanes };
        let x = self.rng().random_range(1..=4);
        let sram = self.windows(mem).clone().place(self.rng(), x);
        let ddr_len = self.layout.len.next_multiple_of(64) + (self.b.len() + 2) * INSTR_BYTES;
        let l = Load {
            mem,
            sram_addr: sram as u16,
            dram_addr: (ddr_len - x * eb) as u32,
            x_size: x as u16,
            x_stride: eb as u32,
            y_size: 1,
            y_stride: self.rng().random(),
            lanes: lanes as u8,
            pad_value: if mem == Mem::Ibuf && cfg.array.operand_bits == 4 { 3 } else { 0x83 },
            ..Default::default()
        };
        // The program bytes are never written: only the SRAM side is a hazard.
        let mut access = Access::default();
        access.write(Res::of(mem), sram, x);
        self.b.emit_with(Instr::Load(l), &access);
    }

    fn step(&mut self) {
        let r = self.rng().random_range(0..100);
        let fence = self.opts.fence;
        if self.rng().random_bool(fence) {
            self.b.emit_raw(Instr::Fence);
            return;
        }
        match r {
            0..=13 => self.load_operands(Mem::Ibuf),
            14..=23 => self.load_operands(Mem::Wbuf),
            24..=29 => self.load_acc(),
            30..=32 => self.load_pbuf(),
            33 => self.table(),
            34..=58 => self.gemm(),
            59..=74 => self.alu(),
            75..=94 => self.store(),
            95..=96 => {
                // A burst for one queue: more than it holds, so dispatch stalls.
                let n = self.b.cfg.control.queue_depth as usize + self.rng().random_range(1..=4);
                let kind = self.rng().random_range(0..3);
                for _ in 0..n {
                    match kind {
                        0 => self.load_operands(Mem::Ibuf),
                        1 => self.alu(),
                        _ => self.store(),
                    }
                }
            }
            _ => {
                // An instruction that does nothing (tokens only).
                let q = self.rng().random_range(0..3);
                let noop = self.b.noop(q, Default::default());
                self.b.emit(noop);
            }
        }
    }

    /// Emits a LOAD, recording what PBUF entries now hold.
    fn emit_load(&mut self, l: Load) {
        let (x, y) = (usize::from(l.x_size), usize::from(l.y_size));
        if l.mem == Mem::Pbuf && x > 0 && y > 0 {
            let (pt, pl) = (usize::from(l.pad.top), usize::from(l.pad.left));
            let cols_total = x + pl + usize::from(l.pad.right);
            let rows_total = y + pt + usize::from(l.pad.bottom);
            for yy in 0..rows_total {
                for xx in 0..cols_total {
                    let class = if (pt..pt + y).contains(&yy) && (pl..pl + x).contains(&xx) {
                        let src =
                            l.dram_addr as usize + (yy - pt) * l.y_stride as usize + (xx - pl) * l.x_stride as usize;
                        self.param_class(src)
                    } else {
                        Params::FloatOk // padding entries are zero
                    };
                    self.pbuf_class[usize::from(l.sram_addr) + yy * cols_total + xx] = class;
                }
            }
        }
        self.b.emit(Instr::Load(l));
    }

    /// Whether the PBUF entry read from DDR `src` may be used in float mode.
    fn param_class(&self, src: usize) -> Params {
        let cols = self.b.cfg.array.cols as usize;
        let entry = src..src + PARAM_LANE_BYTES as usize * cols;
        if entry.clone().any(|i| self.b.ddr_dirty(i)) {
            return Params::FixedOnly;
        }
        let ok = (0..cols).all(|lane| {
            let at = src + 4 * cols + 4 * lane;
            let f = f32::from_le_bytes(self.image[at..at + 4].try_into().expect("4 bytes"));
            f.is_finite() && (self.opts.subnormal_scales || f == 0.0 || f.is_normal())
        });
        if ok {
            Params::FloatOk
        } else {
            Params::FixedOnly
        }
    }

    /// A random 2-D shape `(x_size, y_size, pad)` of at most `max_entries` entries.
    fn shape(&mut self, max_entries: usize, pad: bool) -> (usize, usize, Pad) {
        loop {
            let rng = self.rng();
            let x = if rng.random_bool(0.2) { rng.random_range(1..=40) } else { rng.random_range(1..=8) };
            let y = if rng.random_bool(0.2) { rng.random_range(1..=12) } else { rng.random_range(1..=3) };
            let mut p = Pad::default();
            if pad && rng.random_bool(0.4) {
                let mut side = || if rng.random_bool(0.5) { 0 } else { rng.random_range(1..=3) };
                p = Pad { top: side(), bottom: side(), left: side(), right: side() };
            }
            let total = padded_entries(x, y, p);
            if total <= max_entries {
                return (x, y, p);
            }
        }
    }

    /// DDR strides for an `x` by `y` block of `eb`-byte entries, and a start address
    /// inside the image (mostly `preferred`) such that the block fits.
    fn place_ddr(&mut self, x: usize, y: usize, eb: usize, preferred: Range<usize>) -> (usize, usize, usize) {
        let len = self.layout.len;
        for attempt in 0.. {
            let rng = &mut self.b.rng;
            let dense = attempt > 4;
            let xs = match if dense { 0 } else { rng.random_range(0..12) } {
                0..=6 => eb,
                7 => eb + rng.random_range(1..=9),
                8 => rng.random_range(0..eb.max(1)), // overlapping entries
                9 => 0,                              // the same entry again
                _ => eb * rng.random_range(2..=4),
            };
            let ys = match if dense { 0 } else { rng.random_range(0..12) } {
                0..=6 => x * xs,
                7 => x * xs + rng.random_range(1..=40),
                8 => rng.random_range(0..=x * xs),
                9 => 0,
                _ => rng.random_range(0..=600),
            };
            // A dimension of one leaves its stride unused: any value.
            let xs = if x == 1 && rng.random_bool(0.3) { rng.random_range(0..100_000) } else { xs };
            let ys = if y == 1 && rng.random_bool(0.3) { rng.random_range(0..100_000) } else { ys };
            let span = (y - 1) * ys + (x - 1) * xs + eb;
            let region = if rng.random_bool(0.85) && span <= preferred.len() { preferred.clone() } else { 0..len };
            if span <= region.len() {
                let start = rng.random_range(region.start..=region.end - span);
                return (start, xs, ys);
            }
        }
        unreachable!()
    }

    fn load_operands(&mut self, mem: Mem) {
        let cfg = self.b.cfg;
        let (_, width) = mem_shape(cfg, mem);
        let four = cfg.array.operand_bits == 4;
        let lanes = pick_lanes(self.rng(), width as usize, four);
        let eb = cfg.operand_bytes(lanes as u32) as usize;
        let (x, y, pad) = self.shape(self.windows(mem).largest().min(200), true);
        let total = padded_entries(x, y, pad);
        let sram = self.windows(mem).clone().place(self.rng(), total);
        let (src, xs, ys) = self.place_ddr(x, y, eb, self.layout.data.clone());
        let pad_value = if four { self.rng().random_range(0..16) } else { self.rng().random() };
        let l = Load { pad_value, ..block_load(mem, sram, (src, xs, ys), (x, y, pad), lanes) };
        self.emit_load(l);
    }

    /// `TABLE` from random data (or bytes a STORE wrote), mostly, or anywhere in the image.
    fn table(&mut self) {
        let region = if self.rng().random_bool(0.8) { self.layout.data.clone() } else { 0..self.layout.len };
        let at = self.rng().random_range(region.start..=region.end - TABLE_BYTES as usize);
        self.b.emit(Instr::Table(Table { dram_addr: at as u32, ..Default::default() }));
    }

    fn load_acc(&mut self) {
        let cols = self.b.cfg.array.cols as usize;
        let lanes = pick_lanes(self.rng(), cols, false);
        let acc_elem = AccElem::ALL[self.rng().random_range(0..AccElem::ALL.len())];
        let combine = if self.rng().random_bool(0.5) {
            Combine::Overwrite
        } else {
            [Combine::Add, Combine::Max][self.rng().random_range(0..2)]
        };
        let eb = acc_elem.bytes() as usize * lanes;
        let (x, y, pad) = self.shape(self.acc.largest().min(96), true);
        let total = padded_entries(x, y, pad);
        let sram = self.acc.place(&mut self.b.rng, total);
        let (src, xs, ys) = self.place_ddr(x, y, eb, self.layout.data.clone());
        let l = Load {
            acc_elem,
            combine,
            pad_value: self.rng().random(),
            ..block_load(Mem::Acc, sram, (src, xs, ys), (x, y, pad), lanes)
        };
        self.emit_load(l);
    }

    fn load_pbuf(&mut self) {
        let cols = self.b.cfg.array.cols as usize;
        let eb = PARAM_LANE_BYTES as usize * cols;
        let padded = self.rng().random_bool(0.3);
        let (x, y, pad) = self.shape(self.pbuf.largest().min(12), padded);
        let total = padded_entries(x, y, pad);
        let sram = self.pbuf.place(&mut self.b.rng, total);
        let entries = self.layout.params.len() / eb;
        let (src, xs, ys) = if self.rng().random_bool(0.7) && x * y <= entries {
            // Whole entries of the parameter block, in order.
            let first = self.rng().random_range(0..=entries - x * y);
            (self.layout.params.start + first * eb, eb, x * eb)
        } else {
            let region = self.layout.params.clone();
            self.place_ddr(x, y, eb, region)
        };
        let l = block_load(Mem::Pbuf, sram, (src, xs, ys), (x, y, pad), cols);
        self.emit_load(l);
    }

    /// Loop extents for GEMM / ALU: mostly a few iterations, sometimes none.
    fn loops(&mut self) -> Loop2 {
        let fit = self.ibuf.largest().min(self.acc.largest());
        let rng = &mut self.b.rng;
        let outer = match rng.random_range(0..50) {
            0 => 0,
            1..=20 => 1,
            _ => rng.random_range(2..=5),
        };
        let inner = match rng.random_range(0..50) {
            0 => 0,
            1..=5 => 1,
            6..=10 => rng.random_range(17..=48),
            _ => rng.random_range(2..=16),
        };
        // Mostly loops that fit a window with unit strides.
        let inner = if usize::from(outer) * usize::from(inner) > fit && rng.random_bool(0.9) {
            (fit / usize::from(outer)) as u16
        } else {
            inner
        };
        Loop2 { outer, inner }
    }

    /// A base and strides for `loops` inside one window of `w`.
    fn place_loop(&mut self, w: &Windows, loops: Loop2) -> (u16, Stride2) {
        let (o, i) = (usize::from(loops.outer), usize::from(loops.inner));
        for attempt in 0.. {
            let rng = self.rng();
            let si = if attempt > 8 {
                0 // always fits
            } else if attempt > 3 {
                1
            } else {
                match rng.random_range(0..10) {
                    0..=5 => 1,
                    6 => 0,
                    7 => 2,
                    _ => rng.random_range(0..=5),
                }
            };
            let so = if attempt > 8 {
                0
            } else if attempt > 3 {
                i * si
            } else {
                match rng.random_range(0..10) {
                    0..=5 => i * si,
                    6 => 0,
                    7 => i * si + rng.random_range(1..=4),
                    _ => rng.random_range(0..=24),
                }
            };
            if o == 0 || i == 0 {
                let base = w.place(rng, 1);
                return (base as u16, Stride2 { outer: rng.random(), inner: rng.random() });
            }
            let span = (o - 1) * so + (i - 1) * si + 1;
            if span <= w.largest() {
                let base = w.place(rng, span);
                return (base as u16, Stride2 { outer: so as u16, inner: si as u16 });
            }
        }
        unreachable!()
    }

    fn gemm(&mut self) {
        let cfg = self.b.cfg;
        let rows = cfg.array.rows as usize;
        let loops = self.loops();
        let (mut ibuf_addr, mut ibuf_stride) = self.place_loop(&self.ibuf.clone(), loops);
        let (acc_addr, acc_stride) = self.place_loop(&self.acc.clone(), loops);
        let reuse = self.tile.is_some() && self.rng().random_bool(0.3);
        // An N:4 tile now and then where the array has the modes: its vectors are
        // 4 / N entries, so the IBUF loop is scaled by that (dense if it no longer fits).
        let modes = cfg.n_of_4_modes();
        let sparse = !modes.is_empty() && self.rng().random_bool(0.4);
        let mut nm = match self.tile {
            Some(t) if reuse => t.3,
            _ if sparse => modes[self.rng().random_range(0..modes.len())],
            _ => 0,
        };
        if nm != 0 {
            let r = nm::ratio(nm) as u16;
            // Strides scaled by 4 / N (an empty loop's random strides may not scale).
            let scaled = match (ibuf_stride.outer.checked_mul(r), ibuf_stride.inner.checked_mul(r)) {
                (Some(outer), Some(inner)) => Some((ibuf_addr / r * r, Stride2 { outer, inner })),
                _ => None,
            };
            let fits = |(base, stride): (u16, Stride2)| {
                stride.last_address(base, loops).map_or(0, |a| a + u64::from(r) - 1)
                    < u64::from(cfg.memory.ibuf_entries)
            };
            if let Some(scaled) = scaled.filter(|s| fits(*s)) {
                (ibuf_addr, ibuf_stride) = scaled;
            } else if !reuse {
                nm = 0;
            } else {
                // The reused sparse tile needs sparse vectors: one vector, at entry 0.
                (ibuf_addr, ibuf_stride) = (0, Stride2::default());
            }
        }
        let (wbuf_addr, w_zero, w_unsigned) = match self.tile {
            Some(t) if reuse => (t.0, t.1, t.2),
            _ => {
                let w = self.wbuf.place(&mut self.b.rng, nm::tile_entries(rows as u32, nm) as usize) as u16;
                let u = self.rng().random_bool(0.3);
                let zero = if nm != 0 { cfg.nm_weight_zero(u) } else { pick_zero(self.rng(), operand_range(cfg, u)) };
                (w, zero, u)
            }
        };
        let a_unsigned = self.rng().random_bool(0.3);
        let a_zero = pick_zero(self.rng(), operand_range(cfg, a_unsigned));
        let loops = if nm != 0 && ibuf_stride == Stride2::default() && ibuf_addr == 0 && reuse {
            Loop2 { outer: loops.outer.min(1), inner: loops.inner.min(1) }
        } else {
            loops
        };
        let g = Gemm {
            accumulate: self.rng().random_bool(0.5),
            reuse_weights: reuse,
            a_unsigned,
            w_unsigned,
            a_zero,
            w_zero,
            nm,
            wbuf_addr,
            ibuf_addr,
            acc_addr,
            loops,
            ibuf_stride,
            acc_stride,
            ..Default::default()
        };
        if !reuse {
            self.tile = Some((wbuf_addr, w_zero, w_unsigned, nm));
        }
        self.b.emit(Instr::Gemm(g));
    }

    fn alu(&mut self) {
        let op = AluOp::ALL[self.rng().random_range(0..AluOp::ALL.len())];
        let mut loops = self.loops();
        loops.inner = loops.inner.min(24);
        let (dst, dst_stride) = self.place_loop(&self.acc.clone(), loops);
        let use_imm = self.rng().random_bool(0.4);
        let rng = self.rng();
        let imm = if !use_imm {
            0
        } else {
            match op {
                AluOp::Shl | AluOp::SraRound if rng.random_bool(0.8) => rng.random_range(0..40),
                AluOp::Mul if rng.random_bool(0.7) => rng.random_range(-300..300),
                AluOp::Mbqm if rng.random_bool(0.7) => rng.random_range(1 << 30..i32::MAX),
                _ => rng.random(),
            }
        };
        let shift = if op == AluOp::Mbqm { rng.random_range(-31..=30) } else { 0 };
        let (src, src_stride) = if use_imm {
            if self.b.policy.junk {
                let rng = self.rng();
                (rng.random(), Stride2 { outer: rng.random(), inner: rng.random() })
            } else {
                (0, Stride2::default())
            }
        } else {
            self.place_loop(&self.acc.clone(), loops)
        };
        let a = Alu { op, use_imm, imm, shift, dst, src, loops, dst_stride, src_stride, ..Default::default() };
        self.b.emit(Instr::Alu(a));
    }

    fn store(&mut self) {
        let cfg = self.b.cfg;
        let cols = cfg.array.cols as usize;
        const TYPES: [OutType; 5] = [OutType::I8, OutType::U8, OutType::I4, OutType::U4, OutType::I32];
        let mut out_type = TYPES[self.rng().random_range(0..TYPES.len())];
        if out_type.bits() == 4 && cols < 2 {
            out_type = OutType::I8;
        }
        let lanes = pick_lanes(self.rng(), cols, out_type.bits() == 4);
        let float_ok: Vec<usize> = (0..self.pbuf_class.len())
            .filter(|e| self.pbuf_class[*e] == Params::FloatOk && self.pbuf.0.iter().any(|w| w.contains(e)))
            .collect();
        let in_window: Vec<usize> = self.pbuf.0.iter().flat_map(|w| w.clone()).collect();
        let rng = &mut self.b.rng;
        let mut mode = if out_type == OutType::I32 {
            RequantMode::None
        } else {
            [RequantMode::None, RequantMode::Fixed, RequantMode::FixedSingle, RequantMode::Float]
                [rng.random_range(0..4)]
        };
        if mode == RequantMode::Float && float_ok.is_empty() {
            mode = RequantMode::Fixed;
        }
        let pbuf_addr = match mode {
            RequantMode::None if self.b.policy.junk => usize::from(rng.random::<u16>()),
            RequantMode::None => 0,
            RequantMode::Float => float_ok[rng.random_range(0..float_ok.len())],
            _ => in_window[rng.random_range(0..in_window.len())],
        } as u16;
        let (lo, hi) = out_type.range();
        let (zero_point, clamp_lo, clamp_hi) = if out_type == OutType::I32 {
            // Unused for int32: anything goes.
            if self.b.policy.junk {
                (rng.random(), rng.random(), rng.random())
            } else {
                (0, 0, 0)
            }
        } else {
            let zp =
                if mode == RequantMode::None && self.b.policy.junk { rng.random() } else { pick_zero(rng, (lo, hi)) };
            let (a, b) = match rng.random_range(0..4) {
                0 => (lo, hi),
                1 => (i32::from(zp).clamp(lo, hi), hi), // ReLU
                _ => {
                    let a = rng.random_range(lo..=hi);
                    (a, rng.random_range(a..=hi))
                }
            };
            (zp, a as i16, b as i16)
        };
        let (x, y, _) = self.shape(self.acc.largest().min(64), false);
        // Fixed-point parameters are valid anywhere: step through a row's worth of
        // entries when they all lie in the loaded window.
        let pbuf_step = matches!(mode, RequantMode::Fixed | RequantMode::FixedSingle)
            && x > 1
            && self.b.rng.random_bool(0.3)
            && (0..x).all(|i| in_window.contains(&(usize::from(pbuf_addr) + i)));
        let acc_addr = self.acc.place(&mut self.b.rng, x * y);
        let eb = (lanes * out_type.bits() as usize).div_ceil(8);
        let (dst, xs, ys) = self.place_ddr(x, y, eb, self.layout.out.clone());
        let s = Store {
            out_type,
            mode,
            lanes: lanes as u8,
            zero_point,
            clamp_lo,
            clamp_hi,
            acc_addr: acc_addr as u16,
            pbuf_addr,
            pbuf_step,
            dram_addr: dst as u32,
            x_size: x as u16,
            y_size: y as u16,
            x_stride: xs as u32,
            y_stride: ys as u32,
            ..Default::default()
        };
        self.b.emit(Instr::Store(s));
    }
}

/// Entries a LOAD of an `x` by `y` block with `pad` writes (the padded block).
fn padded_entries(x: usize, y: usize, pad: Pad) -> usize {
    (y + usize::from(pad.top + pad.bottom)) * (x + usize::from(pad.left + pad.right))
}

/// A LOAD into `mem` at entry `sram` of the `x` by `y` block (with `pad`) that starts
/// at DDR `src` with strides `xs`, `ys`, `lanes` wide.
fn block_load(
    mem: Mem,
    sram: usize,
    (src, xs, ys): (usize, usize, usize),
    (x, y, pad): (usize, usize, Pad),
    lanes: usize,
) -> Load {
    Load {
        mem,
        sram_addr: sram as u16,
        dram_addr: src as u32,
        x_size: x as u16,
        y_size: y as u16,
        x_stride: xs as u32,
        y_stride: ys as u32,
        lanes: lanes as u8,
        pad,
        ..Default::default()
    }
}
