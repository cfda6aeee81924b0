//! `tessera bench models`: whole models, compiled for a config and run on a backend,
//! one row each: the accelerator's cycles per inference (the RTL's cycle counter),
//! the host steps per inference and their time on this machine, PE utilization,
//! latency and inferences per second at the config's clock, DDR traffic per
//! inference, and bit-exactness against the reference runtimes' outputs.
//!
//! The default set is the six MLPerf Tiny int8 models (`../shared/benchmarks/mlperf-
//! tiny/models`, with the TFLite reference kernels' outputs in
//! `tests/fixtures/mlperf_tiny`) and the examples (`examples/digits_*`, with their
//! reference outputs); `--models DIR` runs the `<case>/model.{tflite,onnx}` with
//! `x.npy` and `ref.npy` beside it (the layout the benchmark folder's
//! `make_golden.py` writes) instead.

use super::backend::{self, Backend};
use super::model::{compare, read_input};
use indicatif::{ProgressBar, ProgressStyle};
use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tessera_compiler::model::{compile, CompileOptions};
use tessera_compiler::tensor::{Tensor, TensorData};
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::Counter;
use tessera_runtime::ModelSession;

/// Output format of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Json,
}

pub struct ModelsArgs<'a> {
    pub config: &'a str,
    pub backend: Backend,
    /// A directory of `<case>/model.{tflite,onnx}, x.npy, ref.npy`, instead of the default set.
    pub models: Option<&'a Path>,
    pub batch: usize,
    /// Samples per model (at most the inputs' count).
    pub samples: usize,
    pub format: Format,
    /// Directory for `models.md` (or `.json`) and `models.svg`.
    pub out: Option<&'a Path>,
}

/// One model to run: its file, inputs and the reference runtime's outputs.
struct Case {
    name: String,
    model: PathBuf,
    input: PathBuf,
    reference: PathBuf,
    /// The task, for the published figures to compare with.
    task: Option<&'static str>,
}

