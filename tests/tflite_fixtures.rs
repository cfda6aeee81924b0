//! Requantized int8 outputs of TFLite's reference kernels (fixtures written by
//! `tools/fixtures/gen_tflite_requant.py` with a real LiteRT interpreter) reproduced
//! bit for bit by a GEMM program on the golden model.
//!
//! The test recomputes every multiplier from the tensor scales the way TFLite's
//! kernels do; nothing of the expected output is derived from Tessera's code.

mod common;

use common::{pack_operands, DdrImage};
use ndarray::{Array1, Array2, ArrayD, Ix0};
use ndarray_npy::read_npy;
use std::path::{Path, PathBuf};
use tessera_compiler::gemm::{lower_gemm, GemmOutput, GemmSpec, OperandQuant};
use tessera_isa::config::AccelConfig;
use tessera_isa::isa::{encode_param_entries, OutType, RequantMode};
use tessera_isa::quant::{self, Activation, ParamLane};
use tessera_sim::Golden;

struct Fixture {
    name: String,
    /// Activations as an `M x K` matrix.
    x: Array2<i32>,
    /// Filter as TFLite stores it, flattened to `N x K`.
    w: Array2<i32>,
    bias: Array1<i32>,
    input_scale: f32,
    input_zero_point: i32,
    filter_scale: Array1<f32>,
    output_scale: f32,
    output_zero_point: i32,
    /// Expected outputs as `M x N`.
    y: Array2<i32>,
    op: String,
    activation: Activation,
}

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tflite").join(name)
}

fn npy<T: ndarray_npy::ReadableElement>(name: &str, file: &str) -> ArrayD<T> {
    let path = dir(name).join(file);
    read_npy(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn scalar<T: ndarray_npy::ReadableElement + Copy>(name: &str, file: &str) -> T {
    npy::<T>(name, file).into_dimensionality::<Ix0>().unwrap().into_scalar()
}

fn matrix(a: ArrayD<i8>) -> Array2<i32> {
    let cols = *a.shape().last().unwrap();
    let rows = a.len() / cols;
    a.mapv(i32::from).into_shape_with_order((rows, cols)).unwrap()
}

fn load(name: &str) -> Fixture {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir(name).join("meta.json")).unwrap()).unwrap();
    let activation = match meta["fused_activation"].as_str().unwrap() {
        "NONE" => Activation::None,
        "RELU" => Activation::Relu,
        "RELU6" => Activation::Relu6,
        other => panic!("{name}: unexpected activation {other}"),
    };
    let w = npy::<i8>(name, "w.npy");
    let n = w.shape()[0];
    Fixture {
        name: name.to_string(),
        x: matrix(npy(name, "x.npy")),
        w: w.mapv(i32::from).into_shape_with_order((n, w.len() / n)).unwrap(),
        bias: npy::<i32>(name, "bias.npy").into_dimensionality().unwrap(),
        input_scale: scalar(name, "input_scale.npy"),
        input_zero_point: scalar(name, "input_zero_point.npy"),
        filter_scale: npy::<f32>(name, "filter_scale.npy").into_dimensionality().unwrap(),
        output_scale: scalar(name, "output_scale.npy"),
        output_zero_point: scalar(name, "output_zero_point.npy"),
        y: matrix(npy(name, "y.npy")),
        op: meta["op"].as_str().unwrap().to_string(),
        activation,
    }
}

/// Runs the fixture's layer as a GEMM on the golden model; returns the outputs.
fn run_on_golden(cfg: &AccelConfig, f: &Fixture, mode: RequantMode) -> Array2<i32> {
    let (m, k) = f.x.dim();
    let n = f.w.nrows();
    let params: Vec<ParamLane> = (0..n)
        .map(|c| {
            let filter_scale = f.filter_scale[if f.filter_scale.len() == 1 { 0 } else { c }];
            let real = quant::tflite_per_channel_scale(f.input_scale, filter_scale, f.output_scale);
            ParamLane::fixed(f.bias[c], quant::quantize_multiplier(real).unwrap())
        })
        .collect();
    let (lo, hi) = quant::activation_range(f.activation, f.output_scale, f.output_zero_point, -128, 127);

    let mut ddr = DdrImage::default();
    let a_addr = ddr.push(&pack_operands(f.x.as_slice().unwrap(), 8));
    let b = f.w.t().as_standard_layout().to_owned();
    let b_addr = ddr.push(&pack_operands(b.as_slice().unwrap(), 8));
    let params_addr = ddr.push(&encode_param_entries(cfg.array.cols as usize, &params));
    let c_addr = ddr.reserve(m * n);
    let spec = GemmSpec {
        m,
        k,
        n,
        a_addr,
        b_addr,
        c_addr,
        c_row_stride: n,
        a: OperandQuant { zero: f.input_zero_point as i16, unsigned: false },
        w: OperandQuant::default(),
        output: GemmOutput::Requant {
            params_addr,
            mode,
            out_type: OutType::I8,
            zero_point: f.output_zero_point as i16,
            clamp: (lo as i16, hi as i16),
        },
    };
    let (program, _) = lower_gemm(cfg, &spec).unwrap();
    Golden::new(cfg).run(&program, &mut ddr.bytes).unwrap();
    Array2::from_shape_vec((m, n), ddr.read_i8(c_addr, m * n).into_iter().map(i32::from).collect()).unwrap()
}

/// TFLite's reference FULLY_CONNECTED kernel rounds once (64-bit multiply and shift),
/// its CONV_2D kernel twice (gemmlowp); see docs/quantization.md.
fn tflite_rounding(op: &str) -> RequantMode {
    match op {
        "FULLY_CONNECTED" => RequantMode::FixedSingle,
        "CONV_2D" => RequantMode::Fixed,
        other => panic!("no rounding rule for {other}"),
    }
}

fn mismatches(a: &Array2<i32>, b: &Array2<i32>) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
fn tflite_reference_outputs_are_reproduced_bit_for_bit() {
    for name in ["fc", "conv1x1_relu6"] {
        let f = load(name);
        assert_eq!(f.x.nrows(), f.y.nrows(), "{name}: fixture shapes");
        for cfg_name in ["tiny", "pynq-z2"] {
            let cfg = AccelConfig::builtin(cfg_name).unwrap();
            let got = run_on_golden(&cfg, &f, tflite_rounding(&f.op));
            assert_eq!(mismatches(&got, &f.y), 0, "{} on {cfg_name}: outputs differ from TFLite", f.name);
        }
        // The fixture is not saturated into triviality: outputs span the int8 range.
        let distinct: std::collections::BTreeSet<i32> = f.y.iter().copied().collect();
        assert!(distinct.len() > 100, "{name}: only {} distinct outputs", distinct.len());
    }
}

/// Negative control: the other rounding rule does not reproduce the fixtures, so the
/// fixtures really discriminate between the two.
#[test]
fn the_wrong_rounding_rule_is_detected() {
    let cfg = AccelConfig::builtin("tiny").unwrap();
    for name in ["fc", "conv1x1_relu6"] {
        let f = load(name);
        let wrong = match tflite_rounding(&f.op) {
            RequantMode::Fixed => RequantMode::FixedSingle,
            _ => RequantMode::Fixed,
        };
        let got = run_on_golden(&cfg, &f, wrong);
        assert!(mismatches(&got, &f.y) > 0, "{name}: {wrong:?} should not match TFLite");
    }
}
