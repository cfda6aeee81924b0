//! `tessera compile`: the per-layer report, and compiled packages (`.tsr`) that
//! `tessera run` executes bit-exactly like the model they came from.

mod common;

use common::{root, run_model, scratch, tessera};
use ndarray::{s, Array2};
use ndarray_npy::{read_npy, write_npy};
use std::ffi::OsStr;
use std::path::Path;

fn compile(model: &Path, config: &str, batch: usize, out: Option<&Path>) -> String {
    let batch = batch.to_string();
    let mut args: Vec<&OsStr> = vec!["compile".as_ref(), model.as_os_str(), "-c".as_ref(), config.as_ref()];
    args.extend([OsStr::new("--batch"), OsStr::new(&batch), OsStr::new("--report")]);
    if let Some(out) = out {
        args.extend([OsStr::new("-o"), out.as_os_str()]);
    }
    let run = tessera(args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[test]
fn the_report_names_every_operation_where_it_runs_and_why() {
    let text = compile(&root("examples/digits_resnet/resnet_qdq.onnx"), "pynq-z2", 1, None);
    // One row per operation: its index, node, op, where it runs (a segment or the host).
    let rows: Vec<&str> =
        text.lines().filter(|l| l.split_whitespace().next().is_some_and(|f| f.parse::<usize>().is_ok())).collect();
    // Q, 5 convolutions, 2 adds, 2 max pools, flatten, gemm, DQ.
    assert_eq!(rows.len(), 13, "{text}");
    // The `where` column follows the 3-, 26- and 22-character index, node and op columns.
    let on = |what: &str| rows.iter().filter(|l| l.get(54..).is_some_and(|w| w.starts_with(what))).count();
    // Everything between the input's quantization and the output's dequantization is
    // one segment: the float32 adds too (their table rendering checks out).
    assert_eq!(on("seg0"), 11, "{text}");
    assert_eq!(on("host"), 2, "the (de)quantization: {text}");
    assert_eq!(rows.iter().filter(|l| l.get(61..).is_some_and(|e| e.starts_with("dense"))).count(), 6, "{text}");
    assert!(text.contains("block0_add_Add") && text.contains("Add (QDQ)"), "{text}");
    assert!(text.contains("host: quantizes a float input"), "the host names why: {text}");
    assert!(text.contains("Conv (QDQ)"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("DDR: ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("predicted: ")), "{text}");
}

#[test]
fn a_compiled_onnx_package_runs_all_test_digits_bit_exact() {
    let package = scratch("resnet_qop.tsr");
    compile(&root("examples/digits_resnet/resnet_qop.onnx"), "pynq-z2", 32, Some(&package));
    let (x, reference) =
        (root("examples/digits_resnet/data/x_test.npy"), root("examples/digits_resnet/data/ref_qop.npy"));
    // 450 samples in groups of 32: the last group is padded.
    let run = run_model(&package, "pynq-z2", "golden", &x, &[("--reference", &reference)]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(text.contains("4500 of 4500 outputs equal"), "{text}");
}

#[test]
fn a_compiled_tflite_package_runs_on_the_rtl_bit_exact() {
    let package = scratch("cnn_int8.tsr");
    compile(&root("examples/digits_cnn/cnn_int8.tflite"), "tiny", 4, Some(&package));
    let x: Array2<i8> = read_npy(root("examples/digits_cnn/data/x_test_int8.npy")).unwrap();
    let reference: Array2<i8> = read_npy(root("examples/digits_cnn/data/ref_tflite.npy")).unwrap();
    let (input, expected) = (scratch("x6.npy"), scratch("y6.npy"));
    write_npy(&input, &x.slice(s![..6, ..]).to_owned()).unwrap();
    write_npy(&expected, &reference.slice(s![..6, ..]).to_owned()).unwrap();
    // The package's own config (tiny) applies, whatever -c says.
    let run = run_model(&package, "pynq-z2", "verilator", &input, &[("--reference", &expected)]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(text.contains("on `tiny` (Verilator backend), 6 samples"), "{text}");
    assert!(text.contains("60 of 60 outputs equal"), "{text}");
}

#[test]
fn a_damaged_package_is_refused_with_its_path() {
    let package = scratch("damaged.tsr");
    compile(&root("examples/digits_cnn/cnn_qop.onnx"), "tiny", 1, Some(&package));
    let bytes = std::fs::read(&package).unwrap();
    std::fs::write(&package, &bytes[..bytes.len() / 2]).unwrap();
    let x = root("examples/digits_cnn/data/x_test.npy");
    let run = run_model(&package, "tiny", "golden", &x, &[]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("damaged.tsr: truncated"), "{err}");
}
