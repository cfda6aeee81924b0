//! `UioDevice` under the runtime: the UIO interrupt protocol (over a socket pair
//! standing in for `/dev/uioN`), and `Session` opening, running and failing on a
//! fake board whose register file the test sets as the hardware would.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tessera_driver::board::fake::{peek, poke, FakeBoard};
use tessera_driver::board::udmabuf::{CacheMode, UdmaBuf};
use tessera_driver::board::uio::{RegisterWindow, UioIrq};
use tessera_driver::board::{BoardOptions, IrqMode, UioDevice};
use tessera_driver::{Device, DriverError, IrqWait, Session};
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::{self, ErrorCode};

struct Fake {
    _dir: tempfile::TempDir,
    board: FakeBoard,
    regs: PathBuf,
    udmabuf: PathBuf,
}

const PHYS: u64 = 0x1f00_0000;
const DDR: u64 = 64 * 1024;

fn fake() -> Fake {
    let dir = tempfile::tempdir().unwrap();
    let board = FakeBoard::new(dir.path()).unwrap();
    let regs = board.add_uio(0, "tessera", 0x43c0_0000, 0x1_0000).unwrap();
    let udmabuf = board.add_udmabuf("udmabuf0", PHYS, DDR).unwrap();
    Fake { _dir: dir, board, regs, udmabuf }
}

/// A device whose interrupt is the returned socket's peer.
fn with_socket_irq(f: &Fake) -> (UioDevice, UnixStream) {
    let file = File::options().read(true).write(true).open(&f.regs).unwrap();
    let regs = RegisterWindow::map(&file, &f.regs, 0x1_0000, 0).unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let irq = UioIrq::new(File::from(OwnedFd::from(ours)), "socket");
    let buf = UdmaBuf::open(&f.board.root, "udmabuf0", CacheMode::Cached).unwrap();
    (UioDevice::from_parts(regs, Some(irq), buf), theirs)
}

fn read_enable(peer: &mut UnixStream) -> u32 {
    let mut word = [0u8; 4];
    peer.read_exact(&mut word).unwrap();
    u32::from_ne_bytes(word)
}

#[test]
fn the_interrupt_is_enabled_then_waited_for() {
    let f = fake();
    let (mut dev, mut peer) = with_socket_irq(&f);
    let regs = f.regs.clone();
    let hw = std::thread::spawn(move || {
        assert_eq!(read_enable(&mut peer), 1, "the UIO enable word");
        // The accelerator finishes: its line is IRQ_STATUS & IRQ_ENABLE.
        poke(&regs, regs::IRQ_ENABLE, 3).unwrap();
        poke(&regs, regs::IRQ_STATUS, regs::IRQ_DONE).unwrap();
        peer.write_all(&1u32.to_ne_bytes()).unwrap();
        peer
    });
    assert_eq!(dev.wait_irq(Duration::from_secs(10)).unwrap(), IrqWait::Raised);
    hw.join().unwrap();
}

