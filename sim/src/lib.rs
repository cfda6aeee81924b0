//! Simulators of the Tessera accelerator.
//!
//! - [`golden`]: the bit-exact functional model of the ISA (fast; runs whole models).
//! - [`verilator`]: the generated RTL, cycle-accurate, with an AXI DDR model.
//! - [`cosim`]: one program on both, for comparison;
//! - [`regress`]: random programs and shapes for golden-vs-RTL regression.

pub mod cosim;
pub mod golden;
pub mod regress;
pub mod verilator;

pub use golden::{ExecError, Golden, GoldenDevice, RunStats};
pub use verilator::VerilatorDevice;
