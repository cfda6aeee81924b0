//! Lowering of an imported graph to a [`Program`]: every node, in the file's
//! topological order, becomes an accelerator layer, a host operation, or part of
//! one (the `DequantizeLinear`s and `QuantizeLinear` around a QDQ-form compute node
//! fuse into it). Graphs may branch (residual adds read a value twice).
//!
//! Recognised forms, as onnxruntime's `quantize_static` writes them:
//! - QDQ: `Q(op(DQ(x), DQ(w) ...))` for `MatMul`, `Gemm`, `Conv` (accelerator) and
//!   `Add`, `Mul`, `Sub`, `Div`, `Relu`, `MaxPool`, `AveragePool`, `ConvTranspose`, `Flatten`, `Reshape`, `GlobalAveragePool`, spatial
//!   `ReduceMean` (host, in float32 between the dequantized inputs and the output
//!   quantization, as the reference computes it); `Sigmoid`, `Tanh`, `HardSigmoid`,
//!   `HardSwish`, `LeakyRelu` as byte tables (accelerator);
//! - QOperator: `QLinearMatMul`, `MatMulInteger`, `QLinearConv`, `ConvInteger`,
//!   `com.microsoft.QGemm`, `com.microsoft.QLinearSigmoid` / `QLinearLeakyRelu`
//!   (byte tables) (accelerator), `com.microsoft.QLinearAdd` / `QLinearMul`,
//!   `com.microsoft.QLinearGlobalAveragePool`, `com.microsoft.QLinearAveragePool`, and `MaxPool`,
//!   `Flatten`, `Reshape`, `Relu` directly on integers (host);
//! - `QuantizeLinear` of a float value and `DequantizeLinear` to a graph output.
//!
//! Constant subgraphs (shape arithmetic) fold at compile time ([`fold`]).
//!
//! Anything else is reported by node name and op.

mod fold;
mod host;
mod layers;
mod movement;
mod params;
mod pool;
mod unary;

use crate::graph::{Graph, Node};
use crate::program::{Affine, ConstValue, HostArith, HostOp, Op, OpKind, Program, ProgramInput};
use crate::tensor::ElemType;
use params::{affine, boundary_quant, node_error};
use std::collections::{BTreeSet, HashMap};

/// The program of `g`: its constant subgraphs folded, each `Shape` folded once the
/// lowering knows its input's shape (the lowering then starts again on the graph with
/// that constant).
pub fn lower_graph(g: &Graph) -> Result<Program, String> {
    let mut g = std::borrow::Cow::Borrowed(g);
    if fold::any(&g) {
        fold::fold(g.to_mut())?;
    }
    loop {
        match lower_once(&g)? {
            Lowered::Program(program) => return Ok(program),
            Lowered::Shape { value, shape } => {
                let g = g.to_mut();
                g.nodes.retain(|n| !n.outputs.contains(&value));
                g.constants.insert(value, shape);
                fold::fold(g)?;
            }
        }
    }
}

/// A lowering's end: the program, or the value of a `Shape` node to fold first.
enum Lowered {
    Program(Program),
    Shape { value: String, shape: crate::tensor::Tensor },
}

fn lower_once(g: &Graph) -> Result<Lowered, String> {
    let mut lowering = Lowering { g, program: Program::default(), types: HashMap::new(), fused: BTreeSet::new() };
    for input in &g.inputs {
        let dtype = input.dtype.ok_or_else(|| format!("graph input `{}` has no element type", input.name))?;
        lowering.types.insert(input.name.clone(), dtype);
        lowering.program.inputs.push(ProgramInput { name: input.name.clone(), dtype, shape: input.shape.clone() });
    }
    for node in &g.nodes {
        if node.op == "Shape" && (node.domain.is_empty() || node.domain == "ai.onnx") {
            let (Some(input), Some(output)) = (node.inputs.first(), node.outputs.first()) else {
                return Err(node_error(node, "needs an input and an output"));
            };
            let shape = lowering.shape_of(node, input)?;
            return Ok(Lowered::Shape { value: output.clone(), shape: fold::shape_constant(node, &shape) });
        }
        lowering.node(node)?;
    }
    for output in &g.outputs {
        if !lowering.types.contains_key(&output.name) {
            return Err(format!("graph output `{}` is not computed", output.name));
        }
        lowering.program.outputs.push(output.name.clone());
    }
    Ok(Lowered::Program(lowering.program))
}

struct Lowering<'g> {
    g: &'g Graph,
    program: Program,
    /// The element type of every value computed so far.
    types: HashMap<String, ElemType>,
    /// Nodes already lowered as part of another (the `QuantizeLinear` after a QDQ
    /// compute node).
    fused: BTreeSet<String>,
}

