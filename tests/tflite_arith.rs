//! TFLite's arithmetic and activation operators (issue 18 item 6), end to end: every
//! fixture of `tools/fixtures/tflite_arith.py` (`cases.txt`) run by `tessera run`
//! against the outputs of TFLite's reference kernels (ai-edge-litert,
//! `OpResolverType.BUILTIN_REF`), every output bit for bit. The one-input operators
//! see all 256 input values, the two-input ones all 65,536 pairs; `--report` puts the
//! tables on the accelerator.

mod common;

use common::{check_listed, compile_report, listed_cases, root};
use std::path::PathBuf;

fn fixture(stem: &str, suffix: &str) -> PathBuf {
    root(&format!("tests/fixtures/tflite/arith/{stem}{suffix}"))
}

const DIR: &str = "tests/fixtures/tflite/arith";

fn cases() -> Vec<(String, usize)> {
    listed_cases(DIR)
}

fn check(stem: &str, count: usize, config: &str, backend: &str) -> Option<String> {
    check_listed(DIR, stem, ".tflite", count, config, backend)
}

fn report(stem: &str) -> String {
    compile_report(&fixture(stem, ".tflite"))
}

#[test]
fn every_arithmetic_fixture_equals_the_reference_kernels() {
    let failures: Vec<String> = cases().iter().filter_map(|(stem, n)| check(stem, *n, "pynq-z2", "golden")).collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn activation_tables_and_a_mobilenet_v3_block_on_the_rtl_equal_the_reference_kernels() {
    let n = |stem: &str| cases().into_iter().find(|(s, _)| s == stem).expect(stem).1;
    for stem in ["hard_swish_u8_1", "logistic_i8_2", "mnv3_block_i8"] {
        if let Some(failure) = check(stem, n(stem), "tiny", "verilator") {
            panic!("{failure}");
        }
    }
}

#[test]
fn reports_put_activation_tables_on_the_accelerator() {
    for (stem, node) in [
        ("hard_swish_i8_0", "HARD_SWISH#0"),
        ("prelu_u8_1", "PRELU#0"),
        ("silu_block_i8", "LOGISTIC#1"),
        ("sub_conv_i8", "SUB#2"),
    ] {
        let r = report(stem);
        let row = r.lines().find(|l| l.split_whitespace().nth(1) == Some(node)).unwrap_or_else(|| panic!("{r}"));
        assert!(row.contains(" seg") && row.contains("(TABLE)"), "{row}");
    }
    let r = report("mul_i8");
    assert!(r.contains("host: TFLite Mul of two tensors"), "{r}");
}
