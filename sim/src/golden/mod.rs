//! The golden model: a fast, bit-exact functional model of the Tessera ISA.
//!
//! It executes a program against a DDR image the way the hardware's controller
//! would order it — instructions dispatched in program order into bounded load /
//! compute / store queues that synchronise only through dependency tokens — but
//! runs each instruction atomically instead of cycle by cycle. Programs whose
//! queues are correctly synchronised therefore give the same DDR image here as on
//! the RTL; a program that can never finish is reported as a deadlock with the
//! instruction each queue waits at.

mod device;
mod exec;
pub(crate) mod sched;

pub use device::GoldenDevice;
pub use exec::{alu_op, Memories, SparseFault, TileKey, WeightReuseMismatch};

use sched::Controller;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{check_instr, DecodeError, Instr, InstrProblem, Program, Queue, INSTR_BYTES};
use tessera_isa::regs::ErrorCode;

/// What a run did, counted functionally (no cycles: those come from the RTL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Instructions executed, FENCE and FINISH included.
    pub instructions: u64,
    pub loads: u64,
    pub stores: u64,
    pub gemms: u64,
    pub alus: u64,
    pub spmvs: u64,
    pub tables: u64,
    /// Activation vectors streamed through the array.
    pub gemm_vectors: u64,
    /// Multiply-accumulates issued: vectors x rows x cols on the array, one per
    /// nonzero item with a nonzero activation on the sparse engine.
    pub macs: u64,
    pub dma_read_bytes: u64,
    pub dma_write_bytes: u64,
}

/// Why a program was rejected or stopped. Each maps to the hardware's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("instruction #{index}: {error}")]
    Decode { index: usize, error: DecodeError },
    #[error("instruction #{index} `{mnemonic}`: {problem}")]
    Invalid { index: usize, mnemonic: &'static str, problem: InstrProblem },
    #[error("instruction #{index} `gemm`: reuse_weights asks for tile {requested:?} (wbuf_addr, w_zero, w_unsigned, nm) but the array holds {loaded:?}")]
    WeightReuse { index: usize, loaded: Option<TileKey>, requested: TileKey },
    #[error("instruction #{index} `spmv`: {fault}")]
    SparseItem { index: usize, fault: SparseFault },
    #[error("dependency deadlock (dispatcher at #{dispatch_pc}):\n  {}", .waits.join("\n  "))]
    Deadlock { oldest: usize, dispatch_pc: usize, waits: Vec<String> },
    #[error("the program's {len} instructions ran out without FINISH")]
    NoFinish { len: usize },
    #[error("the program ({len} instructions at {offset:#x}) lies outside the {ddr_len:#x}-byte DDR region")]
    ProgramOutOfRange { offset: u64, len: u32, ddr_len: usize },
}

impl ExecError {
    /// The code the hardware reports in `STATUS[15:8]` for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            ExecError::Decode { .. } => ErrorCode::BadInstruction,
            ExecError::Invalid { .. } | ExecError::SparseItem { .. } => ErrorCode::BadField,
            ExecError::WeightReuse { .. } => ErrorCode::WeightReuse,
            ExecError::Deadlock { .. } => ErrorCode::Deadlock,
            ExecError::NoFinish { .. } => ErrorCode::NoFinish,
            ExecError::ProgramOutOfRange { .. } => ErrorCode::DmaRead,
        }
    }

    /// The instruction index the hardware reports in `ERROR_PC`.
    pub fn pc(&self) -> usize {
        match self {
            ExecError::Decode { index, .. }
            | ExecError::Invalid { index, .. }
            | ExecError::WeightReuse { index, .. }
            | ExecError::SparseItem { index, .. } => *index,
            ExecError::Deadlock { oldest, .. } => *oldest,
            ExecError::NoFinish { len } => *len,
            ExecError::ProgramOutOfRange { .. } => 0,
        }
    }
}

/// The golden accelerator: configuration plus on-chip state, which persists across
/// runs as SRAM does on the hardware.
pub struct Golden {
    cfg: AccelConfig,
    mem: Memories,
    /// With write tracking on: per DDR byte of the last run, the index of the last
    /// instruction that wrote it ([`NOT_WRITTEN`] if none).
    writers: Option<Vec<u32>>,
}

/// [`Golden::write_log`] entry of a byte no instruction wrote.
pub const NOT_WRITTEN: u32 = u32::MAX;

impl Golden {
    pub fn new(cfg: &AccelConfig) -> Self {
        Golden { cfg: cfg.clone(), mem: Memories::new(cfg), writers: None }
    }

    /// Turns on the DDR write tracker: from the next run on, every byte a STORE writes
    /// remembers the index of the last instruction that wrote it (for mismatch
    /// reports: "which instruction produced this byte"). Costs four bytes per DDR byte.
    pub fn track_writes(&mut self) {
        self.writers.get_or_insert_with(Vec::new);
    }

    fn reset_writers(&mut self, ddr_len: usize) {
        if let Some(w) = &mut self.writers {
            w.clear();
            w.resize(ddr_len, NOT_WRITTEN);
        }
    }

    /// Per DDR byte of the last run, the index of the instruction that last wrote it
    /// ([`NOT_WRITTEN`] if none), or `None` when tracking is off.
    pub fn write_log(&self) -> Option<&[u32]> {
        self.writers.as_deref()
    }

