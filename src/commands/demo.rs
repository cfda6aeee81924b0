//! `tessera demo`: the main job. It lowers a quantized int8 GEMM with per-channel
//! requantization (the core of every dense layer) to an accelerator program, runs
//! it on the cycle-accurate RTL (or the golden model), prints the result and cycle
//! count, and checks every output against ndarray plus the scalar requantization
//! reference. A compiled model replaces the GEMM with issue #5.

use super::backend::Backend;
use super::gemm_job::{self, GemmRun};
use super::report::{checksum, print_counters};
use anyhow::ensure;
use tessera_isa::config::AccelConfig;

pub fn run(config: &str, size: usize, backend: Backend) -> anyhow::Result<()> {
    let cfg = AccelConfig::load(config)?;
    ensure!((1..=4096).contains(&size), "--size must be in 1..=4096, got {size}");
    let job = gemm_job::build(&cfg, size, size, size, 2026)?;
    let (m, k, n) = (job.m, job.k, job.n);
    let GemmRun { report, wall: elapsed, output: out } = job.run(&cfg, backend, None)?;
    println!("Tessera demo: int8 GEMM {m}x{k}x{n} with per-channel requantization on `{}`", cfg.name);
    println!(
        "  array            {} x {} ({} MACs/cycle peak)",
        cfg.array.rows,
        cfg.array.cols,
        cfg.peak_macs_per_cycle()
    );
    println!(
        "  tiling           M tile {}, {} N blocks and {} K blocks per step",
        job.tiling.m_tile, job.tiling.n_blocks_per_step, job.tiling.k_blocks_per_step
    );
    println!(
        "  program          {} instructions ({} bytes)",
        job.bundle.header.program_len,
        job.bundle.header.program_len as usize * tessera_isa::isa::INSTR_BYTES
    );
    let what = match backend {
        Backend::Verilator => "Verilated RTL (cycle-accurate, config's DDR model)",
        _ => "golden model (functional, bit-exact)",
    };
    println!("  backend          {what}, {:.1} ms", elapsed.as_secs_f64() * 1e3);
    let row0: Vec<String> = out.iter().take(n.min(12)).map(|v| (*v as i8).to_string()).collect();
    println!("  output row 0     [{}{}]", row0.join(", "), if n > 12 { ", ..." } else { "" });
    println!("  output checksum  {:#010x}", checksum(&out));
    print_counters(&cfg, &report);
    // `run` has checked every output against the reference.
    println!("  reference check  {0} of {0} outputs match ndarray + scalar requantization", m * n);
    Ok(())
}
