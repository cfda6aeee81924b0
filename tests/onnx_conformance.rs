//! The ONNX node conformance cases (tests/fixtures/onnx_node: the `onnx` package's own
//! int8/uint8 quantization tests, non-first inputs frozen) through import, lowering and
//! `tessera run` on the golden backend (and those with a matrix product or a
//! convolution also on the RTL), against the suite's expected outputs bit for bit.
//! Prints a pass/fail table; a failure shows the error, which names the node or
//! initializer.

mod common;

use common::run_model;
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx_node");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    cases
}

/// Runs one case; `Ok` when every output equals the expected one, else the error line.
fn run_case(case: &Path, config: &str, backend: &str) -> Result<(), String> {
    let (model, input, expected) = (case.join("model.onnx"), case.join("input_0.pb"), case.join("output_0.pb"));
    let out = run_model(&model, config, backend, &input, &[("--reference", &expected)]);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or_default().to_string())
    }
}

/// Every case must pass; the fixture script writes 18.
const CASES: usize = 18;

#[test]
fn every_conformance_case_passes_on_golden() {
    let mut table = Vec::new();
    let mut passed = Vec::new();
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        match run_case(&case, "pynq-z2", "golden") {
            Ok(()) => {
                table.push(format!("| {name} | pass |"));
                passed.push(name);
            }
            Err(err) => table.push(format!("| {name} | FAIL: {err} |")),
        }
    }
    println!("| case | golden |\n|---|---|\n{}", table.join("\n"));
    assert_eq!(table.len(), CASES);
    assert_eq!(passed.len(), CASES, "not every case passes");
}

#[test]
fn accelerated_cases_also_pass_on_the_rtl() {
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if name.contains("matmul") || name.contains("conv") {
            run_case(&case, "tiny", "verilator").unwrap_or_else(|e| panic!("{name} on the RTL: {e}"));
        }
    }
}