/// Compute nodes of the QDQ form that the lowering fuses with their Q/DQ neighbours.
const QDQ_OPS: [&str; 15] = [
    "MatMul",
    "Gemm",
    "Conv",
    "ConvTranspose",
    "Add",
    "Mul",
    "Sub",
    "Div",
    "Relu",
    "MaxPool",
    "AveragePool",
    "Flatten",
    "Reshape",
    "GlobalAveragePool",
    "ReduceMean",
];

impl<'g> Lowering<'g> {
    fn node(&mut self, node: &'g Node) -> Result<(), String> {
        if self.fused.contains(&node.name) {
            return Ok(());
        }
        let g = self.g;
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        if node.op != "Constant" && (node.inputs.first().is_none_or(String::is_empty) || node.outputs.is_empty()) {
            return Err(node_error(node, "needs an input and an output"));
        }
        match (standard, node.op.as_str()) {
            // Folded into constants by the importer.
            (true, "Constant") => Ok(()),
            (true, "QuantizeLinear") => {
                let input = &node.inputs[0];
                if self.type_of(node, input)? != ElemType::F32 {
                    return Err(node_error(node, "quantizes a value that is not float32"));
                }
                let quant = boundary_quant(g, node)?;
                let dtype = quant.dtype;
                self.push(node, "QuantizeLinear", vec![input.clone()], dtype, OpKind::Quantize(quant));
                Ok(())
            }
            (true, "DequantizeLinear") => {
                // Weights and biases: their consumers read them as constants. Values
                // whose consumers are all QDQ compute nodes: those fuse them.
                let input = &node.inputs[0];
                if g.constant(input).is_some() || !self.needs_float(&node.outputs[0]) {
                    return Ok(());
                }
                self.type_of(node, input)?;
                let quant = boundary_quant(g, node)?;
                self.push(node, "DequantizeLinear", vec![input.clone()], ElemType::F32, OpKind::Dequantize(quant));
                Ok(())
            }
            (true, op)
                if (QDQ_OPS.contains(&op) || unary::QDQ_UNARY.contains(&op))
                    && self.dequantized(&node.inputs[0]).is_some() =>
            {
                self.qdq(node)
            }
            (false, "QLinearSigmoid" | "QLinearLeakyRelu") if node.domain == "com.microsoft" => {
                let table = unary::qlinear(g, node)?;
                self.type_of(node, &node.inputs[0])?;
                let (source, dtype) = (node.qualified_op(), table.out.dtype);
                self.push(node, &source, vec![node.inputs[0].clone()], dtype, OpKind::ByteTable(table));
                Ok(())
            }
            (true, op) if movement::OPS.contains(&op) => self.movement(node),
            (false, "QLinearConcat") if node.domain == "com.microsoft" => {
                let (inputs, quants, out) = movement::qlinear_concat(g, node)?;
                for name in &inputs {
                    self.type_of(node, name)?;
                }
                let m = movement::movement(g, node, 0, |_| 0)?;
                self.push_move(node, &node.qualified_op(), inputs, &node.outputs[0], out.dtype, m, HostArith::Requant { inputs: quants, out });
                Ok(())
            }
            (true, "QLinearMatMul") => self.layer(node, layers::qlinear_matmul(g, node)?),
            (true, "MatMulInteger") => {
                let a_type = self.type_of(node, &node.inputs[0])?;
                self.layer(node, layers::matmul_integer(g, node, a_type)?)
            }
            (true, "QLinearConv" | "ConvInteger") => {
                let a_type = self.type_of(node, &node.inputs[0])?;
                self.layer(node, layers::conv(g, node, a_type, None)?)
            }
            (false, "QGemm") if node.domain == "com.microsoft" => self.layer(node, layers::qgemm(g, node)?),
            (false, "QLinearGlobalAveragePool") if node.domain == "com.microsoft" => {
                let mean = host::qlinear_global_average_pool(g, node)?;
                self.type_of(node, &node.inputs[0])?;
                let source = node.qualified_op();
                self.push(node, &source, vec![node.inputs[0].clone()], mean.out.dtype, OpKind::SpatialMean(mean));
                Ok(())
            }
            (false, "QLinearAveragePool") if node.domain == "com.microsoft" => {
                self.type_of(node, &node.inputs[0])?;
                self.host(node, vec![node.inputs[0].clone()], host::qlinear_average_pool(g, node)?)
            }
            (false, op @ ("QLinearAdd" | "QLinearMul")) if node.domain == "com.microsoft" => {
                let (inputs, arith) = host::qlinear_add(g, node)?;
                let op = if op == "QLinearAdd" { crate::program::HostOp::Add } else { crate::program::HostOp::Mul };
                self.host(node, inputs, host::HostNode { op, arith })
            }
            (true, "MatMul" | "Gemm" | "Conv" | "Add") => Err(node_error(
                node,
                format!(
                    "its input `{}` is not dequantized: float layers are not supported; quantize the model (e.g. onnxruntime quantize_static)",
                    node.inputs[0]
                ),
            )),
            (true, "MaxPool" | "Flatten" | "Reshape" | "Relu") => {
                let dtype = self.type_of(node, &node.inputs[0])?;
                if !matches!(dtype, ElemType::I8 | ElemType::U8) {
                    return Err(node_error(node, format!("runs on {dtype} values; int8 and uint8 are supported")));
                }
                let op = host::host_op(g, node)?;
                self.host(node, vec![node.inputs[0].clone()], host::HostNode { op, arith: crate::program::HostArith::Integer { clamp: None } })
            }
            _ => Err(node_error(node, "not supported (no accelerator or host lowering for this op)")),
        }
    }

