//! Damaged model files get an error naming the file, never a panic: the example models
//! with random bytes overwritten, through `tessera compile` (import, lowering, plan).

mod common;

use common::tessera;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

fn corrupt_and_compile(model: &str, seeds: u64) {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(model)).unwrap();
    let ext = Path::new(model).extension().unwrap().to_str().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("tessera-malformed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for seed in 0..seeds {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut damaged = bytes.clone();
        for _ in 0..rng.random_range(1..=8) {
            let at = rng.random_range(0..damaged.len());
            damaged[at] = rng.random();
        }
        if rng.random_bool(0.2) {
            damaged.truncate(rng.random_range(0..damaged.len()));
        }
        let path = dir.join(format!("damaged-{seed}.{ext}"));
        std::fs::write(&path, &damaged).unwrap();
        let out = tessera(["compile".as_ref(), path.as_os_str(), "-c".as_ref(), "tiny".as_ref()]);
        let err = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            // Damage in weight values or names can leave a valid model.
            Some(0) => {}
            Some(2) => assert!(err.contains(&format!("damaged-{seed}.{ext}")), "{model} seed {seed}: {err}"),
            code => panic!("{model} seed {seed}: exit {code:?}\n{err}"),
        }
    }
}

#[test]
fn damaged_tflite_models_are_refused_not_panicked_on() {
    corrupt_and_compile("examples/digits_resnet/resnet_int8.tflite", 60);
    // uint8 weights and activations, PAD, PADV2, requantization.
    corrupt_and_compile("tests/fixtures/tflite/uint8_qat.tflite", 60);
    corrupt_and_compile("tests/fixtures/tflite/uint8_io.tflite", 40);
}

#[test]
fn damaged_onnx_models_are_refused_not_panicked_on() {
    corrupt_and_compile("examples/digits_resnet/resnet_qop.onnx", 60);
    corrupt_and_compile("examples/digits_cnn/cnn_qdq.onnx", 60);
}
