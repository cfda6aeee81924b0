//! TFLite's `RESIZE_BILINEAR` (issue 18), end to end: int8 (the reference's integer
//! path) and uint8 (its float path) with align_corners, half_pixel_centers and
//! neither, each fixture (`tools/fixtures/tflite_resize.py`) run by `tessera run`
//! against the outputs of TFLite's reference kernels (ai-edge-litert,
//! `OpResolverType.BUILTIN_REF`), every output bit for bit.

mod common;

use common::{check_fixture, compile_report, root};

/// 8 samples of 672 outputs: four resizes of a 4x6x3 image.
const OUTPUTS: usize = 8 * 672;

#[test]
fn int8_bilinear_resizes_equal_the_reference_kernels() {
    check_fixture("tests/fixtures/tflite", "rs_bilinear", ".tflite", OUTPUTS, "pynq-z2", "golden");
}

#[test]
fn uint8_bilinear_resizes_equal_the_reference_kernels() {
    check_fixture("tests/fixtures/tflite", "rs_bilinear_u8", ".tflite", OUTPUTS, "pynq-z2", "golden");
}

#[test]
fn the_report_says_the_resize_runs_on_the_host() {
    let text = compile_report(&root("tests/fixtures/tflite/rs_bilinear.tflite"));
    assert!(text.contains("bilinear resize on the host"), "{text}");
}