#[test]
fn a_wait_without_an_interrupt_times_out() {
    let f = fake();
    let (mut dev, mut peer) = with_socket_irq(&f);
    let started = Instant::now();
    assert_eq!(dev.wait_irq(Duration::from_millis(50)).unwrap(), IrqWait::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(read_enable(&mut peer), 1, "enabled before waiting");
}

#[test]
fn a_stale_event_is_consumed_and_the_wait_goes_on() {
    let f = fake();
    let (mut dev, mut peer) = with_socket_irq(&f);
    let regs = f.regs.clone();
    let hw = std::thread::spawn(move || {
        assert_eq!(read_enable(&mut peer), 1);
        // An event left from an earlier run: the line is low.
        peer.write_all(&7u32.to_ne_bytes()).unwrap();
        assert_eq!(read_enable(&mut peer), 1, "re-enabled after the stale event");
        poke(&regs, regs::IRQ_ENABLE, 3).unwrap();
        poke(&regs, regs::IRQ_STATUS, regs::IRQ_ERROR).unwrap();
        peer.write_all(&8u32.to_ne_bytes()).unwrap();
    });
    assert_eq!(dev.wait_irq(Duration::from_secs(10)).unwrap(), IrqWait::Raised);
    hw.join().unwrap();
}

#[test]
fn polling_reads_the_interrupt_line() {
    let f = fake();
    let mut dev = open(&f);
    assert_eq!(dev.wait_irq(Duration::from_millis(5)).unwrap(), IrqWait::TimedOut);
    poke(&f.regs, regs::IRQ_STATUS, regs::IRQ_DONE).unwrap();
    assert_eq!(dev.wait_irq(Duration::from_millis(5)).unwrap(), IrqWait::TimedOut, "not enabled");
    poke(&f.regs, regs::IRQ_ENABLE, regs::IRQ_DONE).unwrap();
    assert_eq!(dev.wait_irq(Duration::from_millis(5)).unwrap(), IrqWait::Raised);
}

fn open(f: &Fake) -> UioDevice {
    UioDevice::open(&f.board.root, &BoardOptions { irq: IrqMode::Poll, ..BoardOptions::default() }).unwrap()
}

/// Sets the identification registers `cfg`'s accelerator has.
fn identify_as(regs: &Path, cfg: &AccelConfig) {
    for (offset, value) in regs::config_registers(cfg) {
        poke(regs, offset, value).unwrap();
    }
}

fn tiny() -> AccelConfig {
    AccelConfig::builtin("tiny").unwrap()
}

#[test]
fn session_runs_through_the_register_file() {
    let f = fake();
    identify_as(&f.regs, &tiny());
    // A finished accelerator: DONE, and the W1C/enable registers keep what is
    // written, so the line reads high once the session enables it.
    poke(&f.regs, regs::STATUS, regs::STATUS_DONE).unwrap();
    poke(&f.regs, 0x128, 1234).unwrap(); // CNT_INSTRS_LO (docs/isa.md §5)
    let mut session = Session::open(open(&f), &tiny()).unwrap();
    session.write_dram(0x100, &[9; 32]).unwrap();
    let report = session.run(0x100, 3, Duration::from_secs(1)).unwrap();
    assert_eq!(report.counter(regs::Counter::Instructions), 1234);

    let expect = [
        (regs::DRAM_BASE_LO, 0x1f00_0000),
        (regs::DRAM_BASE_HI, 0),
        (regs::DRAM_SIZE, 65536),
        (regs::PROG_ADDR_LO, 0x1f00_0100),
        (regs::PROG_ADDR_HI, 0),
        (regs::PROG_LEN, 3),
        (regs::IRQ_ENABLE, 3),
        (regs::IRQ_STATUS, 3),
        (regs::CTRL, regs::CTRL_START),
    ];
    for (offset, value) in expect {
        assert_eq!(peek(&f.regs, offset).unwrap(), value, "register {offset:#x}");
    }
    // Flushed before the run, invalidated after: the last sync was for the CPU.
    let attr = |name: &str| std::fs::read_to_string(f.udmabuf.join(name)).unwrap();
    assert_eq!((attr("sync_for_device"), attr("sync_for_cpu")), ("1".into(), "1".into()));
    assert_eq!(
        (attr("sync_offset"), attr("sync_size"), attr("sync_direction")),
        ("0".into(), "65536".into(), "2".into())
    );
    let ddr = std::fs::read(f.board.root.dev.join("udmabuf0")).unwrap();
    assert_eq!(&ddr[0x100..0x120], &[9; 32]);
}

#[test]
fn session_refuses_another_config_naming_both() {
    let f = fake();
    let pynq = AccelConfig::builtin("pynq-z2").unwrap();
    identify_as(&f.regs, &pynq);
    let err = Session::open(open(&f), &tiny()).err().unwrap();
    assert!(matches!(&err, DriverError::ConfigMismatch { program, .. } if program == "tiny"), "{err}");
    let text = err.to_string();
    assert!(text.starts_with("board: the program was compiled for config `tiny`"), "{text}");
    assert!(text.contains("CFG_HASH: accelerator"), "{text}");
}

#[test]
fn an_empty_fabric_reads_as_no_accelerator() {
    let f = fake();
    poke(&f.regs, regs::ID, 0xffff_ffff).unwrap();
    let err = Session::open(open(&f), &tiny()).err().unwrap();
    assert!(matches!(err, DriverError::NotTessera { found: 0xffff_ffff, .. }), "{err}");
    assert!(err.to_string().ends_with("no accelerator answers at this address (is the bitstream loaded?)"), "{err}");
}

#[test]
fn hardware_errors_and_hangs_surface_as_driver_errors() {
    let f = fake();
    identify_as(&f.regs, &tiny());
    let status = regs::STATUS_ERROR | ((ErrorCode::BadField as u32) << regs::STATUS_CODE_SHIFT);
    poke(&f.regs, regs::STATUS, status).unwrap();
    poke(&f.regs, regs::ERROR_PC, 5).unwrap();
    poke(&f.regs, regs::ERROR_INFO, 0x77).unwrap();
    let mut session = Session::open(open(&f), &tiny()).unwrap();
    let err = session.run(0, 6, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, DriverError::Hardware { code: ErrorCode::BadField, pc: 5, info: 0x77, .. }), "{err}");

    // Busy before START: refused.
    poke(&f.regs, regs::STATUS, regs::STATUS_BUSY).unwrap();
    let err = session.run(0, 6, Duration::from_millis(30)).unwrap_err();
    assert!(matches!(err, DriverError::Busy { status: 1, .. }), "busy before START: {err}");
    // START that never raises the interrupt (the UIO socket stays silent) and a
    // STATUS that never settles: a timeout, after the wall-clock time.
    poke(&f.regs, regs::STATUS, 0).unwrap();
    let (dev, _peer) = with_socket_irq(&f);
    let mut session = Session::open(dev, &tiny()).unwrap();
    let started = Instant::now();
    let err = session.run(0, 6, Duration::from_millis(30)).unwrap_err();
    assert!(matches!(err, DriverError::Timeout { status: 0, .. }), "never started: {err}");
    assert!(started.elapsed() >= Duration::from_millis(30));
}
