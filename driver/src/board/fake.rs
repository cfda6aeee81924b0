//! A fake board: the sysfs attributes and device files of UIO, u-dma-buf and
//! `fpga_manager`, as plain files under a directory, laid out and formatted as
//! the kernel does. Tests (and demos without a board) open a [`super::UioDevice`]
//! on it through [`FakeBoard::root`]; plain files stand in for the register
//! window and the DMA buffer, so what the driver writes can be read back.

use super::SysRoot;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A fake sysfs/dev/firmware tree under one directory.
pub struct FakeBoard {
    pub root: SysRoot,
}

impl FakeBoard {
    /// Makes the tree's top directories under `prefix`.
    pub fn new(prefix: &Path) -> io::Result<Self> {
        let root = SysRoot::under(prefix);
        for dir in [&root.sys, &root.dev, &root.firmware, &root.configfs] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(FakeBoard { root })
    }

    /// Adds `uioN` called `name` with map 0 at `addr`, `size` bytes (as
    /// `uio_pdrv_genirq` prints them); `/dev/uioN` is a zeroed file of `size`
    /// bytes. Returns that file.
    pub fn add_uio(&self, index: u32, name: &str, addr: u64, size: u64) -> io::Result<PathBuf> {
        let dir = self.root.sys.join(format!("class/uio/uio{index}"));
        let map = dir.join("maps/map0");
        std::fs::create_dir_all(&map)?;
        std::fs::write(dir.join("name"), format!("{name}\n"))?;
        std::fs::write(dir.join("version"), "devicetree\n")?;
        std::fs::write(map.join("name"), format!("{name}\n"))?;
        std::fs::write(map.join("addr"), format!("0x{addr:08x}\n"))?;
        std::fs::write(map.join("size"), format!("0x{size:08x}\n"))?;
        std::fs::write(map.join("offset"), "0x0\n")?;
        let dev = self.root.dev.join(format!("uio{index}"));
        zeroed(&dev, size)?;
        Ok(dev)
    }

    /// Adds u-dma-buf buffer `name` at `phys_addr`, `size` bytes, in the current
    /// `class/u-dma-buf` layout with the module's defaults; `/dev/NAME` is a
    /// zeroed file of `size` bytes. Returns the sysfs directory.
    pub fn add_udmabuf(&self, name: &str, phys_addr: u64, size: u64) -> io::Result<PathBuf> {
        self.add_udmabuf_in("u-dma-buf", name, phys_addr, size)
    }

    /// [`Self::add_udmabuf`] in class directory `class` (`udmabuf` for the old module).
    pub fn add_udmabuf_in(&self, class: &str, name: &str, phys_addr: u64, size: u64) -> io::Result<PathBuf> {
        let dir = self.root.sys.join("class").join(class).join(name);
        std::fs::create_dir_all(&dir)?;
        for (attr, value) in [
            ("phys_addr", format!("0x{phys_addr:016x}")),
            ("size", size.to_string()),
            ("sync_mode", "1".into()),
            ("sync_offset", "0x0".into()),
            ("sync_size", size.to_string()),
            ("sync_direction", "0".into()),
            ("sync_owner", "0".into()),
            ("sync_for_cpu", "0".into()),
            ("sync_for_device", "0".into()),
            ("dma_coherent", "0".into()),
        ] {
            std::fs::write(dir.join(attr), format!("{value}\n"))?;
        }
        zeroed(&self.root.dev.join(name), size)?;
        Ok(dir)
    }

    /// Adds `fpga0` in `state`, with the attributes a load writes. Returns its directory.
    pub fn add_fpga_manager(&self, state: &str) -> io::Result<PathBuf> {
        let dir = self.root.sys.join("class/fpga_manager/fpga0");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("name"), "Xilinx Zynq FPGA Manager\n")?;
        std::fs::write(dir.join("state"), format!("{state}\n"))?;
        std::fs::write(dir.join("flags"), "0\n")?;
        std::fs::write(dir.join("firmware"), "")?;
        Ok(dir)
    }
}

fn zeroed(path: &Path, size: u64) -> io::Result<()> {
    std::fs::File::create(path)?.set_len(size)
}

/// Sets register `offset` of a fake register file, as the hardware would.
pub fn poke(regs: &Path, offset: u32, value: u32) -> io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(regs)?.write_all_at(&value.to_ne_bytes(), offset.into())
}

/// Reads register `offset` of a fake register file.
pub fn peek(regs: &Path, offset: u32) -> io::Result<u32> {
    let mut word = [0u8; 4];
    std::fs::File::open(regs)?.read_exact_at(&mut word, offset.into())?;
    Ok(u32::from_ne_bytes(word))
}
