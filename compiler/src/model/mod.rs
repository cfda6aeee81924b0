//! Whole-model compilation: a lowered [`Program`] becomes accelerator *segments*,
//! each one instruction stream that runs many operations back to back with their
//! activations in DDR, and host steps only where an operation has no accelerator
//! form (graph-boundary (de)quantization, softmax, depthwise convolutions, ...).
//!
//! - Every value a segment reads or writes gets a slot in the activation arena,
//!   assigned by liveness ([`arena`]); reshapes and flattens of such values are
//!   aliases of their input's slot and cost nothing.
//! - Activations stay in the layout the next layer's LOAD wants: NHWC rows for
//!   convolutions and GEMMs. ONNX's NCHW values are stored channels-last
//!   ([`layout::Layout::ChannelsLast`]); a dense layer after a `Flatten` of one
//!   gets its weight rows permuted instead of the activations transposed.
//! - Each operation is lowered on its own (the tiler and cost model of a single
//!   layer) at its slots' offsets, and the layer programs are joined with barriers
//!   ([`stream`]).
//! - The DDR image: the arena first, then weights, parameters and other constants,
//!   then the segments' instruction streams. The runtime writes the constants once
//!   per session; an inference writes only the inputs and reads only the outputs.

pub mod arena;
mod elementwise;
pub(crate) mod layers;
pub mod layout;
pub mod stream;

pub use layers::{average_divisor, channel_blocks, conv_per_block, ChannelBlock, Code};
pub use layout::Layout;

use crate::cost::CostModel;
use crate::engine::Engine;
use crate::gemm_bundle::a_slack;
use crate::image::ImageBuilder;
use crate::plan::{plan, LayerPlan, OpPlan};
use crate::program::{HostArith, HostOp, LayerOutput, MeanArith, Op, OpKind, Program};
use crate::signature::{layer_key, Memo};
use crate::tensor::ElemType;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{Instr, Program as IsaProgram, INSTR_BYTES};
use tessera_isa::quant::TfliteMean;

/// A value's place in DDR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// Byte offset from `DRAM_BASE`.
    pub offset: u64,
    /// Bytes reserved (the value, and slack an engine may read past it).
    pub bytes: u64,
    /// `I8`, `U8` or `I32`.
    pub dtype: ElemType,
    /// The value's logical shape at the compiled batch.
    pub shape: Vec<usize>,
    pub layout: Layout,
}

impl Slot {
    /// Bytes of the value itself.
    pub fn value_bytes(&self) -> u64 {
        let elements: usize = self.shape.iter().product();
        (elements * if self.dtype == ElemType::I32 { 4 } else { 1 }) as u64
    }
}

/// One step of an inference, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// Program operation `op` on the host.
    Host { op: usize },
    /// Accelerator segment `index`.
    Segment { index: usize },
    /// The patch matrix of convolution `op`'s input, built on the host into the
    /// value `patches` (the convolution runs as a GEMM over it).
    Im2col { op: usize, patches: String },
    /// Accelerator layer `op`'s raw int32 outputs corrected on the host for weight
    /// zero points that differ per column, from the layer's activations `a`.
    ZeroPoints { op: usize, a: String },
}

/// How an accelerator operation was lowered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// The program operation.
    pub op: usize,
    /// `M x K x N` of each GEMM and how many there are.
    pub gemm: [usize; 3],
    pub gemms: usize,
    /// `dense`, `2:4`, `sparse`...
    pub engine: String,
    /// `implicit im2col`, `host im2col`, `global average pool`...
    pub lowering: String,
    /// (m rows, n blocks, k blocks) of the tiling.
    pub tiling: [usize; 3],
    pub instructions: usize,
    /// The cost model's cycles for the layer's programs run on their own.
    pub predicted: u64,
    /// Every alternative the cost model weighed, with its cycles.
    pub considered: Vec<(String, u64)>,
}

impl LayerInfo {
    pub fn macs(&self) -> u64 {
        (self.gemm.iter().product::<usize>() * self.gemms) as u64
    }
}

/// One instruction stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub program_offset: u64,
    pub program_len: u32,
    /// The program operations it runs (aliases included), in order.
    pub ops: Vec<usize>,
    /// Values it reads that earlier steps produced (or the graph inputs).
    pub reads: Vec<String>,
    /// Values it writes that later steps or the graph outputs read.
    pub writes: Vec<String>,
    pub layers: Vec<LayerInfo>,
    /// The cost model's cycles for the whole stream.
    pub predicted: u64,
    /// Predicted busy cycles of the load, compute and store units.
    pub busy: [u64; 3],
}

/// DDR bytes by purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Footprint {
    /// Weights, requantization parameters and other constants.
    pub constants: u64,
    /// The activation arena: the most bytes alive at once.
    pub activations: u64,
    /// Every segment's instructions.
    pub instructions: u64,
    /// Activation bytes if nothing were shared (for comparison).
    pub activations_unshared: u64,
}

/// Weights that stay in WBUF from one run to the next: the program that loads them
/// (run once when a session opens) and the entries they take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preload {
    pub program_offset: u64,
    pub program_len: u32,
    /// WBUF entries of resident weights.
    pub entries: usize,
}

/// Where resident layers' weights sit in WBUF (by operation), and how many entries
/// below them streamed weights double-buffer in.
#[derive(Debug, Clone, Default)]
struct Residency {
    bases: HashMap<usize, usize>,
    stream_entries: usize,
    entries: usize,
}

/// Why an operation runs on the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostReason {
    pub op: usize,
    pub reason: String,
}

/// What compiling changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompileOptions {
    /// One segment per accelerator operation (to measure each layer's cycles on
    /// its own) instead of one per run of consecutive accelerator operations.
    pub segment_per_layer: bool,
}

/// A model compiled for a config and a batch size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompiledModel {
    pub config: AccelConfig,
    /// Samples per inference run (the first dimension of every input).
    pub batch: usize,
    /// The lowered operations (after fusing activations into their producers).
    pub program: Program,
    /// DDR offset of `image`; below it lies the activation arena.
    pub image_offset: u64,
    /// Constants and instruction streams, written once per session.
    #[serde(skip)]
    pub image: Vec<u8>,
    /// Bytes of the DDR window the model needs.
    pub dram_bytes: u64,
    /// Values in DDR.
    pub slots: BTreeMap<String, Slot>,
    pub steps: Vec<Step>,
    pub segments: Vec<Segment>,
    /// The program that loads the resident weights, if any layer's stay.
    pub preload: Option<Preload>,
    /// Operations that run on the host, and why.
    pub host: Vec<HostReason>,
    pub footprint: Footprint,
    /// Every operation's output shape.
    pub out_shapes: Vec<Vec<usize>>,
}

/// Where an operation runs.
#[derive(Debug, Clone, PartialEq)]
enum Place {
    /// Instructions on the accelerator.
    Accel,
    /// No instructions: its output is its input's slot, read with another shape.
    Alias,
    Host(String),
}

impl CompiledModel {
    /// Every accelerator layer, in order.
    pub fn layers(&self) -> impl Iterator<Item = &LayerInfo> {
        self.segments.iter().flat_map(|s| &s.layers)
    }

    /// The segment that runs operation `op`, if one does.
    pub fn segment_of(&self, op: usize) -> Option<usize> {
        self.segments.iter().position(|s| s.ops.contains(&op))
    }

    /// The cost model's cycles per run of the whole model (every segment).
    pub fn predicted_cycles(&self) -> u64 {
        self.segments.iter().map(|s| s.predicted).sum()
    }

