//! RTL generator (rust-hdl) for the Tessera accelerator.

pub mod accumulator;
pub mod alu;
pub mod array;
pub mod controller;
pub mod decode;
pub mod delay;
pub mod dma_read;
pub mod fifo;
pub mod load_engine;
pub mod load_unit;
pub mod operand;
pub mod pe;
pub mod ram;
pub mod regfile;
pub mod requant;
pub mod token_gate;
pub mod verilog;
pub mod widen;
