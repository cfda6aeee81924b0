//! The `Device` trait: what the runtime needs from an accelerator, whether it is a
//! board (`/dev/uioN` + u-dma-buf), the Verilated RTL or the golden model.
//!
//! The interface is deliberately the board's: 32-bit register reads and writes, one
//! physically contiguous DDR window the accelerator masters, cache maintenance
//! around a run, and waiting for the interrupt. A simulator that implements it is
//! driven by exactly the register sequence a board gets (see [`crate::Session`]).

use std::time::Duration;

/// Why a device access failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// A register access got no response (an AXI4-Lite hang on a board, or the
    /// simulated slave never answered).
    #[error("{backend}: AXI4-Lite {kind} of register {offset:#x} got no response")]
    BusTimeout { backend: String, kind: &'static str, offset: u32 },
    /// The register access completed with an error response (SLVERR/DECERR).
    #[error("{backend}: AXI4-Lite {kind} of register {offset:#x} returned a bus error")]
    BusError { backend: String, kind: &'static str, offset: u32 },
    /// An access outside the DDR window.
    #[error("{backend}: {len} bytes at DDR offset {offset:#x} lie outside the {size:#x}-byte window")]
    OutOfWindow { backend: String, offset: u64, len: usize, size: usize },
    /// Anything the backend's operating-system interface reported.
    #[error("{backend}: {context}: {source}")]
    Os { backend: String, context: String, source: std::io::Error },
    /// A backend-specific failure (e.g. the simulator could not be built).
    #[error("{backend}: {message}")]
    Backend { backend: String, message: String },
}

/// How a wait for the interrupt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IrqWait {
    /// The interrupt line rose.
    Raised,
    /// The timeout passed first.
    TimedOut,
}

/// An accelerator the runtime can drive.
pub trait Device {
    /// Short name of the backend for messages: `golden`, `verilator`, `board`.
    fn backend(&self) -> &str;

    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError>;

    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError>;

    /// Physical (bus) address of the DDR window the accelerator masters: what
    /// `DRAM_BASE` and `PROG_ADDR` are programmed with.
    fn dram_phys_base(&self) -> u64;

    /// The DDR window as the host sees it.
    fn dram(&self) -> &[u8];

    fn dram_mut(&mut self) -> &mut [u8];

    /// Makes host writes to the window visible to the accelerator (cache flush on
    /// a board with a cached buffer; nothing in a simulator).
    fn sync_for_device(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }

    /// Makes the accelerator's writes visible to the host (cache invalidate).
    fn sync_for_cpu(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }

    /// Waits for the interrupt line. `timeout` is device time: wall-clock time on a
    /// board, simulated time (cycles at the config's clock) in a simulator.
    fn wait_irq(&mut self, timeout: Duration) -> Result<IrqWait, DeviceError>;

    /// Cycles since the device was opened, when the backend is cycle-accurate
    /// (used to report the harness-side cycle count next to the hardware counters).
    fn cycle(&self) -> Option<u64> {
        None
    }

    /// Bytes the device moved over its AXI master (reads, writes) since it was
    /// opened, when the backend can see the bus (simulators).
    fn bus_bytes(&self) -> Option<(u64, u64)> {
        None
    }
}

/// Implements `Device` for a pointer type by forwarding every method, so sessions
/// can own a device (`Box<dyn Device>`) or borrow one (`&mut D`).
macro_rules! forward_device {
    ($($ptr:ty),*) => {$(
        impl<D: Device + ?Sized> Device for $ptr {
            fn backend(&self) -> &str {
                (**self).backend()
            }
            fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
                (**self).read_reg(offset)
            }
            fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
                (**self).write_reg(offset, value)
            }
            fn dram_phys_base(&self) -> u64 {
                (**self).dram_phys_base()
            }
            fn dram(&self) -> &[u8] {
                (**self).dram()
            }
            fn dram_mut(&mut self) -> &mut [u8] {
                (**self).dram_mut()
            }
            fn sync_for_device(&mut self) -> Result<(), DeviceError> {
                (**self).sync_for_device()
            }
            fn sync_for_cpu(&mut self) -> Result<(), DeviceError> {
                (**self).sync_for_cpu()
            }
            fn wait_irq(&mut self, timeout: Duration) -> Result<IrqWait, DeviceError> {
                (**self).wait_irq(timeout)
            }
            fn cycle(&self) -> Option<u64> {
                (**self).cycle()
            }
            fn bus_bytes(&self) -> Option<(u64, u64)> {
                (**self).bus_bytes()
            }
        }
    )*};
}

forward_device!(Box<D>, &mut D);
