//! Running a compiled model on a device: the constants (weights, parameters,
//! instruction streams) are written into the DDR window once, when the
//! [`ModelSession`] opens; each inference writes its inputs, runs the steps — the
//! accelerator segments and the host operations between them — and reads its
//! outputs. Values move between the host and DDR only where a host step or the
//! graph boundary needs them.

use crate::host::step::{correct_zero_points, im2col, run_host, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tessera_compiler::model::{CompiledModel, Slot, Step};
use tessera_compiler::program::{OpKind, Program, ProgramInput};
use tessera_compiler::tensor::{ElemType, Tensor, TensorData};
use tessera_driver::{Device, DriverError, RunReport, Session};
use tessera_isa::regs::Counter;

/// Why a model could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("{0}")]
    Input(String),
    #[error("node `{node}` ({source_op}): {message}")]
    Op { node: String, source_op: String, message: String },
    #[error("segment {segment}: {error}")]
    Segment { segment: usize, error: DriverError },
}

/// What the accelerator did in one segment, summed over the runs of an inference call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentStats {
    /// Runs of the segment (one per group of `batch` samples).
    pub runs: u64,
    /// Hardware counters, in `Counter::ALL` order, summed over the runs.
    pub counters: Vec<u64>,
}

impl SegmentStats {
    pub fn counter(&self, c: Counter) -> u64 {
        Counter::ALL.iter().position(|x| *x == c).and_then(|i| self.counters.get(i)).copied().unwrap_or(0)
    }

    fn add(&mut self, report: &RunReport) {
        self.runs += 1;
        self.counters.resize(report.counters.len(), 0);
        for (sum, v) in self.counters.iter_mut().zip(&report.counters) {
            *sum += v;
        }
    }
}

/// The result of running samples through a model.
#[derive(Debug, Clone)]
pub struct ModelRun {
    /// The graph outputs, in graph order, one row per sample.
    pub outputs: Vec<(String, Value)>,
    /// Per segment of the model.
    pub segments: Vec<SegmentStats>,
    /// Host steps executed, and the time they took on this machine (transfers between
    /// the host and the DDR window included).
    pub host_steps: u64,
    pub host_time: Duration,
    /// Samples run, and runs of the model (groups of `batch` samples, the last one
    /// padded).
    pub samples: usize,
    pub runs: usize,
}

impl ModelRun {
    /// A counter summed over every segment.
    pub fn total(&self, c: Counter) -> u64 {
        self.segments.iter().map(|s| s.counter(c)).sum()
    }
}

/// Reports progress: steps done, steps in all, and what runs now.
pub type Progress<'a> = &'a dyn Fn(usize, usize, &str);

/// A compiled model on an open device.
pub struct ModelSession<'m, D: Device> {
    session: Session<D>,
    model: &'m CompiledModel,
    /// Host steps' names, by program operation.
    timeout: Duration,
}

impl<'m, D: Device> ModelSession<'m, D> {
    /// Opens `device` for `model` (checking it is the accelerator the model was
    /// compiled for) and writes the model's constants and instructions into its DDR
    /// window. `timeout` bounds each segment run (device time).
    pub fn open(device: D, model: &'m CompiledModel, timeout: Duration) -> Result<Self, RunError> {
        let mut session = Session::open(device, &model.config)?;
        let window = session.device().dram().len() as u64;
        if window < model.dram_bytes {
            let backend = session.device().backend().to_string();
            return Err(
                DriverError::WindowTooSmall { backend, needed: model.dram_bytes, available: window as usize }.into()
            );
        }
        session.write_dram(model.image_offset, &model.image)?;
        // Resident weights go into WBUF once; every run after reads them there.
        if let Some(p) = &model.preload {
            session.run(p.program_offset, p.program_len, timeout)?;
        }
        Ok(ModelSession { session, model, timeout })
    }

    pub fn session(&self) -> &Session<D> {
        &self.session
    }

