//! The compile-time view of a lowered model at a given batch: every value's shape,
//! and for every accelerator layer its GEMM, tiling, instruction count and predicted
//! cycles (the cost model on the program the lowering emits). `tessera compile
//! --report` prints it.

use crate::cost::{CostModel, Prediction};
pub use crate::engine::Engine;
use crate::gemm::GemmTiling;
use crate::image::ImageBuilder;
use crate::model::layers::{conv_implicit, conv_per_block, gemm};
use crate::program::{ConvGeometry, GemmLayer, HostOp, Op, OpKind, Program};
use crate::shape::{
    broadcast_shape, depthwise_output_shape, dilate_shape, flatten_shape, pad_shape, pool_output_shape, reshape_batched,
};
use crate::signature::{layer_key, Memo};
use std::collections::HashMap;
use tessera_isa::config::AccelConfig;

/// One accelerator layer.
#[derive(Debug, Clone)]
pub struct LayerPlan {
    /// `M x K x N` of each GEMM, and how many weight matrices (GEMMs) there are.
    pub gemm: [usize; 3],
    pub gemms: usize,
    pub tiling: GemmTiling,
    pub instructions: usize,
    /// Summed over the layer's GEMMs.
    pub predicted: Prediction,
    /// A convolution lowered as implicit im2col (its bundle's input is the images).
    pub implicit: bool,
    /// A grouped convolution whose direct form (the one that runs unless the host
    /// builds its patch matrix) is one implicit-im2col convolution per channel block
    /// (`model::layers::conv_per_block`). With `implicit`, the plan is that form and
    /// `gemm` the grouped layer's own (`K = taps * C / groups`); without, the
    /// explicit GEMM is faster but only where the host's patches pay.
    pub per_block: bool,
    /// The engine chosen, and every lowering the cost model weighed (engine, and for
    /// convolutions the im2col) with its predicted cycles.
    pub engine: Engine,
    pub considered: Vec<(String, u64)>,
}

impl LayerPlan {
    pub fn macs(&self) -> u64 {
        (self.gemm.iter().product::<usize>() * self.gemms) as u64
    }

    /// The predicted cycles of the convolution as implicit im2col on `engine` from
    /// a fresh WBUF, if the plan weighed it (`None`: the image does not fit).
    pub fn implicit_cycles(&self, engine: Engine) -> Option<u64> {
        self.cycles_of(&implicit_label(engine))
    }

    /// The predicted cycles of a grouped convolution per channel block from a fresh
    /// WBUF, if the plan weighed it.
    pub fn per_block_cycles(&self) -> Option<u64> {
        self.cycles_of(&per_block_label())
    }

    fn cycles_of(&self, label: &str) -> Option<u64> {
        self.considered.iter().find(|(how, _)| how == label).map(|c| c.1)
    }
}

/// How [`LayerPlan::considered`] names implicit im2col on `engine`.
fn implicit_label(engine: Engine) -> String {
    format!("{engine} implicit im2col")
}

/// How the report names a grouped convolution run per channel block.
pub const PER_BLOCK: &str = "grouped, per channel block";

/// How [`LayerPlan::considered`] names it (the blocks are dense).
fn per_block_label() -> String {
    format!("{} {PER_BLOCK}", Engine::Dense)
}

/// One operation of the program.
#[derive(Debug, Clone)]
pub struct OpPlan {
    pub node: String,
    pub source: String,
    pub out_shape: Vec<usize>,
    /// `None`: a host operation.
    pub layer: Option<LayerPlan>,
}

