//! Convolution-like programs: implicit im2col as docs/isa.md §3 describes it. The
//! input tile sits in IBUF padded (LOAD pad fields, pad value = activation zero
//! point) with one entry per pixel and K block; each kernel tap is one GEMM (or a
//! few, the later ones reusing the weights in the array) whose IBUF loop walks the
//! padded image with strides (stride * padded width, stride). Weights stream
//! through a small ring of WBUF tiles, accumulators alternate between two halves;
//! the [`Builder`] adds the tokens. The expected output is computed directly (a
//! plain nested-loop convolution), independently of the golden model.

use super::builder::{Builder, SyncPolicy};
use super::Generated;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{
    encode_param_entries, operand_range, Gemm, Instr, Load, Loop2, Mem, OutType, Pad, Program, RequantMode, Store,
    Stride2, PARAM_LANE_BYTES,
};
use tessera_isa::quant::{quantize_multiplier, requantize, ParamLane};

/// One convolution: NHWC input, HWIO weights, NHWC output.
#[derive(Debug, Clone, Copy)]
pub struct ConvShape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub oc: usize,
    pub r: usize,
    pub s: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvShape {
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad - self.r) / self.stride + 1
    }

    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad - self.s) / self.stride + 1
    }
}

/// A raw operand (8 bits, or a 4-bit nibble) as the value it stands for.
pub fn ext(raw: u8, bits: u32, unsigned: bool) -> i32 {
    match (bits, unsigned) {
        (8, false) => i32::from(raw as i8),
        (4, false) => i32::from(((raw << 4) as i8) >> 4),
        _ => i32::from(raw),
    }
}

/// Operands as DDR holds them (two per byte, low nibble first, for 4 bits).
pub fn pack(values: &[u8], bits: u32) -> Vec<u8> {
    if bits == 8 {
        values.to_vec()
    } else {
        values.chunks(2).map(|p| (p[0] & 0xf) | (p.get(1).copied().unwrap_or(0) << 4)).collect()
    }
}

