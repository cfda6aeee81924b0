//! The board backend's file protocols against a fake sysfs/dev tree in a temp
//! dir: UIO discovery, u-dma-buf attributes and cache-sync writes, register
//! accesses, `fpga_manager` loads and configfs overlays. Every expected value is
//! written out here, as the kernel would print or expect it.

use std::path::Path;
use tessera_driver::board::fake::{peek, poke, FakeBoard};
use tessera_driver::board::fpga::{self, FpgaManager, Overlay, Reconfig};
use tessera_driver::board::udmabuf::{self, CacheMode, SyncDirection, UdmaBuf};
use tessera_driver::board::{uio, BoardError, BoardOptions, IrqMode, UioDevice};
use tessera_driver::{Device, DeviceError};

fn board() -> (tempfile::TempDir, FakeBoard) {
    let dir = tempfile::tempdir().unwrap();
    let board = FakeBoard::new(dir.path()).unwrap();
    (dir, board)
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn uio_device_is_found_by_name_among_several() {
    let (_dir, b) = board();
    b.add_uio(0, "axi_dma_0", 0x4040_0000, 0x1_0000).unwrap();
    b.add_uio(1, "tessera", 0x43c0_0000, 0x1_0000).unwrap();
    b.add_uio(2, "gpio", 0x4120_0000, 0x1000).unwrap();
    let info = uio::find(&b.root, "tessera").unwrap();
    assert_eq!(info.index, 1);
    assert_eq!(info.dev_path, b.root.dev.join("uio1"));
    assert_eq!(info.sys_dir, b.root.sys.join("class/uio/uio1"));
    assert_eq!((info.map_addr, info.map_size, info.map_offset), (0x43c0_0000, 0x1_0000, 0));
    let names: Vec<(u32, String)> = uio::list(&b.root).unwrap();
    assert_eq!(names, [(0, "axi_dma_0".into()), (1, "tessera".into()), (2, "gpio".into())]);
}

#[test]
fn a_missing_uio_name_lists_what_exists() {
    let (_dir, b) = board();
    let err = uio::find(&b.root, "tessera").unwrap_err().to_string();
    let class = b.root.sys.join("class/uio");
    assert!(err.starts_with(&format!("no UIO device named `tessera`: {} does not exist", class.display())), "{err}");

    b.add_uio(0, "axi_dma_0", 0x4040_0000, 0x1_0000).unwrap();
    b.add_uio(1, "gpio", 0x4120_0000, 0x1000).unwrap();
    let err = uio::find(&b.root, "tessera").unwrap_err().to_string();
    let want = format!("no UIO device named `tessera` in {}: it has uio0 `axi_dma_0`, uio1 `gpio`", class.display());
    assert_eq!(err, want);
}

#[test]
fn malformed_uio_maps_name_the_file_and_field() {
    let (_dir, b) = board();
    b.add_uio(0, "tessera", 0x43c0_0000, 0x1_0000).unwrap();
    let addr = b.root.sys.join("class/uio/uio0/maps/map0/addr");
    std::fs::write(&addr, "0x43c0zz00\n").unwrap();
    let err = uio::find(&b.root, "tessera").unwrap_err();
    assert!(matches!(&err, BoardError::Field { path, field, .. } if *path == addr && field == "map address"), "{err}");
    assert!(err.to_string().contains("`0x43c0zz00` is not a hex number"), "{err}");

    std::fs::remove_dir_all(b.root.sys.join("class/uio/uio0/maps")).unwrap();
    let err = uio::find(&b.root, "tessera").unwrap_err().to_string();
    assert!(err.contains("maps/map0: the device has no memory map"), "{err}");
}

#[test]
fn udmabuf_attributes_in_both_layouts() {
    let (_dir, b) = board();
    b.add_udmabuf("udmabuf0", 0x1f00_0000, 1 << 20).unwrap();
    let info = udmabuf::find(&b.root, "udmabuf0").unwrap();
    assert_eq!((info.phys_addr, info.size, info.dma_coherent), (0x1f00_0000, 1 << 20, false));
    assert_eq!(info.sys_dir, b.root.sys.join("class/u-dma-buf/udmabuf0"));
    assert_eq!(info.dev_path, b.root.dev.join("udmabuf0"));

    // The old module's class, and a phys_addr without the 0x (read with %x).
    let old = b.add_udmabuf_in("udmabuf", "udmabuf1", 0, 4096).unwrap();
    std::fs::write(old.join("phys_addr"), "1e900000\n").unwrap();
    std::fs::write(old.join("dma_coherent"), "1\n").unwrap();
    let info = udmabuf::find(&b.root, "udmabuf1").unwrap();
    assert_eq!((info.phys_addr, info.size, info.dma_coherent), (0x1e90_0000, 4096, true));
    assert_eq!(info.sys_dir, old);
}

#[test]
fn udmabuf_errors_name_the_file_and_field() {
    let (_dir, b) = board();
    let err = udmabuf::find(&b.root, "udmabuf3").unwrap_err().to_string();
    let (new, old) = (b.root.sys.join("class/u-dma-buf/udmabuf3"), b.root.sys.join("class/udmabuf/udmabuf3"));
    assert!(
        err.starts_with(&format!(
            "no u-dma-buf buffer `udmabuf3`: neither {} nor {} exists",
            new.display(),
            old.display()
        )),
        "{err}"
    );

    let dir = b.add_udmabuf("udmabuf0", 0x1f00_0000, 4096).unwrap();
    std::fs::write(dir.join("size"), "0x\n").unwrap();
    let err = udmabuf::find(&b.root, "udmabuf0").unwrap_err().to_string();
    assert_eq!(err, format!("{}: size: expected a number, found `0x`", dir.join("size").display()));
    std::fs::write(dir.join("size"), "4k\n").unwrap();
    let err = udmabuf::find(&b.root, "udmabuf0").unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: size: `4k` is not a decimal number", dir.join("size").display())), "{err}");
    std::fs::write(dir.join("size"), "4096\n").unwrap();
    std::fs::write(dir.join("phys_addr"), "0xg0000000\n").unwrap();
    let err = udmabuf::find(&b.root, "udmabuf0").unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: phys_addr: `0xg0000000`", dir.join("phys_addr").display())), "{err}");
    std::fs::remove_file(dir.join("phys_addr")).unwrap();
    let err = udmabuf::find(&b.root, "udmabuf0").unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: cannot read", dir.join("phys_addr").display())), "{err}");
}

#[test]
fn cache_sync_writes_offset_size_direction_then_the_owner() {
    let (_dir, b) = board();
    let dir = b.add_udmabuf("udmabuf0", 0x1f00_0000, 65536).unwrap();
    let buf = UdmaBuf::open(&b.root, "udmabuf0", CacheMode::Cached).unwrap();
    assert!(buf.needs_sync());
    buf.sync_for_device(0, 65536, SyncDirection::ToDevice).unwrap();
    assert_eq!(text(&dir.join("sync_offset")), "0");
    assert_eq!(text(&dir.join("sync_size")), "65536");
    assert_eq!(text(&dir.join("sync_direction")), "1");
    assert_eq!(text(&dir.join("sync_for_device")), "1");
    assert_eq!(text(&dir.join("sync_for_cpu")), "0\n", "untouched");

    buf.sync_for_cpu(0x40, 0x80, SyncDirection::FromDevice).unwrap();
    assert_eq!(text(&dir.join("sync_offset")), "64");
    assert_eq!(text(&dir.join("sync_size")), "128");
    assert_eq!(text(&dir.join("sync_direction")), "2");
    assert_eq!(text(&dir.join("sync_for_cpu")), "1");

    // Past the end of the buffer: the DDR window's error, and nothing written.
    let err = buf.sync_for_cpu(65530, 16, SyncDirection::FromDevice).unwrap_err();
    assert!(matches!(err, DeviceError::OutOfWindow { offset: 65530, len: 16, size: 65536, .. }), "{err}");
    assert_eq!(text(&dir.join("sync_offset")), "64");
}

#[test]
fn uncached_and_coherent_buffers_skip_the_sync_writes() {
    let (_dir, b) = board();
    let dir = b.add_udmabuf("udmabuf0", 0x1f00_0000, 4096).unwrap();
    let uncached = UdmaBuf::open(&b.root, "udmabuf0", CacheMode::Uncached).unwrap();
    assert!(!uncached.needs_sync());
    uncached.sync_for_device(0, 4096, SyncDirection::ToDevice).unwrap();
    std::fs::write(dir.join("dma_coherent"), "1\n").unwrap();
    let coherent = UdmaBuf::open(&b.root, "udmabuf0", CacheMode::Cached).unwrap();
    assert!(!coherent.needs_sync());
    coherent.sync_for_cpu(0, 4096, SyncDirection::FromDevice).unwrap();
    assert_eq!(text(&dir.join("sync_for_device")), "0\n");
    assert_eq!(text(&dir.join("sync_for_cpu")), "0\n");
    assert_eq!(text(&dir.join("sync_size")), "4096\n");
}

fn open_fake(b: &FakeBoard) -> UioDevice {
    let opts = BoardOptions { irq: IrqMode::Poll, ..BoardOptions::default() };
    UioDevice::open(&b.root, &opts).unwrap()
}

#[test]
fn registers_land_at_their_offsets_and_the_window_is_bounded() {
    let (_dir, b) = board();
    let regs = b.add_uio(0, "tessera", 0x43c0_0000, 0x1_0000).unwrap();
    let ddr = b.root.dev.join("udmabuf0");
    b.add_udmabuf("udmabuf0", 0x1f00_0000, 8192).unwrap();
    let mut dev = open_fake(&b);
    assert_eq!(dev.backend(), "board");
    assert_eq!(dev.dram_phys_base(), 0x1f00_0000);
    assert_eq!(dev.dram().len(), 8192);

    dev.write_reg(0x060, 0x1f00_0100).unwrap();
    dev.write_reg(0x068, 42).unwrap();
    dev.write_reg(0xfffc, 7).unwrap();
    assert_eq!(peek(&regs, 0x060).unwrap(), 0x1f00_0100);
    assert_eq!(peek(&regs, 0x068).unwrap(), 42);
    assert_eq!(peek(&regs, 0xfffc).unwrap(), 7);
    assert_eq!(peek(&regs, 0x064).unwrap(), 0, "neighbours untouched");
    poke(&regs, 0x044, 0x0000_0206).unwrap();
    assert_eq!(dev.read_reg(0x044).unwrap(), 0x206);

    for (offset, kind) in [(0x1_0000, "read"), (0x62, "read"), (u32::MAX - 3, "read")] {
        let err = dev.read_reg(offset).unwrap_err();
        assert!(matches!(err, DeviceError::BusError { kind: k, offset: o, .. } if k == kind && o == offset), "{err}");
    }
    let err = dev.write_reg(0x1_0000, 1).unwrap_err();
    assert!(matches!(err, DeviceError::BusError { kind: "write", offset: 0x1_0000, .. }), "{err}");

    // The DDR window is the buffer file itself.
    dev.dram_mut()[100..104].copy_from_slice(&[1, 2, 3, 4]);
    drop(dev);
    assert_eq!(&std::fs::read(&ddr).unwrap()[100..104], &[1, 2, 3, 4]);
}

#[test]
fn maps_too_small_for_the_registers_or_their_file_are_refused() {
    let (_dir, b) = board();
    b.add_udmabuf("udmabuf0", 0x1f00_0000, 4096).unwrap();
    b.add_uio(0, "tessera", 0x43c0_0000, 0x100).unwrap();
    let opts = BoardOptions { irq: IrqMode::Poll, ..BoardOptions::default() };
    let err = UioDevice::open(&b.root, &opts).err().unwrap().to_string();
    let size = b.root.sys.join("class/uio/uio0/maps/map0/size");
    assert_eq!(
        err,
        format!(
            "{}: map size: the map has 0x100 bytes of registers; the accelerator's register space is 0x1000",
            size.display()
        )
    );
    // A stand-in file shorter than the map would fault on access: refused.
    let regs = b.add_uio(0, "tessera", 0x43c0_0000, 0x1_0000).unwrap();
    std::fs::File::options().write(true).open(&regs).unwrap().set_len(0x1000).unwrap();
    let err = UioDevice::open(&b.root, &opts).err().unwrap().to_string();
    assert_eq!(err, format!("{}: size: the file has 4096 bytes but 0x10000 are to be mapped", regs.display()));
}

#[test]
fn fpga_manager_load_writes_flags_firmware_and_checks_state() {
    let (_dir, b) = board();
    let mgr_dir = b.add_fpga_manager("operating").unwrap();
    let mgr = FpgaManager::new(&b.root);
    mgr.load(&[0x66, 0x55, 0x99, 0xaa], "tessera.bin", Reconfig::Full).unwrap();
    assert_eq!(text(&mgr_dir.join("flags")), "0");
    assert_eq!(text(&mgr_dir.join("firmware")), "tessera.bin");
    assert_eq!(std::fs::read(b.root.firmware.join("tessera.bin")).unwrap(), [0x66, 0x55, 0x99, 0xaa]);
    mgr.load(&[0; 4], "part.bin", Reconfig::Partial).unwrap();
    assert_eq!(text(&mgr_dir.join("flags")), "1");

    std::fs::write(mgr_dir.join("state"), "write error\n").unwrap();
    let mgr = FpgaManager { settle: std::time::Duration::ZERO, ..FpgaManager::new(&b.root) };
    let err = mgr.load(&[0; 4], "tessera.bin", Reconfig::Full).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: state: reads `write error` after loading tessera.bin, not `operating`",
            mgr_dir.join("state").display()
        )
    );
    let err = mgr.load(&[0; 4], "../etc/x.bin", Reconfig::Full).unwrap_err().to_string();
    assert!(err.ends_with("firmware name: `../etc/x.bin` is not a plain file name"), "{err}");
}

