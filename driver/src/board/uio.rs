//! `/dev/uioN`: the accelerator's AXI4-Lite register window and its interrupt,
//! exported by the kernel's `uio_pdrv_genirq` driver.
//!
//! A UIO device is found by the name its device-tree node gives it
//! (`/sys/class/uio/uioN/name`), not by number: numbers follow probe order.
//! Map 0 (`maps/map0/{addr,size,offset}`) is the register window, mapped at file
//! offset 0. The interrupt follows the UIO protocol: writing a 4-byte 1 enables
//! it (the generic handler disables it each time it fires), and a 4-byte read
//! blocks until it fires and returns the total event count.

use super::sysfs::{read_attr, read_int, Radix};
use super::{BoardError, SysRoot};
use memmap2::{MmapOptions, MmapRaw};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What sysfs says about one UIO device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UioInfo {
    /// N in `uioN`.
    pub index: u32,
    /// Its `name` (the device-tree node's name).
    pub name: String,
    /// `/sys/class/uio/uioN`.
    pub sys_dir: PathBuf,
    /// `/dev/uioN`.
    pub dev_path: PathBuf,
    /// Physical address of map 0 (`maps/map0/addr`).
    pub map_addr: u64,
    /// Bytes mapped (`maps/map0/size`), including `map_offset`.
    pub map_size: u64,
    /// Where the registers start within the mapping when `map_addr` is not page
    /// aligned (`maps/map0/offset`; 0 when the file is absent, as on old kernels).
    pub map_offset: u64,
}

/// The `class/uio` directory under `root`.
pub fn class_dir(root: &SysRoot) -> PathBuf {
    root.sys.join("class/uio")
}

/// Every UIO device as (index, name), by index.
pub fn list(root: &SysRoot) -> Result<Vec<(u32, String)>, BoardError> {
    let dir = class_dir(root);
    let entries = std::fs::read_dir(&dir).map_err(|e| BoardError::io(&dir, "list", e))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| BoardError::io(&dir, "list", e))?;
        let file_name = entry.file_name();
        let Some(index) = file_name.to_str().and_then(|n| n.strip_prefix("uio")).and_then(|n| n.parse().ok()) else {
            continue;
        };
        found.push((index, read_attr(&entry.path().join("name"))?));
    }
    found.sort();
    Ok(found)
}

/// The UIO device named `name`, with its map 0. When there is none, the error
/// says where it looked and lists the devices that exist.
pub fn find(root: &SysRoot, name: &str) -> Result<UioInfo, BoardError> {
    let dir = class_dir(root);
    if !dir.is_dir() {
        return Err(BoardError::NotFound {
            message: format!(
                "no UIO device named `{name}`: {} does not exist (no UIO driver is loaded; see docs/board.md: \
                 uio_pdrv_genirq with of_id=generic-uio and a device-tree node for the accelerator)",
                dir.display()
            ),
        });
    }
    let all = list(root)?;
    let Some((index, _)) = all.iter().find(|(_, n)| n == name) else {
        let have = if all.is_empty() {
            "it has none".to_string()
        } else {
            let names: Vec<String> = all.iter().map(|(i, n)| format!("uio{i} `{n}`")).collect();
            format!("it has {}", names.join(", "))
        };
        return Err(BoardError::NotFound {
            message: format!("no UIO device named `{name}` in {}: {have}", dir.display()),
        });
    };
    let sys_dir = dir.join(format!("uio{index}"));
    let map = sys_dir.join("maps/map0");
    if !map.is_dir() {
        return Err(BoardError::field(
            &sys_dir,
            "maps/map0",
            "the device has no memory map (no `reg` in its device-tree node?)",
        ));
    }
    let map_offset_path = map.join("offset");
    let map_offset = if map_offset_path.exists() { read_int(&map_offset_path, "map offset", Radix::Hex)? } else { 0 };
    let info = UioInfo {
        index: *index,
        name: name.to_string(),
        dev_path: root.dev.join(format!("uio{index}")),
        map_addr: read_int(&map.join("addr"), "map address", Radix::Hex)?,
        map_size: read_int(&map.join("size"), "map size", Radix::Hex)?,
        map_offset,
        sys_dir,
    };
    if info.map_offset >= info.map_size {
        let message = format!("offset {:#x} lies outside the {:#x}-byte map", info.map_offset, info.map_size);
        return Err(BoardError::field(&map_offset_path, "map offset", message));
    }
    Ok(info)
}

/// A mapped register window: 32-bit volatile accesses, bounds-checked, so an
/// offset past the window is an error instead of a fault.
pub struct RegisterWindow {
    map: MmapRaw,
    /// Where register 0 lies in the mapping.
    base: usize,
    /// Bytes of registers from `base`.
    size: usize,
}

