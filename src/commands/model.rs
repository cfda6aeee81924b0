//! `tessera run MODEL.onnx`: imports a chain of quantized layers, runs its GEMMs on
//! the accelerator backend and the rest on the host, for every row of the input.
//!
//! Each row (the last dimension) of the input is one sample: the model's batch of 1
//! is run for all rows at once, which is the same arithmetic because every step is
//! row-wise.

use super::backend::{self, Backend};
use ndarray::{Array1, Array2};
use ndarray_npy::{read_npy, write_npy};
use std::path::Path;
use std::time::Duration;
use tessera_compiler::chain::{lower_chain, Affine, BoundaryQuant, ConvGeometry, GemmLayer, LayerOutput, Step};
use tessera_compiler::gemm::OperandQuant;
use tessera_compiler::gemm_bundle::{gemm_bundle, BundleOutput, GemmOperands};
use tessera_compiler::onnx::read_tensor_file;
use tessera_compiler::tensor::{ElemType, Tensor, TensorData};
use tessera_driver::host::quant::{dequantize, quantize, QuantParams, QuantRange};
use tessera_isa::bundle::Role;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{OutType, RequantMode};

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
    /// Expected outputs (`.npy` or a `TensorProto` `.pb`): fail unless bit-identical.
    pub reference: Option<&'a Path>,
}

/// Values between steps, row-major with `width` elements per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Float(Vec<f32>),
    Int(Vec<i64>),
}

/// The result of running a model on a batch.
pub struct ModelRun {
    pub output: Values,
    pub rows: usize,
    pub width: usize,
    /// Per GEMM layer: node name and the accelerator's cycle counter (0 on golden).
    pub layers: Vec<(String, u64)>,
}

pub fn run(args: &ModelArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.trace.is_none(), "--trace applies to bundles, not to .onnx models");
    let path = args.input.ok_or_else(|| anyhow::anyhow!("running a .onnx model needs --input (.npy or .pb)"))?;
    let cfg = AccelConfig::load(args.config)?;
    let input = read_input(path)?;
    let result = execute_file(args.model, &cfg, &input, args.backend, args.timeout)?;
    println!("{} on `{}` ({:?} backend), {} samples", args.model.display(), cfg.name, args.backend, result.rows);
    for (node, cycles) in &result.layers {
        println!("  {node:<24} accelerator, {cycles} cycles");
    }
    let total: u64 = result.layers.iter().map(|(_, c)| c).sum();
    println!("  accelerator      {total} cycles in {} GEMMs", result.layers.len());
    let shown: Vec<String> = match &result.output {
        Values::Float(v) => v[..result.width].iter().map(|x| x.to_string()).collect(),
        Values::Int(v) => v[..result.width].iter().map(|x| x.to_string()).collect(),
    };
    println!("  output row 0     [{}]", shown.join(", "));
    if let Some(path) = args.labels {
        let labels: Array1<i64> =
            read_npy(path).map_err(|e| anyhow::anyhow!("{}: not an int64 .npy: {e}", path.display()))?;
        anyhow::ensure!(
            labels.len() >= result.rows,
            "{}: {} labels for {} samples",
            path.display(),
            labels.len(),
            result.rows
        );
        let Values::Float(y) = &result.output else { anyhow::bail!("--labels needs a float output (logits)") };
        let correct = y.chunks(result.width).zip(&labels).filter(|(row, &label)| argmax(row) as i64 == label).count();
        println!(
            "  top-1 accuracy   {correct} of {} ({:.2}%)",
            result.rows,
            100.0 * correct as f64 / result.rows as f64
        );
    }
    if let Some(path) = args.reference {
        let (same, total) = compare(&result, &read_reference(path, result.rows * result.width)?)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        println!("  reference        {same} of {total} outputs equal {} bit for bit", path.display());
        anyhow::ensure!(same == total, "{} outputs differ from {}", total - same, path.display());
    }
    if let Some(path) = args.output {
        match &result.output {
            Values::Float(v) => write_npy(path, &Array2::from_shape_vec((result.rows, result.width), v.clone())?)?,
            Values::Int(v) => write_npy(path, &Array2::from_shape_vec((result.rows, result.width), v.clone())?)?,
        }
        println!("  wrote            {}", path.display());
    }
    Ok(())
}

