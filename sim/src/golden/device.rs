//! The golden model behind the driver's `Device` trait: a register file with the
//! hardware's map, and START running the program functionally on the DDR window.
//!
//! It lets every runtime path (sessions, `tessera run`, config checks, error
//! reporting) run without an RTL build. It is untimed: the cycle and stall
//! counters read 0, the functional counters (MACs, DMA bytes, instructions) hold
//! what the hardware counts.

use super::{ExecError, Golden, RunStats};
use std::collections::BTreeMap;
use std::time::Duration;
use tessera_driver::{Device, DeviceError, IrqWait};
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::{self, Counter};

const BACKEND: &str = "golden";

/// A functional accelerator with its own DDR window.
pub struct GoldenDevice {
    golden: Golden,
    /// Identification registers (read-only).
    ident: BTreeMap<u32, u32>,
    /// Read-write registers as last written.
    written: BTreeMap<u32, u32>,
    status: u32,
    error_pc: u32,
    irq_status: u32,
    counters: BTreeMap<u32, u64>,
    ddr: Vec<u8>,
    ddr_base: u64,
    /// The error of the last run, with the golden model's full explanation.
    last_error: Option<ExecError>,
}

impl GoldenDevice {
    /// A device for `cfg` with `ddr_len` bytes of DDR at physical address `ddr_base`.
    pub fn new(cfg: &AccelConfig, ddr_base: u64, ddr_len: usize) -> Self {
        GoldenDevice {
            golden: Golden::new(cfg),
            ident: regs::config_registers(cfg).into_iter().collect(),
            written: BTreeMap::new(),
            status: 0,
            error_pc: 0,
            irq_status: 0,
            counters: BTreeMap::new(),
            ddr: vec![0; ddr_len],
            ddr_base,
            last_error: None,
        }
    }

    /// The golden model's description of the last run's error (richer than the
    /// hardware's code and PC).
    pub fn last_error(&self) -> Option<&ExecError> {
        self.last_error.as_ref()
    }

    fn reg(&self, offset: u32) -> u32 {
        self.written.get(&offset).copied().unwrap_or(0)
    }

    fn wide(&self, lo: u32) -> u64 {
        u64::from(self.reg(lo)) | (u64::from(self.reg(lo + 4)) << 32)
    }

    /// START: runs the program as the hardware would find it through the registers.
    fn start(&mut self) {
        self.counters.clear();
        self.last_error = None;
        let (base, size) = (self.wide(regs::DRAM_BASE_LO), u64::from(self.reg(regs::DRAM_SIZE)));
        let (program, program_len) = (self.wide(regs::PROG_ADDR_LO), self.reg(regs::PROG_LEN));
        // The window the accelerator may touch: DRAM_BASE .. +DRAM_SIZE, inside our buffer.
        let window_start = base.checked_sub(self.ddr_base).filter(|s| *s <= self.ddr.len() as u64);
        let result = match window_start {
            Some(start) => {
                let end = (start + size).min(self.ddr.len() as u64);
                let window = &mut self.ddr[start as usize..end as usize];
                let offset = program.wrapping_sub(base);
                self.golden.run_from_ddr(window, offset, program_len)
            }
            None => Err(ExecError::ProgramOutOfRange {
                offset: program.wrapping_sub(self.ddr_base),
                len: program_len,
                ddr_len: self.ddr.len(),
            }),
        };
        match result {
            Ok(stats) => {
                self.record(&stats);
                self.status = regs::STATUS_DONE;
                self.irq_status |= regs::IRQ_DONE;
            }
            Err(e) => {
                self.status = regs::STATUS_ERROR | (u32::from(e.code() as u8) << regs::STATUS_CODE_SHIFT);
                self.error_pc = e.pc() as u32;
                self.irq_status |= regs::IRQ_ERROR;
                self.last_error = Some(e);
            }
        }
    }

    fn record(&mut self, stats: &RunStats) {
        for (counter, value) in [
            (Counter::Macs, stats.macs),
            (Counter::DmaReadBytes, stats.dma_read_bytes),
            (Counter::DmaWriteBytes, stats.dma_write_bytes),
            (Counter::Instructions, stats.instructions),
        ] {
            self.counters.insert(counter.offset(), value);
        }
    }

    fn counter_word(&self, offset: u32) -> Option<u32> {
        let base = offset & !4;
        let value = *self.counters.get(&base)?;
        Some(if offset & 4 == 0 { value as u32 } else { (value >> 32) as u32 })
    }
}

/// Accesses outside the register space or not word aligned get a bus error, as
/// from the RTL's AXI4-Lite slave.
fn decoded(offset: u32, kind: &'static str) -> Result<(), DeviceError> {
    if offset < regs::REG_SPACE_BYTES && offset.is_multiple_of(4) {
        Ok(())
    } else {
        Err(DeviceError::BusError { backend: BACKEND.into(), kind, offset })
    }
}

impl Device for GoldenDevice {
    fn backend(&self) -> &str {
        BACKEND
    }

    fn read_reg(&mut self, offset: u32) -> Result<u32, DeviceError> {
        decoded(offset, "read")?;
        Ok(match offset {
            regs::STATUS => self.status,
            regs::ERROR_PC => self.error_pc,
            regs::ERROR_INFO | regs::CTRL => 0,
            regs::IRQ_STATUS => self.irq_status,
            _ => self.ident.get(&offset).copied().or_else(|| self.counter_word(offset)).unwrap_or(self.reg(offset)),
        })
    }

    fn write_reg(&mut self, offset: u32, value: u32) -> Result<(), DeviceError> {
        decoded(offset, "write")?;
        match offset {
            regs::CTRL if value & regs::CTRL_SOFT_RESET != 0 => {
                self.status = 0;
                self.irq_status = 0;
            }
            regs::CTRL if value & regs::CTRL_START != 0 => self.start(),
            regs::IRQ_STATUS => self.irq_status &= !value,
            _ if self.ident.contains_key(&offset) => {}
            _ => {
                self.written.insert(offset, value);
            }
        }
        Ok(())
    }

    fn dram_phys_base(&self) -> u64 {
        self.ddr_base
    }

    fn dram(&self) -> &[u8] {
        &self.ddr
    }

    fn dram_mut(&mut self) -> &mut [u8] {
        &mut self.ddr
    }

    /// The program ran to completion at START, so the line is already settled.
    fn wait_irq(&mut self, _timeout: Duration) -> Result<IrqWait, DeviceError> {
        let pending = self.irq_status & self.reg(regs::IRQ_ENABLE) != 0;
        Ok(if pending { IrqWait::Raised } else { IrqWait::TimedOut })
    }
}
