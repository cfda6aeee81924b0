//! Programming the FPGA from Linux: the Xilinx kernel's `fpga_manager` sysfs
//! interface (PYNQ's way, Zynq-7000 and UltraScale+), or a device-tree overlay
//! through configfs (Kria and other `fpga-region` setups).
//!
//! `fpga_manager`: write `flags` (0 full, 1 partial reconfiguration), put the
//! `.bin` in the firmware directory, write its file name to `firmware` (the load
//! happens in that write), and `state` reads `operating` once the fabric runs.
//! Overlay: copy the `.dtbo` (and the `.bin` its `firmware-name` names) into the
//! firmware directory, make `overlays/NAME` in configfs and write the `.dtbo`'s
//! file name to its `path`; `status` reads `applied`.

use super::sysfs::{read_attr, write_attr};
use super::{bitstream, hwh, BoardError, SysRoot};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Full or partial reconfiguration (`fpga_manager`'s `flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reconfig {
    #[default]
    Full = 0,
    Partial = 1,
}

/// One FPGA manager (`/sys/class/fpga_manager/fpgaN`).
#[derive(Debug, Clone)]
pub struct FpgaManager {
    pub dir: PathBuf,
    pub firmware_dir: PathBuf,
    /// How long `state` may take to read `operating` after the load.
    pub settle: Duration,
}

impl FpgaManager {
    /// `fpga0`, the PS's configuration port on Zynq boards.
    pub fn new(root: &SysRoot) -> Self {
        FpgaManager::named(root, "fpga0")
    }

    pub fn named(root: &SysRoot, name: &str) -> Self {
        FpgaManager {
            dir: root.sys.join("class/fpga_manager").join(name),
            firmware_dir: root.firmware.clone(),
            settle: Duration::from_secs(2),
        }
    }

    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// The manager's `state` (`operating`, `unknown`, `write error`, ...).
    pub fn state(&self) -> Result<String, BoardError> {
        read_attr(&self.dir.join("state"))
    }

    /// Loads `bin` (byte-swapped, see [`bitstream::to_bin`]) as firmware file
    /// `firmware_name` and waits for `state` to read `operating`.
    pub fn load(&self, bin: &[u8], firmware_name: &str, reconfig: Reconfig) -> Result<(), BoardError> {
        if !self.exists() {
            return Err(BoardError::NotFound {
                message: format!(
                    "no FPGA manager at {} (a kernel with the Xilinx fpga_manager driver is needed)",
                    self.dir.display()
                ),
            });
        }
        let target = firmware_path(&self.firmware_dir, firmware_name)?;
        write_attr(&self.dir.join("flags"), &(reconfig as u8).to_string())?;
        std::fs::write(&target, bin).map_err(|e| BoardError::io(&target, "write", e))?;
        write_attr(&self.dir.join("firmware"), firmware_name)?;
        let deadline = Instant::now() + self.settle;
        loop {
            let state = self.state()?;
            if state == "operating" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let message = format!("reads `{state}` after loading {firmware_name}, not `operating`");
                return Err(BoardError::field(&self.dir.join("state"), "state", message));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// `dir/name`, refusing names that are not plain file names (the kernel looks
/// them up relative to its firmware path).
fn firmware_path(dir: &Path, name: &str) -> Result<PathBuf, BoardError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        let message = format!("`{name}` is not a plain file name");
        return Err(BoardError::field(dir, "firmware name", message));
    }
    Ok(dir.join(name))
}

/// Refuses to go on when `fpga0` exists and is not `operating`: reading the
/// registers of an unprogrammed fabric can hang the interconnect. Without an
/// FPGA manager (bitstream loaded by the boot loader) there is nothing to check.
pub fn check_programmed(root: &SysRoot) -> Result<(), BoardError> {
    let mgr = FpgaManager::new(root);
    let state_path = mgr.dir.join("state");
    if !state_path.exists() {
        return Ok(());
    }
    match mgr.state()?.as_str() {
        "operating" => Ok(()),
        state => Err(BoardError::field(
            &state_path,
            "state",
            format!("the FPGA is not programmed (`{state}`, not `operating`): load the bitstream first (--bitstream)"),
        )),
    }
}

/// A design loaded by [`load_design`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedDesign {
    pub bitstream: PathBuf,
    pub header: Option<bitstream::BitHeader>,
    /// The accelerator in the `.hwh` beside the `.bit`, when there is one.
    pub accel: Option<hwh::AccelInfo>,
}

/// Loads a PYNQ-style `.bit` (+ `.hwh` with the same stem, if present) or a
/// `.bin` through `fpga0`; `accel` names the accelerator in the `.hwh`.
pub fn load_design(root: &SysRoot, bit: &Path, accel: &str) -> Result<LoadedDesign, BoardError> {
    let image = bitstream::read(bit)?;
    let hwh_path = bit.with_extension("hwh");
    let accel = if hwh_path.exists() { Some(hwh::read(&hwh_path, accel)?) } else { None };
    let stem = bit.file_stem().and_then(|s| s.to_str()).unwrap_or("tessera");
    FpgaManager::new(root).load(&image.bin, &format!("{stem}.bin"), Reconfig::Full)?;
    Ok(LoadedDesign { bitstream: bit.to_path_buf(), header: image.header, accel })
}

/// An applied device-tree overlay (configfs `device-tree/overlays/NAME`).
#[derive(Debug)]
pub struct Overlay {
    pub dir: PathBuf,
}

impl Overlay {
    /// Copies `dtbo` and `firmware` (e.g. the `.bin` the overlay's
    /// `firmware-name` names) into the firmware directory and applies the
    /// overlay as `name`.
    pub fn apply(root: &SysRoot, name: &str, dtbo: &Path, firmware: &[&Path]) -> Result<Overlay, BoardError> {
        let overlays = root.configfs.join("device-tree/overlays");
        if !overlays.is_dir() {
            return Err(BoardError::NotFound {
                message: format!(
                    "{} does not exist (mount configfs and use a kernel with overlay support)",
                    overlays.display()
                ),
            });
        }
        for file in std::iter::once(&dtbo).chain(firmware) {
            let file_name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let target = firmware_path(&root.firmware, file_name)?;
            std::fs::copy(file, &target).map_err(|e| BoardError::io(file, "copy into the firmware directory", e))?;
        }
        let dir = overlays.join(name);
        std::fs::create_dir(&dir)
            .map_err(|e| BoardError::io(&dir, "create the overlay (is one of that name applied?)", e))?;
        let dtbo_name = dtbo.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // configfs makes `path` with the directory; a plain directory in tests does not.
        let path = dir.join("path");
        std::fs::write(&path, dtbo_name).map_err(|e| BoardError::io(&path, "write", e))?;
        let status = dir.join("status");
        if status.exists() && read_attr(&status)? != "applied" {
            let message = format!("reads `{}` after writing {dtbo_name} to path, not `applied`", read_attr(&status)?);
            return Err(BoardError::field(&status, "status", message));
        }
        Ok(Overlay { dir })
    }

    /// Removes the overlay (and with it the devices it added).
    pub fn remove(self) -> Result<(), BoardError> {
        std::fs::remove_dir(&self.dir).map_err(|e| BoardError::io(&self.dir, "remove the overlay", e))
    }
}
