//! Randomized golden-vs-RTL regression (issue 4).
//!
//! - [`builder`]: a program builder that adds dependency tokens (or FENCEs) for
//!   every cross-queue conflict, deadlock-free by construction;
//! - [`random`]: random instruction programs over every opcode and field;
//! - [`conv`]: convolution-like programs (implicit im2col with padded, strided
//!   IBUF loops) checked against a direct convolution;
//! - [`extremes`]: requantization and ALU arithmetic on extreme values;
//! - [`sparse`]: N:4 structured-sparse GEMMs checked against the dense product;
//! - [`spmv`]: unstructured-sparse SPMVs on the sparse engine, likewise;
//! - [`fault`]: programs with one fault, where both devices must report the same
//!   error at the same instruction;
//! - [`schedule`]: runs a program under random legal schedules, to show it is
//!   correctly synchronised independently of the builder's bookkeeping;
//! - [`report`]: [`describe_mismatch`], the failure report.
//!
//! A case is fully determined by (config name, kind, seed), so a failure report's
//! seed reproduces it. Nothing is filtered or retried: every generated program is
//! meant to run on the golden model without error (faults excepted), and a program
//! the golden model rejects is reported as a generator bug.

pub mod builder;
pub mod conv;
pub mod extremes;
pub mod fault;
pub mod random;
pub mod report;
pub mod schedule;
pub mod sparse;
pub mod spmv;

pub use report::describe_mismatch;

use crate::cosim::{run_both, run_both_bytes, CosimRun};
use std::fmt::Write;
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{Program, INSTR_BYTES};
use tessera_isa::regs::Counter;

/// What a case must do on both devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Both finish without error, with identical DDR images and counters.
    Success,
    /// Both stop with the same error code at the same instruction, or both finish
    /// (DDR images are not compared: a faulty program may race).
    SameOutcome,
}

/// A generated program, its DDR image, and the output regions it must leave there,
/// computed directly (without the golden model).
pub struct Generated {
    pub image: Vec<u8>,
    pub program: Program,
    pub expected: Vec<(usize, Vec<u8>)>,
    pub description: String,
}

/// A [`Generated`] program that must succeed and produce its expected output.
fn checked_case(kind: &'static str, seed: u64, g: Generated) -> Case {
    Case {
        kind,
        seed,
        image: g.image,
        program: g.program,
        patch: None,
        expect: Expect::Success,
        expected: g.expected,
        description: g.description,
    }
}

/// One program and the DDR image it runs on.
pub struct Case {
    pub kind: &'static str,
    pub seed: u64,
    pub image: Vec<u8>,
    pub program: Program,
    /// A replacement encoding for one instruction (a corrupt instruction word).
    pub patch: Option<(usize, [u8; INSTR_BYTES])>,
    pub expect: Expect,
    /// Bytes the golden model's final image must hold, derived without it.
    pub expected: Vec<(usize, Vec<u8>)>,
    pub description: String,
}

impl Case {
    /// Where `golden` (the golden model's final image) differs from [`Case::expected`]:
    /// the first differing byte of each expected region; empty when all are there.
    pub fn expected_mismatches(&self, golden: &[u8]) -> Vec<String> {
        self.expected.iter().filter_map(|(offset, bytes)| {
            let got = &golden[*offset..*offset + bytes.len()];
            got.iter().zip(bytes).position(|(a, b)| a != b).map(|i| {
                format!(
                    "the golden model's output differs from the direct computation at offset {:#x}: {:#04x}, expected {:#04x}",
                    offset + i,
                    got[i],
                    bytes[i]
                )
            })
        })
        .collect()
    }
}

/// The DDR image `run_both` runs `program` on: `image`, zeros to a 64-byte
/// boundary, then the program. Returns it and the program's offset.
pub fn with_program(image: &[u8], program: &Program) -> (Vec<u8>, usize) {
    let mut bytes = image.to_vec();
    let prog_offset = bytes.len().next_multiple_of(64);
    bytes.resize(prog_offset, 0);
    bytes.extend(program.encode());
    (bytes, prog_offset)
}

/// Case kinds made by this module (the GEMM kind needs the compiler and is made by
/// the test).
pub const KINDS: [&str; 6] = ["program", "conv", "extremes", "fault", "sparse", "spmv"];

