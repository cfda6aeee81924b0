//! `tessera run MODEL.onnx`: imports a quantized model, lowers it, runs its layers on
//! the accelerator backend and the rest on the host (see [`super::executor`]) for a
//! batch of samples, and reports cycles per layer, accuracy and agreement with a
//! reference.

use super::backend::Backend;
use super::executor::{execute, execute_package, ModelRun, Target, Value};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, ArrayD, IxDyn};
use ndarray_npy::{read_npy, write_npy, ReadNpyError};
use std::path::Path;
use std::time::Duration;
use tessera_compiler::onnx::read_tensor_file;
use tessera_compiler::package::Package;
use tessera_compiler::tensor::{ElemType, Tensor, TensorData};
use tessera_isa::config::AccelConfig;

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
}

pub fn run(args: &ModelArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.trace.is_none(), "--trace applies to bundles, not to .onnx models");
    anyhow::ensure!(!args.inputs.is_empty(), "running a .onnx model needs --input (.npy or .pb), one per graph input");
    let cfg = AccelConfig::load(args.config)?;
    let inputs: Vec<Tensor> = args.inputs.iter().map(|p| read_input(p)).collect::<anyhow::Result<_>>()?;
    let result = execute_file(args.model, &cfg, &inputs, args.backend, args.timeout)?;
    let (name, output) = result.outputs.first().ok_or_else(|| anyhow::anyhow!("the model has no output"))?;
    println!(
        "{} on `{}` ({:?} backend), {} samples",
        args.model.display(),
        result.config.name,
        args.backend,
        output.rows()
    );
    for layer in &result.layers {
        let [m, k, n] = layer.gemm;
        println!(
            "  {:<24} {:<22} accelerator {m}x{k}x{n} ({}), {} cycles",
            layer.node, layer.source, layer.engine, layer.cycles
        );
    }
    let total: u64 = result.layers.iter().map(|l| l.cycles).sum();
    println!("  accelerator      {total} cycles in {} layers; {} host ops", result.layers.len(), result.host_ops);
    if total > 0 {
        // MACs over the cycles of the array's peak (the config the layers ran on).
        let macs: usize = result.layers.iter().map(|l| l.gemm.iter().product::<usize>()).sum();
        let peak = result.config.array.rows * result.config.array.cols;
        println!(
            "  PE utilization   {:.1}% ({macs} MACs at {peak} per cycle)",
            100.0 * macs as f64 / (total as f64 * f64::from(peak))
        );
    }
    let width = output.width();
    let shown: Vec<String> = match &output.values {
        TensorData::Float(v) => v[..width].iter().map(|x| x.to_string()).collect(),
        TensorData::Int(v) => v[..width].iter().map(|x| x.to_string()).collect(),
    };
    println!("  {name} sample 0  [{}]", shown.join(", "));
    if let Some(path) = args.labels {
        let labels: Array1<i64> =
            read_npy(path).map_err(|e| anyhow::anyhow!("{}: not an int64 .npy: {e}", path.display()))?;
        let rows = output.rows();
        anyhow::ensure!(labels.len() >= rows, "{}: {} labels for {rows} samples", path.display(), labels.len());
        let correct = match &output.values {
            TensorData::Float(y) => {
                y.chunks(width).zip(&labels).filter(|(row, &label)| argmax(row) as i64 == label).count()
            }
            TensorData::Int(y) => {
                y.chunks(width).zip(&labels).filter(|(row, &label)| argmax(row) as i64 == label).count()
            }
        };
        println!("  top-1 accuracy   {correct} of {rows} ({:.2}%)", 100.0 * correct as f64 / rows as f64);
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

/// Imports and lowers `model`, then runs it on `inputs`.
pub fn execute_file(
    model: &Path,
    cfg: &AccelConfig,
    inputs: &[Tensor],
    backend: Backend,
    timeout: Duration,
) -> anyhow::Result<ModelRun> {
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} operations [{elapsed}] {msg}").expect("valid template"),
    );
    let run = if is_package(model) {
        let package = Package::load(model).map_err(anyhow::Error::msg)?;
        execute_package(&package, inputs, backend, timeout, Some(&bar))
    } else {
        let program = tessera_compiler::load_program(model).map_err(anyhow::Error::msg)?;
        bar.set_length(program.ops.len() as u64);
        execute(&program, inputs, &Target { cfg, backend, timeout, bundles: None, progress: Some(&bar) })
    };
    bar.finish_and_clear();
    run.map_err(|e| e.context(model.display().to_string()))
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

/// An input file: a `TensorProto` `.pb`, or a `.npy` of float32, int8, uint8 or int64
/// values of any shape.
fn read_input(path: &Path) -> anyhow::Result<Tensor> {
    if path.extension().is_some_and(|e| e == "pb") {
        return Ok(read_tensor_file(path)?);
    }
    let context =
        |e: ReadNpyError| anyhow::anyhow!("{}: not a float32, int8, uint8 or int64 .npy: {e}", path.display());
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
    let x: ArrayD<i64> = read_npy(path).map_err(context)?;
    Ok(tensor(ElemType::I64, x.shape(), TensorData::Int(x.iter().copied().collect())))
}

/// (bit-identical values, values compared): the first values of `expected` when it
/// holds more samples than were run; an error when the two cannot be compared.
fn compare(run: &Value, expected: &TensorData) -> Result<(usize, usize), String> {
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