/// Shapes and accelerator plans of `program` with inputs of batch `batch`. The shapes
/// follow the program in order; the layers' plans (each a search over engines and
/// tilings) are independent and are weighed on all cores.
pub fn plan(cfg: &AccelConfig, program: &Program, batch: usize) -> Result<Vec<OpPlan>, String> {
    let mut shapes: HashMap<&str, Vec<usize>> = HashMap::new();
    for input in &program.inputs {
        shapes.insert(&input.name, input.with_batch(batch)?);
    }
    for (name, c) in &program.constants {
        shapes.insert(name, c.shape.clone());
    }
    let context = |op: &Op, e: String| format!("node `{}` ({}): {e}", op.node, op.source);
    let mut inputs: Vec<Vec<usize>> = Vec::with_capacity(program.ops.len());
    let mut plans = Vec::with_capacity(program.ops.len());
    for op in &program.ops {
        let ins: Vec<&[usize]> = op
            .inputs
            .iter()
            .map(|name| shapes.get(name.as_str()).map(Vec::as_slice).ok_or(format!("value `{name}` has no shape")))
            .collect::<Result<_, _>>()
            .map_err(|e| context(op, e))?;
        let out_shape = out_shape(op, &ins).map_err(|e| context(op, e))?;
        inputs.push(ins.first().map_or_else(Vec::new, |s| s.to_vec()));
        shapes.insert(&op.output, out_shape.clone());
        plans.push(OpPlan { node: op.node.clone(), source: op.source.clone(), out_shape, layer: None });
    }
    let (model, memo) = (CostModel::new(cfg), Memo::default());
    let layer_plan = |i: usize| -> Result<Option<LayerPlan>, String> {
        let (op, x) = (&program.ops[i], &inputs[i]);
        Ok(match &op.kind {
            OpKind::Gemm(layer) => {
                let rows = x.iter().product::<usize>() / layer.k / layer.batches;
                Some(gemm_plan_in(cfg, &model, layer, rows, &memo)?)
            }
            OpKind::Conv { geometry, layer } => {
                let [n, _, h, w] = geometry.dims(x).expect("checked by out_shape");
                Some(conv_plan_in(cfg, &model, layer, geometry, [n, h, w], &memo)?)
            }
            _ => None,
        })
    };
    let layers: Vec<usize> = (0..program.ops.len()).filter(|&i| program.ops[i].kind.layer().is_some()).collect();
    for (i, result) in layers.iter().copied().zip(on_all_cores(&layers, layer_plan)) {
        plans[i].layer = result.map_err(|e| context(&program.ops[i], e))?;
    }
    Ok(plans)
}

/// `f` of every item, in order, computed by as many threads as there are cores, each
/// taking the next item when it is free.
fn on_all_cores<T: Send>(items: &[usize], f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len()).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(&item) = items.get(k) else { return done };
            done.push((k, f(item)));
        }
    };
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
        let mut all = worker();
        for h in handles {
            all.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        all
    });
    results.sort_by_key(|(k, _)| *k);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The shape of `op`'s output for inputs of `ins`.
