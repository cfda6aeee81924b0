//! Golden model and Verilated RTL run the same GEMM programs; DDR images, MAC and
//! instruction counts must be identical.

mod common;

use common::{cosim, pack_operands, DdrImage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_compiler::gemm::{lower_gemm, GemmOutput, GemmSpec, OperandQuant};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{encode_param_entries, OutType, RequantMode};
use tessera_isa::quant::{quantize_multiplier, ParamLane};
use tessera_isa::regs::Counter;

fn random_operands(rng: &mut StdRng, n: usize, q: OperandQuant, bits: u32) -> Vec<i32> {
    let (lo, hi) = match (q.unsigned, bits) {
        (false, 8) => (-128, 127),
        (true, 8) => (0, 255),
        (false, _) => (-8, 7),
        (true, _) => (0, 15),
    };
    (0..n).map(|_| rng.random_range(lo..=hi)).collect()
}

struct Case {
    m: usize,
    k: usize,
    n: usize,
    a: OperandQuant,
    w: OperandQuant,
    requant: bool,
    seed: u64,
}

fn gemm_case(cfg: &AccelConfig, case: Case) {
    let Case { m, k, n, a, w, requant, seed } = case;
    let bits = cfg.array.operand_bits;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ddr = DdrImage::default();
    let a_addr = ddr.push(&pack_operands(&random_operands(&mut rng, m * k, a, bits), bits));
    let b_addr = ddr.push(&pack_operands(&random_operands(&mut rng, k * n, w, bits), bits));
    let output = if requant {
        // The seed picks the requantization arithmetic: TFLite double or single
        // rounding, or the ONNX float path.
        let mode = [RequantMode::Fixed, RequantMode::FixedSingle, RequantMode::Float][(seed % 3) as usize];
        let params: Vec<ParamLane> = (0..n)
            .map(|_| {
                let (bias, scale) = (rng.random_range(-3000..3000), rng.random_range(1e-4..4e-3));
                match mode {
                    RequantMode::Float => ParamLane::float(bias, scale as f32),
                    _ => ParamLane::fixed(bias, quantize_multiplier(scale).unwrap()),
                }
            })
            .collect();
        let params_addr = ddr.push(&encode_param_entries(cfg.array.cols as usize, &params));
        GemmOutput::Requant { params_addr, mode, out_type: OutType::I8, zero_point: -3, clamp: (-120, 125) }
    } else {
        GemmOutput::Raw32
    };
    let out_bytes = if requant { m * n } else { 4 * m * n };
    let c_addr = ddr.reserve(out_bytes);
    let spec = GemmSpec { m, k, n, a_addr, b_addr, c_addr, c_row_stride: n, a, w, output };
    let (program, _) = lower_gemm(cfg, &spec).unwrap();
    let run = cosim(cfg, &ddr, &program);
    let stats = run.golden_result.as_ref().expect("checked by cosim");
    assert_eq!(run.outcome.counter(Counter::Macs), stats.macs, "MAC counter");
    assert_eq!(run.outcome.counter(Counter::Instructions), stats.instructions, "instruction counter");
    assert_eq!(run.outcome.counter(Counter::DmaReadBytes), stats.dma_read_bytes, "DMA read bytes");
    assert_eq!(run.outcome.counter(Counter::DmaWriteBytes), stats.dma_write_bytes, "DMA write bytes");
}

const S: OperandQuant = OperandQuant { zero: 0, unsigned: false };

#[test]
fn tiny_raw_gemms() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    for (i, (m, k, n)) in [(4, 4, 4), (5, 7, 3), (17, 33, 9), (1, 1, 1), (40, 20, 13)].into_iter().enumerate() {
        gemm_case(&cfg, Case { m, k, n, a: S, w: S, requant: false, seed: i as u64 });
    }
}

#[test]
fn tiny_requantized_gemms() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    for (i, (m, k, n)) in [(6, 10, 8), (21, 37, 10), (3, 5, 7)].into_iter().enumerate() {
        gemm_case(&cfg, Case { m, k, n, a: S, w: S, requant: true, seed: 10 + i as u64 });
    }
}

#[test]
fn tiny_zero_points_and_unsigned() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    gemm_case(
        &cfg,
        Case { m: 13, k: 22, n: 11, a: OperandQuant { zero: 128, unsigned: true }, w: S, requant: false, seed: 20 },
    );
    let (a, w) = (OperandQuant { zero: -5, unsigned: false }, OperandQuant { zero: 114, unsigned: true });
    gemm_case(&cfg, Case { m: 9, k: 14, n: 6, a, w, requant: true, seed: 21 });
}

#[test]
fn pynq_z2_gemms() {
    let cfg = AccelConfig::builtin("pynq-z2").unwrap();
    gemm_case(&cfg, Case { m: 64, k: 300, n: 70, a: S, w: S, requant: false, seed: 30 });
    gemm_case(
        &cfg,
        Case { m: 33, k: 64, n: 40, a: OperandQuant { zero: 3, unsigned: false }, w: S, requant: true, seed: 31 },
    );
}

/// The tiny array with 4-bit operands (two per byte in DDR and on-chip).
#[test]
fn tiny_int4_gemms() {
    let mut cfg = AccelConfig::builtin("tiny").unwrap();
    cfg.name = "tiny-int4".into();
    cfg.array.operand_bits = 4;
    assert!(cfg.problems().is_empty(), "{:?}", cfg.problems());
    gemm_case(&cfg, Case { m: 9, k: 12, n: 8, a: S, w: S, requant: false, seed: 40 });
    let (a, w) = (OperandQuant { zero: 9, unsigned: true }, OperandQuant { zero: -3, unsigned: false });
    gemm_case(&cfg, Case { m: 7, k: 10, n: 6, a, w, requant: true, seed: 41 });
    let (a, w) = (OperandQuant { zero: -8, unsigned: false }, OperandQuant { zero: 15, unsigned: true });
    gemm_case(&cfg, Case { m: 5, k: 8, n: 4, a, w, requant: false, seed: 42 });
}
