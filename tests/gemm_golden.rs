//! Tiled GEMM programs from the compiler's GEMM lowering, run on the golden model
//! and compared with an ndarray int32 reference, over shapes that exercise edge
//! tiles in M, N and K, K split across steps, zero points, unsigned and 4-bit operands.

mod common;

use common::{pack_operands, DdrImage};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tessera_compiler::gemm::{
    blocked_order, lower_gemm, lower_gemm_with, sparse_a_slack, GemmOutput, GemmSpec, OperandQuant, WeightLayout,
};
use tessera_compiler::sparsity::pack_nm_weights;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{encode_param_entries, OutType, RequantMode};
use tessera_isa::quant::{self, ParamLane};
use tessera_sim::Golden;

struct Case {
    m: usize,
    k: usize,
    n: usize,
    a: OperandQuant,
    w: OperandQuant,
}

fn random_matrix(rng: &mut StdRng, rows: usize, cols: usize, q: OperandQuant, bits: u32) -> Array2<i32> {
    let (lo, hi) = match (q.unsigned, bits) {
        (false, 8) => (-128, 127),
        (true, 8) => (0, 255),
        (false, 4) => (-8, 7),
        (true, 4) => (0, 15),
        _ => unreachable!(),
    };
    Array2::from_shape_fn((rows, cols), |_| rng.random_range(lo..=hi))
}

/// Runs the GEMM with raw int32 output and checks it against ndarray.
fn check_raw(cfg: &AccelConfig, case: &Case, seed: u64) {
    check_raw_in(cfg, case, seed, WeightLayout::RowMajor)
}

/// [`check_raw`] with the weights stored in `layout`.
fn check_raw_in(cfg: &AccelConfig, case: &Case, seed: u64, layout: WeightLayout) {
    let bits = cfg.array.operand_bits;
    let mut rng = StdRng::seed_from_u64(seed);
    let a = random_matrix(&mut rng, case.m, case.k, case.a, bits);
    let mut b = random_matrix(&mut rng, case.k, case.n, case.w, bits);

    let mut ddr = DdrImage::default();
    let a_addr = ddr.push(&pack_operands(a.as_slice().unwrap(), bits));
    let b_stored: Vec<u8> = match layout {
        WeightLayout::RowMajor => pack_operands(b.as_slice().unwrap(), bits),
        WeightLayout::Blocked => {
            let row_major = b.as_slice().unwrap();
            let blocked: Vec<i32> =
                blocked_order(case.k, case.n, cfg.array.cols as usize).into_iter().map(|i| row_major[i]).collect();
            pack_operands(&blocked, bits)
        }
        WeightLayout::Sparse(n) => {
            // Keep n random positions of every group of four, per column pair.
            for g in (0..case.k).step_by(4) {
                for p in (0..case.n).step_by(2) {
                    let keep: Vec<usize> = (0..usize::from(n)).map(|_| g + rng.random_range(0..4)).collect();
                    for kk in (g..(g + 4).min(case.k)).filter(|kk| !keep.contains(kk)) {
                        for c in p..(p + 2).min(case.n) {
                            b[[kk, c]] = i32::from(case.w.zero);
                        }
                    }
                }
            }
            ddr.reserve(sparse_a_slack(cfg, case.k, n));
            let raw: Vec<u8> = b.iter().map(|&v| v as u8).collect();
            pack_nm_weights(cfg, &raw, case.k, case.n, n, case.w.zero).expect("pruned to N:4 above")
        }
    };
    let b_addr = ddr.push(&b_stored);
    let c_addr = ddr.reserve(4 * case.m * case.n);
    let spec = GemmSpec {
        m: case.m,
        k: case.k,
        n: case.n,
        a_addr,
        b_addr,
        c_addr,
        c_row_stride: case.n,
        a: case.a,
        w: case.w,
        output: GemmOutput::Raw32,
    };
    let (program, tiling) = lower_gemm_with(cfg, &spec, layout).unwrap();
    let stats = Golden::new(cfg).run(&program, &mut ddr.bytes).unwrap_or_else(|e| panic!("{}: {e}", cfg.name));

    let expected = (&a - i32::from(case.a.zero)).dot(&(&b - i32::from(case.w.zero)));
    let got = Array2::from_shape_vec((case.m, case.n), ddr.read_i32(c_addr, case.m * case.n)).unwrap();
    assert_eq!(got, expected, "{} {}x{}x{} tiling {tiling:?}", cfg.name, case.m, case.k, case.n);

    // Every MAC the array issues covers one padded tile position (of rows * 4 / N
    // reduction positions for N:4 tiles).
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let span = match layout {
        WeightLayout::Sparse(n) => rows * 4 / usize::from(n),
        _ => rows,
    };
    let padded = case.m * case.k.div_ceil(span) * rows * case.n.div_ceil(cols) * cols;
    assert_eq!(stats.macs as usize, padded);
}

