//! `tessera run MODEL.onnx`: imports a QDQ chain model, runs its GEMMs on the
//! accelerator backend and the rest on the host, row by row of the input batch.
//!
//! Each row of the input `.npy` is one sample: the model's batch of 1 is run for all
//! rows at once, which is the same arithmetic because every step is row-wise.

use super::backend::{self, Backend};
use ndarray::{Array1, Array2};
use ndarray_npy::{read_npy, write_npy};
use std::path::Path;
use std::time::Duration;
use tessera_compiler::gemm::{blocked_order, lower_gemm_with, GemmOutput, GemmSpec, OperandQuant, WeightLayout};
use tessera_compiler::qdq::{lower_chain, Affine, GemmLayer, Step};
use tessera_compiler::ImageBuilder;
use tessera_driver::host::quant::{dequantize, quantize, QuantParams, QuantRange};
use tessera_isa::bundle::{DType, Role};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{encode_param_entries, OutType, RequantMode};

pub struct ModelArgs<'a> {
    pub model: &'a Path,
    pub config: &'a str,
    pub input: Option<&'a Path>,
    pub output: Option<&'a Path>,
    pub backend: Backend,
    pub trace: Option<&'a Path>,
    pub timeout: Duration,
    /// Integer class labels, one per row: print the top-1 accuracy.
    pub labels: Option<&'a Path>,
    /// Expected outputs (e.g. a reference runtime's): count bit-identical values.
    pub reference: Option<&'a Path>,
}

/// The result of running a model on a batch.
pub struct ModelRun {
    pub output: Array2<f32>,
    /// Per GEMM layer: node name and the accelerator's cycle counter (0 on golden).
    pub layers: Vec<(String, u64)>,
}

pub fn run(args: &ModelArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.trace.is_none(), "--trace applies to bundles, not to .onnx models");
    let path = args.input.ok_or_else(|| anyhow::anyhow!("running a .onnx model needs --input x.npy"))?;
    let cfg = AccelConfig::load(args.config)?;
    let input: Array2<f32> =
        read_npy(path).map_err(|e| anyhow::anyhow!("{}: not a 2-D float32 .npy: {e}", path.display()))?;
    let result = execute_file(args.model, &cfg, &input, args.backend, args.timeout)?;
    println!("{} on `{}` ({:?} backend), {} samples", args.model.display(), cfg.name, args.backend, input.nrows());
    for (node, cycles) in &result.layers {
        println!("  {node:<24} accelerator, {cycles} cycles");
    }
    let total: u64 = result.layers.iter().map(|(_, c)| c).sum();
    println!("  accelerator      {total} cycles in {} GEMMs", result.layers.len());
    let first: Vec<String> = result.output.row(0).iter().map(|v| v.to_string()).collect();
    println!("  output row 0     [{}]", first.join(", "));
    if let Some(path) = args.labels {
        let labels: Array1<i64> =
            read_npy(path).map_err(|e| anyhow::anyhow!("{}: not an int64 .npy: {e}", path.display()))?;
        anyhow::ensure!(
            labels.len() >= input.nrows(),
            "{}: {} labels for {} samples",
            path.display(),
            labels.len(),
            input.nrows()
        );
        let correct =
            result.output.rows().into_iter().zip(&labels).filter(|(row, &label)| argmax(row) as i64 == label).count();
        println!(
            "  top-1 accuracy   {correct} of {} ({:.2}%)",
            input.nrows(),
            100.0 * correct as f64 / input.nrows() as f64
        );
    }
    if let Some(path) = args.reference {
        let expected: Array2<f32> =
            read_npy(path).map_err(|e| anyhow::anyhow!("{}: not a 2-D float32 .npy: {e}", path.display()))?;
        let expected = expected.slice(ndarray::s![..input.nrows().min(expected.nrows()), ..]);
        anyhow::ensure!(
            expected.dim() == result.output.dim(),
            "{}: shape {:?}, the output is {:?}",
            path.display(),
            expected.dim(),
            result.output.dim()
        );
        let same = expected.iter().zip(&result.output).filter(|(a, b)| a.to_bits() == b.to_bits()).count();
        println!("  reference        {same} of {} outputs equal {} bit for bit", expected.len(), path.display());
        anyhow::ensure!(same == expected.len(), "{} outputs differ from {}", expected.len() - same, path.display());
    }
    if let Some(path) = args.output {
        write_npy(path, &result.output)?;
        println!("  wrote            {}", path.display());
    }
    Ok(())
}

/// The index of the first maximum (numpy's `argmax`; quantized outputs tie).
fn argmax(row: &ndarray::ArrayView1<f32>) -> usize {
    (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best })
}

