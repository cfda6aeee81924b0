//! Importing the committed example models (examples/digits_mlp, made by onnxruntime's
//! `quantize_static`): op sequences and quantization parameters as `onnx` (Python)
//! reports them in examples/digits_mlp/REPORT.md.

use std::path::PathBuf;
use tessera_compiler::onnx::import_file;
use tessera_compiler::tensor::ElemType;

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/digits_mlp").join(name)
}

#[test]
fn qdq_mlp_imports_with_per_channel_weights() {
    let g = import_file(&example("mlp_qdq.onnx")).unwrap();
    assert_eq!(g.inputs.len(), 1);
    assert_eq!(g.inputs[0].name, "x");
    assert_eq!(g.inputs[0].shape, vec![Some(1), Some(64)]);
    assert_eq!(g.outputs[0].name, "logits");
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.as_str()).collect();
    assert_eq!(ops.iter().filter(|o| **o == "MatMul").count(), 3);
    assert_eq!(ops.iter().filter(|o| **o == "DequantizeLinear").count(), 13);
    assert_eq!(ops.iter().filter(|o| **o == "QuantizeLinear").count(), 7);

    let quantize_x = g.nodes.iter().find(|n| n.op == "QuantizeLinear" && n.inputs[0] == "x").unwrap();
    let scale = g.constant(&quantize_x.inputs[1]).unwrap().scalar_float().unwrap();
    let zero = g.constant(&quantize_x.inputs[2]).unwrap();
    assert_eq!(scale, 0.003_921_569);
    assert_eq!((zero.dtype, zero.scalar_int()), (ElemType::I8, Some(-128)));

    let weight = g.constant("fc0.weight_quantized").expect("onnxruntime names the int8 weight so");
    assert_eq!((weight.dtype, weight.shape.clone()), (ElemType::I8, vec![64, 64]));
    let dq = g.nodes.iter().find(|n| n.op == "DequantizeLinear" && n.inputs[0] == "fc0.weight_quantized").unwrap();
    assert_eq!(dq.attr_int("axis"), Some(1));
    assert_eq!(g.constant(&dq.inputs[1]).unwrap().shape, vec![64]);
}

#[test]
fn qoperator_mlp_names_its_contrib_ops() {
    let g = import_file(&example("mlp_qop.onnx")).unwrap();
    let ops: Vec<String> = g.nodes.iter().map(|n| n.qualified_op()).collect();
    let layer = ["QLinearMatMul", "com.microsoft.QLinearAdd"];
    let mut expected = vec!["QuantizeLinear"];
    (0..3).for_each(|_| expected.extend(layer));
    expected.push("DequantizeLinear");
    assert_eq!(ops, expected);
}
