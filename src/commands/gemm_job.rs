//! A random quantized int8 GEMM with per-channel requantization (the core of every
//! dense and convolution layer) as a program bundle, with its independent
//! reference: ndarray for the integer product, the scalar requantization of
//! `tessera_isa::quant` for the output stage. `demo`, `bench gemm` and `bench
//! sparse` run it; the latter prunes the weights first and may run them as N:4 tiles.

use super::backend::{self, Backend};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::{Duration, Instant};
use tessera_compiler::engine::Engine;
use tessera_compiler::gemm::{GemmTiling, OperandQuant};
use tessera_compiler::gemm_bundle::{gemm_bundle, BundleOutput, GemmOperands};
use tessera_compiler::onnx::prune::n_of_m_drops;
use tessera_driver::RunReport;
use tessera_isa::bundle::Bundle;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{OutType, RequantMode};
use tessera_isa::quant::{self, ParamLane};

/// How the job's random weights are pruned (to zero, their zero point).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pruning {
    None,
    /// N nonzero positions in every group of four along K, shared by each column pair
    /// (the positions with the largest magnitude sum of the pair's two weights).
    NOf4(u8),
    /// This fraction of all weights, chosen at random.
    Unstructured(f64),
}

pub struct GemmJob {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub bundle: Bundle,
    pub tiling: GemmTiling,
    /// The reference output, row-major `M x N`.
    pub expected: Vec<i8>,
    /// The (pruned) weights, row-major `K x N`, int8 bytes.
    pub weights: Vec<u8>,
}

/// Builds the GEMM `M x K x N` with operands and scales drawn from `seed`.
pub fn build(cfg: &AccelConfig, m: usize, k: usize, n: usize, seed: u64) -> anyhow::Result<GemmJob> {
    build_pruned(cfg, [m, k, n], seed, Pruning::None, Engine::Dense)
}

