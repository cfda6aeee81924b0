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

fn gemm_case(
    cfg: &AccelConfig,
    m: usize,
    k: usize,
    n: usize,
    a: OperandQuant,
    w: OperandQuant,
    requant: bool,
    seed: u64,
) {
    let bits = cfg.array.operand_bits;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ddr = DdrImage::default();
    let a_addr = ddr.push(&pack_operands(&random_operands(&mut rng, m * k, a, bits), bits));
    let b_addr = ddr.push(&pack_operands(&random_operands(&mut rng, k * n, w, bits), bits));
    let output = if requant {
        let params: Vec<ParamLane> = (0..n)
            .map(|_| {
                ParamLane::fixed(
                    rng.random_range(-3000..3000),
                    quantize_multiplier(rng.random_range(1e-4..4e-3)).unwrap(),
                )
            })
            .collect();
        let params_addr = ddr.push(&encode_param_entries(cfg.array.cols as usize, &params));
        let mode = if seed % 2 == 0 { RequantMode::Fixed } else { RequantMode::FixedSingle };
        GemmOutput::Requant { params_addr, mode, out_type: OutType::I8, zero_point: -3, clamp: (-120, 125) }
    } else {
        GemmOutput::Raw32
    };
    let out_bytes = if requant { m * n } else { 4 * m * n };
    let c_addr = ddr.reserve(out_bytes);
    let spec = GemmSpec { m, k, n, a_addr, b_addr, c_addr, a, w, output };
    let (program, _) = lower_gemm(cfg, &spec).unwrap();
    let run = cosim(cfg, &ddr, &program);
    assert_eq!(run.outcome.counter(Counter::Macs), run.stats.macs, "MAC counter");
    assert_eq!(run.outcome.counter(Counter::Instructions), run.stats.instructions, "instruction counter");
    assert_eq!(run.outcome.counter(Counter::DmaReadBytes), run.stats.dma_read_bytes, "DMA read bytes");
    assert_eq!(run.outcome.counter(Counter::DmaWriteBytes), run.stats.dma_write_bytes, "DMA write bytes");
}

const S: OperandQuant = OperandQuant { zero: 0, unsigned: false };

#[test]
fn tiny_raw_gemms() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    for (i, (m, k, n)) in [(4, 4, 4), (5, 7, 3), (17, 33, 9), (1, 1, 1), (40, 20, 13)].into_iter().enumerate() {
        gemm_case(&cfg, m, k, n, S, S, false, i as u64);
    }
}

#[test]
fn tiny_requantized_gemms() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    for (i, (m, k, n)) in [(6, 10, 8), (21, 37, 10), (3, 5, 7)].into_iter().enumerate() {
        gemm_case(&cfg, m, k, n, S, S, true, 10 + i as u64);
    }
}

#[test]
fn tiny_zero_points_and_unsigned() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    gemm_case(&cfg, 13, 22, 11, OperandQuant { zero: 128, unsigned: true }, S, false, 20);
    gemm_case(
        &cfg,
        9,
        14,
        6,
        OperandQuant { zero: -5, unsigned: false },
        OperandQuant { zero: 114, unsigned: true },
        true,
        21,
    );
}
