//! Runs a lowered [`Program`]: accelerator layers on a backend (each layer its own
//! one-GEMM bundle), host operations on the CPU (`tessera_driver::host`), over a
//! batch of samples at once.
//!
//! Batching: a graph input declared `[1, d1, ..]` (or with a symbolic first
//! dimension) accepts `[N, ..]` with the same number of elements per sample; the
//! leading dimension is then the batch, and every op is per sample, so the result
//! equals running the samples one at a time.

use super::backend::{self, Backend};
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::time::Duration;
use tessera_compiler::cost::CostModel;
use tessera_compiler::package::Package;
use tessera_compiler::plan::{conv_plan, gemm_plan};
use tessera_compiler::program::{
    Affine, BoundaryQuant, ConvGeometry, GemmLayer, HostArith, HostOp, Op, OpKind, Program,
};
use tessera_compiler::shape::{flatten_shape, reshape_batched};
use tessera_compiler::tensor::{ElemType, Tensor, TensorData};
use tessera_isa::bundle::{Bundle, Role};
use tessera_isa::config::AccelConfig;
use tessera_runtime::host::ops::{average_pool_int, broadcast_binary, max_pool};
use tessera_runtime::host::quant::{dequantize, quantize, QuantParams, QuantRange};
use tessera_runtime::host::tflite;

/// A value computed by the program.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub values: TensorData,
    pub shape: Vec<usize>,
}

impl Value {
    /// Elements per sample (per index of the leading dimension).
    pub fn width(&self) -> usize {
        self.shape.iter().skip(1).product::<usize>().max(1)
    }

    /// The size of the last dimension.
    pub fn width_last(&self) -> usize {
        self.shape.last().copied().unwrap_or(1)
    }

    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }
}

/// One accelerator layer's run.
pub struct LayerRun {
    pub node: String,
    pub source: String,
    /// `M x K x N` of its GEMM (all batches).
    pub gemm: [usize; 3],
    /// How the array ran it: `dense`, or `N:4` tiles.
    pub engine: String,
    /// The accelerator's cycle counter (0 on the golden backend's untimed runs).
    pub cycles: u64,
}

/// The result of running a program on a batch.
pub struct ModelRun {
    /// The accelerator config the layers ran on.
    pub config: AccelConfig,
    /// The graph outputs, in graph order.
    pub outputs: Vec<(String, Value)>,
    pub layers: Vec<LayerRun>,
    /// Host operations run (node names).
    pub host_ops: usize,
}

/// Where and how long accelerator layers run.
pub struct Target<'a> {
    pub cfg: &'a AccelConfig,
    pub backend: Backend,
    pub timeout: Duration,
    /// Compiled bundles per operation (a `.tsr` package's), used instead of lowering
    /// each layer for the batch at hand.
    pub bundles: Option<&'a [Vec<Bundle>]>,
    /// Advanced by one per operation run.
    pub progress: Option<&'a ProgressBar>,
}

