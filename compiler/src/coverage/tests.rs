//! The coverage table against the docs and against the importers' dispatch.

use super::{markdown, Format, COVERAGE};
use crate::onnx::proto::{
    tensor_proto::DataType, tensor_shape_proto::dimension::Value as Dim, tensor_shape_proto::Dimension, type_proto,
    GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::tflite::schema_generated::tflite as fb;
use prost::Message;

/// The words both importers' dispatch uses for an operator they have no lowering for.
const REFUSED: &str = "no accelerator or host lowering";

const BEGIN: &str = "<!-- coverage:begin (generated from compiler/src/coverage.rs; TESSERA_BLESS=1 rewrites it) -->\n";
const END: &str = "<!-- coverage:end -->";

#[test]
fn the_docs_table_is_the_generated_one() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/compiler.md");
    let docs = std::fs::read_to_string(&path).unwrap();
    let start = docs.find(BEGIN).map(|i| i + BEGIN.len()).expect("docs/compiler.md has the coverage markers");
    let end = start + docs[start..].find(END).expect("the coverage table ends with its marker");
    let table = markdown();
    if std::env::var_os("TESSERA_BLESS").is_some() {
        std::fs::write(&path, format!("{}{table}{}", &docs[..start], &docs[end..])).unwrap();
        return;
    }
    assert_eq!(&docs[start..end], table, "docs/compiler.md's coverage table is stale: rerun with TESSERA_BLESS=1");
}

/// An `[1, 4, 4, 4]` tensor, int8 at scale 0.5, or float32.
fn tflite_tensor<'a>(
    b: &mut flatbuffers::FlatBufferBuilder<'a>,
    name: &str,
    float: bool,
) -> flatbuffers::WIPOffset<fb::Tensor<'a>> {
    let shape = b.create_vector(&[1, 4, 4, 4]);
    let name = b.create_string(name);
    let quantization = (!float).then(|| {
        let (scale, zero) = (b.create_vector(&[0.5f32]), b.create_vector(&[0i64]));
        fb::QuantizationParameters::create(
            b,
            &fb::QuantizationParametersArgs { scale: Some(scale), zero_point: Some(zero), ..Default::default() },
        )
    });
    let type_ = if float { fb::TensorType::FLOAT32 } else { fb::TensorType::INT8 };
    fb::Tensor::create(
        b,
        &fb::TensorArgs { shape: Some(shape), type_, name: Some(name), quantization, ..Default::default() },
    )
}

/// A one-operator TFLite model: `inputs` int8 `[1, 4, 4, 4]` tensors into `code`,
/// whose one output is float32 or int8.
fn tflite_probe(code: fb::BuiltinOperator, inputs: usize, input_float: bool, output_float: bool) -> Vec<u8> {
    let mut b = flatbuffers::FlatBufferBuilder::new();
    let mut tensors: Vec<_> = (0..inputs).map(|i| tflite_tensor(&mut b, &format!("x{i}"), input_float)).collect();
    tensors.push(tflite_tensor(&mut b, "y", output_float));
    let tensors = b.create_vector(&tensors);
    let input_ids: Vec<i32> = (0..inputs as i32).collect();
    let (op_inputs, op_outputs) = (b.create_vector(&input_ids), b.create_vector(&[inputs as i32]));
    let operator = fb::Operator::create(
        &mut b,
        &fb::OperatorArgs { inputs: Some(op_inputs), outputs: Some(op_outputs), ..Default::default() },
    );
    let operators = b.create_vector(&[operator]);
    let (sg_inputs, sg_outputs) = (b.create_vector(&input_ids), b.create_vector(&[inputs as i32]));
    let subgraph = fb::SubGraph::create(
        &mut b,
        &fb::SubGraphArgs {
            tensors: Some(tensors),
            inputs: Some(sg_inputs),
            outputs: Some(sg_outputs),
            operators: Some(operators),
            name: None,
        },
    );
    let subgraphs = b.create_vector(&[subgraph]);
    let deprecated = i8::try_from(code.0).unwrap_or(127);
    let opcode = fb::OperatorCode::create(
        &mut b,
        &fb::OperatorCodeArgs {
            builtin_code: code,
            deprecated_builtin_code: deprecated,
            version: 1,
            custom_code: None,
        },
    );
    let codes = b.create_vector(&[opcode]);
    let empty = fb::Buffer::create(&mut b, &fb::BufferArgs::default());
    let buffers = b.create_vector(&[empty]);
    let model = fb::Model::create(
        &mut b,
        &fb::ModelArgs {
            version: 3,
            operator_codes: Some(codes),
            subgraphs: Some(subgraphs),
            buffers: Some(buffers),
            description: None,
        },
    );
    fb::finish_model_buffer(&mut b, model);
    b.finished_data().to_vec()
}

/// Whether the TFLite importer's dispatch lowers `code` (some probe gets past it).
fn tflite_dispatches(code: fb::BuiltinOperator) -> bool {
    let probes = [(1, false, false), (2, false, false), (1, false, true), (1, true, false), (3, false, false)];
    probes.iter().any(|&(inputs, input_float, output_float)| {
        match crate::tflite::lower_model(&tflite_probe(code, inputs, input_float, output_float)) {
            Ok(_) => true,
            // Float values are refused before the dispatch (except by QUANTIZE).
            Err(e) => !e.contains(REFUSED) && !e.contains("computes on the float value"),
        }
    })
}

