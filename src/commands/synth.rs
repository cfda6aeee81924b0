//! `tessera synth`: out-of-context Yosys synthesis of the generated RTL and its
//! utilization against an FPGA part.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tessera_hdl::synth::{find_part, run_yosys, SynthError, PARTS};
use tessera_isa::config::AccelConfig;

pub struct SynthArgs<'a> {
    pub config: &'a str,
    pub part: &'a str,
    pub out: Option<&'a Path>,
    pub yosys: &'a str,
    /// Highest acceptable utilization of any resource, in percent.
    pub budget: f64,
}

pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let part = find_part(args.part).ok_or_else(|| {
        let known: Vec<&str> = PARTS.iter().map(|p| p.name).collect();
        SynthError::UnknownPart(args.part.to_string(), known.join(", "))
    })?;
    let cfg = AccelConfig::load(args.config)?;
    let dir: PathBuf = match args.out {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("tessera-synth-{}-{}", cfg.name, part.name)),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let verilog = dir.join("tessera_top.v");
    let rtl = tessera_hdl::generate(&cfg)?;
    std::fs::write(&verilog, &rtl.verilog).with_context(|| format!("writing {}", verilog.display()))?;

    let spinner =
        super::spinner(format!("yosys synth_xilinx -family {} ({}, log in {})", part.family, cfg.name, dir.display()));
    let started = Instant::now();
    let result = run_yosys(args.yosys, &verilog, tessera_hdl::TOP, part);
    spinner.finish_and_clear();
    let util = result?;

    println!(
        "`{}` ({}x{} array, {}-bit operands) on {} — Yosys synth_xilinx in {:.0} s",
        cfg.name,
        cfg.array.rows,
        cfg.array.cols,
        cfg.array.operand_bits,
        part.name,
        started.elapsed().as_secs_f64()
    );
    println!("  {:<8} {:>10} {:>10} {:>7}", "resource", "used", "available", "util");
    for (name, used, avail, pct) in util.rows(part) {
        println!("  {name:<8} {used:>10} {avail:>10} {pct:>6.1}%");
    }
    println!("  (LUTs include {} as distributed RAM and {} as shift registers)", util.lutram, util.srl);
    let worst = util.worst_percent(part);
    if worst > args.budget {
        anyhow::bail!(
            "`{}` does not fit {} within the {:.0}% budget (worst resource at {worst:.1}%)",
            cfg.name,
            part.name,
            args.budget
        );
    }
    println!("fits {} with every resource at or below {:.0}% (worst {worst:.1}%)", part.name, args.budget);
    Ok(())
}