    /// Checks that a model read from a file is consistent: every step, segment and
    /// slot refers to something that exists and lies inside the DDR window, and
    /// activations do not overlap the constants.
    pub fn check(&self) -> Result<(), String> {
        if let Some(problem) = self.config.problems().first() {
            return Err(format!("config: {problem}"));
        }
        let ops = self.program.ops.len();
        let image_end = self.image_offset.checked_add(self.image.len() as u64).ok_or("the image overflows")?;
        if self.batch == 0 || image_end > self.dram_bytes || self.out_shapes.len() != ops {
            return Err("the image, batch or shapes do not match the manifest".into());
        }
        for (name, slot) in &self.slots {
            let end = slot.offset.checked_add(slot.bytes);
            if end.is_none_or(|e| e > self.image_offset) || slot.value_bytes() > slot.bytes {
                return Err(format!("value `{name}`: its slot overlaps the constants or is too small"));
            }
        }
        let inside = |offset: u64, len: u32| {
            let bytes = u64::from(len) * INSTR_BYTES as u64;
            offset >= self.image_offset && offset.checked_add(bytes).is_some_and(|e| e <= image_end)
        };
        if let Some(p) = &self.preload {
            if !inside(p.program_offset, p.program_len) || p.entries > self.config.memory.wbuf_entries as usize {
                return Err("the preload program lies outside the image or its weights outside WBUF".into());
            }
        }
        for (i, seg) in self.segments.iter().enumerate() {
            let inside = inside(seg.program_offset, seg.program_len);
            let known = |names: &[String]| names.iter().all(|n| self.slots.contains_key(n));
            if !inside || seg.ops.iter().any(|&o| o >= ops) || !known(&seg.reads) || !known(&seg.writes) {
                return Err(format!("segment {i} refers to instructions, operations or values that do not exist"));
            }
        }
        for step in &self.steps {
            let ok = match step {
                Step::Host { op } => *op < ops,
                Step::Segment { index } => *index < self.segments.len(),
                Step::Im2col { op, patches } => *op < ops && self.slots.contains_key(patches),
                Step::ZeroPoints { op, a } => *op < ops && self.slots.contains_key(a),
            };
            if !ok {
                return Err(format!("step {step:?} refers to something that does not exist"));
            }
        }
        Ok(())
    }
}

/// Compiles `program` for `cfg` at `batch` samples per run.
pub fn compile(
    cfg: &AccelConfig,
    program: Program,
    batch: usize,
    options: CompileOptions,
) -> Result<CompiledModel, String> {
    let mut program = fuse_activations(program);
    let mut plans = plan(cfg, &program, batch)?;
    let mut shapes: HashMap<String, Vec<usize>> = HashMap::new();
    for input in &program.inputs {
        shapes.insert(input.name.clone(), input.with_batch(batch)?);
    }
    for (op, p) in program.ops.iter().zip(&plans) {
        shapes.insert(op.output.clone(), p.out_shape.clone());
    }
    // Where operations run decides the layouts (channels-last for what the
    // accelerator touches in an NCHW model), which decide whether reshapes are free.
    let none = HashMap::new();
    let first: Vec<Place> = program.ops.iter().map(|op| place_of(op, &none, &shapes, &program.constants)).collect();
    let accelerated: Vec<bool> = first.iter().map(|p| *p == Place::Accel).collect();
    let layouts = assign_layouts(&program, &shapes, &accelerated);
    weights_in_storage_order(cfg, &mut program, &mut plans, &shapes, &layouts)?;
    let places: Vec<Place> = program.ops.iter().map(|op| place_of(op, &layouts, &shapes, &program.constants)).collect();
    let mut builder = Builder::new(cfg, &program, &plans, shapes, layouts);
    builder.find_host_im2col(&places);
    let groups = builder.group_segments(&places, options);
    builder.choose_gathers(&groups);
    builder.plan_steps(&groups);
    builder.allocate()?;
    builder.lower(&groups)?;
    let mut model = builder.finish(batch, places);
    // Moved, not cloned: an ImageNet-scale program holds hundreds of MB of weights.
    model.program = program;
    Ok(model)
}

/// How fast a board's host gathers im2col patches, MB/s: a Cortex-A9 copies a few
/// hundred MB/s at best, byte gathers run slower. Used only to decide whether host
/// im2col at a model's input pays for itself.
const HOST_GATHER_MB_S: f64 = 200.0;

/// A dense layer reading a channels-last value multiplies its features in storage
/// order: its weight rows are permuted once, here, and its engines chosen again (an
/// N:4 pattern of the model's row order need not hold in the storage order).
fn weights_in_storage_order(
    cfg: &AccelConfig,
    program: &mut Program,
    plans: &mut [OpPlan],
    shapes: &HashMap<String, Vec<usize>>,
    layouts: &HashMap<String, Layout>,
) -> Result<(), String> {
    let model = CostModel::new(cfg);
    for (op, op_plan) in program.ops.iter_mut().zip(plans.iter_mut()) {
        let OpKind::Gemm(layer) = &mut op.kind else { continue };
        let Some(order) = layouts.get(&op.inputs[0]).and_then(|l| l.feature_order(layer.k)) else { continue };
        if order.iter().enumerate().all(|(row, &feature)| row == feature) {
            continue;
        }
        let n = layer.n;
        layer.weights = layer
            .weights
            .chunks(layer.k * n)
            .flat_map(|w| order.iter().flat_map(move |&feature| w[feature * n..(feature + 1) * n].iter().copied()))
            .collect();
        let input = shapes.get(&op.inputs[0]).ok_or_else(|| format!("value `{}` has no shape", op.inputs[0]))?;
        let rows = input.iter().product::<usize>() / layer.k / layer.batches.max(1);
        let replanned = crate::plan::gemm_plan(cfg, &model, layer, rows)
            .map_err(|e| format!("node `{}` ({}): {e}", op.node, op.source))?;
        op_plan.layer = Some(replanned);
    }
    Ok(())
}

/// Folds a ReLU on integers into the accelerator layer whose output it reads (and
/// nothing else does): ReLU of a quantized value is `max(q, zero point)`, a clamp.
fn fuse_activations(mut program: Program) -> Program {
    let uses = |p: &Program, name: &str| {
        p.ops.iter().filter(|o| o.inputs.iter().any(|i| i == name)).count()
            + p.outputs.iter().filter(|o| *o == name).count()
    };
    let mut i = 0;
    while i < program.ops.len() {
        let op = &program.ops[i];
        let relu = match &op.kind {
            OpKind::Host { op: HostOp::Relu, arith: HostArith::Integer { clamp: None } } => true,
            OpKind::Host { op: HostOp::Relu, arith: HostArith::Requant { inputs, out } } => inputs.first() == Some(out),
            _ => false,
        };
        let producer = program.ops.iter().position(|p| relu && p.output == op.inputs[0]);
        let fusable = producer.filter(|&p| {
            uses(&program, &program.ops[p].output) == 1
                && matches!(program.ops[p].kind.layer().map(|l| &l.output), Some(LayerOutput::Requant { .. }))
        });
        let Some(p) = fusable else {
            i += 1;
            continue;
        };
        let (relu_out, relu_node) = (op.output.clone(), op.node.clone());
        let producer = &mut program.ops[p];
        if let OpKind::Gemm(layer) | OpKind::Conv { layer, .. } = &mut producer.kind {
            if let LayerOutput::Requant { out, clamp, .. } = &mut layer.output {
                clamp.0 = clamp.0.max(out.zero);
            }
        }
        producer.output = relu_out;
        producer.source = format!("{} + Relu ({relu_node})", producer.source);
        program.ops.remove(i);
    }
    program
}

/// Whether `op` only reshapes its input: Reshape or Flatten on integers, or between
/// a dequantization and a quantization with the same parameters (which give back
/// every integer exactly: `rint((q - z) * s / s) = q - z` in float32).
fn is_reshape(op: &Op) -> bool {
    match &op.kind {
        OpKind::Host { op: HostOp::Reshape { .. } | HostOp::Flatten { .. }, arith } => reshape_arith(arith),
        OpKind::Host { op: HostOp::Move(m), arith } if m.is_reshape() => reshape_arith(arith),
        _ => false,
    }
}

