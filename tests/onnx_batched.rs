//! A graph input declared with a fixed leading dimension above 1 is one sample as a
//! whole: `tests/fixtures/onnx_batched` (`tools/fixtures/onnx_batched.py`) is a
//! QLinearMatMul whose input `[2, 3, 4]` pairs its leading index with a different
//! weight matrix of `[2, 4, 5]`; four such samples stacked along the first dimension
//! run one at a time and equal `onnx.reference.ReferenceEvaluator` bit for bit. (Taken
//! as eight samples of one row each, half the outputs used the wrong matrix.)

mod common;

use common::{root, run_model, tessera};

#[test]
fn a_fixed_leading_dimension_is_part_of_the_sample_on_golden_and_rtl() {
    let dir = root("tests/fixtures/onnx_batched");
    let (model, x, reference) = (dir.join("model.onnx"), dir.join("x.npy"), dir.join("ref.npy"));
    for backend in ["golden", "verilator"] {
        let out = run_model(&model, "tiny", backend, &x, &[("--reference", &reference)]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{backend}: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("4 samples, batch 1 (4 runs)"), "{text}");
        assert!(text.contains("120 of 120 outputs equal"), "{text}");
    }
}

#[test]
fn such_a_model_refuses_a_batch_and_inputs_that_are_not_whole_samples() {
    let model = root("tests/fixtures/onnx_batched/model.onnx");
    let out = tessera(["compile", model.to_str().unwrap(), "--batch", "2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("input `a` is declared [2, 3, 4]: one sample is the whole tensor"), "{err}");
    let odd = common::scratch("batched_odd.npy");
    let x: ndarray::Array3<i8> = ndarray_npy::read_npy(root("tests/fixtures/onnx_batched/x.npy")).unwrap();
    ndarray_npy::write_npy(&odd, &x.slice(ndarray::s![..3, .., ..]).to_owned()).unwrap();
    let out = run_model(&model, "tiny", "golden", &odd, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("samples of 2 rows stacked along the first dimension"), "{err}");
}
