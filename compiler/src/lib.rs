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
pub mod gemm;
pub mod gemm_bundle;
pub mod graph;
pub mod image;
pub mod lower;
pub mod onnx;
pub mod plan;
pub mod program;

pub mod tensor;

pub use gemm::{
    blocked_order, lower_gemm, lower_gemm_with, GemmOutput, GemmSpec, GemmTiling, LowerError, OperandQuant,
    WeightLayout,
};
pub use image::ImageBuilder;
