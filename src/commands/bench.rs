//! `tessera bench`: measurements on the simulators.
//!
//! - `gemm`: a random int8 GEMM on a backend, checked against the ndarray
//!   reference; cycles, PE utilization and DDR traffic from the hardware counters.
//! - `sim`: simulation speed of the Verilated accelerator (simulated cycles per
//!   wall-clock second, with and without waveform tracing) and cached-model load time.

use super::backend::{self, Backend};
use super::gemm_job::{self, GemmJob, GemmRun};
use super::report::print_counters;
use anyhow::Context;
use std::path::Path;
use std::time::{Duration, Instant};
use tessera_compiler::cost::CostModel;
use tessera_driver::RunReport;
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::Counter;

pub struct GemmArgs<'a> {
    pub config: &'a str,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub backend: Backend,
    pub seed: u64,
    /// Also write the program bundle here.
    pub save: Option<&'a Path>,
    pub trace: Option<&'a Path>,
}

pub fn gemm(args: &GemmArgs) -> anyhow::Result<()> {
    let cfg = AccelConfig::load(args.config)?;
    let job = gemm_job::build(&cfg, args.m, args.k, args.n, args.seed)?;
    if let Some(path) = args.save {
        job.bundle.save(path)?;
    }
    let GemmRun { report, wall, .. } = job.run(&cfg, args.backend, args.trace)?;
    println!(
        "int8 GEMM {}x{}x{} on `{}` ({}x{} array, {:?} backend)",
        job.m, job.k, job.n, cfg.name, cfg.array.rows, cfg.array.cols, args.backend
    );
    println!(
        "  tiling           M tile {}, {} N blocks and {} K blocks per step",
        job.tiling.m_tile, job.tiling.n_blocks_per_step, job.tiling.k_blocks_per_step
    );
    println!("  reference check  {} of {} outputs match ndarray", job.expected.len(), job.expected.len());
    let predicted = CostModel::new(&cfg).predict(&job.bundle.program().map_err(anyhow::Error::msg)?);
    println!("  cost model       {} cycles predicted", predicted.map_err(anyhow::Error::msg)?.cycles);
    print_counters(&cfg, &report);
    println!("  useful MACs      {}", job.useful_macs());
    let simulated = report.harness_cycles.map(|c| format!(", {:.0} cycles/s", c as f64 / wall.as_secs_f64()));
    println!("  wall time        {:.2} s{}", wall.as_secs_f64(), simulated.unwrap_or_default());
    match report.utilization(&cfg) {
        Some(u) => println!("utilization: {:.1}%", 100.0 * u),
        None => println!("utilization: n/a (the golden model is untimed; use --backend verilator)"),
    }
    Ok(())
}

pub struct SimArgs<'a> {
    pub configs: &'a [String],
    /// Override the array shape (e.g. `8x8`) of every config.
    pub array: Option<&'a str>,
    /// Approximate simulated cycles per measurement.
    pub cycles: u64,
    /// Also measure a run that writes an FST waveform.
    pub traced: bool,
    /// Untraced runs per config (median and range reported).
    pub runs: u32,
}

/// A GEMM whose run takes roughly `cycles` on `cfg` (from the array's peak rate).
fn sized_job(cfg: &AccelConfig, cycles: u64) -> anyhow::Result<GemmJob> {
    let (rows, cols) = (cfg.array.rows as usize, cfg.array.cols as usize);
    let k = 8 * rows;
    let n = 4 * cols;
    let m = (cycles as usize * rows * cols / (k * n)).clamp(8, 8192);
    gemm_job::build(cfg, m, k, n, 7)
}

fn with_array(mut cfg: AccelConfig, shape: &str) -> anyhow::Result<AccelConfig> {
    let (r, c) = shape.split_once('x').context("--array takes ROWSxCOLS, e.g. 8x8")?;
    cfg.array.rows = r.parse().context("--array rows")?;
    cfg.array.cols = c.parse().context("--array cols")?;
    cfg.name = format!("{}-{shape}", cfg.name);
    if let Some(p) = cfg.problems().first() {
        anyhow::bail!("--array {shape}: {p}");
    }
    Ok(cfg)
}

pub fn sim(args: &SimArgs) -> anyhow::Result<()> {
    println!("simulation speed of the whole Verilated accelerator (one core, GEMM workload)");
    println!(
        "  {:<16} {:>7} {:>10} {:>12} {:>21} {:>14} {:>10}",
        "config", "array", "cycles", "cycles/s", "range", "traced cyc/s", "load"
    );
    for name in args.configs {
        let mut cfg = AccelConfig::load(name)?;
        if let Some(shape) = args.array {
            cfg = with_array(cfg, shape)?;
        }
        let job = sized_job(&cfg, args.cycles)?;
        let dram = job.bundle.header.dram_bytes as usize;
        // Build the models first so the timings below are loads and runs only.
        backend::verilator_model(&cfg, false)?;
        if args.traced {
            backend::verilator_model(&cfg, true)?;
        }
        let loaded = Instant::now();
        drop(backend::verilator_device(&cfg, dram, None)?);
        let load = loaded.elapsed();
        let rate = |r: &RunReport, wall: Duration| r.harness_cycles.unwrap_or(0) as f64 / wall.as_secs_f64();
        let mut rates = Vec::new();
        let mut cycles = 0;
        for _ in 0..args.runs {
            let GemmRun { report, wall, .. } = job.run(&cfg, Backend::Verilator, None)?;
            rates.push(rate(&report, wall));
            cycles = report.counter(Counter::Cycles);
        }
        rates.sort_by(f64::total_cmp);
        let traced_rate = if args.traced {
            let trace_path = std::env::temp_dir().join(format!("tessera-bench-{}.fst", std::process::id()));
            let traced = job.run(&cfg, Backend::Verilator, Some(&trace_path));
            std::fs::remove_file(&trace_path).ok();
            let GemmRun { report, wall, .. } = traced?;
            format!("{:.0}", rate(&report, wall))
        } else {
            "-".to_string()
        };
        println!(
            "  {:<16} {:>7} {:>10} {:>12.0} {:>21} {:>14} {:>8.0}ms",
            cfg.name,
            format!("{}x{}", cfg.array.rows, cfg.array.cols),
            cycles,
            median(&rates),
            format!("{:.0}-{:.0}", rates[0], rates[rates.len() - 1]),
            traced_rate,
            load.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// The middle of sorted `values` (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[1.0, 5.0, 9.0]), 5.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 10.0]), 3.0);
        assert_eq!(median(&[7.0]), 7.0);
    }
}