/// The configs the regression runs on: the built-ins, `tiny-int4` (the tiny array
/// with 4-bit operands) and `tiny-edge` (a 4x6 array with 20-bit accumulators,
/// memories of odd sizes, queues of two, token FIFOs of one and a 32-bit AXI bus
/// with 4-beat bursts); `tall-sparse` is `tiny-sparse` with 16 rows (sparse tiles
/// of two metadata blocks).
pub fn config(name: &str) -> AccelConfig {
    let tiny = || AccelConfig::builtin("tiny").expect("built-in");
    let cfg = match name {
        "tiny-int4" => {
            let mut cfg = tiny();
            cfg.array.operand_bits = 4;
            cfg
        }
        "tall-sparse" => {
            let mut cfg = AccelConfig::builtin("tiny-sparse").expect("built-in");
            cfg.array.rows = 16;
            cfg
        }
        "tiny-edge" => {
            let mut cfg = tiny();
            cfg.array.cols = 6;
            cfg.array.acc_bits = 20;
            cfg.memory.ibuf_entries = 300;
            cfg.memory.wbuf_entries = 40;
            cfg.memory.acc_entries = 100;
            cfg.memory.pbuf_entries = 5;
            cfg.control.queue_depth = 2;
            cfg.control.token_depth = 1;
            cfg.axi.data_bits = 32;
            cfg.axi.max_burst_beats = 4;
            cfg.axi.max_outstanding = 2;
            cfg
        }
        _ => return AccelConfig::builtin(name).unwrap_or_else(|e| panic!("{e}")),
    };
    let cfg = AccelConfig { name: name.into(), ..cfg };
    assert!(cfg.problems().is_empty(), "{name}: {:?}", cfg.problems());
    cfg
}

/// Random instructions per program: enough to fill queues and token FIFOs, few
/// enough that a tiny-config case simulates in about a second.
pub fn program_length(cfg: &AccelConfig, seed: u64) -> usize {
    let base = if cfg.array.cols > 8 { 80 } else { 120 };
    if seed % 16 == 15 {
        // Now and then a long one (instruction fetch over many bursts).
        return base * 5;
    }
    base + (seed / 4 % 5) as usize * 30
}

/// Random-program knobs for `seed`: the synchronisation style varies with it.
pub fn program_options(cfg: &AccelConfig, seed: u64) -> random::ProgramOptions {
    let mut opts = random::ProgramOptions::for_config(cfg, program_length(cfg, seed));
    match seed % 4 {
        // Only the tokens conflicts need: the most overlap between queues.
        0 => opts.policy = builder::SyncPolicy { junk: true, ..builder::SyncPolicy::MINIMAL },
        // Many spare tokens: FIFOs run full, producers wait for room.
        1 => {
            opts.policy.spare_push = 0.7;
            opts.policy.spare_pop = 0.5;
            opts.policy.fence = 0.0;
        }
        _ => {}
    }
    opts
}

pub fn program_case(cfg: &AccelConfig, seed: u64) -> Case {
    let opts = program_options(cfg, seed);
    let (image, program) = random::random_program(cfg, seed, &opts);
    let description = format!(
        "random program of {} instructions (spare pops {}, spare pushes {}, fences {})",
        program.len(),
        opts.policy.spare_pop,
        opts.policy.spare_push,
        opts.policy.fence
    );
    Case { kind: "program", seed, image, program, patch: None, expect: Expect::Success, expected: vec![], description }
}

pub fn conv_case(cfg: &AccelConfig, seed: u64) -> Case {
    checked_case("conv", seed, conv::random_conv(cfg, seed))
}

pub fn sparse_case(cfg: &AccelConfig, seed: u64) -> Case {
    checked_case("sparse", seed, sparse::random_sparse(cfg, seed))
}

pub fn spmv_case(cfg: &AccelConfig, seed: u64) -> Case {
    checked_case("spmv", seed, spmv::random_spmv(cfg, seed))
}

pub fn extremes_case(cfg: &AccelConfig, seed: u64) -> Case {
    let (image, program) = extremes::extremes_program(cfg, seed);
    let description = format!("extreme accumulators, parameters and ALU operands ({} instructions)", program.len());
    Case { kind: "extremes", seed, image, program, patch: None, expect: Expect::Success, expected: vec![], description }
}

pub fn fault_case(cfg: &AccelConfig, seed: u64) -> Case {
    let f = fault::random_fault(cfg, seed);
    Case {
        kind: "fault",
        seed,
        image: f.image,
        program: f.program,
        patch: f.patch,
        expect: Expect::SameOutcome,
        expected: vec![],
        description: f.description,
    }
}

