//! End to end: the committed int8 digits examples (examples/digits_mlp, digits_cnn,
//! digits_resnet) in QDQ and QOperator form, imported, lowered and run by
//! `tessera run`, against `onnx.reference.ReferenceEvaluator`'s outputs committed
//! beside them (data/ref_qdq.npy, data/ref_qop.npy).

mod common;

use common::{scratch, tessera};
use ndarray::{s, Array1, Array2};
use ndarray_npy::{read_npy, write_npy};
use std::path::{Path, PathBuf};

/// An example model: its directory and file stem.
#[derive(Clone, Copy)]
struct Example {
    dir: &'static str,
    stem: &'static str,
}

const MLP: Example = Example { dir: "digits_mlp", stem: "mlp" };
const CNN: Example = Example { dir: "digits_cnn", stem: "cnn" };
const RESNET: Example = Example { dir: "digits_resnet", stem: "resnet" };

impl Example {
    fn file(&self, name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(self.dir).join(name)
    }

    fn model(&self, form: &str) -> PathBuf {
        self.file(&format!("{}_{form}.onnx", self.stem))
    }

    fn reference(&self, form: &str) -> Array2<f32> {
        read_npy(self.file(&format!("data/ref_{form}.npy"))).unwrap()
    }
}

/// Runs a model on `input` and returns its output.
fn run_example(ex: Example, form: &str, input: &Path, config: &str, backend: &str) -> Array2<f32> {
    let output = scratch(&format!("y-{}-{form}-{backend}.npy", ex.stem));
    let model = ex.model(form);
    let run = common::run_model(&model, config, backend, input, &[("--output", &output)]);
    assert!(run.status.success(), "tessera run failed:\n{}", String::from_utf8_lossy(&run.stderr));
    read_npy(&output).unwrap()
}

fn bit_mismatches(a: &Array2<f32>, b: &Array2<f32>) -> usize {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).filter(|(x, y)| x.to_bits() != y.to_bits()).count()
}

/// Correct top-1 predictions (the first maximum, as numpy's argmax takes it:
/// quantized logits tie).
fn correct(y: &Array2<f32>, labels: &Array1<i64>) -> usize {
    y.rows()
        .into_iter()
        .zip(labels)
        .filter(|(row, &label)| {
            (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best }) as i64 == label
        })
        .count()
}

/// Every test sample on the golden model: outputs (hence accuracy) equal the reference's.
fn check_golden(ex: Example, form: &str) {
    let reference = ex.reference(form);
    let ours = run_example(ex, form, &ex.file("data/x_test.npy"), "pynq-z2", "golden");
    assert_eq!(bit_mismatches(&ours, &reference), 0, "outputs differ from ReferenceEvaluator");
}

/// The first `count` samples on the RTL (kept short: it is cycle-accurate).
fn check_rtl(ex: Example, form: &str, count: usize) {
    let x: Array2<f32> = read_npy(ex.file("data/x_test.npy")).unwrap();
    let input = scratch(&format!("x{count}-{}-{form}.npy", ex.stem));
    write_npy(&input, &x.slice(s![..count, ..]).to_owned()).unwrap();
    let ours = run_example(ex, form, &input, "tiny", "verilator");
    assert_eq!(bit_mismatches(&ours, &ex.reference(form).slice(s![..count, ..]).to_owned()), 0);
}

#[test]
fn mlp_on_golden_equals_the_reference_evaluator_bit_for_bit() {
    check_golden(MLP, "qdq");
    check_golden(MLP, "qop");
}

#[test]
fn mlp_on_the_rtl_equals_the_reference_evaluator_bit_for_bit() {
    check_rtl(MLP, "qdq", 40);
    check_rtl(MLP, "qop", 40);
}

#[test]
fn cnn_on_golden_equals_the_reference_evaluator_bit_for_bit() {
    check_golden(CNN, "qdq");
    check_golden(CNN, "qop");
}

#[test]
fn cnn_on_the_rtl_equals_the_reference_evaluator_bit_for_bit() {
    check_rtl(CNN, "qdq", 16);
    check_rtl(CNN, "qop", 16);
}

#[test]
fn qoperator_resnet_on_golden_equals_the_reference_evaluator_bit_for_bit() {
    check_golden(RESNET, "qop");
}

#[test]
fn resnet_on_the_rtl_equals_the_reference_evaluator_bit_for_bit() {
    check_rtl(RESNET, "qop", 8);
    // The first 8 samples are not among the QDQ form's rounding ties (see below).
    check_rtl(RESNET, "qdq", 8);
}

/// The QDQ form's convolutions are float32 `Conv`s between Q/DQ in the reference; the
/// accelerator computes QLinearConv's arithmetic (exact int32 sums, one float32 scale
/// per channel). They round differently only within a few 1e-6 steps of a rounding
/// tie: `tools/qdq_ties.py` lists 9 such intermediate values on the 450 test digits,
/// of which those of two samples reach the logits. Everything else is bit-identical,
/// no output is more than one output step away, and the accuracy is the reference's.
#[test]
fn qdq_resnet_on_golden_equals_the_reference_evaluator_except_at_float32_rounding_ties() {
    let reference = RESNET.reference("qdq");
    let ours = run_example(RESNET, "qdq", &RESNET.file("data/x_test.npy"), "pynq-z2", "golden");
    let differing_samples = ours.rows().into_iter().zip(reference.rows()).filter(|(a, b)| a != b).count();
    assert!(differing_samples <= 2, "{differing_samples} samples differ from the reference");
    // One output step of the dequantized logits, from the last DequantizeLinear.
    let step = 0.230_091_7_f32;
    let worst = ours.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst <= step * 1.001, "an output is {worst} from the reference");
    let labels: Array1<i64> = read_npy(RESNET.file("data/y_test.npy")).unwrap();
    assert_eq!(correct(&ours, &labels), correct(&reference, &labels));
}

#[test]
fn float_models_are_refused_by_node() {
    // The float model: its input feeds a float MatMul.
    let output = tessera([
        "run".as_ref(),
        MLP.file("mlp_f32.onnx").as_os_str(),
        "--input".as_ref(),
        MLP.file("data/x_test.npy").as_os_str(),
    ]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("mlp_f32.onnx: node `fc0_MatMul` (MatMul): its input `x` is not dequantized"), "{err}");
}

#[test]
fn a_model_run_reports_accuracy_and_checks_a_reference() {
    let model = MLP.model("qop");
    let (x, labels) = (MLP.file("data/x_test.npy"), MLP.file("data/y_test.npy"));
    let run = |reference: &str| {
        let reference = MLP.file(reference);
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
    // The reference's accuracy (examples/digits_mlp/REPORT.md: 0.9733).
    assert!(text.contains("top-1 accuracy   438 of 450 (97.33%)"), "{text}");
    assert!(text.contains("reference        4500 of 4500 outputs equal"), "{text}");
    // The QDQ model's reference differs from the QOperator model's outputs (the two
    // forms quantize the bias differently): the run must fail and say by how much.
    let differs = run("data/ref_qdq.npy");
    assert!(!differs.status.success());
    assert!(String::from_utf8_lossy(&differs.stderr).contains("outputs differ from"));
}