/// Runs a compiled model on `inputs` (one per graph input, any number of samples):
/// the samples go through the program `package.batch` at a time, the last group
/// padded by repeating its last sample (whose results are dropped). Layer cycles add
/// up over the groups.
pub fn execute_package(
    package: &Package,
    inputs: &[Tensor],
    backend: Backend,
    timeout: Duration,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<ModelRun> {
    let program = &package.program;
    anyhow::ensure!(
        inputs.len() == program.inputs.len(),
        "the model has {} input(s); {} given",
        program.inputs.len(),
        inputs.len()
    );
    let shaped: Vec<Tensor> = program
        .inputs
        .iter()
        .zip(inputs)
        .map(|(declared, t)| {
            let shape =
                declared.batch_shape(&t.shape).map_err(|e| anyhow::anyhow!("input `{}`: {e}", declared.name))?;
            Ok(Tensor { shape, ..t.clone() })
        })
        .collect::<anyhow::Result<_>>()?;
    let samples = shaped[0].shape[0];
    anyhow::ensure!(shaped.iter().all(|t| t.shape[0] == samples), "every input must have the same number of samples");
    if let Some(bar) = progress {
        bar.set_length((samples.div_ceil(package.batch) * program.ops.len()) as u64);
    }
    let target = Target { cfg: &package.config, backend, timeout, bundles: Some(&package.bundles), progress };
    let mut total: Option<ModelRun> = None;
    for start in (0..samples).step_by(package.batch) {
        let chunk: Vec<Tensor> = shaped.iter().map(|t| sample_rows(t, start, package.batch)).collect();
        let mut run = execute(program, &chunk, &target)?;
        let keep = package.batch.min(samples - start);
        for (_, value) in &mut run.outputs {
            let width = value.width();
            value.shape[0] = keep;
            match &mut value.values {
                TensorData::Float(v) => v.truncate(keep * width),
                TensorData::Int(v) => v.truncate(keep * width),
            }
        }
        let Some(acc) = &mut total else {
            total = Some(run);
            continue;
        };
        for ((_, a), (_, b)) in acc.outputs.iter_mut().zip(run.outputs) {
            a.shape[0] += b.shape[0];
            match (&mut a.values, b.values) {
                (TensorData::Float(x), TensorData::Float(y)) => x.extend(y),
                (TensorData::Int(x), TensorData::Int(y)) => x.extend(y),
                _ => unreachable!("an output keeps its type"),
            }
        }
        for (a, b) in acc.layers.iter_mut().zip(run.layers) {
            a.cycles += b.cycles;
            a.gemm[0] += b.gemm[0];
        }
        acc.host_ops += run.host_ops;
    }
    total.ok_or_else(|| anyhow::anyhow!("the input has no samples"))
}

/// Samples `start .. start + count` of `t` (first dimension), repeating the last
/// sample where `t` has fewer.
fn sample_rows(t: &Tensor, start: usize, count: usize) -> Tensor {
    let width: usize = t.shape.iter().skip(1).product();
    let last = t.shape[0] - 1;
    let rows = (start..start + count).map(|r| r.min(last));
    let data = match &t.data {
        TensorData::Float(v) => TensorData::Float(rows.flat_map(|r| v[r * width..(r + 1) * width].to_vec()).collect()),
        TensorData::Int(v) => TensorData::Int(rows.flat_map(|r| v[r * width..(r + 1) * width].to_vec()).collect()),
    };
    let mut shape = t.shape.clone();
    shape[0] = count;
    Tensor { dtype: t.dtype, shape, data }
}

/// Runs `program` on `inputs` (one per graph input, in graph order).
pub fn execute(program: &Program, inputs: &[Tensor], target: &Target) -> anyhow::Result<ModelRun> {
    anyhow::ensure!(
        inputs.len() == program.inputs.len(),
        "the model has {} input(s) ({}); {} given",
        program.inputs.len(),
        program.inputs.iter().map(|i| format!("`{}`", i.name)).collect::<Vec<_>>().join(", "),
        inputs.len()
    );
    let mut env: HashMap<String, Value> = HashMap::new();
    for (declared, tensor) in program.inputs.iter().zip(inputs) {
        let shape =
            declared.batch_shape(&tensor.shape).map_err(|e| anyhow::anyhow!("input `{}`: {e}", declared.name))?;
        let values = match (&tensor.data, declared.dtype) {
            (TensorData::Float(v), ElemType::F32) => TensorData::Float(v.clone()),
            (TensorData::Int(v), t) if t.int_range().is_some() => TensorData::Int(v.clone()),
            _ => anyhow::bail!("input `{}` must be {}, the file holds {}", declared.name, declared.dtype, tensor.dtype),
        };
        env.insert(declared.name.clone(), Value { values, shape });
    }
    let mut layers = Vec::new();
    let mut host_ops = 0;
    for (index, op) in program.ops.iter().enumerate() {
        if let Some(bar) = target.progress {
            bar.set_message(format!("{} ({})", op.node, op.source));
        }
        let fail = |e: anyhow::Error| e.context(format!("node `{}` ({})", op.node, op.source));
        let args: Vec<Value> =
            op.inputs.iter().map(|name| lookup(program, &env, name)).collect::<anyhow::Result<_>>().map_err(fail)?;
        let value = match &op.kind {
            OpKind::Gemm(layer) | OpKind::Conv { layer, .. } => {
                let compiled = target.bundles.map(|b| b[index].as_slice());
                let (value, run) = run_layer(op, layer, &args[0], target, compiled).map_err(fail)?;
                layers.push(run);
                value
            }
            _ => {
                host_ops += 1;
                run_host(&op.kind, &args).map_err(fail)?
            }
        };
        env.insert(op.output.clone(), value);
        if let Some(bar) = target.progress {
            bar.inc(1);
        }
    }
    let outputs = program
        .outputs
        .iter()
        .map(|name| Ok((name.clone(), lookup(program, &env, name)?)))
        .collect::<anyhow::Result<_>>()?;
    Ok(ModelRun { config: target.cfg.clone(), outputs, layers, host_ops })
}

fn lookup(program: &Program, env: &HashMap<String, Value>, name: &str) -> anyhow::Result<Value> {
    if let Some(v) = env.get(name) {
        return Ok(v.clone());
    }
    let c = program.constants.get(name).ok_or_else(|| anyhow::anyhow!("value `{name}` is not computed"))?;
    Ok(Value { values: TensorData::Int(c.values.clone()), shape: c.shape.clone() })
}

fn ints(v: &Value) -> anyhow::Result<&[i64]> {
    match &v.values {
        TensorData::Int(x) => Ok(x),
        TensorData::Float(_) => anyhow::bail!("expects integer values, got float"),
    }
}

/// A host operation.
fn run_host(kind: &OpKind, args: &[Value]) -> anyhow::Result<Value> {
    match kind {
        OpKind::Quantize(q) => {
            let TensorData::Float(x) = &args[0].values else { anyhow::bail!("quantizes float values, got integers") };
            let shape = &args[0].shape;
            let values = quantize(x, shape, &boundary(q, shape.len())?, range(q.dtype))?;
            Ok(Value { values: TensorData::Int(values), shape: shape.clone() })
        }
        OpKind::Dequantize(q) => {
            let shape = &args[0].shape;
            let values = dequantize(ints(&args[0])?, shape, &boundary(q, shape.len())?)?;
            Ok(Value { values: TensorData::Float(values), shape: shape.clone() })
        }
        OpKind::Host { op, arith: HostArith::Integer { clamp } } => {
            let x: Vec<&[i64]> = args.iter().map(ints).collect::<anyhow::Result<_>>()?;
            let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape.as_slice()).collect();
            let (mut values, shape) = match op {
                HostOp::AvgPool(w) => average_pool_int(x[0], shapes[0], w)?,
                _ => host_op(op, &x, &shapes, 0)?,
            };
            if let Some((lo, hi)) = clamp {
                values.iter_mut().for_each(|v| *v = (*v).clamp(*lo, *hi));
            }
            Ok(Value { values: TensorData::Int(values), shape })
        }
        OpKind::Host { op: HostOp::Add, arith: HostArith::TfliteAdd { inputs: [a, b], out, clamp } } => {
            let q = |p: &Affine| tflite::Quant { scale: p.scale, zero: p.zero };
            let params = tflite::AddParams::new(q(a), q(b), q(out), *clamp)
                .ok_or_else(|| anyhow::anyhow!("the scales give no fixed-point multipliers"))?;
            let (values, shape) =
                tflite::add(ints(&args[0])?, &args[0].shape, ints(&args[1])?, &args[1].shape, &params)?;
            Ok(Value { values: TensorData::Int(values), shape })
        }
        OpKind::Host { arith: HostArith::TfliteAdd { .. }, .. } => unreachable!("TFLite arithmetic is for ADD"),
        OpKind::Host { op, arith: HostArith::Requant { inputs, out } } => {
            let real: Vec<Vec<f32>> = args
                .iter()
                .zip(inputs)
                .map(|(a, q)| Ok(dequantize(ints(a)?, &a.shape, &per_tensor(q))?))
                .collect::<anyhow::Result<_>>()?;
            let x: Vec<&[f32]> = real.iter().map(Vec::as_slice).collect();
            let shapes: Vec<&[usize]> = args.iter().map(|a| a.shape.as_slice()).collect();
            let (values, shape) = host_op(op, &x, &shapes, 0.0)?;
            let q = quantize(&values, &shape, &per_tensor(out), range(out.dtype))?;
            Ok(Value { values: TensorData::Int(q), shape })
        }
        OpKind::TfliteQuantize(q) => {
            let TensorData::Float(x) = &args[0].values else { anyhow::bail!("quantizes float values, got integers") };
            let range = q.dtype.int_range().expect("8-bit");
            let values = tflite::quantize(x, tflite::Quant { scale: q.scale, zero: q.zero }, range);
            Ok(Value { values: TensorData::Int(values), shape: args[0].shape.clone() })
        }
        OpKind::TfliteDequantize(q) => {
            let values = tflite::dequantize(ints(&args[0])?, tflite::Quant { scale: q.scale, zero: q.zero });
            Ok(Value { values: TensorData::Float(values), shape: args[0].shape.clone() })
        }
        OpKind::TfliteSoftmax { beta, input, out } => {
            let q = |p: &Affine| tflite::Quant { scale: p.scale, zero: p.zero };
            let values = tflite::softmax(ints(&args[0])?, args[0].width_last(), *beta, q(input), q(out));
            Ok(Value { values: TensorData::Int(values), shape: args[0].shape.clone() })
        }
        OpKind::Depthwise(d) => {
            let run = tflite::Depthwise {
                window: &d.window,
                multiplier: d.multiplier,
                weights: &d.weights,
                x_zero: d.a_zero,
                params: &d.params,
                out_zero: d.out.zero,
                clamp: d.clamp,
            };
            let (values, shape) = run.run(ints(&args[0])?, &args[0].shape)?;
            Ok(Value { values: TensorData::Int(values), shape })
        }
        OpKind::Gemm(_) | OpKind::Conv { .. } => unreachable!("accelerator layers run on the backend"),
    }
}