impl RegisterWindow {
    /// Maps `map_size` bytes of `file` (opened read-write) from file offset 0;
    /// registers start `map_offset` bytes in. `path` is for messages.
    pub fn map(file: &File, path: &Path, map_size: u64, map_offset: u64) -> Result<Self, BoardError> {
        let len = usize::try_from(map_size).map_err(|_| BoardError::field(path, "map size", "too large to map"))?;
        if map_offset >= map_size {
            return Err(BoardError::field(
                path,
                "map offset",
                format!("{map_offset:#x} is past the {map_size:#x}-byte map"),
            ));
        }
        if !map_offset.is_multiple_of(4) {
            return Err(BoardError::field(path, "map offset", format!("{map_offset:#x} is not word aligned")));
        }
        check_backing(file, path, map_size)?;
        let map = MmapOptions::new().len(len).map_raw(file).map_err(|e| BoardError::io(path, "map", e))?;
        Ok(RegisterWindow { map, base: map_offset as usize, size: len - map_offset as usize })
    }

    /// Bytes of registers in the window.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Where register `offset` lies in the mapping, when it is word aligned and
    /// inside the window.
    fn index(&self, offset: u32) -> Option<usize> {
        let offset = offset as usize;
        (offset.is_multiple_of(4) && offset + 4 <= self.size).then_some(self.base + offset)
    }

    /// Reads register `offset`; `None` outside the window or unaligned.
    pub fn read(&self, offset: u32) -> Option<u32> {
        let at = self.index(offset)?;
        // SAFETY: `at + 4 <= len` of a live mapping (`index` bounds `offset` by
        // `size = len - base`), and `at` is 4-aligned in a page-aligned mapping
        // (`base` and `offset` are both checked word aligned). Volatile: every access must reach the bus, in program order.
        Some(unsafe { self.map.as_ptr().add(at).cast::<u32>().read_volatile() })
    }

    /// Writes register `offset`; `None` outside the window or unaligned.
    pub fn write(&self, offset: u32, value: u32) -> Option<()> {
        let at = self.index(offset)?;
        // SAFETY: as in `read`; the mapping is writable (`map_raw` of a file opened
        // read-write).
        unsafe { self.map.as_mut_ptr().add(at).cast::<u32>().write_volatile(value) };
        Some(())
    }
}

/// A plain file (a test's stand-in for a device) must be as long as the mapping:
/// touching a mapped page past its end raises SIGBUS. Device nodes report no
/// length and are the kernel's to check.
pub(crate) fn check_backing(file: &File, path: &Path, len: u64) -> Result<(), BoardError> {
    let meta = file.metadata().map_err(|e| BoardError::io(path, "stat", e))?;
    if meta.is_file() && meta.len() < len {
        let message = format!("the file has {} bytes but {len:#x} are to be mapped", meta.len());
        return Err(BoardError::field(path, "size", message));
    }
    Ok(())
}

/// Opens a device node (or a test's file) read-write.
pub(crate) fn open_rw(path: &Path, extra_flags: i32) -> Result<File, BoardError> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(extra_flags)
        .open(path)
        .map_err(|e| BoardError::io(path, "open", e))
}

/// The UIO interrupt of one device: any file descriptor that speaks the UIO
/// read/write protocol (the `/dev/uioN` node; a socket in tests).
pub struct UioIrq {
    file: File,
    path: PathBuf,
}

impl UioIrq {
    pub fn new(file: File, path: impl Into<PathBuf>) -> Self {
        UioIrq { file, path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-enables the interrupt: writes the 32-bit value 1.
    pub fn enable(&mut self) -> io::Result<()> {
        let n = self.file.write(&1u32.to_ne_bytes())?;
        if n != 4 {
            return Err(io::Error::other(format!("wrote {n} of 4 bytes to enable the interrupt")));
        }
        Ok(())
    }

    /// Waits up to `timeout` for the interrupt; returns the event count, or
    /// `None` when the time passed first.
    pub fn wait(&mut self, timeout: Duration) -> io::Result<Option<u32>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ts = Timespec::try_from(left).map_err(io::Error::other)?;
            let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
            match poll(&mut fds, Some(&ts)) {
                Ok(0) => return Ok(None),
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let mut count = [0u8; 4];
        let n = self.file.read(&mut count)?;
        if n != 4 {
            return Err(io::Error::other(format!("read {n} of the 4 bytes of an interrupt count")));
        }
        Ok(Some(u32::from_ne_bytes(count)))
    }
}
