//! Opening a device by backend name, for the commands that run programs.

use super::spinner;
use anyhow::Context;
use std::path::Path;
use tessera_driver::{Device, Session};
use tessera_isa::config::AccelConfig;
use tessera_sim::cosim::SIM_DDR_BASE;
use tessera_sim::verilator::{self, BuildOptions, Model};
use tessera_sim::{GoldenDevice, VerilatorDevice};

/// Which device runs a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The bit-exact functional model (untimed).
    Golden,
    /// The generated RTL, cycle-accurate, with the config's DDR model.
    Verilator,
    /// A PYNQ/Zynq board through /dev/uio and u-dma-buf (issue #7).
    Board,
}

/// The Verilated model of `cfg`, built with a progress spinner when not cached.
pub fn verilator_model(cfg: &AccelConfig, trace: bool) -> anyhow::Result<Model> {
    let opts = BuildOptions { trace };
    if let Some(model) = verilator::cached(cfg, &opts)? {
        return Ok(model);
    }
    let kind = if trace { "tracing " } else { "" };
    let bar = spinner(format!(
        "building the {kind}Verilator model of `{}` (once; cached in {})",
        cfg.name,
        verilator::cache_root().display()
    ));
    let model = verilator::build(cfg, &opts);
    bar.finish_and_clear();
    let model = model?;
    eprintln!("built the {kind}Verilator model of `{}`: {}", cfg.name, model.library.display());
    Ok(model)
}

/// A Verilated accelerator for `cfg` with `dram_bytes` of DDR, writing a waveform
/// to `trace` if given.
pub fn verilator_device(cfg: &AccelConfig, dram_bytes: usize, trace: Option<&Path>) -> anyhow::Result<VerilatorDevice> {
    let model = verilator_model(cfg, trace.is_some())?;
    let mut dev = VerilatorDevice::open(&model.library, cfg, SIM_DDR_BASE, dram_bytes)?;
    if let Some(path) = trace {
        dev.trace_to(path).with_context(|| format!("opening the waveform {}", path.display()))?;
    }
    Ok(dev)
}

/// Opens a session on `backend` for programs compiled for `cfg`, with a DDR window
/// of at least `dram_bytes`.
pub fn open(
    backend: Backend,
    cfg: &AccelConfig,
    dram_bytes: usize,
    trace: Option<&Path>,
) -> anyhow::Result<Session<Box<dyn Device>>> {
    if trace.is_some() && backend != Backend::Verilator {
        anyhow::bail!("--trace needs --backend verilator (waveforms come from the RTL)");
    }
    let device: Box<dyn Device> = match backend {
        Backend::Golden => Box::new(GoldenDevice::new(cfg, SIM_DDR_BASE, dram_bytes)),
        Backend::Verilator => Box::new(verilator_device(cfg, dram_bytes, trace)?),
        Backend::Board => anyhow::bail!("the board backend (UioDevice) arrives with issue #7"),
    };
    Ok(Session::open(device, cfg)?)
}
