//! The ONNX half of the model zoo (issue 18): torchvision architectures with random
//! weights exported by torch.onnx.export and quantized by onnxruntime's
//! `quantize_static` (QDQ and QOperator, per-tensor and per-channel, int8 and uint8
//! activations), built by `tools/zoo/torch_zoo.py` into `tests/fixtures/zoo_onnx` (the
//! small variants, committed) and `${TESSERA_ZOO:-~/.cache/tessera/zoo}/onnx` (full
//! width, `bash tools/zoo/build_onnx.sh --large`). Every committed model compiles for
//! pynq-z2 and zcu104 and runs on the golden model against
//! `onnx.reference.ReferenceEvaluator` (with the com.microsoft contrib ops written
//! from their specifications), every output bit for bit, and intermediate tensors of
//! the models that list them; models that need operators not supported yet must fail
//! with the importer's clean error naming that operator (`UNSUPPORTED`), so that the
//! table has to be updated when the operator lands.

mod common;

use common::{
    assert_every_family_has_intermediates, check_zoo, for_each_supported, root, zoo_cache, zoo_compiled, zoo_manifest,
};
use ndarray::ArrayD;
use ndarray_npy::read_npy;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tessera_compiler::model::CompiledModel;
use tessera_compiler::tensor::{ElemType, Tensor, TensorData};
use tessera_runtime::ModelSession;
use tessera_sim::cosim::SIM_DDR_BASE;
use tessera_sim::GoldenDevice;

/// Committed models that need an operator the compiler does not support yet, and the
/// text its error must contain (the node's operator).
const UNSUPPORTED: &[(&str, &str)] = &[];

/// Intermediate values where the reference's float32 convolution and the exact integer
/// one round to neighbouring steps (docs/compiler.md, "QDQ convolutions and float32
/// rounding ties"): model, tensor, flat index, ours, the reference's. The exact value
/// (integer sum times `x_scale * w_scale / y_scale` in float64) is given for each; the
/// accelerator's is the correctly rounded one. The test fails if any other value
/// differs, or if one of these stops differing.
const FLOAT32_TIES: &[(&str, &str, usize, i64, i64)] = &[
    // expand3x3 of fire module 3, channel 21, (5, 3): exact 17.4999988 steps above
    // the zero point -128; float32 sums give 18. The concat requantizes it.
    ("squeezenet1_1_64_qdq", "/features/features.3/Concat_output_0_QuantizeLinear_Output", 19203, -113, -112),
];

/// A float32, int8 or uint8 `.npy` as a tensor.
fn tensor(path: &Path) -> Tensor {
    if let Ok(x) = read_npy::<_, ArrayD<f32>>(path) {
        return Tensor {
            dtype: ElemType::F32,
            shape: x.shape().to_vec(),
            data: TensorData::Float(x.iter().copied().collect()),
        };
    }
    let (dtype, shape, values): (ElemType, Vec<usize>, Vec<i64>) = match read_npy::<_, ArrayD<i8>>(path) {
        Ok(x) => (ElemType::I8, x.shape().to_vec(), x.iter().map(|&v| v.into()).collect()),
        Err(_) => {
            let x: ArrayD<u8> = read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (ElemType::U8, x.shape().to_vec(), x.iter().map(|&v| v.into()).collect())
        }
    };
    Tensor { dtype, shape, data: TensorData::Int(values) }
}

/// Values to compare bit for bit: integers, or the bits of floats.
fn bits(data: &TensorData) -> Vec<i64> {
    match data {
        TensorData::Int(v) => v.clone(),
        TensorData::Float(v) => v.iter().map(|f| f.to_bits().into()).collect(),
    }
}

/// The first sample of `t` (its leading axis).
fn first(t: &Tensor) -> Tensor {
    let per: usize = t.shape[1..].iter().product();
    let mut shape = t.shape.clone();
    shape[0] = 1;
    let data = match &t.data {
        TensorData::Int(v) => TensorData::Int(v[..per].to_vec()),
        TensorData::Float(v) => TensorData::Float(v[..per].to_vec()),
    };
    Tensor { dtype: t.dtype, shape, data }
}

/// The first output of `model` on `x` (one session run over all samples) on the
/// golden model, as bits.
fn run(model: &CompiledModel, x: &Tensor) -> Vec<i64> {
    let device = Box::new(GoldenDevice::new(&model.config, SIM_DDR_BASE, model.dram_bytes as usize));
    let mut session = ModelSession::open(device, model, Duration::from_secs(600)).unwrap();
    let run = session.run(std::slice::from_ref(x), None).unwrap();
    bits(&run.outputs[0].1.values)
}

