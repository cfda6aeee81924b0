//! The AXI4-Lite register map (32-bit registers, byte offsets). One table drives the
//! RTL register file, the simulators, the driver and the table in `docs/isa.md`.

use crate::config::AccelConfig;
use crate::isa::{ISA_MAJOR, ISA_MINOR};

/// Value of the `ID` register: ASCII "TSRA".
pub const ID_MAGIC: u32 = 0x5453_5241;
/// Bytes of address space the register file decodes.
pub const REG_SPACE_BYTES: u32 = 0x1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
    /// Write-one-to-clear.
    W1C,
    /// Write-only; reads return 0.
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    pub name: &'static str,
    pub offset: u32,
    pub access: Access,
    pub doc: &'static str,
}

const fn reg(name: &'static str, offset: u32, access: Access, doc: &'static str) -> Register {
    Register { name, offset, access, doc }
}

use Access::*;

pub const ID: u32 = 0x000;
pub const VERSION: u32 = 0x004;
pub const CFG_ARRAY: u32 = 0x008;
pub const CFG_IBUF: u32 = 0x00c;
pub const CFG_WBUF: u32 = 0x010;
pub const CFG_ACC: u32 = 0x014;
pub const CFG_PBUF: u32 = 0x018;
pub const CFG_QUEUES: u32 = 0x01c;
pub const CFG_AXI: u32 = 0x020;
pub const CFG_SPARSE: u32 = 0x024;
pub const CFG_HASH: u32 = 0x028;
pub const CTRL: u32 = 0x040;
pub const STATUS: u32 = 0x044;
pub const ERROR_PC: u32 = 0x048;
pub const ERROR_INFO: u32 = 0x04c;
pub const IRQ_ENABLE: u32 = 0x050;
pub const IRQ_STATUS: u32 = 0x054;
pub const PROG_ADDR_LO: u32 = 0x060;
pub const PROG_ADDR_HI: u32 = 0x064;
pub const PROG_LEN: u32 = 0x068;
pub const DRAM_BASE_LO: u32 = 0x070;
pub const DRAM_BASE_HI: u32 = 0x074;
pub const DRAM_SIZE: u32 = 0x078;

/// `CTRL` bits.
pub const CTRL_START: u32 = 1 << 0;
pub const CTRL_SOFT_RESET: u32 = 1 << 1;
/// `STATUS` bits; the error code sits in bits 15:8.
pub const STATUS_BUSY: u32 = 1 << 0;
pub const STATUS_DONE: u32 = 1 << 1;
pub const STATUS_ERROR: u32 = 1 << 2;
pub const STATUS_CODE_SHIFT: u32 = 8;
/// `IRQ_ENABLE` / `IRQ_STATUS` bits.
pub const IRQ_DONE: u32 = 1 << 0;
pub const IRQ_ERROR: u32 = 1 << 1;

/// Performance counters: 64 bits each, `_LO` at the offset and `_HI` at offset + 4.
/// They reset on START and stop counting at DONE; read them while idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Cycles from START to DONE.
    Cycles,
    /// Cycles the array streamed activation vectors.
    ComputeBusy,
    /// Multiply-accumulates issued (vectors x rows x cols).
    Macs,
    /// Bytes read from DDR by LOADs (instruction fetch excluded).
    DmaReadBytes,
    /// Bytes written to DDR by STOREs.
    DmaWriteBytes,
    /// Instructions retired.
    Instructions,
    /// Cycles a queue head waited for a dependency token (load, compute, store).
    LoadTokenStall,
    ComputeTokenStall,
    StoreTokenStall,
    /// Cycles a unit waited for DDR read data or write responses.
    DmaStall,
    /// Cycles the dispatcher waited for instruction fetch or a full queue.
    FetchStall,
}

impl Counter {
    pub const ALL: [Counter; 11] = [
        Counter::Cycles,
        Counter::ComputeBusy,
        Counter::Macs,
        Counter::DmaReadBytes,
        Counter::DmaWriteBytes,
        Counter::Instructions,
        Counter::LoadTokenStall,
        Counter::ComputeTokenStall,
        Counter::StoreTokenStall,
        Counter::DmaStall,
        Counter::FetchStall,
    ];

    pub fn offset(self) -> u32 {
        0x100 + 8 * Counter::ALL.iter().position(|c| *c == self).expect("counter listed in ALL") as u32
    }

