//! The runtime: opens an accelerator, checks it is the one a program was compiled
//! for, loads a bundle's DDR image and runs it through the register protocol of
//! `docs/isa.md` §5. The same code drives a board, the Verilated RTL and the
//! golden model, so the simulators see exactly the board's register sequence.

use crate::device::{Device, DeviceError, IrqWait};
use std::time::Duration;
use tessera_isa::bundle::{Bundle, TensorSlot};
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::{self, Counter, ErrorCode};

/// Why a run could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("{backend}: register ID reads {found:#010x}, not a Tessera accelerator ({:#010x}){}", regs::ID_MAGIC, no_design_hint(*.found))]
    NotTessera { backend: String, found: u32 },
    #[error(
        "{backend}: the accelerator implements ISA {found_major}.{found_minor}; this driver speaks {}.{}",
        tessera_isa::isa::ISA_MAJOR,
        tessera_isa::isa::ISA_MINOR
    )]
    Version { backend: String, found_major: u32, found_minor: u32 },
    #[error("{backend}: the program was compiled for config `{program}` but the accelerator is a different one:\n  {}", .fields.join("\n  "))]
    ConfigMismatch { backend: String, program: String, fields: Vec<String> },
    #[error("{backend}: the program's DDR image needs {needed} bytes; the device's window has {available}")]
    WindowTooSmall { backend: String, needed: u64, available: usize },
    #[error("{backend}: the accelerator is busy (STATUS {status:#x}); it needs a soft reset")]
    Busy { backend: String, status: u32 },
    #[error("{backend}: the accelerator stopped with error {code:?} at instruction #{pc} (ERROR_INFO {info:#x})")]
    Hardware { backend: String, code: ErrorCode, pc: u32, info: u32 },
    #[error("{backend}: no interrupt within {timeout:?} of device time (STATUS {status:#x})")]
    Timeout { backend: String, timeout: Duration, status: u32 },
}

/// What an ID that is no accelerator's suggests: all ones, `DEADBEEF` or zero is
/// what an address with no (or an unclocked) design behind it returns on a board.
fn no_design_hint(found: u32) -> &'static str {
    match found {
        0xffff_ffff | 0xdead_beef | 0 => ": no accelerator answers at this address (is the bitstream loaded?)",
        _ => "",
    }
}

/// What a completed run reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The performance counters, in `Counter::ALL` order.
    pub counters: Vec<u64>,
    /// Cycles the harness clocked between START and the interrupt (cycle-accurate
    /// backends only).
    pub harness_cycles: Option<u64>,
    /// Bytes read and written on the AXI master during the run, instruction fetch
    /// included (simulators only).
    pub bus_bytes: Option<(u64, u64)>,
}

impl RunReport {
    pub fn counter(&self, c: Counter) -> u64 {
        self.counters[Counter::ALL.iter().position(|x| *x == c).expect("every counter is listed")]
    }

    /// MACs issued over the array's peak for the run's cycles: `None` when the
    /// backend does not count cycles (the golden model).
    pub fn utilization(&self, cfg: &AccelConfig) -> Option<f64> {
        let cycles = self.counter(Counter::Cycles);
        (cycles > 0).then(|| self.counter(Counter::Macs) as f64 / (cycles as f64 * cfg.peak_macs_per_cycle() as f64))
    }

    /// Fraction of the run's cycles in which the array streamed vectors.
    pub fn busy_fraction(&self) -> Option<f64> {
        let cycles = self.counter(Counter::Cycles);
        (cycles > 0).then(|| self.counter(Counter::ComputeBusy) as f64 / cycles as f64)
    }
}

/// An open accelerator whose identity has been checked against a config.
pub struct Session<D: Device> {
    device: D,
    config: AccelConfig,
}

impl<D: Device> Session<D> {
    /// Opens `device`, which must be a Tessera accelerator built from `config`
    /// (ID, ISA version and every configuration register a program depends on).
    pub fn open(mut device: D, config: &AccelConfig) -> Result<Self, DriverError> {
        let backend = device.backend().to_string();
        let id = device.read_reg(regs::ID)?;
        if id != regs::ID_MAGIC {
            return Err(DriverError::NotTessera { backend, found: id });
        }
        let version = device.read_reg(regs::VERSION)?;
        if version >> 16 != tessera_isa::isa::ISA_MAJOR {
            return Err(DriverError::Version { backend, found_major: version >> 16, found_minor: version & 0xffff });
        }
        let mut fields = Vec::new();
        for (offset, expected) in regs::config_registers(config) {
            // The AXI width changes how the hardware moves bytes, not what a program means.
            if offset == regs::CFG_AXI || offset == regs::ID || offset == regs::VERSION {
                continue;
            }
            let found = device.read_reg(offset)?;
            if found != expected {
                let name = regs::REGISTERS.iter().find(|r| r.offset == offset).map_or("?", |r| r.name);
                fields.push(format!("{name}: accelerator {found:#x}, program `{}` {expected:#x}", config.name));
            }
        }
        if !fields.is_empty() {
            return Err(DriverError::ConfigMismatch { backend, program: config.name.clone(), fields });
        }
        Ok(Session { device, config: config.clone() })
    }

    pub fn config(&self) -> &AccelConfig {
        &self.config
    }

