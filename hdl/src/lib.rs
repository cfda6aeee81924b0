//! RTL generator (rust-hdl): PE, systolic array, memories, requant unit, DMA,
//! controller and AXI4-Lite register file, emitted as Verilog from an `AccelConfig`.
//!
//! Not built yet: issue #3 owns this crate. `tessera generate` reports that.
