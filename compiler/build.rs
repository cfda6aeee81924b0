//! Compiles the vendored ONNX schema (`proto/onnx.proto`, from the `onnx` 1.22.0
//! wheel) into prost types. `protox` parses it in Rust, so no `protoc` is needed.

fn main() {
    let schema = "proto/onnx.proto";
    println!("cargo:rerun-if-changed={schema}");
    let descriptors = protox::compile([schema], ["proto"]).expect("proto/onnx.proto parses");
    prost_build::Config::new().compile_fds(descriptors).expect("prost generates the ONNX types");
}
