//! Tessera's shared core, free of any HDL or simulator dependency so that the
//! compiler, the driver and the tools can all use it:
//!
//! - [`config`]: `AccelConfig`, the description of one accelerator instance;
//! - [`isa`]: instruction definitions, 256-bit encoding, static checks, listings;
//! - [`regs`]: the AXI4-Lite register map;
//! - [`bundle`]: the program bundle (`.tsr`) a device runs;
//! - [`nm`]: the N:4 structured-sparse weight tile format;
//! - [`spmv`]: the sparse engine's unstructured-sparse tile format;
//! - [`quant`]: fixed-point and float requantization arithmetic (TFLite / ONNX exact);
//! - [`elementwise`]: TFLite's two-input integer element-wise kernels.

pub mod bundle;
pub mod config;
pub mod elementwise;
pub mod isa;
pub mod nm;
pub mod quant;
pub mod regs;
pub mod spmv;

pub use config::AccelConfig;
pub use isa::{Instr, Program};