/// Imports `model` and runs it on `input` (one sample per row).
pub fn execute_file(
    model: &Path,
    cfg: &AccelConfig,
    input: &Array2<f32>,
    backend: Backend,
    timeout: Duration,
) -> anyhow::Result<ModelRun> {
    let graph = tessera_compiler::onnx::import_file(model)?;
    let steps = lower_chain(&graph).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let rows = input.nrows();
    let mut width = input.ncols();
    let mut ints: Vec<i64> = Vec::new();
    let mut layers = Vec::new();
    for step in &steps {
        match step {
            Step::Quantize(q) => {
                let x: Vec<f32> = input.iter().copied().collect();
                ints = quantize(&x, &[rows, width], &per_tensor(q), QuantRange::I8)?;
            }
            Step::Gemm(layer) => {
                anyhow::ensure!(
                    layer.k == width,
                    "{}: node `{}` takes {} features, its input has {width}",
                    model.display(),
                    layer.node,
                    layer.k
                );
                let (out, cycles) = run_gemm(cfg, layer, &ints, rows, backend, timeout)?;
                layers.push((layer.node.clone(), cycles));
                ints = out;
                width = layer.n;
            }
            Step::AddConst { node, a, b, b_q, out } => {
                anyhow::ensure!(
                    b.len() == width,
                    "{}: node `{node}` adds {} values to rows of {width}",
                    model.display(),
                    b.len()
                );
                let x = dequantize(&ints, &[rows, width], &per_tensor(a))?;
                let bias = dequantize(b, &[width], &per_tensor(b_q))?;
                let sum: Vec<f32> = x.iter().enumerate().map(|(i, v)| v + bias[i % width]).collect();
                ints = quantize(&sum, &[rows, width], &per_tensor(out), QuantRange::I8)?;
            }
            Step::Dequantize(q) => {
                let y = dequantize(&ints, &[rows, width], &per_tensor(q))?;
                return Ok(ModelRun { output: Array2::from_shape_vec((rows, width), y)?, layers });
            }
        }
    }
    anyhow::bail!("{}: the lowered model does not end in DequantizeLinear", model.display())
}

fn per_tensor(q: &Affine) -> QuantParams<'_> {
    QuantParams { scale: std::slice::from_ref(&q.scale), zero_point: std::slice::from_ref(&q.zero), axis: 0 }
}

/// One GEMM layer on the accelerator: returns the int8 outputs and the cycle count.
fn run_gemm(
    cfg: &AccelConfig,
    layer: &GemmLayer,
    a: &[i64],
    rows: usize,
    backend: Backend,
    timeout: Duration,
) -> anyhow::Result<(Vec<i64>, u64)> {
    let (k, n) = (layer.k, layer.n);
    let mut image = ImageBuilder::new();
    let a_bytes: Vec<u8> = a.iter().map(|&v| v as i8 as u8).collect();
    let a_addr = image.tensor("a", Role::Input, DType::I8, &[rows, k], &a_bytes);
    let w_bytes: Vec<u8> = layer.weights.iter().map(|&v| v as u8).collect();
    let blocked: Vec<u8> = blocked_order(k, n, cfg.array.cols as usize).into_iter().map(|i| w_bytes[i]).collect();
    let b_addr = image.place(&blocked);
    let params_addr = image.place(&encode_param_entries(cfg.array.cols as usize, &layer.params));
    let c_addr = image.output("c", DType::I8, &[rows, n]);
    let spec = GemmSpec {
        m: rows,
        k,
        n,
        a_addr,
        b_addr,
        c_addr,
        a: OperandQuant { zero: layer.a.zero as i16, unsigned: false },
        w: OperandQuant::default(),
        output: GemmOutput::Requant {
            params_addr,
            mode: RequantMode::Float,
            out_type: OutType::I8,
            zero_point: layer.out.zero as i16,
            clamp: (-128, 127),
        },
    };
    let (program, _) = lower_gemm_with(cfg, &spec, WeightLayout::Blocked)?;
    let bundle = image.finish(cfg, &program, format!("{} ({rows}x{k}x{n})", layer.node));
    let mut session = backend::open(backend, cfg, bundle.header.dram_bytes as usize, None)?;
    let report = session.run_bundle(&bundle, timeout)?;
    let slot = bundle.tensors(Role::Output).next().expect("the image has an output `c`");
    let out = session.read_tensor(slot)?.iter().map(|&b| i64::from(b as i8)).collect();
    Ok((out, report.counter(tessera_isa::regs::Counter::Cycles)))
}