    /// Index of the instruction that last wrote DDR byte `offset` in the last run
    /// (`None` if no instruction wrote it, or tracking is off).
    pub fn last_writer(&self, offset: usize) -> Option<usize> {
        match self.writers.as_ref()?.get(offset) {
            Some(&w) if w != NOT_WRITTEN => Some(w as usize),
            _ => None,
        }
    }

    pub fn config(&self) -> &AccelConfig {
        &self.cfg
    }

    pub fn memories(&self) -> &Memories {
        &self.mem
    }

    /// Fetches `prog_len` instructions from `ddr[prog_offset..]` and runs them, as the
    /// hardware does after START.
    pub fn run_from_ddr(&mut self, ddr: &mut [u8], prog_offset: u64, prog_len: u32) -> Result<RunStats, ExecError> {
        self.reset_writers(ddr.len());
        let bytes = prog_len as u64 * INSTR_BYTES as u64;
        let out_of_range = || ExecError::ProgramOutOfRange { offset: prog_offset, len: prog_len, ddr_len: ddr.len() };
        let end = prog_offset.checked_add(bytes).ok_or_else(out_of_range)?;
        if end > ddr.len() as u64 {
            return Err(out_of_range());
        }
        let mut instrs = Vec::with_capacity(prog_len as usize);
        for (index, chunk) in ddr[prog_offset as usize..end as usize].chunks_exact(INSTR_BYTES).enumerate() {
            let raw: &[u8; INSTR_BYTES] = chunk.try_into().expect("exact chunk");
            instrs.push(Instr::decode(raw).map_err(|error| ExecError::Decode { index, error })?);
        }
        self.run(&Program::new(instrs), ddr)
    }

    /// Runs a decoded program against `ddr`, the DRAM window every `dram_addr` is an
    /// offset into.
    pub fn run(&mut self, program: &Program, ddr: &mut [u8]) -> Result<RunStats, ExecError> {
        let instrs = &program.instrs;
        for (index, instr) in instrs.iter().enumerate() {
            check_instr(instr, &self.cfg, Some(ddr.len() as u64)).map_err(|problem| ExecError::Invalid {
                index,
                mnemonic: instr.mnemonic(),
                problem,
            })?;
        }

        self.reset_writers(ddr.len());
        let mut ctl = Controller::new(self.cfg.control.queue_depth, self.cfg.control.token_depth);
        let mut stats = RunStats::default();
        let mut pc = 0;
        loop {
            let mut progressed = false;

            // Dispatch in program order until a queue is full or a barrier waits.
            while let Some(instr) = instrs.get(pc) {
                match instr.queue() {
                    Some(q) if ctl.has_room(q) => ctl.enqueue(q, pc),
                    Some(_) => break,
                    None if !ctl.all_empty() => break,
                    None => {
                        stats.instructions += 1;
                        if *instr == Instr::Finish {
                            return Ok(stats);
                        }
                    }
                }
                pc += 1;
                progressed = true;
            }

            for q in Queue::ALL {
                while let Some(index) = ctl.head(q) {
                    let instr = &instrs[index];
                    if !ctl.can_start(q, instr.deps()) {
                        break;
                    }
                    self.execute(index, instr, ddr, &mut stats)?;
                    ctl.retire_head(q, instr.deps());
                    progressed = true;
                }
            }

            if !progressed {
                if ctl.all_empty() {
                    return Err(ExecError::NoFinish { len: instrs.len() });
                }
                let oldest = Queue::ALL.iter().filter_map(|q| ctl.head(*q)).min().expect("a queue is non-empty");
                let mut waits = ctl.blocked_heads(instrs);
                match instrs.get(pc) {
                    Some(next) => waits.push(format!("dispatcher waits to issue #{pc} `{}`", next.mnemonic())),
                    None => waits.push("dispatcher has issued the whole program, which has no FINISH".to_string()),
                }
                return Err(ExecError::Deadlock { oldest, dispatch_pc: pc, waits });
            }
        }
    }

    fn execute(&mut self, index: usize, instr: &Instr, ddr: &mut [u8], stats: &mut RunStats) -> Result<(), ExecError> {
        stats.instructions += 1;
        match instr {
            Instr::Load(l) => {
                stats.loads += 1;
                self.mem.load(&self.cfg, l, ddr, stats);
            }
            Instr::Store(s) => {
                stats.stores += 1;
                match &mut self.writers {
                    Some(w) => {
                        let tag = u32::try_from(index).unwrap_or(NOT_WRITTEN - 1);
                        self.mem.store_recording(s, ddr, stats, &mut |off, len| w[off..off + len].fill(tag));
                    }
                    None => self.mem.store(s, ddr, stats),
                }
            }
            Instr::Gemm(g) => {
                stats.gemms += 1;
                self.mem.gemm(g, stats).map_err(|m| ExecError::WeightReuse {
                    index,
                    loaded: m.loaded,
                    requested: m.requested,
                })?;
            }
            Instr::Alu(a) => {
                stats.alus += 1;
                self.mem.alu(a);
            }
            Instr::Spmv(x) => {
                stats.spmvs += 1;
                self.mem.spmv(x, stats).map_err(|fault| ExecError::SparseItem { index, fault })?;
            }
            Instr::Table(t) => {
                stats.tables += 1;
                self.mem.table(t, ddr, stats);
            }
            Instr::Fence | Instr::Finish => unreachable!("barriers are handled by the dispatcher"),
        }
        Ok(())
    }
}