/// Packs output values (within the type's range).
pub fn pack_out(t: OutType, values: &[i32]) -> Vec<u8> {
    match t {
        OutType::I8 | OutType::U8 => values.iter().map(|v| *v as u8).collect(),
        OutType::I4 | OutType::U4 => values.chunks(2).map(|p| (p[0] as u8 & 0xf) | ((p[1] as u8 & 0xf) << 4)).collect(),
        OutType::I32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// The parameter lane that scales by `scale` in `mode` (float modes carry the f32
/// scale, fixed modes its TFLite multiplier).
pub fn param_lane(mode: RequantMode, bias: i32, scale: f64) -> ParamLane {
    match mode {
        RequantMode::Float => ParamLane::float(bias, scale as f32),
        _ => ParamLane::fixed(bias, quantize_multiplier(scale).expect("finite scale")),
    }
}

/// Consecutive DDR regions, each starting 0..64 bytes after the previous one ends
/// (unaligned on purpose).
#[derive(Default)]
pub struct Regions {
    len: usize,
}

impl Regions {
    /// The start of the next `bytes`-byte region.
    pub fn take(&mut self, rng: &mut StdRng, bytes: usize) -> usize {
        let start = self.len + rng.random_range(0..64);
        self.len = start + bytes;
        start
    }

    /// A random image that holds every region taken, with 64 spare bytes.
    pub fn image(&self, rng: &mut StdRng) -> Vec<u8> {
        (0..self.len + 64).map(|_| rng.random()).collect()
    }
}

/// A random conv-like case for `cfg`.
pub fn random_conv(cfg: &AccelConfig, seed: u64) -> Generated {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xc0de_c0de_0000_0002);
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let bits = cfg.array.operand_bits;
    let m = &cfg.memory;
    let even = |v: usize| if bits == 4 { (v + 1) & !1 } else { v };
    // Shapes that fit the on-chip memories without tiling over the image.
    let shape = loop {
        let r = rng.random_range(1..=3);
        let s = rng.random_range(1..=3);
        let stride = rng.random_range(1..=2);
        let pad = rng.random_range(0..=r.max(s) - 1);
        let sh = ConvShape {
            h: rng.random_range(r.max(1)..=9),
            w: rng.random_range(s.max(1)..=9),
            c: even(rng.random_range(1..=2 * rows + 1)),
            oc: even(rng.random_range(1..=2 * cols + 1)),
            r,
            s,
            stride,
            pad,
        };
        if sh.h + 2 * pad < r || sh.w + 2 * pad < s {
            continue;
        }
        let (hp, wp) = (sh.h + 2 * pad, sh.w + 2 * pad);
        let kb = sh.c.div_ceil(rows);
        let out = sh.out_h() * sh.out_w();
        if kb * hp * wp <= m.ibuf_entries as usize
            && 2 * out <= m.acc_entries as usize
            && m.wbuf_entries as usize >= rows
            && m.pbuf_entries >= 2
        {
            break sh;
        }
    };
    let a_unsigned = rng.random_bool(0.4);
    let w_unsigned = rng.random_bool(0.2);
    let a_zero = {
        let (lo, hi) = operand_range(cfg, a_unsigned);
        rng.random_range(lo..=hi) as i16
    };
    let w_zero = if rng.random_bool(0.5) {
        0.clamp(operand_range(cfg, w_unsigned).0, operand_range(cfg, w_unsigned).1) as i16
    } else {
        let (lo, hi) = operand_range(cfg, w_unsigned);
        rng.random_range(lo..=hi) as i16
    };
    let nib = |v: i16| (v as u8) & if bits == 4 { 0xf } else { 0xff };
    let raw = |rng: &mut StdRng| if bits == 4 { rng.random_range(0..16u8) } else { rng.random() };
    let input: Vec<u8> = (0..shape.h * shape.w * shape.c).map(|_| raw(&mut rng)).collect();
    let weights: Vec<u8> = (0..shape.r * shape.s * shape.c * shape.oc).map(|_| raw(&mut rng)).collect();

    // Output: raw int32 or requantized per channel.
    let requant = rng.random_bool(0.6);
    let mut out_type = OutType::I32;
    let mut mode = RequantMode::None;
    let (mut zp, mut clamp) = (0i16, (0i16, 0i16));
    let mut params = Vec::new();
    if requant {
        out_type = [OutType::I8, OutType::U8, OutType::I4, OutType::U4][rng.random_range(0..4)];
        if out_type.bits() == 4 && (!shape.oc.is_multiple_of(2) || !cols.is_multiple_of(2)) {
            out_type = OutType::I8;
        }
        mode = [RequantMode::Fixed, RequantMode::FixedSingle, RequantMode::Float][rng.random_range(0..3)];
        let (lo, hi) = out_type.range();
        zp = rng.random_range(lo..=hi) as i16;
        let a = rng.random_range(lo..=hi);
        clamp = if rng.random_bool(0.5) { (lo as i16, hi as i16) } else { (a as i16, rng.random_range(a..=hi) as i16) };
        let k = (shape.r * shape.s * shape.c) as f64;
        params = (0..shape.oc)
            .map(|_| {
                let bias = rng.random_range(-5000..5000);
                let scale = rng.random_range(0.2..4.0) / (k.sqrt() * 128.0 * if bits == 4 { 1.0 / 16.0 } else { 1.0 });
                param_lane(mode, bias, scale)
            })
            .collect();
    }

    // DDR layout (unaligned starts on purpose).
    let op_bytes = |n: usize| n * bits as usize / 8;
    let out_bytes = |n: usize| n * out_type.bits() as usize / 8;
    let mut regions = Regions::default();
    let in_addr = regions.take(&mut rng, op_bytes(input.len()));
    let w_addr = regions.take(&mut rng, op_bytes(weights.len()));
    let p_bytes = encode_param_entries(cols, &params);
    let p_addr = regions.take(&mut rng, p_bytes.len());
    let (oh, ow) = (shape.out_h(), shape.out_w());
    let out_addr = regions.take(&mut rng, out_bytes(oh * ow * shape.oc));
    let mut image = regions.image(&mut rng);
    image[in_addr..in_addr + op_bytes(input.len())].copy_from_slice(&pack(&input, bits));
    image[w_addr..w_addr + op_bytes(weights.len())].copy_from_slice(&pack(&weights, bits));
    image[p_addr..p_addr + p_bytes.len()].copy_from_slice(&p_bytes);

    let policy = SyncPolicy {
        fence: if rng.random_bool(0.2) { 0.1 } else { 0.0 },
        spare_pop: rng.random_range(0.0..0.3),
        spare_push: rng.random_range(0.0..0.3),
        junk: false,
    };
    let mut b = Builder::new(cfg, StdRng::seed_from_u64(rng.random()), policy, image.len());
    let (hp, wp) = (shape.h + 2 * shape.pad, shape.w + 2 * shape.pad);
    let k_blocks = shape.c.div_ceil(rows);
    let n_blocks = shape.oc.div_ceil(cols);
    let wbuf_slots = (m.wbuf_entries as usize / rows).min(rng.random_range(1..=6));
    let rows_per_gemm = rng.random_range(1..=oh);
    let p = shape.pad as u8;
    for kb in 0..k_blocks {
        b.emit(Instr::Load(Load {
            mem: Mem::Ibuf,
            sram_addr: (kb * hp * wp) as u16,
            dram_addr: (in_addr + op_bytes(kb * rows)) as u32,
            x_size: shape.w as u16,
            x_stride: op_bytes(shape.c) as u32,
            y_size: shape.h as u16,
            y_stride: op_bytes(shape.w * shape.c) as u32,
            lanes: rows.min(shape.c - kb * rows) as u8,
            pad: Pad { top: p, bottom: p, left: p, right: p },
            pad_value: nib(a_zero),
            ..Default::default()
        }));
    }
    let mut tiles = 0;
    for nb in 0..n_blocks {
        let lanes = cols.min(shape.oc - nb * cols);
        let acc_base = (nb % 2) * oh * ow;
        if requant {
            b.emit(Instr::Load(Load {
                mem: Mem::Pbuf,
                sram_addr: (nb % 2) as u16,
                dram_addr: (p_addr + nb * cols * PARAM_LANE_BYTES as usize) as u32,
                x_size: 1,
                x_stride: (cols * PARAM_LANE_BYTES as usize) as u32,
                y_size: 1,
                lanes: cols as u8,
                ..Default::default()
            }));
        }
        let mut first = true;
        for r in 0..shape.r {
            for s in 0..shape.s {
                for kb in 0..k_blocks {
                    let slot = tiles % wbuf_slots;
                    tiles += 1;
                    let k_valid = rows.min(shape.c - kb * rows);
                    b.emit(Instr::Load(Load {
                        mem: Mem::Wbuf,
                        sram_addr: (slot * rows) as u16,
                        dram_addr: (w_addr + op_bytes(((r * shape.s + s) * shape.c + kb * rows) * shape.oc + nb * cols))
                            as u32,
                        x_size: k_valid as u16,
                        x_stride: op_bytes(shape.oc) as u32,
                        y_size: 1,
                        lanes: lanes as u8,
                        pad: Pad { right: (rows - k_valid) as u8, ..Pad::default() },
                        pad_value: nib(w_zero),
                        ..Default::default()
                    }));
                    // Output rows in groups; later groups reuse the tile in the array.
                    for (g, oy0) in (0..oh).step_by(rows_per_gemm).enumerate() {
                        let n_rows = rows_per_gemm.min(oh - oy0);
                        b.emit(Instr::Gemm(Gemm {
                            accumulate: !first,
                            reuse_weights: g > 0,
                            a_unsigned,
                            w_unsigned,
                            a_zero,
                            w_zero,
                            wbuf_addr: (slot * rows) as u16,
                            ibuf_addr: (kb * hp * wp + oy0 * shape.stride * wp + r * wp + s) as u16,
                            acc_addr: (acc_base + oy0 * ow) as u16,
                            loops: Loop2 { outer: n_rows as u16, inner: ow as u16 },
                            ibuf_stride: Stride2 { outer: (shape.stride * wp) as u16, inner: shape.stride as u16 },
                            acc_stride: Stride2 { outer: ow as u16, inner: 1 },
                            ..Default::default()
                        }));
                    }
                    first = false;
                }
            }
        }
        b.emit(Instr::Store(Store {
            out_type,
            mode,
            lanes: lanes as u8,
            zero_point: zp,
            clamp_lo: clamp.0,
            clamp_hi: clamp.1,
            acc_addr: acc_base as u16,
            pbuf_addr: (nb % 2) as u16,
            dram_addr: (out_addr + out_bytes(nb * cols)) as u32,
            x_size: ow as u16,
            x_stride: out_bytes(shape.oc) as u32,
            y_size: oh as u16,
            y_stride: out_bytes(ow * shape.oc) as u32,
            ..Default::default()
        }));
    }
    b.emit_raw(Instr::Finish);

    // The convolution, directly.
    let acc_bits = cfg.array.acc_bits;
    let wrap = |v: i32| (v << (32 - acc_bits)) >> (32 - acc_bits);
    let mut out = Vec::with_capacity(oh * ow * shape.oc);
    for oy in 0..oh {
        for ox in 0..ow {
            for oc in 0..shape.oc {
                let mut sum = 0i32;
                for r in 0..shape.r {
                    for s in 0..shape.s {
                        let iy = (oy * shape.stride + r) as isize - shape.pad as isize;
                        let ix = (ox * shape.stride + s) as isize - shape.pad as isize;
                        if iy < 0 || ix < 0 || iy >= shape.h as isize || ix >= shape.w as isize {
                            continue;
                        }
                        for c in 0..shape.c {
                            let a = ext(input[(iy as usize * shape.w + ix as usize) * shape.c + c], bits, a_unsigned)
                                - i32::from(a_zero);
                            let w = ext(weights[((r * shape.s + s) * shape.c + c) * shape.oc + oc], bits, w_unsigned)
                                - i32::from(w_zero);
                            sum = sum.wrapping_add(a * w);
                        }
                    }
                }
                let acc = wrap(sum);
                out.push(if requant {
                    requantize(mode, acc, params[oc], i32::from(zp), i32::from(clamp.0), i32::from(clamp.1))
                } else {
                    acc
                });
            }
        }
    }
    let description = format!(
        "conv {}x{}x{} -> {} ({}x{} kernel, stride {}, pad {}), a={}{} w={}{}, out {:?} {:?}, {} WBUF slots, {} rows per GEMM",
        shape.h,
        shape.w,
        shape.c,
        shape.oc,
        shape.r,
        shape.s,
        shape.stride,
        shape.pad,
        if a_unsigned { "u" } else { "s" },
        a_zero,
        if w_unsigned { "u" } else { "s" },
        w_zero,
        out_type,
        mode,
        wbuf_slots,
        rows_per_gemm
    );
    Generated {
        image,
        program: Program::new(b.instrs),
        expected: vec![(out_addr, pack_out(out_type, &out))],
        description,
    }
}
