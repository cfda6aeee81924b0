//! Simulators of the Tessera accelerator.
//!
//! - [`golden`]: the bit-exact functional model of the ISA (fast; runs whole models).
//! - [`verilator`]: the generated RTL, cycle-accurate, with an AXI DDR model.

pub mod golden;
pub mod verilator;

pub use golden::{ExecError, Golden, RunStats};
