//! RTL generator (rust-hdl) for the Tessera accelerator.

pub mod array;
pub mod decode;
pub mod delay;
pub mod dma_read;
pub mod fifo;
pub mod load_engine;
pub mod pe;
pub mod ram;
pub mod regfile;
pub mod requant;
pub mod verilog;
