//! Running a program on the Verilated accelerator through the driver's `Session`,
//! so the RTL gets exactly the board's register sequence (docs/isa.md §5).

use super::{SimError, VerilatorDevice};
use std::time::Duration;
use tessera_driver::{DriverError, Session};
use tessera_isa::config::AccelConfig;
use tessera_isa::regs::{Counter, ErrorCode};

/// What a run on the RTL ended with, errors included as data (for comparison with
/// the golden model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtlOutcome {
    /// Cycles from START to the interrupt (as the harness counted them).
    pub cycles: u64,
    /// Error code and ERROR_PC when the run failed.
    pub error: Option<(ErrorCode, u32)>,
    /// The performance counters, in `Counter::ALL` order (empty after an error).
    pub counters: Vec<u64>,
    /// The interrupt did not come within the cycle budget.
    pub timed_out: bool,
}

impl RtlOutcome {
    pub fn counter(&self, c: Counter) -> u64 {
        self.counters[Counter::ALL.iter().position(|x| *x == c).expect("listed")]
    }
}

/// Simulated time of `cycles` at the config's clock (the unit of device timeouts).
pub fn cycles_as_duration(cfg: &AccelConfig, cycles: u64) -> Duration {
    Duration::from_secs_f64(cycles as f64 / (cfg.clock_mhz * 1e6))
}

/// Copies `image` into the device's DDR (from offset 0), starts the program at
/// `prog_offset` and waits up to `max_cycles` for the interrupt.
pub fn run_image(
    dev: &mut VerilatorDevice,
    cfg: &AccelConfig,
    image: &[u8],
    prog_offset: u64,
    prog_len: u32,
    max_cycles: u64,
) -> Result<RtlOutcome, SimError> {
    let start = dev.cycle();
    let mut session = Session::open(&mut *dev, cfg)?;
    session.write_dram(0, image)?;
    let result = session.run(prog_offset, prog_len, cycles_as_duration(cfg, max_cycles));
    let cycles = dev.cycle() - start;
    let none = RtlOutcome { cycles, error: None, counters: Vec::new(), timed_out: false };
    match result {
        Ok(report) => {
            Ok(RtlOutcome { cycles: report.harness_cycles.unwrap_or(cycles), counters: report.counters, ..none })
        }
        Err(DriverError::Hardware { code, pc, .. }) => Ok(RtlOutcome { error: Some((code, pc)), ..none }),
        Err(DriverError::Timeout { .. }) => Ok(RtlOutcome { timed_out: true, ..none }),
        Err(e) => Err(e.into()),
    }
}

/// First byte offset where two DDR images differ.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or_else(|| (a.len() != b.len()).then_some(a.len().min(b.len())))
}