/// N:4 tiles through the whole lowering (M tiles, K steps over several WBUF slots,
/// partial column blocks, K tails past the last group, unsigned weights), on the
/// golden model against ndarray's product of the same pruned weights.
#[test]
fn n_of_4_sparse_lowering() {
    let uw = OperandQuant { zero: 128, unsigned: true };
    let shapes = [(5, 7, 3), (17, 33, 9), (64, 100, 40), (9, 260, 30), (1, 1024, 48), (300, 70, 18)];
    for config in ["tiny-sparse", "pynq-z2-sparse"] {
        let cfg = AccelConfig::builtin(config).unwrap();
        for (i, (m, k, n)) in shapes.into_iter().enumerate() {
            for (nm, w) in [(2, SIGNED), (1, uw)] {
                check_raw_in(&cfg, &Case { m, k, n, a: SIGNED, w }, 400 + i as u64, WeightLayout::Sparse(nm));
            }
        }
    }
}

const SIGNED: OperandQuant = OperandQuant { zero: 0, unsigned: false };

/// Column-blocked weights (what the compiler stores for constant weights) give the
/// same products, including partial column blocks, K tails and 4-bit operands.
#[test]
fn blocked_weight_layout() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let uw = OperandQuant { zero: 131, unsigned: true };
    for (i, (m, k, n)) in [(5, 7, 3), (17, 33, 9), (64, 100, 40), (9, 260, 30)].into_iter().enumerate() {
        check_raw_in(&cfg, &Case { m, k, n, a: SIGNED, w: uw }, 90 + i as u64, WeightLayout::Blocked);
    }
    let mut int4 = cfg.clone();
    int4.array.operand_bits = 4;
    check_raw_in(&int4, &Case { m: 7, k: 10, n: 6, a: SIGNED, w: SIGNED }, 95, WeightLayout::Blocked);
}

#[test]
fn tiny_config_shapes() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let shapes = [(1, 1, 1), (4, 4, 4), (5, 7, 3), (17, 33, 9), (3, 4, 5), (64, 100, 40), (200, 9, 2), (1, 130, 1)];
    for (i, (m, k, n)) in shapes.into_iter().enumerate() {
        check_raw(&cfg, &Case { m, k, n, a: SIGNED, w: SIGNED }, i as u64);
    }
}

#[test]
fn zero_points_and_unsigned_operands() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let cases = [
        (OperandQuant { zero: 128, unsigned: true }, SIGNED),
        (OperandQuant { zero: -5, unsigned: false }, OperandQuant { zero: 3, unsigned: false }),
        (OperandQuant { zero: 12, unsigned: true }, OperandQuant { zero: 114, unsigned: true }),
    ];
    for (i, (a, w)) in cases.into_iter().enumerate() {
        check_raw(&cfg, &Case { m: 13, k: 22, n: 11, a, w }, 100 + i as u64);
    }
}

#[test]
fn pynq_z2_config_shapes() {
    let cfg = AccelConfig::builtin("pynq-z2").unwrap();
    for (i, (m, k, n)) in [(64, 300, 70), (1, 1024, 48), (130, 17, 33)].into_iter().enumerate() {
        check_raw(&cfg, &Case { m, k, n, a: SIGNED, w: SIGNED }, 200 + i as u64);
    }
}

#[test]
fn four_bit_operands() {
    let mut cfg = AccelConfig::builtin("tiny").unwrap();
    cfg.array.operand_bits = 4;
    check_raw(&cfg, &Case { m: 9, k: 14, n: 6, a: SIGNED, w: SIGNED }, 300);
    check_raw(
        &cfg,
        &Case {
            m: 5,
            k: 10,
            n: 10,
            a: OperandQuant { zero: 8, unsigned: true },
            w: OperandQuant { zero: -1, unsigned: false },
        },
        301,
    );
}

