//! `tessera synth`: out-of-context Yosys synthesis of the generated RTL and its
//! utilization against an FPGA part, or (`--flow ecp5`) the open-tool flow through
//! place and route to an ECP5 bitstream.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tessera_hdl::open_flow::{self, find_ecp5, Ecp5Tools, HarnessParams, OpenFlowError, ECP5_DEVICES};
use tessera_hdl::synth::{find_part, run_yosys, SynthError, PARTS};
use tessera_isa::config::AccelConfig;

/// Which flow `tessera synth` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Flow {
    /// Yosys synth_xilinx, out of context, against a Zynq part's capacity.
    Xilinx,
    /// Yosys synth_ecp5 + nextpnr-ecp5 + ecppack on the ECP5 board wrapper.
    Ecp5,
}

/// Executables named on the command line or in the environment; `None` takes the
/// flow's default.
#[derive(Default)]
pub struct Tools {
    pub yosys: Option<String>,
    pub nextpnr: Option<String>,
    pub ecppack: Option<String>,
}

pub struct SynthArgs<'a> {
    pub config: &'a str,
    pub flow: Flow,
    pub part: Option<&'a str>,
    pub out: Option<&'a Path>,
    pub tools: Tools,
    /// Highest acceptable utilization of any resource, in percent.
    pub budget: f64,
    /// ecp5: fail when the achieved Fmax misses the config's clock.
    pub require_timing: bool,
}

/// Loads the config and writes its Verilog into the flow's work directory
/// (`--out`, else `tessera-<flow>-<config>-<part>` in the temp dir).
fn generate_into_work_dir(args: &SynthArgs, flow: &str, part: &str) -> anyhow::Result<(AccelConfig, PathBuf, PathBuf)> {
    let cfg = AccelConfig::load(args.config)?;
    let dir: PathBuf = match args.out {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!("tessera-{flow}-{}-{part}", cfg.name)),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let verilog = dir.join("tessera_top.v");
    let rtl = tessera_hdl::generate(&cfg)?;
    std::fs::write(&verilog, &rtl.verilog).with_context(|| format!("writing {}", verilog.display()))?;
    Ok((cfg, dir, verilog))
}

pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    if args.flow == Flow::Ecp5 {
        return run_ecp5(args);
    }
    let part_name = args.part.unwrap_or("xc7z020");
    let part = find_part(part_name).ok_or_else(|| {
        let known: Vec<&str> = PARTS.iter().map(|p| p.name).collect();
        SynthError::UnknownPart(part_name.to_string(), known.join(", "))
    })?;
    let (cfg, dir, verilog) = generate_into_work_dir(args, "synth", part.name)?;

    let spinner =
        super::spinner(format!("yosys synth_xilinx -family {} ({}, log in {})", part.family, cfg.name, dir.display()));
    let started = Instant::now();
    let yosys = args.tools.yosys.as_deref().unwrap_or("yosys");
    let result = run_yosys(yosys, &verilog, tessera_hdl::TOP, part);
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

/// `--flow ecp5`: the core in its board wrapper through Yosys, nextpnr and ecppack.
fn run_ecp5(args: &SynthArgs) -> anyhow::Result<()> {
    let device_name = args.part.unwrap_or(ECP5_DEVICES[0].name);
    let device = find_ecp5(device_name).ok_or_else(|| {
        let known: Vec<&str> = ECP5_DEVICES.iter().map(|d| d.name).collect();
        OpenFlowError::UnknownDevice(device_name.to_string(), known.join(", "))
    })?;
    let (cfg, dir, verilog) = generate_into_work_dir(args, "ecp5", device.name)?;
    let defaults = Ecp5Tools::default();
    let tools = Ecp5Tools {
        yosys: args.tools.yosys.clone().unwrap_or(defaults.yosys),
        nextpnr: args.tools.nextpnr.clone().unwrap_or(defaults.nextpnr),
        ecppack: args.tools.ecppack.clone().unwrap_or(defaults.ecppack),
    };
    let params = HarnessParams::of(&cfg);

    let started = Instant::now();
    let spinner = super::spinner(format!("`{}` on {}: starting (logs in {})", cfg.name, device.name, dir.display()));
    let mut step_no = 0;
    let result = open_flow::run(&dir, &verilog, device, &params, &tools, &mut |step| {
        step_no += 1;
        spinner.set_message(format!(
            "[{step_no}/3] {} (`{}` on {}, logs in {})",
            step.name(),
            cfg.name,
            device.name,
            dir.display()
        ));
    });
    spinner.finish_and_clear();
    let r = result?;

    println!(
        "`{}` ({}x{} array, {}-bit operands) on {} ({}-{}), in the tessera_ecp5 wrapper — {:.0} s",
        cfg.name,
        cfg.array.rows,
        cfg.array.cols,
        cfg.array.operand_bits,
        device.name,
        device.package,
        device.speed,
        started.elapsed().as_secs_f64()
    );
    let times: Vec<String> = r.times.iter().map(|(s, t)| format!("{} {:.0} s", s.name(), t.as_secs_f64())).collect();
    println!("  {}", times.join(", "));
    println!("  {:<8} {:>10} {:>10} {:>7}", "resource", "used", "available", "util");
    for (label, res) in r.pnr.summary_rows() {
        println!("  {label:<8} {:>10} {:>10} {:>6.1}%", res.used, res.available, res.percent());
    }
    let clock = r.pnr.worst_clock();
    match clock {
        Some(c) => println!(
            "  Fmax     {:.1} MHz on `{}` against {:.1} MHz: {}",
            c.achieved_mhz,
            c.net,
            c.constraint_mhz,
            if c.meets() { "met" } else { "MISSED" }
        ),
        None => println!("  Fmax     (nextpnr reported no constrained clock)"),
    }
    if let Some(p) = r.pnr.worst_internal_path() {
        println!("  critical path {:.1} ns: {} -> {}", p.delay_ns, p.start, p.end);
    }
    println!(
        "  bitstream {} ({} bytes), {} ({} bytes)",
        r.bitstream.display(),
        r.bit_bytes,
        r.svf.display(),
        r.svf_bytes
    );
    let worst = r.pnr.worst_percent();
    if worst > args.budget {
        anyhow::bail!(
            "`{}` does not fit {} within the {:.0}% budget (worst resource at {worst:.1}%)",
            cfg.name,
            device.name,
            args.budget
        );
    }
    if args.require_timing {
        match clock {
            Some(c) if c.meets() => {}
            Some(c) => anyhow::bail!(
                "`{}` misses {:.1} MHz on {}: Fmax {:.1} MHz (see {})",
                cfg.name,
                c.constraint_mhz,
                device.name,
                c.achieved_mhz,
                dir.join("nextpnr.log").display()
            ),
            None => anyhow::bail!("nextpnr reported no constrained clock (see {})", dir.join("nextpnr.log").display()),
        }
    }
    Ok(())
}