    /// Runs `inputs` (one tensor per graph input, any number of samples along the
    /// first dimension) through the model, `batch` samples per run; the last run is
    /// padded by repeating its last sample, whose results are dropped.
    pub fn run(&mut self, inputs: &[Tensor], progress: Option<Progress>) -> Result<ModelRun, RunError> {
        let program = &self.model.program;
        let shaped = shape_inputs(program, inputs)?;
        let rows = program.inputs[0].sample_rows();
        let samples = shaped[0].shape[0] / rows;
        let batch = self.model.batch;
        let runs = samples.div_ceil(batch);
        let mut total = ModelRun {
            outputs: Vec::new(),
            segments: vec![SegmentStats::default(); self.model.segments.len()],
            host_steps: 0,
            host_time: Duration::ZERO,
            samples,
            runs,
        };
        let steps = self.model.steps.len();
        for (r, start) in (0..samples).step_by(batch).enumerate() {
            let group: Vec<Value> = shaped
                .iter()
                .zip(&program.inputs)
                .map(|(t, declared)| {
                    let rows = declared.sample_rows();
                    sample_rows(t, start * rows, batch * rows)
                })
                .collect();
            let report = |done: usize, what: &str| {
                if let Some(p) = progress {
                    p(r * steps + done, runs * steps, what);
                }
            };
            let outputs = self.run_group(group, &mut total, &report)?;
            let keep = batch.min(samples - start);
            merge_outputs(&mut total.outputs, outputs, keep, batch);
        }
        Ok(total)
    }

    /// One run of the model on exactly `batch` samples.
    fn run_group(
        &mut self,
        inputs: Vec<Value>,
        stats: &mut ModelRun,
        progress: &dyn Fn(usize, &str),
    ) -> Result<Vec<(String, Value)>, RunError> {
        let model = self.model;
        let program = &model.program;
        let mut host: HashMap<String, Value> = program.inputs.iter().map(|i| i.name.clone()).zip(inputs).collect();
        let mut in_ddr: HashSet<String> = HashSet::new();
        for (done, step) in model.steps.iter().enumerate() {
            match step {
                Step::Segment { index } => {
                    progress(done, &format!("segment {index}"));
                    let started = Instant::now();
                    let segment = &model.segments[*index];
                    for name in &segment.reads {
                        if !in_ddr.contains(name) {
                            let value =
                                host.get(name).ok_or_else(|| input_error(format!("value `{name}` is not computed")))?;
                            self.write_value(name, value)?;
                            in_ddr.insert(name.clone());
                        }
                    }
                    stats.host_time += started.elapsed();
                    let report = self
                        .session
                        .run(segment.program_offset, segment.program_len, self.timeout)
                        .map_err(|error| RunError::Segment { segment: *index, error })?;
                    stats.segments[*index].add(&report);
                    for name in &segment.writes {
                        in_ddr.insert(name.clone());
                        host.remove(name);
                    }
                }
                Step::Host { op } => {
                    let o = &program.ops[*op];
                    progress(done, &format!("{} ({})", o.node, o.source));
                    let started = Instant::now();
                    let args = o.inputs.iter().map(|name| self.host_value(name, &mut host, &in_ddr)).collect::<Result<
                        Vec<_>,
                        _,
                    >>(
                    )?;
                    let value = run_host(&o.kind, &args).map_err(|message| op_error(program, *op, message))?;
                    host.insert(o.output.clone(), value);
                    in_ddr.remove(&o.output);
                    stats.host_steps += 1;
                    stats.host_time += started.elapsed();
                }
                Step::Im2col { op, patches } => {
                    let o = &program.ops[*op];
                    progress(done, &format!("{} (im2col)", o.node));
                    let started = Instant::now();
                    let OpKind::Conv { geometry, layer } = &o.kind else {
                        return Err(op_error(program, *op, "im2col of an operation that is not a convolution".into()));
                    };
                    let x = self.host_value(&o.inputs[0], &mut host, &in_ddr)?;
                    let value = im2col(geometry, layer.a_zero, &x).map_err(|m| op_error(program, *op, m))?;
                    host.insert(patches.clone(), value);
                    in_ddr.remove(patches);
                    stats.host_steps += 1;
                    stats.host_time += started.elapsed();
                }
                Step::ZeroPoints { op, a } => {
                    let o = &program.ops[*op];
                    let started = Instant::now();
                    let layer = o.kind.layer().ok_or_else(|| op_error(program, *op, "not a layer".into()))?;
                    let a = self.host_value(a, &mut host, &in_ddr)?;
                    // The correction runs over the GEMM's rows: the stored order.
                    let (mut stored, slot) = self.read_stored(&o.output)?;
                    correct_zero_points(layer, a.as_ints().map_err(input_error)?, &mut stored)
                        .map_err(|m| op_error(program, *op, m))?;
                    host.insert(o.output.clone(), Value::ints(slot.layout.to_logical(&stored), slot.shape.clone()));
                    in_ddr.remove(&o.output);
                    stats.host_steps += 1;
                    stats.host_time += started.elapsed();
                }
            }
        }
        program.outputs.iter().map(|name| Ok((name.clone(), self.host_value(name, &mut host, &in_ddr)?))).collect()
    }

