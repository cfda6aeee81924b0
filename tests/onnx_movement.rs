//! ONNX data-movement and shape nodes (issue 18), end to end: each fixture
//! (`tools/fixtures/onnx_movement.py`) is run by `tessera run` against
//! `onnx.reference.ReferenceEvaluator`'s outputs (`com.microsoft.QLinearConcat`:
//! its specification computed with numpy), every output bit for bit. Values the
//! accelerator's convolutions write are stored channels-last; the host operators see
//! them in logical NCHW order.

mod common;

use common::{root, run_model, tessera};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    root(&format!("tests/fixtures/onnx_cov/mv_{name}"))
}

fn check_with(stem: &str, count: usize, config: &str, backend: &str, inputs: &[PathBuf]) {
    let (model, reference) = (fixture(&format!("{stem}.onnx")), fixture(&format!("{stem}_ref.npy")));
    let mut extra: Vec<(&str, &std::path::Path)> = inputs[1..].iter().map(|p| ("--input", p.as_path())).collect();
    extra.push(("--reference", &reference));
    let out = run_model(&model, config, backend, &inputs[0], &extra);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stem} on {backend}: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("{count} of {count} outputs equal")), "{stem} on {backend}:\n{text}");
}

fn check(stem: &str, count: usize, config: &str, backend: &str) {
    check_with(stem, count, config, backend, &[fixture(&format!("{stem}_x.npy"))]);
}

/// A ShuffleNet-style QDQ block: 1x1 convolutions on the accelerator, Split, Concat
/// requantizing one input, channel shuffle (5-D Reshape, Transpose), Slice.
#[test]
fn a_shufflenet_block_equals_the_reference() {
    check("shuffle_qdq", 576, "pynq-z2", "golden");
}

/// The same block on the Verilated RTL.
#[test]
fn the_shufflenet_block_on_the_rtl_equals_the_reference() {
    check("shuffle_qdq", 576, "tiny", "verilator");
}

/// Transpose, Unsqueeze / Squeeze, nearest Resize in five coordinate modes and
/// four nearest modes (scales, sizes, axes), Gather, DepthToSpace (DCR, CRD),
/// SpaceToDepth, Pad (reflect, edge, constant), Slice with negative steps and
/// INT64_MAX, Split (sizes, uneven num_outputs), Identity and Concat, on the int8
/// output of a QLinearConv stored channels-last.
#[test]
fn integer_data_movement_equals_the_reference() {
    check("ops_int", 54744, "pynq-z2", "golden");
}

/// ArgMax with select_last_index, int64 indices.
#[test]
fn arg_max_equals_the_reference() {
    check("argmax", 96, "pynq-z2", "golden");
}

/// com.microsoft.QLinearConcat of three inputs on different parameters.
#[test]
fn qlinear_concat_equals_its_specification() {
    let inputs: Vec<PathBuf> = (0..3).map(|i| fixture(&format!("qlinear_concat_x{i}.npy"))).collect();
    check_with("qlinear_concat", 96, "pynq-z2", "golden", &inputs);
}

#[test]
fn the_report_says_where_movement_runs() {
    let model = fixture("ops_int.onnx");
    let out = tessera(["compile".as_ref(), model.as_os_str(), "--report".as_ref()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nearest resize on the host"), "{text}");
}

/// A cubic Resize is refused with the node and the mode named.
#[test]
fn a_cubic_resize_is_refused_by_name() {
    let model = fixture("resize_cubic.onnx");
    let out = tessera(["compile".as_ref(), model.as_os_str()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("up") && err.contains("mode cubic is not supported"), "{err}");
}
