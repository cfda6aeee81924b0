//! One `Session` run of a small compiled GEMM on the golden model, the Verilated
//! RTL and a `UioDevice` over a fake board: every backend receives the identical
//! register sequence, and that sequence is the protocol of docs/isa.md §5
//! ("Running a program"), written out here from the documented register map.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tessera_compiler::gemm::OperandQuant;
use tessera_compiler::gemm_bundle::{gemm_bundle, BundleOutput, GemmOperands};
use tessera_driver::board::fake::{poke, FakeBoard};
use tessera_driver::board::{BoardOptions, IrqMode, UioDevice};
use tessera_driver::record::{Recording, Step};
use tessera_driver::{Device, Session};
use tessera_isa::bundle::Bundle;
use tessera_isa::config::AccelConfig;
use tessera_isa::regs;
use tessera_sim::cosim::SIM_DDR_BASE;
use tessera_sim::verilator::BuildOptions;
use tessera_sim::{GoldenDevice, VerilatorDevice};

fn small_gemm(cfg: &AccelConfig) -> Bundle {
    let (m, k, n) = (4, 8, 4);
    let a: Vec<u8> = (0..m * k).map(|i| (i * 7 % 11) as u8).collect();
    let w: Vec<u8> = (0..k * n).map(|i| (i * 5 % 13) as u8).collect();
    let ops = GemmOperands {
        m,
        k,
        n,
        a: &a,
        a_quant: OperandQuant::default(),
        w: &w,
        w_quant: OperandQuant::default(),
        engine: tessera_compiler::engine::Engine::Dense,
    };
    gemm_bundle(cfg, &ops, BundleOutput::Raw32, "board sequence").expect("a 4x8x4 GEMM lowers for tiny").0
}

/// Runs `bundle` through a `Session` on `device` and returns what it was sent.
fn record<D: Device>(device: D, cfg: &AccelConfig, bundle: &Bundle) -> (Vec<Step>, Vec<u8>) {
    let mut session = Session::open(Recording::new(device), cfg).expect("the device is a `tiny` accelerator");
    session.run_bundle(bundle, Duration::from_secs(10)).expect("the GEMM runs");
    let out = bundle.header.tensors.iter().find(|t| t.name == "c").expect("the GEMM's output");
    let c = session.read_tensor(out).unwrap();
    (session.into_device().steps(), c)
}

/// A fake board whose register file reads as a finished `tiny` accelerator, its
/// DDR window a file of `ddr_len` bytes at `SIM_DDR_BASE`.
fn fake_board(dir: &Path, cfg: &AccelConfig, ddr_len: u64) -> (FakeBoard, PathBuf) {
    let board = FakeBoard::new(dir).unwrap();
    let regs_file = board.add_uio(0, "tessera", 0x43c0_0000, 0x1_0000).unwrap();
    board.add_udmabuf("udmabuf0", SIM_DDR_BASE, ddr_len).unwrap();
    for (offset, value) in regs::config_registers(cfg) {
        poke(&regs_file, offset, value).unwrap();
    }
    poke(&regs_file, regs::STATUS, regs::STATUS_DONE).unwrap();
    (board, regs_file)
}

/// The documented sequence for a program of `len` instructions at DDR offset
/// `offset` in a `window`-byte buffer at `SIM_DDR_BASE` (0x2000_0000).
fn documented(offset: u64, len: u32, window: u32) -> Vec<Step> {
    use Step::*;
    let program = 0x2000_0000 + offset as u32;
    let mut steps = vec![
        // 1. ID, VERSION and the configuration registers (all but CFG_AXI).
        Read(0x000),
        Read(0x004),
        Read(0x008),
        Read(0x00c),
        Read(0x010),
        Read(0x014),
        Read(0x018),
        Read(0x01c),
        Read(0x024),
        Read(0x028),
        // Not busy; the buffer handed to the device.
        Read(0x044),
        SyncForDevice,
        // 3. DRAM_BASE_LO/HI, DRAM_SIZE, PROG_ADDR_LO/HI, PROG_LEN.
        Write(0x070, 0x2000_0000),
        Write(0x074, 0),
        Write(0x078, window),
        Write(0x060, program),
        Write(0x064, 0),
        Write(0x068, len),
        // 4. IRQ_STATUS = 3, IRQ_ENABLE = 3. 5. CTRL = START. 6. The interrupt.
        Write(0x054, 3),
        Write(0x050, 3),
        Write(0x040, 1),
        WaitIrq,
        // STATUS, then the interrupt acknowledged.
        Read(0x044),
        Write(0x054, 3),
    ];
    // 8. The eleven 64-bit counters, 0x100..0x158, low word first.
    steps.extend((0x100..0x158).step_by(4).map(Read));
    steps.push(SyncForCpu);
    steps
}

#[test]
fn golden_verilator_and_board_get_the_same_documented_register_sequence() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let bundle = small_gemm(&cfg);
    let ddr_len = bundle.header.dram_bytes as usize;

    let (golden, golden_c) = record(GoldenDevice::new(&cfg, SIM_DDR_BASE, ddr_len), &cfg, &bundle);
    let want = documented(bundle.header.program_offset, bundle.header.program_len, ddr_len as u32);
    assert_eq!(golden, want, "golden: not the documented protocol");

    let rtl = VerilatorDevice::new(&cfg, &BuildOptions::default(), SIM_DDR_BASE, ddr_len).expect("build the RTL model");
    let (verilator, rtl_c) = record(rtl, &cfg, &bundle);
    assert_eq!(verilator, golden, "verilator and golden got different register sequences");
    assert_eq!(rtl_c, golden_c, "and computed the same product");

    let dir = tempfile::tempdir().unwrap();
    let (board, _) = fake_board(dir.path(), &cfg, ddr_len as u64);
    let opts = BoardOptions { irq: IrqMode::Poll, ..BoardOptions::default() };
    let (uio, _) = record(UioDevice::open(&board.root, &opts).unwrap(), &cfg, &bundle);
    assert_eq!(uio, golden, "the board backend got a different register sequence");
}