/// Requantized int8 output: program on the golden model vs ndarray GEMM followed by
/// the scalar requantization function, per column parameters, both rounding modes.
#[test]
fn requantized_output_matches_scalar_reference() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let (m, k, n) = (21, 37, 10);
    let mut rng = StdRng::seed_from_u64(400);
    let a = random_matrix(&mut rng, m, k, SIGNED, 8);
    let b = random_matrix(&mut rng, k, n, SIGNED, 8);
    let params: Vec<ParamLane> = (0..n)
        .map(|_| {
            let scale = rng.random_range(1e-4..5e-3);
            ParamLane::fixed(rng.random_range(-5000..5000), quant::quantize_multiplier(scale).unwrap())
        })
        .collect();
    for mode in [RequantMode::Fixed, RequantMode::FixedSingle] {
        let mut ddr = DdrImage::default();
        let a_addr = ddr.push(&pack_operands(a.as_slice().unwrap(), 8));
        let b_addr = ddr.push(&pack_operands(b.as_slice().unwrap(), 8));
        let params_addr = ddr.push(&encode_param_entries(cfg.array.cols as usize, &params));
        let c_addr = ddr.reserve(m * n);
        let output =
            GemmOutput::Requant { params_addr, mode, out_type: OutType::I8, zero_point: -7, clamp: (-100, 120) };
        let spec = GemmSpec { m, k, n, a_addr, b_addr, c_addr, c_row_stride: n, a: SIGNED, w: SIGNED, output };
        let (program, _) = lower_gemm(&cfg, &spec).unwrap();
        Golden::new(&cfg).run(&program, &mut ddr.bytes).unwrap();
        let acc = a.dot(&b);
        let got = ddr.read_i8(c_addr, m * n);
        for r in 0..m {
            for c in 0..n {
                let want = quant::requantize(mode, acc[[r, c]], params[c], -7, -100, 120);
                assert_eq!(i32::from(got[r * n + c]), want, "{mode:?} at ({r}, {c})");
            }
        }
    }
}

/// Unstructured-sparse GEMMs through the sparse engine's lowering (several output
/// tiles with double-buffered accumulator halves, K tiles that accumulate, K tails,
/// empty and dense output channels, zero activations, unsigned operands with zero
/// points) on the golden model against ndarray's product of the same pruned weights.
#[test]
fn sparse_engine_lowering() {
    use tessera_compiler::spmv::{lower_spmv, pack_weights, SpmvSpec};
    let uw = OperandQuant { zero: 131, unsigned: true };
    let ua = OperandQuant { zero: 7, unsigned: true };
    let shapes = [(1, 7, 3), (3, 33, 9), (1, 100, 40), (2, 260, 30), (1, 1024, 300), (5, 64, 70)];
    for config in ["tiny-sparse", "pynq-z2-sparse"] {
        let cfg = AccelConfig::builtin(config).unwrap();
        for (i, (m, k, n)) in shapes.into_iter().enumerate() {
            for (density, a_q, w_q) in [(0.1, SIGNED, SIGNED), (0.3, ua, uw), (0.02, SIGNED, uw)] {
                let mut rng = StdRng::seed_from_u64(700 + i as u64);
                let mut a = random_matrix(&mut rng, m, k, a_q, 8);
                a.mapv_inplace(|v| if rng.random_bool(0.2) { i32::from(a_q.zero) } else { v });
                let mut b = random_matrix(&mut rng, k, n, w_q, 8);
                let dense_column = rng.random_range(0..n);
                for ((kk, c), v) in b.indexed_iter_mut() {
                    if c != dense_column && (c % 5 == 1 || !rng.random_bool(density)) && kk < k {
                        *v = i32::from(w_q.zero);
                    }
                }
                let raw: Vec<u8> = b.iter().map(|&v| v as u8).collect();
                let Ok(weights) = pack_weights(&cfg, [m, k, n], &raw, w_q.zero, false) else {
                    assert_eq!(config, "tiny-sparse", "pynq-z2-sparse takes {m}x{k}x{n}");
                    continue;
                };
                let mut ddr = DdrImage::default();
                let a_addr = ddr.push(&pack_operands(a.as_slice().unwrap(), 8));
                ddr.reserve(cfg.array.rows as usize);
                let w_addr = ddr.push(&weights.bytes(cfg.array.cols as usize));
                let c_addr = ddr.reserve(4 * m * n);
                let spec = SpmvSpec { m, k, n, a_addr, w_addr, c_addr, a: a_q, w: w_q, output: GemmOutput::Raw32 };
                let program = lower_spmv(&cfg, &spec, &weights);
                let stats = Golden::new(&cfg).run(&program, &mut ddr.bytes).unwrap_or_else(|e| panic!("{config}: {e}"));
                let expected = (&a - i32::from(a_q.zero)).dot(&(&b - i32::from(w_q.zero)));
                let got = Array2::from_shape_vec((m, n), ddr.read_i32(c_addr, m * n)).unwrap();
                assert_eq!(got, expected, "{config} {m}x{k}x{n} density {density}");
                // One MAC per nonzero weight whose activation is not the zero point.
                let macs: usize = (0..m)
                    .map(|r| {
                        (0..k)
                            .filter(|&kk| a[[r, kk]] != i32::from(a_q.zero))
                            .map(|kk| (0..n).filter(|&c| b[[kk, c]] != i32::from(w_q.zero)).count())
                            .sum::<usize>()
                    })
                    .sum();
                assert_eq!(stats.macs as usize, macs, "{config} {m}x{k}x{n}");
            }
        }
    }
}