/// Whether `arith` gives back every integer it reads.
fn reshape_arith(arith: &HostArith) -> bool {
    match arith {
        HostArith::Integer { clamp: None } => true,
        HostArith::Requant { inputs, out } => inputs.len() == 1 && inputs[0] == *out,
        _ => false,
    }
}

/// The 2-D window of a convolution or pooling operation.
fn window_of(op: &Op) -> Option<&crate::shape::Window> {
    match &op.kind {
        OpKind::Conv { geometry, .. } => Some(&geometry.window),
        OpKind::Depthwise(d) => Some(&d.window),
        OpKind::Host {
            op: HostOp::MaxPool(w) | HostOp::AvgPool(w) | HostOp::AvgPoolFloat { window: w, .. }, ..
        } => Some(w),
        _ => None,
    }
}

/// The layout of every value: in a model whose windows are NCHW (ONNX), channels-
/// last for the 4-D values the accelerator reads or writes and for the flattenings
/// of those; plain otherwise (TFLite's NHWC is the accelerator's order already).
fn assign_layouts(
    program: &Program,
    shapes: &HashMap<String, Vec<usize>>,
    accelerated: &[bool],
) -> HashMap<String, Layout> {
    let mut layouts: HashMap<String, Layout> = HashMap::new();
    let nchw = program.ops.iter().filter_map(window_of).any(|w| !w.channels_last);
    for (op, _) in program.ops.iter().zip(accelerated).filter(|(_, &a)| nchw && a) {
        for name in op.inputs.iter().chain([&op.output]) {
            if let Some(&[_, c, h, w]) = shapes.get(name).map(Vec::as_slice) {
                layouts.insert(name.clone(), Layout::ChannelsLast { c, h, w });
            }
        }
    }
    // A flattening of a channels-last value to [n, c * h * w] keeps its order.
    for op in program.ops.iter().filter(|op| is_reshape(op)) {
        let (Some(&l @ Layout::ChannelsLast { c, h, w }), Some(out)) =
            (layouts.get(&op.inputs[0]), shapes.get(&op.output))
        else {
            continue;
        };
        if out.len() == 2 && out[1] == c * h * w {
            layouts.insert(op.output.clone(), l);
        }
    }
    layouts
}

fn layout_of(layouts: &HashMap<String, Layout>, name: &str) -> Layout {
    layouts.get(name).copied().unwrap_or(Layout::Plain)
}

/// Whether pooling window `w` covers all of an input of `shape` (global pooling).
fn is_global(w: &crate::shape::Window, shape: &[usize]) -> bool {
    w.dims(shape).is_ok_and(|[_, _, h, wd]| w.kernel == [h, wd] && w.pads == [0; 4] && w.dilations == [1, 1])
}

/// Whether a host operation's arithmetic is the identity on the integers' order: on
/// integers, or requantizing to the same parameters (max pooling commutes with it).
fn integer_order_kept(arith: &HostArith) -> bool {
    match arith {
        HostArith::Integer { .. } => true,
        HostArith::Requant { inputs, out } => inputs.len() == 1 && inputs[0] == *out,
        HostArith::TfliteAdd { .. } => false,
    }
}

/// Where `op` runs.
fn place_of(
    op: &Op,
    layouts: &HashMap<String, Layout>,
    shapes: &HashMap<String, Vec<usize>>,
    constants: &BTreeMap<String, crate::program::ConstValue>,
) -> Place {
    match &op.kind {
        OpKind::Gemm(_) | OpKind::Conv { .. } => Place::Accel,
        _ if is_reshape(op) => {
            let (from, to) = (layout_of(layouts, &op.inputs[0]), layout_of(layouts, &op.output));
            if from == to {
                Place::Alias
            } else {
                Place::Host("reorders a channels-last value".into())
            }
        }
        OpKind::Host { op: HostOp::AvgPool(_), arith: HostArith::Integer { .. } } => Place::Accel,
        OpKind::Host { op: HostOp::MaxPool(_), arith } if integer_order_kept(arith) => Place::Accel,
        OpKind::Host { op: HostOp::MaxPool(_), .. } => {
            Place::Host("max pooling that requantizes (different input and output parameters)".into())
        }
        OpKind::Host { op: HostOp::Add, arith: HostArith::TfliteAdd { .. } } => {
            let same = shapes.get(&op.inputs[0]).is_some_and(|a| shapes.get(&op.inputs[1]) == Some(a));
            if same && !op.inputs.iter().any(|i| constants.contains_key(i)) {
                Place::Accel
            } else {
                Place::Host("ADD with a broadcast or constant operand".into())
            }
        }
        OpKind::Host { op: HostOp::Add, arith: HostArith::Requant { inputs, out } } => {
            let same = shapes.get(&op.inputs[0]).is_some_and(|a| shapes.get(&op.inputs[1]) == Some(a));
            let tables =
                (inputs.len() == 2).then(|| elementwise::onnx_add_tables([&inputs[0], &inputs[1]], out)).flatten();
            match (same && !op.inputs.iter().any(|i| constants.contains_key(i)), tables) {
                (true, Some(_)) => Place::Accel,
                (false, _) => Place::Host("ADD with a broadcast or constant operand".into()),
                (true, None) => Place::Host(
                    "ONNX's float32 ADD: no fixed-point table rendering reproduces every output of these scales".into(),
                ),
            }
        }
        OpKind::Host { op: HostOp::Add, .. } => Place::Host("ADD on unquantized integers".into()),
        OpKind::Host { op: HostOp::Mul | HostOp::Sub | HostOp::Div, .. } => {
            Place::Host("float32 Mul / Sub / Div between dequantizations and a quantization".into())
        }
        OpKind::Host { op: HostOp::Relu, .. } => {
            Place::Host("ReLU of a value that is not only an accelerator layer's output".into())
        }
        OpKind::Host { op: HostOp::AvgPoolFloat { .. }, .. } => {
            Place::Host("ONNX's float32 average pooling (numpy's summation order)".into())
        }
        OpKind::Host { op: HostOp::Dilate { .. }, .. } => {
            Place::Host("spreads a transposed convolution's input (no accelerator form yet)".into())
        }
        OpKind::Host { op: HostOp::Pad { .. }, .. } => {
            Place::Host("PAD that no convolution's padding absorbs (explicit padding)".into())
        }
        OpKind::Host { op: HostOp::Move(m), .. } => Place::Host(crate::movement::host_reason(m).into()),
        OpKind::Host { .. } => Place::Host("reshape with requantization".into()),
        OpKind::Depthwise(_) => Place::Accel,
        OpKind::Quantize(_) | OpKind::TfliteQuantize(_) => Place::Host("quantizes a float input".into()),
        OpKind::TfliteRequantize { input, out } => {
            let bytes = |t: ElemType| matches!(t, ElemType::I8 | ElemType::U8);
            if bytes(input.dtype) && bytes(out.dtype) {
                Place::Accel
            } else {
                Place::Host(format!("requantizes {} to {} (not a function of one byte)", input.dtype, out.dtype))
            }
        }
        OpKind::Dequantize(_) | OpKind::TfliteDequantize(_) => Place::Host("dequantizes to a float output".into()),
        OpKind::TfliteSoftmax { .. } => Place::Host("softmax (float exponentials)".into()),
        OpKind::ByteTable(t) => {
            let bytes = |t: ElemType| matches!(t, ElemType::I8 | ElemType::U8);
            if bytes(t.input) && bytes(t.out.dtype) {
                Place::Accel
            } else {
                Place::Host(format!("{} of {} values (not a function of one byte)", t.op, t.input))
            }
        }
        OpKind::TfliteBinary(b) => {
            let same = shapes.get(&op.inputs[0]).is_some_and(|a| shapes.get(&op.inputs[1]) == Some(a));
            let fits = same && !op.inputs.iter().any(|i| constants.contains_key(i));
            if b.op == crate::program::BinaryOp::Sub && fits {
                Place::Accel
            } else {
                Place::Host(format!("TFLite {:?} of two tensors", b.op))
            }
        }
        OpKind::ResizeBilinear(_) => Place::Host("bilinear resize on the host (interpolation)".into()),
        OpKind::Reduce(r) => Place::Host(format!("{:?} over axes {:?} (no accelerator form yet)", r.op, r.axes)),
        OpKind::SpatialMean(m) => {
            let pixels = shapes.get(&op.inputs[0]).and_then(|s| s.get(1..3)).map(|s| s[0] * s[1]).unwrap_or(0);
            match (m.arith, tflite_mean_output(m, pixels)) {
                (MeanArith::Tflite, Ok(_)) => Place::Accel,
                (MeanArith::Tflite, Err(e)) => Place::Host(e),
                (MeanArith::OnnxFloat, _) => Place::Host("ONNX's float32 mean (numpy's pairwise summation)".into()),
                (MeanArith::QLinear, _) => Place::Host("QLinearGlobalAveragePool's float32 rescaling".into()),
            }
        }
    }
}

