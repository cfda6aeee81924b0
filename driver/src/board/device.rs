//! [`UioDevice`]: the accelerator on a board, as a [`Device`] the runtime drives.
//!
//! Registers are 32-bit volatile accesses to the UIO register window, the DDR
//! window is a u-dma-buf buffer, and the interrupt comes through the UIO
//! read/write protocol (or, without one, from polling `IRQ_STATUS`). The
//! register protocol itself is [`crate::Session`]'s, shared with the simulators.

use super::udmabuf::{SyncDirection, UdmaBuf};
use super::uio::{self, open_rw, RegisterWindow, UioInfo, UioIrq};
use super::{fpga, BoardError, SysRoot};
use crate::device::{Device, DeviceError, IrqWait};
use std::time::{Duration, Instant};
use tessera_isa::regs;

pub use super::udmabuf::CacheMode;

/// The backend name in messages.
pub const BACKEND: &str = "board";

/// How the end of a run is noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IrqMode {
    /// The UIO interrupt (the device-tree node has `interrupts`).
    #[default]
    Interrupt,
    /// Polling `IRQ_STATUS & IRQ_ENABLE` (the interrupt line's value), for
    /// designs whose interrupt is not wired to the PS.
    Poll,
}

/// Which devices make up the board's accelerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardOptions {
    /// The UIO device's name (`/sys/class/uio/uioN/name`).
    pub uio_name: String,
    /// The u-dma-buf buffer for the DDR window (`/dev/NAME`).
    pub udmabuf: String,
    pub cache: CacheMode,
    pub irq: IrqMode,
}

impl Default for BoardOptions {
    fn default() -> Self {
        BoardOptions {
            uio_name: "tessera".into(),
            udmabuf: "udmabuf0".into(),
            cache: CacheMode::default(),
            irq: IrqMode::default(),
        }
    }
}

/// A Tessera accelerator in the programmable logic, reached through UIO and
/// u-dma-buf.
pub struct UioDevice {
    regs: RegisterWindow,
    irq: Option<UioIrq>,
    buf: UdmaBuf,
    uio: Option<UioInfo>,
}

impl UioDevice {
    /// Opens the UIO device and buffer `opts` names under `root`. Refuses when
    /// `fpga_manager` reports the FPGA unprogrammed: register reads of an empty
    /// fabric can hang the bus.
    pub fn open(root: &SysRoot, opts: &BoardOptions) -> Result<Self, BoardError> {
        fpga::check_programmed(root)?;
        let info = uio::find(root, &opts.uio_name)?;
        let span = info.map_size - info.map_offset;
        if span < u64::from(regs::REG_SPACE_BYTES) {
            let message = format!(
                "the map has {span:#x} bytes of registers; the accelerator's register space is {:#x}",
                regs::REG_SPACE_BYTES
            );
            return Err(BoardError::field(&info.sys_dir.join("maps/map0/size"), "map size", message));
        }
        let file = open_rw(&info.dev_path, 0)?;
        let regs = RegisterWindow::map(&file, &info.dev_path, info.map_size, info.map_offset)?;
        let irq = (opts.irq == IrqMode::Interrupt).then(|| UioIrq::new(file, &info.dev_path));
        let buf = UdmaBuf::open(root, &opts.udmabuf, opts.cache)?;
        Ok(UioDevice { regs, irq, buf, uio: Some(info) })
    }

    /// A device from parts opened elsewhere: the interrupt may come from another
    /// UIO node than the registers (or a test's socket); `None` polls.
    pub fn from_parts(regs: RegisterWindow, irq: Option<UioIrq>, buf: UdmaBuf) -> Self {
        UioDevice { regs, irq, buf, uio: None }
    }

    /// The UIO device, when opened by name.
    pub fn uio(&self) -> Option<&UioInfo> {
        self.uio.as_ref()
    }

    pub fn buffer(&self) -> &UdmaBuf {
        &self.buf
    }

    /// The accelerator's interrupt output: `|(IRQ_STATUS & IRQ_ENABLE)`.
    fn line(&mut self) -> Result<bool, DeviceError> {
        let status = self.read_reg(regs::IRQ_STATUS)?;
        let enable = self.read_reg(regs::IRQ_ENABLE)?;
        Ok(status & enable != 0)
    }

    fn os_error(&self, context: &str, source: std::io::Error) -> DeviceError {
        let path = self.irq.as_ref().map_or_else(String::new, |i| format!("{}: ", i.path().display()));
        DeviceError::Os { backend: BACKEND.into(), context: format!("{path}{context}"), source }
    }
}

impl Device for UioDevice {
    fn backend(&self) -> &str {
        BACKEND
    }

    /// Offsets outside the window or not word aligned are bus errors, as the
    /// simulators' AXI4-Lite slave reports them.
    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        self.regs.read(offset).ok_or(DeviceError::BusError { backend: BACKEND.into(), kind: "read", offset })
    }

    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        self.regs.write(offset, value).ok_or(DeviceError::BusError { backend: BACKEND.into(), kind: "write", offset })
    }

    fn dram_phys_base(&self) -> u64 {
        self.buf.info().phys_addr
    }

    fn dram(&self) -> &[u8] {
        self.buf.as_slice()
    }

    fn dram_mut(&mut self) -> &mut [u8] {
        self.buf.as_mut_slice()
    }

    /// Cleans the CPU cache over the whole window before the accelerator reads it.
    fn sync_for_device(&mut self) -> Result<(), DeviceError> {
        let len = self.buf.as_slice().len() as u64;
        self.buf.sync_for_device(0, len, SyncDirection::ToDevice)
    }

    /// Invalidates the CPU cache over the whole window after the accelerator wrote it.
    fn sync_for_cpu(&mut self) -> Result<(), DeviceError> {
        let len = self.buf.as_slice().len() as u64;
        self.buf.sync_for_cpu(0, len, SyncDirection::FromDevice)
    }

    /// Waits in wall-clock time. A UIO event only counts when the accelerator's
    /// line is really up: an event left over from an earlier, abandoned run is
    /// consumed and the wait goes on.
    fn wait_irq(&mut self, timeout: Duration) -> Result<IrqWait, DeviceError> {
        let deadline = Instant::now() + timeout;
        if self.irq.is_none() {
            loop {
                if self.line()? {
                    return Ok(IrqWait::Raised);
                }
                if Instant::now() >= deadline {
                    return Ok(IrqWait::TimedOut);
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        loop {
            let irq = self.irq.as_mut().expect("checked above");
            if let Err(e) = irq.enable() {
                return Err(self.os_error("enabling the interrupt", e));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let irq = self.irq.as_mut().expect("checked above");
            match irq.wait(left) {
                Ok(None) => return Ok(IrqWait::TimedOut),
                Ok(Some(_count)) if self.line()? => return Ok(IrqWait::Raised),
                Ok(Some(_)) => {}
                Err(e) => return Err(self.os_error("waiting for the interrupt", e)),
            }
        }
    }
}
