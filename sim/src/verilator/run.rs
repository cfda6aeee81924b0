//! Running a program on the Verilated accelerator through its register interface,
//! exactly as the board driver does (docs/isa.md §5 "Running a program").

use super::{SimError, VerilatorSim};
use tessera_isa::regs::{self, Counter, ErrorCode};

/// What a run on the RTL ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtlOutcome {
    /// Cycles from START to the interrupt (as the harness counted them).
    pub cycles: u64,
    pub status: u32,
    /// Error code and ERROR_PC when the run failed.
    pub error: Option<(ErrorCode, u32)>,
    /// The performance counters, in `Counter::ALL` order.
    pub counters: Vec<u64>,
    /// The interrupt did not come within the cycle budget.
    pub timed_out: bool,
}

impl RtlOutcome {
    pub fn counter(&self, c: Counter) -> u64 {
        self.counters[Counter::ALL.iter().position(|x| *x == c).expect("listed")]
    }
}

/// Copies `image` into the simulator's DDR (from offset 0), starts the program
/// at `prog_offset` and waits for the interrupt.
pub fn run_image(
    sim: &mut VerilatorSim,
    image: &[u8],
    prog_offset: u64,
    prog_len: u32,
    max_cycles: u64,
) -> Result<RtlOutcome, SimError> {
    let base = sim.ddr_base();
    sim.ddr_mut()[..image.len()].copy_from_slice(image);
    let window = sim.ddr().len() as u32;
    let prog = base + prog_offset;
    sim.reg_write(regs::DRAM_BASE_LO, base as u32)?;
    sim.reg_write(regs::DRAM_BASE_HI, (base >> 32) as u32)?;
    sim.reg_write(regs::DRAM_SIZE, window)?;
    sim.reg_write(regs::PROG_ADDR_LO, prog as u32)?;
    sim.reg_write(regs::PROG_ADDR_HI, (prog >> 32) as u32)?;
    sim.reg_write(regs::PROG_LEN, prog_len)?;
    sim.reg_write(regs::IRQ_STATUS, regs::IRQ_DONE | regs::IRQ_ERROR)?;
    sim.reg_write(regs::IRQ_ENABLE, regs::IRQ_DONE | regs::IRQ_ERROR)?;
    sim.reg_write(regs::CTRL, regs::CTRL_START)?;
    let cycles = sim.run_until_irq(max_cycles);
    let status = sim.reg_read(regs::STATUS)?;
    let timed_out = status & regs::STATUS_BUSY != 0;
    let error = if status & regs::STATUS_ERROR != 0 {
        let code = ((status >> regs::STATUS_CODE_SHIFT) & 0xff) as u8;
        let pc = sim.reg_read(regs::ERROR_PC)?;
        Some((ErrorCode::from_code(code).unwrap_or(ErrorCode::None), pc))
    } else {
        None
    };
    let mut counters = Vec::new();
    for c in Counter::ALL {
        let lo = sim.reg_read(c.offset())?;
        let hi = sim.reg_read(c.offset() + 4)?;
        counters.push(u64::from(lo) | (u64::from(hi) << 32));
    }
    Ok(RtlOutcome { cycles, status, error, counters, timed_out })
}

/// First byte offset where two DDR images differ.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or_else(|| (a.len() != b.len()).then_some(a.len().min(b.len())))
}
