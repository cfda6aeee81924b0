//! Opening a device by backend name, for the commands that run programs.

use super::spinner;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tessera_driver::board::{fpga, BoardOptions, CacheMode, IrqMode, SysRoot, UioDevice};
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
    /// A PYNQ/Zynq board through /dev/uio and u-dma-buf (docs/board.md).
    Board,
}

/// How `--backend board` finds the accelerator (see docs/board.md).
#[derive(Clone, Debug, clap::Args)]
pub struct BoardArgs {
    /// Board backend: the accelerator's UIO device, by name (/sys/class/uio/uioN/name).
    #[arg(long, default_value = "tessera")]
    pub uio_name: String,
    /// Board backend: the u-dma-buf buffer that holds the DDR window (/dev/NAME).
    #[arg(long, default_value = "udmabuf0")]
    pub udmabuf: String,
    /// Board backend: program the FPGA first with this .bit (its .hwh beside it names
    /// the accelerator's address, checked against the UIO device) or .bin.
    #[arg(long)]
    pub bitstream: Option<PathBuf>,
    /// Board backend: the accelerator in the .hwh, by INSTANCE or MODTYPE.
    #[arg(long, default_value = tessera_hdl::TOP)]
    pub hwh_accel: String,
    /// Board backend: map the DDR window uncached (O_SYNC) instead of flushing and
    /// invalidating the CPU cache around each run.
    #[arg(long)]
    pub uncached: bool,
    /// Board backend: poll the accelerator's interrupt line instead of waiting for the
    /// UIO interrupt.
    #[arg(long)]
    pub poll: bool,
    /// Where sys/, dev/ and lib/firmware are (tests point it at a fake tree).
    #[arg(long, env = "TESSERA_BOARD_ROOT", default_value = "/", hide = true)]
    pub board_root: PathBuf,
}

/// The board options of this invocation (`tessera run`'s flags; defaults elsewhere).
static BOARD: OnceLock<BoardArgs> = OnceLock::new();

/// Sets the options `--backend board` opens the board with.
pub fn set_board_args(args: BoardArgs) {
    BOARD.set(args).expect("board options are set once, before any device is opened");
}

fn board_args() -> BoardArgs {
    BOARD.get().cloned().unwrap_or_else(|| {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            board: BoardArgs,
        }
        Defaults::parse_from(["tessera"]).board
    })
}

/// The board's accelerator: programs the FPGA if asked, then opens the UIO
/// device and u-dma-buf buffer.
pub fn board_device() -> anyhow::Result<UioDevice> {
    let args = board_args();
    let root = SysRoot::under(&args.board_root);
    let design = match &args.bitstream {
        Some(bit) => Some(fpga::load_design(&root, bit, &args.hwh_accel)?),
        None => None,
    };
    let opts = BoardOptions {
        uio_name: args.uio_name.clone(),
        udmabuf: args.udmabuf.clone(),
        cache: if args.uncached { CacheMode::Uncached } else { CacheMode::Cached },
        irq: if args.poll { IrqMode::Poll } else { IrqMode::Interrupt },
    };
    let device = UioDevice::open(&root, &opts)?;
    if let (Some(accel), Some(uio)) = (design.as_ref().and_then(|d| d.accel.as_ref()), device.uio()) {
        anyhow::ensure!(
            uio.map_addr == accel.base,
            "UIO device `{}` maps {:#x}, but the design puts `{}` at {:#x}: the device tree does not match {}",
            uio.name,
            uio.map_addr,
            accel.instance,
            accel.base,
            args.bitstream.as_deref().unwrap_or(Path::new("")).with_extension("hwh").display()
        );
    }
    Ok(device)
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

/// The device of `backend` for programs compiled for `cfg`, with a DDR window of at
/// least `dram_bytes` (the simulators' size; a board's is what its buffer holds).
pub fn device(
    backend: Backend,
    cfg: &AccelConfig,
    dram_bytes: usize,
    trace: Option<&Path>,
) -> anyhow::Result<Box<dyn Device>> {
    if trace.is_some() && backend != Backend::Verilator {
        anyhow::bail!("--trace needs --backend verilator (waveforms come from the RTL)");
    }
    Ok(match backend {
        Backend::Golden => Box::new(GoldenDevice::new(cfg, SIM_DDR_BASE, dram_bytes)),
        Backend::Verilator => Box::new(verilator_device(cfg, dram_bytes, trace)?),
        Backend::Board => Box::new(board_device().context("board backend")?),
    })
}

/// Opens a session on `backend` for programs compiled for `cfg`, with a DDR window
/// of at least `dram_bytes`.
pub fn open(
    backend: Backend,
    cfg: &AccelConfig,
    dram_bytes: usize,
    trace: Option<&Path>,
) -> anyhow::Result<Session<Box<dyn Device>>> {
    Ok(Session::open(device(backend, cfg, dram_bytes, trace)?, cfg)?)
}