    pub fn name(self) -> &'static str {
        match self {
            Counter::Cycles => "CNT_CYCLES",
            Counter::ComputeBusy => "CNT_COMPUTE_BUSY",
            Counter::Macs => "CNT_MACS",
            Counter::DmaReadBytes => "CNT_DMA_RD_BYTES",
            Counter::DmaWriteBytes => "CNT_DMA_WR_BYTES",
            Counter::Instructions => "CNT_INSTRS",
            Counter::LoadTokenStall => "CNT_STALL_LOAD_TOKEN",
            Counter::ComputeTokenStall => "CNT_STALL_COMPUTE_TOKEN",
            Counter::StoreTokenStall => "CNT_STALL_STORE_TOKEN",
            Counter::DmaStall => "CNT_STALL_DMA",
            Counter::FetchStall => "CNT_STALL_FETCH",
        }
    }

    pub fn doc(self) -> &'static str {
        match self {
            Counter::Cycles => "cycles from START to DONE",
            Counter::ComputeBusy => "cycles the array streamed activation vectors",
            Counter::Macs => "multiply-accumulates issued (vectors x rows x cols)",
            Counter::DmaReadBytes => "bytes LOADs read from DDR (instruction fetch excluded)",
            Counter::DmaWriteBytes => "bytes STOREs wrote to DDR",
            Counter::Instructions => "instructions retired",
            Counter::LoadTokenStall => "cycles the load queue head waited for a token",
            Counter::ComputeTokenStall => "cycles the compute queue head waited for a token",
            Counter::StoreTokenStall => "cycles the store queue head waited for a token",
            Counter::DmaStall => "cycles a unit waited for DDR data or write responses",
            Counter::FetchStall => "cycles the dispatcher waited for fetch or a full queue",
        }
    }
}

/// Error codes reported in `STATUS[15:8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorCode {
    None = 0,
    /// Unknown opcode, invalid enum value or reserved bits set.
    BadInstruction = 1,
    /// A field out of range for this configuration (lanes, SRAM address, zero point...).
    BadField = 2,
    /// Every unit waits for a token that can never arrive.
    Deadlock = 3,
    /// The program ended (PROG_LEN reached) without FINISH.
    NoFinish = 4,
    /// An AXI read returned SLVERR/DECERR, or a DDR access left the DRAM window.
    DmaRead = 5,
    /// An AXI write returned SLVERR/DECERR.
    DmaWrite = 6,
    /// `reuse_weights` named a tile other than the one in the array.
    WeightReuse = 7,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 8] = [
        ErrorCode::None,
        ErrorCode::BadInstruction,
        ErrorCode::BadField,
        ErrorCode::Deadlock,
        ErrorCode::NoFinish,
        ErrorCode::DmaRead,
        ErrorCode::DmaWrite,
        ErrorCode::WeightReuse,
    ];

    pub fn from_code(code: u8) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|e| *e as u8 == code)
    }
}

/// Every register except the counters, in address order.
pub const REGISTERS: &[Register] = &[
    reg("ID", ID, ReadOnly, "0x54535241 (\"TSRA\")"),
    reg("VERSION", VERSION, ReadOnly, "[31:16] ISA major, [15:0] ISA minor"),
    reg("CFG_ARRAY", CFG_ARRAY, ReadOnly, "[7:0] rows, [15:8] cols, [23:16] operand bits, [31:24] accumulator bits"),
    reg("CFG_IBUF", CFG_IBUF, ReadOnly, "input buffer entries"),
    reg("CFG_WBUF", CFG_WBUF, ReadOnly, "weight buffer entries"),
    reg("CFG_ACC", CFG_ACC, ReadOnly, "accumulator entries"),
    reg("CFG_PBUF", CFG_PBUF, ReadOnly, "parameter buffer entries"),
    reg("CFG_QUEUES", CFG_QUEUES, ReadOnly, "[15:0] instruction queue depth, [23:16] token FIFO depth"),
    reg("CFG_AXI", CFG_AXI, ReadOnly, "[11:0] data bits, [19:12] address bits, [31:20] max burst beats"),
    reg("CFG_SPARSE", CFG_SPARSE, ReadOnly, "[7:0] sparse-engine PEs (0: none), [18:8] N:M patterns bitmap"),
    reg("CFG_HASH", CFG_HASH, ReadOnly, "config fingerprint (FNV-1a of the canonical config)"),
    reg("CTRL", CTRL, WriteOnly, "bit 0 START (ignored while busy), bit 1 SOFT_RESET (abort and clear)"),
    reg("STATUS", STATUS, ReadOnly, "bit 0 BUSY, bit 1 DONE, bit 2 ERROR, [15:8] error code"),
    reg("ERROR_PC", ERROR_PC, ReadOnly, "index of the instruction that raised the error"),
    reg("ERROR_INFO", ERROR_INFO, ReadOnly, "error detail (AXI response, queue id)"),
    reg("IRQ_ENABLE", IRQ_ENABLE, ReadWrite, "bit 0 done, bit 1 error"),
    reg("IRQ_STATUS", IRQ_STATUS, W1C, "bit 0 done, bit 1 error; `irq` = |(IRQ_STATUS & IRQ_ENABLE)"),
    reg(
        "PROG_ADDR_LO",
        PROG_ADDR_LO,
        ReadWrite,
        "physical address of the instruction stream, low word (32-byte aligned)",
    ),
    reg("PROG_ADDR_HI", PROG_ADDR_HI, ReadWrite, "high word"),
    reg("PROG_LEN", PROG_LEN, ReadWrite, "instructions in the stream"),
    reg("DRAM_BASE_LO", DRAM_BASE_LO, ReadWrite, "physical address added to every `dram_addr`, low word"),
    reg("DRAM_BASE_HI", DRAM_BASE_HI, ReadWrite, "high word"),
    reg("DRAM_SIZE", DRAM_SIZE, ReadWrite, "bytes of the DRAM window; DMA outside `[0, DRAM_SIZE)` is error BadField"),
];

