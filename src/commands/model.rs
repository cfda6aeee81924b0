//! `tessera run MODEL`: runs a quantized model (`.onnx`, `.tflite`, compiled in
//! memory, or a compiled `.tsr`) through the runtime on a backend, for any number of
//! samples, and reports the accelerator's cycles per segment, the host steps, the
//! accuracy and agreement with a reference.

use super::backend::{self, Backend};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, ArrayD, IxDyn};
use ndarray_npy::{read_npy, write_npy, ReadNpyError};
use std::path::Path;
use std::time::Duration;
use tessera_compiler::model::{compile, CompileOptions, CompiledModel};
use tessera_compiler::onnx::read_tensor_file;
use tessera_compiler::tensor::{ElemType, Tensor, TensorData};
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::Counter;
use tessera_runtime::{ModelRun, ModelSession, Value};

pub struct ModelArgs<'a> {
    pub model: &'a Path,
    pub config: &'a str,
    /// One per graph input, in graph order.
    pub inputs: &'a [std::path::PathBuf],
    pub output: Option<&'a Path>,
    pub backend: Backend,
    pub trace: Option<&'a Path>,
    pub timeout: Duration,
    /// Integer class labels, one per sample: print the top-1 accuracy.
    pub labels: Option<&'a Path>,
    /// Expected outputs (`.npy` or a `TensorProto` `.pb`): fail unless bit-identical.
    pub reference: Option<&'a Path>,
    /// Samples per run when compiling a model here (default: all of them).
    pub batch: Option<usize>,
    /// Compile each accelerator layer as its own segment (to measure its cycles).
    pub per_layer: bool,
}

pub fn run(args: &ModelArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.inputs.is_empty(), "running a model needs --input (.npy or .pb), one per graph input");
    let inputs: Vec<Tensor> = args.inputs.iter().map(|p| read_input(p)).collect::<anyhow::Result<_>>()?;
    let samples = inputs[0].shape.first().copied().unwrap_or(1);
    let model = load_or_compile(args, samples)?;
    let run = execute(&model, &inputs, args.backend, args.trace, args.timeout)
        .map_err(|e| e.context(args.model.display().to_string()))?;
    let (name, output) = run.outputs.first().ok_or_else(|| anyhow::anyhow!("the model has no output"))?;
    println!(
        "{} on `{}` ({:?} backend), {} samples, batch {} ({} runs)",
        args.model.display(),
        model.config.name,
        args.backend,
        run.samples,
        model.batch,
        run.runs
    );
    print_segments(&model, &run);
    let width = output.width();
    let shown: Vec<String> = match &output.values {
        TensorData::Float(v) => v[..width].iter().map(|x| x.to_string()).collect(),
        TensorData::Int(v) => v[..width].iter().map(|x| x.to_string()).collect(),
    };
    println!("  {name} sample 0  [{}]", shown.join(", "));
    if let Some(path) = args.labels {
        print_accuracy(output, path)?;
    }
    if let Some(path) = args.reference {
        let (same, total) =
            compare(output, &read_input(path)?.data).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        println!("  reference        {same} of {total} outputs equal {} bit for bit", path.display());
        anyhow::ensure!(same == total, "{} outputs differ from {}", total - same, path.display());
    }
    if let Some(path) = args.output {
        let shape = IxDyn(&output.shape);
        match &output.values {
            TensorData::Float(v) => write_npy(path, &ArrayD::from_shape_vec(shape, v.clone())?)?,
            TensorData::Int(v) => write_npy(path, &ArrayD::from_shape_vec(shape, v.clone())?)?,
        }
        println!("  wrote            {}", path.display());
    }
    Ok(())
}