/// `entry`'s output on every sample equals the reference on `config`.
fn check_outputs(dir: &Path, entry: &Value, config: &str) {
    let name = entry["name"].as_str().unwrap();
    let case = dir.join(name);
    let model = zoo_compiled(dir, entry, config, None).unwrap_or_else(|e| panic!("{name} for {config}: {e}"));
    let out = run(&model, &tensor(&case.join("x.npy")));
    let reference = bits(&tensor(&case.join("ref.npy")).data);
    let differ = out.iter().zip(&reference).filter(|(a, b)| a != b).count();
    assert_eq!(out.len(), reference.len(), "{name} on {config}: output size");
    assert_eq!(differ, 0, "{name} on {config}: {differ} of {} outputs differ", out.len());
}

/// `entry`'s intermediate tensors on its first sample, each as the compiled model's
/// output, equal the reference's (per-layer checks).
fn check_intermediates(dir: &Path, entry: &Value) {
    let name = entry["name"].as_str().unwrap();
    let case = dir.join(name);
    let x = first(&tensor(&case.join("x.npy")));
    for (j, tensor_name) in entry["intermediates"].as_array().unwrap().iter().enumerate() {
        let tensor_name = tensor_name.as_str().unwrap();
        let model = zoo_compiled(dir, entry, "pynq-z2", Some(vec![tensor_name.to_string()]))
            .unwrap_or_else(|e| panic!("{name} up to `{tensor_name}`: {e}"));
        let reference = tensor(&case.join("inter").join(format!("{j}.npy")));
        let out = run(&model, &x);
        assert_eq!(out.len(), reference.len(), "{name}: intermediate `{tensor_name}`: size");
        let differ: Vec<(usize, i64, i64)> = out
            .iter()
            .zip(bits(&reference.data))
            .enumerate()
            .filter(|(_, (a, b))| *a != b)
            .map(|(i, (&a, b))| (i, a, b))
            .collect();
        let known: Vec<(usize, i64, i64)> =
            FLOAT32_TIES.iter().filter(|t| t.0 == name && t.1 == tensor_name).map(|t| (t.2, t.3, t.4)).collect();
        assert_eq!(differ, known, "{name}: intermediate `{tensor_name}`: (index, ours, reference) that differ");
    }
}

fn small_zoo() -> PathBuf {
    root("tests/fixtures/zoo_onnx")
}

#[test]
fn every_committed_onnx_model_equals_the_reference_evaluator_on_pynq_z2_and_zcu104() {
    let dir = small_zoo();
    let ran = check_zoo(&dir, UNSUPPORTED, check_outputs);
    assert!(!ran.is_empty(), "no model ran");
    println!("bit-exact: {}", ran.join(", "));
}

#[test]
fn intermediate_tensors_of_every_checked_onnx_model_equal_the_reference_evaluator() {
    let dir = small_zoo();
    for_each_supported(&zoo_manifest(&dir), UNSUPPORTED, |entry| check_intermediates(&dir, entry));
}

/// Every architecture family of the manifest has a model with per-layer checks.
#[test]
fn every_onnx_family_has_a_model_with_intermediates() {
    assert_every_family_has_intermediates(&zoo_manifest(&small_zoo()));
}

/// Every model of the manifest is in a form the zoo promises to cover: QDQ and
/// QOperator, per-tensor and per-channel, int8 and uint8 activations.
#[test]
fn the_onnx_zoo_covers_both_forms_both_granularities_and_both_activation_types() {
    let models = zoo_manifest(&small_zoo());
    let has = |key: &str, value: Value| models.iter().any(|e| e[key] == value);
    for format in ["onnx-qdq", "onnx-qop"] {
        assert!(has("format", format.into()), "{format}");
    }
    assert!(has("per_channel", true.into()) && has("per_channel", false.into()));
    assert!(has("activations", "int8".into()) && has("activations", "uint8".into()));
}

fn large_zoo() -> PathBuf {
    zoo_cache().join("onnx")
}

/// Every model of the large ONNX zoo compiles for pynq-z2 and runs bit-exact on the
/// golden model.
#[test]
#[ignore = "needs the large ONNX zoo (bash tools/zoo/build_onnx.sh --large); minutes"]
fn every_large_onnx_model_equals_the_reference_evaluator_on_pynq_z2() {
    let dir = large_zoo();
    for entry in zoo_manifest(&dir) {
        let name = entry["name"].as_str().unwrap();
        let start = Instant::now();
        check_outputs(&dir, &entry, "pynq-z2");
        println!("{name}: compiled and ran bit-exact in {:.1} s", start.elapsed().as_secs_f64());
    }
}
