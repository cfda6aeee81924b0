//! Arithmetic corner cases of the store path and the ALU: accumulators at and
//! around the int32 (and `acc_bits`) limits, requantization parameters with
//! saturating multipliers, out-of-range shifts (clamped), wrapping biases, and f32
//! scales from subnormal to `f32::MAX`; every output type and mode, random clamps
//! and zero points; ALU ops with extreme operands. Tokens come from the [`Builder`].

use super::builder::{Builder, SyncPolicy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{
    encode_param_entries, AccElem, Alu, AluOp, Instr, Load, Loop2, Mem, OutType, Program, RequantMode, Store, Stride2,
    PARAM_LANE_BYTES,
};
use tessera_isa::quant::ParamLane;

const VALUES: [i32; 19] = [
    i32::MIN,
    i32::MIN + 1,
    -(1 << 30),
    -(1 << 23),
    -(1 << 19),
    -65536,
    -129,
    -128,
    -1,
    0,
    1,
    127,
    128,
    255,
    (1 << 19) - 1,
    (1 << 23) - 1,
    1 << 30,
    i32::MAX - 1,
    i32::MAX,
];

fn value(rng: &mut StdRng) -> i32 {
    if rng.random_bool(0.7) {
        VALUES[rng.random_range(0..VALUES.len())]
    } else {
        rng.random()
    }
}

fn fixed_lane(rng: &mut StdRng) -> ParamLane {
    let multiplier = match rng.random_range(0..8) {
        0 => i32::MIN,
        1 => i32::MAX,
        2 => 0,
        3 => -1,
        4 => 1 << 30,
        5 => rng.random_range(1 << 30..i32::MAX),
        _ => rng.random(),
    };
    let shift = match rng.random_range(0..8) {
        0 => -128,
        1 => 127,
        2 => -32,
        3 => 31,
        4 => -31,
        5 => 30,
        _ => rng.random_range(-31..=30),
    };
    ParamLane { bias: value(rng), multiplier, shift }
}

fn float_lane(rng: &mut StdRng) -> ParamLane {
    let scale = match rng.random_range(0..14) {
        0 => 0.0,
        1 => -0.0,
        2 => f32::from_bits(1),           // smallest subnormal
        3 => f32::from_bits(0x007f_ffff), // largest subnormal
        4 => f32::MIN_POSITIVE,
        5 => 1.0,
        6 => 0.5,
        7 => 1e-10,
        8 => 1e30,
        9 => f32::MAX,
        10 => -1.0,
        11 => -f32::MAX,
        12 => -rng.random_range(1e-6f32..1e-1),
        _ => rng.random_range(1e-7f32..10.0),
    };
    ParamLane::float(value(rng), scale)
}

/// A program of STOREs and ALU ops over extreme accumulators and parameters.
pub fn extremes_program(cfg: &AccelConfig, seed: u64) -> (Vec<u8>, Program) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xe7e7_0000_0000_0005);
    let cols = cfg.array.cols as usize;
    let m = &cfg.memory;
    let n_acc = (m.acc_entries as usize).min(64);
    let n_pbuf = m.pbuf_entries as usize;
    // Entries [0, n_fixed) of PBUF carry fixed-point extremes, the rest f32 scales.
    let n_fixed = n_pbuf.div_ceil(2);
    let acc_data: Vec<u8> = (0..n_acc * cols).flat_map(|_| value(&mut rng).to_le_bytes()).collect();
    let lanes: Vec<ParamLane> = (0..n_pbuf * cols)
        .map(|i| if i / cols < n_fixed { fixed_lane(&mut rng) } else { float_lane(&mut rng) })
        .collect();
    let params = encode_param_entries(cols, &lanes);
    let acc_at = 64;
    let params_at = (acc_at + acc_data.len()).next_multiple_of(64) + rng.random_range(0..8);
    let out_at = (params_at + params.len()).next_multiple_of(64);
    let len = out_at + 4096 + 64 * cols;
    let mut image: Vec<u8> = (0..len).map(|_| rng.random()).collect();
    image[acc_at..acc_at + acc_data.len()].copy_from_slice(&acc_data);
    image[params_at..params_at + params.len()].copy_from_slice(&params);

    let policy = SyncPolicy { fence: 0.05, spare_pop: 0.3, spare_push: 0.3, junk: false };
    let mut b = Builder::new(cfg, StdRng::seed_from_u64(rng.random()), policy, len);
    let reload = Load {
        mem: Mem::Acc,
        acc_elem: AccElem::I32,
        dram_addr: acc_at as u32,
        x_size: n_acc as u16,
        x_stride: (4 * cols) as u32,
        y_size: 1,
        lanes: cols as u8,
        ..Default::default()
    };
    b.emit(Instr::Load(reload));
    let entry = cols * PARAM_LANE_BYTES as usize;
    b.emit(Instr::Load(Load {
        mem: Mem::Pbuf,
        dram_addr: params_at as u32,
        x_size: n_pbuf as u16,
        x_stride: entry as u32,
        y_size: 1,
        lanes: cols as u8,
        ..Default::default()
    }));
    let mut out = out_at;
    for _ in 0..60 {
        match rng.random_range(0..10) {
            0 => {
                b.emit(Instr::Load(reload));
            }
            1..=3 => {
                let op = AluOp::ALL[rng.random_range(0..AluOp::ALL.len())];
                let use_imm = rng.random_bool(0.5);
                let n = rng.random_range(1..=8);
                let dst = rng.random_range(0..=n_acc - n) as u16;
                let src = rng.random_range(0..=n_acc - n) as u16;
                let imm = match (use_imm, op) {
                    (false, _) => 0,
                    (true, AluOp::Shl | AluOp::SraRound) => rng.random_range(0..64),
                    (true, _) => value(&mut rng),
                };
                let shift = if op == AluOp::Mbqm { [-31, -1, 0, 1, 30][rng.random_range(0..5)] } else { 0 };
                b.emit(Instr::Alu(Alu {
                    op,
                    use_imm,
                    imm,
                    shift,
                    dst,
                    src: if use_imm { 0 } else { src },
                    loops: Loop2::flat(n as u16),
                    dst_stride: Stride2::UNIT,
                    src_stride: if use_imm { Stride2::default() } else { Stride2::UNIT },
                    ..Default::default()
                }));
            }
            _ => {
                let out_type =
                    [OutType::I8, OutType::U8, OutType::I4, OutType::U4, OutType::I32][rng.random_range(0..5)];
                let out_type = if out_type.bits() == 4 && !cols.is_multiple_of(2) { OutType::I8 } else { out_type };
                let mode = if out_type == OutType::I32 {
                    RequantMode::None
                } else {
                    [RequantMode::None, RequantMode::Fixed, RequantMode::FixedSingle, RequantMode::Float]
                        [rng.random_range(0..4)]
                };
                let pbuf_addr = match mode {
                    RequantMode::Float if n_fixed < n_pbuf => rng.random_range(n_fixed..n_pbuf),
                    RequantMode::Float => continue,
                    _ => rng.random_range(0..n_fixed),
                } as u16;
                let (lo, hi) = out_type.range();
                let (zp, clamp) = if out_type == OutType::I32 {
                    (0, (0, 0))
                } else {
                    let c = rng.random_range(lo..=hi);
                    let clamp = if rng.random_bool(0.6) { (lo, hi) } else { (c, rng.random_range(c..=hi)) };
                    let zp = [lo, hi, 0.clamp(lo, hi), rng.random_range(lo..=hi)][rng.random_range(0..4)];
                    (zp as i16, (clamp.0 as i16, clamp.1 as i16))
                };
                let n = rng.random_range(1..=8);
                let eb = cols * out_type.bits() as usize / 8;
                if out + n * eb > len {
                    out = out_at;
                }
                b.emit(Instr::Store(Store {
                    out_type,
                    mode,
                    lanes: cols as u8,
                    zero_point: zp,
                    clamp_lo: clamp.0,
                    clamp_hi: clamp.1,
                    acc_addr: rng.random_range(0..=n_acc - n) as u16,
                    pbuf_addr,
                    dram_addr: out as u32,
                    x_size: n as u16,
                    x_stride: eb as u32,
                    y_size: 1,
                    ..Default::default()
                }));
                out += n * eb + rng.random_range(0..3);
            }
        }
    }
    b.emit_raw(Instr::Finish);
    (image, Program::new(b.instrs))
}
