//! The driver's `Session` over the golden model and the Verilated RTL: the same
//! bundle gives the same DDR image and functional counters on both, programs for
//! another config are refused by name, and hardware errors surface as typed errors.

use std::time::Duration;
use tessera_compiler::gemm::{lower_gemm, GemmOutput, GemmSpec, OperandQuant};
use tessera_compiler::ImageBuilder;
use tessera_driver::{Device, DriverError, Session};
use tessera_isa::bundle::{Bundle, DType, Role};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{Instr, Program};
use tessera_isa::regs::{self, Counter, ErrorCode};
use tessera_sim::cosim::SIM_DDR_BASE;
use tessera_sim::verilator::{build, BuildOptions};
use tessera_sim::{GoldenDevice, VerilatorDevice};

const TIMEOUT: Duration = Duration::from_millis(50);

/// A raw int32 GEMM `C = A x B` with hand-derivable operands: A[i][k] = i - k,
/// B[k][j] = (k + 2j) mod 7 - 3.
fn gemm_bundle(cfg: &AccelConfig, m: usize, k: usize, n: usize) -> (Bundle, Vec<i32>) {
    let a: Vec<i32> = (0..m * k).map(|x| (x / k) as i32 - (x % k) as i32).collect();
    let b: Vec<i32> = (0..k * n).map(|x| (((x / n) + 2 * (x % n)) % 7) as i32 - 3).collect();
    let expected: Vec<i32> =
        (0..m * n).map(|x| (0..k).map(|kk| a[(x / n) * k + kk] * b[kk * n + x % n]).sum()).collect();
    let mut image = ImageBuilder::new();
    let a_addr = image.tensor("a", Role::Input, DType::I8, &[m, k], &a.iter().map(|v| *v as u8).collect::<Vec<_>>());
    let b_addr = image.place(&b.iter().map(|v| *v as u8).collect::<Vec<_>>());
    let c_addr = image.output("c", DType::I32, &[m, n]);
    let spec = GemmSpec {
        m,
        k,
        n,
        a_addr,
        b_addr,
        c_addr,
        c_row_stride: n,
        a: OperandQuant::default(),
        w: OperandQuant::default(),
        output: GemmOutput::Raw32,
    };
    let (program, _) = lower_gemm(cfg, &spec).unwrap();
    (image.finish(cfg, &program, "test GEMM"), expected)
}

fn verilator(cfg: &AccelConfig, dram: u64) -> VerilatorDevice {
    VerilatorDevice::new(cfg, &BuildOptions::default(), SIM_DDR_BASE, dram as usize).expect("build the tiny model")
}

fn output_i32(session: &Session<impl Device>, bundle: &Bundle) -> Vec<i32> {
    let slot = bundle.tensors(Role::Output).next().unwrap();
    let bytes = session.read_tensor(slot).unwrap();
    (0..slot.elements()).map(|i| slot.dtype.get(&bytes, i)).collect()
}

#[test]
fn golden_and_verilator_devices_agree_through_the_session() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let (bundle, expected) = gemm_bundle(&cfg, 9, 10, 7);
    let dram = bundle.header.dram_bytes;

    let mut golden = Session::open(GoldenDevice::new(&cfg, SIM_DDR_BASE, dram as usize), &cfg).unwrap();
    let g = golden.run_bundle(&bundle, TIMEOUT).unwrap();
    let mut rtl = Session::open(verilator(&cfg, dram), &cfg).unwrap();
    let r = rtl.run_bundle(&bundle, TIMEOUT).unwrap();

    assert_eq!(output_i32(&golden, &bundle), expected);
    assert_eq!(output_i32(&rtl, &bundle), expected);
    assert_eq!(golden.device().dram(), rtl.device().dram(), "DDR images");
    for c in [Counter::Macs, Counter::Instructions, Counter::DmaReadBytes, Counter::DmaWriteBytes] {
        assert_eq!(g.counter(c), r.counter(c), "{}", c.name());
    }
    // 9 rows in 3 tiles of 4 columns and 3 K blocks: 9 vectors x 3 x 2 blocks x 16 MACs.
    assert_eq!(r.counter(Counter::Macs), 9 * 3 * 2 * 16);
    // The RTL counts time; the golden model does not.
    let cycles = r.counter(Counter::Cycles);
    assert!(cycles > 0 && r.harness_cycles.unwrap() >= cycles, "{r:?}");
    assert!(r.counter(Counter::ComputeBusy) > 0 && r.counter(Counter::ComputeBusy) < cycles);
    assert_eq!(g.counter(Counter::Cycles), 0);
    assert!(g.utilization(&cfg).is_none() && r.utilization(&cfg).unwrap() > 0.0);

    // A second run on the same session starts from a clean START.
    let again = rtl.run_bundle(&bundle, TIMEOUT).unwrap();
    assert_eq!(again.counter(Counter::Macs), r.counter(Counter::Macs));
}

