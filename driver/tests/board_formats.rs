//! The Vivado files a board build exports: the `.bit` header and its
//! byte-swapped `.bin`, and the accelerator's address and interrupt in a
//! `.hwh`. The `.bit` is built here field by field; the `.hwh` is a hand-written
//! fixture (tests/data) or XML in the test.

use std::path::Path;
use tessera_driver::board::bitstream::{self, BitHeader};
use tessera_driver::board::fake::FakeBoard;
use tessera_driver::board::fpga::load_design;
use tessera_driver::board::hwh::{self, AccelInfo, IrqLine};

/// Configuration data as Vivado writes it: dummy words, the bus-width pattern,
/// the sync word, a NOOP.
const DATA: [u8; 24] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0xbb, 0x11, 0x22, 0x00, 0x44, //
    0xff, 0xff, 0xff, 0xff, 0xaa, 0x99, 0x55, 0x66, 0x20, 0x00, 0x00, 0x00,
];
/// The same words with their bytes reversed, as fpga_manager loads them.
const BIN: [u8; 24] = [
    0xff, 0xff, 0xff, 0xff, 0xbb, 0x00, 0x00, 0x00, 0x44, 0x00, 0x22, 0x11, //
    0xff, 0xff, 0xff, 0xff, 0x66, 0x55, 0x99, 0xaa, 0x00, 0x00, 0x00, 0x20,
];

fn field(key: u8, text: &str) -> Vec<u8> {
    let mut v = vec![key];
    v.extend_from_slice(&(text.len() as u16 + 1).to_be_bytes());
    v.extend_from_slice(text.as_bytes());
    v.push(0);
    v
}

/// A `.bit`: the 13-byte preamble, fields a-d, then e with `data`.
fn bit_file(data: &[u8]) -> Vec<u8> {
    let mut bit = vec![0x00, 0x09, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x0f, 0xf0, 0x00, 0x00, 0x01];
    bit.extend(field(b'a', "tessera_bd_wrapper;UserID=0XFFFFFFFF;Version=2022.2"));
    bit.extend(field(b'b', "7z020clg400"));
    bit.extend(field(b'c', "2024/05/01"));
    bit.extend(field(b'd', "12:34:56"));
    bit.push(b'e');
    bit.extend_from_slice(&(data.len() as u32).to_be_bytes());
    bit.extend_from_slice(data);
    bit
}

#[test]
fn bit_header_fields_and_the_swapped_image() {
    let bit = bit_file(&DATA);
    let path = Path::new("tessera.bit");
    let (header, data) = bitstream::parse_bit(&bit, path).unwrap();
    let want = BitHeader {
        design: "tessera_bd_wrapper;UserID=0XFFFFFFFF;Version=2022.2".into(),
        part: "7z020clg400".into(),
        date: "2024/05/01".into(),
        time: "12:34:56".into(),
    };
    assert_eq!(header, want);
    assert_eq!(header.design_name(), "tessera_bd_wrapper");
    assert_eq!(data, DATA);
    assert_eq!(bitstream::to_bin(data, path).unwrap(), BIN);
}

#[test]
fn bit_and_bin_files_read_to_the_same_image() {
    let dir = tempfile::tempdir().unwrap();
    let (bit, bin, raw) = (dir.path().join("d.bit"), dir.path().join("d.bin"), dir.path().join("raw.bin"));
    std::fs::write(&bit, bit_file(&DATA)).unwrap();
    std::fs::write(&bin, BIN).unwrap();
    std::fs::write(&raw, DATA).unwrap();
    let from_bit = bitstream::read(&bit).unwrap();
    assert_eq!(from_bit.bin, BIN);
    assert_eq!(from_bit.header.unwrap().part, "7z020clg400");
    let from_bin = bitstream::read(&bin).unwrap();
    assert_eq!((from_bin.header, from_bin.bin), (None, BIN.to_vec()));
    // A .bin still in .bit byte order is swapped.
    assert_eq!(bitstream::read(&raw).unwrap().bin, BIN);
}

#[test]
fn bad_bit_files_name_the_field() {
    let p = Path::new("x.bit");
    let err = |bytes: &[u8]| bitstream::parse_bit(bytes, p).unwrap_err().to_string();
    let good = bit_file(&DATA);

    let mut bad_magic = good.clone();
    bad_magic[3] = 0;
    assert_eq!(
        err(&bad_magic),
        "x.bit: header: not a Xilinx .bit file (the first 11 bytes are not 00 09 0f f0 0f f0 0f f0 0f f0 00)"
    );
    // Cut inside field b: 13 preamble bytes, a is 1+2+52, b starts at 68.
    assert_eq!(err(&good[..75]), "x.bit: field b (part): truncated: 12 bytes needed at offset 0x47, the file has 0x4b");
    assert_eq!(err(&good[..5]), "x.bit: header: truncated: 9 bytes needed at offset 0x2, the file has 0x5");
    assert_eq!(
        err(&good[..good.len() - 1]),
        "x.bit: field e (bitstream length): says 24 bytes of configuration data, 23 follow"
    );
    let mut unknown = good.clone();
    unknown[68] = b'z';
    assert_eq!(err(&unknown), "x.bit: header: unknown field key 0x7a at offset 0x44");
    let mut no_time = good[..13].to_vec();
    no_time.extend(field(b'a', "d"));
    no_time.extend(field(b'b', "p"));
    no_time.extend(field(b'c', "c"));
    no_time.extend([b'e', 0, 0, 0, 0]);
    assert_eq!(err(&no_time), "x.bit: field d (time): missing");

    assert_eq!(
        bitstream::to_bin(&DATA[..22], p).unwrap_err().to_string(),
        "x.bit: configuration data: 22 bytes is not a whole number of 32-bit words"
    );
    assert_eq!(
        bitstream::to_bin(&[0xff; 8], p).unwrap_err().to_string(),
        "x.bit: configuration data: no sync word aa 99 55 66"
    );
}

