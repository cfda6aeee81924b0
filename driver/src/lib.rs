//! Userspace driver: the [`Device`] trait (register access, the DDR window,
//! interrupts) and the runtime [`Session`] that runs program bundles on any device.
//!
//! Backends: `GoldenDevice` and `VerilatorDevice` live in `tessera-sim`; the
//! board backend, [`board::UioDevice`] (registers and interrupt through
//! `/dev/uioN`, the DDR window in a u-dma-buf buffer, bitstreams through
//! `fpga_manager`), lives in [`board`] — `docs/board.md` says how to set a board
//! up. [`record::Recording`] logs the register protocol a device receives, so
//! tests can show every backend gets the same one.

pub mod board;
pub mod device;
pub mod record;
pub mod session;

pub use device::{Device, DeviceError, IrqWait};
pub use session::{DriverError, RunReport, Session};