/// The case of `kind` (one of [`KINDS`]) for `seed`.
pub fn make_case(cfg: &AccelConfig, kind: &str, seed: u64) -> Case {
    match kind {
        "program" => program_case(cfg, seed),
        "conv" => conv_case(cfg, seed),
        "extremes" => extremes_case(cfg, seed),
        "fault" => fault_case(cfg, seed),
        "sparse" => sparse_case(cfg, seed),
        "spmv" => spmv_case(cfg, seed),
        _ => panic!("unknown case kind `{kind}` (known: {KINDS:?}, and `gemm` in the test)"),
    }
}

/// Cycle budget of a case: generous, so only a hang runs into it.
pub fn cycle_budget(case: &Case) -> u64 {
    let bytes = case.image.len() as u64;
    match case.expect {
        // Short programs that may stop early; a hang should not cost seconds.
        Expect::SameOutcome => 200_000 + 2_000 * case.program.len() as u64,
        Expect::Success => 500_000 + 5_000 * case.program.len() as u64 + 20 * bytes,
    }
}

/// What a passing case cost.
#[derive(Debug, Clone)]
pub struct Passed {
    pub cycles: u64,
    pub instructions: usize,
    pub error: Option<String>,
}

/// Runs `case` on the golden model and the RTL of `cfg` and checks it; `Err` holds
/// the [`describe_mismatch`] report (with the case's kind and description).
pub fn run_case(cfg: &AccelConfig, case: &Case) -> Result<Passed, String> {
    let max_cycles = cycle_budget(case);
    let run = match case.patch {
        None => run_both(cfg, &case.image, &case.program, max_cycles),
        Some((index, bytes)) => {
            let (mut all, prog_offset) = with_program(&case.image, &case.program);
            let at = prog_offset + index * INSTR_BYTES;
            all[at..at + INSTR_BYTES].copy_from_slice(&bytes);
            run_both_bytes(cfg, all, prog_offset, case.program.len() as u32, max_cycles)
        }
    }
    .map_err(|e| format!("{} seed {} on `{}`: cannot run the RTL model: {e}", case.kind, case.seed, cfg.name))?;
    let problems = check(case, &run);
    if problems.is_empty() {
        return Ok(Passed {
            cycles: run.outcome.cycles,
            instructions: case.program.len(),
            error: run.golden_error().map(|(code, pc)| format!("{code:?} at #{pc}")),
        });
    }
    let mut s = String::new();
    let _ = writeln!(s, "case `{}` seed {} on `{}`: {}", case.kind, case.seed, cfg.name, case.description);
    for p in &problems {
        let _ = writeln!(s, "  FAILED: {p}");
    }
    if let Some((i, _)) = case.patch {
        let _ = writeln!(s, "  (instruction #{i} is replaced by a corrupt encoding in the program bytes)");
    }
    s.push_str(&describe_mismatch(cfg, &run, &case.program, case.seed));
    if KINDS.contains(&case.kind) || case.kind == "gemm" {
        let _ = writeln!(s, "  (TESSERA_KIND={} selects only this kind of case)", case.kind);
    } else {
        let _ = writeln!(s, "  (a hand-written case, not generated from the seed: rerun its test instead)");
    }
    Err(s)
}

/// Every way `run` falls short of what `case` expects.
fn check(case: &Case, run: &CosimRun) -> Vec<String> {
    let mut problems = Vec::new();
    let o = &run.outcome;
    if o.timed_out {
        problems.push(format!("the RTL did not finish within {} cycles", cycle_budget(case)));
    }
    match case.expect {
        Expect::Success => {
            if let Err(e) = &run.golden_result {
                problems.push(format!("generator bug: the golden model rejects the program: {e}"));
            }
            if let Some((code, pc)) = o.error {
                problems.push(format!("the RTL stopped with {code:?} at #{pc}"));
            }
            if let Some(at) = run.first_difference() {
                problems.push(format!("DDR images differ (first at offset {at:#x})"));
            }
            if let Ok(stats) = &run.golden_result {
                if !o.timed_out && o.error.is_none() {
                    for (counter, want) in [
                        (Counter::Instructions, stats.instructions),
                        (Counter::Macs, stats.macs),
                        (Counter::DmaReadBytes, stats.dma_read_bytes),
                        (Counter::DmaWriteBytes, stats.dma_write_bytes),
                    ] {
                        let got = o.counter(counter);
                        if got != want {
                            problems.push(format!("counter {counter:?}: RTL {got}, golden {want}"));
                        }
                    }
                }
            }
            problems.extend(case.expected_mismatches(&run.golden));
        }
        Expect::SameOutcome => {
            let golden = run.golden_error();
            if !o.timed_out && golden != o.error {
                problems.push(format!("outcomes differ: golden {golden:?}, RTL {:?}", o.error));
            }
        }
    }
    problems
}