/// `op` on values of one element type (`zero` is its additive zero, for ReLU).
fn host_op<T: Copy + PartialOrd + std::ops::Add<Output = T>>(
    op: &HostOp,
    x: &[&[T]],
    shapes: &[&[usize]],
    zero: T,
) -> anyhow::Result<(Vec<T>, Vec<usize>)> {
    Ok(match op {
        HostOp::Add => broadcast_binary(x[0], shapes[0], x[1], shapes[1], |a, b| a + b)?,
        HostOp::Relu => (x[0].iter().map(|&v| if v > zero { v } else { zero }).collect(), shapes[0].to_vec()),
        HostOp::MaxPool(w) => max_pool(x[0], shapes[0], w)?,
        HostOp::AvgPool(_) => anyhow::bail!("average pooling runs on integers only"),
        HostOp::Flatten { axis } => (x[0].to_vec(), flatten_shape(shapes[0], *axis)?),
        HostOp::Reshape { shape } => {
            // A batch-1 target shape applies per sample when a batch runs.
            let target = reshape_batched(shapes[0], shape)?;
            (x[0].to_vec(), target)
        }
    })
}

/// An accelerator layer on `x`: a GEMM over the rows of its last dimension, or a
/// convolution as im2col.
fn run_layer(
    op: &Op,
    layer: &GemmLayer,
    x: &Value,
    target: &Target,
    compiled: Option<&[Bundle]>,
) -> anyhow::Result<(Value, LayerRun)> {
    let a = ints(x)?;
    let (values, shape, rows, cycles, engine) = match &op.kind {
        OpKind::Conv { geometry, .. } => {
            let (values, shape, cycles, engine) = run_conv(geometry, layer, a, &x.shape, target, compiled)?;
            let rows = values.len() / layer.n;
            (values, shape, rows, cycles, engine)
        }
        _ => {
            let width = *x.shape.last().unwrap_or(&1);
            let rows = a.len() / width.max(1);
            anyhow::ensure!(layer.k == width, "takes {} features, its input has {width}", layer.k);
            // A 3-D weight pairs with a 3-D input of the same batch (no broadcasting).
            anyhow::ensure!(
                layer.batches == 1 || (x.shape.len() == 3 && x.shape[0] == layer.batches),
                "has {} weight matrices; its input must be [{}, M, K], not {:?}",
                layer.batches,
                layer.batches,
                x.shape
            );
            let (group, mut out, mut cycles) = (rows / layer.batches, Vec::with_capacity(rows * layer.n), 0);
            // The compiled bundles, or the ones the cost model prefers (dense or N:4
            // tiles, as `tessera compile` would choose).
            let planned;
            let bundles = match compiled {
                Some(b) => b,
                None => {
                    let model = CostModel::new(target.cfg);
                    planned = gemm_plan(target.cfg, &model, layer, group).map_err(anyhow::Error::msg)?.bundles;
                    &planned
                }
            };
            for (b, part) in a.chunks(group * width).enumerate() {
                let (y, c) = run_gemm(target, layer, part, group, &bundles[b])?;
                out.extend(y);
                cycles += c;
            }
            let mut shape = x.shape.clone();
            *shape.last_mut().expect("a GEMM input has a dimension") = layer.n;
            (out, shape, rows, cycles, engine_of(&bundles[0]))
        }
    };
    let run =
        LayerRun { node: op.node.clone(), source: op.source.clone(), gemm: [rows, layer.k, layer.n], cycles, engine };
    Ok((Value { values: TensorData::Int(values), shape }, run))
}

