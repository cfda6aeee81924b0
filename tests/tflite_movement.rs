//! TFLite's data-movement and shape operators (issue 18), end to end: each fixture
//! (`tools/fixtures/tflite_movement.py`, int8 models converted from TF functions)
//! is run by `tessera run` against the outputs of TFLite's reference kernels
//! (ai-edge-litert, `OpResolverType.BUILTIN_REF`), every output bit for bit.

mod common;

use common::{check_fixture, compile_report, root};
use std::path::PathBuf;

fn fixture(stem: &str, suffix: &str) -> PathBuf {
    root(&format!("tests/fixtures/tflite/mv_{stem}{suffix}"))
}

/// `mv_<stem>.tflite` on `mv_<stem>_x.npy` on `backend`: all `count` outputs equal
/// the reference kernels' `mv_<stem>_ref.npy`.
fn check(stem: &str, count: usize, config: &str, backend: &str) {
    check_fixture("tests/fixtures/tflite", &format!("mv_{stem}"), ".tflite", count, config, backend);
}

/// A detection-style model: convolutions at two resolutions on the accelerator, the
/// coarse branch upsampled by RESIZE_NEAREST_NEIGHBOR and concatenated with the fine
/// one on the host, a 1x1 convolution head.
#[test]
fn a_detection_style_model_equals_the_reference_kernels() {
    check("detect", 3072, "pynq-z2", "golden");
}

/// The same model on the Verilated RTL.
#[test]
fn the_detection_style_model_on_the_rtl_equals_the_reference_kernels() {
    check("detect", 3072, "tiny", "verilator");
}

/// STRIDED_SLICE (negative stride, masks, shrink), SLICE, SPLIT, SPLIT_V,
/// CONCATENATION.
#[test]
fn slices_and_splits_equal_the_reference_kernels() {
    check("slices", 3792, "pynq-z2", "golden");
}

/// Channel shuffle (5-D RESHAPE, TRANSPOSE), PACK, GATHER, EXPAND_DIMS / SQUEEZE.
#[test]
fn shuffles_packs_and_gathers_equal_the_reference_kernels() {
    check("shuffle", 2752, "pynq-z2", "golden");
}

/// SPACE_TO_DEPTH and MIRROR_PAD (REFLECT, SYMMETRIC).
#[test]
fn space_to_depth_and_mirror_pad_equal_the_reference_kernels() {
    check("space", 8640, "pynq-z2", "golden");
}

/// RESIZE_NEAREST_NEIGHBOR with align_corners, half_pixel_centers, and neither.
#[test]
fn nearest_resizes_equal_the_reference_kernels() {
    check("resize", 4896, "pynq-z2", "golden");
}

/// ARG_MAX over the channels, int32 indices.
#[test]
fn arg_max_equals_the_reference_kernel() {
    check("argmax", 240, "pynq-z2", "golden");
}

#[test]
fn the_report_says_where_movement_runs() {
    let text = compile_report(&fixture("detect", ".tflite"));
    assert!(text.contains("nearest resize on the host"), "{text}");
    assert!(text.contains("concatenation on the host"), "{text}");
}