/// One row of the table.
#[derive(serde::Serialize)]
struct Row {
    model: String,
    config: String,
    batch: usize,
    /// Operations on the accelerator (in `segments` instruction streams) and on the host.
    accelerator_ops: usize,
    segments: usize,
    host_ops: usize,
    cycles_per_inference: u64,
    predicted_cycles_per_inference: u64,
    host_steps_per_inference: f64,
    host_us_per_inference: f64,
    pe_utilization: f64,
    latency_us: f64,
    inferences_per_s: f64,
    ddr_read_bytes: u64,
    ddr_write_bytes: u64,
    outputs_equal: usize,
    outputs: usize,
    /// The best published PYNQ-Z2 latency for the task (µs) and who published it.
    anchor: Option<(f64, &'static str)>,
}

/// Published MLPerf Tiny latencies on the PYNQ-Z2 (`../shared/benchmarks/mlperf-tiny/README.md`).
fn anchor(task: &str) -> Option<(f64, &'static str)> {
    match task {
        "ic" => Some((1510.0, "FINN CNV-W1A1 (binarized)")),
        "kws" => Some((17.5, "FINN KWS-W3A3 MLP")),
        "ad" => Some((18.7, "hls4ml AD08")),
        _ => None,
    }
}

/// The six MLPerf Tiny models and the examples.
fn default_cases() -> Vec<Case> {
    let mlperf = Path::new("../shared/benchmarks/mlperf-tiny/models");
    let fixtures = Path::new("tests/fixtures/mlperf_tiny");
    let mut cases: Vec<Case> = [
        ("kws_dscnn", "keyword_spotting__trained_models__kws_ref_model.tflite", "kws"),
        ("ic_resnet8", "image_classification__trained_models__pretrainedResnet_quant.tflite", "ic"),
        ("ic_resnet8_large", "image_classification__trained_models__pretrainedResnet_large_int8.tflite", "ic"),
        ("vww_mobilenet", "visual_wake_words__trained_models__vww_96_int8.tflite", "vww"),
        ("ad_fc_autoencoder", "anomaly_detection__trained_models__ad01_int8.tflite", "ad"),
        ("sww_dscnn", "streaming_wakeword__trained_models__str_ww_ref_model.tflite", "sww"),
    ]
    .into_iter()
    .map(|(name, file, task)| Case {
        name: name.into(),
        model: mlperf.join(file),
        input: fixtures.join(name).join("x.npy"),
        reference: fixtures.join(name).join("ref.npy"),
        task: Some(task),
    })
    .collect();
    for (dir, stem) in [("digits_mlp", "mlp"), ("digits_cnn", "cnn"), ("digits_resnet", "resnet")] {
        let dir = Path::new("examples").join(dir);
        // Each example in TFLite (int8 input) and ONNX QOperator form (float input).
        for (form, input, reference) in
            [("int8.tflite", "x_test_int8", "ref_tflite"), ("qop.onnx", "x_test", "ref_qop")]
        {
            let name = format!("{stem}_{form}");
            cases.push(Case {
                model: dir.join(&name),
                name,
                input: dir.join(format!("data/{input}.npy")),
                reference: dir.join(format!("data/{reference}.npy")),
                task: None,
            });
        }
    }
    cases
}

/// `<case>/model.{tflite,onnx}` with `x.npy` and `ref.npy` in `dir`.
fn cases_in(dir: &Path) -> anyhow::Result<Vec<Case>> {
    let mut cases = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    for case in entries {
        let model = ["model.tflite", "model.onnx"].iter().map(|f| case.join(f)).find(|p| p.exists());
        let (Some(model), true, true) = (model, case.join("x.npy").exists(), case.join("ref.npy").exists()) else {
            continue;
        };
        let name = case.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        cases.push(Case { name, model, input: case.join("x.npy"), reference: case.join("ref.npy"), task: None });
    }
    anyhow::ensure!(!cases.is_empty(), "{}: no <case>/model.tflite (or .onnx) with x.npy and ref.npy", dir.display());
    Ok(cases)
}

/// The first `samples` samples of `t`.
fn first_samples(mut t: Tensor, samples: usize) -> Tensor {
    let per: usize = t.shape.iter().skip(1).product();
    let samples = samples.min(t.shape.first().copied().unwrap_or(0)).max(1);
    t.shape[0] = samples;
    match &mut t.data {
        TensorData::Int(v) => v.truncate(samples * per),
        TensorData::Float(v) => v.truncate(samples * per),
    }
    t
}

fn run_case(cfg: &AccelConfig, case: &Case, args: &ModelsArgs) -> anyhow::Result<Row> {
    let program = tessera_compiler::load_program(&case.model).map_err(anyhow::Error::msg)?;
    let model = compile(cfg, program, args.batch, CompileOptions::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", case.model.display()))?;
    let input = first_samples(read_input(&case.input)?, args.samples);
    let samples = input.shape[0];
    let device = backend::device(args.backend, cfg, model.dram_bytes as usize, None)?;
    let mut session = ModelSession::open(device, &model, Duration::from_secs(60))?;
    let run = session.run(&[input], None)?;
    let reference = read_input(&case.reference)?;
    let (equal, outputs) = compare(&run.outputs[0].1, &reference.data)
        .map_err(|e| anyhow::anyhow!("{}: {e}", case.reference.display()))?;
    let per = |v: u64| v / run.runs.max(1) as u64 / args.batch as u64;
    let cycles = run.total(Counter::Cycles) / samples.div_ceil(args.batch).max(1) as u64 / args.batch as u64;
    let macs: u64 = model.layers().map(|l| l.macs()).sum::<u64>() / args.batch as u64;
    let clock = cfg.clock_mhz;
    let latency_us = cycles as f64 / clock;
    Ok(Row {
        model: case.name.clone(),
        config: cfg.name.clone(),
        batch: args.batch,
        accelerator_ops: model.segments.iter().map(|s| s.ops.len()).sum(),
        segments: model.segments.len(),
        host_ops: model.host.len(),
        cycles_per_inference: cycles,
        predicted_cycles_per_inference: model.predicted_cycles() / args.batch as u64,
        host_steps_per_inference: run.host_steps as f64 / (run.runs * args.batch) as f64,
        host_us_per_inference: run.host_time.as_secs_f64() * 1e6 / samples as f64,
        pe_utilization: if cycles > 0 { macs as f64 / (cycles as f64 * cfg.peak_macs_per_cycle() as f64) } else { 0.0 },
        latency_us,
        inferences_per_s: if latency_us > 0.0 { 1e6 / latency_us } else { 0.0 },
        ddr_read_bytes: per(run.total(Counter::DmaReadBytes)),
        ddr_write_bytes: per(run.total(Counter::DmaWriteBytes)),
        outputs_equal: equal,
        outputs,
        anchor: case.task.and_then(anchor),
    })
}

pub fn run(args: &ModelsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.batch > 0 && args.samples > 0, "--batch and --samples must be at least 1");
    let cfg = AccelConfig::load(args.config)?;
    let cases = match args.models {
        Some(dir) => cases_in(dir)?,
        None => default_cases(),
    };
    // Build the RTL model once, with its own progress, before the table starts.
    if args.backend == Backend::Verilator {
        backend::verilator_model(&cfg, false)?;
    }
    let bar = ProgressBar::new(cases.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} models [{elapsed}] {msg}").expect("valid template"),
    );
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        bar.set_message(case.name.clone());
        match run_case(&cfg, case, args) {
            Ok(row) => rows.push(row),
            Err(e) => failures.push(format!("{}: {e:#}", case.name)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let text = match args.format {
        Format::Md => markdown(&cfg, args, &rows),
        Format::Json => serde_json::to_string_pretty(&rows)?,
    };
    println!("{text}");
    if let Some(dir) = args.out {
        std::fs::create_dir_all(dir)?;
        let ext = if args.format == Format::Json { "json" } else { "md" };
        std::fs::write(dir.join(format!("models.{ext}")), &text)?;
        plot(&dir.join("models.svg"), &cfg, &rows)?;
        println!("wrote {} and {}", dir.join(format!("models.{ext}")).display(), dir.join("models.svg").display());
    }
    let inexact: Vec<&Row> = rows.iter().filter(|r| r.outputs_equal != r.outputs).collect();
    println!(
        "{} models: {} bit-exact against their references, {} not, {} failed to run",
        cases.len(),
        rows.len() - inexact.len(),
        inexact.len(),
        failures.len()
    );
    for f in &failures {
        println!("  {f}");
    }
    anyhow::ensure!(failures.is_empty() && inexact.is_empty(), "not every model ran bit-exact");
    Ok(())
}

fn markdown(cfg: &AccelConfig, args: &ModelsArgs, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "`{}` ({}x{} array, {} MHz), {:?} backend, batch {}, up to {} samples per model; cycles from the RTL's counter per inference",
        cfg.name, cfg.array.rows, cfg.array.cols, cfg.clock_mhz, args.backend, args.batch, args.samples
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| model | accel ops (segments) / host ops | cycles per inference | predicted | host steps, µs per inference | PE util | latency at {} MHz | inferences/s | DDR read / write per inference | bit-exact | published PYNQ-Z2 |",
        cfg.clock_mhz
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for r in rows {
        let anchor = r.anchor.map_or_else(|| "–".to_string(), |(us, who)| format!("{us} µs ({who})"));
        let _ = writeln!(
            out,
            "| {} | {} ({}) / {} | {} | {} | {:.1}, {:.0} | {:.1}% | {:.1} µs | {:.0} | {} / {} B | {} of {} | {} |",
            r.model,
            r.accelerator_ops,
            r.segments,
            r.host_ops,
            r.cycles_per_inference,
            r.predicted_cycles_per_inference,
            r.host_steps_per_inference,
            r.host_us_per_inference,
            100.0 * r.pe_utilization,
            r.latency_us,
            r.inferences_per_s,
            r.ddr_read_bytes,
            r.ddr_write_bytes,
            r.outputs_equal,
            r.outputs,
            anchor
        );
    }
    out
}

/// Latency per inference (accelerator, at the config's clock) per model, on a log
/// scale, with the published PYNQ-Z2 figures for the same task where there are any.
fn plot(path: &Path, cfg: &AccelConfig, rows: &[Row]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = rows.iter().map(|r| r.latency_us.max(r.anchor.map_or(0.0, |a| a.0))).fold(10.0, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Tessera `{}`: latency per inference (RTL cycles at {} MHz)", cfg.name, cfg.clock_mhz),
            ("sans-serif", 18),
        )
        .margin(15)
        .x_label_area_size(110)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..rows.len() as f64, (1.0..top).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(rows.len())
        .x_label_formatter(&|x| rows.get(x.floor() as usize).map_or_else(String::new, |r| r.model.clone()))
        .y_desc("µs per inference (log)")
        .draw()?;
    let ours = Palette99::pick(0).to_rgba();
    let theirs = Palette99::pick(1).to_rgba();
    chart
        .draw_series(rows.iter().enumerate().map(|(i, r)| {
            Rectangle::new([(i as f64 + 0.15, 1.0), (i as f64 + 0.5, r.latency_us.max(1.0))], ours.filled())
        }))?
        .label("Tessera (accelerator)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], ours.filled()));
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            r.anchor.map(|(us, _)| Rectangle::new([(i as f64 + 0.5, 1.0), (i as f64 + 0.85, us)], theirs.filled()))
        }))?
        .label("published PYNQ-Z2 (FINN / hls4ml)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], theirs.filled()));
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;
    root.present()?;
    Ok(())
}