/// [`build`] with the weights pruned by `pruning`, run on `engine`.
pub fn build_pruned(
    cfg: &AccelConfig,
    [m, k, n]: [usize; 3],
    seed: u64,
    pruning: Pruning,
    engine: Engine,
) -> anyhow::Result<GemmJob> {
    anyhow::ensure!(
        cfg.array.operand_bits == 8,
        "this GEMM uses int8 operands; `{}` has {}-bit operands",
        cfg.name,
        cfg.array.operand_bits
    );
    for (name, v) in [("M", m), ("K", k), ("N", n)] {
        anyhow::ensure!((1..=8192).contains(&v), "{name} must be in 1..=8192, got {v}");
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let a = Array2::from_shape_fn((m, k), |_| rng.random_range(-128i32..=127));
    let mut b = Array2::from_shape_fn((k, n), |_| rng.random_range(-128i32..=127));
    prune(&mut b, pruning, &mut rng);
    let a_zero = A_ZERO;
    let params = random_params(&mut rng, k, n);
    let (zero_point, clamp) = (OUT_ZERO, (-128i16, 127i16));

    let bytes = |x: &Array2<i32>| x.iter().map(|v| *v as u8).collect::<Vec<u8>>();
    let (a_bytes, b_bytes) = (bytes(&a), bytes(&b));
    let ops = GemmOperands {
        m,
        k,
        n,
        a: &a_bytes,
        a_quant: OperandQuant { zero: a_zero, unsigned: false },
        w: &b_bytes,
        w_quant: OperandQuant::default(),
        engine,
    };
    let output =
        BundleOutput::Requant { params: &params, mode: RequantMode::Fixed, out_type: OutType::I8, zero_point, clamp };
    let (bundle, tiling) = gemm_bundle(cfg, &ops, output, format!("random int8 GEMM {m}x{k}x{n}, seed {seed}"))?;

    let acc = (&a - i32::from(a_zero)).dot(&b);
    let expected = requantize_all(acc.iter().copied(), &params);
    Ok(GemmJob { m, k, n, bundle, tiling, expected, weights: b_bytes })
}

/// The jobs' activation and output zero points.
pub const A_ZERO: i16 = 3;
pub const OUT_ZERO: i16 = -4;

/// Per-output-channel requantization as a TFLite per-channel layer has it: a bias
/// and a fixed-point multiplier scaled for a `k`-long reduction.
pub fn random_params(rng: &mut StdRng, k: usize, n: usize) -> Vec<ParamLane> {
    (0..n)
        .map(|_| {
            let real = rng.random_range(2e-5..2e-4) * 64.0 / (k as f64).sqrt();
            ParamLane::fixed(rng.random_range(-2000..2000), quant::quantize_multiplier(real).expect("finite scale"))
        })
        .collect()
}

/// Row-major int32 accumulators (`params.len()` columns) requantized to int8.
pub fn requantize_all(acc: impl Iterator<Item = i32>, params: &[ParamLane]) -> Vec<i8> {
    acc.enumerate()
        .map(|(i, v)| {
            quant::requantize(RequantMode::Fixed, v, params[i % params.len()], OUT_ZERO.into(), -128, 127) as i8
        })
        .collect()
}

/// Zeroes the weights `pruning` removes.
pub fn prune(b: &mut Array2<i32>, pruning: Pruning, rng: &mut StdRng) {
    let (k, n) = b.dim();
    match pruning {
        Pruning::None => {}
        Pruning::NOf4(keep) => {
            // `tessera prune`'s rule: groups along K, shared by each column pair.
            let magnitude = |i: usize| f64::from(b[[i / n, i % n]].abs());
            for i in n_of_m_drops(&[k, n], 0, 1, keep.into(), 4, magnitude) {
                b[[i / n, i % n]] = 0;
            }
        }
        Pruning::Unstructured(fraction) => {
            let mut order: Vec<usize> = (0..k * n).collect();
            let drop = ((k * n) as f64 * fraction).round() as usize;
            for i in 0..drop {
                let j = rng.random_range(i..order.len());
                order.swap(i, j);
                b[[order[i] / n, order[i] % n]] = 0;
            }
        }
    }
}

/// A completed, checked run of a [`GemmJob`].
pub struct GemmRun {
    pub report: RunReport,
    /// Wall-clock time of the run itself (device already open).
    pub wall: Duration,
    /// The output tensor `c` as the device left it.
    pub output: Vec<u8>,
}

/// Runs `bundle` on `backend` and checks its output `c` (int8) against `expected`.
pub fn run_checked(
    cfg: &AccelConfig,
    backend: Backend,
    trace: Option<&Path>,
    bundle: &Bundle,
    expected: &[i8],
    what: &str,
) -> anyhow::Result<GemmRun> {
    let mut session = backend::open(backend, cfg, bundle.header.dram_bytes as usize, trace)?;
    let bar = super::spinner(format!("running {what} on {backend:?}"));
    let started = Instant::now();
    let report = session.run_bundle(bundle, TIMEOUT);
    let wall = started.elapsed();
    bar.finish_and_clear();
    let report = report?;
    let slot = bundle.header.tensors.iter().find(|t| t.name == "c").expect("the job has an output `c`");
    let output = session.read_tensor(slot)?;
    let wrong = output.iter().zip(expected).filter(|(got, want)| **got as i8 != **want).count();
    anyhow::ensure!(wrong == 0, "{what}: {wrong} of {} outputs differ from the reference", expected.len());
    Ok(GemmRun { report, wall, output })
}

/// Device time a run may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(60);

impl GemmJob {
    /// Runs the job on `backend` (with a waveform to `trace`, if given) and checks
    /// every output against the reference.
    pub fn run(&self, cfg: &AccelConfig, backend: Backend, trace: Option<&Path>) -> anyhow::Result<GemmRun> {
        let what = format!("the {}x{}x{} GEMM", self.m, self.k, self.n);
        run_checked(cfg, backend, trace, &self.bundle, &self.expected, &what)
    }

    /// Multiply-accumulates the problem needs (the array may issue more on edge tiles).
    pub fn useful_macs(&self) -> u64 {
        (self.m * self.k * self.n) as u64
    }
}
