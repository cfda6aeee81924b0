//! ONNX activations on quantized values (issue 18 item 6), end to end: QDQ
//! `Q(op(DQ(x)))` for Sigmoid, Tanh, HardSigmoid, HardSwish and LeakyRelu, and
//! com.microsoft `QLinearSigmoid` / `QLinearLeakyRelu`, int8 and uint8, each fed all
//! 256 input values under many quantizations (`tools/fixtures/onnx_arith.py`), against
//! `onnx.reference.ReferenceEvaluator` (the contrib ops: their specification); every
//! output bit for bit, the tables on the accelerator.

mod common;

use common::{check_listed, listed_cases, root, tessera};
use std::path::PathBuf;

fn fixture(stem: &str, suffix: &str) -> PathBuf {
    root(&format!("tests/fixtures/onnx_cov/arith/{stem}{suffix}"))
}

const DIR: &str = "tests/fixtures/onnx_cov/arith";

fn cases() -> Vec<(String, usize)> {
    listed_cases(DIR)
}

fn check(stem: &str, count: usize, config: &str, backend: &str) -> Option<String> {
    check_listed(DIR, stem, ".onnx", count, config, backend)
}

#[test]
fn every_activation_fixture_equals_the_reference() {
    let failures: Vec<String> = cases().iter().filter_map(|(stem, n)| check(stem, *n, "pynq-z2", "golden")).collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn activation_tables_run_on_the_accelerator() {
    for (stem, node) in [("hardswish_i8_0", "hardswish"), ("qlinearsigmoid_u8", "q")] {
        let model = fixture(stem, ".onnx");
        let out = tessera(["compile".as_ref(), model.as_os_str(), "--report".as_ref()]);
        let r = String::from_utf8_lossy(&out.stdout);
        let row = r.lines().find(|l| l.split_whitespace().nth(1) == Some(node)).unwrap_or_else(|| panic!("{r}"));
        assert!(row.contains(" seg") && row.contains("(TABLE)"), "{row}");
    }
}
