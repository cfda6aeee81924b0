//! The Tessera compiler.
//!
//! - [`onnx`]: ONNX files into the [`graph`] IR, whose constants are [`tensor`]s, and
//!   [`lower`]: that graph into a [`program`] of accelerator layers and host
//!   operations; [`tflite`]: TFLite flatbuffers straight into a [`program`];
//! - [`coverage`]: which operators each format lowers and where they run;
//! - [`model`]: a whole program compiled for one accelerator configuration (segments,
//!   DDR arena, residency, tiling with the [`cost`] model), written by [`package`];
//! - [`gemm`]: lowering of one quantized matrix multiply to a double-buffered program,
//!   and [`gemm_bundle`]: that program with its operands as a bundle;
//! - [`image`]: DDR image layout and program bundles.

pub mod cost;
pub mod coverage;
pub mod engine;
pub mod gemm;
pub mod gemm_bundle;
pub mod graph;
pub mod image;
pub mod lower;
pub mod model;
pub mod movement;
pub mod onnx;
pub mod package;
pub mod plan;
pub mod program;
pub mod reduce;
pub mod resize;
pub mod shape;
pub mod signature;

pub mod sparsity;
pub mod spmv;
pub mod tensor;
pub mod tflite;

pub use gemm::{
    blocked_order, lower_gemm, lower_gemm_with, GemmOutput, GemmSpec, GemmTiling, LowerError, OperandQuant,
    WeightLayout,
};
pub use image::ImageBuilder;

/// Imports a model file (`.tflite`, else ONNX) and lowers it to a [`program::Program`];
/// errors name the file.
pub fn load_program(path: &std::path::Path) -> Result<program::Program, String> {
    if path.extension().is_some_and(|e| e == "tflite") {
        return tflite::load_file(path);
    }
    let graph = onnx::import_file(path).map_err(|e| e.to_string())?;
    lower::lower_graph(&graph).map_err(|e| format!("{}: {e}", path.display()))
}