pub fn out_shape(op: &Op, ins: &[&[usize]]) -> Result<Vec<usize>, String> {
    let first = || ins.first().copied().ok_or_else(|| "needs an input".to_string());
    Ok(match &op.kind {
        OpKind::Quantize(_)
        | OpKind::Dequantize(_)
        | OpKind::TfliteQuantize(_)
        | OpKind::TfliteDequantize(_)
        | OpKind::TfliteRequantize { .. }
        | OpKind::TfliteSoftmax { .. }
        | OpKind::ByteTable(_) => first()?.to_vec(),
        OpKind::TfliteBinary(_) => {
            let [a, b] = ins[..] else { return Err("takes two inputs".into()) };
            broadcast_shape(a, b).map_err(|e| e.to_string())?
        }
        OpKind::SpatialMean(m) => m.output_shape(first()?)?,
        OpKind::ResizeBilinear(r) => r.output_shape(first()?)?,
        OpKind::Reduce(r) => r.output_shape(first()?)?,
        OpKind::Depthwise(d) => depthwise_output_shape(first()?, &d.window, d.multiplier).map_err(|e| e.to_string())?,
        OpKind::Gemm(layer) => {
            let x = first()?;
            if x.last() != Some(&layer.k) {
                return Err(format!("takes {} features, its input is {x:?}", layer.k));
            }
            let mut out = x.to_vec();
            *out.last_mut().expect("checked above") = layer.n;
            out
        }
        OpKind::Conv { geometry, layer } => {
            let x = first()?;
            let [n, _, h, w] = geometry.dims(x).ok_or_else(|| format!("input {x:?} is not 4-D"))?;
            let [oh, ow] = geometry.output_size(h, w).ok_or("the kernel exceeds the input")?;
            geometry.shape([n, layer.n, oh, ow])
        }
        OpKind::Host { op: host, .. } => {
            let x = first()?;
            let shape = match host {
                HostOp::Add | HostOp::Mul | HostOp::Sub | HostOp::Div => {
                    broadcast_shape(x, ins.get(1).ok_or("takes two inputs")?)
                }
                HostOp::Relu => Ok(x.to_vec()),
                HostOp::MaxPool(w) | HostOp::AvgPool(w) | HostOp::AvgPoolFloat { window: w, .. } => {
                    pool_output_shape(x, w)
                }
                HostOp::Flatten { axis } => flatten_shape(x, *axis),
                HostOp::Reshape { shape } => reshape_batched(x, shape),
                HostOp::Pad { pads, .. } => pad_shape(x, pads),
                HostOp::Dilate { factors, channels_last, .. } => dilate_shape(x, *factors, *channels_last),
                HostOp::Move(m) => return m.output_shape(ins),
            };
            shape.map_err(|e| e.to_string())?
        }
    })
}

/// A convolution over `n` images of `h x w`: implicit im2col (the images padded in
/// the input buffer, a GEMM per kernel tap) when an image fits and the cost model
/// predicts fewer cycles than the explicit im2col GEMM; else the explicit one.
pub fn conv_plan(
    cfg: &AccelConfig,
    model: &CostModel,
    layer: &GemmLayer,
    geometry: &ConvGeometry,
    dims: [usize; 3],
) -> Result<LayerPlan, String> {
    conv_plan_in(cfg, model, layer, geometry, dims, &Memo::default())
}

/// [`conv_plan`], computed once per [`layer_key`] and geometry in `memo`.
fn conv_plan_in(
    cfg: &AccelConfig,
    model: &CostModel,
    layer: &GemmLayer,
    geometry: &ConvGeometry,
    dims: [usize; 3],
    memo: &Memo<Result<LayerPlan, String>>,
) -> Result<LayerPlan, String> {
    // The explicit GEMM multiplies (tap, channel)-ordered patches.
    let tap_major = geometry.tap_major(layer);
    let candidates = engines(cfg, &tap_major);
    let key = format!("conv {} {geometry:?} {dims:?} {candidates:?}", layer_key(layer));
    memo.get_or(key, || conv_plan_of(cfg, model, layer, &tap_major, geometry, dims, &candidates))
}