/// The store's requantization of TFLite's `MEAN` over `pixels` values per channel
/// (NHWC, 8-bit): one fixed-point multiplication of the centred sum.
fn tflite_mean_output(m: &crate::program::SpatialMean, pixels: usize) -> Result<layers::PoolOutput, String> {
    let bytes = |t: ElemType| matches!(t, ElemType::I8 | ElemType::U8);
    if m.arith != MeanArith::Tflite || !m.channels_last || !bytes(m.input.dtype) || m.input.dtype != m.out.dtype {
        return Err("a mean that is not TFLite's on 8-bit NHWC values".into());
    }
    let range = m.out.dtype.int_range().ok_or("an integer output")?;
    let mean = TfliteMean::new((m.input.scale, m.input.zero), (m.out.scale, m.out.zero), pixels, range)
        .ok_or("the scales give no fixed-point multiplier")?;
    Ok(layers::PoolOutput {
        dtype: m.out.dtype,
        input_zero: mean.input_zero,
        multiplier: mean.multiplier,
        zero_point: mean.output_zero,
        clamp: range,
    })
}

/// The state of one compilation.
struct Builder<'a> {
    cfg: &'a AccelConfig,
    program: &'a Program,
    plans: &'a [OpPlan],
    /// Every value's shape (patch matrices included).
    shapes: HashMap<String, Vec<usize>>,
    layouts: HashMap<String, Layout>,
    steps: Vec<Step>,
    /// Values that need a slot: extra bytes after them, and their lifetime (first
    /// and last operation index; the graph inputs start at -1).
    needs: BTreeMap<String, (u64, (i64, i64))>,
    /// Alias outputs and the value whose slot they share.
    alias_of: HashMap<String, String>,
    slots: BTreeMap<String, Slot>,
    arena: u64,
    unshared: u64,
    consts: ImageBuilder,
    segments: Vec<Segment>,
    preload: Option<Preload>,
    /// The host im2col value of a convolution, by operation.
    patches: HashMap<usize, String>,
    /// Convolutions whose kernel rows the LOADs gather.
    gathered: std::collections::HashSet<usize>,
    /// Predicted cycles of lowerings, by timing signature.
    timings: Memo<Option<u64>>,
}

impl<'a> Builder<'a> {
    fn new(
        cfg: &'a AccelConfig,
        program: &'a Program,
        plans: &'a [OpPlan],
        shapes: HashMap<String, Vec<usize>>,
        layouts: HashMap<String, Layout>,
    ) -> Self {
        Builder {
            cfg,
            program,
            plans,
            shapes,
            layouts,
            steps: Vec::new(),
            needs: BTreeMap::new(),
            alias_of: HashMap::new(),
            slots: BTreeMap::new(),
            arena: 0,
            unshared: 0,
            consts: ImageBuilder::new(),
            segments: Vec::new(),
            preload: None,
            patches: HashMap::new(),
            gathered: std::collections::HashSet::new(),
            timings: Memo::default(),
        }
    }

    /// The convolutions that need their patch matrix built on the host: those whose
    /// image does not fit the input buffer for implicit im2col (or whose weight zero
    /// points differ per column).
    fn find_host_im2col(&mut self, places: &[Place]) {
        for (i, op) in self.program.ops.iter().enumerate() {
            if !matches!(op.kind, OpKind::Conv { .. }) {
                continue;
            }
            let Some(plan) = self.plans[i].layer.as_ref() else { continue };
            if plan.implicit || (self.implicit_fits(i) && !self.host_im2col_pays(i, plan, places)) {
                continue;
            }
            let patches = format!("{}/patches", op.output);
            let [m, k, _] = self.plans[i].layer.as_ref().map_or([0; 3], |p| p.gemm);
            self.shapes.insert(patches.clone(), vec![m, k]);
            self.patches.insert(i, patches);
        }
    }

    /// Whether convolution `i`, which the plan runs faster on an explicit patch
    /// matrix, should get it from the host: only where its input comes from the
    /// host anyway (a graph input, a host step's output), and only when the cycles
    /// saved exceed the host's time to gather the patches ([`HOST_GATHER_MB_S`]).
    fn host_im2col_pays(&self, i: usize, plan: &LayerPlan, places: &[Place]) -> bool {
        let input = &self.program.ops[i].inputs[0];
        let from_host = self.program.inputs.iter().any(|x| &x.name == input)
            || self.program.ops[..i].iter().zip(places).any(|(o, p)| &o.output == input && matches!(p, Place::Host(_)));
        let direct = |how: &str| how.ends_with("implicit im2col") || how.ends_with(crate::plan::PER_BLOCK);
        let implicit = plan.considered.iter().filter(|(how, _)| direct(how)).map(|c| c.1).min();
        let [m, k, _] = plan.gemm;
        let gather_cycles = (m * k) as f64 * self.cfg.clock_mhz / HOST_GATHER_MB_S;
        from_host && implicit.is_some_and(|c| plan.predicted.cycles as f64 + gather_cycles < c as f64)
    }

    /// Whether convolution `op` can run as implicit im2col (its image fits).
    fn implicit_fits(&self, op: usize) -> bool {
        self.implicit_cycles(op).is_some()
    }

    /// The predicted cycles of convolution `op` as dense implicit im2col (per
    /// channel block where its plan says so) from a fresh WBUF (`None`: its image
    /// does not fit, or it has per-column weight zero points or several weight
    /// matrices), as its plan weighed them.
    fn implicit_cycles(&self, op: usize) -> Option<u64> {
        let OpKind::Conv { layer, .. } = &self.program.ops[op].kind else { return None };
        if layer.w_zero_columns.is_some() || layer.batches != 1 {
            return None;
        }
        let plan = self.plans[op].layer.as_ref()?;
        if plan.per_block {
            plan.per_block_cycles()
        } else {
            plan.implicit_cycles(Engine::Dense)
        }
    }

    /// Whether accelerator op `i` needs a host correction of its outputs.
    fn needs_zero_fix(&self, i: usize) -> bool {
        self.program.ops[i].kind.layer().is_some_and(|l| l.w_zero_columns.is_some())
    }

    /// The value accelerator op `i` reads first: its input, or its host-built patch matrix.
    fn input_of(&self, i: usize) -> String {
        self.inputs_of(i).swap_remove(0)
    }

    /// Every value accelerator op `i` reads (its host-built patch matrix instead of a
    /// convolution's input).
    fn inputs_of(&self, i: usize) -> Vec<String> {
        match self.patches.get(&i) {
            Some(p) => vec![p.clone()],
            None => self.program.ops[i].inputs.clone(),
        }
    }