    /// A value on the host: computed there, read back from its DDR slot, or a constant.
    fn host_value(
        &self,
        name: &str,
        host: &mut HashMap<String, Value>,
        in_ddr: &HashSet<String>,
    ) -> Result<Value, RunError> {
        if let Some(v) = host.get(name) {
            return Ok(v.clone());
        }
        if in_ddr.contains(name) {
            let value = self.read_value(name)?;
            host.insert(name.to_string(), value.clone());
            return Ok(value);
        }
        let c = self.model.program.constants.get(name);
        let c = c.ok_or_else(|| input_error(format!("value `{name}` is not computed")))?;
        Ok(Value::ints(c.values.clone(), c.shape.clone()))
    }

    fn slot(&self, name: &str) -> Result<&'m Slot, RunError> {
        self.model.slots.get(name).ok_or_else(|| input_error(format!("value `{name}` has no DDR slot")))
    }

    /// Writes a host value into its slot, in the slot's layout and type.
    fn write_value(&mut self, name: &str, value: &Value) -> Result<(), RunError> {
        let slot = self.slot(name)?;
        let ints = value.as_ints().map_err(|e| input_error(format!("value `{name}`: {e}")))?;
        if ints.len() as u64 * elem_bytes(slot.dtype) != slot.value_bytes() {
            return Err(input_error(format!(
                "value `{name}` has {} elements; its slot holds {:?}",
                ints.len(),
                slot.shape
            )));
        }
        let stored = slot.layout.to_storage(ints);
        let bytes: Vec<u8> = match slot.dtype {
            ElemType::I32 => stored.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect(),
            // Two's complement low bytes: the same bits for int8 and uint8 values.
            _ => stored.iter().map(|&v| v as u8).collect(),
        };
        self.session.write_dram(slot.offset, &bytes)?;
        Ok(())
    }

    /// Reads a value from its slot into its logical layout.
    fn read_value(&self, name: &str) -> Result<Value, RunError> {
        let (stored, slot) = self.read_stored(name)?;
        Ok(Value::ints(slot.layout.to_logical(&stored), slot.shape.clone()))
    }

    /// A value's elements in its slot's order, and the slot.
    fn read_stored(&self, name: &str) -> Result<(Vec<i64>, &'m Slot), RunError> {
        let slot = self.slot(name)?;
        let bytes = self.session.read_dram(slot.offset, slot.value_bytes() as usize)?;
        let stored: Vec<i64> = match slot.dtype {
            ElemType::I32 => {
                bytes.chunks_exact(4).map(|c| i64::from(i32::from_le_bytes(c.try_into().expect("4")))).collect()
            }
            ElemType::U8 => bytes.iter().map(|&b| i64::from(b)).collect(),
            _ => bytes.iter().map(|&b| i64::from(b as i8)).collect(),
        };
        Ok((stored, slot))
    }
}

fn elem_bytes(dtype: ElemType) -> u64 {
    if dtype == ElemType::I32 {
        4
    } else {
        1
    }
}

