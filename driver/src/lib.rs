//! Userspace driver: the [`Device`] trait (register access, the DDR window,
//! interrupts) and the runtime [`Session`] that runs program bundles on any device.
//!
//! Backends: `GoldenDevice` and `VerilatorDevice` live in `tessera-sim`; the
//! PYNQ/Zynq `UioDevice` arrives with issue #7.

pub mod device;
pub mod session;

pub use device::{Device, DeviceError, IrqWait};
pub use session::{DriverError, RunReport, Session};