    /// A QDQ compute node: reads the integer values behind its `DequantizeLinear`
    /// inputs, writes the output of the one `QuantizeLinear` that follows it.
    fn qdq(&mut self, node: &'g Node) -> Result<(), String> {
        let g = self.g;
        let consumers = g.consumers(&node.outputs[0]);
        let quantize = match consumers.as_slice() {
            [q] if q.op == "QuantizeLinear" && !g.outputs.iter().any(|o| o.name == node.outputs[0]) => *q,
            _ => return Err(node_error(node, "its float output must feed exactly one QuantizeLinear")),
        };
        let out = affine(g, quantize)?;
        let a_dq = self.dequantized(&node.inputs[0]).expect("checked by the caller");
        let a = affine(g, a_dq)?;
        let x = a_dq.inputs[0].clone();
        self.type_of(node, &x)?;
        let output = quantize.outputs[0].clone();
        let (inputs, kind) = match node.op.as_str() {
            "MatMul" | "Gemm" => (vec![x], layers::qdq_product(g, node, a, out)?),
            "Conv" => (vec![x], layers::conv(g, node, a.dtype, Some((a, out)))?),
            "ConvTranspose" => {
                let (conv, spread) = layers::conv_transpose(g, node, a, out)?;
                (vec![self.spread(node, x, a, spread)], conv)
            }
            "GlobalAveragePool" | "ReduceMean" => {
                (vec![x], OpKind::SpatialMean(host::qdq_spatial_mean(g, node, a, out)?))
            }
            op if unary::QDQ_UNARY.contains(&op) => (vec![x], OpKind::ByteTable(unary::qdq(node, a, out)?)),
            _ => {
                let (inputs, quants) = self.qdq_host_inputs(node)?;
                let op = host::host_op(g, node)?;
                let arith = host::requant(node, quants, out)?;
                let kind = OpKind::Host { op, arith };
                (inputs, kind)
            }
        };
        self.fused.insert(quantize.name.clone());
        self.push_to(node, &format!("{} (QDQ)", node.op), inputs, &output, out.dtype, kind);
        Ok(())
    }

    /// `x` spread `factors` apart with its zero point between the pixels (a transposed
    /// convolution's input): a host operation when a factor exceeds 1.
    fn spread(&mut self, node: &Node, x: String, a: Affine, factors: [usize; 2]) -> String {
        if factors == [1, 1] {
            return x;
        }
        let output = format!("{}/spread", node.name);
        let op = crate::program::HostOp::Dilate { factors, fill: a.zero, channels_last: false };
        let kind = OpKind::Host { op, arith: crate::program::HostArith::Integer { clamp: None } };
        self.push_to(node, &format!("{} (QDQ)", node.op), vec![x], &output, a.dtype, kind);
        output
    }

    /// The quantized inputs of a QDQ host node (`Add` reads two, the rest one; a
    /// `Reshape`'s shape is a constant attribute-like input): each a value or an
    /// integer constant, with its parameters.
    fn qdq_host_inputs(&mut self, node: &Node) -> Result<(Vec<String>, Vec<Affine>), String> {
        let count = if matches!(node.op.as_str(), "Add" | "Mul" | "Sub" | "Div") { 2 } else { 1 };
        let mut inputs = Vec::new();
        let mut quants = Vec::new();
        for name in &node.inputs[..count] {
            let dq = self
                .g
                .producer(name)
                .filter(|p| p.op == "DequantizeLinear")
                .ok_or_else(|| node_error(node, format!("input `{name}` must come from DequantizeLinear")))?;
            let source = dq.inputs[0].clone();
            if self.keep_constant(dq, &source)?.is_none() {
                self.type_of(node, &source)?;
            }
            quants.push(affine(self.g, dq)?);
            inputs.push(source);
        }
        Ok((inputs, quants))
    }

