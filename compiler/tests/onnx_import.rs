//! ONNX import on hand-built models: structure, constants and the error messages.

use prost::Message;
use tessera_compiler::onnx::proto::{
    tensor_proto::DataType, type_proto, GraphProto, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto,
};
use tessera_compiler::onnx::{import_bytes, import_file};

fn tensor_value(name: &str, dtype: DataType, dims: &[i64]) -> ValueInfoProto {
    use tessera_compiler::onnx::proto::{tensor_shape_proto::dimension::Value as Dim, tensor_shape_proto::Dimension};
    let shape = tessera_compiler::onnx::proto::TensorShapeProto {
        dim: dims.iter().map(|&d| Dimension { value: Some(Dim::DimValue(d)), ..Default::default() }).collect(),
    };
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(dtype as i32),
                shape: Some(shape),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// `y = MatMulInteger(x, W)` with a 2x3 int8 weight.
fn matmul_model() -> GraphProto {
    let w = TensorProto {
        name: Some("W".into()),
        data_type: Some(DataType::Int8 as i32),
        dims: vec![2, 3],
        raw_data: Some(vec![1, 2, 3, 0xff, 0xfe, 0xfd]),
        ..Default::default()
    };
    GraphProto {
        name: Some("g".into()),
        node: vec![node("MatMulInteger", &["x", "W"], &["y"])],
        initializer: vec![w],
        input: vec![tensor_value("x", DataType::Int8, &[1, 2])],
        output: vec![tensor_value("y", DataType::Int32, &[1, 3])],
        ..Default::default()
    }
}

fn encode(graph: GraphProto) -> Vec<u8> {
    ModelProto { ir_version: Some(8), graph: Some(graph), ..Default::default() }.encode_to_vec()
}

#[test]
fn imports_nodes_constants_and_values() {
    let g = import_bytes(&encode(matmul_model())).unwrap();
    assert_eq!(g.inputs.len(), 1);
    assert_eq!(g.inputs[0].shape, vec![Some(1), Some(2)]);
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(g.nodes[0].name, "MatMulInteger#0");
    assert_eq!(g.constant("W").unwrap().ints().unwrap(), &[1, 2, 3, -1, -2, -3]);
    assert_eq!(g.producer("y").unwrap().op, "MatMulInteger");
}

#[test]
fn errors_name_the_file_the_node_and_the_value() {
    let mut bad = matmul_model();
    bad.node[0].input[0] = "nowhere".into();
    let err = import_bytes(&encode(bad)).unwrap_err();
    assert_eq!(err, "node `MatMulInteger#0` (MatMulInteger): input `nowhere` is not defined before it (graph not in topological order?)");

    let mut bad = matmul_model();
    bad.initializer[0].raw_data = Some(vec![1, 2, 3]);
    let err = import_bytes(&encode(bad)).unwrap_err();
    assert_eq!(err, "initializer `W`: raw_data holds 3 bytes; 6 elements of 1 bytes need 6");

    let dir = std::env::temp_dir().join(format!("tessera-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("garbage.onnx");
    std::fs::write(&path, b"\xff\xff\xff not protobuf").unwrap();
    let err = import_file(&path).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: not an ONNX model", path.display())), "{err}");
    let err = import_file(&dir.join("missing.onnx")).unwrap_err().to_string();
    assert!(err.contains("missing.onnx: cannot read"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