fn input_error(message: impl Into<String>) -> RunError {
    RunError::Input(message.into())
}

fn op_error(program: &Program, op: usize, message: String) -> RunError {
    let o = &program.ops[op];
    RunError::Op { node: o.node.clone(), source_op: o.source.clone(), message }
}

/// The inputs with the batch as their first dimension, checked against the graph's.
fn shape_inputs(program: &Program, inputs: &[Tensor]) -> Result<Vec<Tensor>, RunError> {
    if inputs.len() != program.inputs.len() {
        let names: Vec<String> = program.inputs.iter().map(|i| format!("`{}`", i.name)).collect();
        return Err(input_error(format!(
            "the model has {} input(s) ({}); {} given",
            program.inputs.len(),
            names.join(", "),
            inputs.len()
        )));
    }
    let shaped: Vec<Tensor> = program
        .inputs
        .iter()
        .zip(inputs)
        .map(|(declared, t)| {
            let shape =
                declared.batch_shape(&t.shape).map_err(|e| input_error(format!("input `{}`: {e}", declared.name)))?;
            let fits = match (&t.data, declared.dtype) {
                (TensorData::Float(_), ElemType::F32) => true,
                (TensorData::Int(v), d) => {
                    d.int_range().is_some_and(|(lo, hi)| v.iter().all(|x| (lo..=hi).contains(x)))
                }
                _ => false,
            };
            if !fits {
                return Err(input_error(format!(
                    "input `{}` must be {} values, the file holds {}",
                    declared.name, declared.dtype, t.dtype
                )));
            }
            Ok(Tensor { shape, ..t.clone() })
        })
        .collect::<Result<_, _>>()?;
    let samples_of = |t: &Tensor, declared: &ProgramInput| t.shape.first().map_or(0, |&n| n / declared.sample_rows());
    let samples = shaped.first().zip(program.inputs.first()).map_or(0, |(t, declared)| samples_of(t, declared));
    if samples == 0 {
        return Err(input_error("the input has no samples"));
    }
    if shaped.iter().zip(&program.inputs).any(|(t, declared)| samples_of(t, declared) != samples) {
        return Err(input_error("every input must have the same number of samples"));
    }
    Ok(shaped)
}

/// Samples `start .. start + count` of `t` (first dimension), repeating the last
/// sample where `t` has fewer.
fn sample_rows(t: &Tensor, start: usize, count: usize) -> Value {
    let width: usize = t.shape.iter().skip(1).product();
    let last = t.shape[0] - 1;
    let rows = (start..start + count).map(|r| r.min(last));
    let values = match &t.data {
        TensorData::Float(v) => TensorData::Float(rows.flat_map(|r| v[r * width..(r + 1) * width].to_vec()).collect()),
        TensorData::Int(v) => TensorData::Int(rows.flat_map(|r| v[r * width..(r + 1) * width].to_vec()).collect()),
    };
    let mut shape = t.shape.clone();
    shape[0] = count;
    Value { values, shape }
}

/// Appends the first `keep` of the `batch` samples of one run's outputs to the
/// outputs so far (a sample may span several rows of an output's first dimension).
fn merge_outputs(all: &mut Vec<(String, Value)>, run: Vec<(String, Value)>, keep: usize, batch: usize) {
    for (i, (name, mut value)) in run.into_iter().enumerate() {
        let width = value.width();
        let rows = value.shape.first().map_or(keep, |&r| r / batch.max(1) * keep);
        match &mut value.values {
            TensorData::Float(v) => v.truncate(rows * width),
            TensorData::Int(v) => v.truncate(rows * width),
        }
        if let Some(first) = value.shape.first_mut() {
            *first = rows;
        }
        match all.get_mut(i) {
            None => all.push((name, value)),
            Some((_, acc)) => {
                acc.shape[0] += rows;
                match (&mut acc.values, value.values) {
                    (TensorData::Float(x), TensorData::Float(y)) => x.extend(y),
                    (TensorData::Int(x), TensorData::Int(y)) => x.extend(y),
                    _ => unreachable!("an output keeps its type"),
                }
            }
        }
    }
}
