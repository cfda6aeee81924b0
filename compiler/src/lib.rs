//! The Tessera compiler.
//!
//! - [`gemm`]: lowering of one quantized matrix multiply to a double-buffered program,
//!   and [`gemm_bundle`]: that program with its operands as a bundle;
//! - [`image`]: DDR image layout and program bundles;
//! - [`onnx`]: ONNX files into the [`graph`] IR, whose constants are [`tensor`]s;
//! - [`chain`]: a chain of quantized layers into accelerator GEMMs and host steps.
//!
//! Whole-model bundles, graphs that branch, TFLite import, the tiler with its cost
//! model and the per-layer report are issue #5's remaining work.

pub mod chain;
pub mod gemm;
pub mod gemm_bundle;
pub mod graph;
pub mod image;
pub mod onnx;

pub mod tensor;

pub use gemm::{
    blocked_order, lower_gemm, lower_gemm_with, GemmOutput, GemmSpec, GemmTiling, LowerError, OperandQuant,
    WeightLayout,
};
pub use image::ImageBuilder;
