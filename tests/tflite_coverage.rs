//! The TFLite importer's coverage of issue 18, end to end: uint8 models (TF1
//! quantization-aware training's uint8 weights with zero points, uint8 activations
//! through every supported operator), QUANTIZE between integer types, explicit PAD
//! (folded into the next convolution's padding, or on the host) and FULLY_CONNECTED on
//! N-D inputs, TRANSPOSE_CONV and grouped CONV_2D (`tools/fixtures/tflite_conv_variants.py`). Each fixture (`tools/fixtures/tflite_coverage.py`) is run by `tessera
//! run` against the outputs of TFLite's reference kernels (ai-edge-litert,
//! `OpResolverType.BUILTIN_REF`), every output bit for bit; `--report` says where each
//! new operator runs.

mod common;

use common::{check_fixture, compile_report, op_rows, root, tessera};
use std::path::PathBuf;

fn fixture(stem: &str, suffix: &str) -> PathBuf {
    root(&format!("tests/fixtures/tflite/{stem}{suffix}"))
}

/// `tests/fixtures/tflite/<stem>.tflite` on `<stem>_x.npy` on `backend`: all `count`
/// outputs equal the reference kernels' `<stem>_ref.npy`.
fn check(stem: &str, count: usize, config: &str, backend: &str) {
    check_fixture("tests/fixtures/tflite", stem, ".tflite", count, config, backend);
}

/// `tessera compile <stem>.tflite --report` for `pynq-z2`.
fn report(stem: &str) -> String {
    compile_report(&fixture(stem, ".tflite"))
}

/// The row of operation `node` in a report.
fn row<'a>(report: &'a str, node: &str) -> &'a str {
    op_rows(report, node).first().copied().unwrap_or_else(|| panic!("no {node}:\n{report}"))
}

/// A TF1 quantization-aware uint8 model (uint8 weights with zero points 112..146):
/// CONV_2D, DEPTHWISE_CONV_2D, ADD, PAD folded into a strided VALID CONV_2D, PADV2
/// with a non-zero constant, MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE,
/// FULLY_CONNECTED, SOFTMAX and QUANTIZE uint8 -> uint8, on 24 random inputs.
#[test]
fn a_tf1_uint8_model_equals_the_reference_kernels() {
    check("uint8_qat", 240, "pynq-z2", "golden");
}

/// A uint8 FULLY_CONNECTED's 4,800 outputs: it rounds once, as the int8 kernel does
/// (double rounding misses 3 of them).
#[test]
fn a_uint8_fully_connected_layer_rounds_once() {
    check("uint8_fc", 4800, "pynq-z2", "golden");
}

/// uint8 input and output around an int8 body (QUANTIZE uint8 -> int8 and back, on
/// the accelerator), as the converter writes them; and with input and output scales
/// that make both requantizations rescale.
#[test]
fn uint8_io_models_equal_the_reference_kernels() {
    check("uint8_io", 144, "pynq-z2", "golden");
    check("requant", 144, "pynq-z2", "golden");
}

/// QUANTIZE int16 -> int8 of the graph input, on the host.
#[test]
fn an_int16_input_is_requantized_like_the_reference_kernel() {
    check("int16_in", 144, "pynq-z2", "golden");
}

/// FULLY_CONNECTED on a 4-D input with keep_num_dims, on 16 rows without it, and on
/// a [16, 6] input flattened to one row of 96.
#[test]
fn fully_connected_on_n_d_inputs_equals_the_reference_kernel() {
    check("fc_nd", 120, "pynq-z2", "golden");
}

#[test]
fn the_coverage_models_on_the_rtl_equal_the_reference_kernels() {
    check("uint8_qat", 240, "tiny", "verilator");
    check("requant", 144, "tiny", "verilator");
}

