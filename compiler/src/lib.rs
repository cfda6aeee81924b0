//! The Tessera compiler.
//!
//! - [`gemm`]: lowering of one quantized matrix multiply to a double-buffered program,
//!   and [`gemm_bundle`]: that program with its operands as a bundle;
//! - [`image`]: DDR image layout and program bundles;
//! - [`onnx`]: ONNX files into the [`graph`] IR, whose constants are [`tensor`]s;
//! - [`lower`]: a quantized graph into a [`program`] of accelerator layers (GEMMs,
//!   convolutions) and host operations.
//!
//! Whole-model bundles, TFLite import, the tiler with its cost model and the
//! per-layer report are issue #5's remaining work.

pub mod cost;
pub mod engine;
pub mod gemm;
pub mod gemm_bundle;
pub mod graph;
pub mod image;
pub mod lower;
pub mod model;
pub mod onnx;
pub mod package;
pub mod plan;
pub mod program;
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
