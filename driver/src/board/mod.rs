//! The board backend: a Tessera accelerator in the programmable logic of a
//! PYNQ/Zynq board, driven from Linux userspace.
//!
//! Each module does one job against one kernel interface, so each can be tested
//! against plain files in a temp dir (every path goes through [`SysRoot`]):
//!
//! - [`uio`]: the register window and the interrupt of `/dev/uioN` (`uio_pdrv_genirq`).
//! - [`udmabuf`]: the physically contiguous DDR window (`/dev/udmabufN`, u-dma-buf).
//! - [`bitstream`]: the Vivado `.bit` header and the byte-swapped `.bin` the kernel loads.
//! - [`hwh`]: the accelerator's address range and interrupt in a Vivado `.hwh`.
//! - [`fpga`]: loading a bitstream through `fpga_manager`, or a device-tree overlay (Kria).
//! - [`device`]: [`UioDevice`], the [`crate::Device`] the runtime drives.
//! - [`fake`]: a fake sysfs/dev tree of those files, for tests without a board.
//!
//! `docs/board.md` says how to set the board up.

pub mod bitstream;
pub mod device;
pub mod fake;
pub mod fpga;
pub mod hwh;
mod sysfs;
pub mod udmabuf;
pub mod uio;

pub use device::{BoardOptions, CacheMode, IrqMode, UioDevice};
pub use sysfs::{parse_int, Radix};

use std::path::{Path, PathBuf};

/// Where the kernel interfaces live. Every board path is built from these, so
/// tests point them at a temp dir; [`SysRoot::default`] is the real system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRoot {
    /// sysfs (`/sys`): `class/uio`, `class/u-dma-buf`, `class/fpga_manager`.
    pub sys: PathBuf,
    /// Device nodes (`/dev`): `uioN`, `udmabufN`.
    pub dev: PathBuf,
    /// Where `fpga_manager` and overlays find their files (`/lib/firmware`).
    pub firmware: PathBuf,
    /// configfs (`/sys/kernel/config`), for device-tree overlays.
    pub configfs: PathBuf,
}

impl Default for SysRoot {
    fn default() -> Self {
        SysRoot::under(Path::new("/"))
    }
}

impl SysRoot {
    /// The usual layout below `prefix` (`prefix/sys`, `prefix/dev`, ...).
    pub fn under(prefix: &Path) -> Self {
        SysRoot {
            sys: prefix.join("sys"),
            dev: prefix.join("dev"),
            firmware: prefix.join("lib/firmware"),
            configfs: prefix.join("sys/kernel/config"),
        }
    }
}

/// Why the board could not be found, set up or opened. Every variant names the
/// file (and the field in it) at fault.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// A file could not be read, written, opened or mapped.
    #[error("{}: cannot {action}: {source}", path.display())]
    Io { path: PathBuf, action: &'static str, source: std::io::Error },
    /// A file was read but a field in it is malformed or unusable.
    #[error("{}: {field}: {message}", path.display())]
    Field { path: PathBuf, field: String, message: String },
    /// A device looked up by name is not there.
    #[error("{message}")]
    NotFound { message: String },
}

impl BoardError {
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        BoardError::Io { path: path.to_path_buf(), action, source }
    }

    pub(crate) fn field(path: &Path, field: &str, message: impl Into<String>) -> Self {
        BoardError::Field { path: path.to_path_buf(), field: field.to_string(), message: message.into() }
    }
}
