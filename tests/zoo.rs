//! The model zoo (issue 18): real architectures with random weights, built by
//! `tools/zoo/keras_zoo.py` into `tests/fixtures/zoo` (the small variants, committed)
//! and `${TESSERA_ZOO:-~/.cache/tessera/zoo}` (MobileNetV2 and ResNet-50 at 224x224,
//! `bash tools/zoo/build.sh --large`). Every committed model compiles for pynq-z2 and
//! zcu104 and runs on the golden model against TFLite's reference kernels, every
//! output bit for bit (and the logits under a final softmax, and intermediate tensors
//! for per-layer checks); models that need operators not supported yet must fail
//! with the importer's clean error naming that operator (`UNSUPPORTED`), so that the
//! table has to be updated when the operator lands. The large models are `--ignored`
//! benchmarks: compile time and memory, golden bit-exact, one inference on the
//! Verilated RTL with its cycles.

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
use tessera_driver::Device;
use tessera_runtime::ModelSession;
use tessera_sim::cosim::SIM_DDR_BASE;
use tessera_sim::verilator::BuildOptions;
use tessera_sim::{GoldenDevice, VerilatorDevice};

/// Committed models that need an operator the compiler does not support yet, and the
/// text its error must contain (the operator's name).
const UNSUPPORTED: &[(&str, &str)] = &[];

/// An int8 or uint8 `.npy` as a tensor.
fn tensor(path: &Path) -> Tensor {
    let (dtype, shape, values): (ElemType, Vec<usize>, Vec<i64>) = match read_npy::<_, ArrayD<i8>>(path) {
        Ok(x) => (ElemType::I8, x.shape().to_vec(), x.iter().map(|&v| v.into()).collect()),
        Err(_) => {
            let x: ArrayD<u8> = read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (ElemType::U8, x.shape().to_vec(), x.iter().map(|&v| v.into()).collect())
        }
    };
    Tensor { dtype, shape, data: TensorData::Int(values) }
}

fn values(t: &Tensor) -> &[i64] {
    match &t.data {
        TensorData::Int(v) => v,
        TensorData::Float(_) => panic!("integer values expected"),
    }
}

/// The first `samples` samples of `t` (its leading axis).
fn first(t: &Tensor, samples: usize) -> Tensor {
    let per: usize = t.shape[1..].iter().product();
    let mut shape = t.shape.clone();
    shape[0] = samples;
    Tensor { dtype: t.dtype, shape, data: TensorData::Int(values(t)[..samples * per].to_vec()) }
}

fn golden(model: &CompiledModel) -> Box<dyn Device> {
    Box::new(GoldenDevice::new(&model.config, SIM_DDR_BASE, model.dram_bytes as usize))
}

/// Every output of `model` on `x` (one session run over all samples), flattened.
fn run(model: &CompiledModel, device: Box<dyn Device>, x: &Tensor) -> (Vec<Vec<i64>>, u64) {
    let mut session = ModelSession::open(device, model, Duration::from_secs(600)).unwrap();
    let run = session.run(std::slice::from_ref(x), None).unwrap();
    let cycles = run.segments.iter().map(|s| s.counter(tessera_isa::regs::Counter::Cycles)).sum();
    let outs = run
        .outputs
        .iter()
        .map(|(_, v)| match &v.values {
            TensorData::Int(v) => v.clone(),
            TensorData::Float(_) => panic!("integer outputs expected"),
        })
        .collect();
    (outs, cycles)
}

/// `entry`'s outputs (and logits) on every sample equal the reference on `config`.
fn check_outputs(dir: &Path, entry: &Value, config: &str) {
    let name = entry["name"].as_str().unwrap();
    let case = dir.join(name);
    let x = tensor(&case.join("x.npy"));
    let model = zoo_compiled(dir, entry, config, None).unwrap_or_else(|e| panic!("{name} for {config}: {e}"));
    let (out, _) = run(&model, golden(&model), &x);
    assert_eq!(out[0], values(&tensor(&case.join("ref.npy"))), "{name} on {config}: outputs");
    if let Some(logits) = entry["logits"].as_str() {
        let model = zoo_compiled(dir, entry, config, Some(vec![logits.to_string()])).unwrap();
        let (out, _) = run(&model, golden(&model), &x);
        assert_eq!(out[0], values(&tensor(&case.join("ref_logits.npy"))), "{name} on {config}: logits");
    }
}

