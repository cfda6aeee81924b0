//! `tessera prune`: magnitude pruning of a quantized ONNX model that keeps its int8
//! quantization; the compiler reports the sparsity it left, and the pruned model
//! runs on golden and RTL with identical outputs.

mod common;

use common::{prune, root, run_model, scratch, tessera};
use ndarray::{s, Array2};
use ndarray_npy::{read_npy, write_npy};

fn stdout(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_two_of_four_pruned_resnet_is_reported_as_such_and_runs_the_same_dense_and_as_sparse_tiles() {
    let pruned = scratch("resnet_2of4.onnx");
    let model = root("examples/digits_resnet/resnet_qop.onnx");
    let text = stdout(&prune(&model, "2:4", &pruned));
    // The stem has one input channel (nothing to group); the rest keep two of every
    // four input channels (fewer where a kept weight was zero already).
    assert!(text.contains("6 layers, 9937 → "), "{text}");
    for line in text.lines().filter(|l| l.contains("_quant") && !l.contains("stem")) {
        let numbers: Vec<usize> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        let total =
            line.split(['[', ']']).nth(1).unwrap().split(", ").map(|d| d.parse::<usize>().unwrap()).product::<usize>();
        let after = numbers[numbers.len() - 1];
        assert!(after <= total / 2 && after >= total / 2 - total / 50, "{line}");
    }
    // The four 16-channel convolutions keep 2:4 in the order the array reads them.
    // The dense layer's input stays channels-last after the flatten (NHWC storage),
    // so its weight rows are permuted to that order, where the model's 2:4 groups
    // (four pixels of one channel) are no longer groups of four rows.
    let report = stdout(&tessera(["compile".as_ref(), pruned.as_os_str(), "--report".as_ref()]));
    assert_eq!(report.matches("2:4, 50% dense").count() + report.matches("2:4, 49% dense").count(), 4, "{report}");
    // The dense datapath on the pruned weights: golden and RTL agree bit for bit.
    let x: Array2<f32> = read_npy(root("examples/digits_resnet/data/x_test.npy")).unwrap();
    let input = scratch("x8.npy");
    write_npy(&input, &x.slice(s![..8, ..]).to_owned()).unwrap();
    let (golden, rtl) = (scratch("golden.npy"), scratch("rtl.npy"));
    stdout(&run_model(&pruned, "tiny", "golden", &input, &[("--output", &golden)]));
    stdout(&run_model(&pruned, "tiny", "verilator", &input, &[("--output", &rtl), ("--reference", &golden)]));
    let (a, b): (Array2<f32>, Array2<f32>) = (read_npy(&golden).unwrap(), read_npy(&rtl).unwrap());
    assert_eq!(a, b);
    // On the array with N:4 modes the four 16-channel convolutions run as 2:4 tiles
    // (implicit im2col), with the same outputs as the dense run.
    let sparse = stdout(&run_model(&pruned, "tiny-sparse", "verilator", &input, &[("--reference", &golden)]));
    assert_eq!(sparse.matches("(2:4").count(), 4, "{sparse}");
    assert!(sparse.contains("80 of 80 outputs equal"), "{sparse}");
}

#[test]
fn bad_patterns_and_files_are_refused() {
    let model = root("examples/digits_resnet/resnet_qop.onnx");
    let out = prune(&model, "5:4", &scratch("x.onnx"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("N must be in 1..M"));
    let tflite = root("examples/digits_cnn/cnn_int8.tflite");
    let out = prune(&tflite, "2:4", &scratch("x.tflite"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cnn_int8.tflite: pruning reads and writes ONNX models"));
}

/// A 2:4- and a 1:4-pruned MLP: the compiler picks N:4 tiles for every layer on an
/// array with the N:4 modes, and the RTL's outputs equal the dense golden run of the
/// same pruned model bit for bit.
#[test]
fn n_of_4_pruned_mlps_run_as_sparse_tiles_and_match_the_dense_computation() {
    let model = root("examples/digits_mlp/mlp_qop.onnx");
    let x: Array2<f32> = read_npy(root("examples/digits_mlp/data/x_test.npy")).unwrap();
    let input = scratch("mlp_x40.npy");
    write_npy(&input, &x.slice(s![..40, ..]).to_owned()).unwrap();
    for (pattern, engine) in [("2:4", "2:4"), ("1:4", "1:4")] {
        let pruned = scratch(&format!("mlp_{}.onnx", pattern.replace(':', "of")));
        stdout(&prune(&model, pattern, &pruned));
        let report = stdout(&tessera(["compile", pruned.to_str().unwrap(), "-c", "tiny-sparse", "--report"]));
        let layers: Vec<&str> = report.lines().filter(|l| l.contains("QLinearMatMul")).collect();
        assert_eq!(layers.len(), 3, "{report}");
        for l in layers {
            assert_eq!(l.split_whitespace().nth(4), Some(engine), "{report}");
        }
        let dense = scratch(&format!("mlp_{}_dense.npy", pattern.replace(':', "of")));
        stdout(&run_model(&pruned, "tiny", "golden", &input, &[("--output", &dense)]));
        let run = stdout(&run_model(&pruned, "tiny-sparse", "verilator", &input, &[("--reference", &dense)]));
        assert_eq!(run.matches(&format!("({engine})")).count(), 3, "{run}");
        assert!(run.contains("400 of 400 outputs equal"), "{run}");
    }
}

/// A 90%-unstructured-pruned MLP: the cost model runs its two larger layers on the
/// sparse engine of `tiny-sparse` (batch 8), and the RTL's outputs equal the dense
/// golden run of the same pruned model bit for bit.
#[test]
fn an_unstructured_pruned_mlp_runs_on_the_sparse_engine_and_matches_the_dense_computation() {
    let model = root("examples/digits_mlp/mlp_qop.onnx");
    let x: Array2<f32> = read_npy(root("examples/digits_mlp/data/x_test.npy")).unwrap();
    let input = scratch("mlp_u90_x8.npy");
    write_npy(&input, &x.slice(s![..8, ..]).to_owned()).unwrap();
    let pruned = scratch("mlp_u90.onnx");
    stdout(&prune(&model, "unstructured:0.9", &pruned));
    let report =
        stdout(&tessera(["compile", pruned.to_str().unwrap(), "-c", "tiny-sparse", "--batch", "8", "--report"]));
    let engines: Vec<&str> =
        report.lines().filter(|l| l.contains("QLinearMatMul")).filter_map(|l| l.split_whitespace().nth(4)).collect();
    assert_eq!(engines, ["sparse", "sparse", "dense"], "{report}");
    let dense = scratch("mlp_u90_dense.npy");
    stdout(&run_model(&pruned, "tiny", "golden", &input, &[("--output", &dense)]));
    let run = stdout(&run_model(&pruned, "tiny-sparse", "verilator", &input, &[("--reference", &dense)]));
    assert_eq!(run.matches("(sparse)").count(), 2, "{run}");
    assert!(run.contains("80 of 80 outputs equal"), "{run}");
}
