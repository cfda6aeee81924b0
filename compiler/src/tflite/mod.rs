//! TFLite flatbuffers (`.tflite`: full-int8 models from the TensorFlow Lite converter,
//! uint8 ones from TF1 quantization-aware training) to a [`Program`], with TFLite's
//! integer arithmetic: fixed-point requantization on the accelerator (double rounding
//! for `CONV_2D`, single rounding for `FULLY_CONNECTED`, as the reference kernels
//! round), fused activations as output clamps, NHWC activations, explicit `PAD`s
//! folded into convolutions' padding, and TFLite's `ADD`, pooling and `QUANTIZE`.
//!
//! TFLite graphs go straight to the program rather than through the ONNX-shaped
//! [`crate::graph`]: their operators carry fixed-point semantics the ONNX ops do not
//! have. The file is parsed and verified by the `flatbuffers` crate with accessors
//! generated from `compiler/schema/tflite_subset.fbs`.

mod binary;
mod island;
mod lower;
mod movement;
mod shape_fold;
mod unary;
#[allow(clippy::all, dead_code, unused_imports, mismatched_lifetime_syntaxes, unsafe_op_in_unsafe_fn)]
#[rustfmt::skip]
pub(crate) mod schema_generated;

use crate::program::Program;
use std::path::Path;

pub use lower::lower_model;

/// Reads `path` and lowers it; errors name the file.
pub fn load_file(path: &Path) -> Result<Program, String> {
    let fail = |what: String| format!("{}: {what}", path.display());
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    lower_model(&bytes).map_err(fail)
}
