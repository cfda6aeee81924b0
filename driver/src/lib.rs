//! Userspace driver: the `Device` trait (register access, DMA buffers, interrupts),
//! the runtime `Session` and the host-fallback kernels, with the PYNQ/Zynq `UioDevice`.
//!
//! Not built yet: issue #4 (the `Device` trait and runtime) and issue #7 (the board
//! backend) own this crate.