#[test]
fn an_unprogrammed_fpga_or_missing_manager_is_named() {
    let (_dir, b) = board();
    let err = FpgaManager::new(&b.root).load(&[0; 4], "x.bin", Reconfig::Full).unwrap_err().to_string();
    assert!(err.starts_with("no FPGA manager at "), "{err}");
    // No manager: nothing to check before opening (the boot loader programmed it).
    fpga::check_programmed(&b.root).unwrap();

    let mgr_dir = b.add_fpga_manager("unknown").unwrap();
    b.add_uio(0, "tessera", 0x43c0_0000, 0x1_0000).unwrap();
    b.add_udmabuf("udmabuf0", 0x1f00_0000, 4096).unwrap();
    let err = UioDevice::open(&b.root, &BoardOptions::default()).err().unwrap().to_string();
    assert_eq!(
        err,
        format!(
            "{}: state: the FPGA is not programmed (`unknown`, not `operating`): load the bitstream first (--bitstream)",
            mgr_dir.join("state").display()
        )
    );
}

#[test]
fn overlays_copy_their_files_and_name_the_dtbo() {
    let (dir, b) = board();
    let err = Overlay::apply(&b.root, "tessera", Path::new("x.dtbo"), &[]).unwrap_err().to_string();
    assert!(err.ends_with("device-tree/overlays does not exist (mount configfs and use a kernel with overlay support)"));

    std::fs::create_dir_all(b.root.configfs.join("device-tree/overlays")).unwrap();
    let (dtbo, bin) = (dir.path().join("tessera.dtbo"), dir.path().join("tessera.bin"));
    std::fs::write(&dtbo, b"dtbo").unwrap();
    std::fs::write(&bin, b"bin!").unwrap();
    let overlay = Overlay::apply(&b.root, "tessera", &dtbo, &[&bin]).unwrap();
    assert_eq!(overlay.dir, b.root.configfs.join("device-tree/overlays/tessera"));
    assert_eq!(text(&overlay.dir.join("path")), "tessera.dtbo");
    assert_eq!(std::fs::read(b.root.firmware.join("tessera.dtbo")).unwrap(), b"dtbo");
    assert_eq!(std::fs::read(b.root.firmware.join("tessera.bin")).unwrap(), b"bin!");
    let err = Overlay::apply(&b.root, "tessera", &dtbo, &[]).unwrap_err().to_string();
    assert!(err.contains("cannot create the overlay (is one of that name applied?)"), "{err}");
}