/// The index of the first maximum (numpy's `argmax`; quantized outputs tie).
fn argmax(row: &[f32]) -> usize {
    (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best })
}

/// An input file: a 2-D float32 `.npy` or a `TensorProto` `.pb` of any shape.
fn read_input(path: &Path) -> anyhow::Result<Tensor> {
    if path.extension().is_some_and(|e| e == "pb") {
        return Ok(read_tensor_file(path)?);
    }
    let x: Array2<f32> =
        read_npy(path).map_err(|e| anyhow::anyhow!("{}: not a 2-D float32 .npy: {e}", path.display()))?;
    Ok(Tensor { dtype: ElemType::F32, shape: x.shape().to_vec(), data: TensorData::Float(x.iter().copied().collect()) })
}

/// Expected outputs: a `.pb` tensor, or a 2-D float32 `.npy` whose first `count`
/// values are compared.
fn read_reference(path: &Path, count: usize) -> anyhow::Result<Values> {
    let tensor = read_input(path)?;
    let values = match tensor.data {
        TensorData::Float(v) => Values::Float(v.into_iter().take(count).collect()),
        TensorData::Int(v) => Values::Int(v.into_iter().take(count).collect()),
    };
    Ok(values)
}

/// (bit-identical values, values compared); an error when the two cannot be compared.
fn compare(run: &ModelRun, expected: &Values) -> Result<(usize, usize), String> {
    match (&run.output, expected) {
        (Values::Float(a), Values::Float(b)) if a.len() == b.len() => {
            Ok((a.iter().zip(b).filter(|(x, y)| x.to_bits() == y.to_bits()).count(), a.len()))
        }
        (Values::Int(a), Values::Int(b)) if a.len() == b.len() => {
            Ok((a.iter().zip(b).filter(|(x, y)| x == y).count(), a.len()))
        }
        (Values::Float(a), Values::Float(b)) => Err(format!("{} expected values for {} outputs", b.len(), a.len())),
        (Values::Int(a), Values::Int(b)) => Err(format!("{} expected values for {} outputs", b.len(), a.len())),
        (Values::Float(_), Values::Int(_)) => Err("the outputs are float, the expected values integer".into()),
        (Values::Int(_), Values::Float(_)) => Err("the outputs are integer, the expected values float".into()),
    }
}

