//! The Tessera compiler.
//!
//! - [`gemm`]: lowering of one quantized matrix multiply to a double-buffered program;
//! - [`image`]: DDR image layout and program bundles.
//!
//! Model importers (ONNX, TFLite), the graph IR, the tiler with its cost model and
//! the per-layer report arrive with issue #5.

pub mod gemm;
pub mod image;

pub use gemm::{
    blocked_order, lower_gemm, lower_gemm_with, GemmOutput, GemmSpec, GemmTiling, LowerError, OperandQuant,
    WeightLayout,
};
pub use image::ImageBuilder;
