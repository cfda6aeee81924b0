//! `tessera generate`: the accelerator's Verilog and its JSON manifest.

use anyhow::Context;
use std::path::Path;
use std::time::Instant;
use tessera_isa::config::AccelConfig;

pub fn run(config: &str, out: &Path) -> anyhow::Result<()> {
    let cfg = AccelConfig::load(config)?;
    let started = Instant::now();
    let rtl = tessera_hdl::generate(&cfg)?;
    let elapsed = started.elapsed();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let verilog = out.join("tessera_top.v");
    let manifest = out.join("tessera_top.json");
    std::fs::write(&verilog, &rtl.verilog).with_context(|| format!("writing {}", verilog.display()))?;
    std::fs::write(&manifest, tessera_hdl::manifest::manifest_json(&cfg, &rtl.verilog))
        .with_context(|| format!("writing {}", manifest.display()))?;
    let ports = tessera_hdl::manifest::ports_of(&rtl.verilog, tessera_hdl::TOP);
    println!(
        "generated `{}` ({}x{} array) in {:.2} s",
        cfg.name,
        cfg.array.rows,
        cfg.array.cols,
        elapsed.as_secs_f64()
    );
    println!(
        "  {}  {} bytes, {} modules",
        verilog.display(),
        rtl.verilog.len(),
        rtl.verilog.matches("\nmodule ").count()
    );
    println!("  {}  {} ports, fingerprint {:#010x}", manifest.display(), ports.len(), cfg.fingerprint());
    Ok(())
}
