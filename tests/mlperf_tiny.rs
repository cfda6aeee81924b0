//! The six MLPerf Tiny int8 reference models (`../shared/benchmarks/mlperf-tiny/models`),
//! compiled as whole-model programs and run on the golden model (every fixture
//! sample) and on the Verilated RTL (the first sample), against the TFLite reference
//! kernels (`tests/fixtures/mlperf_tiny`, written by `tools/fixtures/mlperf_tiny.py`):
//! the outputs, and the logits that feed the final softmax (which saturates on
//! random inputs and could hide an error), bit for bit.

mod common;

use common::root;
use ndarray::ArrayD;
use ndarray_npy::read_npy;
use std::path::PathBuf;
use std::time::Duration;
use tessera_compiler::model::{compile, CompileOptions, CompiledModel};
use tessera_compiler::tensor::{ElemType, Tensor, TensorData};
use tessera_driver::Device;
use tessera_isa::config::AccelConfig;
use tessera_runtime::ModelSession;
use tessera_sim::cosim::SIM_DDR_BASE;
use tessera_sim::verilator::BuildOptions;
use tessera_sim::{GoldenDevice, VerilatorDevice};

const CASES: [(&str, &str); 6] = [
    ("kws_dscnn", "keyword_spotting__trained_models__kws_ref_model.tflite"),
    ("ic_resnet8", "image_classification__trained_models__pretrainedResnet_quant.tflite"),
    ("ic_resnet8_large", "image_classification__trained_models__pretrainedResnet_large_int8.tflite"),
    ("vww_mobilenet", "visual_wake_words__trained_models__vww_96_int8.tflite"),
    ("ad_fc_autoencoder", "anomaly_detection__trained_models__ad01_int8.tflite"),
    ("sww_dscnn", "streaming_wakeword__trained_models__str_ww_ref_model.tflite"),
];

fn model_path(file: &str) -> PathBuf {
    root("../shared/benchmarks/mlperf-tiny/models").join(file)
}

fn fixture(case: &str, name: &str) -> PathBuf {
    root("tests/fixtures/mlperf_tiny").join(case).join(name)
}

fn int8(path: &std::path::Path) -> Tensor {
    let x: ArrayD<i8> = read_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Tensor {
        dtype: ElemType::I8,
        shape: x.shape().to_vec(),
        data: TensorData::Int(x.iter().map(|&v| v.into()).collect()),
    }
}

/// The model of `case` compiled at batch 1 for `config`; with `logits`, its output is
/// the tensor the softmax reads instead.
fn compiled(case: &str, file: &str, config: &str, logits: bool) -> CompiledModel {
    let mut program = tessera_compiler::load_program(&model_path(file)).unwrap();
    if logits {
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture(case, "meta.json")).unwrap()).unwrap();
        let name = meta["logits"].as_str().expect("a model with a softmax names its logits");
        program.outputs = vec![name.to_string()];
    }
    compile(&AccelConfig::builtin(config).unwrap(), program, 1, CompileOptions::default())
        .unwrap_or_else(|e| panic!("{case}: {e}"))
}

/// Runs `samples` samples of the fixture's inputs; returns the first output's values.
fn run(model: &CompiledModel, device: Box<dyn Device>, case: &str, samples: usize) -> Vec<i64> {
    let mut x = int8(&fixture(case, "x.npy"));
    let per: usize = x.shape[1..].iter().product();
    x.shape[0] = samples;
    if let TensorData::Int(v) = &mut x.data {
        v.truncate(samples * per);
    }
    let mut session = ModelSession::open(device, model, Duration::from_secs(60)).unwrap();
    let run = session.run(&[x], None).unwrap_or_else(|e| panic!("{case}: {e}"));
    match &run.outputs[0].1.values {
        TensorData::Int(v) => v.clone(),
        TensorData::Float(_) => panic!("{case}: int8 outputs expected"),
    }
}

fn reference(case: &str, name: &str, samples: usize) -> Vec<i64> {
    let TensorData::Int(v) = int8(&fixture(case, name)).data else { unreachable!() };
    let per = v.len() / 8;
    v[..samples * per].to_vec()
}

fn golden(model: &CompiledModel) -> Box<dyn Device> {
    Box::new(GoldenDevice::new(&model.config, SIM_DDR_BASE, model.dram_bytes as usize))
}

#[test]
fn every_output_and_logit_on_golden_equals_the_reference_kernels() {
    for (case, file) in CASES {
        let model = compiled(case, file, "pynq-z2", false);
        assert_eq!(run(&model, golden(&model), case, 8), reference(case, "ref.npy", 8), "{case} outputs");
        if fixture(case, "ref_logits.npy").exists() {
            let model = compiled(case, file, "pynq-z2", true);
            assert_eq!(run(&model, golden(&model), case, 8), reference(case, "ref_logits.npy", 8), "{case} logits");
        }
    }
}

#[test]
fn the_first_sample_on_the_rtl_equals_the_reference_kernels() {
    for (case, file) in CASES {
        let model = compiled(case, file, "pynq-z2", false);
        let rtl =
            VerilatorDevice::new(&model.config, &BuildOptions::default(), SIM_DDR_BASE, model.dram_bytes as usize)
                .unwrap();
        assert_eq!(run(&model, Box::new(rtl), case, 1), reference(case, "ref.npy", 1), "{case} on the RTL");
    }
}

/// Every accelerator layer of the six models, each compiled as its own segment and
/// run on the RTL: the cost model's cycles within 10% of the cycle counter's.
#[test]
fn the_cost_model_is_within_10_percent_of_the_rtl_on_every_layer() {
    let mut worst: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (case, file) in CASES {
        let program = tessera_compiler::load_program(&model_path(file)).unwrap();
        let cfg = AccelConfig::builtin("pynq-z2").unwrap();
        let model = compile(&cfg, program, 1, CompileOptions { segment_per_layer: true }).unwrap();
        let rtl =
            VerilatorDevice::new(&cfg, &BuildOptions::default(), SIM_DDR_BASE, model.dram_bytes as usize).unwrap();
        let mut session =
            ModelSession::open(Box::new(rtl) as Box<dyn Device>, &model, Duration::from_secs(60)).unwrap();
        let x = int8(&fixture(case, "x.npy"));
        let per: usize = x.shape[1..].iter().product();
        let one = Tensor {
            shape: [1].into_iter().chain(x.shape[1..].iter().copied()).collect(),
            data: match &x.data {
                TensorData::Int(v) => TensorData::Int(v[..per].to_vec()),
                TensorData::Float(_) => unreachable!(),
            },
            ..x
        };
        let run = session.run(&[one], None).unwrap();
        for (segment, stats) in model.segments.iter().zip(&run.segments) {
            let measured = stats.counter(tessera_isa::regs::Counter::Cycles);
            let error = (segment.predicted as f64 - measured as f64) / measured as f64;
            let op = &model.program.ops[segment.ops[0]];
            let row = format!(
                "{case} {} ({}): predicted {}, measured {measured} ({:+.1}%) {:?} busy {:?}",
                op.node,
                op.source,
                segment.predicted,
                100.0 * error,
                stats.counters,
                segment.busy
            );
            if error.abs() > 0.10 {
                worst.push(row.clone());
            }
            rows.push(row);
        }
    }
    println!("{}", rows.join("\n"));
    assert!(worst.is_empty(), "layers off by more than 10%:\n{}", worst.join("\n"));
}
