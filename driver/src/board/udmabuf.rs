//! `/dev/udmabufN`: the physically contiguous DDR buffer the accelerator masters,
//! allocated by the u-dma-buf kernel module (github.com/ikwzm/udmabuf).
//!
//! sysfs gives its bus address (`phys_addr`, printed `0x...`) and length (`size`,
//! decimal), in `/sys/class/u-dma-buf/NAME` or, for the older `udmabuf` module,
//! `/sys/class/udmabuf/NAME`. The buffer is mapped cached, and the CPU cache is
//! flushed before the accelerator reads it and invalidated before the CPU reads
//! what it wrote: write `sync_offset`, `sync_size`, `sync_direction` (0
//! bidirectional, 1 to device, 2 from device), then 1 to `sync_for_device` or
//! `sync_for_cpu`. Opened with `O_SYNC` the mapping is uncached instead, and
//! when `dma_coherent` reads 1 the hardware keeps caches coherent; neither
//! needs the sync writes.

use super::sysfs::{read_int, write_attr, Radix};
use super::uio::{check_backing, open_rw};
use super::{BoardError, SysRoot};
use crate::device::DeviceError;
use memmap2::{MmapMut, MmapOptions};
use std::path::PathBuf;

/// How the host sees the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Cached mapping, with explicit flush/invalidate around each run (fast host
    /// copies; the default).
    #[default]
    Cached,
    /// Opened with `O_SYNC`: uncached (or write-combined, per the module's
    /// `sync_mode`); no cache maintenance.
    Uncached,
}

/// Which way data moves, as `sync_direction` encodes it (the kernel's
/// `enum dma_data_direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncDirection {
    Bidirectional = 0,
    ToDevice = 1,
    FromDevice = 2,
}

/// What sysfs says about one u-dma-buf buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdmaBufInfo {
    pub name: String,
    /// `/sys/class/u-dma-buf/NAME` (or `/sys/class/udmabuf/NAME`).
    pub sys_dir: PathBuf,
    /// `/dev/NAME`.
    pub dev_path: PathBuf,
    /// Bus address of the first byte: what the accelerator is programmed with.
    pub phys_addr: u64,
    pub size: u64,
    /// `dma_coherent` read 1 (absent on old module versions: not coherent).
    pub dma_coherent: bool,
}

/// The sysfs directories a buffer named `name` may have, newest layout first.
pub fn class_dirs(root: &SysRoot, name: &str) -> [PathBuf; 2] {
    [root.sys.join("class/u-dma-buf").join(name), root.sys.join("class/udmabuf").join(name)]
}

/// Reads the buffer's sysfs attributes.
pub fn find(root: &SysRoot, name: &str) -> Result<UdmaBufInfo, BoardError> {
    let dirs = class_dirs(root, name);
    let Some(sys_dir) = dirs.iter().find(|d| d.is_dir()).cloned() else {
        return Err(BoardError::NotFound {
            message: format!(
                "no u-dma-buf buffer `{name}`: neither {} nor {} exists (load the u-dma-buf module with \
                 {name}=SIZE or a device-tree node; see docs/board.md)",
                dirs[0].display(),
                dirs[1].display()
            ),
        });
    };
    let phys_addr = read_int(&sys_dir.join("phys_addr"), "phys_addr", Radix::Hex)?;
    let size_path = sys_dir.join("size");
    let size = read_int(&size_path, "size", Radix::Decimal)?;
    if size == 0 {
        return Err(BoardError::field(&size_path, "size", "the buffer is empty"));
    }
    let coherent_path = sys_dir.join("dma_coherent");
    let dma_coherent = coherent_path.exists() && read_int(&coherent_path, "dma_coherent", Radix::Decimal)? != 0;
    Ok(UdmaBufInfo { name: name.to_string(), dev_path: root.dev.join(name), sys_dir, phys_addr, size, dma_coherent })
}

/// A mapped u-dma-buf buffer.
pub struct UdmaBuf {
    info: UdmaBufInfo,
    map: MmapMut,
    /// Whether runs need the sync writes (cached mapping, no hardware coherence).
    manual_sync: bool,
}

impl UdmaBuf {
    /// Finds buffer `name` and maps all of it.
    pub fn open(root: &SysRoot, name: &str, cache: CacheMode) -> Result<Self, BoardError> {
        let info = find(root, name)?;
        let flags = match cache {
            CacheMode::Cached => 0,
            CacheMode::Uncached => rustix::fs::OFlags::SYNC.bits() as i32,
        };
        let file = open_rw(&info.dev_path, flags)?;
        let len =
            usize::try_from(info.size).map_err(|_| BoardError::field(&info.sys_dir, "size", "too large to map"))?;
        check_backing(&file, &info.dev_path, info.size)?;
        // SAFETY: a shared mapping of a device buffer that only this process and the
        // accelerator use. The accelerator writes it only between START and the
        // interrupt, when the runtime does not read it; the sync writes order
        // those accesses with the CPU cache.
        let map = unsafe { MmapOptions::new().len(len).map_mut(&file) }
            .map_err(|e| BoardError::io(&info.dev_path, "map", e))?;
        let manual_sync = cache == CacheMode::Cached && !info.dma_coherent;
        Ok(UdmaBuf { info, map, manual_sync })
    }

    pub fn info(&self) -> &UdmaBufInfo {
        &self.info
    }

    /// Whether [`Self::sync_for_device`] and [`Self::sync_for_cpu`] write sysfs
    /// (false for uncached or coherent buffers).
    pub fn needs_sync(&self) -> bool {
        self.manual_sync
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.map
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.map
    }

    /// Hands `len` bytes at `offset` to the accelerator (flushes the CPU cache).
    pub fn sync_for_device(&self, offset: u64, len: u64, dir: SyncDirection) -> Result<(), DeviceError> {
        self.sync("sync_for_device", offset, len, dir)
    }

    /// Hands `len` bytes at `offset` back to the CPU (invalidates the CPU cache).
    pub fn sync_for_cpu(&self, offset: u64, len: u64, dir: SyncDirection) -> Result<(), DeviceError> {
        self.sync("sync_for_cpu", offset, len, dir)
    }

    fn sync(&self, owner: &str, offset: u64, len: u64, dir: SyncDirection) -> Result<(), DeviceError> {
        let size = self.map.len();
        if offset.checked_add(len).is_none_or(|end| end > size as u64) {
            return Err(DeviceError::OutOfWindow {
                backend: super::device::BACKEND.into(),
                offset,
                len: len as usize,
                size,
            });
        }
        if !self.manual_sync {
            return Ok(());
        }
        let dir_value = (dir as u8).to_string();
        let steps = [
            ("sync_offset", offset.to_string()),
            ("sync_size", len.to_string()),
            ("sync_direction", dir_value),
            (owner, "1".to_string()),
        ];
        for (attr, value) in steps {
            let path = self.info.sys_dir.join(attr);
            write_attr(&path, &value).map_err(|e| DeviceError::Backend {
                backend: super::device::BACKEND.into(),
                message: format!("u-dma-buf cache {owner}: {e}"),
            })?;
        }
        Ok(())
    }
}
