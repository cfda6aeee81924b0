//! `tessera compile MODEL`: imports and lowers a model for a config at a batch size,
//! and reports per layer where it runs, its GEMM, MACs, the tiling the lowering chose
//! and the cost model's predicted cycles.

use std::path::Path;
use std::time::Instant;
use tessera_compiler::package::Package;
use tessera_compiler::plan::{plan, OpPlan};
use tessera_compiler::program::{Op, OpKind, Program};
use tessera_compiler::sparsity::{weight_sparsity, Sparsity};
use tessera_isa::config::AccelConfig;

pub struct CompileArgs<'a> {
    pub model: &'a Path,
    pub config: &'a str,
    pub batch: usize,
    pub out: Option<&'a Path>,
    pub report: bool,
    /// Print each layer's instruction stream.
    pub emit_asm: bool,
}

pub fn run(args: &CompileArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let cfg = AccelConfig::load(args.config)?;
    let started = Instant::now();
    let context = |e: String| anyhow::anyhow!("{}: {e}", args.model.display());
    let program = tessera_compiler::load_program(args.model).map_err(anyhow::Error::msg)?;
    let plans = plan(&cfg, &program, args.batch).map_err(context)?;
    let elapsed = started.elapsed();
    println!(
        "{} for `{}` ({}x{} array, {} MHz), batch {}: {} ops, {} on the accelerator, compiled in {:.0} ms",
        args.model.display(),
        cfg.name,
        cfg.array.rows,
        cfg.array.cols,
        cfg.clock_mhz,
        args.batch,
        plans.len(),
        plans.iter().filter(|p| p.layer.is_some()).count(),
        elapsed.as_secs_f64() * 1e3
    );
    if args.report {
        print_report(&cfg, &program, &plans);
    }
    if args.emit_asm {
        emit_asm(&plans)?;
    }
    if let Some(out) = args.out {
        let package = Package::from_plans(&cfg, program, args.batch, &plans);
        package.save(out).map_err(anyhow::Error::msg)?;
        let bundles: usize = package.bundles.iter().map(Vec::len).sum();
        println!(
            "wrote {} ({} bytes: the program and {bundles} layer bundles)",
            out.display(),
            std::fs::metadata(out)?.len()
        );
    }
    let accel: Vec<_> = plans.iter().filter_map(|p| p.layer.as_ref()).collect();
    let cycles: u64 = accel.iter().map(|l| l.predicted.cycles).sum();
    let macs: u64 = accel.iter().map(|l| l.macs()).sum();
    let peak = f64::from(cfg.array.rows * cfg.array.cols);
    println!(
        "predicted: {cycles} accelerator cycles ({:.1} us at {} MHz), {macs} MACs, PE utilization {:.1}%",
        cycles as f64 / cfg.clock_mhz,
        cfg.clock_mhz,
        100.0 * macs as f64 / (cycles.max(1) as f64 * peak)
    );
    Ok(())
}

fn print_report(cfg: &AccelConfig, program: &Program, plans: &[OpPlan]) {
    println!(
        "{:<3} {:<26} {:<22} {:<6} {:<16} {:>14} {:>10} {:>11} {:>6}  {:<18} tile (m rows, n blocks, k blocks), conv lowering",
        "#", "node", "op", "engine", "output shape", "GEMM MxKxN", "MACs", "pred cycles", "util", "weights"
    );
    let peak = f64::from(cfg.array.rows * cfg.array.cols);
    for (i, (p, op)) in plans.iter().zip(&program.ops).enumerate() {
        let shape = format!("{:?}", p.out_shape);
        match &p.layer {
            Some(l) => {
                let [m, k, n] = l.gemm;
                let gemm = if l.gemms > 1 { format!("{}x{m}x{k}x{n}", l.gemms) } else { format!("{m}x{k}x{n}") };
                let util = 100.0 * l.macs() as f64 / (l.predicted.cycles.max(1) as f64 * peak);
                println!(
                    "{i:<3} {:<26} {:<22} {:<6} {shape:<16} {gemm:>14} {:>10} {:>11} {util:>5.1}%  {:<18} ({}, {}, {}){}",
                    p.node,
                    p.source,
                    l.engine.to_string(),
                    l.macs(),
                    l.predicted.cycles,
                    weights(op).to_string(),
                    l.tiling.m_tile,
                    l.tiling.n_blocks_per_step,
                    l.tiling.k_blocks_per_step,
                    if l.implicit { " implicit im2col" } else { "" }
                );
                if l.considered.len() > 1 {
                    let all: Vec<String> = l.considered.iter().map(|(e, cycles)| format!("{e} {cycles}")).collect();
                    println!("    cost model, predicted cycles: {}", all.join(", "));
                }
            }
            None => println!("{i:<3} {:<26} {:<22} {:<6} {shape:<16}", p.node, p.source, "host"),
        }
    }
}

/// The weight sparsity of an accelerator layer.
fn weights(op: &Op) -> Sparsity {
    match &op.kind {
        OpKind::Conv { geometry, layer } => weight_sparsity(layer, Some(geometry)),
        kind => weight_sparsity(kind.layer().expect("accelerator operations are layers"), None),
    }
}

fn emit_asm(plans: &[OpPlan]) -> anyhow::Result<()> {
    for p in plans {
        let Some(layer) = &p.layer else { continue };
        for bundle in &layer.bundles {
            println!("; {} ({}): {}", p.node, p.source, bundle.header.description);
            for (i, instr) in bundle.program().map_err(anyhow::Error::msg)?.instrs.iter().enumerate() {
                println!("{i:5}  {instr}");
            }
        }
    }
    Ok(())
}
