//! Golden model against RTL: the same program on the same DDR image, on both.

use crate::golden::{ExecError, Golden, RunStats};
use crate::verilator::{first_difference, run_image, BuildOptions, RtlOutcome, SimError, VerilatorDevice};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::Program;
use tessera_isa::regs::ErrorCode;

/// Physical address of the simulated DDR window.
pub const SIM_DDR_BASE: u64 = 0x2000_0000;

/// Both runs of one program.
pub struct CosimRun {
    pub golden: Vec<u8>,
    pub rtl: Vec<u8>,
    pub golden_result: Result<RunStats, ExecError>,
    pub outcome: RtlOutcome,
    /// Byte offset of the program in the images.
    pub prog_offset: usize,
}

impl CosimRun {
    /// First differing DDR byte, if any.
    pub fn first_difference(&self) -> Option<usize> {
        first_difference(&self.golden, &self.rtl)
    }

    /// The error both runs should agree on: (code, pc), or `None` for success.
    pub fn golden_error(&self) -> Option<(ErrorCode, u32)> {
        self.golden_result.as_ref().err().map(|e| (e.code(), e.pc() as u32))
    }
}

/// Appends `program` to `image` (64-byte aligned) and runs it on the golden model
/// and on the RTL of `cfg` (built or taken from the cache).
pub fn run_both(cfg: &AccelConfig, image: &[u8], program: &Program, max_cycles: u64) -> Result<CosimRun, SimError> {
    let mut bytes = image.to_vec();
    let prog_offset = bytes.len().next_multiple_of(64);
    bytes.resize(prog_offset, 0);
    bytes.extend(program.encode());
    run_both_bytes(cfg, bytes, prog_offset, program.len() as u32, max_cycles)
}

/// Runs the `prog_len` instructions at `prog_offset` of `bytes` (which need not
/// decode: the hardware reports what the golden model reports) on both models.
pub fn run_both_bytes(
    cfg: &AccelConfig,
    bytes: Vec<u8>,
    prog_offset: usize,
    prog_len: u32,
    max_cycles: u64,
) -> Result<CosimRun, SimError> {
    let mut golden = bytes.clone();
    let golden_result = Golden::new(cfg).run_from_ddr(&mut golden, prog_offset as u64, prog_len);
    let mut sim = VerilatorDevice::new(cfg, &BuildOptions::default(), SIM_DDR_BASE, bytes.len())?;
    let outcome = run_image(&mut sim, cfg, &bytes, prog_offset as u64, prog_len, max_cycles)?;
    Ok(CosimRun { golden, rtl: sim.ddr().to_vec(), golden_result, outcome, prog_offset })
}
