//! The ONNX node conformance cases (tests/fixtures/onnx_node, from the `onnx`
//! package's own test data) import; tests/onnx_conformance.rs runs them.

use std::path::Path;
use tessera_compiler::onnx::import_file;

#[test]
fn every_eight_bit_node_case_imports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/onnx_node");
    let mut cases: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().filter(|e| e.path().is_dir()).collect();
    cases.sort_by_key(|e| e.file_name());
    assert_eq!(cases.len(), 18, "the fixture script writes 18 int8/uint8 cases");
    for case in cases {
        let name = case.file_name().to_string_lossy().into_owned();
        let g = import_file(&case.path().join("model.onnx")).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(g.inputs.len(), 1, "{name}: all but the first input are frozen");
        assert_eq!(g.nodes.len(), 1, "{name}");
    }
}