/// A compiled model from a `.tsr` (its own config and batch), or a model file
/// compiled here for `--config` at `--batch` (default: every sample in one run).
fn load_or_compile(args: &ModelArgs, samples: usize) -> anyhow::Result<CompiledModel> {
    if is_package(args.model) {
        anyhow::ensure!(!args.per_layer, "--per-layer applies when compiling a model; a .tsr is compiled already");
        return tessera_compiler::package::load(args.model).map_err(anyhow::Error::msg);
    }
    let cfg = AccelConfig::load(args.config)?;
    let program = tessera_compiler::load_program(args.model).map_err(anyhow::Error::msg)?;
    // An input declared with a fixed leading dimension above 1 is one sample as a
    // whole; such a model runs one sample at a time.
    let whole = program.inputs.first().is_some_and(|i| i.sample_rows() > 1);
    let batch = args.batch.unwrap_or(if whole { 1 } else { samples }).max(1);
    let options = CompileOptions { segment_per_layer: args.per_layer };
    compile(&cfg, program, batch, options).map_err(|e| anyhow::anyhow!("{}: {e}", args.model.display()))
}

/// Runs `model` on `inputs` on a fresh device of `backend`, with a progress bar.
pub fn execute(
    model: &CompiledModel,
    inputs: &[Tensor],
    backend: Backend,
    trace: Option<&Path>,
    timeout: Duration,
) -> anyhow::Result<ModelRun> {
    let device = backend::device(backend, &model.config, model.dram_bytes as usize, trace)?;
    let mut session = ModelSession::open(device, model, timeout)?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps [{elapsed}] {msg}").expect("valid template"),
    );
    let progress = |done: usize, total: usize, what: &str| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(what.to_string());
    };
    let run = session.run(inputs, Some(&progress));
    bar.finish_and_clear();
    Ok(run?)
}

/// Per segment: its layers and its cycles per run; then the totals.
fn print_segments(model: &CompiledModel, run: &ModelRun) {
    let runs = run.runs.max(1) as u64;
    let per_run = |v: u64| v / runs;
    for (index, (segment, stats)) in model.segments.iter().zip(&run.segments).enumerate() {
        let cycles = per_run(stats.counter(Counter::Cycles));
        if let [layer] = segment.layers.as_slice() {
            // One layer: its own line, with the cycles it took.
            let op = &model.program.ops[layer.op];
            println!(
                "  {:<24} {:<22} accelerator {} ({}), {cycles} cycles",
                op.node,
                op.source,
                shape(layer),
                layer.engine
            );
            continue;
        }
        println!(
            "  segment {index:<3}      {} layers, {} instructions: {cycles} cycles per run (predicted {})",
            segment.layers.len(),
            segment.program_len,
            segment.predicted
        );
        for layer in &segment.layers {
            let op = &model.program.ops[layer.op];
            println!(
                "    {:<22} {:<22} {} ({}{}), predicted {} cycles alone",
                op.node,
                op.source,
                shape(layer),
                layer.engine,
                if layer.lowering.is_empty() { String::new() } else { format!(", {}", layer.lowering) },
                layer.predicted
            );
        }
    }
    let cycles = per_run(run.total(Counter::Cycles));
    let host_per_run = run.host_steps / runs;
    println!(
        "  accelerator      {cycles} cycles per run in {} segments; {host_per_run} host steps per run ({:.3} ms on this machine)",
        model.segments.len(),
        run.host_time.as_secs_f64() * 1e3 / runs as f64
    );
    if cycles > 0 {
        let macs: u64 = model.layers().map(|l| l.macs()).sum();
        let peak = model.config.peak_macs_per_cycle();
        println!(
            "  PE utilization   {:.1}% ({macs} MACs per run at {peak} per cycle)",
            100.0 * macs as f64 / (cycles as f64 * peak as f64)
        );
        println!(
            "  DDR traffic      {} bytes read, {} written per run",
            per_run(run.total(Counter::DmaReadBytes)),
            per_run(run.total(Counter::DmaWriteBytes))
        );
    }
}

/// A layer's GEMM shape (all its GEMMs' rows together), or its lowering if it has none.
fn shape(layer: &tessera_compiler::model::LayerInfo) -> String {
    let [m, k, n] = layer.gemm;
    if layer.gemms == 0 {
        layer.lowering.clone()
    } else {
        format!("{}x{k}x{n}", m * layer.gemms)
    }
}