#[test]
fn reports_say_where_quantize_and_pad_run() {
    let uint8_io = report("uint8_io");
    // Both requantizations are TABLE lookups on the accelerator.
    for node in ["QUANTIZE#0", "QUANTIZE#10"] {
        let r = row(&uint8_io, node);
        assert!(r.contains("seg") && r.contains("requantize (TABLE)"), "{r}");
    }
    // The PADs before the strided convolution and depthwise convolution are their
    // padding; the one before the pool runs on the host, and says why.
    assert!(row(&uint8_io, "CONV_2D#3").contains("CONV_2D + PAD (PAD#2)"), "{uint8_io}");
    assert!(row(&uint8_io, "DEPTHWISE_CONV_2D#5").contains("DEPTHWISE_CONV_2D + PAD (PAD#4)"), "{uint8_io}");
    for folded in ["PAD#2", "PAD#4"] {
        assert!(op_rows(&uint8_io, folded).is_empty(), "{uint8_io}");
    }
    let pad = row(&uint8_io, "PAD#6");
    assert!(pad.contains("host: PAD that no convolution's padding absorbs"), "{pad}");
    // int16 is not a byte: its requantization runs on the host.
    let int16 = report("int16_in");
    let quantize = row(&int16, "QUANTIZE#0");
    assert!(quantize.contains("host: requantizes int16 to int8"), "{quantize}");
    // uint8 layers run on the accelerator.
    let qat = report("uint8_qat");
    for node in ["CONV_2D#0", "ADD#2", "FULLY_CONNECTED#9", "QUANTIZE#11"] {
        assert!(row(&qat, node).contains(" seg"), "{}", row(&qat, node));
    }
}

/// MEAN over [1, 2] (global average pooling), int8 and uint8, with and without
/// keep_dims, input and output quantized differently: each channel's centred sum on
/// the array, TFLite's one fixed-point multiplication in the store.
#[test]
fn mean_equals_the_reference_kernel() {
    check("mean_int8", 384, "pynq-z2", "golden");
    check("mean_int8_keep", 384, "pynq-z2", "golden");
    check("mean_uint8", 384, "pynq-z2", "golden");
    check("mean_uint8_keep", 384, "pynq-z2", "golden");
    check("mean_int8_keep", 384, "tiny", "verilator");
    for stem in ["mean_int8", "mean_uint8_keep"] {
        let r = report(stem);
        assert!(row(&r, "MEAN#1").contains(" seg") && row(&r, "MEAN#1").contains("spatial mean"), "{r}");
    }
}

/// TRANSPOSE_CONV (Keras Conv2DTranspose): SAME with strides 2 and 3, VALID with a
/// 4x4 kernel and stride 2, stride 1, uneven kernel and strides, a kernel smaller
/// than its stride (outputs no tap reaches), and a U-Net-style decoder with a skip
/// ADD. Each is a stride-1 convolution on the accelerator over the input spread on
/// the host.
#[test]
fn transpose_conv_equals_the_reference_kernel() {
    check("tconv_same_s2", 41472, "pynq-z2", "golden");
    check("tconv_valid_k4", 5760, "pynq-z2", "golden");
    check("tconv_uneven", 10080, "pynq-z2", "golden");
    check("tconv_gaps", 6912, "pynq-z2", "golden");
    check("tconv_decoder", 6144, "pynq-z2", "golden");
    check("tconv_decoder", 6144, "tiny", "verilator");
    let r = report("tconv_decoder");
    let rows = op_rows(&r, "TRANSPOSE_CONV#2");
    assert!(rows.len() == 2 && rows[0].contains("host: spreads") && rows[1].contains(" seg"), "{r}");
}

/// Grouped CONV_2D (Keras `Conv2D(groups=g)`: 4 groups, 8 groups of two channels,
/// strided, and a grouped 1x1): one convolution on the accelerator with a
/// block-diagonal filter.
#[test]
fn grouped_conv_equals_the_reference_kernel() {
    check("grouped_conv", 768, "pynq-z2", "golden");
    check("grouped_conv", 768, "tiny", "verilator");
    let r = report("grouped_conv");
    assert!(row(&r, "CONV_2D#1").contains(" seg"), "{r}");
}

/// A dynamic-range quantized model (int8 weights, float activations) is refused with
/// what to do instead.
#[test]
fn float_and_hybrid_models_are_refused_with_a_hint() {
    let model = fixture("hybrid_conv", ".tflite");
    let out = tessera(["compile".as_ref(), model.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("CONV_2D#0`: computes on the float value") && err.contains("full-integer"), "{err}");
}
