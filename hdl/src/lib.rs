//! RTL generator (rust-hdl) for the Tessera accelerator.

pub mod array;
pub mod delay;
pub mod pe;
pub mod ram;
pub mod regfile;
pub mod requant;
pub mod verilog;
