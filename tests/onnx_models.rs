//! End to end: the committed int8 digits MLP (examples/digits_mlp) in QDQ and
//! QOperator form, imported, lowered and run by `tessera run`, against
//! `onnx.reference.ReferenceEvaluator`'s outputs committed beside it
//! (data/ref_qdq.npy, data/ref_qop.npy), bit for bit.

mod common;

use common::tessera;
use ndarray::{s, Array1, Array2};
use ndarray_npy::{read_npy, write_npy};
use std::path::{Path, PathBuf};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/digits_mlp").join(name)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-onnx-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `mlp_<form>.onnx` on `input` and returns its output.
fn run_model(form: &str, input: &Path, config: &str, backend: &str) -> Array2<f32> {
    let output = scratch(&format!("y-{form}-{backend}.npy"));
    let model = example(&format!("mlp_{form}.onnx"));
    let run = tessera([
        "run".as_ref(),
        model.as_os_str(),
        "-c".as_ref(),
        config.as_ref(),
        "--backend".as_ref(),
        backend.as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
        "--output".as_ref(),
        output.as_os_str(),
    ]);
    assert!(run.status.success(), "tessera run failed:\n{}", String::from_utf8_lossy(&run.stderr));
    read_npy(&output).unwrap()
}

fn bit_mismatches(a: &Array2<f32>, b: &Array2<f32>) -> usize {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).filter(|(x, y)| x.to_bits() != y.to_bits()).count()
}

/// Every test sample on the golden model: outputs and accuracy equal the reference's.
fn check_golden(form: &str) {
    let reference: Array2<f32> = read_npy(example(&format!("data/ref_{form}.npy"))).unwrap();
    let labels: Array1<i64> = read_npy(example("data/y_test.npy")).unwrap();
    let ours = run_model(form, &example("data/x_test.npy"), "pynq-z2", "golden");
    assert_eq!(bit_mismatches(&ours, &reference), 0, "outputs differ from ReferenceEvaluator");
    let correct = |y: &Array2<f32>| {
        y.rows()
            .into_iter()
            .zip(&labels)
            .filter(|(row, &label)| {
                // The first maximum, as numpy's argmax takes it (quantized logits tie).
                let best = (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best });
                best as i64 == label
            })
            .count()
    };
    // Same outputs, so the same accuracy (0.9733 in examples/digits_mlp/REPORT.md).
    assert_eq!(correct(&ours), correct(&reference));
    assert_eq!(correct(&ours), 438);
}

/// The first 40 samples on the RTL (kept short: it is cycle-accurate).
fn check_rtl(form: &str) {
    let x: Array2<f32> = read_npy(example("data/x_test.npy")).unwrap();
    let reference: Array2<f32> = read_npy(example(&format!("data/ref_{form}.npy"))).unwrap();
    let input = scratch(&format!("x40-{form}.npy"));
    write_npy(&input, &x.slice(s![..40, ..]).to_owned()).unwrap();
    let ours = run_model(form, &input, "tiny", "verilator");
    assert_eq!(bit_mismatches(&ours, &reference.slice(s![..40, ..]).to_owned()), 0);
}

#[test]
fn qdq_mlp_on_golden_equals_the_reference_evaluator_bit_for_bit() {
    check_golden("qdq");
}

#[test]
fn qoperator_mlp_on_golden_equals_the_reference_evaluator_bit_for_bit() {
    check_golden("qop");
}

#[test]
fn qdq_mlp_on_the_rtl_equals_the_reference_evaluator_bit_for_bit() {
    check_rtl("qdq");
}

#[test]
fn qoperator_mlp_on_the_rtl_equals_the_reference_evaluator_bit_for_bit() {
    check_rtl("qop");
}

#[test]
fn models_outside_the_chain_lowering_are_refused_by_node() {
    // The float model: its input feeds a float MatMul, not a QuantizeLinear.
    let output = tessera([
        "run".as_ref(),
        example("mlp_f32.onnx").as_os_str(),
        "--input".as_ref(),
        example("data/x_test.npy").as_os_str(),
    ]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("mlp_f32.onnx: value `x` feeds node") && err.contains("expected QuantizeLinear"), "{err}");
}

#[test]
fn a_model_run_reports_accuracy_and_checks_a_reference() {
    let model = example("mlp_qop.onnx");
    let (x, labels) = (example("data/x_test.npy"), example("data/y_test.npy"));
    let run = |reference: &str| {
        let reference = example(reference);
        tessera([
            "run".as_ref(),
            model.as_os_str(),
            "--input".as_ref(),
            x.as_os_str(),
            "--labels".as_ref(),
            labels.as_os_str(),
            "--reference".as_ref(),
            reference.as_os_str(),
        ])
    };
    let ok = run("data/ref_qop.npy");
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(text.contains("top-1 accuracy   438 of 450 (97.33%)"), "{text}");
    assert!(text.contains("reference        4500 of 4500 outputs equal"), "{text}");
    // The QDQ model's reference differs from the QOperator model's outputs (the two
    // forms quantize the bias differently): the run must fail and say by how much.
    let differs = run("data/ref_qdq.npy");
    assert!(!differs.status.success());
    assert!(String::from_utf8_lossy(&differs.stderr).contains("outputs differ from"));
}