/// A convolution: implicit im2col on the accelerator (the activations NHWC, each
/// image padded in the input buffer) when an image fits the buffer, else im2col on
/// the host (the patch matrix padded with the input's zero point) and a GEMM. Either
/// way the GEMM's rows are output pixels; NCHW layouts are transposed around it.
fn run_conv(
    geometry: &ConvGeometry,
    layer: &GemmLayer,
    x: &[i64],
    shape: &[usize],
    target: &Target,
    compiled: Option<&[Bundle]>,
) -> anyhow::Result<(Vec<i64>, Vec<usize>, u64, String)> {
    let [n, c, h, w] = geometry.dims(shape).ok_or_else(|| anyhow::anyhow!("the input must be 4-D, not {shape:?}"))?;
    anyhow::ensure!(c == geometry.channels, "the input has {c} channels, the kernel {}", geometry.channels);
    let last = geometry.window.channels_last;
    let [oh, ow] =
        geometry.output_size(h, w).ok_or_else(|| anyhow::anyhow!("the kernel is larger than the padded input"))?;
    // The compiled bundle, or the one the cost model prefers (as `tessera compile`
    // would compile it), with placeholder activations either way.
    let planned;
    let bundle = match compiled {
        Some(b) => &b[0],
        None => {
            let model = CostModel::new(target.cfg);
            let mut plan = conv_plan(target.cfg, &model, layer, geometry, [n, h, w]).map_err(anyhow::Error::msg)?;
            planned = plan.bundles.swap_remove(0);
            &planned
        }
    };
    // An implicit-im2col bundle takes the images themselves (a 4-D input).
    let implicit = bundle.tensors(Role::Input).next().is_some_and(|s| s.shape.len() == 4);
    let (gemm, cycles) = if implicit {
        let nhwc = if last { x.to_vec() } else { to_nhwc(x, [n, c, h, w]) };
        run_built(target, &with_activations(bundle, &nhwc, nhwc.len())?)?
    } else {
        let patches = im2col(geometry, layer.a_zero, x, [n, c, h, w], [oh, ow]);
        run_gemm(target, layer, &patches, n * oh * ow, bundle)?
    };
    let m = layer.n;
    if last {
        // The GEMM's rows are NHWC's (n, y, x) already.
        return Ok((gemm, vec![n, oh, ow, m], cycles, engine_of(bundle)));
    }
    // [n, oh*ow, m] -> [n, m, oh, ow]
    let spatial = oh * ow;
    let out = (0..n * m * spatial)
        .map(|i| gemm[(i / (m * spatial) * spatial + i % spatial) * m + (i / spatial) % m])
        .collect();
    Ok((out, vec![n, m, oh, ow], cycles, engine_of(bundle)))
}

