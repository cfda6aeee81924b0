//! The cost model against the cycle-accurate RTL: `tessera compile --report`'s
//! predicted cycles per layer and the cycle counter of the same layers run on the
//! Verilated accelerator by `tessera run`, for the ResNet-style example's eight
//! first test digits (its 5 convolutions, 2 adds, 2 max pools and the dense
//! layer) on the `tiny` and `pynq-z2` configs, for a 2:4-pruned MLP run as N:4 tiles on `tiny-sparse`
//! and `pynq-z2-sparse`, and for a 90%-pruned MLP on the sparse engine.

mod common;

use common::{prune, root, scratch, tessera};
use ndarray::{s, Array2};
use ndarray_npy::{read_npy, write_npy};
use std::path::Path;

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits_resnet").join(name)
}

/// (node, cycles) from `tessera run`'s layer lines ("<node> <op> accelerator MxKxN,
/// <cycles> cycles").
fn run_cycles(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter(|l| l.contains(" accelerator ") && !l.trim_start().starts_with("accelerator"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[f.len() - 2].parse().expect("a cycle count"))
        })
        .collect()
}

#[test]
fn predicted_cycles_are_within_15_percent_of_the_rtl_per_layer() {
    for config in ["tiny", "pynq-z2"] {
        // Five convolutions, two residual adds, two max pools and the dense layer.
        check_config(config, &example("resnet_qop.onnx"), &example("data/x_test.npy"), 10);
    }
}

#[test]
fn predicted_cycles_of_n_of_4_layers_are_within_15_percent_of_the_rtl() {
    let pruned = scratch("cost_mlp_2of4.onnx");
    let model = root("examples/digits_mlp/mlp_qop.onnx");
    let pruning = prune(&model, "2:4", &pruned);
    assert!(pruning.status.success(), "{}", String::from_utf8_lossy(&pruning.stderr));
    for config in ["tiny-sparse", "pynq-z2-sparse"] {
        let report = check_config(config, &pruned, &root("examples/digits_mlp/data/x_test.npy"), 3);
        assert_eq!(report.matches(" 2:4  ").count(), 3, "{report}");
    }
}

#[test]
fn predicted_cycles_of_sparse_engine_layers_are_within_15_percent_of_the_rtl() {
    let pruned = scratch("cost_mlp_u90.onnx");
    let model = root("examples/digits_mlp/mlp_qop.onnx");
    let pruning = prune(&model, "unstructured:0.9", &pruned);
    assert!(pruning.status.success(), "{}", String::from_utf8_lossy(&pruning.stderr));
    let report = check_config("tiny-sparse", &pruned, &root("examples/digits_mlp/data/x_test.npy"), 3);
    let engines: Vec<&str> =
        report.lines().filter(|l| l.contains("QLinearMatMul")).filter_map(|l| l.split_whitespace().nth(4)).collect();
    assert_eq!(engines, ["sparse", "sparse", "dense"], "{report}");
}

/// Checks each of `model`'s `layers` accelerator layers on `config` over the first
/// eight samples of `x`; returns the compile report.
fn check_config(config: &str, model: &Path, x: &Path, layers: usize) -> String {
    let x: Array2<f32> = read_npy(x).unwrap();
    let input = std::env::temp_dir().join(format!("tessera-cost-{config}-{}.npy", std::process::id()));
    write_npy(&input, &x.slice(s![..8, ..]).to_owned()).unwrap();
    let compiled = tessera([
        "compile".as_ref(),
        model.as_os_str(),
        "-c".as_ref(),
        config.as_ref(),
        "--batch".as_ref(),
        "8".as_ref(),
        "--report".as_ref(),
    ]);
    assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
    // Accelerator rows read "<#> <node> ... <GEMM or -> <MACs> <pred cycles> <util>% ...".
    let report = String::from_utf8_lossy(&compiled.stdout).into_owned();
    let predicted: Vec<(String, u64)> = report
        .lines()
        .filter(|l| l.split_whitespace().next().is_some_and(|f| f.parse::<usize>().is_ok()))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let util = f.iter().position(|field| field.ends_with('%'))?;
            Some((f[1].to_string(), f[util - 1].parse().expect("a cycle count")))
        })
        .collect();
    let run = tessera([
        "run".as_ref(),
        model.as_os_str(),
        "-c".as_ref(),
        config.as_ref(),
        "--backend".as_ref(),
        "verilator".as_ref(),
        "--per-layer".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // Run rows end "... accelerator MxKxN, <cycles> cycles".
    let measured = run_cycles(&String::from_utf8_lossy(&run.stdout));
    assert_eq!(predicted.len(), layers, "{predicted:?}");
    assert_eq!(predicted.iter().map(|p| &p.0).collect::<Vec<_>>(), measured.iter().map(|m| &m.0).collect::<Vec<_>>());
    for ((node, p), (_, m)) in predicted.iter().zip(&measured) {
        let error = (*p as f64 - *m as f64) / *m as f64;
        assert!(error.abs() <= 0.15, "{config} {node}: predicted {p}, measured {m} cycles ({:+.1}%)", 100.0 * error);
    }
    report
}
