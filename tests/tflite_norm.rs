//! LayerNorm and GELU as TFLite writes them (issue 18: ConvNeXt, transformers), end to
//! end against TFLite's reference kernels (ai-edge-litert, `OpResolverType.BUILTIN_REF`),
//! every output bit for bit: fixtures of `tools/fixtures/tflite_norm.py`. A LayerNorm
//! block with a dynamic batch (MEAN over the channels, SQUARED_DIFFERENCE, RSQRT, the
//! DEQUANTIZE/NEG/QUANTIZE float island, a Dense on a 4-D input through folded
//! Tensordot shape arithmetic), exact and tanh GELU, and MEAN / REDUCE_MAX /
//! REDUCE_MIN over other axes with ABS. The single-operator GELU, RSQRT and ABS
//! tables over all 256 inputs are in `tests/tflite_arith.rs`.

mod common;

use common::{check_fixture, compile_report, op_rows, root, run_model};

const DIR: &str = "tests/fixtures/tflite";

/// 8 samples of 10 logits.
const LOGITS: usize = 80;

#[test]
fn a_layernorm_block_with_exact_gelu_equals_the_reference_kernels() {
    check_fixture(DIR, "norm_layernorm", ".tflite", LOGITS, "pynq-z2", "golden");
}

#[test]
fn a_layernorm_block_with_tanh_gelu_equals_the_reference_kernels() {
    check_fixture(DIR, "norm_gelu_tanh", ".tflite", LOGITS, "zcu104", "golden");
}

#[test]
fn reductions_over_other_axes_equal_the_reference_kernels() {
    check_fixture(DIR, "norm_reduce", ".tflite", 8 * 137, "pynq-z2", "golden");
}

/// The Tensordot reshape's target folds to one sample's rows; a batch of 3 scales them.
#[test]
fn the_folded_reshape_follows_the_batch() {
    let path = |suffix: &str| root(&format!("{DIR}/norm_layernorm{suffix}"));
    let out = run_model(
        &path(".tflite"),
        "pynq-z2",
        "golden",
        &path("_x.npy"),
        &[("--batch", "3".as_ref()), ("--reference", &path("_ref.npy"))],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("80 of 80 outputs equal"), "{text}");
}

#[test]
fn the_report_puts_the_island_and_the_tables_on_the_accelerator() {
    let text = compile_report(&root(&format!("{DIR}/norm_layernorm.tflite")));
    for node in ["DEQUANTIZE#2", "RSQRT#8", "GELU#23"] {
        let rows = op_rows(&text, node);
        assert!(!rows.is_empty() && rows.iter().all(|r| r.contains("(TABLE)")), "{node}: {rows:?}\n{text}");
    }
    let means = op_rows(&text, "MEAN#1");
    assert!(means.iter().all(|r| r.contains("host: Mean over axes [3]")), "{means:?}");
}