/// NCHW values as NHWC.
fn to_nhwc(x: &[i64], [n, c, h, w]: [usize; 4]) -> Vec<i64> {
    (0..n * h * w * c)
        .map(|i| (i / (h * w * c), i / c % (h * w), i % c))
        .map(|(b, p, ch)| x[(b * c + ch) * h * w + p])
        .collect()
}

/// The patch matrix of a convolution: one row per output pixel, the kernel flattened
/// in (i, j, c) order (`ConvGeometry::tap_major`, whatever the layout), padding with
/// the input's zero point.
fn im2col(geometry: &ConvGeometry, a_zero: i64, x: &[i64], [n, c, h, w]: [usize; 4], [oh, ow]: [usize; 2]) -> Vec<i64> {
    let (last, g) = (geometry.window.channels_last, &geometry.window);
    let [kh, kw] = g.kernel;
    let k = c * kh * kw;
    let mut patches = Vec::with_capacity(n * oh * ow * k);
    for b in 0..n {
        for (y, xo) in (0..oh).flat_map(|y| (0..ow).map(move |xo| (y, xo))) {
            for t in 0..k {
                let (ch, i, j) = (t % c, t / c / kw, t / c % kw);
                let row = (y * g.strides[0] + i * g.dilations[0]).checked_sub(g.pads[0]);
                let col = (xo * g.strides[1] + j * g.dilations[1]).checked_sub(g.pads[1]);
                let value = match (row, col) {
                    (Some(r), Some(q)) if r < h && q < w && last => x[((b * h + r) * w + q) * c + ch],
                    (Some(r), Some(q)) if r < h && q < w => x[((b * c + ch) * h + r) * w + q],
                    _ => a_zero,
                };
                patches.push(value);
            }
        }
    }
    patches
}