#[test]
fn a_program_for_another_config_is_refused_naming_both() {
    let tiny = AccelConfig::builtin("tiny").unwrap();
    let mut other = tiny.clone();
    other.name = "tiny-deep".into();
    other.memory.acc_entries *= 2;
    for device in
        [Box::new(GoldenDevice::new(&tiny, SIM_DDR_BASE, 4096)) as Box<dyn Device>, Box::new(verilator(&tiny, 4096))]
    {
        let backend = device.backend().to_string();
        let err = Session::open(device, &other).err().expect("refused").to_string();
        assert!(err.contains("compiled for config `tiny-deep`"), "{backend}: {err}");
        assert!(err.contains("CFG_ACC: accelerator 0x100, program `tiny-deep` 0x200"), "{backend}: {err}");
        assert!(err.contains("CFG_HASH"), "{backend}: {err}");
    }
}

#[test]
fn hardware_errors_surface_with_code_and_instruction() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    // Two FENCEs and no FINISH: the hardware reports NoFinish at PC 2.
    let program = Program::new(vec![Instr::Fence, Instr::Fence]);
    let bundle = ImageBuilder::new().finish(&cfg, &program, "no finish");
    let dram = bundle.header.dram_bytes as usize;
    for device in [
        Box::new(GoldenDevice::new(&cfg, SIM_DDR_BASE, dram)) as Box<dyn Device>,
        Box::new(verilator(&cfg, dram as u64)),
    ] {
        let mut session = Session::open(device, &cfg).unwrap();
        match session.run_bundle(&bundle, TIMEOUT) {
            Err(DriverError::Hardware { code, pc, .. }) => assert_eq!((code, pc), (ErrorCode::NoFinish, 2)),
            other => panic!("{}: expected NoFinish, got {other:?}", session.device().backend()),
        }
        // The error is latched and the interrupt acknowledged; START works again.
        let status = session.device_mut().read_reg(regs::STATUS).unwrap();
        assert_eq!(status & regs::STATUS_BUSY, 0);
        let fine = ImageBuilder::new().finish(&cfg, &Program::new(vec![Instr::Finish]), "finish");
        session.run_bundle(&fine, TIMEOUT).unwrap();
    }
}

#[test]
fn a_bundle_larger_than_the_window_is_refused() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let (bundle, _) = gemm_bundle(&cfg, 4, 4, 4);
    let mut session = Session::open(GoldenDevice::new(&cfg, SIM_DDR_BASE, 64), &cfg).unwrap();
    let err = session.run_bundle(&bundle, TIMEOUT).unwrap_err().to_string();
    assert!(err.contains("golden: the program's DDR image needs") && err.contains("window has 64"), "{err}");
}

/// The untraced model takes one `eval()` per cycle, the traced one two (see
/// shim.cpp): both must see every cycle the same way.
#[test]
fn one_eval_and_two_eval_cycles_run_a_program_identically() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let (bundle, expected) = gemm_bundle(&cfg, 13, 21, 9);
    let dram = bundle.header.dram_bytes as usize;
    let traced = BuildOptions { trace: true };
    let mut runs = Vec::new();
    for opts in [BuildOptions::default(), traced] {
        let device = VerilatorDevice::new(&cfg, &opts, SIM_DDR_BASE, dram).expect("build the tiny model");
        // Traced models keep the falling edge; untraced ones of the Verilator
        // releases the shim knows (5.006, 5.048) skip it. A new release that
        // renames Verilator's clock memory fails here instead of silently
        // losing the speed-up.
        assert_eq!(device.evals_per_cycle(), if opts.trace { 2 } else { 1 }, "trace: {}", opts.trace);
        let mut session = Session::open(device, &cfg).unwrap();
        let report = session.run_bundle(&bundle, TIMEOUT).unwrap();
        assert_eq!(output_i32(&session, &bundle), expected, "trace: {}", opts.trace);
        runs.push((report, session.device().dram().to_vec()));
    }
    let ((one, one_ddr), (two, two_ddr)) = (&runs[0], &runs[1]);
    assert_eq!(one.harness_cycles, two.harness_cycles, "harness cycles");
    for c in [Counter::Cycles, Counter::ComputeBusy, Counter::DmaReadBytes, Counter::DmaWriteBytes, Counter::Macs] {
        assert_eq!(one.counter(c), two.counter(c), "{}", c.name());
    }
    assert!(one_ddr == two_ddr, "DDR images differ");
}

#[test]
fn option_probes_tell_known_from_unknown_verilator_options() {
    let tool = tessera_sim::verilator::tool::find().expect("Verilator is installed for the tests");
    assert!(tool.accepts("-O3"), "every Verilator knows -O3");
    assert!(!tool.accepts("-fno-such-tessera-option"), "an unknown option must be refused");
}

#[test]
fn the_model_cache_is_reused() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    let first = build(&cfg, &BuildOptions::default()).unwrap();
    let second = build(&cfg, &BuildOptions::default()).unwrap();
    assert!(second.cached, "the second build of the same config must come from the cache");
    assert_eq!(first.library, second.library);
    let mut other = cfg.clone();
    other.memory.acc_entries *= 2;
    let other_dir = tessera_sim::verilator::cached(&other, &BuildOptions::default()).unwrap();
    assert!(other_dir.is_none_or(|m| m.library != first.library), "a different config has its own entry");
}
