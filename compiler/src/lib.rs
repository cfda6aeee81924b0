//! The Tessera compiler.
//!
//! - [`gemm`]: lowering of one quantized matrix multiply to a double-buffered program;
//! - [`image`]: DDR image layout and program bundles;
//! - [`onnx`]: ONNX files into the [`graph`] IR, whose constants are [`tensor`]s.
//!
//! Lowering whole models (TFLite import, the tiler with its cost model and the
//! per-layer report) is issue #5's remaining work.

pub mod gemm;
pub mod graph;
pub mod image;
pub mod onnx;
pub mod qdq;
pub mod tensor;

pub use gemm::{
    blocked_order, lower_gemm, lower_gemm_with, GemmOutput, GemmSpec, GemmTiling, LowerError, OperandQuant,
    WeightLayout,
};
pub use image::ImageBuilder;