/// How a layer bundle runs: `sparse` on the sparse engine, `N:4` when its GEMMs
/// take N:4 tiles, else `dense`.
fn engine_of(bundle: &Bundle) -> String {
    let engine = bundle.program().ok().and_then(|p| {
        p.instrs.iter().find_map(|i| match i {
            tessera_isa::isa::Instr::Gemm(g) if g.nm != 0 => Some(format!("{}:4", g.nm)),
            tessera_isa::isa::Instr::Spmv(_) => Some("sparse".into()),
            _ => None,
        })
    });
    engine.unwrap_or_else(|| "dense".into())
}

/// A copy of a compiled layer bundle with `a` (int8/uint8 values, `elements` of them)
/// in its input slot.
fn with_activations(compiled: &Bundle, a: &[i64], elements: usize) -> anyhow::Result<Bundle> {
    let slot = compiled.tensors(Role::Input).next().ok_or_else(|| anyhow::anyhow!("the bundle has no input"))?;
    anyhow::ensure!(
        slot.elements() == elements && a.len() == elements,
        "the layer was compiled for {} input values; this run gives {elements}",
        slot.elements()
    );
    let mut bundle = compiled.clone();
    let at = slot.offset as usize;
    // Two's complement low bytes: the same bits for int8 and uint8 values.
    for (byte, &v) in bundle.image[at..at + elements].iter_mut().zip(a) {
        *byte = v as u8;
    }
    Ok(bundle)
}

/// Host parameters of a boundary Q/DQ on a tensor of `rank` dimensions.
fn boundary(q: &BoundaryQuant, rank: usize) -> anyhow::Result<QuantParams<'_>> {
    let axis = if q.axis < 0 { q.axis + rank as i64 } else { q.axis };
    let axis = usize::try_from(axis).ok().filter(|&a| a < rank || q.scales.len() == 1);
    let axis = axis.ok_or_else(|| anyhow::anyhow!("quantization axis {} is outside a rank-{rank} tensor", q.axis))?;
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

/// One GEMM of `layer` on the accelerator, its weights compiled into `compiled`:
/// returns the outputs and the cycle count.
fn run_gemm(
    target: &Target,
    layer: &GemmLayer,
    a: &[i64],
    rows: usize,
    compiled: &Bundle,
) -> anyhow::Result<(Vec<i64>, u64)> {
    let (k, n) = (layer.k, layer.n);
    let bundle = with_activations(compiled, a, rows * k)?;
    let (mut out, cycles) = run_built(target, &bundle)?;
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
    Ok((out, cycles))
}

/// Runs a layer's bundle: its output `c` and the cycle counter.
fn run_built(target: &Target, bundle: &Bundle) -> anyhow::Result<(Vec<i64>, u64)> {
    let mut session = backend::open(target.backend, target.cfg, bundle.header.dram_bytes as usize, None)?;
    let report = session.run_bundle(bundle, target.timeout)?;
    let slot = bundle.tensors(Role::Output).next().expect("the image has an output `c`");
    let bytes = session.read_tensor(slot)?;
    let out = (0..slot.elements()).map(|i| i64::from(slot.dtype.get(&bytes, i))).collect();
    Ok((out, report.counter(tessera_isa::regs::Counter::Cycles)))
}
