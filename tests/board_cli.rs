//! `tessera run --backend board`: without UIO it says what it looked for; over a
//! fake board tree (`TESSERA_BOARD_ROOT`) its options reach the device and the
//! bundle's run lands in the register and buffer files.

mod common;

use common::tessera;
use std::process::{Command, Output};
use tessera_driver::board::fake::{peek, poke, FakeBoard};
use tessera_isa::bundle::Bundle;
use tessera_isa::config::AccelConfig;
use tessera_isa::regs;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `tessera ARGS` with the board tree at `root`.
fn tessera_on(root: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_BOARD_ROOT", root)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("tessera runs")
}

/// A tiny GEMM bundle saved by `bench gemm` (golden backend).
fn saved_bundle(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("gemm.tsr");
    let p = path.to_str().unwrap();
    let out =
        tessera(["bench", "gemm", "-c", "tiny", "-m", "5", "-n", "4", "-k", "6", "--backend", "golden", "--save", p]);
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

#[test]
fn without_uio_the_board_backend_says_what_it_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = saved_bundle(dir.path());
    let empty = dir.path().join("no-board");
    std::fs::create_dir(&empty).unwrap();
    let out = tessera_on(&empty, &["run", bundle.to_str().unwrap(), "--backend", "board"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let want = format!(
        "error: board backend: no UIO device named `tessera`: {} does not exist",
        empty.join("sys/class/uio").display()
    );
    assert!(stderr(&out).starts_with(&want), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn run_on_a_fake_board_programs_the_registers_and_fills_the_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let bundle_path = saved_bundle(dir.path());
    let bundle = Bundle::load(&bundle_path).unwrap();
    let prefix = dir.path().join("board");
    let board = FakeBoard::new(&prefix).unwrap();
    board.add_uio(0, "axi_dma", 0x4040_0000, 0x1_0000).unwrap();
    let regs_file = board.add_uio(1, "accel", 0x43c0_0000, 0x1_0000).unwrap();
    let buf_dir = board.add_udmabuf("udmabuf1", 0x3000_0000, 1 << 20).unwrap();
    board.add_fpga_manager("operating").unwrap();
    for (offset, value) in regs::config_registers(&AccelConfig::builtin("tiny").unwrap()) {
        poke(&regs_file, offset, value).unwrap();
    }
    poke(&regs_file, regs::STATUS, regs::STATUS_DONE).unwrap();

    let args = ["run", bundle_path.to_str().unwrap(), "--backend", "board"];
    let out = tessera_on(&prefix, &[&args[..], &["--uio-name", "accel", "--udmabuf", "udmabuf1", "--poll"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(Board backend)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let program = 0x3000_0000 + bundle.header.program_offset as u32;
    for (offset, value) in [
        (regs::DRAM_BASE_LO, 0x3000_0000),
        (regs::DRAM_SIZE, 1 << 20),
        (regs::PROG_ADDR_LO, program),
        (regs::PROG_LEN, bundle.header.program_len),
        (regs::CTRL, regs::CTRL_START),
    ] {
        assert_eq!(peek(&regs_file, offset).unwrap(), value, "register {offset:#x}");
    }
    let ddr = std::fs::read(board.root.dev.join("udmabuf1")).unwrap();
    assert_eq!(&ddr[..bundle.image.len()], &bundle.image[..], "the bundle's DDR image");
    assert_eq!(std::fs::read_to_string(buf_dir.join("sync_for_device")).unwrap(), "1");
    assert_eq!(std::fs::read_to_string(buf_dir.join("sync_for_cpu")).unwrap(), "1");

    // The same tree with the FPGA unprogrammed: refused before any register access.
    std::fs::write(board.root.sys.join("class/fpga_manager/fpga0/state"), "unknown\n").unwrap();
    let out = tessera_on(&prefix, &[&args[..], &["--uio-name", "accel", "--udmabuf", "udmabuf1"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("the FPGA is not programmed (`unknown`, not `operating`)"), "{}", stderr(&out));
}