#[test]
fn every_listed_tflite_operator_is_lowered_and_every_other_one_refused() {
    let mut wrong = Vec::new();
    for code in fb::BuiltinOperator::ENUM_VALUES.iter().copied() {
        let Some(name) = code.variant_name() else { continue };
        let listed = COVERAGE.iter().any(|c| c.format == Format::Tflite && c.op == name);
        if listed != tflite_dispatches(code) {
            wrong.push(format!("{name} (listed: {listed})"));
        }
    }
    assert!(wrong.is_empty(), "coverage.rs disagrees with the TFLite importer on: {}", wrong.join(", "));
}

fn value(name: &str, dtype: DataType) -> ValueInfoProto {
    let dim = |d| Dimension { value: Some(Dim::DimValue(d)), ..Default::default() };
    let shape = TensorShapeProto { dim: [1, 4, 4, 4].into_iter().map(dim).collect() };
    let tensor = type_proto::Tensor { elem_type: Some(dtype as i32), shape: Some(shape) };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)), ..Default::default() }),
        ..Default::default()
    }
}

fn scalar(name: &str, dtype: DataType, raw: Vec<u8>) -> TensorProto {
    TensorProto { name: Some(name.into()), data_type: Some(dtype as i32), raw_data: Some(raw), ..Default::default() }
}

fn node(op: &str, domain: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        domain: Some(domain.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

/// A one-operator ONNX model: two int8 `[1, 4, 4, 4]` inputs into `op`, dequantized
/// before and quantized after it for the QDQ form, given directly otherwise (a QLinear
/// operator's scales and zero points interleaved with them).
fn onnx_probe(op: &str, domain: &str, format: Format) -> Vec<u8> {
    let mut nodes = Vec::new();
    let initializer =
        vec![scalar("s", DataType::Float, 0.5f32.to_le_bytes().to_vec()), scalar("z", DataType::Int8, vec![0])];
    let output_type = if op == "DequantizeLinear" { DataType::Float } else { DataType::Int8 };
    let input_type = if op == "QuantizeLinear" { DataType::Float } else { DataType::Int8 };
    match (format, op) {
        (Format::OnnxQdq, "QuantizeLinear" | "DequantizeLinear") => nodes.push(node(op, domain, &["a", "s", "z"], "y")),
        (Format::OnnxQdq, _) => {
            nodes.push(node("DequantizeLinear", "", &["a", "s", "z"], "fa"));
            nodes.push(node("DequantizeLinear", "", &["b", "s", "z"], "fb"));
            nodes.push(node(op, domain, &["fa", "fb"], "fy"));
            nodes.push(node("QuantizeLinear", "", &["fy", "s", "z"], "y"));
        }
        _ if op.starts_with("QLinear") || domain == "com.microsoft" => {
            nodes.push(node(op, domain, &["a", "s", "z", "b", "s", "z", "s", "z"], "y"))
        }
        _ => nodes.push(node(op, domain, &["a", "b"], "y")),
    }
    let graph = GraphProto {
        name: Some("probe".into()),
        node: nodes,
        initializer,
        input: vec![value("a", input_type), value("b", DataType::Int8)],
        output: vec![value("y", output_type)],
        ..Default::default()
    };
    let opsets = ["", "com.microsoft"]
        .map(|d| OperatorSetIdProto { domain: Some(d.into()), version: Some(if d.is_empty() { 17 } else { 1 }) });
    ModelProto { ir_version: Some(8), opset_import: opsets.to_vec(), graph: Some(graph), ..Default::default() }
        .encode_to_vec()
}

fn onnx_dispatches(op: &str, domain: &str, format: Format) -> bool {
    let graph = match crate::onnx::import_bytes(&onnx_probe(op, domain, format)) {
        Ok(graph) => graph,
        Err(e) => return !e.contains(REFUSED),
    };
    match crate::lower::lower_graph(&graph) {
        Ok(_) => true,
        Err(e) => !e.contains(REFUSED),
    }
}

/// ONNX operators real quantized models contain that no row lists: each must be
/// refused by name (a sample; the TFLite test covers its whole enumeration).
const ONNX_UNLISTED: &[&str] = &["LSTM", "GRU", "RNN", "NonMaxSuppression", "TopK", "Loop", "If", "Scan", "Einsum"];

#[test]
fn every_listed_onnx_operator_is_lowered() {
    let wrong: Vec<String> = COVERAGE
        .iter()
        .filter(|c| c.format != Format::Tflite && !onnx_dispatches(c.op, c.domain, c.format))
        .map(|c| format!("{} ({:?})", c.op, c.format))
        .collect();
    assert!(wrong.is_empty(), "listed in coverage.rs but refused by the ONNX lowering: {}", wrong.join(", "));
    for op in ONNX_UNLISTED {
        assert!(!COVERAGE.iter().any(|c| c.op == *op), "{op} is listed");
        for format in [Format::OnnxQdq, Format::OnnxQop] {
            assert!(!onnx_dispatches(op, "", format), "{op} ({format:?}) is lowered but not listed");
        }
    }
}