/// Imports `model` and runs it on `input` (one sample per row of its last dimension).
pub fn execute_file(
    model: &Path,
    cfg: &AccelConfig,
    input: &Tensor,
    backend: Backend,
    timeout: Duration,
) -> anyhow::Result<ModelRun> {
    let graph = tessera_compiler::onnx::import_file(model)?;
    let steps = lower_chain(&graph).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let fail = |what: String| anyhow::anyhow!("{}: {what}", model.display());
    // The current values' shape: the input's, with the last dimension replaced by
    // each GEMM's output width.
    let mut shape = if input.shape.is_empty() { vec![1] } else { input.shape.clone() };
    let mut values = match &input.data {
        TensorData::Float(v) => Values::Float(v.clone()),
        TensorData::Int(v) => Values::Int(v.clone()),
    };
    let mut layers = Vec::new();
    for step in &steps {
        let width = (*shape.last().expect("at least one dimension")).max(1);
        let rows = shape.iter().product::<usize>() / width;
        values = match (step, values) {
            (Step::Quantize(q), Values::Float(x)) => {
                Values::Int(quantize(&x, &shape, &boundary(q, shape.len()).map_err(fail)?, range(q.dtype))?)
            }
            (Step::Gemm(layer), Values::Int(a)) => {
                if layer.k != width {
                    return Err(fail(format!(
                        "node `{}` takes {} features, its input has {width}",
                        layer.node, layer.k
                    )));
                }
                // A 3-D weight pairs with a 3-D input of the same batch (no broadcasting).
                if layer.batches > 1 && !(shape.len() == 3 && shape[0] == layer.batches) {
                    return Err(fail(format!(
                        "node `{}` has {} weight matrices; its input must be [{}, M, K], not {shape:?}",
                        layer.node, layer.batches, layer.batches
                    )));
                }
                let (group, mut out, mut cycles) = (rows / layer.batches, Vec::with_capacity(rows * layer.n), 0);
                for (b, a) in a.chunks(group * width).enumerate() {
                    let weights = &layer.weights[b * layer.k * layer.n..(b + 1) * layer.k * layer.n];
                    let (part, c) = run_gemm(cfg, layer, weights, a, group, backend, timeout)?;
                    out.extend(part);
                    cycles += c;
                }
                layers.push((layer.node.clone(), cycles));
                *shape.last_mut().expect("at least one dimension") = layer.n;
                Values::Int(out)
            }
            (Step::Conv { geometry, layer }, Values::Int(x)) => {
                let (out, out_shape, cycles) = run_conv(cfg, geometry, layer, &x, &shape, backend, timeout)
                    .map_err(|e| fail(format!("node `{}`: {e}", layer.node)))?;
                layers.push((layer.node.clone(), cycles));
                shape = out_shape;
                Values::Int(out)
            }
            (Step::AddConst { node, a, b, b_q, out }, Values::Int(x)) => {
                if b.len() != width {
                    return Err(fail(format!("node `{node}` adds {} values to rows of {width}", b.len())));
                }
                let x = dequantize(&x, &[rows, width], &per_tensor(a))?;
                let bias = dequantize(b, &[width], &per_tensor(b_q))?;
                let sum: Vec<f32> = x.iter().enumerate().map(|(i, v)| v + bias[i % width]).collect();
                Values::Int(quantize(&sum, &[rows, width], &per_tensor(out), range(out.dtype))?)
            }
            (Step::Dequantize(q), Values::Int(x)) => {
                let y = dequantize(&x, &shape, &boundary(q, shape.len()).map_err(fail)?)?;
                return Ok(ModelRun { output: Values::Float(y), rows, width, layers });
            }
            (Step::Output, values) => return Ok(ModelRun { output: values, rows, width, layers }),
            (step, _) => return Err(fail(format!("the input of step {step:?} has the wrong type ({})", input.dtype))),
        };
    }
    Err(fail("the lowered model has no output step".into()))
}

/// A convolution: im2col on the host (padding with the input's zero point, so it
/// contributes nothing), the GEMM on the accelerator, then back to NCHW.
fn run_conv(
    cfg: &AccelConfig,
    geometry: &ConvGeometry,
    layer: &GemmLayer,
    x: &[i64],
    shape: &[usize],
    backend: Backend,
    timeout: Duration,
) -> anyhow::Result<(Vec<i64>, Vec<usize>, u64)> {
    let &[n, c, h, w] = shape else { anyhow::bail!("the input must be NCHW, not {shape:?}") };
    anyhow::ensure!(c == geometry.channels, "the input has {c} channels, the kernel {}", geometry.channels);
    let [oh, ow] =
        geometry.output_size(h, w).ok_or_else(|| anyhow::anyhow!("the kernel is larger than the padded input"))?;
    let [kh, kw] = geometry.kernel;
    let k = c * kh * kw;
    let mut patches = Vec::with_capacity(n * oh * ow * k);
    for b in 0..n {
        for (y, xo) in (0..oh).flat_map(|y| (0..ow).map(move |xo| (y, xo))) {
            for (ch, i, j) in (0..c).flat_map(|ch| (0..kh).flat_map(move |i| (0..kw).map(move |j| (ch, i, j)))) {
                let row = (y * geometry.strides[0] + i * geometry.dilations[0]).checked_sub(geometry.pads[0]);
                let col = (xo * geometry.strides[1] + j * geometry.dilations[1]).checked_sub(geometry.pads[1]);
                let value = match (row, col) {
                    (Some(r), Some(q)) if r < h && q < w => x[((b * c + ch) * h + r) * w + q],
                    _ => layer.a_zero,
                };
                patches.push(value);
            }
        }
    }
    let m = layer.n;
    let (gemm, cycles) = run_gemm(cfg, layer, &layer.weights, &patches, n * oh * ow, backend, timeout)?;
    // [n, oh*ow, m] -> [n, m, oh, ow]
    let spatial = oh * ow;
    let out = (0..n * m * spatial)
        .map(|i| gemm[(i / (m * spatial) * spatial + i % spatial) * m + (i / spatial) % m])
        .collect();
    Ok((out, vec![n, m, oh, ow], cycles))
}

