//! Userspace driver: the [`Device`] trait (register access, the DDR window,
//! interrupts) and the runtime [`Session`] that runs program bundles on any device.
//!
//! Backends: `GoldenDevice` and `VerilatorDevice` live in `tessera-sim`; the
//! PYNQ/Zynq `UioDevice` arrives with issue #7. [`host`] holds the operators that
//! run on the CPU between accelerator segments.

pub mod device;
pub mod host;
pub mod session;

pub use device::{Device, DeviceError, IrqWait};
pub use session::{DriverError, RunReport, Session};