fn conv_plan_of(
    cfg: &AccelConfig,
    model: &CostModel,
    layer: &GemmLayer,
    tap_major: &GemmLayer,
    geometry: &ConvGeometry,
    [n, h, w]: [usize; 3],
    candidates: &[Engine],
) -> Result<LayerPlan, String> {
    let [oh, ow] = geometry.output_size(h, w).ok_or("the kernel exceeds the input")?;
    let explicit = plan_engines(cfg, model, tap_major, n * oh * ow, candidates)?;
    // Per-column weight zero points are corrected on the host from the patch rows.
    if layer.w_zero_columns.is_some() || layer.batches != 1 {
        return Ok(explicit);
    }
    let mut considered: Vec<(String, u64)> =
        explicit.considered.iter().map(|(e, c)| (format!("{e} explicit im2col"), *c)).collect();
    let mut best = explicit;
    for &engine in candidates.iter().filter(|e| **e != Engine::Sparse) {
        // An image that does not fit, or channels that do not divide into N:4 tiles.
        // Lowered at placeholder addresses: the timing does not depend on them.
        let mut scratch = ImageBuilder::new();
        let Ok(code) = conv_implicit(cfg, &mut scratch, geometry, layer, engine.nm(), [n, h, w], [0, 0], None) else {
            continue;
        };
        let (program, tiling) = (&code.programs[0], code.tiling);
        let predicted = model.predict(program)?;
        considered.push((implicit_label(engine), predicted.cycles));
        if predicted.cycles < best.predicted.cycles {
            best = LayerPlan {
                gemm: best.gemm,
                gemms: 1,
                tiling,
                instructions: program.len(),
                predicted,
                implicit: true,
                per_block: false,
                engine,
                considered: vec![],
            };
        }
    }
    // Per channel block where it is not slower than the block-diagonal form (it
    // multiplies `groups` times fewer weights, but its blocks' loads, fills and
    // drains add up), and where each block's image fits.
    let per_block = (geometry.groups > 1).then(|| per_block_plan(cfg, model, layer, geometry, [n, h, w]).ok());
    if let Some(plan) = per_block.flatten() {
        considered.push((per_block_label(), plan.predicted.cycles));
        let dense_implicit = considered.iter().find(|(how, _)| *how == implicit_label(Engine::Dense)).map(|c| c.1);
        if plan.predicted.cycles <= best.predicted.cycles {
            best = plan;
        } else if !best.implicit && dense_implicit.is_none_or(|c| plan.predicted.cycles <= c) {
            // An explicit GEMM is faster still, if the host's patches pay for
            // themselves; where they do not, the blocks run instead of the dense
            // implicit im2col.
            best.per_block = true;
        }
    }
    best.considered = considered;
    Ok(best)
}

/// A grouped convolution as one dense implicit-im2col convolution per channel block
/// from a fresh WBUF, lowered at placeholder addresses.
fn per_block_plan(
    cfg: &AccelConfig,
    model: &CostModel,
    layer: &GemmLayer,
    geometry: &ConvGeometry,
    [n, h, w]: [usize; 3],
) -> Result<LayerPlan, String> {
    let [oh, ow] = geometry.output_size(h, w).ok_or("the kernel exceeds the input")?;
    let per_group = geometry.per_group(layer)?;
    let code = conv_per_block(cfg, &mut ImageBuilder::new(), geometry, &per_group, [n, h, w], [0, 0], None)?;
    let mut predicted = Prediction { cycles: 0, busy: [0; 3] };
    for program in &code.programs {
        let p = model.predict(program)?;
        predicted.cycles += p.cycles;
        predicted.busy = std::array::from_fn(|u| predicted.busy[u] + p.busy[u]);
    }
    Ok(LayerPlan {
        gemm: [n * oh * ow, per_group.k, per_group.n],
        gemms: 1,
        tiling: code.tiling,
        instructions: code.programs.iter().map(|p| p.len()).sum(),
        predicted,
        implicit: true,
        per_block: true,
        engine: Engine::Dense,
        considered: vec![],
    })
}

/// Lowers one GEMM of `layer` with `rows` rows (activations are placeholders: the
/// program depends only on the shapes) on every engine its weights allow, predicts
/// the cycles of each and keeps the fastest.
pub fn gemm_plan(cfg: &AccelConfig, model: &CostModel, layer: &GemmLayer, rows: usize) -> Result<LayerPlan, String> {
    gemm_plan_in(cfg, model, layer, rows, &Memo::default())
}

/// [`gemm_plan`], computed once per [`layer_key`] and row count in `memo`.
fn gemm_plan_in(
    cfg: &AccelConfig,
    model: &CostModel,
    layer: &GemmLayer,
    rows: usize,
    memo: &Memo<Result<LayerPlan, String>>,
) -> Result<LayerPlan, String> {
    let candidates = engines(cfg, layer);
    let key = format!("gemm {} {rows} {candidates:?}", layer_key(layer));
    memo.get_or(key, || plan_engines(cfg, model, layer, rows, &candidates))
}