    pub fn device(&self) -> &D {
        &self.device
    }

    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    pub fn into_device(self) -> D {
        self.device
    }

    /// Copies `bytes` into the DDR window at `offset`.
    pub fn write_dram(&mut self, offset: u64, bytes: &[u8]) -> Result<(), DriverError> {
        let size = self.device.dram().len();
        let end = offset as usize + bytes.len();
        if end > size {
            let backend = self.device.backend().to_string();
            return Err(DeviceError::OutOfWindow { backend, offset, len: bytes.len(), size }.into());
        }
        self.device.dram_mut()[offset as usize..end].copy_from_slice(bytes);
        Ok(())
    }

    /// Reads `len` bytes of the DDR window at `offset`.
    pub fn read_dram(&self, offset: u64, len: usize) -> Result<Vec<u8>, DriverError> {
        let size = self.device.dram().len();
        let range = offset as usize..offset as usize + len;
        self.device.dram().get(range).map(<[u8]>::to_vec).ok_or_else(|| {
            let backend = self.device.backend().to_string();
            DeviceError::OutOfWindow { backend, offset, len, size }.into()
        })
    }

    /// Loads a bundle's DDR image (program, weights, parameters, initial tensors).
    pub fn load(&mut self, bundle: &Bundle) -> Result<(), DriverError> {
        let available = self.device.dram().len();
        if bundle.header.dram_bytes > available as u64 {
            let backend = self.device.backend().to_string();
            return Err(DriverError::WindowTooSmall { backend, needed: bundle.header.dram_bytes, available });
        }
        self.write_dram(0, &bundle.image)
    }

    /// A tensor's bytes as the device left them.
    pub fn read_tensor(&self, slot: &TensorSlot) -> Result<Vec<u8>, DriverError> {
        self.read_dram(slot.offset, slot.bytes())
    }

    /// Runs the `program_len` instructions at DDR offset `program_offset` and waits
    /// for the interrupt (docs/isa.md §5 "Running a program").
    pub fn run(&mut self, program_offset: u64, program_len: u32, timeout: Duration) -> Result<RunReport, DriverError> {
        let backend = self.device.backend().to_string();
        let d = &mut self.device;
        let status = d.read_reg(regs::STATUS)?;
        if status & regs::STATUS_BUSY != 0 {
            return Err(DriverError::Busy { backend, status });
        }
        d.sync_for_device()?;
        let base = d.dram_phys_base();
        let window = u32::try_from(d.dram().len()).unwrap_or(u32::MAX);
        let program = base + program_offset;
        d.write_reg(regs::DRAM_BASE_LO, base as u32)?;
        d.write_reg(regs::DRAM_BASE_HI, (base >> 32) as u32)?;
        d.write_reg(regs::DRAM_SIZE, window)?;
        d.write_reg(regs::PROG_ADDR_LO, program as u32)?;
        d.write_reg(regs::PROG_ADDR_HI, (program >> 32) as u32)?;
        d.write_reg(regs::PROG_LEN, program_len)?;
        d.write_reg(regs::IRQ_STATUS, regs::IRQ_DONE | regs::IRQ_ERROR)?;
        d.write_reg(regs::IRQ_ENABLE, regs::IRQ_DONE | regs::IRQ_ERROR)?;
        let (cycle0, bus0) = (d.cycle(), d.bus_bytes());
        d.write_reg(regs::CTRL, regs::CTRL_START)?;
        let wait = d.wait_irq(timeout)?;
        let harness_cycles = d.cycle().zip(cycle0).map(|(now, then)| now - then);
        let bus_bytes = d.bus_bytes().zip(bus0).map(|((r, w), (r0, w0))| (r - r0, w - w0));
        let status = d.read_reg(regs::STATUS)?;
        d.write_reg(regs::IRQ_STATUS, regs::IRQ_DONE | regs::IRQ_ERROR)?;
        // Timed out and neither finished nor failed: still running, or never started.
        let settled = status & (regs::STATUS_DONE | regs::STATUS_ERROR) != 0;
        if wait == IrqWait::TimedOut && (status & regs::STATUS_BUSY != 0 || !settled) {
            return Err(DriverError::Timeout { backend, timeout, status });
        }
        if status & regs::STATUS_ERROR != 0 {
            let code = ((status >> regs::STATUS_CODE_SHIFT) & 0xff) as u8;
            let pc = d.read_reg(regs::ERROR_PC)?;
            let info = d.read_reg(regs::ERROR_INFO)?;
            let code = ErrorCode::from_code(code).unwrap_or(ErrorCode::None);
            return Err(DriverError::Hardware { backend, code, pc, info });
        }
        let mut counters = Vec::with_capacity(Counter::ALL.len());
        for c in Counter::ALL {
            let lo = d.read_reg(c.offset())?;
            let hi = d.read_reg(c.offset() + 4)?;
            counters.push(u64::from(lo) | (u64::from(hi) << 32));
        }
        d.sync_for_cpu()?;
        Ok(RunReport { counters, harness_cycles, bus_bytes })
    }

    /// Loads and runs a bundle.
    pub fn run_bundle(&mut self, bundle: &Bundle, timeout: Duration) -> Result<RunReport, DriverError> {
        self.load(bundle)?;
        self.run(bundle.header.program_offset, bundle.header.program_len, timeout)
    }
}
