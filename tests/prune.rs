//! `tessera prune`: magnitude pruning of a quantized ONNX model that keeps its int8
//! quantization; the compiler reports the sparsity it left, and the pruned model
//! runs on golden and RTL with identical outputs.

mod common;

use common::{root, run_model, scratch, tessera};
use ndarray::{s, Array2};
use ndarray_npy::{read_npy, write_npy};

fn stdout(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_two_of_four_pruned_resnet_is_reported_as_such_and_runs_the_same_on_golden_and_rtl() {
    let pruned = scratch("resnet_2of4.onnx");
    let model = root("examples/digits_resnet/resnet_qop.onnx");
    let text = stdout(&tessera([
        "prune".as_ref(),
        model.as_os_str(),
        "--pattern".as_ref(),
        "2:4".as_ref(),
        "-o".as_ref(),
        pruned.as_os_str(),
    ]));
    // The stem has one input channel (nothing to group); the rest halve.
    assert!(text.contains("6 layers, 9937 → 5072 nonzero weights of 10000"), "{text}");
    let report = stdout(&tessera(["compile".as_ref(), pruned.as_os_str(), "--report".as_ref()]));
    assert_eq!(report.matches("2:4, 50% dense").count(), 5, "{report}");
    // The dense datapath on the pruned weights: golden and RTL agree bit for bit.
    let x: Array2<f32> = read_npy(root("examples/digits_resnet/data/x_test.npy")).unwrap();
    let input = scratch("x8.npy");
    write_npy(&input, &x.slice(s![..8, ..]).to_owned()).unwrap();
    let (golden, rtl) = (scratch("golden.npy"), scratch("rtl.npy"));
    stdout(&run_model(&pruned, "tiny", "golden", &input, &[("--output", &golden)]));
    stdout(&run_model(&pruned, "tiny", "verilator", &input, &[("--output", &rtl), ("--reference", &golden)]));
    let (a, b): (Array2<f32>, Array2<f32>) = (read_npy(&golden).unwrap(), read_npy(&rtl).unwrap());
    assert_eq!(a, b);
}

#[test]
fn bad_patterns_and_files_are_refused() {
    let model = root("examples/digits_resnet/resnet_qop.onnx");
    let out = tessera([
        "prune".as_ref(),
        model.as_os_str(),
        "--pattern".as_ref(),
        "5:4".as_ref(),
        "-o".as_ref(),
        scratch("x.onnx").as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("N must be in 1..M"));
    let tflite = root("examples/digits_cnn/cnn_int8.tflite");
    let out = tessera([
        "prune".as_ref(),
        tflite.as_os_str(),
        "--pattern".as_ref(),
        "2:4".as_ref(),
        "-o".as_ref(),
        scratch("x.tflite").as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cnn_int8.tflite: pruning reads and writes ONNX models"));
}
