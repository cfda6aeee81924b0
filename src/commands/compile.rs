//! `tessera compile MODEL`: imports and lowers a model for a config at a batch size
//! into accelerator segments and host steps, and reports per operation where it
//! runs (and why, for the host), its GEMM, MACs, the tiling the lowering chose and
//! the cost model's predicted cycles, then the segments and the DDR footprint.

use std::path::Path;
use std::time::Instant;
use tessera_compiler::model::{compile, CompileOptions, CompiledModel};
use tessera_compiler::program::{Op, OpKind};
use tessera_compiler::sparsity::{weight_sparsity, Sparsity};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::Program;

pub struct CompileArgs<'a> {
    pub model: &'a Path,
    pub config: &'a str,
    pub batch: usize,
    pub out: Option<&'a Path>,
    pub report: bool,
    /// Print each segment's instruction stream.
    pub emit_asm: bool,
    /// One segment per accelerator layer.
    pub per_layer: bool,
}

pub fn run(args: &CompileArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let cfg = AccelConfig::load(args.config)?;
    let started = Instant::now();
    let context = |e: String| anyhow::anyhow!("{}: {e}", args.model.display());
    let program = tessera_compiler::load_program(args.model).map_err(anyhow::Error::msg)?;
    let model =
        compile(&cfg, program, args.batch, CompileOptions { segment_per_layer: args.per_layer }).map_err(context)?;
    let elapsed = started.elapsed();
    println!(
        "{} for `{}` ({}x{} array, {} MHz), batch {}: {} ops, {} accelerator layers in {} segment(s), {} on the host, compiled in {:.0} ms",
        args.model.display(),
        cfg.name,
        cfg.array.rows,
        cfg.array.cols,
        cfg.clock_mhz,
        args.batch,
        model.program.ops.len(),
        model.layers().count(),
        model.segments.len(),
        model.host.len(),
        elapsed.as_secs_f64() * 1e3
    );
    if args.report {
        print_report(&model);
    }
    if args.emit_asm {
        emit_asm(&model)?;
    }
    if let Some(out) = args.out {
        tessera_compiler::package::save(&model, out).map_err(anyhow::Error::msg)?;
        println!(
            "wrote {} ({} bytes: {} segment(s), the DDR image of constants and instructions)",
            out.display(),
            std::fs::metadata(out)?.len(),
            model.segments.len()
        );
    }
    let cycles = model.predicted_cycles();
    let macs: u64 = model.layers().map(|l| l.macs()).sum();
    let peak = cfg.peak_macs_per_cycle() as f64;
    println!(
        "predicted: {cycles} accelerator cycles per run ({:.1} us at {} MHz), {macs} MACs, PE utilization {:.1}%",
        cycles as f64 / cfg.clock_mhz,
        cfg.clock_mhz,
        100.0 * macs as f64 / (cycles.max(1) as f64 * peak)
    );
    Ok(())
}

fn print_report(model: &CompiledModel) {
    println!(
        "{:<3} {:<26} {:<22} {:<6} {:<6} {:<16} {:>14} {:>10} {:>11} {:>6}  {:<18} tile (m rows, n blocks, k blocks), lowering",
        "#", "node", "op", "where", "engine", "output shape", "GEMM MxKxN", "MACs", "pred cycles", "util", "weights"
    );
    let peak = model.config.peak_macs_per_cycle() as f64;
    for (i, op) in model.program.ops.iter().enumerate() {
        let shape = format!("{:?}", model.out_shapes[i]);
        let layer = model.layers().find(|l| l.op == i);
        match (model.segment_of(i), layer) {
            (Some(s), Some(l)) => {
                let [m, k, n] = l.gemm;
                let gemm = match l.gemms {
                    0 => "-".to_string(),
                    1 => format!("{m}x{k}x{n}"),
                    g => format!("{g}x{m}x{k}x{n}"),
                };
                let util = 100.0 * l.macs() as f64 / (l.predicted.max(1) as f64 * peak);
                let weights = weights(op).map_or_else(String::new, |w| w.to_string());
                println!(
                    "{i:<3} {:<26} {:<22} {:<6} {:<6} {shape:<16} {gemm:>14} {:>10} {:>11} {util:>5.1}%  {weights:<18} ({}, {}, {}) {}",
                    op.node,
                    op.source,
                    format!("seg{s}"),
                    l.engine,
                    l.macs(),
                    l.predicted,
                    l.tiling[0],
                    l.tiling[1],
                    l.tiling[2],
                    l.lowering
                );
                if l.considered.len() > 1 {
                    let all: Vec<String> = l.considered.iter().map(|(e, cycles)| format!("{e} {cycles}")).collect();
                    println!("    cost model, predicted cycles: {}", all.join(", "));
                }
            }
            (Some(s), None) => println!(
                "{i:<3} {:<26} {:<22} {:<6} {:<6} {shape:<16} (no instructions: its input's bytes)",
                op.node,
                op.source,
                format!("seg{s}"),
                "-"
            ),
            (None, _) => {
                let reason =
                    model.host.iter().find(|h| h.op == i).map_or("a reshape between host steps", |h| &h.reason);
                println!(
                    "{i:<3} {:<26} {:<22} {:<6} {:<6} {shape:<16} host: {reason}",
                    op.node, op.source, "host", "-"
                );
            }
        }
    }
    println!("segments (one instruction stream each; the host runs between them):");
    for (s, seg) in model.segments.iter().enumerate() {
        let first = &model.program.ops[seg.ops[0]];
        let last = &model.program.ops[*seg.ops.last().expect("a segment has operations")];
        println!(
            "  seg{s:<3} {} .. {}: {} layers, {} instructions, predicted {} cycles (busy: load {}, compute {}, store {})",
            first.node,
            last.node,
            seg.layers.len(),
            seg.program_len,
            seg.predicted,
            seg.busy[0],
            seg.busy[1],
            seg.busy[2]
        );
    }
    let f = &model.footprint;
    println!(
        "DDR: {} bytes of weights, parameters and constants; {} bytes of activations at peak ({} if none were shared); {} bytes of instructions; window {} bytes",
        f.constants, f.activations, f.activations_unshared, f.instructions, model.dram_bytes
    );
}

/// The weight sparsity of an accelerator layer, if it has weights.
fn weights(op: &Op) -> Option<Sparsity> {
    match &op.kind {
        OpKind::Conv { geometry, layer } => Some(weight_sparsity(layer, Some(geometry))),
        kind => kind.layer().map(|l| weight_sparsity(l, None)),
    }
}

fn emit_asm(model: &CompiledModel) -> anyhow::Result<()> {
    for (s, seg) in model.segments.iter().enumerate() {
        let start = (seg.program_offset - model.image_offset) as usize;
        let bytes = &model.image[start..start + seg.program_len as usize * tessera_isa::isa::INSTR_BYTES];
        let program = Program::decode(bytes).map_err(|e| anyhow::anyhow!("segment {s}: {e}"))?;
        println!("; segment {s}: operations {:?}", seg.ops);
        for (i, instr) in program.instrs.iter().enumerate() {
            println!("{i:6}  {instr}");
        }
    }
    Ok(())
}