/// Bit of `CFG_SPARSE` (relative to bit 8) announcing N:M support.
pub fn nm_bit(n: u32, m: u32) -> Option<u32> {
    let offset = match m {
        2 => 0,
        4 => 1,
        8 => 4,
        _ => return None,
    };
    (1..m).contains(&n).then_some(offset + n - 1)
}

/// The read-only identification registers a config implies, as (offset, value).
pub fn config_registers(cfg: &AccelConfig) -> Vec<(u32, u32)> {
    let (a, m, c, x) = (&cfg.array, &cfg.memory, &cfg.control, &cfg.axi);
    let nm = cfg.sparse.nm.iter().filter_map(|p| nm_bit(p.n, p.m)).fold(0u32, |acc, bit| acc | (1 << bit));
    let pes = cfg.sparse.engine.as_ref().map_or(0, |e| e.pes);
    vec![
        (ID, ID_MAGIC),
        (VERSION, (ISA_MAJOR << 16) | ISA_MINOR),
        (CFG_ARRAY, a.rows | (a.cols << 8) | (a.operand_bits << 16) | (a.acc_bits << 24)),
        (CFG_IBUF, m.ibuf_entries),
        (CFG_WBUF, m.wbuf_entries),
        (CFG_ACC, m.acc_entries),
        (CFG_PBUF, m.pbuf_entries),
        (CFG_QUEUES, c.queue_depth | (c.token_depth << 16)),
        (CFG_AXI, x.data_bits | (x.addr_bits << 12) | (x.max_burst_beats << 20)),
        (CFG_SPARSE, pes | (nm << 8)),
        (CFG_HASH, cfg.fingerprint()),
    ]
}

/// The register map as a Markdown table (kept in `docs/isa.md`; a test checks it).
pub fn registers_markdown() -> String {
    let mut out = String::from("| offset | name | access | meaning |\n|---|---|---|---|\n");
    for r in REGISTERS {
        let access = match r.access {
            ReadOnly => "RO",
            ReadWrite => "RW",
            W1C => "W1C",
            WriteOnly => "WO",
        };
        out.push_str(&format!("| {:#05x} | `{}` | {access} | {} |\n", r.offset, r.name, r.doc));
    }
    for c in Counter::ALL {
        out.push_str(&format!("| {:#05x} | `{}_LO/_HI` | RO | {} |\n", c.offset(), c.name(), c.doc()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_are_word_aligned_and_distinct() {
        let mut offsets: Vec<u32> = REGISTERS.iter().map(|r| r.offset).collect();
        for c in Counter::ALL {
            offsets.push(c.offset());
            offsets.push(c.offset() + 4);
        }
        let n = offsets.len();
        offsets.sort();
        offsets.dedup();
        assert_eq!(offsets.len(), n, "register offsets collide");
        assert!(offsets.iter().all(|o| o % 4 == 0 && *o < REG_SPACE_BYTES));
    }

    #[test]
    fn config_registers_encode_the_config() {
        let cfg = AccelConfig::builtin("pynq-z2").unwrap();
        let regs = config_registers(&cfg);
        let get = |off| regs.iter().find(|(o, _)| *o == off).unwrap().1;
        assert_eq!(get(ID), ID_MAGIC);
        assert_eq!(get(CFG_ARRAY) & 0xff, 16);
        assert_eq!((get(CFG_ARRAY) >> 8) & 0xff, 16);
        assert_eq!(get(CFG_HASH), cfg.fingerprint());
        assert_eq!(nm_bit(2, 4), Some(2));
        assert_eq!(nm_bit(1, 4), Some(1));
        assert_eq!(nm_bit(4, 4), None);
    }
}