    /// Runs of operations that form one segment each: consecutive accelerator
    /// operations and reshapes (a reshape between host steps runs on the host). A
    /// convolution over a host-built patch matrix starts a run; a layer whose
    /// outputs the host corrects ends one.
    fn group_segments(&self, places: &[Place], options: CompileOptions) -> Vec<Vec<usize>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut open = false;
        for (i, place) in places.iter().enumerate() {
            match place {
                Place::Accel => {
                    if !open || options.segment_per_layer || self.patches.contains_key(&i) {
                        groups.push(Vec::new());
                    }
                    groups.last_mut().expect("a group is open").push(i);
                    open = !self.needs_zero_fix(i);
                }
                Place::Alias if open => groups.last_mut().expect("a group is open").push(i),
                // A reshape that leads into accelerator operations opens their segment.
                Place::Alias if places[i..].iter().find(|p| **p != Place::Alias) == Some(&Place::Accel) => {
                    groups.push(vec![i]);
                    open = true;
                }
                Place::Alias | Place::Host(_) => open = false,
            }
        }
        groups
    }

    /// Records that op `at` needs value `name` in DDR (with `slack` bytes after it).
    fn need(&mut self, name: &str, at: i64, slack: u64) {
        let start = if self.program.inputs.iter().any(|i| i.name == name) { -1 } else { at };
        let entry = self.needs.entry(name.to_string()).or_insert((0, (start, at)));
        entry.0 = entry.0.max(slack);
        entry.1 = (entry.1 .0.min(start), entry.1 .1.max(at));
    }

    /// The steps, and which values need DDR slots for how long.
    fn plan_steps(&mut self, groups: &[Vec<usize>]) {
        let group_of: HashMap<usize, usize> =
            groups.iter().enumerate().flat_map(|(g, ops)| ops.iter().map(move |&o| (o, g))).collect();
        for (i, op) in self.program.ops.iter().enumerate() {
            let at = i as i64;
            let Some(&g) = group_of.get(&i) else {
                self.steps.push(Step::Host { op: i });
                continue;
            };
            let first = groups[g][0];
            if i == first {
                if let Some(patches) = self.patches.get(&i) {
                    self.steps.push(Step::Im2col { op: i, patches: patches.clone() });
                }
                self.steps.push(Step::Segment { index: g });
            }
            let input = self.input_of(i);
            for value in self.inputs_of(i) {
                // A value the segment did not produce is written before it starts.
                let produced_here =
                    groups[g].iter().take_while(|&&o| o < i).any(|&o| self.program.ops[o].output == value);
                if !produced_here {
                    self.need(&value, first as i64, 0);
                }
                let slack = if value == input { self.input_slack(i) } else { 0 };
                self.need(&value, at, slack);
            }
            self.need(&op.output, at, 0);
            if is_reshape(op) {
                self.alias_of.insert(op.output.clone(), op.inputs[0].clone());
            }
            if self.needs_zero_fix(i) {
                self.steps.push(Step::ZeroPoints { op: i, a: input });
            }
        }
        // Values read later by host steps, or the graph outputs, keep their bytes.
        let end = self.program.ops.len() as i64;
        let reads =
            self.program.ops.iter().enumerate().flat_map(|(i, op)| op.inputs.iter().map(move |n| (n, i as i64)));
        let outputs = self.program.outputs.iter().map(|n| (n, end));
        for (name, at) in reads.chain(outputs) {
            if let Some(e) = self.needs.get_mut(name) {
                e.1 .1 = e.1 .1.max(at);
            }
        }
    }

    /// Bytes the lowering of op `i` may read past its input.
    fn input_slack(&self, i: usize) -> u64 {
        let (Some(plan), Some(layer)) = (&self.plans[i].layer, self.program.ops[i].kind.layer()) else { return 0 };
        let reads_rows = matches!(self.program.ops[i].kind, OpKind::Gemm(_)) || self.patches.contains_key(&i);
        if reads_rows {
            a_slack(self.cfg, plan.engine, layer.k) as u64
        } else {
            0
        }
    }

    /// The value whose slot `name` uses (itself unless it is an alias).
    fn root(&self, name: &str) -> String {
        let mut name = name.to_string();
        while let Some(next) = self.alias_of.get(&name) {
            name = next.clone();
        }
        name
    }

    /// Assigns every value that lives in DDR its slot (aliases share their root's).
    fn allocate(&mut self) -> Result<(), String> {
        let names: Vec<String> = self.needs.keys().cloned().collect();
        let mut roots: BTreeMap<String, (u64, (i64, i64))> = BTreeMap::new();
        for name in &names {
            let (slack, live) = self.needs[name];
            let root = self.root(name);
            let bytes = self.bytes_of(name)? + slack;
            let e = roots.entry(root).or_insert((bytes, live));
            e.0 = e.0.max(bytes);
            e.1 = (e.1 .0.min(live.0), e.1 .1.max(live.1));
        }
        let requests: Vec<arena::Request> =
            roots.values().map(|&(bytes, live)| arena::Request { bytes, live }).collect();
        let (offsets, size) = arena::allocate(&requests);
        self.arena = size;
        self.unshared = requests.iter().map(|r| r.bytes.next_multiple_of(arena::ALIGN)).sum();
        let placed: HashMap<&String, (u64, u64)> =
            roots.iter().zip(&offsets).map(|((name, (bytes, _)), &o)| (name, (o, *bytes))).collect();
        for name in &names {
            let (offset, bytes) = placed[&self.root(name)];
            let shape = self.shapes.get(name).cloned().ok_or_else(|| format!("value `{name}` has no shape"))?;
            let slot =
                Slot { offset, bytes, dtype: self.dtype_of(name)?, shape, layout: layout_of(&self.layouts, name) };
            self.slots.insert(name.clone(), slot);
        }
        // Constants and instructions go above the arena.
        self.consts = ImageBuilder::at(size.next_multiple_of(arena::ALIGN) as usize);
        Ok(())
    }

    fn dtype_of(&self, name: &str) -> Result<ElemType, String> {
        if let Some(op) = self.program.ops.iter().find(|o| o.output == name) {
            return Ok(op.out_type);
        }
        if let Some(input) = self.program.inputs.iter().find(|i| i.name == name) {
            return Ok(input.dtype);
        }
        if let Some((&op, _)) = self.patches.iter().find(|(_, p)| *p == name) {
            return self.program.ops[op]
                .kind
                .layer()
                .map(|l| l.a_type)
                .ok_or("a patch matrix belongs to a layer".into());
        }
        Err(format!("value `{name}` has no type"))
    }

    fn bytes_of(&self, name: &str) -> Result<u64, String> {
        let elements: usize =
            self.shapes.get(name).ok_or_else(|| format!("value `{name}` has no shape"))?.iter().product();
        match self.dtype_of(name)? {
            ElemType::I8 | ElemType::U8 => Ok(elements as u64),
            ElemType::I32 => Ok(4 * elements as u64),
            other => Err(format!("value `{name}` is {other}; the accelerator reads and writes int8, uint8 and int32")),
        }
    }

    fn slot(&self, name: &str) -> Result<Slot, String> {
        self.slots.get(name).cloned().ok_or_else(|| format!("value `{name}` has no DDR slot"))
    }

    /// Lowers every segment and places its instruction stream, after the program
    /// that loads the resident weights.
    fn lower(&mut self, groups: &[Vec<usize>]) -> Result<(), String> {
        let model = CostModel::new(self.cfg);
        let residency = self.plan_residency(groups, &model)?;
        let mut preload = Vec::new();
        let mut streams = Vec::with_capacity(groups.len());
        for ops in groups {
            let mut stream = stream::Stream::new();
            let mut layers = Vec::new();
            for &i in ops.iter().filter(|&&i| !is_reshape(&self.program.ops[i])) {
                let op = &self.program.ops[i];
                let context = |e: String| format!("node `{}` ({}): {e}", op.node, op.source);
                let mut consts = std::mem::take(&mut self.consts);
                let lowered = self.lower_op(i, &mut consts, &residency, &model);
                self.consts = consts;
                let (code, info) = lowered.map_err(context)?;
                for p in &code.programs {
                    stream.push_layer(p);
                }
                preload.extend(code.preload);
                layers.push(info);
            }
            let program = stream.finish();
            let predicted = model.predict(&program)?;
            streams.push((program, layers, predicted));
        }
        if !preload.is_empty() {
            preload.push(Instr::Finish);
            let program = IsaProgram::new(preload);
            self.preload = Some(Preload {
                program_offset: u64::from(self.consts.place(&program.encode())),
                program_len: program.len() as u32,
                entries: residency.entries,
            });
        }
        for ((program, layers, predicted), ops) in streams.into_iter().zip(groups) {
            let (reads, writes) = self.transfers(ops);
            let program_offset = u64::from(self.consts.place(&program.encode()));
            self.segments.push(Segment {
                program_offset,
                program_len: program.len() as u32,
                ops: ops.clone(),
                reads,
                writes,
                layers,
                predicted: predicted.cycles,
                busy: predicted.busy,
            });
        }
        Ok(())
    }

    /// WBUF entries the weights of accelerator op `i` take when resident (`None`
    /// for operations whose weights cannot stay: the sparse engine, pooling).
    fn resident_need(&self, i: usize) -> Option<usize> {
        let op = &self.program.ops[i];
        let plan = self.plans[i].layer.as_ref()?;
        let layer = op.kind.layer()?;
        let engine = self.engine_of(i, plan);
        if engine == Engine::Sparse {
            return None;
        }
        let span = self.cfg.array.rows as usize * tessera_isa::nm::ratio(engine.nm()) as usize;
        let k_blocks = match &op.kind {
            OpKind::Conv { geometry, .. } if self.gathered.contains(&i) => {
                let g = self.image_geometry(i, geometry)?;
                crate::gemm::gather_k(&g, self.cfg.array.rows as usize).div_ceil(span)
            }
            OpKind::Conv { geometry, .. } if plan.per_block && !self.patches.contains_key(&i) => {
                let blocks = layers::channel_blocks(geometry, layer.n, self.cfg.array.cols as usize).ok()?;
                let taps = geometry.window.kernel[0] * geometry.window.kernel[1];
                return Some(layers::per_block_entries(self.cfg, &blocks, taps));
            }
            OpKind::Conv { geometry, .. } if !self.patches.contains_key(&i) => {
                geometry.window.kernel[0] * geometry.window.kernel[1] * geometry.channels.div_ceil(span)
            }
            _ => layer.k.div_ceil(span),
        };
        Some(layers::resident_entries(self.cfg, layer, engine, k_blocks) * layer.batches)
    }

    /// The image geometry of convolution `i`'s input.
    fn image_geometry(&self, i: usize, geometry: &crate::program::ConvGeometry) -> Option<crate::gemm::ImageGeometry> {
        let shape = self.shapes.get(&self.program.ops[i].inputs[0])?;
        let [_, _, h, w] = geometry.dims(shape)?;
        Some(crate::gemm::ImageGeometry::whole(h, w, geometry.channels, geometry.window))
    }

    /// The convolutions whose kernel rows are gathered into A's rows instead of
    /// implicit im2col: where the gather applies (no horizontal padding, dense
    /// weights) and the cost model predicts it faster (few channels per tap, 1x1
    /// kernels with a stride).
    fn choose_gathers(&mut self, groups: &[Vec<usize>]) {
        let model = CostModel::new(self.cfg);
        for &i in groups.iter().flatten() {
            let OpKind::Conv { geometry, layer } = &self.program.ops[i].kind else { continue };
            let dense = self.plans[i].layer.as_ref().is_some_and(|p| self.engine_of(i, p) == Engine::Dense);
            if self.patches.contains_key(&i) || !dense || layer.batches != 1 || layer.w_zero_columns.is_some() {
                continue;
            }
            let Some(shape) = self.shapes.get(&self.program.ops[i].inputs[0]) else { continue };
            let Some([n, _, h, w]) = geometry.dims(shape) else { continue };
            let implicit = self.implicit_cycles(i);
            let key = format!("gather {} {geometry:?} {:?}", layer_key(layer), [n, h, w]);
            let gathered = self.timings.get_or(key, || {
                let mut scratch = ImageBuilder::at(0);
                let code = layers::conv_gather(self.cfg, &mut scratch, geometry, layer, [n, h, w], [0, 0], None);
                code.ok().and_then(|c| model.predict(&c.programs[0]).ok()).map(|p| p.cycles)
            });
            if gathered.is_some_and(|g| implicit.is_none_or(|i| g < i)) {
                self.gathered.insert(i);
            }
        }
    }

    /// The engine op `i` runs on (implicit convolutions take N:4 tiles only where the
    /// plan chose implicit im2col).
    fn engine_of(&self, i: usize, plan: &LayerPlan) -> Engine {
        match &self.program.ops[i].kind {
            OpKind::Conv { .. } if !self.patches.contains_key(&i) && !plan.implicit => Engine::Dense,
            _ => plan.engine,
        }
    }

    /// Which layers keep their weights in WBUF across runs, and where: small-M layers
    /// (whose weights dominate their traffic) first. The rest stream through the
    /// double-buffered part below; the split that leaves the fewest predicted cycles
    /// wins (all resident when they fit).
    fn plan_residency(&self, groups: &[Vec<usize>], model: &CostModel) -> Result<Residency, String> {
        let wbuf = self.cfg.memory.wbuf_entries as usize;
        let mut candidates: Vec<(usize, usize)> =
            groups.iter().flatten().filter_map(|&i| self.resident_need(i).map(|need| (i, need))).collect();
        candidates.sort_by_key(|&(i, need)| (self.plans[i].layer.as_ref().map_or(0, |p| p.gemm[0]), usize::MAX - need));
        let total: usize = candidates.iter().map(|c| c.1).sum();
        let tile = self.cfg.array.rows as usize;
        // Operations that always stream through WBUF (pooling's activations, the
        // sparse engine's tiles) need room below the resident weights.
        let accelerated = groups.iter().flatten().filter(|&&i| !is_reshape(&self.program.ops[i])).count();
        let always_streamed = accelerated > candidates.len();
        let mut reserves: Vec<usize> =
            [16, 8, 4, 2].iter().map(|d| (wbuf / d / (2 * tile)).max(1) * 2 * tile).collect();
        if total + if always_streamed { 2 * tile } else { 0 } <= wbuf {
            reserves.insert(0, if always_streamed { wbuf - total } else { 0 });
        }
        // Nothing resident: the whole buffer streams, as the layers were planned.
        reserves.push(wbuf);
        let splits: Vec<Residency> = reserves
            .into_iter()
            .map(|reserve| {
                let mut residency = Residency { stream_entries: reserve, ..Residency::default() };
                let mut next = reserve;
                for &(i, need) in &candidates {
                    if next + need <= wbuf {
                        residency.bases.insert(i, next);
                        next += need;
                    }
                }
                residency.entries = next - reserve;
                residency
            })
            .collect();
        // Each split lowers every layer: the splits are weighed side by side.
        let cycles: Vec<u64> = std::thread::scope(|scope| {
            let weighing: Vec<_> =
                splits.iter().map(|residency| scope.spawn(|| self.split_cycles(groups, residency, model))).collect();
            weighing.into_iter().map(|w| w.join().unwrap_or(u64::MAX)).collect()
        });
        // The first of the fastest, as a sequential search would pick.
        let mut best: Option<(u64, Residency)> = None;
        for (c, residency) in cycles.into_iter().zip(splits) {
            if best.as_ref().is_none_or(|(b, _)| c < *b) {
                best = Some((c, residency));
            }
        }
        Ok(best.map(|(_, r)| r).unwrap_or_default())
    }

    /// The predicted cycles of the accelerator operations of `groups` under
    /// `residency` (saturating at `u64::MAX` when some layer cannot be lowered with
    /// it, so that such a split is never chosen).
    fn split_cycles(&self, groups: &[Vec<usize>], residency: &Residency, model: &CostModel) -> u64 {
        let mut cycles = 0u64;
        for &i in groups.iter().flatten().filter(|&&i| !is_reshape(&self.program.ops[i])) {
            let lowered = || {
                let mut scratch = ImageBuilder::at(self.consts.base());
                self.lower_op(i, &mut scratch, residency, model).ok().map(|(_, info)| info.predicted)
            };
            let predicted = match self.timing_key(i, residency) {
                Some(key) => self.timings.get_or(key, lowered),
                None => lowered(),
            };
            cycles = cycles.saturating_add(predicted.unwrap_or(u64::MAX));
        }
        cycles
    }

    /// What the timing of accelerator operation `i` under `residency` depends on:
    /// for a layer, its signature, lowering, input shape, the WBUF entries it
    /// streams through and whether its weights are resident.
    fn timing_key(&self, i: usize, residency: &Residency) -> Option<String> {
        let op = &self.program.ops[i];
        let Some(layer) = op.kind.layer() else { return self.weightless_timing_key(i, residency) };
        let plan = self.plans[i].layer.as_ref()?;
        let how = if self.patches.contains_key(&i) {
            "patches"
        } else if self.gathered.contains(&i) {
            "gathered"
        } else if plan.per_block {
            "per block"
        } else {
            "direct"
        };
        let geometry = match &op.kind {
            OpKind::Conv { geometry, .. } => Some(geometry),
            _ => None,
        };
        let input = self.shapes.get(&self.input_of(i))?;
        Some(format!(
            "lower {} {how} {:?} {:?} {geometry:?} {input:?} {} {} {}",
            layer_key(layer),
            self.engine_of(i, plan),
            plan.gemm,
            residency.stream_entries,
            residency.bases.is_empty(),
            residency.bases.contains_key(&i)
        ))
    }

    /// The timing key of accelerator operation `i` without weights: the operation
    /// itself, and for a global average pool (which multiplies through WBUF) the
    /// WBUF entries it streams through; element-wise tables and windowed pooling
    /// lower the same under every residency split.
    fn weightless_timing_key(&self, i: usize, residency: &Residency) -> Option<String> {
        let op = &self.program.ops[i];
        let shape = self.shapes.get(&self.input_of(i))?;
        let through_wbuf = match &op.kind {
            OpKind::SpatialMean(_) | OpKind::Depthwise(_) => true,
            OpKind::Host { op: HostOp::AvgPool(w), .. } => is_global(w, shape),
            _ => false,
        };
        Some(match through_wbuf {
            true => format!("op {i} streaming {}", residency.stream_entries),
            false => format!("op {i}"),
        })
    }

    /// The values a segment running `ops` reads from earlier steps, and those it
    /// writes that later steps (or the graph outputs) read.
    fn transfers(&self, ops: &[usize]) -> (Vec<String>, Vec<String>) {
        let last = *ops.last().expect("a segment has operations");
        let produced = |name: &String| ops.iter().any(|&o| self.program.ops[o].output == *name);
        let mut reads: Vec<String> = Vec::new();
        let mut writes = Vec::new();
        for &o in ops {
            for input in self.inputs_of(o) {
                if !produced(&input) && !reads.contains(&input) {
                    reads.push(input);
                }
            }
            let output = &self.program.ops[o].output;
            let later = self.program.outputs.contains(output)
                || self.program.ops[last + 1..].iter().any(|op| op.inputs.contains(output))
                || self.needs_zero_fix(o);
            if later {
                writes.push(output.clone());
            }
        }
        (reads, writes)
    }

    /// The instructions of accelerator operation `i` and what they are, its constants
    /// placed in `consts`, its weights resident or streamed as `residency` says.
    fn lower_op(
        &self,
        i: usize,
        consts: &mut ImageBuilder,
        residency: &Residency,
        model: &CostModel,
    ) -> Result<(layers::Code, LayerInfo), String> {
        let op = &self.program.ops[i];
        let plan = self.plans[i].layer.as_ref();
        let out = self.slot(&op.output)?;
        let x = self.slot(&self.input_of(i))?;
        let at = [x.offset, out.offset];
        let resident = residency.bases.get(&i).copied();
        // Streamed weights double-buffer in the part of WBUF below the resident ones.
        let mut streaming = self.cfg.clone();
        if residency.stream_entries > 0 || !residency.bases.is_empty() {
            streaming.memory.wbuf_entries = residency.stream_entries.max(2 * self.cfg.array.rows as usize) as u32;
        }
        let cfg = if resident.is_some() { self.cfg } else { &streaming };
        let (code, engine, lowering, gemm, gemms) = match (&op.kind, plan) {
            (OpKind::Gemm(layer), Some(plan)) => {
                // The weight rows are in the input's storage order already
                // (`weights_in_storage_order`).
                x.layout.feature_order(layer.k).ok_or_else(|| {
                    format!("its input is stored channels-last in a shape it cannot multiply ({:?})", x.shape)
                })?;
                let features: Vec<usize> = (0..layer.k).collect();
                let rows = plan.gemm[0] * plan.gemms;
                let code = layers::gemm(cfg, consts, layer, plan.engine, rows, &features, at, resident)?;
                (code, plan.engine, String::new(), plan.gemm, plan.gemms)
            }
            (OpKind::Conv { geometry, layer }, Some(plan)) if self.patches.contains_key(&i) => {
                let features: Vec<usize> = (0..layer.k).collect();
                let tap_major = geometry.tap_major(layer);
                let code = layers::gemm(cfg, consts, &tap_major, plan.engine, plan.gemm[0], &features, at, resident)?;
                (code, plan.engine, "host im2col".to_string(), plan.gemm, 1)
            }
            (OpKind::Conv { geometry, layer }, Some(plan)) if self.gathered.contains(&i) => {
                let [n, _, h, w] = geometry.dims(&x.shape).ok_or_else(|| format!("input {:?} is not 4-D", x.shape))?;
                let code = layers::conv_gather(cfg, consts, geometry, layer, [n, h, w], at, resident)?;
                (code, Engine::Dense, "gathered kernel rows".to_string(), [plan.gemm[0], layer.k, layer.n], 1)
            }
            (OpKind::Conv { geometry, layer }, Some(plan)) if plan.per_block => {
                let [n, _, h, w] = geometry.dims(&x.shape).ok_or_else(|| format!("input {:?} is not 4-D", x.shape))?;
                let per_group = geometry.per_group(layer)?;
                let code = layers::conv_per_block(cfg, consts, geometry, &per_group, [n, h, w], at, resident)?;
                let gemm = [plan.gemm[0], per_group.k, per_group.n];
                (code, Engine::Dense, crate::plan::PER_BLOCK.to_string(), gemm, 1)
            }
            (OpKind::Conv { geometry, layer }, Some(plan)) => {
                let [n, _, h, w] = geometry.dims(&x.shape).ok_or_else(|| format!("input {:?} is not 4-D", x.shape))?;
                let engine = self.engine_of(i, plan);
                let code = layers::conv_implicit(cfg, consts, geometry, layer, engine.nm(), [n, h, w], at, resident)?;
                (code, engine, "implicit im2col".to_string(), plan.gemm, 1)
            }
            (OpKind::Host { op: HostOp::AvgPool(w), arith: HostArith::Integer { clamp } }, _)
                if is_global(w, &x.shape) =>
            {
                let [n, c, h, wd] = w.dims(&x.shape).map_err(|e| e.to_string())?;
                let range = x.dtype.int_range().ok_or("the input is not integer")?;
                let out_q = layers::PoolOutput::average(x.dtype, h * wd, clamp.unwrap_or(range))?;
                let code = layers::global_average_pool(cfg, consts, [n, h * wd, c], &out_q, at)?;
                (code, Engine::Dense, "global average pool".to_string(), [1, h * wd, c], n)
            }
            (OpKind::Depthwise(d), _) => {
                // NCHW (ONNX) values are stored channels-last like every accelerator layer's.
                let [n, c, h, wd] = d.window.dims(&x.shape).map_err(|e| e.to_string())?;
                let [oh, ow] = d.window.output_size(h, wd).ok_or("the kernel exceeds the input")?;
                let code = layers::depthwise(cfg, consts, d, x.dtype, [n, h, wd], at)?;
                let taps = d.window.kernel[0] * d.window.kernel[1];
                let outputs = c * d.multiplier;
                (code, Engine::Dense, "depthwise, per channel block".to_string(), [n * oh * ow, taps, outputs], 1)
            }
            (OpKind::SpatialMean(m), _) => {
                let &[n, h, wd, c] = x.shape.as_slice() else { return Err("the input is not 4-D".into()) };
                let out_q = tflite_mean_output(m, h * wd)?;
                let code = layers::global_average_pool(cfg, consts, [n, h * wd, c], &out_q, at)?;
                (code, Engine::Dense, "spatial mean".to_string(), [1, h * wd, c], n)
            }
            (OpKind::Host { op: pool @ (HostOp::AvgPool(w) | HostOp::MaxPool(w)), arith }, _) => {
                let [n, c, h, wd] = w.dims(&x.shape).map_err(|e| e.to_string())?;
                let range = x.dtype.int_range().ok_or("the input is not integer")?;
                let clamp = match arith {
                    HostArith::Integer { clamp } => clamp.unwrap_or(range),
                    _ => range,
                };
                let kind = if matches!(pool, HostOp::MaxPool(_)) {
                    elementwise::Pool::Max
                } else {
                    elementwise::Pool::Average
                };
                let code = elementwise::pool(cfg, consts, kind, w, [n, h, wd, c], x.dtype, clamp, at)?;
                let name = if kind == elementwise::Pool::Max { "max pool" } else { "average pool" };
                (code, Engine::Dense, name.to_string(), [0, 0, 0], 0)
            }
            (OpKind::Host { op: HostOp::Add, arith: HostArith::Requant { inputs, out } }, _) => {
                let b = self.slot(&op.inputs[1])?;
                let (tables, scale) = elementwise::onnx_add_tables([&inputs[0], &inputs[1]], out)
                    .ok_or("no table rendering reproduces the float arithmetic")?;
                let output = elementwise::SumOutput {
                    mode: tessera_isa::isa::RequantMode::Float,
                    lane: tessera_isa::quant::ParamLane::float(0, scale),
                    zero: out.zero,
                    dtype: out.dtype,
                    clamp: out.dtype.int_range().ok_or("an integer output")?,
                };
                let elements = x.shape.iter().product();
                let code =
                    elementwise::table_sum(cfg, consts, elements, &tables, &output, &[x.offset, b.offset], at[1])?;
                (code, Engine::Dense, "element-wise (TABLE, float)".to_string(), [0, 0, 0], 0)
            }
            (OpKind::Host { op: HostOp::Add, arith: HostArith::TfliteAdd { inputs, out, clamp } }, _) => {
                let b = self.slot(&op.inputs[1])?;
                let rescale = tessera_isa::quant::AddRescale::new(
                    (inputs[0].scale, inputs[0].zero),
                    (inputs[1].scale, inputs[1].zero),
                    (out.scale, out.zero),
                )
                .ok_or("the scales give no fixed-point multipliers")?;
                let elements = x.shape.iter().product();
                let dtypes = [x.dtype, b.dtype, out.dtype];
                let code = elementwise::tflite_add(
                    cfg,
                    consts,
                    elements,
                    dtypes,
                    &rescale,
                    *clamp,
                    [x.offset, b.offset, at[1]],
                    false,
                )?;
                (code, Engine::Dense, "element-wise (TABLE)".to_string(), [0, 0, 0], 0)
            }
            (OpKind::TfliteBinary(t), _) if t.op == crate::program::BinaryOp::Sub => {
                let b = self.slot(&op.inputs[1])?;
                let [p, q] = t.inputs.map(|a| (a.scale, a.zero));
                let rescale = tessera_isa::quant::AddRescale::new(p, q, (t.out.scale, t.out.zero))
                    .ok_or("the scales give no fixed-point multipliers")?;
                let elements = x.shape.iter().product();
                let dtypes = [x.dtype, b.dtype, t.out.dtype];
                let addrs = [x.offset, b.offset, at[1]];
                let code = elementwise::tflite_add(cfg, consts, elements, dtypes, &rescale, t.clamp, addrs, true)?;
                (code, Engine::Dense, "SUB (TABLE)".to_string(), [0, 0, 0], 0)
            }
            (OpKind::TfliteRequantize { input, out }, _) => {
                let range = out.dtype.int_range().ok_or("an integer output")?;
                let r = tessera_isa::quant::Requantize::new((input.scale, input.zero), (out.scale, out.zero), range)
                    .ok_or("the scales give no fixed-point multiplier")?;
                let elements = x.shape.iter().product();
                let code = elementwise::tflite_requantize(cfg, consts, elements, [x.dtype, out.dtype], &r, at)?;
                (code, Engine::Dense, "requantize (TABLE)".to_string(), [0, 0, 0], 0)
            }
            (OpKind::ByteTable(t), _) => {
                let elements = x.shape.iter().product();
                let code = elementwise::byte_table(cfg, consts, elements, t.out.dtype, &t.values, at)?;
                (code, Engine::Dense, format!("{} (TABLE)", t.op), [0, 0, 0], 0)
            }
            _ => return Err("has no accelerator lowering".into()),
        };
        let predict = || code.programs.iter().map(|p| model.predict(p).map(|x| x.cycles)).sum::<Result<u64, String>>();
        // The residency search predicted this lowering already (the final one has
        // other addresses, which do not change the timing).
        let memoized = self.timing_key(i, residency).and_then(|key| self.timings.get_or(key, || predict().ok()));
        let predicted = match memoized {
            Some(cycles) => cycles,
            None => predict()?,
        };
        let tiling = code.tiling;
        let info = LayerInfo {
            op: i,
            gemm,
            gemms,
            // Pooling and element-wise operations use no weights.
            engine: if gemms == 0 { "-".to_string() } else { engine.to_string() },
            lowering: if resident.is_some() {
                [lowering.as_str(), "resident weights"].join(", ").trim_start_matches(", ").to_string()
            } else {
                lowering
            },
            tiling: [tiling.m_tile, tiling.n_blocks_per_step, tiling.k_blocks_per_step],
            instructions: code.programs.iter().map(|p| p.len()).sum(),
            predicted,
            considered: plan.map_or_else(Vec::new, |p| p.considered.clone()),
        };
        Ok((code, info))
    }

    /// The compiled model, with an empty program: the caller moves the program in
    /// once the builder no longer borrows it.
    fn finish(self, batch: usize, places: Vec<Place>) -> CompiledModel {
        let image_offset = self.consts.base() as u64;
        let end = self.consts.end() as u64;
        let image = self.consts.into_bytes();
        let instructions: u64 = self.segments.iter().map(|s| u64::from(s.program_len) * INSTR_BYTES as u64).sum();
        let host = places
            .into_iter()
            .enumerate()
            .filter_map(|(op, p)| match p {
                Place::Host(reason) => Some(HostReason { op, reason }),
                _ => None,
            })
            .collect();
        CompiledModel {
            config: self.cfg.clone(),
            batch,
            program: Program::default(),
            image_offset,
            dram_bytes: end.next_multiple_of(arena::ALIGN),
            image,
            slots: self.slots,
            steps: self.steps,
            segments: self.segments,
            preload: self.preload,
            host,
            footprint: Footprint {
                constants: end - image_offset - instructions,
                activations: self.arena,
                instructions,
                activations_unshared: self.unshared,
            },
            out_shapes: self.plans.iter().map(|p| p.out_shape.clone()).collect(),
        }
    }
}