#[test]
fn hwh_gives_address_range_and_interrupt_through_a_concat() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pynq_z2_tessera.hwh");
    let want = AccelInfo {
        instance: "tessera_0".into(),
        modtype: "tessera_top".into(),
        base: 0x43c0_0000,
        high: 0x43c0_ffff,
        // In1 of the concat, after the DMA's one-bit In0: IRQ_F2P[1], IRQ ID 62.
        irq: Some(IrqLine { port: "IRQ_F2P".into(), bit: 1, gic_spi: Some(30) }),
    };
    assert_eq!(hwh::read(&path, "tessera_0").unwrap(), want);
    assert_eq!(hwh::read(&path, "tessera_top").unwrap(), want, "found by MODTYPE too");
    assert_eq!(want.range(), 0x1_0000);
    let dma = hwh::read(&path, "axi_dma_0").unwrap();
    assert_eq!((dma.base, dma.irq.unwrap().bit), (0x4040_0000, 0));
}

const ZYNQMP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<EDKSYSTEM>
  <MODULES>
    <MODULE INSTANCE="zynq_ultra_ps_e_0" MODTYPE="zynq_ultra_ps_e">
      <MEMORYMAP>
        <MEMRANGE BASEVALUE="0xA0000000" HIGHVALUE="0xA000FFFF" INSTANCE="tessera_0" MEMTYPE="REGISTER"/>
      </MEMORYMAP>
      <PORTS>
        <PORT DIR="I" LEFT="0" NAME="pl_ps_irq0" RIGHT="0" SIGIS="INTERRUPT">
          <CONNECTIONS><CONNECTION INSTANCE="tessera_0" PORT="irq"/></CONNECTIONS>
        </PORT>
      </PORTS>
    </MODULE>
    <MODULE INSTANCE="tessera_0" MODTYPE="tessera_top"/>
    <MODULE INSTANCE="tessera_1" MODTYPE="tessera_top"/>
  </MODULES>
</EDKSYSTEM>"#;

#[test]
fn hwh_of_a_zynqmp_with_a_direct_interrupt() {
    let info = hwh::parse(ZYNQMP, Path::new("kv260.hwh"), "tessera_0").unwrap();
    assert_eq!((info.base, info.high), (0xa000_0000, 0xa000_ffff));
    // pl_ps_irq0[0]: IRQ ID 121, SPI 89.
    assert_eq!(info.irq, Some(IrqLine { port: "pl_ps_irq0".into(), bit: 0, gic_spi: Some(89) }));
}

#[test]
fn bad_hwh_files_name_the_module_and_attribute() {
    let p = Path::new("kv260.hwh");
    let err = |text: &str, name: &str| hwh::parse(text, p, name).unwrap_err().to_string();
    assert_eq!(
        err(ZYNQMP, "tessera_top"),
        "kv260.hwh: MODULE: several MODULEs of MODTYPE `tessera_top` (tessera_0, tessera_1): name one by INSTANCE"
    );
    assert_eq!(
        err(ZYNQMP, "accel"),
        "kv260.hwh: MODULE: no MODULE with INSTANCE or MODTYPE `accel`; the design has: \
         zynq_ultra_ps_e_0 (zynq_ultra_ps_e), tessera_0 (tessera_top), tessera_1 (tessera_top)"
    );
    assert_eq!(err(ZYNQMP, "tessera_1"), "kv260.hwh: MEMRANGE of `tessera_1`: none: the accelerator has no address");
    let bad_base = ZYNQMP.replace("0xA0000000", "0xA00O0000");
    assert!(
        err(&bad_base, "tessera_0")
            .starts_with("kv260.hwh: MEMRANGE of `tessera_0`: BASEVALUE: `0xA00O0000` is not a hex number"),
        "{}",
        err(&bad_base, "tessera_0")
    );
    let upside_down = ZYNQMP.replace("0xA000FFFF", "0x9000FFFF");
    assert_eq!(
        err(&upside_down, "tessera_0"),
        "kv260.hwh: MEMRANGE of `tessera_0`: HIGHVALUE 0x9000ffff lies below BASEVALUE 0xa0000000"
    );
    assert!(err("<EDKSYSTEM>", "tessera_0").starts_with("kv260.hwh: XML: "), "{}", err("<EDKSYSTEM>", "x"));
}

#[test]
fn a_design_loads_its_bin_and_reads_its_hwh() {
    let dir = tempfile::tempdir().unwrap();
    let board = FakeBoard::new(&dir.path().join("root")).unwrap();
    let mgr = board.add_fpga_manager("operating").unwrap();
    let bit = dir.path().join("tessera_bd.bit");
    std::fs::write(&bit, bit_file(&DATA)).unwrap();
    let hwh_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pynq_z2_tessera.hwh");
    std::fs::copy(hwh_src, dir.path().join("tessera_bd.hwh")).unwrap();
    let design = load_design(&board.root, &bit, "tessera_0").unwrap();
    assert_eq!(design.header.unwrap().design_name(), "tessera_bd_wrapper");
    assert_eq!(design.accel.unwrap().base, 0x43c0_0000);
    assert_eq!(std::fs::read_to_string(mgr.join("firmware")).unwrap(), "tessera_bd.bin");
    assert_eq!(std::fs::read(board.root.firmware.join("tessera_bd.bin")).unwrap(), BIN);
}
