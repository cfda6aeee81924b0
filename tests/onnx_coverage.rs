//! The ONNX importer's coverage of issue 18, end to end: global average pooling in
//! its ONNX spellings, grouped and depthwise convolutions, average pooling and
//! `ceil_mode` pooling (`tools/fixtures/onnx_pool.py`), `ConvTranspose`
//! (`tools/fixtures/onnx_conv_transpose.py`). Each fixture (`tools/fixtures/onnx_coverage.py`) is run by
//! `tessera run` against `onnx.reference.ReferenceEvaluator`'s outputs (the QDQ forms:
//! float32, numpy's pairwise summation) or, for `com.microsoft.QLinearGlobalAveragePool`
//! (no reference implementation), a reference written from the contrib operator's
//! specification as onnxruntime computes it; every output bit for bit.

mod common;

use common::{check_fixture, compile_report, op_rows, root, tessera};
use std::path::PathBuf;

fn fixture(stem: &str, suffix: &str) -> PathBuf {
    root(&format!("tests/fixtures/onnx_cov/{stem}{suffix}"))
}

/// `<stem>.onnx` on `<stem>_x.npy` on `backend`: all `count` outputs equal `<stem>_ref.npy`.
fn check(stem: &str, count: usize, config: &str, backend: &str) {
    check_fixture("tests/fixtures/onnx_cov", stem, ".onnx", count, config, backend);
}

/// `Q(GlobalAveragePool(DQ(x)))` after a QDQ convolution (7x7), and on 1x1 and 16x16
/// images (numpy's pairwise sum splits above 128 values).
#[test]
fn qdq_global_average_pool_equals_the_reference() {
    check("gap_qdq", 128, "pynq-z2", "golden");
    check("gap_1x1", 128, "pynq-z2", "golden");
    check("gap_16x16", 64, "pynq-z2", "golden");
}

/// `Q(ReduceMean(DQ(x)))` over [2, 3]: axes an attribute (opset 13, keepdims 0,
/// uint8, 14x14) or a constant input (opset 21, [-2, -1], keepdims 1, int8).
#[test]
fn qdq_reduce_mean_equals_the_reference() {
    check("reducemean_attr", 80, "pynq-z2", "golden");
    check("reducemean_input", 96, "pynq-z2", "golden");
}

/// `com.microsoft.QLinearGlobalAveragePool`, NCHW uint8 and channels-last int8.
#[test]
fn qlinear_global_average_pool_equals_its_specification() {
    check("qlinear_gap", 96, "pynq-z2", "golden");
    check("qlinear_gap_nhwc", 112, "pynq-z2", "golden");
}

/// `QLinearConv` with `group` > 1: two groups (ShuffleNet), depthwise (stride 2, and
/// channel multiplier 2), uint8 with a weight zero point in four groups; QDQ `Conv`
/// in four groups and depthwise, per-channel weights. All run on the accelerator, one
/// dense convolution per block of output channels over the input channels their
/// groups read (`docs/depthwise.md`), with ONNX's float requantization.
#[test]
fn grouped_and_depthwise_convolutions_equal_the_reference() {
    check("qlinearconv_g2", 15552, "pynq-z2", "golden");
    check("qlinearconv_dw", 3200, "pynq-z2", "golden");
    check("qlinearconv_dw_m2", 20736, "pynq-z2", "golden");
    check("qlinearconv_u8_g4", 10368, "pynq-z2", "golden");
    check("qdq_conv_g4", 20736, "pynq-z2", "golden");
    check("qdq_conv_dw", 10368, "pynq-z2", "golden");
}

/// A MobileNetV2-style QOperator block: 1x1 expansion and projection on the
/// accelerator (channels-last values), the depthwise convolution and the global
/// average pool on the host between them (NCHW).
#[test]
fn a_mobilenet_block_equals_the_reference() {
    check("mobilenet_block", 256, "pynq-z2", "golden");
}

/// `Q(AveragePool(DQ(x)))`: nine taps (numpy's eight partial sums), the padding's
/// zeros counted with `ceil_mode`'s overhang not counted, `ceil_mode` on an odd size;
/// `com.microsoft.QLinearAveragePool` NCHW and channels-last (its specification's
/// DequantizeLinear, AveragePool, QuantizeLinear).
#[test]
fn average_pooling_equals_the_reference() {
    check("avgpool_qdq_3x3", 3888, "pynq-z2", "golden");
    check("avgpool_qdq_counted", 1296, "pynq-z2", "golden");
    check("avgpool_qdq_ceil", 960, "pynq-z2", "golden");
    check("qlinear_avgpool", 1200, "pynq-z2", "golden");
    check("qlinear_avgpool_nhwc", 1152, "pynq-z2", "golden");
}

/// `MaxPool` with `ceil_mode` (SqueezeNet's): after a QLinearConv on integers, and in
/// QDQ form, both on the accelerator; a last window two positions past the input (the
/// reference then shifts every window) is refused by name.
#[test]
fn ceil_mode_max_pooling_equals_the_reference() {
    check("maxpool_ceil_qop", 7056, "pynq-z2", "golden");
    check("maxpool_ceil_qdq", 1728, "pynq-z2", "golden");
    let report = report("maxpool_ceil_qop");
    assert!(op_rows(&report, "pool").first().is_some_and(|r| r.contains(" seg0")), "{report}");
    let model = fixture("maxpool_ceil_overhang", ".onnx");
    let out = tessera(["compile".as_ref(), model.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("ceil_mode puts the last window 2 positions past"), "{err}");
}

/// QDQ `ConvTranspose` (PyTorch's 2x upsampling after a convolution, DCGAN's 4x4
/// stride 2 without bias, stride 1, a kernel smaller than its stride with asymmetric
/// pads): a stride-1 convolution on the accelerator over the input spread on the host.
#[test]
fn conv_transpose_equals_the_reference() {
    check("convt_s2_k3", 6912, "pynq-z2", "golden");
    check("convt_s2_k4", 3200, "pynq-z2", "golden");
    check("convt_s1", 1960, "pynq-z2", "golden");
    check("convt_k2_s3", 4800, "pynq-z2", "golden");
    let report = report("convt_s2_k3");
    let rows = op_rows(&report, "up_convt");
    assert!(rows.len() == 2 && rows[0].contains("host: spreads") && rows[1].contains(" seg"), "{report}");
}

fn report(stem: &str) -> String {
    compile_report(&fixture(stem, ".onnx"))
}

#[test]
fn the_coverage_fixtures_on_the_rtl_equal_the_reference() {
    check("maxpool_ceil_qop", 7056, "tiny", "verilator");
    check("convt_s2_k3", 6912, "tiny", "verilator");
    check("gap_qdq", 128, "tiny", "verilator");
    check("qlinearconv_g2", 15552, "tiny", "verilator");
    check("mobilenet_block", 256, "tiny", "verilator");
}

/// The float means run on the host, and the report says why.
#[test]
fn reports_say_where_the_means_run() {
    let gap = report("gap_qdq");
    assert!(op_rows(&gap, "gap").first().is_some_and(|r| r.contains("host: ONNX's float32 mean")), "{gap}");
    let places = [("qlinearconv_g2", " seg0"), ("qlinearconv_dw", " seg0"), ("qlinearconv_dw_m2", " seg0")];
    for (stem, place) in places {
        let r = report(stem);
        assert!(op_rows(&r, "conv").first().is_some_and(|row| row.contains(place)), "{stem}: {r}");
    }
}