    /// If `name` is a constant, keeps its integer values for the program (a host op's
    /// operand read by `reader`) and returns its type.
    fn keep_constant(&mut self, reader: &Node, name: &str) -> Result<Option<ElemType>, String> {
        let Some(t) = self.g.constant(name) else { return Ok(None) };
        let values = t.ints().ok_or_else(|| node_error(reader, format!("constant `{name}` must be integer")))?;
        self.program.constants.insert(name.to_string(), ConstValue { shape: t.shape.clone(), values: values.to_vec() });
        Ok(Some(t.dtype))
    }

    /// The `DequantizeLinear` of a non-constant value that produces `value`.
    fn dequantized(&self, value: &str) -> Option<&'g Node> {
        self.g.producer(value).filter(|p| p.op == "DequantizeLinear" && self.g.constant(&p.inputs[0]).is_none())
    }

    /// Whether a dequantized value is needed as a float (a graph output, or read by
    /// something other than a fusing QDQ compute node).
    fn needs_float(&self, value: &str) -> bool {
        self.g.outputs.iter().any(|o| o.name == value)
            || self.g.consumers(value).iter().any(|c| {
                let op = c.op.as_str();
                !QDQ_OPS.contains(&op) && !unary::QDQ_UNARY.contains(&op) && !movement::OPS.contains(&op)
            })
    }

    /// The shape of `value` (one sample), from the operations lowered so far: a graph
    /// input, a constant, a computed value, or the `DequantizeLinear` of one.
    fn shape_of(&self, node: &Node, value: &str) -> Result<Vec<usize>, String> {
        let mut shapes: HashMap<&str, Vec<usize>> = HashMap::new();
        for input in &self.program.inputs {
            shapes.insert(&input.name, input.with_batch(1).map_err(|e| node_error(node, e))?);
        }
        for (name, c) in &self.g.constants {
            shapes.insert(name, c.shape.clone());
        }
        for op in &self.program.ops {
            let ins: Option<Vec<&[usize]>> =
                op.inputs.iter().map(|i| shapes.get(i.as_str()).map(Vec::as_slice)).collect();
            let ins =
                ins.ok_or_else(|| node_error(node, format!("the shape of `{}`'s inputs is unknown", op.output)))?;
            let shape = crate::plan::out_shape(op, &ins).map_err(|e| node_error(node, e))?;
            shapes.insert(&op.output, shape);
        }
        let mut value = value;
        loop {
            if let Some(shape) = shapes.get(value) {
                return Ok(shape.clone());
            }
            match self.g.producer(value) {
                Some(p) if p.op == "DequantizeLinear" => value = &p.inputs[0],
                _ => return Err(node_error(node, format!("the shape of `{value}` is not known at compile time"))),
            }
        }
    }

    fn type_of(&self, node: &Node, value: &str) -> Result<ElemType, String> {
        if let Some(t) = self.types.get(value) {
            return Ok(*t);
        }
        if let Some(c) = self.g.constant(value) {
            return Ok(c.dtype);
        }
        Err(node_error(node, format!("input `{value}` is not computed by a supported op")))
    }

    fn layer(&mut self, node: &Node, kind: OpKind) -> Result<(), String> {
        let out_type = match &kind {
            OpKind::Depthwise(d) => d.out.dtype,
            _ => kind.layer().ok_or_else(|| node_error(node, "lowers to no layer"))?.out_type(),
        };
        self.type_of(node, &node.inputs[0])?;
        self.push(node, &node.qualified_op(), vec![node.inputs[0].clone()], out_type, kind);
        Ok(())
    }

    fn host(&mut self, node: &Node, inputs: Vec<String>, host: host::HostNode) -> Result<(), String> {
        let mut out_type = None;
        for name in &inputs {
            match self.keep_constant(node, name)? {
                Some(dtype) => out_type = out_type.or(Some(dtype)),
                None => out_type = Some(self.type_of(node, name)?),
            }
        }
        let out_type = match &host.arith {
            crate::program::HostArith::Requant { out, .. } => out.dtype,
            crate::program::HostArith::Integer { .. } | crate::program::HostArith::TfliteAdd { .. } => {
                out_type.expect("host ops have an input")
            }
        };
        let kind = OpKind::Host { op: host.op, arith: host.arith };
        self.push(node, &node.qualified_op(), inputs, out_type, kind);
        Ok(())
    }

    /// A data-movement node ([`movement`]): the QDQ form (its data inputs dequantized,
    /// each output quantized by one `QuantizeLinear`) or directly on integers.
    fn movement(&mut self, node: &'g Node) -> Result<(), String> {
        let g = self.g;
        let data = &node.inputs[..movement::data_inputs(node).min(node.inputs.len())];
        let dq: Vec<Option<&'g Node>> = data.iter().map(|i| self.dequantized(i)).collect();
        let arg = matches!(node.op.as_str(), "ArgMax" | "ArgMin");
        let outputs: Vec<(usize, &String)> = match node.op.as_str() {
            "Split" => node.outputs.iter().enumerate().filter(|(_, o)| !o.is_empty()).collect(),
            _ => vec![(0, &node.outputs[0])],
        };
        if dq.iter().any(Option::is_some) && !arg {
            let mut inputs = Vec::new();
            let mut quants = Vec::new();
            for (name, d) in data.iter().zip(&dq) {
                let d = d.ok_or_else(|| node_error(node, format!("input `{name}` must come from DequantizeLinear")))?;
                quants.push(affine(g, d)?);
                self.type_of(node, &d.inputs[0])?;
                inputs.push(d.inputs[0].clone());
            }
            for (index, output) in outputs {
                let quantize = match g.consumers(output).as_slice() {
                    [q] if q.op == "QuantizeLinear" && !g.outputs.iter().any(|o| &o.name == output) => *q,
                    _ => {
                        return Err(node_error(
                            node,
                            format!("its float output `{output}` must feed exactly one QuantizeLinear"),
                        ))
                    }
                };
                let out = affine(g, quantize)?;
                let arith = host::requant(node, quants.clone(), out)?;
                let m = movement::movement(g, node, index, movement::quantized_fill(out))?;
                self.fused.insert(quantize.name.clone());
                let source = format!("{} (QDQ)", node.op);
                self.push_move(node, &source, inputs.clone(), &quantize.outputs[0], out.dtype, m, arith);
            }
            return Ok(());
        }
        let mut inputs = Vec::new();
        let mut dtype = None;
        for (name, d) in data.iter().zip(&dq) {
            // ArgMax of dequantized values is ArgMax of the integers (positive scale).
            let name = d.map_or(name.clone(), |d| d.inputs[0].clone());
            let t = match self.keep_constant(node, &name)? {
                Some(t) => t,
                None => self.type_of(node, &name)?,
            };
            if !matches!(t, ElemType::I8 | ElemType::U8) {
                return Err(node_error(node, format!("runs on {t} values; int8 and uint8 are supported")));
            }
            dtype = dtype.or(Some(t));
            inputs.push(name);
        }
        let dtype = dtype.ok_or_else(|| node_error(node, "needs an input"))?;
        let out_type = if arg { ElemType::I64 } else { dtype };
        for (index, output) in outputs {
            let m = movement::movement(g, node, index, |v| v as i64)?;
            let arith = HostArith::Integer { clamp: None };
            self.push_move(node, &node.qualified_op(), inputs.clone(), output, out_type, m, arith);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn push_move(
        &mut self,
        node: &Node,
        source: &str,
        inputs: Vec<String>,
        output: &str,
        out_type: ElemType,
        m: crate::movement::Movement,
        arith: HostArith,
    ) {
        self.push_to(node, source, inputs, output, out_type, OpKind::Host { op: HostOp::Move(m), arith });
    }

    /// `kind` on `inputs` writing `node`'s (first) output.
    fn push(&mut self, node: &Node, source: &str, inputs: Vec<String>, out_type: ElemType, kind: OpKind) {
        let output = node.outputs[0].clone();
        self.push_to(node, source, inputs, &output, out_type, kind);
    }

    /// `kind` on `inputs` writing `output` (one of `node`'s outputs, or a value of its
    /// own between two operations `node` lowers to), of type `out_type`.
    fn push_to(
        &mut self,
        node: &Node,
        source: &str,
        inputs: Vec<String>,
        output: &str,
        out_type: ElemType,
        kind: OpKind,
    ) {
        self.types.insert(output.to_string(), out_type);
        self.program.ops.push(Op {
            node: node.name.clone(),
            source: source.to_string(),
            inputs,
            output: output.to_string(),
            out_type,
            kind,
        });
    }
}
