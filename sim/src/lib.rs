//! Simulators of the Tessera accelerator.
//!
//! - [`golden`]: the bit-exact functional model of the ISA (fast; runs whole models).
//!
//! The Verilator cosimulation backend joins here with issue #4.

pub mod golden;

pub use golden::{ExecError, Golden, RunStats};