fn print_accuracy(output: &Value, path: &Path) -> anyhow::Result<()> {
    let labels: Array1<i64> =
        read_npy(path).map_err(|e| anyhow::anyhow!("{}: not an int64 .npy: {e}", path.display()))?;
    let (rows, width) = (output.rows(), output.width());
    anyhow::ensure!(labels.len() >= rows, "{}: {} labels for {rows} samples", path.display(), labels.len());
    let correct = match &output.values {
        TensorData::Float(y) => {
            y.chunks(width).zip(&labels).filter(|(row, &label)| argmax(row) as i64 == label).count()
        }
        TensorData::Int(y) => y.chunks(width).zip(&labels).filter(|(row, &label)| argmax(row) as i64 == label).count(),
    };
    println!("  top-1 accuracy   {correct} of {rows} ({:.2}%)", 100.0 * correct as f64 / rows as f64);
    Ok(())
}

/// Whether `path` is a model `tessera run` imports (`.onnx`, `.tflite`) or a compiled
/// model (`.tsr` package), rather than a program bundle.
pub fn is_model(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "onnx" || e == "tflite") || is_package(path)
}

fn is_package(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head)).is_ok()
        && tessera_compiler::package::is_package(&head)
}

/// The index of the first maximum (numpy's `argmax`; quantized outputs tie).
fn argmax<T: PartialOrd>(row: &[T]) -> usize {
    (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best })
}

/// An input file: a `TensorProto` `.pb`, or a `.npy` of float32, int8, uint8, int16 or
/// int64 values of any shape.
pub fn read_input(path: &Path) -> anyhow::Result<Tensor> {
    if path.extension().is_some_and(|e| e == "pb") {
        return Ok(read_tensor_file(path)?);
    }
    let context =
        |e: ReadNpyError| anyhow::anyhow!("{}: not a float32, int8, uint8, int16 or int64 .npy: {e}", path.display());
    let tensor = |dtype, shape: &[usize], data| Tensor { dtype, shape: shape.to_vec(), data };
    if let Ok(x) = read_npy::<_, ArrayD<f32>>(path) {
        return Ok(tensor(ElemType::F32, x.shape(), TensorData::Float(x.iter().copied().collect())));
    }
    if let Ok(x) = read_npy::<_, ArrayD<i8>>(path) {
        return Ok(tensor(ElemType::I8, x.shape(), TensorData::Int(x.iter().map(|&v| v.into()).collect())));
    }
    if let Ok(x) = read_npy::<_, ArrayD<u8>>(path) {
        return Ok(tensor(ElemType::U8, x.shape(), TensorData::Int(x.iter().map(|&v| v.into()).collect())));
    }
    if let Ok(x) = read_npy::<_, ArrayD<i16>>(path) {
        return Ok(tensor(ElemType::I16, x.shape(), TensorData::Int(x.iter().map(|&v| v.into()).collect())));
    }
    let x: ArrayD<i64> = read_npy(path).map_err(context)?;
    Ok(tensor(ElemType::I64, x.shape(), TensorData::Int(x.iter().copied().collect())))
}

/// (bit-identical values, values compared): the first values of `expected` when it
/// holds more samples than were run; an error when the two cannot be compared.
pub fn compare(run: &Value, expected: &TensorData) -> Result<(usize, usize), String> {
    let fewer = |len: usize, n: usize| format!("{len} expected values for {n} outputs");
    match (&run.values, expected) {
        (TensorData::Float(a), TensorData::Float(b)) if b.len() >= a.len() => {
            Ok((a.iter().zip(b).filter(|(x, y)| x.to_bits() == y.to_bits()).count(), a.len()))
        }
        (TensorData::Int(a), TensorData::Int(b)) if b.len() >= a.len() => {
            Ok((a.iter().zip(b).filter(|(x, y)| x == y).count(), a.len()))
        }
        (TensorData::Float(a), TensorData::Float(b)) => Err(fewer(b.len(), a.len())),
        (TensorData::Int(a), TensorData::Int(b)) => Err(fewer(b.len(), a.len())),
        (TensorData::Float(_), TensorData::Int(_)) => Err("the outputs are float, the expected values integer".into()),
        (TensorData::Int(_), TensorData::Float(_)) => Err("the outputs are integer, the expected values float".into()),
    }
}
