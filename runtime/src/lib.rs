//! The Tessera runtime: runs a compiled model on an accelerator [`tessera_driver::Device`]
//! (a board, the Verilated RTL or the golden model), with the operators the
//! accelerator does not run computed on the host ([`host`]).

pub mod host;