/// `entry`'s intermediate tensors on its first sample, each as the compiled model's
/// output, equal the reference kernels' (per-layer checks).
fn check_intermediates(dir: &Path, entry: &Value) {
    let name = entry["name"].as_str().unwrap();
    let case = dir.join(name);
    let x = first(&tensor(&case.join("x.npy")), 1);
    for (j, tensor_name) in entry["intermediates"].as_array().unwrap().iter().enumerate() {
        let tensor_name = tensor_name.as_str().unwrap();
        let model = zoo_compiled(dir, entry, "pynq-z2", Some(vec![tensor_name.to_string()]))
            .unwrap_or_else(|e| panic!("{name} up to `{tensor_name}`: {e}"));
        let (out, _) = run(&model, golden(&model), &x);
        let reference = tensor(&case.join("inter").join(format!("{j}.npy")));
        assert_eq!(out[0], values(&reference), "{name}: intermediate `{tensor_name}`");
    }
}

fn small_zoo() -> PathBuf {
    root("tests/fixtures/zoo")
}

#[test]
fn every_committed_model_equals_the_reference_kernels_on_pynq_z2_and_zcu104() {
    let dir = small_zoo();
    let ran = check_zoo(&dir, UNSUPPORTED, check_outputs);
    println!("bit-exact: {}", ran.join(", "));
}

#[test]
fn intermediate_tensors_of_every_checked_model_equal_the_reference_kernels() {
    let dir = small_zoo();
    for_each_supported(&zoo_manifest(&dir), UNSUPPORTED, |entry| check_intermediates(&dir, entry));
}

/// Every architecture family of the manifest has a model with per-layer checks.
#[test]
fn every_family_has_a_model_with_intermediates() {
    assert_every_family_has_intermediates(&zoo_manifest(&small_zoo()));
}

/// The compiler's peak resident memory so far (VmHWM), in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next());
    kb.and_then(|k| k.parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

/// A large model of the cache: compile time and peak memory, every sample bit-exact
/// on the golden model, one inference on the Verilated RTL with its cycles.
fn large(name: &str) {
    let dir = zoo_cache();
    let entry = zoo_manifest(&dir)
        .into_iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {}: run `bash tools/zoo/build.sh --large`", dir.display()));
    let start = Instant::now();
    let model = zoo_compiled(&dir, &entry, "pynq-z2", None).unwrap();
    println!(
        "{name}: compiled in {:.2} s, peak memory {:.0} MiB, DDR window {} bytes",
        start.elapsed().as_secs_f64(),
        peak_mib(),
        model.dram_bytes
    );
    let case = dir.join(name);
    let x = tensor(&case.join("x.npy"));
    let start = Instant::now();
    let (out, _) = run(&model, golden(&model), &x);
    println!("{name}: golden model, {} samples in {:.1} s", x.shape[0], start.elapsed().as_secs_f64());
    assert_eq!(out[0], values(&tensor(&case.join("ref.npy"))), "{name}: outputs");
    let rtl =
        VerilatorDevice::new(&model.config, &BuildOptions::default(), SIM_DDR_BASE, model.dram_bytes as usize).unwrap();
    let start = Instant::now();
    let (out, cycles) = run(&model, Box::new(rtl), &first(&x, 1));
    println!("{name}: RTL, {cycles} cycles in {:.0} s", start.elapsed().as_secs_f64());
    let reference = values(&tensor(&case.join("ref.npy"))).to_vec();
    assert_eq!(out[0], reference[..out[0].len()], "{name}: RTL outputs");
}

#[test]
#[ignore = "needs the large zoo (bash tools/zoo/build.sh --large) and Verilator; minutes"]
fn mobilenet_v2_224_compiles_and_runs_bit_exact_on_golden_and_rtl() {
    large("mobilenet_v2_224");
}

#[test]
#[ignore = "needs the large zoo (bash tools/zoo/build.sh --large) and Verilator; minutes"]
fn resnet50_224_compiles_and_runs_bit_exact_on_golden_and_rtl() {
    large("resnet50_224");
}