/// [`gemm_plan`] over the engines `candidates`.
fn plan_engines(
    cfg: &AccelConfig,
    model: &CostModel,
    layer: &GemmLayer,
    rows: usize,
    candidates: &[Engine],
) -> Result<LayerPlan, String> {
    let mut best: Option<LayerPlan> = None;
    let mut considered = Vec::new();
    for &engine in candidates {
        // Dense always lowers; a sparse form that does not fit (e.g. activations
        // larger than the sparse engine's input buffer) is left out.
        let plan = match engine_plan(cfg, model, layer, rows, engine) {
            Ok(plan) => plan,
            Err(_) if engine != Engine::Dense => continue,
            Err(e) => return Err(e),
        };
        considered.push((engine.to_string(), plan.predicted.cycles));
        if best.as_ref().is_none_or(|b| plan.predicted.cycles < b.predicted.cycles) {
            best = Some(plan);
        }
    }
    let mut best = best.expect("the dense engine is always a candidate");
    best.considered = considered;
    Ok(best)
}

/// The engines `layer`'s weights can run on: dense, and the N:4 mode every weight
/// matrix fits (column pairs sharing positions, zero weight zero point), if any.
fn engines(cfg: &AccelConfig, layer: &GemmLayer) -> Vec<Engine> {
    let (k, n) = (layer.k, layer.n);
    let unsigned = layer.w_type == crate::tensor::ElemType::U8;
    let modes: Option<Vec<u8>> = layer
        .weights
        .chunks(k * n)
        .map(|w| {
            let raw: Vec<u8> = w.iter().map(|&v| v as u8).collect();
            crate::sparsity::nm_mode(cfg, &raw, k, n, layer.w_zero as i16, unsigned)
        })
        .collect();
    let mut engines = vec![Engine::Dense];
    if layer.w_zero_columns.is_none() {
        if let Some(n_of_4) = modes.and_then(|m| m.into_iter().max()) {
            engines.push(Engine::NOf4(n_of_4));
        }
        // The sparse engine pays off only well below half density; denser layers
        // are not packed for it (saving the compile time).
        let zeros = layer.weights.iter().filter(|&&w| w == layer.w_zero).count();
        if cfg.sparse.engine.is_some() && cfg.array.operand_bits == 8 && 2 * zeros >= layer.weights.len() {
            engines.push(Engine::Sparse);
        }
    }
    engines
}

/// `layer` lowered for one engine.
fn engine_plan(
    cfg: &AccelConfig,
    model: &CostModel,
    layer: &GemmLayer,
    rows: usize,
    engine: Engine,
) -> Result<LayerPlan, String> {
    let (k, n) = (layer.k, layer.n);
    // Every weight matrix has the same shape, hence the same program and timing; each
    // must lower (a sparse packing may not fit). At placeholder addresses: the timing
    // does not depend on them.
    let features: Vec<usize> = (0..k).collect();
    let mut scratch = ImageBuilder::new();
    let code = gemm(cfg, &mut scratch, layer, engine, rows * layer.batches, &features, [0, 0], None)?;
    let (program, tiling) = (code.programs.first().ok_or("a layer has a weight matrix")?, code.tiling);
    let one = model.predict(program)?;
    let times = |v: u64| v * layer.batches as u64;
    Ok(LayerPlan {
        gemm: [rows, k, n],
        gemms: layer.batches,
        tiling,
        instructions: program.len() * layer.batches,
        predicted: Prediction { cycles: times(one.cycles), busy: one.busy.map(times) },
        implicit: false,
        per_block: false,
        engine,
        considered: vec![],
    })
}
