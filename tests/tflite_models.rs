//! End to end: the committed full-int8 TFLite examples (examples/digits_mlp,
//! digits_cnn, digits_resnet), imported, lowered and run by `tessera run`, against the outputs of
//! TFLite's reference kernels (ai-edge-litert, `OpResolverType.BUILTIN_REF`)
//! committed beside them (data/ref_tflite.npy), bit for bit; and the importer's
//! errors.

mod common;

use common::{root, run_model, scratch, tessera};
use ndarray::{s, Array2};
use ndarray_npy::{read_npy, write_npy};
use std::path::Path;

/// Runs `examples/<dir>/<stem>_int8.tflite` on the first `count` int8 test inputs and
/// returns (ours, the reference's) outputs.
fn run(dir: &str, stem: &str, count: usize, config: &str, backend: &str) -> (Array2<i8>, Array2<i8>) {
    let x: Array2<i8> = read_npy(root(&format!("examples/{dir}/data/x_test_int8.npy"))).unwrap();
    let reference: Array2<i8> = read_npy(root(&format!("examples/{dir}/data/ref_tflite.npy"))).unwrap();
    let (input, output) = (scratch(&format!("x-{stem}-{backend}.npy")), scratch(&format!("y-{stem}-{backend}.npy")));
    write_npy(&input, &x.slice(s![..count, ..]).to_owned()).unwrap();
    let model = root(&format!("examples/{dir}/{stem}_int8.tflite"));
    let out = run_model(&model, config, backend, &input, &[("--output", &output)]);
    assert!(out.status.success(), "tessera run failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let ours: Array2<i64> = read_npy(&output).unwrap();
    (ours.mapv(|v| i8::try_from(v).expect("int8 outputs")), reference.slice(s![..count, ..]).to_owned())
}

#[test]
fn mlp_on_golden_equals_the_tflite_reference_kernels_bit_for_bit() {
    let (ours, reference) = run("digits_mlp", "mlp", 450, "pynq-z2", "golden");
    assert_eq!(ours, reference);
}

#[test]
fn cnn_on_golden_equals_the_tflite_reference_kernels_bit_for_bit() {
    let (ours, reference) = run("digits_cnn", "cnn", 450, "pynq-z2", "golden");
    assert_eq!(ours, reference);
}

#[test]
fn resnet_on_golden_equals_the_tflite_reference_kernels_bit_for_bit() {
    let (ours, reference) = run("digits_resnet", "resnet", 450, "pynq-z2", "golden");
    assert_eq!(ours, reference);
}

#[test]
fn tflite_models_on_the_rtl_equal_the_reference_kernels_bit_for_bit() {
    let (ours, reference) = run("digits_mlp", "mlp", 8, "tiny", "verilator");
    assert_eq!(ours, reference);
    let (ours, reference) = run("digits_cnn", "cnn", 8, "tiny", "verilator");
    assert_eq!(ours, reference);
    let (ours, reference) = run("digits_resnet", "resnet", 8, "tiny", "verilator");
    assert_eq!(ours, reference);
}

/// `tests/fixtures/tflite/<stem>.tflite` on its inputs `<stem>_x.npy`, on golden and
/// RTL: all `count` outputs equal the reference kernels' `<stem>_ref.npy`.
fn check_fixture(stem: &str, count: usize) {
    let file = |suffix: &str| root(&format!("tests/fixtures/tflite/{stem}{suffix}"));
    let (model, x, reference) = (file(".tflite"), file("_x.npy"), file("_ref.npy"));
    for (config, backend) in [("pynq-z2", "golden"), ("tiny", "verilator")] {
        let out = run_model(&model, config, backend, &x, &[("--reference", &reference)]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{backend}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains(&format!("{count} of {count} outputs equal")), "{text}");
    }
}

/// QUANTIZE, DEPTHWISE_CONV_2D (depth multiplier 2, SAME, fused ReLU6),
/// AVERAGE_POOL_2D, CONV_2D (VALID, stride 2), FULLY_CONNECTED and DEQUANTIZE, on 32
/// random inputs (tools/fixtures/tflite_cases.py), float outputs bit for bit.
#[test]
fn the_other_operators_equal_the_reference_kernels_bit_for_bit() {
    check_fixture("ops", 128);
}

/// A dense layer and int8 SOFTMAX on 64 random int8 inputs, bit for bit.
#[test]
fn softmax_equals_the_reference_kernel_bit_for_bit() {
    check_fixture("softmax", 192);
}

/// `tessera run MODEL` on the CNN's inputs; returns stderr, expecting a failure.
fn fails(model: &Path) -> String {
    let input = root("examples/digits_cnn/data/x_test_int8.npy");
    let out = tessera(["run".as_ref(), model.as_os_str(), "--input".as_ref(), input.as_os_str()]);
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn unsupported_operators_and_malformed_files_are_reported_with_the_file() {
    // An int8 ELU (tools/fixtures/tflite_arith.py).
    let elu = root("tests/fixtures/tflite/arith/unsupported_elu.tflite");
    let err = fails(&elu);
    assert!(err.contains("unsupported_elu.tflite: operator `ELU#0`: not supported"), "{err}");
    // The CNN cut short: the flatbuffer verifier rejects it.
    let bytes = std::fs::read(root("examples/digits_cnn/cnn_int8.tflite")).unwrap();
    let truncated = scratch("truncated.tflite");
    std::fs::write(&truncated, &bytes[..100]).unwrap();
    let err = fails(&truncated);
    assert!(err.contains("truncated.tflite: malformed TFLite flatbuffer"), "{err}");
    // An ONNX file named .tflite.
    let renamed = scratch("onnx.tflite");
    std::fs::copy(root("examples/digits_cnn/cnn_qop.onnx"), &renamed).unwrap();
    let err = fails(&renamed);
    assert!(err.contains("onnx.tflite: not a TFLite model (no TFL3 identifier)"), "{err}");
}