/// Host parameters of a boundary Q/DQ on a tensor of `rank` dimensions.
fn boundary(q: &BoundaryQuant, rank: usize) -> Result<QuantParams<'_>, String> {
    let axis = if q.axis < 0 { q.axis + rank as i64 } else { q.axis };
    let axis = usize::try_from(axis).ok().filter(|&a| a < rank || q.scales.len() == 1);
    let axis = axis.ok_or_else(|| format!("quantization axis {} is outside a rank-{rank} tensor", q.axis))?;
    Ok(QuantParams { scale: &q.scales, zero_point: &q.zeros, axis, block_size: q.block_size })
}

fn per_tensor(q: &Affine) -> QuantParams<'_> {
    QuantParams {
        scale: std::slice::from_ref(&q.scale),
        zero_point: std::slice::from_ref(&q.zero),
        axis: 0,
        block_size: 0,
    }
}

fn range(dtype: ElemType) -> QuantRange {
    match dtype {
        ElemType::U8 => QuantRange::U8,
        _ => QuantRange::I8,
    }
}

/// One GEMM of `layer` with `weights` (`K x N`) on the accelerator: returns the
/// outputs and the cycle count.
fn run_gemm(
    cfg: &AccelConfig,
    layer: &GemmLayer,
    weights: &[i64],
    a: &[i64],
    rows: usize,
    backend: Backend,
    timeout: Duration,
) -> anyhow::Result<(Vec<i64>, u64)> {
    let (k, n) = (layer.k, layer.n);
    // Two's complement low bytes: the same bits for int8 and uint8 values.
    let (a_bytes, w_bytes): (Vec<u8>, Vec<u8>) =
        (a.iter().map(|&v| v as u8).collect(), weights.iter().map(|&v| v as u8).collect());
    let ops = GemmOperands {
        m: rows,
        k,
        n,
        a: &a_bytes,
        a_quant: OperandQuant { zero: layer.a_zero as i16, unsigned: layer.a_type == ElemType::U8 },
        w: &w_bytes,
        w_quant: OperandQuant { zero: layer.w_zero as i16, unsigned: layer.w_type == ElemType::U8 },
    };
    let output = match &layer.output {
        LayerOutput::Requant { params, out } => {
            let (out_type, clamp) =
                if out.dtype == ElemType::U8 { (OutType::U8, (0, 255)) } else { (OutType::I8, (-128, 127)) };
            BundleOutput::Requant { params, mode: RequantMode::Float, out_type, zero_point: out.zero as i16, clamp }
        }
        LayerOutput::Raw32 => BundleOutput::Raw32,
    };
    let (bundle, _) = gemm_bundle(cfg, &ops, output, format!("{} ({rows}x{k}x{n})", layer.node))?;
    let mut session = backend::open(backend, cfg, bundle.header.dram_bytes as usize, None)?;
    let report = session.run_bundle(&bundle, timeout)?;
    let slot = bundle.tensors(Role::Output).next().expect("the image has an output `c`");
    let bytes = session.read_tensor(slot)?;
    let mut out: Vec<i64> = (0..slot.elements()).map(|i| i64::from(slot.dtype.get(&bytes, i))).collect();
    if let Some(zeros) = &layer.w_zero_columns {
        // Column c's weights carry zero point zeros[c] the array did not remove:
        // (a - za) . (w - zc) = (a - za) . w - zc * sum(a - za).
        for (r, row) in out.chunks_mut(n).enumerate() {
            let sum: i64 = a[r * k..(r + 1) * k].iter().map(|v| v - layer.a_zero).sum();
            for (value, zero) in row.iter_mut().zip(zeros) {
                *value -= zero * sum;
            }
        }
    }
    Ok((out, report.counter(tessera_isa::regs::Counter::Cycles)))
}
